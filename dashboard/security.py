"""Host check, security headers and compression (being written)."""

from __future__ import annotations


def install(app, settings) -> None:
    """Set up the host check, headers and compression on the app's Flask server."""
