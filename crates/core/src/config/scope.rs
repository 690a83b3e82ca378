//! A topic's time scope: which items it may match by date (`max_age`, `published_after`,
//! `published_before`). Pure: the time an item was first seen is a parameter, never the
//! clock.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use super::format_duration;
use crate::model::rfc3339;

/// The dates a topic matches. An item outside them is stored but not matched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeScope {
    /// The oldest an item may be when watchword first sees it: its published date at most
    /// this long before. `None`: any age. The topic's own, else `[daemon] max_age`.
    pub max_age: Option<Duration>,
    /// Only items published at or after this time.
    pub published_after: Option<DateTime<Utc>>,
    /// Only items published before this time.
    pub published_before: Option<DateTime<Utc>>,
}

/// Why an item is outside a topic's [`TimeScope`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutOfScope {
    /// Published `age` before it was first seen, more than `max_age`.
    TooOld {
        published: DateTime<Utc>,
        first_seen: DateTime<Utc>,
        max_age: Duration,
    },
    /// Dated before `published_after`. `date` is the published date, or when the item was
    /// first seen for an item without one (`undated`).
    BeforeStart {
        date: DateTime<Utc>,
        undated: bool,
        bound: DateTime<Utc>,
    },
    /// Dated at or after `published_before`.
    AfterEnd {
        date: DateTime<Utc>,
        undated: bool,
        bound: DateTime<Utc>,
    },
}

impl TimeScope {
    /// Whether the scope limits anything.
    pub fn is_unbounded(&self) -> bool {
        *self == TimeScope::default()
    }

    /// Whether an item published at `published` (if it says) and first seen at `first_seen`
    /// is in scope. An item without a date is as old as when it was first seen: it passes
    /// `max_age` and is judged by `first_seen` against the bounds. An item dated after it was
    /// first seen (a clock ahead) has age zero.
    pub fn check(
        &self,
        published: Option<DateTime<Utc>>,
        first_seen: DateTime<Utc>,
    ) -> Result<(), OutOfScope> {
        if let (Some(max_age), Some(published)) = (self.max_age, published) {
            let age = (first_seen - published).to_std().unwrap_or(Duration::ZERO);
            if age > max_age {
                return Err(OutOfScope::TooOld {
                    published,
                    first_seen,
                    max_age,
                });
            }
        }
        let date = published.unwrap_or(first_seen);
        let undated = published.is_none();
        if let Some(bound) = self.published_after
            && date < bound
        {
            return Err(OutOfScope::BeforeStart {
                date,
                undated,
                bound,
            });
        }
        if let Some(bound) = self.published_before
            && date >= bound
        {
            return Err(OutOfScope::AfterEnd {
                date,
                undated,
                bound,
            });
        }
        Ok(())
    }
}

impl fmt::Display for OutOfScope {
    /// `published 2015-03-01T00:00:00Z, 3200d before it was first seen (max_age 30d)`, …
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = |undated: bool| {
            if undated {
                "undated, first seen"
            } else {
                "published"
            }
        };
        match self {
            OutOfScope::TooOld {
                published,
                first_seen,
                max_age,
            } => {
                let age = (*first_seen - *published).to_std().unwrap_or_default();
                // Whole days, hours or minutes are enough to see how far out it is.
                let rounded = Duration::from_secs(match age.as_secs() {
                    s if s >= 86_400 => s / 86_400 * 86_400,
                    s if s >= 3600 => s / 3600 * 3600,
                    s => s / 60 * 60,
                });
                write!(
                    f,
                    "published {}, {} before it was first seen ({}): older than max_age {}",
                    rfc3339(*published),
                    format_duration(rounded),
                    rfc3339(*first_seen),
                    format_duration(*max_age)
                )
            }
            OutOfScope::BeforeStart {
                date,
                undated,
                bound,
            } => write!(
                f,
                "{} {}, before published_after {}",
                what(*undated),
                rfc3339(*date),
                rfc3339(*bound)
            ),
            OutOfScope::AfterEnd {
                date,
                undated,
                bound,
            } => write!(
                f,
                "{} {}, not before published_before {}",
                what(*undated),
                rfc3339(*date),
                rfc3339(*bound)
            ),
        }
    }
}

/// Parses a point in time: an RFC 3339 time (`2023-11-01T09:00:00+09:00`) or a date
/// (`2023-11-01`, midnight UTC).
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc());
    }
    Err(format!(
        "invalid time {text:?}: expected an RFC 3339 time (2023-11-01T00:00:00Z) or a date (2023-11-01)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    fn check(scope: TimeScope, published: Option<DateTime<Utc>>, seen: DateTime<Utc>) -> bool {
        scope.check(published, seen).is_ok()
    }

    #[test]
    fn max_age_counts_from_first_sight() {
        let scope = TimeScope {
            max_age: Some(Duration::from_secs(30 * 86_400)),
            ..TimeScope::default()
        };
        let seen = at(2023, 11, 22);
        assert!(check(scope, Some(at(2023, 11, 21)), seen));
        assert!(
            check(scope, Some(at(2023, 10, 23)), seen),
            "exactly 30 days"
        );
        assert!(!check(scope, Some(at(2023, 10, 22)), seen));
        assert!(!check(scope, Some(at(2015, 3, 1)), seen));
        assert!(
            check(scope, None, seen),
            "undated items are as old as their sight"
        );
        assert!(
            check(scope, Some(at(2024, 1, 1)), seen),
            "dated in the future"
        );
        let error = scope.check(Some(at(2015, 3, 1)), seen).unwrap_err();
        assert!(
            error.to_string().contains("older than max_age 30d"),
            "{error}"
        );
    }

    #[test]
    fn bounds_compare_the_published_date_else_first_sight() {
        let scope = TimeScope {
            published_after: Some(at(2023, 11, 1)),
            published_before: Some(at(2023, 12, 1)),
            ..TimeScope::default()
        };
        let seen = at(2026, 1, 1);
        assert!(
            check(scope, Some(at(2023, 11, 1)), seen),
            "after is inclusive"
        );
        assert!(check(scope, Some(at(2023, 11, 30)), seen));
        assert!(
            !check(scope, Some(at(2023, 12, 1)), seen),
            "before is exclusive"
        );
        assert!(!check(scope, Some(at(2023, 10, 31)), seen));
        assert!(!check(scope, None, seen), "undated: judged by first sight");
        assert!(check(scope, None, at(2023, 11, 21)));
        let error = scope.check(None, seen).unwrap_err();
        assert_eq!(
            error.to_string(),
            "undated, first seen 2026-01-01T00:00:00Z, not before published_before 2023-12-01T00:00:00Z"
        );
        assert!(TimeScope::default().is_unbounded() && !scope.is_unbounded());
    }

    #[test]
    fn times_are_rfc3339_or_dates() {
        assert_eq!(parse_time("2023-11-01").unwrap(), at(2023, 11, 1));
        assert_eq!(
            parse_time("2023-11-01T09:00:00+09:00").unwrap(),
            at(2023, 11, 1)
        );
        assert!(parse_time("November").is_err());
        assert!(parse_time("2023-13-01").is_err());
    }
}
