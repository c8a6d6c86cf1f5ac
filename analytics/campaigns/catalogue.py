"""Measured acceptance rates back into the offer catalogue: recorded in the store (who,
when, from which campaigns, with what interval) and laid over the catalogue file when it is
loaded, so the file is never rewritten and every change can be traced."""

from __future__ import annotations

import json
from dataclasses import replace

from sqlalchemy import select

from analytics.campaigns.store import CampaignStore, now
from analytics.campaigns.tables import catalogue_changes
from analytics.errors import ChurnLensError
from analytics.offers import Catalogue


def record_acceptance(store: CampaignStore, catalogue: Catalogue, measured: list[dict],
                      campaign_id: int) -> list[dict]:
    """Make each offer's measured acceptance its assumed one; returns the changes made.

    `measured` is effect.acceptance_summary()'s `by_offer` (offer, acceptance_measured,
    acceptance_low, acceptance_high, accepted_known)."""
    known = {o.id: o for o in catalogue.offers}
    changes = []
    for item in measured:
        offer = known.get(item.get("offer"))
        rate = item.get("acceptance_measured")
        if offer is None or rate is None or not item.get("accepted_known"):
            continue
        changes.append({"offer": offer.id, "field": "acceptance", "old": offer.acceptance,
                        "new": round(float(rate), 4),
                        "evidence": json.dumps({"campaign": int(campaign_id),
                                                "n": int(item["accepted_known"]),
                                                "low": item.get("acceptance_low"),
                                                "high": item.get("acceptance_high")})})
    if not changes:
        raise ChurnLensError("no offer of the catalogue has a measured acceptance in this "
                             "campaign yet (import outcomes with an accepted column)")
    stamp = now()
    with store.begin() as conn:
        conn.execute(catalogue_changes.insert(), [{**c, "changed_at": stamp} for c in changes])
    return changes


def overrides(store: CampaignStore) -> dict[str, float]:
    """The latest recorded acceptance per offer id."""
    query = (select(catalogue_changes.c.offer, catalogue_changes.c.new)
             .where(catalogue_changes.c.field == "acceptance")
             .order_by(catalogue_changes.c.id))
    with store.connect() as conn:
        return {offer: float(new) for offer, new in conn.execute(query) if new is not None}


def history(store: CampaignStore) -> list[dict]:
    """Every recorded change, newest first."""
    query = select(catalogue_changes).order_by(catalogue_changes.c.id.desc())
    with store.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    for row in rows:
        row["changed_at"] = row["changed_at"].isoformat(timespec="seconds")
        row["evidence"] = json.loads(row["evidence"])
    return rows


def apply_overrides(catalogue: Catalogue, rates: dict[str, float]) -> Catalogue:
    """The catalogue with recorded acceptance rates in place of the file's."""
    if not rates:
        return catalogue
    offers = tuple(replace(o, acceptance=rates[o.id]) if o.id in rates else o
                   for o in catalogue.offers)
    return replace(catalogue, offers=offers)
