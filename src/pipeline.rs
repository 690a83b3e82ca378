//! One poll of one feed, start to finish: fetch → parse → dedup → match → store, and the
//! feed's next due time. The daemon and `once` both call [`poll_feed`]; only this module knows
//! the order of the stages. A failing feed is a [`PollReport`], never an error.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, Semaphore};
use tracing::{debug, info, warn};
use url::Url;

use crate::config::{Config, FeedConfig, FeedSource};
use crate::fetch::{FetchError, FetchOutcome, Fetched, Fetcher, Validators};
use crate::metrics::{Metrics, PollOutcome};
use crate::model::{
    AlertRoute, FeedState, Item, MatchedItem, Notice, NoticeKind, TopicMatch, rfc3339,
};
use crate::parse::{ParsedFeed, panic_message, parse_feed};
use crate::query::{Document, Fields};
use crate::scheduler::{self, Attempt};
use crate::store::{SharedStore, lock};
use crate::story;
use crate::text::sanitize;

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
    pub outbox_written: Arc<Notify>,
    /// Counters for the status endpoint.
    pub metrics: Arc<Metrics>,
    /// Permits for processing a fetched body (parse, dedup, match, store), which is CPU
    /// work: the daemon gives about one per core. Fetches wait on the network and run many
    /// at once; more bodies processed at once than cores only holds more of them in memory.
    pub processing: Arc<Semaphore>,
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
    },
    /// 304 Not Modified.
    NotModified,
    /// The poll failed; the message says why (HTTP status, network error, parse error, …).
    Failed { message: String },
    /// 410 Gone, now or earlier: the feed is not polled until the config gives another URL.
    Gone,
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
            let (report, _) = fail(
                &mut state,
                context,
                feed,
                Utc::now(),
                "error",
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
    let source = match (&feed.source, &state.moved_to) {
        (FeedSource::Http(_), Some(moved)) => match Url::parse(moved) {
            Ok(url) => FeedSource::Http(url),
            Err(_) => feed.source.clone(),
        },
        _ => feed.source.clone(),
    };
    let validators = Validators {
        etag: state.etag.clone(),
        last_modified: state.last_modified.clone(),
    };
    let started = Instant::now();
    let outcome = context
        .fetcher
        .fetch(&source, &validators, Utc::now())
        .await;
    let fetch_time = started.elapsed();
    let now = Utc::now();
    let (report, notice) = match outcome {
        FetchOutcome::Fetched(fetched) => {
            // Recorded even if the body then fails to parse: the address did move.
            note_move(&mut state, fetched.moved_to.as_ref());
            let (task_context, task_feed) = (context.clone(), feed.clone());
            let task_state = state.clone();
            let _permit = context
                .processing
                .acquire()
                .await
                .expect("the processing semaphore is never closed");
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
                Ok(report) => {
                    context.metrics.poll(PollOutcome::Ok, fetch_time);
                    return report;
                }
                Err(message) => fail(&mut state, context, feed, now, "error", message, None),
            }
        }
        FetchOutcome::NotModified { moved_to } => {
            debug!("not modified");
            note_move(&mut state, moved_to.as_ref());
            let (next_due, notice) = succeed(&mut state, feed, now, "not modified");
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
                "throttled",
                message,
                retry_after,
            )
        }
        FetchOutcome::Gone => {
            warn!("gone: http 410; not polled again until the config gives this feed another url");
            state.gone = true;
            state.last_polled = Some(now);
            state.next_due = None;
            state.last_status = Some("gone".into());
            state.last_error = Some("http 410 gone".into());
            let report = PollReport {
                feed: feed.name.clone(),
                status: PollStatus::Gone,
                next_due: None,
            };
            (report, None)
        }
        FetchOutcome::Failed(error) => {
            let status = match &error {
                FetchError::Status { status } => format!("http {status}"),
                _ => "error".to_string(),
            };
            fail(
                &mut state,
                context,
                feed,
                now,
                &status,
                error.to_string(),
                None,
            )
        }
    };
    context.metrics.poll(
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
    match saved {
        Ok(()) if wrote_notice => context.outbox_written.notify_one(),
        Ok(()) => {}
        Err(error) => warn!(error = %error, "cannot save feed state"),
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

/// Records a permanent move (every redirect on the way a 301 or 308) in `state`, and says so.
fn note_move(state: &mut FeedState, moved_to: Option<&String>) {
    if let Some(moved) = moved_to
        && state.moved_to.as_ref() != Some(moved)
    {
        info!(to = %moved, "feed moved permanently (301/308); polling the new address from now on");
        state.moved_to = Some(moved.clone());
    }
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
        FetchOutcome::NotModified { .. } => Err("http 304 to an unconditional request".into()),
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
            // Pure CPU work, done here so it runs in parallel, not under the store's lock.
            let story = Some(story::keys(&item));
            MatchedItem {
                item,
                matches,
                story,
            }
        })
        .collect();
    state.etag = fetched.validators.etag;
    state.last_modified = fetched.validators.last_modified;
    let (next_due, notice) = succeed(&mut state, feed, now, "ok");
    let summary = lock(&context.store)
        .commit_poll(
            feed_id,
            &new_items,
            &state,
            now,
            &context.routes,
            notice.as_ref(),
            &context.config.daemon.stories,
        )
        .map_err(|error| error.to_string())?;
    context.metrics.stored(
        summary.new_items,
        summary
            .logged
            .iter()
            .map(|&(item, m)| new_items[item].matches[m].topic.as_str()),
    );
    if summary.new_deliveries > 0 {
        context.outbox_written.notify_one();
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
            title = %sanitize(&item.title),
            url = %item.url.as_deref().map_or_else(|| "-".into(), sanitize),
            terms = ?terms,
            "match"
        );
    }
    if summary.new_items > 0 {
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
        },
        next_due: Some(next_due),
    })
}

/// Marks a successful poll in `state`; returns the next due time, and a `feed_recovered`
/// notice when a `feed_dead` one went out for the failures this success ends.
fn succeed(
    state: &mut FeedState,
    feed: &FeedConfig,
    now: DateTime<Utc>,
    status: &str,
) -> (DateTime<Utc>, Option<Notice>) {
    let next_due = scheduler::next_due(now, feed.interval, Attempt::Succeeded, 0, jitter());
    let notice = match state.failing_since {
        Some(since) if state.dead_notified => {
            info!(failing_since = %rfc3339(since), "feed recovered");
            Some(feed_notice(
                NoticeKind::FeedRecovered,
                state,
                feed,
                since,
                now,
                None,
            ))
        }
        _ => None,
    };
    state.next_due = Some(next_due);
    state.last_polled = Some(now);
    state.last_success = Some(now);
    state.consecutive_errors = 0;
    state.last_error = None;
    state.last_status = Some(status.to_string());
    state.failing_since = None;
    state.dead_notified = false;
    (next_due, notice)
}

/// Marks a failed poll in `state` and logs it; returns its report with the backoff, and a
/// `feed_dead` notice when the feed has now been failing for longer than `dead_after`.
/// `status` is the short form for `feeds` (`http 503`, `throttled`, `error`).
fn fail(
    state: &mut FeedState,
    context: &PollContext,
    feed: &FeedConfig,
    now: DateTime<Utc>,
    status: &str,
    message: String,
    retry_after: Option<std::time::Duration>,
) -> (PollReport, Option<Notice>) {
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
        retry_at = %rfc3339(next_due),
        "poll failed"
    );
    let since = *state.failing_since.get_or_insert(now);
    let dead_after = chrono::Duration::from_std(context.config.daemon.dead_after)
        .unwrap_or(chrono::Duration::MAX);
    let notice = (!state.dead_notified && now - since >= dead_after).then(|| {
        warn!(failing_since = %rfc3339(since), "feed dead: failing for longer than dead_after");
        state.dead_notified = true;
        feed_notice(
            NoticeKind::FeedDead,
            state,
            feed,
            since,
            now,
            Some(message.clone()),
        )
    });
    state.next_due = Some(next_due);
    state.last_polled = Some(now);
    state.last_status = Some(status.to_string());
    state.last_error = Some(message.clone());
    let report = PollReport {
        feed: feed.name.clone(),
        status: PollStatus::Failed { message },
        next_due: Some(next_due),
    };
    (report, notice)
}

/// A notice about `feed`, naming the address it is polled at (after a permanent move).
fn feed_notice(
    event: NoticeKind,
    state: &FeedState,
    feed: &FeedConfig,
    failing_since: DateTime<Utc>,
    at: DateTime<Utc>,
    error: Option<String>,
) -> Notice {
    Notice {
        event,
        feed: feed.name.clone(),
        url: state
            .moved_to
            .clone()
            .unwrap_or_else(|| feed.source.to_string()),
        failing_since,
        at,
        error,
    }
}

fn jitter() -> f64 {
    fastrand::f64() * 2.0 - 1.0
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
