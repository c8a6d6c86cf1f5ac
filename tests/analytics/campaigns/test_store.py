"""The campaign store on SQLite and PostgreSQL: migrations, transactional writes, outcomes."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from analytics.campaigns import outcomes as oc
from analytics.campaigns import records
from analytics.campaigns.arms import MEMBER_COLUMNS
from analytics.campaigns.records import CampaignSpec
from analytics.campaigns.store import HEAD, CampaignStore, default_url
from analytics.campaigns.tables import campaigns, members, metadata
from analytics.errors import ChurnLensError, DataError
from tests.conftest import ROOT


def member_frame(n: int, control_every: int = 10) -> pd.DataFrame:
    ids = [f"C{i:06d}" for i in range(n)]
    arm = np.where(np.arange(n) % control_every == 0, "control", "treatment")
    return pd.DataFrame({
        "customer_id": ids, "arm": arm, "offer": "discount_10",
        "promo_code": [f"P{i:06d}" for i in range(n)], "p0": 0.6, "p1": 0.5,
        "expected_profit": 12.5, "clv": 900.0, "acceptance": 0.3, "offer_cost": 30.0,
        "tier": "High", "segment": "At-Risk"})[list(MEMBER_COLUMNS)]


def spec(name="Winter save desk", **kw) -> CampaignSpec:
    return CampaignSpec(name=name, start_date="2025-01-01", data_version="v1", **kw)


def count(store, table) -> int:
    with store.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def test_open_makes_the_newest_schema_and_it_matches_the_tables(store):
    assert store.revision() == HEAD
    with store.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []  # the migrations build exactly what tables.py declares


def test_head_is_the_newest_migration():
    """A store at HEAD is opened without Alembic: a new migration must move HEAD too."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from analytics.campaigns.store import MIGRATIONS
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD]


def test_a_newer_version_opens_an_older_store_and_keeps_its_campaigns(store_url):
    old = CampaignStore.open(store_url, revision="0001")
    assert old.revision() == "0001" and "snapshots" not in old.tables()
    campaign_id = records.create_campaign(old, spec(), member_frame(50))
    old.close()
    new = CampaignStore.open(store_url)
    assert new.revision() == HEAD and "snapshots" in new.tables()
    assert records.get_campaign(new, campaign_id)["members"] == 50
    assert len(records.campaign_members(new, campaign_id)) == 50
    new.close()


def test_create_records_the_campaign_and_every_member(store):
    frame = member_frame(1000)
    campaign_id = records.create_campaign(store, spec(control_share=0.1, seed=7), frame)
    record = records.get_campaign(store, campaign_id)
    assert (record["members"], record["control"], record["seed"]) == (1000, 100, 7)
    assert record["expected_profit"] == pytest.approx(900 * 12.5)
    back = records.campaign_members(store, campaign_id)
    assert back["customer_id"].tolist() == frame["customer_id"].tolist()
    assert (back["arm"] == "control").sum() == 100
    assert back["churned"].isna().all()  # no outcomes yet
    assert records.enrolled_customers(store, ["C000001", "X"]) == {"C000001"}
    records.set_status(store, campaign_id, "closed")
    assert records.enrolled_customers(store) == set()


@pytest.mark.parametrize("frame, message", [
    (member_frame(0), "no members"),
    (pd.concat([member_frame(3), member_frame(1)]), "listed twice"),
])
def test_a_bad_campaign_is_refused_whole(store, frame, message):
    with pytest.raises(ChurnLensError, match=message):
        records.create_campaign(store, spec(), frame)
    assert count(store, campaigns) == 0 and count(store, members) == 0


def test_an_error_mid_write_leaves_no_half_campaign(store):
    def fail(done, total):
        if done >= 20_000:
            raise RuntimeError("disk full")
    with pytest.raises(RuntimeError):
        records.create_campaign(store, spec(), member_frame(45_000), progress=fail)
    assert count(store, campaigns) == 0 and count(store, members) == 0


def test_a_process_killed_mid_creation_leaves_no_campaign(store_url):
    CampaignStore.open(store_url).close()
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from tests.analytics.campaigns.test_store import member_frame, spec
        from analytics.campaigns import records
        from analytics.campaigns.store import CampaignStore
        store = CampaignStore.open({store_url!r})
        def kill(done, total):
            print(done, flush=True)
            if done >= 40_000:
                os.kill(os.getpid(), signal.SIGKILL)
        records.create_campaign(store, spec(), member_frame(100_000), progress=kill)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == -9, done.stderr
    assert "40000" in done.stdout  # it was killed after writing 40,000 members
    store = CampaignStore.open(store_url)
    assert count(store, campaigns) == 0 and count(store, members) == 0
    assert records.create_campaign(store, spec(), member_frame(10)) >= 1  # still usable
    store.close()


def test_outcomes_file_is_checked_whole_and_reported_by_row(store, tmp_path):
    campaign_id = records.create_campaign(store, spec(), member_frame(20))
    bad = tmp_path / "outcomes.csv"
    bad.write_text("customer_id,accepted,redeemed,churned,date\n"
                   "C000001,yes,P000001,0,2025-03-01\n"
                   "C999999,yes,,1,2025-03-02\n"
                   "C000002,maybe,,0,2025-03-02\n"
                   "C000003,no,,1,not a date\n"
                   "C000001,no,,0,2025-03-01\n")
    with pytest.raises(DataError) as caught:
        oc.import_outcomes(store, campaign_id, bad, name="march.csv")
    text = str(caught.value)
    assert text.startswith("march.csv: nothing was imported")
    assert "row 3: 'C999999'" in text and "not members" in text
    assert "column 'accepted'" in text and "row 4: 'maybe'" in text
    assert "column 'date'" in text and "row 5: 'not a date'" in text
    assert "more than once" in text and "row 6: 'C000001'" in text
    assert str(tmp_path) not in text  # the name the analyst knows, never a server path
    assert records.campaign_members(store, campaign_id)["churned"].isna().all()


def test_good_outcomes_are_written_and_replace_earlier_ones(store, tmp_path):
    campaign_id = records.create_campaign(store, spec(), member_frame(5))
    first = tmp_path / "a.csv"
    first.write_text("Customer ID;Accepted;Promo code;Churned;Date\n"
                     "C000001;yes;p000001;0;2025-03-01\nC000002;no;;1;02/03/2025\n")
    result = oc.import_outcomes(store, campaign_id, first)
    assert (result["rows"], result["churned"]) == (2, 1)
    back = records.campaign_members(store, campaign_id).set_index("customer_id")
    assert back.loc["C000001", "redeemed"] is True or back.loc["C000001", "redeemed"] == 1
    assert back.loc["C000001", "churned"] == 0 and back.loc["C000002", "churned"] == 1
    assert np.isnan(back.loc["C000003", "churned"])
    second = tmp_path / "b.csv"
    second.write_text("customer_id,churned\nC000002,0\n")
    oc.import_outcomes(store, campaign_id, second)
    back = records.campaign_members(store, campaign_id).set_index("customer_id")
    assert back.loc["C000002", "churned"] == 0


def test_a_redeemed_code_that_is_not_the_customers_own_is_refused(store, tmp_path):
    campaign_id = records.create_campaign(store, spec(), member_frame(3))
    path = tmp_path / "codes.csv"
    path.write_text("customer_id,redeemed\nC000001,P000002\n")
    with pytest.raises(DataError, match="not the customer's own.*row 2: 'P000002'"):
        oc.import_outcomes(store, campaign_id, path)


def test_outcomes_from_a_refresh_use_the_window_when_dates_are_known():
    out, missing = oc.outcomes_from_refresh(
        ["a", "b", "c", "d"], ids=["a", "b", "c", "e"], churned=[1, 1, 0, 1],
        end_dates=["2025-01-10", "2025-06-01", None, "2025-01-02"],
        start_date="2025-01-01", horizon_days=90)
    got = dict(zip(out["customer_id"], out["churned"]))
    assert got == {"a": True, "b": False, "c": False}  # b left after the 90-day window
    assert missing == 1  # d is not in the refresh


def test_find_campaign_by_id_or_name_and_a_clear_error(store):
    first = records.create_campaign(store, spec("Spring"), member_frame(3))
    assert records.find_campaign(store, "Spring")["id"] == first
    assert records.find_campaign(store, str(first))["name"] == "Spring"
    with pytest.raises(ChurnLensError, match="no campaign 'Autumn'.*Spring"):
        records.find_campaign(store, "Autumn")


def test_bad_urls_are_reported_plainly(tmp_path):
    with pytest.raises(ChurnLensError, match="not a database URL"):
        CampaignStore.open("not a url")
    with pytest.raises(ChurnLensError, match="cannot open the campaign store"):
        CampaignStore.open("postgresql+psycopg://nobody:secret@127.0.0.1:1/none")


def test_the_default_store_is_beside_the_cache_not_inside(tmp_path):
    url = default_url(tmp_path / ".cache")
    assert url == f"sqlite:///{tmp_path / '.cache.campaigns.db'}"
