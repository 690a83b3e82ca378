//! The operator's commands: `feeds` (each feed's health), `opml import`, `alerts` and
//! `alerts retry`.

use super::*;

pub(super) fn feeds(config: &Config, format: FeedsFormat) -> anyhow::Result<()> {
    let database = &config.daemon.database;
    let names: Vec<&str> = config.feeds.iter().map(|f| f.name.as_str()).collect();
    let health = if database.exists() {
        Store::open(database)?.feed_health(&names)?
    } else {
        Vec::new()
    };
    // A store that cannot write (a full disk) leaves the statuses below as they were: the
    // daemon says so in its lock file.
    let store_status = crate::daemon::running_daemon_status(database);
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
                fit_width(&sanitize(&feed.name), 40),
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
                    fit_width(&sanitize(&h.name), 40),
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
                    fit_width(&sanitize(&error), 80),
                ]
            }
        };
        rows.push(row);
    }
    write_aligned(&mut out, &header, &rows)?;
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
        "{} feeds added, {} skipped; {}",
        result.added.len(),
        result.skipped.len(),
        config_path.display()
    )?;
    Ok(())
}

pub(super) fn alerts(config: &Config, filter: &DeliveryFilter) -> anyhow::Result<()> {
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
                    Payload::Match(m) => fit_width(&sanitize(&m.title), 48),
                    Payload::Notice(notice) => fit_width(&sanitize(&notice.feed), 48),
                },
                when,
                fit_width(&sanitize(d.last_error.as_deref().unwrap_or("")), 80),
            ]
        })
        .collect();
    write_aligned(&mut out, &header, &rows)?;
    out.flush()?;
    Ok(())
}

pub(super) fn retry_alerts(config: &Config, id: Option<DeliveryId>) -> anyhow::Result<()> {
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
