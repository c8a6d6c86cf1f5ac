"""Malformed data files through the command line: a sensible model (exit 0) or a message that
names the file, the column and the row (exit 2); never a traceback.

The variants are in tests/analytics/bad_files.py. They run through `analytics.cli.main`
in-process, training with minimal settings (2 folds, no baselines) to keep the suite fast; a
few run with the real defaults (5 folds and every baseline) where small or narrow data could
trip them.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from analytics import cli
from analytics.dataset import build_table
from analytics.demo import generate_demo
from analytics.errors import DataError
from analytics.export import customer_list
from analytics.loaders import INTERCONNECT_SPEC, load_demo
from analytics.model import MAX_ONE_HOT_LEVELS, _baseline, _sk_frame, cross_validate
from analytics.pipeline import (MAX_FEATURES, MAX_HIGH_CARDINALITY, MIN_PER_CLASS,
                                AnalysisSettings, feature_budget)
from analytics.runner import load_or_train
from tests.analytics.bad_files import BASE_ROWS, VARIANTS, write

FAST = AnalysisSettings(n_splits=2, baselines=())


@pytest.fixture
def cheap_cli(monkeypatch):
    """`cli.main` as a user runs it, but training with FAST settings."""
    def load_or_train_fast(source, settings=None, **kwargs):
        return load_or_train(source, FAST, **kwargs)

    monkeypatch.setattr(cli, "load_or_train", load_or_train_fast)
    return cli.main


def evaluate(main, path, capsys) -> tuple[int, str, str]:
    code = main(["evaluate", "--data", str(path), "--no-cache", "--json"])
    out, err = capsys.readouterr()
    return code, out, err


def assert_names_the_fault(err: str, path, column: str | None, row: int | None) -> None:
    start = re.search(r"^error: ", err, flags=re.MULTILINE)
    assert start, err
    message = err[start.start():]  # the progress lines come first
    assert path.name in message, message
    if column:
        assert f"column '{column}'" in message, message
    if row:
        assert re.search(rf"\brow {row}\b", message), message


def assert_sensible_model(out: str, rows: int | None) -> dict:
    result = json.loads(out)
    if rows is not None:
        assert result["n_customers"] == rows
    auc = result["models"]["catboost"]["roc_auc"]
    assert math.isfinite(auc) and 0 <= auc <= 1
    if rows == BASE_ROWS:  # the demo's own labels: the model must have learnt something
        assert auc > 0.6, result
    return result


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_bad_file_ends_in_a_model_or_a_message(variant, tmp_path, capsys, cheap_cli):
    path = write(variant, tmp_path)
    code, out, err = evaluate(cheap_cli, path, capsys)  # any other exception fails the test
    assert "Traceback" not in err
    if variant.expect == "ok":
        assert code == 0, err
        assert_sensible_model(out, variant.rows)
    elif variant.expect == "error":
        assert code == 2, out
        assert out == ""
        assert_names_the_fault(err, path, variant.column, variant.row)
    else:  # the loader cannot read it yet: a message now, a model once it sniffs the format
        assert code in (0, 2), err
        if code == 2:
            assert_names_the_fault(err, path, variant.column, variant.row)
        else:
            assert_sensible_model(out, variant.rows)


def test_at_least_60_variants_of_every_kind():
    assert len(VARIANTS) >= 60
    assert len({v.name for v in VARIANTS}) == len(VARIANTS)
    kinds = {v.expect for v in VARIANTS}
    assert kinds == {"ok", "error", "either"}


def _variant(name):
    return next(v for v in VARIANTS if v.name == name)


def test_too_few_churners_names_the_label_and_the_counts(tmp_path, capsys, cheap_cli):
    path = write(_variant("two_churners"), tmp_path)
    code, _, err = evaluate(cheap_cli, path, capsys)
    assert code == 2
    assert (f"column 'Churn': needs at least {MIN_PER_CLASS} churned and {MIN_PER_CLASS} "
            "stayed customers to learn and check a model; found 2 churned and 98 stayed") in err


@pytest.mark.parametrize("name, words", [
    ("tenure_negative", "1 negative value(s); a tenure (months as a customer) cannot be"),
    ("tenure_nan_strings", "2 missing or non-numeric value(s); every customer needs a tenure"),
    ("tenure_absurd", "1 value(s) above 1200; not a plausible tenure"),
    ("charges_negative", "a monthly revenue cannot be negative"),
    ("charges_inf", "infinite or larger than 1e+12"),
    ("total_400_digit_int", "infinite or larger than 1e+12"),
])
def test_bad_numbers_say_what_is_wrong(name, words, tmp_path, capsys, cheap_cli):
    path = write(_variant(name), tmp_path)
    code, _, err = evaluate(cheap_cli, path, capsys)
    assert code == 2 and words in err, err


def test_a_leaky_column_is_left_out_of_training_and_said_so(tmp_path, capsys, cheap_cli):
    code, out, err = evaluate(cheap_cli, write(_variant("leaky_copy_of_label"), tmp_path),
                              capsys)
    assert code == 0, err
    result = json.loads(out)
    assert [w["feature"] for w in result["leakage_warnings"]] == ["Cancelled"]
    assert "Cancelled" not in result["features"]
    assert [d["feature"] for d in result["dropped_features"]] == ["Cancelled"]
    # Left out, the model is an honest one again (it was 1.000 with the copy of the label).
    assert result["models"]["catboost"]["roc_auc"] < 0.95


def test_a_400_digit_cell_is_not_echoed_whole_in_the_message(tmp_path, capsys, cheap_cli):
    code, _, err = evaluate(cheap_cli, write(_variant("total_400_digit_int"), tmp_path), capsys)
    assert code == 2 and "row 5" in err and "9" * 40 not in err


@pytest.mark.parametrize("name", ["twenty_rows_ten_each", "only_required_columns"])
def test_smallest_and_narrowest_files_train_with_the_real_defaults(name, tmp_path, capsys):
    """5 folds and every baseline (the MLP's inner split, the forest) on 10 + 10 customers,
    and on a file with only id, label, tenure and charges."""
    variant = _variant(name)
    code, out, err = evaluate(cli.main, write(variant, tmp_path), capsys)
    assert code == 0, err
    result = assert_sensible_model(out, variant.rows)
    assert result["cross_validation"]["folds"] == 5
    assert set(result["models"]) == {"catboost", "logistic_regression", "random_forest", "mlp"}


def test_only_required_columns_trains_on_tenure_and_charges(tmp_path):
    path = write(_variant("only_required_columns"), tmp_path)
    analysis, _ = load_or_train(cli.DataSource(path=str(path)), FAST)
    assert analysis.features == ["tenure", "MonthlyCharges"]
    listed = customer_list(analysis, np.arange(len(analysis.customers)))
    assert (listed["reason_3"] == "").all()       # two features, two reasons at most
    assert listed["reason_1"].str.match(r"^(Tenure|Monthly charges).* pts$").mean() > 0.5
    assert not listed["reason_2"].str.contains("reason_|nan").any()


def test_a_wide_file_trains_within_the_feature_budget(tmp_path):
    path = write(_variant("wide_300_numeric"), tmp_path)
    analysis, _ = load_or_train(cli.DataSource(path=str(path)), FAST)
    assert len(analysis.features) <= MAX_FEATURES
    assert "Contract" in analysis.features and "tenure" in analysis.features
    high = [c for c in analysis.categorical if analysis.customers[c].nunique() > 100]
    assert len(high) <= MAX_HIGH_CARDINALITY
    note = next(n for n in analysis.quality["notes"] if n.startswith("feature budget"))
    assert "319 candidate features" in note and "slightly optimistic" in note
    assert analysis.shap_values.shape == (BASE_ROWS, len(analysis.features))


def test_a_file_wider_than_1000_columns_is_refused_with_what_to_do(tmp_path, capsys,
                                                                   cheap_cli):
    code, _, err = evaluate(cheap_cli, write(_variant("wide_1200_columns"), tmp_path), capsys)
    assert code == 2
    assert "1,221 columns, more than the 1,000 ChurnLens reads" in err
    assert "keep the id, label, tenure and charges columns" in err


def test_dated_data_with_an_absurd_begin_date_names_the_column_and_row():
    raw = generate_demo(100, seed=2, with_dates=True)
    raw.loc[4, "BeginDate"] = "1850-01-01"
    with pytest.raises(DataError) as err:
        build_table(raw, INTERCONNECT_SPEC, source="contract.csv")
    text = str(err.value)
    assert "contract.csv: column 'BeginDate'" in text and "row 6: '1850-01-01'" in text
    assert "more than 1200 months" in text


def test_the_feature_budget_leaves_ordinary_data_alone():
    table = load_demo(400, seed=2)
    y = table.training["churn"].to_numpy()
    cat, num, notes = feature_budget(table.training, y, table.categorical, table.numeric)
    assert (cat, num, notes) == (table.categorical, table.numeric, [])


def test_the_screen_keeps_the_informative_and_drops_chance_level_features():
    table = load_demo(2000, seed=4)
    frame = table.training.copy()
    y = frame["churn"].to_numpy()
    rng = np.random.default_rng(0)
    noise = pd.DataFrame(rng.normal(size=(len(frame), 80)),
                         columns=[f"noise{i}" for i in range(80)])
    frame = pd.concat([frame, noise], axis=1)
    cat, num, notes = feature_budget(frame, y, table.categorical,
                                     table.numeric + list(noise.columns))
    assert {"Contract", "tenure", "InternetService"} <= set(cat + num)
    assert len([c for c in num if c.startswith("noise")]) <= 2  # 0.27% pass 3 SE by luck
    assert len(cat + num) <= MAX_FEATURES and notes


def test_one_hot_baselines_stay_narrow_on_an_id_like_column():
    frame = pd.DataFrame({"note": [f"text {i}" for i in range(500)],
                          "tenure": np.arange(500.0)})
    y = np.arange(500) % 2
    model = _baseline("mlp", ["note"], ["tenure"], random_state=0)
    model.fit(_sk_frame(frame, ["note"], ["tenure"]), y)
    width = model[0].transform(_sk_frame(frame, ["note"], ["tenure"])).shape[1]
    assert width == MAX_ONE_HOT_LEVELS + 1


def test_cross_validate_refuses_fewer_of_a_class_than_folds():
    table = load_demo(200, seed=1)
    y = np.zeros(len(table.training), dtype=int)
    y[:3] = 1
    with pytest.raises(DataError, match="5-fold cross-validation needs at least 5 churned"):
        cross_validate(table.training, y, table.categorical, table.numeric, n_splits=5,
                       baselines=())
