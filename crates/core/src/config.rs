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
use url::Url;

use crate::model::{DEFAULT_STORY_WINDOW, Dedup, StoryPolicy};
use crate::query::{Query, QuerySet};

mod alerts;
mod daemon;
mod diagnostic;
mod edit;
mod feeds;
mod places;
mod raw;
mod scope;
mod topics;
mod units;

use alerts::*;
pub use alerts::{check_template, check_webhook_url};
use daemon::*;
use diagnostic::*;
pub use diagnostic::{Diagnostic, Severity, render_all};
pub use edit::{FeedsAdded, add_feeds};
use feeds::compile_feeds;
pub use feeds::{parse_listen, parse_source};
pub use places::{Places, SYSTEM_CONFIG};
use raw::*;
pub use scope::{OutOfScope, TimeScope, parse_time};
use topics::{compile_aliases, compile_topics};
use units::compile_duration;
pub use units::{MAX_DURATION, MAX_SIZE, format_duration, parse_duration, parse_size};

/// The most terms a topic's query may have: every term each time it is written, and an
/// alias's entries each time the alias is used. Far above any real topic (the shipped ones
/// have a few dozen); it keeps one topic from making `check` and every poll slow.
pub use crate::query::MAX_TERMS as MAX_TERMS_PER_TOPIC;

/// The shortest poll interval a feed may have: polling faster is rude to publishers.
pub const MIN_INTERVAL: Duration = Duration::from_secs(60);
/// The longest poll interval: 30 days.
pub const MAX_INTERVAL: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long items are kept by default (`[daemon] keep_items`).
pub const DEFAULT_KEEP_ITEMS: Duration = Duration::from_secs(90 * 24 * 3600);
/// The `User-Agent` watchword sends unless the config says otherwise: its name and version,
/// as polite crawlers do (set `user_agent` to add a contact).
pub const DEFAULT_USER_AGENT: &str = concat!(
    "watchword/",
    env!("CARGO_PKG_VERSION"),
    " (feed monitor; self-hosted)"
);
/// How long a feed may list nothing new before it shows as stale, by default
/// (`[daemon] stale_after`).
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(3 * 24 * 3600);
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
    /// SQLite database, resolved against the config file's folder. When the config does
    /// not name one (`database_given` false) the shell puts it where [`Places`] says.
    /// Unused when `postgres` is set.
    pub database: PathBuf,
    /// Whether the config names the database.
    pub database_given: bool,
    /// A PostgreSQL database (`database = "postgres://…"`): the store is there, shared by
    /// every daemon given the same URL, instead of in the SQLite file `database`.
    pub postgres: Option<String>,
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
    /// What a feed's first successful poll does with its matches; feeds may override it.
    pub first_poll: FirstPoll,
    /// How long a feed may answer without listing anything new before it shows as stale
    /// (`None`: never); feeds may override it.
    pub stale_after: Option<Duration>,
    /// The `User-Agent` of every request; feeds may override it.
    pub user_agent: String,
    /// The least time between two requests to one host (zero: no spacing).
    pub host_interval: Duration,
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

/// What the matches of a feed's first successful poll are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FirstPoll {
    /// A silent baseline (the default): logged as backfill, not alerted. A news-search feed
    /// lists weeks of items on its first poll; only what comes after is news.
    #[default]
    Baseline,
    /// Alerted like any later poll's.
    Alert,
}

impl FirstPoll {
    fn parse(text: &str) -> Option<FirstPoll> {
        match text {
            "baseline" => Some(FirstPoll::Baseline),
            "alert" => Some(FirstPoll::Alert),
            _ => None,
        }
    }
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
        /// The address; a literal one was checked to be http(s), one from the environment or
        /// a credential is checked when the daemon reads it.
        url: Secret,
        format: WebhookFormat,
        /// Extra request headers (tokens), validated as HTTP header names (and literal
        /// values).
        headers: Vec<(String, Secret)>,
        /// The key that signs each body (HMAC-SHA256, `X-Watchword-Signature`).
        secret: Option<Secret>,
        timeout: Duration,
    },
    /// A program run without a shell; the match on stdin and in the environment.
    Exec {
        command: Vec<String>,
        timeout: Duration,
    },
    /// An email through SMTP; credentials from `user` and `password`, else from the
    /// environment (`WATCHWORD_SMTP_USER`, `WATCHWORD_SMTP_PASSWORD`).
    Email {
        host: String,
        port: u16,
        tls: EmailTls,
        from: String,
        to: Vec<String>,
        user: Option<Secret>,
        password: Option<Secret>,
        timeout: Duration,
    },
}

/// A value that may be secret (a webhook URL with its token, a header, a signing key, a
/// password): written in the config, or named where it lives so the file holds no secret.
/// The config only names it; the daemon reads it when it builds the sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    Literal(String),
    /// `{ env = "NAME" }`: the daemon's environment variable.
    Env(String),
    /// `{ credential = "name" }`: the file `$CREDENTIALS_DIRECTORY/name` (systemd's
    /// `LoadCredential=`).
    Credential(String),
}

impl Secret {
    /// Whether the value is written in the config file itself.
    pub fn is_literal(&self) -> bool {
        matches!(self, Secret::Literal(_))
    }
}

impl fmt::Display for Secret {
    /// Where the value comes from, never the value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Literal(_) => f.write_str("the config file"),
            Secret::Env(name) => write!(f, "environment variable {name}"),
            Secret::Credential(name) => write!(f, "systemd credential {name}"),
        }
    }
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
    "words",
    "excerpt",
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
    /// `[daemon] first_poll` unless the feed sets its own.
    pub first_poll: FirstPoll,
    /// `[daemon] stale_after` unless the feed sets its own.
    pub stale_after: Option<Duration>,
    /// The feed's own `User-Agent`, when it sets one (some sites refuse some).
    pub user_agent: Option<String>,
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

/// What a file feed's path names on disk, as the shell found it (`stat`, following
/// links); the config only judges it. A feed must read a regular file: a FIFO would block
/// its reader until some writer came, a device could stream without end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    File,
    Directory,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    /// Anything else the file system may have.
    Other,
}

/// What `check` asks of a file feed's path: its kind, `None` when nothing is there or it
/// cannot be looked at.
pub type KindOf<'a> = &'a dyn Fn(&Path) -> Option<PathKind>;

impl PathKind {
    /// The kind of a file type from the file system.
    pub fn of(file_type: std::fs::FileType) -> PathKind {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_file() {
            PathKind::File
        } else if file_type.is_dir() {
            PathKind::Directory
        } else if file_type.is_fifo() {
            PathKind::Fifo
        } else if file_type.is_socket() {
            PathKind::Socket
        } else if file_type.is_char_device() {
            PathKind::CharDevice
        } else if file_type.is_block_device() {
            PathKind::BlockDevice
        } else {
            PathKind::Other
        }
    }

    /// What it is, for messages (`a FIFO (named pipe)`).
    pub fn describe(self) -> &'static str {
        match self {
            PathKind::File => "a regular file",
            PathKind::Directory => "a directory",
            PathKind::Fifo => "a FIFO (named pipe)",
            PathKind::Socket => "a socket",
            PathKind::CharDevice => "a character device",
            PathKind::BlockDevice => "a block device",
            PathKind::Other => "a special file",
        }
    }
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

/// Finds the config file: `--config`, then `$WATCHWORD_CONFIG` (unless empty), then
/// `./config/watchword.toml`.
pub fn locate(flag: Option<&Path>, env: Option<&Path>) -> PathBuf {
    flag.or(env.filter(|path| !path.as_os_str().is_empty()))
        .map_or_else(|| PathBuf::from(DEFAULT_PATH), Path::to_path_buf)
}

/// Reads and compiles the config at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = read(path)?;
    match compile(path, &text) {
        (Some(config), _) => Ok(config),
        (None, diagnostics) => Err(ConfigError::Invalid(diagnostics)),
    }
}

/// [`load`], and then what `check` adds: `kind_of` says what each file feed's path names
/// (`None`: nothing there, or it cannot be looked at), and a feed whose path is there but
/// not a regular file is an error at its `url`.
pub fn load_checking_files(path: &Path, kind_of: KindOf<'_>) -> Result<Config, ConfigError> {
    let text = read(path)?;
    match compile_checking_files(path, &text, kind_of) {
        (Some(config), _) => Ok(config),
        (None, diagnostics) => Err(ConfigError::Invalid(diagnostics)),
    }
}

/// The text of the config file at `path`; bytes that are not UTF-8 are an error at their
/// line and column.
pub fn read(path: &Path) -> Result<String, ConfigError> {
    let bytes = std::fs::read(path).map_err(|cause| ConfigError::Read {
        path: path.to_path_buf(),
        cause,
    })?;
    decode(path, bytes)
}

/// Config bytes read from `path` as text; the first byte that is not UTF-8 is an error at
/// its line and column (counted in the valid text before it).
pub fn decode(path: &Path, bytes: Vec<u8>) -> Result<String, ConfigError> {
    String::from_utf8(bytes)
        .map_err(|error| ConfigError::Invalid(vec![not_utf8(path, error.as_bytes())]))
}

/// Parses and validates config text read from `path`. Returns the config when there is no
/// error, and every diagnostic found.
pub fn compile(path: &Path, text: &str) -> (Option<Config>, Vec<Diagnostic>) {
    compile_inner(path, text, None)
}

/// [`compile`], with what [`load_checking_files`] adds: a file feed whose path `kind_of`
/// finds and is not a regular file is an error.
pub fn compile_checking_files(
    path: &Path,
    text: &str,
    kind_of: KindOf<'_>,
) -> (Option<Config>, Vec<Diagnostic>) {
    compile_inner(path, text, Some(kind_of))
}

fn compile_inner(
    path: &Path,
    text: &str,
    kind_of: Option<KindOf<'_>>,
) -> (Option<Config>, Vec<Diagnostic>) {
    let mut sink = Diagnostics {
        path,
        text,
        found: Vec::new(),
        warnings: Vec::new(),
    };
    let document = match toml::de::DeTable::parse(text) {
        Ok(document) => document,
        Err(error) => {
            toml_error(&mut sink, &error);
            return (None, sink.found);
        }
    };
    // Unknown keys are errors beside every other problem, not the end of reading: a
    // misspelled key must not hide a bad duration three lines below.
    let (raw, unknown) = parse_raw(document.clone());
    for steps in &unknown {
        let (span, message) = unknown_key(document.get_ref(), steps);
        sink.error(span, message);
    }
    let raw = match raw {
        Ok(raw) => raw,
        Err(error) => {
            toml_error(&mut sink, &error);
            return (None, in_file_order(sink.found));
        }
    };
    let base = path.parent().unwrap_or(Path::new(""));
    let daemon = compile_daemon(&raw.daemon, base, &mut sink);
    let aliases = compile_aliases(&raw.alias, document.get_ref(), &mut sink);
    let feeds = compile_feeds(&raw.feed, &daemon, base, kind_of, &mut sink);
    let topics = compile_topics(&raw.topic, &aliases, daemon.max_age, &mut sink);
    let alerts = compile_alerts(&raw.alert, &topics, base, &mut sink);
    let http = raw.http.as_ref().and_then(|http| {
        parse_listen(http.listen.get_ref())
            .map(|listen| HttpConfig { listen })
            .map_err(|message| sink.error(http.listen.span(), message))
            .ok()
    });
    if !sink.found.is_empty() {
        return (None, in_file_order(sink.found));
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

// ---------------------------------------------------------------------------------------------
// The compile layer: meaning, defaults, positions. The tables are compiled in `daemon.rs`,
// `alerts.rs`, `feeds.rs` and `topics.rs`; what is left here is shared by all of them.

/// Records where `name` (a feed name, a topic id: `what`) is defined, or reports it at
/// `span` as defined twice, naming the line of the first.
fn once_only<'a>(
    seen: &mut HashMap<&'a str, usize>,
    what: &str,
    name: &'a str,
    span: Range<usize>,
    sink: &mut Diagnostics<'_>,
) {
    match seen.get(name) {
        Some(first) => {
            let first_line = sink.line_of(*first);
            sink.error(
                span,
                format!("duplicate {what} {name:?} (first defined on line {first_line})"),
            );
        }
        None => {
            seen.insert(name, span.start);
        }
    }
}

/// A TOML syntax error, or a value of the wrong type, at the toml crate's place, with a
/// hint when an apostrophe ended a single-quoted string.
fn toml_error(sink: &mut Diagnostics<'_>, error: &toml::de::Error) {
    let span = error.span().unwrap_or(0..0);
    let mut message = error.message().trim_end_matches('.').to_string();
    if let Some(hint) = apostrophe_hint(sink.text, span.start) {
        message.push_str(hint);
    }
    sink.error(span, message);
}

/// Errors in the order of the file, so `check` reads top to bottom whichever stage found
/// them (the sort is stable: errors at one place keep their order).
fn in_file_order(mut found: Vec<Diagnostic>) -> Vec<Diagnostic> {
    found.sort_by_key(|diagnostic| (diagnostic.line, diagnostic.column));
    found
}

#[cfg(test)]
mod tests;
