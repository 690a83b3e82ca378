//! The operator's first week (issue 17), what the commands print: tables that fit the
//! terminal, the innermost cause of a feed's error, `once` with `-q` and `-v`, counts with
//! their nouns, JSON logs with typed fields and quoted text log values, and the small defects
//! (`opml`, `test --feed` by name, `--since`, `matches` on a missing database or topic).

use std::process::{Command, Output};

use crate::support::{Workspace, assert_success, fixtures};

/// A feed name longer than the 24 columns the tables used to keep.
const LONG_NAME: &str = "Seoul Courier Daily Edition of the Korean Peninsula";

/// Two fixture feeds read from files (one with a long name) and one whose server refuses
/// the connection (a port on 127.0.0.1 that was free a moment ago).
fn feeds_with_a_refused_one() -> String {
    let dir = fixtures().join("feeds");
    let free_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!(
        "[[feed]]\nname = \"{LONG_NAME}\"\nurl = \"{}\"\n\n\
         [[feed]]\nname = \"Wire\"\nurl = \"{}\"\n\n\
         [[feed]]\nname = \"Refused\"\nurl = \"http://127.0.0.1:{free_port}/feed.xml\"\n",
        dir.join("news.rss").display(),
        dir.join("news.atom").display(),
    )
}

/// Runs the binary with `COLUMNS` set (`Some`) or unset (`None`: stdout is a pipe, so the
/// full width).
async fn run_at(workspace: &Workspace, columns: Option<usize>, args: &[&str]) -> Output {
    let mut command = workspace.command(args);
    match columns {
        Some(columns) => command.env("COLUMNS", columns.to_string()),
        None => command.env_remove("COLUMNS"),
    };
    output_of(command).await
}

async fn output_of(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("binary runs"))
        .await
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Panics unless every line of `text` fits in `columns` (the fixtures' text is one column a
/// character).
fn assert_fits(what: &str, text: &str, columns: usize) {
    for line in text.lines() {
        assert!(
            line.chars().count() <= columns,
            "{what}: a line of {} characters at COLUMNS={columns}:\n{line}\n\n{text}",
            line.chars().count()
        );
    }
}

/// The line of a table that starts with `first`.
fn row<'a>(table: &'a str, first: &str) -> &'a str {
    table
        .lines()
        .find(|line| line.starts_with(first))
        .unwrap_or_else(|| panic!("no row for {first:?}:\n{table}"))
}

#[tokio::test]
async fn tables_fit_the_terminal_and_pipes_get_the_full_width() {
    let workspace = Workspace::new(&feeds_with_a_refused_one());
    assert_success(&workspace.run(&["once"]).await);
    let logged = workspace.matches().await;
    assert!(logged.len() >= 3, "{logged:#?}");

    for args in [
        &["matches"][..],
        &["matches", "--sources"],
        &["feeds"],
        &["alerts"],
    ] {
        let output = run_at(&workspace, Some(80), args).await;
        assert_success(&output);
        let text = stdout(&output);
        assert_fits(&args.join(" "), &text, 80);
        if args == ["matches"] {
            // One line a match, the title cut rather than the row wrapped.
            assert_eq!(text.lines().count(), logged.len() + 1, "{text}");
            assert!(text.lines().next().unwrap().contains("TITLE"), "{text}");
            assert!(text.contains('…'), "{text}");
        }
    }

    // A wide terminal shows the whole feed name, which 24 columns used to cut.
    let wide = stdout(&run_at(&workspace, Some(200), &["feeds"]).await);
    assert_fits("feeds", &wide, 200);
    assert!(wide.contains(LONG_NAME), "{wide}");
    let wide = stdout(&run_at(&workspace, Some(200), &["matches"]).await);
    assert_fits("matches", &wide, 200);
    assert!(wide.contains(LONG_NAME), "{wide}");

    // Piped output is for scripts: nothing is cut.
    let piped = stdout(&run_at(&workspace, None, &["matches"]).await);
    for m in &logged {
        let line = row(&piped, &format!("{} ", m["match_id"]));
        assert!(line.contains(m["title"].as_str().unwrap()), "{line}");
        assert!(line.ends_with(m["url"].as_str().unwrap()), "{line}");
    }
    let piped = stdout(&run_at(&workspace, None, &["feeds"]).await);
    assert!(
        row(&piped, "Refused").contains("tcp connect error"),
        "{piped}"
    );
}

#[tokio::test]
async fn feeds_show_the_innermost_cause_of_an_error_first() {
    let workspace = Workspace::new(&feeds_with_a_refused_one());
    assert_success(&workspace.run(&["once"]).await);
    let output = run_at(&workspace, Some(80), &["feeds"]).await;
    assert_success(&output);
    let table = stdout(&output);
    let header = table.lines().next().unwrap();
    let error_at = header.find("LAST ERROR").expect("a LAST ERROR column");
    let refused = row(&table, "Refused");
    assert!(
        refused[error_at..].starts_with("Connection refused"),
        "the cause, not `error sending request`, comes first:\n{table}"
    );
    // JSON keeps the stored text as it is.
    let json = workspace.run(&["feeds", "--format", "json"]).await;
    let feeds: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let error = feeds
        .as_array()
        .unwrap()
        .iter()
        .find(|feed| feed["name"] == "Refused")
        .unwrap()["last_error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.starts_with("error sending request"), "{error}");
}

#[tokio::test]
async fn once_quiet_prints_its_summary_and_nothing_else() {
    // Off a terminal (a service, a test) `once` logs at info by default, as before.
    let workspace = Workspace::new(&feeds_with_a_refused_one());
    let mut command = workspace.command(&["once"]);
    command.env_remove("RUST_LOG");
    let plain = output_of(command).await;
    assert_success(&plain);
    assert!(stderr(&plain).contains(" INFO "), "{}", stderr(&plain));
    assert!(stderr(&plain).contains(" WARN "), "{}", stderr(&plain));

    // -q: the summary, and not even the refused feed's warning.
    let mut command = workspace.command(&["once", "-q"]);
    command.env_remove("RUST_LOG");
    let quiet = output_of(command).await;
    assert_success(&quiet);
    assert_eq!(stderr(&quiet), "", "no logs with -q");
    let summary = stdout(&quiet);
    assert!(row(&summary, LONG_NAME).contains("new items"), "{summary}");
    assert!(row(&summary, "Refused").contains("error:"), "{summary}");
    assert_eq!(summary.lines().count(), 3, "one line a feed: {summary}");

    // RUST_LOG, when set, wins over -v.
    let mut command = workspace.command(&["once", "-v"]);
    command.env("RUST_LOG", "error");
    let overridden = output_of(command).await;
    assert_success(&overridden);
    assert_eq!(stderr(&overridden), "");

    // -v is info.
    let fresh = Workspace::new(&feeds_with_a_refused_one());
    let mut command = fresh.command(&["--verbose", "once"]);
    command.env_remove("RUST_LOG");
    let verbose = output_of(command).await;
    assert_success(&verbose);
    assert!(stderr(&verbose).contains(" INFO "), "{}", stderr(&verbose));

    let both = workspace.run(&["once", "-q", "-v"]).await;
    assert_eq!(both.status.code(), Some(1), "{}", stderr(&both));
}

#[tokio::test]
async fn counts_agree_with_their_nouns() {
    let workspace = Workspace::new(&feeds_with_a_refused_one());
    let opml = workspace.dir.path().join("one.opml");
    std::fs::write(
        &opml,
        "<?xml version=\"1.0\"?><opml version=\"2.0\"><body>\
         <outline type=\"rss\" text=\"Extra\" xmlUrl=\"https://extra.example/rss\"/>\
         </body></opml>",
    )
    .unwrap();
    let imported = workspace
        .run(&["opml", "import", &opml.display().to_string()])
        .await;
    assert_success(&imported);
    assert!(
        stdout(&imported).contains("1 feed added, 0 skipped"),
        "{}",
        stdout(&imported)
    );

    let labels = workspace.dir.path().join("labels.jsonl");
    std::fs::write(
        &labels,
        "{\"id\": \"quiet\", \"title\": \"A quiet day at the harbour\", \"topics\": [\"satellite_launch\"]}\n",
    )
    .unwrap();
    let eval = workspace
        .run(&["eval", &labels.display().to_string()])
        .await;
    assert_success(&eval);
    let text = stdout(&eval);
    assert!(text.contains("1 item scored, 0 ignored"), "{text}");
    assert!(
        text.contains("satellite_launch: 1 false negative (labelled, not matched)"),
        "{text}"
    );
}

#[tokio::test]
async fn json_logs_have_typed_fields_at_the_top_level() {
    let workspace = Workspace::new(&feeds_with_a_refused_one());
    let output = workspace.run(&["--log-format", "json", "once"]).await;
    assert_success(&output);
    let events: Vec<serde_json::Value> = stderr(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert!(events.iter().all(|event| event.get("fields").is_none()));
    let event = |message: &str| {
        events
            .iter()
            .find(|event| event["message"] == message)
            .unwrap_or_else(|| panic!("no {message:?} event: {events:#?}"))
    };
    let matched = event("match");
    assert!(matched["terms"].is_array(), "{matched}");
    assert!(matched["terms"][0].is_string(), "{matched}");
    assert!(matched["topic"].is_string(), "{matched}");
    assert_eq!(matched["level"], "INFO");
    assert_eq!(matched["span"], "poll");
    // The poll's fields too, at the top level; its url beside the item's.
    assert!(matched["feed"].is_string(), "{matched}");
    assert!(matched["poll.url"].is_string(), "{matched}");
    assert!(matched["url"].as_str().unwrap().starts_with("https://"));
    let failed = event("poll failed");
    assert_eq!(failed["consecutive_errors"], 1, "{failed}");
    assert_eq!(failed["feed"], "Refused", "{failed}");
}

#[tokio::test]
async fn text_log_values_with_spaces_are_quoted() {
    let workspace = Workspace::new(&feeds_with_a_refused_one());
    let output = workspace.run(&["once"]).await;
    assert_success(&output);
    let log = stderr(&output);
    assert!(log.contains(&format!("feed=\"{LONG_NAME}\"")), "{log}");
    assert!(log.contains("feed=Wire "), "{log}");
    assert!(
        log.contains("poll failed error=\"error sending request"),
        "{log}"
    );
    let matched = log
        .lines()
        .find(|line| line.contains(": match topic="))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(matched.contains(" title=\""), "{matched}");
    assert!(matched.contains(" terms="), "{matched}");
}

#[tokio::test]
async fn opml_import_refuses_a_file_that_is_not_opml() {
    let workspace = Workspace::new(&feeds_with_a_refused_one());
    let before = std::fs::read_to_string(workspace.config()).unwrap();
    for (name, text) in [
        ("notes.txt", "these are my feeds, one day\n"),
        (
            "page.html",
            "<html><body><a href=\"/rss\">rss</a></body></html>",
        ),
    ] {
        let file = workspace.dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let output = workspace
            .run(&["opml", "import", &file.display().to_string()])
            .await;
        assert_eq!(output.status.code(), Some(1), "{name}: {}", stdout(&output));
        assert!(
            stderr(&output).contains("not valid OPML"),
            "{}",
            stderr(&output)
        );
        assert!(!stdout(&output).contains("added"), "{}", stdout(&output));
    }
    assert_eq!(std::fs::read_to_string(workspace.config()).unwrap(), before);
}

#[tokio::test]
async fn opml_export_writes_absolute_file_urls() {
    let workspace = Workspace::new("[[feed]]\nname = \"Local\"\nurl = \"news.rss\"\n");
    std::fs::copy(
        fixtures().join("feeds/news.rss"),
        workspace.dir.path().join("news.rss"),
    )
    .unwrap();
    // The config named by a relative path, so the feed's path is relative too.
    let mut command = Command::new(env!("CARGO_BIN_EXE_watchword"));
    command
        .current_dir(workspace.dir.path())
        .args(["--config", "watchword.toml", "opml", "export"])
        .env_remove("WATCHWORD_CONFIG");
    let output = output_of(command).await;
    assert_success(&output);
    let folder = std::fs::canonicalize(workspace.dir.path()).unwrap();
    let expected = format!("xmlUrl=\"file://{}/news.rss\"", folder.display());
    let text = stdout(&output);
    let lenient = format!(
        "xmlUrl=\"file://{}/news.rss\"",
        workspace.dir.path().display()
    );
    assert!(
        text.contains(&expected) || text.contains(&lenient),
        "{expected}:\n{text}"
    );
}

#[tokio::test]
async fn test_feed_takes_a_configured_feed_by_part_of_its_name() {
    let dir = fixtures().join("feeds");
    let workspace = Workspace::new(&format!(
        "[[feed]]\nname = \"Seoul Courier\"\nurl = \"{}\"\n\n\
         [[feed]]\nname = \"Seoul Herald\"\nurl = \"{}\"\n",
        dir.join("news.rss").display(),
        dir.join("news.atom").display(),
    ));
    for wanted in ["Seoul Courier", "seoul courier", "Courier"] {
        let output = workspace
            .run(&["test", "--feed", wanted, "--format", "jsonl"])
            .await;
        assert_success(&output);
        let lines = stdout(&output).lines().count();
        assert_eq!(lines, 5, "{wanted}: the five items of news.rss");
    }
    let several = workspace.run(&["test", "--feed", "seoul"]).await;
    assert_eq!(several.status.code(), Some(1));
    let message = stderr(&several);
    assert!(
        message.contains("\"Seoul Courier\"") && message.contains("\"Seoul Herald\""),
        "{message}"
    );
    let none = workspace.run(&["test", "--feed", "Tokyo Wire"]).await;
    assert_eq!(none.status.code(), Some(1), "{}", stderr(&none));
    assert!(stderr(&none).contains("Seoul Courier"), "{}", stderr(&none));
}

#[tokio::test]
async fn since_takes_weeks_today_and_yesterday() {
    let workspace = Workspace::new(&feeds_with_a_refused_one());
    assert_success(&workspace.run(&["once"]).await);
    let all = workspace.matches().await.len();
    for since in ["2w", "1 week", "today", "yesterday"] {
        let output = workspace
            .run(&["matches", "--since", since, "--format", "jsonl"])
            .await;
        assert_success(&output);
        assert_eq!(stdout(&output).lines().count(), all, "--since {since}");
    }
    let output = workspace.run(&["matches", "--since", "fortnight"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("2w"), "{}", stderr(&output));
}

#[tokio::test]
async fn matches_needs_a_database_and_a_known_topic() {
    let workspace = Workspace::new(&feeds_with_a_refused_one());
    let output = workspace.run(&["matches"]).await;
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stderr(&output).contains("does not exist"),
        "{}",
        stderr(&output)
    );
    assert!(
        !workspace.database().exists(),
        "matches creates no database"
    );

    assert_success(&workspace.run(&["once"]).await);
    let output = workspace.run(&["matches", "--topic", "nope"]).await;
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let message = stderr(&output);
    assert!(
        message.contains("missile_sale") && message.contains("satellite_launch"),
        "{message}"
    );

    // A topic taken out of the config still has its logged matches.
    let config = std::fs::read_to_string(workspace.config()).unwrap();
    std::fs::write(
        workspace.config(),
        config.replace("id = \"satellite_launch\"", "id = \"orbit\""),
    )
    .unwrap();
    let output = workspace
        .run(&[
            "matches",
            "--topic",
            "satellite_launch",
            "--format",
            "jsonl",
        ])
        .await;
    assert_success(&output);
    assert!(stdout(&output).lines().count() >= 1, "{}", stdout(&output));
}
