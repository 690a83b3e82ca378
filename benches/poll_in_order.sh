#!/usr/bin/env bash
# Polls feeds one at a time, in order, each with its own `watchword once`, into one database:
# the same order every time, so two builds' databases can be compared with same_results.py
# (with several polls at once, which copy of a story comes first can differ run to run).
#
#   benches/poll_in_order.sh BINARY DATABASE URL_PREFIX N [TOPICS.toml]
#   # e.g. with ../shared/bench/server.sh serving its corpus:
#   benches/poll_in_order.sh target/release/watchword /tmp/after.db \
#       http://127.0.0.1:18480/syn/f 300 tests/fixtures/topics.toml
#
# Feed i is URL_PREFIX followed by i in five digits and `.xml`. TOPICS defaults to one topic,
# `satellite`; the topics' `published_after`/`published_before` lines are left out.
set -euo pipefail
bin=$1 db=$2 prefix=$3 n=$4 topics=${5:-}
rm -f "$db" "$db"-*
config=$(mktemp)
trap 'rm -f "$config"' EXIT
for i in $(seq 1 "$n"); do
  {
    printf '[daemon]\ndatabase = "%s"\nfirst_poll = "alert"\n\n' "$db"
    printf '[[feed]]\nname = "feed %d"\nurl = "%s%05d.xml"\n\n' "$i" "$prefix" "$i"
    if [[ -n $topics ]]; then
      grep -v '^published_after\|^published_before' "$topics"
    else
      printf "[[topic]]\nid = \"satellite\"\nquery = 'satellite'\n"
    fi
  } >"$config"
  "$bin" --config "$config" once >/dev/null 2>&1
done
