//! The `exec` sink: runs a program from an argv list, never through a shell. The match goes
//! to its stdin as JSON (one `matches --format jsonl` line per match) and into its
//! environment; exit status 0 is delivered, and a program over its timeout is killed.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::process::Command;
use tokio_util::task::AbortOnDropHandle;

use super::message::{Content, Markup, TopicTitles};
use super::{Retry, SendError};
use crate::text::sanitize;

/// How much of the program's stderr is kept for the error message.
const STDERR_EXCERPT: usize = 512;
/// How long stderr is read after the program exited.
const STDERR_GRACE: Duration = Duration::from_millis(200);

/// Runs `command` (program and arguments, no shell) for the batch, killing it after
/// `timeout`.
/// The program of an `exec` sink.
pub struct Program<'a> {
    pub command: &'a [String],
    pub timeout: Duration,
    /// Environment variables removed from the program's environment (the secrets).
    pub scrub: &'a [String],
}

pub async fn send(
    program_config: &Program<'_>,
    template: Option<&str>,
    content: &Content<'_>,
    key: &str,
    titles: &TopicTitles,
) -> Result<(), SendError> {
    let Program {
        command,
        timeout,
        scrub,
    } = *program_config;
    let failure = |message: String| SendError {
        message,
        retry: Retry::Backoff,
    };
    let stdin_text = content.json_lines();
    let mut program = Command::new(&command[0]);
    // Environment values cannot hold NUL; `sanitize` removes it with every control character.
    match content {
        Content::Matches(matches) => {
            let first = matches.first().expect("a batch is never empty");
            program
                .env("WATCHWORD_TOPIC", sanitize(&first.topic))
                .env(
                    "WATCHWORD_TOPIC_TITLE",
                    sanitize(&titles.name(&first.topic)),
                )
                .env("WATCHWORD_TITLE", sanitize(&first.title))
                .env(
                    "WATCHWORD_URL",
                    first.url.as_deref().map(sanitize).unwrap_or_default(),
                )
                .env("WATCHWORD_FEED", sanitize(&first.feed))
                .env("WATCHWORD_MATCH_ID", first.match_id.to_string())
                .env("WATCHWORD_COUNT", matches.len().to_string());
        }
        Content::Notice(notice) => {
            program
                .env("WATCHWORD_URL", sanitize(&notice.url))
                .env("WATCHWORD_FEED", sanitize(&notice.feed));
        }
        Content::Test { .. } => {}
    }
    // The program gets no secrets of ours: the variables the config reads them from.
    for name in scrub {
        program.env_remove(name);
    }
    let mut child = program
        .args(&command[1..])
        .env("WATCHWORD_EVENT", content.event())
        .env("WATCHWORD_DELIVERY_KEY", key)
        .env(
            "WATCHWORD_MESSAGE",
            sanitize_keep_newlines(&content.text(template, Markup::Plain, titles)),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout kills what it started too.
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| failure(format!("cannot run {:?}: {error}", command[0])))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    // The writer and the reader are aborted when this returns: no task outlives the send.
    let _writer = AbortOnDropHandle::new(tokio::spawn(async move {
        // A program that does not read its stdin closes the pipe: not an error.
        let _ = stdin.write_all(stdin_text.as_bytes()).await;
    }));
    // Read all of stderr (a full pipe would block the program) but keep only the start.
    let mut reader = AbortOnDropHandle::new(tokio::spawn(async move {
        let mut stderr = stderr;
        let (mut kept, mut chunk) = (Vec::new(), [0u8; 4096]);
        while let Ok(n) = stderr.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            let room = STDERR_EXCERPT.saturating_sub(kept.len());
            kept.extend_from_slice(&chunk[..n.min(room)]);
        }
        kept
    }));
    let status = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => status,
        Ok(Err(error)) => return Err(failure(format!("{:?} failed: {error}", command[0]))),
        Err(_) => {
            kill_group(&child);
            reader.abort();
            return Err(failure(format!(
                "{:?} timed out after {}s and was killed",
                command[0],
                timeout.as_secs()
            )));
        }
    };
    // Something the program started may hold stderr open: wait for it only briefly.
    let stderr_text = match tokio::time::timeout(STDERR_GRACE, &mut reader).await {
        Ok(Ok(bytes)) => bytes,
        _ => Vec::new(),
    };
    if status.success() {
        return Ok(());
    }
    let stderr = sanitize(String::from_utf8_lossy(&stderr_text).trim());
    Err(failure(if stderr.is_empty() {
        format!("{:?} exited with {status}", command[0])
    } else {
        format!("{:?} exited with {status}: {stderr}", command[0])
    }))
}

/// Kills the program's process group: the program and whatever it started.
fn kill_group(child: &tokio::process::Child) {
    let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) else {
        return;
    };
    if let Some(group) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    }
}

/// Removes control characters but keeps line breaks, for multi-line messages.
fn sanitize_keep_newlines(text: &str) -> String {
    text.split('\n')
        .map(sanitize)
        .collect::<Vec<_>>()
        .join("\n")
}
