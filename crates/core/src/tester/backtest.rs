//! Backtests: the topics of a config on disk re-run over the stored items, compared with the
//! match log (what an edit adds and drops, and what it does to the verdicts), and the matches
//! an applied backtest logs.

use super::*;

/// Re-runs the configured topics over stored items and compares with the match log of those
/// items (`log`). As when polling, an article (canonical URL) and a story count once per
/// topic: a match is added only if no item with its URL or of its story is logged for the
/// topic, and dropped only if no item with its URL or of its story still matches. Topics only in the log (removed from the config) drop every
/// match. Ordered as in the config, then removed topics by id. `verdicts` (of any items)
/// say which changes the analyst judged: wrong matches removed, right ones lost, missed
/// items recovered.
pub fn backtest(
    config: &Config,
    items: &[StoredItem],
    log: &[Match],
    verdicts: &[StoredVerdict],
) -> Vec<TopicDiff> {
    let item_ids: HashSet<ItemId> = items.iter().map(|stored| stored.item_id).collect();
    let log: Vec<&Match> = log
        .iter()
        .filter(|m| item_ids.contains(&m.item_id))
        .collect();
    // Topic id → the items it matches now, with their hits.
    let mut now_matching: BTreeMap<String, Vec<(&StoredItem, Vec<Hit>)>> = BTreeMap::new();
    let by_id: HashMap<ItemId, &StoredItem> = items
        .iter()
        .map(|stored| (stored.item_id, stored))
        .collect();
    let verdict_of: HashMap<(ItemId, &str), Verdict> = verdicts
        .iter()
        .filter(|v| item_ids.contains(&v.item_id))
        .map(|v| ((v.item_id, v.topic.as_str()), v.verdict))
        .collect();
    for stored in items {
        for topic_match in match_topics(config, &stored.item, &stored.feed, stored.first_seen) {
            now_matching
                .entry(topic_match.topic)
                .or_default()
                .push((stored, topic_match.hits));
        }
    }
    let mut topics: Vec<(&str, bool)> = config
        .topics
        .iter()
        .map(|t| (t.id.as_str(), true))
        .collect();
    let removed: BTreeSet<&str> = log
        .iter()
        .map(|m| m.topic.as_str())
        .filter(|id| !config.topics.iter().any(|t| t.id == *id))
        .collect();
    topics.extend(removed.into_iter().map(|id| (id, false)));
    topics
        .into_iter()
        .map(|(topic, configured)| {
            let logged: Vec<&&Match> = log.iter().filter(|m| m.topic == topic).collect();
            let logged_items: HashSet<ItemId> = logged.iter().map(|m| m.item_id).collect();
            let logged_urls: HashSet<&str> =
                logged.iter().filter_map(|m| m.url.as_deref()).collect();
            let logged_stories: HashSet<StoryId> =
                logged.iter().filter_map(|m| m.story_id).collect();
            let matching = now_matching.remove(topic).unwrap_or_default();
            let matching_items: HashSet<ItemId> =
                matching.iter().map(|(stored, _)| stored.item_id).collect();
            let matching_urls: HashSet<&str> = matching
                .iter()
                .filter_map(|(stored, _)| stored.item.url.as_deref())
                .collect();
            let matching_stories: HashSet<StoryId> = matching
                .iter()
                .filter_map(|(stored, _)| stored.story_id)
                .collect();
            let mut seen_urls: HashSet<&str> = HashSet::new();
            let mut seen_stories: HashSet<StoryId> = HashSet::new();
            let mut n_matching = 0;
            let mut added = Vec::new();
            for (stored, hits) in &matching {
                let url = stored.item.url.as_deref();
                let seen_url = url.is_some_and(|url| !seen_urls.insert(url));
                let seen_story = stored.story_id.is_some_and(|id| !seen_stories.insert(id));
                if seen_url || seen_story {
                    continue;
                }
                n_matching += 1;
                let known = logged_items.contains(&stored.item_id)
                    || url.is_some_and(|url| logged_urls.contains(url))
                    || stored
                        .story_id
                        .is_some_and(|id| logged_stories.contains(&id));
                if !known {
                    added.push(Change {
                        item_id: stored.item_id,
                        feed: stored.feed.clone(),
                        title: stored.item.title.clone(),
                        url: stored.item.url.clone(),
                        published: stored.item.published,
                        hits: hits.clone(),
                        out_of_scope: None,
                        verdict: verdict_of.get(&(stored.item_id, topic)).copied(),
                    });
                }
            }
            let dropped = logged
                .iter()
                .filter(|m| {
                    !matching_items.contains(&m.item_id)
                        && m.url
                            .as_deref()
                            .is_none_or(|url| !matching_urls.contains(url))
                        && m.story_id.is_none_or(|id| !matching_stories.contains(&id))
                })
                .map(|m| Change {
                    item_id: m.item_id,
                    feed: m.feed.clone(),
                    title: m.title.clone(),
                    url: m.url.clone(),
                    published: m.published,
                    hits: m.hits.clone(),
                    out_of_scope: by_id.get(&m.item_id).and_then(|stored| {
                        let topic = config.topics.iter().find(|t| t.id == topic)?;
                        topic
                            .scope
                            .check(stored.item.published, stored.first_seen)
                            .err()
                    }),
                    verdict: verdict_of.get(&(m.item_id, topic)).copied(),
                })
                .collect::<Vec<Change>>();
            let judged: Vec<(ItemId, Verdict)> = verdict_of
                .iter()
                .filter(|((_, t), _)| *t == topic)
                .map(|(&(item_id, _), &verdict)| (item_id, verdict))
                .collect();
            let verdicts = VerdictChanges {
                judged: judged.len(),
                removes_wrong: dropped
                    .iter()
                    .filter(|c| c.verdict == Some(Verdict::Wrong))
                    .count(),
                loses_right: dropped
                    .iter()
                    .filter(|c| c.verdict == Some(Verdict::Right))
                    .count(),
                recovers_missed: judged
                    .iter()
                    .filter(|(item_id, verdict)| {
                        *verdict == Verdict::Missed && matching_items.contains(item_id)
                    })
                    .count(),
            };
            TopicDiff {
                topic: topic.to_string(),
                configured,
                verdicts,
                logged: logged.len(),
                matching: n_matching,
                added,
                dropped,
            }
        })
        .collect()
}

/// The matches a backtest adds, as backfills for the store: per topic (configured ones
/// only), in the order of the items (first stored first), with the items' story keys.
pub fn backfills(diffs: &[TopicDiff], items: &[StoredItem]) -> Vec<Backfill> {
    let by_id: HashMap<ItemId, &StoredItem> = items
        .iter()
        .map(|stored| (stored.item_id, stored))
        .collect();
    diffs
        .iter()
        .filter(|diff| diff.configured)
        .flat_map(|diff| {
            diff.added.iter().map(|change| Backfill {
                item_id: change.item_id,
                topic_match: TopicMatch {
                    topic: diff.topic.clone(),
                    hits: change.hits.clone(),
                },
                story: by_id
                    .get(&change.item_id)
                    .map(|stored| story::keys(&stored.item)),
            })
        })
        .collect()
}
