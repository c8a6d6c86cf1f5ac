"""Loading, validation and the as-of feature date."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.dataset import ACTIVE, CHURN, ID, MONTHLY, TENURE
from analytics.demo import generate_demo
from analytics.errors import DataError
from analytics.loaders import load_demo, load_path, load_telco, read_interconnect


def _write(tmp_path, frame: pd.DataFrame, name="customers.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def small_telco(tmp_path):
    frame = generate_demo(200, seed=3)
    return frame, tmp_path


def test_telco_file_loads_with_blank_total_charges_coerced_and_counted(telco_path):
    table = load_telco(telco_path)
    c = table.customers
    assert len(c) == 7043
    assert c[CHURN].sum() == 1869
    assert table.quality.coerced == {"TotalCharges: blank -> missing": 11}
    # Tenure-0 customers have been billed nothing yet: 0, not missing.
    assert (c.loc[c[TENURE] == 0, "TotalCharges"] == 0).all()
    assert "Contract" in table.categorical and "tenure" in table.numeric
    assert isinstance(c["Contract"].dtype, pd.CategoricalDtype)
    assert (c[ACTIVE] == (c[CHURN] == 0)).all()


def test_interconnect_join_and_as_of_features(interconnect_path):
    table = load_path(interconnect_path)
    assert table.as_of == "2019-10-01" and table.extraction_date == "2020-02-01"
    c = table.customers.set_index(ID)
    # Joined: customers absent from internet.csv have no internet and no add-ons.
    no_net = c["InternetService"] == "No"
    assert no_net.sum() == 7043 - 5517
    assert (c.loc[no_net, "OnlineSecurity"] == "No internet service").all()
    assert (c["PhoneService"] == "No").sum() == 7043 - 6361
    assert c[CHURN].sum() == 1869
    # Training rows: features as of 2019-10-01, nobody who started after it.
    train = table.training.set_index(ID)
    assert len(train) == 7043 - 701
    assert train["tenure"].max() == 72  # 2013-10-01 .. 2019-10-01
    raw = pd.read_csv(interconnect_path / "contract.csv").set_index("customerID")
    cid = raw.index[raw["EndDate"].ne("No")][0]
    begin = pd.Timestamp(raw.loc[cid, "BeginDate"])
    expected = (2019 - begin.year) * 12 + (10 - begin.month)
    assert train.loc[cid, "tenure"] == expected
    # TotalCharges is recomputed at the as-of date, not the leaky extracted value.
    assert train.loc[cid, "TotalCharges"] == pytest.approx(expected * train.loc[cid, MONTHLY])
    # Active customers are scored as of the extraction date (4 months later).
    active_id = raw.index[(raw["EndDate"] == "No") & (raw["BeginDate"] < "2019-01-01")][0]
    assert c.loc[active_id, "tenure"] == train.loc[active_id, "tenure"] + 4


def test_interconnect_features_carry_no_leak(interconnect_path):
    """Churners' tenure at as-of must not be their (shorter) contract duration at extraction."""
    table = load_path(interconnect_path)
    raw = read_interconnect(interconnect_path).set_index("customerID")
    train = table.training.set_index(ID)
    churners = train.index[train[CHURN] == 1]
    end = pd.to_datetime(raw.loc[churners, "EndDate"])
    begin = pd.to_datetime(raw.loc[churners, "BeginDate"])
    duration = (end.dt.year - begin.dt.year) * 12 + (end.dt.month - begin.dt.month)
    # At as-of every churner is still a customer: tenure <= duration, and strictly less
    # for those who left after October.
    assert (train.loc[churners, "tenure"] <= duration).all()
    assert (train.loc[churners, "tenure"] < duration).mean() > 0.7


def test_demo_table_default_and_dated():
    table = load_demo(500, seed=1)
    assert len(table.customers) == 500 and table.as_of is None
    dated = load_demo(500, seed=1, with_dates=True)
    assert dated.as_of is not None and len(dated.training) <= 500


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(DataError, match="nope.csv: file or folder not found"):
        load_path(tmp_path / "nope.csv")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(DataError, match="empty.csv: the file is empty"):
        load_path(path)


def test_header_only(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text(",".join(generate_demo(1).columns) + "\n")
    with pytest.raises(DataError, match="no data rows"):
        load_path(path)


def test_a_file_without_revenue_loads_with_the_money_left_out(small_telco):
    frame, tmp = small_telco
    path = _write(tmp, frame.drop(columns="MonthlyCharges"))
    table = load_path(path)
    assert table.config.revenue_columns == ()
    assert table.customers["monthly_charges"].isna().all()
    assert any("no revenue column" in note for note in table.quality.notes)


def test_non_numeric_values_are_reported_with_row_numbers(small_telco):
    frame, tmp = small_telco
    frame["MonthlyCharges"] = frame["MonthlyCharges"].astype(object)
    frame.loc[4, "MonthlyCharges"] = "abc"
    path = _write(tmp, frame)
    with pytest.raises(DataError) as err:
        load_path(path)
    text = str(err.value)
    assert "column 'MonthlyCharges'" in text and "row 6: 'abc'" in text  # header is row 1


def test_duplicate_ids(small_telco):
    frame, tmp = small_telco
    frame.loc[7, "customerID"] = frame.loc[2, "customerID"]
    with pytest.raises(DataError, match="1 duplicate customer id") as err:
        load_path(_write(tmp, frame))
    assert frame.loc[2, "customerID"] in str(err.value)


def test_unrecognised_labels_list_values_found(small_telco):
    frame, tmp = small_telco
    frame.loc[0, "Churn"] = "maybe"
    with pytest.raises(DataError, match="unrecognised churn labels") as err:
        load_path(_write(tmp, frame))
    assert "'maybe'" in str(err.value) and "row 2" in str(err.value)


def test_single_class_cannot_train(small_telco):
    frame, tmp = small_telco
    frame["Churn"] = "No"
    with pytest.raises(DataError, match="needs both classes"):
        load_path(_write(tmp, frame))


def test_labels_accept_common_spellings(small_telco):
    frame, tmp = small_telco
    frame["Churn"] = np.where(frame["Churn"] == "Yes", "TRUE", "false")
    table = load_path(_write(tmp, frame))
    assert table.customers[CHURN].sum() == (frame["Churn"] == "TRUE").sum()


def test_interconnect_missing_table_names_the_file(tmp_path, interconnect_path):
    for name in ("contract", "personal", "internet"):
        (tmp_path / f"{name}.csv").write_bytes((interconnect_path / f"{name}.csv").read_bytes())
    with pytest.raises(DataError, match="phone.csv: file not found"):
        load_path(tmp_path)


def test_folder_without_tables(tmp_path):
    with pytest.raises(DataError, match="no data file.*Interconnect layout"):
        load_path(tmp_path)


def test_bad_dates_reported(tmp_path):
    frame = generate_demo(100, seed=2, with_dates=True)
    frame.loc[3, "BeginDate"] = "yesterday"
    contract = frame.rename(columns={"Contract": "Type"})[
        ["customerID", "BeginDate", "EndDate", "Type", "PaperlessBilling", "PaymentMethod",
         "MonthlyCharges", "TotalCharges"]]
    contract.to_csv(tmp_path / "contract.csv", index=False)
    frame[["customerID", "gender", "SeniorCitizen", "Partner", "Dependents"]].to_csv(
        tmp_path / "personal.csv", index=False)
    net = frame[frame["InternetService"] != "No"]
    net[["customerID", "InternetService", "OnlineSecurity", "OnlineBackup", "DeviceProtection",
         "TechSupport", "StreamingTV", "StreamingMovies"]].to_csv(tmp_path / "internet.csv",
                                                                  index=False)
    ph = frame[frame["PhoneService"] == "Yes"]
    ph[["customerID", "MultipleLines"]].to_csv(tmp_path / "phone.csv", index=False)
    with pytest.raises(DataError, match=r"column 'BeginDate'.*row 5: 'yesterday'"):
        load_path(tmp_path)


def test_numbers_of_a_long_text_column_parse_each_distinct_value_once_the_same_way():
    import numpy as np
    import pandas as pd

    from analytics.dataset import numbers_of
    cells = np.array([" 12.5", "3", None, "abc", "", "1e3", " 7 ", "nan", "-2", 4.0, "inf"],
                     dtype=object)
    series = pd.Series(np.random.default_rng(0).choice(cells, 50_000), dtype=object)
    expected = pd.to_numeric(series.astype(str).str.strip(), errors="coerce")
    np.testing.assert_array_equal(numbers_of(series).to_numpy(), expected.to_numpy(dtype=float))
