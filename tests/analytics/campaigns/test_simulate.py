"""The demo's simulated past campaign: a known uneven effect that the measurement recovers,
and that an uplift model ranks better than risk does."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.campaigns import records
from analytics.campaigns.demo import seed_demo_campaign
from analytics.campaigns.planner import campaign_report
from analytics.campaigns.simulate import (PUT_OFF, demo_campaign_spec, kinds_of,
                                          simulate_outcomes)
from analytics.campaigns.store import CampaignStore
from analytics.campaigns.uplift import compare_rankings
from analytics.demo import generate_demo
from analytics.errors import ChurnLensError

# offer, assumed acceptance, has a promo code: cycled over the members
OFFERS = [("discount_20", 0.40, True), ("support_bundle", 0.35, False), ("none", np.nan, False)]


@pytest.fixture(scope="module")
def world():
    """20,000 demo customers; members = the riskier half by a proxy (month-to-month, short
    tenure), a seeded 80/20 split, offers cycled over OFFERS."""
    customers = generate_demo(20_000, seed=3).set_index("customerID")
    label = (customers["Churn"] == "Yes").astype(int).to_numpy()
    risk = (customers["Contract"] == "Month-to-month") + (1 - customers["tenure"] / 72)
    top = risk.sort_values(ascending=False, kind="stable").index[:10_000]
    n = len(top)
    rng = np.random.default_rng(7)
    arm = np.where(rng.permutation(n) < n // 5, "control", "treatment")
    which = np.arange(n) % len(OFFERS)
    members = pd.DataFrame({
        "customer_id": top, "arm": arm,
        "offer": [OFFERS[i][0] for i in which],
        "acceptance": [OFFERS[i][1] for i in which],
        "promo_code": [f"W{k:05d}" if OFFERS[i][2] else "" for k, i in enumerate(which)]})
    return customers, label, members


def _arms(sim, members):
    return sim.outcomes.assign(arm=members["arm"].to_numpy(),
                               kind=sim.truth["kind"].to_numpy(),
                               offer=members["offer"].to_numpy())


def test_kinds_follow_the_documented_rules():
    frame = pd.DataFrame({
        "Contract": ["Month-to-month", "Month-to-month", "Month-to-month", "Month-to-month",
                     "Two year", "One year", "One year", "Two year", "Month-to-month"],
        "tenure": [5, 23, 24, 50, 3, 30, 60, 60, 5],
        "InternetService": ["DSL", "No", "DSL", "DSL", "DSL", "Fiber optic", "No", "No",
                            "Fiber optic"],
        "PaperlessBilling": ["Yes", "Yes", "Yes", "Yes", "Yes", "Yes", "No", "No", "No"]})
    assert kinds_of(frame).tolist() == [
        "persuadable", "persuadable", "other", "unmoved", "unmoved", "other", "put off",
        "put off", "other"]
    # without PaperlessBilling every phone-only customer is put off; without InternetService
    # nobody is, and fiber no longer keeps a customer out of the persuadable
    assert kinds_of(frame.drop(columns="PaperlessBilling"))[1] == "put off"
    assert kinds_of(frame.drop(columns="InternetService")).tolist()[-3:] == [
        "unmoved", "unmoved", "persuadable"]


def test_truth_is_the_expected_reduction_with_the_documented_numbers():
    customers = pd.DataFrame({
        "Contract": ["Month-to-month", "Month-to-month", "One year", "One year",
                     "Month-to-month", "Two year"],
        "tenure": [5, 5, 60, 60, 30, 70],
        "InternetService": ["DSL", "DSL", "No", "No", "Fiber optic", "DSL"],
        "PaperlessBilling": ["Yes", "Yes", "No", "No", "Yes", "Yes"]},
        index=pd.Index(["a", "b", "c", "d", "e", "f"], name="customerID"))
    churned = np.array([1, 0, 0, 1, 1, 1])
    members = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "e", "f"],
                            "arm": ["treatment", "control", "control", "treatment",
                                    "treatment", "control"],
                            "offer": ["x", "x", "x", "x", "none", "x"],
                            "acceptance": [0.5, 0.5, 0.5, 0.5, np.nan, 0.5],
                            "promo_code": ["A1", "", "", "", "", ""]})
    sim = simulate_outcomes(members, customers, churned, acceptance_factor=1.0)
    truth = sim.truth
    assert truth["kind"].tolist() == ["persuadable", "persuadable", "put off", "put off",
                                      "other", "unmoved"]
    # a persuadable churner accepting with 0.5: 0.5 x 0.35 + 0.5 x 0.60; a stayer: 0;
    # a put-off stayer: -0.15 (control members too: what treating them would do);
    # a put-off churner: 0; an "other" churner without an offer: the call only, 0.12
    assert truth["tau"].tolist() == pytest.approx([0.475, 0.0, -0.15, 0.0, 0.12, 0.0])
    assert sim.true_uplift == pytest.approx((0.475 - 0.15 + 0.12) / 6)
    assert sim.kinds == {"persuadable": 2, "unmoved": 1, "put off": 2, "other": 1}
    assert truth.index.name == "customer_id" and truth.index.tolist() == list("abcdef")


def test_same_seed_same_outcomes_and_control_is_what_was_observed(world):
    customers, label, members = world
    one = simulate_outcomes(members, customers, label, seed=4)
    two = simulate_outcomes(members, customers, label, seed=4)
    pd.testing.assert_frame_equal(one.outcomes, two.outcomes)
    pd.testing.assert_frame_equal(one.truth, two.truth)
    other = simulate_outcomes(members, customers, label, seed=5)
    assert not one.outcomes["churned"].equals(other.outcomes["churned"])
    out = _arms(one, members)
    assert out["customer_id"].tolist() == members["customer_id"].tolist()
    observed = pd.Series(label, index=customers.index).loc[out["customer_id"]].to_numpy()
    control = (out["arm"] == "control").to_numpy()
    assert (out.loc[control, "churned"].to_numpy() == observed[control]).all()
    assert out.loc[control, "accepted"].isna().all() and out.loc[control, "redeemed"].isna().all()
    assert (out.loc[control, "promo_code"] == "").all()
    # treated members' outcomes do differ from what was observed (the effect is real)
    assert (out.loc[~control, "churned"].to_numpy() != observed[~control]).sum() > 200


def test_acceptance_is_the_assumed_times_the_factor_and_accepters_redeem(world):
    customers, label, members = world
    out = _arms(simulate_outcomes(members, customers, label, seed=4, acceptance_factor=0.7,
                                  redemption_share=0.8), members)
    treated = out[out["arm"] == "treatment"]
    for offer, assumed, _ in OFFERS[:2]:
        rows = treated[treated["offer"] == offer]
        rate, p = rows["accepted"].astype(bool).mean(), assumed * 0.7
        assert abs(rate - p) < 3 * np.sqrt(p * (1 - p) / len(rows))
    assert treated.loc[treated["offer"] == "none", "accepted"].isna().all()  # nothing offered
    coded = treated[treated["offer"] == "discount_20"]
    accepters = coded[coded["accepted"].astype(bool)]
    share = accepters["redeemed"].astype(bool).mean()
    assert abs(share - 0.8) < 3 * np.sqrt(0.8 * 0.2 / len(accepters))
    assert not coded.loc[~coded["accepted"].astype(bool), "redeemed"].astype(bool).any()
    no_code = treated[treated["offer"] == "support_bundle"]
    assert no_code["redeemed"].isna().all()  # offered, but no code: nothing to redeem
    codes = members.set_index("customer_id")["promo_code"]
    redeemed = out[out["redeemed"].eq(True)]
    assert (redeemed["promo_code"].to_numpy() == codes.loc[redeemed["customer_id"]]).all()
    assert (out.loc[~out["redeemed"].eq(True), "promo_code"] == "").all()


def test_the_difference_in_means_recovers_the_true_effect(world):
    customers, label, members = world
    sim = simulate_outcomes(members, customers, label, seed=4)
    out = _arms(sim, members)
    t = out.loc[out["arm"] == "treatment", "churned"]
    c = out.loc[out["arm"] == "control", "churned"]
    measured = c.mean() - t.mean()
    se = np.sqrt(t.var() / len(t) + c.var() / len(c))
    assert 0.03 < sim.true_uplift < 0.09  # a few points on a high-risk list
    assert sim.true_uplift == pytest.approx(sim.truth["tau"].mean())
    assert abs(measured - sim.true_uplift) < 3 * se
    assert measured > 2 * se  # detectable with a few thousand members
    rates = out.groupby(["kind", "arm"])["churned"].mean()
    assert rates["persuadable", "treatment"] < rates["persuadable", "control"] - 0.05
    assert rates["put off", "treatment"] > rates["put off", "control"] + 0.05
    assert 0.02 < sim.kinds["put off"] / len(members) < 0.15
    put_off = sim.truth[sim.truth["kind"] == "put off"]
    assert put_off["tau"].min() == pytest.approx(-PUT_OFF) and (put_off["tau"] <= 0).all()


def test_dates_fall_in_the_horizon_for_churners_and_at_its_end_for_stayers(world):
    customers, label, members = world
    out = simulate_outcomes(members, customers, label, seed=2, campaign_date="2024-03-01",
                            horizon_days=30).outcomes
    dates = pd.to_datetime(out["date"], format="%Y-%m-%d")
    stayed = out["churned"] == 0
    assert (dates[stayed] == pd.Timestamp("2024-03-31")).all()
    assert dates[~stayed].between(pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-30")).all()
    assert dates[~stayed].nunique() == 30
    assert out["outcome_date"].equals(out["date"])  # the name the outcomes store uses
    default = simulate_outcomes(members.head(50), customers, label, horizon_days=90).outcomes
    assert set(default.loc[default["churned"] == 0, "date"]) == {"2024-03-31"}  # 2024-01-01+90


def test_data_without_contract_or_tenure_uses_p0(world):
    customers, label, members = world
    plain = customers[["MonthlyCharges"]]
    p0 = np.linspace(0.9, 0.1, len(members))
    sim = simulate_outcomes(members.assign(p0=p0), plain, label, seed=1)
    kinds = sim.truth["kind"].to_numpy()
    assert (kinds[:3000] == "other").all() and (kinds[-3000:] == "unmoved").all()
    assert (kinds[3400:6600] == "persuadable").all()
    assert sim.true_uplift > 0 and "put off" not in sim.kinds
    # p0 may come with the customers instead
    with_p0 = plain.assign(p0=pd.Series(p0, index=members["customer_id"]))
    again = simulate_outcomes(members, with_p0.fillna(0.0), label, seed=1)
    assert (again.truth["kind"].to_numpy() == kinds).all()
    with pytest.raises(ChurnLensError, match="Contract and tenure"):
        simulate_outcomes(members, plain, label)


@pytest.mark.parametrize("change, message", [
    (lambda m, l: (m.assign(arm=m["arm"].where(m.index > 0, "both")), l), "'both'"),
    (lambda m, l: (m.assign(customer_id=m["customer_id"].where(m.index > 0, "NOPE")), l),
     "'NOPE'"),
    (lambda m, l: (pd.concat([m, m.head(1)], ignore_index=True), l), "appears twice"),
    (lambda m, l: (m.assign(acceptance=m["acceptance"].where(m.index > 0, 1.5)), l), "1.5"),
    (lambda m, l: (m, l[:-1]), "one label per customer"),
    (lambda m, l: (m, np.where(np.arange(len(l)) == 5, 2, l)), "got 2"),
])
def test_bad_input_is_refused_by_value(world, change, message):
    customers, label, members = world
    bad_members, bad_label = change(members.reset_index(drop=True), label)
    with pytest.raises(ChurnLensError, match=message):
        simulate_outcomes(bad_members, customers, bad_label)


@pytest.mark.parametrize("setting, message", [
    ({"campaign_date": "soon"}, "'soon'"), ({"horizon_days": 0}, "horizon_days"),
    ({"redemption_share": 1.2}, "redemption_share"), ({"acceptance_factor": -1}, "-1")])
def test_bad_settings_are_refused(world, setting, message):
    customers, label, members = world
    with pytest.raises(ChurnLensError, match=message):
        simulate_outcomes(members.head(10), customers, label, **setting)


def test_demo_spec_says_it_is_simulated_and_holds_out_a_fifth():
    spec = demo_campaign_spec()
    assert spec["name"] == "Winter save-desk call (simulated)"
    assert "Simulated on the demo data" in spec["description"]
    assert spec["control_share"] == 0.2


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    from analytics.offers import load_catalogue
    from analytics.runner import DataSource, load_or_train
    from tests.conftest import ROOT
    folder = tmp_path_factory.mktemp("demo-campaign")
    # The default demo (with behaviour, what `make run` serves). On the plain demo the uplift
    # model's edge is within the noise of ~700 held-out customers (it has gone either way as
    # the churn model changed), so nothing is claimed there.
    analysis, _ = load_or_train(DataSource(demo_size=7043, demo_events=True),
                                cache_dir=folder / "cache",
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
    assert set(done["kinds"]) == {"persuadable", "unmoved", "put off", "other"}
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
