//! Getting a feed's bytes: the only user of `reqwest`. Conditional GET with the stored
//! validators, a total deadline, a redirect limit, and a body cap enforced while streaming
//! (after decompression). Local files are read the same way; one that is not a regular file
//! (a FIFO, a device, a directory) is refused before anything is read. Expected non-success
//! — not modified, throttled, gone, failed — is a [`FetchOutcome`], not an error.
//!
//! URLs from the config are trusted; URLs from feed content (and redirects to another host)
//! go through `guard`, which keeps them off private networks unless the config allows it.

mod body;
mod guard;

pub use guard::same_host;

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{
    CONTENT_TYPE, ETAG, HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, LOCATION,
    RETRY_AFTER,
};
use tokio::io::AsyncReadExt;

use crate::config::{DaemonConfig, FeedSource, PathKind};

/// The most redirects followed for one request.
pub const MAX_REDIRECTS: usize = 5;
/// The longest Retry-After we honour (the scheduler's, which applies it).
pub use crate::scheduler::MAX_RETRY_AFTER;

/// Validators from the last successful fetch, sent back for a conditional GET.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// What came of one fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    /// 304: nothing changed since the validators were issued. `moved_to` as in
    /// [`Fetched::moved_to`].
    NotModified { moved_to: Option<String> },
    /// 200 with a body.
    Fetched(Fetched),
    /// 429 or 503: the server asks us to slow down.
    Throttled {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// 410: the feed is gone for good.
    Gone,
    /// Anything else: a network error, a bad status, a body over the cap.
    Failed(FetchError),
}

/// A fetched body and what the response said about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub body: Vec<u8>,
    /// The `charset` parameter of the `Content-Type`, if any.
    pub charset: Option<String>,
    pub content_type: Option<String>,
    pub validators: Validators,
    /// The URL after redirects (a `file:` URL for local files).
    pub final_url: String,
    /// Where the feed lives now, when every redirect on the way was permanent (301, 308).
    pub moved_to: Option<String>,
}

/// Why a fetch failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("http status {status}")]
    Status { status: u16 },
    #[error("body larger than the {limit}-byte limit")]
    TooLarge { limit: u64 },
    #[error("timed out after {}s", .0.as_secs())]
    Timeout(Duration),
    #[error("{0}")]
    Network(String),
    #[error("cannot read {path}: {message}")]
    File { path: String, message: String },
    /// A URL from feed content that points at a private network.
    #[error("refused {url}: {reason} (set [daemon] allow_private_targets = true to allow)")]
    Refused { url: String, reason: String },
}

/// A POST to send (a webhook alert).
#[derive(Debug, Clone)]
pub struct Post<'a> {
    pub url: &'a url::Url,
    pub content_type: &'a str,
    /// Extra headers, names and values already validated by the config.
    pub headers: &'a [(String, String)],
    pub body: Vec<u8>,
    /// Deadline for the whole exchange.
    pub timeout: Duration,
}

/// What a server answered to a POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostResponse {
    pub status: u16,
    pub retry_after: Option<Duration>,
    /// The start of the response body (at most [`POST_BODY_EXCERPT`] bytes, lossy UTF-8),
    /// for error messages.
    pub excerpt: String,
}

/// How much of a POST response body is kept for error messages.
pub const POST_BODY_EXCERPT: usize = 512;

/// The HTTP client and limits, shared by every poll of the process.
#[derive(Debug, Clone)]
pub struct Fetcher {
    /// For URLs from the config (and the same host): may reach any address.
    client: reqwest::Client,
    /// For URLs from feed content: its resolver drops forbidden addresses. The same client
    /// as `client` when `allow_private_targets` is set.
    guarded: reqwest::Client,
    allow_private: bool,
    /// Largest body accepted, after decompression.
    max_body: u64,
    /// Deadline for a whole request, body included (also enforced around file reads).
    timeout: Duration,
    /// A feed's own `User-Agent`, instead of the client's (`[daemon] user_agent`).
    user_agent: Option<std::sync::Arc<str>>,
}

impl Fetcher {
    /// The same client, sending `user_agent` on the feed requests it makes (a feed's own
    /// `user_agent`).
    pub fn with_user_agent(&self, user_agent: &str) -> Fetcher {
        Fetcher {
            user_agent: Some(user_agent.into()),
            ..self.clone()
        }
    }

    /// Builds the one client of the process.
    pub fn new(daemon: &DaemonConfig) -> Result<Fetcher, FetchError> {
        let builder = || {
            reqwest::Client::builder()
                .user_agent(daemon.user_agent.as_str())
                .connect_timeout(daemon.connect_timeout)
                .timeout(daemon.timeout)
                // Redirects are followed by hand (`fetch_http`), to tell permanent moves
                // apart and to check each hop.
                .redirect(reqwest::redirect::Policy::none())
        };
        let build = |builder: reqwest::ClientBuilder| {
            builder
                .build()
                .map_err(|e| FetchError::Network(error_chain(&e)))
        };
        let client = build(builder())?;
        let guarded = if daemon.allow_private_targets {
            client.clone()
        } else {
            // Directly, not through a proxy from the environment: a proxy would resolve the
            // host itself, past the guard.
            build(builder().no_proxy().dns_resolver(guard::GuardedResolver))?
        };
        Ok(Fetcher {
            client,
            guarded,
            allow_private: daemon.allow_private_targets,
            max_body: daemon.max_body,
            timeout: daemon.timeout,
            user_agent: None,
        })
    }

    /// Fetches a feed. `now` is used to read a Retry-After given as an HTTP date.
    pub async fn fetch(
        &self,
        source: &FeedSource,
        validators: &Validators,
        now: DateTime<Utc>,
    ) -> FetchOutcome {
        let deadline = self.timeout + Duration::from_secs(1);
        let work = async {
            match source {
                FeedSource::Http(url) => self.fetch_http(url, Some(url), validators, now).await,
                FeedSource::File(path) => self.read_file(path).await,
            }
        };
        match tokio::time::timeout(deadline, work).await {
            Ok(outcome) => outcome,
            Err(_) => FetchOutcome::Failed(FetchError::Timeout(self.timeout)),
        }
    }

    /// Fetches a URL that came from feed content (an item link, a feed link discovered on
    /// another host): refused when it, or a redirect, leads to a loopback, private,
    /// link-local or metadata address, unless `allow_private_targets` is set.
    pub async fn fetch_untrusted(
        &self,
        url: &url::Url,
        validators: &Validators,
        now: DateTime<Utc>,
    ) -> FetchOutcome {
        self.fetch_guarded(url, None, validators, now).await
    }

    /// Fetches `url` on behalf of the configured URL `configured` (a feed that moved, a
    /// feed link discovered on a page): hops on `configured`'s host are trusted, any other
    /// host is checked as in [`Fetcher::fetch_untrusted`].
    pub async fn fetch_for(
        &self,
        url: &url::Url,
        configured: &url::Url,
        validators: &Validators,
        now: DateTime<Utc>,
    ) -> FetchOutcome {
        self.fetch_guarded(url, Some(configured), validators, now)
            .await
    }

    async fn fetch_guarded(
        &self,
        url: &url::Url,
        configured: Option<&url::Url>,
        validators: &Validators,
        now: DateTime<Utc>,
    ) -> FetchOutcome {
        let deadline = self.timeout + Duration::from_secs(1);
        let work = self.fetch_http(url, configured, validators, now);
        match tokio::time::timeout(deadline, work).await {
            Ok(outcome) => outcome,
            Err(_) => FetchOutcome::Failed(FetchError::Timeout(self.timeout)),
        }
    }

    /// Sends a POST and reads the status and the start of the body. A 307 or 308 is
    /// followed (it keeps the method and body); any other redirect is returned as it is,
    /// since following it would turn the POST into a GET that delivers nothing.
    pub async fn post(
        &self,
        post: Post<'_>,
        now: DateTime<Utc>,
    ) -> Result<PostResponse, FetchError> {
        let work = async {
            let mut url = post.url.clone();
            let mut redirects = 0;
            let mut response = loop {
                let mut request = self
                    .client
                    .post(url.as_str())
                    .timeout(post.timeout)
                    .header(CONTENT_TYPE, post.content_type)
                    .body(post.body.clone());
                for (name, value) in post.headers {
                    request = request.header(name.as_str(), value.as_str());
                }
                // Without the URL: a webhook's address can hold its token (Slack, Discord),
                // and this error goes to the log and the outbox.
                let response = request
                    .send()
                    .await
                    .map_err(|error| classify(&error.without_url(), post.timeout))?;
                let keeps_method = matches!(
                    response.status(),
                    StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
                );
                let next = header_str(response.headers(), LOCATION)
                    .and_then(|location| url.join(location).ok())
                    .filter(|next| matches!(next.scheme(), "http" | "https"));
                match next {
                    Some(next) if keeps_method && redirects < MAX_REDIRECTS => {
                        redirects += 1;
                        url = next;
                    }
                    _ => break response,
                }
            };
            let status = response.status().as_u16();
            let retry_after = header_str(response.headers(), RETRY_AFTER)
                .and_then(|value| parse_retry_after(value, now));
            let location = header_str(response.headers(), LOCATION).map(str::to_string);
            let mut body = Vec::new();
            while body.len() < POST_BODY_EXCERPT {
                match response.chunk().await {
                    Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                    // The status is what matters; a body cut short is still an excerpt.
                    Ok(None) | Err(_) => break,
                }
            }
            body.truncate(POST_BODY_EXCERPT);
            let mut excerpt = String::from_utf8_lossy(&body).trim().to_string();
            if (300..400).contains(&status)
                && let Some(location) = location
            {
                excerpt = format!("redirected to {location} (update the url) {excerpt}");
            }
            Ok(PostResponse {
                status,
                retry_after,
                excerpt: excerpt.trim().to_string(),
            })
        };
        match tokio::time::timeout(post.timeout + Duration::from_secs(1), work).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout(post.timeout)),
        }
    }

    /// GET with redirects followed by hand. `configured` is the config's URL when the fetch
    /// is for it: hops on its host are trusted, any other goes through the guard.
    async fn fetch_http(
        &self,
        url: &url::Url,
        configured: Option<&url::Url>,
        validators: &Validators,
        now: DateTime<Utc>,
    ) -> FetchOutcome {
        let mut current = url.clone();
        // Permanent only while every hop is: one temporary hop means "ask here again".
        let mut all_permanent = true;
        let mut redirects = 0;
        let mut response = loop {
            let trusted = configured.is_some_and(|configured| same_host(configured, &current));
            let client = if trusted || self.allow_private {
                &self.client
            } else {
                if let Err(reason) = guard::check_literal(&current) {
                    return FetchOutcome::Failed(FetchError::Refused {
                        url: current.to_string(),
                        reason,
                    });
                }
                &self.guarded
            };
            let mut request = client.get(current.as_str()).header(
                reqwest::header::ACCEPT,
                "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5",
            );
            if let Some(user_agent) = &self.user_agent {
                request = request.header(reqwest::header::USER_AGENT, user_agent.as_ref());
            }
            if let Some(etag) = &validators.etag {
                request = request.header(IF_NONE_MATCH, etag);
            }
            if let Some(last_modified) = &validators.last_modified {
                request = request.header(IF_MODIFIED_SINCE, last_modified);
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(error) => return FetchOutcome::Failed(self.classify(&error, &current)),
            };
            let status = response.status();
            if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
                break response;
            }
            let Some(location) = header_str(response.headers(), LOCATION) else {
                return FetchOutcome::Failed(FetchError::Network(format!(
                    "http {} without a Location header",
                    status.as_u16()
                )));
            };
            let next = match current.join(location) {
                Ok(next) if matches!(next.scheme(), "http" | "https") => next,
                Ok(next) => {
                    return FetchOutcome::Failed(FetchError::Network(format!(
                        "redirected to {next}, which is not http or https"
                    )));
                }
                Err(error) => {
                    return FetchOutcome::Failed(FetchError::Network(format!(
                        "redirected to an invalid location {location:?}: {error}"
                    )));
                }
            };
            redirects += 1;
            if redirects > MAX_REDIRECTS {
                return FetchOutcome::Failed(FetchError::Network(format!(
                    "more than {MAX_REDIRECTS} redirects (last to {next})"
                )));
            }
            all_permanent &= matches!(
                status,
                StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
            );
            current = next;
        };
        let moved_to = (redirects > 0 && all_permanent).then(|| current.to_string());
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return FetchOutcome::NotModified { moved_to };
        }
        let status = response.status();
        match status {
            StatusCode::GONE => return FetchOutcome::Gone,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                let retry_after = header_str(response.headers(), RETRY_AFTER)
                    .and_then(|value| parse_retry_after(value, now));
                return FetchOutcome::Throttled {
                    status: status.as_u16(),
                    retry_after,
                };
            }
            status if !status.is_success() => {
                return FetchOutcome::Failed(FetchError::Status {
                    status: status.as_u16(),
                });
            }
            _ => {}
        }
        let headers = response.headers().clone();
        let final_url = response.url().to_string();
        if let Some(length) = response.content_length()
            && length > self.max_body
        {
            return FetchOutcome::Failed(FetchError::TooLarge {
                limit: self.max_body,
            });
        }
        let mut body = body::Body::default();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if !body.push(chunk, self.max_body) {
                        return FetchOutcome::Failed(FetchError::TooLarge {
                            limit: self.max_body,
                        });
                    }
                }
                Ok(None) => break,
                Err(error) => return FetchOutcome::Failed(self.classify(&error, &current)),
            }
        }
        let body = body.finish();
        let content_type = header_str(&headers, CONTENT_TYPE).map(str::to_string);
        FetchOutcome::Fetched(Fetched {
            body,
            charset: content_type.as_deref().and_then(charset_of),
            content_type,
            validators: Validators {
                etag: header_str(&headers, ETAG).map(str::to_string),
                last_modified: header_str(&headers, LAST_MODIFIED).map(str::to_string),
            },
            final_url,
            moved_to,
        })
    }

    async fn read_file(&self, path: &Path) -> FetchOutcome {
        let file_error = |message: String| {
            FetchOutcome::Failed(FetchError::File {
                path: path.display().to_string(),
                message,
            })
        };
        // Without a writer, opening a FIFO waits for one, and no deadline gets the blocking
        // thread back: open without waiting, then ask the opened file (not the path, which
        // may have changed since) what it is, before reading anything.
        let mut options = tokio::fs::OpenOptions::new();
        options.read(true).custom_flags(libc::O_NONBLOCK);
        let file = match options.open(path).await {
            Ok(file) => file,
            Err(error) => {
                // Opening a socket fails (ENXIO); say what the path is rather than that.
                return match tokio::fs::metadata(path)
                    .await
                    .map(|m| PathKind::of(m.file_type()))
                {
                    Ok(kind) if kind != PathKind::File => file_error(not_regular(kind)),
                    _ => file_error(error.to_string()),
                };
            }
        };
        match file.metadata().await {
            Ok(metadata) if metadata.is_file() => {}
            Ok(metadata) => return file_error(not_regular(PathKind::of(metadata.file_type()))),
            Err(error) => return file_error(error.to_string()),
        }
        let mut body = Vec::new();
        if let Err(error) = file.take(self.max_body + 1).read_to_end(&mut body).await {
            return file_error(error.to_string());
        }
        if body.len() as u64 > self.max_body {
            return FetchOutcome::Failed(FetchError::TooLarge {
                limit: self.max_body,
            });
        }
        // feed-rs resolves relative links against this, so it must be a URL, not a path.
        let final_url = tokio::fs::canonicalize(path)
            .await
            .ok()
            .and_then(|absolute| url::Url::from_file_path(absolute).ok())
            .map_or_else(|| path.display().to_string(), String::from);
        FetchOutcome::Fetched(Fetched {
            body,
            charset: None,
            content_type: None,
            validators: Validators::default(),
            final_url,
            moved_to: None,
        })
    }

    fn classify(&self, error: &reqwest::Error, url: &url::Url) -> FetchError {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(cause) = source {
            if let Some(refusal) = cause.downcast_ref::<guard::Refusal>() {
                return FetchError::Refused {
                    url: url.to_string(),
                    reason: refusal.to_string(),
                };
            }
            source = cause.source();
        }
        classify(error, self.timeout)
    }
}

/// What a file feed's path names (`stat`, following links); `None` when nothing is there or
/// it cannot be looked at. For `check`, which refuses a feed that is not a regular file.
pub fn path_kind(path: &Path) -> Option<PathKind> {
    std::fs::metadata(path)
        .ok()
        .map(|metadata| PathKind::of(metadata.file_type()))
}

/// Why a file feed that is not a regular file is not read.
fn not_regular(kind: PathKind) -> String {
    format!("it is {}, not a regular file", kind.describe())
}

/// A reqwest error as a [`FetchError`]; `timeout` is the deadline the request had.
fn classify(error: &reqwest::Error, timeout: Duration) -> FetchError {
    if error.is_timeout() {
        FetchError::Timeout(timeout)
    } else {
        FetchError::Network(error_chain(error))
    }
}

/// Reads a Retry-After value: delay-seconds or an HTTP date (relative to `now`). Capped at
/// [`MAX_RETRY_AFTER`]; a date in the past means no wait.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    let delay = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let date = DateTime::parse_from_rfc2822(value)
            .ok()?
            .with_timezone(&Utc);
        (date - now).to_std().unwrap_or(Duration::ZERO)
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

/// The `charset` parameter of a Content-Type value.
fn charset_of(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"').to_string())
    })
}

fn header_str(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// The error and its causes on one line: reqwest's top-level message alone rarely says what
/// went wrong ("error sending request").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = Utc.with_ymd_and_hms(2023, 11, 21, 12, 0, 0).unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Tue, 21 Nov 2023 12:05:00 GMT", now),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            parse_retry_after("Tue, 21 Nov 2023 11:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("99999999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn charset_parameter() {
        assert_eq!(
            charset_of("text/xml; charset=\"windows-1251\"").as_deref(),
            Some("windows-1251")
        );
        assert_eq!(charset_of("application/rss+xml"), None);
    }
}
