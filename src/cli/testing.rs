//! The commands that try topics: `test` (items from text, a file or a feed; `--backtest`
//! against the match log), `eval` (scores on labelled items) and the backtest line of
//! `check`. Reading inputs and printing only: the work is in `crate::tester`.

use std::io::{self, IsTerminal, Read as _, Write};
use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{TestFormat, UserError, count, rfc3339, runtime, sanitize};
use crate::alert;
use crate::config::{self, Config};
use crate::fetch::Fetcher;
use crate::model::{ItemId, Verdict};
use crate::pipeline::{self, fetch_feed};
use crate::query::{self, Hit, Reason, Unmet};
use crate::store::{BackfillSummary, Store};
use crate::tester::{self, Change, TestItem, TopicDiff};

mod render;

use render::*;

/// The most alias entries listed for a clause that found none of them.
const MAX_LISTED_TERMS: usize = 8;
/// The longest clause (in characters) quoted in an explanation.
const MAX_CLAUSE_CHARS: usize = 60;

/// Fails with the known ids when `topic` is given and not configured.
pub(super) fn check_topic(config: &Config, topic: Option<&str>) -> Result<(), UserError> {
    match topic {
        Some(topic) if !config.topics.iter().any(|t| t.id == topic) => {
            let known: Vec<&str> = config.topics.iter().map(|t| t.id.as_str()).collect();
            Err(UserError(format!(
                "--topic {topic}: no such topic (topics: {})",
                known.join(", ")
            )))
        }
        _ => Ok(()),
    }
}

/// Reads test items from a file, or stdin for `-`.
pub(super) fn read_items(path: &Path) -> anyhow::Result<Vec<TestItem>> {
    let (name, text) = read_input(path)?;
    Ok(tester::parse_items(&name, &text).map_err(|error| UserError(error.to_string()))?)
}

/// Fetches and parses a feed once: a configured feed by name (see [`find_feed`]), else a URL
/// or a path (relative to the current folder).
pub(super) fn fetch_items(config: &Config, feed: &str) -> anyhow::Result<Vec<TestItem>> {
    let (name, source) = match find_feed(config, feed)? {
        Some(configured) => (configured.name.clone(), configured.source.clone()),
        None => {
            let source = config::parse_source(feed, Path::new(""))
                .map_err(|message| UserError(format!("--feed: {message}")))?;
            if let config::FeedSource::File(path) = &source
                && !path.exists()
            {
                let names: Vec<&str> = config.feeds.iter().map(|f| f.name.as_str()).collect();
                return Err(UserError(format!(
                    "--feed {feed:?}: no configured feed has that name and there is no such file \
                     (feeds: {})",
                    names.join(", ")
                ))
                .into());
            }
            // A configured feed at that address keeps its name, for `feed:` clauses.
            let name = config
                .feeds
                .iter()
                .find(|configured| configured.source == source)
                .map_or_else(|| feed.to_string(), |configured| configured.name.clone());
            (name, source)
        }
    };
    let fetcher = Fetcher::new(&config.daemon).context("cannot build the HTTP client")?;
    let now = Utc::now();
    let parsed = runtime()?
        .block_on(fetch_feed(&fetcher, &source, pipeline::caps(config)))
        .map_err(|message| anyhow::anyhow!("feed {source}: {message}"))?;
    Ok(parsed
        .items
        .into_iter()
        .map(|item| TestItem {
            id: item.key.clone(),
            feed: name.clone(),
            item,
            // Polled now, the daemon would see it now.
            seen: Some(now),
        })
        .collect())
}

/// The configured feed `--feed` names: the one whose name is `wanted` (exactly, then ignoring
/// case), else, unless `wanted` is a URL or an existing file, the only one whose name
/// contains it (ignoring case). `None` when no name fits; several are an error that lists them.
pub(super) fn find_feed<'a>(
    config: &'a Config,
    wanted: &str,
) -> Result<Option<&'a config::FeedConfig>, UserError> {
    let feeds = &config.feeds;
    if let Some(exact) = feeds.iter().find(|feed| feed.name == wanted) {
        return Ok(Some(exact));
    }
    let folded = wanted.to_lowercase();
    let same: Vec<_> = feeds
        .iter()
        .filter(|feed| feed.name.to_lowercase() == folded)
        .collect();
    if let [only] = same[..] {
        return Ok(Some(only));
    }
    let is_address = wanted.contains("://") || Path::new(wanted).exists();
    if is_address || folded.trim().is_empty() {
        return Ok(None);
    }
    let containing: Vec<_> = feeds
        .iter()
        .filter(|feed| feed.name.to_lowercase().contains(&folded))
        .collect();
    match containing[..] {
        [] => Ok(None),
        [only] => Ok(Some(only)),
        ref several => {
            let names: Vec<String> = several
                .iter()
                .map(|feed| format!("{:?}", feed.name))
                .collect();
            Err(UserError(format!(
                "--feed {wanted:?} names several configured feeds: {}; give more of the name",
                names.join(", ")
            )))
        }
    }
}

/// `test`: every item against the topics, in input order.
pub(super) fn test(
    config: &Config,
    items: &[TestItem],
    topic: Option<&str>,
    format: TestFormat,
    as_of: Option<DateTime<Utc>>,
) -> anyhow::Result<()> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    let colour = use_colour();
    let now = Utc::now();
    for (item_idx, test) in items.iter().enumerate() {
        let first_seen = test.first_seen(as_of, now);
        let matches = tester::test_item(config, test, topic, first_seen);
        match format {
            TestFormat::Jsonl => {
                let record = TestRecord {
                    id: &test.id,
                    title: &test.item.title,
                    url: test.item.url.as_deref(),
                    published: test.item.published.map(rfc3339),
                    topics: matches.iter().map(|m| m.topic.as_str()).collect(),
                    explain: matches
                        .iter()
                        .map(|m| (m.topic.clone(), serde_json::to_value(&m.hits)))
                        .map(|(topic, hits)| hits.map(|hits| (topic, hits)))
                        .collect::<Result<_, _>>()?,
                };
                let mut line = super::json_line(&record)?;
                line.push('\n');
                out.write_all(line.as_bytes())?;
            }
            TestFormat::Text => {
                if item_idx > 0 {
                    writeln!(out)?;
                }
                write_item_heading(&mut out, test)?;
                for configured in &config.topics {
                    if topic.is_some_and(|wanted| wanted != configured.id) {
                        continue;
                    }
                    match matches.iter().find(|m| m.topic == configured.id) {
                        Some(m) => {
                            writeln!(out, "  {}: match", configured.id)?;
                            write_hits(&mut out, &m.hits, colour, 6)?;
                        }
                        None => {
                            writeln!(out, "  {}: no match", configured.id)?;
                            write_miss(&mut out, config, test, &configured.id, first_seen, colour)?;
                        }
                    }
                }
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// `eval`: scores per topic, then every false positive and false negative explained.
/// `eval` scores the labels of a file, or without one the analyst's verdicts in the database.
pub(super) fn eval(
    config: &Config,
    path: Option<&Path>,
    topic: Option<&str>,
    as_of: Option<DateTime<Utc>>,
) -> anyhow::Result<()> {
    let (name, labelled) = match path {
        Some(path) => {
            let (name, text) = read_input(path)?;
            let labelled =
                tester::parse_labels(&name, &text).map_err(|error| UserError(error.to_string()))?;
            (name, labelled)
        }
        None => {
            let labelled = stored_labels(config)?;
            if labelled.is_empty() {
                return Err(UserError(
                    "no verdicts yet: judge matches with `watchword judge MATCH_ID wrong|right` (or give eval a labels file)".into(),
                )
                .into());
            }
            (
                format!("verdicts in {}", crate::store::describe(&config.daemon)),
                labelled,
            )
        }
    };
    let now = Utc::now();
    let first_seen = |test: &TestItem| test.first_seen(as_of, now);
    let evaluation = tester::evaluate(config, &labelled, topic, first_seen);
    if !evaluation.unknown_labels.is_empty() {
        tracing::warn!(topics = ?evaluation.unknown_labels, "labels name topics that are not configured; they are not scored");
    }
    let mut out = io::BufWriter::new(io::stdout().lock());
    let colour = use_colour();
    writeln!(
        out,
        "{name}: {} scored, {} ignored",
        count(evaluation.n_counted, "item"),
        evaluation.n_ignored
    )?;
    writeln!(out)?;
    let width = evaluation
        .scores
        .iter()
        .map(|score| score.topic.chars().count())
        .max()
        .unwrap_or(0)
        .max("topic".len());
    writeln!(
        out,
        "{:width$}  {:>4}  {:>4}  {:>4}  {:>9}  {:>6}  {:>5}",
        "topic", "TP", "FP", "FN", "precision", "recall", "F1"
    )?;
    let figure = |value: Option<f64>| value.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"));
    for score in &evaluation.scores {
        writeln!(
            out,
            "{:width$}  {:>4}  {:>4}  {:>4}  {:>9}  {:>6}  {:>5}",
            score.topic,
            score.true_positives,
            score.false_positives.len(),
            score.false_negatives.len(),
            figure(score.precision()),
            figure(score.recall()),
            figure(score.f1()),
        )?;
    }
    for score in &evaluation.scores {
        let source = config
            .topics
            .iter()
            .find(|t| t.id == score.topic)
            .map_or("", |t| t.source.as_str());
        if !score.false_positives.is_empty() {
            writeln!(
                out,
                "\n{}: {} (matched, not labelled)",
                score.topic,
                count(score.false_positives.len(), "false positive")
            )?;
            for (item_idx, hits) in &score.false_positives {
                write_item_heading(&mut out, &labelled[*item_idx].test)?;
                write_hits(&mut out, hits, colour, 4)?;
            }
        }
        if !score.false_negatives.is_empty() {
            writeln!(
                out,
                "\n{}: {} (labelled, not matched)",
                score.topic,
                count(score.false_negatives.len(), "false negative")
            )?;
            for item_idx in &score.false_negatives {
                let test = &labelled[*item_idx].test;
                write_item_heading(&mut out, test)?;
                let seen = first_seen(test);
                match tester::out_of_scope(config, test, &score.topic, seen) {
                    Some(reason) => writeln!(out, "    out of time scope: {reason}")?,
                    None => {
                        let unmet = tester::explain_miss(config, test, &score.topic);
                        write_unmet(&mut out, &unmet, source, colour, 4)?;
                    }
                }
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// The analyst's verdicts as labelled items (each judged item, first seen when it was stored).
pub(super) fn stored_labels(config: &Config) -> anyhow::Result<Vec<tester::LabelledItem>> {
    if !crate::store::exists(&config.daemon) {
        return Err(UserError(format!(
            "no database at {} yet, so no verdicts (`watchword once` or `watchword run` creates it)",
            crate::store::describe(&config.daemon)
        ))
        .into());
    }
    let store = Store::open_configured(&config.daemon)?;
    let items = store.judged_items()?;
    let verdicts = store.verdicts()?;
    Ok(tester::labels_from_verdicts(&items, &verdicts))
}

/// Whether `test --backtest` writes the matches it would add (`--apply`, `--alert`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Apply {
    /// Only show them (the database is only read).
    No,
    /// Log them as backfill, not sent to alert sinks.
    LogOnly,
    /// Log them and queue them for the sinks that want their topics.
    LogAndAlert,
}

/// `test --backtest`: the topics on disk over the stored items, against the match log; with
/// `apply`, the added matches are logged.
pub(super) fn backtest(
    config: &Config,
    since: DateTime<Utc>,
    topic: Option<&str>,
    format: TestFormat,
    apply: Apply,
) -> anyhow::Result<()> {
    if !crate::store::exists(&config.daemon) {
        return Err(UserError(format!(
            "no database at {} yet (`watchword once` or `watchword run` creates it)",
            crate::store::describe(&config.daemon)
        ))
        .into());
    }
    let mut store = Store::open_configured(&config.daemon)?;
    let items = store.stored_items(Some(since))?;
    let log = store.matches_of_items_since(Some(since))?;
    let verdicts = store.verdicts()?;
    let mut diffs = tester::backtest(config, &items, &log, &verdicts);
    diffs.retain(|diff| topic.is_none_or(|wanted| wanted == diff.topic));
    let applied = match apply {
        Apply::No => None,
        Apply::LogOnly | Apply::LogAndAlert => {
            let routes = match apply {
                Apply::LogAndAlert => alert::routes(&config.alerts),
                _ => Vec::new(),
            };
            let backfills = tester::backfills(&diffs, &items);
            Some(store.backfill(&backfills, Utc::now(), &routes, &config.daemon.stories)?)
        }
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    match format {
        TestFormat::Jsonl => {
            for diff in &diffs {
                let changes = [("added", &diff.added), ("dropped", &diff.dropped)];
                for (kind, changes) in changes {
                    for change in changes {
                        let mut line =
                            super::json_line(&ChangeRecord::new(kind, &diff.topic, change))?;
                        line.push('\n');
                        out.write_all(line.as_bytes())?;
                    }
                }
            }
        }
        TestFormat::Text => {
            let colour = use_colour();
            writeln!(
                out,
                "backtest of {}: {} stored since {}, against the match log",
                config.path.display(),
                count(items.len(), "item"),
                rfc3339(since)
            )?;
            // What the edit does to the analyst's verdicts comes first: it is the point.
            for diff in diffs.iter().filter(|diff| diff.verdicts.judged > 0) {
                writeln!(
                    out,
                    "verdicts on {} ({} judged): {}",
                    diff.topic,
                    diff.verdicts.judged,
                    diff.verdicts.summary()
                )?;
            }
            for diff in &diffs {
                writeln!(out)?;
                write_diff_line(&mut out, diff)?;
                for (sign, changes) in [('+', &diff.added), ('-', &diff.dropped)] {
                    for change in changes {
                        write_change(&mut out, sign, change, colour)?;
                    }
                }
            }
            if let Some(applied) = &applied {
                writeln!(out)?;
                writeln!(out, "{}", applied_line(applied, apply))?;
            }
        }
    }
    out.flush()?;
    if let (TestFormat::Jsonl, Some(applied)) = (format, &applied) {
        // The JSON Lines stay one change a line; what was written goes to the log.
        tracing::info!("{}", applied_line(applied, apply));
    }
    Ok(())
}

/// What `--apply` wrote, in a line.
fn applied_line(applied: &BackfillSummary, apply: Apply) -> String {
    let mut line = format!(
        "applied: {} logged as backfill, {}",
        count(applied.new_matches, "match"),
        count(applied.new_sources, "more source")
    );
    if applied.missing > 0 {
        line.push_str(&format!(
            ", {} deleted meanwhile skipped",
            count(applied.missing, "item")
        ));
    }
    if apply == Apply::LogAndAlert {
        line.push_str(&format!(
            "; {} queued: the daemon (or the next `once`) sends them",
            count(applied.new_deliveries, "alert delivery")
        ));
    } else {
        line.push_str("; not sent to alert sinks (--alert queues them)");
    }
    line
}

/// The one-line backtest summary of `check`, when a database exists: `None` without one.
pub(super) fn backtest_summary(config: &Config, now: DateTime<Utc>) -> Option<String> {
    if !crate::store::exists(&config.daemon) {
        return None;
    }
    let since = now - chrono::Duration::days(30);
    let result = Store::open_configured(&config.daemon).and_then(|store| {
        Ok((
            store.stored_items(Some(since))?,
            store.matches_of_items_since(Some(since))?,
            store.verdicts()?,
        ))
    });
    let (items, log, verdicts) = match result {
        Ok(found) => found,
        Err(error) => return Some(format!("backtest: skipped ({error})")),
    };
    let diffs = tester::backtest(config, &items, &log, &verdicts);
    let parts: Vec<String> = diffs
        .iter()
        .map(|diff| {
            let change = if diff.added.is_empty() && diff.dropped.is_empty() {
                format!("{} unchanged", diff.topic)
            } else {
                format!(
                    "{} +{} -{}",
                    diff.topic,
                    diff.added.len(),
                    diff.dropped.len()
                )
            };
            if diff.verdicts.judged > 0 {
                format!("{change} [{}]", diff.verdicts.summary())
            } else {
                change
            }
        })
        .collect();
    Some(format!(
        "backtest over {} of the last 30 days: {} (details: watchword test --backtest)",
        count(items.len(), "item"),
        if parts.is_empty() {
            "no topics".to_string()
        } else {
            parts.join(", ")
        }
    ))
}

/// One line of `test --format jsonl`.
#[derive(Serialize)]
struct TestRecord<'a> {
    id: &'a str,
    title: &'a str,
    url: Option<&'a str>,
    published: Option<String>,
    topics: Vec<&'a str>,
    explain: serde_json::Map<String, serde_json::Value>,
}

/// One line of `test --backtest --format jsonl`.
#[derive(Serialize)]
struct ChangeRecord<'a> {
    change: &'a str,
    topic: &'a str,
    item_id: ItemId,
    feed: &'a str,
    title: &'a str,
    url: Option<&'a str>,
    published: Option<String>,
    explain: &'a [Hit],
    /// Why a dropped match's item is outside the topic's time scope, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    out_of_scope: Option<String>,
    /// The analyst's verdict on the item and topic (`right`, `wrong`, `missed`), or null.
    verdict: Option<&'static str>,
}

impl<'a> ChangeRecord<'a> {
    fn new(change: &'a str, topic: &'a str, item: &'a Change) -> ChangeRecord<'a> {
        ChangeRecord {
            change,
            topic,
            item_id: item.item_id,
            feed: &item.feed,
            title: &item.title,
            url: item.url.as_deref(),
            published: item.published.map(rfc3339),
            explain: &item.hits,
            out_of_scope: item.out_of_scope.map(|reason| reason.to_string()),
            verdict: item.verdict.map(Verdict::as_str),
        }
    }
}

/// The file's name as given and its text; stdin for `-`. Unreadable input is the user's to fix.
fn read_input(path: &Path) -> anyhow::Result<(String, String)> {
    if path == Path::new("-") {
        let mut text = String::new();
        io::stdin()
            .read_to_string(&mut text)
            .map_err(|error| UserError(format!("cannot read stdin: {error}")))?;
        return Ok(("<stdin>".to_string(), text));
    }
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|error| UserError(format!("cannot read {name}: {error}")))?;
    Ok((name, text))
}
