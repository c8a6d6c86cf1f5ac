"""End-to-end offer flows in headless Chromium: a customer's what-if and recommended offer,
the score form, the campaign list and its CSV export, and the group what-if.

One flow per test. Tests wait on what the page shows (WebDriverWait), never on a clock.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.e2e.browser import (as_int, choose_option, dropdown_selection, element, pattern_id,
                               scroll_to, text_of, url_hash, wait)


# Component ids (pages/customers.py, customer.py, score.py, campaign.py, whatif.py and
# components/whatif.py). Hard-coded: importing the page modules outside a running app fails
# (dash.register_page needs an app).
GRID = "customers-list-grid"
CUSTOMER_ID_TEXT = "customer-id-text"
CUSTOMER_RISK_TEXT = "customer-risk-text"
CUSTOMER_OFFER_NAME = "customer-offer-name-text"
CUSTOMER_CONTRACT = pattern_id(feature="Contract", type="customer-whatif-input")
CUSTOMER_WHATIF_EMPTY = "customer-whatif-empty-text"
CUSTOMER_WHATIF_P1 = "customer-whatif-p1-text"
CUSTOMER_WHATIF_CHANGE = "customer-whatif-change-text"
CUSTOMER_WHATIF_PROFIT = "customer-whatif-profit-text"
CUSTOMER_MOVED_GRAPH = "customer-whatif-moved-graph"
CUSTOMER_PRESET = "customer-whatif-preset-dropdown"
TRY_OFFER_BUTTON = "customer-try-offer-button"
SCORE_PROBABILITY = "score-probability-text"
SCORE_TIER = "score-tier-badge"
SCORE_REASONS = "score-reasons-list"
SCORE_OFFER = "score-offer-text"
SCORE_ERROR = "score-error-alert"
SCORE_CONTRACT = pattern_id(feature="Contract", type="score-field")
SCORE_TENURE = pattern_id(feature="tenure", type="score-field")
CAMPAIGN_BEST_SIZE = "campaign-best-size-text"
CAMPAIGN_CAPACITY_INPUT = "campaign-capacity-input"
CAMPAIGN_CAPACITY_PROFIT = "campaign-capacity-profit-text"
CAMPAIGN_EXPORT = "campaign-export-link"
WHATIF_EMPTY = "whatif-empty-text"
WHATIF_CONTRACT = pattern_id(feature="Contract", type="whatif-input")
WHATIF_ACCEPTANCE = pattern_id(name="acceptance", type="whatif-input-assumption")
WHATIF_AFFECTED = "whatif-affected-text"
WHATIF_PROFIT = "whatif-profit-text"
WHATIF_ERROR = "whatif-error-alert"

TIERS = ("High", "Medium", "Low")
CAPACITY = 50
# What the list shows instead of an offer (analytics/offers.py, analytics/recommend.py).
NOT_AN_OFFER = ("No offer", "Not offered (left)", "")
# "SAVE15-" and at least ten Crockford base-32 characters (no I, L, O, U).
PROMO_CODE = re.compile(r"^SAVE\d+-[0-9A-HJKMNP-TV-Z]{10,}$")
# components/kpi.fmt_money: "$40.36", "$-5.00", "$5,204", "$44.6k", "$1.25M".
MONEY = re.compile(r"^\$(-?[\d,]+(?:\.\d+)?)([kM]?)$")


# ----- helpers --------------------------------------------------------------------------


def as_pct(text: str) -> float | None:
    """'56.4%' (or '56.4%High', a probability and its tier badge) -> 56.4."""
    match = re.match(r"(\d+(?:\.\d+)?)%", text)
    return float(match.group(1)) if match else None


def as_money(text: str) -> float | None:
    """'$5,204' -> 5204.0, '$-5.00' -> -5.0, '$44.6k' -> 44600.0; None if not money."""
    match = MONEY.fullmatch(text)
    if not match:
        return None
    scale = {"": 1, "k": 1_000, "M": 1_000_000}[match.group(2)]
    return float(match.group(1).replace(",", "")) * scale


def money_tolerance(text: str) -> float:
    """Half of the last digit fmt_money shows, plus a cent of rounding in the summands."""
    match = MONEY.fullmatch(text)
    decimals = len(match.group(1).partition(".")[2])
    scale = {"": 1, "k": 1_000, "M": 1_000_000}[match.group(2)]
    return 0.5 * 10 ** -decimals * scale + 1


def shown(driver, element_id: str) -> str | bool:
    """The element's text once it is on the page and not empty (False to retry)."""
    found = driver.find_elements(By.ID, element_id)
    return (found[0].text.strip() or False) if found else False


def shown_money(driver, element_id: str) -> str | bool:
    """The element's text once it shows an amount of money (False to retry)."""
    text = shown(driver, element_id)
    return text if text and as_money(text) is not None else False


def url_path(driver) -> str:
    return driver.execute_script("return window.location.pathname") or ""


GRID_DATA_JS = """
let api;
try { api = dash_ag_grid.getApi(arguments[0]); } catch (e) { return null; }
const rows = [];
for (let i = 0; i < arguments[1]; i++) {
    const node = api.getDisplayedRowAtIndex(i);
    if (!node || !node.data) break;
    rows.push(node.data);
}
return rows;
"""


def grid_data(driver, limit: int = 100) -> list[dict] | bool:
    """The data of the grid's first loaded rows, in display order (all columns, also those
    scrolled out of view that AG Grid does not render); False until some are loaded."""
    return driver.execute_script(GRID_DATA_JS, GRID, limit) or False


def first_row_with_offer(driver, contract: str, tier: str) -> tuple[int, dict]:
    """(index, data) of the first listed customer with a recommended offer that pays, once
    the loaded rows are all of this contract and tier (the filters from the URL applied)."""
    def filtered(d):
        rows = grid_data(d)
        return rows if rows and all(r.get("driver_1") == contract and
                                    r.get("risk_tier") == tier for r in rows) else False

    rows = wait(driver).until(filtered, message=f"the grid never listed only {contract} / "
                                                f"{tier} customers")
    for index, row in enumerate(rows):
        if row.get("recommended_offer") not in NOT_AN_OFFER and \
                (row.get("expected_profit") or 0) > 0:
            return index, row
    raise AssertionError(f"none of the first {len(rows)} listed customers has an offer: "
                         f"{[r.get('recommended_offer') for r in rows]}")


def grid_id_cell(driver, index: int, customer_id: str | None = None):
    """The customer-id cell of grid row `index` once it shows an id (`customer_id` if given);
    False to retry."""
    cells = driver.find_elements(
        By.CSS_SELECTOR, f"#{GRID} .ag-row[row-index='{index}'] [col-id=customer_id]")
    text = cells[0].text.strip() if cells else ""
    return cells[0] if text and customer_id in (None, text) else False


def export_state(driver) -> dict | None:
    """The state the campaign export link carries (None until it points at /export/csv)."""
    href = element(driver, CAMPAIGN_EXPORT).get_attribute("href") or ""
    parts = urlsplit(href)
    if parts.path != "/export/csv":
        return None
    return json.loads(parse_qs(parts.query)["state"][0])


def read_campaign(path: Path) -> tuple[str, pd.DataFrame]:
    """(the note on the first line, the table below it) of a downloaded campaign CSV."""
    with open(path, encoding="utf-8") as handle:
        note = handle.readline().strip()
    table = pd.read_csv(path, skiprows=1, keep_default_na=False,
                        dtype={"promo_code": str, "recommended_offer": str})
    return note, table


def enter(driver, input_id: str, text: str, key: str = Keys.TAB) -> None:
    """Type `text` over what the input holds (select all, then type, so a non-debounced
    input never sends an empty value on the way), then press `key`: TAB leaves the input,
    ENTER stays (a debounced dbc.Input sends its value on either). Empty `text` clears it."""
    field = wait(driver).until(lambda d: element(d, input_id))
    scroll_to(driver, field)
    field.click()
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(text or Keys.DELETE, key)


def wait_idle(driver) -> None:
    """Dash sets the page title to 'ChurnLens · updating…' while callbacks are in flight."""
    wait(driver).until(lambda d: "updating" not in (d.title or ""),
                       message="Dash callbacks still in flight (title says 'updating')")


# ----- flows ----------------------------------------------------------------------------


REASON_CELLS_JS = """
const out = [];
for (const row of document.querySelectorAll('#' + arguments[0] + ' .ag-row[row-index]')) {
    for (const col of ['reason_1', 'actionable_reason', 'recommended_offer']) {
        const cell = row.querySelector('[col-id=' + col + ']');
        const text = cell && cell.querySelector('.cell-clamp');
        if (!text) continue;
        const pts = cell.querySelector('.cell-pts');
        out.push({index: row.getAttribute('row-index'), col: col, label: text.textContent,
                  pts: pts ? pts.textContent : null, fits: text.getBoundingClientRect().height
                  <= cell.clientHeight, lines: Math.round(text.getBoundingClientRect().height
                  / parseFloat(getComputedStyle(text).lineHeight))});
    }
}
return out;
"""


def test_reason_cells_keep_their_points_and_at_most_two_lines(browser, base_url,
                                                              clean_console):
    browser.get(f"{base_url}/customers")
    wait(browser).until(lambda d: grid_id_cell(d, 0), message="the grid never showed rows")
    rows = {str(i): r for i, r in enumerate(wait(browser).until(grid_data))}
    cells = wait(browser).until(lambda d: d.execute_script(REASON_CELLS_JS, GRID) or False,
                                message="no reason cells rendered")
    reasons = [c for c in cells if c["col"] != "recommended_offer"]
    assert reasons and all(c["fits"] and c["lines"] <= 2 for c in cells), cells
    for cell in reasons:
        # The points stay whole at the right; the label is the rest of the grid's value.
        assert re.fullmatch(r"[+\u2212-]\d+ pts", cell["pts"] or ""), cell
        assert rows[cell["index"]][cell["col"]] == f"{cell['label']}: {cell['pts']}", cell
    offers = [c for c in cells if c["col"] == "recommended_offer"]
    assert offers and all(c["pts"] is None for c in offers), offers


def test_customer_whatif_and_recommended_offer(browser, base_url, clean_console):
    browser.get(f"{base_url}/customers#Contract=Month-to-month&tier=High")
    wait(browser).until(lambda d: grid_id_cell(d, 0), message="the grid never showed rows")
    # The riskiest rows have mostly left already (no offer); open the first with an offer,
    # so that "Recommended offer" is enabled and can be checked.
    index, row = first_row_with_offer(browser, "Month-to-month", "High")
    customer_id = row["customer_id"]
    browser.execute_script("dash_ag_grid.getApi(arguments[0]).ensureIndexVisible(arguments[1])",
                           GRID, index)
    cell = wait(browser).until(lambda d: grid_id_cell(d, index, customer_id),
                               message=f"grid row {index} does not show {customer_id}")
    scroll_to(browser, cell)
    cell.click()

    wait(browser).until(lambda d: url_path(d) == f"/customer/{customer_id}",
                        message=f"clicking the row of {customer_id} did not open its page")
    wait(browser).until(lambda d: shown(d, CUSTOMER_ID_TEXT) == customer_id,
                        message=f"customer page never showed {customer_id}")
    risk_text = wait(browser).until(lambda d: shown(d, CUSTOMER_RISK_TEXT),
                                    message="churn risk never shown")
    assert re.fullmatch(r"\d+\.\d%(High|Medium|Low)", risk_text), risk_text
    assert risk_text.endswith("High"), f"a High-tier customer shows {risk_text!r}"
    risk = as_pct(risk_text)

    # Before any change the what-if only states the current risk.
    wait(browser).until(lambda d: element(d, CUSTOMER_WHATIF_EMPTY),
                        message="what-if does not start from its empty state")
    assert dropdown_selection(browser, CUSTOMER_CONTRACT) == ["Month-to-month"]
    assert not browser.find_elements(By.ID, CUSTOMER_WHATIF_P1)

    choose_option(browser, CUSTOMER_CONTRACT, "Two year")
    p1_text = wait(browser).until(lambda d: shown(d, CUSTOMER_WHATIF_P1),
                                  message="what-if result never shown after 'Two year'")
    p1 = as_pct(p1_text)
    assert re.fullmatch(r"\d+\.\d%", p1_text) and p1 < risk, \
        f"a two-year contract should lower the risk: {risk_text} -> {p1_text}"
    change = text_of(browser, CUSTOMER_WHATIF_CHANGE)
    assert re.fullmatch(r"-\d+\.\d pts", change), f"change should be negative: {change!r}"
    profit = text_of(browser, CUSTOMER_WHATIF_PROFIT)
    assert as_money(profit) is not None, f"profit is not money: {profit!r}"
    assert not browser.find_elements(By.ID, CUSTOMER_WHATIF_EMPTY)

    def moved_bars(d):
        graph = element(d, CUSTOMER_MOVED_GRAPH)
        ticks = [t.text.strip() for t in graph.find_elements(By.CSS_SELECTOR, ".ytick text")]
        bars = graph.find_elements(By.CSS_SELECTOR, ".bars .point path")
        return ticks if bars and "Contract" in ticks else False

    wait(browser).until(moved_bars, message="'which reasons moved' has no Contract bar")

    # "Recommended offer" loads the customer's offer into the what-if.
    offer_name = wait(browser).until(lambda d: shown(d, CUSTOMER_OFFER_NAME),
                                     message="recommended offer never shown")
    assert offer_name == row["recommended_offer"], (offer_name, row["recommended_offer"])
    button = element(browser, TRY_OFFER_BUTTON)
    assert button.is_enabled(), f"'Recommended offer' disabled for {customer_id} ({offer_name})"
    scroll_to(browser, button)
    button.click()
    wait(browser).until(lambda d: dropdown_selection(d, CUSTOMER_PRESET) == [offer_name],
                        message=f"preset dropdown does not show {offer_name!r}")
    # Its what-if is the offer the list recommends: the same expected profit.
    expected = row["expected_profit"]

    def profit_is_expected(d):
        value = as_money(shown(d, CUSTOMER_WHATIF_PROFIT) or "")
        return value is not None and abs(value - expected) <= 0.011

    wait(browser).until(profit_is_expected, message=f"what-if profit with {offer_name!r} is "
                                                    f"not the list's ${expected:.2f}")
    clean_console()


def test_score_form(browser, base_url, clean_console):
    browser.get(f"{base_url}/score")
    before = wait(browser).until(lambda d: shown(d, SCORE_PROBABILITY),
                                 message="score never shown")
    assert re.fullmatch(r"\d+\.\d%", before), before
    assert wait(browser).until(lambda d: shown(d, SCORE_TIER)) in TIERS
    assert dropdown_selection(browser, SCORE_CONTRACT) != ["Two year"]

    choose_option(browser, SCORE_CONTRACT, "Two year")
    wait(browser).until(lambda d: (as_pct(shown(d, SCORE_PROBABILITY) or "") or 100)
                        < as_pct(before),
                        message=f"score did not drop below {before} with a two-year contract")
    assert text_of(browser, SCORE_TIER) in TIERS
    reasons = element(browser, SCORE_REASONS).find_elements(By.TAG_NAME, "li")
    assert reasons and all(li.text.strip() for li in reasons), "no reasons listed"
    assert text_of(browser, SCORE_OFFER), "no best offer shown"

    # An empty tenure is not a customer: the form says which field is wrong.
    enter(browser, SCORE_TENURE, "")
    wait(browser).until(lambda d: shown(d, SCORE_ERROR),
                        message="no error shown for an empty tenure")
    wait_idle(browser)
    alert = text_of(browser, SCORE_ERROR)
    assert "'tenure'" in alert, alert
    assert not browser.find_elements(By.ID, SCORE_PROBABILITY)
    clean_console()


def test_campaign_capacity_export(browser, base_url, downloaded, clean_console):
    browser.get(f"{base_url}/campaign")
    best = wait(browser).until(lambda d: as_int(shown(d, CAMPAIGN_BEST_SIZE) or ""),
                               message="'worth contacting' never filled")
    assert best >= CAPACITY, f"only {best} customers worth contacting"

    enter(browser, CAMPAIGN_CAPACITY_INPUT, str(CAPACITY), Keys.ENTER)
    profit_text = wait(browser).until(lambda d: shown_money(d, CAMPAIGN_CAPACITY_PROFIT),
                                      message="capacity profit never shown")
    assert as_money(profit_text) > 0, profit_text
    wait(browser).until(
        lambda d: (export_state(d) or {}).get("campaign") == {"capacity": CAPACITY},
        message=f"export link does not carry the capacity {CAPACITY}")

    link = element(browser, CAMPAIGN_EXPORT)
    scroll_to(browser, link)
    link.click()
    path = downloaded(".csv")
    assert path.name.split("-", 1)[1].startswith("churnlens-campaign-"), path.name
    note, table = read_campaign(path)

    assert "campaign" in note.lower(), note
    assert f"top {CAPACITY} by capacity" in note and f"{CAPACITY} customers" in note, note
    assert len(table) == CAPACITY, f"{len(table)} rows exported for capacity {CAPACITY}"
    profits = table["expected_profit"].astype(float).tolist()
    assert all(p > 0 for p in profits), f"non-positive expected profit: {min(profits)}"
    assert profits == sorted(profits, reverse=True), "not sorted by expected_profit desc"
    assert abs(sum(profits) - as_money(profit_text)) <= money_tolerance(profit_text), \
        f"the page says {profit_text}, the file's rows add up to ${sum(profits):,.2f}"
    offers = table["recommended_offer"]
    assert not offers.isin(NOT_AN_OFFER).any(), f"rows without an offer: {offers.tolist()}"
    codes = [c for c in table["promo_code"] if c]
    assert len(codes) == len(set(codes)), "promo codes are not unique"
    bad = [c for c in codes if not PROMO_CODE.fullmatch(c)]
    assert not bad, f"malformed promo codes: {bad}"
    assert table["customer_id"].is_unique, "a customer is listed twice"
    clean_console()


def test_group_whatif(browser, base_url, clean_console):
    browser.get(f"{base_url}/what-if#Contract=Month-to-month")
    wait(browser).until(lambda d: shown(d, WHATIF_EMPTY),
                        message="group what-if does not start from its empty state")

    choose_option(browser, WHATIF_CONTRACT, "One year")
    affected = wait(browser).until(lambda d: as_int(shown(d, WHATIF_AFFECTED) or ""),
                                   message="no customers affected by 'One year'")
    assert affected > 0
    wait(browser).until(lambda d: shown_money(d, WHATIF_PROFIT),
                        message="group what-if profit never shown as money")
    assert not browser.find_elements(By.ID, WHATIF_EMPTY)

    # Acceptance is a percentage: 150 is refused, and the page says which assumption.
    enter(browser, WHATIF_ACCEPTANCE, "150")
    wait(browser).until(lambda d: shown(d, WHATIF_ERROR),
                        message="no error shown for an acceptance of 150%")
    wait_idle(browser)
    assert element(browser, WHATIF_ACCEPTANCE).get_attribute("value") == "150"
    alert = text_of(browser, WHATIF_ERROR)
    assert "acceptance" in alert.lower(), alert
    assert not browser.find_elements(By.ID, WHATIF_AFFECTED)
    clean_console()


def test_list_holds_active_customers_unless_asked_and_the_switch_lives_in_the_url(
        browser, base_url, clean_console):
    browser.get(f"{base_url}/customers")

    def count(driver, who: str = "active customers"):
        match = re.fullmatch(r"([\d,]+) " + re.escape(who),
                             element(driver, "customers-count-text").text)
        return as_int(match.group(1)) if match else None

    def statuses(driver):
        cells = driver.find_elements(By.CSS_SELECTOR, f"#{GRID} .ag-row [col-id=status]")
        return [c.text.strip() for c in cells if c.text.strip()]

    # By default the list is a call list: active customers only, and so is its export.
    active = wait(browser, 60).until(lambda d: count(d),
                                     message="the list never counted its active customers")
    wait(browser).until(lambda d: statuses(d) and set(statuses(d)) == {"active"},
                        message="customers who already left are in the default list")
    note = json.loads(parse_qs(urlsplit(
        element(browser, "customers-csv-link").get_attribute("href")).query)["state"][0])
    assert not note["filters"].get("everyone")

    # The switch brings everyone back, and lives in the address bar.
    switch = element(browser, "app-filter-everyone-switch")
    assert switch.is_displayed()
    switch.click()
    wait(browser).until(lambda d: (count(d, "customers (with those who left)") or 0) > active,
                        message="the switch did not add the customers who left")
    assert "everyone=1" in url_hash(browser)
    state = json.loads(parse_qs(urlsplit(
        element(browser, "customers-csv-link").get_attribute("href")).query)["state"][0])
    assert state["filters"]["everyone"] is True  # the export follows it

    # It survives navigation and Back.
    element(browser, "app-navbar").find_element(By.LINK_TEXT, "Overview").click()
    wait(browser).until(lambda d: url_path(d) == "/", message="Overview did not open")
    assert "everyone=1" in url_hash(browser)
    assert not element(browser, "app-filter-everyone-div").is_displayed()
    browser.back()
    wait(browser).until(lambda d: url_path(d) == "/customers", message="Back did not return")
    wait(browser).until(lambda d: count(d, "customers (with those who left)"),
                        message="the switch was lost on Back")
    assert element(browser, "app-filter-everyone-switch").is_selected()
    clean_console()
