//! Warnings about queries that compile but probably do not say what their author meant:
//! a lower-case `and`, `or`, `not` or `near` between terms is matched as a word, not used as
//! an operator. Pure, like the rest of the query language.

use super::lexer::{LexemeKind, lex};

/// A likely mistake in a query that still compiles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryLint {
    /// Byte offset into the query source.
    pub offset: usize,
    pub message: String,
}

/// The warnings for `source` (none when it does not even lex: the compiler reports that).
pub fn lint(source: &str) -> Vec<QueryLint> {
    let Ok(lexemes) = lex(source) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for (idx, lexeme) in lexemes.iter().enumerate() {
        let LexemeKind::Word(word) = &lexeme.kind else {
            continue;
        };
        let Some(operator) = meant_operator(word) else {
            continue;
        };
        // A word scoped by a field (`title:and`) is a term on purpose.
        let scoped = idx > 0 && matches!(lexemes[idx - 1].kind, LexemeKind::Field(_));
        let after_term = idx > 0
            && matches!(
                lexemes[idx - 1].kind,
                LexemeKind::Word(_)
                    | LexemeKind::Phrase(_)
                    | LexemeKind::Alias(_)
                    | LexemeKind::CloseParen
            );
        let before_term = lexemes.get(idx + 1).is_some_and(|next| {
            matches!(
                next.kind,
                LexemeKind::Word(_)
                    | LexemeKind::Phrase(_)
                    | LexemeKind::Alias(_)
                    | LexemeKind::Field(_)
                    | LexemeKind::OpenParen
                    | LexemeKind::Not
            )
        });
        if !scoped && after_term && before_term {
            found.push(QueryLint {
                offset: lexeme.span.start,
                message: format!(
                    "`{word}` between terms is matched as a word; operators are upper-case: write `{operator}` (or \"{word}\" to match the word)"
                ),
            });
        }
    }
    found
}

/// The operator a word that is not upper-case probably means: `and` → `AND`, `near/5` →
/// `NEAR/5`.
fn meant_operator(word: &str) -> Option<String> {
    let upper = word.to_ascii_uppercase();
    if upper == word {
        return None;
    }
    let is_near = upper == "NEAR"
        || upper
            .strip_prefix("NEAR/")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    (matches!(upper.as_str(), "AND" | "OR" | "NOT") || is_near).then_some(upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(source: &str, expected: &[&str]) {
        let words: Vec<&str> = lint(source)
            .iter()
            .map(|lint| {
                let end = source[lint.offset..]
                    .find(' ')
                    .map_or(source.len(), |n| lint.offset + n);
                &source[lint.offset..end]
            })
            .collect();
        assert_eq!(words, expected, "{source}");
    }

    #[test]
    fn lower_case_operators_between_terms_are_flagged() {
        check("missile and sale", &["and"]);
        check("\"spy satellite\" or @north_korea", &["or"]);
        check("(a OR b) not c", &["not"]);
        check("missile Near/5 sale", &["Near/5"]);
        check("a near (b OR c)", &["near"]);
        check("x And title:y", &["And"]);
        let lints = lint("missile and sale");
        assert_eq!(lints[0].offset, 8);
        assert!(lints[0].message.contains("write `AND`"), "{lints:?}");
    }

    #[test]
    fn operators_and_words_elsewhere_are_not() {
        check("missile AND sale", &[]);
        check("and missile", &[]);
        check("missile and", &[]);
        check("title:and OR x", &[]);
        check("\"rock and roll\"", &[]);
        check("android or", &[]);
        check("nearby sale", &[]);
        check("unclosed \"quote and x", &[]);
    }
}
