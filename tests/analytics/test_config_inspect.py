"""The dataset config (TOML in and out) and the guess of it from a file (`inspect`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.data.config import dumps, from_dict, load_config
from analytics.data.inspect import inspect_frame, positive_value, suggest
from analytics.dataset import ID, MONTHLY, TENURE, build_table
from analytics.errors import DataError
from analytics.loaders import TELCO_CONFIG, load_path


def _bank(n=400, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    exited = rng.random(n) < 0.25
    return pd.DataFrame({
        "RowNumber": np.arange(1, n + 1), "CustomerId": 15_000_000 + np.arange(n),
        "Surname": rng.choice(["Smith", "Rossi", "Dupont", "Okafor"], n),
        "Geography": rng.choice(["France", "Spain", "Germany"], n),
        "Age": rng.integers(18, 80, n), "Tenure": rng.integers(0, 11, n),
        "Balance": np.round(rng.random(n) * 1e5, 2), "Exited": exited.astype(int),
        "Churn Reason": np.where(exited, "Moved", ""), "Country": "Europe"})


def test_a_config_round_trips_through_toml(tmp_path):
    config = inspect_frame(_bank(), "bank.csv").config
    path = tmp_path / "bank.toml"
    path.write_text(dumps(config), encoding="utf-8")
    again = load_config(path)
    assert again == config


def test_inspect_guesses_the_roles_with_reasons_and_leaves_out_what_it_must():
    result = inspect_frame(_bank(), "bank.csv")
    c = result.config
    assert (c.id_column, c.label_column, c.churned_values) == ("CustomerId", "Exited", ("1",))
    assert c.tenure_column == "Tenure" and c.tenure_unit == "months"  # never guessed silently
    assert any("looks like years" in w for w in result.warnings)
    assert c.revenue_columns == ()
    left_out = dict(result.excluded)
    assert "known only after the outcome" in left_out["Churn Reason"]
    assert "constant" in left_out["Country"]
    assert left_out["RowNumber"] == "a row number"
    assert "personal identifier" in left_out["Surname"]
    assert not result.problems
    assert "Exited" in result.report() and "Churn Reason" in result.report()


def test_a_unit_in_the_name_is_used_and_said():
    frame = _bank().rename(columns={"Tenure": "Tenure (years)"})
    result = inspect_frame(frame, "bank.csv")
    assert result.config.tenure_unit == "years"
    table = build_table(frame, result.config, "bank.csv")
    assert table.customers[TENURE].max() == frame["Tenure (years)"].max() * 12
    assert any("converted to months" in n for n in table.quality.notes)


def test_no_id_column_numbers_the_rows_from_one_in_file_order():
    frame = _bank().drop(columns=["CustomerId", "RowNumber"])
    result = inspect_frame(frame, "usage.csv")
    assert result.config.id_column is None
    table = build_table(frame, result.config, "usage.csv")
    assert table.customers[ID].tolist()[:3] == ["1", "2", "3"]


def test_two_label_candidates_that_differ_stop_with_every_problem_listed():
    frame = _bank()
    frame["Attrition"] = np.where(np.arange(len(frame)) % 3 == 0, "Yes", "No")
    frame = frame.drop(columns=["CustomerId"])
    result = inspect_frame(frame, "two.csv")
    assert result.problems and "several columns could be the churn label" in result.problems[0]
    with pytest.raises(DataError, match="Exited.*Attrition|Attrition.*Exited"):
        result.raise_if_unsettled()


def test_copies_of_the_label_are_one_label_and_the_copy_is_left_out():
    frame = _bank()
    frame["Churn Label"] = np.where(frame["Exited"] == 1, "Yes", "No")
    result = inspect_frame(frame, "wb.csv")
    assert result.config.label_column == "Churn Label"
    assert dict(result.excluded)["Exited"].startswith("a copy of the label")


def test_a_file_without_a_label_lists_every_missing_role_and_the_fix(tmp_path):
    path = tmp_path / "nolabel.csv"
    _bank().drop(columns=["Exited", "Churn Reason"]).to_csv(path, index=False)
    with pytest.raises(DataError) as info:
        load_path(path)
    text = str(info.value)
    assert "no churn label found" in text and '[roles] label = "<column>"' in text


def test_a_config_naming_missing_columns_says_all_of_them_with_suggestions(tmp_path):
    path = tmp_path / "bank.csv"
    _bank().to_csv(path, index=False)
    config = from_dict({"roles": {"id": "customerid", "label": "Exitd", "tenure": "Tenure"}})
    with pytest.raises(DataError) as info:
        load_path(path, config=config)
    text = str(info.value)
    assert "did you mean `CustomerId`" in text and "did you mean `Exited`" in text


def test_bad_config_values_are_named():
    with pytest.raises(DataError, match="tenure_unit"):
        from_dict({"roles": {"label": "Churn", "tenure": "t", "tenure_unit": "fortnights"}})
    with pytest.raises(DataError, match="unknown key"):
        from_dict({"roles": {"lable": "Churn"}})
    with pytest.raises(DataError, match="either label or end_date"):
        from_dict({"roles": {"label": "Churn", "end_date": "EndDate"}})


def test_revenue_sums_columns_and_converts_the_period():
    frame = _bank()
    frame["Fee A"] = 120.0
    frame["Fee B"] = 240.0
    config = from_dict({"roles": {"id": "CustomerId", "label": "Exited", "churned": ["1"],
                                  "revenue": ["Fee A", "Fee B"], "revenue_period": "year",
                                  "tenure": "Tenure"}})
    table = build_table(frame, config, "fees.csv")
    assert np.allclose(table.customers[MONTHLY], 30.0)


def test_numbers_stored_as_text_are_numbers_and_bad_cells_are_reported():
    frame = _bank().astype({"Balance": str, "Age": str})
    frame.loc[3, "Balance"] = "n/a?"
    config = inspect_frame(frame, "bank.csv").config
    table = build_table(frame, config, "bank.csv")
    assert "Balance" in table.numeric and "Age" in table.numeric
    assert any(k.startswith("Balance: not a number") for k in table.quality.coerced)


def test_booleans_in_any_spelling_become_yes_no():
    frame = _bank()
    frame["HasCard"] = np.where(np.arange(len(frame)) % 2, "TRUE", "false")
    table = build_table(frame, inspect_frame(frame, "b.csv").config, "b.csv")
    assert set(table.customers["HasCard"].cat.categories) == {"No", "Yes"}


def test_positive_label_words():
    assert positive_value(["Attrited Customer", "Existing Customer"]) == "Attrited Customer"
    assert positive_value(["False", "True"]) == "True"
    assert positive_value(["0", "1"]) == "1"
    assert positive_value(["A", "B"]) is None
    assert suggest("customerid", ["CustomerId", "Age"]) == " (did you mean `CustomerId`?)"


def test_the_telco_layout_keeps_its_built_in_config(telco_path):
    table = load_path(telco_path)
    assert table.config == TELCO_CONFIG
