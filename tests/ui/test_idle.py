"""The warm-ups of `python app.py` wait for the first page: not before its callbacks are
answered and the server is quiet, at most MAX_WAIT_S after it began to serve."""

from __future__ import annotations

import threading
import time

import flask
import pytest

from dashboard.factory import install_idle
from dashboard.services import idle as idle_module
from dashboard.services.idle import FIRST_PAGE_PATH, QUIET_S, Idle


def test_nothing_waits_unless_held():
    gate = Idle()
    assert gate.ready()
    gate.begin()  # requests in flight do not matter either
    assert gate.ready()


def test_held_until_the_first_pages_callbacks_are_answered_and_the_server_is_quiet():
    gate = Idle()
    gate.hold()
    gate.serving()
    assert not gate.ready()
    gate.begin()
    gate.end("/")                       # the page's HTML alone: its content is not drawn yet
    time.sleep(QUIET_S + 0.05)
    assert not gate.ready()
    gate.begin()
    gate.begin()
    gate.end(FIRST_PAGE_PATH)           # one callback answered, one still in flight
    time.sleep(QUIET_S + 0.05)
    assert not gate.ready()
    gate.end(FIRST_PAGE_PATH)
    assert not gate.ready()             # answered just now: not quiet yet
    time.sleep(QUIET_S + 0.05)
    assert gate.ready()


def test_a_page_under_a_url_prefix_counts_too():
    gate = Idle()
    gate.hold()
    gate.serving()
    gate.begin()
    gate.end("/churnlens" + FIRST_PAGE_PATH)
    time.sleep(QUIET_S + 0.05)
    assert gate.ready()


def test_nobody_comes_then_the_wait_ends_after_the_maximum(monkeypatch):
    monkeypatch.setattr(idle_module, "MAX_WAIT_S", 0.3)
    gate = Idle()
    gate.hold()
    time.sleep(0.4)
    assert not gate.ready()             # not serving yet (still training): the clock waits
    gate.serving()
    assert not gate.ready()
    done = threading.Event()
    threading.Thread(target=lambda: (gate.wait(), done.set()), daemon=True).start()
    assert done.wait(2.0)


def test_a_stop_ends_the_wait():
    gate, stop = Idle(), threading.Event()
    gate.hold()
    gate.serving()
    done = threading.Event()
    threading.Thread(target=lambda: (gate.wait(stop), done.set()), daemon=True).start()
    assert not done.wait(0.2)
    stop.set()
    assert done.wait(2.0)


@pytest.mark.parametrize("status", [200, 500])
def test_the_app_hooks_count_every_request_whatever_its_answer(status):
    server = flask.Flask(__name__)
    gate = Idle()
    gate.hold()
    gate.serving()
    install_idle(server, gate)

    @server.before_request
    def another_hook():             # a later hook that answers early (a refused host, say)
        if status == 500:
            flask.abort(500)

    @server.route(FIRST_PAGE_PATH, methods=["POST"])
    def callback():
        assert gate._in_flight == 1
        return "{}"

    assert server.test_client().post(FIRST_PAGE_PATH).status_code == status
    assert gate._in_flight == 0 and gate._page_seen
    time.sleep(QUIET_S + 0.05)
    assert gate.ready()


def test_a_view_asked_for_while_it_is_computed_is_computed_once(svc):
    """The first page's cube is built at start while the browser loads; a request that asks
    for it meanwhile waits for that computation instead of doing it again."""
    calls, started = [], threading.Event()

    def slow():
        calls.append(1)
        started.set()
        time.sleep(0.3)
        return object()

    results = []
    first = threading.Thread(target=lambda: results.append(svc.memoised("__t", None, slow)))
    first.start()
    started.wait(2.0)
    results.append(svc.memoised("__t", None, slow))
    first.join()
    assert len(calls) == 1 and results[0] is results[1]
    assert svc.memoised("__t", None, slow) is results[0] and len(calls) == 1
