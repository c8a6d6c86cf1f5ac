"""Command-line settings of app.py."""

from __future__ import annotations

import pytest

from dashboard.settings import Settings


def test_defaults_and_env_cache_dir(monkeypatch):
    monkeypatch.setenv("CHURNLENS_CACHE_DIR", "/tmp/elsewhere")
    s = Settings.from_args([])
    assert (s.host, s.port, s.data_path, s.demo_size) == ("127.0.0.1", 8050, None, 7043)
    assert s.cache_dir == "/tmp/elsewhere"
    assert Settings.from_args(["--cache-dir", "x"]).cache_dir == "x"


def test_options_parse():
    s = Settings.from_args(["--data", "f.csv", "--port", "9000", "--tier-high", "0.6",
                            "--tier-medium", "0.3", "--margin", "0.5", "--horizon", "36"])
    assert (s.data_path, s.port, s.tier_high, s.tier_medium, s.margin, s.horizon_months) == \
        ("f.csv", 9000, 0.6, 0.3, 0.5, 36)


def test_bad_tiers_are_refused():
    with pytest.raises(SystemExit):
        Settings.from_args(["--tier-high", "0.2", "--tier-medium", "0.4"])


def test_a_broken_offer_catalogue_is_reported_and_the_app_runs_without_offers(tmp_path):
    from dashboard import shell
    from dashboard.services import Services
    from dashboard.settings import Settings

    bad = tmp_path / "offers.toml"
    bad.write_text('[settings]\ncontact_cost = 5\n[offers.x]\nname = "X"\nacceptance = 2\n')
    svc = Services(Settings(demo_size=600, demo_events=False, cache_dir=str(tmp_path / "cache"),
                            offers_path=str(bad))).start(progress=lambda m: None)
    assert svc.analysis is not None and svc.analysis.recommendations is None
    status = svc.status()
    assert "offers.toml" in status["offers_error"] and "acceptance" in status["offers_error"]
    assert "could not be read" in str(shell.layout(svc.filter_options(), status))
    assert svc.offers.campaign({}, None)["error"] == status["offers_error"]
    detail = svc.customer.detail(str(svc.analysis.customers["customer_id"].iloc[0]))
    assert detail["offer"] is None and detail["recommended_offer"] == ""
    page = svc.customers.grid_page({}, {"startRow": 0, "endRow": 10,
                              "sortModel": [{"colId": "expected_profit", "sort": "desc"}]})
    assert page["rowCount"] == int(svc.analysis.customers["active"].sum())
    assert len(page["rowData"]) == 10
