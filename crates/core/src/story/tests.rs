use super::*;
use crate::text::separates_tokens;

fn item(title: &str, summary: &str, url: Option<&str>) -> Item {
    Item {
        key: "guid:1".into(),
        url: url.map(str::to_string),
        title: title.into(),
        summary: summary.into(),
        ..Item::default()
    }
}

/// Whether two items are one story by their text alone (title key or fingerprint), at a
/// fingerprint threshold of `threshold`.
fn same_story(a: &Item, b: &Item, threshold: f64) -> bool {
    let (a, b) = (keys(a), keys(b));
    if a.title.is_some() && a.title == b.title {
        return true;
    }
    match (&a.fingerprint, &b.fingerprint) {
        (Some(x), Some(y)) => shares_a_band(x, y) && x.similarity(y) >= threshold,
        _ => false,
    }
}

fn shares_a_band(a: &Fingerprint, b: &Fingerprint) -> bool {
    a.band_keys().zip(b.band_keys()).any(|(x, y)| x == y)
}

/// The labelled pairs: (same story, note, a, b).
fn pairs() -> Vec<(bool, String, Item, Item)> {
    include_str!("../../../../tests/fixtures/story_pairs.jsonl")
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("fixture is JSON");
            let side = |name: &str| {
                item(
                    value[name]["title"].as_str().expect("title"),
                    value[name]["summary"].as_str().expect("summary"),
                    None,
                )
            };
            (
                value["same"].as_bool().expect("same"),
                value["note"].as_str().expect("note").to_string(),
                side("a"),
                side("b"),
            )
        })
        .collect()
}

/// (false merges, missed merges) on the labelled pairs at `threshold`.
fn errors_at(threshold: f64) -> (usize, usize, Vec<String>) {
    let (mut false_merges, mut missed, mut wrong) = (0, 0, Vec::new());
    for (same, note, a, b) in pairs() {
        let merged = same_story(&a, &b, threshold);
        if merged && !same {
            false_merges += 1;
            wrong.push(format!("false merge: {note}"));
        }
        if !merged && same {
            missed += 1;
            wrong.push(format!("missed: {note}"));
        }
    }
    (false_merges, missed, wrong)
}

#[test]
fn labelled_pairs_at_the_chosen_threshold() {
    // The figures in the README ("Stories"); run with --nocapture to see the table.
    for threshold in [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7] {
        let (false_merges, missed, _) = errors_at(threshold);
        println!("threshold {threshold:.2}: {false_merges} false merges, {missed} missed merges");
    }
    for (same, note, a, b) in pairs() {
        let (ka, kb) = (keys(&a), keys(&b));
        let similarity = ka
            .fingerprint
            .as_ref()
            .zip(kb.fingerprint.as_ref())
            .map_or(0.0, |(x, y)| x.similarity(y));
        println!("{same:5} {similarity:.2} {note}");
    }
    let (false_merges, missed, wrong) = errors_at(JOIN_SIMILARITY);
    assert_eq!(false_merges, 0, "{wrong:#?}");
    assert!(missed <= 1, "{wrong:#?}");
}

#[test]
fn titles_fold_and_lose_the_outlet() {
    assert_eq!(
        normalize_title("North Korea's spy-satellite LAUNCH - Reuters").as_deref(),
        Some("north korea s spy satellite launch")
    );
    assert_eq!(
        normalize_title("Pyongyang: satellite «in orbit» | AP News"),
        normalize_title("pyongyang satellite in orbit")
    );
    assert_eq!(normalize_title("Breaking news"), None);
    // A long part after the dash is half the headline, not an outlet.
    assert_eq!(
        normalize_title("Seoul warns - North Korea may launch a satellite this week").as_deref(),
        Some("seoul warns north korea may launch a satellite this week")
    );
}

#[test]
fn urls_lose_scheme_www_and_trailing_slash() {
    assert_eq!(
        normalize_url("https://www.example.com/news/1/"),
        "example.com/news/1"
    );
    assert_eq!(
        normalize_url("http://example.com/news/1"),
        "example.com/news/1"
    );
    assert_eq!(
        normalize_url("https://example.com/story/?id=5"),
        "example.com/story?id=5"
    );
    let a = keys(&item("a", "", Some("https://www.example.com/x/")));
    let b = keys(&item("b", "", Some("http://example.com/x")));
    assert_eq!(a.url, b.url);
    assert_ne!(
        a.url,
        keys(&item("a", "", Some("http://example.com/y"))).url
    );
}

#[test]
fn kinds_of_keys_never_collide() {
    let same_text = "north korea launches a spy satellite";
    let k = keys(&item(same_text, "", Some(same_text)));
    assert_ne!(k.url, k.title);
}

#[test]
fn short_texts_get_no_fingerprint() {
    assert!(fingerprint("North Korea launch", "").is_none());
    assert!(
        fingerprint(
            "North Korea launches spy satellite",
            "Pyongyang said the Malligyong-1 reached orbit late Tuesday"
        )
        .is_some()
    );
}

#[test]
fn identical_texts_have_equal_fingerprints_and_share_every_band() {
    let a = fingerprint(
        "North Korea launches spy satellite",
        "Pyongyang said the Malligyong-1 reached orbit late Tuesday",
    )
    .unwrap();
    let b = fingerprint(
        "NORTH KOREA LAUNCHES SPY SATELLITE",
        "Pyongyang said the Malligyong-1 reached orbit late Tuesday.",
    )
    .unwrap();
    assert_eq!(a, b);
    assert_eq!(a.similarity(&b), 1.0);
    assert_eq!(a.band_keys().count(), BANDS);
    assert!(a.band_keys().zip(b.band_keys()).all(|(x, y)| x == y));
}

#[test]
fn fingerprints_round_trip_through_bytes() {
    let a = fingerprint(
        "North Korea launches spy satellite",
        "Pyongyang said the Malligyong-1 reached orbit late Tuesday",
    )
    .unwrap();
    assert_eq!(Fingerprint::from_bytes(&a.to_bytes()), Some(a));
    assert_eq!(Fingerprint::from_bytes(&[1, 2, 3]), None);
}

#[test]
fn index_keys_are_stable() {
    // Keys are stored: a change here would split every story across an upgrade.
    let k = keys(&item(
        "North Korea launches spy satellite",
        "Pyongyang said the Malligyong-1 reached orbit late Tuesday",
        Some("https://example.com/a"),
    ));
    assert_eq!(k.index_keys().len(), 2 + BANDS);
    assert_eq!(k.url, Some(tagged_hash(b'u', b"example.com/a")));
    assert_eq!(fnv1a(b""), FNV_OFFSET);
    assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
}

#[test]
fn a_missing_summary_falls_back_to_the_content() {
    let mut with_content = item("North Korea launches spy satellite", "", None);
    with_content.content = "Pyongyang said the Malligyong-1 reached orbit late Tuesday".repeat(100);
    assert!(keys(&with_content).fingerprint.is_some());
}

#[test]
fn stop_words_are_in_order_short_and_their_hashes_sorted_for_the_binary_search() {
    assert!(STOP_WORDS.windows(2).all(|pair| pair[0] < pair[1]));
    // Words longer than this are not looked up.
    assert!(
        STOP_WORDS
            .iter()
            .all(|word| word.len() <= LONGEST_STOP_WORD)
    );
    assert!(STOP_WORD_HASHES.windows(2).all(|pair| pair[0] < pair[1]));
}

#[test]
fn ascii_words_hash_as_their_folded_form() {
    // The ASCII path lowercases while hashing; it must give what folding then hashing gives,
    // or stored signatures would stop matching new ones.
    let mut ascii = word_set(
        strip_outlet_suffix("North Korea's SATELLITE - Reuters"),
        "The Launch of Malligyong-1 THE",
    );
    ascii.sort_unstable();
    let mut expected: Vec<u64> = ["north", "korea", "satellite", "launch", "malligyong"]
        .iter()
        .map(|word| splitmix64(fnv1a(word.as_bytes())))
        .collect();
    expected.sort_unstable();
    assert_eq!(ascii, expected);
}

#[test]
fn the_wire_copies_of_the_stories_test_join_in_any_order() {
    // tests/it/stories.rs polls five feeds at once, so their copies are stored in any
    // order; a story never merges with another, so every pair must join on its own.
    let copies: Vec<Item> = (1..=5)
        .map(|n| {
            let path = format!(
                "{}/../../tests/fixtures/stories/wire{n}.xml",
                env!("CARGO_MANIFEST_DIR")
            );
            let xml = std::fs::read(path).expect("the fixture exists");
            let parsed = crate::parse::parse_feed(&xml, None, None).expect("the fixture parses");
            parsed.items[0].clone()
        })
        .collect();
    for (i, a) in copies.iter().enumerate() {
        for b in &copies[i + 1..] {
            assert!(
                same_story(a, b, JOIN_SIMILARITY),
                "{} / {}",
                a.title,
                b.title
            );
        }
    }
}

#[test]
fn a_word_that_folds_to_a_stop_word_is_left_out_too() {
    // "Thé" is not ASCII; folded, it is "the".
    assert_eq!(
        word_set("", "Thé satellite Malligyong"),
        word_set("", "satellite Malligyong")
    );
}

#[test]
fn the_ascii_word_loop_pushes_what_the_tokenizer_pushes() {
    // Pieces of ASCII words, separators of every kind, and characters that make a word not
    // ASCII (a letter with an accent, a combining mark, CJK): random texts made of them.
    let pieces = [
        "North", "KOREA", "the", "a", "1", "sm-6", "it's", " ", "  ", ".", "\n", "\u{201c}",
        "\u{201d}", "\u{2014}", "\u{a0}", "é", "\u{301}", "衛星", "\u{ad}", "ß", "İ", "x",
    ];
    let mut rng = fastrand::Rng::with_seed(5);
    let mut n_fast = 0;
    for _ in 0..5000 {
        let text: String = (0..rng.usize(0..30))
            .map(|_| pieces[rng.usize(..pieces.len())])
            .collect();
        let mut expected = Vec::new();
        push_words(&text, &mut expected);
        let mut fast = Vec::new();
        if words_are_ascii(&text) {
            push_ascii_words(&text, &mut fast);
            n_fast += 1;
            assert_eq!(fast, expected, "{text:?}");
        } else {
            assert!(
                text.chars().any(|c| !c.is_ascii() && !separates_tokens(c)),
                "{text:?} has only ASCII words"
            );
        }
    }
    assert!(n_fast > 500, "the ASCII loop took {n_fast} texts");
}

#[test]
fn band_keys_hash_the_band_number_and_its_values() {
    // Band keys are stored in the index's terms: each is the tagged hash of the band's number
    // and its values, little-endian, as it always was.
    let fingerprint = keys(&item(
        "North Korea launches spy satellite",
        "Pyongyang said the Malligyong-1 reached orbit late Tuesday on a Chollima-1 rocket",
        None,
    ))
    .fingerprint
    .expect("enough words");
    let expected: Vec<u64> = fingerprint
        .0
        .chunks(ROWS)
        .enumerate()
        .map(|(band_no, rows)| {
            let mut bytes = vec![band_no as u8];
            for value in rows {
                bytes.extend_from_slice(&value.to_le_bytes());
            }
            tagged_hash(b'b', &bytes)
        })
        .collect();
    assert_eq!(fingerprint.band_keys().collect::<Vec<_>>(), expected);
    assert_eq!(expected.len(), BANDS);
}

#[test]
fn ascii_titles_normalize_as_their_folded_tokens() {
    let pieces = [
        "North", "KOREA", "the", "a", "1", "sm-6", "it's", " ", "  ", ".", "\u{201c}", "\u{2014}",
        "\u{a0}", "é", "\u{301}", "衛星", "\u{ad}", "ß", "x", "Launches",
    ];
    let mut rng = fastrand::Rng::with_seed(9);
    let mut n_fast = 0;
    for _ in 0..5000 {
        let title: String = (0..rng.usize(0..14))
            .map(|_| pieces[rng.usize(..pieces.len())])
            .collect();
        let words: Vec<String> = tokenize(&title).into_iter().map(|t| t.folded).collect();
        match ascii_title_words(&title) {
            Some((normalized, n_words)) => {
                n_fast += 1;
                assert_eq!(
                    (normalized, n_words),
                    (words.join(" "), words.len()),
                    "{title:?}"
                );
            }
            None => assert!(
                title.chars().any(|c| !c.is_ascii() && !separates_tokens(c)),
                "{title:?} has only ASCII words"
            ),
        }
    }
    assert!(n_fast > 500, "the ASCII loop took {n_fast} titles");
}

#[test]
fn keeping_the_first_of_each_word_keeps_what_a_sort_and_dedup_keep() {
    // Few distinct values among many (so the table sees repeats and collisions), 0 among
    // them, and lists of every small length.
    let mut rng = fastrand::Rng::with_seed(11);
    for _ in 0..3000 {
        let distinct: Vec<u64> = (0..rng.usize(1..40))
            .map(|_| if rng.u8(..) < 8 { 0 } else { rng.u64(..) })
            .collect();
        let words: Vec<u64> = (0..rng.usize(0..200))
            .map(|_| distinct[rng.usize(..distinct.len())])
            .collect();
        let mut kept = words.clone();
        keep_first_of_each(&mut kept);
        let mut expected = words.clone();
        expected.sort_unstable();
        expected.dedup();
        let mut sorted = kept.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, expected, "{words:?}");
        // The first of each, in the order they came.
        let firsts: Vec<u64> = words
            .iter()
            .enumerate()
            .filter(|(at, word)| !words[..*at].contains(word))
            .map(|(_, word)| *word)
            .collect();
        assert_eq!(kept, firsts);
    }
}
