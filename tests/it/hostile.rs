//! Hostile feeds against the real binary: see `server` for the cases.

mod server;

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Workspace, assert_success};
use server::Hostile;

fn feed_tables(server: &Hostile, paths: &[&str]) -> String {
    paths
        .iter()
        .map(|path| {
            format!(
                "[[feed]]\nname = \"{path}\"\nurl = \"{}\"\n",
                server.url(path)
            )
        })
        .collect()
}

/// A workspace with short limits (a 2 s deadline), `daemon_keys` added to `[daemon]`, the
/// shared topics and three topics in other scripts.
fn workspace(daemon_keys: &str, feeds: &str) -> Workspace {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[daemon]\ndatabase = \"ww.db\"\ninterval = \"1m\"\ntimeout = \"2s\"\nconnect_timeout = \"2s\"\n{daemon_keys}\n\n{feeds}\n\n{}\n{}",
        crate::support::topics_toml(),
        r#"
[[topic]]
id = "cyrillic"
query = '"Северная Корея" AND спутник*'

[[topic]]
id = "korean"
query = '정찰위성'

[[topic]]
id = "japanese"
query = '偵察衛星'
"#
    );
    std::fs::write(dir.path().join("watchword.toml"), config).unwrap();
    Workspace { dir }
}

async fn feeds_json(workspace: &Workspace) -> Vec<Value> {
    let output = workspace.run(&["feeds", "--format", "json"]).await;
    assert_success(&output);
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn explore() {
    let server = Hostile::start().await;
    let paths = [
        "/good.xml",
        "/drip",
        "/drip-head",
        "/endless",
        "/gzip-bomb",
        "/loop-a",
        "/to-file",
        "/to-ftp",
        "/moved-301",
        "/moved-308",
        "/status/404",
        "/status/410",
        "/status/500",
        "/status/429",
        "/status/503",
        "/wrong-type/html",
        "/wrong-type/octet",
        "/page.html",
        "/page-other-host.html",
        "/html-no-feed.html",
        "/invalid.xml",
        "/invalid-ansi.xml",
        "/entity-bomb.xml",
        "/enc/prolog/windows-1251.xml",
        "/enc/prolog/euc-kr.xml",
        "/enc/prolog/shift_jis.xml",
        "/enc/prolog/utf-16.xml",
        "/enc/header/windows-1251.xml",
        "/enc/header/euc-kr.xml",
        "/enc/header/shift_jis.xml",
        "/enc/header/utf-16.xml",
        "/enc/bom/utf-8.xml",
        "/enc/bom/utf-16le.xml",
        "/enc/bom/utf-16be.xml",
        "/big/100k.xml",
        "/big/title-5mb.xml",
        "/ansi.xml",
        "/dup-guids.xml",
        "/rotating.xml",
    ];
    let workspace = workspace("max_body = \"16MiB\"", &feed_tables(&server, &paths));
    let started = Instant::now();
    let output = workspace.run(&["once"]).await;
    eprintln!("once took {:?}", started.elapsed());
    eprintln!("{}", String::from_utf8_lossy(&output.stdout));
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    for feed in feeds_json(&workspace).await {
        eprintln!(
            "{} {} {} {} {}",
            feed["name"], feed["last_status"], feed["items"], feed["matches"], feed["last_error"]
        );
    }
    let output = workspace.run(&["matches"]).await;
    eprintln!("{}", String::from_utf8_lossy(&output.stdout));
    let _ = Duration::ZERO;
}
