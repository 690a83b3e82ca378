//! Faults that real machines have: a wall clock that steps back under the daemon (with
//! libfaketime, which `.ci/run` installs; skipped with a notice where it is missing).

use std::path::Path;
use std::time::Duration;

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Daemon, Workspace, fixture, libfaketime, outbox, wait_for};

/// `watchword run` with its wall clock offset by what `clock` says (`+1d`, `+0`), read
/// again on every call; the monotonic clock is left alone, as a real clock step leaves it.
fn start_with_clock(workspace: &Workspace, library: &Path, clock: &Path) -> Daemon {
    let log = workspace.dir.path().join("daemon.log");
    let mut command = workspace.command(&["run"]);
    command
        .env("LD_PRELOAD", library)
        .env("FAKETIME_TIMESTAMP_FILE", clock)
        .env("FAKETIME_NO_CACHE", "1")
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    Daemon::spawn(command, log)
}

async fn requests_to(server: &MockServer, wanted: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|request| request.url.path() == wanted)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_stepped_back_a_day_holds_back_neither_polls_nor_retries() {
    let Some(library) = libfaketime() else {
        return;
    };
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/news.rss"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_bytes(fixture("feeds/news.rss"))
                .insert_header("content-type", "application/rss+xml"),
        )
        .mount(&server)
        .await;
    // The receiver fails the first message, while the clock is ahead.
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(204))
        .with_priority(2)
        .mount(&server)
        .await;
    let workspace = Workspace::new(&format!(
        "[[feed]]\nname = \"RSS wire\"\nurl = \"{0}/news.rss\"\ninterval = \"1m\"\n\n\
         [[alert]]\nkind = \"webhook\"\nname = \"hook\"\nurl = \"{0}/hook\"\n\
         topics = [\"satellite_launch\"]\n",
        server.uri()
    ));
    let clock = workspace.dir.path().join("clock");
    std::fs::write(&clock, "+1d\n").unwrap();
    let daemon = start_with_clock(&workspace, &library, &clock);
    wait_for(
        Duration::from_secs(20),
        "the first poll and the failed send",
        || {
            let server = &server;
            async move {
                requests_to(server, "/news.rss").await >= 1
                    && requests_to(server, "/hook").await >= 1
            }
        },
    )
    .await;

    // NTP corrects the clock: it steps back a day.
    std::fs::write(&clock, "+0\n").unwrap();
    // The retry (due "in a second" by the clock of then) goes now, not in a day.
    wait_for(Duration::from_secs(15), "the retried delivery", || {
        let server = &server;
        async move { requests_to(server, "/hook").await >= 2 }
    })
    .await;
    // The next poll comes after the feed's interval (1 minute ±10 %), not in a day.
    wait_for(Duration::from_secs(90), "the second poll", || {
        let server = &server;
        async move { requests_to(server, "/news.rss").await >= 2 }
    })
    .await;
    let (code, log) = daemon.stop().await;
    assert_eq!(code, Some(0), "{log}");
}

/// `watchword run` started through bash so that SIGXFSZ is ignored (as a real daemon's is
/// not needed: a full disk gives ENOSPC, a file-size limit EFBIG plus that signal); the
/// limit itself is set and lifted on the running process with `prlimit`.
fn start_ignoring_file_size_signal(workspace: &Workspace) -> Daemon {
    let log = workspace.dir.path().join("daemon.log");
    let mut command = std::process::Command::new("bash");
    command
        .args(["-c", "trap '' XFSZ; exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_watchword"))
        .arg("--config")
        .arg(workspace.config())
        .arg("run")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    Daemon::spawn(command, log)
}

fn prlimit_file_size(pid: u32, limit: &str) {
    let status = std::process::Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--fsize={limit}")])
        .status()
        .expect("prlimit (util-linux) runs");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_write_sends_no_alert_twice_says_so_and_recovers_by_itself() {
    let server = MockServer::start().await;
    let feed = || {
        Mock::given(method("GET"))
            .and(path("/news.rss"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_bytes(fixture("feeds/news.rss"))
                    .insert_header("content-type", "application/rss+xml"),
            )
    };
    feed().mount(&server).await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "1"))
        .mount(&server)
        .await;
    let workspace = Workspace::with_daemon(
        "alert_attempts = 1000",
        &format!(
            "[[feed]]\nname = \"RSS wire\"\nurl = \"{0}/news.rss\"\n\n\
             [[alert]]\nkind = \"webhook\"\nname = \"hook\"\nurl = \"{0}/hook\"\n\
             topics = [\"satellite_launch\"]\n",
            server.uri()
        ),
    );
    let database = workspace.database();
    let daemon = start_ignoring_file_size_signal(&workspace);
    wait_for(
        Duration::from_secs(20),
        "the match tried and failing",
        || {
            let rows = outbox(&database);
            async move { rows.len() == 1 && rows[0].0 == "pending" && rows[0].1 >= 1 }
        },
    )
    .await;

    // The disk fills up (no file of the daemon may grow past 4 KiB: a soft limit, which the
    // test may lift again unprivileged), then the receiver
    // comes back.
    prlimit_file_size(daemon.pid(), "4096:unlimited");
    server.reset().await;
    feed().mount(&server).await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    wait_for(
        Duration::from_secs(20),
        "the receiver to take the alert",
        || {
            let server = &server;
            async move { requests_to(server, "/hook").await >= 1 }
        },
    )
    .await;
    let taken_at = std::time::Instant::now();
    // `feeds` says why the statuses stand still.
    wait_for(
        Duration::from_secs(10),
        "`feeds` to report the store",
        || {
            let feeds = workspace.command(&["feeds"]).output().unwrap();
            let text = String::from_utf8_lossy(&feeds.stdout).into_owned();
            async move { text.contains("store cannot write since") }
        },
    )
    .await;
    // Several rounds of the worker (a second apart) pass: the alert is not sent again
    // though the store could not record it.
    while taken_at.elapsed() < Duration::from_secs(4) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(requests_to(&server, "/hook").await, 1, "sent once");
    assert_eq!(outbox(&database)[0].0, "pending", "not recorded yet");

    // Space is freed: the delivery is recorded without a second send.
    prlimit_file_size(daemon.pid(), "unlimited:unlimited");
    wait_for(Duration::from_secs(15), "the delivery recorded", || {
        let rows = outbox(&database);
        async move { rows[0].0 == "delivered" }
    })
    .await;
    assert_eq!(requests_to(&server, "/hook").await, 1, "still sent once");
    let feeds = workspace.run(&["feeds"]).await;
    let text = String::from_utf8_lossy(&feeds.stdout);
    assert!(!text.contains("store cannot write"), "{text}");
    let (code, log) = daemon.stop().await;
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("store writes again"), "{log}");
}
