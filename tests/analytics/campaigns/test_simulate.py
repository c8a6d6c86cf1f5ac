"""The demo's simulated past campaign: a known uneven effect that the measurement recovers,
and that an uplift model ranks better than risk does."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.campaigns.arms import assign_arms
from analytics.campaigns.demo import seed_demo_campaign
from analytics.campaigns.planner import campaign_report
from analytics.campaigns import records
from analytics.campaigns.simulate import PUT_OFF, kinds_of, simulate_outcomes
from analytics.campaigns.store import CampaignStore
from analytics.campaigns.uplift import compare_rankings
from analytics.demo import generate_demo
from analytics.errors import ChurnLensError


@pytest.fixture(scope="module")
def world():
    customers = generate_demo(20_000, seed=3).set_index("customerID")
    label = (customers["Churn"] == "Yes").astype(int).to_numpy()
    risk = ((customers["Contract"] == "Month-to-month") * 2 - customers["tenure"] / 36)
    order = risk.sort_values(ascending=False, kind="stable").index
    top = order[:7_000].append(order[-3_000:])  # the riskiest, and some long-standing ones
    members = pd.DataFrame({"customer_id": top, "offer": "discount_10",
                            "acceptance": 0.4, "promo_code": [f"P{i}" for i in range(len(top))],
                            "tier": "High", "p0": np.linspace(0.9, 0.3, len(top))})
    members["arm"] = assign_arms(members, 0.3, seed=1)
    return customers, label, members


def test_kinds_follow_the_documented_rules():
    frame = pd.DataFrame({"Contract": ["Month-to-month", "Two year", "One year", "One year",
                                       "Month-to-month"],
                          "tenure": [5, 10, 60, 30, 5],
                          "InternetService": ["DSL", "No", "No", "No", "Fiber optic"]})
    assert kinds_of(frame).tolist() == ["persuadable", "unmoved", "put off", "other",
                                        "other"]


def test_same_seed_same_outcomes_and_control_is_what_was_observed(world):
    customers, label, members = world
    one = simulate_outcomes(members, customers, label, seed=4)
    two = simulate_outcomes(members, customers, label, seed=4)
    pd.testing.assert_frame_equal(one.outcomes, two.outcomes)
    other = simulate_outcomes(members, customers, label, seed=5)
    assert not one.outcomes["churned"].equals(other.outcomes["churned"])
    out = one.outcomes.set_index("customer_id")
    observed = pd.Series(label, index=customers.index)
    control = members.loc[members["arm"] == "control", "customer_id"]
    assert (out.loc[control, "churned"].to_numpy() == observed.loc[control].to_numpy()).all()
    assert out.loc[control, "accepted"].isna().all()


def test_acceptance_is_below_the_assumed_by_the_factor(world):
    customers, label, members = world
    out = simulate_outcomes(members, customers, label, seed=4, acceptance_factor=0.7).outcomes
    treated = out["customer_id"].isin(members.loc[members["arm"] == "treatment",
                                                  "customer_id"])
    rate = out.loc[treated, "accepted"].astype(bool).mean()
    n = int(treated.sum())
    assert abs(rate - 0.28) < 3 * np.sqrt(0.28 * 0.72 / n)


def test_the_difference_in_means_recovers_the_true_effect(world):
    customers, label, members = world
    sim = simulate_outcomes(members, customers, label, seed=4)
    out = sim.outcomes.merge(members[["customer_id", "arm"]], on="customer_id")
    t = out.loc[out["arm"] == "treatment", "churned"]
    c = out.loc[out["arm"] == "control", "churned"]
    measured = c.mean() - t.mean()
    se = np.sqrt(t.var() / len(t) + c.var() / len(c))
    assert sim.true_uplift > 0.015
    assert abs(measured - sim.true_uplift) < 3 * se
    by_kind = out.assign(kind=sim.truth.loc[out["customer_id"], "kind"].to_numpy())
    rates = by_kind.groupby(["kind", "arm"])["churned"].mean()
    assert rates["persuadable", "treatment"] < rates["persuadable", "control"]
    assert rates["put off", "treatment"] > rates["put off", "control"]
    put_off = sim.truth[sim.truth["kind"] == "put off"]
    assert len(put_off) > 50 and (put_off["tau"] <= 0).all() and put_off["tau"].min() == pytest.approx(-PUT_OFF)


def test_data_without_contract_or_tenure_still_works(world):
    customers, label, members = world
    plain = customers[["MonthlyCharges"]]
    sim = simulate_outcomes(members, plain, label, seed=1)
    assert set(sim.kinds) <= {"persuadable", "other"} and sim.true_uplift > 0


@pytest.mark.parametrize("change, message", [
    (lambda m: m.assign(arm=m["arm"].where(m.index > 0, "both")), "'both'"),
    (lambda m: m.assign(customer_id=m["customer_id"].where(m.index > 0, "NOPE")), "'NOPE'"),
])
def test_bad_members_are_refused_by_value(world, change, message):
    customers, label, members = world
    with pytest.raises(ChurnLensError, match=message):
        simulate_outcomes(change(members.reset_index(drop=True)), customers, label)


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    from analytics.offers import load_catalogue
    from analytics.runner import DataSource, load_or_train
    from tests.conftest import ROOT
    folder = tmp_path_factory.mktemp("demo-campaign")
    analysis, _ = load_or_train(DataSource(demo_size=7043), cache_dir=folder / "cache",
                                catalogue=load_catalogue(ROOT / "data" / "offers.toml"))
    store = CampaignStore.open(f"sqlite:///{folder / 's.db'}")
    done = seed_demo_campaign(store, analysis, "demo-v1")
    yield analysis, store, done
    store.close()


def test_the_demo_campaign_is_recorded_once_and_its_interval_holds_the_truth(demo_store):
    analysis, store, done = demo_store
    assert seed_demo_campaign(store, analysis, "demo-v1") is None  # once per data version
    report = campaign_report(store, done["campaign_id"])
    effect = report["effect"]
    assert report["outcomes"] == done["members"] == report["arms"]["treatment"] + \
        report["arms"]["control"]
    assert effect["low"] <= done["true_uplift"] <= effect["high"]
    assert effect["significant"] and effect["uplift"] > 0
    measured, assumed = (report["acceptance"]["acceptance_measured"],
                         report["acceptance"]["acceptance_assumed"])
    assert measured < assumed  # fewer accepted than the catalogue assumed


def test_uplift_ranking_beats_risk_ranking_on_the_demo_campaign(demo_store):
    analysis, store, done = demo_store
    frame = records.campaign_members(store, done["campaign_id"])
    customers = analysis.customers
    rows = pd.Index(customers["customer_id"].astype(str)).get_indexer(frame["customer_id"])
    X = customers.iloc[rows][analysis.features].reset_index(drop=True)
    study = compare_rankings(X, (frame["arm"] == "treatment").to_numpy().astype(int),
                             1 - frame["churned"].to_numpy().astype(int),
                             frame["p0"].to_numpy())
    assert study["better"] == "uplift"
    assert study["uplift"]["qini_coefficient"] > study["risk"]["qini_coefficient"]
