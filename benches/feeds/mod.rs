//! Synthetic feeds shaped like real news feeds, shared by the end-to-end benchmark and the
//! parse and store benches (the matching bench shares the vocabulary). Deterministic (seeded): the same `(feed_idx, n_items)` always gives the same
//! bytes.
//!
//! An RSS 2.0 feed has a channel header and `n_items` items, each with a headline, a link
//! (some with tracking parameters), a unique guid, an RFC 2822 date, an author, two
//! categories and about 1 KB of HTML description (paragraphs, links, bold and italic,
//! character references; half in CDATA, half escaped). Words are drawn with a Zipf-like skew
//! from a vocabulary of about 5,000 (real common news words and made-up ones). About three
//! items in a thousand are about the seed stories (the Tomahawk sale to Japan, North Korea's
//! spy satellite) or their near misses, so topics match as they would on real traffic. All
//! text here was written for this benchmark.

#![allow(dead_code)]

use std::fmt::Write as _;

/// Common words of general news, the head of the vocabulary.
const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "a",
    "said",
    "on",
    "for",
    "with",
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
    "café",
    "Zürich",
    "São",
    "naïve",
];

/// Seed-story items (headline, sentence) written for the benchmark: two on each topic and
/// two near misses.
const ON_TOPIC: &[(&str, &str)] = &[
    (
        "US clears sale of Tomahawk missiles to Japan",
        "The State Department approved a possible sale of up to 400 Tomahawk cruise missiles to Japan, worth about $2.35 billion, officials said.",
    ),
    (
        "Tokyo to buy 400 Tomahawks as Washington signs off",
        "Japan will receive Tomahawk land-attack missiles under the sale approved by the US State Department on Friday.",
    ),
    (
        "North Korea says spy satellite reached orbit",
        "Pyongyang said its Malligyong-1 military reconnaissance satellite was put into orbit by a Chollima-1 rocket late on Tuesday.",
    ),
    (
        "Seoul condemns DPRK spy satellite launch",
        "South Korea's military said North Korea launched what it claims is a spy satellite, despite warnings from the JCS.",
    ),
    (
        "SpaceX launches another batch of satellites",
        "A Falcon 9 rocket carried satellites to orbit from Florida; no military payload was on board.",
    ),
    (
        "North Korea fires short-range ballistic missile",
        "The missile flew about 600 km before landing in the sea, Seoul's Joint Chiefs of Staff said.",
    ),
];

/// Sites the synthetic feeds come from.
const SITES: &[&str] = &[
    "daily-courier",
    "metro-wire",
    "coastal-times",
    "valley-post",
    "national-ledger",
    "harbor-news",
    "summit-herald",
    "prairie-gazette",
];
const SECTIONS: &[&str] = &["world", "politics", "business", "tech", "sport", "culture"];

/// The words to draw from: [`WORDS`] and made-up words up to about 5,000.
pub struct Vocabulary {
    words: Vec<String>,
}

impl Vocabulary {
    pub fn new() -> Vocabulary {
        Vocabulary::with_words(WORDS, &[])
    }

    /// `head` (drawn most often), then made-up words up to 5,000, with `topical` placed
    /// as words 1,000 on (drawn now and then). Deterministic.
    pub fn with_words(head: &[&str], topical: &[&str]) -> Vocabulary {
        const SYLLABLES: &[&str] = &[
            "ka", "lo", "mi", "ter", "son", "ra", "vel", "din", "po", "sta", "gri", "ne", "fol",
            "ma", "tu", "ren", "sil", "co", "bar", "qui",
        ];
        let mut rng = fastrand::Rng::with_seed(3);
        let mut words: Vec<String> = head.iter().map(|word| word.to_string()).collect();
        while words.len() < 5000 {
            if words.len() == 1000 {
                words.extend(topical.iter().map(|word| word.to_string()));
            }
            let n_syllables = rng.usize(2..=4);
            words.push(
                (0..n_syllables)
                    .map(|_| SYLLABLES[rng.usize(..SYLLABLES.len())])
                    .collect(),
            );
        }
        Vocabulary { words }
    }

    /// A word drawn with a Zipf-like skew: common words often, most words rarely.
    pub fn draw(&self, rng: &mut fastrand::Rng) -> &str {
        let skewed = rng.f64().powi(3);
        &self.words[(skewed * self.words.len() as f64) as usize]
    }

    fn push_words(&self, rng: &mut fastrand::Rng, n: usize, out: &mut String) {
        for word_idx in 0..n {
            if word_idx > 0 {
                out.push(' ');
            }
            out.push_str(self.draw(rng));
        }
    }
}

/// One RSS 2.0 feed of `n_items` items, about 1.2 KB each.
pub fn rss_feed(vocabulary: &Vocabulary, feed_idx: usize, n_items: usize) -> String {
    let mut rng = fastrand::Rng::with_seed(feed_idx as u64 * 7919 + 1);
    let site = SITES[feed_idx % SITES.len()];
    let section = SECTIONS[feed_idx / SITES.len() % SECTIONS.len()];
    let mut out = String::with_capacity(n_items * 1400 + 1000);
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" \
         xmlns:atom=\"http://www.w3.org/2005/Atom\">\n<channel>\n\
         <title>{site} — {section} ({feed_idx})</title>\n\
         <link>https://{site}.example/{section}/</link>\n\
         <atom:link href=\"https://{site}.example/{section}/feed-{feed_idx}.xml\" rel=\"self\" type=\"application/rss+xml\"/>\n\
         <description>Latest {section} news from {site}</description>\n\
         <language>en</language>\n\
         <lastBuildDate>Tue, 21 Nov 2023 15:00:00 +0000</lastBuildDate>\n\
         <ttl>15</ttl>\n"
    );
    // Items newest first, a few minutes apart.
    let newest = 1_700_578_800 - (feed_idx as i64 % 500) * 60;
    for item_idx in 0..n_items {
        let published = newest - item_idx as i64 * (300 + rng.i64(0..600));
        let date = chrono::DateTime::from_timestamp(published, 0)
            .expect("a 2023 time is in range")
            .to_rfc2822();
        let on_topic = (rng.f64() < 0.003).then(|| ON_TOPIC[rng.usize(..ON_TOPIC.len())]);
        let mut title = String::with_capacity(80);
        match on_topic {
            Some((headline, _)) => title.push_str(headline),
            None => {
                let n_words = rng.usize(6..12);
                vocabulary.push_words(&mut rng, n_words, &mut title);
                if rng.u8(..) < 20 {
                    title.push_str(" &amp; more");
                }
            }
        }
        let slug: String = title
            .chars()
            .take(40)
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let link = if rng.u8(..) < 60 {
            format!(
                "https://{site}.example/{section}/2023/11/{slug}-{feed_idx}-{item_idx}.html?utm_source=rss&amp;utm_medium=feed"
            )
        } else {
            format!("https://{site}.example/{section}/2023/11/{slug}-{feed_idx}-{item_idx}.html")
        };
        let description = description_html(vocabulary, &mut rng, &link, on_topic.map(|(_, s)| s));
        let _ = write!(
            out,
            "<item>\n<title>{title}</title>\n<link>{link}</link>\n\
             <guid isPermaLink=\"false\">{site}-{feed_idx}-{item_idx}-{published}</guid>\n\
             <pubDate>{date}</pubDate>\n<dc:creator>{} {}</dc:creator>\n\
             <category>{section}</category>\n<category>{}</category>\n",
            capitalized(vocabulary.draw(&mut rng)),
            capitalized(vocabulary.draw(&mut rng)),
            vocabulary.draw(&mut rng),
        );
        if item_idx % 2 == 0 {
            let _ = writeln!(out, "<description><![CDATA[{description}]]></description>");
        } else {
            let escaped = description
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            let _ = writeln!(out, "<description>{escaped}</description>");
        }
        out.push_str("</item>\n");
    }
    out.push_str("</channel>\n</rss>\n");
    out
}

/// About 1 KB of article teaser HTML: two or three paragraphs with links, emphasis and
/// character references; `sentence` (a seed story) goes in the first paragraph.
fn description_html(
    vocabulary: &Vocabulary,
    rng: &mut fastrand::Rng,
    link: &str,
    sentence: Option<&str>,
) -> String {
    let mut html = String::with_capacity(1300);
    if rng.u8(..) < 80 {
        let _ = write!(
            html,
            "<p><img src=\"https://cdn.example/img/{}.jpg\" alt=\"\" width=\"640\" height=\"360\" /></p>",
            rng.u32(..)
        );
    }
    let n_paragraphs = rng.usize(2..=3);
    for paragraph_idx in 0..n_paragraphs {
        html.push_str("<p>");
        if paragraph_idx == 0
            && let Some(sentence) = sentence
        {
            html.push_str(&sentence.replace('&', "&amp;"));
            html.push(' ');
        }
        let target = 520 / n_paragraphs;
        let start = html.len();
        while html.len() - start < target {
            let mut sentence = String::new();
            let n_words = rng.usize(8..18);
            vocabulary.push_words(rng, n_words, &mut sentence);
            let mut sentence = capitalized(&sentence);
            match rng.u8(..8) {
                0 => sentence = format!("<b>{sentence}</b>"),
                1 => sentence = format!("<em>{sentence}</em>"),
                2 => sentence = format!("{sentence} &#8212; {}", vocabulary.draw(rng)),
                3 => sentence = format!("&#8220;{sentence}&#8221;"),
                4 => sentence = format!("{sentence} &amp; {}", vocabulary.draw(rng)),
                _ => {}
            }
            html.push_str(&sentence);
            html.push_str(". ");
        }
        html.push_str("</p>");
    }
    let _ = write!(html, "<p><a href=\"{link}\">Read more</a> &raquo;</p>");
    html
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The project's own test fixture feeds (Atom, JSON Feed, RSS without guids, with repeated
/// guids, windows-1251), with their content types: mixed into the synthetic ones.
pub fn fixture_feeds() -> Vec<(&'static str, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/feeds");
    [
        ("news.atom", "application/atom+xml"),
        ("news.json", "application/feed+json"),
        ("news.rss", "application/rss+xml"),
        ("no-guids.rss", "application/rss+xml"),
        ("repeated-guids.rss", "application/rss+xml"),
        ("windows-1251.rss", "application/rss+xml"),
    ]
    .into_iter()
    .map(|(name, content_type)| {
        let bytes = std::fs::read(dir.join(name)).expect("the fixture feeds exist");
        (content_type, bytes)
    })
    .collect()
}
