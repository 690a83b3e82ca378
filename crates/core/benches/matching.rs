//! Matching throughput: items per second for the default topics and for 500 generated topics,
//! over realistic items (a headline and about 1 KB of summary in words drawn with a Zipf-like
//! skew from a vocabulary of 5,000, a few of them on topic). Each item is prepared
//! (`Document::new`) and matched against every topic, as the pipeline does: folding, the
//! prefilter scan, and tokenizing and indexing the texts that some topic is evaluated on are
//! all inside the measured loop. "prepare only" is `Document::new` alone, which folds the text
//! but leaves tokenizing and indexing to the first evaluation that needs them.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use watchword_core::config::{self, Config};
use watchword_core::matching::match_topics;
use watchword_core::model::Item;
use watchword_core::query::{Document, Fields, Query, QuerySet};

// The generator the end-to-end benchmark uses too.
#[path = "../../../benches/feeds/mod.rs"]
mod feeds;

use feeds::Vocabulary;

const N_ITEMS: usize = 1000;

/// Common words of general news, the head of the vocabulary.
const WORDS: &[&str] = &[
    "government",
    "minister",
    "election",
    "market",
    "shares",
    "inflation",
    "rate",
    "bank",
    "police",
    "court",
    "judge",
    "ruling",
    "storm",
    "weather",
    "flood",
    "city",
    "council",
    "school",
    "students",
    "health",
    "hospital",
    "doctors",
    "vaccine",
    "football",
    "match",
    "season",
    "coach",
    "players",
    "energy",
    "oil",
    "prices",
    "climate",
    "summit",
    "talks",
    "president",
    "parliament",
    "vote",
    "budget",
    "tax",
    "company",
    "profit",
    "workers",
    "strike",
    "union",
    "trade",
    "exports",
    "imports",
    "China",
    "Europe",
    "Germany",
    "France",
    "India",
    "Brazil",
    "Africa",
    "technology",
    "software",
    "startup",
    "investors",
    "officials",
    "report",
    "statement",
    "said",
    "week",
    "Monday",
    "Tuesday",
    "plans",
    "new",
    "first",
    "year",
    "million",
    "billion",
    "percent",
    "record",
    "growth",
    "crisis",
    "security",
    "border",
    "refugees",
    "aid",
    "war",
    "peace",
    "treaty",
    "film",
    "music",
    "festival",
    "museum",
    "art",
    "science",
];

/// Words of the default topics' world: in the vocabulary, but each in a few percent of items.
const TOPICAL_WORDS: &[&str] = &[
    "space",
    "rocket",
    "satellite",
    "defence",
    "army",
    "missile",
    "sale",
    "Japan",
    "Korea",
    "Seoul",
    "Tokyo",
    "Washington",
    "sanctions",
    "launch",
    "US",
];

/// On-topic sentences mixed into a few items.
const ON_TOPIC: &[&str] = &[
    "The State Department approved the possible sale of up to 400 Tomahawk missiles to Japan.",
    "North Korea said its Malligyong-1 spy satellite reached orbit on a Chollima-1 rocket.",
    "북한이 군사정찰위성을 발사했다고 합참이 밝혔다.",
    "米国務省は日本へのトマホーク売却を承認した。",
];

/// A vocabulary of news size: the common words above, the topical ones, and a few thousand
/// made-up ones.
fn vocabulary() -> Vocabulary {
    Vocabulary::with_words(WORDS, TOPICAL_WORDS)
}

fn items(vocabulary: &Vocabulary) -> Vec<Item> {
    let mut rng = fastrand::Rng::with_seed(7);
    (0..N_ITEMS)
        .map(|item_idx| {
            let mut words = |n: usize| {
                (0..n)
                    .map(|_| vocabulary.draw(&mut rng))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let title = words(9);
            let mut summary = String::with_capacity(1100);
            while summary.len() < 1000 {
                summary.push_str(&words(12));
                summary.push_str(". ");
            }
            if item_idx % 20 == 0 {
                summary.push_str(ON_TOPIC[item_idx / 20 % ON_TOPIC.len()]);
            }
            Item {
                key: format!("guid:{item_idx}"),
                url: Some(format!("https://news.example/{item_idx}")),
                title,
                summary,
                ..Item::default()
            }
        })
        .collect()
}

fn default_config() -> Config {
    let path =
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("config/watchword.toml");
    config::load(&path).expect("the default config is valid")
}

/// 500 topics of the shapes people write: ORs of words, a phrase, a prefix, an exclusion.
fn generated_topics(vocabulary: &Vocabulary) -> QuerySet {
    let mut rng = fastrand::Rng::with_seed(11);
    let mut word = || vocabulary.draw(&mut rng).to_string();
    let queries = (0..500)
        .map(|_| {
            let source = format!(
                "({} OR {} OR \"{} {}\") AND {}* AND NOT title:{}",
                word(),
                word(),
                word(),
                word(),
                prefix_of(&word()),
                word()
            );
            Query::compile(&source, &BTreeMap::new()).expect("generated queries compile")
        })
        .collect();
    QuerySet::new(queries)
}

/// The first four letters of a word (all of a shorter one), for a `prefix*` term.
fn prefix_of(word: &str) -> &str {
    &word[..word.len().min(4)]
}

fn matching(c: &mut Criterion) {
    let vocabulary = vocabulary();
    let items = items(&vocabulary);
    let config = default_config();
    let generated = generated_topics(&vocabulary);
    let mut group = c.benchmark_group("matching");
    group.throughput(Throughput::Elements(items.len() as u64));
    // The items are undated and first seen inside the default topics' time windows, so every
    // topic is evaluated; after the windows close, `match_topics` evaluates none of them.
    let in_window = "2023-11-20T00:00:00Z".parse().expect("a valid time");
    group.bench_function("default topics", |b| {
        b.iter(|| {
            let mut n_matches = 0;
            for item in &items {
                n_matches += match_topics(&config, item, "Wire", in_window).len();
            }
            black_box(n_matches)
        })
    });
    group.bench_function("prepare only (fold, no topics)", |b| {
        b.iter(|| {
            for item in &items {
                black_box(Document::new(&Fields {
                    title: &item.title,
                    summary: &item.summary,
                    feed: "Wire",
                    ..Fields::default()
                }));
            }
        })
    });
    group.bench_function("500 generated topics", |b| {
        b.iter(|| {
            let mut n_matches = 0;
            for item in &items {
                let document = Document::new(&Fields {
                    title: &item.title,
                    summary: &item.summary,
                    feed: "Wire",
                    ..Fields::default()
                });
                n_matches += generated.evaluate(&document).len();
            }
            black_box(n_matches)
        })
    });
    group.finish();
}

criterion_group!(benches, matching);
criterion_main!(benches);
