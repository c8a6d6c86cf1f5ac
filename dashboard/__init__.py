"""ChurnLens dashboard: app factory, shell, settings and the services that call analytics."""

from dashboard import astlock

astlock.install()   # before anything builds an app (see dashboard/astlock.py)

from dashboard.factory import create_app  # noqa: E402

__all__ = ["create_app"]
