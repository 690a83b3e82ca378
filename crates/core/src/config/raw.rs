//! The config file as it is written: serde structs that mirror the TOML (with spans for
//! the values checked later), read by [`parse_raw`], which also gives back the keys no
//! struct knows. `compile` turns them into `Config`, and each unknown key into an error.
//!
//! The structs do not `deny_unknown_fields`: serde would stop at the first unknown key and
//! hide every other problem (and `check` shows them all at once). `serde_ignored` collects
//! them instead, and [`fields_of`] reads which keys a struct knows from the struct itself, so
//! the list for the "did you mean" hint cannot drift from the fields.

use serde::de::{self, Visitor};

use super::*;

/// A step from a table to one of its values: a key, or an index in an array of tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    Key(String),
    Index(usize),
}

/// Reads a parsed document into the raw structs. Every key that no struct knows is in the
/// second part, as the steps from the document's root to it; when reading fails (a value of
/// the wrong type), the unknown keys met before the failure are still there.
pub(super) fn parse_raw(
    document: Spanned<toml::de::DeTable<'_>>,
) -> (Result<RawConfig, toml::de::Error>, Vec<Vec<Step>>) {
    let mut unknown = Vec::new();
    let raw = serde_ignored::deserialize(toml::Deserializer::from(document), |path| {
        unknown.push(steps(&path));
    });
    (raw, unknown)
}

/// The keys a raw struct knows, in the order of its fields.
pub(super) fn fields_of<T: de::DeserializeOwned>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    // The probe fails by design once it has seen the fields; the error says nothing.
    let _ = T::deserialize(FieldsProbe(&mut fields));
    fields
}

// ---------------------------------------------------------------------------------------------
// The raw layer: mirrors the file, keeps spans for later errors.

#[derive(Debug, Deserialize)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) daemon: RawDaemon,
    /// Names are plain strings: `serde_ignored` can follow only string keys. A name's place
    /// is looked up in the document when it is wrong.
    #[serde(default)]
    pub(super) alias: BTreeMap<String, Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub(super) feed: Vec<RawFeed>,
    #[serde(default)]
    pub(super) topic: Vec<RawTopic>,
    #[serde(default)]
    pub(super) alert: Vec<RawAlert>,
    pub(super) http: Option<RawHttp>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawHttp {
    pub(super) listen: Spanned<String>,
}

#[derive(Debug, Default, Deserialize)]
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
    pub(super) stale_after: Option<Spanned<String>>,
    pub(super) user_agent: Option<Spanned<String>>,
    pub(super) host_interval: Option<Spanned<String>>,
    pub(super) article_min_chars: Option<Spanned<i64>>,
    pub(super) story_window: Option<Spanned<String>>,
    pub(super) dedup: Option<Spanned<String>>,
    pub(super) max_age: Option<Spanned<String>>,
}

/// One `[[alert]]` as written: every kind's keys, checked against the kind when compiled.
#[derive(Debug, Deserialize)]
pub(super) struct RawAlert {
    pub(super) kind: Spanned<String>,
    pub(super) name: Option<Spanned<String>>,
    pub(super) topics: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) digest: Option<Spanned<String>>,
    pub(super) template: Option<Spanned<String>>,
    pub(super) path: Option<Spanned<String>>,
    pub(super) url: Option<Spanned<RawSecret>>,
    pub(super) format: Option<Spanned<String>>,
    pub(super) headers: Option<Spanned<BTreeMap<String, Spanned<RawSecret>>>>,
    pub(super) secret: Option<Spanned<RawSecret>>,
    pub(super) user: Option<Spanned<RawSecret>>,
    pub(super) password: Option<Spanned<RawSecret>>,
    pub(super) command: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) timeout: Option<Spanned<String>>,
    pub(super) host: Option<Spanned<String>>,
    pub(super) port: Option<Spanned<i64>>,
    pub(super) tls: Option<Spanned<String>>,
    pub(super) from: Option<Spanned<String>>,
    pub(super) to: Option<Spanned<Vec<Spanned<String>>>>,
}

/// A value that may be a secret: written in the file, or named where it lives.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum RawSecret {
    Text(String),
    /// `{ env = "NAME" }`: the daemon's environment variable NAME.
    Env {
        env: String,
    },
    /// `{ credential = "name" }`: the systemd credential `$CREDENTIALS_DIRECTORY/name`.
    Credential {
        credential: String,
    },
}

#[derive(Debug, Deserialize)]
pub(super) struct RawFeed {
    pub(super) name: Spanned<String>,
    pub(super) url: Spanned<String>,
    pub(super) interval: Option<Spanned<String>>,
    pub(super) fetch_article: Option<Spanned<String>>,
    pub(super) first_poll: Option<Spanned<String>>,
    pub(super) stale_after: Option<Spanned<String>>,
    pub(super) user_agent: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawTopic {
    pub(super) id: Spanned<String>,
    pub(super) title: Option<String>,
    pub(super) query: Spanned<String>,
    pub(super) max_age: Option<Spanned<String>>,
    pub(super) published_after: Option<Spanned<String>>,
    pub(super) published_before: Option<Spanned<String>>,
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/// The steps of a path that `serde_ignored` reports, without the steps that are not in the
/// document (`Option`, newtypes, the inside of a `Spanned`).
fn steps(path: &serde_ignored::Path<'_>) -> Vec<Step> {
    use serde_ignored::Path;
    let mut steps = match path {
        Path::Root => return Vec::new(),
        Path::Seq { parent, .. }
        | Path::Map { parent, .. }
        | Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => steps(parent),
    };
    match path {
        Path::Seq { index, .. } => steps.push(Step::Index(*index)),
        Path::Map { key, .. } if !key.starts_with("$__serde_spanned_private") => {
            steps.push(Step::Key(key.clone()));
        }
        _ => {}
    }
    steps
}

/// A deserializer that only records the field names a struct asks for, then fails.
struct FieldsProbe<'a>(&'a mut &'static [&'static str]);

impl<'de> de::Deserializer<'de> for FieldsProbe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("fields recorded"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}
