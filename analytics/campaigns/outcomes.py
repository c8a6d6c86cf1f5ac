"""Outcomes back into the store: from an outcomes file (customer id, accepted, redeemed promo
code, churned, date) or from a later refresh of the same customers.

A file is checked whole before anything is written: every bad row (an id that is not a
member, a value that is not yes/no, a date that is not a date, an id twice) is reported by
its row number as a spreadsheet shows it, and nothing is imported while any is bad. A good
file is written in one transaction; a customer's earlier outcome is replaced."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import delete, func, select

from analytics.campaigns.store import CampaignStore, now
from analytics.campaigns.tables import imports, members, outcomes
from analytics.errors import ChurnLensError, DataError

ID_NAMES = ("customer_id", "customerid", "customer", "id", "account_id", "member_id")
FIELDS = {"accepted": ("accepted", "accept", "took_offer"),
          "redeemed": ("redeemed", "promo_code", "redeemed_code", "code", "promo"),
          "churned": ("churned", "churn", "left", "cancelled", "canceled"),
          "outcome_date": ("date", "outcome_date", "churn_date", "end_date")}
TRUE = {"1", "true", "yes", "y", "t", "1.0"}
FALSE = {"0", "false", "no", "n", "f", "0.0"}
SHOWN_ROWS = 5
CHUNK = 20_000


def read_outcomes(path: str | Path, name: str | None = None) -> pd.DataFrame:
    """An outcomes file (CSV or Excel) as text columns; `name` is how the user knows it."""
    path = Path(path)
    shown = name or path.name
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
            frame = pd.read_excel(path, dtype=str)
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, sep=None,
                                engine="python")
    except FileNotFoundError:
        raise DataError("file not found", file=shown) from None
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot be read as a table ({exc})", file=shown) from None
    return frame


def _column(frame: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    by_key = {str(c).strip().lower().replace(" ", "_"): c for c in frame.columns}
    for candidate in names:
        if candidate in by_key:
            return by_key[candidate]
    return None


def _flag(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """yes/no text to True/False/None and a mask of values that are neither."""
    text = values.fillna("").astype(str).str.strip().str.lower()
    out = pd.Series([None] * len(text), index=values.index, dtype=object)
    out[text.isin(TRUE)] = True
    out[text.isin(FALSE)] = False
    bad = ~(text.isin(TRUE) | text.isin(FALSE) | (text == ""))
    return out, bad.to_numpy()


def check_outcomes(frame: pd.DataFrame, member_codes: dict[str, str], file: str) -> pd.DataFrame:
    """The file's outcomes, validated against the campaign's members (id -> promo code).

    Raises DataError naming every kind of bad row with examples; returns customer_id,
    accepted, redeemed, churned, outcome_date."""
    id_col = _column(frame, ID_NAMES)
    if id_col is None:
        raise DataError("has no customer id column (one of: customer_id, id, ...); columns "
                        f"are {', '.join(map(str, frame.columns[:8]))}", file=file)
    present = {key: _column(frame, names) for key, names in FIELDS.items()}
    if not any(present.values()):
        raise DataError("has none of the outcome columns accepted, redeemed, churned, date",
                        file=file)
    rows = np.arange(len(frame)) + 2  # header is row 1
    ids = frame[id_col].fillna("").astype(str).str.strip()
    problems: list[str] = []

    def report(mask: np.ndarray, column: str, what: str, values) -> None:
        if mask.any():
            shown = [f"row {r}: {v!r}" for r, v in zip(rows[mask][:SHOWN_ROWS],
                                                        np.asarray(values)[mask][:SHOWN_ROWS])]
            problems.append(f"column '{column}': {int(mask.sum())} {what} ({'; '.join(shown)})")

    report((ids == "").to_numpy(), str(id_col), "rows without a customer id", ids)
    report((~ids.isin(member_codes) & (ids != "")).to_numpy(), str(id_col),
           "customers who are not members of this campaign", ids)
    report(ids.duplicated(keep="first").to_numpy() & (ids != "").to_numpy(), str(id_col),
           "customers listed more than once", ids)
    out = pd.DataFrame({"customer_id": ids})
    for key in ("accepted", "churned"):
        column = present[key]
        if column is None:
            out[key] = None
            continue
        out[key], bad = _flag(frame[column])
        report(bad, str(column), "values that are not yes/no (1/0, true/false)",
               frame[column])
    out["redeemed"] = _redeemed(frame, present["redeemed"], ids, member_codes, report)
    out["outcome_date"] = _dates(frame, present["outcome_date"], report)
    if problems:
        raise DataError("nothing was imported: " + "; ".join(problems), file=file)
    return out


def _redeemed(frame, column, ids, member_codes, report):
    """A yes/no column, or the promo code a customer redeemed (matched to theirs)."""
    if column is None:
        return None
    raw = frame[column].fillna("").astype(str).str.strip()
    flags, bad = _flag(raw)
    if bad.any():  # codes: redeemed when it is the member's own code
        codes = ids.map(member_codes).fillna("")
        is_code = bad.copy()
        own = (raw.str.upper() == codes.str.upper()).to_numpy()
        report(is_code & ~own & (codes != "").to_numpy(), str(column),
               "promo codes that are not the customer's own", raw)
        flags = flags.astype(object)
        flags[is_code] = own[is_code]
    return flags


def _dates(frame, column, report):
    if column is None:
        return None
    raw = frame[column].fillna("").astype(str).str.strip()
    parsed = pd.to_datetime(raw.where(raw != ""), errors="coerce", format="mixed")
    report((parsed.isna() & (raw != "")).to_numpy(), str(column), "values that are not dates",
           raw)
    return parsed.dt.strftime("%Y-%m-%d").where(parsed.notna(), None)


def member_codes(store: CampaignStore, campaign_id: int) -> dict[str, str]:
    """Member id -> promo code of a campaign."""
    query = select(members.c.customer_id, members.c.promo_code).where(
        members.c.campaign_id == int(campaign_id))
    with store.connect() as conn:
        return {r[0]: r[1] or "" for r in conn.execute(query)}


def import_outcomes(store: CampaignStore, campaign_id: int, path: str | Path,
                    name: str | None = None) -> dict:
    """Validate an outcomes file and write it (all rows or none); returns counts."""
    shown = name or Path(path).name
    codes = member_codes(store, campaign_id)
    if not codes:
        raise ChurnLensError(f"there is no campaign {campaign_id} with members in {store.name}")
    checked = check_outcomes(read_outcomes(path, shown), codes, shown)
    written = write_outcomes(store, campaign_id, checked, f"file {shown}")
    return {"campaign": int(campaign_id), "rows": written, "source": f"file {shown}",
            "churned": int(checked["churned"].eq(True).sum()) if "churned" in checked else 0}


def write_outcomes(store: CampaignStore, campaign_id: int, frame: pd.DataFrame,
                   source: str) -> int:
    """Replace these customers' outcomes in one transaction; returns the rows written."""
    stamp = now()
    kept = [c for c in ("accepted", "redeemed") if c not in frame.columns]
    out = frame.reindex(columns=["customer_id", "accepted", "redeemed", "churned",
                                 "outcome_date"])
    if kept:  # a refresh knows churn only: keep what an outcomes file said before
        earlier = _earlier(store, campaign_id, kept)
        for column in kept:
            out[column] = out["customer_id"].map(earlier[column]) if len(earlier) else None
    out = out.astype(object).where(out.notna(), None)
    records = out.to_dict("records")
    for item in records:
        item.update(campaign_id=int(campaign_id), source=source, imported_at=stamp)
        for key in ("accepted", "redeemed", "churned"):
            if item[key] is not None:
                item[key] = bool(item[key])
    ids = [r["customer_id"] for r in records]
    with store.begin() as conn:
        earlier = conn.execute(select(func.count()).select_from(outcomes).where(
            outcomes.c.campaign_id == int(campaign_id))).scalar()
        if earlier:  # replace theirs (the first import of a campaign has nothing to delete)
            for start in range(0, len(ids), CHUNK):
                part = ids[start:start + CHUNK]
                conn.execute(delete(outcomes).where(outcomes.c.campaign_id == int(campaign_id),
                                                    outcomes.c.customer_id.in_(part)))
        for start in range(0, len(records), CHUNK):
            conn.execute(outcomes.insert(), records[start:start + CHUNK])
        conn.execute(imports.insert().values(campaign_id=int(campaign_id), source=source,
                                             rows=len(records), imported_at=stamp))
    return len(records)


def _earlier(store: CampaignStore, campaign_id: int, columns: list[str]) -> pd.DataFrame:
    query = select(outcomes.c.customer_id, *[outcomes.c[c] for c in columns]).where(
        outcomes.c.campaign_id == int(campaign_id))
    with store.connect() as conn:
        rows = conn.execute(query).fetchall()
    return pd.DataFrame(rows, columns=["customer_id", *columns]).set_index("customer_id")


def outcomes_from_refresh(member_ids, ids, churned, end_dates=None, start_date: str | None = None,
                          horizon_days: int | None = None) -> tuple[pd.DataFrame, int]:
    """Churn outcomes of members from a later refresh: matched by id; with end dates, churned
    means an end date inside [start_date, start_date + horizon); otherwise the refresh's
    churn label. Returns the outcomes and how many members the refresh does not have."""
    frame = pd.DataFrame({"churned": np.asarray(churned).astype(bool)},
                         index=pd.Index(np.asarray(ids).astype(str)))
    if end_dates is not None and start_date and horizon_days:
        ends = pd.to_datetime(pd.Series(np.asarray(end_dates), index=frame.index),
                              errors="coerce")
        start = pd.Timestamp(start_date)
        inside = (ends >= start) & (ends < start + pd.Timedelta(days=int(horizon_days)))
        frame["churned"] = inside.to_numpy()
        frame["outcome_date"] = ends.dt.strftime("%Y-%m-%d").where(inside, None)
    frame = frame[~frame.index.duplicated()]
    wanted = pd.Index(np.asarray(member_ids).astype(str))
    found = wanted[wanted.isin(frame.index)]
    out = frame.loc[found].rename_axis("customer_id").reset_index()
    return out, int(len(wanted) - len(found))
