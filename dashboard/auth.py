"""Login and roles (being written)."""

from __future__ import annotations


def startup_problem(settings) -> str | None:
    """Why the server must not start with these settings (login required, no users), or None."""
    return None


def install(app, settings) -> None:
    """Login, roles and API tokens on the app's Flask server."""
