//! watchword: a news-monitoring daemon. It polls RSS, Atom and JSON feeds on a schedule,
//! matches every new item against topics written in a small query language, deduplicates
//! what it has seen and keeps a durable match log in SQLite.
//!
//! # Layout
//!
//! Data flows one way: config → scheduler → fetch → parse → dedup → match → store → alert. Modules in
//! reading order:
//!
//! - [`config`]: the TOML file → a validated [`config::Config`] with compiled topics;
//!   diagnostics with `file:line:col`.
//! - [`model`]: the values that flow through the pipeline (items, feed state, matches).
//! - [`text`]: HTML → plain text, Unicode folding, tokenizing (the only user of `scraper`).
//! - [`query`]: the topic language: parser, compiled matcher, explanations.
//! - [`scheduler`]: when each feed is due next (pure) and the due-time queue.
//! - [`fetch`]: conditional GET with limits (the only user of `reqwest`).
//! - [`parse`]: feed bytes → items with identity keys and canonical URLs (the only user of
//!   `feed-rs`).
//! - [`story`]: which items are copies of one story: their keys and fingerprints (pure).
//! - [`store`]: the SQLite database (the only module with SQL).
//! - [`metrics`]: counters for the status endpoint (Prometheus text).
//! - [`pipeline`]: one poll of one feed through every stage; shared by the daemon and `once`.
//! - [`alert`]: the outbox worker and the alert sinks (log, jsonl, webhook, exec, email).
//! - [`daemon`]: tasks, concurrency limits, signals, shutdown.
//! - [`http`]: the status endpoint: health, metrics, the match log as JSON and Atom (the
//!   only user of `axum`).
//! - [`opml`]: reading and writing OPML feed lists (the only user of `quick-xml`).
//! - [`tester`]: trying topics without the daemon: test items, labelled evaluation, backtest
//!   against the match log (pure; the CLI does the I/O).
//! - [`cli`]: the commands (the only module that prints to stdout).

#![forbid(unsafe_code)]

pub mod alert;
pub mod cli;
pub mod daemon;
pub mod fetch;
pub mod http;
pub mod metrics;
pub mod pipeline;
pub mod places;
pub mod store;

// The pure core, under the names the shell has always used.
pub use watchword_core::{
    config, feed_state, matching, model, opml, parse, query, scheduler, story, tester, text,
};
