//! The `log` sink: a tracing event per match.

use tracing::info;

use super::message::{Markup, render_one};
use crate::config::AlertConfig;
use crate::model::Match;
use crate::text::sanitize;

/// Logs each match as an `alert` event. Cannot fail.
pub fn send(alert: &AlertConfig, matches: &[Match]) {
    for m in matches {
        info!(
            sink = %alert.name,
            topic = %m.topic,
            feed = %sanitize(&m.feed),
            title = %sanitize(&m.title),
            url = %m.url.as_deref().map_or_else(|| "-".into(), sanitize),
            terms = ?m.terms,
            text = %render_one(m, alert.template.as_deref(), Markup::Plain),
            "alert"
        );
    }
}
