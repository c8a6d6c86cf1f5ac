"""`create_app(settings)`: build the services (load or train), the shell and the pages."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import dash
import dash_bootstrap_components as dbc  # noqa: F401  (registers the component suite)

from dashboard import errors, shell
from dashboard.api import register_api
from dashboard.downloads import register_downloads
from dashboard.services import CONFIG_KEY, Services
from dashboard.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PAGE_MODULES = ("pages.overview", "pages.segments", "pages.customers", "pages.customer",
                "pages.whatif", "pages.campaign", "pages.score", "pages.model",
                "pages.data")


def _summary(services: Services):
    def count(filters: dict | None) -> str:
        if services.analysis is None:
            return ""
        total = services.customer_count()
        selected = int(services.mask(filters).sum()) if filters else total
        if selected == total:
            return f"All {total:,} customers"
        return f"{selected:,} of {total:,} customers selected"
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


def create_app(settings: Settings | None = None, services: Services | None = None,
               progress=print) -> dash.Dash:
    """A ready Dash app. Trains (or loads from cache) before it returns; bad data does not
    stop it: the error is shown in the page."""
    settings = settings or Settings()
    services = services or Services(settings).start(progress=progress)
    app = dash.Dash(
        __name__, use_pages=True, pages_folder="",
        assets_folder=str(ROOT / "assets"), title="ChurnLens",
        suppress_callback_exceptions=False, serve_locally=True,
        update_title="ChurnLens · updating…",
    )
    app.server.config[CONFIG_KEY] = services
    errors.install(app)  # body size limit, strict JSON, short error answers
    _register_pages()
    options = services.filter_options()
    app.layout = shell.layout(options, services.status())
    shell.register_callbacks(app, options, _summary(services))
    register_downloads(app.server, services)
    register_api(app.server, services)

    @app.server.before_request
    def shared_settings():
        """Tier cut-offs another worker saved reach this one on its next request (one stat
        of the settings file when nothing changed)."""
        services.tiers.refresh()

    return app
