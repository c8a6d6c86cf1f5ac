"""Background jobs: training an uploaded file on the Data page.

Dash runs a background callback in a process of its own (DiskcacheManager over diskcache,
`<cache>/jobs`), with no Flask app context, so the callback is registered here with the
services it needs rather than in the page. The job reports its stage and fold through
`set_progress`, can be cancelled, and leaves the trained analysis in the artifact cache; the
page's own callback then switches the running app to it (dashboard/services/datasets.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import dash
import diskcache
from dash import DiskcacheManager, Input, Output, State

from dashboard import data_ids as ids


def manager_for(cache_dir: str | None) -> DiskcacheManager:
    """The background-callback manager: its queue lives beside the artifact cache."""
    folder = Path(cache_dir) / "jobs" if cache_dir else Path(tempfile.mkdtemp(
        prefix="churnlens-jobs-"))
    return DiskcacheManager(diskcache.Cache(str(folder)))


def register_jobs(app: dash.Dash, services) -> None:
    """The Train button's background callback (progress bar, stage text, cancel)."""

    @app.callback(
        Output(ids.DATA_TRAINED_STORE, "data"),
        Input(ids.DATA_TRAIN_BUTTON, "n_clicks"),
        State(ids.DATA_PREVIEW_STORE, "data"), State(ids.DATA_ROLES_STORE, "data"),
        background=True,
        running=[(Output(ids.DATA_TRAIN_BUTTON, "disabled"), True, False),
                 (Output(ids.DATA_CANCEL_BUTTON, "disabled"), False, True),
                 (Output(ids.DATA_TRAIN_PROGRESS_WRAP, "style"), {}, {"display": "none"})],
        progress=[Output(ids.DATA_TRAIN_PROGRESS, "value"),
                  Output(ids.DATA_TRAIN_PROGRESS, "label"),
                  Output(ids.DATA_TRAIN_STAGE, "children")],
        cancel=[Input(ids.DATA_CANCEL_BUTTON, "n_clicks")],
        prevent_initial_call=True,
    )
    def train_upload(set_progress, clicks, preview, roles):
        """Train the uploaded file with the roles chosen (runs in a background process)."""
        if not clicks or not isinstance(preview, dict) or not preview.get("file"):
            return dash.no_update

        def report(share: float, message: str) -> None:
            percent = int(round(100 * share))
            set_progress((percent, f"{percent}%", message))

        report(0.01, "starting")
        try:
            return services.datasets.train(preview.get("file"), roles or {},
                                           preview.get("sheet"), report)
        except ValueError as exc:  # roles that do not fit the file
            return {"ok": False, "error": str(exc)}
