//! The commands on a PostgreSQL database (`database = "postgres://…"`): the same match log
//! as on SQLite, and several daemons sharing one database through a node's death. Each test works in a schema of its own on the
//! server `WATCHWORD_TEST_POSTGRES` names (`.ci/postgres.sh` starts one); without it they
//! say so and pass.

use std::collections::BTreeSet;

use wiremock::MockServer;

use crate::e2e::{feeds_toml, serve};
use crate::support::{Workspace, assert_success};
use watchword::store::db::postgres::Pool;

/// A schema of its own on the test server, dropped at the end.
pub(crate) struct Schema {
    server: String,
    name: String,
}

impl Schema {
    pub(crate) fn create(test: &str) -> Option<Schema> {
        let Ok(server) = std::env::var("WATCHWORD_TEST_POSTGRES") else {
            eprintln!(
                "{test}: WATCHWORD_TEST_POSTGRES is not set, so this test is skipped \
                 (.ci/postgres.sh starts a server and prints the variable)"
            );
            return None;
        };
        let name = format!("it_{}_{test}", std::process::id());
        run_sql(&server, &format!("CREATE SCHEMA {name}")).unwrap();
        Some(Schema { server, name })
    }

    /// The database URL for a config: the server, with this schema as the search path.
    pub(crate) fn url(&self) -> String {
        let separator = if self.server.contains('?') { '&' } else { '?' };
        format!(
            "{}{separator}options=-csearch_path%3D{}",
            self.server, self.name
        )
    }
}

impl Schema {
    /// The single value of `query` (a count) in this schema.
    pub(crate) fn count(&self, query: &str) -> i64 {
        let url = self.url();
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    Pool::connect(&url)
                        .and_then(|pool| pool.with(|sql| sql.value::<i64>(query, &[])))
                        .unwrap()
                })
                .join()
                .expect("the thread runs")
        })
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = run_sql(&self.server, &format!("DROP SCHEMA {} CASCADE", self.name));
    }
}

/// Runs `statement` on the server, from a thread of its own: the pool waits for its queries,
/// which a test's async code may not do.
fn run_sql(server: &str, statement: &str) -> Result<(), String> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                Pool::connect(server)
                    .and_then(|pool| pool.with(|sql| sql.batch(statement)))
                    .map_err(|error| error.to_string())
            })
            .join()
            .expect("the thread runs")
    })
}

/// (topic, url, number of sources) of each logged match. Not its feed and title: which copy
/// of a story is polled first, and so becomes the match, varies with the polls running at once.
async fn log_of(workspace: &Workspace) -> BTreeSet<(String, String, usize)> {
    workspace
        .matches()
        .await
        .iter()
        .map(|m| {
            (
                m["topic"].as_str().unwrap().to_string(),
                m["url"].as_str().unwrap_or_default().to_string(),
                m["sources"].as_array().map_or(0, Vec::len),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_on_postgres_logs_what_it_logs_on_sqlite_and_polls_conditionally() {
    let Some(schema) = Schema::create("same_log") else {
        return;
    };
    let server = MockServer::start().await;
    serve(&server, "news.rss", "application/rss+xml", true, 1).await;
    serve(&server, "news.atom", "application/atom+xml", true, 1).await;
    serve(&server, "news.json", "application/feed+json", false, 1).await;
    let sqlite = Workspace::new(&feeds_toml(&server));
    let postgres = Workspace::with_database(&schema.url(), "", &feeds_toml(&server));

    assert_success(&sqlite.run(&["once"]).await);
    let first = postgres.run(&["once"]).await;
    assert_success(&first);
    let expected = log_of(&sqlite).await;
    assert!(!expected.is_empty());
    assert_eq!(log_of(&postgres).await, expected);

    // The validators were stored: the second poll is conditional and logs nothing new.
    let second = postgres.run(&["once"]).await;
    assert_success(&second);
    let stdout = String::from_utf8(second.stdout).unwrap();
    assert_eq!(stdout.matches("not modified").count(), 3, "{stdout}");
    assert_eq!(log_of(&postgres).await, expected);

    // The other commands read it too.
    let feeds = postgres.run(&["feeds", "--format", "json"]).await;
    assert_success(&feeds);
    let feeds: serde_json::Value = serde_json::from_slice(&feeds.stdout).unwrap();
    assert_eq!(feeds.as_array().unwrap().len(), 3);
    let check = postgres.run(&["check"]).await;
    assert_success(&check);
    let stdout = String::from_utf8(check.stdout).unwrap();
    assert!(stdout.contains("database: postgres://"), "{stdout}");
    server.verify().await;
}
