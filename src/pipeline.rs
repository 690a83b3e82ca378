//! One poll of one feed, start to finish: fetch → parse → dedup → match → store, and the
//! feed's next due time. The daemon and `once` both call [`poll_feed`]; only this module knows
//! the order of the stages. A failing feed is a [`PollReport`], never an error.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use tracing::{debug, info, warn};
use url::Url;

use crate::config::{ArticlePolicy, Config, FeedConfig, FeedSource, FirstPoll};
use crate::feed_state::{self, FeedInfo, Status};
use crate::fetch::{FetchError, FetchOutcome, Fetched, Fetcher, Validators};
use crate::matching::match_topics;
use crate::metrics::{Metrics, PollOutcome, Stage};
use crate::model::{AlertRoute, FeedId, FeedState, Item, MatchedItem, Notice, rfc3339};
use crate::parse::{Caps, ParsedFeed, page_text, panic_message, parse_feed_capped};
use crate::store::{
    Claim, CommitQueue, Committed, OwnedCommit, SharedStore, WriteHealth, blocking, lock,
};
use crate::story;
use crate::text::{feed_links, for_log, looks_like_html, sanitize};

mod articles;
mod discovery;
mod process;
mod state;

use articles::*;
use discovery::*;
pub use discovery::{fetch_feed, probe_feed};
use process::*;
use state::*;

/// The most characters of one feed-derived value (a title, an error) in a log line.
const LOG_CHARS: usize = 300;

/// What a poll needs besides the feed: the HTTP client, the store, the compiled topics, and
/// where logged matches go next (the alert routes, and the worker to wake).
#[derive(Debug, Clone)]
pub struct PollContext {
    pub fetcher: Fetcher,
    pub store: SharedStore,
    /// A second connection to the same database, for the reads of a poll (which items are
    /// known): in WAL mode they need not wait for the writes of other polls on `store`.
    pub reader: SharedStore,
    /// The polls waiting to be written to `store`, written together.
    pub commits: Arc<CommitQueue>,
    pub config: Arc<Config>,
    /// One per configured alert sink; the store writes an outbox row per match and route.
    pub routes: Arc<Vec<AlertRoute>>,
    /// Notified when a poll wrote outbox rows.
    pub outbox_written: crate::alert::OutboxSignal,
    /// Counters for the status endpoint.
    pub metrics: Arc<Metrics>,
    /// Whether the store could write the last time anything tried.
    pub write_health: WriteHealth,
    /// Permits for processing a fetched body (parse, dedup, match, store), which is CPU
    /// work: the daemon gives about one per core. Fetches wait on the network and run many
    /// at once; more bodies processed at once than cores only holds more of them in memory.
    pub processing: Arc<Semaphore>,
    /// One lock per host for article fetches, shared by all polls: at most one request at a
    /// time to a site, however many feeds link to it.
    pub article_hosts: Arc<HostLocks>,
}

/// A lock per host name, created on first use and dropped when nobody holds or waits for it.
#[derive(Debug, Default)]
pub struct HostLocks {
    locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl HostLocks {
    /// Waits for `host`'s turn; the turn ends when the guard is dropped.
    async fn lock(&self, host: &str) -> HostTurn<'_> {
        let lock = self
            .locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(host.to_string())
            .or_default()
            .clone();
        let guard = lock.clone().lock_owned().await;
        HostTurn {
            locks: self,
            host: host.to_string(),
            guard: Some(guard),
        }
    }
}

/// A host's turn (see [`HostLocks::lock`]).
struct HostTurn<'a> {
    locks: &'a HostLocks,
    host: String,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for HostTurn<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut locks = self
            .locks
            .locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Only the map holds it: nobody waits, so the entry can go.
        if locks
            .get(&self.host)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            locks.remove(&self.host);
        }
    }
}

/// How one poll went, for the log, `once` and the scheduler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollReport {
    pub feed: String,
    pub status: PollStatus,
    /// When the feed is due again; `None` when it is not polled again (gone).
    pub next_due: Option<DateTime<Utc>>,
}

/// The result of a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollStatus {
    /// A body was fetched and processed.
    Fetched {
        n_items: usize,
        new_items: usize,
        new_matches: usize,
        /// The feed's first successful poll, taken as a baseline: its matches were logged as
        /// backfill and not alerted (`first_poll = "baseline"`).
        baseline: bool,
    },
    /// 304 Not Modified.
    NotModified,
    /// The poll failed; the message says why (HTTP status, network error, parse error, …).
    Failed { message: String },
    /// 410 Gone, now or earlier: the feed is not polled until the config gives another URL.
    Gone,
    /// Another daemon on the same PostgreSQL database holds the feed's lease, or polled it
    /// since this one scheduled it: not polled here.
    Leased,
}

/// Polls one feed and records the outcome. `feed_id` is the feed's row in the store.
#[tracing::instrument(name = "poll", skip_all, fields(feed = %sanitize(&feed.name), url = %feed.source))]
pub async fn poll_feed(context: &PollContext, feed: &FeedConfig, feed_id: FeedId) -> PollReport {
    // Read when the poll starts (a daemon beside `once` may have changed it), on the reading
    // connection: it need not wait for other polls' writes.
    let reader = context.reader.clone();
    let read = blocking(move || {
        let reader = lock(&reader);
        // With several daemons on one PostgreSQL database, only the holder of the feed's
        // lease polls it (always this one on SQLite).
        match reader.claim_feed(feed_id, Utc::now())? {
            Claim::Claimed => reader.feed_state(feed_id).map(Ok),
            Claim::Busy { until } => Ok(Err(until)),
        }
    })
    .await;
    let mut state = match read {
        Ok(Ok(state)) => state,
        Ok(Err(until)) => {
            debug!(until = %until, "leased by another node");
            return PollReport {
                feed: feed.name.clone(),
                status: PollStatus::Leased,
                next_due: Some(until),
            };
        }
        Err(error) => {
            // Without its state the feed cannot be recorded either; report and back off.
            let mut state = FeedState::default();
            let (report, _) = fail(
                &mut state,
                context,
                feed,
                Utc::now(),
                Status::Error,
                error.to_string(),
                None,
            );
            return report;
        }
    };
    if state.gone {
        return PollReport {
            feed: feed.name.clone(),
            status: PollStatus::Gone,
            next_due: None,
        };
    }
    // A feed that moved is polled at its new address, which counts as configured only on
    // the config URL's host (a 301 to another host came from the server, not the operator).
    let moved = match (&feed.source, &state.moved_to) {
        (FeedSource::Http(configured), Some(moved)) => {
            Url::parse(moved).ok().map(|moved| (moved, configured))
        }
        _ => None,
    };
    let validators = Validators {
        etag: state.etag.clone(),
        last_modified: state.last_modified.clone(),
    };
    let own_client;
    let fetcher = match &feed.user_agent {
        Some(user_agent) => {
            own_client = context.fetcher.with_user_agent(user_agent);
            &own_client
        }
        None => &context.fetcher,
    };
    let started = Instant::now();
    let outcome = match &moved {
        Some((moved, configured)) => {
            fetcher
                .fetch_for(moved, configured, &validators, Utc::now())
                .await
        }
        None => fetcher.fetch(&feed.source, &validators, Utc::now()).await,
    };
    let fetch_time = started.elapsed();
    context.metrics.stage(Stage::Fetch, fetch_time);
    let now = Utc::now();
    let outcome = match outcome {
        // A discovered feed that is no more: back to the page that linked it.
        FetchOutcome::Gone | FetchOutcome::Failed(FetchError::Status { status: 404 })
            if state.discovered && state.moved_to.is_some() =>
        {
            let status = if outcome == FetchOutcome::Gone {
                410
            } else {
                404
            };
            let message = feed_state::lose_discovery(&mut state, status, &feed.source.to_string())
                .expect("the guard checked that the feed polled is a discovered one");
            FetchOutcome::Failed(FetchError::Network(message))
        }
        other => other,
    };
    let (report, notice) = match outcome {
        FetchOutcome::Fetched(fetched) => {
            // Recorded even if the body then fails to parse: the address did move.
            note_move(&mut state, fetched.moved_to.as_ref());
            // What a successful poll commits: with a discovered feed, where it is.
            let mut committed = state.clone();
            let body = if looks_like_html(&fetched.body) {
                follow_feed_link(&context.fetcher, &feed.source, fetched, now)
                    .await
                    .map(|(body, url)| {
                        note_discovery(&mut committed, url);
                        body
                    })
            } else {
                Ok(fetched)
            };
            let processed = match body {
                Ok(body) => process_body(context, feed, feed_id, body, committed, now).await,
                Err(message) => Err(message),
            };
            match processed {
                // The new state was committed with the items.
                Ok(report) => {
                    context
                        .metrics
                        .poll(&feed.name, PollOutcome::Ok, fetch_time);
                    return report;
                }
                Err(message) => fail(&mut state, context, feed, now, Status::Error, message, None),
            }
        }
        FetchOutcome::NotModified { moved_to } => {
            debug!("not modified");
            note_move(&mut state, moved_to.as_ref());
            let (next_due, notice) =
                succeed(&mut state, context, feed, now, Status::NotModified, 0);
            let report = PollReport {
                feed: feed.name.clone(),
                status: PollStatus::NotModified,
                next_due: Some(next_due),
            };
            (report, notice)
        }
        FetchOutcome::Throttled {
            status,
            retry_after,
        } => {
            let message = match retry_after {
                Some(wait) => format!("throttled: http {status}, retry after {}s", wait.as_secs()),
                None => format!("throttled: http {status}"),
            };
            fail(
                &mut state,
                context,
                feed,
                now,
                Status::Throttled,
                message,
                retry_after,
            )
        }
        FetchOutcome::Gone => {
            warn!("gone: http 410; not polled again until the config gives this feed another url");
            feed_state::gone(&mut state, now);
            let report = PollReport {
                feed: feed.name.clone(),
                status: PollStatus::Gone,
                next_due: None,
            };
            (report, None)
        }
        FetchOutcome::Failed(error) => {
            let status = match &error {
                FetchError::Status { status } => Status::Http(*status),
                _ => Status::Error,
            };
            fail(
                &mut state,
                context,
                feed,
                now,
                status,
                error.to_string(),
                None,
            )
        }
    };
    context.metrics.poll(
        &feed.name,
        match report.status {
            PollStatus::Fetched { .. } => PollOutcome::Ok,
            PollStatus::NotModified => PollOutcome::NotModified,
            PollStatus::Failed { .. } => PollOutcome::Failed,
            PollStatus::Gone => PollOutcome::Gone,
            PollStatus::Leased => unreachable!("a leased feed returns before it is fetched"),
        },
        fetch_time,
    );
    // The new state (and the notice the poll raised), with the other polls waiting for the
    // store.
    let wrote_notice = notice.is_some();
    let commit = OwnedCommit {
        feed_id,
        items: Vec::new(),
        state,
        now,
        routes: context.routes.clone(),
        notice,
        policy: context.config.daemon.stories,
        baseline: false,
        body: false,
    };
    let started = Instant::now();
    let committed = context.commits.commit_async(&context.store, commit).await;
    account_write(context, &committed, started);
    match committed.result {
        Ok(_) if wrote_notice => context.outbox_written.notify(),
        Ok(_) => {}
        Err(error) => warn!(error = %error, "cannot save feed state"),
    }
    report
}

/// Writes a poll's commit with the other polls waiting for the store ([`CommitQueue`]),
/// counts its time as writing or waiting, and notes in `write_health` how it went. Blocks.
fn write(context: &PollContext, commit: OwnedCommit) -> Committed {
    let started = Instant::now();
    let committed = context.commits.commit(&context.store, commit);
    account_write(context, &committed, started);
    committed
}

/// Counts a commit's time (since `started`) as writing or waiting, and notes in
/// `write_health` how it went.
fn account_write(context: &PollContext, committed: &Committed, started: Instant) {
    context.metrics.stage(Stage::Store, committed.writing);
    context.metrics.stage(
        Stage::StoreWait,
        started.elapsed().saturating_sub(committed.writing),
    );
    context.write_health.record(&committed.result);
}

/// What one parse keeps, from `[daemon] max_items_per_poll` and `max_field_chars`.
pub fn caps(config: &Config) -> Caps {
    Caps {
        max_items: config.daemon.max_items_per_poll,
        max_field_chars: config.daemon.max_field_chars,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_missing_pages_are_final_article_failures() {
        let status = |status| FetchOutcome::Failed(FetchError::Status { status });
        assert!(is_final(&FetchOutcome::Gone));
        assert!(is_final(&status(404)));
        assert!(is_final(&status(403)));
        for temporary in [
            status(408),
            status(429),
            status(500),
            FetchOutcome::Failed(FetchError::Timeout(std::time::Duration::from_secs(2))),
            FetchOutcome::Throttled {
                status: 503,
                retry_after: None,
            },
        ] {
            assert!(!is_final(&temporary), "{temporary:?}");
        }
    }

    #[tokio::test]
    async fn host_turns_take_one_at_a_time_and_leave_no_entry_behind() {
        let locks = Arc::new(HostLocks::default());
        let first = locks.lock("news.example").await;
        // Another host is not held up.
        drop(locks.lock("other.example").await);
        let waiter = {
            let locks = locks.clone();
            tokio::spawn(async move {
                let _turn = locks.lock("news.example").await;
            })
        };
        // The second turn on the same host waits for the first.
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(first);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("the second turn starts once the first ends")
            .unwrap();
        assert!(locks.locks.lock().unwrap().is_empty());
    }
}
