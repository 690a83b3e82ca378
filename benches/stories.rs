//! The story index: the cost of storing a new item (its story lookup by URL, title and
//! fingerprint bands, its member row, the item row) as the database grows. Items are the
//! end-to-end benchmark's real-shaped ones (`feeds/mod.rs`, each with its own text), stored
//! through `commit_poll` in batches of 50 as a poll does, each matching one topic (only
//! matched items are indexed, so this is the worst case), on a temp WAL database. The time per batch is measured with 10,000 and with 100,000 items stored, in
//! two cases: every stored item first seen within `story_window` (the worst case: every
//! story can be joined), and items arriving evenly over 30 days (a 72-hour window holds a
//! tenth). A lookup is a fixed number of hash probes into the in-memory index of the window
//! (with at most `MAX_PER_BAND` signatures compared per band), and storing appends one row
//! to `story_members`, so the cost must not grow with the number of stored items. Every
//! measured batch is a generated feed never stored before.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use watchword::model::{FeedState, MatchedItem, StoryPolicy, TopicMatch};
use watchword::parse::parse_feed;
use watchword::query::{Field, Hit};
use watchword::store::{PollCommit, Store};
use watchword::story;

mod feeds;

/// Items per poll (one transaction).
const BATCH: usize = 50;
/// The stored sizes measured at.
const SIZES: [usize; 2] = [10_000, 100_000];

/// The generated feed number `feed_idx` as one batch: its own texts, links and guids.
fn batch(vocabulary: &feeds::Vocabulary, feed_idx: usize) -> Vec<MatchedItem> {
    let xml = feeds::rss_feed(vocabulary, feed_idx, BATCH);
    parse_feed(xml.as_bytes(), None, None)
        .expect("generated feeds parse")
        .items
        .into_iter()
        .map(|item| MatchedItem {
            // Computed by the pipeline before the store, outside the measured commit.
            story: Some(story::keys(&item)),
            item,
            matches: vec![TopicMatch {
                topic: "watched".into(),
                hits: vec![Hit {
                    term: "story".into(),
                    field: Field::Title,
                    found: "story".into(),
                    snippet: "story".into(),
                }],
            }],
        })
        .collect()
}

/// Where the stored items' times come from: all at one time, or spread over `span`.
#[derive(Clone, Copy)]
enum Arrival {
    AllInWindow,
    Over { span: Duration, total: usize },
}

impl Arrival {
    fn time_of(self, item_idx: usize) -> DateTime<Utc> {
        let start = Utc.with_ymd_and_hms(2023, 11, 1, 0, 0, 0).unwrap();
        match self {
            Arrival::AllInWindow => start,
            Arrival::Over { span, total } => {
                let offset = span.as_secs_f64() * item_idx as f64 / total as f64;
                start + chrono::Duration::seconds(offset as i64)
            }
        }
    }
}

fn story_index(c: &mut Criterion) {
    let largest = SIZES[SIZES.len() - 1];
    let vocabulary = feeds::Vocabulary::new();
    let fill: Vec<Vec<MatchedItem>> = (0..largest / BATCH)
        .map(|feed_idx| batch(&vocabulary, feed_idx))
        .collect();
    let mut group = c.benchmark_group("stories");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(BATCH as u64));
    let cases = [
        ("all stored items in the window", Arrival::AllInWindow),
        (
            "items over 30 days",
            Arrival::Over {
                span: Duration::from_secs(30 * 24 * 3600),
                total: largest,
            },
        ),
    ];
    // Measured batches come from feeds never stored before.
    let mut next_feed = largest / BATCH;
    for (case, arrival) in cases {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut store = Store::open(&dir.path().join("bench.db")).expect("the store opens");
        let feed_ids = store
            .register_feeds(&[("fill", "https://fill.example/feed".into())])
            .expect("feeds register");
        let policy = StoryPolicy::default();
        let mut n_stored = 0;
        let mut n_joined = 0;
        for size in SIZES {
            let filling = Instant::now();
            let n_before = n_stored;
            for batch in &fill[n_stored / BATCH..size / BATCH] {
                n_joined += store
                    .commit_poll(&PollCommit {
                        feed_id: feed_ids[0],
                        items: batch,
                        state: &FeedState::default(),
                        now: arrival.time_of(n_stored),
                        routes: &[],
                        notice: None,
                        policy: &policy,
                        baseline: false,
                        body: true,
                    })
                    .expect("the commit succeeds")
                    .joined_stories;
                n_stored += batch.len();
            }
            let filled = filling.elapsed();
            eprintln!(
                "{case}: {size} stored ({n_joined} joined a story); storing the last {} took \
                 {:.1} s, {:.0} µs per item",
                n_stored - n_before,
                filled.as_secs_f64(),
                filled.as_secs_f64() * 1e6 / (n_stored - n_before) as f64
            );
            let now = arrival.time_of(size);
            group.bench_function(
                format!("{case}, {size} stored, per batch of {BATCH}"),
                |b| {
                    b.iter_custom(|iters| {
                        let mut elapsed = Duration::ZERO;
                        for _ in 0..iters {
                            let batch = batch(&vocabulary, next_feed);
                            next_feed += 1;
                            let started = Instant::now();
                            let summary = store
                                .commit_poll(&PollCommit {
                                    feed_id: feed_ids[0],
                                    items: &batch,
                                    state: &FeedState::default(),
                                    now,
                                    routes: &[],
                                    notice: None,
                                    policy: &policy,
                                    baseline: false,
                                    body: true,
                                })
                                .expect("the commit succeeds");
                            elapsed += started.elapsed();
                            black_box(summary);
                        }
                        elapsed
                    })
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, story_index);
criterion_main!(benches);
