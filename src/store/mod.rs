//! The SQLite store: the only module with SQL. Feed state, items and the match log, written
//! so that one poll's new items, their matches and the feed's new state land in one
//! transaction. Synchronous (rusqlite is blocking): async callers go through
//! `spawn_blocking` and never hold the store across an `.await`.

mod backfill;
mod migrations;
mod stories;
mod verdicts;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::model::{
    AlertRoute, Dedup, Delivery, DeliveryState, FeedHealth, FeedState, Item, Match, MatchedItem,
    Notice, Payload, REPEATED_KEY_MARK, Source, StoryPolicy, TopicMatch, Verdict,
    repeated_key_base,
};
use crate::query::Hit;
use crate::story;

pub use crate::model::{Backfill, StoredItem, StoredVerdict};
pub use backfill::BackfillSummary;
pub use migrations::MIGRATIONS;
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
    let span = tracing::Span::current();
    match tokio::task::spawn_blocking(move || span.in_scope(|| work(&mut lock(&store)))).await {
        Ok(value) => value,
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}

/// An open database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// The index of the stories in the window, in memory (see `stories`).
    story_index: stories::StoryIndex,
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

/// What a deleted item leaves in `seen`: hashes of its identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SeenHashes {
    /// The repeated guid its key was made from, or its key.
    base_hash: i64,
    key_hash: i64,
    /// Its title and URL.
    ident: i64,
}

impl SeenHashes {
    fn of(item: &Item) -> SeenHashes {
        let base = repeated_key_base(&item.key).unwrap_or(&item.key);
        let url = item
            .url
            .as_deref()
            .map_or(b"\x00".as_slice(), |url| url.as_bytes());
        SeenHashes {
            base_hash: hash64(&[base.as_bytes()]),
            key_hash: hash64(&[item.key.as_bytes()]),
            ident: hash64(&[item.title.as_bytes(), b"\x01", url]),
        }
    }
}

/// The first 8 bytes of the SHA-256 of `parts` (each followed by its length, so the
/// split between them counts).
fn hash64(parts: &[&[u8]]) -> i64 {
    use sha2::{Digest as _, Sha256};
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part);
        hash.update((part.len() as u64).to_le_bytes());
    }
    let digest = hash.finalize();
    i64::from_le_bytes(digest[..8].try_into().expect("SHA-256 has 32 bytes"))
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
    pub after_id: Option<i64>,
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
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
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
            conn,
            path: path.to_path_buf(),
            story_index: stories::StoryIndex::default(),
        };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes sure every configured feed has a row (keyed by name) and returns their ids in
    /// the same order. When the config gives a feed another URL, the feed starts over at it:
    /// validators, a permanent redirect and a 410 are forgotten.
    pub fn register_feeds(&mut self, feeds: &[(&str, String)]) -> Result<Vec<i64>, StoreError> {
        let path = self.path.clone();
        let wrap = |cause| StoreError::Sqlite {
            path: path.clone(),
            cause,
        };
        let tx = write_transaction(&mut self.conn).map_err(wrap)?;
        let mut ids = Vec::with_capacity(feeds.len());
        {
            let mut upsert = tx
                .prepare(
                    "INSERT INTO feeds (name, url, config_url) VALUES (?1, ?2, ?2)
                     ON CONFLICT (name) DO UPDATE SET
                        etag = CASE WHEN config_url IS excluded.config_url THEN etag END,
                        last_modified =
                            CASE WHEN config_url IS excluded.config_url THEN last_modified END,
                        gone = CASE WHEN config_url IS excluded.config_url THEN gone ELSE 0 END,
                        discovered =
                            CASE WHEN config_url IS excluded.config_url THEN discovered ELSE 0 END,
                        url = CASE WHEN config_url IS excluded.config_url THEN url
                                   ELSE excluded.url END,
                        config_url = excluded.config_url
                     RETURNING id",
                )
                .map_err(wrap)?;
            for (name, url) in feeds {
                ids.push(
                    upsert
                        .query_row(params![name, url], |row| row.get(0))
                        .map_err(wrap)?,
                );
            }
        }
        tx.commit().map_err(wrap)?;
        Ok(ids)
    }

    /// The stored poll state of a feed.
    pub fn feed_state(&self, feed_id: i64) -> Result<FeedState, StoreError> {
        self.conn
            .query_row(
                "SELECT etag, last_modified, next_due, last_polled, last_success,
                        consecutive_errors, last_error, last_status,
                        CASE WHEN url IS NOT config_url THEN url END, gone, failing_since,
                        dead_notified, config_url, discovered AND url IS NOT config_url
                 FROM feeds WHERE id = ?1",
                [feed_id],
                |row| {
                    Ok(FeedState {
                        etag: row.get(0)?,
                        last_modified: row.get(1)?,
                        next_due: row.get::<_, Option<i64>>(2)?.map(from_epoch),
                        last_polled: row.get::<_, Option<i64>>(3)?.map(from_epoch),
                        last_success: row.get::<_, Option<i64>>(4)?.map(from_epoch),
                        consecutive_errors: row.get(5)?,
                        last_error: row.get(6)?,
                        last_status: row.get(7)?,
                        moved_to: row.get(8)?,
                        gone: row.get(9)?,
                        failing_since: row.get::<_, Option<i64>>(10)?.map(from_epoch),
                        dead_notified: row.get(11)?,
                        config_url: row.get(12)?,
                        discovered: row.get(13)?,
                    })
                },
            )
            .map_err(|source| self.error(source))
    }

    /// Saves a feed's poll state alone (a poll that brought no items), with the notice the
    /// poll raised, if any, for every route without a topic filter — in one transaction.
    pub fn save_state(
        &mut self,
        feed_id: i64,
        state: &FeedState,
        notice: Option<&Notice>,
        routes: &[AlertRoute],
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let wrap = |cause| StoreError::Sqlite {
            path: path.clone(),
            cause,
        };
        let tx = write_transaction(&mut self.conn).map_err(wrap)?;
        write_state(&tx, feed_id, state).map_err(wrap)?;
        if let Some(notice) = notice {
            insert_notice(&tx, notice, routes).map_err(wrap)?;
        }
        tx.commit().map_err(wrap)
    }

    /// How many of the named feeds are failing (and not gone), and how many are gone: the
    /// status endpoint's gauges, from the feeds table alone.
    pub fn feed_gauges(&self, names: &[&str]) -> Result<(usize, usize), StoreError> {
        self.conn
            .query_row(
                "SELECT COALESCE(SUM(consecutive_errors > 0 AND NOT gone), 0),
                        COALESCE(SUM(gone), 0)
                 FROM feeds WHERE name IN (SELECT value FROM json_each(?1))",
                [to_json(names)],
                |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)),
            )
            .map(|(failing, gone)| {
                (
                    usize::try_from(failing).unwrap_or(0),
                    usize::try_from(gone).unwrap_or(0),
                )
            })
            .map_err(|source| self.error(source))
    }

    /// The health of the named feeds, in the order given (names without a row are left out).
    pub fn feed_health(&self, names: &[&str]) -> Result<Vec<FeedHealth>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT f.name, f.url, CASE WHEN f.url IS NOT f.config_url THEN f.config_url END,
                        f.last_success, f.last_polled, f.last_status, f.consecutive_errors,
                        f.failing_since, f.gone,
                        (SELECT COUNT(*) FROM items i WHERE i.feed_id = f.id),
                        (SELECT COUNT(*) FROM matches m JOIN items i ON i.id = m.item_id
                         WHERE i.feed_id = f.id),
                        f.next_due, f.last_error, f.discovered AND f.url IS NOT f.config_url
                 FROM feeds f WHERE f.name = ?1",
            )
            .map_err(|source| self.error(source))?;
        let mut health = Vec::with_capacity(names.len());
        for name in names {
            let row = statement
                .query_row([name], |row| {
                    Ok(FeedHealth {
                        name: row.get(0)?,
                        url: row.get(1)?,
                        config_url: row.get(2)?,
                        last_success: row.get::<_, Option<i64>>(3)?.map(from_epoch),
                        last_polled: row.get::<_, Option<i64>>(4)?.map(from_epoch),
                        last_status: row.get(5)?,
                        consecutive_errors: row.get(6)?,
                        failing_since: row.get::<_, Option<i64>>(7)?.map(from_epoch),
                        gone: row.get(8)?,
                        items: row.get(9)?,
                        matches: row.get(10)?,
                        next_due: row.get::<_, Option<i64>>(11)?.map(from_epoch),
                        last_error: row.get(12)?,
                        discovered: row.get(13)?,
                    })
                })
                .optional()
                .map_err(|source| self.error(source))?;
            health.extend(row);
        }
        Ok(health)
    }

    /// The keys of `items` this feed has already stored. An item also counts as stored when
    /// it was stored under its other form of key: its feed started or stopped repeating its
    /// guid (see [`REPEATED_KEY_MARK`]) and the stored item has the same title and URL. An
    /// item that retention deleted is known by what it left in `seen`, and that row is marked
    /// listed at `now` (the feed still lists it, so it stays).
    pub fn known_keys(
        &self,
        feed_id: i64,
        items: &[Item],
        now: DateTime<Utc>,
    ) -> Result<HashSet<String>, StoreError> {
        let wrap = |source| self.error(source);
        let mut known = HashSet::new();
        let mut deleted = Vec::new();
        {
            // One read transaction for all the lookups, not one per statement.
            let tx = self.conn.unchecked_transaction().map_err(wrap)?;
            // A feed with nothing stored (its first poll) knows none of them.
            let any_stored = tx
                .prepare_cached("SELECT 1 FROM items WHERE feed_id = ?1 LIMIT 1")
                .and_then(|mut statement| statement.exists([feed_id]))
                .map_err(wrap)?;
            let any_deleted = tx
                .prepare_cached("SELECT 1 FROM seen WHERE feed_id = ?1 LIMIT 1")
                .and_then(|mut statement| statement.exists([feed_id]))
                .map_err(wrap)?;
            if !any_stored && !any_deleted {
                return Ok(known);
            }
            let mut exact = self
                .conn
                .prepare_cached("SELECT 1 FROM items WHERE feed_id = ?1 AND key = ?2")
                .map_err(wrap)?;
            let mut same_item = self
                .conn
                .prepare_cached(
                    "SELECT 1 FROM items WHERE feed_id = ?1 AND key >= ?2 AND key < ?3
                        AND title = ?4 AND url IS ?5",
                )
                .map_err(wrap)?;
            let mut in_seen = self
                .conn
                .prepare_cached(
                    "SELECT 1 FROM seen WHERE feed_id = ?1 AND base_hash = ?2
                        AND (key_hash = ?3 OR ident = ?4)",
                )
                .map_err(wrap)?;
            for item in items {
                let key = item.key.as_str();
                let found = any_stored
                    && (exact.exists(params![feed_id, key]).map_err(wrap)?
                        || match repeated_key_base(key) {
                            // Stored under the plain key before the guid repeated (the range
                            // [base, base + NUL) holds exactly `base`).
                            Some(base) => same_item
                                .exists(params![
                                    feed_id,
                                    base,
                                    format!("{base}\0"),
                                    item.title,
                                    item.url
                                ])
                                .map_err(wrap)?,
                            // Stored with a repeated-guid key before the guid became unique
                            // again.
                            None => {
                                let prefix = format!("{key}{REPEATED_KEY_MARK}");
                                let end = format!("{key}{}", next_prefix(REPEATED_KEY_MARK));
                                same_item
                                    .exists(params![feed_id, prefix, end, item.title, item.url])
                                    .map_err(wrap)?
                            }
                        });
                let found = found
                    || any_deleted && {
                        let hashes = SeenHashes::of(item);
                        let was_deleted = in_seen
                            .exists(params![
                                feed_id,
                                hashes.base_hash,
                                hashes.key_hash,
                                hashes.ident
                            ])
                            .map_err(wrap)?;
                        if was_deleted {
                            deleted.push(hashes);
                        }
                        was_deleted
                    };
                if found {
                    known.insert(key.to_string());
                }
            }
        }
        if !deleted.is_empty() {
            // A write: the lock first, as in `write_transaction`.
            let tx = rusqlite::Transaction::new_unchecked(
                &self.conn,
                rusqlite::TransactionBehavior::Immediate,
            )
            .map_err(wrap)?;
            {
                let mut listed = tx
                    .prepare_cached(
                        "UPDATE seen SET listed = MAX(listed, ?5)
                         WHERE feed_id = ?1 AND base_hash = ?2 AND (key_hash = ?3 OR ident = ?4)",
                    )
                    .map_err(wrap)?;
                for hashes in &deleted {
                    listed
                        .execute(params![
                            feed_id,
                            hashes.base_hash,
                            hashes.key_hash,
                            hashes.ident,
                            now.timestamp()
                        ])
                        .map_err(wrap)?;
                }
            }
            tx.commit().map_err(wrap)?;
        }
        Ok(known)
    }

    /// One pass of retention: deletes up to `limit` items first seen before `now - keep`
    /// that no match refers to (leaving their identity in `seen`), the delivered and failed
    /// outbox rows untouched for that long, and — on the pass that finds no more old items —
    /// the articles fetched that long ago that no match links to and the `seen` rows of
    /// items their feed stopped listing that long ago, then gives the freed pages back to
    /// the file system. Matched items and the match log are kept. Call
    /// it again while [`Purged::more`] says so (each pass is one transaction, so the
    /// store's lock is not held for long).
    pub fn purge(
        &mut self,
        now: DateTime<Utc>,
        keep: Duration,
        limit: usize,
    ) -> Result<Purged, StoreError> {
        let path = self.path.clone();
        let wrap = |cause| StoreError::Sqlite {
            path: path.clone(),
            cause,
        };
        let cutoff = chrono::Duration::from_std(keep)
            .ok()
            .and_then(|keep| now.checked_sub_signed(keep))
            .map_or(i64::MIN, |cutoff| cutoff.timestamp());
        let mut purged = Purged::default();
        let tx = write_transaction(&mut self.conn).map_err(wrap)?;
        {
            // Items in the order they were stored, which is the order of `first_seen` (one
            // writer, stamping each commit with the time): the walk stops at the first that
            // is not old enough, passing over the old ones a match keeps.
            let mut oldest = tx
                .prepare_cached(
                    "SELECT i.id, i.feed_id, i.key, i.title, i.url, i.first_seen,
                            EXISTS (SELECT 1 FROM matches m WHERE m.item_id = i.id)
                            OR EXISTS (SELECT 1 FROM verdicts v WHERE v.item_id = i.id)
                     FROM items i ORDER BY i.id",
                )
                .map_err(wrap)?;
            let mut rows = oldest.query([]).map_err(wrap)?;
            let mut doomed = Vec::new();
            while let Some(row) = rows.next().map_err(wrap)? {
                let first_seen: i64 = row.get(5).map_err(wrap)?;
                if first_seen >= cutoff {
                    break;
                }
                if row.get::<_, bool>(6).map_err(wrap)? {
                    continue;
                }
                if doomed.len() == limit {
                    purged.more = true;
                    break;
                }
                let item = Item {
                    key: row.get(2).map_err(wrap)?,
                    title: row.get(3).map_err(wrap)?,
                    url: row.get(4).map_err(wrap)?,
                    ..Item::default()
                };
                let id: i64 = row.get(0).map_err(wrap)?;
                let feed_id: i64 = row.get(1).map_err(wrap)?;
                doomed.push((id, feed_id, SeenHashes::of(&item)));
            }
            drop(rows);
            let mut remember = tx
                .prepare_cached(
                    "INSERT INTO seen (feed_id, base_hash, key_hash, ident, listed)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                )
                .map_err(wrap)?;
            let mut delete = tx
                .prepare_cached("DELETE FROM items WHERE id = ?1")
                .map_err(wrap)?;
            for (id, feed_id, hashes) in &doomed {
                remember
                    .execute(params![
                        feed_id,
                        hashes.base_hash,
                        hashes.key_hash,
                        hashes.ident,
                        now.timestamp()
                    ])
                    .map_err(wrap)?;
                purged.items += delete.execute([id]).map_err(wrap)?;
            }
            purged.deliveries = tx
                .prepare_cached(
                    "DELETE FROM deliveries WHERE id IN (
                        SELECT id FROM deliveries
                        WHERE state IN ('delivered', 'failed') AND next_attempt < ?1
                            AND created < ?1 AND COALESCE(delivered_at, 0) < ?1
                        LIMIT ?2)",
                )
                .and_then(|mut statement| {
                    statement.execute(params![cutoff, sql_limit(Some(limit))])
                })
                .map_err(wrap)?;
            purged.more |= purged.deliveries == limit;
            if !purged.more {
                // Articles fetched that long ago, unless a logged match links to them (an
                // item not matched then gains nothing from its article now).
                purged.articles = tx
                    .prepare_cached(
                        "DELETE FROM articles WHERE fetched_at < ?1
                            AND url NOT IN (SELECT url FROM matches WHERE url IS NOT NULL)",
                    )
                    .and_then(|mut statement| statement.execute([cutoff]))
                    .map_err(wrap)?;
                // Gone from its feed: the feed's last read body (an hour after the row was
                // last listed, so not the poll that listed it) did not list it.
                purged.forgotten = tx
                    .prepare_cached(
                        "DELETE FROM seen WHERE listed < ?1 AND listed + 3600 <
                            (SELECT COALESCE(f.last_fetched, 0) FROM feeds f
                             WHERE f.id = seen.feed_id)",
                    )
                    .and_then(|mut statement| statement.execute([cutoff]))
                    .map_err(wrap)?;
            }
        }
        tx.commit().map_err(wrap)?;
        if !purged.more && purged != Purged::default() {
            // Frees the pages at the end of the file (a database created before auto_vacuum
            // was set has none to give back; it reuses its free pages instead).
            // It frees one page per step: step it to the end.
            let mut vacuum = self
                .conn
                .prepare("PRAGMA incremental_vacuum")
                .map_err(wrap)?;
            let mut steps = vacuum.query([]).map_err(wrap)?;
            while steps.next().map_err(wrap)?.is_some() {}
        }
        Ok(purged)
    }

    /// Writes one poll's new items, their stories, their matches, the matches' sources and
    /// outbox rows (one per route that wants the topic) and the feed's state in one
    /// transaction. An item already stored for this feed is skipped with its matches.
    ///
    /// Each new item joins a story first seen within `policy.window` that shares its
    /// canonical URL or normalized title or whose fingerprint is near (see [`crate::story`]),
    /// else starts one. A match is logged once per `policy.dedup` level: with `Story`, a
    /// topic already logged for the item's story (or, as before stories, for its canonical
    /// URL) gets the item as a further source instead of a new match and no new outbox
    /// rows; with `Url` only the URL counts; with `Item` every item is logged. With `Story`
    /// an item also becomes a source of its story's matches of topics it did not match
    /// itself: the outlets that carried the story. An item without a link is also known by
    /// its title within its feed (unless `Item`): a feed that gives its items new guids on
    /// every poll does not log them again.
    #[allow(clippy::too_many_arguments)] // One transaction needs all of it.
    pub fn commit_poll(
        &mut self,
        feed_id: i64,
        items: &[MatchedItem],
        state: &FeedState,
        now: DateTime<Utc>,
        routes: &[AlertRoute],
        notice: Option<&Notice>,
        policy: &StoryPolicy,
    ) -> Result<CommitSummary, StoreError> {
        let written = self.write_poll(feed_id, items, state, now, routes, notice, policy);
        if written.is_err() {
            // The transaction rolled back: the members it added to the index are not stored.
            self.story_index.clear();
        }
        written
    }

    #[allow(clippy::too_many_arguments)]
    fn write_poll(
        &mut self,
        feed_id: i64,
        items: &[MatchedItem],
        state: &FeedState,
        now: DateTime<Utc>,
        routes: &[AlertRoute],
        notice: Option<&Notice>,
        policy: &StoryPolicy,
    ) -> Result<CommitSummary, StoreError> {
        let path = self.path.clone();
        let wrap = |cause| StoreError::Sqlite {
            path: path.clone(),
            cause,
        };
        let tx = write_transaction(&mut self.conn).map_err(wrap)?;
        let mut summary = CommitSummary::default();
        let window_start = now
            .timestamp()
            .saturating_sub(i64::try_from(policy.window.as_secs()).unwrap_or(i64::MAX));
        {
            let feed_name: String = tx
                .prepare_cached("SELECT name FROM feeds WHERE id = ?1")
                .and_then(|mut statement| statement.query_row([feed_id], |row| row.get(0)))
                .map_err(wrap)?;
            let mut insert_item = tx
                .prepare_cached(
                    "INSERT INTO items (feed_id, key, url, title, summary, content, authors,
                                        categories, published, first_seen)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                     ON CONFLICT (feed_id, key) DO NOTHING",
                )
                .map_err(wrap)?;
            let mut log = MatchLog::prepare(&tx).map_err(wrap)?;
            let mut source_of_story = tx
                .prepare_cached(
                    "INSERT INTO match_sources (match_id, item_id, feed, title, url, published, seen)
                     SELECT id, ?2, ?3, ?4, ?5, ?6, ?7 FROM matches WHERE story_id = ?1
                     ON CONFLICT (match_id, item_id) DO NOTHING",
                )
                .map_err(wrap)?;
            for (item_idx, matched) in items.iter().enumerate() {
                let item = &matched.item;
                let inserted = insert_item
                    .execute(params![
                        feed_id,
                        item.key,
                        item.url,
                        item.title,
                        item.summary,
                        item.content,
                        to_json(&item.authors),
                        to_json(&item.categories),
                        item.published.map(|date| date.timestamp()),
                        now.timestamp(),
                    ])
                    .map_err(wrap)?;
                if inserted == 0 {
                    continue;
                }
                summary.new_items += 1;
                let item_id = tx.last_insert_rowid();
                let computed;
                let keys = match &matched.story {
                    Some(keys) => keys,
                    None => {
                        computed = story::keys(item);
                        &computed
                    }
                };
                let (story_id, joined) = self
                    .story_index
                    .assign(
                        &tx,
                        item_id,
                        keys,
                        window_start,
                        now.timestamp(),
                        !matched.matches.is_empty(),
                    )
                    .map_err(wrap)?;
                if joined {
                    summary.joined_stories += 1;
                }
                let logged_item = LoggedItem {
                    item_id,
                    feed_id,
                    feed_name: &feed_name,
                    story_id,
                    title: &item.title,
                    url: item.url.as_deref(),
                    published: item.published.map(|date| date.timestamp()),
                    seen: now.timestamp(),
                };
                for (match_idx, topic_match) in matched.matches.iter().enumerate() {
                    let logged = log
                        .log(&logged_item, topic_match, policy, routes, now, false)
                        .map_err(wrap)?;
                    match logged {
                        Logged::Match { deliveries, .. } => {
                            summary.new_matches += 1;
                            summary.logged.push((item_idx, match_idx));
                            summary.new_deliveries += deliveries;
                        }
                        Logged::Source { added } => summary.new_sources += added,
                        Logged::Duplicate => {}
                    }
                }
                if joined && policy.dedup == Dedup::Story {
                    summary.new_sources += source_of_story
                        .execute(params![
                            story_id,
                            item_id,
                            feed_name,
                            item.title,
                            item.url,
                            logged_item.published,
                            now.timestamp()
                        ])
                        .map_err(wrap)?;
                }
            }
        }
        write_state(&tx, feed_id, state).map_err(wrap)?;
        tx.prepare_cached("UPDATE feeds SET last_fetched = ?2 WHERE id = ?1")
            .and_then(|mut statement| statement.execute(params![feed_id, now.timestamp()]))
            .map_err(wrap)?;
        if let Some(notice) = notice {
            summary.new_deliveries += insert_notice(&tx, notice, routes).map_err(wrap)?;
        }
        tx.commit().map_err(wrap)?;
        Ok(summary)
    }

    /// Reads the match log, oldest first (the most recent `limit` when a limit is given).
    pub fn matches(&self, filter: &MatchFilter) -> Result<Vec<Match>, StoreError> {
        let limit = sql_limit(filter.limit);
        let mut statement = self
            .conn
            .prepare(&format!(
                "SELECT {MATCH_COLUMNS}
                 FROM matches m
                 JOIN items i ON i.id = m.item_id
                 JOIN feeds f ON f.id = i.feed_id
                 WHERE (?1 IS NULL OR m.topic = ?1) AND (?2 IS NULL OR m.matched_at >= ?2)
                       AND (?3 IS NULL OR m.id > ?3)
                 ORDER BY m.matched_at DESC, m.id DESC
                 LIMIT ?4"
            ))
            .map_err(|source| self.error(source))?;
        let rows = statement
            .query_map(
                params![
                    filter.topic,
                    filter.since.map(|since| since.timestamp()),
                    filter.after_id,
                    limit
                ],
                |row| match_from_row(row, 0),
            )
            .map_err(|source| self.error(source))?;
        let mut matches = rows
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| self.error(source))?;
        matches.reverse();
        self.fill_sources(&mut matches)?;
        Ok(matches)
    }

    /// The id of the newest match in the log.
    pub fn newest_match_id(&self) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row("SELECT MAX(id) FROM matches", [], |row| row.get(0))
            .map_err(|source| self.error(source))
    }

    /// Pending outbox rows of `sinks` due at `now`, oldest first, at most `limit`.
    pub fn due_deliveries(
        &self,
        sinks: &[&str],
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.read_deliveries(
            "d.state = 'pending' AND d.next_attempt <= ?1 AND d.sink IN (SELECT value FROM json_each(?2))
             ORDER BY d.id LIMIT ?3",
            params![now.timestamp(), to_json(sinks), sql_limit(Some(limit))],
        )
    }

    /// Every pending outbox row of one sink, oldest first, at most `limit` (a digest sends
    /// them together).
    pub fn pending_deliveries(
        &self,
        sink: &str,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.read_deliveries(
            "d.state = 'pending' AND d.sink = ?1 ORDER BY d.id LIMIT ?2",
            params![sink, sql_limit(Some(limit))],
        )
    }

    /// The outbox for `alerts`: oldest first (the most recent `limit` when a limit is given).
    pub fn deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<Delivery>, StoreError> {
        let mut rows = self.read_deliveries(
            "(?1 IS NULL OR d.state = ?1) ORDER BY d.id DESC LIMIT ?2",
            params![
                filter.state.map(DeliveryState::as_str),
                sql_limit(filter.limit)
            ],
        )?;
        rows.reverse();
        Ok(rows)
    }

    /// When the next pending row of `sinks` is due, if any is pending.
    pub fn next_delivery_due(&self, sinks: &[&str]) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.conn
            .query_row(
                "SELECT MIN(next_attempt) FROM deliveries
                 WHERE state = 'pending' AND sink IN (SELECT value FROM json_each(?1))",
                [to_json(sinks)],
                |row| row.get::<_, Option<i64>>(0),
            )
            .map(|due| due.map(from_epoch))
            .map_err(|source| self.error(source))
    }

    /// How many outbox rows of `sinks` are in each state.
    pub fn outbox_counts(&self, sinks: &[&str]) -> Result<OutboxCounts, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT state, COUNT(*) FROM deliveries
                 WHERE sink IN (SELECT value FROM json_each(?1)) GROUP BY state",
            )
            .map_err(|source| self.error(source))?;
        let rows = statement
            .query_map([to_json(sinks)], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })
            .map_err(|source| self.error(source))?;
        let mut counts = OutboxCounts::default();
        for row in rows {
            let (state, n) = row.map_err(|source| self.error(source))?;
            let n = usize::try_from(n).unwrap_or(0);
            match DeliveryState::parse(&state) {
                Some(DeliveryState::Pending) => counts.pending = n,
                Some(DeliveryState::Delivered) => counts.delivered = n,
                Some(DeliveryState::Failed) => counts.failed = n,
                None => {}
            }
        }
        Ok(counts)
    }

    /// Records that a sink accepted these rows.
    pub fn mark_delivered(&mut self, ids: &[i64], now: DateTime<Utc>) -> Result<(), StoreError> {
        let path = self.path.clone();
        let wrap = |cause| StoreError::Sqlite {
            path: path.clone(),
            cause,
        };
        let tx = write_transaction(&mut self.conn).map_err(wrap)?;
        {
            let mut update = tx
                .prepare_cached(
                    "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1,
                            delivered_at = ?2, last_error = NULL
                     WHERE id = ?1",
                )
                .map_err(wrap)?;
            for id in ids {
                update.execute(params![id, now.timestamp()]).map_err(wrap)?;
            }
        }
        tx.commit().map_err(wrap)
    }

    /// Records a failed attempt: the rows are tried again at `retry_at`, or marked failed
    /// when there is no retry.
    pub fn mark_attempt_failed(
        &mut self,
        ids: &[i64],
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let wrap = |cause| StoreError::Sqlite {
            path: path.clone(),
            cause,
        };
        let state = if retry_at.is_some() {
            "pending"
        } else {
            "failed"
        };
        let next = retry_at.map(|time| time.timestamp());
        let tx = write_transaction(&mut self.conn).map_err(wrap)?;
        {
            let mut update = tx
                .prepare_cached(
                    "UPDATE deliveries SET state = ?2, attempts = attempts + 1, last_error = ?3,
                            next_attempt = COALESCE(?4, next_attempt)
                     WHERE id = ?1",
                )
                .map_err(wrap)?;
            for id in ids {
                update
                    .execute(params![id, state, error, next])
                    .map_err(wrap)?;
            }
        }
        tx.commit().map_err(wrap)
    }

    /// Requeues failed rows (`id`, or every failed row when `id` is `None`): pending again,
    /// due at `now`, with a fresh count of attempts. Returns how many were requeued.
    pub fn requeue_failed(
        &mut self,
        id: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        self.conn
            .execute(
                "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt = ?2
                 WHERE state = 'failed' AND (?1 IS NULL OR id = ?1)",
                params![id, now.timestamp()],
            )
            .map_err(|source| self.error(source))
    }

    /// The outbox row `id`, if it exists.
    pub fn delivery(&self, id: i64) -> Result<Option<Delivery>, StoreError> {
        Ok(self
            .read_deliveries("d.id = ?1", params![id])?
            .into_iter()
            .next())
    }

    /// `condition` is SQL written in this module (a literal: `'static`), never data; values
    /// go in `params`.
    fn read_deliveries(
        &self,
        condition: &'static str,
        params: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(&format!(
                "SELECT {MATCH_COLUMNS}, {DELIVERY_COLUMNS}
                 FROM deliveries d
                 LEFT JOIN matches m ON m.id = d.match_id
                 LEFT JOIN items i ON i.id = m.item_id
                 LEFT JOIN feeds f ON f.id = i.feed_id
                 WHERE {condition}"
            ))
            .map_err(|source| self.error(source))?;
        let rows = statement
            .query_map(params, delivery_from_row)
            .map_err(|source| self.error(source))?;
        let mut deliveries = rows
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| self.error(source))?;
        for delivery in &mut deliveries {
            if let Payload::Match(m) = &mut delivery.payload {
                self.fill_sources(std::slice::from_mut(m))?;
            }
        }
        Ok(deliveries)
    }

    /// Reads every match's sources, first one first (those known now: a delivery sent later
    /// names the copies seen meanwhile). A match without recorded sources has its own item.
    fn fill_sources(&self, matches: &mut [Match]) -> Result<(), StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT feed, title, url, published, seen FROM match_sources
                 WHERE match_id = ?1 ORDER BY id",
            )
            .map_err(|source| self.error(source))?;
        for m in matches {
            let rows = statement
                .query_map([m.match_id], |row| {
                    Ok(Source {
                        feed: row.get(0)?,
                        title: row.get(1)?,
                        url: row.get(2)?,
                        published: row.get::<_, Option<i64>>(3)?.map(from_epoch),
                        seen: from_epoch(row.get(4)?),
                    })
                })
                .map_err(|source| self.error(source))?;
            m.sources = rows
                .collect::<Result<Vec<_>, _>>()
                .map_err(|source| self.error(source))?;
            if m.sources.is_empty() {
                m.sources.push(Source {
                    feed: m.feed.clone(),
                    title: m.title.clone(),
                    url: m.url.clone(),
                    published: m.published,
                    seen: m.matched_at,
                });
            }
        }
        Ok(())
    }

    /// The cached article of a canonical URL: `Ok(text)`, or `Err(why)` when it has none for
    /// good (a 404, not a web page); `None` when it was never fetched.
    pub fn article(&self, url: &str) -> Result<Option<Result<String, String>>, StoreError> {
        self.conn
            .query_row(
                "SELECT text, error FROM articles WHERE url = ?1",
                params![url],
                |row| {
                    let text: Option<String> = row.get(0)?;
                    let error: Option<String> = row.get(1)?;
                    Ok(text.ok_or_else(|| error.unwrap_or_default()))
                },
            )
            .optional()
            .map_err(|source| self.error(source))
    }

    /// Caches the final outcome of fetching a URL's article (its text, or why it has none
    /// for good). The first outcome stays: a page is fetched at most once.
    pub fn save_article(
        &mut self,
        url: &str,
        outcome: Result<&str, &str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (text, error) = match outcome {
            Ok(text) => (Some(text), None),
            Err(error) => (None, Some(error)),
        };
        self.conn
            .execute(
                "INSERT OR IGNORE INTO articles (url, fetched_at, text, error)
                 VALUES (?1, ?2, ?3, ?4)",
                params![url, now.timestamp(), text, error],
            )
            .map_err(|source| self.error(source))?;
        Ok(())
    }

    /// Every stored item first seen at or after `since` (all without it), oldest first.
    /// Read-only.
    pub fn stored_items(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<StoredItem>, StoreError> {
        self.read_stored_items(
            "?1 IS NULL OR i.first_seen >= ?1",
            params![since.map(|since| since.timestamp())],
        )
    }

    /// Stored items that meet `condition` (SQL written in this module, a `'static` literal,
    /// over `i`, the items table; values go in `params`), oldest first.
    fn read_stored_items(
        &self,
        condition: &'static str,
        params: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<StoredItem>, StoreError> {
        let mut statement = self
            .conn
            .prepare(&format!(
                "SELECT i.id, f.name, i.key, i.url, i.title, i.summary, i.content, i.authors,
                        i.categories, i.published, i.first_seen, i.story_id, a.text
                 FROM items i JOIN feeds f ON f.id = i.feed_id
                 LEFT JOIN articles a ON a.url = i.url
                 WHERE {condition}
                 ORDER BY i.first_seen, i.id"
            ))
            .map_err(|source| self.error(source))?;
        let rows = statement
            .query_map(params, |row| {
                let authors: String = row.get(7)?;
                let categories: String = row.get(8)?;
                Ok(StoredItem {
                    item_id: row.get(0)?,
                    feed: row.get(1)?,
                    item: Item {
                        key: row.get(2)?,
                        url: row.get(3)?,
                        title: row.get(4)?,
                        summary: row.get(5)?,
                        content: row.get(6)?,
                        article: row.get::<_, Option<String>>(12)?.unwrap_or_default(),
                        authors: serde_json::from_str(&authors).unwrap_or_default(),
                        categories: serde_json::from_str(&categories).unwrap_or_default(),
                        published: row.get::<_, Option<i64>>(9)?.map(from_epoch),
                    },
                    first_seen: from_epoch(row.get(10)?),
                    story_id: row.get(11)?,
                })
            })
            .map_err(|source| self.error(source))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|source| self.error(source))
    }

    /// The match log of the items first seen at or after `since` (all without it), oldest
    /// first: what a backtest compares with. Read-only.
    pub fn matches_of_items_since(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<Match>, StoreError> {
        let mut statement = self
            .conn
            .prepare(&format!(
                "SELECT {MATCH_COLUMNS}
                 FROM matches m
                 JOIN items i ON i.id = m.item_id
                 JOIN feeds f ON f.id = i.feed_id
                 WHERE ?1 IS NULL OR i.first_seen >= ?1
                 ORDER BY m.matched_at, m.id"
            ))
            .map_err(|source| self.error(source))?;
        let rows = statement
            .query_map(params![since.map(|since| since.timestamp())], |row| {
                match_from_row(row, 0)
            })
            .map_err(|source| self.error(source))?;
        let mut matches = rows
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| self.error(source))?;
        self.fill_sources(&mut matches)?;
        Ok(matches)
    }

    /// Number of stored items and matches, for summaries and tests.
    pub fn counts(&self) -> Result<(i64, i64), StoreError> {
        self.conn
            .query_row(
                "SELECT (SELECT COUNT(*) FROM items), (SELECT COUNT(*) FROM matches)",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(|source| self.error(source))
    }

    fn configure(&mut self) -> Result<(), StoreError> {
        self.conn
            .busy_timeout(Duration::from_secs(10))
            .map_err(|source| self.error(source))?;
        // auto_vacuum takes effect only in a new, empty database (before its first table):
        // retention's freed pages can then be given back. It is set only there, since the
        // pragma writes to the file even when it changes nothing, and a store opened beside
        // a running daemon (`matches`) must not write.
        let empty: bool = self
            .conn
            .query_row(
                "SELECT NOT EXISTS (SELECT 1 FROM sqlite_master)",
                [],
                |row| row.get(0),
            )
            .map_err(|source| self.error(source))?;
        if empty {
            self.conn
                .execute_batch("PRAGMA auto_vacuum = INCREMENTAL")
                .map_err(|source| self.error(source))?;
        }
        self.conn
            .execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
            .map_err(|source| self.error(source))?;
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(|source| self.error(source))?;
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
        let path = self.path.clone();
        let wrap = |cause| StoreError::Sqlite {
            path: path.clone(),
            cause,
        };
        // Most opens find the schema current: they only read, so that a reader (`matches`
        // beside the daemon) never commits a write under the daemon's feet.
        let current: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(wrap)?;
        if usize::try_from(current).is_ok_and(|current| current == MIGRATIONS.len()) {
            return Ok(());
        }
        let tx = write_transaction(&mut self.conn).map_err(wrap)?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(wrap)?;
        let applied = usize::try_from(version).unwrap_or(usize::MAX);
        if applied > MIGRATIONS.len() {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
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

    fn error(&self, cause: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            cause,
        }
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

/// Saves a feed's state, unless the config gave the feed another URL since the state was
/// read: what a poll of the old address learned (validators, a 410, a move) must not stick
/// to the new one.
fn write_state(conn: &Connection, feed_id: i64, state: &FeedState) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE feeds SET etag = ?2, last_modified = ?3, next_due = ?4, last_polled = ?5,
                last_success = ?6, consecutive_errors = ?7, last_error = ?8, last_status = ?9,
                url = COALESCE(?10, config_url), gone = ?11, failing_since = ?12,
                dead_notified = ?13, discovered = ?15 AND ?10 IS NOT NULL
         WHERE id = ?1 AND (?14 IS NULL OR config_url IS ?14)",
    )?
    .execute(params![
        feed_id,
        state.etag,
        state.last_modified,
        state.next_due.map(|t| t.timestamp()),
        state.last_polled.map(|t| t.timestamp()),
        state.last_success.map(|t| t.timestamp()),
        state.consecutive_errors,
        state.last_error,
        state.last_status,
        state.moved_to,
        state.gone,
        state.failing_since.map(|t| t.timestamp()),
        state.dead_notified,
        state.config_url,
        state.discovered,
    ])?;
    Ok(())
}

/// Writes an outbox row for `notice` for every route without a topic filter; returns how
/// many.
fn insert_notice(
    conn: &Connection,
    notice: &Notice,
    routes: &[AlertRoute],
) -> rusqlite::Result<usize> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO deliveries (notice, sink, next_attempt, created) VALUES (?1, ?2, ?3, ?3)",
    )?;
    let mut written = 0;
    for route in routes.iter().filter(|route| route.topics.is_none()) {
        written += insert.execute(params![to_json(notice), route.sink, notice.at.timestamp()])?;
    }
    Ok(written)
}

/// The smallest string greater than every string starting with `prefix` (its last byte
/// incremented); the marker is ASCII, so this stays valid UTF-8.
fn next_prefix(prefix: &str) -> String {
    let mut bytes = prefix.as_bytes().to_vec();
    let last = bytes.last_mut().expect("the marker is not empty");
    *last += 1;
    String::from_utf8(bytes).expect("ASCII stays UTF-8")
}

/// A match from the [`MATCH_COLUMNS`] starting at column `first`.
fn match_from_row(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Match> {
    let terms: String = row.get(first + 9)?;
    let hits: String = row.get(first + 10)?;
    Ok(Match {
        match_id: row.get(first)?,
        topic: row.get(first + 1)?,
        matched_at: from_epoch(row.get(first + 2)?),
        item_id: row.get(first + 3)?,
        item_key: row.get(first + 4)?,
        feed: row.get(first + 5)?,
        title: row.get(first + 6)?,
        url: row.get(first + 7)?,
        published: row.get::<_, Option<i64>>(first + 8)?.map(from_epoch),
        terms: serde_json::from_str(&terms).unwrap_or_default(),
        hits: serde_json::from_str::<Vec<Hit>>(&hits).unwrap_or_default(),
        story_id: row.get(first + 11)?,
        sources: Vec::new(),
        // NULL for a notice's delivery, whose match columns are all NULL.
        backfill: row.get::<_, Option<bool>>(first + 12)?.unwrap_or(false),
        verdict: row
            .get::<_, Option<String>>(first + 13)?
            .as_deref()
            .and_then(Verdict::parse)
            .map(|verdict| Ok::<_, rusqlite::Error>((verdict, row.get(first + 14)?)))
            .transpose()?,
    })
}

/// A delivery from the [`MATCH_COLUMNS`] (null for a notice) followed by the
/// [`DELIVERY_COLUMNS`].
fn delivery_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Delivery> {
    const FIRST: usize = 15;
    let state: String = row.get(FIRST + 2)?;
    Ok(Delivery {
        id: row.get(FIRST)?,
        sink: row.get(FIRST + 1)?,
        // The schema's CHECK allows only the three states.
        state: DeliveryState::parse(&state).unwrap_or(DeliveryState::Failed),
        attempts: row.get(FIRST + 3)?,
        next_attempt: from_epoch(row.get(FIRST + 4)?),
        last_error: row.get(FIRST + 5)?,
        created: from_epoch(row.get(FIRST + 6)?),
        delivered_at: row.get::<_, Option<i64>>(FIRST + 7)?.map(from_epoch),
        payload: match row.get::<_, Option<String>>(FIRST + 8)? {
            Some(notice) => Payload::Notice(serde_json::from_str(&notice).map_err(|error| {
                rusqlite::Error::FromSqlConversionFailure(
                    FIRST + 8,
                    rusqlite::types::Type::Text,
                    Box::new(error),
                )
            })?),
            None => Payload::Match(match_from_row(row, 0)?),
        },
    })
}

/// A `LIMIT` value: -1 (none) for `None`.
fn sql_limit(limit: Option<usize>) -> i64 {
    limit.map_or(-1, |limit| i64::try_from(limit).unwrap_or(i64::MAX))
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

fn from_epoch(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// A stored item as the match log needs it: a new item of a poll, or a stored one a
/// backfill logs.
struct LoggedItem<'a> {
    item_id: i64,
    feed_id: i64,
    feed_name: &'a str,
    story_id: i64,
    title: &'a str,
    url: Option<&'a str>,
    /// UTC seconds.
    published: Option<i64>,
    /// When watchword first saw it, UTC seconds (a source's `seen`).
    seen: i64,
}

/// What [`MatchLog::log`] did with one topic's match of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Logged {
    /// A new match, with its outbox rows.
    Match { match_id: i64, deliveries: usize },
    /// The topic was logged before for the item's story, URL or (without a link) title:
    /// the item became a source of that match (`added` is 0 when it already was).
    Source { added: usize },
    /// The item is logged for the topic already.
    Duplicate,
}

/// The statements that log a topic's match of a stored item, once per `dedup` level, with
/// its first source and outbox rows: shared by a poll's commit and a backfill, so both log
/// alike.
struct MatchLog<'conn> {
    conn: &'conn Connection,
    match_of_url: rusqlite::CachedStatement<'conn>,
    match_of_story: rusqlite::CachedStatement<'conn>,
    match_of_title: rusqlite::CachedStatement<'conn>,
    insert_match: rusqlite::CachedStatement<'conn>,
    insert_source: rusqlite::CachedStatement<'conn>,
    insert_delivery: rusqlite::CachedStatement<'conn>,
}

impl<'conn> MatchLog<'conn> {
    fn prepare(conn: &'conn Connection) -> rusqlite::Result<MatchLog<'conn>> {
        Ok(MatchLog {
            conn,
            match_of_url: conn.prepare_cached(
                "SELECT id FROM matches WHERE topic = ?1 AND url = ?2 ORDER BY id LIMIT 1",
            )?,
            match_of_story: conn.prepare_cached(
                "SELECT id FROM matches WHERE story_id = ?1 AND topic = ?2 ORDER BY id LIMIT 1",
            )?,
            // An item without a link is known by its title within its feed: a feed that
            // gives its items new guids on every poll must not log them again.
            match_of_title: conn.prepare_cached(
                "SELECT m.id FROM matches m JOIN items i ON i.id = m.item_id
                 WHERE m.topic = ?1 AND m.url IS NULL AND i.feed_id = ?2 AND i.title = ?3
                 ORDER BY m.id LIMIT 1",
            )?,
            insert_match: conn.prepare_cached(
                "INSERT INTO matches (item_id, topic, url, matched_at, terms, hits, story_id,
                                      backfill)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (item_id, topic) DO NOTHING",
            )?,
            insert_source: conn.prepare_cached(
                "INSERT INTO match_sources (match_id, item_id, feed, title, url, published, seen)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (match_id, item_id) DO NOTHING",
            )?,
            insert_delivery: conn.prepare_cached(
                "INSERT INTO deliveries (match_id, sink, next_attempt, created)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (match_id, sink) DO NOTHING",
            )?,
        })
    }

    /// Logs `topic_match` of `item` at `now`, once per `policy.dedup` level: with `Story`, a
    /// topic already logged for the item's story (or its canonical URL) gets the item as a
    /// further source instead; with `Url` only the URL counts; with `Item` every item is
    /// logged; an item without a link is also known by its title within its feed (unless
    /// `Item`). A new match gets the item as its first source and one outbox row per route
    /// that wants the topic.
    fn log(
        &mut self,
        item: &LoggedItem<'_>,
        topic_match: &TopicMatch,
        policy: &StoryPolicy,
        routes: &[AlertRoute],
        now: DateTime<Utc>,
        backfill: bool,
    ) -> rusqlite::Result<Logged> {
        let topic = topic_match.topic.as_str();
        let logged_before = match policy.dedup {
            Dedup::Story => self
                .match_of_story
                .query_row(params![item.story_id, topic], |row| row.get(0))
                .optional()?,
            Dedup::Url | Dedup::Item => None,
        };
        let logged_before: Option<i64> = match (logged_before, item.url) {
            (Some(id), _) => Some(id),
            (None, _) if policy.dedup == Dedup::Item => None,
            (None, Some(url)) => self
                .match_of_url
                .query_row(params![topic, url], |row| row.get(0))
                .optional()?,
            (None, None) => self
                .match_of_title
                .query_row(params![topic, item.feed_id, item.title], |row| row.get(0))
                .optional()?,
        };
        if let Some(match_id) = logged_before {
            let added = self.add_source(match_id, item)?;
            return Ok(Logged::Source { added });
        }
        let terms = distinct_terms(&topic_match.hits);
        let inserted = self.insert_match.execute(params![
            item.item_id,
            topic,
            item.url,
            now.timestamp(),
            to_json(&terms),
            to_json(&topic_match.hits),
            item.story_id,
            backfill,
        ])?;
        if inserted == 0 {
            return Ok(Logged::Duplicate);
        }
        let match_id = self.conn.last_insert_rowid();
        self.add_source(match_id, item)?;
        let mut deliveries = 0;
        for route in routes.iter().filter(|r| r.wants(topic)) {
            let first_attempt = now + chrono::Duration::from_std(route.delay).unwrap_or_default();
            deliveries += self.insert_delivery.execute(params![
                match_id,
                route.sink,
                first_attempt.timestamp(),
                now.timestamp()
            ])?;
        }
        Ok(Logged::Match {
            match_id,
            deliveries,
        })
    }

    fn add_source(&mut self, match_id: i64, item: &LoggedItem<'_>) -> rusqlite::Result<usize> {
        self.insert_source.execute(params![
            match_id,
            item.item_id,
            item.feed_name,
            item.title,
            item.url,
            item.published,
            item.seen
        ])
    }
}

#[cfg(test)]
mod tests;
