//! Article text for headline-only feeds (`fetch_article`): the linked page is fetched once
//! per canonical URL, its main text matched as the `article` field, and a link to a private
//! address refused unless the config allows it.

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Workspace, assert_success};

/// An RSS feed of `(title, description, link)` items.
fn rss(items: &[(&str, &str, &str)]) -> String {
    let items: String = items
        .iter()
        .enumerate()
        .map(|(i, (title, description, link))| {
            format!(
                "<item><guid>item-{i}-{title}</guid><title>{title}</title>\
                 <description>{description}</description><link>{link}</link></item>"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>{items}</channel></rss>"
    )
}

const STORY_PAGE: &str = r#"<!doctype html><html><head><title>Wire</title></head><body>
<header><nav>Home · World · SpaceX launches another Starlink batch</nav></header>
<article><h1>Launch reported</h1>
<p>North Korea said it put its first military spy satellite, the Malligyong-1, into orbit
late on Tuesday, days after Japan approved the purchase of Tomahawk missiles.</p></article>
<footer>Subscribe</footer></body></html>"#;

/// Two feeds carry the same headline-only item (with different tracking parameters) and a
/// third item with a long summary; the story page is served at `/story`.
async fn serve(server: &MockServer, story_requests: u64) {
    let long_summary = "Officials met in Geneva to talk about trade and fisheries. ".repeat(8);
    let feed_a = rss(&[
        (
            "Launch reported",
            "",
            &format!("{}/story?utm_source=rss", server.uri()),
        ),
        (
            "Trade talks",
            &long_summary,
            &format!("{}/long", server.uri()),
        ),
    ]);
    let feed_b = rss(&[(
        "Launch reported",
        "via wire",
        &format!("{}/story?fbclid=abc", server.uri()),
    )]);
    for (route, body) in [("/a.xml", feed_a), ("/b.xml", feed_b)] {
        Mock::given(method("GET"))
            .and(path(route))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/rss+xml"))
            .mount(server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/story"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(STORY_PAGE, "text/html; charset=utf-8")
                // Slow enough that both feeds' polls want the page at the same time.
                .set_delay(std::time::Duration::from_millis(300)),
        )
        .expect(story_requests)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/long"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("<p>x</p>", "text/html"))
        .expect(0)
        .mount(server)
        .await;
}

fn feeds(server: &MockServer) -> String {
    format!(
        "[[feed]]\nname = \"A\"\nurl = \"{0}/a.xml\"\n\n[[feed]]\nname = \"B\"\nurl = \"{0}/b.xml\"\n",
        server.uri()
    )
}

#[tokio::test]
async fn a_headline_only_item_matches_through_its_article_fetched_once() {
    let server = MockServer::start().await;
    serve(&server, 1).await;
    let workspace = Workspace::with_daemon(
        "fetch_article = \"short\"\nallow_private_targets = true\nper_host = 2",
        &feeds(&server),
    );
    let output = workspace.run(&["once"]).await;
    assert_success(&output);
    let matches = workspace.matches().await;
    let satellite: Vec<_> = matches
        .iter()
        .filter(|m| m["topic"] == "satellite_launch")
        .collect();
    assert_eq!(satellite.len(), 1, "{matches:#?}");
    let fields: Vec<&str> = satellite[0]["explain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["field"].as_str().unwrap())
        .collect();
    assert!(fields.iter().all(|field| *field == "article"), "{fields:?}");
    let snippet = satellite[0]["explain"][0]["snippet"].as_str().unwrap();
    assert!(!snippet.contains("SpaceX"), "navigation leaked: {snippet}");
    // A second run finds nothing new and fetches nothing (the mock expects one request).
    assert_success(&workspace.run(&["once"]).await);
    server.verify().await;
}

#[tokio::test]
async fn a_link_to_a_private_address_is_refused_by_default() {
    let server = MockServer::start().await;
    serve(&server, 0).await;
    let workspace = Workspace::with_daemon("fetch_article = \"always\"", &feeds(&server));
    let output = workspace.run(&["once"]).await;
    assert_success(&output);
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("refused"), "{log}");
    assert!(log.contains("allow_private_targets"), "{log}");
    assert!(
        workspace
            .matches()
            .await
            .iter()
            .all(|m| m["topic"] != "satellite_launch")
    );
    server.verify().await;
}
