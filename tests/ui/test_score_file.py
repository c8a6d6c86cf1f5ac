"""The Score page's "Score a file": a file of new customers uploaded to POST /upload, scored
by the current model through the score service, summarised (rows, tier mix, first rows, the
per-column report in plain words) and downloadable as a formula-safe CSV; a file missing
model columns, a forged stored name or a vanished file gives one message, no traceback.

An app of its own (the session app's model, copied with its cache, so it starts in about a
second; its own upload folder), files sent with the Flask test client, the page's callbacks
called as plain functions inside a request context.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from dash import no_update

from analytics.demo import generate_demo
from components.score_file import ALL_CLEAR, ERROR_ALERT, report_lines
from dashboard import create_app
from dashboard.services import CONFIG_KEY
from dashboard.services.tiers import SETTINGS_FILE
from dashboard.settings import Settings
from tests.conftest import copy_cache
from tests.ui.conftest import DEMO_SIZE, find, walk

OCTETS = {"Content-Type": "application/octet-stream"}
HOSTILE_ID = '=HYPERLINK("http://x","y")'
NEW_ROWS = 200


@pytest.fixture(scope="module")
def file_app(app, tmp_path_factory):
    """A fresh app on a copy of the session app's cache, uploads in a folder of its own."""
    work = tmp_path_factory.mktemp("score-file")
    source = app.server.config[CONFIG_KEY].settings.cache_dir
    copy_cache(source, work / "cache", SETTINGS_FILE + "*", ".settings-*", "jobs",
               "scored-files")
    return create_app(Settings(demo_size=DEMO_SIZE, demo_events=False, cache_dir=str(work / "cache"),
                               upload_dir=str(work / "uploads")), progress=lambda m: None)


@pytest.fixture(scope="module")
def page(file_app):
    import pages.score  # reloaded by create_app: the callbacks of this app

    return pages.score


@pytest.fixture
def ctx(file_app):
    """Run code as a callback runs: inside the app's request context."""
    with file_app.server.test_request_context():
        yield file_app.server.config[CONFIG_KEY]


def new_customers() -> pd.DataFrame:
    """Demo customers the model never saw, no Churn column; one unknown Contract, one
    tenure beyond the training range, one monthly charge that is not a number, one id a
    spreadsheet would run as a formula."""
    frame = generate_demo(NEW_ROWS, seed=3).drop(columns=["Churn"]).astype({
        "MonthlyCharges": object})
    frame.loc[0, "Contract"] = "Three year"
    frame.loc[1, "tenure"] = 500
    frame.loc[2, "MonthlyCharges"] = "about 70"
    frame.loc[3, "customerID"] = HOSTILE_ID
    return frame


def upload(file_app, frame: pd.DataFrame, name: str = "new.csv") -> str:
    """POST the frame as CSV to /upload as the browser does; the stored name."""
    body = frame.to_csv(index=False).encode()
    response = file_app.server.test_client().post(f"/upload?name={name}", data=body,
                                                  headers=OCTETS)
    assert response.status_code == 200, response.data[:300]
    return response.get_json()["file"]


def landed(stored: str | None, error: str | None = None) -> dict:
    """What assets/upload.js puts in the page's store."""
    return {"file": stored, "name": "new.csv", "bytes": 1, "error": error, "at": 1}


def text(component) -> str:
    return " ".join(c for c in walk(component) if isinstance(c, str))


@pytest.fixture(scope="module")
def scored(file_app, page):
    """The new customers uploaded and scored through the page's callback, once."""
    stored = upload(file_app, new_customers())
    with file_app.server.test_request_context():
        outputs = page.score_uploaded_file(landed(stored))
    return stored, outputs


# ----- the page -------------------------------------------------------------------------


def test_the_score_page_has_its_own_uploader(file_app, page, ctx):
    layout = page.layout()
    zone = find(layout, page.UPLOAD_DROP)
    assert "upload-drop" in zone.className
    props = zone.to_plotly_json()["props"]
    assert props["data-upload-store"] == page.UPLOAD_STORE == "score-upload-store"
    assert props["data-upload-progress"] == page.UPLOAD_PROGRESS == "score-upload-progress"
    assert props["data-upload-input"] == page.UPLOAD_INPUT
    assert props["data-max-bytes"] == str(500 * 1024 * 1024) and ".csv" in props["data-accept"]
    for cid in (page.UPLOAD_PROGRESS, page.UPLOAD_STORE, page.FILE_KEY_STORE,
                page.FILE_DOWNLOAD, page.FILE_DOWNLOAD_BUTTON, page.FILE_RESULT_DIV):
        assert find(layout, cid) is not None, cid
    assert find(layout, page.FILE_DOWNLOAD_DIV).className == page.HIDDEN
    assert "Contract" in text(layout)  # the columns a file needs


def test_new_customers_are_scored_with_the_tier_mix_and_first_rows(scored, page):
    _stored, (view, key_store, download_class, label, message) = scored
    assert find(view, ERROR_ALERT) is None, text(view)
    assert text(find(view, "score-file-rows-text")) == f"{NEW_ROWS} customers scored"
    assert " s" in text(find(view, "score-file-time-text"))
    legend = text(find(view, "score-file-tiers-div"))
    assert all(tier in legend for tier in ("High", "Medium", "Low"))
    rows = find(view, "score-file-preview-table").children[1].children
    assert len(rows) == 10
    assert text(rows[3].children[0]) == HOSTILE_ID  # shown as text; neutralised in the CSV
    assert set(key_store) == {"key"} and len(key_store["key"]) == 32
    assert download_class == page.SHOWN and message == ""
    assert f"Download all {NEW_ROWS} scored customers (CSV)" in text(label)


def test_the_report_names_unknown_categories_ranges_and_non_numbers(scored, ctx):
    summary = ctx.score.score_upload(scored[0])
    assert summary["ok"] and summary["rows"] == NEW_ROWS
    assert sum(t["n"] for t in summary["tiers"]) == NEW_ROWS
    assert [t["tier"] for t in summary["tiers"]] == ["High", "Medium", "Low"]
    report = {(item["kind"], item["column"]): item for item in summary["report"]}
    assert report[("unknown", "Contract")]["n"] == 1
    assert report[("unknown", "Contract")]["examples"] == [["Three year", 1]]
    tenure = ctx.analysis.customers["tenure"]
    assert report[("range", "tenure")] == {
        "kind": "range", "column": "tenure", "label": "Tenure", "n": 1,
        "low": float(tenure.min()), "high": float(tenure.max())}
    assert report[("number", "MonthlyCharges")]["n"] == 1
    # The unknown Contract, the long tenure, and a monthly charge above the training data's.
    assert report[("range", "MonthlyCharges")]["n"] == 1
    assert summary["flagged"] == 3
    shown = text(find(scored[1][0], "score-file-report-list"))
    assert "Contract: 1 value the model never saw, scored as missing: “Three year” (1)." \
        in shown
    assert (f"Tenure: 1 value outside the training range "
            f"{tenure.min():,.6g} to {tenure.max():,.6g}; flagged and scored anyway.") in shown
    assert "Monthly charges (column MonthlyCharges): 1 cell not a number" in shown


def test_report_lines_are_plain_words():
    assert report_lines([
        {"kind": "unknown", "column": "Plan", "label": "Plan", "n": 7,
         "examples": [["Gold", 4], ["Ruby", 2]]},
        {"kind": "range", "column": "age", "label": "Age", "n": 1, "low": 18.0, "high": 99.5},
        {"kind": "number", "column": "MonthlySpend", "label": "Monthly spend", "n": 3}]) == [
        "Plan: 7 values the model never saw, scored as missing: “Gold” (4), “Ruby” (2) and "
        "others.",
        "Age: 1 value outside the training range 18 to 99.5; flagged and scored anyway.",
        "Monthly spend (column MonthlySpend): 3 cells not a number, scored as missing."]
    assert report_lines([]) == []


def test_a_clean_file_says_so(file_app, page, ctx):
    frame = generate_demo(30, seed=11).drop(columns=["Churn"])
    frame = frame[frame["tenure"].between(1, 70) & frame["MonthlyCharges"].between(25, 110)]
    frame = frame.assign(TotalCharges=frame["tenure"] * frame["MonthlyCharges"] * 0.5)
    view = page.score_uploaded_file(landed(upload(file_app, frame, "clean.csv")))[0]
    assert text(find(view, "score-file-report-list")) == ALL_CLEAR


def test_the_download_is_the_whole_file_made_formula_safe(scored, page, ctx):
    data, message = page.download_scored_file(1, scored[1][1])
    assert message == "" and data["filename"] == "new-scored.csv"
    assert data["type"] == "text/csv"
    table = pd.read_csv(io.StringIO(data["content"]), keep_default_na=False)
    assert len(table) == NEW_ROWS
    assert list(table.columns) == ["customer_id", "churn_probability", "risk_tier",
                                   "reason_1", "reason_2", "reason_3", "flags"]
    assert table["customer_id"].iloc[3] == "'" + HOSTILE_ID
    assert table["flags"].iloc[0] == "unknown Contract"
    assert table["flags"].iloc[1] == "tenure outside training range"
    assert table["churn_probability"].between(0, 1).all()


def test_the_same_file_again_is_answered_from_disk(scored, file_app, page, ctx):
    again = ctx.score.score_upload(scored[0])
    assert again["cached"] and again["key"] == scored[1][1]["key"]
    view = page.score_uploaded_file(landed(scored[0]))[0]
    assert "shown from the cache" in text(find(view, "score-file-time-text"))


def test_a_file_missing_model_columns_names_every_one(file_app, page, ctx):
    frame = new_customers().drop(columns=["Contract", "tenure"]).rename(
        columns={"gender": "Gender"})
    view, key_store, download_class, _label, _text = page.score_uploaded_file(
        landed(upload(file_app, frame, "short.csv")))
    alert = text(find(view, ERROR_ALERT))
    assert alert.startswith("short.csv: ")
    assert "`gender` (did you mean `Gender`?)" in alert
    assert "`Contract`" in alert and "`tenure`" in alert
    assert "Traceback" not in alert and "/" not in alert  # no server path
    assert key_store is None and download_class == page.HIDDEN


@pytest.mark.parametrize("forged", ["../../etc/passwd", "/etc/passwd", "../cache/x.csv",
                                    ".partial-x.part", "a.exe", 7])
def test_a_forged_stored_name_is_refused_with_a_message(file_app, page, ctx, forged):
    view, key_store, download_class, _label, _text = page.score_uploaded_file(landed(forged))
    alert = text(find(view, ERROR_ALERT))
    assert alert.startswith("Not the name of an uploaded file")
    assert key_store is None and download_class == page.HIDDEN


def test_a_forged_or_stale_download_key_is_refused(page, ctx):
    for key in ("../../etc/passwd", "0" * 32, None, {"a": 1}):
        data, message = page.download_scored_file(1, {"key": key})
        assert data is no_update and message
    assert page.download_scored_file(1, None)[0] is no_update


def test_a_vanished_file_or_a_failed_upload_is_a_message(file_app, page, ctx):
    stored = upload(file_app, new_customers().head(5), "gone.csv")
    (Path(ctx.settings.upload_dir) / stored).unlink()
    alert = text(find(page.score_uploaded_file(landed(stored))[0], ERROR_ALERT))
    assert "'gone.csv' is no longer on the server" in alert
    alert = text(find(page.score_uploaded_file(landed(None, "the file is empty"))[0],
                      ERROR_ALERT))
    assert alert.endswith("The file is empty")
    assert text(find(page.score_uploaded_file(None)[0], ERROR_ALERT)).endswith(
        "The upload failed.")


def test_a_file_with_a_header_only_or_not_a_table_is_a_message(file_app, page, ctx):
    header = pd.DataFrame(columns=new_customers().columns)
    alert = text(find(page.score_uploaded_file(landed(upload(file_app, header, "h.csv")))[0],
                      ERROR_ALERT))
    assert alert.endswith("h.csv: the file has no customer rows")
    response = file_app.server.test_client().post("/upload?name=bad.xlsx", data=b"PK\x03 no",
                                                  headers=OCTETS)
    alert = text(find(page.score_uploaded_file(landed(response.get_json()["file"]))[0],
                      ERROR_ALERT))
    assert alert.startswith("bad.xlsx: ") and "Traceback" not in alert
