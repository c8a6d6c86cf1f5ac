"""The whole way in for data with event tables: generate, link, score the text, build the
behaviour features, per dataset and size, each in its own child process (clean peak RSS).

    PYTHONPATH=. .venv/bin/python bench/bench_linked.py                  # demo 7k/100k, SaaS 2k/20k
    PYTHONPATH=. .venv/bin/python bench/bench_linked.py --demo 1000000   # one size

The feature engine alone (DuckDB against numpy, 100k/3M and 1M/30M events) is
bench/bench_behaviour.py; this one measures what a start on such data costs before
training: reading the tables (SaaS: from CSV files), linking every row to a customer
(through the subscription for feature usage), VADER sentiment of the ticket text and the
features at the as-of date and at the scored-as-of date. Prints figures only.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, sys, time, resource
kind, n, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3]
clock = time.perf_counter()
if kind == "demo":
    from analytics.data.demo_events import generate_demo_events
    from analytics.demo import generate_demo
    raw = generate_demo(n, seed=0, with_dates=True)
    frames = generate_demo_events(raw, seed=0)
    generate_s = time.perf_counter() - clock
    from analytics.data.assemble import build_linked
    from analytics.loaders import demo_events_config
    clock = time.perf_counter()
    table = build_linked(raw, demo_events_config(), "demo", frames)
else:
    from analytics.data.saas import write_saas
    write_saas(folder, n_accounts=n, seed=0)
    generate_s = time.perf_counter() - clock
    from analytics.loaders import load_path
    clock = time.perf_counter()
    table = load_path(folder)
total = time.perf_counter() - clock
b = table.behaviour
rows = sum(len(t.frame) for t in b.tables)
print(json.dumps({"kind": kind, "customers": len(table.customers), "rows": rows,
                  "tables": {t.name: len(t.frame) for t in b.tables},
                  "generate_s": generate_s, "load_s": total, **b.timings,
                  "features": len(b.features), "trained_on": len(table.training),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(kind: str, n: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-c", CHILD, kind, str(n), str(Path(tmp) / "d")],
                              capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo", type=int, nargs="*", default=[7043, 100_000],
                        help="demo customers (with events) per run")
    parser.add_argument("--saas", type=int, nargs="*", default=[2000, 20_000],
                        help="SaaS accounts per run (a folder of CSVs)")
    args = parser.parse_args()
    print(f"{'data':>6} {'customers':>10} {'rows':>11} {'generate s':>10} {'load s':>8} "
          f"{'link+text s':>11} {'features s':>10} {'rows/s':>11} {'peak MB':>8} {'features':>8}")
    for kind, sizes in (("demo", args.demo), ("saas", args.saas)):
        for n in sizes:
            r = run(kind, n)
            print(f"{kind:>6} {r['customers']:>10,} {r['rows']:>11,} {r['generate_s']:>10.1f} "
                  f"{r['load_s']:>8.1f} {r['link_and_sentiment_s']:>11.1f} "
                  f"{r['features_s']:>10.1f} {r['rows'] / r['load_s']:>11,.0f} "
                  f"{r['peak_mb']:>8,.0f} {r['features']:>8}", flush=True)
    print("load s = link + sentiment + the rest of the customer table + features at two "
          "dates; peak MB includes generating the data.")


if __name__ == "__main__":
    main()
