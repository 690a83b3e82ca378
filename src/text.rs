//! Text handling: HTML to plain text, Unicode folding and tokenizing for the matcher.
//!
//! This module owns:
//! - `html_to_text`, the only place that turns HTML into text, and the only user of `scraper`
//!   (other modules that need HTML, such as autodiscovery or article extraction, go through
//!   here). It walks the tree itself because scraper's `.text()` glues block elements together
//!   ("HeadlineFirst para").
//! - `fold`, the one definition of "the same text" for matching: NFKC, lower case, Latin
//!   diacritics removed. Queries and items are folded by the same code, so they always agree.
//! - `tokenize`, the one definition of a word: runs of letters and digits in spaced scripts,
//!   and whole runs of Chinese, Japanese or Korean characters (matched later by substring,
//!   since those scripts do not space words and Korean attaches particles to nouns).
//!
//! It must stay pure: no I/O, no clock, no knowledge of feeds, items or queries.

use std::ops::Range;

use scraper::{Html, Node};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// One word-like token of a text, as the matcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The folded form (NFKC, case-folded, Latin diacritics removed).
    pub folded: String,
    /// Byte range of the token in the original (unfolded) text.
    pub start: usize,
    pub end: usize,
    /// True for a run of CJK characters (Han, Hiragana, Katakana, Hangul), matched by substring.
    pub cjk: bool,
}

/// Turns an HTML fragment or document into plain text: no tags, no script/style text, entities
/// decoded, block elements separated by a space, whitespace collapsed, trimmed.
///
/// Text without markup passes through with only its whitespace collapsed and control
/// characters turned into spaces (soft hyphens and byte-order marks are dropped).
pub fn html_to_text(html: &str) -> String {
    if !looks_like_html(html) {
        return collapse_whitespace(html);
    }
    let parsed = if looks_like_document(html) {
        Html::parse_document(html)
    } else {
        Html::parse_fragment(html)
    };
    let mut raw = String::with_capacity(html.len());
    // An explicit stack instead of recursion: feed HTML can nest deeply. Each entry is the
    // children still to visit and whether the element that owns them is a block.
    let mut stack = vec![(false, parsed.tree.root().children())];
    while let Some((_, children)) = stack.last_mut() {
        let Some(child) = children.next() else {
            if let Some((true, _)) = stack.pop() {
                raw.push(' ');
            }
            continue;
        };
        match child.value() {
            Node::Text(text) => raw.push_str(text),
            Node::Element(element) => {
                let name = element.name();
                if is_skipped_element(name) {
                    continue;
                }
                let block = is_block_element(name);
                if block {
                    raw.push(' ');
                }
                stack.push((block, child.children()));
            }
            _ => {}
        }
    }
    collapse_whitespace(&raw)
}

/// Folds a string for comparison: NFKC, lower-case (case-folded), Latin diacritics removed.
pub fn fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    fold_into(text, &mut folded);
    folded
}

/// Like `fold`, but appends to `out` (lets callers keep every folded token in one buffer).
pub fn fold_into(text: &str, out: &mut String) {
    if text.is_ascii() {
        let start = out.len();
        out.push_str(text);
        out[start..].make_ascii_lowercase();
        return;
    }
    let mut lowered = String::with_capacity(text.len());
    for c in text.nfkc() {
        for lower in c.to_lowercase() {
            match lower {
                'ß' => lowered.push_str("ss"),
                // Case folding maps the final sigma to the ordinary one.
                'ς' => lowered.push('σ'),
                _ => lowered.push(lower),
            }
        }
    }
    // Hangul, kana and Han never decompose to Latin combining marks: skip the round trip.
    if lowered.chars().all(|c| c.is_ascii() || is_cjk_block(c)) {
        out.push_str(&lowered);
        return;
    }
    out.extend(
        lowered
            .nfd()
            .filter(|c| !('\u{300}'..='\u{36F}').contains(c))
            .nfc(),
    );
}

/// Splits text into tokens (see `Token`).
pub fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    for_each_token(text, |range, cjk| {
        tokens.push(Token {
            folded: fold(&text[range.clone()]),
            start: range.start,
            end: range.end,
            cjk,
        })
    });
    tokens
}

/// Calls `on_token` with the byte range of every token of `text` (unfolded) and whether it is a
/// CJK run, in order. `tokenize` is this plus `fold`; the matcher uses it to fold into one
/// buffer instead of one string per token.
pub fn for_each_token(text: &str, mut on_token: impl FnMut(Range<usize>, bool)) {
    // The token being built: its start and whether it is a CJK run.
    let mut current: Option<(usize, bool)> = None;
    for (offset, c) in text.char_indices() {
        let class = classify(c);
        match (class, current) {
            (CharClass::Mark, Some(_)) => {}
            (CharClass::Cjk, Some((_, true))) | (CharClass::Word, Some((_, false))) => {}
            (CharClass::Cjk | CharClass::Word, _) => {
                if let Some((start, cjk)) = current {
                    on_token(start..offset, cjk);
                }
                current = Some((offset, class == CharClass::Cjk));
            }
            (CharClass::Mark | CharClass::Separator, _) => {
                if let Some((start, cjk)) = current.take() {
                    on_token(start..offset, cjk);
                }
            }
        }
    }
    if let Some((start, cjk)) = current {
        on_token(start..text.len(), cjk);
    }
}

/// What a character does in a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CharClass {
    /// A letter or digit of a spaced script.
    Word,
    /// A Chinese, Japanese or Korean character.
    Cjk,
    /// A combining mark: it extends the token before it, if any.
    Mark,
    /// Anything else: spaces, punctuation, symbols.
    Separator,
}

#[inline]
fn classify(c: char) -> CharClass {
    if c.is_ascii_alphanumeric() {
        CharClass::Word
    } else if c.is_ascii() {
        CharClass::Separator
    } else {
        classify_non_ascii(c)
    }
}

fn classify_non_ascii(c: char) -> CharClass {
    let alphanumeric = c.is_alphanumeric();
    let mark = !alphanumeric && is_combining_mark(c);
    if is_cjk_block(c) && (alphanumeric || mark || ('\u{3300}'..='\u{3357}').contains(&c)) {
        CharClass::Cjk
    } else if alphanumeric {
        CharClass::Word
    } else if mark {
        CharClass::Mark
    } else {
        CharClass::Separator
    }
}

/// True for characters in the Han, kana and Hangul blocks (letters and punctuation alike).
fn is_cjk_block(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF       // Hangul Jamo
        | 0x3005..=0x3007     // 々 〆 〇
        | 0x3040..=0x30FF     // Hiragana, Katakana
        | 0x3130..=0x318F     // Hangul Compatibility Jamo
        | 0x31F0..=0x31FF     // Katakana Phonetic Extensions
        | 0x3300..=0x33FF     // CJK Compatibility (squared katakana words)
        | 0x3400..=0x4DBF     // Han, extension A
        | 0x4E00..=0x9FFF     // Han
        | 0xA960..=0xA97F     // Hangul Jamo Extended-A
        | 0xAC00..=0xD7FF     // Hangul Syllables, Jamo Extended-B
        | 0xF900..=0xFAFF     // CJK Compatibility Ideographs
        | 0xFF66..=0xFFDC     // Halfwidth Katakana and Hangul
        | 0x1B000..=0x1B16F   // Kana Supplement and Extended-A
        | 0x20000..=0x3134F // Han, extensions B to G and compatibility supplement
    )
}

/// A cheap test for markup: a tag-like `<x…>` or a character reference (`&amp;`, `&#38;`). Anything else is plain
/// text and must not go through the HTML parser (which would eat `a<b`).
fn looks_like_html(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut tag_open = false;
    for (index, &byte) in bytes.iter().enumerate() {
        let next = bytes.get(index + 1).copied().unwrap_or(b' ');
        match byte {
            b'<' if next.is_ascii_alphabetic() || matches!(next, b'/' | b'!' | b'?') => {
                tag_open = true
            }
            b'>' if tag_open => return true,
            b'&' if next == b'#' || is_named_entity(&bytes[index + 1..]) => return true,
            _ => {}
        }
    }
    false
}

/// True when `rest` (what follows a `&`) starts like `amp;`: a named character reference.
fn is_named_entity(rest: &[u8]) -> bool {
    let name_len = rest
        .iter()
        .take(32)
        .take_while(|byte| byte.is_ascii_alphanumeric())
        .count();
    name_len > 0 && rest.get(name_len) == Some(&b';')
}

/// A whole document (with a head whose text must not leak) rather than a fragment.
fn looks_like_document(html: &str) -> bool {
    let start = html.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}');
    let head = start.get(..9).unwrap_or(start).to_ascii_lowercase();
    head.starts_with("<!doctype") || head.starts_with("<html") || head.starts_with("<head")
}

/// Elements whose text is never shown to a reader.
fn is_skipped_element(name: &str) -> bool {
    matches!(
        name,
        "script"
            | "style"
            | "noscript"
            | "template"
            | "head"
            | "title"
            | "iframe"
            | "object"
            | "svg"
            | "math"
    )
}

/// Elements that start a new line (or cell) when rendered: their text must not run into the
/// text around them.
fn is_block_element(name: &str) -> bool {
    matches!(
        name,
        "address"
            | "article"
            | "aside"
            | "blockquote"
            | "br"
            | "caption"
            | "dd"
            | "details"
            | "dialog"
            | "div"
            | "dl"
            | "dt"
            | "fieldset"
            | "figcaption"
            | "figure"
            | "footer"
            | "form"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "header"
            | "hgroup"
            | "hr"
            | "img"
            | "li"
            | "main"
            | "nav"
            | "ol"
            | "option"
            | "p"
            | "pre"
            | "section"
            | "summary"
            | "table"
            | "tbody"
            | "td"
            | "tfoot"
            | "th"
            | "thead"
            | "tr"
            | "ul"
    )
}

/// Collapses every run of whitespace and control characters to one space and trims; drops
/// soft hyphens and byte-order marks, which are invisible and would split words.
fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() || c == '\u{200B}' {
            pending_space = true;
        } else if c == '\u{AD}' || c == '\u{FEFF}' {
            continue;
        } else {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks `html_to_text`.
    fn check_text(html: &str, expected: &str) {
        assert_eq!(html_to_text(html), expected, "html_to_text({html:?})");
    }

    /// Checks `fold`.
    fn check_fold(text: &str, expected: &str) {
        assert_eq!(fold(text), expected, "fold({text:?})");
    }

    /// Checks `tokenize`: each expected token is written `folded`, or `folded/cjk` for CJK runs.
    fn check_tokens(text: &str, expected: &[&str]) {
        let tokens = tokenize(text);
        let actual: Vec<String> = tokens
            .iter()
            .map(|token| {
                if token.cjk {
                    format!("{}/cjk", token.folded)
                } else {
                    token.folded.clone()
                }
            })
            .collect();
        assert_eq!(actual, expected, "tokenize({text:?})");
        for token in &tokens {
            assert_eq!(
                fold(&text[token.start..token.end]),
                token.folded,
                "range of {token:?}"
            );
        }
    }

    #[test]
    fn html_blocks_are_separated() {
        check_text("<h1>Headline</h1><p>First para</p>", "Headline First para");
        check_text("<div>one</div><div>two</div>", "one two");
        check_text("line<br>break<br/>again", "line break again");
        check_text("<ul><li>a</li><li>b</li></ul>", "a b");
        check_text("<table><tr><td>x</td><td>y</td></tr></table>", "x y");
        check_text("<p>Hel<b>lo</b> <i>world</i></p>", "Hello world");
    }

    #[test]
    fn html_hidden_text_is_removed() {
        check_text(
            "<p>before</p><script>var x = 1;</script><style>p{}</style><p>after</p>",
            "before after",
        );
        check_text("<noscript>enable js</noscript>text", "text");
        check_text("<template><p>hidden</p></template>shown", "shown");
        check_text("a<!-- comment -->b", "ab");
        check_text(
            "<!DOCTYPE html><html><head><title>T</title><style>x</style></head>\
             <body><p>Body text</p></body></html>",
            "Body text",
        );
    }

    #[test]
    fn html_entities_are_decoded() {
        check_text("Tom &amp; Jerry &lt;3", "Tom & Jerry <3");
        check_text("caf&eacute; &#x41;&#66;", "café AB");
        check_text("a&nbsp;b", "a b");
    }

    #[test]
    fn html_whitespace_and_control_characters_collapse() {
        check_text("  many \n\t spaces  ", "many spaces");
        check_text("<p>\n  Indented\n  text\n</p>", "Indented text");
        check_text("bell\u{7}and\u{85}next", "bell and next");
        check_text("soft\u{AD}hyphen", "softhyphen");
        check_text("", "");
        check_text("<p> </p>", "");
    }

    #[test]
    fn plain_text_passes_through() {
        check_text("North Korea's spy-satellite", "North Korea's spy-satellite");
        check_text("a < b > c", "a < b > c");
        check_text("x<y and AT&T", "x<y and AT&T");
        check_text("Q&A: 5 > 3", "Q&A: 5 > 3");
        check_text("<p>AT&T and Q&A</p>", "AT&T and Q&A");
    }

    #[test]
    fn fold_case_and_diacritics() {
        check_fold("PYONGYANG", "pyongyang");
        check_fold("Pyongyang", "pyongyang");
        check_fold("Café", "cafe");
        check_fold("café", "cafe");
        check_fold("Straße", "strasse");
        check_fold("ÑANDÚ", "nandu");
        check_fold("Ωμέγα ΟΔΟΣ", "ωμεγα οδοσ");
        check_fold("İstanbul", "istanbul");
    }

    #[test]
    fn fold_keeps_cjk_intact() {
        check_fold("北朝鮮が", "北朝鮮が");
        check_fold("북한", "북한");
        check_fold("ガイド", "ガイド");
        check_fold("ｶﾞｲﾄﾞ", "ガイド");
    }

    #[test]
    fn fold_fullwidth_and_compatibility() {
        check_fold("ＤＰＲＫ", "dprk");
        check_fold("ﬁle", "file");
        check_fold("Ⅻ", "xii");
    }

    #[test]
    fn tokens_split_on_punctuation() {
        check_tokens("spy-satellite", &["spy", "satellite"]);
        check_tokens("Korea's", &["korea", "s"]);
        check_tokens(
            "  Spy   Satellite, launched!",
            &["spy", "satellite", "launched"],
        );
        check_tokens("Malligyong-1 (2023)", &["malligyong", "1", "2023"]);
        check_tokens("", &[]);
        check_tokens("— … !", &[]);
    }

    #[test]
    fn tokens_keep_combining_marks() {
        check_tokens("cafe\u{301} noir", &["cafe", "noir"]);
        check_tokens("naïve", &["naive"]);
        check_tokens("हिन्दी भाषा", &["हिन्दी", "भाषा"]);
    }

    #[test]
    fn tokens_cjk_runs() {
        check_tokens("北朝鮮が偵察衛星を発射", &["北朝鮮が偵察衛星を発射/cjk"]);
        check_tokens(
            "북한이 정찰위성을 발사",
            &["북한이/cjk", "정찰위성을/cjk", "발사/cjk"],
        );
        check_tokens("朝鲜发射卫星。美国", &["朝鲜发射卫星/cjk", "美国/cjk"]);
        check_tokens("DPRKの衛星", &["dprk", "の衛星/cjk"]);
        check_tokens("2023年11月", &["2023", "年/cjk", "11", "月/cjk"]);
        check_tokens("ドナルド・トランプ", &["ドナルド/cjk", "トランプ/cjk"]);
        check_tokens("ｶﾞｲﾄﾞ", &["ガイド/cjk"]);
    }

    #[test]
    fn tokens_fullwidth_latin() {
        check_tokens("ＤＰＲＫ launch", &["dprk", "launch"]);
    }

    #[test]
    fn token_ranges_point_into_original() {
        let text = "Ｘ café 北朝鮮";
        let tokens = tokenize(text);
        let slices: Vec<&str> = tokens.iter().map(|t| &text[t.start..t.end]).collect();
        assert_eq!(slices, ["Ｘ", "café", "北朝鮮"]);
    }
}
