//! Feeds with mistakes, read the way a forgiving reader reads them: the real binary on the
//! differential fixtures (`tests/fixtures/differential`), and what `feeds` says of a feed that
//! was repaired or reads as empty.

use serde_json::Value;

use crate::support::{Workspace, assert_success, fixtures};

fn differential(name: &str) -> String {
    fixtures()
        .join("differential")
        .join(name)
        .display()
        .to_string()
}

#[tokio::test]
async fn markup_in_a_title_keeps_the_whole_title_and_the_story_matches() {
    let workspace = Workspace::new("");
    let output = workspace
        .run(&[
            "test",
            "--feed",
            &differential("01-markup-rss-title.xml"),
            "--format",
            "jsonl",
        ])
        .await;
    assert_success(&output);
    let first: Value = serde_json::from_str(
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .next()
            .expect("one line per item"),
    )
    .unwrap();
    assert_eq!(
        first["title"],
        "Breaking: North Korea launches spy satellite"
    );
    assert_eq!(first["topics"], serde_json::json!(["satellite_launch"]));
}

async fn feeds_json(workspace: &Workspace) -> Vec<Value> {
    let output = workspace.run(&["feeds", "--format", "json"]).await;
    assert_success(&output);
    serde_json::from_slice(&output.stdout).expect("feeds --format json is a JSON array")
}

#[tokio::test]
async fn feeds_says_when_a_feed_was_cut_short_or_reads_as_empty() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.xml");
    std::fs::write(
        &empty,
        r#"<rss version="2.0"><channel><title>Quiet</title></channel></rss>"#,
    )
    .unwrap();
    let feeds = format!(
        "[[feed]]\nname = \"cut\"\nurl = \"{}\"\n\n[[feed]]\nname = \"empty\"\nurl = \"{}\"\n",
        differential("04-broken-truncated.xml"),
        empty.display()
    );
    let workspace = Workspace::new(&feeds);
    let output = workspace.run(&["once"]).await;
    assert_success(&output);
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("breaks off"), "{log}");

    let feeds = feeds_json(&workspace).await;
    let by_name = |name: &str| {
        feeds
            .iter()
            .find(|feed| feed["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {feeds:#?}"))
            .clone()
    };
    let cut = by_name("cut");
    assert_eq!(cut["last_status"], "ok, repaired", "{cut:#}");
    assert_eq!(cut["items"], 2, "the two complete items: {cut:#}");
    assert!(
        cut["last_error"]
            .as_str()
            .is_some_and(|note| note.contains("read the 2 complete items")),
        "{cut:#}"
    );
    let empty = by_name("empty");
    assert_eq!(empty["last_status"], "ok, 0 items", "{empty:#}");
}
