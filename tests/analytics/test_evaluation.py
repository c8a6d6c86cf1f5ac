"""Curves, calibration, thresholds by cost and drift on inputs whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analytics.evaluation import (PSI_ALERT, calibration_study, rank_auc, churn_by_bins, confusion,
                                  cost_curve, counts_by_threshold, deciles, drift_table,
                                  pr_points, psi, reliability, roc_points,
                                  threshold_for_recall, threshold_grid)

Y = np.array([1, 1, 1, 0, 0, 0, 0, 0, 1, 0])
P = np.array([0.9, 0.8, 0.35, 0.7, 0.3, 0.2, 0.1, 0.05, 0.6, 0.4])


def test_rank_auc_is_sklearns_roc_auc_ties_included():
    from sklearn.metrics import roc_auc_score
    rng = np.random.default_rng(3)
    for n in (7, 400, 5000):
        y = rng.integers(0, 2, n)
        for score in (rng.normal(size=n), rng.integers(0, 4, n).astype(float)):  # ties
            assert rank_auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert rank_auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert rank_auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5
    with pytest.raises(ValueError, match="both outcomes"):
        rank_auc([1, 1, 1], [0.1, 0.2, 0.3])


def test_confusion_by_hand():
    c = confusion(Y, P, 0.5)
    # flagged: 0.9, 0.8, 0.7, 0.6 -> churners 0.9, 0.8, 0.6; the stayer 0.7
    assert (c["tp"], c["fp"], c["fn"], c["tn"]) == (3, 1, 1, 5)
    assert c["recall"] == pytest.approx(0.75) and c["precision"] == pytest.approx(0.75)
    assert c["flagged"] == 4


def test_counts_by_threshold_match_one_by_one():
    grid = threshold_grid(0.05)
    counts = counts_by_threshold(Y, P, grid)
    for i, t in enumerate(grid):
        c = confusion(Y, P, t)
        assert [counts[k][i] for k in ("tp", "fp", "fn", "tn")] == \
            [c["tp"], c["fp"], c["fn"], c["tn"]], t


def test_cost_curve_and_cheapest_threshold_by_hand():
    # Missing a churner costs 100, a false alarm 10 (n = 10 customers).
    curve = cost_curve(Y, P, missed_cost=100, false_alarm_cost=10,
                       thresholds=np.array([0.0, 0.3, 0.5, 0.95]))
    # t=0: 6 false alarms -> 60/10; t=0.3: fp 0.3,0.4,0.7 = 3, fn 0 -> 30/10
    # t=0.5: fp 1, fn 1 -> 110/10; t=0.95: fn 4 -> 400/10
    assert curve["cost"] == pytest.approx([6.0, 3.0, 11.0, 40.0])
    assert curve["best_threshold"] == 0.3 and curve["best_cost"] == pytest.approx(3.0)
    assert curve["cost_flag_none"] == pytest.approx(40.0)
    assert curve["cost_flag_all"] == pytest.approx(6.0)


def test_cheap_false_alarms_push_the_threshold_down():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=5000)
    y = (rng.uniform(size=5000) < p).astype(int)
    cheap = cost_curve(y, p, missed_cost=500, false_alarm_cost=5)["best_threshold"]
    dear = cost_curve(y, p, missed_cost=50, false_alarm_cost=50)["best_threshold"]
    # Calibrated scores: flag when p x missed > (1 - p) x alarm, i.e. p > alarm/(alarm+missed)
    assert cheap == pytest.approx(5 / 505, abs=0.03)
    assert dear == pytest.approx(0.5, abs=0.05)


def test_threshold_for_recall():
    # Churner scores 0.9, 0.8, 0.6, 0.35: catching 3 of 4 needs t <= 0.6; all 4 needs 0.35.
    assert threshold_for_recall(Y, P, 0.75) == pytest.approx(0.6)
    assert threshold_for_recall(Y, P, 1.0) == pytest.approx(0.35)
    assert confusion(Y, P, threshold_for_recall(Y, P, 0.8))["recall"] >= 0.8


def test_reliability_and_ece_by_hand():
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    p = np.array([0.1, 0.1, 0.1, 0.1, 0.9, 0.9, 0.9, 0.9])
    rel = reliability(y, p, bins=10)
    assert [b["n"] for b in rel["bins"]] == [4, 4]
    assert [b["observed"] for b in rel["bins"]] == [0.25, 0.75]
    assert rel["ece"] == pytest.approx(0.5 * 0.15 + 0.5 * 0.15)
    assert all(b["lo"] <= b["observed"] <= b["hi"] for b in rel["bins"])


def test_calibration_fixes_distorted_scores_and_leaves_good_ones():
    rng = np.random.default_rng(1)
    truth = rng.uniform(0.02, 0.98, size=20000)
    y = (rng.uniform(size=truth.size) < truth).astype(int)
    good = calibration_study(y, truth)
    assert not good["needed"] and good["before"]["ece"] < 0.03
    distorted = truth ** 2.5   # scores far too low
    study = calibration_study(y, distorted)
    assert study["needed"]
    best = study["methods"][study["best"]]
    assert best["ece"] < 0.03 < study["before"]["ece"]
    assert best["brier"] < study["before"]["brier"]


def test_curves_and_deciles():
    rng = np.random.default_rng(2)
    p = rng.uniform(size=1000)
    y = (rng.uniform(size=1000) < p).astype(int)
    roc = roc_points(y, p)
    assert roc["fpr"][0] == 0 and roc["tpr"][-1] == 1 and 0.7 < roc["auc"] < 0.9
    assert len(roc["fpr"]) <= 200
    pr = pr_points(y, p)
    assert pr["base_rate"] == pytest.approx(y.mean())
    rows = deciles(y, p)
    assert len(rows) == 10 and sum(r["n"] for r in rows) == 1000
    assert rows[-1]["recall"] == pytest.approx(1.0) and rows[-1]["gains"] == pytest.approx(1.0)
    assert rows[0]["lift"] > 1.5 > rows[-1]["lift"]
    assert rows[0]["rate"] > rows[-1]["rate"]


def test_psi_known_values():
    rng = np.random.default_rng(3)
    base = rng.normal(size=20000)
    assert psi(base, rng.normal(size=20000)) < 0.01
    assert psi(base, rng.normal(loc=1.0, size=20000)) > PSI_ALERT
    # Categorical by hand: 50/50 -> 80/20: (0.3 ln(0.8/0.5)) + (-0.3 ln(0.2/0.5))
    expected = 0.3 * math.log(0.8 / 0.5) + (-0.3) * math.log(0.2 / 0.5)
    assert psi(["a"] * 50 + ["b"] * 50, ["a"] * 80 + ["b"] * 20, categorical=True) == \
        pytest.approx(expected)


def test_drift_table_levels():
    import pandas as pd
    rng = np.random.default_rng(4)
    reference = pd.DataFrame({"x": rng.normal(size=5000), "c": ["a", "b"] * 2500})
    current = pd.DataFrame({"x": rng.normal(loc=2, size=5000), "c": ["a", "b"] * 2500})
    rows = drift_table(reference, current, ["c"], ["x"])
    assert rows[0]["feature"] == "x" and rows[0]["level"] == "large"
    assert rows[1]["feature"] == "c" and rows[1]["level"] == "ok"


def test_churn_by_bins():
    values = np.arange(100, dtype=float)
    y = (values >= 50).astype(int)
    rows = churn_by_bins(values, y, categorical=False)
    assert len(rows) == 10 and sum(r["n"] for r in rows) == 100
    assert rows[0]["rate"] == 0 and rows[-1]["rate"] == 1
    cats = churn_by_bins(["x", "y", "x", "y"], [1, 0, 1, 1], categorical=True)
    assert [(r["group"], r["rate"]) for r in cats] == [("x", 1.0), ("y", 0.5)]


def test_analysis_recalibrates_served_scores_only_when_needed(monkeypatch):
    """When the out-of-fold study says the scores are off, every served probability (table,
    API, what-if, offers) goes through the calibrator; otherwise nothing changes."""
    import analytics.pipeline as pipeline
    from analytics.evaluation import calibration_study as real_study
    from analytics.loaders import load_demo
    from analytics.pipeline import PROBABILITY, AnalysisSettings, analyse

    fast = AnalysisSettings(n_splits=3, baselines=())
    table = load_demo(900, seed=11)
    plain = analyse(table, fast)
    assert plain.calibration["applied"] is False
    np.testing.assert_allclose(plain.model.predict_proba(plain.customers),
                               plain.model.raw_proba(plain.customers))

    def forced(y, p, **kwargs):
        return {**real_study(y, p, **kwargs), "needed": True, "best": "isotonic"}

    monkeypatch.setattr(pipeline, "calibration_study", forced)
    calibrated = analyse(table, fast)
    assert calibrated.calibration == {**calibrated.calibration, "applied": True,
                                      "method": "isotonic"}
    raw = calibrated.model.raw_proba(calibrated.customers)
    served = calibrated.customers[PROBABILITY].to_numpy()
    expected = calibrated.model.calibrator_.predict(raw)
    np.testing.assert_allclose(served, expected, atol=1e-6)
    assert not np.allclose(served, raw, atol=1e-3)


def test_calibrators_predict_as_scikit_learn_does_without_it_when_served():
    """Fitted with scikit-learn, kept as plain numbers (a served model imports no sklearn)."""
    import pickle

    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    from analytics.evaluation import IsotonicCalibrator, PlattCalibrator, _logit
    rng = np.random.default_rng(0)
    p = rng.random(5000)
    y = (rng.random(5000) < p ** 1.5).astype(int)
    q = np.r_[rng.random(1000), 0.0, 1.0, 1e-9]
    iso = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(p, y)
    np.testing.assert_allclose(IsotonicCalibrator().fit(p, y).predict(q), iso.predict(q))
    platt = LogisticRegression(C=1e6).fit(_logit(p)[:, None], y)
    np.testing.assert_allclose(PlattCalibrator().fit(p, y).predict(q),
                               platt.predict_proba(_logit(q)[:, None])[:, 1], rtol=1e-12)
    for calibrator in (IsotonicCalibrator().fit(p, y), PlattCalibrator().fit(p, y)):
        assert b"sklearn" not in pickle.dumps(calibrator)
