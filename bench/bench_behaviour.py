"""Behavioural features at an as-of date (`analytics.data.behaviour.behaviour_features`), per
engine. Prints figures only; no asserts.

Per size (default 100,000 customers / 3,000,000 events and 1,000,000 / 30,000,000) it
generates, with numpy (seeded), in a temporary folder:
- usage: `--events` rows, 3 float32 measures (minutes, sessions, errors) and a kind (12
  features used), customers' activity skewed (gamma weights), rows in random order, dated
  over 400 days of which the last 5% after the as-of date (ignored: the as-of guard);
- tickets: 1/10 the rows, sentiment, satisfaction (half scored), escalated, closed (80%),
  first response and resolution hours;
- subscriptions: ~2 rows per customer (start, end for half, MRR, seats, plan, change).
The generation is timed apart (not counted). Then each engine runs in its own child process
that loads the arrays (np.load) and calls `behaviour_features` `--repeat` times: seconds
(best and median), events per second (all three tables' rows / best seconds), the process's
peak RSS (os.wait4 on that child: data + engine), the RSS once the data is loaded, and the
number of features.

    PYTHONPATH=. .venv/bin/python bench/bench_behaviour.py            # both sizes
    PYTHONPATH=. .venv/bin/python bench/bench_behaviour.py --customers 100000 --events 3000000
    PYTHONPATH=. .venv/bin/python bench/bench_behaviour.py --engines duckdb --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
AS_OF = np.datetime64("2024-06-01", "ns").astype(np.int64)
DAY = 86_400 * 10**9
SIZES = ((100_000, 3_000_000), (1_000_000, 30_000_000))


def _times(rng, k: int) -> np.ndarray:
    """int64 ns over the 380 days before the as-of date and 20 days after it."""
    return AS_OF - 380 * DAY + rng.integers(0, 400 * DAY, k, dtype=np.int64)


def generate(folder: Path, customers: int, events: int, seed: int = 0) -> dict:
    """Write the three tables' columns as .npy files; returns the row counts."""
    rng = np.random.default_rng(seed)
    weight = np.cumsum(rng.gamma(1.5, 1.0, customers))
    weight /= weight[-1]

    def who(k):
        return np.minimum(np.searchsorted(weight, rng.random(k)), customers - 1).astype(np.int32)

    def save(table, **columns):
        for name, values in columns.items():
            np.save(folder / f"{table}.{name}.npy", values)

    save("usage", customer=who(events), time=_times(rng, events),
         minutes=rng.exponential(12.0, events).astype(np.float32),
         sessions=rng.poisson(2.0, events).astype(np.float32),
         errors=(rng.random(events) < 0.05).astype(np.float32),
         kind=rng.integers(0, 12, events).astype(np.int8))
    k = max(events // 10, 1)
    opened = _times(rng, k)
    hours = rng.exponential(48.0, k)
    closed = np.where(rng.random(k) < 0.8, opened + (hours * 3.6e12).astype(np.int64),
                      np.iinfo(np.int64).min)
    save("tickets", customer=who(k), time=opened, closed_time=closed,
         resolution_hours=np.where(closed == np.iinfo(np.int64).min, np.nan, hours),
         first_response_hours=rng.exponential(6.0, k),
         satisfaction=np.where(rng.random(k) < 0.5, np.nan, rng.integers(1, 6, k).astype(float)),
         escalated=(rng.random(k) < 0.08).astype(float),
         sentiment=rng.uniform(-1, 1, k).astype(np.float32))
    h = 2 * customers
    start = _times(rng, h)
    end = np.where(rng.random(h) < 0.5, start + rng.integers(30, 400, h) * DAY,
                   np.iinfo(np.int64).min)
    save("subscriptions", customer=rng.integers(0, customers, h).astype(np.int32), time=start,
         end_time=end, mrr=rng.uniform(10, 500, h), seats=rng.integers(1, 50, h).astype(float),
         plan=rng.integers(0, 4, h).astype(np.int8), change=rng.integers(-1, 2, h).astype(np.int8))
    return {"usage": events, "tickets": k, "subscriptions": h}


CHILD = r"""
import json, statistics, sys, time
from pathlib import Path
import numpy as np, pandas as pd
import psutil
from analytics.data.behaviour import behaviour_features
from analytics.data.events import EventTable

folder, engine, threads = Path(sys.argv[1]), sys.argv[2], sys.argv[5]
customers, repeat = int(sys.argv[3]), int(sys.argv[4])
times = {"time", "closed_time", "end_time"}
cats = {"kind": list("abcdefghijkl"), "plan": ["basic", "team", "business", "enterprise"]}

def frame(table):
    out = {}
    for path in sorted(folder.glob(f"{table}.*.npy")):
        name = path.name.split(".")[1]
        values = np.load(path)
        if name in times:
            values = values.view("datetime64[ns]")
        elif name in cats:
            values = pd.Categorical.from_codes(values, cats[name])
        out[name] = values
    return pd.DataFrame(out)

tables = [EventTable("usage", "events", frame("usage"), measures=("minutes", "sessions", "errors"),
                     ratios=(("errors", "count"),)),
          EventTable("tickets", "tickets", frame("tickets"), unit="ticket"),
          EventTable("subscriptions", "history", frame("subscriptions"), unit="change")]
tenure = np.random.default_rng(1).uniform(1, 72, customers)
as_of = pd.Timestamp("2024-06-01")
base = psutil.Process().memory_info().rss
if threads != "default":
    import functools
    from analytics.data import behaviour_sql
    behaviour_sql.aggregate_duckdb = functools.partial(behaviour_sql.aggregate_duckdb,
                                                       threads=int(threads))
seconds = []
for _ in range(repeat):
    start = time.perf_counter()
    result = behaviour_features(tables, customers, as_of, tenure_months=tenure, engine=engine)
    seconds.append(time.perf_counter() - start)
print(json.dumps({"seconds": seconds, "base_mb": base / 2**20,
                  "features": result.frame.shape[1],
                  "per_table": {t.name: sum(m.table == t.name for m in result.meta.values())
                                for t in tables}}))
"""


def run_engine(folder: Path, engine: str, customers: int, repeat: int, threads: str) -> dict:
    """One engine in a fresh process: its figures and its own peak RSS (os.wait4)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(folder), engine, str(customers),
                             str(repeat), threads], stdout=subprocess.PIPE, env=env, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{engine} child failed ({proc.returncode})")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_mb"] = usage.ru_maxrss / 1024          # Linux: kilobytes
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int)
    parser.add_argument("--events", type=int)
    parser.add_argument("--engines", default="numpy,duckdb")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", default="default", help="DuckDB threads (default: all)")
    args = parser.parse_args()
    sizes = [(args.customers, args.events)] if args.customers and args.events else SIZES
    print(f"{os.cpu_count()} cores; as-of 2024-06-01; repeat {args.repeat}")
    for customers, events in sizes:
        with tempfile.TemporaryDirectory(prefix="bench_behaviour_") as tmp:
            start = time.perf_counter()
            rows = generate(Path(tmp), customers, events)
            gen = time.perf_counter() - start
            total = sum(rows.values())
            print(f"\n{customers:,} customers, {events:,} usage events ({total:,} rows in all:"
                  f" {rows}); generating the data: {gen:.1f} s (not counted)")
            print(f"{'engine':8} {'best s':>7} {'median s':>8} {'rows/s':>12} "
                  f"{'peak MB':>8} {'data MB':>8} {'features':>8}  per table")
            for engine in args.engines.split(","):
                r = run_engine(Path(tmp), engine, customers, args.repeat, args.threads)
                best = min(r["seconds"])
                print(f"{engine:8} {best:7.2f} {statistics.median(r['seconds']):8.2f} "
                      f"{total / best:12,.0f} {r['peak_mb']:8,.0f} {r['base_mb']:8,.0f} "
                      f"{r['features']:8}  {r['per_table']}", flush=True)


if __name__ == "__main__":
    main()
