#!/usr/bin/env python3
"""Record python feedparser's reading of every corpus file, as the reference.

Usage: feedparser_dump.py [--corpus /tmp/corpus] [--jobs 2]
Reads CORPUS/manifest.json (from build_corpus.py), parses each CORPUS/files/<path> from its
raw bytes (no network): response_headers are the HTTP headers the suite itself gives for the
file (feedparser's own suite: "Header:" lines in the file's comment), else none at all, so no
content-type. Writes CORPUS/expected/<path>.json:
  {path, group, feedparser_version, version, bozo, bozo_exception, n_entries,
   entries: [{title, title_raw, title_type, link, id}]}
where title is norm.norm_title(title_raw, is HTML per title_detail.type).
"""
import argparse, io, json, os, sys, time
from multiprocessing import Pool

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import feedparser  # noqa: E402
from norm import norm_title  # noqa: E402

HTML_TYPES = ("text/html", "application/xhtml+xml")


def dump_one(args):
    corpus, rec = args
    path = os.path.join(corpus, "files", rec["path"])
    with open(path, "rb") as f:
        data = f.read()
    headers = {k.lower(): v for k, v in rec.get("headers", {}).items()}
    t0 = time.monotonic()
    try:
        d = feedparser.parse(io.BytesIO(data), response_headers=headers)
    except Exception as e:  # feedparser should never raise; record it if it does
        out = {"path": rec["path"], "group": rec["group"], "error": repr(e), "n_entries": 0,
               "entries": [], "bozo": True, "bozo_exception": repr(e)}
    else:
        entries = []
        for e in d.entries:
            detail = e.get("title_detail") or {}
            raw = e.get("title")
            ttype = detail.get("type", "text/plain")
            entries.append({
                "title": norm_title(raw, ttype in HTML_TYPES),
                "title_raw": raw,
                "title_type": ttype,
                "link": e.get("link"),
                "id": e.get("id"),
            })
        exc = d.get("bozo_exception")
        out = {"path": rec["path"], "group": rec["group"],
               "feedparser_version": feedparser.__version__,
               "version": d.get("version", ""), "bozo": bool(d.get("bozo")),
               "bozo_exception": f"{type(exc).__name__}: {exc}" if exc is not None else None,
               "encoding": d.get("encoding"),
               "n_entries": len(entries), "entries": entries}
    out["seconds"] = round(time.monotonic() - t0, 3)
    dst = os.path.join(corpus, "expected", rec["path"] + ".json")
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(dst, "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
    return out["n_entries"] > 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="/tmp/corpus")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    manifest = json.load(open(os.path.join(a.corpus, "manifest.json")))
    with Pool(a.jobs) as pool:
        res = list(pool.imap(dump_one, [(a.corpus, r) for r in manifest], chunksize=16))
    print(f"feedparser {feedparser.__version__}: {len(res)} files, {sum(res)} with >= 1 entry")


if __name__ == "__main__":
    main()
