"""Real-browser fixtures: the dashboard in a subprocess, headless Chromium through Selenium.

The server is started once per session (demo data, 3,000 customers, a fresh cache) and
killed at the end; every test gets its own browser with a fresh profile. Each test ends
with `clean_console()`: no SEVERE browser-console entries and no traceback in the server
log while the test ran.

A second server (`hostile_server`) serves a CSV of demo customers in which a few ids are
spreadsheet formulas or HTML, for the export-escaping flow. The browser saves downloads to
the test's `download_dir`; `wait_for_download()` waits for a finished file there.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import types
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
    "data_path = (sys.argv[4] or None) if len(sys.argv) > 4 else None\n"
    "events = len(sys.argv) > 5 and sys.argv[5] == 'events'\n"
    "app = create_app(Settings(demo_size=int(sys.argv[1]), cache_dir=sys.argv[2],\n"
    "                          data_path=data_path, upload_dir=sys.argv[2] + '-uploads',\n"
    "                          demo_events=events))\n"
    "app.run(host='127.0.0.1', port=int(sys.argv[3]), debug=False)\n"
)
# Customer ids a spreadsheet would run as a formula (or a browser as HTML), written into the
# hostile server's data in place of a few demo ids.
HOSTILE_IDS = ('=HYPERLINK("http://x","y")', "+SUM(1)", "-1+2", "@cmd", "=1+1",
               '<img src=x onerror="window.__churnlensXss=1">')
HOSTILE_SIZE = 1500
HOSTILE_SEED = 7
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


def _serve(tmp_path_factory, name: str = "churnlens-server", data_path: Path | None = None,
           events: bool = False):
    """`create_app(...).run(...)` in a subprocess on a free port (demo data, or the CSV at
    `data_path`); yields the Server once it answers, kills it at the end."""
    work = tmp_path_factory.mktemp(name)
    log_path = work / "server.log"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    argv = [sys.executable, "-c", SERVER_CODE, str(DEMO_SIZE), str(work / "cache"), str(port)]
    if data_path is not None or events:
        argv.append(str(data_path) if data_path is not None else "")
    if events:
        argv.append("events")
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            argv, cwd=str(ROOT), env=env, stdout=log_file, stderr=subprocess.STDOUT,
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
def server(browser_binaries, tmp_path_factory) -> Server:
    """`create_app(...).run(...)` in a subprocess on a free port; killed at the end."""
    yield from _serve(tmp_path_factory)


@pytest.fixture(scope="session")
def events_server(browser_binaries, tmp_path_factory) -> Server:
    """The dashboard on the demo data with behaviour (usage, tickets, e-mails, plan changes
    and the leavers' feedback), DEMO_SIZE customers."""
    yield from _serve(tmp_path_factory, name="churnlens-events-server", events=True)


@pytest.fixture(scope="session")
def hostile_data(tmp_path_factory) -> types.SimpleNamespace:
    """A Telco-layout CSV of demo customers with HOSTILE_IDS in place of a few ids (on
    Month-to-month customers, spread over the file): `.path`, `.ids`."""
    from analytics.demo import generate_demo

    frame = generate_demo(HOSTILE_SIZE, seed=HOSTILE_SEED)
    monthly = frame.index[frame["Contract"] == "Month-to-month"]
    step = len(monthly) // len(HOSTILE_IDS)
    for n, hostile in enumerate(HOSTILE_IDS):
        frame.loc[monthly[n * step], "customerID"] = hostile
    path = tmp_path_factory.mktemp("churnlens-hostile-data") / "hostile.csv"
    frame.to_csv(path, index=False)
    return types.SimpleNamespace(path=path, ids=HOSTILE_IDS)


@pytest.fixture(scope="session")
def hostile_server(browser_binaries, tmp_path_factory, hostile_data) -> Server:
    """The dashboard on `hostile_data` (its own cache); killed at the end."""
    yield from _serve(tmp_path_factory, "churnlens-hostile-server", hostile_data.path)


@pytest.fixture(scope="session")
def base_url(server) -> str:
    return server.url


@pytest.fixture
def download_dir(tmp_path) -> Path:
    """Where the test's browser saves downloads (empty at the start)."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


@pytest.fixture
def browser(browser_binaries, tmp_path, download_dir):
    """Headless Chromium with a fresh profile, browser-console logging and downloads saved
    to `download_dir` without asking."""
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
    options.add_experimental_option("prefs", {
        "download.default_directory": str(download_dir),
        "download.prompt_for_download": False,
        "download.directory_upgrade": True,
        "safebrowsing.enabled": False,
    })
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    # Headless Chromium may ignore the prefs; DevTools sets the same thing for the browser.
    driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(download_dir),
                            "eventsEnabled": False})
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


def wait_for_download(driver, folder: Path, suffix: str,
                      timeout: float = WAIT_TIMEOUT) -> Path:
    """The file ending in `suffix` in `folder`, once Chromium has finished writing it (no
    .crdownload left, size unchanged between polls). Chromium overwrites a file of the same
    name, so move each download out of `folder` before the next one (`downloaded` does)."""
    from selenium.webdriver.support.ui import WebDriverWait

    sizes: dict[str, int] = {}

    def finished(_driver):
        names = [p.name for p in folder.iterdir()]
        if any(n.endswith(".crdownload") for n in names):
            return False
        fresh = [folder / n for n in names if n.endswith(suffix)]
        if len(fresh) != 1:
            return False
        size = fresh[0].stat().st_size
        stable = size > 0 and sizes.get(fresh[0].name) == size
        sizes[fresh[0].name] = size
        return fresh[0] if stable else False

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(
        finished, message=f"no finished *{suffix} download in {folder} "
                          f"(has: {sorted(p.name for p in folder.iterdir())})")


@pytest.fixture
def downloaded(browser, download_dir, tmp_path):
    """`downloaded(".csv")` after a click that downloads: waits for the finished file, moves
    it out of download_dir (to tmp_path/received/<n>-<name>, so the next download is seen
    too) and returns its new path."""
    received = tmp_path / "received"
    received.mkdir()

    def wait(suffix: str, timeout: float = WAIT_TIMEOUT) -> Path:
        path = wait_for_download(browser, download_dir, suffix, timeout)
        target = received / f"{len(list(received.iterdir())) + 1}-{path.name}"
        path.rename(target)
        return target
    return wait


def _console_check(browser, server: Server):
    """A check() for the end of a test: no SEVERE console entries, no server traceback
    since now."""
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


@pytest.fixture
def clean_console(browser, server):
    """Call last in each test: no SEVERE console entries, no server traceback meanwhile."""
    return _console_check(browser, server)


@pytest.fixture
def hostile_clean_console(browser, hostile_server):
    """`clean_console` for tests that run against `hostile_server`."""
    return _console_check(browser, hostile_server)
