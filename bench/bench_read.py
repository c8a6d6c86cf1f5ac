"""Reading benchmark of `analytics.data.readers.read_table`. Prints figures only; no asserts.

Generates (numpy, seeded) in a temporary folder:
- wide: 1,000,000 rows x 50 columns (10 integer, 20 decimal, 20 text columns of <= 20 values);
- telco: a ~200 MB Telco-layout CSV (unique ids, Yes/No text, a signup date, TotalCharges with
  a few " " cells that keep it text);
- telco-eu: the same rows ';'-separated with decimal commas in Windows-1252 (the transcoding
  path), and a 1,000-row preview (`nrows`) of the 200 MB file.
Each measurement runs in its own child process (peak RSS per file): median wall time of
`--repeat` reads, CPU time, rows/s, MB/s, peak RSS.

    PYTHONPATH=. .venv/bin/python bench/bench_read.py [--rows 1000000] [--big-mb 200]
                                                     [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def make_wide(path: Path, rows: int, seed: int = 0, first: dict | None = None) -> None:
    """50 columns (10 counts, 20 amounts, 20 text); `first`: columns written before them."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    columns = dict(first or {})
    for i in range(10):
        columns[f"count_{i}"] = rng.integers(0, 10_000, rows)
    for i in range(20):
        columns[f"amount_{i}"] = np.round(rng.normal(100, 30, rows), 2)
    for i in range(20):
        size = int(rng.integers(2, 21))
        vocabulary = np.array([f"level {i}-{j}" for j in range(size)])
        columns[f"segment_{i}"] = vocabulary[rng.integers(0, size, rows)]
    pacsv.write_csv(pa.table(columns), path,
                    write_options=pacsv.WriteOptions(quoting_style="needed"))


def make_telco(path: Path, megabytes: float, seed: int = 1) -> int:
    """A Telco-layout CSV of about `megabytes` MB; returns its row count."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rows = int(megabytes * 1e6 / 158)
    rng = np.random.default_rng(seed)
    yes_no = np.array(["Yes", "No"])

    def pick(values):
        values = np.array(values)
        return values[rng.integers(0, len(values), rows)]

    tenure = rng.integers(0, 73, rows)
    monthly = np.round(rng.uniform(18, 120, rows), 2)
    total = np.char.mod("%.2f", np.round(monthly * np.maximum(tenure, 1), 2))
    total[tenure == 0] = " "
    start = np.datetime64("2015-01-01") + rng.integers(0, 3000, rows).astype("timedelta64[D]")
    table = pa.table({
        "customerID": np.char.add("C", np.arange(rows).astype(str)),
        "gender": pick(["Female", "Male"]), "SeniorCitizen": rng.integers(0, 2, rows),
        "Partner": pick(yes_no), "Dependents": pick(yes_no), "tenure": tenure,
        "PhoneService": pick(yes_no), "MultipleLines": pick(["Yes", "No", "No phone service"]),
        "InternetService": pick(["DSL", "Fiber optic", "No"]),
        "OnlineSecurity": pick(["Yes", "No", "No internet service"]),
        "TechSupport": pick(["Yes", "No", "No internet service"]),
        "Contract": pick(["Month-to-month", "One year", "Two year"]),
        "PaymentMethod": pick(["Electronic check", "Mailed check", "Bank transfer (automatic)",
                               "Credit card (automatic)"]),
        "City": pick(["Paris", "Lyon", "Besançon", "Orléans", "Nîmes"]),
        "SignupDate": start.astype(str), "MonthlyCharges": monthly, "TotalCharges": total,
        "Churn": pick(yes_no)})
    pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="needed"))
    return rows


def make_eu(source: Path, path: Path) -> None:
    """`source` re-spelled: ';' separators, decimal commas, Windows-1252."""
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(source, convert_options=pacsv.ConvertOptions(
        column_types={"TotalCharges": "string", "SignupDate": "string"}))
    for name in ("MonthlyCharges", "TotalCharges"):
        text = pc.replace_substring(table[name].cast("string"), ".", ",")
        table = table.set_column(table.schema.get_field_index(name), name, text)
    utf8 = path.with_suffix(".utf8")
    pacsv.write_csv(table, utf8, write_options=pacsv.WriteOptions(delimiter=";",
                                                                   quoting_style="needed"))
    with utf8.open("r", encoding="utf-8") as src, path.open("w", encoding="cp1252") as dst:
        for block in iter(lambda: src.read(1 << 24), ""):
            dst.write(block)
    utf8.unlink()


def worker(path: str, repeat: int, nrows: int | None) -> dict:
    """Child process: `repeat` reads of one file; wall/CPU figures and peak RSS."""
    sys.path.insert(0, str(REPO))
    from analytics.data.readers import read_table

    walls, cpus, info = [], [], None
    for _ in range(repeat):
        cpu, wall = time.process_time(), time.perf_counter()
        frame, info = read_table(path, nrows=nrows)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        del frame
    return {"wall_s": statistics.median(walls), "walls": walls,
            "cpu_s": statistics.median(cpus), "rows": info.rows, "columns": info.columns,
            "describe": info.describe(), "peak_rss_mb": _peak_rss_mb()}


def measure(label: str, path: Path, repeat: int, nrows: int | None = None) -> None:
    command = [sys.executable, __file__, "--worker", str(path), "--repeat", str(repeat)]
    if nrows is not None:
        command += ["--nrows", str(nrows)]
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        print(f"{label}: FAILED\n{out.stderr[-2000:]}")
        return
    r = json.loads(out.stdout.strip().splitlines()[-1])
    size_mb = path.stat().st_size / 1e6
    rate = r["rows"] / r["wall_s"] if r["wall_s"] else float("nan")
    print(f"{label}: {r['describe']}")
    print(f"    {size_mb:,.0f} MB on disk; median {r['wall_s']:.2f} s wall of {repeat} "
          f"({', '.join(f'{w:.2f}' for w in r['walls'])}), {r['cpu_s']:.2f} s CPU; "
          f"{rate:,.0f} rows/s, {size_mb / r['wall_s']:,.0f} MB/s; "
          f"peak RSS {r['peak_rss_mb']:,.0f} MB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big-mb", type=float, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", help="write the files here and keep them (reused if present)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--nrows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--make", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.repeat, args.nrows)))
        return
    if args.make:
        folder = Path(args.make)
        make_wide(folder / "wide.csv", args.rows)
        make_telco(folder / "telco.csv", args.big_mb)
        make_eu(folder / "telco.csv", folder / "telco_eu.csv")
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        wide, telco, eu = folder / "wide.csv", folder / "telco.csv", folder / "telco_eu.csv"
        started = time.perf_counter()
        if not (wide.exists() and telco.exists() and eu.exists()):
            # in a child: a child inherits its parent's peak RSS, so this one stays small
            subprocess.run([sys.executable, __file__, "--make", str(folder), "--rows",
                            str(args.rows), "--big-mb", str(args.big_mb)], check=True)
        print(f"files ready in {time.perf_counter() - started:.1f} s ({folder}); "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
        measure(f"wide {args.rows:,} x 50", wide, args.repeat)
        measure(f"telco ~{args.big_mb:.0f} MB", telco, args.repeat)
        measure("telco ';' decimal comma cp1252", eu, args.repeat)
        measure("telco preview nrows=1000", telco, args.repeat, nrows=1000)
        print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
