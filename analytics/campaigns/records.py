"""Campaigns in the store: create one (all members or none), list them, read members with
their outcomes, and find who is already enrolled in a running campaign."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import delete, func, select, update

from analytics.campaigns.arms import MEMBER_COLUMNS
from analytics.campaigns.store import CampaignStore, now
from analytics.campaigns.tables import campaigns, members, outcomes
from analytics.errors import ChurnLensError

CHUNK = 20_000
MAX_NAME = 200


@dataclass(frozen=True)
class CampaignSpec:
    """What a campaign is, as recorded with it."""

    name: str
    start_date: str                    # ISO date the outcome window opens
    horizon_days: int = 90
    control_share: float = 0.10
    seed: int = 0
    strata: tuple[str, ...] = ("tier", "offer")
    offers: tuple[str, ...] = ()
    target: dict = field(default_factory=dict)   # filters, size rule, capacity
    data_version: str = ""
    source: str = ""
    description: str = ""
    contact_cost: float = 0.0
    currency: str = ""
    simulated: bool = False
    rule: str | None = None
    mde: float | None = None


def create_campaign(store: CampaignStore, spec: CampaignSpec, frame: pd.DataFrame,
                    progress: Callable[[int, int], None] | None = None, conn=None) -> int:
    """Record the campaign and every member in one transaction; returns its id.

    `frame` has the member columns (arms.MEMBER_COLUMNS). `progress(done, total)` is called
    after each chunk of members is written (inside the transaction). With `conn`, the
    writes join that open transaction instead."""
    name = (spec.name or "").strip()
    if not name:
        raise ChurnLensError("a campaign needs a name")
    if len(name) > MAX_NAME:
        raise ChurnLensError(f"campaign name is {len(name)} characters; at most {MAX_NAME}")
    if frame.empty:
        raise ChurnLensError(f"campaign {name!r} has no members: nobody matches the target")
    missing = [c for c in MEMBER_COLUMNS if c not in frame.columns]
    if missing:
        raise ChurnLensError(f"members lack the columns {', '.join(missing)}")
    if frame["customer_id"].duplicated().any():
        dup = frame.loc[frame["customer_id"].duplicated(), "customer_id"].iloc[0]
        raise ChurnLensError(f"customer {dup!r} is listed twice in campaign {name!r}")
    treated = frame["arm"] == "treatment"
    profit = frame.loc[treated, "expected_profit"].to_numpy(dtype=float)
    row = {**{k: v for k, v in asdict(spec).items() if k not in ("strata", "offers")},
           "name": name, "strata": json.dumps(list(spec.strata)),
           "offers": json.dumps(list(spec.offers)), "target": json.dumps(spec.target,
                                                                          default=str),
           "status": "running", "created_at": now(), "members": int(len(frame)),
           "control": int((~treated).sum()),
           "expected_profit": float(np.nansum(profit)) if np.isfinite(profit).any() else None}
    if conn is not None:
        return insert_campaign(conn, row, frame, spec.data_version, progress)
    with store.begin() as conn:
        return insert_campaign(conn, row, frame, spec.data_version, progress)


def insert_campaign(conn, row: dict, frame: pd.DataFrame, data_version: str,
                    progress: Callable[[int, int], None] | None = None) -> int:
    """Write a checked campaign row and its members on an open transaction (the caller's:
    a rule run writes its run record and outbox batches in the same one)."""
    campaign_id = conn.execute(campaigns.insert().values(**row)).inserted_primary_key[0]
    columns = ["campaign_id", *MEMBER_COLUMNS, "data_version"]
    rows = _rows(frame, int(campaign_id), data_version)
    # One driver-level executemany per chunk: building and binding 100,000 SQLAlchemy
    # parameter dicts costs more than the database's own work.
    marker = {"qmark": "?", "numeric": None, "named": None}.get(conn.dialect.paramstyle, "%s")
    sql = (f"INSERT INTO {members.name} ({', '.join(columns)}) "
           f"VALUES ({', '.join([marker] * len(columns))})") if marker else None
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        if sql:
            conn.exec_driver_sql(sql, chunk)
        else:
            conn.execute(members.insert(), [dict(zip(columns, r)) for r in chunk])
        if progress is not None:
            progress(min(start + CHUNK, len(rows)), len(rows))
    return int(campaign_id)


def _rows(frame: pd.DataFrame, campaign_id: int, data_version: str) -> list[tuple]:
    """Member rows as tuples of plain Python values, None where missing."""
    columns = []
    for name in MEMBER_COLUMNS:
        series = frame[name]
        if pd.api.types.is_float_dtype(series):
            values = series.to_numpy(dtype=float)
            columns.append([None if v != v else v for v in values.tolist()])
        else:
            columns.append([None if v is None or (isinstance(v, float) and v != v) else str(v)
                            for v in series.astype(object).tolist()])
    n = len(frame)
    return list(zip([campaign_id] * n, *columns, [data_version] * n))


def list_campaigns(store: CampaignStore) -> list[dict]:
    """Every campaign, newest first, with its outcome count."""
    counts = (select(outcomes.c.campaign_id, func.count().label("n"))
              .group_by(outcomes.c.campaign_id).subquery())
    query = (select(campaigns, func.coalesce(counts.c.n, 0).label("outcomes"))
             .outerjoin(counts, counts.c.campaign_id == campaigns.c.id)
             .order_by(campaigns.c.id.desc()))
    with store.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    return [_decoded(r) for r in rows]


def get_campaign(store: CampaignStore, campaign_id: int) -> dict:
    """One campaign's record; a clear error when there is none with this id."""
    for item in list_campaigns(store):
        if item["id"] == int(campaign_id):
            return item
    raise ChurnLensError(f"there is no campaign {campaign_id} in {store.name}")


def find_campaign(store: CampaignStore, ref: str | int) -> dict:
    """A campaign by id or by exact name (the newest of that name)."""
    items = list_campaigns(store)
    text = str(ref).strip()
    for item in items:
        if text.isdigit() and item["id"] == int(text):
            return item
    for item in items:
        if item["name"] == text:
            return item
    known = ", ".join(f"{i['id']} {i['name']!r}" for i in items[:5]) or "none yet"
    raise ChurnLensError(f"no campaign {text!r} in {store.name} (campaigns: {known})")


def _decoded(row: dict) -> dict:
    for key in ("strata", "offers", "target"):
        row[key] = json.loads(row[key]) if row.get(key) else ([] if key != "target" else {})
    row["created_at"] = row["created_at"].isoformat(timespec="seconds") \
        if row.get("created_at") is not None else None
    return row


def campaign_members(store: CampaignStore, campaign_id: int) -> pd.DataFrame:
    """Members of a campaign with their outcomes (accepted, redeemed, churned, outcome_date;
    missing where no outcome came back yet)."""
    columns = [members.c[c] for c in MEMBER_COLUMNS] + [members.c.data_version]
    query = (select(*columns, outcomes.c.accepted, outcomes.c.redeemed, outcomes.c.churned,
                    outcomes.c.outcome_date)
             .select_from(members.outerjoin(
                 outcomes, (outcomes.c.campaign_id == members.c.campaign_id)
                 & (outcomes.c.customer_id == members.c.customer_id)))
             .where(members.c.campaign_id == int(campaign_id))
             .order_by(members.c.customer_id))
    with store.connect() as conn:
        result = conn.execute(query)
        frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    for column in ("p0", "p1", "expected_profit", "clv", "acceptance", "offer_cost"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    frame["churned"] = pd.to_numeric(frame["churned"].astype(object).where(
        frame["churned"].notna(), np.nan), errors="coerce").astype(float)
    return frame


def enrolled_customers(store: CampaignStore, customer_ids=None) -> set[str]:
    """Ids of customers in a running campaign (among `customer_ids` when given)."""
    query = (select(members.c.customer_id).distinct()
             .join(campaigns, campaigns.c.id == members.c.campaign_id)
             .where(campaigns.c.status == "running"))
    with store.connect() as conn:
        found = {r[0] for r in conn.execute(query)}
    return found if customer_ids is None else found & {str(c) for c in customer_ids}


def set_status(store: CampaignStore, campaign_id: int, status: str) -> None:
    """Close (or reopen) a campaign; closed campaigns do not block enrolment."""
    if status not in ("running", "closed"):
        raise ChurnLensError(f"status must be running or closed, not {status!r}")
    with store.begin() as conn:
        done = conn.execute(update(campaigns).where(campaigns.c.id == int(campaign_id))
                            .values(status=status)).rowcount
    if not done:
        raise ChurnLensError(f"there is no campaign {campaign_id} in {store.name}")


def delete_campaign(store: CampaignStore, campaign_id: int) -> None:
    """Remove a campaign with its members and outcomes (one transaction)."""
    with store.begin() as conn:
        for table in (outcomes, members):
            conn.execute(delete(table).where(table.c.campaign_id == int(campaign_id)))
        conn.execute(delete(campaigns).where(campaigns.c.id == int(campaign_id)))
