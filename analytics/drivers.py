"""The churn drivers of a dataset: which columns the filters and the Overview charts use, and
how a column's customers fall into groups.

`driver_columns` picks the columns: the config's pinned drivers, else the features the model
leans on most (mean |SHAP|), leaving out the tenure column (it has its own slider and band
chart) and categoricals with too many values to read as bars. `driver_groups` puts every
customer in a group of one column: a categorical by its value, a numeric in up to four
quantile bands with round edges ("< 650", "650–720", "720–780", "≥ 780": "650–720" runs from
650 up to, not including, 720; a band of one whole number is named by it), or by its value
when it has only a few ("0", "1").
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

MAX_LEVELS = 30    # a categorical with more values than this is no bar chart
BANDS = 4          # quantile bands of a numeric driver (fewer when values repeat)
FEW_VALUES = 6     # a numeric with at most this many distinct values is grouped by value
MISSING = "Missing"
SAME = 0.95        # numeric drivers correlated beyond this say the same thing: one is shown
SAMPLE_ROWS = 20_000
_NICE = (1.0, 2.0, 5.0)


def driver_columns(analysis, k: int = 3) -> list[str]:
    """The columns the global filters and the Overview drivers use, most telling first.

    The config's pinned drivers that are features (in the config's order); else the k
    features with the largest mean |SHAP|, without the tenure column, high-cardinality
    categoricals (more than MAX_LEVELS values), columns with a single value and numbers that
    repeat a driver already chosen (|correlation| above SAME: minutes and their charge)."""
    config = getattr(analysis, "config", None)
    features = list(analysis.features)
    pinned = [c for c in dict.fromkeys(getattr(config, "drivers", ()) or ()) if c in features]
    if pinned:
        return _with_behaviour(analysis, pinned[:k], k)
    tenure = getattr(config, "tenure_column", None)
    customers = analysis.customers
    numeric = set(getattr(analysis, "numeric", ()))
    rows = slice(None, None, max(1, len(customers) // SAMPLE_ROWS))
    chosen: list[str] = []
    for feature in analysis.importance():
        if len(chosen) >= k:
            break
        if feature == tenure or feature not in customers.columns:
            continue
        if not _varies(customers[feature]) or (
                feature in analysis.categorical
                and customers[feature].nunique(dropna=True) > MAX_LEVELS):
            continue
        if feature in numeric and any(_same(customers, feature, other, rows)
                                      for other in chosen if other in numeric):
            continue
        chosen.append(feature)
    return chosen


def _with_behaviour(analysis, pinned: list[str], k: int) -> list[str]:
    """Pinned drivers, with the last slot given to the behavioural feature the model leans
    on most when it matters more than the weakest pinned one (churn by usage trend band)."""
    meta = analysis.feature_meta() if hasattr(analysis, "feature_meta") else {}
    if not meta or not pinned:
        return pinned
    importance = analysis.importance()
    customers = analysis.customers
    best = next((f for f in importance if f in meta and f in customers.columns
                 and _varies(customers[f])), None)
    if best is None:
        return pinned
    weakest = min(pinned, key=lambda c: importance.get(c, 0.0))
    if importance[best] <= importance.get(weakest, 0.0):
        return pinned
    if len(pinned) < k:
        return [*pinned, best]
    return [c for c in pinned if c != weakest] + [best]


def _varies(series: pd.Series) -> bool:
    """At least two distinct known values (a numeric column by its extremes: at 1,000,000
    rows a few ms against nunique's 13 ms, for each of 35 behaviour features at start)."""
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.to_numpy(dtype=float, na_value=np.nan)
        known = values[~np.isnan(values)]
        return known.size > 1 and bool(known.min() < known.max())
    return series.nunique(dropna=True) >= 2


def driver_groups(series: pd.Series) -> pd.Categorical:
    """Each row's group: a categorical as is (its categories in their order), a numeric by
    value when it has at most FEW_VALUES distinct values, else in quantile bands with round
    edges; missing numbers form a 'Missing' group (missing categories stay missing)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return pd.Categorical(series)
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return pd.Categorical(series.map(lambda v: None if pd.isna(v) else str(v)))
    values = series.to_numpy(dtype=float, na_value=np.nan)
    known = np.isfinite(values)
    finite = values[known]
    if finite.size == 0:
        return _with_missing(np.full(len(values), -1), [], known)
    distinct = np.unique(finite)
    integer = bool(np.all(finite == np.round(finite)))
    if len(distinct) <= FEW_VALUES:
        labels = [_plain(v, integer) for v in distinct]
        if len(set(labels)) == len(labels):
            codes = np.searchsorted(distinct, np.where(known, values, distinct[0]))
            return _with_missing(codes, labels, known)
    edges, decimals = band_edges(finite, integer)
    codes = np.searchsorted(np.asarray(edges, dtype=float), np.where(known, values, 0.0),
                            side="right")
    labels = band_labels(edges, decimals, (float(distinct[0]), float(distinct[-1]))
                         if integer else None)
    return _with_missing(codes, labels, known)


def band_edges(values: np.ndarray, integer: bool) -> tuple[list[float], int]:
    """(inner edges, decimals to show) of up to BANDS quantile bands of finite `values`.

    Band i holds edges[i-1] <= x < edges[i]. Edges are the quartiles rounded to a step of 1,
    2 or 5 x 10^k no larger than a quarter of the closest two quartiles' gap (whole numbers
    for whole-number data), so rounding never merges two bands. A quartile at the minimum
    (a repeated smallest value) moves to just above it, so that value gets its own band; a
    band left empty by rounding is merged into its neighbour."""
    values = np.asarray(values, dtype=float)
    lo, hi = float(values.min()), float(values.max())
    raw = sorted(set(np.quantile(values, [i / BANDS for i in range(1, BANDS)]).tolist()))
    above = values[values > lo]
    floor_edge = None   # the edge that separates a repeated minimum from the rest
    if raw and raw[0] <= lo and above.size:
        floor_edge = lo + 1 if integer else float(above.min())
        raw = [floor_edge] + [e for e in raw if e > floor_edge]
    raw = [e for e in raw if lo < e <= hi]
    if not raw:
        return [], 0
    gaps = np.diff(raw) if len(raw) > 1 else np.array([hi - lo])
    step = _nice_floor(float(gaps.min()) / 4) if gaps.min() > 0 else 1.0
    if integer:
        step = max(step, 1.0)
    decimals = 0 if step >= 1 else int(math.ceil(-math.log10(step) - 1e-9))
    edges = []
    for e in raw:
        if integer and e == floor_edge:
            r = e
        else:
            r = step * math.floor(e / step + 0.5)
            if r <= lo:
                r = step * math.ceil(e / step)
            if r > hi:
                r = step * math.floor(hi / step)
        r = round(r, decimals)
        if lo < r <= hi and (not edges or r > edges[-1]):
            edges.append(r)
    # Merge bands that rounding left empty (data with gaps).
    while edges:
        counts = np.bincount(np.searchsorted(edges, values, side="right"),
                             minlength=len(edges) + 1)
        empty = np.flatnonzero(counts == 0)
        if not empty.size:
            break
        i = int(empty[0])
        del edges[min(i, len(edges) - 1)]
    return edges, decimals


def band_labels(edges: list[float], decimals: int,
                whole: tuple[float, float] | None = None) -> list[str]:
    """'< 650', '650–720', ..., '≥ 780' for inner edges (one label, 'All', without any).

    With `whole` = (smallest, largest) of whole-number data, a band that holds a single
    number is named by it: '0', '1', '≥ 2' rather than '< 1', '1–2', '≥ 2'."""
    if not edges:
        return ["All"]
    shown = [_number(e, decimals) for e in edges]
    lo, hi = whole if whole is not None else (None, None)
    labels = [_number(lo, 0) if lo is not None and edges[0] - lo == 1 else f"< {shown[0]}"]
    for a, b, ta, tb in zip(edges, edges[1:], shown, shown[1:]):
        if whole is not None and b - a == 1:
            labels.append(ta)
        else:
            labels.append(f"{ta} to {tb}" if a < 0 or b < 0 else f"{ta}–{tb}")
    labels.append(shown[-1] if hi is not None and edges[-1] == hi else f"≥ {shown[-1]}")
    return labels


def _same(frame: pd.DataFrame, a: str, b: str, rows: slice) -> bool:
    """Whether two numeric columns move together (|Pearson r| > SAME on a sample)."""
    x = frame[a].to_numpy(dtype=float, na_value=np.nan)[rows]
    y = frame[b].to_numpy(dtype=float, na_value=np.nan)[rows]
    known = np.isfinite(x) & np.isfinite(y)
    x, y = x[known], y[known]
    if len(x) < 3 or x.std() == 0 or y.std() == 0:
        return False
    return abs(float(np.corrcoef(x, y)[0, 1])) > SAME


def _with_missing(codes: np.ndarray, labels: list[str], known: np.ndarray) -> pd.Categorical:
    codes = np.asarray(codes, dtype=np.int64)
    if not known.all():
        codes = np.where(known, codes, len(labels))
        labels = [*labels, MISSING]
    dtype = np.int8 if len(labels) < 127 else np.int16
    return pd.Categorical.from_codes(codes.astype(dtype), categories=labels)


def _nice_floor(x: float) -> float:
    """The largest 1, 2 or 5 x 10^k not above x (x > 0)."""
    power = 10.0 ** math.floor(math.log10(x))
    best = power
    for m in _NICE:
        if m * power <= x * (1 + 1e-9):
            best = m * power
    return best


def _number(value: float, decimals: int) -> str:
    text = f"{value:,.{decimals}f}"
    return text[1:] if text.startswith("-") and text.strip("-0.,") == "" else text


def _plain(value: float, integer: bool) -> str:
    """A value as a group name: '1', '2.5', '1,250' (no trailing zeros)."""
    if integer:
        return _number(value, 0)
    text = f"{value:,.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
