"""Shared fixtures: paths to the real datasets (tests skip cleanly when they are absent)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
TELCO = SHARED_DATA / "telco_customer_churn.csv"
INTERCONNECT = SHARED_DATA / "interconnect"


def copy_cache(source, target, *ignore: str):
    """A copy of a cache folder with its signing key (a sibling file, `<cache>.key`): without
    the key every entry is refused as unsigned and the start trains and checks again."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*ignore))
    shutil.copy2(f"{source}.key", f"{target}.key")
    return target


@pytest.fixture(scope="session")
def telco_path() -> Path:
    if not TELCO.exists():
        pytest.skip(f"real Telco file not found at {TELCO}")
    return TELCO


@pytest.fixture(scope="session")
def interconnect_path() -> Path:
    if not INTERCONNECT.exists():
        pytest.skip(f"Interconnect folder not found at {INTERCONNECT}")
    return INTERCONNECT


@pytest.fixture(scope="module", autouse=True)
def _end_background_checks():
    """After each test file, stop the model checks its apps left running in the background:
    left alone they pile up (each app on a fresh cache runs them again) and take the cores
    from the files that follow. A test that needs them waits for them (`checks.wait()`)."""
    yield
    import sys
    checks = sys.modules.get("dashboard.services.checks")
    if checks is not None:
        checks.stop_all()
