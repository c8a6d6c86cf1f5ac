"""The command line, run the way a data scientist runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args, cache=None):
    cmd = [sys.executable, "-m", "analytics", *args]
    if cache is not None:
        cmd += ["--cache-dir", str(cache)]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cli-cache")


def test_evaluate_json_prints_exactly_one_object(cache):
    done = run("evaluate", "--demo-size", "1500", "--json", cache=cache)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # the whole stdout is one JSON object
    assert result["n_customers"] == 1500
    assert 0.15 < result["churn_rate"] < 0.40
    assert result["leakage_warnings"] == []
    assert set(result["models"]) == {"catboost", "logistic_regression", "random_forest", "mlp"}
    assert result["out_of_time_backtest"] is None  # the demo data has no dates
    for metrics in result["models"].values():
        assert 0.5 < metrics["roc_auc"] < 1 and 0 < metrics["brier"] < 0.25
    assert "cross-validation fold 5 of 5" in done.stderr  # progress goes to stderr


def test_evaluate_table_output(cache):
    done = run("evaluate", "--demo-size", "1500", cache=cache)
    assert done.returncode == 0, done.stderr
    assert "loaded model, scores and SHAP values from cache" in done.stdout
    assert "catboost" in done.stdout and "roc_auc" in done.stdout


def test_score_writes_reasons(tmp_path, cache):
    out = tmp_path / "scores.csv"
    done = run("score", "--demo-size", "1500", "--out", str(out), cache=cache)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out, keep_default_na=False)
    assert list(table.columns) == ["customer_id", "churn_probability", "risk_tier",
                                   "reason_1", "reason_2", "reason_3"]
    # Active customers only by default: those a team can still keep.
    assert 0 < len(table) < 1500 and table["customer_id"].is_unique
    assert table["churn_probability"].between(0, 1).all()
    high = table[table["risk_tier"] == "High"]
    assert (high["reason_1"].str.fullmatch(r"[^:]+(: [^:]+)?: \+\d+ pts")).all()
    everyone = tmp_path / "everyone.csv"
    done = run("score", "--demo-size", "1500", "--out", str(everyone), "--include-churned",
               cache=cache)
    assert done.returncode == 0, done.stderr
    assert len(pd.read_csv(everyone, keep_default_na=False)) == 1500


def test_bad_data_exits_2_with_a_message_and_no_traceback(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("customerID,tenure,MonthlyCharges,Churn\nA,1,abc,Yes\nB,2,3,No\n")
    done = run("evaluate", "--data", str(bad), "--no-cache")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "bad.csv" in done.stderr and "MonthlyCharges" in done.stderr
    assert "row 2: 'abc'" in done.stderr


def test_missing_path_exits_2(tmp_path):
    done = run("score", "--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "x.csv"),
               "--no-cache")
    assert done.returncode == 2 and "not found" in done.stderr
    assert "Traceback" not in done.stderr


def test_campaign_plans_whom_to_contact(cache):
    done = run("campaign", "--demo-size", "1500", "--capacity", "100", "--json", cache=cache)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    best = result["contact_for_max_profit"]
    assert 0 < best <= result["active_customers"] < 1500
    assert result["contact_with_capacity"] == min(100, best)
    assert result["max_expected_profit"] >= result["expected_profit_with_capacity"] > 0
    assert sum(result["offer_mix"].values()) == best  # every contact gets exactly one offer
    assert "No offer" not in result["offer_mix"] and "model-implied" in result["note"]


def test_export_carries_the_recommended_offer_and_promo_code(tmp_path, cache):
    out = tmp_path / "list.csv"
    done = run("export", "--demo-size", "1500", "--out", str(out), cache=cache)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out, skiprows=1, keep_default_na=False)
    assert list(table.columns)[-3:] == ["recommended_offer", "expected_profit", "promo_code"]
    # The default list is a call list: nobody who already left, nobody "not offered".
    assert set(table["status"]) == {"active"}
    assert "Not offered (left)" not in set(table["recommended_offer"])
    assert "active customers only" in out.read_text().splitlines()[0]
    offered = table[~table["recommended_offer"].isin(["No offer", "Not offered (left)"])]
    assert len(offered) and (offered["expected_profit"].astype(float) > 0).all()
    codes = table.loc[table["promo_code"] != "", "promo_code"]
    assert codes.is_unique and codes.str.match(r"^SAVE\d+-").all()
    everyone = tmp_path / "everyone.csv"
    done = run("export", "--demo-size", "1500", "--out", str(everyone), "--include-churned",
               cache=cache)
    assert done.returncode == 0, done.stderr
    everyone_table = pd.read_csv(everyone, skiprows=1)
    assert len(everyone_table) == 1500
    assert set(everyone_table["status"]) == {"active", "churned"}
    left = everyone_table[everyone_table["status"] == "churned"]
    assert left["clv"].isna().all() and left["revenue_at_risk"].isna().all()
    again = tmp_path / "again.csv"
    assert run("export", "--demo-size", "1500", "--out", str(again), cache=cache).returncode == 0
    assert pd.read_csv(again, skiprows=1, keep_default_na=False)["promo_code"].equals(
        table["promo_code"])  # stable across exports of the same data and settings


def test_drift_flags_a_shifted_file(tmp_path, cache):
    from analytics.demo import generate_demo
    shifted = generate_demo(1500, seed=9)
    shifted["MonthlyCharges"] = shifted["MonthlyCharges"] * 1.6
    path = tmp_path / "refreshed.csv"
    shifted.to_csv(path, index=False)
    done = run("drift", "--demo-size", "1500", "--new", str(path), "--json", cache=cache)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    levels = {r["feature"]: r["level"] for r in result["features"]}
    assert levels["MonthlyCharges"] == "large"
    assert levels["Contract"] == "ok" and levels["gender"] == "ok"
    assert result["n_new"] == 1500
