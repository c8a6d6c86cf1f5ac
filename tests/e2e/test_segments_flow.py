"""End-to-end flows in headless Chromium: Overview -> Segments -> Customers -> CSV export;
the Segments page's shared colours and its Method panel.

One flow per test, waiting on what the page shows (WebDriverWait), never on a clock.
`test_overview_to_segment_to_export` runs on `hostile_server`: demo customers in which a
few ids are spreadsheet formulas or HTML (conftest.HOSTILE_IDS), so the export's escaping
and the grid's rendering of such ids are checked on the real download.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from urllib.parse import parse_qs, unquote_plus, urlsplit

from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from tests.e2e.browser import (as_int, dropdown_selection, hash_params, hover_bar,
                               scroll_to, text_of, wait)


# Component ids (dashboard/ids.py, pages/*.py). Hard-coded: importing the page modules
# outside a running app fails (dash.register_page needs an app).
NAVBAR = "app-navbar"
FILTER_CONTRACT = "app-filter-driver-1-dropdown"   # the demo's first pinned driver
FILTER_SEGMENT = "app-filter-segment-dropdown"
FILTER_TIER = "app-filter-tier-dropdown"
FILTER_RESET = "app-filter-reset-button"
FILTER_SUMMARY = "app-filter-summary-text"
CUSTOMERS_KPI = "overview-customers-kpi"
CONTRACT_GRAPH = "overview-driver-1-graph"
SEGMENT_CARDS = "segments-cards-div"
OPEN_BUTTON = "segments-open-button"
HEAT_GRAPH = "segments-heat-graph"
CHURN_GRAPH = "segments-churn-graph"
K_GRAPH = "segments-k-graph"
METHOD_ACCORDION = "segments-method-accordion"
GRID = "customers-list-grid"
COUNT_TEXT = "customers-count-text"
CSV_LINK = "customers-csv-link"

MONTHLY = "Month-to-month"
TIERS = ("High", "Medium", "Low")
HEADER = ["customer_id", "churn_probability", "risk_tier", "status", "segment",
          "tenure_months", "contract", "monthly_charges", "clv", "revenue_at_risk", "reason_1",
          "reason_2", "reason_3", "actionable_reason", "recommended_offer", "expected_profit", "promo_code"]
TEXT_COLUMNS = ("customer_id", "risk_tier", "status", "segment", "contract", "reason_1",
                "reason_2", "reason_3", "actionable_reason", "recommended_offer", "promo_code")
# What a spreadsheet runs as a formula (analytics/export.py neutralises these).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# ----- helpers --------------------------------------------------------------------------


def wait_rows(driver, matches, what: str) -> list[dict[str, str]]:
    """Wait until the grid's rendered rows are loaded and all satisfy `matches`; the
    timeout message shows the rows last seen."""
    seen: list = [None]

    def ready(d):
        seen[0] = grid_rows(d)
        return seen[0] if seen[0] and all(matches(r) for r in seen[0]) else False

    try:
        return wait(driver).until(ready)
    except TimeoutException:
        raise AssertionError(f"grid rows are not all {what}; last seen: {seen[0]}") from None


def wait_idle(driver) -> None:
    """Dash sets the page title to 'ChurnLens · updating…' while callbacks are in flight."""
    wait(driver).until(lambda d: "updating" not in (d.title or ""),
                       message="Dash callbacks still in flight (title says 'updating')")




def url_path(driver) -> str:
    return driver.execute_script("return window.location.pathname") or ""






def wait_selection(driver, dropdown_id: str, expected: list[str]) -> None:
    wait(driver).until(lambda d: dropdown_selection(d, dropdown_id) == expected,
                       message=f"{dropdown_id} does not show {expected}")




def hover_heat_cell(driver, graph_id: str, row: str, column: str) -> str | bool:
    """Point at the heat-map cell (y label `row`, x label `column`); its hover text once
    plotly shows it for that cell, else False (to be retried)."""
    graph = driver.find_element(By.ID, graph_id)
    scroll_to(driver, graph)
    ys = [t for t in graph.find_elements(By.CSS_SELECTOR, ".ytick text") if t.text.strip() == row]
    xs = [t for t in graph.find_elements(By.CSS_SELECTOR, ".xtick text")
          if t.text.strip() == column]
    drag = graph.find_elements(By.CSS_SELECTOR, ".nsewdrag")
    if not ys or not xs or not drag:
        return False
    x = xs[0].rect["x"] + xs[0].rect["width"] / 2
    y = ys[0].rect["y"] + ys[0].rect["height"] / 2
    area = drag[0].rect
    # Selenium 4 offsets are from the element's centre.
    ActionChains(driver).move_to_element_with_offset(
        drag[0], int(x - (area["x"] + area["width"] / 2)),
        int(y - (area["y"] + area["height"] / 2))).perform()
    hover = graph.find_elements(By.CSS_SELECTOR, ".hoverlayer .hovertext")
    text = hover[0].text if hover else ""
    # "<b>segment</b> · tier risk<br>n customers<br>..." (WebDriver joins the lines)
    return text if text.startswith(f"{row} · {column} risk") else False


def heat_count(hover_text: str) -> int:
    match = re.search(r"([\d,]+) customers", hover_text)
    assert match, f"no customer count in the heat-map hover label {hover_text!r}"
    return int(match.group(1).replace(",", ""))


GRID_ROWS_JS = """
const rows = {};
for (const row of document.querySelectorAll('#' + arguments[0] + ' .ag-row[row-index]')) {
    const index = row.getAttribute('row-index');
    const cells = rows[index] = rows[index] || {};
    for (const cell of row.querySelectorAll('[col-id]')) {
        cells[cell.getAttribute('col-id')] = cell.innerText.trim();
    }
}
return rows;
"""


def grid_rows(driver, with_index: bool = False) -> list[dict[str, str]] | bool:
    """The grid's rendered rows as {col-id: text} (pinned and centre parts joined by
    row-index; the index under '_index' if `with_index`), in row order; False while none
    are rendered or some are still loading. One script call: reading ~500 cells through
    WebDriver one by one takes seconds."""
    rows = {int(i): cells for i, cells in driver.execute_script(GRID_ROWS_JS, GRID).items()}
    if not rows or any(not cells.get("customer_id") or not cells.get("segment")
                       for cells in rows.values()):
        return False
    if with_index:
        for index, cells in rows.items():
            cells["_index"] = str(index)
    return [rows[i] for i in sorted(rows)]


def summary_count(driver) -> int | None:
    """Selected customers according to the navbar ('204 of 1,500 customers selected')."""
    match = re.match(r"([\d,]+) of [\d,]+ customers selected", text_of(driver, FILTER_SUMMARY))
    return int(match.group(1).replace(",", "")) if match else None


def count_text(driver) -> int | None:
    """The list's count, with those who left ('1,500 customers (with those who left)')."""
    match = re.fullmatch(r"([\d,]+) customers \(with those who left\)",
                         text_of(driver, COUNT_TEXT))
    return int(match.group(1).replace(",", "")) if match else None


def include_everyone(driver) -> None:
    """The list holds active customers by default; these flows compare it with the whole
    selection, so they switch on the customers who left (kept in the URL)."""
    switch = wait(driver).until(lambda d: d.find_element(By.ID, "app-filter-everyone-switch"))
    if not switch.is_selected():
        switch.click()
    wait(driver).until(lambda d: "everyone=1" in hash_params(d),
                       message="the everyone switch is not in the URL")


def export_state(driver) -> dict | None:
    """The state the Export CSV link carries (None until it points at /export/csv)."""
    href = driver.find_element(By.ID, CSV_LINK).get_attribute("href") or ""
    parts = urlsplit(href)
    if parts.path != "/export/csv":
        return None
    return json.loads(parse_qs(parts.query)["state"][0])


def read_export(path: Path) -> tuple[list[str], list[str], list[dict[str, str]]]:
    """(first line's cells, header, data rows as dicts) of a downloaded CSV."""
    with open(path, newline="", encoding="utf-8") as handle:
        lines = list(csv.reader(handle))
    assert len(lines) >= 2, f"{path.name} has fewer than two lines: {lines}"
    note, header, data = lines[0], lines[1], lines[2:]
    assert header == HEADER, f"unexpected header in {path.name}: {header}"
    assert all(len(row) == len(header) for row in data), "ragged rows in the export"
    return note, header, [dict(zip(header, row)) for row in data]


def check_no_formula_cells(note: list[str], rows: list[dict[str, str]]) -> None:
    """No cell starts with = + @ (tab, CR); '-' only as the sign of a number in a numeric
    column; text columns start with none of them."""
    for cell in note:
        assert not cell.startswith(FORMULA_STARTS), f"note line cell is a formula: {cell!r}"
    for number, row in enumerate(rows, start=3):
        for column, cell in row.items():
            if column in TEXT_COLUMNS:
                assert not cell.startswith(FORMULA_STARTS), \
                    f"line {number}: {column} cell {cell!r} would run as a formula"
            else:
                assert not cell.startswith(("=", "+", "@", "\t", "\r")), \
                    f"line {number}: {column} cell {cell!r} would run as a formula"
                assert cell == "" or re.fullmatch(r"-?\d+(\.\d+)?(e-?\d+)?", cell), \
                    f"line {number}: {column} cell {cell!r} is not a number"


def exported_form(hostile: str) -> str:
    """How a hostile id must look in the CSV: formula-like ids prefixed with an apostrophe."""
    return "'" + hostile if hostile.startswith(FORMULA_STARTS) else hostile


def download_export(driver, downloaded) -> Path:
    """Click Export CSV and wait for the finished file."""
    link = driver.find_element(By.ID, CSV_LINK)
    scroll_to(driver, link)
    link.click()
    return downloaded(".csv")


def show_grid_row(driver, index: int) -> dict[str, str]:
    """Scroll the grid down to row `index` (its position in the current sort) the way a
    mouse wheel does, a screenful at a time, letting each new block of rows load; returns
    the row's rendered cells, the customer_id cell element under key '_element'.

    (Jumping straight there makes AG Grid ask for two blocks at once; dash-ag-grid answers
    only the last request, so the other block never loads. See the report of this test.)"""
    viewport = driver.find_element(By.CSS_SELECTOR, f"#{GRID} .ag-body-viewport")
    row_height = driver.find_element(By.CSS_SELECTOR, f"#{GRID} .ag-row[row-index]").rect[
        "height"]
    for _ in range(index // 10 + 10):
        top, height = driver.execute_script(
            "return [arguments[0].scrollTop, arguments[0].clientHeight];", viewport)
        first = int(top // row_height)
        last_visible = int((top + height) // row_height) - 1
        # AG Grid draws rows over several frames after a scroll: wait for the first row on
        # screen and, once the target is on screen, for the target row itself.
        wanted = {first, index} if first <= index <= last_visible else {first}

        def loaded_from_first(d):
            rendered = grid_rows(d, with_index=True)
            return rendered if rendered and wanted <= {int(r["_index"]) for r in rendered} \
                else False

        rows = wait(driver).until(loaded_from_first,
                                  message=f"grid rows around row {first} never loaded")
        if first <= index <= last_visible:
            break
        target = max(0, index * row_height - height / 2)
        step = max(-20 * row_height, min(20 * row_height, target - top))
        driver.execute_script("arguments[0].scrollTop = arguments[1];", viewport, top + step)
    else:
        raise AssertionError(f"could not scroll the grid to row {index}")
    cells = next((r for r in rows if int(r["_index"]) == index), None)
    assert cells, f"grid row {index} not rendered"
    cells = dict(cells)
    cells["_element"] = driver.find_element(
        By.CSS_SELECTOR, f"#{GRID} .ag-row[row-index='{index}'] [col-id=customer_id]")
    return cells


def check_rendered_as_text(driver, index: int, hostile: str) -> None:
    """Grid row `index` shows `hostile` verbatim as its id: plain text, no link, no image,
    nothing executed."""
    row = show_grid_row(driver, index)
    cell = row.pop("_element")
    assert row["customer_id"] == hostile, \
        f"grid row {index} shows id {row['customer_id']!r}, expected {hostile!r}"
    assert cell.get_attribute("textContent").strip() == hostile
    assert not cell.find_elements(By.CSS_SELECTOR, "*:not(span):not(div)"), \
        f"the id cell {hostile!r} was rendered as markup: {cell.get_attribute('innerHTML')}"
    assert driver.execute_script("return window.__churnlensXss === undefined"), \
        "a hostile customer id ran as HTML in the grid"


# ----- flows ----------------------------------------------------------------------------
def test_overview_to_segment_to_export(browser, hostile_server, hostile_data, downloaded,
                                       hostile_clean_console):
    base_url = hostile_server.url
    hostile_ids = hostile_data.ids

    # 1. Overview: click the Month-to-month bar of the contract chart.
    browser.get(f"{base_url}/")
    wait(browser).until(lambda d: as_int(text_of(d, CUSTOMERS_KPI)) is not None,
                        message="customers KPI never filled")
    total = as_int(text_of(browser, CUSTOMERS_KPI))
    wait(browser).until(lambda d: hover_bar(d, CONTRACT_GRAPH, MONTHLY),
                        message=f"could not hover the {MONTHLY!r} bar")
    ActionChains(browser).click().perform()
    wait_selection(browser, FILTER_CONTRACT, [MONTHLY])
    wait(browser).until(lambda d: f"Contract={MONTHLY}" in hash_params(d),
                        message="URL hash does not carry the contract filter")
    wait(browser).until(lambda d: (as_int(text_of(d, CUSTOMERS_KPI)) or total) < total,
                        message="customers KPI did not drop after the drill-down")

    # 2. The Segments link in the navbar keeps the filter.
    def segments_link(d):
        for link in d.find_element(By.ID, NAVBAR).find_elements(By.CSS_SELECTOR, "a.nav-link"):
            if link.text.strip() == "Segments":
                href = unquote_plus(link.get_attribute("href") or "")
                return link if href.endswith(f"/segments#Contract={MONTHLY}") else False
        return False

    link = wait(browser).until(segments_link,
                               message="Segments nav link does not carry the filter hash")
    scroll_to(browser, link)
    link.click()
    wait(browser).until(lambda d: url_path(d) == "/segments",
                        message="the Segments link did not open /segments")
    wait(browser).until(
        lambda d: d.find_element(By.ID, SEGMENT_CARDS).find_elements(
            By.CSS_SELECTOR, f"[id*='{OPEN_BUTTON}']"),
        message="no segment cards")
    wait_idle(browser)
    wait_selection(browser, FILTER_CONTRACT, [MONTHLY])

    # 3. The first card's "List customers" opens the Customers list filtered to it.
    button = browser.find_element(By.ID, SEGMENT_CARDS).find_elements(
        By.CSS_SELECTOR, f"[id*='{OPEN_BUTTON}']")[0]
    button_id = json.loads(button.get_attribute("id"))
    assert button_id["type"] == OPEN_BUTTON, button_id
    segment = button_id["segment"]
    assert "List customers" in button.text
    scroll_to(browser, button)
    button.click()

    wait(browser).until(lambda d: url_path(d) == "/customers",
                        message=f"'List customers' of {segment!r} did not open /customers")
    wait_selection(browser, FILTER_SEGMENT, [segment])
    wait_selection(browser, FILTER_CONTRACT, [MONTHLY])
    wait(browser).until(lambda d: f"segment={segment}" in hash_params(d)
                        and f"Contract={MONTHLY}" in hash_params(d),
                        message="URL hash does not carry both filters")
    include_everyone(browser)
    wait(browser).until(lambda d: summary_count(d) is not None
                        and count_text(d) == summary_count(d),
                        message="customers count does not match the navbar selection")
    wait_idle(browser)
    count = count_text(browser)
    assert 0 < count < total, f"{segment!r} x {MONTHLY} lists {count} of {total} customers"

    # 4. Every visible row belongs to the segment and the contract.
    # (The contract column, the first driver's, sits right of the first screen, where the
    # grid does not render it; the export below checks every row's contract.)
    rows = wait_rows(browser, lambda r: r.get("segment") == segment
                     and r.get("driver_1", MONTHLY) == MONTHLY, f"{segment!r} / {MONTHLY}")
    assert min(count, 10) <= len(rows) <= count, \
        f"{len(rows)} rows rendered for {count} customers"

    # 5. Export CSV downloads every customer the filters keep, riskiest first.
    wait(browser).until(
        lambda d: (export_state(d) or {}).get("filters") == {"Contract": [MONTHLY],
                                                            "segment": [segment],
                                                            "everyone": True},
        message="Export CSV link does not carry the filters")
    path = download_export(browser, downloaded)
    note, _, data = read_export(path)
    assert len(note) == 1, f"first line should be one note cell: {note}"
    assert f"Contract = {MONTHLY}" in note[0] and f"Segment = {segment}" in note[0], note[0]
    assert f"{count:,} customers" in note[0], note[0]
    assert len(data) == count, f"{len(data)} rows exported, the page says {count:,} customers"
    wrong = [r for r in data if r["segment"] != segment or r["contract"] != MONTHLY]
    assert not wrong, f"{len(wrong)} exported rows outside the filters, e.g. {wrong[:3]}"
    risks = [float(r["churn_probability"]) for r in data]
    assert risks == sorted(risks, reverse=True), "export not sorted by churn_probability desc"
    assert [r["customer_id"] for r in data[:len(rows)]] == \
        [exported_form(r["customer_id"]) for r in rows], \
        "the export does not start with the rows the grid shows (ids as exported)"

    # 6. Hostile ids: neutralised in the file, plain text in the grid.
    check_no_formula_cells(note, data)
    exported_ids = [r["customer_id"] for r in data]
    raw = [h for h in hostile_ids if h != exported_form(h) and h in exported_ids]
    assert not raw, f"hostile ids exported un-neutralised: {raw}"
    in_view = [h for h in hostile_ids if exported_form(h) in exported_ids]
    if in_view:
        check_rendered_as_text(browser, exported_ids.index(exported_form(in_view[0])),
                               in_view[0])

    # The whole list (Reset all), whether or not the segment held hostile ids: every
    # hostile id is in it, each neutralised; the grid shows them verbatim.
    reset = wait(browser).until(lambda d: d.find_element(By.ID, FILTER_RESET))
    scroll_to(browser, reset)
    reset.click()
    wait_selection(browser, FILTER_CONTRACT, [])
    wait_selection(browser, FILTER_SEGMENT, [])
    wait(browser).until(lambda d: (export_state(d) or {}).get("filters") == {},
                        message="Export CSV link still carries filters after Reset all")
    include_everyone(browser)  # Reset all goes back to active customers only
    wait(browser).until(lambda d: count_text(d) == total,
                        message=f"customers count not back to {total:,} after Reset all")
    wait_idle(browser)
    everyone = download_export(browser, downloaded)
    note, _, data = read_export(everyone)
    assert "filters: customers who left included" in note[0], note[0]
    assert len(data) == total, f"{len(data)} rows in the unfiltered export, expected {total}"
    check_no_formula_cells(note, data)
    exported_ids = [r["customer_id"] for r in data]
    for hostile in hostile_ids:
        assert exported_form(hostile) in exported_ids, \
            f"hostile id {hostile!r} not exported as {exported_form(hostile)!r}"
        assert hostile == exported_form(hostile) or hostile not in exported_ids, \
            f"hostile id {hostile!r} exported un-neutralised"
    for hostile in (hostile_ids[0], hostile_ids[-1]):  # a formula and the HTML one
        check_rendered_as_text(browser, exported_ids.index(exported_form(hostile)), hostile)
    hostile_clean_console()


def test_heatmap_cell_drills_into_customers(browser, server, clean_console):
    browser.get(f"{server.url}/segments")
    wait(browser).until(lambda d: d.find_element(By.ID, HEAT_GRAPH).find_elements(
        By.CSS_SELECTOR, ".heatmaplayer image, .heatmaplayer .hm"),
        message="segment x tier heat map never drawn")
    wait_idle(browser)
    graph = browser.find_element(By.ID, HEAT_GRAPH)
    segments = [t.text.strip() for t in graph.find_elements(By.CSS_SELECTOR, ".ytick text")]
    tiers = [t.text.strip() for t in graph.find_elements(By.CSS_SELECTOR, ".xtick text")]
    assert segments and tiers == list(TIERS), (segments, tiers)

    # The first cell (High tier first) whose hover label counts some customers.
    chosen = None
    for tier in TIERS:
        for segment in segments:
            label = wait(browser).until(lambda d: hover_heat_cell(d, HEAT_GRAPH, segment, tier),
                                        message=f"no hover label on cell {segment} x {tier}")
            if heat_count(label) > 0:
                chosen = segment, tier, heat_count(label)
                break
        if chosen:
            break
    assert chosen, "every heat-map cell is empty"
    segment, tier, n = chosen
    offset = server.log_size()
    ActionChains(browser).click().perform()  # the pointer is still on the chosen cell

    wait(browser).until(lambda d: url_path(d) == "/customers"
                        or '" 500 -' in server.log_since(offset),
                        message=f"clicking cell {segment} x {tier} did not open /customers")
    assert url_path(browser) == "/customers", (
        f"clicking heat-map cell {segment} x {tier} failed on the server:\n"
        + server.log_since(offset))
    wait_selection(browser, FILTER_SEGMENT, [segment])
    wait_selection(browser, FILTER_TIER, [tier])
    wait(browser).until(lambda d: f"segment={segment}" in hash_params(d)
                        and f"tier={tier}" in hash_params(d),
                        message="URL hash does not carry the segment and tier")
    include_everyone(browser)
    wait(browser).until(lambda d: count_text(d) == n,
                        message=f"customers count is not the cell's {n:,}")
    rows = wait_rows(browser, lambda r: r.get("segment") == segment
                     and r.get("risk_tier") == tier, f"{segment!r} / {tier}")
    assert min(n, 10) <= len(rows) <= n, f"{len(rows)} rows rendered for {n} customers"
    clean_console()


CARD_COLOURS_JS = """
const out = {};
for (const card of document.querySelectorAll('#' + arguments[0] + ' .kpi-card')) {
    const dot = card.querySelector('.segment-dot');
    const name = dot && dot.nextElementSibling ? dot.nextElementSibling.innerText.trim() : '';
    if (name) out[name] = getComputedStyle(dot).backgroundColor;
}
return out;
"""
BAR_COLOURS_JS = """
const graph = document.getElementById(arguments[0]).querySelector('.js-plotly-plot');
if (!graph || !graph._fullData || !graph._fullData.length) return null;
const trace = graph._fullData[0];
const out = {};
trace.y.forEach((name, i) => { out[name] = trace.marker.color[i]; });
return out;
"""


def rgb(colour: str) -> str:
    """'#332288' -> 'rgb(51, 34, 136)' (what getComputedStyle reports)."""
    colour = colour.strip()
    if colour.startswith("#"):
        r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
        return f"rgb({r}, {g}, {b})"
    return colour


def test_segment_colours_match_and_the_method_panel_opens(browser, server, clean_console):
    browser.get(f"{server.url}/segments")
    cards = wait(browser).until(lambda d: d.execute_script(CARD_COLOURS_JS, SEGMENT_CARDS),
                                message="no segment cards")
    bars = wait(browser).until(lambda d: d.execute_script(BAR_COLOURS_JS, CHURN_GRAPH),
                               message="churn-by-segment chart never drawn")
    wait_idle(browser)
    # Every segment has one colour, the same on its card and its bar, and no two share one.
    assert set(cards) == set(bars), (cards, bars)
    assert {name: rgb(c) for name, c in bars.items()} == cards
    assert len(set(cards.values())) == len(cards)

    # The K choice is not in the main grid: it waits, collapsed, in the Method panel.
    accordion = browser.find_element(By.ID, METHOD_ACCORDION)
    assert not accordion.find_elements(By.CSS_SELECTOR, ".accordion-collapse.show")
    header = accordion.find_element(By.CSS_SELECTOR, ".accordion-button")
    assert "Method" in header.text
    scroll_to(browser, header)
    header.click()
    wait(browser).until(lambda d: d.find_element(By.ID, METHOD_ACCORDION).find_elements(
        By.CSS_SELECTOR, ".accordion-collapse.show"), message="the Method panel did not open")

    def k_chart_drawn(d):
        graph = d.find_element(By.ID, K_GRAPH)
        svg = graph.find_elements(By.CSS_SELECTOR, ".main-svg")
        lines = graph.find_elements(By.CSS_SELECTOR, ".scatterlayer .trace")
        return bool(svg and lines and svg[0].rect["width"] > 300)

    wait(browser).until(k_chart_drawn, message="the K chart is not drawn at full width")
    text = browser.find_element(By.ID, METHOD_ACCORDION).text
    assert "separates the customers best" in text and "Features used" in text, text
    clean_console()
