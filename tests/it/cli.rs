//! The command line: exit codes, `check` diagnostics, `matches` formats and filters.

use crate::support::{Workspace, assert_success, fixtures};

fn local_feeds() -> String {
    let dir = fixtures().join("feeds");
    ["news.rss", "news.atom", "news.json"]
        .iter()
        .map(|file| {
            format!(
                "[[feed]]\nname = \"{file}\"\nurl = \"{}\"\n",
                dir.join(file).display()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn check_accepts_a_good_config() {
    let workspace = Workspace::new(&local_feeds());
    let output = workspace.run(&["check"]).await;
    assert_success(&output);
    assert!(String::from_utf8_lossy(&output.stdout).contains(": ok (3 feeds, 2 topics"));
}

#[tokio::test]
async fn check_lists_every_problem_with_file_line_and_column() {
    let workspace = Workspace::new("");
    let config = "[daemon]\ninterval = \"soon\"\n\n[[feed]]\nname = \"x\"\nurl = \"gopher://x\"\n\n[[topic]]\nid = \"t\"\nquery = '(satellite'\n";
    std::fs::write(workspace.config(), config).unwrap();
    let output = workspace.run(&["check"]).await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    let path = workspace.config().display().to_string();
    assert!(
        stderr.contains(&format!("{path}:2:12: error: invalid duration")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{path}:6:7: error: unsupported url scheme")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{path}:10:10: error: in query")),
        "{stderr}"
    );
    assert!(
        stderr.contains("query = '(satellite'\n   |          ^"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn user_errors_exit_1_and_runtime_failures_exit_2_without_a_panic() {
    let workspace = Workspace::new(&local_feeds());
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_watchword"));
    command.args(["--config", "/nonexistent/ww.toml", "once"]);
    let missing = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("cannot read config file /nonexistent/ww.toml"),
        "{stderr}"
    );

    let bad_since = workspace.run(&["matches", "--since", "last tuesday"]).await;
    assert_eq!(bad_since.status.code(), Some(1));
    let bad_flag = workspace.run(&["matches", "--colour"]).await;
    assert_eq!(
        bad_flag.status.code(),
        Some(1),
        "a usage error is a user error"
    );
    let help = workspace.run(&["--help"]).await;
    assert_success(&help);

    // A database path that cannot be created (its folder is a file).
    std::fs::write(workspace.dir.path().join("blocker"), "").unwrap();
    let config = std::fs::read_to_string(workspace.config())
        .unwrap()
        .replace("database = \"ww.db\"", "database = \"blocker/ww.db\"");
    std::fs::write(workspace.config(), config).unwrap();
    let unwritable = workspace.run(&["once"]).await;
    assert_eq!(unwritable.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unwritable.stderr);
    assert!(stderr.contains("blocker"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn the_config_is_found_through_the_environment() {
    let workspace = Workspace::new(&local_feeds());
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_watchword"));
    command
        .arg("check")
        .env("WATCHWORD_CONFIG", workspace.config());
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert_success(&output);
}

#[tokio::test]
async fn matches_formats_and_filters() {
    let workspace = Workspace::new(&local_feeds());
    assert_success(&workspace.run(&["once"]).await);
    let all = workspace.matches().await;
    assert!(all.len() >= 2, "{all:#?}");

    let table = workspace.run(&["matches"]).await;
    assert_success(&table);
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.starts_with("ID  MATCHED (UTC)"), "{table}");
    assert!(
        table.lines().next().unwrap().contains("  VERDICT  "),
        "{table}"
    );
    assert_eq!(table.lines().count(), all.len() + 1);

    let json = workspace.run(&["matches", "--format", "json"]).await;
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), all.len());

    let csv = workspace.run(&["matches", "--format", "csv"]).await;
    let csv = String::from_utf8(csv.stdout).unwrap();
    assert!(csv.starts_with(
        "match_id,topic,matched_at,feed,title,url,published,terms,sources,verdict,backfill\n"
    ));

    let topic = all[0]["topic"].as_str().unwrap();
    let only = workspace
        .run(&["matches", "--format", "jsonl", "--topic", topic])
        .await;
    let only = String::from_utf8(only.stdout).unwrap();
    let n_topic = all.iter().filter(|m| m["topic"] == topic).count();
    assert_eq!(only.lines().count(), n_topic);

    let limited = workspace
        .run(&["matches", "--format", "jsonl", "--limit", "1"])
        .await;
    assert_eq!(
        String::from_utf8(limited.stdout).unwrap().lines().count(),
        1
    );

    // --since filters on the time of the match: everything was matched just now.
    let recent = workspace
        .run(&["matches", "--format", "jsonl", "--since", "1h"])
        .await;
    assert_eq!(
        String::from_utf8(recent.stdout).unwrap().lines().count(),
        all.len()
    );
    let future = workspace
        .run(&[
            "matches",
            "--format",
            "jsonl",
            "--since",
            "2999-01-01T00:00:00Z",
        ])
        .await;
    assert_eq!(String::from_utf8(future.stdout).unwrap().lines().count(), 0);
}

#[tokio::test]
async fn a_closed_pipe_is_not_an_error() {
    let workspace = Workspace::new(&local_feeds());
    assert_success(&workspace.run(&["once"]).await);
    for format in ["jsonl", "json", "table", "csv"] {
        let mut command = workspace.command(&["matches", "--format", format]);
        command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let status = tokio::task::spawn_blocking(move || {
            let mut child = command.spawn().unwrap();
            // Close the reading end before the command writes, like `| head -0`.
            drop(child.stdout.take());
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap();
        assert_eq!(
            status.status.code(),
            Some(0),
            "{format}: {}",
            String::from_utf8_lossy(&status.stderr)
        );
    }
}

#[tokio::test]
async fn check_warns_on_lower_case_operators_and_rejects_common_query_mistakes() {
    let workspace = Workspace::new("");
    let path = workspace.config().display().to_string();
    let write = |query: &str| {
        let config = format!("[[topic]]\nid = \"t\"\ntitle = \"A topic\"\nquery = {query}\n");
        std::fs::write(workspace.config(), config).unwrap();
    };

    write("'missile and sale'");
    let output = workspace.run(&["check"]).await;
    assert_success(&output);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains(&format!(
            "{path}:4:18: warning: in query: `and` between terms is matched as a word"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("write `AND`"), "{stdout}");

    write("'*satellite'");
    let output = workspace.run(&["check"]).await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains(&format!("{path}:4:10: error: in query: a leading * in")),
        "{stderr}"
    );

    write("'North Korea's satellite'");
    let output = workspace.run(&["check"]).await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("query = '''…'''"), "{stderr}");
}
