//! The status endpoint (`[http] listen`): the only user of `axum`. Serves `/healthz`,
//! `/metrics` (Prometheus text), `/matches.json` and `/matches.atom` — the match log as an
//! Atom feed, so the filtered news can be read in any feed reader. Read-only.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::alert::message::TopicTitles;
use crate::config::Config;
use crate::metrics::{Gauges, Metrics};
use crate::model::{Match, by_story, rfc3339};
use crate::store::{self, MatchFilter, OutboxCounts, SharedStore, WriteHealth};
use crate::text::{escape_xml, sanitize};

/// How many matches `/matches.json` and `/matches.atom` return unless `?limit=` says.
pub const DEFAULT_LIMIT: usize = 100;
/// The most they return.
pub const MAX_LIMIT: usize = 1000;

/// What the handlers read.
#[derive(Debug, Clone)]
pub struct StatusState {
    pub store: SharedStore,
    pub metrics: Arc<Metrics>,
    /// The config in force (a reload replaces it).
    pub config: Arc<RwLock<Arc<Config>>>,
    /// True while the scheduler loop runs.
    pub healthy: Arc<AtomicBool>,
    /// Whether the store could write the last time anything tried.
    pub write_health: WriteHealth,
    /// When the config was loaded, and whether the file on disk was rejected since.
    pub reload: ReloadStatus,
}

/// When the running config was loaded, and whether the last edit of the file was rejected
/// (the daemon then runs the config it had). Shared by the daemon's loop and `/status`.
#[derive(Debug, Clone, Default)]
pub struct ReloadStatus(Arc<RwLock<ReloadState>>);

#[derive(Debug, Clone, Default, serde::Serialize)]
struct ReloadState {
    /// When the running config was loaded (at start, or by the last reload that applied).
    loaded_at: Option<chrono::DateTime<Utc>>,
    /// Why the config on disk is not the one running, if its last edit was rejected.
    rejected: Option<String>,
    rejected_at: Option<chrono::DateTime<Utc>>,
}

impl ReloadStatus {
    /// The config was loaded now.
    pub fn loaded(&self) {
        let mut state = self.0.write().unwrap_or_else(|p| p.into_inner());
        state.loaded_at = Some(Utc::now());
        state.rejected = None;
        state.rejected_at = None;
    }

    /// Notes how a reload went (`Ok(None)`: the file had not changed) and returns the
    /// one-line status for systemd (`STATUS=`). A fixed config after a rejected one is
    /// logged as such.
    pub fn record<T>(&self, outcome: &Result<Option<T>, String>) -> String {
        let mut state = self.0.write().unwrap_or_else(|p| p.into_inner());
        match outcome {
            Ok(applied) => {
                if state.rejected.take().is_some() {
                    tracing::info!("config valid again");
                }
                state.rejected_at = None;
                if applied.is_some() {
                    state.loaded_at = Some(Utc::now());
                }
                "running; the config on disk is the one in use".to_string()
            }
            Err(reason) => {
                state.rejected = Some(reason.clone());
                state.rejected_at = Some(Utc::now());
                "running the previous config: the last edit was rejected (see the log)".to_string()
            }
        }
    }

    fn snapshot(&self) -> ReloadState {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Serves the endpoint on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    state: StatusState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .route("/matches.json", get(matches_json))
        .route("/matches.atom", get(matches_atom))
        .with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

async fn healthz(State(state): State<StatusState>) -> Response {
    if state.healthy.load(Ordering::Relaxed) {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "stopping\n").into_response()
    }
}

/// The daemon's state as JSON: whether the store can write, the feeds' health, the outbox.
async fn status(State(state): State<StatusState>) -> Response {
    let failure = state.write_health.failure();
    // With several daemons on one PostgreSQL database: the live ones (none on SQLite).
    let nodes = store::with(&state.store, |store| {
        store.live_nodes(chrono::Utc::now(), store::NODE_ALIVE)
    })
    .await;
    match gauges(&state).await.and_then(|gauges| Ok((gauges, nodes?))) {
        Ok((gauges, nodes)) => {
            let total =
                gauges
                    .deliveries
                    .iter()
                    .fold(OutboxCounts::default(), |sum, (_, counts)| OutboxCounts {
                        pending: sum.pending + counts.pending,
                        delivered: sum.delivered + counts.delivered,
                        failed: sum.failed + counts.failed,
                    });
            // The feed that has gone longest without a success (never polled ones aside).
            let oldest_success = gauges
                .feed_times
                .iter()
                .filter_map(|times| Some((times.last_success?, &times.feed)))
                .min();
            let reload = state.reload.snapshot();
            let body = serde_json::json!({
                "store": match &failure {
                    None => "ok".to_string(),
                    Some(failure) => failure.to_string(),
                },
                "store_writable": failure.is_none(),
                "store_failing_since": failure.as_ref().map(|f| f.since),
                "feeds": {
                    "configured": gauges.feeds,
                    "ok": gauges.feeds.saturating_sub(
                        gauges.feeds_failing + gauges.feeds_gone + gauges.feeds_stale,
                    ),
                    "failing": gauges.feeds_failing,
                    "stale": gauges.feeds_stale,
                    "gone": gauges.feeds_gone,
                    "oldest_success": oldest_success.map(|(at, feed)| {
                        serde_json::json!({ "feed": feed, "at": at })
                    }),
                },
                "outbox": {
                    "pending": total.pending,
                    "delivered": total.delivered,
                    "failed": total.failed,
                    "by_sink": gauges.deliveries.iter().map(|(sink, counts)| {
                        serde_json::json!({
                            "sink": sink,
                            "pending": counts.pending,
                            "delivered": counts.delivered,
                            "failed": counts.failed,
                        })
                    }).collect::<Vec<_>>(),
                },
                "nodes": nodes,
                "config": {
                    "loaded_at": reload.loaded_at,
                    "on_disk_rejected": reload.rejected.is_some(),
                    "rejected_at": reload.rejected_at,
                    "rejection": reload.rejected,
                },
            });
            (
                [(header::CONTENT_TYPE, "application/json")],
                crate::text::to_json_pretty(&body).unwrap_or_default() + "\n",
            )
                .into_response()
        }
        Err(error) => server_error(&error),
    }
}

async fn metrics(State(state): State<StatusState>) -> Response {
    match gauges(&state).await {
        Ok(gauges) => (
            [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
            state.metrics.render(&gauges),
        )
            .into_response(),
        Err(error) => server_error(&error),
    }
}

/// The gauges read from the database (and the store's write health) when scraped.
async fn gauges(state: &StatusState) -> Result<Gauges, store::StoreError> {
    let config = current(state);
    let names: Vec<String> = config.feeds.iter().map(|f| f.name.clone()).collect();
    let sinks: Vec<String> = config.alerts.iter().map(|a| a.name.clone()).collect();
    let mut gauges = store::with(&state.store, move |store| {
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let sinks: Vec<&str> = sinks.iter().map(String::as_str).collect();
        let (feeds_failing, feeds_gone, feeds_stale) = store.feed_gauges(&names)?;
        let feed_times = store.feed_times(&names)?;
        Ok::<_, store::StoreError>(Gauges {
            feed_times,
            deliveries: store.outbox_counts_by_sink(&sinks)?,
            feeds: names.len(),
            feeds_failing,
            feeds_gone,
            feeds_stale,
            store_write_failing: false,
        })
    })
    .await?;
    gauges.store_write_failing = state.write_health.failure().is_some();
    Ok(gauges)
}

/// `?topic=` and `?limit=` of the match endpoints.
#[derive(Debug, Deserialize)]
struct MatchQuery {
    topic: Option<String>,
    limit: Option<usize>,
}

async fn matches_json(
    State(state): State<StatusState>,
    Query(query): Query<MatchQuery>,
) -> Response {
    match read_matches(&state, &query).await {
        Ok(matches) => {
            let records: Vec<_> = matches.iter().map(Match::record).collect();
            (
                [(header::CONTENT_TYPE, "application/json")],
                crate::text::to_json(&records).expect("plain data serializes"),
            )
                .into_response()
        }
        Err(error) => server_error(&error),
    }
}

async fn matches_atom(
    State(state): State<StatusState>,
    Query(query): Query<MatchQuery>,
    headers: HeaderMap,
) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("localhost");
    let titles = TopicTitles::of(&current(&state).topics);
    match read_matches(&state, &query).await {
        Ok(matches) => (
            [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
            atom(&matches, query.topic.as_deref(), host, &titles),
        )
            .into_response(),
        Err(error) => server_error(&error),
    }
}

async fn read_matches(
    state: &StatusState,
    query: &MatchQuery,
) -> Result<Vec<Match>, store::StoreError> {
    let filter = MatchFilter {
        topic: query.topic.clone(),
        limit: Some(query.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT)),
        ..MatchFilter::default()
    };
    store::with(&state.store, move |store| store.matches(&filter)).await
}

fn current(state: &StatusState) -> Arc<Config> {
    state
        .config
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

fn server_error(error: &dyn std::fmt::Display) -> Response {
    tracing::warn!(error = %error, "status endpoint: cannot read the database");
    (StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")).into_response()
}

/// The match log as an Atom 1.0 feed, one entry per story (naming every topic it matched
/// and every source), newest entry first. `matches` is oldest first. An entry is updated
/// when a later source joined it. Topics are named by their titles: the feed's title for
/// one topic, each entry's title (prefixed with its topics in the feed of all topics), its
/// categories' labels and its summary.
pub fn atom(matches: &[Match], topic: Option<&str>, host: &str, titles: &TopicTitles) -> String {
    let stories = by_story(matches);
    let updated_of = |m: &Match| {
        m.sources
            .iter()
            .map(|source| source.seen)
            .chain([m.matched_at])
            .max()
            .unwrap_or(m.matched_at)
    };
    let updated = stories
        .iter()
        .map(updated_of)
        .max()
        .unwrap_or_else(Utc::now);
    let (title, id, self_path) = match topic {
        Some(topic) => (
            format!("watchword: {}", titles.name(topic)),
            format!("tag:watchword.invalid,2023:matches/{}", xml(topic)),
            format!("/matches.atom?topic={}", url_component(topic)),
        ),
        None => (
            "watchword: all topics".to_string(),
            "tag:watchword.invalid,2023:matches".to_string(),
            "/matches.atom".to_string(),
        ),
    };
    let mut out = String::new();
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <feed xmlns=\"http://www.w3.org/2005/Atom\">\n\
         <title>{}</title>\n<id>{id}</id>\n<updated>{}</updated>\n\
         <link rel=\"self\" href=\"{}\"/>\n<author><name>watchword</name></author>\n\
         <generator>watchword</generator>\n",
        xml(&title),
        rfc3339(updated),
        xml(&format!("http://{}{self_path}", sanitize(host)))
    );
    for m in stories.iter().rev() {
        let entry_title = match topic {
            Some(_) => m.title.clone(),
            None => format!("{}: {}", titles.name(&m.topic), m.title),
        };
        let _ = write!(
            out,
            "<entry>\n<id>tag:watchword.invalid,2023:match/{}-{}</id>\n<title>{}</title>\n\
             <updated>{}</updated>\n<published>{}</published>\n{}",
            m.match_id,
            // With the time, a recreated database does not reuse an entry id.
            m.matched_at.timestamp(),
            xml(&entry_title),
            rfc3339(updated_of(m)),
            rfc3339(m.published.unwrap_or(m.matched_at)),
            // A story matched by several topics names them all (see `by_story`).
            m.topic
                .split(", ")
                .map(|topic| format!(
                    "<category term=\"{}\" label=\"{}\"/>\n",
                    xml(topic),
                    xml(&titles.name(topic))
                ))
                .collect::<String>()
        );
        let summary = xml(&format!(
            "{} · {} · matched: {}",
            titles.name(&m.topic),
            m.feed,
            m.terms.join(", ")
        ));
        if let Some(url) = &m.url {
            let _ = writeln!(out, "<link rel=\"alternate\" href=\"{}\"/>", xml(url));
        }
        // Every source, one per line (an entry without a link needs content anyway, RFC
        // 4287, 4.1.1).
        let sources: Vec<String> = m
            .sources
            .iter()
            .map(|source| {
                xml(&format!(
                    "{} · {} · {}",
                    source.feed,
                    source.title,
                    source.url.as_deref().unwrap_or("(no link)")
                ))
            })
            .collect();
        let _ = writeln!(
            out,
            "<content type=\"text\">{} · {} source{}\n{}</content>",
            summary,
            sources.len(),
            if sources.len() == 1 { "" } else { "s" },
            sources.join("\n")
        );
        let _ = write!(out, "<summary>{summary}</summary>\n</entry>\n");
    }
    out.push_str("</feed>\n");
    out
}

/// Text for XML content or an attribute: control characters and the noncharacters U+FFFE
/// and U+FFFF (not allowed in XML 1.0) replaced, markup escaped.
fn xml(text: &str) -> String {
    escape_xml(&sanitize(text).replace(['\u{FFFE}', '\u{FFFF}'], "\u{FFFD}"))
}

/// Percent-encodes a query value.
fn url_component(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::model::{ItemId, MatchId, StoryId};

    fn titles_of(config: &str) -> TopicTitles {
        let (config, diagnostics) =
            crate::config::compile(std::path::Path::new("/tmp/t.toml"), config);
        TopicTitles::of(&config.unwrap_or_else(|| panic!("{diagnostics:?}")).topics)
    }

    #[test]
    fn atom_escapes_feed_text_and_lists_newest_first() {
        let at = |h| Utc.with_ymd_and_hms(2023, 11, 21, h, 0, 0).unwrap();
        let m = |id, hour, title: &str| Match {
            match_id: MatchId(id),
            topic: "satellite_launch".into(),
            matched_at: at(hour),
            item_id: ItemId(id),
            item_key: format!("guid:{id}"),
            feed: "Wire".into(),
            title: title.into(),
            url: Some(format!("https://e.example/{id}?a=1&b=2")),
            published: None,
            terms: vec!["satellite".into()],
            hits: vec![],
            story_id: Some(StoryId(id)),
            sources: vec![],
            backfill: false,
            verdict: None,
        };
        let text = atom(
            &[m(1, 10, "First <b>&</b>\u{1b}[31m"), m(2, 11, "Second")],
            Some("satellite_launch"),
            "127.0.0.1:8787",
            &TopicTitles::default(),
        );
        assert!(
            text.contains("<title>First &lt;b&gt;&amp;&lt;/b&gt; [31m</title>"),
            "{text}"
        );
        assert!(
            text.contains("href=\"https://e.example/1?a=1&amp;b=2\""),
            "{text}"
        );
        assert!(text.find("match/2-").unwrap() < text.find("match/1-").unwrap());
        assert!(text.contains("<updated>2023-11-21T11:00:00Z</updated>"));
        assert!(
            text.contains("href=\"http://127.0.0.1:8787/matches.atom?topic=satellite_launch\"")
        );
    }

    #[test]
    fn atom_has_one_entry_per_story_with_its_sources() {
        let at = |h| Utc.with_ymd_and_hms(2023, 11, 21, h, 0, 0).unwrap();
        let source = |feed: &str, hour| crate::model::Source {
            feed: feed.into(),
            title: format!("{feed} headline"),
            url: Some(format!("https://{feed}.example/a")),
            published: None,
            seen: at(hour),
        };
        let titles = titles_of(
            "[[topic]]\nid = \"satellite_launch\"\ntitle = \"Spy satellite\"\nquery = \"x\"\n[[topic]]\nid = \"missile_sale\"\nquery = \"y\"\n",
        );
        let m = |id, topic: &str, sources| Match {
            match_id: MatchId(id),
            topic: topic.into(),
            matched_at: at(10),
            item_id: ItemId(1),
            item_key: "guid:1".into(),
            feed: "one".into(),
            title: "one headline".into(),
            url: Some("https://one.example/a".into()),
            published: None,
            terms: vec![],
            hits: vec![],
            story_id: Some(StoryId(7)),
            sources,
            backfill: false,
            verdict: None,
        };
        let text = atom(
            &[
                m(
                    1,
                    "satellite_launch",
                    vec![source("one", 10), source("two", 12)],
                ),
                m(2, "missile_sale", vec![source("one", 10)]),
            ],
            None,
            "127.0.0.1:8787",
            &titles,
        );
        assert_eq!(text.matches("<entry>").count(), 1, "{text}");
        assert!(
            text.contains(
                "<category term=\"satellite_launch\" label=\"Spy satellite\"/>\n<category term=\"missile_sale\" label=\"missile_sale\"/>"
            ),
            "{text}"
        );
        assert!(
            text.contains("<title>Spy satellite, missile_sale: one headline</title>"),
            "{text}"
        );
        assert!(text.contains("2 sources\none · one headline · https://one.example/a\ntwo · two headline · https://two.example/a</content>"), "{text}");
        // Updated when the last source came.
        assert!(
            text.contains("<updated>2023-11-21T12:00:00Z</updated>"),
            "{text}"
        );
    }
}
