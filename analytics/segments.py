"""Behavioural customer segments: KMeans on a few scaled behaviour features, with business
names derived from each segment's profile by fixed rules (never hand-labelled cluster ids).

Space (`behaviour_matrix`), only the features the frame has, in this order:
tenure_months; monthly_charges; services (count of "Yes" among PhoneService, MultipleLines,
OnlineSecurity, OnlineBackup, DeviceProtection, TechSupport, StreamingTV, StreamingMovies,
plus 1 when InternetService is not "No"); contract_length (Month-to-month 0, One year 1,
Two year 2); auto_payment (PaymentMethod contains "(automatic)"); paperless_billing (0/1).
Missing values take the column median; every column is standard-scaled; float32.

Fitting (`segment_customers`): KMeans (n_init=4, seeded) for each k of `k_range` on at most
`sample_size` customers (a seeded random sample when there are more; everyone is then
assigned with `predict`). The silhouette of each k is computed on one seeded sample of at
most `silhouette_sample` of the fitted rows, inertia on the fitted rows; the k with the best
silhouette wins (ties: the smaller k). Segment indices are ordered by size (0 = largest).
Fewer than 20 customers, or fewer than 2 distinct behaviour profiles: one segment named
"All customers". Outliers: customers farther from their segment's centroid than the
`outlier_quantile` quantile of distances within that segment; flagged, never dropped.

Naming rules, applied in this order. Each rule picks, among the segments not yet named, the
one with the most extreme segment mean and names it only when that mean passes the threshold
relative to the overall (customer-weighted) mean:
  1. "At-Risk"         highest mean churn probability   >= 1.25x overall
  2. "High-Value"      highest mean monthly charges     >= 1.15x overall
  3. "Loyal"           longest mean tenure              >= 1.3x overall
  4. "New"             shortest mean tenure             <= 0.6x overall
  5. "Low-Engagement"  fewest services (if available)   <= 0.75x overall
Every other segment is called "<tenure word> <spend word>": "Recent" / "Steady" /
"Established" and "Low-Spend" / "Mid-Spend" / "High-Spend" by the third of the customers'
distribution (tertiles over all customers) that the segment's mean tenure and mean monthly
charges fall in. When several segments get the same such name, each gets a qualifier in
brackets from the other behaviour feature where its mean differs most from the overall mean
in standard deviations (services "Few-Services"/"Many-Services", contract "Monthly-Contract"/
"Long-Contract", payment "Manual-Pay"/"Auto-Pay", billing "Paper-Billed"/"Paperless"), e.g.
"Steady Mid-Spend (Paperless)". A name still taken gets " 2", " 3", ... appended.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from analytics import kpis
from analytics.dataset import ACTIVE, CHURN, ID, MONTHLY, TENURE

SERVICE_COLUMNS = ("PhoneService", "MultipleLines", "OnlineSecurity", "OnlineBackup",
                   "DeviceProtection", "TechSupport", "StreamingTV", "StreamingMovies")
INTERNET = "InternetService"
CONTRACT = "Contract"
PAYMENT = "PaymentMethod"
PAPERLESS = "PaperlessBilling"
SERVICES = "services"
CONTRACT_LENGTH = {"month-to-month": 0.0, "one year": 1.0, "two year": 2.0}
YES = frozenset({"yes", "y", "true", "1", "1.0"})
MIN_CUSTOMERS = 20
N_INIT = 4
SINGLE_NAME = "All customers"
# (name, profile key, direction, ratio to the overall mean, what is compared)
NAME_RULES = (
    ("At-Risk", "risk", "max", 1.25, "highest mean churn probability"),
    ("High-Value", "monthly", "max", 1.15, "highest mean monthly charges"),
    ("Loyal", "tenure", "max", 1.3, "longest mean tenure"),
    ("New", "tenure", "min", 0.6, "shortest mean tenure"),
    ("Low-Engagement", "services", "min", 0.75, "fewest services"),
)
TENURE_WORDS = ("Recent", "Steady", "Established")
SPEND_WORDS = ("Low-Spend", "Mid-Spend", "High-Spend")
THIRDS = ("lower", "middle", "upper")
# Qualifier words (below / above the overall mean) that tell apart same-named segments.
QUALIFIERS = {SERVICES: ("Few-Services", "Many-Services"),
              "contract_length": ("Monthly-Contract", "Long-Contract"),
              "auto_payment": ("Manual-Pay", "Auto-Pay"),
              "paperless_billing": ("Paper-Billed", "Paperless")}
NUMERIC_LABELS = {TENURE: ("tenure", " months"), MONTHLY: ("monthly charges", ""),
                  SERVICES: ("services", "")}
MAX_CATEGORIES = 30
TOP_DISTINGUISHING = 3


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


# ---- behaviour space -------------------------------------------------------------------

def _norm(value) -> str:
    return str(value).strip().lower()


def _map_values(series: pd.Series, fn) -> np.ndarray:
    """fn applied once per distinct value (fast on category columns); missing -> NaN."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes, uniques = series.cat.codes.to_numpy(), list(series.cat.categories)
    else:
        codes, uniques = pd.factorize(series)
    table = np.array([fn(u) for u in uniques] + [np.nan], dtype=float)
    return table[codes]  # code -1 (missing) picks the trailing NaN


def _raw_behaviour(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Unscaled behavioural features (may hold NaN), only those the frame supports."""
    out = {TENURE: frame[TENURE].to_numpy(dtype=float),
           MONTHLY: frame[MONTHLY].to_numpy(dtype=float)}
    present = [c for c in SERVICE_COLUMNS if c in frame.columns]
    if present or INTERNET in frame.columns:
        count = np.zeros(len(frame))
        for column in present:
            count += np.nan_to_num(_map_values(frame[column], lambda v: float(_norm(v) in YES)))
        if INTERNET in frame.columns:
            count += np.nan_to_num(_map_values(frame[INTERNET], lambda v: float(_norm(v) != "no")))
        out[SERVICES] = count
    if CONTRACT in frame.columns:
        length = _map_values(frame[CONTRACT], lambda v: CONTRACT_LENGTH.get(_norm(v), np.nan))
        if np.isfinite(length).any():
            out["contract_length"] = length
    if PAYMENT in frame.columns:
        out["auto_payment"] = np.nan_to_num(
            _map_values(frame[PAYMENT], lambda v: float("(automatic)" in _norm(v))))
    if PAPERLESS in frame.columns:
        out["paperless_billing"] = np.nan_to_num(
            _map_values(frame[PAPERLESS], lambda v: float(_norm(v) in YES)))
    return out


def _scale(raw: dict[str, np.ndarray], n: int) -> np.ndarray:
    matrix = np.zeros((n, len(raw)), dtype=np.float64)
    for j, values in enumerate(raw.values()):
        if n == 0:
            break
        ok = np.isfinite(values)
        fill = float(np.median(values[ok])) if ok.any() else 0.0
        col = np.where(ok, values, fill)
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


# ---- clustering ------------------------------------------------------------------------

def _group_mean(values: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    ok = np.isfinite(values)
    sums = np.bincount(labels[ok], weights=values[ok], minlength=k)
    counts = np.bincount(labels[ok], minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def _nanmean(values) -> float:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else math.nan


def _outliers(X: np.ndarray, labels: np.ndarray, centres: np.ndarray, q: float) -> np.ndarray:
    dist = np.sqrt(((X.astype(np.float64) - centres[labels]) ** 2).sum(axis=1))
    out = np.zeros(len(X), dtype=bool)
    for s in range(len(centres)):
        mask = labels == s
        if mask.any():
            out[mask] = dist[mask] > np.quantile(dist[mask], q)
    return out


def _fmt(value: float) -> str:
    if not np.isfinite(value):
        return "n/a"
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.0f}"
    return f"{value:.1f}" if size >= 1 else f"{value:.2f}"


def _third(value: float, cuts: tuple[float, float]) -> int:
    if not np.isfinite(value) or cuts[0] < value <= cuts[1]:
        return 1
    return 0 if value <= cuts[0] else 2


def _qualifier(z: dict[str, np.ndarray], s: int) -> tuple[str, str]:
    """The word for the behaviour feature where segment s stands out most, and why."""
    usable = [f for f in z if f in QUALIFIERS and np.isfinite(z[f][s])]
    if not usable:
        return "", ""
    feature = max(usable, key=lambda f: abs(z[f][s]))
    word = QUALIFIERS[feature][int(z[feature][s] > 0)]
    return word, f"; qualifier {word}: {feature} {z[feature][s]:+.1f} sd from the overall mean"


def _name_segments(means: dict[str, np.ndarray], overall: dict[str, float],
                   cuts: dict[str, tuple[float, float]],
                   z: dict[str, np.ndarray] | None = None) -> tuple[list[str], list[str]]:
    """Names and the rule behind each, from per-segment means (see the module docstring)."""
    k = len(means["tenure"])
    names: list[str | None] = [None] * k
    rules: list[str] = [""] * k
    for name, key, direction, ratio, phrase in NAME_RULES:
        if key not in means:
            continue
        values, base = means[key], overall[key]
        free = [s for s in range(k) if names[s] is None and np.isfinite(values[s])]
        if not free or not np.isfinite(base) or base <= 0:
            continue
        pick = (max if direction == "max" else min)(free, key=lambda s: values[s])
        value = values[pick]
        passes = (value >= ratio * base and value > base if direction == "max"
                  else value <= ratio * base and value < base)
        if passes:
            names[pick] = name
            sign = ">=" if direction == "max" else "<="
            rules[pick] = (f"{phrase}: {_fmt(value)} = {value / base:.2f}x the overall "
                           f"{_fmt(base)} (named when {sign} {ratio}x)")
    descriptive = [s for s in range(k) if names[s] is None]
    for s in descriptive:
        t, m = means["tenure"][s], means["monthly"][s]
        ti, mi = _third(t, cuts["tenure"]), _third(m, cuts["monthly"])
        names[s] = f"{TENURE_WORDS[ti]} {SPEND_WORDS[mi]}"
        rules[s] = (f"no priority rule applied; mean tenure {_fmt(t)} months is in the "
                    f"{THIRDS[ti]} third of customers (tertiles {_fmt(cuts['tenure'][0])} "
                    f"and {_fmt(cuts['tenure'][1])}), mean monthly charges {_fmt(m)} in "
                    f"the {THIRDS[mi]} third ({_fmt(cuts['monthly'][0])} and "
                    f"{_fmt(cuts['monthly'][1])})")
    shared = [s for s in descriptive if sum(names[o] == names[s] for o in descriptive) > 1]
    for s in shared if z else []:
        word, why = _qualifier(z, s)
        if word:
            names[s], rules[s] = f"{names[s]} ({word})", rules[s] + why
    used: set[str] = set()
    for s in range(k):
        base_name, suffix = names[s], 2
        while names[s] in used:
            names[s] = f"{base_name} {suffix}"
            suffix += 1
        used.add(names[s])
    return list(names), rules


def _zscores(raw: dict[str, np.ndarray], labels: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """(segment mean - overall mean) / overall sd of each qualifier feature."""
    z = {}
    for feature in QUALIFIERS:
        if feature in raw:
            values = raw[feature]
            ok = np.isfinite(values)
            sd = values[ok].std() if ok.any() else 0.0
            if sd > 0:
                z[feature] = (_group_mean(values, labels, k) - values[ok].mean()) / sd
    return z


def _tertiles(values: np.ndarray) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    if not values.size:
        return (math.nan, math.nan)
    low, high = np.quantile(values, [1 / 3, 2 / 3])
    return (float(low), float(high))


def _check_length(values, n: int, what: str) -> np.ndarray:
    values = np.asarray(values, dtype=float).ravel()
    if len(values) != n:
        raise ValueError(f"{what} has {len(values)} values for {n} customers")
    return values


def segment_customers(frame: pd.DataFrame, probability: np.ndarray, *, k_range=range(2, 11),
                      random_state: int = 0, sample_size: int = 20_000,
                      silhouette_sample: int = 5_000,
                      outlier_quantile: float = 0.99) -> Segmentation:
    """Behavioural segments with the k of best silhouette, named by the documented rules."""
    n = len(frame)
    p = _check_length(probability, n, "probability")
    raw = _raw_behaviour(frame)
    X, features = _scale(raw, n), list(raw)
    rng = np.random.default_rng(random_state)
    sampled = n > sample_size
    fit_idx = np.sort(rng.choice(n, sample_size, replace=False)) if sampled else np.arange(n)
    X_fit = X[fit_idx]
    distinct = len(np.unique(X_fit, axis=0)) if n else 0
    ks = sorted({int(k) for k in k_range if 2 <= k <= min(distinct, len(X_fit) - 1)})
    if n < MIN_CUSTOMERS or not ks:
        why = (f"only {n} customers (fewer than {MIN_CUSTOMERS})" if n < MIN_CUSTOMERS
               else f"{distinct} distinct behaviour profile(s); nothing to split")
        labels = np.zeros(n, dtype=np.int16)
        centre = X.mean(axis=0, keepdims=True) if n else np.zeros((1, X.shape[1]), np.float32)
        return Segmentation(labels=labels, names=[SINGLE_NAME], rules=[f"one segment: {why}"],
                            outlier=_outliers(X, labels, centre, outlier_quantile), k=1,
                            silhouette={}, inertia={}, features=features, sampled=sampled)

    n_sil = min(silhouette_sample, len(X_fit))
    sil_idx = (np.sort(rng.choice(len(X_fit), n_sil, replace=False)) if n_sil < len(X_fit)
               else np.arange(len(X_fit)))
    silhouette: dict[int, float] = {}
    inertia: dict[int, float] = {}
    best_k, best_score, best_model = ks[0], -math.inf, None
    for k in ks:
        model = KMeans(n_clusters=k, n_init=N_INIT, random_state=random_state).fit(X_fit)
        inertia[k] = float(model.inertia_)
        sub = model.labels_[sil_idx]
        n_labels = len(np.unique(sub))
        silhouette[k] = (float(silhouette_score(X_fit[sil_idx], sub))
                         if 2 <= n_labels <= n_sil - 1 else math.nan)
        if best_model is None or silhouette[k] > best_score:
            best_k, best_model = k, model
            best_score = silhouette[k] if np.isfinite(silhouette[k]) else -math.inf

    raw_labels = best_model.predict(X) if sampled else best_model.labels_
    sizes = np.bincount(raw_labels, minlength=best_k)
    order = np.lexsort((np.arange(best_k), -sizes))  # largest first; ties by KMeans index
    remap = np.empty(best_k, dtype=np.intp)
    remap[order] = np.arange(best_k)
    labels = remap[raw_labels].astype(np.int16)
    centres = best_model.cluster_centers_[order].astype(np.float64)

    means = {"risk": _group_mean(p, labels, best_k),
             "monthly": _group_mean(raw[MONTHLY], labels, best_k),
             "tenure": _group_mean(raw[TENURE], labels, best_k)}
    overall = {"risk": _nanmean(p), "monthly": _nanmean(raw[MONTHLY]),
               "tenure": _nanmean(raw[TENURE])}
    if SERVICES in raw:
        means["services"] = _group_mean(raw[SERVICES], labels, best_k)
        overall["services"] = _nanmean(raw[SERVICES])
    cuts = {"tenure": _tertiles(raw[TENURE]), "monthly": _tertiles(raw[MONTHLY])}
    names, rules = _name_segments(means, overall, cuts, _zscores(raw, labels, best_k))
    return Segmentation(labels=labels, names=names, rules=rules,
                        outlier=_outliers(X, labels, centres, outlier_quantile), k=best_k,
                        silhouette=silhouette, inertia=inertia, features=features,
                        sampled=sampled)


# ---- profiles --------------------------------------------------------------------------

def _codes(series: pd.Series) -> tuple[np.ndarray, list]:
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.to_numpy().astype(np.intp), list(series.cat.categories)
    codes, uniques = pd.factorize(series, sort=True)
    return codes.astype(np.intp), list(uniques)


def _distinguishing(frame: pd.DataFrame, labels: np.ndarray, k: int,
                    services: np.ndarray | None) -> list[list[str]]:
    """Up to 3 phrases per segment, ranked by standardized difference from the whole base.

    Numeric: (segment mean - overall mean) / overall sd. Categorical: the category with the
    largest share lift, scored (share - overall) / sqrt(overall (1 - overall)), the same
    standardized difference for its indicator. Identical share pairs (the same customers, e.g.
    "No internet service" across the add-ons) are reported once."""
    candidates: list[list[tuple[float, object, str]]] = [[] for _ in range(k)]
    numeric = {TENURE: frame[TENURE].to_numpy(dtype=float),
               MONTHLY: frame[MONTHLY].to_numpy(dtype=float)}
    if services is not None:
        numeric[SERVICES] = services
    for column in frame.columns:
        if column in (ID, CHURN, ACTIVE, TENURE, MONTHLY):
            continue
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            values = series.to_numpy(dtype=float)
            if not any(np.allclose(values, v, equal_nan=True) for v in numeric.values()):
                numeric[column] = values
            continue
        codes, cats = _codes(series)
        if not 2 <= len(cats) <= MAX_CATEGORIES:
            continue
        valid = codes >= 0
        table = np.bincount(labels[valid] * len(cats) + codes[valid],
                            minlength=k * len(cats)).reshape(k, len(cats)).astype(float)
        if table.sum() == 0:
            continue
        whole = table.sum(axis=0) / table.sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            share = table / table.sum(axis=1, keepdims=True)
        for s in range(k):
            lift = np.nan_to_num(share[s] - whole, nan=-1.0)
            j = int(np.argmax(lift))
            if lift[j] <= 0 or not 0 < whole[j] < 1:
                continue
            score = lift[j] / math.sqrt(whole[j] * (1 - whole[j]))
            candidates[s].append((score, (round(share[s, j], 4), round(whole[j], 4)),
                                  f"{column}: {cats[j]} {share[s, j]:.0%} vs {whole[j]:.0%} "
                                  "overall"))
    for column, values in numeric.items():
        ok = np.isfinite(values)
        if not ok.any():
            continue
        mean, sd = values[ok].mean(), values[ok].std()
        if sd == 0:
            continue
        seg_means = _group_mean(values, labels, k)
        binary = bool(np.isin(values[ok], (0.0, 1.0)).all())
        label, unit = NUMERIC_LABELS.get(column, (column, ""))
        for s in range(k):
            if not np.isfinite(seg_means[s]):
                continue
            text = (f"{label} {seg_means[s]:.0%} vs {mean:.0%} overall" if binary
                    else f"{label} {_fmt(seg_means[s])} vs {_fmt(mean)}{unit}")
            candidates[s].append((abs(seg_means[s] - mean) / sd, None, text))
    out = []
    for cands in candidates:
        chosen, seen = [], set()
        for _score, key, text in sorted(cands, key=lambda c: -c[0]):
            if key is not None and key in seen:
                continue
            seen.add(key)
            chosen.append(text)
            if len(chosen) == TOP_DISTINGUISHING:
                break
        out.append(chosen)
    return out


def segment_profiles(frame: pd.DataFrame, seg: Segmentation, probability: np.ndarray,
                     clv: np.ndarray) -> pd.DataFrame:
    """One row per segment (ordered by index): size, churn with 95% Wilson bounds, revenue
    of the active customers, risk, tenure, services, outliers and what sets it apart."""
    n = len(frame)
    p = _check_length(probability, n, "probability")
    value = _check_length(clv, n, "clv")
    labels = np.asarray(seg.labels).astype(np.intp)
    if len(labels) != n:
        raise ValueError(f"the segmentation has {len(labels)} labels for {n} customers")
    churn = frame[CHURN].to_numpy(dtype=float)
    active = frame[ACTIVE].to_numpy(dtype=bool)
    monthly = frame[MONTHLY].to_numpy(dtype=float)
    tenure = frame[TENURE].to_numpy(dtype=float)
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
               "arpu": kpis.arpu(monthly[mask], active[mask]),
               "clv": _nanmean(value[kept]),
               "monthly_revenue": float(monthly[kept].sum()),
               "revenue_at_risk": kpis.revenue_at_risk(p[mask], monthly[mask], active[mask]),
               "mean_risk": _nanmean(p[mask]), "mean_tenure": _nanmean(tenure[mask])}
        if services is not None:
            row["mean_services"] = _nanmean(services[mask])
        row["outliers"] = int(np.asarray(seg.outlier)[mask].sum())
        row["distinguishing"] = apart[s]
        rows.append(row)
    return pd.DataFrame(rows)
