//! Feed dates. feed-rs reads a date by trying RFC 3339, then RFC 2822 and RFC 1123, each
//! after a series of regular-expression repairs (a missing colon in the offset, a long
//! month name, a wrong weekday, `UTC`, hour 24, a one-digit hour, month before day). That
//! costs a few microseconds for every date, about 4 % of a cold poll, although nearly every
//! feed writes its dates in one of two forms that need no repair.
//!
//! [`timestamp`] reads those two forms directly, and only when feed-rs's repairs would leave
//! the text as it is, so that it gives exactly what feed-rs gives; anything else goes to
//! feed-rs's own lenient parser. feed-rs does not export that parser, so it is reached
//! through a one-item document carrying the date.

use chrono::{DateTime, Utc};

/// The date `text` stands for, as feed-rs's default timestamp parser reads it.
pub(super) fn timestamp(text: &str) -> Option<DateTime<Utc>> {
    match plain(text) {
        Some(date) => Some(date),
        None => lenient(text),
    }
}

/// `text` read by chrono without repairs, when it is a form feed-rs would not repair:
/// `2023-11-20T07:07:00+09:00` (RFC 3339) or `Mon, 20 Nov 2023 07:07:00 +0900` (RFC 2822).
/// `None` when the text needs feed-rs's lenient reading (or is no date at all).
fn plain(text: &str) -> Option<DateTime<Utc>> {
    // Every repair works on ASCII; the regular expressions' `\d` would match other digits.
    if !text.is_ascii() || text.trim() != text || text.is_empty() {
        return None;
    }
    let bytes = text.as_bytes();
    // A sign and four digits get a colon inserted ("+0900" → "+09:00") before RFC 3339 is
    // tried; a text ending in "-" and two digits gets a midnight time appended.
    let signed_four_digits = bytes.windows(5).any(|window| {
        (window[0] == b'+' || window[0] == b'-') && window[1..].iter().all(u8::is_ascii_digit)
    });
    let starts_with_year = bytes.len() >= 4 && bytes[..4].iter().all(u8::is_ascii_digit);
    if starts_with_year {
        let ends_dash_two_digits = bytes.len() >= 3
            && bytes[bytes.len() - 3] == b'-'
            && bytes[bytes.len() - 2..].iter().all(u8::is_ascii_digit);
        if signed_four_digits || ends_dash_two_digits {
            return None;
        }
        return DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|date| date.with_timezone(&Utc));
    }
    // Not starting with a year, no RFC 3339 reading can succeed, repaired or not: feed-rs
    // goes on to RFC 2822. Its repairs there, in order: "UTC" or a final "-0000" becomes
    // "+0000"; the first "Www…, " (weekday) is dropped; the first month name loses any
    // letters after its three; "Nov 20 2023" becomes "20 Nov 2023"; " 24:" becomes " 00:";
    // a one-digit hour gets its zero. Only the weekday may be there to drop.
    if text.contains("UTC") || text.ends_with("-0000") || text.contains(" 24:") {
        return None;
    }
    let rest = match weekday_prefix(text) {
        Some(rest) => rest,
        None if text.contains(", ") => return None,
        None => text,
    };
    if rest.contains(", ") || !month_stands_alone(rest) || one_digit_hour(rest) {
        return None;
    }
    DateTime::parse_from_rfc2822(rest)
        .ok()
        .map(|date| date.with_timezone(&Utc))
}

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The text after a leading three-letter weekday and ", ", if it has one.
fn weekday_prefix(text: &str) -> Option<&str> {
    let (day, rest) = (text.get(..3)?, text.get(3..)?);
    WEEKDAYS
        .contains(&day)
        .then(|| rest.strip_prefix(", "))
        .flatten()
}

/// Whether the first month name in `text` is its three letters alone (not "November" or
/// "Novx") and is not written before the day ("Nov 20 2023").
fn month_stands_alone(text: &str) -> bool {
    let bytes = text.as_bytes();
    let Some(at) = (0..bytes.len()).find(|&at| month_at(bytes, at)) else {
        return true;
    };
    if bytes.get(at + 3).is_some_and(u8::is_ascii_lowercase) {
        return false;
    }
    // Any month name followed by " D[D] YYYY" is turned around by feed-rs.
    !(at..bytes.len()).any(|at| month_at(bytes, at) && month_day_year(&bytes[at + 3..]))
}

/// Whether a month's name starts at `at` in `bytes` (every name starts with a capital,
/// which most bytes are not: they are not compared with the twelve).
fn month_at(bytes: &[u8], at: usize) -> bool {
    bytes[at].is_ascii_uppercase()
        && MONTHS
            .iter()
            .any(|month| bytes[at..].starts_with(month.as_bytes()))
}

/// Whether `bytes` starts with " " + one or two digits + " " + four digits.
fn month_day_year(bytes: &[u8]) -> bool {
    let digits = |from: usize| {
        bytes.get(from..).map_or(0, |rest| {
            rest.iter().take_while(|b| b.is_ascii_digit()).count()
        })
    };
    if bytes.first() != Some(&b' ') {
        return false;
    }
    // The regular expression backtracks over the day's digits: "Nov 2 2023" and "Nov 20 2023"
    // both match, and so does "Nov 20 20234" (four digits of the five).
    (1..=2).any(|day_len| {
        digits(1) >= day_len && bytes.get(1 + day_len) == Some(&b' ') && digits(2 + day_len) >= 4
    })
}

/// Whether `text` has " D:" (a space, one digit, a colon).
fn one_digit_hour(text: &str) -> bool {
    text.as_bytes()
        .windows(3)
        .any(|window| window[0] == b' ' && window[1].is_ascii_digit() && window[2] == b':')
}

/// feed-rs's own lenient reading of `text`, through a document with one item dated `text`.
fn lenient(text: &str) -> Option<DateTime<Utc>> {
    let mut document = String::with_capacity(text.len() + 96);
    document.push_str("<rss version=\"2.0\"><channel><item><pubDate>");
    for c in text.chars() {
        match c {
            '&' => document.push_str("&amp;"),
            '<' => document.push_str("&lt;"),
            '>' => document.push_str("&gt;"),
            c => document.push(c),
        }
    }
    document.push_str("</pubDate></item></channel></rss>");
    // The default timestamp parser, without the default id generator (two UUIDs a call).
    let feed = feed_rs::parser::Builder::new()
        .id_generator(|_, _, _| String::new())
        .build()
        .parse(document.as_bytes())
        .ok()?;
    feed.entries.first()?.published
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dates as feeds write them, well and badly.
    const SAMPLES: &[&str] = &[
        "2023-11-20T07:07:00+09:00",
        "2023-11-20T07:07:00Z",
        "2023-11-20T07:07:00.123456Z",
        "2023-11-20T07:07:00-05:00",
        "2023-11-20t07:07:00z",
        "2023-11-20 07:07:00+09:00",
        "2023-11-20T07:07:00+0900",
        "2023-11-20",
        "2023-11-20T07:07:00",
        " 2023-11-20T07:07:00Z ",
        "2023-13-40T07:07:00Z",
        "Mon, 20 Nov 2023 07:07:00 +0900",
        "Mon, 20 Nov 2023 07:07:00 GMT",
        "Mon, 20 Nov 2023 07:07:00 -0500",
        "Mon, 20 Nov 2023 07:07 +0000",
        "20 Nov 2023 07:07:00 +0000",
        "Fri, 20 Nov 2023 07:07:00 +0000",
        "Thurs, 23 Nov 2023 07:07:00 GMT",
        "Monday, 20 Nov 2023 07:07:00 GMT",
        "Mon, 20 November 2023 07:07:00 GMT",
        "Mon, Nov 20 2023 07:07:00 GMT",
        "Mon, 20 Nov 2023 7:07:00 GMT",
        "Mon, 20 Nov 2023 24:07:00 GMT",
        "Mon, 20 Nov 2023 07:07:00 UTC",
        "Mon, 20 Nov 2023 07:07:00 -0000",
        "Mon, 20 Nov 2023 07:07:00 EST",
        "Mon, 20 Nov 2023 07:07:00 Z",
        "Mon, 20 Nov 23 07:07:00 GMT",
        "Mon, 2 Nov 2023 07:07:00 +0100",
        "Lun, 20 Nov 2023 07:07:00 +0100",
        "20 Nov 2023",
        "yesterday",
        "",
        "Mon,20 Nov 2023 07:07:00 GMT",
        "Mon, 20 Nov 2023 07:07:00 +0900 (JST)",
        "2023年11月20日",
        "Mon, 20 Nov 2023 07:07:00 +0900 & more",
    ];

    #[test]
    fn reads_every_date_as_feed_rs_does() {
        for sample in SAMPLES {
            assert_eq!(timestamp(sample), lenient(sample), "{sample:?}");
        }
    }

    /// Every combination of the parts feeds get right and wrong, RFC 2822 style and RFC 3339
    /// style: read as feed-rs reads them.
    #[test]
    fn reads_every_combination_as_feed_rs_does() {
        let mut checked = 0;
        for weekday in ["", "Mon, ", "Fri, ", "Thurs, ", "Monday, ", "Mon "] {
            for day_month in [
                "20 Nov",
                "2 Nov",
                "Nov 20",
                "20 November",
                "20 Sept",
                "31 Feb",
            ] {
                for year in [" 2023", " 23", " 20234"] {
                    for time in [" 07:07:00", " 7:07:00", " 24:00:00", " 07:07", ""] {
                        for zone in [" +0900", " -0000", " GMT", " UTC", " EST", " Z", ""] {
                            let sample = format!("{weekday}{day_month}{year}{time}{zone}");
                            assert_eq!(timestamp(&sample), lenient(&sample), "{sample:?}");
                            checked += 1;
                        }
                    }
                }
            }
        }
        for date in ["2023-11-20", "2023-11-2", "2023-02-31"] {
            for separator in ["T", "t", " ", ""] {
                for time in ["07:07:00", "07:07:00.5", "07:07", ""] {
                    for zone in ["Z", "z", "+09:00", "+0900", "-05:00", "-0500", ""] {
                        let sample = format!("{date}{separator}{time}{zone}");
                        assert_eq!(timestamp(&sample), lenient(&sample), "{sample:?}");
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 6 * 6 * 3 * 5 * 7 + 3 * 4 * 4 * 7);
    }

    #[test]
    fn reads_the_common_forms_without_the_repairs() {
        for sample in [
            "2023-11-20T07:07:00+09:00",
            "2023-11-20T07:07:00.123456Z",
            "Mon, 20 Nov 2023 07:07:00 +0900",
            "Mon, 20 Nov 2023 07:07:00 GMT",
            "20 Nov 2023 07:07:00 -0500",
        ] {
            assert!(plain(sample).is_some(), "{sample:?}");
        }
        assert_eq!(
            plain("Mon, 20 Nov 2023 07:07:00 +0900").map(|date| date.to_rfc3339()),
            Some("2023-11-19T22:07:00+00:00".to_string())
        );
    }

    #[test]
    fn leaves_what_feed_rs_repairs_to_feed_rs() {
        for sample in [
            "2023-11-20T07:07:00+0900",
            "2023-11-20",
            "Thurs, 23 Nov 2023 07:07:00 GMT",
            "Mon, 20 November 2023 07:07:00 GMT",
            "Mon, Nov 20 2023 07:07:00 GMT",
            "Mon, 20 Nov 2023 7:07:00 GMT",
            "Mon, 20 Nov 2023 24:07:00 GMT",
            "Mon, 20 Nov 2023 07:07:00 UTC",
        ] {
            assert_eq!(plain(sample), None, "{sample:?}");
            assert!(lenient(sample).is_some(), "{sample:?}");
        }
    }
}
