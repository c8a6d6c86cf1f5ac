"""The Overview's numbers from the cube equal the same numbers summed over the rows.

The reference here is written from the definitions (pandas over the customer table), not
from the cube, for many filter states: drivers, tier, segment, the tenure slider, a drilled
driver chart, an empty selection, and data with unknown revenue and costs."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import numpy as np
import pytest

from analytics.dataset import ACQUISITION, ACTIVE, CHURN, MONTHLY, TENURE
from analytics.pipeline import CLV, PROBABILITY, SEGMENT, TENURE_BAND, TIER
from dashboard import ids
from dashboard.services import Services
from dashboard.settings import Settings


def reference(svc, filters: dict) -> dict:
    """Tiles, tier mix and driver rates of a filter state, from the rows."""
    c = svc.analysis.customers
    keep = np.ones(len(c), dtype=bool)
    picks = {**{d: d for d in svc.drivers()}, ids.TIER: TIER, ids.SEGMENT: SEGMENT}

    def chosen(key):
        column = picks[key]
        if column in svc.drivers():
            names = svc.driver_names(column)
            return np.isin(svc.driver_codes(column), [names.index(v) for v in filters[key]])
        return c[column].astype(str).isin(filters[key]).to_numpy()

    masks = {key: chosen(key) for key in picks if filters.get(key)}
    if filters.get(ids.TENURE):
        lo, hi = filters[ids.TENURE]
        masks[ids.TENURE] = ((c[TENURE] >= lo) & (c[TENURE] <= hi)).to_numpy()
    for m in masks.values():
        keep &= m
    sel = c[keep]
    active = sel[ACTIVE].astype(bool)
    live = sel[active]
    known = live[np.isfinite(live[MONTHLY].astype(float))]
    out = {"customers": int(keep.sum()), "churned": int(sel[CHURN].sum()),
           "active": int(active.sum()),
           "high_risk_active": int((live[TIER].astype(str) == "High").sum()),
           "medium_risk_active": int((live[TIER].astype(str) == "Medium").sum()),
           "expected_leavers": float(live[PROBABILITY].astype(float).sum()),
           "avg_tenure": live[TENURE].astype(float).mean(),
           "arpu": known[MONTHLY].astype(float).mean(),
           "clv": live[CLV].astype(float).mean(),
           "revenue_at_risk": float((known[PROBABILITY].astype(float) * known[MONTHLY]).sum()),
           "cac": live[ACQUISITION].astype(float).mean() if ACQUISITION in c else math.nan,
           "tiers": [int((live[TIER].astype(str) == t).sum()) for t in ("High", "Medium",
                                                                        "Low")]}
    out["churn_rate"] = out["churned"] / out["customers"] if out["customers"] else math.nan
    drivers = {}
    for key in [*svc.drivers(), ids.TENURE]:
        others = np.ones(len(c), dtype=bool)
        for k, m in masks.items():
            if k != key:
                others &= m
        if key == ids.TENURE:
            codes, names = svc.array(TENURE_BAND), list(c[TENURE_BAND].cat.categories)
        else:
            codes, names = svc.driver_codes(key), svc.driver_names(key)
        churn = c[CHURN].to_numpy()
        drivers[key] = [(int((others & (codes == i)).sum()),
                         int(churn[others & (codes == i)].sum())) for i in range(len(names))]
    out["drivers"] = drivers
    return out


def close(a, b) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    return b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def check(svc, filters: dict) -> None:
    want = reference(svc, filters)
    view = svc.overview._view(filters)
    got = view["kpis"]
    assert view["n"] == want["customers"] == svc.count(filters) == int(svc.mask(filters).sum())
    for key in ("customers", "churned", "active", "high_risk_active", "medium_risk_active"):
        assert got[key] == want[key], (key, filters)
    for key in ("churn_rate", "expected_leavers", "avg_tenure"):
        assert close(want[key], got[key]), (key, filters, got[key], want[key])
    if svc.has_revenue():
        for key in ("arpu", "clv", "revenue_at_risk"):
            assert close(want[key], got[key]), (key, filters, got[key], want[key])
    if svc.has_acquisition_cost():
        assert close(want["cac"], got["cac"]), (filters, got["cac"], want["cac"])
    assert [t["n"] for t in view["tiers"]] == want["tiers"]
    charts = {**{d["key"]: d for d in view["drivers"]},
              **({ids.TENURE: view["tenure"]} if view["tenure"] else {})}
    for key, chart in charts.items():
        assert [(r["n"], r["churned"]) for r in chart["rows"]] == want["drivers"][key], key
        assert chart["filtered"] == bool(filters.get(key))


def random_filters(svc, rng: random.Random) -> dict:
    filters = {}
    for d in svc.drivers():
        if rng.random() < 0.5:
            names = svc.driver_names(d)
            filters[d] = rng.sample(names, rng.randint(1, len(names)))
    options = svc.filter_options()
    for key in (ids.TIER, ids.SEGMENT):
        if options[key] and rng.random() < 0.4:
            values = [o["value"] if isinstance(o, dict) else o for o in options[key]]
            filters[key] = rng.sample(values, rng.randint(1, len(values)))
    if options["tenure_max"] is not None and rng.random() < 0.4:
        lo = rng.randint(0, int(options["tenure_max"]))
        filters[ids.TENURE] = [lo, rng.randint(lo, int(options["tenure_max"]))]
    return filters


def test_the_cube_gives_the_rows_numbers_for_many_filter_states(svc):
    rng = random.Random(7)
    check(svc, {})
    for _ in range(40):
        check(svc, random_filters(svc, rng))


def test_an_empty_selection_has_no_rates(svc):
    driver = svc.drivers()[0]
    first = svc.driver_names(driver)[0]
    filters = {driver: [first], ids.TENURE: [10_000, 10_001]}
    view = svc.overview._view(filters)
    assert view["n"] == 0 and view["kpis"]["churn_rate"] is None
    assert view["kpis"]["arpu"] is None and view["kpis"]["revenue_at_risk"] == 0.0
    check(svc, filters)


@pytest.fixture(scope="module")
def gappy(svc):
    """The same customers with a third of the revenue, CLV and tenure unknown and a cost of
    acquisition known for half of them."""
    customers = svc.analysis.customers.copy()
    rng = np.random.default_rng(3)
    n = len(customers)
    for column in (MONTHLY, CLV, TENURE):
        values = customers[column].astype(float).to_numpy().copy()
        values[rng.random(n) < 0.33] = np.nan
        customers[column] = values
    cost = rng.uniform(50, 250, n)
    cost[rng.random(n) < 0.5] = np.nan
    customers[ACQUISITION] = cost
    services = Services(Settings(cache_dir=None))
    services.analysis = replace(svc.analysis, customers=customers)
    return services


def test_unknown_values_are_left_out_of_the_means_as_the_rows_do(gappy):
    assert gappy.has_revenue() and gappy.has_acquisition_cost()
    rng = random.Random(11)
    check(gappy, {})
    for _ in range(25):
        check(gappy, random_filters(gappy, rng))


def test_a_tier_change_rebuilds_the_cube(svc):
    before = svc.overview._view({})["kpis"]["high_risk_active"]
    old = svc.analysis.settings.tier_high, svc.analysis.settings.tier_medium
    try:
        svc.set_tier_high(0.9, 0.2)
        after = svc.overview._view({})["kpis"]["high_risk_active"]
        assert after < before
        check(svc, {ids.TIER: ["High"]})
    finally:
        svc.set_tier_high(*old)
    assert svc.overview._view({})["kpis"]["high_risk_active"] == before


def test_cells_by_counting_and_by_sorting_agree(monkeypatch):
    """The cube's cells are counted when the key space is small and sorted otherwise: the
    same cells in the same order, each row in the same cell, each cell's codes its rows'."""
    from dashboard.services import cube
    rng = np.random.default_rng(3)
    parts = {"a": rng.integers(-1, 4, 5000), "b": rng.integers(0, 3, 5000).astype(np.int8),
             "c": rng.integers(-1, 40, 5000)}
    counted, rows_counted = cube._cells(parts)
    monkeypatch.setattr(cube, "DENSE_CELLS", 0)
    sorted_, rows_sorted = cube._cells(parts)
    assert np.array_equal(rows_counted, rows_sorted)
    for name, codes in parts.items():
        assert np.array_equal(counted[name], sorted_[name])
        assert np.array_equal(counted[name][rows_counted], codes)      # a row's own codes
    assert len(counted["a"]) == len({tuple(r) for r in zip(*parts.values())})


@pytest.mark.parametrize("values", [
    [3.0, 0.0, 3.0, 72.0, 1.0],                  # whole months: counted
    [3.0, np.nan, 0.0, np.nan, 12.0],            # with unknowns (NaN last)
    [0.5, 2.0, 0.5, -1.0],                       # fractions and negatives: sorted
])
def test_distinct_tenures_are_numpys_unique(values):
    from dashboard.services import cube
    values = np.array(values)
    distinct, inverse = cube._distinct(values)
    expected, expected_inverse = np.unique(values, return_inverse=True)
    assert np.array_equal(distinct, expected, equal_nan=True)
    assert np.array_equal(inverse, expected_inverse)
