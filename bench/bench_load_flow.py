"""Loading data in the browser, timed as an analyst does it (headless Chromium).

1. A generated 200 MB Telco-layout CSV chosen on the Data page: time until the upload is
   stored, and until the inferred roles are shown (the server reads the whole file for
   them); the server's resident memory before and its peak (VmHWM) after.
2. A generated 10,000-row bank file: upload, Train with the inferred roles, and the time
   from the Train click to the first page (the Overview of the new data) settled.

    PYTHONPATH=. .venv/bin/python bench/bench_load_flow.py [--mb 200] [--rows 10000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from browser_bench import AppServer, Browser, wait_settled  # noqa: E402

from bench_read import make_telco  # noqa: E402


def _status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _wait(driver, predicate, timeout: float, what: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(predicate, message=what)


def _upload(driver, url: str, path: Path) -> None:
    driver.get(url + "/data")
    wait_settled(driver)
    field = _wait(driver, lambda d: d.execute_script(
        "return document.getElementById('data-upload-input');"), 60, "no file input")
    field.send_keys(str(path))


def _preview_shown(driver) -> bool:
    return bool(driver.execute_script(
        "const b = document.getElementById('data-train-button');"
        "const p = document.getElementById('data-preview-div');"
        "return b && !b.disabled && p && p.innerText.length > 50;"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=200)
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    from analytics.data.layouts import write_layout

    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        big = work / "telco_big.csv"
        rows = make_telco(big, args.mb)
        bank = write_layout("bank", args.rows, work / "bank.csv", seed=11)
        print(f"files: {big.stat().st_size / 2**20:,.0f} MB ({rows:,} rows), bank "
              f"{args.rows:,} rows")
        extra = ("--upload-dir", str(work / "uploads"), "--upload-max-mb", "600")
        with AppServer(demo_size=2000, cache_dir=work / "cache", extra_args=extra) as server, \
                Browser() as browser:
            driver = browser.driver
            pid = server.proc.pid
            before = _status_mb(pid, "VmRSS")
            clock = time.perf_counter()
            _upload(driver, server.url, big)
            _wait(driver, lambda d: "100%" in (d.execute_script(
                "return document.getElementById('data-upload-progress').innerText;") or ""),
                600, "upload did not finish")
            uploaded = time.perf_counter() - clock
            _wait(driver, _preview_shown, 600, "no preview of the big file")
            previewed = time.perf_counter() - clock
            peak = _status_mb(pid, "VmHWM")
            print(f"200 MB upload: stored in {uploaded:.1f} s "
                  f"({big.stat().st_size / 2**20 / uploaded:,.0f} MB/s), roles shown after "
                  f"{previewed:.1f} s; server RSS {before:,.0f} MB before, peak {peak:,.0f} MB")

            _upload(driver, server.url, bank)
            _wait(driver, lambda d: _preview_shown(d) and "bank" in d.execute_script(
                "return document.getElementById('data-preview-div').innerText;"), 300,
                "no preview of the bank file")
            clock = time.perf_counter()
            driver.execute_script("document.getElementById('data-train-button').click();")
            _wait(driver, lambda d: not d.current_url.rstrip("/").endswith("/data"), 1200,
                  "training did not finish")
            _wait(driver, lambda d: "revenue column" in d.execute_script(
                "return document.body.innerText;"), 300, "the bank's Overview is not shown")
            wait_settled(driver)
            total = time.perf_counter() - clock
            print(f"{args.rows:,}-row bank file: Train to the first page settled in "
                  f"{total:.1f} s (5-fold CV of CatBoost and 3 baselines, final fit, SHAP, "
                  "segments, offers)")
    print(f"load average: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()
