//! The `[[alert]]` tables: each sink's keys checked and compiled, message templates, header
//! names and email addresses.

use super::*;

pub(super) fn compile_alerts(
    raw: &[RawAlert],
    topics: &[Topic],
    base: &Path,
    sink: &mut Diagnostics<'_>,
) -> Vec<AlertConfig> {
    let mut names: HashMap<String, usize> = HashMap::new();
    // Outbox rows are keyed by sink name, so a name must not depend on the order of the
    // tables: a kind used more than once needs explicit names.
    let mut kind_counts: HashMap<&str, usize> = HashMap::new();
    for alert in raw {
        *kind_counts
            .entry(alert.kind.get_ref().as_str())
            .or_default() += 1;
    }
    let mut alerts = Vec::with_capacity(raw.len());
    for alert in raw {
        let Some(compiled) = compile_sink(alert, base, sink) else {
            continue;
        };
        let kind = compiled.kind();
        let name = match &alert.name {
            Some(name) if !is_identifier(name.get_ref()) => {
                sink.error(
                    name.span(),
                    format!(
                        "alert name {:?} must be non-empty and use only letters, digits, _ and -",
                        name.get_ref()
                    ),
                );
                continue;
            }
            Some(name) => name.get_ref().clone(),
            None if kind_counts.get(kind).copied().unwrap_or(0) > 1 => {
                sink.error(
                    alert.kind.span(),
                    format!(
                        "there are several {kind} alerts: give each its own `name` (deliveries are kept by name)"
                    ),
                );
                continue;
            }
            None => kind.to_string(),
        };
        let start = alert.name.as_ref().unwrap_or(&alert.kind).span().start;
        if let Some(first) = names.get(&name) {
            let first_line = sink.line_of(*first);
            sink.error(
                start..start,
                format!(
                    "duplicate alert name {name:?} (first defined on line {first_line}); give each sink its own `name`"
                ),
            );
            continue;
        }
        names.insert(name.clone(), start);
        let topic_ids = alert.topics.as_ref().map(|list| {
            for id in list.get_ref() {
                if !topics.iter().any(|topic| &topic.id == id.get_ref()) {
                    let known: Vec<&str> = topics.iter().map(|t| t.id.as_str()).collect();
                    sink.error(
                        id.span(),
                        format!(
                            "unknown topic {:?} (topics: {})",
                            id.get_ref(),
                            known.join(", ")
                        ),
                    );
                }
            }
            list.get_ref()
                .iter()
                .map(|id| id.get_ref().clone())
                .collect()
        });
        // A digest window of at most a day: its matches wait that long to be sent.
        let digest = alert.digest.as_ref().map(|_| {
            compile_duration(
                "digest",
                &alert.digest,
                DAY,
                Duration::from_secs(1)..=DAY,
                sink,
            )
        });
        let template = alert.template.as_ref().map(|template| {
            if let Err((offset, message)) = check_template(template.get_ref()) {
                let at = string_body_offset(sink.text, template.span(), offset);
                sink.error(at..at, format!("in template: {message}"));
            }
            template.get_ref().clone()
        });
        alerts.push(AlertConfig {
            name,
            topics: topic_ids,
            digest,
            template,
            sink: compiled,
        });
    }
    alerts
}

/// The keys every `[[alert]]` may have, whatever its kind.
pub(super) const ALERT_KEYS: &[&str] = &["kind", "name", "topics", "digest", "template"];

/// The keys a sink kind adds to [`ALERT_KEYS`]; `None` for an unknown kind.
pub(super) fn sink_keys(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "log" => &[],
        "jsonl" => &["path"],
        "webhook" => &["url", "format", "headers", "secret", "timeout"],
        "exec" => &["command", "timeout"],
        "email" => &[
            "host", "port", "tls", "from", "to", "user", "password", "timeout",
        ],
        _ => return None,
    })
}

/// The kind-specific part of an `[[alert]]`: required keys present, keys of other kinds
/// absent, values valid.
pub(super) fn compile_sink(
    alert: &RawAlert,
    base: &Path,
    sink: &mut Diagnostics<'_>,
) -> Option<SinkConfig> {
    let kind = alert.kind.get_ref().as_str();
    // (key, present, span) for every kind-specific key.
    let keys: [(&str, Option<Range<usize>>); 14] = [
        ("path", alert.path.as_ref().map(Spanned::span)),
        ("url", alert.url.as_ref().map(Spanned::span)),
        ("format", alert.format.as_ref().map(Spanned::span)),
        ("headers", alert.headers.as_ref().map(Spanned::span)),
        ("secret", alert.secret.as_ref().map(Spanned::span)),
        ("user", alert.user.as_ref().map(Spanned::span)),
        ("password", alert.password.as_ref().map(Spanned::span)),
        ("command", alert.command.as_ref().map(Spanned::span)),
        ("timeout", alert.timeout.as_ref().map(Spanned::span)),
        ("host", alert.host.as_ref().map(Spanned::span)),
        ("port", alert.port.as_ref().map(Spanned::span)),
        ("tls", alert.tls.as_ref().map(Spanned::span)),
        ("from", alert.from.as_ref().map(Spanned::span)),
        ("to", alert.to.as_ref().map(Spanned::span)),
    ];
    let Some(allowed) = sink_keys(kind) else {
        sink.error(
            alert.kind.span(),
            format!("unknown alert kind {kind:?} (use log, jsonl, webhook, exec or email)"),
        );
        return None;
    };
    let errors_before = sink.found.len();
    for (key, span) in &keys {
        if let Some(span) = span
            && !allowed.contains(key)
        {
            sink.error(
                span.clone(),
                format!("`{key}` does not apply to {} {kind} alert", article(kind)),
            );
        }
    }
    if kind == "jsonl"
        && let Some(template) = &alert.template
    {
        sink.error(
            template.span(),
            "`template` does not apply to a jsonl alert (it writes the match record)".into(),
        );
    }
    let kind_span = alert.kind.span();
    let required = |key: &str, sink: &mut Diagnostics<'_>| {
        sink.error(
            kind_span.clone(),
            format!("{} {kind} alert needs `{key}`", capitalized(article(kind))),
        );
    };
    let timeout = compile_duration(
        "timeout",
        &alert.timeout,
        Duration::from_secs(30),
        Duration::from_secs(1)..=HOUR,
        sink,
    );
    let compiled = match kind {
        "log" => SinkConfig::Log,
        "jsonl" => match &alert.path {
            Some(path) if !path.get_ref().trim().is_empty() => SinkConfig::Jsonl {
                path: base.join(path.get_ref()),
            },
            Some(path) => {
                sink.error(path.span(), "path is empty".into());
                return None;
            }
            None => {
                required("path", sink);
                return None;
            }
        },
        "webhook" => {
            let Some(url) = &alert.url else {
                required("url", sink);
                return None;
            };
            let parsed = match secret(url) {
                // A literal address is checked now; one from elsewhere when it is read.
                Secret::Literal(text) => match check_webhook_url(&text) {
                    Ok(()) => Secret::Literal(text.trim().to_string()),
                    Err(message) => {
                        sink.error(url.span(), message);
                        return None;
                    }
                },
                other => other,
            };
            let format = match alert
                .format
                .as_ref()
                .map(|f| (f.get_ref().as_str(), f.span()))
            {
                None | Some(("json", _)) => WebhookFormat::Json,
                Some(("slack", _)) => WebhookFormat::Slack,
                Some(("discord", _)) => WebhookFormat::Discord,
                Some(("ntfy", _)) => WebhookFormat::Ntfy,
                Some((other, span)) => {
                    sink.error(
                        span,
                        format!(
                            "unknown webhook format {other:?} (use json, slack, discord or ntfy)"
                        ),
                    );
                    WebhookFormat::Json
                }
            };
            let mut headers = Vec::new();
            for (name, value) in alert.headers.iter().flat_map(|h| h.get_ref()) {
                if !is_header_name(name) {
                    sink.error(
                        value.span(),
                        format!("header name {name:?} is not a valid HTTP header name"),
                    );
                } else if ["content-type", "idempotency-key"]
                    .contains(&name.to_ascii_lowercase().as_str())
                {
                    sink.error(
                        value.span(),
                        format!("header {name:?} is set by watchword and cannot be overridden"),
                    );
                } else if let RawSecret::Text(text) = value.get_ref()
                    && text.chars().any(|c| c.is_control() && c != '\t')
                {
                    sink.error(
                        value.span(),
                        format!("header {name:?} has a control character in its value"),
                    );
                }
                headers.push((name.clone(), secret(value)));
            }
            SinkConfig::Webhook {
                url: parsed,
                format,
                headers,
                secret: alert.secret.as_ref().map(secret),
                timeout,
            }
        }
        "exec" => {
            let Some(command) = &alert.command else {
                required("command", sink);
                return None;
            };
            if command
                .get_ref()
                .first()
                .is_none_or(|program| program.get_ref().trim().is_empty())
            {
                sink.error(
                    command.span(),
                    "command needs a program: [\"program\", \"arg\", …] (run without a shell)"
                        .into(),
                );
                return None;
            }
            SinkConfig::Exec {
                command: command
                    .get_ref()
                    .iter()
                    .map(|arg| arg.get_ref().clone())
                    .collect(),
                timeout,
            }
        }
        "email" => {
            let (Some(host), Some(from), Some(to)) = (&alert.host, &alert.from, &alert.to) else {
                for (key, present) in [
                    ("host", alert.host.is_some()),
                    ("from", alert.from.is_some()),
                    ("to", alert.to.is_some()),
                ] {
                    if !present {
                        required(key, sink);
                    }
                }
                return None;
            };
            let tls = match alert.tls.as_ref().map(|t| (t.get_ref().as_str(), t.span())) {
                None | Some(("starttls", _)) => EmailTls::Starttls,
                Some(("tls", _)) => EmailTls::Tls,
                Some(("none", _)) => EmailTls::None,
                Some((other, span)) => {
                    sink.error(
                        span,
                        format!("unknown tls mode {other:?} (use starttls, tls or none)"),
                    );
                    EmailTls::Starttls
                }
            };
            let port = match &alert.port {
                None => match tls {
                    EmailTls::Tls => 465,
                    EmailTls::Starttls => 587,
                    EmailTls::None => 25,
                },
                Some(port) => match u16::try_from(*port.get_ref()) {
                    Ok(port) if port > 0 => port,
                    _ => {
                        sink.error(
                            port.span(),
                            format!("port {} is out of range", port.get_ref()),
                        );
                        25
                    }
                },
            };
            if host.get_ref().trim().is_empty() {
                sink.error(host.span(), "host is empty".into());
            }
            for address in std::iter::once(from).chain(to.get_ref()) {
                if !is_email_address(address.get_ref()) {
                    sink.error(
                        address.span(),
                        format!("{:?} is not an email address", address.get_ref()),
                    );
                }
            }
            if to.get_ref().is_empty() {
                sink.error(to.span(), "`to` lists no address".into());
            }
            let email = SinkConfig::Email {
                host: host.get_ref().trim().to_string(),
                port,
                tls,
                from: from.get_ref().trim().to_string(),
                to: to
                    .get_ref()
                    .iter()
                    .map(|a| a.get_ref().trim().to_string())
                    .collect(),
                user: alert.user.as_ref().map(secret),
                password: alert.password.as_ref().map(secret),
                timeout,
            };
            if let (Some(given), None) | (None, Some(given)) = (&alert.user, &alert.password) {
                sink.error(
                    given.span(),
                    "give the email sink both `user` and `password`, or neither (then they \
                     come from WATCHWORD_SMTP_USER and WATCHWORD_SMTP_PASSWORD)"
                        .into(),
                );
            }
            email
        }
        _ => unreachable!("unknown kinds returned above"),
    };
    (sink.found.len() == errors_before).then_some(compiled)
}

/// "a" or "an" before a sink kind.
fn article(kind: &str) -> &'static str {
    if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// A secret value as the config names it.
fn secret(value: &Spanned<RawSecret>) -> Secret {
    match value.get_ref().clone() {
        RawSecret::Text(text) => Secret::Literal(text),
        RawSecret::Env { env } => Secret::Env(env),
        RawSecret::Credential { credential } => Secret::Credential(credential),
    }
}

/// Whether `url` can be a webhook's address: an http or https URL.
pub fn check_webhook_url(url: &str) -> Result<(), String> {
    match Url::parse(url.trim()) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(()),
        Ok(parsed) => Err(format!(
            "webhook url must be http or https, not {:?}",
            parsed.scheme()
        )),
        Err(error) => Err(format!("invalid webhook url: {error}")),
    }
}

/// Checks a message template: `{name}` placeholders must be known; `{{` and `}}` are
/// literal braces. On error, the byte offset and a message.
pub fn check_template(template: &str) -> Result<(), (usize, String)> {
    let mut rest = template.char_indices().peekable();
    while let Some((at, c)) = rest.next() {
        match c {
            '{' if rest.next_if(|&(_, c)| c == '{').is_some() => {}
            '}' if rest.next_if(|&(_, c)| c == '}').is_some() => {}
            '{' => {
                let name: String = std::iter::from_fn(|| rest.next_if(|&(_, c)| c != '}'))
                    .map(|(_, c)| c)
                    .collect();
                if rest.next().is_none() {
                    return Err((at, "unclosed `{` (write `{{` for a literal brace)".into()));
                }
                if !TEMPLATE_FIELDS.contains(&name.as_str()) {
                    let known: Vec<String> =
                        TEMPLATE_FIELDS.iter().map(|f| format!("{{{f}}}")).collect();
                    return Err((
                        at,
                        format!("unknown placeholder {{{name}}} (use {})", known.join(", ")),
                    ));
                }
            }
            '}' => return Err((at, "unmatched `}` (write `}}` for a literal brace)".into())),
            _ => {}
        }
    }
    Ok(())
}

/// An HTTP header name: a non-empty token (RFC 9110).
pub(super) fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A plausible address: `local@domain`, optionally as `Name <local@domain>`. The SMTP
/// library checks it fully when the message is built.
pub(super) fn is_email_address(text: &str) -> bool {
    let text = text.trim();
    let address = match (text.rfind('<'), text.strip_suffix('>')) {
        (Some(open), Some(inner)) => &inner[open + 1..],
        _ => text,
    };
    match address.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !address
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || "<>,".contains(c))
        }
        None => false,
    }
}
