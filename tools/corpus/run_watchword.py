#!/usr/bin/env python3
"""Run the parse_corpus example over the corpus, one file at a time with a 10 s limit.

Usage:
  run_watchword.py --repo PATH [--corpus /tmp/corpus] [--out DIR] [--label NAME]
  run_watchword.py --bin PATH/TO/parse_corpus [...]

--repo builds `cargo build --example parse_corpus` (debug) in that checkout, first copying
examples/parse_corpus.rs from this branch into it if the checkout has none (an untracked
file; remove it afterwards if you like). --bin uses a binary already built.
Runs both modes: watchword (the library's parse_feed) and feed-rs (feed_rs::parser::parse
alone), and writes OUT/<label>-watchword.jsonl and OUT/<label>-feed-rs.jsonl (default OUT:
CORPUS/results, label: the checkout's short commit, or "bin"). Each line is the example's
JSON for one file, plus "hang": true when the file took over --timeout seconds (the process
is killed and restarted after it) and "crash": "..." when the process died on it (abort,
stack overflow: a panic that unwinds is caught in-process and reported as "panic": true).
"""
import argparse, json, os, select, shutil, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))


def charset_of(headers):
    ct = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    for part in ct.split(";")[1:]:
        k, _, v = part.partition("=")
        if k.strip().lower() == "charset":
            return v.strip().strip('"').strip("'").strip()
    return ""


class Driver:
    def __init__(self, binary, args):
        self.binary, self.args, self.proc = binary, args, None

    def start(self):
        self.proc = subprocess.Popen([self.binary] + self.args, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     bufsize=0)
        self.buf = b""

    def stop(self):
        if self.proc:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
            self.proc.wait()
            self.proc = None

    def ask(self, line, timeout):
        """('ok', json) | ('hang', None) | ('crash', description)"""
        if self.proc is None:
            self.start()
        try:
            self.proc.stdin.write(line.encode() + b"\n")
        except BrokenPipeError:
            rc = self.proc.wait()
            self.proc = None
            return "crash", f"process died (exit {rc})"
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                return "hang", None
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    rc = self.proc.wait()
                    self.proc = None
                    return "crash", f"process died (exit {rc})"
                self.buf += chunk
        line_out, self.buf = self.buf.split(b"\n", 1)
        return "ok", json.loads(line_out)


def run_mode(binary, mode_args, manifest, corpus, out_path, timeout):
    drv = Driver(binary, mode_args)
    mode = "feed-rs" if mode_args else "watchword"
    n_hang = n_crash = 0
    with open(out_path, "w") as out:
        for rec in manifest:
            path = os.path.join(corpus, "files", rec["path"])
            t0 = time.monotonic()
            status, val = drv.ask(f"{path}\t{charset_of(rec.get('headers', {}))}", timeout)
            if status == "ok":
                val["path"] = rec["path"]
            else:
                val = {"path": rec["path"], "mode": mode, "ok": False, "panic": False,
                       "items": [], "ms": (time.monotonic() - t0) * 1000,
                       "hang": status == "hang",
                       "error": f"hang: over {timeout} s" if status == "hang" else f"crash: {val}"}
                if status == "crash":
                    val["crash"] = val["error"]
                n_hang += status == "hang"
                n_crash += status == "crash"
            out.write(json.dumps(val, ensure_ascii=False) + "\n")
    drv.stop()
    print(f"{mode}: {len(manifest)} files -> {out_path} ({n_hang} hangs, {n_crash} process deaths)")


def main():
    ap = argparse.ArgumentParser()
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--repo", help="a watchword checkout to build the example in")
    g.add_argument("--bin", help="a built parse_corpus binary")
    ap.add_argument("--corpus", default="/tmp/corpus")
    ap.add_argument("--out", help="results dir (default CORPUS/results)")
    ap.add_argument("--label")
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--modes", default="watchword,feed-rs")
    a = ap.parse_args()
    label = a.label
    if a.repo:
        repo = os.path.abspath(a.repo)
        ex = os.path.join(repo, "examples", "parse_corpus.rs")
        if not os.path.exists(ex):
            os.makedirs(os.path.dirname(ex), exist_ok=True)
            shutil.copy(os.path.join(HERE, "..", "..", "examples", "parse_corpus.rs"), ex)
            print(f"copied parse_corpus.rs into {ex} (untracked)", file=sys.stderr)
        subprocess.run(["cargo", "build", "--example", "parse_corpus"], cwd=repo, check=True)
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(repo, "target"))
        binary = os.path.join(target, "debug", "examples", "parse_corpus")
        if not label:
            label = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo,
                                   capture_output=True, text=True).stdout.strip() or "repo"
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                   cwd=repo, capture_output=True, text=True).stdout.strip()
            if dirty:
                label += "-dirty"
    else:
        binary = os.path.abspath(a.bin)
        label = label or "bin"
    out_dir = a.out or os.path.join(a.corpus, "results")
    os.makedirs(out_dir, exist_ok=True)
    manifest = json.load(open(os.path.join(a.corpus, "manifest.json")))
    for mode in a.modes.split(","):
        run_mode(binary, ["--feed-rs"] if mode == "feed-rs" else [], manifest, a.corpus,
                 os.path.join(out_dir, f"{label}-{mode}.jsonl"), a.timeout)
    print(f"label: {label}")


if __name__ == "__main__":
    main()
