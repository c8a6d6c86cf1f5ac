"""Ranking customers by uplift: Qini and uplift curves, AUUC, two uplift learners, and an
honest out-of-fold comparison of ranking by predicted uplift against ranking by churn risk.

Conventions: y = 1 is the GOOD outcome (retained: callers pass 1 - churned), treatment is 1/0,
and a learner's uplift is P(y=1 | T=1, x) - P(y=1 | T=0, x), the gain in retention from the
offer. Curves are sorted by score, highest first.

Ties in the score are one block: a curve is evaluated at the end of each tied block and
interpolated linearly inside it, so it never depends on the row order among equal scores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from catboost import CatBoostClassifier
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import StratifiedKFold

from analytics.errors import ChurnLensError

MIN_ARM_ROWS = 20      # a learner needs at least this many rows in each arm
CURVE_POINTS = 101     # curves handed to the UI are downsampled to at most this many points
LEARNERS = ("two_model", "class_transformation")


def _binary(values, name: str) -> np.ndarray:
    """A 1-D array of 0/1 integers, or a ChurnLensError naming the argument."""
    a = np.asarray(values)
    if a.ndim != 1:
        raise ChurnLensError(f"{name} must be one-dimensional, got shape {a.shape}")
    try:
        f = a.astype(float)
    except (TypeError, ValueError):
        raise ChurnLensError(f"{name} must hold only 0 and 1, got e.g. {a[:3].tolist()}") from None
    bad = ~np.isin(f, (0.0, 1.0))
    if bad.any():
        raise ChurnLensError(f"{name} must hold only 0 and 1, got e.g. {a[bad][:3].tolist()}")
    return f.astype(int)


def _inputs(y, treatment, score) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Checked y, treatment and score of equal length, both arms present, scores finite."""
    y, t = _binary(y, "y"), _binary(treatment, "treatment")
    s = np.asarray(score, dtype=float)
    if not (len(y) == len(t) == len(s)):
        raise ChurnLensError(f"y, treatment and score differ in length: {len(y)}, {len(t)}, "
                             f"{len(s)}")
    if not np.isfinite(s).all():
        raise ChurnLensError(f"score has {int((~np.isfinite(s)).sum())} missing or infinite "
                             "values")
    if t.sum() == 0 or t.sum() == len(t):
        raise ChurnLensError("a Qini curve needs both treated and control rows "
                             f"({int(t.sum())} treated of {len(t)})")
    return y, t, s


def _curve(y, treatment, score, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """x = 0..n targeted and the curve `kind` ("qini" or "uplift"), ties as blocks."""
    y, t, s = _inputs(y, treatment, score)
    order = np.argsort(-s, kind="stable")
    s, y, t = s[order], y[order], t[order]
    n_t, n_c = np.cumsum(t), np.cumsum(1 - t)
    r_t, r_c = np.cumsum(y * t), np.cumsum(y * (1 - t))
    k = np.arange(1, len(y) + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "qini":
            value = np.where(n_c > 0, r_t - r_c * n_t / n_c, 0.0)
        else:
            value = np.where((n_t > 0) & (n_c > 0), (r_t / n_t - r_c / n_c) * k, 0.0)
    ends = np.flatnonzero(np.append(s[1:] != s[:-1], True))   # last row of each tied block
    x = np.arange(len(y) + 1)
    return x, np.interp(x, np.append(0, k[ends]), np.append(0.0, value[ends]))


def qini_curve(y, treatment, score) -> tuple[np.ndarray, np.ndarray]:
    """Radcliffe's Qini curve: Q(k) = R_t(k) - R_c(k) N_t(k) / N_c(k) for k = 0..n targeted.

    R are counts of y = 1 among the top k rows of each arm, N the arm sizes there; Q = 0
    where N_c(k) = 0. Returns (x, Q) with x = 0..n (the point 0 included)."""
    return _curve(y, treatment, score, "qini")


def uplift_curve(y, treatment, score) -> tuple[np.ndarray, np.ndarray]:
    """Uplift curve: (R_t/N_t - R_c/N_c) x k over the top k, 0 until both arms appear."""
    return _curve(y, treatment, score, "uplift")


def _oracle_score(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """A strict score for the best ordering we know for the Qini curve.

    One control non-responder first (Q is 0 until a control row appears), then treated
    responders, then treated and the other control non-responders, control responders last."""
    rank = np.select([t * y == 1, t == 1, y == 0], [1, 2, 2], 3)
    first = np.flatnonzero((t == 0) & (y == 0))
    if first.size:
        rank[first[0]] = 0
    order = np.lexsort((np.arange(len(y)), rank))
    score = np.empty(len(y))
    score[order] = np.arange(len(y), 0, -1)
    return score


def _areas(x: np.ndarray, q: np.ndarray) -> tuple[float, float]:
    """Area under a Qini curve over x scaled to 0..1, and under the random line to Q(n)."""
    return float(np.trapezoid(q, x / x[-1])), float(q[-1] / 2.0)


def auuc(y, treatment, score, normalize: bool = True) -> dict:
    """Area under the Qini curve against random targeting.

    qini_area = trapezoid area of Q over the fraction targeted (0..1), in customers;
    random_area = Q(n) / 2 (the line from (0, 0) to (1, Q(n))); qini_coefficient = the
    difference; normalized = qini_coefficient / the oracle ordering's coefficient (see
    `_oracle_score`), None when normalize is False or the oracle beats random by nothing."""
    x, q = qini_curve(y, treatment, score)
    area, random = _areas(x, q)
    out = {"qini_area": area, "random_area": random, "qini_coefficient": area - random,
           "normalized": None}
    if normalize:
        yy, tt = _binary(y, "y"), _binary(treatment, "treatment")
        best_area, best_random = _areas(*qini_curve(yy, tt, _oracle_score(yy, tt)))
        best = best_area - best_random
        out["normalized"] = (area - random) / best if best > 0 else None
    return out


def _check_fit(X, treatment, y) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Checked training data: a DataFrame, 0/1 arrays, >= 20 rows and both classes per arm."""
    if not isinstance(X, pd.DataFrame):
        raise ChurnLensError(f"X must be a DataFrame, got {type(X).__name__}")
    t, y = _binary(treatment, "treatment"), _binary(y, "y")
    if not (len(X) == len(t) == len(y)):
        raise ChurnLensError(f"X, treatment and y differ in length: {len(X)}, {len(t)}, {len(y)}")
    for arm, mask in (("treated", t == 1), ("control", t == 0)):
        if mask.sum() < MIN_ARM_ROWS:
            raise ChurnLensError(f"an uplift model needs at least {MIN_ARM_ROWS} {arm} rows, "
                                 f"got {int(mask.sum())}")
        if len(np.unique(y[mask])) < 2:
            raise ChurnLensError(f"every {arm} row has the same outcome (y = {y[mask][0]}): "
                                 "nothing to learn")
    return X, t, y


def _categorical(X: pd.DataFrame) -> list[str]:
    """Object, string and category columns (CatBoost's categorical features)."""
    return [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)
            or pd.api.types.is_object_dtype(X[c]) or pd.api.types.is_string_dtype(X[c])]


def _frame(X: pd.DataFrame, columns: list, categorical: list[str]) -> pd.DataFrame:
    """X with the fitted columns, categoricals as strings (missing ones as 'nan')."""
    if not isinstance(X, pd.DataFrame):
        raise ChurnLensError(f"X must be a DataFrame, got {type(X).__name__}")
    missing = [c for c in columns if c not in X.columns]
    if missing:
        raise ChurnLensError(f"X lacks the columns the model was fitted on: {missing[:5]}")
    out = X[columns].copy()
    for c in categorical:
        out[c] = out[c].astype(str)
    return out


class _CatBoostUplift(BaseEstimator):
    """Shared parameters and CatBoost set-up of the uplift learners."""

    def __init__(self, iterations: int = 300, depth: int = 4, learning_rate: float | None = None,
                 random_state: int = 0, thread_count: int = 2) -> None:
        self.iterations = iterations
        self.depth = depth
        self.learning_rate = learning_rate
        self.random_state = random_state
        self.thread_count = thread_count

    def _classifier(self) -> CatBoostClassifier:
        """A fresh CatBoost classifier with this learner's parameters."""
        return CatBoostClassifier(iterations=self.iterations, depth=self.depth,
                                  learning_rate=self.learning_rate,
                                  random_seed=self.random_state, verbose=0,
                                  thread_count=self.thread_count, allow_writing_files=False,
                                  cat_features=self.cat_features_ or None)

    def _prepare(self, X: pd.DataFrame) -> pd.DataFrame:
        """Learn the columns and the categorical ones; return X ready for CatBoost."""
        self.feature_names_in_ = list(X.columns)
        self.cat_features_ = _categorical(X)
        return _frame(X, self.feature_names_in_, self.cat_features_)

    def _fitted(self, X: pd.DataFrame) -> pd.DataFrame:
        """X ready for the fitted models; raises when the learner is not fitted."""
        if not hasattr(self, "feature_names_in_"):
            raise ChurnLensError(f"{type(self).__name__} is not fitted yet: call fit first")
        return _frame(X, self.feature_names_in_, self.cat_features_)


class TwoModelUplift(_CatBoostUplift):
    """Two classifiers, P(y=1 | x) on the treated and on the control rows; uplift is their
    difference. Learned: model_treatment_, model_control_, feature_names_in_, cat_features_."""

    def fit(self, X: pd.DataFrame, treatment, y) -> TwoModelUplift:
        """Fit one CatBoost classifier per arm; raises when an arm is small or one-class."""
        X, t, y = _check_fit(X, treatment, y)
        data = self._prepare(X)
        self.model_treatment_ = self._classifier().fit(data[t == 1], y[t == 1])
        self.model_control_ = self._classifier().fit(data[t == 0], y[t == 0])
        return self

    def predict_uplift(self, X: pd.DataFrame) -> np.ndarray:
        """P(y=1 | T=1, x) - P(y=1 | T=0, x) per row."""
        data = self._fitted(X)
        return (self.model_treatment_.predict_proba(data)[:, 1]
                - self.model_control_.predict_proba(data)[:, 1])


class ClassTransformationUplift(_CatBoostUplift):
    """Jaskowski & Jaroszewicz's class transformation, re-weighted for any treatment share.

    z = y t + (1 - y)(1 - t) and one classifier of z; uplift = 2 P(z=1 | x) - 1. The identity
    holds when half the rows are treated, so treated rows are weighted 0.5 / p and control
    rows 0.5 / (1 - p), p the treated share of the training rows (`propensity_`; a randomised
    campaign has one propensity for everyone). The weighted share is then exactly 0.5.
    Learned: model_, propensity_, feature_names_in_, cat_features_."""

    def fit(self, X: pd.DataFrame, treatment, y) -> ClassTransformationUplift:
        """Fit the weighted classifier of z; raises when an arm is small or one-class."""
        X, t, y = _check_fit(X, treatment, y)
        data = self._prepare(X)
        self.propensity_ = float(t.mean())
        weight = np.where(t == 1, 0.5 / self.propensity_, 0.5 / (1 - self.propensity_))
        z = y * t + (1 - y) * (1 - t)
        self.model_ = self._classifier().fit(data, z, sample_weight=weight)
        return self

    def predict_uplift(self, X: pd.DataFrame) -> np.ndarray:
        """2 P(z=1 | x) - 1 per row, the uplift in P(y=1)."""
        data = self._fitted(X)
        return 2.0 * self.model_.predict_proba(data)[:, 1] - 1.0


def _learner(learner, random_state: int):
    """A fresh learner from a name or an unfitted estimator (cloned)."""
    if isinstance(learner, str):
        if learner == "two_model":
            return TwoModelUplift(random_state=random_state)
        if learner == "class_transformation":
            return ClassTransformationUplift(random_state=random_state)
        raise ChurnLensError(f"unknown uplift learner {learner!r}; choose one of {LEARNERS}")
    if not (hasattr(learner, "fit") and hasattr(learner, "predict_uplift")):
        raise ChurnLensError("an uplift learner needs fit(X, treatment, y) and predict_uplift(X)")
    return clone(learner)


def _downsample(x: np.ndarray, *curves: np.ndarray) -> list[list[float]]:
    """Fractions targeted and curve values at <= CURVE_POINTS evenly spaced points."""
    n = len(x) - 1
    idx = np.unique(np.round(np.linspace(0, n, min(n + 1, CURVE_POINTS))).astype(int))
    return [[float(v) for v in x[idx] / n]] + [[float(v) for v in c[idx]] for c in curves]


def compare_rankings(X: pd.DataFrame, treatment, y, risk, learner="two_model", folds: int = 5,
                     random_state: int = 0) -> dict:
    """Out-of-fold uplift ranking against ranking by churn risk and against random targeting.

    Stratified K-fold on treatment x y: the learner ("two_model", "class_transformation" or an
    unfitted estimator, cloned per fold) is fitted on K-1 folds and scores the held-out fold.
    Returns {uplift, risk, random: auuc dicts, better: "uplift" | "risk" (risk on a tie: the
    simpler ranking), n, folds, curves: {x (fraction targeted), uplift, risk, random} with
    <= 101 points} - all JSON-safe - plus `scores`, the out-of-fold uplift as an np.ndarray
    (not JSON-safe: drop it before serialising). y = 1 is retained; risk is p0, higher first."""
    X, t, y = _check_fit(X, treatment, y)
    risk = np.asarray(risk, dtype=float)
    if len(risk) != len(y) or not np.isfinite(risk).all():
        raise ChurnLensError(f"risk must be {len(y)} finite probabilities, one per row")
    if isinstance(folds, bool) or int(folds) != folds or folds < 2:
        raise ChurnLensError(f"folds must be a whole number >= 2, got {folds!r}")
    strata = 2 * t + y
    smallest = int(np.bincount(strata, minlength=4).min())
    if smallest < folds:
        raise ChurnLensError(f"{folds} folds need at least {folds} rows of each treatment x "
                             f"outcome pair; the smallest has {smallest}")
    scores = np.empty(len(y))
    splitter = StratifiedKFold(n_splits=int(folds), shuffle=True, random_state=random_state)
    for train, test in splitter.split(X, strata):
        model = _learner(learner, random_state).fit(X.iloc[train], t[train], y[train])
        scores[test] = model.predict_uplift(X.iloc[test])
    by_uplift, by_risk = auuc(y, t, scores), auuc(y, t, risk)
    x, q_uplift = qini_curve(y, t, scores)
    _, q_risk = qini_curve(y, t, risk)
    random_line = q_uplift[-1] * x / x[-1]
    fraction, up, rk, rnd = _downsample(x, q_uplift, q_risk, random_line)
    base = by_uplift["random_area"]
    return {"uplift": by_uplift, "risk": by_risk,
            "random": {"qini_area": base, "random_area": base, "qini_coefficient": 0.0,
                       "normalized": 0.0},
            "better": ("uplift" if by_uplift["qini_coefficient"] > by_risk["qini_coefficient"]
                       else "risk"),
            "n": int(len(y)), "folds": int(folds),
            "curves": {"x": fraction, "uplift": up, "risk": rk, "random": rnd},
            "scores": scores}
