//! Output helpers every command shares: JSON lines, escaping for terminals and CSV cells,
//! truncation to a width.

use super::*;

/// The one JSON writer (see [`crate::text::to_json`]), under the names the commands use.
pub(crate) use crate::text::{to_json as json_line, to_json_pretty as json_pretty};

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
