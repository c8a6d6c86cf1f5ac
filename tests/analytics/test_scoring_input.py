"""`validate_records`, the one check of scoring input: ranges from the data, short echoes,
a number that is not a number said to be so, categories known, ids bounded."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd
import pytest

from analytics.scoring import (MAX_RECORDS, MAX_SHOWN, ScoreInputError, _finite, numeric_bounds,
                               shown, validate_records)


@pytest.fixture
def analysis():
    """What validate_records reads of an analysis: a tiny customer table and its roles."""
    customers = pd.DataFrame({
        "tenure": [0.0, 12.0, 72.0],
        "balance": [-5.0, 0.0, 3.0],          # a feature that can be negative
        "Contract": pd.Categorical(["Month-to-month", "One year", "Two year"]),
        "Region": pd.Categorical([f"region {i:02d}" for i in (1, 2, 3)],
                                 categories=[f"region {i:02d}" for i in range(40)]),
    })
    return SimpleNamespace(customers=customers, numeric=["tenure", "balance"],
                           categorical=["Contract", "Region"],
                           features=["tenure", "balance", "Contract", "Region"])


def record(**change):
    return {"tenure": 5, "balance": 1.5, "Contract": "One year", "Region": "region 02",
            **change}


def refused(analysis, payload) -> ScoreInputError:
    with pytest.raises(ScoreInputError) as caught:
        validate_records(payload, analysis)
    return caught.value


def test_bounds_are_ten_times_the_largest_magnitude(analysis):
    # tenure: 0..72 in the data, never negative -> 0..720; balance: -5..3 -> -50..50.
    assert numeric_bounds(analysis) == {"tenure": (0.0, 720.0, 0.0, 72.0),
                                        "balance": (-50.0, 50.0, -5.0, 3.0)}
    frame = validate_records([record(tenure=720), record(balance=-50)], analysis)
    assert frame["tenure"].tolist() == [720.0, 5.0] and frame["balance"].tolist() == [1.5, -50]


@pytest.mark.parametrize("field, value", [
    ("tenure", 720.5), ("tenure", 1e18), ("tenure", 1e19), ("tenure", 1.7e308),
    ("tenure", 10 ** 400), ("tenure", "1e999"), ("tenure", math.inf), ("balance", 50.01),
    ("balance", -1e308),
])
def test_values_far_outside_the_data_name_the_field_and_the_range(analysis, field, value):
    error = refused(analysis, record(**{field: value}))
    low, high = ("0", "720") if field == "tenure" else ("-50", "50")
    assert error.field == field
    assert f"must be between {low} and {high}" in str(error)
    assert "the data has" in str(error) and len(str(error)) < 200


def test_a_huge_integer_is_described_not_printed(analysis):
    error = refused(analysis, record(tenure=10 ** 400))
    assert "an integer of about 401 digits" in str(error)


@pytest.mark.parametrize("value", [-1, -1e-9, -math.inf, "-5"])
def test_no_negative_value_where_the_data_has_none(analysis, value):
    error = refused(analysis, record(tenure=value))
    assert error.field == "tenure" and "cannot be negative" in str(error)


@pytest.mark.parametrize("value, words", [
    ("abc", "must be a number (got 'abc')"), (None, "empty or not a number"),
    ("", "empty or not a number"), ("  ", "empty or not a number"),
    (True, "must be a number (got True)"), ([], "got []"), ({"a": 1}, "got an object"),
    (math.nan, "must be a finite number"), ("nan", "must be a finite number"),
])
def test_what_is_not_a_number_is_said_to_be_so(analysis, value, words):
    error = refused(analysis, record(tenure=value))
    assert error.field == "tenure" and words in str(error) and "missing" not in str(error)


def test_a_missing_field_is_missing(analysis):
    payload = record()
    del payload["tenure"]
    assert "is missing" in str(refused(analysis, payload))


def test_echoes_are_short(analysis):
    for payload in (record(tenure="9" * 1_000_000), record(Contract="x" * 1_000_000),
                    {**record(), "y" * 1_000_000: 1}, record(customer_id="z" * 1_000_000)):
        error = refused(analysis, payload)
        assert len(str(error)) < 1500 and len(error.field) <= MAX_SHOWN
    assert len(shown("x" * 10_000)) == MAX_SHOWN and shown("ab") == "'ab'"
    assert shown([1] * 10_000) == "a list of 10,000 items" and shown([[]]) == "a list of 1 item"
    assert shown([12, "a"]) == "[12, 'a']"


@pytest.mark.parametrize("value", [{"a": 1}, ["One year"], None])
def test_a_category_must_be_a_plain_value(analysis, value):
    error = refused(analysis, record(Contract=value))
    assert error.field == "Contract" and "must be one of: Month-to-month" in str(error)


def test_a_long_category_list_is_cut(analysis):
    message = str(refused(analysis, record(Region="Atlantis")))
    assert "unknown category 'Atlantis'" in message and "(40 in all)" in message
    assert "region 19" in message and "region 20" not in message


@pytest.mark.parametrize("value, expected", [("C-1", "C-1"), (17, "17"), ("", "new-1"),
                                             (None, "new-1")])
def test_an_id_is_a_short_text_or_a_whole_number(analysis, value, expected):
    frame = validate_records(record(customer_id=value), analysis)
    assert frame["customer_id"].tolist() == [expected]


@pytest.mark.parametrize("value", ["x" * 101, {"id": 1}, [1], 1.5, True])
def test_other_ids_are_refused(analysis, value):
    assert refused(analysis, record(customer_id=value)).field == "customer_id"


def test_list_limits(analysis):
    assert "at most" in str(refused(analysis, [record()] * (MAX_RECORDS + 1)))
    assert refused(analysis, [record(), 5]).index == 1
    assert "non-empty list" in str(refused(analysis, []))


def test_non_finite_results_become_null():
    assert _finite(math.nan, 2) is None and _finite(math.inf, 2) is None
    assert _finite(1.23456, 2) == 1.23
