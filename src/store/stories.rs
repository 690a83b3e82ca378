//! The story index: finding the story a new item joins, or starting one, and recording the
//! item's keys. Every lookup is an index seek on `story_keys(kind, key, first_seen)`; only
//! fingerprints that share a whole band with the item are read and compared, so the cost
//! per item does not grow with the number of stored items.

use std::collections::HashSet;

use rusqlite::{OptionalExtension, Transaction, params};

use crate::story::{BANDS, Fingerprint, KeyKind, StoryKeys};

/// Puts item `item_id` into a story: the one it joins among stories first seen at or after
/// `window_start`, else a new one first seen `now`; records its keys. Returns the story and
/// whether the item joined an existing one.
pub(super) fn assign(
    tx: &Transaction<'_>,
    item_id: i64,
    keys: &StoryKeys,
    window_start: i64,
    now: i64,
) -> rusqlite::Result<(i64, bool)> {
    let found = find(tx, keys, window_start)?;
    let (story_id, first_seen) = match found {
        Some(story) => story,
        None => {
            tx.prepare_cached("INSERT INTO stories (first_seen) VALUES (?1)")?
                .execute([now])?;
            (tx.last_insert_rowid(), now)
        }
    };
    tx.prepare_cached("UPDATE items SET story_id = ?2 WHERE id = ?1")?
        .execute([item_id, story_id])?;
    tx.prepare_cached("INSERT INTO story_members (story_id, signature) VALUES (?1, ?2)")?
        .execute(params![
            story_id,
            keys.fingerprint.as_ref().map(Fingerprint::to_bytes)
        ])?;
    let member_id = tx.last_insert_rowid();
    let mut insert_key = tx.prepare_cached(
        "INSERT OR IGNORE INTO story_keys (kind, key, first_seen, member_id, story_id)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (kind, key) in keys.index_keys() {
        insert_key.execute(params![
            kind_code(kind),
            key as i64,
            first_seen,
            member_id,
            story_id
        ])?;
    }
    Ok((story_id, found.is_some()))
}

/// The story (id, first seen) an item with `keys` joins: the latest with its URL, else the
/// latest with its title, else the one with the most similar fingerprint at or above the
/// threshold, among stories first seen at or after `window_start`.
fn find(
    tx: &Transaction<'_>,
    keys: &StoryKeys,
    window_start: i64,
) -> rusqlite::Result<Option<(i64, i64)>> {
    let mut exact = tx.prepare_cached(
        "SELECT story_id, first_seen FROM story_keys
         WHERE kind = ?1 AND key = ?2 AND first_seen >= ?3
         ORDER BY first_seen DESC LIMIT 1",
    )?;
    for (kind, key) in [(KeyKind::Url, keys.url), (KeyKind::Title, keys.title)] {
        if let Some(key) = key
            && let Some(story) = exact
                .query_row(params![kind_code(kind), key as i64, window_start], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()?
        {
            return Ok(Some(story));
        }
    }
    let Some(fingerprint) = &keys.fingerprint else {
        return Ok(None);
    };
    // One statement for every band: SQLite seeks the index once per value of the list.
    let mut candidates = tx.prepare_cached(&format!(
        "SELECT k.story_id, k.first_seen, k.member_id, m.signature
         FROM story_keys k JOIN story_members m ON m.id = k.member_id
         WHERE k.kind = {} AND k.key IN ({}) AND k.first_seen >= ?1",
        kind_code(KeyKind::Band),
        (2..BANDS + 2)
            .map(|n| format!("?{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))?;
    candidates.raw_bind_parameter(1, window_start)?;
    for (band_idx, band) in fingerprint.band_keys().enumerate() {
        candidates.raw_bind_parameter(band_idx + 2, band as i64)?;
    }
    let mut compared = HashSet::new();
    // (similarity, first seen, story id): the most similar, then the latest.
    let mut best: Option<(f64, i64, i64)> = None;
    let mut rows = candidates.raw_query();
    while let Some(row) = rows.next()? {
        let member_id: i64 = row.get(2)?;
        if !compared.insert(member_id) {
            continue;
        }
        let signature: Option<Vec<u8>> = row.get(3)?;
        let Some(other) = signature.as_deref().and_then(Fingerprint::from_bytes) else {
            continue;
        };
        if !fingerprint.joins(&other) {
            continue;
        }
        let candidate = (fingerprint.similarity(&other), row.get(1)?, row.get(0)?);
        if best.is_none_or(|best| (candidate.0, candidate.1) > (best.0, best.1)) {
            best = Some(candidate);
        }
    }
    Ok(best.map(|(_, first_seen, story_id)| (story_id, first_seen)))
}

/// The stored code of a key kind (`story_keys.kind`).
fn kind_code(kind: KeyKind) -> i64 {
    match kind {
        KeyKind::Url => 0,
        KeyKind::Title => 1,
        KeyKind::Band => 2,
    }
}
