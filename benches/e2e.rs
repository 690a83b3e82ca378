//! End-to-end poll benchmark: `watchword once` against N local feeds over HTTP.
//!
//! ```sh
//! cargo bench --bench e2e -- --feeds 1000 --runs 3
//! ```
//!
//! Generates N feeds in memory (see `feeds/mod.rs`: RSS 2.0, 50 items of about 1 KB of HTML
//! each, plus one of the project's fixture feeds — Atom, JSON Feed, RSS without guids, with
//! repeated guids, windows-1251 — every 40th feed), gzips them once, and serves them from an
//! in-process HTTP/1.1 server on 127.0.0.1 (axum on two tokio threads) with `ETag` and
//! `Last-Modified`, answering `If-None-Match`/`If-Modified-Since` with 304. Then, per run: a
//! fresh database, `watchword once` cold (every feed new), and `watchword once` again
//! (unchanged: every feed answers 304). The binary is the one cargo built for this bench
//! (`target/release/watchword`, the bench profile inherits release).
//!
//! Each `once` runs under a small copy of this program (`--measure`) that waits for it and
//! reads `getrusage(RUSAGE_CHILDREN)`, so wall time, CPU time and peak RSS are those of that
//! one child. The server's CPU is this process's own CPU during the run. Prints each run and
//! the medians.
//!
//! Options: `--feeds N` (1000), `--items N` per feed (50), `--runs N` (3), `--concurrency N`
//! (32: `[daemon] max_concurrent` and `per_host`; every feed is on one host, so both must
//! be high enough not to throttle the benchmark), `--idle SECS` (10: after the first run,
//! start `watchword run` on its database, every feed then due in an hour, and report the CPU
//! time and wake-ups of the idle daemon over that long; 0 skips it), `--keep` (keep
//! the temporary folders and print where they are), `--binary PATH` (measure another build
//! of `watchword`), `--hostile-fraction F` (0: that share of the feeds, evenly spread, is
//! served by a misbehaving server instead — see [`Hostile`]), `--timeout SECS` (60, or 10
//! with hostile feeds: `[daemon] timeout`, which ends the slow ones).
//!
//! ```sh
//! cargo bench --bench e2e -- --feeds 1000 --hostile-fraction 0.1 --concurrency 16 --idle 0
//! ```
//!
//! `--corpus DIR` serves the feed files of a folder as they are instead (the first `--feeds`
//! of them in path order; a `.gz` twin beside a file is its gzipped body), with the
//! validators a static file server gives; `--query Q` polls them with one topic `Q` instead
//! of the default topics. The reference workload of `../shared/bench/`, beside its peers:
//!
//! ```sh
//! python3 ../shared/bench/gen_corpus.py --synthetic 1000
//! cargo bench --bench e2e -- --corpus /tmp/bench/corpus/www --feeds 1000 --query satellite
//! ```

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use nix::sys::resource::{UsageWho, getrusage};

mod feeds;

/// One feed as served: gzipped once, with its validators.
struct ServedFeed {
    gzipped: Vec<u8>,
    content_type: &'static str,
    etag: String,
    last_modified: String,
}

/// What the server has and counts.
struct Served {
    feeds: Vec<ServedFeed>,
    requests: AtomicU64,
    not_modified: AtomicU64,
}

/// One measured `once`.
#[derive(Debug, Clone, Copy, Default)]
struct Measurement {
    wall: f64,
    cpu: f64,
    peak_rss_mb: f64,
    server_cpu: f64,
    items: i64,
    matches: i64,
    requests: u64,
    not_modified: u64,
    /// Seconds by stage, summed over polls, as `once` logs them (see [`STAGES`]).
    stages: [f64; STAGES.len()],
}

/// The stages `watchword once` logs its time by (`seconds by stage`, at debug level).
const STAGES: [&str; 7] = [
    "fetch",
    "parse",
    "dedup",
    "match",
    "story_keys",
    "store_wait",
    "store",
];

struct Options {
    n_feeds: usize,
    n_items: usize,
    runs: usize,
    concurrency: usize,
    keep: bool,
    /// How long to watch the idle daemon after the first run (0: not at all).
    idle_secs: u64,
    /// Another `watchword` binary to measure (to compare builds).
    binary: Option<std::path::PathBuf>,
    /// The share of feeds served by the hostile server.
    hostile_fraction: f64,
    /// `[daemon] timeout` in seconds.
    timeout_secs: Option<u64>,
    /// A folder of feed files to serve instead of the generated feeds.
    corpus: Option<std::path::PathBuf>,
    /// One topic with this query instead of the default topics.
    query: Option<String>,
}

/// What a hostile feed does. One of these serves each hostile feed, in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hostile {
    /// A byte a second, for as long as the client listens.
    SlowDrip,
    /// Accepts the request and never answers.
    Stall,
    /// An RSS body that never ends, as fast as the client reads.
    Endless,
    /// 1 GiB of XML gzipped to about 1 MB.
    GzipBomb,
    /// 100,000 small items (about 9 MB).
    HugeFeed,
    /// One item with a 5 MB title.
    HugeTitle,
    /// Broken XML.
    InvalidXml,
    /// Nested entities that would expand to gigabytes.
    EntityBomb,
    /// A redirect to itself.
    RedirectLoop,
    /// A redirect to a non-HTTP scheme.
    RedirectScheme,
}

impl Hostile {
    const ALL: [Hostile; 10] = [
        Hostile::SlowDrip,
        Hostile::Stall,
        Hostile::Endless,
        Hostile::GzipBomb,
        Hostile::HugeFeed,
        Hostile::HugeTitle,
        Hostile::InvalidXml,
        Hostile::EntityBomb,
        Hostile::RedirectLoop,
        Hostile::RedirectScheme,
    ];

    /// The kind of feed `feed_idx`, if the share `fraction` of feeds is hostile: every
    /// `1 / fraction`-th feed, the kinds in turn.
    fn of(feed_idx: usize, fraction: f64) -> Option<Hostile> {
        if fraction <= 0.0 {
            return None;
        }
        let every = ((1.0 / fraction).round() as usize).max(1);
        (feed_idx % every == every / 2).then(|| Hostile::ALL[feed_idx / every % Hostile::ALL.len()])
    }
}

/// The hostile server's prepared bodies.
struct HostileBodies {
    gzip_bomb: Vec<u8>,
    huge_feed: Vec<u8>,
    huge_title: Vec<u8>,
}

impl HostileBodies {
    fn new() -> HostileBodies {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder
            .write_all(b"<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>")
            .expect("writing to memory");
        let zeros = vec![b'0'; 1 << 20];
        for _ in 0..1024 {
            encoder.write_all(&zeros).expect("writing to memory");
        }
        let gzip_bomb = encoder.finish().expect("writing to memory");
        let mut huge_feed = String::from(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Huge</title>\n",
        );
        for n in 0..100_000 {
            huge_feed.push_str(&format!(
                "<item><title>Item {n} of a huge feed</title><guid>huge-{n}</guid></item>\n"
            ));
        }
        huge_feed.push_str("</channel></rss>\n");
        let huge_title = format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Big</title>\
             <item><title>{}</title><guid>big-title</guid></item></channel></rss>\n",
            "North Korea spy satellite ".repeat(5_000_000 / 26)
        );
        HostileBodies {
            gzip_bomb,
            huge_feed: huge_feed.into_bytes(),
            huge_title: huge_title.into_bytes(),
        }
    }
}

/// Serves the hostile feeds at `/hostile/KIND_INDEX/FEED_INDEX` on raw sockets (one task
/// per connection; `Connection: close`), so each can misbehave as it likes.
async fn serve_hostile(listener: tokio::net::TcpListener, bodies: Arc<HostileBodies>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let bodies = bodies.clone();
        tokio::spawn(async move {
            let _ = hostile_connection(stream, &bodies).await;
        });
    }
}

async fn hostile_connection(
    mut stream: tokio::net::TcpStream,
    bodies: &HostileBodies,
) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
        let n = stream.read(&mut buffer).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buffer[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let kind = path
        .split('/')
        .nth(2)
        .and_then(|k| k.parse::<usize>().ok())
        .and_then(|k| Hostile::ALL.get(k).copied())
        .unwrap_or(Hostile::InvalidXml);
    let ok = |extra: &str| {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/rss+xml\r\nconnection: close\r\n{extra}\r\n"
        )
    };
    let whole = |body: &[u8], extra: &str| {
        let mut response = ok(&format!("content-length: {}\r\n{extra}", body.len())).into_bytes();
        response.extend_from_slice(body);
        response
    };
    match kind {
        Hostile::SlowDrip => {
            stream.write_all(ok("").as_bytes()).await?;
            for byte in b"<?xml version=\"1.0\"?><rss version=\"2.0\"><channel>"
                .iter()
                .cycle()
            {
                stream.write_all(&[*byte]).await?;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        Hostile::Stall => {
            // Until the client gives up and closes.
            while stream.read(&mut buffer).await? > 0 {}
        }
        Hostile::Endless => {
            stream.write_all(ok("").as_bytes()).await?;
            stream
                .write_all(
                    b"<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Endless</title>",
                )
                .await?;
            let chunk = "<item><title>again and again</title></item>\n".repeat(1500);
            loop {
                stream.write_all(chunk.as_bytes()).await?;
            }
        }
        Hostile::GzipBomb => {
            stream
                .write_all(&whole(&bodies.gzip_bomb, "content-encoding: gzip\r\n"))
                .await?;
        }
        Hostile::HugeFeed => stream.write_all(&whole(&bodies.huge_feed, "")).await?,
        Hostile::HugeTitle => stream.write_all(&whole(&bodies.huge_title, "")).await?,
        Hostile::InvalidXml => {
            let body = b"<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><item><title>Broken</tit<<&&\x00\xff</rss";
            stream.write_all(&whole(body, "")).await?;
        }
        Hostile::EntityBomb => {
            let mut body = String::from(
                "<?xml version=\"1.0\"?>\n<!DOCTYPE rss [\n<!ENTITY a0 \"lol lol lol lol lol lol lol lol lol lol\">\n",
            );
            for level in 1..10 {
                let previous = format!("&a{};", level - 1).repeat(10);
                body.push_str(&format!("<!ENTITY a{level} \"{previous}\">\n"));
            }
            body.push_str("]>\n<rss version=\"2.0\"><channel><title>Laughs</title><item><title>&a9;</title><guid>lol</guid></item></channel></rss>\n");
            stream.write_all(&whole(body.as_bytes(), "")).await?;
        }
        Hostile::RedirectLoop => {
            let response = format!(
                "HTTP/1.1 302 Found\r\nlocation: {path}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            stream.write_all(response.as_bytes()).await?;
        }
        Hostile::RedirectScheme => {
            stream
                .write_all(b"HTTP/1.1 301 Moved Permanently\r\nlocation: file:///etc/passwd\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await?;
        }
    }
    stream.shutdown().await
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--measure") {
        measure_child(&args[2..]);
        return;
    }
    let options = parse_options(&args[1..]);
    let binary = options
        .binary
        .as_deref()
        .unwrap_or(Path::new(env!("CARGO_BIN_EXE_watchword")));
    let started = Instant::now();
    let (served, xml_bytes, gz_bytes) = match &options.corpus {
        Some(dir) => {
            eprintln!(
                "e2e: reading the first {} feed files of {}…",
                options.n_feeds,
                dir.display()
            );
            read_corpus(dir, options.n_feeds)
        }
        None => {
            eprintln!(
                "e2e: generating {} feeds of {} items…",
                options.n_feeds, options.n_items
            );
            generate(options.n_feeds, options.n_items)
        }
    };
    eprintln!(
        "e2e: {:.1} MB of XML, {:.1} MB gzipped, in {:.1}s",
        xml_bytes as f64 / 1e6,
        gz_bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    let served = Arc::new(served);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime starts");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("a local port is free");
    let address = listener
        .local_addr()
        .expect("a bound listener has an address");
    let app = Router::new()
        .route("/feeds/{idx}", get(serve_feed))
        .with_state(served.clone());
    runtime.spawn(async move { axum::serve(listener, app).await });
    let hostile_address = if options.hostile_fraction > 0.0 {
        let hostile = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("a local port is free");
        let address = hostile
            .local_addr()
            .expect("a bound listener has an address");
        let bodies = Arc::new(HostileBodies::new());
        runtime.spawn(serve_hostile(hostile, bodies));
        let n = (0..options.n_feeds)
            .filter(|&idx| Hostile::of(idx, options.hostile_fraction).is_some())
            .count();
        eprintln!("e2e: {n} hostile feeds ({:?} in turn)", Hostile::ALL);
        Some(address)
    } else {
        None
    };

    // The default topics without their time windows (November 2023): the generated items
    // are dated today. Or the one topic `--query` gives.
    let topics: String = match &options.query {
        Some(query) => format!(
            "[[topic]]\nid = \"query\"\nquery = '{}'\n",
            query.replace('\'', "")
        ),
        None => default_topics(),
    };
    let mut rows: Vec<(usize, &str, Measurement)> = Vec::new();
    let mut idle = None;
    for run in 1..=options.runs {
        let dir = tempfile::tempdir().expect("a temp dir");
        let config_path = dir.path().join("watchword.toml");
        write_config(&config_path, &options, address, hostile_address, &topics);
        for phase in ["cold", "unchanged"] {
            let measurement = run_once(binary, &config_path, &served, dir.path(), phase);
            eprintln!("e2e: run {run} {phase}: {measurement:?}");
            rows.push((run, phase, measurement));
        }
        if run == 1 && options.idle_secs > 0 {
            idle = Some(measure_idle(
                binary,
                &config_path,
                dir.path(),
                options.idle_secs,
            ));
        }
        if options.keep {
            eprintln!("e2e: kept {}", dir.keep().display());
        }
    }
    print_table(&options, &rows);
    if let Some((cpu, switches)) = idle {
        println!(
            "idle daemon (watchword run after the polls, every feed due in 1h), {} s: {:.0} ms CPU, {} wake-ups (voluntary context switches)",
            options.idle_secs,
            cpu * 1000.0,
            switches
        );
    }
}

/// Starts `watchword run` on the polled database (every feed due in an hour), lets it settle
/// for two seconds, then returns the CPU seconds it used and the wake-ups (voluntary
/// context switches) of its threads over `secs` seconds.
fn measure_idle(binary: &Path, config: &Path, dir: &Path, secs: u64) -> (f64, u64) {
    let mut child = Command::new(binary)
        .arg("--config")
        .arg(config)
        .arg("run")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("idle.log")).expect("a log file"))
        .spawn()
        .expect("watchword run starts");
    std::thread::sleep(Duration::from_secs(2));
    let before = process_activity(child.id());
    std::thread::sleep(Duration::from_secs(secs));
    let after = process_activity(child.id());
    let _ = child.kill();
    let _ = child.wait();
    // Wake-ups per thread: a thread that exited in between drops out, one that started
    // counts in full.
    let wakeups = after
        .1
        .iter()
        .map(|(tid, n)| n.saturating_sub(before.1.get(tid).copied().unwrap_or(0)))
        .sum();
    (after.0 - before.0, wakeups)
}

/// CPU seconds (user and system, from `/proc/PID/stat`, in clock ticks of 1/100 s) and the
/// voluntary context switches (wake-ups) of each thread of a process, by thread id.
fn process_activity(pid: u32) -> (f64, std::collections::HashMap<String, u64>) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |idx: usize| {
        fields
            .get(idx)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15, the 12th and 13th after the name.
    let cpu = (ticks(11) + ticks(12)) as f64 / 100.0;
    let mut switches = std::collections::HashMap::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
            let voluntary = status
                .lines()
                .filter(|line| line.starts_with("voluntary_ctxt_switches"))
                .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>();
            switches.insert(task.file_name().to_string_lossy().into_owned(), voluntary);
        }
    }
    (cpu, switches)
}

fn parse_options(args: &[String]) -> Options {
    let mut options = Options {
        n_feeds: 1000,
        n_items: 50,
        runs: 3,
        concurrency: 32,
        keep: false,
        idle_secs: 10,
        binary: None,
        hostile_fraction: 0.0,
        timeout_secs: None,
        corpus: None,
        query: None,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> usize {
            args.next()
                .and_then(|value| value.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match arg.as_str() {
            "--feeds" => options.n_feeds = number("--feeds"),
            "--items" => options.n_items = number("--items"),
            "--runs" => options.runs = number("--runs").max(1),
            "--concurrency" => options.concurrency = number("--concurrency").max(1),
            "--keep" => options.keep = true,
            "--binary" => options.binary = args.next().map(Into::into),
            "--idle" => options.idle_secs = number("--idle") as u64,
            "--timeout" => options.timeout_secs = Some(number("--timeout") as u64),
            "--corpus" => options.corpus = args.next().map(Into::into),
            "--query" => options.query = args.next().cloned(),
            "--hostile-fraction" => {
                options.hostile_fraction = args
                    .next()
                    .and_then(|value| value.parse().ok())
                    .filter(|f: &f64| (0.0..=1.0).contains(f))
                    .expect("--hostile-fraction needs a number from 0 to 1")
            }
            // cargo bench passes --bench; criterion-style filters are ignored too.
            _ => {}
        }
    }
    options
}

/// Generates and gzips every feed, on every core. Returns the feeds and the XML and gzipped
/// sizes.
fn generate(n_feeds: usize, n_items: usize) -> (Served, usize, usize) {
    let vocabulary = feeds::Vocabulary::new();
    let fixtures = feeds::fixture_feeds();
    let n_threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut parts: Vec<Vec<(ServedFeed, usize)>> = Vec::new();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n_threads)
            .map(|thread_idx| {
                let (vocabulary, fixtures) = (&vocabulary, &fixtures);
                scope.spawn(move || {
                    (thread_idx..n_feeds)
                        .step_by(n_threads)
                        .map(|feed_idx| {
                            let (content_type, xml) = if feed_idx % 40 == 39 {
                                let (content_type, bytes) =
                                    &fixtures[feed_idx / 40 % fixtures.len()];
                                (*content_type, bytes.clone())
                            } else {
                                (
                                    "application/rss+xml; charset=utf-8",
                                    feeds::rss_feed(vocabulary, feed_idx, n_items).into_bytes(),
                                )
                            };
                            let mut encoder = flate2::write::GzEncoder::new(
                                Vec::with_capacity(xml.len() / 3),
                                flate2::Compression::default(),
                            );
                            encoder.write_all(&xml).expect("writing to memory");
                            let gzipped = encoder.finish().expect("writing to memory");
                            let feed = ServedFeed {
                                etag: format!("\"{feed_idx:x}-{:x}\"", gzipped.len()),
                                gzipped,
                                content_type,
                                last_modified: "Tue, 21 Nov 2023 15:00:00 GMT".into(),
                            };
                            (feed, xml.len())
                        })
                        .collect()
                })
            })
            .collect();
        parts = handles
            .into_iter()
            .map(|handle| handle.join().expect("a generator thread"))
            .collect();
    });
    // Interleave the parts back into feed order.
    let mut iters: Vec<_> = parts.into_iter().map(Vec::into_iter).collect();
    let (mut served, mut xml_bytes, mut gz_bytes) = (Vec::with_capacity(n_feeds), 0, 0);
    for feed_idx in 0..n_feeds {
        let (feed, xml_len) = iters[feed_idx % n_threads]
            .next()
            .expect("every thread made its share");
        xml_bytes += xml_len;
        gz_bytes += feed.gzipped.len();
        served.push(feed);
    }
    let served = Served {
        feeds: served,
        requests: AtomicU64::new(0),
        not_modified: AtomicU64::new(0),
    };
    (served, xml_bytes, gz_bytes)
}

/// The project's default topics without their time windows (November 2023): the benchmark's
/// items are dated later.
fn default_topics() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/topics.toml"),
    )
    .expect("the topics fixture exists")
    .lines()
    .filter(|line| !line.starts_with("published_after") && !line.starts_with("published_before"))
    .map(|line| format!("{line}\n"))
    .collect()
}

/// Serves the files of a folder as they are (`--corpus`): every file under it, in the order
/// of their paths, but for `.gz` files, which are the gzipped twins some corpora keep beside
/// a feed (used as they are when present, else the feed is gzipped here). The validators
/// are those a static file server gives: `Last-Modified` from the file's time, an `ETag`
/// from its time and size. Returns the feeds and the XML and gzipped sizes.
fn read_corpus(dir: &Path, n_feeds: usize) -> (Served, usize, usize) {
    fn walk(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("--corpus {}: {e}", dir.display()));
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_none_or(|ext| ext != "gz") {
                files.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, &mut files);
    files.sort();
    assert!(
        files.len() >= n_feeds,
        "--corpus {} holds {} feed files, fewer than --feeds {n_feeds}",
        dir.display(),
        files.len()
    );
    files.truncate(n_feeds);
    let (mut feeds, mut xml_bytes, mut gz_bytes) = (Vec::with_capacity(n_feeds), 0, 0);
    for path in files {
        let xml = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut twin = path.clone().into_os_string();
        twin.push(".gz");
        let gzipped = std::fs::read(&twin).unwrap_or_else(|_| {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(&xml).expect("writing to memory");
            encoder.finish().expect("writing to memory")
        });
        let modified = std::fs::metadata(&path)
            .and_then(|meta| meta.modified())
            .unwrap_or(std::time::SystemTime::UNIX_EPOCH);
        let seconds = modified
            .duration_since(std::time::SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let content_type = match path.extension().and_then(|ext| ext.to_str()) {
            Some("json") => "application/feed+json",
            Some("atom") => "application/atom+xml",
            _ => "application/xml",
        };
        xml_bytes += xml.len();
        gz_bytes += gzipped.len();
        feeds.push(ServedFeed {
            etag: format!("\"{seconds:x}-{:x}\"", xml.len()),
            last_modified: chrono::DateTime::<chrono::Utc>::from(modified)
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string(),
            gzipped,
            content_type,
        });
    }
    let served = Served {
        feeds,
        requests: AtomicU64::new(0),
        not_modified: AtomicU64::new(0),
    };
    (served, xml_bytes, gz_bytes)
}

async fn serve_feed(
    State(served): State<Arc<Served>>,
    UrlPath(idx): UrlPath<usize>,
    headers: HeaderMap,
) -> Response {
    served.requests.fetch_add(1, Ordering::Relaxed);
    let Some(feed) = served.feeds.get(idx) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let header_is = |name: header::HeaderName, value: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == value)
    };
    let validators = [
        (
            header::ETAG,
            HeaderValue::from_str(&feed.etag).expect("ascii"),
        ),
        (
            header::LAST_MODIFIED,
            HeaderValue::from_str(&feed.last_modified).expect("ascii"),
        ),
    ];
    if header_is(header::IF_NONE_MATCH, &feed.etag)
        || (!headers.contains_key(header::IF_NONE_MATCH)
            && header_is(header::IF_MODIFIED_SINCE, &feed.last_modified))
    {
        served.not_modified.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::NOT_MODIFIED, validators).into_response();
    }
    let accepts_gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("gzip"));
    let content_type = [(
        header::CONTENT_TYPE,
        HeaderValue::from_static(feed.content_type),
    )];
    if accepts_gzip {
        let encoding = [(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"))];
        (validators, content_type, encoding, feed.gzipped.clone()).into_response()
    } else {
        let mut xml = Vec::new();
        let _ = std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(feed.gzipped.as_slice()),
            &mut xml,
        );
        (validators, content_type, xml).into_response()
    }
}

fn write_config(
    path: &Path,
    options: &Options,
    address: std::net::SocketAddr,
    hostile_address: Option<std::net::SocketAddr>,
    topics: &str,
) {
    let timeout = options
        .timeout_secs
        .unwrap_or(if hostile_address.is_some() { 10 } else { 60 });
    let mut config = format!(
        "[daemon]\n\
         database = \"watchword.db\"\n\
         first_poll = \"alert\"\n\
         interval = \"1h\"\n\
         max_concurrent = {concurrency}\n\
         per_host = {concurrency}\n\
         timeout = \"{timeout}s\"\n\n",
        concurrency = options.concurrency
    );
    for feed_idx in 0..options.n_feeds {
        let url = match (
            Hostile::of(feed_idx, options.hostile_fraction),
            hostile_address,
        ) {
            (Some(kind), Some(hostile)) => {
                let kind = Hostile::ALL.iter().position(|k| *k == kind).unwrap_or(0);
                format!("http://{hostile}/hostile/{kind}/{feed_idx}")
            }
            _ => format!("http://{address}/feeds/{feed_idx}"),
        };
        config.push_str(&format!(
            "[[feed]]\nname = \"feed {feed_idx}\"\nurl = \"{url}\"\n\n"
        ));
    }
    config.push_str(topics);
    std::fs::write(path, config).expect("the temp dir is writable");
}

/// Runs `watchword once` under `--measure`; returns what it took and what the database holds
/// afterwards.
fn run_once(binary: &Path, config: &Path, served: &Served, dir: &Path, phase: &str) -> Measurement {
    let (requests, not_modified) = (
        served.requests.load(Ordering::Relaxed),
        served.not_modified.load(Ordering::Relaxed),
    );
    let server_before = cpu_seconds(UsageWho::RUSAGE_SELF);
    let output = Command::new(std::env::current_exe().expect("the bench knows its path"))
        .arg("--measure")
        .arg(dir.join(format!("{phase}.out")))
        .arg(binary)
        .arg("--config")
        .arg(config)
        .arg("once")
        .env("RUST_LOG", "info,watchword::daemon=debug")
        .env_remove("WATCHWORD_CONFIG")
        .stderr(std::fs::File::create(dir.join(format!("{phase}.log"))).expect("a log file"))
        .stdout(Stdio::piped())
        .output()
        .expect("the measuring copy runs");
    let server_cpu = cpu_seconds(UsageWho::RUSAGE_SELF) - server_before;
    let text = String::from_utf8_lossy(&output.stdout);
    let numbers: Vec<f64> = text
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    assert!(
        output.status.success() && numbers.len() == 4,
        "watchword once failed ({}); see {}/{phase}.log\n{text}",
        output.status,
        dir.display()
    );
    // What `once` printed: `feed  N new items, M new matches (K in feed)` per fetched feed.
    let report = std::fs::read_to_string(dir.join(format!("{phase}.out"))).unwrap_or_default();
    let (mut items, mut matches) = (0, 0);
    for line in report.lines() {
        let Some((before, after)) = line.split_once(" new items, ") else {
            continue;
        };
        let number = |text: Option<&str>| text.and_then(|n| n.parse::<i64>().ok()).unwrap_or(0);
        items += number(before.split_whitespace().last());
        matches += number(after.split_whitespace().next());
    }
    // What it logged: `seconds by stage, summed over polls: fetch 1.234, parse 0.567, …`.
    let log = std::fs::read_to_string(dir.join(format!("{phase}.log"))).unwrap_or_default();
    let mut stages = [0.0; STAGES.len()];
    if let Some((_, list)) = log.rsplit_once("seconds by stage, summed over polls: ") {
        for part in list.lines().next().unwrap_or_default().split(", ") {
            if let Some((name, seconds)) = part.split_once(' ')
                && let Some(at) = STAGES.iter().position(|stage| *stage == name)
            {
                stages[at] = seconds.trim().parse().unwrap_or(0.0);
            }
        }
    }
    Measurement {
        stages,
        wall: numbers[0],
        cpu: numbers[1],
        peak_rss_mb: numbers[2] / 1024.0,
        server_cpu,
        items,
        matches,
        requests: served.requests.load(Ordering::Relaxed) - requests,
        not_modified: served.not_modified.load(Ordering::Relaxed) - not_modified,
    }
}

/// `--measure OUT BINARY ARGS…`: runs the binary with its stdout to the file OUT, then prints
/// `wall cpu max_rss_kb lines`.
fn measure_child(args: &[String]) {
    let out = std::fs::File::create(&args[0]).expect("the output file");
    let started = Instant::now();
    let output = Command::new(&args[1])
        .args(&args[2..])
        .stdout(out)
        .stderr(Stdio::inherit())
        .output()
        .expect("the watchword binary runs");
    let wall = started.elapsed().as_secs_f64();
    if !output.status.success() {
        eprintln!("watchword exited with {}", output.status);
        std::process::exit(1);
    }
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage");
    let cpu = timeval_seconds(usage.user_time()) + timeval_seconds(usage.system_time());
    let lines =
        std::fs::read(&args[0]).map_or(0, |text| text.iter().filter(|&&b| b == b'\n').count());
    println!("{wall:.4} {cpu:.4} {} {lines}", usage.max_rss());
}

fn cpu_seconds(who: UsageWho) -> f64 {
    let usage = getrusage(who).expect("getrusage");
    timeval_seconds(usage.user_time()) + timeval_seconds(usage.system_time())
}

fn timeval_seconds(time: nix::sys::time::TimeVal) -> f64 {
    Duration::new(time.tv_sec() as u64, time.tv_usec() as u32 * 1000).as_secs_f64()
}

fn print_table(options: &Options, rows: &[(usize, &str, Measurement)]) {
    let feeds = match &options.corpus {
        Some(dir) => format!("{} feeds of {}", options.n_feeds, dir.display()),
        None => format!("{} feeds × {} items", options.n_feeds, options.n_items),
    };
    let topics = match &options.query {
        Some(query) => format!("one topic `{query}`"),
        None => "the default topics".into(),
    };
    println!(
        "\nwatchword once, {feeds} over HTTP on 127.0.0.1 (max_concurrent = per_host = {}), {topics}, {} runs",
        options.concurrency, options.runs
    );
    if options.hostile_fraction > 0.0 {
        println!(
            "({:.0} % of the feeds hostile, in turn: {:?})",
            options.hostile_fraction * 100.0,
            Hostile::ALL
        );
    }
    println!(
        "{:<10} {:>4} {:>8} {:>8} {:>9} {:>9} {:>9} {:>10} {:>9} {:>8} {:>6}",
        "phase",
        "run",
        "wall s",
        "cpu s",
        "rss MB",
        "items",
        "matches",
        "items/s",
        "srv cpu s",
        "srv %",
        "304s"
    );
    let line = |phase: &str, run: &str, m: &Measurement| {
        let items_per_s = if m.items > 0 && phase == "cold" {
            format!("{:.0}", m.items as f64 / m.wall)
        } else {
            "-".into()
        };
        println!(
            "{:<10} {:>4} {:>8.3} {:>8.3} {:>9.1} {:>9} {:>9} {:>10} {:>9.3} {:>7.1}% {:>6}",
            phase,
            run,
            m.wall,
            m.cpu,
            m.peak_rss_mb,
            m.items,
            m.matches,
            items_per_s,
            m.server_cpu,
            100.0 * m.server_cpu / (m.server_cpu + m.cpu),
            m.not_modified
        );
    };
    for (run, phase, measurement) in rows {
        line(phase, &run.to_string(), measurement);
    }
    let mut medians = Vec::new();
    for phase in ["cold", "unchanged"] {
        let of: Vec<&Measurement> = rows
            .iter()
            .filter(|(_, p, _)| *p == phase)
            .map(|(_, _, m)| m)
            .collect();
        let median = |f: &dyn Fn(&Measurement) -> f64| {
            let mut values: Vec<f64> = of.iter().map(|m| f(m)).collect();
            values.sort_by(f64::total_cmp);
            values[values.len() / 2]
        };
        let m = Measurement {
            wall: median(&|m| m.wall),
            cpu: median(&|m| m.cpu),
            peak_rss_mb: median(&|m| m.peak_rss_mb),
            server_cpu: median(&|m| m.server_cpu),
            items: median(&|m| m.items as f64) as i64,
            matches: median(&|m| m.matches as f64) as i64,
            requests: median(&|m| m.requests as f64) as u64,
            not_modified: median(&|m| m.not_modified as f64) as u64,
            stages: std::array::from_fn(|at| median(&|m| m.stages[at])),
        };
        line(phase, "med", &m);
        medians.push((phase, m));
    }
    println!(
        "\nseconds by stage, medians, summed over polls (polls run at once each count, so a \
         stage's sum can pass the wall time; fetch waits on the network):"
    );
    println!(
        "{:<10} {}",
        "phase",
        STAGES.map(|stage| format!("{stage:>10}")).join(" ")
    );
    for (phase, m) in &medians {
        println!(
            "{phase:<10} {}",
            m.stages.map(|seconds| format!("{seconds:>10.3}")).join(" ")
        );
    }
    println!(
        "(srv %: the in-process HTTP server's share of all CPU used during the run; 304s: \
         requests answered Not Modified; items and matches: new ones stored by the poll, as \
         `once` reports them)"
    );
}
