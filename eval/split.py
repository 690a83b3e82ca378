#!/usr/bin/env python3
"""Splits the gathered items into a tuning part and a held-out part.

Rules (fixed before any item was scored):
1. an item that repeats one of news-dev.jsonl (same link, or the same first 60 characters of
   summary) is dropped: the topics were tuned on news-dev, so it would leak into the held-out
   part and add nothing to the tuning part;
2. an item goes to the held-out part when the first byte of sha256(id as UTF-8) is even,
   else to the tuning part.

    python3 eval/split.py ALL_ITEMS.jsonl   # writes eval/news-tune.jsonl, eval/news-holdout.jsonl

A later batch is split the same way into its own two parts, and also drops the items that
repeat any file given with --also (so nothing held out before leaks into its tuning part):

    python3 eval/split.py eval/news-batch2.jsonl --out news-batch2 \
        --also eval/news-tune.jsonl eval/news-holdout.jsonl
    # writes eval/news-batch2-tune.jsonl, eval/news-batch2-holdout.jsonl
"""
import hashlib
import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
args = sys.argv[1:]
source = args.pop(0)
prefix = "news"
also = []
while args:
    flag = args.pop(0)
    if flag == "--out":
        prefix = args.pop(0)
    elif flag == "--also":
        also, args = args, []
    else:
        sys.exit(f"unknown argument {flag}")
dev = []
for path in [os.path.join(here, "news-dev.jsonl")] + also:
    dev += [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
dev_links = {item.get("link") for item in dev}
dev_starts = {(item.get("summary") or "")[:60] for item in dev}
tune, holdout, dropped = [], [], 0
for line in open(source, encoding="utf-8"):
    if not line.strip():
        continue
    item = json.loads(line)
    if item.get("link") in dev_links or (item.get("summary") or "")[:60] in dev_starts:
        dropped += 1
        continue
    first = hashlib.sha256(item["id"].encode("utf-8")).digest()[0]
    (holdout if first % 2 == 0 else tune).append(line.rstrip("\n"))
for name, lines in ((f"{prefix}-tune.jsonl", tune), (f"{prefix}-holdout.jsonl", holdout)):
    with open(os.path.join(here, name), "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
print(f"tune {len(tune)}, holdout {len(holdout)}, dropped as repeats {dropped}")
