"""Simulated users against the production server (`python -m dashboard.serve`), figures only.

Issue #13 part 4, "hold under load". Per worker count (`--workers-list 1,2`) the script starts
`python -m dashboard.serve --workers N` on the demo of `--demo-size` customers (default
1,000,000, `--no-demo-events`, cache `--cache-dir`) on a free port (never 8050), waits for
every "Booting worker", runs the scenarios, stops it (SIGTERM) and prints figures; `--url`
targets a running server instead (the demo of `--demo-size`, seed 0: the bench draws its
customers from the same generator).

Scenarios, each `--warmup` seconds unrecorded, then `--duration` seconds recorded:
  paused      `--users` users, a pause of `--pause` s (uniform 0.5x-1.5x) between actions
  throughput  the same users with no pause: requests/s per worker count, 2 workers vs 1
  export      as paused, plus one more client downloading the full export (every customer,
              `/export/csv`) from start to end, again as soon as one finishes

With `--client-processes K` the users are split over K forked processes, so that the
generator's own GIL (50 threads parsing answers in one process) is not in the latencies it
measures; they then compete with the server for the same cores instead (no better on 2
cores). Every process' CPU is counted as the generator's.
A user is a thread with its own keep-alive connection (urllib3) and a seeded RNG; it picks
actions with fixed weights, sending what dash-renderer sends:
  filter   0.25  a global filter dropdown changes: the filter-sync callback (shell), then the
                 Overview tiles/charts callback (timed as "filter") and the navbar summary
  grid     0.30  a Customers grid block (getRowsResponse; timed as "grid block") and the
                 toolbar count that the same request triggers; scroll the current view
                 (45%), its first block (20%), a new sort (20%) or a new column filter (15%)
  customer 0.15  the Customer page's callback for a random customer (of `--sample` drawn)
  whatif   0.15  the Customer page's what-if for the customer last opened (one is opened
                 first if none is): another contract or add-on, and/or a discount
  score    0.15  `POST /api/score` with one real customer's features
The global filters a user chose stay in force for their grid blocks, as in the browser.

    PYTHONPATH=. .venv/bin/python -u bench/load.py > load.log 2>&1 &       # 1M, workers 1,2
    PYTHONPATH=. .venv/bin/python bench/load.py --demo-size 7043 --duration 10 --users 10
    PYTHONPATH=. .venv/bin/python bench/load.py --url http://127.0.0.1:8051 --scenarios paused
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import psutil
import urllib3

from bench_list import GRID, SORTABLE, percentile   # same folder: the script's own directory
from bench_offers import ASSUMPTIONS, free_port, whatif_payload

REPO = Path(__file__).resolve().parents[1]
UPDATE = "/_dash-update-component"
WEIGHTS = {"filter": 0.25, "grid": 0.30, "customer": 0.15, "whatif": 0.15, "score": 0.15}
# Reported rows: (request name, target p95 ms or None). The targets are on three.
ROWS = [("filter", 150), ("filter sync", None), ("filter summary", None),
        ("grid block", 300), ("grid toolbar", None), ("customer page", None),
        ("what-if", None), ("/api/score", 100)]
TARGETS = {name: t for name, t in ROWS if t}
FILTERS_STORE, URL_ID, SUMMARY = "app-filters-store", "app-url", "app-filter-summary-text"
TIER_DROPDOWN = "app-filter-tier-dropdown"
FILTER_DROPDOWNS = ("app-filter-driver-1-dropdown", "app-filter-driver-2-dropdown",
                    "app-filter-driver-3-dropdown", "app-filter-segment-dropdown",
                    TIER_DROPDOWN)
WHATIF_INPUT = "customer-whatif-input"
EVERYONE_EXPORT = {"filters": {"everyone": True}, "filterModel": {}, "sortModel": []}
ROW_COUNT = re.compile(rb'"rowCount":\s*(\d+)')
# What a browser's fetch sends (urllib3 decodes a compressed answer, as the browser does).
HEADERS = {"Content-Type": "application/json", "Accept-Encoding": "gzip, deflate"}


# ----- the server ---------------------------------------------------------------------------
class Server:
    """`python -m dashboard.serve` in a subprocess; ready once every worker has booted and
    /_dash-dependencies answers."""

    def __init__(self, workers: int, threads: int | None, size: int, cache_dir: str,
                 timeout_s: float, repo: Path = REPO) -> None:
        self.workers, self.port = workers, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile("w+", prefix="churnlens-load-", suffix=".log",
                                               delete=False)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            p for p in (str(repo), os.environ.get("PYTHONPATH")) if p))
        cmd = [sys.executable, "-m", "dashboard.serve", "--workers", str(workers),
               *(["--threads", str(threads)] if threads else []), "--demo-size", str(size),
               "--no-demo-events", "--cache-dir", str(Path(cache_dir).resolve()),
               "--host", "127.0.0.1",
               "--port", str(self.port)]
        clock = time.perf_counter()
        self.proc = subprocess.Popen(cmd, cwd=repo, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        http = urllib3.PoolManager(retries=False, timeout=5)
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}:\n{self.tail()}")
            if time.perf_counter() - clock > timeout_s:
                self.stop()
                raise RuntimeError(f"server not ready after {timeout_s:.0f} s:\n{self.tail()}")
            if self.text().count("Booting worker with pid") >= workers:
                try:
                    if http.request("GET", self.url + "/_dash-dependencies").status == 200:
                        break
                except urllib3.exceptions.HTTPError:
                    pass
            time.sleep(0.5)
        http.clear()
        self.ready_s = time.perf_counter() - clock
        found = re.search(r"worker\(s\) x (\d+) threads", self.text())  # serve's own line
        self.threads = int(found.group(1)) if found else threads

    def text(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.text().splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)      # gunicorn: graceful, then exits
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


class Sampler(threading.Thread):
    """RSS of the server's master and workers every 0.5 s (psutil): peak of the sum, peak
    per process; PSS (shared pages split between the processes) summed every 5 s; CPU
    seconds of the master and of the workers between `mark()` and `read()`."""

    def __init__(self, pid: int | None) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid) if pid else None
        self.halt = threading.Event()
        self.peak_sum, self.peak, self.peak_pss, self.samples = 0.0, {}, 0.0, 0
        self.cpu0 = {}

    def processes(self) -> list[psutil.Process]:
        if self.root is None:
            return []
        try:
            return [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return []

    def run(self) -> None:
        while not self.halt.wait(0.5):
            self.sample()

    def sample(self) -> None:
        total, pss, full = 0.0, 0.0, self.samples % 10 == 0
        self.samples += 1
        for p in self.processes():
            try:
                mb = p.memory_info().rss / 2**20
                pss += p.memory_full_info().pss / 2**20 if full else 0.0
            except psutil.Error:
                continue
            total += mb
            role = "master" if p.pid == self.root.pid else f"worker {p.pid}"
            self.peak[role] = max(self.peak.get(role, 0.0), mb)
        self.peak_sum = max(self.peak_sum, total)
        self.peak_pss = max(self.peak_pss, pss)

    def _cpu(self) -> dict[int, float]:  # pid -> CPU seconds
        out = {}
        for p in self.processes():
            try:
                t = p.cpu_times()
                out[p.pid] = t.user + t.system
            except psutil.Error:
                pass
        return out

    def mark(self) -> None:
        self.cpu0, self.peak_sum, self.peak, self.peak_pss = self._cpu(), 0.0, {}, 0.0
        self.samples = 0

    def read(self) -> tuple[float, float] | None:
        """(master, workers) CPU seconds since `mark()`."""
        if self.root is None:
            return None
        now = self._cpu()
        master = now.get(self.root.pid, 0.0) - self.cpu0.get(self.root.pid, 0.0)
        return master, sum(now[p] - self.cpu0.get(p, 0.0) for p in now if p != self.root.pid)


# ----- what the app is: callbacks, filter choices, customers ----------------------------------
def _walk(tree):
    """Every component dict ({"props": ..., "type": ...}) in a Dash layout or response."""
    if isinstance(tree, dict):
        if isinstance(tree.get("props"), dict):
            yield tree
        for value in tree.values():
            yield from _walk(value)
    elif isinstance(tree, list):
        for item in tree:
            yield from _walk(item)


def _values(options) -> list:
    return [o.get("value") if isinstance(o, dict) else o for o in options or []]


class App:
    """The callbacks (from /_dash-dependencies), the filter bar (from /_dash-layout) and a
    sample of real customers (the same demo generator as the server's, seed 0)."""

    def __init__(self, url: str, size: int, sample: int, rng: random.Random) -> None:
        http = urllib3.PoolManager(retries=False, timeout=60)
        self.deps = json.loads(http.request("GET", url + "/_dash-dependencies").data)
        layout = json.loads(http.request("GET", url + "/_dash-layout").data)
        components = {json.dumps(c["props"]["id"], sort_keys=True)
                      if isinstance(c["props"].get("id"), dict) else c["props"].get("id"): c
                      for c in _walk(layout) if c["props"].get("id") is not None}
        self.choices = {d: [v for v in _values(components[d]["props"].get("options"))
                            if v is not None]
                        for d in FILTER_DROPDOWNS if d in components}
        self.choices = {d: v for d, v in self.choices.items() if v}
        slider = components.get("app-filter-tenure-slider", {}).get("props", {})
        self.tenure = slider.get("value") or [0, slider.get("max", 1)]
        self.nav = [c["props"]["id"] for c in _walk(layout)
                    if isinstance(c["props"].get("id"), dict)
                    and c["props"]["id"].get("type") == "app-nav-link"]
        self.sync = self.dep(f"{FILTERS_STORE}.data", "app-filter-reset-button.n_clicks")
        self.overview = self.dep("overview-kpi-row.children")
        self.summary = self.dep(f"{SUMMARY}.children")
        self.grid = self.dep(f"{GRID}.getRowsResponse")
        self.toolbar = self.dep("customers-count-text.children")
        self.customer = self.dep("customer-whatif-base-store.data")
        self.whatif = self.dep("customer-whatif-result-div.children")
        self.ids, self.records = self._customers(http, url, size, sample, rng)
        http.clear()

    def dep(self, output: str, needs_input: str | None = None) -> dict:
        for d in self.deps:
            outs = [o.split("@")[0] for o in d["output"].strip(".").split("...")]
            ins = [f"{i['id']}.{i['property']}" for i in d["inputs"]]
            if output in outs and (needs_input is None or needs_input in ins):
                return d
        raise LookupError(f"no callback writes {output} (is this ChurnLens?)")

    @staticmethod
    def _customers(http, url: str, size: int, sample: int, rng: random.Random):
        """Ids and /api/score records of `sample` customers: the demo frame's columns less
        the label, less any field the API calls unknown (asked once per field)."""
        from analytics.demo import generate_demo
        frame = generate_demo(size, seed=0)
        rows = frame.iloc[sorted(rng.sample(range(len(frame)), min(sample, len(frame))))]
        del frame
        rows = rows.drop(columns=["Churn"]).rename(columns={"customerID": "customer_id"})
        records = [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
                   for r in rows.to_dict("records")]
        for _ in range(len(rows.columns)):
            response = http.request("POST", url + "/api/score", body=json.dumps(records[0]),
                                    headers={"Content-Type": "application/json"})
            if response.status == 200:
                break
            answer = json.loads(response.data)
            field = answer.get("field")
            if response.status != 400 or not field or "unknown field" not in answer["error"]:
                raise RuntimeError(f"/api/score refused a demo customer ({response.status}: "
                                   f"{answer}); is the server the demo of {size:,}?")
            records = [{k: v for k, v in r.items() if k != field} for r in records]
        return [r["customer_id"] for r in records], records


def body_for(dep: dict, values: dict, changed: list[str]) -> dict:
    """The request dash-renderer sends for a callback without pattern-matching ids."""
    parts = dep["output"].strip(".").split("...")
    outputs = [{"id": p.rsplit(".", 1)[0], "property": p.rsplit(".", 1)[1].split("@")[0]}
               for p in parts]

    def deps(items):
        return [{"id": d["id"], "property": d["property"],
                 "value": values.get(f"{d['id']}.{d['property']}")} for d in items]
    return {"output": dep["output"], "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": deps(dep["inputs"]), "state": deps(dep["state"]),
            "changedPropIds": changed}


# ----- one simulated user -------------------------------------------------------------------
class Recorder:
    """Latencies per request name, errors, and completed requests, for one time window."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.window = (float("inf"), float("inf"))
        self.times: dict[str, list[float]] = {}
        self.errors: list[str] = []
        self.n_errors, self.done, self.actions = 0, 0, 0
        self.outcomes: dict[str, int] = {}

    def add(self, name: str, start: float, ms: float, error: str | None = None) -> None:
        lo, hi = self.window
        if not lo <= start < hi:
            return
        with self.lock:
            self.times.setdefault(name, []).append(ms)
            self.done += start + ms / 1000 < hi
            if error:
                self.n_errors += 1
                if len(self.errors) < 8:
                    self.errors.append(f"{name}: {error}")

    def outcome(self, key: str, start: float) -> None:
        if self.window[0] <= start < self.window[1]:
            with self.lock:
                self.outcomes[key] = self.outcomes.get(key, 0) + 1


class User(threading.Thread):
    def __init__(self, app: App, url: str, seed: int, pause: float, end: float,
                 rec: Recorder) -> None:
        super().__init__(daemon=True)
        split = urlsplit(url)
        self.pool = urllib3.HTTPConnectionPool(split.hostname, split.port or 80, maxsize=1,
                                               block=True, retries=False,
                                               timeout=urllib3.Timeout(connect=10, read=300))
        self.app, self.rng, self.pause, self.end, self.rec = app, random.Random(seed), pause, \
            end, rec
        self.widgets = {d: [] for d in FILTER_DROPDOWNS}
        self.filters, self.hash = {}, ""
        self.view = {"filterModel": {}, "sortModel": [], "rows": None, "filters": None}
        self.opened = None          # the last customer page's response (bytes)

    def request(self, name: str, path: str, body: dict | None, check=None) -> bytes | None:
        start = time.perf_counter()
        try:
            response = self.pool.urlopen("POST", path, body=json.dumps(body), headers=HEADERS)
            data = response.data
            ms = (time.perf_counter() - start) * 1000
            error = None if 200 <= response.status < 300 else \
                f"HTTP {response.status} {data[:160]!r}"
            if error is None and check is not None and not check(data):
                error = f"unexpected answer {data[:160]!r}"
        except Exception as exc:  # noqa: BLE001 - every failure is a figure here
            ms, data, error = (time.perf_counter() - start) * 1000, None, repr(exc)[:200]
        self.rec.add(name, start, ms, error)
        return None if error else data

    def run(self) -> None:
        names, weights = list(WEIGHTS), list(WEIGHTS.values())
        time.sleep(self.rng.uniform(0, max(self.pause, 0.05)))   # users do not start in step
        while time.perf_counter() < self.end:
            action = self.rng.choices(names, weights)[0]
            with self.rec.lock:
                self.rec.actions += 1
            getattr(self, action)()
            if self.pause:
                time.sleep(self.pause * self.rng.uniform(0.5, 1.5))
        self.pool.close()

    # -- actions
    def filter(self) -> None:
        app, rng = self.app, self.rng
        dropdown = rng.choice(list(app.choices))
        options = app.choices[dropdown]
        if self.widgets[dropdown] and rng.random() < 0.3:
            value = []
        else:
            value = rng.sample(options, rng.randint(1, max(1, len(options) - 1)))
        self.widgets[dropdown] = value
        values = {f"{d}.value": v for d, v in self.widgets.items()}
        values.update({f"{URL_ID}.hash": self.hash, "app-filter-tenure-slider.value":
                       app.tenure, "app-filter-everyone-switch.value": False})
        data = self.request("filter sync", UPDATE,
                            body_for(app.sync, values, [f"{dropdown}.value"]))
        if data is None:
            return
        answer = json.loads(data)["response"]
        self.filters = answer[FILTERS_STORE]["data"]
        self.hash = answer.get(URL_ID, {}).get("hash", self.hash)
        store = {f"{FILTERS_STORE}.data": self.filters}
        self.request("filter", UPDATE, body_for(app.overview, store, [f"{FILTERS_STORE}.data"]),
                     check=lambda d: b"overview-kpi-row" in d)
        links = [{"id": i, "property": "href"} for i in app.nav]
        self.request("filter summary", UPDATE, {
            "output": app.summary["output"],
            "outputs": [links, {"id": SUMMARY, "property": "children"}],
            "inputs": [{"id": FILTERS_STORE, "property": "data", "value": self.filters}],
            "state": [[{"id": i, "property": "id", "value": i} for i in app.nav]],
            "changedPropIds": [f"{FILTERS_STORE}.data"]})

    def grid(self) -> None:
        rng, view = self.rng, self.view
        if view["filters"] != self.filters:          # the filters changed: a new view
            view.update(filters=self.filters, rows=None)
        roll = rng.random()
        start = 0
        if roll < 0.20:
            view.update(sortModel=[{"colId": rng.choice(SORTABLE),
                                    "sort": rng.choice(("asc", "desc"))}], rows=None)
        elif roll < 0.35:
            view.update(rows=None, filterModel=rng.choice((
                {}, {"monthly_charges": {"filterType": "number", "type": "greaterThan",
                                         "filter": round(rng.uniform(20, 110), 2)}},
                {"customer_id": {"filterType": "text", "type": "contains",
                                 "filter": "".join(rng.choices("ABCDEFGHKLMNPRSTVX", k=2))}},
            )))
        elif roll < 0.80 and view["rows"]:
            start = 100 * rng.randrange(max(1, (view["rows"] + 99) // 100))
        request = {"startRow": start, "endRow": start + 100,
                   "filterModel": view["filterModel"], "sortModel": view["sortModel"]}
        values = {f"{GRID}.getRowsRequest": request, f"{FILTERS_STORE}.data": self.filters}
        changed = [f"{GRID}.getRowsRequest"]
        data = self.request("grid block", UPDATE, body_for(self.app.grid, values, changed),
                            check=lambda d: b"rowCount" in d)
        if data is not None:
            found = ROW_COUNT.search(data)
            view["rows"] = int(found.group(1)) if found else None
        self.request("grid toolbar", UPDATE, body_for(self.app.toolbar, values, changed))

    def customer(self) -> None:
        cid = self.rng.choice(self.app.ids)
        values = {"customer-id-store.data": cid}
        data = self.request("customer page", UPDATE,
                            body_for(self.app.customer, values, ["customer-id-store.data"]),
                            check=lambda d: b"customer-whatif-base-store" in d)
        self.opened = data

    def whatif(self) -> None:
        if self.opened is None:
            self.customer()
            if self.opened is None:
                return
        response = json.loads(self.opened)["response"]
        base = response["customer-whatif-base-store"]["data"]
        fields = {}
        assumptions = {}
        for c in _walk(response["customer-whatif-inputs-div"]["children"]):
            cid = c["props"].get("id")
            if isinstance(cid, dict) and cid.get("type") == WHATIF_INPUT:
                fields[cid["feature"]] = c["props"]
            elif isinstance(cid, dict) and cid.get("type") == f"{WHATIF_INPUT}-assumption":
                assumptions[cid["name"]] = c["props"].get("value")
        values = {f: p.get("value") for f, p in fields.items()}
        rng = self.rng
        dropdowns = [f for f, p in fields.items()
                     if p.get("options") and not p.get("disabled")
                     and len(_values(p["options"])) > 1]
        changed = None
        if dropdowns and rng.random() < 0.7:
            f = "Contract" if "Contract" in dropdowns and rng.random() < 0.6 \
                else rng.choice(dropdowns)
            values[f] = rng.choice([v for v in _values(fields[f]["options"]) if v != values[f]])
            changed = f
        if changed is None or rng.random() < 0.4:
            if "discount" in fields and not fields["discount"].get("disabled"):
                values.update(discount=rng.choice((5, 10, 15, 20, 25, 30)),
                              months=rng.choice((3, 6, 12)))
                changed = changed or "discount"
        changed = changed or next(iter(fields))
        body = whatif_payload(self.app.whatif["output"], [
            {"id": "customer-whatif-result-div", "property": "children"},
            {"id": "customer-whatif-moved-graph", "property": "figure"}],
            WHATIF_INPUT, list(fields), list(values.values()),
            [assumptions.get(a) for a in ASSUMPTIONS], changed,
            extra_state=[{"id": "customer-whatif-base-store", "property": "data",
                          "value": base}])
        start = time.perf_counter()
        data = self.request("what-if", UPDATE, body)
        if data is not None:
            self.rec.outcome("error alert" if b"customer-whatif-error-alert" in data else
                             "unchanged" if b"customer-whatif-empty-text" in data else "result",
                             start)

    def score(self) -> None:
        self.request("/api/score", "/api/score", self.rng.choice(self.app.records),
                     check=lambda d: b"churn_probability" in d)


class Exporter(threading.Thread):
    """Downloads the full export (every customer, CSV) again and again until `end`; the
    download in progress at `end` is read to its end (its duration and MB/s are then
    partly without the users: `after_s` says how long after the window it ended)."""

    def __init__(self, url: str, end: float, fmt: str = "csv") -> None:
        super().__init__(daemon=True)
        self.url = f"{url}/export/{fmt}?state=" + quote(json.dumps(EVERYONE_EXPORT,
                                                                   separators=(",", ":")))
        self.end, self.runs, self.errors = end, [], []
        self.http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=10,
                                                                              read=900))

    def run(self) -> None:
        while time.perf_counter() < self.end:
            start = time.perf_counter()
            run = {"finished": False}
            try:
                response = self.http.request("GET", self.url, preload_content=False,
                                             headers={"Accept-Encoding": "gzip, deflate"})
                run["first_byte_s"] = time.perf_counter() - start
                size = 0
                for chunk in response.stream(1 << 20):
                    size += len(chunk)
                run["finished"] = response.status == 200
                response.release_conn()
                if time.perf_counter() > self.end:
                    run["after_s"] = time.perf_counter() - self.end
                if response.status != 200:
                    self.errors.append(f"HTTP {response.status}")
                run.update(status=response.status, mb=size / 1e6,
                           s=time.perf_counter() - start)
            except Exception as exc:  # noqa: BLE001
                self.errors.append(repr(exc)[:200])
                run.update(s=time.perf_counter() - start, mb=0.0)
                time.sleep(1)
            self.runs.append(run)
        self.http.clear()


# ----- scenarios ----------------------------------------------------------------------------
def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_users(app: App, url: str, seeds: list[int], pause: float, begin: float, end: float,
              rec: Recorder) -> tuple[float, int]:
    """The users of `seeds` as threads of this process until `end`; (this process' CPU
    seconds in the window, actions started in it)."""
    users = [User(app, url, seed, pause, end, rec) for seed in seeds]
    for thread in users:
        thread.start()
    time.sleep(max(0.0, begin - time.perf_counter()))
    cpu0, actions0 = cpu_seconds(), rec.actions
    time.sleep(max(0.0, end - time.perf_counter()))
    cpu1, actions1 = cpu_seconds(), rec.actions
    for thread in users:
        thread.join(timeout=900)
    return cpu1 - cpu0, actions1 - actions0


def _client(app, url, seeds, pause, begin, end, pipe) -> None:
    """One client process (forked): its users' latencies back to the parent."""
    rec = Recorder()
    rec.window = (begin, end)
    cpu, actions = run_users(app, url, seeds, pause, begin, end, rec)
    pipe.send({"times": rec.times, "errors": rec.errors, "n_errors": rec.n_errors,
               "done": rec.done, "outcomes": rec.outcomes, "cpu": cpu, "actions": actions})
    pipe.close()


def run_clients(app: App, url: str, args, seeds: list[int], pause: float, begin: float,
                end: float, rec: Recorder) -> tuple[float, int]:
    """The users split over `--client-processes` forked processes, so that the generator's
    own GIL (50 threads parsing answers) is not in the latencies; their records merged into
    `rec`. (generator CPU seconds in the window, actions started in it)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    jobs = []
    for k in range(args.client_processes):
        mine = seeds[k::args.client_processes]
        if not mine:
            continue
        here, there = context.Pipe(duplex=False)
        process = context.Process(target=_client,
                                  args=(app, url, mine, pause, begin, end, there))
        process.start()
        jobs.append((process, here))
    cpu, actions = 0.0, 0
    for process, pipe in jobs:
        part = pipe.recv()
        process.join()
        for name, values in part["times"].items():
            rec.times.setdefault(name, []).extend(values)
        for key, count in part["outcomes"].items():
            rec.outcomes[key] = rec.outcomes.get(key, 0) + count
        rec.errors.extend(part["errors"][:8 - len(rec.errors)])
        rec.n_errors += part["n_errors"]
        rec.done += part["done"]
        cpu += part["cpu"]
        actions += part["actions"]
    return cpu, actions


def run_scenario(name: str, app: App, url: str, args, sampler: Sampler, seed: int) -> dict:
    pause = 0.0 if name == "throughput" else args.pause
    now = time.perf_counter()
    begin, end = now + args.warmup, now + args.warmup + args.duration
    rec = Recorder()
    rec.window = (begin, end)
    seeds = [seed * 1000 + i for i in range(args.users)]
    exporter = Exporter(url, end) if name == "export" else None
    load0 = os.getloadavg()
    if exporter:
        exporter.start()
    parent_cpu = []

    def mark() -> None:
        sampler.mark()
        parent_cpu.append(cpu_seconds())

    marker = threading.Timer(max(0.0, begin - time.perf_counter()), mark)
    marker.start()
    if args.client_processes > 1:
        generator_cpu, actions = run_clients(app, url, args, seeds, pause, begin, end, rec)
        marker.join()
        generator_cpu += cpu_seconds() - parent_cpu[0]  # this process: the export client
    else:
        generator_cpu, actions = run_users(app, url, seeds, pause, begin, end, rec)
        marker.join()
    server_cpu = sampler.read()
    sampler.sample()
    peak_sum, peak, pss = sampler.peak_sum, dict(sampler.peak), sampler.peak_pss
    if exporter:
        exporter.join(timeout=900)
    stats = {}
    for row, _target in ROWS:
        values = rec.times.get(row, [])
        if values:
            stats[row] = {"n": len(values), "p50": percentile(values, 50),
                          "p95": percentile(values, 95), "p99": percentile(values, 99),
                          "max": max(values)}
    out = {"scenario": name, "users": args.users, "pause": pause, "duration": args.duration,
           "warmup": args.warmup, "requests": sum(len(v) for v in rec.times.values()),
           "completed": rec.done, "errors": rec.n_errors, "error_examples": rec.errors,
           "throughput": rec.done / args.duration, "actions_per_s":
           actions / args.duration, "stats": stats, "whatif": rec.outcomes,
           "generator_cpu_s": generator_cpu, "client_processes": args.client_processes,
           "server_cpu_s": server_cpu,
           "peak_rss_sum_mb": peak_sum or None, "peak_rss_mb": peak, "peak_pss_sum_mb": pss,
           "load_avg": [load0, os.getloadavg()]}
    if exporter:
        out["export"] = {"runs": exporter.runs, "errors": exporter.errors}
    return out


# ----- printing -----------------------------------------------------------------------------
def print_result(label: str, r: dict) -> None:
    pause = "no pause" if not r["pause"] else f"pause {r['pause']:g} s (0.5x-1.5x)"
    print(f"\n-- {label}, scenario {r['scenario']}: {r['users']} users, {pause}, "
          f"{r['duration']:g} s recorded after {r['warmup']:g} s warm-up")
    print(f"   requests {r['requests']:,} (completed in the window {r['completed']:,}), errors "
          f"{r['errors']}, throughput {r['throughput']:.1f} req/s ({r['actions_per_s']:.1f} "
          f"user actions/s)")
    for example in r["error_examples"][:5]:
        print(f"     error: {example}")
    print(f"   {'request':<16}{'n':>7}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}  target p95")
    for row, target in ROWS:
        s = r["stats"].get(row)
        if not s:
            continue
        verdict = "" if target is None else \
            f"<= {target} ms  {'PASS' if s['p95'] <= target else 'MISS'}"
        print(f"   {row:<16}{s['n']:>7,}{s['p50']:>9.1f}{s['p95']:>9.1f}{s['p99']:>9.1f}"
              f"{s['max']:>9.1f}  {verdict}")
    if r["whatif"]:
        print(f"   what-if answers: {r['whatif']}")
    if "export" in r:
        e = r["export"]
        for x in e["runs"]:
            state = "failed" if not x.get("finished") else \
                f"ended {x['after_s']:.1f} s after the window (the users had stopped)" \
                if "after_s" in x else "done"
            ttfb = f"first byte {x['first_byte_s']:.1f} s, " if "first_byte_s" in x else ""
            print(f"   export (all customers, CSV): {ttfb}{x['mb']:.1f} MB in {x['s']:.1f} s "
                  f"({x['mb'] / x['s'] if x['s'] else 0:.1f} MB/s), {state}")
        for error in e["errors"][:3]:
            print(f"     export error: {error}")
    window = r["duration"]
    cores = os.cpu_count() or 1
    server = r["server_cpu_s"]
    print(f"   load generator ({r['client_processes']} process(es), on the same {cores} cores): "
          f"{r['generator_cpu_s']:.1f} CPU-s in {window:g} s = "
          f"{r['generator_cpu_s'] / window:.2f} cores"
          + ("" if server is None else f"; server workers {server[1]:.1f} CPU-s = "
             f"{server[1] / window:.2f} cores ({1000 * server[1] / max(1, r['completed']):.1f}"
             f" CPU-ms per request), master {server[0]:.1f} CPU-s"))
    if r["peak_rss_sum_mb"]:
        per = ", ".join(f"{k} {v:,.0f}" for k, v in sorted(r["peak_rss_mb"].items()))
        print(f"   server peak RSS (sum of master + workers, sampled every 0.5 s) "
              f"{r['peak_rss_sum_mb']:,.0f} MB; per process: {per} MB (pages the workers "
              f"share with the master count in each; PSS sum, every 5 s: "
              f"{r['peak_pss_sum_mb']:,.0f} MB)")
    a, b = r["load_avg"]
    print(f"   machine load average (1/5/15 min) at start {a[0]:.1f}/{a[1]:.1f}/{a[2]:.1f}, "
          f"at end {b[0]:.1f}/{b[1]:.1f}/{b[2]:.1f}")


def print_summary(results: list[dict]) -> None:
    print("\n" + "=" * 100)
    print("Summary (p95 ms; targets: filter <= 150, grid block <= 300, /api/score <= 100; "
          "zero errors)")
    print(f"{'server':<24}{'scenario':<12}{'req/s':>8}{'errors':>8}{'filter':>9}{'grid':>9}"
          f"{'score':>9}{'peak RSS MB':>13}  verdict")
    for r in results:
        p95 = {k: r["stats"].get(k, {}).get("p95") for k in TARGETS}
        ok = r["errors"] == 0 and all(v is not None and v <= TARGETS[k] for k, v in p95.items())
        verdict = "-" if r["scenario"] == "throughput" else "PASS" if ok else "MISS"
        cells = "".join(f"{'-' if v is None else f'{v:.0f}':>9}" for v in p95.values())
        rss = "-" if not r["peak_rss_sum_mb"] else f"{r['peak_rss_sum_mb']:,.0f}"
        print(f"{r['server']:<24}{r['scenario']:<12}{r['throughput']:>8.1f}{r['errors']:>8}"
              f"{cells}{rss:>13}  {verdict}")
    through = {r["workers"]: r["throughput"] for r in results
               if r["scenario"] == "throughput" and r["workers"]}
    if through:
        print("\nThroughput with no pause, per worker count: " + ", ".join(
            f"{w} worker(s) {t:.1f} req/s" for w, t in sorted(through.items())))
        if 1 in through and 2 in through:
            ratio = through[2] / through[1]
            print(f"2 workers vs 1: {ratio:.2f}x (target >= 1.7x: "
                  f"{'PASS' if ratio >= 1.7 else 'MISS'})")
    print("The load generator runs on the same machine as the server (its CPU use is printed "
          "per scenario); the machine is shared, so compare runs made side by side.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--client-processes", type=int, default=1, metavar="K",
                        help="processes the users are split over (default 1: threads of "
                             "this one)")
    parser.add_argument("--pause", type=float, default=1.0,
                        help="mean seconds between a user's actions (paused, export)")
    parser.add_argument("--duration", type=float, default=60, help="recorded seconds")
    parser.add_argument("--warmup", type=float, default=10, help="unrecorded seconds first")
    parser.add_argument("--workers-list", default="1,2")
    parser.add_argument("--threads", type=int, default=None,
                        help="gunicorn threads per worker (default: the server's)")
    parser.add_argument("--demo-size", type=int, default=1_000_000)
    parser.add_argument("--cache-dir", default=".cache-bench-1m",
                        help="reused across runs: the 1M demo trains ~2 min the first time")
    parser.add_argument("--scenarios", default="paused,throughput,export")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample", type=int, default=2000, help="customers to draw from")
    parser.add_argument("--url", help="a running server instead (the demo of --demo-size)")
    parser.add_argument("--server-pid", type=int, help="with --url: its master's pid (RSS)")
    parser.add_argument("--repo", type=Path, default=REPO,
                        help="serve the code of this checkout (default: this one), e.g. a "
                             "copy that edits in progress here cannot change mid-run")
    parser.add_argument("--start-timeout", type=float, default=1800)
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(scenarios) - {"paused", "throughput", "export"}
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(sorted(unknown))}")
    workers_list = [None] if args.url else \
        [int(w) for w in args.workers_list.split(",") if w.strip()]

    results = []
    for workers in workers_list:
        server = None
        if args.url:
            url, pid, label = args.url.rstrip("/"), args.server_pid, f"server at {args.url}"
        else:
            print(f"\n== starting dashboard.serve: {workers} worker(s), demo "
                  f"{args.demo_size:,}, cache {args.cache_dir} ...", flush=True)
            server = Server(workers, args.threads, args.demo_size, args.cache_dir,
                            args.start_timeout, args.repo.resolve())
            url, pid = server.url, server.proc.pid
            threads = args.threads or server.threads
            label = f"{workers} worker(s) x {threads} thr"
            print(f"   ready in {server.ready_s:.1f} s on {url}", flush=True)
        sampler = Sampler(pid)
        sampler.start()
        try:
            clock = time.perf_counter()
            app = App(url, args.demo_size, args.sample, random.Random(args.seed))
            dropdowns = ", ".join(d.removeprefix("app-filter-").removesuffix("-dropdown")
                                  for d in app.choices)
            print(f"   {len(app.ids):,} customers sampled, filter dropdowns {dropdowns}, "
                  f"score fields {len(app.records[0]) - 1} "
                  f"({time.perf_counter() - clock:.1f} s)", flush=True)
            for i, name in enumerate(scenarios):
                print(f"   scenario {name} ({args.warmup:g} + {args.duration:g} s) ...",
                      flush=True)
                r = run_scenario(name, app, url, args, sampler, args.seed + i)
                r.update(server=label, workers=workers)
                if server:
                    r["ready_s"] = server.ready_s
                print_result(label, r)
                sys.stdout.flush()
                results.append(r)
        finally:
            sampler.halt.set()
            if server:
                server.stop()
    print_summary(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
