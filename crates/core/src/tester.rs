//! Trying topics without the daemon: items read from JSON or JSON Lines and evaluated against
//! the configured topics (`test`), scored against labels (`eval`), and re-run over stored
//! items to compare with the match log (backtest).
//!
//! Pure: the CLI reads the files, fetches feeds and queries the store; nothing here does I/O
//! or reads the clock. Items go through the same normalization as feed items (HTML to text,
//! canonical URL, identity key) and the same matcher as the pipeline (`matching::match_topics`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::config::{Config, OutOfScope};
use crate::matching::{document_of, match_topics};
use crate::model::{
    Backfill, Item, ItemId, Match, StoredItem, StoredVerdict, StoryId, TopicMatch, Verdict, rfc3339,
};
use crate::parse::{canonical_url, identity_key};
use crate::query::{Hit, Unmet};
use crate::story;
use crate::text::html_to_text;

mod backtest;

pub use backtest::{backfills, backtest};

/// An item to test: where it came from and the item as watchword normalized it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestItem {
    /// The item's `id` from the input (else its identity key, as for a feed item).
    pub id: String,
    /// The feed name the `feed:` field matches against (empty when not given).
    pub feed: String,
    pub item: Item,
    /// When watchword first saw the item (the input's `seen` field), for topics' time
    /// scopes; see [`TestItem::first_seen`].
    pub seen: Option<DateTime<Utc>>,
}

/// A test item with the topics it is expected to match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledItem {
    pub test: TestItem,
    /// The topic ids it belongs to (empty for none).
    pub expected: BTreeSet<String>,
    /// A judgement call: counted neither way.
    pub ignore: bool,
    /// The topics whose label is known (`"judged"` in the input, the topics with a verdict
    /// for labels from verdicts): the item counts for these topics only. `None`: every
    /// topic (an item not labelled with a topic is a negative for it).
    pub judged: Option<BTreeSet<String>>,
    /// Notes by topic (`"notes"` in the input, a verdict's `--note`).
    pub notes: BTreeMap<String, String>,
}

/// A line of an input file that is not a usable item; shown as `file:line: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}:{line}: {message}")]
pub struct InputError {
    /// The file as the user named it.
    pub source_name: String,
    /// 1-based line number.
    pub line: usize,
    pub message: String,
}

/// How one topic did on a labelled sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicScore {
    pub topic: String,
    pub true_positives: usize,
    /// Items matched but not labelled with the topic (index into the labelled items, hits).
    pub false_positives: Vec<(usize, Vec<Hit>)>,
    /// Items labelled with the topic but not matched (index into the labelled items).
    pub false_negatives: Vec<usize>,
}

/// The scores of every evaluated topic on a labelled sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub scores: Vec<TopicScore>,
    /// Items counted (not ignored).
    pub n_counted: usize,
    pub n_ignored: usize,
    /// Topic ids used in labels that are not configured (typos, or topics not written yet).
    pub unknown_labels: Vec<String>,
}

/// A match that a backtest finds added or dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub item_id: ItemId,
    pub feed: String,
    pub title: String,
    pub url: Option<String>,
    pub published: Option<DateTime<Utc>>,
    /// For an added match, what matches now; for a dropped one, what the log kept.
    pub hits: Vec<Hit>,
    /// For a dropped match of a configured topic: why the item is outside the topic's time
    /// scope, when it is.
    pub out_of_scope: Option<OutOfScope>,
    /// The analyst's verdict on the item and topic, if any.
    pub verdict: Option<Verdict>,
}

/// What a backtest does to one topic's verdicts on the items it covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerdictChanges {
    /// Verdicts on the topic for these items.
    pub judged: usize,
    /// Matches judged wrong that the edit drops (good).
    pub removes_wrong: usize,
    /// Matches judged right that the edit drops (bad).
    pub loses_right: usize,
    /// Items judged missed that the topic matches now (good).
    pub recovers_missed: usize,
}

impl VerdictChanges {
    /// `removes 1 judged wrong, loses 0 judged right, recovers 0 judged missed`.
    pub fn summary(&self) -> String {
        format!(
            "removes {} judged wrong, loses {} judged right, recovers {} judged missed",
            self.removes_wrong, self.loses_right, self.recovers_missed
        )
    }
}

/// What re-running one topic over stored items changes, compared with the match log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDiff {
    pub topic: String,
    /// Whether the topic is still in the config (a removed topic drops every match).
    pub configured: bool,
    /// What the edit does to the analyst's verdicts on these items.
    pub verdicts: VerdictChanges,
    /// Matches in the log for these items.
    pub logged: usize,
    /// Items the topic matches now (same article from several feeds counted once, as in the log).
    pub matching: usize,
    pub added: Vec<Change>,
    pub dropped: Vec<Change>,
}

impl TestItem {
    /// When the item counts as first seen, for time scopes: `as_of` when given (`--as-of`),
    /// else its `seen` field, else its published date (so `max_age` never empties a labelled
    /// set from the past), else `now`.
    pub fn first_seen(&self, as_of: Option<DateTime<Utc>>, now: DateTime<Utc>) -> DateTime<Utc> {
        as_of.or(self.seen).or(self.item.published).unwrap_or(now)
    }
}

/// A typical item built from plain text (`test --text`): the first line is the title, the
/// rest the summary.
pub fn item_from_text(text: &str) -> TestItem {
    let (title, summary) = text.split_once('\n').unwrap_or((text, ""));
    let raw = RawItem {
        id: Some(serde_json::Value::String("text".into())),
        title: Some(title.to_string()),
        summary: Some(summary.to_string()),
        ..RawItem::default()
    };
    normalize(raw)
}

/// Reads items from a JSON object, a JSON array of objects, or JSON Lines (one object a line;
/// blank lines skipped). Item fields: `id`, `title`, `summary`, `content`, `article`, `link`,
/// `published`, `seen`, `feed`, `authors`, `categories`; others are ignored, and a
/// `published` or `seen` that `read_time` cannot read is ignored too.
pub fn parse_items(source_name: &str, text: &str) -> Result<Vec<TestItem>, InputError> {
    Ok(raw_items(source_name, text)?
        .into_iter()
        .map(|(_, raw)| normalize(raw))
        .collect())
}

/// Reads labelled items: as `parse_items`, and each has `"topics": [expected topic ids]` and
/// optionally `"ignore": true`.
pub fn parse_labels(source_name: &str, text: &str) -> Result<Vec<LabelledItem>, InputError> {
    raw_items(source_name, text)?
        .into_iter()
        .map(|(line, mut raw)| {
            let Some(topics) = raw.topics.take() else {
                return Err(InputError {
                    source_name: source_name.to_string(),
                    line,
                    message: "expected \"topics\": [the topic ids the item belongs to]".into(),
                });
            };
            let ignore = raw.ignore.unwrap_or(false);
            let judged = raw.judged.take().map(|list| list.into_iter().collect());
            let notes = raw.notes.take().unwrap_or_default();
            Ok(LabelledItem {
                test: normalize(raw),
                expected: topics.into_iter().collect(),
                ignore,
                judged,
                notes,
            })
        })
        .collect()
}

/// The topics that match an item first seen at `first_seen`, in config order; only `topic`
/// when given.
pub fn test_item(
    config: &Config,
    test: &TestItem,
    topic: Option<&str>,
    first_seen: DateTime<Utc>,
) -> Vec<TopicMatch> {
    let mut matches = match_topics(config, &test.item, &test.feed, first_seen);
    if let Some(topic) = topic {
        matches.retain(|m| m.topic == topic);
    }
    matches
}

/// Why `topic` (a configured id) does not match an item: its failed clauses.
pub fn explain_miss(config: &Config, test: &TestItem, topic: &str) -> Vec<Unmet> {
    let Some(topic) = config.topics.iter().find(|t| t.id == topic) else {
        return Vec::new();
    };
    topic
        .query
        .explain_failure(&document_of(&test.item, &test.feed))
}

/// Why `topic` (a configured id) does not take an item first seen at `first_seen`: its time
/// scope, or `None` when the item is in scope.
pub fn out_of_scope(
    config: &Config,
    test: &TestItem,
    topic: &str,
    first_seen: DateTime<Utc>,
) -> Option<OutOfScope> {
    let topic = config.topics.iter().find(|t| t.id == topic)?;
    topic.scope.check(test.item.published, first_seen).err()
}

/// Scores the configured topics (only `topic` when given) on labelled items, each first seen
/// at `first_seen(item)`.
pub fn evaluate(
    config: &Config,
    labelled: &[LabelledItem],
    topic: Option<&str>,
    first_seen: impl Fn(&TestItem) -> DateTime<Utc>,
) -> Evaluation {
    let topics: Vec<&str> = config
        .topics
        .iter()
        .map(|t| t.id.as_str())
        .filter(|id| topic.is_none_or(|wanted| wanted == *id))
        .collect();
    let mut scores: Vec<TopicScore> = topics
        .iter()
        .map(|id| TopicScore {
            topic: id.to_string(),
            true_positives: 0,
            false_positives: Vec::new(),
            false_negatives: Vec::new(),
        })
        .collect();
    let mut unknown_labels = BTreeSet::new();
    let mut n_ignored = 0;
    for (item_idx, labelled) in labelled.iter().enumerate() {
        for label in &labelled.expected {
            if !config.topics.iter().any(|t| &t.id == label) {
                unknown_labels.insert(label.clone());
            }
        }
        if labelled.ignore {
            n_ignored += 1;
            continue;
        }
        let matches = test_item(config, &labelled.test, topic, first_seen(&labelled.test));
        for score in &mut scores {
            if labelled
                .judged
                .as_ref()
                .is_some_and(|judged| !judged.contains(&score.topic))
            {
                continue;
            }
            let matched = matches.iter().find(|m| m.topic == score.topic);
            let expected = labelled.expected.contains(&score.topic);
            match (matched, expected) {
                (Some(_), true) => score.true_positives += 1,
                (Some(m), false) => score.false_positives.push((item_idx, m.hits.clone())),
                (None, true) => score.false_negatives.push(item_idx),
                (None, false) => {}
            }
        }
    }
    Evaluation {
        scores,
        n_counted: labelled.len() - n_ignored,
        n_ignored,
        unknown_labels: unknown_labels.into_iter().collect(),
    }
}

impl TopicScore {
    /// TP / (TP + FP); `None` when the topic matched nothing.
    pub fn precision(&self) -> Option<f64> {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives.len(),
        )
    }

    /// TP / (TP + FN); `None` when no item is labelled with the topic.
    pub fn recall(&self) -> Option<f64> {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives.len(),
        )
    }

    /// The harmonic mean of precision and recall; `None` when either is undefined or both are 0.
    pub fn f1(&self) -> Option<f64> {
        let (precision, recall) = (self.precision()?, self.recall()?);
        (precision + recall > 0.0).then(|| 2.0 * precision * recall / (precision + recall))
    }
}

/// Labels from the analyst's verdicts, one labelled item per judged stored item (in the order
/// of `items`): it belongs to the topics judged right or missed, not to those judged wrong,
/// and counts for the judged topics only. It is first seen when it was stored.
pub fn labels_from_verdicts(items: &[StoredItem], verdicts: &[StoredVerdict]) -> Vec<LabelledItem> {
    items
        .iter()
        .filter_map(|stored| {
            let own: Vec<&StoredVerdict> = verdicts
                .iter()
                .filter(|v| v.item_id == stored.item_id)
                .collect();
            if own.is_empty() {
                return None;
            }
            Some(LabelledItem {
                test: TestItem {
                    id: stored.item.key.clone(),
                    feed: stored.feed.clone(),
                    item: stored.item.clone(),
                    seen: Some(stored.first_seen),
                },
                expected: own
                    .iter()
                    .filter(|v| v.verdict.is_positive())
                    .map(|v| v.topic.clone())
                    .collect(),
                ignore: false,
                judged: Some(own.iter().map(|v| v.topic.clone()).collect()),
                notes: own
                    .iter()
                    .filter_map(|v| Some((v.topic.clone(), v.note.clone()?)))
                    .collect(),
            })
        })
        .collect()
}

/// A labelled item as one object of the labels format `eval` reads (`watchword judge
/// --export`): the item's fields, `seen`, `topics`, and `judged` and `notes` when known.
pub fn label_record(labelled: &LabelledItem) -> serde_json::Value {
    let test = &labelled.test;
    let item = &test.item;
    let mut record = serde_json::json!({
        "id": test.id,
        "feed": test.feed,
        "title": item.title,
        "summary": item.summary,
        "content": item.content,
        "link": item.url,
        "published": item.published.map(rfc3339),
        "seen": test.seen.map(rfc3339),
        "authors": item.authors,
        "categories": item.categories,
        "topics": labelled.expected,
    });
    let object = record
        .as_object_mut()
        .expect("a JSON object literal is an object");
    if !item.article.is_empty() {
        object.insert("article".into(), item.article.clone().into());
    }
    if labelled.ignore {
        object.insert("ignore".into(), true.into());
    }
    if let Some(judged) = &labelled.judged {
        object.insert("judged".into(), serde_json::json!(judged));
    }
    if !labelled.notes.is_empty() {
        object.insert("notes".into(), serde_json::json!(labelled.notes));
    }
    record
}

/// An input object as read; every field optional (unknown fields ignored).
#[derive(Debug, Default, Deserialize)]
struct RawItem {
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    article: Option<String>,
    #[serde(default)]
    link: Option<String>,
    #[serde(default)]
    published: Option<serde_json::Value>,
    #[serde(default)]
    seen: Option<serde_json::Value>,
    #[serde(default)]
    feed: Option<String>,
    #[serde(default)]
    authors: Option<Vec<String>>,
    #[serde(default)]
    categories: Option<Vec<String>>,
    #[serde(default)]
    topics: Option<Vec<String>>,
    #[serde(default)]
    ignore: Option<bool>,
    #[serde(default)]
    judged: Option<Vec<String>>,
    #[serde(default)]
    notes: Option<BTreeMap<String, String>>,
}

/// The objects of an input text with their line numbers.
fn raw_items(source_name: &str, text: &str) -> Result<Vec<(usize, RawItem)>, InputError> {
    let error = |line: usize, message: String| InputError {
        source_name: source_name.to_string(),
        line,
        message,
    };
    let object = |line: usize, value: serde_json::Value| -> Result<(usize, RawItem), InputError> {
        if !value.is_object() {
            return Err(error(
                line,
                format!("expected a JSON object, found {}", kind_of(&value)),
            ));
        }
        serde_json::from_value(value)
            .map(|raw| (line, raw))
            .map_err(|cause| error(line, cause.to_string()))
    };
    // A whole document: one object (perhaps pretty-printed over many lines) or an array.
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
        let first_line = text[..text.len() - text.trim_start().len()]
            .matches('\n')
            .count()
            + 1;
        return match value {
            serde_json::Value::Array(values) => values
                .into_iter()
                .map(|value| object(first_line, value))
                .collect(),
            value => Ok(vec![object(first_line, value)?]),
        };
    }
    let mut items = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value = serde_json::from_str(line)
            .map_err(|cause| error(index + 1, format!("expected a JSON object: {cause}")))?;
        items.push(object(index + 1, value)?);
    }
    Ok(items)
}

fn kind_of(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A time as labelled items write it: RFC 3339 or RFC 2822, else a date and time without a
/// zone (`2023-11-21 13:42:00`, read as UTC), a date (`2023-11-21`) or a month (`2023-11`),
/// read as its first moment in UTC.
fn read_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    // RFC 3339 and plain dates, as the config's time bounds take them.
    if let Ok(time) = crate::config::parse_time(text) {
        return Some(time);
    }
    if let Ok(time) = DateTime::parse_from_rfc2822(text) {
        return Some(time.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(time) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Some(time.and_utc());
        }
    }
    // A month: its first day.
    crate::config::parse_time(&format!("{text}-01")).ok()
}

/// The item as a feed item would be: plain text, canonical URL, parsed date, identity key.
fn normalize(raw: RawItem) -> TestItem {
    let plain = |text: Option<String>| text.as_deref().map(html_to_text).unwrap_or_default();
    let title = plain(raw.title);
    let summary = plain(raw.summary);
    let content = plain(raw.content);
    let article = plain(raw.article);
    let url = raw.link.as_deref().and_then(canonical_url);
    let time = |value: Option<&serde_json::Value>| read_time(value?.as_str()?);
    let published = time(raw.published.as_ref());
    let seen = time(raw.seen.as_ref());
    let date_text = published.map(|date| date.to_rfc3339());
    let key = identity_key(None, url.as_deref(), &title, &summary, date_text.as_deref());
    let id = match raw.id {
        Some(serde_json::Value::String(id)) if !id.is_empty() => id,
        Some(serde_json::Value::Number(number)) => number.to_string(),
        _ => key.clone(),
    };
    let strings = |list: Option<Vec<String>>| -> Vec<String> {
        list.unwrap_or_default()
            .iter()
            .map(|entry| html_to_text(entry))
            .filter(|entry| !entry.is_empty())
            .collect()
    };
    TestItem {
        id,
        feed: raw.feed.unwrap_or_default(),
        item: Item {
            key,
            url,
            title,
            summary,
            content,
            article,
            authors: strings(raw.authors),
            categories: strings(raw.categories),
            published,
        },
        seen,
    }
}

fn ratio(numerator: usize, denominator: usize) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

#[cfg(test)]
mod tests;
