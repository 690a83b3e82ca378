//! Corpus measurement for issue 13: parse feed files with watchword's parser (or feed-rs
//! alone) and print one JSON line per file. Driven by `tools/corpus/run_watchword.py`.
//!
//! ```text
//! cargo run --example parse_corpus -- [--feed-rs] [--list FILE | PATH...]
//! ```
//!
//! Without paths or `--list`, reads the files to parse from stdin, one per line, each line
//! `PATH` or `PATH<TAB>CHARSET` (the charset an HTTP header would give), and answers each line
//! as soon as it is parsed (so a driver can time out a file that hangs). Output, one line per
//! file: `{"path", "mode", "ok", "error", "panic", "ms", "items": [{"title", "url", "key"}]}`.
//! `--feed-rs` parses with `feed_rs::parser::parse` on the raw bytes, nothing else
//! (title: the entry's title text, url: its first link, key: its id).

use std::io::{BufRead, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use serde_json::{Value, json};

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

/// Items as (title, url, key), or the error text.
fn parse_watchword(bytes: &[u8], charset: Option<&str>) -> Result<Vec<Value>, String> {
    match watchword::parse::parse_feed(bytes, charset, None) {
        Ok(feed) => Ok(feed
            .items
            .iter()
            .map(|i| json!({"title": i.title, "url": i.url, "key": i.key}))
            .collect()),
        Err(e) => Err(e.to_string()),
    }
}

fn parse_feed_rs(bytes: &[u8]) -> Result<Vec<Value>, String> {
    match feed_rs::parser::parse(bytes) {
        Ok(feed) => Ok(feed
            .entries
            .iter()
            .map(|e| {
                json!({
                    "title": e.title.as_ref().map(|t| t.content.clone()).unwrap_or_default(),
                    "url": e.links.first().map(|l| l.href.clone()),
                    "key": e.id,
                })
            })
            .collect()),
        Err(e) => Err(e.to_string()),
    }
}

fn one(path: &str, charset: Option<&str>, feed_rs_only: bool) -> Value {
    let mode = if feed_rs_only { "feed-rs" } else { "watchword" };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            return json!({"path": path, "mode": mode, "ok": false, "panic": false,
                          "error": format!("read: {e}"), "ms": 0, "items": []});
        }
    };
    let start = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| {
        if feed_rs_only {
            parse_feed_rs(&bytes)
        } else {
            parse_watchword(&bytes, charset)
        }
    }));
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(Ok(items)) => json!({"path": path, "mode": mode, "ok": true, "panic": false,
                                "error": null, "ms": ms, "items": items}),
        Ok(Err(error)) => json!({"path": path, "mode": mode, "ok": false, "panic": false,
                                 "error": error, "ms": ms, "items": []}),
        Err(p) => json!({"path": path, "mode": mode, "ok": false, "panic": true,
                         "error": format!("panic: {}", panic_text(p.as_ref())), "ms": ms,
                         "items": []}),
    }
}

fn main() {
    // Panics are reported in the JSON line; keep stderr quiet.
    std::panic::set_hook(Box::new(|_| {}));
    let mut feed_rs_only = false;
    let mut list: Option<String> = None;
    let mut paths: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--feed-rs" => feed_rs_only = true,
            "--list" => list = args.next(),
            "-h" | "--help" => {
                eprintln!(
                    "parse_corpus [--feed-rs] [--list FILE | PATH...]  (else paths on stdin)"
                );
                return;
            }
            _ => paths.push(a),
        }
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut run = |line: &str| {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            return;
        }
        let (path, charset) = match line.split_once('\t') {
            Some((p, c)) if !c.is_empty() => (p, Some(c)),
            Some((p, _)) => (p, None),
            None => (line, None),
        };
        let v = one(path, charset, feed_rs_only);
        writeln!(out, "{v}").expect("stdout");
        out.flush().expect("stdout");
    };
    if let Some(list) = list {
        let text = std::fs::read_to_string(&list).expect("read list file");
        text.lines().for_each(&mut run);
    } else if !paths.is_empty() {
        paths.iter().for_each(|p| run(p));
    } else {
        for line in std::io::stdin().lock().lines() {
            run(&line.expect("stdin"));
        }
    }
}
