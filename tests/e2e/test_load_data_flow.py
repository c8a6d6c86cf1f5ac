"""End-to-end: an analyst loads a bank's churn file in the browser, corrects one role, trains
with the progress bar moving, lands on an Overview that speaks of the bank's own columns,
then switches back to the dataset served before (the demo).

The dashboard runs in a subprocess of its own (demo data, its own cache and upload folder),
since this flow changes the dataset it serves."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from selenium.webdriver.common.by import By

from analytics.data.layouts import write_layout
from dashboard import data_ids as ids
from tests.e2e.browser import choose_option, element, pattern_id, wait
from tests.e2e.conftest import (ROOT, STARTUP_TIMEOUT, Server, _answers_200, _console_check,
                                _free_port, _stop)

TRAIN_TIMEOUT = 300.0
SERVER = (
    "import sys\n"
    "from dashboard import create_app\n"
    "from dashboard.settings import Settings\n"
    "app = create_app(Settings(demo_size=1200, demo_events=False, cache_dir=sys.argv[1],\n"
    "                          upload_dir=sys.argv[2]))\n"
    "app.run(host='127.0.0.1', port=int(sys.argv[3]), debug=False)\n"
)


@pytest.fixture(scope="module")
def load_server(browser_binaries, tmp_path_factory):
    work = tmp_path_factory.mktemp("churnlens-load-server")
    log_path, port = work / "server.log", _free_port()
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(work / "cache"), str(work / "uploads"),
             str(port)], cwd=str(ROOT), env=dict(os.environ, PYTHONUNBUFFERED="1"),
            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    srv = Server(f"http://127.0.0.1:{port}", process, log_path)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _answers_200(srv.url + "/"):
            assert process.poll() is None, srv.log()
            assert time.monotonic() < deadline, srv.log()
            time.sleep(0.2)
        yield srv
    finally:
        _stop(process)
        print(f"\n--- load server log ---\n{srv.log()}")


def _role(role: str) -> str:
    return pattern_id(role=role, type=ids.DATA_ROLE_TYPE)


def _dropdown_text(driver, dropdown_id: str) -> str:
    return element(driver, dropdown_id).text


def test_load_a_bank_file_train_it_and_switch_back(browser, load_server, tmp_path):
    check = _console_check(browser, load_server)
    data = write_layout("bank", 1500, tmp_path / "bank_customers.csv", seed=4)
    browser.get(load_server.url + "/data")
    wait(browser).until(lambda d: element(d, ids.DROP_ID))
    # The script made the hidden file input; choosing a file there uploads it.
    wait(browser).until(lambda d: element(d, "data-upload-input")).send_keys(str(data))
    wait(browser, 60).until(lambda d: "Exited" in _dropdown_text(d, _role("label")),
                            message="the inferred label is not shown")
    preview = element(browser, ids.DATA_PREVIEW_DIV).text
    assert "bank_customers.csv" in preview and "RowNumber" in preview  # left out, with why
    assert "looks like years" in preview                                # the unit warning
    # The analyst settles the unit the file does not state.
    choose_option(browser, _role("tenure_unit"), "years")
    train = element(browser, ids.DATA_TRAIN_BUTTON)
    wait(browser).until(lambda d: train.is_enabled())
    train.click()
    seen = set()

    def progressed(d):
        bar = d.find_elements(By.CSS_SELECTOR, f"#{ids.DATA_TRAIN_PROGRESS} .progress-bar")
        if bar:
            seen.add(bar[0].get_attribute("aria-valuenow") or bar[0].text)
        return len(seen - {"0", "", None}) >= 2 or "/data" not in d.current_url

    wait(browser, TRAIN_TIMEOUT).until(progressed, message="the progress bar never moved")
    wait(browser, TRAIN_TIMEOUT).until(lambda d: not d.current_url.rstrip("/").endswith(
        "/data"), message="training did not finish and switch")
    # The Overview now speaks of the bank: its drivers, no telecom column.
    wait(browser, 60).until(lambda d: "needs a revenue column" in d.find_element(
        By.TAG_NAME, "body").text, message="the Overview of the bank is not shown")
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "contract" not in body.lower() and "internet service" not in body.lower()
    assert "num of products" in body.lower()
    assert "1,500" in body
    # Switch back to the demo data served before.
    browser.get(load_server.url + "/data")
    switch = wait(browser, 60).until(lambda d: d.find_elements(
        By.XPATH, "//button[normalize-space()='Switch']"))
    assert len(switch) == 1
    switch[0].click()
    wait(browser, 120).until(lambda d: not d.current_url.rstrip("/").endswith("/data"))
    # The filter bar comes with the layout, the figures with the page's callbacks: wait for
    # both (asserting the count as soon as the bar showed failed on a busy machine).
    wait(browser, 60).until(lambda d: "contract" in d.find_element(
        By.TAG_NAME, "body").text.lower(), message="the demo's drivers are not back")
    wait(browser, 60).until(lambda d: "1,200" in d.find_element(By.TAG_NAME, "body").text,
                            message="the demo's 1,200 customers are not shown again")
    check()
