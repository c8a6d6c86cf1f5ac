"""Exports: every filtered row, the note line, and cells a spreadsheet would run neutralised."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from openpyxl import load_workbook

from analytics.demo import generate_demo
from analytics.explain import feature_label
from analytics.export import (LIST_COLUMNS, customer_list, neutralise, neutralise_frame,
                              write_csv, write_excel)
from analytics.loaders import load_path
from analytics.pipeline import AnalysisSettings, analyse

HOSTILE = ["=HYPERLINK(\"http://evil\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


@pytest.fixture(scope="module")
def hostile_analysis(tmp_path_factory):
    frame = generate_demo(400, seed=11)
    frame.loc[: len(HOSTILE) - 1, "customerID"] = HOSTILE
    path = tmp_path_factory.mktemp("hostile") / "customers.csv"
    frame.to_csv(path, index=False)
    return analyse(load_path(path), AnalysisSettings(n_splits=2, baselines=()))


def test_neutralise_rules():
    for value in HOSTILE:
        assert neutralise(value) == "'" + value
    assert neutralise("Month-to-month") == "Month-to-month"
    assert neutralise(-3.5) == -3.5  # numbers stay numbers
    frame = neutralise_frame(customer_list.__globals__["pd"].DataFrame({"a": ["=1", "b"]}))
    assert frame["a"].tolist() == ["'=1", "b"]


def test_csv_has_note_header_every_row_and_safe_cells(hostile_analysis, tmp_path):
    rows = np.arange(len(hostile_analysis.customers))
    path = tmp_path / "list.csv"
    write_csv(hostile_analysis, rows, path, "=filters: none")
    with path.open(newline="", encoding="utf-8") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == ["'=filters: none"]
    assert lines[1] == list(LIST_COLUMNS)
    assert len(lines) == 2 + len(rows)
    ids = [line[0] for line in lines[2:]]
    for value in HOSTILE[:4]:
        assert "'" + value in ids
    assert "TAB" in ids and "CR" in ids  # leading whitespace is stripped on load
    assert not any(cell.startswith(("=", "+", "@")) for line in lines[2:] for cell in line
                   if not cell.lstrip("-").replace(".", "").isdigit())


def test_excel_has_note_header_every_row_and_safe_cells(hostile_analysis, tmp_path):
    rows = np.arange(len(hostile_analysis.customers))[::-1]
    path = tmp_path / "list.xlsx"
    write_excel(hostile_analysis, rows, path, "note")
    sheet = load_workbook(path, read_only=True).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "note"
    assert list(values[1]) == list(LIST_COLUMNS)
    assert len(values) == 2 + len(rows)
    ids = [v[0] for v in values[2:]]
    assert ids[-1] == "'" + HOSTILE[0]  # reversed order kept
    assert all(not str(i).startswith(("=", "+", "-", "@")) for i in ids)
    assert isinstance(values[2][1], float)  # probabilities stay numbers


def test_list_columns_are_consistent(hostile_analysis):
    rows = np.arange(len(hostile_analysis.customers))
    table = customer_list(hostile_analysis, rows)
    assert list(table.columns) == list(LIST_COLUMNS)
    active = table["status"] == "active"
    assert active.any() and (~active).any()
    np.testing.assert_allclose(table.loc[active, "revenue_at_risk"],
                               (table["churn_probability"] * table["monthly_charges"])
                               [active].round(2), atol=0.02)
    # Customers who already left carry no CLV and no revenue at risk: blank, not a number.
    assert table.loc[~active, "revenue_at_risk"].isna().all()
    assert table.loc[~active, "clv"].isna().all()
    assert table.loc[active, "clv"].notna().all()


def test_excel_leaves_blank_cells_for_customers_who_left(hostile_analysis, tmp_path):
    from openpyxl import load_workbook
    churned = np.flatnonzero(~hostile_analysis.customers["active"].to_numpy(dtype=bool))[:3]
    path = tmp_path / "left.xlsx"
    write_excel(hostile_analysis, churned, path, "note")
    values = list(load_workbook(path, read_only=True).active.iter_rows(values_only=True))
    header = list(values[1])
    for row in values[2:]:
        assert row[header.index("clv")] is None
        assert row[header.index("revenue_at_risk")] is None
        assert row[header.index("status")] == "churned"


def test_actionable_reason_names_a_feature_an_offer_can_change(hostile_analysis):
    from analytics.whatif import actionable_features
    labels = [feature_label(f) for f in actionable_features(hostile_analysis)]
    table = customer_list(hostile_analysis, np.arange(len(hostile_analysis.customers)))
    filled = table["actionable_reason"][table["actionable_reason"] != ""]
    assert len(filled) > len(table) / 2
    assert not filled.str.startswith("Tenure").any()
    assert filled.str.contains(r"pts$").all()
    # Every actionable reason is about an actionable feature, in the waterfall's words.
    for text in filled.head(200):
        assert any(word.lower() in text.lower() for word in
                   [*labels, "contract", "pays by", "paper"]), text
