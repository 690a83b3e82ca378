//! Byte-level reading of XML markup shared by the repair scan and the cut: tag ends (quotes
//! skipped), attributes, names, DOCTYPE ends and close tags. No allocation but the attribute
//! list.

use std::ops::Range;

/// An attribute of a start tag: its whole extent (with the space before it), name and value.
pub(super) struct Attribute {
    pub(super) whole: Range<usize>,
    pub(super) name: Range<usize>,
    pub(super) value: Range<usize>,
}

/// The attributes of a start tag between `from` (after the name) and `to` (its `>` or `/>`).
pub(super) fn attributes(bytes: &[u8], from: usize, to: usize) -> Vec<Attribute> {
    let mut attrs = Vec::new();
    let mut at = from;
    while at < to {
        let whole_start = at;
        while at < to && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        let name_start = at;
        while at < to && !bytes[at].is_ascii_whitespace() && bytes[at] != b'=' {
            at += 1;
        }
        let name = name_start..at;
        while at < to && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        if at >= to || bytes[at] != b'=' {
            if !name.is_empty() {
                // An attribute without a value (HTML style): not ours to read.
                continue;
            }
            break;
        }
        at += 1;
        while at < to && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        let Some(&quote) = bytes.get(at).filter(|&&b| b == b'"' || b == b'\'') else {
            break;
        };
        let value_start = at + 1;
        let Some(len) = bytes[value_start..to].iter().position(|&b| b == quote) else {
            break;
        };
        at = value_start + len + 1;
        attrs.push(Attribute {
            whole: whole_start..at,
            name,
            value: value_start..value_start + len,
        });
    }
    attrs
}

pub(super) fn split_name(name: &[u8]) -> (Option<&[u8]>, &[u8]) {
    match memchr::memchr(b':', name) {
        Some(colon) => (Some(&name[..colon]), &name[colon + 1..]),
        None => (None, name),
    }
}

pub(super) fn is_name_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_' || byte == b':' || byte >= 0x80
}

pub(super) fn is_name_end(byte: u8) -> bool {
    byte.is_ascii_whitespace() || matches!(byte, b'/' | b'>')
}

pub(super) fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    // The needles are short markup ends (`-->`, `]]>`, `?>`): a search for their first byte
    // beats building a substring searcher for each call.
    let (&first, rest) = needle.split_first()?;
    let mut at = from;
    loop {
        at += memchr::memchr(first, haystack.get(at..)?)?;
        if haystack[at + 1..].starts_with(rest) {
            return Some(at);
        }
        at += 1;
    }
}

/// The end (index of `>`) of a tag whose name ends at `from`, skipping quoted values.
pub(super) fn tag_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut quote = None;
    for (i, &byte) in bytes.iter().enumerate().skip(from) {
        match (quote, byte) {
            (None, b'"' | b'\'') => quote = Some(byte),
            (Some(open), _) if byte == open => quote = None,
            (None, b'>') => return Some(i),
            // A new tag before this one ended: the quote was a stray apostrophe in an
            // HTML-ish attribute; give up on this tag.
            (None, b'<') => return None,
            _ => {}
        }
    }
    None
}

/// The position after a DOCTYPE declaration starting at `start` (with an internal subset in
/// brackets).
pub(super) fn doctype_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, &byte) in bytes.iter().enumerate().skip(start + 2) {
        match byte {
            b'[' => depth += 1,
            b']' => depth = depth.saturating_sub(1),
            b'>' if depth == 0 => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// The position after `</name>` (optional spaces before `>`) from `from` on.
pub(super) fn find_close(bytes: &[u8], from: usize, name: &[u8]) -> Option<usize> {
    let mut at = from;
    loop {
        let found = find(bytes, at, b"</")?;
        let after = found + 2;
        if bytes[after..].starts_with(name) {
            let rest = after + name.len();
            let close = rest
                + bytes[rest..]
                    .iter()
                    .take_while(|b| b.is_ascii_whitespace())
                    .count();
            if bytes.get(close) == Some(&b'>') {
                return Some(close + 1);
            }
        }
        at = after;
    }
}
