//! The JSON the store keeps in TEXT columns, as the store's own types: a match's hits
//! (`matches.hits`, the evidence `matches --format json` shows as `explain`), its terms, and
//! an item's authors and categories. The in-memory types (`query::Hit`) may be renamed or
//! grow; these change only with a migration that rewrites the rows. A row that does not
//! decode is an error that names its column, never an empty list: an explanation silently
//! lost is worse than a failing read.

use serde::{Deserialize, Serialize};

use crate::query::{Field, Hit};

/// One hit as stored since migration 1: `{"term": …, "field": "title", "snippet": …}`.
#[derive(Serialize, Deserialize)]
struct StoredHit {
    term: String,
    field: StoredField,
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
            snippet: hit.snippet.clone(),
        })
        .collect();
    serde_json::to_string(&stored).expect("plain data always serializes")
}

/// The hits of a `hits` column (`column` is its index in the row, for the error).
pub(super) fn hits_from_json(text: &str, column: usize) -> rusqlite::Result<Vec<Hit>> {
    let stored: Vec<StoredHit> = decode(text, column)?;
    Ok(stored
        .into_iter()
        .map(|hit| Hit {
            term: hit.term,
            field: hit.field.into(),
            snippet: hit.snippet,
        })
        .collect())
}

/// A list of strings (`terms`, `authors`, `categories`) as stored: a JSON array.
pub(super) fn strings_from_json(text: &str, column: usize) -> rusqlite::Result<Vec<String>> {
    decode(text, column)
}

fn decode<T: for<'de> Deserialize<'de>>(text: &str, column: usize) -> rusqlite::Result<T> {
    serde_json::from_str(text).map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            rusqlite::types::Type::Text,
            Box::new(error),
        )
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
    fn a_row_that_does_not_decode_is_an_error_naming_its_column() {
        for broken in [
            "",
            "{}",
            r#"[{"term":"x","field":"headline","snippet":""}]"#,
        ] {
            match hits_from_json(broken, 10) {
                Err(rusqlite::Error::FromSqlConversionFailure(10, _, _)) => {}
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
