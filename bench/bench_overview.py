"""Latency of the Overview data path (filter + KPIs + 4 driver groupings + tiers) per request.

Loads (or trains and caches) the analysis for demo data of the given size, then times
`Services.overview` for random filter combinations with the memo bypassed, and one real
HTTP round trip of the Overview callback through the Dash server's test client.

    PYTHONPATH=. .venv/bin/python bench/bench_overview.py --size 1000000 --cache-dir .cache
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--cache-dir", default=".cache")
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args()

    from dashboard import create_app
    from dashboard.services import CONFIG_KEY
    from dashboard.settings import Settings

    clock = time.perf_counter()
    app = create_app(Settings(demo_size=args.size, demo_events=False, cache_dir=args.cache_dir),
                     progress=lambda m: print("  ", m, flush=True))
    print(f"app ready in {time.perf_counter() - clock:.1f} s")
    services = app.server.config[CONFIG_KEY]
    options = services.filter_options()
    rng = random.Random(0)

    def random_filters() -> dict:
        filters = {}
        choices = {d["key"]: d["options"] for d in options["drivers"]}
        choices["tier"] = options["tier"]
        for key, values in choices.items():
            if rng.random() < 0.5 and values:
                filters[key] = rng.sample(values, rng.randint(1, len(values)))
        if rng.random() < 0.5:
            lo = rng.randint(0, 60)
            filters["tenure"] = [lo, rng.randint(lo, 72)]
        return filters

    compute = []
    for _ in range(args.requests):
        filters = random_filters()
        start = time.perf_counter()
        services.overview._view(services.mask(filters))
        compute.append((time.perf_counter() - start) * 1000)

    client = app.server.test_client()
    client.get("/")
    layout = client.get("/_dash-layout").get_json()
    assert layout is not None
    http = []
    for _ in range(args.requests):
        filters = random_filters()
        payload = {
            "output": "..overview-customers-kpi.children...",
            "outputs": [], "inputs": [{"id": "app-filters-store", "property": "data",
                                       "value": filters}],
            "changedPropIds": ["app-filters-store.data"], "state": [],
        }
        payload = _overview_payload(app, filters) or payload
        start = time.perf_counter()
        response = client.post("/_dash-update-component", data=json.dumps(payload),
                               content_type="application/json")
        http.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.data[:300]
    for name, values in (("compute (filter + aggregates)", compute),
                         ("HTTP round trip of the Overview callback", http)):
        print(f"{name:45s} n={len(values)}  p50 {statistics.median(values):7.1f} ms  "
              f"p95 {percentile(values, 95):7.1f} ms  max {max(values):7.1f} ms")
    print(f"customers: {services.customer_count():,}")


def _overview_payload(app, filters: dict) -> dict:
    """The request the browser sends when the filter store changes."""
    for key, spec in app.callback_map.items():
        if "overview-customers-kpi.children" in key:
            return {"output": key, "outputs": [
                {"id": o.split(".")[0], "property": o.split(".")[1]}
                for o in key.strip(".").split("...")],
                "inputs": [{"id": "app-filters-store", "property": "data", "value": filters}],
                "changedPropIds": ["app-filters-store.data"], "state": []}
    return {}


if __name__ == "__main__":
    main()
