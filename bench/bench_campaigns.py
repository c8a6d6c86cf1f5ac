"""Campaign store benchmark: recording a campaign, reading its report, and risk snapshots at a
million customers. Prints figures only (time, rows per second, bytes, peak memory).

1. Create a campaign of `--members` members (default 100,000) in the store: plan (members,
   stratified seeded control group, MDE) and the transactional write, then the report the
   Effectiveness page reads (members joined with outcomes, effect by group) cold from the
   store, with outcomes for every member.
2. Snapshots: `--snapshots` monthly refreshes (default 12) of `--customers` customers
   (default 1,000,000) with drifting scores: the time to store each, the database bytes per
   refresh, and what the Trends page reads: every snapshot's summary, the risers between the
   last two, and drift between their samples.

The scored table is synthetic (ids, probabilities, tiers, revenue, a few features), shaped
like an analysis, so a million customers need no training. `--db URL` runs against another
database (e.g. the PostgreSQL of .ci/postgres.sh); default a fresh SQLite file.

    PYTHONPATH=. .venv/bin/python bench/bench_campaigns.py [--members 100000]
        [--customers 1000000] [--snapshots 12] [--db URL]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.campaigns import planner, records, snapshots
from analytics.campaigns.outcomes import write_outcomes
from analytics.campaigns.store import CampaignStore
from analytics.pipeline import AnalysisSettings


@dataclass
class FakeAnalysis:
    """Just what the planner and the snapshots read from a ChurnAnalysis."""

    customers: pd.DataFrame
    settings: AnalysisSettings = field(default_factory=AnalysisSettings)
    recommendations: pd.DataFrame | None = None
    catalogue: object | None = None
    as_of: str | None = "2025-01-01"
    categorical: list = field(default_factory=lambda: ["plan"])
    numeric: list = field(default_factory=lambda: ["tenure_months", "monthly_charges"])

    @property
    def features(self):
        return self.categorical + self.numeric


def scored(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = np.random.default_rng(0).beta(2, 5, n)  # the same customers every refresh
    p = np.clip(base + shift + rng.normal(0, 0.03, n), 0, 1)
    tier = np.where(p >= 0.5, "High", np.where(p >= 0.25, "Medium", "Low"))
    return pd.DataFrame({
        "customer_id": pd.Series([f"C{i:08d}" for i in range(n)]),
        "churn_probability": p, "risk_tier": pd.Categorical(tier),
        "active": True, "churn": (rng.random(n) < p).astype(int),
        "monthly_charges": np.round(rng.uniform(10, 120, n), 2),
        "clv": rng.uniform(200, 3000, n), "tenure_months": rng.integers(0, 72, n),
        "plan": pd.Categorical(rng.choice(["basic", "plus", "pro"], n)),
        "segment": pd.Categorical(rng.choice(["New", "Loyal", "At-Risk"], n))})


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def db_bytes(url: str) -> int | None:
    if not url.startswith("sqlite:///"):
        return None
    path = Path(url[len("sqlite:///"):])
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def stored_bytes(store: CampaignStore) -> list[int]:
    """Bytes each snapshot holds in the database (its chunks and its feature sample)."""
    from sqlalchemy import func, select

    from analytics.campaigns.tables import snapshot_chunks as chunks, snapshots as table
    query = (select(chunks.c.snapshot_id, func.sum(func.length(chunks.c.ids)
                                                   + func.length(chunks.c.probability)
                                                   + func.length(chunks.c.tier)))
             .group_by(chunks.c.snapshot_id))
    with store.connect() as conn:
        blobs = dict(conn.execute(query).fetchall())
        samples = dict(conn.execute(select(table.c.id, func.length(table.c.sample))).fetchall())
    return [int(blobs[k]) + int(samples.get(k) or 0) for k in blobs]


def bench_campaign(store: CampaignStore, members: int) -> None:
    analysis = FakeAnalysis(scored(members, seed=1))
    rows = np.argsort(-analysis.customers["churn_probability"].to_numpy(), kind="stable")
    clock = time.perf_counter()
    plan = planner.plan(analysis, rows, control_share=0.1, seed=7, store=store)
    planned = time.perf_counter() - clock
    spec = records.CampaignSpec(name="bench", start_date="2025-01-01", data_version="bench")
    clock = time.perf_counter()
    campaign_id = planner.create(store, plan, spec)
    written = time.perf_counter() - clock
    print(f"create a {members:,}-member campaign: plan {planned:.2f} s + write {written:.2f} s "
          f"= {planned + written:.2f} s ({members / (planned + written):,.0f} members/s)")
    rng = np.random.default_rng(3)
    out = pd.DataFrame({"customer_id": plan.members["customer_id"],
                        "accepted": rng.random(members) < 0.2,
                        "churned": rng.random(members) < 0.3})
    clock = time.perf_counter()
    write_outcomes(store, campaign_id, out, "bench")
    print(f"import {members:,} outcomes: {time.perf_counter() - clock:.2f} s")
    clock = time.perf_counter()
    report = planner.campaign_report(store, campaign_id)
    print(f"report (members + outcomes read, effect by tier/segment/offer/decile), cold: "
          f"{time.perf_counter() - clock:.2f} s; verdict: {report['effect']['verdict']}")


def bench_snapshots(store: CampaignStore, url: str, customers: int, count: int) -> None:
    sizes, times = [], []
    store.engine.dispose()
    before = db_bytes(url) or 0
    for month in range(count):
        analysis = FakeAnalysis(scored(customers, seed=100 + month, shift=0.01 * month))
        clock = time.perf_counter()
        snapshots.take_snapshot(store, analysis, f"refresh-{month:02d}", f"month {month + 1}")
        times.append(time.perf_counter() - clock)
        after = db_bytes(url)
        if after is not None:
            sizes.append(after - before)
            before = after
    print(f"snapshot of {customers:,} customers: median {np.median(times):.2f} s to store "
          f"({customers / np.median(times):,.0f} customers/s)")
    stored = stored_bytes(store)
    print(f"stored per refresh: median {np.median(stored) / 1e6:.1f} MB "
          f"({np.median(stored) / customers:.1f} bytes a customer: ids, float32 scores, "
          f"tiers, compressed, and the feature sample)")
    if sizes:
        print(f"database file growth over {count} refreshes: {sum(sizes) / 1e6:.1f} MB")
    clock = time.perf_counter()
    items = snapshots.list_snapshots(store)
    listed = time.perf_counter() - clock
    clock = time.perf_counter()
    last, previous = (snapshots.snapshot_scores(store, items[-1]["id"]),
                      snapshots.snapshot_scores(store, items[-2]["id"]))
    read = time.perf_counter() - clock
    clock = time.perf_counter()
    found = snapshots.risers(previous, last, 0.10)
    rise = time.perf_counter() - clock
    clock = time.perf_counter()
    drift = snapshots.snapshot_drift(store, items[-2]["id"], items[-1]["id"])
    drifted = time.perf_counter() - clock
    print(f"Trends page reads at {customers:,} x {count} snapshots: summaries {listed * 1e3:.0f} ms, "
          f"two snapshots' scores {read:.2f} s, risers {rise:.2f} s ({len(found):,} found), "
          f"drift {drifted * 1e3:.0f} ms ({len(drift)} features); total "
          f"{listed + read + rise + drifted:.2f} s cold")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--snapshots", type=int, default=12)
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="churnlens-bench-")
    url = args.db or f"sqlite:///{os.path.join(folder, 'bench.db')}"
    store = CampaignStore.open(url)
    print(f"store: {store.name}")
    bench_campaign(store, args.members)
    bench_snapshots(store, url, args.customers, args.snapshots)
    print(f"peak memory: {peak_mb():,.0f} MB")
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
