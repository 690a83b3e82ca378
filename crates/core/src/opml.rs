//! OPML 2.0, the feed-list format of feed readers: reading the feeds out of a file
//! (`opml import`) and writing the configured feeds (`opml export`). The only user of
//! `quick-xml`. Pure.

use std::path::{Component, Path, PathBuf};

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};
use url::Url;

use crate::config::{FeedConfig, FeedSource};

/// A feed listed in an OPML file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpmlFeed {
    /// The outline's `title`, else its `text`, else the URL.
    pub name: String,
    pub url: String,
}

/// Every outline with an `xmlUrl`, in document order (nested folders included). A document
/// whose root element is not `<opml>` (any other file) is an error, not an empty list.
pub fn parse(xml: &str) -> Result<Vec<OpmlFeed>, String> {
    let mut reader = Reader::from_str(xml);
    let mut feeds = Vec::new();
    let mut root = None;
    loop {
        let position = reader.buffer_position();
        let event = reader.read_event();
        if let Ok(Event::Start(element) | Event::Empty(element)) = &event
            && root.is_none()
        {
            let name = AsRef::<str>::as_ref(&element.local_name()).to_string();
            if !name.eq_ignore_ascii_case("opml") {
                return Err(format!(
                    "the document is <{}>, not <opml>",
                    crate::text::shorten(&crate::text::sanitize(&name), 40)
                ));
            }
            root = Some(name);
        }
        match event {
            Ok(Event::Start(element) | Event::Empty(element))
                if AsRef::<str>::as_ref(&element.local_name()) == "outline" =>
            {
                if let Some(feed) =
                    outline(&element).map_err(|error| format!("at byte {position}: {error}"))?
                {
                    feeds.push(feed);
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(error) => return Err(format!("at byte {position}: {error}")),
        }
    }
    if root.is_none() {
        return Err("no <opml> element".into());
    }
    Ok(feeds)
}

fn outline(element: &BytesStart<'_>) -> Result<Option<OpmlFeed>, String> {
    let mut url = None;
    let mut title = None;
    let mut text = None;
    for attribute in element.attributes() {
        let attribute = attribute.map_err(|error| error.to_string())?;
        let value = attribute
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|error| error.to_string())?
            .trim()
            .to_string();
        match AsRef::<str>::as_ref(&attribute.key.local_name()) {
            "xmlUrl" | "xmlurl" => url = Some(value),
            "title" => title = Some(value),
            "text" => text = Some(value),
            _ => {}
        }
    }
    let Some(url) = url.filter(|url| !url.is_empty()) else {
        return Ok(None);
    };
    // A name from someone else's file goes into the config and the logs: no control
    // characters, whitespace collapsed.
    let clean = |name: String| {
        crate::text::sanitize(&name)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let name = title
        .map(clean)
        .filter(|t| !t.is_empty())
        .or(text.map(clean).filter(|t| !t.is_empty()))
        .unwrap_or_else(|| url.clone());
    Ok(Some(OpmlFeed { name, url }))
}

/// The feeds as an OPML 2.0 document. A file feed is written as an absolute `file:` URL,
/// a relative path taken from `base` (the current folder, where the config resolved it).
pub fn render(feeds: &[FeedConfig], base: &Path) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n  <head>\n    <title>watchword feeds</title>\n  </head>\n  <body>\n",
    );
    for feed in feeds {
        let name = escape(&feed.name);
        out.push_str(&format!(
            "    <outline type=\"rss\" text=\"{name}\" title=\"{name}\" xmlUrl=\"{}\"/>\n",
            escape(&source_url(&feed.source, base))
        ));
    }
    out.push_str("  </body>\n</opml>\n");
    out
}

/// A feed's address as a URL: its http(s) URL, or its file as an absolute `file:` URL.
fn source_url(source: &FeedSource, base: &Path) -> String {
    match source {
        FeedSource::Http(url) => url.to_string(),
        FeedSource::File(path) => {
            let absolute = normalize(&base.join(path));
            Url::from_file_path(&absolute)
                .map_or_else(|()| absolute.display().to_string(), String::from)
        }
    }
}

/// `path` without `.` and with each `..` taking away the folder before it (lexically: the
/// file may not exist yet).
fn normalize(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !normal.pop() {
                    normal.push(component);
                }
            }
            other => normal.push(other),
        }
    }
    normal
}

fn escape(text: &str) -> String {
    crate::text::escape_xml(text)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::FeedSource;

    #[test]
    fn names_lose_control_characters() {
        let xml = "<opml version=\"2.0\"><body>\
            <outline type=\"rss\" title=\"Evil&#x1b;[31m  red&#x202e;\" xmlUrl=\"https://e.example/rss\"/>\
            <outline type=\"rss\" title=\"&#x1b;\" text=\"Fallback\" xmlUrl=\"https://f.example/rss\"/>\
            </body></opml>";
        let names: Vec<String> = parse(xml).unwrap().into_iter().map(|f| f.name).collect();
        assert_eq!(names, ["Evil [31m red", "Fallback"]);
    }

    #[test]
    fn reads_nested_outlines_and_skips_folders() {
        let xml = r#"<?xml version="1.0"?>
<opml version="2.0"><head><title>x</title></head><body>
  <outline text="News">
    <outline type="rss" text="Wire &amp; Co" xmlUrl="https://wire.example/rss?a=1&amp;b=2"/>
    <outline type="rss" title="Titled" text="ignored" xmlUrl="https://t.example/feed"></outline>
  </outline>
  <outline type="rss" xmlUrl="https://bare.example/atom"/>
</body></opml>"#;
        assert_eq!(
            parse(xml).unwrap(),
            vec![
                OpmlFeed {
                    name: "Wire & Co".into(),
                    url: "https://wire.example/rss?a=1&b=2".into()
                },
                OpmlFeed {
                    name: "Titled".into(),
                    url: "https://t.example/feed".into()
                },
                OpmlFeed {
                    name: "https://bare.example/atom".into(),
                    url: "https://bare.example/atom".into()
                },
            ]
        );
        assert!(parse("<opml><body><outline xmlUrl=\"x\" text=\"a></body>").is_err());
    }

    #[test]
    fn export_round_trips() {
        let feeds = vec![FeedConfig {
            name: "Wire & \"Co\"".into(),
            source: FeedSource::Http("https://wire.example/rss?a=1&b=2".parse().unwrap()),
            interval: Duration::from_secs(900),
            fetch_article: Default::default(),
            first_poll: Default::default(),
            stale_after: None,
            user_agent: None,
        }];
        let parsed = parse(&render(&feeds, Path::new("/unused"))).unwrap();
        assert_eq!(parsed[0].name, "Wire & \"Co\"");
        assert_eq!(parsed[0].url, "https://wire.example/rss?a=1&b=2");
    }

    #[test]
    fn export_writes_files_as_absolute_file_urls() {
        let feed = |path: &str| FeedConfig {
            name: path.into(),
            source: FeedSource::File(path.into()),
            interval: Duration::from_secs(900),
            fetch_article: Default::default(),
            first_poll: Default::default(),
            stale_after: None,
            user_agent: None,
        };
        let feeds = [
            feed("config/../feeds/news rss.xml"),
            feed("./local.xml"),
            feed("/srv/feeds/abs.xml"),
        ];
        let urls: Vec<String> = parse(&render(&feeds, Path::new("/home/ops")))
            .unwrap()
            .into_iter()
            .map(|f| f.url)
            .collect();
        assert_eq!(
            urls,
            [
                "file:///home/ops/feeds/news%20rss.xml",
                "file:///home/ops/local.xml",
                "file:///srv/feeds/abs.xml",
            ]
        );
    }

    #[test]
    fn anything_but_opml_is_an_error() {
        assert!(parse("just some text, not XML at all\n").is_err());
        assert!(parse("").is_err());
        assert!(parse("<html><body><a href=\"x\">x</a></body></html>").is_err());
        assert!(parse("{\"feeds\": []}").is_err());
        // An OPML file without feeds is not an error: nothing to add.
        assert_eq!(
            parse("<?xml version=\"1.0\"?><opml version=\"2.0\"><body/></opml>"),
            Ok(vec![])
        );
    }
}
