//! The `webhook` sink: an HTTP POST through the `fetch` module's client, in one of four
//! body formats, with an `Idempotency-Key` header so a receiver can drop repeats, and with a
//! `secret`, an `X-Watchword-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>" keyed by the secret>`, so a receiver can check the body came from here (and
//! refuse an old `t`, a replay).

use base64::Engine as _;
use chrono::Utc;
use serde_json::json;

use super::message::{Content, Markup, TopicTitles};
use super::{Retry, SendError};
use crate::config::WebhookFormat;
use crate::fetch::{Fetcher, Post};
use crate::model::Match;
use crate::text;

/// Discord rejects messages over 2,000 characters.
const DISCORD_MAX_CHARS: usize = 2000;

/// A webhook sink ready to post.
#[derive(Debug)]
pub struct Webhook {
    pub fetcher: Fetcher,
    pub url: url::Url,
    pub format: WebhookFormat,
    pub headers: Vec<(String, String)>,
    /// The signing key, when the config gives one.
    pub secret: Option<String>,
    pub timeout: std::time::Duration,
}

/// The signature header's value for `body` sent at `timestamp` (Unix seconds).
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

impl Webhook {
    /// Posts the batch. 2xx is delivered; 408, 429 and 5xx are retried (after Retry-After when
    /// given); any other status fails at once with the response in the error.
    pub async fn send(
        &self,
        template: Option<&str>,
        content: &Content<'_>,
        key: &str,
        titles: &TopicTitles,
    ) -> Result<(), SendError> {
        let Webhook {
            fetcher,
            url,
            format,
            headers,
            secret,
            timeout,
        } = self;
        let (format, timeout) = (*format, *timeout);
        let mut all_headers = vec![("Idempotency-Key".to_string(), key.to_string())];
        let (content_type, body) = match format {
            WebhookFormat::Json => {
                let text = content.text(template, Markup::Plain, titles);
                let body = match content {
                    Content::Matches(matches) => {
                        let records: Vec<_> = matches.iter().map(Match::record).collect();
                        json!({ "event": content.event(), "text": text, "matches": records })
                    }
                    Content::Notice(notice) => {
                        json!({ "event": content.event(), "text": text, "notice": notice })
                    }
                    Content::Test { sink, .. } => {
                        json!({ "event": content.event(), "text": text, "sink": sink })
                    }
                };
                ("application/json", json_body(&body))
            }
            WebhookFormat::Slack => {
                let body = json!({
                    "text": content.text(template, Markup::Slack, titles),
                    "unfurl_links": false,
                });
                ("application/json", json_body(&body))
            }
            WebhookFormat::Discord => {
                let body = json!({
                    "content": text::shorten(&content.text(template, Markup::Discord, titles), DISCORD_MAX_CHARS),
                    "allowed_mentions": { "parse": [] },
                });
                ("application/json", json_body(&body))
            }
            WebhookFormat::Ntfy => {
                all_headers.push(("Title".into(), header_text(&content.subject(titles))));
                let tag = match content {
                    Content::Matches(_) => "newspaper",
                    Content::Notice(_) => "warning",
                    Content::Test { .. } => "test_tube",
                };
                all_headers.push(("Tags".into(), tag.into()));
                if let Content::Matches([single]) = content
                    && let Some(url) = &single.url
                {
                    all_headers.push(("Click".into(), url.clone()));
                }
                (
                    "text/plain; charset=utf-8",
                    content.text(template, Markup::Plain, titles),
                )
            }
        };
        all_headers.extend(headers.iter().cloned());
        if let Some(secret) = secret {
            all_headers.push((
                "X-Watchword-Signature".into(),
                signature(secret, Utc::now().timestamp(), body.as_bytes()),
            ));
        }
        let post = Post {
            url,
            content_type,
            headers: &all_headers,
            body: body.into_bytes(),
            timeout,
        };
        let response = fetcher
            .post(post, Utc::now())
            .await
            .map_err(|error| SendError {
                message: error.to_string(),
                retry: Retry::Backoff,
            })?;
        let status = response.status;
        if (200..300).contains(&status) {
            return Ok(());
        }
        let message = if response.excerpt.is_empty() {
            format!("http {status}")
        } else {
            format!(
                "http {status}: {}",
                crate::text::sanitize(&response.excerpt)
            )
        };
        let retry = match status {
            408 | 429 | 500..=599 => response.retry_after.map_or(Retry::Backoff, Retry::After),
            _ => Retry::Never,
        };
        Err(SendError { message, retry })
    }
}

/// A header value: ASCII as is, anything else as an RFC 2047 encoded word (ntfy decodes it).
fn header_text(text: &str) -> String {
    if text.chars().all(|c| c.is_ascii() && !c.is_ascii_control()) {
        text.to_string()
    } else {
        let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
        format!("=?UTF-8?B?{encoded}?=")
    }
}

/// A webhook's JSON body, through the one JSON writer (controls escaped).
fn json_body(body: &serde_json::Value) -> String {
    text::to_json(body).expect("a JSON value always serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hmac_of_the_timestamp_and_the_body() {
        // The same as python3: hmac.new(key, b"1700000000." + body, hashlib.sha256).
        assert_eq!(
            signature("whsec-test", 1_700_000_000, br#"{"event":"match"}"#),
            "t=1700000000,v1=e830e4589e8797b1370c1e0d83b2f38cf8b79a3fac534475f07f03fd4b484c7c"
        );
    }

    #[test]
    fn non_ascii_titles_become_encoded_words() {
        assert_eq!(header_text("plain title"), "plain title");
        assert_eq!(header_text("北朝鮮"), "=?UTF-8?B?5YyX5pyd6a6u?=");
    }
}
