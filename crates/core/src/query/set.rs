//! Many queries over one document in one pass: a multi-pattern automaton (aho-corasick) finds
//! which terms can occur at all, and only the queries that could match with those terms are
//! evaluated. The prefilter never changes a result, only skips work:
//!
//! - every term gets one pattern, from its longest part: wherever the term occurs, some token's
//!   folded form equals that part (starts with it, for the last part of a prefix term), or for
//!   a CJK part, a CJK token's folded form contains it;
//! - a word pattern is `TOKEN_END`, the word, `TOKEN_END` and is found only where a whole
//!   token equals it; a prefix pattern lacks the final `TOKEN_END`; a CJK pattern is found
//!   anywhere. The automaton runs over the folded form of a text that is not ASCII, where
//!   every token is followed by `TOKEN_END` (see `FieldText::prefilter_text`); over an ASCII
//!   text, it runs from each token's start, as if the token stood between `TOKEN_END`s, and
//!   only on the tokens whose first three bytes some pattern starts with (`heads`; when
//!   the words of all the set's queries begin with at most three different bytes, a
//!   `memchr` search for those bytes finds the tokens to try). A pattern that is not found
//!   in a text proves its term absent from that text;
//! - a query is skipped only when its tree cannot hold with the absent terms false (an AND
//!   with an absent part, an OR of absent parts; a NOT may always hold), so a query that can
//!   match on negation alone is always evaluated; and a query that is evaluated looks for a
//!   term only in the texts where its pattern was found.

mod heads;

use std::collections::HashMap;

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::{Anchored, StartKind, dfa};

use super::eval::TOKEN_END;
use super::parser::{Leaf, Node, Term};
use super::{Document, Hit, Query};
use heads::Heads;

/// Compiled queries that are evaluated together (the topics of a config).
#[derive(Debug, Clone)]
pub struct QuerySet {
    queries: Vec<Query>,
    /// Finds the patterns in a text's folded form: walked byte by byte, unanchored over the
    /// folded form of a text that is not ASCII, anchored at each token of an ASCII text.
    automaton: dfa::DFA,
    /// The unanchored start state of `automaton`.
    start: StateID,
    /// The anchored state after a `TOKEN_END`, where every token of an ASCII text starts.
    token_start: StateID,
    /// The heads of the patterns that an ASCII token can start with.
    heads: Heads,
    /// For each query, its term index → pattern index.
    term_patterns: Vec<Vec<usize>>,
    /// For each query, its tree as far as the prefilter can judge it.
    possible: Vec<Possible>,
    /// For each pattern, the queries that have it as a positive term (not under NOT).
    pattern_queries: Vec<Vec<usize>>,
    /// Queries evaluated on every document unless `possible` rules them out: those that can
    /// hold with every term absent.
    always: Vec<usize>,
}

impl QuerySet {
    /// Builds the prefilter over `queries` (kept in this order).
    pub fn new(queries: Vec<Query>) -> QuerySet {
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut pattern_index: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut term_patterns = Vec::with_capacity(queries.len());
        for query in &queries {
            let indices = query
                .terms
                .iter()
                .map(|term| {
                    let pattern = pattern_of(term);
                    *pattern_index.entry(pattern.clone()).or_insert_with(|| {
                        patterns.push(pattern);
                        patterns.len() - 1
                    })
                })
                .collect::<Vec<_>>();
            term_patterns.push(indices);
        }
        let mut pattern_queries = vec![Vec::new(); patterns.len()];
        let mut possible = Vec::with_capacity(queries.len());
        let mut always = Vec::new();
        let none_found = PatternBits::new(patterns.len());
        for (query_idx, query) in queries.iter().enumerate() {
            let mut positive = Vec::new();
            positive_terms(&query.root, &mut positive);
            for term in positive {
                pattern_queries[term_patterns[query_idx][term]].push(query_idx);
            }
            let tree = Possible::new(&query.root, &term_patterns[query_idx], patterns.len());
            if tree.holds(&none_found) {
                always.push(query_idx);
            }
            possible.push(tree);
        }
        for list in &mut pattern_queries {
            list.sort_unstable();
            list.dedup();
        }
        // A DFA: the fastest walk, and its memory (patterns × alphabet) stays small for
        // topic-sized pattern sets.
        let automaton = dfa::DFA::builder()
            .start_kind(StartKind::Both)
            .build(&patterns)
            .expect("patterns are short, non-empty strings");
        let start = automaton
            .start_state(Anchored::No)
            .expect("the automaton is built for unanchored searches");
        let anchored_start = automaton
            .start_state(Anchored::Yes)
            .expect("the automaton is built for anchored searches");
        let token_start = automaton.next_state(Anchored::Yes, anchored_start, TOKEN_END);
        QuerySet {
            queries,
            automaton,
            start,
            token_start,
            heads: Heads::new(patterns.iter().map(Vec::as_slice)),
            term_patterns,
            possible,
            pattern_queries,
            always,
        }
    }

    /// The queries, in the order given to `new`.
    pub fn queries(&self) -> &[Query] {
        &self.queries
    }

    /// Evaluates every query that can match `document`: the matches as (query index, hits),
    /// in query order. The same result as calling `Query::evaluate` on each query; a query
    /// is evaluated only on the texts where its terms' patterns were found.
    pub fn evaluate(&self, document: &Document) -> Vec<(usize, Vec<Hit>)> {
        self.evaluate_only(document, |_| true)
    }

    /// `evaluate`, for the queries whose index `wanted` takes only.
    pub fn evaluate_only(
        &self,
        document: &Document,
        wanted: impl Fn(usize) -> bool,
    ) -> Vec<(usize, Vec<Hit>)> {
        let n_patterns = self.pattern_queries.len();
        // The patterns found in each text, and in any.
        let mut found_in: Vec<PatternBits> = Vec::with_capacity(document.texts.len());
        let mut found = PatternBits::new(n_patterns);
        let mut candidates: Vec<usize> = self.always.clone();
        for text in &document.texts {
            let mut found_here = PatternBits::new(n_patterns);
            let mut on_found = |pattern: usize| {
                if !found.contains(pattern) {
                    candidates.extend_from_slice(&self.pattern_queries[pattern]);
                    found.insert(pattern);
                }
                found_here.insert(pattern);
            };
            match text.prefilter_text() {
                (folded, true) => self.scan_tokens(folded, &mut on_found),
                (folded, false) => self.scan(folded, &mut on_found),
            }
            found_in.push(found_here);
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates
            .into_iter()
            .filter(|&query_idx| wanted(query_idx) && self.possible[query_idx].holds(&found))
            .filter_map(|query_idx| {
                let patterns = &self.term_patterns[query_idx];
                // A text index past the texts (`ANY_TEXT`) asks about any text.
                let may_occur = |term: usize, text: usize| match found_in.get(text) {
                    Some(found_here) => found_here.contains(patterns[term]),
                    None => found.contains(patterns[term]),
                };
                self.queries[query_idx]
                    .evaluate_where(document, &may_occur)
                    .map(|hits| (query_idx, hits))
            })
            .collect()
    }

    /// Runs the unanchored automaton over `folded` (the folded form of a text that is not
    /// ASCII, its tokens between `TOKEN_END`s), calling `on_found` with every pattern found
    /// (once per occurrence).
    fn scan(&self, folded: &[u8], on_found: &mut impl FnMut(usize)) {
        let mut state = self.start;
        for &byte in folded {
            state = self.automaton.next_state(Anchored::No, state, byte);
            self.report(state, on_found);
        }
    }

    /// Runs the anchored automaton over each token of `folded` (an ASCII text lower-cased, its
    /// tokens the runs of letters and digits) that some pattern can start, as if the token
    /// stood between `TOKEN_END`s, calling `on_found` with every pattern found. Every
    /// pattern an ASCII text can hold is a word or prefix pattern, which starts at a token's
    /// start.
    fn scan_tokens(&self, folded: &[u8], on_found: &mut impl FnMut(usize)) {
        self.heads.for_each_candidate(folded, |start| {
            if self.heads.may_start(folded, start) {
                self.scan_token(folded, start, on_found);
            }
        });
    }

    /// Runs the anchored automaton over the token of the ASCII text `folded` that starts at
    /// `start`, then over a `TOKEN_END`; it stops where no pattern goes on.
    fn scan_token(&self, folded: &[u8], start: usize, on_found: &mut impl FnMut(usize)) {
        let automaton = &self.automaton;
        let mut state = self.token_start;
        for &byte in folded[start..]
            .iter()
            .take_while(|&&byte| heads::is_token_byte(byte))
        {
            state = automaton.next_state(Anchored::Yes, state, byte);
            if automaton.is_dead(state) {
                return;
            }
            self.report(state, on_found);
        }
        let end = automaton.next_state(Anchored::Yes, state, TOKEN_END);
        self.report(end, on_found);
    }

    /// Calls `on_found` with every pattern that `state` matches. Inlined: it runs after
    /// every byte, and nearly every state matches nothing.
    #[inline(always)]
    fn report(&self, state: StateID, on_found: &mut impl FnMut(usize)) {
        let automaton = &self.automaton;
        if automaton.is_special(state) && automaton.is_match(state) {
            self.report_matches(state, on_found);
        }
    }

    /// [`QuerySet::report`] for a matching state.
    #[inline(never)]
    fn report_matches(&self, state: StateID, on_found: &mut impl FnMut(usize)) {
        let automaton = &self.automaton;
        for index in 0..automaton.match_len(state) {
            on_found(automaton.match_pattern(state, index).as_usize());
        }
    }
}

/// The pattern that stands for `term` in the prefilter, from its longest part: a CJK part as
/// it is (found anywhere); otherwise the part between `TOKEN_END`s, without the second when
/// the part matches as a prefix.
fn pattern_of(term: &Term) -> Vec<u8> {
    let (part_idx, longest) = term
        .parts
        .iter()
        .enumerate()
        .max_by_key(|(_, part)| part.folded.len())
        .expect("a compiled term has parts");
    if longest.cjk {
        return longest.folded.as_bytes().to_vec();
    }
    let mut pattern = vec![TOKEN_END];
    pattern.extend_from_slice(longest.folded.as_bytes());
    if !(term.prefix && part_idx + 1 == term.parts.len()) {
        pattern.push(TOKEN_END);
    }
    pattern
}

/// Collects the terms of `node` that are not under a NOT.
fn positive_terms(node: &Node, terms: &mut Vec<usize>) {
    match node {
        Node::Term { leaf, .. } => terms.push(leaf.term),
        Node::And { children, .. } | Node::Or { children, .. } => children
            .iter()
            .for_each(|child| positive_terms(child, terms)),
        Node::Not { .. } => {}
        Node::Near { left, right, .. } => {
            terms.extend(left.iter().chain(right).map(|leaf: &Leaf| leaf.term));
        }
    }
}

/// A set of pattern indices.
#[derive(Debug, Clone)]
struct PatternBits(Vec<u64>);

impl PatternBits {
    /// The empty set of patterns below `n_patterns`.
    fn new(n_patterns: usize) -> PatternBits {
        PatternBits(vec![0; n_patterns.div_ceil(64)])
    }

    fn contains(&self, pattern: usize) -> bool {
        self.0[pattern / 64] & 1 << (pattern % 64) != 0
    }

    fn insert(&mut self, pattern: usize) {
        self.0[pattern / 64] |= 1 << (pattern % 64);
    }

    fn union_with(&mut self, other: &PatternBits) {
        self.0.iter_mut().zip(&other.0).for_each(|(a, b)| *a |= b);
    }

    fn intersects(&self, other: &PatternBits) -> bool {
        self.0.iter().zip(&other.0).any(|(a, b)| a & b != 0)
    }
}

/// A query's tree as the prefilter judges it: whether it could hold when exactly the found
/// patterns may occur; false only when it certainly does not. An OR of terms is one set of
/// patterns, checked a word at a time.
#[derive(Debug, Clone)]
enum Possible {
    /// Whether the excluded clause of a NOT occurs is not known here: it may not.
    Always,
    /// Any of these patterns found.
    Any(PatternBits),
    All(Vec<Possible>),
    AnyOf(Vec<Possible>),
}

impl Possible {
    /// `node` of a query whose terms have the patterns `term_patterns` (of `n_patterns`).
    fn new(node: &Node, term_patterns: &[usize], n_patterns: usize) -> Possible {
        let any = |terms: &mut dyn Iterator<Item = usize>| {
            let mut bits = PatternBits::new(n_patterns);
            terms.for_each(|term| bits.insert(term_patterns[term]));
            Possible::Any(bits)
        };
        match node {
            Node::Term { leaf, .. } => any(&mut std::iter::once(leaf.term)),
            Node::Not { .. } => Possible::Always,
            Node::Near { left, right, .. } => Possible::All(vec![
                any(&mut left.iter().map(|leaf: &Leaf| leaf.term)),
                any(&mut right.iter().map(|leaf: &Leaf| leaf.term)),
            ]),
            Node::And { children, .. } => {
                let mut parts: Vec<Possible> = children
                    .iter()
                    .map(|child| Possible::new(child, term_patterns, n_patterns))
                    .filter(|part| !matches!(part, Possible::Always))
                    .collect();
                match parts.len() {
                    0 => Possible::Always,
                    1 => parts.remove(0),
                    _ => Possible::All(parts),
                }
            }
            Node::Or { children, .. } => {
                let mut merged = PatternBits::new(n_patterns);
                let mut parts = Vec::new();
                for child in children {
                    match Possible::new(child, term_patterns, n_patterns) {
                        Possible::Always => return Possible::Always,
                        Possible::Any(bits) => {
                            merged.union_with(&bits);
                        }
                        part => parts.push(part),
                    }
                }
                if parts.is_empty() {
                    return Possible::Any(merged);
                }
                parts.push(Possible::Any(merged));
                Possible::AnyOf(parts)
            }
        }
    }

    fn holds(&self, found: &PatternBits) -> bool {
        match self {
            Possible::Always => true,
            Possible::Any(bits) => bits.intersects(found),
            Possible::All(parts) => parts.iter().all(|part| part.holds(found)),
            Possible::AnyOf(parts) => parts.iter().any(|part| part.holds(found)),
        }
    }
}
