"""`python -m analytics inspect` on a wide file: time to read it and guess its config.

Generates a 1,000,000-row x 50-column churn CSV (an id, a 0/1 `Churn` label, 30 numeric
and 20 text columns), then times, in a fresh process each
(median of 3): the read alone, and read + inspection (what `inspect` does). Prints seconds,
rows per second and peak memory. Target (issue #10): under 5 s.

    PYTHONPATH=. .venv/bin/python bench/bench_inspect.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_read import make_wide  # noqa: E402


def make_churn_file(path: Path, rows: int, seed: int = 0) -> None:
    """bench_read.make_wide's columns after an id and a 0/1 `Churn` label (52 columns)."""
    rng = np.random.default_rng(seed + 1)
    make_wide(path, rows, seed, first={
        "customer_id": pa.array([f"C{i:08d}" for i in range(rows)]),
        "Churn": rng.integers(0, 2, rows)})


CHILD = """
import json, resource, sys, time
from pathlib import Path
from analytics.data.readers import read_table
from analytics.data.inspect import inspect_frame
path, mode = sys.argv[1], sys.argv[2]
clock = time.perf_counter()
raw, info = read_table(Path(path))
read_s = time.perf_counter() - clock
if mode == "inspect":
    result = inspect_frame(raw, path)
    problems = len(result.problems)
    label = result.config.label_column
else:
    problems, label = 0, None
total = time.perf_counter() - clock
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"read_s": read_s, "total_s": total, "peak_mb": peak, "rows": len(raw),
                  "columns": raw.shape[1], "label": label, "problems": problems}))
"""


def run(path: Path, mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(path), mode], check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "wide.csv"
        clock = time.perf_counter()
        make_churn_file(path, args.rows)
        print(f"generated {args.rows:,} x 50 ({path.stat().st_size / 2**20:,.0f} MB) in "
              f"{time.perf_counter() - clock:.1f} s")
        for mode in ("read", "inspect"):
            runs = [run(path, mode) for _ in range(args.repeat)]
            total = statistics.median(r["total_s"] for r in runs)
            peak = max(r["peak_mb"] for r in runs)
            extra = (f"; label guessed: {runs[0]['label']}, problems: {runs[0]['problems']}"
                     if mode == "inspect" else "")
            print(f"{mode:>8}: median {total:5.2f} s ({args.rows / total:,.0f} rows/s), "
                  f"read part {statistics.median(r['read_s'] for r in runs):.2f} s, "
                  f"peak RSS {peak:,.0f} MB{extra}")
    print(f"load average now: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()
