"""Time to a settled page for every page of the dashboard in headless Chromium (figures only).

Per dataset it starts `app.py` as a real server subprocess (a free port, never 8050; the model
is loaded from --cache-dir or trained first, not measured) and opens every page with a fresh
navigation (`driver.get`) --repeats times, the pages interleaved. A page is settled when it has
been idle for --stable-ms: document complete, no request in flight, no pending Dash callback
(dash-renderer's loading marker and title, `data-dash-is-loading`), no spinner, the visible
graphs drawn and the grids showing rows (bench/browser_bench.py). The time is taken in the page
(`performance.now()` when it last became idle, from navigation start), so Selenium's polling
is not in it. Per page: median / p95 / first visit, the last DOM change by then, the bytes
transferred (navigation + resource entries; HTTP cache off unless --http-cache, so each visit
downloads what a first-time visitor does), the requests, and the browser console's SEVERE /
WARNING entries (the messages are listed under the table).

    PYTHONPATH=. .venv/bin/python bench/bench_pages.py [--datasets telco,demo1m]
        [--repeats 5] [--cache-dir .cache] [--window 1400x900] [--stable-ms 300]
        [--pages model,data] [--http-cache] [--json out.json]

Datasets: `telco` is ../shared/data/telco_customer_churn.csv (skipped when absent); `demoN`
is the demo with N customers (`demo1m` = 1,000,000, `demo7043`). The 1M demo trains for
3-5 minutes the first time a cache directory sees it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from browser_bench import (CHROMIUM, CUSTOMER, DEFAULT_CACHE, PAGES, SETTLE_TIMEOUT_S,
                           STABLE_MS, TELCO, AppServer, Browser, console_summary,
                           Terminated, customer_path, human_bytes, install_signal_cleanup,
                           parse_size, percentile, short_message)


def dataset_spec(name: str) -> dict | None:
    """{'data': path} or {'demo_size': n} for a --datasets entry (None: skip it)."""
    name = name.strip().lower()
    if name == "telco":
        return {"data": str(TELCO)} if TELCO.is_file() else None
    if name.startswith("demo"):
        size = name[4:].replace("_", "")
        scale = {"k": 1_000, "m": 1_000_000}.get(size[-1:], 1)
        number = size[:-1] if scale > 1 else size
        return {"demo_size": int(float(number) * scale) if number else 7043}
    path = Path(name)
    if path.exists():
        return {"data": str(path)}
    raise SystemExit(f"unknown dataset {name!r}: use telco, demoN (demo1m, demo7043) or a path")


def chromium_version() -> str:
    try:
        return subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True,
                              timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def visit_record(result: dict) -> dict:
    severe, warning = console_summary(result["console"])
    return {"settle_ms": result["settle_ms"], "last_dom_ms": result["last_dom_ms"],
            "timed_out": result["timed_out"], "blockers": result["blockers"],
            "failed_requests": result["failed"], "bytes": result["bytes"],
            "collapsed_graphs": result["collapsed"],
            "calls": [{"output": c.get("output") or c.get("url"), "start_ms": c.get("start"),
                       "end_ms": c.get("end"), "status": c.get("status")}
                      for c in result["calls"]],
            "busy_trace": result["trace"],
            "console_severe": severe, "console_warning": warning,
            "console": [{"level": e.get("level"), "source": e.get("source"),
                         "message": e.get("message")} for e in result["console"]
                        if e.get("level") in ("SEVERE", "WARNING")]}


def summarise(visits: list[dict]) -> dict:
    settle = [v["settle_ms"] for v in visits if v["settle_ms"] is not None]
    dom = [v["last_dom_ms"] for v in visits if v["settle_ms"] is not None]
    net = [v["bytes"].get("lastResponse") for v in visits if v["settle_ms"] is not None]

    def med(key):
        values = [v["bytes"].get(key) for v in visits if v.get("bytes")]
        values = [x for x in values if x is not None]
        return statistics.median(values) if values else None
    return {"visits": len(visits), "settled": len(settle),
            "median_ms": statistics.median(settle) if settle else None,
            "p95_ms": percentile(settle, 95), "min_ms": min(settle, default=None),
            "max_ms": max(settle, default=None),
            "first_ms": visits[0]["settle_ms"] if visits else None,
            "last_dom_median_ms": statistics.median(dom) if dom else None,
            "last_response_median_ms": percentile(net, 50),
            "bytes_total": med("total"), "bytes_data": med("data"),
            "bytes_callbacks": med("callbacks"), "requests": med("requests"),
            "callback_requests": med("callbackCount"),
            "console_severe_max": max((v["console_severe"] for v in visits), default=0),
            "console_warning_max": max((v["console_warning"] for v in visits), default=0),
            "timeouts": sum(v["timed_out"] for v in visits),
            "failed_requests": sorted({f for v in visits for f in v["failed_requests"]}),
            "collapsed_graphs": sorted({g.split()[0] for v in visits
                                        for g in v["collapsed_graphs"]}),
            "collapsed_visits": sum(bool(v["collapsed_graphs"]) for v in visits),
            "slowest_call": slowest_call(visits)}


def slowest_call(visits: list[dict]) -> dict | None:
    """The request (callback output, or URL) that answered last, most often: its median
    start, end and duration over the visits."""
    ends: dict[str, list[tuple[float, float]]] = {}
    for visit in visits:
        calls = [c for c in visit["calls"] if c["end_ms"] is not None]
        if calls:
            last = max(calls, key=lambda c: c["end_ms"])
            ends.setdefault(last["output"], []).append((last["start_ms"], last["end_ms"]))
    if not ends:
        return None
    output, spans = max(ends.items(), key=lambda kv: len(kv[1]))
    return {"output": output, "visits": len(spans),
            "start_ms": statistics.median(s for s, _ in spans),
            "end_ms": statistics.median(e for _, e in spans),
            "duration_ms": statistics.median(e - s for s, e in spans)}


def run_dataset(name: str, spec: dict, args) -> dict:
    where = spec.get("data") or f"demo, {spec['demo_size']:,} customers"
    print(f"\n== {name} ({where}) ==", flush=True)
    print(f"starting app.py (cache {args.cache_dir}); without a cached model for these settings "
          "it trains first" + (" (1M demo: ~3-5 min)" if spec.get("demo_size", 0) >= 500_000
                               else "") + ", not measured", flush=True)
    training = {"said": False}

    def echo(line: str) -> None:
        if not training["said"] and ("cross-validation" in line or "final fit" in line):
            print("    (no cached model: training now)", flush=True)
            training["said"] = True
        if args.verbose or training["said"] or "error" in line.lower():
            print(line, flush=True)

    out: dict = {"source": where, "pages": {}}
    with AppServer(cache_dir=args.cache_dir, timeout_s=args.server_timeout, echo=echo,
                   **spec) as server:
        print(f"server ready in {server.ready_s:.1f} s on {server.url}"
              + (" (trained)" if training["said"] else " (model from cache)"), flush=True)
        out.update(server_ready_s=server.ready_s, trained=training["said"])
        customer_id = args.customer_id
        visits: dict[str, list[dict]] = {}
        paths: dict[str, str] = {}
        wanted = set(args.pages.split(",")) if args.pages else None
        with Browser(window=parse_size(args.window), http_cache=args.http_cache) as browser:
            for repeat in range(args.repeats):
                if not server.alive():
                    break
                for slug, path, label in PAGES:
                    if not server.alive():
                        out["server_died"] = server.death()
                        print(f"  stopped measuring: {out['server_died']}", flush=True)
                        break
                    need_id = not customer_id and (not wanted or "customer" in wanted)
                    if wanted and slug not in wanted and not (slug == "customers" and need_id):
                        continue
                    if path == CUSTOMER:
                        if not customer_id:
                            print(f"  {label:<10} skipped: no customer id (none in the grid)")
                            continue
                        path = customer_path(customer_id)
                    result = browser.open(server.url + path, args.stable_ms, args.timeout)
                    if slug == "customers" and need_id:
                        customer_id = browser.customer_id_from_grid()
                    if wanted and slug not in wanted:
                        continue  # opened only to find a customer id
                    paths[slug] = path
                    record = visit_record(result)
                    visits.setdefault(slug, []).append(record)
                    shown = ("TIMEOUT: " + "; ".join(record["blockers"][:3])
                             if record["timed_out"] else f"{record['settle_ms']:7.0f} ms")
                    failed = (f"  failed: {', '.join(record['failed_requests'][:3])}"
                              if record["failed_requests"] else "")
                    if record["collapsed_graphs"]:
                        failed += "  collapsed: " + ", ".join(record["collapsed_graphs"])
                    print(f"  [{repeat + 1}/{args.repeats}] {label:<10} {shown}  "
                          f"{human_bytes(record['bytes'].get('total')):>9}  console "
                          f"{record['console_severe']}/{record['console_warning']}{failed}",
                          flush=True)
        out["customer_id"] = customer_id
        for slug, page_visits in visits.items():
            out["pages"][slug] = {"path": paths[slug], **summarise(page_visits),
                                  "runs": page_visits}
        if not server.alive() and "server_died" not in out:
            out["server_died"] = server.death()
        out["server_errors"] = server.errors()
        out["server_exceptions"] = server.exceptions()
    return out


def short_output(output: str | None, width: int = 90) -> str:
    """'..a.children...b.figure@hash..' -> 'a.children, b.figure' (cut to `width`)."""
    parts = [p.split("@")[0] for p in (output or "").strip(".").split("...") if p]
    text = ", ".join(parts) or "?"
    return text if len(text) <= width else text[:width - 1] + "…"


def fmt_ms(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def print_table(name: str, result: dict, repeats: int) -> None:
    labels = {slug: label for slug, _, label in PAGES}
    print(f"\n{name}: {result['source']}  (server ready in {result['server_ready_s']:.1f} s"
          f"{', trained' if result.get('trained') else ', cached model'}; customer "
          f"{result.get('customer_id') or '-'}; {repeats} visits per page)")
    head = (f"{'page':<10} {'median ms':>9} {'p95 ms':>8} {'first ms':>9} {'net ms':>7} "
            f"{'DOM ms':>7} "
            f"{'bytes':>9} {'data':>8} {'req':>4} {'cb':>3} {'console S/W':>11}  notes")
    print(head)
    print("-" * len(head))
    for slug, page in result["pages"].items():
        notes = []
        if page["timeouts"]:
            notes.append(f"{page['timeouts']} timed out")
        if page["failed_requests"]:
            notes.append("failed: " + ", ".join(page["failed_requests"][:2]))
        if page["collapsed_graphs"]:
            notes.append(f"0-height graphs in {page['collapsed_visits']} visit(s): "
                         + ", ".join(page["collapsed_graphs"]))
        print(f"{labels.get(slug, slug):<10} {fmt_ms(page['median_ms']):>9} "
              f"{fmt_ms(page['p95_ms']):>8} {fmt_ms(page['first_ms']):>9} "
              f"{fmt_ms(page['last_response_median_ms']):>7} "
              f"{fmt_ms(page['last_dom_median_ms']):>7} {human_bytes(page['bytes_total']):>9} "
              f"{human_bytes(page['bytes_data']):>8} {fmt_ms(page['requests']):>4} "
              f"{fmt_ms(page['callback_requests']):>3} "
              f"{page['console_severe_max']:>5}/{page['console_warning_max']:<5}  "
              + "; ".join(notes))
    print("median/p95/first: settled (idle for the stable time), ms from navigation start; "
          "net: last fetch answered; DOM: last DOM change; bytes: all transferred, data: "
          "fetch/XHR; req: requests; cb: callback requests; console: SEVERE/WARNING per visit "
          "(max)")
    print("request answered last (median start -> end, duration; callback outputs shortened):")
    for slug, page in result["pages"].items():
        call = page.get("slowest_call")
        if call:
            print(f"  {labels.get(slug, slug):<10} {call['start_ms']:6,.0f} -> "
                  f"{call['end_ms']:6,.0f} ms ({call['duration_ms']:5,.0f} ms)  "
                  f"{short_output(call['output'])}")
    messages = Counter()
    for slug, page in result["pages"].items():
        for run in page["runs"]:
            for entry in run["console"]:
                messages[(labels.get(slug, slug), entry["level"],
                          short_message(entry["message"]))] += 1
    if messages:
        print("console entries (page, level, times seen, message):")
        for (label, level, message), count in sorted(messages.items()):
            print(f"  {label:<10} {level:<7} x{count:<3} {message}")
    if result.get("server_died"):
        print(f"SERVER DIED during the run: {result['server_died']}")
    if result.get("server_errors"):
        print(f"server log: {len(result['server_errors'])} error line(s); exceptions:")
        for line in result.get("server_exceptions") or ["(no traceback)"]:
            print(f"  {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="telco,demo1m",
                        help="comma-separated: telco, demoN (demo1m, demo7043), or a path")
    parser.add_argument("--repeats", type=int, default=5, help="visits per page (default 5)")
    parser.add_argument("--cache-dir", default=str(DEFAULT_CACHE),
                        help="app.py cache directory (default: the repo's .cache)")
    parser.add_argument("--window", default="1400x900", help="viewport WxH (default 1400x900)")
    parser.add_argument("--stable-ms", type=int, default=STABLE_MS,
                        help=f"how long a page must stay idle (default {STABLE_MS})")
    parser.add_argument("--timeout", type=float, default=SETTLE_TIMEOUT_S,
                        help="seconds to wait for one page to settle")
    parser.add_argument("--server-timeout", type=float, default=1800.0,
                        help="seconds to wait for app.py to answer (training included)")
    parser.add_argument("--pages", help="only these page slugs, e.g. model,data "
                        f"({', '.join(slug for slug, _, _ in PAGES)})")
    parser.add_argument("--customer-id", help="the customer page's id (default: the first "
                        "row of the Customers grid)")
    parser.add_argument("--http-cache", action="store_true",
                        help="keep the browser's HTTP cache (default: off, every visit is a "
                             "first visit)")
    parser.add_argument("--verbose", action="store_true", help="echo the server's start log")
    parser.add_argument("--json", help="write the figures (and every visit) to this file")
    args = parser.parse_args(argv)
    install_signal_cleanup()

    print(f"bench_pages: {chromium_version()}, window {args.window}, {args.repeats} visits per "
          f"page, idle for {args.stable_ms} ms, HTTP cache {'on' if args.http_cache else 'off'}, "
          f"load {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    results: dict = {}
    for name in [n for n in args.datasets.split(",") if n.strip()]:
        spec = dataset_spec(name)
        if spec is None:
            print(f"\n== {name}: skipped ({TELCO} not found) ==")
            continue
        try:
            results[name] = run_dataset(name, spec, args)
        except RuntimeError as exc:  # the server did not start: report and go on
            print(f"{name}: {exc}", flush=True)
            results[name] = {"error": str(exc)}

    print("\n\n==== settled page times (ms from navigation start) ====")
    for name, result in results.items():
        if "error" in result:
            print(f"\n{name}: not measured: {result['error'].splitlines()[0]}")
        else:
            print_table(name, result, args.repeats)
    if args.json:
        meta = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "chromium": chromium_version(),
                "window": args.window, "repeats": args.repeats, "stable_ms": args.stable_ms,
                "http_cache": args.http_cache, "python": platform.python_version(),
                "load_avg": os.getloadavg()}
        Path(args.json).write_text(json.dumps({"meta": meta, "datasets": results}, indent=1))
        print(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (KeyboardInterrupt, Terminated) as exc:  # cleaned up on the way out
        print(f"\ninterrupted ({exc or 'Ctrl-C'}); server and browser stopped", file=sys.stderr)
        sys.exit(130)
