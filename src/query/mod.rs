//! The topic query language: lexer, parser, compiled matcher and explanations. Pure: no I/O.
//!
//! STUB: the interface below is fixed; the bodies are being written.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A field of an item that a query term can be scoped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    Title,
    Summary,
    Content,
    Link,
    Author,
    Category,
    Feed,
}

/// The item fields a query is evaluated over, borrowed from the caller's item.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fields<'a> {
    pub title: &'a str,
    pub summary: &'a str,
    pub content: &'a str,
    pub link: &'a str,
    pub authors: &'a [String],
    pub categories: &'a [String],
    pub feed: &'a str,
}

/// An item prepared for matching: every field folded and tokenized once, then evaluated
/// against every topic.
#[derive(Debug, Clone)]
pub struct Document {}

impl Document {
    pub fn new(fields: &Fields<'_>) -> Document {
        let _ = fields;
        todo!()
    }
}

/// A syntax or alias error in a query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    /// Byte offset into the query source where the problem is.
    pub offset: usize,
    pub message: String,
}

/// One reason a query matched: the term as written in the query (an alias entry for `@alias`),
/// the field it matched in, and a short snippet of the original text around the match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    pub term: String,
    pub field: Field,
    pub snippet: String,
}

/// A compiled query.
#[derive(Debug, Clone)]
pub struct Query {}

impl Query {
    /// Parses and compiles `source`, expanding `@name` from `aliases`.
    pub fn compile(
        source: &str,
        aliases: &BTreeMap<String, Vec<String>>,
    ) -> Result<Query, QueryError> {
        let _ = (source, aliases);
        todo!()
    }

    /// Evaluates the query: `Some(hits)` when it matches (hits non-empty), `None` otherwise.
    pub fn evaluate(&self, document: &Document) -> Option<Vec<Hit>> {
        let _ = document;
        todo!()
    }
}
