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
mod cut;
mod discovery;
mod fold;
mod json;
mod sanitize;
mod simple;

use scraper::{ElementRef, Html, Node};

pub use article::article_text;
pub use cut::{char_columns, columns, cut_chars, fit_width, shorten};
pub use discovery::{feed_links, looks_like_html};
pub use fold::{
    Token, ascii_words, fold, fold_into, for_each_token, separates_tokens, tokenize,
    words_are_ascii,
};
pub use json::{to_json, to_json_pretty};
pub use sanitize::{escape_xml, for_log, is_unsafe_char, sanitize, sanitize_lines};
use simple::simple_to_text;

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
    let mut collapsed = Collapsed::with_capacity(text.len());
    collapsed.push_str(text);
    collapsed.finish()
}

/// Text whose whitespace is collapsed as it is appended (see [`collapse_whitespace`]): what
/// `collapse_whitespace` gives for everything pushed, one after the other, without first
/// building that text.
struct Collapsed {
    out: String,
    pending_space: bool,
}

impl Collapsed {
    fn with_capacity(capacity: usize) -> Collapsed {
        Collapsed {
            out: String::with_capacity(capacity),
            pending_space: false,
        }
    }

    fn push_str(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let mut index = 0;
        let plain = |b: u8| b > b' ' && b < 0x7F;
        while index < bytes.len() {
            let byte = bytes[index];
            // Runs of ASCII that is neither whitespace nor a control character, with single
            // spaces between them, are copied whole: each such space is the one space that
            // `push` would give for it.
            if plain(byte) {
                let start = index;
                index += 1;
                while let Some(&next) = bytes.get(index) {
                    if plain(next) {
                        index += 1;
                    } else if next == b' ' && bytes.get(index + 1).is_some_and(|&b| plain(b)) {
                        index += 2;
                    } else {
                        break;
                    }
                }
                self.space_if_pending();
                self.out.push_str(&text[start..index]);
                continue;
            }
            // ASCII whitespace and control characters, as `push` takes them.
            if byte.is_ascii() {
                self.pending_space = true;
                index += 1;
                continue;
            }
            let c = text[index..]
                .chars()
                .next()
                .expect("index is at a character boundary");
            index += c.len_utf8();
            self.push(c);
        }
    }

    fn push(&mut self, c: char) {
        if c.is_whitespace() || c.is_control() || c == '\u{200B}' {
            self.pending_space = true;
        } else if c != '\u{AD}' && c != '\u{FEFF}' {
            self.space_if_pending();
            self.out.push(c);
        }
    }

    /// The one space a run of whitespace before this text stands for (none at the start).
    fn space_if_pending(&mut self) {
        if self.pending_space && !self.out.is_empty() {
            self.out.push(' ');
        }
        self.pending_space = false;
    }

    fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests;
