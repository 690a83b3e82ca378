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
-- most once, whichever feeds link to it. `text` is NULL when the fetch or the extraction
-- failed, and `error` says why; a failure is remembered too, so a dead link is not fetched
-- on every poll.
CREATE TABLE articles (
    url         TEXT PRIMARY KEY,
    fetched_at  INTEGER NOT NULL,
    text        TEXT,
    error       TEXT,
    CHECK ((text IS NULL) <> (error IS NULL))
) WITHOUT ROWID;
"#,
    // 6 (5 is another branch's): feeds found by autodiscovery.
    r#"
-- `discovered` says that `url`, where the feed is polled, is a feed linked from the HTML page
-- at `config_url` (autodiscovery), not the target of a permanent redirect. When that feed
-- answers 404 or 410, the next poll reads the page again.
ALTER TABLE feeds ADD COLUMN discovered INTEGER NOT NULL DEFAULT 0;
"#,
    // 7 (5 is another branch's): retention, what is left of the items it deletes.
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
];
