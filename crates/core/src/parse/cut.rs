//! The cut of an XML feed after its first items, before feed-rs reads it: feed-rs's model
//! of a feed takes some 25 times the document's size in memory, so a feed of 100,000 items
//! is cut to `max_items_per_poll` first. A linear scan of the bytes that reads only
//! well-formed documents (anything else is left to the repair and a whole parse).

use super::encoding::{declared_encoding, encoding_for_label};
use super::markup::{find, tag_end};

/// Whether markup bytes (`<`, `>`, quotes, `/`) in `bytes` are always markup: UTF-8, or a
/// declared encoding whose multi-byte sequences never use ASCII bytes in that range (not
/// ISO-2022-JP, say). Only then can [`cut_after_items`] read the bytes without decoding.
pub(super) fn markup_is_ascii(bytes: &[u8]) -> bool {
    match declared_encoding(bytes) {
        None => true,
        Some(label) => {
            encoding_for_label(&label).is_some_and(|encoding| encoding.is_ascii_compatible())
        }
    }
}

/// For an XML document with more than `max` items (`entry` elements in an Atom `feed`,
/// `item` elements in an `rss` or RDF document; any prefix, not nested in another), the
/// document cut before item `max + 1` with the elements still open closed again, and how
/// many items were cut off. `None` when there are not that many, the root is none of those,
/// or the document is not well-formed enough to cut safely (feed-rs then reads all of it).
/// A linear scan of the bytes; comments, CDATA sections, processing instructions and the
/// DOCTYPE are skipped whole, so markup inside them is never counted.
pub(super) fn cut_after_items(bytes: &[u8], max: usize) -> Option<(Vec<u8>, usize)> {
    fn is_name_end(byte: u8) -> bool {
        byte.is_ascii_whitespace() || matches!(byte, b'/' | b'>')
    }

    // Every item counted below is a start tag that holds its local name, so a document in
    // which "item" and "entry" each occur at most `max` times has no more items than that:
    // most feeds end here, after two fast substring counts instead of a scan of the markup.
    let at_most_max = |name: &[u8]| {
        memchr::memmem::find_iter(bytes, name)
            .take(max.saturating_add(1))
            .count()
            <= max
    };
    if at_most_max(b"item") && at_most_max(b"entry") {
        return None;
    }
    let mut open: Vec<&[u8]> = Vec::new();
    // What an item is called, known from the root element.
    let mut item_name: Option<&[u8]> = None;
    // The depth of `open` at which the current item started.
    let mut in_item: Option<usize> = None;
    let mut count = 0usize;
    let mut cut: Option<(usize, Vec<&[u8]>)> = None;
    let mut at = 0;
    while let Some(offset) = bytes[at..].iter().position(|&b| b == b'<') {
        let start = at + offset;
        let rest = &bytes[start..];
        at = if rest.starts_with(b"<!--") {
            find(bytes, start + 4, b"-->")? + 3
        } else if rest.starts_with(b"<![CDATA[") {
            find(bytes, start + 9, b"]]>")? + 3
        } else if rest.starts_with(b"<?") {
            find(bytes, start + 2, b"?>")? + 2
        } else if rest.starts_with(b"<!") {
            // A DOCTYPE, perhaps with an internal subset in brackets.
            let mut depth = 0usize;
            let mut end = None;
            for (i, &byte) in bytes.iter().enumerate().skip(start + 2) {
                match byte {
                    b'[' => depth += 1,
                    b']' => depth = depth.saturating_sub(1),
                    b'>' if depth == 0 => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            end? + 1
        } else if let Some(name_and_rest) = rest.strip_prefix(b"</") {
            let len = name_and_rest.iter().position(|&b| is_name_end(b))?;
            let name = &name_and_rest[..len];
            if open.pop()? != name {
                return None;
            }
            if in_item == Some(open.len()) {
                in_item = None;
            }
            tag_end(bytes, start + 2 + len)? + 1
        } else {
            let len = rest[1..].iter().position(|&b| is_name_end(b))?;
            if len == 0 {
                return None;
            }
            let name = &rest[1..1 + len];
            let end = tag_end(bytes, start + 1 + len)?;
            let self_closing = bytes[end - 1] == b'/';
            let local = name.rsplit(|&b| b == b':').next().unwrap_or(name);
            if open.is_empty() {
                item_name = Some(match local {
                    b"feed" => b"entry",
                    b"rss" | b"RDF" => b"item",
                    _ => return None,
                });
            }
            if in_item.is_none() && item_name == Some(local) {
                count += 1;
                if count == max.saturating_add(1) {
                    cut = Some((start, open.clone()));
                }
                if !self_closing {
                    in_item = Some(open.len());
                }
            }
            if !self_closing {
                open.push(name);
            }
            end + 1
        };
    }
    let (cut_at, still_open) = cut?;
    if !open.is_empty() {
        return None;
    }
    let mut shorter = Vec::with_capacity(cut_at + 64);
    shorter.extend_from_slice(&bytes[..cut_at]);
    for name in still_open.iter().rev() {
        shorter.extend_from_slice(b"</");
        shorter.extend_from_slice(name);
        shorter.push(b'>');
    }
    Some((shorter, count - max))
}
