"""Does behaviour add anything? The same model cross-validated with and without the
behavioural features, on the same rows and folds, compared out-of-fold.

The difference of ROC-AUC comes with a paired bootstrap interval (the same resampled rows
score both models), so data whose behaviour carries no signal gets "no measurable lift",
never a lift invented by noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.evaluation import rank_auc
from analytics.model import Progress, cross_validate

BOOTSTRAPS = 300


def paired_auc_difference(y: np.ndarray, with_: np.ndarray, without: np.ndarray,
                          n_boot: int = BOOTSTRAPS, random_state: int = 0) -> dict:
    """ROC-AUC of both score sets, their difference and its 95% paired bootstrap interval."""
    y = np.asarray(y).astype(int)
    a, b = rank_auc(y, with_), rank_auc(y, without)
    rng = np.random.default_rng(random_state)
    diffs = []
    n = len(y)
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        if y[idx].min() == y[idx].max():
            continue
        diffs.append(rank_auc(y[idx], with_[idx]) - rank_auc(y[idx], without[idx]))
    low, high = (np.percentile(diffs, [2.5, 97.5]) if diffs else (np.nan, np.nan))
    return {"auc_with": round(float(a), 4), "auc_without": round(float(b), 4),
            "lift": round(float(a - b), 4), "ci_low": round(float(low), 4),
            "ci_high": round(float(high), 4)}


def verdict(result: dict) -> str:
    """The check in plain words."""
    points = 100 * result["lift"]
    interval = f"95% interval {100 * result['ci_low']:+.1f} to {100 * result['ci_high']:+.1f}"
    if result["ci_low"] > 0:
        return (f"behaviour adds {points:.1f} points of out-of-fold ROC-AUC "
                f"({result['auc_without']:.3f} without it, {result['auc_with']:.3f} with it; "
                f"{interval})")
    return (f"no measurable lift from behaviour: out-of-fold ROC-AUC {result['auc_with']:.3f} "
            f"with it, {result['auc_without']:.3f} without ({points:+.1f} points, {interval})")


def behaviour_lift(frame: pd.DataFrame, y: np.ndarray, oof_with: np.ndarray,
                   categorical: list[str], numeric: list[str], behaviour: list[str], *,
                   n_splits: int, random_state: int, progress: Progress = lambda _m: None
                   ) -> dict | None:
    """The lift check, or None when the model uses no behavioural feature (or only them)."""
    used = [c for c in numeric if c in set(behaviour)]
    rest_num = [c for c in numeric if c not in set(behaviour)]
    if not used or not (categorical or rest_num):
        return None
    progress("behaviour check: the model without behaviour")
    cv = cross_validate(frame, y, categorical, rest_num, n_splits=n_splits,
                        random_state=random_state, baselines=())
    result = paired_auc_difference(y, oof_with, cv.oof["catboost"], random_state=random_state)
    result.update(n_rows=int(len(y)), behaviour_features=len(used))
    result["verdict"] = verdict(result)
    return result
