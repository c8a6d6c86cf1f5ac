"""The what-if and campaign queries: actionable fields (from the data's config), one
customer's or a group's model-implied what-if, catalogue presets and which offers this data
can take, and campaign targeting."""

from __future__ import annotations

import math
import os
import re

import numpy as np
import pandas as pd

from analytics.dataset import ACTIVE
from analytics.explain import describe_value, feature_label
from analytics.offers import NO_OFFER, eligible_mask, targeting
from analytics.pipeline import TIER
from analytics.recommend import COST, OFFER, PROFIT, check_catalogue, no_offer_reason
from analytics.whatif import (MONEY_REASON, Field, Scenario, actionable_fields, config_of,
                              discount_reason, frozen_features, has_revenue,
                              simulate_customer, simulate_selection)
from dashboard.errors import ClientError
from dashboard.services import core
from dashboard.services.core import num

WHATIF_MAX_ROWS = 150_000
MONEY_WORDS = re.compile(r"charge|revenue|balance|salary|amount|price|fee|spend|mrr|cost",
                         re.I)
TIME_WORDS = (("days", re.compile(r"days?\b|_d$", re.I)),
              ("weeks", re.compile(r"weeks?\b", re.I)),
              ("months", re.compile(r"months?\b", re.I)),
              ("years", re.compile(r"years?\b", re.I)))


def unit_of(feature: str, currency: str) -> str | None:
    """The unit a number is typed in, read from its column name ('TotalSpend' -> '$',
    'DaysSinceLogin' -> 'days'); None for counts and flags."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", feature)
    if MONEY_WORDS.search(words):
        return currency
    return next((unit for unit, pattern in TIME_WORDS if pattern.search(words)), None)


def _shown(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"{value:.0f}"
    return str(value)


def _field_spec(field: Field, current, locked: bool, currency: str) -> dict:
    """One what-if input as the page draws it: a dropdown (kind "category", also a number
    with listed values) or a number input with its range, step and unit."""
    item = {"feature": field.feature, "label": field.label, "current": current,
            "locked": locked, "locked_note": (f"{_shown(current)}: stays as it is (cannot be "
                                              "changed for this customer)" if locked else "")}
    if field.kind == "category" or field.choices:
        return {**item, "kind": "category",
                "choices": [{"label": _shown(v), "value": v} for v in field.choices]}
    return {**item, "kind": "number", "min": field.low, "max": field.high,
            "step": field.step, "unit": unit_of(field.feature, currency),
            "range": field.range_text()}


class OffersService(core.PageService):

    def whatif_spec(self, row: int | None = None) -> dict:
        """Actionable features with their choices or ranges (and one customer's current
        values), the frozen features, the default assumptions, whether money and a discount
        can be shown on this data (and why not), and the currency."""
        a = self.core.analysis
        c = a.customers
        currency = config_of(a).currency
        actionable = []
        for field in actionable_fields(a):
            current, locked = None, False
            if row is not None:
                value = c[field.feature].iloc[row]
                current = str(value) if field.kind == "category" else num(value)
                locked = bool(field.keeps(c[field.feature].iloc[[row]])[0])
            actionable.append(_field_spec(field, current, locked, currency))
        meta = a.feature_meta()
        frozen = [{"feature": f, "label": feature_label(f),
                   "value": (describe_value(f, c[f].iloc[row]) if row is not None else None)}
                  for f in frozen_features(a) if f not in meta]
        history = [f for f in frozen_features(a) if f in meta]
        if history:  # behaviour comes from history: one line, not forty numbers
            tables = ", ".join(dict.fromkeys(meta[f].table for f in history))
            frozen.append({"feature": "behaviour", "label": "Behaviour", "value":
                           f"{len(history)} behaviour features from {tables} (history)"})
        catalogue = self.core.catalogue
        money = has_revenue(a)
        return {"actionable": actionable, "frozen": frozen, "currency": currency,
                "money": {"available": money, "reason": None if money else MONEY_REASON},
                "discount": {"available": discount_reason(a) is None,
                             "reason": discount_reason(a)},
                "assumptions": {
                    "margin": a.settings.margin,
                    "acceptance": self.default_acceptance(row),
                    "contact_cost": catalogue.contact_cost if catalogue else 5.0}}

    def currency(self) -> str:
        """The data's currency symbol (from its config)."""
        return config_of(self.core.analysis).currency

    def catalogue_status(self) -> dict[str, str | None]:
        """Per offer id, why it cannot work on this data (None: it can); {} without a
        catalogue."""
        catalogue = self.core.catalogue
        if catalogue is None or self.core.analysis is None:
            return {}
        return self.core.memoised("catalogue-status", None,
                                  lambda: check_catalogue(catalogue, self.core.analysis))

    def unavailable_offers(self) -> list[dict]:
        """The catalogue's offers this data cannot take, each with the reason."""
        status = self.catalogue_status()
        catalogue = self.core.catalogue
        return [{"id": o.id, "name": o.name, "acceptance": o.acceptance,
                 "description": o.description, "reason": status[o.id]}
                for o in (catalogue.offers if catalogue else ()) if status.get(o.id)]

    def offer_options(self, row: int | None = None) -> list[dict]:
        """The preset dropdown's options: the offers this data can take (for a customer,
        those they are eligible for), then the unavailable ones, disabled, with the reason."""
        catalogue = self.core.catalogue
        if catalogue is None:
            return []
        status = self.catalogue_status()
        usable = {o["id"] for o in self.offers_for(row)} if row is not None else None
        options = [{"label": o.name, "value": o.id} for o in catalogue.offers
                   if status.get(o.id) is None and (usable is None or o.id in usable)]
        return options + [{"label": f"{o.name} (unavailable: {status[o.id]})", "value": o.id,
                           "disabled": True, "title": status[o.id]}
                          for o in catalogue.offers if status.get(o.id)]

    def default_acceptance(self, row: int | None = None) -> float:
        """The simulator's starting acceptance rate: the customer's recommended offer's (so
        the offer card and the simulator agree), else the catalogue's mean, else 30%."""
        catalogue = self.core.catalogue
        if catalogue is None or not catalogue.offers:
            return 0.3
        if row is not None:
            offer = self.core.customer.offer_of(row)
            if offer and offer.get("acceptance") is not None:
                return float(offer["acceptance"])
        return round(sum(o.acceptance for o in catalogue.offers) / len(catalogue.offers), 2)

    def simulate_customer(self, row: int, scenario: Scenario) -> dict:
        """One customer's what-if (ValueError on an invalid scenario); the moved reasons get
        plain-language labels."""
        result = simulate_customer(self.core.analysis, row, scenario)
        labels = {f.feature: f.label for f in actionable_fields(self.core.analysis)}
        for item in result["reasons_moved"]:
            item["label"] = labels.get(item["feature"]) or feature_label(item["feature"])
        result["changed_labels"] = [labels.get(f) or feature_label(f) for f in result["changed"]]
        return result

    def offers_for(self, row: int) -> list[dict]:
        """Catalogue offers this data can take and this customer is eligible for."""
        catalogue = self.core.catalogue
        if catalogue is None:
            return []
        status = self.catalogue_status()
        frame = self.core.analysis.customers.iloc[[row]]
        return [{"id": o.id, "name": o.name} for o in catalogue.offers
                if status.get(o.id) is None and eligible_mask(frame, o)[0]]

    def preset_inputs(self, offer_id: str | None, current: dict, input_ids: list[dict],
                      assumption_ids: list[dict], assumption_values: list) -> tuple[list, list]:
        """The what-if inputs' new values for an offer, in the pattern-matching ids' order;
        the acceptance assumption becomes the offer's, the other assumptions stay."""
        values = self.preset_values(offer_id, current)
        inputs = [values.get(i["feature"]) for i in input_ids]
        assumptions = [values["acceptance"] if i["name"] == "acceptance" and
                       values.get("acceptance") is not None else v
                       for i, v in zip(assumption_ids, assumption_values)]
        return inputs, assumptions

    def preset_values(self, offer_id: str | None, current: dict) -> dict:
        """What-if input values for a catalogue offer (the current values when None); a
        feature whose current value is fixed stays locked (None)."""
        fields = {f.feature: f for f in actionable_fields(self.core.analysis)}
        locked = {f for f, v in current.items() if f in fields and v is not None
                  and bool(fields[f].keeps(_series(v))[0])}
        values = {f: (None if f in locked else v) for f, v in current.items()}
        values.update(discount=0, months=0, other_cost=0, acceptance=None)
        catalogue = self.core.catalogue
        if not offer_id or catalogue is None:
            return values
        if not isinstance(offer_id, str) or offer_id not in {o.id for o in catalogue.offers}:
            raise ClientError(f"unknown offer {str(offer_id)[:60]!r}")
        reason = self.catalogue_status().get(offer_id)
        if reason:
            raise ClientError(f"offer {offer_id!r} is unavailable on this data: {reason}")
        offer = catalogue.get(offer_id)
        for feature, value in offer.changes.items():
            if feature not in locked:
                kind = fields[feature].kind if feature in fields else "category"
                values[feature] = str(value) if kind == "category" else float(value)
        values.update(discount=round(100 * offer.discount), months=offer.months,
                      other_cost=round(offer.one_off_cost + offer.monthly_cost * offer.months,
                                       2),
                      acceptance=round(100 * offer.acceptance))
        return values

    def check_base(self, base) -> dict:
        """The customer page's what-if state (row and current values), as the page made it;
        ClientError (a 400) for anything else."""
        n = len(self.core.analysis.customers)
        row = base.get("row") if isinstance(base, dict) else None
        if not isinstance(row, int) or isinstance(row, bool) or not 0 <= row < n or \
                not isinstance(base.get("current"), dict):
            raise ClientError("the customer's what-if state is not one this page made")
        return base

    def describe_filters(self, filters: dict | None) -> str:
        return self.core.customers.describe_filters(filters, lists=False)

    def simulate_selection(self, filters: dict | None, scenario: Scenario) -> dict:
        """The group what-if; above WHATIF_MAX_ROWS affected customers it is estimated from a
        seeded random sample (about 1 s per change at a million customers, not 4)."""
        rows = np.flatnonzero(self.core.mask(filters))
        return simulate_selection(self.core.analysis, rows, scenario, max_rows=WHATIF_MAX_ROWS)

    def campaign(self, filters: dict | None, capacity: int | None) -> dict:
        """Targeting for the selection: the best offer per active customer, how many to contact
        (all with a positive expected profit, or the top N for a capacity), the gains curve
        and the offer mix."""
        c = self.core
        recs = c.analysis.recommendations
        if recs is None:
            return {"error": c.catalogue_error or "No offer catalogue loaded."}
        keep = c.mask(filters) & c.array(ACTIVE).astype(bool)
        status = self.catalogue_status()
        offers = [{"id": o.id, "name": o.name, "acceptance": o.acceptance,
                   "description": o.description, "reason": status.get(o.id)}
                  for o in c.catalogue.offers]
        common = {"error": None, "active": int(keep.sum()), "offers": offers,
                  "currency": config_of(c.analysis).currency,
                  "horizon_months": c.analysis.settings.horizon_months,
                  "contact_cost": c.catalogue.contact_cost,
                  "catalogue": os.path.basename(str(c.catalogue.source))}
        reason = no_offer_reason(c.analysis)
        if reason:  # no revenue: counts only, no profit
            high = self.core.codes_of(TIER, ["High"])
            at_risk = int((keep & np.isin(c.array(TIER), high)).sum())
            return {**common, "needs_revenue": reason, "high_risk": at_risk, "plan": None,
                    "mix": []}
        profit = recs[PROFIT].to_numpy(dtype=float)
        plan = targeting(profit[keep], capacity=capacity)
        codes = recs[OFFER].cat.codes.to_numpy()
        positive = keep & (profit > 0)
        names = {o.id: o.name for o in c.catalogue.offers}
        mix = []
        for code, offer_id in enumerate(recs[OFFER].cat.categories):
            chosen = positive & (codes == code)
            if offer_id != NO_OFFER and chosen.any():
                mix.append({"offer": names.get(offer_id, offer_id), "n": int(chosen.sum()),
                            "profit": num(profit[chosen].sum()),
                            "cost": num(recs[COST].to_numpy(dtype=float)[chosen].sum())})
        mix.sort(key=lambda item: -item["n"])
        return {**common, "needs_revenue": None, "plan": plan, "mix": mix}

    def campaign_rows(self, filters: dict | None, capacity: int | None) -> np.ndarray:
        """Active customers of the selection with a positive expected profit, best first,
        cut to the capacity."""
        c = self.core
        profit = c.analysis.recommendations[PROFIT].to_numpy(dtype=float)
        keep = c.mask(filters) & c.array(ACTIVE).astype(bool) & (profit > 0)
        rows = np.flatnonzero(keep)
        rows = rows[np.argsort(-profit[rows], kind="stable")]
        return rows if capacity is None else rows[:max(int(capacity), 0)]


def _field(values: dict, key: str, label: str, low: float, high: float | None = None,
           empty: float | None = None) -> float:
    """A number typed into a what-if input, checked in the units the page shows; an empty
    input is `empty` (ValueError when None)."""
    value = values.get(key)
    if value in (None, ""):
        if empty is None:
            raise ValueError(f"{label} needs a number")
        return empty
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{label} must be a number (got {value!r})") from None
    if not math.isfinite(number) or number < low or (high is not None and number > high):
        bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise ValueError(f"{label} must be {bound} (got {number:g})")
    return number


def _series(value) -> pd.Series:
    return pd.Series([value])


def _as_number(value) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _differs(value, current) -> bool:
    """Whether an input's value is a change from the customer's current one (numbers
    compared as numbers: 2 is 2.0)."""
    if current is None:
        return True
    if isinstance(value, str) and isinstance(current, str):
        return value != current
    a, b = _as_number(value), _as_number(current)
    return str(value) != str(current) if a is None or b is None else not math.isclose(a, b)


def scenario_from(input_ids: list[dict], input_values: list, assumption_ids: list[dict],
                  assumption_values: list, current: dict | None = None,
                  currency: str = "$") -> Scenario:
    """A what-if Scenario from the pattern-matching inputs: a feature changes when it has a
    value other than the customer's current one; percentages become fractions. ValueError
    names the input (in the page's units) when a number is missing or out of range."""
    values = {i["feature"]: v for i, v in zip(input_ids, input_values)}
    assumptions = {i["name"]: v for i, v in zip(assumption_ids, assumption_values)}
    current = current or {}
    changes = {f: (v if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v))
               for f, v in values.items()
               if f not in ("discount", "months", "other_cost") and v not in (None, "")
               and _differs(v, current.get(f))}
    discount = _field(values, "discount", "Monthly discount (%)", 0, 90, empty=0.0) / 100
    months = _field(values, "months", "Months", 0, 120, empty=0.0)
    if not months.is_integer():
        raise ValueError(f"Months must be a whole number (got {months:g})")
    return Scenario(changes=changes, discount=discount,
                    months=int(months) if discount > 0 else 0,
                    one_off_cost=_field(values, "other_cost",
                                        f"Other cost per accepter ({currency})", 0, empty=0.0),
                    acceptance=_field(assumptions, "acceptance", "Acceptance (%)", 0, 100) / 100,
                    contact_cost=_field(assumptions, "contact_cost",
                                        f"Contact cost ({currency})", 0),
                    margin=_field(assumptions, "margin", "Margin (%)", 1, 100) / 100)


def current() -> OffersService:
    return core.current().offers
