//! Output helpers every command shares: JSON lines, escaping for terminals and CSV cells,
//! truncation to a width.

use super::*;

/// JSON text of `value` on one line, with every control character, bidirectional control and
/// line separator escaped (`\u009b`): serde_json escapes only those below U+0020, and a
/// terminal reads some of the others (C1 controls such as CSI) as commands. The same JSON
/// value, safe to print.
pub(crate) fn json_line(value: &impl serde::Serialize) -> serde_json::Result<String> {
    serde_json::to_string(value).map(escape_controls)
}

/// [`json_line`], pretty-printed.
pub(crate) fn json_pretty(value: &impl serde::Serialize) -> serde_json::Result<String> {
    serde_json::to_string_pretty(value).map(escape_controls)
}

/// Escapes, as JSON `\uXXXX`, the characters [`sanitize`] would replace. Outside strings JSON
/// text is ASCII punctuation, digits, letters and whitespace, so any such character is inside
/// a string, where the escape means the same character.
pub(super) fn escape_controls(json: String) -> String {
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

/// Quotes a CSV field, and defuses text a spreadsheet would run as a formula: one starting
/// with `=`, `+`, `-`, `@`, a tab or a carriage return (OWASP's list), or the full-width
/// `＝＋－＠` that some spreadsheets read as their ASCII forms, gets a leading `'`.
pub(super) fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) || text.starts_with('\'') {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// A time in a table column: the time of day when it is today (UTC), else the full date
/// too, so that a retry due next year never looks due today.
pub(super) fn moment(time: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if time.date_naive() == now.date_naive() {
        time.format("%H:%M:%S").to_string()
    } else {
        time.format("%Y-%m-%d %H:%M:%S").to_string()
    }
}
