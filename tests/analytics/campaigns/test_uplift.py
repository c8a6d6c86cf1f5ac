"""Uplift ranking: Qini and uplift curves by hand, tie invariance, AUUC, learners, comparison."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from analytics.campaigns.uplift import (ClassTransformationUplift, TwoModelUplift, auuc,
                                        compare_rankings, qini_curve, uplift_curve)
from analytics.errors import ChurnLensError

# Eight rows, sorted by score; rows 4 and 5 tie at 0.6. y = 1 is retained.
SCORE = np.array([0.9, 0.8, 0.7, 0.6, 0.6, 0.4, 0.3, 0.2])
T = np.array([1, 0, 1, 0, 1, 0, 1, 0])
Y = np.array([1, 0, 1, 1, 0, 0, 0, 0])


def test_qini_curve_by_hand():
    # k  N_t R_t N_c R_c   Q = R_t - R_c N_t / N_c
    # 1   1   1   0   0    0 (no control row yet)
    # 2   1   1   1   0    1
    # 3   2   2   1   0    2
    # 5   3   2   2   1    2 - 1*3/2 = 0.5   (end of the tie block of rows 4-5)
    # 4   interpolated     (2 + 0.5) / 2 = 1.25
    # 6   3   2   3   1    2 - 1 = 1
    # 7   4   2   3   1    2 - 4/3 = 0.666667
    # 8   4   2   4   1    2 - 1 = 1
    x, q = qini_curve(Y, T, SCORE)
    assert x.tolist() == list(range(9))
    assert q == pytest.approx([0, 0, 1, 2, 1.25, 0.5, 1, 2 / 3, 1])


def test_uplift_curve_by_hand():
    # (R_t/N_t - R_c/N_c) * k: k=2: (1 - 0) * 2 = 2; k=3: (1 - 0) * 3 = 3;
    # k=5: (2/3 - 1/2) * 5 = 0.833333; k=4: (3 + 0.833333)/2 = 1.916667; k=6: (2/3 - 1/3) * 6 = 2;
    # k=7: (2/4 - 1/3) * 7 = 1.166667; k=8: (2/4 - 1/4) * 8 = 2
    x, u = uplift_curve(Y, T, SCORE)
    assert u == pytest.approx([0, 0, 2, 3, 1.916667, 0.833333, 2, 1.166667, 2], abs=1e-6)


def test_ties_do_not_depend_on_row_order():
    # Swapping the tied rows 4 and 5 would move a row-by-row curve at k=4 from
    # 2 - 1*2/2 = 1 (control first) to 2 - 0 = 2 (treated first); block evaluation gives 1.25.
    swap = [0, 1, 2, 4, 3, 5, 6, 7]
    assert qini_curve(Y[swap], T[swap], SCORE[swap])[1] == pytest.approx(qini_curve(Y, T, SCORE)[1])
    # a larger case with heavy ties (5 distinct scores), rows shuffled several times
    rng = np.random.default_rng(7)
    n = 300
    y, t, s = rng.integers(0, 2, n), rng.integers(0, 2, n), rng.integers(0, 5, n) / 4
    _, q = qini_curve(y, t, s)
    _, u = uplift_curve(y, t, s)
    for _ in range(5):
        p = rng.permutation(n)
        assert qini_curve(y[p], t[p], s[p])[1] == pytest.approx(q, abs=1e-12)
        assert uplift_curve(y[p], t[p], s[p])[1] == pytest.approx(u, abs=1e-12)


def test_auuc_by_hand():
    # Q = 0, 0, 1, 2, 1.25, 0.5, 1, 2/3, 1 at x = 0, 1/8, ..., 1 (trapezoids of width 1/8):
    # sum of pair means = 0 + 0.5 + 1.5 + 1.625 + 0.875 + 0.75 + 0.833333 + 0.833333 = 83/12
    # qini_area = 83/12 / 8 = 83/96 = 0.864583; random_area = Q(8)/2 = 0.5;
    # coefficient = 83/96 - 48/96 = 35/96 = 0.364583.
    # Oracle order: one control non-responder (row 2), the treated responders (1, 3), the
    # treated non-responders (5, 7), the other control non-responders (6, 8), the control
    # responder (4): Q = 0, 0, 1, 2, 2, 2, 2, 2, 1 -> area (0 + .5 + 1.5 + 2*4 + 1.5)/8 = 1.4375,
    # coefficient 1.4375 - 0.5 = 0.9375 = 90/96 -> normalized = 35/90 = 0.388889
    a = auuc(Y, T, SCORE)
    assert a["qini_area"] == pytest.approx(83 / 96)
    assert a["random_area"] == pytest.approx(0.5)
    assert a["qini_coefficient"] == pytest.approx(35 / 96)
    assert a["normalized"] == pytest.approx(35 / 90)
    assert auuc(Y, T, SCORE, normalize=False)["normalized"] is None
    # the oracle ordering itself scores normalized = 1
    oracle = np.array([7, 8, 6, 1, 5, 3, 4, 2], dtype=float)  # higher = earlier (see above)
    assert auuc(Y, T, oracle)["normalized"] == pytest.approx(1.0)


@pytest.mark.parametrize("y, t, s", [
    ([1, 2, 0, 1], [1, 0, 1, 0], [0.1, 0.2, 0.3, 0.4]),    # y not 0/1
    ([1, 0, 0], [1, 0, 1, 0], [0.1, 0.2, 0.3, 0.4]),       # lengths differ
    ([1, 0, 0, 1], [1, 1, 1, 1], [0.1, 0.2, 0.3, 0.4]),    # no control row
    ([1, 0, 0, 1], [1, 0, 1, 0], [0.1, np.nan, 0.3, 0.4]),  # missing score
])
def test_curve_input_errors(y, t, s):
    with pytest.raises(ChurnLensError):
        qini_curve(y, t, s)


def _cells() -> pd.DataFrame:
    """Exact cell rates, a quarter treated (retained of members per group and arm)."""
    rows = []  # (group, treated, members, retained)
    for g, t, n, kept in (("a", 1, 40, 32), ("a", 0, 120, 60), ("b", 1, 40, 20), ("b", 0, 120, 60)):
        rows += [(g, t, 1)] * kept + [(g, t, 0)] * (n - kept)
    return pd.DataFrame(rows, columns=["g", "t", "y"])


NEW = pd.DataFrame({"g": ["a", "b"]})


def test_two_model_recovers_cell_uplift():
    # true uplift: a 32/40 - 60/120 = 0.8 - 0.5 = 0.3; b 0.5 - 0.5 = 0. The tolerance 0.03
    # leaves room for the shrinkage of CatBoost's leaf values on 40-row cells.
    f = _cells()
    model = TwoModelUplift(iterations=200).fit(f[["g"]], f["t"], f["y"])
    assert model.cat_features_ == ["g"]
    assert model.predict_uplift(NEW) == pytest.approx([0.3, 0.0], abs=0.03)


def test_class_transformation_reweights_an_unequal_split():
    # z = 1 for treated retained and control churned. Unweighted, P(z=1 | a) =
    # (32 + 60) / 160 = 0.575 -> 2*0.575 - 1 = 0.15, half the true 0.3. With weights 0.5/0.25 = 2
    # (treated) and 0.5/0.75 = 2/3 (control): P_w(z=1 | a) = (2*32 + 2/3*60) / (2*40 + 2/3*120)
    # = 104/160 = 0.65 -> 0.3; b: (2*20 + 40) / 160 = 0.5 -> 0.
    f = _cells()
    model = ClassTransformationUplift(iterations=200).fit(f[["g"]], f["t"], f["y"])
    assert model.propensity_ == pytest.approx(0.25)
    assert model.predict_uplift(NEW) == pytest.approx([0.3, 0.0], abs=0.03)


def test_learners_follow_estimator_conventions_and_check_input():
    model = TwoModelUplift(iterations=10, depth=2, random_state=5)
    assert clone(model).get_params()["random_state"] == 5
    with pytest.raises(ChurnLensError, match="not fitted"):
        model.predict_uplift(NEW)
    f = _cells()
    few = f[(f["t"] == 0) | (f.index % 10 == 0)]  # 8 treated rows
    with pytest.raises(ChurnLensError, match="at least 20 treated"):
        TwoModelUplift(iterations=10).fit(few[["g"]], few["t"], few["y"])
    one_class = f.assign(y=np.where(f["t"] == 1, 1, f["y"]))
    with pytest.raises(ChurnLensError, match="same outcome"):
        ClassTransformationUplift(iterations=10).fit(one_class[["g"]], one_class["t"],
                                                     one_class["y"])
    fitted = TwoModelUplift(iterations=10).fit(f[["g"]], f["t"], f["y"])
    with pytest.raises(ChurnLensError, match="lacks"):
        fitted.predict_uplift(pd.DataFrame({"h": ["a"]}))


def _campaign(effect: float, seed: int = 0, n: int = 4000):
    """Random half treated; churn 0.45 + 0.3 x2 (risk), cut by `effect` only where x1 > 0.5.

    The risk (the true p0) says nothing about who responds, so ranking by it is random
    targeting; x1 drives the uplift."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.uniform(size=n), rng.uniform(size=n)
    t = rng.integers(0, 2, n)
    p0 = 0.45 + 0.3 * x2
    churned = rng.uniform(size=n) < p0 - t * effect * (x1 > 0.5)
    X = pd.DataFrame({"x1": x1, "x2": x2, "plan": rng.choice(["month", "year", "two"], n)})
    return X, t, 1 - churned.astype(int), p0


# Noise scale of a Qini coefficient at n = 4000 with no signal: Q(n) has an SD of about
# sqrt(n)/2 = 31.6 customers (each arm ~2000, retention variance <= 0.25), and the coefficient,
# the area between the curve and its chord, behaves like the integral of a Brownian bridge:
# SD = 31.6 / sqrt(12) = 9.1 (400 random scorings of this data gave 8.4). 30 is over 3 SD.
NOISE = 30.0


def test_uplift_ranking_beats_risk_ranking():
    # Ideal ranking (x1 > 0.5 first): Q climbs to 2000 treated x 0.5 x 0.4 = 400 at x = 0.5,
    # then stays: area = 0.5*400/2 + 0.5*400 = 300, random 400/2 = 200 -> coefficient 100.
    X, t, y, p0 = _campaign(effect=0.4)
    out = compare_rankings(X, t, y, p0, learner=TwoModelUplift(iterations=100, depth=3), folds=5)
    assert out["better"] == "uplift"
    assert out["uplift"]["qini_coefficient"] > 60
    assert abs(out["risk"]["qini_coefficient"]) < NOISE
    assert out["random"]["qini_coefficient"] == 0.0
    curves = out["curves"]
    assert len(curves["x"]) == 101 and curves["x"][0] == 0.0 and curves["x"][-1] == 1.0
    assert len(curves["uplift"]) == len(curves["risk"]) == len(curves["random"]) == 101
    assert curves["uplift"][-1] == pytest.approx(curves["risk"][-1])  # Q(n) is order-free
    assert out["scores"].shape == (4000,)
    json.dumps({k: v for k, v in out.items() if k != "scores"}, allow_nan=False)
    # the out-of-fold scores are the ones the coefficient was computed from
    assert auuc(y, t, out["scores"])["qini_coefficient"] == pytest.approx(
        out["uplift"]["qini_coefficient"])


def test_class_transformation_learner_by_name():
    X, t, y, p0 = _campaign(effect=0.4, seed=1)
    out = compare_rankings(X, t, y, p0, learner="class_transformation", folds=3)
    assert out["better"] == "uplift"
    assert out["uplift"]["qini_coefficient"] > 60


def test_no_effect_gives_no_qini():
    X, t, y, p0 = _campaign(effect=0.0, seed=2)
    out = compare_rankings(X, t, y, p0, learner=TwoModelUplift(iterations=100, depth=3), folds=5)
    assert abs(out["uplift"]["qini_coefficient"]) < NOISE
    assert abs(out["risk"]["qini_coefficient"]) < NOISE


def test_compare_rankings_input_errors():
    X, t, y, p0 = _campaign(effect=0.4, n=200)
    with pytest.raises(ChurnLensError, match="unknown uplift learner"):
        compare_rankings(X, t, y, p0, learner="forest")
    with pytest.raises(ChurnLensError, match="folds"):
        compare_rankings(X, t, y, p0, folds=1)
    with pytest.raises(ChurnLensError, match="risk"):
        compare_rankings(X, t, y, p0[:10])
