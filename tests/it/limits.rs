//! Faults that real machines have and limits on what a config may ask for (issue 16): a feed
//! path that is not a regular file (a FIFO would block its reader until a writer comes), a
//! config that is not UTF-8, and a topic with more terms than any real topic has.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{Daemon, Workspace, fixture, wait_for};

/// What a finished run of the binary left: exit code, stdout and stderr.
struct Finished {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the binary with `args` and waits for it, at most `deadline`: past it the child is
/// killed and the test fails. Its output goes to files, so a full pipe cannot stall it.
fn run_with_deadline(workspace: &Workspace, args: &[&str], deadline: Duration) -> Finished {
    let stdout_path = workspace.dir.path().join("run.stdout");
    let stderr_path = workspace.dir.path().join("run.stderr");
    let mut child = workspace
        .command(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .expect("binary runs");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "watchword {} did not finish within {deadline:?}\nstderr:\n{}",
                args.join(" "),
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Finished {
        code: status.code(),
        stdout: std::fs::read_to_string(&stdout_path).unwrap(),
        stderr: std::fs::read_to_string(&stderr_path).unwrap(),
    }
}

fn mkfifo(path: &std::path::Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// The line (1-based) of the config that contains `needle`.
fn line_of(workspace: &Workspace, needle: &str) -> usize {
    let text = std::fs::read_to_string(workspace.config()).unwrap();
    text.lines()
        .position(|line| line.contains(needle))
        .expect("the config has the line")
        + 1
}

const SPECIAL_FEEDS: &str = r#"
[[feed]]
name = "news"
url = "news.rss"

[[feed]]
name = "pipe"
url = "pipe.xml"

[[feed]]
name = "folder"
url = "folder.xml"
"#;

/// A workspace whose feeds are a regular file, a FIFO and a directory.
fn special_feeds() -> Workspace {
    let workspace = Workspace::new(SPECIAL_FEEDS);
    let dir = workspace.dir.path();
    std::fs::write(dir.join("news.rss"), fixture("feeds/news.rss")).unwrap();
    mkfifo(&dir.join("pipe.xml"));
    std::fs::create_dir(dir.join("folder.xml")).unwrap();
    workspace
}

#[test]
fn check_refuses_a_feed_path_that_is_a_fifo_or_a_directory() {
    let workspace = special_feeds();
    let finished = run_with_deadline(&workspace, &["check"], Duration::from_secs(30));
    assert_eq!(finished.code, Some(1), "stderr:\n{}", finished.stderr);
    let config = workspace.config().display().to_string();
    let pipe = workspace.dir.path().join("pipe.xml").display().to_string();
    let folder = workspace
        .dir
        .path()
        .join("folder.xml")
        .display()
        .to_string();
    let pipe_line = line_of(&workspace, "url = \"pipe.xml\"");
    let folder_line = line_of(&workspace, "url = \"folder.xml\"");
    let stderr = &finished.stderr;
    assert!(
        stderr.contains(&format!(
            "{config}:{pipe_line}:7: error: feed \"pipe\" reads {pipe}"
        )) && stderr.contains("FIFO"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{config}:{folder_line}:7: error: feed \"folder\" reads {folder}"
        )) && stderr.contains("a directory"),
        "{stderr}"
    );
    assert!(!stderr.contains("\"news\""), "{stderr}");
}

#[test]
fn once_reports_a_fifo_feed_as_failed_instead_of_waiting_for_a_writer() {
    let workspace = special_feeds();
    // The config's `timeout` is 5 s: a read that blocked would outlast it and then hold
    // the process open at exit.
    let finished = run_with_deadline(&workspace, &["once"], Duration::from_secs(30));
    assert_eq!(finished.code, Some(0), "stderr:\n{}", finished.stderr);
    let line = |name: &str| {
        finished
            .stdout
            .lines()
            .find(|line| line.starts_with(name))
            .unwrap_or_else(|| panic!("no line for {name}:\n{}", finished.stdout))
            .to_string()
    };
    assert!(line("news ").contains("new items"), "{}", finished.stdout);
    let pipe = line("pipe ");
    assert!(
        pipe.contains("error: ") && pipe.contains("a FIFO (named pipe), not a regular file"),
        "{pipe}"
    );
    let folder = line("folder ");
    assert!(
        folder.contains("error: ") && folder.contains("a directory, not a regular file"),
        "{folder}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_polls_a_fifo_feed_as_failed_and_stops_on_sigterm() {
    let workspace = special_feeds();
    let daemon = Daemon::start(&workspace, "daemon.log");
    let failed = |line: &str| line.contains("poll failed") && line.contains("feed=pipe");
    wait_for(
        Duration::from_secs(20),
        "the FIFO feed's failed poll",
        || {
            let log = daemon.log();
            async move { log.lines().any(failed) }
        },
    )
    .await;
    // `stop` fails the test unless the daemon exits within its deadline: a thread blocked
    // opening the FIFO would hold it open.
    let (code, log) = daemon.stop().await;
    assert_eq!(code, Some(0), "{log}");
    let line = log.lines().find(|line| failed(line)).unwrap();
    assert!(
        line.contains("a FIFO (named pipe), not a regular file"),
        "{line}"
    );
}

#[test]
fn check_points_at_the_first_byte_that_is_not_utf8() {
    let workspace = Workspace::new("");
    let mut text = b"[daemon]\ndatabase = \"ww.db\"\n# na\xc3\xafve caf".to_vec();
    text.extend_from_slice(b"\xe9 au lait\n");
    std::fs::write(workspace.config(), text).unwrap();
    let finished = run_with_deadline(&workspace, &["check"], Duration::from_secs(30));
    assert_eq!(finished.code, Some(1), "stderr:\n{}", finished.stderr);
    let config = workspace.config().display().to_string();
    // `# naïve caf` is 11 characters (12 bytes): the bad byte is the 12th character.
    assert!(
        finished
            .stderr
            .contains(&format!("{config}:3:12: error: not valid UTF-8")),
        "{}",
        finished.stderr
    );
}

#[test]
fn check_refuses_a_topic_with_too_many_terms_and_says_the_limit() {
    let words: Vec<String> = (0..120_000).map(|n| format!("w{n}")).collect();
    let topic = format!(
        "[[topic]]\nid = \"huge\"\nquery = \"\"\"{}\"\"\"\n",
        words.join(" OR ")
    );
    let workspace = Workspace::new(&topic);
    // Before the limit, this took minutes (every term was compared with every other).
    let finished = run_with_deadline(&workspace, &["check"], Duration::from_secs(60));
    assert_eq!(finished.code, Some(1), "stderr:\n{}", finished.stderr);
    let config = workspace.config().display().to_string();
    let line = line_of(&workspace, "query = \"\"\"w0 OR");
    let column = format!("query = \"\"\"{}", words[..5_000].join(" OR ") + " OR ")
        .chars()
        .count()
        + 1;
    assert!(
        finished.stderr.contains(&format!(
            "{config}:{line}:{column}: error: in query: more than 5000 terms"
        )),
        "{}",
        &finished.stderr[..finished.stderr.len().min(2000)]
    );
}
