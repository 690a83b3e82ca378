//! The command line as clap reads it: the commands, their flags and the values they take.

use super::*;

/// watchword: polls news feeds, matches items against topics, keeps a match log.
#[derive(Debug, Parser)]
#[command(name = "watchword", version = VERSION, about, max_term_width = 100)]
pub struct Cli {
    /// Config file [default: $WATCHWORD_CONFIG, else ./config/watchword.toml, else
    /// $XDG_CONFIG_HOME/watchword/watchword.toml (~/.config/…), else
    /// /etc/watchword/watchword.toml]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Log format on stderr: `text`, or `json` (one object per line) for log shippers
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log at info on stderr (the default, except `once` on a terminal, which logs only
    /// warnings and errors under its summary); RUST_LOG, when set, wins
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    pub verbose: bool,
    /// Log nothing but errors on stderr; RUST_LOG, when set, wins
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The version and the commit it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("WATCHWORD_COMMIT"),
    ")"
);

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented starter config (one feed, one topic, a log sink)
    Init {
        /// Where [default: $XDG_CONFIG_HOME/watchword/watchword.toml, ~/.config/…]
        path: Option<PathBuf>,
        /// Replace a file that is there
        #[arg(long)]
        force: bool,
    },
    /// Print shell completions (bash, zsh, fish, elvish, powershell) to stdout
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout: `watchword man > watchword.1`
    Man,
    /// Run the daemon in the foreground until SIGINT or SIGTERM
    Run,
    /// Poll every feed once, print one line per feed, and exit
    Once,
    /// Validate the config; exit 1 listing every problem as file:line:col
    Check {
        /// Also fetch and parse every feed once
        #[arg(long)]
        online: bool,
    },
    /// Read the match log (oldest first)
    Matches {
        /// Only this topic
        #[arg(long, value_name = "ID")]
        topic: Option<String>,
        /// Only matches logged since then: a duration back from now (24h, 7d), an RFC 3339 time or a date (2023-11-21)
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        /// At most N matches, the most recent ones [default: no limit]
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// Output format (with --follow, `json` writes one object per match)
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Keep running and print new matches as they are logged, like `tail -f`
        #[arg(long)]
        follow: bool,
        /// List every source of each match (the feeds that carried its story) under its row
        #[arg(long)]
        sources: bool,
    },
    /// Show every feed's health: last success, status, failures, items, matches, next poll
    Feeds {
        /// Output format
        #[arg(long, value_enum, default_value_t = FeedsFormat::Table)]
        format: FeedsFormat,
    },
    /// Import feeds from OPML into the config file, or export the configured feeds as OPML
    Opml {
        #[command(subcommand)]
        action: OpmlAction,
    },
    /// List alert deliveries (pending, delivered, failed), or requeue failed ones
    Alerts {
        #[command(subcommand)]
        action: Option<AlertsAction>,
        /// Only deliveries in this state
        #[arg(long, value_enum)]
        state: Option<StateArg>,
        /// At most N deliveries, the most recent ones [default: no limit]
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// Evaluate the topics on items without touching the database
    ///
    /// Give the items with --text, --file or --feed; or compare the topics of the config file
    /// with the match log over stored items with --backtest.
    #[command(group(
        clap::ArgGroup::new("input")
            .required(true)
            .args(["text", "file", "feed", "backtest"])
    ))]
    Test {
        /// One item from plain text: the first line is its title, the rest its summary
        #[arg(long, value_name = "TEXT")]
        text: Option<String>,
        /// Items from a file (- for stdin): a JSON object, a JSON array or JSON Lines, with
        /// fields id, title, summary, content, link, published, feed
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
        /// Fetch and parse a feed once and test its items: a configured feed's name, a URL or
        /// a path
        #[arg(long, value_name = "URL_OR_PATH")]
        feed: Option<String>,
        /// Re-run the topics over the items in the database and show the matches they would
        /// add to and drop from the match log
        #[arg(long)]
        backtest: bool,
        /// With --backtest: items first stored since then (30d, an RFC 3339 time or a date) [default: 30d]
        #[arg(long, value_name = "WHEN", requires = "backtest")]
        since: Option<String>,
        /// With --backtest: log the added matches in the match log, marked as backfill (with
        /// their stories' sources, as when polling); not sent to alert sinks without --alert
        #[arg(long, requires = "backtest")]
        apply: bool,
        /// With --apply: also queue the backfilled matches for the alert sinks (the outbox)
        #[arg(long, requires = "apply")]
        alert: bool,
        /// Only this topic
        #[arg(long, value_name = "ID")]
        topic: Option<String>,
        /// Output format (jsonl: one line per item, or per change with --backtest)
        #[arg(long, value_enum, default_value_t = TestFormat::Text)]
        format: TestFormat,
        /// Count every item as first seen at this time (RFC 3339 or a date), for topics'
        /// max_age and date bounds [default: its "seen" field, else its published date]
        #[arg(long, value_name = "TIME", conflicts_with = "backtest")]
        as_of: Option<String>,
    },
    /// Score the topics on labelled items: precision, recall, F1, every false positive and
    /// false negative
    Eval {
        /// JSON Lines items (as for test --file) with "topics": [expected ids] and optionally
        /// "ignore": true [default: the verdicts in the database, see `judge`]
        #[arg(value_name = "LABELS.jsonl")]
        labels: Option<PathBuf>,
        /// Only this topic
        #[arg(long, value_name = "ID")]
        topic: Option<String>,
        /// Count every item as first seen at this time (RFC 3339 or a date), for topics'
        /// max_age and date bounds [default: its "seen" field, else its published date]
        #[arg(long, value_name = "TIME")]
        as_of: Option<String>,
    },
    /// Record a verdict on the match log (a match right or wrong, an item a topic missed),
    /// or export or import the verdicts as labels
    #[command(group(
        clap::ArgGroup::new("what")
            .required(true)
            .args(["match_id", "missed", "export", "import"])
    ))]
    Judge {
        /// The match's id (first column of `watchword matches`)
        #[arg(value_name = "MATCH_ID", requires = "verdict")]
        match_id: Option<MatchId>,
        /// Whether the match belongs to its topic
        #[arg(value_enum, value_name = "right|wrong", requires = "match_id")]
        verdict: Option<VerdictArg>,
        /// A stored item (its id, or its link) that the topic should have matched
        #[arg(long, value_name = "ITEM_ID|URL", requires = "topic")]
        missed: Option<String>,
        /// With --missed: the topic that missed it
        #[arg(long, value_name = "ID", requires = "missed")]
        topic: Option<String>,
        /// A note kept with the verdict (and exported with it)
        #[arg(long, value_name = "TEXT", conflicts_with_all = ["export", "import"])]
        note: Option<String>,
        /// Write every judged item as labels JSON Lines (the format `eval` reads) to stdout
        #[arg(long)]
        export: bool,
        /// Read labels (an export) back as verdicts for the items in the database
        #[arg(long, value_name = "FILE")]
        import: Option<PathBuf>,
    },
}

/// Verdicts `judge` takes on a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerdictArg {
    Right,
    Wrong,
}

/// Log formats for `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// What `opml` does.
#[derive(Debug, Subcommand)]
pub enum OpmlAction {
    /// Add the feeds of an OPML file to the config file (comments and layout kept; URLs
    /// already configured are skipped)
    Import {
        /// The OPML file (from a feed reader's export)
        file: PathBuf,
    },
    /// Write the configured feeds as OPML 2.0 to stdout
    Export,
}

/// What `alerts` can do besides listing.
#[derive(Debug, Subcommand)]
pub enum AlertsAction {
    /// Send a clearly marked test message through each named sink (every sink by default),
    /// print each result, and write no outbox row
    Test {
        /// Sink names (the `name` of an `[[alert]]`, or its kind when it has none)
        sinks: Vec<String>,
    },
    /// Requeue a failed delivery, or every failed one, for a fresh round of attempts
    #[command(group(clap::ArgGroup::new("which").required(true).args(["id", "all_failed"])))]
    Retry {
        /// The delivery's ID (first column of `watchword alerts`)
        id: Option<DeliveryId>,
        /// Requeue every failed delivery
        #[arg(long)]
        all_failed: bool,
    },
}

/// Output formats of `feeds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FeedsFormat {
    Table,
    Json,
}

/// Delivery states for `alerts --state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StateArg {
    Pending,
    Delivered,
    Failed,
}

impl From<StateArg> for DeliveryState {
    fn from(state: StateArg) -> DeliveryState {
        match state {
            StateArg::Pending => DeliveryState::Pending,
            StateArg::Delivered => DeliveryState::Delivered,
            StateArg::Failed => DeliveryState::Failed,
        }
    }
}

/// Output formats of `test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TestFormat {
    Text,
    Jsonl,
}

/// Output formats of `matches`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Jsonl,
    Csv,
}
