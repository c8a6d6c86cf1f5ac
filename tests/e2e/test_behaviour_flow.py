"""End-to-end in headless Chromium, on the demo with behaviour (`events_server`): the
Behaviour page lists the customers whose behaviour turned, a lower threshold lists more,
the CSV export downloads the whole list, the "why they said they left" charts are drawn,
and a row opens its customer. Waits on what the page shows, never on a clock."""

from __future__ import annotations

import csv
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.e2e.browser import as_int, element, scroll_to, text_of, wait
from tests.e2e.conftest import _console_check

# Component ids (pages/behaviour.py, pages/customer.py), hard-coded: importing the page
# modules outside a running app fails (dash.register_page needs an app).
GRID = "behaviour-list-grid"
COUNT_TEXT = "behaviour-count-text"
TITLE_TEXT = "behaviour-title-text"
NOTE_TEXT = "behaviour-note-text"
USAGE_SLIDER = "behaviour-usage-slider"
CSV_LINK = "behaviour-csv-link"
WHY_GRAPHS = ("behaviour-reasons-graph", "behaviour-words-graph", "behaviour-segments-graph")
CUSTOMER_ID_TEXT = "customer-id-text"
HEADER = ["customer_id", "churn_probability", "risk_tier", "status", "segment",
          "usage_change_30d", "usage_previous_30d", "usage_last_30d", "usage_measure",
          "sentiment_previous_60d", "sentiment_last_30d", "negative_30d", "reason_1",
          "reason_2", "reason_3"]
GRID_JS = """
let api;
try { api = dash_ag_grid.getApi(arguments[0]); } catch (e) { return null; }
const rows = [];
api.forEachNodeAfterFilterAndSort(node => rows.push(node.data));
return rows;
"""


@pytest.fixture
def events_clean_console(browser, events_server):
    """`clean_console` for tests on `events_server`."""
    return _console_check(browser, events_server)


def url_path(driver) -> str:
    return driver.execute_script("return window.location.pathname") or ""


def count(driver) -> int | None:
    return as_int(text_of(driver, COUNT_TEXT))


def grid_rows(driver) -> list[dict] | bool:
    """Every row the grid holds, in display order (False until it holds some)."""
    return driver.execute_script(GRID_JS, GRID) or False


def export_state(driver) -> dict | None:
    href = element(driver, CSV_LINK).get_attribute("href") or ""
    parts = urlsplit(href)
    if parts.path != "/export/early-warning/csv":
        return None
    return json.loads(parse_qs(parts.query)["state"][0])


def wait_idle(driver) -> None:
    wait(driver).until(lambda d: "updating" not in (d.title or ""),
                       message="Dash callbacks still in flight (title says 'updating')")


def test_early_warning_threshold_export_and_open_a_customer(
        browser, events_server, downloaded, events_clean_console):
    browser.get(f"{events_server.url}/behaviour")
    wait(browser).until(lambda d: count(d) is not None and
                        "usage fell by 30% or more" in text_of(d, TITLE_TEXT),
                        message="the early-warning count never filled in")
    wait_idle(browser)
    before = count(browser)
    assert text_of(browser, TITLE_TEXT).startswith("active customers whose usage fell")

    # A lower threshold (30% -> 10%, four steps of 5) lists more customers.
    thumb = element(browser, USAGE_SLIDER).find_element(By.CSS_SELECTOR, "[role='slider']")
    scroll_to(browser, thumb)
    thumb.click()
    for _ in range(4):
        thumb.send_keys(Keys.ARROW_LEFT)
    wait(browser).until(lambda d: "usage fell by 10% or more" in text_of(d, TITLE_TEXT)
                        and (count(d) or 0) > before,
                        message=f"the count did not grow from {before} at a 10% threshold")
    wait_idle(browser)
    n = count(browser)
    rows = wait(browser).until(lambda d: (r := grid_rows(d)) and len(r) == min(n, 500) and r,
                               message=f"the grid does not hold the {n} customers counted")
    risks = [r["churn_probability"] for r in rows]
    assert risks == sorted(risks, reverse=True), "the list is not riskiest first"
    assert {r["status"] for r in rows} == {"active"}

    # The export link carries the rules; the CSV holds every customer counted.
    wait(browser).until(lambda d: (export_state(d) or {}).get("drop") == 0.1,
                        message="the export link does not carry the 10% threshold")
    link = element(browser, CSV_LINK)
    scroll_to(browser, link)
    link.click()
    path = downloaded(".csv")
    assert "churnlens-early-warning-" in path.name, path.name
    with open(path, encoding="utf-8") as handle:
        lines = list(csv.reader(handle))
    assert lines[0][0].startswith("ChurnLens early-warning list"), lines[0]
    assert lines[1] == HEADER
    assert len(lines) - 2 == n, f"{len(lines) - 2} rows exported, the page counts {n:,}"
    assert [line[0] for line in lines[2:2 + len(rows)]] == [r["customer_id"] for r in rows]
    if n > len(rows):  # the browser holds the riskiest 500; the page says so
        assert f"The {len(rows)} riskiest are shown" in text_of(browser, NOTE_TEXT)

    # Why they said they left: three charts with bars.
    for graph_id in WHY_GRAPHS:
        wait(browser).until(lambda d, g=graph_id: element(d, g).find_elements(
            By.CSS_SELECTOR, ".bars .point path"), message=f"{graph_id} has no bars")

    # A click on the first row opens that customer's page.
    first = rows[0]["customer_id"]
    cell = wait(browser).until(lambda d: next((c for c in d.find_elements(
        By.CSS_SELECTOR, f"#{GRID} .ag-row[row-index='0'] [col-id=customer_id]")
        if c.text.strip() == first), False), message=f"row 0 does not show {first}")
    scroll_to(browser, cell)
    cell.click()
    wait(browser).until(lambda d: url_path(d) == f"/customer/{first}",
                        message=f"clicking {first} did not open its page")
    wait(browser).until(lambda d: (d.find_elements(By.ID, CUSTOMER_ID_TEXT) or [None])[0]
                        is not None and text_of(d, CUSTOMER_ID_TEXT) == first,
                        message=f"the customer page never showed {first}")
    events_clean_console()
