"""Score new customers given as plain records (the JSON API and, later, the form).

Every model feature must be given. Numbers must be numbers; categories must be ones the
model has seen: an unknown category is reported, never guessed. TotalCharges, when the data
has it and the record leaves it out, is tenure x MonthlyCharges.
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


class ScoreInputError(ValueError):
    """A record that cannot be scored; `field` names the offending field."""

    def __init__(self, message: str, field: str | None = None, index: int | None = None):
        where = f"customer {index}: " if index is not None else ""
        super().__init__(f"{where}{message}")
        self.field = field
        self.index = index


def _numeric(value, field: str, index: int | None) -> float:
    if isinstance(value, bool) or value is None or (isinstance(value, str) and not value.strip()):
        raise ScoreInputError(f"field '{field}' must be a number (got {value!r})", field, index)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ScoreInputError(f"field '{field}' must be a number (got {value!r})", field,
                              index) from None
    if not math.isfinite(number):
        raise ScoreInputError(f"field '{field}' must be a finite number (got {value!r})",
                              field, index)
    return number


def validate_records(records, analysis: ChurnAnalysis) -> pd.DataFrame:
    """Records (a dict or a list of dicts) as a feature frame the model accepts."""
    if isinstance(records, dict):
        records = [records]
    if not isinstance(records, list) or not records:
        raise ScoreInputError("send a JSON object (one customer) or a non-empty list of them")
    if len(records) > MAX_RECORDS:
        raise ScoreInputError(f"at most {MAX_RECORDS} customers per request "
                              f"(got {len(records)})")
    customers = analysis.customers
    # Numeric features never negative in the training data (tenure, charges...); the
    # reference sample keeps this check cheap.
    nonnegative = {f for f in analysis.numeric if not analysis.reference[f].min() < 0}
    rows = []
    for index, record in enumerate(records):
        where = index if len(records) > 1 else None
        if not isinstance(record, dict):
            raise ScoreInputError("each customer must be a JSON object", index=where)
        known = set(analysis.features) | {"customer_id", "customerID"}
        extra = sorted(set(record) - known)
        if extra:
            raise ScoreInputError(f"unknown field '{extra[0]}'; fields: "
                                  f"{', '.join(analysis.features)}", extra[0], where)
        row = {}
        for field in analysis.numeric:
            if field not in record and field == "TotalCharges":
                continue
            if field not in record:
                raise ScoreInputError(f"field '{field}' is missing", field, where)
            row[field] = _numeric(record[field], field, where)
            if field in nonnegative and row[field] < 0:
                raise ScoreInputError(f"field '{field}' cannot be negative (got "
                                      f"{record[field]!r}); the data has no negative values",
                                      field, where)
        if "TotalCharges" in analysis.numeric and "TotalCharges" not in row:
            row["TotalCharges"] = row.get("tenure", 0.0) * row.get("MonthlyCharges", 0.0)
        for field in analysis.categorical:
            if field not in record:
                raise ScoreInputError(f"field '{field}' is missing", field, where)
            value = str(record[field]).strip()
            allowed = [str(c) for c in customers[field].cat.categories]
            if value not in allowed:
                raise ScoreInputError(f"field '{field}': unknown category {value!r}; known: "
                                      f"{', '.join(allowed)}", field, where)
            row[field] = value
        row["customer_id"] = str(record.get("customer_id") or record.get("customerID")
                                 or f"new-{index + 1}")
        rows.append(row)
    frame = pd.DataFrame(rows)
    for field in analysis.categorical:
        frame[field] = pd.Categorical(frame[field],
                                      categories=customers[field].cat.categories)
    return frame


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
                  "clv": round(float(clv[i]), 2), "reasons": reasons}
        if offers is not None:
            best = offers.iloc[i]
            result["best_offer"] = {"id": best["best_offer"], "name": best["best_name"],
                                    "churn_probability_with_offer": round(float(best["p1"]), 4),
                                    "expected_profit": round(float(best["expected_profit"]), 2),
                                    "model_implied": True}
        results.append(result)
    return results
