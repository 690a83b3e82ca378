//! The `[daemon]` table compiled: paths, durations, sizes, limits, the default time scope
//! and article policy, each checked with its place in the file.

use super::*;

pub(super) fn compile_daemon(
    raw: &RawDaemon,
    base: &Path,
    sink: &mut Diagnostics<'_>,
) -> DaemonConfig {
    let postgres = raw
        .database
        .as_ref()
        .filter(|value| is_postgres_url(value.get_ref()))
        .and_then(|value| match url::Url::parse(value.get_ref().trim()) {
            Ok(url) if url.host_str().is_some_and(|host| !host.is_empty()) => {
                Some(value.get_ref().trim().to_string())
            }
            Ok(_) => {
                sink.error(value.span(), "a PostgreSQL URL needs a host".into());
                None
            }
            Err(error) => {
                sink.error(value.span(), format!("not a PostgreSQL URL: {error}"));
                None
            }
        });
    let database = match &raw.database {
        Some(path) if path.get_ref().trim().is_empty() => {
            sink.error(path.span(), "database path is empty".into());
            PathBuf::new()
        }
        Some(path) if is_postgres_url(path.get_ref()) => PathBuf::new(),
        Some(path) => base.join(path.get_ref()),
        None => base.join("../data/watchword.db"),
    };
    let duration = |key: &str,
                    value: &Option<Spanned<String>>,
                    default: Duration,
                    max: Duration,
                    sink: &mut Diagnostics<'_>| {
        compile_duration(key, value, default, Duration::from_secs(1)..=max, sink)
    };
    let count = |value: &Option<Spanned<i64>>, default: usize, sink: &mut Diagnostics<'_>| {
        let Some(value) = value else { return default };
        match usize::try_from(*value.get_ref()) {
            Ok(n) if (1..=10_000).contains(&n) => n,
            _ => {
                sink.error(
                    value.span(),
                    format!("must be between 1 and 10000, not {}", value.get_ref()),
                );
                default
            }
        }
    };
    let interval = compile_interval(&raw.interval, Duration::from_secs(15 * 60), sink);
    let max_body = match &raw.max_body {
        None => 10 * 1024 * 1024,
        Some(value) => match parse_size(value.get_ref()) {
            Ok(size) if (1024..=MAX_SIZE).contains(&size) => size,
            Ok(_) => {
                sink.error(
                    value.span(),
                    "max_body must be between 1KiB and 1GiB".into(),
                );
                10 * 1024 * 1024
            }
            Err(message) => {
                sink.error(value.span(), message);
                10 * 1024 * 1024
            }
        },
    };
    let bounded = |value: &Option<Spanned<i64>>,
                   range: std::ops::RangeInclusive<usize>,
                   default: usize,
                   sink: &mut Diagnostics<'_>| {
        let Some(value) = value else { return default };
        match usize::try_from(*value.get_ref()) {
            Ok(n) if range.contains(&n) => n,
            _ => {
                sink.error(
                    value.span(),
                    format!(
                        "must be between {} and {}, not {}",
                        range.start(),
                        range.end(),
                        value.get_ref()
                    ),
                );
                default
            }
        }
    };
    DaemonConfig {
        database,
        database_given: raw.database.is_some(),
        postgres,
        interval,
        max_concurrent: count(&raw.max_concurrent, 16, sink),
        per_host: count(&raw.per_host, 2, sink),
        timeout: duration("timeout", &raw.timeout, Duration::from_secs(30), HOUR, sink),
        connect_timeout: duration(
            "connect_timeout",
            &raw.connect_timeout,
            Duration::from_secs(10),
            HOUR,
            sink,
        ),
        max_body,
        alert_attempts: u32::try_from(count(&raw.alert_attempts, 10, sink)).unwrap_or(10),
        alert_wait: duration(
            "alert_wait",
            &raw.alert_wait,
            Duration::from_secs(30),
            DAY,
            sink,
        ),
        dead_after: duration("dead_after", &raw.dead_after, DAY, 365 * DAY, sink),
        keep_items: compile_keep_items(&raw.keep_items, sink),
        max_items_per_poll: bounded(
            &raw.max_items_per_poll,
            1..=1_000_000,
            DEFAULT_MAX_ITEMS_PER_POLL,
            sink,
        ),
        max_field_chars: bounded(
            &raw.max_field_chars,
            100..=100_000_000,
            DEFAULT_MAX_FIELD_CHARS,
            sink,
        ),
        allow_private_targets: raw.allow_private_targets.unwrap_or(false),
        fetch_article: compile_article_policy(&raw.fetch_article, ArticlePolicy::Never, sink),
        first_poll: compile_first_poll(&raw.first_poll, FirstPoll::Baseline, sink),
        stale_after: compile_stale_after(&raw.stale_after, Some(DEFAULT_STALE_AFTER), sink),
        user_agent: compile_user_agent(&raw.user_agent, DEFAULT_USER_AGENT, sink),
        host_interval: compile_duration(
            "host_interval",
            &raw.host_interval,
            Duration::ZERO,
            Duration::ZERO..=HOUR,
            sink,
        ),
        article_min_chars: match &raw.article_min_chars {
            None => 200,
            Some(value) => match usize::try_from(*value.get_ref()) {
                Ok(n) if n <= 1_000_000 => n,
                _ => {
                    sink.error(
                        value.span(),
                        format!("must be between 0 and 1000000, not {}", value.get_ref()),
                    );
                    200
                }
            },
        },
        stories: StoryPolicy {
            dedup: match &raw.dedup {
                None => Dedup::default(),
                Some(value) => Dedup::parse(value.get_ref()).unwrap_or_else(|| {
                    sink.error(
                        value.span(),
                        format!(
                            "unknown dedup level `{}`, expected `story`, `url` or `item`",
                            value.get_ref()
                        ),
                    );
                    Dedup::default()
                }),
            },
            window: duration(
                "story_window",
                &raw.story_window,
                DEFAULT_STORY_WINDOW,
                365 * DAY,
                sink,
            ),
        },
        max_age: compile_max_age(&raw.max_age, None, sink),
    }
}

/// An hour and a day, for the ranges of duration keys.
pub(super) const HOUR: Duration = Duration::from_secs(3600);
pub(super) const DAY: Duration = Duration::from_secs(24 * 3600);

/// A `max_age`: a duration greater than zero, or `"forever"` (`None`: any age); `default`
/// when not set.
pub(super) fn compile_max_age(
    value: &Option<Spanned<String>>,
    default: Option<Duration>,
    sink: &mut Diagnostics<'_>,
) -> Option<Duration> {
    let Some(value) = value else { return default };
    if value.get_ref().trim() == "forever" {
        return None;
    }
    match parse_duration(value.get_ref()) {
        Ok(age) if age.is_zero() => {
            sink.error(
                value.span(),
                "max_age must be greater than zero (or \"forever\")".into(),
            );
            default
        }
        Ok(age) => Some(age),
        Err(message) => {
            sink.error(value.span(), format!("{message} (or use \"forever\")"));
            default
        }
    }
}

/// A topic's `published_after` or `published_before`: an RFC 3339 time or a date.
pub(super) fn compile_bound(
    value: &Option<Spanned<String>>,
    sink: &mut Diagnostics<'_>,
) -> Option<DateTime<Utc>> {
    let value = value.as_ref()?;
    parse_time(value.get_ref())
        .map_err(|message| sink.error(value.span(), message))
        .ok()
}

/// `keep_items`: a duration of at least [`MIN_KEEP_ITEMS`], or `"forever"` (`None`).
pub(super) fn compile_keep_items(
    value: &Option<Spanned<String>>,
    sink: &mut Diagnostics<'_>,
) -> Option<Duration> {
    let Some(value) = value else {
        return Some(DEFAULT_KEEP_ITEMS);
    };
    if value.get_ref().trim() == "forever" {
        return None;
    }
    match parse_duration(value.get_ref()) {
        Ok(keep) if keep < MIN_KEEP_ITEMS => {
            sink.error(
                value.span(),
                format!(
                    "keep_items {} is below the minimum of 1d (or use \"forever\")",
                    format_duration(keep)
                ),
            );
            Some(DEFAULT_KEEP_ITEMS)
        }
        Ok(keep) => Some(keep),
        Err(message) => {
            sink.error(value.span(), format!("{message} (or use \"forever\")"));
            Some(DEFAULT_KEEP_ITEMS)
        }
    }
}

/// A `fetch_article` value: `never`, `short` or `always`, else `default` and an error.
pub(super) fn compile_article_policy(
    value: &Option<Spanned<String>>,
    default: ArticlePolicy,
    sink: &mut Diagnostics<'_>,
) -> ArticlePolicy {
    let Some(value) = value else { return default };
    ArticlePolicy::parse(value.get_ref()).unwrap_or_else(|| {
        sink.error(
            value.span(),
            format!(
                "fetch_article must be \"never\", \"short\" or \"always\", not {:?}",
                value.get_ref()
            ),
        );
        default
    })
}

/// A `stale_after` value: a duration from an hour to a year, or `"never"` (`None`); else
/// `default` and an error.
pub(super) fn compile_stale_after(
    value: &Option<Spanned<String>>,
    default: Option<Duration>,
    sink: &mut Diagnostics<'_>,
) -> Option<Duration> {
    match value {
        Some(value) if value.get_ref().trim() == "never" => None,
        Some(_) => Some(compile_duration(
            "stale_after",
            value,
            default.unwrap_or(DEFAULT_STALE_AFTER),
            HOUR..=365 * DAY,
            sink,
        )),
        None => default,
    }
}

/// A `user_agent` value: printable ASCII of at most 200 characters, else `default` and an
/// error.
pub(super) fn compile_user_agent(
    value: &Option<Spanned<String>>,
    default: &str,
    sink: &mut Diagnostics<'_>,
) -> String {
    let Some(value) = value else {
        return default.to_string();
    };
    let text = value.get_ref().trim();
    if text.is_empty()
        || text.len() > 200
        || !text.chars().all(|c| c.is_ascii() && !c.is_ascii_control())
    {
        sink.error(
            value.span(),
            "user_agent must be 1 to 200 printable ASCII characters".into(),
        );
        return default.to_string();
    }
    text.to_string()
}

/// A `first_poll` value: `baseline` or `alert`, else `default` and an error.
pub(super) fn compile_first_poll(
    value: &Option<Spanned<String>>,
    default: FirstPoll,
    sink: &mut Diagnostics<'_>,
) -> FirstPoll {
    let Some(value) = value else { return default };
    FirstPoll::parse(value.get_ref()).unwrap_or_else(|| {
        sink.error(
            value.span(),
            format!(
                "first_poll must be \"baseline\" or \"alert\", not {:?}",
                value.get_ref()
            ),
        );
        default
    })
}

/// A poll interval: from [`MIN_INTERVAL`] to [`MAX_INTERVAL`], else `default` and an error.
pub(super) fn compile_interval(
    value: &Option<Spanned<String>>,
    default: Duration,
    sink: &mut Diagnostics<'_>,
) -> Duration {
    compile_duration(
        "interval",
        value,
        default,
        MIN_INTERVAL..=MAX_INTERVAL,
        sink,
    )
}

/// Whether a `database` value names a PostgreSQL database rather than an SQLite file.
pub fn is_postgres_url(database: &str) -> bool {
    let database = database.trim_start();
    database.starts_with("postgres://") || database.starts_with("postgresql://")
}
