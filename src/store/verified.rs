//! Whether the database file is as watchword last left it, so `once` (run often, from a
//! timer) need not read the whole file for corruption at every start. After a run that began
//! from a sound file, wrote without an error and was the last to close the database (no
//! write-ahead log left: no daemon or other process had it open), the file's identity
//! (inode, size, modification time) is written beside it, in `<database>-verified`; a later
//! `once` that finds the file with that identity skips the full check. Anything that wrote
//! the file since (a daemon, a copy, a tool) changed that identity, so the check runs. The
//! daemon checks at start and hourly whatever the record says. No SQL.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

/// Where the identity of a verified database file is kept.
pub fn mark_path(database: &Path) -> PathBuf {
    let mut path = database.as_os_str().to_owned();
    path.push("-verified");
    PathBuf::from(path)
}

/// The file's identity: inode, size and modification time to the nanosecond.
fn identity(database: &Path) -> Option<String> {
    let meta = std::fs::metadata(database).ok()?;
    Some(format!(
        "{} {} {}.{:09}\n",
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec()
    ))
}

/// Whether the file is the one recorded by [`mark_verified`], unchanged since.
pub fn unchanged_since_verified(database: &Path) -> bool {
    match (
        identity(database),
        std::fs::read_to_string(mark_path(database)),
    ) {
        (Some(now), Ok(recorded)) => now == recorded,
        _ => false,
    }
}

/// Records the file as it is now as sound, if this process's connections were the last: the
/// last one to close folds the write-ahead log into the file and removes it, so a log still
/// there means another connection is open and may yet change the file — then the record is
/// dropped instead. Call after the run's connections are closed, only when it began from a
/// sound file and every write succeeded. Best effort: without the record, the next start
/// checks the file.
pub fn mark_verified(database: &Path) {
    let mut wal = database.as_os_str().to_owned();
    wal.push("-wal");
    if std::fs::metadata(&wal).is_ok_and(|meta| meta.len() > 0) {
        forget_verified(database);
        return;
    }
    if let Some(now) = identity(database) {
        let _ = std::fs::write(mark_path(database), now);
    }
}

/// Forgets the record (the file is about to change in ways no check has seen).
pub fn forget_verified(database: &Path) {
    let _ = std::fs::remove_file(mark_path(database));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_written_after_the_mark_is_no_longer_verified() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("watchword.db");
        assert!(!unchanged_since_verified(&database), "no file yet");
        std::fs::write(&database, b"one").unwrap();
        assert!(!unchanged_since_verified(&database), "never marked");
        mark_verified(&database);
        assert!(unchanged_since_verified(&database));
        // Same size, written again, at another time.
        std::fs::write(&database, b"two").unwrap();
        let file = std::fs::File::options()
            .write(true)
            .open(&database)
            .unwrap();
        file.set_modified(std::time::SystemTime::UNIX_EPOCH)
            .unwrap();
        assert!(!unchanged_since_verified(&database));
        mark_verified(&database);
        forget_verified(&database);
        assert!(!unchanged_since_verified(&database));
        // Another connection still open: its log may yet change the file.
        std::fs::write(dir.path().join("watchword.db-wal"), b"frames").unwrap();
        mark_verified(&database);
        assert!(!unchanged_since_verified(&database));
    }
}
