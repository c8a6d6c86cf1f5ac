"""`ast.parse` is serialised once the dashboard is imported (dashboard/astlock.py)."""

from __future__ import annotations

import ast
import threading

import dashboard  # noqa: F401  (installs the lock)
from dashboard import astlock


def test_parse_is_wrapped_once_and_parses_as_before():
    assert getattr(ast.parse, "_churnlens_locked", False)
    wrapped = ast.parse
    astlock.install()
    assert ast.parse is wrapped                       # idempotent
    source = "self._converters['fmt'].to_url(x, y=1)"
    assert ast.dump(ast.parse(source)) == ast.dump(wrapped.__wrapped__(source))


def test_a_second_thread_waits_while_a_parse_holds_the_lock():
    order = []
    with astlock._LOCK:                               # as a parse in progress holds it
        ast.parse("1 + 1")                            # re-entrant in the same thread
        thread = threading.Thread(target=lambda: (ast.parse("2 + 2"), order.append("other")))
        thread.start()
        thread.join(0.3)
        assert thread.is_alive() and order == []
        order.append("first")
    thread.join(5)
    assert order == ["first", "other"]

