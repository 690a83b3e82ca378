//! Parse and normalize throughput in MB/s of feed XML: `parse::parse_feed` (feed-rs, then our
//! items: HTML to text, canonical URLs, identity keys) over real-shaped RSS 2.0 feeds (the
//! generator of the end-to-end benchmark, `feeds/mod.rs`: 50 items of about 1 KB of HTML
//! each), and `text::html_to_text` alone over their descriptions, the largest part of that
//! work; and the story keys of the parsed items (`story::keys`), items per second. One core.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use watchword_core::parse::parse_feed;
use watchword_core::story;
use watchword_core::text::html_to_text;

// The generator the end-to-end benchmark uses too.
#[path = "../../../benches/feeds/mod.rs"]
mod feeds;

const N_FEEDS: usize = 20;

fn parsing(c: &mut Criterion) {
    let vocabulary = feeds::Vocabulary::new();
    let feeds: Vec<String> = (0..N_FEEDS)
        .map(|feed_idx| feeds::rss_feed(&vocabulary, feed_idx, 50))
        .collect();
    let n_bytes: usize = feeds.iter().map(String::len).sum();
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(n_bytes as u64));
    group.bench_function("rss feeds (20 × 50 items)", |b| {
        b.iter(|| {
            let mut n_items = 0;
            for feed in &feeds {
                let parsed = parse_feed(feed.as_bytes(), None, Some("https://example.com/"))
                    .expect("generated feeds parse");
                n_items += parsed.items.len();
            }
            black_box(n_items)
        })
    });
    group.finish();

    // The descriptions as feed-rs hands them over: HTML, entities decoded once.
    let descriptions: Vec<String> = feeds
        .iter()
        .flat_map(|feed| {
            feed.split("<description>")
                .skip(2)
                .filter_map(|part| part.split("</description>").next())
                .map(|text| {
                    match text
                        .strip_prefix("<![CDATA[")
                        .and_then(|t| t.strip_suffix("]]>"))
                    {
                        Some(html) => html.to_string(),
                        None => text
                            .replace("&lt;", "<")
                            .replace("&gt;", ">")
                            .replace("&amp;", "&"),
                    }
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let n_bytes: usize = descriptions.iter().map(String::len).sum();
    let mut group = c.benchmark_group("html_to_text");
    group.throughput(Throughput::Bytes(n_bytes as u64));
    group.bench_function("item descriptions", |b| {
        b.iter(|| {
            let mut n_chars = 0;
            for html in &descriptions {
                n_chars += html_to_text(html).len();
            }
            black_box(n_chars)
        })
    });
    group.finish();

    // Every stored item's story keys (`story::keys`: canonical URL, title, MinHash signature
    // of its words), as the pipeline computes them after parsing.
    let items: Vec<_> = feeds
        .iter()
        .flat_map(|feed| {
            parse_feed(feed.as_bytes(), None, Some("https://example.com/"))
                .expect("generated feeds parse")
                .items
        })
        .collect();
    let mut group = c.benchmark_group("story_keys");
    group.throughput(Throughput::Elements(items.len() as u64));
    group.bench_function("parsed items", |b| {
        b.iter(|| {
            let mut n_signatures = 0;
            for item in &items {
                n_signatures += usize::from(story::keys(item).fingerprint.is_some());
            }
            black_box(n_signatures)
        })
    });
    group.finish();
}

criterion_group!(benches, parsing);
criterion_main!(benches);
