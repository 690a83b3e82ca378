//! Text from feeds made safe to print: no control characters, escape sequences,
//! bidirectional overrides or line separators reach a terminal or a log line.

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

/// [`sanitize`], then cut to its first `max_chars` characters (an ellipsis marks a cut): feed
/// text in a log line, which a title of megabytes must not flood.
pub fn for_log(text: &str, max_chars: usize) -> String {
    let mut clean = sanitize(text);
    if super::cut_chars(&mut clean, max_chars) {
        clean.push('…');
    }
    clean
}

/// Text escaped for XML content or a double-quoted attribute: `&`, `<`, `>` and `"`. The one
/// XML escaper (OPML, the status endpoint's Atom feed, the feed repair).
pub fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
