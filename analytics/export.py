"""Tables for people: the scored at-risk list with reasons, safe to open in a spreadsheet.

Text cells that a spreadsheet would run as a formula (starting with =, +, -, @, a tab or a
carriage return) are prefixed with an apostrophe. Large lists are streamed to disk in
chunks, so a million rows never sit in memory as text at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.dataset import ACTIVE, ID, MONTHLY, TENURE
from analytics.explain import probability_points, reason_columns, reason_indices
from analytics.explaining import shap_rows
from analytics.pipeline import CLV, PROBABILITY, SEGMENT, TIER, ChurnAnalysis
from analytics.recommend import OFFER_NAME, PROFIT, PROMO
from analytics.whatif import actionable_features, actionable_fields

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
REVENUE_AT_RISK = "revenue_at_risk"
CHUNK_ROWS = 100_000
EXCEL_MAX_ROWS = 1_048_576 - 2  # the sheet limit, less the note and header rows

# The list's `contract` column holds the customer's contract or plan: the first actionable
# categorical feature of the data's config whose name says it is one (blank when none).
PLAN_NAME = re.compile(r"contract|plan|subscription|package|term", re.I)
# Export column -> source column in the analysed customer table (or a computed one).
LIST_COLUMNS = ("customer_id", "churn_probability", "risk_tier", "status", "segment",
                "tenure_months", "contract", "monthly_charges", "clv", "revenue_at_risk",
                "reason_1", "reason_2", "reason_3", "actionable_reason", "recommended_offer",
                "expected_profit", "promo_code")


def neutralise(value):
    """Prefix a cell a spreadsheet would run as a formula with an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Every text column made formula-safe (numbers are left as numbers)."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if series.dtype == object or isinstance(series.dtype, pd.CategoricalDtype) \
                or pd.api.types.is_string_dtype(series):
            out[column] = series.astype(object).map(neutralise)
    return out


def _take(frame: pd.DataFrame, rows: np.ndarray, columns) -> pd.DataFrame:
    """Only `columns` (those the frame has) of `rows`: a grid block of 100 rows took three
    times as long through `frame.iloc[rows]`, which copies every column."""
    return pd.DataFrame({c: frame[c].array.take(rows) for c in dict.fromkeys(columns)
                         if c in frame.columns})


def reasons_for(analysis: ChurnAnalysis, rows: np.ndarray) -> pd.DataFrame:
    """reason_1..3 text columns ('Month-to-month contract: +14 pts') for the given rows, and
    `actionable_reason`: the strongest reason among the features a retention offer can
    change (the top reasons are often tenure, which nobody can act on)."""
    customers = _take(analysis.customers, rows, analysis.features)
    shap, base = shap_rows(analysis, rows)
    points = probability_points(shap, base)
    indices = reason_indices(shap)
    table = reason_columns(customers, analysis.features, indices, points,
                           analysis.feature_meta())
    actionable = [analysis.features.index(f) for f in actionable_features(analysis)]
    if actionable:
        sub = points[:, actionable]
        best = sub.argmax(axis=1) if len(sub) else np.zeros(0, dtype=int)
        pushed = sub[np.arange(len(sub)), best] > 0.05
        index = np.where(pushed, np.asarray(actionable)[best], -1)[:, None].astype(np.int16)
        table["actionable_reason"] = reason_columns(customers, analysis.features, index,
                                                    points, analysis.feature_meta()
                                                    )["reason_1"].to_numpy()
    else:
        table["actionable_reason"] = ""
    return table


def scored_table(analysis: ChurnAnalysis, rows: np.ndarray | None = None) -> pd.DataFrame:
    """id, churn_probability, risk_tier and the top three reasons for the chosen rows."""
    rows = np.arange(len(analysis.customers)) if rows is None else np.asarray(rows)
    return customer_list(analysis, rows)[["customer_id", "churn_probability", "risk_tier",
                                          "reason_1", "reason_2", "reason_3"]]


def plan_column(analysis: ChurnAnalysis) -> str | None:
    """The source column shown as the list's `contract` (None: left blank)."""
    return next((f.feature for f in actionable_fields(analysis)
                 if f.kind == "category" and PLAN_NAME.search(f.feature)), None)


def customer_list(analysis: ChurnAnalysis, rows: np.ndarray) -> pd.DataFrame:
    """The at-risk list columns for the given rows, in the given order."""
    rows = np.asarray(rows)
    plan = plan_column(analysis)
    c = _take(analysis.customers, rows, [ID, PROBABILITY, MONTHLY, TIER, ACTIVE, SEGMENT,
                                         TENURE, CLV, *([plan] if plan else [])])
    proba = c[PROBABILITY].to_numpy().astype(float)
    monthly = c[MONTHLY].to_numpy().astype(float)
    table = pd.DataFrame({
        "customer_id": c[ID].astype(str).to_numpy(),
        "churn_probability": proba.round(4),
        "risk_tier": c[TIER].astype(str).to_numpy(),
        "status": np.where(c[ACTIVE].to_numpy(dtype=bool), "active", "churned"),
        "segment": c[SEGMENT].astype(str).to_numpy() if SEGMENT in c else "",
        "tenure_months": c[TENURE].to_numpy().astype(float),
        "contract": c[plan].astype(str).to_numpy() if plan else "",
        "monthly_charges": monthly.round(2),
        "clv": c[CLV].to_numpy().astype(float).round(2),
        # Customers who already left carry no lifetime value and no revenue at risk.
        "revenue_at_risk": np.where(c[ACTIVE].to_numpy(dtype=bool), proba * monthly,
                                    np.nan).round(2),
    })
    reasons = reasons_for(analysis, rows)
    for column in reasons.columns:
        table[column] = reasons[column].to_numpy()
    recs = analysis.recommendations
    if recs is not None:
        picked = _take(recs, rows, [OFFER_NAME, PROFIT, PROMO])
        table["recommended_offer"] = picked[OFFER_NAME].astype(str).to_numpy()
        table["expected_profit"] = picked[PROFIT].to_numpy().astype(float).round(2)
        table["promo_code"] = picked[PROMO].to_numpy()
    else:  # no offer catalogue loaded
        table["recommended_offer"], table["expected_profit"], table["promo_code"] = "", np.nan, ""
    return table


def _chunks(analysis: ChurnAnalysis, rows: np.ndarray) -> Iterator[pd.DataFrame]:
    for start in range(0, len(rows), CHUNK_ROWS):
        yield neutralise_frame(customer_list(analysis, rows[start:start + CHUNK_ROWS]))


def write_csv(analysis: ChurnAnalysis, rows: np.ndarray, path: str | Path, note: str) -> int:
    """Stream the list to CSV: a first line with the note (filters, date), then the table."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        pd.DataFrame([[neutralise(note)]]).to_csv(handle, index=False, header=False)
        header = True
        for chunk in _chunks(analysis, rows):
            chunk.to_csv(handle, index=False, header=header)
            header = False
        if header:  # no rows: still write the header
            pd.DataFrame(columns=list(LIST_COLUMNS)).to_csv(handle, index=False)
    return len(rows)


def write_excel(analysis: ChurnAnalysis, rows: np.ndarray, path: str | Path, note: str) -> int:
    """Stream the list to .xlsx (openpyxl write-only): a note row, a header, the table.

    Excel sheets hold 1,048,576 rows; a longer list raises ValueError (use CSV)."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if len(rows) > EXCEL_MAX_ROWS:
        raise ValueError(f"{len(rows):,} rows do not fit in an Excel sheet "
                         f"({EXCEL_MAX_ROWS:,} at most); export CSV instead")
    book = Workbook(write_only=True)
    sheet = book.create_sheet("At-risk customers")
    sheet.freeze_panes = "A3"
    sheet.append([neutralise(note)])
    sheet.append(list(LIST_COLUMNS))
    for chunk in _chunks(analysis, rows):
        for record in chunk.itertuples(index=False, name=None):
            # A blank cell, not NaN (which Excel would show as an error); characters an XML
            # sheet cannot hold (control characters in an id) become U+FFFD.
            sheet.append([None if isinstance(v, float) and v != v else
                          ILLEGAL_CHARACTERS_RE.sub("\ufffd", v) if isinstance(v, str) else v
                          for v in record])
    book.save(path)
    return len(rows)
