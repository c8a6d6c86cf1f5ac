"""Segmentation, list export and Customers-grid latency at demo sizes (figures only).

Per size: `create_app` loads the cache in --cache-dir (or trains: the first 1M run takes
~5 min; `python app.py --demo-size 1000000` leaves a cache this reuses), then times
`segment_customers` / `segment_profiles`; the grid's `getRowsResponse` callback over HTTP
(Flask test client): blocks of a memoised selection and cold requests (new sort / filter),
plus `Services.selection` alone; `write_csv` / `write_excel` of the list and the High tier.

    PYTHONPATH=. .venv/bin/python bench/bench_list.py [--sizes 7043,1000000]
        [--cache-dir .cache] [--requests 60] [--skip-excel-full] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

GRID = "customers-list-grid"
SORTABLE = ("customer_id", "churn_probability", "risk_tier", "segment", "tenure_months",
            "driver_1", "monthly_charges", "clv", "revenue_at_risk")
TARGET_MS = 300


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def bench_segments(analysis, runs: int) -> dict:
    from analytics.segments import segment_customers, segment_profiles
    c = analysis.customers
    proba, clv = c["churn_probability"].to_numpy(), c["clv"].to_numpy()
    seg_s, prof_s = [], []
    for _ in range(runs):
        s, seg = timed(segment_customers, c, proba)
        seg_s.append(s)
        prof_s.append(timed(segment_profiles, c, seg, proba, clv)[0])
    return {"runs": runs, "segment_s": statistics.median(seg_s),
            "profiles_s": statistics.median(prof_s), "k": seg.k, "sampled": seg.sampled}


def bench_export(services, skip_excel_full: bool) -> list[dict]:
    from analytics.export import EXCEL_MAX_ROWS, write_csv, write_excel
    out = []
    with tempfile.TemporaryDirectory(prefix="churnlens-export-") as folder:
        for scope, filters in (("all", {}), ("High tier", {"tier": ["High"]})):
            rows = services.customers.selection(filters, None, None)
            for fmt, writer in (("csv", write_csv), ("xlsx", write_excel)):
                entry = {"scope": scope, "format": fmt, "rows": int(len(rows))}
                out.append(entry)
                entry["note"] = fmt == "xlsx" and (
                    f"over the sheet limit ({EXCEL_MAX_ROWS:,} rows)" if len(rows) > EXCEL_MAX_ROWS
                    else "skipped (--skip-excel-full)" if scope == "all" and skip_excel_full
                    else "")
                if entry["note"]:
                    continue
                path = Path(folder) / f"list-{scope[:3]}.{fmt}"
                print(f"   export {scope} {fmt} ({len(rows):,} rows) ...", flush=True)
                entry["s"], _ = timed(writer, services.analysis, rows, path, "bench note")
                entry["mb"] = path.stat().st_size / 1e6
                entry["rows_per_s"] = len(rows) / entry["s"] if entry["s"] else None
                path.unlink()
    return out


def grid_payload(app, request: dict, filters: dict) -> dict:
    """The request the browser sends when AG Grid asks for a block (infinite row model)."""
    key = next(k for k in app.callback_map if f"{GRID}.getRowsResponse" in k)
    spec = app.callback_map[key]
    values = {f"{GRID}.getRowsRequest": request, "app-filters-store.data": filters}

    def deps(items):
        return [{"id": d["id"], "property": d["property"],
                 "value": values.get(f"{d['id']}.{d['property']}")} for d in items]
    return {"output": key, "outputs": {"id": GRID, "property": "getRowsResponse"},
            "inputs": deps(spec["inputs"]), "state": deps(spec["state"]),
            "changedPropIds": [f"{GRID}.getRowsRequest"]}


def fresh_services(services):
    """Same analysis, empty memo (so `selection` computes), grid columns already built."""
    from dashboard.services import Services
    fresh = Services(services.settings)
    fresh.analysis = services.analysis
    fresh.grid_columns()
    return fresh


def bench_grid(app, services, n_requests: int, rng: random.Random):
    client = app.server.test_client()
    client.get("/")  # Dash fills app.callback_map on the first request
    options = services.filter_options()
    times: dict[str, list[float]] = {}
    cold_cases: list[tuple[float, str, dict, dict]] = []
    fresh = fresh_services(services)

    def post(case: str | None, filters: dict, fm: dict, sm: list, start: int = 0) -> int:
        request = {"startRow": start, "endRow": start + 100, "filterModel": fm, "sortModel": sm}
        body = json.dumps(grid_payload(app, request, filters))
        clock = time.perf_counter()
        response = client.post("/_dash-update-component", data=body,
                               content_type="application/json")
        ms = (time.perf_counter() - clock) * 1000
        assert response.status_code == 200, response.data[:300]
        if case:  # None: a warm-up, not recorded
            times.setdefault(case, []).append(ms)
        if case and case.startswith("cold"):
            cold_cases.append((ms, case, filters, request))
        return response.get_json()["response"][GRID]["getRowsResponse"]["rowCount"]

    def globals_() -> dict:  # the filters store: a few contracts and/or risk tiers
        choices = {options["drivers"][0]["key"]: options["drivers"][0]["options"],
                   "tier": options["tier"]} if options["drivers"] else {"tier": options["tier"]}
        return {k: rng.sample(v, rng.randint(1, max(1, len(v) - 1)))
                for k, v in choices.items() if v and rng.random() < 0.5}

    def sort() -> list:
        return [{"colId": rng.choice(SORTABLE), "sort": rng.choice(("asc", "desc"))}]

    def mc_filter() -> dict:  # the grid's number filter: monthly_charges > X
        return {"monthly_charges": {"filterType": "number", "type": "greaterThan",
                                    "filter": round(rng.uniform(20, 110), 2)}}
    text = {"customer_id": {"filterType": "text", "type": "contains", "filter": "AB"}}
    post("first request after start (builds columns)", {}, {}, [])
    each = iter([{"colId": c, "sort": d} for c in SORTABLE for d in ("asc", "desc")])
    per_kind = max(1, n_requests // 4)
    kinds = {"cold: sort each column asc/desc (all rows)": (18, lambda: ({}, {}, [next(each)])),
             "cold: sort + global filters": (per_kind, lambda: (globals_(), {}, sort())),
             "cold: monthly_charges greaterThan X": (per_kind,
                                                     lambda: (globals_(), mc_filter(), [])),
             "cold: customer_id contains 'AB' (+sort)": (per_kind, lambda: ({}, text, sort())),
             "cold: global filters (first driver, tier)": (per_kind, lambda: (globals_(), {}, []))}
    seen = {json.dumps([{}, {}, []], sort_keys=True)}
    for case, (count, make) in kinds.items():
        for _ in range(count):
            for _try in range(50):  # a request shape not seen before => a cold selection
                filters, fm, sm = make()
                key = json.dumps([filters, fm, sm], sort_keys=True)
                if key not in seen:
                    break
            else:
                break
            seen.add(key)
            n_rows = post(case, filters, fm, sm)
            ms, _ = timed(fresh.selection, filters, fm, sm)
            times.setdefault("compute: Services.selection, cold cases", []).append(ms * 1000)
            if n_rows > 100:  # the next block of the just-built (memoised) selection
                post("cached: next block after a cold request", filters, fm, sm,
                     100 * rng.randrange(1, (n_rows + 99) // 100))
    total = post(None, {}, {}, [])  # the default selection again (evicted by the cold ones)
    for _ in range(max(10, n_requests // 6)):
        post("cached: first block 0..100, unsorted", {}, {}, [])
    for _ in range(n_requests):
        post("cached: deep scroll block, unsorted", {}, {}, [], 100 * rng.randrange(total // 100))
    return times, max(cold_cases, key=lambda c: c[0]) if cold_cases else None


def profile_case(services, case) -> None:
    """cProfile of the slowest cold case, replayed on an empty memo (selection + page)."""
    ms, name, filters, request = case
    profiler = cProfile.Profile()
    profiler.runcall(fresh_services(services).grid_page, filters, request)
    print(f"\n-- cProfile of the slowest cold case ({name}, {ms:.0f} ms over HTTP): "
          f"filters={json.dumps(filters)} filterModel={json.dumps(request['filterModel'])} "
          f"sortModel={json.dumps(request['sortModel'])}")
    pstats.Stats(profiler, stream=sys.stdout).strip_dirs().sort_stats("tottime").print_stats(12)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="7043,1000000", help="demo sizes, comma-separated")
    parser.add_argument("--cache-dir", default=".cache")
    parser.add_argument("--requests", type=int, default=60,
                        help="cold grid requests (plus 18 sorts); also deep-scroll blocks")
    parser.add_argument("--skip-excel-full", action="store_true",
                        help="skip the Excel export of the whole list (slow at 1M)")
    parser.add_argument("--profile", action="store_true", help="cProfile the slowest cold one")
    args = parser.parse_args(argv)

    from dashboard import create_app
    from dashboard.services import CONFIG_KEY
    from dashboard.settings import Settings

    results = []
    for size in (int(s) for s in args.sizes.split(",") if s.strip()):
        print(f"\n== demo {size:,} (cache {args.cache_dir}; a cold 1M start trains ~5 min)")
        ready_s, app = timed(create_app, Settings(demo_size=size, demo_events=False, cache_dir=args.cache_dir),
                             None, lambda m: print("  ", m, flush=True))
        services = app.server.config[CONFIG_KEY]
        if services.analysis is None:
            print(f"   no analysis: {services.error}")
            continue
        r = {"size": size, "ready_s": ready_s}
        print(f"   app ready in {ready_s:.1f} s (from cache: {services.from_cache})", flush=True)
        r["segments"] = bench_segments(services.analysis, 3 if size <= 100_000 else 1)
        r["grid"], slowest = bench_grid(app, services, args.requests, random.Random(0))
        if args.profile and slowest:
            profile_case(services, slowest)
        r["export"] = bench_export(services, args.skip_excel_full)
        results.append(r)
        del app, services
    print_tables(results)
    return 0


def print_tables(results: list[dict]) -> None:
    def row(size, case, values):
        p95 = percentile(values, 95)
        print(f"{size:>10,}  {case:<48}{len(values):>4}{statistics.median(values):>8.1f}"
              f"{p95:>8.1f}{max(values):>8.1f}  {'yes' if p95 < TARGET_MS else 'NO'}")

    print("\n" + "=" * 96)
    print("Segmentation (seconds; median of 3 runs up to 100k customers, else 1 run)")
    print(f"{'customers':>10}{'runs':>6}{'segment_customers':>19}{'segment_profiles':>18}"
          f"{'k':>4}{'sampled':>9}{'app ready':>11}")
    for r in results:
        s = r["segments"]
        print(f"{r['size']:>10,}{s['runs']:>6}{s['segment_s']:>19.2f}{s['profiles_s']:>18.2f}"
              f"{s['k']:>4}{str(s['sampled']):>9}{r['ready_s']:>10.1f}s")
    print("\nExport (analytics.export writers; an Excel sheet holds 1,048,576 rows)")
    print(f"{'customers':>10}  {'scope':<10}{'format':<7}{'rows':>10}{'seconds':>9}"
          f"{'rows/s':>10}{'MB':>8}")
    for r in results:
        for e in r["export"]:
            head = f"{r['size']:>10,}  {e['scope']:<10}{e['format']:<7}{e['rows']:>10,}"
            print(head + (f"{e['s']:>9.2f}{e['rows_per_s']:>10,.0f}{e['mb']:>8.1f}"
                          if "s" in e else f"  {e['note']}"))
    print(f"\nCustomers grid: getRowsResponse callback over HTTP (ms; target p95 < {TARGET_MS})")
    print(f"{'customers':>10}  {'case':<48}{'n':>4}{'p50':>8}{'p95':>8}{'max':>8}  p95 ok")
    for r in results:
        order = ("first", "cold", "compute", "cached")
        for case in sorted(r["grid"], key=lambda c: order.index(c.split()[0].rstrip(":"))):
            row(r["size"], case, r["grid"][case])
        for label, prefix in (("ALL cached-selection block fetches", "cached"),
                              ("ALL cold requests (new filter/sort)", "cold")):
            values = [v for k, vs in r["grid"].items() if k.startswith(prefix) for v in vs]
            if values:
                row(r["size"], label, values)
    print("\ncold = a request shape not seen before (filter + sort, then one block); cached = a"
          " block of a memoised selection;\ncompute = Services.selection alone (empty memo).")


if __name__ == "__main__":
    sys.exit(main())
