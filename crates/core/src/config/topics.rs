//! The `[alias]` table and the `[[topic]]` tables compiled: alias names and entries, topic
//! ids, time scopes, and queries with their lint warnings, each at its place in the file.

use super::*;

pub(super) fn compile_aliases(
    raw: &BTreeMap<String, Spanned<Vec<Spanned<String>>>>,
    document: &toml::de::DeTable<'_>,
    sink: &mut Diagnostics<'_>,
) -> BTreeMap<String, Vec<String>> {
    let mut aliases = BTreeMap::new();
    for (name, entries) in raw {
        if !is_identifier(name) {
            let steps = [Step::Key("alias".into()), Step::Key(name.clone())];
            let span = key_span(document, &steps).unwrap_or_else(|| entries.span());
            sink.error(
                span,
                format!("alias name {name:?} must use only letters, digits, _ and -"),
            );
        }
        if entries.get_ref().is_empty() {
            sink.error(entries.span(), format!("alias {name:?} has no entries"));
        }
        for entry in entries.get_ref() {
            if entry.get_ref().trim().is_empty() {
                sink.error(entry.span(), "alias entry is empty".into());
            }
        }
        let list = entries
            .get_ref()
            .iter()
            .map(|entry| entry.get_ref().trim().to_string())
            .collect();
        aliases.insert(name.clone(), list);
    }
    aliases
}

pub(super) fn compile_topics(
    raw: &[RawTopic],
    aliases: &BTreeMap<String, Vec<String>>,
    default_max_age: Option<Duration>,
    sink: &mut Diagnostics<'_>,
) -> Vec<Topic> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut topics = Vec::with_capacity(raw.len());
    for topic in raw {
        let id = topic.id.get_ref().as_str();
        if !is_identifier(id) {
            sink.error(
                topic.id.span(),
                format!("topic id {id:?} must be non-empty and use only letters, digits, _ and -"),
            );
        } else {
            once_only(&mut seen, "topic id", id, topic.id.span(), sink);
        }
        let scope = TimeScope {
            max_age: compile_max_age(&topic.max_age, default_max_age, sink),
            published_after: compile_bound(&topic.published_after, sink),
            published_before: compile_bound(&topic.published_before, sink),
        };
        if let (Some(after), Some(before), Some(raw_before)) = (
            scope.published_after,
            scope.published_before,
            &topic.published_before,
        ) && before <= after
        {
            sink.error(
                raw_before.span(),
                "published_before must be later than published_after".into(),
            );
        }
        for lint in crate::query::lint(topic.query.get_ref()) {
            let offset = string_body_offset(sink.text, topic.query.span(), lint.offset);
            sink.warning(offset..offset, format!("in query: {}", lint.message));
        }
        match Query::compile(topic.query.get_ref(), aliases) {
            Ok(query) => topics.push(Topic {
                id: id.to_string(),
                title: topic.title.clone(),
                source: topic.query.get_ref().clone(),
                query,
                scope,
            }),
            Err(error) => {
                let offset = string_body_offset(sink.text, topic.query.span(), error.offset);
                sink.error(offset..offset, format!("in query: {}", error.message));
            }
        }
    }
    topics
}
