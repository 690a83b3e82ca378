//! Tests of the tester: input parsing, scores, backtest diffs, and explanations of the default
//! topics in every script they cover. Items are written for these tests.

use std::path::Path;

use chrono::TimeZone;

use super::*;
use crate::config;

const TOPICS: &str = include_str!("../../../../tests/fixtures/topics.toml");
const DEFAULT_CONFIG: &str = include_str!("../../../../config/watchword.toml");

/// The default topics (the test fixture, kept identical to the default config's), without
/// their time windows: the tests' items are mostly undated (first seen when the test runs).
fn default_config() -> Config {
    let topics: String = TOPICS
        .lines()
        .filter(|line| {
            !line.starts_with("published_after") && !line.starts_with("published_before")
        })
        .map(|line| format!("{line}\n"))
        .collect();
    let (config, diagnostics) = config::compile(Path::new("/tmp/ww/topics.toml"), &topics);
    config.unwrap_or_else(|| panic!("{diagnostics:?}"))
}

#[test]
fn the_default_topics_keep_to_november_and_december_2023() {
    let (config, diagnostics) = config::compile(Path::new("/tmp/ww/topics.toml"), TOPICS);
    let config = config.unwrap_or_else(|| panic!("{diagnostics:?}"));
    let text = |published: &str| {
        format!(
            r#"{{"title": "North Korea launches military spy satellite", "published": "{published}"}}"#
        )
    };
    for (published, matched) in [
        ("2023-11-21T13:42:00Z", true),
        ("2023-12-02T00:00:00Z", true),
        ("2023-05-31T00:00:00Z", false),
        ("2024-05-27T00:00:00Z", false),
    ] {
        let items = parse_items("items.jsonl", &text(published)).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 0, 0, 0).unwrap();
        let first_seen = items[0].first_seen(None, now);
        let matches = crate::matching::match_topics(&config, &items[0].item, "", first_seen);
        assert_eq!(
            matches.iter().any(|m| m.topic == "satellite_launch"),
            matched,
            "{published}"
        );
    }
}

/// A config with one topic `t` whose query is `query`.
fn config_with(query: &str) -> Config {
    let text = format!("[[topic]]\nid = \"t\"\nquery = '{query}'\n");
    let (config, diagnostics) = config::compile(Path::new("/tmp/ww/t.toml"), &text);
    config.unwrap_or_else(|| panic!("{diagnostics:?}"))
}

fn item(title: &str, summary: &str) -> TestItem {
    TestItem {
        id: title.to_string(),
        feed: String::new(),
        item: Item {
            key: format!("hash:{title}"),
            title: title.to_string(),
            summary: summary.to_string(),
            ..Item::default()
        },
        seen: None,
    }
}

/// Whether `topic` of `config` matches an item of `title` and `summary`, seen now.
fn matches(config: &Config, title: &str, summary: &str, topic: &str) -> bool {
    test_item(config, &item(title, summary), None, now())
        .iter()
        .any(|m| m.topic == topic)
}

/// A time for items without dates.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2023, 11, 22, 0, 0, 0).unwrap()
}

/// Checks that the default topic `topic` matches an item and reports `term` in `field`, with
/// `in_snippet` in that hit's snippet.
fn check_hit(topic: &str, title: &str, summary: &str, field: &str, term: &str, in_snippet: &str) {
    let config = default_config();
    let matches = test_item(&config, &item(title, summary), Some(topic), now());
    let Some(topic_match) = matches.first() else {
        panic!("{topic} should match {title:?} / {summary:?}");
    };
    let hit = topic_match
        .hits
        .iter()
        .find(|hit| hit.term == term && hit.field.name() == field)
        .unwrap_or_else(|| panic!("no hit {field} {term} in {:?}", topic_match.hits));
    assert!(hit.snippet.contains(in_snippet), "{hit:?}");
}

#[test]
fn topics_fixture_is_the_default_configs_topics() {
    let section = |text: &'static str| &text[text.find("\n[alias]").expect("an [alias] table")..];
    assert_eq!(
        section(TOPICS),
        section(DEFAULT_CONFIG),
        "tests/fixtures/topics.toml must repeat config/watchword.toml from [alias] on"
    );
    assert_eq!(
        section(include_str!("../../../../config/demo.toml")),
        section(DEFAULT_CONFIG),
        "config/demo.toml must repeat config/watchword.toml from [alias] on"
    );
}

#[test]
fn json_lines_give_one_item_per_line_in_order() {
    let text = r#"{"id": "a", "title": "<b>First</b> &amp; best", "link": "https://Example.com/x?utm_source=rss#top", "published": "2023-11-21T13:42:00Z"}

{"id": 7, "title": "Second", "published": "last tuesday", "extra": {"ignored": true}}
{"title": "Third", "summary": "no id", "feed": "Wire"}
"#;
    let items = parse_items("items.jsonl", text).unwrap();
    let ids: Vec<&str> = items.iter().map(|test| test.id.as_str()).collect();
    assert_eq!(ids[..2], ["a", "7"]);
    assert!(ids[2].starts_with("hash:"), "no id: the identity key");
    assert_eq!(items[0].item.title, "First & best");
    assert_eq!(items[0].item.url.as_deref(), Some("https://example.com/x"));
    assert_eq!(
        items[0].item.published,
        Some(Utc.with_ymd_and_hms(2023, 11, 21, 13, 42, 0).unwrap())
    );
    assert_eq!(items[1].item.published, None, "a bad date is ignored");
    assert_eq!(items[2].feed, "Wire");
}

#[test]
fn a_single_object_or_an_array_is_read_whole() {
    let pretty = "{\n  \"id\": \"one\",\n  \"title\": \"Pretty\"\n}\n";
    assert_eq!(parse_items("one.json", pretty).unwrap().len(), 1);
    let array = r#"[{"id": "a"}, {"id": "b"}]"#;
    assert_eq!(parse_items("all.json", array).unwrap().len(), 2);
}

#[test]
fn bad_lines_are_named_by_file_and_line() {
    let text = "{\"id\": \"a\"}\n\n[1, 2]\n";
    let error = parse_items("items.jsonl", text).unwrap_err();
    assert_eq!(
        error.to_string(),
        "items.jsonl:3: expected a JSON object, found an array"
    );
    let error = parse_items("items.jsonl", "{\"id\": \"a\"}\n{\"id\": \n").unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("items.jsonl:2: expected a JSON object: "),
        "{error}"
    );
    let error = parse_items("items.jsonl", "{\"title\": 5}\n{}\n").unwrap_err();
    assert!(
        error.to_string().starts_with("items.jsonl:1: invalid type"),
        "{error}"
    );
    let error = parse_labels(
        "labels.jsonl",
        "{\"id\": \"a\", \"topics\": []}\n{\"id\": \"b\"}\n",
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "labels.jsonl:2: expected \"topics\": [the topic ids the item belongs to]"
    );
}

#[test]
fn plain_text_is_a_title_then_a_summary() {
    let test = item_from_text("Headline here\nThe body\nmore");
    assert_eq!(test.item.title, "Headline here");
    assert_eq!(test.item.summary, "The body more");
}

#[test]
fn scores_match_hand_computed_precision_and_recall() {
    // `t` matches "missile". Labels: 3 true positives, 1 false positive, 2 false negatives,
    // 1 true negative, and one ignored item that would be a false positive.
    let labels = r#"{"id": "tp1", "title": "missile one", "topics": ["t"]}
{"id": "tp2", "title": "missile two", "topics": ["t", "other"]}
{"id": "tp3", "title": "missile three", "topics": ["t"]}
{"id": "fp", "title": "missile four", "topics": []}
{"id": "fn1", "title": "rocket", "topics": ["t"]}
{"id": "fn2", "title": "launch", "topics": ["t"]}
{"id": "tn", "title": "weather", "topics": []}
{"id": "skip", "title": "missile maybe", "topics": [], "ignore": true}
"#;
    let labelled = parse_labels("labels.jsonl", labels).unwrap();
    let evaluation = evaluate(&config_with("missile"), &labelled, None, |_| now());
    assert_eq!(evaluation.n_counted, 7);
    assert_eq!(evaluation.n_ignored, 1);
    assert_eq!(evaluation.unknown_labels, ["other"]);
    let score = &evaluation.scores[0];
    assert_eq!(score.true_positives, 3);
    let ids = |indices: Vec<usize>| -> Vec<&str> {
        indices
            .iter()
            .map(|&i| labelled[i].test.id.as_str())
            .collect()
    };
    assert_eq!(
        ids(score.false_positives.iter().map(|(i, _)| *i).collect()),
        ["fp"]
    );
    assert_eq!(ids(score.false_negatives.clone()), ["fn1", "fn2"]);
    assert_eq!(score.precision(), Some(0.75));
    assert_eq!(score.recall(), Some(0.6));
    let f1 = score.f1().unwrap();
    assert!((f1 - 2.0 * 0.75 * 0.6 / 1.35).abs() < 1e-12, "{f1}");
}

#[test]
fn scores_without_matches_or_labels_are_undefined() {
    let labelled = parse_labels("l.jsonl", r#"{"title": "weather", "topics": []}"#).unwrap();
    let evaluation = evaluate(&config_with("missile"), &labelled, None, |_| now());
    let score = &evaluation.scores[0];
    assert_eq!(
        (score.precision(), score.recall(), score.f1()),
        (None, None, None)
    );
}

fn stored(id: i64, title: &str, url: &str) -> StoredItem {
    StoredItem {
        item_id: ItemId(id),
        feed: "Wire".into(),
        item: Item {
            key: format!("url:{url}"),
            url: Some(url.to_string()),
            title: title.to_string(),
            ..Item::default()
        },
        first_seen: Utc.with_ymd_and_hms(2023, 11, 21, 0, 0, 0).unwrap(),
        story_id: Some(StoryId(id)),
    }
}

fn logged(item: &StoredItem, topic: &str) -> Match {
    Match {
        match_id: crate::model::MatchId(item.item_id.0 * 10),
        topic: topic.to_string(),
        matched_at: item.first_seen,
        item_id: item.item_id,
        item_key: item.item.key.clone(),
        feed: item.feed.clone(),
        title: item.item.title.clone(),
        url: item.item.url.clone(),
        published: None,
        terms: vec!["missile".into()],
        hits: Vec::new(),
        story_id: item.story_id,
        sources: Vec::new(),
        backfill: false,
        verdict: None,
    }
}

#[test]
fn backtest_reports_added_and_dropped_matches() {
    let items = vec![
        stored(1, "missile test", "https://a.example/1"),
        stored(2, "missile sale", "https://a.example/2"),
        stored(3, "rocket sale", "https://a.example/3"),
        // The same article as item 2, from another feed: the log kept it once.
        stored(4, "missile sale", "https://a.example/2"),
    ];
    let log = vec![
        logged(&items[0], "t"),
        logged(&items[1], "t"),
        logged(&items[2], "gone"),
    ];
    // Narrowed from "missile" to "missile AND sale": item 1 is dropped.
    let diffs = backtest(&config_with("missile AND sale"), &items, &log, &[]);
    assert_eq!(diffs.len(), 2, "{diffs:?}");
    let narrowed = &diffs[0];
    assert_eq!((narrowed.topic.as_str(), narrowed.configured), ("t", true));
    assert_eq!((narrowed.logged, narrowed.matching), (2, 1));
    assert!(narrowed.added.is_empty(), "{narrowed:?}");
    let dropped: Vec<i64> = narrowed.dropped.iter().map(|c| c.item_id.0).collect();
    assert_eq!(dropped, [1]);
    // A topic removed from the config drops every match.
    assert_eq!(
        (diffs[1].topic.as_str(), diffs[1].configured),
        ("gone", false)
    );
    assert_eq!(diffs[1].dropped.len(), 1);

    // Widened to "missile OR rocket": item 3 is added, with its explanation.
    let diffs = backtest(&config_with("missile OR rocket"), &items, &log, &[]);
    let widened = &diffs[0];
    assert!(widened.dropped.is_empty(), "{widened:?}");
    let added: Vec<(i64, &str)> = widened
        .added
        .iter()
        .map(|c| (c.item_id.0, c.hits[0].term.as_str()))
        .collect();
    assert_eq!(added, [(3, "rocket")]);
}

#[test]
fn backtest_counts_a_story_once() {
    // Item 2 is a copy of item 1's story from another link: a source of its match.
    let mut copy = stored(2, "missile sale copy", "https://b.example/2");
    copy.story_id = Some(StoryId(1));
    let items = vec![stored(1, "missile sale", "https://a.example/1"), copy];
    let log = vec![logged(&items[0], "t")];
    let diffs = backtest(&config_with("missile"), &items, &log, &[]);
    assert_eq!((diffs[0].logged, diffs[0].matching), (1, 1));
    assert!(
        diffs[0].added.is_empty() && diffs[0].dropped.is_empty(),
        "{diffs:?}"
    );
    // Narrowed so that only the copy matches: the story still matches, nothing is dropped.
    let diffs = backtest(&config_with("missile AND copy"), &items, &log, &[]);
    assert!(
        diffs[0].added.is_empty() && diffs[0].dropped.is_empty(),
        "{diffs:?}"
    );
}

#[test]
fn explanations_point_at_the_field_and_term() {
    // Phrases (hyphen variant), in the summary.
    check_hit(
        "satellite_launch",
        "Launch news",
        "North Korea put a spy-satellite in orbit",
        "summary",
        "spy satellite*",
        "spy-satellite",
    );
    // Inside a run of Thai, which puts no spaces between words ("the US approves the sale
    // of Tomahawk missiles to Japan").
    check_hit(
        "missile_sale",
        "",
        "สหรัฐอนุมัติขายขีปนาวุธโทมาฮอว์กให้ญี่ปุ่น",
        "summary",
        "โทมาฮอว์ก",
        "โทมาฮอว์ก",
    );
    // Khmer with its words spaced ("North Korea condemns the sale of weapons by the United
    // States to Japan and South Korea").
    check_hit(
        "missile_sale",
        "",
        "កូរ៉េ ខាងជើង ថ្កោលទោសការលក់ អាវុធរបស់សហរដ្ឋ អាមេរិក ទៅឱ្យជប៉ុន និងកូរ៉េ ខាងត្បូង",
        "summary",
        "កូរ៉េ ខាងជើង",
        "កូរ៉េ ខាងជើង",
    );
    // A missile named by its designation names the seller.
    check_hit(
        "missile_sale",
        "State Department clears sale of RGM-109E missiles to Japan",
        "",
        "title",
        "RGM-109*",
        "RGM-109E",
    );
    // Prefixes.
    check_hit(
        "missile_sale",
        "US approves sale of Tomahawks to Japan",
        "",
        "title",
        "Tomahawk*",
        "Tomahawks",
    );
    // Aliases: the entry that matched is reported, not the alias.
    check_hit(
        "satellite_launch",
        "DPRK satellite plans",
        "",
        "title",
        "DPRK",
        "DPRK",
    );
    // Korean, Japanese, Chinese (simplified and traditional), full-width.
    check_hit(
        "satellite_launch",
        "북한, 정찰위성 발사",
        "",
        "title",
        "정찰위성",
        "정찰위성",
    );
    check_hit(
        "satellite_launch",
        "북한, 정찰위성 발사",
        "",
        "title",
        "북한",
        "북한",
    );
    check_hit(
        "satellite_launch",
        "速報",
        "北朝鮮が偵察衛星を発射",
        "summary",
        "偵察衛星",
        "偵察衛星",
    );
    check_hit(
        "satellite_launch",
        "朝鲜发射侦察卫星",
        "",
        "title",
        "侦察卫星",
        "侦察卫星",
    );
    check_hit(
        "missile_sale",
        "米国務省、日本へのトマホーク売却を承認",
        "",
        "title",
        "トマホーク",
        "トマホーク",
    );
    check_hit(
        "missile_sale",
        "美国国务院批准向日本出售400枚战斧导弹",
        "",
        "title",
        "战斧",
        "战斧",
    );
    check_hit(
        "missile_sale",
        "美國國務院同意出售戰斧巡航導彈給日本",
        "",
        "title",
        "戰斧",
        "戰斧",
    );
    check_hit(
        "missile_sale",
        "미국, 일본에 토마호크 판매 승인",
        "",
        "title",
        "토마호크",
        "토마호크",
    );
    check_hit(
        "missile_sale",
        "ＵＳ ａｐｐｒｏｖｅｓ ｓａｌｅ",
        "Tomahawk missiles for Tokyo",
        "summary",
        "Tokyo",
        "Tokyo",
    );
    // Spanish, French, Portuguese, German.
    check_hit(
        "missile_sale",
        "EE.UU. aprueba la venta de misiles Tomahawk a Japón",
        "",
        "title",
        "Tomahawk*",
        "Tomahawk",
    );
    check_hit(
        "satellite_launch",
        "La Corée du Nord lance un satellite espion",
        "",
        "title",
        "satellite espion",
        "satellite espion",
    );
    check_hit(
        "satellite_launch",
        "Coreia do Norte lança satélite espião",
        "",
        "title",
        "satélite espião",
        "satélite espião",
    );
    check_hit(
        "satellite_launch",
        "Nordkorea startet Spionagesatelliten",
        "",
        "title",
        "Spionagesatellit*",
        "Spionagesatelliten",
    );
}

#[test]
fn default_topics_stay_quiet_on_near_misses() {
    let config = default_config();
    for (title, summary) in [
        (
            "SpaceX launches South Korea's first spy satellite",
            "A Falcon 9 lifted off from Vandenberg",
        ),
        (
            "North Korea fires Hwasong ICBM",
            "The missile flew for an hour",
        ),
        (
            "US approves F-35 sale to South Korea",
            "The State Department approved the jets",
        ),
        (
            "Japan raises its defence budget",
            "Tokyo will spend more on missiles",
        ),
        // Thai "he still said Japan and South Korea will discuss missiles with the US": "he
        // still" (เขายัง) holds the letters of "sell" (ขาย), a substring in a Thai run.
        ("", "เขายังกล่าวว่าญี่ปุ่นและเกาหลีใต้จะหารือเรื่องขีปนาวุธกับสหรัฐ"),
    ] {
        let matches = test_item(&config, &item(title, summary), None, now());
        assert!(matches.is_empty(), "{title}: {matches:?}");
    }
}

#[test]
fn a_miss_names_the_clause_that_failed() {
    let config = default_config();
    let unmet = explain_miss(&config, &item("Japan buys more rice", ""), "missile_sale");
    assert!(!unmet.is_empty());
    let unmet = explain_miss(
        &config,
        &item("SpaceX launches North Korea spy satellite", ""),
        "satellite_launch",
    );
    let excluded: Vec<&str> = unmet.iter().map(|u| u.clause.as_str()).collect();
    assert_eq!(
        excluded,
        ["NOT (title:SpaceX OR title:\"Falcon 9\" OR title:Starlink OR title:Hwasong*)"]
    );
}

#[test]
fn a_missile_test_headline_that_mentions_the_launch_as_background_is_a_near_miss() {
    let config = default_config();
    // Korean: "South Korea's military says North Korea fired a ballistic missile"; the
    // summary recalls last month's spy satellite.
    let background = item(
        "한국군, 북한이 탄도미사일을 발사하고 발표",
        "지난달 북한은 군사정찰위성을 궤도에 올리는 데 성공했다.",
    );
    assert!(test_item(&config, &background, None, now()).is_empty());
    // The launch night's Japanese headline calls it a ballistic missile "called a
    // satellite", and a headline with the Okinawa alert is the launch too.
    for title in [
        "北朝鮮 “衛星”と称する弾道ミサイル発射",
        "North Korea fires ballistic missile, J-Alert issued for Okinawa",
    ] {
        let launch = item(title, "");
        let topics = test_item(&config, &launch, None, now());
        assert!(
            topics.iter().any(|m| m.topic == "satellite_launch"),
            "{title}: {topics:?}"
        );
    }
}

#[test]
fn north_koreas_names_for_the_buyers_and_one_word_for_both_count() {
    let config = default_config();
    for (title, summary) in [
        // "North Korea condemns the US sale of advanced weapons to Japan and South Korea",
        // with both buyers in one word (日韩, 日韓).
        ("朝鲜谴责美国向日韩出售先进武器", ""),
        ("北朝鮮、米国の日韓への武器売却を非難", ""),
        (
            "DPRK defence ministry slams US for selling weapons to its allies",
            "",
        ),
        // Vietnamese: "the US approves selling SM-6 missiles to South Korea".
        ("Hoa Kỳ chấp thuận bán tên lửa SM-6 cho Hàn Quốc", ""),
    ] {
        let topics = test_item(&config, &item(title, summary), None, now());
        assert!(
            topics.iter().any(|m| m.topic == "missile_sale"),
            "{title}: {topics:?}"
        );
    }
}

#[test]
fn an_approval_of_the_deals_missiles_is_the_sale_without_the_word_sale() {
    let config = default_config();
    for (title, summary) in [
        ("US approves SM-6 interceptors for South Korea", ""),
        (
            "",
            "Washington green-lights AIM-9X Block II missiles for Seoul's fighter jets",
        ),
        // Korean: "US State Department approves SM-6 for South Korea".
        ("미 국무부, 한국에 SM-6 승인", ""),
        // North Korea's answer, with the sale 5 words from the weapons.
        (
            "Pyongyang says the US will sell Japan and Seoul new weapons",
            "",
        ),
    ] {
        let topics = test_item(&config, &item(title, summary), None, now());
        assert!(
            topics.iter().any(|m| m.topic == "missile_sale"),
            "{title}{summary}: {topics:?}"
        );
    }
    // Other approvals: another deal's missile, and the three countries' warning data.
    for (title, summary) in [
        (
            "US approves AMRAAM missiles for Japan",
            "The State Department cleared air-to-air missiles for Tokyo",
        ),
        (
            "US, Japan and South Korea approve missile warning data sharing",
            "Real-time data on North Korean launches from December",
        ),
    ] {
        let topics = test_item(&config, &item(title, summary), None, now());
        assert!(topics.is_empty(), "{title}: {topics:?}");
    }
}

#[test]
fn north_koreas_answer_in_words_of_supply_and_the_2018_agreement_are_the_story() {
    let config = default_config();
    let has = |title: &str, summary: &str, topic: &str| matches(&config, title, summary, topic);
    // North Korea's answer to the sales, speaking of arming and supplying, not selling.
    for (title, summary) in [
        (
            "",
            "Pyongyang said Washington keeps arming its puppets with new weaponry",
        ),
        ("KCNA attacks the US arms offer to the Seoul puppets", ""),
        // Spanish: "the US keeps providing arms to Seoul".
        (
            "",
            "Corea del Norte acusa a Washington de seguir proporcionando armas a Seúl",
        ),
        // German: "criticised the US weapons supply to its puppets".
        (
            "",
            "Nordkorea kritisierte die Waffenversorgung der USA an ihre Marionetten",
        ),
        // The sale and the weapons apart, with an adjective between: Russian "the DPRK
        // condemned the sale of American weapons to Japan", German "the sale of US weapons",
        // Turkish "the US weapons sale", Korean "the US's arms sale to Korea and Japan".
        (
            "КНДР осудила продажу американского оружия Японии и Южной Корее",
            "",
        ),
        ("Nordkorea verurteilt Verkauf von US-Waffen an Japan", ""),
        ("Kuzey Kore, ABD'nin Japonya'ya silah satışını kınadı", ""),
        ("북한, 미국의 한일 무기판매 규탄", ""),
    ] {
        assert!(
            has(title, summary, "missile_sale"),
            "{title}{summary}: not the sale"
        );
    }
    // The 2018 agreement, which both Koreas suspended in answer to the launch.
    for (title, summary) in [
        (
            "North Korea scraps 2018 military agreement with South Korea",
            "",
        ),
        // Russian: "the DPRK leaves the 2018 military agreement with South Korea".
        (
            "",
            "КНДР выходит из военного соглашения с Южной Кореей 2018 года",
        ),
    ] {
        assert!(
            has(title, summary, "satellite_launch"),
            "{title}{summary}: not the launch's aftermath"
        );
    }
    // North Korea's own arms for Russia are another story, and so are the words every
    // missile test's report puts next to weapons or arms.
    for (title, summary) in [
        (
            "North Korea sells artillery shells and weapons to Russia, US and South Korea say",
            "",
        ),
        (
            "North Korea fires ICBM capable of delivering nuclear weapons to the US mainland",
            "Japan and South Korea condemned the launch",
        ),
        (
            "",
            "The US offered arms control talks to North Korea, South Korea's minister said",
        ),
        (
            "US vows to provide nuclear weapons deterrence to South Korea against North Korea",
            "",
        ),
    ] {
        assert!(
            !has(title, summary, "missile_sale"),
            "{title}{summary}: taken for the sale"
        );
    }
    // The two Koreas named together, and their 2018 agreement (French).
    assert!(has(
        "Les deux Corées suspendent leur accord militaire de 2018",
        "",
        "satellite_launch"
    ));
    // Other military agreements: with Russia, and one not said to be the inter-Korean one.
    for (title, summary) in [
        (
            "North Korea and Russia sign military agreement",
            "Seoul and South Korea's allies voice concern",
        ),
        (
            "South Korea and the US update military agreement on North Korea",
            "",
        ),
    ] {
        assert!(
            !has(title, summary, "satellite_launch"),
            "{title}: taken for the launch"
        );
    }
}

#[test]
fn the_launch_in_the_words_of_statements_and_the_agreement_by_its_date() {
    let config = default_config();
    let launch = |title: &str, summary: &str| matches(&config, title, summary, "satellite_launch");
    // Governments condemn the launch in the UN resolutions' words, which name a ballistic
    // missile: such a headline is not a missile test's.
    assert!(launch(
        "Ministers' statement on North Korea's launch using ballistic missile technology",
        "We condemn the launch conducted on November 21",
    ));
    // Korean: "the North declares the 9·19 agreement void".
    assert!(launch("북, 9·19 군사합의 파기 선언", ""));
    // The agreement called inter-Korean, without "military".
    assert!(launch(
        "Seoul suspends part of the 2018 inter-Korean agreement",
        ""
    ));
    // A launch over Okinawa, and "space" as an adjective (Spanish: "its space assets").
    assert!(launch(
        "",
        "Okinawa's monorail stopped after North Korea's launch"
    ));
    assert!(launch(
        "",
        "Corea del Norte advierte a Estados Unidos sobre sus activos espaciales"
    ));
    // The satellite by its name (Italian: "the Malligyong-1 satellite was launched").
    assert!(launch(
        "",
        "Il satellite Malligyong-1 è stato lanciato martedì scorso"
    ));
    // North Korea's 2018 agreement with the US is not the inter-Korean one.
    assert!(!launch(
        "",
        "North Korea and the US signed the Singapore agreement in 2018"
    ));
    // A missile test in the same words stays out.
    assert!(!launch(
        "",
        "North Korea fired a Hwasong-18 ICBM, a launch using ballistic missile technology",
    ));
}

#[test]
fn japans_patriot_export_is_another_deal_but_its_patriots_on_guard_are_not() {
    let config = default_config();
    let sale = |title: &str, summary: &str| matches(&config, title, summary, "missile_sale");
    assert!(!sale(
        "Japan to export Patriot missiles to the US",
        "Tokyo eased its rules on arms exports; South Korea watches"
    ));
    assert!(sale(
        "",
        "Japan said its Aegis destroyers and PAC-3 batteries stood ready. North Korea had \
         denounced the potential US sale of hundreds of missiles to Japan and South Korea."
    ));
}

#[test]
fn statements_in_other_words_the_norths_name_for_the_agreement_and_the_guard_posts() {
    let config = default_config();
    let launch = |title: &str, summary: &str| matches(&config, title, summary, "satellite_launch");
    // The UN resolutions' words, as a government's release puts them.
    assert!(launch(
        "PM meeting with the President of the Republic of Korea",
        "The Prime Minister condemned North Korea's launch of ballistic missile technology \
         yesterday."
    ));
    // Japanese: North Korea's defence ministry restores every measure halted by the
    // "north-south agreement", in its own word order.
    assert!(launch(
        "",
        "北朝鮮国防省は、北南合意で中止した全軍事措置を即時復活させると報じた。"
    ));
    // The guard posts rebuilt after the agreement's end are a story of their own...
    assert!(!launch(
        "NK restores DMZ guard posts after ending military pact",
        "North Korea has restored guard posts after declaring that it was no longer bound \
         by the 2018 inter-Korean military agreement."
    ));
    // ...unless the item reports the satellite too.
    assert!(launch(
        "",
        "North Korea scrapped the 2018 inter-Korean military agreement after the South \
         suspended part of it over the spy satellite launch, and began rebuilding guard posts."
    ));
    // Japanese: South Korea's first military reconnaissance satellite, which is to watch
    // the North, is Seoul's launch.
    assert!(!launch(
        "韓国 初の軍事偵察衛星打ち上げ 北朝鮮のミサイル発射など早期探知狙い",
        "韓国は日本時間2日未明、初の軍事偵察衛星を打ち上げました。"
    ));
    // The technology's words without a launch are not the launch.
    assert!(!launch(
        "",
        "North Korea keeps improving its ballistic missile technology, analysts say"
    ));
}

#[test]
fn okinawas_alert_and_kims_photos_of_us_bases_are_the_launch() {
    let config = default_config();
    let launch = |title: &str, summary: &str| matches(&config, title, summary, "satellite_launch");
    // Japan's alert for Okinawa, North Korea unnamed.
    assert!(launch(
        "Japan lifts missile alert for Okinawa",
        "The government said the object passed over the islands toward the Pacific."
    ));
    // Missiles deployed on Okinawa's islands are not an alert.
    assert!(!launch(
        "Japan deploys missile units to Okinawa's islands amid warnings from China",
        ""
    ));
    // Kim shown photos of US bases, with no satellite word.
    assert!(launch(
        "",
        "KCNA said Kim Jong Un looked at photos of Guam and of the naval base at Norfolk."
    ));
    // North Korea threatening Guam is not the photos.
    assert!(!launch(
        "",
        "North Korea warned that Guam is within range of its missiles."
    ));
}

#[test]
fn near_misses_in_the_new_words_stay_out_and_the_suspension_stays_in() {
    let config = default_config();
    let sale = |title: &str, summary: &str| matches(&config, title, summary, "missile_sale");
    let launch = |title: &str, summary: &str| matches(&config, title, summary, "satellite_launch");
    // Swedish: the arms-industry ranking ("arms sales fell; US firms lost most, Japanese
    // and South Korean ones grew") is not the sale.
    assert!(!sale(
        "SIPRI: Vapenförsäljningen minskade – amerikanska bolag tappade",
        "Amerikanska företag tappade mest, medan bolag i Japan och Sydkorea ökade sina intäkter."
    ));
    // Chinese: 应对日益 ("to meet the growing") holds 对日 without meaning "to Japan".
    assert!(!sale(
        "全球百强军工企业武器销售额下降",
        "美国企业难以应对日益增长的需求。"
    ));
    // A defence bill that keeps US troops in Korea and funds the missiles.
    assert!(!sale(
        "House approves defense bill, sends it to Biden",
        "The bill keeps US troops in Korea and funds production of Tomahawk cruise missiles \
         and SM-6 interceptors."
    ));
    // A short-range missile "using ballistic missile technology".
    assert!(!launch(
        "",
        "North Korea fired a short-range ballistic missile late Sunday. Japan said the launch \
         violated resolutions that ban Pyongyang from using ballistic missile technology."
    ));
    // Korean: soldiers re-armed in the Joint Security Area after the agreement's end.
    assert!(!launch(
        "",
        "조선중앙통신은 판문점 공동경비구역에 무장인원을 다시 배치한 것은 북남군사분야합의서를 \
         먼저 파기한 데 따른 조치라고 주장했다."
    ));
    // The guard posts named as what the agreement had removed: the suspension is the story.
    assert!(launch(
        "",
        "North Korea said it will restore all military measures halted under the 2018 \
         inter-Korean military agreement, a day after Seoul partially suspended the deal. \
         Under the pact, the two Koreas had demolished some guard posts inside the DMZ."
    ));
    // Japanese: the North's launch, with Seoul's own launch still to come.
    assert!(launch(
        "",
        "北朝鮮は21日夜、軍事偵察衛星を搭載したロケットを発射した。\
         韓国の軍事偵察衛星は今月30日に米国から打ち上げられる予定。"
    ));
}

#[test]
fn the_agreement_in_more_languages_and_seouls_launch_in_french() {
    let config = default_config();
    let launch = |title: &str, summary: &str| matches(&config, title, summary, "satellite_launch");
    // Bulgarian: "Seoul halted part of the military agreement with Pyongyang".
    assert!(launch(
        "Сеул спря част от военното споразумение с Пхенян",
        "Южна Корея реагира на изстрелването от 2018 г."
    ));
    // Spanish: the agreement as a "security agreement" of 2018.
    assert!(launch(
        "",
        "Corea del Norte abandona el acuerdo de seguridad de 2018 con Corea del Sur"
    ));
    // North Korea's word order, "north-south", in English.
    assert!(launch(
        "",
        "North Korea said the South's suspension of the north-south military agreement was \
         a provocation"
    ));
    // French: Seoul's own launch.
    assert!(!launch(
        "La Corée du Sud a lancé son premier satellite espion",
        "Une semaine après le satellite nord-coréen."
    ));
}

#[test]
fn the_sale_in_more_languages_and_as_the_agencys_notice_to_congress() {
    let config = default_config();
    let sale = |title: &str, summary: &str| matches(&config, title, summary, "missile_sale");
    // Dutch: "North Korea condemns American arms sales to Japan and South Korea".
    assert!(sale(
        "Noord-Korea veroordeelt Amerikaanse wapenverkoop aan Japan en Zuid-Korea",
        ""
    ));
    // The agency's notice names "Korea" alone, beside a US missile.
    assert!(sale(
        "Pentagon agency notifies Congress of possible sale of Standard Missile-6 to Korea",
        ""
    ));
    assert!(sale("Seoul to get SM-6 interceptors after US nod", ""));
    // Chinese: "the US approves the sale of SM-6 missiles to South Korea" (对韩).
    assert!(sale("美批准对韩出售SM-6导弹", ""));
    // Other buyers stay out.
    assert!(!sale("US approves sale of Harpoon missiles to Taiwan", ""));
    assert!(!sale("US approves sale of F-35 jets to South Korea", ""));
}

#[test]
fn the_sale_as_arms_deals_contracts_or_a_package() {
    let config = default_config();
    let sale = |title: &str, summary: &str| matches(&config, title, summary, "missile_sale");
    // German: "Pyongyang condemns the US arms deals with Japan and South Korea".
    assert!(sale(
        "",
        "Pjöngjang verurteilt die Rüstungsgeschäfte der USA mit Japan und Südkorea."
    ));
    // Polish: "... condemned Washington's consent to the sale of armament to Japan and
    // South Korea".
    assert!(sale(
        "",
        "Ministerstwo obrony Korei Północnej potępiło zgodę Waszyngtonu na sprzedaż \
         uzbrojenia Japonii i Korei Południowej."
    ));
    // Russian: the sale word seven words before the weapons.
    assert!(sale(
        "",
        "КНДР осудила решение Вашингтона продать Японии и Южной Корее крупные партии \
         вооружений."
    ));
    assert!(sale(
        "Japan's counterstrike plan gets a boost with US approval",
        "Approval of the cruise-missile package lets Tokyo field standoff weapons."
    ));
    // A package for another buyer stays out, and so does one for its capital.
    assert!(!sale(
        "US approves new arms package for Taiwan",
        "Japan and South Korea watch closely."
    ));
    assert!(!sale(
        "Pentagon unveils new weapons package",
        "The Pentagon announced a new weapons package worth 100 million dollars for Kyiv on \
         Monday, as Defense Secretary Austin visited. Japan and South Korea pledged support."
    ));
    // North Korea's answer to the US's strategic assets is not its answer to the sales.
    assert!(!sale(
        "North Korea warns US over strategic assets",
        "North Korea said the US plan to transfer more strategic assets, including nuclear \
         weapons, to the Korean peninsula was a grave provocation."
    ));
    // "Rüstungsgeschäfte" without North Korea: South Korea's own exports, told in the words
    // of the deals.
    assert!(!sale(
        "",
        "Südkorea und Japan melden Rekorde bei ihren Rüstungsgeschäften, die USA bleiben \
         größter Exporteur."
    ));
}

#[test]
fn the_launch_in_nordic_compounds_spanish_spelling_and_as_the_norths() {
    let config = default_config();
    let launch = |title: &str, summary: &str| matches(&config, title, summary, "satellite_launch");
    // Swedish: "North Korea says its reconnaissance satellite has reached orbit".
    assert!(launch(
        "Nordkorea uppger att spaningssatellit nått omloppsbana",
        ""
    ));
    // Spanish: the capital as "Pionyang".
    assert!(launch(
        "",
        "El Estado Mayor Conjunto instó a Pionyang a suspender los preparativos para lanzar \
         un satélite espía."
    ));
    // English wire copy that names the North only as "the North".
    assert!(launch(
        "",
        "South Korea's military said the reconnaissance satellite fired by the North late \
         Tuesday appears to have entered orbit."
    ));
    // Seoul's own satellite on SpaceX's rocket, in Hindi, stays out.
    assert!(!launch(
        "दक्षिण कोरिया ने स्पेसएक्स रॉकेट से अपना पहला जासूसी उपग्रह प्रक्षेपित किया",
        "सियोल ने कहा कि इससे उत्तर कोरिया पर निगरानी क्षमता बढ़ेगी।"
    ));
}

#[test]
fn time_scopes_apply_when_items_are_first_seen() {
    let text = "[[topic]]\nid = \"t\"\nquery = 'missile'\nmax_age = \"30d\"\n";
    let (config, diagnostics) = config::compile(Path::new("/tmp/ww/t.toml"), text);
    let config = config.unwrap_or_else(|| panic!("{diagnostics:?}"));
    let published = Utc.with_ymd_and_hms(2015, 3, 1, 0, 0, 0).unwrap();
    let mut old = item("missile test", "");
    old.item.published = Some(published);
    // Without `seen` or `--as-of`, an item is first seen when it was published.
    assert_eq!(old.first_seen(None, now()), published);
    assert_eq!(test_item(&config, &old, None, published).len(), 1);
    // Seen (or counted as seen) today, it is too old.
    let as_of = old.first_seen(Some(now()), now());
    assert!(test_item(&config, &old, None, as_of).is_empty());
    let reason = out_of_scope(&config, &old, "t", as_of).expect("out of scope");
    assert!(reason.to_string().contains("max_age 30d"), "{reason}");
    old.seen = Some(now());
    assert_eq!(old.first_seen(None, now()), now());
    assert_eq!(old.first_seen(Some(published), now()), published);
    let undated = item("missile test", "");
    assert_eq!(undated.first_seen(None, now()), now());

    // A backtest judges each item by when it was stored: the logged match of the 2015 item
    // is dropped, saying why.
    let mut stale = stored(1, "missile test", "https://a.example/1");
    stale.item.published = Some(published);
    let fresh = stored(2, "missile sale", "https://a.example/2");
    let log = vec![logged(&stale, "t"), logged(&fresh, "t")];
    let diffs = backtest(&config, &[stale, fresh], &log, &[]);
    assert_eq!((diffs[0].logged, diffs[0].matching), (2, 1));
    let dropped = &diffs[0].dropped;
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert!(
        matches!(dropped[0].out_of_scope, Some(OutOfScope::TooOld { .. })),
        "{dropped:?}"
    );
}

fn verdict(item: &StoredItem, topic: &str, verdict: Verdict) -> StoredVerdict {
    StoredVerdict {
        item_id: item.item_id,
        topic: topic.into(),
        verdict,
        match_id: None,
        note: (verdict == Verdict::Wrong).then(|| "not a sale".to_string()),
        judged_at: now(),
    }
}

#[test]
fn a_backtest_counts_what_an_edit_does_to_the_verdicts() {
    let items = vec![
        stored(1, "missile test", "https://a.example/1"),
        stored(2, "missile sale", "https://a.example/2"),
        stored(3, "rocket sale", "https://a.example/3"),
        stored(4, "missile parade", "https://a.example/4"),
    ];
    let log = vec![
        logged(&items[0], "t"),
        logged(&items[1], "t"),
        logged(&items[3], "t"),
    ];
    let verdicts = [
        verdict(&items[0], "t", Verdict::Wrong),
        verdict(&items[1], "t", Verdict::Right),
        verdict(&items[2], "t", Verdict::Missed),
        verdict(&items[3], "t", Verdict::Right),
        verdict(&items[0], "other", Verdict::Wrong),
    ];
    // "missile" to "sale": drops the wrong test and the right parade, recovers the rocket.
    let diffs = backtest(&config_with("sale"), &items, &log, &verdicts);
    let changes = diffs[0].verdicts;
    assert_eq!(
        changes,
        VerdictChanges {
            judged: 4,
            removes_wrong: 1,
            loses_right: 1,
            recovers_missed: 1
        }
    );
    assert_eq!(
        changes.summary(),
        "removes 1 judged wrong, loses 1 judged right, recovers 1 judged missed"
    );
    assert_eq!(diffs[0].added[0].verdict, Some(Verdict::Missed));
    let unchanged = backtest(&config_with("missile"), &items, &log, &verdicts);
    assert_eq!(
        (
            unchanged[0].verdicts.removes_wrong,
            unchanged[0].verdicts.judged
        ),
        (0, 4)
    );
}

#[test]
fn verdicts_become_labels_that_count_only_for_their_topics_and_round_trip() {
    let items = vec![
        stored(1, "missile test", "https://a.example/1"),
        stored(2, "rocket sale", "https://a.example/2"),
        stored(3, "missile sale", "https://a.example/3"),
    ];
    let verdicts = [
        verdict(&items[0], "t", Verdict::Wrong),
        verdict(&items[1], "t", Verdict::Missed),
    ];
    let labelled = labels_from_verdicts(&items, &verdicts);
    assert_eq!(labelled.len(), 2, "unjudged items are left out");
    assert!(labelled[0].expected.is_empty());
    assert_eq!(labelled[1].expected, BTreeSet::from(["t".to_string()]));
    assert_eq!(labelled[0].test.seen, Some(items[0].first_seen));
    // A judged-wrong match is a false positive, a judged-missed item a false negative.
    let evaluation = evaluate(&config_with("missile"), &labelled, None, |_| now());
    let score = &evaluation.scores[0];
    assert_eq!(
        (
            score.true_positives,
            score.false_positives.len(),
            score.false_negatives.len()
        ),
        (0, 1, 1)
    );
    // An item judged for another topic only does not count for `t`.
    let other = labels_from_verdicts(&items[..1], &[verdict(&items[0], "other", Verdict::Wrong)]);
    let evaluation = evaluate(&config_with("missile"), &other, None, |_| now());
    assert_eq!(evaluation.scores[0].false_positives.len(), 0);

    // The export is the labels format: read back, it is the same label.
    let text: String = labelled
        .iter()
        .map(|label| format!("{}\n", label_record(label)))
        .collect();
    let read = parse_labels("export.jsonl", &text).unwrap();
    assert_eq!(read.len(), 2);
    for (back, original) in read.iter().zip(&labelled) {
        assert_eq!(back.expected, original.expected);
        assert_eq!(back.judged, original.judged);
        assert_eq!(back.notes, original.notes);
        assert_eq!(back.test.id, original.test.id);
        assert_eq!(back.test.feed, original.test.feed);
        assert_eq!(back.test.seen, original.test.seen);
        assert_eq!(back.test.item.url, original.test.item.url);
        assert_eq!(back.test.item.title, original.test.item.title);
    }
    assert_eq!(read[0].notes["t"], "not a sale");
}

#[test]
fn labelled_times_are_read_in_their_common_forms() {
    let at = |text: &str| read_time(text).map(|time| time.to_rfc3339());
    assert_eq!(
        at("2023-11-21T13:42:00+09:00").as_deref(),
        Some("2023-11-21T04:42:00+00:00")
    );
    assert_eq!(
        at("Tue, 21 Nov 2023 13:42:00 GMT").as_deref(),
        Some("2023-11-21T13:42:00+00:00")
    );
    assert_eq!(
        at("2023-11-21 13:42:00").as_deref(),
        Some("2023-11-21T13:42:00+00:00")
    );
    assert_eq!(
        at("2023-11-21").as_deref(),
        Some("2023-11-21T00:00:00+00:00")
    );
    assert_eq!(at("2023-11").as_deref(), Some("2023-11-01T00:00:00+00:00"));
    assert_eq!(at("someday"), None);
    assert_eq!(at("2023-13"), None);
}
