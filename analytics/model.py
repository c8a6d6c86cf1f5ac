"""CatBoost churn model, honest cross-validation against baselines, and the leakage check.

Conventions follow scikit-learn: parameters in `__init__`, `fit` returns self, learned
attributes end in `_`, explicit `random_state`, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from catboost import CatBoostClassifier, Pool

from analytics.dataset import SCORED_BY, positional
from analytics.errors import DataError

Progress = Callable[[str], None]
MODEL_NAMES = ("catboost", "logistic_regression", "random_forest", "mlp")
LEAKAGE_AUC = 0.90
# The one-hot baselines (logistic regression, MLP) encode at most this many levels of a
# categorical column (the most frequent; the rest share one "other" column), so an id-like or
# free-text column cannot blow their input up to one column per customer. No Telco-layout
# column comes near it.
MAX_ONE_HOT_LEVELS = 50


def _quiet(_message: str) -> None:
    return None


SMALL_FRAME = 2_000
SHAP_BLOCK = 200_000     # rows per SHAP call: bounds CatBoost's lists (~2 GB at 1M rows)


def to_pool(frame: pd.DataFrame, categorical: list[str], numeric: list[str],
            label=None) -> Pool:
    """One CatBoost Pool with categorical columns as strings (CatBoost's native handling).

    Small frames (a scored customer, a what-if) go through one object array: pandas'
    per-column conversions cost ~4 ms however few the rows, this path ~1 ms."""
    if len(frame) <= SMALL_FRAME:
        data = frame[categorical + numeric].to_numpy(dtype=object)
        k = len(categorical)
        data[:, :k] = data[:, :k].astype(str)
        return Pool(data, label=label, cat_features=list(range(k)))
    data = frame[categorical + numeric].copy()
    for column in categorical:
        data[column] = _as_str(data[column])
    return Pool(data, label=label, cat_features=list(range(len(categorical))))


def _shap(estimator: CatBoostClassifier, pool: Pool, threads: int) -> np.ndarray:
    """Rows x (features + base value) of SHAP values: CatBoost's `get_feature_importance`
    with type ShapValues, without its per-row copy of the lists it gets (a third of the
    time at 1M rows); through that public call if the internal one is not as expected."""
    try:
        from catboost.core import EFstrType, EShapCalcType, enum_from_enum_or_str

        fstr, _ = estimator._calc_fstr(
            EFstrType.ShapValues, pool, None, threads, False, "Raw", "Auto", None,
            enum_from_enum_or_str(EShapCalcType, "Regular").value, 128, 512, True)
        values = np.asarray(fstr, dtype=np.float64)
        if values.shape == (pool.num_row(), pool.num_col() + 1):
            return values
    except (AttributeError, ImportError, TypeError, ValueError):
        pass
    return np.asarray(estimator.get_feature_importance(pool, type="ShapValues",
                                                       thread_count=threads))


def _threads(frame: pd.DataFrame) -> int:
    """CatBoost's threads for scoring `frame`: one for a few rows (a customer, an API call,
    a what-if), where handing the work to a second thread costs more than it saves and,
    on a busy server, waits for that thread to be scheduled; else the model's own."""
    return 1 if len(frame) <= SMALL_FRAME else -1


def _as_str(series: pd.Series) -> np.ndarray:
    """`series.astype(str)` as an object array; for a `category` column each label is turned
    into text once and taken by code (8x faster on 200k rows; the same strings, "nan" for a
    missing value)."""
    if not isinstance(series.dtype, pd.CategoricalDtype):
        return series.astype(str).to_numpy(dtype=object)
    codes = series.cat.codes.to_numpy()
    labels = np.append(np.asarray(series.cat.categories.astype(str), dtype=object), "nan")
    return labels.take(np.where(codes < 0, len(labels) - 1, codes))


class ChurnModel:
    """CatBoost classifier with native categoricals; the iteration count comes from an inner
    validation split of the training data only (early stopping), never from test rows. Then
    refit on every row with that count, or (`refit=False`, the cross-validation folds) the
    early-stopped model is kept as it is: one fit instead of two."""

    def __init__(self, categorical: list[str], numeric: list[str], depth: int = 4,
                 learning_rate: float = 0.1, max_iterations: int = 600,
                 l2_leaf_reg: float = 5.0, iterations: int | None = None,
                 one_hot_max_size: int = 10,
                 random_state: int = 0, thread_count: int = 2, refit: bool = True) -> None:
        self.categorical = categorical
        self.numeric = numeric
        self.depth = depth
        self.learning_rate = learning_rate
        self.max_iterations = max_iterations
        self.l2_leaf_reg = l2_leaf_reg
        self.iterations = iterations
        self.one_hot_max_size = one_hot_max_size
        self.random_state = random_state
        self.thread_count = thread_count
        self.refit = refit

    def _estimator(self, iterations: int) -> CatBoostClassifier:
        return CatBoostClassifier(iterations=iterations, depth=self.depth,
                                  learning_rate=self.learning_rate, l2_leaf_reg=self.l2_leaf_reg,
                                  one_hot_max_size=self.one_hot_max_size,
                                  random_seed=self.random_state, verbose=0,
                                  thread_count=self.thread_count, allow_writing_files=False)

    def fit(self, frame: pd.DataFrame, y: np.ndarray) -> ChurnModel:
        y = np.asarray(y)
        if self.iterations is None:
            from sklearn.model_selection import train_test_split  # training only
            fit_idx, val_idx = train_test_split(np.arange(len(y)), test_size=0.15, stratify=y,
                                                random_state=self.random_state)
            probe = self._estimator(self.max_iterations)
            probe.fit(to_pool(frame.iloc[fit_idx], self.categorical, self.numeric, y[fit_idx]),
                      eval_set=to_pool(frame.iloc[val_idx], self.categorical, self.numeric,
                                       y[val_idx]),
                      early_stopping_rounds=100, use_best_model=True)
            self.best_iterations_ = max(int(probe.get_best_iteration() or 0) + 1, 50)
            if not self.refit:
                # The early-stopped model itself (its best iteration kept): half the work,
                # trained on 85% of the rows (a cross-validation fold's model).
                self.estimator_ = probe
                return self
        else:
            self.best_iterations_ = self.iterations
        # Refit on every training row with the iteration count chosen above.
        self.estimator_ = self._estimator(self.best_iterations_)
        self.estimator_.fit(to_pool(frame, self.categorical, self.numeric, y))
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Churn probability per row (1-D), calibrated when a calibrator is set."""
        raw = self.raw_proba(frame)
        calibrator = getattr(self, "calibrator_", None)
        return raw if calibrator is None else np.asarray(calibrator.predict(raw), dtype=float)

    def raw_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """CatBoost's own probability (what the SHAP values add up to)."""
        return self.estimator_.predict_proba(
            to_pool(frame, self.categorical, self.numeric),
            thread_count=_threads(frame))[:, 1]

    def shap_values(self, frame: pd.DataFrame) -> tuple[np.ndarray, float]:
        """CatBoost's native SHAP values (log-odds) per feature and the base value, in
        blocks of SHAP_BLOCK rows (CatBoost returns Python lists: 50 floats a row)."""
        k = len(self.categorical) + len(self.numeric)
        out = np.empty((len(frame), k), dtype=np.float32)
        base = 0.0
        for start in range(0, len(frame), SHAP_BLOCK):
            part = frame.iloc[start:start + SHAP_BLOCK]
            values = _shap(self.estimator_, to_pool(part, self.categorical, self.numeric),
                           _threads(part))
            out[start:start + len(part)] = values[:, :-1]
            base = float(values[0, -1])
        return out, base

    def raw_score(self, frame: pd.DataFrame) -> np.ndarray:
        return self.estimator_.predict(to_pool(frame, self.categorical, self.numeric),
                                       prediction_type="RawFormulaVal",
                                       thread_count=_threads(frame))


class CrossFittedModel:
    """The final model for customers it was not trained on, and for each customer it was
    trained on the fold model that never saw them (their out-of-fold score).

    Which model scores a row is read from the frame's `scored_by` column (-1: the final
    model; k: fold model k); a frame without it (a new customer, the API) gets the final
    model. Every path (table, what-if, offers) routes the same way, so a customer's risk,
    what-if and reasons come from one model. Calibrated when `calibrator_` is set."""

    def __init__(self, final: ChurnModel, folds: list[ChurnModel]) -> None:
        self.final = final
        self.folds = list(folds)
        self.categorical = final.categorical
        self.numeric = final.numeric
        self.calibrator_ = None

    @property
    def best_iterations_(self) -> int:
        return self.final.best_iterations_

    def _groups(self, frame: pd.DataFrame):
        """(model, row positions) for each model that scores some of the rows."""
        if SCORED_BY not in frame.columns or not self.folds:
            return [(self.final, slice(None))]
        codes = np.asarray(frame[SCORED_BY].to_numpy(), dtype=int)
        groups = []
        for k in np.unique(codes):
            model = self.final if k < 0 else self.folds[int(k)]
            rows = np.flatnonzero(codes == k)
            groups.append((model, slice(None) if len(rows) == len(codes) else rows))
        return groups

    def _routed(self, frame: pd.DataFrame, method: str) -> np.ndarray:
        groups = self._groups(frame)
        if len(groups) == 1:
            return getattr(groups[0][0], method)(frame)
        out = np.empty(len(frame))
        for model, rows in groups:
            out[rows] = getattr(model, method)(frame.iloc[rows])
        return out

    def raw_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """CatBoost's own probability from each row's model (what its SHAP values add to)."""
        return self._routed(frame, "raw_proba")

    def raw_score(self, frame: pd.DataFrame) -> np.ndarray:
        return self._routed(frame, "raw_score")

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        raw = self.raw_proba(frame)
        return raw if self.calibrator_ is None else np.asarray(self.calibrator_.predict(raw),
                                                               dtype=float)

    def shap_values(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """SHAP values (log-odds) of each row from its own model, and each row's base value
        (the models' base values differ slightly)."""
        values = np.empty((len(frame), len(self.categorical) + len(self.numeric)),
                          dtype=np.float32)
        base = np.empty(len(frame), dtype=np.float32)
        for model, rows in self._groups(frame):
            part = frame if isinstance(rows, slice) else frame.iloc[rows]
            values[rows], base[rows] = model.shap_values(part)
        return values, base


def _baseline(name: str, categorical: list[str], numeric: list[str], random_state: int):
    from sklearn.compose import ColumnTransformer  # scikit-learn: training only
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
    if name == "mlp":
        # A small neural network: one hidden layer, early stopping on an inner 10% split.
        prep = ColumnTransformer([
            ("cat", OneHotEncoder(handle_unknown="ignore", max_categories=MAX_ONE_HOT_LEVELS),
             categorical),
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ])
        return make_pipeline(prep, MLPClassifier(
            hidden_layer_sizes=(32,), alpha=1e-3, learning_rate_init=1e-3, max_iter=300,
            early_stopping=True, validation_fraction=0.1, n_iter_no_change=15,
            random_state=random_state))
    if name == "logistic_regression":
        prep = ColumnTransformer([
            ("cat", OneHotEncoder(handle_unknown="ignore", max_categories=MAX_ONE_HOT_LEVELS),
             categorical),
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ])
        return make_pipeline(prep, LogisticRegression(max_iter=2000, C=1.0))
    prep = ColumnTransformer([
        ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
         categorical),
        ("num", SimpleImputer(strategy="median"), numeric),
    ])
    return make_pipeline(prep, RandomForestClassifier(
        n_estimators=300, min_samples_leaf=5, max_features="sqrt", n_jobs=2,
        random_state=random_state))


def metrics(y: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, float]:
    """Threshold-free and threshold metrics of one set of predictions."""
    from sklearn.metrics import (average_precision_score, brier_score_loss, f1_score,
                                 log_loss, precision_score, recall_score, roc_auc_score)
    proba = np.clip(proba, 1e-6, 1 - 1e-6)
    flagged = proba >= threshold
    return {
        "roc_auc": float(roc_auc_score(y, proba)),
        "pr_auc": float(average_precision_score(y, proba)),
        "brier": float(brier_score_loss(y, proba)),
        "log_loss": float(log_loss(y, proba)),
        "recall": float(recall_score(y, flagged, zero_division=0)),
        "precision": float(precision_score(y, flagged, zero_division=0)),
        "f1": float(f1_score(y, flagged, zero_division=0)),
    }


@dataclass
class CVResult:
    """Out-of-fold predictions and metrics of every model on the same folds."""

    n_rows: int
    n_splits: int
    threshold: float
    sampled: bool
    y: np.ndarray
    oof: dict[str, np.ndarray] = field(default_factory=dict)
    folds: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    overall: dict[str, dict[str, float]] = field(default_factory=dict)
    catboost_iterations: list[int] = field(default_factory=list)
    # Kept when asked (`keep_models`): the CatBoost model of each fold and the fold each row
    # was tested in, so customers trained on can be served the score of a model that never
    # saw them (cross-fitting).
    models: list = field(default_factory=list)
    fold_of: np.ndarray | None = None

    def summary(self) -> dict[str, dict[str, float]]:
        """Pooled out-of-fold metrics plus the fold mean and standard deviation of each."""
        out = {}
        for name, pooled in self.overall.items():
            row = dict(pooled)
            table = pd.DataFrame(self.folds[name])
            for metric in table.columns:
                row[f"{metric}_fold_mean"] = float(table[metric].mean())
                row[f"{metric}_fold_std"] = float(table[metric].std(ddof=1))
            out[name] = row
        return out


def cross_validate(frame: pd.DataFrame, y: np.ndarray, categorical: list[str],
                   numeric: list[str], *, n_splits: int = 5, threshold: float = 0.5,
                   random_state: int = 0, model_params: dict | None = None,
                   baselines: tuple[str, ...] = MODEL_NAMES[1:],
                   progress: Progress = _quiet, keep_models: bool = False,
                   workers: int = 2) -> CVResult:
    """Stratified K-fold: every model sees the same folds; metrics are out-of-fold. With
    `keep_models` the fold CatBoost models and each row's test fold are kept.

    The CatBoost folds are fitted `workers` at a time in threads (CatBoost releases the GIL;
    each fit gets its share of the cores): on 2 cores two single-threaded fits finish sooner
    than two 2-thread fits one after the other. Each fold's model is its early-stopped fit
    (`refit=False`): 50,000 rows on 2 cores 36 s -> 18 s with the last fold on both cores,
    out-of-fold ROC-AUC 0.8930 -> 0.8926. The baselines can be left for later
    (`baselines=()`, then `add_baselines`): they use the same folds."""
    y = np.asarray(y).astype(int)
    frame = positional(frame)
    splits = _splits(frame, y, n_splits, random_state)
    result = CVResult(n_rows=len(y), n_splits=n_splits, threshold=threshold, sampled=False, y=y)
    result.oof = {"catboost": np.zeros(len(y))}
    result.folds = {"catboost": []}
    fold_of = np.full(len(y), -1, dtype=np.int8)
    workers = max(1, min(workers, n_splits))
    cores = (model_params or {}).get("thread_count", 2)
    params = {"refit": False, **(model_params or {})}
    # The folds of the last round share the cores between fewer fits (5 folds on 2 workers:
    # the fifth runs alone on both, not on one with the other idle). Fixed per fold, not
    # by timing, so a run is reproducible.
    last_round = n_splits - (n_splits % workers or workers)

    def fit(k: int) -> ChurnModel:
        train, _test = splits[k]
        progress(f"cross-validation fold {k + 1} of {n_splits}")
        share = workers if k < last_round else n_splits - last_round
        return ChurnModel(categorical, numeric, random_state=random_state,
                          **{**params, "thread_count": max(1, cores // share)}
                          ).fit(frame.iloc[train], y[train])

    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            models = list(pool.map(fit, range(n_splits)))
    else:
        models = [fit(k) for k in range(n_splits)]
    for k, ((_train, test), model) in enumerate(zip(splits, models)):
        fold_of[test] = k
        result.catboost_iterations.append(model.best_iterations_)
        if keep_models:
            result.models.append(model)
        result.oof["catboost"][test] = model.predict_proba(frame.iloc[test])
        result.folds["catboost"].append(metrics(y[test], result.oof["catboost"][test],
                                                threshold))
    result.overall = {"catboost": metrics(y, result.oof["catboost"], threshold)}
    if keep_models:
        result.fold_of = fold_of
    if baselines:
        add_baselines(result, frame, categorical, numeric, baselines,
                      random_state=random_state, progress=progress)
    return result


def _splits(frame: pd.DataFrame, y: np.ndarray, n_splits: int,
            random_state: int) -> list[tuple[np.ndarray, np.ndarray]]:
    smallest = int(min((y == 1).sum(), (y == 0).sum()))
    if n_splits < 2 or smallest < n_splits:
        # Every test fold needs churners and stayers, or its metrics do not exist.
        raise DataError(f"{n_splits}-fold cross-validation needs at least {max(n_splits, 2)} "
                        f"churned and {max(n_splits, 2)} stayed rows; found "
                        f"{int((y == 1).sum())} churned and {int((y == 0).sum())} stayed")
    from sklearn.model_selection import StratifiedKFold
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    return list(folds.split(frame, y))


def add_baselines(result: CVResult, frame: pd.DataFrame, categorical: list[str],
                  numeric: list[str], baselines: tuple[str, ...] = MODEL_NAMES[1:], *,
                  random_state: int = 0, progress: Progress = _quiet) -> CVResult:
    """The baselines' out-of-fold predictions on the CatBoost run's own folds, added to
    `result` (its CatBoost entries are left as they are). The new entries are built apart
    and set at the end, so a reader never sees half of them."""
    y = result.y
    frame = positional(frame)
    oof = {name: np.zeros(len(y)) for name in baselines}
    folds: dict[str, list] = {name: [] for name in baselines}
    for k, (train, test) in enumerate(_splits(frame, y, result.n_splits, random_state),
                                      start=1):
        progress(f"baselines: fold {k} of {result.n_splits}")
        for name in baselines:
            est = _baseline(name, categorical, numeric, random_state)
            est.fit(_sk_frame(frame.iloc[train], categorical, numeric), y[train])
            oof[name][test] = est.predict_proba(
                _sk_frame(frame.iloc[test], categorical, numeric))[:, 1]
            folds[name].append(metrics(y[test], oof[name][test], result.threshold))
    overall = {name: metrics(y, oof[name], result.threshold) for name in baselines}
    result.oof = {**result.oof, **oof}
    result.folds = {**result.folds, **folds}
    result.overall = {**result.overall, **overall}
    return result


def _sk_frame(frame: pd.DataFrame, categorical: list[str], numeric: list[str]) -> pd.DataFrame:
    data = frame[categorical + numeric].copy()
    for column in categorical:
        data[column] = data[column].astype(str)
    return data


def univariate_auc(frame: pd.DataFrame, y: np.ndarray, categorical: list[str],
                   numeric: list[str], random_state: int = 0) -> dict[str, float]:
    """Each feature's ROC-AUC alone, folded to >= 0.5 (how well it separates churners from
    stayers by itself); 0.5 for a feature with one value.

    Numeric features are ranked as they are; categorical ones by their out-of-fold churn rate
    (so an id-like column cannot look perfect by memorising)."""
    y = np.asarray(y).astype(int)
    out: dict[str, float] = {}
    if min((y == 1).sum(), (y == 0).sum()) < 2:
        return {column: 0.5 for column in categorical + numeric}
    from sklearn.model_selection import StratifiedKFold

    from analytics.evaluation import rank_auc
    folds = StratifiedKFold(n_splits=2, shuffle=True, random_state=random_state)
    prior = y.mean()
    for column in categorical + numeric:
        values = frame[column]
        if column in numeric:
            score = values.to_numpy(dtype=float)
            finite = np.isfinite(score)
            fill = float(np.median(score[finite])) if finite.any() else 0.0
            score = np.where(finite, score, fill)
        else:
            codes = values.astype(str).to_numpy()
            score = np.zeros(len(y))
            for train, test in folds.split(codes, y):
                rates = pd.Series(y[train]).groupby(codes[train]).agg(["sum", "count"])
                smooth = (rates["sum"] + 10 * prior) / (rates["count"] + 10)
                score[test] = pd.Series(codes[test]).map(smooth).fillna(prior).to_numpy()
        if np.unique(score).size < 2:
            out[column] = 0.5
            continue
        auc = rank_auc(y, score)
        out[column] = float(max(auc, 1 - auc))
    return out


def leakage_check(frame: pd.DataFrame, y: np.ndarray, categorical: list[str],
                  numeric: list[str], limit: float = LEAKAGE_AUC,
                  random_state: int = 0) -> list[dict]:
    """Features that alone reach ROC-AUC above `limit`: almost always a leak of the answer
    (see `univariate_auc`)."""
    warnings = []
    for column, auc in univariate_auc(frame, y, categorical, numeric, random_state).items():
        if auc > limit:
            warnings.append({"feature": column, "auc": round(float(auc), 4),
                             "message": f"'{column}' alone predicts churn with ROC-AUC "
                                        f"{auc:.3f}; it probably leaks the outcome"})
    return warnings
