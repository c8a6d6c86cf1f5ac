"""Serving before the data is in: what `python app.py` does first, without Dash.

`begin` makes the services and loads (or trains) them in a thread; app.py calls it before
it imports Dash and builds the app (~0.6 s at a warm start), so a cache read overlaps both.
`install_loading_gate` lets the page, its code and the login form through meanwhile, and
holds every request that reads data until the load is done (or failed: then the page shows
the error)."""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections.abc import Callable

from flask import request

from dashboard.services import Services
from dashboard.settings import Settings

# What a browser needs before the data (the page, its code and styles, the callbacks' map,
# signing in and out): answered while the services are still loading; every other request
# waits.
OPEN_WHILE_LOADING = frozenset({"/", "/<path:path>", "static", "_dash_assets.static",
                                "/_dash-component-suites/<string:package_name>/"
                                "<path:fingerprinted_path>",
                                "/_dash-dependencies", "/_favicon.ico",
                                "churnlens_login", "churnlens_logout"})


def startup(settings: Settings) -> Callable[[str], None] | None:
    """What `python app.py` and `python -m dashboard.serve` do first: None (the reason on
    stderr) when these settings must not start a server (login required, no users), else a
    progress printer that stamps each line with the seconds since the start."""
    if settings.login_required:  # (Flask-Login and Dash: only when there is a login)
        from dashboard.auth import startup_problem
        problem = startup_problem(settings)
        if problem:
            print(f"ChurnLens will not start: {problem}", file=sys.stderr)
            return None
    start = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f}s] {message}", flush=True)

    return progress


def begin(settings: Settings, progress: Callable[[str], None] = print,
          background: bool = False) -> Services:
    """New services for `settings`, loading in a thread (`services.loaded` is set when done),
    then starting the model checks."""
    services = Services(settings)
    threading.Thread(target=_load, args=(services, progress, background), daemon=True,
                     name="churnlens-load").start()
    return services


def _load(services: Services, progress, background: bool) -> None:
    try:
        services.start(progress=progress, checks=False, background=background)
    except Exception:  # a bug, not bad data: start put it in services.error for the page
        traceback.print_exc()
        return
    if services.analysis is not None:
        services.checks.start()


def install_loading_gate(server, services: Services) -> None:
    """Requests that read the data wait until `services` has loaded; the page and its code
    are served meanwhile."""
    @server.before_request
    def wait_for_the_data():
        if not services.loaded.is_set() and request.endpoint not in OPEN_WHILE_LOADING:
            services.loaded.wait()
