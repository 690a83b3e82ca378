//! A hostile HTTP/1.1 server on 127.0.0.1 (ephemeral port) for the hostile-feed tests,
//! written by hand on a tokio `TcpListener` because the cases misbehave at the socket
//! level (a body dripped a byte a second, a body that never ends, a gzip bomb streamed as it
//! is read), which a mock server cannot do. Every response closes its connection.
//!
//! The paths, by case:
//!
//! | path | what it serves |
//! |---|---|
//! | `/good.xml` | a valid RSS feed whose one item matches `satellite_launch` |
//! | `/drip` | a feed's head at once, then its body at one byte per second |
//! | `/drip-head` | the status line and headers at one byte per second |
//! | `/endless` | a chunked feed body that never ends |
//! | `/endless-headers` | a status line, then header lines that never end |
//! | `/short-body` | a `Content-Length` of 100,000 and 20 bytes before the connection closes |
//! | `/gzip-bomb` | `Content-Encoding: gzip`, about 1 MB compressed, 1 GiB of zeros inflated |
//! | `/loop-a`, `/loop-b` | 302s to each other |
//! | `/to-file`, `/to-ftp` | a 302 to `file:///etc/passwd`, a 301 to an `ftp:` URL |
//! | `/moved-301`, `/moved-308` | a 301 / 308 to `/feeds/moved-301.xml` / `…-308.xml` |
//! | `/status/404`, `/status/410`, `/status/500` | that status |
//! | `/status/429` | 429 with `Retry-After: 120` |
//! | `/status/503` | 503 with `Retry-After` an HTTP date an hour ahead |
//! | `/wrong-type/html`, `/wrong-type/octet` | a valid feed as `text/html`, `application/octet-stream` |
//! | `/page.html` | an HTML page linking `/feeds/discovered.xml` as `application/rss+xml` |
//! | `/page-other-host.html` | the same, linking the feed on `localhost` (another host) |
//! | `/page-vanishing.html` | a page linking `/vanishing.xml`, a feed on its first request and a 404 after |
//! | `/html-no-feed.html` | an HTML page without a feed link |
//! | `/invalid.xml` | XML cut off in the middle of an item |
//! | `/invalid-ansi.xml` | broken XML (no complete item) whose parse error quotes escape sequences |
//! | `/entity-bomb.xml` | a billion-laughs entity expansion in the DOCTYPE |
//! | `/enc/prolog/{windows-1251,euc-kr,shift_jis,utf-16}.xml` | the encoding in the XML declaration only |
//! | `/enc/header/{windows-1251,euc-kr,shift_jis,utf-16}.xml` | the encoding in the `Content-Type` only |
//! | `/enc/bom/{utf-8,utf-16le,utf-16be}.xml` | a byte-order mark, no declared encoding |
//! | `/big/100k.xml` | 100,000 items |
//! | `/big/title-5mb.xml` | an item whose title is 5 MB |
//! | `/big/long-link.xml` | an item whose guid and link are 1 MB each |
//! | `/ansi.xml` | titles with control characters and ANSI escape sequences |
//! | `/dup-guids.xml` | items sharing one guid, and an identical copy |
//! | `/rotating.xml` | the same articles under new guids on every request |
//! | `/feeds/{name}.xml` | a valid feed with one item titled after `name` |

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// Text of the feeds in other scripts, and the encodings they are served in.
pub const CYRILLIC: &str = "Северная Корея запустила спутник-шпион";
pub const KOREAN: &str = "북한, 군사정찰위성 발사";
pub const JAPANESE: &str = "北朝鮮が軍事偵察衛星を発射";

/// The encoding cases: path stem, encoding label, title text.
pub const ENCODINGS: &[(&str, &str, &str)] = &[
    ("windows-1251", "windows-1251", CYRILLIC),
    ("euc-kr", "EUC-KR", KOREAN),
    ("shift_jis", "Shift_JIS", JAPANESE),
    ("utf-16", "UTF-16", KOREAN),
];

/// How much the gzip bomb inflates to.
pub const BOMB_INFLATED: u64 = 1 << 30;

/// The running server. Dropping it stops the server and every connection it serves.
pub struct Hostile {
    addr: SocketAddr,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Hostile {
    pub async fn start() -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let counted = hits.clone();
        let task = tokio::spawn(async move {
            // Connections live in the set, so aborting this task drops them all.
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        connections.spawn(serve(stream, addr, counted.clone()));
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        Hostile { addr, hits, task }
    }

    /// The URL of `path` on 127.0.0.1.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// How many requests `path` has had.
    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

/// Reads one request and answers it; the connection closes afterwards.
async fn serve(mut stream: TcpStream, addr: SocketAddr, hits: Arc<Mutex<HashMap<String, usize>>>) {
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buffer[..n]),
        }
        if head.len() > 64 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&head);
    let target = head.split(' ').nth(1).unwrap_or("/").to_string();
    let path = target.split('?').next().unwrap_or("/").to_string();
    let n = {
        let mut hits = hits.lock().unwrap();
        let count = hits.entry(path.clone()).or_default();
        *count += 1;
        *count
    };
    // Write errors mean the client hung up (at its cap or deadline): nothing to do.
    let _ = respond(&mut stream, addr, &path, n).await;
}

async fn respond(
    stream: &mut TcpStream,
    addr: SocketAddr,
    path: &str,
    n: usize,
) -> std::io::Result<()> {
    const RSS: &str = "application/rss+xml";
    match path {
        "/good.xml" => {
            let body = rss(
                "good",
                &[Entry::linked(
                    "good-1",
                    "Good feed: North Korea launches Malligyong-1 spy satellite",
                )],
            );
            fixed(stream, 200, &[("Content-Type", RSS)], body.as_bytes()).await
        }
        "/drip" => {
            let body = rss("drip", &[Entry::linked("drip-1", "never arrives")]);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {RSS}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).await?;
            drip(stream, body.as_bytes()).await
        }
        "/drip-head" => {
            let body = rss("drip", &[Entry::linked("drip-1", "never arrives")]);
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {RSS}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            drip(stream, response.as_bytes()).await
        }
        "/endless" => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {RSS}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await?;
            chunk(
                stream,
                b"<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>endless</title>",
            )
            .await?;
            let items: String = (0..500)
                .map(|i| format!("<item><guid>e{i}</guid><title>more</title></item>"))
                .collect();
            loop {
                chunk(stream, items.as_bytes()).await?;
            }
        }
        "/endless-headers" => {
            stream.write_all(b"HTTP/1.1 200 OK\r\n").await?;
            let mut n = 0u64;
            loop {
                n += 1;
                stream
                    .write_all(format!("X-Filler-{n}: {}\r\n", "x".repeat(1000)).as_bytes())
                    .await?;
            }
        }
        "/short-body" => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {RSS}\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(b"<?xml version=\"1.0\"?>").await?;
            stream.shutdown().await
        }
        "/gzip-bomb" => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {RSS}\r\nContent-Encoding: gzip\r\nConnection: close\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await?;
            let (block, block_inflated) = bomb_block();
            // gzip header: magic, deflate, no flags, no time, max compression, unix.
            stream
                .write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3])
                .await?;
            for _ in 0..BOMB_INFLATED / block_inflated {
                stream.write_all(block).await?;
            }
            // The final (empty, fixed-Huffman) block, then a trailer no client that stops at
            // its cap ever reads: CRC left zero, length mod 2^32.
            stream.write_all(&[0x03, 0x00]).await?;
            stream.write_all(&0u32.to_le_bytes()).await?;
            stream
                .write_all(&(BOMB_INFLATED as u32).to_le_bytes())
                .await
        }
        "/loop-a" => redirect(stream, 302, "/loop-b").await,
        "/loop-b" => redirect(stream, 302, "/loop-a").await,
        "/to-file" => redirect(stream, 302, "file:///etc/passwd").await,
        "/to-ftp" => redirect(stream, 301, &format!("ftp://{addr}/feed.xml")).await,
        "/moved-301" => redirect(stream, 301, "/feeds/moved-301.xml").await,
        "/moved-308" => redirect(stream, 308, "/feeds/moved-308.xml").await,
        "/status/404" => fixed(stream, 404, &[], b"not found").await,
        "/status/410" => fixed(stream, 410, &[], b"gone").await,
        "/status/500" => fixed(stream, 500, &[], b"internal error").await,
        "/status/429" => fixed(stream, 429, &[("Retry-After", "120")], b"slow down").await,
        "/status/503" => {
            let date = (chrono::Utc::now() + chrono::Duration::hours(1))
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string();
            fixed(stream, 503, &[("Retry-After", &date)], b"maintenance").await
        }
        "/wrong-type/html" | "/wrong-type/octet" => {
            let kind = path.rsplit('/').next().unwrap();
            let body = rss(
                kind,
                &[Entry::linked(
                    &format!("wrong-type-{kind}"),
                    &format!("Served as {kind}: Pyongyang spy satellite"),
                )],
            );
            let content_type = if kind == "html" {
                "text/html; charset=utf-8"
            } else {
                "application/octet-stream"
            };
            fixed(
                stream,
                200,
                &[("Content-Type", content_type)],
                body.as_bytes(),
            )
            .await
        }
        "/page.html" => {
            let page = html_page("/feeds/discovered.xml");
            fixed(
                stream,
                200,
                &[("Content-Type", "text/html")],
                page.as_bytes(),
            )
            .await
        }
        "/page-other-host.html" => {
            let link = format!(
                "http://localhost:{}/feeds/discovered-other.xml",
                addr.port()
            );
            let page = html_page(&link);
            fixed(
                stream,
                200,
                &[("Content-Type", "text/html")],
                page.as_bytes(),
            )
            .await
        }
        "/page-vanishing.html" => {
            let page = html_page("/vanishing.xml");
            fixed(
                stream,
                200,
                &[("Content-Type", "text/html")],
                page.as_bytes(),
            )
            .await
        }
        "/vanishing.xml" if n == 1 => {
            let body = rss(
                "vanishing",
                &[Entry::linked(
                    "vanishing-1",
                    "Vanishing feed: Pyongyang spy satellite",
                )],
            );
            fixed(stream, 200, &[("Content-Type", RSS)], body.as_bytes()).await
        }
        "/html-no-feed.html" => {
            let page = "<!DOCTYPE html><html><head><title>News</title>\
                <link rel=\"stylesheet\" href=\"/s.css\"></head><body><p>No feed here.</p></body></html>";
            fixed(
                stream,
                200,
                &[("Content-Type", "text/html")],
                page.as_bytes(),
            )
            .await
        }
        "/invalid.xml" => {
            let body = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>broken</title><item><title>cut off";
            fixed(stream, 200, &[("Content-Type", RSS)], body.as_bytes()).await
        }
        "/invalid-ansi.xml" => {
            let body = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>broken\u{1b}[31m</title>\
                <item><title>x</tit\u{1b}]0;pwned\u{7}le><description>the document breaks off \
                before its first item ends, so there is nothing to repair";
            fixed(stream, 200, &[("Content-Type", RSS)], body.as_bytes()).await
        }
        "/entity-bomb.xml" => {
            let mut entities = String::from("<!ENTITY lol \"lol\">");
            for level in 1..=9 {
                let previous = if level == 1 {
                    "lol".to_string()
                } else {
                    format!("lol{}", level - 1)
                };
                entities.push_str(&format!(
                    "<!ENTITY lol{level} \"{}\">",
                    format!("&{previous};").repeat(10)
                ));
            }
            let body = format!(
                "<?xml version=\"1.0\"?><!DOCTYPE rss [{entities}]><rss version=\"2.0\"><channel><title>bomb</title>\
                 <item><guid>bomb-1</guid><title>&lol9; Pyongyang spy satellite</title><link>http://news.invalid/bomb-1</link></item>\
                 </channel></rss>"
            );
            fixed(stream, 200, &[("Content-Type", RSS)], body.as_bytes()).await
        }
        "/big/100k.xml" => {
            fixed(
                stream,
                200,
                &[("Content-Type", RSS)],
                hundred_thousand_items(),
            )
            .await
        }
        "/big/title-5mb.xml" => {
            let title = format!(
                "Pyongyang spy satellite {}",
                "lorem ipsum dolor sit amet ".repeat(5 * 1024 * 1024 / 27)
            );
            let body = rss("big title", &[Entry::linked("title-5mb", &title)]);
            fixed(stream, 200, &[("Content-Type", RSS)], body.as_bytes()).await
        }
        "/big/long-link.xml" => {
            let entry = Entry {
                guid: Some("g".repeat(1 << 20)),
                title: "Long link: Pyongyang spy satellite".into(),
                link: Some(format!("http://news.invalid/{}", "a".repeat(1 << 20))),
            };
            let body = rss("long link", &[entry]);
            fixed(stream, 200, &[("Content-Type", RSS)], body.as_bytes()).await
        }
        "/ansi.xml" => {
            // Raw control characters (not allowed in XML 1.0, read anyway by lenient
            // parsers), the same as character references, C1 controls and a bidi override.
            let body = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>ansi\u{1b}[2J</title>\
                <item><guid>ansi-1</guid><link>http://news.invalid/ansi-1</link>\
                <title>Pyongyang \u{1b}[31mspy satellite\u{1b}[0m \u{1b}]0;pwned\u{7} launch\r\u{8}\u{8}</title></item>\
                <item><guid>ansi-2</guid><link>http://news.invalid/ansi-2</link>\
                <title>Pyongyang &#27;[5mspy satellite&#x1b;[0m &#155;31m \u{9b}32m \u{202e}etilletas</title></item>\
                <item><guid>ansi-3</guid><link>http://news.invalid/ansi-3</link>\
                <title><![CDATA[Pyongyang spy satellite <b>\u{1b}[1mbold</b>]]></title>\
                <author>\u{1b}[31mevil@example.com</author><category>\u{1b}[32mcat</category></item>\
                </channel></rss>";
            fixed(stream, 200, &[("Content-Type", RSS)], body.as_bytes()).await
        }
        "/dup-guids.xml" => {
            let same = |title: &str, link: &str| Entry {
                guid: Some("same-guid".into()),
                title: title.into(),
                link: Some(format!("http://news.invalid/{link}")),
            };
            let body = rss(
                "dup",
                &[
                    same("Pyongyang spy satellite, first", "dup-1"),
                    same("Pyongyang spy satellite, second", "dup-2"),
                    same("Pyongyang spy satellite, first", "dup-1"),
                    same("Pyongyang spy satellite, third", "dup-3"),
                ],
            );
            fixed(stream, 200, &[("Content-Type", RSS)], body.as_bytes()).await
        }
        "/rotating.xml" => {
            let entries = [
                Entry {
                    guid: Some(format!("rot-{n}-1")),
                    title: "Rotating: Pyongyang spy satellite with a link".into(),
                    link: Some("http://news.invalid/rotating-1?utm_source=rss".into()),
                },
                Entry {
                    guid: Some(format!("rot-{n}-2")),
                    title: "Rotating: Pyongyang spy satellite without a link".into(),
                    link: None,
                },
            ];
            let body = rss("rotating", &entries);
            fixed(stream, 200, &[("Content-Type", RSS)], body.as_bytes()).await
        }
        _ if path.starts_with("/enc/") => {
            let Some((body, content_type)) = encoded(path) else {
                return fixed(stream, 404, &[], b"no such encoding case").await;
            };
            fixed(stream, 200, &[("Content-Type", &content_type)], &body).await
        }
        _ if path.starts_with("/feeds/") && path.ends_with(".xml") => {
            let name = &path["/feeds/".len()..path.len() - ".xml".len()];
            let body = rss(
                name,
                &[Entry::linked(
                    name,
                    &format!("Feed {name}: Pyongyang spy satellite"),
                )],
            );
            fixed(stream, 200, &[("Content-Type", RSS)], body.as_bytes()).await
        }
        _ => fixed(stream, 404, &[], b"not found").await,
    }
}

/// A feed item as the server writes it.
struct Entry {
    guid: Option<String>,
    title: String,
    link: Option<String>,
}

impl Entry {
    /// An item with guid `id` and a link made from it.
    fn linked(id: &str, title: &str) -> Entry {
        Entry {
            guid: Some(id.into()),
            title: title.into(),
            link: Some(format!("http://news.invalid/{id}")),
        }
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An RSS 2.0 document (UTF-8, with an XML declaration naming no encoding).
fn rss(title: &str, entries: &[Entry]) -> String {
    rss_with_declaration("<?xml version=\"1.0\"?>", title, entries)
}

fn rss_with_declaration(declaration: &str, title: &str, entries: &[Entry]) -> String {
    let mut out = format!(
        "{declaration}<rss version=\"2.0\"><channel><title>{}</title><link>http://news.invalid/</link><description>test</description>",
        escape(title)
    );
    for entry in entries {
        out.push_str("<item>");
        if let Some(guid) = &entry.guid {
            out.push_str(&format!(
                "<guid isPermaLink=\"false\">{}</guid>",
                escape(guid)
            ));
        }
        out.push_str(&format!("<title>{}</title>", escape(&entry.title)));
        if let Some(link) = &entry.link {
            out.push_str(&format!("<link>{}</link>", escape(link)));
        }
        out.push_str("</item>");
    }
    out.push_str("</channel></rss>");
    out
}

/// An HTML page whose head links the feed at `href` (and a few links that are not feeds).
fn html_page(href: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>News</title>\
         <link rel=\"stylesheet\" href=\"/style.css\">\
         <link rel=\"alternate\" hreflang=\"ko\" href=\"/ko/\">\
         <link rel=\"alternate\" type=\"application/rss+xml\" title=\"News feed\" href=\"{href}\">\
         <link rel=\"alternate\" type=\"application/atom+xml\" href=\"/second-choice.atom\">\
         </head><body><h1>News</h1><p>Read our feed.</p></body></html>"
    )
}

/// The body and Content-Type of an `/enc/{prolog,header,bom}/{case}.xml` path.
pub fn encoded(path: &str) -> Option<(Vec<u8>, String)> {
    let rest = path.strip_prefix("/enc/")?.strip_suffix(".xml")?;
    let (place, case) = rest.split_once('/')?;
    let title_of = |text: &str| format!("{text} ({place} {case})");
    let entries = |text: &str| {
        vec![Entry {
            guid: Some(format!("enc-{place}-{case}")),
            title: title_of(text),
            link: Some(format!("http://news.invalid/enc/{place}/{case}")),
        }]
    };
    if place == "bom" {
        let text = rss("bom", &entries(KOREAN));
        let body = match case {
            "utf-8" => [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat(),
            "utf-16le" => utf16(&text, false, true),
            "utf-16be" => utf16(&text, true, true),
            _ => return None,
        };
        return Some((body, "application/rss+xml".into()));
    }
    let &(_, label, text) = ENCODINGS.iter().find(|(stem, _, _)| *stem == case)?;
    let (declaration, content_type) = match place {
        "prolog" => (
            format!("<?xml version=\"1.0\" encoding=\"{label}\"?>"),
            "application/rss+xml".to_string(),
        ),
        "header" => (
            "<?xml version=\"1.0\"?>".to_string(),
            format!("application/rss+xml; charset={label}"),
        ),
        _ => return None,
    };
    let document = rss_with_declaration(&declaration, "encoded", &entries(text));
    let body = if label == "UTF-16" {
        // No byte-order mark: the declaration or the header is all there is.
        utf16(&document, false, false)
    } else {
        let encoding = encoding_rs::Encoding::for_label(label.as_bytes())?;
        let (bytes, _, unmappable) = encoding.encode(&document);
        assert!(!unmappable, "{label} can encode the test text");
        bytes.into_owned()
    };
    Some((body, content_type))
}

/// The title an encoding case's item must have once decoded.
pub fn encoded_title(place: &str, case: &str) -> String {
    let text = if place == "bom" {
        KOREAN
    } else {
        ENCODINGS
            .iter()
            .find(|(stem, _, _)| *stem == case)
            .map(|&(_, _, text)| text)
            .unwrap()
    };
    format!("{text} ({place} {case})")
}

fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let units = bom
        .then_some(0xFEFFu16)
        .into_iter()
        .chain(text.encode_utf16());
    for unit in units {
        out.extend_from_slice(&if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        });
    }
    out
}

/// A feed of 100,000 items (about 9 MB), built once.
fn hundred_thousand_items() -> &'static [u8] {
    static BODY: OnceLock<Vec<u8>> = OnceLock::new();
    BODY.get_or_init(|| {
        let entries: Vec<Entry> = (0..100_000)
            .map(|i| {
                Entry::linked(
                    &format!("big-{i}"),
                    &format!("Item {i}: Pyongyang spy satellite"),
                )
            })
            .collect();
        rss("100k", &entries).into_bytes()
    })
}

/// Deflate blocks (not final, ending on a byte boundary) that inflate to a run of zeros,
/// and how many; repeated, they inflate to as many more. Built once.
fn bomb_block() -> (&'static [u8], u64) {
    const INFLATED: usize = 1 << 20;
    static BLOCK: OnceLock<Vec<u8>> = OnceLock::new();
    let block = BLOCK.get_or_init(|| {
        use std::io::Write;
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&vec![0u8; INFLATED]).unwrap();
        // A sync flush ends the blocks on a byte boundary without a final block.
        encoder.flush().unwrap();
        encoder.get_ref().clone()
    });
    (block, INFLATED as u64)
}

/// The start of the gzip bomb, as served, for checking that it inflates as claimed.
pub fn bomb_prefix(blocks: usize) -> Vec<u8> {
    let (block, _) = bomb_block();
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3];
    for _ in 0..blocks {
        out.extend_from_slice(block);
    }
    out
}

async fn fixed(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await?;
    stream.shutdown().await
}

async fn redirect(stream: &mut TcpStream, status: u16, location: &str) -> std::io::Result<()> {
    fixed(stream, status, &[("Location", location)], b"").await
}

/// Writes `bytes` one a second.
async fn drip(stream: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    for byte in bytes {
        stream.write_all(&[*byte]).await?;
        stream.flush().await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(())
}

async fn chunk(stream: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    stream
        .write_all(format!("{:x}\r\n", bytes.len()).as_bytes())
        .await?;
    stream.write_all(bytes).await?;
    stream.write_all(b"\r\n").await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        308 => "Permanent Redirect",
        404 => "Not Found",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Other",
    }
}
