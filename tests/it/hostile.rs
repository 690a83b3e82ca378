//! Hostile feeds against the real binary, served by `server` (see there for every case):
//! each poll ends within its deadline, memory stays bounded, a failing feed gets an error
//! state naming what went wrong and backs off while the others are polled, encodings are
//! decoded, HTML pages are followed to their feeds, caps hold, and no escape sequence from a
//! feed reaches a terminal.

mod server;

use std::io::Read;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::support::{Daemon, Workspace, assert_success, wait_for};
use server::Hostile;

/// A workspace with short limits (a 2 s request deadline, every feed of the one test host
/// polled at once), `daemon_keys` added to `[daemon]`, the shared topics, and a topic in
/// each of Cyrillic, Korean and Japanese.
fn workspace(daemon_keys: &str, feeds: &str) -> Workspace {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[daemon]\ndatabase = \"ww.db\"\nfirst_poll = \"alert\"\ninterval = \"1m\"\ntimeout = \"2s\"\nconnect_timeout = \"2s\"\n\
         max_concurrent = 64\nper_host = 64\n{daemon_keys}\n\n{feeds}\n\n{}\n{}",
        crate::support::topics_toml(),
        r#"
[[topic]]
id = "cyrillic"
query = '"Северная Корея" AND спутник*'

[[topic]]
id = "korean"
query = '정찰위성'

[[topic]]
id = "japanese"
query = '偵察衛星'
"#
    );
    std::fs::write(dir.path().join("watchword.toml"), config).unwrap();
    Workspace { dir }
}

/// `[[feed]]` tables for `paths` on `server`, each named by its path.
fn feed_tables(server: &Hostile, paths: &[&str]) -> String {
    paths
        .iter()
        .map(|path| {
            format!(
                "[[feed]]\nname = \"{path}\"\nurl = \"{}\"\n\n",
                server.url(path)
            )
        })
        .collect()
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs `once`; returns its output and how long it took.
async fn once(workspace: &Workspace) -> (std::process::Output, Duration) {
    let started = Instant::now();
    let output = workspace.run(&["once"]).await;
    let took = started.elapsed();
    assert_success(&output);
    (output, took)
}

async fn feeds_json(workspace: &Workspace) -> Vec<Value> {
    let output = workspace.run(&["feeds", "--format", "json"]).await;
    assert_success(&output);
    serde_json::from_slice(&output.stdout).unwrap()
}

fn feed<'a>(feeds: &'a [Value], name: &str) -> &'a Value {
    feeds
        .iter()
        .find(|feed| feed["name"] == name)
        .unwrap_or_else(|| panic!("no feed {name} in {feeds:#?}"))
}

fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().expect("a time"))
        .unwrap()
        .with_timezone(&Utc)
}

/// A character that must never reach a terminal raw: a control character other than a line
/// feed, a bidirectional control, a line or paragraph separator.
fn is_unsafe(c: char) -> bool {
    c != '\n' && watchword::text::is_unsafe_char(c)
}

fn assert_terminal_safe(what: &str, text: &str) {
    if let Some((at, c)) = text.char_indices().find(|&(_, c)| is_unsafe(c)) {
        let context: String = text[at..].chars().take(40).collect();
        panic!("{what}: raw {c:?} at byte {at}: {context:?}");
    }
}

/// The failing cases, the status `feeds` shows for each, and a part of its last error.
const FAILING: &[(&str, &str, &str)] = &[
    ("/drip", "error", "timed out after 2s"),
    ("/drip-head", "error", "timed out after 2s"),
    ("/endless-headers", "error", "message head is too large"),
    (
        "/short-body",
        "error",
        "end of file before message length reached",
    ),
    (
        "/endless",
        "error",
        "body larger than the 4194304-byte limit",
    ),
    (
        "/gzip-bomb",
        "error",
        "body larger than the 4194304-byte limit",
    ),
    ("/loop-a", "error", "more than 5 redirects"),
    (
        "/to-file",
        "error",
        "redirected to file:///etc/passwd, which is not http or https",
    ),
    ("/to-ftp", "error", "which is not http or https"),
    ("/status/404", "http 404", "http status 404"),
    ("/status/500", "http 500", "http status 500"),
    (
        "/status/429",
        "throttled",
        "throttled: http 429, retry after 120s",
    ),
    (
        "/status/503",
        "throttled",
        "throttled: http 503, retry after",
    ),
    ("/invalid.xml", "error", "not a feed: unable to parse XML"),
    (
        "/invalid-ansi.xml",
        "error",
        "not a feed: unable to parse XML",
    ),
    (
        "/html-no-feed.html",
        "error",
        "is an HTML page that links no feed",
    ),
];

#[tokio::test(flavor = "multi_thread")]
async fn every_hostile_feed_fails_alone_within_its_deadline_and_backs_off() {
    let server = Hostile::start().await;
    let mut paths: Vec<&str> = FAILING.iter().map(|&(path, _, _)| path).collect();
    paths.extend(["/good.xml", "/status/410"]);
    let workspace = workspace("max_body = \"4MiB\"", &feed_tables(&server, &paths));
    let (output, took) = once(&workspace).await;
    // Every poll ran at once and each ended within its 2 s deadline (plus the grace the
    // fetch gives a request to report its own timeout): no poll waits for a slow server.
    assert!(took < Duration::from_secs(10), "once took {took:?}");
    let log = stderr(&output);
    assert!(!log.contains("panicked"), "{log}");

    let feeds = feeds_json(&workspace).await;
    let good = feed(&feeds, "/good.xml");
    assert_eq!(good["last_status"], "ok");
    assert_eq!(
        good["matches"], 1,
        "the good feed is matched among hostile ones"
    );
    for &(path, status, error) in FAILING {
        let health = feed(&feeds, path);
        assert_eq!(health["last_status"], status, "{path}: {health:#}");
        let last_error = health["last_error"].as_str().unwrap_or_default();
        assert!(
            last_error.contains(error),
            "{path}: {last_error:?} should say {error:?}"
        );
        assert_eq!(health["consecutive_errors"], 1, "{path}");
        assert_eq!(health["items"], 0, "{path}");
        // It backs off: not due again before its interval, or its Retry-After.
        let wait = time(&health["next_due"]) - time(&health["last_polled"]);
        let least = match path {
            "/status/429" => 120,
            "/status/503" => 3500,
            _ => 60,
        };
        assert!(
            wait >= chrono::Duration::seconds(least),
            "{path}: due again after {wait}"
        );
        // The log names the feed and its URL with the error.
        let line = log
            .lines()
            .find(|line| line.contains("poll failed") && line.contains(&format!("feed={path} ")))
            .unwrap_or_else(|| panic!("no failure logged for {path}:\n{log}"));
        assert!(
            line.contains(&format!("url={}", server.url(path))),
            "{line}"
        );
    }
    assert_eq!(feed(&feeds, "/status/410")["gone"], true);

    // `feeds` shows the same, one line per feed.
    let table = workspace.run(&["feeds"]).await;
    assert_success(&table);
    let table = stdout(&table);
    let row = |name: &str| {
        table
            .lines()
            .find(|line| line.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row for {name}:\n{table}"))
            .to_string()
    };
    assert!(row("/drip").contains("timed out after 2s"));
    assert!(row("/gzip-bomb").contains("body larger than the 4194304-byte limit"));
    assert!(row("/status/429").contains("throttled"));
    assert!(row("/status/410").contains("gone"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gzip_bomb_is_cut_at_the_body_cap_after_decompression() {
    // The bomb is what it claims: a small stream of deflate blocks, each a MiB of zeros.
    let prefix = server::bomb_prefix(8);
    assert!(prefix.len() < 16 * 1024, "{} bytes", prefix.len());
    let mut inflated = Vec::new();
    let _ = flate2::read::GzDecoder::new(&prefix[..]).read_to_end(&mut inflated);
    assert_eq!(inflated.len(), 8 << 20);
    assert!(inflated.iter().all(|&byte| byte == 0));

    let server = Hostile::start().await;
    let mut daemon = crate::support::daemon_config(4 << 20, Duration::from_secs(10));
    for max_body in [4u64 << 20, 64 << 10] {
        daemon.max_body = max_body;
        let fetcher = watchword::fetch::Fetcher::new(&daemon).unwrap();
        let url = url::Url::parse(&server.url("/gzip-bomb")).unwrap();
        let started = Instant::now();
        let outcome = fetcher
            .fetch(
                &watchword::config::FeedSource::Http(url),
                &Default::default(),
                Utc::now(),
            )
            .await;
        assert_eq!(
            outcome,
            watchword::fetch::FetchOutcome::Failed(watchword::fetch::FetchError::TooLarge {
                limit: max_body
            })
        );
        // Stopped at the cap, long before a GiB was inflated.
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

/// The peak resident set of a running process, from `/proc`.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_keeps_polling_good_feeds_among_hostile_ones_in_bounded_memory() {
    let server = Hostile::start().await;
    let paths = [
        "/drip",
        "/endless",
        "/gzip-bomb",
        "/big/100k.xml",
        "/big/title-5mb.xml",
        "/entity-bomb.xml",
        "/invalid.xml",
        "/status/503",
        "/loop-a",
        "/good.xml",
    ];
    let workspace = workspace("max_body = \"16MiB\"", &feed_tables(&server, &paths));
    let daemon = Daemon::start(&workspace, "daemon.log");
    wait_for(
        Duration::from_secs(60),
        "every feed polled once",
        || async {
            let feeds = feeds_json(&workspace).await;
            feeds.len() == paths.len() && feeds.iter().all(|feed| !feed["last_polled"].is_null())
        },
    )
    .await;
    let peak = peak_rss_kib(daemon.pid());
    let log = daemon.log();
    let (code, log_after) = daemon.stop().await;
    assert_eq!(code, Some(0), "{log_after}");

    let feeds = feeds_json(&workspace).await;
    assert_eq!(feed(&feeds, "/good.xml")["matches"], 1);
    assert_eq!(feed(&feeds, "/big/100k.xml")["items"], 1000);
    for failing in ["/drip", "/endless", "/gzip-bomb", "/invalid.xml", "/loop-a"] {
        assert_eq!(feed(&feeds, failing)["last_status"], "error", "{failing}");
    }
    assert_eq!(feed(&feeds, "/status/503")["last_status"], "throttled");
    assert!(log.contains("feed=/good.xml"), "{log}");
    // A GiB inflated, an endless body, a 9 MB feed of 100,000 items and a 5 MB title, all
    // at once, in a debug build: the body cap (16 MiB each), the cut before parsing and the
    // field cap keep the whole daemon to a small multiple of the cap.
    eprintln!("peak RSS of the daemon: {} MiB", peak / 1024);
    assert!(peak < 256 * 1024, "peak RSS {} MiB", peak / 1024);
}

#[tokio::test(flavor = "multi_thread")]
async fn encodings_byte_order_marks_and_wrong_content_types_decode_to_the_right_text() {
    let server = Hostile::start().await;
    let mut cases: Vec<(String, String)> = Vec::new();
    for place in ["prolog", "header"] {
        for &(case, _, _) in server::ENCODINGS {
            cases.push((place.to_string(), case.to_string()));
        }
    }
    for case in ["utf-8", "utf-16le", "utf-16be"] {
        cases.push(("bom".to_string(), case.to_string()));
    }
    let mut paths: Vec<String> = cases
        .iter()
        .map(|(place, case)| format!("/enc/{place}/{case}.xml"))
        .collect();
    paths.extend(
        [
            "/wrong-type/html",
            "/wrong-type/octet",
            "/entity-bomb.xml",
            "/moved-301",
            "/moved-308",
        ]
        .map(String::from),
    );
    let path_refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    // Every feed carries the same story: logged once per item, so each feed shows its own.
    let workspace = workspace("dedup = \"item\"", &feed_tables(&server, &path_refs));
    let (output, _) = once(&workspace).await;
    let matches = workspace.matches().await;
    let topic_of = |text: &str| match text {
        server::CYRILLIC => "cyrillic",
        server::KOREAN => "korean",
        _ => "japanese",
    };
    for (place, case) in &cases {
        let name = format!("/enc/{place}/{case}.xml");
        let title = server::encoded_title(place, case);
        let text = title.split(" (").next().unwrap();
        // The matcher saw the decoded text: the topic in that script matched.
        let found = matches
            .iter()
            .find(|m| m["feed"] == name.as_str() && m["topic"] == topic_of(text))
            .unwrap_or_else(|| panic!("{name}: no {} match:\n{}", topic_of(text), stdout(&output)));
        assert_eq!(found["title"], title.as_str(), "{name}");
    }
    for name in ["/wrong-type/html", "/wrong-type/octet"] {
        assert!(
            matches.iter().any(|m| m["feed"] == name),
            "{name} parses whatever its Content-Type"
        );
    }
    // Entities declared in a DOCTYPE are never expanded: the billion laughs stay a word.
    let bomb = matches
        .iter()
        .find(|m| m["feed"] == "/entity-bomb.xml")
        .expect("the entity bomb's item is read");
    assert_eq!(bomb["title"], "&lol9; Pyongyang spy satellite");

    let feeds = feeds_json(&workspace).await;
    for (name, target) in [
        ("/moved-301", "/feeds/moved-301.xml"),
        ("/moved-308", "/feeds/moved-308.xml"),
    ] {
        let health = feed(&feeds, name);
        assert_eq!(health["url"], server.url(target).as_str(), "{health:#}");
        assert_eq!(health["matches"], 1);
        assert_eq!(health["discovered"], false);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn items_per_poll_and_field_lengths_are_capped_with_a_notice() {
    let server = Hostile::start().await;
    let workspace = workspace(
        "max_items_per_poll = 250\nmax_field_chars = 20000\nmax_body = \"16MiB\"",
        &feed_tables(
            &server,
            &["/big/100k.xml", "/big/title-5mb.xml", "/big/long-link.xml"],
        ),
    );
    let (output, took) = once(&workspace).await;
    // Cut before parsing: a feed of 100,000 items costs what one of 250 does.
    assert!(took < Duration::from_secs(20), "once took {took:?}");
    assert!(
        stdout(&output).contains("250 new items, 250 new matches (100000 in feed)"),
        "{}",
        stdout(&output)
    );
    let log = stderr(&output);
    let notice = log
        .lines()
        .find(|line| line.contains("more items than max_items_per_poll"))
        .unwrap_or_else(|| panic!("no notice:\n{log}"));
    assert!(notice.contains("feed=/big/100k.xml"), "{notice}");
    assert!(
        notice.contains("kept the first 250 in feed order, dropped 99750"),
        "{notice}"
    );
    let notice = log
        .lines()
        .find(|line| line.contains("long fields to max_field_chars"))
        .unwrap_or_else(|| panic!("no notice:\n{log}"));
    assert!(notice.contains("feed=/big/title-5mb.xml"), "{notice}");
    // Log lines quote at most a few hundred characters of a title.
    assert!(
        log.lines().all(|line| line.len() < 4096),
        "a log line is too long"
    );

    let feeds = feeds_json(&workspace).await;
    assert_eq!(feed(&feeds, "/big/100k.xml")["items"], 250);
    let matches = workspace.matches().await;
    let kept: Vec<&str> = matches
        .iter()
        .filter(|m| m["feed"] == "/big/100k.xml")
        .map(|m| m["title"].as_str().unwrap())
        .collect();
    assert_eq!(kept.len(), 250);
    assert!(kept.contains(&"Item 0: Pyongyang spy satellite"));
    assert!(kept.contains(&"Item 249: Pyongyang spy satellite"));
    let long = matches
        .iter()
        .find(|m| m["feed"] == "/big/title-5mb.xml")
        .expect("the item with a 5 MB title matched");
    let title = long["title"].as_str().unwrap();
    assert_eq!(title.chars().count(), 20_000);
    assert!(title.starts_with("Pyongyang spy satellite lorem ipsum"));
    // A megabyte link is no link, and a megabyte guid is hashed into the item's key.
    let long = matches
        .iter()
        .find(|m| m["feed"] == "/big/long-link.xml")
        .expect("the item with a 1 MB link matched");
    assert!(long["url"].is_null(), "{}", long["url"]);
    let table = stdout(&workspace.run(&["matches"]).await);
    assert!(
        table.lines().all(|line| line.len() < 1024),
        "a row is too long"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rewritten_and_repeated_guids_log_each_article_once() {
    let server = Hostile::start().await;
    let workspace = workspace(
        "",
        &feed_tables(&server, &["/rotating.xml", "/dup-guids.xml"]),
    );
    for _ in 0..3 {
        once(&workspace).await;
    }
    assert_eq!(server.hits("/rotating.xml"), 3);
    let feeds = feeds_json(&workspace).await;
    // Every poll brings two items under new guids: stored, but matched once.
    assert_eq!(feed(&feeds, "/rotating.xml")["items"], 6);
    assert_eq!(feed(&feeds, "/rotating.xml")["matches"], 2);
    // One guid for three different items (and a copy of one): each stored and matched once.
    assert_eq!(feed(&feeds, "/dup-guids.xml")["items"], 3);
    assert_eq!(feed(&feeds, "/dup-guids.xml")["matches"], 3);
    let matches = workspace.matches().await;
    let mut titles: Vec<&str> = matches
        .iter()
        .map(|m| m["title"].as_str().unwrap())
        .collect();
    titles.sort_unstable();
    assert_eq!(
        titles,
        [
            "Pyongyang spy satellite, first",
            "Pyongyang spy satellite, second",
            "Pyongyang spy satellite, third",
            "Rotating: Pyongyang spy satellite with a link",
            "Rotating: Pyongyang spy satellite without a link",
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_html_page_is_followed_to_the_feed_it_links() {
    let server = Hostile::start().await;
    let pages = [
        "/page.html",
        "/page-other-host.html",
        "/page-vanishing.html",
    ];
    let workspace = workspace("", &feed_tables(&server, &pages));
    let (output, _) = once(&workspace).await;
    let log = stderr(&output);

    // Same host: followed in the same poll, its items matched, the feed URL reported.
    let discovered = server.url("/feeds/discovered.xml");
    let feeds = feeds_json(&workspace).await;
    let page = feed(&feeds, "/page.html");
    assert_eq!(page["last_status"], "ok", "{page:#}");
    assert_eq!(page["discovered"], true);
    assert_eq!(page["url"], discovered.as_str());
    assert_eq!(page["config_url"], server.url("/page.html").as_str());
    assert_eq!(page["matches"], 1);
    let line = log
        .lines()
        .find(|line| line.contains("discovered the feed") && line.contains("feed=/page.html "))
        .unwrap_or_else(|| panic!("discovery not logged:\n{log}"));
    assert!(line.contains(&format!("feed_url={discovered}")), "{line}");
    let table = stdout(&workspace.run(&["feeds"]).await);
    let row = table
        .lines()
        .find(|line| line.starts_with("/page.html "))
        .unwrap();
    assert!(row.contains("ok, discovered"), "{row}");
    assert!(row.contains(&format!("feed at {discovered}")), "{row}");

    // Another host (localhost): a URL from the page's content, refused on a private address.
    let other = feed(&feeds, "/page-other-host.html");
    let error = other["last_error"].as_str().unwrap();
    assert!(
        error.contains("linked from the page") && error.contains("refused"),
        "{error}"
    );
    assert!(error.contains("allow_private_targets"), "{error}");
    assert_eq!(other["discovered"], false);

    // The next poll goes straight to the discovered feed.
    once(&workspace).await;
    assert_eq!(server.hits("/page.html"), 1);
    assert_eq!(server.hits("/feeds/discovered.xml"), 2);
    // A discovered feed that answers 404 sends the next poll back to the page.
    let feeds = feeds_json(&workspace).await;
    let vanishing = feed(&feeds, "/page-vanishing.html");
    let error = vanishing["last_error"].as_str().unwrap();
    assert!(
        error.contains("answered http 404; the next poll reads the page"),
        "{error}"
    );
    assert_eq!(vanishing["discovered"], false);
    assert_eq!(
        vanishing["url"],
        server.url("/page-vanishing.html").as_str()
    );
    assert_eq!(vanishing["matches"], 1, "what it gave stays logged");
    once(&workspace).await;
    assert_eq!(server.hits("/page-vanishing.html"), 2);

    // With private targets allowed, the feed on the other host is followed too; `test
    // --feed` follows a page the same way.
    let allowed = workspace_allowing_private(&server);
    once(&allowed).await;
    let feeds = feeds_json(&allowed).await;
    let other = feed(&feeds, "/page-other-host.html");
    assert_eq!(other["discovered"], true, "{other:#}");
    assert_eq!(
        other["url"],
        format!(
            "http://localhost:{}/feeds/discovered-other.xml",
            server.url("").rsplit(':').next().unwrap()
        )
        .as_str()
    );
    let tested = workspace
        .run(&[
            "test",
            "--feed",
            &server.url("/page.html"),
            "--format",
            "jsonl",
        ])
        .await;
    assert_success(&tested);
    assert!(
        stdout(&tested).contains("Feed discovered: Pyongyang spy satellite"),
        "{}",
        stdout(&tested)
    );
}

fn workspace_with(server: &Hostile, paths: &[&str]) -> Workspace {
    workspace("", &feed_tables(server, paths))
}

fn workspace_allowing_private(server: &Hostile) -> Workspace {
    workspace(
        "allow_private_targets = true",
        &feed_tables(server, &["/page-other-host.html"]),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn escape_sequences_from_feeds_never_reach_a_terminal() {
    let server = Hostile::start().await;
    let workspace = workspace(
        "",
        &feed_tables(&server, &["/ansi.xml", "/invalid-ansi.xml"]),
    );
    let (output, _) = once(&workspace).await;
    assert_terminal_safe("once stdout", &stdout(&output));
    assert_terminal_safe("once log", &stderr(&output));
    let matches = workspace.matches().await;
    assert_eq!(matches.len(), 3, "every hostile title is still matched");

    for args in [
        &["matches"][..],
        &["matches", "--format", "csv"],
        &["matches", "--format", "json"],
        &["matches", "--format", "jsonl"],
        &["feeds"],
        &["feeds", "--format", "json"],
    ] {
        let output = workspace.run(args).await;
        assert_success(&output);
        assert_terminal_safe(&args.join(" "), &stdout(&output));
    }
    // The parse error quoting the broken feed's escape sequences, in `feeds`.
    let table = stdout(&workspace.run(&["feeds"]).await);
    assert!(table.contains("/invalid-ansi.xml") && table.contains("not a feed"));

    // A daemon's log (a fresh database, so it polls at once), and `test --feed` (its output
    // and its error message).
    let fresh = workspace_with(&server, &["/ansi.xml", "/invalid-ansi.xml"]);
    let daemon = Daemon::start(&fresh, "daemon.log");
    wait_for(
        Duration::from_secs(20),
        "the daemon's first polls",
        || async {
            let log = daemon.log();
            log.contains("poll failed") && log.matches(": match topic=").count() >= 3
        },
    )
    .await;
    let (_, log) = daemon.stop().await;
    assert!(
        log.contains("title=\"Pyongyang [31mspy satellite [0m ]0;pwned launch"),
        "{log}"
    );
    assert_terminal_safe("daemon log", &log);
    for format in ["text", "jsonl"] {
        let tested = workspace
            .run(&[
                "test",
                "--feed",
                &server.url("/ansi.xml"),
                "--format",
                format,
            ])
            .await;
        assert_success(&tested);
        assert_terminal_safe("test --feed", &stdout(&tested));
    }
    let failed = workspace
        .run(&["test", "--feed", &server.url("/invalid-ansi.xml")])
        .await;
    assert_eq!(failed.status.code(), Some(2));
    assert!(stderr(&failed).contains("not a feed"));
    assert_terminal_safe("test --feed error", &stderr(&failed));
}
