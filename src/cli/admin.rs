//! The operator's commands: `feeds` (each feed's health), `opml import`, `alerts` and
//! `alerts retry`.

use super::*;

/// How the `feeds` table fits a narrow terminal: the last error gives way first, then the
/// feed's name (to 24 columns, then 16), then the counts and the last success are left out.
const FEEDS_PLAN: Plan = Plan {
    steps: &[
        Step::Shrink(7, 40),
        Step::Shrink(0, 24),
        Step::Shrink(7, 24),
        Step::Drop(4),
        Step::Drop(5),
        Step::Drop(2),
        Step::Shrink(0, 16),
        Step::Shrink(7, 16),
        Step::Drop(3),
        Step::Shrink(0, 12),
        Step::Shrink(1, 12),
        Step::Shrink(7, 8),
    ],
    uncapped: &[],
};

/// How the `alerts` table fits: the title and the last error give way first, then the
/// attempts and the time logged are left out.
const ALERTS_PLAN: Plan = Plan {
    steps: &[
        Step::Shrink(6, 40),
        Step::Shrink(8, 40),
        Step::Shrink(6, 24),
        Step::Shrink(8, 24),
        Step::Drop(4),
        Step::Drop(3),
        Step::Shrink(2, 16),
        Step::Shrink(5, 16),
        Step::Shrink(6, 16),
        Step::Shrink(8, 16),
        Step::Shrink(6, 8),
        Step::Shrink(8, 8),
    ],
    uncapped: &[],
};

/// An error and its causes (`outer: inner: innermost`, as the fetch writes them) with the
/// innermost cause first, the rest after a semicolon: `Connection refused (os error 111);
/// error sending request for url (…): client error (Connect): tcp connect error`. In a cut
/// column the cause is what remains, not the wrapping.
pub(super) fn cause_first(error: &str) -> String {
    match error.rsplit_once(": ") {
        Some((outer, innermost)) if !innermost.trim().is_empty() => {
            format!("{}; {outer}", innermost.trim())
        }
        _ => error.to_string(),
    }
}

pub(super) fn feeds(config: &Config, format: FeedsFormat) -> anyhow::Result<()> {
    let names: Vec<&str> = config.feeds.iter().map(|f| f.name.as_str()).collect();
    let health = if crate::store::exists(&config.daemon) {
        Store::open_configured(&config.daemon)?.feed_health(&names)?
    } else {
        Vec::new()
    };
    // A store that cannot write (a full disk) leaves the statuses below as they were: the
    // daemon says so in its lock file.
    let store_status = match &config.daemon.postgres {
        None => crate::daemon::running_daemon_status(&config.daemon.database),
        Some(_) => None,
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    if format == FeedsFormat::Json {
        if let Some(status) = &store_status {
            eprintln!("warning: the running daemon says: {status}");
        }
        let mut text = json_pretty(&health)?;
        text.push('\n');
        out.write_all(text.as_bytes())?;
        out.flush()?;
        return Ok(());
    }
    if let Some(status) = &store_status {
        writeln!(out, "{status}: the statuses below may be stale\n")?;
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
                sanitize(&feed.name),
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
                // With several daemons on one PostgreSQL database: which one polled it.
                if let Some(node) = &h.polled_by {
                    status.push_str(&format!(" (by {})", sanitize(node)));
                }
                // The innermost cause first: a narrow column still shows what went wrong.
                let error = h.last_error.as_deref().map(cause_first);
                let error = match (&h.config_url, error) {
                    (Some(_), Some(error)) => format!("{at} {}; {}", h.url, error),
                    (Some(_), None) => format!("{at} {}", h.url),
                    (None, Some(error)) => error,
                    (None, None) => String::new(),
                };
                [
                    sanitize(&h.name),
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
                    sanitize(&error),
                ]
            }
        };
        rows.push(row);
    }
    write_table(&mut out, &header, &rows, terminal_width(), &FEEDS_PLAN)?;
    out.flush()?;
    Ok(())
}

pub(super) fn opml_import(
    config_path: &std::path::Path,
    file: &std::path::Path,
) -> anyhow::Result<()> {
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
        "{} added, {} skipped; {}",
        count(result.added.len(), "feed"),
        result.skipped.len(),
        config_path.display()
    )?;
    Ok(())
}

pub(super) fn alerts(config: &Config, filter: &DeliveryFilter) -> anyhow::Result<()> {
    let deliveries = if crate::store::exists(&config.daemon) {
        Store::open_configured(&config.daemon)?.deliveries(filter)?
    } else {
        Vec::new()
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    if deliveries.is_empty() {
        writeln!(out, "no deliveries")?;
        out.flush()?;
        return Ok(());
    }
    let now = Utc::now();
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
                DeliveryState::Pending => format!("next {}", moment(d.next_attempt, now)),
                DeliveryState::Delivered => d
                    .delivered_at
                    .map_or_else(String::new, |t| format!("done {}", moment(t, now))),
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
                    Payload::Match(m) => sanitize(&m.title),
                    Payload::Notice(notice) => sanitize(&notice.feed),
                },
                when,
                sanitize(d.last_error.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    write_table(&mut out, &header, &rows, terminal_width(), &ALERTS_PLAN)?;
    out.flush()?;
    Ok(())
}

pub(super) fn retry_alerts(config: &Config, id: Option<DeliveryId>) -> anyhow::Result<()> {
    if !crate::store::exists(&config.daemon) {
        return Err(UserError(format!(
            "no database at {} yet",
            crate::store::describe(&config.daemon)
        ))
        .into());
    }
    let mut store = Store::open_configured(&config.daemon)?;
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

/// `alerts test`: a test message through each named sink (all by default), each result on
/// its line; exit 2 when one failed.
pub(super) fn test_alerts(config: Config, only: &[String]) -> anyhow::Result<()> {
    let fetcher = Fetcher::new(&config.daemon).context("cannot build the HTTP client")?;
    let sinks = crate::alert::Alerter::prepare(&config, &fetcher).map_err(UserError)?;
    if config.alerts.is_empty() {
        return Err(UserError("no alert sink is configured ([[alert]])".into()).into());
    }
    let results = runtime()?.block_on(sinks.test(only)).map_err(UserError)?;
    let mut out = io::stdout().lock();
    let mut failed = 0;
    for (name, result) in &results {
        match result {
            Ok(()) => writeln!(out, "{}: sent", sanitize(name))?,
            Err(error) => {
                failed += 1;
                writeln!(out, "{}: failed: {}", sanitize(name), sanitize(error))?;
            }
        }
    }
    out.flush()?;
    if failed > 0 {
        anyhow::bail!("{} of {} failed", count(failed, "sink"), results.len());
    }
    Ok(())
}

/// The starter config `init` writes.
const STARTER: &str = include_str!("../../config/starter.toml");

/// `init [PATH]`: writes the starter config (not over a file that is there unless `force`).
pub(super) fn init(path: Option<&std::path::Path>, force: bool) -> anyhow::Result<()> {
    let path = path.map_or_else(crate::places::init_path, std::path::Path::to_path_buf);
    if path.exists() && !force {
        return Err(UserError(format!(
            "{} is there already; --force replaces it",
            path.display()
        ))
        .into());
    }
    if let Some(folder) = path.parent().filter(|f| !f.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("cannot create {}", folder.display()))?;
    }
    std::fs::write(&path, STARTER).with_context(|| format!("cannot write {}", path.display()))?;
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "wrote {}: edit its feed and topic, then `watchword check` and `watchword once`",
        path.display()
    )?;
    Ok(())
}
