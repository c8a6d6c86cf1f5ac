"""Measured campaign effect: every expected value below is computed by hand in a comment."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from analytics.campaigns.effect import (ARMS, acceptance_summary, effect_by, min_detectable_effect,
                                        profit_summary, report, risk_deciles, two_proportions,
                                        wilson)
from analytics.errors import ChurnLensError

Z = 1.959963985  # z_{0.975}
nan = np.nan


def test_arms():
    assert ARMS == ("treatment", "control")


def test_wilson_by_hand():
    # 30/200, z^2 = 3.841459: denom = 1 + 3.841459/200 = 1.019207
    # centre = (0.15 + 3.841459/400) / 1.019207 = 0.159604 / 1.019207 = 0.156596
    # half = 1.959964 * sqrt(0.15*0.85/200 + 3.841459/160000) / 1.019207
    #      = 1.959964 * sqrt(0.000661509) / 1.019207 = 0.049460
    low, high = wilson(30, 200)
    assert low == pytest.approx(0.107136, abs=1e-6)
    assert high == pytest.approx(0.206056, abs=1e-6)
    # 0/10: centre = (0 + 3.841459/20) / 1.384146 = 0.138767 = half (the low end is 0)
    assert wilson(0, 10) == pytest.approx((0.0, 0.277533), abs=1e-6)
    assert wilson(0, 0) == (None, None)


def test_two_proportions_newcombe_by_hand():
    # treated 30/200 = 0.15, control 50/200 = 0.25, uplift = 0.25 - 0.15 = 0.10.
    # Wilson treated (0.107136, 0.206056) (test above); Wilson control 50/200:
    #   centre = (0.25 + 0.009604) / 1.019207 = 0.254711,
    #   half = 1.959964 * sqrt(0.25*0.75/200 + 0.000024009) / 1.019207 = 0.059630
    #   -> (0.195082, 0.314341)
    # Newcombe 10 for d = p_c - p_t:
    #   low  = 0.10 - sqrt((0.25 - 0.195082)^2 + (0.206056 - 0.15)^2)
    #        = 0.10 - sqrt(0.0030160 + 0.0031423) = 0.10 - 0.078475 = 0.021525
    #   high = 0.10 + sqrt((0.314341 - 0.25)^2 + (0.15 - 0.107136)^2)
    #        = 0.10 + sqrt(0.0041398 + 0.0018373) = 0.10 + 0.077312 = 0.177312
    # z-test: pooled 80/400 = 0.2, se = sqrt(0.2*0.8*(2/200)) = 0.04, z = 0.10/0.04 = 2.5,
    #   p = 2 * (1 - Phi(2.5)) = 2 * 0.0062097 = 0.0124193. Expected cells >= 40: no Fisher.
    r = two_proportions(30, 200, 50, 200)
    assert r["n_treatment"] == 200 and r["n_control"] == 200
    assert r["churn_treatment"] == pytest.approx(0.15)
    assert r["churn_control"] == pytest.approx(0.25)
    assert r["uplift"] == pytest.approx(0.10)
    assert r["low"] == pytest.approx(0.021525, abs=2e-6)
    assert r["high"] == pytest.approx(0.177312, abs=2e-6)
    assert r["p_value"] == pytest.approx(0.0124193, abs=1e-6)
    assert r["test"] == "z-test"
    assert r["significant"] is True and r["enough"] is True
    assert r["verdict"] == "The campaign cut churn by 10.0 points (95% CI 2.2 to 17.7; p = 0.012)."


def test_newcombe_published_example():
    # Newcombe (1998), table II example (a): 56/70 - 48/80, method 10 -> 0.0524 to 0.3339.
    r = two_proportions(48, 80, 56, 70)
    assert r["uplift"] == pytest.approx(0.2)
    assert (round(r["low"], 4), round(r["high"], 4)) == (0.0524, 0.3339)


def test_campaign_that_raised_churn():
    # the mirror image of the hand example: uplift -0.10, interval (-0.177312, -0.021525)
    r = two_proportions(50, 200, 30, 200)
    assert r["uplift"] == pytest.approx(-0.10)
    assert r["low"] == pytest.approx(-0.177312, abs=2e-6)
    assert r["high"] == pytest.approx(-0.021525, abs=2e-6)
    assert r["verdict"].startswith("The campaign raised churn by 10.0 points (95% CI -17.7 to -2.2")


def test_fisher_fallback_by_hand():
    # treated 1/10, control 6/10: 7 churners, expected churners per arm 10*7/20 = 3.5 < 5.
    # Hypergeometric N=20, K=7, n=10 (treated churners x): C(7,x) C(13,10-x) / C(20,10)
    #   x:      0    1     2      3      4      5     6    7     (total 184756 = C(20,10))
    #   count: 286 5005 27027 60060 60060 27027 5005 286
    # two-sided p = tables no likelier than x=1: (286 + 5005 + 5005 + 286) / 184756 = 0.057276
    r = two_proportions(1, 10, 6, 10)
    assert r["test"] == "Fisher's exact"
    assert r["p_value"] == pytest.approx(10582 / 184756, rel=1e-9)
    assert r["significant"] is False
    assert r["enough"] is False
    assert r["verdict"].startswith("Too few members to tell (10 treated, 10 held out")


def test_rates_of_zero_and_one_stay_valid():
    # 0/10 vs 0/10: d = 0, Wilson(0/10) = (0, 0.277533): interval (-0.277533, 0.277533);
    # no churner at all -> an expected cell of 0 -> Fisher, p = 1
    r = two_proportions(0, 10, 0, 10)
    assert r["uplift"] == 0.0
    assert (r["low"], r["high"]) == pytest.approx((-0.277533, 0.277533), abs=1e-6)
    assert r["test"] == "Fisher's exact" and r["p_value"] == pytest.approx(1.0)
    # 10/10 vs 0/10: d = -1, low = -1 - sqrt(0 + 0) = -1; high = -1 + sqrt(0.277533^2 * 2)
    r = two_proportions(10, 10, 0, 10)
    assert r["low"] == pytest.approx(-1.0)
    assert r["high"] == pytest.approx(-1 + 0.277533 * math.sqrt(2), abs=1e-6)


def test_no_measurable_effect_verdict():
    # 12/40 vs 13/40: d = 0.025, pooled 25/80, z = 0.025/sqrt(0.3125*0.6875*0.05) = 0.24121,
    # p = 2 * (1 - Phi(0.24121)) = 0.80939
    r = two_proportions(12, 40, 13, 40)
    assert r["p_value"] == pytest.approx(0.80939, abs=1e-4)
    assert r["significant"] is False
    assert r["low"] < 0 < r["high"]
    assert r["verdict"].startswith("No measurable effect: churn 30.0% treated vs 32.5% held out")
    assert r["verdict"].endswith("the interval includes zero.")


def test_empty_arm_is_graceful():
    r = two_proportions(0, 0, 3, 5)
    assert r["churn_treatment"] is None and r["churn_control"] == pytest.approx(0.6)
    assert r["uplift"] is None and r["low"] is None and r["p_value"] is None
    assert r["significant"] is False and r["enough"] is False
    assert "no treated members" in r["verdict"]
    assert "no treated and held-out" in two_proportions(0, 0, 0, 0)["verdict"]


@pytest.mark.parametrize("args", [(5, 4, 1, 10), (-1, 10, 1, 10), (1.5, 10, 1, 10)])
def test_bad_counts_raise(args):
    with pytest.raises(ChurnLensError):
        two_proportions(*args)


def test_bad_level_raises():
    with pytest.raises(ChurnLensError, match="level"):
        two_proportions(1, 10, 2, 10, level=1.5)


def test_min_detectable_effect_by_hand():
    # (1.959964 + 0.841621) * sqrt(0.3 * 0.7 * (1/1000 + 1/1000)) = 2.801585 * 0.0204939
    #   = 0.057415
    assert min_detectable_effect(1000, 1000, 0.3) == pytest.approx(0.057415, abs=1e-6)
    # unequal arms, 2.801585 * sqrt(0.2 * 0.8 * (1/900 + 1/100)) = 2.801585 * 0.0421637 = 0.118125
    assert min_detectable_effect(900, 100, 0.2) == pytest.approx(0.118125, abs=1e-6)
    assert min_detectable_effect(0, 100, 0.2) is None
    assert min_detectable_effect(100, 100, 0.0) is None
    assert min_detectable_effect(100, 100, 1.0) is None
    assert min_detectable_effect(100, 100, None) is None
    with pytest.raises(ChurnLensError):
        min_detectable_effect(100, 100, 1.2)
    with pytest.raises(ChurnLensError):
        min_detectable_effect(100, 100, 0.3, power=1.0)


def _grouped() -> pd.DataFrame:
    plan = pd.Categorical(["one"] * 7 + ["two"] * 4 + [nan] * 2,
                          categories=["two", "one", "month"])
    return pd.DataFrame({
        "plan": plan,
        "arm": ["treatment"] * 5 + ["control"] * 2 + ["treatment"] * 2 + ["control"] * 2
        + ["treatment", "control"],
        "churned": [1, 0, 0, 0, nan, 1, 1] + [0, 0, 1, 0] + [1, 0]})


def test_effect_by_groups_by_hand():
    # one: treated 1/4 (the fifth has no outcome yet), control 2/2 -> uplift 1 - 0.25 = 0.75;
    #   Fisher (N=6, K=3 churners, n=4 treated): counts C(3,x) C(3,4-x) for x = 1,2,3 are
    #   3, 9, 3 of 15 -> p = (3 + 3) / 15 = 0.4
    # two: treated 0/2, control 1/2 -> uplift 0.5
    # (missing): treated 1/1, control 0/1 -> uplift -1
    # "month" has no member: no row. Order follows the categories, missing last.
    out = effect_by(_grouped(), "plan")
    assert list(out["group"]) == ["two", "one", "(missing)"]
    assert list(out.columns) == ["group", "n_treatment", "n_control", "churn_treatment",
                                 "churn_control", "uplift", "low", "high", "p_value", "enough"]
    one = out.set_index("group").loc["one"]
    assert (one["n_treatment"], one["n_control"]) == (4, 2)
    assert one["churn_treatment"] == pytest.approx(0.25)
    assert one["churn_control"] == pytest.approx(1.0)
    assert one["uplift"] == pytest.approx(0.75)
    assert one["p_value"] == pytest.approx(0.4)
    assert not one["enough"]
    assert list(out["uplift"]) == pytest.approx([0.5, 0.75, -1.0])
    # the interval is the overall two_proportions interval of the same counts
    assert one["low"] == pytest.approx(two_proportions(1, 4, 2, 2)["low"])


def test_effect_by_min_size_and_errors():
    # members with an outcome: two 4, one 6, (missing) 2 -> min_size 4 keeps two and one
    assert list(effect_by(_grouped(), "plan", min_size=4)["group"]) == ["two", "one"]
    with pytest.raises(ChurnLensError, match="plan_x"):
        effect_by(_grouped(), "plan_x")
    bad = _grouped().assign(arm=["treated"] + ["control"] * 12)
    with pytest.raises(ChurnLensError, match="arm"):
        effect_by(bad, "plan")
    bad = _grouped().assign(churned=[2] + [0] * 12)
    with pytest.raises(ChurnLensError, match="churned"):
        effect_by(bad, "plan")


def test_risk_deciles_with_ties():
    # descending average ranks: 0.9 -> 1; 0.8, 0.8 -> 2.5; 0.7 -> 4; 0.6 -> 5;
    # 0.5 x3 -> 7; 0.2 -> 9; 0.1 -> 10. position = rank - 1, group = floor(position * 5/10) + 1:
    # 0 -> 1; 1.5 -> 1; 3 -> 2; 4 -> 3; 6 -> 4; 8 -> 5; 9 -> 5
    p0 = np.array([0.9, 0.8, 0.8, 0.7, 0.6, 0.5, 0.5, 0.5, 0.2, 0.1])
    assert risk_deciles(p0, q=5).tolist() == [1, 1, 1, 2, 3, 4, 4, 4, 5, 5]
    rng = np.random.default_rng(3)
    order = rng.permutation(10)
    assert risk_deciles(p0[order], q=5).tolist() == risk_deciles(p0, q=5)[order].tolist()
    # no ties, 20 rows, 10 groups: two per group, highest first
    assert risk_deciles(np.linspace(1, 0, 20)).tolist() == [g for g in range(1, 11) for _ in (0, 1)]
    # all equal (qcut fails on duplicate edges): one shared group, position 9.5 of 20 -> 5
    assert set(risk_deciles(np.full(20, 0.3)).tolist()) == {5}
    with pytest.raises(ChurnLensError):
        risk_deciles(np.array([0.1, nan]))


def _members() -> pd.DataFrame:
    """Four treated (offers A, A, B, B) and two held out, all with an outcome."""
    return pd.DataFrame({
        "customer_id": ["c1", "c2", "c3", "c4", "c5", "c6"],
        "arm": ["treatment"] * 4 + ["control"] * 2,
        "offer": ["A", "A", "B", "B", "A", "B"],
        "p0": [0.6, 0.5, 0.4, 0.3, 0.6, 0.4],
        "p1": [0.4, 0.3, 0.3, 0.2, 0.4, 0.3],
        "expected_profit": [10.0, 5.0, -2.0, 1.0, 10.0, -2.0],
        "clv": [100.0, 200.0, 300.0, 400.0, 100.0, 300.0],
        "acceptance": [0.5, 0.5, 0.3, 0.3, 0.5, 0.3],
        "offer_cost": [20.0, 20.0, 10.0, 10.0, 20.0, 10.0],
        "tier": ["High", "Medium", "Low", "Low", "High", "Medium"],
        "accepted": [True, False, True, nan, nan, nan],
        "redeemed": [True, False, False, nan, nan, nan],
        "churned": [0, 1, 0, 0, 1, 0]})


def test_acceptance_summary_by_hand():
    # treated with a known `accepted`: c1 True, c2 False, c3 True -> 2/3; c4 unknown.
    # Wilson 2/3: denom = 1 + 3.841459/3 = 2.280486; centre = (0.666667 + 0.640243)/2.280486
    #   = 0.573084; half = 1.959964 * sqrt(0.222222/3 + 3.841459/36) / 2.280486 = 0.365425
    #   -> (0.207660, 0.938508); redeemed 1/3 -> the mirror (0.061492, 0.792340).
    # assumed = mean(0.5, 0.5, 0.3, 0.3) = 0.4
    s = acceptance_summary(_members())
    assert s["n_treatment"] == 4
    assert (s["accepted_known"], s["accepted"]) == (3, 2)
    assert s["acceptance_measured"] == pytest.approx(2 / 3)
    assert (s["acceptance_low"], s["acceptance_high"]) == pytest.approx((0.207660, 0.938508),
                                                                        abs=1e-6)
    assert (s["redeemed_known"], s["redeemed"]) == (3, 1)
    assert (s["redemption_low"], s["redemption_high"]) == pytest.approx((0.061492, 0.792340),
                                                                        abs=1e-6)
    assert s["acceptance_assumed"] == pytest.approx(0.4)
    # per offer: A 1/2 accepted, 1/2 redeemed, assumed 0.5; B 1/1 accepted (c4 unknown),
    # 0/1 redeemed, assumed 0.3. Wilson 1/1: centre = (1 + 1.920729)/4.841459 = 0.603275,
    # half = 1.959964 * sqrt(3.841459/4) / 4.841459 = 0.396725 -> (0.206549, 1)
    a, b = s["by_offer"]
    assert (a["offer"], a["accepted"], a["accepted_known"], a["redeemed"]) == ("A", 1, 2, 1)
    assert a["acceptance_assumed"] == pytest.approx(0.5)
    assert (b["offer"], b["accepted"], b["accepted_known"], b["redeemed"]) == ("B", 1, 1, 0)
    assert b["acceptance_measured"] == pytest.approx(1.0)
    assert (b["acceptance_low"], b["acceptance_high"]) == pytest.approx((0.206549, 1.0), abs=1e-6)
    assert b["acceptance_assumed"] == pytest.approx(0.3)


def test_profit_summary_by_hand():
    # expected = 10 + 5 - 2 + 1 = 14 (treated only)
    # churn: treated 1/4 = 0.25, control 1/2 = 0.5 -> uplift 0.25, kept 0.25 x 4 = 1 customer
    # mean CLV of the treated = (100 + 200 + 300 + 400) / 4 = 250
    # offer cost of accepters (c1 20, c3 10) = 30; contact 2 x 4 = 8; cost = 38
    # realised = 0.25 x 4 x 250 - 38 = 212; ROI = 212 / 38 = 5.578947
    p = profit_summary(_members(), contact_cost=2.0)
    assert p["expected_profit"] == pytest.approx(14.0)
    assert p["uplift"] == pytest.approx(0.25)
    assert p["customers_kept"] == pytest.approx(1.0)
    assert p["mean_clv"] == pytest.approx(250.0)
    assert (p["offer_cost"], p["contact_cost"], p["cost"]) == pytest.approx((30.0, 8.0, 38.0))
    assert p["realised_profit"] == pytest.approx(212.0)
    assert p["roi"] == pytest.approx(212 / 38)
    # the interval substitutes the uplift's: low x 4 x 250 - 38
    effect = two_proportions(1, 4, 1, 2)
    assert p["realised_low"] == pytest.approx(effect["low"] * 1000 - 38)
    assert p["realised_high"] == pytest.approx(effect["high"] * 1000 - 38)
    # nothing accepted and no contact cost: cost 0 -> ROI None, realised = 250
    free = profit_summary(_members().assign(accepted=False), contact_cost=0.0)
    assert free["cost"] == 0.0 and free["roi"] is None
    assert free["realised_profit"] == pytest.approx(250.0)
    with pytest.raises(ChurnLensError):
        profit_summary(_members(), contact_cost=-1.0)


def _plain(value) -> bool:
    """True when the structure holds only JSON types and finite floats."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or type(value) in (bool, int, str)


def test_report_values_and_json_safety():
    r = report(_members(), contact_cost=2.0)
    json.dumps(r, allow_nan=False)
    assert _plain(r)
    assert r["arms"] == {"treatment": 4, "control": 2}
    assert r["outcomes"] == 6
    assert r["churn"] == pytest.approx({"treatment": 0.25, "control": 0.5})
    assert r["effect"]["uplift"] == pytest.approx(0.25)
    # assumed: mean p0 - p1 over the treated = (0.2 + 0.2 + 0.1 + 0.1) / 4 = 0.15;
    # weighted by acceptance: (0.5*0.2 + 0.5*0.2 + 0.3*0.1 + 0.3*0.1) / 4 = 0.065
    assert r["assumed"]["uplift"] == pytest.approx(0.15)
    assert r["assumed"]["uplift_with_acceptance"] == pytest.approx(0.065)
    assert r["profit"]["realised_profit"] == pytest.approx(212.0)
    # mde at 4 and 2 members with the control churn 0.5:
    # 2.801585 * sqrt(0.25 * (1/4 + 1/2)) = 2.801585 * 0.433013 = 1.213122
    assert r["mde"] == pytest.approx(1.213122, abs=1e-6)
    assert set(r["by"]) == {"tier", "offer", "risk decile"}
    assert [g["group"] for g in r["by"]["tier"]] == ["High", "Medium", "Low"]
    # p0 .6 .5 .4 .3 .6 .4: ranks 1.5, 3, 4.5, 6, 1.5, 4.5 -> groups floor((rank-1)*10/6)+1
    #   = 1, 4, 6, 9, 1, 6
    deciles = {g["group"]: (g["n_treatment"], g["n_control"]) for g in r["by"]["risk decile"]}
    assert deciles == {1: (1, 1), 4: (1, 0), 6: (1, 1), 9: (1, 0)}
    with_segment = report(_members().assign(segment=["Loyal", "New", nan, "New", "Loyal", "New"]))
    assert [g["group"] for g in with_segment["by"]["segment"]] == ["Loyal", "New", "(missing)"]


def test_report_without_outcomes():
    members = _members().assign(churned=nan)
    r = report(members)
    json.dumps(r, allow_nan=False)
    assert _plain(r)
    assert r["outcomes"] == 0
    assert r["churn"] == {"treatment": None, "control": None}
    assert r["effect"]["uplift"] is None and r["effect"]["p_value"] is None
    assert r["effect"]["verdict"].startswith("No outcomes yet")
    assert r["profit"]["realised_profit"] is None and r["profit"]["roi"] is None
    assert r["profit"]["expected_profit"] == pytest.approx(14.0)
    assert r["acceptance"]["acceptance_assumed"] == pytest.approx(0.4)
    # planning mde from the sizes (4, 2) and the control arm's mean p0 (0.6 + 0.4)/2 = 0.5
    assert r["mde_basis"]["source"].startswith("model p0")
    assert r["mde"] == pytest.approx(1.213122, abs=1e-6)
    assert all(g["uplift"] is None for g in r["by"]["tier"])
    # no churned column at all reads as "no outcomes yet"
    assert report(members.drop(columns="churned"))["outcomes"] == 0


def test_report_member_without_p0_is_a_missing_risk_group():
    # c3 (treated, stayed) has no p0; the other five rank .6 .6 .5 .4 .3 -> positions 0.5, 0.5,
    # 2, 3, 4 of 5 -> groups floor(pos * 2) + 1 = 2, 2, 5, 7, 9
    members = _members()
    members.loc[2, "p0"] = nan
    groups = {g["group"]: (g["n_treatment"], g["n_control"])
              for g in report(members)["by"]["risk decile"]}
    assert groups == {2: (1, 1), 5: (1, 0), 7: (0, 1), 9: (1, 0), "(missing)": (1, 0)}


def test_report_rejects_unknown_arms():
    with pytest.raises(ChurnLensError, match="arm"):
        report(_members().assign(arm=["treatment"] * 5 + ["holdout"]))
