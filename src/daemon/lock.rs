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
            database: database.to_path_buf(),
            lock: lock_path(database),
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
    // For people: which process holds it.
    let _ = file.set_len(0);
    let _ = writeln!(file, "{}", std::process::id());
    Ok(Some(file))
}
