"""Server-side filter and sort of the customers grid, on hand-made columns."""

from __future__ import annotations

import numpy as np

from dashboard.grid import Column, filter_mask, sort_rows

COLUMNS = {
    "id": Column("text", values=np.array(["a1", "B2", "c3", "d4"], dtype=object)),
    "p": Column("number", values=np.array([0.9, 0.1, 0.5, 0.7])),
    "tier": Column("category", codes=np.array([0, 2, 1, 0], dtype=np.int8),
                   categories=["High", "Medium", "Low"]),
}


def test_number_filters():
    mask = filter_mask(COLUMNS, {"p": {"filterType": "number", "type": "greaterThan",
                                       "filter": 0.5}}, 4)
    assert mask.tolist() == [True, False, False, True]
    mask = filter_mask(COLUMNS, {"p": {"type": "inRange", "filter": 0.4, "filterTo": 0.8}}, 4)
    assert mask.tolist() == [False, False, True, True]


def test_text_filters_ignore_case_and_combine_conditions():
    assert filter_mask(COLUMNS, {"id": {"type": "contains", "filter": "b"}}, 4).tolist() == \
        [False, True, False, False]
    model = {"id": {"operator": "OR", "conditions": [{"type": "startsWith", "filter": "a"},
                                                     {"type": "endsWith", "filter": "4"}]}}
    assert filter_mask(COLUMNS, model, 4).tolist() == [True, False, False, True]


def test_category_filter_and_several_columns_and_together():
    model = {"tier": {"type": "equals", "filter": "high"},
             "p": {"type": "lessThan", "filter": 0.8}}
    assert filter_mask(COLUMNS, model, 4).tolist() == [False, False, False, True]


def test_sort_default_and_by_model():
    rows = np.arange(4)
    assert sort_rows(COLUMNS, rows, None, ("p", "desc")).tolist() == [0, 3, 2, 1]
    assert sort_rows(COLUMNS, rows, [{"colId": "p", "sort": "asc"}], ("p", "desc")).tolist() \
        == [1, 2, 3, 0]
    # Tier sorts alphabetically (High, Low, Medium); ties broken by the second key.
    order = sort_rows(COLUMNS, rows, [{"colId": "tier", "sort": "asc"},
                                      {"colId": "p", "sort": "asc"}], ("p", "desc"))
    assert order.tolist() == [3, 0, 1, 2]
    order = sort_rows(COLUMNS, rows, [{"colId": "id", "sort": "desc"}], ("p", "desc"))
    assert order.tolist() == [3, 2, 0, 1]  # case-sensitive: "B2" < "a1"


def test_single_column_order_reuses_the_whole_table_order():
    from dashboard.grid import ordered_selection
    keep = np.array([True, True, False, True])
    for model in ([{"colId": "p", "sort": "desc"}], [{"colId": "p", "sort": "asc"}],
                  [{"colId": "id", "sort": "desc"}], [{"colId": "tier", "sort": "asc"}],
                  [{"colId": "tier", "sort": "asc"}, {"colId": "p", "sort": "desc"}]):
        expected = sort_rows(COLUMNS, np.flatnonzero(keep), model, ("p", "desc"))
        got = ordered_selection(COLUMNS, keep, model, ("p", "desc"))
        assert got.tolist() == expected.tolist(), model
