"""The one text normalization applied to both sides before titles are compared.

norm_title(text, is_html): if the text is HTML (feedparser says so in title_detail.type),
turn it into text first: tags dropped (block-level tags and <br> become a space, <script>
and <style> content dropped), character references decoded. Then for every text:
Unicode NFC, control characters (category Cc) made spaces, and whitespace (any Unicode whitespace, NBSP included) collapsed to one
space, trimmed. watchword's titles are plain text already, so they take is_html=False.
"""
import html
import re
import unicodedata
from html.parser import HTMLParser

BLOCK = {"p", "br", "div", "li", "ul", "ol", "tr", "td", "th", "table", "h1", "h2", "h3",
         "h4", "h5", "h6", "blockquote", "pre", "hr", "section", "article", "header",
         "footer", "dt", "dd", "dl", "figure", "figcaption"}
SKIP = {"script", "style"}


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in SKIP:
            self.skip += 1
        elif tag in BLOCK:
            self.out.append(" ")

    def handle_startendtag(self, tag, attrs):
        if tag in BLOCK:
            self.out.append(" ")

    def handle_endtag(self, tag):
        if tag in SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in BLOCK:
            self.out.append(" ")

    def handle_data(self, data):
        if not self.skip:
            self.out.append(data)


def html_to_text(s: str) -> str:
    p = _Text()
    try:
        p.feed(s)
        p.close()
    except Exception:  # never fails in practice; fall back to a crude strip
        return html.unescape(re.sub(r"<[^>]*>", " ", s))
    return "".join(p.out)


def collapse(s: str) -> str:
    s = unicodedata.normalize("NFC", s)
    # control characters (C0/C1, DEL) are not text: both parsers keep or drop them differently
    s = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in s)
    return " ".join(s.split())


def norm_title(text, is_html: bool) -> str:
    if text is None:
        return ""
    if is_html:
        text = html_to_text(text)
    return collapse(text)
