use chrono::TimeZone;

use super::*;

const MINUTE: Duration = Duration::from_secs(60);

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2023, 11, 21, 0, 0, 0).unwrap() + chrono::Duration::minutes(minutes)
}

fn feed() -> FeedInfo<'static> {
    FeedInfo {
        name: "Wire",
        configured_url: "https://news.example/feed.xml",
        interval: 15 * MINUTE,
        dead_after: 60 * MINUTE,
        stale_after: None,
    }
}

fn minutes_until(next: Option<DateTime<Utc>>, now: DateTime<Utc>) -> i64 {
    (next.expect("due again") - now).num_minutes()
}

#[test]
fn a_success_is_due_again_after_the_interval_and_shows_its_status() {
    let mut state = FeedState::default();
    let done = succeed(&mut state, &feed(), Status::Ok, 1, at(0), 0.0);
    assert_eq!(minutes_until(done.next_due, at(0)), 15);
    assert_eq!(done.notice, None);
    assert_eq!(state.last_status.as_deref(), Some("ok"));
    assert_eq!(state.last_success, Some(at(0)));
    for (status, text) in [
        (Status::parsed(0, false), "ok, 0 items"),
        (Status::parsed(3, true), "ok, repaired"),
        (Status::parsed(3, false), "ok"),
        (Status::NotModified, "not modified"),
    ] {
        succeed(&mut state, &feed(), status, 1, at(1), 0.0);
        assert_eq!(state.last_status.as_deref(), Some(text));
    }
}

#[test]
fn failures_back_off_and_honour_retry_after() {
    let mut state = FeedState::default();
    let waits: Vec<i64> = (0..4)
        .map(|n| {
            let now = at(n * 10);
            let done = fail(
                &mut state,
                &feed(),
                Status::Http(503),
                "http 503",
                None,
                now,
                0.0,
            );
            minutes_until(done.next_due, now)
        })
        .collect();
    assert_eq!(waits, [15, 30, 60, 120]);
    assert_eq!(state.consecutive_errors, 4);
    assert_eq!(state.last_status.as_deref(), Some("http 503"));
    assert_eq!(state.last_error.as_deref(), Some("http 503"));
    // The server's Retry-After wins when it is longer than the backoff.
    let mut state = FeedState::default();
    let done = fail(
        &mut state,
        &feed(),
        Status::Throttled,
        "throttled: http 429, retry after 7200s",
        Some(120 * MINUTE),
        at(0),
        0.0,
    );
    assert_eq!(minutes_until(done.next_due, at(0)), 120);
    assert_eq!(state.last_status.as_deref(), Some("throttled"));
    // A success ends the run of failures.
    succeed(&mut state, &feed(), Status::Ok, 1, at(200), 0.0);
    assert_eq!(state.consecutive_errors, 0);
    assert_eq!(state.failing_since, None);
    assert_eq!(state.last_error, None);
}

#[test]
fn a_feed_failing_for_dead_after_is_dead_once_and_recovers_once() {
    let mut state = FeedState::default();
    let mut notices = Vec::new();
    for minute in [0, 20, 40, 60, 80] {
        let done = fail(
            &mut state,
            &feed(),
            Status::Error,
            "timed out",
            None,
            at(minute),
            0.0,
        );
        notices.extend(done.notice);
    }
    assert_eq!(notices.len(), 1, "{notices:?}");
    let dead = &notices[0];
    assert_eq!(dead.event, NoticeKind::FeedDead);
    assert_eq!(dead.failing_since, at(0));
    assert_eq!(dead.at, at(60));
    assert_eq!(dead.error.as_deref(), Some("timed out"));
    assert_eq!(dead.url, "https://news.example/feed.xml");

    let recovered = succeed(&mut state, &feed(), Status::Ok, 1, at(90), 0.0)
        .notice
        .expect("a recovery after a dead notice");
    assert_eq!(recovered.event, NoticeKind::FeedRecovered);
    assert_eq!(recovered.failing_since, at(0));
    assert_eq!(recovered.at, at(90));
    // Recovered once: the next success says nothing.
    assert_eq!(
        succeed(&mut state, &feed(), Status::Ok, 1, at(100), 0.0).notice,
        None
    );
    // Failures shorter than dead_after raise nothing either way.
    fail(
        &mut state,
        &feed(),
        Status::Error,
        "blip",
        None,
        at(110),
        0.0,
    );
    assert_eq!(
        succeed(&mut state, &feed(), Status::Ok, 1, at(120), 0.0).notice,
        None
    );
}

#[test]
fn moves_and_discoveries_change_where_the_feed_is_polled() {
    let mut state = FeedState::default();
    let moved = "https://news.example/new.xml".to_string();
    assert!(note_move(&mut state, Some(&moved)));
    assert!(
        !note_move(&mut state, Some(&moved)),
        "the same move is no news"
    );
    assert!(!note_move(&mut state, None));
    assert_eq!(state.moved_to.as_ref(), Some(&moved));
    // Notices name where the feed is polled now.
    let mut failing = state.clone();
    let notice = (0..=60)
        .step_by(30)
        .find_map(|m| fail(&mut failing, &feed(), Status::Error, "x", None, at(m), 0.0).notice)
        .expect("dead after an hour");
    assert_eq!(notice.url, moved);

    let mut page = FeedState::default();
    let found = "https://news.example/rss".to_string();
    assert!(note_discovery(&mut page, found.clone()));
    assert!(!note_discovery(&mut page, found.clone()));
    page.etag = Some("\"v1\"".into());
    // The discovered feed answers 404 or 410: back to the page, validators dropped.
    let message = lose_discovery(&mut page, 410, "https://news.example/").expect("discovered");
    assert!(message.contains("answered http 410"), "{message}");
    assert!(
        message.contains("reads the page at https://news.example/ again"),
        "{message}"
    );
    assert_eq!(page.moved_to, None);
    assert!(!page.discovered);
    assert_eq!(page.etag, None);
    // A feed that was not discovered is not reset.
    assert_eq!(
        lose_discovery(&mut state, 404, "https://news.example/"),
        None
    );
    assert_eq!(state.moved_to.as_ref(), Some(&moved));
}

#[test]
fn a_gone_feed_is_never_due_again() {
    let mut state = FeedState::default();
    let done = gone(&mut state, at(5));
    assert_eq!(done.next_due, None);
    assert!(state.gone);
    assert_eq!(state.next_due, None);
    assert_eq!(state.last_status.as_deref(), Some("gone"));
    assert_eq!(state.last_polled, Some(at(5)));
}

#[test]
fn a_feed_that_answers_but_brings_nothing_new_turns_stale_once_and_back() {
    let day = 24 * 60;
    let watched = FeedInfo {
        stale_after: Some(3 * 24 * 60 * MINUTE),
        ..feed()
    };
    let mut state = FeedState::default();
    // The first poll starts the clock even without new items.
    assert_eq!(
        succeed(&mut state, &watched, Status::NotModified, 0, at(0), 0.0).notice,
        None
    );
    assert_eq!(state.last_new_item, Some(at(0)));
    let quiet = succeed(&mut state, &watched, Status::Ok, 0, at(2 * day), 0.0);
    assert_eq!(
        (quiet.notice, state.last_status.as_deref()),
        (None, Some("ok"))
    );
    // Three days without anything new: stale, with one notice.
    let stale = succeed(&mut state, &watched, Status::Ok, 0, at(3 * day), 0.0);
    let notice = stale.notice.expect("a feed_stale notice");
    assert_eq!(notice.event, NoticeKind::FeedStale);
    assert_eq!(notice.failing_since, at(0), "stale since the last new item");
    assert_eq!(state.last_status.as_deref(), Some(STALE));
    let again = succeed(
        &mut state,
        &watched,
        Status::NotModified,
        0,
        at(4 * day),
        0.0,
    );
    assert_eq!(again.notice, None, "one notice");
    assert_eq!(state.last_status.as_deref(), Some(STALE));
    // Something new: fresh again, and a later quiet spell gives a new notice.
    succeed(&mut state, &watched, Status::Ok, 2, at(5 * day), 0.0);
    assert_eq!(state.last_status.as_deref(), Some("ok"));
    assert!(!state.stale_notified);
    let later = succeed(&mut state, &watched, Status::Ok, 0, at(8 * day), 0.0);
    assert_eq!(later.notice.map(|n| n.event), Some(NoticeKind::FeedStale));
    // Without stale_after, never stale.
    let mut state = FeedState::default();
    succeed(&mut state, &feed(), Status::Ok, 0, at(0), 0.0);
    assert_eq!(
        succeed(&mut state, &feed(), Status::Ok, 0, at(99 * day), 0.0).notice,
        None
    );
    assert_eq!(state.last_status.as_deref(), Some("ok"));
}
