//! Verdicts (`watchword judge`): what an analyst said about a topic and a stored item —
//! `right` or `wrong` on a logged match, `missed` for an item the topic should have matched.
//! One verdict per item and topic; a new one replaces the old.

use chrono::{DateTime, Utc};

use super::db::{DbError, Sql};
use super::{Store, StoreError, StoredItem, StoredVerdict, from_epoch};
use crate::db_params;
use crate::model::{ItemId, MatchId, Verdict};

/// What a judgement did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judged {
    /// Stored; `replaced` is the verdict it replaced on the same item and topic.
    Stored {
        item_id: ItemId,
        topic: String,
        replaced: Option<Verdict>,
    },
    /// No match has that id.
    NoSuchMatch,
    /// No stored item has that id.
    NoSuchItem,
    /// The item is logged for the topic (or is a source of its match): judge that match.
    AlreadyMatched { match_id: MatchId },
}

/// A label read back from an export: the item (by feed and identity key, else by canonical
/// URL), the topics it belongs to and the judged topics it does not belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelImport {
    pub feed: String,
    pub key: String,
    pub url: Option<String>,
    pub positive: Vec<String>,
    pub negative: Vec<String>,
    /// Notes by topic.
    pub notes: Vec<(String, String)>,
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Verdicts written.
    pub verdicts: usize,
    /// Labels whose item is not in the database (skipped).
    pub not_found: usize,
}

impl Store {
    /// Records `verdict` (right or wrong) on match `match_id`, for its item and topic.
    pub fn judge_match(
        &mut self,
        match_id: MatchId,
        verdict: Verdict,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Judged, StoreError> {
        self.write(|sql| {
            let found: Option<(ItemId, String)> = sql.query_row(
                "SELECT item_id, topic FROM matches WHERE id = ?1",
                &db_params![match_id.0],
                |row| Ok((ItemId(row.get(0)?), row.get(1)?)),
            )?;
            let Some((item_id, topic)) = found else {
                return Ok(Judged::NoSuchMatch);
            };
            let replaced = upsert(sql, item_id, &topic, verdict, Some(match_id), note, now)?;
            Ok(Judged::Stored {
                item_id,
                topic,
                replaced,
            })
        })
    }

    /// Records that stored item `item_id` should have matched `topic`.
    pub fn judge_missed(
        &mut self,
        item_id: ItemId,
        topic: &str,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Judged, StoreError> {
        self.write(|sql| {
            let exists: bool = sql.value(
                "SELECT EXISTS (SELECT 1 FROM items WHERE id = ?1)",
                &db_params![item_id.0],
            )?;
            if !exists {
                return Ok(Judged::NoSuchItem);
            }
            if let Some(match_id) = match_of(sql, item_id, topic)? {
                return Ok(Judged::AlreadyMatched { match_id });
            }
            let replaced = upsert(sql, item_id, topic, Verdict::Missed, None, note, now)?;
            Ok(Judged::Stored {
                item_id,
                topic: topic.to_string(),
                replaced,
            })
        })
    }

    /// The stored items with canonical URL `url`, first stored first.
    pub fn items_with_url(&self, url: &str) -> Result<Vec<ItemId>, StoreError> {
        self.read(|sql| {
            sql.query_map(
                "SELECT id FROM items WHERE url = ?1 ORDER BY id",
                &db_params![url],
                |row| row.get(0).map(ItemId),
            )
        })
    }

    /// Every verdict, by item then topic. Read-only.
    pub fn verdicts(&self) -> Result<Vec<StoredVerdict>, StoreError> {
        self.read(|sql| {
            sql.query_map(
                "SELECT item_id, topic, verdict, match_id, note, judged_at FROM verdicts
                 ORDER BY item_id, topic",
                &[],
                |row| {
                    let verdict: String = row.get(2)?;
                    Ok(StoredVerdict {
                        item_id: ItemId(row.get(0)?),
                        topic: row.get(1)?,
                        // The schema's CHECK allows only the three.
                        verdict: Verdict::parse(&verdict).unwrap_or(Verdict::Wrong),
                        match_id: row.get::<Option<i64>>(3)?.map(MatchId),
                        note: row.get(4)?,
                        judged_at: from_epoch(row.get(5)?),
                    })
                },
            )
        })
    }

    /// The stored items that have a verdict, oldest first. Read-only.
    pub fn judged_items(&self) -> Result<Vec<StoredItem>, StoreError> {
        self.read_stored_items("i.id IN (SELECT item_id FROM verdicts)", &[])
    }

    /// Writes the verdicts of exported labels, in one transaction: a topic the item belongs
    /// to is `right` when the item is logged for it (or a source of its match), else
    /// `missed`; a judged topic it does not belong to is `wrong`. Labels whose item is not
    /// stored are counted and skipped.
    pub fn import_labels(
        &mut self,
        labels: &[LabelImport],
        now: DateTime<Utc>,
    ) -> Result<ImportSummary, StoreError> {
        self.write(|sql| {
            let mut summary = ImportSummary::default();
            for label in labels {
                let by_key: Option<i64> = sql.query_row(
                    "SELECT i.id FROM items i JOIN feeds f ON f.id = i.feed_id
                     WHERE f.name = ?1 AND i.key = ?2",
                    &db_params![label.feed, label.key],
                    |row| row.get(0),
                )?;
                let item_id = match (by_key, &label.url) {
                    (Some(id), _) => Some(ItemId(id)),
                    (None, Some(url)) => sql.query_row(
                        "SELECT id FROM items WHERE url = ?1 ORDER BY id LIMIT 1",
                        &db_params![url],
                        |row| row.get(0).map(ItemId),
                    )?,
                    (None, None) => None,
                };
                let Some(item_id) = item_id else {
                    summary.not_found += 1;
                    continue;
                };
                let note = |topic: &str| {
                    label
                        .notes
                        .iter()
                        .find(|(t, _)| t == topic)
                        .map(|(_, note)| note.as_str())
                };
                for (topics, positive) in [(&label.positive, true), (&label.negative, false)] {
                    for topic in topics {
                        let match_id = match_of(sql, item_id, topic)?;
                        let verdict = match (positive, match_id) {
                            (true, Some(_)) => Verdict::Right,
                            (true, None) => Verdict::Missed,
                            (false, _) => Verdict::Wrong,
                        };
                        upsert(sql, item_id, topic, verdict, match_id, note(topic), now)?;
                        summary.verdicts += 1;
                    }
                }
            }
            Ok(summary)
        })
    }
}

/// The match that logged `item_id` for `topic`, or whose sources include it.
fn match_of(sql: &Sql<'_>, item_id: ItemId, topic: &str) -> Result<Option<MatchId>, DbError> {
    sql.query_row(
        "SELECT m.id FROM matches m
         WHERE m.topic = ?2 AND (m.item_id = ?1
               OR m.id IN (SELECT match_id FROM match_sources WHERE item_id = ?1))
         ORDER BY m.id LIMIT 1",
        &db_params![item_id.0, topic],
        |row| row.get(0).map(MatchId),
    )
}

/// Writes a verdict, replacing the one on the same item and topic; returns the replaced one.
fn upsert(
    sql: &Sql<'_>,
    item_id: ItemId,
    topic: &str,
    verdict: Verdict,
    match_id: Option<MatchId>,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<Verdict>, DbError> {
    let before: Option<String> = sql.query_row(
        "SELECT verdict FROM verdicts WHERE item_id = ?1 AND topic = ?2",
        &db_params![item_id.0, topic],
        |row| row.get(0),
    )?;
    sql.execute(
        "INSERT INTO verdicts (item_id, topic, verdict, match_id, note, judged_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (item_id, topic) DO UPDATE SET verdict = excluded.verdict,
             match_id = excluded.match_id, note = excluded.note, judged_at = excluded.judged_at",
        &db_params![
            item_id.0,
            topic,
            verdict.as_str(),
            match_id.map(|id| id.0),
            note,
            now.timestamp()
        ],
    )?;
    Ok(before.as_deref().and_then(Verdict::parse))
}
