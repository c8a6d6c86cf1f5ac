"""The demo's past campaign: the riskier half of the customers at the as-of date (at most
50,000), a fifth of them held out, outcomes simulated with a known uneven effect
(simulate.py) and recorded, so the Effectiveness page and `campaigns report` have something
true to show on a fresh start.
Recorded once per data version (`simulated` campaigns are never re-made)."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select

from analytics.campaigns import planner
from analytics.campaigns.outcomes import write_outcomes
from analytics.campaigns.records import CampaignSpec, set_status
from analytics.campaigns.simulate import demo_campaign_spec, simulate_outcomes
from analytics.campaigns.store import CampaignStore
from analytics.campaigns.tables import campaigns
from analytics.dataset import CHURN, ID, SCORED_BY
from analytics.pipeline import PROBABILITY, ChurnAnalysis

TARGET_SHARE = 0.5
MAX_MEMBERS = 50_000  # a campaign a team could run, also on a million customers
HORIZON_DAYS = 120


def has_demo_campaign(store: CampaignStore, data_version: str) -> bool:
    with store.connect() as conn:
        return conn.execute(select(campaigns.c.id).where(
            campaigns.c.simulated.is_(True),
            campaigns.c.data_version == data_version)).first() is not None


def seed_demo_campaign(store: CampaignStore, analysis: ChurnAnalysis, data_version: str,
                       source: str = "demo data", seed: int = 0) -> dict | None:
    """Record the simulated past campaign and its outcomes (once); returns what it recorded
    with the simulated truth, or None when it is already there."""
    if has_demo_campaign(store, data_version):
        return None
    spec_text = demo_campaign_spec()
    customers = analysis.customers
    p = customers[PROBABILITY].to_numpy(dtype=float)
    # customers there at the as-of date: the ones the model was trained on (not those who
    # had already left, or joined later)
    present = np.flatnonzero(customers[SCORED_BY].to_numpy() >= 0) \
        if SCORED_BY in customers else np.arange(len(p))
    size = min(int(len(present) * TARGET_SHARE), MAX_MEMBERS)
    rows = present[np.argsort(-p[present], kind="stable")][:size]
    plan = planner.plan(analysis, rows, control_share=spec_text["control_share"], seed=seed)
    start = analysis.as_of or "2024-01-01"
    horizon = _horizon(analysis)
    frame = customers.set_index(customers[ID].astype(str))
    simulated = simulate_outcomes(plan.members, frame, customers[CHURN].to_numpy(),
                                  seed=seed, campaign_date=start, horizon_days=horizon)
    spec = CampaignSpec(name=spec_text["name"], description=spec_text["description"],
                        start_date=str(start)[:10], horizon_days=horizon,
                        target={"rule": "riskier half at the as-of date"},
                        offers=tuple(sorted(set(plan.members["offer"]))),
                        data_version=data_version, source=source,
                        contact_cost=float(getattr(analysis.catalogue, "contact_cost", 0.0)
                                           or 0.0),
                        currency=_currency(analysis), simulated=True)
    campaign_id = planner.create(store, plan, spec)
    write_outcomes(store, campaign_id, simulated.outcomes, "simulated (demo)")
    set_status(store, campaign_id, "closed")  # in the past: it enrols nobody any more
    return {"campaign_id": campaign_id, "members": len(plan.members),
            "true_uplift": simulated.true_uplift, "kinds": simulated.kinds}


def _horizon(analysis: ChurnAnalysis) -> int:
    behaviour = getattr(analysis, "behaviour", None)
    days = getattr(behaviour, "horizon_days", None)
    return int(days) if days else HORIZON_DAYS


def _currency(analysis: ChurnAnalysis) -> str:
    config = getattr(analysis, "config", None)
    return str(getattr(config, "currency", "") or "")
