"""analytics.data.readers: CSV dialects, encodings, Excel, Parquet, typing and error messages."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics.data.readers import ReadInfo, read_table, sniff_csv
from analytics.errors import DataError


def write(path, text: str, encoding: str = "utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def is_text(series: pd.Series) -> bool:
    return isinstance(series.dtype, pd.CategoricalDtype)


# -- dialects and encodings ----------------------------------------------------------------

@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_delimiters_are_sniffed(tmp_path, sep):
    rows = (["id", "plan", "monthly", "tenure"], ["a1", "Basic", "19.5", "3"],
            ["a2", "Pro", "42", "12"])
    path = write(tmp_path / "t.csv", "\n".join(sep.join(r) for r in rows) + "\n")
    frame, info = read_table(path)
    assert list(frame.columns) == ["id", "plan", "monthly", "tenure"]
    assert info.delimiter == sep and info.format == "csv"
    assert frame["monthly"].tolist() == [19.5, 42.0] and frame["monthly"].dtype == np.float64
    assert frame["tenure"].tolist() == [3, 12] and frame["tenure"].dtype == np.int64
    assert is_text(frame["plan"]) and frame["plan"].tolist() == ["Basic", "Pro"]
    assert sniff_csv(path) == {"encoding": "utf-8", "delimiter": sep, "decimal": "."}


def test_utf8_bom_does_not_leak_into_the_first_name(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfcustomerID,Stadt\nc1,K\xc3\xb6ln\n")
    frame, info = read_table(path)
    assert list(frame.columns) == ["customerID", "Stadt"]
    assert frame["Stadt"].tolist() == ["Köln"] and info.encoding == "utf-8-sig"
    # a given encoding without -sig still gives a clean name
    frame, _ = read_table(path, encoding="utf-8")
    assert list(frame.columns)[0] == "customerID"


def test_latin1_text_is_read_correctly(tmp_path):
    path = write(tmp_path / "l1.csv", "name;city\nRené;Zürich\nJosé;Genève\n", "latin-1")
    frame, info = read_table(path)
    assert frame["name"].tolist() == ["René", "José"]
    assert frame["city"].tolist() == ["Zürich", "Genève"]
    assert info.encoding == "latin-1" and "Latin-1" in info.describe()


def test_windows_1252_specials_are_read(tmp_path):
    path = write(tmp_path / "w.csv", "offer,price\n“Winter” €5,5\n", "cp1252")
    frame, info = read_table(path)
    assert info.encoding == "cp1252" and frame["offer"].tolist() == ["“Winter” €5"]


def test_non_utf8_bytes_after_the_sniffed_sample_fall_back_to_cp1252(tmp_path):
    lines = ["id,city"] + [f"{i},Paris" for i in range(40_000)] + ["40000,Besançon"]
    path = write(tmp_path / "late.csv", "\n".join(lines) + "\n", "cp1252")
    assert path.stat().st_size > 256 * 1024
    frame, info = read_table(path)
    assert info.encoding == "cp1252" and frame["city"].iloc[-1] == "Besançon"
    assert len(frame) == 40_001


def test_utf16_with_bom_is_read(tmp_path):
    path = write(tmp_path / "u16.txt", "\ufeffid\tname\n1\tÅsa\n", "utf-16-le")
    frame, info = read_table(path)
    assert info.encoding == "utf-16" and info.delimiter == "\t"
    assert frame["name"].tolist() == ["Åsa"] and frame["id"].tolist() == [1]


def test_decimal_comma_with_semicolons_and_thousands(tmp_path):
    text = "id;charge;total;count\na;12,5;1.234,56;1.000\nb;7,25;10,00;2.500\nc;;3,1;7\n"
    path = write(tmp_path / "eu.csv", text)
    frame, info = read_table(path)
    assert info.decimal == "," and info.delimiter == ";"
    assert frame["charge"].iloc[:2].tolist() == [12.5, 7.25] and np.isnan(frame["charge"].iloc[2])
    assert frame["total"].tolist() == [1234.56, 10.0, 3.1] and frame["total"].dtype == np.float64
    assert frame["count"].tolist() == [1000, 2500, 7] and frame["count"].dtype == np.int64
    assert info.describe() == "CSV, ';'-separated, decimal comma, UTF-8, 3 rows x 4 columns"


def test_quoted_decimal_point_thousands(tmp_path):
    path = write(tmp_path / "us.csv", 'id,revenue\na,"1,234.50"\nb,"12,000.00"\nc,7.5\n')
    frame, info = read_table(path)
    assert info.decimal == "." and frame["revenue"].tolist() == [1234.5, 12000.0, 7.5]
    ints = write(tmp_path / "ints.csv", 'id,units\na,"1,234"\nb,"12,000"\nc,7\n')
    frame, info = read_table(ints)
    assert info.decimal == "." and frame["units"].tolist() == [1234, 12000, 7]
    assert frame["units"].dtype == np.int64


# -- typing --------------------------------------------------------------------------------

def test_numbers_text_blanks_and_whitespace(tmp_path):
    text = ("id,plan,age,score,note\n"
            "1, Basic ,30,0.5,\n"
            "2,Basic,,1.5, x \n"
            "3,Pro ,41,NA,y\n")
    frame, _ = read_table(write(tmp_path / "t.csv", text))
    assert frame["id"].dtype == np.int64
    assert frame["age"].dtype == np.float64 and np.isnan(frame["age"].iloc[1])
    assert frame["age"].iloc[[0, 2]].tolist() == [30.0, 41.0]
    assert frame["score"].dtype == np.float64 and np.isnan(frame["score"].iloc[2])
    assert frame["plan"].tolist() == ["Basic", "Basic", "Pro"]
    assert sorted(frame["plan"].cat.categories) == ["Basic", "Pro"]  # " Basic " merged
    assert frame["note"].tolist() == ["", "x", "y"] and frame["note"].isna().sum() == 0


def test_text_na_tokens_stay_text(tmp_path):
    frame, _ = read_table(write(tmp_path / "t.csv", "id,country\n1,NA\n2,FR\n3,\n"))
    assert frame["country"].tolist() == ["NA", "FR", ""]


def test_telco_total_charges_with_spaces_stays_text(tmp_path):
    rows = [f"c{i},{i % 70 + 1},{20 + i % 50}.5,{(i % 70 + 1) * 20.5:.2f}" for i in range(3000)]
    rows[488] = "c488,0,52.55, "
    rows[2900] = "c2900,0,20.25, "
    path = write(tmp_path / "telco.csv", "customerID,tenure,MonthlyCharges,TotalCharges\n"
                 + "\n".join(rows) + "\n")
    frame, _ = read_table(path)
    assert frame["MonthlyCharges"].dtype == np.float64
    assert is_text(frame["TotalCharges"])
    assert (frame["TotalCharges"] == "").sum() == 2
    assert frame["TotalCharges"].iloc[0] == "20.50"


def test_a_text_value_far_down_keeps_the_column_text(tmp_path):
    rows = [f"{i},{i % 9}" for i in range(300_000)] + ["300000,unknown"]
    frame, _ = read_table(write(tmp_path / "late.csv", "id,level\n" + "\n".join(rows) + "\n"))
    assert is_text(frame["level"]) and frame["level"].iloc[-1] == "unknown"
    assert frame["level"].iloc[10] == "1" and frame["id"].dtype == np.int64


def test_booleans_become_true_false_text(tmp_path):
    frame, _ = read_table(write(tmp_path / "b.csv", "id,paperless\n1,true\n2,FALSE\n3,\n"))
    assert is_text(frame["paperless"])
    assert frame["paperless"].tolist() == ["True", "False", ""]


def test_dates_and_times_stay_text_as_spelled(tmp_path):
    text = ("id,start,end,stamp,at,eu\n"
            "1,2020-01-01,,2020-01-01 10:00,12:30,31/01/2020\n"
            "2,2021-02-28,2022-03-01,2020-01-02T11:00:00,13:00,01/02/2020\n")
    frame, _ = read_table(write(tmp_path / "d.csv", text))
    for column in frame.columns[1:]:
        assert is_text(frame[column]), column
    assert frame["start"].tolist() == ["2020-01-01", "2021-02-28"]
    assert frame["end"].tolist() == ["", "2022-03-01"]
    assert frame["stamp"].tolist() == ["2020-01-01 10:00", "2020-01-02T11:00:00"]
    assert frame["at"].tolist() == ["12:30", "13:00"]
    assert frame["eu"].tolist() == ["31/01/2020", "01/02/2020"]


def test_names_are_stripped_and_empty_ones_numbered(tmp_path):
    frame, _ = read_table(write(tmp_path / "n.csv", " Customer ID ,,Monthly Charges, \n1,2,3,4\n"))
    assert list(frame.columns) == ["Customer ID", "column_2", "Monthly Charges", "column_4"]


def test_quoted_newlines_in_values(tmp_path):
    text = 'id,comment,amount\n1,"first line\nsecond line",3.5\n2,"plain",4\n'
    frame, _ = read_table(write(tmp_path / "q.csv", text))
    assert frame["comment"].tolist() == ["first line\nsecond line", "plain"]
    assert frame["amount"].tolist() == [3.5, 4.0]


def test_header_only_gives_an_empty_frame(tmp_path):
    frame, info = read_table(write(tmp_path / "h.csv", "id,plan\n"))
    assert list(frame.columns) == ["id", "plan"] and len(frame) == 0 and info.rows == 0


# -- overrides and nrows -------------------------------------------------------------------

def test_given_values_beat_sniffing(tmp_path):
    path = write(tmp_path / "o.csv", "id;amount\n1;2,5\n3;4,0\n7;1,25\n")
    sniffed, info = read_table(path)
    assert info.delimiter == ";" and info.decimal == ","
    assert sniffed["amount"].tolist() == [2.5, 4.0, 1.25]
    frame, info = read_table(path, decimal=".")
    assert info.decimal == "." and frame["amount"].tolist() == ["2,5", "4,0", "1,25"]
    piped = write(tmp_path / "p.csv", "a;b|c\n1;2|3\n4;5|6\n")
    assert list(read_table(piped)[0].columns) == ["a", "b|c"]
    frame, info = read_table(piped, delimiter="|")
    assert info.delimiter == "|" and list(frame.columns) == ["a;b", "c"]
    assert frame["c"].tolist() == [3, 6]
    latin = write(tmp_path / "l.csv", "name\nJosé\n", "latin-1")
    assert read_table(latin, encoding="cp1252")[1].encoding == "cp1252"
    assert read_table(latin, encoding="latin1")[0]["name"].tolist() == ["José"]


def test_nrows_reads_only_the_first_rows(tmp_path):
    rows = [f"{i},p{i % 3},{i * 0.5}" for i in range(200_000)]
    rows[150_000] = "150000,p0,oops"  # past the preview: must not matter
    path = write(tmp_path / "big.csv", "id,plan,value\n" + "\n".join(rows) + "\n")
    frame, info = read_table(path, nrows=5)
    assert info.rows == 5 and frame["id"].tolist() == [0, 1, 2, 3, 4]
    assert frame["value"].dtype == np.float64 and is_text(frame["plan"])
    assert read_table(path, nrows=0)[0].shape == (0, 3)


def test_nrows_past_the_first_block_widens_types(tmp_path):
    rows = [f"{i},{i % 5}" for i in range(120_000)] + ["120000,2.5"] + ["120001,"]
    path = write(tmp_path / "w.csv", "id,level\n" + "\n".join(rows) + "\n")
    frame, _ = read_table(path, nrows=120_002)
    assert frame["level"].dtype == np.float64 and frame["level"].iloc[-2] == 2.5
    assert np.isnan(frame["level"].iloc[-1])


# -- Excel and Parquet ---------------------------------------------------------------------

@pytest.fixture
def workbook(tmp_path):
    path = tmp_path / "book.xlsx"
    customers = pd.DataFrame({
        " Customer ID": ["a", "b", "c"], "Monthly Charges": [10.5, 20.0, 30.25],
        "Tenure": [1, 2, None], "Total": [10.5, " ", 3], "Start": [
            dt.datetime(2020, 1, 1), dt.datetime(2021, 6, 30), None],
        "Paperless": [True, False, None], "Plan ": [" Basic", "Pro", None]})
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"note": ["read me"]}).to_excel(writer, sheet_name="About", index=False)
        customers.to_excel(writer, sheet_name="Customers", index=False)
    return path


def test_excel_first_sheet_by_default(workbook):
    frame, info = read_table(workbook)
    assert info.format == "excel" and info.sheet == "About"
    assert info.sheets == ["About", "Customers"] and frame["note"].tolist() == ["read me"]


def test_excel_sheet_by_name_case_insensitive_and_typed(workbook):
    frame, info = read_table(workbook, sheet="customers")
    assert info.sheet == "Customers"
    assert list(frame.columns) == ["Customer ID", "Monthly Charges", "Tenure", "Total", "Start",
                                   "Paperless", "Plan"]
    assert frame["Monthly Charges"].tolist() == [10.5, 20.0, 30.25]
    assert frame["Tenure"].dtype == np.float64 and np.isnan(frame["Tenure"].iloc[2])
    assert is_text(frame["Total"]) and frame["Total"].tolist() == ["10.5", "", "3"]
    assert frame["Start"].tolist() == ["2020-01-01", "2021-06-30", ""]
    assert frame["Paperless"].tolist() == ["True", "False", ""]
    assert frame["Plan"].tolist() == ["Basic", "Pro", ""] and is_text(frame["Customer ID"])
    assert info.describe() == "Excel, sheet 'Customers' (2 of 2), 3 rows x 7 columns"


def test_excel_unknown_sheet_lists_the_sheets(workbook):
    with pytest.raises(DataError) as err:
        read_table(workbook, sheet="Churn")
    assert "'Churn'" in str(err.value) and "'About', 'Customers'" in str(err.value)
    assert str(workbook) in str(err.value)


def test_excel_nrows_and_integers(tmp_path):
    path = tmp_path / "n.xlsx"
    pd.DataFrame({"id": range(1, 51), "when": [dt.datetime(2020, 1, 1, 8, 30)] * 50}).to_excel(
        path, index=False)
    frame, _ = read_table(path, nrows=3)
    assert frame["id"].tolist() == [1, 2, 3] and frame["id"].dtype == np.int64
    assert frame["when"].tolist() == ["2020-01-01 08:30:00"] * 3


def test_a_csv_that_is_really_an_xlsx_is_read_as_excel(tmp_path):
    path = tmp_path / "export.csv"
    pd.DataFrame({"id": ["x"], "fee": [9.99]}).to_excel(path, index=False, engine="openpyxl")
    frame, info = read_table(path)
    assert info.format == "excel" and frame["fee"].tolist() == [9.99]


def test_parquet_types(tmp_path):
    path = tmp_path / "t.parquet"
    table = pa.table({
        "id": pa.array(["a", " b", None]), "age": pa.array([30, None, 41], pa.int64()),
        "fee": pa.array([1.5, 2.5, 3.5]), "flag": pa.array([True, None, False]),
        "day": pa.array([dt.datetime(2020, 1, 1), dt.datetime(2020, 1, 2), None],
                        pa.timestamp("us")),
        "at": pa.array([dt.datetime(2020, 1, 1, 10, 5), None, dt.datetime(2020, 1, 3)],
                       pa.timestamp("ns")),
        "born": pa.array([dt.date(1990, 5, 17), None, dt.date(1980, 1, 1)], pa.date32()),
        "plan": pa.array(["Pro", "Pro", "Basic"]).dictionary_encode()})
    pq.write_table(table, path)
    frame, info = read_table(path)
    assert info.format == "parquet" and info.describe() == "Parquet, 3 rows x 8 columns"
    assert frame["id"].tolist() == ["a", "b", ""] and is_text(frame["id"])
    assert frame["age"].dtype == np.float64 and frame["age"].iloc[2] == 41
    assert frame["fee"].tolist() == [1.5, 2.5, 3.5]
    assert frame["flag"].tolist() == ["True", "", "False"]
    assert frame["day"].tolist() == ["2020-01-01", "2020-01-02", ""]
    assert frame["at"].tolist() == ["2020-01-01 10:05:00", "", "2020-01-03 00:00:00"]
    assert frame["born"].tolist() == ["1990-05-17", "", "1980-01-01"]
    assert frame["plan"].tolist() == ["Pro", "Pro", "Basic"]
    assert read_table(path, nrows=2)[0]["fee"].tolist() == [1.5, 2.5]


def test_read_info_as_dict(tmp_path):
    _, info = read_table(write(tmp_path / "t.csv", "a,b\n1,2\n"))
    assert isinstance(info, ReadInfo)
    assert info.as_dict() == {"file": str(tmp_path / "t.csv"), "format": "csv",
                              "encoding": "utf-8", "delimiter": ",", "decimal": ".",
                              "sheet": None, "sheets": [], "rows": 1, "columns": 2}


# -- errors --------------------------------------------------------------------------------

def message(path, **kwargs) -> str:
    with pytest.raises(DataError) as err:
        read_table(path, **kwargs)
    text = str(err.value)
    assert str(path) in text
    return text


def test_missing_file_folder_and_empty(tmp_path):
    assert "file not found" in message(tmp_path / "nope.csv")
    assert "folder" in message(tmp_path)
    assert "empty" in message(write(tmp_path / "e.csv", ""))
    assert "empty" in message(write(tmp_path / "e2.csv", "\n\n  \n"))


def test_binary_garbage(tmp_path):
    path = tmp_path / "g.csv"
    path.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8)))
    assert "binary" in message(path)
    image = tmp_path / "img.csv"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    assert "PNG" in message(image)


def test_undecodable_bytes_name_the_encoding(tmp_path):
    path = write(tmp_path / "l.csv", "name\nJosé\n", "latin-1")
    text = message(path, encoding="utf-8")
    assert "utf-8" in text and "0xe9" in text and "line 2" in text
    assert "unknown encoding" in message(path, encoding="klingon")


def test_undecodable_bytes_past_the_sample(tmp_path):
    lines = ["id,city"] + [f"{i},Paris" for i in range(40_000)] + ["40000,Besan\xe7on"]
    path = write(tmp_path / "late.csv", "\n".join(lines) + "\n", "latin-1")
    text = message(path, encoding="utf-8")
    assert "utf-8" in text and "line 40,002" in text


def test_ragged_rows_name_the_line(tmp_path):
    header = ",".join(f"c{i}" for i in range(21))
    rows = [",".join(str(i + j) for j in range(21)) for i in range(60)]
    rows[55] = ",".join(["9"] * 23)  # file line 57 (header is line 1)
    path = write(tmp_path / "r.csv", header + "\n" + "\n".join(rows) + "\n")
    assert "row 57 has 23 fields, the header has 21" in message(path)


def test_ragged_row_far_down_a_big_file(tmp_path):
    rows = [f"{i},a,{i}" for i in range(300_000)]
    rows[250_000] = "250000,a"
    path = write(tmp_path / "r.csv", "id,x,y\n" + "\n".join(rows) + "\n")
    assert "row 250002 has 2 fields, the header has 3 (e.g. '250000,a')" in message(path)


def test_duplicate_names_after_stripping(tmp_path):
    path = write(tmp_path / "d.csv", "id,Age,x, Age \n1,2,3,4\n")
    assert "duplicate column name 'Age' (columns 2 and 4)" in message(path)
    book = tmp_path / "d.xlsx"
    pd.DataFrame([["id", "Age", "Age "], [1, 2, 3]]).to_excel(book, index=False, header=False)
    assert "duplicate column name 'Age' (columns 2 and 3)" in message(book)


def test_old_xls_and_damaged_files(tmp_path):
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500)
    assert "old Excel .xls format; save it as .xlsx or CSV" in message(xls)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04" + b"junk" * 100)
    assert "damaged" in message(broken)
    parquet = tmp_path / "broken.parquet"
    parquet.write_bytes(b"PAR1" + b"junk" * 100)
    assert "Parquet" in message(parquet)


def test_parquet_nrows_across_row_groups(tmp_path):
    path = tmp_path / "groups.parquet"
    pq.write_table(pa.table({"id": list(range(100)), "tz": pa.array(
        [dt.datetime(2020, 1, 1, 12, tzinfo=dt.timezone.utc)] * 100, pa.timestamp("s", "UTC"))}),
        path, row_group_size=10)
    frame, _ = read_table(path, nrows=25)
    assert frame["id"].tolist() == list(range(25))
    assert frame["tz"].iloc[0] == "2020-01-01 12:00:00"
