"""The SHAP matrix of a large table, first for a sample, then the rest after serving.

At 1,000,000 customers the full matrix takes ~28 s (CatBoost's SHAP is linear in rows and
trees: ~30 us a row at 600 trees on this machine). What a page needs before the first
customer's reasons is the mean |SHAP| per feature (the importance, and the drivers the
segments are built on): `analyse` reads it from a seeded sample of SAMPLE_ROWS customers
and serves. The other rows are explained by `PendingShap.run` (the runner does it in a
thread); reading `analysis.shap_values` or `analysis.shap_base` waits for them, while
`shap_rows` explains a few rows (a grid block, a customer's page) on their own meanwhile.

A row's SHAP values do not depend on the rows explained with it, so the matrix is the same
as one computed at once (a test compares them), and a cold start serves the same values,
reasons and importance as a warm one. Tables of up to SAMPLE_ROWS rows are explained whole,
before serving, as before.
"""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd

from analytics.dataset import SCORED_BY

SAMPLE_ROWS = 100_000
# Up to this many rows (a grid block, a customer) are explained on their own while the
# matrix is pending: ~10 ms for 100 rows, against waiting ~30 s for the whole matrix.
DIRECT_ROWS = 5_000


def first_rows(n: int, random_state: int) -> np.ndarray | None:
    """The rows explained before serving (sorted), or None: all of them."""
    if n <= SAMPLE_ROWS:
        return None
    rng = np.random.default_rng(random_state)
    return np.sort(rng.choice(n, SAMPLE_ROWS, replace=False))


class PendingShap:
    """The SHAP rows of the sample, and the rest once `run` has explained them. Shared by the
    served analysis and its shallow copies (the cache write's, the offers'): each takes the
    finished matrix into its own attributes on first read (`resolve`)."""

    def __init__(self, first: np.ndarray, values: np.ndarray, base: np.ndarray) -> None:
        self.first, self.first_values, self.first_base = first, values, base
        self.values: np.ndarray | None = None
        self.base: np.ndarray | None = None
        self.error: str | None = None
        self.done = threading.Event()

    def run(self, model, frame: pd.DataFrame, progress=lambda _m: None) -> None:
        """Explain every row of `frame` (the scored table, each row by the model that scored
        it) not in the sample; sets `done` whatever happens, `error` when it failed."""
        try:
            n = len(frame)
            rest = np.setdiff1d(np.arange(n), self.first, assume_unique=True)
            values = np.empty((n, self.first_values.shape[1]), dtype=np.float32)
            base = np.empty(n, dtype=np.float32)
            values[self.first], base[self.first] = self.first_values, self.first_base
            values[rest], base[rest] = model.shap_values(_model_rows(model, frame, rest))
            self.values, self.base = values, base
            progress(f"SHAP reasons of all {n:,} customers ready")
        except Exception as exc:  # noqa: BLE001 - the scores stay served; readers are told
            self.error = f"{type(exc).__name__}: {exc}"
            progress(f"SHAP reasons not computed: {self.error}")
        finally:
            self.first_values = self.first_base = None   # held by the matrix, or freed
            self.done.set()

    def resolve(self, analysis) -> None:
        """Wait for `run`, then keep the matrix in `analysis` (and forget this)."""
        self.done.wait()
        if self.error is not None:
            raise RuntimeError(f"the customers' SHAP reasons could not be computed "
                               f"({self.error}); restart the app to compute them again")
        analysis.__dict__["shap_values"] = self.values
        analysis.__dict__["shap_base"] = self.base
        analysis.__dict__.pop("_explaining", None)


def waiting_attribute(name: str) -> property:
    """An attribute of the analysis (`shap_values`, `shap_base`) that waits for a pending
    explanation."""
    def get(analysis):
        pending = analysis.__dict__.get("_explaining")
        if pending is not None:
            pending.resolve(analysis)
        if name in analysis.__dict__:
            return analysis.__dict__[name]
        return analysis.__getattr__(name)   # a spilled matrix, read from the cache on first use

    def put(analysis, value) -> None:
        analysis.__dict__[name] = value

    return property(get, put, doc=f"`{name}`: waits while the rest of the rows are explained")


def shap_rows(analysis, rows) -> tuple[np.ndarray, np.ndarray]:
    """(SHAP values, base values) of the analysis' `rows` (positions): read from the matrix,
    or, while a large table's matrix is still being explained, computed for these rows
    alone when they are few (each by the model that scored it: the values the matrix will
    hold)."""
    rows = np.asarray(rows, dtype=np.int64)
    pending = analysis.__dict__.get("_explaining")
    if pending is not None and not pending.done.is_set() and len(rows) <= DIRECT_ROWS:
        model = analysis.model
        return model.shap_values(_model_rows(model, analysis.customers, rows))
    return analysis.shap_values[rows], analysis.shap_base[rows]


def _model_rows(model, frame: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """`rows` of what the model reads: its features and, when present, which model scored
    each row (a take per column: `frame.iloc[rows]` copies every column)."""
    columns = [*model.categorical, *model.numeric, *([SCORED_BY] if SCORED_BY in frame else [])]
    return pd.DataFrame({c: frame[c].array.take(rows) for c in columns})
