//! The `jsonl` sink: one JSON object per match appended to a file, flushed and fsynced per
//! batch, in the format of `matches --format jsonl` (a notice is its own object, with an
//! `event` field).

use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use super::message::Content;
use super::{Retry, SendError};

/// Appends the message to `path` (creating it, readable by its owner only, and its folder)
/// and syncs it to disk.
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
        .read(true)
        .mode(0o600)
        .open(path)
        .map_err(context)?;
    // A line cut short (a crash or a full disk in the middle of a write) must not swallow
    // the next object: start on a line of its own.
    if !ends_with_newline(&mut file).map_err(context)? {
        file.write_all(b"\n").map_err(context)?;
    }
    file.write_all(bytes).map_err(context)?;
    file.flush().map_err(context)?;
    file.sync_data().map_err(context)
}

/// True when the file is empty or its last byte is a newline.
fn ends_with_newline(file: &mut std::fs::File) -> std::io::Result<bool> {
    if file.metadata()?.len() == 0 {
        return Ok(true);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn a_new_file_is_private_and_a_cut_line_does_not_swallow_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out/alerts.jsonl");
        append(&path, b"{\"a\":1}\n").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // A crash in the middle of a line.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"b\":")
            .unwrap();
        append(&path, b"{\"c\":3}\n").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "{\"a\":1}\n{\"b\":\n{\"c\":3}\n");
    }
}
