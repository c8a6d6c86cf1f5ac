"""Behavioural customer segments: KMeans on a few scaled behaviour features (see
`behaviour_matrix`), named from each segment's profile by fixed rules, never by cluster number.

Fitting: seeded KMeans (n_init=4) for each k on at most `sample_size` customers (a seeded
sample when there are more; all are then assigned with `predict`); silhouette on a seeded
sample of at most `silhouette_sample` fitted rows, inertia on the fitted rows; the best
silhouette wins (ties: smaller k). Segment 0 is the largest. Under 20 customers or under 2
distinct profiles: one segment, "All customers". Outliers: farther from the centroid than the
`outlier_quantile` quantile of distances within the segment; flagged, never dropped.

Naming: see analytics/segment_names.py (the rules and their thresholds).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from analytics import kpis
from analytics.dataset import ACTIVE, CHURN, META_COLUMNS, MONTHLY, TENURE
# The naming rules' thresholds are re-exported for the tests and readers of this module.
from analytics.segment_names import (FEATURE_LABELS, HIGH_RISK, LOW_RISK,  # noqa: F401
                                     SERVICES, STABLE_RISK, _fmt, _name_segments)

SERVICE_COLUMNS = ("PhoneService", "MultipleLines", "OnlineSecurity", "OnlineBackup",
                   "DeviceProtection", "TechSupport", "StreamingTV", "StreamingMovies")
CONTRACT_LENGTH = {"month-to-month": 0.0, "one year": 1.0, "two year": 2.0}
YES = frozenset({"yes", "y", "true", "1", "1.0"})
MIN_CUSTOMERS = 20
N_INIT = 4
SINGLE_NAME = "All customers"
# Units of the distinguishing items: "months", "money" (a month), "count" or "" (plain).
NUMERIC_LABELS = {TENURE: ("Tenure", "months"), MONTHLY: ("Monthly charges", "money"),
                  SERVICES: ("Services", "count")}
# Not source features: the canonical columns and what `pipeline.analyse` adds (scores, the
# segment itself); also any column starting with "reason_idx".
SKIP_COLUMNS = (*META_COLUMNS, "churn_probability", "risk_tier", "clv", "tenure_band",
                "segment", "segment_outlier")
MAX_CATEGORIES = 30
TOP_DISTINGUISHING = 5


@dataclass
class Segmentation:
    """Segment per customer, business names and the evidence for the chosen k."""

    labels: np.ndarray            # int16 segment index per customer (0..k-1)
    names: list[str]              # business name per segment index, unique
    rules: list[str]              # per segment index: the rule that gave the name, in words
    outlier: np.ndarray           # bool per customer: far from its segment's centroid
    k: int
    silhouette: dict[int, float]  # k -> silhouette score (computed on a sample)
    inertia: dict[int, float]     # k -> inertia (for the elbow chart)
    features: list[str]           # behavioural features used, in the order of the space
    sampled: bool                 # whether KMeans was fitted on a sample
    outlier_quantile: float = 0.99  # distance quantile within a segment beyond which: outlier


def _map_values(series: pd.Series, fn) -> np.ndarray:
    """fn of each distinct value's lower-cased text, once per value; missing -> NaN."""
    codes, uniques = _codes(series, sort=False)
    return np.array([fn(str(u).strip().lower()) for u in uniques] + [np.nan], float)[codes]


def _codes(series: pd.Series, sort: bool = True) -> tuple[np.ndarray, list]:
    """Integer code per row (-1 when missing) and the distinct values."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.to_numpy().astype(np.intp), list(series.cat.categories)
    codes, uniques = pd.factorize(series, sort=sort)
    return codes.astype(np.intp), list(uniques)


def _raw_behaviour(frame: pd.DataFrame, extra: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Unscaled behavioural features (may hold NaN), only those the frame supports: tenure
    and monthly revenue (when the data has them), the telecom service features (when the
    columns exist), then `extra` numeric columns (the top numeric drivers of other data)."""
    out = {}
    for column in (TENURE, MONTHLY):
        values = frame[column].to_numpy(dtype=float)
        if np.isfinite(values).any():
            out[column] = values
    has = frame.columns
    flags = [(c, lambda v: v in YES) for c in SERVICE_COLUMNS if c in has]
    flags += [("InternetService", lambda v: v != "no")] if "InternetService" in has else []
    if flags:  # a missing value counts as no service
        out[SERVICES] = sum(np.nan_to_num(_map_values(frame[c], fn)) for c, fn in flags)
    if "Contract" in has:
        length = _map_values(frame["Contract"], lambda v: CONTRACT_LENGTH.get(v, np.nan))
        if np.isfinite(length).any():
            out["contract_length"] = length
    if "PaymentMethod" in has:
        out["auto_payment"] = np.nan_to_num(
            _map_values(frame["PaymentMethod"], lambda v: "(automatic)" in v))
    if "PaperlessBilling" in has:
        out["paperless_billing"] = np.nan_to_num(
            _map_values(frame["PaperlessBilling"], lambda v: v in YES))
    for column in extra:
        if column in has and column not in out:
            values = frame[column].to_numpy(dtype=float)
            if np.isfinite(values).any() and np.nanstd(values) > 0:
                # Counts and relative changes are long-tailed: a few extreme customers
                # would take the whole scale, so the tails are clipped (1st-99th pct).
                low, high = np.nanpercentile(values, [1, 99])
                out[column] = np.clip(values, low, high) if high > low else values
    return out


TURN_FEATURE = re.compile(r"_(change_30d|trend|negative_30d|sentiment_change|"
                          r"sentiment_mean_90d|satisfaction_mean_90d)$")


def extra_features(frame: pd.DataFrame, ranked: list[str], exclude=(), n: int = 3,
                   behaviour=(), n_behaviour: int = 0) -> tuple[str, ...]:
    """The top numeric drivers to segment on beside tenure and revenue, for data without the
    telecom service features (whose segments keep their own features; with `n_behaviour`,
    also that many behavioural features of how customers turned: off by default, since on
    the telecom demo one such feature takes the silhouette to K=2). Other data segments on
    its top numeric drivers, behavioural ones included."""
    # Segments read behaviour by how it turned (usage falling, tickets souring): levels and
    # rates per month are long-tailed and split customers by tenure instead.
    behaviour = {c for c in behaviour if TURN_FEATURE.search(str(c))}
    if any(c in frame.columns for c in (*SERVICE_COLUMNS, "Contract")):
        return tuple([c for c in ranked if c in behaviour and c in frame.columns
                      and c not in exclude][:n_behaviour])
    out = []
    for column in ranked:
        if column in exclude or column not in frame.columns:
            continue
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            out.append(column)
        if len(out) == n:
            break
    return tuple(out)


def _scale(raw: dict[str, np.ndarray], n: int) -> np.ndarray:
    matrix = np.zeros((n, len(raw)), dtype=np.float64)
    for j, values in enumerate(raw.values() if n else ()):
        ok = np.isfinite(values)
        col = np.where(ok, values, float(np.median(values[ok])) if ok.any() else 0.0)
        sd = col.std()
        matrix[:, j] = (col - col.mean()) / sd if sd > 0 else 0.0
    return matrix.astype(np.float32)


def behaviour_matrix(frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Scaled behavioural features: tenure_months, monthly_charges, number of services
    (count of 'Yes' among PhoneService, MultipleLines, OnlineSecurity, OnlineBackup,
    DeviceProtection, TechSupport, StreamingTV, StreamingMovies + internet != 'No'),
    contract length (Month-to-month 0, One year 1, Two year 2), automatic payment (0/1),
    paperless billing (0/1); only those the frame has. Standard-scaled. float32."""
    raw = _raw_behaviour(frame)
    return _scale(raw, len(frame)), list(raw)


def _group_mean(values, labels: np.ndarray, k: int) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    ok = np.isfinite(values)
    sums = np.bincount(labels[ok], weights=values[ok], minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / np.bincount(labels[ok], minlength=k)


def _standardized(values, labels: np.ndarray, k: int):
    """Segment means, overall mean, and (segment mean - overall) / overall sd (None if sd 0)."""
    values = np.asarray(values, dtype=float)
    ok = np.isfinite(values)
    mean, sd = (values[ok].mean(), values[ok].std()) if ok.any() else (math.nan, 0.0)
    means = _group_mean(values, labels, k)
    return means, mean, ((means - mean) / sd if sd > 0 else None)


def _nanmean(values) -> float:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else math.nan


def _check_length(values, n: int, what: str) -> np.ndarray:
    values = np.asarray(values, dtype=float).ravel()
    if len(values) != n:
        raise ValueError(f"{what} has {len(values)} values for {n} customers")
    return values


def _silhouette(distances: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette, as sklearn's, from the silhouette sample's distance matrix (computed
    once for every k; then one matrix product per k, 5x faster than sklearn's own)."""
    present, labels = np.unique(labels, return_inverse=True)
    n, rows = len(labels), np.arange(len(labels))
    if not 2 <= len(present) <= n - 1:
        return math.nan
    onehot = np.zeros((n, len(present)), dtype=distances.dtype)
    onehot[rows, labels] = 1
    to = (distances @ onehot).astype(np.float64)  # each point's total distance to each cluster
    counts = np.bincount(labels).astype(np.float64)
    own = counts[labels]
    a = to[rows, labels] / np.maximum(own - 1, 1)
    to /= counts
    to[rows, labels] = np.inf
    b = to.min(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(own > 1, (b - a) / np.maximum(a, b), 0.0)
    return float(np.nan_to_num(score).mean())


def _outliers(X: np.ndarray, labels: np.ndarray, centres: np.ndarray, q: float) -> np.ndarray:
    dist = np.sqrt(((X.astype(np.float64) - centres[labels]) ** 2).sum(axis=1))
    out = np.zeros(len(X), dtype=bool)
    for s in range(len(centres)):
        mask = labels == s
        if mask.any():
            out[mask] = dist[mask] > np.quantile(dist[mask], q)
    return out


def segment_customers(frame: pd.DataFrame, probability: np.ndarray, *, k_range=range(2, 11),
                      random_state: int = 0, sample_size: int = 20_000,
                      silhouette_sample: int = 5_000,
                      outlier_quantile: float = 0.99,
                      extra: tuple[str, ...] = ()) -> Segmentation:
    """Behavioural segments with the k of best silhouette, named by the documented rules."""
    from sklearn.cluster import KMeans  # scikit-learn: training only
    from sklearn.metrics.pairwise import euclidean_distances
    n = len(frame)
    p = _check_length(probability, n, "probability")
    raw = _raw_behaviour(frame, extra)
    if not raw:  # neither tenure, revenue nor a numeric driver: segment on risk alone
        raw = {"risk": p.astype(float)}
    X, features = _scale(raw, n), list(raw)
    rng = np.random.default_rng(random_state)
    sampled = n > sample_size
    X_fit = X[np.sort(rng.choice(n, sample_size, replace=False))] if sampled else X
    distinct = len(np.unique(X_fit, axis=0)) if n else 0
    ks = sorted({int(k) for k in k_range if 2 <= k <= min(distinct, len(X_fit) - 1)})
    if n < MIN_CUSTOMERS or not ks:
        why = (f"only {n} customers (fewer than {MIN_CUSTOMERS})" if n < MIN_CUSTOMERS
               else f"{distinct} distinct behaviour profile(s); nothing to split")
        labels = np.zeros(n, dtype=np.int16)
        centre = X.mean(axis=0, keepdims=True) if n else np.zeros((1, X.shape[1]))
        return Segmentation(labels=labels, names=[SINGLE_NAME], rules=[f"one segment: {why}"],
                            outlier=_outliers(X, labels, centre, outlier_quantile), k=1,
                            silhouette={}, inertia={}, features=features, sampled=sampled,
                            outlier_quantile=outlier_quantile)

    n_sil = min(silhouette_sample, len(X_fit))
    sil_idx = (np.sort(rng.choice(len(X_fit), n_sil, replace=False)) if n_sil < len(X_fit)
               else np.arange(len(X_fit)))
    distances = euclidean_distances(X_fit[sil_idx])
    silhouette, inertia, models = {}, {}, {}
    # One OpenMP thread: the same result on any machine, and on this 2-core box KMeans runs
    # ~10x faster than with OpenMP fighting OpenBLAS for the cores.
    with threadpool_limits(1, user_api="openmp"):
        for k in ks:
            models[k] = KMeans(n_clusters=k, n_init=N_INIT, random_state=random_state).fit(X_fit)
            inertia[k] = float(models[k].inertia_)
            silhouette[k] = _silhouette(distances, models[k].labels_[sil_idx])
        best_k = max(ks, key=lambda k: (np.nan_to_num(silhouette[k], nan=-np.inf), -k))
        raw_labels = models[best_k].predict(X) if sampled else models[best_k].labels_
    sizes = np.bincount(raw_labels, minlength=best_k)
    order = np.lexsort((np.arange(best_k), -sizes))  # largest first; ties by KMeans index
    remap = np.empty(best_k, dtype=np.intp)
    remap[order] = np.arange(best_k)
    labels = remap[raw_labels].astype(np.int16)
    centres = models[best_k].cluster_centers_[order].astype(np.float64)

    # Without revenue the first numeric driver takes the place of the spend words.
    second = MONTHLY if MONTHLY in raw else next((c for c in extra if c in raw), None)
    keys = {"risk": p, "monthly": raw.get(second) if second else None,
            "tenure": raw.get(TENURE), SERVICES: raw.get(SERVICES)}
    means = {key: _group_mean(v, labels, best_k) for key, v in keys.items() if v is not None}
    overall = {key: _nanmean(v) for key, v in keys.items() if v is not None}
    cuts = {key: tuple(np.nanquantile(raw[col], [1 / 3, 2 / 3]))
            for key, col in (("tenure", TENURE), ("monthly", second)) if col in raw}
    z = {f: _standardized(values, labels, best_k)[2] for f, values in raw.items()}
    names, rules = _name_segments(means, overall, cuts,
                                  {f: v for f, v in z.items() if v is not None},
                                  spend_column=second if second != MONTHLY else None)
    return Segmentation(labels=labels, names=names, rules=rules,
                        outlier=_outliers(X, labels, centres, outlier_quantile), k=best_k,
                        silhouette=silhouette, inertia=inertia, features=features,
                        sampled=sampled, outlier_quantile=outlier_quantile)


def humanise(column: str) -> str:
    """A column name in words: 'PaymentMethod' -> 'Payment method', 'num_tickets' ->
    'Num tickets'."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|[_\s]+", " ", str(column)).split()
    text = " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words)
    return text[:1].upper() + text[1:]


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """np.allclose (NaN equal to NaN), on the first rows before all of them: most columns
    differ there (1M rows x 70 columns: 8 s of full comparisons otherwise)."""
    head = min(len(a), 1024)
    return (np.allclose(a[:head], b[:head], equal_nan=True)
            and np.allclose(a, b, equal_nan=True))


def _distinguishing(frame: pd.DataFrame, labels: np.ndarray, k: int,
                    services: np.ndarray | None) -> list[list[dict]]:
    """Up to TOP_DISTINGUISHING facts per segment, the most distinguishing first, by
    standardized difference: numeric (segment mean - mean) / sd; categorical, the category of
    largest share lift, (share - overall) / sqrt(overall (1 - overall)). Categories with equal
    shares in every segment (the same customers, e.g. "No internet service" in each add-on)
    count once. Each fact is a JSON-safe dict: feature (the column), label (in words), kind
    ("category": share of customers with `category`; "share": a 0/1 column's share of 1s;
    "mean"), category, value (the segment's), overall, unit ("months", "money" a month,
    "count" or "")."""
    found: list[list[tuple[float, object, dict]]] = [[] for _ in range(k)]
    numeric = {TENURE: frame[TENURE].to_numpy(dtype=float),
               MONTHLY: frame[MONTHLY].to_numpy(dtype=float)}
    if services is not None:
        numeric[SERVICES] = services
    for column in frame.columns:
        series = frame[column]
        if column in SKIP_COLUMNS or str(column).startswith("reason_idx"):
            continue
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            values = series.to_numpy(dtype=float)  # skip copies such as tenure / MonthlyCharges
            if not any(_same(values, v) for v in numeric.values()):
                numeric[column] = values
            continue
        codes, cats = _codes(series)
        valid = codes >= 0
        if not 2 <= len(cats) <= MAX_CATEGORIES or not valid.any():
            continue
        table = np.bincount(labels[valid] * len(cats) + codes[valid],
                            minlength=k * len(cats)).reshape(k, len(cats)).astype(float)
        whole = table.sum(axis=0) / table.sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            share = table / table.sum(axis=1, keepdims=True)
        for s in range(k):
            lift = np.nan_to_num(share[s] - whole, nan=-1.0)
            j = int(np.argmax(lift))
            if lift[j] > 0 and 0 < whole[j] < 1:
                fact = {"feature": str(column), "label": humanise(column), "kind": "category",
                        "category": str(cats[j]), "value": float(share[s, j]),
                        "overall": float(whole[j]), "unit": ""}
                key = tuple(np.round(share[:, j], 4)) + (round(whole[j], 4),)
                found[s].append((lift[j] / math.sqrt(whole[j] * (1 - whole[j])), key, fact))
    for column, values in numeric.items():
        means, mean, z = _standardized(values, labels, k)
        if z is None:
            continue
        binary = bool(np.isin(values[np.isfinite(values)], (0.0, 1.0)).all())
        label, unit = NUMERIC_LABELS.get(column, (humanise(column), ""))
        for s in np.flatnonzero(np.isfinite(z)):
            fact = {"feature": str(column), "label": label,
                    "kind": "share" if binary else "mean", "category": None,
                    "value": float(means[s]), "overall": float(mean), "unit": unit}
            found[s].append((abs(z[s]), None, fact))
    out = []
    for items in found:
        chosen, seen = [], set()
        for _score, key, fact in sorted(items, key=lambda c: -c[0]):
            if key is None or key not in seen:
                seen.add(key)
                chosen.append(fact)
        out.append(chosen[:TOP_DISTINGUISHING])
    return out


def segment_profiles(frame: pd.DataFrame, seg: Segmentation, probability: np.ndarray,
                     clv: np.ndarray) -> pd.DataFrame:
    """One row per segment (ordered by index): size, churn with 95% Wilson bounds, revenue
    and CLV of the active customers (a churner's CLV may be NaN: it is ignored), risk,
    tenure, services, outliers and what sets it apart (`distinguishing`: the facts of
    `_distinguishing`, most distinguishing first)."""
    n = len(frame)
    p = _check_length(probability, n, "probability")
    value = _check_length(clv, n, "clv")
    labels = np.asarray(seg.labels).astype(np.intp)
    if len(labels) != n:
        raise ValueError(f"the segmentation has {len(labels)} labels for {n} customers")
    churn, monthly, tenure = (frame[c].to_numpy(dtype=float) for c in (CHURN, MONTHLY, TENURE))
    active = frame[ACTIVE].to_numpy(dtype=bool)
    services = _raw_behaviour(frame).get(SERVICES)
    apart = _distinguishing(frame, labels, seg.k, services)
    rows = []
    for s in range(seg.k):
        mask = labels == s
        size = int(mask.sum())
        lo, hi = kpis.wilson_interval(int(churn[mask].sum()), size)
        kept = mask & active
        row = {"segment": s, "name": seg.names[s], "size": size,
               "share": size / n if n else math.nan,
               "churn_rate": kpis.churn_rate(churn[mask]), "churn_lo": lo, "churn_hi": hi,
               "arpu": kpis.arpu(monthly[mask], active[mask]), "clv": _nanmean(value[kept]),
               "monthly_revenue": float(monthly[kept].sum()),
               "revenue_at_risk": kpis.revenue_at_risk(p[mask], monthly[mask], active[mask]),
               "mean_risk": _nanmean(p[mask]), "mean_tenure": _nanmean(tenure[mask])}
        if services is not None:
            row["mean_services"] = _nanmean(services[mask])
        row["outliers"] = int(np.asarray(seg.outlier)[mask].sum())
        row["distinguishing"] = apart[s]
        rows.append(row)
    return pd.DataFrame(rows)
