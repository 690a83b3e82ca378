//! The values that flow through the pipeline: items, feed state, matches. No I/O here, and
//! no behaviour beyond small conversions; every other module speaks in these types.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::query::Hit;
use crate::story::StoryKeys;

/// The id types of the store's rows: plain integers underneath, but a `MatchId` cannot be
/// passed where an `ItemId` is wanted. They serialize as the bare number. The core does not
/// know SQLite, so the store converts them at its queries (`.0` into a statement, the
/// constructor out of a row).
macro_rules! row_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;

            fn from_str(text: &str) -> Result<$name, Self::Err> {
                text.parse().map($name)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(formatter)
            }
        }
    };
}

row_id!(
    /// A configured feed's row (`feeds.id`).
    FeedId
);
row_id!(
    /// A stored item (`items.id`).
    ItemId
);
row_id!(
    /// A logged match (`matches.id`): what `judge` and `matches` show as ID.
    MatchId
);
row_id!(
    /// A story: the copies of one article across feeds (`stories.id`).
    StoryId
);
row_id!(
    /// An outbox row (`deliveries.id`).
    DeliveryId
);

/// A feed entry after parsing and normalization: plain text, a stable identity, a canonical
/// URL. Built by `parse`, matched by `query`, stored by `store`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Item {
    /// Identity key, unique within a feed: `guid:…`, `url:…` or `hash:…` (see
    /// `parse::identity_key`). Never feed-rs's generated id, which can be random.
    pub key: String,
    /// Canonical URL: lower-case scheme and host, no fragment, no tracking parameters.
    pub url: Option<String>,
    /// Plain-text title (HTML removed, whitespace collapsed).
    pub title: String,
    /// Plain-text summary.
    pub summary: String,
    /// Plain-text content (often empty: many feeds carry only a summary).
    pub content: String,
    /// The main text of the linked page, when it was fetched (`fetch_article`); else empty.
    pub article: String,
    pub authors: Vec<String>,
    pub categories: Vec<String>,
    /// The date the feed gives (published, else updated); never used to gate matching.
    pub published: Option<DateTime<Utc>>,
}

/// The marker between a repeated guid and the content hash that tells its copies apart
/// (`guid:abc #dup-0123abcd`): a feed that gives several items one guid.
pub const REPEATED_KEY_MARK: &str = " #dup-";

/// For the key of an item whose guid its feed repeats, the shared key it was made from.
pub fn repeated_key_base(key: &str) -> Option<&str> {
    key.split_once(REPEATED_KEY_MARK).map(|(base, _)| base)
}

/// What the store remembers about a feed between polls, so a restart resumes the schedule.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeedState {
    /// `ETag` of the last 200 response, sent back as `If-None-Match`.
    pub etag: Option<String>,
    /// `Last-Modified` of the last 200 response, sent back as `If-Modified-Since`.
    pub last_modified: Option<String>,
    /// When the feed is next due; `None` when it was never polled (due at once).
    pub next_due: Option<DateTime<Utc>>,
    /// When the last poll finished, whatever its outcome.
    pub last_polled: Option<DateTime<Utc>>,
    /// When a poll last succeeded (200 or 304).
    pub last_success: Option<DateTime<Utc>>,
    /// Failures since the last success; drives the backoff.
    pub consecutive_errors: u32,
    /// The last error, for `feeds` and the log.
    pub last_error: Option<String>,
    /// Short status of the last poll: `ok`, `not modified`, `http 503`, `gone`, `error`, …
    pub last_status: Option<String>,
    /// Where the feed moved by a permanent redirect (301, 308), or the feed that the HTML
    /// page at the configured URL links (see `discovered`); polled instead of the configured
    /// URL until the config names another.
    pub moved_to: Option<String>,
    /// `moved_to` is a feed found by autodiscovery on the page at the configured URL: a 404
    /// or 410 there sends the next poll back to the page.
    pub discovered: bool,
    /// A 410 Gone: the feed is not polled again until the config names another URL.
    pub gone: bool,
    /// The first failure since the last success.
    pub failing_since: Option<DateTime<Utc>>,
    /// A `feed_dead` notice went out for the current run of failures.
    pub dead_notified: bool,
    /// When a poll last brought an item not seen before (the feed's news advancing).
    pub last_new_item: Option<DateTime<Utc>>,
    /// A `feed_stale` notice went out since the last new item.
    pub stale_notified: bool,
    /// The configured URL this state belongs to, as read. A poll's state is saved only if
    /// the feed still has this URL (a reload may have changed it meanwhile); `None` saves
    /// regardless.
    pub config_url: Option<String>,
}

/// A feed's health, as `watchword feeds` and the status endpoint show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedHealth {
    pub name: String,
    /// Where the feed is polled (after a permanent redirect, the new address; after
    /// autodiscovery, the feed the configured page links).
    pub url: String,
    /// The address the config gives, when a redirect or autodiscovery moved the feed
    /// elsewhere.
    pub config_url: Option<String>,
    /// `url` is a feed linked from the HTML page at `config_url` (autodiscovery).
    pub discovered: bool,
    pub last_success: Option<DateTime<Utc>>,
    pub last_polled: Option<DateTime<Utc>>,
    pub last_status: Option<String>,
    pub consecutive_errors: u32,
    pub failing_since: Option<DateTime<Utc>>,
    pub gone: bool,
    pub items: i64,
    pub matches: i64,
    pub next_due: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// With several daemons on one PostgreSQL database: the one that polled it last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub polled_by: Option<String>,
}

/// Something about a feed that alert sinks without a topic filter are told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Notice {
    /// `feed_dead` or `feed_recovered`.
    pub event: NoticeKind,
    pub feed: String,
    pub url: String,
    /// When the feed started failing.
    pub failing_since: DateTime<Utc>,
    /// When the notice was raised.
    pub at: DateTime<Utc>,
    /// The last error (for `feed_dead`).
    pub error: Option<String>,
}

/// The kinds of [`Notice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    FeedDead,
    FeedRecovered,
    /// The feed answers but has listed nothing new for `stale_after` (a publisher that moved
    /// its feed and left the old one standing).
    FeedStale,
}

impl NoticeKind {
    /// The event name (`feed_dead`, `feed_recovered`, `feed_stale`).
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::FeedDead => "feed_dead",
            NoticeKind::FeedRecovered => "feed_recovered",
            NoticeKind::FeedStale => "feed_stale",
        }
    }
}

/// A match as the match log stores and shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Match {
    pub match_id: MatchId,
    pub topic: String,
    pub matched_at: DateTime<Utc>,
    pub item_id: ItemId,
    /// Identity key of the item within its feed.
    pub item_key: String,
    pub feed: String,
    pub title: String,
    pub url: Option<String>,
    pub published: Option<DateTime<Utc>>,
    /// The distinct terms that matched.
    pub terms: Vec<String>,
    /// Every hit: term, field and snippet.
    pub hits: Vec<Hit>,
    /// The story of the match's first item (every stored match has one).
    pub story_id: Option<StoryId>,
    /// Every item recorded for this match, first one first: the item that made the match,
    /// then the later copies of its story (or URL) from other feeds. Never empty when read
    /// from the store.
    pub sources: Vec<Source>,
    /// Logged by `test --backtest --apply` for an item stored before, not by a poll.
    pub backfill: bool,
    /// The analyst's verdict on the match (`watchword judge`), with its note.
    pub verdict: Option<(Verdict, Option<String>)>,
}

/// What an analyst said about a topic and an item (`watchword judge`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// A logged match that belongs to the topic.
    Right,
    /// A logged match (or an item) that does not belong to the topic.
    Wrong,
    /// A stored item the topic should have matched and did not.
    Missed,
}

impl Verdict {
    /// The name in the database and the output.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Right => "right",
            Verdict::Wrong => "wrong",
            Verdict::Missed => "missed",
        }
    }

    /// The verdict named `text`.
    pub fn parse(text: &str) -> Option<Verdict> {
        match text {
            "right" => Some(Verdict::Right),
            "wrong" => Some(Verdict::Wrong),
            "missed" => Some(Verdict::Missed),
            _ => None,
        }
    }

    /// Whether the item belongs to the topic.
    pub fn is_positive(self) -> bool {
        self != Verdict::Wrong
    }
}

/// One item that carried a matched story: which feed, its title and link, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    pub feed: String,
    pub title: String,
    pub url: Option<String>,
    pub published: Option<DateTime<Utc>>,
    /// When watchword first saw the item.
    pub seen: DateTime<Utc>,
}

/// One source in the stable machine format.
#[derive(Debug, Serialize)]
pub struct SourceRecord<'a> {
    pub feed: &'a str,
    pub title: &'a str,
    pub url: Option<&'a str>,
    pub published: Option<String>,
    pub seen: String,
}

impl Source {
    /// The source as the machine interface writes it.
    pub fn record(&self) -> SourceRecord<'_> {
        SourceRecord {
            feed: &self.feed,
            title: &self.title,
            url: self.url.as_deref(),
            published: self.published.map(rfc3339),
            seen: rfc3339(self.seen),
        }
    }
}

/// At which level a topic logs (and alerts) once: `[daemon] dedup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dedup {
    /// Once per story: later copies of the story become sources of the match.
    #[default]
    Story,
    /// Once per canonical URL: the same link from other feeds becomes a source.
    Url,
    /// Once per item.
    Item,
}

impl Dedup {
    /// The name in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Dedup::Story => "story",
            Dedup::Url => "url",
            Dedup::Item => "item",
        }
    }

    /// The level named `text` in the config.
    pub fn parse(text: &str) -> Option<Dedup> {
        match text {
            "story" => Some(Dedup::Story),
            "url" => Some(Dedup::Url),
            "item" => Some(Dedup::Item),
            _ => None,
        }
    }
}

/// How the store groups new items into stories and logs their matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoryPolicy {
    pub dedup: Dedup,
    /// A new item joins only a story first seen at most this long before it.
    pub window: std::time::Duration,
}

impl Default for StoryPolicy {
    fn default() -> StoryPolicy {
        StoryPolicy {
            dedup: Dedup::Story,
            window: DEFAULT_STORY_WINDOW,
        }
    }
}

/// The default `[daemon] story_window`: 72 hours.
pub const DEFAULT_STORY_WINDOW: std::time::Duration = std::time::Duration::from_secs(72 * 3600);

/// A topic that matched a new item, with its explanation; produced by the pipeline, written by
/// the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMatch {
    pub topic: String,
    pub hits: Vec<Hit>,
}

/// A new item and the topics it matched, ready to be stored in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedItem {
    pub item: Item,
    pub matches: Vec<TopicMatch>,
    /// The item's story keys (`story::keys`), computed by the pipeline outside the store's
    /// lock; `None` has the store compute them.
    pub story: Option<crate::story::StoryKeys>,
}

impl Match {
    /// The words of the text that matched, each once (case aside), in the order of the hits:
    /// `satellite` where the query says `satellit*`. A hit stored before the words were
    /// kept gives its term as written.
    pub fn words_found(&self) -> Vec<&str> {
        let mut words: Vec<&str> = Vec::new();
        for hit in &self.hits {
            let word = if hit.found.is_empty() {
                hit.term.as_str()
            } else {
                hit.found.as_str()
            };
            if !words
                .iter()
                .any(|seen| seen.eq_ignore_ascii_case(word) || *seen == word)
            {
                words.push(word);
            }
        }
        if words.is_empty() {
            words = self.terms.iter().map(String::as_str).collect();
        }
        words
    }

    /// A piece of the item's text around the first hit outside the title (the title is
    /// shown anyway), if there is one.
    pub fn excerpt(&self) -> Option<&str> {
        self.hits
            .iter()
            .find(|hit| hit.field != crate::query::Field::Title && !hit.snippet.is_empty())
            .map(|hit| hit.snippet.as_str())
    }

    /// The match as the machine interface writes it (`matches --format jsonl`, the `jsonl`
    /// and `exec` alert sinks, webhook payloads).
    pub fn record(&self) -> MatchRecord<'_> {
        MatchRecord {
            match_id: self.match_id,
            topic: &self.topic,
            matched_at: rfc3339(self.matched_at),
            item_id: self.item_id,
            feed: &self.feed,
            title: &self.title,
            url: self.url.as_deref(),
            published: self.published.map(rfc3339),
            terms: &self.terms,
            explain: &self.hits,
            story_id: self.story_id,
            sources: self.sources.iter().map(Source::record).collect(),
            backfill: self.backfill,
            verdict: self.verdict.as_ref().map(|(verdict, _)| verdict.as_str()),
            verdict_note: self.verdict.as_ref().and_then(|(_, note)| note.as_deref()),
        }
    }
}

/// One match in the stable machine format: `matches --format json|jsonl` and alert payloads.
#[derive(Debug, Serialize)]
pub struct MatchRecord<'a> {
    pub match_id: MatchId,
    pub topic: &'a str,
    pub matched_at: String,
    pub item_id: ItemId,
    pub feed: &'a str,
    pub title: &'a str,
    pub url: Option<&'a str>,
    pub published: Option<String>,
    pub terms: &'a [String],
    pub explain: &'a [Hit],
    /// The story of the match (every stored match has one; `None` only in hand-made values).
    pub story_id: Option<StoryId>,
    /// Every source, the first one (this record's `feed`, `title` and `url`) included.
    pub sources: Vec<SourceRecord<'a>>,
    /// Logged by `test --backtest --apply`, not by the poll that first saw the item.
    pub backfill: bool,
    /// `right`, `wrong` (or `missed`, for a match logged after the item was judged missed),
    /// or null when nobody judged it.
    pub verdict: Option<&'static str>,
    /// The note given with the verdict.
    pub verdict_note: Option<&'a str>,
}

/// Which matches an alert sink wants, and how long they wait before the first attempt (the
/// digest window). The store writes one outbox row per logged match and route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRoute {
    pub sink: String,
    /// Topic ids; `None` takes every topic.
    pub topics: Option<Vec<String>>,
    /// Delay before the first attempt: the digest window, or zero.
    pub delay: std::time::Duration,
}

impl AlertRoute {
    /// Whether this sink wants matches of `topic`.
    pub fn wants(&self, topic: &str) -> bool {
        self.topics
            .as_ref()
            .is_none_or(|topics| topics.iter().any(|t| t == topic))
    }
}

/// Where an outbox row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    /// A sink accepted it.
    Delivered,
    /// Attempts ran out, or the sink refused it for good; kept until requeued.
    Failed,
}

impl DeliveryState {
    /// The name stored in the database and shown by `alerts`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    /// The state with this stored name.
    pub fn parse(text: &str) -> Option<DeliveryState> {
        match text {
            "pending" => Some(DeliveryState::Pending),
            "delivered" => Some(DeliveryState::Delivered),
            "failed" => Some(DeliveryState::Failed),
            _ => None,
        }
    }
}

/// What an outbox row delivers.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Match(Match),
    Notice(Notice),
}

/// An outbox row with what it delivers.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: DeliveryId,
    pub sink: String,
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: u32,
    /// When a pending row is tried next.
    pub next_attempt: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub payload: Payload,
}

/// Matches grouped by story (a digest, the Atom feed): one per story, in order of first appearance: a story matched by
/// several topics becomes one match naming them all (`topic` joined with ", ", terms and
/// sources merged). Matches without a story stand alone.
pub fn by_story(matches: &[Match]) -> Vec<Match> {
    let mut stories: Vec<Match> = Vec::new();
    for m in matches {
        let same = m
            .story_id
            .and_then(|id| stories.iter_mut().find(|s| s.story_id == Some(id)));
        match same {
            Some(story) => {
                story.topic.push_str(", ");
                story.topic.push_str(&m.topic);
                for term in &m.terms {
                    if !story.terms.contains(term) {
                        story.terms.push(term.clone());
                    }
                }
                for source in &m.sources {
                    if !story.sources.contains(source) {
                        story.sources.push(source.clone());
                    }
                }
            }
            None => stories.push(m.clone()),
        }
    }
    stories
}

/// RFC 3339 in UTC with whole seconds, the form every output uses.
pub fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An item as stored, for re-running topics over it (backtest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredItem {
    pub item_id: ItemId,
    /// The name of the feed it came from.
    pub feed: String,
    pub item: Item,
    /// When watchword first stored it.
    pub first_seen: DateTime<Utc>,
    /// Its story (`None` only in a test's hand-made value).
    pub story_id: Option<StoryId>,
}

/// One match to backfill: a stored item and a topic's match of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backfill {
    pub item_id: ItemId,
    pub topic_match: TopicMatch,
    /// The item's story keys (`story::keys`): an item that matched nothing when it was
    /// stored was not indexed, and is now, as a poll would have done.
    pub story: Option<StoryKeys>,
}

/// One stored verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVerdict {
    pub item_id: ItemId,
    pub topic: String,
    pub verdict: Verdict,
    /// The judged match, when the item was logged for the topic.
    pub match_id: Option<MatchId>,
    pub note: Option<String>,
    pub judged_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_ids_read_and_write_as_bare_numbers() {
        // JSON output, the command line and the exec sink's environment show the number.
        assert_eq!(serde_json::to_string(&MatchId(7)).unwrap(), "7");
        assert_eq!(serde_json::from_str::<ItemId>("12").unwrap(), ItemId(12));
        assert_eq!(
            serde_json::to_string(&Some(StoryId(3))).unwrap(),
            "3",
            "an optional id is the number or null"
        );
        assert_eq!("42".parse::<DeliveryId>(), Ok(DeliveryId(42)));
        assert!("forty-two".parse::<FeedId>().is_err());
        assert_eq!(MatchId(5).to_string(), "5");
    }
}
