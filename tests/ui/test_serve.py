"""`make serve`: gunicorn workers forked from one loaded app, following each other's changes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from analytics.runner import DataSource, load_or_train
from dashboard import serve
from dashboard.services import Services
from dashboard.settings import Settings
from tests.ui.conftest import features_of

ROOT = Path(__file__).resolve().parents[2]
SMALL = dict(demo_size=1200, demo_events=False, demo_campaign=False)


@pytest.fixture(scope="module")
def workers(tmp_path_factory):
    """Two Services on one cache: two gunicorn workers as far as the shared state goes."""
    cache = str(tmp_path_factory.mktemp("serve-cache") / "cache")
    settings = Settings(cache_dir=cache, **SMALL)
    first = Services(settings).start(progress=lambda m: None)
    first.checks.wait()
    second = Services(settings).start(progress=lambda m: None)
    other = DataSource(demo_size=900, seed=5)
    load_or_train(other, first.analysis_settings(), cache_dir=cache)  # in the cache already
    return first, second, other


def test_a_dataset_switch_in_one_worker_reaches_the_other(workers):
    first, second, other = workers
    assert first.switch(other) is None
    assert second.source_id() != first.source_id()
    second.sync.poll()
    assert second.source_id() == first.source_id() == other.fingerprint()
    assert len(second.analysis.customers) == 900
    first.sync.poll()   # its own announcement: nothing to do
    assert first.source_id() == other.fingerprint()
    assert first.switch(DataSource(demo_size=1200)) is None
    second.sync.poll()
    assert len(second.analysis.customers) == 1200


def test_offers_and_tiers_changed_in_one_worker_reach_the_other(workers, monkeypatch):
    first, second, _other = workers
    reloads = []
    monkeypatch.setattr(second.campaigns, "reload_catalogue",
                        lambda announce=True: reloads.append(announce))
    first.campaigns.reload_catalogue()
    second.sync.poll()
    assert reloads == [False]          # followed, and not announced back
    second.sync.poll()
    assert reloads == [False]          # once per change
    first.tiers.apply(0.41, 0.2)
    second.tiers.refresh()
    assert second.analysis.settings.tier_high == pytest.approx(0.41)


def test_a_new_process_serves_its_own_start_not_old_announcements(workers):
    first, _second, other = workers
    first.switch(other)
    later = Services(Settings(cache_dir=first.settings.cache_dir, **SMALL)).start(
        progress=lambda m: None)
    later.sync.poll()
    assert len(later.analysis.customers) == 1200   # what its command line says


def test_gunicorn_options():
    settings = Settings(host="::1", port=8123)
    options = serve.options_for(settings, workers=3, threads=2, timeout=60, app=None)
    assert options["bind"] == "[::1]:8123"
    assert options["workers"] == 3 and options["threads"] == 2
    assert options["preload_app"] is True            # workers fork from the loaded app
    assert options["limit_request_line"] <= 8190
    assert options["limit_request_fields"] <= 100
    assert callable(options["post_fork"])


def test_serve_refuses_debug(capsys):
    assert serve.main(["--debug", "--cache-dir", ""]) == 2
    assert "--debug is for python app.py" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_make_serve_trains_once_and_every_worker_answers_the_same(tmp_path):
    port = _free_port()
    log = tmp_path / "serve.log"
    cmd = [sys.executable, "-m", "dashboard.serve", "--workers", "2", "--port", str(port),
           "--cache-dir", str(tmp_path / "cache"), "--demo-size", "1500", "--no-demo-events"]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 120
        while log.read_text().count("Booting worker") < 2:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(base + "/", timeout=10) as page:
            assert page.status == 200 and b"ChurnLens" in page.read()
        services = Services(Settings(cache_dir=str(tmp_path / "cache"), demo_size=1500,
                                     demo_events=False, demo_campaign=False)).start(
            progress=lambda m: None, checks=False)
        record = json.dumps(features_of(services, 3)).encode()
        answers = set()
        for _ in range(30):
            request = urllib.request.Request(base + "/api/score", data=record,
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as reply:
                answers.add(reply.read())
        assert len(answers) == 1
        text = log.read_text()
        assert text.count("cross-validation fold 1 of 5") == 1   # trained once, in the master
        assert text.index("cross-validation fold 1") < text.index("Booting worker")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert "Shutting down: Master" in log.read_text()


def test_a_warm_start_imports_no_scikit_learn(workers):
    """Most of a warm start is imports: scikit-learn and scipy.stats (a second) wait until
    training, the Model page's curves or a campaign report need them."""
    first, _second, _other = workers
    code = ("import sys\n"
            "from dashboard import create_app\n"
            "from dashboard.settings import Settings\n"
            f"app = create_app(Settings(cache_dir={first.settings.cache_dir!r}, demo_size=1200, "
            "demo_events=False, demo_campaign=False), progress=print)\n"
            "client = app.server.test_client()\n"
            "assert client.get('/').status_code == 200\n"
            "assert client.get('/_dash-layout').status_code == 200\n"
            "print('HEAVY', sorted(m for m in sys.modules if m == 'sklearn' or "
            "m.startswith(('sklearn.', 'scipy.stats'))))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "from cache" in out.stdout            # warm: nothing trained
    assert "HEAVY []" in out.stdout, out.stdout[-500:]


def test_the_default_is_two_workers_of_two_threads_per_core(monkeypatch):
    args, rest = serve.parse(["--port", "8123"])
    assert (args.workers, args.threads) == (2 * (os.cpu_count() or 1), 2) and rest == [
        "--port", "8123"]
