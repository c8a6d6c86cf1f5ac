"""One `ast.parse` at a time in this process: a workaround for CPython's per-interpreter AST
state (python/cpython#106905 and its threaded variant, seen here on 3.11.7).

Turning a parsed tree into Python objects keeps its recursion depth in state that every
thread shares; a thread switch in the middle (a garbage collection running a finaliser is
enough) lets a second `ast.parse` overwrite it, and the first then fails with "SystemError:
AST constructor recursion depth mismatch". The app parses in more than one thread:
Werkzeug compiles each URL rule with `ast.parse` while the app is built, and Python 3.11's
traceback formatting parses the failing line (a background job that logs an error). Seen
in CI: the Trends page's app failed to build while a background thread logged a traceback.

`install()` wraps `ast.parse` with a re-entrant lock (a parse is microseconds; nothing
parses in a request's hot path). Installed once, by importing the `dashboard` package.
"""

from __future__ import annotations

import ast
import threading

_LOCK = threading.RLock()


def install() -> None:
    """Serialise `ast.parse` (idempotent)."""
    parse = ast.parse
    if getattr(parse, "_churnlens_locked", False):
        return

    def locked_parse(*args, **kwargs):
        with _LOCK:
            return parse(*args, **kwargs)

    locked_parse._churnlens_locked = True
    locked_parse.__wrapped__ = parse
    locked_parse.__doc__ = parse.__doc__
    ast.parse = locked_parse
