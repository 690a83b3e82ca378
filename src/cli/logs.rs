//! The logs on stderr: which level by default (`-v`, `-q`, `once` on a terminal; `RUST_LOG`
//! wins), and their two formats. Text: one line per event, a value quoted (`title="Seoul
//! confirms orbit"`) when it holds a space, a quote or a control character, so a line splits
//! back into its fields. JSON (`--log-format json`): one object per event, the event's and its
//! spans' fields at the top level beside `timestamp`, `level`, `target` and `message`, numbers
//! and booleans as such, a list (`terms`) as an array. `main` calls [`init_logs`].

use std::fmt::{self, Write as _};
use std::io::IsTerminal as _;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::Record;
use tracing::{Event, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::filter::{EnvFilter, filter_fn};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::layer::{Layer, SubscriberExt as _};
use tracing_subscriber::registry::{LookupSpan, Registry};
use tracing_subscriber::util::SubscriberInitExt as _;

use super::{Cli, Command, LogFormat};
use crate::text::{is_unsafe_char, to_json};

/// The level logged when `RUST_LOG` is not set: errors only with `-q`, info with `-v`;
/// without either, warnings and errors for `once` on a terminal (its summary is the output),
/// else info (a service's journal, a test's captured stderr).
pub fn log_level(cli: &Cli, stderr_is_terminal: bool) -> LevelFilter {
    if cli.quiet {
        LevelFilter::ERROR
    } else if cli.verbose {
        LevelFilter::INFO
    } else if matches!(cli.command, Command::Once) && stderr_is_terminal {
        LevelFilter::WARN
    } else {
        LevelFilter::INFO
    }
}

/// Sends the logs to stderr in `format`, filtered by `RUST_LOG` when it is set (and valid),
/// else at `level`. Without `RUST_LOG`, watchword's spans stay on at every level, so a
/// warning in a poll still names its feed (`poll{feed=… url=…}`) when info is off.
pub fn init_logs(format: LogFormat, level: LevelFilter) {
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|directives| !directives.trim().is_empty())
        .and_then(|directives| EnvFilter::try_new(directives).ok());
    let by_level = from_env.is_none().then(|| {
        filter_fn(move |metadata| {
            *metadata.level() <= level
                || (metadata.is_span() && metadata.target().starts_with("watchword"))
        })
        .with_max_level_hint(level.max(LevelFilter::INFO))
    });
    let events = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let events: Box<dyn Layer<Registry> + Send + Sync> = match format {
        LogFormat::Json => Box::new(events.fmt_fields(JsonFields).event_format(JsonEvents)),
        // Colours only on a terminal: journald and log files get plain text.
        LogFormat::Text => Box::new(
            events
                .fmt_fields(TextFields)
                .with_ansi(std::io::stderr().is_terminal()),
        ),
    };
    tracing_subscriber::registry()
        .with(events)
        .with(from_env)
        .with(by_level)
        .init();
}

/// Fields as `name=value`, space-separated, the message first as it is; a value that would
/// not read back as one word is quoted.
struct TextFields;

impl<'writer> FormatFields<'writer> for TextFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut visitor = TextVisitor {
            line: String::new(),
        };
        fields.record(&mut visitor);
        writer.write_str(&visitor.line)
    }
}

/// Collects one event's (or span's) fields as text.
struct TextVisitor {
    line: String,
}

impl TextVisitor {
    fn push(&mut self, field: &Field, value: &str) {
        let name = field.name();
        if name.starts_with("log.") {
            return;
        }
        if !self.line.is_empty() {
            self.line.push(' ');
        }
        if name == "message" {
            self.line.push_str(&escape_message(value));
        } else {
            self.line.push_str(name.trim_start_matches("r#"));
            self.line.push('=');
            self.line.push_str(&quoted(value));
        }
    }
}

impl Visit for TextVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, &error_chain(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        // A list of strings (`terms = ?terms`) reads as its items, comma-separated.
        match debug_strings(&text) {
            Some(items) if field.name() != "message" => self.push(field, &items.join(", ")),
            _ => self.push(field, &text),
        }
    }
}

/// `value` as it is when it reads as one word, else in double quotes with `\` and `"`
/// escaped and control characters written as escapes.
fn quoted(value: &str) -> String {
    let plain = !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || is_unsafe_char(c));
    if plain {
        return value.to_string();
    }
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            c if is_unsafe_char(c) => {
                let _ = write!(quoted, "\\u{{{:x}}}", u32::from(c));
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// A message as it is (line breaks kept, for the multi-line config diagnostics), other
/// control characters written as escapes: no escape sequence reaches a terminal.
fn escape_message(message: &str) -> String {
    let mut escaped = String::with_capacity(message.len());
    for c in message.chars() {
        if is_unsafe_char(c) && !matches!(c, '\n' | '\t') {
            let _ = write!(escaped, "\\u{{{:x}}}", u32::from(c));
        } else {
            escaped.push(c);
        }
    }
    escaped
}

/// Fields as a JSON array of `[name, value]` pairs, in the order they were recorded (a
/// span's fields are kept so, and read back by [`JsonEvents`]).
struct JsonFields;

impl<'writer> FormatFields<'writer> for JsonFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut visitor = JsonVisitor::default();
        fields.record(&mut visitor);
        writer.write_str(&to_json(&visitor.fields).map_err(|_| fmt::Error)?)
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &Record<'_>,
    ) -> fmt::Result {
        let mut visitor = JsonVisitor {
            fields: stored_pairs(&current.fields),
        };
        fields.record(&mut visitor);
        current.fields = to_json(&visitor.fields).map_err(|_| fmt::Error)?;
        Ok(())
    }
}

/// The fields a span's [`JsonFields`] stored.
fn stored_pairs(text: &str) -> Vec<(String, Value)> {
    serde_json::from_str(text).unwrap_or_default()
}

/// One JSON object per event: `timestamp`, `level`, `target`, `message`, `span` (the names
/// of the spans it is in, outermost first, `:`-separated), then the spans' fields and the
/// event's. A span's field that the event names too is kept as `span.name` (`poll.url`).
struct JsonEvents;

impl<S> FormatEvent<S, JsonFields> for JsonEvents
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        let mut object = Object::default();
        object.insert(
            "timestamp",
            Value::from(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        );
        object.insert("level", Value::from(metadata.level().as_str()));
        object.insert("target", Value::from(metadata.target()));
        let mut visitor = JsonVisitor::default();
        event.record(&mut visitor);
        if let Some(at) = visitor
            .fields
            .iter()
            .position(|(name, _)| name == "message")
        {
            let (_, message) = visitor.fields.remove(at);
            object.insert("message", message);
        }
        // Which span each span field came from, for a name the event uses too.
        let mut from_span: Vec<(String, &'static str)> = Vec::new();
        if let Some(scope) = ctx.event_scope() {
            let mut names = Vec::new();
            let mut span_fields = Vec::new();
            for span in scope.from_root() {
                names.push(span.name());
                if let Some(stored) = span.extensions().get::<FormattedFields<JsonFields>>() {
                    for (name, value) in stored_pairs(&stored.fields) {
                        from_span.push((name.clone(), span.name()));
                        span_fields.push((name, value));
                    }
                }
            }
            object.insert("span", Value::from(names.join(":")));
            for (name, value) in span_fields {
                object.insert(&name, value);
            }
        }
        for (name, value) in visitor.fields {
            // The event's `url` (an item's) and its span's (the feed's) are both kept: the
            // span's as `poll.url`.
            if let Some((_, span)) = from_span.iter().rev().find(|(key, _)| *key == name)
                && let Some(old) = object.remove(&name)
            {
                object.insert(&format!("{span}.{name}"), old);
            }
            object.insert(&name, value);
        }
        writeln!(writer, "{}", to_json(&object).map_err(|_| fmt::Error)?)
    }
}

/// A JSON object that keeps its keys in the order they were first inserted.
#[derive(Default)]
struct Object(Vec<(String, Value)>);

impl Object {
    fn insert(&mut self, name: &str, value: Value) {
        match self.0.iter_mut().find(|(key, _)| key == name) {
            Some((_, old)) => *old = value,
            None => self.0.push((name.to_string(), value)),
        }
    }

    fn remove(&mut self, name: &str) -> Option<Value> {
        let at = self.0.iter().position(|(key, _)| key == name)?;
        Some(self.0.remove(at).1)
    }
}

impl Serialize for Object {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// Collects fields as typed JSON values.
#[derive(Default)]
struct JsonVisitor {
    fields: Vec<(String, Value)>,
}

impl JsonVisitor {
    fn push(&mut self, field: &Field, value: Value) {
        let name = field.name();
        if name.starts_with("log.") {
            return;
        }
        let name = name.trim_start_matches("r#");
        match self.fields.iter_mut().find(|(key, _)| key == name) {
            Some((_, old)) => *old = value,
            None => self.fields.push((name.to_string(), value)),
        }
    }
}

impl Visit for JsonVisitor {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let number = serde_json::Number::from_f64(value)
            .map_or_else(|| Value::from(value.to_string()), Value::Number);
        self.push(field, number);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::from(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, Value::from(error_chain(value)));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.push(field, Value::from(text));
            return;
        }
        self.push(field, typed(text));
    }
}

/// A value recorded by its `Debug` (or, with `%`, `Display`) text as JSON: a list (of
/// numbers, of strings) as an array, anything else as a string.
fn typed(text: String) -> Value {
    if text.starts_with('[') && text.ends_with(']') {
        if let Ok(array @ Value::Array(_)) = serde_json::from_str(&text) {
            return array;
        }
        if let Some(items) = debug_strings(&text) {
            return Value::from(items);
        }
    }
    Value::from(text)
}

/// The items of a list of strings as `Debug` writes it (`["north korea", "a\"b"]`), or
/// `None` when `text` is not one.
fn debug_strings(text: &str) -> Option<Vec<String>> {
    let inner = text.strip_prefix('[')?.strip_suffix(']')?;
    let mut chars = inner.chars().peekable();
    let mut items = Vec::new();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.next() {
            None if items.is_empty() => return Some(items),
            Some('"') => {}
            _ => return None,
        }
        let mut item = String::new();
        loop {
            match chars.next()? {
                '"' => break,
                '\\' => item.push(match chars.next()? {
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    '0' => '\0',
                    '\\' => '\\',
                    '"' => '"',
                    '\'' => '\'',
                    'u' => {
                        if chars.next()? != '{' {
                            return None;
                        }
                        let mut hex = String::new();
                        loop {
                            match chars.next()? {
                                '}' => break,
                                digit => hex.push(digit),
                            }
                        }
                        char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
                    }
                    _ => return None,
                }),
                c => item.push(c),
            }
        }
        items.push(item);
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.next() {
            None => return Some(items),
            Some(',') => {}
            Some(_) => return None,
        }
    }
}

/// An error and its causes, `: `-separated, each once.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    fn level(args: &[&str], terminal: bool) -> LevelFilter {
        let cli = Cli::try_parse_from(std::iter::once("watchword").chain(args.iter().copied()))
            .expect("valid arguments");
        log_level(&cli, terminal)
    }

    #[test]
    fn once_on_a_terminal_logs_warnings_unless_told() {
        assert_eq!(level(&["once"], true), LevelFilter::WARN);
        assert_eq!(level(&["once"], false), LevelFilter::INFO);
        assert_eq!(level(&["once", "-v"], true), LevelFilter::INFO);
        assert_eq!(level(&["-q", "once"], false), LevelFilter::ERROR);
        assert_eq!(level(&["once", "--quiet"], true), LevelFilter::ERROR);
        assert_eq!(level(&["run"], true), LevelFilter::INFO);
        assert_eq!(level(&["feeds", "-q"], true), LevelFilter::ERROR);
        assert!(Cli::try_parse_from(["watchword", "once", "-q", "-v"]).is_err());
    }

    #[test]
    fn text_values_are_quoted_when_they_hold_spaces() {
        assert_eq!(quoted("plain"), "plain");
        assert_eq!(quoted("https://e.example/a?b=c"), "https://e.example/a?b=c");
        assert_eq!(quoted("Seoul Courier"), "\"Seoul Courier\"");
        assert_eq!(quoted(""), "\"\"");
        assert_eq!(quoted("say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(quoted("a\\b c"), "\"a\\\\b c\"");
        assert_eq!(quoted("two\nlines"), "\"two\\nlines\"");
        assert_eq!(quoted("red\u{1b}[31m"), "\"red\\u{1b}[31m\"");
        assert_eq!(escape_message("one\ntwo\u{1b}"), "one\ntwo\\u{1b}");
    }

    #[test]
    fn debug_lists_are_read_back() {
        let terms = vec!["north korea", "say \"hi\"", "tab\there", "esc\u{1b}", "😀"];
        assert_eq!(
            debug_strings(&format!("{terms:?}")).unwrap(),
            terms.iter().map(|t| t.to_string()).collect::<Vec<_>>()
        );
        assert_eq!(debug_strings("[]"), Some(vec![]));
        assert_eq!(debug_strings("[Breaking] news"), None);
        assert_eq!(debug_strings("[\"a\" \"b\"]"), None);
        assert_eq!(typed("[1, 2]".into()), serde_json::json!([1, 2]));
        assert_eq!(
            typed(format!("{:?}", ["a\u{202e}b"])),
            serde_json::json!(["a\u{202e}b"])
        );
        assert_eq!(
            typed("[Breaking] news".into()),
            serde_json::json!("[Breaking] news")
        );
        assert_eq!(typed("plain".into()), serde_json::json!("plain"));
    }
}
