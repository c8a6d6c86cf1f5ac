"""`create_app(settings)`: build the services (load or train), the shell and the pages."""

from __future__ import annotations

import importlib
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import dash
import dash_bootstrap_components as dbc  # noqa: F401  (registers the component suite)
from flask import g, request

from dashboard import auth, bundles, errors, jobs, security, shell
from dashboard.api import register_api
from dashboard.downloads import register_downloads
from dashboard.services import CONFIG_KEY, Services
from dashboard.services.idle import IDLE
from dashboard.settings import Settings
from dashboard.uploads import max_bytes_from, register_uploads

ROOT = Path(__file__).resolve().parent.parent
PAGE_MODULES = ("pages.overview", "pages.segments", "pages.customers", "pages.customer",
                "pages.behaviour", "pages.whatif", "pages.campaign", "pages.effectiveness",
                "pages.trends", "pages.score",
                "pages.model", "pages.data")


def _summary(current: Callable[[], Services]):
    """The navbar's count of the selection, in the current data's words."""
    def count(filters: dict | None) -> str:
        services = current()
        if services.analysis is None:
            return ""
        total = services.customer_count()
        selected = services.count(filters) if filters else total
        word = services.words()["customers"]
        if selected == total:
            return f"All {total:,} {word}"
        return f"{selected:,} of {total:,} {word} selected"
    return count


def _register_pages() -> None:
    """Import the pages after the app exists (they call `dash.register_page`); a second app in
    the same process re-runs them so it gets their callbacks too."""
    for name in PAGE_MODULES:
        if name in sys.modules:
            module = importlib.reload(sys.modules[name])
        else:
            module = importlib.import_module(name)
        # Dash fills this in only for pages it discovers itself in a pages folder.
        dash.page_registry[name]["layout"] = module.layout


def install_idle(server, idle=IDLE) -> None:
    """Count the requests in flight for the warm-ups that wait for the first page (one the
    host check or another earlier hook refuses is not counted, at its end either)."""
    def begin():
        g.idle_counted = True
        idle.begin()

    def end(_exc):
        if g.pop("idle_counted", False):
            idle.end(request.path)

    server.before_request(begin)
    server.teardown_request(end)


# What a browser needs before the data (the page, its code and styles, the callbacks' map,
# signing in and out): answered while `create_app(early=True)` is still loading; every
# other request waits.
OPEN_WHILE_LOADING = frozenset({"/", "/<path:path>", "static", "_dash_assets.static",
                                "/_dash-component-suites/<string:package_name>/"
                                "<path:fingerprinted_path>",
                                "/_dash-dependencies", "/_favicon.ico",
                                "churnlens_login", "churnlens_logout"})


def install_loading_gate(server, services: Services) -> None:
    """Requests that read the data wait until `services` has loaded (or failed: then the
    page shows the error); the page and its code are served meanwhile."""
    @server.before_request
    def wait_for_the_data():
        if not services.loaded.is_set() and request.endpoint not in OPEN_WHILE_LOADING:
            services.loaded.wait()


def _load(services: Services, progress, background: bool) -> None:
    """`create_app(early=True)`'s loading thread: the data, then the model checks."""
    try:
        services.start(progress=progress, checks=False, background=background)
    except Exception as exc:  # a bug, not bad data (start keeps those): shown in the page
        traceback.print_exc()
        services.analysis, services.error = None, f"the data could not be loaded: {exc}"
        return
    if services.analysis is not None:
        services.checks.start()


def startup(settings: Settings) -> Callable[[str], None] | None:
    """What `python app.py` and `python -m dashboard.serve` do first: None (the reason on
    stderr) when these settings must not start a server (login required, no users), else a
    progress printer that stamps each line with the seconds since the start."""
    problem = auth.startup_problem(settings)
    if problem:
        print(f"ChurnLens will not start: {problem}", file=sys.stderr)
        return None
    start = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f}s] {message}", flush=True)

    return progress


def create_app(settings: Settings | None = None, services: Services | None = None,
               progress=print, background: bool = False, early: bool = False) -> dash.Dash:
    """A ready Dash app. Trains (or loads from cache) before it returns; bad data does not
    stop it: the error is shown in the page. With `background`, what the first page does
    not read (the cache write, the offers, the campaign steps) goes on after it returns
    (`Services.start`). With `early` (`python app.py`), it returns at once and loads in a
    thread: the browser gets the page and its code meanwhile, and the requests that read the
    data wait for it (`services.loaded`)."""
    settings = settings or Settings()
    fresh = services is None
    if services is None:
        services = Services(settings)
        if not early:
            services.start(progress=progress, checks=False, background=background)
    app = dash.Dash(
        __name__, use_pages=True, pages_folder="",
        assets_folder=str(ROOT / "assets"), title="ChurnLens",
        assets_path_ignore=[bundles.LAZY_FOLDER],
        # Only under --debug does Dash call every page's layout on the first request and put
        # them all in each page's HTML (its `validation_layout`, 350 KB of stale data at 7k
        # customers) for the dev tools to check the callbacks' ids against; without dev
        # tools nothing shows that check, so it is skipped (tests/ui/test_layouts.py checks
        # the ids instead).
        suppress_callback_exceptions=not settings.debug, serve_locally=True,
        update_title="ChurnLens · updating…",
        background_callback_manager=jobs.manager_for(settings.cache_dir),
    )
    app.server.config[CONFIG_KEY] = services
    errors.install(app)  # body size limit, strict JSON, short error answers
    security.install(app, settings)  # host check, security headers, compression
    auth.install(app, settings)  # login and roles (off on a loopback address)
    bundles.install(app)  # plotly.js: the partial bundle of the traces the pages draw
    _register_pages()

    def current() -> Services:
        """The services in use now (the dataset can change while the app runs)."""
        return app.server.config[CONFIG_KEY]

    # A function: every page load gets the current data's filters, words and banners.
    app.layout = lambda: shell.layout(current().filter_options(), current().status(),
                                      current().words())
    shell.register_callbacks(app, lambda: current().filter_options(), _summary(current))
    register_downloads(app.server, services)
    register_api(app.server, services)
    register_uploads(app.server, settings.upload_dir, max_bytes_from(settings))
    jobs.register_jobs(app, services)

    if fresh and early:
        install_loading_gate(app.server, services)
    install_idle(app.server)

    @app.server.before_request
    def shared_settings():
        """What another worker changed reaches this one on its next request: tier cut-offs,
        the dataset in service, the offer catalogue, the model checks finished in the
        background (a stat of each small file when nothing changed)."""
        services.tiers.refresh()
        services.sync.poll()
        services.checks.poll()

    # After the routes: werkzeug compiles each with `ast`, and CPython 3.11's AST conversion
    # is not thread-safe (python/cpython gh-106905; dashboard/astlock.py).
    if fresh and early:
        threading.Thread(target=_load, args=(services, progress, background), daemon=True,
                         name="churnlens-load").start()
    elif fresh:
        services.checks.start()
    return app
