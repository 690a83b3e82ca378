//! The database lock: one daemon per database.

use super::*;

/// The lock file that keeps a second daemon off a database: `<database>.lock`.
pub fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the database's lock for the life of the process, or says who holds it.
pub(super) fn lock_database(database: &Path) -> anyhow::Result<File> {
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
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(AlreadyRunning {
                database: database.to_path_buf(),
                lock: path,
            }
            .into());
        }
        Err(std::fs::TryLockError::Error(error)) => {
            return Err(error).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    // For people: which process holds it.
    let _ = file.set_len(0);
    let _ = writeln!(file, "{}", std::process::id());
    Ok(file)
}
