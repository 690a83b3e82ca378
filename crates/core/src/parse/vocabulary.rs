//! The names the repair scan knows: the namespaces feed-rs reads and the URIs written for
//! them in the wild, the elements whose content is text, Atom 0.3's old element names.

pub(super) const ATOM_NS: &[u8] = b"http://www.w3.org/2005/Atom";
pub(super) const RSS1_NS: &[u8] = b"http://purl.org/rss/1.0/";
pub(super) const DC_NS: &[u8] = b"http://purl.org/dc/elements/1.1/";
pub(super) const CONTENT_NS: &[u8] = b"http://purl.org/rss/1.0/modules/content/";
pub(super) const MEDIA_NS: &[u8] = b"http://search.yahoo.com/mrss/";

/// Namespace URIs written in the wild for the ones feed-rs knows, and what they stand for.
pub(super) const NAMESPACE_ALIASES: &[(&[u8], &[u8])] = &[
    (b"http://purl.org/atom/ns#", ATOM_NS),
    (b"http://www.w3.org/2005/Atom/", ATOM_NS),
    (b"https://www.w3.org/2005/Atom", ATOM_NS),
    (b"http://my.netscape.com/rdf/simple/0.9/", RSS1_NS),
    (b"http://purl.org/rss/1.0", RSS1_NS),
    (b"http://purl.org/dc/elements/1.0/", DC_NS),
    (b"http://purl.org/rss/1.0/modules/content", CONTENT_NS),
    (b"http://search.yahoo.com/mrss", MEDIA_NS),
];

/// Elements whose content is text (perhaps HTML): markup inside them is the text's, not the
/// feed's.
pub(super) const TEXT_ELEMENTS: &[&[u8]] = &[
    b"title",
    b"subtitle",
    b"tagline",
    b"summary",
    b"description",
    b"content",
    b"encoded",
    b"rights",
    b"copyright",
];

/// Atom 0.3 element names and their Atom 1.0 equivalents.
pub(super) const ATOM03_RENAMES: &[(&[u8], &str)] = &[
    (b"issued", "published"),
    (b"modified", "updated"),
    (b"tagline", "subtitle"),
    (b"copyright", "rights"),
];

/// Whether `uri` is a namespace an RSS element may be in for feed-rs: none, or RSS 1.0's.
pub(super) fn is_rss_namespace(uri: &[u8]) -> bool {
    uri.is_empty() || uri == RSS1_NS
}

/// Namespaces feed-rs reads (after aliasing), which a default `xmlns` on `<rss>` may keep.
pub(super) fn is_known_namespace(uri: &[u8]) -> bool {
    [ATOM_NS, RSS1_NS, DC_NS, CONTENT_NS, MEDIA_NS].contains(&uri)
}
