"""Out-of-time backtest for dated data: train on an earlier as-of date, test on a later window.

Cross-validation mixes customers from one period; a model in service scores the *next*
period. With begin/end dates we can check that honestly: split the churn window after the
as-of date T in two at T_mid. Train on customers active at T with features at T, labelled
by whether they left in [T, T_mid); test on customers still active at T_mid, features at
T_mid, labelled by whether they left in [T_mid, extraction]. Nothing from the test window
reaches training.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from analytics.dataset import CHURN, END_DATE, CustomerTable
from analytics.model import ChurnModel, metrics

MIN_ROWS = 200


def _months(start: pd.Timestamp, end: pd.Timestamp) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


def out_of_time_backtest(load: Callable[[str], CustomerTable], as_of: str, extraction: str,
                         threshold: float = 0.5, max_train_rows: int = 300_000,
                         random_state: int = 0) -> dict | None:
    """Metrics of a model trained on the first half of the churn window and tested on the
    second; None when the window is shorter than two months or either side is too small."""
    start, end = pd.Timestamp(as_of), pd.Timestamp(extraction)
    months = _months(start, end)
    if months < 2:
        return None
    middle = start + pd.DateOffset(months=months // 2)
    early, late = load(str(start.date())), load(str(middle.date()))
    train, test = early.training, late.training
    if END_DATE not in train.columns or len(train) < MIN_ROWS or len(test) < MIN_ROWS:
        return None
    y_train = ((train[CHURN] == 1) & (train[END_DATE] < middle)).to_numpy().astype(int)
    y_test = test[CHURN].to_numpy().astype(int)
    if y_train.min() == y_train.max() or y_test.min() == y_test.max():
        return None
    if len(train) > max_train_rows:
        keep = np.sort(np.random.default_rng(random_state).choice(len(train), max_train_rows,
                                                                   replace=False))
        train, y_train = train.iloc[keep], y_train[keep]
    model = ChurnModel(early.categorical, early.numeric, random_state=random_state)
    model.fit(train, y_train)
    proba = model.predict_proba(test)
    return {"train_as_of": str(start.date()), "train_window_end": str(middle.date()),
            "test_as_of": str(middle.date()), "test_window_end": str(end.date()),
            "train_rows": int(len(train)), "test_rows": int(len(test)),
            "train_churn_rate": float(y_train.mean()), "test_churn_rate": float(y_test.mean()),
            "metrics": metrics(y_test, proba, threshold)}


__all__ = ["out_of_time_backtest"]
