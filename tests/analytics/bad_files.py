"""Malformed data files, the way a clumsy user makes them, generated from the demo data.

Every variant is deterministic: `write(variant, folder)` writes the same bytes every time.
Each one says what a user should get:
- "ok": the file trains (exit 0) into a sensible model;
- "error": exit 2 with a message that names the file, `column` when a column is at fault
  and `row` ("row N", as a spreadsheet numbers it) when a cell is;
- "either": the loader cannot read it yet (delimiter and encoding sniffing come later), so
  exit 2 with a message is fine today and exit 0 will be fine later; never a traceback.
"""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.demo import generate_demo

BASE_ROWS = 300
SEED = 11
REQUIRED = ("customerID", "Churn", "tenure", "MonthlyCharges")


@dataclass(frozen=True)
class Variant:
    name: str
    make: Callable[[], bytes]
    expect: str                 # "ok", "error" or "either"
    column: str | None = None   # the column the message must name
    row: int | None = None      # the spreadsheet row the message must name
    # For "ok": the customers the model must score (None: the base file's rows).
    rows: int | None = BASE_ROWS


def base(n: int = BASE_ROWS, seed: int = SEED) -> pd.DataFrame:
    """The demo data as a user's export: text cells, in the Telco layout."""
    return generate_demo(n, seed=seed).astype(str)


def csv_bytes(frame: pd.DataFrame, encoding: str = "utf-8", **kwargs) -> bytes:
    return frame.to_csv(index=False, **kwargs).encode(encoding)


def _set(frame: pd.DataFrame, column: str, rows, value) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[list(rows), column] = value
    return frame


def _labels(n: int, churned: int, seed: int = SEED) -> pd.DataFrame:
    """n demo rows of which exactly `churned` churned."""
    frame = base(n, seed)
    frame["Churn"] = ["Yes"] * churned + ["No"] * (n - churned)
    return frame


def _wide(extra: int, kind: str = "numeric") -> pd.DataFrame:
    frame = base()
    rng = np.random.default_rng(SEED)
    if kind == "numeric":
        block = pd.DataFrame(rng.normal(size=(len(frame), extra)).round(4).astype(str),
                             columns=[f"x{i:03d}" for i in range(extra)])
    else:
        block = pd.DataFrame(rng.choice(np.array(list("ABCDEFGH")), size=(len(frame), extra)),
                             columns=[f"c{i:03d}" for i in range(extra)])
    return pd.concat([frame, block], axis=1)


def _ragged(extra_fields: bool) -> bytes:
    lines = csv_bytes(base()).decode().splitlines()
    if extra_fields:
        lines[5] += ",surplus,cells"
    else:
        lines[5] = ",".join(lines[5].split(",")[:10])
    return ("\n".join(lines) + "\n").encode()


def _unbalanced_quote() -> bytes:
    lines = csv_bytes(base()).decode().splitlines()
    lines[10] = lines[10].replace(",", ',"', 1)  # a quote opened in row 11, never closed
    return ("\n".join(lines) + "\n").encode()


def _xlsx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


def _latin1() -> bytes:
    frame = base()
    frame["City"] = np.where(np.arange(len(frame)) % 3 == 0, "Besançon", "Zürich")
    return csv_bytes(frame, encoding="latin-1")


def _reorder(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[list(frame.columns[::-1])]


def _variants() -> list[Variant]:
    v: list[Variant] = []

    def add(name, make, expect, column=None, row=None, **kw):
        v.append(Variant(name, make, expect, column, row, **kw))

    # --- encodings ----------------------------------------------------------------------
    add("utf8_bom", lambda: csv_bytes(base(), "utf-8-sig"), "ok")
    add("latin1_bytes", _latin1, "either")
    add("latin1_header", lambda: csv_bytes(base().rename(columns={"gender": "Genre_é"}),
                                           "latin-1"), "either")
    add("utf16", lambda: csv_bytes(base(), "utf-16"), "either")
    add("crlf_line_endings", lambda: csv_bytes(base(), lineterminator="\r\n"), "ok")
    add("quote_all", lambda: csv_bytes(base(), quoting=csv.QUOTE_ALL), "ok")
    add("padded_cells", lambda: csv_bytes(base().apply(lambda c: " " + c + "  ")), "ok")
    add("trailing_blank_lines", lambda: csv_bytes(base()) + b"\n\n\n", "ok")
    add("columns_reordered", lambda: csv_bytes(_reorder(base())), "ok")
    # --- delimiters ---------------------------------------------------------------------
    add("semicolon", lambda: csv_bytes(base(), sep=";"), "either", column="customerID")
    add("tab", lambda: csv_bytes(base(), sep="\t"), "either", column="customerID")
    add("semicolon_decimal_comma", lambda: csv_bytes(base(), sep=";", decimal=","), "either",
        column="customerID")
    add("title_line_before_header",
        lambda: b"Customer export 2024-01-31\n" + csv_bytes(base()), "error")
    # --- sizes --------------------------------------------------------------------------
    add("empty_file", lambda: b"", "error")
    add("whitespace_only", lambda: b"\n  \n\t\n", "error")
    add("header_only", lambda: csv_bytes(base().iloc[:0]), "error")
    add("one_row", lambda: csv_bytes(base().iloc[:1]), "error", column="Churn")
    add("five_rows", lambda: csv_bytes(base().iloc[:5]), "error", column="Churn")
    add("twenty_rows", lambda: csv_bytes(base().iloc[:20]), "error", column="Churn")
    add("twenty_rows_ten_each", lambda: csv_bytes(_labels(20, 10)), "ok", rows=20)
    add("nine_churners_of_60", lambda: csv_bytes(_labels(60, 9)), "error", column="Churn")
    add("nine_stayers_of_60", lambda: csv_bytes(_labels(60, 51)), "error", column="Churn")
    # --- labels -------------------------------------------------------------------------
    add("all_churned", lambda: csv_bytes(_labels(100, 100)), "error", column="Churn")
    add("all_stayed", lambda: csv_bytes(_labels(100, 0)), "error", column="Churn")
    add("one_churner", lambda: csv_bytes(_labels(100, 1)), "error", column="Churn")
    add("two_churners", lambda: csv_bytes(_labels(100, 2)), "error", column="Churn")
    add("label_maybe", lambda: csv_bytes(_set(base(), "Churn", [4], "maybe")), "error",
        column="Churn", row=6)
    add("label_blank", lambda: csv_bytes(_set(base(), "Churn", [7], "")), "error",
        column="Churn", row=9)
    add("labels_one_zero", lambda: csv_bytes(base().assign(
        Churn=lambda f: (f["Churn"] == "Yes").astype(int).astype(str))), "ok")
    add("labels_true_false_mixed_case", lambda: csv_bytes(base().assign(
        Churn=lambda f: np.where(f["Churn"] == "Yes", "TRUE", "false"))), "ok")
    # --- extreme numbers ----------------------------------------------------------------
    add("charges_1e308", lambda: csv_bytes(_set(base(), "MonthlyCharges", [3], "1e308")),
        "error", column="MonthlyCharges", row=5)
    add("charges_inf", lambda: csv_bytes(_set(base(), "MonthlyCharges", [8], "inf")),
        "error", column="MonthlyCharges", row=10)
    add("charges_negative", lambda: csv_bytes(_set(base(), "MonthlyCharges", [2], "-20.5")),
        "error", column="MonthlyCharges", row=4)
    add("charges_nan_string", lambda: csv_bytes(_set(base(), "MonthlyCharges", [6], "NaN")),
        "error", column="MonthlyCharges", row=8)
    add("charges_currency_sign", lambda: csv_bytes(
        _set(base(), "MonthlyCharges", [1], "$29.85")), "error", column="MonthlyCharges", row=3)
    add("charges_all_zero", lambda: csv_bytes(base().assign(MonthlyCharges="0")), "ok")
    add("charges_exponent_notation", lambda: csv_bytes(base().assign(
        MonthlyCharges=lambda f: f["MonthlyCharges"].astype(float).map("{:e}".format))), "ok")
    add("tenure_negative", lambda: csv_bytes(_set(base(), "tenure", [3], "-3")), "error",
        column="tenure", row=5)
    add("tenure_minus_5_many", lambda: csv_bytes(_set(base(), "tenure", range(0, 300, 7),
                                                      "-5")), "error", column="tenure", row=2)
    add("tenure_nan_strings", lambda: csv_bytes(_set(base(), "tenure", [9, 10], "NaN")),
        "error", column="tenure", row=11)
    add("tenure_blank", lambda: csv_bytes(_set(base(), "tenure", [12], "")), "error",
        column="tenure", row=14)
    add("tenure_inf", lambda: csv_bytes(_set(base(), "tenure", [5], "inf")), "error",
        column="tenure", row=7)
    add("tenure_absurd", lambda: csv_bytes(_set(base(), "tenure", [4], "100000")), "error",
        column="tenure", row=6)
    add("tenure_1e6", lambda: csv_bytes(_set(base(), "tenure", [4], "1e6")), "error",
        column="tenure", row=6)
    add("tenure_fractional", lambda: csv_bytes(base().assign(
        tenure=lambda f: (f["tenure"].astype(float) + 0.5).astype(str))), "ok")
    add("tenure_all_zero", lambda: csv_bytes(base().assign(tenure="0")), "ok")
    add("tenure_text", lambda: csv_bytes(_set(base(), "tenure", [2], "two years")), "error",
        column="tenure", row=4)
    add("total_400_digit_int", lambda: csv_bytes(_set(base(), "TotalCharges", [3], "9" * 400)),
        "error", column="TotalCharges", row=5)
    add("total_minus_inf", lambda: csv_bytes(_set(base(), "TotalCharges", [0], "-inf")),
        "error", column="TotalCharges", row=2)
    add("total_nan_strings", lambda: csv_bytes(_set(base(), "TotalCharges", [1, 2], "nan")),
        "ok")
    add("total_1e13", lambda: csv_bytes(_set(base(), "TotalCharges", [10], "1e13")), "error",
        column="TotalCharges", row=12)
    # A quoted "1,234.50" is the number a spreadsheet shows: read as 1234.5.
    add("total_thousands_separator", lambda: csv_bytes(
        _set(base(), "TotalCharges", [4], "1,234.50")), "ok")
    add("total_hex", lambda: csv_bytes(_set(base(), "TotalCharges", [4], "0x1F")), "error",
        column="TotalCharges", row=6)
    # --- wide and odd columns -----------------------------------------------------------
    add("wide_300_numeric", lambda: csv_bytes(_wide(300)), "ok")
    add("wide_300_categorical", lambda: csv_bytes(_wide(300, "categorical")), "ok")
    add("wide_40_numeric", lambda: csv_bytes(_wide(40)), "ok")
    add("wide_1200_columns", lambda: csv_bytes(_wide(1200, "categorical")), "error")
    add("constant_column", lambda: csv_bytes(base().assign(Country="FR")), "ok")
    add("unique_text_column", lambda: csv_bytes(base().assign(
        Note=[f"called on day {i} about bill {i * 7919 % 10007}" for i in range(BASE_ROWS)])),
        "ok")
    add("blank_extra_column", lambda: csv_bytes(base().assign(Comments="")), "ok")
    add("mixed_text_number_column", lambda: csv_bytes(base().assign(
        Score=[str(i) if i % 4 else "n/a" for i in range(BASE_ROWS)])), "ok")
    add("leaky_copy_of_label", lambda: csv_bytes(base().assign(
        Cancelled=lambda f: np.where(f["Churn"] == "Yes", "Y", "N"))), "ok")
    add("duplicate_header_name", lambda: ",".join(
        [*base().columns, "tenure"]).encode() + b"\n" + b"".join(
        (",".join([*r, r[5]]) + "\n").encode() for r in base().to_numpy()), "error")
    add("blank_header_name", lambda: csv_bytes(base().assign(**{"": "x"})), "ok")
    add("reserved_column_name", lambda: csv_bytes(base().assign(churn="x")), "error",
        column="churn")
    # --- ids ----------------------------------------------------------------------------
    add("duplicate_ids", lambda: csv_bytes(_set(base(), "customerID", [5], base().at[
        2, "customerID"])), "error", column="customerID", row=4)
    add("blank_ids", lambda: csv_bytes(_set(base(), "customerID", [6], "")), "error",
        column="customerID", row=8)
    add("all_ids_equal", lambda: csv_bytes(base().assign(customerID="A")), "error",
        column="customerID", row=2)
    add("numeric_ids_leading_zeros", lambda: csv_bytes(base().assign(
        customerID=[f"{i:06d}" for i in range(BASE_ROWS)])), "ok")
    # --- required columns ---------------------------------------------------------------
    # Without the Telco layout the roles are inferred: no id numbers the rows, no revenue
    # leaves the money figures out, no tenure the survival curve; no label is an error
    # that says which roles could not be settled.
    for column in REQUIRED:
        add(f"missing_{column}", lambda c=column: csv_bytes(base().drop(columns=c)),
            "error" if column == "Churn" else "ok")
    add("only_required_columns", lambda: csv_bytes(base()[list(REQUIRED)]), "ok")
    add("only_required_and_total", lambda: csv_bytes(base()[[*REQUIRED, "TotalCharges"]]),
        "ok")
    add("lowercase_headers", lambda: csv_bytes(base().rename(columns=str.lower)), "ok")
    # --- broken structure ---------------------------------------------------------------
    add("ragged_extra_fields", lambda: _ragged(True), "error")
    add("ragged_missing_fields", lambda: _ragged(False), "error", row=6)
    add("unbalanced_quote", _unbalanced_quote, "error")
    add("binary_garbage", lambda: np.random.default_rng(SEED).bytes(4096), "error")
    add("nul_bytes", lambda: csv_bytes(base()).replace(b",Yes,", b",Y\x00es,", 5), "either")
    add("gzip_named_csv", lambda: gzip.compress(csv_bytes(base()), mtime=0), "error")
    add("xlsx_named_csv", _xlsx_bytes, "error")
    add("json_named_csv", lambda: base().head(30).to_json(orient="records").encode(), "error")
    add("html_error_page", lambda: b"<html><body><h1>502 Bad Gateway</h1></body></html>\n",
        "error")
    return v


VARIANTS: tuple[Variant, ...] = tuple(_variants())


def write(variant: Variant, folder: Path) -> Path:
    path = Path(folder) / f"{variant.name}.csv"
    path.write_bytes(variant.make())
    return path


__all__ = ["VARIANTS", "Variant", "write"]
