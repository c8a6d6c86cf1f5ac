"""Score new customers given as plain records (the JSON API and the Score form).

Every model feature must be given. Numbers must be finite numbers within ten times the
largest magnitude the data has (a feature never negative in the data takes no negative
value); categories must be ones the model has seen: an unknown category is reported, never
guessed. TotalCharges, when the data has it and the record leaves it out, is tenure x
MonthlyCharges. Error messages echo at most a short excerpt of what was sent, and results
hold no NaN or infinity (None instead), so they are always valid JSON.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analytics import kpis
from analytics.explain import describe_value, probability_points
from analytics.offers import Catalogue, best_offers
from analytics.pipeline import ChurnAnalysis
from analytics.survival import survival_clv

MAX_RECORDS = 1000
MAX_SHOWN = 60          # longest echo of a client's value in an error message
MAX_ID_CHARS = 100
RANGE_FACTOR = 10       # numbers beyond 10x the largest magnitude in the data are refused
MAX_LISTED = 20         # categories or fields named in one message


class ScoreInputError(ValueError):
    """A record that cannot be scored; `field` names the offending field."""

    def __init__(self, message: str, field: str | None = None, index: int | None = None):
        where = f"customer {index}: " if index is not None else ""
        super().__init__(f"{where}{message}")
        self.field = None if field is None else clip(str(field), MAX_SHOWN)
        self.index = index


def clip(text: str, limit: int = MAX_SHOWN) -> str:
    """`text` cut to `limit` characters (an ellipsis marks the cut)."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def shown(value) -> str:
    """A client's value as an error message may echo it: short, whatever was sent."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        if len(value) <= 5 and all(_plain(v) for v in value):
            return clip("[" + ", ".join(shown(v) for v in value) + "]")
        return f"a list of {len(value):,} item{'s' * (len(value) != 1)}"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    if isinstance(value, str):
        return clip(repr(value[:MAX_SHOWN + 1]))
    return clip(repr(value))


def _plain(value) -> bool:
    return value is None or isinstance(value, (str, int, float))


def _listing(names) -> str:
    names = [str(n) for n in names]
    text = ", ".join(clip(n) for n in names[:MAX_LISTED])
    return text + (f", … ({len(names)} in all)" if len(names) > MAX_LISTED else "")


def _g(number: float) -> str:
    return f"{number:,.6g}"


def numeric_bounds(analysis: ChurnAnalysis) -> dict[str, tuple[float, float, float, float]]:
    """Per numeric feature: (lowest accepted, highest accepted, data min, data max). Values
    beyond RANGE_FACTOR x the largest magnitude in the data are input errors (a tenure of
    1e18 months), and a feature never negative in the data accepts no negative value."""
    bounds = {}
    for field in analysis.numeric:
        values = analysis.customers[field].to_numpy(dtype=float)
        if not np.isfinite(values).any():
            continue
        low, high = float(np.nanmin(values)), float(np.nanmax(values))
        limit = RANGE_FACTOR * max(abs(low), abs(high)) or 1.0
        bounds[field] = (0.0 if low >= 0 else -limit, limit, low, high)
    return bounds


def _numeric(value, field: str, index: int | None, bounds) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ScoreInputError(f"field '{field}' must be a number (it is empty or not a "
                              "number)", field, index)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ScoreInputError(f"field '{field}' must be a number (got {shown(value)})", field,
                              index)
    try:
        number = float(value)
    except (ValueError, OverflowError):  # "abc"; an integer too large for a float
        number = None if isinstance(value, str) else math.inf
    if number is None:
        raise ScoreInputError(f"field '{field}' must be a number (got {shown(value)})", field,
                              index)
    if math.isnan(number):
        raise ScoreInputError(f"field '{field}' must be a finite number (got {shown(value)})",
                              field, index)
    if bounds is not None:
        lowest, highest, low, high = bounds
        if number < 0 <= lowest:
            raise ScoreInputError(f"field '{field}' cannot be negative (got {shown(value)}); "
                                  "the data has no negative values", field, index)
        if not lowest <= number <= highest:
            raise ScoreInputError(
                f"field '{field}' must be between {_g(lowest)} and {_g(highest)} (got "
                f"{shown(value)}); the data has {_g(low)} to {_g(high)}", field, index)
    elif not math.isfinite(number):
        raise ScoreInputError(f"field '{field}' must be a finite number (got {shown(value)})",
                              field, index)
    return number


def _category(value, field: str, index: int | None, allowed: list[str]) -> str:
    text = None
    if not isinstance(value, (dict, list, tuple)) and value is not None:
        try:
            text = str(value).strip()
        except ValueError:  # an integer too long to print
            text = None
    if text is None:
        raise ScoreInputError(f"field '{field}' must be one of: {_listing(allowed)} (got "
                              f"{shown(value)})", field, index)
    if text not in allowed:
        raise ScoreInputError(f"field '{field}': unknown category {shown(value)}; known: "
                              f"{_listing(allowed)}", field, index)
    return text


def _customer_id(record: dict, index: int, where: int | None) -> str:
    """The record's own id (`customer_id` or `customerID`), else new-<n>."""
    key = "customer_id"
    value = record.get(key)
    if value is None or value == "":
        key = "customerID"
        value = record.get(key)
    if value is None or value == "":
        return f"new-{index + 1}"
    text = value if isinstance(value, str) else None
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() < 340:
        text = str(value)
    if text is None or len(text) > MAX_ID_CHARS:
        raise ScoreInputError(f"field '{key}' must be a text or a whole number of at most "
                              f"{MAX_ID_CHARS} characters (got {shown(value)})", key, where)
    return text


def validate_records(records, analysis: ChurnAnalysis) -> pd.DataFrame:
    """Records (a dict or a list of dicts) as a feature frame the model accepts.

    The one check of scoring input (the JSON API and the Score form): every feature given,
    numbers finite and within RANGE_FACTOR x the data's range, categories known, at most
    MAX_RECORDS customers. Raises ScoreInputError naming the field; echoed values are short.
    """
    if isinstance(records, dict):
        records = [records]
    if not isinstance(records, list) or not records:
        raise ScoreInputError("send a JSON object (one customer) or a non-empty list of them")
    if len(records) > MAX_RECORDS:
        raise ScoreInputError(f"at most {MAX_RECORDS} customers per request "
                              f"(got {len(records)})")
    customers = analysis.customers
    bounds = numeric_bounds(analysis)
    known = set(analysis.features) | {"customer_id", "customerID"}
    allowed = {field: [str(c) for c in customers[field].cat.categories]
               for field in analysis.categorical}
    rows = []
    for index, record in enumerate(records):
        where = index if len(records) > 1 else None
        if not isinstance(record, dict):
            raise ScoreInputError("each customer must be a JSON object", index=where)
        extra = sorted(set(record) - known)
        if extra:
            raise ScoreInputError(f"unknown field {shown(extra[0])}; fields: "
                                  f"{_listing(analysis.features)}", extra[0], where)
        row = {}
        for field in analysis.numeric:
            if field == "TotalCharges" and record.get(field) in (None, ""):
                continue  # left out (or left empty): computed from tenure and charges
            if field not in record:
                raise ScoreInputError(f"field '{field}' is missing", field, where)
            row[field] = _numeric(record[field], field, where, bounds.get(field))
        if "TotalCharges" in analysis.numeric and "TotalCharges" not in row:
            row["TotalCharges"] = row.get("tenure", 0.0) * row.get("MonthlyCharges", 0.0)
        for field in analysis.categorical:
            if field not in record:
                raise ScoreInputError(f"field '{field}' is missing", field, where)
            row[field] = _category(record[field], field, where, allowed[field])
        row["customer_id"] = _customer_id(record, index, where)
        rows.append(row)
    frame = pd.DataFrame(rows)
    for field in analysis.categorical:
        frame[field] = pd.Categorical(frame[field],
                                      categories=customers[field].cat.categories)
    return frame


def _finite(value, digits: int) -> float | None:
    """A rounded float for JSON, or None when it is not finite (JSON has no NaN)."""
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


def score_records(records, analysis: ChurnAnalysis,
                  catalogue: Catalogue | None = None) -> list[dict]:
    """Probability, tier, top reasons (probability points) and the best offer per record."""
    frame = validate_records(records, analysis)
    model = analysis.model
    proba = model.predict_proba(frame)
    shap, base = model.shap_values(frame)
    points = probability_points(shap, base)
    s = analysis.settings
    tiers = kpis.assign_tiers(proba, s.tier_high, s.tier_medium)
    monthly = frame["MonthlyCharges"].to_numpy() if "MonthlyCharges" in frame else \
        np.zeros(len(frame))
    tenure = frame["tenure"].to_numpy() if "tenure" in frame else np.zeros(len(frame))
    reference = float(analysis.customers["churn_probability"].mean())
    observed = float(analysis.customers["churn"].mean())
    clv = (survival_clv(analysis.survival, tenure, monthly, proba, margin=s.margin,
                        annual_discount=s.annual_discount, horizon_months=s.horizon_months,
                        reference_probability=reference)
           if analysis.survival is not None else np.full(len(frame), np.nan))
    offers = None
    if catalogue is not None:
        frame["monthly_charges"] = monthly
        offers = best_offers(model.predict_proba, frame, proba, clv, catalogue)
    results = []
    for i in range(len(frame)):
        order = np.argsort(-points[i])
        reasons = [{"feature": analysis.features[j],
                    "value": describe_value(analysis.features[j],
                                            frame[analysis.features[j]].iloc[i]),
                    "points": round(float(points[i, j]), 1)}
                   for j in order[:3] if points[i, j] > 0]
        result = {"customer_id": frame["customer_id"].iloc[i],
                  "churn_probability": round(float(proba[i]), 4), "risk_tier": str(tiers[i]),
                  # Two different numbers, each named for what it is: where the reasons start
                  # (the model's average score) and the share who left in the data.
                  "model_baseline": round(float(1 / (1 + math.exp(-float(base[i])))), 4),
                  "observed_churn_rate": round(observed, 4),
                  "clv": _finite(clv[i], 2), "reasons": reasons}
        if offers is not None:
            best = offers.iloc[i]
            result["best_offer"] = {"id": best["best_offer"], "name": best["best_name"],
                                    "churn_probability_with_offer": _finite(best["p1"], 4),
                                    "expected_profit": _finite(best["expected_profit"], 2),
                                    "model_implied": True}
        results.append(result)
    return results
