//! The command line: clap definitions and one function per command. The only module that
//! prints to stdout; everything it does is a call into the library. Logs go to stderr.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::config::{self, Config, ConfigError, FeedSource};
use crate::daemon;
use crate::fetch::Fetcher;
use crate::model::Match;
use crate::pipeline::{PollStatus, probe_feed};
use crate::query::Hit;
use crate::store::{MatchFilter, Store};
use crate::tester;

mod testing;

/// watchword: polls news feeds, matches items against topics, keeps a match log.
#[derive(Debug, Parser)]
#[command(name = "watchword", version, about, max_term_width = 100)]
pub struct Cli {
    /// Config file [default: $WATCHWORD_CONFIG, else ./config/watchword.toml]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon in the foreground until SIGINT or SIGTERM
    Run,
    /// Poll every feed once, print one line per feed, and exit
    Once,
    /// Validate the config; exit 1 listing every problem as file:line:col
    Check {
        /// Also fetch and parse every feed once
        #[arg(long)]
        online: bool,
    },
    /// Read the match log (oldest first)
    Matches {
        /// Only this topic
        #[arg(long, value_name = "ID")]
        topic: Option<String>,
        /// Only matches logged since then: a duration back from now (24h, 7d), an RFC 3339 time or a date (2023-11-21)
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        /// At most N matches, the most recent ones [default: no limit]
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// Output format
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Evaluate the topics on items without touching the database
    ///
    /// Give the items with --text, --file or --feed; or compare the topics of the config file
    /// with the match log over stored items with --backtest.
    #[command(group(
        clap::ArgGroup::new("input")
            .required(true)
            .args(["text", "file", "feed", "backtest"])
    ))]
    Test {
        /// One item from plain text: the first line is its title, the rest its summary
        #[arg(long, value_name = "TEXT")]
        text: Option<String>,
        /// Items from a file (- for stdin): a JSON object, a JSON array or JSON Lines, with
        /// fields id, title, summary, content, link, published, feed
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
        /// Fetch and parse a feed once and test its items: a configured feed's name, a URL or
        /// a path
        #[arg(long, value_name = "URL_OR_PATH")]
        feed: Option<String>,
        /// Re-run the topics over the items in the database and show the matches they would
        /// add to and drop from the match log
        #[arg(long)]
        backtest: bool,
        /// With --backtest: items first stored since then (30d, an RFC 3339 time or a date) [default: 30d]
        #[arg(long, value_name = "WHEN", requires = "backtest")]
        since: Option<String>,
        /// Only this topic
        #[arg(long, value_name = "ID")]
        topic: Option<String>,
        /// Output format (jsonl: one line per item, or per change with --backtest)
        #[arg(long, value_enum, default_value_t = TestFormat::Text)]
        format: TestFormat,
    },
    /// Score the topics on labelled items: precision, recall, F1, every false positive and
    /// false negative
    Eval {
        /// JSON Lines items (as for test --file) with "topics": [expected ids] and optionally
        /// "ignore": true
        #[arg(value_name = "LABELS.jsonl")]
        labels: PathBuf,
        /// Only this topic
        #[arg(long, value_name = "ID")]
        topic: Option<String>,
    },
}

/// Output formats of `test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TestFormat {
    Text,
    Jsonl,
}

/// Output formats of `matches`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Jsonl,
    Csv,
}

/// An error that is the user's to fix (bad arguments, bad config): exit code 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UserError(pub String);

/// Runs a parsed command line. Errors carry their exit code: [`UserError`] and
/// [`ConfigError`] are 1, everything else 2.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    // Read by hand rather than by clap, so an empty variable counts as unset.
    let env = std::env::var_os(config::ENV_VAR).map(PathBuf::from);
    let path = config::locate(cli.config.as_deref(), env.as_deref());
    match cli.command {
        Command::Run => {
            let config = config::load(&path)?;
            runtime()?.block_on(async {
                let shutdown = CancellationToken::new();
                daemon::handle_signals(shutdown.clone())?;
                daemon::run(config, shutdown).await
            })
        }
        Command::Once => once(config::load(&path)?),
        Command::Check { online } => check(&path, online),
        Command::Matches {
            topic,
            since,
            limit,
            format,
        } => {
            let config = config::load(&path)?;
            let since = since
                .map(|text| parse_since(&text, Utc::now()))
                .transpose()?;
            let filter = MatchFilter {
                topic,
                since,
                limit,
            };
            matches(&config, &filter, format)
        }
        Command::Test {
            text,
            file,
            feed,
            backtest,
            since,
            topic,
            format,
        } => {
            let config = config::load(&path)?;
            testing::check_topic(&config, topic.as_deref())?;
            let topic = topic.as_deref();
            if backtest {
                let since = parse_since(since.as_deref().unwrap_or("30d"), Utc::now())?;
                return testing::backtest(&config, since, topic, format);
            }
            let items = match (text, file, feed) {
                (Some(text), _, _) => vec![tester::item_from_text(&text)],
                (_, Some(file), _) => testing::read_items(&file)?,
                (_, _, Some(feed)) => testing::fetch_items(&config, &feed)?,
                _ => unreachable!("clap requires one input"),
            };
            testing::test(&config, &items, topic, format)
        }
        Command::Eval { labels, topic } => {
            let config = config::load(&path)?;
            testing::check_topic(&config, topic.as_deref())?;
            testing::eval(&config, &labels, topic.as_deref())
        }
    }
}

/// Parses `--since`: a duration back from `now` (`24h`, `7d`), an RFC 3339 time, or a date.
pub fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, UserError> {
    if let Ok(duration) = config::parse_duration(text) {
        let duration = chrono::Duration::from_std(duration)
            .map_err(|_| UserError(format!("--since {text}: too far back")))?;
        return Ok(now - duration);
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc());
    }
    Err(UserError(format!(
        "--since {text:?}: expected a duration (24h, 7d), an RFC 3339 time (2023-11-21T00:00:00Z) or a date (2023-11-21)"
    )))
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn once(config: Config) -> anyhow::Result<()> {
    let names: Vec<String> = config.feeds.iter().map(|feed| feed.name.clone()).collect();
    let reports = runtime()?.block_on(daemon::poll_once(config))?;
    let mut out = io::stdout().lock();
    let width = names
        .iter()
        .map(|name| name.chars().count())
        .max()
        .unwrap_or(0);
    for report in &reports {
        let name = sanitize(&report.feed);
        let padding = width.saturating_sub(name.chars().count());
        let line = match &report.status {
            PollStatus::Fetched {
                n_items,
                new_items,
                new_matches,
            } => format!("{new_items} new items, {new_matches} new matches ({n_items} in feed)"),
            PollStatus::NotModified => "not modified".to_string(),
            PollStatus::Failed { message } => format!("error: {}", sanitize(message)),
        };
        writeln!(out, "{name}{}  {line}", " ".repeat(padding))?;
    }
    out.flush()?;
    Ok(())
}

fn check(path: &std::path::Path, online: bool) -> anyhow::Result<()> {
    let config = config::load(path)?;
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "{}: ok ({} feeds, {} topics, {} aliases)",
        path.display(),
        config.feeds.len(),
        config.topics.len(),
        config.aliases.len()
    )?;
    for feed in &config.feeds {
        if let FeedSource::File(file) = &feed.source
            && !file.exists()
        {
            writeln!(
                out,
                "warning: feed {:?} reads {}, which does not exist (yet)",
                feed.name,
                file.display()
            )?;
        }
    }
    if let Some(summary) = testing::backtest_summary(&config, Utc::now()) {
        writeln!(out, "{summary}")?;
    }
    if !online {
        return Ok(());
    }
    let fetcher = Fetcher::new(&config.daemon).context("cannot build the HTTP client")?;
    let results = runtime()?.block_on(async {
        let mut results = Vec::with_capacity(config.feeds.len());
        for feed in &config.feeds {
            results.push(probe_feed(&fetcher, feed).await);
        }
        results
    });
    let mut n_failed = 0;
    for (feed, result) in config.feeds.iter().zip(results) {
        let name = sanitize(&feed.name);
        match result {
            Ok(n_items) => writeln!(out, "{name}  ok, {n_items} items")?,
            Err(message) => {
                n_failed += 1;
                writeln!(
                    out,
                    "{name} ({})  error: {}",
                    feed.source,
                    sanitize(&message)
                )?;
            }
        }
    }
    out.flush()?;
    if n_failed > 0 {
        return Err(UserError(format!("{n_failed} feeds could not be fetched or parsed")).into());
    }
    Ok(())
}

fn matches(config: &Config, filter: &MatchFilter, format: Format) -> anyhow::Result<()> {
    if let Some(topic) = &filter.topic
        && !config.topics.iter().any(|t| &t.id == topic)
    {
        let known: Vec<&str> = config.topics.iter().map(|t| t.id.as_str()).collect();
        tracing::warn!(topic = %topic, known = ?known, "topic is not in the config; showing its logged matches anyway");
    }
    let database = &config.daemon.database;
    let matches = if database.exists() {
        Store::open(database)?.matches(filter)?
    } else {
        Vec::new()
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    match format {
        Format::Table => write_table(&mut out, &matches)?,
        // JSON is serialized to memory first: a write error inside serde_json would hide the
        // io::Error (a closed pipe is success, see `exit_code`).
        Format::Json => {
            let records: Vec<MatchRecord<'_>> = matches.iter().map(MatchRecord::from).collect();
            let mut text = serde_json::to_string_pretty(&records)?;
            text.push('\n');
            out.write_all(text.as_bytes())?;
        }
        Format::Jsonl => {
            for m in &matches {
                let mut line = serde_json::to_string(&MatchRecord::from(m))?;
                line.push('\n');
                out.write_all(line.as_bytes())?;
            }
        }
        Format::Csv => write_csv(&mut out, &matches)?,
    }
    out.flush()?;
    Ok(())
}

/// One match as `matches --format json|jsonl` writes it: the stable machine interface.
#[derive(Debug, Serialize)]
struct MatchRecord<'a> {
    match_id: i64,
    topic: &'a str,
    matched_at: String,
    item_id: i64,
    feed: &'a str,
    title: &'a str,
    url: Option<&'a str>,
    published: Option<String>,
    terms: &'a [String],
    explain: &'a [Hit],
}

impl<'a> From<&'a Match> for MatchRecord<'a> {
    fn from(m: &'a Match) -> Self {
        MatchRecord {
            match_id: m.match_id,
            topic: &m.topic,
            matched_at: rfc3339(m.matched_at),
            item_id: m.item_id,
            feed: &m.feed,
            title: &m.title,
            url: m.url.as_deref(),
            published: m.published.map(rfc3339),
            terms: &m.terms,
            explain: &m.hits,
        }
    }
}

fn write_table(out: &mut impl Write, matches: &[Match]) -> io::Result<()> {
    if matches.is_empty() {
        return writeln!(out, "no matches");
    }
    let rows: Vec<[String; 5]> = matches
        .iter()
        .map(|m| {
            [
                m.matched_at.format("%Y-%m-%d %H:%M").to_string(),
                sanitize(&m.topic),
                truncate(&sanitize(&m.feed), 24),
                truncate(&sanitize(&m.title), 72),
                sanitize(m.url.as_deref().unwrap_or("-")),
            ]
        })
        .collect();
    let header = ["MATCHED (UTC)", "TOPIC", "FEED", "TITLE", "URL"].map(String::from);
    let mut widths = header.clone().map(|h| h.width());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.width());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(width - cell.width() + 2));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn write_csv(out: &mut impl Write, matches: &[Match]) -> io::Result<()> {
    writeln!(
        out,
        "match_id,topic,matched_at,feed,title,url,published,terms"
    )?;
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
        ];
        let line: Vec<String> = fields.iter().map(|field| csv_field(field)).collect();
        writeln!(out, "{}", line.join(","))?;
    }
    Ok(())
}

/// Quotes a CSV field, and defuses text a spreadsheet would run as a formula.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) || text.starts_with('\'') {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// Replaces control characters (and with them terminal escape sequences) by spaces, so feed
/// text never reaches a terminal raw.
pub(crate) fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Cuts `text` to at most `max_width` terminal columns (CJK characters take two).
fn truncate(text: &str, max_width: usize) -> String {
    if text.width() <= max_width {
        return text.to_string();
    }
    let mut cut = String::new();
    let mut width = 0;
    for c in text.chars() {
        let char_width = c.width().unwrap_or(0);
        if width + char_width + 1 > max_width {
            break;
        }
        width += char_width;
        cut.push(c);
    }
    cut.push('…');
    cut
}

pub(crate) fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The exit code for an error: 1 for the user's mistakes, 2 for runtime failures, 0 for a
/// closed pipe (`watchword matches | head`).
pub fn exit_code(error: &anyhow::Error) -> i32 {
    for cause in error.chain() {
        if cause.is::<UserError>() || cause.is::<ConfigError>() {
            return 1;
        }
        if let Some(io_error) = cause.downcast_ref::<io::Error>()
            && io_error.kind() == io::ErrorKind::BrokenPipe
        {
            return 0;
        }
    }
    2
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn since_accepts_durations_times_and_dates() {
        let now = Utc.with_ymd_and_hms(2023, 11, 22, 12, 0, 0).unwrap();
        assert_eq!(
            parse_since("24h", now).unwrap(),
            Utc.with_ymd_and_hms(2023, 11, 21, 12, 0, 0).unwrap()
        );
        assert_eq!(
            parse_since("7d", now).unwrap(),
            Utc.with_ymd_and_hms(2023, 11, 15, 12, 0, 0).unwrap()
        );
        assert_eq!(
            parse_since("2023-11-21T09:30:00+09:00", now).unwrap(),
            Utc.with_ymd_and_hms(2023, 11, 21, 0, 30, 0).unwrap()
        );
        assert_eq!(
            parse_since("2023-11-20", now).unwrap(),
            Utc.with_ymd_and_hms(2023, 11, 20, 0, 0, 0).unwrap()
        );
        assert!(parse_since("yesterday", now).is_err());
    }

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a, b"), "\"a, b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1"), "\"'-1\"");
    }

    #[test]
    fn truncation_counts_terminal_columns() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("abcdefghijkl", 5), "abcd…");
        assert_eq!(truncate("北朝鮮が偵察衛星", 7), "北朝鮮…");
    }

    #[test]
    fn sanitize_removes_escape_sequences() {
        assert_eq!(sanitize("a\u{1b}[31mred\u{7}"), "a [31mred ");
    }
}
