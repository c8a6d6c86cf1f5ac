"""The Score page's "Score a file" in a real browser: choose a CSV of 200 new customers (the
demo generator, no Churn column, one Contract value the model never saw), watch it stream
to the server and come back scored: rows, tier mix, the first rows and the report in plain
words; download the whole scored file; the console stays clean."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from selenium.webdriver.common.by import By

from dashboard.settings import DEFAULT_UPLOAD_DIR
from tests.e2e.browser import element, scroll_to, text_of, wait

INPUT = "score-upload-input"            # made by assets/upload.js from the zone's attributes
DROP = "score-upload-drop"
PROGRESS = "score-upload-progress"
ROWS = "score-file-rows-text"
TIERS = "score-file-tiers-div"
REPORT = "score-file-report-list"
TABLE = "score-file-preview-table"
DOWNLOAD = "score-file-download-button"
STEM = "e2e-new-customers"
NEW_ROWS = 200


@pytest.fixture
def new_file(tmp_path):
    """200 demo customers the model never saw, without the label; one unknown Contract.
    The copy the server stores is deleted afterwards."""
    from analytics.demo import generate_demo

    frame = generate_demo(NEW_ROWS, seed=3).drop(columns=["Churn"])
    frame.loc[7, "Contract"] = "Three year"
    path = tmp_path / f"{STEM}.csv"
    frame.to_csv(path, index=False)
    before = set(Path(DEFAULT_UPLOAD_DIR).glob(f"{STEM}-*.csv"))
    yield path
    for stored in set(Path(DEFAULT_UPLOAD_DIR).glob(f"{STEM}-*.csv")) - before:
        stored.unlink(missing_ok=True)


def test_a_chosen_file_is_scored_reported_and_downloadable(browser, base_url, clean_console,
                                                           new_file, downloaded):
    browser.get(f"{base_url}/score")
    wait(browser, 60).until(lambda d: element(d, INPUT),
                            message="upload.js made no file input for the Score page's zone")
    zone = element(browser, DROP)
    assert zone.get_attribute("role") == "button" and zone.get_attribute("tabindex") == "0"
    scroll_to(browser, zone)

    element(browser, INPUT).send_keys(str(new_file))
    wait(browser, 60).until(lambda d: text_of(d, ROWS) == f"{NEW_ROWS} customers scored",
                            message="the scored file's summary never appeared")
    bar = element(browser, PROGRESS).find_element(By.CSS_SELECTOR, ".progress-bar")
    assert "bg-success" in bar.get_attribute("class") and bar.text.startswith("100%")

    legend = text_of(browser, TIERS)
    assert all(tier in legend for tier in ("High", "Medium", "Low"))
    report = text_of(browser, REPORT)
    assert "Contract: 1 value the model never saw, scored as missing: “Three year” (1)." \
        in report
    rows = element(browser, TABLE).find_elements(By.CSS_SELECTOR, "tbody tr")
    assert len(rows) == 10
    assert "%" in rows[0].find_elements(By.TAG_NAME, "td")[1].text
    flagged = rows[7].find_elements(By.TAG_NAME, "td")[4].text
    assert flagged == "unknown Contract"

    button = element(browser, DOWNLOAD)
    assert button.is_displayed() and f"{NEW_ROWS} scored customers" in button.text
    scroll_to(browser, button)
    button.click()
    saved = downloaded(".csv")
    assert saved.name.endswith(f"{STEM}-scored.csv")
    table = pd.read_csv(saved, keep_default_na=False)
    assert len(table) == NEW_ROWS
    assert table["flags"].iloc[7] == "unknown Contract"
    assert table["risk_tier"].isin(["High", "Medium", "Low"]).all()
    clean_console()
