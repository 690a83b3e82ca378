//! Retention: what `keep_items` lets go (unmatched items, finished deliveries, articles),
//! and the hashes kept of deleted items so they are never taken for new.

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
        let wrap = sqlite_error(&self.path);
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
}
