//! How `test`, `eval` and backtests print an item: its heading, each topic's hits with the
//! matched terms highlighted (in colour on a terminal), the clauses that failed and where
//! they are in the query, and a backtest's changes.

use super::*;

/// Colour for a terminal that wants it; plain brackets when piped or with `NO_COLOR`.
pub(super) fn use_colour() -> bool {
    io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

pub(super) fn write_item_heading(out: &mut impl Write, test: &TestItem) -> io::Result<()> {
    let title = if test.item.title.is_empty() {
        "(no title)".to_string()
    } else {
        sanitize(&test.item.title)
    };
    writeln!(out, "{}  {title}", sanitize(&test.id))?;
    let mut details = Vec::new();
    if !test.feed.is_empty() {
        details.push(sanitize(&test.feed));
    }
    if let Some(url) = &test.item.url {
        details.push(sanitize(url));
    }
    if let Some(published) = test.item.published {
        details.push(rfc3339(published));
    }
    if !details.is_empty() {
        writeln!(out, "  {}", details.join("  "))?;
    }
    Ok(())
}

/// Hits grouped by snippet: each snippet once, with every term found in it highlighted.
pub(super) fn write_hits(
    out: &mut impl Write,
    hits: &[Hit],
    colour: bool,
    indent: usize,
) -> io::Result<()> {
    let mut groups: Vec<(&Hit, Vec<&str>)> = Vec::new();
    for hit in hits {
        match groups
            .iter_mut()
            .find(|(first, _)| first.field == hit.field && first.snippet == hit.snippet)
        {
            Some((_, terms)) => terms.push(&hit.term),
            None => groups.push((hit, vec![&hit.term])),
        }
    }
    for (hit, terms) in groups {
        writeln!(
            out,
            "{:indent$}{}: {}  ({})",
            "",
            hit.field,
            highlighted(&hit.snippet, &terms, colour),
            sanitize(&terms.join(", "))
        )?;
    }
    Ok(())
}

/// The failed clauses of a topic, nested ones indented.
pub(super) fn write_unmet(
    out: &mut impl Write,
    unmet: &[Unmet],
    source: &str,
    colour: bool,
    indent: usize,
) -> io::Result<()> {
    for clause in unmet {
        let at = format!(
            "{} {}",
            quote_clause(&clause.clause),
            position(source, clause)
        );
        match &clause.reason {
            Reason::Missing { terms } if terms.len() == 1 && terms[0] == clause.clause => {
                writeln!(out, "{:indent$}needs {at}: not found", "")?;
            }
            Reason::Missing { terms } => {
                let mut listed: Vec<&str> = terms
                    .iter()
                    .take(MAX_LISTED_TERMS)
                    .map(String::as_str)
                    .collect();
                let more = terms.len().saturating_sub(MAX_LISTED_TERMS);
                let more = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                if listed.len() == 1 {
                    writeln!(out, "{:indent$}needs {at}: {} not found", "", listed[0])?;
                } else {
                    let last = listed.pop().unwrap_or_default();
                    let list = if more.is_empty() {
                        format!("{} or {last}", listed.join(", "))
                    } else {
                        format!("{}, {last}{more}", listed.join(", "))
                    };
                    writeln!(out, "{:indent$}needs {at}: none of {list} found", "")?;
                }
            }
            Reason::Excluded { hits } => {
                writeln!(out, "{:indent$}excluded by {at}:", "")?;
                write_hits(out, hits, colour, indent + 2)?;
            }
            Reason::TooFar { distance } => writeln!(
                out,
                "{:indent$}needs {at}: both sides found, never within {}",
                "",
                count(*distance, "word")
            )?,
            Reason::NoAlternative { alternatives } => {
                writeln!(out, "{:indent$}needs one of {at}:", "")?;
                write_unmet(out, alternatives, source, colour, indent + 2)?;
            }
            Reason::Incomplete { parts } => {
                writeln!(out, "{:indent$}needs all of {at}:", "")?;
                write_unmet(out, parts, source, colour, indent + 2)?;
            }
        }
    }
    Ok(())
}

/// Why a topic did not match an item: outside its time scope, else the failed clauses.
pub(super) fn write_miss(
    out: &mut impl Write,
    config: &Config,
    test: &TestItem,
    topic: &str,
    first_seen: DateTime<Utc>,
    colour: bool,
) -> io::Result<()> {
    if let Some(reason) = tester::out_of_scope(config, test, topic, first_seen) {
        return writeln!(out, "      out of time scope: {reason}");
    }
    let source = config
        .topics
        .iter()
        .find(|t| t.id == topic)
        .map_or("", |t| t.source.as_str());
    let unmet = tester::explain_miss(config, test, topic);
    write_unmet(out, &unmet, source, colour, 6)
}

pub(super) fn write_diff_line(out: &mut impl Write, diff: &TopicDiff) -> io::Result<()> {
    let removed = if diff.configured {
        ""
    } else {
        " (no longer in the config)"
    };
    let change = if diff.added.is_empty() && diff.dropped.is_empty() {
        "no change".to_string()
    } else {
        format!(
            "+{} added, -{} dropped",
            diff.added.len(),
            diff.dropped.len()
        )
    };
    writeln!(
        out,
        "{}{removed}: {} logged, {} would match: {change}",
        diff.topic, diff.logged, diff.matching
    )
}

pub(super) fn write_change(
    out: &mut impl Write,
    sign: char,
    change: &Change,
    colour: bool,
) -> io::Result<()> {
    let date = change.published.map_or_else(
        || "----------".to_string(),
        |date| date.format("%Y-%m-%d").to_string(),
    );
    writeln!(
        out,
        "  {sign} {date}  {}  {}",
        sanitize(&change.feed),
        sanitize(&change.title)
    )?;
    if let Some(url) = &change.url {
        writeln!(out, "      {}", sanitize(url))?;
    }
    if let Some(reason) = &change.out_of_scope {
        writeln!(out, "      out of time scope: {reason}")?;
    }
    write_hits(out, &change.hits, colour, 6)
}

/// `snippet` with the places where `terms` occur marked: bold yellow on a terminal, else in
/// brackets.
pub(super) fn highlighted(snippet: &str, terms: &[&str], colour: bool) -> String {
    let snippet = sanitize(snippet);
    let (open, close) = if colour {
        ("\u{1b}[1;33m", "\u{1b}[0m")
    } else {
        ("[", "]")
    };
    let mut marked = String::with_capacity(snippet.len() + 16);
    let mut done = 0;
    for range in query::highlight(&snippet, terms) {
        marked.push_str(&snippet[done..range.start]);
        marked.push_str(open);
        marked.push_str(&snippet[range.clone()]);
        marked.push_str(close);
        done = range.end;
    }
    marked.push_str(&snippet[done..]);
    marked
}

/// A clause as quoted in an explanation, cut when long.
pub(super) fn quote_clause(clause: &str) -> String {
    let mut clause = sanitize(clause);
    if crate::text::cut_chars(&mut clause, MAX_CLAUSE_CHARS) {
        clause.push('…');
    }
    clause
}

/// Where a clause is in the query, 1-based in characters: `[col 12–40]` in a one-line query,
/// `[line 3, col 5–20]` or `[line 3 col 5 – line 7 col 2]` in a longer one.
pub(super) fn position(source: &str, clause: &Unmet) -> String {
    let locate = |offset: usize| {
        let before = &source[..offset.min(source.len())];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        (line, before[line_start..].chars().count() + 1)
    };
    let (start_line, start_col) = locate(clause.span.start);
    let (end_line, end_col) = locate(clause.span.end);
    let end_col = end_col.saturating_sub(1).max(start_col);
    if !source.trim().contains('\n') {
        format!("[col {start_col}–{end_col}]")
    } else if start_line == end_line {
        format!("[line {start_line}, col {start_col}–{end_col}]")
    } else {
        format!("[line {start_line} col {start_col} – line {end_line} col {end_col}]")
    }
}
