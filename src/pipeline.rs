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
use crate::metrics::{Metrics, PollOutcome};
use crate::model::{AlertRoute, FeedId, FeedState, Item, MatchedItem, Notice, rfc3339};
use crate::parse::{Caps, ParsedFeed, page_text, panic_message, parse_feed_capped};
use crate::store::{PollCommit, SharedStore, WriteHealth, blocking, lock};
use crate::story;
use crate::text::{feed_links, for_log, looks_like_html, sanitize};

mod articles;
mod discovery;
mod state;

use articles::*;
use discovery::*;
pub use discovery::{fetch_feed, probe_feed};
use state::*;

/// The most characters of one feed-derived value (a title, an error) in a log line.
const LOG_CHARS: usize = 300;

/// What a poll needs besides the feed: the HTTP client, the store, the compiled topics, and
/// where logged matches go next (the alert routes, and the worker to wake).
#[derive(Debug, Clone)]
pub struct PollContext {
    pub fetcher: Fetcher,
    pub store: SharedStore,
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
}

/// Polls one feed and records the outcome. `feed_id` is the feed's row in the store.
#[tracing::instrument(name = "poll", skip_all, fields(feed = %sanitize(&feed.name), url = %feed.source))]
pub async fn poll_feed(context: &PollContext, feed: &FeedConfig, feed_id: FeedId) -> PollReport {
    let store = context.store.clone();
    let mut state = match blocking(move || lock(&store).feed_state(feed_id)).await {
        Ok(state) => state,
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
        },
        fetch_time,
    );
    let (store, routes) = (context.store.clone(), context.routes.clone());
    let wrote_notice = notice.is_some();
    let saved =
        blocking(move || lock(&store).save_state(feed_id, &state, notice.as_ref(), &routes)).await;
    context.write_health.record(&saved);
    match saved {
        Ok(()) if wrote_notice => context.outbox_written.notify(),
        Ok(()) => {}
        Err(error) => warn!(error = %error, "cannot save feed state"),
    }
    report
}

/// What one parse keeps, from `[daemon] max_items_per_poll` and `max_field_chars`.
pub fn caps(config: &Config) -> Caps {
    Caps {
        max_items: config.daemon.max_items_per_poll,
        max_field_chars: config.daemon.max_field_chars,
    }
}

/// Parse → dedup → (articles) → match → store. The CPU work runs on blocking threads under a
/// processing permit, released while articles are fetched. On success the feed's new state
/// is committed with its items; on failure the message says what went wrong and nothing is
/// written.
async fn process_body(
    context: &PollContext,
    feed: &FeedConfig,
    feed_id: FeedId,
    fetched: Fetched,
    state: FeedState,
    now: DateTime<Utc>,
) -> Result<PollReport, String> {
    let processing = || async {
        context
            .processing
            .acquire()
            .await
            .expect("the processing semaphore is never closed")
    };
    let permit = processing().await;
    let task_context = context.clone();
    let mut fresh = run_caught(move || new_items(&task_context, feed_id, fetched, now)).await?;
    if fresh
        .items
        .iter()
        .any(|item| wants_article(context, feed, item))
    {
        drop(permit);
        attach_articles(context, feed, &mut fresh.items).await;
        let _permit = processing().await;
        let (task_context, task_feed) = (context.clone(), feed.clone());
        run_caught(move || store_new(&task_context, &task_feed, feed_id, fresh, state, now)).await
    } else {
        let (task_context, task_feed) = (context.clone(), feed.clone());
        let report =
            run_caught(move || store_new(&task_context, &task_feed, feed_id, fresh, state, now))
                .await;
        drop(permit);
        report
    }
}

/// Runs `work` on a blocking thread. Parsing and matching run on text written by strangers:
/// a panic in them (a bug) fails this poll, it does not take the daemon down.
async fn run_caught<T, F>(work: F) -> Result<T, String>
where
    F: FnOnce() -> Result<T, String> + Send + 'static,
    T: Send + 'static,
{
    blocking(move || {
        catch_unwind(AssertUnwindSafe(work))
            .unwrap_or_else(|panic| Err(format!("internal error: {}", panic_message(&*panic))))
    })
    .await
}

/// A fetched body's items that the store has not seen, and what to save with them.
struct NewItems {
    /// How many items the feed had (those past `max_items_per_poll` too).
    n_items: usize,
    items: Vec<Item>,
    validators: Validators,
    /// What the parse says a reader of `feeds` should know (a repaired, cut-off document; no
    /// items read from a body that seems to have some).
    notices: Vec<String>,
}

/// Parse and dedup: the items of a fetched body that are new for this feed.
fn new_items(
    context: &PollContext,
    feed_id: FeedId,
    fetched: Fetched,
    now: DateTime<Utc>,
) -> Result<NewItems, String> {
    let parsed = match parse_feed_capped(
        &fetched.body,
        fetched.charset.as_deref(),
        Some(&fetched.final_url),
        caps(&context.config),
    ) {
        Ok(parsed) => parsed,
        Err(error) => {
            let message = match &fetched.content_type {
                Some(content_type) => format!("{error} (content-type {content_type})"),
                None => error.to_string(),
            };
            return Err(message);
        }
    };
    for notice in &parsed.notices {
        warn!("{notice}");
    }
    let kept = parsed.items.len();
    // What the feed lists, kept or not.
    let n_items = kept + parsed.dropped_items;
    if parsed.dropped_items > 0 {
        warn!(
            kept,
            dropped = parsed.dropped_items,
            max_items_per_poll = context.config.daemon.max_items_per_poll,
            "feed lists more items than max_items_per_poll: kept the first {kept} in feed order, dropped {}",
            parsed.dropped_items
        );
    }
    if parsed.truncated_fields > 0 {
        warn!(
            fields = parsed.truncated_fields,
            max_field_chars = context.config.daemon.max_field_chars,
            "cut {} long fields to max_field_chars",
            parsed.truncated_fields
        );
    }
    let known = {
        let store = lock(&context.store);
        let known = store
            .known_keys(feed_id, &parsed.items)
            .map_err(|error| error.to_string())?;
        store
            .mark_still_listed(feed_id, &known, now)
            .map_err(|error| error.to_string())?;
        known
    };
    let items = parsed
        .items
        .into_iter()
        .filter(|item| !known.keys.contains(&item.key))
        .collect();
    Ok(NewItems {
        n_items,
        items,
        validators: fetched.validators,
        notices: parsed.notices,
    })
}

/// Match and store: the new items, their matches and the feed's new state, in one
/// transaction.
fn store_new(
    context: &PollContext,
    feed: &FeedConfig,
    feed_id: FeedId,
    fresh: NewItems,
    mut state: FeedState,
    now: DateTime<Utc>,
) -> Result<PollReport, String> {
    let n_items = fresh.n_items;
    let new_items: Vec<MatchedItem> = fresh
        .items
        .into_iter()
        .map(|item| {
            let matches = match_topics(&context.config, &item, &feed.name, now);
            // Pure CPU work, done here so it runs in parallel, not under the store's lock.
            let story = Some(story::keys(&item));
            MatchedItem {
                item,
                matches,
                story,
            }
        })
        .collect();
    state.etag = fresh.validators.etag;
    state.last_modified = fresh.validators.last_modified;
    let status = Status::parsed(n_items, !fresh.notices.is_empty());
    if n_items == 0
        && state.last_status.as_deref() != Some(status.to_string().as_str())
        && (state.last_status.as_deref() == Some("ok") || !fresh.notices.is_empty())
    {
        // Once, when a feed that had items (or seems to have some) starts to read as empty:
        // the poll itself succeeded, so nothing else would say so.
        warn!("the feed reads as 0 items");
    }
    // The first successful poll of a feed is a silent baseline unless the config says
    // otherwise: its matches are logged as backfill and not alerted.
    let baseline = feed.first_poll == FirstPoll::Baseline && state.last_success.is_none();
    let (next_due, notice) = succeed(&mut state, context, feed, now, status, new_items.len());
    // Shown in `feeds` beside the status until the next poll.
    state.last_error = fresh.notices.first().cloned();
    let committed = lock(&context.store).commit_poll(&PollCommit {
        feed_id,
        items: &new_items,
        state: &state,
        now,
        routes: &context.routes,
        notice: notice.as_ref(),
        policy: &context.config.daemon.stories,
        baseline,
    });
    context.write_health.record(&committed);
    let summary = committed.map_err(|error| error.to_string())?;
    context.metrics.stored(
        summary.new_items,
        summary
            .logged
            .iter()
            .map(|&(item, m)| new_items[item].matches[m].topic.as_str()),
    );
    if summary.new_deliveries > 0 {
        context.outbox_written.notify();
    }
    for &(item_idx, match_idx) in &summary.logged {
        let item = &new_items[item_idx].item;
        let topic_match = &new_items[item_idx].matches[match_idx];
        let mut terms: Vec<&str> = Vec::new();
        for hit in &topic_match.hits {
            if !terms.contains(&hit.term.as_str()) {
                terms.push(&hit.term);
            }
        }
        info!(
            topic = %topic_match.topic,
            title = %for_log(&item.title, LOG_CHARS),
            url = %item.url.as_deref().map_or_else(|| "-".into(), sanitize),
            terms = ?terms,
            "match"
        );
    }
    if baseline && summary.new_matches > 0 {
        info!(
            items = n_items,
            new_items = summary.new_items,
            new_matches = summary.new_matches,
            "first poll of the feed: its matches are logged as a baseline (backfill), not alerted"
        );
    } else if summary.new_items > 0 {
        info!(
            items = n_items,
            new_items = summary.new_items,
            new_matches = summary.new_matches,
            // Items recorded as further sources of matches logged before (copies of a story).
            new_sources = summary.new_sources,
            "polled"
        );
    } else {
        debug!(items = n_items, "polled, nothing new");
    }
    Ok(PollReport {
        feed: feed.name.clone(),
        status: PollStatus::Fetched {
            n_items,
            new_items: summary.new_items,
            new_matches: summary.new_matches,
            baseline,
        },
        next_due: Some(next_due),
    })
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
