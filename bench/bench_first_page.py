"""Start to first page: how long from `python app.py` to the Overview settled in Chromium.

For each demo size: a cold start (a fresh cache: load, train, score, serve) and then
`--warm` warm restarts of the same cache, each in a new process. It prints the seconds from
launching the process to its first HTTP 200 (`app.py` answers the page and its code before
its data is loaded, so this is when the server is up) and to the first page settled in headless
Chromium (the browser is started beforehand, so its own start is not counted; settled is the
in-page moment the page last became idle, not the end of the detector's quiet window), the
server's
peak memory until then (RSS of the process and its children, sampled every 50 ms) and, for
the cold start, the peak until the background model checks are done as well.

The browser keeps its HTTP cache between the starts, as a returning user's does: the cold
start is a first visit (nothing cached), a warm restart finds the fingerprinted JavaScript
in the browser's cache (one year, immutable) and revalidates the rest.

    PYTHONPATH=. .venv/bin/python bench/bench_first_page.py                  # 7,043 and 1M
    PYTHONPATH=. .venv/bin/python bench/bench_first_page.py --sizes 7043 --warm 3
    PYTHONPATH=. .venv/bin/python bench/bench_first_page.py --sizes 1000000 --no-demo-events
    PYTHONPATH=. .venv/bin/python bench/bench_first_page.py --sizes 1000000 --cache-dir DIR

Targets (issue #13): 7,043 customers cold <= 10 s; warm <= 3 s at 7k and 1M; 1M cold <= 90 s
and <= 2 GB.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_offers import free_port  # noqa: E402  (same folder)
from browser_bench import Browser  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


class Peak(threading.Thread):
    """Samples the RSS of a process tree until stopped; `mb` is the largest sum seen."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process, self.mb, self.running = psutil.Process(pid), 0.0, True

    def run(self) -> None:
        while self.running:
            try:
                tree = [self.process, *self.process.children(recursive=True)]
                self.mb = max(self.mb, sum(p.memory_info().rss for p in tree) / 2**20)
            except psutil.Error:
                pass
            time.sleep(0.05)


def first_200(url: str, proc: subprocess.Popen, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return time.perf_counter()
        except (urllib.error.URLError, OSError):
            time.sleep(0.05)
    return None


def checks_done(cache: Path, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for status in (cache / "jobs").glob("checks-*.json"):
            try:
                stage = str(json.loads(status.read_text()).get("stage"))
                if stage == "done" or stage.startswith("failed"):
                    return time.perf_counter()
            except (OSError, ValueError):
                pass
        time.sleep(0.2)
    return None


def one_start(browser: Browser, size: int, events: bool, cache: Path, cold: bool,
              timeout: float, port: int) -> dict:
    cmd = [sys.executable, "app.py", "--demo-size", str(size), "--port", str(port),
           "--cache-dir", str(cache)] + ([] if events else ["--no-demo-events"])
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    clock = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    peak = Peak(proc.pid)
    peak.start()
    url = f"http://127.0.0.1:{port}/"
    try:
        answered = first_200(url, proc, timeout)
        if answered is None:
            log.seek(0)
            return {"error": "no answer: " + log.read()[-600:]}
        opened = time.perf_counter()
        # The page is served before its data is loaded: the browser waits with it (a cold
        # start at 1M customers is ~85 s to the first page), up to `timeout`.
        visit = browser.open(url, timeout_s=timeout)
        # The page is settled at `settle_ms` after its navigation began (in-page clock); the
        # detector's own confirmation window (stable_ms of quiet after it) is not counted.
        settled = opened + (visit["settle_ms"] or float("nan")) / 1000
        out = {"first_200_s": answered - clock, "first_page_s": settled - clock,
               "settle_ms": visit.get("settle_ms"), "peak_to_page_mb": peak.mb,
               "console": len(visit.get("console") or [])}
        if cold:
            done = checks_done(cache, timeout)
            out["checks_done_s"] = None if done is None else done - clock
            out["peak_with_checks_mb"] = peak.mb
        return out
    finally:
        peak.running = False
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="7043,1000000")
    parser.add_argument("--warm", type=int, default=3, help="warm restarts per size")
    parser.add_argument("--no-demo-events", action="store_true",
                        help="the plain demo (no usage, tickets, e-mails, plan changes)")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--cache-dir", help="warm restarts only, on this cache (of one size: "
                        "--sizes N); a first start, not counted, fills the browser's cache")
    args = parser.parse_args(argv)
    # The project's bytecode, as any earlier run leaves it on a usual machine (this sandbox
    # sets PYTHONDONTWRITEBYTECODE, so nothing would ever be cached and every start would
    # compile the project's modules again: about 0.2 s).
    subprocess.run([sys.executable, "-m", "compileall", "-q", "app.py", "dashboard", "pages",
                    "components", "analytics"], cwd=REPO, check=False)
    rows = []
    with Browser(http_cache=True) as browser:
        browser.open("about:blank")
        for size in (int(s) for s in args.sizes.split(",")):
            root = Path(tempfile.mkdtemp(prefix="churnlens-first-page-"))
            cache = Path(args.cache_dir) if args.cache_dir else root / "cache"
            try:
                port = free_port()  # one address per size: the browser's cache applies
                cold = one_start(browser, size, not args.no_demo_events, cache,
                                 not args.cache_dir, args.timeout, port)
                kind = "primer" if args.cache_dir else "cold"
                rows.append((size, kind, cold))
                print(size, kind, json.dumps(cold), flush=True)
                for k in range(args.warm):
                    warm = one_start(browser, size, not args.no_demo_events, cache, False,
                                     args.timeout, port)
                    rows.append((size, f"warm {k + 1}", warm))
                    print(size, f"warm {k + 1}", json.dumps(warm), flush=True)
            finally:
                shutil.rmtree(root, ignore_errors=True)  # the cache, its keys and the store
    events = "without" if args.no_demo_events else "with"
    print(f"\nStart to first page (demo data {events} behaviour; seconds from launching "
          "app.py; peak RSS of the server)")
    print(f"{'customers':>10} {'start':>8} {'first 200':>10} {'first page':>11} "
          f"{'peak MB':>8} {'checks done':>12} {'peak w/ checks':>15}")
    for size, kind, r in rows:
        if "error" in r:
            print(f"{size:>10,} {kind:>8}  error: {r['error'][:200]}")
            continue
        checks, peak = r.get("checks_done_s"), r.get("peak_with_checks_mb")
        print(f"{size:>10,} {kind:>8} {r['first_200_s']:>10.1f} {r['first_page_s']:>11.1f} "
              f"{r['peak_to_page_mb']:>8.0f} {'-' if checks is None else f'{checks:.1f}':>12} "
              f"{'-' if peak is None else f'{peak:.0f}':>15}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
