"""`create_app(settings)`: build the services (load or train), the shell and the pages."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path

import dash
import dash_bootstrap_components as dbc  # noqa: F401  (registers the component suite)
from flask import g, request

from dashboard import auth, bundles, errors, jobs, security, shell
from dashboard.api import register_api
from dashboard.downloads import register_downloads
from dashboard.loading import begin, install_loading_gate
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


def create_app(settings: Settings | None = None, services: Services | None = None,
               progress=print, background: bool = False, early: bool = False) -> dash.Dash:
    """A ready Dash app. Trains (or loads from cache) before it returns; bad data does not
    stop it: the error is shown in the page. With `background`, what the first page does
    not read (the cache write, the offers, the campaign steps) goes on after it returns
    (`Services.start`). With `early`, it serves while `services` load (`loading.begin`,
    which it calls itself when none are given): the browser gets the page and its code
    meanwhile, and the requests that read the data wait for them (`services.loaded`)."""
    settings = settings or Settings()
    fresh = services is None
    if fresh and early:  # the cache read (file, hash: no GIL) overlaps building the app
        services = begin(settings, progress, background)
    elif fresh:
        services = Services(settings).start(progress=progress, checks=False,
                                            background=background)
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

    if early:
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

    if fresh and not early:  # (early: the loading thread starts them once loaded)
        services.checks.start()
    return app
