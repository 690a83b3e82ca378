//! End-to-end tests: the real `watchword` binary against feeds served by a local HTTP server
//! on 127.0.0.1 (ephemeral port) and a database in a temporary folder. No test touches the
//! internet.

mod support;

mod alerts;
mod articles;
mod check;
mod cli;
mod crash;
mod e2e;
mod failover;
mod faults;
mod fetch;
mod first_week;
mod forgiving;
mod hostile;
mod limits;
mod output;
mod permissions;
mod postgres;
mod retention;
mod service;
mod stories;
mod tester;
mod verdicts;
