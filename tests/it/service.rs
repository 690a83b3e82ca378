//! Running as a service: live reload, one daemon per database, the status endpoint, feed
//! health (permanent redirects, 410, dead feeds) and OPML import/export.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Daemon, Workspace, assert_success, fixture, fixtures, wait_for};

fn feed_table(name: &str, file: &str) -> String {
    format!(
        "[[feed]]\nname = \"{name}\"\nurl = \"{}\"\n",
        fixtures().join("feeds").join(file).display()
    )
}

/// Replaces the config the way editors do: write a new file, rename it over the old one.
fn save_config(workspace: &Workspace, text: &str) {
    let temporary = workspace.dir.path().join(".watchword.toml.swp");
    std::fs::write(&temporary, text).unwrap();
    std::fs::rename(&temporary, workspace.config()).unwrap();
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn feeds_with_matches(workspace: &Workspace) -> BTreeSet<String> {
    workspace
        .matches()
        .await
        .iter()
        .map(|m| m["feed"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_config_is_applied_a_broken_one_is_logged_and_ignored() {
    let workspace = Workspace::new(&feed_table("RSS wire", "news.rss"));
    let original = std::fs::read_to_string(workspace.config()).unwrap();
    let daemon = Daemon::start(&workspace, "daemon.log");
    wait_for(
        Duration::from_secs(20),
        "the first feed's matches",
        || async { workspace.database().exists() && !workspace.matches().await.is_empty() },
    )
    .await;

    // A feed added while running starts being polled.
    let with_json = format!("{original}\n{}", feed_table("JSON agency", "news.json"));
    save_config(&workspace, &with_json);
    wait_for(
        Duration::from_secs(20),
        "the added feed's matches",
        || async { feeds_with_matches(&workspace).await.contains("JSON agency") },
    )
    .await;
    assert!(
        daemon.log().contains("config reloaded: feeds +1 −0 ~0"),
        "{}",
        daemon.log()
    );

    // A broken edit is reported with its position; the daemon keeps the previous config.
    let broken = format!(
        "{with_json}\n{}interval = \"5 fortnights\"\n",
        feed_table("Atom desk", "news.atom")
    );
    save_config(&workspace, &broken);
    wait_for(Duration::from_secs(20), "the rejected reload", || async {
        daemon.log().contains("config reload rejected")
    })
    .await;
    let log = daemon.log();
    let line = broken.lines().count();
    assert!(
        log.contains(&format!(
            "watchword.toml:{line}:12: error: invalid duration"
        )),
        "{log}"
    );

    // The fixed edit applies, through SIGHUP as well as the file watch.
    let fixed = format!("{with_json}\n{}", feed_table("Atom desk", "news.atom"));
    std::fs::write(workspace.config(), &fixed).unwrap();
    daemon.signal("HUP");
    wait_for(
        Duration::from_secs(20),
        "the fixed feed's matches",
        || async { feeds_with_matches(&workspace).await.contains("Atom desk") },
    )
    .await;
    let (code, log) = daemon.stop().await;
    assert_eq!(code, Some(0), "{log}");
    assert!(!feeds_with_matches(&workspace).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_on_the_same_database_is_refused() {
    let workspace = Workspace::new(&feed_table("RSS wire", "news.rss"));
    let daemon = Daemon::start(&workspace, "daemon.log");
    wait_for(Duration::from_secs(20), "the daemon to start", || async {
        daemon.log().contains("watchword started")
    })
    .await;

    let second = workspace.run(&["run"]).await;
    assert_eq!(second.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("another watchword daemon is already running on"),
        "{stderr}"
    );
    // Readers and one-off polls still work beside it.
    for args in [&["once"][..], &["matches"], &["feeds"]] {
        assert_success(&workspace.run(args).await);
    }
    let (code, log) = daemon.stop().await;
    assert_eq!(code, Some(0), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_holder_of_the_database_lock_sends_alerts() {
    let workspace = Workspace::new(&format!(
        "{}\n[[alert]]\nkind = \"jsonl\"\npath = \"alerts.jsonl\"\n",
        feed_table("RSS wire", "news.rss")
    ));
    let dir = std::fs::canonicalize(workspace.dir.path()).unwrap();
    let alerts = dir.join("alerts.jsonl");
    // A running daemon holds the database's lock; here the test holds it the same way.
    let held = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("ww.db.lock"))
        .unwrap();
    held.try_lock().unwrap();

    // `once` beside it polls and logs, and leaves the sending to the daemon.
    let output = workspace.run(&["once"]).await;
    assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("alerts: queued, left to the running daemon"),
        "{stdout}"
    );
    let n_matches = workspace.matches().await.len();
    assert!(n_matches > 0, "the matches are logged");
    assert!(!alerts.exists(), "nothing was sent");

    // A daemon on a symlink to the database finds the same lock.
    std::os::unix::fs::symlink(dir.join("ww.db"), dir.join("link.db")).unwrap();
    let linked = dir.join("link.toml");
    let text = std::fs::read_to_string(workspace.config()).unwrap();
    std::fs::write(
        &linked,
        text.replace("database = \"ww.db\"", "database = \"link.db\""),
    )
    .unwrap();
    let second = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_watchword"))
            .arg("--config")
            .arg(&linked)
            .arg("run")
            .env_remove("WATCHWORD_CONFIG")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(second.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("another watchword daemon is already running on"),
        "{stderr}"
    );

    // Once the lock is free, the next `once` sends every queued alert, each once.
    drop(held);
    let output = workspace.run(&["once"]).await;
    assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!(
            "alerts: {n_matches} delivered, 0 pending, 0 failed"
        )),
        "{stdout}"
    );
    let lines = std::fs::read_to_string(&alerts).unwrap();
    assert_eq!(lines.lines().count(), n_matches, "{lines}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_corrupted_mid_file_is_refused_at_start_with_the_way_out() {
    let workspace = Workspace::new(&feed_table("RSS wire", "news.rss"));
    assert_success(&workspace.run(&["once"]).await);
    // The last connection closed: everything is in the main file. Damage a page in its middle
    // (not the first, which every open reads).
    let database = workspace.database();
    let mut bytes = std::fs::read(&database).unwrap();
    let page = 4096;
    assert!(bytes.len() >= 4 * page, "{} bytes", bytes.len());
    let middle = bytes.len() / 2 / page * page;
    bytes[middle..middle + page].fill(0xA5);
    std::fs::write(&database, bytes).unwrap();

    let output = workspace.run(&["once"]).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let refusal = format!("database {} is corrupt", database.display());
    assert!(
        stderr.contains(&refusal) && stderr.contains(".recover"),
        "{stderr}"
    );
    // The daemon refuses it too, before polling (without the check it would run and fail
    // every poll with new items: the deadline turns that into a failure, not a hang).
    let daemon = Daemon::start(&workspace, "daemon.log");
    wait_for(
        Duration::from_secs(20),
        "run to refuse the database",
        || async { daemon.log().contains(&refusal) },
    )
    .await;
    let log = daemon.kill();
    assert!(log.contains(".recover"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_skips_the_whole_file_check_only_after_a_once_that_closed_the_database_last() {
    let workspace = Workspace::new(&feed_table("RSS wire", "news.rss"));
    let database = workspace.database();
    let mut mark = database.clone().into_os_string();
    mark.push("-verified");
    let mark = std::path::PathBuf::from(mark);
    assert_success(&workspace.run(&["once"]).await);
    assert!(mark.exists(), "a once alone records the file it leaves");

    // A daemon keeps the database open, so what a once beside it writes stays in the
    // write-ahead log, and the daemon may change the file later: no record. (Two things see
    // it, the daemon's lock and the log left behind; either alone keeps this test green.)
    let daemon = Daemon::start(&workspace, "daemon.log");
    wait_for(Duration::from_secs(20), "the daemon to start", || async {
        daemon.log().contains("watchword started")
    })
    .await;
    assert_success(&workspace.run(&["once"]).await);
    assert!(
        !mark.exists(),
        "a once beside a daemon must leave the next one to check"
    );
    let (code, log) = daemon.stop().await;
    assert_eq!(code, Some(0), "{log}");

    // The daemon closed it last: the next once checks, then records it again.
    assert_success(&workspace.run(&["once"]).await);
    assert!(mark.exists());
}

/// Checks the Prometheus text format line by line, as `promtool check metrics` would the
/// syntax: every sample is `name{label="value",...} number`, its family was declared by
/// `# HELP` and `# TYPE` lines before it, and no series appears twice.
fn assert_valid_exposition(text: &str) {
    let mut declared: BTreeSet<String> = BTreeSet::new();
    let mut series: BTreeSet<String> = BTreeSet::new();
    let name_ok = |name: &str| {
        !name.is_empty()
            && name.chars().enumerate().all(|(i, c)| {
                c == '_' || c == ':' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())
            })
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap();
            assert!(name_ok(name), "bad name in {line:?}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let name = parts.next().unwrap();
            let kind = parts.next().unwrap_or("");
            assert!(
                [
                    "counter",
                    "gauge",
                    "histogram",
                    "summary",
                    "untyped",
                    "info"
                ]
                .contains(&kind),
                "bad type in {line:?}"
            );
            declared.insert(name.to_string());
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "stray line {line:?}"
        );
        let (key, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line:?}"));
        assert!(
            value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value),
            "bad value in {line:?}"
        );
        let name = key.split('{').next().unwrap();
        assert!(name_ok(name), "bad name in {line:?}");
        if let Some(labels) = key.strip_prefix(name)
            && !labels.is_empty()
        {
            assert!(
                labels.starts_with('{') && labels.ends_with('}'),
                "bad labels in {line:?}"
            );
        }
        let family_declared = declared.iter().any(|family| {
            name == family
                || ["_total", "_bucket", "_sum", "_count", "_info"]
                    .iter()
                    .any(|suffix| name.strip_suffix(suffix) == Some(family.as_str()))
        });
        assert!(family_declared, "{name} has no # TYPE before it");
        assert!(series.insert(key.to_string()), "{key} twice");
    }
}

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_endpoint_serves_health_metrics_and_the_match_log_as_atom() {
    // Port 0: the system picks a free port, and the log says which.
    let workspace = Workspace::new(&format!(
        "{}\n{}\n[http]\nlisten = \"127.0.0.1:0\"\n",
        feed_table("RSS wire", "news.rss"),
        feed_table("JSON agency", "news.json")
    ));
    let daemon = Daemon::start(&workspace, "daemon.log");
    wait_for(
        Duration::from_secs(20),
        "the endpoint to listen",
        || async { daemon.log().contains("status endpoint listening") },
    )
    .await;
    let log = daemon.log();
    let address = log
        .split("status endpoint listening listen=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the bound address is logged")
        .to_string();
    let base = format!("http://{address}");
    wait_for(Duration::from_secs(20), "both feeds polled", || async {
        feeds_with_matches(&workspace).await.len() == 2
    })
    .await;

    assert_eq!(get(&format!("{base}/healthz")).await, (200, "ok\n".into()));
    // The counters move when a poll has finished, just after its matches are visible.
    wait_for(Duration::from_secs(20), "the poll counters", || async {
        let metrics = get(&format!("{base}/metrics")).await.1;
        metrics.contains("watchword_polls_total{feed=\"RSS wire\",outcome=\"ok\"} 1")
            && metrics.contains("watchword_polls_total{feed=\"JSON agency\",outcome=\"ok\"} 1")
    })
    .await;
    let (status, metrics) = get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    for line in [
        "watchword_items_stored_total 10",
        "watchword_matches_total{topic=\"satellite_launch\"} 3",
        "watchword_matches_total{topic=\"missile_sale\"} 2",
        "watchword_feeds 2",
        "watchword_feeds_failing 0",
        "watchword_store_write_failing 0",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no {line} in\n{metrics}"
        );
    }
    assert_valid_exposition(&metrics);
    for series in [
        "watchword_feed_last_success_timestamp_seconds{feed=\"RSS wire\"} ",
        "watchword_feed_last_poll_timestamp_seconds{feed=\"JSON agency\"} ",
        "watchword_build_info{version=\"",
        "process_resident_memory_bytes ",
        "process_cpu_seconds_total ",
        "process_start_time_seconds ",
    ] {
        assert!(metrics.contains(series), "no {series} in\n{metrics}");
    }

    let (status, text) = get(&format!("{base}/status")).await;
    assert_eq!(status, 200);
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["store"], "ok");
    assert_eq!(report["feeds"]["configured"], 2);
    assert_eq!(report["feeds"]["ok"], 2);
    assert!(
        report["feeds"]["oldest_success"]["feed"].is_string(),
        "{text}"
    );
    assert_eq!(report["config"]["on_disk_rejected"], false);

    // A rejected edit shows in /status until the file is fixed, and the fix is logged.
    let good = std::fs::read_to_string(workspace.config()).unwrap();
    std::fs::write(
        workspace.config(),
        format!("{good}\n[[topic]]\nid = \"bad\"\nquery = '(x'\n"),
    )
    .unwrap();
    wait_for(
        Duration::from_secs(20),
        "the rejection in /status",
        || async {
            let text = get(&format!("{base}/status")).await.1;
            text.contains("\"on_disk_rejected\": true")
        },
    )
    .await;
    std::fs::write(workspace.config(), &good).unwrap();
    wait_for(Duration::from_secs(20), "the fix in /status", || async {
        let text = get(&format!("{base}/status")).await.1;
        text.contains("\"on_disk_rejected\": false")
    })
    .await;
    assert!(
        daemon.log().contains("config valid again"),
        "{}",
        daemon.log()
    );

    let logged = workspace.matches().await;
    let (status, atom) = get(&format!("{base}/matches.atom")).await;
    assert_eq!(status, 200);
    let feed = feed_rs::parser::parse(atom.as_bytes()).expect("valid Atom");
    assert_eq!(feed.entries.len(), logged.len());
    let links: BTreeSet<String> = feed
        .entries
        .iter()
        .map(|e| e.links[0].href.clone())
        .collect();
    let urls: BTreeSet<String> = logged
        .iter()
        .map(|m| m["url"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(links, urls);

    let (_, filtered) = get(&format!("{base}/matches.atom?topic=missile_sale")).await;
    let filtered = feed_rs::parser::parse(filtered.as_bytes()).unwrap();
    assert_eq!(filtered.entries.len(), 2);
    let (_, json) = get(&format!("{base}/matches.json?topic=missile_sale")).await;
    let json: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert!(json.iter().all(|m| m["topic"] == "missile_sale") && json.len() == 2);

    let (code, log) = daemon.stop().await;
    assert_eq!(code, Some(0), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_redirect_moves_the_feed_and_a_410_stops_it() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/old.rss"))
        .respond_with(ResponseTemplate::new(301).insert_header("location", "/new.rss"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/new.rss"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("feeds/news.rss"), "application/rss+xml"),
        )
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/gone.rss"))
        .respond_with(ResponseTemplate::new(410))
        .expect(1)
        .mount(&server)
        .await;
    let workspace = Workspace::new(&format!(
        "[[feed]]\nname = \"Moved\"\nurl = \"{0}/old.rss\"\n\n[[feed]]\nname = \"Gone\"\nurl = \"{0}/gone.rss\"\n",
        server.uri()
    ));

    let first = workspace.run(&["once"]).await;
    assert_success(&first);
    let text = stdout(&first);
    assert!(text.contains("Moved  5 new items"), "{text}");
    assert!(text.contains("Gone   gone (http 410)"), "{text}");
    let log = String::from_utf8_lossy(&first.stderr).into_owned();
    assert!(log.contains("feed moved permanently"), "{log}");

    // The second poll goes straight to the new address and leaves the gone feed alone.
    let second = workspace.run(&["once"]).await;
    assert_success(&second);
    let feeds = stdout(&workspace.run(&["feeds"]).await);
    let moved = feeds.lines().find(|l| l.starts_with("Moved")).unwrap();
    assert!(
        moved.contains("ok, moved") && moved.contains("now at"),
        "{feeds}"
    );
    assert!(
        moved.contains(&format!("{}/new.rss", server.uri())),
        "{feeds}"
    );
    let gone = feeds.lines().find(|l| l.starts_with("Gone")).unwrap();
    assert!(gone.contains("gone") && gone.contains("never"), "{feeds}");
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_dead_past_dead_after_raises_one_notice_and_one_on_recovery() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/flaky.rss"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let workspace = Workspace::with_daemon(
        "dead_after = \"1s\"",
        &format!(
            "[[feed]]\nname = \"Flaky\"\nurl = \"{}/flaky.rss\"\n\n\
             [[alert]]\nkind = \"jsonl\"\nname = \"all\"\npath = \"notices.jsonl\"\n\n\
             [[alert]]\nkind = \"jsonl\"\nname = \"filtered\"\npath = \"filtered.jsonl\"\ntopics = [\"missile_sale\"]\n",
            server.uri()
        ),
    );
    let notices = workspace.dir.path().join("notices.jsonl");
    let events = |path: &Path| -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line).unwrap();
                // Match records have no `event`; notices do.
                value["event"].as_str().unwrap_or("match").to_string()
            })
            .collect()
    };
    // Polls keep failing; once the feed has failed for a second, the notice goes out once.
    wait_for(Duration::from_secs(20), "the feed_dead notice", || async {
        assert_success(&workspace.run(&["once"]).await);
        !events(&notices).is_empty()
    })
    .await;
    assert_success(&workspace.run(&["once"]).await);
    assert_eq!(events(&notices), ["feed_dead"]);
    let record: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&notices).unwrap().trim()).unwrap();
    assert_eq!(record["feed"], "Flaky");
    assert!(
        record["error"].as_str().unwrap().contains("500"),
        "{record}"
    );

    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/flaky.rss"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("feeds/news.rss"), "application/rss+xml"),
        )
        .mount(&server)
        .await;
    assert_success(&workspace.run(&["once"]).await);
    assert_success(&workspace.run(&["once"]).await);
    let notices_only: Vec<String> = events(&notices)
        .into_iter()
        .filter(|e| e != "match")
        .collect();
    assert_eq!(notices_only, ["feed_dead", "feed_recovered"]);
    let filtered = workspace.dir.path().join("filtered.jsonl");
    assert!(
        events(&filtered).iter().all(|e| e == "match"),
        "a sink with a topic filter gets no notices"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opml_import_keeps_comments_and_export_round_trips() {
    let workspace = Workspace::new(&format!(
        "# my feeds — keep this comment\n{}",
        feed_table("RSS wire", "news.rss")
    ));
    let existing = fixtures().join("feeds/news.rss").display().to_string();
    let opml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>Reader export</title></head><body>
  <outline text="Korea">
    <outline type="rss" text="Korea Wire &amp; Co" xmlUrl="https://wire.example/korea.rss"/>
    <outline type="rss" title="Tokyo Desk" xmlUrl="https://tokyo.example/atom.xml"/>
  </outline>
  <outline type="rss" text="Already here" xmlUrl="{existing}"/>
</body></opml>"#
    );
    let file = workspace.dir.path().join("reader.opml");
    std::fs::write(&file, opml).unwrap();

    let imported = workspace
        .run(&["opml", "import", file.to_str().unwrap()])
        .await;
    assert_success(&imported);
    assert!(
        stdout(&imported).contains("2 feeds added, 1 skipped"),
        "{}",
        stdout(&imported)
    );
    let config = std::fs::read_to_string(workspace.config()).unwrap();
    assert!(
        config.contains("# my feeds — keep this comment"),
        "{config}"
    );
    assert!(config.contains("name = \"Korea Wire & Co\""), "{config}");
    assert_success(&workspace.run(&["check"]).await);

    let exported = workspace.run(&["opml", "export"]).await;
    assert_success(&exported);
    let reparsed = watchword::opml::parse(&stdout(&exported)).unwrap();
    let urls: BTreeSet<String> = reparsed.into_iter().map(|f| f.url).collect();
    assert_eq!(
        urls,
        BTreeSet::from([
            // A file feed is exported as a file: URL.
            url::Url::from_file_path(&existing).unwrap().to_string(),
            "https://wire.example/korea.rss".to_string(),
            "https://tokyo.example/atom.xml".to_string()
        ])
    );
    // A second import adds nothing.
    let again = workspace
        .run(&["opml", "import", file.to_str().unwrap()])
        .await;
    assert!(
        stdout(&again).contains("0 feeds added, 3 skipped"),
        "{}",
        stdout(&again)
    );
}
