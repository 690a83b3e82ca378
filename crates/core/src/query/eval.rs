//! The matcher: an item's fields folded, then tokenized and indexed once on first use
//! (`FieldText`), and the walk of a compiled tree over them that decides a match and collects
//! the positive terms behind it.
//! Pure and allocation-light: this runs for every item against every topic.

use std::ops::Range;
use std::sync::OnceLock;

use super::parser::{Leaf, Node, Part, Term, compile_term};
use super::{Field, Hit};
use crate::text;

/// Separates tokens in the folded text of a text that is not ASCII (see
/// `FieldText::prefilter_text`). A token never contains it: U+0000 is a separator.
pub(super) const TOKEN_END: u8 = 0;

/// How many characters of context a snippet keeps before the match.
const SNIPPET_BEFORE: usize = 40;
/// About how many characters a snippet has in all.
const SNIPPET_LENGTH: usize = 100;
/// The most characters a snippet has (without its ellipses), however long the match.
const SNIPPET_MAX: usize = 120;
/// The longest CJK run in which a term is located character by character for a snippet.
const MAX_LOCATE_BYTES: usize = 4096;

/// One text of an item (a field, or one entry of a multi-valued field), folded at once and
/// tokenized and indexed on first use. Phrases and NEAR never reach across two texts.
///
/// Most items match no topic: the prefilter reads only the folded text, so the token list
/// and the sorted index are built only for texts that some topic is evaluated on.
#[derive(Debug, Clone)]
pub(super) struct FieldText<'a> {
    pub field: Field,
    /// The original text, for snippets (borrowed from the item: not copied per match).
    text: &'a str,
    /// Every token's folded form is a range of it (one allocation instead of one per token).
    /// For ASCII text, the text lower-cased; otherwise `TOKEN_END`, then each token's folded
    /// form followed by `TOKEN_END` (see `prefilter_text`). "ASCII" here and below includes
    /// text whose other characters all separate tokens (`text::separates_tokens`: a dash, a
    /// curly quote, a no-break space): its tokens are still its runs of ASCII letters and
    /// digits.
    folded: String,
    /// Whether the text is ASCII (and `folded` its lower-cased copy).
    ascii: bool,
    /// The tokens, in order. Built with `folded` when the text is not ASCII (folding needs
    /// the tokens); for ASCII text, on first use (its tokens are the runs of letters and
    /// digits, each its own folded form).
    tokens: OnceLock<Vec<DocToken>>,
    /// `sort_key(folded) << 64 | token index`, sorted: the tokens that share their first eight
    /// folded bytes are one range, found by binary search. Sorting plain integers is what
    /// keeps indexing cheap; it is still the dearest part of preparing a text, hence built on
    /// first use.
    by_folded: OnceLock<Vec<u128>>,
    /// Whether any token is a CJK run (if not, CJK terms are skipped without a scan).
    has_cjk: bool,
}

#[derive(Debug, Clone)]
struct DocToken {
    /// Byte range in `FieldText::text`.
    original: Range<usize>,
    /// Byte range in `FieldText::folded`.
    folded: Range<usize>,
    cjk: bool,
}

/// Where a positive term matched: the raw material of a `Hit`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Found {
    term: usize,
    /// Index of the `FieldText` in the document.
    text: usize,
    /// Token range of the occurrence.
    first_token: usize,
    end_token: usize,
}

impl<'a> FieldText<'a> {
    /// Folds `text` (tokenizing it only if it is not ASCII); `None` when it has no tokens at
    /// all.
    pub fn new(field: Field, text: &'a str) -> Option<FieldText<'a>> {
        // ASCII text folds to its lower-case self; its tokens are found when needed. So does
        // text whose only other characters are separators, as news text often is (an en
        // dash, curly quotes): `to_ascii_lowercase` leaves those as they are, and every byte
        // of them separates tokens as the prefilter and `ascii_tokens` read bytes.
        let ascii = text::words_are_ascii(text);
        let (folded, tokens) = if ascii {
            if !text.bytes().any(|byte| byte.is_ascii_alphanumeric()) {
                return None;
            }
            (text.to_ascii_lowercase(), OnceLock::new())
        } else {
            let (folded, tokens) = fold_tokens(text);
            if tokens.is_empty() {
                return None;
            }
            (folded, OnceLock::from(tokens))
        };
        let has_cjk = tokens
            .get()
            .is_some_and(|tokens: &Vec<DocToken>| tokens.iter().any(|token| token.cjk));
        Some(FieldText {
            field,
            text,
            folded,
            ascii,
            tokens,
            by_folded: OnceLock::new(),
            has_cjk,
        })
    }

    /// The tokens, in order (see `FieldText::tokens`).
    fn tokens(&self) -> &[DocToken] {
        self.tokens.get_or_init(|| ascii_tokens(self.text))
    }

    /// The sorted index of the tokens by their folded forms (see `FieldText::by_folded`).
    fn by_folded(&self) -> &[u128] {
        self.by_folded.get_or_init(|| {
            let mut by_folded: Vec<u128> = self
                .tokens()
                .iter()
                .enumerate()
                .map(|(index, token)| {
                    u128::from(sort_key(&self.folded[token.folded.clone()])) << 64 | index as u128
                })
                .collect();
            by_folded.sort_unstable();
            by_folded
        })
    }

    /// Every token as (original range, folded form, CJK run), for tests of the lazy paths.
    #[cfg(test)]
    pub fn token_list(&self) -> Vec<(Range<usize>, &str, bool)> {
        self.tokens()
            .iter()
            .map(|token| {
                let folded = &self.folded[token.folded.clone()];
                (token.original.clone(), folded, token.cjk)
            })
            .collect()
    }

    fn folded(&self, token: usize) -> &str {
        &self.folded[self.tokens()[token].folded.clone()]
    }

    /// Calls `on_match(first_token, end_token)` for every occurrence of `term`, in no
    /// particular order, until it returns false.
    fn for_each_occurrence(&self, term: &Term, mut on_match: impl FnMut(usize, usize) -> bool) {
        let first = &term.parts[0];
        let n_parts = term.parts.len();
        if first.cjk && !self.has_cjk {
            return;
        }
        let tokens = self.tokens();
        let rest_matches = |start: usize| {
            start + n_parts <= tokens.len()
                && term.parts[1..].iter().enumerate().all(|(index, part)| {
                    let is_last = index + 2 == n_parts;
                    self.part_matches(part, term.prefix && is_last, start + 1 + index)
                })
        };
        if first.cjk {
            for start in 0..tokens.len() {
                if self.part_matches(first, false, start)
                    && rest_matches(start)
                    && !on_match(start, start + n_parts)
                {
                    return;
                }
            }
            return;
        }
        let wanted = first.folded.as_str();
        let prefix = term.prefix && n_parts == 1;
        // The keys of the tokens that can match: equal to the wanted key, or for a short prefix,
        // anything in the bytes after it.
        let lowest_key = sort_key(wanted);
        let highest_key = if prefix && wanted.len() < 8 {
            lowest_key | u64::MAX >> (8 * wanted.len())
        } else {
            lowest_key
        };
        let by_folded = self.by_folded();
        let lower = by_folded.partition_point(|&entry| ((entry >> 64) as u64) < lowest_key);
        for &entry in &by_folded[lower..] {
            if (entry >> 64) as u64 > highest_key {
                break;
            }
            let start = entry as u64 as usize;
            let folded = &self.folded[tokens[start].folded.clone()];
            let matches = if prefix {
                folded.starts_with(wanted)
            } else {
                folded == wanted
            };
            if matches && rest_matches(start) && !on_match(start, start + n_parts) {
                return;
            }
        }
    }

    /// The earliest occurrence of `term`.
    fn first_occurrence(&self, term: &Term) -> Option<(usize, usize)> {
        let mut first: Option<(usize, usize)> = None;
        self.for_each_occurrence(term, |start, end| {
            if first.is_none_or(|(earliest, _)| start < earliest) {
                first = Some((start, end));
            }
            true
        });
        first
    }

    fn part_matches(&self, part: &Part, prefix: bool, token: usize) -> bool {
        if part.cjk {
            if !self.tokens()[token].cjk {
                return false;
            }
            // Where the term touches its neighbour part, the text's run must touch it too.
            let folded = self.folded(token);
            let wanted = part.folded.as_str();
            return match (part.attached_before, part.attached_after) {
                (false, false) => folded.contains(wanted),
                (true, false) => folded.starts_with(wanted),
                (false, true) => folded.ends_with(wanted),
                (true, true) => folded == wanted,
            };
        }
        let folded = self.folded(token);
        if prefix {
            folded.starts_with(part.folded.as_str())
        } else {
            folded == part.folded
        }
    }

    /// The byte range in the original text of the occurrence of `term` at the tokens
    /// `first_token..end_token` (for a CJK part, only the part of the run that it matched).
    fn occurrence_range(&self, term: &Term, first_token: usize, end_token: usize) -> Range<usize> {
        let tokens = self.tokens();
        let first = &tokens[first_token].original;
        let last = &tokens[end_token - 1].original;
        let mut start = first.start;
        let mut end = last.end;
        if let Some(part) = term.parts.first().filter(|part| part.cjk)
            && let Some(inner) = locate_folded(&self.text[first.clone()], &part.folded)
        {
            start = first.start + inner.start;
            if end_token - first_token == 1 {
                end = first.start + inner.end;
            }
        }
        if end_token - first_token > 1
            && let Some(part) = term.parts.last().filter(|part| part.cjk)
            && let Some(inner) = locate_folded(&self.text[last.clone()], &part.folded)
        {
            end = last.start + inner.end;
        }
        start..end
    }

    /// The folded text as the prefilter scans it, and whether its separators are the text's
    /// own: then (ASCII text) every byte that is not a letter or digit separates tokens;
    /// otherwise the text starts with `TOKEN_END` and each token is followed by one. Either
    /// way, every token's folded form is in it, between separators.
    pub fn prefilter_text(&self) -> (&[u8], bool) {
        (self.folded.as_bytes(), self.ascii)
    }
}

/// The byte ranges of `text` where any of `terms` (written as in a query: `word`, `a phrase`,
/// `prefix*`) occur, sorted, overlapping ranges merged.
pub(super) fn highlight(text: &str, terms: &[&str]) -> Vec<Range<usize>> {
    let Some(field_text) = FieldText::new(Field::Title, text) else {
        return Vec::new();
    };
    let mut ranges: Vec<Range<usize>> = Vec::new();
    for term in terms.iter().filter_map(|written| compile_term(written)) {
        field_text.for_each_occurrence(&term, |first_token, end_token| {
            ranges.push(field_text.occurrence_range(&term, first_token, end_token));
            true
        });
    }
    ranges.sort_by_key(|range| (range.start, range.end));
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

/// The text index that asks `may_occur` whether a term may occur in any text at all.
pub(super) const ANY_TEXT: usize = usize::MAX;

/// Whether a term may occur in a text, for every term and text: what `evaluate` assumes when
/// no prefilter has ruled anything out.
pub(super) fn anywhere(_term: usize, _text: usize) -> bool {
    true
}

/// Whether `node` can hold, judged by `may_occur` alone, without searching any text: false
/// only when a term it needs cannot occur anywhere (so it never wrongly says false).
fn may_hold<F: Fn(usize, usize) -> bool>(node: &Node, may_occur: &F) -> bool {
    match node {
        Node::Term { leaf, .. } => may_occur(leaf.term, ANY_TEXT),
        Node::And { children, .. } => children.iter().all(|child| may_hold(child, may_occur)),
        Node::Or { children, .. } => children.iter().any(|child| may_hold(child, may_occur)),
        Node::Not { .. } => true,
        Node::Near { left, right, .. } => {
            left.iter().any(|leaf| may_occur(leaf.term, ANY_TEXT))
                && right.iter().any(|leaf| may_occur(leaf.term, ANY_TEXT))
        }
    }
}

/// Evaluates `node`; when `collect`, pushes to `found` the positive terms that made it match
/// (nothing is left behind by a part that did not match). `may_occur(term, text)` is false
/// only where the term is known to be absent from the text (see `QuerySet`), or with
/// [`ANY_TEXT`], from every text: such a text is not searched for it.
pub(super) fn evaluate<F: Fn(usize, usize) -> bool>(
    node: &Node,
    terms: &[Term],
    texts: &[FieldText<'_>],
    may_occur: &F,
    collect: bool,
    found: &mut Vec<Found>,
) -> bool {
    match node {
        Node::Term { leaf, .. } => {
            if !may_occur(leaf.term, ANY_TEXT) {
                return false;
            }
            let term = &terms[leaf.term];
            let mut matched = false;
            for (text_index, text) in texts.iter().enumerate() {
                if !leaf.fields.contains(text.field) || !may_occur(leaf.term, text_index) {
                    continue;
                }
                if let Some((first_token, end_token)) = text.first_occurrence(term) {
                    if !collect {
                        return true;
                    }
                    matched = true;
                    found.push(Found {
                        term: leaf.term,
                        text: text_index,
                        first_token,
                        end_token,
                    });
                }
            }
            matched
        }
        Node::And { children, .. } => {
            // An operand that cannot hold ends the AND before any other operand's terms are
            // looked up: looking one up tokenizes and indexes its text on first use, and an
            // alias of many names (North Korea's) looks up every name that occurs.
            if !children.iter().all(|child| may_hold(child, may_occur)) {
                return false;
            }
            let mark = found.len();
            for child in children {
                if !evaluate(child, terms, texts, may_occur, collect, found) {
                    found.truncate(mark);
                    return false;
                }
            }
            true
        }
        Node::Or { children, .. } => {
            let mut matched = false;
            for child in children {
                let mark = found.len();
                if evaluate(child, terms, texts, may_occur, collect, found) {
                    if !collect {
                        return true;
                    }
                    matched = true;
                } else {
                    found.truncate(mark);
                }
            }
            matched
        }
        Node::Not { child, .. } => !evaluate(child, terms, texts, may_occur, false, found),
        Node::Near {
            left,
            right,
            distance,
            ..
        } => {
            let mut matched = false;
            let mut left_occurrences = Vec::new();
            for (text_index, text) in texts.iter().enumerate() {
                left_occurrences.clear();
                let usable = |leaf: &&Leaf| {
                    leaf.fields.contains(text.field) && may_occur(leaf.term, text_index)
                };
                for leaf in left.iter().filter(usable) {
                    text.for_each_occurrence(&terms[leaf.term], |start, end| {
                        left_occurrences.push((leaf.term, start, end));
                        true
                    });
                }
                if left_occurrences.is_empty() {
                    continue;
                }
                left_occurrences.sort_unstable_by_key(|&(_, start, end)| (start, end));
                let Some(pair) = near_pair(
                    text,
                    terms,
                    &left_occurrences,
                    right.iter().filter(usable),
                    *distance,
                ) else {
                    continue;
                };
                if !collect {
                    return true;
                }
                matched = true;
                let ((left_term, left_start, left_end), (right_term, right_start, right_end)) =
                    pair;
                for (term, first_token, end_token) in [
                    (left_term, left_start, left_end),
                    (right_term, right_start, right_end),
                ] {
                    found.push(Found {
                        term,
                        text: text_index,
                        first_token,
                        end_token,
                    });
                }
            }
            matched
        }
    }
}

/// Turns what `evaluate` found into hits: one per (term, field), ordered by field, then by
/// position of the first occurrence, then (for terms found in the same tokens, as in a run of
/// Chinese or Japanese) by the term as written, so that the order does not depend on the
/// order in which the query's clauses were evaluated.
pub(super) fn hits(found: &mut [Found], terms: &[Term], texts: &[FieldText<'_>]) -> Vec<Hit> {
    found.sort_by(|a, b| {
        (a.text, a.first_token, a.end_token, &terms[a.term].written).cmp(&(
            b.text,
            b.first_token,
            b.end_token,
            &terms[b.term].written,
        ))
    });
    let mut hits: Vec<Hit> = Vec::new();
    for found in found.iter() {
        let text = &texts[found.text];
        let written = &terms[found.term].written;
        if hits
            .iter()
            .any(|hit| hit.field == text.field && hit.term == *written)
        {
            continue;
        }
        let range = text.occurrence_range(&terms[found.term], found.first_token, found.end_token);
        hits.push(Hit {
            term: written.clone(),
            field: text.field,
            found: crate::text::sanitize(&text.text[range.clone()]),
            snippet: snippet(text.text, range),
        });
    }
    hits
}

/// Tokenizes and folds `text` (not ASCII): the folded text (`TOKEN_END`, then each token's
/// folded form followed by `TOKEN_END`) and the tokens.
fn fold_tokens(text: &str) -> (String, Vec<DocToken>) {
    let mut folded = String::with_capacity(text.len() + 8);
    folded.push(char::from(TOKEN_END));
    let mut tokens = Vec::with_capacity(text.len() / 6);
    text::for_each_token(text, |original, cjk| {
        let folded_start = folded.len();
        text::fold_into(&text[original.clone()], &mut folded);
        // As in `text::tokenize`: a token that folds to nothing is no token.
        if folded.len() == folded_start {
            return;
        }
        tokens.push(DocToken {
            original,
            folded: folded_start..folded.len(),
            cjk,
        });
        folded.push(char::from(TOKEN_END));
    });
    (folded, tokens)
}

/// The tokens of ASCII `text`, as `text::for_each_token` finds them (runs of letters and
/// digits), each its own folded form: a byte loop instead of a walk over characters.
fn ascii_tokens(text: &str) -> Vec<DocToken> {
    debug_assert!(
        text::words_are_ascii(text),
        "only text whose words are ASCII is tokenized lazily"
    );
    let mut tokens = Vec::with_capacity(text.len() / 6);
    let mut start = None;
    for (offset, byte) in text.bytes().enumerate() {
        match (byte.is_ascii_alphanumeric(), start) {
            (true, None) => start = Some(offset),
            (false, Some(token_start)) => {
                tokens.push(DocToken {
                    original: token_start..offset,
                    folded: token_start..offset,
                    cjk: false,
                });
                start = None;
            }
            _ => {}
        }
    }
    if let Some(token_start) = start {
        tokens.push(DocToken {
            original: token_start..text.len(),
            folded: token_start..text.len(),
            cjk: false,
        });
    }
    tokens
}

/// The first 8 bytes of `folded`, big-endian and zero-padded, so that keys order like the
/// strings' first eight bytes.
fn sort_key(folded: &str) -> u64 {
    let mut bytes = [0; 8];
    let head = &folded.as_bytes()[..folded.len().min(8)];
    bytes[..head.len()].copy_from_slice(head);
    u64::from_be_bytes(bytes)
}

/// An occurrence of a term: (term, first token, end token).
type Occurrence = (usize, usize, usize);

/// The first pair of a left occurrence (`left_occurrences` is sorted by position) and a
/// right-leaf occurrence in `text` at most `distance` tokens apart (tokens strictly between
/// them; overlapping occurrences count as 0, but one occurrence is never paired with itself,
/// so `missile NEAR/0 missile` needs two; two terms found in one CJK run are 0 apart). Only
/// left occurrences that start near enough are looked at, so long texts with many occurrences
/// stay linear-ish.
fn near_pair<'a>(
    text: &FieldText<'_>,
    terms: &[Term],
    left_occurrences: &[Occurrence],
    right: impl Iterator<Item = &'a Leaf>,
    distance: usize,
) -> Option<(Occurrence, Occurrence)> {
    let longest = left_occurrences
        .iter()
        .map(|&(_, start, end)| end - start)
        .max()
        .unwrap_or(0);
    let mut pair = None;
    for leaf in right {
        text.for_each_occurrence(&terms[leaf.term], |start, end| {
            let lowest_start = start.saturating_sub(distance.saturating_add(longest));
            let highest_start = end.saturating_add(distance);
            let first =
                left_occurrences.partition_point(|&(_, left_start, _)| left_start < lowest_start);
            let close = left_occurrences[first..]
                .iter()
                .take_while(|&&(_, left_start, _)| left_start <= highest_start)
                .filter(|&&(left_term, left_start, left_end)| {
                    // One occurrence is not two; but two terms inside one CJK run are two
                    // places in it.
                    (left_start, left_end) != (start, end)
                        || left_term != leaf.term && end - start == 1 && text.tokens()[start].cjk
                })
                .find(|&&(_, left_start, left_end)| {
                    // Tokens strictly between the two; overlapping occurrences are 0 apart.
                    let gap = start
                        .checked_sub(left_end)
                        .or_else(|| left_start.checked_sub(end))
                        .unwrap_or(0);
                    gap <= distance
                });
            if let Some(&left) = close {
                pair = Some((left, (leaf.term, start, end)));
            }
            pair.is_none()
        });
        if pair.is_some() {
            break;
        }
    }
    pair
}

/// The byte range within `original` (one token) of the text whose folded form is `folded`.
fn locate_folded(original: &str, folded: &str) -> Option<Range<usize>> {
    if let Some(start) = original.find(folded) {
        return Some(start..start + folded.len());
    }
    // The original is not in folded form (halfwidth kana, compatibility ideographs): find where
    // a stretch folding to the term starts, then where it ends. Quadratic, so only for runs of
    // reasonable length; it only runs to build a hit.
    if original.len() > MAX_LOCATE_BYTES {
        return None;
    }
    let boundaries: Vec<usize> = original
        .char_indices()
        .map(|(offset, _)| offset)
        .chain([original.len()])
        .collect();
    for (index, &start) in boundaries.iter().enumerate() {
        let rest = text::fold(&original[start..]);
        if !rest.contains(folded) {
            return None;
        }
        if rest.starts_with(folded) {
            return boundaries[index + 1..]
                .iter()
                .find(|&&end| text::fold(&original[start..end]).starts_with(folded))
                .map(|&end| start..end);
        }
    }
    None
}

/// About `SNIPPET_LENGTH` characters of `text` around `matched` (a byte range), cut at word
/// boundaries where it can be, with "…" where text was cut and whitespace collapsed.
fn snippet(text: &str, matched: Range<usize>) -> String {
    // Start up to SNIPPET_BEFORE characters before the match, then skip a partial word.
    let mut start = text[..matched.start]
        .char_indices()
        .rev()
        .take(SNIPPET_BEFORE)
        .last()
        .map_or(matched.start, |(offset, _)| offset);
    if start > 0
        && !text[..start].ends_with(char::is_whitespace)
        && let Some((offset, space)) = text[start..matched.start]
            .char_indices()
            .find(|(_, c)| c.is_whitespace())
    {
        start += offset + space.len_utf8();
    }
    // End when the snippet is SNIPPET_LENGTH characters long (or the match ends, if later),
    // then give back a partial word.
    let used = text[start..matched.start].chars().count();
    let budget = SNIPPET_LENGTH.saturating_sub(used);
    let mut end = text[matched.start..]
        .char_indices()
        .nth(budget)
        .map_or(text.len(), |(offset, _)| matched.start + offset)
        .max(matched.end);
    if end < text.len()
        && let Some((offset, _)) = text[matched.end..end]
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
    {
        end = matched.end + offset;
    }
    // A match longer than a snippet is cut.
    if let Some((offset, _)) = text[start..end].char_indices().nth(SNIPPET_MAX) {
        end = start + offset;
    }
    let mut snippet = String::with_capacity(end - start + 8);
    if start > 0 {
        snippet.push('…');
    }
    let mut first = true;
    for word in text[start..end].split_whitespace() {
        if !first {
            snippet.push(' ');
        }
        first = false;
        snippet.push_str(word);
    }
    if end < text.len() {
        snippet.push('…');
    }
    snippet
}

#[cfg(test)]
mod tests;
