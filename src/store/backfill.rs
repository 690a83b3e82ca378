//! Backfills (`test --backtest --apply`): logging the matches a new or edited topic would
//! have logged for items stored before, through the same [`MatchLog`] as a poll's commit,
//! with their stories' later items as sources and, when asked, their outbox rows.

use chrono::{DateTime, Utc};

use super::db::{DbError, Sql};
use super::poll::lock_stories;
use super::stories::add_member;
use super::{Backfill, Logged, LoggedItem, MatchLog, Store, StoreError};
use crate::db_params;
use crate::model::{AlertRoute, Dedup, FeedId, StoryId, StoryPolicy};

/// What a backfill wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackfillSummary {
    /// Matches logged (marked backfill).
    pub new_matches: usize,
    /// Items recorded as sources: later copies of a new match's story, and items whose
    /// story (or URL) was logged for the topic meanwhile.
    pub new_sources: usize,
    /// Outbox rows written (only with routes).
    pub new_deliveries: usize,
    /// Items no longer stored (retention deleted them meanwhile).
    pub missing: usize,
}

impl Store {
    /// Logs `matches` (in order: the first item of a story first) at `now` as backfill, in
    /// one transaction, as a poll would have logged them: once per `policy.dedup` level, a
    /// new match with its item as first source and every later item of its story (or, with
    /// `dedup = "url"`, of its URL) as further sources, and one outbox row per route that
    /// wants the topic (give no routes to log without alerting).
    pub fn backfill(
        &mut self,
        matches: &[Backfill],
        now: DateTime<Utc>,
        routes: &[AlertRoute],
        policy: &StoryPolicy,
    ) -> Result<BackfillSummary, StoreError> {
        self.write(|sql| backfill(sql, matches, now, routes, policy))
    }
}

/// [`Store::backfill`], in its transaction.
fn backfill(
    sql: &Sql<'_>,
    matches: &[Backfill],
    now: DateTime<Utc>,
    routes: &[AlertRoute],
    policy: &StoryPolicy,
) -> Result<BackfillSummary, DbError> {
    // It adds story members: one process at a time does.
    lock_stories(sql)?;
    let mut summary = BackfillSummary::default();
    let mut log = MatchLog::new(sql);
    for backfill in matches {
        let row = sql.query_row(
            "SELECT i.feed_id, f.name, i.title, i.url, i.published, i.first_seen,
                    i.story_id, s.first_seen,
                    EXISTS (SELECT 1 FROM match_sources ms WHERE ms.item_id = i.id)
             FROM items i JOIN feeds f ON f.id = i.feed_id
             JOIN stories s ON s.id = i.story_id
             WHERE i.id = ?1",
            &db_params![backfill.item_id.0],
            |row| {
                Ok((
                    row.get::<i64>(0)?,
                    row.get::<String>(1)?,
                    row.get::<String>(2)?,
                    row.get::<Option<String>>(3)?,
                    row.get::<Option<i64>>(4)?,
                    row.get::<i64>(5)?,
                    row.get::<i64>(6)?,
                    row.get::<i64>(7)?,
                    row.get::<bool>(8)?,
                ))
            },
        )?;
        let Some((
            feed_id,
            feed_name,
            title,
            url,
            published,
            first_seen,
            story_id,
            story_first_seen,
            indexed,
        )) = row
        else {
            summary.missing += 1;
            continue;
        };
        let item = LoggedItem {
            item_id: backfill.item_id,
            feed_id: FeedId(feed_id),
            feed_name: &feed_name,
            story_id: StoryId(story_id),
            title: &title,
            url: url.as_deref(),
            published,
            seen: first_seen,
        };
        let logged = log.log(&item, &backfill.topic_match, policy, routes, now, true)?;
        let match_id = match logged {
            Logged::Match {
                match_id,
                deliveries,
            } => {
                summary.new_matches += 1;
                summary.new_deliveries += deliveries;
                match_id
            }
            Logged::Source { added } => {
                summary.new_sources += added;
                continue;
            }
            Logged::Duplicate => continue,
        };
        // Later items of the story (or the URL), as the copies a poll would have added.
        let later = match (policy.dedup, &url) {
            (Dedup::Story, _) => sql.execute(
                "INSERT INTO match_sources (match_id, item_id, feed, title, url, published, seen)
                 SELECT ?1, i.id, f.name, i.title, i.url, i.published, i.first_seen
                 FROM items i JOIN feeds f ON f.id = i.feed_id
                 WHERE i.story_id = ?2 AND (i.first_seen > ?3 OR (i.first_seen = ?3 AND i.id > ?4))
                 ORDER BY i.first_seen, i.id
                 ON CONFLICT (match_id, item_id) DO NOTHING",
                &db_params![match_id.0, story_id, first_seen, backfill.item_id.0],
            )?,
            (Dedup::Url, Some(url)) => sql.execute(
                "INSERT INTO match_sources (match_id, item_id, feed, title, url, published, seen)
                 SELECT ?1, i.id, f.name, i.title, i.url, i.published, i.first_seen
                 FROM items i JOIN feeds f ON f.id = i.feed_id
                 WHERE i.url = ?2 AND (i.first_seen > ?3 OR (i.first_seen = ?3 AND i.id > ?4))
                 ORDER BY i.first_seen, i.id
                 ON CONFLICT (match_id, item_id) DO NOTHING",
                &db_params![match_id.0, url, first_seen, backfill.item_id.0],
            )?,
            _ => 0,
        };
        summary.new_sources += later as usize;
        if let (false, Some(keys)) = (indexed, &backfill.story) {
            add_member(sql, story_id, story_first_seen, keys)?;
        }
    }
    Ok(summary)
}
