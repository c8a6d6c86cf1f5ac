"""Risk over time: every data refresh leaves a snapshot of every customer's score.

A snapshot row holds the summary (customers, churn, risk mix, revenue at risk) and a seeded
sample of the model features (Parquet, for drift between refreshes); the scores themselves
are stored column-wise in chunks of 250,000 customers (zlib of the ids, float32 probabilities
and int8 tiers), which keeps a 1M-customer refresh to a few MB and reads back in well under a
second. One snapshot per data version: taking it again is a no-op."""

from __future__ import annotations

import io
import json
import zlib

import numpy as np
import pandas as pd
from sqlalchemy import select

from analytics.campaigns.store import CampaignStore, now
from analytics.campaigns.tables import snapshot_chunks, snapshots
from analytics.dataset import ACTIVE, CHURN, ID, MONTHLY
from analytics.evaluation import drift_table
from analytics.pipeline import PROBABILITY, TIER, ChurnAnalysis

TIERS = ("Low", "Medium", "High")
CHUNK = 250_000
SAMPLE_ROWS = 5_000
SAMPLE_IDS = 256


def summarise(analysis: ChurnAnalysis) -> dict:
    """What the trend charts draw for one refresh (active customers for risk and money)."""
    c = analysis.customers
    active = c[ACTIVE].to_numpy(dtype=bool) if ACTIVE in c else np.ones(len(c), bool)
    tier = c[TIER].astype(str).to_numpy()
    p = c[PROBABILITY].to_numpy(dtype=float)
    monthly = c[MONTHLY].to_numpy(dtype=float) if MONTHLY in c else None
    out = {"customers": int(len(c)), "active": int(active.sum()),
           "churn_rate": float(c[CHURN].mean()) if CHURN in c else None,
           "mean_probability": float(p[active].mean()) if active.any() else None,
           "tiers": {t: int(((tier == t) & active).sum()) for t in TIERS},
           "revenue_at_risk": (float(np.nansum(p[active] * monthly[active]))
                               if monthly is not None else None),
           "thresholds": {"high": analysis.settings.tier_high,
                          "medium": analysis.settings.tier_medium},
           "id_sample": id_sample(c[ID].astype(str).to_numpy())}
    return out


def id_sample(ids: np.ndarray, k: int = SAMPLE_IDS) -> list[str]:
    """The k smallest hashes of the customer ids (a bottom-k sketch): two snapshots of the
    same customers share most of them, two datasets of different customers none."""
    hashes = np.unique(pd.util.hash_array(np.asarray(ids, dtype=object)))
    return [str(h) for h in hashes[:k]]


def same_customers(one: dict, other: dict, at_least: float = 0.5) -> bool:
    """Whether two snapshots' summaries are of (mostly) the same customers: the share of
    the bottom-k sketch of their ids they have in common (True when a sketch is absent)."""
    a, b = one.get("id_sample"), other.get("id_sample")
    if not a or not b:
        return True
    k = min(len(a), len(b))
    union = sorted(set(a) | set(b), key=int)[:k]
    shared = set(a) & set(b)
    return sum(h in shared for h in union) / max(k, 1) >= at_least



def _sample(analysis: ChurnAnalysis, seed: int = 0) -> bytes | None:
    frame = analysis.customers[[f for f in analysis.features if f in analysis.customers]]
    if frame.empty:
        return None
    if len(frame) > SAMPLE_ROWS:
        frame = frame.sample(SAMPLE_ROWS, random_state=seed)
    buffer = io.BytesIO()
    frame.reset_index(drop=True).to_parquet(buffer, index=False)
    return buffer.getvalue()


def take_snapshot(store: CampaignStore, analysis: ChurnAnalysis, data_version: str,
                  source: str = "") -> tuple[int, bool]:
    """Store this refresh's scores once; returns (snapshot id, whether it was new)."""
    with store.connect() as conn:
        found = conn.execute(select(snapshots.c.id).where(
            snapshots.c.data_version == data_version)).scalar()
    if found is not None:
        return int(found), False
    c = analysis.customers
    ids = c[ID].astype(str).to_numpy()
    p = c[PROBABILITY].to_numpy(dtype=np.float32)
    codes = {t: i for i, t in enumerate(TIERS)}
    tier = np.array([codes.get(t, -1) for t in c[TIER].astype(str)], dtype=np.int8)
    summary = summarise(analysis)
    with store.begin() as conn:
        snapshot_id = conn.execute(snapshots.insert().values(
            taken_at=now(), data_version=data_version, source=source,
            as_of=analysis.as_of, customers=len(c), summary=json.dumps(summary),
            sample=_sample(analysis))).inserted_primary_key[0]
        for number, start in enumerate(range(0, len(c), CHUNK)):
            part = slice(start, start + CHUNK)
            conn.execute(snapshot_chunks.insert().values(
                snapshot_id=snapshot_id, chunk=number, rows=len(ids[part]),
                ids=zlib.compress("\n".join(ids[part]).encode(), 6),
                probability=zlib.compress(p[part].tobytes(), 6),
                tier=zlib.compress(tier[part].tobytes(), 6)))
    return int(snapshot_id), True


def list_snapshots(store: CampaignStore) -> list[dict]:
    """Every snapshot, oldest first, with its summary (no scores)."""
    query = select(snapshots.c.id, snapshots.c.taken_at, snapshots.c.data_version,
                   snapshots.c.source, snapshots.c.as_of, snapshots.c.customers,
                   snapshots.c.summary).order_by(snapshots.c.id)
    with store.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    for row in rows:
        row["summary"] = json.loads(row["summary"])
        row["taken_at"] = row["taken_at"].isoformat(timespec="seconds")
    return rows


def snapshot_scores(store: CampaignStore, snapshot_id: int) -> pd.DataFrame:
    """A snapshot's scores: probability and tier indexed by customer id."""
    query = (select(snapshot_chunks.c.ids, snapshot_chunks.c.probability,
                    snapshot_chunks.c.tier)
             .where(snapshot_chunks.c.snapshot_id == int(snapshot_id))
             .order_by(snapshot_chunks.c.chunk))
    ids, probs, tiers = [], [], []
    with store.connect() as conn:
        for raw_ids, raw_p, raw_t in conn.execute(query):
            ids.append(np.array(zlib.decompress(raw_ids).decode().split("\n"), dtype=object))
            probs.append(np.frombuffer(zlib.decompress(raw_p), dtype=np.float32))
            tiers.append(np.frombuffer(zlib.decompress(raw_t), dtype=np.int8))
    if not ids:
        return pd.DataFrame({"probability": [], "tier": []}, index=pd.Index([], name=ID))
    return pd.DataFrame({"probability": np.concatenate(probs).astype(float),
                         "tier": np.concatenate(tiers)},
                        index=pd.Index(np.concatenate(ids), name=ID))


def risers(before: pd.DataFrame, after: pd.DataFrame, min_rise: float = 0.10) -> pd.DataFrame:
    """Customers in both snapshots whose churn probability rose by at least `min_rise`
    (0.10 = 10 points) or who crossed into High; biggest rise first."""
    if before.index.equals(after.index):  # the same customers in the same order: no join
        ids, b_p, b_t = after.index, before["probability"].to_numpy(), before["tier"].to_numpy()
        a_p, a_t = after["probability"].to_numpy(), after["tier"].to_numpy()
    else:
        where = before.index.get_indexer(after.index)
        found = where >= 0
        ids = after.index[found]
        b_p = before["probability"].to_numpy()[where[found]]
        b_t = before["tier"].to_numpy()[where[found]]
        a_p, a_t = after["probability"].to_numpy()[found], after["tier"].to_numpy()[found]
    rise = a_p - b_p
    into_high = (a_t == 2) & (b_t != 2)
    keep = (rise >= min_rise - 1e-9) | into_high
    names = np.array([*TIERS, ""], dtype=object)  # tier -1 (unknown) shows blank
    out = pd.DataFrame({"customer_id": np.asarray(ids)[keep], "before": b_p[keep],
                        "after": a_p[keep], "rise": rise[keep],
                        "tier_before": names[b_t[keep]], "tier_after": names[a_t[keep]],
                        "crossed_into_high": into_high[keep]})
    return out.sort_values(["rise", "customer_id"], ascending=[False, True],
                           kind="stable").reset_index(drop=True)


def snapshot_drift(store: CampaignStore, before_id: int, after_id: int) -> list[dict]:
    """PSI of each feature in the two snapshots' samples (the earlier one as reference)."""
    query = select(snapshots.c.id, snapshots.c.sample).where(
        snapshots.c.id.in_([int(before_id), int(after_id)]))
    with store.connect() as conn:
        samples = {r[0]: r[1] for r in conn.execute(query)}
    if not samples.get(int(before_id)) or not samples.get(int(after_id)):
        return []
    before = pd.read_parquet(io.BytesIO(samples[int(before_id)]))
    after = pd.read_parquet(io.BytesIO(samples[int(after_id)]))
    common = [c for c in before.columns if c in after.columns]
    categorical = [c for c in common if not pd.api.types.is_numeric_dtype(before[c])]
    numeric = [c for c in common if c not in categorical]
    return drift_table(before, after, categorical, numeric)
