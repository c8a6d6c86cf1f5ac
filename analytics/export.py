"""Tables for people: the scored list with reasons, safe to open in a spreadsheet."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.dataset import ID
from analytics.explain import probability_points, reason_columns
from analytics.pipeline import PROBABILITY, REASON_COLUMNS, TIER, ChurnAnalysis

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """Prefix a cell a spreadsheet would run as a formula with an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Every text column made formula-safe (numbers are left as numbers)."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or isinstance(out[column].dtype, pd.CategoricalDtype) \
                or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].astype(object).map(neutralise)
    return out


def scored_table(analysis: ChurnAnalysis, rows: np.ndarray | None = None) -> pd.DataFrame:
    """id, churn_probability, risk_tier and the top three reasons for the chosen rows."""
    customers = analysis.customers if rows is None else analysis.customers.iloc[rows]
    shap = analysis.shap_values if rows is None else analysis.shap_values[rows]
    points = probability_points(shap, analysis.shap_base)
    indices = customers[list(REASON_COLUMNS)].to_numpy()
    reasons = reason_columns(customers, analysis.features, indices, points)
    table = pd.DataFrame({
        "customer_id": customers[ID].to_numpy(),
        "churn_probability": customers[PROBABILITY].to_numpy().round(4),
        "risk_tier": customers[TIER].astype(str).to_numpy(),
    })
    for column in reasons.columns:
        table[column] = reasons[column].to_numpy()
    return table
