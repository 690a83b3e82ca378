//! The story index: finding the story a new item joins, or starting one, and recording the
//! item as a member of it (`story_members`, one row appended per item).
//!
//! Only items that matched a topic become members (see [`StoryIndex::index`]).
//!
//! The index of keys is in memory, built from the members first seen within the window
//! when first needed and rebuilt when the window has moved on by its own length (dropping
//! what expired) or grew. A key maps to its members (one, or a list of them in the order
//! they were added, which also knows whether they are all of one story), so a lookup costs
//! one hash probe per key — the URL, the title and each of the signature's bands — whatever
//! the number of stored items; only the signatures of members that share a whole band with
//! the item are compared, at most [`MAX_PER_BAND`] per band, so even a flood of similar
//! texts cannot make a lookup scan. When every member sharing a band is of one story (near
//! copies of one story, the costly case), the first that is similar enough answers the
//! lookup: which of them is the most similar would not change the story it joins. It holds
//! about 230 bytes per member in the window (the signature is 192 of them), and per key
//! about 20 bytes of map, plus a list of 32 bytes and 4 per member for a key that several
//! members share: 600 bytes to 1 KB per member, less in a flood of near copies. A
//! persisted index (tried first) paid a random B-tree page per key and item, about 100 KB
//! of write-ahead log per item.
//!
//! The index must match the database: the caller drops it when a transaction that
//! added to it does not commit ([`StoryIndex::clear`]), and it is rebuilt from the rows.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hasher};

use super::db::{DbError, Sql};
use crate::db_params;

use crate::story::{BANDS, Fingerprint, JOIN_SIMILARITY, KeyKind, StoryKeys};

/// The in-memory index of the stories in the window.
#[derive(Debug, Default)]
pub(crate) struct StoryIndex {
    built: Option<Built>,
}

#[derive(Debug)]
struct Built {
    /// Members first seen at or after this are all in the index.
    since: i64,
    /// The largest member id read or added: rows above it were written by another process
    /// (`watchword once` beside the daemon) and are read before each lookup.
    last_id: i64,
    /// Keys, tagged by kind → the members with that key.
    heads: Heads,
    /// The lists of members of the keys that more than one member has (`Chain::Many`
    /// indexes it).
    lists: Vec<List>,
    members: Vec<Member>,
    /// The members' signatures (`Member::signature` indexes it).
    signatures: Vec<Fingerprint>,
    /// Per member, the last lookup that compared its signature (`lookups` numbers them), so
    /// a lookup compares each member once however many bands they share.
    compared_in: Vec<u32>,
    lookups: u32,
    /// The members a lookup compares (kept to reuse its allocation).
    candidates: Vec<Member>,
}

type Heads = HashMap<u64, Chain, BuildHasherDefault<KeyHasher>>;

/// The members with one key: a member (an index into `Built::members`), or a list of them.
#[derive(Debug, Clone, Copy)]
enum Chain {
    One(u32),
    Many(u32),
}

/// The members with one key, when more than one has it.
#[derive(Debug)]
struct List {
    /// Indices into `Built::members`, oldest first (read newest first). They sit side by
    /// side, so a lookup does not wait on one member to find the next.
    members: Vec<u32>,
    /// Whether they are all of one story (id and first sighting): the first member's.
    one_story: bool,
}

#[derive(Debug, Clone, Copy)]
struct Member {
    id: i64,
    story_id: i64,
    /// The story's first sighting.
    first_seen: i64,
    /// Index into `Built::signatures`, or [`NO_SIGNATURE`].
    signature: u32,
}

/// A member without a signature.
const NO_SIGNATURE: u32 = u32::MAX;
/// The most members sharing one key that a lookup looks at (the newest): a title repeated
/// all day, or a flood of similar texts, cannot make a lookup walk a long chain.
pub(crate) const MAX_PER_BAND: usize = 64;

impl StoryIndex {
    /// Forgets the index (a transaction that added to it rolled back); the next use
    /// rebuilds it from the database.
    pub(crate) fn clear(&mut self) {
        self.built = None;
    }

    /// Readies the index for a poll's lookups: loads it when the window grew past what was
    /// loaded, or moved on by most of a window since (what expired is dropped; it at most
    /// doubles the memory in between), and reads the members another process added. The
    /// caller's transaction holds the write lock already, so no other process can add
    /// members until it commits: what is above `last_id` now is all there is until then.
    /// It loads an eighth of a window more than asked (lookups skip members older than their
    /// own window), so that polls written together, whose `now`s differ by moments and come
    /// in no particular order, do not reload it.
    pub(super) fn prepare(
        &mut self,
        tx: &Sql<'_>,
        window_start: i64,
        now: i64,
    ) -> Result<(), DbError> {
        let stale = match &self.built {
            None => true,
            Some(built) => {
                built.since > window_start || window_start - built.since > now - window_start
            }
        };
        if stale {
            let slack = (now - window_start).max(0) / 8;
            self.built = Some(Built::load(tx, window_start.saturating_sub(slack))?);
        }
        self.built.as_mut().expect("built above").catch_up(tx)
    }

    /// The story an item with `keys` joins among stories first seen at or after
    /// `window_start`: its id and first sighting. Call [`StoryIndex::prepare`] first in the
    /// transaction.
    pub(super) fn find(&mut self, keys: &StoryKeys, window_start: i64) -> Option<(i64, i64)> {
        self.built
            .as_mut()
            .expect("prepare loads the index")
            .find(keys, window_start)
    }

    /// Starts a story first seen `now`; returns its id.
    pub(super) fn start(tx: &Sql<'_>, now: i64) -> Result<i64, DbError> {
        tx.insert(
            "INSERT INTO stories (first_seen) VALUES (?1)",
            &db_params![now],
        )?
        .ok_or_else(|| DbError::Unexpected("a story insert inserted nothing".into()))
    }

    /// Forgets a story [`StoryIndex::start`] began in this transaction that no item joined
    /// (its item was a duplicate): the next story takes its id, as if it never was.
    pub(super) fn unstart(tx: &Sql<'_>, story_id: i64) -> Result<(), DbError> {
        tx.execute("DELETE FROM stories WHERE id = ?1", &db_params![story_id])?;
        Ok(())
    }

    /// Records an item of story `story_id` (first seen `first_seen`) as a member, so later
    /// items can join its story through it. Only items that matched a topic are members:
    /// an item that matched nothing joins a story but is not indexed, which keeps the index
    /// (memory, and the signatures each lookup compares) to the matched items of the window.
    pub(super) fn index(
        &mut self,
        tx: &Sql<'_>,
        story_id: i64,
        first_seen: i64,
        keys: &StoryKeys,
    ) -> Result<(), DbError> {
        let id = add_member(tx, story_id, first_seen, keys)?;
        self.built
            .as_mut()
            .expect("prepare loads the index")
            .add(id, story_id, first_seen, keys);
        Ok(())
    }
}

/// Appends a row to `story_members` (what the index is built from); returns its id. A
/// backfill appends through it too, leaving the index to read the row before its next
/// lookup.
pub(super) fn add_member(
    tx: &Sql<'_>,
    story_id: i64,
    first_seen: i64,
    keys: &StoryKeys,
) -> Result<i64, DbError> {
    tx.insert(
        "INSERT INTO story_members (story_id, first_seen, url_key, title_key, signature)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        &db_params![
            story_id,
            first_seen,
            keys.url.map(|key| key as i64),
            keys.title.map(|key| key as i64),
            keys.fingerprint.as_ref().map(Fingerprint::to_bytes)
        ],
    )?
    .ok_or_else(|| DbError::Unexpected("a story member insert inserted nothing".into()))
}

impl Built {
    /// The members first seen at or after `since`.
    fn load(tx: &Sql<'_>, since: i64) -> Result<Built, DbError> {
        let mut built = Built::empty(since);
        built.read(tx, "first_seen >= ?1", since)?;
        built.last_id = built
            .last_id
            .max(tx.value("SELECT COALESCE(MAX(id), 0) FROM story_members", &[])?);
        Ok(built)
    }

    /// An index of no members, to hold those first seen at or after `since`.
    fn empty(since: i64) -> Built {
        Built {
            since,
            last_id: 0,
            heads: HashMap::default(),
            lists: Vec::new(),
            members: Vec::new(),
            signatures: Vec::new(),
            compared_in: Vec::new(),
            lookups: 0,
            candidates: Vec::new(),
        }
    }

    /// Reads the members another process added since this one last looked.
    fn catch_up(&mut self, tx: &Sql<'_>) -> Result<(), DbError> {
        let last_id = self.last_id;
        self.read(tx, "id > ?1", last_id)
    }

    /// Adds the members that meet `condition` (over `?1`, which is `value`) and were first
    /// seen since `self.since`.
    fn read(&mut self, tx: &Sql<'_>, condition: &str, value: i64) -> Result<(), DbError> {
        let rows = tx.query_map(
            &format!(
                "SELECT id, story_id, first_seen, url_key, title_key, signature
                 FROM story_members WHERE {condition} ORDER BY id"
            ),
            &db_params![value],
            |row| {
                let signature: Option<Vec<u8>> = row.get(5)?;
                Ok((
                    row.get::<i64>(0)?,
                    row.get::<i64>(1)?,
                    row.get::<i64>(2)?,
                    StoryKeys {
                        url: row.get::<Option<i64>>(3)?.map(|key| key as u64),
                        title: row.get::<Option<i64>>(4)?.map(|key| key as u64),
                        fingerprint: signature.as_deref().and_then(Fingerprint::from_bytes),
                    },
                ))
            },
        )?;
        for (id, story_id, first_seen, keys) in rows {
            self.last_id = self.last_id.max(id);
            if first_seen >= self.since {
                self.add(id, story_id, first_seen, &keys);
            }
        }
        Ok(())
    }

    fn add(&mut self, id: i64, story_id: i64, first_seen: i64, keys: &StoryKeys) {
        self.last_id = self.last_id.max(id);
        let member_idx = u32::try_from(self.members.len()).expect("fewer than 4 billion members");
        let signature = match &keys.fingerprint {
            Some(fingerprint) => {
                self.signatures.push(fingerprint.clone());
                u32::try_from(self.signatures.len() - 1).expect("fewer than 4 billion members")
            }
            None => NO_SIGNATURE,
        };
        self.members.push(Member {
            id,
            story_id,
            first_seen,
            signature,
        });
        self.compared_in.push(0);
        for (kind, key) in keys.index_keys() {
            match self.heads.entry(tagged(kind, key)) {
                Entry::Vacant(entry) => {
                    entry.insert(Chain::One(member_idx));
                }
                Entry::Occupied(mut entry) => match *entry.get() {
                    Chain::One(first) => {
                        let list_idx =
                            u32::try_from(self.lists.len()).expect("fewer than 4 billion lists");
                        let one_story =
                            story_of(&self.members[first as usize]) == (story_id, first_seen);
                        self.lists.push(List {
                            members: vec![first, member_idx],
                            one_story,
                        });
                        entry.insert(Chain::Many(list_idx));
                    }
                    Chain::Many(list_idx) => {
                        let list = &mut self.lists[list_idx as usize];
                        list.one_story &= story_of(&self.members[list.members[0] as usize])
                            == (story_id, first_seen);
                        list.members.push(member_idx);
                    }
                },
            }
        }
    }

    /// The story (id, first seen) an item with `keys` joins: the one first seen latest with
    /// its URL, else with its title (among the newest [`MAX_PER_BAND`] members with it),
    /// else the one with the most similar fingerprint at or above the threshold, among
    /// stories first seen at or after `window_start`.
    fn find(&mut self, keys: &StoryKeys, window_start: i64) -> Option<(i64, i64)> {
        for (kind, key) in [(KeyKind::Url, keys.url), (KeyKind::Title, keys.title)] {
            if let Some(key) = key
                && let Some(member) = in_window(
                    &self.heads,
                    &self.lists,
                    &self.members,
                    kind,
                    key,
                    window_start,
                )
                .take(MAX_PER_BAND)
                .map(|(_, member)| member)
                .max_by_key(|member| (member.first_seen, member.id))
            {
                return Some((member.story_id, member.first_seen));
            }
        }
        let fingerprint = keys.fingerprint.as_ref()?;
        // A new number for this lookup: a member whose stamp is it was compared already.
        self.lookups = self.lookups.wrapping_add(1);
        if self.lookups == 0 {
            self.compared_in.fill(0);
            self.lookups = 1;
        }
        let mut bands = [0; BANDS];
        for (slot, band) in bands.iter_mut().zip(fingerprint.band_keys()) {
            *slot = band;
        }
        // The members to compare: those with a signature among the newest MAX_PER_BAND of
        // each band's members in the window, each once.
        match self.one_story(&bands, window_start) {
            // No member in the window shares a band.
            Some(None) => None,
            // All of them are of one story: the first that joins answers it (near copies
            // of one story are the common case, and the costly one).
            Some(Some(story)) => self
                .any_joins(fingerprint, &bands, window_start)
                .then_some(story),
            None => {
                let mut candidates = std::mem::take(&mut self.candidates);
                candidates.clear();
                self.each_candidate(&bands, window_start, |member, _| {
                    candidates.push(member);
                    true
                });
                let found = self.most_similar(fingerprint, &candidates);
                self.candidates = candidates;
                found
            }
        }
    }

    /// Whether all the members in the window that share a band are of one story, as far as
    /// the keys' lists know: `Some(Some(story))` if so, `Some(None)` if there are none,
    /// `None` if they may be of several.
    fn one_story(&self, bands: &[u64; BANDS], window_start: i64) -> Option<Option<(i64, i64)>> {
        let mut only = None;
        for &band in bands {
            let story = match self.heads.get(&tagged(KeyKind::Band, band)) {
                None => continue,
                Some(Chain::One(member)) => story_of(&self.members[*member as usize]),
                Some(Chain::Many(list_idx)) => {
                    let list = &self.lists[*list_idx as usize];
                    if !list.one_story {
                        return None;
                    }
                    story_of(&self.members[list.members[0] as usize])
                }
            };
            // A story's members share its first sighting: out of the window, all are.
            if story.1 < window_start {
                continue;
            }
            if only.is_some_and(|only| only != story) {
                return None;
            }
            only = Some(story);
        }
        Some(only)
    }

    /// Whether any member compared (see [`Built::each_candidate`]) joins `fingerprint`.
    fn any_joins(
        &mut self,
        fingerprint: &Fingerprint,
        bands: &[u64; BANDS],
        window_start: i64,
    ) -> bool {
        let mut joins = false;
        self.each_candidate(bands, window_start, |_, signature| {
            joins = fingerprint.joins(signature);
            !joins
        });
        joins
    }

    /// Calls `each` with the members a lookup compares and their signatures, in order,
    /// until it returns false: of the newest [`MAX_PER_BAND`] members in the window of each
    /// band, those with a signature, each once (`compared_in` stamps them with the
    /// lookup's number).
    fn each_candidate(
        &mut self,
        bands: &[u64; BANDS],
        window_start: i64,
        mut each: impl FnMut(Member, &Fingerprint) -> bool,
    ) {
        let lookup = self.lookups;
        for &band in bands {
            let newest = in_window(
                &self.heads,
                &self.lists,
                &self.members,
                KeyKind::Band,
                band,
                window_start,
            )
            .take(MAX_PER_BAND);
            for (member_idx, member) in newest {
                let compared = &mut self.compared_in[member_idx as usize];
                if member.signature == NO_SIGNATURE || *compared == lookup {
                    continue;
                }
                *compared = lookup;
                if !each(member, &self.signatures[member.signature as usize]) {
                    return;
                }
            }
        }
    }

    /// The story (id, first seen) of the member of `candidates` most similar to
    /// `fingerprint` at or above the threshold, the latest on a tie; `None` if none joins.
    fn most_similar(&self, fingerprint: &Fingerprint, candidates: &[Member]) -> Option<(i64, i64)> {
        let story = |member: &Member| (member.story_id, member.first_seen);
        let signature = |member: &Member| &self.signatures[member.signature as usize];
        // When every candidate is of one story, which of them is the most similar does not
        // change the answer, only whether any joins: the first that joins settles it. Near
        // copies of one story are the common case, and the costly one.
        let first = story(candidates.first()?);
        if candidates.iter().all(|member| story(member) == first) {
            return candidates
                .iter()
                .any(|member| fingerprint.joins(signature(member)))
                .then_some(first);
        }
        // (similarity, first seen, member id, story id): the most similar, then the latest.
        let mut best: Option<(f64, i64, i64, i64)> = None;
        for member in candidates {
            let similarity = fingerprint.similarity(signature(member));
            if similarity < JOIN_SIMILARITY {
                continue;
            }
            let candidate = (similarity, member.first_seen, member.id, member.story_id);
            if best.is_none_or(|best| {
                (candidate.0, candidate.1, candidate.2) > (best.0, best.1, best.2)
            }) {
                best = Some(candidate);
            }
        }
        best.map(|(_, first_seen, _, story_id)| (story_id, first_seen))
    }
}

/// The members with `key`, newest first, whose story was first seen at or after
/// `window_start`: their indices and themselves. (A function of the index's parts, so a
/// lookup can stamp `compared_in` while it reads them.)
fn in_window<'a>(
    heads: &'a Heads,
    lists: &'a [List],
    members: &'a [Member],
    kind: KeyKind,
    key: u64,
    window_start: i64,
) -> impl Iterator<Item = (u32, Member)> + 'a {
    let indices: &[u32] = match heads.get(&tagged(kind, key)) {
        None => &[],
        Some(Chain::One(member)) => std::slice::from_ref(member),
        Some(Chain::Many(list_idx)) => &lists[*list_idx as usize].members,
    };
    indices
        .iter()
        .rev()
        .map(|&member_idx| (member_idx, members[member_idx as usize]))
        .filter(move |(_, member)| member.first_seen >= window_start)
}

/// A member's story: its id and first sighting.
fn story_of(member: &Member) -> (i64, i64) {
    (member.story_id, member.first_seen)
}

/// A key with its kind folded in (kinds are hashed apart already; this keeps a band key
/// from ever equalling a URL key by accident).
fn tagged(kind: KeyKind, key: u64) -> u64 {
    key ^ match kind {
        KeyKind::Url => 0,
        KeyKind::Title => 0x5555_5555_5555_5555,
        KeyKind::Band => 0xaaaa_aaaa_aaaa_aaaa,
    }
}

/// The keys are hashes already: the map uses them as they are.
#[derive(Debug, Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 << 8) | u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

#[cfg(test)]
mod tests;
