//! `test`, `eval`, `test --backtest` and the backtest line of `check`, on the real binary with
//! items written for these tests and a temporary database.

use serde_json::Value;

use crate::support::{Workspace, assert_success, fixtures};

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn json_lines(output: &std::process::Output) -> Vec<Value> {
    stdout(output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is a JSON object"))
        .collect()
}

fn rss_feed() -> String {
    format!(
        "[[feed]]\nname = \"Harbor\"\nurl = \"{}\"\n",
        fixtures().join("feeds/news.rss").display()
    )
}

/// A workspace polling the RSS fixture with one topic `t`.
fn workspace_with_topic(query: &str) -> Workspace {
    let workspace = Workspace::new("");
    write_topic(&workspace, query);
    workspace
}

/// Rewrites the workspace's config with one topic `t` (the edit a backtest compares).
fn write_topic(workspace: &Workspace, query: &str) {
    let config = format!(
        "[daemon]\ndatabase = \"ww.db\"\n\n{}\n[[topic]]\nid = \"t\"\nquery = '{query}'\n",
        rss_feed()
    );
    std::fs::write(workspace.config(), config).unwrap();
}

#[tokio::test]
async fn test_file_writes_one_line_per_item_in_order() {
    let workspace = Workspace::new("");
    let items = workspace.dir.path().join("items.jsonl");
    std::fs::write(
        &items,
        r#"{"id": "b-2", "title": "Weather: sunny", "summary": "nothing to see"}
{"id": "a-1", "title": "US approves sale of Tomahawk missiles to Japan", "link": "https://news.example/t?utm_medium=rss", "published": "2023-11-17T20:00:00-05:00"}

{"id": "c-3", "title": "北朝鮮、偵察衛星を発射", "published": "someday", "unknown": [1, 2]}
"#,
    )
    .unwrap();
    let path = items.display().to_string();
    let output = workspace
        .run(&["test", "--file", &path, "--format", "jsonl"])
        .await;
    assert_success(&output);
    let lines = json_lines(&output);
    let ids: Vec<&str> = lines
        .iter()
        .map(|line| line["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["b-2", "a-1", "c-3"]);
    assert_eq!(lines[0]["topics"], serde_json::json!([]));
    assert_eq!(lines[1]["topics"], serde_json::json!(["missile_sale"]));
    assert_eq!(lines[1]["url"], "https://news.example/t");
    assert_eq!(lines[1]["published"], "2023-11-18T01:00:00Z");
    let explain = lines[1]["explain"]["missile_sale"].as_array().unwrap();
    assert!(
        explain
            .iter()
            .any(|hit| hit["term"] == "Tomahawk*" && hit["field"] == "title")
    );
    assert_eq!(lines[2]["topics"], serde_json::json!(["satellite_launch"]));
    assert_eq!(lines[2]["published"], Value::Null);
    assert_eq!(
        lines[2]["explain"]["satellite_launch"][0]["term"], "北朝鮮",
        "{}",
        lines[2]
    );

    // --topic limits the topics; text output brackets terms and says which clause failed.
    let output = workspace
        .run(&["test", "--file", &path, "--topic", "missile_sale"])
        .await;
    assert_success(&output);
    let text = stdout(&output);
    assert!(!text.contains("satellite_launch"), "{text}");
    assert!(text.contains("missile_sale: match"), "{text}");
    assert!(text.contains("[Tomahawk]"), "{text}");
    assert!(text.contains("missile_sale: no match"), "{text}");
    assert!(text.contains("needs one of"), "{text}");
}

#[tokio::test]
async fn test_text_and_feed_inputs() {
    let workspace = Workspace::new("");
    let output = workspace
        .run(&[
            "test",
            "--text",
            "SpaceX launches North Korea spy satellite",
        ])
        .await;
    assert_success(&output);
    let text = stdout(&output);
    assert!(text.contains("satellite_launch: no match"), "{text}");
    assert!(text.contains("excluded by NOT (title:SpaceX"), "{text}");
    assert!(text.contains("[SpaceX]"), "{text}");

    let feed = fixtures().join("feeds/news.rss").display().to_string();
    let output = workspace
        .run(&["test", "--feed", &feed, "--format", "jsonl"])
        .await;
    assert_success(&output);
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0]["id"], "guid:hl-2023-1001");
    assert_eq!(lines[0]["topics"], serde_json::json!(["missile_sale"]));
    assert_eq!(lines[1]["topics"], serde_json::json!(["satellite_launch"]));
    assert!(
        !workspace.database().exists(),
        "test never creates the database"
    );
}

#[tokio::test]
async fn bad_input_is_a_user_error_naming_file_and_line() {
    let workspace = Workspace::new("");
    let items = workspace.dir.path().join("labels.jsonl");
    std::fs::write(&items, "{\"id\": \"a\", \"topics\": []}\n\"just text\"\n").unwrap();
    let path = items.display().to_string();
    let output = workspace.run(&["eval", &path]).await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{path}:2: expected a JSON object, found a string")),
        "{stderr}"
    );
    let missing = workspace
        .run(&["test", "--file", "/nonexistent/items.jsonl"])
        .await;
    assert_eq!(missing.status.code(), Some(1));
    let unknown = workspace
        .run(&["test", "--text", "x", "--topic", "nope"])
        .await;
    assert_eq!(unknown.status.code(), Some(1));
    let no_input = workspace.run(&["test"]).await;
    assert_eq!(no_input.status.code(), Some(1));
}

#[tokio::test]
async fn eval_prints_hand_computed_figures_and_lists_errors() {
    let workspace = workspace_with_topic("missile*");
    let labels = workspace.dir.path().join("labels.jsonl");
    // 2 true positives, 1 false positive, 1 false negative, 1 ignored.
    std::fs::write(
        &labels,
        r#"{"id": "tp1", "title": "Missile sale", "topics": ["t"]}
{"id": "tp2", "title": "missiles fired", "topics": ["t"]}
{"id": "fp1", "title": "Missile museum opens", "topics": []}
{"id": "fn1", "title": "Rocket sale", "topics": ["t"]}
{"id": "skip", "title": "missile maybe", "topics": ["t"], "ignore": true}
"#,
    )
    .unwrap();
    let output = workspace
        .run(&["eval", &labels.display().to_string()])
        .await;
    assert_success(&output);
    let text = stdout(&output);
    assert!(text.contains("4 items scored, 1 ignored"), "{text}");
    let row = text
        .lines()
        .find(|line| line.starts_with("t "))
        .unwrap_or_else(|| panic!("{text}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells, ["t", "2", "1", "1", "0.667", "0.667", "0.667"]);
    assert!(text.contains("t: 1 false positive (matched"), "{text}");
    assert!(text.contains("fp1  Missile museum opens"), "{text}");
    assert!(text.contains("[Missile]"), "{text}");
    assert!(text.contains("t: 1 false negative (labelled"), "{text}");
    assert!(
        text.contains("needs missile* [col 1–8]: not found"),
        "{text}"
    );
}

#[tokio::test]
async fn backtest_reports_what_an_edit_adds_and_drops() {
    let workspace = workspace_with_topic("missile*");
    let check = workspace.run(&["check"]).await;
    assert_success(&check);
    assert!(!stdout(&check).contains("backtest"), "no database yet");
    assert_success(&workspace.run(&["once"]).await);
    let logged = workspace.matches().await;
    assert_eq!(logged.len(), 3, "{logged:?}");
    for m in &logged {
        let explain = m["explain"].as_array().unwrap();
        assert!(!explain.is_empty(), "{m}");
        assert!(
            explain[0]["snippet"].as_str().unwrap().contains("issile"),
            "{m}"
        );
    }
    let unchanged = workspace.run(&["test", "--backtest"]).await;
    assert_success(&unchanged);
    assert!(stdout(&unchanged).contains("t: 3 logged, 3 would match: no change"));

    // Narrowed: the sale to Poland is dropped.
    write_topic(&workspace, "missile* AND NOT Poland");
    let narrowed = workspace
        .run(&["test", "--backtest", "--format", "jsonl"])
        .await;
    assert_success(&narrowed);
    let changes = json_lines(&narrowed);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["change"], "dropped");
    assert_eq!(changes[0]["topic"], "t");
    assert_eq!(
        changes[0]["title"],
        "US approves $1.2 billion missile sale to Poland"
    );
    let check = workspace.run(&["check"]).await;
    assert_success(&check);
    assert!(stdout(&check).contains(": t +0 -1 "), "{}", stdout(&check));

    // Widened: the satellite story is added, with its explanation.
    write_topic(&workspace, "missile* OR Malligyong*");
    let widened = workspace
        .run(&["test", "--backtest", "--since", "1d"])
        .await;
    assert_success(&widened);
    let text = stdout(&widened);
    assert!(
        text.contains("t: 3 logged, 4 would match: +1 added, -0 dropped"),
        "{text}"
    );
    assert!(text.contains("+ "), "{text}");
    assert!(
        text.contains("North Korea says spy satellite Malligyong-1 reached orbit"),
        "{text}"
    );
    assert!(text.contains("[Malligyong]-1"), "{text}");

    // The database is read, not written.
    assert_eq!(workspace.matches().await.len(), 3);
}

#[tokio::test]
async fn matches_as_json_include_explanations() {
    let workspace = workspace_with_topic("missile*");
    assert_success(&workspace.run(&["once"]).await);
    let output = workspace.run(&["matches", "--format", "json"]).await;
    assert_success(&output);
    let matches: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(matches.len(), 3);
    for m in &matches {
        let hit = &m["explain"][0];
        assert_eq!(hit["term"], "missile*", "{m}");
        assert!(hit["field"] == "title" || hit["field"] == "summary", "{m}");
        assert!(!hit["snippet"].as_str().unwrap().is_empty(), "{m}");
    }
}

#[tokio::test]
async fn an_old_item_is_stored_but_not_matched_under_max_age() {
    let workspace = Workspace::new("");
    let now = chrono::Utc::now();
    let feed = workspace.dir.path().join("old-and-new.rss");
    std::fs::write(
        &feed,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Archive</title><link>https://archive.example/</link>
<item><title>Missile sale to Japan approved</title><link>https://archive.example/2015/sale</link>
<guid>old</guid><pubDate>Sun, 01 Mar 2015 09:00:00 GMT</pubDate></item>
<item><title>Missile sale to Poland approved</title><link>https://archive.example/today/sale</link>
<guid>new</guid><pubDate>{}</pubDate></item>
</channel></rss>"#,
            now.to_rfc2822()
        ),
    )
    .unwrap();
    let config = format!(
        "[daemon]\ndatabase = \"ww.db\"\nmax_age = \"30d\"\n\n[[feed]]\nname = \"Archive\"\nurl = \"{}\"\n\n[[topic]]\nid = \"t\"\nquery = 'missile*'\n",
        feed.display()
    );
    std::fs::write(workspace.config(), config).unwrap();
    assert_success(&workspace.run(&["check"]).await);
    let once = workspace.run(&["once"]).await;
    assert_success(&once);
    assert!(
        stdout(&once).contains("2 new items, 1 new match ("),
        "{}",
        stdout(&once)
    );
    let logged = workspace.matches().await;
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0]["title"], "Missile sale to Poland approved");

    // `test` counts the old item as first seen when it was published, unless told otherwise.
    let items = workspace.dir.path().join("items.jsonl");
    std::fs::write(
        &items,
        "{\"id\": \"old\", \"title\": \"Missile sale\", \"published\": \"2015-03-01T09:00:00Z\"}\n",
    )
    .unwrap();
    let items = items.display().to_string();
    let output = workspace
        .run(&["test", "--file", &items, "--format", "jsonl"])
        .await;
    assert_success(&output);
    assert_eq!(json_lines(&output)[0]["topics"], serde_json::json!(["t"]));
    let output = workspace
        .run(&["test", "--file", &items, "--as-of", "2023-11-22"])
        .await;
    assert_success(&output);
    let text = stdout(&output);
    assert!(text.contains("t: no match"), "{text}");
    assert!(
        text.contains("out of time scope: published 2015-03-01T09:00:00Z")
            && text.contains("older than max_age 30d"),
        "{text}"
    );
}

/// The RSS fixture with topics `t` (`query`) and, when given, `sat` (`sat_query`), and a
/// jsonl alert sink.
fn write_topics_with_sink(workspace: &Workspace, query: &str, sat_query: Option<&str>) {
    let sat = sat_query.map_or_else(String::new, |q| {
        format!("\n[[topic]]\nid = \"sat\"\nquery = '{q}'\n")
    });
    let config = format!(
        "[daemon]\ndatabase = \"ww.db\"\nalert_wait = \"5s\"\nfirst_poll = \"alert\"\n\n{}\n[[alert]]\nkind = \"jsonl\"\npath = \"alerts.jsonl\"\n\n[[topic]]\nid = \"t\"\nquery = '{query}'\n{sat}",
        rss_feed()
    );
    std::fs::write(workspace.config(), config).unwrap();
}

fn alerts_sent(workspace: &Workspace) -> Vec<Value> {
    std::fs::read_to_string(workspace.dir.path().join("alerts.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test]
async fn an_applied_backtest_logs_backfill_and_alerts_only_when_asked() {
    let workspace = Workspace::new("");
    write_topics_with_sink(&workspace, "missile*", None);
    assert_success(&workspace.run(&["once"]).await);
    assert_eq!(workspace.matches().await.len(), 3);
    assert_eq!(alerts_sent(&workspace).len(), 3);

    // Widened: the satellite item is logged as backfill, and not sent.
    write_topics_with_sink(&workspace, "missile* OR Malligyong*", None);
    let applied = workspace.run(&["test", "--backtest", "--apply"]).await;
    assert_success(&applied);
    let text = stdout(&applied);
    assert!(text.contains("+1 added"), "{text}");
    assert!(
        text.contains("applied: 1 match logged as backfill, 0 more sources; not sent"),
        "{text}"
    );
    let logged = workspace.matches().await;
    assert_eq!(logged.len(), 4, "{logged:#?}");
    let backfilled: Vec<&Value> = logged.iter().filter(|m| m["backfill"] == true).collect();
    assert_eq!(backfilled.len(), 1, "{logged:#?}");
    assert!(
        backfilled[0]["title"]
            .as_str()
            .unwrap()
            .contains("Malligyong-1"),
        "{logged:#?}"
    );
    assert_eq!(backfilled[0]["sources"].as_array().unwrap().len(), 1);
    let table = stdout(&workspace.run(&["matches"]).await);
    assert!(table.contains(" backfill  t "), "{table}");
    assert_success(&workspace.run(&["once"]).await);
    assert_eq!(
        alerts_sent(&workspace).len(),
        3,
        "a backfill is not alerted"
    );
    // Applied again, there is nothing left to add.
    let again = stdout(&workspace.run(&["test", "--backtest", "--apply"]).await);
    assert!(again.contains("applied: 0 matches logged"), "{again}");

    // A new topic applied with --alert goes through the outbox to the sink.
    write_topics_with_sink(
        &workspace,
        "missile* OR Malligyong*",
        Some("satellite* AND NOT SpaceX"),
    );
    let alerted = workspace
        .run(&["test", "--backtest", "--topic", "sat", "--apply", "--alert"])
        .await;
    assert_success(&alerted);
    let text = stdout(&alerted);
    assert!(
        text.contains("applied: 1 match logged as backfill")
            && text.contains("1 alert delivery queued"),
        "{text}"
    );
    assert_success(&workspace.run(&["once"]).await);
    let sent = alerts_sent(&workspace);
    assert_eq!(sent.len(), 4, "{sent:#?}");
    assert_eq!(sent[3]["topic"], "sat");
    assert_eq!(sent[3]["backfill"], true);
}
