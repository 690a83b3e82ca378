//! Where a feed is read from: a permanent move, an HTML page followed to the feed it links
//! (autodiscovery), and the one-off fetch and parse of `check --online` and `test --feed`.

use super::*;

/// Fetches and parses a feed once, storing nothing (`check --online`). Returns the number of
/// items, or what went wrong.
pub async fn probe_feed(fetcher: &Fetcher, feed: &FeedConfig, caps: Caps) -> Result<usize, String> {
    fetch_feed(fetcher, &feed.source, caps)
        .await
        .map(|parsed| parsed.items.len())
}

/// Records in `state` that the configured page links the feed at `url` (autodiscovery), to be
/// polled from now on, and says so when that is news.
pub(super) fn note_discovery(state: &mut FeedState, url: String) {
    let logged = for_log(&url, LOG_CHARS);
    if feed_state::note_discovery(state, url) {
        info!(feed_url = %logged, "discovered the feed the page links; polling it from now on");
    }
}

/// Autodiscovery: `page`, fetched for `source`, is an HTML page; fetches the first feed it
/// links (`<link rel="alternate" type="application/rss+xml" href>`, or Atom or JSON Feed).
/// A link on the configured URL's host counts as configured; one on another host came from
/// the page's content and goes through the private-address guard. Returns the feed's body
/// and where it is polled from now on (after its own permanent redirects), or why not.
pub(super) async fn follow_feed_link(
    fetcher: &Fetcher,
    source: &FeedSource,
    page: Fetched,
    now: DateTime<Utc>,
) -> Result<(Fetched, String), String> {
    let page_url = Url::parse(&page.final_url)
        .map_err(|error| format!("an HTML page at {}: {error}", page.final_url))?;
    let base = page_url.clone();
    // Reading the page is CPU work on a stranger's HTML: off the runtime, panics contained.
    let links = run_caught(move || Ok(feed_links(&page.body, &base))).await?;
    let Some(link) = links.into_iter().next() else {
        return Err(format!(
            "not a feed: {page_url} is an HTML page that links no feed (no <link rel=\"alternate\" type=\"application/rss+xml\">, atom+xml or feed+json)"
        ));
    };
    debug!(page = %page_url, link = %link, "the page links a feed");
    let outcome = match source {
        FeedSource::Http(configured) => {
            fetcher
                .fetch_for(&link, configured, &Validators::default(), now)
                .await
        }
        FeedSource::File(_) => {
            fetcher
                .fetch_untrusted(&link, &Validators::default(), now)
                .await
        }
    };
    match outcome {
        FetchOutcome::Fetched(body) if looks_like_html(&body.body) => Err(format!(
            "not a feed: the feed link {link} on the page {page_url} leads to another HTML page"
        )),
        FetchOutcome::Fetched(body) => {
            let polled = body.moved_to.clone().unwrap_or_else(|| link.to_string());
            Ok((body, polled))
        }
        other => Err(format!(
            "feed {link}, linked from the page {page_url}: {}",
            outcome_error(other)
        )),
    }
}

/// Why a fetch that should have brought a body did not.
pub(super) fn outcome_error(outcome: FetchOutcome) -> String {
    match outcome {
        FetchOutcome::Fetched(_) => "fetched".into(),
        FetchOutcome::NotModified { .. } => "http 304 to an unconditional request".into(),
        FetchOutcome::Throttled { status, .. } => format!("throttled: http {status}"),
        FetchOutcome::Gone => "gone: http 410".into(),
        FetchOutcome::Failed(error) => error.to_string(),
    }
}

/// Records a permanent move (every redirect on the way a 301 or 308) in `state`, and says so.
pub(super) fn note_move(state: &mut FeedState, moved_to: Option<&String>) {
    if feed_state::note_move(state, moved_to)
        && let Some(moved) = moved_to
    {
        info!(to = %for_log(moved, LOG_CHARS), "feed moved permanently (301/308); polling the new address from now on");
    }
}

/// Fetches (unconditionally) and parses a feed once, keeping what `caps` allow: `check
/// --online` and `test --feed`.
pub async fn fetch_feed(
    fetcher: &Fetcher,
    source: &FeedSource,
    caps: Caps,
) -> Result<ParsedFeed, String> {
    let now = Utc::now();
    match fetcher.fetch(source, &Validators::default(), now).await {
        FetchOutcome::Fetched(fetched) => {
            let fetched = if looks_like_html(&fetched.body) {
                follow_feed_link(fetcher, source, fetched, now).await?.0
            } else {
                fetched
            };
            parse_feed_capped(
                &fetched.body,
                fetched.charset.as_deref(),
                Some(&fetched.final_url),
                caps,
            )
            .map_err(|error| error.to_string())
        }
        other => Err(outcome_error(other)),
    }
}
