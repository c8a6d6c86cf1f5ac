"""The Model page in a real browser: move the threshold (in %), watch the confusion matrix
follow; open a lazy tab; change the shared High-tier cut-off through the confirmation and
undo it."""

from __future__ import annotations

import re

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.e2e.browser import as_int, element, pattern_id, scroll_to, text_of, wait

SLIDER = "model-threshold-slider"
THRESHOLD_TEXT = "model-threshold-text"
TP, FP, FN, TN = "model-tp-text", "model-fp-text", "model-fn-text", "model-tn-text"
RECALL = "model-recall-text"
CATCH_80 = pattern_id(recall="0.8", type="model-recall-button")
APPLY = "model-apply-tier-button"
MODAL = "model-tier-modal"
CONFIRM, CANCEL = "model-tier-confirm-button", "model-tier-cancel-button"
UNDO = "model-tier-undo-button"
ALERT = "model-tier-alert"
CURRENT = "model-tier-current-text"
HISTORY = "model-tier-history-table"
PREVIEW_HIGH = "model-tier-preview-high-active"


def _matrix(driver) -> tuple[int, int, int, int]:
    return tuple(as_int(text_of(driver, cid)) for cid in (TP, FP, FN, TN))


def _open_model_page(browser, base_url) -> None:
    browser.get(f"{base_url}/model")
    wait(browser, 60).until(lambda d: all(v is not None for v in _matrix(d)),
                            message="confusion matrix never filled in")


def _shown(driver, element_id: str) -> bool:
    found = driver.execute_script("return document.getElementById(arguments[0]);", element_id)
    return found is not None and found.is_displayed()


def _threshold_percent(driver) -> int:
    match = re.search(r"at least (\d+)%", text_of(driver, THRESHOLD_TEXT))
    return int(match.group(1)) if match else -1


def test_threshold_moves_the_confusion_matrix(browser, base_url, clean_console):
    _open_model_page(browser, base_url)
    assert _threshold_percent(browser) == 50
    before = _matrix(browser)
    total = sum(before)
    thumb = element(browser, SLIDER).find_element(By.CSS_SELECTOR, "[role='slider']")
    scroll_to(browser, thumb)
    thumb.click()
    for _ in range(15):  # +15 percentage points
        thumb.send_keys(Keys.ARROW_RIGHT)
    wait(browser).until(lambda d: _matrix(d) != before and None not in _matrix(d),
                        message="the matrix did not change when the threshold moved")
    wait(browser).until(lambda d: _threshold_percent(d) > 50,
                        message="the threshold text did not follow the slider")
    after = _matrix(browser)
    assert sum(after) == total                       # same customers, regrouped
    assert after[0] + after[2] == before[0] + before[2]  # churners stay churners
    assert after[0] <= before[0] and after[1] <= before[1]  # a higher bar flags fewer

    element(browser, CATCH_80).click()
    wait(browser).until(lambda d: (text_of(d, RECALL).rstrip("%") or "0").replace(".", "")
                        .isdigit() and float(text_of(d, RECALL).rstrip("%")) >= 80.0,
                        message="'Catch 80%' did not bring recall to 80%")
    clean_console()


def test_secondary_tabs_load_when_opened_and_draw_svg(browser, base_url, clean_console):
    _open_model_page(browser, base_url)
    assert browser.execute_script(
        "return document.getElementById('model-beeswarm-graph')") is None  # not built yet
    tab = browser.find_element(By.LINK_TEXT, "Feature importance (SHAP)")
    scroll_to(browser, tab)
    tab.click()
    wait(browser).until(
        lambda d: d.execute_script(
            "const g = document.getElementById('model-beeswarm-graph');"
            "return !!g && g.querySelectorAll('.scatterlayer .point').length > 100;"),
        message="the SHAP summary was not drawn when its tab opened")
    assert browser.execute_script(
        "return document.querySelectorAll('#_pages_content canvas').length") == 0  # no WebGL
    clean_console()


def test_the_high_tier_cut_off_is_confirmed_then_undone(browser, base_url, clean_console):
    _open_model_page(browser, base_url)
    start = text_of(browser, CURRENT)
    assert "High ≥ 50%" in start, start
    element(browser, CATCH_80).click()
    wait(browser).until(lambda d: _threshold_percent(d) < 50,
                        message="'Catch 80%' did not lower the threshold")
    chosen = _threshold_percent(browser)

    apply = element(browser, APPLY)
    scroll_to(browser, apply)
    apply.click()
    wait(browser).until(lambda d: _shown(d, PREVIEW_HIGH),
                        message="the confirmation with before/after counts did not open")
    preview = text_of(browser, "model-tier-preview-table")
    assert "Active customers" in preview and "All customers" in preview
    assert f"from a churn risk of 50% to {chosen}%" in text_of(browser, "model-tier-preview-text")
    high_after = as_int(text_of(browser, PREVIEW_HIGH))
    assert high_after is not None and high_after > 0

    element(browser, CONFIRM).click()
    wait(browser).until(lambda d: not _shown(d, MODAL), message="the dialog did not close")
    wait(browser).until(lambda d: _shown(d, ALERT) and "Changed for every user"
                        in text_of(d, ALERT), message="no alert said what changed")
    assert f"to {chosen}%" in text_of(browser, ALERT)
    assert f"{high_after:,} active customers are High" in text_of(browser, ALERT)
    wait(browser).until(lambda d: f"High ≥ {chosen}%" in text_of(d, CURRENT),
                        message="the current cut-offs did not change")
    assert "High ≥ 50%" in text_of(browser, HISTORY)

    undo = element(browser, UNDO)
    assert undo.is_enabled()
    scroll_to(browser, undo)
    undo.click()
    wait(browser).until(lambda d: "Undone" in text_of(d, ALERT),
                        message="Undo did not say what it did")
    wait(browser).until(lambda d: "High ≥ 50%" in text_of(d, CURRENT),
                        message="Undo did not bring the cut-off back")
    wait(browser).until(lambda d: not element(d, UNDO).is_enabled(),
                        message="Undo should be off once every change is undone")
    console = browser.get_log("browser")
    assert not [e for e in console if "webgl" in e.get("message", "").lower()], console
    assert not [e for e in console if e.get("level") == "SEVERE"
                and "favicon" not in e.get("message", "").lower()], console
    clean_console()
