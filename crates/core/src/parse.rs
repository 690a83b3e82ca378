//! Feed bytes → our [`Item`]s. The only user of `feed-rs`: its `Entry` never leaves this
//! module. Here live the identity key, the canonical URL and the repairs that let real-world
//! breakage parse: `encoding` (any charset, declared or not, and bad bytes), `repair` (markup
//! in titles, old formats, broken or cut-off XML), `json` (JSON Feed's cut and its looser
//! forms), a bare `&` here. What feed-rs reads as it is, it reads unchanged. Pure: no I/O,
//! no clock.

use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};

use feed_rs::model::{Entry, Text};
use sha2::{Digest, Sha256};
use url::Url;

use crate::model::{Item, REPEATED_KEY_MARK};
use crate::text::html_to_text;

mod cut;
mod dates;
mod encoding;
mod json;
mod markup;
mod repair;
mod vocabulary;

use cut::{cut_after_items, markup_is_ascii};
use encoding::{encoding_for_label, repair_double_utf8, to_utf8};

/// A parsed feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedFeed {
    /// The feed's own title, plain text.
    pub title: Option<String>,
    /// Items in feed order, with identity keys unique within the feed.
    pub items: Vec<Item>,
    /// Items left out by [`Caps::max_items`] (the feed had this many more).
    pub dropped_items: usize,
    /// Fields cut to [`Caps::max_field_chars`].
    pub truncated_fields: usize,
    /// What a reader of the feed's log should know about this parse: the document was
    /// repaired in a way that may lose items (it breaks off), or it reads as no items although
    /// it seems to have some.
    pub notices: Vec<String>,
}

/// How much of one feed a parse keeps: its first `max_items` items in feed order, and at most
/// `max_field_chars` characters of each text field (title, summary, content, each author
/// and category).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub max_items: usize,
    pub max_field_chars: usize,
}

impl Caps {
    /// Keep everything.
    pub const NONE: Caps = Caps {
        max_items: usize::MAX,
        max_field_chars: usize::MAX,
    };
}

/// Why bytes did not parse as a feed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("not a feed: {0}")]
    Invalid(String),
    #[error("feed parser crashed on this input: {0}")]
    Panicked(String),
}

/// Query parameters that only track the reader and never change what a link points to.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "dclid",
    "gclsrc",
    "msclkid",
    "yclid",
    "mc_cid",
    "mc_eid",
    "igshid",
    "_ga",
    "_gl",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "ocid",
    "cmpid",
    "ito",
    "at_medium",
    "at_campaign",
    "ref_src",
    "spm",
];

/// Parses feed bytes. `charset` is the `charset` parameter of the HTTP `Content-Type`, used
/// when the document itself declares no encoding. `base_url` resolves relative links.
pub fn parse_feed(
    bytes: &[u8],
    charset: Option<&str>,
    base_url: Option<&str>,
) -> Result<ParsedFeed, ParseError> {
    parse_feed_capped(bytes, charset, base_url, Caps::NONE)
}

/// [`parse_feed`] keeping only what `caps` allow. A feed with more items than
/// `caps.max_items` is cut after them *before* feed-rs reads it (whose model of a feed takes
/// some 25 times the document's size in memory), so a feed of 100,000 items costs what one of
/// `max_items` does: XML by `cut_after_items`, JSON Feed by `json::cut_json_items`.
pub fn parse_feed_capped(
    bytes: &[u8],
    charset: Option<&str>,
    base_url: Option<&str>,
    caps: Caps,
) -> Result<ParsedFeed, ParseError> {
    let bytes = to_utf8(bytes, charset);
    let cut = if caps.max_items == usize::MAX {
        None
    } else if is_json(&bytes) {
        json::cut_json_items(&bytes, caps.max_items)
    } else if markup_is_ascii(&bytes) {
        cut_after_items(&bytes, caps.max_items)
    } else {
        None
    };
    let mut parsed = match cut {
        Some((shorter, dropped)) => match parse_document(&shorter, base_url, caps.max_items) {
            Ok(mut parsed) => {
                parsed.dropped_items = dropped;
                parsed
            }
            // The cut is a shortcut: if the shorter document does not parse, the whole one
            // decides.
            Err(_) => parse_document(&bytes, base_url, caps.max_items)?,
        },
        None => parse_document(&bytes, base_url, caps.max_items)?,
    };
    // JSON feeds, and XML the cut declined.
    if parsed.items.len() > caps.max_items {
        parsed.dropped_items += parsed.items.len() - caps.max_items;
        parsed.items.truncate(caps.max_items);
    }
    if caps.max_field_chars < usize::MAX {
        let max = caps.max_field_chars;
        for item in &mut parsed.items {
            let mut cut = 0;
            for field in [&mut item.title, &mut item.summary, &mut item.content]
                .into_iter()
                .chain(item.authors.iter_mut())
                .chain(item.categories.iter_mut())
            {
                cut += usize::from(crate::text::cut_chars(field, max));
            }
            parsed.truncated_fields += cut;
        }
        if let Some(title) = &mut parsed.title {
            parsed.truncated_fields += usize::from(crate::text::cut_chars(title, max));
        }
    }
    Ok(parsed)
}

/// Whether a document is JSON (its first character other than whitespace is `{`).
fn is_json(bytes: &[u8]) -> bool {
    bytes.trim_ascii_start().first() == Some(&b'{')
}

/// Parses a whole UTF-8 document. XML that [`repair::repair_xml`] finds something to repair
/// in is read repaired (and as it is if the repaired form fails); the repaired form is cut
/// after `max_items` items like any other (a broken document is not cut before its repair).
/// A JSON feed feed-rs rejects is read as [`json::repair_json`] makes it.
fn parse_document(
    bytes: &[u8],
    base_url: Option<&str>,
    max_items: usize,
) -> Result<ParsedFeed, ParseError> {
    let mut notices = Vec::new();
    let mut dropped_items = 0;
    let feed = if is_json(bytes) {
        parse_with_feed_rs(bytes, base_url).or_else(|error| {
            let repaired = json::repair_json(bytes).ok_or_else(|| error.clone())?;
            parse_with_feed_rs(&repaired, base_url).map_err(|_| error)
        })?
    } else {
        match repair::repair_xml(bytes) {
            Some(repaired) => {
                let cut = (max_items < usize::MAX)
                    .then(|| cut_after_items(&repaired.bytes, max_items))
                    .flatten();
                let (document, dropped) = match &cut {
                    Some((shorter, dropped)) => (shorter.as_slice(), *dropped),
                    None => (repaired.bytes.as_slice(), 0),
                };
                match parse_xml(document, base_url) {
                    Ok(feed) => {
                        notices = repaired.notices;
                        dropped_items = dropped;
                        feed
                    }
                    Err(error) => parse_xml(bytes, base_url).map_err(|_| error)?,
                }
            }
            None => parse_xml(bytes, base_url)?,
        }
    };
    let title = feed
        .title
        .as_ref()
        .map(text_of)
        .filter(|title| !title.is_empty());
    let mut items: Vec<Item> = feed.entries.iter().map(item_from_entry).collect();
    disambiguate_repeated_keys(&mut items);
    if items.is_empty() && seems_to_have_entries(bytes) {
        notices.push("the document seems to have items, but none could be read".into());
    }
    Ok(ParsedFeed {
        title,
        items,
        dropped_items,
        truncated_fields: 0,
        notices,
    })
}

/// XML with `<item` or `<entry` elements (any prefix), or JSON with a non-empty `items`.
fn seems_to_have_entries(bytes: &[u8]) -> bool {
    if is_json(bytes) {
        return memchr::memmem::find(bytes, b"\"items\"").is_some_and(|at| {
            let after = bytes[at + 7..].trim_ascii_start();
            let after = after.strip_prefix(b":").unwrap_or(after).trim_ascii_start();
            after.starts_with(b"[") && !after[1..].trim_ascii_start().starts_with(b"]")
        });
    }
    [&b"<item"[..], b":item", b"<entry", b":entry"]
        .iter()
        .any(|needle| {
            memchr::memmem::find_iter(bytes, needle).any(|at| {
                bytes
                    .get(at + needle.len())
                    .is_some_and(|&b| b == b'>' || b.is_ascii_whitespace() || b == b'/')
            })
        })
}

/// Parses XML with feed-rs, repairing bare ampersands if the first try fails.
fn parse_xml(bytes: &[u8], base_url: Option<&str>) -> Result<feed_rs::model::Feed, ParseError> {
    parse_with_feed_rs(bytes, base_url).or_else(|first_error| {
        // A bare `&` (as in "AT&T") is the most common breakage in the wild: repair and
        // retry once, keeping the first error if the repair does not help.
        let repaired = repair_ampersands(bytes);
        if repaired.as_slice() == bytes {
            return Err(first_error);
        }
        parse_with_feed_rs(&repaired, base_url).map_err(|_| first_error)
    })
}

/// The longest link kept, in bytes: longer ones are not a real article's address, and would be
/// stored, logged and printed whole.
pub const MAX_URL_LEN: usize = 8 * 1024;
/// The longest guid used as it is in an identity key, in bytes; a longer one is hashed.
pub const MAX_GUID_LEN: usize = 1024;

/// The canonical form of a link: lower-case scheme and host (the `url` crate does that), no
/// fragment, no `utm_*` or other tracking parameters, no default port. The rest of the query
/// is kept byte for byte (`?r123` stays, an encoded `url=https%3A…` is not re-encoded): signed
/// and redirect URLs break otherwise. `None` for links that are not absolute http(s) URLs,
/// or longer than [`MAX_URL_LEN`].
pub fn canonical_url(link: &str) -> Option<String> {
    if link.len() > MAX_URL_LEN {
        return None;
    }
    let mut url = Url::parse(link.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    url.set_fragment(None);
    if let Some(query) = url.query() {
        let pairs = || query.split('&').filter(|pair| !pair.is_empty());
        let tracked = |pair: &&str| {
            let name = pair.split_once('=').map_or(*pair, |(name, _)| name);
            is_tracking_param(&percent_decode(name))
        };
        if pairs().any(|pair| tracked(&pair)) || query.is_empty() {
            let kept: Vec<&str> = pairs().filter(|pair| !tracked(pair)).collect();
            let kept = kept.join("&");
            url.set_query((!kept.is_empty()).then_some(kept.as_str()));
        }
    }
    Some(url.into())
}

/// `%XX` escapes decoded (a parameter's name, to compare it).
fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("{text}=").as_bytes())
        .next()
        .map(|(name, _)| name.into_owned())
        .unwrap_or_default()
}

/// The identity key of an item within its feed: the guid (hashed when longer than
/// [`MAX_GUID_LEN`]), else the canonical link, else a hash of title, summary and date.
/// Prefixed so the kinds never collide.
pub fn identity_key(
    guid: Option<&str>,
    canonical_link: Option<&str>,
    title: &str,
    summary: &str,
    date: Option<&str>,
) -> String {
    if let Some(guid) = guid.map(str::trim).filter(|g| !g.is_empty()) {
        if guid.len() > MAX_GUID_LEN {
            return format!("guid-hash:{}", short_hash(&[guid]));
        }
        return format!("guid:{guid}");
    }
    if let Some(link) = canonical_link {
        return format!("url:{link}");
    }
    format!("hash:{}", short_hash(&[title, summary, date.unwrap_or("")]))
}

/// Makes identity keys unique within one parse. When several items share a key (a feed that
/// reuses a guid), identical copies are dropped and every distinct item gets the key plus a
/// hash of its content, the same whatever order the feed lists them in.
fn disambiguate_repeated_keys(items: &mut Vec<Item>) {
    let mut count: HashMap<String, usize> = HashMap::new();
    for item in items.iter() {
        *count.entry(item.key.clone()).or_default() += 1;
    }
    if count.values().all(|&n| n == 1) {
        return;
    }
    let mut seen = HashSet::new();
    items.retain_mut(|item| {
        if count[&item.key] > 1 {
            let content = short_hash(&[
                &item.title,
                item.url.as_deref().unwrap_or(""),
                &item.summary,
            ]);
            item.key = format!("{}{REPEATED_KEY_MARK}{content}", item.key);
        }
        seen.insert(item.key.clone())
    });
}

fn is_tracking_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("utm_") || TRACKING_PARAMS.contains(&lower.as_str())
}

fn parse_with_feed_rs(
    bytes: &[u8],
    base_url: Option<&str>,
) -> Result<feed_rs::model::Feed, ParseError> {
    // feed-rs invents an id for entries without one (possibly random); an empty id lets us
    // tell them apart and compute our own key.
    let result = catch_unwind(AssertUnwindSafe(|| {
        feed_rs::parser::Builder::new()
            .base_uri(base_url)
            .id_generator(|_, _, _| String::new())
            .timestamp_parser(dates::timestamp)
            .build()
            .parse(bytes)
    }));
    match result {
        Ok(Ok(feed)) => Ok(feed),
        Ok(Err(error)) => Err(ParseError::Invalid(error.to_string())),
        Err(panic) => Err(ParseError::Panicked(panic_message(&*panic))),
    }
}

/// The main text of a fetched web page (an item's linked article): decoded by its byte-order
/// mark, else the HTTP `charset`, else a `<meta charset>` near its start, else as UTF-8 (bad
/// bytes replaced), then reduced to its article (`text::article_text`).
pub fn page_text(bytes: &[u8], charset: Option<&str>) -> String {
    let label = |label: &[u8]| encoding_for_label(&String::from_utf8_lossy(label));
    let encoding = encoding_rs::Encoding::for_bom(bytes)
        .map(|(encoding, _)| encoding)
        .or_else(|| charset.and_then(encoding_for_label))
        // As browsers do, a page cannot declare itself UTF-16 in a <meta> (it could not have
        // been read to find the tag): that means UTF-8.
        .or_else(|| {
            meta_charset(&bytes[..bytes.len().min(1024)])
                .and_then(label)
                .map(encoding_rs::Encoding::output_encoding)
        })
        .unwrap_or(encoding_rs::UTF_8);
    let (html, _, _) = encoding.decode(bytes);
    crate::text::article_text(&html)
}

/// The value of `charset=` in the first `<meta` tag that has one (`<meta charset="x">` or
/// `<meta http-equiv="content-type" content="text/html; charset=x">`), as bytes.
fn meta_charset(head: &[u8]) -> Option<&[u8]> {
    let lower = head.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = find_bytes(&lower[from..], b"<meta") {
        let start = from + found;
        let end = lower[start..]
            .iter()
            .position(|&b| b == b'>')
            .map_or(lower.len(), |end| start + end);
        if let Some(at) = find_bytes(&lower[start..end], b"charset=") {
            let value = start + at + b"charset=".len();
            let value = value
                + lower[value..end]
                    .iter()
                    .take_while(|&&b| b == b'"' || b == b'\'' || b == b' ')
                    .count();
            let len = lower[value..end]
                .iter()
                .take_while(|&&b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.')
                })
                .count();
            return (len > 0).then(|| &head[value..value + len]);
        }
        from = end;
    }
    None
}

fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The text of a caught panic's payload.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

fn item_from_entry(entry: &Entry) -> Item {
    let (url, identity_link) = match item_link(entry) {
        Some((url, fragment)) => {
            // Items told apart only by a fragment (one page's sections) stay apart: the
            // identity key keeps it, the canonical URL does not.
            let identity = match fragment {
                Some(fragment) => format!("{url}#{fragment}"),
                None => url.clone(),
            };
            (Some(url), Some(identity))
        }
        None => (None, None),
    };
    let title = entry.title.as_ref().map(text_of).unwrap_or_default();
    let summary = entry.summary.as_ref().map(text_of).unwrap_or_default();
    let content = entry
        .content
        .as_ref()
        .filter(|content| is_text_type(content.content_type.as_ref()))
        .and_then(|content| content.body.as_deref())
        .map(|body| html_to_text(&repaired(body)))
        .unwrap_or_default();
    // Some feeds put everything in the content and nothing in the summary; the other way round
    // is more common. Both are kept; the matcher looks at both.
    let published = entry.published.or(entry.updated);
    let date_text = published.map(|date| date.to_rfc3339());
    let guid = (!entry.id.is_empty()).then_some(entry.id.as_str());
    let key = identity_key(
        guid,
        identity_link.as_deref(),
        &title,
        &summary,
        date_text.as_deref(),
    );
    Item {
        key,
        url,
        title,
        summary,
        content,
        article: String::new(),
        authors: entry
            .authors
            .iter()
            .filter_map(|person| person.name.as_deref().map(clean_line))
            .filter(|name| !name.is_empty())
            .collect(),
        categories: entry
            .categories
            .iter()
            .map(|category| clean_line(category.label.as_deref().unwrap_or(&category.term)))
            .filter(|name| !name.is_empty())
            .collect(),
        published,
    }
}

/// An item's address, canonical, and the fragment its link had: the first `alternate` link
/// (or one without `rel`) that is a web page, else its first link of any kind, else its
/// enclosure, else its id (a guid or Atom id) when that is an http(s) URL.
fn item_link(entry: &Entry) -> Option<(String, Option<String>)> {
    let alternate =
        |link: &&feed_rs::model::Link| link.rel.as_deref().is_none_or(|rel| rel == "alternate");
    let page = |link: &&feed_rs::model::Link| {
        link.media_type
            .as_deref()
            .is_none_or(|media| media.contains("html"))
    };
    let links = entry.links.iter();
    let enclosures = entry
        .media
        .iter()
        .flat_map(|media| &media.content)
        .filter_map(|content| content.url.as_ref())
        .map(|url| url.as_str());
    links
        .clone()
        .filter(alternate)
        .filter(page)
        .chain(links.clone().filter(alternate))
        .chain(links)
        .map(|link| link.href.as_str())
        .chain(enclosures)
        .chain(std::iter::once(entry.id.as_str()))
        .find_map(|link| {
            let url = canonical_url(link)?;
            let fragment = link
                .split_once('#')
                .map(|(_, fragment)| fragment.trim())
                .filter(|fragment| !fragment.is_empty())
                .map(str::to_string);
            Some((url, fragment))
        })
}

/// Whether a content type is text a reader reads (HTML, plain text, XHTML or XML), not a
/// binary or base64 body.
fn is_text_type(media: &str) -> bool {
    let essence = media
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || essence.ends_with("/xhtml")
        || essence.ends_with("/xml")
        || essence.ends_with("+xml")
}

/// Plain text of a feed-rs text construct, whatever its declared type: titles marked as plain
/// text still arrive with entities or tags often enough.
fn text_of(text: &Text) -> String {
    let content = repaired(&text.content);
    let content = content.as_ref();
    if content.contains('<') || content.contains('&') {
        html_to_text(content)
    } else {
        clean_line(content)
    }
}

/// `text`, or its repair when it is UTF-8 read twice (before whitespace is collapsed: a
/// non-breaking space is half of such a character).
fn repaired(text: &str) -> std::borrow::Cow<'_, str> {
    match repair_double_utf8(text) {
        Some(repaired) => std::borrow::Cow::Owned(repaired),
        None => std::borrow::Cow::Borrowed(text),
    }
}

/// Collapses whitespace and drops control characters.
fn clean_line(text: &str) -> String {
    let mut line = String::with_capacity(text.len());
    for part in text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|part| !part.is_empty())
    {
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(part);
    }
    line
}

fn short_hash(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    let digest = hasher.finalize();
    digest[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Replaces `&` that does not start an entity or character reference with `&amp;`.
fn repair_ampersands(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 64);
    for (i, &byte) in bytes.iter().enumerate() {
        if byte == b'&' && !starts_reference(&bytes[i + 1..]) {
            out.extend_from_slice(b"&amp;");
        } else {
            out.push(byte);
        }
    }
    out
}

fn starts_reference(rest: &[u8]) -> bool {
    let end = rest.iter().take(12).position(|&b| b == b';');
    let Some(end) = end else { return false };
    let name = &rest[..end];
    match name {
        [b'#', b'x' | b'X', hex @ ..] => !hex.is_empty() && hex.iter().all(u8::is_ascii_hexdigit),
        [b'#', digits @ ..] => !digits.is_empty() && digits.iter().all(u8::is_ascii_digit),
        [first, rest @ ..] => {
            first.is_ascii_alphabetic() && rest.iter().all(u8::is_ascii_alphanumeric)
        }
        [] => false,
    }
}

#[cfg(test)]
mod tests;
