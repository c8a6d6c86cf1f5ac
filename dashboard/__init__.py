"""ChurnLens dashboard: app factory, shell, settings and the services that call analytics."""

from dashboard import astlock

astlock.install()   # before anything builds an app (see dashboard/astlock.py)

__all__ = ["create_app"]


def __getattr__(name: str):
    """`create_app` on first use: `app.py` starts loading the data (pandas, the cache) before
    it imports Dash and builds the app (dashboard/loading.py)."""
    if name == "create_app":
        from dashboard.factory import create_app
        return create_app
    raise AttributeError(f"module 'dashboard' has no attribute {name!r}")
