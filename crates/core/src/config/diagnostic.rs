//! Config problems with their place: `file:line:col: error: …` with the source line and
//! a caret, collected per file; where a value's offset inside its TOML string is; unknown
//! keys; the hint for an apostrophe in a single-quoted query.

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

/// Every key the config does not know, with its span. Used to report them all at once, as
/// serde stops at the first.
pub(super) fn unknown_keys(text: &str) -> Vec<(Range<usize>, String)> {
    use toml::de::{DeTable, DeValue};
    const TOP: &[&str] = &["daemon", "alias", "feed", "topic", "alert", "http"];
    const HTTP: &[&str] = &["listen"];
    const DAEMON: &[&str] = &[
        "database",
        "interval",
        "max_concurrent",
        "per_host",
        "timeout",
        "connect_timeout",
        "max_body",
        "alert_attempts",
        "alert_wait",
        "dead_after",
        "keep_items",
        "max_items_per_poll",
        "max_field_chars",
        "allow_private_targets",
        "fetch_article",
        "article_min_chars",
        "story_window",
        "dedup",
        "max_age",
    ];
    const ALERT: &[&str] = &[
        "kind", "name", "topics", "digest", "template", "path", "url", "format", "headers",
        "command", "timeout", "host", "port", "tls", "from", "to",
    ];
    const FEED: &[&str] = &["name", "url", "interval", "fetch_article"];
    const TOPIC: &[&str] = &[
        "id",
        "title",
        "query",
        "max_age",
        "published_after",
        "published_before",
    ];

    fn check(table: &DeTable<'_>, known: &[&str], found: &mut Vec<(Range<usize>, String)>) {
        for key in table.keys() {
            if !known.contains(&key.get_ref().as_ref()) {
                let expected: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
                found.push((
                    key.span(),
                    format!(
                        "unknown field `{}`, expected one of {}",
                        key.get_ref(),
                        expected.join(", ")
                    ),
                ));
            }
        }
    }

    let Ok(root) = DeTable::parse(text) else {
        return Vec::new();
    };
    let root = root.get_ref();
    let mut found = Vec::new();
    check(root, TOP, &mut found);
    for (key, value) in root {
        let known = match key.get_ref().as_ref() {
            "daemon" => DAEMON,
            "feed" => FEED,
            "topic" => TOPIC,
            "alert" => ALERT,
            "http" => HTTP,
            _ => continue,
        };
        match value.get_ref() {
            DeValue::Table(table) => check(table, known, &mut found),
            DeValue::Array(array) => {
                for element in array.iter() {
                    if let DeValue::Table(table) = element.get_ref() {
                        check(table, known, &mut found);
                    }
                }
            }
            _ => {}
        }
    }
    found.sort_by_key(|(span, _)| span.start);
    found
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
