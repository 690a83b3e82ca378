//! The one JSON writer for everything watchword writes out (the jsonl and exec sinks, webhook
//! bodies, `/matches.json`, the commands' JSON): serde_json, then every control character,
//! bidirectional control and line separator escaped as `\uXXXX`. serde_json escapes only the
//! characters below U+0020; a terminal reads some others (C1 controls such as CSI) as
//! commands, a right-to-left override turns a line around, and U+2028/U+2029 end a line in
//! JavaScript. The escaped text is the same JSON value.

use serde::Serialize;

use super::is_unsafe_char;

/// JSON text of `value` on one line, safe to print or embed.
pub fn to_json(value: &impl Serialize) -> serde_json::Result<String> {
    serde_json::to_string(value).map(escape_controls)
}

/// [`to_json`], pretty-printed.
pub fn to_json_pretty(value: &impl Serialize) -> serde_json::Result<String> {
    serde_json::to_string_pretty(value).map(escape_controls)
}

/// Escapes, as JSON `\uXXXX`, the characters [`super::sanitize`] would replace. Outside
/// strings JSON text is ASCII punctuation, digits, letters and whitespace, so any such
/// character is inside a string, where the escape means the same character.
fn escape_controls(json: String) -> String {
    // Structural whitespace stays; inside strings serde_json has escaped these already.
    let needs_escape = |c: char| is_unsafe_char(c) && !matches!(c, '\n' | '\r' | '\t');
    if !json.chars().any(needs_escape) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if needs_escape(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}
