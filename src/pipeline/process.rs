//! What a poll does with a fetched body: parse → dedup → (articles) → match → store, each
//! CPU stage on a blocking thread under a processing permit, the store through the commit
//! queue.

use super::*;

/// Parse → dedup → (articles) → match → store. The CPU work runs on blocking threads under a
/// processing permit, released while articles are fetched. On success the feed's new state
/// is committed with its items; on failure the message says what went wrong and nothing is
/// written.
pub(super) async fn process_body(
    context: &PollContext,
    feed: &FeedConfig,
    feed_id: FeedId,
    fetched: Fetched,
    state: FeedState,
    now: DateTime<Utc>,
) -> Result<PollReport, String> {
    let processing = || async {
        context
            .processing
            .acquire()
            .await
            .expect("the processing semaphore is never closed")
    };
    let mut permit = processing().await;
    let task_context = context.clone();
    let mut fresh = run_caught(move || new_items(&task_context, feed_id, fetched, now)).await?;
    if fresh
        .items
        .iter()
        .any(|item| wants_article(context, feed, item))
    {
        drop(permit);
        attach_articles(context, feed, &mut fresh.items).await;
        permit = processing().await;
    }
    let (task_context, task_feed) = (context.clone(), feed.clone());
    let matched =
        run_caught(move || match_new(&task_context, &task_feed, fresh, state, now)).await?;
    // Waiting for the store (it writes the polls queued for it one transaction at a time),
    // this poll holds no permit, so the cores parse and match other feeds' bodies meanwhile.
    drop(permit);
    let (task_context, task_feed) = (context.clone(), feed.clone());
    run_caught(move || store_new(&task_context, &task_feed, feed_id, matched, now)).await
}

/// Runs `work` on a blocking thread. Parsing and matching run on text written by strangers:
/// a panic in them (a bug) fails this poll, it does not take the daemon down.
pub(super) async fn run_caught<T, F>(work: F) -> Result<T, String>
where
    F: FnOnce() -> Result<T, String> + Send + 'static,
    T: Send + 'static,
{
    blocking(move || {
        catch_unwind(AssertUnwindSafe(work))
            .unwrap_or_else(|panic| Err(format!("internal error: {}", panic_message(&*panic))))
    })
    .await
}

/// A fetched body's items that the store has not seen, and what to save with them.
struct NewItems {
    /// How many items the feed had (those past `max_items_per_poll` too).
    n_items: usize,
    items: Vec<Item>,
    validators: Validators,
    /// What the parse says a reader of `feeds` should know (a repaired, cut-off document; no
    /// items read from a body that seems to have some).
    notices: Vec<String>,
}

/// Parse and dedup: the items of a fetched body that are new for this feed.
fn new_items(
    context: &PollContext,
    feed_id: FeedId,
    fetched: Fetched,
    now: DateTime<Utc>,
) -> Result<NewItems, String> {
    let started = Instant::now();
    let parsed = match parse_feed_capped(
        &fetched.body,
        fetched.charset.as_deref(),
        Some(&fetched.final_url),
        caps(&context.config),
    ) {
        Ok(parsed) => parsed,
        Err(error) => {
            let message = match &fetched.content_type {
                Some(content_type) => format!("{error} (content-type {content_type})"),
                None => error.to_string(),
            };
            return Err(message);
        }
    };
    context.metrics.stage(Stage::Parse, started.elapsed());
    for notice in &parsed.notices {
        warn!("{notice}");
    }
    let kept = parsed.items.len();
    // What the feed lists, kept or not.
    let n_items = kept + parsed.dropped_items;
    if parsed.dropped_items > 0 {
        warn!(
            kept,
            dropped = parsed.dropped_items,
            max_items_per_poll = context.config.daemon.max_items_per_poll,
            "feed lists more items than max_items_per_poll: kept the first {kept} in feed order, dropped {}",
            parsed.dropped_items
        );
    }
    if parsed.truncated_fields > 0 {
        warn!(
            fields = parsed.truncated_fields,
            max_field_chars = context.config.daemon.max_field_chars,
            "cut {} long fields to max_field_chars",
            parsed.truncated_fields
        );
    }
    let started = Instant::now();
    // On the reading connection: the writer may be busy with other polls meanwhile.
    let known = lock(&context.reader)
        .known_keys(feed_id, &parsed.items)
        .map_err(|error| error.to_string())?;
    if known.any_still_listed() {
        lock(&context.store)
            .mark_still_listed(feed_id, &known, now)
            .map_err(|error| error.to_string())?;
    }
    context.metrics.stage(Stage::Dedup, started.elapsed());
    let items = parsed
        .items
        .into_iter()
        .filter(|item| !known.keys.contains(&item.key))
        .collect();
    Ok(NewItems {
        n_items,
        items,
        validators: fetched.validators,
        notices: parsed.notices,
    })
}

/// A poll's new items with their matches and story keys, and the feed's new state: what
/// [`store_new`] writes.
struct Matched {
    n_items: usize,
    items: Vec<MatchedItem>,
    state: FeedState,
    next_due: DateTime<Utc>,
    notice: Option<Notice>,
    baseline: bool,
}

/// Match: the new items' topics and story keys (pure CPU work, done here so it runs in
/// parallel, not under the store's lock), and the feed's new state.
fn match_new(
    context: &PollContext,
    feed: &FeedConfig,
    fresh: NewItems,
    mut state: FeedState,
    now: DateTime<Utc>,
) -> Result<Matched, String> {
    let n_items = fresh.n_items;
    let started = Instant::now();
    let mut new_items: Vec<MatchedItem> = fresh
        .items
        .into_iter()
        .map(|item| MatchedItem {
            matches: match_topics(&context.config, &item, &feed.name, now),
            item,
            story: None,
        })
        .collect();
    context.metrics.stage(Stage::Match, started.elapsed());
    let started = Instant::now();
    for new_item in &mut new_items {
        new_item.story = Some(story::keys(&new_item.item));
    }
    context.metrics.stage(Stage::StoryKeys, started.elapsed());
    state.etag = fresh.validators.etag;
    state.last_modified = fresh.validators.last_modified;
    let status = Status::parsed(n_items, !fresh.notices.is_empty());
    if n_items == 0
        && state.last_status.as_deref() != Some(status.to_string().as_str())
        && (state.last_status.as_deref() == Some("ok") || !fresh.notices.is_empty())
    {
        // Once, when a feed that had items (or seems to have some) starts to read as empty:
        // the poll itself succeeded, so nothing else would say so.
        warn!("the feed reads as 0 items");
    }
    // The first successful poll of a feed is a silent baseline unless the config says
    // otherwise: its matches are logged as backfill and not alerted.
    let baseline = feed.first_poll == FirstPoll::Baseline && state.last_success.is_none();
    let (next_due, notice) = succeed(&mut state, context, feed, now, status, new_items.len());
    // Shown in `feeds` beside the status until the next poll.
    state.last_error = fresh.notices.first().cloned();
    Ok(Matched {
        n_items,
        items: new_items,
        state,
        next_due,
        notice,
        baseline,
    })
}

/// Store: the new items, their matches and the feed's new state, in one transaction (shared
/// with the other polls waiting for the store then: [`CommitQueue`]).
fn store_new(
    context: &PollContext,
    feed: &FeedConfig,
    feed_id: FeedId,
    matched: Matched,
    now: DateTime<Utc>,
) -> Result<PollReport, String> {
    let Matched {
        n_items,
        items: new_items,
        state,
        next_due,
        notice,
        baseline,
    } = matched;
    let Committed {
        commit,
        result: committed,
        ..
    } = write(
        context,
        OwnedCommit {
            feed_id,
            items: new_items,
            state,
            now,
            routes: context.routes.clone(),
            notice,
            policy: context.config.daemon.stories,
            baseline,
            body: true,
        },
    );
    let new_items = commit.items;
    let summary = committed.map_err(|error| error.to_string())?;
    context.metrics.stored(
        summary.new_items,
        summary
            .logged
            .iter()
            .map(|&(item, m)| new_items[item].matches[m].topic.as_str()),
    );
    if summary.new_deliveries > 0 {
        context.outbox_written.notify();
    }
    for &(item_idx, match_idx) in &summary.logged {
        let item = &new_items[item_idx].item;
        let topic_match = &new_items[item_idx].matches[match_idx];
        let mut terms: Vec<&str> = Vec::new();
        for hit in &topic_match.hits {
            if !terms.contains(&hit.term.as_str()) {
                terms.push(&hit.term);
            }
        }
        info!(
            topic = %topic_match.topic,
            title = %for_log(&item.title, LOG_CHARS),
            url = %item.url.as_deref().map_or_else(|| "-".into(), sanitize),
            terms = ?terms,
            "match"
        );
    }
    if baseline && summary.new_matches > 0 {
        info!(
            items = n_items,
            new_items = summary.new_items,
            new_matches = summary.new_matches,
            "first poll of the feed: its matches are logged as a baseline (backfill), not alerted"
        );
    } else if summary.new_items > 0 {
        info!(
            items = n_items,
            new_items = summary.new_items,
            new_matches = summary.new_matches,
            // Items recorded as further sources of matches logged before (copies of a story).
            new_sources = summary.new_sources,
            "polled"
        );
    } else {
        debug!(items = n_items, "polled, nothing new");
    }
    Ok(PollReport {
        feed: feed.name.clone(),
        status: PollStatus::Fetched {
            n_items,
            new_items: summary.new_items,
            new_matches: summary.new_matches,
            baseline,
        },
        next_due: Some(next_due),
    })
}
