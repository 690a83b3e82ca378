//! Reading the match log and the stored items: the match log with its sources (`matches`,
//! the commands and endpoints that show it), the items a backtest re-runs topics over, and
//! the counts of summaries.

use super::*;

impl Store {
    /// Reads the match log, oldest first (the most recent `limit` when a limit is given).
    pub fn matches(&self, filter: &MatchFilter) -> Result<Vec<Match>, StoreError> {
        let limit = sql_limit(filter.limit);
        self.read(|sql| {
            let mut matches = sql.query_map(
                &format!(
                    "SELECT {MATCH_COLUMNS}
                     FROM matches m
                     JOIN items i ON i.id = m.item_id
                     JOIN feeds f ON f.id = i.feed_id
                     WHERE (CAST(?1 AS TEXT) IS NULL OR m.topic = ?1)
                           AND (CAST(?2 AS BIGINT) IS NULL OR m.matched_at >= ?2)
                           AND (CAST(?3 AS BIGINT) IS NULL OR m.id > ?3)
                     ORDER BY m.matched_at DESC, m.id DESC
                     LIMIT ?4"
                ),
                &db_params![
                    filter.topic,
                    filter.since.map(|since| since.timestamp()),
                    filter.after_id.map(|id| id.0),
                    limit
                ],
                |row| match_from_row(row, 0),
            )?;
            matches.reverse();
            fill_sources(sql, &mut matches)?;
            Ok(matches)
        })
    }

    /// The id of the newest match in the log.
    pub fn newest_match_id(&self) -> Result<Option<MatchId>, StoreError> {
        self.read(|sql| {
            Ok(sql
                .value::<Option<i64>>("SELECT MAX(id) FROM matches", &[])?
                .map(MatchId))
        })
    }

    /// Every stored item first seen at or after `since` (all without it), oldest first.
    /// Read-only.
    pub fn stored_items(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<StoredItem>, StoreError> {
        self.read_stored_items(
            "CAST(?1 AS BIGINT) IS NULL OR i.first_seen >= ?1",
            &db_params![since.map(|since| since.timestamp())],
        )
    }

    /// Stored items that meet `condition` (SQL written in this module, a `'static` literal,
    /// over `i`, the items table; values go in `params`), oldest first.
    pub(super) fn read_stored_items(
        &self,
        condition: &'static str,
        params: &[db::Param<'_>],
    ) -> Result<Vec<StoredItem>, StoreError> {
        self.read(|sql| {
            sql.query_map(
                &format!(
                    "SELECT i.id, f.name, i.key, i.url, i.title, i.summary, i.content, i.authors,
                            i.categories, i.published, i.first_seen, i.story_id, a.text
                     FROM items i JOIN feeds f ON f.id = i.feed_id
                     LEFT JOIN articles a ON a.url = i.url
                     WHERE {condition}
                     ORDER BY i.first_seen, i.id"
                ),
                params,
                |row| {
                    let authors: String = row.get(7)?;
                    let categories: String = row.get(8)?;
                    Ok(StoredItem {
                        item_id: ItemId(row.get(0)?),
                        feed: row.get(1)?,
                        item: Item {
                            key: row.get(2)?,
                            url: row.get(3)?,
                            title: row.get(4)?,
                            summary: row.get(5)?,
                            content: row.get(6)?,
                            article: row.get::<Option<String>>(12)?.unwrap_or_default(),
                            authors: stored::strings_from_json(&authors, 7)?,
                            categories: stored::strings_from_json(&categories, 8)?,
                            published: row.get::<Option<i64>>(9)?.map(from_epoch),
                        },
                        first_seen: from_epoch(row.get(10)?),
                        story_id: row.get::<Option<i64>>(11)?.map(StoryId),
                    })
                },
            )
        })
    }

    /// The match log of the items first seen at or after `since` (all without it), oldest
    /// first: what a backtest compares with. Read-only.
    pub fn matches_of_items_since(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<Match>, StoreError> {
        self.read(|sql| {
            let mut matches = sql.query_map(
                &format!(
                    "SELECT {MATCH_COLUMNS}
                     FROM matches m
                     JOIN items i ON i.id = m.item_id
                     JOIN feeds f ON f.id = i.feed_id
                     WHERE CAST(?1 AS BIGINT) IS NULL OR i.first_seen >= ?1
                     ORDER BY m.matched_at, m.id"
                ),
                &db_params![since.map(|since| since.timestamp())],
                |row| match_from_row(row, 0),
            )?;
            fill_sources(sql, &mut matches)?;
            Ok(matches)
        })
    }

    /// Number of stored items and matches, for summaries and tests.
    pub fn counts(&self) -> Result<(i64, i64), StoreError> {
        self.read(|sql| {
            Ok((
                sql.value("SELECT COUNT(*) FROM items", &[])?,
                sql.value("SELECT COUNT(*) FROM matches", &[])?,
            ))
        })
    }
}

/// Reads every match's sources, first one first (those known now: a delivery sent later
/// names the copies seen meanwhile). A match without recorded sources has its own item.
pub(super) fn fill_sources(sql: &Sql<'_>, matches: &mut [Match]) -> Result<(), DbError> {
    for m in matches {
        m.sources = sql.query_map(
            "SELECT feed, title, url, published, seen FROM match_sources
             WHERE match_id = ?1 ORDER BY id",
            &db_params![m.match_id.0],
            |row| {
                Ok(Source {
                    feed: row.get(0)?,
                    title: row.get(1)?,
                    url: row.get(2)?,
                    published: row.get::<Option<i64>>(3)?.map(from_epoch),
                    seen: from_epoch(row.get(4)?),
                })
            },
        )?;
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

/// A match from the [`MATCH_COLUMNS`] starting at column `first`.
pub(super) fn match_from_row(row: &Row<'_>, first: usize) -> Result<Match, DbError> {
    let terms: String = row.get(first + 9)?;
    let hits: String = row.get(first + 10)?;
    let verdict = match row
        .get::<Option<String>>(first + 13)?
        .as_deref()
        .and_then(Verdict::parse)
    {
        Some(verdict) => Some((verdict, row.get(first + 14)?)),
        None => None,
    };
    Ok(Match {
        match_id: MatchId(row.get(first)?),
        topic: row.get(first + 1)?,
        matched_at: from_epoch(row.get(first + 2)?),
        item_id: ItemId(row.get(first + 3)?),
        item_key: row.get(first + 4)?,
        feed: row.get(first + 5)?,
        title: row.get(first + 6)?,
        url: row.get(first + 7)?,
        published: row.get::<Option<i64>>(first + 8)?.map(from_epoch),
        terms: stored::strings_from_json(&terms, first + 9)?,
        hits: stored::hits_from_json(&hits, first + 10)?,
        story_id: row.get::<Option<i64>>(first + 11)?.map(StoryId),
        sources: Vec::new(),
        // NULL for a notice's delivery, whose match columns are all NULL.
        backfill: row.get::<Option<bool>>(first + 12)?.unwrap_or(false),
        verdict,
    })
}
