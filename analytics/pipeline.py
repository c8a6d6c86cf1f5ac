"""From a customer table to scores, tiers, reasons, CLV and honest metrics, in stages.

`analyse` is the one training path: leakage check, cross-validation of CatBoost and the
baselines, the final fit on every labelled row, scoring, SHAP. It reports each stage through
a `progress` callback and does no I/O.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analytics import __version__, kpis
from analytics.dataset import (ACTIVE, CHURN, DURATION, ID, MONTHLY, SCORED_BY, TENURE,
                              CustomerTable)
from analytics.errors import ChurnLensError, DataError
from analytics.evaluation import calibration_study, fit_calibrator
from analytics.explaining import PendingShap, first_rows, waiting_attribute
from analytics.lift import behaviour_lift
from analytics.model import (ChurnModel, CrossFittedModel, CVResult, Progress, add_baselines,
                             cross_validate,
                             leakage_check, univariate_auc)
from analytics.segments import (Segmentation, extra_features, segment_customers,
                                segment_profiles)
from analytics.store import SpillsOne
from analytics.survival import SurvivalModel, fit_survival, pareto_share, survival_clv

TENURE_BANDS = ((0, 12, "0-12 months"), (13, 24, "13-24 months"), (25, 48, "25-48 months"),
                (49, 10_000, "49+ months"))
PROBABILITY = "churn_probability"
TIER = "risk_tier"
CLV = "clv"
TENURE_BAND = "tenure_band"
SEGMENT = "segment"
OUTLIER = "segment_outlier"
REFERENCE_ROWS = 50_000
# Fewer churners (or stayers) than this and there is nothing to learn from or to check a model
# on: every cross-validation fold needs a few of each, and metrics on a handful are noise.
MIN_PER_CLASS = 10
# The feature budget, which bounds training time and memory on wide files. A table within it
# is used whole; beyond it, `feature_budget` keeps the most useful features (see there).
# High-cardinality categoricals (ids, free text, numbers stored as text) dominate CatBoost's
# cost, hence their own, smaller budget.
MAX_FEATURES = 60
MAX_HIGH_CARDINALITY = 10
HIGH_CARDINALITY = 100   # distinct values from which a categorical counts as high-cardinality
SCREEN_ROWS = 20_000     # rows the univariate screen reads (a stratified sample)


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


# What analytics/scoring.py and analytics/whatif.py memoise on an analysis (`memo`).
MEMOS = ("numeric_bounds", "category_codes", "score_means", "actionable_fields",
         "has_revenue")


def memo(analysis, name: str, key: tuple, make):
    """`make()` once per analysis and `key`, kept in the analysis' __dict__ under `name` (one
    of MEMOS: never pickled). The key is what the value is made from: objects compared by
    identity (the customer table, the config), tuples of names by value."""
    cached = analysis.__dict__.get(name)
    if cached is None or len(cached[0]) != len(key) or not all(
            a is b or (isinstance(a, tuple) and a == b) for a, b in zip(cached[0], key)):
        cached = (key, make())
        analysis.__dict__[name] = cached
    return cached[1]


@dataclass
class ChurnAnalysis(SpillsOne):
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
    # The dataset config the data was read with (roles, drivers, actionable features,
    # business words), how the file was read and, when inferred, the guesses and reasons.
    config: object | None = None
    read_info: dict | None = None
    inspection: dict | None = None
    # Features left out of training, each with the reason (flagged by the leakage check).
    dropped: list[dict] = field(default_factory=list)
    # Linked tables and behavioural features (analytics/data/assemble.Behaviour), with the
    # check of what behaviour adds (analytics/lift.py).
    behaviour: object | None = None
    # What `analyse(defer=True)` left for `complete`: "baselines", "behaviour_check" and (the
    # runner's) "backtest". Empty once everything is in.
    pending: tuple[str, ...] = ()
    # Mean |SHAP| per feature (what `importance` ranks by), kept so that the first page
    # need not read the SHAP matrix.
    shap_mean: np.ndarray | None = None

    def __getstate__(self) -> dict:
        # The cross-validation sample a deferred training keeps for `complete` stays in the
        # process that trained (it is the training data again: never cached twice).
        if "_explaining" in self.__dict__:   # the whole matrix is cached: wait for it
            self.__dict__["_explaining"].resolve(self)
        state = super().__getstate__()
        state.pop("check_sample", None)
        state.pop("_ranking", None)
        for memo in MEMOS:  # remade on first use in the process that loads the analysis
            state.pop(memo, None)
        return state

    _lazy = "shap_values"

    def _spill_meta(self, shap: np.ndarray) -> dict:
        # A large SHAP matrix is cached in an entry of its own, read on first use (a
        # customer's reasons, the Model page): at 1,000,000 customers with behaviour it is
        # most of the analysis.
        return {"shape": list(shap.shape)}

    @property
    def features(self) -> list[str]:
        return self.categorical + self.numeric

    def roles(self) -> dict:
        """Which source column plays which role (from the dataset config)."""
        c = self.config
        if c is None:
            return {}
        return {"id": c.id_column, "label": c.label_column, "end_date": c.end_date_column,
                "start_date": c.begin_date_column, "revenue": list(c.revenue_columns),
                "revenue_period": c.revenue_period, "tenure": c.tenure_column,
                "tenure_unit": c.tenure_unit, "customer_word": c.customer_word,
                "currency": c.currency}

    def feature_meta(self) -> dict:
        """Behavioural feature -> its FeatureMeta (labels and reason texts); {} without."""
        return dict(self.behaviour.meta) if self.behaviour is not None else {}

    def feature_tables(self) -> dict[str, str]:
        """Every feature used and the table it came from (the main file, or a linked
        table's file)."""
        main = Path(str(self.source)).name if self.source else "customers"
        sources = {}
        behaviour = self.behaviour
        linked = behaviour.sources() if behaviour is not None else {}
        files = {t.name: t.source for t in behaviour.tables} if behaviour is not None else {}
        joined = {t.name: t.path_name for t in getattr(self.config, "tables", ())
                  if t.role == "one_to_one"}
        for feature in self.features:
            if feature in linked:
                sources[feature] = files.get(linked[feature], linked[feature])
            else:
                owner = next((f for n, f in joined.items() if feature.startswith(f"{n}_")),
                             None)
                sources[feature] = owner or main
        return sources

    def behaviour_summary(self) -> dict | None:
        b = self.behaviour
        if b is None:
            return None
        return {"as_of": b.as_of, "scored_as_of": b.now, "horizon_days": b.horizon_days,
                "tables": [{"name": t.name, "role": t.role, "file": t.source,
                            "rows": int(t.rows)} for t in b.tables],
                "features": [f for f in b.features if f in set(self.features)],
                "lift": b.lift, "warnings": list(b.warnings)}

    def importance(self) -> dict[str, float]:
        """Mean |SHAP| per feature (probability points of the raw model), largest first."""
        mean = self.shap_mean
        if mean is None or len(mean) != len(self.features):
            mean = np.abs(self.shap_values).mean(axis=0) if len(self.shap_values) else []
        pairs = sorted(zip(self.features, map(float, mean)), key=lambda p: -p[1])
        return dict(pairs)

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
            "roles": self.roles(),
            "features": list(self.features),
            "dropped_features": list(self.dropped),
            "feature_tables": self.feature_tables(),
            "behaviour": self.behaviour_summary(),
            "out_of_time_backtest": self.backtest,
            "models": {name: {k: round(v, 4) for k, v in row.items()}
                       for name, row in self.cv.summary().items()},
        }


def _has_behaviour(behaviour) -> bool:
    return behaviour is not None and bool(behaviour.meta)


def _behaviour_check(frame: pd.DataFrame, y: np.ndarray, cv, cat: list[str], num: list[str],
                     behaviour, settings: AnalysisSettings, progress: Progress) -> dict:
    return behaviour_lift(frame, y, cv.oof["catboost"], cat, num, behaviour.features,
                          n_splits=settings.n_splits, random_state=settings.random_state,
                          progress=progress)


def complete(analysis: ChurnAnalysis, table: CustomerTable | None = None,
             progress: Progress = lambda _m: None) -> dict:
    """What `analyse(defer=True)` left (the baselines and the behaviour check, on the same
    sample and folds), as a small picklable dict for `apply_completion`. `table` is the data
    the analysis was trained on; without it, the sample the training process kept. Nothing
    in it changes a score."""
    settings = analysis.settings
    if table is None:
        frame, y = analysis.check_sample
    else:
        train = table.training
        y = train[CHURN].to_numpy().astype(int)
        cv_idx = _stratified_sample(y, settings.cv_max_rows, settings.random_state)
        frame, y = train.iloc[cv_idx].reset_index(drop=True), y[cv_idx]
    cat, num = analysis.categorical, analysis.numeric
    done: dict = {}
    if "baselines" in analysis.pending:
        cv = CVResult(n_rows=analysis.cv.n_rows, n_splits=analysis.cv.n_splits,
                      threshold=analysis.cv.threshold, sampled=analysis.cv.sampled, y=y)
        add_baselines(cv, frame, cat, num, settings.baselines,
                      random_state=settings.random_state, progress=progress)
        done["baselines"] = {"oof": cv.oof, "folds": cv.folds, "overall": cv.overall}
    if "behaviour_check" in analysis.pending:
        progress("behaviour check")
        done["behaviour_check"] = _behaviour_check(frame, y, analysis.cv, cat, num,
                                                   analysis.behaviour, settings, progress)
    return done


def apply_completion(analysis: ChurnAnalysis, done: dict) -> None:
    """Lay `complete`'s results (and the runner's backtest) into the analysis; what they
    cover leaves `pending`. Each part is set whole, so a reader sees it all or none of it."""
    cv = analysis.cv
    if "baselines" in done:
        part = done["baselines"]
        cv.oof, cv.folds = {**cv.oof, **part["oof"]}, {**cv.folds, **part["folds"]}
        cv.overall = {**cv.overall, **part["overall"]}
    if "behaviour_check" in done and analysis.behaviour is not None:
        analysis.behaviour.lift = done["behaviour_check"]
    if "backtest" in done:
        analysis.backtest = done["backtest"]
    analysis.pending = tuple(name for name in analysis.pending if name not in done)
    if not analysis.pending:
        analysis.__dict__.pop("check_sample", None)


def _stratified_sample(y: np.ndarray, max_rows: int, random_state: int) -> np.ndarray:
    idx = np.arange(len(y))
    if len(y) <= max_rows:
        return idx
    from sklearn.model_selection import train_test_split  # training only
    keep, _ = train_test_split(idx, train_size=max_rows, stratify=y, random_state=random_state)
    return np.sort(keep)


def check_trainable(table: CustomerTable, y: np.ndarray, settings: AnalysisSettings,
                    sampled: np.ndarray | None = None) -> None:
    """DataError unless there are enough churned and stayed customers to learn and check a
    model: at least MIN_PER_CLASS of each (and one per cross-validation fold)."""
    if settings.n_splits < 2:
        raise ChurnLensError(f"n_splits must be at least 2 (got {settings.n_splits})")
    need = max(MIN_PER_CLASS, settings.n_splits)
    churned = int(np.sum(y == 1))
    stayed = len(y) - churned
    if min(churned, stayed) < need:
        raise DataError(f"needs at least {need} churned and {need} stayed customers to learn "
                        f"and check a model; found {churned:,} churned and {stayed:,} stayed",
                        file=table.source, column=table.label_column)
    if sampled is not None:
        few = int(min(np.sum(y[sampled] == 1), np.sum(y[sampled] == 0)))
        if few < settings.n_splits:
            raise DataError(f"the {len(sampled):,}-row stratified sample for cross-validation "
                            f"holds only {few} customers of the rarer class; {settings.n_splits}"
                            "-fold cross-validation needs one per fold", file=table.source,
                            column=table.label_column)


def feature_budget(frame: pd.DataFrame, y: np.ndarray, categorical: list[str],
                   numeric: list[str], random_state: int = 0
                   ) -> tuple[list[str], list[str], list[str]]:
    """The features to train on, within the budget, and notes saying what was left out.

    Within MAX_FEATURES features and MAX_HIGH_CARDINALITY high-cardinality categoricals, all
    are kept (Telco-like data is never touched). Beyond, a quick univariate screen ranks every
    feature by its ROC-AUC alone (the leakage check's statistic: numeric by value, categorical
    by out-of-fold churn rate, on at most SCREEN_ROWS rows); features no better than chance
    (ROC-AUC within three standard errors of 0.5: about 1 in 370 useless features passes by
    luck) are left out, and the best are kept up to the budgets (when none beats chance, the
    best within the budgets). Kept features stay in their original order."""
    features = categorical + numeric
    levels = {c: int(frame[c].nunique()) for c in categorical}
    wide = {c for c in categorical if levels[c] > HIGH_CARDINALITY}
    if len(features) <= MAX_FEATURES and len(wide) <= MAX_HIGH_CARDINALITY:
        return categorical, numeric, []
    rows = _stratified_sample(y, SCREEN_ROWS, random_state)
    auc = univariate_auc(frame.iloc[rows], y[rows], categorical, numeric, random_state)
    n1 = int(np.sum(y[rows] == 1))
    n0 = len(rows) - n1
    # Standard error of the ROC-AUC of a feature unrelated to churn (Hanley-McNeil at 0.5).
    floor = 0.5 + 3 * math.sqrt((n0 + n1 + 1) / (12 * n0 * n1))
    ranked = sorted(features, key=lambda c: -auc[c])  # stable: ties keep the file's order

    def pick(use_floor: bool) -> list[str]:
        kept, n_wide = [], 0
        for column in ranked:
            if len(kept) >= MAX_FEATURES or (use_floor and auc[column] <= floor):
                break
            if column in wide:
                if n_wide >= MAX_HIGH_CARDINALITY:
                    continue
                n_wide += 1
            kept.append(column)
        return kept

    kept = set(pick(True) or pick(False))
    left_out = [c for c in ranked if c not in kept]
    shown = ", ".join(f"{c} ({auc[c]:.3f})" for c in left_out[:8])
    more = f" and {len(left_out) - 8} more" if len(left_out) > 8 else ""
    note = (f"feature budget: {len(features)} candidate features ({len(wide)} categorical with "
            f"more than {HIGH_CARDINALITY} distinct values) exceed the budget of "
            f"{MAX_FEATURES} features, at most {MAX_HIGH_CARDINALITY} of them that "
            f"high-cardinality; kept the {len(kept)} with the highest ROC-AUC alone "
            f"(univariate screen), leaving out those no better than chance (ROC-AUC <= "
            f"{floor:.3f}) and the rest: {shown}{more}. The screen saw the labels of every "
            "row, so the cross-validated metrics of this file may be slightly optimistic; to "
            "choose the features yourself, delete the columns you do not want from the file")
    return ([c for c in categorical if c in kept], [c for c in numeric if c in kept], [note])


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


def _pareto(customers: pd.DataFrame) -> float | None:
    """The revenue share of the top 20% of active customers (None without revenue)."""
    monthly = customers.loc[customers[ACTIVE], MONTHLY]
    if not np.isfinite(monthly.to_numpy(dtype=float)).any():
        return None
    return pareto_share(monthly.fillna(0.0))


def tenure_bands(tenure: np.ndarray) -> pd.Categorical:
    labels = [label for _, _, label in TENURE_BANDS]
    edges = [-0.5] + [hi + 0.5 for _, hi, _ in TENURE_BANDS]
    return pd.cut(np.asarray(tenure, dtype=float), bins=edges, labels=labels)


def analyse(table: CustomerTable, settings: AnalysisSettings = AnalysisSettings(),
            progress: Progress = lambda _m: None, defer: bool = False,
            explain_later: bool = False) -> ChurnAnalysis:
    """Train, evaluate and score; every metric reported is out-of-fold.

    With `defer`, what no score depends on is left for `complete` (the analysis lists it in
    `pending`): the baselines' cross-validation and the behaviour check. The CatBoost folds,
    the final model, the calibration decision, the scores, SHAP and the segments are the same
    either way, so completing later never changes a served score.

    With `explain_later`, a table of more than explaining.SAMPLE_ROWS rows is returned with
    its SHAP matrix pending (`analysis.__dict__["_explaining"]`, a PendingShap whose `run`
    the caller starts): reading `shap_values`/`shap_base` waits for it."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    train = table.training
    y = train[CHURN].to_numpy().astype(int)
    check_trainable(table, y, settings)
    cv_idx = _stratified_sample(y, settings.cv_max_rows, settings.random_state)
    check_trainable(table, y, settings, sampled=cv_idx)
    cat, num, budget_notes = feature_budget(train.iloc[cv_idx], y[cv_idx], table.categorical,
                                            table.numeric, settings.random_state)
    quality = table.quality.as_dict()
    quality["notes"] += budget_notes
    if budget_notes:
        progress(f"feature budget: training on {len(cat) + len(num)} of "
                 f"{len(table.features)} features (see the data-quality notes)")
    progress("leakage check")
    leakage = leakage_check(train.iloc[cv_idx], y[cv_idx], cat, num,
                            random_state=settings.random_state)
    config = table.config
    dropped = []
    if leakage and not (config is not None and config.keep_flagged):
        # A feature that alone all but gives the answer away is known after the outcome;
        # training on it makes every metric meaningless. Left out, with the reason shown.
        flagged = {w["feature"] for w in leakage}
        if len(flagged) >= len(cat) + len(num):
            raise DataError("every feature is flagged by the leakage check (each alone "
                            "predicts churn almost perfectly); nothing honest is left to "
                            "learn from: set [features] keep_flagged = true to train on them "
                            "anyway", file=table.source)
        cat = [c for c in cat if c not in flagged]
        num = [c for c in num if c not in flagged]
        for warning in leakage:
            warning["dropped"] = True
            warning["message"] += "; left out of training"
            dropped.append({"feature": warning["feature"], "reason": warning["message"]})
        progress(f"left out {len(flagged)} leaking feature(s): {', '.join(sorted(flagged))}")
    cv = cross_validate(train.iloc[cv_idx], y[cv_idx], cat, num, n_splits=settings.n_splits,
                        threshold=settings.threshold, random_state=settings.random_state,
                        baselines=() if defer else settings.baselines, progress=progress,
                        keep_models=True)
    cv.sampled = len(cv_idx) < len(y)
    timings["cross_validation_s"] = time.perf_counter() - clock
    behaviour = table.behaviour
    pending = []
    if defer:
        pending = [name for name, due in (("baselines", bool(settings.baselines)),
                                          ("behaviour_check", _has_behaviour(behaviour)))
                   if due]
    elif _has_behaviour(behaviour):
        clock = time.perf_counter()
        behaviour.lift = _behaviour_check(train.iloc[cv_idx], y[cv_idx], cv, cat, num,
                                          behaviour, settings, progress)
        timings["behaviour_check_s"] = time.perf_counter() - clock

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
    has_tenure = bool(np.isfinite(customers[DURATION].to_numpy(dtype=float)).all())
    hazard = (kpis.monthly_hazard(customers[CHURN], customers[DURATION]) if has_tenure
              else math.nan)
    # CLV from the Kaplan-Meier retention curve, conditional on each customer's tenure and
    # scaled by their churn probability (see analytics/survival.py). Without a tenure there
    # is no retention curve: no CLV either (blank, never a guess).
    survival = fit_survival(customers[DURATION], customers[CHURN]) if has_tenure else None
    customers[CLV] = (survival_clv(
        survival, customers[TENURE], customers[MONTHLY], proba, margin=settings.margin,
        annual_discount=settings.annual_discount, horizon_months=settings.horizon_months,
    ) if has_tenure else np.full(len(customers), np.nan)).astype(np.float32)
    # Customers who already left have no lifetime value left (blank, not zero).
    customers.loc[~customers[ACTIVE].to_numpy(dtype=bool), CLV] = np.nan
    timings["scoring_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    progress("SHAP reasons")
    cat_num = cat + num
    # Mean |SHAP| (the importance, the segments' drivers) from a seeded sample of a large
    # table; the other rows' reasons are explained after serving (analytics/explaining.py).
    first = first_rows(len(customers), settings.random_state)
    shap_values, base = model.shap_values(customers if first is None
                                          else customers.iloc[first])
    timings["shap_s"] = time.perf_counter() - clock
    clock = time.perf_counter()
    progress("behavioural segments")
    # Other businesses' data: segmented on tenure, revenue and the top numeric drivers.
    mean_shap = np.abs(shap_values).mean(axis=0)
    ranked = [cat_num[j] for j in np.argsort(-mean_shap)] if len(mean_shap) else []
    roles = (config.tenure_column, *config.revenue_columns) if config is not None else ()
    extra = extra_features(customers, ranked, exclude=roles,
                           behaviour=behaviour.features if behaviour is not None else ())
    segmentation = segment_customers(customers, proba, random_state=settings.random_state,
                                     extra=extra)
    customers[SEGMENT] = pd.Categorical.from_codes(segmentation.labels,
                                                   categories=segmentation.names)
    customers[OUTLIER] = segmentation.outlier
    profiles = segment_profiles(customers, segmentation, proba, customers[CLV].to_numpy())
    timings["segments_s"] = time.perf_counter() - clock

    progress("done")
    analysis = ChurnAnalysis(source=table.source, customers=customers, categorical=cat, numeric=num,
                         model=model, shap_values=shap_values if first is None else None,
                         shap_base=base if first is None else None, cv=cv,
                         shap_mean=mean_shap,
                         leakage=leakage, quality=quality, settings=settings,
                         hazard=hazard, train_rows=len(fit_idx), survival=survival,
                         calibration=calibration,
                         pareto_top20=_pareto(customers),
                         segmentation=segmentation, segment_profiles=profiles,
                         as_of=table.as_of, config=config, read_info=table.read_info,
                         inspection=table.inspection, dropped=dropped, behaviour=behaviour,
                         extraction_date=table.extraction_date, timings=timings,
                         pending=tuple(pending),
                         reference=train.iloc[_stratified_sample(
                             y, REFERENCE_ROWS, settings.random_state)][cat + num]
                         .reset_index(drop=True))
    if pending:   # what `complete` works on, kept in this process only (see __getstate__)
        analysis.check_sample = (train.iloc[cv_idx].reset_index(drop=True), y[cv_idx])
    if first is not None:
        explaining = PendingShap(first, shap_values, base)
        for name in ("shap_values", "shap_base"):
            analysis.__dict__.pop(name)
        analysis.__dict__["_explaining"] = explaining
        if not explain_later:
            clock = time.perf_counter()
            explaining.run(model, customers, progress)
            timings["shap_s"] += time.perf_counter() - clock
            explaining.resolve(analysis)
    return analysis


def _recommendations(analysis: ChurnAnalysis) -> pd.DataFrame | None:
    ranking = analysis.__dict__.get("_ranking")   # offers ranked in the background
    if ranking is not None:
        ranking.wait()
    return analysis.__dict__.get("recommendations")


def _set_recommendations(analysis: ChurnAnalysis, value: pd.DataFrame | None) -> None:
    analysis.__dict__["recommendations"] = value


# The best offer per customer: waits while they are ranked (runner.attach_recommendations).
ChurnAnalysis.recommendations = property(_recommendations, _set_recommendations)
# The SHAP matrix: waits while the rows after the sample are explained (explaining.py).
ChurnAnalysis.shap_values = waiting_attribute("shap_values")
ChurnAnalysis.shap_base = waiting_attribute("shap_base")

__all__ = ["ACTIVE", "AnalysisSettings", "ChurnAnalysis", "PROBABILITY", "TIER", "analyse"]
