"""Who is in a campaign and which arm they are in.

`build_members` turns rows of the analysed customer table into members: id, offer, promo
code, p0 (the served churn probability), p1 (model-implied with the offer), expected profit,
CLV, the offer's assumed acceptance and cost, tier and segment. `assign_arms` holds out a
random control group, stratified: members are ordered by stratum (tier x offer by default)
and, within a stratum, by a seeded random key; every 1/share-th position from a random start
is held out (systematic sampling), so each stratum's control share is within one member of
the target share and the overall share is exact to rounding. The seed is recorded with the
campaign, so `assign_arms` on the same members and seed gives the same arms.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.dataset import ID
from analytics.errors import ChurnLensError
from analytics.offers import NO_OFFER
from analytics.pipeline import CLV, PROBABILITY, SEGMENT, TIER, ChurnAnalysis
from analytics.recommend import COST, OFFER, P_WITH_OFFER, PROFIT, PROMO

TREATMENT, CONTROL = "treatment", "control"
DEFAULT_STRATA = ("tier", "offer")
MEMBER_COLUMNS = ("customer_id", "arm", "offer", "promo_code", "p0", "p1", "expected_profit",
                  "clv", "acceptance", "offer_cost", "tier", "segment")


def check_share(control_share: float) -> float:
    """A control share in [0.01, 0.5]."""
    try:
        share = float(control_share)
    except (TypeError, ValueError):
        raise ChurnLensError(f"control share must be a number, got {control_share!r}") from None
    if not 0.01 <= share <= 0.5:
        raise ChurnLensError(f"control share must be between 1% and 50%, got {share:.0%}: "
                             "without a control group the effect cannot be measured")
    return share


def build_members(analysis: ChurnAnalysis, rows: np.ndarray) -> pd.DataFrame:
    """The members for these rows of `analysis.customers` (arm not yet assigned)."""
    rows = np.asarray(rows, dtype=np.int64)
    customers = analysis.customers
    out = pd.DataFrame({
        "customer_id": customers[ID].to_numpy()[rows].astype(str),
        "p0": customers[PROBABILITY].to_numpy(dtype=float)[rows],
        "tier": customers[TIER].astype(str).to_numpy()[rows],
    })
    out["clv"] = (customers[CLV].to_numpy(dtype=float)[rows] if CLV in customers
                  else np.nan)
    out["segment"] = (customers[SEGMENT].astype(str).to_numpy()[rows]
                      if SEGMENT in customers else None)
    recs = analysis.recommendations
    if recs is not None:
        offers = recs[OFFER].astype(str).to_numpy()[rows]
        out["offer"] = offers
        out["promo_code"] = recs[PROMO].astype(str).to_numpy()[rows]
        out["p1"] = recs[P_WITH_OFFER].to_numpy(dtype=float)[rows]
        out["expected_profit"] = recs[PROFIT].to_numpy(dtype=float)[rows]
        out["offer_cost"] = recs[COST].to_numpy(dtype=float)[rows]
        rates = {o.id: o.acceptance for o in getattr(analysis.catalogue, "offers", ())}
        out["acceptance"] = [rates.get(o, np.nan) for o in offers]
    else:
        out["offer"], out["promo_code"] = NO_OFFER, ""
        out["p1"] = out["expected_profit"] = out["offer_cost"] = out["acceptance"] = np.nan
    out.loc[out["offer"] == NO_OFFER, ["p1", "offer_cost", "acceptance"]] = np.nan
    out["arm"] = TREATMENT
    return out[list(MEMBER_COLUMNS)]


def assign_arms(members: pd.DataFrame, control_share: float, seed: int,
                strata: tuple[str, ...] = DEFAULT_STRATA) -> np.ndarray:
    """The arm of every member: 'control' for a seeded, stratified `control_share`."""
    share = check_share(control_share)
    n = len(members)
    if n == 0:
        return np.array([], dtype=object)
    rng = np.random.default_rng(seed)
    key = rng.random(n)
    start = rng.random()
    columns = [c for c in strata if c in members.columns]
    codes = [pd.factorize(members[c].astype(str), sort=True)[0] for c in columns]
    order = np.lexsort([key, *reversed(codes)]) if codes else np.argsort(key)
    # position i is held out when a multiple of 1/share falls in [i, i+1) from the start
    positions = np.arange(n)
    held = np.floor((positions + 1) * share + start) > np.floor(positions * share + start)
    control = np.zeros(n, dtype=bool)
    control[order] = held
    return np.where(control, CONTROL, TREATMENT).astype(object)


def exclude_enrolled(members: pd.DataFrame, enrolled: set[str]) -> tuple[pd.DataFrame, int]:
    """Members not already in a running campaign, and how many were left out."""
    if not enrolled:
        return members, 0
    keep = ~members["customer_id"].isin(enrolled).to_numpy()
    return members[keep].reset_index(drop=True), int((~keep).sum())
