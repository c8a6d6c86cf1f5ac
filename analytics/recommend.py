"""Best offer per customer for the whole table, and stable unique promo codes.

Computed once per (analysis, catalogue) and cached beside the model (analytics/runner.py), so
the list, the export and the campaign planner read it without re-scoring. Only active
customers are offered anything: churned customers have already left.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from analytics.dataset import ACTIVE
from analytics.offers import NO_OFFER, NO_OFFER_NAME, Catalogue, best_offers
from analytics.pipeline import CLV, PROBABILITY, ChurnAnalysis

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


def catalogue_fingerprint(catalogue: Catalogue) -> str:
    """A hash of what the offers are (not where the file lives): part of the cache key."""
    return hashlib.sha256(repr((catalogue.offers, catalogue.contact_cost)).encode()) \
        .hexdigest()[:12]


def _encode(digest: bytes, length: int) -> str:
    number = int.from_bytes(digest, "big")
    chars = []
    for _ in range(length):
        number, rest = divmod(number, 32)
        chars.append(ALPHABET[rest])
    return "".join(chars)


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
        for i in todo:
            digest = hashlib.sha256(seed + b"\x00" + str(ids[i]).encode()).digest()
            out[i] = f"{prefixes[i]}-{_encode(digest, width)}"
        codes = pd.Series(out[wanted])
        clash = codes.duplicated(keep=False).to_numpy()
        if not clash.any() or width >= 51:
            break
        todo, width = wanted[clash], width + 4
    return out


def recommend(analysis: ChurnAnalysis, catalogue: Catalogue, salt: str) -> pd.DataFrame:
    """The best offer (or "none") per active customer, with its expected profit and a promo code
    for discount offers; one row per customer in the analysis' order."""
    customers = analysis.customers
    n = len(customers)
    active = customers[ACTIVE].to_numpy(dtype=bool)
    ids = [o.id for o in catalogue.offers] + [NO_OFFER]
    names = [o.name for o in catalogue.offers] + [NO_OFFER_NAME, NOT_OFFERED]
    offer_code = np.full(n, len(ids), dtype=np.int16)   # "not offered" for churned customers
    profit = np.full(n, np.nan, dtype=np.float32)
    p1 = customers[PROBABILITY].to_numpy(dtype=np.float32).copy()
    cost = np.zeros(n, dtype=np.float32)
    if active.any():
        frame = customers.loc[active]
        best = best_offers(analysis.model.predict_proba, frame,
                           frame[PROBABILITY].to_numpy(dtype=float),
                           frame[CLV].to_numpy(dtype=float), catalogue)
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


__all__ = ["OFFER", "OFFER_NAME", "PROFIT", "PROMO", "P_WITH_OFFER", "catalogue_fingerprint",
           "promo_codes", "recommend"]
