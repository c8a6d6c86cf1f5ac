"""Offer catalogue, model-implied offer effects, expected profit and targeting (hand-computed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.errors import DataError
from analytics.offers import (NO_OFFER, Catalogue, Offer, apply_offer, best_offers,
                              eligible_mask, expected_profit, load_catalogue, offer_cost,
                              targeting)

ROOT = Path(__file__).resolve().parents[2]
OFFERS = ROOT / "data" / "offers.toml"
IDS = ("discount_10", "discount_20", "upgrade_one_year", "upgrade_two_year", "support_bundle",
       "autopay_bonus")


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(OFFERS)


def _frame() -> pd.DataFrame:
    """Five customers, categorical columns as the loaders produce them."""
    frame = pd.DataFrame({
        "Contract": ["Month-to-month", "One year", "Two year", "Month-to-month",
                     "Month-to-month"],
        "PaymentMethod": ["Electronic check", "Credit card (automatic)", "Mailed check",
                          "Bank transfer (automatic)", "Electronic check"],
        "TechSupport": ["No", "Yes", "No internet service", "Yes", "No"],
        "OnlineSecurity": ["No", "Yes", "No internet service", "No", "Yes"],
        "MonthlyCharges": [80.0, 50.0, 20.0, 100.0, 60.0],
    }, index=[10, 11, 12, 13, 14])
    for column in ("Contract", "PaymentMethod", "TechSupport", "OnlineSecurity"):
        frame[column] = frame[column].astype("category")
    return frame


def _fake_predict(frame: pd.DataFrame) -> np.ndarray:
    """Deterministic stand-in for a model: longer contracts and lower bills churn less."""
    p = (0.3 - 0.2 * (frame["Contract"].astype(str) != "Month-to-month")
         + 0.002 * frame["MonthlyCharges"])
    return np.clip(p.to_numpy(dtype=float), 0.01, 0.99)


# --- catalogue ---------------------------------------------------------------------------

def test_default_catalogue_loads(catalogue):
    assert tuple(o.id for o in catalogue.offers) == IDS
    assert catalogue.contact_cost == 5.0
    assert catalogue.source == str(OFFERS)
    one_year = catalogue.get("upgrade_one_year")
    assert one_year.changes == {"Contract": "One year"}
    assert one_year.eligible == {"Contract": ("Month-to-month",)}
    assert (one_year.discount, one_year.months) == (0.10, 12)
    assert catalogue.get("support_bundle").monthly_cost == 10.0
    assert catalogue.get("autopay_bonus").one_off_cost == 20.0
    assert all(0 <= o.acceptance <= 1 for o in catalogue.offers)


GOOD = """
[settings]
contact_cost = 5.0

[offers.promo]
name = "Promo"
discount = 0.1
months = 6
acceptance = 0.3
"""


@pytest.mark.parametrize("old, new, field", [
    ("acceptance = 0.3", "acceptance = 1.5", "acceptance"),
    ("acceptance = 0.3", "acceptance = 0.3\ncolour = 'red'", "colour"),
    ("discount = 0.1", "discount = 'ten percent'", "discount"),
    ('name = "Promo"', "", "name"),
    ("months = 6", "months = -1", "months"),
    ("discount = 0.1", "discount = 1.0", "discount"),
    ("acceptance = 0.3", "acceptance = 0.3\neligible = { Contract = 'One year' }", "eligible"),
])
def test_bad_catalogue_names_file_offer_and_field(tmp_path, old, new, field):
    path = tmp_path / "bad_offers.toml"
    assert old in GOOD
    path.write_text(GOOD.replace(old, new))
    with pytest.raises(DataError) as info:
        load_catalogue(path)
    text = str(info.value)
    assert str(path) in text and "promo" in text and field in text
    assert info.value.file == str(path)


def test_catalogue_file_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_catalogue(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[offers.x\nname = 1")
    with pytest.raises(DataError, match="TOML"):
        load_catalogue(broken)
    no_contact = tmp_path / "no_contact.toml"
    no_contact.write_text(GOOD.replace("contact_cost = 5.0", ""))
    with pytest.raises(DataError, match="contact_cost"):
        load_catalogue(no_contact)


# --- money -------------------------------------------------------------------------------

def test_expected_profit_by_hand():
    assert expected_profit(0.6, 0.4, 1000, 0.3, 50, 5) == pytest.approx(40.0)
    # Deadweight: no effect on churn, every accepter still costs c.
    assert expected_profit(0.6, 0.6, 1000, 0.3, 50, 5) == pytest.approx(-0.3 * 50 - 5)
    vector = expected_profit([0.6, 0.6], [0.4, 0.6], [1000, 1000], 0.3, [50, 50], 5)
    np.testing.assert_allclose(vector, [40.0, -20.0])


def test_offer_cost_by_hand():
    twenty = Offer(id="d20", name="20%", discount=0.2, months=6, acceptance=0.4)
    np.testing.assert_allclose(offer_cost(twenty, [80.0, 50.0]), [96.0, 60.0])
    mixed = Offer(id="mix", name="mix", discount=0.2, months=6, monthly_cost=10.0,
                  one_off_cost=20.0, acceptance=0.4)
    np.testing.assert_allclose(offer_cost(mixed, [80.0]), [96.0 + 60.0 + 20.0])


# --- eligibility and applying ------------------------------------------------------------

def test_eligible_mask(catalogue):
    frame = _frame()
    mask = {o.id: eligible_mask(frame, o).tolist() for o in catalogue.offers}
    assert mask["upgrade_one_year"] == [True, False, False, True, True]
    assert mask["upgrade_two_year"] == [True, True, False, True, True]
    # No internet service (row 12) excluded; row 11 already has both add-ons.
    assert mask["support_bundle"] == [True, False, False, True, True]
    # Already on automatic payment (rows 11, 13) is not eligible.
    assert mask["autopay_bonus"] == [True, False, True, False, True]
    assert mask["discount_10"] == [True] * 5


def test_condition_on_missing_column_makes_nobody_eligible():
    offer = Offer(id="x", name="x", changes={"Contract": "Two year"},
                  eligible={"Region": ("North",)}, acceptance=0.5)
    assert not eligible_mask(_frame(), offer).any()


def test_apply_offer_changes_only_named_columns(catalogue):
    frame = _frame()
    before = frame.copy()
    upgraded = apply_offer(frame, catalogue.get("upgrade_one_year"))
    pd.testing.assert_frame_equal(frame, before)  # input untouched
    assert (upgraded["Contract"] == "One year").all()
    assert isinstance(upgraded["Contract"].dtype, pd.CategoricalDtype)
    np.testing.assert_allclose(upgraded["MonthlyCharges"], frame["MonthlyCharges"] * 0.9)
    for column in ("PaymentMethod", "TechSupport", "OnlineSecurity"):
        pd.testing.assert_series_equal(upgraded[column], frame[column])

    bundle = apply_offer(frame, catalogue.get("support_bundle"))
    assert (bundle["TechSupport"] == "Yes").all() and (bundle["OnlineSecurity"] == "Yes").all()
    pd.testing.assert_series_equal(bundle["MonthlyCharges"], frame["MonthlyCharges"])
    pd.testing.assert_series_equal(bundle["Contract"], frame["Contract"])

    # A value the categorical column has never seen becomes a new category.
    new = Offer(id="n", name="n", changes={"PaymentMethod": "Crypto"}, acceptance=0.1)
    assert (apply_offer(frame, new)["PaymentMethod"] == "Crypto").all()


# --- best offer --------------------------------------------------------------------------

def _two_offers() -> Catalogue:
    upgrade = Offer(id="upgrade", name="Upgrade", changes={"Contract": "One year"},
                    eligible={"Contract": ("Month-to-month",)}, one_off_cost=10.0,
                    acceptance=0.5)
    discount = Offer(id="disc", name="Discount", discount=0.5, months=1, acceptance=1.0)
    return Catalogue(offers=(upgrade, discount), contact_cost=1.0, source="test")


def test_best_offers_picks_the_most_profitable():
    frame = _frame()
    p0 = _fake_predict(frame)
    clv = np.full(len(frame), 1000.0)
    out = best_offers(_fake_predict, frame, p0, clv, _two_offers())
    assert list(out.index) == list(frame.index)
    # Customer 10 (Month-to-month, 80): p0 = 0.3 + 0.16 = 0.46.
    # upgrade: p1 = 0.26 -> 0.5 * (0.2 * 1000 - 10) - 1 = 94;
    # disc: bill 40 -> p1 = 0.38, c = 0.5 * 80 * 1 = 40 -> 1 * (80 - 40) - 1 = 39.
    assert p0[0] == pytest.approx(0.46)
    assert out.loc[10, "profit_upgrade"] == pytest.approx(94.0)
    assert out.loc[10, "profit_disc"] == pytest.approx(39.0)
    assert out.loc[10, "best_offer"] == "upgrade" and out.loc[10, "best_name"] == "Upgrade"
    assert out.loc[10, "p1"] == pytest.approx(0.26)
    assert out.loc[10, "expected_profit"] == pytest.approx(94.0)
    assert out.loc[10, "cost"] == pytest.approx(10.0)
    # Customer 11 (One year, 50): upgrade ineligible -> NaN; disc: p0 = 0.2, bill 25 ->
    # p1 = 0.15, c = 25 -> 50 - 25 - 1 = 24.
    assert np.isnan(out.loc[11, "profit_upgrade"])
    assert out.loc[11, "best_offer"] == "disc"
    assert out.loc[11, "expected_profit"] == pytest.approx(24.0)
    assert out.loc[11, "cost"] == pytest.approx(25.0)
    assert out.loc[11, "p1"] == pytest.approx(0.15)
    assert not (out["best_offer"].eq("upgrade") & frame["Contract"].ne("Month-to-month")).any()


def test_best_offers_says_none_when_every_offer_loses():
    frame = _frame()
    p0 = _fake_predict(frame)
    out = best_offers(_fake_predict, frame, p0, np.full(len(frame), 1.0), _two_offers())
    assert (out["best_offer"] == NO_OFFER).all()
    assert (out["expected_profit"] == 0.0).all()
    np.testing.assert_allclose(out["p1"], p0)


# --- integration with a real model -------------------------------------------------------

def test_best_offers_with_a_real_model(catalogue):
    from analytics.loaders import load_demo
    from analytics.pipeline import CLV, PROBABILITY, AnalysisSettings, analyse

    analysis = analyse(load_demo(800, seed=3), AnalysisSettings(n_splits=2, baselines=()))
    # Offers are for customers still here (those who left have no CLV).
    customers = analysis.customers[analysis.customers["active"]]
    assert analysis.customers.loc[~analysis.customers["active"], CLV].isna().all()
    p0 = customers[PROBABILITY].to_numpy(dtype=float)
    clv = customers[CLV].to_numpy(dtype=float)
    upgrade = catalogue.get("upgrade_one_year")
    mask = eligible_mask(customers, upgrade)
    assert mask.sum() > 50
    p1 = analysis.model.predict_proba(apply_offer(customers[mask], upgrade))
    assert p1.mean() < p0[mask].mean()  # model-implied effect of the upgrade

    out = best_offers(analysis.model.predict_proba, customers, p0, clv, catalogue)
    assert len(out) == len(customers) and (out.index == customers.index).all()
    assert set(out["best_offer"]) <= set(IDS) | {NO_OFFER}
    assert (out["expected_profit"] >= 0).all()
    assert (out["expected_profit"] > 0).any()
    chosen = out["best_offer"] != NO_OFFER
    assert (out.loc[chosen, "p1"] <= p0[chosen.to_numpy()] + 1.0).all()
    for offer in catalogue.offers:
        profits = out[f"profit_{offer.id}"]
        assert profits.isna().to_numpy().tolist() == (~eligible_mask(customers, offer)).tolist()


# --- targeting ---------------------------------------------------------------------------

def test_targeting_by_hand():
    result = targeting(np.array([50.0, 20.0, -5.0, 10.0]), capacity=1)
    assert result["best_size"] == 3 and result["best_total"] == pytest.approx(80.0)
    assert result["capacity"] == 1 and result["capacity_total"] == pytest.approx(50.0)
    assert result["curve"]["contacted"] == [0, 1, 2, 3, 4]
    assert result["curve"]["cumulative_profit"] == pytest.approx([0, 50, 70, 80, 75])
    # A capacity above the profitable list never adds loss-making customers.
    assert targeting(np.array([50.0, 20.0, -5.0, 10.0]), capacity=10)["capacity_total"] == 80.0
    assert targeting(np.array([]))["best_size"] == 0


def test_targeting_curve_is_downsampled():
    values = np.random.default_rng(0).normal(1.0, 5.0, 20_000)
    result = targeting(values)
    curve = result["curve"]
    assert len(curve["contacted"]) <= 500
    assert result["best_size"] in curve["contacted"]
    assert max(curve["cumulative_profit"]) == pytest.approx(result["best_total"])
    assert result["capacity_total"] is None


# --- the discount follows the config ----------------------------------------------------

def test_the_discounted_column_comes_from_the_config():
    from analytics.data.config import DatasetConfig
    from analytics.loaders import TELCO_CONFIG
    from analytics.offers import discount_feature
    assert discount_feature(TELCO_CONFIG) == TELCO_CONFIG.revenue_column
    assert discount_feature(DatasetConfig(revenue_columns=("Bill",))) == "Bill"
    assert discount_feature(DatasetConfig(revenue_columns=())) is None
    assert discount_feature(DatasetConfig(revenue_columns=("A", "B"))) is None
    assert discount_feature(DatasetConfig(revenue_columns=("Fee",), revenue_period="year")) \
        is None
    frame = _frame().rename(columns={"MonthlyCharges": "Bill"})
    frame["monthly_charges"] = frame["Bill"]
    half = Offer(id="h", name="h", discount=0.5, months=1, acceptance=1.0)
    out = apply_offer(frame, half, discount_column="Bill")
    np.testing.assert_allclose(out["Bill"], frame["Bill"] * 0.5)
    np.testing.assert_allclose(out["monthly_charges"], frame["Bill"] * 0.5)
    untouched = apply_offer(frame, half, discount_column=None)
    np.testing.assert_allclose(untouched["Bill"], frame["Bill"])


def test_an_offer_without_a_discount_costs_the_same_without_revenue():
    bundle = Offer(id="b", name="b", changes={"TechSupport": "Yes"}, months=3,
                   monthly_cost=10.0, one_off_cost=5.0, acceptance=0.3)
    np.testing.assert_allclose(offer_cost(bundle, [np.nan, 80.0]), [35.0, 35.0])
    assert np.isnan(offer_cost(Offer(id="d", name="d", discount=0.1, months=2,
                                     acceptance=0.1), [np.nan])).all()


# --- the catalogue checked against the data -------------------------------------------------

@pytest.fixture(scope="module")
def demo():
    from analytics.loaders import load_demo
    from analytics.pipeline import AnalysisSettings, analyse
    return analyse(load_demo(800, seed=3), AnalysisSettings(n_splits=2, baselines=()))


@pytest.fixture(scope="module")
def bank():
    from tests.analytics.test_whatif import _bank
    return _bank(1500)


def test_the_default_catalogue_fits_the_demo_but_not_the_bank(catalogue, demo, bank):
    from analytics.recommend import check_catalogue
    assert check_catalogue(catalogue, demo) == {offer_id: None for offer_id in IDS}
    reasons = check_catalogue(catalogue, bank)
    assert set(reasons) == set(IDS) and all(reasons.values())
    assert reasons["upgrade_one_year"] == ("needs the column `Contract`, which this data "
                                           "does not have")
    assert reasons["support_bundle"].startswith("needs the column `TechSupport`")
    assert reasons["discount_10"] == ("has a discount: a discount needs a revenue column, "
                                      "and this data has none")


@pytest.mark.parametrize("changes, eligible, reason", [
    ({"NumOfProducts": 2}, {}, None),
    ({"IsActiveMember": 1}, {"Geography": ["Germany", "Spain"]}, None),
    ({"NumOfProducts": 7}, {}, "sets `NumOfProducts` to 7, which is not a value it may take "
                               "(between 1 and 4 in steps of 1)"),
    ({"Age": 30}, {}, "changes `Age`, which the data config does not list as actionable"),
    ({"NumOfProducts": 2}, {"Region": ["North"]}, "needs the column `Region`, which this data "
                                                  "does not have"),
    ({"NumOfProducts": 2}, {"Geography": ["Mars"]}, "is for customers whose `Geography` is "
                                                    "Mars, and this data has no such value"),
])
def test_offers_on_other_data_are_checked(bank, changes, eligible, reason):
    from analytics.recommend import check_catalogue
    offer = Offer(id="x", name="x", changes=changes,
                  eligible={k: tuple(v) for k, v in eligible.items()}, acceptance=0.3)
    catalogue = Catalogue(offers=(offer,), contact_cost=1.0, source="test")
    assert check_catalogue(catalogue, bank) == {"x": reason}


def test_values_an_offer_may_not_set_are_reasons(demo):
    from analytics.recommend import check_catalogue
    offers = (Offer(id="fixed", name="f", changes={"TechSupport": "No internet service"},
                    acceptance=0.3),
              Offer(id="unknown", name="u", changes={"Contract": "Ten year"}, acceptance=0.3),
              Offer(id="frozen", name="z", changes={"gender": "Male"}, acceptance=0.3))
    reasons = check_catalogue(Catalogue(offers=offers, contact_cost=1.0, source="t"), demo)
    assert reasons["fixed"].startswith("sets `TechSupport` to 'No internet service', which "
                                       "is not a value it may take (one of No, Yes)")
    assert reasons["unknown"].startswith("sets `Contract` to 'Ten year'")
    assert reasons["frozen"] == ("changes `gender`, which the data config does not list as "
                                 "actionable")


def test_recommend_skips_unavailable_offers(catalogue, demo):
    from analytics.recommend import OFFER, PROFIT, recommend
    # A free offer everybody would take, but it sets a value the data has never seen.
    bogus = Offer(id="bogus", name="Bogus", changes={"Contract": "Ten year"}, acceptance=1.0)
    wider = Catalogue(offers=(*catalogue.offers, bogus), contact_cost=catalogue.contact_cost,
                      source="t")
    with_bogus = recommend(demo, wider, salt="s")
    plain = recommend(demo, catalogue, salt="s")
    assert "bogus" not in set(with_bogus[OFFER].astype(str))
    assert (with_bogus[OFFER].astype(str) == plain[OFFER].astype(str)).all()
    np.testing.assert_allclose(with_bogus[PROFIT], plain[PROFIT], equal_nan=True)


def test_without_revenue_nothing_is_recommended_and_the_reason_is_given(catalogue, bank, demo):
    from analytics.recommend import (NEEDS_REVENUE, NOT_OFFERED, OFFER, OFFER_NAME, PROFIT,
                                     no_offer_reason, recommend)
    recs = recommend(bank, catalogue, salt="s")
    active = bank.customers["active"].to_numpy(dtype=bool)
    assert (recs.loc[active, OFFER].astype(str) == NO_OFFER).all()
    assert (recs.loc[active, OFFER_NAME].astype(str) == "No offer").all()
    assert (recs.loc[~active, OFFER_NAME].astype(str) == NOT_OFFERED).all()
    assert recs[PROFIT].isna().all()
    assert no_offer_reason(bank) == NEEDS_REVENUE and "revenue column" in NEEDS_REVENUE
    assert "[roles] revenue" in NEEDS_REVENUE
    assert no_offer_reason(demo) is None
    # A catalogue of offers that fit the bank still prices nothing without revenue.
    fits = Catalogue(offers=(Offer(id="p", name="p", changes={"NumOfProducts": 2},
                                   acceptance=0.5),), contact_cost=1.0, source="t")
    assert recommend(bank, fits, salt="s")[PROFIT].isna().all()
