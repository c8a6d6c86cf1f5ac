"""What-if scenarios, recommendations and promo codes on a small trained analysis.

Money is checked against the formulas written out by hand:
profit = a x ((p0 - p1) x CLV - c) - k, ROI = profit / (a x c + k), break-even a = k / gain."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analytics.offers as offers_module
from analytics import runner
from analytics.dataset import ACTIVE
from analytics.explain import describe_value, feature_label
from analytics.loaders import load_demo
from analytics.model import ChurnModel, to_pool
from analytics.offers import best_offers, load_catalogue
from analytics.pipeline import CLV, PROBABILITY, AnalysisSettings, analyse
from analytics.recommend import (NOT_OFFERED, OFFER, OFFER_NAME, PROFIT, PROMO,
                                 catalogue_fingerprint, promo_codes, recommend)
from analytics.store import ArtifactStore
from analytics.whatif import (NO_INTERNET, Scenario, affected_mask, apply, simulate_customer,
                              simulate_selection, validate)

ROOT = Path(__file__).resolve().parents[2]
FAST = AnalysisSettings(n_splits=3, baselines=("logistic_regression",))
CODE = re.compile(r"^SAVE\d+-[0-9A-HJKMNP-TV-Z]{10,}$")


@pytest.fixture(scope="module")
def analysis():
    return analyse(load_demo(1500, seed=5), FAST)


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(ROOT / "data" / "offers.toml")


def _row(analysis, **conditions) -> int:
    c = analysis.customers
    keep = c[ACTIVE].to_numpy(dtype=bool)
    for column, value in conditions.items():
        keep &= (c[column] == value).to_numpy()
    return int(np.flatnonzero(keep)[0])


# --- plain-language reasons ---------------------------------------------------------------

@pytest.mark.parametrize("feature, value, text", [
    ("Contract", "Month-to-month", "Month-to-month contract"),
    ("PaymentMethod", "Electronic check", "Pays by electronic check"),
    ("TechSupport", "No", "No tech support"),
    ("OnlineSecurity", "Yes", "Has online security"),
    ("Partner", "Yes", "Has a partner"),
    ("PaperlessBilling", "Yes", "Paperless billing"),
    ("InternetService", "Fiber optic", "Fiber optic internet"),
    ("tenure", 1.0, "Tenure 1 month"),
    ("tenure", 34, "Tenure 34 months"),
    ("MonthlyCharges", 99.65, "Monthly charges 99.65"),
    ("SeniorCitizen", 1, "Senior citizen"),
    ("usage_GB", 3.0, "usage GB 3"),
    ("Region", "North", "Region: North"),
    ("MonthlyCharges", float("nan"), "Monthly charges: missing"),
])
def test_reasons_read_as_plain_language(feature, value, text):
    assert describe_value(feature, value) == text


def test_feature_labels():
    assert feature_label("StreamingTV") == "Streaming TV"
    assert feature_label("TotalCharges") == "Total charges to date"
    assert feature_label("lastLoginDays") == "last login days"


# --- scoring paths ------------------------------------------------------------------------

def test_small_and_large_pool_paths_score_alike(analysis, monkeypatch):
    import analytics.model as model_module
    model: ChurnModel = analysis.model
    frame = analysis.customers.iloc[:50]
    small = model.predict_proba(frame)
    monkeypatch.setattr(model_module, "SMALL_FRAME", 0)
    large = model.predict_proba(frame)
    np.testing.assert_allclose(small, large, atol=1e-12)
    assert to_pool(frame, analysis.categorical, analysis.numeric).num_row() == 50


def test_stacked_offer_scoring_matches_one_call_per_offer(analysis, catalogue, monkeypatch):
    frame = analysis.customers.iloc[:200]
    args = (analysis.model.predict_proba, frame, frame[PROBABILITY].to_numpy(float),
            frame[CLV].to_numpy(float), catalogue)
    stacked = best_offers(*args)
    monkeypatch.setattr(offers_module, "STACK_ROWS", 0)
    pd.testing.assert_frame_equal(stacked, best_offers(*args), atol=1e-9)


# --- promo codes --------------------------------------------------------------------------

def test_promo_codes_are_stable_keyed_and_only_for_discounts():
    ids = [f"C{i}" for i in range(200)]
    prefixes = ["SAVE10" if i % 3 else "" for i in range(200)]
    first = promo_codes(ids, prefixes, salt="data-A")
    assert (promo_codes(ids, prefixes, salt="data-A") == first).all()
    other = promo_codes(ids, prefixes, salt="data-B")
    given = first != ""
    assert given.sum() == sum(1 for p in prefixes if p)
    assert all(CODE.match(code) for code in first[given])
    assert (first[given] != other[given]).all()   # the salt keys the codes
    assert len(set(first[given])) == given.sum()


def test_promo_code_collisions_are_lengthened_until_unique():
    ids = [f"C{i}" for i in range(300)]
    codes = promo_codes(ids, ["SAVE20"] * 300, salt="s", length=1)  # 32 codes for 300 people
    assert len(set(codes)) == 300
    assert max(len(c) for c in codes) > len("SAVE20-") + 1
    assert (promo_codes(ids, ["SAVE20"] * 300, salt="s", length=1) == codes).all()


def test_promo_codes_at_once_are_the_codes_made_one_by_one():
    # Codes already sent in a campaign must stay the same: the numpy encoding of up to 12
    # characters gives what the per-digest one does (and from 13 on, it is that one).
    import hashlib

    from analytics.recommend import _encode, _encode_all
    digests = [hashlib.sha256(f"d{i}".encode()).digest() for i in range(500)]
    for length in (1, 10, 12, 13):
        assert _encode_all(digests, length).tolist() == [_encode(d, length) for d in digests]
    ids = [f"C{i}" for i in range(50)]
    codes = promo_codes(ids, ["SAVE10"] * 50, salt="k")
    seed = b"k\x00"
    assert codes[7] == "SAVE10-" + _encode(hashlib.sha256(seed + b"C7").digest(), 10)


# --- recommendations ----------------------------------------------------------------------

def test_recommendations_pick_the_best_paying_offer(analysis, catalogue):
    recs = recommend(analysis, catalogue, salt="t")
    c = analysis.customers
    active = c[ACTIVE].to_numpy(dtype=bool)
    assert len(recs) == len(c)
    assert (recs.loc[~active, OFFER_NAME] == NOT_OFFERED).all()
    assert recs.loc[~active, PROFIT].isna().all()
    frame = c.loc[active]
    best = best_offers(analysis.model.predict_proba, frame, frame[PROBABILITY].to_numpy(float),
                       frame[CLV].to_numpy(float), catalogue)
    per_offer = best[[f"profit_{o.id}" for o in catalogue.offers]].to_numpy()
    top = np.nanmax(np.where(np.isnan(per_offer), -np.inf, per_offer), axis=1)
    profit = recs.loc[active, PROFIT].to_numpy(dtype=float)
    np.testing.assert_allclose(profit, np.where(top > 0, top, 0.0), rtol=1e-5, atol=1e-3)
    chosen = recs.loc[active, OFFER].astype(str).to_numpy()
    assert ((chosen == "none") == (profit <= 0)).all()
    discount_ids = {o.id for o in catalogue.offers if o.discount > 0}
    has_code = recs[PROMO].to_numpy() != ""
    assert (has_code == recs[OFFER].astype(str).isin(discount_ids).to_numpy()).all()
    assert has_code.any() and recs.loc[has_code, PROMO].is_unique


def test_recommendations_are_cached_beside_the_model(analysis, catalogue, tmp_path, monkeypatch):
    store = ArtifactStore(tmp_path)
    runner.attach_recommendations(analysis, catalogue, "key", "salt", store)
    first = analysis.recommendations
    monkeypatch.setattr(runner, "recommend", lambda *a, **k: pytest.fail("recomputed"))
    runner.attach_recommendations(analysis, catalogue, "key", "salt", store)
    pd.testing.assert_frame_equal(analysis.recommendations, first)
    assert catalogue_fingerprint(catalogue) == catalogue_fingerprint(
        load_catalogue(ROOT / "data" / "offers.toml"))


# --- what-if: one customer ----------------------------------------------------------------

def test_no_change_changes_nothing_and_costs_the_contact(analysis):
    row = _row(analysis)
    result = simulate_customer(analysis, row, Scenario(contact_cost=5.0))
    assert result["p1"] == pytest.approx(result["p0"])
    assert result["changed"] == [] and result["reasons_moved"] == []
    assert result["profit"] == pytest.approx(-5.0)
    assert result["never_pays"] and result["break_even_acceptance"] is None


def test_customer_money_matches_the_hand_formula(analysis):
    row = _row(analysis, Contract="Month-to-month")
    scenario = Scenario(changes={"Contract": "Two year"}, discount=0.1, months=12,
                        one_off_cost=7.0, acceptance=0.25, contact_cost=4.0)
    r = simulate_customer(analysis, row, scenario)
    c = analysis.customers.iloc[row]
    monthly, clv = float(c["MonthlyCharges"]), float(c[CLV])
    cost = 0.1 * monthly * 12 + 7.0
    assert r["cost"] == pytest.approx(cost)
    assert r["profit"] == pytest.approx(0.25 * ((r["p0"] - r["p1"]) * clv - cost) - 4.0)
    assert r["roi"] == pytest.approx(r["profit"] / (0.25 * cost + 4.0))
    assert r["p0"] == pytest.approx(float(c[PROBABILITY]), abs=1e-4)
    assert r["p1"] < r["p0"]  # on this data longer contracts are associated with less churn
    assert set(r["changed"]) == {"Contract", "MonthlyCharges"}
    assert r["reasons_moved"][0]["feature"] == "Contract"
    gain = (r["p0"] - r["p1"]) * clv - cost
    if gain > 0 and r["break_even_acceptance"] is not None:
        a = r["break_even_acceptance"]
        assert a * gain - 4.0 == pytest.approx(0.0, abs=1e-9)


def test_margin_rescales_clv(analysis):
    row = _row(analysis, Contract="Month-to-month")
    half = analysis.settings.margin / 2
    base = simulate_customer(analysis, row, Scenario(changes={"Contract": "One year"},
                                                     margin=half))
    doubled = simulate_customer(analysis, row, Scenario(changes={"Contract": "One year"},
                                                        margin=2 * half))
    assert doubled["clv"] == pytest.approx(2 * base["clv"])
    assert doubled["clv"] == pytest.approx(float(analysis.customers[CLV].iloc[row]))
    assert doubled["value_kept"] == pytest.approx(2 * base["value_kept"])


@pytest.mark.parametrize("scenario, message", [
    (Scenario(changes={"tenure": "60"}), "frozen"),
    (Scenario(changes={"gender": "Male"}), "frozen"),
    (Scenario(changes={"Contract": "Ten year"}), "unknown value"),
    (Scenario(changes={"TechSupport": NO_INTERNET}), "cannot be set"),
    (Scenario(discount=0.2, months=0), "duration"),
    (Scenario(acceptance=1.5), "acceptance"),
    (Scenario(contact_cost=-1), "negative"),
    (Scenario(margin=0), "margin"),
])
def test_invalid_scenarios_are_refused_by_name(analysis, scenario, message):
    with pytest.raises(ValueError, match=message):
        validate(analysis, scenario)


def test_add_ons_are_not_given_to_customers_without_internet(analysis):
    c = analysis.customers
    frame = pd.concat([c[c["TechSupport"] == NO_INTERNET].head(3),
                       c[c["TechSupport"] == "No"].head(3)])
    scenario = Scenario(changes={"TechSupport": "Yes"})
    changed = apply(frame, scenario, analysis)
    assert (changed["TechSupport"].astype(str).tolist()
            == [NO_INTERNET] * 3 + ["Yes"] * 3)
    assert affected_mask(frame, scenario, analysis).tolist() == [False] * 3 + [True] * 3


# --- what-if: a selection -----------------------------------------------------------------

def test_selection_totals_add_up_customer_by_customer(analysis):
    c = analysis.customers
    rows = np.arange(60)
    scenario = Scenario(changes={"Contract": "One year"}, acceptance=0.3, contact_cost=5.0)
    total = simulate_selection(analysis, rows, scenario)
    active = c[ACTIVE].to_numpy(dtype=bool)[rows]
    changes = (c["Contract"].iloc[rows] != "One year").to_numpy()
    targets = rows[active & changes]
    assert total["selected"] == 60 and total["active"] == int(active.sum())
    assert total["affected"] == len(targets)
    singles = [simulate_customer(analysis, int(r), scenario) for r in targets]
    assert total["profit"] == pytest.approx(sum(s["profit"] for s in singles), abs=0.05)
    assert total["churners_avoided"] == pytest.approx(
        0.3 * sum(s["p0"] - s["p1"] for s in singles), abs=1e-3)
    assert total["total_cost"] == pytest.approx(5.0 * len(targets))
    assert total["roi"] == pytest.approx(total["profit"] / total["total_cost"])


def test_selection_with_nobody_to_change(analysis):
    c = analysis.customers
    rows = np.flatnonzero((c["Contract"] == "Two year").to_numpy())
    result = simulate_selection(analysis, rows, Scenario(changes={"Contract": "Two year"}))
    assert result["affected"] == 0 and result["profit"] == 0.0 and result["roi"] is None


def test_large_selections_are_estimated_from_a_sample(analysis):
    c = analysis.customers
    rows = np.arange(len(c))
    scenario = Scenario(changes={"Contract": "Two year"}, acceptance=0.3, contact_cost=5.0)
    full = simulate_selection(analysis, rows, scenario)
    estimate = simulate_selection(analysis, rows, scenario, max_rows=400)
    assert full["sampled"] is None and estimate["sampled"] == 400
    assert estimate["affected"] == full["affected"] > 400
    assert estimate["total_cost"] == pytest.approx(full["total_cost"], rel=1e-9)  # k x n
    for key in ("churners_avoided", "value_kept", "profit"):
        assert estimate[key] == pytest.approx(full[key], rel=0.15), key
    assert full["profit_se"] is None and estimate["profit_se"] > 0
    assert abs(estimate["profit"] - full["profit"]) < 4 * estimate["profit_se"]


# --- what-if from the dataset config --------------------------------------------------------

def _bank(n: int = 2000):
    """A bank's churn table (no revenue column; NumOfProducts and IsActiveMember guessed
    actionable as numeric ranges), analysed."""
    from analytics.data.inspect import inspect_frame
    from analytics.data.layouts import generate_bank
    from analytics.dataset import build_table

    frame = generate_bank(n, seed=1)
    config = inspect_frame(frame, "bank.csv").config
    return analyse(build_table(frame, config, "bank.csv"),
                   AnalysisSettings(n_splits=2, baselines=()))


@pytest.fixture(scope="module")
def bank():
    return _bank()


def _with_actionable(analysis, *actionable, **config_changes):
    """The same trained analysis read with another config (actionable features, roles)."""
    from dataclasses import replace
    return replace(analysis, config=replace(analysis.config, actionable=tuple(actionable),
                                            **config_changes))


def test_actionable_features_come_from_the_config(analysis, bank):
    from dataclasses import replace
    from analytics.loaders import TELCO_CONFIG
    from analytics.whatif import actionable_features, actionable_fields, frozen_features
    telco = [a.column for a in TELCO_CONFIG.actionable]
    assert actionable_features(analysis) == telco
    assert actionable_features(replace(analysis, config=None)) == telco  # the old fallback
    assert actionable_features(bank) == ["NumOfProducts", "IsActiveMember"]
    fields = {f.feature: f for f in actionable_fields(bank)}
    assert (fields["NumOfProducts"].kind, fields["NumOfProducts"].low,
            fields["NumOfProducts"].high, fields["NumOfProducts"].step) == ("number", 1, 4, 1)
    assert fields["IsActiveMember"].range_text() == "between 0 and 1 in steps of 1"
    assert "NumOfProducts" not in frozen_features(bank) and "Age" in frozen_features(bank)
    # A column the config names but the model does not use is left out.
    from analytics.data.config import Actionable
    odd = _with_actionable(analysis, Actionable("Region", values=("North",)),
                           Actionable("Contract"))
    assert actionable_features(odd) == ["Contract"]


@pytest.mark.parametrize("value, message", [
    (5, "Num of products must be between 1 and 4 in steps of 1 (got 5)"),
    (1.5, "Num of products must be between 1 and 4 in steps of 1 (got 1.5)"),
    ("two", "Num of products must be a number between 1 and 4 in steps of 1 (got 'two')"),
])
def test_numeric_actionables_are_checked_against_range_and_step(bank, value, message):
    with pytest.raises(ValueError) as error:
        validate(bank, Scenario(changes={"NumOfProducts": value}))
    assert str(error.value) == message
    assert validate(bank, Scenario(changes={"NumOfProducts": "3"})).changes == {
        "NumOfProducts": 3.0}


def test_without_revenue_the_probabilities_work_and_the_money_says_why(bank):
    from analytics.whatif import MONEY_REASON
    c = bank.customers
    row = int(np.flatnonzero(c[ACTIVE].to_numpy(dtype=bool)
                             & (c["NumOfProducts"] == 1).to_numpy())[0])
    r = simulate_customer(bank, row, Scenario(changes={"NumOfProducts": 2},
                                              one_off_cost=3.0, contact_cost=1.0))
    assert r["p0"] == pytest.approx(float(c[PROBABILITY].iloc[row]), abs=1e-4)
    assert r["p1"] != pytest.approx(r["p0"]) and r["change"] == pytest.approx(r["p1"] - r["p0"])
    assert r["changed"] == ["NumOfProducts"] and r["reasons_moved"]
    assert r["money_reason"] == MONEY_REASON == "needs a revenue column"
    for key in ("value_kept", "profit", "roi", "break_even_acceptance", "clv", "monthly"):
        assert r[key] is None, key
    assert r["cost"] == pytest.approx(3.0)  # what it costs is known without revenue

    rows = np.arange(300)
    scenario = Scenario(changes={"IsActiveMember": 1}, acceptance=0.4, contact_cost=2.0)
    total = simulate_selection(bank, rows, scenario)
    active = c[ACTIVE].to_numpy(dtype=bool)[rows]
    targets = rows[active & (c["IsActiveMember"].to_numpy()[rows] != 1)]
    assert total["affected"] == len(targets) > 0
    singles = [simulate_customer(bank, int(t), scenario) for t in targets]
    assert total["churners_avoided"] == pytest.approx(
        0.4 * sum(s["p0"] - s["p1"] for s in singles), abs=1e-3)
    assert total["total_cost"] == pytest.approx(2.0 * len(targets))
    assert total["money_reason"] == MONEY_REASON
    for key in ("profit", "value_kept", "revenue_retained", "roi", "break_even_acceptance"):
        assert total[key] is None, key


def test_a_discount_needs_a_monthly_revenue_column(analysis, bank):
    with pytest.raises(ValueError, match="no discount on this data: a discount needs a "
                                         "revenue column"):
        validate(bank, Scenario(discount=0.1, months=3))
    # Revenue per year: there is money, but no monthly bill the model sees to discount.
    yearly = _with_actionable(analysis, *analysis.config.actionable, revenue_period="year")
    with pytest.raises(ValueError, match=r"MonthlyCharges, per year\) is not one"):
        validate(yearly, Scenario(discount=0.1, months=3))
    row = _row(analysis, Contract="Month-to-month")
    assert simulate_customer(yearly, row, Scenario(changes={"Contract": "One year"}))[
        "profit"] is not None


def test_categorical_values_are_limited_to_the_configured_ones(analysis):
    from analytics.data.config import Actionable
    from analytics.whatif import actionable_fields
    limited = _with_actionable(analysis, Actionable("Contract",
                                                    values=("Month-to-month", "One year")))
    assert actionable_fields(limited)[0].choices == ("Month-to-month", "One year")
    with pytest.raises(ValueError, match="unknown value 'Two year'; known: Month-to-month, "
                                         "One year"):
        validate(limited, Scenario(changes={"Contract": "Two year"}))
    with pytest.raises(ValueError, match="frozen"):
        validate(limited, Scenario(changes={"PaymentMethod": "Mailed check"}))


def test_fixed_values_are_kept_and_cannot_be_chosen(analysis):
    from analytics.data.config import Actionable
    kept = _with_actionable(analysis, Actionable("Contract", fixed=("Two year",)))
    with pytest.raises(ValueError, match="'Contract' cannot be set to 'Two year'"):
        validate(kept, Scenario(changes={"Contract": "Two year"}))
    c = analysis.customers
    frame = pd.concat([c[c["Contract"] == "Two year"].head(2),
                       c[c["Contract"] == "Month-to-month"].head(2)])
    scenario = Scenario(changes={"Contract": "One year"})
    assert apply(frame, scenario, kept)["Contract"].astype(str).tolist() == [
        "Two year", "Two year", "One year", "One year"]
    assert affected_mask(frame, scenario, kept).tolist() == [False, False, True, True]
    # Without `fixed` in the config everybody moves.
    free = _with_actionable(analysis, Actionable("Contract"))
    assert affected_mask(frame, scenario, free).tolist() == [True] * 4


def test_a_change_costs_what_the_config_says(analysis):
    from analytics.data.config import Actionable
    from analytics.whatif import change_cost
    priced = _with_actionable(analysis, Actionable("Contract", cost=12.0, monthly_cost=2.0,
                                                   months=6),
                              Actionable("PaperlessBilling", cost=3.0))
    row = _row(analysis, Contract="Month-to-month")
    scenario = Scenario(changes={"Contract": "Two year"}, discount=0.1, months=12,
                        one_off_cost=7.0, acceptance=0.25, contact_cost=4.0)
    r = simulate_customer(priced, row, scenario)
    c = analysis.customers.iloc[row]
    cost = 0.1 * float(c["MonthlyCharges"]) * 12 + 7.0 + (12.0 + 2.0 * 6)
    assert r["cost"] == pytest.approx(cost)
    assert r["profit"] == pytest.approx(0.25 * ((r["p0"] - r["p1"]) * float(c[CLV]) - cost)
                                        - 4.0)
    # Only the changes a customer really gets are paid for.
    frame = analysis.customers.iloc[:40]
    both = Scenario(changes={"Contract": "One year", "PaperlessBilling": "Yes"})
    expected = (24.0 * (frame["Contract"] != "One year").to_numpy()
                + 3.0 * (frame["PaperlessBilling"] != "Yes").to_numpy())
    np.testing.assert_allclose(change_cost(frame, both, priced, frame["monthly_charges"]),
                               expected)
    total = simulate_selection(priced, np.arange(40), both)
    active = frame["active"].to_numpy(dtype=bool)
    hit = active & (expected > 0)
    assert total["affected"] == int(hit.sum())
    assert total["total_cost"] == pytest.approx(0.3 * expected[hit].sum() + 5.0 * hit.sum())


def test_the_per_analysis_memos_follow_the_customer_table_and_are_not_pickled(analysis,
                                                                            catalogue):
    import copy
    import pickle

    from analytics.pipeline import MEMOS
    from analytics.scoring import score_records
    from analytics.whatif import actionable_fields, has_revenue

    mine = copy.copy(analysis)
    mine.__dict__ = dict(analysis.__dict__)
    record = {f: (float(mine.customers[f].iloc[3]) if f in mine.numeric
                  else str(mine.customers[f].iloc[3])) for f in mine.features}
    first = score_records(record, mine, catalogue)
    fields = actionable_fields(mine)
    assert has_revenue(mine) and set(MEMOS) <= set(mine.__dict__)
    assert score_records(record, mine, catalogue) == first and actionable_fields(mine) == fields
    loaded = pickle.loads(pickle.dumps(mine))
    assert not set(MEMOS) & set(loaded.__dict__)
    assert score_records(record, loaded, catalogue) == first
    # A new customer table (new data in the same analysis object) is measured again.
    from analytics.dataset import MONTHLY
    mine.customers = mine.customers.assign(**{MONTHLY: np.nan, "churn": 0})
    assert not has_revenue(mine)
    assert score_records(record, mine, catalogue)[0]["observed_churn_rate"] == 0
