//! The SQLite store: the only module with SQL. Feed state, items and the match log, written
//! so that one poll's new items, their matches and the feed's new state land in one
//! transaction. Synchronous (rusqlite is blocking): async callers go through
//! `spawn_blocking` and never hold the store across an `.await`.

mod migrations;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, params};

use crate::model::{FeedState, Item, Match, MatchedItem, REPEATED_KEY_MARK, repeated_key_base};
use crate::query::Hit;

pub use migrations::MIGRATIONS;

/// An open database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
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
}

/// What one poll's commit wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitSummary {
    pub new_items: usize,
    pub new_matches: usize,
    /// The matches logged, as (index in the batch, index in the item's `matches`).
    pub logged: Vec<(usize, usize)>,
}

/// An item as stored, for re-running topics over it (backtest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredItem {
    pub item_id: i64,
    /// The name of the feed it came from.
    pub feed: String,
    pub item: Item,
    /// When watchword first stored it.
    pub first_seen: DateTime<Utc>,
}

/// Filters for reading the match log.
#[derive(Debug, Clone, Default)]
pub struct MatchFilter {
    pub topic: Option<String>,
    /// Only matches logged at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// At most this many, the most recent ones.
    pub limit: Option<usize>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|cause| StoreError::CreateDir {
                path: dir.to_path_buf(),
                cause,
            })?;
        }
        let conn = Connection::open(path).map_err(|cause| StoreError::Sqlite {
            path: path.to_path_buf(),
            cause,
        })?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes sure every configured feed has a row (keyed by name; a changed URL is updated and
    /// its validators dropped) and returns their ids in the same order.
    pub fn register_feeds(&mut self, feeds: &[(&str, String)]) -> Result<Vec<i64>, StoreError> {
        let path = self.path.clone();
        let wrap = |cause| StoreError::Sqlite {
            path: path.clone(),
            cause,
        };
        let tx = self.conn.transaction().map_err(wrap)?;
        let mut ids = Vec::with_capacity(feeds.len());
        {
            let mut upsert = tx
                .prepare(
                    "INSERT INTO feeds (name, url) VALUES (?1, ?2)
                     ON CONFLICT (name) DO UPDATE SET
                        etag = CASE WHEN url = excluded.url THEN etag END,
                        last_modified = CASE WHEN url = excluded.url THEN last_modified END,
                        url = excluded.url
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
                        consecutive_errors, last_error, last_status
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
                    })
                },
            )
            .map_err(|source| self.error(source))
    }

    /// Saves a feed's poll state alone (a poll that brought no items).
    pub fn save_state(&mut self, feed_id: i64, state: &FeedState) -> Result<(), StoreError> {
        write_state(&self.conn, feed_id, state).map_err(|source| self.error(source))
    }

    /// The keys of `items` this feed has already stored. An item also counts as stored when
    /// it was stored under its other form of key: its feed started or stopped repeating its
    /// guid (see [`REPEATED_KEY_MARK`]) and the stored item has the same title and URL.
    pub fn known_keys(&self, feed_id: i64, items: &[Item]) -> Result<HashSet<String>, StoreError> {
        let wrap = |source| self.error(source);
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
        let mut known = HashSet::new();
        for item in items {
            let key = item.key.as_str();
            let found = exact.exists(params![feed_id, key]).map_err(wrap)?
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
                    // Stored with a repeated-guid key before the guid became unique again.
                    None => {
                        let prefix = format!("{key}{REPEATED_KEY_MARK}");
                        let end = format!("{key}{}", next_prefix(REPEATED_KEY_MARK));
                        same_item
                            .exists(params![feed_id, prefix, end, item.title, item.url])
                            .map_err(wrap)?
                    }
                };
            if found {
                known.insert(key.to_string());
            }
        }
        Ok(known)
    }

    /// Writes one poll's new items, their matches and the feed's state in one transaction.
    /// An item already stored for this feed is skipped with its matches; a match whose
    /// canonical URL is already logged for the same topic (the same article from another
    /// feed) is not logged again.
    pub fn commit_poll(
        &mut self,
        feed_id: i64,
        items: &[MatchedItem],
        state: &FeedState,
        now: DateTime<Utc>,
    ) -> Result<CommitSummary, StoreError> {
        let path = self.path.clone();
        let wrap = |cause| StoreError::Sqlite {
            path: path.clone(),
            cause,
        };
        let tx = self.conn.transaction().map_err(wrap)?;
        let mut summary = CommitSummary::default();
        {
            let mut insert_item = tx
                .prepare_cached(
                    "INSERT INTO items (feed_id, key, url, title, summary, content, authors,
                                        categories, published, first_seen)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                     ON CONFLICT (feed_id, key) DO NOTHING",
                )
                .map_err(wrap)?;
            let mut url_logged = tx
                .prepare_cached("SELECT 1 FROM matches WHERE topic = ?1 AND url = ?2")
                .map_err(wrap)?;
            let mut insert_match = tx
                .prepare_cached(
                    "INSERT INTO matches (item_id, topic, url, matched_at, terms, hits)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (item_id, topic) DO NOTHING",
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
                for (match_idx, topic_match) in matched.matches.iter().enumerate() {
                    if let Some(url) = &item.url
                        && url_logged
                            .exists(params![topic_match.topic, url])
                            .map_err(wrap)?
                    {
                        continue;
                    }
                    let terms = distinct_terms(&topic_match.hits);
                    let inserted = insert_match
                        .execute(params![
                            item_id,
                            topic_match.topic,
                            item.url,
                            now.timestamp(),
                            to_json(&terms),
                            to_json(&topic_match.hits),
                        ])
                        .map_err(wrap)?;
                    if inserted > 0 {
                        summary.new_matches += 1;
                        summary.logged.push((item_idx, match_idx));
                    }
                }
            }
        }
        write_state(&tx, feed_id, state).map_err(wrap)?;
        tx.commit().map_err(wrap)?;
        Ok(summary)
    }

    /// Reads the match log, oldest first (the most recent `limit` when a limit is given).
    pub fn matches(&self, filter: &MatchFilter) -> Result<Vec<Match>, StoreError> {
        let limit = filter
            .limit
            .map_or(-1, |limit| i64::try_from(limit).unwrap_or(i64::MAX));
        let mut statement = self
            .conn
            .prepare(
                "SELECT m.id, m.topic, m.matched_at, m.item_id, i.key, f.name, i.title, i.url,
                        i.published, m.terms, m.hits
                 FROM matches m
                 JOIN items i ON i.id = m.item_id
                 JOIN feeds f ON f.id = i.feed_id
                 WHERE (?1 IS NULL OR m.topic = ?1) AND (?2 IS NULL OR m.matched_at >= ?2)
                 ORDER BY m.matched_at DESC, m.id DESC
                 LIMIT ?3",
            )
            .map_err(|source| self.error(source))?;
        let rows = statement
            .query_map(
                params![
                    filter.topic,
                    filter.since.map(|since| since.timestamp()),
                    limit
                ],
                match_from_row,
            )
            .map_err(|source| self.error(source))?;
        let mut matches = rows
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| self.error(source))?;
        matches.reverse();
        Ok(matches)
    }

    /// Every stored item first seen at or after `since` (all without it), oldest first.
    /// Read-only.
    pub fn stored_items(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<StoredItem>, StoreError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT i.id, f.name, i.key, i.url, i.title, i.summary, i.content, i.authors,
                        i.categories, i.published, i.first_seen
                 FROM items i JOIN feeds f ON f.id = i.feed_id
                 WHERE ?1 IS NULL OR i.first_seen >= ?1
                 ORDER BY i.first_seen, i.id",
            )
            .map_err(|source| self.error(source))?;
        let rows = statement
            .query_map(params![since.map(|since| since.timestamp())], |row| {
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
                        authors: serde_json::from_str(&authors).unwrap_or_default(),
                        categories: serde_json::from_str(&categories).unwrap_or_default(),
                        published: row.get::<_, Option<i64>>(9)?.map(from_epoch),
                    },
                    first_seen: from_epoch(row.get(10)?),
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
            .prepare(
                "SELECT m.id, m.topic, m.matched_at, m.item_id, i.key, f.name, i.title, i.url,
                        i.published, m.terms, m.hits
                 FROM matches m
                 JOIN items i ON i.id = m.item_id
                 JOIN feeds f ON f.id = i.feed_id
                 WHERE ?1 IS NULL OR i.first_seen >= ?1
                 ORDER BY m.matched_at, m.id",
            )
            .map_err(|source| self.error(source))?;
        let rows = statement
            .query_map(
                params![since.map(|since| since.timestamp())],
                match_from_row,
            )
            .map_err(|source| self.error(source))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|source| self.error(source))
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
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(wrap)?;
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

fn write_state(conn: &Connection, feed_id: i64, state: &FeedState) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE feeds SET etag = ?2, last_modified = ?3, next_due = ?4, last_polled = ?5,
                last_success = ?6, consecutive_errors = ?7, last_error = ?8, last_status = ?9
         WHERE id = ?1",
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
    ])?;
    Ok(())
}

/// The smallest string greater than every string starting with `prefix` (its last byte
/// incremented); the marker is ASCII, so this stays valid UTF-8.
fn next_prefix(prefix: &str) -> String {
    let mut bytes = prefix.as_bytes().to_vec();
    let last = bytes.last_mut().expect("the marker is not empty");
    *last += 1;
    String::from_utf8(bytes).expect("ASCII stays UTF-8")
}

/// A `Match` from a row of `m.id, m.topic, m.matched_at, m.item_id, i.key, f.name, i.title,
/// i.url, i.published, m.terms, m.hits`.
fn match_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Match> {
    let terms: String = row.get(9)?;
    let hits: String = row.get(10)?;
    Ok(Match {
        match_id: row.get(0)?,
        topic: row.get(1)?,
        matched_at: from_epoch(row.get(2)?),
        item_id: row.get(3)?,
        item_key: row.get(4)?,
        feed: row.get(5)?,
        title: row.get(6)?,
        url: row.get(7)?,
        published: row.get::<_, Option<i64>>(8)?.map(from_epoch),
        terms: serde_json::from_str(&terms).unwrap_or_default(),
        hits: serde_json::from_str::<Vec<Hit>>(&hits).unwrap_or_default(),
    })
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

#[cfg(test)]
mod tests;
