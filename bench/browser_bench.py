"""Shared helpers for the browser benchmarks (`bench_pages.py`, `screenshots.py`).

- `AppServer`: `app.py` in a subprocess on a free port (never 8050), its log in a temp file,
  ready when `GET /` answers 200; progress lines (loading, training) are echoed meanwhile.
- `Browser`: Debian's headless Chromium through Selenium and `/usr/bin/chromedriver` (never
  Selenium Manager), a fresh `--user-data-dir`, console logging on, and an in-page monitor
  (`MONITOR_JS`, injected before any page script) that timestamps with `performance.now()`
  when the page last became idle.
- `wait_settled()`: waits until the monitor has seen the page idle for `stable_ms` and returns
  the in-page time (ms since navigation start) at which it became idle, so Selenium's
  polling interval is not part of the figure.

"Idle" means all of: `document.readyState` is complete, fonts loaded, the Dash app mounted and
the page content rendered, no fetch/XHR in flight, no pending Dash callback
(dash-renderer's `._dash-loading-callback` marker and its "updating" title), no component
marked `data-dash-is-loading="true"`, no visible `dcc.Loading` spinner, every visible
`dcc.Graph` drawn by plotly (not pending, not showing a "Loading…" placeholder), and every
visible AG Grid showing rows or its no-rows overlay (no loading overlay or stub rows). Once a
request has failed (HTTP >= 400) placeholders and empty grids no longer count, since they
would never go away. The monitor also keeps each fetch (callback output, start, end) and a
trace of what held the page busy, for finding where a page's time goes.

No repository module is imported: the scripts run with or without PYTHONPATH=.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

from bench_offers import free_port  # same folder: the one free-port helper

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHURNLENS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHURNLENS_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROME_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run")
TELCO = REPO.parent / "shared" / "data" / "telco_customer_churn.csv"
DEFAULT_CACHE = REPO / ".cache"
CUSTOMER = "/customer/<id>"
# (slug for names, path, label). CUSTOMER is filled in with a real id at run time.
PAGES = (("overview", "/", "Overview"), ("segments", "/segments", "Segments"),
         ("customers", "/customers", "Customers"), ("customer", CUSTOMER, "Customer"),
         ("behaviour", "/behaviour", "Behaviour"),
         ("what-if", "/what-if", "What-if"), ("campaign", "/campaign", "Campaign"),
         ("effectiveness", "/effectiveness", "Effectiveness"), ("trends", "/trends", "Trends"),
         ("score", "/score", "Score"), ("model", "/model", "Model"), ("data", "/data", "Data"))
STABLE_MS = 300
# Server log lines not worth echoing while it starts (Flask banner, access log).
QUIET_LINES = (" * ", "WARNING: This is a development", "Press CTRL+C", "HTTP/1.1\"",
               "Dash is running on")
SETTLE_TIMEOUT_S = 90.0


# ----- odds and ends --------------------------------------------------------------------------


def parse_size(text: str) -> tuple[int, int]:
    """'1400x900' -> (1400, 900)."""
    w, _, h = text.lower().partition("x")
    return int(w), int(h)


def percentile(values, q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100) of the values that are not None."""
    xs = sorted(v for v in values if v is not None)
    if not xs:
        return None
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def human_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    for unit, scale in (("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}" if unit == "MB" else f"{n / scale:.0f} {unit}"
    return f"{n:.0f} B"


def answers_200(url: str, timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, OSError):
        return False


def data_loaded(url: str, timeout: float = 3.0) -> bool:
    """Whether the server at `url` has its data in service: its layout answers (the layout
    waits for the data; with login on, a refusal says as much as the server can tell)."""
    try:
        with urllib.request.urlopen(url + "/_dash-layout", timeout=timeout) as response:
            return response.status == 200
    except urllib.error.HTTPError as exc:
        return exc.code in (401, 403)
    except (urllib.error.URLError, ConnectionError, OSError):
        return False


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM/SIGHUP so `finally` blocks clean up."""


def install_signal_cleanup() -> None:
    """Turn SIGTERM/SIGHUP into an exception (Ctrl-C is KeyboardInterrupt already)."""
    def handler(signum, _frame):
        raise Terminated(f"signal {signum}")
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            signal.signal(sig, handler)
        except (ValueError, OSError):
            pass


# ----- the server -----------------------------------------------------------------------------
class AppServer:
    """`python app.py --data PATH | --demo-size N --port P --cache-dir DIR` in a subprocess.

    Use as a context manager; `stop()` ends only this process (by its pid) and removes the log.
    Lines the app prints while starting (loading, cross-validation folds, training) are echoed
    with `echo` so a long first training is visible.
    """

    def __init__(self, *, data: str | None = None, demo_size: int | None = None,
                 cache_dir: str | Path = DEFAULT_CACHE, port: int | None = None,
                 timeout_s: float = 1800.0, echo=print, extra_args: tuple = ()):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.timeout_s = timeout_s
        self.echo = echo
        self.log_path = Path(tempfile.mkstemp(prefix="churnlens-bench-server-", suffix=".log")[1])
        args = ["--data", str(data)] if data else ["--demo-size", str(demo_size or 7043)]
        self.cmd = [sys.executable, "-u", str(REPO / "app.py"), *args, "--port", str(self.port),
                    "--host", "127.0.0.1", "--cache-dir", str(cache_dir), *extra_args]
        self.proc: subprocess.Popen | None = None
        self.ready_s: float | None = None

    def __enter__(self) -> AppServer:
        self.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def start(self) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.cmd, cwd=REPO, env=env, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            self._wait_ready()
        except BaseException:  # not ready, Ctrl-C, SIGTERM: leave no server behind
            self.stop()
            raise

    def _wait_ready(self) -> None:
        clock = time.perf_counter()
        shown = 0
        while True:
            shown = self._echo_new_lines(shown)
            if self.proc.poll() is not None:
                raise RuntimeError(f"app.py exited with code {self.proc.returncode} while "
                                   f"starting:\n{self.tail()}")
            if time.perf_counter() - clock > self.timeout_s:
                raise RuntimeError(f"app.py did not answer 200 on {self.url}/ within "
                                   f"{self.timeout_s:.0f} s with its data:\n{self.tail()}")
            # app.py answers "/" before its data is loaded; the layout waits for the data.
            if answers_200(self.url + "/") and data_loaded(self.url):
                break
            time.sleep(0.5)
        self._echo_new_lines(shown)
        self.ready_s = time.perf_counter() - clock

    def _echo_new_lines(self, shown: int) -> int:
        lines = self.log_lines()
        for line in lines[shown:]:
            if line.strip() and not any(noise in line for noise in QUIET_LINES):
                self.echo(f"    server: {line.strip()}")
        return len(lines)

    def log_lines(self) -> list[str]:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return []

    def tail(self, n: int = 25) -> str:
        return "\n".join(self.log_lines()[-n:])

    def errors(self) -> list[str]:
        """Server log lines that mean a request or callback failed."""
        markers = ("Traceback (most recent call last)", "Exception on ", "\" 500 -")
        return [line for line in self.log_lines() if any(m in line for m in markers)]

    def exceptions(self) -> list[str]:
        """Each distinct traceback in the server log as 'file:line in function: Error: ...'
        (the innermost frame inside the repository)."""
        found: list[str] = []
        frame, inside = "", False
        for line in self.log_lines():
            text = line.strip()
            if text.startswith("Traceback (most recent call last)"):
                frame, inside = "", True
            elif inside and text.startswith('File "'):
                match = re.match(r'File "([^"]+)", line (\d+), in (.+)', text)
                if match and match.group(1).startswith(str(REPO)) and "/.venv/" not in text:
                    path = Path(match.group(1)).relative_to(REPO)
                    frame = f"{path}:{match.group(2)} in {match.group(3)}"
            elif inside and re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b", text):
                summary = f"{frame}: {text}" if frame else text
                if summary not in found:
                    found.append(summary)
                inside = False
        return found

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def death(self) -> str | None:
        """None while it runs; else its exit code, last traceback and last log lines."""
        if self.proc is None or self.proc.poll() is None:
            return None
        return (f"app.py exited on its own with code {self.proc.returncode} "
                f"(exceptions: {'; '.join(self.exceptions()) or 'none'}); last lines:\n"
                + self.tail(8))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)
        self.log_path.unlink(missing_ok=True)


# ----- the in-page monitor --------------------------------------------------------------------
MONITOR_JS = r"""
(() => {
  if (window.__bench) return;
  const B = window.__bench = {pending: 0, requests: 0, busy: true, idleSince: null,
                              lastMutation: 0, lastBusy: 0, changes: 0, checks: 0,
                              blockers: ['not checked yet'], failed: [], calls: [],
                              trace: [], traceKey: null};
  try { performance.setResourceTimingBufferSize(10000); } catch (e) {}
  const shown = el => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const anyShown = sel => Array.prototype.some.call(document.querySelectorAll(sel), shown);
  const blockers = () => {
    const out = [];
    if (document.readyState !== 'complete') out.push('readyState ' + document.readyState);
    if (document.fonts && document.fonts.status !== 'loaded') out.push('fonts loading');
    if (B.pending > 0) out.push(B.pending + ' request(s) in flight');
    const root = document.getElementById('react-entry-point');
    if (!root || !root.children.length) out.push('Dash app not mounted');
    if (document.querySelector('._dash-loading')) out.push('dash-renderer starting');
    if (document.querySelector('._dash-loading-callback')) out.push('Dash callbacks pending');
    if ((document.title || '').indexOf('updating') >= 0) out.push('title says updating');
    const content = document.getElementById('_pages_content');
    if (root && root.children.length && !(content && content.children.length))
      out.push('page content not rendered');
    if (document.querySelector('[data-dash-is-loading="true"]'))
      out.push('component data-dash-is-loading');
    if (anyShown('.dash-spinner, .dash-default-spinner, .dash-loading-title'))
      out.push('dcc.Loading spinner shown');
    for (const g of document.querySelectorAll('.dash-graph')) {
      if (!shown(g)) continue;
      const id = g.id || '(graph)';
      if (g.classList.contains('dash-graph--pending')) { out.push(id + ' pending'); continue; }
      if (!g.querySelector('.main-svg')) { out.push(id + ' not drawn'); continue; }
      for (const a of g.querySelectorAll('.annotation-text')) {
        if (/^\s*Loading/.test(a.textContent || '') && !B.failed.length) {
          out.push(id + ' shows a Loading placeholder'); break;
        }
      }
    }
    for (const grid of document.querySelectorAll('.ag-root-wrapper')) {
      if (!shown(grid)) continue;
      const id = (grid.closest('[id]') || {}).id || '(grid)';
      const overlay = Array.prototype.some.call(
        grid.querySelectorAll('.ag-overlay-loading-wrapper, .ag-overlay-loading-center'), shown);
      if (overlay) { out.push(id + ' loading overlay'); continue; }
      if (!B.failed.length && Array.prototype.some.call(
          grid.querySelectorAll('.ag-loading, .ag-skeleton-container'), shown)) {
        out.push(id + ' rows loading'); continue;
      }
      const rows = grid.querySelector(
        '.ag-center-cols-container .ag-row, .ag-center-cols-clipper .ag-row');
      const none = Array.prototype.some.call(grid.querySelectorAll(
        '.ag-overlay-no-rows-wrapper, .ag-overlay-no-rows-center'), shown);
      if (!rows && !none && !B.failed.length) out.push(id + ' has no rows yet');
    }
    return out;
  };
  const check = () => {
    const now = performance.now();
    let found;
    try { found = blockers(); } catch (e) { found = ['monitor error: ' + e]; }
    B.checks++;
    const busy = found.length > 0;
    const key = found.join('|');
    if (key !== B.traceKey && B.trace.length < 300) {
      B.trace.push([Math.round(now), found.slice(0, 4)]);
      B.traceKey = key;
    }
    if (busy) { B.blockers = found; B.lastBusy = now; } else { B.blockers = []; }
    if (busy !== B.busy) { B.busy = busy; B.changes++; B.idleSince = busy ? null : now; }
  };
  B.check = check;
  const fail = (status, url) => {
    B.failed.push(status + ' ' + String(url).replace(location.origin, '').split('?')[0]);
  };
  const origFetch = window.fetch;
  if (origFetch) {
    window.fetch = function (input, init) {
      B.pending++; B.requests++; check();
      const call = {url: String((input && input.url) || input).replace(location.origin, ''),
                    start: performance.now(), end: null, status: null, output: null};
      if (call.url.indexOf('_dash-update-component') >= 0 && init &&
          typeof init.body === 'string') {
        try { call.output = JSON.parse(init.body).output; } catch (e) {}
      }
      B.calls.push(call);
      let promise;
      try { promise = origFetch.apply(this, arguments); }
      catch (e) { B.pending--; check(); throw e; }
      return promise
        .then(r => { call.status = r.status; if (!r.ok) fail(r.status, r.url); return r; },
              e => { fail('network', String(e)); throw e; })
        .finally(() => { call.end = performance.now(); B.pending--; check(); });
    };
  }
  const origSend = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function () {
    B.pending++; B.requests++; check();
    this.addEventListener('loadend', () => {
      if (!(this.status >= 200 && this.status < 400)) fail(this.status, this.responseURL);
      B.pending--; check();
    }, {once: true});
    return origSend.apply(this, arguments);
  };
  new MutationObserver(() => { B.lastMutation = performance.now(); check(); })
    .observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
  document.addEventListener('readystatechange', check);
  window.addEventListener('load', check);
  if (document.fonts) document.fonts.addEventListener('loadingdone', check);
  setInterval(check, 20);
})();
"""

STATE_JS = """
const B = window.__bench;
if (!B) return null;
B.check();
return {busy: B.busy, idle: B.idleSince, now: performance.now(), blockers: B.blockers,
        lastMutation: B.lastMutation, changes: B.changes, requests: B.requests,
        failed: B.failed, calls: B.calls, trace: B.trace, href: location.href};
"""

BYTES_JS = """
const nav = performance.getEntriesByType('navigation')[0] || {};
const res = performance.getEntriesByType('resource');
let total = nav.transferSize || 0, body = nav.encodedBodySize || 0, data = 0, callbacks = 0,
    callbackCount = 0, lastResponse = 0;
for (const r of res) {
  total += r.transferSize || 0;
  body += r.encodedBodySize || 0;
  if (r.initiatorType === 'fetch' || r.initiatorType === 'xmlhttprequest') {
    data += r.transferSize || 0;
    lastResponse = Math.max(lastResponse, r.responseEnd || 0);
  }
  if (r.name.indexOf('/_dash-update-component') >= 0) {
    callbacks += r.transferSize || 0;
    callbackCount++;
  }
}
return {total: total, body: body, data: data, callbacks: callbacks, callbackCount: callbackCount,
        lastResponse: lastResponse || null,
        requests: res.length + 1, domContentLoaded: nav.domContentLoadedEventEnd || null,
        load: nav.loadEventEnd || null};
"""


GRID_ID_JS = """
const wrapper = document.querySelector('.ag-root-wrapper');
const host = wrapper && wrapper.closest('[id]');
try {
  const api = dash_ag_grid.getApi(host.id);
  let first = null;
  for (let i = 0; i < 200; i++) {
    const node = api.getDisplayedRowAtIndex(i);
    if (!node || !node.data || node.data.customer_id == null) break;
    if (first === null) first = String(node.data.customer_id);
    if (node.data.status === 'active') return String(node.data.customer_id);
  }
  if (first !== null) return first;
} catch (e) {}
for (const c of document.querySelectorAll(".ag-row[row-index='0'] [col-id=customer_id]")) {
  const t = (c.textContent || '').trim();
  if (t) return t;
}
return null;
"""

COLLAPSED_JS = """
const out = [];
for (const g of document.querySelectorAll('.dash-graph')) {
  const r = g.getBoundingClientRect();
  if (r.width > 0 && r.height < 20)
    out.push((g.id || '(graph)') + ' ' + Math.round(r.height) + ' px tall');
}
return out;
"""


# ----- the browser ----------------------------------------------------------------------------
class Browser:
    """Headless Chromium with a fresh profile and the monitor injected into every document.

    `http_cache=False` disables the HTTP cache (DevTools), so every navigation is a first
    visit: the bytes are what a new user downloads.
    """

    def __init__(self, window: tuple[int, int] = (1400, 900), http_cache: bool = False,
                 page_load_timeout_s: float = 120.0):
        self.window = window
        self.http_cache = http_cache
        self.page_load_timeout_s = page_load_timeout_s
        self.profile: str | None = None
        self.driver = None

    def __enter__(self) -> Browser:
        self.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def start(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        os.environ["SE_OFFLINE"] = "true"  # never let Selenium Manager download anything
        for path in (CHROMIUM, CHROMEDRIVER):
            if not (os.path.isfile(path) and os.access(path, os.X_OK)):
                raise RuntimeError(f"{path} not found or not executable "
                                   "(Debian: apt-get install chromium chromium-driver)")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in CHROME_ARGS:
            options.add_argument(argument)
        options.add_argument(f"--window-size={self.window[0]},{self.window[1]}")
        self.profile = tempfile.mkdtemp(prefix="churnlens-bench-chrome-")
        options.add_argument(f"--user-data-dir={self.profile}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        try:
            self.driver = webdriver.Chrome(options=options,
                                           service=Service(executable_path=CHROMEDRIVER))
            self.driver.set_page_load_timeout(self.page_load_timeout_s)
            self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                        {"source": MONITOR_JS})
            self.driver.execute_cdp_cmd("Network.enable", {})
            self.driver.execute_cdp_cmd("Network.setCacheDisabled",
                                        {"cacheDisabled": not self.http_cache})
            self.set_viewport(*self.window)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.driver is not None:
            try:
                self.driver.quit()
            except Exception:  # noqa: BLE001 - the browser may already be gone
                pass
            self.driver = None
        if self.profile:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None

    def set_viewport(self, width: int, height: int) -> tuple[int, int]:
        """Make the page's viewport (innerWidth x innerHeight) this size; returns what it got."""
        d = self.driver
        d.set_window_size(width, height)
        inner = d.execute_script("return [window.innerWidth, window.innerHeight];")
        if inner and (inner[0] != width or inner[1] != height):
            d.set_window_size(width + (width - inner[0]), height + (height - inner[1]))
            inner = d.execute_script("return [window.innerWidth, window.innerHeight];")
        return tuple(inner or (width, height))

    def console(self) -> list[dict]:
        """Browser console entries since the last call (and clears them)."""
        try:
            return self.driver.get_log("browser")
        except Exception:  # noqa: BLE001 - some drivers do not keep a log
            return []

    def page_bytes(self) -> dict:
        return self.driver.execute_script(BYTES_JS)

    def open(self, url: str, stable_ms: int = STABLE_MS, timeout_s: float = SETTLE_TIMEOUT_S,
             quiet_dom: bool = False) -> dict:
        """A fresh navigation to `url`, then `wait_settled`; with the console entries and the
        bytes of this visit."""
        from selenium.common.exceptions import TimeoutException

        self.console()  # drop what earlier pages logged
        try:
            self.driver.get(url)
        except TimeoutException:  # no load event in time: wait_settled reports what is left
            pass
        result = wait_settled(self.driver, stable_ms, timeout_s, quiet_dom)
        result["bytes"] = self.page_bytes()
        result["collapsed"] = self.collapsed_graphs()
        result["console"] = self.console()
        return result

    def customer_id_from_grid(self, timeout_s: float = 30.0) -> str | None:
        """An id from the Customers grid (the page must be open): the first listed customer
        whose status is 'active' (the riskiest who has not left, so the page shows an offer
        and the what-if), else the first row."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = self.driver.execute_script(GRID_ID_JS)
            if found:
                return found
            time.sleep(0.1)
        return None

    def collapsed_graphs(self) -> list[str]:
        """Visible graphs drawn less than 20 px tall (a layout that collapsed)."""
        return self.driver.execute_script(COLLAPSED_JS) or []


def wait_settled(driver, stable_ms: int = STABLE_MS, timeout_s: float = SETTLE_TIMEOUT_S,
                 quiet_dom: bool = False) -> dict:
    """Wait until the page has been idle (see the module docstring) for `stable_ms`
    (and, with `quiet_dom`, also without any DOM mutation for as long).

    Returns `settle_ms`: the in-page time (performance.now(), ms since navigation start) at
    which the page last became idle (None on timeout); `last_dom_ms`: the last DOM mutation
    seen by then; `failed`: requests that answered >= 400 or failed (graph placeholders and
    empty grids no longer hold the page busy after one); on timeout, the `blockers` left."""
    deadline = time.monotonic() + timeout_s
    state = None
    while True:
        state = driver.execute_script(STATE_JS)
        if state and not state["busy"] and state["idle"] is not None:
            quiet_since = max(state["idle"], state["lastMutation"]) if quiet_dom \
                else state["idle"]
            if state["now"] - quiet_since >= stable_ms:
                break
        if time.monotonic() > deadline:
            return {"settle_ms": None, "last_dom_ms": (state or {}).get("lastMutation"),
                    "timed_out": True,
                    "blockers": (state or {}).get("blockers") or ["monitor not installed"],
                    "failed": (state or {}).get("failed") or [],
                    "requests": (state or {}).get("requests"),
                    "calls": (state or {}).get("calls") or [],
                    "trace": (state or {}).get("trace") or []}
        time.sleep(0.05)
    return {"settle_ms": state["idle"], "last_dom_ms": state["lastMutation"],
            "timed_out": False, "blockers": [], "failed": state["failed"],
            "requests": state["requests"], "calls": state["calls"], "trace": state["trace"]}


def customer_path(customer_id: str) -> str:
    """The customer page's path for this id (quoted: ids may hold any character)."""
    return "/customer/" + quote(customer_id, safe="")


def short_message(message: str) -> str:
    """A console message without its page URL, query strings and pointer values (so alike
    ones count together), at most 150 characters."""
    message = re.sub(r"^https?://[^ ]+ - ", "", message or "")
    message = re.sub(r"(https?://[^ ?]+)\?[^ ]*", r"\1", message)
    return re.sub(r"0x[0-9a-f]+", "0x…", message)[:150]


def console_summary(entries: list[dict]) -> tuple[int, int]:
    """(SEVERE, WARNING) counts."""
    severe = sum(1 for e in entries if e.get("level") == "SEVERE")
    warning = sum(1 for e in entries if e.get("level") == "WARNING")
    return severe, warning


def dataset_label(data: str | None, demo_size: int | None) -> str:
    """'telco' for telco_customer_churn.csv, 'interconnect' for a folder, 'demo7043'."""
    if data:
        stem = Path(data).stem.lower()
        for sep in ("_", "-", " ", "."):
            stem = stem.split(sep)[0]
        return stem or "data"
    return f"demo{demo_size or 7043}"
