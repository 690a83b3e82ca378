//! The query lexer: source text to tokens with byte spans. It knows the surface syntax
//! (quotes, parentheses, `@alias`, `field:`, upper-case operators) and nothing about meaning:
//! terms stay raw text here and are tokenized by the parser.

use std::ops::Range;

use super::{Field, QueryError};

/// One lexical token of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Lexeme {
    pub kind: LexemeKind,
    /// Byte range in the source (for a phrase, including its quotes).
    pub span: Range<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum LexemeKind {
    OpenParen,
    CloseParen,
    /// A bare word as written, perhaps ending with `*`.
    Word(String),
    /// The text between the quotes of a phrase.
    Phrase(String),
    /// The name after `@`.
    Alias(String),
    /// A `field:` prefix.
    Field(Field),
    And,
    Or,
    Not,
    /// `NEAR/n` with its distance.
    Near(usize),
}

/// Splits `source` into lexemes.
pub(super) fn lex(source: &str) -> Result<Vec<Lexeme>, QueryError> {
    let mut lexemes = Vec::new();
    let mut offset = 0;
    // The field just read: the next word is then a term, never another field
    // (`link:https://…`), and a known field there is an error (`title:summary:x`).
    let mut after_field: Option<Field> = None;
    while let Some(c) = source[offset..].chars().next() {
        let start = offset;
        if c.is_whitespace() {
            offset += c.len_utf8();
            continue;
        }
        let was_after_field = std::mem::take(&mut after_field);
        match c {
            '(' | ')' => {
                offset += 1;
                let kind = if c == '(' {
                    LexemeKind::OpenParen
                } else {
                    LexemeKind::CloseParen
                };
                lexemes.push(Lexeme {
                    kind,
                    span: start..offset,
                });
            }
            _ if is_quote(c) => {
                // Any quote closes any other: keyboards and word processors mix them.
                let inner_start = start + c.len_utf8();
                let Some(inner_len) = source[inner_start..].find(is_quote) else {
                    return Err(QueryError::new(start, "unclosed quote"));
                };
                let closing = source[inner_start + inner_len..].chars().next();
                offset = inner_start + inner_len + closing.map_or(0, char::len_utf8);
                lexemes.push(Lexeme {
                    kind: LexemeKind::Phrase(source[inner_start..inner_start + inner_len].into()),
                    span: start..offset,
                });
            }
            _ => {
                let end = word_end(source, start);
                let word = &source[start..end];
                offset = end;
                if let Some(name) = word.strip_prefix('@') {
                    if name.is_empty() {
                        return Err(QueryError::new(start, "expected an alias name after @"));
                    }
                    lexemes.push(Lexeme {
                        kind: LexemeKind::Alias(name.into()),
                        span: start..end,
                    });
                    continue;
                }
                if let Some(field_len) = field_prefix_len(word) {
                    let name = &word[..field_len - 1];
                    match (was_after_field, Field::from_name(name)) {
                        // After `field:`, another name with a colon is part of the term.
                        (Some(_), None) => {}
                        (Some(outer), Some(inner)) => {
                            return Err(QueryError::new(
                                start,
                                format!("{inner}: cannot be used inside {outer}:"),
                            ));
                        }
                        (None, None) => {
                            return Err(QueryError::new(
                                start,
                                format!(
                                    "unknown field {name}: (fields: {})",
                                    Field::ALL.map(Field::name).join(", ")
                                ),
                            ));
                        }
                        (None, Some(field)) => {
                            offset = start + field_len;
                            after_field = Some(field);
                            lexemes.push(Lexeme {
                                kind: LexemeKind::Field(field),
                                span: start..offset,
                            });
                            continue;
                        }
                    }
                }
                let kind = match word {
                    "AND" => LexemeKind::And,
                    "OR" => LexemeKind::Or,
                    "NOT" => LexemeKind::Not,
                    _ if word == "NEAR" || word.starts_with("NEAR/") => {
                        LexemeKind::Near(near_distance(word, start)?)
                    }
                    _ => LexemeKind::Word(word.into()),
                };
                lexemes.push(Lexeme {
                    kind,
                    span: start..end,
                });
            }
        }
    }
    Ok(lexemes)
}

/// Whether `c` opens or closes a phrase: straight, curly, low-9 and angle double quotes, in
/// any combination (`“North Korea"`, `”North Korea”`, `«North Korea»`).
pub(super) fn is_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '”' | '„' | '‟' | '«' | '»')
}

/// The end of the bare word starting at `start`: the next space, parenthesis or quote.
fn word_end(source: &str, start: usize) -> usize {
    source[start..]
        .find(|c: char| c.is_whitespace() || matches!(c, '(' | ')') || is_quote(c))
        .map_or(source.len(), |len| start + len)
}

/// The length of a `name:` prefix (colon included) when `word` starts with one. A URL scheme
/// (`https://`) is not a field.
fn field_prefix_len(word: &str) -> Option<usize> {
    let colon = word.find(':')?;
    let name = &word[..colon];
    let is_name = !name.is_empty() && name.bytes().all(|byte| byte.is_ascii_alphabetic());
    (is_name && !word[colon + 1..].starts_with("//")).then_some(colon + 1)
}

/// The `n` of `NEAR/n`.
fn near_distance(word: &str, offset: usize) -> Result<usize, QueryError> {
    let digits = word.strip_prefix("NEAR/").unwrap_or("");
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(QueryError::new(
            offset,
            "expected a number of words after NEAR/, like NEAR/5",
        ));
    }
    digits.parse().map_err(|_| {
        QueryError::new(
            offset,
            format!("distance {digits} after NEAR/ is too large"),
        )
    })
}
