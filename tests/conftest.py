"""Shared fixtures: paths to the real datasets (tests skip cleanly when they are absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
TELCO = SHARED_DATA / "telco_customer_churn.csv"
INTERCONNECT = SHARED_DATA / "interconnect"


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
