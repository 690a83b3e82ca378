//! Any UTF-8 text as a topic query: it must compile or be rejected with an offset inside the
//! query, never panic; a query that compiles must evaluate the same alone and behind the
//! `QuerySet` prefilter, and explain a failure exactly when it does not match.
//!
//! Input: the query, then optionally `\u{1}` and the entries of an alias `@x` separated by
//! `\u{1}` (so alias expansion is fuzzed too). The same query also goes through the config
//! compiler as a `[[topic]]` with that alias, which maps query errors back into the TOML text.

#![no_main]

use std::collections::BTreeMap;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use watchword_core::config;
use watchword_core::query::{Document, Fields, Query, QuerySet, highlight};

fn fixed_aliases() -> BTreeMap<String, Vec<String>> {
    let entries = |list: &[&str]| list.iter().map(|entry| entry.to_string()).collect();
    BTreeMap::from([
        (
            "north_korea".to_string(),
            entries(&[
                "North Korea*",
                "N.K.",
                "DPRK",
                "Kim Jong*",
                "북한",
                "北朝鮮",
                "Северная Корея",
            ]),
        ),
        (
            "missile".to_string(),
            entries(&["missile*", "ICBM", "\"cruise missile\"", "ミサイル", "导弹"]),
        ),
    ])
}

const TITLE: &str = "North Korea’s ICBM test: Kim Jong Un watches missile launch near Pyongyang";
const SUMMARY: &str =
    "北朝鮮のICBM発射。 북한이 미사일을 발사했다. Die Rakete flog über Japan; U.S. officials said";
const CONTENT: &str = "The DPRK's Hwasong-18 solid-fuel missile; Северная Корея запустила ракету.";

fuzz_target!(|input: &str| {
    let mut parts = input.split('\u{1}');
    let source = parts.next().unwrap_or_default();
    let mut aliases = fixed_aliases();
    // The config trims alias entries; so does this, so both compile the same query.
    let alias: Vec<String> = parts.map(|entry| entry.trim().to_string()).collect();
    if !alias.is_empty() {
        aliases.insert("x".to_string(), alias.clone());
    }

    copied_text_matches(source);
    let query = match Query::compile(source, &aliases) {
        Ok(query) => query,
        Err(error) => {
            assert!(
                error.offset <= source.len(),
                "error offset {} past the end of {source:?}",
                error.offset
            );
            config_compile(source, &alias, false);
            return;
        }
    };
    assert_eq!(query.source(), source);
    let terms: Vec<&str> = query.terms().collect();

    let authors = ["Kim Jong Un".to_string()];
    let categories = ["Asia".to_string(), "北朝鮮".to_string()];
    let fixed = Fields {
        title: TITLE,
        summary: SUMMARY,
        content: CONTENT,
        article: "The launch site was Sohae; 위성 발사.",
        link: "https://example.com/news/2024/icbm?utm_source=x",
        authors: &authors,
        categories: &categories,
        feed: "Example News",
    };
    // The query's own text as an item matches many of its terms, which reaches the deeper
    // parts of evaluation (phrases, NEAR, NOT) that a fixed item rarely does.
    let own = Fields {
        title: source,
        summary: TITLE,
        ..fixed
    };
    let set = QuerySet::new(vec![query.clone()]);
    for fields in [fixed, own] {
        let document = Document::new(&fields);
        let alone = query.evaluate(&document);
        let behind_prefilter = set.evaluate(&document);
        match &alone {
            Some(hits) => {
                assert!(!hits.is_empty(), "a match without hits: {source:?}");
                assert_eq!(
                    behind_prefilter,
                    vec![(0, hits.clone())],
                    "the prefilter changed the result of {source:?}"
                );
                assert!(query.explain_failure(&document).is_empty());
                for hit in hits {
                    assert!(terms.contains(&hit.term.as_str()), "{hit:?} not a term");
                    let ranges = highlight(&hit.snippet, &terms);
                    for range in ranges {
                        assert!(hit.snippet.get(range.clone()).is_some(), "{range:?}");
                    }
                }
            }
            None => {
                assert!(
                    behind_prefilter.is_empty(),
                    "the prefilter changed the result of {source:?}"
                );
                assert!(
                    !query.explain_failure(&document).is_empty(),
                    "no reason given why {source:?} failed"
                );
            }
        }
    }
    config_compile(source, &alias, true);
});

/// The query and alias as a config file: must compile or give diagnostics, never panic; when
/// the query does not compile, a diagnostic must point into the query's string on its line.
fn config_compile(source: &str, alias: &[String], query_compiles: bool) {
    // Alternate between escaping only what must be (mostly raw text) and escaping every
    // non-ASCII character, so error offsets are mapped through both kinds of string body.
    let all = source.len() % 2 == 1;
    let mut text = String::new();
    if !alias.is_empty() {
        text.push_str("[alias]\nx = [");
        for entry in alias {
            text.push_str(&toml_string(entry, all));
            text.push_str(", ");
        }
        text.push_str("]\n");
    }
    text.push_str("\n[[topic]]\nid = \"t\"\n");
    let query_line = text.lines().count() + 1;
    text.push_str("query = ");
    text.push_str(&toml_string(source, all));
    text.push('\n');
    let (config, diagnostics) = config::compile(Path::new("/nonexistent/fuzz.toml"), &text);
    let _ = config::render_all(&diagnostics);
    for diagnostic in &diagnostics {
        let _ = diagnostic.to_string();
    }
    if let Some(config) = config {
        assert!(query_compiles, "the config accepted {source:?}");
        assert_eq!(config.topics.len(), 1);
    }
    if !query_compiles {
        let line = text.lines().nth(query_line - 1).expect("the query line");
        let width = line.chars().count();
        let pointed = diagnostics.iter().any(|diagnostic| {
            diagnostic.message.starts_with("in query:")
                && diagnostic.line == query_line
                && (10..=width).contains(&diagnostic.column)
        });
        assert!(
            pointed,
            "no diagnostic inside the query on line {query_line} ({line:?}): {diagnostics:?}"
        );
    }
}

/// A TOML basic string holding `value`.
fn toml_string(value: &str, escape_non_ascii: bool) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if escape_non_ascii && !c.is_ascii() && (c as u32) <= 0xFFFF => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c if escape_non_ascii && !c.is_ascii() => out.push_str(&format!("\\U{:08X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Queries and items are folded and tokenized by the same code, so text quoted as a phrase
/// must match an item whose title is that same text, alone and behind the prefilter.
fn copied_text_matches(text: &str) {
    if text.chars().any(|c| c == '\u{1}' || is_quote(c)) {
        return;
    }
    let phrase = format!("\"{text}\"");
    let Ok(query) = Query::compile(&phrase, &BTreeMap::new()) else {
        return;
    };
    let document = Document::new(&Fields {
        title: text,
        ..Fields::default()
    });
    assert!(
        query.evaluate(&document).is_some(),
        "{phrase} does not match its own text"
    );
    let set = QuerySet::new(vec![query]);
    assert_eq!(
        set.evaluate(&document).len(),
        1,
        "{phrase} behind the prefilter"
    );
}

/// The quotes that open or close a phrase (as in `query::lexer`).
fn is_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '”' | '„' | '‟' | '«' | '»')
}
