//! Repairs of feed XML that feed-rs would misread or reject, made before it reads the
//! document. One linear walk over the tags finds what needs changing; a document that needs
//! nothing is not copied (the common case costs one scan). What is repaired:
//!
//! - markup inside a text element (`<title>Breaking: <b>North Korea</b> …</title>`): escaped,
//!   so the element's text is the whole HTML fragment, not the text before its first tag;
//! - old formats and odd namespaces: Atom 0.3 (its namespace and element names), RSS 0.90,
//!   RSS 2.0 in the Userland or Harvard namespace, `<rss>` without a version feed-rs knows;
//! - Atom text constructs with a `type` feed-rs rejects (`application/xhtml+xml`, `x-custom`,
//!   empty) and binary (base64) ones, which are dropped; empty Atom and Media RSS text
//!   elements (`<media:description/>`), which feed-rs calls fatal;
//! - items feed-rs drops or reads without a link or title: an RSS item whose only link is an
//!   `<atom:link>` (`<a10:link>`), an RSS 1.0 item without `<link>` (its `rdf:about`), an
//!   item whose title is only in `<dc:title>`;
//! - broken structure: a mismatched or stray close tag, a bare `<` in text, and a document
//!   that breaks off (cut after its last complete item, the open elements closed again).
//!
//! Pure: bytes in, bytes out.

use std::ops::Range;

use super::markup::{
    Attribute, attributes, doctype_end, find, find_close, is_name_end, is_name_start, split_name,
    tag_end,
};
use super::vocabulary::{
    ATOM_NS, ATOM03_RENAMES, CONTENT_NS, DC_NS, MEDIA_NS, NAMESPACE_ALIASES, TEXT_ELEMENTS,
    is_known_namespace, is_rss_namespace,
};

/// A repaired document and what was repaired, in words for the feed's log and status.
#[derive(Debug)]
pub struct Repaired {
    pub bytes: Vec<u8>,
    /// One line per kind of repair that changes what is read beyond markup (a cut document,
    /// mismatched tags), for the log; empty when only the feed's form was fixed.
    pub notices: Vec<String>,
}

/// The repaired form of an XML feed document, or `None` when it needs no repair (or is no
/// feed: an HTML page, OPML, JSON).
pub fn repair_xml(bytes: &[u8]) -> Option<Repaired> {
    let mut walk = Walk::new(bytes);
    walk.run()?;
    walk.finish()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Root {
    Rss,
    Rdf,
    Atom,
    Atom03,
}

/// An edit: replace `range` of the input by `with` (an empty range inserts).
struct Edit {
    range: Range<usize>,
    with: Vec<u8>,
}

/// An element that is open.
struct Open<'a> {
    name: &'a [u8],
    /// Namespace bindings declared before this element opened (`bindings.len()`).
    bindings: usize,
    /// The new name of its close tag (Atom 0.3 renames).
    rename: Option<&'static str>,
    /// The item this is: its index in `Walk::items`.
    item: Option<usize>,
}

/// What an item (`<item>`, `<entry>`) holds, as far as the repairs need to know.
#[derive(Default)]
struct ItemState {
    has_link: bool,
    has_title: bool,
    /// The name ranges of a `<dc:title>`'s start and end tags.
    dc_title: Option<(Range<usize>, Range<usize>)>,
    /// `href` of the first `<atom:link>` without a `rel` or with `rel="alternate"`.
    atom_link: Option<String>,
    /// `rdf:about` of an RSS 1.0 item.
    about: Option<String>,
}

struct Walk<'a> {
    bytes: &'a [u8],
    at: usize,
    root: Option<Root>,
    open: Vec<Open<'a>>,
    /// In-scope namespace declarations: (prefix, URI after aliasing); "" is the default.
    bindings: Vec<(&'a [u8], &'a [u8])>,
    items: Vec<ItemState>,
    edits: Vec<Edit>,
    /// Where the last complete item ended, and the names open there (kept in one buffer:
    /// every item ends).
    last_item_end: Option<usize>,
    open_at_item_end: Vec<&'a [u8]>,
    /// The document broke off (or lost its structure) at this byte.
    broken_at: Option<usize>,
    mismatched: usize,
    /// Items closed so far.
    complete_items: usize,
    /// The name range of the close tag the last text element ended with.
    last_text_close: Option<Range<usize>>,
    /// `<rss>` had a `<channel>`; or its items stood right in it and a `<channel>` was put
    /// around them.
    channel_seen: bool,
    channel_added: bool,
}

impl<'a> Walk<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Walk {
            bytes,
            at: 0,
            root: None,
            open: Vec::new(),
            bindings: Vec::new(),
            items: Vec::new(),
            edits: Vec::new(),
            last_item_end: None,
            open_at_item_end: Vec::new(),
            broken_at: None,
            mismatched: 0,
            complete_items: 0,
            last_text_close: None,
            channel_seen: false,
            channel_added: false,
        }
    }

    /// Walks the document; `None` when it is not a feed (nothing to repair).
    fn run(&mut self) -> Option<()> {
        while let Some(offset) = memchr::memchr(b'<', &self.bytes[self.at..]) {
            let start = self.at + offset;
            let rest = &self.bytes[start..];
            let skipped = if rest.starts_with(b"<!--") {
                find(self.bytes, start + 4, b"-->").map(|end| end + 3)
            } else if rest.starts_with(b"<![CDATA[") {
                find(self.bytes, start + 9, b"]]>").map(|end| end + 3)
            } else if rest.starts_with(b"<?") {
                find(self.bytes, start + 2, b"?>").map(|end| end + 2)
            } else if rest.starts_with(b"<!") {
                doctype_end(self.bytes, start)
            } else if rest.starts_with(b"</") {
                self.end_tag(start)
            } else if rest.get(1).is_some_and(|&b| is_name_start(b)) {
                self.start_tag(start)?
            } else {
                // A bare `<` in text ("a < b").
                if self.root.is_some() {
                    self.replace(start..start + 1, b"&lt;");
                }
                Some(start + 1)
            };
            match skipped {
                Some(next) => self.at = next,
                None => {
                    self.broken_at = Some(start);
                    break;
                }
            }
            if self.root.is_some() && self.open.is_empty() {
                // The root closed: what follows is not the feed's.
                return Some(());
            }
        }
        self.root?;
        if !self.open.is_empty() && self.broken_at.is_none() {
            self.broken_at = Some(self.bytes.len());
        }
        Some(())
    }

    /// Handles the start tag at `start`; the position after it (after a text element, after
    /// its close tag), or `None` to stop: the document is not a feed.
    fn start_tag(&mut self, start: usize) -> Option<Option<usize>> {
        let bytes = self.bytes;
        let name_len = bytes[start + 1..]
            .iter()
            .position(|&b| is_name_end(b))
            .unwrap_or(bytes.len() - start - 1);
        let name = &bytes[start + 1..start + 1 + name_len];
        let Some(end) = tag_end(bytes, start + 1 + name_len) else {
            return Some(None);
        };
        let self_closing = bytes[end - 1] == b'/';
        let attrs_end = if self_closing { end - 1 } else { end };
        // Most tags have no attributes: not even an empty list is built for them.
        let attrs = if memchr::memchr(b'=', &bytes[start + 1 + name_len..attrs_end]).is_some() {
            attributes(bytes, start + 1 + name_len, attrs_end)
        } else {
            Vec::new()
        };
        let (prefix, local) = split_name(name);
        let bindings_before = self.bindings.len();

        if self.root.is_none() {
            self.root = Some(match local {
                b"rss" => Root::Rss,
                b"RDF" => Root::Rdf,
                b"feed" => Root::Atom,
                // An HTML page, OPML, an unknown format: not ours to repair.
                _ => return None,
            });
            if self.root == Some(Root::Rss) {
                self.rss_version(start + 1 + name_len, &attrs);
            }
        }
        // Namespace declarations, with the URIs feed-rs does not know replaced.
        for attr in &attrs {
            let attr_name = &bytes[attr.name.clone()];
            let declared = if attr_name == b"xmlns" {
                Some(&b""[..])
            } else {
                attr_name.strip_prefix(b"xmlns:")
            };
            let Some(declared) = declared else { continue };
            let uri = bytes[attr.value.clone()].trim_ascii();
            if declared.is_empty()
                && self.open.is_empty()
                && self.root == Some(Root::Rss)
                && !is_known_namespace(uri)
            {
                // RSS 2.0 has no namespace: a default one (Userland's, Harvard's) hides
                // every element from feed-rs.
                self.replace(attr.whole.clone(), b"");
                continue;
            }
            match NAMESPACE_ALIASES.iter().find(|(alias, _)| *alias == uri) {
                Some(&(alias, meant)) => {
                    if alias == b"http://purl.org/atom/ns#" && self.open.is_empty() {
                        self.root = Some(Root::Atom03);
                    }
                    self.replace(attr.value.clone(), meant);
                    self.bindings.push((declared, meant));
                }
                None => self.bindings.push((declared, uri)),
            }
        }
        if self.open.is_empty()
            && self.root == Some(Root::Atom)
            && attrs
                .iter()
                .any(|a| &bytes[a.name.clone()] == b"version" && &bytes[a.value.clone()] == b"0.3")
        {
            self.root = Some(Root::Atom03);
        }
        let namespace = self.namespace_of(prefix);
        if self.root == Some(Root::Rss) && self.open.len() == 1 && !self.channel_seen {
            if local == b"channel" {
                self.channel_seen = true;
            } else if local == b"item" {
                // Items right in `<rss>` (no channel): feed-rs reads only a channel's.
                self.channel_seen = true;
                self.channel_added = true;
                self.replace(start..start, b"<channel>");
            }
        }
        let in_item = self.current_item();
        let depth_in_item = in_item.map(|(_, depth)| self.open.len() - depth);

        // An item starts.
        let is_item = in_item.is_none()
            && match self.root {
                Some(Root::Rss | Root::Rdf) => local == b"item" && is_rss_namespace(namespace),
                Some(Root::Atom | Root::Atom03) => local == b"entry" && namespace == ATOM_NS,
                None => false,
            };
        let mut item = None;
        if is_item {
            let mut state = ItemState::default();
            if self.root == Some(Root::Rdf) {
                state.about = attrs
                    .iter()
                    .find(|a| &bytes[a.name.clone()] == b"rdf:about")
                    .map(|a| String::from_utf8_lossy(&bytes[a.value.clone()]).into_owned());
            }
            self.items.push(state);
            item = Some(self.items.len() - 1);
        }

        // A direct child of an RSS item: what the item has.
        if depth_in_item == Some(1) && matches!(self.root, Some(Root::Rss | Root::Rdf)) {
            let (index, _) = in_item.expect("depth_in_item is only set inside an item");
            let state = &mut self.items[index];
            if is_rss_namespace(namespace) && local == b"link" {
                state.has_link = true;
            } else if is_rss_namespace(namespace) && local == b"title" {
                state.has_title = true;
            } else if namespace == ATOM_NS && local == b"link" && state.atom_link.is_none() {
                let value = |key: &[u8]| {
                    attrs
                        .iter()
                        .find(|a| &bytes[a.name.clone()] == key)
                        .map(|a| &bytes[a.value.clone()])
                };
                if value(b"rel").is_none_or(|rel| rel == b"alternate")
                    && let Some(href) = value(b"href")
                {
                    state.atom_link = Some(String::from_utf8_lossy(href).into_owned());
                }
            }
        }

        let is_atom = namespace == ATOM_NS;
        let is_media = namespace == MEDIA_NS;
        let is_text = TEXT_ELEMENTS.contains(&local)
            && (is_rss_namespace(namespace)
                || is_atom
                || (namespace == DC_NS && matches!(local, b"title" | b"description"))
                || (namespace == CONTENT_NS && local == b"encoded"));
        let mut rename = None;
        if self.root == Some(Root::Atom03) && is_atom {
            rename = ATOM03_RENAMES
                .iter()
                .find(|(old, _)| *old == local)
                .map(|&(_, new)| new);
            if let Some(new) = rename {
                let name_at = start + 1 + prefix.map_or(0, |p| p.len() + 1);
                self.replace(name_at..name_at + local.len(), new.as_bytes());
            }
        }

        let mut xhtml = false;
        if (is_text && is_atom) || (is_media && matches!(local, b"title" | b"description")) {
            let has_src = attrs.iter().any(|a| &bytes[a.name.clone()] == b"src");
            match self.text_type(end, &attrs, is_media, local == b"content" && has_src) {
                TextType::Binary => {
                    // Base64 text is nobody's words: drop the element.
                    let after = if self_closing {
                        Some(end + 1)
                    } else {
                        find_close(bytes, end + 1, name)
                    };
                    let Some(after) = after else {
                        return Some(None);
                    };
                    self.replace(start..after, b"");
                    self.bindings.truncate(bindings_before);
                    return Some(Some(after));
                }
                TextType::Xhtml => xhtml = true,
                TextType::Text => {}
            }
            if self_closing && !(local == b"content" && has_src) {
                // feed-rs calls an empty text construct fatal.
                self.replace(start..end + 1, b"");
                self.bindings.truncate(bindings_before);
                return Some(Some(end + 1));
            }
        }

        if self_closing {
            self.bindings.truncate(bindings_before);
            return Some(Some(end + 1));
        }
        if (is_text || is_media && matches!(local, b"title" | b"description")) && !xhtml {
            self.last_text_close = None;
            let after = self.text_element(start, end + 1, name, is_atom || is_media)?;
            let close_name = self.last_text_close.take();
            if let (Some((index, _)), Some(close_name)) = (in_item, close_name.clone())
                && depth_in_item == Some(1)
                && namespace == DC_NS
                && local == b"title"
            {
                self.items[index].dc_title = Some((start + 1..start + 1 + name.len(), close_name));
            }
            if let (Some(new), Some(close_name)) = (rename, close_name) {
                let local_at = close_name.start + prefix.map_or(0, |p| p.len() + 1);
                self.replace(local_at..local_at + local.len(), new.as_bytes());
            }
            self.bindings.truncate(bindings_before);
            return Some(after);
        }
        self.open.push(Open {
            name,
            bindings: bindings_before,
            rename,
            item,
        });
        Some(Some(end + 1))
    }

    /// The element at `start` (its start tag ends before `content`) is a text element: its
    /// content up to `</name>` is text, and any `<` in it (but CDATA sections') is escaped.
    /// Returns the position after its close tag; a close tag of an open element ends it too
    /// (the text element was not closed: its close tag is inserted). `remove_empty`: an
    /// element with no text is removed whole. `Some(None)` when the document breaks off.
    fn text_element(
        &mut self,
        start: usize,
        content: usize,
        name: &'a [u8],
        remove_empty: bool,
    ) -> Option<Option<usize>> {
        let bytes = self.bytes;
        let mut at = content;
        let mut escapes = Vec::new();
        loop {
            let Some(offset) = memchr::memchr(b'<', &bytes[at..]) else {
                return Some(None);
            };
            let lt = at + offset;
            let rest = &bytes[lt..];
            if rest.starts_with(b"<![CDATA[") {
                let Some(end) = find(bytes, lt + 9, b"]]>") else {
                    return Some(None);
                };
                at = end + 3;
                continue;
            }
            if let Some(close) = rest.strip_prefix(b"</") {
                let len = close
                    .iter()
                    .position(|&b| is_name_end(b))
                    .unwrap_or(close.len());
                let close_name = &close[..len];
                let ends_here = close_name == name;
                let ends_outer = !ends_here && self.open.iter().any(|open| open.name == close_name);
                if ends_here || ends_outer {
                    let Some(tag_close) = tag_end(bytes, lt + 2 + len) else {
                        return Some(None);
                    };
                    let empty = bytes[content..lt].trim_ascii().is_empty();
                    if remove_empty && empty {
                        let until = if ends_here { tag_close + 1 } else { lt };
                        self.replace(start..until, b"");
                        return Some(Some(until));
                    }
                    for escape in escapes {
                        self.replace(escape..escape + 1, b"&lt;");
                    }
                    if ends_here {
                        self.last_text_close = Some(lt + 2..lt + 2 + len);
                        return Some(Some(tag_close + 1));
                    }
                    // The text element was never closed: close it before its parent's end.
                    self.mismatched += 1;
                    let mut close_tag = b"</".to_vec();
                    close_tag.extend_from_slice(name);
                    close_tag.push(b'>');
                    self.replace(lt..lt, &close_tag);
                    return Some(Some(lt));
                }
            }
            escapes.push(lt);
            at = lt + 1;
        }
    }

    /// Handles the close tag at `start`; the position after it.
    fn end_tag(&mut self, start: usize) -> Option<usize> {
        let bytes = self.bytes;
        let len = bytes[start + 2..]
            .iter()
            .position(|&b| is_name_end(b))
            .unwrap_or(bytes.len() - start - 2);
        let name = &bytes[start + 2..start + 2 + len];
        let end = tag_end(bytes, start + 2 + len)?;
        let Some(depth) = self.open.iter().rposition(|open| open.name == name) else {
            // A close tag of nothing open: drop it.
            if self.root.is_some() {
                self.mismatched += 1;
                self.replace(start..end + 1, b"");
            }
            return Some(end + 1);
        };
        // Elements left open inside this one are closed here.
        while self.open.len() > depth + 1 {
            self.mismatched += 1;
            let inner = self.open.pop().expect("open is longer than depth + 1");
            let mut close_tag = b"</".to_vec();
            close_tag.extend_from_slice(inner.name);
            close_tag.push(b'>');
            self.replace(start..start, &close_tag);
            self.closed(inner, start, start);
        }
        let open = self.open.pop().expect("depth is an index of open");
        if self.open.is_empty() && self.channel_added {
            self.replace(start..start, b"</channel>");
        }
        if let Some(new) = open.rename {
            let (prefix, local) = split_name(name);
            let local_at = start + 2 + prefix.map_or(0, |p| p.len() + 1);
            self.replace(local_at..local_at + local.len(), new.as_bytes());
        }
        self.closed(open, start, end + 1);
        Some(end + 1)
    }

    /// An element closed: its close tag starts at `close` and ends before `after`.
    fn closed(&mut self, open: Open<'a>, close: usize, after: usize) {
        self.bindings.truncate(open.bindings);
        let Some(index) = open.item else { return };
        self.complete_items += 1;
        let state = std::mem::take(&mut self.items[index]);
        if matches!(self.root, Some(Root::Rss | Root::Rdf)) {
            if !state.has_title
                && let Some((start_name, end_name)) = state.dc_title
            {
                self.replace(start_name, b"title");
                self.replace(end_name, b"title");
            }
            if !state.has_link {
                let link = state.atom_link.or_else(|| {
                    (self.root == Some(Root::Rdf))
                        .then(|| state.about.unwrap_or_else(|| "about:blank".into()))
                });
                if let Some(link) = link {
                    let mut element = b"<link>".to_vec();
                    element.extend_from_slice(crate::text::escape_xml(&link).as_bytes());
                    element.extend_from_slice(b"</link>");
                    self.replace(close..close, &element);
                }
            }
        }
        self.last_item_end = Some(after);
        self.open_at_item_end.clear();
        self.open_at_item_end
            .extend(self.open.iter().map(|open| open.name));
    }

    /// The innermost open item and its index in `open` (a direct child of the item starts
    /// when `open` is one longer than that).
    fn current_item(&self) -> Option<(usize, usize)> {
        self.open
            .iter()
            .enumerate()
            .rev()
            .find_map(|(depth, open)| open.item.map(|item| (item, depth)))
    }

    /// Gives `<rss>` a version feed-rs reads (it reads only 0.91, 0.92, 2.0 and "").
    fn rss_version(&mut self, after_name: usize, attrs: &[Attribute]) {
        match attrs
            .iter()
            .find(|a| &self.bytes[a.name.clone()] == b"version")
        {
            Some(version) => {
                let value = &self.bytes[version.value.clone()];
                if !matches!(value, b"2.0" | b"0.91" | b"0.92" | b"") {
                    self.replace(version.value.clone(), b"2.0");
                }
            }
            None => self.replace(after_name..after_name, b" version=\"2.0\""),
        }
    }

    /// The declared type of an Atom or Media RSS text element, after making its `type`
    /// one feed-rs reads.
    fn text_type(&mut self, end: usize, attrs: &[Attribute], media: bool, src: bool) -> TextType {
        let bytes = self.bytes;
        let find_attr = |key: &[u8]| attrs.iter().find(|a| &bytes[a.name.clone()] == key);
        let mode = find_attr(b"mode").map(|a| bytes[a.value.clone()].to_ascii_lowercase());
        let type_attr = find_attr(b"type");
        if src {
            return TextType::Text;
        }
        let declared = type_attr.map(|a| bytes[a.value.clone()].trim_ascii().to_ascii_lowercase());
        if mode.as_deref() == Some(b"base64") {
            return TextType::Binary;
        }
        let (kind, wanted): (TextType, &[u8]) = match declared.as_deref() {
            None if mode.as_deref() == Some(b"xml") => (TextType::Xhtml, b"xhtml"),
            None if mode.as_deref() == Some(b"escaped") => (TextType::Text, b"html"),
            None => return TextType::Text,
            Some(b"html" | b"text/html") => (TextType::Text, b"html"),
            Some(b"xhtml") if !media => return TextType::Xhtml,
            Some(b"text") if !media => return TextType::Text,
            Some(b"plain") if media => return TextType::Text,
            Some(t) if t.ends_with(b"+xml") || t.ends_with(b"/xml") || t == b"xhtml" => {
                if media {
                    (TextType::Text, b"html")
                } else {
                    (TextType::Xhtml, b"xhtml")
                }
            }
            Some(t) if t.contains(&b'/') && !t.starts_with(b"text/") => {
                return TextType::Binary;
            }
            Some(_) => (TextType::Text, if media { b"plain" } else { b"text" }),
        };
        let wanted: &[u8] = if mode.as_deref() == Some(b"escaped") && !media {
            b"html"
        } else {
            wanted
        };
        match type_attr {
            Some(attr) if &bytes[attr.value.clone()] != wanted => {
                self.replace(attr.value.clone(), wanted);
            }
            Some(_) => {}
            None => {
                let at = if bytes[end - 1] == b'/' { end - 1 } else { end };
                let mut insert = b" type=\"".to_vec();
                insert.extend_from_slice(wanted);
                insert.push(b'"');
                self.replace(at..at, &insert);
            }
        }
        kind
    }

    /// The namespace URI of `prefix` here (`None`: the default namespace); empty when none.
    fn namespace_of(&self, prefix: Option<&[u8]>) -> &'a [u8] {
        let wanted = prefix.unwrap_or(b"");
        let uri = self
            .bindings
            .iter()
            .rev()
            .find(|(declared, _)| *declared == wanted)
            .map_or(&b""[..], |&(_, uri)| uri);
        // feed-rs reads an Atom document's unqualified elements as Atom's.
        if uri.is_empty()
            && prefix.is_none()
            && matches!(self.root, Some(Root::Atom | Root::Atom03))
        {
            return ATOM_NS;
        }
        uri
    }

    fn replace(&mut self, range: Range<usize>, with: &[u8]) {
        self.edits.push(Edit {
            range,
            with: with.to_vec(),
        });
    }

    /// Applies the edits (cutting a document that broke off after its last complete item).
    fn finish(mut self) -> Option<Repaired> {
        let mut notices = Vec::new();
        let mut cut = None;
        if let Some(broken_at) = self.broken_at {
            let item_end = self.last_item_end?;
            let still_open = &self.open_at_item_end;
            notices.push(format!(
                "the document breaks off at byte {broken_at} of {}: read the {} complete items before it",
                self.bytes.len(),
                self.complete_items
            ));
            let mut closing = Vec::new();
            if self.channel_added {
                closing.extend_from_slice(b"</channel>");
            }
            for name in still_open.iter().rev() {
                closing.extend_from_slice(b"</");
                closing.extend_from_slice(name);
                closing.push(b'>');
            }
            cut = Some((item_end, closing));
        } else if self.mismatched > 0 {
            notices.push(format!(
                "{} mismatched or unclosed tags repaired",
                self.mismatched
            ));
        }
        if self.edits.is_empty() && cut.is_none() {
            return None;
        }
        let limit = cut.as_ref().map_or(self.bytes.len(), |(at, _)| *at);
        // Stable: inserts at one position keep the order they were made in.
        self.edits.sort_by_key(|edit| edit.range.start);
        let mut out = Vec::with_capacity(self.bytes.len() + 256);
        let mut copied = 0;
        for edit in &self.edits {
            if edit.range.start < copied || edit.range.end > limit {
                continue;
            }
            out.extend_from_slice(&self.bytes[copied..edit.range.start]);
            out.extend_from_slice(&edit.with);
            copied = edit.range.end;
        }
        out.extend_from_slice(&self.bytes[copied..limit]);
        if let Some((_, closing)) = cut {
            out.extend_from_slice(&closing);
        }
        Some(Repaired {
            bytes: out,
            notices,
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TextType {
    Text,
    Xhtml,
    Binary,
}
