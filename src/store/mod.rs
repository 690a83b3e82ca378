//! The store: the only module with SQL. Feed state, items and the match log, written so
//! that one poll's new items, their matches and the feed's new state land in one
//! transaction. On SQLite (a file; the default) or PostgreSQL (a `postgres://` URL), with
//! each statement written once for both ([`db`]). Synchronous (rusqlite is blocking, and the
//! PostgreSQL side waits for its queries): async callers go through `spawn_blocking` and
//! never hold the store across an `.await`.

mod articles;
mod backfill;
mod checkpoint;
mod combine;
pub mod db;
mod feeds;
mod health;
mod log;
mod migrations;
mod nodes;
mod outbox;
mod poll;
mod retention;
mod stored;
mod stories;
#[cfg(test)]
pub(crate) mod testing;
mod verdicts;
pub mod verified;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::Connection;
use rusqlite::config::DbConfig;

use crate::db_params;
use db::{DbError, Dialect, Row, Sql};

use crate::model::{
    AlertRoute, Dedup, Delivery, DeliveryId, DeliveryState, FeedHealth, FeedId, FeedState, Item,
    ItemId, Match, MatchId, MatchedItem, Notice, Payload, REPEATED_KEY_MARK, Source, StoryId,
    StoryPolicy, TopicMatch, Verdict, repeated_key_base,
};
use crate::query::Hit;
use crate::story;

pub use crate::model::{Backfill, StoredItem, StoredVerdict};
pub use backfill::BackfillSummary;
pub use combine::{CommitQueue, Committed, OwnedCommit};
use feeds::{insert_notice, write_state};
pub use health::{WriteFailure, WriteHealth};
use log::{fill_sources, match_from_row};
pub use migrations::MIGRATIONS;
pub use nodes::{Claim, NODE_ALIVE, Node, host_owner};
pub use poll::{KnownItems, PollCommit};
use poll::{Logged, LoggedItem, MatchLog, SeenHashes};
pub use verdicts::{ImportSummary, Judged, LabelImport};

/// The store shared by the tasks of one process. Locked only on blocking threads, never
/// across an `.await`.
pub type SharedStore = Arc<Mutex<Store>>;

/// Locks the shared store. A panic while holding the lock cannot leave the database
/// half-written (SQLite rolls the transaction back), so a poisoned lock is safe to reuse.
pub fn lock(store: &SharedStore) -> MutexGuard<'_, Store> {
    store
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `work` on the shared store on a blocking thread, keeping the caller's tracing span.
pub async fn with<T, F>(store: &SharedStore, work: F) -> T
where
    F: FnOnce(&mut Store) -> T + Send + 'static,
    T: Send + 'static,
{
    let store = store.clone();
    blocking(move || work(&mut lock(&store))).await
}

/// Runs blocking `work` (SQLite, parsing, matching) on a blocking thread, keeping the
/// caller's tracing span (a poll's feed name and URL) on its log lines; a panic in it
/// resumes in the caller. The one way async code runs blocking work.
pub async fn blocking<T, F>(work: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let span = tracing::Span::current();
    match tokio::task::spawn_blocking(move || span.in_scope(work)).await {
        Ok(value) => value,
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}

/// An open database.
#[derive(Debug)]
pub struct Store {
    /// The thread that checkpoints for this connection, if it has one
    /// (`checkpoint_in_background`). Declared before `backend` so that it stops, and its own
    /// connection closes, before this one: the last connection to close checkpoints what is
    /// left and removes the log.
    checkpointer: Option<checkpoint::Checkpointer>,
    backend: Backend,
    /// The database file; for PostgreSQL, its URL without the password (for messages).
    path: PathBuf,
    /// The index of the stories in the window, in memory (see `stories`).
    story_index: stories::StoryIndex,
    /// On PostgreSQL, the daemon this store writes for (see `nodes`) and how long its
    /// leases and claims last.
    node: Option<String>,
    lease: Duration,
    /// Whether this node polls a feed only when the database says it is due (a daemon),
    /// or whenever no other node holds it (`once`, which polls every feed now).
    only_when_due: bool,
}

/// The store a config names, for messages: the PostgreSQL URL without its password, or the
/// SQLite file.
pub fn describe(daemon: &crate::config::DaemonConfig) -> String {
    match &daemon.postgres {
        Some(url) => db::postgres::shown_url(url),
        None => daemon.database.display().to_string(),
    }
}

/// Whether the store a config names exists: its SQLite file does, or it is a PostgreSQL
/// database (whose schema opening it creates).
pub fn exists(daemon: &crate::config::DaemonConfig) -> bool {
    daemon.postgres.is_some() || daemon.database.exists()
}

/// How many prepared statements an SQLite connection keeps.
const STATEMENT_CACHE: usize = 128;

/// Where the rows are.
#[derive(Debug)]
enum Backend {
    Sqlite(Connection),
    Postgres(db::postgres::Pool),
}

/// Why the store failed. Causes are part of the message rather than `source`s, so a message
/// is complete on its own and `{:#}` does not repeat it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create database folder {}: {cause}", path.display())]
    CreateDir {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("cannot create database {}: {cause}", path.display())]
    CreateFile {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("database {}: {cause}", path.display())]
    Sqlite {
        path: PathBuf,
        cause: rusqlite::Error,
    },
    #[error("database {url}: {cause}")]
    Postgres { url: String, cause: String },
    #[error("database {} is from a newer watchword (schema version {found}, this build knows {known})", path.display())]
    TooNew {
        path: PathBuf,
        found: i64,
        known: usize,
    },
    #[error("database {}: journal_mode is {mode}, not wal (is it on a file system without shared memory?)", path.display())]
    NotWal { path: PathBuf, mode: String },
    #[error("a task using the database failed: {0}")]
    Task(String),
    #[error(
        "database {} is corrupt (PRAGMA quick_check: {problem}). Stop every watchword on it, \
         then copy what SQLite can read into a new file (`sqlite3 {} .recover | sqlite3 \
         recovered.db`, or `.dump`), give it the old `PRAGMA user_version`, and put it in \
         place of the old file; or restore a backup. README, \"The database\", has the steps",
        path.display(),
        path.display()
    )]
    Corrupt { path: PathBuf, problem: String },
}

/// What one poll's commit wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitSummary {
    pub new_items: usize,
    pub new_matches: usize,
    /// The matches logged, as (index in the batch, index in the item's `matches`).
    pub logged: Vec<(usize, usize)>,
    /// Outbox rows written for the logged matches.
    pub new_deliveries: usize,
    /// New items that joined a story seen before (in this poll or earlier).
    pub joined_stories: usize,
    /// Items recorded as further sources of matches logged before.
    pub new_sources: usize,
}

/// One feed's last poll and last success, for the per-feed metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedTimes {
    pub feed: String,
    pub last_poll: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
}

/// What one pass of [`Store::purge`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Old items no match refers to.
    pub items: usize,
    /// Delivered and failed outbox rows.
    pub deliveries: usize,
    /// `seen` rows of deleted items their feed no longer lists.
    pub forgotten: usize,
    /// Cached articles fetched that long ago that no match links to.
    pub articles: usize,
    /// There is more to delete: call again.
    pub more: bool,
}

/// Filters for reading the match log.
#[derive(Debug, Clone, Default)]
pub struct MatchFilter {
    pub topic: Option<String>,
    /// Only matches logged at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// At most this many, the most recent ones.
    pub limit: Option<usize>,
    /// Only matches with a larger id (`matches --follow` reads what is new).
    pub after_id: Option<MatchId>,
}

/// Filters for reading the outbox.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub state: Option<DeliveryState>,
    /// At most this many, the most recent ones.
    pub limit: Option<usize>,
}

/// How many outbox rows are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub pending: usize,
    pub delivered: usize,
    pub failed: usize,
}

/// The columns [`match_from_row`] reads, in order; `m`, `i` and `f` are the matches, items
/// and feeds tables.
const MATCH_COLUMNS: &str = "m.id, m.topic, m.matched_at, m.item_id, i.key, f.name, i.title, \
     i.url, i.published, m.terms, m.hits, m.story_id, m.backfill, \
     (SELECT v.verdict FROM verdicts v WHERE v.item_id = m.item_id AND v.topic = m.topic), \
     (SELECT v.note FROM verdicts v WHERE v.item_id = m.item_id AND v.topic = m.topic)";

/// The columns [`delivery_from_row`] reads after the match columns; `d` is the deliveries
/// table.
const DELIVERY_COLUMNS: &str = "d.id, d.sink, d.state, d.attempts, d.next_attempt, \
     d.last_error, d.created, d.delivered_at, d.notice";

impl Store {
    /// Opens (creating if needed) the SQLite database at `path` and brings its schema up to
    /// date.
    ///
    /// A database watchword creates is readable by its owner only: the folders it creates
    /// for it are 0700 and the file 0600, which SQLite gives its `-wal` and `-shm` files too.
    /// An existing folder or file keeps its permissions.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent() {
            create_private_dir(dir).map_err(|cause| StoreError::CreateDir {
                path: dir.to_path_buf(),
                cause,
            })?;
        }
        create_private_file(path).map_err(|cause| StoreError::CreateFile {
            path: path.to_path_buf(),
            cause,
        })?;
        let conn = Connection::open(path).map_err(|cause| StoreError::Sqlite {
            path: path.to_path_buf(),
            cause,
        })?;
        let mut store = Store {
            checkpointer: None,
            backend: Backend::Sqlite(conn),
            path: path.to_path_buf(),
            story_index: stories::StoryIndex::default(),
            node: None,
            lease: Duration::ZERO,
            only_when_due: true,
        };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    /// Connects to the PostgreSQL database at `url` (`postgres://user[:password]@host/db`)
    /// and brings its schema up to date.
    pub fn connect(url: &str) -> Result<Store, StoreError> {
        let pool = db::postgres::Pool::connect(url).map_err(|cause| StoreError::Postgres {
            url: db::postgres::shown_url(url),
            cause: cause.to_string(),
        })?;
        let mut store = Store {
            checkpointer: None,
            path: PathBuf::from(pool.shown()),
            backend: Backend::Postgres(pool),
            story_index: stories::StoryIndex::default(),
            node: None,
            lease: Duration::ZERO,
            only_when_due: true,
        };
        store.migrate()?;
        Ok(store)
    }

    /// Opens the store a config names: its PostgreSQL database, or its SQLite file.
    pub fn open_configured(daemon: &crate::config::DaemonConfig) -> Result<Store, StoreError> {
        match &daemon.postgres {
            Some(url) => Store::connect(url),
            None => Store::open(&daemon.database),
        }
    }

    /// Which SQL the database speaks.
    pub fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Sqlite(_) => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs `work`, each statement on its own (reads, and writes that need no transaction).
    fn read<T>(&self, work: impl FnOnce(&Sql<'_>) -> Result<T, DbError>) -> Result<T, StoreError> {
        match &self.backend {
            Backend::Sqlite(conn) => work(&Sql::Sqlite(conn)),
            Backend::Postgres(pool) => pool.with(work),
        }
        .map_err(|cause| self.db_error(cause))
    }

    /// Runs `work` in one write transaction: all of it is committed, or none.
    fn write<T>(&self, work: impl FnOnce(&Sql<'_>) -> Result<T, DbError>) -> Result<T, StoreError> {
        match &self.backend {
            Backend::Sqlite(conn) => shared_sqlite_transaction(conn, work),
            Backend::Postgres(pool) => pool.transaction(work),
        }
        .map_err(|cause| self.db_error(cause))
    }

    /// `cause` as the error of each of several callers that it failed at once.
    fn shared_error(&self, cause: &DbError) -> StoreError {
        match cause {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(code, message)) => {
                self.error(rusqlite::Error::SqliteFailure(*code, message.clone()))
            }
            DbError::Sqlite(other) => StoreError::Task(format!("cannot begin a write: {other}")),
            other => StoreError::Postgres {
                url: self.path.display().to_string(),
                cause: other.to_string(),
            },
        }
    }

    /// The SQLite connection, for what only SQLite has (pragmas, checkpoints); `None` on
    /// PostgreSQL.
    fn sqlite(&self) -> Option<&Connection> {
        match &self.backend {
            Backend::Sqlite(conn) => Some(conn),
            Backend::Postgres(_) => None,
        }
    }

    /// Makes this connection refuse to write (`PRAGMA query_only`): the daemon's second
    /// connection, for polls' reads, must never write beside the first. (A PostgreSQL
    /// store's reads and writes share one pool: nothing to do.)
    pub fn forbid_writes(&self) -> Result<(), StoreError> {
        match self.sqlite() {
            Some(conn) => conn
                .execute_batch("PRAGMA query_only = ON")
                .map_err(|source| self.error(source)),
            None => Ok(()),
        }
    }

    /// Checks the whole file for corruption (`PRAGMA quick_check`: one read of every page,
    /// without the slower index cross-checks): a database damaged mid-file otherwise opens
    /// quietly and fails every later write that touches the damage. PostgreSQL checks its
    /// own pages: nothing to do there.
    pub fn check_integrity(&self) -> Result<(), StoreError> {
        let Some(conn) = self.sqlite() else {
            return Ok(());
        };
        let problems: Vec<String> = conn
            .prepare("PRAGMA quick_check(5)")
            .and_then(|mut statement| {
                statement
                    .query_map([], |row| row.get::<_, String>(0))?
                    .collect()
            })
            .map_err(|source| match source {
                // A page so damaged that the check itself cannot read it.
                rusqlite::Error::SqliteFailure(failure, _)
                    if failure.code == rusqlite::ErrorCode::DatabaseCorrupt =>
                {
                    StoreError::Corrupt {
                        path: self.path.clone(),
                        problem: source.to_string(),
                    }
                }
                source => self.error(source),
            })?;
        if problems.len() == 1 && problems[0] == "ok" {
            return Ok(());
        }
        Err(StoreError::Corrupt {
            path: self.path.clone(),
            problem: problems.join("; "),
        })
    }

    /// The database file (for PostgreSQL, its URL without the password).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn configure(&mut self) -> Result<(), StoreError> {
        let Backend::Sqlite(conn) = &self.backend else {
            return Ok(());
        };
        let wrap = sqlite_error(&self.path);
        conn.busy_timeout(Duration::from_secs(10)).map_err(wrap)?;
        // Every statement is prepared once and kept (`Sql` prepares through the cache): the
        // store has more than rusqlite's default of 16, and one that falls out is parsed
        // again on its next use, in the middle of a poll's commit.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // One plan per statement, chosen when it is prepared: by default SQLite marks a
        // statement for a new plan when a bound value might change it (`col = ?` bound to 0
        // or 1, since 3.50), and parses it again on its next step, in the middle of a
        // poll's commit.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(wrap)?;
        // auto_vacuum takes effect only in a new, empty database (before its first table):
        // retention's freed pages can then be given back. It is set only there, since the
        // pragma writes to the file even when it changes nothing, and a store opened beside
        // a running daemon (`matches`) must not write.
        let empty: bool = conn
            .query_row(
                "SELECT NOT EXISTS (SELECT 1 FROM sqlite_master)",
                [],
                |row| row.get(0),
            )
            .map_err(wrap)?;
        if empty {
            conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL")
                .map_err(wrap)?;
        }
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
            .map_err(wrap)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(wrap)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::NotWal {
                path: self.path.clone(),
                mode,
            });
        }
        Ok(())
    }

    /// Applies the migrations this database has not seen, all in one transaction.
    fn migrate(&mut self) -> Result<(), StoreError> {
        match &mut self.backend {
            Backend::Sqlite(conn) => migrate_sqlite(conn, &self.path),
            Backend::Postgres(pool) => {
                let url = self.path.display().to_string();
                migrations::migrate_postgres(pool).map_err(|found| match found {
                    migrations::Refused::TooNew(found) => StoreError::TooNew {
                        path: self.path.clone(),
                        found,
                        known: migrations::POSTGRES.len(),
                    },
                    migrations::Refused::Db(cause) => StoreError::Postgres {
                        url,
                        cause: cause.to_string(),
                    },
                })
            }
        }
    }

    fn error(&self, cause: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            cause,
        }
    }

    fn db_error(&self, cause: DbError) -> StoreError {
        db_error(&self.path)(cause)
    }
}

/// Applies the SQLite migrations the file has not seen, in one transaction.
fn migrate_sqlite(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let wrap = sqlite_error(path);
    // Most opens find the schema current: they only read, so that a reader (`matches`
    // beside the daemon) never commits a write under the daemon's feet.
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(wrap)?;
    if usize::try_from(current).is_ok_and(|current| current == MIGRATIONS.len()) {
        return Ok(());
    }
    let tx = write_transaction(conn).map_err(wrap)?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(wrap)?;
    let applied = usize::try_from(version).unwrap_or(usize::MAX);
    if applied > MIGRATIONS.len() {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: version,
            known: MIGRATIONS.len(),
        });
    }
    for migration in &MIGRATIONS[applied..] {
        tx.execute_batch(migration).map_err(wrap)?;
    }
    tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64)
        .map_err(wrap)?;
    tx.commit().map_err(wrap)
}

/// Runs `work` in one SQLite write transaction that takes the write lock at once, as
/// [`write_transaction`] does, on a connection the caller shares.
fn shared_sqlite_transaction<T>(
    conn: &Connection,
    work: impl FnOnce(&Sql<'_>) -> Result<T, DbError>,
) -> Result<T, DbError> {
    let tx = rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate)?;
    let value = work(&Sql::Sqlite(&tx))?;
    tx.commit()?;
    Ok(value)
}

/// What turns an error of either backend into a [`StoreError`] naming the database.
fn db_error(path: &Path) -> impl Fn(DbError) -> StoreError + Copy + '_ {
    move |cause| match cause {
        DbError::Sqlite(cause) => StoreError::Sqlite {
            path: path.to_path_buf(),
            cause,
        },
        other => StoreError::Postgres {
            url: path.display().to_string(),
            cause: other.to_string(),
        },
    }
}

/// What turns a SQLite error into a [`StoreError`] naming the database at `path`: for the
/// functions that hold `self.conn` mutably and so cannot call [`Store::error`] (they borrow
/// `self.path` beside it).
fn sqlite_error(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + Copy + '_ {
    move |cause| StoreError::Sqlite {
        path: path.to_path_buf(),
        cause,
    }
}

/// A transaction that takes the write lock at once (`BEGIN IMMEDIATE`). A deferred one that
/// reads first and then writes cannot wait for another connection's write: it fails at once
/// ("database is locked") when that write committed after its read began. Taking the lock
/// first makes the busy timeout apply instead.
fn write_transaction(conn: &mut Connection) -> rusqlite::Result<rusqlite::Transaction<'_>> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
}

/// Creates `dir` and its missing parents with owner-only permissions (0700); folders that
/// exist keep theirs. The database's folder and the daemon's lock file use it.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Creates an empty file at `path` readable by its owner only (0600), unless something is
/// there already (SQLite takes an empty file for a new database).
fn create_private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

/// The smallest string greater than every string starting with `prefix` (its last byte
/// incremented); the marker is ASCII, so this stays valid UTF-8.
fn next_prefix(prefix: &str) -> String {
    let mut bytes = prefix.as_bytes().to_vec();
    let last = bytes.last_mut().expect("the marker is not empty");
    *last += 1;
    String::from_utf8(bytes).expect("ASCII stays UTF-8")
}

/// The subquery of the strings of the JSON array given as parameter `?{param}` (a list of
/// feed or sink names).
fn json_list(dialect: Dialect, param: usize) -> String {
    match dialect {
        Dialect::Sqlite => format!("SELECT value FROM json_each(?{param})"),
        Dialect::Postgres => {
            format!("SELECT json_array_elements_text(CAST(CAST(?{param} AS TEXT) AS JSON))")
        }
    }
}

/// A `LIMIT` value: the largest there is for `None` (no limit, in both dialects).
fn sql_limit(limit: Option<usize>) -> i64 {
    limit.map_or(i64::MAX, |limit| i64::try_from(limit).unwrap_or(i64::MAX))
}

fn distinct_terms(hits: &[Hit]) -> Vec<&str> {
    let mut terms: Vec<&str> = Vec::new();
    for hit in hits {
        if !terms.contains(&hit.term.as_str()) {
            terms.push(&hit.term);
        }
    }
    terms
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data always serializes")
}

/// Seconds since the epoch with the milliseconds, for `deliveries.next_attempt`: the column
/// is declared INTEGER and holds whole seconds from rows written before, which SQLite compares
/// with these as numbers.
fn epoch_f64(time: DateTime<Utc>) -> f64 {
    time.timestamp_millis() as f64 / 1000.0
}

fn from_epoch_f64(seconds: f64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis((seconds * 1000.0).round() as i64)
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

fn from_epoch(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

#[cfg(test)]
impl Store {
    /// The SQLite connection, for tests of what only SQLite has (pragmas, the file).
    pub(crate) fn conn(&self) -> &Connection {
        self.sqlite().expect("a SQLite store")
    }

    /// Runs `work` on the store's connection, for tests that look at the rows.
    pub(crate) fn with_sql<T>(&self, work: impl FnOnce(&Sql<'_>) -> Result<T, DbError>) -> T {
        self.read(work).unwrap()
    }
}

#[cfg(test)]
mod tests;
