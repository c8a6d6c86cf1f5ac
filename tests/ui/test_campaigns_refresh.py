"""A later refresh of the same customers fills in running campaigns' outcomes and leaves a
new risk snapshot; going back to the data the campaign was made on changes nothing."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.campaigns import records
from analytics.demo import generate_demo
from analytics.runner import DataSource, load_or_train
from dashboard.services import Services
from dashboard.settings import Settings


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("refresh")
    first = generate_demo(1200, seed=5)
    later = first.copy()
    flip = np.random.default_rng(1).random(len(later)) < 0.15  # some stayers left since
    later.loc[flip & (later["Churn"] == "No"), "Churn"] = "Yes"
    paths = folder / "january.csv", folder / "april.csv"
    first.to_csv(paths[0], index=False)
    later.to_csv(paths[1], index=False)
    return folder, paths, later.set_index("customerID")["Churn"].eq("Yes")


def test_a_later_refresh_brings_the_outcomes_back(files):
    folder, (january, april), later_churn = files
    settings = Settings(data_path=str(january), cache_dir=str(folder / "cache"),
                        db_url=f"sqlite:///{folder / 'store.db'}")
    svc = Services(settings).start(progress=lambda m: None)
    made = svc.campaigns.create("January desk", {}, 150, 0.2, 3, False)
    assert made["error"] is None and made["members"] == 150
    assert svc.campaigns.report(made["id"])["outcomes"] == 0
    load_or_train(DataSource(path=str(april)), svc.analysis_settings(),
                  cache_dir=settings.cache_dir, catalogue=svc.catalogue)
    assert svc.switch(DataSource(path=str(april))) is None
    members = records.campaign_members(svc.campaigns.store(), made["id"])
    assert members["churned"].notna().all()
    expected = later_churn.loc[members["customer_id"]].to_numpy().astype(float)
    assert (members["churned"].to_numpy() == expected).all()
    assert len(svc.trends.history()["snapshots"]) == 2
    assert svc.trends.risers(0.0)["available"]
    # back to January: the outcomes stay April's
    assert svc.switch(DataSource(path=str(january))) is None
    again = records.campaign_members(svc.campaigns.store(), made["id"])
    assert (again["churned"].to_numpy() == expected).all()
