//! Many queries over one document in one pass: a multi-pattern automaton (aho-corasick) finds
//! which terms can occur at all, and only the queries that could match with those terms are
//! evaluated. The prefilter never changes a result, only skips work:
//!
//! - every term gets one pattern, the folded form of its longest part; a term can only occur
//!   where that pattern is a substring of a field's folded text (every token's folded form is
//!   a substring of it), so a pattern that is absent proves the term absent;
//! - a pattern too short to be worth searching for (one or two bytes, like the `u` of `U.S.`)
//!   is taken as present in every document;
//! - a query is skipped only when its tree cannot hold with the absent terms false (an AND
//!   with an absent part, an OR of absent parts; a NOT may always hold), so a query that can
//!   match on negation alone is always evaluated.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind};

use super::parser::{Leaf, Node};
use super::{Document, Hit, Query};

/// Patterns shorter than this many bytes are not searched for (see `QuerySet::assumed`).
const MIN_SEARCHED_BYTES: usize = 3;

/// Compiled queries that are evaluated together (the topics of a config).
#[derive(Debug, Clone)]
pub struct QuerySet {
    queries: Vec<Query>,
    /// Finds the searched patterns in a field's folded text.
    automaton: AhoCorasick,
    /// Automaton pattern index → pattern index.
    searched: Vec<usize>,
    /// Patterns too short to search for: taken as present in every document.
    assumed: Vec<usize>,
    /// For each query, its term index → pattern index.
    term_patterns: Vec<Vec<usize>>,
    /// For each pattern, the queries that have it as a positive term (not under NOT).
    pattern_queries: Vec<Vec<usize>>,
    /// Queries evaluated on every document unless `possible` rules them out: those that can
    /// hold with every term absent, and those with a positive term of an assumed pattern.
    always: Vec<usize>,
}

impl QuerySet {
    /// Builds the prefilter over `queries` (kept in this order).
    pub fn new(queries: Vec<Query>) -> QuerySet {
        let mut patterns: Vec<String> = Vec::new();
        let mut pattern_index: HashMap<String, usize> = HashMap::new();
        let mut term_patterns = Vec::with_capacity(queries.len());
        for query in &queries {
            let indices = query
                .terms
                .iter()
                .map(|term| {
                    let longest = term
                        .parts
                        .iter()
                        .max_by_key(|part| part.folded.len())
                        .expect("a compiled term has parts");
                    *pattern_index
                        .entry(longest.folded.clone())
                        .or_insert_with(|| {
                            patterns.push(longest.folded.clone());
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
        // Very short patterns ("u" of "U.S.") would be found everywhere: they are assumed
        // present instead of searched for, which is always safe.
        let (searched, assumed): (Vec<usize>, Vec<usize>) =
            (0..patterns.len()).partition(|&index| patterns[index].len() >= MIN_SEARCHED_BYTES);
        // A DFA: the fastest search, and its memory (patterns × alphabet) stays small for
        // topic-sized pattern sets.
        let automaton = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::DFA))
            .build(searched.iter().map(|&index| &patterns[index]))
            .expect("patterns are short, non-empty strings");
        for &pattern in &assumed {
            always.extend_from_slice(&pattern_queries[pattern]);
        }
        always.sort_unstable();
        always.dedup();
        QuerySet {
            queries,
            automaton,
            searched,
            assumed,
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
            for found in self.automaton.find_overlapping_iter(text.folded_text()) {
                let pattern = self.searched[found.pattern().as_usize()];
                if !present[pattern] {
                    present[pattern] = true;
                    candidates.extend_from_slice(&self.pattern_queries[pattern]);
                }
            }
        }
        for &pattern in &self.assumed {
            present[pattern] = true;
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
