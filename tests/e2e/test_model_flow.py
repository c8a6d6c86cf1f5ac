"""The Model page in a real browser: move the threshold, watch the confusion matrix follow."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.e2e.browser import as_int, element, pattern_id, scroll_to, text_of, wait

SLIDER = "model-threshold-slider"
TP, FP, FN, TN = "model-tp-text", "model-fp-text", "model-fn-text", "model-tn-text"
RECALL = "model-recall-text"
CATCH_80 = pattern_id(recall="0.8", type="model-recall-button")


def _matrix(driver) -> tuple[int, int, int, int]:
    return tuple(as_int(text_of(driver, cid)) for cid in (TP, FP, FN, TN))


def test_threshold_moves_the_confusion_matrix(browser, base_url, clean_console):
    browser.get(f"{base_url}/model")
    wait(browser, 60).until(lambda d: all(v is not None for v in _matrix(d)),
                            message="confusion matrix never filled in")
    before = _matrix(browser)
    total = sum(before)
    thumb = element(browser, SLIDER).find_element(By.CSS_SELECTOR, "[role='slider']")
    scroll_to(browser, thumb)
    thumb.click()
    for _ in range(15):  # +0.15
        thumb.send_keys(Keys.ARROW_RIGHT)
    wait(browser).until(lambda d: _matrix(d) != before and None not in _matrix(d),
                        message="the matrix did not change when the threshold moved")
    after = _matrix(browser)
    assert sum(after) == total                       # same customers, regrouped
    assert after[0] + after[2] == before[0] + before[2]  # churners stay churners
    assert after[0] <= before[0] and after[1] <= before[1]  # a higher bar flags fewer

    element(browser, CATCH_80).click()
    wait(browser).until(lambda d: (text_of(d, RECALL).rstrip("%") or "0").replace(".", "")
                        .isdigit() and float(text_of(d, RECALL).rstrip("%")) >= 80.0,
                        message="'Catch 80%' did not bring recall to 80%")
    clean_console()
