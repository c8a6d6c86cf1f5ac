"""The what-if and campaign queries: actionable fields, one customer's or a group's
model-implied what-if, catalogue presets, and campaign targeting."""

from __future__ import annotations

import math
import os

import numpy as np

from analytics.dataset import ACTIVE
from analytics.explain import ADD_ONS, describe_value, feature_label
from analytics.offers import NO_OFFER, eligible_mask, targeting
from analytics.recommend import COST, OFFER, PROFIT
from analytics.whatif import (NO_INTERNET, Scenario, actionable_features, frozen_features,
                              simulate_customer, simulate_selection)
from dashboard.errors import ClientError
from dashboard.services import core
from dashboard.services.core import num

WHATIF_MAX_ROWS = 150_000


class OffersService(core.PageService):

    def whatif_spec(self, row: int | None = None) -> dict:
        """Actionable features with their choices (and one customer's current values), the
        frozen features, and the default assumptions."""
        a = self.core.analysis
        c = a.customers
        actionable = []
        for feature in actionable_features(a):
            current = str(c[feature].iloc[row]) if row is not None else None
            choices = [str(x) for x in c[feature].cat.categories
                       if not (feature in ADD_ONS and x == NO_INTERNET)]
            actionable.append({"feature": feature, "label": feature_label(feature),
                               "choices": choices, "current": current,
                               "locked": current == NO_INTERNET})
        frozen = [{"feature": f, "label": feature_label(f),
                   "value": (describe_value(f, c[f].iloc[row]) if row is not None else None)}
                  for f in frozen_features(a)]
        catalogue = self.core.catalogue
        return {"actionable": actionable, "frozen": frozen, "assumptions": {
            "margin": a.settings.margin,
            "acceptance": self.default_acceptance(row),
            "contact_cost": catalogue.contact_cost if catalogue else 5.0}}

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
        for item in result["reasons_moved"]:
            item["label"] = feature_label(item["feature"])
        return result

    def offers_for(self, row: int) -> list[dict]:
        """Catalogue offers this customer is eligible for (id and name)."""
        catalogue = self.core.catalogue
        if catalogue is None:
            return []
        frame = self.core.analysis.customers.iloc[[row]]
        return [{"id": o.id, "name": o.name} for o in catalogue.offers
                if eligible_mask(frame, o)[0]]

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
        """What-if input values for a catalogue offer (the current values when None)."""
        values = {f: (None if v == NO_INTERNET else v) for f, v in current.items()}
        values.update(discount=0, months=0, other_cost=0, acceptance=None)
        catalogue = self.core.catalogue
        if not offer_id or catalogue is None:
            return values
        if not isinstance(offer_id, str) or offer_id not in {o.id for o in catalogue.offers}:
            raise ClientError(f"unknown offer {str(offer_id)[:60]!r}")
        offer = catalogue.get(offer_id)
        for feature, value in offer.changes.items():
            if current.get(feature) != NO_INTERNET:  # add-ons stay locked without internet
                values[feature] = str(value)
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
        return {"error": None, "active": int(keep.sum()), "plan": plan, "mix": mix,
                "horizon_months": c.analysis.settings.horizon_months,
                "contact_cost": c.catalogue.contact_cost,
                "offers": [{"id": o.id, "name": o.name, "acceptance": o.acceptance,
                            "description": o.description} for o in c.catalogue.offers],
                "catalogue": os.path.basename(str(c.catalogue.source))}

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


def scenario_from(input_ids: list[dict], input_values: list, assumption_ids: list[dict],
                  assumption_values: list, current: dict | None = None) -> Scenario:
    """A what-if Scenario from the pattern-matching inputs: a feature changes when it has a
    value other than the customer's current one; percentages become fractions. ValueError
    names the input (in the page's units) when a number is missing or out of range."""
    values = {i["feature"]: v for i, v in zip(input_ids, input_values)}
    assumptions = {i["name"]: v for i, v in zip(assumption_ids, assumption_values)}
    current = current or {}
    changes = {f: str(v) for f, v in values.items()
               if f not in ("discount", "months", "other_cost") and v not in (None, "")
               and str(v) != current.get(f)}
    discount = _field(values, "discount", "Monthly discount (%)", 0, 90, empty=0.0) / 100
    months = _field(values, "months", "Months", 0, 120, empty=0.0)
    if not months.is_integer():
        raise ValueError(f"Months must be a whole number (got {months:g})")
    return Scenario(changes=changes, discount=discount,
                    months=int(months) if discount > 0 else 0,
                    one_off_cost=_field(values, "other_cost", "Other cost per accepter ($)", 0,
                                        empty=0.0),
                    acceptance=_field(assumptions, "acceptance", "Acceptance (%)", 0, 100) / 100,
                    contact_cost=_field(assumptions, "contact_cost", "Contact cost ($)", 0),
                    margin=_field(assumptions, "margin", "Margin (%)", 1, 100) / 100)


def current() -> OffersService:
    return core.current().offers
