"""Full-height screenshots of every dashboard page in headless Chromium, per window width.

Starts `app.py` (demo data, --demo-size customers, or --data PATH) on a free port unless --url
names a server that is already running. For each --sizes entry (WxH) and each page: a fresh
navigation, wait until the page has settled (bench/browser_bench.py: no request or Dash callback
pending, graphs drawn, grids filled, no DOM change for --stable-ms), then the window is made as
tall as the document (heights given in `vh` are frozen first, so a 68vh grid does not grow
with the window; capped at --max-height), settled again and captured to
`<out>/<label>-<width>-<page>.png`, e.g. `telco-1400-model.png`. Console SEVERE/WARNING
entries and pages that did not settle are listed at the end.

    PYTHONPATH=. .venv/bin/python bench/screenshots.py [--demo-size 7043 | --data PATH |
        --url http://127.0.0.1:8051] [--sizes 1400x900,1920x1080] [--out artifacts/screenshots]
        [--cache-dir .cache] [--pages overview,model] [--label NAME]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from browser_bench import (CUSTOMER, DEFAULT_CACHE, PAGES, REPO, SETTLE_TIMEOUT_S, STABLE_MS,
                           AppServer, Browser, Terminated, console_summary, customer_path,
                           dataset_label, install_signal_cleanup, parse_size, short_message,
                           wait_settled)

FREEZE_VH_JS = """
let n = 0;
for (const el of document.querySelectorAll('[style]')) {
  for (const prop of ['height', 'minHeight', 'maxHeight']) {
    const value = el.style[prop];
    if (value && value.indexOf('vh') >= 0) {
      el.style[prop] = getComputedStyle(el)[prop === 'height' ? 'height' : prop];
      n++;
    }
  }
}
return n;
"""
HEIGHT_JS = """
return Math.ceil(Math.max(document.documentElement.scrollHeight, document.body.scrollHeight,
                          document.documentElement.getBoundingClientRect().height));
"""


def capture(browser: Browser, url: str, path: Path, width: int, height: int, max_height: int,
            stable_ms: int, timeout_s: float) -> dict:
    """One page: open, settle, grow the window to the document height, settle, save."""
    browser.set_viewport(width, height)
    result = browser.open(url, stable_ms, timeout_s, quiet_dom=True)
    driver = browser.driver
    driver.execute_script("window.scrollTo(0, 0);")
    frozen = driver.execute_script(FREEZE_VH_JS)
    full = height
    for _ in range(3):  # the document may reflow once it is taller (responsive graphs)
        wanted = min(max(height, driver.execute_script(HEIGHT_JS)), max_height)
        if wanted == full:
            break
        full = wanted
        browser.set_viewport(width, full)
        settled = wait_settled(driver, stable_ms, timeout_s, quiet_dom=True)
        if settled["timed_out"]:
            result.update(timed_out=True, blockers=settled["blockers"])
    document_height = driver.execute_script(HEIGHT_JS)
    driver.execute_script("window.scrollTo(0, 0);")
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    result["console"] += browser.console()
    result["collapsed"] = sorted(set(result["collapsed"]) | set(browser.collapsed_graphs()))
    result.update(shot_height=full, document_height=document_height, vh_frozen=frozen)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", help="Telco-layout CSV or Interconnect folder")
    source.add_argument("--demo-size", type=int, default=None,
                        help="demo customers (default 7043 when no --data / --url)")
    source.add_argument("--url", help="an already running server, e.g. http://127.0.0.1:8051")
    parser.add_argument("--label", help="file-name prefix (default: telco, demo7043, ...)")
    parser.add_argument("--out", default=str(REPO / "artifacts" / "screenshots"),
                        help="output folder (default artifacts/screenshots, git-ignored)")
    parser.add_argument("--sizes", default="1400x900,1920x1080",
                        help="comma-separated window sizes WxH (default 1400x900,1920x1080)")
    parser.add_argument("--max-height", type=int, default=4000,
                        help="cap on the full-page height in px (default 4000)")
    parser.add_argument("--cache-dir", default=str(DEFAULT_CACHE),
                        help="app.py cache directory (default: the repo's .cache)")
    parser.add_argument("--pages", help="only these page slugs "
                        f"({', '.join(slug for slug, _, _ in PAGES)})")
    parser.add_argument("--customer-id", help="the customer page's id (default: the first "
                        "row of the Customers grid)")
    parser.add_argument("--stable-ms", type=int, default=STABLE_MS,
                        help=f"idle and DOM-quiet time before a capture (default {STABLE_MS})")
    parser.add_argument("--timeout", type=float, default=SETTLE_TIMEOUT_S,
                        help="seconds to wait for one page to settle")
    parser.add_argument("--server-timeout", type=float, default=1800.0,
                        help="seconds to wait for app.py to answer (training included)")
    args = parser.parse_args(argv)
    install_signal_cleanup()

    demo_size = args.demo_size or (None if args.data or args.url else 7043)
    label = args.label or ("url" if args.url else dataset_label(args.data, demo_size))
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    wanted = set(args.pages.split(",")) if args.pages else None
    out = Path(args.out)
    problems: list[str] = []
    shots: list[Path] = []

    server = None
    try:
        if args.url:
            base = args.url.rstrip("/")
        else:
            print(f"starting app.py ({args.data or f'demo, {demo_size:,} customers'}, cache "
                  f"{args.cache_dir}); it trains first when the cache has no model for it",
                  flush=True)
            server = AppServer(data=args.data, demo_size=demo_size, cache_dir=args.cache_dir,
                               timeout_s=args.server_timeout)
            server.start()
            print(f"server ready in {server.ready_s:.1f} s on {server.url}", flush=True)
            base = server.url
        with Browser(window=sizes[0], http_cache=True) as browser:
            customer_id = args.customer_id
            for width, height in sizes:
                for slug, path, _label in PAGES:
                    if server is not None and not server.alive():
                        break
                    if wanted and slug not in wanted:
                        if not (slug == "customers" and not customer_id
                                and "customer" in wanted):
                            continue
                    if path == CUSTOMER:
                        if not customer_id:
                            problems.append(f"{width}: customer page skipped (no id in grid)")
                            continue
                        path = customer_path(customer_id)
                    name = out / f"{label}-{width}-{slug}.png"
                    clock = time.perf_counter()
                    result = capture(browser, base + path, name, width, height,
                                     args.max_height, args.stable_ms, args.timeout)
                    if slug == "customers" and not customer_id:
                        customer_id = browser.customer_id_from_grid()
                    if wanted and slug not in wanted:
                        name.unlink(missing_ok=True)  # opened only for the customer id
                        continue
                    shots.append(name)
                    severe, warning = console_summary(result["console"])
                    state = ("TIMEOUT: " + "; ".join(result["blockers"][:3])
                             if result["timed_out"] else f"settled {result['settle_ms']:.0f} ms")
                    print(f"  {name.name:<32} {width}x{result['shot_height']:<5} "
                          f"(document {result['document_height']} px)  {state}  console "
                          f"{severe}/{warning}  [{time.perf_counter() - clock:.1f} s]",
                          flush=True)
                    if result["timed_out"]:
                        problems.append(f"{name.name}: did not settle: "
                                        + "; ".join(result["blockers"]))
                    if result["failed"]:
                        problems.append(f"{name.name}: failed requests: "
                                        + ", ".join(dict.fromkeys(result["failed"])))
                    if result["collapsed"]:
                        problems.append(f"{name.name}: graphs collapsed: "
                                        + ", ".join(result["collapsed"]))
                    if result["document_height"] > args.max_height:
                        problems.append(f"{name.name}: page is {result['document_height']} px "
                                        f"tall, cut at {args.max_height}")
                    for entry in result["console"]:
                        if entry.get("level") in ("SEVERE", "WARNING"):
                            problems.append(f"{name.name}: console {entry['level']}: "
                                            f"{short_message(entry.get('message', ''))}")
        if server is not None and not server.alive():
            problems.append("the server died; screenshots after that are missing: "
                            + server.death())
        if server is not None and server.errors():
            problems.append(f"server log: {len(server.errors())} error line(s); exceptions: "
                            + "; ".join(server.exceptions() or ["(no traceback)"]))
    finally:
        if server is not None:
            server.stop()

    print(f"\n{len(shots)} screenshot(s) in {out}")
    if problems:
        print("noticed:")
        for line in dict.fromkeys(problems):  # in order, without repeats
            print(f"  - {line}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (KeyboardInterrupt, Terminated) as exc:  # cleaned up on the way out
        print(f"\ninterrupted ({exc or 'Ctrl-C'}); server and browser stopped", file=sys.stderr)
        sys.exit(130)
