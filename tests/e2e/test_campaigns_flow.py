"""Campaigns in a real browser: the demo's simulated past campaign on the Effectiveness page
(verdict, tiles, the uplift model's Qini), then recording a new campaign on the Campaign page,
downloading its treatment list (never the control group) and uploading its outcomes on the
Effectiveness page; the console stays clean."""

from __future__ import annotations

import re

import pandas as pd
from selenium.webdriver.common.by import By

from tests.e2e.browser import element, scroll_to, text_of, wait

VERDICT = "effectiveness-verdict-text"
UPLIFT_TILE = "effectiveness-uplift-text"
UPLIFT_BUTTON = "effectiveness-uplift-button"
QINI_TEXT = "effectiveness-qini-text"
QINI = "effectiveness-qini-graph"
UPLOAD_INPUT = "effectiveness-upload-input"
IMPORT_DONE = "effectiveness-import-done"
NAME = "campaign-record-name-input"
PREVIEW = "campaign-record-preview-text"
RECORD = "campaign-record-button"
DONE = "campaign-record-done-text"
EXPORT = "campaign-record-export-link"


def test_the_demo_campaign_is_measured_and_the_uplift_model_compared(browser, base_url,
                                                                     clean_console):
    browser.get(f"{base_url}/effectiveness")
    wait(browser, 60).until(lambda d: "points" in text_of(d, VERDICT),
                            message="the demo campaign's verdict never appeared")
    assert re.fullmatch(r"[+-]\d+\.\d pts", text_of(browser, UPLIFT_TILE))
    button = element(browser, UPLIFT_BUTTON)
    scroll_to(browser, button)
    button.click()
    wait(browser, 120).until(lambda d: "Qini coefficient" in text_of(d, QINI_TEXT),
                             message="the uplift model's comparison never appeared")
    traces = browser.execute_script(
        "return document.getElementById(arguments[0]).querySelectorAll('.scatterlayer .trace')"
        ".length;", QINI)
    assert traces == 3
    clean_console()


def test_record_export_and_import_outcomes(browser, base_url, clean_console, downloaded,
                                           tmp_path):
    browser.get(f"{base_url}/campaign")
    wait(browser, 60).until(lambda d: "to contact" in text_of(d, PREVIEW),
                            message="the campaign preview never appeared")
    preview = text_of(browser, PREVIEW)
    to_contact = int(re.search(r"([\d,]+) to contact", preview).group(1).replace(",", ""))
    held = int(re.search(r"([\d,]+) held out", preview).group(1).replace(",", ""))
    name = element(browser, NAME)
    scroll_to(browser, name)
    name.send_keys("E2E save desk")
    element(browser, RECORD).click()
    wait(browser, 60).until(lambda d: "Recorded campaign" in text_of(d, DONE),
                            message="recording the campaign gave no confirmation")
    done = text_of(browser, DONE)
    campaign_id = int(re.search(r"Recorded campaign (\d+)", done).group(1))
    assert f"{to_contact:,} to contact, {held:,} held out" in done

    element(browser, EXPORT).click()
    path = downloaded(".csv")
    listed = pd.read_csv(path, skiprows=1, dtype=str)
    assert len(listed) == to_contact  # the control group is not in the list

    outcomes = tmp_path / "e2e-outcomes.csv"
    rows = ["customer_id,accepted,churned"]
    rows += [f"{cid},{'yes' if i % 3 == 0 else 'no'},{'1' if i % 4 == 0 else '0'}"
             for i, cid in enumerate(listed["customer_id"])]
    outcomes.write_text("\n".join(rows) + "\n")
    browser.get(f"{base_url}/effectiveness?campaign={campaign_id}")
    wait(browser, 60).until(lambda d: "No outcomes yet" in text_of(d, VERDICT)
                            or "Cannot measure" in text_of(d, VERDICT),
                            message="the new campaign's page never said it has no outcomes")
    wait(browser, 30).until(lambda d: element(d, UPLOAD_INPUT),
                            message="upload.js made no file input for the outcomes zone")
    element(browser, UPLOAD_INPUT).send_keys(str(outcomes))
    wait(browser, 60).until(lambda d: "Imported" in text_of(d, IMPORT_DONE),
                            message="the outcomes file was never imported")
    assert f"Imported {to_contact:,} outcomes" in text_of(browser, IMPORT_DONE)
    wait(browser, 30).until(lambda d: "%" in text_of(d, "effectiveness-churn-text"),
                            message="the churn tile never showed the imported outcomes")
    table = element(browser, "effectiveness-acceptance-table").find_elements(By.TAG_NAME, "tr")
    assert len(table) >= 2
    clean_console()
