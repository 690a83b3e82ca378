use chrono::TimeZone;

use super::testing::{each_backend, open};
use super::*;
use crate::model::{AlertRoute, Dedup, Item, Payload, StoryPolicy, TopicMatch};
use crate::query::Field;
use crate::story;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2023, 11, 21, 13, 0, 0).unwrap()
}

fn item(key: &str, url: Option<&str>, topics: &[&str]) -> MatchedItem {
    MatchedItem {
        item: Item {
            key: key.into(),
            url: url.map(String::from),
            title: format!("title {key}"),
            ..Item::default()
        },
        matches: topics
            .iter()
            .map(|topic| TopicMatch {
                topic: topic.to_string(),
                hits: vec![Hit {
                    term: "satellite".into(),
                    field: Field::Title,
                    found: "satellite".into(),
                    snippet: "spy satellite".into(),
                }],
            })
            .collect(),
        story: None,
    }
}

#[test]
fn migrations_apply_once_and_reopen_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ww.db");
    drop(Store::open(&path).unwrap());
    let store = Store::open(&path).unwrap();
    let version: i64 = store
        .conn()
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, MIGRATIONS.len() as i64);
    let mode: String = store
        .conn()
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ww.db");
    let store = Store::open(&path).unwrap();
    store
        .conn()
        .pragma_update(None, "user_version", 999)
        .unwrap();
    drop(store);
    assert!(matches!(Store::open(&path), Err(StoreError::TooNew { .. })));
}

#[test]
fn items_and_matches_are_logged_once() {
    each_backend("items_and_matches_are_logged_once", || {
        let (_dir, mut store) = open();
        let ids = store
            .register_feeds(&[
                ("A", "https://a/feed".into()),
                ("B", "https://b/feed".into()),
            ])
            .unwrap();
        let batch = vec![
            item("guid:1", Some("https://e.com/1"), &["sat"]),
            item("guid:2", None, &[]),
        ];
        let first = store
            .commit_poll(&PollCommit {
                feed_id: ids[0],
                items: &batch,
                state: &FeedState::default(),
                now: now(),
                routes: &[],
                notice: None,
                policy: &StoryPolicy::default(),
                baseline: false,
                body: true,
            })
            .unwrap();
        assert_eq!(
            first,
            CommitSummary {
                new_items: 2,
                new_matches: 1,
                logged: vec![(0, 0)],
                ..CommitSummary::default()
            }
        );
        let again = store
            .commit_poll(&PollCommit {
                feed_id: ids[0],
                items: &batch,
                state: &FeedState::default(),
                now: now(),
                routes: &[],
                notice: None,
                policy: &StoryPolicy::default(),
                baseline: false,
                body: true,
            })
            .unwrap();
        assert_eq!(again, CommitSummary::default());
        let probe = [
            item("guid:1", None, &[]).item,
            item("guid:3", None, &[]).item,
        ];
        let known = store.known_keys(ids[0], &probe).unwrap();
        assert_eq!(known.keys, HashSet::from(["guid:1".to_string()]));

        // The same article (canonical URL) from feed B: stored as B's item, not logged again for
        // the same topic, but logged for a topic it had not matched before.
        let copy = vec![item("guid:b1", Some("https://e.com/1"), &["sat", "sale"])];
        let from_b = store
            .commit_poll(&PollCommit {
                feed_id: ids[1],
                items: &copy,
                state: &FeedState::default(),
                now: now(),
                routes: &[],
                notice: None,
                policy: &StoryPolicy::default(),
                baseline: false,
                body: true,
            })
            .unwrap();
        assert_eq!(
            from_b,
            CommitSummary {
                new_items: 1,
                new_matches: 1,
                // Only the second topic: the first is already logged for this URL.
                logged: vec![(0, 1)],
                new_deliveries: 0,
                // It joined the story of A's item (same URL), and is a source of its match.
                joined_stories: 1,
                new_sources: 1,
            }
        );

        let log = store.matches(&MatchFilter::default()).unwrap();
        let topics: Vec<(&str, &str)> = log
            .iter()
            .map(|m| (m.topic.as_str(), m.feed.as_str()))
            .collect();
        assert_eq!(topics, [("sat", "A"), ("sale", "B")]);
        let feeds_of =
            |m: &Match| -> Vec<String> { m.sources.iter().map(|s| s.feed.clone()).collect() };
        assert_eq!(feeds_of(&log[0]), ["A", "B"]);
        assert_eq!(feeds_of(&log[1]), ["B"]);
        assert_eq!(log[0].story_id, log[1].story_id);
        assert_eq!(log[0].terms, ["satellite"]);
        assert_eq!(log[0].hits[0].field, Field::Title);
        assert_eq!(store.counts().unwrap(), (3, 2));
    });
}

#[test]
fn the_match_log_filters_by_topic_time_and_limit() {
    each_backend("the_match_log_filters_by_topic_time_and_limit", || {
        let (_dir, mut store) = open();
        let ids = store
            .register_feeds(&[("A", "https://a/feed".into())])
            .unwrap();
        for (i, hours) in [0, 1, 2, 3].iter().enumerate() {
            let at = now() + chrono::Duration::hours(*hours);
            let topic = if i % 2 == 0 { "sat" } else { "sale" };
            let batch = vec![item(&format!("guid:{i}"), None, &[topic])];
            store
                .commit_poll(&PollCommit {
                    feed_id: ids[0],
                    items: &batch,
                    state: &FeedState::default(),
                    now: at,
                    routes: &[],
                    notice: None,
                    policy: &StoryPolicy::default(),
                    baseline: false,
                    body: true,
                })
                .unwrap();
        }
        let all = store.matches(&MatchFilter::default()).unwrap();
        assert_eq!(all.len(), 4);
        assert!(
            all.windows(2).all(|w| w[0].matched_at <= w[1].matched_at),
            "oldest first"
        );
        let sat = store
            .matches(&MatchFilter {
                topic: Some("sat".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(sat.len(), 2);
        let recent = store
            .matches(&MatchFilter {
                since: Some(now() + chrono::Duration::hours(2)),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(recent.len(), 2);
        let last = store
            .matches(&MatchFilter {
                limit: Some(1),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(last.len(), 1);
        assert_eq!(
            last[0].item_key, "guid:3",
            "the limit keeps the most recent"
        );
    });
}

#[test]
fn feed_state_round_trips_and_a_changed_url_drops_validators() {
    each_backend(
        "feed_state_round_trips_and_a_changed_url_drops_validators",
        || {
            let (_dir, mut store) = open();
            let ids = store
                .register_feeds(&[("A", "https://a/feed".into())])
                .unwrap();
            let state = FeedState {
                etag: Some("\"v1\"".into()),
                last_modified: Some("Tue, 21 Nov 2023 12:00:00 GMT".into()),
                next_due: Some(now()),
                last_polled: Some(now()),
                last_success: Some(now()),
                consecutive_errors: 0,
                last_error: None,
                last_status: Some("ok".into()),
                moved_to: Some("https://a/moved".into()),
                discovered: true,
                gone: false,
                failing_since: None,
                dead_notified: false,
                config_url: Some("https://a/feed".into()),
                last_new_item: Some(now()),
                stale_notified: true,
            };
            store.save_state(ids[0], &state, None, &[]).unwrap();
            assert_eq!(store.feed_state(ids[0]).unwrap(), state);
            let health = store.feed_health(&["A"]).unwrap();
            assert!(health[0].discovered);
            assert_eq!(health[0].url, "https://a/moved");
            assert_eq!(health[0].config_url.as_deref(), Some("https://a/feed"));
            // Not discovered without an address of its own.
            let unmoved = FeedState {
                moved_to: None,
                ..state.clone()
            };
            store.save_state(ids[0], &unmoved, None, &[]).unwrap();
            assert!(!store.feed_state(ids[0]).unwrap().discovered);
            store.save_state(ids[0], &state, None, &[]).unwrap();
            // Same name and URL: same row, state kept.
            let again = store
                .register_feeds(&[("A", "https://a/feed".into())])
                .unwrap();
            assert_eq!(again, ids);
            assert_eq!(store.feed_state(ids[0]).unwrap(), state);
            // New URL: same row, but the old validators mean nothing for the new address.
            store
                .register_feeds(&[("A", "https://a/new-feed".into())])
                .unwrap();
            let moved = store.feed_state(ids[0]).unwrap();
            assert_eq!(moved.etag, None);
            assert_eq!(moved.last_modified, None);
            assert_eq!(
                moved.moved_to, None,
                "the config's new URL wins over a redirect"
            );
            assert!(!moved.discovered, "and over a discovered feed");
            assert_eq!(moved.next_due, state.next_due);

            // A 410 stops the feed until the config names another URL.
            let gone = FeedState {
                gone: true,
                ..moved
            };
            store.save_state(ids[0], &gone, None, &[]).unwrap();
            store
                .register_feeds(&[("A", "https://a/new-feed".into())])
                .unwrap();
            assert!(store.feed_state(ids[0]).unwrap().gone);
            store
                .register_feeds(&[("A", "https://a/newer-feed".into())])
                .unwrap();
            assert!(!store.feed_state(ids[0]).unwrap().gone);
            // A poll of the old address that ends after the config moved the feed changes nothing.
            let stale = FeedState {
                gone: true,
                etag: Some("\"old\"".into()),
                ..store.feed_state(ids[0]).unwrap()
            };
            store
                .register_feeds(&[("A", "https://a/newest-feed".into())])
                .unwrap();
            store.save_state(ids[0], &stale, None, &[]).unwrap();
            let current = store.feed_state(ids[0]).unwrap();
            assert!(!current.gone && current.etag.is_none(), "{current:?}");
            store
                .register_feeds(&[("A", "https://a/newer-feed".into())])
                .unwrap();
            let health = store.feed_health(&["A", "missing"]).unwrap();
            assert_eq!(health.len(), 1);
            assert_eq!(health[0].url, "https://a/newer-feed");
        },
    );
}

#[test]
fn a_notice_goes_to_the_sinks_without_a_topic_filter() {
    each_backend("a_notice_goes_to_the_sinks_without_a_topic_filter", || {
        use crate::model::{AlertRoute, Notice, NoticeKind, Payload};
        let (_dir, mut store) = open();
        let ids = store
            .register_feeds(&[("A", "https://a/feed".into())])
            .unwrap();
        let routes = [
            AlertRoute {
                sink: "all".into(),
                topics: None,
                delay: Duration::from_secs(600),
            },
            AlertRoute {
                sink: "sat-only".into(),
                topics: Some(vec!["sat".into()]),
                delay: Duration::ZERO,
            },
        ];
        let notice = Notice {
            event: NoticeKind::FeedDead,
            feed: "A".into(),
            url: "https://a/feed".into(),
            failing_since: now(),
            at: now(),
            error: Some("http 500".into()),
        };
        let state = FeedState {
            dead_notified: true,
            failing_since: Some(now()),
            ..FeedState::default()
        };
        store
            .save_state(ids[0], &state, Some(&notice), &routes)
            .unwrap();
        let due = store
            .due_deliveries(&["all", "sat-only"], now(), HOUR, 10)
            .unwrap();
        assert_eq!(
            due.len(),
            1,
            "only the unfiltered sink, and no digest delay"
        );
        assert_eq!(due[0].sink, "all");
        assert_eq!(due[0].payload, Payload::Notice(notice));
        assert!(store.feed_state(ids[0]).unwrap().dead_notified);
    });
}

#[test]
fn an_item_is_known_across_a_guid_starting_or_stopping_to_repeat() {
    each_backend(
        "an_item_is_known_across_a_guid_starting_or_stopping_to_repeat",
        || {
            let (_dir, mut store) = open();
            let ids = store
                .register_feeds(&[("A", "https://a/feed".into())])
                .unwrap();
            let plain = item("guid:g", Some("https://e.com/1"), &["sat"]);
            store
                .commit_poll(&PollCommit {
                    feed_id: ids[0],
                    items: std::slice::from_ref(&plain),
                    state: &FeedState::default(),
                    now: now(),
                    routes: &[],
                    notice: None,
                    policy: &StoryPolicy::default(),
                    baseline: false,
                    body: true,
                })
                .unwrap();

            // The feed now gives a second, different item the same guid: both get hashed keys. The
            // first is the item already stored; the second is new.
            let mut first = plain.item.clone();
            first.key = format!("guid:g{}1111", crate::model::REPEATED_KEY_MARK);
            let mut second = item("guid:g", Some("https://e.com/2"), &[]).item;
            second.key = format!("guid:g{}2222", crate::model::REPEATED_KEY_MARK);
            let known = store
                .known_keys(ids[0], &[first.clone(), second.clone()])
                .unwrap();
            assert_eq!(known.keys, HashSet::from([first.key.clone()]));

            // Stored under a hashed key, seen again under the plain one: still known.
            let batch = [MatchedItem {
                item: second.clone(),
                matches: vec![],
                story: None,
            }];
            store
                .commit_poll(&PollCommit {
                    feed_id: ids[0],
                    items: &batch,
                    state: &FeedState::default(),
                    now: now(),
                    routes: &[],
                    notice: None,
                    policy: &StoryPolicy::default(),
                    baseline: false,
                    body: true,
                })
                .unwrap();
            let mut unique_again = second.clone();
            unique_again.key = "guid:g".into();
            let known = store.known_keys(ids[0], &[unique_again.clone()]).unwrap();
            assert_eq!(
                known.keys,
                HashSet::from(["guid:g".to_string()]),
                "the plain key itself is stored"
            );
            unique_again.key = "guid:h".into();
            let mut elsewhere = second;
            elsewhere.key = format!("guid:h{}3333", crate::model::REPEATED_KEY_MARK);
            store
                .commit_poll(&PollCommit {
                    feed_id: ids[0],
                    items: &[MatchedItem {
                        item: elsewhere,
                        matches: vec![],
                        story: None,
                    }],
                    state: &FeedState::default(),
                    now: now(),
                    routes: &[],
                    notice: None,
                    policy: &StoryPolicy::default(),
                    baseline: false,
                    body: true,
                })
                .unwrap();
            let known = store.known_keys(ids[0], &[unique_again]).unwrap();
            assert_eq!(known.keys, HashSet::from(["guid:h".to_string()]));
        },
    );
}

const HOUR: Duration = Duration::from_secs(3600);

/// Logs one match routed to the sink `hook` at `at`; returns its outbox row's id.
fn one_delivery(store: &mut Store, at: DateTime<Utc>) -> crate::model::DeliveryId {
    let ids = store
        .register_feeds(&[("A", "https://a/feed".into())])
        .unwrap();
    let routes = [AlertRoute {
        sink: "hook".into(),
        topics: None,
        delay: Duration::ZERO,
    }];
    store
        .commit_poll(&PollCommit {
            feed_id: ids[0],
            items: &[item("guid:1", Some("https://e.com/1"), &["sat"])],
            state: &FeedState::default(),
            now: at,
            routes: &routes,
            notice: None,
            policy: &StoryPolicy::default(),
            baseline: false,
            body: true,
        })
        .unwrap();
    store.due_deliveries(&["hook"], at, HOUR, 10).unwrap()[0].id
}

#[test]
fn outbox_rows_scheduled_while_the_clock_was_ahead_are_due_after_it_steps_back() {
    each_backend(
        "outbox_rows_scheduled_while_the_clock_was_ahead_are_due_after_it_steps_back",
        || {
            let (_dir, mut store) = open();
            // Logged and failed while the clock was a year ahead: the retry is "in a second" then.
            let ahead = now() + chrono::Duration::days(365);
            let id = one_delivery(&mut store, ahead);
            let retry = ahead + chrono::Duration::seconds(1);
            store
                .mark_attempt_failed(&[id], "http 503", Some(retry))
                .unwrap();
            // The clock is corrected: the row is due now, not in a year.
            let due = store.due_deliveries(&["hook"], now(), HOUR, 10).unwrap();
            assert_eq!(due.iter().map(|d| d.id).collect::<Vec<_>>(), vec![id]);
            assert_eq!(
                store.next_delivery_due(&["hook"], now(), HOUR).unwrap(),
                Some(now())
            );
            // Without a step, a row waiting for its retry waits.
            assert!(
                store
                    .due_deliveries(&["hook"], ahead, HOUR, 10)
                    .unwrap()
                    .is_empty()
            );
            assert_eq!(
                store.next_delivery_due(&["hook"], ahead, HOUR).unwrap(),
                Some(retry)
            );
        },
    );
}

#[test]
fn retries_keep_their_milliseconds_and_a_recovered_sink_releases_them() {
    each_backend(
        "retries_keep_their_milliseconds_and_a_recovered_sink_releases_them",
        || {
            let (_dir, mut store) = open();
            let id = one_delivery(&mut store, now());
            let retry = now() + chrono::Duration::milliseconds(1_250);
            store
                .mark_attempt_failed(&[id], "http 503", Some(retry))
                .unwrap();
            let row = store.delivery(id).unwrap().unwrap();
            assert_eq!(row.next_attempt, retry, "not rounded down to the second");
            let at_one_second = now() + chrono::Duration::seconds(1);
            assert!(
                store
                    .due_deliveries(&["hook"], at_one_second, HOUR, 10)
                    .unwrap()
                    .is_empty()
            );
            // The sink took a message again: its rows in backoff are due at once.
            assert_eq!(store.release_backoff("hook", at_one_second).unwrap(), 1);
            assert_eq!(store.release_backoff("other", at_one_second).unwrap(), 0);
            let due = store
                .due_deliveries(&["hook"], at_one_second, HOUR, 10)
                .unwrap();
            assert_eq!(due.len(), 1);
            assert_eq!(due[0].attempts, 1, "a release is not an attempt");
        },
    );
}

#[test]
fn a_baseline_poll_logs_its_matches_as_backfill_without_outbox_rows() {
    each_backend(
        "a_baseline_poll_logs_its_matches_as_backfill_without_outbox_rows",
        || {
            let (_dir, mut store) = open();
            let ids = store
                .register_feeds(&[("A", "https://a/feed".into())])
                .unwrap();
            let routes = [AlertRoute {
                sink: "hook".into(),
                topics: None,
                delay: Duration::ZERO,
            }];
            let summary = store
                .commit_poll(&PollCommit {
                    feed_id: ids[0],
                    items: &[item("guid:1", Some("https://e.com/1"), &["sat"])],
                    state: &FeedState::default(),
                    now: now(),
                    routes: &routes,
                    notice: None,
                    policy: &StoryPolicy::default(),
                    baseline: true,
                    body: true,
                })
                .unwrap();
            assert_eq!((summary.new_matches, summary.new_deliveries), (1, 0));
            assert!(
                store
                    .due_deliveries(&["hook"], now(), HOUR, 10)
                    .unwrap()
                    .is_empty()
            );
            let logged = store.matches(&MatchFilter::default()).unwrap();
            assert_eq!(logged.len(), 1);
            assert!(logged[0].backfill, "a baseline match is marked as backfill");
        },
    );
}

#[test]
fn outbox_rows_follow_the_routes_and_their_states() {
    each_backend("outbox_rows_follow_the_routes_and_their_states", || {
        use crate::model::DeliveryState;
        let (_dir, mut store) = open();
        let ids = store
            .register_feeds(&[("A", "https://a/feed".into())])
            .unwrap();
        let route = |sink: &str, topics: Option<&[&str]>, delay_secs: u64| AlertRoute {
            sink: sink.into(),
            topics: topics.map(|t| t.iter().map(|s| s.to_string()).collect()),
            delay: Duration::from_secs(delay_secs),
        };
        let routes = [
            route("all", None, 0),
            route("sales", Some(&["sale"]), 0),
            route("digest", None, 600),
        ];
        let batch = [item("guid:1", Some("https://e.com/1"), &["sat"])];
        let summary = store
            .commit_poll(&PollCommit {
                feed_id: ids[0],
                items: &batch,
                state: &FeedState::default(),
                now: now(),
                routes: &routes,
                notice: None,
                policy: &StoryPolicy::default(),
                baseline: false,
                body: true,
            })
            .unwrap();
        assert_eq!(
            summary.new_deliveries, 2,
            "the sales sink does not take `sat`"
        );
        let sinks = ["all", "sales", "digest"];

        let due = store.due_deliveries(&sinks, now(), HOUR, 10).unwrap();
        assert_eq!(due.len(), 1, "the digest row waits for its window");
        assert_eq!(due[0].sink, "all");
        let Payload::Match(matched) = &due[0].payload else {
            panic!("a match row")
        };
        assert_eq!(matched.topic, "sat");
        assert_eq!(matched.title, "title guid:1");
        assert_eq!(
            store.next_delivery_due(&sinks, now(), HOUR).unwrap(),
            Some(now()),
            "the earliest pending row"
        );
        assert_eq!(
            store.due_deliveries(&["other"], now(), HOUR, 10).unwrap(),
            vec![],
            "rows of sinks no longer configured are left alone"
        );

        let later = now() + chrono::Duration::seconds(2);
        store
            .mark_attempt_failed(&[due[0].id], "http 503", Some(later))
            .unwrap();
        let row = store.delivery(due[0].id).unwrap().unwrap();
        assert_eq!(
            (row.state, row.attempts, row.next_attempt),
            (DeliveryState::Pending, 1, later)
        );
        assert_eq!(row.last_error.as_deref(), Some("http 503"));
        assert!(
            store
                .due_deliveries(&sinks, now(), HOUR, 10)
                .unwrap()
                .is_empty()
        );

        store
            .mark_attempt_failed(&[row.id], "http 400: no", None)
            .unwrap();
        let counts = store.outbox_counts(&sinks).unwrap();
        assert_eq!((counts.pending, counts.delivered, counts.failed), (1, 0, 1));
        assert_eq!(store.requeue_failed(Some(row.id), now()).unwrap(), 1);
        assert_eq!(store.requeue_failed(None, now()).unwrap(), 0);
        let row = store.delivery(row.id).unwrap().unwrap();
        assert_eq!((row.state, row.attempts), (DeliveryState::Pending, 0));

        store.mark_delivered(&[row.id], later).unwrap();
        let delivered = store
            .deliveries(&DeliveryFilter {
                state: Some(DeliveryState::Delivered),
                limit: None,
            })
            .unwrap();
        assert_eq!(delivered.len(), 1);
        assert_eq!(delivered[0].delivered_at, Some(later));
        assert_eq!(delivered[0].attempts, 1);
        assert_eq!(delivered[0].last_error, None);
        let pending_digest = store.pending_deliveries("digest", 10).unwrap();
        assert_eq!(pending_digest.len(), 1);
        assert_eq!(pending_digest[0].attempts, 0);
    });
}

/// A wire copy: the same summary with a small edit, under its own headline and link.
fn copy(key: &str, title: &str, edit: &str, topics: &[&str]) -> MatchedItem {
    let mut matched = item(key, Some(&format!("https://{key}.example/story")), topics);
    matched.item.title = title.into();
    matched.item.summary = format!(
        "North Korea said on Wednesday it had successfully {edit} a military reconnaissance \
         satellite, the Malligyong-1, into orbit on its third attempt this year, defying \
         warnings from Seoul and Washington."
    );
    matched
}

fn commit(
    store: &mut Store,
    feed_id: FeedId,
    batch: &[MatchedItem],
    at: DateTime<Utc>,
    routes: &[AlertRoute],
    policy: &StoryPolicy,
) -> CommitSummary {
    store
        .commit_poll(&PollCommit {
            feed_id,
            items: batch,
            state: &FeedState::default(),
            now: at,
            routes,
            notice: None,
            policy,
            baseline: false,
            body: true,
        })
        .unwrap()
}

fn three_feeds(store: &mut Store) -> Vec<FeedId> {
    store
        .register_feeds(&[
            ("A", "https://a/feed".into()),
            ("B", "https://b/feed".into()),
            ("C", "https://c/feed".into()),
        ])
        .unwrap()
}

#[test]
fn copies_of_a_story_are_logged_once_with_every_source() {
    each_backend(
        "copies_of_a_story_are_logged_once_with_every_source",
        || {
            let (_dir, mut store) = open();
            let ids = three_feeds(&mut store);
            let routes = [AlertRoute {
                sink: "hook".into(),
                topics: None,
                delay: Duration::ZERO,
            }];
            let policy = StoryPolicy::default();
            let first = commit(
                &mut store,
                ids[0],
                &[copy(
                    "a1",
                    "North Korea says it put a spy satellite into orbit",
                    "launched",
                    &["sat"],
                )],
                now(),
                &routes,
                &policy,
            );
            assert_eq!((first.new_matches, first.new_deliveries), (1, 1));
            // An hour later, a rewritten headline; then a copy that does not match the topic itself
            // (its text still tells the story) and one that matches a second topic.
            let later = now() + chrono::Duration::hours(1);
            let second = commit(
                &mut store,
                ids[1],
                &[copy(
                    "b1",
                    "Pyongyang claims Malligyong-1 launch",
                    "put",
                    &["sat"],
                )],
                later,
                &routes,
                &policy,
            );
            assert_eq!(
                (
                    second.new_matches,
                    second.new_deliveries,
                    second.joined_stories,
                    second.new_sources
                ),
                (0, 0, 1, 1)
            );
            let third = commit(
                &mut store,
                ids[2],
                &[
                    copy("c1", "Spy satellite in orbit, says DPRK", "placed", &[]),
                    copy(
                        "c2",
                        "North Korea satellite: what we know",
                        "fired",
                        &["other"],
                    ),
                ],
                later,
                &routes,
                &policy,
            );
            assert_eq!((third.new_matches, third.joined_stories), (1, 2));
            let log = store.matches(&MatchFilter::default()).unwrap();
            assert_eq!(log.len(), 2);
            let sources: Vec<(&str, &str)> = log[0]
                .sources
                .iter()
                .map(|s| (s.feed.as_str(), s.url.as_deref().unwrap()))
                .collect();
            assert_eq!(
                sources,
                [
                    ("A", "https://a1.example/story"),
                    ("B", "https://b1.example/story"),
                    ("C", "https://c1.example/story"),
                    ("C", "https://c2.example/story"),
                ]
            );
            assert_eq!(
                (log[0].title.as_str(), log[0].feed.as_str()),
                ("North Korea says it put a spy satellite into orbit", "A")
            );
            assert_eq!(log[1].topic, "other");
            assert_eq!(log[1].story_id, log[0].story_id);
            // One outbox row per logged match; the delivery reads the sources known now.
            let due = store.due_deliveries(&["hook"], later, HOUR, 10).unwrap();
            assert_eq!(due.len(), 2);
            let Payload::Match(m) = &due[0].payload else {
                panic!("a match row")
            };
            assert_eq!(m.sources.len(), 4);
        },
    );
}

#[test]
fn dedup_by_url_or_item_keeps_copies_apart() {
    each_backend("dedup_by_url_or_item_keeps_copies_apart", || {
        for (dedup, expected) in [(Dedup::Url, 2), (Dedup::Item, 3)] {
            let (_dir, mut store) = open();
            let ids = three_feeds(&mut store);
            let policy = StoryPolicy {
                dedup,
                ..StoryPolicy::default()
            };
            commit(
                &mut store,
                ids[0],
                &[copy("a1", "Title one of it", "launched", &["sat"])],
                now(),
                &[],
                &policy,
            );
            commit(
                &mut store,
                ids[1],
                &[copy("b1", "Title two of it", "put", &["sat"])],
                now(),
                &[],
                &policy,
            );
            // The same link as A's from feed C: one match with dedup by URL.
            let mut same_link = copy("c1", "Title three of it", "put", &["sat"]);
            same_link.item.url = Some("https://a1.example/story".into());
            commit(&mut store, ids[2], &[same_link], now(), &[], &policy);
            let log = store.matches(&MatchFilter::default()).unwrap();
            assert_eq!(log.len(), expected, "{dedup:?}");
            assert_eq!(
                log[0].story_id, log[1].story_id,
                "one story whatever the dedup level"
            );
            if dedup == Dedup::Url {
                let feeds: Vec<&str> = log[0].sources.iter().map(|s| s.feed.as_str()).collect();
                assert_eq!(feeds, ["A", "C"]);
            }
        }
    });
}

#[test]
fn a_story_is_joined_only_within_the_window() {
    each_backend("a_story_is_joined_only_within_the_window", || {
        let (_dir, mut store) = open();
        let ids = three_feeds(&mut store);
        let policy = StoryPolicy::default();
        commit(
            &mut store,
            ids[0],
            &[copy(
                "a1",
                "North Korea says it put a spy satellite into orbit",
                "launched",
                &["sat"],
            )],
            now(),
            &[],
            &policy,
        );
        // The same headline a month later is another story: logged again.
        let month = now() + chrono::Duration::days(30);
        let later = commit(
            &mut store,
            ids[1],
            &[copy(
                "b1",
                "North Korea says it put a spy satellite into orbit",
                "launched",
                &["sat"],
            )],
            month,
            &[],
            &policy,
        );
        assert_eq!((later.joined_stories, later.new_matches), (0, 1));
        // Within the window of the story first seen 72 h before: joined, even after an hour more.
        let edge = month + chrono::Duration::hours(72);
        let joined = commit(
            &mut store,
            ids[2],
            &[copy(
                "c1",
                "North Korea says it put a spy satellite into orbit",
                "put",
                &["sat"],
            )],
            edge,
            &[],
            &policy,
        );
        assert_eq!((joined.joined_stories, joined.new_matches), (1, 0));
        let log = store.matches(&MatchFilter::default()).unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(log[1].sources.len(), 2);
    });
}

#[test]
fn deleting_an_item_keeps_its_story_and_sources() {
    each_backend("deleting_an_item_keeps_its_story_and_sources", || {
        let (_dir, mut store) = open();
        let ids = three_feeds(&mut store);
        let policy = StoryPolicy::default();
        commit(
            &mut store,
            ids[0],
            &[copy(
                "a1",
                "First headline of the story",
                "launched",
                &["sat"],
            )],
            now(),
            &[],
            &policy,
        );
        commit(
            &mut store,
            ids[1],
            &[copy("b1", "Second headline of the story", "put", &["sat"])],
            now(),
            &[],
            &policy,
        );
        // Retention deletes an old item that was no match's own.
        store.with_sql(|sql| sql.execute("DELETE FROM items WHERE key = 'b1'", &[]));
        let log = store.matches(&MatchFilter::default()).unwrap();
        assert_eq!(log[0].sources.len(), 2, "the source outlives its item");
        // The story still takes new copies.
        let third = commit(
            &mut store,
            ids[2],
            &[copy(
                "c1",
                "Third headline of the story",
                "placed",
                &["sat"],
            )],
            now(),
            &[],
            &policy,
        );
        assert_eq!((third.joined_stories, third.new_matches), (1, 0));
    });
}

#[test]
fn a_version_3_database_gets_a_story_and_a_source_per_match() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ww.db");
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        let tx = conn.transaction().unwrap();
        for migration in &MIGRATIONS[..3] {
            tx.execute_batch(migration).unwrap();
        }
        tx.execute_batch(
            "PRAGMA user_version = 3;
             INSERT INTO feeds (id, name, url, config_url) VALUES (1, 'A', 'https://a/feed', 'https://a/feed');
             INSERT INTO items (id, feed_id, key, url, title, summary, content, authors, categories, first_seen)
                 VALUES (1, 1, 'guid:1', 'https://e.com/1', 'Old one', '', '', '[]', '[]', 100),
                        (2, 1, 'guid:2', NULL, 'Old two', '', '', '[]', '[]', 200);
             INSERT INTO matches (item_id, topic, url, matched_at, terms, hits)
                 VALUES (1, 'sat', 'https://e.com/1', 100, '[]', '[]');",
        )
        .unwrap();
        tx.commit().unwrap();
    }
    let mut store = Store::open(&path).unwrap();
    let log = store.matches(&MatchFilter::default()).unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].story_id, Some(StoryId(1)));
    assert_eq!(log[0].sources.len(), 1);
    assert_eq!(log[0].sources[0].title, "Old one");
    // A new item with the old match's URL is not logged again for the topic.
    let summary = commit(
        &mut store,
        FeedId(1),
        &[item("guid:3", Some("https://e.com/1"), &["sat"])],
        now(),
        &[],
        &StoryPolicy::default(),
    );
    assert_eq!(
        (summary.new_items, summary.new_matches, summary.new_sources),
        (1, 0, 1)
    );
}

#[test]
fn a_reopened_store_rebuilds_the_story_index() {
    each_backend("a_reopened_store_rebuilds_the_story_index", || {
        let policy = StoryPolicy::default();
        let (place, mut store) = open();
        let ids = three_feeds(&mut store);
        let batch = [copy(
            "a1",
            "First headline of the story",
            "launched",
            &["sat"],
        )];
        commit(&mut store, ids[0], &batch, now(), &[], &policy);
        drop(store);
        let mut store = place.open_again();
        let ids = three_feeds(&mut store);
        let batch = [copy("b1", "Second headline of the story", "put", &["sat"])];
        let joined = commit(&mut store, ids[1], &batch, now(), &[], &policy);
        assert_eq!(
            (
                joined.joined_stories,
                joined.new_matches,
                joined.new_sources
            ),
            (1, 0, 1)
        );
    });
}

#[test]
fn a_second_process_sees_the_members_the_first_added() {
    // `watchword once` beside a running daemon, or two daemons on one PostgreSQL database:
    // two stores on one database, each with its own index.
    each_backend("a_second_process_sees_the_members_the_first_added", || {
        second_process_sees_the_members_the_first_added();
    });
}

fn second_process_sees_the_members_the_first_added() {
    let policy = StoryPolicy::default();
    let (place, mut daemon) = open();
    let mut once = place.open_again();
    let ids = three_feeds(&mut daemon);
    let mut unrelated = item("guid:u", Some("https://u.example/1"), &[]);
    unrelated.item.title = "Markets close higher on tech gains".into();
    commit(&mut daemon, ids[2], &[unrelated], now(), &[], &policy);
    let first = [copy(
        "a1",
        "First headline of the story",
        "launched",
        &["sat"],
    )];
    commit(&mut once, ids[0], &first, now(), &[], &policy);
    let second = [copy("b1", "Second headline of the story", "put", &["sat"])];
    let joined = commit(&mut daemon, ids[1], &second, now(), &[], &policy);
    assert_eq!((joined.joined_stories, joined.new_matches), (1, 0));
}

#[test]
fn a_feed_rewriting_its_guids_logs_each_article_once() {
    each_backend("a_feed_rewriting_its_guids_logs_each_article_once", || {
        let (_dir, mut store) = open();
        let ids = store
            .register_feeds(&[
                ("A", "https://a/feed".into()),
                ("B", "https://b/feed".into()),
            ])
            .unwrap();
        let poll = |n: usize| {
            let mut linked = item(&format!("guid:{n}-1"), Some("https://e.com/1"), &["sat"]);
            let mut unlinked = item(&format!("guid:{n}-2"), None, &["sat"]);
            linked.item.title = "Spy satellite launched".into();
            unlinked.item.title = "Spy satellite: no link".into();
            vec![linked, unlinked]
        };
        let first = store
            .commit_poll(&PollCommit {
                feed_id: ids[0],
                items: &poll(1),
                state: &FeedState::default(),
                now: now(),
                routes: &[],
                notice: None,
                policy: &StoryPolicy::default(),
                baseline: false,
                body: true,
            })
            .unwrap();
        assert_eq!((first.new_items, first.new_matches), (2, 2));
        for n in 2..5 {
            let again = store
                .commit_poll(&PollCommit {
                    feed_id: ids[0],
                    items: &poll(n),
                    state: &FeedState::default(),
                    now: now(),
                    routes: &[],
                    notice: None,
                    policy: &StoryPolicy::default(),
                    baseline: false,
                    body: true,
                })
                .unwrap();
            // New guids: new items, but no new matches for the same URL or (no link) title.
            assert_eq!((again.new_items, again.new_matches), (2, 0), "poll {n}");
        }
        // Another feed with the same link-less title: with dedup by story it is another source
        // of the same story; by URL (there is none) it is another article, logged.
        let by_url = StoryPolicy {
            dedup: Dedup::Url,
            ..StoryPolicy::default()
        };
        for (policy, matches, sources) in [(&StoryPolicy::default(), 0, 1), (&by_url, 1, 0)] {
            let other = store
                .commit_poll(&PollCommit {
                    feed_id: ids[1],
                    items: &poll(if matches == 0 { 9 } else { 10 })[1..],
                    state: &FeedState::default(),
                    now: now(),
                    routes: &[],
                    notice: None,
                    policy,
                    baseline: false,
                    body: true,
                })
                .unwrap();
            assert_eq!(
                (other.new_matches, other.new_sources),
                (matches, sources),
                "{:?}",
                policy.dedup
            );
        }
    });
}

#[test]
fn an_article_is_cached_once_by_url_and_joined_to_its_items() {
    each_backend(
        "an_article_is_cached_once_by_url_and_joined_to_its_items",
        || {
            let (_dir, mut store) = open();
            let ids = store
                .register_feeds(&[("A", "https://a/feed".into())])
                .unwrap();
            let url = "https://e.com/story";
            assert_eq!(store.article(url).unwrap(), None);
            store
                .save_article(url, Ok("the spy satellite reached orbit"), now())
                .unwrap();
            // The first outcome stays.
            store
                .save_article(url, Err("http status 500"), now())
                .unwrap();
            assert_eq!(
                store.article(url).unwrap(),
                Some(Ok("the spy satellite reached orbit".to_string()))
            );
            store
                .save_article("https://e.com/dead", Err("http status 404"), now())
                .unwrap();
            assert_eq!(
                store.article("https://e.com/dead").unwrap(),
                Some(Err("http status 404".to_string()))
            );
            let batch = vec![item("guid:1", Some(url), &[]), item("guid:2", None, &[])];
            store
                .commit_poll(&PollCommit {
                    feed_id: ids[0],
                    items: &batch,
                    state: &FeedState::default(),
                    now: now(),
                    routes: &[],
                    notice: None,
                    policy: &StoryPolicy::default(),
                    baseline: false,
                    body: true,
                })
                .unwrap();
            let stored = store.stored_items(None).unwrap();
            let articles: Vec<&str> = stored.iter().map(|s| s.item.article.as_str()).collect();
            assert_eq!(articles, ["the spy satellite reached orbit", ""]);
        },
    );
}

fn days(n: i64) -> chrono::Duration {
    chrono::Duration::days(n)
}

const NINETY_DAYS: Duration = Duration::from_secs(90 * 86_400);

fn count(store: &Store, query: &str) -> i64 {
    store.with_sql(|sql| sql.value(query, &[]))
}

#[test]
fn retention_deletes_old_unmatched_items_and_finished_deliveries_and_keeps_matches() {
    each_backend(
        "retention_deletes_old_unmatched_items_and_finished_deliveries_and_keeps_matches",
        || {
            let (_dir, mut store) = open();
            let ids = store
                .register_feeds(&[("A", "https://a/feed".into())])
                .unwrap();
            let routes = [AlertRoute {
                sink: "hook".into(),
                topics: None,
                delay: Duration::ZERO,
            }];
            let old = now() - days(100);
            let batch = [
                item("guid:matched", Some("https://e.com/m"), &["sat"]),
                item("guid:pending", Some("https://e.com/p"), &["sale"]),
                item("guid:plain", Some("https://e.com/1"), &[]),
            ];
            store
                .commit_poll(&PollCommit {
                    feed_id: ids[0],
                    items: &batch,
                    state: &FeedState::default(),
                    now: old,
                    routes: &routes,
                    notice: None,
                    policy: &StoryPolicy::default(),
                    baseline: false,
                    body: true,
                })
                .unwrap();
            // Articles of the matched item and of the unmatched one, fetched then; one of now.
            for url in ["https://e.com/m", "https://e.com/1"] {
                store.save_article(url, Ok("text"), old).unwrap();
            }
            store
                .save_article("https://e.com/2", Ok("text"), now())
                .unwrap();
            let delivered = store.due_deliveries(&["hook"], old, HOUR, 10).unwrap();
            store.mark_delivered(&[delivered[0].id], old).unwrap();
            let recent = [item("guid:recent", Some("https://e.com/2"), &[])];
            store
                .commit_poll(&PollCommit {
                    feed_id: ids[0],
                    items: &recent,
                    state: &FeedState::default(),
                    now: now() - days(80),
                    routes: &routes,
                    notice: None,
                    policy: &StoryPolicy::default(),
                    baseline: false,
                    body: true,
                })
                .unwrap();

            let purged = store.purge(now(), NINETY_DAYS, 1000).unwrap();
            assert_eq!(
                purged,
                Purged {
                    items: 1,
                    deliveries: 1,
                    forgotten: 0,
                    articles: 1,
                    more: false
                },
                "the old unmatched item and the delivered row; the pending row stays"
            );
            let left: Vec<String> = store
                .stored_items(None)
                .unwrap()
                .into_iter()
                .map(|stored| stored.item.key)
                .collect();
            assert_eq!(left, ["guid:matched", "guid:pending", "guid:recent"]);
            assert_eq!(store.matches(&MatchFilter::default()).unwrap().len(), 2);
            assert_eq!(count(&store, "SELECT COUNT(*) FROM deliveries"), 1);
            assert!(
                store.article("https://e.com/m").unwrap().is_some(),
                "a match links to it"
            );
            assert!(store.article("https://e.com/1").unwrap().is_none());
            assert!(store.article("https://e.com/2").unwrap().is_some());
            assert_eq!(
                store.purge(now(), NINETY_DAYS, 1000).unwrap(),
                Purged::default(),
                "nothing more to do"
            );

            // The deleted item is still known when its feed lists it again: not new, not matched.
            let probe = [
                item("guid:plain", Some("https://e.com/1"), &[]).item,
                item("guid:new", Some("https://e.com/3"), &[]).item,
            ];
            let known = store.known_keys(ids[0], &probe).unwrap();
            assert_eq!(known.keys, HashSet::from(["guid:plain".to_string()]));
            let again = store
                .commit_poll(&PollCommit {
                    feed_id: ids[0],
                    items: &[item("guid:new", None, &[])],
                    state: &FeedState::default(),
                    now: now(),
                    routes: &[],
                    notice: None,
                    policy: &StoryPolicy::default(),
                    baseline: false,
                    body: true,
                })
                .unwrap();
            assert_eq!(again.new_items, 1);
        },
    );
}

#[test]
fn a_deleted_item_is_known_under_the_other_form_of_a_repeated_guid() {
    each_backend(
        "a_deleted_item_is_known_under_the_other_form_of_a_repeated_guid",
        || {
            let (_dir, mut store) = open();
            let ids = store
                .register_feeds(&[("A", "https://a/feed".into())])
                .unwrap();
            let plain = item("guid:x", Some("https://e.com/x"), &[]);
            store
                .commit_poll(&PollCommit {
                    feed_id: ids[0],
                    items: std::slice::from_ref(&plain),
                    state: &FeedState::default(),
                    now: now() - days(100),
                    routes: &[],
                    notice: None,
                    policy: &StoryPolicy::default(),
                    baseline: false,
                    body: true,
                })
                .unwrap();
            assert_eq!(store.purge(now(), NINETY_DAYS, 1000).unwrap().items, 1);

            let mut repeated = plain.item.clone();
            repeated.key = format!("guid:x{REPEATED_KEY_MARK}0123abcd");
            let mut other = repeated.clone();
            other.key = format!("guid:x{REPEATED_KEY_MARK}4567ef01");
            other.title = "another item sharing the guid".into();
            let known = store
                .known_keys(ids[0], &[repeated.clone(), other])
                .unwrap();
            assert_eq!(known.keys, HashSet::from([repeated.key.clone()]));
        },
    );
}

#[test]
fn a_deleted_item_is_forgotten_only_once_its_feed_stopped_listing_it_for_keep_items() {
    each_backend(
        "a_deleted_item_is_forgotten_only_once_its_feed_stopped_listing_it_for_keep_items",
        || {
            let (_dir, mut store) = open();
            let ids = store
                .register_feeds(&[("A", "https://a/feed".into())])
                .unwrap();
            let old = item("guid:old", Some("https://e.com/old"), &[]);
            let t0 = now() - days(100);
            store
                .commit_poll(&PollCommit {
                    feed_id: ids[0],
                    items: std::slice::from_ref(&old),
                    state: &FeedState::default(),
                    now: t0,
                    routes: &[],
                    notice: None,
                    policy: &StoryPolicy::default(),
                    baseline: false,
                    body: true,
                })
                .unwrap();
            assert_eq!(store.purge(now(), NINETY_DAYS, 1000).unwrap().items, 1);

            // Listed by a poll ten days later, then the feed answers 304 for months: kept.
            let listed_at = now() + days(10);
            let known = store
                .known_keys(ids[0], std::slice::from_ref(&old.item))
                .unwrap();
            assert_eq!(known.keys.len(), 1);
            store.mark_still_listed(ids[0], &known, listed_at).unwrap();
            store
                .commit_poll(&PollCommit {
                    feed_id: ids[0],
                    items: &[],
                    state: &FeedState::default(),
                    now: listed_at,
                    routes: &[],
                    notice: None,
                    policy: &StoryPolicy::default(),
                    baseline: false,
                    body: true,
                })
                .unwrap();
            let much_later = listed_at + days(120);
            assert_eq!(
                store
                    .purge(much_later, NINETY_DAYS, 1000)
                    .unwrap()
                    .forgotten,
                0
            );
            let known = store
                .known_keys(ids[0], std::slice::from_ref(&old.item))
                .unwrap();
            assert_eq!(
                known.keys.len(),
                1,
                "still known: a 304 means the feed still lists it"
            );
            store.mark_still_listed(ids[0], &known, much_later).unwrap();

            // A body that no longer lists it, read well after: forgotten keep_items after its last
            // listing, not before.
            let dropped_at = much_later + days(1);
            store
                .commit_poll(&PollCommit {
                    feed_id: ids[0],
                    items: &[],
                    state: &FeedState::default(),
                    now: dropped_at,
                    routes: &[],
                    notice: None,
                    policy: &StoryPolicy::default(),
                    baseline: false,
                    body: true,
                })
                .unwrap();
            assert_eq!(
                store
                    .purge(much_later + days(60), NINETY_DAYS, 1000)
                    .unwrap()
                    .forgotten,
                0
            );
            assert_eq!(
                store
                    .purge(much_later + days(91), NINETY_DAYS, 1000)
                    .unwrap()
                    .forgotten,
                1
            );
            assert!(
                store
                    .known_keys(ids[0], &[old.item])
                    .unwrap()
                    .keys
                    .is_empty()
            );
        },
    );
}

#[test]
fn retention_runs_in_passes_and_gives_the_pages_back() {
    let (_dir, mut store) = open();
    let ids = store
        .register_feeds(&[("A", "https://a/feed".into())])
        .unwrap();
    let batch: Vec<MatchedItem> = (0..300)
        .map(|n| {
            let mut item = item(&format!("guid:{n}"), None, &[]);
            item.item.content = "some words of an article ".repeat(200);
            item
        })
        .collect();
    store
        .commit_poll(&PollCommit {
            feed_id: ids[0],
            items: &batch,
            state: &FeedState::default(),
            now: now() - days(100),
            routes: &[],
            notice: None,
            policy: &StoryPolicy::default(),
            baseline: false,
            body: true,
        })
        .unwrap();
    store
        .conn()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    let pages_before = count(&store, "PRAGMA page_count");
    assert_eq!(count(&store, "PRAGMA auto_vacuum"), 2, "incremental");

    let mut passes = Vec::new();
    loop {
        let pass = store.purge(now(), NINETY_DAYS, 120).unwrap();
        passes.push(pass.items);
        if !pass.more {
            break;
        }
    }
    assert_eq!(passes, [120, 120, 60]);
    store
        .conn()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    let pages_after = count(&store, "PRAGMA page_count");
    assert!(
        pages_after * 4 < pages_before,
        "the file shrinks: {pages_before} pages, then {pages_after}"
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM seen"), 300);
}

#[test]
fn a_new_database_and_its_folder_are_private_and_an_existing_folder_is_left_alone() {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sub/ww.db");
    let mut store = Store::open(&db).unwrap();
    store
        .register_feeds(&[("A", "https://a/feed".into())])
        .unwrap();
    assert_eq!(mode(&dir.path().join("sub")), 0o700);
    for file in ["ww.db", "ww.db-wal", "ww.db-shm"] {
        assert_eq!(mode(&dir.path().join("sub").join(file)), 0o600, "{file}");
    }
    assert_eq!(store.path(), db);

    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
    drop(Store::open(&shared.join("ww.db")).unwrap());
    assert_eq!(
        mode(&shared),
        0o755,
        "a folder the user made keeps its permissions"
    );
    assert_eq!(mode(&shared.join("ww.db")), 0o600);
}

#[test]
fn only_matched_items_are_indexed_for_later_copies_to_join() {
    each_backend(
        "only_matched_items_are_indexed_for_later_copies_to_join",
        || {
            let (_dir, mut store) = open();
            let ids = three_feeds(&mut store);
            let policy = StoryPolicy::default();
            let title = "North Korea says it put a spy satellite into orbit";
            // A copy that matched nothing gets a story but is not indexed: a later copy does not
            // find it (the index holds matched items only, so it stays small).
            let unmatched = commit(
                &mut store,
                ids[0],
                &[copy("a1", title, "launched", &[])],
                now(),
                &[],
                &policy,
            );
            assert_eq!((unmatched.new_items, unmatched.joined_stories), (1, 0));
            let matched = commit(
                &mut store,
                ids[1],
                &[copy("b1", title, "launched", &["sat"])],
                now(),
                &[],
                &policy,
            );
            assert_eq!((matched.new_matches, matched.joined_stories), (1, 0));
            // Copies after the matched one join its story, matched or not, as its sources.
            let later = commit(
                &mut store,
                ids[2],
                &[copy("c1", title, "launched", &[])],
                now(),
                &[],
                &policy,
            );
            assert_eq!(
                (later.new_matches, later.joined_stories, later.new_sources),
                (0, 1, 1)
            );
        },
    );
}

#[test]
fn opening_a_current_database_writes_nothing() {
    // `matches`, `feeds` or `once` open the store beside a running daemon: opening must not
    // commit a write (it would make the daemon's transactions that read before writing fail
    // with "database is locked").
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ww.db");
    let daemon = Store::open(&path).unwrap();
    let data_version = |store: &Store| -> i64 {
        store
            .conn()
            .query_row("PRAGMA data_version", [], |row| row.get(0))
            .unwrap()
    };
    let before = data_version(&daemon);
    let reader = Store::open(&path).unwrap();
    drop(reader);
    assert_eq!(
        data_version(&daemon),
        before,
        "opening the store committed a write"
    );
}

#[test]
fn verdicts_are_kept_per_item_and_topic_shown_with_matches_and_keep_their_items() {
    each_backend(
        "verdicts_are_kept_per_item_and_topic_shown_with_matches_and_keep_their_items",
        || {
            let (_dir, mut store) = open();
            let ids = store
                .register_feeds(&[("A", "https://a/feed".into())])
                .unwrap();
            let old = now() - days(100);
            let batch = [
                item("guid:1", Some("https://e.com/1"), &["sat"]),
                item("guid:2", Some("https://e.com/2"), &[]),
                item("guid:3", Some("https://e.com/3"), &[]),
            ];
            commit(
                &mut store,
                ids[0],
                &batch,
                old,
                &[],
                &StoryPolicy::default(),
            );
            let logged = store.matches(&MatchFilter::default()).unwrap();
            let (match_id, item_id) = (logged[0].match_id, logged[0].item_id);
            assert_eq!(logged[0].verdict, None);

            assert_eq!(
                store
                    .judge_match(MatchId(999), Verdict::Wrong, None, now())
                    .unwrap(),
                Judged::NoSuchMatch
            );
            let judged = store
                .judge_match(match_id, Verdict::Right, None, now())
                .unwrap();
            assert!(
                matches!(judged, Judged::Stored { replaced: None, .. }),
                "{judged:?}"
            );
            let judged = store
                .judge_match(match_id, Verdict::Wrong, Some("a test launch"), now())
                .unwrap();
            assert!(
                matches!(
                    judged,
                    Judged::Stored {
                        replaced: Some(Verdict::Right),
                        ..
                    }
                ),
                "{judged:?}"
            );
            let logged = store.matches(&MatchFilter::default()).unwrap();
            assert_eq!(
                logged[0].verdict,
                Some((Verdict::Wrong, Some("a test launch".to_string())))
            );
            let record = serde_json::to_value(logged[0].record()).unwrap();
            assert_eq!(record["verdict"], "wrong");
            assert_eq!(record["verdict_note"], "a test launch");

            // A missed item: not one already in the topic's match.
            assert_eq!(
                store.judge_missed(item_id, "sat", None, now()).unwrap(),
                Judged::AlreadyMatched { match_id }
            );
            assert_eq!(
                store.judge_missed(ItemId(999), "sat", None, now()).unwrap(),
                Judged::NoSuchItem
            );
            let missed = store.items_with_url("https://e.com/2").unwrap();
            assert_eq!(missed.len(), 1);
            store.judge_missed(missed[0], "sat", None, now()).unwrap();
            let verdicts = store.verdicts().unwrap();
            assert_eq!(verdicts.len(), 2);
            assert_eq!(
                (verdicts[1].verdict, verdicts[1].match_id),
                (Verdict::Missed, None)
            );
            let judged: Vec<ItemId> = store
                .judged_items()
                .unwrap()
                .iter()
                .map(|stored| stored.item_id)
                .collect();
            assert_eq!(judged, [item_id, missed[0]]);

            // Retention keeps judged items (guid:2), deletes the others (guid:3).
            store.purge(now(), NINETY_DAYS, 1000).unwrap();
            assert_eq!(count(&store, "SELECT COUNT(*) FROM items"), 2);

            // Labels read back: the right form for each item, unknown items skipped.
            let label = |key: &str, positive: &[&str], negative: &[&str]| LabelImport {
                feed: "A".into(),
                key: key.into(),
                url: None,
                positive: positive.iter().map(|t| t.to_string()).collect(),
                negative: negative.iter().map(|t| t.to_string()).collect(),
                notes: vec![("sat".into(), "imported".into())],
            };
            let summary = store
                .import_labels(
                    &[
                        label("guid:1", &["sat"], &[]),
                        label("guid:2", &[], &["sat"]),
                        label("guid:9", &["sat"], &[]),
                    ],
                    now(),
                )
                .unwrap();
            assert_eq!(
                summary,
                ImportSummary {
                    verdicts: 2,
                    not_found: 1
                }
            );
            let verdicts = store.verdicts().unwrap();
            assert_eq!(
                verdicts
                    .iter()
                    .map(|v| (v.verdict, v.note.as_deref()))
                    .collect::<Vec<_>>(),
                [
                    (Verdict::Right, Some("imported")),
                    (Verdict::Wrong, Some("imported"))
                ]
            );
        },
    );
}

#[test]
fn a_backfill_logs_like_a_poll_with_the_storys_later_copies_as_sources() {
    each_backend(
        "a_backfill_logs_like_a_poll_with_the_storys_later_copies_as_sources",
        || {
            let (_dir, mut store) = open();
            let ids = three_feeds(&mut store);
            let policy = StoryPolicy::default();
            let headline = "North Korea says its spy satellite reached orbit";
            // Two copies of one story (the first matched another topic, so the second joined it),
            // and an unrelated item.
            commit(
                &mut store,
                ids[0],
                &[copy("a1", headline, "launched", &["other"])],
                now(),
                &[],
                &policy,
            );
            commit(
                &mut store,
                ids[1],
                &[copy("b1", headline, "put", &[])],
                now() + days(1),
                &[],
                &policy,
            );
            commit(
                &mut store,
                ids[2],
                &[item("guid:c", Some("https://c.example/x"), &[])],
                now() + days(1),
                &[],
                &policy,
            );
            let stored = store.stored_items(None).unwrap();
            assert_eq!(stored[0].story_id, stored[1].story_id, "one story");
            let backfill = |stored: &StoredItem| Backfill {
                item_id: stored.item_id,
                topic_match: TopicMatch {
                    topic: "sat".into(),
                    hits: Vec::new(),
                },
                story: Some(story::keys(&stored.item)),
            };
            let routes = [AlertRoute {
                sink: "hook".into(),
                topics: Some(vec!["sat".into()]),
                delay: Duration::ZERO,
            }];
            let members_before = count(&store, "SELECT COUNT(*) FROM story_members");
            let later = now() + days(30);
            let summary = store
                .backfill(
                    &[
                        backfill(&stored[0]),
                        backfill(&stored[1]),
                        backfill(&stored[2]),
                    ],
                    later,
                    &[],
                    &policy,
                )
                .unwrap();
            assert_eq!(
                summary,
                BackfillSummary {
                    new_matches: 2,
                    new_sources: 1,
                    new_deliveries: 0,
                    missing: 0
                }
            );
            let logged = store
                .matches(&MatchFilter {
                    topic: Some("sat".into()),
                    ..MatchFilter::default()
                })
                .unwrap();
            assert_eq!(logged.len(), 2);
            assert!(logged.iter().all(|m| m.backfill && m.matched_at == later));
            let feeds: Vec<&str> = logged[0].sources.iter().map(|s| s.feed.as_str()).collect();
            assert_eq!(feeds, ["A", "B"], "the story's later copy is a source");
            assert_eq!(
                logged[0].sources[0].seen,
                now(),
                "sources keep when they were seen"
            );
            assert_eq!(count(&store, "SELECT COUNT(*) FROM deliveries"), 0);
            // The unrelated item, not indexed when stored, is now; the indexed copy is not again.
            assert_eq!(
                count(&store, "SELECT COUNT(*) FROM story_members"),
                members_before + 1
            );
            // With routes, the outbox gets its rows.
            let mut fourth = backfill(&stored[2]);
            fourth.topic_match.topic = "sat2".into();
            let routes_all = [AlertRoute {
                topics: None,
                ..routes[0].clone()
            }];
            let summary = store
                .backfill(&[fourth], later, &routes_all, &policy)
                .unwrap();
            assert_eq!((summary.new_matches, summary.new_deliveries), (1, 1));
        },
    );
}

/// The rows a poll's commit writes, by id, for comparing two stores.
fn poll_rows(store: &Store) -> Vec<String> {
    let mut rows = Vec::new();
    for sql in [
        "SELECT id, feed_id, key, story_id FROM items ORDER BY id",
        "SELECT id, first_seen FROM stories ORDER BY id",
        "SELECT id, story_id, first_seen, url_key, title_key FROM story_members ORDER BY id",
        "SELECT id, item_id, topic, story_id, backfill FROM matches ORDER BY id",
        "SELECT match_id, item_id, feed FROM match_sources ORDER BY id",
        "SELECT match_id, sink FROM deliveries ORDER BY id",
        "SELECT id, etag FROM feeds ORDER BY id",
    ] {
        let table: Vec<String> = store.with_sql(|db| {
            db.query_map(sql, &[], |row| {
                let mut cells = Vec::new();
                // Every column as text, whatever its type (NULL as such).
                for at in 0.. {
                    let cell = match row.get::<Option<i64>>(at) {
                        Ok(value) => format!("{value:?}"),
                        Err(_) => match row.get::<Option<String>>(at) {
                            Ok(value) => format!("{value:?}"),
                            Err(_) => break,
                        },
                    };
                    cells.push(cell);
                }
                Ok(cells.join(" "))
            })
        });
        rows.push(format!("{sql}:\n{}", table.join("\n")));
    }
    rows
}

#[test]
fn polls_written_together_store_what_they_would_one_after_the_other() {
    each_backend(
        "polls_written_together_store_what_they_would_one_after_the_other",
        || {
            let routes = [AlertRoute {
                sink: "hook".into(),
                topics: None,
                delay: Duration::ZERO,
            }];
            let policy = StoryPolicy::default();
            let polls = |ids: &[FeedId]| {
                let mut unmatched_copy = copy("c1", "Seoul says the launch worked", "put", &[]);
                unmatched_copy.item.url = Some("https://c1.example/other".into());
                vec![
                    (
                        ids[0],
                        vec![copy(
                            "a1",
                            "North Korea launches a spy satellite",
                            "placed",
                            &["sat"],
                        )],
                    ),
                    (
                        ids[1],
                        // A copy of a1's story, and an item listed twice.
                        vec![
                            copy("b1", "Pyongyang puts satellite in orbit", "put", &["sat"]),
                            item("b2", Some("https://b.example/2"), &["sat"]),
                            item("b2", Some("https://b.example/2"), &["sat"]),
                        ],
                    ),
                    (ids[2], vec![unmatched_copy, item("c2", None, &[])]),
                ]
            };
            let state = FeedState {
                etag: Some("\"v2\"".into()),
                ..FeedState::default()
            };
            let commit = |feed_id: FeedId, items| PollCommit {
                feed_id,
                items,
                state: &state,
                now: now(),
                routes: &routes,
                notice: None,
                policy: &policy,
                baseline: false,
                body: true,
            };
            let (_one_dir, mut one_by_one) = open();
            let ids = three_feeds(&mut one_by_one);
            let one_batches = polls(&ids);
            for (feed_id, items) in &one_batches {
                one_by_one.commit_poll(&commit(*feed_id, items)).unwrap();
            }
            let (_together_dir, mut together) = open();
            let ids = three_feeds(&mut together);
            let batches = polls(&ids);
            let commits: Vec<PollCommit<'_>> = batches
                .iter()
                .map(|(feed_id, items)| commit(*feed_id, items))
                .collect();
            let summaries: Vec<CommitSummary> = together
                .commit_polls(&commits)
                .into_iter()
                .map(Result::unwrap)
                .collect();
            assert_eq!(
                summaries.iter().map(|s| s.new_items).collect::<Vec<_>>(),
                [1, 2, 2]
            );
            assert_eq!(summaries[1].joined_stories, 1, "b1 joins a1's story");
            assert_eq!(poll_rows(&together), poll_rows(&one_by_one));
        },
    );
}

#[test]
fn a_poll_that_cannot_be_written_does_not_keep_the_others_out() {
    each_backend(
        "a_poll_that_cannot_be_written_does_not_keep_the_others_out",
        || {
            let (_dir, mut store) = open();
            let ids = three_feeds(&mut store);
            let policy = StoryPolicy::default();
            let state = FeedState::default();
            let (good, bad) = (
                vec![item("a1", None, &["sat"])],
                vec![item("x1", None, &["sat"])],
            );
            let commit = |feed_id, items| PollCommit {
                feed_id,
                items,
                state: &state,
                now: now(),
                routes: &[],
                notice: None,
                policy: &policy,
                baseline: false,
                body: true,
            };
            // No feed has id 999: that poll fails, alone.
            let results = store.commit_polls(&[commit(ids[0], &good), commit(FeedId(999), &bad)]);
            assert!(results[0].is_ok(), "{results:?}");
            assert!(results[1].is_err(), "{results:?}");
            let stored = count(&store, "SELECT COUNT(*) FROM items");
            assert_eq!(stored, 1);
        },
    );
}

#[test]
fn polls_queued_at_once_are_each_written_once_and_told_their_result() {
    each_backend(
        "polls_queued_at_once_are_each_written_once_and_told_their_result",
        || {
            let (_dir, mut store) = open();
            let names: Vec<(String, String)> = (0..8)
                .map(|n| (format!("feed {n}"), format!("https://f{n}/feed")))
                .collect();
            let pairs: Vec<(&str, String)> =
                names.iter().map(|(n, u)| (n.as_str(), u.clone())).collect();
            let ids = store.register_feeds(&pairs).unwrap();
            let store: SharedStore = Arc::new(Mutex::new(store));
            let queue = CommitQueue::default();
            let results: Vec<Committed> = std::thread::scope(|scope| {
                let handles: Vec<_> = ids
                    .iter()
                    .enumerate()
                    .map(|(n, &feed_id)| {
                        let (store, queue) = (&store, &queue);
                        scope.spawn(move || {
                            queue.commit(
                                store,
                                OwnedCommit {
                                    feed_id,
                                    items: vec![item(&format!("item {n}"), None, &["sat"])],
                                    state: FeedState::default(),
                                    now: now(),
                                    routes: Arc::new(Vec::new()),
                                    notice: None,
                                    policy: StoryPolicy::default(),
                                    baseline: false,
                                    body: true,
                                },
                            )
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            for (committed, &feed_id) in results.iter().zip(&ids) {
                assert_eq!(
                    committed.commit.feed_id, feed_id,
                    "each poll gets its own back"
                );
                assert_eq!(committed.result.as_ref().unwrap().new_items, 1);
            }
            let stored = count(&lock(&store), "SELECT COUNT(*) FROM items");
            assert_eq!(stored, 8);
        },
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_and_blocking_commits_queued_together_are_each_written_once() {
    let (_dir, mut store) = open();
    let names: Vec<(String, String)> = (0..40)
        .map(|n| (format!("feed {n}"), format!("https://f{n}/feed")))
        .collect();
    let pairs: Vec<(&str, String)> = names.iter().map(|(n, u)| (n.as_str(), u.clone())).collect();
    let ids = store.register_feeds(&pairs).unwrap();
    let store: SharedStore = Arc::new(Mutex::new(store));
    let queue = Arc::new(CommitQueue::default());
    let commit = |feed_id: FeedId, items: Vec<MatchedItem>, etag: String| OwnedCommit {
        feed_id,
        items,
        state: FeedState {
            etag: Some(etag),
            ..FeedState::default()
        },
        now: now(),
        routes: Arc::new(Vec::new()),
        notice: None,
        policy: StoryPolicy::default(),
        baseline: false,
        body: true,
    };
    // Every fourth feed stores an item from a blocking thread, as a poll with a body does;
    // the others only their state, from async code, as a 304 does.
    let mut tasks = tokio::task::JoinSet::new();
    for (n, &feed_id) in ids.iter().enumerate() {
        let (store, queue) = (store.clone(), queue.clone());
        let etag = format!("etag {n}");
        if n % 4 == 0 {
            let items = vec![item(&format!("item {n}"), None, &["sat"])];
            tasks.spawn_blocking(move || queue.commit(&store, commit(feed_id, items, etag)));
        } else {
            tasks.spawn(async move {
                queue
                    .commit_async(&store, commit(feed_id, Vec::new(), etag))
                    .await
            });
        }
    }
    let mut told = Vec::new();
    while let Some(committed) = tasks.join_next().await {
        let committed = committed.unwrap();
        let summary = committed.result.as_ref().unwrap();
        let n = ids
            .iter()
            .position(|&id| id == committed.commit.feed_id)
            .unwrap();
        assert_eq!(summary.new_items, usize::from(n % 4 == 0), "feed {n}");
        told.push(n);
    }
    told.sort_unstable();
    assert_eq!(told, (0..40).collect::<Vec<_>>(), "each poll is told once");
    let store = lock(&store);
    for (n, &feed_id) in ids.iter().enumerate() {
        let etag = store.feed_state(feed_id).unwrap().etag;
        assert_eq!(etag.as_deref(), Some(format!("etag {n}").as_str()));
    }
    let stored = count(&store, "SELECT COUNT(*) FROM items");
    assert_eq!(stored, 10);
}

#[test]
fn the_background_checkpoint_copies_the_log_and_the_last_close_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("watchword.db");
    let mut store = Store::open(&path).unwrap();
    store.checkpoint_in_background().unwrap();
    // The writer's own automatic checkpoint is off: its hook replaced it.
    let automatic: i64 = store
        .conn()
        .query_row("PRAGMA wal_autocheckpoint", [], |row| row.get(0))
        .unwrap();
    assert_eq!(automatic, 0);
    store
        .conn()
        .execute_batch("CREATE TABLE filler (blob BLOB)")
        .unwrap();
    let file_len = || std::fs::metadata(&path).unwrap().len();
    let before = file_len();
    // 2,000 commits of a 4 KiB row each: over 1,000 pages of log. Only the checkpoint thread
    // can copy them into the database file meanwhile.
    for _ in 0..2000 {
        store
            .conn()
            .execute("INSERT INTO filler VALUES (zeroblob(4096))", [])
            .unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while file_len() < before + 4 * 1024 * 1024 {
        assert!(
            std::time::Instant::now() < deadline,
            "the database file stayed at {} bytes",
            file_len()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(store);
    let log = dir.path().join("watchword.db-wal");
    assert!(
        !log.exists() || std::fs::metadata(&log).unwrap().len() == 0,
        "the log is left after the last close"
    );
    let reopened = Store::open(&path).unwrap();
    let rows: i64 = reopened
        .conn()
        .query_row("SELECT count(*) FROM filler", [], |row| row.get(0))
        .unwrap();
    assert_eq!(rows, 2000);
}

/// An item with only a MinHash signature (no URL or title key), matching `sat`.
fn signed(key: &str, signature: [u32; story::SIGNATURE_LEN]) -> MatchedItem {
    let mut matched = item(key, None, &["sat"]);
    matched.story = Some(story::StoryKeys {
        url: None,
        title: None,
        fingerprint: Some(story::Fingerprint(signature)),
    });
    matched
}

#[test]
fn an_item_joins_the_most_similar_story_even_when_a_less_similar_one_is_newer() {
    each_backend(
        "an_item_joins_the_most_similar_story_even_when_a_less_similar_one_is_newer",
        || {
            let (_dir, mut store) = open();
            let ids = three_feeds(&mut store);
            let policy = StoryPolicy::default();
            // The new item's signature, and two stored ones: `close` equals it in 45 of 48 values
            // (it differs in the first three), `loose` in the first 24 only. The two stored ones
            // agree with each other in 21 values, below the threshold: two stories. `loose` is the
            // newer, so it comes first in the bands both share with the new item.
            let new: [u32; story::SIGNATURE_LEN] = std::array::from_fn(|slot| slot as u32);
            let close = std::array::from_fn(|slot| {
                if slot < 3 {
                    1000 + slot as u32
                } else {
                    slot as u32
                }
            });
            let loose = std::array::from_fn(|slot| {
                if slot < 24 {
                    slot as u32
                } else {
                    2000 + slot as u32
                }
            });
            commit(
                &mut store,
                ids[0],
                &[signed("close", close)],
                now(),
                &[],
                &policy,
            );
            let later = now() + chrono::Duration::minutes(10);
            commit(
                &mut store,
                ids[1],
                &[signed("loose", loose)],
                later,
                &[],
                &policy,
            );
            let latest = now() + chrono::Duration::minutes(20);
            commit(
                &mut store,
                ids[2],
                &[signed("new", new)],
                latest,
                &[],
                &policy,
            );
            let story_of = |key: &str| -> i64 {
                store.with_sql(|sql| {
                    sql.value(
                        "SELECT story_id FROM items WHERE key = ?1",
                        &crate::db_params![key],
                    )
                })
            };
            assert_ne!(story_of("close"), story_of("loose"), "two stories");
            assert_eq!(story_of("new"), story_of("close"));
        },
    );
}

/// Two nodes' stores on one PostgreSQL schema, or `None` (with a notice) without a server.
fn two_nodes(test: &str) -> Option<(super::testing::TestPostgres, Store, Store)> {
    let postgres = super::testing::TestPostgres::start(test)?;
    let mut first = Store::connect(&postgres.schema_url).unwrap();
    let mut second = Store::connect(&postgres.schema_url).unwrap();
    first.set_node("first:1", Duration::from_secs(10), true);
    second.set_node("second:2", Duration::from_secs(10), true);
    Some((postgres, first, second))
}

#[test]
fn a_feed_is_leased_to_one_node_until_its_poll_commits_or_the_lease_expires() {
    let Some((_postgres, mut first, second)) =
        two_nodes("a_feed_is_leased_to_one_node_until_its_poll_commits_or_the_lease_expires")
    else {
        return;
    };
    let ids = first
        .register_feeds(&[("A", "https://a/feed".into())])
        .unwrap();
    let feed = ids[0];
    assert_eq!(first.claim_feed(feed, now()).unwrap(), Claim::Claimed);
    // Held: the other node looks again when the lease ends.
    assert_eq!(
        second.claim_feed(feed, now()).unwrap(),
        Claim::Busy {
            until: now() + chrono::Duration::seconds(10)
        }
    );
    // The holder may take it again (a poll that reports early).
    assert_eq!(first.claim_feed(feed, now()).unwrap(), Claim::Claimed);
    // The poll commits: the lease goes, the next due time says when the feed is due.
    let state = FeedState {
        next_due: Some(now() + chrono::Duration::seconds(60)),
        ..FeedState::default()
    };
    first.save_state(feed, &state, None, &[]).unwrap();
    assert_eq!(
        second.claim_feed(feed, now()).unwrap(),
        Claim::Busy {
            until: now() + chrono::Duration::seconds(60)
        },
        "polled meanwhile: not due yet"
    );
    let due = now() + chrono::Duration::seconds(60);
    assert_eq!(second.claim_feed(feed, due).unwrap(), Claim::Claimed);
    let health = second.feed_health(&["A"]).unwrap();
    assert_eq!(health[0].polled_by.as_deref(), Some("first:1"));
    // A node that dies holding a lease: the lease expires and the other takes the feed.
    let later = due + chrono::Duration::seconds(10);
    assert_eq!(
        first.claim_feed(feed, due).unwrap(),
        Claim::Busy { until: later }
    );
    assert_eq!(first.claim_feed(feed, later).unwrap(), Claim::Claimed);
}

#[test]
fn an_outbox_row_is_claimed_by_one_node_until_it_is_sent_or_the_claim_expires() {
    let Some((_postgres, mut first, second)) =
        two_nodes("an_outbox_row_is_claimed_by_one_node_until_it_is_sent_or_the_claim_expires")
    else {
        return;
    };
    let ids = first
        .register_feeds(&[("A", "https://a/feed".into())])
        .unwrap();
    let routes = [AlertRoute {
        sink: "hook".into(),
        topics: None,
        delay: Duration::ZERO,
    }];
    let policy = StoryPolicy::default();
    commit(
        &mut first,
        ids[0],
        &[
            item("a", Some("https://a/1"), &["sat"]),
            item("b", Some("https://a/2"), &["sat"]),
        ],
        now(),
        &routes,
        &policy,
    );
    let retry = Duration::from_secs(3600);
    let taken = first.due_deliveries(&["hook"], now(), retry, 10).unwrap();
    assert_eq!(taken.len(), 2);
    assert!(
        second
            .due_deliveries(&["hook"], now(), retry, 10)
            .unwrap()
            .is_empty(),
        "claimed by the first node"
    );
    // The first sends one and dies before the other: that one comes back after the claim.
    first.mark_delivered(&[taken[0].id], now()).unwrap();
    let later = now() + chrono::Duration::seconds(11);
    let back = second.due_deliveries(&["hook"], later, retry, 10).unwrap();
    assert_eq!(
        back.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![taken[1].id]
    );
}

#[test]
fn a_statement_keeps_its_plan_whatever_values_are_bound() {
    // SQLite would plan the match log's story lookup again when a bound value changes to or
    // from 0 or 1, parsing the statement anew on its next step, once for every item of a
    // story; the store's statements keep one plan.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("watchword.db")).unwrap();
    let mut statement = store
        .conn()
        .prepare("SELECT id FROM matches WHERE story_id = ?1 AND topic = ?2 ORDER BY id LIMIT 1")
        .unwrap();
    for story_id in [5, 1, 7, 0, 9] {
        let mut rows = statement.query(rusqlite::params![story_id, "t"]).unwrap();
        assert!(rows.next().unwrap().is_none());
    }
    assert_eq!(
        statement.get_status(rusqlite::StatementStatus::RePrepare),
        0
    );
}
