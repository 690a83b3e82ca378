//! The schema, as an append-only list of migrations tracked by `PRAGMA user_version`. Never
//! edit a migration that has shipped; append a new one.

/// Migration `i` brings the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: feeds, items, matches.
    r#"
-- One row per configured feed, keyed by its name in the config; holds the poll state so a
-- restart resumes the schedule. Times are UTC seconds since the epoch, as everywhere.
CREATE TABLE feeds (
    id                 INTEGER PRIMARY KEY,
    name               TEXT NOT NULL UNIQUE,
    url                TEXT NOT NULL,
    etag               TEXT,
    last_modified      TEXT,
    next_due           INTEGER,
    last_polled        INTEGER,
    last_success       INTEGER,
    consecutive_errors INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT,
    last_status        TEXT
);

-- Every item ever seen, once per feed and identity key; the text is kept so topics can be
-- re-run over past items.
CREATE TABLE items (
    id          INTEGER PRIMARY KEY,
    feed_id     INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    url         TEXT,
    title       TEXT NOT NULL,
    summary     TEXT NOT NULL,
    content     TEXT NOT NULL,
    authors     TEXT NOT NULL,   -- JSON array of strings
    categories  TEXT NOT NULL,   -- JSON array of strings
    published   INTEGER,
    first_seen  INTEGER NOT NULL,
    UNIQUE (feed_id, key)
);
CREATE INDEX items_url ON items(url);

-- The match log: one row per item and topic. `url` repeats the item's canonical URL so the
-- same article from a second feed is recognised without a join.
CREATE TABLE matches (
    id          INTEGER PRIMARY KEY,
    item_id     INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    topic       TEXT NOT NULL,
    url         TEXT,
    matched_at  INTEGER NOT NULL,
    terms       TEXT NOT NULL,   -- JSON array of the distinct matched terms
    hits        TEXT NOT NULL,   -- JSON array of {term, field, snippet}
    UNIQUE (item_id, topic)
);
CREATE INDEX matches_time ON matches(matched_at);
CREATE INDEX matches_topic_url ON matches(topic, url);
"#,
    // 2: the alert outbox; feed health.
    r#"
-- One row per match and alert sink, written in the same transaction as the match: the
-- outbox the alert worker drains. A row carries a match, or a notice about a feed (JSON:
-- feed_dead, feed_recovered) for the sinks without a topic filter. `state` is pending,
-- delivered or failed; a failed row is kept (and can be requeued) after its attempts ran
-- out or a sink refused it for good.
CREATE TABLE deliveries (
    id            INTEGER PRIMARY KEY,
    match_id      INTEGER REFERENCES matches(id) ON DELETE CASCADE,
    notice        TEXT,
    sink          TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_attempt  INTEGER NOT NULL,
    last_error    TEXT,
    created       INTEGER NOT NULL,
    delivered_at  INTEGER,
    CHECK ((match_id IS NULL) <> (notice IS NULL)),
    UNIQUE (match_id, sink)
);
CREATE INDEX deliveries_due ON deliveries(state, next_attempt);

-- Feed health. `config_url` is the URL the config gave; `url` is where the feed is polled,
-- which a permanent redirect (301, 308) moves. `gone` is set by a 410 and stops polling
-- until the config gives another URL. `failing_since` is the first failure after the last
-- success; `dead_notified` remembers that a feed_dead notice went out.
ALTER TABLE feeds ADD COLUMN config_url TEXT;
ALTER TABLE feeds ADD COLUMN gone INTEGER NOT NULL DEFAULT 0;
ALTER TABLE feeds ADD COLUMN failing_since INTEGER;
ALTER TABLE feeds ADD COLUMN dead_notified INTEGER NOT NULL DEFAULT 0;
UPDATE feeds SET config_url = url;
"#,
    // 3: no index on items' URLs.
    r#"
-- No query looks items up by URL (a URL already logged for a topic is found through
-- matches(topic, url)), and every insert paid for this index: a random leaf page per item,
-- which made storing slower as the table grew.
DROP INDEX IF EXISTS items_url;
"#,
    // 4: article texts.
    r#"
-- The main text of linked pages (`fetch_article`), by canonical URL: a page is fetched at
-- most once, whichever feeds link to it. `text` is NULL when the page has no text for good
-- (a 4xx, not a web page, nothing in it), and `error` says why, so a dead link is not fetched
-- again; temporary failures are not stored.
CREATE TABLE articles (
    url         TEXT PRIMARY KEY,
    fetched_at  INTEGER NOT NULL,
    text        TEXT,
    error       TEXT,
    CHECK ((text IS NULL) <> (error IS NULL))
) WITHOUT ROWID;
"#,
    // 5: stories and the sources of a match.
    r#"
-- A story: the copies of one news item across feeds. `first_seen` is when watchword saw its
-- first item; a new item joins only a story first seen within `story_window`. Stories are
-- never deleted, so deleting old items (retention) leaves their stories and keys working.
CREATE TABLE stories (
    id          INTEGER PRIMARY KEY,
    first_seen  INTEGER NOT NULL
);

-- Every item's story. Items stored before stories existed get one story each (the story's
-- id is the item's), and no keys: new items do not join them.
ALTER TABLE items ADD COLUMN story_id INTEGER REFERENCES stories(id);
INSERT INTO stories (id, first_seen) SELECT id, first_seen FROM items;
UPDATE items SET story_id = id;

-- One row per item put into a story, with what the story index knows it by (src/story.rs):
-- the keys of its canonical URL and normalized title (64-bit hashes) and its MinHash
-- signature (NULL when it has none). `first_seen` is its story's. The index itself lives in
-- memory (see src/store/stories.rs) and is built from the rows of the window: appending a
-- row here is one write at the end of the table, where a persisted index would pay a
-- random page for each of an item's 18 keys. Rows are kept apart from the items, so they
-- outlive them, and are never deleted, so their ids are never reused.
CREATE TABLE story_members (
    id          INTEGER PRIMARY KEY,
    story_id    INTEGER NOT NULL,
    first_seen  INTEGER NOT NULL,
    url_key     INTEGER,
    title_key   INTEGER,
    signature   BLOB
);
CREATE INDEX story_members_time ON story_members(first_seen);

-- A match belongs to the story of its first item; with dedup = "story" a topic logs a
-- story once.
ALTER TABLE matches ADD COLUMN story_id INTEGER REFERENCES stories(id);
UPDATE matches SET story_id = (SELECT story_id FROM items WHERE items.id = matches.item_id);
CREATE INDEX matches_story ON matches(story_id, topic);

-- The items a match was seen in, first one first: its own item, then later copies of the
-- story (or URL) from other feeds. Feed name, title and link are copied so a source
-- survives its item being deleted (`item_id` becomes NULL).
CREATE TABLE match_sources (
    id          INTEGER PRIMARY KEY,
    match_id    INTEGER NOT NULL REFERENCES matches(id) ON DELETE CASCADE,
    item_id     INTEGER REFERENCES items(id) ON DELETE SET NULL,
    feed        TEXT NOT NULL,
    title       TEXT NOT NULL,
    url         TEXT,
    published   INTEGER,
    seen        INTEGER NOT NULL,
    UNIQUE (match_id, item_id)
);
CREATE INDEX match_sources_item ON match_sources(item_id);
INSERT INTO match_sources (match_id, item_id, feed, title, url, published, seen)
    SELECT m.id, i.id, f.name, i.title, i.url, i.published, i.first_seen
    FROM matches m JOIN items i ON i.id = m.item_id JOIN feeds f ON f.id = i.feed_id
    ORDER BY m.id;
"#,
    // 6: feeds found by autodiscovery.
    r#"
-- `discovered` says that `url`, where the feed is polled, is a feed linked from the HTML page
-- at `config_url` (autodiscovery), not the target of a permanent redirect. When that feed
-- answers 404 or 410, the next poll reads the page again.
ALTER TABLE feeds ADD COLUMN discovered INTEGER NOT NULL DEFAULT 0;
"#,
    // 7: retention, what is left of the items it deletes.
    r#"
-- The identity of items that retention deleted (old, unmatched), so that a feed still
-- listing one does not make it new again. Hashes (the first 8 bytes of SHA-256) keep a row
-- small: `key_hash` of the identity key, `base_hash` of the repeated guid it was made from
-- (of the key itself for a plain key), `ident` of its title and URL (to recognise it under
-- the other form of a repeated guid's key, as for stored items). `listed` is the last time a
-- fetched body listed it (at first, when it was deleted); a row goes when its feed has
-- dropped it for longer than `keep_items`.
CREATE TABLE seen (
    feed_id    INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    base_hash  INTEGER NOT NULL,
    key_hash   INTEGER NOT NULL,
    ident      INTEGER NOT NULL,
    listed     INTEGER NOT NULL,
    PRIMARY KEY (feed_id, base_hash, key_hash)
) WITHOUT ROWID;

-- The last poll whose body was read (a 200), which tells when a feed stopped listing an item.
ALTER TABLE feeds ADD COLUMN last_fetched INTEGER;
"#,
    // 8: verdicts.
    r#"
-- An analyst's verdicts on what a topic matched: `right` or `wrong` on a logged match,
-- `missed` for a stored item the topic should have matched (and `wrong` with no match for
-- an imported label saying an item is not the topic's). One verdict per item and topic: a
-- new one replaces the old. `match_id` is the judged match, when there was one. A judged
-- item is never deleted by retention, so the verdicts keep their items for `eval` and
-- backtests.
CREATE TABLE verdicts (
    id          INTEGER PRIMARY KEY,
    item_id     INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    topic       TEXT NOT NULL,
    verdict     TEXT NOT NULL CHECK (verdict IN ('right', 'wrong', 'missed')),
    match_id    INTEGER REFERENCES matches(id) ON DELETE SET NULL,
    note        TEXT,
    judged_at   INTEGER NOT NULL,
    UNIQUE (item_id, topic)
);
"#,
    // 9: matches logged by a backfill.
    r#"
-- `backfill` marks a match written by `test --backtest --apply` (a topic added or edited
-- after the item was stored) rather than by the poll that first saw its item.
ALTER TABLE matches ADD COLUMN backfill INTEGER NOT NULL DEFAULT 0;
"#,
    // 10: stale feeds.
    r#"
-- `last_new_item`: when a poll last brought an item not seen before; a feed that answers
-- but brings nothing new for its `stale_after` is shown as stale, and `stale_notified` says
-- a `feed_stale` notice went out since. (`matches.backfill` is also set by a feed's first
-- poll taken as a baseline.)
ALTER TABLE feeds ADD COLUMN last_new_item INTEGER;
ALTER TABLE feeds ADD COLUMN stale_notified INTEGER NOT NULL DEFAULT 0;
"#,
];

/// The PostgreSQL schema, versioned the same way: migration `i` brings it from version `i`
/// to `i + 1`, and `watchword_schema` holds the version. The first is the SQLite schema as
/// of its migration 10, in PostgreSQL's types: ids are identities, times and hashes
/// `BIGINT`, flags `BOOLEAN`, signatures `BYTEA`, the outbox's due time `DOUBLE PRECISION`
/// (SQLite keeps milliseconds there as a real). Comments on the tables are in the SQLite
/// migrations above.
pub const POSTGRES: &[&str] = &[
    // 1: everything SQLite's migrations 1 to 10 made.
    r#"
CREATE TABLE feeds (
    id                 BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name               TEXT NOT NULL UNIQUE,
    url                TEXT NOT NULL,
    etag               TEXT,
    last_modified      TEXT,
    next_due           BIGINT,
    last_polled        BIGINT,
    last_success       BIGINT,
    consecutive_errors BIGINT NOT NULL DEFAULT 0,
    last_error         TEXT,
    last_status        TEXT,
    config_url         TEXT,
    gone               BOOLEAN NOT NULL DEFAULT FALSE,
    failing_since      BIGINT,
    dead_notified      BOOLEAN NOT NULL DEFAULT FALSE,
    discovered         BOOLEAN NOT NULL DEFAULT FALSE,
    last_fetched       BIGINT,
    last_new_item      BIGINT,
    stale_notified     BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE stories (
    id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    first_seen  BIGINT NOT NULL
);

CREATE TABLE items (
    id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    feed_id     BIGINT NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    url         TEXT,
    title       TEXT NOT NULL,
    summary     TEXT NOT NULL,
    content     TEXT NOT NULL,
    authors     TEXT NOT NULL,
    categories  TEXT NOT NULL,
    published   BIGINT,
    first_seen  BIGINT NOT NULL,
    story_id    BIGINT REFERENCES stories(id),
    UNIQUE (feed_id, key)
);
CREATE INDEX items_story ON items(story_id);
CREATE INDEX items_url ON items(url);

CREATE TABLE matches (
    id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    item_id     BIGINT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    topic       TEXT NOT NULL,
    url         TEXT,
    matched_at  BIGINT NOT NULL,
    terms       TEXT NOT NULL,
    hits        TEXT NOT NULL,
    story_id    BIGINT REFERENCES stories(id),
    backfill    BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (item_id, topic)
);
CREATE INDEX matches_time ON matches(matched_at);
CREATE INDEX matches_topic_url ON matches(topic, url);
CREATE INDEX matches_story ON matches(story_id, topic);

CREATE TABLE deliveries (
    id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    match_id      BIGINT REFERENCES matches(id) ON DELETE CASCADE,
    notice        TEXT,
    sink          TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts      BIGINT NOT NULL DEFAULT 0,
    next_attempt  DOUBLE PRECISION NOT NULL,
    last_error    TEXT,
    created       BIGINT NOT NULL,
    delivered_at  BIGINT,
    CHECK ((match_id IS NULL) <> (notice IS NULL)),
    UNIQUE (match_id, sink)
);
CREATE INDEX deliveries_due ON deliveries(state, next_attempt);

CREATE TABLE articles (
    url         TEXT PRIMARY KEY,
    fetched_at  BIGINT NOT NULL,
    text        TEXT,
    error       TEXT,
    CHECK ((text IS NULL) <> (error IS NULL))
);

CREATE TABLE story_members (
    id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    story_id    BIGINT NOT NULL,
    first_seen  BIGINT NOT NULL,
    url_key     BIGINT,
    title_key   BIGINT,
    signature   BYTEA
);
CREATE INDEX story_members_time ON story_members(first_seen);

CREATE TABLE match_sources (
    id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    match_id    BIGINT NOT NULL REFERENCES matches(id) ON DELETE CASCADE,
    item_id     BIGINT REFERENCES items(id) ON DELETE SET NULL,
    feed        TEXT NOT NULL,
    title       TEXT NOT NULL,
    url         TEXT,
    published   BIGINT,
    seen        BIGINT NOT NULL,
    UNIQUE (match_id, item_id)
);
CREATE INDEX match_sources_item ON match_sources(item_id);

CREATE TABLE seen (
    feed_id    BIGINT NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    base_hash  BIGINT NOT NULL,
    key_hash   BIGINT NOT NULL,
    ident      BIGINT NOT NULL,
    listed     BIGINT NOT NULL,
    PRIMARY KEY (feed_id, base_hash, key_hash)
);

CREATE TABLE verdicts (
    id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    item_id     BIGINT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    topic       TEXT NOT NULL,
    verdict     TEXT NOT NULL CHECK (verdict IN ('right', 'wrong', 'missed')),
    match_id    BIGINT REFERENCES matches(id) ON DELETE SET NULL,
    note        TEXT,
    judged_at   BIGINT NOT NULL,
    UNIQUE (item_id, topic)
);
"#,
    // 2: several daemons on one database.
    r#"
-- The daemons (nodes) running on this database: each writes its heartbeat every few
-- seconds; a node whose heartbeat is older than a few of them is taken for dead. Feeds'
-- hosts are shared out among the live nodes (src/store/nodes.rs).
CREATE TABLE nodes (
    name        TEXT PRIMARY KEY,
    started     BIGINT NOT NULL,
    heartbeat   BIGINT NOT NULL
);

-- A feed is polled by the node that holds its lease, until `lease_until` (UTC seconds):
-- a node that dies mid-poll leaves it to expire. `polled_by` is the node of the last poll.
ALTER TABLE feeds ADD COLUMN lease_node TEXT;
ALTER TABLE feeds ADD COLUMN lease_until BIGINT;
ALTER TABLE feeds ADD COLUMN polled_by TEXT;

-- An outbox row being sent is claimed by one node until `claimed_until`: a node that dies
-- while sending leaves its rows to the others once the claim expires.
ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
ALTER TABLE deliveries ADD COLUMN claimed_until DOUBLE PRECISION;
"#,
];

/// Why the PostgreSQL schema was not brought up to date.
pub(super) enum Refused {
    /// The database is at this version, newer than this build knows.
    TooNew(i64),
    Db(super::db::DbError),
}

impl From<super::db::DbError> for Refused {
    fn from(cause: super::db::DbError) -> Self {
        Refused::Db(cause)
    }
}

/// The advisory lock that one process at a time migrates under: "WATCHMIG".
const MIGRATION_LOCK: i64 = 0x5741_5443_484d_4947;

/// Applies the PostgreSQL migrations the database has not seen, in one transaction, under
/// an advisory lock: several daemons starting at once migrate once.
pub(super) fn migrate_postgres(pool: &super::db::postgres::Pool) -> Result<(), Refused> {
    use crate::db_params;
    let current = |sql: &super::db::Sql<'_>| -> Result<i64, super::db::DbError> {
        sql.value(
            "SELECT COALESCE(MAX(version), 0) FROM watchword_schema",
            &[],
        )
    };
    // Most starts find the schema current and write nothing.
    let exists: bool =
        pool.with(|sql| sql.value("SELECT to_regclass('watchword_schema') IS NOT NULL", &[]))?;
    if exists && usize::try_from(pool.with(current)?).is_ok_and(|v| v == POSTGRES.len()) {
        return Ok(());
    }
    let outcome = pool.transaction(|sql| {
        sql.query_row(
            "SELECT pg_advisory_xact_lock(?1)",
            &db_params![MIGRATION_LOCK],
            |_| Ok(()),
        )?;
        sql.batch("CREATE TABLE IF NOT EXISTS watchword_schema (version BIGINT NOT NULL)")?;
        let version = current(sql)?;
        let applied = usize::try_from(version).unwrap_or(usize::MAX);
        if applied > POSTGRES.len() {
            return Ok(Some(version));
        }
        for migration in &POSTGRES[applied..] {
            sql.batch(migration)?;
        }
        sql.execute("DELETE FROM watchword_schema", &[])?;
        sql.execute(
            "INSERT INTO watchword_schema (version) VALUES (?1)",
            &db_params![POSTGRES.len()],
        )?;
        Ok(None)
    })?;
    match outcome {
        Some(version) => Err(Refused::TooNew(version)),
        None => Ok(()),
    }
}
