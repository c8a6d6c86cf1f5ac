"""End-to-end: a data file chosen in headless Chromium streams to POST /upload through
assets/upload.js, and the result reaches Dash through `dash_clientside.set_props`.

A tiny Dash app of this module (the Data page's drop zone, progress bar and store, a div the
store's data is written into, and a second uploader that names its own parts in data
attributes, as the Score page's does; `errors.install` and the route) runs in a thread on a
port in 8200-8299. One flow per test, waiting on what the page shows, ending with a clean
console and no error in the server's log.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path

import dash
import pytest
from dash import Input, Output, dcc, html
from selenium.webdriver.common.keys import Keys
from werkzeug.serving import make_server

from dashboard import errors
from dashboard.uploads import (CANCEL_ID, DROP_ID, EXTENSION_MESSAGE, INPUT_ID, MB,
                               PARTIAL_PREFIX, PROGRESS_ID, STORE_ID, drop_zone_props,
                               register_uploads, too_large_message)
from tests.e2e.browser import element, text_of, wait
from tests.e2e.conftest import _is_ignored

ROOT = Path(__file__).resolve().parents[2]
RESULT = "t-upload-result-pre"
# The second uploader: its parts are named by data attributes on the zone.
SECOND_DROP, SECOND_INPUT = "t-second-drop", "t-second-input"
SECOND_PROGRESS, SECOND_STORE = "t-second-progress", "t-second-store"
SECOND_CANCEL, SECOND_RESULT = "t-second-cancel", "t-second-result-pre"
LIMIT = 16 * MB
CSV_ROWS = 36_000                 # about 5 MB of Telco-layout demo customers


def build_page_app(folder: Path) -> dash.Dash:
    """The markup the Data page renders, and a callback showing what the store received."""
    app = dash.Dash(__name__, assets_folder=str(ROOT / "assets"), serve_locally=True,
                    suppress_callback_exceptions=False, title="upload test",
                    update_title="upload test · updating…")
    app.layout = html.Div([
        html.Div("Drop a CSV, Excel or Parquet file here, or press to choose one",
                 id=DROP_ID, className="border rounded p-5 text-center",
                 **drop_zone_props(LIMIT)),
        html.Div(html.Div(className="progress-bar"), id=PROGRESS_ID,
                 className="progress my-3", style={"height": "1.5rem"}),
        html.Button("Cancel", id=CANCEL_ID, className="btn btn-outline-secondary"),
        dcc.Store(id=STORE_ID),
        html.Pre(id=RESULT),
        html.Div("A second uploader", id=SECOND_DROP, className="upload-drop p-4 text-center",
                 **drop_zone_props(LIMIT), **{"data-upload-store": SECOND_STORE,
                                              "data-upload-progress": SECOND_PROGRESS,
                                              "data-upload-input": SECOND_INPUT,
                                              "data-upload-cancel": SECOND_CANCEL}),
        html.Div(html.Div(className="progress-bar"), id=SECOND_PROGRESS,
                 className="progress my-3"),
        html.Button("Cancel the second", id=SECOND_CANCEL,
                    className="btn btn-outline-secondary"),
        dcc.Store(id=SECOND_STORE),
        html.Pre(id=SECOND_RESULT),
    ], className="container py-4")

    @app.callback(Output(RESULT, "children"), Input(STORE_ID, "data"),
                  prevent_initial_call=True)
    def show(data):
        return json.dumps(data, sort_keys=True)

    @app.callback(Output(SECOND_RESULT, "children"), Input(SECOND_STORE, "data"),
                  prevent_initial_call=True)
    def show_second(data):
        return json.dumps(data, sort_keys=True)

    errors.install(app)
    register_uploads(app.server, folder, LIMIT)
    return app


class ErrorLog(logging.Handler):
    """The app's log records of level ERROR and above (a traceback, a 500)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record) -> None:
        self.records.append(self.format(record))


@pytest.fixture(scope="module")
def upload_app(browser_binaries, tmp_path_factory):
    """The page app served by Werkzeug in a thread: `.url`, `.folder`, `.errors`."""
    folder = tmp_path_factory.mktemp("e2e-uploads") / "uploads"
    app = build_page_app(folder)
    log = ErrorLog()
    app.server.logger.addHandler(log)
    for port in range(8200, 8300):
        try:
            server = make_server("127.0.0.1", port, app.server, threaded=True)
            break
        except OSError:
            continue
    else:
        pytest.fail("no free port in 8200-8299", pytrace=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield type("UploadApp", (), {"url": f"http://127.0.0.1:{server.server_port}/",
                                      "folder": folder, "errors": log.records})
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory) -> Path:
    """About 5 MB of demo customers (the project's generator), under a name with a space."""
    from analytics.demo import generate_demo

    path = tmp_path_factory.mktemp("e2e-upload-source") / "churn export.csv"
    generate_demo(CSV_ROWS, seed=3).to_csv(path, index=False)
    assert 4 * MB < path.stat().st_size < LIMIT
    return path


def open_page(browser, upload_app):
    browser.get(upload_app.url)
    wait(browser).until(lambda d: element(d, INPUT_ID), message="upload.js made no input")
    # The script makes its input when it loads, which can be before Dash renders the page.
    return wait(browser).until(lambda d: element(d, DROP_ID),
                               message="the drop zone was never rendered")


def result(browser, where: str = RESULT) -> dict:
    """The store's data once the callback has written it into `where` (then cleared for
    the next one)."""
    text = wait(browser).until(lambda d: text_of(d, where),
                               message="the store's data never reached the page")
    browser.execute_script("document.getElementById(arguments[0]).textContent = '';", where)
    return json.loads(text)


def assert_clean(browser, upload_app, refused: tuple[str, int] | None = None) -> None:
    """No SEVERE console entry but the network line of the one `refused` (url part,
    status) answer a test asked for (Chromium logs every 4xx), no error in the server log."""
    wait(browser).until(lambda d: "updating" not in (d.title or ""))

    def expected(entry) -> bool:
        message = entry.get("message", "")
        return refused is not None and entry.get("source") == "network" and \
            refused[0] in message and f"status of {refused[1]} " in message

    severe = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"
              and not _is_ignored(e) and not expected(e)]
    assert not severe, "browser console has SEVERE entries:\n" + "\n".join(
        e.get("message", "") for e in severe)
    assert not upload_app.errors, "server log has errors:\n" + "\n".join(upload_app.errors)


def stored_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def drop(browser, zone, name: str, text: str) -> None:
    """Drop a file made in the page onto `zone`, as a drag from the desktop ends."""
    browser.execute_script("""
        const transfer = new DataTransfer();
        transfer.items.add(new File([arguments[2]], arguments[1], {type: "text/csv"}));
        for (const type of ["dragenter", "dragover", "drop"]) {
            arguments[0].dispatchEvent(new DragEvent(type, {dataTransfer: transfer,
                                                             bubbles: true, cancelable: true}));
        }""", zone, name, text)


def test_a_chosen_csv_streams_to_the_data_folder(browser, upload_app, csv_file):
    zone = open_page(browser, upload_app)
    # Enter and Space on the focused drop zone open the picker (counted, not opened).
    browser.execute_script("document.getElementById(arguments[0]).click = function () {"
                           " window.__picks = (window.__picks || 0) + 1; };", INPUT_ID)
    zone.send_keys(Keys.ENTER)
    zone.send_keys(Keys.SPACE)
    assert browser.execute_script("return window.__picks") == 2
    assert browser.switch_to.active_element == zone
    browser.execute_script("delete document.getElementById(arguments[0]).click;", INPUT_ID)

    element(browser, INPUT_ID).send_keys(str(csv_file))
    data = result(browser)
    size = csv_file.stat().st_size
    assert data["error"] is None and data["name"] == csv_file.name and data["bytes"] == size
    assert re.fullmatch(r"churn_export-[0-9a-f]{8}\.csv", data["file"])
    assert (upload_app.folder / data["file"]).read_bytes() == csv_file.read_bytes()
    bar = element(browser, PROGRESS_ID).find_element("css selector", ".progress-bar")
    assert bar.text.startswith("100%") and "bg-success" in bar.get_attribute("class")
    assert element(browser, PROGRESS_ID).get_attribute("aria-valuenow") == "100"
    assert zone.get_attribute("aria-busy") is None
    assert_clean(browser, upload_app)


def test_drops_and_refusals_reach_the_page_in_the_servers_words(browser, upload_app, csv_file):
    zone = open_page(browser, upload_app)
    before = stored_files(upload_app.folder)

    drop(browser, zone, "dropped file.csv", "customerID,tenure\nA-1,3\n")
    data = result(browser)
    assert data["error"] is None and data["name"] == "dropped file.csv"
    assert (upload_app.folder / data["file"]).read_text() == "customerID,tenure\nA-1,3\n"

    # Refused in the page: too large (the limit as the page states it), a type not accepted.
    browser.execute_script("arguments[0].setAttribute('data-max-bytes', arguments[1]);",
                           zone, str(MB))
    element(browser, INPUT_ID).send_keys(str(csv_file))
    assert result(browser)["error"] == too_large_message(MB)
    drop(browser, zone, "notes.exe", "x")
    assert result(browser)["error"] == EXTENSION_MESSAGE
    bar = element(browser, PROGRESS_ID).find_element("css selector", ".progress-bar")
    assert "bg-danger" in bar.get_attribute("class")
    assert bar.text == EXTENSION_MESSAGE[0].upper() + EXTENSION_MESSAGE[1:]

    # Refused by the server (the page is told it accepts .exe): its message is shown.
    browser.execute_script("arguments[0].setAttribute('data-accept', '.csv,.exe');", zone)
    drop(browser, zone, "notes.exe", "x")
    assert result(browser)["error"] == EXTENSION_MESSAGE

    added = sorted(set(stored_files(upload_app.folder)) - set(before))
    assert added == [data["file"]]
    assert_clean(browser, upload_app, refused=("/upload?name=notes.exe", 415))


def test_a_slow_upload_shows_its_progress_and_can_be_cancelled(browser, upload_app, csv_file):
    open_page(browser, upload_app)
    before = stored_files(upload_app.folder)
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1,
        "uploadThroughput": 1024 * 1024})  # 1 MB/s: the 5 MB file takes seconds
    element(browser, INPUT_ID).send_keys(str(csv_file))
    total = f"{csv_file.stat().st_size / MB:.1f}"
    progress = re.compile(rf"(\d+)% · (\d+\.\d) of {re.escape(total)} MB")

    def midway(d):
        text, now = d.execute_script(
            "const outer = document.getElementById(arguments[0]);"
            "return [outer.querySelector('.progress-bar').textContent,"
            "        outer.getAttribute('aria-valuenow')];", PROGRESS_ID)
        match = progress.fullmatch(text)
        return match if match and 0 < int(match[1]) < 100 and now == match[1] else False

    wait(browser).until(midway, message="no progress (text and aria-valuenow) shown midway")
    assert element(browser, DROP_ID).get_attribute("aria-busy") == "true"
    element(browser, CANCEL_ID).click()
    assert result(browser)["error"] == "the upload was cancelled"
    # The server sees the connection close and deletes the partial file.
    wait(browser).until(lambda d: not any(n.startswith(PARTIAL_PREFIX)
                                          for n in stored_files(upload_app.folder)),
                        message="the cancelled upload's partial file is still there")
    assert stored_files(upload_app.folder) == before
    assert element(browser, DROP_ID).get_attribute("aria-busy") is None
    assert_clean(browser, upload_app)


def bar_of(browser, progress_id: str):
    return element(browser, progress_id).find_element("css selector", ".progress-bar")


def test_two_uploaders_on_one_page_each_fill_their_own_store(browser, upload_app, csv_file):
    first = open_page(browser, upload_app)
    wait(browser).until(lambda d: element(d, SECOND_INPUT),
                        message="upload.js made no input for the second zone")
    second = element(browser, SECOND_DROP)
    # Enter on the second zone opens its own picker, not the Data page's.
    browser.execute_script(
        "window.__picked = [];"
        "for (const id of arguments) { document.getElementById(id).click = function () {"
        " window.__picked.push(this.id); }; }", INPUT_ID, SECOND_INPUT)
    second.send_keys(Keys.ENTER)
    first.send_keys(Keys.ENTER)
    assert browser.execute_script("return window.__picked") == [SECOND_INPUT, INPUT_ID]
    browser.execute_script("for (const id of arguments) {"
                           " delete document.getElementById(id).click; }",
                           INPUT_ID, SECOND_INPUT)

    # A file chosen in the second zone's input lands in the second store only.
    element(browser, SECOND_INPUT).send_keys(str(csv_file))
    data = result(browser, SECOND_RESULT)
    assert data["error"] is None and data["bytes"] == csv_file.stat().st_size
    assert (upload_app.folder / data["file"]).read_bytes() == csv_file.read_bytes()
    assert "bg-success" in bar_of(browser, SECOND_PROGRESS).get_attribute("class")
    assert text_of(browser, RESULT) == ""
    assert bar_of(browser, PROGRESS_ID).text == ""  # the first bar is untouched

    # A drop on the first zone goes to the first store; the second keeps its result.
    drop(browser, first, "first.csv", "customerID,tenure\nA-1,3\n")
    assert result(browser)["name"] == "first.csv"
    assert text_of(browser, SECOND_RESULT) == ""
    assert bar_of(browser, PROGRESS_ID).text.startswith("100%")

    # A refusal in the second zone is shown in the second bar, in the server's words.
    drop(browser, second, "notes.exe", "x")
    assert result(browser, SECOND_RESULT)["error"] == EXTENSION_MESSAGE
    assert "bg-danger" in bar_of(browser, SECOND_PROGRESS).get_attribute("class")
    assert "bg-success" in bar_of(browser, PROGRESS_ID).get_attribute("class")
    assert first.get_attribute("aria-busy") is None and second.get_attribute("aria-busy") is None
    assert_clean(browser, upload_app)


def test_both_uploaders_send_at_once_and_each_cancel_stops_only_its_own(browser, upload_app,
                                                                        csv_file):
    open_page(browser, upload_app)
    wait(browser).until(lambda d: element(d, SECOND_INPUT))
    before = stored_files(upload_app.folder)
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1,
        "uploadThroughput": 2 * 1024 * 1024})
    element(browser, INPUT_ID).send_keys(str(csv_file))
    element(browser, SECOND_INPUT).send_keys(str(csv_file))
    wait(browser).until(lambda d: element(d, DROP_ID).get_attribute("aria-busy") == "true"
                        and element(d, SECOND_DROP).get_attribute("aria-busy") == "true",
                        message="the two uploads did not run side by side")
    element(browser, SECOND_CANCEL).click()
    assert result(browser, SECOND_RESULT)["error"] == "the upload was cancelled"
    assert element(browser, DROP_ID).get_attribute("aria-busy") == "true"  # still sending
    data = result(browser)
    assert data["error"] is None and data["bytes"] == csv_file.stat().st_size
    wait(browser).until(lambda d: not any(n.startswith(PARTIAL_PREFIX)
                                          for n in stored_files(upload_app.folder)),
                        message="the cancelled upload's partial file is still there")
    assert sorted(set(stored_files(upload_app.folder)) - set(before)) == [data["file"]]
    assert element(browser, SECOND_DROP).get_attribute("aria-busy") is None
    assert_clean(browser, upload_app)
