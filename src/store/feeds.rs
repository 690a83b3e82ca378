//! Feeds and their state: registering the configured feeds, reading and saving a feed's
//! state (with the notice it raises), and the health `feeds` and the status endpoint show.

use super::*;

/// Saves a feed's state, unless the config gave the feed another URL since the state was
/// read: what a poll of the old address learned (validators, a 410, a move) must not stick
/// to the new one.
pub(super) fn write_state(
    conn: &Connection,
    feed_id: FeedId,
    state: &FeedState,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE feeds SET etag = ?2, last_modified = ?3, next_due = ?4, last_polled = ?5,
                last_success = ?6, consecutive_errors = ?7, last_error = ?8, last_status = ?9,
                url = COALESCE(?10, config_url), gone = ?11, failing_since = ?12,
                dead_notified = ?13, discovered = ?15 AND ?10 IS NOT NULL,
                last_new_item = ?16, stale_notified = ?17
         WHERE id = ?1 AND (?14 IS NULL OR config_url IS ?14)",
    )?
    .execute(params![
        feed_id.0,
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
        state.last_new_item.map(|t| t.timestamp()),
        state.stale_notified,
    ])?;
    Ok(())
}

/// Writes an outbox row for `notice` for every route without a topic filter; returns how
/// many.
pub(super) fn insert_notice(
    conn: &Connection,
    notice: &Notice,
    routes: &[AlertRoute],
) -> rusqlite::Result<usize> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO deliveries (notice, sink, next_attempt, created) VALUES (?1, ?2, ?3, ?3)",
    )?;
    let mut written = 0;
    for route in routes.iter().filter(|route| route.topics.is_none()) {
        written += insert.execute(params![
            stored::notice_to_json(notice),
            route.sink,
            notice.at.timestamp()
        ])?;
    }
    Ok(written)
}

impl Store {
    /// Makes sure every configured feed has a row (keyed by name) and returns their ids in
    /// the same order. When the config gives a feed another URL, the feed starts over at it:
    /// validators, a permanent redirect and a 410 are forgotten.
    pub fn register_feeds(&mut self, feeds: &[(&str, String)]) -> Result<Vec<FeedId>, StoreError> {
        let wrap = sqlite_error(&self.path);
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
                        -- A new address is a new feed: its first poll is a baseline again.
                        last_success =
                            CASE WHEN config_url IS excluded.config_url THEN last_success END,
                        last_new_item =
                            CASE WHEN config_url IS excluded.config_url THEN last_new_item END,
                        config_url = excluded.config_url
                     RETURNING id",
                )
                .map_err(wrap)?;
            for (name, url) in feeds {
                ids.push(
                    upsert
                        .query_row(params![name, url], |row| row.get(0).map(FeedId))
                        .map_err(wrap)?,
                );
            }
        }
        tx.commit().map_err(wrap)?;
        Ok(ids)
    }

    /// The stored poll state of a feed.
    pub fn feed_state(&self, feed_id: FeedId) -> Result<FeedState, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT etag, last_modified, next_due, last_polled, last_success,
                        consecutive_errors, last_error, last_status,
                        CASE WHEN url IS NOT config_url THEN url END, gone, failing_since,
                        dead_notified, config_url, discovered AND url IS NOT config_url,
                        last_new_item, stale_notified
                 FROM feeds WHERE id = ?1",
            )
            .and_then(|mut statement| {
                statement.query_row([feed_id.0], |row| {
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
                        last_new_item: row.get::<_, Option<i64>>(14)?.map(from_epoch),
                        stale_notified: row.get(15)?,
                    })
                })
            })
            .map_err(|source| self.error(source))
    }

    /// Saves a feed's poll state alone (a poll that brought no items), with the notice the
    /// poll raised, if any, for every route without a topic filter — in one transaction. The
    /// pipeline writes such a poll through its commit queue; the tests call this.
    #[cfg(test)]
    pub fn save_state(
        &mut self,
        feed_id: FeedId,
        state: &FeedState,
        notice: Option<&Notice>,
        routes: &[AlertRoute],
    ) -> Result<(), StoreError> {
        self.commit_poll(&PollCommit {
            feed_id,
            items: &[],
            state,
            now: Utc::now(),
            routes,
            notice,
            policy: &StoryPolicy::default(),
            baseline: false,
            body: false,
        })
        .map(|_| ())
    }

    /// How many of the named feeds are failing (and not gone), how many are gone, and how
    /// many answer but are stale: the status endpoint's gauges, from the feeds table alone.
    pub fn feed_gauges(&self, names: &[&str]) -> Result<(usize, usize, usize), StoreError> {
        self.conn
            .query_row(
                "SELECT COALESCE(SUM(consecutive_errors > 0 AND NOT gone), 0),
                        COALESCE(SUM(gone), 0),
                        COALESCE(SUM(consecutive_errors = 0 AND last_status = 'stale'), 0)
                 FROM feeds WHERE name IN (SELECT value FROM json_each(?1))",
                [to_json(names)],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, i64>(2)?,
                    ))
                },
            )
            .map(|(failing, gone, stale)| {
                (
                    usize::try_from(failing).unwrap_or(0),
                    usize::try_from(gone).unwrap_or(0),
                    usize::try_from(stale).unwrap_or(0),
                )
            })
            .map_err(|source| self.error(source))
    }

    /// Each named feed's last poll and last success (names without a row are left out), for
    /// the per-feed metrics: one indexed read per feed, nothing counted.
    pub fn feed_times(&self, names: &[&str]) -> Result<Vec<FeedTimes>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT last_polled, last_success FROM feeds WHERE name = ?1")
            .map_err(|source| self.error(source))?;
        let mut times = Vec::with_capacity(names.len());
        for name in names {
            let row = statement
                .query_row([name], |row| {
                    Ok((
                        row.get::<_, Option<i64>>(0)?.map(from_epoch),
                        row.get::<_, Option<i64>>(1)?.map(from_epoch),
                    ))
                })
                .optional()
                .map_err(|source| self.error(source))?;
            if let Some((last_poll, last_success)) = row {
                times.push(FeedTimes {
                    feed: name.to_string(),
                    last_poll,
                    last_success,
                });
            }
        }
        Ok(times)
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
}
