//! The command line: clap definitions and one function per command. The only module that
//! prints to stdout; everything it does is a call into the library. Logs go to stderr.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config, ConfigError, FeedSource};
use crate::daemon::OnceAlerts;
use crate::fetch::Fetcher;
use crate::model::{
    DeliveryId, DeliveryState, Match, MatchId, MatchRecord, Payload, Verdict, rfc3339,
};
use crate::pipeline::{self, PollStatus, probe_feed};
use crate::store::{DeliveryFilter, MatchFilter, Store};
use crate::text::sanitize;
use crate::{daemon, opml, tester};

mod admin;
mod args;
mod judging;
mod logs;
mod matches;
mod output;
mod table;
mod testing;

use admin::*;
pub use args::*;
pub use logs::{init_logs, log_level};
use matches::*;
use output::*;
use table::*;

/// An error that is the user's to fix (bad arguments, bad config): exit code 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UserError(pub String);

/// Runs a parsed command line. Errors carry their exit code: [`UserError`] and
/// [`ConfigError`] are 1, everything else 2.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    // Commands that need no config.
    match &cli.command {
        Command::Init { path, force } => return init(path.as_deref(), *force),
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "watchword",
                &mut io::stdout(),
            );
            return Ok(());
        }
        Command::Man => {
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command())
                .render(&mut io::stdout())?;
            return Ok(());
        }
        _ => {}
    }
    let path =
        crate::places::locate(cli.config.as_deref()).map_err(|e| UserError(e.to_string()))?;
    match cli.command {
        Command::Init { .. } | Command::Completions { .. } | Command::Man => unreachable!(),
        Command::Run => {
            let config = crate::places::load(&path)?;
            runtime()?.block_on(async {
                let shutdown = CancellationToken::new();
                daemon::handle_signals(shutdown.clone())?;
                daemon::run(config, shutdown).await
            })
        }
        Command::Once => once(crate::places::load(&path)?),
        Command::Check { online } => check(&path, online),
        Command::Matches {
            topic,
            since,
            limit,
            format,
            follow,
            sources,
        } => {
            let config = crate::places::load(&path)?;
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
        Command::Feeds { format } => feeds(&crate::places::load(&path)?, format),
        Command::Opml { action } => match action {
            OpmlAction::Import { file } => opml_import(&path, &file),
            OpmlAction::Export => {
                let config = crate::places::load(&path)?;
                // A feed read from a relative path is written as an absolute file: URL.
                let here = std::env::current_dir().context("cannot read the current folder")?;
                io::stdout()
                    .lock()
                    .write_all(opml::render(&config.feeds, &here).as_bytes())?;
                Ok(())
            }
        },
        Command::Alerts {
            action,
            state,
            limit,
        } => {
            let config = crate::places::load(&path)?;
            match action {
                None => alerts(
                    &config,
                    &DeliveryFilter {
                        state: state.map(DeliveryState::from),
                        limit,
                    },
                ),
                Some(AlertsAction::Retry { id, .. }) => retry_alerts(&config, id),
                Some(AlertsAction::Test { sinks }) => test_alerts(config, &sinks),
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
            let config = crate::places::load(&path)?;
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
            let config = crate::places::load(&path)?;
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
            let config = crate::places::load(&path)?;
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

/// Parses `--since`: a duration back from `now` (`24h`, `7d`, `2w`), `today` or `yesterday`
/// (midnight UTC), an RFC 3339 time, or a date.
pub fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, UserError> {
    let midnight = |date: NaiveDate| {
        date.and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
    };
    match text.trim().to_ascii_lowercase().as_str() {
        "today" => return Ok(midnight(now.date_naive())),
        "yesterday" => {
            let today = now.date_naive();
            return Ok(midnight(today.pred_opt().unwrap_or(today)));
        }
        _ => {}
    }
    if let Some(duration) = parse_weeks(text) {
        return Ok(crate::scheduler::earlier(now, duration));
    }
    if let Ok(duration) = config::parse_duration(text) {
        return Ok(crate::scheduler::earlier(now, duration));
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(midnight(date));
    }
    Err(UserError(format!(
        "--since {text:?}: expected a duration (24h, 7d, 2w), today, yesterday, an RFC 3339 time (2023-11-21T00:00:00Z) or a date (2023-11-21)"
    )))
}

/// A number of weeks (`2w`, `1 week`, `3weeks`), which config durations do not take.
fn parse_weeks(text: &str) -> Option<std::time::Duration> {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let unit = text[digits..].trim();
    if digits == 0 || !matches!(unit, "w" | "wk" | "wks" | "week" | "weeks") {
        return None;
    }
    let weeks: u64 = text[..digits].parse().ok()?;
    Some(std::time::Duration::from_secs(
        weeks.saturating_mul(7 * 86_400),
    ))
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
    let database = config.daemon.database.clone();
    let file = config.daemon.postgres.is_none();
    let report = {
        let runtime = runtime()?;
        runtime.block_on(daemon::poll_once(config))?
        // The runtime goes here, and with it this process's connections to the database.
    };
    // It began sound (or `poll_once` would have failed) and every write went through: the
    // next `once` need not read the whole file again unless something else writes it.
    if !file {
        // A PostgreSQL database checks itself: nothing to remember.
    } else if report.store_sound {
        crate::store::verified::mark_verified(&database);
    } else {
        crate::store::verified::forget_verified(&database);
    }
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
                baseline,
            } => format!(
                "{}, {} ({n_items} in feed){}",
                count(*new_items, "new item"),
                count(*new_matches, "new match"),
                if *baseline && *new_matches > 0 {
                    "; first poll: a baseline, not alerted"
                } else {
                    ""
                }
            ),
            PollStatus::NotModified => "not modified".to_string(),
            PollStatus::Failed { message } => format!("error: {}", sanitize(message)),
            PollStatus::Gone => {
                "gone (http 410): not polled until the config gives another url".to_string()
            }
            PollStatus::Leased => "polled by another daemon on the database now".to_string(),
        };
        writeln!(out, "{name}{}  {line}", " ".repeat(padding))?;
    }
    let baseline: usize = reports
        .iter()
        .map(|report| match report.status {
            PollStatus::Fetched {
                new_matches,
                baseline: true,
                ..
            } => new_matches,
            _ => 0,
        })
        .sum();
    if baseline > 0 {
        writeln!(
            out,
            "baseline: {} from first polls logged as backfill, not alerted \
             (first_poll = \"alert\" alerts them)",
            count(baseline, "match")
        )?;
    }
    match report.alerts {
        OnceAlerts::NoSinks => {}
        OnceAlerts::Sent(counts) => writeln!(
            out,
            "alerts: {} delivered, {} pending, {} failed",
            counts.delivered, counts.pending, counts.failed
        )?,
        OnceAlerts::LeftToDaemon { lock } => writeln!(
            out,
            "alerts: queued, left to the running daemon (it holds {lock})"
        )?,
    }
    out.flush()?;
    Ok(())
}

/// A warning when the config holds a secret written in it (not `{ env = … }` or a
/// credential) and other users may read the file.
fn readable_secrets(path: &std::path::Path, config: &Config) -> Option<String> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    if mode & 0o004 == 0 {
        return None;
    }
    let secret = config.alerts.iter().find_map(|alert| {
        let literal = match &alert.sink {
            config::SinkConfig::Webhook {
                url,
                format,
                headers,
                secret,
                ..
            } => {
                // Slack and Discord put their token in the address.
                let token_in_url = url.is_literal()
                    && matches!(
                        format,
                        config::WebhookFormat::Slack | config::WebhookFormat::Discord
                    );
                token_in_url
                    || !headers.is_empty() && headers.iter().any(|(_, value)| value.is_literal())
                    || secret.as_ref().is_some_and(config::Secret::is_literal)
            }
            config::SinkConfig::Email { password, .. } => {
                password.as_ref().is_some_and(config::Secret::is_literal)
            }
            _ => false,
        };
        literal.then(|| alert.name.clone())
    })?;
    Some(format!(
        "warning: {} is readable by every user (mode {:o}) and alert {secret:?} has a secret \
         written in it: chmod 600 it, or give the secret as {{ env = \"NAME\" }} or \
         {{ credential = \"name\" }}",
        path.display(),
        mode & 0o777
    ))
}

fn check(path: &std::path::Path, online: bool) -> anyhow::Result<()> {
    // Also a feed path that is there but not a regular file (a FIFO, a directory) is an error.
    let mut config = config::load_checking_files(path, &crate::fetch::path_kind)?;
    crate::places::settle(&mut config);
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "{}: ok ({}, {}, {}, {})",
        path.display(),
        count(config.feeds.len(), "feed"),
        count(config.topics.len(), "topic"),
        count(config.aliases.len(), "alias"),
        count(config.alerts.len(), "alert sink")
    )?;
    writeln!(out, "database: {}", crate::store::describe(&config.daemon))?;
    if let Some(warning) = readable_secrets(path, &config) {
        writeln!(out, "{warning}")?;
    }
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
    fn times_show_their_date_unless_today() {
        let now = "2026-12-07T10:00:00Z".parse().unwrap();
        let later_today = "2026-12-07T23:59:59Z".parse().unwrap();
        let next_year = "2027-12-07T10:00:00Z".parse().unwrap();
        assert_eq!(moment(later_today, now), "23:59:59");
        assert_eq!(moment(next_year, now), "2027-12-07 10:00:00");
        assert_eq!(
            moment("2026-12-06T10:00:00Z".parse().unwrap(), now),
            "2026-12-06 10:00:00"
        );
    }

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
        assert!(parse_since("last tuesday", now).is_err());
        assert!(parse_since("w", now).is_err());
    }

    #[test]
    fn since_accepts_weeks_today_and_yesterday() {
        let now = Utc.with_ymd_and_hms(2023, 11, 22, 12, 30, 0).unwrap();
        assert_eq!(
            parse_since("2w", now).unwrap(),
            Utc.with_ymd_and_hms(2023, 11, 8, 12, 30, 0).unwrap()
        );
        assert_eq!(
            parse_since("1 week", now).unwrap(),
            Utc.with_ymd_and_hms(2023, 11, 15, 12, 30, 0).unwrap()
        );
        assert_eq!(
            parse_since("today", now).unwrap(),
            Utc.with_ymd_and_hms(2023, 11, 22, 0, 0, 0).unwrap()
        );
        assert_eq!(
            parse_since("Yesterday", now).unwrap(),
            Utc.with_ymd_and_hms(2023, 11, 21, 0, 0, 0).unwrap()
        );
        // A huge number of weeks saturates instead of overflowing.
        assert!(parse_since("99999999999999999w", now).is_ok());
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
}
