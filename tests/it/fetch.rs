//! The fetch stage against a local server: request headers, limits and outcomes.

use std::io::Write;
use std::time::Duration;

use chrono::Utc;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::daemon_config;

use watchword::config::FeedSource;
use watchword::fetch::{FetchError, FetchOutcome, Fetcher, Validators};

async fn fetch(server: &MockServer, route: &str, max_body: u64) -> FetchOutcome {
    let fetcher = Fetcher::new(&daemon_config(max_body, Duration::from_secs(5))).unwrap();
    let url = url::Url::parse(&format!("{}{route}", server.uri())).unwrap();
    fetcher
        .fetch(&FeedSource::Http(url), &Validators::default(), Utc::now())
        .await
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    // A stored (uncompressed) deflate stream inside a gzip wrapper, written by hand so the
    // test needs no compression crate: header, stored blocks, CRC32, length.
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let chunks: Vec<&[u8]> = bytes.chunks(65_535).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        out.push(u8::from(i + 1 == chunks.len()));
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.write_all(&crc32(bytes).to_le_bytes()).unwrap();
    out.write_all(&(bytes.len() as u32).to_le_bytes()).unwrap();
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[tokio::test]
async fn sends_a_user_agent_and_reads_gzip() {
    let server = MockServer::start().await;
    let body = b"<rss version=\"2.0\"><channel><title>t</title></channel></rss>".to_vec();
    Mock::given(method("GET"))
        .and(path("/feed"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(gzip(&body), "application/rss+xml; charset=utf-8")
                .insert_header("content-encoding", "gzip")
                .insert_header("etag", "\"abc\""),
        )
        .mount(&server)
        .await;
    let FetchOutcome::Fetched(fetched) = fetch(&server, "/feed", 1 << 20).await else {
        panic!("expected a body");
    };
    assert_eq!(fetched.body, body, "decompressed transparently");
    assert_eq!(fetched.charset.as_deref(), Some("utf-8"));
    assert_eq!(fetched.validators.etag.as_deref(), Some("\"abc\""));
    let requests = server.received_requests().await.unwrap();
    let agent = requests[0]
        .headers
        .get("user-agent")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(agent, watchword::config::DEFAULT_USER_AGENT);
    assert!(agent.starts_with(concat!("watchword/", env!("CARGO_PKG_VERSION"), " ")));
}

#[tokio::test]
async fn a_body_over_the_cap_fails_even_when_compressed_small() {
    let server = MockServer::start().await;
    let big = vec![b'a'; 300 * 1024];
    Mock::given(method("GET"))
        .and(path("/plain"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(big.clone(), "text/xml"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/gzip"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(gzip(&big), "text/xml")
                .insert_header("content-encoding", "gzip"),
        )
        .mount(&server)
        .await;
    for route in ["/plain", "/gzip"] {
        let outcome = fetch(&server, route, 100 * 1024).await;
        assert_eq!(
            outcome,
            FetchOutcome::Failed(FetchError::TooLarge { limit: 100 * 1024 }),
            "{route}"
        );
    }
}

#[tokio::test]
async fn statuses_become_outcomes() {
    let server = MockServer::start().await;
    let routes = [
        ("/gone", ResponseTemplate::new(410)),
        (
            "/busy",
            ResponseTemplate::new(503).insert_header("retry-after", "120"),
        ),
        ("/slow-down", ResponseTemplate::new(429)),
        ("/missing", ResponseTemplate::new(404)),
        ("/not-modified", ResponseTemplate::new(304)),
    ];
    for (route, response) in routes {
        Mock::given(method("GET"))
            .and(path(route))
            .respond_with(response)
            .mount(&server)
            .await;
    }
    assert_eq!(fetch(&server, "/gone", 1 << 20).await, FetchOutcome::Gone);
    assert_eq!(
        fetch(&server, "/busy", 1 << 20).await,
        FetchOutcome::Throttled {
            status: 503,
            retry_after: Some(Duration::from_secs(120))
        }
    );
    assert_eq!(
        fetch(&server, "/slow-down", 1 << 20).await,
        FetchOutcome::Throttled {
            status: 429,
            retry_after: None
        }
    );
    assert_eq!(
        fetch(&server, "/missing", 1 << 20).await,
        FetchOutcome::Failed(FetchError::Status { status: 404 })
    );
    assert_eq!(
        fetch(&server, "/not-modified", 1 << 20).await,
        FetchOutcome::NotModified { moved_to: None }
    );
}

#[tokio::test]
async fn redirects_are_followed_up_to_the_limit() {
    let server = MockServer::start().await;
    for hop in 0..8 {
        Mock::given(method("GET"))
            .and(path(format!("/hop{hop}")))
            .respond_with(
                ResponseTemplate::new(302)
                    .insert_header("location", format!("/hop{}", hop + 1).as_str()),
            )
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/hop8"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<rss/>"))
        .mount(&server)
        .await;
    // Three hops: followed, and the final URL is reported.
    let FetchOutcome::Fetched(fetched) = fetch(&server, "/hop5", 1 << 20).await else {
        panic!("three redirects are within the limit");
    };
    assert!(fetched.final_url.ends_with("/hop8"));
    // Eight hops: more than five, so the fetch fails.
    let outcome = fetch(&server, "/hop0", 1 << 20).await;
    assert!(
        matches!(outcome, FetchOutcome::Failed(FetchError::Network(_))),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_slow_server_hits_the_deadline() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    let fetcher = Fetcher::new(&daemon_config(1 << 20, Duration::from_secs(1))).unwrap();
    let url = url::Url::parse(&format!("{}/slow", server.uri())).unwrap();
    let outcome = fetcher
        .fetch(&FeedSource::Http(url), &Validators::default(), Utc::now())
        .await;
    assert!(
        matches!(outcome, FetchOutcome::Failed(FetchError::Timeout(_))),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn local_files_are_read_with_the_same_cap() {
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small.xml");
    std::fs::write(&small, "<rss/>").unwrap();
    let big = dir.path().join("big.xml");
    std::fs::write(&big, vec![b'x'; 4096]).unwrap();
    let fetcher = Fetcher::new(&daemon_config(1024, Duration::from_secs(5))).unwrap();
    let none = Validators::default();
    let FetchOutcome::Fetched(fetched) = fetcher
        .fetch(&FeedSource::File(small), &none, Utc::now())
        .await
    else {
        panic!("a small file is read");
    };
    assert_eq!(fetched.body, b"<rss/>");
    assert!(fetched.final_url.starts_with("file://"));
    assert_eq!(
        fetcher
            .fetch(&FeedSource::File(big), &none, Utc::now())
            .await,
        FetchOutcome::Failed(FetchError::TooLarge { limit: 1024 })
    );
    let missing = fetcher
        .fetch(
            &FeedSource::File(dir.path().join("nope.xml")),
            &none,
            Utc::now(),
        )
        .await;
    assert!(
        matches!(missing, FetchOutcome::Failed(FetchError::File { .. })),
        "{missing:?}"
    );
}

#[tokio::test]
async fn a_permanent_redirect_is_reported_with_a_304_too() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/old"))
        .respond_with(ResponseTemplate::new(308).insert_header("location", "/new"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/new"))
        .respond_with(ResponseTemplate::new(304))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/temporary"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/old"))
        .mount(&server)
        .await;
    let fetcher = Fetcher::new(&daemon_config(1 << 20, Duration::from_secs(5))).unwrap();
    let source = |route: &str| {
        FeedSource::Http(url::Url::parse(&format!("{}{route}", server.uri())).unwrap())
    };
    let validators = Validators {
        etag: Some("\"v1\"".into()),
        last_modified: None,
    };
    assert_eq!(
        fetcher
            .fetch(&source("/old"), &validators, Utc::now())
            .await,
        FetchOutcome::NotModified {
            moved_to: Some(format!("{}/new", server.uri()))
        }
    );
    assert_eq!(
        fetcher
            .fetch(&source("/temporary"), &validators, Utc::now())
            .await,
        FetchOutcome::NotModified { moved_to: None },
        "one temporary hop means the feed did not move"
    );
}

#[tokio::test]
async fn a_post_follows_307_but_not_302() {
    use watchword::fetch::Post;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(307).insert_header("location", "/hook-v2"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/hook-v2"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/moved"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/elsewhere"))
        .mount(&server)
        .await;
    let fetcher = Fetcher::new(&daemon_config(1 << 20, Duration::from_secs(5))).unwrap();
    fn post(url: &url::Url) -> Post<'_> {
        Post {
            url,
            content_type: "application/json",
            headers: &[],
            body: b"{}".to_vec(),
            timeout: Duration::from_secs(5),
        }
    }
    let hook = url::Url::parse(&format!("{}/hook", server.uri())).unwrap();
    assert_eq!(
        fetcher.post(post(&hook), Utc::now()).await.unwrap().status,
        204
    );
    let moved = url::Url::parse(&format!("{}/moved", server.uri())).unwrap();
    let response = fetcher.post(post(&moved), Utc::now()).await.unwrap();
    assert_eq!(response.status, 302);
    assert!(
        response.excerpt.contains("redirected to /elsewhere"),
        "{response:?}"
    );
    let received = server.received_requests().await.unwrap();
    assert!(
        received.iter().all(|r| r.method.as_str() == "POST"),
        "a POST never becomes a GET"
    );
}

/// The port of a mock server, to name it as `localhost` (another host than `127.0.0.1`).
fn localhost(server: &MockServer, route: &str) -> url::Url {
    let port = server.address().port();
    url::Url::parse(&format!("http://localhost:{port}{route}")).unwrap()
}

#[tokio::test]
async fn urls_from_feed_content_may_not_reach_private_addresses() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/article"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<p>inside</p>"))
        .mount(&server)
        .await;
    let guarded = Fetcher::new(&daemon_config(1 << 20, Duration::from_secs(5))).unwrap();
    let literal = url::Url::parse(&format!("{}/article", server.uri())).unwrap();
    let named = localhost(&server, "/article");
    for url in [&literal, &named] {
        match guarded
            .fetch_untrusted(url, &Validators::default(), Utc::now())
            .await
        {
            FetchOutcome::Failed(error @ FetchError::Refused { .. }) => {
                let message = error.to_string();
                assert!(message.contains("loopback"), "{message}");
                assert!(message.contains("allow_private_targets"), "{message}");
            }
            other => panic!("{url} should be refused, got {other:?}"),
        }
    }
    let mut allowed = daemon_config(1 << 20, Duration::from_secs(5));
    allowed.allow_private_targets = true;
    let open = Fetcher::new(&allowed).unwrap();
    for url in [&literal, &named] {
        let outcome = open
            .fetch_untrusted(url, &Validators::default(), Utc::now())
            .await;
        assert!(matches!(outcome, FetchOutcome::Fetched(_)), "{outcome:?}");
    }
}

#[tokio::test]
async fn a_redirect_to_another_host_is_checked_but_the_configured_host_is_trusted() {
    let server = MockServer::start().await;
    let elsewhere = localhost(&server, "/feed");
    Mock::given(method("GET"))
        .and(path("/away"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", elsewhere.as_str()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/here"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/feed"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/feed"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<rss/>"))
        .mount(&server)
        .await;
    // The configured URL itself is on loopback: the operator chose it.
    let outcome = fetch(&server, "/here", 1 << 20).await;
    assert!(matches!(outcome, FetchOutcome::Fetched(_)), "{outcome:?}");
    // A redirect to another host came from the server, not the operator.
    match fetch(&server, "/away", 1 << 20).await {
        FetchOutcome::Failed(FetchError::Refused { url, .. }) => {
            assert_eq!(url, elsewhere.as_str());
        }
        other => panic!("the redirect should be refused, got {other:?}"),
    }
    // A feed that moved to another host is polled at the new address as content-derived.
    let fetcher = Fetcher::new(&daemon_config(1 << 20, Duration::from_secs(5))).unwrap();
    let configured = url::Url::parse(&format!("{}/here", server.uri())).unwrap();
    let outcome = fetcher
        .fetch_for(&elsewhere, &configured, &Validators::default(), Utc::now())
        .await;
    assert!(
        matches!(outcome, FetchOutcome::Failed(FetchError::Refused { .. })),
        "{outcome:?}"
    );
    let same_host = url::Url::parse(&format!("{}/feed", server.uri())).unwrap();
    let outcome = fetcher
        .fetch_for(&same_host, &configured, &Validators::default(), Utc::now())
        .await;
    assert!(matches!(outcome, FetchOutcome::Fetched(_)), "{outcome:?}");
}
