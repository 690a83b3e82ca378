//! The `log` sink: a tracing event per match.

use tracing::{info, warn};

use super::message::{Content, Markup, TopicTitles, render_one};
use crate::config::AlertConfig;
use crate::text::sanitize;

/// Logs each match as an `alert` event, a notice as a warning. Cannot fail.
pub fn send(alert: &AlertConfig, content: &Content<'_>, titles: &TopicTitles) {
    let matches = match content {
        Content::Matches(matches) => *matches,
        Content::Notice(notice) => {
            warn!(
                sink = %alert.name,
                event = notice.event.as_str(),
                feed = %sanitize(&notice.feed),
                url = %sanitize(&notice.url),
                text = %content.text(None, Markup::Plain, titles),
                "feed notice"
            );
            return;
        }
        Content::Test { .. } => {
            info!(
                sink = %alert.name,
                text = %content.text(None, Markup::Plain, titles),
                "alert test"
            );
            return;
        }
    };
    for m in matches {
        info!(
            sink = %alert.name,
            topic = %m.topic,
            feed = %sanitize(&m.feed),
            title = %sanitize(&m.title),
            url = %m.url.as_deref().map_or_else(|| "-".into(), sanitize),
            terms = ?m.terms,
            text = %render_one(m, alert.template.as_deref(), Markup::Plain, titles),
            "alert"
        );
    }
}
