"""File downloads served by Flask: the at-risk list and the Behaviour page's early-warning
list as CSV or Excel, streamed from disk.

The browser follows a plain link (`/export/csv?state=...`,
`/export/early-warning/csv?state=...`), so a million-row file never passes through a Dash
callback or the browser's memory as base64.

The file is written to a fresh `churnlens-export-*` folder in the temp directory, opened,
and the folder is deleted before the answer is sent: the open handle streams the data, and
the disk space is freed when the handle closes, whether the download finishes, fails or is
never read. A failed export deletes its folder too. Folders left by a process that was
killed while writing are deleted at the next start once they are an hour old.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import flask
import pandas as pd

from dashboard.errors import clip
from dashboard.services import Services
from dashboard.services.customers import ExportRequestError

MIME = {"csv": "text/csv",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
FOLDER_PREFIX = "churnlens-export-"
STALE_SECONDS = 3600
MAX_STATE_CHARS = 16_384
EXCEL_MAX_ROWS = 1_048_576 - 2  # the sheet limit, less the note and header rows


def register_downloads(server: flask.Flask, services: Services) -> None:
    """Add the /export/<fmt> and /export/early-warning/<fmt> routes to the app's Flask
    server (and delete stale folders)."""
    clean_stale_exports()

    @server.route("/export/<fmt>")
    def export(fmt: str):
        state = _request_state(services, fmt, services.customers.check_export_state)
        return state if isinstance(state, flask.Response) else _send(services, state, fmt)

    @server.route("/export/early-warning/<fmt>")
    def export_early_warning(fmt: str):
        state = _request_state(services, fmt, lambda s: services.behaviour.check_state(s))
        if isinstance(state, flask.Response):
            return state
        return _stream(lambda folder: _write_early_warning(services, state, fmt, folder),
                       fmt, "early-warning")

    @server.route("/export/campaign/<int:campaign_id>/<fmt>")
    def export_campaign_members(campaign_id: int, fmt: str):
        """The treatment list of a recorded campaign (never its control group)."""
        return _send_frame(fmt, lambda: services.campaigns.treatment_list(campaign_id),
                           "Treatment list", f"campaign-{campaign_id}")

    @server.route("/export/uplift/<int:campaign_id>/<fmt>")
    def export_uplift_ranking(campaign_id: int, fmt: str):
        """Active customers ranked by the uplift a model of this campaign predicts."""
        return _send_frame(fmt, lambda: services.campaigns.uplift_ranking(campaign_id),
                           "Ranked by uplift", f"uplift-ranking-{campaign_id}")

    @server.route("/export/risers/<fmt>")
    def export_risers(fmt: str):
        """Customers whose risk rose since the previous refresh (?min_rise=0.1)."""
        try:
            min_rise = float(flask.request.args.get("min_rise", "0.1"))
        except ValueError:
            return _text("min_rise must be a number such as 0.1 (10 points).", 400)
        if not 0 <= min_rise <= 1:
            return _text("min_rise must be between 0 and 1.", 400)
        return _send_frame(fmt, lambda: services.trends.risers_export(min_rise), "Risers",
                           "risers")


def _send_frame(fmt: str, get, sheet: str, kind: str) -> flask.Response:
    """A (note, frame) from a service as a CSV or Excel download; (reason, None) is a 404."""
    if fmt not in MIME:
        return _text("Unknown export format; use csv or xlsx.", 404)
    note, frame = get()
    if frame is None:
        return _text(clip(note), 404)
    return _stream(lambda folder: _frame_file(note, frame, f"churnlens-{kind}", sheet, fmt,
                                              folder), fmt, kind)


def _request_state(services: Services, fmt: str, check):
    """The checked state of an export request, or the error answer to send instead."""
    if fmt not in MIME:
        return _text("Unknown export format; use csv or xlsx.", 404)
    if services.analysis is None:
        return _text("No data is loaded, so there is nothing to export.", 409)
    raw = flask.request.args.get("state") or "{}"
    if len(raw) > MAX_STATE_CHARS:
        return _text(f"Could not export: the state is longer than {MAX_STATE_CHARS:,} "
                     "characters.", 414)
    try:
        return check(_decode(raw))
    except ExportRequestError as exc:
        return _text(f"Could not export: {exc}", 400)


def _decode(raw: str):
    try:
        return flask.json.loads(raw)  # the app's strict JSON: no NaN or Infinity
    except RecursionError:
        raise ExportRequestError("the state is nested too deeply") from None
    except ValueError as exc:
        raise ExportRequestError(f"the state is not valid JSON ({clip(str(exc), 80)})") \
            from None


def _send(services: Services, state: dict, fmt: str) -> flask.Response:
    kind = "campaign" if state["campaign"] is not None else "at-risk"
    return _stream(lambda folder: services.customers.export_file(
        state["filters"], state["filterModel"], state["sortModel"], fmt, folder,
        campaign=state["campaign"])[0], fmt, kind)


def _write_early_warning(services: Services, state: dict, fmt: str, folder: str) -> str:
    """The early-warning list (every match, formula-safe chunks from the service)."""
    note, header, chunks, n = services.behaviour.export_rows(state)
    return write_table(folder, "churnlens-early-warning", "Early warning", fmt, note, header,
                       chunks, n)


def write_table(folder: str, stem: str, sheet_name: str, fmt: str, note: str, header: list,
                chunks, n: int) -> str:
    """A note line, the header and the rows (an iterable of formula-safe frames) as a CSV or
    Excel file in `folder`; returns its path."""
    path = f"{folder}/{stem}.{fmt}"
    if fmt == "csv":
        with open(path, "w", newline="", encoding="utf-8") as handle:
            pd.DataFrame([[note]]).to_csv(handle, index=False, header=False)
            pd.DataFrame(columns=header).to_csv(handle, index=False)
            for chunk in chunks:
                chunk.to_csv(handle, index=False, header=False)
        return path
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if n > EXCEL_MAX_ROWS:
        raise ValueError(f"{n:,} rows do not fit in an Excel sheet ({EXCEL_MAX_ROWS:,} at "
                         "most); export CSV instead")
    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_name)
    sheet.freeze_panes = "B3"
    # Characters an XML sheet cannot hold (control characters in an id) become U+FFFD;
    # blank cells stay blank (NaN would show as an error).
    clean = (lambda v: ILLEGAL_CHARACTERS_RE.sub("\ufffd", v) if isinstance(v, str) else
             None if isinstance(v, float) and v != v else v)
    sheet.append([clean(note)])
    sheet.append(header)
    for chunk in chunks:
        for record in chunk.itertuples(index=False, name=None):
            sheet.append([clean(v) for v in record])
    book.save(path)
    return path


def _frame_file(note: str, frame: pd.DataFrame, stem: str, sheet: str, fmt: str,
                folder: str) -> str:
    chunks = (frame.iloc[i:i + 100_000] for i in range(0, len(frame), 100_000))
    return write_table(folder, stem, sheet, fmt, note, list(frame.columns), chunks, len(frame))


def _stream(write, fmt: str, kind: str) -> flask.Response:
    """Send the file `write(folder)` makes in a fresh temporary folder as an attachment."""
    folder = tempfile.mkdtemp(prefix=FOLDER_PREFIX)
    try:
        path = write(folder)
        handle = open(path, "rb")
    except ValueError as exc:  # e.g. more rows than an Excel sheet holds
        return _text(f"Could not export: {clip(str(exc))}", 400)
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # POSIX: the open handle keeps the data
    size = os.fstat(handle.fileno()).st_size
    stamp = time.strftime("%Y%m%d-%H%M")
    response = flask.send_file(handle, mimetype=MIME[fmt], as_attachment=True,
                               download_name=f"churnlens-{kind}-{stamp}.{fmt}",
                               conditional=False, etag=False)
    response.content_length = size
    if os.path.exists(folder):  # a system that cannot delete an open file
        response.call_on_close(lambda: shutil.rmtree(folder, ignore_errors=True))
    return response


def clean_stale_exports(directory: str | None = None, max_age: float = STALE_SECONDS,
                        now: float | None = None) -> int:
    """Delete `churnlens-export-*` folders older than `max_age` seconds from `directory`
    (the temp directory); returns how many. Younger ones may be another worker's export
    being written."""
    now = time.time() if now is None else now
    removed = 0
    for path in Path(directory or tempfile.gettempdir()).glob(FOLDER_PREFIX + "*"):
        try:
            if path.is_symlink() or not path.is_dir() or now - path.stat().st_mtime <= max_age:
                continue
        except OSError:
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed += not path.exists()
    return removed


def _text(message: str, status: int) -> flask.Response:
    return flask.Response(message, status=status, mimetype="text/plain")
