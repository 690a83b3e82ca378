//! Tests of the query language, driven by a few `check` helpers: one per kind of outcome.

use std::collections::BTreeMap;

use super::*;

fn aliases() -> BTreeMap<String, Vec<String>> {
    let entries = |list: &[&str]| list.iter().map(|entry| entry.to_string()).collect();
    BTreeMap::from([
        (
            "north_korea".to_string(),
            entries(&[
                "North Korea",
                "DPRK",
                "NoKor",
                "Pyongyang",
                "Kim Jong*",
                "북한",
                "北朝鮮",
                "朝鲜",
            ]),
        ),
        (
            "south_korea".to_string(),
            entries(&["South Korea", "SoKor", "ROK", "Seoul"]),
        ),
    ])
}

fn compile(query: &str) -> Query {
    Query::compile(query, &aliases())
        .unwrap_or_else(|error| panic!("{query:?} should compile: {error} at {}", error.offset))
}

/// Checks whether `query` matches an item with these fields.
fn check_fields(query: &str, fields: Fields<'_>, expected: bool) {
    let matched = compile(query).evaluate(&Document::new(&fields));
    assert_eq!(
        matched.is_some(),
        expected,
        "query {query:?} on {fields:?}: {matched:?}"
    );
    if let Some(hits) = matched {
        assert!(!hits.is_empty(), "a match must have hits");
    }
}

/// Checks whether `query` matches an item whose title is `title`.
fn check(query: &str, title: &str, expected: bool) {
    check_fields(
        query,
        Fields {
            title,
            ..Fields::default()
        },
        expected,
    );
}

/// Checks the hits of a match, written `field term` (snippets are checked separately).
fn check_hits(query: &str, fields: Fields<'_>, expected: &[&str]) {
    let hits = compile(query)
        .evaluate(&Document::new(&fields))
        .unwrap_or_else(|| panic!("{query:?} should match {fields:?}"));
    let actual: Vec<String> = hits
        .iter()
        .map(|hit| format!("{} {}", hit.field, hit.term))
        .collect();
    assert_eq!(actual, expected, "hits of {query:?}");
}

/// Checks the error of a query that must not compile, written as a caret under the offending
/// byte followed by the message: `"      ^ expected a term after AND"`.
fn check_error(query: &str, expected: &str) {
    let error = match Query::compile(query, &aliases()) {
        Ok(compiled) => panic!("{query:?} should not compile: {compiled:?}"),
        Err(error) => error,
    };
    let actual = format!("{}^ {}", " ".repeat(error.offset), error.message);
    assert_eq!(actual, expected, "error of {query:?}\n{query}\n{actual}");
}

#[test]
fn words_match_whole_tokens() {
    check("missile", "North Korea fires missile", true);
    check("missile", "A missile, then another", true);
    check("missile", "Dismissile is not a word", false);
    check("missile", "Missiles over the sea", false);
    check("launch", "Launched on Tuesday", false);
    check("missile", "", false);
}

#[test]
fn case_and_diacritics_are_folded() {
    check("Pyongyang", "PYONGYANG says", true);
    check("PYONGYANG", "pyongyang says", true);
    check("cafe", "Café owners protest", true);
    check("café", "CAFE owners protest", true);
    check("Strasse", "Die Straße ist gesperrt", true);
    check("ＤＰＲＫ", "DPRK launches", true);
    check("DPRK", "ＤＰＲＫが発射", true);
}

#[test]
fn phrases_match_consecutive_tokens() {
    check(
        "\"spy satellite\"",
        "North Korea's spy-satellite launch",
        true,
    );
    check("\"spy satellite\"", "Spy Satellite in orbit", true);
    check("\"spy satellite\"", "a spy  satellite", true);
    check("\"spy satellite\"", "a spy and a satellite", false);
    check("\"spy satellite\"", "satellite spy", false);
    check("spy-satellite", "military spy satellite", true);
    check("\"Korea's\"", "South Korea's JCS", true);
    check("\"Korea's\"", "South Korea said", false);
    check("\"  spy   satellite \"", "spy satellite", true);
    check("“spy satellite”", "spy satellite", true);
}

#[test]
fn prefixes_match_token_starts() {
    check("missil*", "Missiles fly", true);
    check("missil*", "missile", true);
    check("missil*", "dismissile", false);
    check("Mallig*", "Malligyong-1 launched", true);
    check("\"spy sat*\"", "spy satellites", true);
    check("spy-sat*", "spy satellites", true);
    check("spy-sat*", "satellites spy", false);
}

#[test]
fn aliases_expand_to_an_or_of_their_entries() {
    check("@north_korea", "DPRK launches", true);
    check("@north_korea", "Pyongyang says", true);
    check("@north_korea", "North Korea says", true);
    check("@north_korea", "North Dakota and South Korea", false);
    check("@north_korea", "Kim Jong Un visits", true);
    check("@north_korea", "Kim Jongun visits", true);
    check("@north_korea", "Kim Il Sung", false);
    check("@north_korea missile", "NoKor missile", true);
    check("@north_korea missile", "NoKor rocket", false);
    check("@south_korea", "ROK forces", true);
    check("@south_korea", "rock music", false);
}

#[test]
fn boolean_operators() {
    check("missile AND japan", "Missile sale to Japan", true);
    check("missile AND japan", "Missile sale to Korea", false);
    check("missile japan", "Missile sale to Japan", true);
    check("missile japan", "Missile sale to Korea", false);
    check("missile OR rocket", "rocket test", true);
    check("missile OR rocket", "satellite test", false);
    check("missile AND NOT test", "missile test", false);
    check("missile AND NOT test", "missile sale", true);
    check("missile NOT test", "missile sale", true);
    check("missile NOT test", "missile test", false);
}

#[test]
fn lower_case_operators_are_words() {
    check("missile and japan", "missile japan", false);
    check("missile and japan", "missile and japan", true);
    check("\"war or peace\"", "war or peace", true);
    check("war or peace", "war peace", false);
    check("not", "this is not it", true);
}

#[test]
fn precedence_and_parentheses() {
    // AND binds tighter than OR: a OR (b AND c).
    check("tomahawk OR missile AND japan", "Tomahawk", true);
    check("tomahawk OR missile AND japan", "missile", false);
    check("(tomahawk OR missile) AND japan", "Tomahawk", false);
    check(
        "(tomahawk OR missile) AND japan",
        "Tomahawk for Japan",
        true,
    );
    // Juxtaposition is an AND too.
    check("tomahawk OR missile japan", "missile", false);
    check("tomahawk OR missile japan", "missile japan", true);
    // NOT binds tighter than AND.
    check("japan AND NOT missile AND sale", "Japan sale", true);
    check(
        "japan AND NOT missile AND sale",
        "Japan missile sale",
        false,
    );
    check("japan AND NOT (missile OR rocket)", "Japan rocket", false);
    check("japan AND NOT (missile OR rocket)", "Japan ships", true);
    check("NOT missile japan", "Japan", true);
    check("((japan))", "Japan", true);
    // NOT binds tighter than NEAR, NEAR tighter than AND and OR.
    check("seoul OR missile NEAR/1 japan", "Seoul", true);
    check(
        "seoul AND missile NEAR/1 japan",
        "Seoul missile to Japan",
        true,
    );
    check(
        "seoul AND missile NEAR/1 japan",
        "Seoul missile sale to Japan",
        false,
    );
}

#[test]
fn near_counts_tokens_between_in_either_order() {
    let title = "Missile sale to Japan approved";
    // Two tokens (sale, to) lie between missile and japan.
    check("missile NEAR/2 japan", title, true);
    check("missile NEAR/1 japan", title, false);
    check("japan NEAR/2 missile", title, true);
    check("japan NEAR/1 missile", title, false);
    check("missile NEAR/0 sale", title, true);
    check("sale NEAR/0 missile", title, true);
    check("missile NEAR/0 japan", title, false);
    // Phrases count from their last token.
    check("\"missile sale\" NEAR/1 japan", title, true);
    check("\"missile sale\" NEAR/0 japan", title, false);
    // Any pair of occurrences will do.
    check("missile NEAR/0 japan", "Missile talks; Japan missile", true);
    // One occurrence is not two: a term is not near itself.
    check("missile NEAR/0 missile", "North Korea fires missile", false);
    check("missile NEAR/5 missile", "North Korea fires missile", false);
    check("missile NEAR/0 missil*", "North Korea fires missile", false);
    check("missile NEAR/0 missile", "missile, missile", true);
    check("missile NEAR/1 missile", "missile and missile", true);
    check("\"missile sale\" NEAR/0 sale", "missile sale", true);
}

#[test]
fn near_accepts_aliases_groups_and_prefixes() {
    check(
        "@north_korea NEAR/3 satellite",
        "Pyongyang launches spy satellite",
        true,
    );
    check(
        "@north_korea NEAR/1 satellite",
        "Pyongyang launches spy satellite",
        false,
    );
    check(
        "(missile OR rocket) NEAR/2 launch*",
        "rocket was launched",
        true,
    );
    check(
        "\"spy satellite\" NEAR/5 (@north_korea OR Malligyong)",
        "spy satellite launched by DPRK",
        true,
    );
    check("title:missile NEAR/0 sale", "missile sale", true);
}

#[test]
fn near_stays_within_one_field() {
    let fields = Fields {
        title: "A missile",
        summary: "Japan approves",
        ..Fields::default()
    };
    check_fields("missile NEAR/5 japan", fields, false);
    check_fields("missile AND japan", fields, true);
}

#[test]
fn fields_scope_terms() {
    let fields = Fields {
        title: "SpaceX launches Starlink",
        summary: "A Falcon 9 rocket lifted off",
        content: "The booster landed on a drone ship",
        article: "The launch site was Cape Canaveral",
        link: "https://www.example.com/news/north-korea-satellite?id=3",
        authors: &["Jane Doe".to_string(), "Kim Min-ji".to_string()],
        categories: &["Space".to_string(), "Asia Pacific".to_string()],
        feed: "Yonhap — North Korea",
    };
    check_fields("title:spacex", fields, true);
    check_fields("summary:spacex", fields, false);
    check_fields("summary:falcon", fields, true);
    check_fields("content:booster", fields, true);
    check_fields("booster", fields, true);
    check_fields("title:booster", fields, false);
    // The linked page's text is searched by default, and on its own with `article:`.
    check_fields("canaveral", fields, true);
    check_fields("article:canaveral", fields, true);
    check_fields("article:booster", fields, false);
    // Without a field, only title, summary, content and article are searched.
    check_fields("doe", fields, false);
    check_fields("author:doe", fields, true);
    check_fields("author:\"Kim Min-ji\"", fields, true);
    check_fields("author:\"Doe Kim\"", fields, false);
    check_fields("category:space", fields, true);
    check_fields("category:\"asia pacific\"", fields, true);
    check_fields("category:(asia NEAR/0 pacific)", fields, true);
    check_fields("category:asia NEAR/0 category:pacific", fields, true);
    check_fields("category:asia NEAR/0 pacific", fields, false);
    check_fields("category:space NEAR/5 category:asia", fields, false);
    check_fields("link:satellite", fields, true);
    check_fields("link:\"north korea\"", fields, true);
    check_fields("link:example.com", fields, true);
    check_fields("link:https://www.example.com", fields, true);
    check_fields("feed:yonhap", fields, true);
    check_fields("feed:@north_korea", fields, true);
    check_fields("title:(starlink OR falcon)", fields, true);
    check_fields("title:(falcon OR booster)", fields, false);
    check_fields("Title:spacex", fields, true);
    check_fields("title: spacex", fields, true);
    check_fields("launch* AND NOT title:SpaceX", fields, false);
}

#[test]
fn cjk_matches_by_substring() {
    check("北朝鮮", "北朝鮮が偵察衛星を発射", true);
    check("偵察衛星", "北朝鮮が偵察衛星を発射", true);
    check("北朝鮮", "南北朝の歴史", false);
    check("북한", "북한이 정찰위성을 발사했다", true);
    check("북한", "북한의 미사일", true);
    check("정찰위성", "북한이 정찰위성을 발사했다", true);
    check("남한", "북한이 정찰위성을 발사했다", false);
    check("朝鲜", "朝鲜发射军事侦察卫星", true);
    check("@north_korea", "朝鲜发射军事侦察卫星", true);
    check("\"북한 정찰위성\"", "북한의 정찰위성을 발사", true);
    check("\"북한 정찰위성\"", "정찰위성 북한", false);
    check("ガイド", "ｶﾞｲﾄﾞブック", true);
    check("北朝鮮 AND ミサイル", "北朝鮮、弾道ミサイル発射", true);
    check("北朝鮮 NEAR/0 ミサイル", "北朝鮮、弾道ミサイル発射", true);
    // A run without punctuation is one token: NEAR is coarse there, but one occurrence is
    // still not two.
    check(
        "北朝鮮 NEAR/0 ミサイル",
        "北朝鮮が昨日弾道ミサイルを発射",
        true,
    );
    check(
        "北朝鮮 NEAR/0 北朝鮮",
        "北朝鮮が昨日弾道ミサイルを発射",
        false,
    );
    check("DPRK", "DPRKの衛星", true);
}

#[test]
fn unspaced_scripts_match_by_substring() {
    // Thai, Khmer, Lao and Burmese put no spaces between words: a word is found inside
    // the run, as in Chinese.
    check("เกาหลีเหนือ", "เกาหลีเหนือยิงดาวเทียมสอดแนม", true);
    check("ดาวเทียม", "เกาหลีเหนือยิงดาวเทียมสอดแนม", true);
    check("เกาหลีใต้", "เกาหลีเหนือยิงดาวเทียมสอดแนม", false);
    check("កូរ៉េខាងជើង", "ប្រទេសកូរ៉េខាងជើងបានថ្កោលទោស", true);
    check("ເກົາຫຼີເໜືອ", "ເກົາຫຼີເໜືອຍິງດາວທຽມ", true);
    check("ကိုရီးယား", "မြောက်ကိုရီးယားနိုင်ငံ", true);
    check("ดาวเทียม AND Tomahawk", "ดาวเทียม Tomahawk", true);
}

#[test]
fn cjk_parts_written_against_other_parts_must_touch_them() {
    // A CJK part followed by another part ends its run; one preceded by another starts it.
    check("北朝鮮のICBM", "北朝鮮の核とICBM", false);
    check("北朝鮮のICBM", "北朝鮮のICBM発射", true);
    check("北朝鮮のICBM", "米国は北朝鮮のICBMを警戒", true);
    check("ICBM発射", "ICBMの開発と今年の発射", false);
    check("ICBM発射", "ICBM発射実験", true);
    // A middle part is the whole run.
    check("F35戦闘機X", "F35戦闘機X", true);
    check("F35戦闘機X", "F35戦闘機の部品X", false);
    check("F35戦闘機X", "F35新型戦闘機X", false);
    // Parts separated by a space in the term keep matching inside runs (Korean particles).
    check("\"북한 정찰위성\"", "북한의 정찰위성을 발사", true);
    // A lone CJK term is still a substring.
    check("ICBM", "北朝鮮のICBM", true);
    check("発射", "ICBMの開発と今年の発射", true);
}

#[test]
fn letters_without_decomposition_and_other_scripts_fold() {
    check("Lodz", "Protest in Łódź", true);
    check("Kobenhavn", "København lufthavn", true);
    check("Dokovic", "Đoković wins", true);
    check("oeuvre", "Son œuvre complète", true);
    check("Łódź", "LODZ", true);
    // Only Latin and Greek lose their marks: й is not и.
    check("мой", "мои слова", false);
    check("мой", "мой дом", true);
    check("محمد", "قال مُحَمَّد", true);
    check("مُحَمَّد", "قال محمد", true);
    check("葛\u{E0100}城", "葛城市", true);
    check("葛城", "葛\u{E0100}城市", true);
}

#[test]
fn soft_hyphens_never_split_a_term() {
    check("a\u{AD}b", "ab", true);
    check("ab", "a\u{AD}b", true);
    check("\"spy sat\u{AD}ellite\"", "spy satellite", true);
    check("sat\u{AD}ellite", "sat ellite", false);
}

#[test]
fn curly_and_angle_quotes_delimit_phrases() {
    for query in [
        "”North Korea”",
        "“North Korea\"",
        "\"North Korea”",
        "„North Korea‟",
        "«North Korea»",
        "« North Korea »",
        "»North Korea«",
    ] {
        check(query, "North Korea says", true);
        check(query, "North Dakota and South Korea", false);
        check_hits(
            query,
            Fields {
                title: "North Korea says",
                ..Fields::default()
            },
            &["title North Korea"],
        );
    }
    check("title:”North Korea”", "North Korea says", true);
    check_error("missile ”spy sat", "        ^ unclosed quote");
}

#[test]
fn quoted_alias_entries_keep_their_prefix() {
    let aliases = BTreeMap::from([(
        "kim".to_string(),
        vec!["\"Kim Jong*\"".to_string(), " “Ri Sol Ju” ".to_string()],
    )]);
    let query = Query::compile("@kim", &aliases).expect("compiles");
    assert_eq!(
        query.terms().collect::<Vec<_>>(),
        ["Kim Jong*", "Ri Sol Ju"]
    );
    for (title, expected) in [
        ("Kim Jongun visits", true),
        ("Kim Jong Un visits", true),
        ("Ri Sol Ju visits", true),
        ("Kim Il Sung", false),
    ] {
        let document = Document::new(&Fields {
            title,
            ..Fields::default()
        });
        assert_eq!(query.evaluate(&document).is_some(), expected, "{title}");
    }
}

#[test]
fn hits_report_positive_terms_by_field_and_position() {
    let fields = Fields {
        title: "Pyongyang launches spy satellite",
        summary: "North Korea said the DPRK spy satellite reached orbit",
        content: "Seoul condemned the launch",
        ..Fields::default()
    };
    check_hits(
        "@north_korea AND \"spy satellite\" AND NOT moon",
        fields,
        &[
            "title Pyongyang",
            "title spy satellite",
            "summary North Korea",
            "summary DPRK",
            "summary spy satellite",
        ],
    );
    // Terms under NOT never become hits, and each (term, field) appears once.
    check_hits(
        "satellite AND NOT title:missile",
        Fields {
            title: "satellite, satellite, satellite",
            ..Fields::default()
        },
        &["title satellite"],
    );
    // Only the branches of an OR that matched are reported; a failed AND leaves nothing.
    check_hits(
        "(orbit AND moon) OR launch* OR rocket",
        fields,
        &["title launch*", "content launch*"],
    );
    // NEAR reports the pair that qualified.
    check_hits(
        "pyongyang NEAR/2 satellite",
        fields,
        &["title pyongyang", "title satellite"],
    );
}

#[test]
fn hits_in_one_run_of_cjk_text_come_in_the_same_order_whatever_the_order_of_the_clauses() {
    // Both terms are found in the one token "米国務省日本売却承認", so position does not order
    // them; the order must not follow which clause was evaluated first.
    let fields = Fields {
        title: "米国務省日本売却承認",
        ..Fields::default()
    };
    let expected = &["title 売却", "title 日本"];
    check_hits("日本 AND 売却", fields, expected);
    check_hits("売却 AND 日本", fields, expected);
    check_hits("(日本 OR 韓国) AND 売却", fields, expected);
}

#[test]
fn hits_carry_snippets_of_the_original_text() {
    let content = "In a statement released on Wednesday morning, the Joint Chiefs of Staff in \
        Seoul said that North Korea had launched what it claims is a military reconnaissance \
        satellite, named Malligyong-1, from its Sohae launch site late on Tuesday evening, and \
        warned of further provocations in the coming weeks.";
    let fields = Fields {
        content,
        ..Fields::default()
    };
    let hits = compile("\"reconnaissance satellite\"")
        .evaluate(&Document::new(&fields))
        .expect("matches");
    assert_eq!(hits.len(), 1);
    let snippet = &hits[0].snippet;
    assert!(
        snippet.starts_with('…') && snippet.ends_with('…'),
        "{snippet}"
    );
    assert!(
        snippet.contains("military reconnaissance satellite,"),
        "{snippet}"
    );
    let length = snippet.chars().count();
    assert!((60..=122).contains(&length), "{length}: {snippet}");
    // Cut on word boundaries.
    let inner = snippet.trim_matches('…');
    assert!(content.contains(inner), "{inner}");
    let start = content.find(inner).expect("inside");
    assert!(content[..start].ends_with(' '), "{snippet}");
    assert!(content[start + inner.len()..].starts_with(' '), "{snippet}");

    // A short field is shown whole, without ellipses.
    let hits = compile("seoul")
        .evaluate(&Document::new(&Fields {
            title: "Seoul  warns\nPyongyang",
            ..Fields::default()
        }))
        .expect("matches");
    assert_eq!(
        hits,
        [Hit {
            term: "seoul".into(),
            field: Field::Title,
            found: "Seoul".into(),
            snippet: "Seoul warns Pyongyang".into(),
        }]
    );

    // Alias hits name the entry as written in the alias list.
    let hits = compile("@north_korea")
        .evaluate(&Document::new(&Fields {
            title: "北朝鮮が偵察衛星を発射",
            ..Fields::default()
        }))
        .expect("matches");
    assert_eq!(hits[0].term, "北朝鮮");
    assert_eq!(hits[0].snippet, "北朝鮮が偵察衛星を発射");
}

#[test]
fn snippets_of_long_cjk_text_cut_on_char_boundaries() {
    let content = "北朝鮮".repeat(30) + "偵察衛星" + &"発射".repeat(60);
    let hits = compile("偵察衛星")
        .evaluate(&Document::new(&Fields {
            content: &content,
            ..Fields::default()
        }))
        .expect("matches");
    let snippet = &hits[0].snippet;
    assert!(snippet.contains("偵察衛星"), "{snippet}");
    assert!(snippet.chars().count() <= 122, "{snippet}");
}

#[test]
fn query_keeps_source_and_terms() {
    let query = compile("@south_korea OR missile* OR \"spy satellite\" OR missile*");
    assert_eq!(
        query.source(),
        "@south_korea OR missile* OR \"spy satellite\" OR missile*"
    );
    assert_eq!(
        query.terms().collect::<Vec<_>>(),
        [
            "South Korea",
            "SoKor",
            "ROK",
            "Seoul",
            "missile*",
            "spy satellite"
        ]
    );
}

#[test]
fn syntax_errors_point_at_the_offending_token() {
    check_error("", "^ empty query");
    check_error("   ", "^ empty query");
    check_error("missile \"spy sat", "        ^ unclosed quote");
    check_error("(missile OR rocket", "^ unclosed parenthesis");
    check_error("japan AND (missile", "          ^ unclosed parenthesis");
    check_error("missile)", "       ^ unmatched closing parenthesis");
    check_error(")", "^ unmatched closing parenthesis");
    check_error("()", "^ empty parentheses");
    check_error("missile AND", "        ^ expected a term after AND");
    check_error("missile OR", "        ^ expected a term after OR");
    check_error(
        "missile AND OR japan",
        "        ^ expected a term after AND",
    );
    check_error("AND missile", "^ expected a term before AND");
    check_error("(OR missile)", " ^ expected a term before OR");
    check_error("missile AND NOT", "            ^ expected a term after NOT");
    check_error("missile NEAR/3", "        ^ expected a term after NEAR/3");
}

#[test]
fn alias_and_field_errors() {
    check_error(
        "missile AND @nokor",
        "            ^ unknown alias @nokor (known: north_korea, south_korea)",
    );
    let no_aliases = Query::compile("@nokor", &BTreeMap::new()).expect_err("unknown alias");
    assert_eq!(
        no_aliases.message,
        "unknown alias @nokor (no aliases are defined)"
    );
    check_error("missile @", "        ^ expected an alias name after @");
    check_error(
        "xyz:missile",
        "^ unknown field xyz: (fields: title, summary, content, article, link, author, category, feed)",
    );
    check_error(
        "title:",
        "^ expected a term, phrase, alias or group after title:",
    );
    check_error(
        "title:NOT missile",
        "^ expected a term, phrase, alias or group after title:",
    );
    check_error(
        "title:(summary:missile)",
        "       ^ summary: cannot be used inside title:",
    );
    check_error(
        "title:summary:missile",
        "      ^ summary: cannot be used inside title:",
    );
    check_error(
        "title: Feed:missile",
        "       ^ feed: cannot be used inside title:",
    );
    let mut empty_alias = aliases();
    empty_alias.insert("empty".into(), Vec::new());
    let error = Query::compile("@empty", &empty_alias).expect_err("empty alias");
    assert_eq!(
        (error.offset, error.message.as_str()),
        (0, "alias @empty has no entries")
    );
}

#[test]
fn near_errors() {
    check_error(
        "missile NEAR/ japan",
        "        ^ expected a number of words after NEAR/, like NEAR/5",
    );
    check_error(
        "missile NEAR japan",
        "        ^ expected a number of words after NEAR/, like NEAR/5",
    );
    check_error(
        "missile NEAR/x japan",
        "        ^ expected a number of words after NEAR/, like NEAR/5",
    );
    check_error(
        "(missile AND sale) NEAR/3 japan",
        "^ the operands of NEAR must be words, phrases, prefixes, aliases or an OR of those",
    );
    check_error(
        "missile NEAR/3 NOT japan",
        "               ^ the operands of NEAR must be words, phrases, prefixes, aliases or an OR of those",
    );
    check_error(
        "a NEAR/1 b NEAR/1 c",
        "           ^ cannot chain NEAR: join two NEARs with AND",
    );
}

#[test]
fn term_errors() {
    check_error(
        "missile AND -test",
        "            ^ a leading - does not exclude; write AND NOT instead",
    );
    check_error(
        "missile &",
        "        ^ \"&\" has no letters or digits to match",
    );
    check_error("*", "^ expected a word before * in \"*\"");
    check_error(
        "missile OR *satellite",
        "           ^ a leading * in \"*satellite\" is not supported: * only ends a prefix (missil*); word endings are not matched",
    );
    check_error(
        "\"*spy satellite\"",
        "^ a leading * in \"*spy satellite\" is not supported: * only ends a prefix (missil*); word endings are not matched",
    );
    check_error("\"\"", "^ empty phrase");
    // A term that folds to nothing would match every text.
    check_error(
        "missile OR \u{345}*",
        "           ^ \"\u{345}*\" has no letters or digits to match",
    );
    check_error("\u{64E}", "^ \"\u{64E}\" has no letters or digits to match");
    check_error("\u{AD}", "^ \"\u{AD}\" has no letters or digits to match");
    let empty_entry = BTreeMap::from([("x".to_string(), vec!["\u{345}".to_string()])]);
    let error = Query::compile("missile OR @x", &empty_entry).expect_err("empty entry");
    assert_eq!(
        (error.offset, error.message.as_str()),
        (11, "\"\u{345}\" in @x has no letters or digits to match")
    );
}

#[test]
fn only_negative_queries_are_errors() {
    let message = "a query needs at least one positive term (exclude with AND NOT)";
    check_error("NOT missile", &format!("^ {message}"));
    check_error("NOT missile AND NOT rocket", &format!("^ {message}"));
    check_error("missile OR NOT rocket", &format!("           ^ {message}"));
    check_error("(NOT missile)", &format!("^ {message}"));
    // Positive somewhere in every way of matching: fine.
    compile("NOT missile AND rocket");
    compile("(NOT missile AND rocket) OR japan");
}

#[test]
fn long_texts_with_many_occurrences_stay_fast() {
    // Not a benchmark (those are criterion benches): a guard against quadratic behaviour in
    // indexing long texts and in NEAR over many occurrences.
    let content = "North Korea said so, with many words in between them, about a satellite, \
         and after it there are twelve more words to keep it apart. "
        .repeat(5_000);
    let document = Document::new(&Fields {
        content: &content,
        ..Fields::default()
    });
    assert!(
        compile("@north_korea NEAR/9 satellite AND launch*")
            .evaluate(&document)
            .is_none()
    );
    assert!(
        compile("@north_korea NEAR/9 satellite")
            .evaluate(&document)
            .is_none()
    );
    assert!(
        compile("@north_korea NEAR/10 satellite")
            .evaluate(&document)
            .is_some()
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let query = format!("{}missile{}", "(".repeat(100), ")".repeat(100));
    let error = Query::compile(&query, &aliases()).expect_err("too deep");
    assert_eq!(error.offset, 64);
    assert_eq!(error.message, "query is nested more than 64 levels deep");
    compile(&format!("{}missile{}", "(".repeat(20), ")".repeat(20)));
    let error = Query::compile(&"NOT ".repeat(1000), &aliases()).expect_err("too deep");
    assert_eq!(error.message, "query is nested more than 64 levels deep");
}

#[test]
fn hits_in_other_fields_and_alias_entries() {
    let fields = Fields {
        title: "Kim Jong Un inspects satellite",
        link: "https://example.com/kim-jong-un",
        authors: &["Jane Doe".to_string()],
        feed: "KCNA Watch",
        ..Fields::default()
    };
    check_hits(
        "@north_korea AND (link:kim OR author:doe OR feed:kcna)",
        fields,
        &["title Kim Jong*", "link kim", "author doe", "feed kcna"],
    );
    // A halfwidth original is located for the snippet even though it folds differently.
    let hits = compile("ガイド")
        .evaluate(&Document::new(&Fields {
            content: &format!("{}ｶﾞｲﾄﾞ{}", "北朝鮮".repeat(40), "発射".repeat(60)),
            ..Fields::default()
        }))
        .expect("matches");
    assert!(hits[0].snippet.contains("ｶﾞｲﾄﾞ"), "{}", hits[0].snippet);
    assert!(hits[0].snippet.starts_with('…'), "{}", hits[0].snippet);
}

#[test]
fn field_names_round_trip() {
    for field in Field::ALL {
        assert_eq!(Field::from_name(&field.to_string()), Some(field));
    }
    assert_eq!(Field::from_name("TITLE"), Some(Field::Title));
    assert_eq!(Field::from_name("body"), None);
}

#[test]
fn queries_and_documents_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Query>();
    assert_send_sync::<Document>();
}

/// Items for comparing the prefilter with plain evaluation: every script, fields, near misses.
fn prefilter_items() -> Vec<(String, String, String)> {
    let items = [
        (
            "North Korea launches spy satellite",
            "Pyongyang said the launch succeeded",
            "",
        ),
        (
            "Seoul warns of a launch",
            "South Korea's own satellite rode a Falcon 9",
            "",
        ),
        (
            "Missile sale approved",
            "The sale of missiles to Japan was approved",
            "link text",
        ),
        ("북한이 정찰위성을 발사했다", "", ""),
        ("北朝鮮が偵察衛星を打ち上げ", "ﾄﾏﾎｰｸの売却", ""),
        ("朝鲜发射侦察卫星", "美国批准向日本出售战斧导弹", ""),
        ("ＮＯＲＴＨ　ＫＯＲＥＡ", "Kim Jong-un watched", ""),
        (
            "dismissile satellites",
            "missiles missile missile",
            "spy-satellite",
        ),
        ("", "", ""),
        ("Weather", "Sunny with a chance of rain", "nothing here"),
        // Separators that are not ASCII, around ASCII words.
        ("Korea’s “missile” — sale", "U.S.’s sale…to Japan", "x86_64"),
        ("US-Japan missile sale", "us", "U.S."),
        ("missiles salesman", "misSILE-sale", "ミサイル売却"),
        (
            "⑴ fullwidth ＭＩＳＳＩＬＥ sale",
            "Ｕ.Ｓ. Japan",
            "café crème",
        ),
    ];
    items
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

#[test]
fn prefilter_never_changes_a_result() {
    let sources = [
        "@north_korea",
        "@north_korea AND satellite*",
        "missile",
        "missile AND NOT title:sale",
        "NOT sale AND missile*",
        "(missile OR rain) AND NOT (sale AND NOT japan)",
        "title:\"spy satellite\" OR summary:pyongyang",
        "content:\"spy satellite\"",
        "missile NEAR/0 missile",
        "sale NEAR/3 japan",
        "@south_korea NEAR/10 (satellite OR \"falcon 9\")",
        "정찰위성 OR 偵察衛星 OR 侦察卫星",
        "トマホーク AND 売却",
        "战斧 OR 戰斧",
        "\"north korea\" AND kim*",
        "link:text OR feed:wire",
        "satellit* AND NOT (SpaceX OR \"Falcon 9\")",
        "weather",
        "chance",
        "US AND sale*",
        "\"U.S.\" AND japan",
        "missile AND sale",
        "missile* AND NOT sale",
        "⑴ OR café OR x86",
        "\"korea s\" OR s",
        "ミサイル AND 売却",
    ];
    let queries: Vec<Query> = sources.iter().map(|source| compile(source)).collect();
    let set = QuerySet::new(queries.clone());
    let mut n_matches = 0;
    for (title, summary, content) in prefilter_items() {
        for feed in ["", "Wire"] {
            let document = Document::new(&Fields {
                title: &title,
                summary: &summary,
                content: &content,
                feed,
                ..Fields::default()
            });
            let expected: Vec<(usize, Vec<Hit>)> = queries
                .iter()
                .enumerate()
                .filter_map(|(index, query)| query.evaluate(&document).map(|hits| (index, hits)))
                .collect();
            n_matches += expected.len();
            assert_eq!(
                set.evaluate(&document),
                expected,
                "on {title:?} / {summary:?}"
            );
        }
    }
    assert!(n_matches > 20, "the items should match many queries");
}

#[test]
fn prefilter_never_changes_a_result_on_random_text() {
    // Random words, prefixes and punctuation (ASCII and not) in random texts: the prefilter's
    // token boundaries must agree with the tokenizer's.
    let words = [
        "sale",
        "sales",
        "s",
        "us",
        "u",
        "missile",
        "missiles",
        "mis",
        "japan",
        "korea",
        "北朝鮮",
        "朝鮮",
        "café",
        "cafe",
        "ＵＳ",
        "x1",
        "1",
    ];
    let separators = [" ", ".", "-", "’", "—", "", "  ", "\u{AD}", "“", "・"];
    let mut rng = fastrand::Rng::with_seed(9);
    let queries: Vec<Query> = (0..60)
        .map(|_| {
            let term = |rng: &mut fastrand::Rng| {
                let word = words[rng.usize(..words.len())];
                if rng.u8(..4) == 0 && !word.contains('朝') {
                    format!("{word}*")
                } else if rng.u8(..4) == 0 {
                    format!("\"{word} {}\"", words[rng.usize(..words.len())])
                } else {
                    word.to_string()
                }
            };
            let (first, second) = (term(&mut rng), term(&mut rng));
            let source = match rng.u8(..5) {
                0 => format!("{first} AND {second}"),
                1 => format!("{first} OR title:{second}"),
                2 => format!("{first} NEAR/1 summary:{second}"),
                3 => format!("({first} NEAR/3 {second}) OR content:{first}"),
                _ => format!("{first} AND NOT {second}"),
            };
            compile(&source)
        })
        .collect();
    let set = QuerySet::new(queries.clone());
    // Sets of one and two queries too: their words begin with few different bytes, so the
    // prefilter finds the tokens to try by those bytes (`Heads::for_each_candidate`).
    let small: Vec<(&[Query], QuerySet)> = queries
        .chunks(2)
        .chain(queries.chunks(1))
        .map(|chunk| (chunk, QuerySet::new(chunk.to_vec())))
        .collect();
    let mut n_matches = 0;
    for _ in 0..300 {
        let mut text = || {
            let n_words = rng.usize(0..8);
            (0..n_words)
                .map(|_| {
                    let word = words[rng.usize(..words.len())];
                    let word = if rng.bool() {
                        word.to_uppercase()
                    } else {
                        word.to_string()
                    };
                    word + separators[rng.usize(..separators.len())]
                })
                .collect::<String>()
        };
        let (title, summary, content) = (text(), text(), text());
        let document = Document::new(&Fields {
            title: &title,
            summary: &summary,
            content: &content,
            ..Fields::default()
        });
        let expected: Vec<(usize, Vec<Hit>)> = queries
            .iter()
            .enumerate()
            .filter_map(|(index, query)| query.evaluate(&document).map(|hits| (index, hits)))
            .collect();
        n_matches += expected.len();
        assert_eq!(
            set.evaluate(&document),
            expected,
            "on {title:?} / {summary:?}"
        );
        for (chunk, small_set) in &small {
            let expected: Vec<(usize, Vec<Hit>)> = chunk
                .iter()
                .enumerate()
                .filter_map(|(index, query)| query.evaluate(&document).map(|hits| (index, hits)))
                .collect();
            assert_eq!(
                small_set.evaluate(&document),
                expected,
                "{chunk:?} on {title:?} / {summary:?}"
            );
        }
    }
    assert!(n_matches > 300, "the texts should match many queries");
}

#[test]
fn lazy_tokens_equal_the_tokenizer() {
    // ASCII text is tokenized on first use by a byte loop, other text while folding: both must
    // give exactly the tokens of `text::tokenize`.
    let mut rng = fastrand::Rng::with_seed(5);
    let alphabet: Vec<char> = "aZ9 .-'_\t\n!é北ー\u{301}\u{AD}’".chars().collect();
    let mut texts: Vec<String> = [
        "",
        " ",
        "word",
        "  Spy-satellite, launched!  ",
        "U.S. F-35A x86_64 ",
        "a",
        "9",
        "Korea’s Kim Jong-un",
        "北朝鮮のICBM",
        "cafe\u{301} noir",
    ]
    .iter()
    .map(|text| text.to_string())
    .collect();
    for _ in 0..2000 {
        let length = rng.usize(0..24);
        let ascii_only = rng.bool();
        texts.push(
            (0..length)
                .map(|_| {
                    loop {
                        let c = alphabet[rng.usize(..alphabet.len())];
                        if !ascii_only || c.is_ascii() {
                            break c;
                        }
                    }
                })
                .collect(),
        );
    }
    for text in &texts {
        let expected: Vec<(std::ops::Range<usize>, String, bool)> = crate::text::tokenize(text)
            .into_iter()
            .map(|token| (token.start..token.end, token.folded, token.cjk))
            .collect();
        let actual: Vec<(std::ops::Range<usize>, String, bool)> =
            eval::FieldText::new(Field::Title, text)
                .map(|field_text| {
                    field_text
                        .token_list()
                        .into_iter()
                        .map(|(range, folded, cjk)| (range, folded.to_string(), cjk))
                        .collect()
                })
                .unwrap_or_default();
        assert_eq!(actual, expected, "tokens of {text:?}");
    }
}

#[test]
fn explanations_name_the_failed_clauses() {
    let query = compile("@north_korea AND (satellite OR launch*) AND NOT title:SpaceX");
    let unmet = |title: &str| {
        query.explain_failure(&Document::new(&Fields {
            title,
            ..Fields::default()
        }))
    };
    assert!(
        unmet("North Korea satellite").is_empty(),
        "a match has no failure"
    );

    let missing = unmet("Seoul launches a satellite");
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert_eq!(missing[0].clause, "@north_korea");
    assert_eq!(&query.source()[missing[0].span.clone()], "@north_korea");
    let Reason::Missing { terms } = &missing[0].reason else {
        panic!("{missing:?}");
    };
    assert_eq!(terms[..3], ["North Korea", "DPRK", "NoKor"]);

    let excluded = unmet("North Korea satellite rides SpaceX");
    assert_eq!(excluded.len(), 1, "{excluded:?}");
    assert_eq!(excluded[0].clause, "NOT title:SpaceX");
    let Reason::Excluded { hits } = &excluded[0].reason else {
        panic!("{excluded:?}");
    };
    assert_eq!(
        (hits[0].term.as_str(), hits[0].field),
        ("SpaceX", Field::Title)
    );

    let both = unmet("SpaceX news");
    assert_eq!(both.len(), 3, "every failed part of the top AND: {both:?}");

    let near = compile("missile NEAR/1 sale");
    let too_far = near.explain_failure(&Document::new(&Fields {
        title: "missile tests and a big sale",
        ..Fields::default()
    }));
    assert_eq!(too_far[0].reason, Reason::TooFar { distance: 1 });

    let alternatives = compile("(dprk AND satellite) OR tomahawk");
    let unmet = alternatives.explain_failure(&Document::new(&Fields {
        title: "dprk news",
        ..Fields::default()
    }));
    let Reason::NoAlternative { alternatives } = &unmet[0].reason else {
        panic!("{unmet:?}");
    };
    assert!(
        matches!(&alternatives[0].reason, Reason::Incomplete { parts } if parts[0].clause == "satellite")
    );
    assert!(matches!(&alternatives[1].reason, Reason::Missing { terms } if terms == &["tomahawk"]));
}

#[test]
fn highlight_finds_terms_as_the_matcher_does() {
    let marked = |text: &str, terms: &[&str]| {
        highlight(text, terms)
            .into_iter()
            .map(|range| text[range].to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        marked(
            "…the spy-satellite of North Korea's army…",
            &["spy satellite", "North Korea"]
        ),
        ["spy-satellite", "North Korea"]
    );
    assert_eq!(
        marked("Missiles, missile, dismissile", &["missile*"]),
        ["Missiles", "missile"]
    );
    assert_eq!(
        marked("北朝鮮が偵察衛星を打ち上げ", &["偵察衛星"]),
        ["偵察衛星"]
    );
    assert_eq!(
        marked("북한이 정찰위성을 발사", &["정찰위성", "북한"]),
        ["북한", "정찰위성"]
    );
    assert!(marked("nothing", &["missile"]).is_empty());
}

#[test]
fn every_script_is_normalized() {
    // Full-width Latin and an ideographic space.
    check(
        "@north_korea",
        "ＮＯＲＴＨ　ＫＯＲＥＡ ＬＡＵＮＣＨＥＳ",
        true,
    );
    // Half-width katakana is the same as full-width.
    check("トマホーク", "ﾄﾏﾎｰｸ売却を承認", true);
    // Hangul written as decomposed jamo is the same as composed syllables.
    check(
        "북한",
        "\u{1107}\u{116e}\u{11a8}\u{1112}\u{1161}\u{11ab}이 발사",
        true,
    );
    check("정찰위성", "북한이 정찰위성을 발사했다", true);
    // Hiragana and katakana are different letters.
    check("トマホーク", "とまほーく", false);
    // Simplified and traditional Chinese are different characters: aliases list both.
    check("战斧", "戰斧導彈", false);
    check("战斧 OR 戰斧", "戰斧導彈", true);
}

#[test]
fn a_query_has_at_most_max_terms_counting_alias_entries_each_time() {
    let words = |n: usize| (0..n).map(|i| format!("w{i}")).collect::<Vec<_>>();
    let none = BTreeMap::new();
    let at_limit = words(MAX_TERMS).join(" OR ");
    assert!(Query::compile(&at_limit, &none).is_ok());
    // A term written again counts again: the tree grows with every occurrence.
    let over = format!("{at_limit} OR w0");
    let error = Query::compile(&over, &none).unwrap_err();
    assert_eq!(error.offset, at_limit.len() + " OR ".len());
    assert!(
        error
            .message
            .contains(&format!("more than {MAX_TERMS} terms")),
        "{}",
        error.message
    );
    // An alias of 100 entries used 50 times is at the limit; the 51st use is over it, and
    // the error is at that use and says how much it adds.
    let aliases = BTreeMap::from([("many".to_string(), words(100))]);
    let fifty = vec!["@many"; 50].join(" OR ");
    assert!(Query::compile(&fifty, &aliases).is_ok());
    let error = Query::compile(&format!("{fifty} OR @many"), &aliases).unwrap_err();
    assert_eq!(error.offset, fifty.len() + " OR ".len());
    assert!(
        error
            .message
            .contains(&format!("more than {MAX_TERMS} terms"))
            && error.message.contains("@many"),
        "{}",
        error.message
    );
}
