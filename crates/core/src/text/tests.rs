use super::*;

#[test]
fn sanitize_removes_escape_sequences() {
    assert_eq!(sanitize("a\u{1b}[31mred\u{7}"), "a [31mred ");
    assert_eq!(sanitize("gpj.\u{202E}exe"), "gpj. exe");
    assert_eq!(sanitize("a\u{2028}b"), "a b");
    assert_eq!(sanitize("a\u{9b}31mb\u{7f}"), "a 31mb ");
    assert_eq!(sanitize_lines("one\u{1b}[2J\r\ntwo"), "one [2J \ntwo");
    assert_eq!(for_log("북한\u{1b}[31m정찰위성", 4), "북한 […");
    assert_eq!(for_log("short", 10), "short");
}

#[test]
fn html_to_text_fast_path_agrees_with_the_parser() {
    const PIECES: &[&str] = &[
        "word",
        "Seoul",
        " ",
        "  ",
        "\n",
        "\t",
        "\r\n",
        "é",
        "北朝鮮",
        ".",
        ",",
        "a<b",
        "< 3",
        "<",
        ">",
        "&",
        "& ",
        "&&",
        "&amp;",
        "&amp",
        "&ampx;",
        "&lt;",
        "&gt;",
        "&quot;",
        "&nbsp;",
        "&mdash;",
        "&rsquo;",
        "&raquo;",
        "&copy;",
        "&notin;",
        "&bogus;",
        "&#8217;",
        "&#x41;",
        "&#X2014;",
        "&#65",
        "&#0;",
        "&#128;",
        "&#150;",
        "&#xD800;",
        "&#xFFFE;",
        "&#1114112;",
        "&#;",
        "&#x;",
        "&#00000065;",
        "<p>",
        "</p>",
        "<P>",
        "<p/>",
        "<br>",
        "<br/>",
        "<br />",
        "</br>",
        "<BR>",
        "<img src=\"x.jpg\" alt=\"a > b\">",
        "<img src=x/>",
        "<img src='y'/>",
        "<hr>",
        "<b>",
        "</b>",
        "<strong>",
        "</strong>",
        "<em>",
        "</em>",
        "<i>",
        "</i>",
        "<span class=\"c\">",
        "</span>",
        "<a href=\"h?a=1&amp;b=2\">",
        "<a href=x>",
        "</a>",
        "<div>",
        "</div>",
        "<ul>",
        "</ul>",
        "<ol>",
        "</ol>",
        "<li>",
        "</li>",
        "<h2>",
        "</h2>",
        "<h3>",
        "</h3>",
        "<blockquote>",
        "</blockquote>",
        "<figure>",
        "</figure>",
        "<figcaption>",
        "</figcaption>",
        "<small>",
        "</small>",
        "<q>",
        "</q>",
        "<table>",
        "<td>",
        "</table>",
        "<script>x</script>",
        "<x-foo>",
        "<font>",
        "<pre>",
        "</pre>",
        "<!-- c -->",
        "<!doctype html>",
        "<?xml?>",
        "</>",
        "</ p>",
        "<b/>",
        "<span/>",
        "<a href=\"a\"b=c>",
        "<a =x>",
        "<a href=\"x\"/>",
        "<b\u{0}>",
        "\u{0}",
        "<p class = \"x\" >",
        "<p\tid=a>",
        "<a href=a\"b>",
        "<div/ >",
    ];
    let mut rng = fastrand::Rng::with_seed(8);
    let (mut n_fast, mut n_cases) = (0, 0);
    for _ in 0..40_000 {
        let n_pieces = rng.usize(1..14);
        let html: String = (0..n_pieces)
            .map(|_| PIECES[rng.usize(..PIECES.len())])
            .collect();
        n_cases += 1;
        if let Some(fast) = simple_to_text(&html, true) {
            n_fast += 1;
            assert_eq!(fast, render(&Html::parse_fragment(&html)), "tags: {html:?}");
        }
        if let Some(fast) = simple_to_text(&html, false) {
            let parsed = render(&Html::parse_fragment(&html.replace('<', "&lt;")));
            assert_eq!(fast, parsed, "references: {html:?}");
        }
    }
    // Well-nested markup as feeds write it, now and then with a random piece in it.
    fn nested(rng: &mut fastrand::Rng, depth: usize, out: &mut String) {
        const ELEMENTS: &[&str] = &[
            "p",
            "b",
            "strong",
            "em",
            "i",
            "span",
            "a",
            "div",
            "ul",
            "ol",
            "li",
            "h2",
            "blockquote",
            "figure",
            "figcaption",
            "small",
            "sup",
            "q",
            "code",
        ];
        for _ in 0..rng.usize(1..5) {
            match rng.u8(..10) {
                0..=3 => out.push_str(PIECES[rng.usize(..20)]),
                4 => out.push_str(PIECES[rng.usize(..PIECES.len())]),
                5 => out.push_str(["<br>", "<img src=\"i.jpg\" />", "<hr/>"][rng.usize(..3)]),
                _ if depth < 4 => {
                    let name = ELEMENTS[rng.usize(..ELEMENTS.len())];
                    out.push_str(&format!("<{name} class=\"k\">"));
                    nested(rng, depth + 1, out);
                    out.push_str(&format!("</{name}>"));
                }
                _ => out.push_str("text"),
            }
        }
    }
    for _ in 0..40_000 {
        let mut html = String::new();
        nested(&mut rng, 0, &mut html);
        n_cases += 1;
        if let Some(fast) = simple_to_text(&html, true) {
            n_fast += 1;
            assert_eq!(fast, render(&Html::parse_fragment(&html)), "tags: {html:?}");
        }
    }
    // The comparison means something only if the fast path is often taken.
    assert!(n_fast * 5 > n_cases, "{n_fast} of {n_cases}");
}

/// Checks `html_to_text`.
fn check_text(html: &str, expected: &str) {
    assert_eq!(html_to_text(html), expected, "html_to_text({html:?})");
}

/// Checks `fold`.
fn check_fold(text: &str, expected: &str) {
    assert_eq!(fold(text), expected, "fold({text:?})");
}

/// Checks `tokenize`: each expected token is written `folded`, or `folded/cjk` for CJK runs.
fn check_tokens(text: &str, expected: &[&str]) {
    let tokens = tokenize(text);
    let actual: Vec<String> = tokens
        .iter()
        .map(|token| {
            if token.cjk {
                format!("{}/cjk", token.folded)
            } else {
                token.folded.clone()
            }
        })
        .collect();
    assert_eq!(actual, expected, "tokenize({text:?})");
    for token in &tokens {
        assert_eq!(
            fold(&text[token.start..token.end]),
            token.folded,
            "range of {token:?}"
        );
    }
}

#[test]
fn html_blocks_are_separated() {
    check_text("<h1>Headline</h1><p>First para</p>", "Headline First para");
    check_text("<div>one</div><div>two</div>", "one two");
    check_text("line<br>break<br/>again", "line break again");
    check_text("<ul><li>a</li><li>b</li></ul>", "a b");
    check_text("<table><tr><td>x</td><td>y</td></tr></table>", "x y");
    check_text("<p>Hel<b>lo</b> <i>world</i></p>", "Hello world");
}

#[test]
fn html_hidden_text_is_removed() {
    check_text(
        "<p>before</p><script>var x = 1;</script><style>p{}</style><p>after</p>",
        "before after",
    );
    check_text("<noscript>enable js</noscript>text", "text");
    check_text("<template><p>hidden</p></template>shown", "shown");
    check_text("a<!-- comment -->b", "ab");
    check_text(
        "<!DOCTYPE html><html><head><title>T</title><style>x</style></head>\
         <body><p>Body text</p></body></html>",
        "Body text",
    );
}

#[test]
fn html_entities_are_decoded() {
    check_text("Tom &amp; Jerry &lt;3", "Tom & Jerry <3");
    check_text("caf&eacute; &#x41;&#66;", "café AB");
    check_text("a&nbsp;b", "a b");
}

#[test]
fn html_whitespace_and_control_characters_collapse() {
    check_text("  many \n\t spaces  ", "many spaces");
    check_text("<p>\n  Indented\n  text\n</p>", "Indented text");
    check_text("bell\u{7}and\u{85}next", "bell and next");
    check_text("soft\u{AD}hyphen", "softhyphen");
    check_text("", "");
    check_text("<p> </p>", "");
}

#[test]
fn plain_text_passes_through() {
    check_text("North Korea's spy-satellite", "North Korea's spy-satellite");
    check_text("a < b > c", "a < b > c");
    check_text("x<y and AT&T", "x<y and AT&T");
    check_text("Q&A: 5 > 3", "Q&A: 5 > 3");
    check_text("<p>AT&T and Q&A</p>", "AT&T and Q&A");
}

#[test]
fn html_deep_nesting_stays_linear() {
    // html5ever scans its stack of open elements: this took minutes before the fallback.
    let deep = format!(
        "{}deep &amp; text{}",
        "<div>".repeat(100_000),
        "</div>".repeat(100_000)
    );
    check_text(&deep, "deep & text");
    check_text(
        &format!("{}unclosed", "<span><b>".repeat(50_000)),
        "unclosed",
    );
}

#[test]
fn html_fallback_strips_tags_hides_scripts_and_decodes_entities() {
    let html = format!(
        "{}<h1 class=\"x\">Head</h1><p>Hel<b>lo</b> &amp; &lt;b&gt; &quot;q&quot; \
         &apos;a&#39; &#x41;&#66; a&nbsp;b</p><script>var p = '<p>x</p>';</script>\
         <STYLE>p {{}}</STYLE><br/>end",
        "<div>".repeat(300)
    );
    check_text(&html, "Head Hello & <b> \"q\" 'a' AB a b end");
    let nested = "<div>".repeat(300);
    check_text(
        &format!("{nested}a < b &bogus; &#xZZ; & c"),
        "a < b &bogus; &#xZZ; & c",
    );
    check_text(&format!("{nested}kept<!-- unclosed <p>lost"), "kept");
    check_text(&format!("{nested}<p>kept<script>lost"), "kept");
}

#[test]
fn nesting_depth_counts_open_elements() {
    assert_eq!(nesting_depth("<div><span>x</span></div><div></div>"), 2);
    assert_eq!(
        nesting_depth("<br><br/><img src=x><hr><svg/><path d=x/>"),
        0
    );
    // HTML ignores the slash of `<div/>`: it opens a div.
    assert_eq!(nesting_depth("<div/><div/>"), 2);
    assert_eq!(nesting_depth("<p>a<p>b<li>c<li>d"), 0);
    assert_eq!(nesting_depth("<script>'<div><div>'</script>"), 1);
    assert_eq!(nesting_depth("<!-- <div><div> --><x-a><x-b>"), 2);
    assert_eq!(nesting_depth(&"<div>".repeat(1000)), 1000);
}

#[test]
fn angle_brackets_that_are_not_html_stay() {
    check_text(
        "Apple <AAPL.O> shares jump; Vec<T> explained",
        "Apple <AAPL.O> shares jump; Vec<T> explained",
    );
    check_text("Apple <AAPL.O> &amp; Vec<T>", "Apple <AAPL.O> & Vec<T>");
    check_text("<unknown>tag</unknown>", "<unknown>tag</unknown>");
    check_text("x <b and y", "x <b and y");
    check_text("Tom &amp; Jerry <3, x<y", "Tom & Jerry <3, x<y");
    // Real markup is still markup, in any case.
    check_text(
        "<P CLASS=lead>Apple <B>shares</B> jump</P>",
        "Apple shares jump",
    );
    check_text("Apple <b>shares</b> jump", "Apple shares jump");
    check_text("<h2>Q1</h2>text", "Q1 text");
}

#[test]
fn fold_letters_without_decomposition() {
    check_fold("Łódź", "lodz");
    check_fold("København", "kobenhavn");
    check_fold("Đoković", "dokovic");
    check_fold("œuvre", "oeuvre");
    check_fold("ŁØĐĦIıÆŒÞŀĿ", "lodhiiaeoethll");
    check_fold("coŀlecció", "colleccio");
}

#[test]
fn fold_strips_marks_only_from_latin_and_greek() {
    check_fold("мой", "мой");
    check_fold("МОЙ", "мой");
    check_fold("ёлка", "ёлка");
    check_fold("Tiếng Việt", "tieng viet");
    check_fold("ἀθῆναι", "αθηναι");
    check_fold("مُحَمَّد", "محمد");
    check_fold("\u{670}", "");
}

#[test]
fn fold_drops_variation_selectors_and_soft_hyphens() {
    check_fold("葛\u{E0100}城", "葛城");
    check_fold("葛\u{FE00}城", "葛城");
    check_fold("a\u{AD}b", "ab");
    check_tokens("葛\u{E0100}城", &["葛城/cjk"]);
    check_tokens("spy sat\u{AD}ellite", &["spy", "satellite"]);
}

#[test]
fn fold_case_and_diacritics() {
    check_fold("PYONGYANG", "pyongyang");
    check_fold("Pyongyang", "pyongyang");
    check_fold("Café", "cafe");
    check_fold("café", "cafe");
    check_fold("Straße", "strasse");
    check_fold("ÑANDÚ", "nandu");
    check_fold("Ωμέγα ΟΔΟΣ", "ωμεγα οδοσ");
    check_fold("İstanbul", "istanbul");
}

#[test]
fn fold_keeps_cjk_intact() {
    check_fold("北朝鮮が", "北朝鮮が");
    check_fold("북한", "북한");
    check_fold("ガイド", "ガイド");
    check_fold("ｶﾞｲﾄﾞ", "ガイド");
}

#[test]
fn fold_fullwidth_and_compatibility() {
    check_fold("ＤＰＲＫ", "dprk");
    check_fold("ﬁle", "file");
    check_fold("Ⅻ", "xii");
}

#[test]
fn tokens_split_on_punctuation() {
    check_tokens("spy-satellite", &["spy", "satellite"]);
    check_tokens("Korea's", &["korea", "s"]);
    check_tokens(
        "  Spy   Satellite, launched!",
        &["spy", "satellite", "launched"],
    );
    check_tokens("Malligyong-1 (2023)", &["malligyong", "1", "2023"]);
    check_tokens("", &[]);
    check_tokens("— … !", &[]);
}

#[test]
fn tokens_keep_combining_marks() {
    check_tokens("cafe\u{301} noir", &["cafe", "noir"]);
    check_tokens("naïve", &["naive"]);
    check_tokens("हिन्दी भाषा", &["हिन्दी", "भाषा"]);
}

#[test]
fn tokens_cjk_runs() {
    check_tokens("北朝鮮が偵察衛星を発射", &["北朝鮮が偵察衛星を発射/cjk"]);
    check_tokens(
        "북한이 정찰위성을 발사",
        &["북한이/cjk", "정찰위성을/cjk", "발사/cjk"],
    );
    check_tokens("朝鲜发射卫星。美国", &["朝鲜发射卫星/cjk", "美国/cjk"]);
    check_tokens("DPRKの衛星", &["dprk", "の衛星/cjk"]);
    check_tokens("2023年11月", &["2023", "年/cjk", "11", "月/cjk"]);
    check_tokens("ドナルド・トランプ", &["ドナルド/cjk", "トランプ/cjk"]);
    check_tokens("ｶﾞｲﾄﾞ", &["ガイド/cjk"]);
}

#[test]
fn tokens_unspaced_script_runs() {
    // Vowel signs and tone marks stay in the run; spaces and punctuation end it.
    check_tokens(
        "เกาหลีเหนือยิงดาวเทียม, สหรัฐฯ",
        &["เกาหลีเหนือยิงดาวเทียม/cjk", "สหรัฐฯ/cjk"],
    );
    check_tokens("កូរ៉េខាងជើង ២០២៣", &["កូរ៉េខាងជើង/cjk", "២០២៣/cjk"]);
    check_tokens("Tomahawkของสหรัฐ", &["tomahawk", "ของสหรัฐ/cjk"]);
}

#[test]
fn tokens_fullwidth_latin() {
    check_tokens("ＤＰＲＫ launch", &["dprk", "launch"]);
}

#[test]
fn token_ranges_point_into_original() {
    let text = "Ｘ café 北朝鮮";
    let tokens = tokenize(text);
    let slices: Vec<&str> = tokens.iter().map(|t| &text[t.start..t.end]).collect();
    assert_eq!(slices, ["Ｘ", "café", "北朝鮮"]);
}

#[test]
fn text_is_cut_by_characters_or_by_terminal_columns() {
    let mut field = "北朝鮮が偵察衛星".to_string();
    assert!(cut_chars(&mut field, 3));
    assert_eq!(field, "北朝鮮");
    assert!(!cut_chars(&mut field, 3), "already short enough");
    let mut ascii = "abcd".to_string();
    assert!(cut_chars(&mut ascii, 3));
    assert_eq!(ascii, "abc");
    assert!(!cut_chars(&mut ascii, 3), "as many bytes as the cap");
    let mut accented = "éé".to_string();
    assert!(
        !cut_chars(&mut accented, 2),
        "more bytes than the cap, not more characters"
    );
    assert!(cut_chars(&mut accented, 1));
    assert_eq!(accented, "é");
    assert_eq!(shorten("abcdef", 4), "abc…");
    assert_eq!(shorten("abcd", 4), "abcd");
    assert_eq!(shorten("abc", 4), "abc");
    assert_eq!(fit_width("short", 10), "short");
    assert_eq!(fit_width("abcdefghijkl", 5), "abcd…");
    assert_eq!(fit_width("北朝鮮が偵察衛星", 7), "北朝鮮…");
}

#[test]
fn json_output_escapes_every_control_character() {
    let value = serde_json::json!({"title": "a\u{1b}[31mb\u{9b}c\u{7f}d\u{202e}e\u{2028}f\n"});
    let line = to_json(&value).unwrap();
    assert_eq!(
        line,
        r#"{"title":"a\u001b[31mb\u009bc\u007fd\u202ee\u2028f\n"}"#
    );
    assert!(!line.chars().any(is_unsafe_char));
    let back: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(back, value, "the same JSON value");
    let pretty = to_json_pretty(&value).unwrap();
    assert!(pretty.contains('\n') && pretty.contains("\\u009b"));
}

#[test]
fn collapsing_runs_of_text_equals_collapsing_a_character_at_a_time() {
    let pieces = [
        "a", "word", " ", "  ", "\n", "\t", "\r\n", "\u{7f}", "\u{1}", "\u{a0}", "\u{200b}",
        "\u{ad}", "é", "衛星", ".", "-", "~", "!",
    ];
    let mut rng = fastrand::Rng::with_seed(29);
    for _ in 0..5000 {
        let text: String = (0..rng.usize(0..16))
            .map(|_| pieces[rng.usize(..pieces.len())])
            .collect();
        let mut one_at_a_time = Collapsed::with_capacity(0);
        text.chars().for_each(|c| one_at_a_time.push(c));
        assert_eq!(
            collapse_whitespace(&text),
            one_at_a_time.finish(),
            "{text:?}"
        );
    }
}

#[test]
fn collapsing_as_text_is_appended_equals_collapsing_the_whole() {
    let pieces = [
        "word",
        "Two words",
        " ",
        "  ",
        "\n\t",
        "\u{a0}",
        "\u{200b}",
        "\u{ad}",
        "\u{feff}",
        "é",
        "衛星",
        "\u{1}",
        ".",
        "x",
    ];
    let mut rng = fastrand::Rng::with_seed(13);
    for _ in 0..3000 {
        let chunks: Vec<&str> = (0..rng.usize(0..12))
            .map(|_| pieces[rng.usize(..pieces.len())])
            .collect();
        let mut collapsed = Collapsed::with_capacity(0);
        for chunk in &chunks {
            // Pushed as text, or a character at a time as references are.
            if rng.bool() {
                collapsed.push_str(chunk);
            } else {
                chunk.chars().for_each(|c| collapsed.push(c));
            }
        }
        assert_eq!(
            collapsed.finish(),
            collapse_whitespace(&chunks.concat()),
            "{chunks:?}"
        );
    }
}

#[test]
fn words_are_ascii_agrees_with_a_look_at_every_character() {
    // Separators outside ASCII (a no-break space, curly quotes, a dash) and letters outside
    // ASCII, at every distance from the 64-byte blocks the check reads at once.
    let pieces = [
        "a", "word ", "x", "\u{a0}", "\u{2019}", "\u{201c}", "\u{2014}", "é", "衛星", "ß", "1",
    ];
    let mut rng = fastrand::Rng::with_seed(31);
    for _ in 0..5000 {
        let text: String = (0..rng.usize(0..60))
            .map(|_| pieces[rng.usize(..pieces.len())])
            .collect();
        let every_character = text.chars().all(|c| c.is_ascii() || separates_tokens(c));
        assert_eq!(words_are_ascii(&text), every_character, "{text:?}");
    }
}
