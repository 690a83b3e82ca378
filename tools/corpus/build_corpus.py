#!/usr/bin/env python3
"""Assemble the feed corpus for issue 13's measurement into OUT (default /tmp/corpus).

Third-party files are never committed: this script extracts them from git mirrors of the
public repositories listed in SUITES (pinned commits), de-duplicates them by content, keeps
only documents that look like feeds, and classifies each file into one of two groups:

  parser  -- "parser suites": edge-case test files written by parser authors
  real    -- "real captured feeds": a real publisher's feed captured by a feed reader's test
             suite (file from a feed reader's fixture folder whose feed links point to a real
             publisher's domain, not example.com & co)

Usage: build_corpus.py --mirrors DIR [--out /tmp/corpus]
  DIR holds one bare git directory per repository, as DIR/<owner>+<name>/repo
  (or pass --mirror owner/name=GITDIR for each).
Writes OUT/files/<suite>/<path>, OUT/manifest.json.
"""
import argparse, hashlib, json, os, re, subprocess, sys
from collections import Counter

# suite name, repository, commit, paths inside it, policy
#   policy "edge": every file is a parser-suite file
#   policy "reader": classified by content (real publisher link => real, else parser)
SUITES = [
    ("feedparser", "kurtmckee/feedparser", "a22c5521cbb109871f1a2318948581901bd47e26",
     ["tests/wellformed", "tests/illformed", "tests/encoding", "tests/entities", "tests/json"], "edge"),
    ("gofeed", "mmcdole/gofeed", "e010ca02e0eb28daf544c0447fdd64e4e99d5c5e", ["testdata"], "edge"),
    ("laminas-feed", "laminas/laminas-feed", "23807e692b3174750b426143bd93572b71b6739a", ["test/Reader"], "reader"),
    ("rome", "rometools/rome", "6b4a7e89cbf67dab0be32e7517f3d8ae3c2b4d75",
     ["rome/src/test/data", "rome/src/test/resources", "rome-modules/src/test/resources"], "reader"),
    ("feed-rs", "feed-rs/feed-rs", "b64d2aa08d377778b0978aa63f05d56bcedb279e", ["feed-rs/fixture"], "reader"),
    ("simplepie", "simplepie/simplepie", "dca4bf5a494d5192167fb8ba99e78dc9bdb1523b", ["tests/data"], "reader"),
    ("miniflux", "miniflux/v2", "106cdd09e1557222303f3ed1376e1dadf0638621", ["internal/reader"], "reader"),
    ("rsparser", "Ranchero-Software/RSParser", "1e73a4694fa5972b92e3d0012302e77770c32915",
     ["Tests/RSParserTests/Resources"], "reader"),
    ("netnewswire", "Ranchero-Software/NetNewsWire", "834decfad37802ef24d8a74897427a9eee57afdd",
     ["Modules/RSParser/Tests"], "reader"),
    ("newsboat", "newsboat/newsboat", "1ee1e83d7f10b1787f8814a9ed3dc678f15e5f93", ["test/data"], "reader"),
    ("tt-rss", "tt-rss/tt-rss", "b72ea11798a3f37a6a837b51f9453729faf43b4f", ["tests"], "reader"),
    ("feedjira", "feedjira/feedjira", "c6efa980556aae4d1b8b0e4115c2801c04043935", ["spec/sample_feeds"], "reader"),
    ("rss-parser-js", "rbren/rss-parser", "b0d3b483c0c4af2b311c6a895b432e6d23733fc9", ["test/input"], "reader"),
    ("node-feedparser", "danmactough/node-feedparser", "7ceba26c974c4b6e4ec422ee2ba1e469d9490368", ["test/feeds"], "reader"),
    ("feeder-android", "spacecowboy/Feeder", "091ca126272dfd6de4535bf508e4c73adec6e274",
     ["app/src/androidTest/resources", "app/src/test/resources"], "reader"),
    ("rss-parser-kotlin", "prof18/RSS-Parser", "9606845cb0ae5800f70e9df48ffc9f02a2e177bd",
     ["rssparser/src/commonTest/resources"], "reader"),
    ("codehollow-feedreader", "codehollow/FeedReader", "2ca61dbcd30fd9e00ba4ef13cbc1edd54cf61d3b",
     ["FeedReader.Tests/Feeds"], "reader"),
    ("feed-extractor", "extractus/feed-extractor", "7bb347bbfa2b0e3bc31137e58aef14113beedf1c", ["tests/test-data"], "reader"),
    ("fastfeedparser", "kagisearch/fastfeedparser", "763b6c98dd9be806bf03e76c48ad5605eccd2d68", ["tests"], "reader"),
    ("feedkit", "nmdias/FeedKit", "60bdf369f619e89be38653f10fb9e39353f03a56", ["Tests"], "reader"),
    ("atoma", "NicolasLM/atoma", "78f04f604deebb5a060ff5493b571cdd8f559495", ["tests"], "reader"),
    ("reader-py", "lemon24/reader", "fb77ceee44f606b702b454e310b2366fa53d3743", ["tests/data"], "reader"),
]

SKIP_EXT = {".py", ".rb", ".js", ".ts", ".go", ".rs", ".php", ".java", ".kt", ".swift", ".cs",
            ".md", ".png", ".jpg", ".gif", ".ico", ".svg", ".css", ".opml", ".properties",
            ".html", ".htm", ".yml", ".yaml", ".toml", ".sh", ".gitignore", ".output", ".m", ".h"}

# Hosts that are placeholders, namespaces or specs, never a publisher.
PLACEHOLDER = re.compile(
    r"(^|\.)(example\.(com|org|net|edu)|localhost|127\.0\.0\.1|test|invalid|domain\.com|"
    r"foo\.(com|org)|bar\.(com|org)|w3\.org|purl\.org|backend\.userland\.com|"
    r"search\.yahoo\.com|jsonfeed\.org|webns\.net|xmlns\.com|madskills\.com|"
    r"rssboard\.org|blogs\.law\.harvard\.edu|cyber\.law\.harvard\.edu|itunes\.apple\.com|"
    r"apple\.com|georss\.org|opengis\.net|schemas\.google\.com|wellformedweb\.org|"
    r"creativecommons\.org|web\.resource\.org|usefulinc\.com|rssnamespace\.org|"
    r"podcastindex\.org|mozilla\.org|xmlns\.oracle\.com|rome\.dev\.java\.net|"
    r"feedburner\.com|googleapis\.com|admin\.com|mydomain\.com|site\.com|some\.url|"
    r"url\.com|host\.com|server\.com|somewhere\.com|whatever\.com|acme\.com|"
    r"contoso\.com|dummy\.com|yourdomain\.com|yoursite\.com|sample\.com|"
    r"mypodcast\.com|podcast\.com|feeds\.feedburner\.com|test\.com)$|"
    r"example|fake|somewhere|provider-?s?-website|mysite|yoursite|yourdomain|sample", re.I)

LINK_RE = re.compile(
    rb"<(?:\w+:)?link[^>]*?href\s*=\s*[\"'](https?://[^\"'<>\s]+)|"
    rb"<(?:\w+:)?link(?:\s[^>]*)?>\s*(?:<!\[CDATA\[)?\s*(https?://[^<\s\]]+)|"
    rb"\"(?:home_page_url|url|feed_url)\"\s*:\s*\"(https?://[^\"]+)\"", re.I)


def host_of(url: str) -> str:
    m = re.match(r"https?://([^/:?#]+)", url)
    return m.group(1).lower().rstrip(".") if m else ""


def publisher_host(data: bytes):
    """The feed's first link host that is not a placeholder, or None."""
    hosts = []
    for m in LINK_RE.finditer(data[:2_000_000]):
        url = next(g for g in m.groups() if g).decode("utf-8", "replace")
        h = host_of(url)
        if h and "." in h and not PLACEHOLDER.search(h):
            hosts.append(h)
    if not hosts:
        return None
    # the feed-level link is usually first; fall back to the most common host
    return hosts[0] if hosts[0] in hosts[1:] or len(hosts) == 1 else Counter(hosts).most_common(1)[0][0]


def as_text_prefix(data: bytes) -> str:
    head = data[:200_000]
    for enc, bom in (("utf-32", b"\x00\x00\xfe\xff"), ("utf-32", b"\xff\xfe\x00\x00")):
        if head.startswith(bom):
            return head[: len(head) // 4 * 4].decode(enc, "replace")
    if head[:4] in (b"\x00\x00\x00<", b"<\x00\x00\x00"):
        return head[: len(head) // 4 * 4].decode("utf-32-be" if head[0] == 0 else "utf-32-le", "replace")
    if head[:2] in (b"\xfe\xff", b"\xff\xfe") or head[:2] in (b"\x00<", b"<\x00"):
        enc = "utf-16-be" if head[:2] in (b"\xfe\xff", b"\x00<") else "utf-16-le"
        return head[: len(head) // 2 * 2].decode(enc, "replace")
    if head[:4] == b"\x4c\x6f\xa7\x94":  # EBCDIC '<?xm'
        return head.decode("cp037", "replace")
    return head.decode("latin-1")


def looks_like_feed(path: str, data: bytes) -> bool:
    t = as_text_prefix(data)
    if path.endswith(".json"):
        return "jsonfeed.org/version" in t.replace("\\/", "/")
    return bool(re.search(r"<(\w+:)?(rss|feed|rdf|channel)[\s>/]", t, re.I))


def extract(gitdir, commit, paths, dest):
    """(path, bytes) of every blob under paths at commit (ls-tree + cat-file: unlike git
    archive, this ignores export-ignore attributes, which some repos set on tests/)."""
    ls = subprocess.run(["git", f"--git-dir={gitdir}", "ls-tree", "-r", "-z", commit, "--"] + paths,
                        capture_output=True, check=True).stdout
    entries = []
    for rec in ls.split(b"\0"):
        if not rec:
            continue
        meta, name = rec.split(b"\t", 1)
        mode, kind, sha = meta.split()
        if kind == b"blob" and mode != b"120000":
            entries.append((name.decode("utf-8", "replace"), sha.decode()))
    proc = subprocess.run(["git", f"--git-dir={gitdir}", "cat-file", "--batch"],
                          input="".join(sha + "\n" for _, sha in entries).encode(),
                          capture_output=True, check=True).stdout
    out, pos = [], 0
    for name, sha in entries:
        nl = proc.index(b"\n", pos)
        header = proc[pos:nl].split()
        size = int(header[2])
        out.append((name, proc[nl + 1: nl + 1 + size]))
        pos = nl + 1 + size + 1
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mirrors", default="/work/.mirror")
    ap.add_argument("--out", default="/tmp/corpus")
    args = ap.parse_args()
    seen = {}
    manifest = []
    stats = Counter()
    for suite, repo, commit, paths, policy in SUITES:
        gitdir = os.path.join(args.mirrors, repo.replace("/", "+"), "repo")
        if not os.path.isdir(gitdir):
            print(f"skip {suite}: no mirror at {gitdir}", file=sys.stderr)
            continue
        for path, data in extract(gitdir, commit, paths, None):
            ext = os.path.splitext(path)[1].lower()
            if ext in SKIP_EXT or not data.strip():
                continue
            # every .xml of feedparser's suite is a test case, even an empty document
            if not (suite == "feedparser" and ext == ".xml") and not looks_like_feed(path, data):
                stats["not-a-feed"] += 1
                continue
            digest = hashlib.sha256(data).hexdigest()
            if digest in seen:
                stats["duplicate"] += 1
                continue
            seen[digest] = f"{suite}/{path}"
            host = publisher_host(data)
            if policy == "edge":
                group = "parser"
            else:
                group = "real" if host and len(data) >= 600 else "parser"
            rel = f"{suite}/{path}"
            dst = os.path.join(args.out, "files", rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, "wb") as f:
                f.write(data)
            headers = {}
            if suite == "feedparser":
                # the feedparser suite gives HTTP headers in a comment: "Header: Name: value"
                txt = as_text_prefix(data)
                for k, v in re.findall(r"^Header:\s+([^:]+):(.*)$", txt, re.M):
                    headers[k.strip()] = v.strip()
            manifest.append({"path": rel, "suite": suite, "repo": repo, "commit": commit,
                             "group": group, "publisher": host if group == "real" else None,
                             "sha256": digest, "headers": headers})
            stats[group] += 1
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(dict(stats))
    per = Counter((m["suite"], m["group"]) for m in manifest)
    for (s, g), n in sorted(per.items()):
        print(f"  {s:24} {g:7} {n}")
    print("publishers (distinct hosts, real group):",
          len({m["publisher"] for m in manifest if m["group"] == "real"}))


if __name__ == "__main__":
    main()
