//! Helpers shared by the integration tests: fixtures, a temp workspace with a config, and a
//! way to run the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The folder of test fixtures.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Reads a fixture file.
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// The `[alias]` and `[[topic]]` sections shared with the default config, without the
/// default topics' time windows (they keep the topics on November 2023; the tests' items
/// are dated when the tests run).
pub fn topics_toml() -> String {
    String::from_utf8(fixture("topics.toml"))
        .unwrap()
        .lines()
        .filter(|line| {
            !line.starts_with("published_after") && !line.starts_with("published_before")
        })
        .map(|line| format!("{line}\n"))
        .collect()
}

/// A temporary folder holding a config file; the database goes next to it.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    /// A workspace whose config has `feeds` (TOML `[[feed]]` tables) and the shared topics.
    pub fn new(feeds: &str) -> Workspace {
        Workspace::with_daemon("", feeds)
    }

    /// Like [`Workspace::new`], with extra `[daemon]` lines (`per_host = 1`). A feed's first
    /// poll alerts (`first_poll = "alert"`) unless the lines say otherwise.
    pub fn with_daemon(daemon_keys: &str, feeds: &str) -> Workspace {
        Workspace::with_database("ww.db", daemon_keys, feeds)
    }

    /// Like [`Workspace::with_daemon`], with the config's `database` (a file, or a
    /// PostgreSQL URL).
    pub fn with_database(database: &str, daemon_keys: &str, feeds: &str) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        // The tests of delivery alert on a feed's first poll; the baseline has its own tests.
        let first_poll = if daemon_keys.contains("first_poll") {
            ""
        } else {
            "first_poll = \"alert\"\n"
        };
        let config = format!(
            "[daemon]\ndatabase = \"{database}\"\ninterval = \"1m\"\ntimeout = \"5s\"\nconnect_timeout = \"2s\"\n{first_poll}{daemon_keys}\n\n{feeds}\n\n{}",
            topics_toml()
        );
        std::fs::write(dir.path().join("watchword.toml"), config).unwrap();
        Workspace { dir }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("watchword.toml")
    }

    pub fn database(&self) -> PathBuf {
        self.dir.path().join("ww.db")
    }

    /// A `Command` for the binary with this workspace's config.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_watchword"));
        command
            .arg("--config")
            .arg(self.config())
            .args(args)
            .env_remove("WATCHWORD_CONFIG")
            .env("RUST_LOG", "info");
        command
    }

    /// Runs the binary to completion (off the async runtime when called from a tokio test).
    pub async fn run(&self, args: &[&str]) -> Output {
        let mut command = self.command(args);
        tokio::task::spawn_blocking(move || command.output().expect("binary runs"))
            .await
            .unwrap()
    }

    /// The match log as JSON values, oldest first.
    pub async fn matches(&self) -> Vec<serde_json::Value> {
        let output = self.run(&["matches", "--format", "jsonl"]).await;
        assert_success(&output);
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).expect("each line is a JSON object"))
            .collect()
    }
}

/// Panics with the binary's output unless it exited 0.
pub fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Waits until `condition` holds, checking every 50 ms, or panics after `deadline`.
pub async fn wait_for<F, Fut>(deadline: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !condition().await {
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A `watchword run` child process whose stderr goes to a file in the workspace.
pub struct Daemon {
    child: std::process::Child,
    log: std::path::PathBuf,
}

/// A test that fails while its daemon runs must not leave the daemon behind.
impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Daemon {
    /// Sends a signal (`HUP`, `TERM`, …) to the daemon.
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args(["-s", name, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the daemon with SIGKILL (no chance to clean up) and reaps it.
    pub fn kill(mut self) -> String {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn start(workspace: &Workspace, log_name: &str) -> Daemon {
        let log = workspace.dir.path().join(log_name);
        let mut command = workspace.command(&["run"]);
        command
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        Daemon::spawn(command, log)
    }

    /// Starts a prepared `run` command whose stderr goes to `log`.
    pub fn spawn(mut command: Command, log: std::path::PathBuf) -> Daemon {
        Daemon {
            child: command.spawn().unwrap(),
            log,
        }
    }

    /// Sends SIGTERM and waits (with a deadline) for the exit; returns its code and log.
    pub async fn stop(mut self) -> (Option<i32>, String) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        tokio::task::spawn_blocking(move || {
            let deadline = std::time::Instant::now() + Duration::from_secs(15);
            loop {
                if let Some(status) = self.child.try_wait().unwrap() {
                    return (status.code(), std::fs::read_to_string(&self.log).unwrap());
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "daemon did not exit after SIGTERM"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        })
        .await
        .unwrap()
    }
}

/// The daemon settings of a fetch made directly through the library (`Fetcher::new`), with
/// the given body cap and request deadline.
pub fn daemon_config(max_body: u64, timeout: Duration) -> watchword::config::DaemonConfig {
    watchword::config::DaemonConfig {
        database: "unused.db".into(),
        database_given: true,
        postgres: None,
        interval: Duration::from_secs(900),
        max_concurrent: 4,
        per_host: 2,
        timeout,
        connect_timeout: Duration::from_secs(2),
        max_body,
        alert_attempts: 10,
        alert_wait: Duration::from_secs(30),
        dead_after: Duration::from_secs(24 * 3600),
        keep_items: None,
        max_items_per_poll: 1000,
        max_field_chars: 100_000,
        allow_private_targets: false,
        fetch_article: Default::default(),
        first_poll: Default::default(),
        stale_after: None,
        user_agent: watchword::config::DEFAULT_USER_AGENT.into(),
        host_interval: Duration::ZERO,
        article_min_chars: 200,
        stories: Default::default(),
        max_age: None,
    }
}

/// The preloadable libfaketime, if this machine has it.
pub fn libfaketime() -> Option<std::path::PathBuf> {
    let found = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/local/lib/faketime/libfaketimeMT.so.1",
    ]
    .into_iter()
    .map(std::path::PathBuf::from)
    .find(|path| path.exists());
    if found.is_none() {
        eprintln!("libfaketime is not installed (apt-get install libfaketime): skipping");
    }
    found
}

/// The outbox rows as (state, attempts), read straight from the database (none while the
/// daemon has not created it yet).
pub fn outbox(database: &std::path::Path) -> Vec<(String, i64)> {
    if !database.exists() {
        return Vec::new();
    }
    let conn = rusqlite::Connection::open(database).unwrap();
    let Ok(mut statement) = conn.prepare("SELECT state, attempts FROM deliveries ORDER BY id")
    else {
        return Vec::new();
    };
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap_or_default()
}

/// Checks a webhook request's `X-Watchword-Signature` as a receiver would: `t=…,v1=…`, where
/// v1 is the hex HMAC-SHA256 of `<t>.<body>` keyed by `key` (computed here, not by watchword).
pub fn assert_signed(request: &wiremock::Request, key: &[u8]) {
    use hmac::Mac as _;
    let header = request
        .headers
        .get("x-watchword-signature")
        .expect("signed")
        .to_str()
        .unwrap();
    let (t, v1) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
        .expect("t=…,v1=…");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&request.body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v1, expected, "a receiver can verify the body");
}
