//! When each feed is polled next. Pure: every function takes `now` and the random jitter as
//! parameters, so the schedule is tested with plain values. The daemon owns the loop that
//! sleeps until the first due time; this module owns the arithmetic and the ordered queue.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::MIN_INTERVAL;
use crate::model::FeedId;

/// The longest Retry-After honoured: a server cannot silence a feed for more than a day.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// The longest wait between two polls of a failing feed. Backoff never gives up on a feed; it
/// only slows down to this.
pub const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);
/// Feeds due at start are spread over this window so a restart does not fire every request in
/// the same instant.
pub const STARTUP_SPREAD: Duration = Duration::from_secs(3);
/// Jitter applied to every interval, as a fraction of it (±10 %).
pub const JITTER: f64 = 0.10;

/// How the poll that just finished went, as far as the schedule cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// A 200 or 304.
    Succeeded,
    /// Anything else; `retry_after` when the server said how long to wait.
    Failed { retry_after: Option<Duration> },
}

/// The next due time after a poll. `consecutive_errors` counts failures including this one (0
/// after a success); `jitter` is a random value in `[-1, 1]`.
///
/// Success waits the feed's interval ±10 %. Failure `n` waits `interval × 2^(n-1)` ±10 %,
/// capped at [`MAX_BACKOFF`] (or the interval, if that is longer), and never less than the
/// server's Retry-After. No delay is shorter than [`MIN_INTERVAL`].
pub fn next_due(
    now: DateTime<Utc>,
    interval: Duration,
    attempt: Attempt,
    consecutive_errors: u32,
    jitter: f64,
) -> DateTime<Utc> {
    let jitter = jitter.clamp(-1.0, 1.0) * JITTER;
    let delay = match attempt {
        Attempt::Succeeded => interval.mul_f64(1.0 + jitter),
        Attempt::Failed { retry_after } => {
            let cap = MAX_BACKOFF.max(interval);
            let exponent = consecutive_errors.saturating_sub(1).min(20);
            let backoff = interval.saturating_mul(1 << exponent).min(cap);
            let backoff = backoff.mul_f64(1.0 + jitter).min(cap);
            backoff.max(retry_after.unwrap_or(Duration::ZERO))
        }
    };
    // Jitter must not take a feed below the floor the config enforces.
    let delay = delay.max(MIN_INTERVAL);
    later(now, delay)
}

/// The due time of a feed when the daemon starts. A feed never polled or already past due is
/// due at once, the `due_index`-th of `n_due` such feeds spread over [`STARTUP_SPREAD`]. A
/// stored due time further away than the feed's current schedule allows (its interval was
/// shortened in the config, or the clock was ahead when it was stored) is pulled in.
pub fn startup_due(
    now: DateTime<Utc>,
    stored: Option<DateTime<Utc>>,
    interval: Duration,
    consecutive_errors: u32,
    due_index: usize,
    n_due: usize,
) -> DateTime<Utc> {
    match stored {
        Some(due) if due > now => later(
            now,
            wait_until(due, now, longest_wait(interval, consecutive_errors)),
        ),
        _ => {
            let offset = if n_due <= 1 {
                Duration::ZERO
            } else {
                STARTUP_SPREAD.mul_f64(due_index as f64 / n_due as f64)
            };
            later(now, offset)
        }
    }
}

/// The longest a feed can wait for its next poll by its schedule: its interval with jitter
/// while it succeeds; the longest backoff or Retry-After once it fails.
pub fn longest_wait(interval: Duration, consecutive_errors: u32) -> Duration {
    if consecutive_errors == 0 {
        interval.mul_f64(1.0 + JITTER)
    } else {
        MAX_RETRY_AFTER.max(MAX_BACKOFF).max(interval)
    }
}

/// How long to wait, from `now`, for a wall-clock due time: never less than zero and never
/// more than `longest`. The daemon waits on the monotonic clock for this long, so a wall
/// clock that jumps later (an NTP correction, a resumed VM) moves nothing; and a due time
/// further ahead than the schedule allows was computed while the clock was ahead, so it is
/// pulled in to `longest` rather than waited for.
pub fn wait_until(due: DateTime<Utc>, now: DateTime<Utc>, longest: Duration) -> Duration {
    (due - now).to_std().unwrap_or(Duration::ZERO).min(longest)
}

fn to_chrono(wait: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(wait).unwrap_or(chrono::TimeDelta::MAX)
}

/// `time + wait`, saturating at the end of time instead of panicking. Every "later" the
/// daemon computes goes through this (or [`earlier`]).
pub fn later(time: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    time.checked_add_signed(to_chrono(wait))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `time - wait`, saturating at the beginning of time.
pub fn earlier(time: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    time.checked_sub_signed(to_chrono(wait))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// True when a feed with this stored due time is polled at once on start.
pub fn is_due(now: DateTime<Utc>, stored: Option<DateTime<Utc>>) -> bool {
    stored.is_none_or(|due| due <= now)
}

/// Feeds (by their store id) ordered by due time: the daemon sleeps until the first one.
/// A feed is queued at most once. The daemon's times are monotonic instants (see
/// [`wait_until`]); the tests use wall-clock times.
#[derive(Debug, Clone)]
pub struct Queue<T = DateTime<Utc>> {
    entries: BTreeSet<(T, FeedId)>,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue {
            entries: BTreeSet::new(),
        }
    }
}

impl<T: Ord + Copy> Queue<T> {
    /// Queues feed `feed_id` at `due`, replacing its earlier place if it had one.
    pub fn push(&mut self, due: T, feed_id: FeedId) {
        self.remove(feed_id);
        self.entries.insert((due, feed_id));
    }

    /// Takes a feed out of the queue; returns when it was due.
    pub fn remove(&mut self, feed_id: FeedId) -> Option<T> {
        let entry = *self.entries.iter().find(|(_, id)| *id == feed_id)?;
        self.entries.remove(&entry);
        Some(entry.0)
    }

    /// The earliest due time, if any feed is queued.
    pub fn first_due(&self) -> Option<T> {
        self.entries.first().map(|(due, _)| *due)
    }

    /// Removes and returns every feed due at or before `now`, earliest first.
    pub fn pop_due(&mut self, now: T) -> Vec<FeedId> {
        let mut due = Vec::new();
        while let Some(&(time, feed_id)) = self.entries.first() {
            if time > now {
                break;
            }
            self.entries.pop_first();
            due.push(feed_id);
        }
        due
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const MIN: Duration = Duration::from_secs(60);

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2023, 11, 21, 13, 0, 0).unwrap()
    }

    fn delay(due: DateTime<Utc>) -> Duration {
        (due - now()).to_std().unwrap()
    }

    #[test]
    fn success_waits_the_interval_within_jitter_bounds() {
        let interval = 15 * MIN;
        assert_eq!(
            delay(next_due(now(), interval, Attempt::Succeeded, 0, 0.0)),
            interval
        );
        assert_eq!(
            delay(next_due(now(), interval, Attempt::Succeeded, 0, 1.0)),
            interval.mul_f64(1.1)
        );
        assert_eq!(
            delay(next_due(now(), interval, Attempt::Succeeded, 0, -1.0)),
            interval.mul_f64(0.9)
        );
        // Out-of-range jitter is clamped, never more than ±10 %.
        assert_eq!(
            delay(next_due(now(), interval, Attempt::Succeeded, 0, 7.0)),
            interval.mul_f64(1.1)
        );
        for step in -10..=10 {
            let d = delay(next_due(
                now(),
                interval,
                Attempt::Succeeded,
                0,
                step as f64 / 10.0,
            ));
            assert!(
                d >= interval.mul_f64(0.9) && d <= interval.mul_f64(1.1),
                "{d:?}"
            );
        }
    }

    #[test]
    fn jitter_never_takes_a_feed_below_one_minute() {
        for attempt in [Attempt::Succeeded, Attempt::Failed { retry_after: None }] {
            let due = next_due(now(), MIN, attempt, 1, -1.0);
            assert_eq!(delay(due), MIN, "{attempt:?}");
        }
    }

    #[test]
    fn failures_back_off_exponentially_up_to_six_hours_and_never_give_up() {
        let interval = 15 * MIN;
        let failed = Attempt::Failed { retry_after: None };
        let delays: Vec<u64> = (1..=10)
            .map(|n| delay(next_due(now(), interval, failed, n, 0.0)).as_secs() / 60)
            .collect();
        assert_eq!(delays, [15, 30, 60, 120, 240, 360, 360, 360, 360, 360]);
        // Even after a thousand failures the feed is still scheduled, at the cap.
        assert_eq!(
            delay(next_due(now(), interval, failed, 1000, 1.0)),
            MAX_BACKOFF
        );
    }

    #[test]
    fn retry_after_is_honoured_when_longer_than_the_backoff() {
        let interval = 10 * MIN;
        let long = Attempt::Failed {
            retry_after: Some(2 * 60 * MIN),
        };
        assert_eq!(delay(next_due(now(), interval, long, 1, 0.0)), 120 * MIN);
        let short = Attempt::Failed {
            retry_after: Some(Duration::from_secs(5)),
        };
        assert_eq!(delay(next_due(now(), interval, short, 1, 0.0)), interval);
    }

    #[test]
    fn startup_polls_due_feeds_at_once_spread_over_a_few_seconds() {
        let interval = 15 * MIN;
        let first = startup_due(now(), None, interval, 0, 0, 10);
        let last = startup_due(now(), None, interval, 0, 9, 10);
        assert_eq!(first, now());
        assert!(delay(last) < STARTUP_SPREAD);
        let past = now() - chrono::Duration::hours(3);
        assert_eq!(startup_due(now(), Some(past), interval, 0, 0, 1), now());
        assert!(is_due(now(), Some(past)) && is_due(now(), None));
    }

    #[test]
    fn startup_keeps_a_future_due_time_but_not_beyond_the_interval() {
        let interval = 15 * MIN;
        let soon = now() + chrono::Duration::minutes(5);
        assert_eq!(startup_due(now(), Some(soon), interval, 0, 0, 0), soon);
        assert!(!is_due(now(), Some(soon)));
        let far = now() + chrono::Duration::days(3);
        assert_eq!(
            delay(startup_due(now(), Some(far), interval, 0, 0, 0)),
            interval.mul_f64(1.1)
        );
    }

    #[test]
    fn a_due_time_set_while_the_clock_was_ahead_is_pulled_in_to_the_schedule() {
        let interval = 15 * MIN;
        // Polled while the clock was a day ahead: due a day and 15 minutes from the true now.
        let ahead = now() + chrono::Duration::days(1);
        let due = next_due(ahead, interval, Attempt::Succeeded, 0, 0.0);
        assert_eq!(wait_until(due, ahead, longest_wait(interval, 0)), interval);
        // Once the clock is corrected, the wait is at most the feed's own schedule.
        let wait = wait_until(due, now(), longest_wait(interval, 0));
        assert_eq!(wait, interval.mul_f64(1.1));
        assert_eq!(
            delay(startup_due(now(), Some(due), interval, 0, 0, 0)),
            interval.mul_f64(1.1)
        );
        // A failing feed may wait for its backoff or a day's Retry-After, not longer.
        let far = now() + chrono::Duration::days(400);
        assert_eq!(
            wait_until(far, now(), longest_wait(interval, 3)),
            MAX_RETRY_AFTER
        );
        // A forward step is no reason to wait: a past due time is due now.
        assert_eq!(wait_until(now(), ahead, interval), Duration::ZERO);
        // Absurd inputs saturate instead of panicking.
        assert_eq!(later(now(), Duration::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(earlier(now(), Duration::MAX), DateTime::<Utc>::MIN_UTC);
        assert_eq!(
            later(now(), interval),
            now() + chrono::Duration::minutes(15)
        );
        assert_eq!(
            next_due(
                DateTime::<Utc>::MAX_UTC,
                interval,
                Attempt::Succeeded,
                0,
                0.0
            ),
            DateTime::<Utc>::MAX_UTC
        );
    }

    #[test]
    fn queue_pops_in_due_order() {
        let mut queue = Queue::default();
        queue.push(now() + chrono::Duration::seconds(30), FeedId(2));
        queue.push(now(), FeedId(1));
        queue.push(now() + chrono::Duration::seconds(90), FeedId(0));
        assert_eq!(queue.first_due(), Some(now()));
        assert_eq!(
            queue.pop_due(now() + chrono::Duration::seconds(60)),
            vec![FeedId(1), FeedId(2)]
        );
        assert_eq!(queue.len(), 1);
        queue.push(now(), FeedId(0));
        assert_eq!(queue.len(), 1, "a feed is queued once");
        assert_eq!(queue.remove(FeedId(0)), Some(now()));
        assert!(queue.is_empty());
    }
}
