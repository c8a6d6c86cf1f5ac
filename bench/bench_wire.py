"""Bytes on the wire per page: the first visit and each page after it, raw and compressed,
with and without the HTTP cache (issue #13: first page < 2 MB, each next page < 200 kB).

It starts `app.py` (`--demo-size N`, default 7,043, or `--data PATH`) on a free port with
`--cache-dir` (default `.cache`), opens the first page once in a throwaway browser and waits
until the server has compressed every static file the page loaded at its best brotli level
(dashboard/security.py does that once per file, in the background, and keeps the result in
`<cache-dir>/static-br/`; until then a first visit gets the faster level: `--no-wait` to
measure that). Then, in headless Chromium (a fresh profile each run):

- cache on: the first page (Overview), then every other page by a fresh navigation (a full
  page load, as opening a link in a new tab does; a click in the navbar costs less: the HTML
  and Dash's layout and dependencies are not fetched again);
- cache off (DevTools disables the HTTP cache): every page costs what a first visit does.

Per page: requests, raw bytes (the decoded bodies: what an uncompressed server would send),
bytes on the wire (Resource Timing `transferSize`: headers and encoded bodies; 0 for a file
served from the browser's cache, the headers only for a 304) and the JavaScript part of both;
then, apart, what assets/prefetch.js fetches once the page is idle for the pages after it
(plotly.js, AG Grid's chunk). The first page is judged with its prefetch.

    PYTHONPATH=. .venv/bin/python bench/bench_wire.py
    PYTHONPATH=. .venv/bin/python bench/bench_wire.py --demo-size 3000 --cache-dir /tmp/wire
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser_bench import (CUSTOMER, DEFAULT_CACHE, PAGES, AppServer, Browser,  # noqa: E402
                           customer_path, human_bytes, install_signal_cleanup)

FIRST_TARGET = 2_000_000
NEXT_TARGET = 200_000
BEST_LEVEL = "-br10"  # dashboard.security.BEST_BR_LEVEL, as it ends the ETag

WIRE_JS = """
const nav = performance.getEntriesByType('navigation')[0] || {};
const out = {requests: 1, raw: nav.decodedBodySize || 0, wire: nav.transferSize || 0,
             jsRaw: 0, jsWire: 0, cached: 0, revalidated: 0, urls: []};
for (const r of performance.getEntriesByType('resource')) {
  out.requests++;
  out.raw += r.decodedBodySize || 0;
  out.wire += r.transferSize || 0;
  const js = r.initiatorType === 'script' || /\\.js(\\?|$)/.test(r.name);
  if (js) { out.jsRaw += r.decodedBodySize || 0; out.jsWire += r.transferSize || 0; }
  if (r.transferSize === 0 && r.decodedBodySize > 0) out.cached++;
  else if (r.transferSize > 0 && r.encodedBodySize === 0) out.revalidated++;
  if (['script', 'link', 'css', 'other'].includes(r.initiatorType)) out.urls.push(r.name);
}
return out;
"""


def best_compressed(url: str) -> bool | None:
    """True when the server sends `url` at its best brotli level; None when it does not
    compress it (a font, a small file)."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": "br"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        reply.read()
        if reply.headers.get("Content-Encoding") != "br":
            return None
        return (reply.headers.get("ETag") or "").rstrip('"').endswith(BEST_LEVEL)


def wait_for_best(server: AppServer, timeout_s: float) -> tuple[float, int]:
    """Load the first page once, then wait until its static files are sent at the best
    level; (seconds waited, files checked)."""
    clock = time.perf_counter()
    with Browser(http_cache=False) as browser:
        browser.open(server.url + "/")
        urls = browser.driver.execute_script(WIRE_JS)["urls"]
    static = [u for u in urls if "/_dash-component-suites/" in u or "/assets/" in u]
    left = list(static)
    while left and time.perf_counter() - clock < timeout_s:
        left = [u for u in left if best_compressed(u) is False]
        if left:
            time.sleep(1.0)
    if left:
        print(f"  (still not at the best level after {timeout_s:.0f} s: {len(left)} files)")
    return time.perf_counter() - clock, len(static)


def wait_for_prefetch(browser, timeout_s: float = 30.0) -> int | None:
    """Files assets/prefetch.js fetched once the page was idle (None: it did not finish)."""
    clock = time.perf_counter()
    while time.perf_counter() - clock < timeout_s:
        done = browser.driver.execute_script(
            "return document.documentElement.getAttribute('data-prefetched')")
        if done is not None:
            time.sleep(0.3)  # the entries of the files just fetched
            return int(done)
        time.sleep(0.25)
    return None


def visit_all(server: AppServer, http_cache: bool) -> list[tuple[str, dict]]:
    """(page, bytes) for every page, in PAGES order, in one fresh browser."""
    rows = []
    with Browser(http_cache=http_cache) as browser:
        customer = None
        for slug, path, _label in PAGES:
            if path == CUSTOMER:
                if customer is None:
                    continue
                path = customer_path(customer)
            result = browser.open(server.url + path)
            wire = browser.driver.execute_script(WIRE_JS)
            wire["settled"] = result["settle_ms"] is not None
            # What assets/prefetch.js then fetches while the page is idle, counted apart.
            wire["prefetched"] = wait_for_prefetch(browser)
            wire["idle"] = browser.driver.execute_script(WIRE_JS)["wire"] - wire["wire"]
            rows.append((slug, wire))
            if slug == "customers":
                customer = browser.customer_id_from_grid()
    return rows


def report(label: str, rows: list[tuple[str, dict]]) -> None:
    print(f"\n{label}")
    print(f"  {'page':<14}{'requests':>9}{'cached':>8}{'304':>6}{'raw':>11}{'on the wire':>13}"
          f"{'JS raw':>11}{'JS wire':>11}{'then idle prefetch':>20}")
    for slug, b in rows:
        flag = "" if b["settled"] else "  (did not settle)"
        idle = ("did not finish" if b["prefetched"] is None else
                f"{b['prefetched']} file(s) {human_bytes(b['idle'])}" if b["prefetched"] else "-")
        print(f"  {slug:<14}{b['requests']:>9}{b['cached']:>8}{b['revalidated']:>6}"
              f"{human_bytes(b['raw']):>11}{human_bytes(b['wire']):>13}"
              f"{human_bytes(b['jsRaw']):>11}{human_bytes(b['jsWire']):>11}{idle:>20}{flag}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", metavar="PATH", help="a data file (default: demo data)")
    parser.add_argument("--demo-size", type=int, default=7043, metavar="N")
    parser.add_argument("--cache-dir", default=str(DEFAULT_CACHE), metavar="DIR")
    parser.add_argument("--no-wait", action="store_true",
                        help="measure before the best compression is ready")
    parser.add_argument("--wait-timeout", type=float, default=300.0, metavar="S")
    args = parser.parse_args(argv)
    install_signal_cleanup()
    with AppServer(data=args.data, demo_size=args.demo_size, cache_dir=args.cache_dir) as server:
        print(f"server {server.url} ready in {server.ready_s:.1f} s "
              f"({args.data or f'demo {args.demo_size:,} customers'}, cache {args.cache_dir})")
        if not args.no_wait:
            waited, files = wait_for_best(server, args.wait_timeout)
            print(f"static files at the best brotli level ({files} checked, {waited:.0f} s)")
        cached = visit_all(server, http_cache=True)
        uncached = visit_all(server, http_cache=False)
    report("cache on: the first page, then each page after it (fresh navigations)", cached)
    report("cache off: every page as a first visit", uncached)
    # The first page is judged with what it prefetches when idle (it is its cost too).
    first = cached[0][1]["wire"] + cached[0][1]["idle"]
    after = max(b["wire"] for _, b in cached[1:])
    worst = max(b["wire"] + b["idle"] for _, b in uncached)
    print(f"\nfirst page on the wire: {human_bytes(cached[0][1]['wire'])} to settle, "
          f"{human_bytes(first)} with its idle prefetch (target < "
          f"{human_bytes(FIRST_TARGET)}: {'met' if first < FIRST_TARGET else 'MISSED'}), "
          f"{human_bytes(cached[0][1]['raw'])} raw")
    print(f"largest next page with the cache: {human_bytes(after)} (target < "
          f"{human_bytes(NEXT_TARGET)}: {'met' if after < NEXT_TARGET else 'MISSED'})")
    print(f"largest page without the cache: {human_bytes(worst)} with its idle prefetch")
    return 0


if __name__ == "__main__":
    sys.exit(main())
