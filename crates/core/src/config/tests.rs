use std::path::Path;
use std::time::Duration;

use super::*;

const GOOD: &str = r#"
[daemon]
database = "db/ww.db"
interval = "20m"
max_concurrent = 8
per_host = 1
max_body = "2MiB"

[alias]
north_korea = ["North Korea", "DPRK", "Pyongyang"]

[[feed]]
name = "Local"
url = "feeds/news.xml"

[[feed]]
name = "Remote"
url = "https://EXAMPLE.com/rss.xml"
interval = "1h"

[[topic]]
id = "satellite_launch"
title = "Spy satellite"
query = '@north_korea AND "spy satellite"'
"#;

/// Compiles `text` as if read from `/etc/ww/watchword.toml`; returns the rendered errors.
fn errors(text: &str) -> Vec<String> {
    let (config, diagnostics) = compile(Path::new("/etc/ww/watchword.toml"), text);
    assert_eq!(config.is_none(), !diagnostics.is_empty());
    diagnostics
        .iter()
        .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
        .collect()
}

/// Asserts that `text` fails with exactly one error at `line:col` whose message contains
/// `needle`.
fn check_error(text: &str, line_col: &str, needle: &str) {
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with(&format!("{line_col}: ")) && errors[0].contains(needle),
        "expected {line_col}: …{needle}…, got {:?}",
        errors[0]
    );
}

#[test]
fn a_good_config_compiles_with_defaults_and_resolved_paths() {
    let (config, diagnostics) = compile(Path::new("/etc/ww/watchword.toml"), GOOD);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let config = config.unwrap();
    assert_eq!(config.daemon.database, Path::new("/etc/ww/db/ww.db"));
    assert_eq!(config.daemon.interval, Duration::from_secs(20 * 60));
    assert_eq!(config.daemon.max_concurrent, 8);
    assert_eq!(config.daemon.per_host, 1);
    assert_eq!(config.daemon.timeout, Duration::from_secs(30));
    assert_eq!(config.daemon.connect_timeout, Duration::from_secs(10));
    assert_eq!(config.daemon.max_body, 2 * 1024 * 1024);
    assert_eq!(
        config.feeds[0].source,
        FeedSource::File("/etc/ww/feeds/news.xml".into())
    );
    assert_eq!(config.feeds[0].interval, Duration::from_secs(20 * 60));
    assert_eq!(config.feeds[1].source.host(), Some("example.com"));
    assert_eq!(config.feeds[1].interval, Duration::from_secs(3600));
    assert_eq!(config.topics[0].id, "satellite_launch");
    assert_eq!(config.topics[0].title.as_deref(), Some("Spy satellite"));
}

#[test]
fn an_empty_config_uses_the_default_database_next_to_the_file() {
    let (config, _) = compile(Path::new("/srv/config/watchword.toml"), "");
    let config = config.unwrap();
    assert_eq!(
        config.daemon.database,
        Path::new("/srv/config/../data/watchword.db")
    );
    assert_eq!(config.daemon.interval, Duration::from_secs(15 * 60));
    assert_eq!(config.daemon.max_concurrent, 16);
    assert_eq!(config.daemon.per_host, 2);
    assert_eq!(config.daemon.max_body, 10 * 1024 * 1024);
}

#[test]
fn bad_toml_keeps_the_parsers_position() {
    check_error(
        "[daemon]\ninterval = \"15m\n",
        "2:16",
        "invalid basic string",
    );
}

#[test]
fn unknown_keys_are_rejected_where_they_are() {
    check_error(
        "[daemon]\nintervl = \"15m\"\n",
        "2:1",
        "unknown key `intervl` in [daemon]; did you mean `interval`?",
    );
    check_error(
        "[[feed]]\nname = \"a\"\nurl = \"a.xml\"\ncolor = \"red\"\n",
        "4:1",
        "unknown key `color` in a [[feed]] (its keys: name, url, interval, fetch_article, first_poll, stale_after, user_agent)",
    );
}

#[test]
fn bad_durations_and_sizes_point_at_the_value() {
    check_error(
        "[daemon]\ninterval = \"15 minutes\"\n",
        "2:12",
        "unknown unit",
    );
    check_error(
        "[daemon]\ninterval = \"30s\"\n",
        "2:12",
        "below the minimum of 1m",
    );
    check_error(
        "[[feed]]\nname = \"a\"\nurl = \"a.xml\"\ninterval = \"10s\"\n",
        "4:12",
        "below the minimum of 1m",
    );
    check_error("[daemon]\nmax_body = \"ten\"\n", "2:12", "invalid size");
    check_error("[daemon]\nper_host = 0\n", "2:12", "between 1 and 10000");
}

#[test]
fn absurd_durations_and_sizes_are_errors_at_the_value() {
    // Each of these once passed `check` and then panicked a poll, hot-looped, failed every
    // poll that logged a match, or broke file feeds.
    check_error(
        "[[feed]]\nname = \"a\"\nurl = \"a.xml\"\ninterval = \"10000000000h\"\n",
        "4:12",
        "too large (at most 36500d",
    );
    check_error(
        "[[feed]]\nname = \"a\"\nurl = \"a.xml\"\ninterval = \"213503982336d\"\n",
        "4:12",
        "too large",
    );
    check_error(
        "[daemon]\ninterval = \"31d\"\n",
        "2:12",
        "interval 31d is above the maximum of 30d",
    );
    check_error(
        "[[alert]]\nkind = \"log\"\ndigest = \"10000000000h\"\n",
        "3:10",
        "too large",
    );
    check_error(
        "[[alert]]\nkind = \"log\"\ndigest = \"2d\"\n",
        "3:10",
        "digest 2d is above the maximum of 1d",
    );
    check_error(
        "[daemon]\nmax_body = \"18446744073709551615B\"\n",
        "2:12",
        "between 1KiB and 1GiB",
    );
    check_error(
        "[daemon]\nmax_body = \"2GiB\"\n",
        "2:12",
        "between 1KiB and 1GiB",
    );
    check_error(
        "[daemon]\ntimeout = \"2h\"\n",
        "2:11",
        "timeout 2h is above the maximum of 1h",
    );
    check_error(
        "[daemon]\ndead_after = \"400d\"\n",
        "2:14",
        "dead_after 400d is above the maximum of 365d",
    );
    check_error("[daemon]\nkeep_items = \"36501d\"\n", "2:14", "too large");
    check_error("[daemon]\nmax_age = \"99999999d\"\n", "2:11", "too large");
    // The largest values still compile.
    let text = "[daemon]\ninterval = \"30d\"\ntimeout = \"1h\"\ndead_after = \"365d\"\n\
                keep_items = \"36500d\"\nmax_age = \"36500d\"\nmax_body = \"1GiB\"\n\
                [[alert]]\nkind = \"log\"\ndigest = \"1d\"\n";
    assert_eq!(errors(text), Vec::<String>::new());
}

#[test]
fn bad_urls_are_reported_with_their_position() {
    check_error(
        "[[feed]]\nname = \"a\"\nurl = \"https://\"\n",
        "3:7",
        "invalid feed url",
    );
    check_error(
        "[[feed]]\nname = \"a\"\nurl = \"ftp://example.com/feed\"\n",
        "3:7",
        "unsupported url scheme",
    );
}

#[test]
fn duplicate_names_and_ids_name_the_first_definition() {
    let text =
        "[[feed]]\nname = \"A\"\nurl = \"a.xml\"\n\n[[feed]]\nname = \"A\"\nurl = \"b.xml\"\n";
    check_error(
        text,
        "6:8",
        "duplicate feed name \"A\" (first defined on line 2)",
    );
    let text = "[[topic]]\nid = \"t\"\nquery = \"a\"\n\n[[topic]]\nid = \"t\"\nquery = \"b\"\n";
    check_error(
        text,
        "6:6",
        "duplicate topic id \"t\" (first defined on line 2)",
    );
}

#[test]
fn query_errors_point_into_the_query() {
    // Literal string: the column is exact.
    check_error(
        "[[topic]]\nid = \"t\"\nquery = 'satellite AND @nokor'\n",
        "3:24",
        "nokor",
    );
    // Multi-line literal string: the first newline is not part of the value.
    check_error(
        "[[topic]]\nid = \"t\"\nquery = '''\nsatellite AND (launch\n'''\n",
        "4:15",
        "",
    );
}

#[test]
fn every_problem_is_reported_not_only_the_first() {
    let text = "[daemon]\ninterval = \"5x\"\n\n[[feed]]\nname = \"a\"\nurl = \"ftp://x/y\"\n\n[[topic]]\nid = \"t\"\nquery = 'a AND'\n";
    assert_eq!(errors(text).len(), 3, "{:#?}", errors(text));
}

#[test]
fn diagnostics_render_with_the_source_line_and_a_caret() {
    let (_, diagnostics) = compile(
        Path::new("config/watchword.toml"),
        "[daemon]\ninterval = \"5x\"\n",
    );
    let rendered = diagnostics[0].to_string();
    assert_eq!(
        rendered,
        "config/watchword.toml:2:12: error: invalid duration \"5x\": unknown unit \"x\" (use s, m, h or d)\n  |\n2 | interval = \"5x\"\n  |            ^"
    );
}

#[test]
fn durations_parse_and_format() {
    assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
    assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
    assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
    assert!(parse_duration("").is_err());
    assert!(parse_duration("10").is_err());
    assert!(parse_duration("m").is_err());
    assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
    assert_eq!(parse_size("10MiB"), Ok(10 * 1024 * 1024));
    assert_eq!(parse_size("500 KB"), Ok(500_000));
    assert_eq!(parse_size("1024"), Ok(1024));
}

#[test]
fn the_config_is_found_by_flag_then_env_then_default() {
    let (a, b) = (Path::new("a.toml"), Path::new("b.toml"));
    assert_eq!(locate(Some(a), Some(b)), a);
    assert_eq!(locate(None, Some(b)), b);
    assert_eq!(locate(None, Some(Path::new(""))), Path::new(DEFAULT_PATH));
    assert_eq!(locate(None, None), Path::new(DEFAULT_PATH));
}

#[test]
fn the_shipped_configs_are_valid() {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    for name in [
        "config/watchword.toml",
        "config/demo.toml",
        "config/starter.toml",
    ] {
        let path = root.join(name);
        match load(&path) {
            Ok(config) => assert!(config.warnings.is_empty(), "{name}: {:?}", config.warnings),
            Err(error) => panic!("{name} is invalid:\n{error}"),
        }
    }
}

#[test]
fn every_unknown_key_is_listed() {
    let text = "[daemon]\ndatabse = \"x.db\"\n\n[[feed]]\nname = \"a\"\nurl = \"a.xml\"\ncolour = \"red\"\n\n[extra]\nk = 1\n";
    let errors = errors(text);
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(
        errors[0] == "2:1: unknown key `databse` in [daemon]; did you mean `database`?",
        "{}",
        errors[0]
    );
    assert!(
        errors[1].starts_with("7:1: unknown key `colour` in a [[feed]] (its keys: name,"),
        "{}",
        errors[1]
    );
    assert!(
        errors[2].starts_with("9:2: unknown table `extra` (the tables are [daemon], [alias], [[feed]], [[topic]], [[alert]], [http])"),
        "{}",
        errors[2]
    );
}

#[test]
fn query_errors_in_basic_strings_with_escapes_point_at_the_right_character() {
    // `\"` and `\u00e9` are two and six raw bytes for one value character each.
    check_error(
        "[[topic]]\nid = \"t\"\nquery = \"\\\"caf\\u00e9\\\" AND NEAR/x foo\"\n",
        "3:28",
        "",
    );
}

#[test]
fn the_caret_accounts_for_wide_characters_and_tabs() {
    let text = "[[topic]]\nid = \"t\"\nquery =\t'北朝鮮 AND @nokor'\n";
    let (_, diagnostics) = compile(Path::new("c.toml"), text);
    let rendered = diagnostics[0].to_string();
    let caret_line = rendered.lines().last().unwrap();
    // "query =" (7 columns), a tab, the quote, three wide characters (6 columns), " AND ".
    assert_eq!(
        caret_line,
        format!("  | {}\t{}^", " ".repeat(7), " ".repeat(1 + 6 + 5))
    );
}

#[test]
fn a_misspelled_url_is_not_taken_for_a_path() {
    check_error(
        "[[feed]]\nname = \"a\"\nurl = \"htp//example.com/feed\"\n",
        "3:7",
        "neither a URL",
    );
}

#[test]
fn a_zero_interval_says_what_was_written() {
    check_error(
        "[[feed]]\nname = \"a\"\nurl = \"a.xml\"\ninterval = \"0s\"\n",
        "4:12",
        "interval 0s is below the minimum of 1m",
    );
}

#[test]
fn alert_sinks_compile_with_names_defaults_and_resolved_paths() {
    let text = format!(
        r#"{GOOD}
[[alert]]
kind = "webhook"
name = "chat"
url = "https://hooks.example/T1"
format = "slack"
headers = {{ Authorization = "Bearer x" }}
topics = ["satellite_launch"]
digest = "10m"
template = "{{{{topic}}}}: {{title}} {{url}}"

[[alert]]
kind = "webhook"
name = "local"
url = "http://127.0.0.1:9000/hook"

[[alert]]
kind = "jsonl"
path = "out/alerts.jsonl"

[[alert]]
kind = "exec"
name = "notify-send"
command = ["notify-send", "watchword"]
timeout = "5s"

[[alert]]
kind = "email"
host = "smtp.example.org"
from = "ww@example.org"
to = ["Desk <desk@example.org>"]
"#
    );
    let (config, diagnostics) = compile(Path::new("/etc/ww/watchword.toml"), &text);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let config = config.unwrap();
    assert_eq!(config.daemon.alert_attempts, 10);
    assert_eq!(config.daemon.alert_wait, Duration::from_secs(30));
    let names: Vec<&str> = config.alerts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["chat", "local", "jsonl", "notify-send", "email"]);
    let slack = &config.alerts[0];
    assert_eq!(
        slack.topics.as_deref(),
        Some(&["satellite_launch".to_string()][..])
    );
    assert_eq!(slack.digest, Some(Duration::from_secs(600)));
    assert_eq!(slack.template.as_deref(), Some("{{topic}}: {title} {url}"));
    match &slack.sink {
        SinkConfig::Webhook {
            format, headers, ..
        } => {
            assert_eq!(*format, WebhookFormat::Slack);
            assert_eq!(
                headers,
                &[(
                    "Authorization".to_string(),
                    Secret::Literal("Bearer x".to_string())
                )]
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        config.alerts[2].sink,
        SinkConfig::Jsonl {
            path: "/etc/ww/out/alerts.jsonl".into()
        }
    );
    match &config.alerts[4].sink {
        SinkConfig::Email { port, tls, .. } => {
            assert_eq!((*port, *tls), (587, EmailTls::Starttls));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn secrets_can_live_in_the_environment_or_a_credential() {
    let text = format!(
        "{GOOD}\n[[alert]]\nkind = \"webhook\"\nname = \"hook\"\nurl = {{ env = \"HOOK_URL\" }}\n\
         secret = {{ credential = \"hook-key\" }}\nheaders = {{ Authorization = {{ env = \"TOKEN\" }} }}\n\n\
         [[alert]]\nkind = \"email\"\nname = \"mail\"\nhost = \"smtp.example.org\"\n\
         from = \"a@example.org\"\nto = [\"b@example.org\"]\nuser = \"desk\"\n\
         password = {{ env = \"SMTP_PASSWORD\" }}\n"
    );
    let (config, diagnostics) = compile(Path::new("/etc/ww/watchword.toml"), &text);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let config = config.unwrap();
    let hook = config.alerts.iter().find(|a| a.name == "hook").unwrap();
    match &hook.sink {
        SinkConfig::Webhook {
            url,
            headers,
            secret,
            ..
        } => {
            assert_eq!(url, &Secret::Env("HOOK_URL".into()));
            assert_eq!(secret, &Some(Secret::Credential("hook-key".into())));
            assert_eq!(headers[0].1, Secret::Env("TOKEN".into()));
            assert_eq!(url.to_string(), "environment variable HOOK_URL");
        }
        other => panic!("{other:?}"),
    }
    let mail = config.alerts.iter().find(|a| a.name == "mail").unwrap();
    match &mail.sink {
        SinkConfig::Email { user, password, .. } => {
            assert_eq!(user, &Some(Secret::Literal("desk".into())));
            assert_eq!(password, &Some(Secret::Env("SMTP_PASSWORD".into())));
        }
        other => panic!("{other:?}"),
    }
    // A signing key on a sink that posts nothing is a mistake.
    check_error(
        &format!("{GOOD}\n[[alert]]\nkind = \"exec\"\ncommand = [\"x\"]\nsecret = \"k\"\n"),
        "29:10",
        "`secret` does not apply to an exec alert",
    );
}

#[test]
fn alert_mistakes_point_at_the_key() {
    let alert = |body: &str| format!("{GOOD}\n[[alert]]\n{body}\n");
    // The alert table's first key is on line 27.
    check_error(
        &alert("kind = \"pager\""),
        "27:8",
        "unknown alert kind \"pager\"",
    );
    check_error(
        &alert("kind = \"webhook\""),
        "27:8",
        "A webhook alert needs `url`",
    );
    check_error(
        &alert("kind = \"log\"\nurl = \"http://x\""),
        "28:7",
        "`url` does not apply to a log alert",
    );
    check_error(
        &alert("kind = \"log\"\ntopics = [\"satellite\"]"),
        "28:11",
        "unknown topic \"satellite\"",
    );
    check_error(
        &alert("kind = \"log\"\ntemplate = \"{title} {body}\""),
        "28:21",
        "unknown placeholder {body}",
    );
    check_error(
        &alert("kind = \"exec\"\ncommand = []"),
        "28:11",
        "command needs a program",
    );
    check_error(
        &alert("kind = \"email\"\nhost = \"h\"\nfrom = \"nobody\"\nto = [\"a@b\"]"),
        "29:8",
        "\"nobody\" is not an email address",
    );
    check_error(
        &alert(
            "kind = \"log\"\nname = \"a\"\n\n[[alert]]\nkind = \"jsonl\"\npath = \"x\"\nname = \"a\"",
        ),
        "33:8",
        "duplicate alert name \"a\" (first defined on line 28)",
    );
    check_error(
        &alert("kind = \"log\"\nretries = 3"),
        "28:1",
        "unknown key `retries` in a log [[alert]] (its keys: kind, name, topics, digest, template)",
    );
}

#[test]
fn templates_are_checked() {
    assert_eq!(check_template("{title} {{literal}} {url}"), Ok(()));
    assert!(check_template("{title").unwrap_err().1.contains("unclosed"));
    assert!(check_template("a } b").unwrap_err().1.contains("unmatched"));
}

#[test]
fn feeds_are_added_after_the_last_feed_keeping_comments() {
    let text = "# top comment\n[daemon]\ninterval = \"20m\" # keep me\n\n[[feed]]\nname = \"A\"\nurl = \"https://A.example/rss/\"\n\n# topics follow\n[[topic]]\nid = \"t\"\nquery = 'x'\n";
    let result = add_feeds(
        text,
        &[
            ("Dup".into(), "https://a.example/rss".into()),
            ("A".into(), "https://b.example/atom".into()),
            ("".into(), "https://c.example/feed".into()),
            ("Local".into(), "example.com/rss".into()),
        ],
    )
    .unwrap();
    let skipped: Vec<&str> = result.skipped.iter().map(|(url, _)| url.as_str()).collect();
    assert_eq!(skipped, ["https://a.example/rss", "example.com/rss"]);
    assert_eq!(result.added, ["A (2)", "https://c.example/feed"]);
    assert!(result.text.contains("# top comment") && result.text.contains("# keep me"));
    let new_feed = result.text.find("name = \"A (2)\"").expect(&result.text);
    assert!(
        new_feed < result.text.find("[[topic]]").unwrap(),
        "new feeds follow the last feed:\n{}",
        result.text
    );
    let (config, diagnostics) = compile(Path::new("/etc/ww/watchword.toml"), &result.text);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    assert_eq!(config.unwrap().feeds.len(), 3);
}

#[test]
fn fetch_article_defaults_to_never_and_a_feed_can_override_it() {
    let (config, diagnostics) = compile(Path::new("/etc/ww/watchword.toml"), GOOD);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let config = config.unwrap();
    assert_eq!(config.daemon.fetch_article, ArticlePolicy::Never);
    assert_eq!(config.daemon.article_min_chars, 200);
    assert!(!config.daemon.allow_private_targets);
    let text = GOOD
        .replace(
            "max_body = \"2MiB\"",
            "max_body = \"2MiB\"\nfetch_article = \"short\"\narticle_min_chars = 50\nallow_private_targets = true",
        )
        .replace("interval = \"1h\"", "interval = \"1h\"\nfetch_article = \"always\"");
    let (config, diagnostics) = compile(Path::new("/etc/ww/watchword.toml"), &text);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let config = config.unwrap();
    assert_eq!(config.daemon.article_min_chars, 50);
    assert!(config.daemon.allow_private_targets);
    let policies: Vec<ArticlePolicy> = config.feeds.iter().map(|f| f.fetch_article).collect();
    assert_eq!(policies, [ArticlePolicy::Short, ArticlePolicy::Always]);
    check_error(
        &GOOD.replace(
            "per_host = 1",
            "per_host = 1\nfetch_article = \"sometimes\"",
        ),
        "7:17",
        "fetch_article must be \"never\", \"short\" or \"always\"",
    );
}

#[test]
fn first_poll_defaults_to_a_baseline_and_a_feed_can_override_it() {
    let (config, _) = compile(Path::new("/etc/ww/watchword.toml"), GOOD);
    let config = config.unwrap();
    assert_eq!(config.daemon.first_poll, FirstPoll::Baseline);
    assert!(
        config
            .feeds
            .iter()
            .all(|f| f.first_poll == FirstPoll::Baseline)
    );
    let text = GOOD
        .replace("per_host = 1", "per_host = 1\nfirst_poll = \"alert\"")
        .replacen(
            "interval = \"1h\"",
            "interval = \"1h\"\nfirst_poll = \"baseline\"",
            1,
        );
    let (config, diagnostics) = compile(Path::new("/etc/ww/watchword.toml"), &text);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let config = config.unwrap();
    assert_eq!(config.daemon.first_poll, FirstPoll::Alert);
    let firsts: Vec<FirstPoll> = config.feeds.iter().map(|f| f.first_poll).collect();
    assert_eq!(firsts, [FirstPoll::Alert, FirstPoll::Baseline]);
    check_error(
        &GOOD.replace("per_host = 1", "per_host = 1\nfirst_poll = \"quiet\""),
        "7:14",
        "first_poll must be \"baseline\" or \"alert\"",
    );
}

#[test]
fn caps_per_poll_have_defaults_and_bounds() {
    let (config, _) = compile(Path::new("/srv/config/watchword.toml"), "");
    let daemon = config.unwrap().daemon;
    assert_eq!(daemon.max_items_per_poll, 1000);
    assert_eq!(daemon.max_field_chars, 100_000);
    let (config, diagnostics) = compile(
        Path::new("/srv/config/watchword.toml"),
        "[daemon]\nmax_items_per_poll = 50\nmax_field_chars = 5000\n",
    );
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let daemon = config.unwrap().daemon;
    assert_eq!(
        (daemon.max_items_per_poll, daemon.max_field_chars),
        (50, 5000)
    );
    check_error(
        "[daemon]\nmax_items_per_poll = 0\n",
        "2:22",
        "must be between 1 and 1000000, not 0",
    );
    check_error(
        "[daemon]\nmax_field_chars = 10\n",
        "2:19",
        "must be between 100 and 100000000, not 10",
    );
}

#[test]
fn keep_items_defaults_to_90_days_takes_forever_and_refuses_less_than_a_day() {
    let keep = |daemon: &str| {
        let (config, diagnostics) = compile(
            Path::new("/etc/ww/watchword.toml"),
            &format!("[daemon]\n{daemon}\n"),
        );
        assert!(diagnostics.is_empty(), "{diagnostics:#?}");
        config.unwrap().daemon.keep_items
    };
    assert_eq!(keep(""), Some(Duration::from_secs(90 * 86_400)));
    assert_eq!(
        keep("keep_items = \"30d\""),
        Some(Duration::from_secs(30 * 86_400))
    );
    assert_eq!(keep("keep_items = \"forever\""), None);
    check_error(
        "[daemon]\nkeep_items = \"12h\"\n",
        "2:14",
        "keep_items 12h is below the minimum of 1d",
    );
    check_error(
        "[daemon]\nkeep_items = \"always\"\n",
        "2:14",
        "or use \"forever\"",
    );
}
#[test]
fn story_window_and_dedup_compile_and_point_at_mistakes() {
    let (config, _) = compile(Path::new("/etc/ww/watchword.toml"), "");
    assert_eq!(config.unwrap().daemon.stories, StoryPolicy::default());
    let (config, diagnostics) = compile(
        Path::new("/etc/ww/watchword.toml"),
        "[daemon]\nstory_window = \"36h\"\ndedup = \"url\"\n",
    );
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let stories = config.unwrap().daemon.stories;
    assert_eq!(stories.window, Duration::from_secs(36 * 3600));
    assert_eq!(stories.dedup, Dedup::Url);
    check_error(
        "[daemon]\ndedup = \"stories\"\n",
        "2:9",
        "unknown dedup level `stories`, expected `story`, `url` or `item`",
    );
    check_error(
        "[daemon]\nstory_window = \"0s\"\n",
        "2:16",
        "greater than zero",
    );
}

#[test]
fn time_scopes_take_the_daemon_default_and_check_their_values() {
    let text = r#"
[daemon]
max_age = "30d"

[[topic]]
id = "default_age"
query = "missile"

[[topic]]
id = "own_age"
query = "missile"
max_age = "2d"

[[topic]]
id = "any_age"
query = "missile"
max_age = "forever"
published_after = "2023-11-01"
published_before = "2023-12-01T09:00:00+09:00"
"#;
    let (config, diagnostics) = compile(Path::new("/etc/ww/watchword.toml"), text);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let config = config.unwrap();
    let day = Duration::from_secs(86_400);
    assert_eq!(config.daemon.max_age, Some(30 * day));
    let scopes: Vec<TimeScope> = config.topics.iter().map(|t| t.scope).collect();
    assert_eq!(scopes[0].max_age, Some(30 * day));
    assert_eq!(scopes[1].max_age, Some(2 * day));
    assert_eq!(scopes[2].max_age, None);
    assert_eq!(
        scopes[2].published_after.unwrap().to_rfc3339(),
        "2023-11-01T00:00:00+00:00"
    );
    assert_eq!(
        scopes[2].published_before.unwrap().to_rfc3339(),
        "2023-12-01T00:00:00+00:00"
    );

    let topic = |keys: &str| format!("[[topic]]\nid = \"t\"\nquery = \"x\"\n{keys}\n");
    check_error(
        &topic("max_age = \"30 days ago\""),
        "4:11",
        "invalid duration",
    );
    check_error(&topic("max_age = \"0s\""), "4:11", "greater than zero");
    check_error(
        &topic("published_after = \"last week\""),
        "4:19",
        "expected an RFC 3339 time",
    );
    check_error(
        &topic("published_after = \"2023-12-01\"\npublished_before = \"2023-11-01\""),
        "5:20",
        "later than published_after",
    );
    check_error("[daemon]\nmax_age = \"soon\"\n", "2:11", "invalid duration");
}

#[test]
fn lower_case_operators_are_warned_about_where_they_are() {
    let text = "[[topic]]\nid = \"t\"\nquery = 'missile and sale'\n";
    let (config, diagnostics) = compile(Path::new("/etc/ww/watchword.toml"), text);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let warnings = config.expect("still valid").warnings;
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    let warning = &warnings[0];
    assert_eq!((warning.line, warning.column), (3, 18));
    assert_eq!(warning.severity, Severity::Warning);
    assert!(
        warning.to_string().starts_with(
            "/etc/ww/watchword.toml:3:18: warning: in query: `and` between terms is matched as a word"
        ),
        "{warning}"
    );
}

#[test]
fn an_apostrophe_in_a_single_quoted_query_suggests_triple_quotes() {
    let found = errors("[[topic]]\nid = \"t\"\nquery = 'North Korea's launch'\n");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].starts_with("3:"), "{found:?}");
    assert!(found[0].contains("query = '''…'''"), "{found:?}");
    // Other syntax errors get no such hint.
    let other = errors("[[topic]]\nid = \"t\nquery = 'x'\n").join("\n");
    assert!(!other.contains("'''"), "{other}");
}

#[test]
fn bytes_that_are_not_utf8_are_reported_at_their_line_and_column() {
    let path = Path::new("/etc/ww/watchword.toml");
    let bytes = b"[daemon]\r\ninterval = \"5m\"\r\n# na\xc3\xafve caf\xe9 au lait\r\n".to_vec();
    let Err(ConfigError::Invalid(diagnostics)) = decode(path, bytes) else {
        panic!("not UTF-8, so not a config");
    };
    assert_eq!(diagnostics.len(), 1);
    let diagnostic = &diagnostics[0];
    // `# naïve caf` is 11 characters before the bad byte.
    assert_eq!((diagnostic.line, diagnostic.column), (3, 12));
    assert!(
        diagnostic.message.starts_with("not valid UTF-8") && diagnostic.message.contains("0xe9"),
        "{}",
        diagnostic.message
    );
    assert_eq!(diagnostic.source_line, "# naïve caf\u{fffd} au lait");
    assert!(
        diagnostic
            .to_string()
            .starts_with("/etc/ww/watchword.toml:3:12: error: ")
    );
    // A bad first byte, and a UTF-8 sequence cut short at the end.
    let Err(ConfigError::Invalid(first)) = decode(path, b"\xffa = 1\n".to_vec()) else {
        panic!("not UTF-8");
    };
    assert_eq!((first[0].line, first[0].column), (1, 1));
    let Err(ConfigError::Invalid(cut)) = decode(path, b"a = 1\nb = \"\xc3".to_vec()) else {
        panic!("not UTF-8");
    };
    assert_eq!((cut[0].line, cut[0].column), (2, 6));
    assert_eq!(decode(path, b"a = 1\n".to_vec()).unwrap(), "a = 1\n");
}

#[test]
fn a_feed_path_that_is_not_a_regular_file_is_an_error_at_its_url() {
    let text = "[[feed]]\nname = \"pipe\"\nurl = \"pipe.xml\"\n\n[[feed]]\nname = \"ok\"\nurl = \"file:///srv/ok.xml\"\n\n[[feed]]\nname = \"web\"\nurl = \"https://example.com/feed\"\n";
    let path = Path::new("/etc/ww/watchword.toml");
    let kind_of = |file: &Path| match file.to_str() {
        Some("/etc/ww/pipe.xml") => Some(PathKind::Fifo),
        Some("/srv/ok.xml") => Some(PathKind::File),
        other => panic!("asked about {other:?}"),
    };
    let (config, diagnostics) = compile_checking_files(path, text, &kind_of);
    assert!(config.is_none());
    let found: Vec<String> = diagnostics
        .iter()
        .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
        .collect();
    assert_eq!(
        found,
        [
            "3:7: feed \"pipe\" reads /etc/ww/pipe.xml, which is a FIFO (named pipe), not a regular file"
        ]
    );
    // Every other kind is refused too; a path with nothing there is left to `check`'s warning.
    for kind in [
        PathKind::Directory,
        PathKind::Socket,
        PathKind::CharDevice,
        PathKind::BlockDevice,
        PathKind::Other,
    ] {
        let (config, diagnostics) = compile_checking_files(path, text, &|file: &Path| {
            (file == Path::new("/etc/ww/pipe.xml")).then_some(kind)
        });
        assert!(config.is_none(), "{kind:?}");
        assert!(diagnostics[0].message.contains(kind.describe()), "{kind:?}");
    }
    let (config, diagnostics) = compile_checking_files(path, text, &|_: &Path| None);
    assert!(config.is_some(), "{diagnostics:#?}");
    // Plain compilation does not look at the file system.
    assert!(compile(path, text).0.is_some());
}

#[test]
fn a_topic_over_the_term_limit_is_an_error_in_its_query_naming_the_limit() {
    let words = |n: usize| {
        (0..n)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let topic = |query: &str| format!("[[topic]]\nid = \"big\"\nquery = \"{query}\"\n");
    assert!(errors(&topic(&words(MAX_TERMS_PER_TOPIC))).is_empty());
    let over = words(MAX_TERMS_PER_TOPIC + 1);
    let column = "query = \"".len() + words(MAX_TERMS_PER_TOPIC).len() + 2;
    check_error(
        &topic(&over),
        &format!("3:{column}"),
        &format!("in query: more than {MAX_TERMS_PER_TOPIC} terms"),
    );
}

#[test]
fn unknown_keys_are_errors_beside_every_other_problem() {
    // Issue 17: a misspelled key once stopped the config and hid the bad duration.
    let text = "[daemon]\nintervall = \"5m\"\ntimeout = \"5x\"\n\n[[feed]]\nname = \"a\"\nurl = \"a.xml\"\ncolour = \"red\"\n";
    assert_eq!(
        errors(text),
        [
            "2:1: unknown key `intervall` in [daemon]; did you mean `interval`?",
            "3:11: invalid duration \"5x\": unknown unit \"x\" (use s, m, h or d)",
            "8:1: unknown key `colour` in a [[feed]] (its keys: name, url, interval, fetch_article, first_poll, stale_after, user_agent)",
        ]
    );
}

#[test]
fn every_table_says_which_of_its_keys_was_meant() {
    let cases = [
        (
            "[deamon]\ninterval = \"5m\"\n",
            "1:2: unknown table `deamon`; did you mean `[daemon]`?",
        ),
        (
            "[[feeds]]\nname = \"a\"\n",
            "1:3: unknown table `feeds`; did you mean `[[feed]]`?",
        ),
        (
            "[daemon]\nfirst_pol = \"alert\"\n",
            "2:1: unknown key `first_pol` in [daemon]; did you mean `first_poll`?",
        ),
        (
            "[daemon]\nMax-Concurrent = 4\n",
            "2:1: unknown key `Max-Concurrent` in [daemon]; did you mean `max_concurrent`?",
        ),
        (
            "[daemon]\ncolour = 4\n",
            "2:1: unknown key `colour` in [daemon]",
        ),
        (
            "[daemon.stories]\nwindow = \"2d\"\n",
            "1:9: unknown key `stories` in [daemon]",
        ),
        (
            "[http]\nlisten = \"127.0.0.1:1\"\nlistne = \"x\"\n",
            "3:1: unknown key `listne` in [http]; did you mean `listen`?",
        ),
        (
            "[[feed]]\nname = \"a\"\nurl = \"a.xml\"\nfirst_pool = \"alert\"\n",
            "4:1: unknown key `first_pool` in a [[feed]]; did you mean `first_poll`?",
        ),
        (
            "[[topic]]\nid = \"t\"\nquery = \"a\"\nquerry = \"b\"\n",
            "4:1: unknown key `querry` in a [[topic]]; did you mean `query`?",
        ),
        (
            "[[topic]]\nid = \"t\"\nquery = \"a\"\npublished_afer = \"2024-01-01\"\n",
            "4:1: unknown key `published_afer` in a [[topic]]; did you mean `published_after`?",
        ),
        // Each sink kind is offered its own keys.
        (
            "[[alert]]\nkind = \"webhook\"\nurll = \"https://x\"\n",
            "3:1: unknown key `urll` in a webhook [[alert]]; did you mean `url`?",
        ),
        (
            "[[alert]]\nkind = \"email\"\nhost = \"h\"\nfrom = \"a@b\"\nto = [\"a@b\"]\ntoo = [\"c@d\"]\n",
            "6:1: unknown key `too` in an email [[alert]]; did you mean `to`?",
        ),
        (
            "[[alert]]\nkind = \"exec\"\ncommand = [\"x\"]\ntimout = \"5s\"\n",
            "4:1: unknown key `timout` in an exec [[alert]]; did you mean `timeout`?",
        ),
        (
            "[[alert]]\nkind = \"jsonl\"\npath = \"x\"\npaht = \"y\"\n",
            "4:1: unknown key `paht` in a jsonl [[alert]]; did you mean `path`?",
        ),
        // An unknown kind is its own error; its keys are judged against every alert key.
        (
            "[[alert]]\nkind = \"pager\"\nformt = \"x\"\n",
            "3:1: unknown key `formt` in an [[alert]]; did you mean `format`?",
        ),
        // A key above the first table header is at the top level.
        (
            "intervall = \"5m\"\n[daemon]\n",
            "1:1: unknown key `intervall` at the top level; did you mean `interval` in [daemon]?",
        ),
        (
            "colour = 1\n",
            "1:1: unknown key `colour` at the top level (the tables are [daemon], [alias], [[feed]], [[topic]], [[alert]], [http])",
        ),
        // A dotted key is found where it is written.
        (
            "daemon.intervl = \"5m\"\n",
            "1:8: unknown key `intervl` in [daemon]; did you mean `interval`?",
        ),
    ];
    for (text, expected) in cases {
        let errors = errors(text);
        assert!(
            errors.iter().any(|error| error == expected),
            "{text:?}: {errors:#?}"
        );
    }
}

#[test]
fn unknown_keys_met_before_a_type_error_are_still_reported() {
    let text = "[daemon]\nintervall = \"5m\"\nmax_concurrent = \"8\"\n";
    let errors = errors(text);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors[0].starts_with("2:1: unknown key `intervall`"),
        "{errors:#?}"
    );
    assert!(errors[1].starts_with("3:18: invalid type"), "{errors:#?}");
}

#[test]
fn a_near_key_is_suggested_only_within_a_small_distance() {
    let known = ["to", "url", "kind", "interval", "max_concurrent", "timeout"];
    for (unknown, expected) in [
        ("intervall", Some("interval")),
        ("intreval", Some("interval")), // a transposition is one edit
        ("inteval", Some("interval")),
        ("max_concurrency", Some("max_concurrent")),
        ("TimeOut", Some("timeout")),
        ("too", Some("to")),
        ("urls", Some("url")),
        ("kinds", Some("kind")),
        ("xy", None), // two edits from `to`, too many for a short key
        ("uri_path", None),
        ("interval_max", None),
    ] {
        assert_eq!(nearest_key(unknown, &known), expected, "{unknown}");
    }
}

#[test]
fn a_host_without_a_scheme_is_an_error_with_the_url_it_means() {
    let feed = |url: &str| format!("[[feed]]\nname = \"a\"\nurl = \"{url}\"\n");
    check_error(
        &feed("example.com/feed.xml"),
        "3:7",
        "no scheme: did you mean https://example.com/feed.xml?",
    );
    for (url, meant) in [
        ("www.x.org/rss", "https://www.x.org/rss"),
        ("example.com", "https://example.com"),
        ("Example.COM/rss?x=1", "https://Example.COM/rss?x=1"),
        ("www.example", "https://www.example"),
        ("spiegel.de/rss", "https://spiegel.de/rss"),
        (
            "feeds.bbci.co.uk/news/rss.xml",
            "https://feeds.bbci.co.uk/news/rss.xml",
        ),
        ("localhost:8080/feed.xml", "http://localhost:8080/feed.xml"),
        ("example.com:8443/rss", "http://example.com:8443/rss"),
    ] {
        assert_eq!(
            parse_source(url, Path::new("/etc/ww")),
            Err(format!("no scheme: did you mean {meant}?")),
            "{url}"
        );
    }
}

#[test]
fn a_relative_or_absolute_path_stays_a_path() {
    for (path, resolved) in [
        ("feeds/local.xml", "/etc/ww/feeds/local.xml"),
        ("./x.rss", "/etc/ww/./x.rss"),
        ("/abs/path.xml", "/abs/path.xml"),
        ("news.xml", "/etc/ww/news.xml"),
        ("notes.md", "/etc/ww/notes.md"),
        ("feed.de", "/etc/ww/feed.de"),
        ("feeds.d/a.xml", "/etc/ww/feeds.d/a.xml"),
        ("v1.2/a.xml", "/etc/ww/v1.2/a.xml"),
        ("./example.com/feed.xml", "/etc/ww/./example.com/feed.xml"),
        (
            "../shared/world.news.xml",
            "/etc/ww/../shared/world.news.xml",
        ),
    ] {
        assert_eq!(
            parse_source(path, Path::new("/etc/ww")),
            Ok(FeedSource::File(resolved.into())),
            "{path}"
        );
    }
}

#[test]
fn listen_takes_addresses_and_localhost() {
    let listen = |value: &str| {
        let text = format!("[http]\nlisten = \"{value}\"\n");
        compile(Path::new("/etc/ww/watchword.toml"), &text)
            .0
            .and_then(|config| config.http)
            .map(|http| http.listen.to_string())
    };
    assert_eq!(listen("localhost:8787").as_deref(), Some("127.0.0.1:8787"));
    assert_eq!(listen(" LOCALHOST:80 ").as_deref(), Some("127.0.0.1:80"));
    assert_eq!(listen("0.0.0.0:8787").as_deref(), Some("0.0.0.0:8787"));
    assert_eq!(listen("[::1]:8787").as_deref(), Some("[::1]:8787"));
    check_error(
        "[http]\nlisten = \"status.internal:8787\"\n",
        "2:10",
        "a host name other than localhost is not resolved; give an IP address such as 127.0.0.1:8787",
    );
    for bad in ["localhost", "localhost:99999", ":8787", "8787"] {
        check_error(
            &format!("[http]\nlisten = \"{bad}\"\n"),
            "2:10",
            "is not an address and port such as 127.0.0.1:8787 or localhost:8787",
        );
    }
}

#[test]
fn alias_names_are_any_keys_and_a_bad_one_is_an_error_where_it_is_written() {
    // [alias] takes any name, so it has no unknown keys; a name that is not an identifier
    // is found in the document (the raw layer keeps names as plain strings).
    assert_eq!(
        errors("[alias]\nanything = [\"x\"]\n"),
        Vec::<String>::new()
    );
    check_error(
        "[alias]\nok = [\"x\"]\n\"bad name\" = [\"y\"]\n",
        "3:1",
        "alias name \"bad name\" must use only letters, digits, _ and -",
    );
    check_error(
        "alias.\"a b\" = [\"y\"]\n",
        "1:7",
        "alias name \"a b\" must use only",
    );
}
