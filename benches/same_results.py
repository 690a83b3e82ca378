#!/usr/bin/env python3
"""Do two watchword databases hold the same results? For speed work: poll the same feeds
with the build before and the build after, then compare what they stored.

    python3 benches/same_results.py BEFORE.db AFTER.db

Row ids and times differ between two runs, so everything is compared by what it is: an
item by its feed's name and key, a story by the set of items in it, a match by its item
and topic. Compared: the stored items (every field but ids and times), the stories (which
items share one), the stories of the matched items (the index's members), the matches
(terms, hits, backfill, and which story), and each match's sources. Two runs agree only if
they stored the feeds in the same order (which copy of a story comes first decides its
story): make both with `benches/poll_in_order.sh`.

Exits 0 when they agree, 1 with the first differences otherwise.
"""
import sqlite3
import sys
from collections import defaultdict


def load(path):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    feed_of = dict(db.execute("SELECT id, name FROM feeds"))
    name = {}
    items = {}
    story_items = defaultdict(set)
    for row in db.execute(
        "SELECT id, feed_id, key, url, title, summary, content, authors, categories, "
        "published, story_id FROM items"
    ):
        item_id, feed_id, key = row[0], row[1], row[2]
        ident = (feed_of[feed_id], key)
        name[item_id] = ident
        items[ident] = row[3:10]
        story_items[row[10]].add(ident)
    story = {sid: frozenset(members) for sid, members in story_items.items()}
    item_story = {ident: story[sid] for sid, members in story_items.items() for ident in members}
    matches = {}
    match_key = {}
    for mid, item_id, topic, url, terms, hits, sid, backfill in db.execute(
        "SELECT id, item_id, topic, url, terms, hits, story_id, backfill FROM matches"
    ):
        key = (name[item_id], topic)
        match_key[mid] = key
        matches[key] = (url, terms, hits, backfill, story.get(sid))
    sources = defaultdict(set)
    for mid, item_id in db.execute("SELECT match_id, item_id FROM match_sources"):
        sources[match_key[mid]].add(name.get(item_id))
    indexed = set()
    for (sid,) in db.execute("SELECT story_id FROM story_members"):
        indexed.add(story.get(sid))
    return {
        "items": items,
        "stories": set(story.values()),
        "story of each item": item_story,
        "stories of matched items (index)": indexed,
        "matches": matches,
        "sources of each match": dict(sources),
    }


def main():
    before, after = load(sys.argv[1]), load(sys.argv[2])
    same = True
    for part in before:
        a, b = before[part], after[part]
        if a == b:
            print(f"same {part}: {len(a)}")
            continue
        same = False
        print(f"DIFFERENT {part}: {len(a)} before, {len(b)} after")
        if isinstance(a, dict):
            keys = sorted(set(a) ^ set(b), key=repr)[:3] or sorted(
                (k for k in a if a[k] != b.get(k)), key=repr
            )[:3]
            for key in keys:
                print(f"  {key!r}:\n    before {a.get(key)!r:.300}\n    after  {b.get(key)!r:.300}")
        else:
            print(f"  only before: {len(a - b)}, only after: {len(b - a)}")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
