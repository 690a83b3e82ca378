//! Every topic against one item: the compiled topics (behind their prefilter) on the item's
//! fields, then each matching topic's time scope. Shared by the pipeline, `test`, `eval` and
//! backtests, so all of them match alike. Pure: the time the item was first seen is a
//! parameter.

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::model::{Item, TopicMatch};
use crate::query::{Document, Fields};

/// Evaluates every topic of `config` on an item (through the prefilter), in topic order,
/// keeping the topics whose time scope takes the item when first seen at `first_seen`; a
/// topic out of scope is not evaluated at all (once a topic's window has closed, it costs
/// nothing). Pure.
pub fn match_topics(
    config: &Config,
    item: &Item,
    feed_name: &str,
    first_seen: DateTime<Utc>,
) -> Vec<TopicMatch> {
    let in_scope: Vec<bool> = config
        .topics
        .iter()
        .map(|topic| topic.scope.check(item.published, first_seen).is_ok())
        .collect();
    if !in_scope.contains(&true) {
        return Vec::new();
    }
    config
        .matcher
        .evaluate_only(&document_of(item, feed_name), |topic_idx| {
            in_scope[topic_idx]
        })
        .into_iter()
        .map(|(topic_idx, hits)| TopicMatch {
            topic: config.topics[topic_idx].id.clone(),
            hits,
        })
        .collect()
}

/// An item prepared for matching; `feed_name` is what `feed:` matches.
pub fn document_of<'a>(item: &'a Item, feed_name: &'a str) -> Document<'a> {
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
