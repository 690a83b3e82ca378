//! Alert delivery: the outbox worker (`worker.rs`) and its sinks (one file per sink).
//!
//! The store writes one outbox row per logged match and sink in the match's own transaction
//! (see [`routes`]). The [`Alerter`] drains the outbox: it sends each due row (or, for a
//! digest sink, every pending row at once), records the outcome before it sends anything
//! else, and retries failures with exponential backoff and jitter until the attempts run
//! out. A row is marked delivered only after its sink accepted it, so a crash between the
//! two sends it again: delivery is at least once, and webhooks carry an `Idempotency-Key`
//! that stays the same on every try so a receiver can drop repeats.

mod email;
mod exec;
mod jsonl;
mod log;
pub use watchword_core::message;
mod secrets;
use secrets::reveal;
mod webhook;
mod worker;
pub use worker::OutboxSignal;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use tracing::{info, warn};

use crate::config::{AlertConfig, Config, SinkConfig, check_webhook_url};
use crate::fetch::Fetcher;
use crate::metrics::Metrics;
use crate::model::{AlertRoute, Delivery, DeliveryId, Match, Notice, Payload, Source};
use crate::store::{self, OutboxCounts, SharedStore, StoreError, WriteHealth};
use crate::text::sanitize;

pub use email::{PASSWORD_VAR, USER_VAR};
use message::{Content, TopicTitles};

/// The wait before the first retry; each later failure multiplies it by [`BACKOFF_FACTOR`].
pub const FIRST_RETRY: Duration = Duration::from_secs(1);
/// How much longer each wait is than the one before: with the defaults (10 attempts, 1 s
/// first, 1 h cap) a delivery is tried over about 3.5 hours — 1 s, 4 s, 16 s, 64 s, 4 min,
/// 17 min, then hourly — before it is marked failed.
pub const BACKOFF_FACTOR: u32 = 4;
/// The longest wait between two attempts, Retry-After included.
pub const MAX_RETRY: Duration = Duration::from_secs(3600);
/// How often the daemon's worker reads the outbox when nothing woke it (a retry requeued by
/// `watchword alerts retry` from another process).
pub const RECHECK: Duration = Duration::from_secs(5);
/// The least the worker waits after a round that failed.
const ERROR_PAUSE: Duration = Duration::from_secs(1);
/// The most rows one sink handles in one round.
const BATCH: usize = 200;

/// Why a send failed, and whether to try again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    pub message: String,
    pub retry: Retry,
}

/// What to do after a failed send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Try again after the backoff for the number of attempts.
    Backoff,
    /// Try again after this long (a Retry-After header), at most [`MAX_RETRY`].
    After(Duration),
    /// The sink refused for good (a 4xx, a permanent SMTP error): fail the row now.
    Never,
}

/// The wait after `attempts` failed attempts (1 or more): [`FIRST_RETRY`] multiplied by
/// [`BACKOFF_FACTOR`] for each earlier failure, ±20 % by `jitter` (in −1..=1), at most
/// [`MAX_RETRY`].
pub fn retry_delay(attempts: u32, jitter: f64) -> Duration {
    let steps = attempts.saturating_sub(1).min(12);
    let base = FIRST_RETRY.as_secs_f64() * f64::from(BACKOFF_FACTOR).powi(steps as i32);
    let jittered = base * (1.0 + 0.2 * jitter.clamp(-1.0, 1.0));
    Duration::from_secs_f64(jittered.min(MAX_RETRY.as_secs_f64()))
}

/// The outbox routes for the configured sinks: which topics each takes and how long a row
/// waits before its first attempt (the digest window).
pub fn routes(alerts: &[AlertConfig]) -> Vec<AlertRoute> {
    alerts
        .iter()
        .map(|alert| AlertRoute {
            sink: alert.name.clone(),
            topics: alert.topics.clone(),
            delay: alert.digest.unwrap_or_default(),
        })
        .collect()
}

/// The `Idempotency-Key` of a message: the same for every try of the same rows on the same
/// sink, different for any other (match, sink) or notice.
pub fn idempotency_key(sink: &str, content: &Content<'_>) -> String {
    let mut hash = Sha256::new();
    hash.update(sink.as_bytes());
    match content {
        Content::Matches(matches) => {
            for m in *matches {
                hash.update(b"\0");
                hash.update(m.match_id.0.to_le_bytes());
                hash.update(m.matched_at.timestamp().to_le_bytes());
                hash.update(m.item_key.as_bytes());
            }
        }
        Content::Notice(notice) => {
            hash.update(b"\0notice\0");
            hash.update(notice.event.as_str().as_bytes());
            hash.update(notice.feed.as_bytes());
            hash.update(notice.at.timestamp().to_le_bytes());
        }
        Content::Test { at, .. } => {
            hash.update(b"\0test\0");
            hash.update(at.timestamp_micros().to_le_bytes());
        }
    }
    let digest = hash.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("watchword-{hex}")
}

/// The outbox worker and the configured sinks. Cheap to clone; a reload swaps the sinks
/// ([`Alerter::prepare`], [`Alerter::install`]) and the next round uses the new ones.
#[derive(Debug, Clone)]
pub struct Alerter {
    sinks: Arc<RwLock<Arc<Sinks>>>,
    store: SharedStore,
    wake: OutboxSignal,
    write_health: WriteHealth,
    metrics: Arc<Metrics>,
}

/// Sinks built by [`Alerter::prepare`], ready for [`Alerter::install`].
#[derive(Debug)]
pub struct PreparedSinks(Arc<Sinks>);

impl PreparedSinks {
    /// `watchword alerts test`: sends a test message through each sink named in `only` (every
    /// configured sink when empty), all at once, and returns each sink's result in config
    /// order. Writes no outbox row. An unknown name is an `Err` listing the sinks.
    pub async fn test(&self, only: &[String]) -> Result<Vec<(String, Result<(), String>)>, String> {
        let sinks = &self.0;
        if let Some(unknown) = only.iter().find(|name| sinks.find(name).is_none()) {
            return Err(format!(
                "there is no alert sink {unknown:?} (configured: {})",
                sinks.names().join(", ")
            ));
        }
        let chosen: Vec<Arc<Sink>> = sinks
            .list
            .iter()
            .filter(|sink| only.is_empty() || only.contains(&sink.config.name))
            .cloned()
            .collect();
        let at = Utc::now();
        let mut sends = JoinSet::new();
        for (index, sink) in chosen.into_iter().enumerate() {
            sends.spawn(async move {
                let content = Content::Test {
                    sink: &sink.config.name,
                    at,
                };
                let result = sink.send(&content).await.map_err(|error| error.message);
                (index, sink.config.name.clone(), result)
            });
        }
        let mut results = Vec::new();
        while let Some(joined) = sends.join_next().await {
            results.push(joined.map_err(|error| format!("a sink's test failed: {error}"))?);
        }
        results.sort_by_key(|(index, _, _)| *index);
        Ok(results
            .into_iter()
            .map(|(_, name, result)| (name, result))
            .collect())
    }
}

/// The sinks of one config.
#[derive(Debug)]
struct Sinks {
    list: Vec<Arc<Sink>>,
    max_attempts: u32,
}

/// One configured sink, ready to send.
#[derive(Debug)]
struct Sink {
    config: AlertConfig,
    transport: Transport,
    /// The titles of the config's topics, which messages name topics by.
    titles: Arc<TopicTitles>,
}

#[derive(Debug)]
enum Transport {
    Log,
    Jsonl(PathBuf),
    Webhook(webhook::Webhook),
    Exec {
        command: Vec<String>,
        timeout: Duration,
        /// Environment variables the program must not see: the config's secrets.
        scrub: Arc<Vec<String>>,
    },
    Email(email::Mailer),
}

impl Sinks {
    fn new(config: &Config, fetcher: &Fetcher) -> Result<Sinks, String> {
        let titles = Arc::new(TopicTitles::of(&config.topics));
        let scrub = Arc::new(secret_variables(config));
        let list = config
            .alerts
            .iter()
            .map(|alert| {
                let transport = match &alert.sink {
                    SinkConfig::Log => Transport::Log,
                    SinkConfig::Jsonl { path } => Transport::Jsonl(path.clone()),
                    SinkConfig::Webhook {
                        url,
                        format,
                        headers,
                        secret,
                        timeout,
                    } => {
                        let what = |key: &str| format!("alert {}: {key}", alert.name);
                        let url = reveal(url, &what("url"))?;
                        check_webhook_url(&url)
                            .map_err(|error| format!("{}: {error}", what("url")))?;
                        Transport::Webhook(webhook::Webhook {
                            fetcher: fetcher.clone(),
                            url: url::Url::parse(url.trim()).map_err(|error| error.to_string())?,
                            format: *format,
                            headers: headers
                                .iter()
                                .map(|(name, value)| {
                                    Ok((
                                        name.clone(),
                                        reveal(value, &what(&format!("header {name}")))?,
                                    ))
                                })
                                .collect::<Result<_, String>>()?,
                            secret: secret
                                .as_ref()
                                .map(|secret| reveal(secret, &what("secret")))
                                .transpose()?,
                            timeout: *timeout,
                        })
                    }
                    SinkConfig::Exec { command, timeout } => Transport::Exec {
                        command: command.clone(),
                        timeout: *timeout,
                        scrub: scrub.clone(),
                    },
                    SinkConfig::Email {
                        host,
                        port,
                        tls,
                        from,
                        to,
                        user,
                        password,
                        timeout,
                    } => {
                        let what = |key: &str| format!("alert {}: {key}", alert.name);
                        let credentials = match (user, password) {
                            (Some(user), Some(password)) => Some((
                                reveal(user, &what("user"))?,
                                reveal(password, &what("password"))?,
                            )),
                            (None, None) => None,
                            _ => {
                                return Err(format!(
                                    "alert {}: give both user and password, or neither",
                                    alert.name
                                ));
                            }
                        };
                        Transport::Email(
                            email::Mailer::new(host, *port, *tls, from, to, credentials, *timeout)
                                .map_err(|error| format!("alert {}: {error}", alert.name))?,
                        )
                    }
                };
                Ok(Arc::new(Sink {
                    config: alert.clone(),
                    transport,
                    titles: titles.clone(),
                }))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Sinks {
            list,
            max_attempts: config.daemon.alert_attempts,
        })
    }

    fn names(&self) -> Vec<String> {
        self.list.iter().map(|s| s.config.name.clone()).collect()
    }

    fn find(&self, name: &str) -> Option<Arc<Sink>> {
        self.list.iter().find(|s| s.config.name == name).cloned()
    }
}

impl Sink {
    /// The longest a row of this sink can wait by its schedule: its digest window or the
    /// longest retry. A row due further ahead was scheduled while the clock was ahead.
    fn longest_wait(&self) -> Duration {
        MAX_RETRY.max(self.config.digest.unwrap_or_default()) + Duration::from_secs(1)
    }

    /// Sends one message.
    async fn send(&self, content: &Content<'_>) -> Result<(), SendError> {
        // Feed text reaches receivers without control characters, in every format.
        let (matches, notice);
        let content = match content {
            Content::Matches(list) => {
                matches = list.iter().map(without_controls).collect::<Vec<_>>();
                Content::Matches(&matches)
            }
            Content::Notice(original) => {
                notice = Notice {
                    feed: sanitize(&original.feed),
                    url: sanitize(&original.url),
                    error: original.error.as_deref().map(sanitize),
                    ..(*original).clone()
                };
                Content::Notice(&notice)
            }
            Content::Test { sink, at } => Content::Test { sink, at: *at },
        };
        let key = idempotency_key(&self.config.name, &content);
        let template = self.config.template.as_deref();
        let titles = &*self.titles;
        match &self.transport {
            Transport::Log => {
                log::send(&self.config, &content, titles);
                Ok(())
            }
            Transport::Jsonl(path) => jsonl::send(path, &content).await,
            Transport::Webhook(hook) => hook.send(template, &content, &key, titles).await,
            Transport::Exec {
                command,
                timeout,
                scrub,
            } => {
                let program = exec::Program {
                    command,
                    timeout: *timeout,
                    scrub,
                };
                exec::send(&program, template, &content, &key, titles).await
            }
            Transport::Email(mailer) => mailer.send(template, &content, titles).await,
        }
    }
}

/// A copy of `m` whose feed-supplied text has no control characters.
fn without_controls(m: &Match) -> Match {
    Match {
        feed: sanitize(&m.feed),
        title: sanitize(&m.title),
        url: m.url.as_deref().map(sanitize),
        terms: m.terms.iter().map(|term| sanitize(term)).collect(),
        sources: m
            .sources
            .iter()
            .map(|source| Source {
                feed: sanitize(&source.feed),
                title: sanitize(&source.title),
                url: source.url.as_deref().map(sanitize),
                ..source.clone()
            })
            .collect(),
        ..m.clone()
    }
}

/// The environment variables that hold the config's secrets, and systemd's credentials
/// folder: an `exec` sink's program gets none of them.
fn secret_variables(config: &Config) -> Vec<String> {
    use crate::config::Secret;
    let mut names = vec![
        USER_VAR.to_string(),
        PASSWORD_VAR.to_string(),
        "CREDENTIALS_DIRECTORY".to_string(),
    ];
    for alert in &config.alerts {
        let secrets: Vec<&Secret> = match &alert.sink {
            SinkConfig::Webhook {
                url,
                headers,
                secret,
                ..
            } => std::iter::once(url)
                .chain(headers.iter().map(|(_, value)| value))
                .chain(secret)
                .collect(),
            SinkConfig::Email { user, password, .. } => user.iter().chain(password).collect(),
            _ => Vec::new(),
        };
        for secret in secrets {
            if let Secret::Env(name) = secret
                && !names.contains(name)
            {
                names.push(name.clone());
            }
        }
    }
    names
}

fn refs(names: &[String]) -> Vec<&str> {
    names.iter().map(String::as_str).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ItemId, MatchId};

    #[test]
    fn backoff_starts_near_a_second_grows_and_caps_at_an_hour() {
        assert_eq!(retry_delay(1, 0.0), Duration::from_secs(1));
        assert_eq!(retry_delay(2, 0.0), Duration::from_secs(4));
        assert_eq!(retry_delay(4, 0.0), Duration::from_secs(64));
        assert_eq!(retry_delay(7, 0.0), MAX_RETRY);
        let total: Duration = (1..10).map(|n| retry_delay(n, 0.0)).sum();
        assert!(
            total > Duration::from_secs(3 * 3600),
            "ten attempts span hours: {total:?}"
        );
        assert_eq!(retry_delay(40, 0.0), MAX_RETRY);
        assert_eq!(retry_delay(40, 1.0), MAX_RETRY);
        let low = retry_delay(1, -1.0);
        let high = retry_delay(1, 1.0);
        assert!(low >= Duration::from_millis(799) && high <= Duration::from_millis(1201));
        assert!(low < high, "jitter spreads retries");
    }

    #[test]
    fn idempotency_keys_are_stable_per_match_and_sink() {
        use chrono::TimeZone;
        let m = Match {
            match_id: MatchId(1),
            topic: "t".into(),
            matched_at: Utc.with_ymd_and_hms(2023, 11, 21, 0, 0, 0).unwrap(),
            item_id: ItemId(1),
            item_key: "guid:a".into(),
            feed: "f".into(),
            title: "x".into(),
            url: None,
            published: None,
            terms: vec![],
            hits: vec![],
            story_id: None,
            sources: vec![],
            backfill: false,
            verdict: None,
        };
        let mut other = m.clone();
        other.match_id = MatchId(2);
        let key_of = |sink: &str, m: &Match| {
            idempotency_key(sink, &Content::Matches(std::slice::from_ref(m)))
        };
        let key = key_of("hook", &m);
        assert_eq!(key, key_of("hook", &m));
        assert_ne!(key, key_of("hook-2", &m));
        assert_ne!(key, key_of("hook", &other));
        assert!(key.starts_with("watchword-") && key.len() == 42);
    }
}
