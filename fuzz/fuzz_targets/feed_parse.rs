//! Raw bytes as a fetched feed body: `parse::parse_feed` must return items or an error and
//! never let a panic out. It catches panics inside feed-rs itself (and reports them as
//! `ParseError::Panicked`), so this target lets caught panics go and fails only on one that
//! escapes. The first byte picks the HTTP charset the body came with.
//!
//! The items must keep what `ParsedFeed` promises: identity keys unique within the feed,
//! links in canonical form; and a body feed-rs alone reads entries from must give items (the
//! repair layer around feed-rs never costs a feed).

#![no_main]

use std::collections::HashSet;
use std::sync::{Mutex, Once};

use libfuzzer_sys::fuzz_target;
use watchword_core::parse::{Caps, ParseError, canonical_url, parse_feed, parse_feed_capped};

const CHARSETS: &[Option<&str>] = &[
    None,
    Some("utf-8"),
    Some("windows-1251"),
    Some("euc-kr"),
    Some("shift_jis"),
    Some("utf-16"),
    Some("utf-16le"),
    Some("utf-16be"),
    Some("iso-8859-1"),
    Some("gb18030"),
    Some("x-unknown"),
    Some(""),
];

/// The message and place of the last panic, for the report if it escapes.
static LAST_PANIC: Mutex<String> = Mutex::new(String::new());
/// The feed-rs panics seen so far (caught by `parse_feed`), each printed once.
static CAUGHT: Mutex<Option<HashSet<String>>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        // libfuzzer-sys aborts on any panic, caught or not; parse_feed catches feed-rs's own.
        // An escaping panic still aborts: the fuzz_target wrapper aborts when one reaches it.
        std::panic::set_hook(Box::new(|info| {
            *LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = info.to_string();
        }));
    });
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let charset = CHARSETS[usize::from(selector) % CHARSETS.len()];
    let base_url = "https://example.com/news/feed.xml";

    let result = std::panic::catch_unwind(|| parse_feed(body, charset, Some(base_url)));
    let parsed = match result {
        Ok(parsed) => parsed,
        Err(_) => {
            let last = LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).clone();
            eprintln!("panic escaped parse_feed: {last}");
            std::process::abort();
        }
    };
    match parsed {
        Ok(feed) => {
            let mut keys = HashSet::new();
            for item in &feed.items {
                assert!(
                    keys.insert(item.key.as_str()),
                    "key {:?} repeated",
                    item.key
                );
                if let Some(url) = &item.url {
                    assert_eq!(canonical_url(url).as_ref(), Some(url), "not canonical");
                }
            }
        }
        Err(ParseError::Panicked(message)) => {
            let last = LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let mut caught = CAUGHT.lock().unwrap_or_else(|e| e.into_inner());
            if caught
                .get_or_insert_with(HashSet::new)
                .insert(message.clone())
            {
                eprintln!("feed-rs panicked (caught by parse_feed): {last}");
            }
        }
        Err(ParseError::Invalid(_)) => {}
    }

    // What feed-rs alone reads, watchword reads too: the repairs around it never cost a feed.
    // (Only without an HTTP charset: feed-rs alone does not know one.)
    if charset.is_none() {
        let alone = std::panic::catch_unwind(|| feed_rs::parser::parse(body));
        if let Ok(Ok(feed)) = alone
            && !feed.entries.is_empty()
        {
            match parse_feed(body, None, Some(base_url)) {
                Ok(parsed) => assert!(
                    !parsed.items.is_empty(),
                    "feed-rs alone reads {} entries, watchword none",
                    feed.entries.len()
                ),
                Err(error) => panic!(
                    "feed-rs alone reads {} entries, watchword fails: {error}",
                    feed.entries.len()
                ),
            }
        }
    }

    // The capped path the daemon takes: the XML is cut after the first items before feed-rs
    // reads it (a hand-written scanner), and fields are cut at character boundaries.
    let caps = Caps {
        max_items: 2,
        max_field_chars: 100,
    };
    let result =
        std::panic::catch_unwind(|| parse_feed_capped(body, charset, Some(base_url), caps));
    match result {
        Ok(Ok(capped)) => {
            assert!(capped.items.len() <= 2, "{} items kept", capped.items.len());
            for item in &capped.items {
                assert!(item.title.chars().count() <= 100, "title not cut");
            }
        }
        Ok(Err(_)) => {}
        Err(_) => {
            let last = LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).clone();
            eprintln!("panic escaped parse_feed_capped: {last}");
            std::process::abort();
        }
    }
});
