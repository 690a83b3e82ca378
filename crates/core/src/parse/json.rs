//! JSON Feed before feed-rs reads it: the cut after the first items (cheap, on the bytes)
//! and the repair of what feed-rs rejects in real feeds (version 1.0 or the `http:` form of
//! the version URL, no title, numbers where strings belong). Pure.

use serde_json::{Map, Value};

/// The JSON Feed version feed-rs accepts.
const VERSION: &str = "https://jsonfeed.org/version/1.1";

/// For a JSON object whose top-level `"items"` array has more than `max` elements, the
/// document with that array cut after `max` of them, and how many were cut off. A linear
/// scan of the bytes that follows strings (and their escapes) and nesting; `None` when there
/// are not that many items or the document is not a JSON object.
pub fn cut_json_items(bytes: &[u8], max: usize) -> Option<(Vec<u8>, usize)> {
    let mut depth = 0usize;
    let mut at = 0;
    // The top-level key just read, and whether the value being read is the items array.
    let mut last_key: Option<(usize, usize)> = None;
    let mut in_items = false;
    // Where the items array's `[` is.
    let mut array_start = 0;
    let mut count = 0usize;
    let mut cut_at = None;
    let mut expect_key = false;
    while at < bytes.len() {
        match bytes[at] {
            b'"' => {
                let start = at + 1;
                at = string_end(bytes, start)?;
                if depth == 1 && expect_key {
                    last_key = Some((start, at));
                    expect_key = false;
                } else if depth == 2 && in_items {
                    count += 1;
                    if count == max.saturating_add(1) {
                        cut_at.get_or_insert(start - 1);
                    }
                }
            }
            b'{' | b'[' => {
                if depth == 0 && bytes[at] != b'{' {
                    return None;
                }
                if depth == 1 && bytes[at] == b'[' {
                    in_items = last_key.is_some_and(|(s, e)| &bytes[s..e] == b"items");
                    array_start = at;
                } else if depth == 2 && in_items {
                    count += 1;
                    if count == max.saturating_add(1) {
                        cut_at.get_or_insert(at);
                    }
                }
                depth += 1;
                if depth == 1 {
                    expect_key = true;
                }
            }
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 1 && in_items {
                    in_items = false;
                    if let Some(cut) = cut_at.take() {
                        // Drop from the comma before the first item past the cap up to the
                        // array's `]`.
                        // With no item kept, from after the `[`.
                        let keep = bytes[array_start + 1..cut]
                            .iter()
                            .rposition(|&b| b == b',')
                            .map_or(array_start + 1, |comma| array_start + 1 + comma);
                        let mut shorter = Vec::with_capacity(keep + bytes.len() - at);
                        shorter.extend_from_slice(&bytes[..keep]);
                        shorter.extend_from_slice(&bytes[at..]);
                        return Some((shorter, count - max));
                    }
                }
            }
            b',' if depth == 1 => expect_key = true,
            b if depth == 2 && in_items && !b.is_ascii_whitespace() && b != b',' => {
                // A scalar item (not a feed's, but counted so the cut stays valid JSON).
                count += 1;
                if count == max.saturating_add(1) {
                    cut_at.get_or_insert(at);
                }
                while at + 1 < bytes.len() && !matches!(bytes[at + 1], b',' | b']' | b'}') {
                    at += 1;
                }
            }
            _ => {}
        }
        at += 1;
    }
    None
}

/// The index of the closing quote of a string whose content starts at `from`.
fn string_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        let quote_or_escape = memchr::memchr2(b'"', b'\\', &bytes[at..])?;
        at += quote_or_escape;
        if bytes[at] == b'\\' {
            at += 2;
        } else {
            return Some(at);
        }
    }
}

/// A JSON Feed that feed-rs can read, made from one it rejects: any version of JSON Feed 1
/// (`"1.0"`, `http://jsonfeed.org/version/1`, none), a missing title or items list, numbers
/// where strings belong (ids), and values of the wrong type (dropped). `None` when the bytes
/// are not a JSON object or nothing needed repair.
pub fn repair_json(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut feed: Map<String, Value> = serde_json::from_slice(bytes).ok()?;
    let before = feed.clone();
    let version_ok = feed
        .get("version")
        .and_then(Value::as_str)
        .is_some_and(|v| v.starts_with("https://jsonfeed.org/version/1"));
    if !version_ok {
        feed.insert("version".into(), VERSION.into());
    }
    for key in [
        "title",
        "home_page_url",
        "feed_url",
        "description",
        "language",
    ] {
        fix_string(&mut feed, key);
    }
    if !feed.get("title").is_some_and(Value::is_string) {
        feed.insert("title".into(), "".into());
    }
    fix_author(&mut feed);
    match feed.get_mut("items") {
        Some(Value::Array(items)) => {
            items.retain(Value::is_object);
            for item in items.iter_mut() {
                let item = item.as_object_mut().expect("only objects were kept");
                for key in [
                    "id",
                    "url",
                    "external_url",
                    "title",
                    "content_html",
                    "content_text",
                    "summary",
                    "date_published",
                    "date_modified",
                ] {
                    fix_string(item, key);
                }
                fix_author(item);
                if let Some(tags) = item.get_mut("tags") {
                    match tags {
                        Value::Array(list) => list.retain(Value::is_string),
                        _ => *tags = Value::Array(Vec::new()),
                    }
                }
                if let Some(attachments) = item.get_mut("attachments") {
                    match attachments {
                        Value::Array(list) => list.retain(|attachment| {
                            ["url", "mime_type"]
                                .iter()
                                .all(|key| attachment.get(key).is_some_and(Value::is_string))
                        }),
                        _ => *attachments = Value::Array(Vec::new()),
                    }
                }
            }
        }
        _ => {
            feed.insert("items".into(), Value::Array(Vec::new()));
        }
    }
    (feed != before).then(|| serde_json::to_vec(&feed).expect("a Value always serializes"))
}

/// A string field: numbers and booleans become their text, other non-strings are dropped.
fn fix_string(object: &mut Map<String, Value>, key: &str) {
    match object.get(key) {
        None | Some(Value::String(_)) => {}
        Some(Value::Number(number)) => {
            let text = number.to_string();
            object.insert(key.into(), text.into());
        }
        Some(Value::Bool(flag)) => {
            let text = flag.to_string();
            object.insert(key.into(), text.into());
        }
        Some(_) => {
            object.remove(key);
        }
    }
}

/// `author` as an object (a bare name becomes `{"name": …}`), `authors` as a list of them.
fn fix_author(object: &mut Map<String, Value>) {
    if let Some(author) = object.get_mut("author") {
        match author {
            Value::String(name) => {
                let name = std::mem::take(name);
                *author = serde_json::json!({ "name": name });
            }
            Value::Object(fields) => {
                fix_string(fields, "name");
                fix_string(fields, "url");
            }
            _ => {
                object.remove("author");
            }
        }
    }
    if let Some(authors) = object.get_mut("authors") {
        match authors {
            Value::Array(list) => {
                list.retain(Value::is_object);
                for author in list.iter_mut() {
                    let fields = author.as_object_mut().expect("only objects were kept");
                    fix_string(fields, "name");
                    fix_string(fields, "url");
                }
            }
            _ => {
                object.remove("authors");
            }
        }
    }
}
