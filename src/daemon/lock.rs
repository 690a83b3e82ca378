//! The database lock: one daemon per database.

use super::*;

/// The lock file that keeps a second sender off a database: `<database>.lock` beside the
/// file the path resolves to, so that a symlink to the database finds the same lock.
pub fn lock_path(database: &Path) -> PathBuf {
    let mut name = resolved(database).into_os_string();
    name.push(".lock");
    PathBuf::from(name)
}

/// `database` with its symlinks resolved: the file's own path, or for a database not created
/// yet, its folder's resolved path and its name.
fn resolved(database: &Path) -> PathBuf {
    if let Ok(path) = database.canonicalize() {
        return path;
    }
    match (database.parent(), database.file_name()) {
        (Some(dir), Some(name)) => dir
            .canonicalize()
            .map_or_else(|_| database.to_path_buf(), |dir| dir.join(name)),
        _ => database.to_path_buf(),
    }
}

/// Takes the database's lock for the life of the process, or says who holds it.
pub(super) fn lock_database(database: &Path) -> anyhow::Result<File> {
    try_lock_database(database)?.ok_or_else(|| {
        AlreadyRunning {
            database: database.display().to_string(),
            lock: lock_path(database).display().to_string(),
        }
        .into()
    })
}

/// Takes the database's lock, or `None` when another process holds it.
pub(super) fn try_lock_database(database: &Path) -> anyhow::Result<Option<File>> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = lock_path(database);
    if let Some(dir) = path.parent() {
        store::create_private_dir(dir)
            .with_context(|| format!("cannot create database folder {}", dir.display()))?;
    }
    let mut file = File::options()
        .mode(0o600)
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
        Err(std::fs::TryLockError::Error(error)) => {
            return Err(error).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    // For people and `feeds`: which process holds it, and whether its store can write.
    let _ = write_status(&file, None);
    let _ = file.set_len(STATUS_BYTES as u64);
    let _ = file.flush();
    Ok(Some(file))
}

/// The lock file's size: the holder's pid and a status line, padded. Written in place at
/// the same offset every time, so that saying "store cannot write" on a full disk needs no
/// new block of the file system.
const STATUS_BYTES: usize = 512;

/// Writes the lock holder's record: its pid, then `store ok` or the store's write failure.
pub(super) fn write_status(file: &File, failure: Option<&WriteFailure>) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt as _;
    let status = failure.map_or_else(|| "store ok".to_string(), ToString::to_string);
    let mut record = format!("{}\n{}", std::process::id(), crate::text::sanitize(&status));
    let mut cut = record.len().min(STATUS_BYTES - 1);
    while !record.is_char_boundary(cut) {
        cut -= 1;
    }
    record.truncate(cut);
    let mut bytes = record.into_bytes();
    bytes.resize(STATUS_BYTES - 1, b' ');
    bytes.push(b'\n');
    file.write_all_at(&bytes, 0)
}

/// What the daemon holding `database`'s lock says of its store, when one runs and its store
/// cannot write (`feeds` shows it: the database itself cannot say so). Read without taking
/// the lock (which would make a daemon starting at that instant think another runs): the
/// record's process must be alive.
pub fn running_daemon_status(database: &Path) -> Option<String> {
    let text = std::fs::read_to_string(lock_path(database)).ok()?;
    let mut lines = text.lines();
    let pid: u32 = lines.next()?.trim().parse().ok()?;
    if pid == std::process::id() || !Path::new(&format!("/proc/{pid}")).exists() {
        return None;
    }
    let status = lines.next()?.trim();
    status
        .starts_with("store cannot write")
        .then(|| status.to_string())
}
