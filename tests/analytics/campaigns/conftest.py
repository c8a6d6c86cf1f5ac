"""Store fixtures: every store test runs on SQLite, and on PostgreSQL when CHURNLENS_TEST_DB
names one (CI starts Debian's PostgreSQL and sets it: .ci/postgres.sh)."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from analytics.campaigns.store import CampaignStore
from analytics.campaigns.tables import metadata

PG_URL = os.environ.get("CHURNLENS_TEST_DB", "")
BACKENDS = ["sqlite", "postgresql"]


def _reset_postgres(url: str) -> None:
    store = CampaignStore(url)
    with store.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    store.close()


@pytest.fixture(params=BACKENDS)
def store_url(request, tmp_path) -> str:
    """A fresh, empty database URL per test on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'campaigns.db'}"
    if not PG_URL:
        if os.environ.get("CI"):
            pytest.fail("CI must run the store tests on PostgreSQL: set CHURNLENS_TEST_DB "
                        "(.ci/postgres.sh prints one)")
        pytest.skip("no PostgreSQL: set CHURNLENS_TEST_DB=postgresql+psycopg://... "
                    "(bash .ci/postgres.sh starts one)")
    _reset_postgres(PG_URL)
    return PG_URL


@pytest.fixture
def store(store_url):
    opened = CampaignStore.open(store_url)
    yield opened
    opened.close()


__all__ = ["metadata"]


@pytest.fixture(scope="session")
def small_analysis(tmp_path_factory):
    """A trained analysis of 1,200 demo customers with the offer catalogue attached."""
    from analytics.offers import load_catalogue
    from analytics.runner import DataSource, load_or_train
    from tests.conftest import ROOT
    catalogue = load_catalogue(ROOT / "data" / "offers.toml")
    analysis, _ = load_or_train(DataSource(demo_size=1200, demo_events=False),
                                cache_dir=tmp_path_factory.mktemp("campaign-cache"),
                                catalogue=catalogue)
    return analysis
