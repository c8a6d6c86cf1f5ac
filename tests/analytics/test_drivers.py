"""Driver columns (pinned, else by SHAP) and driver groups (values, or bands with round edges)
against hand-computed results."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from analytics.data.config import DatasetConfig
from analytics.drivers import band_edges, band_labels, driver_columns, driver_groups


def _groups(values) -> tuple[list[str], list[int]]:
    """(group names, customers per group) of a column."""
    groups = driver_groups(pd.Series(values))
    counts = np.bincount(groups.codes[groups.codes >= 0], minlength=len(groups.categories))
    return list(groups.categories), counts.tolist()


# ----- driver_groups ----------------------------------------------------------------------


def test_whole_numbers_1_to_100_fall_in_round_quartile_bands():
    # Quartiles 25.75, 50.5, 75.25 (linear); gap 24.75 / 4 -> a step of 5: 25, 50, 75.
    names, counts = _groups(np.arange(1, 101))
    assert names == ["< 25", "25–50", "50–75", "≥ 75"]
    assert counts == [24, 25, 25, 26]   # 1..24, 25..49, 50..74, 75..100


def test_large_numbers_get_thousands_separators():
    names, counts = _groups(np.arange(1, 101) * 1000.0)
    assert names == ["< 25,000", "25,000–50,000", "50,000–75,000", "≥ 75,000"]
    assert counts == [24, 25, 25, 26]


def test_fractions_keep_the_decimals_their_step_needs():
    # 0, 0.01, ..., 1: quartiles 0.25, 0.5, 0.75; step 0.05 -> two decimals.
    names, counts = _groups(np.linspace(0, 1, 101))
    assert names == ["< 0.25", "0.25–0.50", "0.50–0.75", "≥ 0.75"]
    assert counts == [25, 25, 25, 26]


def test_credit_scores_round_to_tens():
    # 500, 525, ..., 800 (13 values): quartiles 575, 650, 725; gap 75 / 4 = 18.75 -> a step
    # of 10; halves round up: 580, 650, 730.
    names, counts = _groups(np.arange(500, 801, 25).astype(float))
    assert names == ["< 580", "580–650", "650–730", "≥ 730"]
    # 500..575 (4) | 600, 625 (2) | 650..725 (4) | 750..800 (3)
    assert counts == [4, 2, 4, 3]


def test_a_repeated_minimum_gets_its_own_band_and_fewer_bands():
    # 60 zeros and 1..40: quartiles 0, 0, 15.25. The zeros get a band of their own (edge 1,
    # named "0": a band of one whole number); 15.25 -> 16 (step 2).
    names, counts = _groups([0] * 60 + list(range(1, 41)))
    assert names == ["0", "1–16", "≥ 16"]
    assert counts == [60, 15, 25]


def test_bands_of_one_whole_number_are_named_by_it():
    # Support calls 0..9, most of them 0-2: quartiles 1, 1, 2 -> edges 1 and 2.
    calls = [0] * 20 + [1] * 35 + [2] * 25 + [3] * 10 + [4] * 5 + [5, 6, 7, 8, 9]
    names, counts = _groups(calls)
    assert names == ["0", "1", "≥ 2"]
    assert counts == [20, 35, 45]
    # Whole numbers whose top band is the largest value alone.
    assert band_labels([10, 20], 0, whole=(0, 20)) == ["< 10", "10–20", "20"]
    assert band_labels([10, 20], 0) == ["< 10", "10–20", "≥ 20"]


def test_few_valued_numbers_are_grouped_by_value():
    assert _groups([1, 2, 2, 3, 4.0]) == (["1", "2", "3", "4"], [1, 2, 1, 1])
    assert _groups([0, 1, 1, 0, 1]) == (["0", "1"], [2, 3])
    assert _groups([0.5, 1.5, 0.5]) == (["0.5", "1.5"], [2, 1])
    assert _groups([1000, 2000, 1000]) == (["1,000", "2,000"], [2, 1])


def test_missing_numbers_form_their_own_group():
    names, counts = _groups([1.0, np.nan, 2, 3, 4, 5, 6, 7, 8, 9])
    # Quartiles of 1..9: 3, 5, 7 (gap 2 / 4 -> step 1 for whole numbers).
    assert names == ["< 3", "3–5", "5–7", "≥ 7", "Missing"]
    assert counts == [2, 2, 2, 3, 1]


def test_negative_edges_read_with_to():
    edges, decimals = band_edges(np.arange(-50, 51, dtype=float), integer=True)
    # Quartiles -25, 0, 25; gap 25 / 4 -> step 5.
    assert edges == [-25, 0, 25] and decimals == 0
    assert band_labels(edges, decimals) == ["< -25", "-25 to 0", "0–25", "≥ 25"]


def test_categoricals_keep_their_categories_in_order():
    series = pd.Series(pd.Categorical(["b", "a", "c", "a"], categories=["c", "b", "a"]))
    groups = driver_groups(series)
    assert list(groups.categories) == ["c", "b", "a"]
    assert list(groups.codes) == [1, 2, 0, 2]
    text = driver_groups(pd.Series(["x", None, "y"]))
    assert list(text.categories) == ["x", "y"] and text.codes[1] == -1


def test_band_codes_match_the_labels_edges():
    rng = np.random.default_rng(0)
    values = np.round(rng.normal(650, 97, 5000))
    groups = driver_groups(pd.Series(values))
    edges, _ = band_edges(values, integer=True)
    expected = np.searchsorted(edges, values, side="right")
    assert (groups.codes == expected).all()
    assert len(groups.categories) == 4 and all(n > 800 for n in np.bincount(groups.codes))


# ----- driver_columns ---------------------------------------------------------------------


@dataclass
class _Analysis:
    customers: pd.DataFrame
    categorical: list[str]
    numeric: list[str]
    shares: dict[str, float]
    config: DatasetConfig | None = None
    features: list[str] = field(init=False)

    def __post_init__(self):
        self.features = self.categorical + self.numeric

    def importance(self):
        return dict(sorted(self.shares.items(), key=lambda p: -p[1]))


def _analysis(config=None) -> _Analysis:
    n = 200
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({
        "Surname": pd.Categorical([f"s{i}" for i in range(n)]),           # 200 values
        "Geography": pd.Categorical(rng.choice(["France", "Spain", "Germany"], n)),
        "Age": rng.integers(18, 90, n).astype(float),
        "Tenure": rng.integers(0, 11, n).astype(float),
        "Flat": np.ones(n),
        "NumOfProducts": rng.integers(1, 5, n).astype(float),
    })
    frame["AgeMonths"] = frame["Age"] * 12 + rng.integers(0, 12, n)   # Age again
    shares = {"Tenure": 0.9, "Surname": 0.8, "Flat": 0.7, "Age": 0.6, "AgeMonths": 0.55,
              "NumOfProducts": 0.5, "Geography": 0.4}
    return _Analysis(frame, ["Surname", "Geography"], ["Age", "Tenure", "Flat",
                                                       "AgeMonths", "NumOfProducts"],
                     shares, config)


def test_drivers_are_the_most_important_readable_features():
    config = DatasetConfig(tenure_column="Tenure")
    # Tenure has its slider, Surname has 200 values, Flat one, AgeMonths repeats Age:
    # Age, NumOfProducts, Geography.
    assert driver_columns(_analysis(config)) == ["Age", "NumOfProducts", "Geography"]
    assert driver_columns(_analysis(config), k=2) == ["Age", "NumOfProducts"]


def test_pinned_drivers_win_in_their_order():
    config = DatasetConfig(tenure_column="Tenure", drivers=("Geography", "Nope", "Age"))
    assert driver_columns(_analysis(config)) == ["Geography", "Age"]


@pytest.mark.parametrize("config", [None, DatasetConfig(tenure_column=None)])
def test_without_a_tenure_role_every_feature_may_drive(config):
    assert driver_columns(_analysis(config)) == ["Tenure", "Age", "NumOfProducts"]
