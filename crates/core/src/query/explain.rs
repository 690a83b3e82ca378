//! Why a query did not match: the clauses of its tree that failed on a document, with the
//! terms that were missing or the excluded terms that were found. Pure data; the CLI renders
//! it against the query's source (every clause keeps its span).

use std::ops::Range;

use serde::Serialize;

use super::eval::{self, FieldText};
use super::parser::{Leaf, Node, Term};
use super::{Document, Hit, Query};

/// A clause of a query that failed on a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unmet {
    /// Byte range of the clause in the query source.
    pub span: Range<usize>,
    /// The clause as written, whitespace collapsed.
    pub clause: String,
    pub reason: Reason,
}

/// Why a clause failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Reason {
    /// None of these terms (a term, or the entries of an alias or an OR of terms) was found in
    /// the fields the clause looks at.
    Missing { terms: Vec<String> },
    /// A clause under NOT was found: these are its hits.
    Excluded { hits: Vec<Hit> },
    /// Both sides of a NEAR were found, but never within `distance` words of each other.
    TooFar { distance: usize },
    /// A group of alternatives (OR) of which none held; why each failed.
    NoAlternative { alternatives: Vec<Unmet> },
    /// A group whose parts must all hold (AND); the parts that did not.
    Incomplete { parts: Vec<Unmet> },
}

impl Query {
    /// The clauses that kept the query from matching `document`, outermost first: for a
    /// top-level AND, each failed part; empty when the query matches.
    pub fn explain_failure(&self, document: &Document) -> Vec<Unmet> {
        let explainer = Explainer {
            source: &self.source,
            terms: &self.terms,
            texts: &document.texts,
        };
        if explainer.holds(&self.root) {
            return Vec::new();
        }
        match &self.root {
            Node::And { children, .. } => children
                .iter()
                .filter(|child| !explainer.holds(child))
                .map(|child| explainer.unmet(child))
                .collect(),
            root => vec![explainer.unmet(root)],
        }
    }
}

struct Explainer<'a> {
    source: &'a str,
    terms: &'a [Term],
    texts: &'a [FieldText<'a>],
}

impl Explainer<'_> {
    fn holds(&self, node: &Node) -> bool {
        eval::evaluate(
            node,
            self.terms,
            self.texts,
            &eval::anywhere,
            false,
            &mut Vec::new(),
        )
    }

    /// Why `node`, which does not hold, failed.
    fn unmet(&self, node: &Node) -> Unmet {
        let span = node.span();
        let clause = self.source[span.clone()]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let reason = match node {
            Node::Term { .. } => Reason::Missing {
                terms: self.term_names(node),
            },
            Node::Or { .. } if is_term_list(node) => Reason::Missing {
                terms: self.term_names(node),
            },
            Node::Or { children, .. } => Reason::NoAlternative {
                alternatives: children.iter().map(|child| self.unmet(child)).collect(),
            },
            Node::And { children, .. } => Reason::Incomplete {
                parts: children
                    .iter()
                    .filter(|child| !self.holds(child))
                    .map(|child| self.unmet(child))
                    .collect(),
            },
            Node::Not { child, .. } => {
                let mut found = Vec::new();
                eval::evaluate(
                    child,
                    self.terms,
                    self.texts,
                    &eval::anywhere,
                    true,
                    &mut found,
                );
                Reason::Excluded {
                    hits: eval::hits(&mut found, self.terms, self.texts),
                }
            }
            Node::Near {
                left,
                right,
                distance,
                ..
            } => {
                let present = |leaves: &[Leaf]| {
                    leaves.iter().any(|leaf| {
                        let term = Node::Term {
                            leaf: *leaf,
                            span: 0..0,
                        };
                        self.holds(&term)
                    })
                };
                let names = |leaves: &[Leaf]| {
                    let mut names: Vec<String> = Vec::new();
                    for leaf in leaves {
                        push_unique(&mut names, &self.terms[leaf.term].written);
                    }
                    names
                };
                if !present(left) {
                    Reason::Missing { terms: names(left) }
                } else if !present(right) {
                    Reason::Missing {
                        terms: names(right),
                    }
                } else {
                    Reason::TooFar {
                        distance: *distance,
                    }
                }
            }
        };
        Unmet {
            span,
            clause,
            reason,
        }
    }

    /// The written terms of a term or an OR of terms, each once.
    fn term_names(&self, node: &Node) -> Vec<String> {
        let mut names = Vec::new();
        let mut stack = vec![node];
        while let Some(node) = stack.pop() {
            match node {
                Node::Term { leaf, .. } => push_unique(&mut names, &self.terms[leaf.term].written),
                Node::Or { children, .. } => stack.extend(children.iter().rev()),
                _ => {}
            }
        }
        names
    }
}

/// A term, or an OR of such (an alias, a group of aliases and words).
fn is_term_list(node: &Node) -> bool {
    match node {
        Node::Term { .. } => true,
        Node::Or { children, .. } => children.iter().all(is_term_list),
        _ => false,
    }
}

fn push_unique(names: &mut Vec<String>, name: &str) {
    if !names.iter().any(|known| known == name) {
        names.push(name.to_string());
    }
}
