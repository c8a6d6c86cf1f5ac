"""The model checks left for the background: the Model page says what is pending and fills in
by itself; a worker that forked before they were done picks them up from the cache."""

from __future__ import annotations

import pytest

from dash import no_update

from analytics.runner import cache_key, completion_key, open_store
from components.model_checks import CHECKS_NOTE
from tests.ui.conftest import find, walk


@pytest.fixture(scope="module", autouse=True)
def _page(app):
    global page
    from pages import model as page


@pytest.fixture
def saved_baselines(svc):
    cv = svc.analysis.cv
    names = [n for n in cv.oof if n != "catboost"]
    return {"oof": {n: cv.oof[n] for n in names}, "folds": {n: cv.folds[n] for n in names},
            "overall": {n: cv.overall[n] for n in names}}


@pytest.fixture
def pending(svc, saved_baselines):
    """The served analysis as a worker forked before its checks finished sees it."""
    a = svc.analysis
    saved = (a.pending, a.cv.oof, a.cv.folds, a.cv.overall, a.backtest)
    a.pending = ("baselines",)
    a.cv.oof = {"catboost": a.cv.oof["catboost"]}
    a.cv.folds = {"catboost": a.cv.folds["catboost"]}
    a.cv.overall = {"catboost": a.cv.overall["catboost"]}
    svc.invalidate()
    yield a
    a.pending, a.cv.oof, a.cv.folds, a.cv.overall, a.backtest = saved
    svc.invalidate()


def _text(component) -> str:
    return "".join(c for c in walk(component) if isinstance(c, str))


def test_the_model_page_says_what_is_still_computed(in_app, svc, pending):
    layout = page.layout()
    note = find(layout, CHECKS_NOTE)
    assert note is not None and "Computing the baseline models in the background" in _text(note)
    assert "scores, tiers and reasons on every page are final" in _text(note)
    assert find(layout, page.CHECKS_INTERVAL).disabled is False
    body, done, curves = page.poll_checks(1)
    assert done is False and find(body, CHECKS_NOTE) is not None
    assert "comparison with the baseline models is being computed" in _text(body)


def test_a_worker_picks_the_cached_checks_up(in_app, svc, pending, saved_baselines):
    # Another process (the master) finished them and cached the result.
    store = open_store(svc.settings.cache_dir)
    key = cache_key(svc.source, svc.analysis_settings())
    assert store.try_put(completion_key(key), {"baselines": saved_baselines})
    svc.checks._polled = 0.0
    svc.checks.poll()
    assert pending.pending == ()
    assert {"logistic_regression", "random_forest", "mlp"} <= set(pending.cv.overall)
    body, done, curves = page.poll_checks(2)
    assert done is True and find(body, CHECKS_NOTE) is None
    assert "Logistic regression" in _text(body)
    assert curves is not no_update


def test_a_failed_check_is_said_and_stops_polling(in_app, svc, pending, monkeypatch):
    monkeypatch.setattr(svc.checks, "_error", "MemoryError: out of memory")
    body, done, _curves = page.poll_checks(3)
    assert done is True
    assert "The model checks stopped: MemoryError: out of memory" in _text(body)


EXIT_MID_CHECKS = """
import json, sys, time
from pathlib import Path
from dashboard.services import Services
from dashboard.settings import Settings
cache = Path(sys.argv[1])
svc = Services(Settings(cache_dir=str(cache), demo_size=1500, demo_events=False,
                        demo_campaign=False)).start(progress=lambda m: None)
assert svc.analysis.pending, "nothing left for the background"
def stage():
    try:
        return json.loads(next((cache / "jobs").glob("checks-*.json")).read_text())["stage"]
    except (StopIteration, OSError, ValueError):
        return ""
deadline = time.monotonic() + 120
while "fold" not in stage() and time.monotonic() < deadline:
    time.sleep(0.05)
from analytics.runner import cache_key
print("key:", cache_key(svc.source, svc.analysis_settings()))
print("exiting at:", stage(), flush=True)
"""


def test_a_process_that_exits_mid_checks_stops_them_and_exits_cleanly(tmp_path):
    # A daemon thread left inside native model code while the interpreter tears down aborts
    # the process ("terminate called without an active exception", exit status -6).
    import subprocess
    import sys
    from pathlib import Path
    cache = tmp_path / "cache"
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", EXIT_MID_CHECKS, str(cache)], cwd=root,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "exiting at:" in done.stdout and "fold" in done.stdout
    status = next((cache / "jobs").glob("checks-*.json")).read_text()
    assert "interrupted; they run again at the next start" in status
    key = done.stdout.split("key:", 1)[1].split()[0]
    assert open_store(str(cache)).get(completion_key(key)) is None  # nothing half-done cached
