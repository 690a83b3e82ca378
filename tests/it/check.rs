//! `check` on the mistakes of an operator's first week (issue 17): every problem in one run,
//! unknown keys beside the rest with a "did you mean", a feed host without its scheme, and
//! `localhost` as the status endpoint's host.

use crate::support::{Workspace, assert_success};

#[tokio::test]
async fn check_reports_unknown_keys_beside_a_bad_duration_in_one_run() {
    let workspace = Workspace::new("");
    let config = "[daemon]\ndatabase = \"ww.db\"\nintervall = \"5m\"\ntimeout = \"5x\"\n\n[[feed]]\nname = \"local\"\nurl = \"feeds/local.xml\"\ncolour = \"red\"\n";
    std::fs::write(workspace.config(), config).unwrap();
    let output = workspace.run(&["check"]).await;
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let path = workspace.config().display().to_string();
    for expected in [
        format!("{path}:3:1: error: unknown key `intervall` in [daemon]; did you mean `interval`?"),
        format!("{path}:4:11: error: invalid duration \"5x\""),
        format!("{path}:9:1: error: unknown key `colour` in a [[feed]] (its keys: name, url,"),
    ] {
        assert!(stderr.contains(&expected), "{expected}\nnot in:\n{stderr}");
    }
    // In the file's order, each with its line and a caret.
    let at = |needle: &str| stderr.find(needle).unwrap();
    assert!(at("intervall") < at("invalid duration") && at("invalid duration") < at("colour"));
    assert!(stderr.contains("3 | intervall = \"5m\"\n  | ^"), "{stderr}");
    assert!(!stderr.contains("expected one of"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn check_refuses_a_feed_host_without_a_scheme_and_takes_localhost_to_listen_on() {
    let workspace = Workspace::new("");
    let config = "[http]\nlisten = \"localhost:8787\"\n\n[[feed]]\nname = \"remote\"\nurl = \"example.com/feed.xml\"\n";
    std::fs::write(workspace.config(), config).unwrap();
    let output = workspace.run(&["check"]).await;
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let path = workspace.config().display().to_string();
    assert!(
        stderr.contains(&format!(
            "{path}:6:7: error: no scheme: did you mean https://example.com/feed.xml?"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("listen"), "{stderr}");

    let config = "[http]\nlisten = \"localhost:8787\"\n\n[[feed]]\nname = \"local\"\nurl = \"feeds/local.xml\"\n";
    std::fs::write(workspace.config(), config).unwrap();
    let output = workspace.run(&["check"]).await;
    assert_success(&output);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains(": ok (1 feed, "), "{stdout}");
    // A path stays a path: only a warning that it is not there yet.
    assert!(stdout.contains("which does not exist (yet)"), "{stdout}");
}
