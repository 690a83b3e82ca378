//! Config problems with their place: `file:line:col: error: …` with the source line and
//! a caret, collected per file; where a value's offset inside its TOML string is; unknown
//! keys, with a "did you mean" for a near one; the hint for an apostrophe in a single-quoted
//! query.

use super::*;

/// A problem in a config file, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// An error stops the config; a warning does not.
    pub severity: Severity,
    pub path: PathBuf,
    /// 1-based line and column (in characters).
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// The source line, for the caret display.
    pub source_line: String,
}

/// How bad a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Diagnostic {
    /// `path:line:col: error: message`, then the source line and a caret under the column.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        writeln!(
            f,
            "{}:{}:{}: {severity}: {}",
            self.path.display(),
            self.line,
            self.column,
            self.message
        )?;
        let gutter = " ".repeat(self.line.to_string().len());
        // Pad by terminal width (CJK characters take two columns) and keep tabs as tabs, so
        // the caret sits under the column whatever the line holds.
        let padding: String = self
            .source_line
            .chars()
            .take(self.column.saturating_sub(1))
            .map(|c| match c {
                '\t' => "\t".to_string(),
                c => " ".repeat(crate::text::char_columns(c)),
            })
            .collect();
        writeln!(f, "{gutter} |")?;
        writeln!(f, "{} | {}", self.line, self.source_line)?;
        write!(f, "{gutter} | {padding}^")
    }
}

/// Renders diagnostics one after another, separated by blank lines.
pub fn render_all(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(Diagnostic::to_string)
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Collects diagnostics for one file.
pub(super) struct Diagnostics<'a> {
    pub(super) path: &'a Path,
    pub(super) text: &'a str,
    /// Errors.
    pub(super) found: Vec<Diagnostic>,
    pub(super) warnings: Vec<Diagnostic>,
}

impl Diagnostics<'_> {
    pub(super) fn error(&mut self, span: Range<usize>, message: String) {
        let diagnostic = self.diagnostic(Severity::Error, span, message);
        self.found.push(diagnostic);
    }

    pub(super) fn warning(&mut self, span: Range<usize>, message: String) {
        let diagnostic = self.diagnostic(Severity::Warning, span, message);
        self.warnings.push(diagnostic);
    }

    fn diagnostic(&self, severity: Severity, span: Range<usize>, message: String) -> Diagnostic {
        let (line, column, source_line) = position(self.text, span.start);
        Diagnostic {
            severity,
            path: self.path.to_path_buf(),
            line,
            column,
            message,
            source_line,
        }
    }

    pub(super) fn line_of(&self, offset: usize) -> usize {
        position(self.text, offset).0
    }
}

/// The error for config bytes that are not UTF-8: at the first bad byte, its line and column
/// counted in the valid text before it, and the line shown with U+FFFD for what is not text.
pub(super) fn not_utf8(path: &Path, bytes: &[u8]) -> Diagnostic {
    let valid_up_to = std::str::from_utf8(bytes).map_or_else(|e| e.valid_up_to(), str::len);
    let valid = std::str::from_utf8(&bytes[..valid_up_to]).expect("valid up to there");
    let line_start = valid.rfind('\n').map_or(0, |i| i + 1);
    let line_end = bytes[valid_up_to..]
        .iter()
        .position(|&byte| byte == b'\n')
        .map_or(bytes.len(), |i| valid_up_to + i);
    let source_line = String::from_utf8_lossy(&bytes[line_start..line_end])
        .trim_end_matches('\r')
        .to_string();
    let bad = bytes.get(valid_up_to).copied().unwrap_or_default();
    Diagnostic {
        severity: Severity::Error,
        path: path.to_path_buf(),
        line: valid.matches('\n').count() + 1,
        column: valid[line_start..].chars().count() + 1,
        message: format!("not valid UTF-8 (byte {bad:#04x}); save the config as UTF-8"),
        source_line,
    }
}

/// Maps a byte offset inside a TOML string's value to a byte offset in the file, walking
/// the escapes of basic strings so the caret lands under the right character.
pub(super) fn string_body_offset(text: &str, span: Range<usize>, offset: usize) -> usize {
    let raw = text.get(span.clone()).unwrap_or("");
    let multiline = raw.starts_with("'''") || raw.starts_with("\"\"\"");
    let basic = raw.starts_with('"');
    let mut start = span.start + if multiline { 3 } else { 1 };
    if multiline {
        let body = &text[start.min(text.len())..];
        if body.starts_with("\r\n") {
            start += 2;
        } else if body.starts_with('\n') {
            start += 1;
        }
    }
    let body = text.get(start..span.end).unwrap_or("");
    let raw_offset = if basic {
        raw_offset_in_basic_string(body, offset)
    } else {
        offset
    };
    (start + raw_offset)
        .min(span.end.saturating_sub(1))
        .max(span.start)
}

/// The raw byte offset in a basic string's body of the value's byte `value_offset`.
pub(super) fn raw_offset_in_basic_string(body: &str, value_offset: usize) -> usize {
    let mut value_pos = 0;
    let mut chars = body.char_indices().peekable();
    while let Some((raw_pos, c)) = chars.next() {
        if value_pos >= value_offset {
            return raw_pos;
        }
        if c != '\\' {
            value_pos += c.len_utf8();
            continue;
        }
        let Some((_, escape)) = chars.next() else {
            return raw_pos;
        };
        let hex_digits = match escape {
            'u' => 4,
            'U' => 8,
            'x' => 2,
            c if c.is_whitespace() => {
                // A line-ending backslash: the whitespace after it is not part of the value.
                while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
                continue;
            }
            _ => {
                value_pos += 1;
                continue;
            }
        };
        let digits: String = (0..hex_digits)
            .filter_map(|_| chars.next())
            .map(|(_, c)| c)
            .collect();
        value_pos += u32::from_str_radix(&digits, 16)
            .ok()
            .and_then(char::from_u32)
            .map_or(1, char::len_utf8);
    }
    body.len()
}

/// The error for a key that no raw struct knows, at its place in the document (`steps`
/// from the root, as [`parse_raw`] gives them), with a "did you mean" when a key of the same
/// table is close ([`nearest_key`]). An `[[alert]]` of a known kind is offered its kind's
/// keys only; a plain key at the top level that `[daemon]` knows is sent there.
pub(super) fn unknown_key(root: &toml::de::DeTable<'_>, steps: &[Step]) -> (Range<usize>, String) {
    use toml::de::DeValue;
    let Some((Step::Key(key), parent)) = steps.split_last() else {
        return (0..0, "unknown key".into());
    };
    let entry = entry_at(root, steps);
    let span = entry.map_or(0..0, |(name, _)| name.span());
    let shown = key.escape_debug();
    let parent_keys: Vec<&str> = parent
        .iter()
        .filter_map(|step| match step {
            Step::Key(key) => Some(key.as_str()),
            Step::Index(_) => None,
        })
        .collect();
    if parent_keys.is_empty() {
        let tables = fields_of::<RawConfig>();
        let table = |name: &str| match name {
            "feed" | "topic" | "alert" => format!("[[{name}]]"),
            _ => format!("[{name}]"),
        };
        let listed: Vec<String> = tables.iter().map(|name| table(name)).collect();
        let is_table = entry.is_some_and(|(_, value)| {
            matches!(value.get_ref(), DeValue::Table(_) | DeValue::Array(_))
        });
        let message = match nearest_key(key, tables) {
            Some(near) if is_table => {
                format!("unknown table `{shown}`; did you mean `{}`?", table(near))
            }
            _ if is_table => {
                format!(
                    "unknown table `{shown}` (the tables are {})",
                    listed.join(", ")
                )
            }
            // A key written above the first table header: mostly one of [daemon]'s.
            _ => match nearest_key(key, fields_of::<RawDaemon>()) {
                Some(near) => format!(
                    "unknown key `{shown}` at the top level; did you mean `{near}` in [daemon]?"
                ),
                None => format!(
                    "unknown key `{shown}` at the top level (the tables are {})",
                    listed.join(", ")
                ),
            },
        };
        return (span, message);
    }
    let alert_keys: Vec<&str>;
    let (place, known): (String, &[&str]) = match parent_keys.as_slice() {
        ["daemon"] => ("in [daemon]".into(), fields_of::<RawDaemon>()),
        ["http"] => ("in [http]".into(), fields_of::<RawHttp>()),
        ["feed"] => ("in a [[feed]]".into(), fields_of::<RawFeed>()),
        ["topic"] => ("in a [[topic]]".into(), fields_of::<RawTopic>()),
        ["alert"] => {
            let kind = entry_at(root, &[parent, &[Step::Key("kind".into())]].concat()).and_then(
                |(_, value)| match value.get_ref() {
                    DeValue::String(kind) => Some(kind.as_ref()),
                    _ => None,
                },
            );
            match kind.and_then(|kind| Some((kind, sink_keys(kind)?))) {
                Some((kind, keys)) => {
                    alert_keys = ALERT_KEYS.iter().chain(keys).copied().collect();
                    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
                        "an"
                    } else {
                        "a"
                    };
                    (format!("in {article} {kind} [[alert]]"), &alert_keys)
                }
                None => ("in an [[alert]]".into(), fields_of::<RawAlert>()),
            }
        }
        _ => (format!("in [{}]", parent_keys.join(".")), &[]),
    };
    let message = match nearest_key(key, known) {
        Some(near) => format!("unknown key `{shown}` {place}; did you mean `{near}`?"),
        // A short list helps; the twenty keys of [daemon] would bury the message.
        None if !known.is_empty() && known.len() <= 10 => {
            format!(
                "unknown key `{shown}` {place} (its keys: {})",
                known.join(", ")
            )
        }
        None => format!("unknown key `{shown}` {place}"),
    };
    (span, message)
}

/// The known key that `unknown` is most likely a misspelling of: the nearest by
/// Damerau-Levenshtein distance (a transposition counts as one edit), compared without case
/// and with `-` read as `_`, when that distance is at most 1 for a known key of up to four
/// characters (`to`, `url`, `kind`) and at most 2 for a longer one. The first of equally
/// near keys wins. Beyond that, a guess is more often wrong than helpful.
pub(super) fn nearest_key<'k>(unknown: &str, known: &[&'k str]) -> Option<&'k str> {
    let unknown = unknown.to_lowercase().replace('-', "_");
    known
        .iter()
        .map(|&key| (key, strsim::damerau_levenshtein(&unknown, key)))
        .filter(|&(key, distance)| distance <= if key.chars().count() <= 4 { 1 } else { 2 })
        .min_by_key(|&(_, distance)| distance)
        .map(|(key, _)| key)
}

/// Where the last key of `steps` is written, if the steps lead to it.
pub(super) fn key_span(root: &toml::de::DeTable<'_>, steps: &[Step]) -> Option<Range<usize>> {
    entry_at(root, steps).map(|(name, _)| name.span())
}

/// A key of a table and its value, as written.
type Entry<'t, 'i> = (
    &'t Spanned<toml::de::DeString<'i>>,
    &'t Spanned<toml::de::DeValue<'i>>,
);

/// The key and value that `steps` lead to, if they lead to a key of a table.
fn entry_at<'t, 'i>(root: &'t toml::de::DeTable<'i>, steps: &[Step]) -> Option<Entry<'t, 'i>> {
    let (Step::Key(key), parent) = steps.split_last()? else {
        return None;
    };
    table_at(root, parent)?
        .iter()
        .find(|(name, _)| name.get_ref() == key)
}

/// The table that `steps` lead to from `root`, if they lead to one.
fn table_at<'t, 'i>(
    root: &'t toml::de::DeTable<'i>,
    steps: &[Step],
) -> Option<&'t toml::de::DeTable<'i>> {
    use toml::de::DeValue;
    let mut value: Option<&DeValue<'i>> = None;
    for step in steps {
        let next = match (step, value) {
            (Step::Key(key), None) => root.iter().find(|(name, _)| name.get_ref() == key)?.1,
            (Step::Key(key), Some(DeValue::Table(table))) => {
                table.iter().find(|(name, _)| name.get_ref() == key)?.1
            }
            (Step::Index(index), Some(DeValue::Array(array))) => array.get(*index)?,
            _ => return None,
        };
        value = Some(next.get_ref());
    }
    match value {
        None => Some(root),
        Some(DeValue::Table(table)) => Some(table),
        Some(_) => None,
    }
}

/// A hint for a TOML syntax error at `offset` on a line that writes a single-quoted
/// (literal) string with an apostrophe in it, such as `query = 'North Korea's launch'`: the
/// apostrophe ended the string early.
pub(super) fn apostrophe_hint(text: &str, offset: usize) -> Option<&'static str> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = text.get(line_start..line_end)?;
    let (key, value) = line.split_once('=')?;
    let value = value.trim_start();
    let literal = value.starts_with('\'') && !value.starts_with("'''");
    // The opening quote, the apostrophe and the real closing quote.
    (literal && value.matches('\'').count() >= 3).then(|| {
        if key.trim() == "query" {
            "; an apostrophe (') ends a single-quoted string: write a query with one between triple quotes, query = '''…'''"
        } else {
            "; an apostrophe (') ends a single-quoted string: write a value with one between triple quotes, '''…'''"
        }
    })
}

pub(super) fn is_identifier(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// 1-based line, 1-based column in characters, and the line's text, for a byte offset.
pub(super) fn position(text: &str, offset: usize) -> (usize, usize, String) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = text[..line_start].matches('\n').count() + 1;
    let column = text[line_start..offset].chars().count() + 1;
    let source_line = text[line_start..line_end]
        .trim_end_matches('\r')
        .to_string();
    (line, column, source_line)
}
