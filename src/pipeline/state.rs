//! Applying `feed_state`'s transitions to a polled feed, and logging them.

use super::*;

/// What `feed_state` needs to know of `feed` besides its state.
pub(super) fn feed_info<'a>(
    context: &PollContext,
    feed: &'a FeedConfig,
    configured_url: &'a str,
) -> FeedInfo<'a> {
    FeedInfo {
        name: &feed.name,
        configured_url,
        interval: feed.interval,
        dead_after: context.config.daemon.dead_after,
        stale_after: feed.stale_after,
    }
}

/// Marks a successful poll in `state` (`feed_state::succeed`) and logs a recovery; returns
/// the next due time, and a `feed_recovered` notice when a `feed_dead` one went out for the
/// failures this success ends.
pub(super) fn succeed(
    state: &mut FeedState,
    context: &PollContext,
    feed: &FeedConfig,
    now: DateTime<Utc>,
    status: Status,
    new_items: usize,
) -> (DateTime<Utc>, Option<Notice>) {
    let configured_url = feed.source.to_string();
    let done = feed_state::succeed(
        state,
        &feed_info(context, feed, &configured_url),
        status,
        new_items,
        now,
        jitter(),
    );
    match done
        .notice
        .as_ref()
        .map(|notice| (notice.event, notice.failing_since))
    {
        Some((crate::model::NoticeKind::FeedStale, since)) => {
            warn!(no_new_item_since = %rfc3339(since), "feed is stale: it answers but lists nothing new; it may have moved");
        }
        Some((_, since)) => info!(failing_since = %rfc3339(since), "feed recovered"),
        None => {}
    }
    let next_due = done
        .next_due
        .expect("a successful poll always sets the next due time");
    (next_due, done.notice)
}

/// Marks a failed poll in `state` (`feed_state::fail`) and logs it; returns its report with
/// the backoff, and a `feed_dead` notice when the feed has now been failing for longer than
/// `dead_after`. `status` is what `feeds` shows (`http 503`, `throttled`, `error`).
pub(super) fn fail(
    state: &mut FeedState,
    context: &PollContext,
    feed: &FeedConfig,
    now: DateTime<Utc>,
    status: Status,
    message: String,
    retry_after: Option<std::time::Duration>,
) -> (PollReport, Option<Notice>) {
    let configured_url = feed.source.to_string();
    let done = feed_state::fail(
        state,
        &feed_info(context, feed, &configured_url),
        status,
        &message,
        retry_after,
        now,
        jitter(),
    );
    let next_due = done.next_due.expect("a failed poll is always due again");
    warn!(
        error = %for_log(&message, LOG_CHARS),
        consecutive_errors = state.consecutive_errors,
        retry_at = %rfc3339(next_due),
        "poll failed"
    );
    if let Some(notice) = &done.notice {
        warn!(failing_since = %rfc3339(notice.failing_since), "feed dead: failing for longer than dead_after");
    }
    let report = PollReport {
        feed: feed.name.clone(),
        status: PollStatus::Failed { message },
        next_due: Some(next_due),
    };
    (report, done.notice)
}

pub(super) fn jitter() -> f64 {
    fastrand::f64() * 2.0 - 1.0
}
