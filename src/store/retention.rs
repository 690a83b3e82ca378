//! Retention: what `keep_items` lets go (unmatched items, finished deliveries, articles),
//! and the hashes kept of deleted items so they are never taken for new.

use super::poll::lock_stories;
use super::*;

impl Store {
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
        let cutoff = chrono::Duration::from_std(keep)
            .ok()
            .and_then(|keep| now.checked_sub_signed(keep))
            .map_or(i64::MIN, |cutoff| cutoff.timestamp());
        let purged = self.write(|sql| purge(sql, now, cutoff, limit))?;
        if let Some(conn) = self.sqlite()
            && !purged.more
            && purged != Purged::default()
        {
            // Frees the pages at the end of the file (a database created before auto_vacuum
            // was set has none to give back; it reuses its free pages instead).
            // It frees one page per step: step it to the end. (PostgreSQL's autovacuum
            // does this on its own.)
            let wrap = sqlite_error(&self.path);
            let mut vacuum = conn.prepare("PRAGMA incremental_vacuum").map_err(wrap)?;
            let mut steps = vacuum.query([]).map_err(wrap)?;
            while steps.next().map_err(wrap)?.is_some() {}
        }
        Ok(purged)
    }
}

/// One pass of [`Store::purge`], in its transaction.
fn purge(sql: &Sql<'_>, now: DateTime<Utc>, cutoff: i64, limit: usize) -> Result<Purged, DbError> {
    let mut purged = Purged::default();
    // On PostgreSQL, no backfill or poll (which can log a match of an old item) commits
    // between the list below and the deletes; each delete checks again besides.
    lock_stories(sql)?;
    // Items in the order they were stored, which is the order of `first_seen` (one writer,
    // stamping each commit with the time): the walk stops at the first that is not old
    // enough, passing over the old ones a match or a verdict keeps.
    let young = sql.query_row(
        "SELECT id FROM items WHERE first_seen >= ?1 ORDER BY id LIMIT 1",
        &db_params![cutoff],
        |row| row.get::<i64>(0),
    )?;
    let mut doomed = sql.query_map(
        "SELECT i.id, i.feed_id, i.key, i.title, i.url FROM items i
         WHERE i.id < ?1
           AND NOT EXISTS (SELECT 1 FROM matches m WHERE m.item_id = i.id)
           AND NOT EXISTS (SELECT 1 FROM verdicts v WHERE v.item_id = i.id)
         ORDER BY i.id LIMIT ?2",
        &db_params![
            young.unwrap_or(i64::MAX),
            sql_limit(Some(limit)).saturating_add(1)
        ],
        |row| {
            let item = Item {
                key: row.get(2)?,
                title: row.get(3)?,
                url: row.get(4)?,
                ..Item::default()
            };
            Ok((
                row.get::<i64>(0)?,
                row.get::<i64>(1)?,
                SeenHashes::of(&item),
            ))
        },
    )?;
    if doomed.len() > limit {
        doomed.truncate(limit);
        purged.more = true;
    }
    for (id, feed_id, hashes) in &doomed {
        sql.execute(
            "INSERT INTO seen (feed_id, base_hash, key_hash, ident, listed)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
            &db_params![
                feed_id,
                hashes.base_hash,
                hashes.key_hash,
                hashes.ident,
                now.timestamp()
            ],
        )?;
        purged.items += sql.execute(
            "DELETE FROM items WHERE id = ?1
               AND NOT EXISTS (SELECT 1 FROM matches m WHERE m.item_id = items.id)
               AND NOT EXISTS (SELECT 1 FROM verdicts v WHERE v.item_id = items.id)",
            &db_params![id],
        )? as usize;
    }
    purged.deliveries = sql.execute(
        "DELETE FROM deliveries WHERE id IN (
            SELECT id FROM deliveries
            WHERE state IN ('delivered', 'failed') AND next_attempt < ?1
                AND created < ?1 AND COALESCE(delivered_at, 0) < ?1
            LIMIT ?2)",
        &db_params![cutoff, sql_limit(Some(limit))],
    )? as usize;
    purged.more |= purged.deliveries == limit;
    if !purged.more {
        // Articles fetched that long ago, unless a logged match links to them (an item not
        // matched then gains nothing from its article now).
        purged.articles = sql.execute(
            "DELETE FROM articles WHERE fetched_at < ?1
                AND url NOT IN (SELECT url FROM matches WHERE url IS NOT NULL)",
            &db_params![cutoff],
        )? as usize;
        // Gone from its feed: the feed's last read body (an hour after the row was last
        // listed, so not the poll that listed it) did not list it.
        purged.forgotten = sql.execute(
            "DELETE FROM seen WHERE listed < ?1 AND listed + 3600 <
                (SELECT COALESCE(f.last_fetched, 0) FROM feeds f WHERE f.id = seen.feed_id)",
            &db_params![cutoff],
        )? as usize;
    }
    Ok(purged)
}
