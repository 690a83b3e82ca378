//! Stories end to end: five feeds served on 127.0.0.1 carry one story as five edited wire
//! copies (rewritten headlines, tracking parameters, small summary edits) among two other
//! stories on the same topic and day; a month later the same headline comes back. The
//! copies must make one story, one match and one alert listing all five sources; the other
//! stories and the later one must stay apart.

use std::collections::BTreeSet;

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Workspace, assert_success, fixture};

/// A topic that every story of the test matches, so only stories tell them apart.
const TOPIC: &str = "[[topic]]\nid = \"korea_sat\"\nquery = 'satellite AND (korea* OR pyongyang OR seoul OR dprk)'\n";

async fn serve(server: &MockServer, route: &str, fixture_name: &str) {
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/rss+xml")
                .set_body_bytes(fixture(&format!("stories/{fixture_name}"))),
        )
        .mount(server)
        .await;
}

fn alerts(workspace: &Workspace) -> Vec<serde_json::Value> {
    std::fs::read_to_string(workspace.dir.path().join("alerts.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .filter(|alert: &serde_json::Value| alert["topic"] == "korea_sat")
        .collect()
}

fn source_feeds(record: &serde_json::Value) -> BTreeSet<String> {
    record["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|source| source["feed"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wire_copies_make_one_story_with_one_alert_and_other_stories_stay_apart() {
    let server = MockServer::start().await;
    let mut feeds = String::new();
    for n in 1..=5 {
        serve(&server, &format!("/wire{n}.xml"), &format!("wire{n}.xml")).await;
        feeds.push_str(&format!(
            "[[feed]]\nname = \"Wire {n}\"\nurl = \"{}/wire{n}.xml\"\n\n",
            server.uri()
        ));
    }
    let workspace = Workspace::new(&format!(
        "{feeds}[[alert]]\nkind = \"jsonl\"\npath = \"alerts.jsonl\"\ntopics = [\"korea_sat\"]\n\n{TOPIC}"
    ));
    assert_success(&workspace.run(&["once"]).await);

    // One match per story: the launch (five copies), the Security Council meeting (two) and
    // South Korea's own launch (one).
    let logged: Vec<serde_json::Value> = workspace
        .matches()
        .await
        .into_iter()
        .filter(|m| m["topic"] == "korea_sat")
        .collect();
    let by_sources = |n: usize| {
        logged
            .iter()
            .filter(|m| m["sources"].as_array().unwrap().len() == n)
            .collect::<Vec<_>>()
    };
    assert_eq!(logged.len(), 3, "{logged:#?}");
    let launch = by_sources(5);
    assert_eq!(launch.len(), 1, "{logged:#?}");
    let launch = launch[0];
    assert_eq!(
        source_feeds(launch),
        (1..=5)
            .map(|n| format!("Wire {n}"))
            .collect::<BTreeSet<_>>()
    );
    // The row is its first source's.
    let first = &launch["sources"][0];
    assert_eq!(launch["title"], first["title"]);
    assert_eq!(launch["url"], first["url"]);
    assert_eq!(launch["feed"], first["feed"]);
    // Tracking parameters are gone from every source's link.
    for source in launch["sources"].as_array().unwrap() {
        let url = source["url"].as_str().unwrap();
        assert!(
            !url.contains("utm_") && !url.contains("fbclid") && !url.contains("gclid"),
            "{url}"
        );
    }
    let council = by_sources(2);
    assert_eq!(council.len(), 1, "{logged:#?}");
    assert_eq!(
        source_feeds(council[0]),
        BTreeSet::from(["Wire 1".into(), "Wire 3".into()])
    );
    assert!(
        council[0]["title"]
            .as_str()
            .unwrap()
            .contains("Security Council")
    );
    let seoul = by_sources(1);
    assert_eq!(seoul.len(), 1, "{logged:#?}");
    assert!(
        seoul[0]["title"]
            .as_str()
            .unwrap()
            .starts_with("South Korea launches")
    );

    // One alert per story, sent after the poll: it lists every source known then.
    let sent = alerts(&workspace);
    assert_eq!(sent.len(), 3, "{sent:#?}");
    let launch_alert = sent
        .iter()
        .find(|alert| alert["match_id"] == launch["match_id"])
        .expect("the launch was alerted");
    assert_eq!(source_feeds(launch_alert).len(), 5);

    // `matches --sources` lists them under the row.
    let output = workspace
        .run(&["matches", "--topic", "korea_sat", "--sources"])
        .await;
    assert_success(&output);
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(table.lines().next().unwrap().contains("SOURCES"), "{table}");
    assert_eq!(
        table
            .lines()
            .filter(|line| line.starts_with("    "))
            .count(),
        8,
        "{table}"
    );

    // A month passes: the database is aged by 30 days, as the clock would have done it. The
    // same headline then comes back in Wire 1 (a second launch): outside the story window it
    // is a new story with its own alert, and the old copy seen again is nothing new.
    let month = 30 * 24 * 3600;
    {
        let db = rusqlite::Connection::open(workspace.database()).unwrap();
        db.execute_batch(&format!(
            "UPDATE stories SET first_seen = first_seen - {month};
             UPDATE story_members SET first_seen = first_seen - {month};
             UPDATE items SET first_seen = first_seen - {month};
             UPDATE matches SET matched_at = matched_at - {month};
             UPDATE match_sources SET seen = seen - {month};"
        ))
        .unwrap();
    }
    server.reset().await;
    serve(&server, "/wire1.xml", "wire1-later.xml").await;
    for n in 2..=5 {
        serve(&server, &format!("/wire{n}.xml"), &format!("wire{n}.xml")).await;
    }
    assert_success(&workspace.run(&["once"]).await);
    let logged: Vec<serde_json::Value> = workspace
        .matches()
        .await
        .into_iter()
        .filter(|m| m["topic"] == "korea_sat")
        .collect();
    assert_eq!(logged.len(), 4, "{logged:#?}");
    let later = &logged[3];
    assert!(
        later["url"]
            .as_str()
            .unwrap()
            .contains("nk-second-satellite"),
        "{later:#}"
    );
    assert_eq!(later["sources"].as_array().unwrap().len(), 1);
    assert_eq!(alerts(&workspace).len(), 4);
}
