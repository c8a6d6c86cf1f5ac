"""From a customer table to scores, tiers, reasons, CLV and honest metrics, in stages.

`analyse` is the one training path: leakage check, cross-validation of CatBoost and the
baselines, the final fit on every labelled row, scoring, SHAP. It reports each stage through
a `progress` callback and does no I/O.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from analytics import __version__, kpis
from analytics.dataset import (ACTIVE, CHURN, DURATION, ID, MONTHLY, SCORED_BY, TENURE,
                              CustomerTable)
from analytics.evaluation import calibration_study, fit_calibrator
from analytics.explain import top_reason_indices
from analytics.model import (ChurnModel, CrossFittedModel, CVResult, Progress, cross_validate,
                             leakage_check)
from analytics.segments import Segmentation, segment_customers, segment_profiles
from analytics.survival import SurvivalModel, fit_survival, pareto_share, survival_clv

TENURE_BANDS = ((0, 12, "0-12 months"), (13, 24, "13-24 months"), (25, 48, "25-48 months"),
                (49, 10_000, "49+ months"))
PROBABILITY = "churn_probability"
TIER = "risk_tier"
CLV = "clv"
TENURE_BAND = "tenure_band"
REASON_COLUMNS = ("reason_idx_1", "reason_idx_2", "reason_idx_3")
SEGMENT = "segment"
OUTLIER = "segment_outlier"
REFERENCE_ROWS = 50_000


@dataclass(frozen=True)
class AnalysisSettings:
    """Everything that changes the results; part of the cache key."""

    n_splits: int = 5
    threshold: float = 0.5
    tier_high: float = 0.5
    tier_medium: float = 0.25
    margin: float = 0.6
    annual_discount: float = 0.10
    horizon_months: int = 60
    cv_max_rows: int = 50_000
    train_max_rows: int = 300_000
    random_state: int = 0
    baselines: tuple[str, ...] = ("logistic_regression", "random_forest", "mlp")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class ChurnAnalysis:
    """Everything the dashboard and the CLI read: scored customers, model, SHAP, metrics."""

    source: str
    customers: pd.DataFrame
    categorical: list[str]
    numeric: list[str]
    model: CrossFittedModel
    shap_values: np.ndarray
    shap_base: np.ndarray   # per customer: the base value of the model that scored them
    cv: CVResult
    leakage: list[dict]
    quality: dict
    settings: AnalysisSettings
    hazard: float
    train_rows: int
    survival: SurvivalModel | None = None
    pareto_top20: float | None = None
    segmentation: Segmentation | None = None
    segment_profiles: pd.DataFrame | None = None
    as_of: str | None = None
    extraction_date: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    version: str = __version__
    # Attached after loading (cached separately, keyed by the catalogue too): the offer
    # catalogue in use and the best offer per customer (analytics/recommend.py).
    catalogue: object | None = None
    recommendations: pd.DataFrame | None = None
    # The training features (a seeded sample of up to 50k rows): the reference for drift.
    reference: pd.DataFrame | None = None
    # Dated data only: train on the first half of the churn window, test on the second.
    backtest: dict | None = None
    # The out-of-fold calibration study: reliability before and after each method, the best
    # method, and whether the served scores were recalibrated with it.
    calibration: dict | None = None

    @property
    def features(self) -> list[str]:
        return self.categorical + self.numeric

    def scored_out_of_fold(self) -> dict:
        """How many customers got an out-of-fold score (the final model was trained on
        them, so a fold model that never saw them scores them) and how many the final model
        (customers it was not trained on)."""
        by = self.customers[SCORED_BY].to_numpy()
        return {"out_of_fold": int((by >= 0).sum()), "final_model": int((by < 0).sum())}

    def evaluation(self) -> dict:
        """The JSON the `evaluate` command prints."""
        y = self.customers[CHURN]
        return {
            "dataset": self.source,
            "n_customers": int(len(self.customers)),
            "churn_rate": round(float(y.mean()), 4),
            "as_of": self.as_of,
            "cross_validation": {"folds": self.cv.n_splits, "rows": self.cv.n_rows,
                                 "sampled": self.cv.sampled, "threshold": self.cv.threshold},
            "leakage_warnings": self.leakage,
            "out_of_time_backtest": self.backtest,
            "models": {name: {k: round(v, 4) for k, v in row.items()}
                       for name, row in self.cv.summary().items()},
        }


def _stratified_sample(y: np.ndarray, max_rows: int, random_state: int) -> np.ndarray:
    idx = np.arange(len(y))
    if len(y) <= max_rows:
        return idx
    keep, _ = train_test_split(idx, train_size=max_rows, stratify=y, random_state=random_state)
    return np.sort(keep)


def scorer_assignment(customer_ids, train_ids, cv_idx: np.ndarray, fold_of: np.ndarray,
                      fit_idx: np.ndarray, n_splits: int, random_state: int) -> np.ndarray:
    """Which model scores each customer (the `scored_by` column): the fold k whose test set
    held their training row (cross-validated rows); for rows the final model was fitted on
    but cross-validation did not sample (large data), a seeded random fold, whose model never
    saw them either; -1 (the final model) for everyone the final model was not trained on."""
    by_train = np.full(len(train_ids), -1, dtype=np.int8)
    by_train[fit_idx] = np.random.default_rng(random_state).integers(0, n_splits,
                                                                      len(fit_idx))
    by_train[cv_idx] = fold_of
    where = pd.Index(pd.Series(train_ids).astype(str)).get_indexer(
        pd.Series(customer_ids).astype(str))
    return np.where(where >= 0, by_train[np.maximum(where, 0)], -1).astype(np.int8)


def tenure_bands(tenure: np.ndarray) -> pd.Categorical:
    labels = [label for _, _, label in TENURE_BANDS]
    edges = [-0.5] + [hi + 0.5 for _, hi, _ in TENURE_BANDS]
    return pd.cut(np.asarray(tenure, dtype=float), bins=edges, labels=labels)


def analyse(table: CustomerTable, settings: AnalysisSettings = AnalysisSettings(),
            progress: Progress = lambda _m: None) -> ChurnAnalysis:
    """Train, evaluate and score; every metric reported is out-of-fold."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    train = table.training
    y = train[CHURN].to_numpy().astype(int)
    cat, num = table.categorical, table.numeric

    cv_idx = _stratified_sample(y, settings.cv_max_rows, settings.random_state)
    progress("leakage check")
    leakage = leakage_check(train.iloc[cv_idx], y[cv_idx], cat, num,
                            random_state=settings.random_state)
    cv = cross_validate(train.iloc[cv_idx], y[cv_idx], cat, num, n_splits=settings.n_splits,
                        threshold=settings.threshold, random_state=settings.random_state,
                        baselines=settings.baselines, progress=progress, keep_models=True)
    cv.sampled = len(cv_idx) < len(y)
    timings["cross_validation_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    progress("final fit on all labelled customers")
    fit_idx = _stratified_sample(y, settings.train_max_rows, settings.random_state)
    iterations = int(np.median(cv.catboost_iterations)) if cv.catboost_iterations else None
    final = ChurnModel(cat, num, iterations=iterations, random_state=settings.random_state)
    final.fit(train.iloc[fit_idx], y[fit_idx])
    model = CrossFittedModel(final, cv.models)
    # Served scores are recalibrated only when the out-of-fold study says they are off
    # (ECE above 0.03 and the calibrated scores better out-of-fold too).
    study = calibration_study(cv.y, cv.oof["catboost"], random_state=settings.random_state)
    # Kept whole (less the per-row scores) for the Model page's reliability diagram.
    calibration = {"applied": bool(study["needed"]), "method": study["best"],
                   "before": study["before"],
                   "methods": {name: {k: v for k, v in result.items() if k != "scores"}
                               for name, result in study["methods"].items()}}
    if study["needed"]:
        model.calibrator_ = fit_calibrator(cv.y, cv.oof["catboost"], study["best"])
    timings["final_fit_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    progress("scoring customers")
    customers = table.customers.copy()
    customers[SCORED_BY] = scorer_assignment(customers[ID].to_numpy(), train[ID].to_numpy(),
                                             cv_idx, cv.fold_of, fit_idx, settings.n_splits,
                                             settings.random_state)
    proba = model.predict_proba(customers)
    customers[PROBABILITY] = proba.astype(np.float32)
    customers[TIER] = pd.Categorical(
        kpis.assign_tiers(proba, settings.tier_high, settings.tier_medium),
        categories=list(kpis.TIERS))
    customers[TENURE_BAND] = tenure_bands(customers[TENURE].to_numpy())
    hazard = kpis.monthly_hazard(customers[CHURN], customers[DURATION])
    # CLV from the Kaplan-Meier retention curve, conditional on each customer's tenure and
    # scaled by their churn probability (see analytics/survival.py).
    survival = fit_survival(customers[DURATION], customers[CHURN])
    customers[CLV] = survival_clv(
        survival, customers[TENURE], customers[MONTHLY], proba, margin=settings.margin,
        annual_discount=settings.annual_discount, horizon_months=settings.horizon_months,
    ).astype(np.float32)
    # Customers who already left have no lifetime value left (blank, not zero).
    customers.loc[~customers[ACTIVE].to_numpy(dtype=bool), CLV] = np.nan
    timings["scoring_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    progress("behavioural segments")
    segmentation = segment_customers(customers, proba, random_state=settings.random_state)
    customers[SEGMENT] = pd.Categorical.from_codes(segmentation.labels,
                                                   categories=segmentation.names)
    customers[OUTLIER] = segmentation.outlier
    profiles = segment_profiles(customers, segmentation, proba, customers[CLV].to_numpy())
    timings["segments_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    progress("SHAP reasons")
    shap_values, base = model.shap_values(customers)
    top = top_reason_indices(shap_values, k=len(REASON_COLUMNS))
    for slot, column in enumerate(REASON_COLUMNS):
        customers[column] = top[:, slot]
    timings["shap_s"] = time.perf_counter() - clock
    progress("done")
    return ChurnAnalysis(source=table.source, customers=customers, categorical=cat, numeric=num,
                         model=model, shap_values=shap_values, shap_base=base, cv=cv,
                         leakage=leakage, quality=table.quality.as_dict(), settings=settings,
                         hazard=hazard, train_rows=len(fit_idx), survival=survival,
                         calibration=calibration,
                         pareto_top20=pareto_share(customers.loc[customers[ACTIVE], MONTHLY]),
                         segmentation=segmentation, segment_profiles=profiles,
                         as_of=table.as_of,
                         extraction_date=table.extraction_date, timings=timings,
                         reference=train.iloc[_stratified_sample(
                             y, REFERENCE_ROWS, settings.random_state)][cat + num]
                         .reset_index(drop=True))


__all__ = ["ACTIVE", "AnalysisSettings", "ChurnAnalysis", "PROBABILITY", "TIER", "analyse"]
