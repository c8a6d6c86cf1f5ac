"""Dask scoring benchmark of `score --engine dask` (`analytics.distributed.score_parquet`).
Prints figures only; no asserts.

Generates `--rows` demo customers (default 20,000,000) as Parquet files of `--file-rows` rows
(row groups of 125,000), one file in memory at a time: `analytics.demo.generate_demo` with a
seed per file, sequential ids, one contract in 10,000 unknown to the model. Trains (or loads
from `--cache-dir`) the model of the demo data, then scores the files on a LocalCluster of
`--workers` processes x 1 thread (or on `--scheduler`), sampling every worker's RSS each
second (`client.run` + psutil) and reading its peak (`ru_maxrss`) at the end. Prints the total
time, rows/s overall and per worker thread, memory per worker, and what a cluster of
`--nodes` x `--node-cores` would need for `--rows` and for 1,000,000,000 rows at the measured
per-thread rate.

    PYTHONPATH=. .venv/bin/python -u bench/bench_dask.py > dask.log 2>&1 &
    PYTHONPATH=. .venv/bin/python bench/bench_dask.py --rows 1000000 --keep /tmp/dask-in
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
ROW_GROUP = 125_000
UNKNOWN_EVERY = 10_000   # one customer in this many has a contract the model never saw
TARGET_ROWS = 20_000_000  # the size the benchmark is for (a smaller --rows says what it takes)


def generate(folder: Path, rows: int, file_rows: int) -> list[Path]:
    """`rows` demo customers (no label) in files of `file_rows`; reused when `folder` already
    holds the same (its `bench-input.json` says so)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from analytics.demo import generate_demo

    stamp = folder / "bench-input.json"
    wanted = {"rows": rows, "file_rows": file_rows, "row_group": ROW_GROUP}
    files = [folder / f"customers-{i:04d}.parquet" for i in range(-(-rows // file_rows))]
    if stamp.exists() and json.loads(stamp.read_text()) == wanted and all(
            f.exists() for f in files):
        print(f"reusing {rows:,} rows in {len(files)} files of {folder}", flush=True)
        return files
    folder.mkdir(parents=True, exist_ok=True)
    clock = time.perf_counter()
    for i, path in enumerate(files):
        n = min(file_rows, rows - i * file_rows)
        frame = generate_demo(n, seed=1000 + i).drop(columns=["Churn"])
        frame["customerID"] = np.char.add("C", np.arange(i * file_rows, i * file_rows + n)
                                          .astype(str))
        frame.loc[frame.index[::UNKNOWN_EVERY], "Contract"] = "Quarterly"
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path,
                       row_group_size=ROW_GROUP)
        del frame
    stamp.write_text(json.dumps(wanted))
    size = sum(f.stat().st_size for f in files) / 1e6
    print(f"generated {rows:,} rows in {len(files)} files ({size:,.0f} MB) in "
          f"{time.perf_counter() - clock:.1f} s", flush=True)
    return files


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def _peak_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kB


class MemorySampler(threading.Thread):
    """Every worker's RSS each `every` seconds, through `client.run`, until stopped."""

    def __init__(self, client, every: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.client, self.every = client, every
        self.samples: dict[str, list[int]] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every):
            try:
                for worker, rss in self.client.run(_rss).items():
                    self.samples.setdefault(worker, []).append(rss)
            except Exception:  # a worker between tasks or closing: skip this sample
                continue

    def stop(self) -> None:
        self.done.set()
        self.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=TARGET_ROWS)
    parser.add_argument("--file-rows", type=int, default=1_000_000)
    parser.add_argument("--partition-rows", type=int, default=250_000)
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster processes")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler")
    parser.add_argument("--keep", metavar="DIR", help="keep (and reuse) the generated files")
    parser.add_argument("--cache-dir", default=str(REPO / ".cache"))
    parser.add_argument("--demo-size", type=int, default=7043, help="customers trained on")
    parser.add_argument("--nodes", type=int, default=10, help="extrapolate to this many nodes")
    parser.add_argument("--node-cores", type=int, default=8, help="... of this many cores")
    args = parser.parse_args()

    from analytics.distributed import dask_client, score_parquet
    from analytics.pipeline import AnalysisSettings
    from analytics.runner import DataSource, load_or_train

    scratch = Path(tempfile.mkdtemp(prefix="bench-dask-"))
    folder = Path(args.keep) if args.keep else scratch / "in"
    try:
        files = generate(folder, args.rows, args.file_rows)
        clock = time.perf_counter()
        # The final CatBoost model is the app's; the baselines do not change it.
        analysis, cached = load_or_train(DataSource(demo_size=args.demo_size),
                                         AnalysisSettings(baselines=()),
                                         cache_dir=args.cache_dir)
        print(f"model of {analysis.source} {'loaded' if cached else 'trained'} in "
              f"{time.perf_counter() - clock:.1f} s", flush=True)
        clock = time.perf_counter()
        with dask_client(args.scheduler, args.workers) as client:
            started = time.perf_counter() - clock
            sampler = MemorySampler(client)
            sampler.start()
            clock = time.perf_counter()
            try:
                run = score_parquet(files[0].parent, analysis, scratch / "scores",
                                    client=client, partition_rows=args.partition_rows,
                                    progress=lambda m: print(m, flush=True))
            finally:
                sampler.stop()
            total = time.perf_counter() - clock
            peaks = client.run(_peak_rss)
        report(args, run, total, started, sampler.samples, peaks, scratch / "scores")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:,.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:,.1f} min"
    return f"{seconds / 3600:,.1f} h"


def report(args, run, total: float, started: float, samples: dict, peaks: dict,
           out: Path) -> None:
    rate = run.rows / total
    per_thread = rate / run.threads
    size = sum(p.stat().st_size for p in out.glob("part-*.parquet")) / 1e6
    print(f"\ncluster: {run.workers} worker(s), {run.threads} thread(s) "
          f"({'scheduler ' + args.scheduler if args.scheduler else 'LocalCluster'}), "
          f"started in {started:.1f} s")
    print(f"scored {run.rows:,} rows in {run.partitions:,} partitions of "
          f"{args.partition_rows:,} rows: {total:,.1f} s in all ({run.seconds:,.1f} s from "
          f"sending the model), output {size:,.0f} MB")
    print(f"rows/s overall: {rate:,.0f}; per worker thread (core): {per_thread:,.0f}")
    for worker in sorted(peaks):
        rss = np.array(samples.get(worker, [0])) / 1e6
        print(f"  {worker}: peak RSS {peaks[worker] / 1e6:,.0f} MB (ru_maxrss); sampled RSS "
              f"median {np.median(rss):,.0f} MB, max {rss.max():,.0f} MB ({len(rss)} samples)")
    warnings = {k: v["n"] for k, v in run.report["unknown_categories"].items()}
    print(f"warnings: unknown categories {warnings}, not numbers "
          f"{run.report['not_numbers']}, out of range "
          f"{ {k: v['n'] for k, v in run.report['out_of_range'].items()} }")
    cores = args.nodes * args.node_cores
    for rows in dict.fromkeys((args.rows, 1_000_000_000)):
        print(f"extrapolation: {args.nodes} nodes x {args.node_cores} cores at "
              f"{per_thread:,.0f} rows/s per core: {rows:,} rows in "
              f"{_duration(rows / (per_thread * cores))} (linear in cores; scheduler, storage "
              "and stragglers not included)")
    print(f"this machine ({run.threads} thread(s)) at that rate: {TARGET_ROWS:,} rows in "
          f"{_duration(TARGET_ROWS / rate)}")


if __name__ == "__main__":
    sys.exit(main())
