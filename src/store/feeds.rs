//! Feeds and their state: registering the configured feeds, reading and saving a feed's
//! state (with the notice it raises), and the health `feeds` and the status endpoint show.

use super::*;

/// Saves a feed's state, unless the config gave the feed another URL since the state was
/// read: what a poll of the old address learned (validators, a 410, a move) must not stick
/// to the new one.
pub(super) fn write_state(
    sql: &Sql<'_>,
    feed_id: FeedId,
    state: &FeedState,
) -> Result<(), DbError> {
    sql.execute(
        "UPDATE feeds SET etag = ?2, last_modified = ?3, next_due = ?4, last_polled = ?5,
                last_success = ?6, consecutive_errors = ?7, last_error = ?8, last_status = ?9,
                url = COALESCE(CAST(?10 AS TEXT), config_url), gone = ?11, failing_since = ?12,
                dead_notified = ?13, discovered = (?15 AND CAST(?10 AS TEXT) IS NOT NULL),
                last_new_item = ?16, stale_notified = ?17
         WHERE id = ?1 AND (CAST(?14 AS TEXT) IS NULL OR config_url IS NOT DISTINCT FROM ?14)",
        &db_params![
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
        ],
    )?;
    Ok(())
}

/// Writes an outbox row for `notice` for every route without a topic filter; returns how
/// many.
pub(super) fn insert_notice(
    sql: &Sql<'_>,
    notice: &Notice,
    routes: &[AlertRoute],
) -> Result<usize, DbError> {
    let mut written = 0;
    let json = stored::notice_to_json(notice);
    for route in routes.iter().filter(|route| route.topics.is_none()) {
        written += sql.execute(
            "INSERT INTO deliveries (notice, sink, next_attempt, created) VALUES (?1, ?2, ?3, ?4)",
            &db_params![
                json,
                route.sink,
                notice.at.timestamp(),
                notice.at.timestamp()
            ],
        )? as usize;
    }
    Ok(written)
}

impl Store {
    /// Makes sure every configured feed has a row (keyed by name) and returns their ids in
    /// the same order. When the config gives a feed another URL, the feed starts over at it:
    /// validators, a permanent redirect and a 410 are forgotten.
    pub fn register_feeds(&mut self, feeds: &[(&str, String)]) -> Result<Vec<FeedId>, StoreError> {
        self.write(|sql| {
            let mut ids = Vec::with_capacity(feeds.len());
            for (name, url) in feeds {
                ids.push(FeedId(sql.value(
                    "INSERT INTO feeds (name, url, config_url) VALUES (?1, ?2, ?2)
                     ON CONFLICT (name) DO UPDATE SET
                        etag = CASE WHEN feeds.config_url IS NOT DISTINCT FROM excluded.config_url
                                    THEN feeds.etag END,
                        last_modified =
                            CASE WHEN feeds.config_url IS NOT DISTINCT FROM excluded.config_url
                                 THEN feeds.last_modified END,
                        gone = CASE WHEN feeds.config_url IS NOT DISTINCT FROM excluded.config_url
                                    THEN feeds.gone ELSE FALSE END,
                        discovered =
                            CASE WHEN feeds.config_url IS NOT DISTINCT FROM excluded.config_url
                                 THEN feeds.discovered ELSE FALSE END,
                        url = CASE WHEN feeds.config_url IS NOT DISTINCT FROM excluded.config_url
                                   THEN feeds.url ELSE excluded.url END,
                        -- A new address is a new feed: its first poll is a baseline again.
                        last_success =
                            CASE WHEN feeds.config_url IS NOT DISTINCT FROM excluded.config_url
                                 THEN feeds.last_success END,
                        last_new_item =
                            CASE WHEN feeds.config_url IS NOT DISTINCT FROM excluded.config_url
                                 THEN feeds.last_new_item END,
                        config_url = excluded.config_url
                     RETURNING id",
                    &db_params![name, url],
                )?));
            }
            Ok(ids)
        })
    }

    /// The stored poll state of a feed.
    pub fn feed_state(&self, feed_id: FeedId) -> Result<FeedState, StoreError> {
        let state = self.read(|sql| {
            sql.query_row(
                "SELECT etag, last_modified, next_due, last_polled, last_success,
                        consecutive_errors, last_error, last_status,
                        CASE WHEN url IS DISTINCT FROM config_url THEN url END, gone,
                        failing_since, dead_notified, config_url,
                        discovered AND url IS DISTINCT FROM config_url,
                        last_new_item, stale_notified
                 FROM feeds WHERE id = ?1",
                &db_params![feed_id.0],
                |row| {
                    Ok(FeedState {
                        etag: row.get(0)?,
                        last_modified: row.get(1)?,
                        next_due: row.get::<Option<i64>>(2)?.map(from_epoch),
                        last_polled: row.get::<Option<i64>>(3)?.map(from_epoch),
                        last_success: row.get::<Option<i64>>(4)?.map(from_epoch),
                        consecutive_errors: row.get(5)?,
                        last_error: row.get(6)?,
                        last_status: row.get(7)?,
                        moved_to: row.get(8)?,
                        gone: row.get(9)?,
                        failing_since: row.get::<Option<i64>>(10)?.map(from_epoch),
                        dead_notified: row.get(11)?,
                        config_url: row.get(12)?,
                        discovered: row.get(13)?,
                        last_new_item: row.get::<Option<i64>>(14)?.map(from_epoch),
                        stale_notified: row.get(15)?,
                    })
                },
            )
        })?;
        state.ok_or_else(|| match &self.backend {
            Backend::Sqlite(_) => self.error(rusqlite::Error::QueryReturnedNoRows),
            Backend::Postgres(_) => StoreError::Postgres {
                url: self.path.display().to_string(),
                cause: format!("no feed has id {}", feed_id.0),
            },
        })
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
        let dialect = self.dialect();
        self.read(|sql| {
            sql.query_row(
                &format!(
                    "SELECT COUNT(*) FILTER (WHERE consecutive_errors > 0 AND NOT gone),
                            COUNT(*) FILTER (WHERE gone),
                            COUNT(*) FILTER (WHERE consecutive_errors = 0
                                             AND last_status = 'stale')
                     FROM feeds WHERE name IN ({})",
                    json_list(dialect, 1)
                ),
                &db_params![to_json(names)],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
        })
        .map(|counts| counts.unwrap_or_default())
    }

    /// Each named feed's last poll and last success (names without a row are left out), for
    /// the per-feed metrics: one indexed read per feed, nothing counted.
    pub fn feed_times(&self, names: &[&str]) -> Result<Vec<FeedTimes>, StoreError> {
        self.read(|sql| {
            let mut times = Vec::with_capacity(names.len());
            for name in names {
                let row = sql.query_row(
                    "SELECT last_polled, last_success FROM feeds WHERE name = ?1",
                    &db_params![name],
                    |row| {
                        Ok(FeedTimes {
                            feed: name.to_string(),
                            last_poll: row.get::<Option<i64>>(0)?.map(from_epoch),
                            last_success: row.get::<Option<i64>>(1)?.map(from_epoch),
                        })
                    },
                )?;
                times.extend(row);
            }
            Ok(times)
        })
    }

    /// The health of the named feeds, in the order given (names without a row are left out).
    pub fn feed_health(&self, names: &[&str]) -> Result<Vec<FeedHealth>, StoreError> {
        let polled_by = match self.dialect() {
            Dialect::Sqlite => "NULL",
            Dialect::Postgres => "f.polled_by",
        };
        self.read(|sql| {
            let mut health = Vec::with_capacity(names.len());
            for name in names {
                let row = sql.query_row(
                    &format!(
                        "SELECT f.name, f.url,
                            CASE WHEN f.url IS DISTINCT FROM f.config_url THEN f.config_url END,
                            f.last_success, f.last_polled, f.last_status, f.consecutive_errors,
                            f.failing_since, f.gone,
                            (SELECT COUNT(*) FROM items i WHERE i.feed_id = f.id),
                            (SELECT COUNT(*) FROM matches m JOIN items i ON i.id = m.item_id
                             WHERE i.feed_id = f.id),
                            f.next_due, f.last_error,
                            f.discovered AND f.url IS DISTINCT FROM f.config_url, {polled_by}
                     FROM feeds f WHERE f.name = ?1"
                    ),
                    &db_params![name],
                    |row| {
                        Ok(FeedHealth {
                            name: row.get(0)?,
                            url: row.get(1)?,
                            config_url: row.get(2)?,
                            last_success: row.get::<Option<i64>>(3)?.map(from_epoch),
                            last_polled: row.get::<Option<i64>>(4)?.map(from_epoch),
                            last_status: row.get(5)?,
                            consecutive_errors: row.get(6)?,
                            failing_since: row.get::<Option<i64>>(7)?.map(from_epoch),
                            gone: row.get(8)?,
                            items: row.get(9)?,
                            matches: row.get(10)?,
                            next_due: row.get::<Option<i64>>(11)?.map(from_epoch),
                            last_error: row.get(12)?,
                            discovered: row.get(13)?,
                            polled_by: row.get(14)?,
                        })
                    },
                )?;
                health.extend(row);
            }
            Ok(health)
        })
    }
}
