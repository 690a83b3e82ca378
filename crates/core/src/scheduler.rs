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
    now + chrono::Duration::from_std(delay).expect("delays are capped far below chrono's range")
}

/// The due time of a feed when the daemon starts. A feed never polled or already past due is
/// due at once, the `due_index`-th of `n_due` such feeds spread over [`STARTUP_SPREAD`]. A
/// stored due time further away than the feed's current schedule allows (its interval was
/// shortened in the config) is pulled in.
pub fn startup_due(
    now: DateTime<Utc>,
    stored: Option<DateTime<Utc>>,
    interval: Duration,
    consecutive_errors: u32,
    due_index: usize,
    n_due: usize,
) -> DateTime<Utc> {
    match stored {
        Some(due) if due > now => {
            let longest = if consecutive_errors == 0 {
                interval.mul_f64(1.0 + JITTER)
            } else {
                MAX_RETRY_AFTER.max(interval)
            };
            due.min(now + chrono::Duration::from_std(longest).expect("bounded"))
        }
        _ => {
            let offset = if n_due <= 1 {
                Duration::ZERO
            } else {
                STARTUP_SPREAD.mul_f64(due_index as f64 / n_due as f64)
            };
            now + chrono::Duration::from_std(offset).expect("bounded")
        }
    }
}

/// True when a feed with this stored due time is polled at once on start.
pub fn is_due(now: DateTime<Utc>, stored: Option<DateTime<Utc>>) -> bool {
    stored.is_none_or(|due| due <= now)
}

/// Feeds (by their store id) ordered by due time: the daemon sleeps until the first one.
/// A feed is queued at most once.
#[derive(Debug, Default, Clone)]
pub struct Queue {
    entries: BTreeSet<(DateTime<Utc>, FeedId)>,
}

impl Queue {
    /// Queues feed `feed_id` at `due`, replacing its earlier place if it had one.
    pub fn push(&mut self, due: DateTime<Utc>, feed_id: FeedId) {
        self.remove(feed_id);
        self.entries.insert((due, feed_id));
    }

    /// Takes a feed out of the queue; returns when it was due.
    pub fn remove(&mut self, feed_id: FeedId) -> Option<DateTime<Utc>> {
        let entry = *self.entries.iter().find(|(_, id)| *id == feed_id)?;
        self.entries.remove(&entry);
        Some(entry.0)
    }

    /// The earliest due time, if any feed is queued.
    pub fn first_due(&self) -> Option<DateTime<Utc>> {
        self.entries.first().map(|(due, _)| *due)
    }

    /// Removes and returns every feed due at or before `now`, earliest first.
    pub fn pop_due(&mut self, now: DateTime<Utc>) -> Vec<FeedId> {
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
