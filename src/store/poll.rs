//! A poll's commit: which items are new, and one transaction that writes them, their
//! stories, their matches (through the match log, shared with backfills) and the feed's
//! state.

use super::*;
use stories::StoryIndex;

/// What a deleted item leaves in `seen`: hashes of its identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SeenHashes {
    /// The repeated guid its key was made from, or its key.
    pub(super) base_hash: i64,
    pub(super) key_hash: i64,
    /// Its title and URL.
    pub(super) ident: i64,
}

impl SeenHashes {
    pub(super) fn of(item: &Item) -> SeenHashes {
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
pub(super) fn hash64(parts: &[&[u8]]) -> i64 {
    use sha2::{Digest as _, Sha256};
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part);
        hash.update((part.len() as u64).to_le_bytes());
    }
    let digest = hash.finalize();
    i64::from_le_bytes(digest[..8].try_into().expect("SHA-256 has 32 bytes"))
}

/// A stored item as the match log needs it: a new item of a poll, or a stored one a
/// backfill logs.
pub(super) struct LoggedItem<'a> {
    pub(super) item_id: ItemId,
    pub(super) feed_id: FeedId,
    pub(super) feed_name: &'a str,
    pub(super) story_id: StoryId,
    pub(super) title: &'a str,
    pub(super) url: Option<&'a str>,
    /// UTC seconds.
    pub(super) published: Option<i64>,
    /// When watchword first saw it, UTC seconds (a source's `seen`).
    pub(super) seen: i64,
}

/// What [`MatchLog::log`] did with one topic's match of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Logged {
    /// A new match, with its outbox rows.
    Match {
        match_id: MatchId,
        deliveries: usize,
    },
    /// The topic was logged before for the item's story, URL or (without a link) title:
    /// the item became a source of that match (`added` is 0 when it already was).
    Source { added: usize },
    /// The item is logged for the topic already.
    Duplicate,
}

/// The statements that log a topic's match of a stored item, once per `dedup` level, with
/// its first source and outbox rows: shared by a poll's commit and a backfill, so both log
/// alike.
pub(super) struct MatchLog<'a, 'sql> {
    pub(super) sql: &'a Sql<'sql>,
}

impl<'a, 'sql> MatchLog<'a, 'sql> {
    pub(super) fn new(sql: &'a Sql<'sql>) -> MatchLog<'a, 'sql> {
        MatchLog { sql }
    }

    /// Logs `topic_match` of `item` at `now`, once per `policy.dedup` level: with `Story`, a
    /// topic already logged for the item's story (or its canonical URL) gets the item as a
    /// further source instead; with `Url` only the URL counts; with `Item` every item is
    /// logged; an item without a link is also known by its title within its feed (unless
    /// `Item`). A new match gets the item as its first source and one outbox row per route
    /// that wants the topic.
    pub(super) fn log(
        &mut self,
        item: &LoggedItem<'_>,
        topic_match: &TopicMatch,
        policy: &StoryPolicy,
        routes: &[AlertRoute],
        now: DateTime<Utc>,
        backfill: bool,
    ) -> Result<Logged, DbError> {
        let sql = self.sql;
        let topic = topic_match.topic.as_str();
        let logged_before: Option<i64> = match policy.dedup {
            Dedup::Story => sql.query_row(
                "SELECT id FROM matches WHERE story_id = ?1 AND topic = ?2 ORDER BY id LIMIT 1",
                &db_params![item.story_id.0, topic],
                |row| row.get(0),
            )?,
            Dedup::Url | Dedup::Item => None,
        };
        let logged_before: Option<i64> = match (logged_before, item.url) {
            (Some(id), _) => Some(id),
            (None, _) if policy.dedup == Dedup::Item => None,
            (None, Some(url)) => sql.query_row(
                "SELECT id FROM matches WHERE topic = ?1 AND url = ?2 ORDER BY id LIMIT 1",
                &db_params![topic, url],
                |row| row.get(0),
            )?,
            // An item without a link is known by its title within its feed: a feed that
            // gives its items new guids on every poll must not log them again.
            (None, None) => sql.query_row(
                "SELECT m.id FROM matches m JOIN items i ON i.id = m.item_id
                 WHERE m.topic = ?1 AND m.url IS NULL AND i.feed_id = ?2 AND i.title = ?3
                 ORDER BY m.id LIMIT 1",
                &db_params![topic, item.feed_id.0, item.title],
                |row| row.get(0),
            )?,
        };
        if let Some(match_id) = logged_before {
            let added = self.add_source(MatchId(match_id), item)?;
            return Ok(Logged::Source { added });
        }
        let terms = distinct_terms(&topic_match.hits);
        let inserted = sql.insert(
            "INSERT INTO matches (item_id, topic, url, matched_at, terms, hits, story_id,
                                  backfill)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (item_id, topic) DO NOTHING",
            &db_params![
                item.item_id.0,
                topic,
                item.url,
                now.timestamp(),
                to_json(&terms),
                stored::hits_to_json(&topic_match.hits),
                item.story_id.0,
                backfill,
            ],
        )?;
        let Some(match_id) = inserted.map(MatchId) else {
            return Ok(Logged::Duplicate);
        };
        self.add_source(match_id, item)?;
        let mut deliveries = 0;
        for route in routes.iter().filter(|r| r.wants(topic)) {
            let first_attempt = crate::scheduler::later(now, route.delay);
            deliveries += sql.execute(
                "INSERT INTO deliveries (match_id, sink, next_attempt, created)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (match_id, sink) DO NOTHING",
                &db_params![
                    match_id.0,
                    route.sink,
                    first_attempt.timestamp(),
                    now.timestamp()
                ],
            )? as usize;
        }
        Ok(Logged::Match {
            match_id,
            deliveries,
        })
    }

    pub(super) fn add_source(
        &mut self,
        match_id: MatchId,
        item: &LoggedItem<'_>,
    ) -> Result<usize, DbError> {
        let added = self.sql.execute(
            "INSERT INTO match_sources (match_id, item_id, feed, title, url, published, seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (match_id, item_id) DO NOTHING",
            &db_params![
                match_id.0,
                item.item_id.0,
                item.feed_name,
                item.title,
                item.url,
                item.published,
                item.seen
            ],
        )?;
        Ok(added as usize)
    }
}

/// One poll of one feed, as [`Store::commit_poll`] writes it in one transaction.
#[derive(Debug, Clone, Copy)]
pub struct PollCommit<'a> {
    pub feed_id: FeedId,
    /// The new items, each with the topics it matched.
    pub items: &'a [MatchedItem],
    /// The feed's state after the poll.
    pub state: &'a FeedState,
    pub now: DateTime<Utc>,
    /// The alert routes: each match gets an outbox row per route that wants its topic.
    pub routes: &'a [AlertRoute],
    /// A notice about the feed (dead, recovered, …) to log and deliver with the poll.
    pub notice: Option<&'a Notice>,
    pub policy: &'a StoryPolicy,
    /// The feed's first poll taken as a baseline: its matches are logged as backfill and get
    /// no outbox rows (a notice still does).
    pub baseline: bool,
    /// The poll read a body into items (not a 304, a failure, or a body that did not parse):
    /// the feed's `last_fetched` is set, which retention's `seen` rows are timed by.
    pub body: bool,
}

/// What [`Store::known_keys`] found of a poll's items.
#[derive(Debug, Default)]
pub struct KnownItems {
    /// The keys of the items already stored (or deleted by retention and remembered).
    pub keys: HashSet<String>,
    /// Of those, the ones retention deleted: their rows in `seen`.
    still_listed: Vec<SeenHashes>,
}

impl KnownItems {
    /// Whether [`Store::mark_still_listed`] has anything to write.
    pub fn any_still_listed(&self) -> bool {
        !self.still_listed.is_empty()
    }
}

impl Store {
    /// The keys of `items` this feed has already stored. An item also counts as stored when
    /// it was stored under its other form of key: its feed started or stopped repeating its
    /// guid (see [`REPEATED_KEY_MARK`]) and the stored item has the same title and URL. An
    /// item that retention deleted is known by what it left in `seen`; the answer lists those
    /// for [`Store::mark_still_listed`]. Reads only.
    pub fn known_keys(&self, feed_id: FeedId, items: &[Item]) -> Result<KnownItems, StoreError> {
        let dialect = self.dialect();
        let known = |sql: &Sql<'_>| known_keys(sql, dialect, feed_id, items);
        match self.sqlite() {
            // One read transaction for all the lookups, not one per statement.
            Some(conn) => conn
                .unchecked_transaction()
                .map_err(DbError::from)
                .and_then(|tx| known(&Sql::Sqlite(&tx)))
                .map_err(|cause| self.db_error(cause)),
            None => self.read(known),
        }
    }

    /// Marks the deleted items of `known` (their rows in `seen`) as listed by the feed at
    /// `now`: the feed still lists them, so retention keeps them known. A write, and nothing
    /// to write when no known item had been deleted.
    pub fn mark_still_listed(
        &self,
        feed_id: FeedId,
        known: &KnownItems,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if known.still_listed.is_empty() {
            return Ok(());
        }
        self.write(|sql| {
            for hashes in &known.still_listed {
                sql.execute(
                    "UPDATE seen SET listed = CASE WHEN listed > ?5 THEN listed ELSE ?5 END
                     WHERE feed_id = ?1 AND base_hash = ?2 AND (key_hash = ?3 OR ident = ?4)",
                    &db_params![
                        feed_id.0,
                        hashes.base_hash,
                        hashes.key_hash,
                        hashes.ident,
                        now.timestamp()
                    ],
                )?;
            }
            Ok(())
        })
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
    pub fn commit_poll(&mut self, poll: &PollCommit<'_>) -> Result<CommitSummary, StoreError> {
        let mut written = self.commit_polls(std::slice::from_ref(poll));
        written.pop().expect("one result per poll")
    }

    /// Writes several polls, each as [`Store::commit_poll`] would, in one transaction (their
    /// shared pages written once): what is written is the same as their commits one after
    /// the other. If a poll cannot be written, the others are written each in its own
    /// transaction, so it does not keep them out; if the transaction cannot even begin (the
    /// database stayed locked for the busy timeout), every poll gets that error at once.
    pub fn commit_polls(
        &mut self,
        polls: &[PollCommit<'_>],
    ) -> Vec<Result<CommitSummary, StoreError>> {
        let mut began = false;
        let node = match self.backend {
            Backend::Postgres(_) => self.node.as_deref(),
            Backend::Sqlite(_) => None,
        };
        let story_index = &mut self.story_index;
        let work = |sql: &Sql<'_>| {
            began = true;
            lock_stories(sql)?;
            polls
                .iter()
                .map(|poll| write_poll(sql, story_index, poll, node))
                .collect::<Result<Vec<_>, DbError>>()
        };
        let written = match &self.backend {
            Backend::Sqlite(conn) => shared_sqlite_transaction(conn, work),
            Backend::Postgres(pool) => pool.transaction(work),
        };
        let failed = match written {
            Ok(summaries) => return summaries.into_iter().map(Ok).collect(),
            Err(cause) => cause,
        };
        // The transaction rolled back: the members it added to the index are not stored.
        self.story_index.clear();
        if !began {
            // It could not begin: each poll would wait as long again.
            return polls
                .iter()
                .map(|_| Err(self.shared_error(&failed)))
                .collect();
        }
        if polls.len() == 1 {
            return vec![Err(self.db_error(failed))];
        }
        polls.iter().map(|poll| self.commit_poll(poll)).collect()
    }
}

/// The advisory lock (PostgreSQL) that a transaction adding to the story index holds, so
/// that one process at a time assigns stories: "WATCHSTO".
const STORY_LOCK: i64 = 0x5741_5443_4853_544f;

/// Serializes story assignment across every process on a PostgreSQL database, as SQLite's
/// write lock does on one file: a member another node adds is read (`StoryIndex::prepare`)
/// before this transaction looks a story up. Held until the transaction ends; nothing on
/// SQLite.
pub(super) fn lock_stories(sql: &Sql<'_>) -> Result<(), DbError> {
    if sql.dialect() == Dialect::Postgres {
        sql.query_row(
            "SELECT pg_advisory_xact_lock(?1)",
            &db_params![STORY_LOCK],
            |_| Ok(()),
        )?;
    }
    Ok(())
}

impl Store {
    /// Drops the in-memory story index (a write was abandoned midway); the next commit
    /// rebuilds it from the database.
    pub(super) fn forget_story_index(&mut self) {
        self.story_index.clear();
    }
}

/// [`Store::known_keys`], on one connection.
fn known_keys(
    sql: &Sql<'_>,
    dialect: Dialect,
    feed_id: FeedId,
    items: &[Item],
) -> Result<KnownItems, DbError> {
    let exists = |statement: &str, params: &[db::Param<'_>]| {
        Ok::<_, DbError>(sql.query_row(statement, params, |_| Ok(()))?.is_some())
    };
    // A feed with nothing stored (its first poll) knows none of them.
    let any_stored = exists(
        "SELECT 1 FROM items WHERE feed_id = ?1 LIMIT 1",
        &db_params![feed_id.0],
    )?;
    let any_deleted = exists(
        "SELECT 1 FROM seen WHERE feed_id = ?1 LIMIT 1",
        &db_params![feed_id.0],
    )?;
    if !any_stored && !any_deleted {
        return Ok(KnownItems::default());
    }
    // Keys compared as bytes: PostgreSQL's own collation may order text otherwise.
    let with_prefix = match dialect {
        Dialect::Sqlite => {
            "SELECT 1 FROM items WHERE feed_id = ?1 AND key >= ?2 AND key < ?3
                AND title = ?4 AND url IS NOT DISTINCT FROM ?5"
        }
        Dialect::Postgres => {
            "SELECT 1 FROM items WHERE feed_id = ?1 AND key >= ?2 COLLATE \"C\"
                AND key < ?3 COLLATE \"C\" AND title = ?4 AND url IS NOT DISTINCT FROM ?5"
        }
    };
    let mut known = HashSet::new();
    let mut deleted = Vec::new();
    for item in items {
        let key = item.key.as_str();
        let found = any_stored
            && (exists(
                "SELECT 1 FROM items WHERE feed_id = ?1 AND key = ?2",
                &db_params![feed_id.0, key],
            )? || match repeated_key_base(key) {
                // Stored under the plain key before the guid repeated.
                Some(base) => exists(
                    "SELECT 1 FROM items WHERE feed_id = ?1 AND key = ?2
                        AND title = ?3 AND url IS NOT DISTINCT FROM ?4",
                    &db_params![feed_id.0, base, item.title, item.url],
                )?,
                // Stored with a repeated-guid key before the guid became unique again.
                None => {
                    let prefix = format!("{key}{REPEATED_KEY_MARK}");
                    let end = format!("{key}{}", next_prefix(REPEATED_KEY_MARK));
                    exists(
                        with_prefix,
                        &db_params![feed_id.0, prefix, end, item.title, item.url],
                    )?
                }
            });
        let found = found
            || any_deleted && {
                let hashes = SeenHashes::of(item);
                let was_deleted = exists(
                    "SELECT 1 FROM seen WHERE feed_id = ?1 AND base_hash = ?2
                        AND (key_hash = ?3 OR ident = ?4)",
                    &db_params![feed_id.0, hashes.base_hash, hashes.key_hash, hashes.ident],
                )?;
                if was_deleted {
                    deleted.push(hashes);
                }
                was_deleted
            };
        if found {
            known.insert(key.to_string());
        }
    }
    Ok(KnownItems {
        keys: known,
        still_listed: deleted,
    })
}

/// One poll's rows, in the caller's transaction; on PostgreSQL, `node` polled it and gives
/// its lease back.
fn write_poll(
    sql: &Sql<'_>,
    story_index: &mut StoryIndex,
    poll: &PollCommit<'_>,
    node: Option<&str>,
) -> Result<CommitSummary, DbError> {
    let PollCommit {
        feed_id,
        items,
        state,
        now,
        routes,
        notice,
        policy,
        baseline,
        body,
    } = *poll;
    let match_routes = if baseline { &[][..] } else { routes };
    let mut summary = CommitSummary::default();
    let window_start = now
        .timestamp()
        .saturating_sub(i64::try_from(policy.window.as_secs()).unwrap_or(i64::MAX));
    // A poll without new items (a 304, a failure) writes only the feed's state.
    if !items.is_empty() {
        let feed_name: String = sql.value(
            "SELECT name FROM feeds WHERE id = ?1",
            &db_params![feed_id.0],
        )?;
        let mut log = MatchLog::new(sql);
        story_index.prepare(sql, window_start, now.timestamp())?;
        for (item_idx, matched) in items.iter().enumerate() {
            let item = &matched.item;
            let computed;
            let keys = match &matched.story {
                Some(keys) => keys,
                None => {
                    computed = story::keys(item);
                    &computed
                }
            };
            // The story first, so the item is stored with it in one write.
            let found = story_index.find(keys, window_start);
            let (story_id, first_seen) = match found {
                Some(story) => story,
                None => (StoryIndex::start(sql, now.timestamp())?, now.timestamp()),
            };
            let inserted = sql.insert(
                "INSERT INTO items (feed_id, key, url, title, summary, content, authors,
                                    categories, published, first_seen, story_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (feed_id, key) DO NOTHING",
                &db_params![
                    feed_id.0,
                    item.key,
                    item.url,
                    item.title,
                    item.summary,
                    item.content,
                    to_json(&item.authors),
                    to_json(&item.categories),
                    item.published.map(|date| date.timestamp()),
                    now.timestamp(),
                    story_id,
                ],
            )?;
            let Some(item_id) = inserted.map(ItemId) else {
                if found.is_none() {
                    StoryIndex::unstart(sql, story_id)?;
                }
                continue;
            };
            summary.new_items += 1;
            if !matched.matches.is_empty() {
                story_index.index(sql, story_id, first_seen, keys)?;
            }
            let joined = found.is_some();
            if joined {
                summary.joined_stories += 1;
            }
            let logged_item = LoggedItem {
                item_id,
                feed_id,
                feed_name: &feed_name,
                story_id: StoryId(story_id),
                title: &item.title,
                url: item.url.as_deref(),
                published: item.published.map(|date| date.timestamp()),
                seen: now.timestamp(),
            };
            for (match_idx, topic_match) in matched.matches.iter().enumerate() {
                let logged = log.log(
                    &logged_item,
                    topic_match,
                    policy,
                    match_routes,
                    now,
                    baseline,
                )?;
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
                summary.new_sources += sql.execute(
                    "INSERT INTO match_sources (match_id, item_id, feed, title, url, published,
                                                seen)
                     SELECT id, ?2, ?3, ?4, ?5, ?6, ?7 FROM matches WHERE story_id = ?1
                     ON CONFLICT (match_id, item_id) DO NOTHING",
                    &db_params![
                        story_id,
                        item_id.0,
                        feed_name,
                        item.title,
                        item.url,
                        logged_item.published,
                        now.timestamp()
                    ],
                )? as usize;
            }
        }
    }
    write_state(sql, feed_id, state)?;
    if let Some(node) = node {
        sql.execute(
            "UPDATE feeds SET polled_by = ?2,
                    lease_node = CASE WHEN lease_node = ?2 THEN NULL ELSE lease_node END,
                    lease_until = CASE WHEN lease_node = ?2 THEN NULL ELSE lease_until END
             WHERE id = ?1",
            &db_params![feed_id.0, node],
        )?;
    }
    if body {
        sql.execute(
            "UPDATE feeds SET last_fetched = ?2 WHERE id = ?1",
            &db_params![feed_id.0, now.timestamp()],
        )?;
    }
    if let Some(notice) = notice {
        summary.new_deliveries += insert_notice(sql, notice, routes)?;
    }
    Ok(summary)
}
