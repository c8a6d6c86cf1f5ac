"""`python app.py` serves before its data is loaded (`create_app(early=True)`): the page, its
code and the callbacks' map are answered at once, every request that reads data waits for the
load, and a load that fails still answers (with the error in the page)."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from dashboard import auth
from dashboard.factory import create_app
from dashboard.loading import OPEN_WHILE_LOADING
from dashboard.services import CONFIG_KEY
from dashboard.services import core as core_module
from dashboard.settings import Settings
from dashboard.users import write_users

DEMO_SIZE = 400


@pytest.fixture
def held_load(monkeypatch):
    """load_or_train blocks until `release` is set (the real one runs after it)."""
    release, entered = threading.Event(), threading.Event()
    real = core_module.load_or_train

    def slow(*args, **kwargs):
        entered.set()
        assert release.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(core_module, "load_or_train", slow)
    yield release, entered
    release.set()


def _app(tmp_path, **settings_kw):
    settings = Settings(demo_size=DEMO_SIZE, demo_events=False, cache_dir=str(tmp_path),
                        upload_dir=str(tmp_path / "uploads"),
                        **settings_kw)
    return create_app(settings, progress=lambda m: None, early=True)


def _asset_urls(client) -> list[str]:
    """The scripts and styles the page's HTML asks for."""
    html = client.get("/").get_data(as_text=True)
    return re.findall(r'(?:src|href)="(/(?:_dash-component-suites|assets)/[^"]+)"', html)


def test_the_page_and_its_code_answer_while_the_data_loads(tmp_path, held_load):
    release, entered = held_load
    app = _app(tmp_path)
    services = app.server.config[CONFIG_KEY]
    client = app.server.test_client()
    assert entered.wait(30) and not services.loaded.is_set()
    page = client.get("/")
    assert page.status_code == 200 and "react-entry-point" in page.get_data(as_text=True)
    assert client.get("/customers").status_code == 200          # any page's HTML
    urls = _asset_urls(client)
    assert any("_dash-component-suites" in u for u in urls)
    for url in urls:
        assert client.get(url).status_code == 200, url
    assert client.get("/_dash-dependencies").status_code == 200
    assert not services.loaded.is_set()                          # all of that without data

    with ThreadPoolExecutor(2) as pool:
        layout = pool.submit(lambda: app.server.test_client().get("/_dash-layout"))
        export = pool.submit(lambda: app.server.test_client().get("/export/csv"))
        assert not layout.done() and not export.done()
        threading.Event().wait(0.5)
        assert not layout.done() and not export.done()            # they wait for the data
        release.set()
        reply = layout.result(timeout=120)
        assert reply.status_code == 200
        assert export.result(timeout=120).status_code == 200
    assert services.loaded.is_set() and services.analysis is not None
    assert "Month-to-month" in reply.get_data(as_text=True)       # the data's filters


def test_only_what_needs_no_data_is_open_while_loading(tmp_path, held_load):
    release, entered = held_load
    users = tmp_path / "users.toml"
    write_users(users, auth.Directory({"ann": auth.UserRecord(
        "ann", "analyst", auth.hash_password("ann-password-1"))}))
    app = _app(tmp_path, login=True, users_path=str(users))
    endpoints = {rule.endpoint for rule in app.server.url_map.iter_rules()}
    assert OPEN_WHILE_LOADING <= endpoints                      # each name is a real route
    for gated in ("/_dash-layout", "/_dash-update-component", "export", "score"):
        assert gated in endpoints and gated not in OPEN_WHILE_LOADING

    client = app.server.test_client()                          # signing in needs no data
    assert entered.wait(30)
    form = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    signed = client.post("/login", data={"username": "ann", "password": "ann-password-1",
                                         "csrf_token": token, "next": "/"})
    assert signed.status_code == 302 and not app.server.config[CONFIG_KEY].loaded.is_set()
    assert client.get("/").status_code == 200
    release.set()
    assert app.server.config[CONFIG_KEY].loaded.wait(120)
    assert client.get("/_dash-layout").status_code == 200      # the session, then the data


def test_a_load_that_breaks_still_answers_with_the_error(tmp_path, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise ValueError("disk on fire")

    monkeypatch.setattr(core_module, "load_or_train", broken)
    app = _app(tmp_path)
    services = app.server.config[CONFIG_KEY]
    assert services.loaded.wait(30)
    reply = app.server.test_client().get("/_dash-layout")
    assert reply.status_code == 200
    assert services.analysis is None and "disk on fire" in services.error
    assert "disk on fire" in reply.get_data(as_text=True)       # the page says what happened
    assert "ValueError" in capsys.readouterr().err              # the terminal has the trace


def test_bad_data_is_shown_as_before(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("customerID,tenure,MonthlyCharges,Churn\nA,1,abc,Yes\n")
    settings = Settings(data_path=str(bad), cache_dir=str(tmp_path / "cache"))
    app = create_app(settings, progress=lambda m: None, early=True)
    services = app.server.config[CONFIG_KEY]
    assert services.loaded.wait(30) and services.error
    reply = app.server.test_client().get("/_dash-layout")
    assert reply.status_code == 200 and "bad.csv" in reply.get_data(as_text=True)


def test_without_early_the_app_is_loaded_when_it_returns(tmp_path):
    settings = Settings(demo_size=DEMO_SIZE, demo_events=False, cache_dir=str(tmp_path))
    app = create_app(settings, progress=lambda m: None)
    services = app.server.config[CONFIG_KEY]
    assert services.loaded.is_set() and services.analysis is not None
    assert not any(getattr(f, "__name__", "") == "wait_for_the_data"
                   for f in app.server.before_request_funcs.get(None, []))


def test_app_py_starts_loading_before_it_imports_dash():
    """app.py's load overlaps importing Dash and building the app: what it imports first
    (dashboard.loading, the services, the settings) must not pull Dash or plotly in."""
    import subprocess
    import sys
    code = ("import sys, app; print(sorted(m for m in ('dash', 'plotly', 'pandas') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=str(__import__("pathlib").Path(__file__).resolve().parents[2]),
                         check=True).stdout
    assert out.strip() == "['pandas']"
