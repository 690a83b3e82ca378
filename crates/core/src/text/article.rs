//! The main text of a web page (an item's linked article), for headline-only feeds: the
//! page's `<article>`, else its `<main>`, else its densest block of paragraphs. Navigation,
//! headers, footers, asides, forms and hidden elements are left out wherever they are.

use std::collections::HashMap;

use scraper::{ElementRef, Html, Selector};

use super::{MAX_PARSED_DEPTH, is_skipped_element, render_element};

/// Elements around an article that are not part of it: site navigation, page and section
/// headers and footers, sidebars, forms and buttons.
fn is_chrome_element(name: &str) -> bool {
    matches!(
        name,
        "nav" | "header" | "footer" | "aside" | "form" | "button" | "menu" | "dialog" | "select"
    )
}

/// The main text of an HTML page, whitespace collapsed; empty when it has none.
pub fn article_text(html: &str) -> String {
    if super::nesting_depth(html) > MAX_PARSED_DEPTH {
        // Too deep for the parser's quadratic worst case: no structure to choose from, so
        // the whole text (hidden elements still left out).
        return super::strip_markup(html);
    }
    let page = Html::parse_document(html);
    for selector in ["article", "main", "[role=main]"] {
        let selector = Selector::parse(selector).expect("a valid selector");
        // Only the outermost matches: an inner one's text is part of its ancestor's, and
        // rendering both would be quadratic in the nesting.
        let best = page
            .select(&selector)
            .filter(|element| {
                !element
                    .ancestors()
                    .filter_map(ElementRef::wrap)
                    .any(|ancestor| selector.matches(&ancestor))
            })
            .map(render_content)
            .max_by_key(String::len)
            .unwrap_or_default();
        if !best.is_empty() {
            return best;
        }
    }
    densest_paragraphs(&page).unwrap_or_else(|| {
        let body = Selector::parse("body").expect("a valid selector");
        page.select(&body)
            .next()
            .map(render_content)
            .unwrap_or_default()
    })
}

/// The paragraphs of the element whose own `<p>` children carry the most text, in order.
/// One walk over the tree, skipping chrome; each paragraph is rendered once to score it.
fn densest_paragraphs(page: &Html) -> Option<String> {
    // Per parent element (by node id): the text length of its paragraphs, and when it was
    // first seen, so that ties go to the earlier block.
    let mut scores = HashMap::new();
    let mut stack = vec![page.tree.root().children()];
    while let Some(children) = stack.last_mut() {
        let Some(child) = children.next() else {
            stack.pop();
            continue;
        };
        let Some(element) = ElementRef::wrap(child) else {
            continue;
        };
        let name = element.value().name();
        if is_skipped_element(name) || is_chrome_element(name) {
            continue;
        }
        if name != "p" {
            stack.push(child.children());
            continue;
        }
        let Some(parent) = child.parent().and_then(ElementRef::wrap) else {
            continue;
        };
        let length = render_content(element).chars().count();
        let order = scores.len();
        scores.entry(parent.id()).or_insert((0, order, parent)).0 += length;
    }
    let (_, _, parent) = scores
        .into_values()
        .filter(|&(total, ..)| total > 0)
        .max_by_key(|&(total, order, _)| (total, std::cmp::Reverse(order)))?;
    let texts: Vec<String> = parent
        .children()
        .filter_map(ElementRef::wrap)
        .filter(|child| child.value().name() == "p")
        .map(render_content)
        .filter(|text| !text.is_empty())
        .collect();
    Some(texts.join(" "))
}

/// The text of an element, hidden and chrome elements left out.
fn render_content(element: ElementRef<'_>) -> String {
    render_element(element, |name| {
        is_skipped_element(name) || is_chrome_element(name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME: &str = r#"<header><nav><a href="/">Home</a> <a href="/world">World</a></nav></header>
        <aside>Most read: SpaceX launches Starlink</aside>
        <footer>© Daily Example. Subscribe to our newsletter.</footer>
        <script>var tracking = "satellite";</script>"#;

    #[test]
    fn the_article_element_wins_and_chrome_is_dropped() {
        let page = format!(
            "<html><head><title>Daily Example</title><style>p {{ color: red }}</style></head><body>{CHROME}
            <article><header><h1>Headline in header</h1></header>
            <p>North Korea said on Tuesday it had put a military spy satellite into orbit.</p>
            <aside>Related: more stories</aside>
            <p>The Malligyong-1 was launched from Sohae.</p></article></body></html>"
        );
        assert_eq!(
            article_text(&page),
            "North Korea said on Tuesday it had put a military spy satellite into orbit. \
             The Malligyong-1 was launched from Sohae."
        );
    }

    #[test]
    fn main_when_there_is_no_article() {
        let page = format!(
            "<body>{CHROME}<main><h1>Tomahawk sale</h1><p>The State Department approved \
             the sale of 400 Tomahawk missiles to Japan.</p></main></body>"
        );
        assert_eq!(
            article_text(&page),
            "Tomahawk sale The State Department approved the sale of 400 Tomahawk missiles to Japan."
        );
    }

    #[test]
    fn else_the_densest_block_of_paragraphs() {
        let page = format!(
            "<body>{CHROME}<div class=teaser><p>Short teaser.</p></div>
            <div class=story><div class=byline>By A. Reporter</div>
            <p>First paragraph of the story, about the launch.</p>
            <p>Second paragraph, with more detail about the orbit.</p></div>
            <div class=comments><p>nice</p></div></body>"
        );
        assert_eq!(
            article_text(&page),
            "First paragraph of the story, about the launch. \
             Second paragraph, with more detail about the orbit."
        );
    }

    #[test]
    fn a_page_without_paragraphs_gives_its_body_text() {
        assert_eq!(
            article_text("<body><nav>Menu</nav><div>Only a line of text</div></body>"),
            "Only a line of text"
        );
        assert_eq!(article_text(""), "");
        assert_eq!(article_text("<html><body><nav>x</nav></body></html>"), "");
    }

    #[test]
    fn nested_articles_give_the_outer_text_once() {
        let page = "<article><p>outer</p><article><p>inner</p></article></article>";
        assert_eq!(article_text(page), "outer inner");
    }

    #[test]
    fn deeply_nested_pages_are_read_without_the_parser() {
        let page = format!(
            "{}<p>deep text</p>{}",
            "<div>".repeat(MAX_PARSED_DEPTH + 10),
            "</div>".repeat(MAX_PARSED_DEPTH + 10)
        );
        assert_eq!(article_text(&page), "deep text");
    }
}
