//! The command line: clap definitions and one function per command. The only module that
//! prints to stdout; everything it does is a call into the library. Logs go to stderr.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::config::{self, Config, ConfigError, FeedSource};
use crate::fetch::Fetcher;
use crate::model::{DeliveryState, Match, MatchRecord, Payload, Verdict, rfc3339};
use crate::pipeline::{self, PollStatus, probe_feed};
use crate::store::{DeliveryFilter, MatchFilter, Store};
use crate::text::{is_unsafe_char, sanitize};
use crate::{daemon, opml, tester};

mod judging;
mod testing;

/// watchword: polls news feeds, matches items against topics, keeps a match log.
#[derive(Debug, Parser)]
#[command(name = "watchword", version, about, max_term_width = 100)]
pub struct Cli {
    /// Config file [default: $WATCHWORD_CONFIG, else ./config/watchword.toml]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Log format on stderr: `text`, or `json` (one object per line) for log shippers
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
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
        /// Output format (with --follow, `json` writes one object per match)
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Keep running and print new matches as they are logged, like `tail -f`
        #[arg(long)]
        follow: bool,
        /// List every source of each match (the feeds that carried its story) under its row
        #[arg(long)]
        sources: bool,
    },
    /// Show every feed's health: last success, status, failures, items, matches, next poll
    Feeds {
        /// Output format
        #[arg(long, value_enum, default_value_t = FeedsFormat::Table)]
        format: FeedsFormat,
    },
    /// Import feeds from OPML into the config file, or export the configured feeds as OPML
    Opml {
        #[command(subcommand)]
        action: OpmlAction,
    },
    /// List alert deliveries (pending, delivered, failed), or requeue failed ones
    Alerts {
        #[command(subcommand)]
        action: Option<AlertsAction>,
        /// Only deliveries in this state
        #[arg(long, value_enum)]
        state: Option<StateArg>,
        /// At most N deliveries, the most recent ones [default: no limit]
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
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
        /// With --backtest: log the added matches in the match log, marked as backfill (with
        /// their stories' sources, as when polling); not sent to alert sinks without --alert
        #[arg(long, requires = "backtest")]
        apply: bool,
        /// With --apply: also queue the backfilled matches for the alert sinks (the outbox)
        #[arg(long, requires = "apply")]
        alert: bool,
        /// Only this topic
        #[arg(long, value_name = "ID")]
        topic: Option<String>,
        /// Output format (jsonl: one line per item, or per change with --backtest)
        #[arg(long, value_enum, default_value_t = TestFormat::Text)]
        format: TestFormat,
        /// Count every item as first seen at this time (RFC 3339 or a date), for topics'
        /// max_age and date bounds [default: its "seen" field, else its published date]
        #[arg(long, value_name = "TIME", conflicts_with = "backtest")]
        as_of: Option<String>,
    },
    /// Score the topics on labelled items: precision, recall, F1, every false positive and
    /// false negative
    Eval {
        /// JSON Lines items (as for test --file) with "topics": [expected ids] and optionally
        /// "ignore": true [default: the verdicts in the database, see `judge`]
        #[arg(value_name = "LABELS.jsonl")]
        labels: Option<PathBuf>,
        /// Only this topic
        #[arg(long, value_name = "ID")]
        topic: Option<String>,
        /// Count every item as first seen at this time (RFC 3339 or a date), for topics'
        /// max_age and date bounds [default: its "seen" field, else its published date]
        #[arg(long, value_name = "TIME")]
        as_of: Option<String>,
    },
    /// Record a verdict on the match log (a match right or wrong, an item a topic missed),
    /// or export or import the verdicts as labels
    #[command(group(
        clap::ArgGroup::new("what")
            .required(true)
            .args(["match_id", "missed", "export", "import"])
    ))]
    Judge {
        /// The match's id (first column of `watchword matches`)
        #[arg(value_name = "MATCH_ID", requires = "verdict")]
        match_id: Option<i64>,
        /// Whether the match belongs to its topic
        #[arg(value_enum, value_name = "right|wrong", requires = "match_id")]
        verdict: Option<VerdictArg>,
        /// A stored item (its id, or its link) that the topic should have matched
        #[arg(long, value_name = "ITEM_ID|URL", requires = "topic")]
        missed: Option<String>,
        /// With --missed: the topic that missed it
        #[arg(long, value_name = "ID", requires = "missed")]
        topic: Option<String>,
        /// A note kept with the verdict (and exported with it)
        #[arg(long, value_name = "TEXT", conflicts_with_all = ["export", "import"])]
        note: Option<String>,
        /// Write every judged item as labels JSON Lines (the format `eval` reads) to stdout
        #[arg(long)]
        export: bool,
        /// Read labels (an export) back as verdicts for the items in the database
        #[arg(long, value_name = "FILE")]
        import: Option<PathBuf>,
    },
}

/// Verdicts `judge` takes on a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerdictArg {
    Right,
    Wrong,
}

/// Log formats for `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// What `opml` does.
#[derive(Debug, Subcommand)]
pub enum OpmlAction {
    /// Add the feeds of an OPML file to the config file (comments and layout kept; URLs
    /// already configured are skipped)
    Import {
        /// The OPML file (from a feed reader's export)
        file: PathBuf,
    },
    /// Write the configured feeds as OPML 2.0 to stdout
    Export,
}

/// What `alerts` can do besides listing.
#[derive(Debug, Subcommand)]
pub enum AlertsAction {
    /// Requeue a failed delivery, or every failed one, for a fresh round of attempts
    #[command(group(clap::ArgGroup::new("which").required(true).args(["id", "all_failed"])))]
    Retry {
        /// The delivery's ID (first column of `watchword alerts`)
        id: Option<i64>,
        /// Requeue every failed delivery
        #[arg(long)]
        all_failed: bool,
    },
}

/// Output formats of `feeds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FeedsFormat {
    Table,
    Json,
}

/// Delivery states for `alerts --state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StateArg {
    Pending,
    Delivered,
    Failed,
}

impl From<StateArg> for DeliveryState {
    fn from(state: StateArg) -> DeliveryState {
        match state {
            StateArg::Pending => DeliveryState::Pending,
            StateArg::Delivered => DeliveryState::Delivered,
            StateArg::Failed => DeliveryState::Failed,
        }
    }
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
            follow,
            sources,
        } => {
            let config = config::load(&path)?;
            let since = since
                .map(|text| parse_since(&text, Utc::now()))
                .transpose()?;
            let filter = MatchFilter {
                topic,
                since,
                limit,
                after_id: None,
            };
            matches(&config, filter, format, follow, sources)
        }
        Command::Feeds { format } => feeds(&config::load(&path)?, format),
        Command::Opml { action } => match action {
            OpmlAction::Import { file } => opml_import(&path, &file),
            OpmlAction::Export => {
                let config = config::load(&path)?;
                io::stdout()
                    .lock()
                    .write_all(opml::render(&config.feeds).as_bytes())?;
                Ok(())
            }
        },
        Command::Alerts {
            action,
            state,
            limit,
        } => {
            let config = config::load(&path)?;
            match action {
                None => alerts(
                    &config,
                    &DeliveryFilter {
                        state: state.map(DeliveryState::from),
                        limit,
                    },
                ),
                Some(AlertsAction::Retry { id, .. }) => retry_alerts(&config, id),
            }
        }
        Command::Test {
            text,
            file,
            feed,
            backtest,
            since,
            apply,
            alert,
            topic,
            format,
            as_of,
        } => {
            let config = config::load(&path)?;
            testing::check_topic(&config, topic.as_deref())?;
            let topic = topic.as_deref();
            if backtest {
                let since = parse_since(since.as_deref().unwrap_or("30d"), Utc::now())?;
                let apply = match (apply, alert) {
                    (false, _) => testing::Apply::No,
                    (true, false) => testing::Apply::LogOnly,
                    (true, true) => testing::Apply::LogAndAlert,
                };
                return testing::backtest(&config, since, topic, format, apply);
            }
            let as_of = parse_as_of(as_of.as_deref())?;
            let items = match (text, file, feed) {
                (Some(text), _, _) => vec![tester::item_from_text(&text)],
                (_, Some(file), _) => testing::read_items(&file)?,
                (_, _, Some(feed)) => testing::fetch_items(&config, &feed)?,
                _ => unreachable!("clap requires one input"),
            };
            testing::test(&config, &items, topic, format, as_of)
        }
        Command::Eval {
            labels,
            topic,
            as_of,
        } => {
            let config = config::load(&path)?;
            testing::check_topic(&config, topic.as_deref())?;
            let as_of = parse_as_of(as_of.as_deref())?;
            testing::eval(&config, labels.as_deref(), topic.as_deref(), as_of)
        }
        Command::Judge {
            match_id,
            verdict,
            missed,
            topic,
            note,
            export,
            import,
        } => {
            let config = config::load(&path)?;
            let note = note.as_deref();
            match (match_id, verdict, missed, topic, import) {
                (Some(match_id), Some(verdict), ..) => {
                    let verdict = match verdict {
                        VerdictArg::Right => Verdict::Right,
                        VerdictArg::Wrong => Verdict::Wrong,
                    };
                    judging::judge_match(&config, match_id, verdict, note)
                }
                (_, _, Some(item), Some(topic), _) => {
                    judging::judge_missed(&config, &item, &topic, note)
                }
                (.., Some(file)) => judging::import(&config, &file),
                _ if export => judging::export(&config),
                _ => unreachable!("clap requires one of the judge forms"),
            }
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

/// Parses `--as-of`: an RFC 3339 time or a date.
fn parse_as_of(text: Option<&str>) -> Result<Option<DateTime<Utc>>, UserError> {
    text.map(|text| {
        config::parse_time(text).map_err(|message| UserError(format!("--as-of: {message}")))
    })
    .transpose()
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn once(config: Config) -> anyhow::Result<()> {
    let names: Vec<String> = config.feeds.iter().map(|feed| feed.name.clone()).collect();
    let report = runtime()?.block_on(daemon::poll_once(config))?;
    let reports = report.polls;
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
            PollStatus::Gone => {
                "gone (http 410): not polled until the config gives another url".to_string()
            }
        };
        writeln!(out, "{name}{}  {line}", " ".repeat(padding))?;
    }
    if let Some(counts) = report.alerts {
        writeln!(
            out,
            "alerts: {} delivered, {} pending, {} failed",
            counts.delivered, counts.pending, counts.failed
        )?;
    }
    out.flush()?;
    Ok(())
}

fn check(path: &std::path::Path, online: bool) -> anyhow::Result<()> {
    let config = config::load(path)?;
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "{}: ok ({} feeds, {} topics, {} aliases, {} alert sinks)",
        path.display(),
        config.feeds.len(),
        config.topics.len(),
        config.aliases.len(),
        config.alerts.len()
    )?;
    for warning in &config.warnings {
        writeln!(out, "{warning}")?;
    }
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
            results.push(probe_feed(&fetcher, feed, pipeline::caps(&config)).await);
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

/// How often `matches --follow` looks for new matches.
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

fn matches(
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

fn write_matches(
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
fn write_follow(
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

fn write_jsonl(out: &mut impl Write, matches: &[Match]) -> anyhow::Result<()> {
    for m in matches {
        let mut line = json_line(&m.record())?;
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

fn feeds(config: &Config, format: FeedsFormat) -> anyhow::Result<()> {
    let database = &config.daemon.database;
    let names: Vec<&str> = config.feeds.iter().map(|f| f.name.as_str()).collect();
    let health = if database.exists() {
        Store::open(database)?.feed_health(&names)?
    } else {
        Vec::new()
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    if format == FeedsFormat::Json {
        let mut text = json_pretty(&health)?;
        text.push('\n');
        out.write_all(text.as_bytes())?;
        out.flush()?;
        return Ok(());
    }
    let header = [
        "FEED",
        "STATUS",
        "LAST SUCCESS",
        "FAILS",
        "ITEMS",
        "MATCHES",
        "NEXT POLL",
        "LAST ERROR",
    ]
    .map(String::from);
    let when = |time: Option<DateTime<Utc>>| {
        time.map_or_else(
            || "-".to_string(),
            |t| t.format("%Y-%m-%d %H:%M").to_string(),
        )
    };
    let mut rows: Vec<[String; 8]> = Vec::new();
    for feed in &config.feeds {
        let row = match health.iter().find(|h| h.name == feed.name) {
            None => [
                truncate(&sanitize(&feed.name), 40),
                "never polled".into(),
                "-".into(),
                "0".into(),
                "0".into(),
                "0".into(),
                "-".into(),
                String::new(),
            ],
            Some(h) => {
                let mut status = if h.gone {
                    "gone".to_string()
                } else {
                    sanitize(h.last_status.as_deref().unwrap_or("never polled"))
                };
                let (moved, at) = if h.discovered {
                    (", discovered", "feed at")
                } else {
                    (", moved", "now at")
                };
                if h.config_url.is_some() {
                    status.push_str(moved);
                }
                let error = match (&h.config_url, &h.last_error) {
                    (Some(_), Some(error)) => format!("{at} {}; {}", h.url, error),
                    (Some(_), None) => format!("{at} {}", h.url),
                    (None, Some(error)) => error.clone(),
                    (None, None) => String::new(),
                };
                [
                    truncate(&sanitize(&h.name), 40),
                    status,
                    when(h.last_success),
                    h.consecutive_errors.to_string(),
                    h.items.to_string(),
                    h.matches.to_string(),
                    if h.gone {
                        "never".into()
                    } else {
                        when(h.next_due)
                    },
                    truncate(&sanitize(&error), 80),
                ]
            }
        };
        rows.push(row);
    }
    write_aligned(&mut out, &header, &rows)?;
    out.flush()?;
    Ok(())
}

fn opml_import(config_path: &std::path::Path, file: &std::path::Path) -> anyhow::Result<()> {
    let xml = std::fs::read_to_string(file)
        .map_err(|error| UserError(format!("cannot read {}: {error}", file.display())))?;
    let listed = opml::parse(&xml)
        .map_err(|error| UserError(format!("{}: not valid OPML: {error}", file.display())))?;
    let text = std::fs::read_to_string(config_path).map_err(|cause| ConfigError::Read {
        path: config_path.to_path_buf(),
        cause,
    })?;
    let pairs: Vec<(String, String)> = listed.into_iter().map(|f| (f.name, f.url)).collect();
    let result = config::add_feeds(&text, &pairs)
        .map_err(|error| UserError(format!("{}: {error}", config_path.display())))?;
    // The edited file must still be a valid config before it replaces the old one.
    if let (None, diagnostics) = config::compile(config_path, &result.text) {
        return Err(UserError(format!(
            "the config would not be valid after the import; nothing was written:\n{}",
            config::render_all(&diagnostics)
        ))
        .into());
    }
    if !result.added.is_empty() {
        // Through a symlink to the real file, keeping its permissions, replaced in one step.
        let target = std::fs::canonicalize(config_path).unwrap_or(config_path.to_path_buf());
        let temporary = target.with_extension("toml.tmp");
        std::fs::write(&temporary, &result.text)
            .with_context(|| format!("cannot write {}", temporary.display()))?;
        if let Ok(metadata) = std::fs::metadata(&target) {
            let _ = std::fs::set_permissions(&temporary, metadata.permissions());
        }
        std::fs::rename(&temporary, &target)
            .with_context(|| format!("cannot replace {}", target.display()))?;
    }
    let mut out = io::stdout().lock();
    for name in &result.added {
        writeln!(out, "added {}", sanitize(name))?;
    }
    for (url, why) in &result.skipped {
        writeln!(out, "skipped {} ({why})", sanitize(url))?;
    }
    writeln!(
        out,
        "{} feeds added, {} skipped; {}",
        result.added.len(),
        result.skipped.len(),
        config_path.display()
    )?;
    Ok(())
}

fn alerts(config: &Config, filter: &DeliveryFilter) -> anyhow::Result<()> {
    let database = &config.daemon.database;
    let deliveries = if database.exists() {
        Store::open(database)?.deliveries(filter)?
    } else {
        Vec::new()
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    if deliveries.is_empty() {
        writeln!(out, "no deliveries")?;
        out.flush()?;
        return Ok(());
    }
    let header = [
        "ID",
        "STATE",
        "SINK",
        "TRIES",
        "LOGGED (UTC)",
        "TOPIC",
        "TITLE",
        "NEXT / DONE",
        "LAST ERROR",
    ]
    .map(String::from);
    let rows: Vec<[String; 9]> = deliveries
        .iter()
        .map(|d| {
            let configured = config.alerts.iter().any(|a| a.name == d.sink);
            let when = match d.state {
                DeliveryState::Pending => {
                    format!("next {}", d.next_attempt.format("%m-%d %H:%M:%S"))
                }
                DeliveryState::Delivered => d.delivered_at.map_or_else(String::new, |t| {
                    format!("done {}", t.format("%m-%d %H:%M:%S"))
                }),
                DeliveryState::Failed => "-".into(),
            };
            [
                d.id.to_string(),
                d.state.as_str().to_string(),
                if configured {
                    sanitize(&d.sink)
                } else {
                    format!("{} (not configured)", sanitize(&d.sink))
                },
                d.attempts.to_string(),
                d.created.format("%Y-%m-%d %H:%M").to_string(),
                match &d.payload {
                    Payload::Match(m) => sanitize(&m.topic),
                    Payload::Notice(notice) => notice.event.as_str().to_string(),
                },
                match &d.payload {
                    Payload::Match(m) => truncate(&sanitize(&m.title), 48),
                    Payload::Notice(notice) => truncate(&sanitize(&notice.feed), 48),
                },
                when,
                truncate(&sanitize(d.last_error.as_deref().unwrap_or("")), 80),
            ]
        })
        .collect();
    write_aligned(&mut out, &header, &rows)?;
    out.flush()?;
    Ok(())
}

fn retry_alerts(config: &Config, id: Option<i64>) -> anyhow::Result<()> {
    let database = &config.daemon.database;
    if !database.exists() {
        return Err(UserError(format!("no database at {} yet", database.display())).into());
    }
    let mut store = Store::open(database)?;
    if let Some(id) = id {
        match store.delivery(id)? {
            None => return Err(UserError(format!("there is no delivery {id}")).into()),
            Some(d) if d.state != DeliveryState::Failed => {
                return Err(UserError(format!(
                    "delivery {id} is {}, not failed; only failed deliveries are requeued",
                    d.state.as_str()
                ))
                .into());
            }
            Some(_) => {}
        }
    }
    let n = store.requeue_failed(id, Utc::now())?;
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "requeued {n} {}; the daemon (or the next `once`) delivers {}",
        if n == 1 { "delivery" } else { "deliveries" },
        if n == 1 { "it" } else { "them" }
    )?;
    Ok(())
}

const TABLE_HEADER: [&str; 8] = [
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
const FOLLOW_WIDTHS: [usize; 8] = [6, 25, 20, 7, 7, 24, 72, 0];
const CSV_HEADER: &str =
    "match_id,topic,matched_at,feed,title,url,published,terms,sources,verdict,backfill";

/// One row per match (per story and topic with `dedup = "story"`), with its number of
/// sources; with `sources`, each source on a line of its own under the row.
fn write_table(out: &mut impl Write, matches: &[Match], sources: bool) -> io::Result<()> {
    if matches.is_empty() {
        return writeln!(out, "no matches");
    }
    let rows: Vec<[String; 8]> = matches.iter().map(table_row).collect();
    let header = TABLE_HEADER.map(String::from);
    if !sources {
        return write_aligned(out, &header, &rows);
    }
    let mut widths = header.clone().map(|h| h.width());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.width());
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
fn write_sources(out: &mut impl Write, m: &Match) -> io::Result<()> {
    for source in &m.sources {
        writeln!(
            out,
            "    {}  {}  {}  {}",
            source.seen.format("%Y-%m-%d %H:%M"),
            truncate(&sanitize(&source.feed), 24),
            truncate(&sanitize(&source.title), 72),
            sanitize(source.url.as_deref().unwrap_or("-")),
        )?;
    }
    Ok(())
}

fn table_row(m: &Match) -> [String; 8] {
    [
        m.match_id.to_string(),
        if m.backfill {
            format!("{} backfill", m.matched_at.format("%Y-%m-%d %H:%M"))
        } else {
            m.matched_at.format("%Y-%m-%d %H:%M").to_string()
        },
        truncate(&sanitize(&m.topic), 20),
        verdict_cell(m),
        m.sources.len().max(1).to_string(),
        truncate(&sanitize(&m.feed), 24),
        truncate(&sanitize(&m.title), 72),
        sanitize(m.url.as_deref().unwrap_or("-")),
    ]
}

/// The verdict column: `right`, `wrong`, `missed`, or `-` when nobody judged the match.
fn verdict_cell(m: &Match) -> String {
    m.verdict
        .as_ref()
        .map_or("-", |(verdict, _)| verdict.as_str())
        .to_string()
}

/// A header and rows in columns as wide as their widest cell.
fn write_aligned<const N: usize>(
    out: &mut impl Write,
    header: &[String; N],
    rows: &[[String; N]],
) -> io::Result<()> {
    let mut widths = header.clone().map(|h| h.width());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.width());
        }
    }
    for row in std::iter::once(header).chain(rows) {
        writeln!(out, "{}", table_line(row, &widths))?;
    }
    Ok(())
}

/// Cells padded to their column widths (by terminal width), two spaces apart; the last
/// cell is not padded.
fn table_line(row: &[String], widths: &[usize]) -> String {
    let mut line = String::new();
    for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
        line.push_str(cell);
        if i + 1 < row.len() {
            line.push_str(&" ".repeat(width.saturating_sub(cell.width()) + 2));
        }
    }
    line.trim_end().to_string()
}

fn write_csv_rows(out: &mut impl Write, matches: &[Match]) -> io::Result<()> {
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

/// JSON text of `value` on one line, with every control character, bidirectional control and
/// line separator escaped (`\u009b`): serde_json escapes only those below U+0020, and a
/// terminal reads some of the others (C1 controls such as CSI) as commands. The same JSON
/// value, safe to print.
pub(crate) fn json_line(value: &impl serde::Serialize) -> serde_json::Result<String> {
    serde_json::to_string(value).map(escape_controls)
}

/// [`json_line`], pretty-printed.
pub(crate) fn json_pretty(value: &impl serde::Serialize) -> serde_json::Result<String> {
    serde_json::to_string_pretty(value).map(escape_controls)
}

/// Escapes, as JSON `\uXXXX`, the characters [`sanitize`] would replace. Outside strings JSON
/// text is ASCII punctuation, digits, letters and whitespace, so any such character is inside
/// a string, where the escape means the same character.
fn escape_controls(json: String) -> String {
    // Structural whitespace stays; inside strings serde_json has escaped these already.
    let needs_escape = |c: char| is_unsafe_char(c) && !matches!(c, '\n' | '\r' | '\t');
    if !json.chars().any(needs_escape) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if needs_escape(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Quotes a CSV field, and defuses text a spreadsheet would run as a formula: one starting
/// with `=`, `+`, `-`, `@`, a tab or a carriage return (OWASP's list), or the full-width
/// `＝＋－＠` that some spreadsheets read as their ASCII forms, gets a leading `'`.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠']) {
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

/// The exit code for an error: 1 for the user's mistakes, 2 for runtime failures, 0 for a
/// closed pipe (`watchword matches | head`).
pub fn exit_code(error: &anyhow::Error) -> i32 {
    for cause in error.chain() {
        if cause.is::<UserError>()
            || cause.is::<ConfigError>()
            || cause.is::<daemon::AlreadyRunning>()
        {
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
        assert_eq!(csv_field("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(csv_field("+1"), "\"'+1\"");
        assert_eq!(csv_field("\tx"), "\"'\tx\"");
        assert_eq!(csv_field("\rx"), "\"'\rx\"");
        assert_eq!(csv_field("＝1+1"), "\"'＝1+1\"");
        assert_eq!(csv_field("a=b"), "a=b");
    }

    #[test]
    fn json_output_escapes_every_control_character() {
        let value = serde_json::json!({"title": "a\u{1b}[31mb\u{9b}c\u{7f}d\u{202e}e\u{2028}f\n"});
        let line = json_line(&value).unwrap();
        assert_eq!(
            line,
            r#"{"title":"a\u001b[31mb\u009bc\u007fd\u202ee\u2028f\n"}"#
        );
        assert!(!line.chars().any(is_unsafe_char));
        let back: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back, value, "the same JSON value");
        let pretty = json_pretty(&value).unwrap();
        assert!(pretty.contains('\n') && pretty.contains("\\u009b"));
    }

    #[test]
    fn truncation_counts_terminal_columns() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("abcdefghijkl", 5), "abcd…");
        assert_eq!(truncate("北朝鮮が偵察衛星", 7), "北朝鮮…");
    }
}
