#!/usr/bin/env python3
"""Scores the topics of a config on labelled items, with and without per-topic time windows.

    python3 eval/score.py [--bin PATH] [--config PATH] [--list] LABELS.jsonl...

Runs `watchword test --file LABELS --format jsonl` and counts, per topic, true positives,
false positives and false negatives (items with "ignore": true are left out). The windowed
figures drop every predicted match whose `published` time falls outside the topic's window
(WINDOWS below), as the topic keys published_after / published_before will once the binary
has them. --list prints the ids of the errors (use it on tuning data only).
"""
import argparse
import json
import subprocess
from datetime import datetime, timezone

# Per-topic windows on the item's published time: [after, before).
WINDOWS = {
    "missile_sale": ("2023-11-01T00:00:00Z", "2024-01-01T00:00:00Z"),
    "satellite_launch": ("2023-11-01T00:00:00Z", "2024-01-01T00:00:00Z"),
}


def when(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default="/tmp/ww/watchword")
    parser.add_argument("--config", default="config/watchword.toml")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    for path in args.files:
        labels = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
        output = subprocess.run(
            [args.bin, "--config", args.config, "test", "--file", path, "--format", "jsonl"],
            check=True, capture_output=True, text=True,
        ).stdout
        predicted = [json.loads(line) for line in output.splitlines() if line.strip()]
        assert len(predicted) == len(labels), (len(predicted), len(labels))
        print(f"== {path}")
        for topic, (after, before) in WINDOWS.items():
            for windowed in (False, True):
                tp = fp = fn = 0
                errors = []
                for label, result in zip(labels, predicted):
                    if label.get("ignore"):
                        continue
                    hit = topic in result["topics"]
                    if windowed and hit:
                        # The time as watchword read it (null when the label's is not RFC 3339):
                        # an item without one is kept, as it cannot be placed.
                        published = result.get("published")
                        hit = published is None or when(after) <= when(published) < when(before)
                    want = topic in label["topics"]
                    if hit and want:
                        tp += 1
                    elif hit:
                        fp += 1
                        errors.append("FP " + label["id"])
                    elif want:
                        fn += 1
                        errors.append("FN " + label["id"])
                p = tp / (tp + fp) if tp + fp else float("nan")
                r = tp / (tp + fn) if tp + fn else float("nan")
                f = 2 * p * r / (p + r) if p + r else float("nan")
                name = "window" if windowed else "no window"
                print(f"{topic:17} {name:9} TP {tp:3} FP {fp:3} FN {fn:3}  P {p:.3f}  R {r:.3f}  F1 {f:.3f}")
                if args.list and errors:
                    print("   ", " ".join(errors))


main()
