//! The config file: raw TOML (with spans) → validated, compiled [`Config`], plus the
//! diagnostics that point at `file:line:col`. Pure apart from reading the file in [`load`]:
//! compilation never touches the network or the clock.
//!
//! Two layers, as ripgrep does with its flags: `RawConfig` mirrors the file and only knows
//! about types; [`compile`] checks meaning (durations, URLs, duplicate names, queries) and
//! builds the [`Config`] the daemon runs on. Every problem is collected, not only the first.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use toml::Spanned;
use unicode_width::UnicodeWidthChar;
use url::Url;

use crate::model::{DEFAULT_STORY_WINDOW, Dedup, StoryPolicy};
use crate::query::{Query, QuerySet};

mod scope;

pub use scope::{OutOfScope, TimeScope, parse_time};

/// The shortest poll interval a feed may have: polling faster is rude to publishers.
pub const MIN_INTERVAL: Duration = Duration::from_secs(60);
/// How long items are kept by default (`[daemon] keep_items`).
pub const DEFAULT_KEEP_ITEMS: Duration = Duration::from_secs(90 * 24 * 3600);
/// The shortest `keep_items`: a day.
pub const MIN_KEEP_ITEMS: Duration = Duration::from_secs(24 * 3600);
/// `[daemon] max_items_per_poll` when not set: more than almost any feed lists at once.
pub const DEFAULT_MAX_ITEMS_PER_POLL: usize = 1000;
/// `[daemon] max_field_chars` when not set: longer than almost any article.
pub const DEFAULT_MAX_FIELD_CHARS: usize = 100_000;
/// Where the config is looked for when neither `--config` nor `$WATCHWORD_CONFIG` is given.
pub const DEFAULT_PATH: &str = "config/watchword.toml";
/// The environment variable that names the config file.
pub const ENV_VAR: &str = "WATCHWORD_CONFIG";

/// A validated config, ready to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    pub daemon: DaemonConfig,
    /// Alias name → entries, as written (kept for explanations and `check`).
    pub aliases: BTreeMap<String, Vec<String>>,
    /// Feeds in file order; names are unique.
    pub feeds: Vec<FeedConfig>,
    /// Topics in file order; ids are unique.
    pub topics: Vec<Topic>,
    /// Alert sinks in file order; names are unique.
    pub alerts: Vec<AlertConfig>,
    /// The status endpoint, when `[http] listen` is set.
    pub http: Option<HttpConfig>,
    /// The topics' queries behind one prefilter, in the same order as `topics`.
    pub matcher: QuerySet,
    /// Likely mistakes that do not stop the config from working (a lower-case `and`
    /// between terms); `check` prints them, the daemon logs them.
    pub warnings: Vec<Diagnostic>,
}

/// The `[http]` table: the status endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpConfig {
    /// Address and port to listen on, such as `127.0.0.1:8787`.
    pub listen: std::net::SocketAddr,
}

/// The `[daemon]` table, with defaults applied and paths resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct DaemonConfig {
    /// SQLite database, resolved against the config file's folder.
    pub database: PathBuf,
    /// Default poll interval for feeds that do not set one.
    pub interval: Duration,
    /// How many feeds may be polled at once, over all hosts.
    pub max_concurrent: usize,
    /// How many feeds of one host may be polled at once.
    pub per_host: usize,
    /// Deadline for a whole request, body included.
    pub timeout: Duration,
    /// Deadline for establishing a connection.
    pub connect_timeout: Duration,
    /// The largest body accepted, counted after decompression.
    pub max_body: u64,
    /// Attempts per alert delivery before it is marked failed.
    pub alert_attempts: u32,
    /// How long `once` keeps delivering and retrying alerts before it exits.
    pub alert_wait: Duration,
    /// How long a feed fails before the sinks without a topic filter get a `feed_dead`
    /// notice.
    pub dead_after: Duration,
    /// How long unmatched items and finished outbox rows are kept; `None` keeps them
    /// forever (`keep_items = "forever"`).
    pub keep_items: Option<Duration>,
    /// The most items one poll of a feed keeps (the first ones, in feed order).
    pub max_items_per_poll: usize,
    /// The most characters kept of an item's title, summary, content, author or category.
    pub max_field_chars: usize,
    /// Whether URLs that come from feed content (item links fetched as articles, redirects
    /// and feed links to another host) may point at loopback, private, link-local or
    /// metadata addresses. Off by default: a feed must not reach the operator's network.
    pub allow_private_targets: bool,
    /// When to fetch an item's linked page for its text; feeds may override it.
    pub fetch_article: ArticlePolicy,
    /// With [`ArticlePolicy::Short`]: an item whose summary and content together have fewer
    /// characters than this gets its article fetched.
    pub article_min_chars: usize,
    /// `story_window` and `dedup`: how new items are grouped into stories and how often a
    /// topic logs one.
    pub stories: StoryPolicy,
    /// The `max_age` of topics that do not set their own: items published longer than this
    /// before watchword first sees them are stored but not matched. `None`: any age.
    pub max_age: Option<Duration>,
}

/// When an item's linked page is fetched and its main text matched as the `article` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArticlePolicy {
    /// Never (the default): only the feed's own text is matched.
    #[default]
    Never,
    /// When the feed gives less than `article_min_chars` of summary and content.
    Short,
    /// For every new item with a link.
    Always,
}

impl ArticlePolicy {
    fn parse(text: &str) -> Option<ArticlePolicy> {
        match text {
            "never" => Some(ArticlePolicy::Never),
            "short" => Some(ArticlePolicy::Short),
            "always" => Some(ArticlePolicy::Always),
            _ => None,
        }
    }
}

/// One `[[alert]]`: a sink and which matches it takes.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertConfig {
    /// Unique name; outbox rows are keyed by it. Defaults to the kind; required when a kind
    /// is used more than once.
    pub name: String,
    /// Topic ids this sink takes; `None` takes every topic.
    pub topics: Option<Vec<String>>,
    /// Batch matches into one message per window.
    pub digest: Option<Duration>,
    /// Message text with `{title}`, `{url}`, `{topic}`, `{feed}`, `{terms}`, `{published}`,
    /// `{also}` (the other sources' feeds).
    pub template: Option<String>,
    pub sink: SinkConfig,
}

/// Where an alert goes, with the kind's settings.
#[derive(Debug, Clone, PartialEq)]
pub enum SinkConfig {
    /// A log event per match.
    Log,
    /// One JSON object per match appended to a file.
    Jsonl { path: PathBuf },
    /// An HTTP POST.
    Webhook {
        url: Url,
        format: WebhookFormat,
        /// Extra request headers (tokens), validated as HTTP header names and values.
        headers: Vec<(String, String)>,
        timeout: Duration,
    },
    /// A program run without a shell; the match on stdin and in the environment.
    Exec {
        command: Vec<String>,
        timeout: Duration,
    },
    /// An email through SMTP; credentials come from the environment.
    Email {
        host: String,
        port: u16,
        tls: EmailTls,
        from: String,
        to: Vec<String>,
        timeout: Duration,
    },
}

/// The body a webhook sink posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    /// `{"text": …, "matches": [match records]}`.
    Json,
    /// A Slack incoming-webhook message (mrkdwn).
    Slack,
    /// A Discord webhook message (markdown, no mentions).
    Discord,
    /// An ntfy publish: plain-text body, title and click headers.
    Ntfy,
}

/// How the email sink secures its SMTP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailTls {
    /// Plain connection upgraded with STARTTLS (required).
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
    /// No encryption: for a relay on localhost only.
    None,
}

/// The placeholders a message template may use.
pub const TEMPLATE_FIELDS: &[&str] = &[
    "title",
    "url",
    "topic",
    "topic_title",
    "feed",
    "terms",
    "published",
    "also",
];

impl SinkConfig {
    /// The kind as written in the config.
    pub fn kind(&self) -> &'static str {
        match self {
            SinkConfig::Log => "log",
            SinkConfig::Jsonl { .. } => "jsonl",
            SinkConfig::Webhook { .. } => "webhook",
            SinkConfig::Exec { .. } => "exec",
            SinkConfig::Email { .. } => "email",
        }
    }
}

/// One `[[feed]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedConfig {
    /// Unique name; the key of the feed in the store.
    pub name: String,
    pub source: FeedSource,
    pub interval: Duration,
    /// `[daemon] fetch_article` unless the feed sets its own.
    pub fetch_article: ArticlePolicy,
}

/// Where a feed's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FeedSource {
    Http(Url),
    /// A local file (`file:` URL or a plain path, resolved against the config's folder).
    File(PathBuf),
}

/// One `[[topic]]`, with its query compiled.
#[derive(Debug, Clone)]
pub struct Topic {
    pub id: String,
    pub title: Option<String>,
    /// The query as written.
    pub source: String,
    pub query: Query,
    /// Which items the topic may match by date (`max_age`, `published_after`,
    /// `published_before`), with `[daemon] max_age` applied.
    pub scope: TimeScope,
}

impl Topic {
    /// The name people read (alerts, the Atom feed): the title, else the id.
    pub fn display_name(&self) -> &str {
        self.title
            .as_deref()
            .filter(|title| !title.trim().is_empty())
            .unwrap_or(&self.id)
    }
}

/// A problem in a config file, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// An error stops the config; a warning does not.
    pub severity: Severity,
    pub path: PathBuf,
    /// 1-based line and column (in characters).
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// The source line, for the caret display.
    pub source_line: String,
}

/// How bad a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    // The cause is part of the message, not a `source`, so `{:#}` does not print it twice.
    #[error("cannot read config file {}: {cause}", path.display())]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{}", render_all(.0))]
    Invalid(Vec<Diagnostic>),
}

impl FeedSource {
    /// The host that per-host concurrency limits apply to (`None` for files).
    pub fn host(&self) -> Option<&str> {
        match self {
            FeedSource::Http(url) => url.host_str(),
            FeedSource::File(_) => None,
        }
    }
}

impl fmt::Display for FeedSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeedSource::Http(url) => write!(f, "{url}"),
            FeedSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

impl fmt::Display for Diagnostic {
    /// `path:line:col: error: message`, then the source line and a caret under the column.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        writeln!(
            f,
            "{}:{}:{}: {severity}: {}",
            self.path.display(),
            self.line,
            self.column,
            self.message
        )?;
        let gutter = " ".repeat(self.line.to_string().len());
        // Pad by terminal width (CJK characters take two columns) and keep tabs as tabs, so
        // the caret sits under the column whatever the line holds.
        let padding: String = self
            .source_line
            .chars()
            .take(self.column.saturating_sub(1))
            .map(|c| match c {
                '\t' => "\t".to_string(),
                c => " ".repeat(c.width().unwrap_or(0)),
            })
            .collect();
        writeln!(f, "{gutter} |")?;
        writeln!(f, "{} | {}", self.line, self.source_line)?;
        write!(f, "{gutter} | {padding}^")
    }
}

/// Finds the config file: `--config`, then `$WATCHWORD_CONFIG` (unless empty), then
/// `./config/watchword.toml`.
pub fn locate(flag: Option<&Path>, env: Option<&Path>) -> PathBuf {
    flag.or(env.filter(|path| !path.as_os_str().is_empty()))
        .map_or_else(|| PathBuf::from(DEFAULT_PATH), Path::to_path_buf)
}

/// Reads and compiles the config at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
        path: path.to_path_buf(),
        cause,
    })?;
    match compile(path, &text) {
        (Some(config), _) => Ok(config),
        (None, diagnostics) => Err(ConfigError::Invalid(diagnostics)),
    }
}

/// Parses and validates config text read from `path`. Returns the config when there is no
/// error, and every diagnostic found.
pub fn compile(path: &Path, text: &str) -> (Option<Config>, Vec<Diagnostic>) {
    let mut sink = Diagnostics {
        path,
        text,
        found: Vec::new(),
        warnings: Vec::new(),
    };
    let raw: RawConfig = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(error) => {
            // serde stops at the first unknown key; list them all when that is the problem.
            let unknown = if error.message().starts_with("unknown field") {
                unknown_keys(text)
            } else {
                Vec::new()
            };
            if unknown.is_empty() {
                let span = error.span().unwrap_or(0..0);
                let mut message = error.message().trim_end_matches('.').to_string();
                if let Some(hint) = apostrophe_hint(text, span.start) {
                    message.push_str(hint);
                }
                sink.error(span, message);
            }
            for (span, message) in unknown {
                sink.error(span, message);
            }
            return (None, sink.found);
        }
    };
    let base = path.parent().unwrap_or(Path::new(""));
    let daemon = compile_daemon(&raw.daemon, base, &mut sink);
    let aliases = compile_aliases(&raw.alias, &mut sink);
    let feeds = compile_feeds(&raw.feed, &daemon, base, &mut sink);
    let topics = compile_topics(&raw.topic, &aliases, daemon.max_age, &mut sink);
    let alerts = compile_alerts(&raw.alert, &topics, base, &mut sink);
    let http = raw.http.as_ref().and_then(|http| {
        http.listen
            .get_ref()
            .trim()
            .parse()
            .map(|listen| HttpConfig { listen })
            .map_err(|_| {
                sink.error(
                    http.listen.span(),
                    format!(
                        "listen {:?} is not an address and port such as 127.0.0.1:8787",
                        http.listen.get_ref()
                    ),
                );
            })
            .ok()
    });
    if !sink.found.is_empty() {
        return (None, sink.found);
    }
    let matcher = QuerySet::new(topics.iter().map(|topic| topic.query.clone()).collect());
    let config = Config {
        path: path.to_path_buf(),
        daemon,
        aliases,
        feeds,
        topics,
        alerts,
        http,
        matcher,
        warnings: sink.warnings,
    };
    (Some(config), sink.found)
}

/// What [`add_feeds`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedsAdded {
    /// The new config text.
    pub text: String,
    /// Names of the feeds added.
    pub added: Vec<String>,
    /// URLs skipped, with why (already configured, not http or https).
    pub skipped: Vec<(String, String)>,
}

/// Adds `[[feed]]` tables (name, URL) to config text, keeping its comments and layout: new
/// tables go after the last feed. Only http and https URLs are added; a URL the config
/// already has (compared after normalizing scheme and host case and a trailing slash) is
/// skipped; a name already taken gets ` (2)`, ` (3)`, … appended.
pub fn add_feeds(text: &str, feeds: &[(String, String)]) -> Result<FeedsAdded, String> {
    use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};
    let mut doc: DocumentMut = text.parse().map_err(|error| format!("{error}"))?;
    if doc.get("feed").is_none() {
        doc.insert("feed", Item::ArrayOfTables(ArrayOfTables::new()));
    }
    let array = doc["feed"]
        .as_array_of_tables_mut()
        .ok_or("`feed` is not a list of [[feed]] tables")?;
    let field =
        |table: &Table, key: &str| table.get(key).and_then(Item::as_str).map(str::to_string);
    let mut names: Vec<String> = array
        .iter()
        .filter_map(|t| field(t, "name"))
        .map(|name| name.trim().to_string())
        .collect();
    let mut urls: Vec<String> = array
        .iter()
        .filter_map(|t| field(t, "url"))
        .map(|url| comparable_url(&url))
        .collect();
    let last_position = array.iter().filter_map(Table::position).max();
    let (mut added, mut skipped) = (Vec::new(), Vec::new());
    for (name, url) in feeds {
        let key = comparable_url(url);
        if !Url::parse(url.trim()).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
            skipped.push((url.clone(), "not an http or https URL".into()));
            continue;
        }
        if urls.contains(&key) {
            skipped.push((url.clone(), "already configured".into()));
            continue;
        }
        let base = name.trim();
        let base = if base.is_empty() { url.trim() } else { base };
        let mut unique = base.to_string();
        let mut n = 1;
        while names.contains(&unique) {
            n += 1;
            unique = format!("{base} ({n})");
        }
        let mut table = Table::new();
        table["name"] = value(unique.clone());
        table["url"] = value(url.trim());
        // Same position as the last feed: new tables are written right after it.
        table.set_position(last_position);
        array.push(table);
        names.push(unique.clone());
        urls.push(key);
        added.push(unique);
    }
    Ok(FeedsAdded {
        text: doc.to_string(),
        added,
        skipped,
    })
}

/// A URL in a form that compares equal for the same feed: scheme and host lower-cased (the
/// URL parser does that), no trailing slash.
fn comparable_url(url: &str) -> String {
    let url = url.trim();
    let parsed = Url::parse(url).map_or_else(|_| url.to_string(), String::from);
    parsed.trim_end_matches('/').to_string()
}

/// Parses a duration such as `30s`, `15m`, `1h30m`, `2d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = 0u64;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!(
                "invalid duration {text:?}: expected a number followed by s, m, h or d (like 30s, 15m, 1h30m)"
            ));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("invalid duration {text:?}: number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let seconds_per_unit = match rest[..unit_len].trim() {
            "s" | "sec" | "secs" => 1,
            "m" | "min" | "mins" => 60,
            "h" | "hr" | "hrs" => 3600,
            "d" | "day" | "days" => 86_400,
            "" => {
                return Err(format!(
                    "invalid duration {text:?}: missing unit after {number} (s, m, h or d)"
                ));
            }
            unit => {
                return Err(format!(
                    "invalid duration {text:?}: unknown unit {unit:?} (use s, m, h or d)"
                ));
            }
        };
        total = number
            .checked_mul(seconds_per_unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| format!("invalid duration {text:?}: too large"))?;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_secs(total))
}

/// Formats a duration the way the config writes it (`1h30m`, `45s`).
pub fn format_duration(duration: Duration) -> String {
    let mut secs = duration.as_secs();
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

/// Parses a size such as `10MiB`, `500 KB`, `1048576`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!(
            "invalid size {text:?}: expected a number with an optional unit (B, KB, KiB, MB, MiB, GB, GiB)"
        ));
    }
    let number: u64 = text[..digits]
        .parse()
        .map_err(|_| format!("invalid size {text:?}: number too large"))?;
    let multiplier: u64 = match text[digits..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1000,
        "kib" => 1024,
        "mb" | "m" => 1000 * 1000,
        "mib" => 1024 * 1024,
        "gb" | "g" => 1000 * 1000 * 1000,
        "gib" => 1024 * 1024 * 1024,
        unit => {
            return Err(format!(
                "invalid size {text:?}: unknown unit {unit:?} (use B, KB, KiB, MB, MiB, GB, GiB)"
            ));
        }
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("invalid size {text:?}: too large"))
}

/// Renders diagnostics one after another, separated by blank lines.
pub fn render_all(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(Diagnostic::to_string)
        .collect::<Vec<_>>()
        .join("\n\n")
}

// ---------------------------------------------------------------------------------------------
// The raw layer: mirrors the file, rejects unknown keys, keeps spans for later errors.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    daemon: RawDaemon,
    #[serde(default)]
    alias: BTreeMap<Spanned<String>, Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    feed: Vec<RawFeed>,
    #[serde(default)]
    topic: Vec<RawTopic>,
    #[serde(default)]
    alert: Vec<RawAlert>,
    http: Option<RawHttp>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    listen: Spanned<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDaemon {
    database: Option<Spanned<String>>,
    interval: Option<Spanned<String>>,
    max_concurrent: Option<Spanned<i64>>,
    per_host: Option<Spanned<i64>>,
    timeout: Option<Spanned<String>>,
    connect_timeout: Option<Spanned<String>>,
    max_body: Option<Spanned<String>>,
    alert_attempts: Option<Spanned<i64>>,
    alert_wait: Option<Spanned<String>>,
    dead_after: Option<Spanned<String>>,
    keep_items: Option<Spanned<String>>,
    max_items_per_poll: Option<Spanned<i64>>,
    max_field_chars: Option<Spanned<i64>>,
    allow_private_targets: Option<bool>,
    fetch_article: Option<Spanned<String>>,
    article_min_chars: Option<Spanned<i64>>,
    story_window: Option<Spanned<String>>,
    dedup: Option<Spanned<String>>,
    max_age: Option<Spanned<String>>,
}

/// One `[[alert]]` as written: every kind's keys, checked against the kind when compiled.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlert {
    kind: Spanned<String>,
    name: Option<Spanned<String>>,
    topics: Option<Spanned<Vec<Spanned<String>>>>,
    digest: Option<Spanned<String>>,
    template: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    format: Option<Spanned<String>>,
    headers: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    command: Option<Spanned<Vec<Spanned<String>>>>,
    timeout: Option<Spanned<String>>,
    host: Option<Spanned<String>>,
    port: Option<Spanned<i64>>,
    tls: Option<Spanned<String>>,
    from: Option<Spanned<String>>,
    to: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeed {
    name: Spanned<String>,
    url: Spanned<String>,
    interval: Option<Spanned<String>>,
    fetch_article: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopic {
    id: Spanned<String>,
    title: Option<String>,
    query: Spanned<String>,
    max_age: Option<Spanned<String>>,
    published_after: Option<Spanned<String>>,
    published_before: Option<Spanned<String>>,
}

// ---------------------------------------------------------------------------------------------
// The compile layer: meaning, defaults, positions.

/// Collects diagnostics for one file.
struct Diagnostics<'a> {
    path: &'a Path,
    text: &'a str,
    /// Errors.
    found: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Diagnostics<'_> {
    fn error(&mut self, span: Range<usize>, message: String) {
        let diagnostic = self.diagnostic(Severity::Error, span, message);
        self.found.push(diagnostic);
    }

    fn warning(&mut self, span: Range<usize>, message: String) {
        let diagnostic = self.diagnostic(Severity::Warning, span, message);
        self.warnings.push(diagnostic);
    }

    fn diagnostic(&self, severity: Severity, span: Range<usize>, message: String) -> Diagnostic {
        let (line, column, source_line) = position(self.text, span.start);
        Diagnostic {
            severity,
            path: self.path.to_path_buf(),
            line,
            column,
            message,
            source_line,
        }
    }

    fn line_of(&self, offset: usize) -> usize {
        position(self.text, offset).0
    }
}

fn compile_daemon(raw: &RawDaemon, base: &Path, sink: &mut Diagnostics<'_>) -> DaemonConfig {
    let database = match &raw.database {
        Some(path) if path.get_ref().trim().is_empty() => {
            sink.error(path.span(), "database path is empty".into());
            PathBuf::new()
        }
        Some(path) => base.join(path.get_ref()),
        None => base.join("../data/watchword.db"),
    };
    let duration = |value: &Option<Spanned<String>>,
                    default: Duration,
                    sink: &mut Diagnostics<'_>|
     -> Duration {
        let Some(value) = value else { return default };
        match parse_duration(value.get_ref()) {
            Ok(duration) if duration.is_zero() => {
                sink.error(value.span(), "duration must be greater than zero".into());
                default
            }
            Ok(duration) => duration,
            Err(message) => {
                sink.error(value.span(), message);
                default
            }
        }
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
            Ok(size) if size >= 1024 => size,
            Ok(_) => {
                sink.error(value.span(), "max_body must be at least 1KiB".into());
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
        interval,
        max_concurrent: count(&raw.max_concurrent, 16, sink),
        per_host: count(&raw.per_host, 2, sink),
        timeout: duration(&raw.timeout, Duration::from_secs(30), sink),
        connect_timeout: duration(&raw.connect_timeout, Duration::from_secs(10), sink),
        max_body,
        alert_attempts: u32::try_from(count(&raw.alert_attempts, 10, sink)).unwrap_or(10),
        alert_wait: duration(&raw.alert_wait, Duration::from_secs(30), sink),
        dead_after: duration(&raw.dead_after, Duration::from_secs(24 * 3600), sink),
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
            window: duration(&raw.story_window, DEFAULT_STORY_WINDOW, sink),
        },
        max_age: compile_max_age(&raw.max_age, None, sink),
    }
}

/// A `max_age`: a duration greater than zero, or `"forever"` (`None`: any age); `default`
/// when not set.
fn compile_max_age(
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
fn compile_bound(
    value: &Option<Spanned<String>>,
    sink: &mut Diagnostics<'_>,
) -> Option<DateTime<Utc>> {
    let value = value.as_ref()?;
    parse_time(value.get_ref())
        .map_err(|message| sink.error(value.span(), message))
        .ok()
}

/// `keep_items`: a duration of at least [`MIN_KEEP_ITEMS`], or `"forever"` (`None`).
fn compile_keep_items(
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
fn compile_article_policy(
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

/// A poll interval: a duration of at least [`MIN_INTERVAL`], else `default` and an error.
fn compile_interval(
    value: &Option<Spanned<String>>,
    default: Duration,
    sink: &mut Diagnostics<'_>,
) -> Duration {
    let Some(value) = value else { return default };
    match parse_duration(value.get_ref()) {
        Ok(interval) if interval < MIN_INTERVAL => {
            sink.error(
                value.span(),
                format!(
                    "interval {} is below the minimum of 1m",
                    format_duration(interval)
                ),
            );
            default
        }
        Ok(interval) => interval,
        Err(message) => {
            sink.error(value.span(), message);
            default
        }
    }
}

fn compile_aliases(
    raw: &BTreeMap<Spanned<String>, Spanned<Vec<Spanned<String>>>>,
    sink: &mut Diagnostics<'_>,
) -> BTreeMap<String, Vec<String>> {
    let mut aliases = BTreeMap::new();
    for (name, entries) in raw {
        if !is_identifier(name.get_ref()) {
            sink.error(
                name.span(),
                format!(
                    "alias name {:?} must use only letters, digits, _ and -",
                    name.get_ref()
                ),
            );
        }
        if entries.get_ref().is_empty() {
            sink.error(
                entries.span(),
                format!("alias {:?} has no entries", name.get_ref()),
            );
        }
        for entry in entries.get_ref() {
            if entry.get_ref().trim().is_empty() {
                sink.error(entry.span(), "alias entry is empty".into());
            }
        }
        let list = entries
            .get_ref()
            .iter()
            .map(|entry| entry.get_ref().trim().to_string())
            .collect();
        aliases.insert(name.get_ref().clone(), list);
    }
    aliases
}

fn compile_feeds(
    raw: &[RawFeed],
    daemon: &DaemonConfig,
    base: &Path,
    sink: &mut Diagnostics<'_>,
) -> Vec<FeedConfig> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut feeds = Vec::with_capacity(raw.len());
    for feed in raw {
        let name = feed.name.get_ref().trim();
        if name.is_empty() {
            sink.error(feed.name.span(), "feed name is empty".into());
        } else if let Some(first) = seen.get(name) {
            let first_line = sink.line_of(*first);
            sink.error(
                feed.name.span(),
                format!("duplicate feed name {name:?} (first defined on line {first_line})"),
            );
        } else {
            seen.insert(name, feed.name.span().start);
        }
        let source = match parse_source(feed.url.get_ref(), base) {
            Ok(source) => Some(source),
            Err(message) => {
                sink.error(feed.url.span(), message);
                None
            }
        };
        let interval = compile_interval(&feed.interval, daemon.interval, sink);
        let fetch_article = compile_article_policy(&feed.fetch_article, daemon.fetch_article, sink);
        if let Some(source) = source {
            feeds.push(FeedConfig {
                name: name.to_string(),
                source,
                interval,
                fetch_article,
            });
        }
    }
    feeds
}

/// Turns a feed `url` value into a source: http(s) URLs, `file:` URLs, or plain paths
/// resolved against `base` (the config file's folder, or the current one for a feed given on
/// the command line).
pub fn parse_source(text: &str, base: &Path) -> Result<FeedSource, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("feed url is empty".into());
    }
    let has_scheme = text.split_once(':').is_some_and(|(scheme, _)| {
        scheme.len() > 1
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if !has_scheme {
        if text.contains("//") {
            return Err(format!(
                "{text:?} is neither a URL (no scheme such as https://) nor a plausible file path"
            ));
        }
        return Ok(FeedSource::File(base.join(text)));
    }
    let url = Url::parse(text).map_err(|e| format!("invalid feed url {text:?}: {e}"))?;
    match url.scheme() {
        "http" | "https" => {
            if url.host_str().is_none_or(str::is_empty) {
                return Err(format!("invalid feed url {text:?}: no host"));
            }
            Ok(FeedSource::Http(url))
        }
        "file" => {
            let path = url
                .to_file_path()
                .map_err(|()| format!("invalid file url {text:?}"))?;
            Ok(FeedSource::File(path))
        }
        scheme => Err(format!(
            "unsupported url scheme {scheme:?} in {text:?} (use http, https, file or a path)"
        )),
    }
}

fn compile_topics(
    raw: &[RawTopic],
    aliases: &BTreeMap<String, Vec<String>>,
    default_max_age: Option<Duration>,
    sink: &mut Diagnostics<'_>,
) -> Vec<Topic> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut topics = Vec::with_capacity(raw.len());
    for topic in raw {
        let id = topic.id.get_ref().as_str();
        if !is_identifier(id) {
            sink.error(
                topic.id.span(),
                format!("topic id {id:?} must be non-empty and use only letters, digits, _ and -"),
            );
        } else if let Some(first) = seen.get(id) {
            let first_line = sink.line_of(*first);
            sink.error(
                topic.id.span(),
                format!("duplicate topic id {id:?} (first defined on line {first_line})"),
            );
        } else {
            seen.insert(id, topic.id.span().start);
        }
        let scope = TimeScope {
            max_age: compile_max_age(&topic.max_age, default_max_age, sink),
            published_after: compile_bound(&topic.published_after, sink),
            published_before: compile_bound(&topic.published_before, sink),
        };
        if let (Some(after), Some(before), Some(raw_before)) = (
            scope.published_after,
            scope.published_before,
            &topic.published_before,
        ) && before <= after
        {
            sink.error(
                raw_before.span(),
                "published_before must be later than published_after".into(),
            );
        }
        for lint in crate::query::lint(topic.query.get_ref()) {
            let offset = string_body_offset(sink.text, topic.query.span(), lint.offset);
            sink.warning(offset..offset, format!("in query: {}", lint.message));
        }
        match Query::compile(topic.query.get_ref(), aliases) {
            Ok(query) => topics.push(Topic {
                id: id.to_string(),
                title: topic.title.clone(),
                source: topic.query.get_ref().clone(),
                query,
                scope,
            }),
            Err(error) => {
                let offset = string_body_offset(sink.text, topic.query.span(), error.offset);
                sink.error(offset..offset, format!("in query: {}", error.message));
            }
        }
    }
    topics
}

fn compile_alerts(
    raw: &[RawAlert],
    topics: &[Topic],
    base: &Path,
    sink: &mut Diagnostics<'_>,
) -> Vec<AlertConfig> {
    let mut names: HashMap<String, usize> = HashMap::new();
    // Outbox rows are keyed by sink name, so a name must not depend on the order of the
    // tables: a kind used more than once needs explicit names.
    let mut kind_counts: HashMap<&str, usize> = HashMap::new();
    for alert in raw {
        *kind_counts
            .entry(alert.kind.get_ref().as_str())
            .or_default() += 1;
    }
    let mut alerts = Vec::with_capacity(raw.len());
    for alert in raw {
        let Some(compiled) = compile_sink(alert, base, sink) else {
            continue;
        };
        let kind = compiled.kind();
        let name = match &alert.name {
            Some(name) if !is_identifier(name.get_ref()) => {
                sink.error(
                    name.span(),
                    format!(
                        "alert name {:?} must be non-empty and use only letters, digits, _ and -",
                        name.get_ref()
                    ),
                );
                continue;
            }
            Some(name) => name.get_ref().clone(),
            None if kind_counts.get(kind).copied().unwrap_or(0) > 1 => {
                sink.error(
                    alert.kind.span(),
                    format!(
                        "there are several {kind} alerts: give each its own `name` (deliveries are kept by name)"
                    ),
                );
                continue;
            }
            None => kind.to_string(),
        };
        let start = alert.name.as_ref().unwrap_or(&alert.kind).span().start;
        if let Some(first) = names.get(&name) {
            let first_line = sink.line_of(*first);
            sink.error(
                start..start,
                format!(
                    "duplicate alert name {name:?} (first defined on line {first_line}); give each sink its own `name`"
                ),
            );
            continue;
        }
        names.insert(name.clone(), start);
        let topic_ids = alert.topics.as_ref().map(|list| {
            for id in list.get_ref() {
                if !topics.iter().any(|topic| &topic.id == id.get_ref()) {
                    let known: Vec<&str> = topics.iter().map(|t| t.id.as_str()).collect();
                    sink.error(
                        id.span(),
                        format!(
                            "unknown topic {:?} (topics: {})",
                            id.get_ref(),
                            known.join(", ")
                        ),
                    );
                }
            }
            list.get_ref()
                .iter()
                .map(|id| id.get_ref().clone())
                .collect()
        });
        let digest =
            alert
                .digest
                .as_ref()
                .and_then(|value| match parse_duration(value.get_ref()) {
                    Ok(window) if window >= Duration::from_secs(1) => Some(window),
                    Ok(_) => {
                        sink.error(value.span(), "digest window must be at least 1s".into());
                        None
                    }
                    Err(message) => {
                        sink.error(value.span(), message);
                        None
                    }
                });
        let template = alert.template.as_ref().map(|template| {
            if let Err((offset, message)) = check_template(template.get_ref()) {
                let at = string_body_offset(sink.text, template.span(), offset);
                sink.error(at..at, format!("in template: {message}"));
            }
            template.get_ref().clone()
        });
        alerts.push(AlertConfig {
            name,
            topics: topic_ids,
            digest,
            template,
            sink: compiled,
        });
    }
    alerts
}

/// The kind-specific part of an `[[alert]]`: required keys present, keys of other kinds
/// absent, values valid.
fn compile_sink(alert: &RawAlert, base: &Path, sink: &mut Diagnostics<'_>) -> Option<SinkConfig> {
    let kind = alert.kind.get_ref().as_str();
    // (key, present, span) for every kind-specific key.
    let keys: [(&str, Option<Range<usize>>); 11] = [
        ("path", alert.path.as_ref().map(Spanned::span)),
        ("url", alert.url.as_ref().map(Spanned::span)),
        ("format", alert.format.as_ref().map(Spanned::span)),
        ("headers", alert.headers.as_ref().map(Spanned::span)),
        ("command", alert.command.as_ref().map(Spanned::span)),
        ("timeout", alert.timeout.as_ref().map(Spanned::span)),
        ("host", alert.host.as_ref().map(Spanned::span)),
        ("port", alert.port.as_ref().map(Spanned::span)),
        ("tls", alert.tls.as_ref().map(Spanned::span)),
        ("from", alert.from.as_ref().map(Spanned::span)),
        ("to", alert.to.as_ref().map(Spanned::span)),
    ];
    let allowed: &[&str] = match kind {
        "log" => &[],
        "jsonl" => &["path"],
        "webhook" => &["url", "format", "headers", "timeout"],
        "exec" => &["command", "timeout"],
        "email" => &["host", "port", "tls", "from", "to", "timeout"],
        other => {
            sink.error(
                alert.kind.span(),
                format!("unknown alert kind {other:?} (use log, jsonl, webhook, exec or email)"),
            );
            return None;
        }
    };
    let errors_before = sink.found.len();
    for (key, span) in &keys {
        if let Some(span) = span
            && !allowed.contains(key)
        {
            sink.error(
                span.clone(),
                format!("`{key}` does not apply to a {kind} alert"),
            );
        }
    }
    if kind == "jsonl"
        && let Some(template) = &alert.template
    {
        sink.error(
            template.span(),
            "`template` does not apply to a jsonl alert (it writes the match record)".into(),
        );
    }
    let kind_span = alert.kind.span();
    let required = |key: &str, sink: &mut Diagnostics<'_>| {
        sink.error(kind_span.clone(), format!("a {kind} alert needs `{key}`"));
    };
    let timeout = match &alert.timeout {
        None => Duration::from_secs(30),
        Some(value) => match parse_duration(value.get_ref()) {
            Ok(timeout) if !timeout.is_zero() => timeout,
            Ok(_) => {
                sink.error(value.span(), "timeout must be greater than zero".into());
                Duration::from_secs(30)
            }
            Err(message) => {
                sink.error(value.span(), message);
                Duration::from_secs(30)
            }
        },
    };
    let compiled = match kind {
        "log" => SinkConfig::Log,
        "jsonl" => match &alert.path {
            Some(path) if !path.get_ref().trim().is_empty() => SinkConfig::Jsonl {
                path: base.join(path.get_ref()),
            },
            Some(path) => {
                sink.error(path.span(), "path is empty".into());
                return None;
            }
            None => {
                required("path", sink);
                return None;
            }
        },
        "webhook" => {
            let Some(url) = &alert.url else {
                required("url", sink);
                return None;
            };
            let parsed = match Url::parse(url.get_ref().trim()) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => parsed,
                Ok(parsed) => {
                    sink.error(
                        url.span(),
                        format!(
                            "webhook url must be http or https, not {:?}",
                            parsed.scheme()
                        ),
                    );
                    return None;
                }
                Err(error) => {
                    sink.error(url.span(), format!("invalid webhook url: {error}"));
                    return None;
                }
            };
            let format = match alert
                .format
                .as_ref()
                .map(|f| (f.get_ref().as_str(), f.span()))
            {
                None | Some(("json", _)) => WebhookFormat::Json,
                Some(("slack", _)) => WebhookFormat::Slack,
                Some(("discord", _)) => WebhookFormat::Discord,
                Some(("ntfy", _)) => WebhookFormat::Ntfy,
                Some((other, span)) => {
                    sink.error(
                        span,
                        format!(
                            "unknown webhook format {other:?} (use json, slack, discord or ntfy)"
                        ),
                    );
                    WebhookFormat::Json
                }
            };
            let mut headers = Vec::new();
            for (name, value) in alert.headers.iter().flat_map(|h| h.get_ref()) {
                if !is_header_name(name) {
                    sink.error(
                        value.span(),
                        format!("header name {name:?} is not a valid HTTP header name"),
                    );
                } else if ["content-type", "idempotency-key"]
                    .contains(&name.to_ascii_lowercase().as_str())
                {
                    sink.error(
                        value.span(),
                        format!("header {name:?} is set by watchword and cannot be overridden"),
                    );
                } else if value.get_ref().chars().any(|c| c.is_control() && c != '\t') {
                    sink.error(
                        value.span(),
                        format!("header {name:?} has a control character in its value"),
                    );
                }
                headers.push((name.clone(), value.get_ref().clone()));
            }
            SinkConfig::Webhook {
                url: parsed,
                format,
                headers,
                timeout,
            }
        }
        "exec" => {
            let Some(command) = &alert.command else {
                required("command", sink);
                return None;
            };
            if command
                .get_ref()
                .first()
                .is_none_or(|program| program.get_ref().trim().is_empty())
            {
                sink.error(
                    command.span(),
                    "command needs a program: [\"program\", \"arg\", …] (run without a shell)"
                        .into(),
                );
                return None;
            }
            SinkConfig::Exec {
                command: command
                    .get_ref()
                    .iter()
                    .map(|arg| arg.get_ref().clone())
                    .collect(),
                timeout,
            }
        }
        "email" => {
            let (Some(host), Some(from), Some(to)) = (&alert.host, &alert.from, &alert.to) else {
                for (key, present) in [
                    ("host", alert.host.is_some()),
                    ("from", alert.from.is_some()),
                    ("to", alert.to.is_some()),
                ] {
                    if !present {
                        required(key, sink);
                    }
                }
                return None;
            };
            let tls = match alert.tls.as_ref().map(|t| (t.get_ref().as_str(), t.span())) {
                None | Some(("starttls", _)) => EmailTls::Starttls,
                Some(("tls", _)) => EmailTls::Tls,
                Some(("none", _)) => EmailTls::None,
                Some((other, span)) => {
                    sink.error(
                        span,
                        format!("unknown tls mode {other:?} (use starttls, tls or none)"),
                    );
                    EmailTls::Starttls
                }
            };
            let port = match &alert.port {
                None => match tls {
                    EmailTls::Tls => 465,
                    EmailTls::Starttls => 587,
                    EmailTls::None => 25,
                },
                Some(port) => match u16::try_from(*port.get_ref()) {
                    Ok(port) if port > 0 => port,
                    _ => {
                        sink.error(
                            port.span(),
                            format!("port {} is out of range", port.get_ref()),
                        );
                        25
                    }
                },
            };
            if host.get_ref().trim().is_empty() {
                sink.error(host.span(), "host is empty".into());
            }
            for address in std::iter::once(from).chain(to.get_ref()) {
                if !is_email_address(address.get_ref()) {
                    sink.error(
                        address.span(),
                        format!("{:?} is not an email address", address.get_ref()),
                    );
                }
            }
            if to.get_ref().is_empty() {
                sink.error(to.span(), "`to` lists no address".into());
            }
            SinkConfig::Email {
                host: host.get_ref().trim().to_string(),
                port,
                tls,
                from: from.get_ref().trim().to_string(),
                to: to
                    .get_ref()
                    .iter()
                    .map(|a| a.get_ref().trim().to_string())
                    .collect(),
                timeout,
            }
        }
        _ => unreachable!("unknown kinds returned above"),
    };
    (sink.found.len() == errors_before).then_some(compiled)
}

/// Checks a message template: `{name}` placeholders must be known; `{{` and `}}` are
/// literal braces. On error, the byte offset and a message.
pub fn check_template(template: &str) -> Result<(), (usize, String)> {
    let mut rest = template.char_indices().peekable();
    while let Some((at, c)) = rest.next() {
        match c {
            '{' if rest.next_if(|&(_, c)| c == '{').is_some() => {}
            '}' if rest.next_if(|&(_, c)| c == '}').is_some() => {}
            '{' => {
                let name: String = std::iter::from_fn(|| rest.next_if(|&(_, c)| c != '}'))
                    .map(|(_, c)| c)
                    .collect();
                if rest.next().is_none() {
                    return Err((at, "unclosed `{` (write `{{` for a literal brace)".into()));
                }
                if !TEMPLATE_FIELDS.contains(&name.as_str()) {
                    let known: Vec<String> =
                        TEMPLATE_FIELDS.iter().map(|f| format!("{{{f}}}")).collect();
                    return Err((
                        at,
                        format!("unknown placeholder {{{name}}} (use {})", known.join(", ")),
                    ));
                }
            }
            '}' => return Err((at, "unmatched `}` (write `}}` for a literal brace)".into())),
            _ => {}
        }
    }
    Ok(())
}

/// An HTTP header name: a non-empty token (RFC 9110).
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A plausible address: `local@domain`, optionally as `Name <local@domain>`. The SMTP
/// library checks it fully when the message is built.
fn is_email_address(text: &str) -> bool {
    let text = text.trim();
    let address = match (text.rfind('<'), text.strip_suffix('>')) {
        (Some(open), Some(inner)) => &inner[open + 1..],
        _ => text,
    };
    match address.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !address
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || "<>,".contains(c))
        }
        None => false,
    }
}

/// Maps a byte offset inside a TOML string's value to a byte offset in the file, walking
/// the escapes of basic strings so the caret lands under the right character.
fn string_body_offset(text: &str, span: Range<usize>, offset: usize) -> usize {
    let raw = text.get(span.clone()).unwrap_or("");
    let multiline = raw.starts_with("'''") || raw.starts_with("\"\"\"");
    let basic = raw.starts_with('"');
    let mut start = span.start + if multiline { 3 } else { 1 };
    if multiline {
        let body = &text[start.min(text.len())..];
        if body.starts_with("\r\n") {
            start += 2;
        } else if body.starts_with('\n') {
            start += 1;
        }
    }
    let body = text.get(start..span.end).unwrap_or("");
    let raw_offset = if basic {
        raw_offset_in_basic_string(body, offset)
    } else {
        offset
    };
    (start + raw_offset)
        .min(span.end.saturating_sub(1))
        .max(span.start)
}

/// The raw byte offset in a basic string's body of the value's byte `value_offset`.
fn raw_offset_in_basic_string(body: &str, value_offset: usize) -> usize {
    let mut value_pos = 0;
    let mut chars = body.char_indices().peekable();
    while let Some((raw_pos, c)) = chars.next() {
        if value_pos >= value_offset {
            return raw_pos;
        }
        if c != '\\' {
            value_pos += c.len_utf8();
            continue;
        }
        let Some((_, escape)) = chars.next() else {
            return raw_pos;
        };
        let hex_digits = match escape {
            'u' => 4,
            'U' => 8,
            'x' => 2,
            c if c.is_whitespace() => {
                // A line-ending backslash: the whitespace after it is not part of the value.
                while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
                continue;
            }
            _ => {
                value_pos += 1;
                continue;
            }
        };
        let digits: String = (0..hex_digits)
            .filter_map(|_| chars.next())
            .map(|(_, c)| c)
            .collect();
        value_pos += u32::from_str_radix(&digits, 16)
            .ok()
            .and_then(char::from_u32)
            .map_or(1, char::len_utf8);
    }
    body.len()
}

/// Every key the config does not know, with its span. Used to report them all at once, as
/// serde stops at the first.
fn unknown_keys(text: &str) -> Vec<(Range<usize>, String)> {
    use toml::de::{DeTable, DeValue};
    const TOP: &[&str] = &["daemon", "alias", "feed", "topic", "alert", "http"];
    const HTTP: &[&str] = &["listen"];
    const DAEMON: &[&str] = &[
        "database",
        "interval",
        "max_concurrent",
        "per_host",
        "timeout",
        "connect_timeout",
        "max_body",
        "alert_attempts",
        "alert_wait",
        "dead_after",
        "keep_items",
        "max_items_per_poll",
        "max_field_chars",
        "allow_private_targets",
        "fetch_article",
        "article_min_chars",
        "story_window",
        "dedup",
        "max_age",
    ];
    const ALERT: &[&str] = &[
        "kind", "name", "topics", "digest", "template", "path", "url", "format", "headers",
        "command", "timeout", "host", "port", "tls", "from", "to",
    ];
    const FEED: &[&str] = &["name", "url", "interval", "fetch_article"];
    const TOPIC: &[&str] = &[
        "id",
        "title",
        "query",
        "max_age",
        "published_after",
        "published_before",
    ];

    fn check(table: &DeTable<'_>, known: &[&str], found: &mut Vec<(Range<usize>, String)>) {
        for key in table.keys() {
            if !known.contains(&key.get_ref().as_ref()) {
                let expected: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
                found.push((
                    key.span(),
                    format!(
                        "unknown field `{}`, expected one of {}",
                        key.get_ref(),
                        expected.join(", ")
                    ),
                ));
            }
        }
    }

    let Ok(root) = DeTable::parse(text) else {
        return Vec::new();
    };
    let root = root.get_ref();
    let mut found = Vec::new();
    check(root, TOP, &mut found);
    for (key, value) in root {
        let known = match key.get_ref().as_ref() {
            "daemon" => DAEMON,
            "feed" => FEED,
            "topic" => TOPIC,
            "alert" => ALERT,
            "http" => HTTP,
            _ => continue,
        };
        match value.get_ref() {
            DeValue::Table(table) => check(table, known, &mut found),
            DeValue::Array(array) => {
                for element in array.iter() {
                    if let DeValue::Table(table) = element.get_ref() {
                        check(table, known, &mut found);
                    }
                }
            }
            _ => {}
        }
    }
    found.sort_by_key(|(span, _)| span.start);
    found
}

/// A hint for a TOML syntax error at `offset` on a line that writes a single-quoted
/// (literal) string with an apostrophe in it, such as `query = 'North Korea's launch'`: the
/// apostrophe ended the string early.
fn apostrophe_hint(text: &str, offset: usize) -> Option<&'static str> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = text.get(line_start..line_end)?;
    let (key, value) = line.split_once('=')?;
    let value = value.trim_start();
    let literal = value.starts_with('\'') && !value.starts_with("'''");
    // The opening quote, the apostrophe and the real closing quote.
    (literal && value.matches('\'').count() >= 3).then(|| {
        if key.trim() == "query" {
            "; an apostrophe (') ends a single-quoted string: write a query with one between triple quotes, query = '''…'''"
        } else {
            "; an apostrophe (') ends a single-quoted string: write a value with one between triple quotes, '''…'''"
        }
    })
}

fn is_identifier(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// 1-based line, 1-based column in characters, and the line's text, for a byte offset.
fn position(text: &str, offset: usize) -> (usize, usize, String) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = text[..line_start].matches('\n').count() + 1;
    let column = text[line_start..offset].chars().count() + 1;
    let source_line = text[line_start..line_end]
        .trim_end_matches('\r')
        .to_string();
    (line, column, source_line)
}

#[cfg(test)]
mod tests;
