"""The generators of other businesses' churn files (analytics.data.layouts): shape, values,
signal, leakage and the files written."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest

from analytics.data.layouts import (BANK_COLUMNS, LAYOUTS, USAGE_COLUMNS, WORKBOOK_COLUMNS,
                                    WORKBOOK_POST_OUTCOME, generate_bank,
                                    generate_telco_workbook, generate_usage_telecom,
                                    write_layout)
from analytics.demo import generate_demo
from analytics.model import ChurnModel
from tests.analytics.layout_reference import PRODUCT_PARAMS, plain_catboost_auc

N = 20_000
I, F, O = np.dtype("int64"), np.dtype("float64"), np.dtype("object")
GENERATORS = {"bank": generate_bank, "usage": generate_usage_telecom,
              "workbook": generate_telco_workbook}
BANK_DTYPES = dict(zip(BANK_COLUMNS, [I, I, O, I, O, O, I, I, F, I, I, I, F, I]))
USAGE_DTYPES = {"State": O, "Account length": I, "Area code": I, "International plan": O,
                "Voice mail plan": O, "Number vmail messages": I,
                **{f"Total {p} {what}": dtype for p in ("day", "eve", "night", "intl")
                   for what, dtype in (("minutes", F), ("calls", I), ("charge", F))},
                "Customer service calls": I, "Churn": O}
WORKBOOK_INTS = {"Count", "Zip Code", "Tenure Months", "Churn Value", "Churn Score", "CLTV"}
WORKBOOK_FLOATS = {"Latitude", "Longitude", "Monthly Charges", "Total Charges"}
WORKBOOK_DTYPES = {c: I if c in WORKBOOK_INTS else F if c in WORKBOOK_FLOATS else O
                   for c in WORKBOOK_COLUMNS}
RATES = {"day": 0.17, "eve": 0.085, "night": 0.045, "intl": 0.27}
# (generator, label, positive value, columns dropped besides the label: ids, post-outcome).
TASKS = {
    "telco": (generate_demo, "Churn", "Yes", ["customerID"]),
    "bank": (generate_bank, "Exited", 1, ["RowNumber", "CustomerId", "Surname"]),
    "usage": (generate_usage_telecom, "Churn", "True", []),
    "workbook": (generate_telco_workbook, "Churn Label", "Yes",
                 ["CustomerID", *WORKBOOK_POST_OUTCOME]),
}


@pytest.fixture(scope="module")
def bank() -> pd.DataFrame:
    return generate_bank(N, seed=3)


@pytest.fixture(scope="module")
def usage() -> pd.DataFrame:
    return generate_usage_telecom(N, seed=3)


@pytest.fixture(scope="module")
def workbook() -> pd.DataFrame:
    return generate_telco_workbook(N, seed=3)


def churned(frame: pd.DataFrame, layout: str) -> pd.Series:
    _, label, positive, _ = TASKS[layout]
    return frame[label] == positive


@pytest.mark.parametrize("layout", sorted(GENERATORS))
def test_deterministic_for_a_seed(layout: str) -> None:
    make = GENERATORS[layout]
    pd.testing.assert_frame_equal(make(500, seed=5), make(500, seed=5))
    assert not make(500, seed=5).equals(make(500, seed=6))


@pytest.mark.parametrize("layout, columns, dtypes", [
    ("bank", BANK_COLUMNS, BANK_DTYPES), ("usage", USAGE_COLUMNS, USAGE_DTYPES),
    ("workbook", WORKBOOK_COLUMNS, WORKBOOK_DTYPES)])
def test_exact_columns_and_dtypes(layout, columns, dtypes) -> None:
    frame = GENERATORS[layout](200, seed=1)
    assert len(frame) == 200 and list(frame.columns) == list(columns) == list(dtypes)
    assert frame.dtypes.to_dict() == dtypes


@pytest.mark.parametrize("layout", ["telco", *sorted(GENERATORS)])
def test_churn_rate_is_between_10_and_30_percent(layout, bank, usage, workbook) -> None:
    frame = {"bank": bank, "usage": usage, "workbook": workbook}.get(layout)
    frame = generate_demo(N, seed=3) if frame is None else frame
    assert 0.10 <= churned(frame, layout).mean() <= 0.30


def test_bank_values(bank: pd.DataFrame) -> None:
    assert bank["RowNumber"].tolist() == list(range(1, N + 1))
    assert bank["CustomerId"].is_unique and bank["CustomerId"].between(10**7, 10**8 - 1).all()
    surnames = bank["Surname"].value_counts()
    assert 100 <= len(surnames) <= 300 and surnames.iloc[0] > 100  # many repeats
    assert bank["CreditScore"].between(350, 850).all()
    shares = bank["Geography"].value_counts(normalize=True)
    assert set(shares.index) == {"France", "Germany", "Spain"}
    assert abs(shares["France"] - 0.50) < 0.02 and abs(shares["Germany"] - 0.25) < 0.02
    assert set(bank["Gender"]) == {"Female", "Male"}
    age = bank["Age"]
    assert age.between(18, 92).all() and age.mean() > age.median() + 1  # right-skewed
    assert 35 <= age.median() <= 40 and age.max() > 75
    assert set(bank["Tenure"]) == set(range(11))  # whole years
    zero = bank["Balance"] == 0.0
    assert 0.30 <= zero.mean() <= 0.45
    held = bank.loc[~zero, "Balance"]
    assert 110_000 < held.mean() < 130_000 and 25_000 < held.std() < 35_000
    assert (held.round(2) == held).all()
    assert set(bank["NumOfProducts"]) == {1, 2, 3, 4}
    for flag in ("HasCrCard", "IsActiveMember", "Exited"):
        assert set(bank[flag]) == {0, 1}, flag
    salary = bank["EstimatedSalary"]
    assert salary.between(10_000, 200_000).all() and (salary.round(2) == salary).all()
    assert not any("charge" in c.lower() for c in bank.columns)


def test_bank_signal(bank: pd.DataFrame) -> None:
    rate = bank["Exited"].groupby
    by_geo, by_products = rate(bank["Geography"]).mean(), rate(bank["NumOfProducts"]).mean()
    assert by_geo["Germany"] > by_geo["France"] + 0.05
    assert rate(bank["IsActiveMember"]).mean()[0] > rate(bank["IsActiveMember"]).mean()[1]
    assert rate(bank["Gender"]).mean()["Female"] > rate(bank["Gender"]).mean()["Male"]
    assert by_products[2] < by_products[1] < by_products[3] <= by_products[4]
    assert bank.loc[bank["Age"].between(45, 65), "Exited"].mean() > \
        2 * bank.loc[bank["Age"] < 35, "Exited"].mean()


def test_usage_values(usage: pd.DataFrame) -> None:
    assert not any("id" in c.lower().split() or "phone" in c.lower() for c in usage.columns)
    assert not any(usage[c].is_unique for c in usage.columns)  # no id column
    assert usage["State"].nunique() == 51 and usage["State"].str.fullmatch("[A-Z]{2}").all()
    assert usage["Account length"].between(1, 243).all()
    assert set(usage["Area code"]) == {408, 415, 510}
    for plan in ("International plan", "Voice mail plan"):
        assert set(usage[plan]) == {"Yes", "No"}, plan
    assert ((usage["Number vmail messages"] > 0) == (usage["Voice mail plan"] == "Yes")).all()
    bill = 0.0
    for period, rate in RATES.items():
        minutes, charge = usage[f"Total {period} minutes"], usage[f"Total {period} charge"]
        assert (minutes >= 0).all() and (usage[f"Total {period} calls"] >= 0).all()
        assert np.allclose(charge, minutes * rate, atol=0.0051), period
        bill = bill + charge
    assert 50 < bill.mean() < 70  # a monthly bill, the sum of the four charges
    assert set(usage["Customer service calls"]) <= set(range(10))
    assert set(usage["Churn"]) == {"True", "False"}


def test_usage_signal(usage: pd.DataFrame) -> None:
    churn = usage["Churn"] == "True"

    def rate(mask):
        return churn[mask].mean()

    intl, vmail = usage["International plan"] == "Yes", usage["Voice mail plan"] == "Yes"
    assert rate(intl) > 2 * rate(~intl)
    assert rate(~vmail) > rate(vmail)
    calls = usage["Customer service calls"]
    assert rate(calls >= 4) > 2 * rate(calls < 4)
    day = usage["Total day minutes"]
    assert rate(day > day.quantile(0.9)) > 2 * rate(day < day.median())


def test_workbook_values(workbook: pd.DataFrame) -> None:
    assert (workbook["Count"] == 1).all() and set(workbook["Country"]) == {"United States"}
    assert set(workbook["State"]) == {"California"}
    assert workbook["City"].nunique() > 30 and "San José" in set(workbook["City"])
    assert workbook["Zip Code"].between(90001, 96162).all()
    assert (workbook["Lat Long"] == workbook["Latitude"].map("{:.6f}".format) + ", "
            + workbook["Longitude"].map("{:.6f}".format)).all()
    assert workbook["Latitude"].between(32, 42.1).all()
    assert workbook["Longitude"].between(-124.5, -114).all()
    assert set(workbook["Senior Citizen"]) == {"Yes", "No"}
    demo = generate_demo(N, seed=3)  # the telco part is the demo under spaced names
    assert (workbook["CustomerID"] == demo["customerID"]).all()
    assert (workbook["Tenure Months"] == demo["tenure"]).all()
    assert (workbook["Monthly Charges"] == demo["MonthlyCharges"]).all()
    assert (workbook["Churn Label"] == demo["Churn"]).all()


def test_workbook_post_outcome_columns_follow_the_label(workbook: pd.DataFrame) -> None:
    churn = workbook["Churn Label"] == "Yes"
    assert (workbook["Churn Value"] == churn.astype(int)).all()
    score, cltv, reason = workbook["Churn Score"], workbook["CLTV"], workbook["Churn Reason"]
    assert score[churn].between(65, 100).all() and score[~churn].between(5, 80).all()
    assert score[churn].mean() > score[~churn].mean() + 25
    assert cltv.between(2000, 6500).all()
    assert 0 < cltv[~churn].mean() - cltv[churn].mean() < 800  # mildly lower for churners
    assert (reason.isna() == ~churn).all()  # blank exactly for stayers
    assert reason[churn].nunique() >= 15
    assert {"Moved", "Attitude of support person"} <= set(reason[churn])


def test_the_reference_uses_the_product_hyper_parameters() -> None:
    defaults = {name: p.default for name, p in
                inspect.signature(ChurnModel.__init__).parameters.items()}
    assert {name: defaults[name] for name in PRODUCT_PARAMS} == PRODUCT_PARAMS


def _auc_marks(layout: str):
    # bank and telco train in ~1-2 s; usage and workbook take ~4-9 s each on two threads.
    return pytest.param(layout, marks=[] if layout in ("bank", "telco") else [pytest.mark.slow])


@pytest.mark.parametrize("layout", [_auc_marks(name) for name in TASKS])
def test_plain_catboost_finds_real_but_not_trivial_signal(layout: str) -> None:
    make, label, positive, drop = TASKS[layout]
    auc = plain_catboost_auc(make(3000, seed=0), label, drop, positive)
    assert 0.70 <= auc <= 0.95, auc


@pytest.mark.slow
def test_the_workbook_churn_score_leaks_the_outcome() -> None:
    frame = generate_telco_workbook(3000, seed=0)
    kept = [c for c in WORKBOOK_POST_OUTCOME if c != "Churn Score"]
    assert plain_catboost_auc(frame, "Churn Label", ["CustomerID", *kept], "Yes") > 0.97


@pytest.mark.parametrize("layout", LAYOUTS)
def test_write_layout_round_trip(layout: str, tmp_path) -> None:
    n, seed = 300, 2
    suffix = ".xlsx" if layout == "workbook" else ".csv"
    path = write_layout(layout, n, tmp_path / "sub" / f"{layout}{suffix}", seed=seed)
    assert path == tmp_path / "sub" / f"{layout}{suffix}" and path.is_file()
    if layout == "telco":
        pd.testing.assert_frame_equal(pd.read_csv(path), generate_demo(n, seed=seed))
    elif layout == "bank":
        pd.testing.assert_frame_equal(pd.read_csv(path), generate_bank(n, seed=seed))
    elif layout == "usage":
        expected = generate_usage_telecom(n, seed=seed)
        expected["Churn"] = expected["Churn"] == "True"  # readers see the text as booleans
        pd.testing.assert_frame_equal(pd.read_csv(path), expected)
    elif layout == "workbook":
        assert pd.ExcelFile(path).sheet_names == ["Notes", "Telco_Churn"]
        notes = pd.read_excel(path, sheet_name="Notes", header=None)
        assert notes.shape[1] == 1 and 2 <= len(notes) <= 10 and "Telco" in notes.iloc[0, 0]
        back = pd.read_excel(path, sheet_name="Telco_Churn")
        pd.testing.assert_frame_equal(back, generate_telco_workbook(n, seed=seed))
    else:
        raw = path.read_bytes()
        assert "San José".encode("latin-1") in raw
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
        header, first = raw.decode("latin-1").splitlines()[:2]
        assert header.split(";") == list(WORKBOOK_COLUMNS)
        assert "," in first.split(";")[WORKBOOK_COLUMNS.index("Monthly Charges")]
        back = pd.read_csv(path, sep=";", decimal=",", encoding="latin-1")
        pd.testing.assert_frame_equal(back, generate_telco_workbook(n, seed=seed))


def test_write_layout_refuses_an_unknown_layout(tmp_path) -> None:
    with pytest.raises(ValueError, match="unknown layout 'saas'"):
        write_layout("saas", 10, tmp_path / "x.csv")
