"""Login in a real browser: `python app.py --login --users FILE`; a page asks for the login
form, a wrong password is refused, the analyst signs in, lands on the page they asked for,
sees themselves in the navbar, and signs out."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from selenium.webdriver.common.by import By

from dashboard import auth
from dashboard.users import write_users
from tests.e2e.browser import element, text_of, wait
from tests.e2e.conftest import (DEMO_SIZE, ROOT, STARTUP_TIMEOUT, Server, _answers_200,
                                _console_check, _free_port, _stop)

PASSWORD = "ann-password-1"


@pytest.fixture(scope="module")
def login_server(browser_binaries, tmp_path_factory) -> Server:
    """`python app.py --login --users FILE` on a free port (an analyst, ann); killed at the
    end."""
    work = tmp_path_factory.mktemp("churnlens-login-server")
    users = work / "users.toml"
    write_users(users, auth.Directory({"ann": auth.UserRecord(
        "ann", "analyst", auth.hash_password(PASSWORD))}))
    port = _free_port()
    log_path = work / "server.log"
    argv = [sys.executable, "app.py", "--login", "--users", str(users), "--port", str(port),
            "--cache-dir", str(work / "cache"), "--upload-dir", str(work / "uploads"),
            "--demo-size", str(DEMO_SIZE), "--no-demo-events"]
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(argv, cwd=str(ROOT), stdout=log_file,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=dict(os.environ, PYTHONUNBUFFERED="1"))
    srv = Server(f"http://127.0.0.1:{port}", process, log_path)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _answers_200(srv.url + "/login"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the login server did not start; its log:\n{srv.log()}",
                            pytrace=False)
            time.sleep(0.2)
        yield srv
    finally:
        _stop(process)
        print(f"\n--- login server log ({log_path}) ---\n{srv.log()}")


def _path(driver) -> str:
    return driver.execute_script("return window.location.pathname")


def _sign_in(browser, name: str, password: str) -> None:
    wait(browser).until(lambda d: d.find_element(By.ID, "login-username").is_displayed())
    user = browser.find_element(By.ID, "login-username")
    user.clear()
    user.send_keys(name)
    browser.find_element(By.ID, "login-password").send_keys(password)
    browser.find_element(By.ID, "login-submit").click()


def test_sign_in_see_the_dashboard_and_sign_out(browser, login_server):
    check = _console_check(browser, login_server)
    browser.get(f"{login_server.url}/segments")
    wait(browser).until(lambda d: _path(d) == "/login", message="no login form for a page")
    assert "Sign in" in browser.title

    _sign_in(browser, "ann", "not-the-password")
    wait(browser).until(lambda d: d.find_elements(By.ID, "login-error"))
    assert browser.find_element(By.ID, "login-error").text == auth.WRONG_LOGIN

    _sign_in(browser, "ann", PASSWORD)
    wait(browser, 60).until(lambda d: _path(d) == "/segments",
                            message="signing in did not open the page asked for")
    wait(browser, 60).until(lambda d: "ann" in text_of(d, "app-user-text"),
                            message="the navbar does not show the signed-in user")
    assert "analyst" in text_of(browser, "app-user-text").lower()  # the role badge
    # The dashboard works: the navbar's count is a callback's answer.
    wait(browser, 60).until(lambda d: "customers" in text_of(d, "app-filter-summary-text"),
                            message="callbacks did not run for the signed-in user")
    # ... and the page has loaded what it loads lazily (signing out while a bundle such as
    # the grid's is on its way gets that request a 401 in the console): no new resource
    # for a second.
    seen = {"count": -1, "since": time.monotonic()}

    def quiet(d) -> bool:
        count = d.execute_script("return performance.getEntriesByType('resource').length")
        if count != seen["count"]:
            seen.update(count=count, since=time.monotonic())
        return time.monotonic() - seen["since"] >= 1.0

    wait(browser, 60).until(quiet, message="the page kept loading resources")

    element(browser, "app-sign-out-button").click()
    wait(browser).until(lambda d: _path(d) == "/login", message="Sign out did not end")
    browser.get(f"{login_server.url}/")
    wait(browser).until(lambda d: _path(d) == "/login", message="still signed in after "
                                                                 "signing out")
    check()
