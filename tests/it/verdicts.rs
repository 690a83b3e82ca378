//! `judge` and what uses the verdicts: the `matches` column, `eval` without a file, the
//! backtest's and `check`'s verdict counts, export and import; on the real binary with the
//! RSS fixture and a temporary database.

use serde_json::Value;

use crate::support::{Workspace, assert_success, fixtures};

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// A workspace polling the RSS fixture with one topic `t`.
fn workspace_with_topic(query: &str) -> Workspace {
    let workspace = Workspace::new("");
    write_topic(&workspace, query);
    workspace
}

fn write_topic(workspace: &Workspace, query: &str) {
    let config = format!(
        "[daemon]\ndatabase = \"ww.db\"\n\n[[feed]]\nname = \"Harbor\"\nurl = \"{}\"\n\n[[topic]]\nid = \"t\"\ntitle = \"Missiles\"\nquery = '{query}'\n",
        fixtures().join("feeds/news.rss").display()
    );
    std::fs::write(workspace.config(), config).unwrap();
}

/// The logged match whose title contains `words`.
fn match_titled<'a>(logged: &'a [Value], words: &str) -> &'a Value {
    logged
        .iter()
        .find(|m| m["title"].as_str().unwrap().contains(words))
        .unwrap_or_else(|| panic!("no match titled …{words}… in {logged:#?}"))
}

#[tokio::test]
async fn a_match_judged_wrong_is_counted_when_an_edit_removes_it() {
    let workspace = workspace_with_topic("missile*");
    assert_success(&workspace.run(&["once"]).await);
    let logged = workspace.matches().await;
    assert_eq!(logged.len(), 3, "{logged:#?}");
    let poland = match_titled(&logged, "Poland")["match_id"].to_string();
    let japan = match_titled(&logged, "Japan")["match_id"].to_string();

    let judged = workspace
        .run(&["judge", &poland, "wrong", "--note", "a sale to Europe"])
        .await;
    assert_success(&judged);
    assert!(
        stdout(&judged).contains("judged wrong for t"),
        "{}",
        stdout(&judged)
    );
    assert_success(&workspace.run(&["judge", &japan, "right"]).await);
    let unknown = workspace.run(&["judge", "9999", "wrong"]).await;
    assert_eq!(unknown.status.code(), Some(1));

    // The verdicts show in the match log.
    let logged = workspace.matches().await;
    let poland_match = match_titled(&logged, "Poland");
    assert_eq!(poland_match["verdict"], "wrong");
    assert_eq!(poland_match["verdict_note"], "a sale to Europe");
    assert_eq!(match_titled(&logged, "cruise")["verdict"], Value::Null);
    let table = stdout(&workspace.run(&["matches"]).await);
    let row = table
        .lines()
        .find(|line| line.contains("Poland"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        row.split_whitespace().any(|cell| cell == "wrong"),
        "{table}"
    );

    // An edit that excludes Poland removes the match judged wrong and loses nothing right.
    write_topic(&workspace, "missile* AND NOT Poland");
    let backtest = workspace.run(&["test", "--backtest"]).await;
    assert_success(&backtest);
    let text = stdout(&backtest);
    assert!(
        text.contains(
            "verdicts on t (2 judged): removes 1 judged wrong, loses 0 judged right, recovers 0 judged missed"
        ),
        "{text}"
    );
    assert!(
        text.find("removes 1 judged wrong").unwrap() < text.find("- 2023-").unwrap(),
        "the verdict counts come before the list of changes: {text}"
    );
    let check = workspace.run(&["check"]).await;
    assert_success(&check);
    assert!(
        stdout(&check).contains("t +0 -1 [removes 1 judged wrong, loses 0 judged right"),
        "{}",
        stdout(&check)
    );
    let jsonl = workspace
        .run(&["test", "--backtest", "--format", "jsonl"])
        .await;
    let change: Value = serde_json::from_str(stdout(&jsonl).lines().next().unwrap()).unwrap();
    assert_eq!(change["verdict"], "wrong");
}

#[tokio::test]
async fn eval_without_a_file_scores_the_verdicts_and_they_export_and_import() {
    let workspace = workspace_with_topic("missile* AND NOT Poland");
    let none = workspace.run(&["eval"]).await;
    assert_eq!(none.status.code(), Some(1), "no database, no verdicts");
    assert_success(&workspace.run(&["once"]).await);
    let logged = workspace.matches().await;
    assert_eq!(logged.len(), 2, "{logged:#?}");
    let japan = match_titled(&logged, "Japan")["match_id"].to_string();
    let cruise = match_titled(&logged, "cruise")["match_id"].to_string();
    assert_success(&workspace.run(&["judge", &japan, "right"]).await);
    assert_success(&workspace.run(&["judge", &cruise, "wrong"]).await);
    let satellite =
        "https://harborline.example/asia/2023/11/22/north-korea-spy-satellite-orbit?utm_source=x";
    let missed = workspace
        .run(&["judge", "--missed", satellite, "--topic", "t"])
        .await;
    assert_success(&missed);
    assert!(
        stdout(&missed).contains("judged missed for t"),
        "{}",
        stdout(&missed)
    );
    let twice = workspace
        .run(&[
            "judge",
            "--missed",
            &logged[0]["item_id"].to_string(),
            "--topic",
            "t",
        ])
        .await;
    assert_eq!(
        twice.status.code(),
        Some(1),
        "a matched item is judged through its match"
    );

    // 1 right (TP), 1 wrong (FP), 1 missed (FN).
    let eval = workspace.run(&["eval"]).await;
    assert_success(&eval);
    let text = stdout(&eval);
    assert!(text.contains("3 items scored, 0 ignored"), "{text}");
    let row = text
        .lines()
        .find(|line| line.starts_with("t "))
        .unwrap_or_else(|| panic!("{text}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells, ["t", "1", "1", "1", "0.500", "0.500", "0.500"]);
    assert!(text.contains("North Korea says spy satellite"), "{text}");

    // The export is a labels file: eval reads it to the same figures.
    let export = workspace.run(&["judge", "--export"]).await;
    assert_success(&export);
    let labels = workspace.dir.path().join("labels.jsonl");
    std::fs::write(&labels, &export.stdout).unwrap();
    let lines: Vec<Value> = stdout(&export)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines
            .iter()
            .all(|line| line["judged"] == serde_json::json!(["t"]))
    );
    let labels = labels.display().to_string();
    let from_file = stdout(&workspace.run(&["eval", &labels]).await);
    assert!(
        from_file
            .lines()
            .any(|line| line.split_whitespace().collect::<Vec<_>>() == cells),
        "{from_file}"
    );

    // Imported into a fresh database of the same feed, the verdicts come back.
    std::fs::remove_file(workspace.database()).unwrap();
    assert_success(&workspace.run(&["once"]).await);
    let import = workspace.run(&["judge", "--import", &labels]).await;
    assert_success(&import);
    assert!(
        stdout(&import).contains("3 verdicts imported; 0 items not in the database"),
        "{}",
        stdout(&import)
    );
    let again = stdout(&workspace.run(&["eval"]).await);
    assert!(
        again
            .lines()
            .any(|line| line.split_whitespace().collect::<Vec<_>>() == cells),
        "{again}"
    );
    assert_eq!(
        match_titled(&workspace.matches().await, "cruise")["verdict"],
        "wrong"
    );
}
