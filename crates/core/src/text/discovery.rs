//! Feed autodiscovery: telling an HTML page from a feed, and finding the feeds a page links
//! with `<link rel="alternate" type="application/rss+xml" href="…">` (or Atom, or JSON
//! Feed). Pure: the pipeline fetches.

use scraper::{Html, Selector};
use url::Url;

/// The `type`s of a `<link rel="alternate">` that name a feed.
pub const FEED_TYPES: &[&str] = &[
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
];

/// How much of a page is searched for feed links when it has no `</head>` (links belong in
/// the head; a page is not read whole for them).
const MAX_SEARCHED: usize = 512 * 1024;

/// Whether `body` is an HTML page rather than a feed: after a byte-order mark, whitespace,
/// comments and processing instructions, it starts with `<!DOCTYPE html` or `<html`, and
/// its first element is not a feed's root (`<rss>`, `<feed>`, `<rdf:RDF>`: a feed behind an
/// HTML DOCTYPE is still a feed). A feed served as `text/html` starts with `<?xml`, `<rss`
/// or `{` and is not a page.
pub fn looks_like_html(body: &[u8]) -> bool {
    let rest = skip_prolog(body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body));
    let Some(rest) = rest else { return false };
    let starts_with = |rest: &[u8], prefix: &[u8]| {
        rest.len() >= prefix.len() && rest[..prefix.len()].eq_ignore_ascii_case(prefix)
    };
    if starts_with(rest, b"<!doctype") {
        let after = rest[b"<!doctype".len()..].trim_ascii_start();
        if !(after.len() >= 4 && after[..4].eq_ignore_ascii_case(b"html")) {
            return false;
        }
        let Some(end) = rest.iter().position(|&b| b == b'>') else {
            return true;
        };
        // The element after the DOCTYPE decides.
        return match skip_prolog(&rest[end + 1..]) {
            Some(element) => !is_feed_root(element),
            None => true,
        };
    }
    starts_with(rest, b"<html")
        && rest
            .get(5)
            .is_none_or(|&b| b == b'>' || b.is_ascii_whitespace())
}

/// `body` after whitespace, comments and processing instructions; `None` when one of those
/// never ends.
fn skip_prolog(mut rest: &[u8]) -> Option<&[u8]> {
    loop {
        rest = rest.trim_ascii_start();
        let skip_to = |rest: &[u8], end: &[u8]| {
            rest.windows(end.len())
                .position(|window| window == end)
                .map(|at| at + end.len())
        };
        let skipped = if rest.starts_with(b"<!--") {
            skip_to(rest, b"-->")
        } else if rest.starts_with(b"<?") {
            skip_to(rest, b"?>")
        } else {
            return Some(rest);
        };
        rest = &rest[skipped?..];
    }
}

/// Whether an element starting at `element` (`<…`) is a feed's root: `rss`, `feed` or
/// `RDF`, with any prefix.
fn is_feed_root(element: &[u8]) -> bool {
    let Some(name) = element.strip_prefix(b"<") else {
        return false;
    };
    let len = name
        .iter()
        .position(|&b| b.is_ascii_whitespace() || b == b'>' || b == b'/')
        .unwrap_or(name.len());
    let local = name[..len].rsplit(|&b| b == b':').next().unwrap_or(&[]);
    matches!(local, b"rss" | b"feed" | b"RDF")
}

/// The feeds an HTML page links as alternates, in page order, resolved against its
/// `<base href>` or else `page_url`; only http and https URLs, each once. The page is
/// decoded by its byte-order mark, else as UTF-8 (links are ASCII in practice), and only
/// its head is read (at most `MAX_SEARCHED` bytes when it has no `</head>`).
pub fn feed_links(page: &[u8], page_url: &Url) -> Vec<Url> {
    let (encoding, bom) = encoding_rs::Encoding::for_bom(page).unwrap_or((encoding_rs::UTF_8, 0));
    let (text, _) = encoding.decode_without_bom_handling(&page[bom..]);
    let head = match find_ignore_case(&text, "</head") {
        Some(end) => &text[..end],
        None => {
            let mut end = text.len().min(MAX_SEARCHED);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            &text[..end]
        }
    };
    let document = Html::parse_document(head);
    let base_selector = Selector::parse("base[href]").expect("a valid selector");
    let base = document
        .select(&base_selector)
        .next()
        .and_then(|base| base.value().attr("href"))
        .and_then(|href| page_url.join(href.trim()).ok())
        .unwrap_or_else(|| page_url.clone());
    let link_selector = Selector::parse("link[href]").expect("a valid selector");
    let mut links: Vec<Url> = Vec::new();
    for link in document.select(&link_selector) {
        let element = link.value();
        let alternate = element.attr("rel").is_some_and(|rel| {
            rel.split_ascii_whitespace()
                .any(|rel| rel.eq_ignore_ascii_case("alternate"))
        });
        let kind = element
            .attr("type")
            .and_then(|kind| kind.split(';').next())
            .map(|kind| kind.trim().to_ascii_lowercase());
        if !alternate || !kind.is_some_and(|kind| FEED_TYPES.contains(&kind.as_str())) {
            continue;
        }
        let Some(href) = element.attr("href") else {
            continue;
        };
        if let Ok(url) = base.join(href.trim())
            && matches!(url.scheme(), "http" | "https")
            && !links.contains(&url)
        {
            links.push(url);
        }
    }
    links
}

/// The byte offset of the first case-insensitive occurrence of the ASCII `needle`.
fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn pages_are_told_from_feeds() {
        assert!(looks_like_html(b"<!DOCTYPE html><html><head>"));
        assert!(looks_like_html(
            b"\xEF\xBB\xBF\n  <!-- hi --><!doctype HTML>"
        ));
        assert!(looks_like_html(
            b"<?xml version=\"1.0\"?>\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0\">"
        ));
        assert!(looks_like_html(b"<HTML lang=\"en\">"));
        assert!(!looks_like_html(
            b"<?xml version=\"1.0\"?><rss version=\"2.0\">"
        ));
        assert!(!looks_like_html(
            b"<?xml version=\"1.0\"?><?xml-stylesheet href=\"s.xsl\"?><feed>"
        ));
        assert!(!looks_like_html(b"{\"version\": \"https://jsonfeed.org\"}"));
        assert!(!looks_like_html(b"<htmlfeed>"));
        assert!(!looks_like_html(b"<!-- never closed"));
        // A feed behind an HTML DOCTYPE is a feed.
        assert!(!looks_like_html(
            b"<!DOCTYPE html>\n<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title>"
        ));
        assert!(!looks_like_html(
            b"<!DOCTYPE html><!-- x --><rss version=\"2.0\">"
        ));
        assert!(looks_like_html(b"<!DOCTYPE html>\n<html><head>"));
        assert!(!looks_like_html(b""));
    }

    #[test]
    fn feed_links_are_alternates_of_feed_types_resolved_in_page_order() {
        let page = br#"<!DOCTYPE html><html><head>
            <link rel="stylesheet" type="text/css" href="/s.css">
            <link rel="alternate" hreflang="ko" href="/ko/">
            <link rel="alternate" type="application/rss+xml" href="/feed.xml">
            <LINK REL="Alternate Feed" TYPE="Application/Atom+XML; charset=utf-8" HREF=" atom.xml ">
            <link rel="alternate" type="application/feed+json" href="https://cdn.example/f.json">
            <link rel="alternate" type="application/rss+xml" href="/feed.xml">
            <link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
            <link rel="alternate" type="application/rss+xml" href="file:///etc/passwd">
            </head><body><link rel="alternate" type="application/rss+xml" href="/body.xml"></body></html>"#;
        let links = feed_links(page, &url("https://news.example/section/index.html"));
        assert_eq!(
            links,
            [
                url("https://news.example/feed.xml"),
                url("https://news.example/section/atom.xml"),
                url("https://cdn.example/f.json"),
            ]
        );
    }

    #[test]
    fn a_base_element_and_a_headless_page_are_read() {
        let page = br#"<html><base href="https://other.example/news/">
            <link rel="alternate" type="application/rss+xml" href="rss">"#;
        assert_eq!(
            feed_links(page, &url("https://news.example/")),
            [url("https://other.example/news/rss")]
        );
        assert!(
            feed_links(
                b"<html><body>nothing</body></html>",
                &url("https://e.example/")
            )
            .is_empty()
        );
    }
}
