use super::*;
use crate::model::repeated_key_base;

fn parse(xml: &str) -> ParsedFeed {
    parse_feed(xml.as_bytes(), None, None).expect("parses")
}

fn rss(items: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>T</title>{items}</channel></rss>"#
    )
}

#[test]
fn canonical_urls_drop_tracking_fragments_and_case() {
    assert_eq!(
        canonical_url(
            "HTTPS://News.Example.COM:443/a/b?id=7&utm_source=rss&utm_medium=x&fbclid=1#top"
        )
        .as_deref(),
        Some("https://news.example.com/a/b?id=7")
    );
    assert_eq!(
        canonical_url("http://example.com/story?gclid=abc").as_deref(),
        Some("http://example.com/story")
    );
    assert_eq!(canonical_url("mailto:someone@example.com"), None);
    assert_eq!(canonical_url("not a url"), None);
}

#[test]
fn identity_prefers_guid_then_link_then_a_content_hash() {
    let feed = parse(&rss(
        r#"<item><guid>g-1</guid><link>https://e.com/1</link><title>One</title></item>
           <item><link>https://e.com/2?utm_source=x</link><title>Two</title></item>
           <item><title>Three</title><description>no link</description></item>"#,
    ));
    let keys: Vec<&str> = feed.items.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys[0], "guid:g-1");
    assert_eq!(keys[1], "url:https://e.com/2");
    assert!(keys[2].starts_with("hash:"), "{}", keys[2]);
    // Parsing again gives the same keys: nothing random.
    let again = parse(&rss(
        r#"<item><guid>g-1</guid><link>https://e.com/1</link><title>One</title></item>
           <item><link>https://e.com/2?utm_source=x</link><title>Two</title></item>
           <item><title>Three</title><description>no link</description></item>"#,
    ));
    assert_eq!(feed, again);
}

#[test]
fn repeated_guids_keep_different_items_and_drop_copies() {
    let feed = parse(&rss(r#"<item><guid>same</guid><title>First</title></item>
           <item><guid>other</guid><title>Other</title></item>
           <item><guid>same</guid><title>Second</title></item>
           <item><guid>same</guid><title>First</title></item>"#));
    let titles: Vec<&str> = feed.items.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(titles, ["First", "Other", "Second"]);
    assert_eq!(
        feed.items[1].key, "guid:other",
        "unique guids keep their plain key"
    );
    assert_ne!(feed.items[0].key, feed.items[2].key);
    assert_eq!(repeated_key_base(&feed.items[0].key), Some("guid:same"));
    assert_eq!(repeated_key_base(&feed.items[1].key), None);

    // The keys do not depend on the order the feed lists the items in.
    let reversed = parse(&rss(r#"<item><guid>same</guid><title>Second</title></item>
           <item><guid>same</guid><title>First</title></item>"#));
    assert_eq!(reversed.items[0].key, feed.items[2].key);
    assert_eq!(reversed.items[1].key, feed.items[0].key);
}

#[test]
fn odd_xml_declarations_do_not_panic() {
    for declaration in [
        "<?xml version=\"1.0\" encoding=éx?>",
        "<?xml version=\"1.0\" encoding=\"\"?>",
        "<?xml version=\"1.0\" encoding='koi8-r'?>",
        "<?xml version=\"1.0\" encoding=\"no-such-charset\"?>",
        "<?xml encoding",
        "<?xml version=\"1.0\" encoding=\"utf-16\"?>",
    ] {
        let body = format!(
            "{declaration}<rss version=\"2.0\"><channel><title>T</title><item><guid>1</guid><title>x</title></item></channel></rss>"
        );
        let _ = parse_feed(body.as_bytes(), Some("windows-1251"), None);
        let _ = parse_feed(body.as_bytes(), Some("é"), None);
    }
}

#[test]
fn html_becomes_plain_text() {
    let feed = parse(&rss(
        r#"<item><guid>1</guid><title>Tomahawk &amp; more</title>
           <description>&lt;p&gt;First&lt;/p&gt;&lt;p&gt;Second &amp;amp; third&lt;/p&gt;&lt;script&gt;evil()&lt;/script&gt;</description></item>"#,
    ));
    let item = &feed.items[0];
    assert_eq!(item.title, "Tomahawk & more");
    assert_eq!(item.summary, "First Second & third");
}

#[test]
fn atom_and_json_feed_parse() {
    let atom = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:a</id><updated>2023-11-21T00:00:00Z</updated>
<entry><id>urn:a:1</id><title type="html">&lt;b&gt;Spy&lt;/b&gt; satellite</title><updated>2023-11-21T13:00:00Z</updated>
<link href="https://e.com/a1"/><author><name>Kim</name></author><category term="Korea"/><summary>S</summary></entry></feed>"#;
    let feed = parse(atom);
    let item = &feed.items[0];
    assert_eq!(item.key, "guid:urn:a:1");
    assert_eq!(item.title, "Spy satellite");
    assert_eq!(item.authors, ["Kim"]);
    assert_eq!(item.categories, ["Korea"]);
    assert_eq!(item.url.as_deref(), Some("https://e.com/a1"));
    assert!(item.published.is_some());

    let json = r#"{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[
        {"id":"j1","url":"https://e.com/j1","title":"Hello","content_html":"<p>Body</p>"}]}"#;
    let feed = parse(json);
    assert_eq!(feed.items[0].key, "guid:j1");
    assert_eq!(feed.items[0].content, "Body");
}

#[test]
fn a_bare_ampersand_is_repaired() {
    let feed = parse(&rss(
        "<item><guid>1</guid><title>AT&T and R&D</title></item>",
    ));
    assert_eq!(feed.items[0].title, "AT&T and R&D");
}

#[test]
fn encodings_from_bom_header_and_declaration() {
    // UTF-16 big-endian with a BOM (feed-rs panics on it when passed through).
    let text = rss("<item><guid>1</guid><title>Пхеньян</title></item>");
    let mut utf16 = vec![0xFE, 0xFF];
    for unit in text.replace("UTF-8", "UTF-16").encode_utf16() {
        utf16.extend_from_slice(&unit.to_be_bytes());
    }
    let feed = parse_feed(&utf16, None, None).unwrap();
    assert_eq!(feed.items[0].title, "Пхеньян");

    // windows-1251 given only by the Content-Type charset.
    let body = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title><item><guid>1</guid><title>Пхеньян</title></item></channel></rss>";
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(body);
    let feed = parse_feed(&bytes, Some("windows-1251"), None).unwrap();
    assert_eq!(feed.items[0].title, "Пхеньян");

    // Declared in the prolog: the declaration wins over a wrong header.
    let body = body.replace(
        "<?xml version=\"1.0\"?>",
        "<?xml version=\"1.0\" encoding=\"windows-1251\"?>",
    );
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(&body);
    let feed = parse_feed(&bytes, Some("utf-8"), None).unwrap();
    assert_eq!(feed.items[0].title, "Пхеньян");
}

/// Found by the `feed_parse` fuzz target. quick-xml (through feed-rs) switches to a declared
/// encoding only while it is still within the first 64 bytes of the document: a declaration
/// that ends later (with `standalone` and spaces, or blank lines before it) left the feed
/// unreadable ("no root element"), and one further into the document panics inside
/// quick-xml (caught by `parse_feed`, reported as an error).
#[test]
fn a_declared_encoding_late_in_the_prolog_is_decoded() {
    let body = "<rss version=\"2.0\"><channel><title>T</title><item><guid>1</guid><title>Пхеньян</title></item></channel></rss>";
    for prolog in [
        "<?xml version=\"1.0\" encoding=\"windows-1251\" standalone=\"yes\"   ?>",
        "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n<?xml version=\"1.0\" encoding=\"windows-1251\"?>",
    ] {
        let text = format!("{prolog}{body}");
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(&text);
        let feed =
            parse_feed(&bytes, None, None).unwrap_or_else(|error| panic!("{prolog:?}: {error}"));
        assert_eq!(feed.items[0].title, "Пхеньян", "{prolog:?}");
    }
    let late = "<?xml version=\"1.0\"?><rss version=\"2.0\"><?xml version=\"1.0\" encoding=\"windows-1251\"?><channel></channel></rss>";
    assert!(parse_feed(late.as_bytes(), None, None).is_err());
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    assert!(parse_feed(b"<html><body>nope</body></html>", None, None).is_err());
    assert!(parse_feed(b"", None, None).is_err());
    assert!(parse_feed(b"\x00\x01\x02", None, None).is_err());
    assert!(parse_feed(b"<rss><channel><item><title>unclosed", None, None).is_err());
}

#[test]
fn fixture_feeds_parse() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/feeds");
    for name in [
        "news.rss",
        "news.atom",
        "news.json",
        "no-guids.rss",
        "repeated-guids.rss",
        "windows-1251.rss",
    ] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let feed = parse_feed(&bytes, None, None).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!feed.items.is_empty(), "{name}");
        for item in &feed.items {
            assert!(!item.key.is_empty());
            assert!(!item.title.contains('<'), "{name}: {}", item.title);
        }
    }
}

#[test]
fn rss_1_0_and_0_91_parse() {
    let rdf = r#"<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://e.com/"><title>R</title><link>https://e.com/</link><description>d</description></channel>
  <item rdf:about="https://e.com/r1"><title>Chollima-1 lifts off</title><link>https://e.com/r1</link>
    <description>Launch from Sohae</description><dc:date>2023-11-21T13:43:00Z</dc:date></item>
</rdf:RDF>"#;
    let feed = parse(rdf);
    assert_eq!(feed.items.len(), 1);
    assert_eq!(feed.items[0].title, "Chollima-1 lifts off");
    assert_eq!(feed.items[0].url.as_deref(), Some("https://e.com/r1"));

    let old = r#"<?xml version="1.0"?><rss version="0.91"><channel><title>O</title><link>https://e.com/</link>
<description>d</description><language>en</language>
<item><title>Tomahawk sale</title><link>https://e.com/o1</link><description>Approved</description></item>
</channel></rss>"#;
    let feed = parse(old);
    assert_eq!(feed.items[0].title, "Tomahawk sale");
    assert_eq!(
        feed.items[0].key, "url:https://e.com/o1",
        "no guid: the canonical link"
    );
}

fn caps(max_items: usize, max_field_chars: usize) -> Caps {
    Caps {
        max_items,
        max_field_chars,
    }
}

#[test]
fn items_past_the_cap_are_cut_before_parsing_in_feed_order() {
    let items: String = (0..10)
        .map(|i| format!("<item><guid>g{i}</guid><title>Item {i}</title></item>"))
        .collect();
    let feed = parse_feed_capped(rss(&items).as_bytes(), None, None, caps(3, 1000)).unwrap();
    let titles: Vec<&str> = feed.items.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(titles, ["Item 0", "Item 1", "Item 2"]);
    assert_eq!(feed.dropped_items, 7);
    assert_eq!(feed.truncated_fields, 0);

    // Exactly at the cap: nothing dropped.
    let feed = parse_feed_capped(rss(&items).as_bytes(), None, None, caps(10, 1000)).unwrap();
    assert_eq!((feed.items.len(), feed.dropped_items), (10, 0));
}

#[test]
fn the_cut_reads_atom_rdf_and_skips_markup_in_cdata_comments_and_doctype() {
    let atom = r#"<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY x "<entry>">]>
<a:feed xmlns:a="http://www.w3.org/2005/Atom"><a:title>A</a:title>
<!-- <a:entry> in a comment -->
<a:entry><a:id>1</a:id><a:title type="html"><![CDATA[<entry>one</entry> & <item>]]></a:title></a:entry>
<a:entry><a:id>2</a:id><a:title a="x>y">two</a:title></a:entry>
<a:entry><a:id>3</a:id><a:title>three</a:title></a:entry>
</a:feed>"#;
    let (shorter, dropped) = cut_after_items(atom.as_bytes(), 2).expect("cut");
    assert_eq!(dropped, 1);
    let shorter = String::from_utf8(shorter).unwrap();
    assert!(shorter.ends_with("</a:entry>\n</a:feed>"), "{shorter}");
    let feed = parse_feed_capped(atom.as_bytes(), None, None, caps(2, 1000)).unwrap();
    assert_eq!(feed.items.len(), 2);
    assert_eq!(feed.dropped_items, 1);

    let rdf = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="https://e.com/"><title>R</title><items><rdf:Seq><rdf:li rdf:resource="https://e.com/1"/></rdf:Seq></items></channel>
<item rdf:about="https://e.com/1"><title>one</title><link>https://e.com/1</link></item>
<item rdf:about="https://e.com/2"><title>two</title><link>https://e.com/2</link></item>
</rdf:RDF>"#;
    let feed = parse_feed_capped(rdf.as_bytes(), None, None, caps(1, 1000)).unwrap();
    assert_eq!(feed.items.len(), 1);
    assert_eq!(feed.items[0].title, "one");
    assert_eq!(feed.dropped_items, 1);

    // Not well-formed: no cut, and the parse decides (here: an error either way).
    assert_eq!(cut_after_items(b"<rss><channel><item></channel>", 0), None);
}

#[test]
fn json_feeds_and_undeclared_encodings_are_capped_after_parsing() {
    let items: Vec<String> = (0..5)
        .map(|i| format!(r#"{{"id": "{i}", "title": "Item {i}"}}"#))
        .collect();
    let json = format!(
        r#"{{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": [{}]}}"#,
        items.join(",")
    );
    let feed = parse_feed_capped(json.as_bytes(), None, None, caps(2, 1000)).unwrap();
    assert_eq!((feed.items.len(), feed.dropped_items), (2, 3));

    // ISO-2022-JP can use `<` inside a character: never cut by bytes.
    let declared = "<?xml version=\"1.0\" encoding=\"ISO-2022-JP\"?><rss/>";
    assert!(!markup_is_ascii(declared.as_bytes()));
    assert!(markup_is_ascii(
        "<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><rss/>".as_bytes()
    ));
}

#[test]
fn long_fields_are_cut_at_a_character_boundary() {
    let title = "북한".repeat(3000);
    let feed = parse_feed_capped(
        rss(&format!(
            "<item><guid>1</guid><title>{title}</title><description>short</description></item>"
        ))
        .as_bytes(),
        None,
        None,
        caps(10, 1001),
    )
    .unwrap();
    assert_eq!(feed.items[0].title.chars().count(), 1001);
    assert!(feed.items[0].title.starts_with("북한북"));
    assert_eq!(feed.items[0].summary, "short");
    assert_eq!(feed.truncated_fields, 1);
    // The identity key does not depend on the cap.
    assert_eq!(feed.items[0].key, "guid:1");
}

#[test]
fn page_text_decodes_by_header_meta_or_bom() {
    let page = "<html><head><meta charset=\"windows-1251\"></head><body><article>\
                <p>КНДР запустила спутник-шпион</p></article></body></html>";
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(page);
    assert_eq!(page_text(&bytes, None), "КНДР запустила спутник-шпион");
    let plain = "<body><main><p>북한 정찰위성 발사</p></main></body>";
    let (euc_kr, _, _) = encoding_rs::EUC_KR.encode(plain);
    assert_eq!(page_text(&euc_kr, Some("EUC-KR")), "북한 정찰위성 발사");
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice("<p>Tomahawk</p>".as_bytes());
    assert_eq!(page_text(&bom, Some("iso-8859-1")), "Tomahawk");
    assert_eq!(
        page_text(
            b"<meta http-equiv='Content-Type' content='text/html; charset=utf-8'><p>ok \xff</p>",
            None
        ),
        "ok \u{FFFD}"
    );
}

#[test]
fn the_cut_keeps_what_a_whole_parse_keeps_on_random_feeds() {
    // Every item distinct (N is its number): identical copies are dropped after parsing,
    // and repeated keys are told apart only among the items kept.
    const PIECES: &[&str] = &[
        "<item><guid>G</guid><title>T</title></item>",
        "<item><title><![CDATA[<item>N</item>]]></title></item>",
        "<!-- <item> -->",
        "<item><title a=\"<item>\">q</title><link>https://e.com/N</link></item>",
        "<?pi <item>?>",
        "<item><description>&lt;item&gt; AT&amp;T N</description></item>",
        "<entry><title>an Atom entry in RSS is not an item</title></entry>",
        "<image><title>i</title></image>",
        "\n  ",
    ];
    let mut rng = fastrand::Rng::with_seed(6);
    for round in 0..300 {
        let mut items = String::new();
        for n in 0..rng.usize(0..30) {
            let piece = PIECES[rng.usize(..PIECES.len())];
            items.push_str(
                &piece
                    .replace('G', &format!("g{round}-{n}"))
                    .replace('N', &n.to_string()),
            );
        }
        let document = rss(&items);
        let whole = parse_feed(document.as_bytes(), None, None);
        let max = rng.usize(1..10);
        let capped = parse_feed_capped(document.as_bytes(), None, None, caps(max, 1000));
        match (whole, capped) {
            (Ok(whole), Ok(capped)) => {
                let kept = whole.items.len().min(max);
                assert_eq!(
                    capped.items,
                    whole.items[..kept],
                    "round {round}: {document}"
                );
                assert_eq!(
                    capped.items.len() + capped.dropped_items,
                    whole.items.len(),
                    "round {round}: {document}"
                );
            }
            (Err(_), Err(_)) => {}
            (whole, capped) => panic!("round {round}: {whole:?} vs {capped:?}\n{document}"),
        }
        // Random bytes never panic.
        let noise: Vec<u8> = (0..rng.usize(0..200))
            .map(|_| b"<>/!?-[]\"'itemnry x:CDATA"[rng.usize(..25)])
            .collect();
        let _ = cut_after_items(&noise, rng.usize(0..4));
    }
}

#[test]
fn huge_links_and_guids_are_not_kept_whole() {
    let link = format!("https://e.com/{}", "a".repeat(MAX_URL_LEN));
    assert_eq!(canonical_url(&link), None);
    let guid = "g".repeat(MAX_GUID_LEN + 1);
    let feed = parse(&rss(&format!(
        "<item><guid>{guid}</guid><link>{link}</link><title>Long</title></item>"
    )));
    let item = &feed.items[0];
    assert_eq!(item.url, None);
    assert!(
        item.key.starts_with("guid-hash:") && item.key.len() < 40,
        "{}",
        item.key
    );
    // The same guid, the same key.
    let again = parse(&rss(&format!(
        "<item><guid>{guid}</guid><title>Long</title></item>"
    )));
    assert_eq!(again.items[0].key, item.key);
}
