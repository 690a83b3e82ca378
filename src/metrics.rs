//! In-process counters for the status endpoint's `/metrics`, in the Prometheus text format.
//! The pipeline counts polls, fetch durations, stored items and matches; gauges that the
//! database knows better (deliveries by state, failing feeds) are read when scraped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::store::OutboxCounts;

/// Upper bounds (seconds) of the fetch-duration histogram's buckets.
const FETCH_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// How a poll ended, for the `watchword_polls_total` counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollOutcome {
    Ok,
    NotModified,
    Failed,
    Gone,
}

impl PollOutcome {
    const ALL: [PollOutcome; 4] = [
        PollOutcome::Ok,
        PollOutcome::NotModified,
        PollOutcome::Failed,
        PollOutcome::Gone,
    ];

    fn label(self) -> &'static str {
        match self {
            PollOutcome::Ok => "ok",
            PollOutcome::NotModified => "not_modified",
            PollOutcome::Failed => "failed",
            PollOutcome::Gone => "gone",
        }
    }
}

/// The counters of one daemon process.
#[derive(Debug, Default)]
pub struct Metrics {
    polls: [AtomicU64; 4],
    fetch_buckets: [AtomicU64; FETCH_BUCKETS.len()],
    fetch_count: AtomicU64,
    fetch_micros: AtomicU64,
    items_stored: AtomicU64,
    matches: Mutex<BTreeMap<String, u64>>,
}

/// What the database says when `/metrics` is scraped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gauges {
    pub deliveries: OutboxCounts,
    pub feeds: usize,
    pub feeds_failing: usize,
    pub feeds_gone: usize,
    /// The last write to the store failed (a full disk).
    pub store_write_failing: bool,
}

impl Metrics {
    /// Counts a finished poll and how long its fetch took.
    pub fn poll(&self, outcome: PollOutcome, fetch: Duration) {
        let index = PollOutcome::ALL
            .iter()
            .position(|o| *o == outcome)
            .expect("every outcome is listed");
        self.polls[index].fetch_add(1, Ordering::Relaxed);
        let seconds = fetch.as_secs_f64();
        for (bucket, bound) in self.fetch_buckets.iter().zip(FETCH_BUCKETS) {
            if seconds <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.fetch_count.fetch_add(1, Ordering::Relaxed);
        self.fetch_micros.fetch_add(
            u64::try_from(fetch.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Counts what a poll stored.
    pub fn stored<'a>(&self, new_items: usize, topics: impl IntoIterator<Item = &'a str>) {
        self.items_stored
            .fetch_add(new_items as u64, Ordering::Relaxed);
        let mut matches = self.matches.lock().unwrap_or_else(|p| p.into_inner());
        for topic in topics {
            *matches.entry(topic.to_string()).or_default() += 1;
        }
    }

    /// The Prometheus text exposition of every counter and the given gauges.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        metric("watchword_polls_total", "counter", "Feed polls by outcome.");
        let mut lines = String::new();
        for (outcome, count) in PollOutcome::ALL.iter().zip(&self.polls) {
            let _ = writeln!(
                lines,
                "watchword_polls_total{{outcome=\"{}\"}} {}",
                outcome.label(),
                count.load(Ordering::Relaxed)
            );
        }
        out.push_str(&lines);
        let mut metric = |name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        metric(
            "watchword_fetch_duration_seconds",
            "histogram",
            "Time to fetch a feed (request and body).",
        );
        for (bucket, bound) in self.fetch_buckets.iter().zip(FETCH_BUCKETS) {
            let _ = writeln!(
                out,
                "watchword_fetch_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.fetch_count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "watchword_fetch_duration_seconds_bucket{{le=\"+Inf\"}} {count}\n\
             watchword_fetch_duration_seconds_sum {}\n\
             watchword_fetch_duration_seconds_count {count}",
            self.fetch_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "# HELP watchword_items_stored_total New items stored.\n\
             # TYPE watchword_items_stored_total counter\n\
             watchword_items_stored_total {}",
            self.items_stored.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP watchword_matches_total Matches logged, by topic.\n\
             # TYPE watchword_matches_total counter"
        );
        for (topic, n) in self
            .matches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "watchword_matches_total{{topic=\"{}\"}} {n}",
                label(topic)
            );
        }
        let d = gauges.deliveries;
        let _ = writeln!(
            out,
            "# HELP watchword_alert_deliveries Alert deliveries in the outbox, by state.\n\
             # TYPE watchword_alert_deliveries gauge\n\
             watchword_alert_deliveries{{state=\"pending\"}} {}\n\
             watchword_alert_deliveries{{state=\"delivered\"}} {}\n\
             watchword_alert_deliveries{{state=\"failed\"}} {}",
            d.pending, d.delivered, d.failed
        );
        let _ = writeln!(
            out,
            "# HELP watchword_feeds Configured feeds.\n\
             # TYPE watchword_feeds gauge\n\
             watchword_feeds {}\n\
             # HELP watchword_feeds_failing Feeds whose last poll failed.\n\
             # TYPE watchword_feeds_failing gauge\n\
             watchword_feeds_failing {}\n\
             # HELP watchword_feeds_gone Feeds that answered 410 Gone and are not polled.\n\
             # TYPE watchword_feeds_gone gauge\n\
             watchword_feeds_gone {}",
            gauges.feeds, gauges.feeds_failing, gauges.feeds_gone
        );
        let _ = writeln!(
            out,
            "# HELP watchword_store_write_failing 1 while the store cannot write (a full disk).\n\
             # TYPE watchword_store_write_failing gauge\n\
             watchword_store_write_failing {}",
            u8::from(gauges.store_write_failing)
        );
        out
    }
}

/// A label value escaped for the exposition format.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histogram_render() {
        let metrics = Metrics::default();
        metrics.poll(PollOutcome::Ok, Duration::from_millis(80));
        metrics.poll(PollOutcome::NotModified, Duration::from_millis(3));
        metrics.stored(4, ["satellite_launch", "satellite_launch", "missile_sale"]);
        let text = metrics.render(&Gauges {
            feeds: 3,
            feeds_failing: 1,
            store_write_failing: true,
            ..Gauges::default()
        });
        for line in [
            "watchword_polls_total{outcome=\"ok\"} 1",
            "watchword_polls_total{outcome=\"not_modified\"} 1",
            "watchword_polls_total{outcome=\"failed\"} 0",
            "watchword_fetch_duration_seconds_bucket{le=\"0.05\"} 1",
            "watchword_fetch_duration_seconds_bucket{le=\"0.1\"} 2",
            "watchword_fetch_duration_seconds_bucket{le=\"+Inf\"} 2",
            "watchword_fetch_duration_seconds_count 2",
            "watchword_items_stored_total 4",
            "watchword_matches_total{topic=\"satellite_launch\"} 2",
            "watchword_matches_total{topic=\"missile_sale\"} 1",
            "watchword_feeds_failing 1",
            "watchword_store_write_failing 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}:\n{text}");
        }
    }
}
