//! Many queries over one document in one pass: a multi-pattern automaton (aho-corasick) finds
//! which terms can occur at all, and only the queries that could match with those terms are
//! evaluated. The prefilter never changes a result, only skips work:
//!
//! - every term gets one pattern, from its longest part: wherever the term occurs, some token's
//!   folded form equals that part (starts with it, for the last part of a prefix term), or for
//!   a CJK part, a CJK token's folded form contains it;
//! - the automaton runs once over each text's folded form with every separator read as
//!   `TOKEN_END` (see `FieldText::prefilter_text`), so a word pattern is `TOKEN_END`, the word,
//!   `TOKEN_END` and is found only where a whole token equals it; a prefix pattern lacks the
//!   final `TOKEN_END`; a CJK pattern is found anywhere. A pattern that is not found proves
//!   its term absent;
//! - a query is skipped only when its tree cannot hold with the absent terms false (an AND
//!   with an absent part, an OR of absent parts; a NOT may always hold), so a query that can
//!   match on negation alone is always evaluated.

use std::collections::HashMap;

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::{Anchored, StartKind, dfa};

use super::eval::TOKEN_END;
use super::parser::{Leaf, Node, Term};
use super::{Document, Hit, Query};

/// How the prefilter reads each byte of an ASCII text: letters and digits as themselves,
/// every other byte as the `TOKEN_END` that separates tokens.
const ASCII_SEPARATORS: [u8; 256] = {
    let mut table = [TOKEN_END; 256];
    let mut byte = 0;
    while byte < 256 {
        if (byte as u8).is_ascii_alphanumeric() {
            table[byte] = byte as u8;
        }
        byte += 1;
    }
    table
};

/// Compiled queries that are evaluated together (the topics of a config).
#[derive(Debug, Clone)]
pub struct QuerySet {
    queries: Vec<Query>,
    /// Finds the patterns in a text's folded form (an unanchored DFA, walked byte by byte).
    automaton: dfa::DFA,
    /// The start state of `automaton`.
    start: StateID,
    /// For each query, its term index → pattern index.
    term_patterns: Vec<Vec<usize>>,
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
        let mut always = Vec::new();
        for (query_idx, query) in queries.iter().enumerate() {
            let mut positive = Vec::new();
            positive_terms(&query.root, &mut positive);
            for term in positive {
                pattern_queries[term_patterns[query_idx][term]].push(query_idx);
            }
            if possible(&query.root, &|_| false) {
                always.push(query_idx);
            }
        }
        for list in &mut pattern_queries {
            list.sort_unstable();
            list.dedup();
        }
        // A DFA: the fastest walk, and its memory (patterns × alphabet) stays small for
        // topic-sized pattern sets.
        let automaton = dfa::DFA::builder()
            .start_kind(StartKind::Unanchored)
            .build(&patterns)
            .expect("patterns are short, non-empty strings");
        let start = automaton
            .start_state(Anchored::No)
            .expect("the automaton is built for unanchored searches");
        QuerySet {
            queries,
            automaton,
            start,
            term_patterns,
            pattern_queries,
            always,
        }
    }

    /// The queries, in the order given to `new`.
    pub fn queries(&self) -> &[Query] {
        &self.queries
    }

    /// Evaluates every query that can match `document`: the matches as (query index, hits),
    /// in query order. The same result as calling `Query::evaluate` on each query.
    pub fn evaluate(&self, document: &Document) -> Vec<(usize, Vec<Hit>)> {
        let mut present = vec![false; self.pattern_queries.len()];
        let mut candidates: Vec<usize> = self.always.clone();
        for text in &document.texts {
            let mut on_found = |pattern: usize| {
                if !present[pattern] {
                    present[pattern] = true;
                    candidates.extend_from_slice(&self.pattern_queries[pattern]);
                }
            };
            match text.prefilter_text() {
                (folded, true) => {
                    let bytes = [TOKEN_END].iter().chain(folded).chain(&[TOKEN_END]);
                    self.scan(
                        bytes.map(|&byte| ASCII_SEPARATORS[usize::from(byte)]),
                        &mut on_found,
                    );
                }
                (folded, false) => self.scan(folded.iter().copied(), &mut on_found),
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates
            .into_iter()
            .filter(|&query_idx| {
                let patterns = &self.term_patterns[query_idx];
                possible(&self.queries[query_idx].root, &|term| {
                    present[patterns[term]]
                })
            })
            .filter_map(|query_idx| {
                self.queries[query_idx]
                    .evaluate(document)
                    .map(|hits| (query_idx, hits))
            })
            .collect()
    }

    /// Runs the automaton over `bytes`, calling `on_found` with every pattern found (once per
    /// occurrence).
    fn scan(&self, bytes: impl Iterator<Item = u8>, on_found: &mut impl FnMut(usize)) {
        let automaton = &self.automaton;
        let mut state = self.start;
        for byte in bytes {
            state = automaton.next_state(Anchored::No, state, byte);
            if automaton.is_special(state) && automaton.is_match(state) {
                for index in 0..automaton.match_len(state) {
                    on_found(automaton.match_pattern(state, index).as_usize());
                }
            }
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

/// Whether `node` could hold when exactly the terms for which `present` is true may occur:
/// false only when it certainly does not.
fn possible(node: &Node, present: &impl Fn(usize) -> bool) -> bool {
    match node {
        Node::Term { leaf, .. } => present(leaf.term),
        Node::And { children, .. } => children.iter().all(|child| possible(child, present)),
        Node::Or { children, .. } => children.iter().any(|child| possible(child, present)),
        // Whether the excluded clause occurs is not known here: it may not.
        Node::Not { .. } => true,
        Node::Near { left, right, .. } => {
            left.iter().any(|leaf| present(leaf.term))
                && right.iter().any(|leaf| present(leaf.term))
        }
    }
}
