"""From a selection to a recorded campaign: targets, the stratified seeded control group,
enrolment rules, snapshots and risers, measured acceptance back into the catalogue."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.campaigns import catalogue as measured
from analytics.campaigns import planner, records, snapshots
from analytics.campaigns.arms import assign_arms, build_members, check_share
from analytics.campaigns.effect import min_detectable_effect
from analytics.campaigns.store import CampaignStore
from analytics.dataset import ACTIVE, ID
from analytics.errors import ChurnLensError
from analytics.pipeline import PROBABILITY, TIER
from analytics.recommend import PROFIT


@pytest.fixture
def sqlite_store(tmp_path):
    store = CampaignStore.open(f"sqlite:///{tmp_path / 's.db'}")
    yield store
    store.close()


def spec(name="Test", version="v1"):
    return records.CampaignSpec(name=name, start_date="2025-01-01", data_version=version)


def test_control_share_is_exact_overall_and_within_one_per_stratum():
    tiers = np.repeat(["High", "Medium", "Low"], [503, 298, 9])
    offers = np.tile(["a", "b"], 405)
    members = pd.DataFrame({"tier": tiers, "offer": offers})
    arms = assign_arms(members, 0.2, seed=11)
    held = arms == "control"
    assert abs(held.sum() - 0.2 * len(members)) <= 1  # 162 of 810
    for (tier, offer), rows in members.groupby(["tier", "offer"]).groups.items():
        n = len(rows)
        assert abs(held[rows].sum() - 0.2 * n) <= 1, (tier, offer)
    assert (assign_arms(members, 0.2, seed=11) == arms).all()      # reproducible
    assert (assign_arms(members, 0.2, seed=12) != arms).any()      # another seed, another split


@pytest.mark.parametrize("share", [0, 0.6, "x"])
def test_a_control_share_that_cannot_measure_is_refused(share):
    with pytest.raises(ChurnLensError, match="control share"):
        check_share(share)


def test_targets_are_active_positive_profit_best_first(small_analysis):
    a = small_analysis
    rows = planner.target_rows(a, np.ones(len(a.customers), bool))
    profit = a.recommendations[PROFIT].to_numpy(dtype=float)
    active = a.customers[ACTIVE].to_numpy(bool)
    assert len(rows) == int((active & (profit > 0)).sum())
    assert active[rows].all() and (np.diff(profit[rows]) <= 0).all()
    top = planner.target_rows(a, np.ones(len(a.customers), bool), capacity=25)
    assert top.tolist() == rows[:25].tolist()
    by_risk = planner.target_rows(a, np.ones(len(a.customers), bool), by="risk")
    assert set(a.customers[TIER].astype(str).to_numpy()[by_risk]) == {"High"}


def test_members_carry_what_the_campaign_assumed(small_analysis):
    a = small_analysis
    rows = planner.target_rows(a, np.ones(len(a.customers), bool))[:40]
    m = build_members(a, rows)
    assert m["customer_id"].tolist() == a.customers[ID].astype(str).to_numpy()[rows].tolist()
    assert np.allclose(m["p0"], a.customers[PROBABILITY].to_numpy()[rows])
    assert np.allclose(m["expected_profit"], a.recommendations[PROFIT].to_numpy()[rows])
    rates = {o.id: o.acceptance for o in a.catalogue.offers}
    assert np.allclose(m["acceptance"], [rates[o] for o in m["offer"]])
    assert (m["p1"] < m["p0"]).all()  # every offer worth making lowers the risk


def test_plan_prices_the_detectable_effect_and_skips_the_enrolled(small_analysis,
                                                                     sqlite_store):
    a = small_analysis
    rows = planner.target_rows(a, np.ones(len(a.customers), bool))
    first = planner.plan(a, rows[:60], 0.25, seed=3, store=sqlite_store)
    summary = first.summary()
    assert (summary["members"], summary["control"]) == (60, 15)
    assert summary["mde"] == pytest.approx(min_detectable_effect(
        45, 15, float(first.members["p0"].mean())))
    campaign_id = planner.create(sqlite_store, first, spec())
    record = records.get_campaign(sqlite_store, campaign_id)
    assert record["seed"] == 3 and record["control_share"] == 0.25
    assert record["mde"] == pytest.approx(summary["mde"])
    again = planner.plan(a, rows[:100], 0.25, seed=3, store=sqlite_store)
    assert again.excluded == 60 and len(again.members) == 40
    everyone = planner.plan(a, rows[:100], 0.25, seed=3, store=sqlite_store,
                            include_enrolled=True)
    assert everyone.excluded == 0 and len(everyone.members) == 100


def test_snapshots_find_risers_and_drift(small_analysis, sqlite_store):
    a = small_analysis
    sid1, new = snapshots.take_snapshot(sqlite_store, a, "v1")
    assert new and snapshots.take_snapshot(sqlite_store, a, "v1") == (sid1, False)
    before = snapshots.snapshot_scores(sqlite_store, sid1)
    assert np.allclose(before["probability"], a.customers[PROBABILITY], atol=1e-6)
    after = before.copy()
    after.iloc[0, 0] = min(before.iloc[0, 0] + 0.15, 1.0)   # +15 points
    after.iloc[1, 0] = before.iloc[1, 0] + 0.05             # +5: not a riser at 10
    low = np.flatnonzero(before["tier"].to_numpy() == 0)[0]
    after.iloc[low, 1] = 2                                  # crossed into High
    found = snapshots.risers(before, after, 0.10)
    ids = set(found["customer_id"])
    assert before.index[0] in ids and before.index[low] in ids
    assert before.index[1] not in ids
    assert found["crossed_into_high"].sum() >= 1
    listed = snapshots.list_snapshots(sqlite_store)
    assert listed[0]["summary"]["customers"] == len(a.customers)
    assert sum(listed[0]["summary"]["tiers"].values()) == int(a.customers[ACTIVE].sum())
    sid2, _ = snapshots.take_snapshot(sqlite_store, a, "v2")
    drift = snapshots.snapshot_drift(sqlite_store, sid1, sid2)
    assert drift and all(row["psi"] < 0.01 for row in drift)  # the same data: no drift


def test_measured_acceptance_replaces_the_assumed_and_is_recorded(small_analysis,
                                                                   sqlite_store):
    catalogue = small_analysis.catalogue
    first = catalogue.offers[0]
    measured_rows = [{"offer": first.id, "acceptance_measured": 0.123, "accepted_known": 200,
                      "acceptance_low": 0.08, "acceptance_high": 0.17},
                     {"offer": "not-an-offer", "acceptance_measured": 0.5, "accepted_known": 9}]
    changes = measured.record_acceptance(sqlite_store, catalogue, measured_rows, campaign_id=7)
    assert [(c["offer"], c["old"], c["new"]) for c in changes] == [
        (first.id, first.acceptance, 0.123)]
    updated = measured.apply_overrides(catalogue, measured.overrides(sqlite_store))
    assert updated.get(first.id).acceptance == 0.123
    assert [o.acceptance for o in updated.offers[1:]] == [o.acceptance
                                                          for o in catalogue.offers[1:]]
    assert measured.history(sqlite_store)[0]["evidence"]["campaign"] == 7
    with pytest.raises(ChurnLensError, match="no offer"):
        measured.record_acceptance(sqlite_store, catalogue, [], campaign_id=7)


def test_snapshots_of_other_customers_are_told_apart():
    ids = np.array([f"C{i:05d}" for i in range(20_000)], dtype=object)
    same = {"id_sample": snapshots.id_sample(ids)}
    grown = {"id_sample": snapshots.id_sample(np.concatenate([ids[2_000:],
                                                              ids[:1_000] + "-new"]))}
    other = {"id_sample": snapshots.id_sample(np.array([f"X{i}" for i in range(20_000)],
                                                       dtype=object))}
    assert snapshots.same_customers(same, same)
    assert snapshots.same_customers(same, grown)      # 90% of them still there
    assert not snapshots.same_customers(same, other)  # another dataset
    assert snapshots.same_customers(same, {})         # no sketch: cannot tell, keep it
