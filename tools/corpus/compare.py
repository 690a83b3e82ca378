#!/usr/bin/env python3
"""Compare watchword's reading of the corpus with feedparser's (issue 13, "How to know it is done").

Usage: compare.py [--corpus /tmp/corpus] --label LABEL [--baseline LABEL] [--out FILE.md]
   or: compare.py --watchword W.jsonl --feed-rs F.jsonl [...]
Reads CORPUS/manifest.json, CORPUS/expected/ (feedparser_dump.py) and the two result files
of run_watchword.py (CORPUS/results/LABEL-watchword.jsonl and LABEL-feed-rs.jsonl). Prints a
Markdown report, per group ("parser" = parser suites, "real" = real captured feeds):
  - files where feedparser reads >= 1 entry, and of those how many watchword reads >= 1 item
  - title agreement with feedparser on matched entries (after norm.norm_title on both sides);
    entries are matched by position when both sides have the same count, else by id/link
    (among several items with the same id/link, the one with the same title is preferred;
    entries left without an item are counted apart as "unmatched")
  - crashes (process deaths, uncaught panics, and panics watchword caught itself), hangs
  - files feed-rs alone reads (>= 1 item) where watchword gives an error or 0 items
  - failure classes: the files feedparser reads that watchword does not, by error message
    (numbers and quoted names folded), or for "ok, 0 items" by the document's root element
With --baseline, also lists files that went from >= 1 item to none (regressions) and back.
"""
import argparse, json, os, re, sys
from collections import Counter, defaultdict
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from norm import html_to_text, norm_title  # noqa: E402

GROUPS = [("parser", "parser suites"), ("real", "real captured feeds")]


def load_jsonl(p):
    with open(p, encoding="utf-8") as f:
        return {r["path"]: r for r in map(json.loads, f)}


def lnorm(u, query=True):
    if not u:
        return None
    try:
        s = urlsplit(u.strip())
    except ValueError:
        return u.strip()
    if not s.scheme:
        return u.strip()
    path = s.path or "/"
    return f"{s.scheme.lower()}://{s.netloc.lower()}{path}" + (f"?{s.query}" if query and s.query else "")


def match_entries(fp, ww):
    """[(fp_entry, ww_item or None)]"""
    if len(fp) == len(ww):
        return list(zip(fp, ww))
    by = defaultdict(list)
    for i, it in enumerate(ww):
        key = it.get("key") or ""
        if key.startswith("guid:"):
            by[("id", key[5:])].append(i)
        for q in (True, False):
            n = lnorm(it.get("url"), q)
            if n:
                by[("url", q, n)].append(i)
    def candidates(e):
        keys = [("id", e.get("id"))]
        for q in (True, False):
            keys += [("url", q, lnorm(e.get("link"), q)), ("url", q, lnorm(e.get("id"), q))]
        for k in keys:
            if by.get(k):
                return by[k]
        return []

    # Pass 1: among the items sharing an entry's id/link (a feed may link every item to one
    # page), the one with the same title. Pass 2: the rest, to the free item nearest in
    # feed order.
    used, hits = set(), [None] * len(fp)
    for pos, e in enumerate(fp):
        for i in candidates(e):
            if i not in used and norm_title(ww[i].get("title"), False) == e["title"]:
                hits[pos] = i
                used.add(i)
                break
    for pos, e in enumerate(fp):
        if hits[pos] is None:
            free = [i for i in candidates(e) if i not in used]
            if free:
                hits[pos] = min(free, key=lambda i: abs(i - pos))
                used.add(hits[pos])
    return [(e, ww[h] if h is not None else None) for e, h in zip(fp, hits)]


ROOT_RE = re.compile(r"<([A-Za-z_][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*)\s*/?>", re.S)


def root_signature(path):
    """'<rss version="0.91" xmlns="...">' of the document's first element (a hint for why a
    document reads as 0 items), or the JSON version."""
    with open(path, "rb") as f:
        data = f.read(20000)
    for bom, enc in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe\x00\x00", "utf-32-le"),
                     (b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if data.startswith(bom):
            text = data[len(bom):].decode(enc, "replace")
            break
    else:
        if data[:2] == b"<\x00":
            text = data.decode("utf-16-le", "replace")
        elif data[:2] == b"\x00<":
            text = data.decode("utf-16-be", "replace")
        else:
            text = data.decode("latin-1")
    s = text.lstrip()
    if s.startswith("{"):
        m = re.search(r'"version"\s*:\s*"([^"]*)"', s)
        return f"JSON version {m.group(1) if m else '?'}"
    s = re.sub(r"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(\[.*?\])?\s*>", "", s, flags=re.S | re.I)
    m = ROOT_RE.search(s)
    if not m:
        return "no root element found"
    attrs = dict((k, v[1:-1]) for k, v in re.findall(r"([\w:.-]+)\s*=\s*(\"[^\"]*\"|'[^']*')", m.group(2)))
    keep = [f'{k}="{attrs[k]}"' for k in ("version", "xmlns") if k in attrs]
    return "<" + " ".join([m.group(1)] + keep) + ">"


def error_class(r, file_path):
    if r.get("hang"):
        return "hang"
    if r.get("crash"):
        return "process crash"
    if r.get("panic"):
        return "uncaught panic: " + re.sub(r"\d+", "N", r["error"])[:100]
    e = r.get("error")
    if e is None:
        return f"ok, 0 items; root {root_signature(file_path)}"
    if e.endswith("no root element"):
        # feed-rs's word for any root it does not take: say which root it was
        e += f"; root {root_signature(file_path)}"
    e = re.sub(r"`[^`]*`", "`…`", e)
    e = re.sub(r"\d+", "N", e) if "; root " not in e else re.sub(r"\d+(?=.*; root )", "N", e)
    return e[:200]


HTML_TYPES = ("text/html", "application/xhtml+xml")


def mojibake_of(text, is_html=False):
    """text as it reads when its UTF-8 bytes are read as windows-1252 (latin-1 for the five
    bytes windows-1252 leaves undefined), normalized: what a double-encoded feed shows."""
    if is_html:
        text = html_to_text(text)
    out = []
    for b in text.encode("utf-8"):
        try:
            out.append(bytes([b]).decode("cp1252"))
        except UnicodeDecodeError:
            out.append(chr(b))
    return norm_title("".join(out), False)


def pct(a, b):
    return f"{100.0 * a / b:.1f}%" if b else "n/a"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="/tmp/corpus")
    ap.add_argument("--label")
    ap.add_argument("--watchword")
    ap.add_argument("--feed-rs", dest="feed_rs")
    ap.add_argument("--baseline", help="label of an earlier run to diff against")
    ap.add_argument("--out", help="also write the report here")
    ap.add_argument("--top", type=int, default=20)
    a = ap.parse_args()
    rdir = os.path.join(a.corpus, "results")
    wpath = a.watchword or os.path.join(rdir, f"{a.label}-watchword.jsonl")
    fpath = a.feed_rs or os.path.join(rdir, f"{a.label}-feed-rs.jsonl")
    ww, fr = load_jsonl(wpath), load_jsonl(fpath)
    manifest = json.load(open(os.path.join(a.corpus, "manifest.json")))
    lines = []
    p = lines.append
    p(f"# Corpus measurement: {a.label or wpath}\n")
    p(f"watchword results: `{wpath}`; feed-rs results: `{fpath}`; corpus: `{a.corpus}` "
      f"({len(manifest)} files)\n")
    summary_rows = []
    details = []
    for g, gname in GROUPS:
        recs = [m for m in manifest if m["group"] == g]
        exp = {}
        for m in recs:
            with open(os.path.join(a.corpus, "expected", m["path"] + ".json"), encoding="utf-8") as f:
                exp[m["path"]] = json.load(f)
        fp_files = [m for m in recs if exp[m["path"]]["n_entries"] > 0]
        ww_ok = [m for m in fp_files if ww[m["path"]]["items"]]
        failing = [m for m in fp_files if not ww[m["path"]]["items"]]
        # titles
        pairs = agree = unmatched = 0
        kinds = Counter()
        samples = []
        for m in ww_ok:
            fpe = exp[m["path"]]["entries"]
            for e, it in match_entries(fpe, ww[m["path"]]["items"]):
                if it is None:
                    unmatched += 1
                    continue
                pairs += 1
                want, got = e["title"], norm_title(it.get("title"), False)
                if want == got:
                    agree += 1
                    continue
                if not got:
                    kinds["watchword title empty"] += 1
                elif not want:
                    kinds["feedparser title empty"] += 1
                elif mojibake_of(e.get("title_raw") or "", e.get("title_type") in HTML_TYPES) == got:
                    kinds["watchword title is UTF-8 read twice (mojibake)"] += 1
                elif want.startswith(got):
                    kinds["watchword title is a cut-off prefix"] += 1
                elif got.casefold() == want.casefold():
                    kinds["case differs"] += 1
                elif got.replace(" ", "") == want.replace(" ", ""):
                    kinds["spacing differs"] += 1
                else:
                    kinds["other"] += 1
                if len(samples) < 400:
                    samples.append((m["path"], want, got))
        crashes = [m["path"] for m in recs if ww[m["path"]].get("crash") or ww[m["path"]].get("panic")]
        caught = [m["path"] for m in recs
                  if (ww[m["path"]].get("error") or "").startswith("feed parser crashed")]
        hangs = [m["path"] for m in recs if ww[m["path"]].get("hang")]
        slow = sorted(((ww[m["path"]].get("ms", 0), m["path"]) for m in recs), reverse=True)[:3]
        fr_only = [m["path"] for m in recs
                   if fr[m["path"]]["items"] and not ww[m["path"]]["items"]]
        fr_crash = [m["path"] for m in recs if fr[m["path"]].get("crash") or fr[m["path"]].get("panic")
                    or fr[m["path"]].get("hang")]
        summary_rows.append((gname, len(recs), len(fp_files), len(ww_ok), pct(len(ww_ok), len(fp_files)),
                             f"{agree}/{pairs} = {pct(agree, pairs)}", unmatched,
                             len(crashes), len(caught), len(hangs), len(fr_only)))
        d = [f"\n## {gname} ({len(recs)} files"
             + (f", {len({m['publisher'] for m in recs})} publisher domains" if g == "real" else "") + ")\n"]
        d.append(f"- feedparser reads >= 1 entry: **{len(fp_files)}** files")
        d.append(f"- watchword reads >= 1 item in **{len(ww_ok)}** of them: **{pct(len(ww_ok), len(fp_files))}**"
                 f" ({len(failing)} files read as empty or rejected: "
                 f"{sum(1 for m in failing if ww[m['path']].get('error') is None)} ok with 0 items, "
                 f"{sum(1 for m in failing if ww[m['path']].get('error') is not None)} errors)")
        d.append(f"- title agreement: **{agree}/{pairs} = {pct(agree, pairs)}** of matched entries "
                 f"({unmatched} feedparser entries not matched to a watchword item in files both read; "
                 f"counting those as disagreements: {pct(agree, pairs + unmatched)})")
        if kinds:
            d.append("  - disagreements: " + ", ".join(f"{k} {n}" for k, n in kinds.most_common()))
        d.append(f"- crashes: {len(crashes)} (process deaths and uncaught panics); "
                 f"panics caught inside parse_feed (\"feed parser crashed\"): {len(caught)}"
                 + (f": {', '.join(caught[:5])}" if caught else ""))
        d.append(f"- hangs (> 10 s): {len(hangs)}" + (f": {', '.join(hangs)}" if hangs else "")
                 + "; slowest: " + ", ".join(f"{p_} {ms:.0f} ms" for ms, p_ in slow))
        d.append(f"- files feed-rs alone reads (>= 1 item) where watchword gives an error or 0 items: "
                 f"**{len(fr_only)}**" + ("" if not fr_only else ""))
        for x in fr_only[:30]:
            d.append(f"  - `{x}`: watchword: {ww[x].get('error') or 'ok, 0 items'}; feed-rs: {len(fr[x]['items'])} items")
        if fr_crash:
            d.append(f"- (feed-rs alone crashed or hung on {len(fr_crash)}: {', '.join(fr_crash[:5])})")
        # failure classes
        classes = defaultdict(list)
        for m in failing:
            classes[error_class(ww[m["path"]], os.path.join(a.corpus, "files", m["path"]))].append(m["path"])
        d.append(f"\n### {gname}: why watchword reads nothing where feedparser reads entries "
                 f"(top {a.top} of {len(classes)} classes, {len(failing)} files)\n")
        d.append("| files | watchword says | samples |")
        d.append("|---:|---|---|")
        for cls, paths in sorted(classes.items(), key=lambda kv: -len(kv[1]))[: a.top]:
            cell = cls.replace("|", "\\|")
            d.append(f"| {len(paths)} | {cell} | " + "<br>".join(f"`{x}`" for x in paths[:2]) + " |")
        if samples:
            d.append(f"\n### {gname}: sample title disagreements (feedparser → watchword)\n")
            per_suite, seen, n = Counter(), set(), 0
            for path, want, got in samples:
                suite = path.split("/", 1)[0]
                if path in seen or per_suite[suite] >= 3 or n >= 20:
                    continue
                seen.add(path)
                per_suite[suite] += 1
                n += 1
                d.append(f"- `{path}`: {json.dumps(want[:100], ensure_ascii=False)} → "
                         f"{json.dumps(got[:100], ensure_ascii=False)}")
        if a.baseline:
            base = load_jsonl(os.path.join(rdir, f"{a.baseline}-watchword.jsonl"))
            lost = [m["path"] for m in fp_files if base.get(m["path"], {}).get("items") and not ww[m["path"]]["items"]]
            won = [m["path"] for m in fp_files if not base.get(m["path"], {}).get("items") and ww[m["path"]]["items"]]
            d.append(f"\n### {gname}: against baseline `{a.baseline}`: {len(won)} files now read, "
                     f"{len(lost)} no longer read")
            for x in lost[:30]:
                d.append(f"  - lost: `{x}`: {ww[x].get('error') or 'ok, 0 items'}")
        details += d
    p("| group | files | feedparser >= 1 entry | watchword >= 1 item | % | title agreement | "
      "entries unmatched | crashes | caught panics | hangs | feed-rs alone reads, watchword not |")
    p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in summary_rows:
        p("| " + " | ".join(str(x) for x in row) + " |")
    lines += details
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()
