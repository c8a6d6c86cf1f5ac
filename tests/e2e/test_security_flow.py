"""The security headers in a real browser: every page runs under the Content-Security-Policy
without one refusal, a script slipped into the page does not run, and another site cannot
show the dashboard in a frame (dashboard/security.py).
"""

from __future__ import annotations

import csv
import io
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import pytest
from selenium.webdriver.common.by import By

from dashboard.shell import NAV_PAGES
from tests.e2e.browser import wait
from tests.e2e.conftest import wait_until_idle

# Every refusal the policy makes, kept by the page from its first script on.
WATCH_JS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e =>
  window.__csp.push(e.effectiveDirective + ' ' + (e.blockedURI || '')));
"""
RENDERED_JS = """
const content = document.getElementById('_pages_content');
return !!(content && content.children.length) &&
       !document.querySelector('._dash-loading, ._dash-loading-callback');
"""


def watch_policy(driver) -> None:
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH_JS})


def open_page(driver, url: str) -> None:
    driver.get(url)
    wait(driver).until(lambda d: d.execute_script(RENDERED_JS),
                       message=f"{url} never rendered its page")
    wait_until_idle(driver)


def severe(driver) -> list[str]:
    """The SEVERE console messages since the last call (read, so clean_console skips them)."""
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def a_customer_id(base_url: str) -> str:
    """The first customer of the at-risk export (a note line, the header, then rows)."""
    with urllib.request.urlopen(f"{base_url}/export/csv", timeout=30) as reply:
        rows = list(csv.reader(io.StringIO(reply.read().decode("utf-8"))))
    return rows[2][rows[1].index("customer_id")]


def test_every_page_runs_under_the_policy_without_a_refusal(browser, base_url, clean_console):
    with urllib.request.urlopen(base_url + "/", timeout=30) as reply:
        policy = reply.headers["Content-Security-Policy"]
        assert reply.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in policy and "'unsafe-eval'" not in policy
    watch_policy(browser)
    paths = [path for _label, path, _icon in NAV_PAGES]
    paths.append("/customer/" + quote(a_customer_id(base_url), safe=""))
    for path in paths:
        open_page(browser, base_url + path)
        if path == "/":  # plotly.js drew the charts
            wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".main-svg"))
        if path == "/customers":  # AG Grid shows rows
            wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".ag-row"))
        assert browser.execute_script("return window.__csp") == [], path
    clean_console()


def test_a_script_slipped_into_the_page_does_not_run(browser, base_url, clean_console):
    watch_policy(browser)
    open_page(browser, base_url + "/model")
    ran = browser.execute_script("""
        const s = document.createElement('script');
        s.textContent = 'window.__slipped = true;';
        document.body.appendChild(s);
        return window.__slipped === true;""")
    assert ran is False
    wait(browser).until(lambda d: d.execute_script("return window.__csp.length") == 1)
    assert browser.execute_script("return window.__csp")[0].startswith("script-src")
    refused = severe(browser)
    assert refused and all("inline script" in m and "Content Security Policy" in m
                           for m in refused), refused
    clean_console()


class Framer(BaseHTTPRequestHandler):
    """Another site (another origin): a page framing the dashboard and one of its own."""

    target = ""

    def do_GET(self):  # noqa: N802 - the http.server name
        if self.path == "/own":
            body = b"<p id='own-text'>a frame of this site</p>"
        else:
            body = (f"<iframe id='dash' src='{self.target}' onload='window.dashLoaded=1'>"
                    "</iframe><iframe id='own' src='/own'></iframe>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


@pytest.fixture
def framer(base_url):
    handler = type("ModelFramer", (Framer,), {"target": f"{base_url}/model"})
    site = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{site.server_address[1]}/"
    finally:
        site.shutdown()
        site.server_close()


def test_another_site_cannot_frame_the_dashboard(browser, framer, clean_console):
    browser.get(framer)
    wait(browser).until(lambda d: d.execute_script("return window.dashLoaded === 1"),
                        message="the dashboard frame never finished loading")
    browser.switch_to.frame("own")  # framing itself works: the site's own frame shows
    assert browser.find_element(By.ID, "own-text").text == "a frame of this site"
    browser.switch_to.default_content()
    browser.switch_to.frame("dash")
    assert browser.execute_script("return document.getElementById('react-entry-point')") \
        is None
    assert not browser.find_elements(By.CSS_SELECTOR, "button, a, input")  # nothing to click
    browser.switch_to.default_content()
    refused = severe(browser)
    assert refused and all("frame-ancestors" in m or "X-Frame-Options" in m
                           for m in refused), refused
    clean_console()


RESOURCES_JS = """
return performance.getEntriesByType('resource').map(r => ({
    name: r.name.split('?')[0], kind: r.initiatorType, wire: r.transferSize,
    size: r.decodedBodySize}));
"""
PREFETCHED_JS = "return document.documentElement.getAttribute('data-prefetched')"


def test_the_first_page_prefetches_the_code_of_the_pages_after_it(browser, base_url,
                                                                   clean_console):
    """Overview draws charts with the partial plotly.js, then (idle) fetches AG Grid's chunk;
    the Customers page takes that chunk from the browser's cache (issue #13: < 200 kB)."""
    suites = base_url + "/_dash-component-suites/"
    open_page(browser, base_url + "/")
    wait(browser, 60).until(lambda d: d.execute_script(PREFETCHED_JS) is not None,
                            message="assets/prefetch.js never finished")
    first = {r["name"]: r for r in browser.execute_script(RESOURCES_JS)}
    plotly = first[suites + "plotly/package_data/plotly.min.js"]
    assert plotly["kind"] == "script" and 1_000_000 < plotly["size"] < 2_000_000  # cartesian
    grid = first[suites + "dash_ag_grid/async-community.js"]
    assert grid["kind"] == "link" and grid["wire"] > 100_000       # prefetched, compressed
    assert browser.execute_script(PREFETCHED_JS) == "1"
    open_page(browser, base_url + "/customers")
    wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".ag-row"))
    after = {r["name"]: r for r in browser.execute_script(RESOURCES_JS)}
    chunk = after[suites + "dash_ag_grid/async-community.js"]
    assert chunk["kind"] == "script" and chunk["size"] > 500_000 and chunk["wire"] < 2_000
    assert sum(r["wire"] for r in after.values()) < 200_000
