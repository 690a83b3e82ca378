//! The topic query language: lexer, parser, compiled matcher and hit explanations.
//!
//! This module owns what a topic's `query` means: its syntax (`lexer`), its compiled tree
//! with alias expansion and source spans (`parser`), and how that tree is matched against an
//! item's fields (`eval`). Words are folded and tokenized by `crate::text` on both sides, so
//! a query and an item always agree on what a word is.
//!
//! It must stay pure: no I/O, no clock, no logging, no knowledge of feeds, storage or alerts.
//! Callers compile each topic once (`Query::compile`), prepare each item once
//! (`Document::new`), then evaluate every topic against it: one by one (`Query::evaluate`), or
//! all at once behind a multi-pattern prefilter that never changes a result (`QuerySet`). A
//! query that does not match can say which of its clauses failed (`Query::explain_failure`).
//!
//! Semantics in brief (see `parser` for the grammar):
//! - `word` matches a whole token (`missile` does not match `missiles`), `prefix*` the start of
//!   one, `"a phrase"` (or any term with several tokens) consecutive tokens of one field; terms
//!   in Chinese, Japanese or Korean (or Thai, Lao, Khmer, Burmese: the "CJK runs" of
//!   `crate::text`) match by substring within a run of those scripts, except
//!   that a CJK part written directly against another part of its term (`北朝鮮のICBM`) must
//!   end (or start) the run in the text, so that the two are adjacent there too. A trailing
//!   `*` makes the last word a prefix, in quotes and alias entries too. Any of `" “ ” „ ‟ « »`
//!   opens or closes a phrase. Punctuation splits tokens: `US` does not match `U.S.`, which is
//!   the phrase `u s`.
//! - `@alias` is an OR of the alias's entries; each entry is a term (`Kim Jong*` is a phrase
//!   whose last word is a prefix), quoted or not.
//! - Precedence: NOT > NEAR > AND (or juxtaposition) > OR. `a NEAR/n b`: at most `n` tokens
//!   strictly between an occurrence of `a` and one of `b`, in either order, in the same field;
//!   one occurrence is never near itself. A whole run of CJK characters between spaces or
//!   punctuation is one token, so NEAR inside unspaced Chinese or Japanese text is coarse.
//! - `field:` scopes a term or group; without one, a term looks in title, summary, content and
//!   article (the linked page's text, when `fetch_article` fetched it).
//! - A match reports its positive terms (never those under NOT), one hit per (term, field),
//!   ordered by field (title first) and then by position.

mod eval;
mod explain;
mod lexer;
mod lint;
mod parser;
mod set;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use explain::{Reason, Unmet};
pub use lint::{QueryLint, lint};
pub use set::QuerySet;

/// A field of an item that a query term can be scoped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    Title,
    Summary,
    Content,
    Article,
    Link,
    Author,
    Category,
    Feed,
}

impl Field {
    /// Every field, in the order hits are reported.
    pub const ALL: [Field; 8] = [
        Field::Title,
        Field::Summary,
        Field::Content,
        Field::Article,
        Field::Link,
        Field::Author,
        Field::Category,
        Field::Feed,
    ];

    /// The name used in queries (`title:`) and in serialized hits.
    pub fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Summary => "summary",
            Field::Content => "content",
            Field::Article => "article",
            Field::Link => "link",
            Field::Author => "author",
            Field::Category => "category",
            Field::Feed => "feed",
        }
    }

    /// The field called `name` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL
            .into_iter()
            .find(|field| field.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Field {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// The item fields a query is evaluated over, borrowed from the caller's item.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fields<'a> {
    pub title: &'a str,
    pub summary: &'a str,
    pub content: &'a str,
    pub article: &'a str,
    pub link: &'a str,
    pub authors: &'a [String],
    pub categories: &'a [String],
    pub feed: &'a str,
}

/// An item prepared for matching: every field folded once (and tokenized and indexed once, on
/// the first evaluation that needs it), then evaluated against every topic.
#[derive(Debug, Clone)]
pub struct Document<'a> {
    /// One entry per non-empty text, in `Field::ALL` order (each author and each category is
    /// its own text, so a phrase never spans two of them).
    texts: Vec<eval::FieldText<'a>>,
}

impl<'a> Document<'a> {
    pub fn new(fields: &Fields<'a>) -> Document<'a> {
        let single = [
            (Field::Title, fields.title),
            (Field::Summary, fields.summary),
            (Field::Content, fields.content),
            (Field::Article, fields.article),
            (Field::Link, fields.link),
        ];
        let authors = fields
            .authors
            .iter()
            .map(|author| (Field::Author, author.as_str()));
        let categories = fields
            .categories
            .iter()
            .map(|category| (Field::Category, category.as_str()));
        let texts = single
            .into_iter()
            .chain(authors)
            .chain(categories)
            .chain([(Field::Feed, fields.feed)])
            .filter_map(|(field, text)| eval::FieldText::new(field, text))
            .collect();
        Document { texts }
    }
}

/// The most terms a query may have: every term each time it is written, and an alias's
/// entries each time the alias is used (the size of the compiled tree). `Query::compile`
/// stops at the first term over it.
pub const MAX_TERMS: usize = 5_000;

/// A syntax or alias error in a query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    /// Byte offset into the query source where the problem is.
    pub offset: usize,
    pub message: String,
}

impl QueryError {
    fn new(offset: usize, message: impl Into<String>) -> QueryError {
        QueryError {
            offset,
            message: message.into(),
        }
    }
}

/// One reason a query matched: the term as written in the query (an alias entry for `@alias`),
/// the field it matched in, the words of the text it matched (`satellite` for `satellit*`;
/// empty in hits stored before they were kept), and a short snippet of the original text
/// around the match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    pub term: String,
    pub field: Field,
    #[serde(default)]
    pub found: String,
    pub snippet: String,
}

/// A compiled query.
#[derive(Debug, Clone)]
pub struct Query {
    /// The source as written, for messages and explanations by span.
    source: String,
    /// The compiled tree; every node keeps its span in `source`.
    root: parser::Node,
    /// The distinct terms the tree's leaves refer to, by index.
    terms: Vec<parser::Term>,
}

impl Query {
    /// Parses and compiles `source`, expanding `@name` from `aliases`.
    pub fn compile(
        source: &str,
        aliases: &BTreeMap<String, Vec<String>>,
    ) -> Result<Query, QueryError> {
        let (root, terms) = parser::parse(source, aliases)?;
        Ok(Query {
            source: source.to_string(),
            root,
            terms,
        })
    }

    /// Evaluates the query: `Some(hits)` when it matches (hits non-empty), `None` otherwise.
    pub fn evaluate(&self, document: &Document) -> Option<Vec<Hit>> {
        self.evaluate_where(document, &eval::anywhere)
    }

    /// `evaluate`, searching for a term only in the texts where `may_occur(term, text)`.
    fn evaluate_where<F: Fn(usize, usize) -> bool>(
        &self,
        document: &Document,
        may_occur: &F,
    ) -> Option<Vec<Hit>> {
        let mut found = Vec::new();
        let texts = &document.texts;
        if !eval::evaluate(&self.root, &self.terms, texts, may_occur, true, &mut found) {
            return None;
        }
        let hits = eval::hits(&mut found, &self.terms, &document.texts);
        debug_assert!(!hits.is_empty(), "compile guarantees a positive term");
        Some(hits)
    }

    /// The query as written (explanations point into it by byte span).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Every distinct term the query can match, as written (aliases expanded to their entries),
    /// in order of first appearance.
    pub fn terms(&self) -> impl Iterator<Item = &str> {
        self.terms.iter().map(|term| term.written.as_str())
    }
}

/// The byte ranges of `text` (such as a hit's snippet) where any of `terms` occurs, matched as
/// a query would match them (`terms` as written in a query or a hit), sorted and merged: what
/// to highlight.
pub fn highlight(text: &str, terms: &[&str]) -> Vec<std::ops::Range<usize>> {
    eval::highlight(text, terms)
}
