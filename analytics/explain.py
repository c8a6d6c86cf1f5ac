"""Reasons: SHAP values turned into per-customer top reasons in plain language.

CatBoost's SHAP values are additive in log-odds: base + sum(values) = raw score. For reading
they are shown in probability points, each feature's share of (p - p_base) in proportion to
its log-odds contribution, so the points also add up to the prediction.
"""

from __future__ import annotations

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


def describe_value(feature: str, value) -> str:
    """'Contract: Month-to-month', 'tenure: 2', 'MonthlyCharges: 99.65'."""
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return f"{feature}: missing"
        text = f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"
        return f"{feature}: {text}"
    return f"{feature}: {value}"


def reason_columns(frame: pd.DataFrame, features: list[str], indices: np.ndarray,
                   points: np.ndarray) -> pd.DataFrame:
    """Vectorised 'reason_1..k' text columns for a whole table (exports, CLI)."""
    columns = {}
    rows = np.arange(len(frame))
    for slot in range(indices.shape[1]):
        idx = indices[:, slot]
        text = np.full(len(frame), "", dtype=object)
        for j, feature in enumerate(features):
            mask = idx == j
            if not mask.any():
                continue
            values = frame[feature].to_numpy()[mask]
            pts = points[rows[mask], j]
            text[mask] = [f"{describe_value(feature, v)} ({p:+.0f} pts)"
                          for v, p in zip(values, pts)]
        columns[f"reason_{slot + 1}"] = text
    return pd.DataFrame(columns, index=frame.index)
