//! The running service: tasks, concurrency limits, signals and shutdown. The only module
//! that spawns tasks or knows about signals. [`run`] is the daemon; [`poll_once`] polls every
//! feed once under the same limits (the `once` command).
//!
//! Shutdown follows three steps: decide (the first SIGINT/SIGTERM cancels a token), tell (the
//! scheduler stops starting polls; a poll that has not started fetching does not start), wait
//! (in-flight polls finish, store transaction included, within [`SHUTDOWN_DEADLINE`]; the
//! alert worker stops after recording the send in hand). A second signal exits at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::alert::{self, Alerter};
use crate::config::Config;
use crate::fetch::Fetcher;
use crate::pipeline::{PollContext, PollReport, PollStatus, poll_feed};
use crate::scheduler::{self, Queue};
use crate::store::{OutboxCounts, Store};

/// How long in-flight polls get to finish after a shutdown signal.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// What `once` did: a report per feed in config order, and the alert outbox afterwards
/// (`None` without alert sinks).
#[derive(Debug, Clone)]
pub struct OnceReport {
    pub polls: Vec<PollReport>,
    pub alerts: Option<OutboxCounts>,
}

/// Runs the daemon until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let (context, feed_ids, alerter) = start(config).await?;
    let config = context.config.clone();
    info!(
        config = %config.path.display(),
        database = %config.daemon.database.display(),
        feeds = config.feeds.len(),
        topics = config.topics.len(),
        "watchword started"
    );
    let limits = Limits::new(&config);
    let tracker = TaskTracker::new();
    // Polls report the feed's next due time back to the loop, which alone owns the queue.
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(usize, DateTime<Utc>)>();

    let mut queue = initial_queue(&context, &feed_ids).await?;
    // The alert worker delivers what a previous run left pending, then what polls log.
    let worker_shutdown = shutdown.clone();
    tracker.spawn(async move { alerter.run(worker_shutdown).await });
    loop {
        let wait = queue
            .first_due()
            .map(|due| (due - Utc::now()).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(Duration::from_secs(3600));
        tokio::select! {
            () = shutdown.cancelled() => break,
            Some((feed_idx, next_due)) = done_rx.recv() => queue.push(next_due, feed_idx),
            () = tokio::time::sleep(wait) => {
                for feed_idx in queue.pop_due(Utc::now()) {
                    let done_tx = done_tx.clone();
                    let poll = permitted_poll(&context, &limits, &shutdown, feed_idx, feed_ids[feed_idx]);
                    let interval = config.feeds[feed_idx].interval;
                    tracker.spawn(async move {
                        // Polls contain their own failures; a panic is a bug, but the feed
                        // must still be polled again.
                        let next_due = match tokio::spawn(poll).await {
                            Ok(Some(report)) => report.next_due,
                            Ok(None) => return,
                            Err(error) => {
                                error!(feed_idx, error = %error, "poll task failed; retrying after the interval");
                                Utc::now() + chrono::Duration::from_std(interval).unwrap_or_default()
                            }
                        };
                        let _ = done_tx.send((feed_idx, next_due));
                    });
                }
            }
        }
    }

    info!(in_flight = tracker.len(), "shutting down");
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
    info!("watchword stopped");
    Ok(())
}

/// Polls every configured feed once, under the configured concurrency limits, then delivers
/// alerts (retrying) for at most `[daemon] alert_wait`.
pub async fn poll_once(config: Config) -> anyhow::Result<OnceReport> {
    let (context, feed_ids, alerter) = start(config).await?;
    let limits = Limits::new(&context.config);
    let never = CancellationToken::new();
    let polls: Vec<_> = feed_ids
        .iter()
        .enumerate()
        .map(|(feed_idx, &feed_id)| {
            tokio::spawn(permitted_poll(&context, &limits, &never, feed_idx, feed_id))
        })
        .collect();
    let mut reports = Vec::with_capacity(polls.len());
    for (poll, feed) in polls.into_iter().zip(&context.config.feeds) {
        let report = match poll.await {
            Ok(report) => report.expect("polls are not cancelled in once"),
            Err(error) => PollReport {
                feed: feed.name.clone(),
                status: PollStatus::Failed {
                    message: format!("internal error: {error}"),
                },
                next_due: Utc::now(),
            },
        };
        reports.push(report);
    }
    let alerts = if alerter.is_empty() {
        None
    } else {
        Some(alerter.drain(context.config.daemon.alert_wait).await?)
    };
    Ok(OnceReport {
        polls: reports,
        alerts,
    })
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

/// Concurrency limits: one global semaphore and one per host.
struct Limits {
    global: Arc<Semaphore>,
    per_host: Mutex<HashMap<String, Arc<Semaphore>>>,
    per_host_limit: usize,
}

impl Limits {
    fn new(config: &Config) -> Limits {
        Limits {
            global: Arc::new(Semaphore::new(config.daemon.max_concurrent)),
            per_host: Mutex::new(HashMap::new()),
            per_host_limit: config.daemon.per_host,
        }
    }

    fn host(&self, host: Option<&str>) -> Option<Arc<Semaphore>> {
        let host = host?;
        let mut map = self
            .per_host
            .lock()
            .expect("the host map is never poisoned");
        Some(
            map.entry(host.to_ascii_lowercase())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_host_limit)))
                .clone(),
        )
    }
}

/// Opens the store, builds the client and the alert sinks, and registers the feeds.
async fn start(config: Config) -> anyhow::Result<(PollContext, Vec<i64>, Alerter)> {
    let database = config.daemon.database.clone();
    let feeds: Vec<(String, String)> = config
        .feeds
        .iter()
        .map(|feed| (feed.name.clone(), feed.source.to_string()))
        .collect();
    let (store, feed_ids) = tokio::task::spawn_blocking(move || {
        let mut store = Store::open(&database)?;
        let pairs: Vec<(&str, String)> = feeds
            .iter()
            .map(|(name, url)| (name.as_str(), url.clone()))
            .collect();
        let ids = store.register_feeds(&pairs)?;
        anyhow::Ok((store, ids))
    })
    .await
    .context("store task panicked")??;
    let fetcher = Fetcher::new(&config.daemon).context("cannot build the HTTP client")?;
    let store = Arc::new(Mutex::new(store));
    let alerter = Alerter::new(&config, &fetcher, store.clone()).map_err(anyhow::Error::msg)?;
    let context = PollContext {
        fetcher,
        store,
        routes: Arc::new(alert::routes(&config.alerts)),
        outbox_written: alerter.waker(),
        config: Arc::new(config),
    };
    Ok((context, feed_ids, alerter))
}

/// Reads each feed's stored due time and queues it: due feeds at once (spread over a few
/// seconds), others when they are due.
async fn initial_queue(context: &PollContext, feed_ids: &[i64]) -> anyhow::Result<Queue> {
    let store = context.store.clone();
    let ids = feed_ids.to_vec();
    let states = tokio::task::spawn_blocking(move || {
        let store = store.lock().expect("no poll runs yet");
        ids.iter()
            .map(|&id| store.feed_state(id))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .context("store task panicked")??;
    let now = Utc::now();
    let n_due = states
        .iter()
        .filter(|state| scheduler::is_due(now, state.next_due))
        .count();
    let mut queue = Queue::default();
    let mut due_index = 0;
    for (feed_idx, (state, feed)) in states.iter().zip(&context.config.feeds).enumerate() {
        let is_due = scheduler::is_due(now, state.next_due);
        let due = scheduler::startup_due(
            now,
            state.next_due,
            feed.interval,
            state.consecutive_errors,
            due_index,
            n_due,
        );
        due_index += usize::from(is_due);
        queue.push(due, feed_idx);
    }
    info!(due_now = n_due, "schedule loaded");
    Ok(queue)
}

/// A poll of one feed that waits for its host and global permits first. Resolves to `None`
/// when shutdown came before the poll started.
fn permitted_poll(
    context: &PollContext,
    limits: &Limits,
    shutdown: &CancellationToken,
    feed_idx: usize,
    feed_id: i64,
) -> impl Future<Output = Option<PollReport>> + Send + 'static {
    let context = context.clone();
    let global = limits.global.clone();
    let feed = context.config.feeds[feed_idx].clone();
    let host = limits.host(feed.source.host());
    let shutdown = shutdown.clone();
    async move {
        // The host permit first: waiting for a busy host must not hold a global permit that
        // another host could use.
        let permits = async {
            let host_permit = match host {
                Some(host) => Some(host.acquire_owned().await),
                None => None,
            };
            (host_permit, global.acquire_owned().await)
        };
        // A poll still waiting for its turn at shutdown does not start.
        let _permits = tokio::select! {
            permits = permits => permits,
            () = shutdown.cancelled() => return None,
        };
        if shutdown.is_cancelled() {
            return None;
        }
        Some(poll_feed(&context, &feed, feed_id).await)
    }
}
