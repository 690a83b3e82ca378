//! The config file as it is written: serde structs that mirror the TOML (with spans for
//! the values checked later) and reject unknown keys. `compile` turns them into `Config`.

use super::*;

// ---------------------------------------------------------------------------------------------
// The raw layer: mirrors the file, rejects unknown keys, keeps spans for later errors.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) daemon: RawDaemon,
    #[serde(default)]
    pub(super) alias: BTreeMap<Spanned<String>, Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub(super) feed: Vec<RawFeed>,
    #[serde(default)]
    pub(super) topic: Vec<RawTopic>,
    #[serde(default)]
    pub(super) alert: Vec<RawAlert>,
    pub(super) http: Option<RawHttp>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    pub(super) listen: Spanned<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDaemon {
    pub(super) database: Option<Spanned<String>>,
    pub(super) interval: Option<Spanned<String>>,
    pub(super) max_concurrent: Option<Spanned<i64>>,
    pub(super) per_host: Option<Spanned<i64>>,
    pub(super) timeout: Option<Spanned<String>>,
    pub(super) connect_timeout: Option<Spanned<String>>,
    pub(super) max_body: Option<Spanned<String>>,
    pub(super) alert_attempts: Option<Spanned<i64>>,
    pub(super) alert_wait: Option<Spanned<String>>,
    pub(super) dead_after: Option<Spanned<String>>,
    pub(super) keep_items: Option<Spanned<String>>,
    pub(super) max_items_per_poll: Option<Spanned<i64>>,
    pub(super) max_field_chars: Option<Spanned<i64>>,
    pub(super) allow_private_targets: Option<bool>,
    pub(super) fetch_article: Option<Spanned<String>>,
    pub(super) first_poll: Option<Spanned<String>>,
    pub(super) article_min_chars: Option<Spanned<i64>>,
    pub(super) story_window: Option<Spanned<String>>,
    pub(super) dedup: Option<Spanned<String>>,
    pub(super) max_age: Option<Spanned<String>>,
}

/// One `[[alert]]` as written: every kind's keys, checked against the kind when compiled.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAlert {
    pub(super) kind: Spanned<String>,
    pub(super) name: Option<Spanned<String>>,
    pub(super) topics: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) digest: Option<Spanned<String>>,
    pub(super) template: Option<Spanned<String>>,
    pub(super) path: Option<Spanned<String>>,
    pub(super) url: Option<Spanned<String>>,
    pub(super) format: Option<Spanned<String>>,
    pub(super) headers: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    pub(super) command: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) timeout: Option<Spanned<String>>,
    pub(super) host: Option<Spanned<String>>,
    pub(super) port: Option<Spanned<i64>>,
    pub(super) tls: Option<Spanned<String>>,
    pub(super) from: Option<Spanned<String>>,
    pub(super) to: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFeed {
    pub(super) name: Spanned<String>,
    pub(super) url: Spanned<String>,
    pub(super) interval: Option<Spanned<String>>,
    pub(super) fetch_article: Option<Spanned<String>>,
    pub(super) first_poll: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTopic {
    pub(super) id: Spanned<String>,
    pub(super) title: Option<String>,
    pub(super) query: Spanned<String>,
    pub(super) max_age: Option<Spanned<String>>,
    pub(super) published_after: Option<Spanned<String>>,
    pub(super) published_before: Option<Spanned<String>>,
}
