//! The `exec` sink: runs a program from an argv list, never through a shell. The match goes
//! to its stdin as JSON (one `matches --format jsonl` line per match) and into its
//! environment; exit status 0 is delivered, and a program over its timeout is killed.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

use super::message::{Content, Markup};
use super::{Retry, SendError};
use crate::text::sanitize;

/// How much of the program's stderr is kept for the error message.
const STDERR_EXCERPT: usize = 512;

/// Runs `command` (program and arguments, no shell) for the batch, killing it after
/// `timeout`.
pub async fn send(
    command: &[String],
    timeout: Duration,
    template: Option<&str>,
    content: &Content<'_>,
    key: &str,
) -> Result<(), SendError> {
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
    }
    let mut child = program
        .args(&command[1..])
        .env("WATCHWORD_EVENT", content.event())
        .env("WATCHWORD_DELIVERY_KEY", key)
        .env(
            "WATCHWORD_MESSAGE",
            sanitize_keep_newlines(&content.text(template, Markup::Plain)),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| failure(format!("cannot run {:?}: {error}", command[0])))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let run = async move {
        // A program that does not read its stdin closes the pipe: not an error.
        let _ = stdin.write_all(stdin_text.as_bytes()).await;
        drop(stdin);
        child.wait_with_output().await
    };
    // On timeout the future is dropped with the child, and `kill_on_drop` kills it.
    let output = match tokio::time::timeout(timeout, run).await {
        Ok(Ok(output)) => output,
        Ok(Err(error)) => return Err(failure(format!("{:?} failed: {error}", command[0]))),
        Err(_) => {
            return Err(failure(format!(
                "{:?} timed out after {}s and was killed",
                command[0],
                timeout.as_secs()
            )));
        }
    };
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stderr = sanitize(stderr.trim());
    let stderr: String = stderr.chars().take(STDERR_EXCERPT).collect();
    Err(failure(if stderr.is_empty() {
        format!("{:?} exited with {}", command[0], output.status)
    } else {
        format!("{:?} exited with {}: {stderr}", command[0], output.status)
    }))
}

/// Removes control characters but keeps line breaks, for multi-line messages.
fn sanitize_keep_newlines(text: &str) -> String {
    text.split('\n')
        .map(sanitize)
        .collect::<Vec<_>>()
        .join("\n")
}
