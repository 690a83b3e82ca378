//! `judge`: the analyst's verdicts on the match log — a match judged right or wrong, a stored
//! item the topic missed — and their export and import as labels. Reading arguments and
//! printing only: the store keeps the verdicts, `crate::tester` turns them into labels.

use std::io::{self, Write};
use std::path::Path;

use chrono::Utc;

use super::testing::{check_topic, stored_labels};
use super::{UserError, count, json_line, sanitize};
use crate::config::Config;
use crate::model::{ItemId, MatchId, Verdict};
use crate::parse::canonical_url;
use crate::store::{Judged, LabelImport, Store};
use crate::tester;

/// `judge MATCH_ID right|wrong [--note TEXT]`.
pub(super) fn judge_match(
    config: &Config,
    match_id: MatchId,
    verdict: Verdict,
    note: Option<&str>,
) -> anyhow::Result<()> {
    let mut store = open(config)?;
    let judged = store.judge_match(match_id, verdict, note, Utc::now())?;
    report(judged, verdict, &format!("match {match_id}"))
}

/// `judge --missed ITEM_ID|URL --topic ID [--note TEXT]`.
pub(super) fn judge_missed(
    config: &Config,
    item: &str,
    topic: &str,
    note: Option<&str>,
) -> anyhow::Result<()> {
    check_topic(config, Some(topic))?;
    let mut store = open(config)?;
    let item_id = match item.parse::<ItemId>() {
        Ok(item_id) => item_id,
        Err(_) => {
            let url = canonical_url(item).ok_or_else(|| {
                UserError(format!(
                    "--missed {item:?}: neither an item id nor a URL (item ids are in `matches --format jsonl` and `test --backtest --format jsonl`)"
                ))
            })?;
            let found = store.items_with_url(&url)?;
            *found.first().ok_or_else(|| {
                UserError(format!(
                    "--missed: no stored item has the URL {}",
                    sanitize(&url)
                ))
            })?
        }
    };
    let judged = store.judge_missed(item_id, topic, note, Utc::now())?;
    report(judged, Verdict::Missed, &format!("item {item_id}"))
}

/// `judge --export`: every judged item as a labels line, on stdout.
pub(super) fn export(config: &Config) -> anyhow::Result<()> {
    let labelled = stored_labels(config)?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    for label in &labelled {
        let mut line = json_line(&tester::label_record(label))?;
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// `judge --import FILE`: the verdicts of a labels file (an export) for the items stored.
pub(super) fn import(config: &Config, path: &Path) -> anyhow::Result<()> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|error| UserError(format!("cannot read {name}: {error}")))?;
    let labelled =
        tester::parse_labels(&name, &text).map_err(|error| UserError(error.to_string()))?;
    let imports: Vec<LabelImport> = labelled
        .iter()
        .filter(|label| !label.ignore)
        .map(|label| {
            // Without "judged", the label speaks for every configured topic.
            let judged: Vec<String> = match &label.judged {
                Some(judged) => judged.iter().cloned().collect(),
                None => config.topics.iter().map(|t| t.id.clone()).collect(),
            };
            let (positive, negative) = judged
                .into_iter()
                .partition(|topic| label.expected.contains(topic));
            LabelImport {
                feed: label.test.feed.clone(),
                key: label.test.id.clone(),
                url: label.test.item.url.clone(),
                positive,
                negative,
                notes: label
                    .notes
                    .iter()
                    .map(|(topic, note)| (topic.clone(), note.clone()))
                    .collect(),
            }
        })
        .collect();
    let summary = open(config)?.import_labels(&imports, Utc::now())?;
    writeln!(
        io::stdout().lock(),
        "{name}: {} imported; {} not in the database, skipped",
        count(summary.verdicts, "verdict"),
        count(summary.not_found, "item")
    )?;
    Ok(())
}

fn open(config: &Config) -> anyhow::Result<Store> {
    if !crate::store::exists(&config.daemon) {
        return Err(UserError(format!(
            "no database at {} yet (`watchword once` or `watchword run` creates it)",
            crate::store::describe(&config.daemon)
        ))
        .into());
    }
    Ok(Store::open_configured(&config.daemon)?)
}

fn report(judged: Judged, verdict: Verdict, what: &str) -> anyhow::Result<()> {
    match judged {
        Judged::Stored {
            item_id,
            topic,
            replaced,
        } => {
            let replaced = match replaced {
                Some(old) if old != verdict => format!(" (was {})", old.as_str()),
                _ => String::new(),
            };
            writeln!(
                io::stdout().lock(),
                "{what}: item {item_id} judged {} for {}{replaced}",
                verdict.as_str(),
                sanitize(&topic)
            )?;
            Ok(())
        }
        Judged::NoSuchMatch => Err(UserError(format!("there is no {what}")).into()),
        Judged::NoSuchItem => Err(UserError(format!("there is no stored {what}")).into()),
        Judged::AlreadyMatched { match_id } => Err(UserError(format!(
            "{what} is in match {match_id} of that topic: judge the match (`watchword judge {match_id} right|wrong`)"
        ))
        .into()),
    }
}
