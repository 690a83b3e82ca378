//! Crash consistency: the real daemon polls feeds that publish new items on every request and
//! delivers its matches to a webhook that is sometimes down or slow and to a jsonl file, and
//! is killed with SIGKILL again and again — while fetching, while storing, while delivering,
//! while starting — and restarted each time. Then one clean run finishes the work, and the
//! test checks what must hold after any crash: every published item that matches a topic is
//! in the match log exactly once, the database is intact, and every match reached every
//! sink that wants it (at least once) with its outbox rows all delivered.
//!
//! The kill times come from a seeded RNG (`WATCHWORD_CRASH_SEED` to replay another seed), but
//! each kill first waits for a condition of this life (a feed request, a new stored item, a
//! webhook call), so the kills land in the phase they aim at rather than all at startup.
//! Between two lives the test makes every feed and every pending delivery due (the time an
//! interval takes to pass), as the daemon's minimum interval is a minute.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::support::{Daemon, Workspace, wait_for};

/// Feeds served; each request of one may reveal new items.
const FEEDS: usize = 6;
/// Daemon lives ended by SIGKILL before the clean run.
const KILLS: usize = 30;
/// The alert sinks, by name.
const SINKS: [&str; 2] = ["hook", "file"];

/// An item a feed has published.
#[derive(Debug, Clone)]
struct Published {
    guid: String,
    url: String,
    title: String,
    summary: String,
    /// The topics it must match.
    topics: Vec<&'static str>,
}

/// What the local server has published and received.
struct World {
    rng: fastrand::Rng,
    /// Items per feed, oldest first; a feed lists all of them.
    feeds: Vec<Vec<Published>>,
    /// No new items, no failing or slow webhook: the clean run at the end.
    frozen: bool,
    /// Requests per feed.
    feed_requests: Vec<usize>,
    /// Webhook calls, whatever their answer.
    hook_calls: usize,
    /// Match ids the webhook accepted (answered 2xx for), with how many times.
    hook_accepted: BTreeMap<i64, usize>,
    /// Webhook calls answered 503.
    hook_refused: usize,
}

impl World {
    fn new(seed: u64) -> World {
        World {
            rng: fastrand::Rng::with_seed(seed ^ 0x5eed),
            feeds: vec![Vec::new(); FEEDS],
            frozen: false,
            feed_requests: vec![0; FEEDS],
            hook_calls: 0,
            hook_accepted: BTreeMap::new(),
            hook_refused: 0,
        }
    }

    /// A made-up word: syllables that can never spell a topic's term.
    fn word(&mut self) -> String {
        const SYLLABLES: &[&str] = &[
            "ka", "lo", "mi", "ren", "tos", "va", "bel", "dru", "fe", "gan", "pil", "qua", "sto",
            "tu", "wy", "xal", "yo", "mub", "nis", "ep",
        ];
        let n = self.rng.usize(2..=3);
        (0..n)
            .map(|_| SYLLABLES[self.rng.usize(..SYLLABLES.len())])
            .collect()
    }

    fn words(&mut self, n: usize) -> Vec<String> {
        (0..n).map(|_| self.word()).collect()
    }

    /// Publishes a new item in `feed`: about half match a topic, a few both.
    fn publish(&mut self, feed: usize) {
        let n = self.feeds[feed].len();
        let topics: Vec<&'static str> = match self.rng.u8(..100) {
            0..45 => vec![],
            45..80 => vec!["alpha"],
            80..95 => vec!["beta"],
            _ => vec!["alpha", "beta"],
        };
        let mut title = self.words(5);
        for (at, topic) in topics.iter().enumerate() {
            // Each topic's term somewhere in the title.
            let term = if *topic == "alpha" { "zircon" } else { "heron" };
            title.insert((at * 2 + 1).min(title.len()), term.to_string());
        }
        let summary = self.words(25).join(" ");
        self.feeds[feed].push(Published {
            guid: format!("feed{feed}-item{n}"),
            url: format!("https://news.example/f{feed}/{n}"),
            title: title.join(" "),
            summary,
            topics,
        });
    }

    fn rss(&self, feed: usize) -> String {
        let mut xml = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel>\
             <title>Feed {feed}</title><link>https://news.example/f{feed}</link>\
             <description>crash test feed</description>\n"
        );
        for item in self.feeds[feed].iter().rev() {
            xml.push_str(&format!(
                "<item><title>{}</title><link>{}</link><guid isPermaLink=\"false\">{}</guid>\
                 <description>{}</description></item>\n",
                item.title, item.url, item.guid, item.summary
            ));
        }
        xml.push_str("</channel></rss>\n");
        xml
    }

    /// Every (topic, url) the match log must hold.
    fn expected(&self) -> BTreeSet<(String, String)> {
        self.feeds
            .iter()
            .flatten()
            .flat_map(|item| {
                item.topics
                    .iter()
                    .map(|topic| (topic.to_string(), item.url.clone()))
            })
            .collect()
    }

    fn published(&self) -> usize {
        self.feeds.iter().map(Vec::len).sum()
    }
}

/// Serves `/feed/N`: each request publishes one to three new items (none when frozen), and
/// answers after a random delay so kills land mid-fetch.
struct FeedServer(Arc<Mutex<World>>);

impl Respond for FeedServer {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut world = self.0.lock().unwrap();
        let feed: usize = request
            .url
            .path()
            .rsplit('/')
            .next()
            .and_then(|n| n.parse().ok())
            .filter(|&n| n < FEEDS)
            .expect("a feed number");
        world.feed_requests[feed] += 1;
        let mut delay = Duration::ZERO;
        if !world.frozen {
            for _ in 0..world.rng.usize(1..=3) {
                world.publish(feed);
            }
            delay = Duration::from_millis(world.rng.u64(10..250));
        }
        ResponseTemplate::new(200)
            .set_body_raw(world.rss(feed), "application/rss+xml")
            .set_delay(delay)
    }
}

/// The webhook receiver: down (503) one call in five, slow one in three, unless frozen.
struct HookServer(Arc<Mutex<World>>);

impl Respond for HookServer {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut world = self.0.lock().unwrap();
        world.hook_calls += 1;
        let roll = world.rng.u8(..100);
        if !world.frozen && roll < 20 {
            world.hook_refused += 1;
            return ResponseTemplate::new(503);
        }
        let body: serde_json::Value =
            serde_json::from_slice(&request.body).expect("the webhook body is JSON");
        for m in body["matches"]
            .as_array()
            .expect("a json webhook has matches")
        {
            *world
                .hook_accepted
                .entry(m["match_id"].as_i64().expect("a match id"))
                .or_default() += 1;
        }
        let delay = if !world.frozen && roll < 50 {
            Duration::from_millis(world.rng.u64(100..600))
        } else {
            Duration::ZERO
        };
        ResponseTemplate::new(204).set_delay(delay)
    }
}

fn config(server: &MockServer, dir: &Path) -> String {
    let mut text = "[daemon]\ndatabase = \"ww.db\"\nfirst_poll = \"alert\"\ninterval = \"1m\"\ntimeout = \"5s\"\n\
         connect_timeout = \"2s\"\nmax_concurrent = 4\nper_host = 4\nalert_attempts = 10000\n\n"
        .to_string();
    for feed in 0..FEEDS {
        text.push_str(&format!(
            "[[feed]]\nname = \"Feed {feed}\"\nurl = \"{}/feed/{feed}\"\n\n",
            server.uri()
        ));
    }
    text.push_str(
        "[[topic]]\nid = \"alpha\"\nquery = \"zircon\"\n\n\
         [[topic]]\nid = \"beta\"\nquery = \"heron\"\n\n",
    );
    text.push_str(&format!(
        "[[alert]]\nkind = \"webhook\"\nname = \"hook\"\nurl = \"{}/hook\"\ntimeout = \"2s\"\n\n\
         [[alert]]\nkind = \"jsonl\"\nname = \"file\"\npath = \"{}\"\n",
        server.uri(),
        dir.join("alerts.jsonl").display()
    ));
    text
}

/// Like `wait_for`, but says whether the condition held instead of panicking.
async fn wait_until<F, Fut>(deadline: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !condition().await {
        if start.elapsed() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}

/// A single number from the database, or `None` while it does not exist or has no schema.
fn query_count(database: &Path, sql: &str) -> Option<i64> {
    if !database.exists() {
        return None;
    }
    let conn = rusqlite::Connection::open(database).ok()?;
    conn.busy_timeout(Duration::from_secs(5)).ok()?;
    conn.query_row(sql, [], |row| row.get(0)).ok()
}

/// What the time an interval takes would do while the daemon is down: every feed and every
/// pending delivery becomes due.
fn let_time_pass(database: &Path) {
    if !database.exists() {
        return;
    }
    let conn = rusqlite::Connection::open(database).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    // A kill before the first migration committed leaves no tables yet.
    let _ = conn.execute_batch(
        "UPDATE feeds SET next_due = NULL;
         UPDATE deliveries SET next_attempt = MIN(next_attempt, CAST(strftime('%s', 'now') AS INTEGER))
         WHERE state = 'pending';",
    );
}

/// Where a life's kill is aimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// Shortly after a feed request reached the server (its answer is delayed).
    Fetch,
    /// Right after a new item was stored, while other feeds commit.
    Commit,
    /// Shortly after a webhook call (its answer may be slow).
    Delivery,
    /// At any moment of the first three seconds, startup included.
    Anywhere,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_and_duplicates_nothing() {
    let seed: u64 = std::env::var("WATCHWORD_CRASH_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(0x00c0_ffee);
    eprintln!("crash test seed {seed} (WATCHWORD_CRASH_SEED={seed} replays it)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let world = Arc::new(Mutex::new(World::new(seed)));
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/feed/\d+$"))
        .respond_with(FeedServer(world.clone()))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(HookServer(world.clone()))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("watchword.toml"),
        config(&server, dir.path()),
    )
    .unwrap();
    let workspace = Workspace { dir };
    let database = workspace.database();
    let items = || query_count(&database, "SELECT COUNT(*) FROM items").unwrap_or(0);

    let mut phases: BTreeMap<Phase, usize> = BTreeMap::new();
    let mut aimed = 0;
    for life in 0..KILLS {
        let_time_pass(&database);
        let (feed_requests, hook_calls) = {
            let world = world.lock().unwrap();
            (world.feed_requests.iter().sum::<usize>(), world.hook_calls)
        };
        let stored = items();
        let phase = match rng.u8(..4) {
            0 => Phase::Fetch,
            1 => Phase::Commit,
            2 => Phase::Delivery,
            _ => Phase::Anywhere,
        };
        let daemon = Daemon::start(&workspace, &format!("life-{life}.log"));
        let wait = Duration::from_secs(5);
        let (reached, delay) = match phase {
            Phase::Fetch => (
                wait_until(wait, || async {
                    world.lock().unwrap().feed_requests.iter().sum::<usize>() > feed_requests
                })
                .await,
                rng.u64(0..200),
            ),
            Phase::Commit => (
                wait_until(wait, || async { items() > stored }).await,
                rng.u64(0..30),
            ),
            Phase::Delivery => (
                wait_until(wait, || async {
                    world.lock().unwrap().hook_calls > hook_calls
                })
                .await,
                rng.u64(0..400),
            ),
            Phase::Anywhere => (true, rng.u64(0..3000)),
        };
        // The kill moment itself is what is random here, not a wait for something.
        tokio::time::sleep(Duration::from_millis(delay)).await;
        daemon.kill();
        *phases.entry(phase).or_default() += 1;
        aimed += usize::from(reached);
    }

    // The clean run: nothing new is published, the webhook is up, and the daemon catches up.
    let expected_items = {
        let mut world = world.lock().unwrap();
        world.frozen = true;
        world.published()
    };
    let_time_pass(&database);
    let before_final = world.lock().unwrap().feed_requests.clone();
    let daemon = Daemon::start(&workspace, "final.log");
    wait_for(
        Duration::from_secs(60),
        "the clean run to catch up",
        || async {
            let polled_all = world
                .lock()
                .unwrap()
                .feed_requests
                .iter()
                .zip(&before_final)
                .all(|(now, before)| now > before);
            polled_all
                && items() == expected_items as i64
                && query_count(
                    &database,
                    "SELECT COUNT(*) FROM deliveries WHERE state <> 'delivered'",
                ) == Some(0)
                && query_count(&database, "SELECT COUNT(*) FROM deliveries")
                    == query_count(&database, "SELECT COUNT(*) * 2 FROM matches")
        },
    )
    .await;
    let (code, log) = daemon.stop().await;
    assert_eq!(code, Some(0), "{log}");

    let log = workspace.matches().await;
    let world = world.lock().unwrap();
    let expected = world.expected();
    eprintln!(
        "{KILLS} kills ({phases:?}; {aimed} after their condition), {} items published, \
         {} matches expected, {} feed requests, {} webhook calls ({} refused; {} matches \
         accepted more than once: a kill between the send and its record)",
        world.published(),
        expected.len(),
        world.feed_requests.iter().sum::<usize>(),
        world.hook_calls,
        world.hook_refused,
        world.hook_accepted.values().filter(|n| **n > 1).count(),
    );
    assert!(
        phases.len() == 4 && aimed >= KILLS / 2,
        "kills in every phase, most after their condition: {phases:?}, {aimed}"
    );

    // The database is intact.
    let conn = rusqlite::Connection::open(&database).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let dangling: i64 = conn
        .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(dangling, 0, "no row points at a missing one");
    assert_eq!(items(), expected_items as i64, "every published item, once");

    // Every matching item is in the match log exactly once, and nothing else is.
    let mut logged: BTreeMap<(String, String), usize> = BTreeMap::new();
    for m in &log {
        let key = (
            m["topic"].as_str().unwrap().to_string(),
            m["url"].as_str().unwrap().to_string(),
        );
        *logged.entry(key).or_default() += 1;
    }
    let repeated: Vec<_> = logged.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "logged more than once: {repeated:?}");
    let logged: BTreeSet<(String, String)> = logged.into_keys().collect();
    let missing: Vec<_> = expected.difference(&logged).collect();
    let extra: Vec<_> = logged.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing from the match log: {missing:?}\nlogged but not expected: {extra:?}"
    );
    assert!(expected.len() >= 20, "enough matches to mean something");

    // Every match has one delivered outbox row per sink, and reached both sinks.
    let match_ids: BTreeSet<i64> = log
        .iter()
        .map(|m| m["match_id"].as_i64().unwrap())
        .collect();
    let mut rows = conn
        .prepare("SELECT match_id, sink, state FROM deliveries ORDER BY id")
        .unwrap();
    let rows: Vec<(Option<i64>, String, String)> = rows
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut outbox: BTreeSet<(i64, String)> = BTreeSet::new();
    for (match_id, sink, state) in &rows {
        let match_id = match_id.expect("only match deliveries (no feed notices)");
        assert_eq!(state, "delivered", "match {match_id} on {sink}");
        assert!(outbox.insert((match_id, sink.clone())), "one row per sink");
    }
    let owed: BTreeSet<(i64, String)> = match_ids
        .iter()
        .flat_map(|id| SINKS.iter().map(move |sink| (*id, sink.to_string())))
        .collect();
    assert_eq!(outbox, owed, "an outbox row per match and sink");
    let not_received: Vec<_> = match_ids
        .iter()
        .filter(|id| !world.hook_accepted.contains_key(id))
        .collect();
    assert!(
        not_received.is_empty(),
        "the webhook never got {not_received:?}"
    );
    let file = std::fs::read_to_string(workspace.dir.path().join("alerts.jsonl")).unwrap();
    let mut in_file = BTreeSet::new();
    for line in file.lines() {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("a torn line in the jsonl sink ({error}): {line}"));
        in_file.insert(value["match_id"].as_i64().unwrap());
    }
    let not_written: Vec<_> = match_ids.difference(&in_file).collect();
    assert!(
        not_written.is_empty(),
        "the jsonl file never got {not_written:?}"
    );
}
