//! The operator's first week: a feed's first poll is a silent baseline.

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Workspace, assert_signed, assert_success, fixture, fixtures, libfaketime};

/// news.rss with one more item, on the satellite story, at its top.
fn with_a_new_item() -> Vec<u8> {
    let text = String::from_utf8(fixture("feeds/news.rss")).unwrap();
    let item = "<item>\n      <title>North Korea satellite launch: Seoul confirms Malligyong-1 in orbit</title>\n      \
                <link>https://harborline.example/asia/2023/11/25/seoul-confirms-orbit</link>\n      \
                <guid isPermaLink=\"false\">hl-2023-2001</guid>\n      \
                <pubDate>Sat, 25 Nov 2023 08:00:00 GMT</pubDate>\n      \
                <description>South Korea's spy agency said the North's spy satellite reached orbit.</description>\n    \
                </item>\n\n    <item>";
    text.replacen("<item>", item, 1).into_bytes()
}

async fn serve(server: &MockServer, body: Vec<u8>) {
    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/news.rss"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_bytes(body)
                .insert_header("content-type", "application/rss+xml"),
        )
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(204))
        .mount(server)
        .await;
}

async fn hooks(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|request| request.url.path() == "/hook")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_poll_is_a_silent_baseline_and_the_next_one_alerts() {
    let server = MockServer::start().await;
    serve(&server, fixture("feeds/news.rss")).await;
    let workspace = Workspace::with_daemon(
        // The default, said aloud (the test workspace otherwise alerts on first polls).
        "first_poll = \"baseline\"\nalert_wait = \"5s\"",
        &format!(
            "[[feed]]\nname = \"RSS wire\"\nurl = \"{0}/news.rss\"\n\n\
             [[alert]]\nkind = \"webhook\"\nname = \"hook\"\nurl = \"{0}/hook\"\n",
            server.uri()
        ),
    );

    let first = workspace.run(&["once"]).await;
    assert_success(&first);
    let text = String::from_utf8_lossy(&first.stdout);
    assert!(
        text.contains("baseline: 2 matches from first polls logged as backfill, not alerted"),
        "{text}"
    );
    assert!(
        text.contains("first poll: a baseline, not alerted"),
        "{text}"
    );
    assert_eq!(hooks(&server).await, 0, "nothing sent on the first poll");
    let logged = workspace.matches().await;
    assert_eq!(logged.len(), 2, "the baseline is in the match log");
    assert!(logged.iter().all(|m| m["backfill"] == true), "{logged:?}");

    // The feed gains an item: that one is news, and it is alerted.
    serve(&server, with_a_new_item()).await;
    let second = workspace.run(&["once"]).await;
    assert_success(&second);
    let text = String::from_utf8_lossy(&second.stdout);
    assert!(!text.contains("baseline"), "{text}");
    assert!(text.contains("alerts: 1 delivered"), "{text}");
    assert_eq!(hooks(&server).await, 1);
    let logged = workspace.matches().await;
    let alerted: Vec<_> = logged.iter().filter(|m| m["backfill"] == false).collect();
    assert_eq!(alerted.len(), 1, "{logged:?}");
    assert_eq!(
        alerted[0]["url"],
        "https://harborline.example/asia/2023/11/25/seoul-confirms-orbit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_that_lists_nothing_new_for_stale_after_turns_stale_with_one_notice() {
    let Some(library) = libfaketime() else {
        return;
    };
    let workspace = Workspace::with_daemon(
        "stale_after = \"3d\"",
        &format!(
            "[[feed]]\nname = \"RSS wire\"\nurl = \"{}\"\n\n\
             [[alert]]\nkind = \"jsonl\"\npath = \"alerts.jsonl\"\n",
            fixtures().join("feeds/news.rss").display()
        ),
    );
    assert_success(&workspace.run(&["once"]).await);
    let feeds = workspace.run(&["feeds"]).await;
    assert!(!String::from_utf8_lossy(&feeds.stdout).contains("stale"));

    // Four days later the feed still lists the same items.
    let later = |args: &[&str]| {
        let mut command = workspace.command(args);
        command
            .env("LD_PRELOAD", &library)
            .env("FAKETIME", "+4d")
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
        command.output().unwrap()
    };
    assert_success(&later(&["once"]));
    let feeds = String::from_utf8_lossy(&later(&["feeds"]).stdout).into_owned();
    assert!(feeds.contains("stale"), "{feeds}");
    let notices = |workspace: &Workspace| -> Vec<serde_json::Value> {
        std::fs::read_to_string(workspace.dir.path().join("alerts.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
            .filter(|value| value["event"] == "feed_stale")
            .collect()
    };
    assert_eq!(notices(&workspace).len(), 1, "one feed_stale notice");
    // Polled again while still stale: no second notice.
    assert_success(&later(&["once"]));
    assert_eq!(notices(&workspace).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_carry_the_configured_user_agent_and_keep_their_distance_from_a_host() {
    let server = MockServer::start().await;
    for name in ["a", "b", "c"] {
        Mock::given(method("GET"))
            .and(path(format!("/{name}.rss")))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_bytes(fixture("feeds/news.rss"))
                    .insert_header("content-type", "application/rss+xml"),
            )
            .mount(&server)
            .await;
    }
    let workspace = Workspace::with_daemon(
        "user_agent = \"desk-monitor/1.0 (+mailto:desk@example.org)\"\nhost_interval = \"1s\"",
        &format!(
            "[[feed]]\nname = \"a\"\nurl = \"{0}/a.rss\"\n\n\
             [[feed]]\nname = \"b\"\nurl = \"{0}/b.rss\"\n\n\
             [[feed]]\nname = \"c\"\nurl = \"{0}/c.rss\"\nuser_agent = \"Mozilla/5.0 (compatible)\"\n",
            server.uri()
        ),
    );
    let started = std::time::Instant::now();
    assert_success(&workspace.run(&["once"]).await);
    // Three requests to one host a second apart take at least two seconds.
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(2),
        "host_interval spaces the requests: {:?}",
        started.elapsed()
    );
    let agents: std::collections::BTreeMap<String, String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|request| {
            (
                request.url.path().to_string(),
                request.headers["user-agent"].to_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        agents["/a.rss"],
        "desk-monitor/1.0 (+mailto:desk@example.org)"
    );
    assert_eq!(
        agents["/b.rss"],
        "desk-monitor/1.0 (+mailto:desk@example.org)"
    );
    assert_eq!(agents["/c.rss"], "Mozilla/5.0 (compatible)", "a feed's own");
}

/// The binary run from `folder` with only the environment given (no --config).
fn bare(
    folder: &std::path::Path,
    env: &[(&str, &std::path::Path)],
    args: &[&str],
) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_watchword"));
    command
        .current_dir(folder)
        .args(args)
        .env_remove("WATCHWORD_CONFIG")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("STATE_DIRECTORY");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

#[test]
fn init_writes_a_config_that_check_finds_from_any_folder() {
    let root = tempfile::tempdir().unwrap();
    let (home, elsewhere) = (root.path().join("home"), root.path().join("elsewhere"));
    std::fs::create_dir_all(&elsewhere).unwrap();
    let env = [("HOME", home.as_path())];
    // Nothing yet: the error says where it looked and what to do.
    let missing = bare(&elsewhere, &env, &["check"]);
    assert_eq!(missing.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains(".config/watchword/watchword.toml") && stderr.contains("watchword init"),
        "{stderr}"
    );
    let init = bare(&elsewhere, &env, &["init"]);
    assert_success(&init);
    let check = bare(&elsewhere, &env, &["check"]);
    assert_success(&check);
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(
        text.contains("ok (1 feed, 1 topic, 0 aliases, 1 alert sink)"),
        "{text}"
    );
    let data = home.join(".local/share/watchword/watchword.db");
    assert!(
        text.contains(&format!("database: {}", data.display())),
        "{text}"
    );
    // A second init does not overwrite it.
    assert_eq!(bare(&elsewhere, &env, &["init"]).status.code(), Some(1));

    // Under XDG_CONFIG_HOME and systemd's STATE_DIRECTORY, from yet another folder.
    let xdg = root.path().join("xdg");
    let state = root.path().join("state");
    assert_success(&bare(
        &elsewhere,
        &[],
        &[
            "init",
            xdg.join("watchword/watchword.toml").to_str().unwrap(),
        ],
    ));
    let check = bare(
        root.path(),
        &[
            ("XDG_CONFIG_HOME", xdg.as_path()),
            ("STATE_DIRECTORY", state.as_path()),
        ],
        &["check"],
    );
    assert_success(&check);
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(
        text.contains(&xdg.join("watchword/watchword.toml").display().to_string()),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "database: {}",
            state.join("watchword.db").display()
        )),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_test_reaches_a_signed_webhook_and_names_a_failing_sink() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/down"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let workspace = Workspace::new(&format!(
        "[[alert]]\nkind = \"webhook\"\nname = \"hook\"\nurl = \"{0}/hook\"\nsecret = \"k3y\"\n\n\
         [[alert]]\nkind = \"webhook\"\nname = \"down\"\nurl = \"{0}/down\"\n",
        server.uri()
    ));
    let output = workspace.run(&["alerts", "test"]).await;
    assert_eq!(output.status.code(), Some(2), "a sink failed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("hook: sent"), "{stdout}");
    assert!(stdout.contains("down: failed: http 503"), "{stdout}");
    let request = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.url.path() == "/hook")
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["event"], "test");
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .contains("No match is behind it")
    );
    assert_signed(&request, b"k3y");
    // Only the named sink, and no outbox row either way.
    let only = workspace.run(&["alerts", "test", "hook"]).await;
    assert_success(&only);
    assert!(!String::from_utf8_lossy(&only.stdout).contains("down"));
    assert!(!workspace.database().exists(), "nothing written");
    let unknown = workspace.run(&["alerts", "test", "nope"]).await;
    assert_eq!(unknown.status.code(), Some(1));

    // The signing key is written in a file everyone may read: check says so.
    use std::os::unix::fs::PermissionsExt as _;
    let config = workspace.config();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let check = workspace.run(&["check"]).await;
    assert_success(&check);
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(
        text.contains("readable by every user") && text.contains("\"hook\""),
        "{text}"
    );
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let check = workspace.run(&["check"]).await;
    assert!(!String::from_utf8_lossy(&check.stdout).contains("readable by every user"));
}
