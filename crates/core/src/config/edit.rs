//! The one edit of the config file: `opml import` adds `[[feed]]` tables with `toml_edit`
//! (its only user), keeping the file's comments and layout.

use super::*;

/// What [`add_feeds`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedsAdded {
    /// The new config text.
    pub text: String,
    /// Names of the feeds added.
    pub added: Vec<String>,
    /// URLs skipped, with why (already configured, not http or https).
    pub skipped: Vec<(String, String)>,
}

/// Adds `[[feed]]` tables (name, URL) to config text, keeping its comments and layout: new
/// tables go after the last feed. Only http and https URLs are added; a URL the config
/// already has (compared after normalizing scheme and host case and a trailing slash) is
/// skipped; a name already taken gets ` (2)`, ` (3)`, … appended.
pub fn add_feeds(text: &str, feeds: &[(String, String)]) -> Result<FeedsAdded, String> {
    use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};
    let mut doc: DocumentMut = text.parse().map_err(|error| format!("{error}"))?;
    if doc.get("feed").is_none() {
        doc.insert("feed", Item::ArrayOfTables(ArrayOfTables::new()));
    }
    let array = doc["feed"]
        .as_array_of_tables_mut()
        .ok_or("`feed` is not a list of [[feed]] tables")?;
    let field =
        |table: &Table, key: &str| table.get(key).and_then(Item::as_str).map(str::to_string);
    let mut names: Vec<String> = array
        .iter()
        .filter_map(|t| field(t, "name"))
        .map(|name| name.trim().to_string())
        .collect();
    let mut urls: Vec<String> = array
        .iter()
        .filter_map(|t| field(t, "url"))
        .map(|url| comparable_url(&url))
        .collect();
    let last_position = array.iter().filter_map(Table::position).max();
    let (mut added, mut skipped) = (Vec::new(), Vec::new());
    for (name, url) in feeds {
        let key = comparable_url(url);
        if !Url::parse(url.trim()).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
            skipped.push((url.clone(), "not an http or https URL".into()));
            continue;
        }
        if urls.contains(&key) {
            skipped.push((url.clone(), "already configured".into()));
            continue;
        }
        let base = name.trim();
        let base = if base.is_empty() { url.trim() } else { base };
        let mut unique = base.to_string();
        let mut n = 1;
        while names.contains(&unique) {
            n += 1;
            unique = format!("{base} ({n})");
        }
        let mut table = Table::new();
        table["name"] = value(unique.clone());
        table["url"] = value(url.trim());
        // Same position as the last feed: new tables are written right after it.
        table.set_position(last_position);
        array.push(table);
        names.push(unique.clone());
        urls.push(key);
        added.push(unique);
    }
    Ok(FeedsAdded {
        text: doc.to_string(),
        added,
        skipped,
    })
}

/// A URL in a form that compares equal for the same feed: scheme and host lower-cased (the
/// URL parser does that), no trailing slash.
pub(super) fn comparable_url(url: &str) -> String {
    let url = url.trim();
    let parsed = Url::parse(url).map_or_else(|_| url.to_string(), String::from);
    parsed.trim_end_matches('/').to_string()
}
