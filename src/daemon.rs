//! The running service: tasks, concurrency limits, signals, live reload and shutdown. The
//! only module that spawns tasks or knows about signals. [`run`] is the daemon; [`poll_once`]
//! polls every feed once under the same limits (the `once` command).
//!
//! Shutdown follows three steps: decide (the first SIGINT/SIGTERM cancels a token), tell (the
//! scheduler stops starting polls; a poll that has not started fetching does not start), wait
//! (in-flight polls finish, store transaction included, within [`SHUTDOWN_DEADLINE`]; the
//! alert worker stops after recording the send in hand). A second signal exits at once.
//!
//! Reload: an edit of the config file (watched with `notify`) or SIGHUP recompiles it. A
//! valid config replaces the running one between polls — feeds added start, removed ones
//! stop, topics and sinks are swapped — while polls in flight finish with the config they
//! started with. An invalid one is logged with its `file:line:col` errors and ignored.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sd_notify::NotifyState;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, info, warn};

use crate::alert::{self, Alerter};
use crate::config::{self, Config, FeedConfig};
use crate::fetch::Fetcher;
use crate::http::{self, ReloadStatus, StatusState};
use crate::metrics::Metrics;
use crate::model::FeedId;
use crate::pipeline::{PollContext, PollReport, PollStatus, poll_feed};
use crate::scheduler::{self, Queue};
use crate::store::{self, OutboxCounts, Purged, SharedStore, Store, WriteFailure, WriteHealth};

mod limits;
mod lock;
mod nodes;
mod once;
pub use lock::running_daemon_status;
pub use once::{OnceAlerts, OnceReport, poll_once};
mod reload;

use limits::*;
use lock::*;
use reload::*;

/// How long in-flight polls get to finish after a shutdown signal.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);
/// How long a reload waits for an editor's burst of writes to settle.
pub const RELOAD_SETTLE: Duration = Duration::from_millis(250);
/// How often the daemon applies `[daemon] keep_items` (and once at start).
pub const RETENTION_EVERY: Duration = Duration::from_secs(3600);
/// Items deleted per retention transaction, so polls wait for the store only briefly.
const RETENTION_BATCH: usize = 1000;

/// A second daemon on a database that one already runs on.
#[derive(Debug, thiserror::Error)]
#[error(
    "another watchword daemon is already running on {database} (it holds {lock}); stop it, or give this one another database"
)]
pub struct AlreadyRunning {
    pub database: String,
    /// The lock file it holds.
    pub lock: String,
}

/// The config the daemon runs on, with what was built from it; a reload replaces it whole.
struct Running {
    context: PollContext,
    limits: Arc<Limits>,
    /// Configured feeds by store id.
    feeds: HashMap<FeedId, FeedConfig>,
    /// The file's text, to skip reloads that change nothing.
    text: String,
}

/// Runs the daemon until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    // Held until the process exits: the operating system releases it even after a SIGKILL.
    // On PostgreSQL there is none: daemons share the database as nodes (see `nodes`).
    let lock = match &config.daemon.postgres {
        None => Some(Arc::new(lock_database(&config.daemon.database)?)),
        Some(_) => None,
    };
    log_warnings(&config);
    let text = std::fs::read_to_string(&config.path).unwrap_or_default();
    let http_config = config.http;
    // With several daemons on one PostgreSQL database, this one's place among them.
    let membership = config
        .daemon
        .postgres
        .as_ref()
        .map(|_| Arc::new(nodes::Membership::new()));
    let node = membership.as_ref().map(|membership| nodes::Role {
        name: membership.me.clone(),
        only_when_due: true,
    });
    let (context, feed_ids, alerter) = start(config, StartCheck::Always, node).await?;
    let config = context.config.clone();
    let feeds = feed_ids
        .iter()
        .copied()
        .zip(config.feeds.iter().cloned())
        .collect();
    let mut running = Running {
        limits: Arc::new(Limits::new(&config)),
        context,
        feeds,
        text,
    };
    let shared_config = Arc::new(RwLock::new(config.clone()));
    let reload_status = ReloadStatus::default();
    reload_status.loaded();
    let healthy = Arc::new(AtomicBool::new(false));
    let tracker = TaskTracker::new();

    if let Some(http_config) = http_config {
        let listener = tokio::net::TcpListener::bind(http_config.listen)
            .await
            .with_context(|| format!("cannot listen on {} ([http] listen)", http_config.listen))?;
        let bound = listener.local_addr().unwrap_or(http_config.listen);
        let state = StatusState {
            store: running.context.store.clone(),
            metrics: running.context.metrics.clone(),
            config: shared_config.clone(),
            healthy: healthy.clone(),
            write_health: running.context.write_health.clone(),
            reload: reload_status.clone(),
        };
        let http_shutdown = shutdown.clone();
        tracker.spawn(async move {
            if let Err(error) = http::serve(listener, state, http_shutdown).await {
                error!(error = %error, "status endpoint stopped");
            }
        });
        info!(listen = %bound, "status endpoint listening");
    }

    let (reload_tx, mut reload_rx) = mpsc::unbounded_channel::<&'static str>();
    // Kept alive for the daemon's life; dropping it stops the watch.
    let _watcher = watch_config(&config.path, reload_tx.clone());
    listen_for_hangup(reload_tx)?;

    info!(
        config = %config.path.display(),
        database = %store::describe(&config.daemon),
        feeds = config.feeds.len(),
        topics = config.topics.len(),
        alert_sinks = config.alerts.len(),
        "watchword started"
    );
    // Polls report the feed's next due time back to the loop, which alone owns the queue.
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(FeedId, Option<DateTime<Utc>>)>();
    // With several daemons on one PostgreSQL database: this one's heartbeat, and the hosts
    // it takes up when the live nodes change.
    let (nodes_tx, mut nodes_rx) = mpsc::unbounded_channel::<()>();
    if let Some(membership) = &membership {
        info!(node = %membership.me, "this daemon's node on the database");
        // A connection of its own: the heartbeat must not wait behind polls for a store.
        let (daemon, name) = (config.daemon.clone(), membership.me.clone());
        let beat_store = store::blocking(move || {
            let mut store = Store::open_configured(&daemon)?;
            store.set_node(&name, nodes::lease(&daemon), true);
            Ok::<_, store::StoreError>(store)
        })
        .await?;
        tracker.spawn(nodes::beat(
            Arc::new(std::sync::Mutex::new(beat_store)),
            membership.clone(),
            nodes_tx,
            shutdown.clone(),
        ));
    }
    // Waits are on the monotonic clock: a wall clock stepped back cannot hold a feed.
    let mut queue: Queue<Instant> = Queue::default();
    let all: Vec<FeedId> = feed_ids.clone();
    schedule_new(&running, &all, &mut queue).await?;
    let mut in_flight: HashSet<FeedId> = HashSet::new();
    // Feeds a reload changed while they were being polled, with their due time by the new
    // settings.
    let mut changed_in_flight: HashMap<FeedId, Instant> = HashMap::new();

    // The alert worker delivers what a previous run left pending, then what polls log.
    let worker_shutdown = shutdown.clone();
    let worker = alerter.clone();
    tracker.spawn(async move { worker.run(worker_shutdown).await });

    // Whether the store can write, in the lock file for `feeds` (the database cannot say it).
    // A clone: the lock itself is held by `run` until it returns, not by this task.
    if let Some(status_file) = lock.clone() {
        let (mut store_status, status_shutdown) =
            (running.context.write_health.subscribe(), shutdown.clone());
        tracker.spawn(async move {
            loop {
                tokio::select! {
                    () = status_shutdown.cancelled() => return,
                    changed = store_status.changed() => if changed.is_err() { return },
                }
                let failure: Option<WriteFailure> = store_status.borrow_and_update().clone();
                if let Err(error) = write_status(&status_file, failure.as_ref()) {
                    warn!(error = %error, "cannot write the store's status into the lock file");
                }
            }
        });
    }

    // Hourly upkeep: retention (at start too), by the keep_items of the config running then;
    // and the corruption check that start made, which stops the daemon (exit 2) rather than
    // fail every poll with new items.
    let corrupt: Arc<Mutex<Option<store::StoreError>>> = Arc::default();
    let (retention_store, retention_config, retention_shutdown, found_corrupt) = (
        running.context.store.clone(),
        shared_config.clone(),
        shutdown.clone(),
        corrupt.clone(),
    );
    tracker.spawn(async move {
        loop {
            let keep = retention_config
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .daemon
                .keep_items;
            if let Some(keep) = keep {
                purge_old(&retention_store, keep, &retention_shutdown).await;
            }
            tokio::select! {
                () = retention_shutdown.cancelled() => return,
                () = tokio::time::sleep(RETENTION_EVERY) => {}
            }
            match store::with(&retention_store, |store| store.check_integrity()).await {
                Ok(()) => {}
                Err(error @ store::StoreError::Corrupt { .. }) => {
                    error!(error = %error, "the database is damaged; stopping");
                    *found_corrupt.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
                    retention_shutdown.cancel();
                    return;
                }
                Err(error) => warn!(error = %error, "cannot check the database for damage"),
            }
        }
    });

    healthy.store(true, Ordering::Relaxed);
    notify_systemd(&[NotifyState::Ready]);
    let watchdog = sd_notify::watchdog_enabled().map(|timeout| timeout / 2);
    let mut watchdog_tick = tokio::time::interval(watchdog.unwrap_or(Duration::from_secs(3600)));
    loop {
        let wake_at = queue
            .first_due()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            () = shutdown.cancelled() => break,
            Some((feed_id, next_due)) = done_rx.recv() => {
                in_flight.remove(&feed_id);
                let next_due = next_due.and_then(|due| {
                    let feed = running.feeds.get(&feed_id)?;
                    Some(monotonic(due, scheduler::longest_wait(feed.interval, 1)))
                });
                // A feed the config changed while it was polled is due by its new settings.
                let next_due = match changed_in_flight.remove(&feed_id) {
                    Some(due) => Some(next_due.map_or(due, |reported| reported.min(due))),
                    None => next_due,
                };
                if let Some(due) = next_due
                    && running.feeds.contains_key(&feed_id)
                {
                    queue.push(due, feed_id);
                }
            }
            Some(()) = nodes_rx.recv() => {
                // The hosts this node gained are due now (their lease and the database's due
                // time decide whether they are polled); the others stay where they are.
                if let Some(membership) = &membership {
                    for (&feed_id, feed) in &running.feeds {
                        if !in_flight.contains(&feed_id) && membership.owns(feed) {
                            queue.push(Instant::now(), feed_id);
                        }
                    }
                }
            }
            Some(cause) = reload_rx.recv() => {
                // Editors write in bursts (truncate, write, rename): wait for the last one.
                tokio::time::sleep(RELOAD_SETTLE).await;
                while reload_rx.try_recv().is_ok() {}
                let monotonic_now = NotifyState::monotonic_usec_now();
                if let Ok(now) = &monotonic_now {
                    notify_systemd(&[NotifyState::Reloading, now.clone()]);
                }
                let outcome = reload(&running, &alerter, cause).await;
                let status = reload_status.record(&outcome);
                if let Ok(Some(next)) = outcome {
                    reschedule(&running, &next, &mut queue, &in_flight, &mut changed_in_flight).await;
                    *shared_config.write().unwrap_or_else(|p| p.into_inner()) =
                        next.context.config.clone();
                    running = next;
                }
                notify_systemd(&[NotifyState::Ready, NotifyState::Status(&status)]);
            }
            _ = watchdog_tick.tick(), if watchdog.is_some() => {
                notify_systemd(&[NotifyState::Watchdog]);
            }
            () = tokio::time::sleep_until(wake_at) => {
                for feed_id in queue.pop_due(Instant::now()) {
                    // A feed still being polled is queued again when that poll reports.
                    if in_flight.contains(&feed_id) {
                        continue;
                    }
                    let Some(feed) = running.feeds.get(&feed_id).cloned() else {
                        continue;
                    };
                    // Another node's host: looked at again after an interval, or at once
                    // when the live nodes change.
                    if let Some(membership) = &membership
                        && !membership.owns(&feed)
                    {
                        queue.push(Instant::now() + feed.interval, feed_id);
                        continue;
                    }
                    in_flight.insert(feed_id);
                    let done_tx = done_tx.clone();
                    let interval = feed.interval;
                    let poll = permitted_poll(&running.context, &running.limits, &shutdown, feed, feed_id);
                    tracker.spawn(async move {
                        // Polls contain their own failures; a panic is a bug, but the feed
                        // must still be polled again.
                        let next_due = match tokio::spawn(poll).await {
                            Ok(Some(report)) => report.next_due,
                            Ok(None) => return,
                            Err(error) => {
                                error!(feed_id = feed_id.0, error = %crate::text::for_log(&error.to_string(), 300), "poll task failed; retrying after the interval");
                                Some(scheduler::later(Utc::now(), interval))
                            }
                        };
                        let _ = done_tx.send((feed_id, next_due));
                    });
                }
            }
        }
    }

    healthy.store(false, Ordering::Relaxed);
    notify_systemd(&[NotifyState::Stopping]);
    info!(in_flight = in_flight.len(), "shutting down");
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_DEADLINE, tracker.wait())
        .await
        .is_err()
    {
        warn!(
            deadline_secs = SHUTDOWN_DEADLINE.as_secs(),
            "polls still running at the shutdown deadline; stopping anyway"
        );
    }
    if membership.is_some() {
        // The others take this node's hosts at once, not after its heartbeat ages.
        let store = running.context.store.clone();
        if let Err(error) = store::with(&store, |store| store.leave()).await {
            warn!(error = %error, "cannot take this node off the database");
        }
    }
    info!("watchword stopped");
    match corrupt.lock().unwrap_or_else(|p| p.into_inner()).take() {
        Some(error) => Err(error.into()),
        None => Ok(()),
    }
}

/// Deletes what `keep_items` no longer keeps (see [`Store::purge`]), one short transaction
/// at a time, stopping early at shutdown; logs what it deleted. A failure is logged and left
/// for the next round.
async fn purge_old(store: &SharedStore, keep: Duration, shutdown: &CancellationToken) {
    let mut total = Purged::default();
    loop {
        let pass = store::with(store, move |store| {
            store.purge(Utc::now(), keep, RETENTION_BATCH)
        })
        .await;
        match pass {
            Ok(pass) => {
                total.items += pass.items;
                total.deliveries += pass.deliveries;
                total.forgotten += pass.forgotten;
                total.articles += pass.articles;
                if !pass.more || shutdown.is_cancelled() {
                    break;
                }
            }
            Err(error) => {
                warn!(error = %error, "retention failed; trying again at the next round");
                break;
            }
        }
    }
    if total != Purged::default() {
        info!(
            items = total.items,
            deliveries = total.deliveries,
            forgotten = total.forgotten,
            articles = total.articles,
            keep_days = keep.as_secs() / 86_400,
            "retention: deleted unmatched items and finished deliveries older than keep_items"
        );
    }
}

/// Cancels `token` on the first SIGINT or SIGTERM; exits the process on the second.
pub fn handle_signals(token: CancellationToken) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => info!("received SIGINT"),
            _ = terminate.recv() => info!("received SIGTERM"),
        }
        token.cancel();
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        warn!("second signal: exiting at once");
        std::process::exit(130);
    });
    Ok(())
}

/// Sends a state to systemd when it started us with `Type=notify` (a no-op otherwise).
fn notify_systemd(state: &[NotifyState<'_>]) {
    if let Err(error) = sd_notify::notify(state) {
        debug!(error = %error, "cannot notify systemd");
    }
}

/// Updates the queue after a reload: removed feeds leave it, added ones join as at start,
/// and a feed whose URL or interval changed is due by its new settings (a feed being
/// polled, when its poll reports).
async fn reschedule(
    old: &Running,
    new: &Running,
    queue: &mut Queue<Instant>,
    in_flight: &HashSet<FeedId>,
    changed_in_flight: &mut HashMap<FeedId, Instant>,
) {
    for id in old.feeds.keys() {
        if !new.feeds.contains_key(id) {
            queue.remove(*id);
        }
    }
    let mut added = Vec::new();
    let mut changed = Vec::new();
    for (id, feed) in &new.feeds {
        match old.feeds.get(id) {
            // One removed while being polled and added back is queued when that poll reports.
            None if in_flight.contains(id) => {}
            None => added.push(*id),
            Some(before) if before != feed => changed.push(*id),
            Some(_) => {}
        }
    }
    if let Err(error) = schedule_new(new, &added, queue).await {
        warn!(error = %error, "cannot read the state of the added feeds; polling them now");
        for id in &added {
            queue.push(Instant::now(), *id);
        }
    }
    let now = Instant::now();
    for id in changed {
        let (before, feed) = (&old.feeds[&id], &new.feeds[&id]);
        let by_new_interval = now + feed.interval;
        let due = if before.source != feed.source {
            now
        } else if in_flight.contains(&id) {
            by_new_interval
        } else {
            // A shorter interval brings the next poll forward; a longer one applies after it.
            queue.remove(id).map_or(now, |due| due.min(by_new_interval))
        };
        if in_flight.contains(&id) {
            changed_in_flight.insert(id, due);
        } else {
            queue.push(due, id);
        }
    }
}

/// Queues `ids` by their stored state: due (or never polled) feeds at once, spread over a
/// few seconds; others when they are due. Gone feeds are not queued.
async fn schedule_new(
    running: &Running,
    ids: &[FeedId],
    queue: &mut Queue<Instant>,
) -> anyhow::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let wanted = ids.to_vec();
    let states = store::with(&running.context.store, move |store| {
        wanted
            .iter()
            .map(|&id| store.feed_state(id))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    let now = Utc::now();
    let n_due = states
        .iter()
        .filter(|state| !state.gone && scheduler::is_due(now, state.next_due))
        .count();
    let mut due_index = 0;
    for (id, state) in ids.iter().zip(&states) {
        if state.gone {
            info!(feed = %running.feeds[id].name, "feed is gone (http 410); not polling it");
            continue;
        }
        let is_due = scheduler::is_due(now, state.next_due);
        let interval = running.feeds[id].interval;
        let due = scheduler::startup_due(
            now,
            state.next_due,
            interval,
            state.consecutive_errors,
            due_index,
            n_due,
        );
        due_index += usize::from(is_due);
        let longest = scheduler::longest_wait(interval, state.consecutive_errors);
        queue.push(monotonic(due, longest), *id);
    }
    info!(due_now = n_due, feeds = ids.len(), "schedule loaded");
    Ok(())
}

/// The monotonic instant for a wall-clock due time, waiting at most `longest` (see
/// [`scheduler::wait_until`]).
fn monotonic(due: DateTime<Utc>, longest: Duration) -> Instant {
    Instant::now() + scheduler::wait_until(due, Utc::now(), longest)
}

/// Whether [`start`] reads the whole database for corruption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StartCheck {
    Always,
    /// Not when the file is as a finished `once` left it (see [`store::verified`]).
    UnlessUnchanged,
}

/// Opens the store, builds the client and the alert sinks, and registers the feeds.
async fn start(
    config: Config,
    check: StartCheck,
    node: Option<nodes::Role>,
) -> anyhow::Result<(PollContext, Vec<FeedId>, Alerter)> {
    let daemon = config.daemon.clone();
    let feeds: Vec<(String, String)> = config
        .feeds
        .iter()
        .map(|feed| (feed.name.clone(), feed.source.to_string()))
        .collect();
    let (store, reader, feed_ids) = tokio::task::spawn_blocking(move || {
        // Before the store opens the file (which can write to it).
        let unchanged = daemon.postgres.is_none()
            && store::verified::unchanged_since_verified(&daemon.database);
        let mut store = Store::open_configured(&daemon)?;
        // Before anything is polled: a damaged file would fail every poll with new items.
        if check == StartCheck::Always || !unchanged {
            store.check_integrity()?;
        }
        let pairs: Vec<(&str, String)> = feeds
            .iter()
            .map(|(name, url)| (name.as_str(), url.clone()))
            .collect();
        let ids = store.register_feeds(&pairs)?;
        store.checkpoint_in_background()?;
        let mut reader = Store::open_configured(&daemon)?;
        if let Some(node) = &node {
            let lease = nodes::lease(&daemon);
            store.set_node(&node.name, lease, node.only_when_due);
            reader.set_node(&node.name, lease, node.only_when_due);
        }
        reader.forbid_writes()?;
        anyhow::Ok((store, reader, ids))
    })
    .await
    .context("store task panicked")??;
    let fetcher = Fetcher::new(&config.daemon).context("cannot build the HTTP client")?;
    let store = Arc::new(Mutex::new(store));
    let reader = Arc::new(Mutex::new(reader));
    let write_health = WriteHealth::default();
    let metrics = Arc::new(Metrics::default());
    metrics.topics(config.topics.iter().map(|topic| topic.id.as_str()));
    let alerter = Alerter::new(
        &config,
        &fetcher,
        store.clone(),
        write_health.clone(),
        metrics.clone(),
    )
    .map_err(anyhow::Error::msg)?;
    let context = PollContext {
        fetcher,
        store,
        reader,
        commits: Arc::default(),
        routes: Arc::new(alert::routes(&config.alerts)),
        outbox_written: alerter.waker(),
        metrics,
        write_health,
        processing: Arc::new(Semaphore::new(processing_permits())),
        article_hosts: Arc::default(),
        config: Arc::new(config),
    };
    Ok((context, feed_ids, alerter))
}

/// How many fetched bodies are processed at once: one per core, and one more to keep the
/// cores busy while a poll waits for the store.
fn processing_permits() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()) + 1
}

/// A poll of one feed that waits for its host and global permits first. Resolves to `None`
/// when shutdown came before the poll started.
fn permitted_poll(
    context: &PollContext,
    limits: &Limits,
    shutdown: &CancellationToken,
    feed: FeedConfig,
    feed_id: FeedId,
) -> impl Future<Output = Option<PollReport>> + Send + 'static {
    let context = context.clone();
    let global = limits.global.clone();
    let host = limits.host(feed.source.host());
    let spacing = limits.spacing(feed.source.host());
    let shutdown = shutdown.clone();
    async move {
        // The host permit first: waiting for a busy host must not hold a global permit that
        // another host could use.
        let permits = async {
            let host_permit = match host {
                Some(host) => Some(host.acquire_owned().await),
                None => None,
            };
            let global_permit = global.acquire_owned().await;
            // Then its turn on the host (`host_interval` after the request before it),
            // reserved only now, so that no two polls that waited for a global permit
            // start together. At most `per_host` polls of a host wait here holding one.
            if let Some(reserve) = spacing {
                tokio::time::sleep_until(reserve()).await;
            }
            (host_permit, global_permit)
        };
        // A poll still waiting for its turn at shutdown does not start.
        let _permits = tokio::select! {
            permits = permits => permits,
            () = shutdown.cancelled() => return None,
        };
        if shutdown.is_cancelled() {
            return None;
        }
        // Boxed: a poll's state (the HTTP request, the body) is allocated when it starts,
        // not by every task still waiting for its permits (all feeds at once in `once`).
        Some(Box::pin(poll_feed(&context, &feed, feed_id)).await)
    }
}
