"""From a selection of customers to a recorded campaign, and from the store to a report.

`target_rows` orders the candidates (active customers of the selection) the way the Campaign
page does: by expected profit when the data has revenue and offers (every positive one, or
the top N for a capacity), else by churn risk (the High tier, or the top N). `plan` builds
the members, leaves out customers already in a running campaign (unless asked), holds out
the control group and prices the minimum detectable effect; `create` records it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from analytics.campaigns import effect
from analytics.campaigns.arms import (CONTROL, DEFAULT_STRATA, TREATMENT, assign_arms,
                                      build_members, check_share, exclude_enrolled)
from analytics.campaigns.records import (CampaignSpec, campaign_members, create_campaign,
                                         enrolled_customers, get_campaign)
from analytics.campaigns.store import CampaignStore
from analytics.dataset import ACTIVE
from analytics.errors import ChurnLensError
from analytics.pipeline import PROBABILITY, TIER, ChurnAnalysis
from analytics.recommend import OFFER, PROFIT

SIZE_RULES = ("profit", "capacity", "risk")


@dataclass(frozen=True)
class Plan:
    """A campaign ready to record: members with arms and what it can detect."""

    members: pd.DataFrame
    excluded: int          # already in a running campaign, left out
    control_share: float
    seed: int
    mde: float | None      # smallest churn reduction (fraction) the test would detect
    base_rate: float | None
    expected_profit: float | None

    def summary(self) -> dict:
        arms = self.members["arm"]
        return {"members": int(len(arms)), "treatment": int((arms == TREATMENT).sum()),
                "control": int((arms == CONTROL).sum()), "excluded": self.excluded,
                "control_share": self.control_share, "seed": self.seed, "mde": self.mde,
                "base_rate": self.base_rate, "expected_profit": self.expected_profit,
                "offers": self.members.loc[arms == TREATMENT, "offer"].value_counts()
                .to_dict()}


def target_rows(analysis: ChurnAnalysis, keep: np.ndarray, capacity: int | None = None,
                offers: tuple[str, ...] = (), by: str | None = None) -> np.ndarray:
    """Rows of the customers to target, best first (active customers only)."""
    c = analysis.customers
    keep = np.asarray(keep, dtype=bool) & c[ACTIVE].to_numpy(dtype=bool)
    recs = analysis.recommendations
    priced = recs is not None and np.isfinite(recs[PROFIT].to_numpy(dtype=float)).any()
    by = by or ("profit" if priced else "risk")
    if by not in SIZE_RULES:
        raise ChurnLensError(f"target size rule must be one of {', '.join(SIZE_RULES)}")
    if offers and recs is not None:
        keep &= recs[OFFER].astype(str).isin(offers).to_numpy()
    if by == "risk" or not priced:
        p = c[PROBABILITY].to_numpy(dtype=float)
        if capacity is None:
            keep &= c[TIER].astype(str).to_numpy() == "High"
        rows = np.flatnonzero(keep)
        rows = rows[np.argsort(-p[rows], kind="stable")]
    else:
        profit = recs[PROFIT].to_numpy(dtype=float)
        rows = np.flatnonzero(keep & (profit > 0))
        rows = rows[np.argsort(-profit[rows], kind="stable")]
    return rows if capacity is None else rows[:max(int(capacity), 0)]


def plan(analysis: ChurnAnalysis, rows: np.ndarray, control_share: float = 0.10,
         seed: int = 0, store: CampaignStore | None = None, include_enrolled: bool = False,
         strata: tuple[str, ...] = DEFAULT_STRATA) -> Plan:
    """Members for these rows with a seeded stratified control group."""
    share = check_share(control_share)
    members = build_members(analysis, rows)
    excluded = 0
    if store is not None and not include_enrolled:
        members, excluded = exclude_enrolled(members, enrolled_customers(store))
    members["arm"] = assign_arms(members, share, seed, strata)
    treated = members["arm"] == TREATMENT
    base = _base_rate(analysis, members)
    mde = effect.min_detectable_effect(int(treated.sum()), int((~treated).sum()), base) \
        if base is not None else None
    profit = members.loc[treated, "expected_profit"].to_numpy(dtype=float)
    total = float(np.nansum(profit)) if np.isfinite(profit).any() else None
    return Plan(members, excluded, share, int(seed), mde, base, total)


def _base_rate(analysis: ChurnAnalysis, members: pd.DataFrame) -> float | None:
    """The churn rate expected without the campaign: the members' mean p0."""
    if members.empty:
        return None
    rate = float(members["p0"].mean())
    return rate if 0.0 < rate < 1.0 else None


def create(store: CampaignStore, plan_: Plan, spec: CampaignSpec,
           progress: Callable[[int, int], None] | None = None, conn=None) -> int:
    """Record a planned campaign (all members or none; on `conn`'s open transaction when
    given); returns its id."""
    spec = replace(spec, control_share=plan_.control_share, seed=plan_.seed, mde=plan_.mde)
    return create_campaign(store, spec, plan_.members, progress, conn=conn)


def campaign_report(store: CampaignStore, campaign_id: int) -> dict:
    """A campaign's record with its measured effect (effect.report), JSON-safe."""
    record = get_campaign(store, campaign_id)
    frame = campaign_members(store, campaign_id)
    return {"campaign": record,
            **effect.report(frame, contact_cost=float(record.get("contact_cost") or 0.0))}

