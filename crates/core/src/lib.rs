//! watchword's pure core: everything that turns bytes and settings into values without
//! doing I/O or reading the clock (`now` is always a parameter). The daemon, the store, the
//! fetcher and the command line live in the `watchword` package around it.
//!
//! Modules in reading order:
//!
//! - [`config`]: the TOML file → a validated [`config::Config`] with compiled topics;
//!   diagnostics with `file:line:col`; the one edit of the file (`opml import`).
//! - [`model`]: the values that flow through the pipeline (items, feed state, matches).
//! - [`text`]: HTML → plain text, Unicode folding, tokenizing (the only user of `scraper`).
//! - [`query`]: the topic language: parser, compiled matcher, explanations.
//! - [`matching`]: every topic against one item, with its time scope.
//! - [`scheduler`]: when each feed is due next, and the due-time queue.
//! - [`feed_state`]: what one poll's outcome does to a feed's state (backoff, status,
//!   moves, gone, dead and recovered notices).
//! - [`parse`]: feed bytes → items with identity keys and canonical URLs (the only user of
//!   `feed-rs`).
//! - [`story`]: which items are copies of one story: their keys and fingerprints.
//! - [`message`]: alert texts, escaped for each kind of sink.
//! - [`opml`]: reading and writing OPML feed lists (the only user of `quick-xml`).
//! - [`tester`]: trying topics without the daemon: test items, labelled evaluation,
//!   backtest diffs (the command line does the I/O).

#![forbid(unsafe_code)]

pub mod config;
pub mod feed_state;
pub mod matching;
pub mod message;
pub mod model;
pub mod opml;
pub mod parse;
pub mod query;
pub mod scheduler;
pub mod story;
pub mod tester;
pub mod text;
