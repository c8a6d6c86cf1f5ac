"""Best-offer ranking for the whole table, and what-if / scoring latency over HTTP (figures only).

Per demo size: loads the analysis from --cache-dir (or trains: the first 1M run takes 3-5 min,
not measured), then times `analytics.recommend.recommend` for every customer x every offer of
the catalogue (seconds, customers x offers per second, peak RSS, offer mix). Then it starts
`app.py` on that size as a real server subprocess (Flask dev server on a free port, never
8050) and times over HTTP (`requests`, keep-alive): the customer page's what-if callback
(`pages/customer.py` simulate) for different customers and scenarios, the group what-if
(`pages/whatif.py` simulate) for the whole selection, and `POST /api/score` for one customer
(target p95 < 50 ms) and for a batch of 100.

    PYTHONPATH=. .venv/bin/python bench/bench_offers.py [--sizes 7043 1000000]
        [--cache-dir .cache] [--customer-requests 200] [--group-requests 50]
        [--score-requests 300] [--batch 100] [--skip-http] [--json out.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_list import percentile, timed  # same folder: the script's own directory

REPO = Path(__file__).resolve().parents[1]
UPDATE = "/_dash-update-component"
MONEY = ("discount", "months", "other_cost")      # the what-if inputs after the features
ASSUMPTIONS = ("margin", "acceptance", "contact_cost")
SCORE_TARGET_MS = 50


# ----- memory (Linux /proc; elsewhere the process peak from getrusage) ------------------------
def _status_mb(field: str, pid: int | str = "self") -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def rss_mb() -> float | None:
    return _status_mb("VmRSS")


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) so the next reading is the peak of what follows."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mb(pid: int | str = "self") -> float:
    peak = _status_mb("VmHWM", pid)
    if peak is not None:
        return peak
    ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return ru / (1024 * 1024) if sys.platform == "darwin" else ru / 1024


def load_avg() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


# ----- 1. batch recommendation --------------------------------------------------------------
class _Stopwatch:
    """Wraps a function to add up its wall time and the rows it was given (first argument
    with a len, if any)."""

    def __init__(self, fn, rows_arg: int | None = None):
        self.fn, self.rows_arg, self.seconds, self.calls, self.rows = fn, rows_arg, 0.0, 0, 0

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += 1
            if self.rows_arg is not None:
                self.rows += len(args[self.rows_arg])


def bench_batch(analysis, catalogue, salt: str) -> dict:
    """One `recommend` over the whole table, with its model / promo-code split and peak RSS."""
    import numpy as np

    import analytics.recommend as rec
    from analytics.dataset import ACTIVE
    from analytics.offers import eligible_mask

    customers = analysis.customers
    active = customers[ACTIVE].to_numpy(dtype=bool)
    frame = customers.loc[active]
    eligible = {o.id: int(eligible_mask(frame, o).sum()) for o in catalogue.offers}
    del frame
    gc.collect()

    model = analysis.model
    predict = _Stopwatch(model.predict_proba, rows_arg=0)
    best, codes = _Stopwatch(rec.best_offers), _Stopwatch(rec.promo_codes)
    model.predict_proba = predict                 # instance attribute shadows the method
    rec.best_offers, rec.promo_codes = best, codes
    before = rss_mb()
    exact_peak = reset_peak_rss()
    try:
        seconds, table = timed(rec.recommend, analysis, catalogue, salt)
    finally:
        del model.predict_proba
        rec.best_offers, rec.promo_codes = best.fn, codes.fn
    peak = peak_rss_mb()

    n, k = len(customers), len(catalogue.offers)
    profit = table[rec.PROFIT].to_numpy(dtype=float)
    names = table[rec.OFFER_NAME]
    mix = [{"offer": str(name), "n": int(count),
            "profit": float(np.nansum(profit[(names == name).to_numpy()]))}
           for name, count in names.value_counts(sort=False).items()]
    mix.sort(key=lambda m: -m["n"])
    return {"customers": n, "offers": k, "active": int(active.sum()), "seconds": seconds,
            "pairs_per_s": n * k / seconds, "active_pairs_per_s": int(active.sum()) * k / seconds,
            "eligible": eligible, "model_rows": predict.rows, "predict_calls": predict.calls,
            "predict_s": predict.seconds, "best_offers_s": best.seconds,
            "promo_s": codes.seconds, "promo_codes": int((table[rec.PROMO] != "").sum()),
            "rss_before_mb": before, "peak_rss_mb": peak, "peak_exact": exact_peak,
            "mix": mix}


# ----- 2./3. a real server and the requests a browser / API client sends -----------------------
def free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port != 8050:
            return port


class Server:
    """`python app.py --demo-size N` in a subprocess, ready when /_dash-dependencies answers."""

    def __init__(self, size: int, cache_dir: str, offers: str, port: int, timeout_s: float):
        import requests
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile("w+", prefix="churnlens-bench-offers-",
                                               suffix=".log", delete=False)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
        cmd = [sys.executable, str(REPO / "app.py"), "--demo-size", str(size), "--port",
               str(self.port), "--cache-dir", cache_dir, "--offers", offers]
        clock = time.perf_counter()
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.session = requests.Session()
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}:\n{self.tail()}")
            if time.perf_counter() - clock > timeout_s:
                self.stop()
                raise RuntimeError(f"server not ready after {timeout_s:.0f} s:\n{self.tail()}")
            try:
                response = self.session.get(self.url + "/_dash-dependencies", timeout=5)
                if response.status_code == 200:
                    self.dependencies = response.json()
                    # app.py serves before its data is loaded: the layout waits for it.
                    self.session.get(self.url + "/_dash-layout",
                                     timeout=max(5.0, timeout_s - (time.perf_counter() - clock)))
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        self.ready_s = time.perf_counter() - clock

    def tail(self, lines: int = 15) -> str:
        self.log.flush()
        return "\n".join(Path(self.log.name).read_text().splitlines()[-lines:])

    def post(self, path: str, body) -> tuple[float, object]:
        data = json.dumps(body)
        clock = time.perf_counter()
        response = self.session.post(self.url + path, data=data, timeout=900,
                                     headers={"Content-Type": "application/json"})
        ms = (time.perf_counter() - clock) * 1000
        return ms, response

    def callback(self, result_prop: str) -> tuple[str, list[dict]]:
        """The output key and outputs of the callback that writes `result_prop`."""
        for dep in self.dependencies:
            if result_prop in dep["output"].strip(".").split("..."):
                parts = dep["output"].strip(".").split("...")
                return dep["output"], [{"id": p.rsplit(".", 1)[0], "property": p.rsplit(".", 1)[1]}
                                       for p in parts]
        raise LookupError(f"no callback writes {result_prop}")

    def peak_rss_mb(self) -> float | None:
        return _status_mb("VmHWM", self.proc.pid)

    def stop(self) -> None:
        self.session.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


def _dash_id(id_type: str, key: str, name: str) -> dict:
    return {key: name, "type": id_type}


def _changed(id_type: str, key: str, name: str) -> str:
    return json.dumps(_dash_id(id_type, key, name), sort_keys=True, separators=(",", ":")) \
        + ".value"


def whatif_payload(output: str, outputs: list[dict], id_type: str, names: list[str],
                   values: list, assumptions: list, changed: str, extra_inputs=(),
                   extra_state=()) -> dict:
    """What dash-renderer sends when a pattern-matching what-if input changes (captured from
    headless Chromium): one list of {id, property, value} per ALL dependency, in layout order;
    the ids' own values as State."""
    kind = f"{id_type}-assumption"

    def group(id_kind, key, items, prop, vals):
        return [{"id": _dash_id(id_kind, key, n), "property": prop, "value": v}
                for n, v in zip(items, vals)]
    return {
        "output": output, "outputs": outputs,
        "inputs": [group(id_type, "feature", names, "value", values),
                   group(kind, "name", ASSUMPTIONS, "value", assumptions), *extra_inputs],
        "changedPropIds": [_changed(id_type, "feature", changed)],
        "parsedChangedPropsIds": [_dash_id(id_type, "feature", changed)],
        "state": [group(id_type, "feature", names, "id",
                        [{"type": id_type, "feature": n} for n in names]),
                  group(kind, "name", ASSUMPTIONS, "id",
                        [{"type": kind, "name": n} for n in ASSUMPTIONS]), *extra_state],
    }


def _find(tree, component_id: str):
    """The children of the component with this id in a Dash response (or None)."""
    if isinstance(tree, dict):
        props = tree.get("props")
        if isinstance(props, dict) and props.get("id") == component_id:
            return props.get("children")
        for value in tree.values():
            found = _find(value, component_id)
            if found is not None:
                return found
    elif isinstance(tree, list):
        for item in tree:
            found = _find(item, component_id)
            if found is not None:
                return found
    return None


def whatif_spec(analysis) -> list[tuple[str, list[str]]]:
    """Actionable features in layout order, each with the choices its dropdown offers."""
    from analytics.explain import ADD_ONS
    from analytics.whatif import NO_INTERNET, actionable_features
    c = analysis.customers
    return [(f, [str(x) for x in c[f].cat.categories if not (f in ADD_ONS and x == NO_INTERNET)])
            for f in actionable_features(analysis)]


def check_customer_store(server: Server, analysis, row: int, current: dict) -> str:
    """Open one customer the way the page does (show_customer) and compare the base store the
    server returns with the one the bench builds from its own copy of the data."""
    output, outputs = server.callback("customer-whatif-base-store.data")
    cid = str(analysis.customers["customer_id"].iloc[row])
    body = {"output": output, "outputs": outputs,
            "inputs": [{"id": "customer-id-store", "property": "data", "value": cid}],
            "changedPropIds": ["customer-id-store.data"], "state": []}
    ms, response = server.post(UPDATE, body)
    if response.status_code != 200:
        return f"show_customer returned {response.status_code}"
    store = response.json()["response"]["customer-whatif-base-store"]["data"]
    same = store == {"row": row, "current": current}
    return (f"base store of {cid} matches the bench's rows ({ms:.0f} ms)" if same
            else f"MISMATCH: server {store} vs bench {{'row': {row}, 'current': {current}}}")


def bench_customer_whatif(server: Server, analysis, n_requests: int,
                          rng: random.Random) -> dict:
    """The customer page's simulate: a different customer and scenario each request."""
    from analytics.whatif import NO_INTERNET
    output, outputs = server.callback("customer-whatif-result-div.children")
    spec = whatif_spec(analysis)
    features = [f for f, _ in spec]
    choices = dict(spec)
    names = features + list(MONEY)
    c = analysis.customers
    rows = rng.sample(range(len(c)), min(len(c), n_requests + 1))
    columns = {f: c[f].to_numpy() for f in features}
    times, outcome, check = [], {"result": 0, "unchanged": 0, "error alert": 0, "HTTP error": 0}, ""
    first_ms = None
    for i, row in enumerate(rows):
        current = {f: str(columns[f][row]) for f in features}
        if i == 0:
            check = check_customer_store(server, analysis, row, current)
        values = {f: (None if v == NO_INTERNET else v) for f, v in current.items()}
        values.update(discount=0, months=0, other_cost=0)
        kind = i % 4  # 0: contract, 1: discount, 2: both, 3: contract + an add-on or payment
        changed = "Contract"
        if kind in (0, 2, 3) and "Contract" in choices:
            values["Contract"] = rng.choice([x for x in choices["Contract"]
                                             if x != current["Contract"]] or choices["Contract"])
        if kind in (1, 2) or "Contract" not in choices:
            values.update(discount=rng.choice((5, 10, 15, 20, 25, 30)),
                          months=rng.choice((3, 6, 12)))
            changed = "discount"
        if kind == 3:
            extra = [f for f in features if f != "Contract" and values[f] is not None]
            if extra:
                f = rng.choice(extra)
                values[f] = rng.choice(choices[f])
        assumptions = [rng.choice((50, 60, 70)), rng.choice((20, 30, 40)), 5]
        body = whatif_payload(output, outputs, "customer-whatif-input", names,
                              [values[n] for n in names], assumptions, changed,
                              extra_state=[{"id": "customer-whatif-base-store",
                                            "property": "data",
                                            "value": {"row": int(row), "current": current}}])
        ms, response = server.post(UPDATE, body)
        text = response.text
        key = ("HTTP error" if response.status_code != 200 else
               "error alert" if "customer-whatif-error-alert" in text else
               "unchanged" if "customer-whatif-empty-text" in text else "result")
        if first_ms is None:
            first_ms = ms  # the first request after start: reported, not in the percentiles
            continue
        outcome[key] += 1
        times.append(ms)
    return {"times": times, "first_ms": first_ms, "outcome": outcome, "check": check}


def bench_group_whatif(server: Server, analysis, n_requests: int, rng: random.Random) -> dict:
    """The What-if page's simulate for the whole selection (no filters), varied scenarios."""
    output, outputs = server.callback("whatif-result-div.children")
    spec = whatif_spec(analysis)
    features = [f for f, _ in spec]
    choices = dict(spec)
    names = features + list(MONEY)
    filters = {"id": "app-filters-store", "property": "data", "value": {}}
    times, affected, per_s, first_ms = [], [], [], None
    outcome = {"result": 0, "nobody affected": 0, "error alert": 0, "HTTP error": 0}
    for i in range(n_requests + 1):
        values = {f: None for f in features}  # "Keep as is"
        values.update(discount=0, months=0, other_cost=0)
        changed = "Contract"
        kind = i % 3  # 0: contract, 1: discount, 2: contract + discount (+ a payment change)
        if kind in (0, 2) and "Contract" in choices:
            values["Contract"] = rng.choice(choices["Contract"])
        if kind in (1, 2) or "Contract" not in choices:
            values.update(discount=rng.choice((5, 10, 15, 20)), months=rng.choice((3, 6, 12)))
            changed = "discount"
        if kind == 2 and "PaymentMethod" in choices and rng.random() < 0.5:
            values["PaymentMethod"] = rng.choice(choices["PaymentMethod"])
        assumptions = [rng.choice((50, 60, 70)), rng.choice((20, 30, 40)), 5]
        body = whatif_payload(output, outputs, "whatif-input", names,
                              [values[n] for n in names], assumptions, changed,
                              extra_inputs=[filters])
        ms, response = server.post(UPDATE, body)
        n_hit = None
        if response.status_code != 200:
            key = "HTTP error"
        elif "whatif-error-alert" in response.text:
            key = "error alert"
        else:
            text = _find(response.json(), "whatif-affected-text")
            n_hit = int(str(text).replace(",", "")) if text is not None else None
            key = "result" if n_hit else "nobody affected"
        if first_ms is None:
            first_ms = ms
            continue
        outcome[key] += 1
        times.append(ms)
        if n_hit:
            affected.append(n_hit)
            per_s.append(n_hit / (ms / 1000))
    return {"times": times, "first_ms": first_ms, "outcome": outcome,
            "affected_mean": statistics.mean(affected) if affected else 0,
            "affected_rows_per_s": statistics.median(per_s) if per_s else None}


def api_records(analysis, rows) -> list[dict]:
    """JSON records of real customers: every model feature plus the id."""
    c = analysis.customers
    numeric = set(analysis.numeric)
    out = []
    for row in rows:
        r = c.iloc[int(row)]
        record = {f: (float(r[f]) if f in numeric else str(r[f])) for f in analysis.features}
        record["customer_id"] = str(r["customer_id"])
        out.append(record)
    return out


def bench_score(server: Server, analysis, n_requests: int, batch: int, batch_requests: int,
                rng: random.Random) -> dict:
    c = analysis.customers
    rows = [rng.randrange(len(c)) for _ in range(n_requests + 1)]
    times, errors, first_ms = [], 0, None
    for record in api_records(analysis, rows):
        ms, response = server.post("/api/score", record)
        ok = response.status_code == 200 and "churn_probability" in response.json()
        if first_ms is None:
            first_ms = ms
            continue
        errors += not ok
        times.append(ms)
    batch_times, batch_errors = [], 0
    for _ in range(batch_requests):
        records = api_records(analysis, [rng.randrange(len(c)) for _ in range(batch)])
        ms, response = server.post("/api/score", records)
        batch_errors += not (response.status_code == 200
                             and len(response.json().get("results", [])) == batch)
        batch_times.append(ms)
    return {"times": times, "first_ms": first_ms, "errors": errors, "batch": batch,
            "batch_times": batch_times, "batch_errors": batch_errors}


# ----- driver and tables --------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["7043", "1000000"],
                        help="demo sizes (space- or comma-separated)")
    parser.add_argument("--cache-dir", default=".cache")
    parser.add_argument("--offers", default=str(REPO / "data" / "offers.toml"))
    parser.add_argument("--customer-requests", type=int, default=200)
    parser.add_argument("--group-requests", type=int, default=50)
    parser.add_argument("--score-requests", type=int, default=300)
    parser.add_argument("--batch", type=int, default=100, help="customers in a batch score")
    parser.add_argument("--batch-requests", type=int, default=5, help="batch score requests")
    parser.add_argument("--skip-batch", action="store_true", help="skip recommend()")
    parser.add_argument("--skip-http", action="store_true", help="skip the server parts")
    parser.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    parser.add_argument("--start-timeout", type=float, default=1800,
                        help="seconds to wait for the server (it trains when not cached)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    sizes = [int(x) for s in args.sizes for x in s.split(",") if x.strip()]

    from analytics.offers import load_catalogue
    from analytics.runner import DataSource, load_or_train

    catalogue = load_catalogue(args.offers)
    results = []
    for size in sizes:
        print(f"\n== demo {size:,} (cache {args.cache_dir}; a cold 1M start trains 3-5 min)",
              flush=True)
        clock = time.perf_counter()
        analysis, from_cache = load_or_train(DataSource(demo_size=size),
                                             cache_dir=args.cache_dir,
                                             progress=lambda m: print("  ", m, flush=True))
        r = {"size": size, "load_s": time.perf_counter() - clock, "from_cache": from_cache,
             "load_avg": [load_avg()]}
        print(f"   analysis ready in {r['load_s']:.1f} s (from cache: {from_cache}); "
              f"load average {load_avg()}", flush=True)
        if not args.skip_batch:
            print("   recommend() over the whole table ...", flush=True)
            r["batch"] = bench_batch(analysis, catalogue, salt=f"bench-{size}")
            print(f"   ... {r['batch']['seconds']:.1f} s", flush=True)
        if not args.skip_http:
            rng = random.Random(0)
            print("   starting app.py ...", flush=True)
            server = Server(size, args.cache_dir, args.offers, args.port, args.start_timeout)
            try:
                r["server"] = {"port": server.port, "ready_s": server.ready_s}
                print(f"   server on port {server.port} ready in {server.ready_s:.1f} s; "
                      f"customer what-if x{args.customer_requests} ...", flush=True)
                r["customer"] = bench_customer_whatif(server, analysis, args.customer_requests,
                                                      rng)
                print(f"   {r['customer']['check']}", flush=True)
                if args.group_requests:
                    print(f"   group what-if x{args.group_requests} ...", flush=True)
                    r["group"] = bench_group_whatif(server, analysis, args.group_requests, rng)
                print(f"   /api/score x{args.score_requests} + {args.batch_requests} batches "
                      f"of {args.batch} ...", flush=True)
                r["score"] = bench_score(server, analysis, args.score_requests, args.batch,
                                         args.batch_requests, rng)
                r["server"]["peak_rss_mb"] = server.peak_rss_mb()
            finally:
                server.stop()
        r["load_avg"].append(load_avg())
        results.append(r)
        del analysis
        gc.collect()
    print_tables(results, catalogue)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def _mb(value) -> str:
    return "-" if value is None else f"{value:,.0f}"


def print_tables(results: list[dict], catalogue) -> None:
    print("\n" + "=" * 100)
    batches = [r for r in results if "batch" in r]
    if batches:
        print(f"Batch recommendation: analytics.recommend.recommend over the whole table "
              f"({len(catalogue.offers)} offers in {catalogue.source})")
        print(f"{'customers':>10}{'offers':>7}{'active':>10}{'seconds':>9}{'cust x off/s':>14}"
              f"{'model rows':>12}{'rows/s':>10}{'predict':>9}{'promo':>7}{'other':>7}"
              f"{'RSS MB':>8}{'peak MB':>9}{'+MB':>7}")
        for r in batches:
            b = r["batch"]
            other = b["seconds"] - b["predict_s"] - b["promo_s"]
            grew = (b["peak_rss_mb"] - b["rss_before_mb"]
                    if b["peak_exact"] and b["rss_before_mb"] is not None else None)
            print(f"{b['customers']:>10,}{b['offers']:>7}{b['active']:>10,}{b['seconds']:>9.2f}"
                  f"{b['pairs_per_s']:>14,.0f}{b['model_rows']:>12,}"
                  f"{b['model_rows'] / b['predict_s'] if b['predict_s'] else 0:>10,.0f}"
                  f"{b['predict_s']:>9.2f}{b['promo_s']:>7.2f}{other:>7.2f}"
                  f"{_mb(b['rss_before_mb']):>8}{_mb(b['peak_rss_mb']):>9}{_mb(grew):>7}")
        print("cust x off/s = customers x offers / seconds; model rows = eligible (customer, "
              "offer) pairs re-scored by CatBoost\n(one predict call per offer), rows/s = those "
              "/ predict; promo = promo codes; other = eligibility, apply_offer copies, ranking;"
              "\nRSS MB = before the call, peak MB = peak RSS during it (whole process; "
              "VmHWM reset just before), +MB = peak - before.")
        for r in batches:
            b = r["batch"]
            print(f"\nOffer mix at {b['customers']:,} customers ({b['active']:,} active; "
                  f"{b['promo_codes']:,} promo codes)")
            print(f"  {'offer':<42}{'customers':>11}{'share':>8}{'expected profit':>17}"
                  f"{'eligible':>11}")
            ids = {o.name: o.id for o in catalogue.offers}
            for m in b["mix"]:
                eligible = b["eligible"].get(ids.get(m["offer"], ""), None)
                print(f"  {m['offer']:<42}{m['n']:>11,}{m['n'] / b['customers']:>8.1%}"
                      f"{m['profit']:>17,.0f}{'' if eligible is None else f'{eligible:,}':>11}")
    http = [r for r in results if "customer" in r]
    if http:
        print("\nOver HTTP: app.py subprocess (Flask dev server, threaded), requests.Session "
              "keep-alive; ms")
        print(f"{'customers':>10}  {'request':<50}{'n':>5}{'min':>8}{'p50':>8}{'p95':>8}"
              f"{'max':>8}{'first':>8}  target")

        def row(size, name, values, first=None, target=None):
            p95 = percentile(values, 95)
            verdict = "" if target is None else \
                f"p95 < {target} ms: {'yes' if p95 < target else 'NO'}"
            first = "-" if first is None else f"{first:.0f}"
            print(f"{size:>10,}  {name:<50}{len(values):>5}{min(values):>8.1f}"
                  f"{statistics.median(values):>8.1f}{p95:>8.1f}{max(values):>8.1f}{first:>8}"
                  f"  {verdict}")
        for r in http:
            size, s = r["size"], r["score"]
            row(size, "customer what-if (simulate, 1 customer)", r["customer"]["times"],
                r["customer"]["first_ms"])
            if "group" in r:
                g = r["group"]
                row(size, f"group what-if ({g['affected_mean']:,.0f} affected)",
                    g["times"], g["first_ms"])
            row(size, "POST /api/score, 1 customer", s["times"], s["first_ms"],
                SCORE_TARGET_MS)
            row(size, f"POST /api/score, batch of {s['batch']}", s["batch_times"])
        print("first = the first request after the server started (not in the percentiles); "
              "a min far below p50 means a busy machine.")
        for r in http:
            g = r.get("group", {})
            print(f"\n{r['size']:>10,}: server ready in {r['server']['ready_s']:.1f} s, server "
                  f"peak RSS {_mb(r['server'].get('peak_rss_mb'))} MB; load average "
                  f"(1/5/15 min) at start {r['load_avg'][0]}, at end {r['load_avg'][-1]}")
            print(f"            customer what-if outcomes {r['customer']['outcome']}; "
                  f"{r['customer']['check']}")
            if g:
                rate = g["affected_rows_per_s"]
                print(f"            group what-if outcomes {g['outcome']}; affected customers "
                      f"per second (median; above 150k the app re-scores a 150k sample) {'-' if rate is None else f'{rate:,.0f}'}")
            s = r["score"]
            per = statistics.median(s["batch_times"]) / s["batch"] if s["batch_times"] else 0
            print(f"            /api/score errors: single {s['errors']}, batch "
                  f"{s['batch_errors']}; batch median {per:.1f} ms per customer")


if __name__ == "__main__":
    sys.exit(main())
