"""Cold/warm start benchmark of the analytics pipeline (load + train + SHAP, then cache load).

Every measurement runs in its own child process, so peak RSS is per dataset and the warm start
includes a fresh interpreter and its imports (what a dashboard restart costs). Prints figures
only; no assertions.

    PYTHONPATH=. .venv/bin/python bench/bench_start.py [--sizes 7043,1000000] [--skip-real]
                                                        [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
REAL = (("Telco CSV", DATA / "telco_customer_churn.csv"),
        ("Interconnect folder", DATA / "interconnect"))
MODELS = ("catboost", "logistic_regression", "random_forest")
STAGES = ("cross_validation_s", "final_fit_s", "scoring_s", "shap_s")


def _rss_mb() -> float:
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes vs KiB


def worker(mode: str, path: str | None, demo_size: int, cache_dir: str) -> dict:
    """Child process: one cold (train + cache) or warm (cache load) start; returns figures."""
    clock = time.perf_counter()
    from analytics.runner import DataSource, load_or_train
    import_s = time.perf_counter() - clock
    marks: dict[str, float] = {}

    def progress(message: str) -> None:
        for key in ("loading", "loaded", "done", "cached as"):
            if message.startswith(key):
                marks.setdefault(key, time.perf_counter())
        print(f"    [{mode} {time.perf_counter() - clock:7.1f}s] {message}", file=sys.stderr,
              flush=True)

    source = DataSource(path=path, demo_size=demo_size)
    clock_run = time.perf_counter()
    analysis, from_cache = load_or_train(source, cache_dir=cache_dir, progress=progress)
    run_s = time.perf_counter() - clock_run
    out = {"mode": mode, "import_s": import_s, "run_s": run_s, "from_cache": from_cache,
           "peak_rss_mb": _rss_mb(), "n_customers": int(len(analysis.customers))}
    if mode == "cold":
        ev = analysis.evaluation()
        out["timings"] = dict(analysis.timings)
        if "loading" in marks and "loaded" in marks:
            out["load_s"] = marks["loaded"] - marks["loading"]
        if "done" in marks and "cached as" in marks:
            out["cache_write_s"] = marks["cached as"] - marks["done"]
        scoring = analysis.timings.get("scoring_s")
        out["score_rows_per_s"] = out["n_customers"] / scoring if scoring else None
        shap = analysis.timings.get("shap_s")
        out["shap_rows_per_s"] = out["n_customers"] / shap if shap else None
        out["train_rows"] = int(analysis.train_rows)
        out["cv"] = ev["cross_validation"]
        out["leakage_warnings"] = len(ev["leakage_warnings"])
        out["metrics"] = {m: {k: ev["models"][m][k] for k in ("roc_auc", "pr_auc", "brier")}
                          for m in MODELS if m in ev["models"]}
        files = list(Path(cache_dir).rglob("*.pkl"))
        out["cache_mb"] = sum(f.stat().st_size for f in files) / 1e6
    return out


def run_child(mode: str, path: str | None, demo_size: int, cache_dir: str) -> dict:
    """Run one worker in a fresh interpreter; wall time includes interpreter start + imports."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--one", mode, "--demo-size",
           str(demo_size), "--cache-dir", cache_dir]
    if path:
        cmd += ["--data", path]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
    clock = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    wall = time.perf_counter() - clock
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return {"mode": mode, "error": f"child exited {proc.returncode} (traceback above)",
                "wall_s": wall}
    result = json.loads(lines[-1])
    result["wall_s"] = wall
    return result


def bench(name: str, path: str | None, demo_size: int) -> dict:
    print(f"\n== {name}", flush=True)
    cache_dir = tempfile.mkdtemp(prefix="churnlens-bench-")
    try:
        cold = run_child("cold", path, demo_size, cache_dir)
        warm = (run_child("warm", path, demo_size, cache_dir) if "error" not in cold
                else {"error": "skipped (cold start failed)"})
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    if "error" not in warm and not warm.get("from_cache"):
        warm["error"] = "warm start did not load from cache (retrained)"
    return {"dataset": name, "path": path, "cold": cold, "warm": warm}


def _f(value, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def print_table(results: list[dict]) -> None:
    print("\n" + "=" * 100)
    print("Start-up benchmark (seconds; cold = load+train+SHAP+cache write in a fresh process, "
          "warm = new process loading the cache)")
    head = (f"{'dataset':<28}{'rows':>10}{'cold':>8}{'CV':>7}{'fit':>7}{'score':>7}{'SHAP':>7}"
            f"{'load':>7}{'peakMB':>8}{'warm':>7}{'imp':>6}{'cache':>7}{'wMB':>7}{'entryMB':>9}"
            f"{'score r/s':>11}")
    print(head)
    print("-" * len(head))
    for r in results:
        c, w = r["cold"], r["warm"]
        if "skipped" in r:
            print(f"{r['dataset']:<28}  skipped: {r['skipped']}")
            continue
        if "error" in c:
            print(f"{r['dataset']:<28}  cold start FAILED: {c['error']} after {c['wall_s']:.1f}s")
            continue
        t = c["timings"]
        wok = "error" not in w
        print(f"{r['dataset']:<28}{c['n_customers']:>10,}{c['wall_s']:>8.1f}"
              f"{t['cross_validation_s']:>7.1f}{t['final_fit_s']:>7.1f}{t['scoring_s']:>7.2f}"
              f"{t['shap_s']:>7.1f}{_f(c.get('load_s')):>7}{c['peak_rss_mb']:>8.0f}"
              f"{_f(w.get('wall_s') if wok else None):>7}{_f(w.get('import_s') if wok else None):>6}"
              f"{_f(w.get('run_s') if wok else None, '.3f'):>7}"
              f"{_f(w.get('peak_rss_mb') if wok else None, '.0f'):>7}{c['cache_mb']:>9.1f}"
              f"{_f(c['score_rows_per_s'], ',.0f'):>11}")
        if not wok:
            print(f"{'':<28}  warm start problem: {w['error']}")
    print("\ncold = wall time of the child incl. interpreter+imports; CV/fit/score/SHAP = "
          "analysis.timings (CV includes leakage check); load = reading/building the table;\n"
          "warm = wall time of a new process; imp = its import time; cache = in-process cache "
          "load; wMB = warm peak RSS; entryMB = cache entry on disk.")
    print(f"\n{'dataset':<28}{'CV rows':>10}{'sampled':>9}  " + "".join(
        f"{m + ' roc/pr/brier':>36}" for m in MODELS))
    for r in results:
        c = r.get("cold", {})
        if "skipped" in r or "error" in c:
            continue
        cells = "".join(f"{_f(x['roc_auc'], '.4f')} / {_f(x['pr_auc'], '.4f')} / "
                        f"{_f(x['brier'], '.4f')}".rjust(36) if x else "-".rjust(36)
                        for x in (c["metrics"].get(m) for m in MODELS))
        print(f"{r['dataset']:<28}{c['cv']['rows']:>10,}{str(c['cv']['sampled']):>9}  {cells}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="7043,1000000", help="demo sizes, comma-separated")
    parser.add_argument("--skip-real", action="store_true", help="skip Telco/Interconnect")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--one", choices=("cold", "warm"), help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--demo-size", type=int, default=7043, help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:  # worker mode: the last stdout line is the JSON result
        print(json.dumps(worker(args.one, args.data, args.demo_size, args.cache_dir)))
        return 0

    results = []
    for size in (int(s) for s in args.sizes.split(",") if s.strip()):
        results.append(bench(f"demo {size:,}", None, size))
    for name, path in REAL:
        if args.skip_real:
            continue
        if not path.exists():
            print(f"\n== {name}: skipped ({path} not found)")
            results.append({"dataset": name, "path": str(path), "skipped": "data not found",
                            "cold": {}, "warm": {}})
            continue
        results.append(bench(name, str(path), 7043))
    print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
