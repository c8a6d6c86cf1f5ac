"""`inspect` on a folder of linked tables (a SaaS company's accounts, subscriptions, feature
usage linked through the subscription, support tickets and churn events): the links and
roles it proposes, and that the folder runs with the config it writes, unedited."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from analytics.data.config import from_dict, load_config
from analytics.data.folder import inspect_folder
from analytics.errors import DataError
from analytics.loaders import load_path

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def saas(tmp_path_factory) -> Path:
    from analytics.data.saas import write_saas

    return write_saas(tmp_path_factory.mktemp("saas") / "export", n_accounts=1200, seed=3)


def test_links_and_roles_come_from_shared_column_names(saas):
    result = inspect_folder(saas)
    assert result.problems == []
    config = result.config
    assert config.main == "accounts.csv" and config.id_column == "account_id"
    roles = {t.name: t.role for t in config.tables}
    assert roles == {"subscriptions": "history", "feature_usage": "events",
                     "support_tickets": "tickets", "churn_events": "churn_events"}
    usage = config.table("feature_usage")
    # feature_usage has no account id: it links through the subscription.
    assert usage.key == "subscription_id" and usage.links_to == "subscriptions"
    assert usage.kind == "feature_name" and "error_count" in usage.measures
    tickets = config.table("support_tickets")
    assert tickets.text == "ticket_text" and tickets.first_response_unit == "minutes"
    assert tickets.closed == "closed_at" and tickets.satisfaction == "satisfaction_score"
    churn = config.table("churn_events")
    assert churn.reactivated == "reactivated_at" and churn.reason == "reason_code"
    assert config.begin_date_column == "signup_date" and config.revenue_table == "subscriptions"
    # What inspect writes reads back as the same config.
    assert from_dict(tomllib.loads(result.toml())) == config


def test_the_folder_runs_with_the_written_config_unedited(saas, tmp_path):
    out = tmp_path / "config.toml"
    done = subprocess.run([sys.executable, "-m", "analytics", "inspect", "--data", str(saas),
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "through subscriptions.csv" in done.stdout
    table = load_path(saas, config=load_config(out))
    inferred = load_path(saas)
    assert table.behaviour.features == inferred.behaviour.features
    assert table.as_of == inferred.as_of
    b = table.behaviour
    assert any(f.startswith("feature_usage_") for f in b.features)
    assert any(f.startswith("support_tickets_sentiment") for f in b.features)
    # The churn events' feedback feeds the panel, never a feature.
    assert not any(f.startswith("churn_events") for f in table.features)
    assert any(t.role == "outcome" and t.name == "churn_events" for t in b.tables)
    assert table.customers["monthly_charges"].notna().all()


def test_evaluate_json_lists_every_feature_with_its_table(saas, tmp_path):
    done = subprocess.run([sys.executable, "-m", "analytics", "evaluate", "--data", str(saas),
                           "--json", "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    tables = result["feature_tables"]
    assert set(tables) == set(result["features"])
    assert tables["industry"] == "accounts.csv"
    assert {v for k, v in tables.items() if k.startswith("feature_usage_")} == {
        "feature_usage.csv"}
    assert result["behaviour"]["lift"]["verdict"]
    assert result["behaviour"]["horizon_days"] == 90


def test_an_ambiguous_link_is_a_problem_to_settle(saas, tmp_path):
    import shutil

    folder = tmp_path / "ambiguous"
    shutil.copytree(saas, folder)
    # A second table keyed by subscription_id: usage could link through either.
    import pandas as pd

    subs = pd.read_csv(folder / "subscriptions.csv")
    subs[["subscription_id", "account_id"]].to_csv(folder / "subscription_owners.csv",
                                                   index=False)
    result = inspect_folder(folder)
    assert any("links to several tables" in p for p in result.problems)
    with pytest.raises(DataError, match="links to several tables"):
        load_path(folder)
