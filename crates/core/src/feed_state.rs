//! A feed's life as plain data: what the outcome of one poll does to the feed's stored
//! state — the schedule (backoff, Retry-After), the status `feeds` shows, a permanent move, a
//! discovered feed and its loss, 410 Gone, and the `feed_dead` / `feed_recovered` notices.
//! Pure: `now` and the jitter are parameters, so every transition is tested with plain values
//! in milliseconds. The pipeline does the I/O, applies what these functions return and logs
//! it.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::model::{FeedState, Notice, NoticeKind};
use crate::scheduler::{self, Attempt};

/// The status of a poll, as `feeds` shows it and the store keeps it (its `Display` is the
/// stored text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// A body was read and its items stored.
    Ok,
    /// A body was read and had no items.
    OkNoItems,
    /// A body was read after a repair that may have lost items (a document cut short).
    OkRepaired,
    /// 304: nothing changed.
    NotModified,
    /// An HTTP error status.
    Http(u16),
    /// 429 or 503, perhaps with Retry-After.
    Throttled,
    /// Any other failure: the network, a timeout, a body that is no feed, the store.
    Error,
    /// 410: the feed is not polled again until the config names another URL.
    Gone,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Ok => f.write_str("ok"),
            Status::OkNoItems => f.write_str("ok, 0 items"),
            Status::OkRepaired => f.write_str("ok, repaired"),
            Status::NotModified => f.write_str("not modified"),
            Status::Http(status) => write!(f, "http {status}"),
            Status::Throttled => f.write_str("throttled"),
            Status::Error => f.write_str("error"),
            Status::Gone => f.write_str("gone"),
        }
    }
}

impl Status {
    /// The status of a poll whose body parsed: [`Status::OkNoItems`] when it has no items (a
    /// feed read as empty is shown as such), [`Status::OkRepaired`] when the parse has
    /// something to say, else [`Status::Ok`].
    pub fn parsed(n_items: usize, has_notices: bool) -> Status {
        match (n_items, has_notices) {
            (0, _) => Status::OkNoItems,
            (_, true) => Status::OkRepaired,
            (_, false) => Status::Ok,
        }
    }
}

/// What a transition needs to know of the feed besides its state.
#[derive(Debug, Clone, Copy)]
pub struct FeedInfo<'a> {
    /// The feed's name, for notices.
    pub name: &'a str,
    /// The configured address, which notices name unless the feed moved.
    pub configured_url: &'a str,
    /// Its poll interval.
    pub interval: Duration,
    /// How long it may fail before a `feed_dead` notice (`[daemon] dead_after`).
    pub dead_after: Duration,
    /// How long it may list nothing new before it counts as stale (`stale_after`; `None`:
    /// never).
    pub stale_after: Option<Duration>,
}

/// The status of a feed that answers but has listed nothing new for its `stale_after`.
pub const STALE: &str = "stale";

/// What a transition did, for the caller to log and to save with the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// When the feed is due next (`None` once it is gone).
    pub next_due: Option<DateTime<Utc>>,
    /// A `feed_dead` or `feed_recovered` notice to deliver with the state.
    pub notice: Option<Notice>,
}

/// A successful poll (a body read, or 304) with its status and how many items it brought
/// that were not seen before. Ends a run of failures; when a `feed_dead` notice went out for
/// it, a `feed_recovered` one goes out now. A feed that has brought nothing new for its
/// `stale_after` shows as [`STALE`], with one `feed_stale` notice until it brings something.
pub fn succeed(
    state: &mut FeedState,
    feed: &FeedInfo,
    status: Status,
    new_items: usize,
    now: DateTime<Utc>,
    jitter: f64,
) -> Transition {
    let next_due = scheduler::next_due(now, feed.interval, Attempt::Succeeded, 0, jitter);
    let notice = match state.failing_since {
        Some(since) if state.dead_notified => Some(notice(
            NoticeKind::FeedRecovered,
            state,
            feed,
            since,
            now,
            None,
        )),
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
    // The first success starts the clock, as if it had brought something new.
    if new_items > 0 || state.last_new_item.is_none() {
        state.last_new_item = Some(now);
        state.stale_notified = false;
    }
    let stale_since = match (feed.stale_after, state.last_new_item) {
        (Some(stale_after), Some(last)) if scheduler::later(last, stale_after) <= now => Some(last),
        _ => None,
    };
    let notice = match (notice, stale_since) {
        (None, Some(since)) if !state.stale_notified => {
            state.stale_notified = true;
            Some(self::notice(
                NoticeKind::FeedStale,
                state,
                feed,
                since,
                now,
                None,
            ))
        }
        (notice, _) => notice,
    };
    if stale_since.is_some() {
        state.last_status = Some(STALE.to_string());
    }
    Transition {
        next_due: Some(next_due),
        notice,
    }
}

/// A failed poll: one more consecutive error, the next poll backed off (and never before the
/// server's `retry_after`), and a `feed_dead` notice once the feed has been failing for
/// `dead_after`.
pub fn fail(
    state: &mut FeedState,
    feed: &FeedInfo,
    status: Status,
    message: &str,
    retry_after: Option<Duration>,
    now: DateTime<Utc>,
    jitter: f64,
) -> Transition {
    state.consecutive_errors = state.consecutive_errors.saturating_add(1);
    let next_due = scheduler::next_due(
        now,
        feed.interval,
        Attempt::Failed { retry_after },
        state.consecutive_errors,
        jitter,
    );
    let since = *state.failing_since.get_or_insert(now);
    let dead_after = chrono::Duration::from_std(feed.dead_after).unwrap_or(chrono::Duration::MAX);
    let notice = (!state.dead_notified && now - since >= dead_after).then(|| {
        state.dead_notified = true;
        notice(
            NoticeKind::FeedDead,
            state,
            feed,
            since,
            now,
            Some(message.to_string()),
        )
    });
    state.next_due = Some(next_due);
    state.last_polled = Some(now);
    state.last_status = Some(status.to_string());
    state.last_error = Some(message.to_string());
    Transition {
        next_due: Some(next_due),
        notice,
    }
}

/// 410 Gone: the feed is not polled again until the config names another URL.
pub fn gone(state: &mut FeedState, now: DateTime<Utc>) -> Transition {
    state.gone = true;
    state.last_polled = Some(now);
    state.next_due = None;
    state.last_status = Some(Status::Gone.to_string());
    state.last_error = Some("http 410 gone".into());
    Transition {
        next_due: None,
        notice: None,
    }
}

/// A permanent redirect (301, 308) to `moved_to`: polled there from now on. Whether that is
/// news (a new address).
pub fn note_move(state: &mut FeedState, moved_to: Option<&String>) -> bool {
    match moved_to {
        Some(moved) if state.moved_to.as_ref() != Some(moved) => {
            state.moved_to = Some(moved.clone());
            true
        }
        _ => false,
    }
}

/// The configured page links the feed at `url` (autodiscovery): polled from now on. Whether
/// that is news.
pub fn note_discovery(state: &mut FeedState, url: String) -> bool {
    let news = !state.discovered || state.moved_to.as_ref() != Some(&url);
    state.moved_to = Some(url);
    state.discovered = true;
    news
}

/// A discovered feed answered 404 or 410 (`status`): the next poll reads the configured
/// page again. `None` when the feed polled is not a discovered one; else the failure's
/// message.
pub fn lose_discovery(state: &mut FeedState, status: u16, configured_url: &str) -> Option<String> {
    if !state.discovered || state.moved_to.is_none() {
        return None;
    }
    let url = state.moved_to.take().unwrap_or_default();
    state.discovered = false;
    state.etag = None;
    state.last_modified = None;
    Some(format!(
        "the discovered feed {url} answered http {status}; the next poll reads the page at {configured_url} again"
    ))
}

/// A notice about the feed, naming the address it is polled at (after a permanent move).
fn notice(
    event: NoticeKind,
    state: &FeedState,
    feed: &FeedInfo,
    failing_since: DateTime<Utc>,
    at: DateTime<Utc>,
    error: Option<String>,
) -> Notice {
    Notice {
        event,
        feed: feed.name.to_string(),
        url: state
            .moved_to
            .clone()
            .unwrap_or_else(|| feed.configured_url.to_string()),
        failing_since,
        at,
        error,
    }
}

#[cfg(test)]
mod tests;
