"""A past retention campaign with a known, uneven true effect, for the demo data.

The Effectiveness page and the tests need a campaign whose truth is known: the measured uplift
(control churn - treated churn) must recover it within its interval, and ranking by a learned
uplift model must beat ranking by churn risk. Targets and arms come from elsewhere
(`arms`, `planner`); this module only decides what happened to each member.

**Control members**: nothing was done; their outcome is the observed churn label, and
`accepted` / `redeemed` are None (they were never offered anything).

**Treated members** were called by the save desk. In order:

1. *Acceptance*: a member with an offer (offer not "none" and a known `acceptance`) accepts
   with probability ``acceptance x acceptance_factor`` (factor 0.7 by default: fewer accept
   than the catalogue assumed, so the page shows the gap). A member without an offer has
   nothing to accept (`accepted` None) and acceptance probability 0.
2. *Redemption*: an accepter with a promo code redeems it with probability
   `redemption_share` (0.8). `redeemed` is a bool for offered members with a promo code, None otherwise.
3. *Effect*, by kind. The kind is a fixed rule of the customer's features (not random), so an
   uplift model can learn it; the first rule that matches wins:

   - **put off** (the "sleeping dogs"): phone only (InternetService "No") on paper bills
     (PaperlessBilling "No", when the column exists): low-touch customers whom a call
     reminds of a line they hardly use. The call, offer accepted or not, makes a member who
     would have stayed leave with probability 0.15. About 3% of the demo's target list.
   - **unmoved**: a two-year contract, or tenure of 48 months or more. No effect.
   - **persuadable**: month-to-month, tenure under 24 months, not on fiber. A member who
     would have churned is kept with probability 0.35 by the call alone, 0.60 when they
     accept the offer.
   - **other**: everyone else (among them the riskiest, month-to-month on fiber, who mostly
     leave for a rival's price or speed): kept with probability 0.12 by the call, 0.15 when
     they accept.

   "kept" is the probability that a member who would have churned stays. The call itself
   keeps some (a save-desk conversation fixes a complaint), accepting the offer keeps more.
   The call effect is what makes the uplift detectable: the catalogue's assumed acceptance is
   0.25-0.40 (0.18-0.28 after the factor) and about half of a demo target list has no
   profitable offer, so an effect through acceptance alone (the offer keeping 0.60 of the
   persuadable accepters) would be under one point on the demo's list, far below what a few
   thousand members can detect.
   The riskiest customers (fiber, month-to-month) are the least persuadable, so ranking by
   risk is *not* ranking by uplift; put-off customers (the "sleeping dogs") have a negative
   effect. The mix gives a true uplift of about 7 points on the demo's target list (the
   riskier half by the model), about 8 on the short-tenure month-to-month customers.

Without `Contract` or `tenure` columns (another business) the kind comes from a `p0` column
(the member's churn probability, taken from `members`, else from `customers`): the middle
third of the members by p0 are persuadable, the riskiest third "other", the safest third
unmoved, nobody is put off. Without `InternetService` nobody is put off and fiber is not
excluded from the persuadable.

**Truth** per member: the expected churn reduction if treated, given the observed label,
``tau = label x P(kept) - (1 - label) x P(put off)`` with
``P(kept) = (1 - a) x kept_call + a x kept_offer`` and a the probability that the member
accepts if treated (0 without an offer); tau is defined for control members too.
Its mean over all members (both arms) is the effect the difference in means estimates.

**Dates**: a churner's date is a day in [campaign_date, campaign_date + horizon_days); a
stayer's is campaign_date + horizon_days (the end of the observation window).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.errors import ChurnLensError

KINDS = ("persuadable", "unmoved", "put off", "other")
KEPT_BY_CALL = {"persuadable": 0.35, "other": 0.12, "unmoved": 0.0, "put off": 0.0}
KEPT_BY_OFFER = {"persuadable": 0.60, "other": 0.15, "unmoved": 0.0, "put off": 0.0}
PUT_OFF = 0.15            # P(a would-be stayer of kind "put off" leaves because of the call)
PERSUADABLE_TENURE = 24   # months: persuadable below
SETTLED_TENURE = 48       # months: unmoved from
ARMS = ("treatment", "control")
NO_OFFER = "none"
DEFAULT_DATE = "2024-01-01"
DEMO_CONTROL_SHARE = 0.2


@dataclass(frozen=True)
class SimulatedOutcomes:
    """What happened to the members, and the truth the measurement should recover.

    outcomes: one row per member, in member order: customer_id, accepted (bool, None when
        not offered), redeemed (bool, None when not offered), promo_code (the redeemed code
        or ""), churned (0/1), date (ISO) and outcome_date (the same date, the name the
        outcomes store uses).
    truth: indexed by customer_id: kind and tau (expected churn reduction if treated).
    true_uplift: mean tau over all members. kinds: member count per kind."""

    outcomes: pd.DataFrame
    truth: pd.DataFrame
    true_uplift: float
    kinds: dict


def demo_campaign_spec() -> dict:
    """Name, description and control share of the demo's simulated past campaign.

    A fifth is held out (not the usual tenth): with the 3,000-4,000 members of a demo target
    list, 700 controls give an interval of about +-4 points, narrow enough to tell the
    simulated effect of about 7 points from zero."""
    return {"name": "Winter save-desk call (simulated)",
            "description": ("Simulated on the demo data, not a real campaign: outcomes were "
                            "generated with a known effect. Short-tenure month-to-month "
                            "customers not on fiber were often kept, fiber customers rarely, "
                            "two-year and long-standing customers not at all, and phone-only "
                            "customers on paper bills were put off by the call."),
            "control_share": DEMO_CONTROL_SHARE}


def kinds_of(customers: pd.DataFrame, p0=None) -> np.ndarray:
    """Each row's kind from its features (rules in the module docstring).

    Uses Contract and tenure (and InternetService, PaperlessBilling when present); without
    them, `p0` (one churn probability per row) by terciles; raises ChurnLensError when
    neither is there."""
    n = len(customers)
    kind = np.full(n, "other", dtype=object)
    if "Contract" in customers and "tenure" in customers:
        contract = customers["Contract"].astype(str).str.strip().to_numpy()
        tenure = pd.to_numeric(customers["tenure"], errors="coerce").to_numpy(dtype=float)
        internet = (customers["InternetService"].astype(str).str.strip().to_numpy()
                    if "InternetService" in customers else np.full(n, ""))
        persuadable = ((contract == "Month-to-month") & (tenure < PERSUADABLE_TENURE)
                       & (internet != "Fiber optic"))
        kind[persuadable] = "persuadable"
        kind[(contract == "Two year") | (tenure >= SETTLED_TENURE)] = "unmoved"
        paper = (customers["PaperlessBilling"].astype(str).str.strip().to_numpy() == "No"
                 if "PaperlessBilling" in customers else np.full(n, True))
        kind[(internet == "No") & paper] = "put off"
        return kind
    if p0 is None:
        raise ChurnLensError("the simulated campaign needs Contract and tenure columns, or a "
                             "p0 column (churn probability) in the members or customers")
    p = pd.to_numeric(pd.Series(np.asarray(p0)), errors="coerce").to_numpy(dtype=float)
    if len(p) != n or not np.isfinite(p).all():
        raise ChurnLensError(f"p0 must be {n} finite probabilities, one per member")
    if n:
        low, high = np.quantile(p, [1 / 3, 2 / 3])
        kind[p < low] = "unmoved"
        kind[(p >= low) & (p < high)] = "persuadable"
    return kind


def simulate_outcomes(members: pd.DataFrame, customers: pd.DataFrame, churned, *,
                      seed: int = 0, acceptance_factor: float = 0.7,
                      redemption_share: float = 0.8, campaign_date: str | None = None,
                      horizon_days: int = 90) -> SimulatedOutcomes:
    """Outcomes of the members of a past campaign and its true effect (module docstring).

    members: customer_id, arm ("treatment"/"control"), offer, acceptance, promo_code (offer,
    acceptance and promo_code may be missing: no offer); customers: indexed by customer id;
    churned: the observed 0/1 label per row of `customers` (the outcome without treatment).
    Same seed, same outcomes. Bad input raises ChurnLensError naming the bad value."""
    _check_settings(acceptance_factor, redemption_share, horizon_days)
    labels = _labels(customers, churned)
    ids, treated = _check_members(members, labels)
    n = len(ids)
    label = labels.loc[ids].to_numpy()
    p0 = members["p0"] if "p0" in members else (
        customers["p0"].set_axis(labels.index).loc[ids] if "p0" in customers else None)
    kind = kinds_of(customers.set_axis(labels.index).loc[ids], p0)

    has_offer, accept_p, codes = _offers(members, acceptance_factor)
    offered = treated & has_offer
    rng = np.random.default_rng(seed)
    u_accept, u_redeem, u_effect = rng.random((3, n))
    u_day = rng.integers(0, horizon_days, n)
    accepted = offered & (u_accept < accept_p)
    redeemed = accepted & (codes != "") & (u_redeem < redemption_share)

    by_call = np.array([KEPT_BY_CALL[k] for k in kind], dtype=float)
    by_offer = np.array([KEPT_BY_OFFER[k] for k in kind], dtype=float)
    put_off = np.where(kind == "put off", PUT_OFF, 0.0)
    kept = np.where(accepted, by_offer, by_call)
    flipped = np.where(label == 1, u_effect < kept, u_effect < put_off)
    churn = np.where(treated & flipped, 1 - label, label).astype(int)

    expected_kept = (1 - accept_p) * by_call + accept_p * by_offer
    tau = label * expected_kept - (1 - label) * put_off

    start = _start(campaign_date)
    end = (start + pd.Timedelta(days=horizon_days)).strftime("%Y-%m-%d")
    day = (start + pd.to_timedelta(u_day, unit="D")).strftime("%Y-%m-%d").to_numpy()
    dates = np.where(churn == 1, day, end)
    outcomes = pd.DataFrame({
        "customer_id": ids,
        "accepted": pd.Series(np.where(offered, accepted, None), dtype=object),
        # nothing to redeem without a promo code: unknown, not "did not redeem"
        "redeemed": pd.Series(np.where(offered & (codes != ""), redeemed, None), dtype=object),
        "promo_code": np.where(redeemed, codes, ""),
        "churned": churn, "date": dates, "outcome_date": dates})
    truth = pd.DataFrame({"kind": kind, "tau": tau},
                         index=pd.Index(ids, name="customer_id"))
    counts = {k: int((kind == k).sum()) for k in KINDS if (kind == k).any()}
    return SimulatedOutcomes(outcomes, truth, float(tau.mean()) if n else 0.0, counts)


def _check_settings(acceptance_factor, redemption_share, horizon_days) -> None:
    if not (np.isfinite(acceptance_factor) and acceptance_factor >= 0):
        raise ChurnLensError(f"acceptance_factor must be a number >= 0, got "
                             f"{acceptance_factor!r}")
    if not (np.isfinite(redemption_share) and 0 <= redemption_share <= 1):
        raise ChurnLensError(f"redemption_share must be between 0 and 1, got "
                             f"{redemption_share!r}")
    if isinstance(horizon_days, bool) or int(horizon_days) != horizon_days or horizon_days < 1:
        raise ChurnLensError(f"horizon_days must be a whole number >= 1, got {horizon_days!r}")


def _labels(customers: pd.DataFrame, churned) -> pd.Series:
    """The observed 0/1 label by customer id (str)."""
    index = pd.Index(customers.index.astype(str))
    if index.has_duplicates:
        raise ChurnLensError(f"customer id {index[index.duplicated()][0]!r} appears twice in "
                             "the customers")
    values = pd.to_numeric(pd.Series(np.asarray(churned).ravel()), errors="coerce")
    if len(values) != len(index):
        raise ChurnLensError(f"churned must have one label per customer: got {len(values)} "
                             f"for {len(index)} customers")
    bad = ~values.isin([0, 1])
    if bad.any():
        at = int(np.flatnonzero(bad.to_numpy())[0])
        value = _plain(np.asarray(churned).ravel()[at])
        raise ChurnLensError(f"churned must be 0 or 1, got {value!r} for customer "
                             f"{index[at]!r}")
    return pd.Series(values.to_numpy(dtype=int), index=index)


def _check_members(members: pd.DataFrame, labels: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Member ids (str) and the treated mask; refuses unknown arms, ids and repeats."""
    missing = [c for c in ("customer_id", "arm") if c not in members]
    if missing:
        raise ChurnLensError(f"members need the column(s) {', '.join(missing)}")
    arm = members["arm"].astype(str).to_numpy()
    bad = ~np.isin(arm, ARMS)
    if bad.any():
        raise ChurnLensError(f"arm must be treatment or control, got {arm[bad][0]!r} "
                             f"({int(bad.sum())} member(s))")
    ids = members["customer_id"].astype(str).to_numpy()
    unknown = ~pd.Index(ids).isin(labels.index)
    if unknown.any():
        raise ChurnLensError(f"member {ids[unknown][0]!r} is not in the customers "
                             f"({int(unknown.sum())} unknown member(s))")
    repeated = pd.Index(ids).duplicated()
    if repeated.any():
        raise ChurnLensError(f"member {ids[repeated][0]!r} appears twice in the campaign")
    return ids, arm == "treatment"


def _offers(members: pd.DataFrame, factor: float):
    """Who has an offer, the probability they accept it if treated, and their promo codes."""
    n = len(members)
    offer = (members["offer"].fillna(NO_OFFER).astype(str).to_numpy() if "offer" in members
             else np.full(n, NO_OFFER))
    rate = (pd.to_numeric(members["acceptance"], errors="coerce").to_numpy(dtype=float)
            if "acceptance" in members else np.full(n, np.nan))
    bad = np.isfinite(rate) & ((rate < 0) | (rate > 1))
    if bad.any():
        member = members["customer_id"].astype(str).to_numpy()[bad][0]
        raise ChurnLensError(f"acceptance must be between 0 and 1, got "
                             f"{_plain(rate[bad][0])!r} for member {member!r}")
    has_offer = (offer != NO_OFFER) & np.isfinite(rate)
    accept_p = np.where(has_offer, np.clip(np.nan_to_num(rate) * factor, 0.0, 1.0), 0.0)
    codes = (members["promo_code"].fillna("").astype(str).to_numpy() if "promo_code" in members
             else np.full(n, ""))
    return has_offer, accept_p, codes


def _plain(value):
    """A numpy scalar as the Python value (so messages read 2, not np.int64(2))."""
    return value.item() if isinstance(value, np.generic) else value


def _start(campaign_date: str | None) -> pd.Timestamp:
    try:
        start = pd.Timestamp(campaign_date or DEFAULT_DATE)
    except (ValueError, TypeError) as exc:
        raise ChurnLensError(f"campaign_date must be a date, got {campaign_date!r}") from exc
    if pd.isna(start):
        raise ChurnLensError(f"campaign_date must be a date, got {campaign_date!r}")
    return start.normalize()
