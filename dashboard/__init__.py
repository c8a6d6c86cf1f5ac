"""ChurnLens dashboard: app factory, shell, settings and the services that call analytics."""

from dashboard.factory import create_app

__all__ = ["create_app"]
