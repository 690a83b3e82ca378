//! Matching throughput: items per second for the default topics and for 500 generated topics,
//! over realistic items (a headline and about 1 KB of summary in varied words, a few of them
//! on topic). Each item is prepared (`Document::new`) and matched against every topic, as the
//! pipeline does.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use watchword::config::{self, Config};
use watchword::model::Item;
use watchword::pipeline::match_topics;
use watchword::query::{Document, Fields, Query, QuerySet};

const N_ITEMS: usize = 1000;

/// Words of general news, for summaries and generated topics.
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
    "launch",
    "space",
    "rocket",
    "satellite",
    "defence",
    "army",
    "navy",
    "missile",
    "sale",
    "Japan",
    "Korea",
    "Seoul",
    "Tokyo",
    "Washington",
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
    "sanctions",
    "film",
    "music",
    "festival",
    "museum",
    "art",
    "science",
];

/// On-topic sentences mixed into a few items.
const ON_TOPIC: &[&str] = &[
    "The State Department approved the possible sale of up to 400 Tomahawk missiles to Japan.",
    "North Korea said its Malligyong-1 spy satellite reached orbit on a Chollima-1 rocket.",
    "북한이 군사정찰위성을 발사했다고 합참이 밝혔다.",
    "米国務省は日本へのトマホーク売却を承認した。",
];

fn items() -> Vec<Item> {
    let mut rng = fastrand::Rng::with_seed(7);
    (0..N_ITEMS)
        .map(|item_idx| {
            let mut words = |n: usize| {
                (0..n)
                    .map(|_| WORDS[rng.usize(..WORDS.len())])
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
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/watchword.toml");
    config::load(&path).expect("the default config is valid")
}

/// 500 topics of the shapes people write: ORs of words, a phrase, a prefix, an exclusion.
fn generated_topics() -> QuerySet {
    let mut rng = fastrand::Rng::with_seed(11);
    let mut word = || WORDS[rng.usize(..WORDS.len())];
    let queries = (0..500)
        .map(|_| {
            let source = format!(
                "({} OR {} OR \"{} {}\") AND {}* AND NOT title:{}",
                word(),
                word(),
                word(),
                word(),
                &word()[..4],
                word()
            );
            Query::compile(&source, &BTreeMap::new()).expect("generated queries compile")
        })
        .collect();
    QuerySet::new(queries)
}

fn matching(c: &mut Criterion) {
    let items = items();
    let config = default_config();
    let generated = generated_topics();
    let mut group = c.benchmark_group("matching");
    group.throughput(Throughput::Elements(items.len() as u64));
    group.bench_function("default topics", |b| {
        b.iter(|| {
            let mut n_matches = 0;
            for item in &items {
                n_matches += match_topics(&config, item, "Wire").len();
            }
            black_box(n_matches)
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
