//! Three daemons (nodes) on one PostgreSQL database poll 200 feeds on eight loopback hosts
//! that publish a new item on every request, and deliver the matches to a webhook. One node
//! is killed with SIGKILL mid-run and started again later, then another is killed. At the
//! end a `once` polls what is left and sends what is pending, and the test checks what the
//! issue asks of failover:
//! - every published item that matches is logged exactly once;
//! - every match reached the webhook, repeats only with the same `Idempotency-Key`;
//! - no feed went unpolled for longer than its interval and the time a dead node's hosts
//!   and leases take to pass to the others;
//! - no feed was polled by two nodes at once (the feed server counts overlapping requests).
//!
//! The daemon's shortest interval is a minute, so this takes about two and a half minutes;
//! without `WATCHWORD_TEST_POSTGRES` it is skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::postgres::Schema;
use crate::support::{Daemon, Workspace, assert_success, wait_for};

const FEEDS: usize = 200;
/// Loopback hosts the feeds are spread over (127.0.0.1 to 127.0.0.8): hosts, not feeds,
/// are shared out among the nodes.
const HOSTS: usize = 8;
/// How long the server takes to answer, so that two polls of one feed at once overlap.
const HOLD: Duration = Duration::from_millis(40);
/// The config's interval, and its jitter (`scheduler::JITTER`).
const INTERVAL: Duration = Duration::from_secs(60);
const JITTER: f64 = 0.10;
/// A dead node's hosts pass to the others once its heartbeat is this old
/// (`store::NODE_ALIVE`) and a heartbeat (2 s) has seen it; its leases last four times the
/// config's timeout (5 s).
const TAKEOVER: Duration = Duration::from_secs(10 + 2 + 20);

#[derive(Debug, Default)]
struct World {
    /// Per feed: the items published, oldest first (a feed lists all of them).
    items: Vec<Vec<(String, bool)>>,
    /// Per feed: when each request began and ended.
    requests: Vec<Vec<(Instant, Instant)>>,
    in_flight: Vec<usize>,
    /// Requests that came while another of the same feed was being answered.
    overlaps: Vec<usize>,
}

impl World {
    fn rss(&self, feed: usize) -> String {
        let mut xml = format!(
            "<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel><title>Feed {feed}</title>\
             <link>https://news.example/f{feed}</link><description>d</description>\n"
        );
        for (guid, matching) in self.items[feed].iter().rev() {
            let title = if *matching {
                format!("Satellite report {guid}")
            } else {
                format!("Harbour report {guid}")
            };
            xml.push_str(&format!(
                "<item><title>{title}</title><link>https://news.example/{guid}</link>\
                 <guid isPermaLink=\"false\">{guid}</guid></item>\n"
            ));
        }
        xml.push_str("</channel></rss>\n");
        xml
    }
}

/// Answers `GET /f/N.xml` on one loopback host: publishes a new item in feed N (every
/// third one matching), lists them all, and records the request.
async fn serve(listener: tokio::net::TcpListener, world: Arc<Mutex<World>>) {
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let world = world.clone();
        tokio::spawn(async move {
            let mut request = Vec::new();
            let mut buffer = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => request.extend_from_slice(&buffer[..n]),
                }
            }
            let line = String::from_utf8_lossy(&request);
            let Some(feed) = line
                .split_whitespace()
                .nth(1)
                .and_then(|path| path.strip_prefix("/f/")?.strip_suffix(".xml")?.parse().ok())
                .filter(|feed: &usize| *feed < FEEDS)
            else {
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    )
                    .await;
                return;
            };
            let started = Instant::now();
            let body = {
                let mut world = world.lock().unwrap();
                if world.in_flight[feed] > 0 {
                    world.overlaps.push(feed);
                }
                world.in_flight[feed] += 1;
                let n = world.items[feed].len();
                world.items[feed].push((format!("f{feed}-i{n}"), (feed + n).is_multiple_of(3)));
                world.rss(feed)
            };
            tokio::time::sleep(HOLD).await;
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
            let mut world = world.lock().unwrap();
            world.in_flight[feed] -= 1;
            world.requests[feed].push((started, Instant::now()));
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_the_feeds_and_lose_nothing_when_two_die() {
    let Some(schema) = Schema::create("failover") else {
        return;
    };
    let world = Arc::new(Mutex::new(World {
        items: vec![Vec::new(); FEEDS],
        requests: vec![Vec::new(); FEEDS],
        in_flight: vec![0; FEEDS],
        overlaps: Vec::new(),
    }));
    let mut hosts = Vec::new();
    for host in 1..=HOSTS {
        let listener =
            tokio::net::TcpListener::bind(("127.0.0.".to_string() + &host.to_string(), 0))
                .await
                .expect("a loopback address of 127.0.0.0/8");
        hosts.push(listener.local_addr().unwrap());
        tokio::spawn(serve(listener, world.clone()));
    }
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hook)
        .await;

    let feeds: String = (0..FEEDS)
        .map(|feed| {
            format!(
                "[[feed]]\nname = \"feed {feed}\"\nurl = \"http://{}/f/{feed}.xml\"\n\n",
                hosts[feed % HOSTS]
            )
        })
        .collect();
    let config = format!(
        "[daemon]\ndatabase = \"{}\"\ninterval = \"1m\"\ntimeout = \"5s\"\nconnect_timeout = \"2s\"\n\
         first_poll = \"alert\"\ndedup = \"item\"\nper_host = 2\nmax_concurrent = 16\n\n\
         [[alert]]\nkind = \"webhook\"\nname = \"hook\"\nurl = \"{}/hook\"\ntimeout = \"2s\"\n\n\
         [[topic]]\nid = \"sat\"\nquery = 'satellite'\n\n{feeds}",
        schema.url(),
        hook.uri()
    );
    let workspace = Workspace::with_database("unused", "", "");
    std::fs::write(workspace.config(), config).unwrap();

    let begin = Instant::now();
    let at = |seconds: u64| tokio::time::sleep_until((begin + Duration::from_secs(seconds)).into());
    let a = Daemon::start(&workspace, "a.log");
    let b = Daemon::start(&workspace, "b.log");
    let c = Daemon::start(&workspace, "c.log");
    wait_for(Duration::from_secs(30), "every feed's first poll", || {
        let world = world.clone();
        async move { world.lock().unwrap().requests.iter().all(|r| !r.is_empty()) }
    })
    .await;
    at(20).await;
    a.kill();
    at(40).await;
    let a = Daemon::start(&workspace, "a2.log");
    at(75).await;
    b.kill();
    at(150).await;
    let stopped = Instant::now();
    let (code_a, log_a) = a.stop().await;
    let (code_c, log_c) = c.stop().await;
    assert_eq!(code_a, Some(0), "{log_a}");
    assert_eq!(code_c, Some(0), "{log_c}");

    // No feed went unpolled for longer than its interval (with jitter) and a takeover, and
    // none was polled by two nodes at once.
    let longest = INTERVAL.mul_f64(1.0 + JITTER) + TAKEOVER;
    let (gaps, overlaps) = {
        let world = world.lock().unwrap();
        let mut gaps = BTreeMap::new();
        for (feed, requests) in world.requests.iter().enumerate() {
            let mut starts: Vec<Instant> = requests.iter().map(|(start, _)| *start).collect();
            starts.push(stopped);
            starts.sort();
            let widest = starts
                .windows(2)
                .map(|pair| pair[1] - pair[0])
                .max()
                .unwrap_or_default();
            gaps.insert(feed, widest);
        }
        (gaps, world.overlaps.clone())
    };
    let widest = gaps.values().max().copied().unwrap_or_default();
    eprintln!("the longest a feed went unpolled: {widest:?} (allowed {longest:?})");
    assert!(
        widest <= longest,
        "feeds unpolled for longer than {longest:?}: {:?}",
        gaps.iter()
            .filter(|(_, gap)| **gap > longest)
            .collect::<Vec<_>>()
    );
    assert!(
        overlaps.is_empty(),
        "feeds polled twice at once: {overlaps:?}"
    );

    // The feeds were shared out: more than one node polled them last.
    let nodes = schema.count("SELECT COUNT(DISTINCT polled_by) FROM feeds");
    assert!(nodes >= 2, "{nodes} node(s) polled the feeds");

    // A last `once` stores what a killed node fetched but never stored, and sends what is
    // pending.
    assert_success(&workspace.run(&["once"]).await);
    let published: BTreeSet<String> = world
        .lock()
        .unwrap()
        .items
        .iter()
        .flatten()
        .filter(|(_, matching)| *matching)
        .map(|(guid, _)| format!("https://news.example/{guid}"))
        .collect();
    let log = workspace.matches().await;
    let logged: Vec<String> = log
        .iter()
        .map(|m| m["url"].as_str().unwrap().to_string())
        .collect();
    let unique: BTreeSet<String> = logged.iter().cloned().collect();
    assert_eq!(unique.len(), logged.len(), "an item logged twice");
    assert_eq!(unique, published, "the match log is every matching item");

    // Every match reached the webhook; a repeat (a node killed between sending and
    // recording) carries the same key.
    let calls = hook.received_requests().await.unwrap();
    let mut by_key: BTreeMap<String, usize> = BTreeMap::new();
    for call in &calls {
        let key = call
            .headers
            .get("idempotency-key")
            .expect("every call has a key")
            .to_str()
            .unwrap()
            .to_string();
        *by_key.entry(key).or_default() += 1;
    }
    let repeats: usize = by_key.values().map(|n| n - 1).sum();
    eprintln!(
        "{} matches, {} webhook calls, {repeats} repeated with their key",
        published.len(),
        calls.len()
    );
    assert_eq!(by_key.len(), published.len(), "one key per match");
    assert_eq!(
        schema.count("SELECT COUNT(*) FROM deliveries WHERE state <> 'delivered'"),
        0,
        "every outbox row delivered"
    );
}
