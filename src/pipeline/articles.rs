//! Article fetching for headline-only feeds, between dedup and match: which new items want
//! their linked page, fetching it once per canonical URL (cached with its outcome), and its
//! main text.

use super::*;

/// The most characters of an article's text kept and matched.
pub const ARTICLE_MAX_CHARS: usize = 100_000;

/// Whether `item` should get its linked page's text, by the feed's `fetch_article`.
pub(super) fn wants_article(context: &PollContext, feed: &FeedConfig, item: &Item) -> bool {
    item.url.is_some()
        && match feed.fetch_article {
            ArticlePolicy::Never => false,
            ArticlePolicy::Always => true,
            ArticlePolicy::Short => {
                let min = context.config.daemon.article_min_chars;
                item.summary.chars().count() + item.content.chars().count() < min
            }
        }
}

/// Gives the new items that want one their article's text: from the cache when their
/// canonical URL was fetched before (by any feed), else fetched (a URL from feed content, so
/// through the private-address guard), extracted and cached. One request at a time per host.
/// A page without text for good (a 404, not HTML) is cached as such; a temporary failure
/// (timeout, 5xx, refused) is only logged, so a later item with the same link tries again.
/// Either way the item is matched on the feed's text alone. Waiting for hosts and fetching
/// stop after twice the request timeout; the items left are matched without their article.
pub(super) async fn attach_articles(context: &PollContext, feed: &FeedConfig, items: &mut [Item]) {
    let budget = context.config.daemon.timeout * 2;
    let deadline = Instant::now() + budget;
    let mut skipped = 0;
    for item in items.iter_mut() {
        if !wants_article(context, feed, item) {
            continue;
        }
        let Some(url) = item.url.clone() else {
            continue;
        };
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, article(context, &url)).await {
            Ok(Ok(text)) => item.article = text,
            Ok(Err(message)) => {
                info!(
                    url = %for_log(&url, LOG_CHARS),
                    error = %for_log(&message, LOG_CHARS),
                    "no article text"
                );
            }
            Err(_) => skipped += 1,
        }
    }
    if skipped > 0 {
        warn!(
            items = skipped,
            budget_secs = budget.as_secs(),
            "article fetching ran out of time for this poll; these items are matched without their article"
        );
    }
}

/// The article text of a canonical URL: cached, or fetched now (and cached when the outcome
/// is final).
pub(super) async fn article(context: &PollContext, url: &str) -> Result<String, String> {
    let cached = |context: &PollContext, url: &str| {
        let (store, url) = (context.store.clone(), url.to_string());
        blocking(move || lock(&store).article(&url))
    };
    if let Some(cached) = cached(context, url)
        .await
        .map_err(|error| error.to_string())?
    {
        return cached;
    }
    let parsed = Url::parse(url).map_err(|error| format!("{url}: {error}"))?;
    let _turn = context
        .article_hosts
        .lock(parsed.host_str().unwrap_or_default())
        .await;
    // Another poll may have fetched it while this one waited for the host.
    if let Some(cached) = cached(context, url)
        .await
        .map_err(|error| error.to_string())?
    {
        return cached;
    }
    let outcome = context
        .fetcher
        .fetch_untrusted(&parsed, &Validators::default(), Utc::now())
        .await;
    let page = match outcome {
        FetchOutcome::Fetched(page) => page,
        // Final: the page is not there, and will not be on the next poll either.
        outcome if is_final(&outcome) => {
            return save_article(context, url, Err(outcome_error(outcome))).await;
        }
        outcome => return Err(outcome_error(outcome)),
    };
    if let Some(content_type) = &page.content_type {
        let lower = content_type.to_ascii_lowercase();
        if !(lower.contains("html") || lower.starts_with("text/")) {
            let why = format!("not a web page (content-type {content_type})");
            return save_article(context, url, Err(why)).await;
        }
    }
    // Extracting the text of a page is CPU work on up to `max_body` of HTML: it takes a
    // processing permit like a feed body. (No deadlock: a poll that waits for a host's turn
    // holds no processing permit.)
    let _permit = context
        .processing
        .acquire()
        .await
        .expect("the processing semaphore is never closed");
    let text = run_caught(move || {
        let mut text = page_text(&page.body, page.charset.as_deref());
        crate::text::cut_chars(&mut text, ARTICLE_MAX_CHARS);
        Ok(text)
    })
    .await?;
    let result = if text.is_empty() {
        Err("the page has no text".to_string())
    } else {
        info!(url = %sanitize(url), chars = text.chars().count(), "article fetched");
        Ok(text)
    };
    save_article(context, url, result).await
}

/// Whether a failed article fetch is final: a 410, or a 4xx other than 408 and 429.
pub(super) fn is_final(outcome: &FetchOutcome) -> bool {
    match outcome {
        FetchOutcome::Gone => true,
        FetchOutcome::Failed(FetchError::Status { status }) => {
            (400..500).contains(status) && !matches!(status, 408 | 429)
        }
        _ => false,
    }
}

/// Caches an article's final outcome, and returns it.
pub(super) async fn save_article(
    context: &PollContext,
    url: &str,
    result: Result<String, String>,
) -> Result<String, String> {
    let (store, key, saved) = (context.store.clone(), url.to_string(), result.clone());
    let now = Utc::now();
    blocking(move || {
        lock(&store).save_article(&key, saved.as_deref().map_err(String::as_str), now)
    })
    .await
    .map_err(|error| error.to_string())?;
    result
}
