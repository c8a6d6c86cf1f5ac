"""Other businesses' files run straight from `--data FILE`: roles inferred, post-outcome
columns left out, and the out-of-fold ROC-AUC within 0.01 of a plain CatBoost on the same
usable columns (tests/analytics/layout_reference.py)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from analytics import cli
from analytics.data.layouts import (WORKBOOK_POST_OUTCOME, generate_bank,
                                    generate_telco_workbook, generate_usage_telecom,
                                    write_layout)
from analytics.pipeline import AnalysisSettings
from analytics.runner import load_or_train
from tests.analytics.layout_reference import plain_catboost_auc

N = 3000
# The product's own CatBoost settings and folds; the baselines (not compared here) left out.
NO_BASELINES = AnalysisSettings(baselines=())


@pytest.fixture(autouse=True)
def no_baselines(monkeypatch):
    monkeypatch.setattr(cli, "load_or_train",
                        lambda source, settings=None, **kw: load_or_train(source, NO_BASELINES,
                                                                          **kw))

# layout -> (generator, label, positive value, columns a careful analyst drops by hand)
CASES = {
    "bank": (generate_bank, "Exited", 1, ["RowNumber", "CustomerId", "Surname"]),
    "usage": (generate_usage_telecom, "Churn", "True", []),
    "workbook": (generate_telco_workbook, "Churn Label", "Yes",
                 ["CustomerID", "Count", "Country", "State", "Lat Long",
                  *WORKBOOK_POST_OUTCOME]),
}


def _evaluate(path, capsys) -> dict:
    code = cli.main(["evaluate", "--data", str(path), "--json", "--no-cache"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Traceback" not in err
    return json.loads(out)


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["bank", "usage", "workbook"])
def test_a_file_of_another_business_runs_as_is_and_matches_plain_catboost(layout, tmp_path,
                                                                          capsys):
    generate, label, positive, by_hand = CASES[layout]
    suffix = ".xlsx" if layout == "workbook" else ".csv"
    path = write_layout(layout, N, tmp_path / f"{layout}{suffix}")
    result = _evaluate(path, capsys)
    used = set(result["features"])
    frame = generate(N)
    if layout == "usage":
        frame[label] = frame[label].astype(str)
    # The post-outcome columns and the label's copies are never features.
    assert not used & {label, *WORKBOOK_POST_OUTCOME}
    assert not [c for c in used if "churn" in c.lower()]
    unused = [c for c in frame.columns if c not in used and c != label]
    ours = result["models"]["catboost"]["roc_auc"]
    plain = plain_catboost_auc(frame, label, drop=unused, positive=positive)
    assert abs(ours - plain) <= 0.01, (layout, ours, plain, sorted(unused))
    # What a careful analyst would drop by hand is dropped (nothing more than noise kept).
    assert not used & set(by_hand) - {"Lat Long"}


def test_the_bank_file_reads_numbers_as_numbers_and_has_no_money(tmp_path, capsys):
    path = write_layout("bank", 800, tmp_path / "bank.csv")
    result = _evaluate(path, capsys)
    assert result["roles"]["id"] == "CustomerId"
    assert result["roles"]["label"] == "Exited"
    assert result["roles"]["revenue"] == []
    assert {"Age", "Balance", "EstimatedSalary", "CreditScore"} <= set(result["features"])
    assert "Surname" not in result["features"]


def test_a_workbook_with_a_notes_sheet_first_is_read_from_its_data_sheet(tmp_path, capsys):
    path = write_layout("workbook", 600, tmp_path / "telco.xlsx")
    result = _evaluate(path, capsys)
    assert result["roles"]["label"] == "Churn Label"
    assert result["n_customers"] == 600
    assert not {"Churn Score", "CLTV", "Churn Reason", "Churn Value"} & set(result["features"])


def test_the_latin1_semicolon_decimal_comma_copy_gives_the_same_table(tmp_path, capsys):
    from analytics.loaders import load_path

    xlsx = load_path(write_layout("workbook", 400, tmp_path / "w.xlsx"))
    csv = load_path(write_layout("workbook-csv", 400, tmp_path / "w.csv"))
    assert xlsx.features == csv.features
    for column in ("Monthly Charges", "Total Charges", "Latitude"):
        pd.testing.assert_series_equal(xlsx.customers[column], csv.customers[column],
                                       check_names=False)
    assert (csv.customers["City"].astype(str).str.contains("José")).any()
