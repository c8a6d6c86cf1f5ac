"""The model: honest CV, SHAP additivity, determinism, the leakage check, reasons."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.dataset import CHURN, SCORED_BY
from analytics.explain import (probability_points, reason_columns, reason_indices, sigmoid,
                               top_reason_indices)
from analytics.loaders import load_demo
from analytics.model import ChurnModel, cross_validate, leakage_check
from analytics.pipeline import (PROBABILITY, TIER, AnalysisSettings,
                                analyse)

FAST = AnalysisSettings(n_splits=3, baselines=("logistic_regression",))


@pytest.fixture(scope="module")
def table():
    return load_demo(1500, seed=5)


@pytest.fixture(scope="module")
def analysis(table):
    return analyse(table, FAST)


def test_analysis_scores_every_customer(analysis, table):
    c = analysis.customers
    assert len(c) == len(table.customers)
    assert c[PROBABILITY].between(0, 1).all()
    assert set(c[TIER].astype(str)) <= {"High", "Medium", "Low"}
    high = c[c[TIER] == "High"][PROBABILITY]
    assert (high >= 0.5).all()


def test_cv_metrics_are_out_of_fold_and_realistic(analysis):
    summary = analysis.cv.summary()
    assert set(summary) == {"catboost", "logistic_regression"}
    auc = summary["catboost"]["roc_auc"]
    # Demo data is calibrated to look like the real thing: good but far from perfect.
    assert 0.75 < auc < 0.92
    assert summary["catboost"]["roc_auc_fold_std"] > 0
    # The served scores of customers trained on are their out-of-fold scores, so their AUC
    # is the out-of-fold AUC; the final model's own in-sample scores would look better.
    from sklearn.metrics import roc_auc_score
    y = analysis.customers[CHURN]
    assert roc_auc_score(y, analysis.customers[PROBABILITY]) == pytest.approx(auc, abs=1e-4)
    in_sample = analysis.model.final.predict_proba(analysis.customers)
    assert roc_auc_score(y, in_sample) > auc + 0.01


def test_served_scores_of_training_rows_are_the_out_of_fold_scores(analysis):
    c = analysis.customers
    assert (c[SCORED_BY] >= 0).all()  # no dates: every customer was trained on
    oof = analysis.cv.oof["catboost"]
    calibrator = analysis.model.calibrator_
    expected = oof if calibrator is None else calibrator.predict(oof)
    np.testing.assert_allclose(c[PROBABILITY].to_numpy(dtype=float), expected, atol=1e-6)
    # Each fold's model scored exactly the rows of its test fold.
    np.testing.assert_array_equal(c[SCORED_BY].to_numpy(), analysis.cv.fold_of)
    assert analysis.scored_out_of_fold() == {"out_of_fold": len(c), "final_model": 0}


def test_new_customers_get_the_final_model(analysis):
    fresh = analysis.customers.drop(columns=[SCORED_BY]).head(20)
    raw = analysis.model.final.raw_proba(fresh)
    calibrator = analysis.model.calibrator_
    expected = raw if calibrator is None else calibrator.predict(raw)
    np.testing.assert_allclose(analysis.model.predict_proba(fresh), expected, atol=1e-9)


def test_shap_in_blocks_equals_catboosts_public_call(analysis, monkeypatch):
    import analytics.model as model_module
    from analytics.model import to_pool

    final = analysis.model.final
    rows = analysis.customers.head(700)
    public = final.estimator_.get_feature_importance(
        to_pool(rows, final.categorical, final.numeric), type="ShapValues")
    monkeypatch.setattr(model_module, "SHAP_BLOCK", 300)   # three blocks: 300, 300, 100
    values, base = final.shap_values(rows)
    assert values.shape == (700, public.shape[1] - 1) and values.dtype == np.float32
    np.testing.assert_allclose(values, public[:, :-1], atol=1e-6)
    assert base == pytest.approx(public[0, -1])
    # The public call is the fallback when CatBoost's internal one is not as expected (here
    # its first answer of each block has the wrong shape; the public call then asks again).
    real, calls = type(final.estimator_)._calc_fstr, []

    def odd(self, *args):
        calls.append(1)
        return ([[1.0]], []) if len(calls) % 2 else real(self, *args)
    monkeypatch.setattr(type(final.estimator_), "_calc_fstr", odd)
    again, _ = final.shap_values(rows)
    np.testing.assert_array_equal(again, values)
    assert len(calls) == 6


def test_shap_values_add_up_to_the_raw_prediction(analysis):
    raw = analysis.model.raw_score(analysis.customers)
    total = analysis.shap_values.sum(axis=1, dtype=np.float64) + analysis.shap_base
    np.testing.assert_allclose(total, raw, atol=1e-3)
    # SHAP adds up to CatBoost's own probability (the served one may be recalibrated).
    np.testing.assert_allclose(sigmoid(total), analysis.model.raw_proba(analysis.customers),
                               atol=1e-3)


def test_probability_points_add_up_to_the_prediction(analysis):
    points = probability_points(analysis.shap_values, analysis.shap_base)
    p0 = sigmoid(analysis.shap_base)
    np.testing.assert_allclose(p0 + points.sum(axis=1) / 100,
                               analysis.model.raw_proba(analysis.customers), atol=1e-3)


def test_top_reasons_are_the_largest_positive_contributions():
    shap = np.array([[0.1, -0.5, 0.7, 0.0], [-0.1, -0.2, -0.3, -0.4]], dtype=np.float32)
    idx = top_reason_indices(shap, k=3)
    assert idx[0].tolist() == [2, 0, -1]
    assert idx[1].tolist() == [-1, -1, -1]
    # Always three slots: -1 beyond the features of a two-feature file.
    assert reason_indices(shap[:, :2]).tolist() == [[0, -1, -1], [-1, -1, -1]]


def test_reason_texts_are_plain_language(analysis):
    rows = analysis.customers.head(5)
    idx = reason_indices(analysis.shap_values[:5])
    points = probability_points(analysis.shap_values[:5], analysis.shap_base[:5])
    texts = reason_columns(rows, analysis.features, idx, points).iloc[0].tolist()
    first = next(t for t in texts if t)
    assert first.endswith(" pts") and "_" not in first.split(":")[0]


def test_training_is_deterministic(table):
    a = ChurnModel(table.categorical, table.numeric, iterations=60).fit(
        table.training, table.training[CHURN])
    b = ChurnModel(table.categorical, table.numeric, iterations=60).fit(
        table.training, table.training[CHURN])
    np.testing.assert_array_equal(a.predict_proba(table.customers),
                                  b.predict_proba(table.customers))


def test_same_folds_for_every_model(table):
    y = table.training[CHURN].to_numpy()
    result = cross_validate(table.training, y, table.categorical, table.numeric, n_splits=3,
                            model_params={"iterations": 50},
                            baselines=("logistic_regression", "random_forest"))
    for name in ("catboost", "logistic_regression", "random_forest"):
        assert len(result.folds[name]) == 3
        assert result.oof[name].min() >= 0 and result.oof[name].max() <= 1


def test_leakage_check_flags_a_leaky_feature(table):
    frame = table.training.copy()
    y = frame[CHURN].to_numpy()
    rng = np.random.default_rng(0)
    frame["days_since_cancellation"] = np.where(y == 1, rng.integers(0, 30, len(y)), -1)
    frame["cancel_reason"] = np.where(y == 1, "price", "none")
    warnings = leakage_check(frame, y, table.categorical + ["cancel_reason"],
                             table.numeric + ["days_since_cancellation"])
    flagged = {w["feature"] for w in warnings}
    assert flagged == {"days_since_cancellation", "cancel_reason"}
    assert all(w["auc"] > 0.9 for w in warnings)


def test_leakage_check_quiet_on_honest_features(table):
    y = table.training[CHURN].to_numpy()
    assert leakage_check(table.training, y, table.categorical, table.numeric) == []


def test_category_columns_become_the_same_text_as_astype_str():
    import pandas as pd
    from analytics.model import _as_str
    for values in (["a", "b", None, "a"], [1, 2, 2, None], [1.5, None, 2.0, 1.5],
                   [True, False, None, True]):
        series = pd.Series(values, dtype="category")
        assert list(_as_str(series)) == list(series.astype(str))
    plain = pd.Series(["x", None, 3], dtype=object)
    assert list(_as_str(plain)) == list(plain.astype(str))
    empty = pd.Series([None, None], dtype="category")
    assert list(_as_str(empty)) == ["nan", "nan"]
