"""Behavioural customer segments: KMeans on a few scaled behaviour features (see
`behaviour_matrix`), named from each segment's profile by fixed rules, never by cluster number.

Fitting: seeded KMeans (n_init=4) for each k on at most `sample_size` customers (a seeded
sample when there are more; all are then assigned with `predict`); silhouette on a seeded
sample of at most `silhouette_sample` fitted rows, inertia on the fitted rows; the best
silhouette wins (ties: smaller k). Segment 0 is the largest. Under 20 customers or under 2
distinct profiles: one segment, "All customers". Outliers: farther from the centroid than the
`outlier_quantile` quantile of distances within the segment; flagged, never dropped.

Naming. A name never contradicts the segment's numbers and never repeats another with a
bracket or a number. r = the segment's mean churn probability / the overall (customer-
weighted) mean. Thresholds are module constants.
  Risk word: "High-Risk" when r >= 1.25 (HIGH_RISK), "Low-Risk" when r <= 0.5 (LOW_RISK),
     none in between.
  1. Business names, in this order, each given at most once. Each picks, among the segments
     not yet named (and allowed by its risk condition), the one with the most extreme mean and
     names it only when that mean passes the threshold against the overall mean:
       "High-Value"      highest mean monthly charges   >= 1.15x overall   risk word in front
       "Loyal"           longest mean tenure            >= 1.3x overall    only if r <= 1.1
       "New"             shortest mean tenure           <= 0.6x overall    risk word in front
       "Low-Engagement"  fewest services (if known)     <= 0.75x overall   risk word in front
     ("High-Risk New", "Low-Risk High-Value"; "Loyal" carries no risk word, it says it.)
  2. Every other segment is "<first word> <spend word>". The spend word is "Low-Spend" /
     "Mid-Spend" / "High-Spend" by the third of all customers' monthly charges (tertiles) its
     mean falls in. The first word is the risk word when there is one ("High-Risk
     High-Spend"); otherwise a tenure word by the tertile of its mean tenure: "Recent" /
     "Steady" / "Established", where the stability words "Steady" and "Established" (like
     "Loyal") need r <= 1.1 (STABLE_RISK); above it they are "Mid-Tenure" / "Long-Tenure".
  3. When several segments get alike names in step 2 (the same risk word and spend word, or
     the same tenure third and spend third, e.g. "Steady Mid-Spend" and "Mid-Tenure
     Mid-Spend"), each keeps its first word and swaps the spend word for its most
     distinguishing feature word: the behaviour feature whose segment mean is the most
     standard deviations (at least 0.5, MIN_Z) from the overall mean, spend and (after a
     tenure word) tenure excluded, whose resulting name is still free (segments in index
     order). Feature words (below / above the overall mean): "Recent" / "Long-Tenure",
     "Few-Services" / "Many-Services", "Monthly-Contract" / "Long-Contract", "Manual-Pay" /
     "Auto-Pay", "Paper-Billed" / "Paperless"; e.g. "High-Risk Paper-Billed" and "High-Risk
     Auto-Pay". Only when no such word is free does a name get " 2", " 3", ... (last resort).
Each segment's `rules` entry says in words which rule gave each word and the numbers behind it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics.pairwise import euclidean_distances
from threadpoolctl import threadpool_limits

from analytics import kpis
from analytics.dataset import ACTIVE, CHURN, META_COLUMNS, MONTHLY, TENURE

SERVICE_COLUMNS = ("PhoneService", "MultipleLines", "OnlineSecurity", "OnlineBackup",
                   "DeviceProtection", "TechSupport", "StreamingTV", "StreamingMovies")
SERVICES = "services"
CONTRACT_LENGTH = {"month-to-month": 0.0, "one year": 1.0, "two year": 2.0}
YES = frozenset({"yes", "y", "true", "1", "1.0"})
MIN_CUSTOMERS = 20
N_INIT = 4
SINGLE_NAME = "All customers"
HIGH_RISK = 1.25    # mean churn probability / overall from which a name says "High-Risk"
LOW_RISK = 0.5      # ... up to which it says "Low-Risk"
STABLE_RISK = 1.1   # stability words ("Loyal", "Steady", "Established") only up to this ratio
MIN_Z = 0.5         # a feature word needs the segment mean this many sd from the overall
# (name, profile key, direction, ratio to the overall mean, what is compared, the highest
#  risk ratio the name may carry (None: any), whether the risk word is put in front)
NAME_RULES = (
    ("High-Value", "monthly", "max", 1.15, "highest mean monthly charges", None, True),
    ("Loyal", "tenure", "max", 1.3, "longest mean tenure", STABLE_RISK, False),
    ("New", "tenure", "min", 0.6, "shortest mean tenure", None, True),
    ("Low-Engagement", SERVICES, "min", 0.75, "fewest services on average", None, True),
)
STABLE_TENURE_WORDS = ("Recent", "Steady", "Established")
TENURE_WORDS = ("Recent", "Mid-Tenure", "Long-Tenure")  # when churn is above STABLE_RISK
SPEND_WORDS = ("Low-Spend", "Mid-Spend", "High-Spend")
THIRDS = ("lower", "middle", "upper")
FEATURE_WORDS = {TENURE: ("Recent", "Long-Tenure"),  # (below, above) the overall mean
                 MONTHLY: ("Low-Spend", "High-Spend"),
                 SERVICES: ("Few-Services", "Many-Services"),
                 "contract_length": ("Monthly-Contract", "Long-Contract"),
                 "auto_payment": ("Manual-Pay", "Auto-Pay"),
                 "paperless_billing": ("Paper-Billed", "Paperless")}
FEATURE_LABELS = {TENURE: "tenure (months)", MONTHLY: "monthly charges",
                  SERVICES: "number of services", "contract_length": "contract length",
                  "auto_payment": "automatic payment", "paperless_billing": "paperless billing"}
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


def _raw_behaviour(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Unscaled behavioural features (may hold NaN), only those the frame supports."""
    out = {TENURE: frame[TENURE].to_numpy(dtype=float),
           MONTHLY: frame[MONTHLY].to_numpy(dtype=float)}
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
    return out


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


def _fmt(value: float) -> str:
    if not np.isfinite(value):
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 10 else f"{value:.{1 if abs(value) >= 1 else 2}f}"


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


def _ratios(values: np.ndarray, base: float) -> np.ndarray:
    """Each segment's mean over the overall mean (NaN when the overall is not positive)."""
    values = np.asarray(values, dtype=float)
    if not np.isfinite(base) or base <= 0:
        return np.full(len(values), np.nan)
    return values / base


def _third(value: float, cut: tuple[float, float]) -> int:
    """0, 1 or 2: the third of the customers' distribution `value` falls in."""
    return int(np.searchsorted(cut, value))


def _third_phrase(what: str, value: float, cut: tuple[float, float], unit: str) -> str:
    bounds = (f"up to {_fmt(cut[0])}", f"{_fmt(cut[0])} to {_fmt(cut[1])}",
              f"above {_fmt(cut[1])}")
    third = _third(value, cut)
    return (f"mean {what} {_fmt(value)}{unit}: the {THIRDS[third]} third of customers "
            f"({bounds[third]}{unit})")


def _feature_words(z: dict[str, np.ndarray], s: int, skip: tuple[str, ...]) -> list[str]:
    """Segment s's feature words, most distinguishing first: features at least MIN_Z sd
    from the overall mean, strongest |z| first (ties: the order of FEATURE_WORDS)."""
    found = [(-abs(z[f][s]), i, FEATURE_WORDS[f][int(z[f][s] > 0)])
             for i, f in enumerate(FEATURE_WORDS)
             if f in z and f not in skip and np.isfinite(z[f][s]) and abs(z[f][s]) >= MIN_Z]
    return [word for *_, word in sorted(found)]


def _name_segments(means: dict[str, np.ndarray], overall: dict[str, float],
                   cuts: dict[str, tuple[float, float]],
                   z: dict[str, np.ndarray] | None = None) -> tuple[list[str], list[str]]:
    """Names and the rule behind each, from per-segment means (see the module docstring).
    `z`: per behaviour feature, each segment's (mean - overall) / sd."""
    k = len(means["tenure"])
    risk = _ratios(means["risk"], overall.get("risk", math.nan)) if "risk" in means \
        else np.full(k, np.nan)
    risk_word = ["High-Risk" if r >= HIGH_RISK else "Low-Risk" if r <= LOW_RISK else ""
                 for r in risk]
    names: list = [None] * k
    rules: list[list[str]] = [[] for _ in range(k)]
    _business_names(means, overall, risk, risk_word, names, rules)
    first = _descriptive_names(means, cuts, risk, risk_word, names, rules)
    _separate_alike(first, z or {}, names, rules)
    used: set[str] = set()
    for s in range(k):  # the last resort: a number
        base_name, suffix = names[s], 2
        while names[s] in used:
            names[s], suffix = f"{base_name} {suffix}", suffix + 1
        used.add(names[s])
        if risk_word[s] and names[s].startswith(risk_word[s]):
            rules[s].insert(0, f"{risk_word[s]}: mean churn probability {means['risk'][s]:.0%},"
                               f" {risk[s]:.2f}x the overall {overall['risk']:.0%} (High-Risk "
                               f"from {HIGH_RISK}x, Low-Risk up to {LOW_RISK}x)")
    return names, ["; ".join(r) for r in rules]


def _business_names(means, overall, risk, risk_word, names, rules) -> None:
    """Step 1: NAME_RULES, each to the most extreme eligible segment that passes."""
    for name, key, direction, ratio, phrase, max_risk, prefixed in NAME_RULES:
        if key not in means or not np.isfinite(overall.get(key, math.nan)) or overall[key] <= 0:
            continue
        values, base = means[key], overall[key]
        free = [s for s in range(len(names)) if names[s] is None and np.isfinite(values[s])
                and (max_risk is None or not risk[s] > max_risk)]
        if not free:
            continue
        pick = (max if direction == "max" else min)(free, key=lambda s: values[s])
        value = values[pick]
        if (value >= ratio * base and value > base if direction == "max"
                else value <= ratio * base and value < base):
            names[pick] = f"{risk_word[pick]} {name}".strip() if prefixed else name
            unit = " months" if key == "tenure" else ""
            rules[pick].append(
                f"{name}: {phrase} {_fmt(value)}{unit}, {value / base:.2f}x the overall "
                f"{_fmt(base)} (named when {'at least' if direction == 'max' else 'at most'} "
                f"{ratio}x" + (f", and mean churn probability at most {max_risk}x the "
                               "overall" if max_risk is not None else "") + ")")


def _descriptive_names(means, cuts, risk, risk_word, names, rules) -> dict[int, tuple]:
    """Step 2: '<risk or tenure word> <spend word>' for the segments still unnamed. Returns,
    per such segment, (its first word, what its name says: alike names say the same)."""
    first = {}
    for s in [s for s in range(len(names)) if names[s] is None]:
        tenure, monthly = means["tenure"][s], means["monthly"][s]
        third = _third(tenure, cuts["tenure"])
        spend = SPEND_WORDS[_third(monthly, cuts["monthly"])]
        if risk_word[s]:
            first[s] = (risk_word[s], (risk_word[s], spend))
        else:
            stable = not risk[s] > STABLE_RISK
            word = (STABLE_TENURE_WORDS if stable else TENURE_WORDS)[third]
            first[s] = (word, (third, spend))
            rules[s].append(f"{word}: " + _third_phrase("tenure", tenure, cuts["tenure"],
                                                        " months")
                            + ("" if word == STABLE_TENURE_WORDS[third] else
                               f" (not '{STABLE_TENURE_WORDS[third]}': mean churn probability "
                               f"{risk[s]:.2f}x the overall, above {STABLE_RISK}x)"))
        rules[s].append(f"{spend}: " + _third_phrase("monthly charges", monthly,
                                                     cuts["monthly"], ""))
        names[s] = f"{first[s][0]} {spend}"
    return first


def _separate_alike(first: dict[int, tuple], z, names, rules) -> None:
    """Step 3: segments whose step-2 names say the same swap the spend word for their most
    distinguishing free feature word."""
    for said in dict.fromkeys(said for _word, said in first.values()):
        alike = [s for s, (_word, other) in first.items() if other == said]
        for s in alike if len(alike) > 1 else ():
            word, old = first[s][0], names[s]
            skip = (MONTHLY,) if word in ("High-Risk", "Low-Risk") else (MONTHLY, TENURE)
            free = [w for w in _feature_words(z, s, skip) if f"{word} {w}" not in names]
            if free:
                names[s] = f"{word} {free[0]}"
                feature = next(f for f in FEATURE_WORDS if free[0] in FEATURE_WORDS[f])
                rules[s].append(f"{free[0]} instead of '{old.split(' ', 1)[1]}' (alike "
                                f"another segment's): {FEATURE_LABELS[feature]} "
                                f"{z[feature][s]:+.1f} sd from the overall mean, the most "
                                "distinguishing feature whose name is free")


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

    keys = {"risk": p, "monthly": raw[MONTHLY], "tenure": raw[TENURE],
            SERVICES: raw.get(SERVICES)}
    means = {key: _group_mean(v, labels, best_k) for key, v in keys.items() if v is not None}
    overall = {key: _nanmean(v) for key, v in keys.items() if v is not None}
    cuts = {key: tuple(np.nanquantile(raw[col], [1 / 3, 2 / 3]))
            for key, col in (("tenure", TENURE), ("monthly", MONTHLY))}
    z = {f: _standardized(values, labels, best_k)[2] for f, values in raw.items()}
    names, rules = _name_segments(means, overall, cuts,
                                  {f: v for f, v in z.items() if v is not None})
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
            if not any(np.allclose(values, v, equal_nan=True) for v in numeric.values()):
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
