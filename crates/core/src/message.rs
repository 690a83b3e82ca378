//! What an alert says: the text of one match or a digest, rendered for a target markup with
//! the feed's text escaped for it. Pure.
//!
//! Feed text is written by strangers: every value taken from a feed loses its control
//! characters (and with them terminal escape sequences) and is escaped for the markup it
//! lands in, so a title cannot format, link or mention anything in a chat message or email.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::config::{TEMPLATE_FIELDS, Topic};
use crate::model::{Match, Notice, NoticeKind, by_story, rfc3339};
use crate::text::sanitize;

/// The names people read for topics: a topic's `title`, else its id. Built from the config
/// in force; a topic no longer configured reads as its id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicTitles(HashMap<String, String>);

impl TopicTitles {
    /// The titles of the configured topics.
    pub fn of(topics: &[Topic]) -> TopicTitles {
        TopicTitles(
            topics
                .iter()
                .map(|topic| (topic.id.clone(), topic.display_name().to_string()))
                .collect(),
        )
    }

    /// The name of `topic`; several ids joined by `, ` (a story that matched several
    /// topics, see `by_story`) give their names joined the same way.
    pub fn name(&self, topic: &str) -> String {
        topic
            .split(", ")
            .map(|id| self.0.get(id).map_or(id, String::as_str))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What one message is about: a match, a digest of matches, or a notice about a feed.
#[derive(Debug, Clone, Copy)]
pub enum Content<'a> {
    /// One match, or several (a digest). Never empty.
    Matches(&'a [Match]),
    Notice(&'a Notice),
    /// A test message (`watchword alerts test`) to the named sink, at the given time: no
    /// match is behind it, and it says so.
    Test {
        sink: &'a str,
        at: DateTime<Utc>,
    },
}

impl Content<'_> {
    /// The event name receivers see: `match`, `feed_dead` or `feed_recovered`.
    pub fn event(&self) -> &'static str {
        match self {
            Content::Matches(_) => "match",
            Content::Notice(notice) => notice.event.as_str(),
            Content::Test { .. } => "test",
        }
    }

    /// The message text in `markup`; a sink's template applies to matches only.
    pub fn text(&self, template: Option<&str>, markup: Markup, titles: &TopicTitles) -> String {
        match self {
            Content::Matches(matches) => render(matches, template, markup, titles),
            Content::Notice(notice) => render_notice(notice, markup),
            Content::Test { sink, at } => {
                let text = test_text(sink, *at);
                match markup {
                    Markup::Html => html_paragraphs(&text),
                    _ => escape(&text, markup),
                }
            }
        }
    }

    /// A one-line subject (email, ntfy title).
    pub fn subject(&self, titles: &TopicTitles) -> String {
        match self {
            Content::Matches(matches) => subject(matches, titles),
            Content::Test { .. } => "[watchword] test message".to_string(),
            Content::Notice(notice) => one_line(&format!(
                "[watchword] {}: {}",
                match notice.event {
                    NoticeKind::FeedDead => "feed failing",
                    NoticeKind::FeedRecovered => "feed recovered",
                    NoticeKind::FeedStale => "feed stale",
                },
                notice.feed
            )),
        }
    }

    /// The machine form, one JSON object per line: the `matches --format jsonl` records, or
    /// the notice.
    pub fn json_lines(&self) -> String {
        let mut lines = String::new();
        let mut push = |value: String| {
            lines.push_str(&value);
            lines.push('\n');
        };
        match self {
            Content::Matches(matches) => {
                for m in *matches {
                    push(crate::text::to_json(&m.record()).expect("plain data serializes"));
                }
            }
            Content::Notice(notice) => {
                push(crate::text::to_json(notice).expect("plain data serializes"));
            }
            Content::Test { sink, at } => {
                let test = serde_json::json!({
                    "event": "test",
                    "sink": sink,
                    "at": rfc3339(*at),
                    "text": test_text(sink, *at),
                });
                push(crate::text::to_json(&test).expect("plain data serializes"));
            }
        }
        lines
    }
}

/// The text of a test message.
fn test_text(sink: &str, at: DateTime<Utc>) -> String {
    format!(
        "This is a test message from watchword to the alert sink {sink}, sent at {} by \
         `watchword alerts test`. No match is behind it.",
        rfc3339(at)
    )
}

/// The text of a notice.
fn render_notice(notice: &Notice, markup: Markup) -> String {
    if markup == Markup::Html {
        return html_paragraphs(&render_notice(notice, Markup::Plain));
    }
    let feed = escape(&notice.feed, markup);
    let url = match markup {
        Markup::Discord => sanitize(&notice.url),
        _ => escape(&notice.url, markup),
    };
    let since = rfc3339(notice.failing_since);
    match notice.event {
        NoticeKind::FeedDead => format!(
            "Feed {feed} has been failing since {since}.\n{url}\nLast error: {}",
            escape(notice.error.as_deref().unwrap_or("unknown"), markup)
        ),
        NoticeKind::FeedRecovered => {
            format!("Feed {feed} works again (it had been failing since {since}).\n{url}")
        }
        NoticeKind::FeedStale => format!(
            "Feed {feed} answers but has listed nothing new since {since}: it may have moved.\n{url}"
        ),
    }
}

/// The markup a message is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markup {
    /// Plain text (log, exec, ntfy, the JSON webhook's `text`, the email's text part).
    Plain,
    /// Slack mrkdwn: `&`, `<` and `>` are escaped.
    Slack,
    /// Discord markdown: formatting characters are backslash-escaped.
    Discord,
    /// HTML (the email's HTML part).
    Html,
}

/// The longest subject or title line, in characters.
const SUBJECT_CHARS: usize = 200;

/// The text of one match, from the sink's template or the default for `markup`; topics
/// are named by `titles`.
pub fn render_one(
    m: &Match,
    template: Option<&str>,
    markup: Markup,
    titles: &TopicTitles,
) -> String {
    if markup == Markup::Html {
        // The HTML part is the plain text, escaped, with line breaks kept.
        return html_paragraphs(&render_one(m, template, Markup::Plain, titles));
    }
    let custom = template.is_some();
    // The default: the item's title, its link, a piece of its text around the first hit
    // outside the title, then the topic's title, the feed, the time and the words found.
    let default = format!(
        "{}\n{{url}}\n{}topic {{topic_title}} · {{feed}} · published {{published}} · found {{words}}",
        match markup {
            Markup::Slack => "*{title}*",
            Markup::Discord => "**{title}**",
            Markup::Plain | Markup::Html => "{title}",
        },
        if m.excerpt().is_some() {
            "{excerpt}\n"
        } else {
            ""
        }
    );
    let template = template.unwrap_or(&default);
    let mut text = fill(template, |field| value(m, field, markup, titles));
    // The default text names the other sources; a template places them with `{also}`.
    if !custom && m.sources.len() > 1 {
        text.push_str("\nalso reported by ");
        text.push_str(&value(m, "also", markup, titles));
    }
    text
}

/// The text of a batch: one match as [`render_one`], several as a digest grouped by story (a
/// count line, then each story once, with every topic it matched).
pub fn render(
    matches: &[Match],
    template: Option<&str>,
    markup: Markup,
    titles: &TopicTitles,
) -> String {
    if let [single] = matches {
        return render_one(single, template, markup, titles);
    }
    if markup == Markup::Html {
        return html_paragraphs(&render(matches, template, Markup::Plain, titles));
    }
    let stories = by_story(matches);
    if let [single] = stories.as_slice() {
        return render_one(single, template, markup, titles);
    }
    let mut text = if stories.len() == matches.len() {
        format!("{} new matches", matches.len())
    } else {
        format!("{} new stories ({} matches)", stories.len(), matches.len())
    };
    for m in &stories {
        text.push_str("\n\n");
        text.push_str(&render_one(m, template, markup, titles));
    }
    text
}

/// A one-line subject (email subject, ntfy title): the topic's title and the item's title for
/// one match, a count and the topics' titles for a digest. Plain text, no control characters.
pub fn subject(matches: &[Match], titles: &TopicTitles) -> String {
    let line = match matches {
        [single] => format!(
            "[watchword] {}: {}",
            titles.name(&single.topic),
            single.title
        ),
        _ => {
            let mut topics: Vec<String> = matches.iter().map(|m| titles.name(&m.topic)).collect();
            topics.sort_unstable();
            topics.dedup();
            let stories = by_story(matches);
            match stories.as_slice() {
                [single] => format!("[watchword] {}: {}", topics.join(", "), single.title),
                _ if stories.len() == matches.len() => format!(
                    "[watchword] {} new matches ({})",
                    matches.len(),
                    topics.join(", ")
                ),
                _ => format!(
                    "[watchword] {} new stories ({})",
                    stories.len(),
                    topics.join(", ")
                ),
            }
        }
    };
    one_line(&line)
}

/// Text as one line of at most [`SUBJECT_CHARS`] characters, without control characters.
fn one_line(text: &str) -> String {
    let line = sanitize(text);
    let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
    crate::text::shorten(&line, SUBJECT_CHARS)
}

/// Escapes feed text for `markup` (after removing control characters).
pub fn escape(text: &str, markup: Markup) -> String {
    let text = sanitize(text);
    match markup {
        Markup::Plain => text,
        Markup::Slack => text
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;"),
        Markup::Discord => {
            let mut out = String::with_capacity(text.len());
            for c in text.chars() {
                if "\\*_~`|>#[]()-:@".contains(c) {
                    out.push('\\');
                }
                out.push(c);
            }
            out
        }
        Markup::Html => text
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;"),
    }
}

/// The escaped value of a template field for one match.
fn value(m: &Match, field: &str, markup: Markup, titles: &TopicTitles) -> String {
    debug_assert!(TEMPLATE_FIELDS.contains(&field));
    match field {
        "title" => escape(&m.title, markup),
        "url" => match &m.url {
            // A URL stays a URL: Discord would break on backslashes, and canonical URLs
            // carry no markdown; Slack still needs its three entities.
            Some(url) if markup == Markup::Discord => sanitize(url),
            Some(url) => escape(url, markup),
            None => "(no link)".into(),
        },
        "topic" => escape(&m.topic, markup),
        "topic_title" => escape(&titles.name(&m.topic), markup),
        "feed" => escape(&m.feed, markup),
        "terms" => escape(&m.terms.join(", "), markup),
        "words" => escape(&m.words_found().join(", "), markup),
        "excerpt" => escape(m.excerpt().unwrap_or(""), markup),
        "published" => m.published.map_or_else(|| "unknown".into(), rfc3339),
        // The feeds of the sources after the first, each once, in the order seen.
        "also" => {
            let mut feeds: Vec<&str> = Vec::new();
            for source in m.sources.iter().skip(1) {
                if source.feed != m.feed && !feeds.contains(&source.feed.as_str()) {
                    feeds.push(&source.feed);
                }
            }
            escape(&feeds.join(", "), markup)
        }
        _ => String::new(),
    }
}

/// Replaces `{field}` placeholders with `value(field)`; `{{` and `}}` are literal braces.
/// Templates are checked when the config is compiled, so an unknown name cannot occur.
fn fill(template: &str, value: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(at) = rest.find(['{', '}']) {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
        } else if let (true, Some(end)) = (tail.starts_with('{'), tail.find('}')) {
            out.push_str(&value(&tail[1..end]));
            rest = &tail[end + 1..];
        } else {
            out.push_str(&tail[..1]);
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// Plain text as HTML paragraphs: escaped, blank lines between paragraphs, line breaks kept.
fn html_paragraphs(plain: &str) -> String {
    plain
        .split("\n\n")
        .map(|paragraph| {
            let lines: Vec<String> = paragraph
                .lines()
                .map(|line| {
                    let escaped = escape(line, Markup::Html);
                    // A line that is a link is a link.
                    let is_link = (line.starts_with("https://") || line.starts_with("http://"))
                        && !line.contains(char::is_whitespace);
                    if is_link {
                        format!("<a href=\"{escaped}\">{escaped}</a>")
                    } else {
                        escaped
                    }
                })
                .collect();
            format!("<p>{}</p>", lines.join("<br>\n"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    /// No titles: every topic reads as its id.
    fn none() -> TopicTitles {
        TopicTitles::default()
    }

    fn hostile() -> Match {
        Match {
            match_id: crate::model::MatchId(7),
            topic: "satellite_launch".into(),
            matched_at: Utc.with_ymd_and_hms(2023, 11, 21, 14, 0, 0).unwrap(),
            item_id: crate::model::ItemId(3),
            item_key: "guid:1".into(),
            feed: "Wire <b>".into(),
            title: "Launch *now* <@here> & `rm -rf` \u{1b}[31mred\u{7}".into(),
            url: Some("https://example.com/a?b=1&c=2".into()),
            published: Some(Utc.with_ymd_and_hms(2023, 11, 21, 13, 43, 0).unwrap()),
            terms: vec!["spy satellite".into(), "@north_korea".into()],
            hits: vec![],
            story_id: Some(crate::model::StoryId(3)),
            sources: vec![],
            backfill: false,
            verdict: None,
        }
    }

    #[test]
    fn control_characters_never_survive() {
        for markup in [Markup::Plain, Markup::Slack, Markup::Discord, Markup::Html] {
            let text = render_one(&hostile(), None, markup, &none());
            assert!(!text.contains('\u{1b}'), "{markup:?}: {text}");
            assert!(!text.contains('\u{7}'), "{markup:?}: {text}");
        }
        assert!(!subject(&[hostile()], &none()).contains('\u{1b}'));
    }

    #[test]
    fn slack_escapes_its_three_entities() {
        let text = render_one(&hostile(), None, Markup::Slack, &none());
        assert!(text.contains("&lt;@here&gt; &amp;"), "{text}");
        assert!(text.contains("https://example.com/a?b=1&amp;c=2"), "{text}");
        assert!(!text.contains("<@here>"));
    }

    #[test]
    fn discord_escapes_formatting_but_keeps_urls() {
        let text = render_one(&hostile(), None, Markup::Discord, &none());
        assert!(text.contains(r"\*now\*"), "{text}");
        assert!(
            text.contains(r"\<\@here\>") || text.contains(r"<\@here\>"),
            "{text}"
        );
        assert!(text.contains(r"\`rm \-rf\`"), "{text}");
        assert!(text.contains("\nhttps://example.com/a?b=1&c=2\n"), "{text}");
    }

    #[test]
    fn html_escapes_everything_from_the_feed() {
        let text = render_one(&hostile(), None, Markup::Html, &none());
        assert!(text.contains("&lt;@here&gt; &amp;"), "{text}");
        assert!(text.contains("Wire &lt;b&gt;"), "{text}");
        assert!(!text.contains("<b>"));
        assert!(text.starts_with("<p>") && text.contains("<br>"), "{text}");
    }

    #[test]
    fn a_message_shows_the_text_around_the_hit_the_words_found_and_links_in_html() {
        use crate::query::{Field, Hit};
        let mut m = hostile();
        m.title = "Pyongyang says it put a spy satellite in orbit".into();
        m.hits = vec![
            Hit {
                term: "@north_korea".into(),
                field: Field::Title,
                found: "Pyongyang".into(),
                snippet: "Pyongyang says it put".into(),
            },
            Hit {
                term: "satellit*".into(),
                field: Field::Summary,
                found: "satellite".into(),
                snippet: "launched its first military reconnaissance satellite late on Tuesday"
                    .into(),
            },
        ];
        let titles = TopicTitles(HashMap::from([(
            "satellite_launch".to_string(),
            "North Korea spy satellite".to_string(),
        )]));
        let text = render_one(&m, None, Markup::Plain, &titles);
        assert!(
            text.contains("launched its first military reconnaissance satellite"),
            "{text}"
        );
        assert!(text.contains("found Pyongyang, satellite"), "{text}");
        assert!(
            !text.contains("satellit*"),
            "query syntax is not what people read: {text}"
        );
        assert!(text.contains("topic North Korea spy satellite"), "{text}");
        let html = render_one(&m, None, Markup::Html, &titles);
        assert!(
            html.contains("<a href=\"https://example.com/a?b=1&amp;c=2\">"),
            "{html}"
        );
        // A hit stored before the words were kept reads as its term.
        m.hits[1].found.clear();
        assert_eq!(m.words_found(), ["Pyongyang", "satellit*"]);
    }

    #[test]
    fn templates_fill_placeholders_and_literal_braces() {
        let text = render_one(
            &hostile(),
            Some("{{{topic}}} {title} ({terms}) {published} -> {url}"),
            Markup::Plain,
            &none(),
        );
        assert_eq!(
            text,
            "{satellite_launch} Launch *now* <@here> & `rm -rf`  [31mred  (spy satellite, @north_korea) 2023-11-21T13:43:00Z -> https://example.com/a?b=1&c=2"
        );
    }

    #[test]
    fn a_digest_counts_and_lists_every_match() {
        let mut second = hostile();
        second.title = "Second".into();
        second.topic = "missile_sale".into();
        second.story_id = Some(crate::model::StoryId(4));
        let text = render(
            &[hostile(), second.clone()],
            Some("{title}"),
            Markup::Plain,
            &none(),
        );
        assert_eq!(
            text,
            "2 new matches\n\nLaunch *now* <@here> & `rm -rf`  [31mred \n\nSecond"
        );
        assert_eq!(
            subject(&[hostile(), second], &none()),
            "[watchword] 2 new matches (missile_sale, satellite_launch)"
        );
    }

    #[test]
    fn notices_name_the_feed_and_the_error() {
        let notice = Notice {
            event: NoticeKind::FeedDead,
            feed: "Wire <b>".into(),
            url: "https://wire.example/rss".into(),
            failing_since: Utc.with_ymd_and_hms(2023, 11, 21, 0, 0, 0).unwrap(),
            at: Utc.with_ymd_and_hms(2023, 11, 22, 0, 0, 0).unwrap(),
            error: Some("http 500".into()),
        };
        let content = Content::Notice(&notice);
        assert_eq!(content.event(), "feed_dead");
        assert_eq!(
            content.text(None, Markup::Slack, &none()),
            "Feed Wire &lt;b&gt; has been failing since 2023-11-21T00:00:00Z.\nhttps://wire.example/rss\nLast error: http 500"
        );
        assert_eq!(
            content.subject(&none()),
            "[watchword] feed failing: Wire <b>"
        );
        assert!(content.json_lines().starts_with("{\"event\":\"feed_dead\""));
    }

    #[test]
    fn sink_json_escapes_bidi_controls_and_line_separators() {
        // What the jsonl and exec sinks write: a right-to-left override or a line separator
        // from a feed arrives escaped, not raw.
        let notice = Notice {
            event: NoticeKind::FeedDead,
            feed: "Wire\u{202e}lanigiro\u{2028}next".into(),
            url: "https://wire.example/rss".into(),
            failing_since: Utc.with_ymd_and_hms(2023, 11, 21, 0, 0, 0).unwrap(),
            at: Utc.with_ymd_and_hms(2023, 11, 22, 0, 0, 0).unwrap(),
            error: None,
        };
        let lines = Content::Notice(&notice).json_lines();
        assert!(lines.contains("Wire\\u202elanigiro\\u2028next"), "{lines}");
        assert!(!lines.contains('\u{202e}') && !lines.contains('\u{2028}'));
    }

    #[test]
    fn a_missing_link_says_so() {
        let mut m = hostile();
        m.url = None;
        assert!(render_one(&m, Some("{url}"), Markup::Plain, &none()).contains("(no link)"));
    }

    fn source(feed: &str) -> crate::model::Source {
        crate::model::Source {
            feed: feed.into(),
            title: format!("{feed} title"),
            url: Some(format!("https://{feed}.example/a")),
            published: None,
            seen: Utc.with_ymd_and_hms(2023, 11, 21, 14, 0, 0).unwrap(),
        }
    }

    #[test]
    fn the_first_source_is_named_and_the_others_also_reported() {
        let mut m = hostile();
        m.feed = "Wire".into();
        m.sources = vec![
            source("Wire"),
            source("Daily*"),
            source("Wire"),
            source("Post"),
        ];
        let text = render_one(&m, None, Markup::Plain, &none());
        assert!(text.ends_with("\nalso reported by Daily*, Post"), "{text}");
        let text = render_one(&m, None, Markup::Discord, &none());
        assert!(text.ends_with("also reported by Daily\\*, Post"), "{text}");
        assert_eq!(
            render_one(&m, Some("{title}"), Markup::Plain, &none())
                .lines()
                .count(),
            1
        );
        assert_eq!(
            render_one(&m, Some("({also})"), Markup::Plain, &none()),
            "(Daily*, Post)"
        );
        m.sources.truncate(1);
        assert!(!render_one(&m, None, Markup::Plain, &none()).contains("also reported"));
    }

    #[test]
    fn a_digest_groups_matches_by_story() {
        let mut sale = hostile();
        sale.topic = "missile_sale".into();
        sale.terms = vec!["Tomahawk".into()];
        sale.sources = vec![source("Post")];
        let mut other = hostile();
        other.story_id = Some(crate::model::StoryId(9));
        other.title = "Other".into();
        let text = render(
            &[hostile(), sale.clone(), other],
            Some("{topic}: {terms}"),
            Markup::Plain,
            &none(),
        );
        assert_eq!(
            text,
            "2 new stories (3 matches)\n\nsatellite_launch, missile_sale: spy satellite, @north_korea, Tomahawk\n\nsatellite_launch: spy satellite, @north_korea"
        );
        let one_story = [hostile(), sale];
        assert_eq!(by_story(&one_story)[0].sources.len(), 1);
        assert!(
            subject(&one_story, &none())
                .starts_with("[watchword] missile_sale, satellite_launch: Launch")
        );
    }

    #[test]
    fn topics_read_as_their_titles() {
        let titles = TopicTitles(HashMap::from([(
            "satellite_launch".to_string(),
            "Spy satellite <launch>".to_string(),
        )]));
        let text = render_one(&hostile(), None, Markup::Slack, &titles);
        assert!(
            text.contains("topic Spy satellite &lt;launch&gt; ·"),
            "{text}"
        );
        assert!(
            subject(&[hostile()], &titles)
                .starts_with("[watchword] Spy satellite <launch>: Launch"),
            "{}",
            subject(&[hostile()], &titles)
        );
        let text = render_one(
            &hostile(),
            Some("{topic} / {topic_title}"),
            Markup::Plain,
            &titles,
        );
        assert_eq!(text, "satellite_launch / Spy satellite <launch>");
        assert_eq!(
            titles.name("missile_sale, satellite_launch"),
            "missile_sale, Spy satellite <launch>"
        );
    }
}
