"""The numpy engine of analytics/data/behaviour.py: per-customer aggregates of one canonical
table from np.bincount on customer x age bucket (no sort) and ufunc.at for extremes and last
values. analytics/data/behaviour_sql.py makes the same aggregates with DuckDB."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.data.behaviour import (BUCKETS, DAY_NS, HOUR_NS, KIND_GRID, NAT, NEGATIVE,
                                      _div, _ns)
from analytics.data.events import (CHANGE, CLOSED, CUSTOMER, END, ESCALATED, FIRST_RESPONSE,
                                   KIND, MRR, PLAN, RESOLUTION, SATISFACTION, SEATS,
                                   SENTIMENT, TIME, EventTable)

def _ufunc_at(ufunc, n: int, c: np.ndarray, values: np.ndarray, fill) -> np.ndarray:
    out = np.full(n, fill, dtype=values.dtype)
    ufunc.at(out, c, values)
    return out


def _sum_n(c, hit, x, n) -> tuple[np.ndarray, np.ndarray]:
    """Per customer, the sum of `x` and the number of rows among the rows `hit`."""
    return np.bincount(c[hit], x[hit], n), np.bincount(c[hit], None, n)


def _last_mean(c, when, values, ok, n) -> np.ndarray:
    """Per customer, the mean of `values` at its latest `when` among rows `ok` (ties mean)."""
    latest = _ufunc_at(np.maximum, n, c, np.where(ok, when, NAT), NAT)
    return _div(*_sum_n(c, ok & (when == latest[c]), values, n))


def _float(values: pd.Series, nan_as_zero: bool = False) -> np.ndarray:
    """float64 values; with `nan_as_zero` a copy with NaN as 0 (SQL's SUM skips NULL)."""
    x = values.to_numpy(dtype=np.float64, copy=nan_as_zero)
    if nan_as_zero:
        x[np.isnan(x)] = 0.0
    return x


def _codes(values: pd.Series) -> np.ndarray:
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy().astype(np.int64)
    return pd.factorize(values)[0].astype(np.int64)


def aggregate_numpy(table: EventTable, n: int, a: int) -> dict[str, np.ndarray]:
    """The per-customer aggregates of one table (the names _features reads)."""
    f, raw = table.frame, {}
    c, t = f[CUSTOMER].to_numpy(), _ns(f[TIME])          # c: int32 positions, no copy
    b = sum(((t < a - d * DAY_NS).view(np.int8) for d in (7, 30, 60, 90)),
            start=np.zeros(len(t), np.int8))
    b[(t >= a) | (t == NAT)] = 5
    valid = b < 5
    if table.role != "history" or SENTIMENT in f:
        key = np.multiply(c, 6, dtype=np.intp)
        key += b

        def buckets(prefix, weights=None, rows=slice(None), upto=4):
            grid = np.bincount(key[rows], weights, 6 * n).reshape(n, 6)
            return {f"{prefix}_{name}": grid[:, i] for i, name in enumerate(BUCKETS[:upto])}
        raw |= buckets("n", upto=5)
        for j, m in enumerate(table.measures):
            raw |= buckets(f"m{j}", _float(f[m], nan_as_zero=True))
        last = _ufunc_at(np.maximum, n, c, np.where(valid, t, NAT), NAT)
        top = np.iinfo(np.int64).max
        first = _ufunc_at(np.minimum, n, c, np.where(valid, t, top), top)
        raw["last_days"] = np.where(last == NAT, np.nan, (a - last) / DAY_NS)
        raw["first_days"] = np.where(last == NAT, np.nan, (a - first) / DAY_NS)
        if KIND in f:
            codes = _codes(f[KIND])
            hit, k = (b < 4) & (codes >= 0), int(codes.max(initial=0)) + 1
            if n * k <= KIND_GRID:
                seen = np.zeros(n * k, dtype=bool)
                seen[c[hit].astype(np.intp) * k + codes[hit]] = True
                raw["kinds90"] = seen.reshape(n, k).sum(axis=1)
            else:
                pairs = np.unique(c[hit].astype(np.int64) * k + codes[hit])
                raw["kinds90"] = np.bincount(pairs // k, minlength=n)
        if SENTIMENT in f:
            s = _float(f[SENTIMENT])
            ok = valid & ~np.isnan(s)
            raw |= buckets("s_sum", np.where(ok, s, 0.0)) | buckets("s_n", None, ok)
            low = _ufunc_at(np.minimum, n, c, np.where(ok & (b < 4), s, np.inf), np.inf)
            raw["s_min90"] = np.where(np.isinf(low), np.nan, low)
            raw["s_neg30"] = np.bincount(c[ok & (b < 2) & (s <= NEGATIVE)], None, n)
            raw["s_last"] = _last_mean(c, t, s, ok, n)
    if table.role == "tickets":
        raw |= _tickets_numpy(f, c, t, b, n, a)
    if table.role == "history":
        raw |= _history_numpy(f, c, t, valid, n, a)
    return raw


def _tickets_numpy(f, c, t, b, n, a) -> dict[str, np.ndarray]:
    raw, valid, in90 = {}, b < 5, b < 4
    if CLOSED in f:
        closed = _ns(f[CLOSED])
        known = valid & (closed != NAT) & (closed < a)
        raw["open"] = np.bincount(c[valid & ~known], None, n)
        for key, column in (("res", RESOLUTION), ("sat", SATISFACTION)):
            if column in f:
                x = _float(f[column])
                raw[f"{key}_sum"], raw[f"{key}_n"] = _sum_n(
                    c, known & (closed >= a - 90 * DAY_NS) & ~np.isnan(x), x, n)
                if key == "sat":
                    raw["sat_last"] = _last_mean(c, closed, x, known & ~np.isnan(x), n)
    if FIRST_RESPONSE in f:
        x = _float(f[FIRST_RESPONSE])
        raw["fr_sum"], raw["fr_n"] = _sum_n(c, in90 & ~np.isnan(x) & ((a - t) > x * HOUR_NS),
                                            x, n)
    if ESCALATED in f:
        raw["esc90"] = _sum_n(c, in90, _float(f[ESCALATED], nan_as_zero=True), n)[0]
    return raw


def _history_numpy(f, c, t, valid, n, a) -> dict[str, np.ndarray]:
    a90 = a - 90 * DAY_NS
    end = _ns(f[END]) if END in f else np.full(len(t), NAT)
    now = valid & ((end == NAT) | (end >= a))
    raw, recent = {"active": np.bincount(c[now], None, n)}, valid & (t >= a90)
    for key, column in (("mrr", MRR), ("seats", SEATS)):
        if column in f:
            x = _float(f[column], nan_as_zero=True)
            raw[f"{key}_now"] = _sum_n(c, now, x, n)[0]
    if MRR in f:
        then = valid & (t < a90) & ((end == NAT) | (end >= a90))
        raw["mrr_then"] = _sum_n(c, then, _float(f[MRR], nan_as_zero=True), n)[0]
    if CHANGE in f:
        x = f[CHANGE].to_numpy()
        for key, hit in (("up", valid & (x > 0)), ("down", valid & (x < 0))):
            raw[f"{key}_all"], raw[f"{key}90"] = (np.bincount(c[h], None, n)
                                                  for h in (hit, hit & recent))
    if PLAN in f:     # rows by customer, start, plan (missing last); only who has a recent row
        codes, touched = _codes(f[PLAN]), np.zeros(n, dtype=bool)
        touched[c[recent]] = True
        rows = np.flatnonzero(valid & touched[c])
        rows = rows[np.lexsort((np.where(codes[rows] < 0, np.iinfo(np.int64).max,
                                         codes[rows]), t[rows], c[rows]))]
        cs, ps = c[rows], codes[rows]
        switched = np.zeros(len(rows), bool)
        switched[1:] = (cs[1:] == cs[:-1]) & (ps[1:] != ps[:-1]) & (ps[1:] >= 0) & (ps[:-1] >= 0)
        raw["plan90"] = np.bincount(cs[switched & recent[rows]], None, n)
    return raw
