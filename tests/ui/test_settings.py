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
