//! The whole pipeline against a local HTTP server: fetch → parse → dedup → match → store →
//! match log, conditional GET on the second poll, and the daemon's lifecycle.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Daemon, Workspace, assert_success, fixture, fixtures, wait_for};

/// Serves a fixture at `/name` with validators; a request carrying them gets a 304 (expected
/// exactly `n_conditional` times).
pub(crate) async fn serve(
    server: &MockServer,
    name: &str,
    content_type: &str,
    use_etag: bool,
    n_conditional: u64,
) {
    let route = format!("/{name}");
    let etag = format!("\"{name}-v1\"");
    let last_modified = "Tue, 21 Nov 2023 14:00:00 GMT";
    let conditional = if use_etag {
        Mock::given(method("GET"))
            .and(path(route.clone()))
            .and(header("if-none-match", etag.as_str()))
    } else {
        Mock::given(method("GET"))
            .and(path(route.clone()))
            // Not `header(…)`: wiremock splits header values on commas, and HTTP dates have one.
            .and(move |request: &wiremock::Request| {
                request
                    .headers
                    .get("if-modified-since")
                    .is_some_and(|value| value.as_bytes() == last_modified.as_bytes())
            })
    };
    conditional
        .respond_with(ResponseTemplate::new(304))
        .with_priority(1)
        .expect(n_conditional)
        .mount(server)
        .await;
    let mut full = ResponseTemplate::new(200)
        .set_body_raw(fixture(&format!("feeds/{name}")), content_type)
        .insert_header("last-modified", last_modified);
    if use_etag {
        full = full.insert_header("etag", etag.as_str());
    }
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(full)
        .with_priority(2)
        .mount(server)
        .await;
}

pub(crate) fn feeds_toml(server: &MockServer) -> String {
    [
        ("RSS wire", "news.rss"),
        ("Atom desk", "news.atom"),
        ("JSON agency", "news.json"),
    ]
    .iter()
    .map(|(name, file)| {
        format!(
            "[[feed]]\nname = \"{name}\"\nurl = \"{}/{file}\"\n",
            server.uri()
        )
    })
    .collect::<Vec<_>>()
    .join("\n")
}

/// EXPECTED.json: file → item id → topics. Returns the set of (topic, item title-or-id) pairs
/// to compare on, keyed by the item's identity as the match log shows it.
fn expected() -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    serde_json::from_slice(&fixture("feeds/EXPECTED.json")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_logs_exactly_the_expected_matches_then_polls_conditionally() {
    let server = MockServer::start().await;
    serve(&server, "news.rss", "application/rss+xml", true, 1).await;
    serve(&server, "news.atom", "application/atom+xml", true, 1).await;
    serve(&server, "news.json", "application/feed+json", false, 1).await;
    let workspace = Workspace::new(&feeds_toml(&server));

    let first = workspace.run(&["once"]).await;
    assert_success(&first);
    let stdout = String::from_utf8(first.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 3, "one line per feed:\n{stdout}");
    assert!(
        stdout.contains("RSS wire") && stdout.contains("new items"),
        "{stdout}"
    );

    // Every expected (feed file, item, topic) is logged, and nothing else. An item repeated
    // by canonical URL across feeds is logged once per topic.
    let log = workspace.matches().await;
    let logged: BTreeSet<(String, String)> = log
        .iter()
        .map(|m| {
            (
                m["topic"].as_str().unwrap().to_string(),
                m["url"]
                    .as_str()
                    .expect("fixture items have URLs")
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        logged.len(),
        log.len(),
        "no (topic, url) is logged twice: {log:#?}"
    );
    let mut wanted = BTreeSet::new();
    let urls = item_urls();
    for (file, items) in expected() {
        for (id, topics) in items {
            let url = urls
                .get(&(file.clone(), id.clone()))
                .unwrap_or_else(|| panic!("{file}: no item {id}"));
            for topic in topics {
                wanted.insert((topic, url.clone()));
            }
        }
    }
    assert_eq!(logged, wanted);
    for m in &log {
        for field in [
            "match_id",
            "topic",
            "matched_at",
            "item_id",
            "feed",
            "title",
            "url",
            "published",
            "terms",
            "explain",
        ] {
            assert!(m.get(field).is_some(), "jsonl lacks {field}: {m}");
        }
        assert!(!m["terms"].as_array().unwrap().is_empty());
    }

    // Second poll: validators go back, the server answers 304, nothing new is logged.
    let second = workspace.run(&["once"]).await;
    assert_success(&second);
    let stdout = String::from_utf8(second.stdout).unwrap();
    assert_eq!(stdout.matches("not modified").count(), 3, "{stdout}");
    assert_eq!(workspace.matches().await.len(), log.len());
    server.verify().await;
}

/// (fixture file, item id) → canonical URL, read the way watchword reads it.
fn item_urls() -> BTreeMap<(String, String), String> {
    let mut urls = BTreeMap::new();
    for file in ["news.rss", "news.atom", "news.json"] {
        let feed =
            watchword::parse::parse_feed(&fixture(&format!("feeds/{file}")), None, None).unwrap();
        for item in feed.items {
            let id = item.key.trim_start_matches("guid:").to_string();
            urls.insert((file.to_string(), id), item.url.unwrap_or_default());
        }
    }
    urls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_feed_is_reported_and_the_others_still_poll() {
    let server = MockServer::start().await;
    serve(&server, "news.rss", "application/rss+xml", true, 0).await;
    Mock::given(method("GET"))
        .and(path("/broken.xml"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<rss><channel><item>"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/missing.xml"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let feeds = format!(
        "[[feed]]\nname = \"Good\"\nurl = \"{0}/news.rss\"\n\n[[feed]]\nname = \"Broken\"\nurl = \"{0}/broken.xml\"\n\n[[feed]]\nname = \"Missing\"\nurl = \"{0}/missing.xml\"\n\n[[feed]]\nname = \"Refused\"\nurl = \"http://127.0.0.1:9/feed\"\n",
        server.uri()
    );
    let workspace = Workspace::new(&feeds);
    let output = workspace.run(&["once"]).await;
    assert_success(&output);
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(
        lines[0].starts_with("Good") && lines[0].contains("new items"),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with("Broken") && lines[1].contains("error: not a feed"),
        "{stdout}"
    );
    assert!(
        lines[2].starts_with("Missing") && lines[2].contains("error: http status 404"),
        "{stdout}"
    );
    assert!(
        lines[3].starts_with("Refused") && lines[3].contains("error:"),
        "{stdout}"
    );
    assert!(!workspace.matches().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_polls_on_start_stops_on_sigterm_and_resumes_its_schedule() {
    let feeds_dir = fixtures().join("feeds");
    let feeds = format!(
        "[[feed]]\nname = \"Local RSS\"\nurl = \"{}\"\n",
        feeds_dir.join("news.rss").display()
    );
    let workspace = Workspace::new(&feeds);

    let daemon = Daemon::start(&workspace, "first.log");
    wait_for(
        Duration::from_secs(20),
        "the first poll's matches",
        || async { workspace.database().exists() && !workspace.matches().await.is_empty() },
    )
    .await;
    let (code, log) = daemon.stop().await;
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("schedule loaded due_now=1"), "{log}");
    assert!(log.contains("received SIGTERM"), "{log}");
    assert!(log.contains("watchword stopped"), "{log}");

    let first_polled = last_polled(&workspace);
    assert!(first_polled[0].is_some());

    // A restart resumes the schedule: the feed was just polled, so nothing is due.
    let daemon = Daemon::start(&workspace, "second.log");
    let log_path = workspace.dir.path().join("second.log");
    wait_for(Duration::from_secs(20), "the schedule to load", || {
        let log_path = log_path.clone();
        async move {
            std::fs::read_to_string(&log_path).is_ok_and(|log| log.contains("schedule loaded"))
        }
    })
    .await;
    let (code, log) = daemon.stop().await;
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("schedule loaded due_now=0"), "{log}");
    assert_eq!(
        last_polled(&workspace),
        first_polled,
        "nothing was polled again: {log}"
    );
}

/// The feeds' `last_polled` times, read straight from the database.
fn last_polled(workspace: &Workspace) -> Vec<Option<i64>> {
    let db = rusqlite::Connection::open(workspace.database()).unwrap();
    let mut statement = db
        .prepare("SELECT last_polled FROM feeds ORDER BY id")
        .unwrap();
    statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_the_poll_in_flight_and_skips_queued_ones() {
    // Five feeds on one host, one at a time: four wait in the queue behind the first.
    let (server, feeds) = slow_feeds(5, Duration::from_secs(2)).await;
    let workspace = Workspace::with_daemon("per_host = 1", &feeds);

    let daemon = Daemon::start(&workspace, "daemon.log");
    wait_for(Duration::from_secs(20), "the first request", || async {
        !server.received_requests().await.unwrap().is_empty()
    })
    .await;
    let (code, log) = daemon.stop().await;
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "queued polls did not start: {log}"
    );
    // The poll in flight finished and stored its items: all of them, in one transaction.
    let polled = last_polled(&workspace)
        .iter()
        .filter(|t| t.is_some())
        .count();
    assert_eq!(polled, 1, "{log}");
    let conn = rusqlite::Connection::open(workspace.database()).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let items: i64 = conn
        .query_row("SELECT COUNT(*) FROM items", [], |row| row.get(0))
        .unwrap();
    assert_eq!(items, 5, "the whole feed or nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_on_503_pushes_the_next_poll_back() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "7200"))
        .mount(&server)
        .await;
    let workspace = Workspace::new(&format!(
        "[[feed]]\nname = \"Busy\"\nurl = \"{}/feed.xml\"\n",
        server.uri()
    ));
    let before = chrono::Utc::now().timestamp();
    let output = workspace.run(&["once"]).await;
    assert_success(&output);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("error: throttled: http 503, retry after 7200s"),
        "{stdout}"
    );
    let db = rusqlite::Connection::open(workspace.database()).unwrap();
    let (next_due, errors, status): (i64, i64, String) = db
        .query_row(
            "SELECT next_due, consecutive_errors, last_status FROM feeds",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap();
    assert!(
        next_due >= before + 7200,
        "next poll in {}s",
        next_due - before
    );
    assert_eq!(errors, 1);
    assert_eq!(status, "throttled");
}

/// A server answering every path with the RSS fixture after `delay`, and `n` feeds on it.
async fn slow_feeds(n: usize, delay: Duration) -> (MockServer, String) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("feeds/news.rss"), "application/rss+xml")
                .set_delay(delay),
        )
        .mount(&server)
        .await;
    let feeds = (0..n)
        .map(|i| {
            format!(
                "[[feed]]\nname = \"f{i}\"\nurl = \"{}/feed{i}.xml\"\n\n",
                server.uri()
            )
        })
        .collect();
    (server, feeds)
}

/// Polls four feeds whose server takes 300 ms per response under the given limits and
/// returns how long `once` took.
async fn timed_once(per_host: usize, max_concurrent: usize) -> Duration {
    let (server, feeds) = slow_feeds(4, Duration::from_millis(300)).await;
    let workspace = Workspace::with_daemon(
        &format!("per_host = {per_host}\nmax_concurrent = {max_concurrent}"),
        &feeds,
    );
    let start = std::time::Instant::now();
    assert_success(&workspace.run(&["once"]).await);
    assert_eq!(server.received_requests().await.unwrap().len(), 4);
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_host_and_global_limits_serialize_polls() {
    // One at a time, four responses of 300 ms cannot take less than 1.2 s (a lower bound
    // only: a slow machine cannot make this fail).
    let per_host = timed_once(1, 16).await;
    assert!(
        per_host >= Duration::from_millis(1200),
        "per_host = 1 took {per_host:?}"
    );
    let global = timed_once(16, 1).await;
    assert!(
        global >= Duration::from_millis(1200),
        "max_concurrent = 1 took {global:?}"
    );
}
