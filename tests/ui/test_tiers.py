"""The risk-tier cut-offs as a shared setting: validated before anything is stored, saved
beside the cache per dataset, restored at start, recorded, undoable, and a broken settings
file never stops the app."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from dashboard import create_app
from dashboard.services import CONFIG_KEY
from dashboard.services.tiers import SETTINGS_FILE, TierError, validate
from dashboard.settings import Settings
from tests.conftest import copy_cache
from tests.ui.conftest import DEMO_SIZE

FLAGS = (Settings.tier_high, Settings.tier_medium)


@pytest.fixture
def cache(app, tmp_path):
    """A cache folder of its own holding the session app's model (so a start loads it in
    about a second instead of training), without its settings file."""
    source = app.server.config[CONFIG_KEY].settings.cache_dir
    target = tmp_path / "cache"
    return copy_cache(source, target, SETTINGS_FILE + "*", ".settings-*")


def start(cache_dir):
    """A fresh app on `cache_dir`, as after a restart; its Services (`.test_app` is the
    app, for a test client)."""
    app = create_app(Settings(demo_size=DEMO_SIZE, demo_events=False, cache_dir=str(cache_dir)),
                     progress=lambda m: None)
    svc = app.server.config[CONFIG_KEY]
    svc.test_app = app
    return svc


def tier_counts(svc) -> dict:
    return svc.analysis.customers["risk_tier"].value_counts().to_dict()


def saved(cache_dir) -> dict:
    return json.loads((cache_dir / SETTINGS_FILE).read_text())


@pytest.mark.parametrize("high, medium", [
    (5, None), ("abc", None), (float("nan"), None), (float("inf"), None), (-0.1, None),
    (0, None), (True, None), (None, None), (0.4, 0.4), (0.4, 0.6), (0.4, -0.1), (0.4, "x"),
    (0.4, float("nan")),
])
def test_validation_refuses_bad_cut_offs(high, medium):
    with pytest.raises(TierError, match="nothing was changed"):
        validate(high, medium, 0.25)


def test_validation_keeps_medium_below_high_or_halves_it():
    assert validate(0.4, None, 0.25) == (0.4, 0.25)
    assert validate(0.2, None, 0.25) == (0.2, 0.1)
    assert validate(1, 0) == (1.0, 0.0)


def test_a_refused_change_stores_nothing_and_changes_nothing(cache):
    svc = start(cache)
    tiers = svc.tiers
    tiers.apply(0.4)                               # a real change first: a file exists
    before_file = (cache / SETTINGS_FILE).read_bytes()
    before_settings, before_tiers = svc.analysis.settings, tier_counts(svc)
    client = svc.test_app.server.test_client()
    for high, medium in ((5, None), ("abc", None), (0.3, 0.3), (float("nan"), None)):
        with pytest.raises(TierError):
            tiers.apply(high, medium)
        with pytest.raises(TierError):
            tiers.preview(high, medium)
    assert (cache / SETTINGS_FILE).read_bytes() == before_file
    assert svc.analysis.settings == before_settings and tier_counts(svc) == before_tiers
    assert len(tiers.history()) == 1
    response = client.post("/api/score", json=first_customer(svc))
    assert response.status_code == 200 and response.get_json()["risk_tier"] in (
        "High", "Medium", "Low")


def test_preview_counts_before_and_after_without_changing_anything(cache):
    svc = start(cache)
    p = svc.analysis.customers["churn_probability"].to_numpy()
    active = svc.analysis.customers["active"].to_numpy().astype(bool)
    preview = svc.tiers.preview(0.4)
    assert (preview["before"]["high"], preview["after"]["high"]) == (0.5, 0.4)
    assert preview["after"]["medium"] == 0.25 and preview["changed"]
    assert preview["before"]["counts"]["all"] == tier_counts(svc)
    after = preview["after"]["counts"]
    assert after["all"]["High"] == int((p >= 0.4).sum())
    assert after["active"]["High"] == int(((p >= 0.4) & active).sum())
    assert after["active"]["Medium"] == int(((p >= 0.25) & (p < 0.4) & active).sum())
    assert sum(after["all"].values()) == len(p) and sum(after["active"].values()) == active.sum()
    assert svc.analysis.settings.tier_high == 0.5            # a preview changes nothing
    assert not (cache / SETTINGS_FILE).exists()


def test_apply_persists_atomically_and_a_restart_restores_it(cache):
    svc = start(cache)
    entry = svc.tiers.apply(0.4)
    c = svc.analysis.customers
    assert (svc.analysis.settings.tier_high, svc.analysis.settings.tier_medium) == (0.4, 0.25)
    assert (c.loc[c["risk_tier"] == "High", "churn_probability"] >= 0.4).all()
    assert (c.loc[c["risk_tier"] != "High", "churn_probability"] < 0.4).all()
    document = saved(cache)
    key = svc.tiers.dataset_key()
    assert list(document["datasets"]) == [key]
    assert document["datasets"][key]["tiers"] == {"high": 0.4, "medium": 0.25}
    assert document["datasets"][key]["history"] == [entry]
    assert not list(cache.glob(".settings-*"))               # the temporary file is gone

    again = start(cache)                                     # a restart
    assert (again.analysis.settings.tier_high, again.analysis.settings.tier_medium) == \
        (0.4, 0.25)
    assert tier_counts(again) == tier_counts(svc)
    assert again.tiers.history() == [entry]


def test_another_datasets_cut_offs_never_apply(cache):
    (cache / SETTINGS_FILE).write_text(json.dumps({"version": 1, "datasets": {
        "/elsewhere/other.csv": {"tiers": {"high": 0.3, "medium": 0.1}, "history": []}}}))
    svc = start(cache)
    assert (svc.analysis.settings.tier_high, svc.analysis.settings.tier_medium) == FLAGS
    svc.tiers.apply(0.45)
    document = saved(cache)
    assert document["datasets"]["/elsewhere/other.csv"]["tiers"] == {"high": 0.3,
                                                                     "medium": 0.1}
    assert document["datasets"][svc.tiers.dataset_key()]["tiers"]["high"] == 0.45


def test_undo_goes_back_change_by_change_and_history_records_each(cache):
    svc = start(cache)
    tiers = svc.tiers
    original = tier_counts(svc)
    assert not tiers.can_undo()
    with pytest.raises(TierError, match="no change to undo"):
        tiers.undo()
    tiers.apply(0.4)
    tiers.apply(0.2)                        # Medium 0.25 is not below 0.2: it becomes 0.1
    assert (svc.analysis.settings.tier_high, svc.analysis.settings.tier_medium) == (0.2, 0.1)
    tiers.undo()
    assert (svc.analysis.settings.tier_high, svc.analysis.settings.tier_medium) == (0.4, 0.25)
    tiers.undo()
    assert (svc.analysis.settings.tier_high, svc.analysis.settings.tier_medium) == FLAGS
    assert tier_counts(svc) == original and not tiers.can_undo()

    history = tiers.history()                                # newest first
    assert [e["action"] for e in history] == ["undo", "undo", "change", "change"]
    assert [(e["from"]["high"], e["to"]["high"]) for e in history] == [
        (0.4, 0.5), (0.2, 0.4), (0.4, 0.2), (0.5, 0.4)]
    assert history[1]["to"] == {"high": 0.4, "medium": 0.25}
    assert history[1]["from"] == {"high": 0.2, "medium": 0.1}
    now = datetime.now(timezone.utc)
    for e in history:
        assert e["at"].endswith("Z") and e["by"] is None
        when = datetime.fromisoformat(e["at"].replace("Z", "+00:00"))
        assert now - timedelta(minutes=5) <= when <= now + timedelta(seconds=1)
    p = svc.analysis.customers["churn_probability"].to_numpy()
    active = svc.analysis.customers["active"].to_numpy().astype(bool)
    assert history[3]["high_active"] == {"from": int(((p >= 0.5) & active).sum()),
                                         "to": int(((p >= 0.4) & active).sum())}
    assert start(cache).tiers.history() == history           # kept across a restart


@pytest.mark.parametrize("content, words", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "not a ChurnLens settings file"),
    (None, "could not be read"),                             # a folder where the file goes
    ("bad values", "must be a churn risk above 0%"),
])
def test_a_corrupt_settings_file_is_survived(cache, caplog, content, words):
    path = cache / SETTINGS_FILE
    if content is None:
        path.mkdir()
    elif content == "bad values":
        svc = start(cache)
        path.write_text(json.dumps({"datasets": {svc.tiers.dataset_key(): {
            "tiers": {"high": 5, "medium": 0.2}}}}))
    else:
        path.write_text(content)
    with caplog.at_level(logging.WARNING):
        svc = start(cache)
    assert svc.analysis is not None
    assert (svc.analysis.settings.tier_high, svc.analysis.settings.tier_medium) == FLAGS
    assert words in svc.tiers.problem and "start-up cut-offs apply" in svc.tiers.problem
    assert any(words in r.getMessage() for r in caplog.records)
    assert svc.tiers.history() == []
    svc.tiers.apply(0.4)                                     # a new file; the old one kept
    assert saved(cache)["datasets"][svc.tiers.dataset_key()]["tiers"]["high"] == 0.4
    if content != "bad values":
        assert len(list(cache.glob(SETTINGS_FILE + ".corrupt-*"))) == 1
    assert svc.tiers.problem is None


def test_a_change_that_cannot_be_saved_changes_nothing(cache, monkeypatch):
    svc = start(cache)
    before = tier_counts(svc)

    def disk_full(*_args):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr("dashboard.services.tiers.os.replace", disk_full)
    with pytest.raises(TierError, match="could not be saved.*nothing was changed"):
        svc.tiers.apply(0.4)
    assert svc.analysis.settings.tier_high == FLAGS[0] and tier_counts(svc) == before
    assert not (cache / SETTINGS_FILE).exists() and not list(cache.glob(".settings-*"))


def test_without_a_cache_dir_the_settings_live_in_memory(cache):
    svc = start(cache)
    svc.settings = replace(svc.settings, cache_dir=None)
    assert svc.tiers.path is None
    svc.tiers.apply(0.35)
    assert svc.analysis.settings.tier_high == 0.35 and len(svc.tiers.history()) == 1
    assert not (cache / SETTINGS_FILE).exists()
    svc.tiers.undo()
    assert svc.analysis.settings.tier_high == FLAGS[0]


def test_another_worker_picks_up_a_change(cache):
    first, second = start(cache), start(cache)               # two workers, one cache
    first.tiers.apply(0.4)
    assert second.analysis.settings.tier_high == FLAGS[0]    # not yet looked
    second.tiers.refresh()
    assert second.analysis.settings.tier_high == 0.4
    np.testing.assert_array_equal(first.analysis.customers["risk_tier"].to_numpy(),
                                  second.analysis.customers["risk_tier"].to_numpy())


# ----- helpers -------------------------------------------------------------------------------
def first_customer(svc) -> dict:
    row = svc.analysis.customers.iloc[0]
    return {f: float(row[f]) if f in svc.analysis.numeric else str(row[f])
            for f in svc.analysis.features}
