//! Alert delivery end to end: the real binary logs matches from fixture feeds and delivers
//! them to receivers the tests run on 127.0.0.1 (a webhook, an SMTP server, a program, a
//! file), through failures, a 400, a digest window and a SIGKILL.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::{
    Daemon, Workspace, assert_signed, assert_success, fixtures, outbox, wait_for,
};

/// `[[feed]]` tables reading fixture files: news.rss (2 matches, one per topic) and
/// news.json (3 matches).
fn five_matches() -> String {
    let feeds = fixtures().join("feeds");
    format!(
        "[[feed]]\nname = \"RSS wire\"\nurl = \"{}\"\n\n[[feed]]\nname = \"JSON agency\"\nurl = \"{}\"\n",
        feeds.join("news.rss").display(),
        feeds.join("news.json").display()
    )
}

fn webhook(server: &MockServer, extra: &str) -> String {
    format!(
        "[[alert]]\nkind = \"webhook\"\nname = \"hook\"\nurl = \"{}/hook\"\n{extra}\n",
        server.uri()
    )
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn hook_requests(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|request| request.url.path() == "/hook")
        .collect()
}

fn body_json(request: &Request) -> serde_json::Value {
    serde_json::from_slice(&request.body).expect("the webhook body is JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_failing_three_times_gets_the_match_with_one_idempotency_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "1"))
        .up_to_n_times(3)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(204))
        .with_priority(2)
        .mount(&server)
        .await;
    let feeds = fixtures().join("feeds/news.rss");
    let workspace = Workspace::new(&format!(
        "[[feed]]\nname = \"RSS wire\"\nurl = \"{}\"\n\n{}",
        feeds.display(),
        webhook(&server, "topics = [\"satellite_launch\"]")
    ));

    let output = workspace.run(&["once"]).await;
    assert_success(&output);
    assert!(
        stdout(&output).contains("alerts: 1 delivered, 0 pending, 0 failed"),
        "{}",
        stdout(&output)
    );
    let requests = hook_requests(&server).await;
    assert_eq!(requests.len(), 4, "three failures, then the delivery");
    let keys: BTreeSet<String> = requests
        .iter()
        .map(|r| {
            r.headers
                .get("idempotency-key")
                .unwrap()
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(keys.len(), 1, "the same key on every try: {keys:?}");
    let body = body_json(&requests[3]);
    assert_eq!(body["matches"][0]["topic"], "satellite_launch");
    assert_eq!(
        body["matches"][0]["url"],
        "https://harborline.example/asia/2023/11/22/north-korea-spy-satellite-orbit"
    );
    assert!(body["text"].as_str().unwrap().contains("Malligyong-1"));

    let listed = workspace.run(&["alerts", "--state", "delivered"]).await;
    assert_success(&listed);
    let text = stdout(&listed);
    assert!(
        text.contains("delivered") && text.contains("hook"),
        "{text}"
    );
    assert_eq!(outbox(&workspace.database()), vec![("delivered".into(), 4)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_400_fails_at_once_and_alerts_retry_requeues_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(400).set_body_string("unknown channel"))
        .mount(&server)
        .await;
    let feeds = fixtures().join("feeds/news.rss");
    let workspace = Workspace::new(&format!(
        "[[feed]]\nname = \"RSS wire\"\nurl = \"{}\"\n\n{}",
        feeds.display(),
        webhook(&server, "topics = [\"missile_sale\"]\nformat = \"slack\"")
    ));

    let output = workspace.run(&["once"]).await;
    assert_success(&output);
    assert!(
        stdout(&output).contains("alerts: 0 delivered, 0 pending, 1 failed"),
        "{}",
        stdout(&output)
    );
    assert_eq!(
        hook_requests(&server).await.len(),
        1,
        "a 400 is not retried"
    );
    let slack = body_json(&hook_requests(&server).await[0]);
    assert!(
        slack["text"]
            .as_str()
            .unwrap()
            .contains("*US clears possible sale")
    );
    let listed = stdout(&workspace.run(&["alerts", "--state", "failed"]).await);
    assert!(listed.contains("http 400: unknown channel"), "{listed}");

    let retried = workspace.run(&["alerts", "retry", "--all-failed"]).await;
    assert_success(&retried);
    assert!(
        stdout(&retried).contains("requeued 1 delivery"),
        "{}",
        stdout(&retried)
    );
    assert_eq!(outbox(&workspace.database()), vec![("pending".into(), 0)]);
    let not_failed = workspace.run(&["alerts", "retry", "1"]).await;
    assert_eq!(
        not_failed.status.code(),
        Some(1),
        "only failed rows are requeued"
    );

    server.reset().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let output = workspace.run(&["once"]).await;
    assert_success(&output);
    assert!(
        stdout(&output).contains("alerts: 1 delivered"),
        "{}",
        stdout(&output)
    );
    assert_eq!(outbox(&workspace.database()), vec![("delivered".into(), 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_with_deliveries_pending_the_daemon_delivers_them_after_a_restart() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "1"))
        .mount(&server)
        .await;
    // Enough attempts that no row fails for good while the test watches.
    let workspace = Workspace::with_daemon(
        "alert_attempts = 1000",
        &format!("{}\n{}", five_matches(), webhook(&server, "")),
    );
    let database = workspace.database();

    let daemon = Daemon::start(&workspace, "first.log");
    // The sink is probed one row at a time while it fails; the others wait untried.
    wait_for(
        Duration::from_secs(20),
        "deliveries tried and failing",
        || {
            let rows = outbox(&database);
            async move {
                rows.len() == 5
                    && rows.iter().all(|(state, _)| state == "pending")
                    && rows.iter().any(|(_, tries)| *tries >= 2)
            }
        },
    )
    .await;
    let log = daemon.kill();
    assert!(log.contains("alert delivery failed; will retry"), "{log}");

    server.reset().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let daemon = Daemon::start(&workspace, "second.log");
    wait_for(Duration::from_secs(20), "every delivery made", || {
        let rows = outbox(&database);
        async move { rows.len() == 5 && rows.iter().all(|(state, _)| state == "delivered") }
    })
    .await;
    let (code, log) = daemon.stop().await;
    assert_eq!(code, Some(0), "{log}");
    let delivered: BTreeSet<i64> = hook_requests(&server)
        .await
        .iter()
        .map(|request| {
            body_json(request)["matches"][0]["match_id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    let logged: BTreeSet<i64> = workspace
        .matches()
        .await
        .iter()
        .map(|m| m["match_id"].as_i64().unwrap())
        .collect();
    assert_eq!(delivered, logged, "every logged match reached the sink");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_matches_within_the_digest_window_arrive_as_one_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let workspace = Workspace::new(&format!(
        "{}\n{}",
        five_matches(),
        webhook(&server, "digest = \"8s\"")
    ));
    let database = workspace.database();
    let daemon = Daemon::start(&workspace, "daemon.log");
    wait_for(Duration::from_secs(30), "the digest delivered", || {
        let rows = outbox(&database);
        async move { rows.len() == 5 && rows.iter().all(|(state, _)| state == "delivered") }
    })
    .await;
    let (code, log) = daemon.stop().await;
    assert_eq!(code, Some(0), "{log}");
    let requests = hook_requests(&server).await;
    assert_eq!(requests.len(), 1, "one message for the window");
    let body = body_json(&requests[0]);
    assert_eq!(body["matches"].as_array().unwrap().len(), 5);
    assert!(body["text"].as_str().unwrap().starts_with("5 new matches"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_receives_hostile_titles_verbatim_and_runs_nothing() {
    let workspace = Workspace::new("");
    let dir = workspace.dir.path().to_path_buf();
    let victim = dir.join("victim");
    std::fs::create_dir(&victim).unwrap();
    let title = format!(
        "North Korea launches spy satellite $(touch {0}/pwned); rm -rf {1} `touch {0}/pwned2` \"quoted\" 'single'",
        dir.display(),
        victim.display()
    );
    let escaped = title.replace('&', "&amp;").replace('<', "&lt;");
    std::fs::write(
        dir.join("hostile.rss"),
        format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Hostile</title>\
             <item><title>{escaped}</title><link>https://hostile.example/a?x=$(id)</link>\
             <guid>h-1</guid></item></channel></rss>"
        ),
    )
    .unwrap();
    let out = dir.join("out.json");
    let config = std::fs::read_to_string(workspace.config()).unwrap();
    std::fs::write(
        workspace.config(),
        format!(
            "{config}\n[[feed]]\nname = \"Hostile\"\nurl = \"hostile.rss\"\n\n\
             [[alert]]\nkind = \"exec\"\ncommand = [\"sh\", \"-c\", 'cat > \"$0\"; printf %s \"$WATCHWORD_TITLE\" > \"$0.title\"', \"{}\"]\n",
            out.display()
        ),
    )
    .unwrap();

    let output = workspace.run(&["once"]).await;
    assert_success(&output);
    assert!(
        stdout(&output).contains("alerts: 1 delivered"),
        "{}",
        stdout(&output)
    );
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(record["title"], title.as_str());
    // The query as the feed wrote it (canonical URLs keep queries byte for byte).
    assert_eq!(record["url"], "https://hostile.example/a?x=$(id)");
    assert_eq!(
        std::fs::read_to_string(dir.join("out.json.title")).unwrap(),
        title
    );
    assert!(!dir.join("pwned").exists() && !dir.join("pwned2").exists());
    assert!(victim.exists(), "nothing was removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonl_and_log_sinks_get_every_match_in_the_match_log_format() {
    let workspace = Workspace::new(&format!(
        "{}\n[[alert]]\nkind = \"jsonl\"\npath = \"alerts/matches.jsonl\"\n\n[[alert]]\nkind = \"log\"\ntemplate = \"{{topic}}: {{title}}\"\n",
        five_matches()
    ));
    let output = workspace.run(&["once"]).await;
    assert_success(&output);
    assert!(
        stdout(&output).contains("alerts: 10 delivered"),
        "{}",
        stdout(&output)
    );
    let written: Vec<serde_json::Value> =
        std::fs::read_to_string(workspace.dir.path().join("alerts/matches.jsonl"))
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
    let mut logged = workspace.matches().await;
    let mut written_sorted = written.clone();
    let by_id = |v: &serde_json::Value| v["match_id"].as_i64().unwrap();
    logged.sort_by_key(by_id);
    written_sorted.sort_by_key(by_id);
    assert_eq!(
        written_sorted, logged,
        "the same records as `matches --format jsonl`"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let events = stderr
        .lines()
        .filter(|line| line.contains("sink=log") && line.contains("text="))
        .count();
    assert_eq!(events, 5, "one log event per match: {stderr}");
    assert!(
        stderr.contains(
            "satellite_launch: North Korea says spy satellite Malligyong-1 reached orbit"
        ),
        "{stderr}"
    );
}

/// A minimal SMTP receiver: answers every command, keeps each message's envelope and data.
async fn smtp_receiver() -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 test ESMTP\r\n").await.unwrap();
                let mut transcript = String::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    transcript.push_str(&line);
                    transcript.push('\n');
                    let command = line.to_ascii_uppercase();
                    let reply: &[u8] = if command.starts_with("EHLO") {
                        b"250-test\r\n250 8BITMIME\r\n"
                    } else if command.starts_with("DATA") {
                        write.write_all(b"354 go on\r\n").await.unwrap();
                        while let Ok(Some(data)) = lines.next_line().await {
                            if data == "." {
                                break;
                            }
                            transcript.push_str(&data);
                            transcript.push('\n');
                        }
                        let _ = tx.send(std::mem::take(&mut transcript));
                        b"250 queued\r\n"
                    } else if command.starts_with("QUIT") {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        break;
                    } else {
                        b"250 ok\r\n"
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_goes_out_through_smtp() {
    let (port, mut messages) = smtp_receiver().await;
    let feeds = fixtures().join("feeds/news.rss");
    let workspace = Workspace::new(&format!(
        "[[feed]]\nname = \"RSS wire\"\nurl = \"{}\"\n\n[[alert]]\nkind = \"email\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"watchword <watchword@example.org>\"\nto = [\"ops@example.org\", \"desk@example.org\"]\ntopics = [\"missile_sale\"]\n",
        feeds.display()
    ));
    let output = workspace.run(&["once"]).await;
    assert_success(&output);
    assert!(
        stdout(&output).contains("alerts: 1 delivered"),
        "{}",
        stdout(&output)
    );
    let message = messages.try_recv().expect("one email arrived");
    assert!(message.contains("RCPT TO:<ops@example.org>"), "{message}");
    assert!(message.contains("RCPT TO:<desk@example.org>"), "{message}");
    assert!(
        // The topic is named by its title.
        message.contains("Subject: [watchword] US missile sales to Japan and South Korea:"),
        "{message}"
    );
    assert!(message.contains("text/html"), "{message}");
    assert!(messages.try_recv().is_err(), "exactly one email");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matches_follow_prints_matches_as_they_are_logged() {
    let workspace = Workspace::new(&five_matches());
    let mut follower = workspace
        .command(&["matches", "--follow", "--format", "jsonl"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = follower.stdout.take().unwrap();
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    assert_success(&workspace.run(&["once"]).await);
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while seen.len() < 5 {
        match tokio::time::timeout_at(deadline, lines.recv()).await {
            Ok(Some(line)) => seen.push(serde_json::from_str::<serde_json::Value>(&line).unwrap()),
            _ => panic!("follow printed {} of 5 matches: {seen:?}", seen.len()),
        }
    }
    follower.kill().unwrap();
    follower.wait().unwrap();
    let ids: BTreeSet<i64> = seen
        .iter()
        .map(|m| m["match_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 5, "each match once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exec_over_its_timeout_is_killed_and_the_delivery_fails() {
    let feeds = fixtures().join("feeds/news.rss");
    let workspace = Workspace::with_daemon(
        "alert_attempts = 1",
        &format!(
            "[[feed]]\nname = \"RSS wire\"\nurl = \"{}\"\n\n[[alert]]\nkind = \"exec\"\ncommand = [\"sleep\", \"30\"]\ntimeout = \"1s\"\ntopics = [\"missile_sale\"]\n",
            feeds.display()
        ),
    );
    let output = workspace.run(&["once"]).await;
    assert_success(&output);
    assert!(
        stdout(&output).contains("alerts: 0 delivered, 0 pending, 1 failed"),
        "{}",
        stdout(&output)
    );
    let listed = stdout(&workspace.run(&["alerts"]).await);
    assert!(
        listed.contains("\"sleep\" timed out after 1s and was killed"),
        "{listed}"
    );
}

/// The Idempotency-Keys a receiver got, each once.
async fn keys_received(server: &MockServer) -> BTreeSet<String> {
    hook_requests(server)
        .await
        .iter()
        .map(|r| {
            r.headers
                .get("idempotency-key")
                .unwrap()
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// Lines in the jsonl sink's file so far.
fn jsonl_lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |text| text.lines().count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_never_answers_does_not_hold_up_the_jsonl_sink() {
    // The webhook accepts and answers after a minute; its timeout is 30 s.
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
        .mount(&hook)
        .await;
    // The second feed answers after 3 s, while the webhook hangs on the first feed's rows.
    let slow_feed = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/news.json"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_bytes(crate::support::fixture("feeds/news.json"))
                .insert_header("content-type", "application/feed+json")
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&slow_feed)
        .await;
    let rss = fixtures().join("feeds/news.rss");
    let workspace = Workspace::new(&format!(
        "[[feed]]\nname = \"RSS wire\"\nurl = \"{}\"\n\n[[feed]]\nname = \"JSON agency\"\nurl = \"{}/news.json\"\n\n{}\n[[alert]]\nkind = \"jsonl\"\npath = \"alerts/matches.jsonl\"\n",
        rss.display(),
        slow_feed.uri(),
        webhook(&hook, "timeout = \"30s\"")
    ));
    let written = workspace.dir.path().join("alerts/matches.jsonl");
    let daemon = Daemon::start(&workspace, "daemon.log");
    // All five matches, the slow feed's three included, reach the file while every
    // webhook send is still hanging (before its first 30 s timeout).
    wait_for(
        Duration::from_secs(20),
        "five lines in the jsonl sink",
        || {
            let lines = jsonl_lines(&written);
            async move { lines == 5 }
        },
    )
    .await;
    assert!(
        hook_requests(&hook).await.len() <= 1,
        "the webhook is still on its first row"
    );
    let (code, log) = daemon.stop().await;
    assert_eq!(code, Some(0), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_left_in_a_long_backoff_goes_as_soon_as_the_sink_takes_messages_again() {
    // First run: the receiver is down and asks for an hour's rest.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "3600"))
        .mount(&server)
        .await;
    let workspace = Workspace::with_daemon(
        "alert_wait = \"2s\"",
        &format!("{}\n{}", five_matches(), webhook(&server, "")),
    );
    let output = workspace.run(&["once"]).await;
    assert_success(&output);
    let rows = outbox(&workspace.database());
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|(state, _)| state == "pending"), "{rows:?}");
    assert_eq!(
        hook_requests(&server).await.len(),
        1,
        "one probe, then the sink rests as asked"
    );

    // The receiver is back: the row told to wait an hour goes with the others.
    server.reset().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let database = workspace.database();
    let daemon = Daemon::start(&workspace, "daemon.log");
    wait_for(Duration::from_secs(15), "every delivery made", || {
        let rows = outbox(&database);
        async move { rows.len() == 5 && rows.iter().all(|(state, _)| state == "delivered") }
    })
    .await;
    let (code, log) = daemon.stop().await;
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(keys_received(&server).await.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_from_the_environment_signs_its_body_with_its_secret() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    // The file holds no secret: the address and the key come from the environment.
    let workspace = Workspace::new(&format!(
        "{}\n[[alert]]\nkind = \"webhook\"\nname = \"hook\"\nurl = {{ env = \"TEST_HOOK_URL\" }}\n\
         secret = {{ env = \"TEST_HOOK_KEY\" }}\ntopics = [\"satellite_launch\"]\n",
        five_matches()
    ));
    let output = workspace
        .command(&["once"])
        .env("TEST_HOOK_URL", format!("{}/hook", server.uri()))
        .env("TEST_HOOK_KEY", "whsec-local")
        .output()
        .unwrap();
    assert_success(&output);
    let requests = hook_requests(&server).await;
    assert!(!requests.is_empty());
    for request in &requests {
        assert_signed(request, b"whsec-local");
    }

    // Without the variable the sink cannot be built, and `once` says which is missing.
    let output = workspace
        .command(&["once"])
        .env_remove("TEST_HOOK_URL")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("alert hook: url: environment variable TEST_HOOK_URL is not set"),
        "{stderr}"
    );
}
