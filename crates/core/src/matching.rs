//! Every topic against one item: the compiled topics (behind their prefilter) on the item's
//! fields, then each matching topic's time scope. Shared by the pipeline, `test`, `eval` and
//! backtests, so all of them match alike. Pure: the time the item was first seen is a
//! parameter.

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::model::{Item, TopicMatch};
use crate::query::{Document, Fields};

/// Evaluates every topic of `config` on an item (through the prefilter), in topic order,
/// keeping the topics whose time scope takes the item when first seen at `first_seen`. Pure.
pub fn match_topics(
    config: &Config,
    item: &Item,
    feed_name: &str,
    first_seen: DateTime<Utc>,
) -> Vec<TopicMatch> {
    config
        .matcher
        .evaluate(&document_of(item, feed_name))
        .into_iter()
        .filter(|(topic_idx, _)| {
            let scope = &config.topics[*topic_idx].scope;
            scope.check(item.published, first_seen).is_ok()
        })
        .map(|(topic_idx, hits)| TopicMatch {
            topic: config.topics[topic_idx].id.clone(),
            hits,
        })
        .collect()
}

/// An item prepared for matching; `feed_name` is what `feed:` matches.
pub fn document_of(item: &Item, feed_name: &str) -> Document {
    Document::new(&Fields {
        title: &item.title,
        summary: &item.summary,
        content: &item.content,
        article: &item.article,
        link: item.url.as_deref().unwrap_or(""),
        authors: &item.authors,
        categories: &item.categories,
        feed: feed_name,
    })
}
