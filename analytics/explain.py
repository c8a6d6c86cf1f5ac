"""Reasons: SHAP values turned into per-customer top reasons in plain language.

CatBoost's SHAP values are additive in log-odds: base + sum(values) = raw score. For reading
they are shown in probability points, each feature's share of (p - p_base) in proportion to
its log-odds contribution, so the points also add up to the prediction.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def probability_points(shap: np.ndarray, base: float) -> np.ndarray:
    """Each feature's contribution in probability points (rows add up to p - p_base)."""
    total = shap.sum(axis=1, dtype=np.float64)
    delta = sigmoid(base + total) - sigmoid(base)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(np.abs(total) > 1e-12, delta / total, 0.0)
    return (shap * scale[:, None] * 100.0).astype(np.float32)


def top_reason_indices(shap: np.ndarray, k: int = 3) -> np.ndarray:
    """Indices of the k features that push each customer's risk up most (-1 when fewer push up)."""
    k = min(k, shap.shape[1])
    order = np.argsort(-shap, axis=1)[:, :k]
    picked = np.take_along_axis(shap, order, axis=1)
    return np.where(picked > 0, order, -1).astype(np.int16)


REASON_SLOTS = 3   # reason_1..3 of a list, an export, the API


def reason_indices(shap: np.ndarray) -> np.ndarray:
    """`top_reason_indices` in REASON_SLOTS columns: -1 in the slots beyond the features (a
    file with only tenure and charges has two)."""
    top = top_reason_indices(shap, k=REASON_SLOTS)
    if top.shape[1] == REASON_SLOTS:
        return top
    return np.hstack([top, np.full((len(top), REASON_SLOTS - top.shape[1]), -1, np.int16)])


# Plain-language names of the Telco-style features; other columns fall back to their name.
FEATURE_LABELS = {
    "gender": "Gender", "SeniorCitizen": "Senior citizen", "Partner": "Partner",
    "Dependents": "Dependents", "tenure": "Tenure", "PhoneService": "Phone service",
    "MultipleLines": "Multiple lines", "InternetService": "Internet service",
    "OnlineSecurity": "Online security", "OnlineBackup": "Online backup",
    "DeviceProtection": "Device protection", "TechSupport": "Tech support",
    "StreamingTV": "Streaming TV", "StreamingMovies": "Streaming movies",
    "Contract": "Contract", "PaperlessBilling": "Paperless billing",
    "PaymentMethod": "Payment method", "MonthlyCharges": "Monthly charges",
    "TotalCharges": "Total charges to date",
}
ADD_ONS = ("OnlineSecurity", "OnlineBackup", "DeviceProtection", "TechSupport", "StreamingTV",
           "StreamingMovies")


def feature_label(feature: str, meta: dict | None = None) -> str:
    """'TechSupport' -> 'Tech support'; unknown names are split at capitals and underscores.
    Behavioural features take their label from `meta` (analytics/data/behaviour.py)."""
    if meta and feature in meta:
        return meta[feature].label
    if feature in FEATURE_LABELS:
        return FEATURE_LABELS[feature]
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", feature.replace("_", " ")).split()
    return " ".join([words[0]] + [w.lower() if not w.isupper() else w for w in words[1:]]) \
        if words else feature


def _number(value) -> str:
    value = float(value)
    return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"


def describe_value(feature: str, value, meta: dict | None = None) -> str:
    """A feature and its value as a reader would say it: 'Month-to-month contract',
    'No tech support', 'Pays by electronic check', 'Tenure 2 months', '3 negative tickets
    in 30 days' (behavioural features, through `meta`)."""
    if meta and feature in meta:
        return meta[feature].describe(value)
    if value is None or (isinstance(value, float | np.floating) and np.isnan(value)):
        return f"{feature_label(feature)}: missing"
    text = str(value)
    if feature == "Contract":
        return f"{text} contract"
    if feature == "PaymentMethod":
        return f"Pays by {text[:1].lower()}{text[1:]}"
    if feature == "PaperlessBilling" and text in ("Yes", "No"):
        return "Paperless billing" if text == "Yes" else "Paper bill"
    if feature == "InternetService":
        return "No internet service" if text == "No" else f"{text} internet"
    if feature in ADD_ONS or feature in ("Partner", "Dependents", "PhoneService"):
        label = feature_label(feature).lower()
        if text == "Yes":
            return f"Has {'a partner' if feature == 'Partner' else label}"
        if text == "No":
            return f"No {label}"
        return f"No {label} ({text[:1].lower()}{text[1:]})"
    if feature == "MultipleLines":
        return {"Yes": "Multiple phone lines", "No": "A single phone line"}.get(text, text)
    if feature == "SeniorCitizen" and text in ("0", "1", "0.0", "1.0", "True", "False"):
        return "Senior citizen" if text in ("1", "1.0", "True") else "Not a senior citizen"
    if feature == "tenure" and isinstance(value, int | float | np.integer | np.floating):
        months = float(value)
        return f"Tenure {_number(months)} month{'' if months == 1 else 's'}"
    if isinstance(value, int | float | np.integer | np.floating):
        return f"{feature_label(feature)} {_number(value)}"
    if text in ("Yes", "No"):  # any yes/no column: 'Has international plan', 'No voice mail'
        label = feature_label(feature)
        label = label[:1].lower() + label[1:]
        return f"Has {label}" if text == "Yes" else f"No {label}"
    return f"{feature_label(feature)}: {text}"


def reason_columns(frame: pd.DataFrame, features: list[str], indices: np.ndarray,
                   points: np.ndarray, meta: dict | None = None) -> pd.DataFrame:
    """Vectorised 'reason_1..k' text columns for a whole table (exports, CLI)."""
    columns = {}
    values: dict[str, np.ndarray] = {}  # each feature's cells, converted once
    for slot in range(indices.shape[1]):
        idx = indices[:, slot]
        text = np.full(len(frame), "", dtype=object)
        for j, feature in enumerate(features):
            mask = idx == j
            if not mask.any():
                continue
            if feature not in values:
                values[feature] = frame[feature].to_numpy()
            described = _described(feature, values[feature][mask], meta)
            text[mask] = [f"{d}: {p:+.0f} pts" for d, p in zip(described, points[mask, j])]
        columns[f"reason_{slot + 1}"] = text
    return pd.DataFrame(columns, index=frame.index)


def _described(feature: str, values: np.ndarray, meta: dict | None) -> np.ndarray:
    """`describe_value` of each cell, computed once per distinct value (a million reasons
    repeat a few thousand values)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    table = np.array([describe_value(feature, v, meta) for v in uniques]
                     + [describe_value(feature, np.nan, meta)], dtype=object)
    return table[codes]
