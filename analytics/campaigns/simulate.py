"""A past retention campaign with a known, uneven true effect, for the demo data.

The control arm's outcome is what was observed (the churn label): nothing was done to them.
For each treated member the story is, in order:

1. contacted; accepts the offer with probability `acceptance x acceptance_factor` (0.7 by
   default: fewer accept than the catalogue assumed, so the page shows the gap); an accepter
   with a promo code redeems it with probability `redemption_share` (0.8);
2. what the call does depends on who they are, a deterministic rule of their features (so an
   uplift model can learn it):
   - **persuadable** (month-to-month contract, tenure under 24 months, not on fiber): one
     who would
          have churned is kept with probability 0.30 by the call alone, 0.75 when they accept;
   - **put off** (tenure of 48 months or more, on a one- or two-year contract, with no
     internet service): the call itself (accepted or not) makes a customer who would have
     stayed leave with probability 0.15;
   - **unmoved** (two-year contracts otherwise): no effect;
   - **other** (among them the riskiest, month-to-month on fiber, who mostly leave for a
     rival's price or speed): one who would have churned is kept with probability 0.03 by
     the call, 0.18 when they accept.
   Data without contract or tenure columns: the riskiest third by p0 are persuadable, the
   rest "other", nobody is put off.

The truth per member is the *expected* churn reduction if treated, from their observed label:
`tau = label x P(kept) - (1 - label) x P(put off)`, with P(kept) = the call's keep rate +
P(accept) x the offer's. Its mean over all members is the effect the difference in means estimates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.errors import ChurnLensError

# P(a member who would have churned is kept): the call itself, plus more when they accept.
CALL_KEEPS = {"persuadable": 0.30, "other": 0.03, "unmoved": 0.0, "put off": 0.0}
OFFER_KEEPS = {"persuadable": 0.45, "other": 0.15, "unmoved": 0.0, "put off": 0.0}
PUT_OFF = 0.15
ARMS = ("treatment", "control")


@dataclass(frozen=True)
class SimulatedOutcomes:
    outcomes: pd.DataFrame   # customer_id, accepted, redeemed, promo_code, churned, date
    truth: pd.DataFrame      # indexed by customer_id: kind, tau
    true_uplift: float
    kinds: dict


def demo_campaign_spec() -> dict:
    """Name, description and control share of the demo's past campaign (a fifth held out:
    with a few thousand members that gives an interval of a few points)."""
    return {"name": "Winter save-desk call (simulated)",
            "description": ("Simulated on the demo data with a known effect: persuadable "
                            "customers (month-to-month, under two years) were often kept, "
                            "most others were unmoved and a few long-standing ones were put "
                            "off by the call. Not a real campaign."),
            "control_share": 0.2}


def kinds_of(customers: pd.DataFrame, p0: np.ndarray | None = None) -> np.ndarray:
    """Each customer's kind from their features (see the module docstring)."""
    n = len(customers)
    kind = np.full(n, "other", dtype=object)
    if "Contract" in customers and "tenure" in customers:
        contract = customers["Contract"].astype(str).to_numpy()
        tenure = pd.to_numeric(customers["tenure"], errors="coerce").fillna(0).to_numpy()
        internet = (customers["InternetService"].astype(str).to_numpy()
                    if "InternetService" in customers else np.full(n, ""))
        kind[contract == "Two year"] = "unmoved"
        kind[(contract == "Month-to-month") & (tenure < 24)
             & (internet != "Fiber optic")] = "persuadable"
        kind[(contract != "Month-to-month") & (tenure >= 48) & (internet == "No")] = "put off"
        return kind
    if p0 is None:
        raise ChurnLensError("the simulated campaign needs Contract and tenure columns or p0")
    kind[p0 >= np.quantile(p0, 2 / 3)] = "persuadable"
    return kind


def simulate_outcomes(members: pd.DataFrame, customers: pd.DataFrame, churned, *,
                      seed: int = 0, acceptance_factor: float = 0.7,
                      redemption_share: float = 0.8, campaign_date: str | None = None,
                      horizon_days: int = 90) -> SimulatedOutcomes:
    """Outcomes of the members (see the module docstring) and the true effect."""
    bad_arm = ~members["arm"].isin(ARMS)
    if bad_arm.any():
        raise ChurnLensError(f"arm must be treatment or control, got "
                             f"{members.loc[bad_arm, 'arm'].iloc[0]!r}")
    labels = pd.Series(np.asarray(churned).astype(int), index=customers.index.astype(str))
    ids = members["customer_id"].astype(str)
    unknown = ~ids.isin(labels.index)
    if unknown.any():
        raise ChurnLensError(f"member {ids[unknown].iloc[0]!r} is not a customer of the data")
    rng = np.random.default_rng(seed)
    n = len(members)
    rows = customers.loc[ids.to_numpy()]
    p0 = members["p0"].to_numpy(dtype=float) if "p0" in members else None
    kind = kinds_of(rows, p0)
    label = labels.loc[ids.to_numpy()].to_numpy()
    treated = (members["arm"] == "treatment").to_numpy()
    accept_p = np.clip(np.nan_to_num(members["acceptance"].to_numpy(dtype=float), nan=0.3)
                       * acceptance_factor, 0, 1)
    draws = rng.random((4, n))
    accepted = treated & (draws[0] < accept_p)
    codes = members["promo_code"].fillna("").astype(str).to_numpy() \
        if "promo_code" in members else np.full(n, "")
    redeemed = accepted & (codes != "") & (draws[1] < redemption_share)
    keep_rate = (np.array([CALL_KEEPS[k] for k in kind])
                 + accepted * np.array([OFFER_KEEPS[k] for k in kind]))
    expected_keep = (np.array([CALL_KEEPS[k] for k in kind])
                     + accept_p * np.array([OFFER_KEEPS[k] for k in kind]))
    put_off = kind == "put off"
    kept = treated & (label == 1) & (draws[2] < keep_rate)
    pushed = treated & put_off & (label == 0) & (draws[3] < PUT_OFF)
    outcome = np.where(treated, np.where(kept, 0, np.where(pushed, 1, label)), label)
    tau = label * expected_keep - (1 - label) * put_off * PUT_OFF
    start = pd.Timestamp(campaign_date or "2024-01-01")
    offsets = (rng.random(n) * horizon_days).astype(int)
    dates = np.where(outcome == 1, (start + pd.to_timedelta(offsets, unit="D"))
                     .strftime("%Y-%m-%d"),
                     (start + pd.Timedelta(days=horizon_days)).strftime("%Y-%m-%d"))
    frame = pd.DataFrame({
        "customer_id": ids.to_numpy(),
        "accepted": pd.Series(np.where(treated, accepted, None), dtype=object),
        "redeemed": pd.Series(np.where(treated, redeemed, None), dtype=object),
        "promo_code": np.where(redeemed, codes, ""),
        "churned": outcome.astype(int), "date": dates})
    frame["outcome_date"] = frame.pop("date")
    truth = pd.DataFrame({"kind": kind, "tau": tau}, index=pd.Index(ids.to_numpy(),
                                                                   name="customer_id"))
    counts = pd.Series(kind).value_counts().to_dict()
    return SimulatedOutcomes(frame, truth, float(tau.mean()) if n else 0.0,
                             {k: int(v) for k, v in counts.items()})
