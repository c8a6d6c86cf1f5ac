"""What-if: re-score a customer (or a whole selection) with actionable features changed.

Only features a retention team can change are inputs (contract, payment method, paperless
billing, add-on services, a monthly discount). Tenure, demographics and the charges history
are frozen. Every result is *model-implied*: the model's association between these features
and churn, not a measured causal effect of changing them.

Money per contacted customer, with p0 the probability now, p1 with the change, a the
acceptance rate, CLV the value kept if the customer stays, c the cost per accepter and k the
contact cost (PRODUCT.md):

    value kept   = (p0 - p1) x CLV                (per accepter)
    profit       = a x ((p0 - p1) x CLV - c) - k
    ROI          = profit / (a x c + k)           (return on what is spent)
    break-even a = k / ((p0 - p1) x CLV - c)      (when the bracket is positive)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.dataset import ACTIVE, MONTHLY
from analytics.explain import ADD_ONS
from analytics.offers import DISCOUNT_FEATURE, Offer, apply_offer, expected_profit, offer_cost
from analytics.pipeline import CLV, PROBABILITY, ChurnAnalysis

ACTIONABLE = ("Contract", "PaymentMethod", "PaperlessBilling", *ADD_ONS)
NO_INTERNET = "No internet service"


@dataclass(frozen=True)
class Scenario:
    """What changes and what it costs. `changes` maps actionable features to new values."""

    changes: dict[str, str] = field(default_factory=dict)
    discount: float = 0.0          # fraction off the monthly bill
    months: int = 0                # how long the discount lasts
    one_off_cost: float = 0.0      # any other cost per accepter
    acceptance: float = 0.3        # a
    contact_cost: float = 5.0      # k
    margin: float | None = None    # None: the analysis' margin (CLV is scaled to a new one)

    def offer(self) -> Offer:
        return Offer(id="what-if", name="What-if", changes=dict(self.changes),
                     discount=self.discount, months=self.months,
                     one_off_cost=self.one_off_cost, acceptance=self.acceptance)


def actionable_features(analysis: ChurnAnalysis) -> list[str]:
    """The actionable features this data has, in a fixed order."""
    return [f for f in ACTIONABLE if f in analysis.categorical]


def frozen_features(analysis: ChurnAnalysis) -> list[str]:
    return [f for f in analysis.features if f not in ACTIONABLE]


def validate(analysis: ChurnAnalysis, scenario: Scenario) -> None:
    """ValueError naming the input when a change is not actionable or not a known value."""
    allowed = actionable_features(analysis)
    for feature, value in scenario.changes.items():
        if feature not in allowed:
            raise ValueError(f"'{feature}' cannot be changed in a what-if (frozen); "
                             f"actionable: {', '.join(allowed)}")
        categories = [str(c) for c in analysis.customers[feature].cat.categories]
        if str(value) not in categories:
            raise ValueError(f"'{feature}': unknown value {value!r}; known: "
                             f"{', '.join(categories)}")
        if feature in ADD_ONS and value == NO_INTERNET:
            raise ValueError(f"'{feature}' cannot be set to {NO_INTERNET!r}")
    for name, value, high in (("discount", scenario.discount, 0.9),
                              ("acceptance", scenario.acceptance, 1.0)):
        if not 0 <= value <= high:
            raise ValueError(f"{name} must be between 0 and {high:g} (got {value})")
    if scenario.months < 0 or scenario.one_off_cost < 0 or scenario.contact_cost < 0:
        raise ValueError("months and costs cannot be negative")
    if scenario.discount > 0 and scenario.months == 0:
        raise ValueError("a discount needs a duration: set for how many months")
    if scenario.margin is not None and not 0 < scenario.margin <= 1:
        raise ValueError(f"margin must be above 0 and at most 1 (got {scenario.margin})")


def apply(frame: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    """The frame with the scenario applied. Add-ons are not given to customers without
    internet (they keep 'No internet service'); the discount lowers MonthlyCharges."""
    changed = apply_offer(frame, scenario.offer())
    for feature in scenario.changes:
        if feature in ADD_ONS:
            keep = (frame[feature] == NO_INTERNET).to_numpy()
            if keep.any():
                column = changed[feature].astype(object)
                column[keep] = NO_INTERNET
                changed[feature] = pd.Categorical(column,
                                                  categories=changed[feature].cat.categories)
    return changed


def affected_mask(frame: pd.DataFrame, scenario: Scenario) -> np.ndarray:
    """Rows the scenario changes at all (a discount changes everyone's bill)."""
    if scenario.discount > 0 and DISCOUNT_FEATURE in frame.columns:
        return np.ones(len(frame), dtype=bool)
    hit = np.zeros(len(frame), dtype=bool)
    for feature, value in scenario.changes.items():
        current = frame[feature]
        changes = (current != value).to_numpy(dtype=bool)
        if feature in ADD_ONS:
            changes &= (current != NO_INTERNET).to_numpy(dtype=bool)
        hit |= changes
    return hit


def _clv_scale(analysis: ChurnAnalysis, scenario: Scenario) -> float:
    """CLV is proportional to the margin, so a new margin rescales it."""
    if scenario.margin is None:
        return 1.0
    return scenario.margin / analysis.settings.margin


def _money(p0, p1, clv, cost, scenario: Scenario) -> dict:
    gain = (p0 - p1) * clv - cost
    profit = float(expected_profit(p0, p1, clv, scenario.acceptance, cost,
                                   scenario.contact_cost))
    spend = scenario.acceptance * cost + scenario.contact_cost
    break_even = (scenario.contact_cost / gain) if gain > 0 else None
    return {"value_kept": float((p0 - p1) * clv), "cost": float(cost), "profit": profit,
            "spend": float(spend), "roi": profit / spend if spend > 0 else None,
            "break_even_acceptance": (float(break_even)
                                      if break_even is not None and break_even <= 1 else None),
            "never_pays": gain <= 0}


def simulate_customer(analysis: ChurnAnalysis, row: int, scenario: Scenario) -> dict:
    """One customer before and after: probabilities, which reasons moved (SHAP in probability
    points, per feature), and the money of offering the change to them."""
    validate(analysis, scenario)
    before = analysis.customers.iloc[[row]]
    after = apply(before, scenario)
    both = pd.concat([before, after], ignore_index=True)
    p0, p1 = (float(x) for x in analysis.model.predict_proba(both))
    shap, _ = analysis.model.shap_values(both)
    # SHAP is additive in log-odds: the per-feature differences add up to raw1 - raw0. They
    # are shared out over the probability change in proportion, so the bars add up to
    # p1 - p0; an unchanged feature moves only through its interactions with changed ones.
    diff = shap[1].astype(float) - shap[0].astype(float)
    total = diff.sum()
    moved = diff * (100 * (p1 - p0) / total) if abs(total) > 1e-12 else np.zeros_like(diff)
    clv = float(before[CLV].iloc[0]) * _clv_scale(analysis, scenario)
    monthly = float(before[MONTHLY].iloc[0])
    cost = float(offer_cost(scenario.offer(), monthly))
    changed = [f for f in analysis.features
               if str(before[f].iloc[0]) != str(after[f].iloc[0])]
    order = np.argsort(-np.abs(moved))
    return {"p0": p0, "p1": p1, "change": p1 - p0, "clv": clv, "monthly": monthly,
            "changed": changed,
            "reasons_moved": [{"feature": analysis.features[j], "points": float(moved[j])}
                              for j in order if abs(moved[j]) >= 0.05][:8],
            **_money(p0, p1, clv, cost, scenario)}


def simulate_selection(analysis: ChurnAnalysis, rows: np.ndarray, scenario: Scenario,
                       predict=None, max_rows: int | None = None,
                       random_state: int = 0) -> dict:
    """The scenario offered to every active customer among `rows` whom it changes.

    Returns customers selected / active / affected, expected churners avoided (a x sum of
    p0 - p1), monthly revenue retained (a x sum of (p0 - p1) x monthly bill), value kept, total
    cost (a x sum of c + k per contact), profit, ROI, break-even acceptance, the mean churn
    probability before and after, and how many the change would make riskier.

    With `max_rows`, more affected customers than that are estimated from a seeded random
    sample of that many (totals scaled up; `sampled` says how many were re-scored)."""
    validate(analysis, scenario)
    predict = predict or analysis.model.predict_proba
    rows = np.asarray(rows)
    customers = analysis.customers
    active_rows = rows[customers[ACTIVE].to_numpy(dtype=bool)[rows]]
    frame = customers.iloc[active_rows]
    hit = affected_mask(frame, scenario)
    out = {"selected": int(len(rows)), "active": int(len(active_rows)),
           "affected": int(hit.sum())}
    if not hit.any():
        return {**out, "sampled": None, "profit_se": None, "churners_avoided": 0.0, "revenue_retained": 0.0, "value_kept": 0.0,
                "total_cost": 0.0, "profit": 0.0, "roi": None, "break_even_acceptance": None,
                "p0_mean": None, "p1_mean": None, "riskier": 0, "never_pays": True}
    target = frame.loc[hit]
    n = int(hit.sum())
    scale, sampled = 1.0, None
    if max_rows is not None and n > max_rows:
        pick = np.sort(np.random.default_rng(random_state).choice(n, max_rows, replace=False))
        target, scale, sampled = target.iloc[pick], n / max_rows, max_rows
    p0 = target[PROBABILITY].to_numpy(dtype=float)
    p1 = np.asarray(predict(apply(target, scenario)), dtype=float)
    clv = target[CLV].to_numpy(dtype=float) * _clv_scale(analysis, scenario)
    monthly = target[MONTHLY].to_numpy(dtype=float)
    cost = offer_cost(scenario.offer(), monthly)
    a, k = scenario.acceptance, scenario.contact_cost
    value_kept = a * scale * float(((p0 - p1) * clv).sum())
    total_cost = a * scale * float(cost.sum()) + k * n
    profit = value_kept - total_cost
    gain = scale * float(((p0 - p1) * clv - cost).sum())
    break_even = k * n / gain if gain > 0 else None
    profit_se = None
    if sampled:  # standard error of the scaled-up total (finite-population corrected)
        each = a * ((p0 - p1) * clv - cost) - k
        profit_se = float(n * each.std(ddof=1) / np.sqrt(sampled) * np.sqrt(1 - sampled / n))
    return {**out, "sampled": sampled, "profit_se": profit_se,
            "churners_avoided": a * scale * float((p0 - p1).sum()),
            "revenue_retained": a * scale * float(((p0 - p1) * monthly).sum()),
            "value_kept": value_kept, "total_cost": total_cost, "profit": profit,
            "offer_cost_total": a * scale * float(cost.sum()), "contact_cost_total": k * n,
            "roi": profit / total_cost if total_cost > 0 else None,
            "break_even_acceptance": (break_even if break_even is not None and break_even <= 1
                                      else None),
            "never_pays": gain <= 0,
            "p0_mean": float(p0.mean()), "p1_mean": float(p1.mean()),
            "riskier": int(round(scale * (p1 > p0 + 1e-9).sum()))}


__all__ = ["ACTIONABLE", "Scenario", "actionable_features", "affected_mask", "apply",
           "frozen_features", "simulate_customer", "simulate_selection", "validate"]
