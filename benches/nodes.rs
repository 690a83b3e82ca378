//! Several daemons on one PostgreSQL database, in simulation: how many polls a second the
//! database side of polling sustains with one node and with three, for 100,000 feeds on
//! 1,000 hosts, with a fetcher stub (every poll is a 304: no network, no parsing).
//!
//! Each node is a thread with its own store (its own connection pool), as a daemon has. It
//! polls what a daemon polls: the feeds whose host falls to it among the live nodes
//! (`store::host_owner`), each as the pipeline does — take the feed's lease
//! (`Store::claim_feed`), read its state, then commit the poll's new state, which gives the
//! lease back. The feeds are all due at the start (a cold start), so the nodes run flat out;
//! a node counts its polls, and the claims another node held (lease contention).
//!
//! ```sh
//! eval "$(.ci/postgres.sh start)"
//! cargo bench --bench nodes -- --feeds 100000 --seconds 20
//! .ci/postgres.sh stop "$PG_CLUSTER"
//! ```
//!
//! `WATCHWORD_TEST_POSTGRES` names the server; the bench works in a schema of its own and
//! drops it. Options: `--feeds N` (100000), `--hosts N` (1000), `--seconds S` per run (20),
//! `--nodes LIST` (`1,3`), `--shared` (no hosts shared out: every node tries every feed in
//! the same order, which shows what the leases alone do under the most contention).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use chrono::Utc;
use watchword::model::{FeedId, FeedState, StoryPolicy};
use watchword::store::db::postgres::Pool;
use watchword::store::{Claim, PollCommit, Store, host_owner};

/// The statements one poll of an unchanged feed sends: the lease (one `UPDATE`), the state
/// (one `SELECT`), and the commit (`BEGIN`, the story lock, the state's `UPDATE`, the lease's
/// `UPDATE`, `COMMIT`).
const ROUND_TRIPS_PER_POLL: u64 = 7;

struct Options {
    feeds: usize,
    hosts: usize,
    seconds: u64,
    nodes: Vec<usize>,
    /// Every node goes through every feed (from its own place in the list) instead of its
    /// hosts': what the leases alone do, and how often a claim finds another node's lease.
    shared: bool,
}

fn options() -> Options {
    let mut options = Options {
        feeds: 100_000,
        hosts: 1_000,
        seconds: 20,
        nodes: vec![1, 3],
        shared: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--feeds" => options.feeds = value().parse().expect("--feeds N"),
            "--hosts" => options.hosts = value().parse().expect("--hosts N"),
            "--seconds" => options.seconds = value().parse().expect("--seconds S"),
            "--nodes" => {
                options.nodes = value()
                    .split(',')
                    .map(|n| n.parse().expect("--nodes 1,3"))
                    .collect()
            }
            "--shared" => options.shared = true,
            // What cargo bench passes on.
            "--bench" => {}
            other => panic!("unknown option {other}"),
        }
    }
    options
}

fn main() {
    let Ok(server) = std::env::var("WATCHWORD_TEST_POSTGRES") else {
        eprintln!("nodes: WATCHWORD_TEST_POSTGRES is not set (.ci/postgres.sh starts a server)");
        return;
    };
    let options = options();
    let schema = format!("bench_nodes_{}", std::process::id());
    let admin = Pool::connect(&server).expect("the server connects");
    admin
        .with(|sql| sql.batch(&format!("CREATE SCHEMA {schema}")))
        .unwrap();
    let separator = if server.contains('?') { '&' } else { '?' };
    let url = format!("{server}{separator}options=-csearch_path%3D{schema}");

    let mut store = Store::connect(&url).expect("the schema migrates");
    let names: Vec<(String, String)> = (0..options.feeds)
        .map(|feed| {
            (
                format!("feed {feed}"),
                format!("https://host{}.example/feed/{feed}", feed % options.hosts),
            )
        })
        .collect();
    let started = Instant::now();
    let pairs: Vec<(&str, String)> = names.iter().map(|(n, u)| (n.as_str(), u.clone())).collect();
    let ids = store.register_feeds(&pairs).unwrap();
    eprintln!(
        "nodes: {} feeds on {} hosts registered in {:.1}s",
        options.feeds,
        options.hosts,
        started.elapsed().as_secs_f64()
    );
    drop(store);
    let feeds: Arc<Vec<(FeedId, String)>> = Arc::new(
        ids.into_iter()
            .zip(0..options.feeds)
            .map(|(id, feed)| (id, format!("host{}.example", feed % options.hosts)))
            .collect(),
    );

    println!("nodes  polls  polls/s  busy claims  round trips/poll  db round trips/s");
    for &n_nodes in &options.nodes {
        // Every feed due again, no lease held: a cold start.
        admin
            .with(|sql| {
                sql.batch(&format!(
                    "UPDATE {schema}.feeds SET next_due = NULL, lease_node = NULL, lease_until = NULL"
                ))
            })
            .unwrap();
        let node_names: Vec<String> = (0..n_nodes).map(|n| format!("node-{n}")).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let polls = Arc::new(AtomicU64::new(0));
        let busy = Arc::new(AtomicU64::new(0));
        let barrier = Arc::new(Barrier::new(n_nodes + 1));
        let threads: Vec<_> = node_names
            .iter()
            .map(|name| {
                let (url, feeds, names, name) =
                    (url.clone(), feeds.clone(), node_names.clone(), name.clone());
                let (stop, polls, busy, barrier) =
                    (stop.clone(), polls.clone(), busy.clone(), barrier.clone());
                let shared = options.shared;
                std::thread::spawn(move || {
                    let mut store = Store::connect(&url).unwrap();
                    store.set_node(&name, Duration::from_secs(60), true);
                    let mine: Vec<FeedId> = if shared {
                        // All in the same order, as daemons whose schedules agree: the most
                        // contention there can be.
                        feeds.iter().map(|(id, _)| *id).collect()
                    } else {
                        feeds
                            .iter()
                            .filter(|(_, host)| host_owner(host, &names) == Some(name.as_str()))
                            .map(|(id, _)| *id)
                            .collect()
                    };
                    barrier.wait();
                    let policy = StoryPolicy::default();
                    for id in mine {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let now = Utc::now();
                        match store.claim_feed(id, now).unwrap() {
                            Claim::Claimed => {}
                            Claim::Busy { .. } => {
                                busy.fetch_add(1, Ordering::Relaxed);
                                continue;
                            }
                        }
                        let mut state: FeedState = store.feed_state(id).unwrap();
                        state.last_polled = Some(now);
                        state.next_due = Some(now + chrono::Duration::minutes(15));
                        state.last_status = Some("not modified".into());
                        store
                            .commit_poll(&PollCommit {
                                feed_id: id,
                                items: &[],
                                state: &state,
                                now,
                                routes: &[],
                                notice: None,
                                policy: &policy,
                                baseline: false,
                                body: false,
                            })
                            .unwrap();
                        polls.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        barrier.wait();
        let started = Instant::now();
        std::thread::sleep(Duration::from_secs(options.seconds));
        stop.store(true, Ordering::Relaxed);
        for thread in threads {
            thread.join().unwrap();
        }
        let elapsed = started.elapsed().as_secs_f64();
        let polls = polls.load(Ordering::Relaxed);
        let busy = busy.load(Ordering::Relaxed);
        let rate = polls as f64 / elapsed;
        println!(
            "{n_nodes:>5}  {polls:>5}  {rate:>7.0}  {busy:>11}  {:>16}  {:>16.0}",
            ROUND_TRIPS_PER_POLL,
            rate * ROUND_TRIPS_PER_POLL as f64
        );
    }
    admin
        .with(|sql| sql.batch(&format!("DROP SCHEMA {schema} CASCADE")))
        .unwrap();
}
