//! The JSON the store keeps in TEXT columns, as the store's own types: a match's hits
//! (`matches.hits`, the evidence `matches --format json` shows as `explain`), its terms, an
//! item's authors and categories, and a notice waiting in the outbox (`deliveries.notice`). The in-memory types (`query::Hit`) may be renamed or
//! grow; these change only with a migration that rewrites the rows. A row that does not
//! decode is an error that names its column, never an empty list: an explanation silently
//! lost is worse than a failing read.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::db::DbError;
use crate::model::{Notice, NoticeKind};
use crate::query::{Field, Hit};

/// One hit as stored since migration 1: `{"term": …, "field": "title", "snippet": …}`, and
/// since `found` was kept, `"found": …` (the words matched; absent in older rows).
#[derive(Serialize, Deserialize)]
struct StoredHit {
    term: String,
    field: StoredField,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    found: String,
    snippet: String,
}

/// A hit's field as stored: lower-case names.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum StoredField {
    Title,
    Summary,
    Content,
    Article,
    Link,
    Author,
    Category,
    Feed,
}

impl From<Field> for StoredField {
    fn from(field: Field) -> StoredField {
        match field {
            Field::Title => StoredField::Title,
            Field::Summary => StoredField::Summary,
            Field::Content => StoredField::Content,
            Field::Article => StoredField::Article,
            Field::Link => StoredField::Link,
            Field::Author => StoredField::Author,
            Field::Category => StoredField::Category,
            Field::Feed => StoredField::Feed,
        }
    }
}

impl From<StoredField> for Field {
    fn from(field: StoredField) -> Field {
        match field {
            StoredField::Title => Field::Title,
            StoredField::Summary => Field::Summary,
            StoredField::Content => Field::Content,
            StoredField::Article => Field::Article,
            StoredField::Link => Field::Link,
            StoredField::Author => Field::Author,
            StoredField::Category => Field::Category,
            StoredField::Feed => Field::Feed,
        }
    }
}

/// A match's hits as the `hits` column stores them.
pub(super) fn hits_to_json(hits: &[Hit]) -> String {
    let stored: Vec<StoredHit> = hits
        .iter()
        .map(|hit| StoredHit {
            term: hit.term.clone(),
            field: hit.field.into(),
            found: hit.found.clone(),
            snippet: hit.snippet.clone(),
        })
        .collect();
    serde_json::to_string(&stored).expect("plain data always serializes")
}

/// The hits of a `hits` column (`column` is its index in the row, for the error).
pub(super) fn hits_from_json(text: &str, column: usize) -> Result<Vec<Hit>, DbError> {
    let stored: Vec<StoredHit> = decode(text, column)?;
    Ok(stored
        .into_iter()
        .map(|hit| Hit {
            term: hit.term,
            field: hit.field.into(),
            found: hit.found,
            snippet: hit.snippet,
        })
        .collect())
}

/// A notice as stored since migration 1 (`deliveries.notice`): `{"event": "feed_dead",
/// "feed": …, "url": …, "failing_since": RFC 3339, "at": RFC 3339, "error": … or null}`.
#[derive(Serialize, Deserialize)]
struct StoredNotice {
    event: StoredNoticeKind,
    feed: String,
    url: String,
    failing_since: DateTime<Utc>,
    at: DateTime<Utc>,
    error: Option<String>,
}

/// The event names as stored (`feed_dead`, …), which mirror `NoticeKind`'s.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(clippy::enum_variant_names)]
enum StoredNoticeKind {
    FeedDead,
    FeedRecovered,
    FeedStale,
}

/// A notice as the `notice` column stores it.
pub(super) fn notice_to_json(notice: &Notice) -> String {
    let stored = StoredNotice {
        event: match notice.event {
            NoticeKind::FeedDead => StoredNoticeKind::FeedDead,
            NoticeKind::FeedRecovered => StoredNoticeKind::FeedRecovered,
            NoticeKind::FeedStale => StoredNoticeKind::FeedStale,
        },
        feed: notice.feed.clone(),
        url: notice.url.clone(),
        failing_since: notice.failing_since,
        at: notice.at,
        error: notice.error.clone(),
    };
    serde_json::to_string(&stored).expect("plain data always serializes")
}

/// The notice of a `notice` column (`column` is its index in the row, for the error).
pub(super) fn notice_from_json(text: &str, column: usize) -> Result<Notice, DbError> {
    let stored: StoredNotice = decode(text, column)?;
    Ok(Notice {
        event: match stored.event {
            StoredNoticeKind::FeedDead => NoticeKind::FeedDead,
            StoredNoticeKind::FeedRecovered => NoticeKind::FeedRecovered,
            StoredNoticeKind::FeedStale => NoticeKind::FeedStale,
        },
        feed: stored.feed,
        url: stored.url,
        failing_since: stored.failing_since,
        at: stored.at,
        error: stored.error,
    })
}

/// A list of strings (`terms`, `authors`, `categories`) as stored: a JSON array.
pub(super) fn strings_from_json(text: &str, column: usize) -> Result<Vec<String>, DbError> {
    decode(text, column)
}

fn decode<T: for<'de> Deserialize<'de>>(text: &str, column: usize) -> Result<T, DbError> {
    serde_json::from_str(text).map_err(|error| DbError::Column {
        index: column,
        cause: format!("stored JSON does not decode: {error}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_written_since_migration_1_decode() {
        // A literal row as every version of the schema has written it.
        let row = r#"[{"term":"Tomahawk*","field":"title","snippet":"US approves [Tomahawk] sale"},{"term":"@japan","field":"summary","snippet":"to [Japan]"}]"#;
        let hits = hits_from_json(row, 10).expect("decodes");
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].term, "Tomahawk*");
        assert_eq!(hits[0].field, Field::Title);
        assert_eq!(hits[1].field, Field::Summary);
        assert_eq!(hits_to_json(&hits), row, "written back the same");
        assert_eq!(hits_from_json("[]", 10).unwrap(), Vec::<Hit>::new());
    }

    #[test]
    fn notices_written_since_migration_1_decode() {
        // Literal rows as every version of the schema has written them.
        let dead = r#"{"event":"feed_dead","feed":"Wire","url":"https://wire.example/rss","failing_since":"2023-11-20T10:00:00Z","at":"2023-11-21T10:00:00Z","error":"HTTP 503"}"#;
        let notice = notice_from_json(dead, 8).expect("decodes");
        assert_eq!(notice.event, NoticeKind::FeedDead);
        assert_eq!(notice.feed, "Wire");
        assert_eq!(notice.error.as_deref(), Some("HTTP 503"));
        assert_eq!(notice.at.to_rfc3339(), "2023-11-21T10:00:00+00:00");
        assert_eq!(notice_to_json(&notice), dead, "written back the same");
        let recovered = r#"{"event":"feed_recovered","feed":"Wire","url":"https://wire.example/rss","failing_since":"2023-11-20T10:00:00Z","at":"2023-11-22T10:00:00Z","error":null}"#;
        let notice = notice_from_json(recovered, 8).expect("decodes");
        assert_eq!(notice.event, NoticeKind::FeedRecovered);
        assert_eq!(notice.error, None);
        assert!(matches!(
            notice_from_json(r#"{"event":"feed_gone"}"#, 8),
            Err(DbError::Column { index: 8, .. })
        ));
    }

    #[test]
    fn a_row_that_does_not_decode_is_an_error_naming_its_column() {
        for broken in [
            "",
            "{}",
            r#"[{"term":"x","field":"headline","snippet":""}]"#,
        ] {
            match hits_from_json(broken, 10) {
                Err(DbError::Column { index: 10, .. }) => {}
                other => panic!("{broken:?}: {other:?}"),
            }
        }
        assert!(strings_from_json(r#"["a", 1]"#, 7).is_err());
        assert_eq!(
            strings_from_json(r#"["Reuters","AP"]"#, 7).unwrap(),
            ["Reuters", "AP"]
        );
    }
}
