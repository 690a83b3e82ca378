//! Stories: which items are copies of one news story. Pure: the keys an item is looked up by
//! (its canonical URL, its normalized title, a MinHash fingerprint of its text) and the
//! comparison of two fingerprints. The store keeps the keys in an index and does the lookups;
//! nothing here does I/O or reads the clock.
//!
//! A syndicated story reaches many feeds as wire copies with small edits, rewritten
//! headlines and tracking-laden links. Three keys catch them:
//!
//! - the canonical URL (parse already drops tracking parameters; here also the scheme, a
//!   leading `www.` and a trailing slash), for the same article linked from several feeds;
//! - the normalized title (folded, punctuation gone, an outlet's ` - Reuters` suffix cut),
//!   for the same headline over different links; titles of fewer than [`MIN_TITLE_WORDS`]
//!   words are too generic to mean the same story;
//! - a MinHash signature of the set of words of title and summary (stop words left out),
//!   for copies whose headline was rewritten and whose summary was edited. Two items whose
//!   estimated Jaccard similarity is at least [`JOIN_SIMILARITY`] are one story. The
//!   signature is split into [`BANDS`] bands of [`ROWS`] values; each band is one exact key
//!   in the index (locality-sensitive hashing), so a lookup costs [`BANDS`] index probes
//!   whatever the size of the database, and only items that share a whole band are
//!   compared. Two items with similarity `s` share at least one band with probability
//!   `1 - (1 - s^ROWS)^BANDS` (0.88 at s = 0.5, 0.98 at s = 0.6, 0.35 at s = 0.3).

use crate::model::Item;
use crate::text::{ascii_words, fold_into, for_each_token, tokenize, words_are_ascii};

/// Number of MinHash values in a signature.
pub const SIGNATURE_LEN: usize = BANDS * ROWS;
/// Bands of the signature, each one key in the index.
pub const BANDS: usize = 16;
/// MinHash values per band.
pub const ROWS: usize = 3;
/// The least estimated Jaccard similarity of two fingerprints that makes one story. Chosen
/// on the labelled pairs in `tests/fixtures/story_pairs.jsonl` (see the README, "Stories").
pub const JOIN_SIMILARITY: f64 = 0.5;
/// Titles with fewer words ("Live updates", "Breaking news") are not a story key.
pub const MIN_TITLE_WORDS: usize = 4;
/// Texts with fewer distinct words than this get no fingerprint: too little to compare.
pub const MIN_FINGERPRINT_WORDS: usize = 8;
/// At most this many bytes of the summary (or the content) are fingerprinted.
const TEXT_PREFIX: usize = 1500;

/// What the index knows an item by. Every key is a 64-bit hash, tagged with its kind so the
/// kinds never collide.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoryKeys {
    /// The canonical URL's key.
    pub url: Option<u64>,
    /// The normalized title's key.
    pub title: Option<u64>,
    /// The MinHash signature of the item's words.
    pub fingerprint: Option<Fingerprint>,
}

/// A MinHash signature: for each of [`SIGNATURE_LEN`] hash functions, the least hash of the
/// item's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(pub [u32; SIGNATURE_LEN]);

impl StoryKeys {
    /// Every index key of the item: URL, title, then one per band of the fingerprint.
    pub fn index_keys(&self) -> Vec<(KeyKind, u64)> {
        let mut keys = Vec::with_capacity(2 + BANDS);
        keys.extend(self.url.map(|key| (KeyKind::Url, key)));
        keys.extend(self.title.map(|key| (KeyKind::Title, key)));
        if let Some(fingerprint) = &self.fingerprint {
            keys.extend(fingerprint.band_keys().map(|key| (KeyKind::Band, key)));
        }
        keys
    }
}

/// What an index key was made from; a band key needs its fingerprint compared before it
/// joins a story.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Url,
    Title,
    Band,
}

/// The story keys of an item.
pub fn keys(item: &Item) -> StoryKeys {
    // The outlet's suffix is taken off once, for the title key and the fingerprint.
    let title = strip_outlet_suffix(&item.title);
    StoryKeys {
        url: item
            .url
            .as_deref()
            .map(|url| tagged_hash(b'u', normalize_url(url).as_bytes())),
        title: title_words(title).map(|title| tagged_hash(b't', title.as_bytes())),
        fingerprint: fingerprint_of(title, text_of(item)),
    }
}

/// The URL as a story key: the canonical URL without scheme, leading `www.` and trailing
/// slash (`http://www.example.com/a/` and `https://example.com/a` are one article).
pub fn normalize_url(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.strip_prefix("www.").unwrap_or(rest);
    let rest = match rest.split_once(['?', '#']) {
        Some((path, _)) if path.ends_with('/') => {
            // Keep the query: it can name the article (`?id=123`).
            let query = &rest[path.len()..];
            return format!("{}{query}", path.trim_end_matches('/'));
        }
        _ => rest,
    };
    rest.trim_end_matches('/').to_string()
}

/// The title as a story key: folded words joined by single spaces, without an outlet's
/// suffix (`… - Reuters`, `… | AP News`); `None` when fewer than [`MIN_TITLE_WORDS`] words
/// remain.
pub fn normalize_title(title: &str) -> Option<String> {
    title_words(strip_outlet_suffix(title))
}

/// [`normalize_title`] of a title without its outlet's suffix.
fn title_words(title: &str) -> Option<String> {
    let (normalized, n_words) = ascii_title_words(title).unwrap_or_else(|| {
        let words: Vec<String> = tokenize(title).into_iter().map(|t| t.folded).collect();
        (words.join(" "), words.len())
    });
    (n_words >= MIN_TITLE_WORDS).then_some(normalized)
}

/// The words of `title` lower-cased and joined by single spaces, with their number, as
/// folding its tokens gives them, without a string per word; `None` (to fold them) unless
/// its words are ASCII.
fn ascii_title_words(title: &str) -> Option<(String, usize)> {
    if !words_are_ascii(title) {
        return None;
    }
    let mut normalized = String::with_capacity(title.len());
    let mut n_words = 0;
    for word in ascii_words(title) {
        if n_words > 0 {
            normalized.push(' ');
        }
        normalized.push_str(word);
        n_words += 1;
    }
    normalized.make_ascii_lowercase();
    Some((normalized, n_words))
}

/// The MinHash signature of the distinct words of `title` and `body` (stop words left out);
/// `None` when there are fewer than [`MIN_FINGERPRINT_WORDS`] of them.
pub fn fingerprint(title: &str, body: &str) -> Option<Fingerprint> {
    fingerprint_of(strip_outlet_suffix(title), body)
}

/// [`fingerprint`] of a title without its outlet's suffix.
fn fingerprint_of(title: &str, body: &str) -> Option<Fingerprint> {
    let words = word_set(title, body);
    if words.len() < MIN_FINGERPRINT_WORDS {
        return None;
    }
    Some(Fingerprint(signature_of(&words)))
}

/// The MinHash signature of a set of word hashes. Not inlined: its loop is the hot part of
/// the story keys, and compiled on its own it keeps one shape whatever its callers become.
#[inline(never)]
fn signature_of(words: &[u64]) -> [u32; SIGNATURE_LEN] {
    let mut signature = [u32::MAX; SIGNATURE_LEN];
    // A few slots at a time over all the words, so that those slots' minima and multipliers
    // stay in registers (one pass per slot over every word would reload and store them).
    for (values, multipliers) in signature
        .chunks_exact_mut(SLOTS_AT_ONCE)
        .zip(MULTIPLIERS.chunks_exact(SLOTS_AT_ONCE))
    {
        let multipliers: [u64; SLOTS_AT_ONCE] = multipliers.try_into().expect("a whole chunk");
        let mut minima = [u32::MAX; SLOTS_AT_ONCE];
        for &word in words {
            for (value, multiplier) in minima.iter_mut().zip(&multipliers) {
                // Multiply-shift hashing: one of a family of hash functions per slot, cheap
                // enough for every word of every item.
                let hashed = (word.wrapping_mul(*multiplier) >> 32) as u32;
                *value = (*value).min(hashed);
            }
        }
        values.copy_from_slice(&minima);
    }
    signature
}

impl Fingerprint {
    /// The estimated Jaccard similarity of the two items' word sets: the share of equal
    /// values.
    pub fn similarity(&self, other: &Fingerprint) -> f64 {
        // Over fixed-size arrays, so the compiler compares many values at a time.
        let mut equal = 0u32;
        for slot in 0..SIGNATURE_LEN {
            equal += u32::from(self.0[slot] == other.0[slot]);
        }
        f64::from(equal) / SIGNATURE_LEN as f64
    }

    /// Whether the two are one story.
    pub fn joins(&self, other: &Fingerprint) -> bool {
        self.similarity(other) >= JOIN_SIMILARITY
    }

    /// One index key per band: the band's number and its values, hashed.
    pub fn band_keys(&self) -> impl Iterator<Item = u64> + '_ {
        self.0.chunks(ROWS).enumerate().map(|(band_no, rows)| {
            let mut bytes = [0u8; 1 + 4 * ROWS];
            bytes[0] = band_no as u8;
            for (chunk, value) in bytes[1..].chunks_exact_mut(4).zip(rows) {
                chunk.copy_from_slice(&value.to_le_bytes());
            }
            tagged_hash(b'b', &bytes)
        })
    }

    /// The signature as stored: little-endian values.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0
            .iter()
            .flat_map(|value| value.to_le_bytes())
            .collect()
    }

    /// A stored signature; `None` if it has the wrong length.
    pub fn from_bytes(bytes: &[u8]) -> Option<Fingerprint> {
        if bytes.len() != 4 * SIGNATURE_LEN {
            return None;
        }
        let mut signature = [0u32; SIGNATURE_LEN];
        for (value, chunk) in signature.iter_mut().zip(bytes.chunks_exact(4)) {
            *value = u32::from_le_bytes(chunk.try_into().expect("chunks of four"));
        }
        Some(Fingerprint(signature))
    }
}

/// The text an item is fingerprinted on besides its title: the start of the summary, else
/// the start of the content (a story is told in its first paragraphs).
fn text_of(item: &Item) -> &str {
    let text = if item.summary.trim().is_empty() {
        &item.content
    } else {
        &item.summary
    };
    let mut end = text.len().min(TEXT_PREFIX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The hashes of the distinct folded words of both texts (the title without its outlet's
/// suffix), stop words and one-letter words left out, each once, in the order first seen.
/// Each hash is spread over all 64 bits (the MinHash slots take its high bits after a
/// multiplication).
fn word_set(title: &str, body: &str) -> Vec<u64> {
    // About one word in seven bytes of news text: room for most items' words at once.
    let mut words = Vec::with_capacity((title.len() + body.len()) / 6);
    for text in [title, body] {
        if words_are_ascii(text) {
            push_ascii_words(text, &mut words);
        } else {
            push_words(text, &mut words);
        }
    }
    keep_first_of_each(&mut words);
    words
}

/// Removes the repeats of values from `words`, keeping the first of each in place: what a
/// sort and dedup keep, in another order (a signature does not depend on the order), by one
/// probe of a small table per word instead of a sort. The words are hashes spread over 64
/// bits already, so their low bits place them.
fn keep_first_of_each(words: &mut Vec<u64>) {
    let slots = (words.len() * 2).next_power_of_two().max(16);
    let mask = slots - 1;
    // 0 marks an empty slot; a word that is 0 is kept apart.
    let mut table = vec![0u64; slots];
    let mut zero_seen = false;
    words.retain(|&word| {
        if word == 0 {
            return !std::mem::replace(&mut zero_seen, true);
        }
        let mut at = word as usize & mask;
        loop {
            match table[at] {
                0 => {
                    table[at] = word;
                    return true;
                }
                seen if seen == word => return false,
                _ => at = (at + 1) & mask,
            }
        }
    });
}

/// Pushes the word hashes of `text` (see [`word_set`]), any text.
fn push_words(text: &str, words: &mut Vec<u64>) {
    let mut folded = String::new();
    for_each_token(text, |range, cjk| {
        let token = &text[range];
        if token.is_ascii() {
            push_ascii_word(token, words);
            return;
        }
        folded.clear();
        fold_into(token, &mut folded);
        if cjk || folded.chars().nth(1).is_some() {
            words.extend(unless_stop_word(fnv1a(folded.as_bytes()), folded.len()));
        }
    });
}

/// Pushes the word hashes of `text` whose words are ASCII (`words_are_ascii`) as
/// [`push_words`] does, without its walk over characters and its call per token: one pass
/// over the bytes finds the words (the runs of ASCII letters and digits, as
/// `text::ascii_words` gives them) and hashes each lower-cased as it goes.
fn push_ascii_words(text: &str, words: &mut Vec<u64>) {
    let mut hash = FNV_OFFSET;
    let mut len = 0;
    for &byte in text.as_bytes() {
        let folded = ASCII_WORD_BYTES[usize::from(byte)];
        if folded != 0 {
            hash = fnv_step(hash, folded);
            len += 1;
        } else if len > 0 {
            push_word_hash(hash, len, words);
            hash = FNV_OFFSET;
            len = 0;
        }
    }
    if len > 0 {
        push_word_hash(hash, len, words);
    }
}

/// Each byte lower-cased when it is an ASCII letter or digit (a byte of a word in
/// [`push_ascii_words`]), else 0.
const ASCII_WORD_BYTES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        if b.is_ascii_alphanumeric() {
            table[byte] = b.to_ascii_lowercase();
        }
        byte += 1;
    }
    table
};

/// Pushes the FNV-1a hash of a lower-cased ASCII word of `len` bytes, as
/// [`push_ascii_word`] does.
fn push_word_hash(hash: u64, len: usize, words: &mut Vec<u64>) {
    if len >= 2 {
        words.extend(unless_stop_word(hash, len));
    }
}

/// Pushes the hash of an ASCII word of two letters or more, unless it is a stop word: folding
/// is lowercasing, done while hashing, with no copy.
fn push_ascii_word(word: &str, words: &mut Vec<u64>) {
    let mut hash = FNV_OFFSET;
    for byte in word.bytes() {
        hash = fnv_step(hash, byte.to_ascii_lowercase());
    }
    push_word_hash(hash, word.len(), words);
}

/// A folded word of `len` bytes whose FNV-1a hash is `hash`, as the word set keeps it (spread
/// over 64 bits), or `None` for one of [`STOP_WORDS`], which are looked up by that hash.
fn unless_stop_word(hash: u64, len: usize) -> Option<u64> {
    let stop_word = len <= LONGEST_STOP_WORD && STOP_WORD_HASHES.binary_search(&hash).is_ok();
    (!stop_word).then(|| splitmix64(hash))
}

/// The length of the longest of [`STOP_WORDS`].
const LONGEST_STOP_WORD: usize = 5;

/// The FNV-1a hashes of [`STOP_WORDS`], sorted: a word is looked up by the hash it needs
/// anyway, not by comparing strings.
const STOP_WORD_HASHES: [u64; STOP_WORDS.len()] = {
    let mut hashes = [0u64; STOP_WORDS.len()];
    let mut at = 0;
    while at < STOP_WORDS.len() {
        hashes[at] = fnv1a(STOP_WORDS[at].as_bytes());
        at += 1;
    }
    // Insertion sort: a const fn cannot call `sort`.
    let mut sorted = 1;
    while sorted < hashes.len() {
        let mut at = sorted;
        while at > 0 && hashes[at - 1] > hashes[at] {
            let swap = hashes[at - 1];
            hashes[at - 1] = hashes[at];
            hashes[at] = swap;
            at -= 1;
        }
        sorted += 1;
    }
    hashes
};

/// `Title - Outlet` or `Title | Outlet` → `Title`, when the part after the last separator
/// is short (an outlet's name, not half a headline).
fn strip_outlet_suffix(title: &str) -> &str {
    let title = title.trim();
    for separator in [" - ", " | ", " — ", " – "] {
        if let Some(at) = title.rfind(separator) {
            let suffix = &title[at + separator.len()..];
            if !title[..at].trim().is_empty() && suffix.split_whitespace().count() <= 4 {
                return title[..at].trim_end();
            }
        }
    }
    title
}

/// English function words that say nothing about which story a text tells, in order (they
/// are looked up by hash: [`STOP_WORD_HASHES`]).
const STOP_WORDS: &[&str] = &[
    "about", "after", "all", "also", "an", "and", "are", "as", "at", "be", "been", "but", "by",
    "can", "could", "did", "do", "for", "from", "had", "has", "have", "he", "her", "his", "in",
    "into", "is", "it", "its", "more", "new", "not", "of", "on", "or", "our", "over", "said",
    "says", "she", "so", "than", "that", "the", "their", "them", "there", "they", "this", "to",
    "up", "was", "we", "were", "what", "when", "which", "while", "who", "will", "with", "would",
    "you",
];

/// The signature's slots computed together in one pass over an item's words.
const SLOTS_AT_ONCE: usize = 16;
const _: () = assert!(
    SIGNATURE_LEN.is_multiple_of(SLOTS_AT_ONCE),
    "whole groups of slots"
);

/// The odd multipliers of the hash functions, one per slot: fixed, since signatures are
/// stored.
const MULTIPLIERS: [u64; SIGNATURE_LEN] = {
    let mut multipliers = [0u64; SIGNATURE_LEN];
    let mut state = 0x5741_5443_4857_4f52_u64; // "WATCHWOR"
    let mut slot = 0;
    while slot < SIGNATURE_LEN {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        multipliers[slot] = splitmix64(state) | 1;
        slot += 1;
    }
    multipliers
};

/// A stable 64-bit hash of `bytes` with a kind tag (stored, so it must never change).
fn tagged_hash(tag: u8, bytes: &[u8]) -> u64 {
    let mut hash = fnv1a(&[tag]);
    for &byte in bytes {
        hash = fnv_step(hash, byte);
    }
    splitmix64(hash)
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a: a stable hash (std's `DefaultHasher` may change between Rust releases).
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = FNV_OFFSET;
    let mut at = 0;
    while at < bytes.len() {
        hash = fnv_step(hash, bytes[at]);
        at += 1;
    }
    hash
}

/// One byte of FNV-1a: every hash here (`fnv1a`, the word hashes, the tagged keys) is made
/// of these steps.
const fn fnv_step(hash: u64, byte: u8) -> u64 {
    (hash ^ byte as u64).wrapping_mul(FNV_PRIME)
}

/// The splitmix64 finalizer: spreads every input bit over the output.
const fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests;
