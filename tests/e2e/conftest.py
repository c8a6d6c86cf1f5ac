"""Real-browser fixtures: the dashboard in a subprocess, headless Chromium through Selenium.

The server is started once per session (demo data, 3,000 customers, a fresh cache) and
killed at the end; every test gets its own browser with a fresh profile. Each test ends
with `clean_console()`: no SEVERE browser-console entries and no traceback in the server
log while the test ran.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

E2E_DIR = Path(__file__).resolve().parent
ROOT = E2E_DIR.parent.parent
CHROMIUM = os.environ.get("CHURNLENS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHURNLENS_CHROMEDRIVER", "/usr/bin/chromedriver")
DEMO_SIZE = 3000
STARTUP_TIMEOUT = 120.0
WAIT_TIMEOUT = 30.0
CHROME_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run",
               "--window-size=1440,1400")
SERVER_CODE = (
    "import sys\n"
    "from dashboard import create_app\n"
    "from dashboard.settings import Settings\n"
    "app = create_app(Settings(demo_size=int(sys.argv[1]), cache_dir=sys.argv[2]))\n"
    "app.run(host='127.0.0.1', port=int(sys.argv[3]), debug=False)\n"
)
# Lines in the server log that mean a request or callback failed.
SERVER_ERROR_MARKERS = ("Traceback (most recent call last)", "Exception on ", "\" 500 -")


def pytest_collection_modifyitems(config, items):
    """Everything in this folder is an end-to-end test."""
    for item in items:
        if E2E_DIR in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


def _missing_browser_reason() -> str | None:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER)
               if not (os.path.isfile(path) and os.access(path, os.X_OK))]
    if not missing:
        return None
    return ("end-to-end tests need Chromium and chromedriver; not found or not executable: "
            + ", ".join(missing) + " (Debian: apt-get install chromium chromium-driver)")


@pytest.fixture(scope="session")
def browser_binaries() -> tuple[str, str]:
    """(chromium, chromedriver); fails under CI when they are missing, else skips."""
    reason = _missing_browser_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return CHROMIUM, CHROMEDRIVER


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers_200(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, OSError):
        return False


class Server:
    """The dashboard subprocess and its log file."""

    def __init__(self, url: str, process: subprocess.Popen, log_path: Path) -> None:
        self.url = url
        self.process = process
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def log_since(self, offset: int) -> str:
        with open(self.log_path, "rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", errors="replace")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def server(browser_binaries, tmp_path_factory) -> Server:
    """`create_app(...).run(...)` in a subprocess on a free port; killed at the end."""
    work = tmp_path_factory.mktemp("churnlens-server")
    log_path = work / "server.log"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVER_CODE, str(DEMO_SIZE), str(work / "cache"), str(port)],
            cwd=str(ROOT), env=env, stdout=log_file, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
    srv = Server(url, process, log_path)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _answers_200(url + "/"):
            if process.poll() is not None:
                pytest.fail(f"dashboard server exited with code {process.returncode} during "
                            f"startup; its log:\n{srv.log()}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"dashboard server did not answer 200 on {url}/ within "
                            f"{STARTUP_TIMEOUT:.0f} s; its log:\n{srv.log()}", pytrace=False)
            time.sleep(0.2)
        yield srv
    finally:
        _stop(process)
        # Shown with -s or when a test fails in the session (-ra lists it).
        print(f"\n--- dashboard server log ({log_path}) ---\n{srv.log()}")


@pytest.fixture(scope="session")
def base_url(server) -> str:
    return server.url


@pytest.fixture
def browser(browser_binaries, tmp_path):
    """Headless Chromium with a fresh profile and browser-console logging."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # never let Selenium Manager download anything
    chromium, chromedriver = browser_binaries
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in CHROME_ARGS:
        options.add_argument(argument)
    profile = tempfile.mkdtemp(prefix="chrome-profile-", dir=tmp_path)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    driver.set_page_load_timeout(WAIT_TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _is_ignored(entry: dict) -> bool:
    """A missing favicon is the only console error we accept."""
    message = entry.get("message", "")
    return "favicon" in message.lower() and "404" in message


def wait_until_idle(driver, timeout: float = WAIT_TIMEOUT) -> None:
    """Dash sets the page title to `update_title` while callbacks are in flight."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(
        lambda d: "updating" not in (d.title or ""),
        message="Dash callbacks still in flight (title says 'updating')")


@pytest.fixture
def clean_console(browser, server):
    """Call last in each test: no SEVERE console entries, no server traceback meanwhile."""
    offset = server.log_size()

    def check() -> None:
        wait_until_idle(browser)
        severe = [entry for entry in browser.get_log("browser")
                  if entry.get("level") == "SEVERE" and not _is_ignored(entry)]
        server_log = server.log_since(offset)
        failures = [line for line in server_log.splitlines()
                    if any(marker in line for marker in SERVER_ERROR_MARKERS)]
        problems = []
        if severe:
            problems.append("browser console has SEVERE entries:\n" + "\n".join(
                f"  {e.get('source', '')}: {e.get('message', '')}" for e in severe))
        if failures:
            problems.append("server log reports errors during the test:\n" + server_log)
        assert not problems, "\n\n".join(problems)

    return check
