//! watchword: a news-monitoring daemon. It polls RSS, Atom and JSON feeds on a schedule,
//! matches every new item against topics written in a small query language, deduplicates
//! what it has seen and keeps a durable match log in SQLite.
//!
//! # Layout
//!
//! Data flows one way: config → scheduler → fetch → parse → dedup → match → store. Modules in
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
//! - [`store`]: the SQLite database (the only module with SQL).
//! - [`pipeline`]: one poll of one feed through every stage; shared by the daemon and `once`.
//! - [`daemon`]: tasks, concurrency limits, signals, shutdown.
//! - [`tester`]: trying topics without the daemon: test items, labelled evaluation, backtest
//!   against the match log (pure; the CLI does the I/O).
//! - [`cli`]: the commands (the only module that prints to stdout).

#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod daemon;
pub mod fetch;
pub mod model;
pub mod parse;
pub mod pipeline;
pub mod query;
pub mod scheduler;
pub mod store;
pub mod tester;
pub mod text;
