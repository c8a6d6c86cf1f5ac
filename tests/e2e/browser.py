"""Helpers shared by the browser tests: waiting, reading Dash 4 dropdowns, pointing at bars."""

from __future__ import annotations

import json
from urllib.parse import unquote_plus

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

TIMEOUT = 30
IGNORED = (NoSuchElementException, StaleElementReferenceException)


def wait(driver, timeout: float = TIMEOUT) -> WebDriverWait:
    return WebDriverWait(driver, timeout, poll_frequency=0.1, ignored_exceptions=IGNORED)


def element(driver, element_id: str):
    """The element with this id. Works for pattern-matching ids too (their DOM id is JSON,
    whose quotes break the CSS selector Selenium builds for By.ID)."""
    found = driver.execute_script("return document.getElementById(arguments[0]);", element_id)
    if found is None:
        raise NoSuchElementException(f"no element with id {element_id!r}")
    return found


def pattern_id(**parts) -> str:
    """The DOM id Dash gives a pattern-matching id: JSON with sorted keys, no spaces."""
    return json.dumps(parts, sort_keys=True, separators=(",", ":"))


def text_of(driver, element_id: str) -> str:
    return element(driver, element_id).text.strip()


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
    value = element(driver, f"{dropdown_id}-value")
    if "dash-dropdown-placeholder" in (value.get_attribute("class") or ""):
        return []
    return [item.text.strip()
            for item in value.find_elements(By.CSS_SELECTOR, ".dash-dropdown-value-item")]


def hover_bar(driver, graph_id: str, label: str):
    """Point at the bar whose y-axis label is `label` until plotly shows its hover label
    (False, to be retried by WebDriverWait, when not there yet)."""
    graph = element(driver, graph_id)
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


def choose_option(driver, dropdown_id: str, label: str) -> None:
    """Open the dropdown, search for `label`, click the option, close the dropdown."""
    trigger = wait(driver).until(lambda d: element(d, dropdown_id))
    scroll_to(driver, trigger)
    trigger.click()
    wait(driver).until(lambda d: element(d, dropdown_id)
                       .get_attribute("aria-expanded") == "true",
                       message=f"{dropdown_id} did not open")
    # The options live in a popover portal; the trigger names it in aria-controls.
    popover_id = element(driver, dropdown_id).get_attribute("aria-controls")
    popover = wait(driver).until(lambda d: element(d, popover_id))
    search = popover.find_element(By.CSS_SELECTOR, "input.dash-dropdown-search")
    search.send_keys(label)

    def matching_option(d):
        for option in element(d, popover_id).find_elements(
                By.CSS_SELECTOR, "[role='option']"):
            if option.text.strip() == label and option.is_displayed():
                return option
        return False

    wait(driver).until(matching_option, message=f"option {label!r} not listed").click()
    wait(driver).until(lambda d: label in dropdown_selection(d, dropdown_id),
                       message=f"{dropdown_id} does not show {label!r} as selected")
    # A multi-select stays open after a choice; a single-select closes by itself.
    if element(driver, dropdown_id).get_attribute("aria-expanded") == "true":
        try:
            search.send_keys(Keys.ESCAPE)
        except IGNORED:
            pass
    wait(driver).until(lambda d: element(d, dropdown_id)
                       .get_attribute("aria-expanded") == "false",
                       message=f"{dropdown_id} did not close")






# ----- flows ----------------------------------------------------------------------------
