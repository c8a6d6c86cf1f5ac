"""File downloads served by Flask: the at-risk list as CSV or Excel, streamed from disk.

The browser follows a plain link (`/export/csv?state=...`), so a million-row file never
passes through a Dash callback or the browser's memory as base64.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time

import flask

from dashboard.services import Services

MIME = {"csv": "text/csv",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def register_downloads(server: flask.Flask, services: Services) -> None:
    """Add the /export/<fmt> route to the app's Flask server."""

    @server.route("/export/<fmt>")
    def export(fmt: str):
        if fmt not in MIME:
            return flask.Response("Unknown export format; use csv or xlsx.", status=404)
        if services.analysis is None:
            return flask.Response("No data is loaded, so there is nothing to export.", 409)
        try:
            state = json.loads(flask.request.args.get("state") or "{}")
            folder = tempfile.mkdtemp(prefix="churnlens-export-")
            path, _ = services.customers.export_file(state.get("filters"), state.get("filterModel"),
                                           state.get("sortModel"), fmt, folder,
                                           campaign=state.get("campaign"))
        except (ValueError, TypeError, AttributeError) as exc:
            return flask.Response(f"Could not export: {exc}", status=400)
        stamp = time.strftime("%Y%m%d-%H%M")
        kind = "campaign" if state.get("campaign") is not None else "at-risk"
        response = flask.send_file(path, mimetype=MIME[fmt], as_attachment=True,
                                   download_name=f"churnlens-{kind}-{stamp}.{fmt}")
        response.call_on_close(lambda: shutil.rmtree(folder, ignore_errors=True))
        return response
