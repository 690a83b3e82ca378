//! `watchword matches`: the match log as a table, JSON, JSON Lines or CSV, and `--follow`.

use super::*;
use crate::model::Source;

/// How often `matches --follow` looks for new matches.
pub(super) const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

pub(super) fn matches(
    config: &Config,
    mut filter: MatchFilter,
    format: Format,
    follow: bool,
    sources: bool,
) -> anyhow::Result<()> {
    let daemon = &config.daemon;
    // `--follow` waits for a database that a starting daemon is about to create.
    if !follow && !crate::store::exists(daemon) {
        return Err(UserError(format!(
            "the database {} does not exist (yet): `watchword once` or `watchword run` creates it",
            crate::store::describe(daemon)
        ))
        .into());
    }
    if let Some(topic) = &filter.topic
        && !config.topics.iter().any(|t| &t.id == topic)
    {
        let known: Vec<&str> = config.topics.iter().map(|t| t.id.as_str()).collect();
        let logged = crate::store::exists(daemon) && {
            let one = MatchFilter {
                topic: Some(topic.clone()),
                limit: Some(1),
                ..MatchFilter::default()
            };
            !Store::open_configured(daemon)?.matches(&one)?.is_empty()
        };
        if !logged {
            return Err(UserError(format!(
                "--topic {topic}: no such topic in the config or the match log (topics: {})",
                known.join(", ")
            ))
            .into());
        }
        tracing::warn!(topic = %topic, known = ?known, "topic is not in the config; showing its logged matches anyway");
    }
    let width = terminal_width();
    let mut store = None;
    let mut first = true;
    loop {
        if store.is_none() && crate::store::exists(daemon) {
            store = Some(Store::open_configured(daemon)?);
        }
        // Later reads take what is newer than the newest match at the time of this read:
        // taken before the read, so a match logged meanwhile is not skipped.
        let newest = match &store {
            Some(store) if follow => store.newest_match_id()?,
            _ => None,
        };
        let found = match &store {
            Some(store) => store.matches(&filter)?,
            None => Vec::new(),
        };
        let mut out = io::BufWriter::new(io::stdout().lock());
        if follow {
            write_follow(&mut out, &found, format, first, sources, width)?;
        } else {
            write_matches(&mut out, &found, format, sources, width)?;
        }
        out.flush()?;
        if !follow {
            return Ok(());
        }
        let shown = found.iter().map(|m| m.match_id).max();
        filter.after_id = filter.after_id.max(newest).max(shown);
        // Only the first read is limited to the most recent or since a time.
        filter.limit = None;
        filter.since = None;
        first = false;
        std::thread::sleep(FOLLOW_EVERY);
    }
}

pub(super) fn write_matches(
    out: &mut impl Write,
    matches: &[Match],
    format: Format,
    sources: bool,
    width: Option<usize>,
) -> anyhow::Result<()> {
    match format {
        Format::Table => write_match_table(out, matches, sources, width)?,
        // JSON is serialized to memory first: a write error inside serde_json would hide the
        // io::Error (a closed pipe is success, see `exit_code`).
        Format::Json => {
            let records: Vec<MatchRecord<'_>> = matches.iter().map(Match::record).collect();
            let mut text = json_pretty(&records)?;
            text.push('\n');
            out.write_all(text.as_bytes())?;
        }
        Format::Jsonl => write_jsonl(out, matches)?,
        Format::Csv => {
            writeln!(out, "{CSV_HEADER}")?;
            write_csv_rows(out, matches)?;
        }
    }
    Ok(())
}

/// `--follow` output: rows as they come; a table or CSV header once, JSON one object per
/// match.
pub(super) fn write_follow(
    out: &mut impl Write,
    matches: &[Match],
    format: Format,
    first: bool,
    sources: bool,
    width: Option<usize>,
) -> anyhow::Result<()> {
    match format {
        Format::Table => {
            let layout = Layout::within(FOLLOW_WIDTHS, width, &MATCHES_PLAN);
            if first {
                writeln!(out, "{}", layout.line(&TABLE_HEADER.map(String::from)))?;
            }
            let sources_layout = sources.then(|| sources_layout(matches, width));
            for m in matches {
                writeln!(out, "{}", layout.line(&table_row(m)))?;
                if let Some(sources_layout) = &sources_layout {
                    write_sources(out, m, sources_layout)?;
                }
            }
        }
        Format::Json => {
            for m in matches {
                let mut text = json_pretty(&m.record())?;
                text.push('\n');
                out.write_all(text.as_bytes())?;
            }
        }
        Format::Jsonl => write_jsonl(out, matches)?,
        Format::Csv => {
            if first {
                writeln!(out, "{CSV_HEADER}")?;
            }
            write_csv_rows(out, matches)?;
        }
    }
    Ok(())
}

pub(super) fn write_jsonl(out: &mut impl Write, matches: &[Match]) -> anyhow::Result<()> {
    for m in matches {
        let mut line = json_line(&m.record())?;
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

pub(super) const TABLE_HEADER: [&str; 8] = [
    "ID",
    "MATCHED (UTC)",
    "TOPIC",
    "VERDICT",
    "SOURCES",
    "FEED",
    "TITLE",
    "URL",
];
/// How the match table fits a narrow terminal: the title gives way first, then the link;
/// feed and topic names are cut only to 16 columns before the link, the number of sources
/// and the verdict are left out; the link is never cut in piped output.
pub(super) const MATCHES_PLAN: Plan = Plan {
    steps: &[
        Step::Shrink(6, 40),
        Step::Shrink(7, 40),
        Step::Shrink(6, 24),
        Step::Shrink(7, 24),
        Step::Shrink(5, 16),
        Step::Shrink(2, 16),
        Step::Drop(7),
        Step::Drop(4),
        Step::Drop(3),
        Step::Shrink(6, 16),
        Step::Shrink(5, 12),
        Step::Shrink(2, 12),
        Step::Shrink(6, 8),
    ],
    uncapped: &[7],
};
/// The lines of `--sources` (when seen, feed, title, link), indented under their match.
const SOURCES_PLAN: Plan = Plan {
    steps: &[
        Step::Shrink(2, 40),
        Step::Shrink(3, 40),
        Step::Shrink(2, 24),
        Step::Shrink(3, 24),
        Step::Shrink(1, 16),
        Step::Drop(3),
        Step::Shrink(2, 16),
        Step::Shrink(1, 12),
        Step::Shrink(2, 8),
    ],
    uncapped: &[3],
};
/// How far the lines of `--sources` are indented.
const SOURCES_INDENT: usize = 4;
/// Column widths of `matches --follow` before they are fitted to the terminal (rows come one
/// batch at a time, so widths are fixed).
pub(super) const FOLLOW_WIDTHS: [usize; 8] = [6, 25, 20, 7, 7, 30, 100, 80];
pub(super) const CSV_HEADER: &str =
    "match_id,topic,matched_at,feed,title,url,published,terms,sources,verdict,backfill";

/// One row per match (per story and topic with `dedup = "story"`), with its number of
/// sources; with `sources`, each source on a line of its own under the row. Fitted to
/// `width` (see [`MATCHES_PLAN`]).
pub(super) fn write_match_table(
    out: &mut impl Write,
    matches: &[Match],
    sources: bool,
    width: Option<usize>,
) -> io::Result<()> {
    if matches.is_empty() {
        return writeln!(out, "no matches");
    }
    let rows: Vec<[String; 8]> = matches.iter().map(table_row).collect();
    let header = TABLE_HEADER.map(String::from);
    if !sources {
        return write_table(out, &header, &rows, width, &MATCHES_PLAN);
    }
    let layout = Layout::of(&header, &rows, width, &MATCHES_PLAN);
    let sources_layout = sources_layout(matches, width);
    writeln!(out, "{}", layout.line(&header))?;
    for (row, m) in rows.iter().zip(matches) {
        writeln!(out, "{}", layout.line(row))?;
        write_sources(out, m, &sources_layout)?;
    }
    Ok(())
}

/// The layout of the `--sources` lines of `matches`, all aligned.
fn sources_layout(matches: &[Match], width: Option<usize>) -> Layout<4> {
    let rows: Vec<[String; 4]> = matches
        .iter()
        .flat_map(|m| m.sources.iter().map(source_row))
        .collect();
    let width = width.map(|width| width.saturating_sub(SOURCES_INDENT).max(1));
    Layout::of(&Default::default(), &rows, width, &SOURCES_PLAN)
}

/// A match's sources, one indented line each: when watchword saw it, feed, title, link.
pub(super) fn write_sources(out: &mut impl Write, m: &Match, layout: &Layout<4>) -> io::Result<()> {
    for source in &m.sources {
        let indent = " ".repeat(SOURCES_INDENT);
        writeln!(out, "{indent}{}", layout.line(&source_row(source)))?;
    }
    Ok(())
}

fn source_row(source: &Source) -> [String; 4] {
    [
        source.seen.format("%Y-%m-%d %H:%M").to_string(),
        sanitize(&source.feed),
        sanitize(&source.title),
        sanitize(source.url.as_deref().unwrap_or("-")),
    ]
}

pub(super) fn table_row(m: &Match) -> [String; 8] {
    [
        m.match_id.to_string(),
        if m.backfill {
            format!("{} backfill", m.matched_at.format("%Y-%m-%d %H:%M"))
        } else {
            m.matched_at.format("%Y-%m-%d %H:%M").to_string()
        },
        sanitize(&m.topic),
        verdict_cell(m),
        m.sources.len().max(1).to_string(),
        sanitize(&m.feed),
        sanitize(&m.title),
        sanitize(m.url.as_deref().unwrap_or("-")),
    ]
}

/// The verdict column: `right`, `wrong`, `missed`, or `-` when nobody judged the match.
pub(super) fn verdict_cell(m: &Match) -> String {
    m.verdict
        .as_ref()
        .map_or("-", |(verdict, _)| verdict.as_str())
        .to_string()
}

pub(super) fn write_csv_rows(out: &mut impl Write, matches: &[Match]) -> io::Result<()> {
    for m in matches {
        let fields = [
            m.match_id.to_string(),
            m.topic.clone(),
            rfc3339(m.matched_at),
            m.feed.clone(),
            m.title.clone(),
            m.url.clone().unwrap_or_default(),
            m.published.map(rfc3339).unwrap_or_default(),
            m.terms.join("; "),
            m.sources.len().max(1).to_string(),
            m.verdict
                .as_ref()
                .map_or("", |(verdict, _)| verdict.as_str())
                .to_string(),
            m.backfill.to_string(),
        ];
        // Control characters and bidirectional overrides never reach a terminal or a cell.
        let line: Vec<String> = fields
            .iter()
            .map(|field| csv_field(&sanitize(field)))
            .collect();
        writeln!(out, "{}", line.join(","))?;
    }
    Ok(())
}
