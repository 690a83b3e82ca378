//! Output helpers every command shares: JSON lines, escaping for terminals and CSV cells,
//! counts with their nouns, times in columns.

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

/// A count and its noun, the noun plural unless the count is one: `count(1, "alert sink")`
/// is `1 alert sink`, `count(2, "match")` is `2 matches`, `count(0, "delivery")` is
/// `0 deliveries`. English nouns of the commands' messages; the last word takes the ending.
pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {}", plural(noun))
    }
}

/// `noun` in the plural: `-es` after a sibilant (`match`, `alias`, `box`), `-ies` for a
/// consonant and `y` (`delivery`), else `-s`.
fn plural(noun: &str) -> String {
    let consonant_y =
        noun.ends_with('y') && !noun[..noun.len() - 1].ends_with(['a', 'e', 'i', 'o', 'u']);
    if consonant_y {
        format!("{}ies", &noun[..noun.len() - 1])
    } else if noun.ends_with(['s', 'x', 'z']) || noun.ends_with("ch") || noun.ends_with("sh") {
        format!("{noun}es")
    } else {
        format!("{noun}s")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_with_their_nouns() {
        assert_eq!(count(1, "alert sink"), "1 alert sink");
        assert_eq!(count(2, "alert sink"), "2 alert sinks");
        assert_eq!(count(0, "feed"), "0 feeds");
        assert_eq!(count(1, "false negative"), "1 false negative");
        assert_eq!(count(3, "false negative"), "3 false negatives");
        assert_eq!(count(1, "match"), "1 match");
        assert_eq!(count(5, "new match"), "5 new matches");
        assert_eq!(count(2, "alias"), "2 aliases");
        assert_eq!(count(2, "alert delivery"), "2 alert deliveries");
        assert_eq!(count(2, "day"), "2 days");
        assert_eq!(count(1_000_000, "item"), "1000000 items");
    }
}
