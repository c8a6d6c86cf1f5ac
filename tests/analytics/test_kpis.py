"""KPIs against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analytics import kpis


def test_churn_and_retention_rate():
    churn = [1, 0, 0, 1, 0]
    assert kpis.churn_rate(churn) == pytest.approx(0.4)
    assert kpis.retention_rate(churn) == pytest.approx(0.6)
    assert math.isnan(kpis.churn_rate([]))


def test_arpu_counts_active_customers_only():
    # Active customers pay 20 and 40 -> 30; the churned customer's 100 does not count.
    assert kpis.arpu([20, 40, 100], [True, True, False]) == pytest.approx(30.0)
    assert math.isnan(kpis.arpu([10], [False]))


def test_revenue_at_risk():
    p = [0.5, 0.1, 0.9]
    m = [100, 50, 10]
    assert kpis.revenue_at_risk(p, m) == pytest.approx(50 + 5 + 9)
    assert kpis.revenue_at_risk(p, m, active=[True, True, False]) == pytest.approx(55)


def test_monthly_hazard_is_churners_per_customer_month():
    # 2 churners over 10 + 30 + 0->1 customer-months = 41
    assert kpis.monthly_hazard([1, 0, 1], [10, 30, 0]) == pytest.approx(2 / 41)


def test_annuity_factor_by_hand():
    # h = 0.5, no discount, 3 months: 0.5 + 0.25 + 0.125
    assert kpis.annuity_factor(0.5, 0.0, 3) == pytest.approx(0.875)
    # no churn, no discount: the horizon itself
    assert kpis.annuity_factor(0.0, 0.0, 12) == pytest.approx(12)


def test_clv_by_hand():
    # margin 50% of 100 = 50 a month; h=0.1, monthly discount from 0% -> q=0.9, 2 months:
    # 0.9 + 0.81 = 1.71 months -> 85.5
    value = kpis.clv(np.array([100.0]), margin=0.5, hazard=0.1, annual_discount=0.0,
                     horizon_months=2)
    assert value[0] == pytest.approx(85.5)
    # Discounting lowers it.
    lower = kpis.clv(np.array([100.0]), 0.5, 0.1, 0.10, 2)
    assert lower[0] < 85.5


def test_monthly_rate_compounds_to_annual():
    assert (1 + kpis.monthly_rate(0.1)) ** 12 == pytest.approx(1.1)


def test_tiers_and_their_validation():
    tiers = kpis.assign_tiers([0.9, 0.5, 0.3, 0.25, 0.1], high=0.5, medium=0.25)
    assert tiers.tolist() == ["High", "High", "Medium", "Medium", "Low"]
    with pytest.raises(ValueError):
        kpis.assign_tiers([0.1], high=0.2, medium=0.3)


def test_wilson_interval_known_value():
    lo, hi = kpis.wilson_interval(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    lo, hi = kpis.wilson_interval(0, 20)
    assert lo == 0 and 0.1 < hi < 0.2


def test_cac_is_the_mean_cost_of_active_customers_with_a_cost():
    # Active customers cost 100 and 300 (the third's cost is unknown) -> 200; the churner's
    # 1,000 does not count.
    cost = [100, 300, float("nan"), 1000]
    assert kpis.cac(cost, [True, True, True, False]) == pytest.approx(200.0)
    assert math.isnan(kpis.cac([50.0], [False]))
    assert math.isnan(kpis.cac([float("nan")], [True]))


def test_clv_cac_and_payback_by_hand():
    assert kpis.clv_cac(600.0, 200.0) == pytest.approx(3.0)
    # CAC 200, ARPU 50 and a 40% margin: 200 / (50 x 0.4) = 10 months.
    assert kpis.payback_months(200.0, 50.0, 0.4) == pytest.approx(10.0)
    for undefined in (kpis.clv_cac(600.0, 0.0), kpis.clv_cac(math.nan, 200.0),
                      kpis.payback_months(200.0, math.nan, 0.4),
                      kpis.payback_months(200.0, 0.0, 0.4),
                      kpis.payback_months(200.0, 50.0, 0.0),
                      kpis.payback_months(math.nan, 50.0, 0.4)):
        assert math.isnan(undefined)
