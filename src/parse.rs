//! Feed bytes → our [`Item`]s. The only user of `feed-rs`: its `Entry` never leaves this
//! module. Here live the identity key, the canonical URL and the repairs that let common
//! real-world breakage (UTF-16, a charset only in the HTTP header, a bare `&`) parse. Pure: no
//! I/O, no clock.

use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};

use feed_rs::model::{Entry, Text};
use sha2::{Digest, Sha256};
use url::Url;

use crate::model::{Item, REPEATED_KEY_MARK};
use crate::text::html_to_text;

/// A parsed feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedFeed {
    /// The feed's own title, plain text.
    pub title: Option<String>,
    /// Items in feed order, with identity keys unique within the feed.
    pub items: Vec<Item>,
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
    let bytes = to_utf8_if_needed(bytes, charset);
    let feed = match parse_with_feed_rs(&bytes, base_url) {
        Ok(feed) => feed,
        Err(first_error) => {
            // A bare `&` (as in "AT&T") is the most common breakage in the wild: repair and
            // retry once, keeping the first error if the repair does not help.
            let repaired = repair_ampersands(&bytes);
            if repaired.as_slice() == bytes.as_ref() {
                return Err(first_error);
            }
            parse_with_feed_rs(&repaired, base_url).map_err(|_| first_error)?
        }
    };
    let title = feed
        .title
        .as_ref()
        .map(text_of)
        .filter(|title| !title.is_empty());
    let mut items: Vec<Item> = feed.entries.iter().map(item_from_entry).collect();
    disambiguate_repeated_keys(&mut items);
    Ok(ParsedFeed { title, items })
}

/// The canonical form of a link: lower-case scheme and host (the `url` crate does that), no
/// fragment, no `utm_*` or other tracking parameters, no default port. `None` for links that
/// are not absolute http(s) URLs.
pub fn canonical_url(link: &str) -> Option<String> {
    let mut url = Url::parse(link.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    url.set_fragment(None);
    if url.query().is_some() {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(name, _)| !is_tracking_param(name))
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    Some(url.into())
}

/// The identity key of an item within its feed: the guid, else the canonical link, else a hash
/// of title, summary and date. Prefixed so the kinds never collide.
pub fn identity_key(
    guid: Option<&str>,
    canonical_link: Option<&str>,
    title: &str,
    summary: &str,
    date: Option<&str>,
) -> String {
    if let Some(guid) = guid.map(str::trim).filter(|g| !g.is_empty()) {
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
            .build()
            .parse(bytes)
    }));
    match result {
        Ok(Ok(feed)) => Ok(feed),
        Ok(Err(error)) => Err(ParseError::Invalid(error.to_string())),
        Err(panic) => Err(ParseError::Panicked(panic_message(&*panic))),
    }
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
    let link = entry
        .links
        .iter()
        .find(|link| link.rel.as_deref().is_none_or(|rel| rel == "alternate"))
        .or_else(|| entry.links.first())
        .map(|link| link.href.as_str());
    let url = link.and_then(canonical_url);
    let title = entry.title.as_ref().map(text_of).unwrap_or_default();
    let summary = entry.summary.as_ref().map(text_of).unwrap_or_default();
    let content = entry
        .content
        .as_ref()
        .and_then(|content| content.body.as_deref())
        .map(html_to_text)
        .unwrap_or_default();
    // Some feeds put everything in the content and nothing in the summary; the other way round
    // is more common. Both are kept; the matcher looks at both.
    let published = entry.published.or(entry.updated);
    let date_text = published.map(|date| date.to_rfc3339());
    let guid = (!entry.id.is_empty()).then_some(entry.id.as_str());
    let key = identity_key(guid, url.as_deref(), &title, &summary, date_text.as_deref());
    Item {
        key,
        url,
        title,
        summary,
        content,
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

/// Plain text of a feed-rs text construct, whatever its declared type: titles marked as plain
/// text still arrive with entities or tags often enough.
fn text_of(text: &Text) -> String {
    let content = text.content.as_str();
    if content.contains('<') || content.contains('&') {
        html_to_text(content)
    } else {
        clean_line(content)
    }
}

/// Collapses whitespace and drops control characters.
fn clean_line(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
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

/// Returns UTF-8 bytes for input feed-rs cannot read as it is: UTF-16/32 (which it panics on),
/// documents that declare another encoding than UTF-8 in their XML declaration, and documents
/// whose encoding is given only by the HTTP header. Everything else (UTF-8, or an encoding
/// label that no decoder knows) passes through untouched.
fn to_utf8_if_needed<'a>(bytes: &'a [u8], charset: Option<&str>) -> std::borrow::Cow<'a, [u8]> {
    use std::borrow::Cow;
    if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        if encoding == encoding_rs::UTF_8 {
            return Cow::Borrowed(&bytes[bom_len..]);
        }
        let (text, _) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
        return Cow::Owned(strip_encoding_declaration(&text).into_bytes());
    }
    // UTF-16 without a BOM: `<` followed by a zero byte, or the other way round.
    if bytes.len() >= 4 && bytes[0] == b'<' && bytes[1] == 0 {
        let (text, _) = encoding_rs::UTF_16LE.decode_without_bom_handling(bytes);
        return Cow::Owned(strip_encoding_declaration(&text).into_bytes());
    }
    if bytes.len() >= 4 && bytes[0] == 0 && bytes[1] == b'<' {
        let (text, _) = encoding_rs::UTF_16BE.decode_without_bom_handling(bytes);
        return Cow::Owned(strip_encoding_declaration(&text).into_bytes());
    }
    let declared = declared_encoding(bytes);
    // Decoded here, not by feed-rs: quick-xml switches to the declared encoding only while
    // the declaration is within the document's first 64 bytes, so a longer prolog (with
    // `standalone`, or blank lines before it) left the feed unreadable. UTF-16 declared in
    // ASCII-compatible bytes is read as UTF-8.
    let declared_known = declared
        .as_deref()
        .and_then(|label| encoding_rs::Encoding::for_label(label.trim().as_bytes()));
    if let Some(encoding) = declared_known
        && encoding != encoding_rs::UTF_8
    {
        let (text, _) = encoding
            .output_encoding()
            .decode_without_bom_handling(bytes);
        return Cow::Owned(strip_encoding_declaration(&text).into_bytes());
    }
    let header =
        charset.and_then(|label| encoding_rs::Encoding::for_label(label.trim().as_bytes()));
    match (declared, header) {
        (None, Some(encoding)) if encoding != encoding_rs::UTF_8 => {
            let (text, _) = encoding.decode_without_bom_handling(bytes);
            Cow::Owned(text.into_owned().into_bytes())
        }
        _ => Cow::Borrowed(bytes),
    }
}

/// The `encoding="…"` of an XML declaration, if the document starts with one.
fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(200)];
    let head = String::from_utf8_lossy(head);
    let declaration = head.trim_start().strip_prefix("<?xml")?;
    let declaration = &declaration[..declaration.find("?>")?];
    let after = &declaration[declaration.find("encoding")? + "encoding".len()..];
    let after = after.trim_start().strip_prefix('=')?.trim_start();
    let (quote, value) = if let Some(value) = after.strip_prefix('"') {
        ('"', value)
    } else {
        ('\'', after.strip_prefix('\'')?)
    };
    Some(value[..value.find(quote)?].to_string())
}

/// Removes `encoding="…"` from a leading XML declaration of text that is now UTF-8.
fn strip_encoding_declaration(text: &str) -> String {
    let trimmed = text.trim_start();
    if let Some(rest) = trimmed.strip_prefix("<?xml")
        && let Some(end) = rest.find("?>")
    {
        return format!("<?xml version=\"1.0\"?>{}", &rest[end + 2..]);
    }
    text.to_string()
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
