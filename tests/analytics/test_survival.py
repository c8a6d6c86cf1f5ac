"""Survival curves and the survival CLV, against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analytics import survival as sv
from analytics.kpis import clv, monthly_rate
from analytics.survival import (SurvivalModel, expected_remaining_months, fit_survival,
                                km_by_group, km_curve, pareto_share, survival_clv)

# tenures [1, 2, 2, 3, 4], churned [1, 0, 1, 1, 0]; product-limit by hand:
#   month 0: at risk 5, no churn                 S(0) = 1
#   month 1: at risk 5 (all), 1 churn            S(1) = 4/5                 = 0.8
#   month 2: at risk 4 (2, 2, 3, 4), 1 churn     S(2) = 0.8 x (1 - 1/4)     = 0.6
#            (the censored tenure-2 customer is still at risk at month 2)
#   month 3: at risk 2 (3, 4), 1 churn           S(3) = 0.6 x (1 - 1/2)     = 0.3
#   month 4: at risk 1, censored                 S(4) = 0.3
TENURE = [1, 2, 2, 3, 4]
CHURN = [1, 0, 1, 1, 0]
HAND_S = [1.0, 0.8, 0.6, 0.3, 0.3]

# survival [1, .5, .25, .125] with tail hazard .5 is S(m) = 0.5**m everywhere (memoryless)
HALVING = SurvivalModel(survival=np.array([1.0, 0.5, 0.25, 0.125]), tail_hazard=0.5)


def test_km_curve_matches_the_product_limit_by_hand():
    curve = km_curve(TENURE, CHURN)
    assert list(curve.columns) == ["month", "survival", "lo", "hi", "at_risk"]
    assert curve["month"].tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(curve["survival"], HAND_S)
    assert curve["at_risk"].tolist() == [5, 5, 4, 2, 1]
    assert (curve["lo"] <= curve["survival"]).all() and (curve["survival"] <= curve["hi"]).all()
    # exponential Greenwood at month 1: V = d/(n(n-d)) = 1/20, se = sqrt(V)/|log S|,
    # lo = S**exp(+1.96 se), hi = S**exp(-1.96 se)
    se = math.sqrt(1 / 20) / abs(math.log(0.8))
    assert curve["lo"][1] == pytest.approx(0.8 ** math.exp(1.96 * se), rel=1e-3)
    assert curve["hi"][1] == pytest.approx(0.8 ** math.exp(-1.96 * se), rel=1e-3)


def test_km_curve_on_counts_equals_lifelines_on_every_customer():
    from lifelines import KaplanMeierFitter
    rng = np.random.default_rng(0)
    t = rng.integers(0, 30, 500).astype(float)
    e = rng.integers(0, 2, 500)
    curve = km_curve(t, e, max_month=35)
    raw = KaplanMeierFitter().fit(t, e, timeline=np.arange(36))
    np.testing.assert_allclose(curve["survival"], raw.survival_function_.iloc[:, 0])
    np.testing.assert_allclose(curve["lo"], raw.confidence_interval_.iloc[:, 0])
    assert curve["at_risk"].tolist() == [int((t >= m).sum()) for m in range(36)]


def test_km_by_group_ignores_missing_labels_and_small_groups():
    t = np.array(TENURE * 8 + [1, 2, 3])
    e = np.array(CHURN * 8 + [1, 1, 1])
    groups = np.array(["a"] * 20 + ["b"] * 20 + [None, np.nan, "tiny"], dtype=object)
    curves = km_by_group(t, e, groups, min_size=10)
    assert sorted(curves) == ["a", "b"]
    np.testing.assert_allclose(curves["a"]["survival"], HAND_S)  # 4 copies: same estimate
    assert curves["b"]["at_risk"].tolist() == [20, 20, 16, 8, 4]
    assert km_by_group(t, e, groups, min_size=1).keys() == {"a", "b", "tiny"}


def test_fit_survival_is_the_km_curve_with_a_pooled_tail_hazard():
    model = fit_survival(TENURE, CHURN)
    np.testing.assert_allclose(model.survival, HAND_S)
    # last 12 months = months 0..4: 3 churners / (5 + 5 + 4 + 2 + 1) customer-months at risk
    assert model.tail_hazard == pytest.approx(3 / 17)
    assert fit_survival([5, 6], [0, 0]).tail_hazard == sv.MIN_TAIL_HAZARD  # floor


def test_fit_survival_counts_tenure_zero_churners_in_the_first_month():
    model = fit_survival([0, 0, 1, 2], [1, 0, 0, 1])
    # month 0: 1 of 4 churns -> S(0) is set to 1, the drop shows from month 1 on
    np.testing.assert_allclose(model.survival, [1.0, 0.75, 0.0])


def test_at_extends_with_the_tail_hazard():
    model = SurvivalModel(survival=np.array([1.0, 0.9, 0.7]), tail_hazard=0.1)
    np.testing.assert_allclose(model.at(np.array([0, 1, 2, 2.5])), [1.0, 0.9, 0.7, 0.7])
    k = np.arange(1, 6)
    np.testing.assert_allclose(model.at(2 + k), 0.7 * 0.9 ** k)  # S(T+k) = S(T)(1-h)^k


def test_survival_model_rejects_a_curve_that_is_not_a_survival_curve():
    with pytest.raises(ValueError):
        SurvivalModel(survival=np.array([1.0, 0.5, 0.6]), tail_hazard=0.1)
    with pytest.raises(ValueError):
        SurvivalModel(survival=np.array([0.9, 0.5]), tail_hazard=0.1)


def test_expected_remaining_months_by_hand():
    erm = expected_remaining_months(HALVING, [0, 1, 3, 10], horizon_months=3)
    # tenure 0: .5 + .25 + .125; tenure 1: .25/.5 + .125/.5 + .0625/.5 -> the same (memoryless)
    np.testing.assert_allclose(erm, [0.875] * 4)
    risky = expected_remaining_months(HALVING, [1], horizon_months=3, risk_ratio=2)
    np.testing.assert_allclose(risky, [0.5 ** 2 + 0.25 ** 2 + 0.125 ** 2])
    d = 0.1
    discounted = expected_remaining_months(HALVING, [0], horizon_months=3, monthly_discount=d)
    assert discounted[0] == pytest.approx(0.5 / 1.1 + 0.25 / 1.1 ** 2 + 0.125 / 1.1 ** 3)
    assert discounted[0] < 0.875
    longer = expected_remaining_months(HALVING, [0], horizon_months=6)  # 3 months past the curve
    assert longer[0] == pytest.approx(sum(0.5 ** k for k in range(1, 7)))
    assert expected_remaining_months(HALVING, [2], horizon_months=0)[0] == 0.0


def test_expected_remaining_months_when_the_curve_reaches_zero():
    model = SurvivalModel(survival=np.array([1.0, 0.5, 0.0]), tail_hazard=0.2)
    erm = expected_remaining_months(model, [0, 1, 2, 7], horizon_months=3)
    # tenure 0: .5 + 0 + 0; tenure 1: 0; S(2)=0 and beyond: the tail alone .8 + .64 + .512
    np.testing.assert_allclose(erm, [0.5, 0.0, 1.952, 1.952])


def test_per_customer_risk_ratios_equal_the_formula_term_by_term(monkeypatch):
    monkeypatch.setattr(sv, "_CHUNK_CELLS", 64)  # several blocks of customers
    rng = np.random.default_rng(1)
    curve = np.concatenate([[1.0], np.cumprod(1 - rng.uniform(0, 0.2, 15)), [0.0, 0.0]])
    curve[10:15] = curve[9]  # a flat stretch
    model = SurvivalModel(survival=curve, tail_hazard=0.05)
    tenure = rng.integers(0, 25, 200).astype(float) + rng.uniform(0, 0.9, 200)
    ratio = rng.uniform(0.2, 5, 200)
    for horizon in (5, 17, 40):
        got = expected_remaining_months(model, tenure, horizon_months=horizon,
                                        monthly_discount=0.01, risk_ratio=ratio)
        want = []
        for t, r in zip(np.floor(tenure), ratio):
            if model.at([t])[0] > 0:
                terms = [(model.at([t + k])[0] / model.at([t])[0]) ** r for k in
                         range(1, horizon + 1)]
            else:
                terms = [0.95 ** (k * r) for k in range(1, horizon + 1)]
            want.append(sum(x / 1.01 ** k for k, x in enumerate(terms, start=1)))
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_survival_clv_is_margin_times_monthly_times_remaining_months():
    p = np.array([0.1, 0.3])  # mean 0.2 -> risk ratios 0.5 and 1.5
    got = survival_clv(HALVING, [1, 1], [100.0, 100.0], p, margin=0.4, annual_discount=0.0,
                       horizon_months=3)
    want = [0.4 * 100 * sum(0.5 ** (k * r) for k in (1, 2, 3)) for r in (0.5, 1.5)]
    np.testing.assert_allclose(got, want)
    assert got[0] > got[1]  # the riskier customer is worth less
    same = survival_clv(HALVING, [1, 1], [100.0, 100.0], p, margin=0.4, annual_discount=0.0,
                        horizon_months=3, reference_probability=0.2)
    np.testing.assert_allclose(same, got)  # the default reference is the mean


def test_survival_clv_discounts_and_clips_the_risk_ratio():
    d = monthly_rate(0.12)
    got = survival_clv(HALVING, [0, 0], [50.0, 50.0], [0.99, 0.0], margin=0.5,
                       annual_discount=0.12, horizon_months=3, reference_probability=0.01)
    want = [0.5 * 50 * sum(0.5 ** (k * r) / (1 + d) ** k for k in (1, 2, 3)) for r in (5, 0.2)]
    np.testing.assert_allclose(got, want)  # ratios 99 and 0 clipped to 5 and 0.2


def test_survival_clv_on_a_constant_hazard_curve_is_the_simple_clv():
    h = 0.03
    model = SurvivalModel(survival=(1 - h) ** np.arange(25), tail_hazard=h)
    monthly = np.array([20.0, 70.0, 110.0])
    got = survival_clv(model, [0, 12, 40], monthly, [0.3, 0.3, 0.3], margin=0.3,
                       annual_discount=0.1, horizon_months=60)
    np.testing.assert_allclose(got, clv(monthly, 0.3, h, 0.1, 60))


def test_pareto_share():
    assert pareto_share([1, 1, 1, 1, 6], top=0.2) == pytest.approx(0.6)
    assert pareto_share([1, 1, 1, 1, 6, np.nan], top=0.2) == pytest.approx(0.6)
    assert pareto_share([5.0, 5.0], top=1.0) == pytest.approx(1.0)


def test_empty_and_invalid_input_raise_clear_errors():
    with pytest.raises(ValueError, match="at least one customer"):
        km_curve([], [])
    with pytest.raises(ValueError, match="at least one customer"):
        fit_survival([], [])
    with pytest.raises(ValueError, match="at least one customer"):
        expected_remaining_months(HALVING, [], horizon_months=3)
    with pytest.raises(ValueError, match="at least one customer"):
        survival_clv(HALVING, [], [], [], margin=0.3, annual_discount=0.1, horizon_months=3)
    with pytest.raises(ValueError, match="at least one customer"):
        pareto_share([])
    with pytest.raises(ValueError, match="different lengths"):
        km_curve([1, 2], [1])
    with pytest.raises(ValueError, match="0 or 1"):
        km_curve([1, 2], [1, 2])
    with pytest.raises(ValueError, match=">= 0"):
        fit_survival([-1, 2], [1, 0])


def test_telco_retention_and_contract_ordering(telco_path):
    raw = pd.read_csv(telco_path, usecols=["tenure", "Contract", "Churn"])
    tenure = raw["tenure"].to_numpy(float)
    churn = (raw["Churn"] == "Yes").to_numpy(int)
    curve = km_curve(tenure, churn)
    assert 0.5 <= curve["survival"].iloc[72] <= 0.75
    model = fit_survival(tenure, churn)
    np.testing.assert_allclose(model.survival[1:], curve["survival"][1:])  # no churn at 0
    curves = km_by_group(tenure, churn, raw["Contract"])
    at_24 = {name: c.loc[c["month"] == 24, "survival"].item() for name, c in curves.items()}
    assert at_24["Two year"] > at_24["One year"] > at_24["Month-to-month"]
