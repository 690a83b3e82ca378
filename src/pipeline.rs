//! One poll of one feed, start to finish: fetch → parse → dedup → match → store, and the
//! feed's next due time. The daemon and `once` both call [`poll_feed`]; only this module knows
//! the order of the stages. A failing feed is a [`PollReport`], never an error.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tracing::{debug, info, warn};

use crate::config::{Config, FeedConfig, FeedSource};
use crate::fetch::{FetchError, FetchOutcome, Fetched, Fetcher, Validators};
use crate::model::{FeedState, Item, MatchedItem, TopicMatch};
use crate::parse::{ParsedFeed, panic_message, parse_feed};
use crate::query::{Document, Fields};
use crate::scheduler::{self, Attempt};
use crate::store::Store;

/// The store shared by every poll of the process; locked only inside blocking sections.
pub type SharedStore = Arc<Mutex<Store>>;

/// What a poll needs besides the feed: the HTTP client, the store and the compiled topics.
#[derive(Debug, Clone)]
pub struct PollContext {
    pub fetcher: Fetcher,
    pub store: SharedStore,
    pub config: Arc<Config>,
}

/// How one poll went, for the log, `once` and the scheduler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollReport {
    pub feed: String,
    pub status: PollStatus,
    /// When the feed is due again.
    pub next_due: DateTime<Utc>,
}

/// The result of a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollStatus {
    /// A body was fetched and processed.
    Fetched {
        n_items: usize,
        new_items: usize,
        new_matches: usize,
    },
    /// 304 Not Modified.
    NotModified,
    /// The poll failed; the message says why (HTTP status, network error, parse error, …).
    Failed { message: String },
}

/// Polls one feed and records the outcome. `feed_id` is the feed's row in the store.
#[tracing::instrument(name = "poll", skip_all, fields(feed = %feed.name, url = %feed.source))]
pub async fn poll_feed(context: &PollContext, feed: &FeedConfig, feed_id: i64) -> PollReport {
    let store = context.store.clone();
    let mut state = match blocking(move || lock(&store).feed_state(feed_id)).await {
        Ok(state) => state,
        Err(error) => {
            // Without its state the feed cannot be recorded either; report and back off.
            let mut state = FeedState::default();
            return fail(
                &mut state,
                feed,
                Utc::now(),
                "error",
                error.to_string(),
                None,
            );
        }
    };
    let validators = Validators {
        etag: state.etag.clone(),
        last_modified: state.last_modified.clone(),
    };
    let outcome = context
        .fetcher
        .fetch(&feed.source, &validators, Utc::now())
        .await;
    let now = Utc::now();
    let report = match outcome {
        FetchOutcome::Fetched(fetched) => {
            let (task_context, task_feed) = (context.clone(), feed.clone());
            let task_state = state.clone();
            let processed = blocking(move || {
                // Parsing and matching run on text written by strangers: a panic in them (a
                // bug) fails this poll, it does not take the daemon down.
                catch_unwind(AssertUnwindSafe(|| {
                    process_body(&task_context, &task_feed, feed_id, fetched, task_state, now)
                }))
                .unwrap_or_else(|panic| Err(format!("internal error: {}", panic_message(&*panic))))
            })
            .await;
            match processed {
                // The new state was committed with the items.
                Ok(report) => return report,
                Err(message) => fail(&mut state, feed, now, "error", message, None),
            }
        }
        FetchOutcome::NotModified => {
            debug!("not modified");
            PollReport {
                feed: feed.name.clone(),
                status: PollStatus::NotModified,
                next_due: succeed(&mut state, feed, now, "not modified"),
            }
        }
        FetchOutcome::Throttled {
            status,
            retry_after,
        } => {
            let message = match retry_after {
                Some(wait) => format!("throttled: http {status}, retry after {}s", wait.as_secs()),
                None => format!("throttled: http {status}"),
            };
            fail(&mut state, feed, now, "throttled", message, retry_after)
        }
        FetchOutcome::Gone => fail(&mut state, feed, now, "gone", "gone: http 410".into(), None),
        FetchOutcome::Failed(error) => {
            let status = match &error {
                FetchError::Status { status } => format!("http {status}"),
                _ => "error".to_string(),
            };
            fail(&mut state, feed, now, &status, error.to_string(), None)
        }
    };
    let store = context.store.clone();
    if let Err(error) = blocking(move || lock(&store).save_state(feed_id, &state)).await {
        warn!(error = %error, "cannot save feed state");
    }
    report
}

/// Fetches and parses a feed once, storing nothing (`check --online`). Returns the number of
/// items, or what went wrong.
pub async fn probe_feed(fetcher: &Fetcher, feed: &FeedConfig) -> Result<usize, String> {
    fetch_feed(fetcher, &feed.source)
        .await
        .map(|parsed| parsed.items.len())
}

/// Fetches (unconditionally) and parses a feed once: `check --online` and `test --feed`.
pub async fn fetch_feed(fetcher: &Fetcher, source: &FeedSource) -> Result<ParsedFeed, String> {
    match fetcher
        .fetch(source, &Validators::default(), Utc::now())
        .await
    {
        FetchOutcome::Fetched(fetched) => parse_feed(
            &fetched.body,
            fetched.charset.as_deref(),
            Some(&fetched.final_url),
        )
        .map_err(|error| error.to_string()),
        FetchOutcome::NotModified => Err("http 304 to an unconditional request".into()),
        FetchOutcome::Throttled { status, .. } => Err(format!("throttled: http {status}")),
        FetchOutcome::Gone => Err("gone: http 410".into()),
        FetchOutcome::Failed(error) => Err(error.to_string()),
    }
}

/// Evaluates every topic of `config` on an item (through the prefilter), in topic order. Pure.
pub fn match_topics(config: &Config, item: &Item, feed_name: &str) -> Vec<TopicMatch> {
    config
        .matcher
        .evaluate(&document_of(item, feed_name))
        .into_iter()
        .map(|(topic_idx, hits)| TopicMatch {
            topic: config.topics[topic_idx].id.clone(),
            hits,
        })
        .collect()
}

/// An item prepared for matching; `feed_name` is what `feed:` matches.
pub fn document_of(item: &Item, feed_name: &str) -> Document {
    Document::new(&Fields {
        title: &item.title,
        summary: &item.summary,
        content: &item.content,
        link: item.url.as_deref().unwrap_or(""),
        authors: &item.authors,
        categories: &item.categories,
        feed: feed_name,
    })
}

/// Parse → dedup → match → store, on a blocking thread. On success the feed's new state is
/// committed with its items; on failure the message says what went wrong and nothing is
/// written.
fn process_body(
    context: &PollContext,
    feed: &FeedConfig,
    feed_id: i64,
    fetched: Fetched,
    mut state: FeedState,
    now: DateTime<Utc>,
) -> Result<PollReport, String> {
    let parsed = match parse_feed(
        &fetched.body,
        fetched.charset.as_deref(),
        Some(&fetched.final_url),
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
    let n_items = parsed.items.len();
    let known = lock(&context.store)
        .known_keys(feed_id, &parsed.items)
        .map_err(|error| error.to_string())?;
    let new_items: Vec<MatchedItem> = parsed
        .items
        .into_iter()
        .filter(|item| !known.contains(&item.key))
        .map(|item| {
            let matches = match_topics(&context.config, &item, &feed.name);
            MatchedItem { item, matches }
        })
        .collect();
    state.etag = fetched.validators.etag;
    state.last_modified = fetched.validators.last_modified;
    let next_due = succeed(&mut state, feed, now, "ok");
    let summary = lock(&context.store)
        .commit_poll(feed_id, &new_items, &state, now)
        .map_err(|error| error.to_string())?;
    for &(item_idx, match_idx) in &summary.logged {
        let item = &new_items[item_idx].item;
        let topic_match = &new_items[item_idx].matches[match_idx];
        let terms: Vec<&str> = topic_match
            .hits
            .iter()
            .map(|hit| hit.term.as_str())
            .collect();
        info!(
            topic = %topic_match.topic,
            title = %item.title,
            url = %item.url.as_deref().unwrap_or("-"),
            terms = ?terms,
            "match"
        );
    }
    if summary.new_items > 0 {
        info!(
            items = n_items,
            new_items = summary.new_items,
            new_matches = summary.new_matches,
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
        },
        next_due,
    })
}

/// Marks a successful poll in `state` and returns the next due time.
fn succeed(
    state: &mut FeedState,
    feed: &FeedConfig,
    now: DateTime<Utc>,
    status: &str,
) -> DateTime<Utc> {
    let next_due = scheduler::next_due(now, feed.interval, Attempt::Succeeded, 0, jitter());
    state.next_due = Some(next_due);
    state.last_polled = Some(now);
    state.last_success = Some(now);
    state.consecutive_errors = 0;
    state.last_error = None;
    state.last_status = Some(status.to_string());
    next_due
}

/// Marks a failed poll in `state`, logs it, and returns its report with the backoff.
/// `status` is the short form for `feeds` (`http 503`, `gone`, `error`).
fn fail(
    state: &mut FeedState,
    feed: &FeedConfig,
    now: DateTime<Utc>,
    status: &str,
    message: String,
    retry_after: Option<std::time::Duration>,
) -> PollReport {
    state.consecutive_errors = state.consecutive_errors.saturating_add(1);
    let attempt = Attempt::Failed { retry_after };
    let next_due = scheduler::next_due(
        now,
        feed.interval,
        attempt,
        state.consecutive_errors,
        jitter(),
    );
    warn!(
        error = %message,
        consecutive_errors = state.consecutive_errors,
        retry_at = %next_due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "poll failed"
    );
    state.next_due = Some(next_due);
    state.last_polled = Some(now);
    state.last_status = Some(status.to_string());
    state.last_error = Some(message.clone());
    PollReport {
        feed: feed.name.clone(),
        status: PollStatus::Failed { message },
        next_due,
    }
}

fn jitter() -> f64 {
    fastrand::f64() * 2.0 - 1.0
}

fn lock(store: &SharedStore) -> std::sync::MutexGuard<'_, Store> {
    // A panic while holding the lock cannot leave the database half-written (SQLite rolls
    // the transaction back), so a poisoned lock is safe to reuse.
    store
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn blocking<T, F>(work: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // Keep the poll's span (feed name, url) on the blocking thread's log lines.
    let span = tracing::Span::current();
    match tokio::task::spawn_blocking(move || span.in_scope(work)).await {
        Ok(value) => value,
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}
