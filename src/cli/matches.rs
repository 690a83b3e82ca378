//! `watchword matches`: the match log as a table, JSON, JSON Lines or CSV, and `--follow`.

use super::*;

/// How often `matches --follow` looks for new matches.
pub(super) const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

pub(super) fn matches(
    config: &Config,
    mut filter: MatchFilter,
    format: Format,
    follow: bool,
    sources: bool,
) -> anyhow::Result<()> {
    if let Some(topic) = &filter.topic
        && !config.topics.iter().any(|t| &t.id == topic)
    {
        let known: Vec<&str> = config.topics.iter().map(|t| t.id.as_str()).collect();
        tracing::warn!(topic = %topic, known = ?known, "topic is not in the config; showing its logged matches anyway");
    }
    let database = &config.daemon.database;
    let mut store = None;
    let mut first = true;
    loop {
        if store.is_none() && database.exists() {
            store = Some(Store::open(database)?);
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
            write_follow(&mut out, &found, format, first, sources)?;
        } else {
            write_matches(&mut out, &found, format, sources)?;
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
) -> anyhow::Result<()> {
    match format {
        Format::Table => write_table(out, matches, sources)?,
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
) -> anyhow::Result<()> {
    match format {
        Format::Table => {
            if first {
                writeln!(
                    out,
                    "{}",
                    table_line(&TABLE_HEADER.map(String::from), &FOLLOW_WIDTHS)
                )?;
            }
            for m in matches {
                writeln!(out, "{}", table_line(&table_row(m), &FOLLOW_WIDTHS))?;
                if sources {
                    write_sources(out, m)?;
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
/// Column widths of `matches --follow` (rows come one batch at a time, so widths are fixed).
pub(super) const FOLLOW_WIDTHS: [usize; 8] = [6, 25, 20, 7, 7, 24, 72, 0];
pub(super) const CSV_HEADER: &str =
    "match_id,topic,matched_at,feed,title,url,published,terms,sources,verdict,backfill";

/// One row per match (per story and topic with `dedup = "story"`), with its number of
/// sources; with `sources`, each source on a line of its own under the row.
pub(super) fn write_table(
    out: &mut impl Write,
    matches: &[Match],
    sources: bool,
) -> io::Result<()> {
    if matches.is_empty() {
        return writeln!(out, "no matches");
    }
    let rows: Vec<[String; 8]> = matches.iter().map(table_row).collect();
    let header = TABLE_HEADER.map(String::from);
    if !sources {
        return write_aligned(out, &header, &rows);
    }
    let mut widths = header.clone().map(|h| columns(&h));
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(columns(cell));
        }
    }
    writeln!(out, "{}", table_line(&header, &widths))?;
    for (row, m) in rows.iter().zip(matches) {
        writeln!(out, "{}", table_line(row, &widths))?;
        write_sources(out, m)?;
    }
    Ok(())
}

/// A match's sources, one indented line each: when watchword saw it, feed, title, link.
pub(super) fn write_sources(out: &mut impl Write, m: &Match) -> io::Result<()> {
    for source in &m.sources {
        writeln!(
            out,
            "    {}  {}  {}  {}",
            source.seen.format("%Y-%m-%d %H:%M"),
            fit_width(&sanitize(&source.feed), 24),
            fit_width(&sanitize(&source.title), 72),
            sanitize(source.url.as_deref().unwrap_or("-")),
        )?;
    }
    Ok(())
}

pub(super) fn table_row(m: &Match) -> [String; 8] {
    [
        m.match_id.to_string(),
        if m.backfill {
            format!("{} backfill", m.matched_at.format("%Y-%m-%d %H:%M"))
        } else {
            m.matched_at.format("%Y-%m-%d %H:%M").to_string()
        },
        fit_width(&sanitize(&m.topic), 20),
        verdict_cell(m),
        m.sources.len().max(1).to_string(),
        fit_width(&sanitize(&m.feed), 24),
        fit_width(&sanitize(&m.title), 72),
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

/// A header and rows in columns as wide as their widest cell.
pub(super) fn write_aligned<const N: usize>(
    out: &mut impl Write,
    header: &[String; N],
    rows: &[[String; N]],
) -> io::Result<()> {
    let mut widths = header.clone().map(|h| columns(&h));
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(columns(cell));
        }
    }
    for row in std::iter::once(header).chain(rows) {
        writeln!(out, "{}", table_line(row, &widths))?;
    }
    Ok(())
}

/// Cells padded to their column widths (by terminal width), two spaces apart; the last
/// cell is not padded.
pub(super) fn table_line(row: &[String], widths: &[usize]) -> String {
    let mut line = String::new();
    for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
        line.push_str(cell);
        if i + 1 < row.len() {
            line.push_str(&" ".repeat(width.saturating_sub(columns(cell)) + 2));
        }
    }
    line.trim_end().to_string()
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
