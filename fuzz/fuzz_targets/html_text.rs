//! Any bytes (as lossy UTF-8) through the text functions every feed item goes through:
//! `html_to_text`, `fold`, `tokenize` and `sanitize`, and the page functions (`article_text`,
//! autodiscovery's `feed_links`). None may panic, and each output must keep the promises its
//! documentation makes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use watchword_core::text;

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let input = input.as_ref();

    // Plain text: whitespace collapsed to single spaces, trimmed, no control characters,
    // soft hyphens, byte-order marks or zero-width spaces.
    let plain = text::html_to_text(input);
    assert_eq!(plain.trim(), plain, "not trimmed: {plain:?}");
    assert!(!plain.contains("  "), "whitespace not collapsed: {plain:?}");
    for c in plain.chars() {
        assert!(
            c == ' ' || !(c.is_whitespace() || c.is_control()),
            "{c:?} left in {plain:?}"
        );
        assert!(
            !matches!(c, '\u{AD}' | '\u{FEFF}' | '\u{200B}'),
            "{c:?} left in {plain:?}"
        );
    }

    // A page's main text: collapsed and trimmed like `html_to_text`.
    let article = text::article_text(input);
    assert_eq!(article.trim(), article, "article not trimmed: {article:?}");
    assert!(!article.contains("  "), "article whitespace: {article:?}");
    // Autodiscovery returns only http(s) links.
    let page_url = url::Url::parse("https://example.com/news/").expect("a valid URL");
    for link in text::feed_links(data, &page_url) {
        assert!(matches!(link.scheme(), "http" | "https"), "{link}");
    }

    // Folding appends exactly what `fold` returns; ASCII folds to its lower case.
    let folded = text::fold(input);
    let mut appended = String::from("prefix");
    text::fold_into(input, &mut appended);
    assert_eq!(&appended["prefix".len()..], folded);
    if input.is_ascii() {
        assert_eq!(folded, input.to_ascii_lowercase());
    }

    // Tokens: in order, not overlapping, on character boundaries, never folding to nothing,
    // and the same ranges `for_each_token` reports (less the ones that fold to nothing).
    for source in [input, plain.as_str()] {
        let tokens = text::tokenize(source);
        let mut end = 0;
        for token in &tokens {
            assert!(token.start >= end && token.start < token.end, "{token:?}");
            let written = source.get(token.start..token.end).expect("char boundaries");
            assert!(!token.folded.is_empty());
            assert_eq!(token.folded, text::fold(written));
            end = token.end;
        }
        let mut ranges = Vec::new();
        text::for_each_token(source, |range, cjk| {
            if !text::fold(&source[range.clone()]).is_empty() {
                ranges.push((range.start, range.end, cjk));
            }
        });
        let from_tokens: Vec<_> = tokens
            .iter()
            .map(|token| (token.start, token.end, token.cjk))
            .collect();
        assert_eq!(ranges, from_tokens);
    }

    // Sanitizing replaces character for character; nothing that drives a terminal or
    // reorders text survives.
    let clean = text::sanitize(input);
    assert_eq!(clean.chars().count(), input.chars().count());
    for c in clean.chars() {
        assert!(!c.is_control(), "{c:?} left in {clean:?}");
        assert!(
            !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}'),
            "{c:?} left in {clean:?}"
        );
    }
});
