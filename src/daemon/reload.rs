//! Live reload: watching the config file (and SIGHUP), and logging what a new config
//! changes.

use super::*;

/// Sends `"file"` on `reload` whenever the config file is written, created or replaced
/// (editors that save by renaming a new file over the old one included). Folders are
/// watched, not the file, so a replaced file keeps being watched; for a symlinked config
/// the folder of its target is watched too.
pub(super) fn watch_config(
    path: &Path,
    reload: mpsc::UnboundedSender<&'static str>,
) -> Option<notify::RecommendedWatcher> {
    use notify::{EventKind, RecursiveMode, Watcher as _};
    let folder_of = |path: &Path| match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut watched = vec![(folder_of(path), path.file_name()?.to_os_string())];
    if let Ok(target) = std::fs::canonicalize(path)
        && let Some(name) = target.file_name()
        && target != path
    {
        watched.push((folder_of(&target), name.to_os_string()));
    }
    let names: Vec<std::ffi::OsString> = watched.iter().map(|(_, name)| name.clone()).collect();
    let handler = move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        let relevant = matches!(
            event.kind,
            EventKind::Create(_) | EventKind::Modify(_) | EventKind::Any
        ) && event.paths.iter().any(|p| {
            p.file_name()
                .is_some_and(|name| names.iter().any(|n| n == name))
        });
        if relevant {
            let _ = reload.send("file");
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(watcher) => watcher,
        Err(error) => {
            warn!(error = %error, "cannot watch the config file; reload with SIGHUP");
            return None;
        }
    };
    for (folder, _) in &watched {
        if let Err(error) = watcher.watch(folder, RecursiveMode::NonRecursive) {
            warn!(folder = %folder.display(), error = %error, "cannot watch the config folder; reload with SIGHUP");
            return None;
        }
    }
    Some(watcher)
}

/// Sends `"SIGHUP"` on `reload` for every SIGHUP.
pub(super) fn listen_for_hangup(reload: mpsc::UnboundedSender<&'static str>) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            info!("received SIGHUP: reloading the config");
            if reload.send("SIGHUP").is_err() {
                return;
            }
        }
    });
    Ok(())
}

/// Logs the config's warnings (likely mistakes that do not stop it), one line each.
pub(super) fn log_warnings(config: &Config) {
    for warning in &config.warnings {
        warn!(
            config = %warning.path.display(),
            line = warning.line,
            column = warning.column,
            "config: {}",
            warning.message
        );
    }
}

/// Reads and compiles the config again. Returns what to run next, `None` when the file did
/// not change, or why (logged) the new config is invalid or cannot be applied.
pub(super) async fn reload(
    running: &Running,
    alerter: &Alerter,
    cause: &str,
) -> Result<Option<Running>, String> {
    let old = &running.context.config;
    let path = old.path.clone();
    let text = match tokio::fs::read(&path).await {
        Ok(bytes) => match config::decode(&path, bytes) {
            Ok(text) => text,
            // Not UTF-8: said at its line and column.
            Err(error) => {
                error!("config reload rejected; still running the previous config:\n{error}");
                return Err(error.to_string());
            }
        },
        Err(error) => {
            error!(config = %path.display(), error = %error, "cannot read the config; still running the previous one");
            return Err(format!("cannot read {}: {error}", path.display()));
        }
    };
    if text == running.text && cause == "file" {
        debug!("config file touched but unchanged");
        return Ok(None);
    }
    let (compiled, diagnostics) = {
        let (path, text) = (path.clone(), text.clone());
        match tokio::task::spawn_blocking(move || config::compile(&path, &text)).await {
            Ok(result) => result,
            Err(error) => {
                error!(error = %error, "config reload failed");
                return Err(error.to_string());
            }
        }
    };
    let Some(mut new) = compiled else {
        let rendered = config::render_all(&diagnostics);
        error!("config reload rejected; still running the previous config:\n{rendered}");
        return Err(rendered);
    };
    log_warnings(&new);
    crate::places::settle(&mut new);
    if (&new.daemon.database, &new.daemon.postgres) != (&old.daemon.database, &old.daemon.postgres)
    {
        warn!(
            running = %crate::store::describe(&old.daemon),
            "the database cannot change while running; restart to use {}",
            crate::store::describe(&new.daemon)
        );
        new.daemon.database = old.daemon.database.clone();
        new.daemon.postgres = old.daemon.postgres.clone();
    }
    if new.http != old.http {
        warn!("[http] changes apply after a restart");
        new.http = old.http;
    }
    let fetcher = match Fetcher::new(&new.daemon) {
        Ok(fetcher) => fetcher,
        Err(error) => {
            error!(error = %error, "config reload rejected: cannot build the HTTP client");
            return Err(format!("cannot build the HTTP client: {error}"));
        }
    };
    // Everything that can fail is built before anything changes.
    let sinks = match Alerter::prepare(&new, &fetcher) {
        Ok(sinks) => sinks,
        Err(error) => {
            error!(error = %error, "config reload rejected");
            return Err(error);
        }
    };
    let pairs: Vec<(String, String)> = new
        .feeds
        .iter()
        .map(|feed| (feed.name.clone(), feed.source.to_string()))
        .collect();
    let ids = store::with(&running.context.store, move |store| {
        let pairs: Vec<(&str, String)> = pairs
            .iter()
            .map(|(name, url)| (name.as_str(), url.clone()))
            .collect();
        store.register_feeds(&pairs)
    })
    .await;
    let ids = match ids {
        Ok(ids) => ids,
        Err(error) => {
            error!(error = %error, "config reload rejected: cannot register the feeds");
            return Err(format!("cannot register the feeds: {error}"));
        }
    };
    alerter.install(sinks);
    log_changes(old, &new);
    running
        .context
        .metrics
        .topics(new.topics.iter().map(|topic| topic.id.as_str()));
    let new = Arc::new(new);
    let context = PollContext {
        fetcher,
        store: running.context.store.clone(),
        reader: running.context.reader.clone(),
        commits: running.context.commits.clone(),
        routes: Arc::new(alert::routes(&new.alerts)),
        outbox_written: running.context.outbox_written.clone(),
        metrics: running.context.metrics.clone(),
        write_health: running.context.write_health.clone(),
        processing: running.context.processing.clone(),
        article_hosts: running.context.article_hosts.clone(),
        config: new.clone(),
    };
    Ok(Some(Running {
        limits: Arc::new(Limits::after(&new, &running.limits)),
        feeds: ids.into_iter().zip(new.feeds.iter().cloned()).collect(),
        context,
        text,
    }))
}

/// Logs what a reload changes: feeds and topics added, removed and changed.
pub(super) fn log_changes(old: &Config, new: &Config) {
    let feeds = |c: &Config| -> HashMap<String, (String, Duration)> {
        c.feeds
            .iter()
            .map(|f| (f.name.clone(), (f.source.to_string(), f.interval)))
            .collect()
    };
    // A topic changes with its query, its time scope or its title.
    type TopicParts = (String, config::TimeScope, Option<String>);
    let topics = |c: &Config| -> HashMap<String, TopicParts> {
        c.topics
            .iter()
            .map(|t| (t.id.clone(), (t.source.clone(), t.scope, t.title.clone())))
            .collect()
    };
    let (fa, fr, fc) = diff(&feeds(old), &feeds(new));
    let (ta, tr, tc) = diff(&topics(old), &topics(new));
    info!(
        feeds = new.feeds.len(),
        topics = new.topics.len(),
        alert_sinks = new.alerts.len(),
        "config reloaded: feeds +{fa} −{fr} ~{fc}, topics +{ta} −{tr} ~{tc}"
    );
}

/// (added, removed, changed) between two keyed maps.
pub(super) fn diff<T: PartialEq>(
    old: &HashMap<String, T>,
    new: &HashMap<String, T>,
) -> (usize, usize, usize) {
    let added = new.keys().filter(|k| !old.contains_key(*k)).count();
    let removed = old.keys().filter(|k| !new.contains_key(*k)).count();
    let changed = new
        .iter()
        .filter(|(k, v)| old.get(*k).is_some_and(|o| o != *v))
        .count();
    (added, removed, changed)
}
