//! Retention end to end: `once` deletes old unmatched items and keeps the match log, and a
//! feed that still lists a deleted item does not make it new again.

use crate::support::{Workspace, assert_success, fixtures};

fn count(workspace: &Workspace, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(workspace.database()).unwrap();
    conn.query_row(sql, [], |row| row.get(0)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_unmatched_items_go_matches_stay_and_nothing_comes_back_as_new() {
    let workspace = Workspace::with_daemon(
        "keep_items = \"30d\"",
        &format!(
            "[[feed]]\nname = \"RSS wire\"\nurl = \"{}\"\n",
            fixtures().join("feeds/news.rss").display()
        ),
    );
    assert_success(&workspace.run(&["once"]).await);
    let (items, matches) = (
        count(&workspace, "SELECT COUNT(*) FROM items"),
        workspace.matches().await,
    );
    let matched_items = count(&workspace, "SELECT COUNT(DISTINCT item_id) FROM matches");
    assert!(items > matched_items && matched_items > 0);

    // Forty days pass; the feed still lists every item.
    let conn = rusqlite::Connection::open(workspace.database()).unwrap();
    conn.execute_batch(
        "UPDATE items SET first_seen = first_seen - 40 * 86400;
         UPDATE feeds SET next_due = NULL, etag = NULL, last_modified = NULL;",
    )
    .unwrap();
    drop(conn);
    let output = workspace.run(&["once"]).await;
    assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("0 new items"), "{stdout}");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("retention: deleted"), "{log}");
    assert_eq!(
        count(&workspace, "SELECT COUNT(*) FROM items"),
        matched_items,
        "only the matched items are left"
    );
    assert_eq!(workspace.matches().await, matches, "the match log is kept");

    // And again, the feed read in full: the deleted items are still recognised.
    let conn = rusqlite::Connection::open(workspace.database()).unwrap();
    conn.execute_batch("UPDATE feeds SET next_due = NULL, etag = NULL, last_modified = NULL;")
        .unwrap();
    drop(conn);
    let output = workspace.run(&["once"]).await;
    assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("0 new items"), "{stdout}");
    assert_eq!(
        count(&workspace, "SELECT COUNT(*) FROM items"),
        matched_items
    );
    assert_eq!(workspace.matches().await, matches);
}
