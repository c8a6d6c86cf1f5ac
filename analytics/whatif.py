"""What-if: re-score a customer (or a whole selection) with actionable features changed.

Only the features the dataset config lists as actionable are inputs (for the Telco layout:
contract, payment method, paperless billing, the add-on services), plus a monthly discount
on the config's revenue column. Each actionable feature says what it may become (a list of
values, or a numeric range and step), which current values stay as they are (`fixed`: a
customer without internet keeps 'No internet service') and what one change costs. Everything
else is frozen. Every result is *model-implied*: the model's association between these
features and churn, not a measured causal effect of changing them.

Money per contacted customer, with p0 the probability now, p1 with the change, a the
acceptance rate, CLV the value kept if the customer stays, c the cost per accepter (the
discount, any other cost and the changes' own costs) and k the contact cost (PRODUCT.md):

    value kept   = (p0 - p1) x CLV                (per accepter)
    profit       = a x ((p0 - p1) x CLV - c) - k
    ROI          = profit / (a x c + k)           (return on what is spent)
    break-even a = k / ((p0 - p1) x CLV - c)      (when the bracket is positive)

Without a revenue column there is no CLV: the probabilities still come back, the money
(value kept, profit, ROI, break-even) is None with the reason MONEY_REASON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from analytics.data.config import DatasetConfig
from analytics.dataset import ACTIVE, MONTHLY
from analytics.explain import feature_label
from analytics.loaders import NO_INTERNET, TELCO_CONFIG  # NO_INTERNET: kept for older callers
from analytics.offers import Offer, apply_offer, expected_profit, offer_cost
from analytics.pipeline import CLV, PROBABILITY, ChurnAnalysis, memo

MONEY_REASON = "needs a revenue column"
ACTIONABLE = tuple(a.column for a in TELCO_CONFIG.actionable)  # the fallback without a config


@dataclass(frozen=True)
class Scenario:
    """What changes and what it costs. `changes` maps actionable features to new values."""

    changes: dict[str, str | float] = field(default_factory=dict)
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


@dataclass(frozen=True)
class Field:
    """One actionable feature as the what-if may change it.

    kind "category": `choices` are the values it may be set to (text). kind "number":
    `choices` when the config lists values, else any value in [low, high] on `step` (None:
    any). A customer whose current value is in `fixed` keeps it. `cost` is what one change
    costs per accepter (the config's one-off cost + monthly cost x months)."""

    feature: str
    label: str
    kind: str
    choices: tuple = ()
    low: float | None = None
    high: float | None = None
    step: float | None = None
    fixed: tuple = ()
    cost: float = 0.0

    def range_text(self) -> str:
        if self.choices:
            return "one of " + ", ".join(_show(c) for c in self.choices)
        text = f"between {self.low:g} and {self.high:g}"
        return text + (f" in steps of {self.step:g}" if self.step else "")

    def check(self, value) -> str | float:
        """The value as the model takes it (text or float); ValueError naming the field."""
        if self.kind == "category":
            value = str(value)
            if value in self.fixed:
                raise ValueError(f"'{self.feature}' cannot be set to {value!r}")
            if value not in self.choices:
                raise ValueError(f"'{self.feature}': unknown value {value!r}; known: "
                                 f"{', '.join(self.choices)}")
            return value
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{self.label} must be a number {self.range_text()} "
                             f"(got {value!r})") from None
        if self.choices:
            ok = any(math.isclose(number, c) for c in self.choices)
        else:
            ok = math.isfinite(number) and self.low - 1e-9 <= number <= self.high + 1e-9
            if ok and self.step:
                steps = (number - self.low) / self.step
                ok = abs(steps - round(steps)) < 1e-6
        if not ok:
            raise ValueError(f"{self.label} must be {self.range_text()} (got {number:g})")
        if any(_same(number, f) for f in self.fixed):
            raise ValueError(f"'{self.feature}' cannot be set to {number:g}")
        return number

    def keeps(self, current: pd.Series) -> np.ndarray:
        """Rows whose current value is fixed (they keep it whatever the change)."""
        if not self.fixed:
            return np.zeros(len(current), dtype=bool)
        if self.kind == "category":
            return current.isin(list(self.fixed)).to_numpy(dtype=bool)
        values = pd.to_numeric(current, errors="coerce").to_numpy(dtype=float)
        return np.isin(values, [float(f) for f in self.fixed if _number(f) is not None])


def _number(text) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _same(number: float, text) -> bool:
    return _number(text) is not None and math.isclose(number, _number(text))


def _show(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def config_of(analysis: ChurnAnalysis) -> DatasetConfig:
    """The analysis' dataset config; the Telco one only for an analysis made without one."""
    return analysis.config if analysis.config is not None else TELCO_CONFIG


def actionable_fields(analysis: ChurnAnalysis) -> list[Field]:
    """The config's actionable features this model uses, in the config's order. Made once
    per analysis (a numeric field's range is a pass over every customer: at 1M customers
    ~10 ms of each API request, grid block and what-if)."""
    config = config_of(analysis)
    return list(memo(analysis, "actionable_fields",
                     (config, analysis.customers, tuple(analysis.features)),
                     lambda: tuple(_actionable_fields(analysis, config))))


def _actionable_fields(analysis: ChurnAnalysis, config: DatasetConfig) -> list[Field]:
    c = analysis.customers
    out = []
    for a in config.actionable:
        if a.column not in analysis.features:
            continue
        fixed = tuple(str(v) for v in a.fixed)
        cost = float(a.cost) + float(a.monthly_cost) * int(a.months)
        label = a.label or feature_label(a.column)
        if a.column in analysis.categorical:
            known = [str(x) for x in c[a.column].cat.categories]
            allowed = [str(v) for v in a.values if str(v) in known] if a.values else known
            out.append(Field(a.column, label, "category",
                             tuple(v for v in allowed if v not in fixed), fixed=fixed,
                             cost=cost))
            continue
        values = pd.to_numeric(c[a.column], errors="coerce").to_numpy(dtype=float)
        choices = tuple(n for n in (_number(v) for v in a.values) if n is not None
                        and not any(_same(n, f) for f in fixed))
        low = float(a.low) if a.low is not None else float(np.nanmin(values))
        high = float(a.high) if a.high is not None else float(np.nanmax(values))
        out.append(Field(a.column, label, "number", choices, low, high,
                         float(a.step) if a.step else None, fixed, cost))
    return out


def actionable_features(analysis: ChurnAnalysis) -> list[str]:
    """The actionable features this data has, in the config's order."""
    return [f.feature for f in actionable_fields(analysis)]


def frozen_features(analysis: ChurnAnalysis) -> list[str]:
    actionable = set(actionable_features(analysis))
    return [f for f in analysis.features if f not in actionable]


def has_revenue(analysis: ChurnAnalysis) -> bool:
    """Whether the data has revenue (so a CLV and money)."""
    if not config_of(analysis).has_revenue:
        return False
    customers = analysis.customers
    return memo(analysis, "has_revenue", (customers,),
                lambda: bool(customers[MONTHLY].notna().any()))


def discount_column(analysis: ChurnAnalysis) -> str | None:
    """The feature a discount lowers: the config's monthly revenue column, when the model
    sees it (None: no discount is possible)."""
    column = config_of(analysis).revenue_column
    return column if column in analysis.numeric else None


def discount_reason(analysis: ChurnAnalysis) -> str | None:
    """Why a discount cannot be simulated on this data (None when it can)."""
    if discount_column(analysis) is not None:
        return None
    config = config_of(analysis)
    if not has_revenue(analysis):
        return "a discount needs a revenue column, and this data has none"
    if config.revenue_column is None:
        return ("a discount needs one monthly revenue column the model sees as the bill; "
                f"this data's revenue ({' + '.join(config.revenue_columns)}, per "
                f"{config.revenue_period}) is not one")
    return (f"a discount needs the model to see the bill, and `{config.revenue_column}` is "
            "not one of its features")


def validate(analysis: ChurnAnalysis, scenario: Scenario) -> Scenario:
    """The scenario with its values as the model takes them; ValueError naming the input
    when a change is not actionable, not an allowed value, or a discount is impossible."""
    fields = {f.feature: f for f in actionable_fields(analysis)}
    changes = {}
    for feature, value in scenario.changes.items():
        if feature not in fields:
            raise ValueError(f"'{feature}' cannot be changed in a what-if (frozen); "
                             f"actionable: {', '.join(fields) or 'none'}")
        changes[feature] = fields[feature].check(value)
    for name, value, high in (("discount", scenario.discount, 0.9),
                              ("acceptance", scenario.acceptance, 1.0)):
        if not 0 <= value <= high:
            raise ValueError(f"{name} must be between 0 and {high:g} (got {value})")
    if scenario.months < 0 or scenario.one_off_cost < 0 or scenario.contact_cost < 0:
        raise ValueError("months and costs cannot be negative")
    if scenario.discount > 0:
        reason = discount_reason(analysis)
        if reason:
            raise ValueError(f"no discount on this data: {reason}")
        if scenario.months == 0:
            raise ValueError("a discount needs a duration: set for how many months")
    if scenario.margin is not None and not 0 < scenario.margin <= 1:
        raise ValueError(f"margin must be above 0 and at most 1 (got {scenario.margin})")
    return replace(scenario, changes=changes)


def _fields_of(analysis: ChurnAnalysis) -> dict[str, Field]:
    return {f.feature: f for f in actionable_fields(analysis)}


def apply(frame: pd.DataFrame, scenario: Scenario, analysis: ChurnAnalysis) -> pd.DataFrame:
    """The frame with the scenario applied: customers whose current value is `fixed` keep
    it; the discount lowers the config's revenue column and the monthly revenue."""
    changed = apply_offer(frame, scenario.offer(), discount_column=discount_column(analysis))
    fields = _fields_of(analysis)
    for feature in scenario.changes:
        keep = fields[feature].keeps(frame[feature]) if feature in fields else None
        if keep is None or not keep.any():
            continue
        if isinstance(frame[feature].dtype, pd.CategoricalDtype):
            column = changed[feature].astype(object)
            column[keep] = frame[feature].astype(object)[keep]
            changed[feature] = pd.Categorical(column,
                                              categories=changed[feature].cat.categories)
        else:
            changed.loc[keep, feature] = frame.loc[keep, feature]
    return changed


def _changes(frame: pd.DataFrame, scenario: Scenario,
             fields: dict[str, Field]) -> dict[str, np.ndarray]:
    """Per change, the rows whose value it really changes (not fixed, not already so)."""
    out = {}
    for feature, value in scenario.changes.items():
        current = frame[feature]
        if isinstance(value, str):
            differs = (current != value).to_numpy(dtype=bool)
        else:
            differs = ~np.isclose(pd.to_numeric(current, errors="coerce")
                                  .to_numpy(dtype=float), float(value))
        if feature in fields:
            differs &= ~fields[feature].keeps(current)
        out[feature] = differs
    return out


def affected_mask(frame: pd.DataFrame, scenario: Scenario,
                  analysis: ChurnAnalysis) -> np.ndarray:
    """Rows the scenario changes at all (a discount changes everyone's bill)."""
    if scenario.discount > 0 and discount_column(analysis) in frame.columns:
        return np.ones(len(frame), dtype=bool)
    hit = np.zeros(len(frame), dtype=bool)
    for differs in _changes(frame, scenario, _fields_of(analysis)).values():
        hit |= differs
    return hit


def change_cost(frame: pd.DataFrame, scenario: Scenario, analysis: ChurnAnalysis,
                monthly) -> np.ndarray:
    """c per row: the discount and other costs (offer_cost) plus, for each feature the
    scenario really changes for that customer, the config's cost of that change."""
    cost = np.asarray(offer_cost(scenario.offer(), monthly), dtype=float).reshape(-1)
    cost = np.broadcast_to(cost, (len(frame),)).copy()
    fields = _fields_of(analysis)
    for feature, differs in _changes(frame, scenario, fields).items():
        if feature in fields and fields[feature].cost:
            cost += np.where(differs, fields[feature].cost, 0.0)
    return cost


def _clv_scale(analysis: ChurnAnalysis, scenario: Scenario) -> float:
    """CLV is proportional to the margin, so a new margin rescales it."""
    if scenario.margin is None:
        return 1.0
    return scenario.margin / analysis.settings.margin


def _money(p0, p1, clv, cost, scenario: Scenario, money: bool = True) -> dict:
    """Value kept, profit, ROI, break-even (None without revenue: what it costs is known,
    what it is worth is not)."""
    if not money:
        return {"value_kept": None, "cost": float(cost), "profit": None,
                "spend": float(scenario.acceptance * cost + scenario.contact_cost),
                "roi": None, "break_even_acceptance": None, "never_pays": None,
                "money_reason": MONEY_REASON}
    gain = (p0 - p1) * clv - cost
    profit = float(expected_profit(p0, p1, clv, scenario.acceptance, cost,
                                   scenario.contact_cost))
    spend = scenario.acceptance * cost + scenario.contact_cost
    break_even = (scenario.contact_cost / gain) if gain > 0 else None
    return {"value_kept": float((p0 - p1) * clv), "cost": float(cost), "profit": profit,
            "spend": float(spend), "roi": profit / spend if spend > 0 else None,
            "break_even_acceptance": (float(break_even)
                                      if break_even is not None and break_even <= 1 else None),
            "never_pays": gain <= 0, "money_reason": None}


def simulate_customer(analysis: ChurnAnalysis, row: int, scenario: Scenario) -> dict:
    """One customer before and after: probabilities, which reasons moved (SHAP in probability
    points, per feature), and the money of offering the change to them."""
    scenario = validate(analysis, scenario)
    before = analysis.customers.iloc[[row]]
    after = apply(before, scenario, analysis)
    both = pd.concat([before, after], ignore_index=True)
    p0, p1 = (float(x) for x in analysis.model.predict_proba(both))
    shap, _ = analysis.model.shap_values(both)
    # SHAP is additive in log-odds: the per-feature differences add up to raw1 - raw0. They
    # are shared out over the probability change in proportion, so the bars add up to
    # p1 - p0; an unchanged feature moves only through its interactions with changed ones.
    diff = shap[1].astype(float) - shap[0].astype(float)
    total = diff.sum()
    moved = diff * (100 * (p1 - p0) / total) if abs(total) > 1e-12 else np.zeros_like(diff)
    money = has_revenue(analysis)
    clv = float(before[CLV].iloc[0]) * _clv_scale(analysis, scenario)
    monthly = float(before[MONTHLY].iloc[0])
    cost = float(change_cost(before, scenario, analysis, monthly if money else 0.0)[0])
    changed = [f for f in analysis.features
               if str(before[f].iloc[0]) != str(after[f].iloc[0])]
    order = np.argsort(-np.abs(moved))
    return {"p0": p0, "p1": p1, "change": p1 - p0,
            "clv": clv if money else None, "monthly": monthly if money else None,
            "changed": changed,
            "reasons_moved": [{"feature": analysis.features[j], "points": float(moved[j])}
                              for j in order if abs(moved[j]) >= 0.05][:8],
            **_money(p0, p1, clv, cost, scenario, money)}


def simulate_selection(analysis: ChurnAnalysis, rows: np.ndarray, scenario: Scenario,
                       predict=None, max_rows: int | None = None,
                       random_state: int = 0) -> dict:
    """The scenario offered to every active customer among `rows` whom it changes.

    Returns customers selected / active / affected, expected churners avoided (a x sum of
    p0 - p1), monthly revenue retained (a x sum of (p0 - p1) x monthly bill), value kept, total
    cost (a x sum of c + k per contact), profit, ROI, break-even acceptance, the mean churn
    probability before and after, and how many the change would make riskier. Without
    revenue the money that needs it is None (`money_reason` says why).

    With `max_rows`, more affected customers than that are estimated from a seeded random
    sample of that many (totals scaled up; `sampled` says how many were re-scored)."""
    scenario = validate(analysis, scenario)
    predict = predict or analysis.model.predict_proba
    rows = np.asarray(rows)
    customers = analysis.customers
    active_rows = rows[customers[ACTIVE].to_numpy(dtype=bool)[rows]]
    frame = customers.iloc[active_rows]
    hit = affected_mask(frame, scenario, analysis)
    money = has_revenue(analysis)
    out = {"selected": int(len(rows)), "active": int(len(active_rows)),
           "affected": int(hit.sum()), "money_reason": None if money else MONEY_REASON}
    if not hit.any():
        zero = 0.0 if money else None
        return {**out, "sampled": None, "profit_se": None, "churners_avoided": 0.0,
                "revenue_retained": zero, "value_kept": zero, "profit": zero,
                "total_cost": 0.0, "offer_cost_total": 0.0, "contact_cost_total": 0.0,
                "roi": None, "break_even_acceptance": None, "p0_mean": None, "p1_mean": None,
                "riskier": 0, "never_pays": True if money else None}
    target = frame.loc[hit]
    n = int(hit.sum())
    scale, sampled = 1.0, None
    if max_rows is not None and n > max_rows:
        pick = np.sort(np.random.default_rng(random_state).choice(n, max_rows, replace=False))
        target, scale, sampled = target.iloc[pick], n / max_rows, max_rows
    p0 = target[PROBABILITY].to_numpy(dtype=float)
    p1 = np.asarray(predict(apply(target, scenario, analysis)), dtype=float)
    monthly = target[MONTHLY].to_numpy(dtype=float) if money else np.zeros(len(target))
    cost = change_cost(target, scenario, analysis, monthly)
    a, k = scenario.acceptance, scenario.contact_cost
    total_cost = a * scale * float(cost.sum()) + k * n
    common = {**out, "sampled": sampled,
              "churners_avoided": a * scale * float((p0 - p1).sum()),
              "total_cost": total_cost,
              "offer_cost_total": a * scale * float(cost.sum()), "contact_cost_total": k * n,
              "p0_mean": float(p0.mean()), "p1_mean": float(p1.mean()),
              "riskier": int(round(scale * (p1 > p0 + 1e-9).sum()))}
    if not money:
        return {**common, "profit_se": None, "revenue_retained": None, "value_kept": None,
                "profit": None, "roi": None, "break_even_acceptance": None,
                "never_pays": None}
    clv = target[CLV].to_numpy(dtype=float) * _clv_scale(analysis, scenario)
    value_kept = a * scale * float(((p0 - p1) * clv).sum())
    profit = value_kept - total_cost
    gain = scale * float(((p0 - p1) * clv - cost).sum())
    break_even = k * n / gain if gain > 0 else None
    profit_se = None
    if sampled:  # standard error of the scaled-up total (finite-population corrected)
        each = a * ((p0 - p1) * clv - cost) - k
        profit_se = float(n * each.std(ddof=1) / np.sqrt(sampled) * np.sqrt(1 - sampled / n))
    return {**common, "profit_se": profit_se,
            "revenue_retained": a * scale * float(((p0 - p1) * monthly).sum()),
            "value_kept": value_kept, "profit": profit,
            "roi": profit / total_cost if total_cost > 0 else None,
            "break_even_acceptance": (break_even if break_even is not None and break_even <= 1
                                      else None),
            "never_pays": gain <= 0}


__all__ = ["ACTIONABLE", "MONEY_REASON", "NO_INTERNET", "Field", "Scenario",
           "actionable_features", "actionable_fields", "affected_mask", "apply",
           "change_cost", "config_of", "discount_column", "discount_reason",
           "frozen_features", "has_revenue", "simulate_customer", "simulate_selection",
           "validate"]
