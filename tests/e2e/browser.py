"""Helpers shared by the browser tests: waiting, reading Dash 4 dropdowns, pointing at bars."""

from __future__ import annotations

from urllib.parse import unquote_plus

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

TIMEOUT = 30
IGNORED = (NoSuchElementException, StaleElementReferenceException)


def wait(driver, timeout: float = TIMEOUT) -> WebDriverWait:
    return WebDriverWait(driver, timeout, poll_frequency=0.1, ignored_exceptions=IGNORED)


def text_of(driver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text.strip()


def as_int(text: str) -> int | None:
    """'1,660' -> 1660; None for placeholders such as '–' or an empty tile."""
    digits = text.replace(",", "")
    return int(digits) if digits.isdigit() else None


def url_hash(driver) -> str:
    return driver.execute_script("return window.location.hash") or ""


def hash_params(driver) -> str:
    return unquote_plus(url_hash(driver))


def scroll_to(driver, element) -> None:
    """Centre `element` in the window at once (Bootstrap's `scroll-behavior: smooth` would
    animate scrollIntoView, and rects read meanwhile go stale)."""
    driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element)


def dropdown_selection(driver, dropdown_id: str) -> list[str]:
    """The values a Dash 4 dropdown shows as selected ([] when it shows its placeholder)."""
    value = driver.find_element(By.ID, f"{dropdown_id}-value")
    if "dash-dropdown-placeholder" in (value.get_attribute("class") or ""):
        return []
    return [item.text.strip()
            for item in value.find_elements(By.CSS_SELECTOR, ".dash-dropdown-value-item")]


def hover_bar(driver, graph_id: str, label: str):
    """Point at the bar whose y-axis label is `label` until plotly shows its hover label
    (False, to be retried by WebDriverWait, when not there yet)."""
    graph = driver.find_element(By.ID, graph_id)
    ticks = [t for t in graph.find_elements(By.CSS_SELECTOR, ".yaxislayer-above .ytick text")
             if t.text.strip() == label]
    bars = graph.find_elements(By.CSS_SELECTOR, ".bars .point path")
    if not ticks or not bars:
        return False
    tick_y = ticks[0].rect["y"] + ticks[0].rect["height"] / 2
    bar = min(bars, key=lambda b: abs(b.rect["y"] + b.rect["height"] / 2 - tick_y))
    scroll_to(driver, graph)
    ActionChains(driver).move_to_element(bar).perform()
    hover = graph.find_elements(By.CSS_SELECTOR, ".hoverlayer .hovertext")
    return bool(hover) and label in hover[0].text
