//! Text handling: HTML to plain text, Unicode folding and tokenizing for the matcher.
//!
//! This module owns:
//! - `html_to_text`, the only place that turns HTML into text, and the only user of `scraper`
//!   (other modules that need HTML, such as autodiscovery or article extraction, go through
//!   here). It walks the tree itself because scraper's `.text()` glues block elements together
//!   ("HeadlineFirst para"). Only known element names make a text markup (`Vec<T>` stays), and
//!   markup nested too deeply for the parser's quadratic worst case is stripped by a linear
//!   scan instead.
//! - `fold`, the one definition of "the same text" for matching: NFKC, lower case, Latin and
//!   Greek diacritics removed (other scripts keep their marks: Cyrillic й is not и), a few
//!   letters without a decomposition spelled out (ł → l, ø → o, æ → ae, …), Arabic vowel signs,
//!   variation selectors and soft hyphens dropped. Queries and items are folded by the same
//!   code, so they always agree.
//! - `tokenize`, the one definition of a word: runs of letters and digits in spaced scripts,
//!   and whole runs of Chinese, Japanese or Korean characters (matched later by substring,
//!   since those scripts do not space words and Korean attaches particles to nouns).
//!
//! It must stay pure: no I/O, no clock, no knowledge of feeds, items or queries.

mod article;
mod discovery;

use std::ops::Range;

use scraper::{ElementRef, Html, Node};

pub use article::article_text;
pub use discovery::{feed_links, looks_like_html};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// One word-like token of a text, as the matcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The folded form (see `fold`); never empty.
    pub folded: String,
    /// Byte range of the token in the original (unfolded) text.
    pub start: usize,
    pub end: usize,
    /// True for a run of CJK characters (Han, Hiragana, Katakana, Hangul), matched by substring.
    pub cjk: bool,
}

/// Above this many open elements, HTML is reduced to text by a linear scan instead of the HTML
/// parser, whose time grows with the square of the nesting (html5ever scans its stack of open
/// elements for every tag). Real articles nest a few dozen levels.
const MAX_PARSED_DEPTH: usize = 256;

/// Turns an HTML fragment or document into plain text: no tags, no script/style text, entities
/// decoded, block elements separated by a space, whitespace collapsed, trimmed.
///
/// Only text with a known HTML element (`<p>`, `</b>`, `<br/>`, …) or a comment is markup:
/// other angle brackets are text (`Vec<T>`, `Apple <AAPL.O>`), though character references
/// (`&amp;`) are still decoded. Text without either passes through with only its whitespace
/// collapsed and control characters turned into spaces (soft hyphens and byte-order marks are
/// dropped).
///
/// Most feed HTML (paragraphs, links, emphasis, images, lists; common references) is read by
/// a linear scanner that gives what the parser would (`simple_to_text`); anything else goes
/// through the parser.
pub fn html_to_text(html: &str) -> String {
    match find_markup(html) {
        Markup::None => collapse_whitespace(html),
        // Escaped, every `<` stays text while the parser decodes the references.
        Markup::References => simple_to_text(html, false)
            .unwrap_or_else(|| render(&Html::parse_fragment(&html.replace('<', "&lt;")))),
        Markup::Tags => match simple_to_text(html, true) {
            Some(text) => text,
            None => parsed_to_text(html),
        },
    }
}

/// Markup that the simple scanner cannot vouch for, through the HTML parser (or a linear
/// strip when it nests too deeply for the parser).
fn parsed_to_text(html: &str) -> String {
    match () {
        () if nesting_depth(html) > MAX_PARSED_DEPTH => strip_markup(html),
        () if looks_like_document(html) => render(&Html::parse_document(html)),
        () => render(&Html::parse_fragment(html)),
    }
}

/// Folds a string for comparison: NFKC, lower-case (case-folded), Latin and Greek diacritics
/// removed, ł ø đ ħ ı æ œ þ ŀ spelled in ASCII, soft hyphens, variation selectors and Arabic
/// vowel signs dropped.
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
    // NFKC would turn ŀ into l and a middle dot, which is punctuation: map it first.
    let text = text.chars().map(|c| match c {
        'ŀ' | 'Ŀ' => 'l',
        _ => c,
    });
    for c in text.nfkc().filter(|&c| !is_invisible_in_fold(c)) {
        for lower in c.to_lowercase() {
            match lower {
                'ß' => lowered.push_str("ss"),
                // Case folding maps the final sigma to the ordinary one.
                'ς' => lowered.push('σ'),
                // Latin letters with a stroke or ligatures have no decomposition to strip.
                'ł' => lowered.push('l'),
                'ø' => lowered.push('o'),
                'đ' => lowered.push('d'),
                'ħ' => lowered.push('h'),
                'ı' => lowered.push('i'),
                'æ' => lowered.push_str("ae"),
                'œ' => lowered.push_str("oe"),
                'þ' => lowered.push_str("th"),
                _ => lowered.push(lower),
            }
        }
    }
    // Hangul, kana and Han never decompose to Latin combining marks: skip the round trip.
    if lowered.chars().all(|c| c.is_ascii() || is_cjk_block(c)) {
        out.push_str(&lowered);
        return;
    }
    // Only Latin and Greek letters lose their marks; elsewhere a mark makes another letter
    // (Cyrillic й is not и). A mark with no letter before it is dropped.
    let mut base_is_latin_or_greek = true;
    let without_marks = lowered.nfd().filter(|&c| {
        if !is_combining_mark(c) {
            base_is_latin_or_greek = is_latin_or_greek(c);
            return true;
        }
        !(base_is_latin_or_greek && ('\u{300}'..='\u{36F}').contains(&c))
    });
    out.extend(without_marks.nfc());
}

/// Splits text into tokens (see `Token`). A token that folds to nothing (a stray combining
/// mark, Arabic vowel signs alone) is left out: it has nothing to match.
pub fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    for_each_token(text, |range, cjk| {
        let folded = fold(&text[range.clone()]);
        if !folded.is_empty() {
            tokens.push(Token {
                folded,
                start: range.start,
                end: range.end,
                cjk,
            })
        }
    });
    tokens
}

/// Calls `on_token` with the byte range of every token of `text` (unfolded) and whether it is a
/// CJK run, in order. `tokenize` is this plus `fold` (and leaving out tokens that fold to
/// nothing); the matcher uses it to fold into one buffer instead of one string per token.
/// Soft hyphens and variation selectors do not split a token.
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
    // An invisible soft hyphen joins the parts of a word, like a combining mark.
    if c == '\u{AD}' {
        return CharClass::Mark;
    }
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

/// What `find_markup` found in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Markup {
    /// Plain text: nothing to parse.
    None,
    /// Character references (`&amp;`, `&#38;`) but no tags: every `<` is text.
    References,
    /// A known element's tag (`<p …>`, `</b>`) closed by a `>`, or a comment or doctype.
    Tags,
}

/// A cheap test for markup. Only known element names count as tags, so that plain text with
/// angle brackets (`Vec<T>`, `a<b`, `Apple <AAPL.O>`) never goes through the HTML parser as
/// markup, which would eat it.
fn find_markup(text: &str) -> Markup {
    let bytes = text.as_bytes();
    let mut tag_open = false;
    let mut references = false;
    for (index, &byte) in bytes.iter().enumerate() {
        match byte {
            b'<' if starts_known_tag(&bytes[index + 1..]) => tag_open = true,
            b'>' if tag_open => return Markup::Tags,
            b'&' if !references => {
                references =
                    bytes.get(index + 1) == Some(&b'#') || is_named_entity(&bytes[index + 1..]);
            }
            _ => {}
        }
    }
    if references {
        Markup::References
    } else {
        Markup::None
    }
}

/// True when `rest` (what follows a `<`) starts a comment, a doctype, or the start or end tag
/// of a known HTML element.
fn starts_known_tag(rest: &[u8]) -> bool {
    if rest.starts_with(b"!--")
        || rest
            .get(..8)
            .is_some_and(|head| head.eq_ignore_ascii_case(b"!doctype"))
    {
        return true;
    }
    let rest = rest.strip_prefix(b"/").unwrap_or(rest);
    let name_len = tag_name_len(rest);
    let after_name = rest.get(name_len).copied().unwrap_or(b'>');
    // Every known name is short.
    (1..=10).contains(&name_len)
        && (after_name.is_ascii_whitespace() || matches!(after_name, b'>' | b'/'))
        && is_known_element(&String::from_utf8_lossy(&rest[..name_len]).to_ascii_lowercase())
}

/// The length of the tag name at the start of `rest`: a letter, then anything up to a space,
/// `/`, `>` or `<` (custom elements such as `x-card` and `o:p` included); 0 when there is
/// none. Stopping at `<` keeps every scan over tags linear.
fn tag_name_len(rest: &[u8]) -> usize {
    if !rest.first().is_some_and(u8::is_ascii_alphabetic) {
        return 0;
    }
    rest.iter()
        .take_while(|&&byte| !byte.is_ascii_whitespace() && !matches!(byte, b'/' | b'>' | b'<'))
        .count()
}

/// One `<…>` construct of an HTML text, read by [`read_markup`].
enum Construct {
    /// `<!-- … -->`; `end` is the byte after it.
    Comment { end: usize },
    /// A `<` that starts nothing (`a < b`).
    Stray,
    /// A start or end tag, or a declaration (`<!doctype …>`, `<?xml …?>`: empty `name`).
    /// `end` is the index of its `>`, `None` when the text ends first.
    Tag {
        closing: bool,
        name: String,
        end: Option<usize>,
    },
}

/// Reads the construct whose `<` is at byte `start` of `html`. Shared by the two linear
/// scanners, [`nesting_depth`] and [`strip_markup`], so they agree on what a tag is.
fn read_markup(html: &str, start: usize) -> Construct {
    let bytes = html.as_bytes();
    let rest = &bytes[start + 1..];
    if rest.starts_with(b"!--") {
        let end = find_from(html, start + 4, "-->").map_or(html.len(), |end| end + 3);
        return Construct::Comment { end };
    }
    let closing = rest.first() == Some(&b'/');
    let name_start = start + 1 + usize::from(closing);
    let name_len = tag_name_len(&bytes[name_start..]);
    if name_len == 0 && !matches!(rest.first(), Some(b'!' | b'?')) {
        return Construct::Stray;
    }
    Construct::Tag {
        closing,
        name: html[name_start..name_start + name_len].to_ascii_lowercase(),
        end: find_from(html, start + 1, ">"),
    }
}

/// The deepest nesting of elements in `html`, estimated without parsing: start tags count up
/// and end tags down, except void elements (`<br>`), foreign self-closing tags (`<path/>`) and
/// elements that a sibling closes implicitly (`<p>`, `<li>`). Script and style contents are
/// skipped. Linear in the length of `html`.
fn nesting_depth(html: &str) -> usize {
    let bytes = html.as_bytes();
    let (mut depth, mut deepest) = (0_usize, 0_usize);
    let mut index = 0;
    while let Some(found) = html[index..].find('<') {
        let start = index + found;
        let (closing, name, tag_end) = match read_markup(html, start) {
            Construct::Comment { end } => {
                index = end;
                continue;
            }
            Construct::Stray => {
                index = start + 1;
                continue;
            }
            Construct::Tag { end: None, .. } => break,
            Construct::Tag {
                closing,
                name,
                end: Some(end),
            } => (closing, name, end),
        };
        index = tag_end + 1;
        if name.is_empty() || is_closed_by_sibling(&name) {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
            continue;
        }
        // HTML ignores the `/` of `<div/>`; only foreign elements (SVG, MathML) close
        // themselves.
        let foreign = !is_known_element(&name) || matches!(name.as_str(), "svg" | "math");
        let self_closing = bytes[tag_end - 1] == b'/' && foreign;
        if is_void_element(&name) || self_closing {
            continue;
        }
        depth += 1;
        deepest = deepest.max(depth);
        if matches!(name.as_str(), "script" | "style") {
            index = find_end_tag(html, index, &name).unwrap_or(html.len());
        }
    }
    deepest
}

/// HTML to text without a parser, for markup nested too deeply to parse (see
/// `MAX_PARSED_DEPTH`): tags are removed (block elements leave a space), the contents of
/// hidden elements (script, style, …) are dropped, common character references are decoded
/// and whitespace is collapsed. Linear in the length of `html`.
fn strip_markup(html: &str) -> String {
    let bytes = html.as_bytes();
    let mut raw = String::with_capacity(html.len());
    let mut index = 0;
    while let Some(found) = html[index..].find('<') {
        let start = index + found;
        decode_references(&html[index..start], &mut raw);
        let (closing, name, tag_end) = match read_markup(html, start) {
            Construct::Comment { end } => {
                index = end;
                continue;
            }
            Construct::Stray => {
                raw.push('<');
                index = start + 1;
                continue;
            }
            // A tag without its `>` runs to the end, as in the HTML parser.
            Construct::Tag { end: None, .. } => {
                index = html.len();
                break;
            }
            Construct::Tag {
                closing,
                name,
                end: Some(end),
            } => (closing, name, end),
        };
        index = tag_end + 1;
        if is_block_element(&name) {
            raw.push(' ');
        }
        if !closing && bytes[tag_end - 1] != b'/' && is_skipped_element(&name) {
            index = find_end_tag(html, index, &name).unwrap_or(html.len());
        }
    }
    decode_references(&html[index..], &mut raw);
    collapse_whitespace(&raw)
}

/// Appends `text` to `out` with the common character references decoded: numeric ones and
/// the few names news text uses. Others stay as written.
fn decode_references(text: &str, out: &mut String) {
    let mut rest = text;
    while let Some(ampersand) = rest.find('&') {
        out.push_str(&rest[..ampersand]);
        rest = &rest[ampersand..];
        // References are short: look for the `;` in the next few bytes only.
        let semicolon = rest
            .bytes()
            .skip(1)
            .take(MAX_REFERENCE_LEN)
            .position(|b| b == b';');
        let decoded = semicolon.and_then(|semicolon| {
            let reference = &rest[1..1 + semicolon];
            Some((decode_reference(reference)?, semicolon + 2))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
}

/// The longest reference `decode_references` looks at, between `&` and `;`.
const MAX_REFERENCE_LEN: usize = 10;

/// The character of a reference written between `&` and `;` (`amp`, `#39`, `#x41`).
fn decode_reference(reference: &str) -> Option<char> {
    if let Some(number) = reference.strip_prefix('#') {
        let (digits, radix) = match number.strip_prefix(['x', 'X']) {
            Some(hex) => (hex, 16),
            None => (number, 10),
        };
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return None;
        }
        let code = u32::from_str_radix(digits, radix).ok()?;
        // As in HTML, a reference to NUL, a surrogate or beyond Unicode is a replacement.
        return Some(
            char::from_u32(code)
                .filter(|&c| c != '\0')
                .unwrap_or('\u{FFFD}'),
        );
    }
    let c = match reference {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{A0}',
        "ndash" => '–',
        "mdash" => '—',
        "hellip" => '…',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        _ => return None,
    };
    Some(c)
}

/// The byte offset of the first `needle` in `haystack` at or after `from`.
fn find_from(haystack: &str, from: usize, needle: &str) -> Option<usize> {
    haystack
        .get(from..)?
        .find(needle)
        .map(|offset| from + offset)
}

/// The offset of the end tag `</name` (any case) at or after `from`.
fn find_end_tag(html: &str, from: usize, name: &str) -> Option<usize> {
    let mut from = from;
    while let Some(start) = find_from(html, from, "</") {
        let rest = &html.as_bytes()[start + 2..];
        if rest
            .get(..name.len())
            .is_some_and(|candidate| candidate.eq_ignore_ascii_case(name.as_bytes()))
            && tag_name_len(rest) == name.len()
        {
            return Some(start);
        }
        from = start + 2;
    }
    None
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

/// Common HTML element names (lower case): a `<name …>` with one of them is markup, any other
/// `<…>` in text without them is text.
fn is_known_element(name: &str) -> bool {
    is_skipped_element(name)
        || is_block_element(name)
        || matches!(
            name,
            "a" | "abbr"
                | "audio"
                | "b"
                | "big"
                | "body"
                | "button"
                | "center"
                | "cite"
                | "code"
                | "del"
                | "em"
                | "font"
                | "html"
                | "i"
                | "input"
                | "ins"
                | "kbd"
                | "label"
                | "link"
                | "mark"
                | "meta"
                | "picture"
                | "q"
                | "s"
                | "select"
                | "small"
                | "source"
                | "span"
                | "strike"
                | "strong"
                | "sub"
                | "sup"
                | "textarea"
                | "time"
                | "u"
                | "video"
                | "wbr"
        )
}

/// Elements that never have contents or an end tag.
fn is_void_element(name: &str) -> bool {
    matches!(
        name,
        "area"
            | "base"
            | "br"
            | "col"
            | "embed"
            | "hr"
            | "img"
            | "input"
            | "link"
            | "meta"
            | "param"
            | "source"
            | "track"
            | "wbr"
    )
}

/// Elements whose start tag closes an open one of the same kind (`<p>a<p>b` is two
/// paragraphs, not nested ones), so they never nest deeply by repetition.
fn is_closed_by_sibling(name: &str) -> bool {
    matches!(
        name,
        "p" | "li" | "dt" | "dd" | "option" | "tr" | "td" | "th"
    )
}

/// True for letters of the Latin and Greek scripts (and ASCII), whose combining marks `fold`
/// removes.
fn is_latin_or_greek(c: char) -> bool {
    c.is_ascii()
        || matches!(c as u32,
            0x00C0..=0x02AF       // Latin-1 letters, Latin Extended-A and -B, IPA
            | 0x0370..=0x03FF     // Greek
            | 0x1D00..=0x1DBF     // Phonetic extensions
            | 0x1E00..=0x1FFF     // Latin Extended Additional, Greek Extended
            | 0x2C60..=0x2C7F     // Latin Extended-C
            | 0xA720..=0xA7FF     // Latin Extended-D
            | 0xAB30..=0xAB6F // Latin Extended-E
        )
}

/// Characters `fold` drops: soft hyphens, variation selectors (a glyph choice, as in
/// `葛\u{E0100}城`) and Arabic vowel signs (harakat), which most Arabic text leaves out.
fn is_invisible_in_fold(c: char) -> bool {
    matches!(c,
        '\u{AD}'
        | '\u{64B}'..='\u{652}'
        | '\u{670}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{E0100}'..='\u{E01EF}'
    )
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

/// Elements the simple scanner reads (lower case), and whether each is a block (see
/// `is_block_element`). No element here changes how the parser treats the text inside it,
/// moves text elsewhere (tables do) or hides it.
fn simple_element(name: &[u8]) -> Option<SimpleElement> {
    let lower = |name: &[u8]| -> Option<[u8; 10]> {
        let mut buffer = [0_u8; 10];
        buffer.get_mut(..name.len())?.copy_from_slice(name);
        buffer.make_ascii_lowercase();
        Some(buffer)
    };
    let buffer = lower(name)?;
    let element = match &buffer[..name.len()] {
        b"a" => SimpleElement::A,
        b"p" => SimpleElement::P,
        b"li" => SimpleElement::Li,
        b"ul" | b"ol" => SimpleElement::List,
        b"h1" | b"h2" | b"h3" | b"h4" | b"h5" | b"h6" => SimpleElement::Heading,
        b"br" | b"img" | b"hr" => SimpleElement::Void,
        b"blockquote" | b"div" | b"figure" | b"figcaption" => SimpleElement::Block,
        b"b" | b"strong" | b"i" | b"em" | b"span" | b"small" | b"sup" | b"sub" | b"u" | b"s"
        | b"cite" | b"code" | b"abbr" | b"time" | b"mark" | b"q" | b"del" | b"ins" => {
            SimpleElement::Inline
        }
        _ => return None,
    };
    Some(element)
}

/// How the HTML parser treats an element of the simple scanner's set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SimpleElement {
    /// `<a>`: a second one inside it closes the first.
    A,
    /// `<p>`: many block starts close it.
    P,
    /// `<li>`: another one closes it unless a list is open in between.
    Li,
    /// `<ul>`, `<ol>`: a block that closes an open `<p>`.
    List,
    /// `<h1>`…`<h6>`: closes an open `<p>`, and another heading inside it closes it.
    Heading,
    /// `<blockquote>`, `<div>`, `<figure>`, `<figcaption>`: close an open `<p>`.
    Block,
    /// `<br>`, `<img>`, `<hr>`: no contents, no end tag (`<hr>` closes an open `<p>`).
    Void,
    /// Phrasing elements (`<b>`, `<em>`, `<span>`, …).
    Inline,
}

/// HTML to text by a linear scan, for the HTML that feeds mostly carry, giving exactly what
/// `render` gives for the parsed fragment. `None` when the text has anything whose parsing
/// this does not follow: another element, a comment or doctype, a tag that the parser would
/// close, reopen or move (misnested or implied end tags, a block in a `<p>`, an `<a>` in an
/// `<a>`), a self-closing non-void tag, an odd attribute, a reference other than a numeric one
/// to an ordinary character or a name `decode_reference` knows, written with its `;`, or a
/// NUL. With `tags` false every `<` is text and only references are decoded.
/// `html_to_text_fast_path_agrees_with_the_parser` compares the two on random markup.
fn simple_to_text(html: &str, tags: bool) -> Option<String> {
    let bytes = html.as_bytes();
    let mut raw = String::with_capacity(html.len());
    let mut open: Vec<(SimpleElement, &[u8])> = Vec::new();
    let mut index = 0;
    loop {
        // Copy the text up to the next `<`, `&` or NUL.
        let next = bytes[index..]
            .iter()
            .position(|&b| b == b'&' || b == 0 || (tags && b == b'<'))
            .map(|offset| index + offset);
        let Some(at) = next else {
            raw.push_str(&html[index..]);
            break;
        };
        raw.push_str(&html[index..at]);
        match bytes[at] {
            0 => return None,
            b'&' => {
                let rest = &bytes[at + 1..];
                match rest.first() {
                    Some(b'#') => {
                        let (c, len) = simple_numeric_reference(&rest[1..])?;
                        raw.push(c);
                        index = at + 2 + len;
                    }
                    Some(byte) if byte.is_ascii_alphanumeric() => {
                        let name_len = rest
                            .iter()
                            .take_while(|b| b.is_ascii_alphanumeric())
                            .count();
                        if rest.get(name_len) != Some(&b';') || name_len > MAX_REFERENCE_LEN {
                            return None;
                        }
                        let name = std::str::from_utf8(&rest[..name_len]).ok()?;
                        raw.push(decode_reference(name)?);
                        index = at + 2 + name_len;
                    }
                    // `&` before anything else is text.
                    _ => {
                        raw.push('&');
                        index = at + 1;
                    }
                }
            }
            _ => {
                let rest = &bytes[at + 1..];
                let closing = rest.first() == Some(&b'/');
                let name_start = usize::from(closing);
                match rest.get(name_start) {
                    Some(byte) if byte.is_ascii_alphabetic() => {}
                    // `<` before a space, a digit, … is text; `<!`, `<?` and `</` without a
                    // name are not.
                    Some(_) if !closing && !matches!(rest[0], b'!' | b'?') => {
                        raw.push('<');
                        index = at + 1;
                        continue;
                    }
                    _ => return None,
                }
                let name_len = rest[name_start..]
                    .iter()
                    .take_while(|b| !b.is_ascii_whitespace() && !matches!(b, b'/' | b'>'))
                    .count();
                let name = &rest[name_start..name_start + name_len];
                let element = simple_element(name)?;
                let (end, self_closing) = simple_tag_end(rest, name_start + name_len)?;
                index = at + 1 + end + 1;
                if closing {
                    if self_closing || element == SimpleElement::Void {
                        return None;
                    }
                    let (top, top_name) = open.pop()?;
                    if top != element || !top_name.eq_ignore_ascii_case(name) {
                        return None;
                    }
                } else {
                    let p_open = open.iter().any(|(e, _)| *e == SimpleElement::P);
                    let closes_p = match element {
                        SimpleElement::A | SimpleElement::Inline => false,
                        SimpleElement::Void => name.eq_ignore_ascii_case(b"hr"),
                        _ => true,
                    };
                    let implied_close = match element {
                        SimpleElement::A => open.iter().any(|(e, _)| *e == SimpleElement::A),
                        SimpleElement::Heading => {
                            open.iter().any(|(e, _)| *e == SimpleElement::Heading)
                        }
                        SimpleElement::Li => open
                            .iter()
                            .rev()
                            .take_while(|(e, _)| *e != SimpleElement::List)
                            .any(|(e, _)| *e == SimpleElement::Li),
                        _ => false,
                    };
                    if (closes_p && p_open) || implied_close {
                        return None;
                    }
                    if element == SimpleElement::Void {
                        // `<br/>` and `<br>` alike.
                    } else if self_closing {
                        return None;
                    } else {
                        open.push((element, name));
                        if open.len() > MAX_PARSED_DEPTH {
                            return None;
                        }
                    }
                }
                // Every element of the set but `<a>` and phrasing ones is a block.
                if !matches!(element, SimpleElement::A | SimpleElement::Inline) {
                    raw.push(' ');
                }
            }
        }
    }
    Some(collapse_whitespace(&raw))
}

/// The character and length (digits and `;`) of a numeric reference after its `&#`, when it
/// is an ordinary character the parser passes through as it is (not NUL, a C1 control, a
/// surrogate, a noncharacter or beyond Unicode) and ends with `;`.
fn simple_numeric_reference(rest: &[u8]) -> Option<(char, usize)> {
    let (digits, radix, prefix) = match rest.first() {
        Some(b'x' | b'X') => (&rest[1..], 16, 1),
        _ => (rest, 10, 0),
    };
    let n_digits = digits
        .iter()
        .take_while(|b| (**b as char).is_digit(radix))
        .count();
    if n_digits == 0 || n_digits > 7 || digits.get(n_digits) != Some(&b';') {
        return None;
    }
    let text = std::str::from_utf8(&digits[..n_digits]).ok()?;
    let code = u32::from_str_radix(text, radix).ok()?;
    let ordinary = matches!(code,
        0x09 | 0x0A | 0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFDCF | 0xFDF0..=0xFFFD)
        || (0x10000..=0x10FFFF).contains(&code) && code & 0xFFFE != 0xFFFE;
    if !ordinary {
        return None;
    }
    Some((char::from_u32(code)?, prefix + n_digits + 1))
}

/// Reads a tag's attributes from `from` (just after its name) in `rest` (what follows its
/// `<`): the index of its `>` and whether it ends with `/>`. `None` for attributes whose
/// parsing the scanner does not follow (a quote or `<` in a name or unquoted value, a stray
/// `/`, a tag that never ends).
fn simple_tag_end(rest: &[u8], from: usize) -> Option<(usize, bool)> {
    let mut index = from;
    loop {
        while rest.get(index)?.is_ascii_whitespace() {
            index += 1;
        }
        match rest[index] {
            b'>' => return Some((index, false)),
            b'/' => return (rest.get(index + 1) == Some(&b'>')).then_some((index + 1, true)),
            _ => {}
        }
        // An attribute name, then maybe `=` and a value.
        let name_len = rest[index..]
            .iter()
            .take_while(|b| !b.is_ascii_whitespace() && !matches!(b, b'/' | b'>' | b'='))
            .count();
        if name_len == 0
            || rest[index..index + name_len]
                .iter()
                .any(|b| matches!(b, b'"' | b'\'' | b'<'))
        {
            return None;
        }
        index += name_len;
        while rest.get(index)?.is_ascii_whitespace() {
            index += 1;
        }
        if rest[index] != b'=' {
            continue;
        }
        index += 1;
        while rest.get(index)?.is_ascii_whitespace() {
            index += 1;
        }
        match rest[index] {
            quote @ (b'"' | b'\'') => {
                let length = rest[index + 1..].iter().position(|&b| b == quote)?;
                index += 1 + length + 1;
                // The parser wants a space, `/` or `>` after a quoted value.
                if !rest
                    .get(index)
                    .is_some_and(|b| b.is_ascii_whitespace() || matches!(b, b'/' | b'>'))
                {
                    return None;
                }
            }
            b'>' => return None,
            _ => {
                let length = rest[index..]
                    .iter()
                    .take_while(|b| !b.is_ascii_whitespace() && **b != b'>')
                    .count();
                if rest[index..index + length]
                    .iter()
                    .any(|b| matches!(b, b'"' | b'\'' | b'<' | b'=' | b'`'))
                {
                    return None;
                }
                index += length;
            }
        }
    }
}

/// The text of a parsed document or fragment, walked with an explicit stack (feed HTML can
/// nest deeply): hidden elements left out, a space around each block element.
fn render(parsed: &Html) -> String {
    render_element(parsed.root_element(), is_skipped_element)
}

/// The text of `element`: elements for which `skip` holds left out with their contents, a
/// space around each block element, whitespace collapsed.
fn render_element(element: ElementRef<'_>, skip: impl Fn(&str) -> bool) -> String {
    let mut raw = String::new();
    // Each entry is the children still to visit and whether the element that owns them is a
    // block.
    let mut stack = vec![(false, element.children())];
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
                if skip(name) {
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

/// Collapses every run of whitespace and control characters to one space and trims; drops
/// soft hyphens and byte-order marks, which are invisible and would split words.
fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    let bytes = text.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        // Runs of ASCII that is neither whitespace nor a control character are copied whole.
        let run = bytes[index..]
            .iter()
            .take_while(|&&b| b > b' ' && b < 0x7F)
            .count();
        if run > 0 {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push_str(&text[index..index + run]);
            index += run;
            continue;
        }
        let c = text[index..]
            .chars()
            .next()
            .expect("index is at a character boundary");
        index += c.len_utf8();
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

/// Replaces control characters (and with them terminal escape sequences), bidirectional
/// overrides and isolates (which can make text display as something it is not) and line or
/// paragraph separators by spaces, so feed text never reaches a terminal, a log line or an
/// alert raw.
pub fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| if is_unsafe_char(c) { ' ' } else { c })
        .collect()
}

/// What [`sanitize`] replaces: control characters, bidirectional overrides and isolates,
/// line and paragraph separators.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

/// [`sanitize`] for text of several lines: line feeds are kept (carriage returns are not).
pub fn sanitize_lines(text: &str) -> String {
    text.split('\n')
        .map(sanitize)
        .collect::<Vec<_>>()
        .join("\n")
}

/// [`sanitize`], then cut to at most `max_chars` characters (an ellipsis marks a cut): feed
/// text in a log line, which a title of megabytes must not flood.
pub fn for_log(text: &str, max_chars: usize) -> String {
    let mut clean = sanitize(text);
    if let Some((cut, _)) = clean.char_indices().nth(max_chars) {
        clean.truncate(cut);
        clean.push('…');
    }
    clean
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_removes_escape_sequences() {
        assert_eq!(sanitize("a\u{1b}[31mred\u{7}"), "a [31mred ");
        assert_eq!(sanitize("gpj.\u{202E}exe"), "gpj. exe");
        assert_eq!(sanitize("a\u{2028}b"), "a b");
        assert_eq!(sanitize("a\u{9b}31mb\u{7f}"), "a 31mb ");
        assert_eq!(sanitize_lines("one\u{1b}[2J\r\ntwo"), "one [2J \ntwo");
        assert_eq!(for_log("북한\u{1b}[31m정찰위성", 4), "북한 […");
        assert_eq!(for_log("short", 10), "short");
    }

    #[test]
    fn html_to_text_fast_path_agrees_with_the_parser() {
        const PIECES: &[&str] = &[
            "word",
            "Seoul",
            " ",
            "  ",
            "\n",
            "\t",
            "\r\n",
            "é",
            "北朝鮮",
            ".",
            ",",
            "a<b",
            "< 3",
            "<",
            ">",
            "&",
            "& ",
            "&&",
            "&amp;",
            "&amp",
            "&ampx;",
            "&lt;",
            "&gt;",
            "&quot;",
            "&nbsp;",
            "&mdash;",
            "&rsquo;",
            "&raquo;",
            "&copy;",
            "&notin;",
            "&bogus;",
            "&#8217;",
            "&#x41;",
            "&#X2014;",
            "&#65",
            "&#0;",
            "&#128;",
            "&#150;",
            "&#xD800;",
            "&#xFFFE;",
            "&#1114112;",
            "&#;",
            "&#x;",
            "&#00000065;",
            "<p>",
            "</p>",
            "<P>",
            "<p/>",
            "<br>",
            "<br/>",
            "<br />",
            "</br>",
            "<BR>",
            "<img src=\"x.jpg\" alt=\"a > b\">",
            "<img src=x/>",
            "<img src='y'/>",
            "<hr>",
            "<b>",
            "</b>",
            "<strong>",
            "</strong>",
            "<em>",
            "</em>",
            "<i>",
            "</i>",
            "<span class=\"c\">",
            "</span>",
            "<a href=\"h?a=1&amp;b=2\">",
            "<a href=x>",
            "</a>",
            "<div>",
            "</div>",
            "<ul>",
            "</ul>",
            "<ol>",
            "</ol>",
            "<li>",
            "</li>",
            "<h2>",
            "</h2>",
            "<h3>",
            "</h3>",
            "<blockquote>",
            "</blockquote>",
            "<figure>",
            "</figure>",
            "<figcaption>",
            "</figcaption>",
            "<small>",
            "</small>",
            "<q>",
            "</q>",
            "<table>",
            "<td>",
            "</table>",
            "<script>x</script>",
            "<x-foo>",
            "<font>",
            "<pre>",
            "</pre>",
            "<!-- c -->",
            "<!doctype html>",
            "<?xml?>",
            "</>",
            "</ p>",
            "<b/>",
            "<span/>",
            "<a href=\"a\"b=c>",
            "<a =x>",
            "<a href=\"x\"/>",
            "<b\u{0}>",
            "\u{0}",
            "<p class = \"x\" >",
            "<p\tid=a>",
            "<a href=a\"b>",
            "<div/ >",
        ];
        let mut rng = fastrand::Rng::with_seed(8);
        let (mut n_fast, mut n_cases) = (0, 0);
        for _ in 0..40_000 {
            let n_pieces = rng.usize(1..14);
            let html: String = (0..n_pieces)
                .map(|_| PIECES[rng.usize(..PIECES.len())])
                .collect();
            n_cases += 1;
            if let Some(fast) = simple_to_text(&html, true) {
                n_fast += 1;
                assert_eq!(fast, render(&Html::parse_fragment(&html)), "tags: {html:?}");
            }
            if let Some(fast) = simple_to_text(&html, false) {
                let parsed = render(&Html::parse_fragment(&html.replace('<', "&lt;")));
                assert_eq!(fast, parsed, "references: {html:?}");
            }
        }
        // Well-nested markup as feeds write it, now and then with a random piece in it.
        fn nested(rng: &mut fastrand::Rng, depth: usize, out: &mut String) {
            const ELEMENTS: &[&str] = &[
                "p",
                "b",
                "strong",
                "em",
                "i",
                "span",
                "a",
                "div",
                "ul",
                "ol",
                "li",
                "h2",
                "blockquote",
                "figure",
                "figcaption",
                "small",
                "sup",
                "q",
                "code",
            ];
            for _ in 0..rng.usize(1..5) {
                match rng.u8(..10) {
                    0..=3 => out.push_str(PIECES[rng.usize(..20)]),
                    4 => out.push_str(PIECES[rng.usize(..PIECES.len())]),
                    5 => out.push_str(["<br>", "<img src=\"i.jpg\" />", "<hr/>"][rng.usize(..3)]),
                    _ if depth < 4 => {
                        let name = ELEMENTS[rng.usize(..ELEMENTS.len())];
                        out.push_str(&format!("<{name} class=\"k\">"));
                        nested(rng, depth + 1, out);
                        out.push_str(&format!("</{name}>"));
                    }
                    _ => out.push_str("text"),
                }
            }
        }
        for _ in 0..40_000 {
            let mut html = String::new();
            nested(&mut rng, 0, &mut html);
            n_cases += 1;
            if let Some(fast) = simple_to_text(&html, true) {
                n_fast += 1;
                assert_eq!(fast, render(&Html::parse_fragment(&html)), "tags: {html:?}");
            }
        }
        // The comparison means something only if the fast path is often taken.
        assert!(n_fast * 5 > n_cases, "{n_fast} of {n_cases}");
    }

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
    fn html_deep_nesting_stays_linear() {
        // html5ever scans its stack of open elements: this took minutes before the fallback.
        let deep = format!(
            "{}deep &amp; text{}",
            "<div>".repeat(100_000),
            "</div>".repeat(100_000)
        );
        check_text(&deep, "deep & text");
        check_text(
            &format!("{}unclosed", "<span><b>".repeat(50_000)),
            "unclosed",
        );
    }

    #[test]
    fn html_fallback_strips_tags_hides_scripts_and_decodes_entities() {
        let html = format!(
            "{}<h1 class=\"x\">Head</h1><p>Hel<b>lo</b> &amp; &lt;b&gt; &quot;q&quot; \
             &apos;a&#39; &#x41;&#66; a&nbsp;b</p><script>var p = '<p>x</p>';</script>\
             <STYLE>p {{}}</STYLE><br/>end",
            "<div>".repeat(300)
        );
        check_text(&html, "Head Hello & <b> \"q\" 'a' AB a b end");
        let nested = "<div>".repeat(300);
        check_text(
            &format!("{nested}a < b &bogus; &#xZZ; & c"),
            "a < b &bogus; &#xZZ; & c",
        );
        check_text(&format!("{nested}kept<!-- unclosed <p>lost"), "kept");
        check_text(&format!("{nested}<p>kept<script>lost"), "kept");
    }

    #[test]
    fn nesting_depth_counts_open_elements() {
        assert_eq!(nesting_depth("<div><span>x</span></div><div></div>"), 2);
        assert_eq!(
            nesting_depth("<br><br/><img src=x><hr><svg/><path d=x/>"),
            0
        );
        // HTML ignores the slash of `<div/>`: it opens a div.
        assert_eq!(nesting_depth("<div/><div/>"), 2);
        assert_eq!(nesting_depth("<p>a<p>b<li>c<li>d"), 0);
        assert_eq!(nesting_depth("<script>'<div><div>'</script>"), 1);
        assert_eq!(nesting_depth("<!-- <div><div> --><x-a><x-b>"), 2);
        assert_eq!(nesting_depth(&"<div>".repeat(1000)), 1000);
    }

    #[test]
    fn angle_brackets_that_are_not_html_stay() {
        check_text(
            "Apple <AAPL.O> shares jump; Vec<T> explained",
            "Apple <AAPL.O> shares jump; Vec<T> explained",
        );
        check_text("Apple <AAPL.O> &amp; Vec<T>", "Apple <AAPL.O> & Vec<T>");
        check_text("<unknown>tag</unknown>", "<unknown>tag</unknown>");
        check_text("x <b and y", "x <b and y");
        check_text("Tom &amp; Jerry <3, x<y", "Tom & Jerry <3, x<y");
        // Real markup is still markup, in any case.
        check_text(
            "<P CLASS=lead>Apple <B>shares</B> jump</P>",
            "Apple shares jump",
        );
        check_text("Apple <b>shares</b> jump", "Apple shares jump");
        check_text("<h2>Q1</h2>text", "Q1 text");
    }

    #[test]
    fn fold_letters_without_decomposition() {
        check_fold("Łódź", "lodz");
        check_fold("København", "kobenhavn");
        check_fold("Đoković", "dokovic");
        check_fold("œuvre", "oeuvre");
        check_fold("ŁØĐĦIıÆŒÞŀĿ", "lodhiiaeoethll");
        check_fold("coŀlecció", "colleccio");
    }

    #[test]
    fn fold_strips_marks_only_from_latin_and_greek() {
        check_fold("мой", "мой");
        check_fold("МОЙ", "мой");
        check_fold("ёлка", "ёлка");
        check_fold("Tiếng Việt", "tieng viet");
        check_fold("ἀθῆναι", "αθηναι");
        check_fold("مُحَمَّد", "محمد");
        check_fold("\u{670}", "");
    }

    #[test]
    fn fold_drops_variation_selectors_and_soft_hyphens() {
        check_fold("葛\u{E0100}城", "葛城");
        check_fold("葛\u{FE00}城", "葛城");
        check_fold("a\u{AD}b", "ab");
        check_tokens("葛\u{E0100}城", &["葛城/cjk"]);
        check_tokens("spy sat\u{AD}ellite", &["spy", "satellite"]);
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
