//! The `[[feed]]` tables compiled: names, sources (URLs and paths, with the scheme a bare
//! host was missing), intervals; and the `listen` address.

use super::*;

pub(super) fn compile_feeds(
    raw: &[RawFeed],
    daemon: &DaemonConfig,
    base: &Path,
    kind_of: Option<KindOf<'_>>,
    sink: &mut Diagnostics<'_>,
) -> Vec<FeedConfig> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut feeds = Vec::with_capacity(raw.len());
    for feed in raw {
        let name = feed.name.get_ref().trim();
        if name.is_empty() {
            sink.error(feed.name.span(), "feed name is empty".into());
        } else {
            once_only(&mut seen, "feed name", name, feed.name.span(), sink);
        }
        let source = match parse_source(feed.url.get_ref(), base) {
            Ok(source) => Some(source),
            Err(message) => {
                sink.error(feed.url.span(), message);
                None
            }
        };
        if let (Some(FeedSource::File(file)), Some(kind_of)) = (&source, kind_of)
            && let Some(kind) = kind_of(file).filter(|kind| *kind != PathKind::File)
        {
            sink.error(
                feed.url.span(),
                format!(
                    "feed {name:?} reads {}, which is {}, not a regular file",
                    file.display(),
                    kind.describe()
                ),
            );
        }
        let interval = compile_interval(&feed.interval, daemon.interval, sink);
        let fetch_article = compile_article_policy(&feed.fetch_article, daemon.fetch_article, sink);
        let first_poll = compile_first_poll(&feed.first_poll, daemon.first_poll, sink);
        let stale_after = compile_stale_after(&feed.stale_after, daemon.stale_after, sink);
        let user_agent = feed
            .user_agent
            .as_ref()
            .map(|value| compile_user_agent(&Some(value.clone()), &daemon.user_agent, sink));
        if let Some(source) = source {
            feeds.push(FeedConfig {
                name: name.to_string(),
                source,
                interval,
                fetch_article,
                first_poll,
                stale_after,
                user_agent,
            });
        }
    }
    feeds
}

/// Turns an `[http] listen` value into the address to bind: an IP address and port
/// (`127.0.0.1:8787`, `[::1]:8787`, `0.0.0.0:8787`), or `localhost:PORT`, which is
/// 127.0.0.1 (the loopback address every system has). Other host names are refused rather
/// than resolved: the address is bound once at start, and a name that resolves to a public
/// interface would expose the endpoint without anyone having written that address.
pub fn parse_listen(text: &str) -> Result<std::net::SocketAddr, String> {
    let trimmed = text.trim();
    if let Ok(address) = trimmed.parse() {
        return Ok(address);
    }
    let (host, port) = trimmed.rsplit_once(':').unwrap_or((trimmed, ""));
    match port.parse::<u16>() {
        Ok(port) if host.eq_ignore_ascii_case("localhost") => {
            Ok(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        }
        Ok(_) if !host.is_empty() => Err(format!(
            "listen {text:?}: a host name other than localhost is not resolved; give an IP address such as 127.0.0.1:{port} or 0.0.0.0:{port}"
        )),
        _ => Err(format!(
            "listen {text:?} is not an address and port such as 127.0.0.1:8787 or localhost:8787"
        )),
    }
}

/// Turns a feed `url` value into a source: http(s) URLs, `file:` URLs, or plain paths
/// resolved against `base` (the config file's folder, or the current one for a feed given on
/// the command line).
pub fn parse_source(text: &str, base: &Path) -> Result<FeedSource, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("feed url is empty".into());
    }
    if let Some(url) = missing_scheme(text) {
        return Err(format!("no scheme: did you mean {url}?"));
    }
    let has_scheme = text.split_once(':').is_some_and(|(scheme, _)| {
        scheme.len() > 1
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if !has_scheme {
        if text.contains("//") {
            return Err(format!(
                "{text:?} is neither a URL (no scheme such as https://) nor a plausible file path"
            ));
        }
        return Ok(FeedSource::File(base.join(text)));
    }
    let url = Url::parse(text).map_err(|e| format!("invalid feed url {text:?}: {e}"))?;
    match url.scheme() {
        "http" | "https" => {
            if url.host_str().is_none_or(str::is_empty) {
                return Err(format!("invalid feed url {text:?}: no host"));
            }
            Ok(FeedSource::Http(url))
        }
        "file" => {
            let path = url
                .to_file_path()
                .map_err(|()| format!("invalid file url {text:?}"))?;
            Ok(FeedSource::File(path))
        }
        scheme => Err(format!(
            "unsupported url scheme {scheme:?} in {text:?} (use http, https, file or a path)"
        )),
    }
}

/// Top-level domains that mark a first segment as a host name even without a `/` after it
/// (`example.com`); any two letters (a country's domain) count only before a `/`.
const HOST_SUFFIXES: &[&str] = &[
    "com", "org", "net", "edu", "gov", "mil", "int", "info", "biz", "name", "pro", "io", "co",
    "me", "tv", "fm", "ai", "eu", "asia", "app", "dev", "news", "blog", "xyz", "online", "site",
    "tech", "media", "press", "today", "world", "live", "cloud", "page",
];

/// The URL meant by a feed value that reads like one without its scheme, else `None` (a
/// path, or something `parse_source` judges on). The rule:
///
/// - `HOST:PORT`, alone or before a `/` (`localhost:8080/feed.xml`), lacks a scheme: no path
///   and no URL looks like that. Suggested with `http://` (a port is mostly a local server).
/// - Otherwise the first segment (before the first `/`, `?` or `#`; the whole value without
///   one) is taken for a host name when it is two or more non-empty dot-separated labels of
///   ASCII letters, digits and `-`, not all digits, and the first label is `www`, or the last
///   is one of [`HOST_SUFFIXES`], or the last is two letters and a `/` follows
///   (`spiegel.de/rss`, `bbc.co.uk/news`). Suggested with `https://`.
///
/// So `feeds/local.xml`, `./x.rss`, `/abs/path.xml`, `news.xml` and `notes.md` stay paths
/// (a file's extension is not a top-level domain here, and a segment without a dot is no
/// host), while `example.com/feed.xml` and `www.x.org/rss` are errors. The rule reads only
/// the text, not the disk, so `run` and `check` judge a value alike: a folder that really is
/// called `example.com` is written `./example.com/feed.xml`.
fn missing_scheme(text: &str) -> Option<String> {
    let first_end = text.find(['/', '?', '#']).unwrap_or(text.len());
    let first = &text[..first_end];
    if let Some((host, port)) = first.rsplit_once(':')
        && !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && !port.is_empty()
        && port.len() <= 5
        && port.chars().all(|c| c.is_ascii_digit())
    {
        return Some(format!("http://{text}"));
    }
    let labels: Vec<&str> = first.split('.').collect();
    let is_host_name = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && !labels
            .iter()
            .all(|label| label.chars().all(|c| c.is_ascii_digit()));
    if !is_host_name {
        return None;
    }
    let top = labels[labels.len() - 1].to_ascii_lowercase();
    let followed_by_path = text[first_end..].starts_with('/');
    let looks_like_host = labels[0].eq_ignore_ascii_case("www")
        || HOST_SUFFIXES.contains(&top.as_str())
        || (followed_by_path && top.len() == 2 && top.chars().all(|c| c.is_ascii_alphabetic()));
    looks_like_host.then(|| format!("https://{text}"))
}
