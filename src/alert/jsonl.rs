//! The `jsonl` sink: one JSON object per match appended to a file, flushed and fsynced per
//! batch, in the format of `matches --format jsonl` (a notice is its own object, with an
//! `event` field).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::message::Content;
use super::{Retry, SendError};

/// Appends the message to `path` (creating it and its folder) and syncs it to disk.
pub async fn send(path: &Path, content: &Content<'_>) -> Result<(), SendError> {
    let lines = content.json_lines();
    let path: PathBuf = path.to_path_buf();
    tokio::task::spawn_blocking(move || append(&path, lines.as_bytes()))
        .await
        .unwrap_or_else(|error| Err(format!("write task failed: {error}")))
        .map_err(|message| SendError {
            message,
            retry: Retry::Backoff,
        })
}

fn append(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let context = |error: std::io::Error| format!("cannot write {}: {error}", path.display());
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(context)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(context)?;
    file.write_all(bytes).map_err(context)?;
    file.flush().map_err(context)?;
    file.sync_data().map_err(context)
}
