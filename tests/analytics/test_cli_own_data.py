"""The command line on other businesses' files: inspect, --config, score --model-of,
evaluate --test, and the messages when roles cannot be settled."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from analytics import cli
from analytics.data.layouts import generate_bank, write_layout
from analytics.pipeline import AnalysisSettings
from analytics.runner import load_or_train

# The commands as a user runs them, trained with fewer folds and no baselines (the roles,
# reading and scoring paths are what is under test here).
FAST = AnalysisSettings(n_splits=3, baselines=())


@pytest.fixture(autouse=True)
def fast_training(monkeypatch):
    monkeypatch.setattr(cli, "load_or_train",
                        lambda source, settings=None, **kw: load_or_train(source, FAST, **kw))


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_inspect_writes_a_config_that_works_unedited(tmp_path, capsys):
    data = write_layout("bank", 600, tmp_path / "bank.csv")
    config = tmp_path / "bank.toml"
    code, out, _ = _run(capsys, "inspect", "--data", str(data), "--out", str(config))
    assert code == 0
    assert "Exited" in out and "left out" in out and "RowNumber" in out
    text = config.read_text()
    assert 'label = "Exited"' in text and "# " in text
    code, out, err = _run(capsys, "evaluate", "--data", str(data), "--config", str(config),
                          "--json", "--no-cache")
    assert code == 0, err
    assert json.loads(out)["roles"]["id"] == "CustomerId"


def test_a_config_saying_years_converts_the_tenure(tmp_path, capsys):
    data = write_layout("bank", 600, tmp_path / "bank.csv")
    config = tmp_path / "bank.toml"
    _run(capsys, "inspect", "--data", str(data), "--out", str(config))
    config.write_text(config.read_text().replace('tenure = "Tenure"',
                                                 'tenure = "Tenure"\ntenure_unit = "years"'))
    code, out, err = _run(capsys, "evaluate", "--data", str(data), "--config", str(config),
                          "--json", "--no-cache")
    assert code == 0, err
    assert json.loads(out)["roles"]["tenure_unit"] == "years"


def test_unsettled_roles_exit_2_with_every_problem_and_no_traceback(tmp_path, capsys):
    frame = generate_bank(300).drop(columns=["Exited"])
    path = tmp_path / "nolabel.csv"
    frame.to_csv(path, index=False)
    code, _, err = _run(capsys, "evaluate", "--data", str(path), "--no-cache")
    assert code == 2
    assert "Traceback" not in err
    assert "no churn label found" in err and "--config" in err


def test_score_new_customers_with_the_model_of_the_training_file(tmp_path, capsys):
    train = write_layout("bank", 800, tmp_path / "train.csv")
    new = generate_bank(120, seed=5).drop(columns=["Exited"])
    new.loc[0, "Geography"] = "Italy"          # a category the model never saw
    new.loc[1, "Age"] = 130                    # outside the training range: flagged
    new_path = tmp_path / "new.csv"
    new.to_csv(new_path, index=False)
    out_path = tmp_path / "scores.csv"
    code, _, err = _run(capsys, "score", "--data", str(new_path), "--model-of", str(train),
                        "--out", str(out_path), "--cache-dir", str(tmp_path / "cache"))
    assert code == 0, err
    scores = pd.read_csv(out_path, keep_default_na=False)
    assert len(scores) == 120
    assert scores["customer_id"].astype(str).tolist()[:2] == new["CustomerId"].astype(
        str).tolist()[:2]
    assert scores["churn_probability"].between(0, 1).all()
    assert "unknown Geography" in scores.loc[0, "flags"]
    assert "Age outside training range" in scores.loc[1, "flags"]
    assert "Geography: 1 value(s) the model never saw" in err and "'Italy' (1)" in err


def test_score_refuses_a_file_missing_model_columns_naming_all(tmp_path, capsys):
    train = write_layout("bank", 500, tmp_path / "train.csv")
    new = generate_bank(50).drop(columns=["Exited", "Age", "Balance"])
    new_path = tmp_path / "new.csv"
    new.to_csv(new_path, index=False)
    code, _, err = _run(capsys, "score", "--data", str(new_path), "--model-of", str(train),
                        "--out", str(tmp_path / "s.csv"), "--cache-dir", str(tmp_path / "c"))
    assert code == 2 and "`Age`" in err and "`Balance`" in err


def test_evaluate_on_a_held_out_file(tmp_path, capsys):
    train = write_layout("bank", 1500, tmp_path / "train.csv")
    test = write_layout("bank", 600, tmp_path / "test.csv", seed=9)
    code, out, err = _run(capsys, "evaluate", "--data", str(train), "--test", str(test),
                          "--json", "--no-cache")
    assert code == 0, err
    held = json.loads(out)["held_out_test"]
    assert held["n"] == 600
    assert 0.7 < held["metrics"]["roc_auc"] < 0.99


def test_the_score_api_on_data_without_revenue_offers_nothing_and_says_why():
    from analytics.data.inspect import inspect_frame
    from analytics.dataset import build_table
    from analytics.offers import load_catalogue
    from analytics.pipeline import analyse
    from analytics.scoring import score_records

    frame = generate_bank(600)
    table = build_table(frame, inspect_frame(frame, "bank.csv").config, "bank.csv")
    analysis = analyse(table, FAST)
    record = frame.drop(columns=["Exited", "RowNumber", "Surname"]).iloc[0].to_dict()
    record = {k: (v.item() if hasattr(v, "item") else v) for k, v in record.items()}
    record["customer_id"] = str(record.pop("CustomerId"))
    result = score_records(record, analysis, load_catalogue(cli.DEFAULT_OFFERS))[0]
    assert result["best_offer"]["id"] == "none"
    assert result["best_offer"]["expected_profit"] is None
    assert "revenue column" in result["best_offer"]["reason"]
    assert result["clv"] is None
