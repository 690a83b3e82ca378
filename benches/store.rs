//! Store throughput in items per second, on a database in a temp dir (WAL, as the daemon
//! opens it): `commit_poll` of new feeds' items (one transaction per feed of 50 items, with
//! their matches and one alert route), and `known_keys` for a feed whose items are all
//! stored already (the dedup check of a changed feed that brings nothing new). The items are
//! the end-to-end benchmark's real-shaped ones (`feeds/mod.rs`), parsed and matched against
//! the default topics as the pipeline does. The database grows during the measurement, as a
//! real one does.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use watchword::config;
use watchword::matching::match_topics;
use watchword::model::{AlertRoute, Dedup, FeedState, MatchedItem, StoryPolicy};
use watchword::parse::parse_feed;
use watchword::store::{PollCommit, Store};
use watchword::story;

mod feeds;

const N_FEEDS: usize = 20;

fn storing(c: &mut Criterion) {
    let config = config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/watchword.toml"))
        .expect("the default config is valid");
    let vocabulary = feeds::Vocabulary::new();
    let batches: Vec<Vec<MatchedItem>> = (0..N_FEEDS)
        .map(|feed_idx| {
            let xml = feeds::rss_feed(&vocabulary, feed_idx, 50);
            parse_feed(xml.as_bytes(), None, None)
                .expect("generated feeds parse")
                .items
                .into_iter()
                .map(|item| {
                    let seen = item.published.unwrap_or(chrono::DateTime::UNIX_EPOCH);
                    let matches = match_topics(&config, &item, "Wire", seen);
                    MatchedItem {
                        item,
                        matches,
                        story: None,
                    }
                })
                .collect()
        })
        .collect();
    let n_items: usize = batches.iter().map(Vec::len).sum();
    let routes = vec![AlertRoute {
        sink: "log".into(),
        topics: None,
        delay: Duration::ZERO,
    }];
    // Each pass stores the same texts under fresh URLs: they join the stories of the pass
    // before, and with dedup by URL their matches and outbox rows are still written.
    let policy = StoryPolicy {
        dedup: Dedup::Url,
        ..StoryPolicy::default()
    };
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut store = Store::open(&dir.path().join("bench.db")).expect("the store opens");
    let mut n_registered = 0;
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(n_items as u64));
    group.bench_function("commit_poll, new items (20 feeds × 50)", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                // New feeds each time, so every item is new.
                let names: Vec<(String, String)> = (0..N_FEEDS)
                    .map(|_| {
                        n_registered += 1;
                        (
                            format!("feed {n_registered}"),
                            format!("https://example.com/{n_registered}"),
                        )
                    })
                    .collect();
                let pairs: Vec<(&str, String)> = names
                    .iter()
                    .map(|(name, url)| (name.as_str(), url.clone()))
                    .collect();
                let ids = store.register_feeds(&pairs).expect("feeds register");
                // New URLs each time too, so no match is skipped as a cross-feed duplicate.
                let fresh: Vec<Vec<_>> = batches
                    .iter()
                    .map(|batch| {
                        batch
                            .iter()
                            .map(|matched| {
                                let mut matched = matched.clone();
                                matched.item.url = matched
                                    .item
                                    .url
                                    .map(|url| format!("{url}?run={n_registered}"));
                                // As the pipeline does, before the store's lock.
                                matched.story = Some(story::keys(&matched.item));
                                matched
                            })
                            .collect()
                    })
                    .collect();
                let started = Instant::now();
                for (feed_id, batch) in ids.iter().zip(&fresh) {
                    let summary = store
                        .commit_poll(&PollCommit {
                            feed_id: *feed_id,
                            items: batch,
                            state: &FeedState::default(),
                            now: Utc::now(),
                            routes: &routes,
                            notice: None,
                            policy: &policy,
                            baseline: false,
                            body: true,
                        })
                        .expect("the commit succeeds");
                    black_box(summary);
                }
                elapsed += started.elapsed();
            }
            elapsed
        })
    });
    let ids = store
        .register_feeds(&[("feed 1", "https://example.com/1".into())])
        .expect("feeds register");
    let stored: Vec<_> = batches[0].iter().map(|m| m.item.clone()).collect();
    group.throughput(Throughput::Elements(stored.len() as u64));
    group.bench_function("known_keys, all stored (50 items)", |b| {
        b.iter(|| {
            let known = store.known_keys(ids[0], &stored).expect("the query runs");
            assert_eq!(known.keys.len(), stored.len());
            black_box(known)
        })
    });
    group.finish();
}

criterion_group!(benches, storing);
criterion_main!(benches);
