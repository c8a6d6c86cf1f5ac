"""Enrolment rules: when a customer matches a rule, enrol them in a campaign with an offer and
a random control group, and queue the treated ones for contact (outbox.py).

The rules file is TOML; data/rules.example.toml documents every key. In short: `[settings]`
(outbox_dir, webhook, batch_size, retries, timeout, backoff: outbox.read_settings) and one
`[[rules]]` table per rule (name, campaign, offer = "best" or an offer id, control_share,
horizon_days, capacity, enabled, description) with its conditions in `[rules.when]`
(crossed_into_high, min_rise, tier, min_probability, min_clv, not_contacted_days, segment;
every one given must hold, at least one is required).

Matching keeps active customers only. A condition on the previous snapshot (crossed_into_high,
min_rise) matches nobody while there is none, and says so; customers absent from it (new
ones) cannot have risen. Rules run in file order and nobody is put in two running campaigns.
With offer "best", customers whose best offer is "none" are left out; with an offer id, those
it is not eligible for are left out, and p1, the cost and the expected profit are that
offer's model-implied ones (one re-scoring of the candidates); the promo code is the
customer's export code when that offer is their best, else one keyed by the data version.
With a capacity, the most profitable (else the riskiest) go first.

A real run is one transaction per rule (outbox.enrol): the `rule_runs` row (unique per rule
and data version), the campaign with every member and its outbox batches, all or nothing. A
second run on the same data is skipped and says when the first ran and what it made; a run
that would enrol nobody writes nothing. The control group's seed is a hash of the rule name
and the data version, so a rerun draws the same arms. A dry run writes nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from analytics.campaigns import outbox, planner
from analytics.campaigns.rulefile import BEST, SEPARATOR, Rule, RuleSet, When, load_rules
from analytics.campaigns.arms import CONTROL, TREATMENT
from analytics.campaigns.records import CampaignSpec, enrolled_customers
from analytics.campaigns.snapshots import TIERS, list_snapshots, snapshot_scores
from analytics.campaigns.store import CampaignStore, now
from analytics.campaigns.tables import campaigns, members, rule_runs
from analytics.dataset import ACTIVE, ID, MONTHLY
from analytics.errors import ChurnLensError
from analytics.offers import NO_OFFER, apply_offer, eligible_mask, expected_profit, offer_cost
from analytics.pipeline import CLV, PROBABILITY, SEGMENT, TIER, ChurnAnalysis
from analytics.recommend import OFFER, PROFIT, PROMO, check_catalogue, promo_codes
from analytics.whatif import discount_column



def recently_treated(store: CampaignStore, days: int, today: date | None = None) -> set[str]:
    """Ids in the TREATMENT arm of any campaign (running or closed) created on or after the
    day `days` days before `today` (UTC)."""
    day = today or now().date()
    cutoff = datetime.combine(day - timedelta(days=int(days)), time.min, tzinfo=timezone.utc)
    query = (select(members.c.customer_id).distinct()
             .join(campaigns, campaigns.c.id == members.c.campaign_id)
             .where(members.c.arm == TREATMENT, campaigns.c.created_at >= cutoff))
    with store.connect() as conn:
        return {r[0] for r in conn.execute(query)}


def previous_scores(store: CampaignStore, data_version: str) -> pd.DataFrame | None:
    """The scores of the snapshot before this data version's (the newest other one when this
    version has none yet); None when there is no earlier snapshot."""
    items = list_snapshots(store)
    current = next((s["id"] for s in items if s["data_version"] == data_version), None)
    earlier = [s for s in items if s["data_version"] != data_version
               and (current is None or s["id"] < current)]
    return snapshot_scores(store, earlier[-1]["id"]) if earlier else None


def match(rule: Rule, analysis: ChurnAnalysis, previous: pd.DataFrame | None,
          store: CampaignStore | None, *, today: date | None = None) -> tuple[np.ndarray, str]:
    """Rows of `analysis.customers` (active ones) meeting every condition, and a note saying
    why a condition matched nobody ("" when none did)."""
    c, w, notes = analysis.customers, rule.when, []
    keep = c[ACTIVE].to_numpy(dtype=bool).copy()
    if w.tier:
        keep &= c[TIER].astype(str).isin(w.tier).to_numpy()
    if w.min_probability is not None:
        keep &= c[PROBABILITY].to_numpy(dtype=float) >= w.min_probability
    if w.min_clv is not None:
        if CLV not in c or not c[CLV].notna().any():
            keep[:] = False
            notes.append("min_clv: this data has no CLV (it needs a revenue column)")
        else:
            keep &= c[CLV].to_numpy(dtype=float) >= w.min_clv
    if w.segment:
        names = set(c[SEGMENT].astype(str)) if SEGMENT in c else set()
        missing = [s for s in w.segment if s not in names]
        if missing:
            notes.append(f"segment: no segment {', '.join(map(repr, missing))} in this data "
                         f"(segments: {', '.join(sorted(names)) or 'none'})")
        keep &= c[SEGMENT].astype(str).isin(w.segment).to_numpy() if names else False
    if w.crossed_into_high or w.min_rise is not None:
        if previous is None or previous.empty:
            keep[:] = False
            notes.append(f"{'crossed_into_high' if w.crossed_into_high else 'min_rise'}: needs"
                         " a previous snapshot of the scores and there is none yet; nobody "
                         "matches until the next refresh")
        else:
            before = previous.reindex(c[ID].astype(str).to_numpy())
            known = before["probability"].notna().to_numpy()
            if w.crossed_into_high:
                keep &= known & (c[TIER].astype(str).to_numpy() == "High") \
                    & (before["tier"].to_numpy(dtype=float) != TIERS.index("High"))
            if w.min_rise is not None:
                rise = c[PROBABILITY].to_numpy(dtype=float) - before["probability"].to_numpy()
                keep &= known & (np.nan_to_num(rise, nan=-1.0) >= w.min_rise - 1e-9)
    if w.not_contacted_days is not None:
        if store is None:
            raise ChurnLensError(f"rule '{rule.name}': not_contacted_days needs the store")
        contacted = recently_treated(store, w.not_contacted_days, today)
        if contacted:
            keep &= ~c[ID].astype(str).isin(contacted).to_numpy()
    return np.flatnonzero(keep), "; ".join(notes)


def rule_seed(name: str, data_version: str) -> int:
    """The control group's seed: stable for a rule and a data version."""
    digest = hashlib.sha256(f"{name}\x00{data_version}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 2**31


def run_rules(store: CampaignStore, analysis: ChurnAnalysis, ruleset: RuleSet,
              data_version: str, *, previous: pd.DataFrame | None = None,
              dry_run: bool = False, today: date | None = None, source: str = "") -> list[dict]:
    """Run every rule in file order; one result per rule: rule, matched, enrolled, held_out,
    excluded (already in a running campaign or an earlier rule), left_out (no offer, or not
    eligible for the rule's offer, or over capacity), batches, campaign_id, campaign_name,
    mde, dry_run, skipped (the reason, or None) and note. `previous` defaults to the
    scores of the snapshot before this data version's (previous_scores)."""
    today = today or now().date()
    if previous is None and any(r.when.crossed_into_high or r.when.min_rise is not None
                                for r in ruleset.rules):
        previous = previous_scores(store, data_version)
    taken: set[str] = set()
    return [_run(store, analysis, ruleset, rule, data_version, previous, dry_run, today,
                 source, taken) for rule in ruleset.rules]


def _run(store, analysis, ruleset, rule, version, previous, dry_run, today, source, taken):
    out = {"rule": rule.name, "matched": 0, "enrolled": 0, "held_out": 0, "excluded": 0,
           "left_out": 0, "batches": 0, "campaign_id": None, "campaign_name": None,
           "mde": None, "dry_run": dry_run, "skipped": None, "note": ""}
    if not rule.enabled:
        return {**out, "skipped": f"disabled in {ruleset.source}"}
    done = _earlier_run(store, rule.name, version)
    if done:
        return {**out, **done}
    offer, why = _fixed_offer(analysis, rule.offer)
    if why:
        return {**out, "skipped": why}
    rows, note = match(rule, analysis, previous, store, today=today)
    notes = [note] if note else []
    out["matched"] = len(rows)
    rows, values, lost = _offer_values(analysis, rows, offer, version, notes)
    ids = analysis.customers[ID].astype(str).to_numpy()[rows]
    free = ~np.isin(ids, list(enrolled_customers(store) | taken))
    rows, values, out["excluded"] = rows[free], values[free], int((~free).sum())
    profit = values["expected_profit"].to_numpy(dtype=float)
    order = np.argsort(-profit if np.isfinite(profit).all() else
                       -analysis.customers[PROBABILITY].to_numpy(dtype=float)[rows],
                       kind="stable")
    if rule.capacity is not None and len(rows) > rule.capacity:
        lost += len(rows) - rule.capacity
        notes.append(f"capacity {rule.capacity:,}: {len(rows) - rule.capacity:,} left for a "
                     "later run")
        order = order[:rule.capacity]
    rows, values, out["left_out"] = rows[np.sort(order)], values.iloc[np.sort(order)], lost
    if not len(rows):
        out["note"] = "; ".join(["nobody to enrol", *notes])
        return out
    plan_ = planner.plan(analysis, rows, rule.control_share, rule_seed(rule.name, version),
                         strata=("tier",) if offer else ("tier", "offer"))
    if offer is not None:   # members are in the rows' order: the rule's offer for each
        plan_ = replace(plan_, members=plan_.members.assign(
            **{k: values[k].to_numpy() for k in values.columns}))
    arms = plan_.members["arm"]
    name = f"{rule.campaign}{SEPARATOR}{analysis.as_of or today.isoformat()}"
    out.update(enrolled=len(arms), held_out=int((arms == CONTROL).sum()), campaign_name=name,
               mde=plan_.mde, batches=outbox.batches_needed(int((arms == TREATMENT).sum()),
                                                            ruleset.outbox.batch_size))
    taken.update(plan_.members["customer_id"])
    tail = "".join(f"; {n}" for n in notes)
    excluded = f"; {out['excluded']:,} already in a running campaign" if out["excluded"] else ""
    if dry_run:
        out["note"] = f"would enrol {out['enrolled']:,}, {out['held_out']:,} held out" \
            f"{excluded}{tail}"
        return out
    spec = _spec(analysis, rule, ruleset, plan_, name, version, source, today)
    run = {k: out[k] for k in ("matched", "enrolled", "held_out")}
    try:
        campaign_id, out["batches"] = outbox.enrol(store, plan_, spec, run,
                                                   ruleset.outbox.batch_size)
    except ChurnLensError as exc:  # a concurrent run of the same rule on the same data won
        done = _earlier_run(store, rule.name, version)
        if isinstance(exc.__cause__, IntegrityError) and done:
            return {**out, **done, "enrolled": 0, "held_out": 0, "campaign_name": None}
        raise
    out["campaign_id"] = campaign_id
    out["note"] = (f"enrolled {out['enrolled']:,} in campaign {campaign_id}, "
                   f"{out['held_out']:,} held out; {out['batches']} outbox batch(es) queued"
                   f"{excluded}{tail}")
    return out


def _earlier_run(store: CampaignStore, rule: str, version: str) -> dict | None:
    query = select(rule_runs).where(rule_runs.c.rule == rule, rule_runs.c.data_version == version)
    with store.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    made = f"campaign {row.campaign_id}" if row.campaign_id is not None else \
        "its campaign was deleted since"
    return {"skipped": f"already ran on this data on {row.ran_at:%Y-%m-%d}: {made} "
                       f"({row.enrolled:,} enrolled, {row.held_out:,} held out)",
            "campaign_id": row.campaign_id, "matched": row.matched}


def _fixed_offer(analysis: ChurnAnalysis, offer_id: str):
    """(the rule's offer, None) / (None, why it cannot be used) / (None, None) for best."""
    if offer_id == BEST:
        return None, None
    catalogue = analysis.catalogue
    known = {o.id: o for o in getattr(catalogue, "offers", ())}
    if offer_id not in known:
        return None, (f"offer '{offer_id}' is not in the offer catalogue in use "
                      f"({getattr(catalogue, 'source', None) or 'none is loaded'})")
    reason = check_catalogue(catalogue, analysis).get(offer_id)
    return (None, f"offer '{offer_id}' cannot be used with this data: {reason}") if reason \
        else (known[offer_id], None)


def _offer_values(analysis, rows, offer, version, notes):
    """The candidates who can get an offer, what each would get, and how many were left out.

    Best offer: the recommendations' (who has "none" is left out). An offer id: its eligible
    customers, re-scored with the offer applied (p1), priced as recommend.py prices."""
    c, recs = analysis.customers, analysis.recommendations
    if offer is None:
        best = (recs[OFFER].astype(str).to_numpy()[rows] if recs is not None
                else np.full(len(rows), NO_OFFER, dtype=object))
        keep = best != NO_OFFER
        if (~keep).any():
            notes.append(f"{int((~keep).sum()):,} with no offer worth making left out")
        profit = recs[PROFIT].to_numpy(dtype=float)[rows] if recs is not None \
            else np.full(len(rows), np.nan)
        return rows[keep], pd.DataFrame({"expected_profit": profit[keep]}), int((~keep).sum())
    keep = eligible_mask(c.iloc[rows], offer)
    if (~keep).any():
        notes.append(f"{int((~keep).sum()):,} not eligible for offer '{offer.id}' left out")
    rows = rows[keep]
    frame = c.iloc[rows]
    p0 = frame[PROBABILITY].to_numpy(dtype=float)
    p1 = (np.asarray(analysis.model.predict_proba(
        apply_offer(frame, offer, discount_column(analysis))), dtype=float) if len(rows)
        else np.zeros(0))
    monthly = frame[MONTHLY].to_numpy(dtype=float) if MONTHLY in frame else np.nan
    cost = np.broadcast_to(offer_cost(offer, monthly), p0.shape).astype(float)
    clv = frame[CLV].to_numpy(dtype=float) if CLV in frame else np.nan
    contact = float(getattr(analysis.catalogue, "contact_cost", 0.0) or 0.0)
    ids = frame[ID].astype(str).to_numpy()
    prefix = f"SAVE{round(offer.discount * 100)}" if offer.discount > 0 else ""
    codes = promo_codes(ids, np.full(len(ids), prefix, dtype=object), f"rule:{version}:{offer.id}")
    if recs is not None and prefix:  # their export code where this offer is their best
        same = recs[OFFER].astype(str).to_numpy()[rows] == offer.id
        codes = np.where(same, recs[PROMO].astype(str).to_numpy()[rows], codes)
    return rows, pd.DataFrame({
        "offer": offer.id, "promo_code": codes, "p1": p1, "offer_cost": cost,
        "acceptance": offer.acceptance,
        "expected_profit": expected_profit(p0, p1, clv, offer.acceptance, cost, contact)
        * np.ones(len(rows))}), int((~keep).sum())


def _spec(analysis, rule, ruleset, plan_, name, version, source, today) -> CampaignSpec:
    treated = plan_.members["arm"] == TREATMENT
    return CampaignSpec(
        name=name, start_date=today.isoformat(), horizon_days=rule.horizon_days,
        strata=("tier",) if rule.offer != BEST else ("tier", "offer"),
        offers=tuple(sorted(set(plan_.members.loc[treated, "offer"]))),
        target={"rule": rule.name, "rules_file": ruleset.source, "offer": rule.offer,
                "when": rule.when.as_dict(), "capacity": rule.capacity},
        data_version=version, source=source,
        description=rule.description or f"Enrolled by rule '{rule.name}' ({ruleset.source})",
        contact_cost=float(getattr(analysis.catalogue, "contact_cost", 0.0) or 0.0),
        currency=str(getattr(analysis.config, "currency", "") or ""), rule=rule.name)


__all__ = ["BEST", "Rule", "RuleSet", "When", "load_rules", "match", "previous_scores",
           "recently_treated", "rule_seed", "run_rules"]
