"""Which offers this data can take, the best offer per customer for the whole table, and
stable unique promo codes.

`check_catalogue` says, per offer, why it cannot work on this data (a column it changes or
filters on is missing or not actionable, a value it sets is not allowed, a discount without a
monthly revenue column); `recommend` skips those. Computed once per (analysis, catalogue)
and cached beside the model (analytics/runner.py), so the list, the export and the campaign
planner read it without re-scoring. Only active customers are offered anything: churned
customers have already left. Without revenue there is no expected profit: every active
customer gets "No offer" and a NaN profit, for the reason `no_offer_reason` gives.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from analytics.dataset import ACTIVE, MONTHLY, SCORED_BY
from analytics.offers import NO_OFFER, NO_OFFER_NAME, Catalogue, Offer, best_offers
from analytics.pipeline import CLV, PROBABILITY, ChurnAnalysis
from analytics.whatif import (Field, actionable_fields, discount_column, discount_reason,
                              has_revenue)

# Crockford's base32: no I, L, O or U, so a code read over the phone cannot be misheard.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10
OFFER = "recommended_offer"       # offer id (categorical; "none" when nothing pays)
OFFER_NAME = "recommended_name"   # its name as shown to people
PROFIT = "expected_profit"        # a x ((p0 - p1) x CLV - c) - k of that offer; NaN if churned
P_WITH_OFFER = "p_with_offer"     # model-implied churn probability with the offer
COST = "offer_cost"               # c, the offer's cost per accepter
PROMO = "promo_code"              # unique per customer for discount offers, else ""
NOT_OFFERED = "Not offered (left)"
NEEDS_REVENUE = ("Expected profit needs a revenue column; add one to the data config: "
                 '[roles] revenue = "<the monthly revenue column>"')
RANKING = 2  # bump when the ranking changes, so cached recommendations are recomputed


def catalogue_fingerprint(catalogue: Catalogue) -> str:
    """A hash of what the offers are (not where the file lives): part of the cache key."""
    return hashlib.sha256(repr((catalogue.offers, catalogue.contact_cost, RANKING)).encode()) \
        .hexdigest()[:12]


def no_offer_reason(analysis: ChurnAnalysis) -> str | None:
    """Why no customer can get an offer on this data (no revenue: no profit); else None."""
    return None if has_revenue(analysis) else NEEDS_REVENUE


def _missing(column: str) -> str:
    return f"needs the column `{column}`, which this data does not have"


def _check_change(analysis: ChurnAnalysis, fields: dict[str, Field], column: str,
                  value) -> str | None:
    if column not in analysis.customers.columns:
        return _missing(column)
    if column not in fields:
        if column not in analysis.features:
            return f"changes `{column}`, which the model does not use"
        return f"changes `{column}`, which the data config does not list as actionable"
    try:
        fields[column].check(value)
    except ValueError:
        where = fields[column]
        return (f"sets `{column}` to {value!r}, which is not a value it may take "
                f"({where.range_text()})")
    return None


def _check_offer(analysis: ChurnAnalysis, fields: dict[str, Field], offer: Offer) -> str | None:
    for column, value in offer.changes.items():
        reason = _check_change(analysis, fields, column, value)
        if reason:
            return reason
    customers = analysis.customers
    for column, allowed in offer.eligible.items():
        if column not in customers.columns:
            return _missing(column)
        series = customers[column]
        if isinstance(series.dtype, pd.CategoricalDtype):
            known = {str(c) for c in series.cat.categories}
            if not known & {str(v) for v in allowed}:
                return (f"is for customers whose `{column}` is {', '.join(map(str, allowed))}"
                        ", and this data has no such value")
    if offer.discount > 0 and discount_column(analysis) is None:
        return f"has a discount: {discount_reason(analysis)}"
    return None


def check_catalogue(catalogue: Catalogue, analysis: ChurnAnalysis) -> dict[str, str | None]:
    """Per offer id, why the offer cannot work on this data, or None when it can.

    Unavailable: a feature it changes is missing, not a model feature or not actionable in
    the config; a value it sets is not one the feature may take (not a known category, a
    fixed value, outside the numeric range); a column it is `eligible` on is missing (or
    none of the values it asks for exists); it has a discount and the data has no monthly
    revenue column the model sees as the bill."""
    fields = {f.feature: f for f in actionable_fields(analysis)}
    return {offer.id: _check_offer(analysis, fields, offer) for offer in catalogue.offers}


def _encode(digest: bytes, length: int) -> str:
    number = int.from_bytes(digest, "big")
    chars = []
    for _ in range(length):
        number, rest = divmod(number, 32)
        chars.append(ALPHABET[rest])
    return "".join(chars)


def _encode_all(digests: list[bytes], length: int) -> np.ndarray:
    """`_encode` of each digest (objects of str): up to 12 characters (60 bits, all from
    the digests' last 8 bytes) at once in numpy, longer ones one by one."""
    if length > 12 or not digests:
        return np.array([_encode(d, length) for d in digests] or [], dtype=object)
    low = np.frombuffer(b"".join(d[-8:] for d in digests), dtype=">u8").astype(np.uint64)
    fives = (low[:, None] >> (np.arange(length, dtype=np.uint64) * np.uint64(5))) & np.uint64(31)
    chars = np.frombuffer(ALPHABET.encode("ascii"), dtype="S1")[fives.astype(np.intp)]
    return np.ascontiguousarray(chars).view(f"S{length}")[:, 0].astype(
        f"U{length}").astype(object)


def promo_codes(customer_ids, prefixes, salt: str, length: int = CODE_LENGTH) -> np.ndarray:
    """One code per customer: '<prefix>-<hash>' where a prefix is given, '' where it is empty.

    The hash is keyed by `salt` (the data + the catalogue), so the same customer gets the
    same code in every export of the same data and catalogue, and a code cannot be guessed from
    an id. Codes are unique: customers whose hashes collide get longer ones (deterministic)."""
    ids = np.asarray(customer_ids, dtype=object)
    prefixes = np.asarray(prefixes, dtype=object)
    out = np.full(len(ids), "", dtype=object)
    wanted = np.flatnonzero(prefixes != "")
    width = length
    todo = wanted
    seed = salt.encode()
    while len(todo):
        digests = [hashlib.sha256(seed + b"\x00" + str(i).encode()).digest()
                   for i in ids[todo]]
        out[todo] = prefixes[todo] + "-" + _encode_all(digests, width)
        codes = pd.Series(out[wanted])
        clash = codes.duplicated(keep=False).to_numpy()
        if not clash.any() or width >= 51:
            break
        todo, width = wanted[clash], width + 4
    return out


def _offer_columns(analysis: ChurnAnalysis, catalogue: Catalogue,
                   revenue: str | None) -> list[str]:
    """The columns ranking the offers reads: the model's features and its routing, the
    bill, the scores and whatever an offer is eligible on or changes (each offer re-scores
    a copy of its customers: the other ~50 columns would be copied six times for nothing)."""
    model = analysis.model
    wanted = {*model.categorical, *model.numeric, SCORED_BY, MONTHLY, PROBABILITY, CLV}
    wanted |= {revenue} if revenue else set()
    for offer in catalogue.offers:
        wanted |= set(offer.eligible) | set(offer.changes)
    return [c for c in analysis.customers.columns if c in wanted]


def recommend(analysis: ChurnAnalysis, catalogue: Catalogue, salt: str) -> pd.DataFrame:
    """The best offer (or "none") per active customer among the offers this data can take
    (`check_catalogue`), with its expected profit and a promo code for discount offers; one
    row per customer in the analysis' order. Without revenue: "none" and a NaN profit."""
    customers = analysis.customers
    n = len(customers)
    active = customers[ACTIVE].to_numpy(dtype=bool)
    ids = [o.id for o in catalogue.offers] + [NO_OFFER]
    names = [o.name for o in catalogue.offers] + [NO_OFFER_NAME, NOT_OFFERED]
    offer_code = np.full(n, len(ids), dtype=np.int16)   # "not offered" for churned customers
    profit = np.full(n, np.nan, dtype=np.float32)
    p1 = customers[PROBABILITY].to_numpy(dtype=np.float32).copy()
    cost = np.zeros(n, dtype=np.float32)
    usable = check_catalogue(catalogue, analysis)
    available = Catalogue(offers=tuple(o for o in catalogue.offers if usable[o.id] is None),
                          contact_cost=catalogue.contact_cost, source=catalogue.source)
    if active.any() and not has_revenue(analysis):
        offer_code[active] = len(ids) - 1   # "none": nothing can be priced
    elif active.any():
        revenue = discount_column(analysis)
        frame = customers.loc[active, _offer_columns(analysis, available, revenue)]
        best = best_offers(analysis.model.predict_proba, frame,
                           frame[PROBABILITY].to_numpy(dtype=float),
                           frame[CLV].to_numpy(dtype=float), available,
                           discount_column=revenue)
        offer_code[active] = pd.Categorical(best["best_offer"], categories=ids).codes
        profit[active] = best["expected_profit"].to_numpy()
        p1[active] = best["p1"].to_numpy()
        cost[active] = best["cost"].to_numpy()
    prefixes = np.full(n, "", dtype=object)
    for j, offer in enumerate(catalogue.offers):
        if offer.discount > 0:
            prefixes[offer_code == j] = f"SAVE{round(offer.discount * 100)}"
    return pd.DataFrame({
        OFFER: pd.Categorical.from_codes(np.minimum(offer_code, len(ids) - 1),
                                         categories=ids),
        OFFER_NAME: pd.Categorical.from_codes(offer_code, categories=names),
        PROFIT: profit, P_WITH_OFFER: p1, COST: cost,
        PROMO: promo_codes(customers["customer_id"].astype(str).to_numpy(), prefixes, salt),
    }, index=customers.index)


__all__ = ["NEEDS_REVENUE", "OFFER", "OFFER_NAME", "PROFIT", "PROMO", "P_WITH_OFFER",
           "catalogue_fingerprint", "check_catalogue", "no_offer_reason", "promo_codes",
           "recommend"]
