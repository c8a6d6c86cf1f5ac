"""End-to-end user flows in headless Chromium: filter, drill down, share a view, read metrics.

One flow per test. Tests wait on what the page shows (WebDriverWait), never on a clock.
"""

from __future__ import annotations

import re

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from tests.e2e.browser import (as_int, choose_option, dropdown_selection, hash_params,
                               hover_bar, text_of, url_hash, wait)


# Component ids (dashboard/ids.py, pages/overview.py). Hard-coded: importing the page
# modules outside a running app fails (dash.register_page needs an app).
# The demo's drivers are pinned: Contract, InternetService, PaymentMethod in slots 1-3.
FILTER_CONTRACT = "app-filter-driver-1-dropdown"
FILTER_INTERNET = "app-filter-driver-2-dropdown"
FILTER_TIER = "app-filter-tier-dropdown"
FILTER_RESET = "app-filter-reset-button"
FILTER_SUMMARY = "app-filter-summary-text"
CUSTOMERS_KPI = "overview-customers-kpi"
CHURN_KPI = "overview-churn-kpi"
INTERNET_GRAPH = "overview-driver-2-graph"
METRICS_TABLE = "model-metrics-table"

TOTAL = 3000


# ----- helpers --------------------------------------------------------------------------






def as_pct(text: str) -> float | None:
    """'44.8%' -> 44.8."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)%", text)
    return float(match.group(1)) if match else None


def customers(driver) -> int | None:
    return as_int(text_of(driver, CUSTOMERS_KPI))




def open_overview(driver, base_url: str, hash_text: str = "") -> None:
    driver.get(f"{base_url}/{hash_text}")
    wait(driver).until(lambda d: customers(d) is not None,
                       message="customers KPI never filled")


def wait_all_customers(driver) -> None:
    wait(driver).until(lambda d: text_of(d, CUSTOMERS_KPI) == f"{TOTAL:,}",
                       message=f"customers KPI never showed {TOTAL:,}")




def test_filter_changes_kpis(browser, base_url, clean_console):
    open_overview(browser, base_url)
    wait_all_customers(browser)
    churn_before = wait(browser).until(lambda d: as_pct(text_of(d, CHURN_KPI)),
                                       message="churn KPI never filled")

    choose_option(browser, FILTER_CONTRACT, "Month-to-month")

    wait(browser).until(lambda d: (customers(d) or TOTAL) < TOTAL,
                        message="customers KPI did not drop after filtering")
    wait(browser).until(lambda d: (as_pct(text_of(d, CHURN_KPI)) or 0) > churn_before,
                        message=f"churn KPI did not rise above {churn_before}%")
    wait(browser).until(lambda d: "Contract=Month-to-month" in url_hash(d),
                        message="URL hash does not carry the contract filter")
    selected = customers(browser)
    wait(browser).until(
        lambda d: text_of(d, FILTER_SUMMARY) == f"{selected:,} of {TOTAL:,} customers selected",
        message="navbar summary does not match the selection")
    assert dropdown_selection(browser, FILTER_CONTRACT) == ["Month-to-month"]
    clean_console()


def test_bar_click_drills_down(browser, base_url, clean_console):
    open_overview(browser, base_url)
    wait_all_customers(browser)

    wait(browser).until(lambda d: hover_bar(d, INTERNET_GRAPH, "Fiber optic"),
                        message="could not hover the 'Fiber optic' bar")
    ActionChains(browser).click().perform()

    wait(browser).until(lambda d: dropdown_selection(d, FILTER_INTERNET) == ["Fiber optic"],
                        message="internet dropdown does not show 'Fiber optic' after the click")
    wait(browser).until(lambda d: (customers(d) or TOTAL) < TOTAL,
                        message="customers KPI did not drop after the drill-down")
    wait(browser).until(lambda d: "InternetService=Fiber optic" in hash_params(d),
                        message="URL hash does not carry the internet filter")
    assert url_hash(browser) in ("#InternetService=Fiber+optic",
                                 "#InternetService=Fiber%20optic")
    selected = customers(browser)
    wait(browser).until(
        lambda d: text_of(d, FILTER_SUMMARY) == f"{selected:,} of {TOTAL:,} customers selected",
        message="navbar summary does not match the drill-down")
    clean_console()


def test_url_hash_restores_view(browser, base_url, clean_console):
    open_overview(browser, base_url, "#tier=High")
    wait(browser).until(lambda d: dropdown_selection(d, FILTER_TIER) == ["High"],
                        message="tier dropdown not restored from the URL hash")
    wait(browser).until(lambda d: (customers(d) or TOTAL) < TOTAL,
                        message="customers KPI does not reflect the tier filter from the URL")
    assert "tier=High" in url_hash(browser)

    wait(browser).until(lambda d: d.find_element(By.ID, FILTER_RESET).is_enabled())
    browser.find_element(By.ID, FILTER_RESET).click()

    wait_all_customers(browser)
    wait(browser).until(lambda d: url_hash(d) == "", message="Reset left a URL hash")
    wait(browser).until(lambda d: dropdown_selection(d, FILTER_TIER) == [],
                        message="Reset did not clear the tier dropdown")
    wait(browser).until(lambda d: text_of(d, FILTER_SUMMARY) == f"All {TOTAL:,} customers",
                        message="navbar summary not back to all customers")
    clean_console()


def test_model_page_shows_metrics(browser, base_url, clean_console):
    browser.get(f"{base_url}/model")
    # The baselines are computed in the background after the first page (the served model's
    # row comes first); the page fills them in when they are done.
    wait(browser, 120).until(
        lambda d: "Logistic regression" in d.find_element(By.ID, METRICS_TABLE).text,
        message="the baselines never appeared in the metrics table")
    table = browser.find_element(By.ID, METRICS_TABLE)
    headers = [th.text.strip() for th in table.find_elements(By.CSS_SELECTOR, "thead th")]
    assert "ROC-AUC" in headers, headers
    auc_column = headers.index("ROC-AUC")

    rows = {}
    for row in table.find_elements(By.CSS_SELECTOR, "tbody tr"):
        cells = [td.text.strip() for td in row.find_elements(By.TAG_NAME, "td")]
        match = re.match(r"\d+\.\d+", cells[auc_column])
        assert match, f"no ROC-AUC number in {cells}"
        rows[cells[0].lower()] = float(match.group(0))

    for model in ("catboost", "logistic regression", "random forest", "neural network"):
        found = [auc for name, auc in rows.items() if model in name]
        assert found, f"{model!r} missing from the metrics table: {sorted(rows)}"
        assert 0.5 < found[0] <= 1.0, f"{model} ROC-AUC {found[0]} not in (0.5, 1]"
    clean_console()
