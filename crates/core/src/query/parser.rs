//! The query parser: lexemes to the compiled tree that `eval` walks. It expands aliases, folds
//! and tokenizes every term once (with `text::tokenize`, the same code that tokenizes items),
//! and rejects queries that could never mean what their author wanted. Every node keeps its
//! source span so that errors (and later, explanations) can point into the query.
//!
//! Grammar, loosest first (precedence NOT > NEAR > AND > OR):
//!
//! ```text
//! or      = and ("OR" and)*
//! and     = near (["AND"] near)*          juxtaposition is an implicit AND
//! near    = unary ["NEAR/n" unary]        operands: terms, aliases, ORs of those
//! unary   = "NOT" unary | primary
//! primary = word | "phrase" | @alias | field: primary | "(" or ")"
//! ```

use std::collections::BTreeMap;
use std::ops::Range;

use super::lexer::{Lexeme, LexemeKind, is_quote, lex};
use super::{Field, MAX_TERMS, QueryError};
use crate::text;

/// How deep parentheses and NOTs may nest (keeps the recursive parser off the stack limit).
const MAX_DEPTH: usize = 64;

/// A compiled query tree. Leaves refer to `Term`s by index into the query's term table.
#[derive(Debug, Clone)]
pub(super) enum Node {
    Term {
        leaf: Leaf,
        span: Range<usize>,
    },
    And {
        children: Vec<Node>,
        span: Range<usize>,
    },
    /// Also what `@alias` becomes; its span is then the `@alias`.
    Or {
        children: Vec<Node>,
        span: Range<usize>,
    },
    Not {
        child: Box<Node>,
        span: Range<usize>,
    },
    /// Some occurrence of a left leaf within `distance` tokens of some occurrence of a right
    /// leaf, in the same field.
    Near {
        left: Vec<Leaf>,
        right: Vec<Leaf>,
        distance: usize,
        span: Range<usize>,
    },
}

/// A term scoped to the fields it may match in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Leaf {
    /// Index into the query's term table.
    pub term: usize,
    pub fields: FieldSet,
}

/// One distinct term of a query: a word, phrase or prefix (aliases expand to several).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Term {
    /// The term as written: the word (with its `*`), the phrase without quotes, or the alias
    /// entry. This is what a `Hit` reports.
    pub written: String,
    /// The folded tokens that must match consecutive tokens of a field.
    pub parts: Vec<Part>,
    /// Whether the last part matches as a prefix (`missil*`).
    pub prefix: bool,
}

/// One folded token of a term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Part {
    pub folded: String,
    /// A CJK run: matches a CJK token that contains it (but see the two fields below).
    pub cjk: bool,
    /// Written directly after the previous part, with no space or punctuation between
    /// (`発射` in `ICBM発射`): a CJK part must then start the text's run, so that the two are
    /// adjacent in the text too.
    pub attached_before: bool,
    /// Written directly before the next part (`北朝鮮の` in `北朝鮮のICBM`): a CJK part must
    /// then end the text's run.
    pub attached_after: bool,
}

/// A set of fields, as a bit mask over `Field::ALL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FieldSet(u8);

impl FieldSet {
    /// Where a term without a `field:` prefix looks.
    pub const DEFAULT: FieldSet = FieldSet(
        1 << Field::Title as u8
            | 1 << Field::Summary as u8
            | 1 << Field::Content as u8
            | 1 << Field::Article as u8,
    );

    pub fn only(field: Field) -> FieldSet {
        FieldSet(1 << field as u8)
    }

    pub fn contains(self, field: Field) -> bool {
        self.0 & (1 << field as u8) != 0
    }
}

impl Node {
    pub fn span(&self) -> Range<usize> {
        match self {
            Node::Term { span, .. }
            | Node::And { span, .. }
            | Node::Or { span, .. }
            | Node::Not { span, .. }
            | Node::Near { span, .. } => span.clone(),
        }
    }
}

/// Parses `source` into a tree and its term table.
pub(super) fn parse(
    source: &str,
    aliases: &BTreeMap<String, Vec<String>>,
) -> Result<(Node, Vec<Term>), QueryError> {
    let lexemes = lex(source)?;
    if lexemes.is_empty() {
        return Err(QueryError::new(0, "empty query"));
    }
    let mut parser = Parser {
        source,
        lexemes,
        position: 0,
        aliases,
        terms: Vec::new(),
        n_leaves: 0,
        field: None,
        depth: 0,
    };
    let root = parser.parse_or()?;
    if let Some(lexeme) = parser.peek() {
        // Every other lexeme is consumed or rejected by `parse_or`.
        return Err(QueryError::new(
            lexeme.span.start,
            "unmatched closing parenthesis",
        ));
    }
    if let Err(offset) = check_positive(&root) {
        return Err(QueryError::new(
            offset,
            "a query needs at least one positive term (exclude with AND NOT)",
        ));
    }
    Ok((root, parser.terms))
}

/// The error for a query over [`MAX_TERMS`].
fn too_many_terms() -> String {
    format!(
        "more than {MAX_TERMS} terms (the most a topic may have, counting a term each time it is written and an alias's entries each time it is used); split the topic"
    )
}

struct Parser<'a> {
    source: &'a str,
    lexemes: Vec<Lexeme>,
    /// Index of the next lexeme.
    position: usize,
    aliases: &'a BTreeMap<String, Vec<String>>,
    /// The term table, deduplicated by `Term::written`.
    terms: Vec<Term>,
    /// Leaves made so far (every term each time it is written, alias entries each time the
    /// alias is used); at most [`MAX_TERMS`].
    n_leaves: usize,
    /// The `field:` whose term or group is being parsed.
    field: Option<Field>,
    /// Current nesting of parentheses and NOTs.
    depth: usize,
}

impl Parser<'_> {
    fn parse_or(&mut self) -> Result<Node, QueryError> {
        let first = self.parse_and()?;
        let mut children = vec![first];
        while let Some(operator) = self.eat(|kind| *kind == LexemeKind::Or) {
            self.expect_operand_after(&operator, "OR")?;
            children.push(self.parse_and()?);
        }
        Ok(combine(children, Combine::Or))
    }

    fn parse_and(&mut self) -> Result<Node, QueryError> {
        let first = self.parse_near()?;
        let mut children = vec![first];
        loop {
            if let Some(operator) = self.eat(|kind| *kind == LexemeKind::And) {
                self.expect_operand_after(&operator, "AND")?;
            } else if !self.at_operand() {
                break;
            }
            children.push(self.parse_near()?);
        }
        Ok(combine(children, Combine::And))
    }

    fn parse_near(&mut self) -> Result<Node, QueryError> {
        let left = self.parse_unary()?;
        let Some(operator) = self.eat(|kind| matches!(kind, LexemeKind::Near(_))) else {
            return Ok(left);
        };
        let LexemeKind::Near(distance) = operator.kind else {
            unreachable!("eat matched a NEAR lexeme");
        };
        let written = &self.source[operator.span.clone()];
        self.expect_operand_after(&operator, written)?;
        let right = self.parse_unary()?;
        if let Some(next) = self.peek()
            && matches!(next.kind, LexemeKind::Near(_))
        {
            return Err(QueryError::new(
                next.span.start,
                "cannot chain NEAR: join two NEARs with AND",
            ));
        }
        let span = left.span().start..right.span().end;
        Ok(Node::Near {
            left: near_operand(&left)?,
            right: near_operand(&right)?,
            distance,
            span,
        })
    }

    fn parse_unary(&mut self) -> Result<Node, QueryError> {
        let Some(operator) = self.eat(|kind| *kind == LexemeKind::Not) else {
            return self.parse_primary();
        };
        self.expect_operand_after(&operator, "NOT")?;
        self.enter(&operator)?;
        let child = self.parse_unary()?;
        self.depth -= 1;
        let span = operator.span.start..child.span().end;
        Ok(Node::Not {
            child: Box::new(child),
            span,
        })
    }

    fn parse_primary(&mut self) -> Result<Node, QueryError> {
        let Some(lexeme) = self.next() else {
            return Err(QueryError::new(self.source.len(), "expected a term"));
        };
        let span = lexeme.span.clone();
        match lexeme.kind {
            LexemeKind::Word(word) => {
                if word.len() > 1
                    && word.starts_with('-')
                    && word[1..].starts_with(char::is_alphanumeric)
                {
                    return Err(QueryError::new(
                        span.start,
                        "a leading - does not exclude; write AND NOT instead",
                    ));
                }
                let leaf = self.leaf(&word, span.start, &format!("\"{word}\""))?;
                Ok(Node::Term { leaf, span })
            }
            LexemeKind::Phrase(phrase) => {
                let written = phrase.split_whitespace().collect::<Vec<_>>().join(" ");
                if written.is_empty() {
                    return Err(QueryError::new(span.start, "empty phrase"));
                }
                let leaf = self.leaf(&written, span.start, &format!("\"{phrase}\""))?;
                Ok(Node::Term { leaf, span })
            }
            LexemeKind::Alias(name) => self.alias(&name, span),
            LexemeKind::OpenParen => {
                if self.peek().is_none() {
                    return Err(QueryError::new(span.start, "unclosed parenthesis"));
                }
                if self.eat(|kind| *kind == LexemeKind::CloseParen).is_some() {
                    return Err(QueryError::new(span.start, "empty parentheses"));
                }
                self.enter(&lexeme)?;
                let inner = self.parse_or()?;
                self.depth -= 1;
                let Some(close) = self.eat(|kind| *kind == LexemeKind::CloseParen) else {
                    return Err(QueryError::new(span.start, "unclosed parenthesis"));
                };
                // The group's span covers its parentheses.
                Ok(with_span(inner, span.start..close.span.end))
            }
            LexemeKind::Field(field) => {
                if let Some(outer) = self.field {
                    return Err(QueryError::new(
                        span.start,
                        format!("{}: cannot be used inside {}:", field.name(), outer.name()),
                    ));
                }
                let starts_term = self.peek().is_some_and(|next| {
                    matches!(
                        next.kind,
                        LexemeKind::Word(_)
                            | LexemeKind::Phrase(_)
                            | LexemeKind::Alias(_)
                            | LexemeKind::OpenParen
                    )
                });
                if !starts_term {
                    return Err(QueryError::new(
                        span.start,
                        format!(
                            "expected a term, phrase, alias or group after {}:",
                            field.name()
                        ),
                    ));
                }
                self.field = Some(field);
                let inner = self.parse_primary();
                self.field = None;
                let inner = inner?;
                let end = inner.span().end;
                Ok(with_span(inner, span.start..end))
            }
            LexemeKind::CloseParen => {
                Err(QueryError::new(span.start, "unmatched closing parenthesis"))
            }
            LexemeKind::And | LexemeKind::Or | LexemeKind::Not | LexemeKind::Near(_) => {
                let written = &self.source[span.clone()];
                Err(QueryError::new(
                    span.start,
                    format!("expected a term before {written}"),
                ))
            }
        }
    }

    /// Expands `@name` to an OR of its entries.
    fn alias(&mut self, name: &str, span: Range<usize>) -> Result<Node, QueryError> {
        let Some(entries) = self.aliases.get(name) else {
            let known = if self.aliases.is_empty() {
                "no aliases are defined".to_string()
            } else {
                let names: Vec<&str> = self.aliases.keys().map(String::as_str).collect();
                format!("known: {}", names.join(", "))
            };
            return Err(QueryError::new(
                span.start,
                format!("unknown alias @{name} ({known})"),
            ));
        };
        if entries.is_empty() {
            return Err(QueryError::new(
                span.start,
                format!("alias @{name} has no entries"),
            ));
        }
        if self.n_leaves + entries.len() > MAX_TERMS {
            return Err(QueryError::new(
                span.start,
                format!(
                    "{}; @{name} adds its {} entries each time it is used",
                    too_many_terms(),
                    entries.len()
                ),
            ));
        }
        let mut children = Vec::with_capacity(entries.len());
        for entry in entries {
            // An entry may be quoted like a phrase in a query (`"Kim Jong*"`).
            let written = strip_quotes(entry.trim());
            let leaf = self.leaf(written, span.start, &format!("\"{entry}\" in @{name}"))?;
            children.push(Node::Term {
                leaf,
                span: span.clone(),
            });
        }
        Ok(Node::Or { children, span })
    }

    /// Interns the term `written` (a trailing `*` makes it a prefix) and scopes it to the
    /// current field. `offset` and `described` are for the error when it has nothing to match.
    fn leaf(&mut self, written: &str, offset: usize, described: &str) -> Result<Leaf, QueryError> {
        // `*sat` would otherwise match as `sat`: punctuation is not part of a token.
        if written.starts_with('*') && !written.trim_matches('*').trim().is_empty() {
            return Err(QueryError::new(
                offset,
                format!(
                    "a leading * in {described} is not supported: * only ends a prefix (missil*); word endings are not matched"
                ),
            ));
        }
        self.n_leaves += 1;
        if self.n_leaves > MAX_TERMS {
            return Err(QueryError::new(offset, too_many_terms()));
        }
        let fields = self.field.map_or(FieldSet::DEFAULT, FieldSet::only);
        if let Some(term) = self.terms.iter().position(|term| term.written == written) {
            return Ok(Leaf { term, fields });
        }
        // Also a term of invisible characters only (`\u{345}`): it would match every text.
        let Some(term) = compile_term(written) else {
            let body = written.trim_end_matches('*');
            let message = if body.len() < written.len() && body.trim().is_empty() {
                format!("expected a word before * in {described}")
            } else {
                format!("{described} has no letters or digits to match")
            };
            return Err(QueryError::new(offset, message));
        };
        self.terms.push(term);
        Ok(Leaf {
            term: self.terms.len() - 1,
            fields,
        })
    }

    fn peek(&self) -> Option<&Lexeme> {
        self.lexemes.get(self.position)
    }

    fn next(&mut self) -> Option<Lexeme> {
        let lexeme = self.lexemes.get(self.position).cloned();
        self.position += usize::from(lexeme.is_some());
        lexeme
    }

    /// Consumes the next lexeme if it is of the wanted kind.
    fn eat(&mut self, wanted: impl Fn(&LexemeKind) -> bool) -> Option<Lexeme> {
        if self.peek().is_some_and(|lexeme| wanted(&lexeme.kind)) {
            self.next()
        } else {
            None
        }
    }

    /// Whether the next lexeme can start an operand (an implicit AND continues).
    fn at_operand(&self) -> bool {
        self.peek().is_some_and(|lexeme| {
            matches!(
                lexeme.kind,
                LexemeKind::Word(_)
                    | LexemeKind::Phrase(_)
                    | LexemeKind::Alias(_)
                    | LexemeKind::Field(_)
                    | LexemeKind::OpenParen
                    | LexemeKind::Not
            )
        })
    }

    fn expect_operand_after(&self, operator: &Lexeme, written: &str) -> Result<(), QueryError> {
        if self.at_operand() {
            Ok(())
        } else {
            Err(QueryError::new(
                operator.span.start,
                format!("expected a term after {written}"),
            ))
        }
    }

    /// Goes one level deeper, refusing absurd nesting.
    fn enter(&mut self, lexeme: &Lexeme) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(QueryError::new(
                lexeme.span.start,
                format!("query is nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        Ok(())
    }
}

/// Folds and tokenizes one term as written (a trailing `*` makes its last word a prefix);
/// `None` when it has nothing to match.
pub(super) fn compile_term(written: &str) -> Option<Term> {
    let body = written.trim_end_matches('*');
    let tokens = text::tokenize(body);
    let parts: Vec<Part> = tokens
        .iter()
        .enumerate()
        .map(|(index, token)| Part {
            folded: token.folded.clone(),
            cjk: token.cjk,
            attached_before: index > 0 && tokens[index - 1].end == token.start,
            attached_after: tokens
                .get(index + 1)
                .is_some_and(|next| next.start == token.end),
        })
        .collect();
    if parts.is_empty() {
        return None;
    }
    Some(Term {
        written: written.to_string(),
        parts,
        prefix: body.len() < written.len(),
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Combine {
    And,
    Or,
}

/// `text` without the quotes around it, if it has some (of any kind, as in a query).
fn strip_quotes(text: &str) -> &str {
    let mut chars = text.chars();
    match (chars.next(), chars.next_back()) {
        (Some(first), Some(last)) if is_quote(first) && is_quote(last) => chars.as_str().trim(),
        _ => text,
    }
}

/// One child stays itself; several become an AND or OR node.
fn combine(mut children: Vec<Node>, how: Combine) -> Node {
    if children.len() == 1 {
        return children.pop().expect("one child");
    }
    let span = children[0].span().start..children[children.len() - 1].span().end;
    match how {
        Combine::And => Node::And { children, span },
        Combine::Or => Node::Or { children, span },
    }
}

/// Replaces the span of a node (a group's span includes its parentheses or `field:`).
fn with_span(mut node: Node, new_span: Range<usize>) -> Node {
    match &mut node {
        Node::Term { span, .. }
        | Node::And { span, .. }
        | Node::Or { span, .. }
        | Node::Not { span, .. }
        | Node::Near { span, .. } => *span = new_span,
    }
    node
}

/// The leaves of a NEAR operand: a term, or an OR (an alias, a group) of terms.
fn near_operand(node: &Node) -> Result<Vec<Leaf>, QueryError> {
    fn collect(node: &Node, leaves: &mut Vec<Leaf>) -> Result<(), usize> {
        match node {
            Node::Term { leaf, .. } => {
                leaves.push(*leaf);
                Ok(())
            }
            Node::Or { children, .. } => {
                children.iter().try_for_each(|child| collect(child, leaves))
            }
            Node::And { span, .. } | Node::Not { span, .. } | Node::Near { span, .. } => {
                Err(span.start)
            }
        }
    }
    let mut leaves = Vec::new();
    collect(node, &mut leaves).map_err(|offset| {
        QueryError::new(
            offset,
            "the operands of NEAR must be words, phrases, prefixes, aliases or an OR of those",
        )
    })?;
    Ok(leaves)
}

/// Checks that a match always involves some positive term (so `evaluate` always has a hit to
/// report); on failure, the offset of the part that can match on negation alone.
fn check_positive(node: &Node) -> Result<(), usize> {
    match node {
        Node::Term { .. } | Node::Near { .. } => Ok(()),
        Node::Not { span, .. } => Err(span.start),
        Node::And { children, .. } => {
            let mut first_error = None;
            for child in children {
                match check_positive(child) {
                    Ok(()) => return Ok(()),
                    Err(offset) => {
                        first_error.get_or_insert(offset);
                    }
                }
            }
            Err(first_error.unwrap_or(node.span().start))
        }
        Node::Or { children, .. } => children.iter().try_for_each(check_positive),
    }
}
