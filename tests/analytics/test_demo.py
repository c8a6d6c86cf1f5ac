"""Behaviour checks for analytics.demo.generate_demo (synthetic Telco-shaped customers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.demo import generate_demo

TELCO_COLUMNS = [
    "customerID", "gender", "SeniorCitizen", "Partner", "Dependents", "tenure",
    "PhoneService", "MultipleLines", "InternetService", "OnlineSecurity", "OnlineBackup",
    "DeviceProtection", "TechSupport", "StreamingTV", "StreamingMovies", "Contract",
    "PaperlessBilling", "PaymentMethod", "MonthlyCharges", "TotalCharges", "Churn",
]
ADDONS = ["OnlineSecurity", "OnlineBackup", "DeviceProtection", "TechSupport",
          "StreamingTV", "StreamingMovies"]
YES_NO = {"Yes", "No"}


@pytest.fixture(scope="module")
def big() -> pd.DataFrame:
    return generate_demo(20_000, seed=7)


@pytest.fixture(scope="module")
def dated() -> pd.DataFrame:
    return generate_demo(20_000, seed=11, with_dates=True, extraction_date="2020-02-01")


def churn_rate_by(df: pd.DataFrame, column: str) -> pd.Series:
    return (df["Churn"] == "Yes").groupby(df[column]).mean()


def test_columns_and_vocabularies(big: pd.DataFrame) -> None:
    assert list(big.columns) == TELCO_COLUMNS
    assert len(big) == 20_000
    assert set(big["gender"]) == {"Male", "Female"}
    assert big["SeniorCitizen"].dtype == np.int64
    assert set(big["SeniorCitizen"]) == {0, 1}
    for col in ["Partner", "Dependents", "PhoneService", "PaperlessBilling", "Churn"]:
        assert set(big[col]) == YES_NO, col
    assert set(big["MultipleLines"]) == YES_NO | {"No phone service"}
    assert set(big["InternetService"]) == {"DSL", "Fiber optic", "No"}
    for col in ADDONS:
        assert set(big[col]) == YES_NO | {"No internet service"}, col
    assert set(big["Contract"]) == {"Month-to-month", "One year", "Two year"}
    assert set(big["PaymentMethod"]) == {
        "Electronic check", "Mailed check", "Bank transfer (automatic)",
        "Credit card (automatic)"}
    assert big["tenure"].dtype == np.int64
    assert big["tenure"].between(0, 72).all()
    assert {0, 1, 72} <= set(big["tenure"])


def test_charges(big: pd.DataFrame) -> None:
    monthly, total = big["MonthlyCharges"], big["TotalCharges"]
    assert monthly.dtype == np.float64 and total.dtype == np.float64
    assert monthly.between(18.25, 118.75).all()
    assert np.allclose(monthly, monthly.round(2))
    assert total.notna().all()
    assert (total[big["tenure"] == 0] == 0.0).all()
    one = big["tenure"] == 1
    assert np.allclose(total[one], monthly[one])
    ratio = (total / (big["tenure"] * monthly))[big["tenure"] > 1]
    assert ratio.between(0.5, 1.5).all()
    assert abs(ratio.median() - 1.0) < 0.02
    # Fiber costs more than DSL, which costs more than phone-only service.
    means = monthly.groupby(big["InternetService"]).mean()
    assert means["Fiber optic"] > means["DSL"] > means["No"]


def test_determinism_and_seed_sensitivity() -> None:
    a = generate_demo(500, seed=3)
    pd.testing.assert_frame_equal(a, generate_demo(500, seed=3))
    b = generate_demo(500, seed=4)
    assert not a.equals(b)
    assert (a["customerID"] != b["customerID"]).any()


def test_customer_ids_unique_and_telco_style(big: pd.DataFrame) -> None:
    ids = big["customerID"]
    assert ids.is_unique
    assert ids.str.fullmatch(r"\d{4}-[A-Z]{5}").all()


def test_churn_rate_close_to_telco(big: pd.DataFrame) -> None:
    assert 0.24 <= (big["Churn"] == "Yes").mean() <= 0.28


def test_contract_ordering(big: pd.DataFrame) -> None:
    rate = churn_rate_by(big, "Contract")
    assert rate["Month-to-month"] > rate["One year"] > rate["Two year"]
    assert rate["Month-to-month"] > 0.35 and rate["Two year"] < 0.08


def test_fiber_and_electronic_check_churn_most(big: pd.DataFrame) -> None:
    internet = churn_rate_by(big, "InternetService")
    assert internet.idxmax() == "Fiber optic"
    payment = churn_rate_by(big, "PaymentMethod")
    assert payment.idxmax() == "Electronic check"


def test_no_service_markers_consistent(big: pd.DataFrame) -> None:
    no_internet = big["InternetService"] == "No"
    for col in ADDONS:
        assert ((big[col] == "No internet service") == no_internet).all(), col
    no_phone = big["PhoneService"] == "No"
    assert ((big["MultipleLines"] == "No phone service") == no_phone).all()


def test_with_dates_consistency(dated: pd.DataFrame) -> None:
    assert list(dated.columns) == TELCO_COLUMNS + ["BeginDate", "EndDate"]
    begin = pd.to_datetime(dated["BeginDate"], format="%Y-%m-%d")
    assert (begin.dt.day == 1).all()
    churned = dated["Churn"] == "Yes"
    assert ((dated["EndDate"] == "No") == ~churned).all()
    allowed = {f"{m} 00:00:00" for m in ["2019-10-01", "2019-11-01", "2019-12-01", "2020-01-01"]}
    end_values = dated.loc[churned, "EndDate"]
    assert set(end_values) == allowed
    shares = end_values.value_counts(normalize=True)
    assert (shares > 0.2).all() and (shares < 0.3).all()
    end = pd.to_datetime(end_values, format="%Y-%m-%d %H:%M:%S")
    end = end.reindex(dated.index).fillna(pd.Timestamp("2020-02-01"))
    assert (begin <= end).all()
    months = (end.dt.year - begin.dt.year) * 12 + (end.dt.month - begin.dt.month)
    assert (months == dated["tenure"]).all()
    # Nobody began before the service did, 72 months before the extraction month.
    assert begin.min() == pd.Timestamp("2014-02-01")


def test_at_an_earlier_as_of_date_no_tenure_is_only_leavers(dated: pd.DataFrame) -> None:
    # Features are taken at the first churn month; were churners' tenures counted from a
    # start before the service's, every tenure above 68 months there would be a leaver's.
    begin = pd.to_datetime(dated["BeginDate"], format="%Y-%m-%d")
    as_of = pd.Timestamp("2019-10-01")
    known = begin <= as_of
    at_as_of = (as_of.year - begin.dt.year) * 12 + (as_of.month - begin.dt.month)
    churned = dated["Churn"] == "Yes"
    assert at_as_of[known & churned].max() <= at_as_of[known & ~churned].max() == 68


def test_dates_change_only_the_tenure_of_leavers_who_would_have_begun_too_early() -> None:
    plain = generate_demo(3000, seed=5)
    dated = generate_demo(3000, seed=5, with_dates=True)
    same = [c for c in TELCO_COLUMNS if c not in ("tenure", "TotalCharges")]
    pd.testing.assert_frame_equal(plain[same], dated[same])
    changed = plain["tenure"] != dated["tenure"]
    assert changed.any() and (dated["Churn"][changed] == "Yes").all()
    assert (dated["tenure"][changed] < plain["tenure"][changed]).all()
    assert (dated["BeginDate"][changed] == "2014-02-01").all()
    assert (plain["TotalCharges"][~changed] == dated["TotalCharges"][~changed]).all()
    assert (dated["TotalCharges"][changed] < plain["TotalCharges"][changed]).all()


def test_other_extraction_date() -> None:
    df = generate_demo(2_000, seed=1, with_dates=True, extraction_date="2023-03-01")
    churned = df["Churn"] == "Yes"
    assert set(df.loc[churned, "EndDate"].str[:10]) == {
        "2022-11-01", "2022-12-01", "2023-01-01", "2023-02-01"}
    assert df.loc[df["tenure"] == 0, "BeginDate"].eq("2023-03-01").all()


def test_single_customer() -> None:
    one = generate_demo(1, seed=0)
    assert one.shape == (1, 21)
    assert list(one.columns) == TELCO_COLUMNS
    assert generate_demo(1, seed=0, with_dates=True).shape == (1, 23)


@pytest.mark.parametrize("n", [0, -5])
def test_invalid_size_raises(n: int) -> None:
    with pytest.raises(ValueError, match="n_customers"):
        generate_demo(n)
