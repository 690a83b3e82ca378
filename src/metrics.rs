//! The status endpoint's `/metrics`, in the Prometheus text format, from `prometheus-client`
//! (its only user). The pipeline and the alert workers count polls (by feed and outcome),
//! fetch durations, stored items, matches (every configured topic from zero) and failed
//! deliveries; what the database knows better (each feed's last poll and success, the
//! outbox by sink and state, failing feeds) and the process's own figures are set when
//! scraped.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::store::{FeedTimes, OutboxCounts};

/// Upper bounds (seconds) of the fetch-duration histogram's buckets.
const FETCH_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// The `Content-Type` of what [`Metrics::render`] writes.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// How a poll ended, for `watchword_polls_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PollOutcome {
    Ok,
    NotModified,
    Failed,
    Gone,
}

impl PollOutcome {
    fn label(self) -> &'static str {
        match self {
            PollOutcome::Ok => "ok",
            PollOutcome::NotModified => "not_modified",
            PollOutcome::Failed => "failed",
            PollOutcome::Gone => "gone",
        }
    }
}

impl EncodeLabelValue for PollOutcome {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        use std::fmt::Write as _;
        encoder.write_str(self.label())
    }
}

/// A stage of a poll, for `watchword_stage_seconds_total`: where the time of the polls goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// The request and the body (waiting on the network, and decompressing).
    Fetch,
    /// Parsing the body into items.
    Parse,
    /// Looking up which items the store has seen.
    Dedup,
    /// Matching the new items against the topics.
    Match,
    /// Computing the new items' story keys.
    StoryKeys,
    /// Waiting for the store: for the polls queued before, or for another poll that wrote
    /// this one's rows with its own.
    StoreWait,
    /// Writing polls' new items, their stories and matches, and the feeds' states; a poll
    /// that writes the others queued with it counts the time of all.
    Store,
}

impl Stage {
    pub const ALL: [Stage; 7] = [
        Stage::Fetch,
        Stage::Parse,
        Stage::Dedup,
        Stage::Match,
        Stage::StoryKeys,
        Stage::StoreWait,
        Stage::Store,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Stage::Fetch => "fetch",
            Stage::Parse => "parse",
            Stage::Dedup => "dedup",
            Stage::Match => "match",
            Stage::StoryKeys => "story_keys",
            Stage::StoreWait => "store_wait",
            Stage::Store => "store",
        }
    }
}

impl EncodeLabelValue for Stage {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        use std::fmt::Write as _;
        encoder.write_str(self.label())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StageLabel {
    stage: Stage,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PollLabels {
    feed: String,
    outcome: PollOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct FeedLabel {
    feed: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TopicLabel {
    topic: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct SinkLabel {
    sink: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct SinkStateLabels {
    sink: String,
    state: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    commit: &'static str,
}

type Seconds = Gauge<f64, AtomicU64>;

/// The metrics of one daemon process.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    polls: Family<PollLabels, Counter>,
    fetch: Histogram,
    items_stored: Counter,
    matches: Family<TopicLabel, Counter>,
    delivery_failures: Family<SinkLabel, Counter>,
    stages: Family<StageLabel, Counter<f64, AtomicU64>>,
    // Set when scraped.
    last_poll: Family<FeedLabel, Seconds>,
    last_success: Family<FeedLabel, Seconds>,
    deliveries: Family<SinkStateLabels, Gauge>,
    feeds: Gauge,
    feeds_failing: Gauge,
    feeds_gone: Gauge,
    feeds_stale: Gauge,
    store_write_failing: Gauge,
    resident_memory: Gauge,
    cpu_seconds: Counter<f64, AtomicU64>,
    open_fds: Gauge,
    start_time: Seconds,
    /// One scrape at a time: a render clears and refills the scrape-time families.
    rendering: std::sync::Mutex<()>,
}

/// What the database (and the store's health) says when `/metrics` is scraped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gauges {
    /// Each configured feed that has a row: its name, last poll and last success.
    pub feed_times: Vec<FeedTimes>,
    /// The outbox of each configured sink.
    pub deliveries: Vec<(String, OutboxCounts)>,
    pub feeds: usize,
    pub feeds_failing: usize,
    pub feeds_gone: usize,
    /// Feeds that answer but have listed nothing new for their `stale_after`.
    pub feeds_stale: usize,
    /// The last write to the store failed (a full disk).
    pub store_write_failing: bool,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let polls = Family::<PollLabels, Counter>::default();
        registry.register(
            "watchword_polls",
            "Feed polls by feed and outcome",
            polls.clone(),
        );
        let fetch = Histogram::new(FETCH_BUCKETS);
        registry.register(
            "watchword_fetch_duration_seconds",
            "Time to fetch a feed (request and body)",
            fetch.clone(),
        );
        let items_stored = Counter::default();
        registry.register(
            "watchword_items_stored",
            "New items stored",
            items_stored.clone(),
        );
        let matches = Family::<TopicLabel, Counter>::default();
        registry.register(
            "watchword_matches",
            "Matches logged, by topic (every configured topic, from zero)",
            matches.clone(),
        );
        let delivery_failures = Family::<SinkLabel, Counter>::default();
        registry.register(
            "watchword_alert_delivery_failures",
            "Failed attempts to deliver an alert, by sink",
            delivery_failures.clone(),
        );
        let stages = Family::<StageLabel, Counter<f64, AtomicU64>>::default();
        registry.register(
            "watchword_stage_seconds",
            "Time the polls spent in each stage, summed over polls (polls run at once each count)",
            stages.clone(),
        );
        let last_poll = Family::<FeedLabel, Seconds>::default();
        registry.register(
            "watchword_feed_last_poll_timestamp_seconds",
            "When each feed was last polled (Unix time)",
            last_poll.clone(),
        );
        let last_success = Family::<FeedLabel, Seconds>::default();
        registry.register(
            "watchword_feed_last_success_timestamp_seconds",
            "When each feed last answered 200 or 304 (Unix time)",
            last_success.clone(),
        );
        let deliveries = Family::<SinkStateLabels, Gauge>::default();
        registry.register(
            "watchword_alert_deliveries",
            "Alert deliveries in the outbox, by sink and state",
            deliveries.clone(),
        );
        let feeds = Gauge::default();
        registry.register("watchword_feeds", "Configured feeds", feeds.clone());
        let feeds_failing = Gauge::default();
        registry.register(
            "watchword_feeds_failing",
            "Feeds whose last poll failed",
            feeds_failing.clone(),
        );
        let feeds_gone = Gauge::default();
        registry.register(
            "watchword_feeds_gone",
            "Feeds that answered 410 Gone and are not polled",
            feeds_gone.clone(),
        );
        let feeds_stale = Gauge::default();
        registry.register(
            "watchword_feeds_stale",
            "Feeds that answer but have listed nothing new for their stale_after",
            feeds_stale.clone(),
        );
        let store_write_failing = Gauge::default();
        registry.register(
            "watchword_store_write_failing",
            "1 while the store cannot write (a full disk)",
            store_write_failing.clone(),
        );
        registry.register(
            "watchword_build",
            "The running build",
            Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
                commit: option_env!("WATCHWORD_COMMIT").unwrap_or("unknown"),
            }),
        );
        let resident_memory = Gauge::default();
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory size in bytes",
            resident_memory.clone(),
        );
        let cpu_seconds = Counter::<f64, AtomicU64>::default();
        registry.register(
            "process_cpu_seconds",
            "User and system CPU time spent in seconds",
            cpu_seconds.clone(),
        );
        let open_fds = Gauge::default();
        registry.register(
            "process_open_fds",
            "Open file descriptors",
            open_fds.clone(),
        );
        let start_time = Seconds::default();
        registry.register(
            "process_start_time_seconds",
            "When the process started (Unix time)",
            start_time.clone(),
        );
        Metrics {
            registry,
            polls,
            fetch,
            items_stored,
            matches,
            delivery_failures,
            stages,
            last_poll,
            last_success,
            deliveries,
            feeds,
            feeds_failing,
            feeds_gone,
            feeds_stale,
            store_write_failing,
            resident_memory,
            cpu_seconds,
            open_fds,
            start_time,
            rendering: std::sync::Mutex::new(()),
        }
    }

    /// Gives every configured topic its match counter, at zero until it matches (an alert
    /// on "no match for a week" needs the series to exist).
    pub fn topics<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        for topic in ids {
            let _ = self.matches.get_or_create(&TopicLabel {
                topic: topic.to_string(),
            });
        }
    }

    /// Counts a finished poll of `feed` and how long its fetch took.
    pub fn poll(&self, feed: &str, outcome: PollOutcome, fetch: Duration) {
        self.polls
            .get_or_create(&PollLabels {
                feed: feed.to_string(),
                outcome,
            })
            .inc();
        self.fetch.observe(fetch.as_secs_f64());
    }

    /// Adds the time a poll spent in a stage.
    pub fn stage(&self, stage: Stage, took: Duration) {
        self.stages
            .get_or_create(&StageLabel { stage })
            .inc_by(took.as_secs_f64());
    }

    /// The seconds spent in each stage so far, in the order of [`Stage::ALL`].
    pub fn stage_seconds(&self) -> Vec<(Stage, f64)> {
        Stage::ALL
            .iter()
            .map(|&stage| {
                (
                    stage,
                    self.stages.get_or_create(&StageLabel { stage }).get(),
                )
            })
            .collect()
    }

    /// Counts what a poll stored.
    pub fn stored<'a>(&self, new_items: usize, topics: impl IntoIterator<Item = &'a str>) {
        self.items_stored.inc_by(new_items as u64);
        for topic in topics {
            self.matches
                .get_or_create(&TopicLabel {
                    topic: topic.to_string(),
                })
                .inc();
        }
    }

    /// Counts failed delivery attempts of a sink.
    pub fn delivery_failed(&self, sink: &str, rows: usize) {
        self.delivery_failures
            .get_or_create(&SinkLabel {
                sink: sink.to_string(),
            })
            .inc_by(rows as u64);
    }

    /// The Prometheus text exposition of every metric, the gauges set from `gauges` and the
    /// process's own figures.
    pub fn render(&self, gauges: &Gauges) -> String {
        let _one_at_a_time = self.rendering.lock().unwrap_or_else(|p| p.into_inner());
        // Feeds and sinks a reload removed leave the scrape.
        self.last_poll.clear();
        self.last_success.clear();
        let epoch = |time: DateTime<Utc>| time.timestamp_millis() as f64 / 1000.0;
        for times in &gauges.feed_times {
            let label = FeedLabel {
                feed: times.feed.clone(),
            };
            if let Some(time) = times.last_poll {
                self.last_poll.get_or_create(&label).set(epoch(time));
            }
            if let Some(time) = times.last_success {
                self.last_success.get_or_create(&label).set(epoch(time));
            }
        }
        self.deliveries.clear();
        for (sink, counts) in &gauges.deliveries {
            for (state, n) in [
                ("pending", counts.pending),
                ("delivered", counts.delivered),
                ("failed", counts.failed),
            ] {
                self.deliveries
                    .get_or_create(&SinkStateLabels {
                        sink: sink.clone(),
                        state,
                    })
                    .set(gauge(n));
            }
        }
        self.feeds.set(gauge(gauges.feeds));
        self.feeds_failing.set(gauge(gauges.feeds_failing));
        self.feeds_gone.set(gauge(gauges.feeds_gone));
        self.feeds_stale.set(gauge(gauges.feeds_stale));
        self.store_write_failing
            .set(i64::from(gauges.store_write_failing));
        if let Some(process) = ProcessStats::read() {
            self.resident_memory.set(gauge(process.resident_bytes));
            let counted = self.cpu_seconds.get();
            if process.cpu_seconds > counted {
                self.cpu_seconds.inc_by(process.cpu_seconds - counted);
            }
            self.open_fds.set(gauge(process.open_fds));
            self.start_time.set(process.start_time);
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

fn gauge(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// This process's figures from `/proc` (Linux; `None` elsewhere or when unreadable).
struct ProcessStats {
    resident_bytes: usize,
    cpu_seconds: f64,
    open_fds: usize,
    start_time: f64,
}

impl ProcessStats {
    fn read() -> Option<ProcessStats> {
        // /proc counts CPU time and the start in clock ticks of USER_HZ, 100 on Linux.
        const TICKS: f64 = 100.0;
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // The fields after the command name (which may hold spaces), from field 3 on.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3)?.parse::<f64>().ok();
        let cpu_seconds = (field(14)? + field(15)?) / TICKS;
        let started_ticks = field(22)?;
        let boot_time = std::fs::read_to_string("/proc/stat")
            .ok()?
            .lines()
            .find_map(|line| line.strip_prefix("btime ")?.trim().parse::<f64>().ok())?;
        let resident_kb = std::fs::read_to_string("/proc/self/status")
            .ok()?
            .lines()
            .find_map(|line| {
                line.strip_prefix("VmRSS:")?
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<usize>()
                    .ok()
            })?;
        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count();
        Some(ProcessStats {
            resident_bytes: resident_kb * 1024,
            cpu_seconds,
            open_fds,
            start_time: boot_time + started_ticks / TICKS,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_histogram_and_gauges_render() {
        let metrics = Metrics::default();
        metrics.topics(["satellite_launch", "missile_sale", "quiet_topic"]);
        metrics.poll("Wire", PollOutcome::Ok, Duration::from_millis(80));
        metrics.poll("Wire", PollOutcome::NotModified, Duration::from_millis(3));
        metrics.poll(
            "Agency \"A\"",
            PollOutcome::Failed,
            Duration::from_millis(3),
        );
        metrics.stored(4, ["satellite_launch", "satellite_launch", "missile_sale"]);
        metrics.delivery_failed("hook", 2);
        let at = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        let text = metrics.render(&Gauges {
            feed_times: vec![FeedTimes {
                feed: "Wire".into(),
                last_poll: Some(at),
                last_success: Some(at),
            }],
            deliveries: vec![(
                "hook".into(),
                OutboxCounts {
                    pending: 1,
                    delivered: 5,
                    failed: 2,
                },
            )],
            feeds: 3,
            feeds_failing: 1,
            store_write_failing: true,
            ..Gauges::default()
        });
        for line in [
            "watchword_polls_total{feed=\"Wire\",outcome=\"ok\"} 1",
            "watchword_polls_total{feed=\"Wire\",outcome=\"not_modified\"} 1",
            "watchword_polls_total{feed=\"Agency \\\"A\\\"\",outcome=\"failed\"} 1",
            "watchword_fetch_duration_seconds_bucket{le=\"0.05\"} 2",
            "watchword_fetch_duration_seconds_bucket{le=\"0.1\"} 3",
            "watchword_fetch_duration_seconds_bucket{le=\"+Inf\"} 3",
            "watchword_fetch_duration_seconds_count 3",
            "watchword_items_stored_total 4",
            "watchword_matches_total{topic=\"satellite_launch\"} 2",
            "watchword_matches_total{topic=\"missile_sale\"} 1",
            "watchword_matches_total{topic=\"quiet_topic\"} 0",
            "watchword_alert_delivery_failures_total{sink=\"hook\"} 2",
            "watchword_feed_last_poll_timestamp_seconds{feed=\"Wire\"} 1700000000.0",
            "watchword_feed_last_success_timestamp_seconds{feed=\"Wire\"} 1700000000.0",
            "watchword_alert_deliveries{sink=\"hook\",state=\"failed\"} 2",
            "watchword_feeds_failing 1",
            "watchword_store_write_failing 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}:\n{text}");
        }
        assert!(
            text.lines()
                .any(|l| l.starts_with("watchword_build_info{version=\"")),
            "{text}"
        );
        assert!(text.contains("\nprocess_resident_memory_bytes "), "{text}");
        assert!(text.contains("\nprocess_cpu_seconds_total "), "{text}");
    }
}
