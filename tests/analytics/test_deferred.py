"""Serving before the model checks are in: `defer` leaves the baselines, the behaviour check and
the backtest for later, and finishing them never changes a score."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from analytics.pipeline import (PROBABILITY, SEGMENT, TIER, AnalysisSettings, analyse, apply_completion,
                                complete)
from analytics.runner import (DataSource, cache_key, completion_key, finish, load_or_train,
                              open_store)

SETTINGS = AnalysisSettings(baselines=("logistic_regression",))
SOURCE = DataSource(demo_size=1500, demo_events=True, seed=3)


@pytest.fixture(scope="module")
def table():
    return SOURCE.load()


@pytest.fixture(scope="module")
def both(table):
    # Two loads: an analysis keeps (and the check writes into) its table's behaviour.
    return analyse(SOURCE.load(), SETTINGS), analyse(table, SETTINGS, defer=True)


def test_deferred_analysis_serves_the_same_scores(both):
    full, deferred = both
    assert full.pending == ()
    assert deferred.pending == ("baselines", "behaviour_check")
    np.testing.assert_array_equal(full.customers[PROBABILITY], deferred.customers[PROBABILITY])
    np.testing.assert_array_equal(full.shap_values, deferred.shap_values)
    assert list(full.customers[TIER]) == list(deferred.customers[TIER])
    assert list(full.customers[SEGMENT]) == list(deferred.customers[SEGMENT])
    assert set(deferred.cv.oof) == {"catboost"}
    assert deferred.behaviour.lift is None


def test_completing_gives_what_a_full_run_computes(both, table):
    full, deferred = both
    before = deferred.customers[PROBABILITY].to_numpy().copy()
    # The training process kept its sample (never pickled); reloading the data gives the same.
    assert "check_sample" not in pickle.loads(pickle.dumps(deferred)).__dict__
    kept = complete(deferred)
    done = complete(deferred, table)
    np.testing.assert_array_equal(kept["baselines"]["oof"]["logistic_regression"],
                                  done["baselines"]["oof"]["logistic_regression"])
    apply_completion(deferred, done)
    assert deferred.pending == () and not hasattr(deferred, "check_sample")
    np.testing.assert_allclose(deferred.cv.oof["logistic_regression"],
                               full.cv.oof["logistic_regression"])
    assert deferred.cv.overall == full.cv.overall
    assert deferred.behaviour.lift["lift"] == pytest.approx(full.behaviour.lift["lift"])
    np.testing.assert_array_equal(deferred.customers[PROBABILITY], before)


def test_finish_runs_once_per_cache_and_others_load_it(tmp_path):
    cache = tmp_path / "cache"
    lines: list[str] = []
    first, from_cache = load_or_train(SOURCE, SETTINGS, cache_dir=cache, defer=True,
                                      progress=lines.append)
    assert not from_cache and set(first.pending) == {"baselines", "behaviour_check",
                                                     "backtest"}
    store, key = open_store(cache), cache_key(SOURCE, SETTINGS)
    assert store.get(completion_key(key)) is None
    finish(first, SOURCE, store, key, progress=lines.append)
    assert first.pending == () and first.backtest is not None
    assert any("model checks completed" in line for line in lines)
    # Another process (the CLI, a worker) gets everything from the cache without computing.
    lines.clear()
    second, from_cache = load_or_train(SOURCE, SETTINGS, cache_dir=cache, progress=lines.append)
    assert from_cache and second.pending == ()
    assert not any("fold" in line or "backtest" in line for line in lines), lines
    assert second.cv.overall == first.cv.overall
    assert second.backtest == first.backtest


def test_a_pending_entry_is_finished_for_a_caller_that_does_not_defer(tmp_path):
    cache = tmp_path / "cache"
    load_or_train(SOURCE, SETTINGS, cache_dir=cache, defer=True)
    analysis, from_cache = load_or_train(SOURCE, SETTINGS, cache_dir=cache)
    assert from_cache and analysis.pending == ()
    assert "logistic_regression" in analysis.cv.overall
    assert analysis.evaluation()["out_of_time_backtest"] is not None


def test_a_background_cache_write_holds_the_lock_and_writes_what_was_trained(tmp_path,
                                                                            monkeypatch):
    import threading

    from analytics import runner
    from analytics.store import ArtifactStore

    cache, release = tmp_path / "cache", threading.Event()
    real_put = ArtifactStore.try_put

    def slow_put(self, key, value):
        release.wait(30)          # the write is still going on while the caller serves
        return real_put(self, key, value)

    monkeypatch.setattr(ArtifactStore, "try_put", slow_put)
    lines: list[str] = []
    analysis, from_cache = load_or_train(SOURCE, SETTINGS, cache_dir=cache, defer=True,
                                         background_write=True, progress=lines.append)
    assert not from_cache and runner._BACKGROUND
    trained = list(analysis.customers[TIER])
    # The app changes the served analysis meanwhile (an admin's new tier cut-offs).
    runner.retier(analysis, 0.95, 0.9)
    store, key = open_store(cache), cache_key(SOURCE, SETTINGS)
    other = threading.Thread(target=lambda: store.lock(key).__enter__())
    other.start()
    other.join(0.5)
    assert other.is_alive(), "another process must wait for the entry, not train too"
    assert store.get(key) is None
    release.set()
    runner.wait_for_background(30)
    other.join(10)
    assert not other.is_alive() and not runner._BACKGROUND
    cached = store.get(key)
    assert list(cached.customers[TIER]) == trained != list(analysis.customers[TIER])
    assert cached.settings.tier_high == SETTINGS.tier_high
    np.testing.assert_array_equal(cached.customers[PROBABILITY],
                                  analysis.customers[PROBABILITY])
    assert any(line.startswith("cached as ") for line in lines)
    # A restart loads it.
    again, from_cache = load_or_train(SOURCE, SETTINGS, cache_dir=cache, defer=True)
    assert from_cache and list(again.customers[TIER]) == trained


def test_offers_ranked_in_the_background_are_waited_for_and_equal_the_ranked_ones(
        tmp_path, monkeypatch):
    import threading
    from pathlib import Path

    import pandas as pd

    from analytics import runner
    from analytics.offers import load_catalogue

    catalogue = load_catalogue(Path(__file__).resolve().parents[2] / "data" / "offers.toml")
    cache, release, real = tmp_path / "cache", threading.Event(), runner.recommend

    def slow(*args, **kwargs):
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "recommend", slow)
    served, _ = load_or_train(SOURCE, SETTINGS, cache_dir=cache, defer=True, catalogue=catalogue,
                              background_write=True)
    assert served.catalogue is catalogue and "_ranking" in served.__dict__
    runner.retier(served, 0.95, 0.9)   # what the app does meanwhile (saved tier cut-offs)
    seen: list = []
    reader = threading.Thread(target=lambda: seen.append(served.recommendations))
    reader.start()
    reader.join(0.3)
    assert reader.is_alive() and not seen, "a page must wait for the offers, not see none"
    release.set()
    reader.join(30)
    runner.wait_for_background(30)
    assert not runner._BACKGROUND and "_ranking" not in served.__dict__
    monkeypatch.setattr(runner, "recommend", real)
    # The same table a start that waits for them ranks (no cache: ranked again here).
    ranked, _ = load_or_train(SOURCE, SETTINGS, defer=True, catalogue=catalogue)
    pd.testing.assert_frame_equal(seen[0], ranked.recommendations)
    assert seen[0] is served.recommendations


def test_offers_that_fail_in_the_background_leave_the_scores_served(monkeypatch):
    from pathlib import Path

    from analytics import runner
    from analytics.offers import load_catalogue

    catalogue = load_catalogue(Path(__file__).resolve().parents[2] / "data" / "offers.toml")

    def broken(*args, **kwargs):
        raise ValueError("no revenue column")

    monkeypatch.setattr(runner, "recommend", broken)
    lines: list[str] = []
    served, _ = load_or_train(SOURCE, SETTINGS, defer=True, catalogue=catalogue,
                              background_write=True, progress=lines.append)
    assert served.recommendations is None       # waited for, then none: never a hang
    runner.wait_for_background(30)
    assert any("offers not ranked: ValueError: no revenue column" in line for line in lines)
    assert served.customers[PROBABILITY].notna().all()


def test_the_longest_standing_active_customers_are_not_ranked_riskiest():
    # Features at the as-of date, scores at the extraction date four months later: active
    # customers then have tenures no training row had. A demo in which those tenures were
    # leavers' only (begun before the service) put loyal 70-month customers at the top.
    from analytics.pipeline import ACTIVE

    source = DataSource(demo_size=6000, demo_events=True, seed=1)
    analysis = analyse(source.load(), AnalysisSettings(baselines=()))
    active = analysis.customers[analysis.customers[ACTIVE].astype(bool)]
    longest = active["tenure"] > 68
    risk = active[PROBABILITY]
    assert longest.sum() > 100
    assert risk[longest].mean() < 0.5 * risk.mean(), (risk[longest].mean(), risk.mean())
    top = risk.rank(ascending=False) <= 100
    assert (top & longest).sum() <= 5, int((top & longest).sum())
