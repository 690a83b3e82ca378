//! Faults that real machines have: a wall clock that steps back under the daemon (with
//! libfaketime, which `.ci/run` installs; skipped with a notice where it is missing).

use std::path::{Path, PathBuf};
use std::time::Duration;

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Daemon, Workspace, fixture, wait_for};

/// The preloadable libfaketime, if this machine has it.
fn libfaketime() -> Option<PathBuf> {
    let found = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/local/lib/faketime/libfaketimeMT.so.1",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|path| path.exists());
    if found.is_none() {
        eprintln!("libfaketime is not installed (apt-get install libfaketime): skipping");
    }
    found
}

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
