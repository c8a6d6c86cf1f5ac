"""The offer catalogue, the model-implied effect of an offer and the best offer per customer.

An offer changes some actionable features of a customer (the dataset config's `actionable`
columns: for the Telco layout contract, payment method, add-ons) and/or lowers the monthly
bill for a while (the config's revenue column, `DatasetConfig.revenue_column`). Its effect
on churn is *model-implied*: the model re-scores the customer with the offer applied.
Expected profit (PRODUCT.md):

    profit = a x ((p0 - p1) x CLV - c) - k

with p0 the churn probability now, p1 the probability with the offer, a the acceptance rate,
c the offer's cost per accepter (deadweight included) and k the contact cost."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.data.config import DatasetConfig
from analytics.dataset import MONTHLY
from analytics.errors import DataError

# The feature a discount lowers comes from the data's config (its `revenue_column`, the bill
# as the model sees it); callers that pass none get the default config's.
DEFAULT_DISCOUNT_COLUMN = DatasetConfig().revenue_column
NO_OFFER = "none"
NO_OFFER_NAME = "No offer"
OFFER_KEYS = ("name", "description", "changes", "discount", "months", "monthly_cost",
              "one_off_cost", "eligible", "acceptance")
CURVE_POINTS = 500
STACK_ROWS = 2_000  # up to this many offer x customer rows are scored in one call
_ID = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class Offer:
    """One retention offer as written in the catalogue."""

    id: str
    name: str
    description: str = ""
    changes: dict[str, str | int | float] = field(default_factory=dict)
    discount: float = 0.0
    months: int = 0
    monthly_cost: float = 0.0
    one_off_cost: float = 0.0
    eligible: dict[str, tuple] = field(default_factory=dict)
    acceptance: float = 0.0


@dataclass(frozen=True)
class Catalogue:
    """The offers, the contact cost k and the file they came from."""

    offers: tuple[Offer, ...]
    contact_cost: float
    source: str

    def get(self, offer_id: str) -> Offer:
        """The offer with this id (KeyError if absent)."""
        return {offer.id: offer for offer in self.offers}[offer_id]


def _fail(source: str, offer_id: str | None, key: str, message: str, value=None) -> DataError:
    where = f"offers.{offer_id}.{key}" if offer_id else key
    who = f"offer '{offer_id}', field '{key}'" if offer_id else f"field '{key}'"
    examples = [repr(value)] if value is not None else []
    return DataError(f"{who}: {message}", file=source, column=where, examples=examples)


def _number(source: str, offer_id: str | None, key: str, value, low: float,
            high: float | None = None, high_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(source, offer_id, key, "must be a number", value)
    too_high = high is not None and (value >= high if high_open else value > high)
    if not np.isfinite(value) or value < low or too_high:
        bound = "" if high is None else f" and {'below' if high_open else 'at most'} {high:g}"
        raise _fail(source, offer_id, key, f"must be at least {low:g}{bound}", value)
    return float(value)


def _feature_table(source: str, offer_id: str, key: str, value, lists: bool) -> dict:
    if not isinstance(value, dict):
        raise _fail(source, offer_id, key, "must be a table like { Feature = value }", value)
    for feature, item in value.items():
        if lists and (not isinstance(item, list) or not item):
            raise _fail(source, offer_id, key, f"'{feature}' needs a list of values", item)
        if not all(isinstance(v, (str, int, float)) for v in (item if lists else [item])):
            raise _fail(source, offer_id, key, f"'{feature}': text or numbers only", item)
    return {str(f): tuple(v) if lists else v for f, v in value.items()}


def _offer(source: str, offer_id: str, raw) -> Offer:
    if not isinstance(raw, dict):
        raise _fail(source, offer_id, "offer", "must be a table [offers.<id>]", raw)
    unknown = sorted(set(raw) - set(OFFER_KEYS))
    if unknown:
        raise _fail(source, offer_id, unknown[0],
                    f"unknown field (allowed: {', '.join(OFFER_KEYS)})", unknown[0])
    missing = [key for key in ("name", "acceptance") if key not in raw]
    if missing:
        raise _fail(source, offer_id, missing[0], "is required")
    name, description = raw["name"], raw.get("description", "")
    if not isinstance(name, str) or not name.strip():
        raise _fail(source, offer_id, "name", "must be non-empty text", name)
    if not isinstance(description, str):
        raise _fail(source, offer_id, "description", "must be text", description)
    months = raw.get("months", 0)
    if isinstance(months, bool) or not isinstance(months, int) or months < 0:
        raise _fail(source, offer_id, "months", "must be a whole number >= 0", months)
    offer = Offer(
        id=offer_id, name=name.strip(), description=description,
        changes=_feature_table(source, offer_id, "changes", raw.get("changes", {}), False),
        discount=_number(source, offer_id, "discount", raw.get("discount", 0.0), 0, 1, True),
        months=months,
        monthly_cost=_number(source, offer_id, "monthly_cost", raw.get("monthly_cost", 0.0), 0),
        one_off_cost=_number(source, offer_id, "one_off_cost", raw.get("one_off_cost", 0.0), 0),
        eligible=_feature_table(source, offer_id, "eligible", raw.get("eligible", {}), True),
        acceptance=_number(source, offer_id, "acceptance", raw["acceptance"], 0, 1),
    )
    if (offer.discount > 0 or offer.monthly_cost > 0) and offer.months == 0:
        raise _fail(source, offer_id, "months", "must be at least 1 with a discount or a "
                    "monthly_cost (otherwise the offer would cost nothing)", months)
    if not offer.changes and offer.discount == 0:
        raise _fail(source, offer_id, "changes", "the offer changes nothing: give `changes` "
                    "or a `discount`")
    return offer


def load_catalogue(path: str | Path) -> Catalogue:
    """Read and validate an offer catalogue (TOML; format in data/offers.toml)."""
    path, source = Path(path), str(path)
    if not path.is_file():
        raise DataError("offer catalogue not found", file=source)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"not a valid TOML file ({exc})", file=source) from None
    unknown = sorted(set(raw) - {"settings", "offers"})
    if unknown:
        raise _fail(source, None, unknown[0], "unknown top-level table (allowed: settings, "
                    "offers)", unknown[0])
    settings = raw.get("settings", {})
    bad = sorted(set(settings) - {"contact_cost"}) if isinstance(settings, dict) else []
    if bad or not isinstance(settings, dict) or "contact_cost" not in settings:
        raise _fail(source, None, f"settings.{bad[0]}" if bad else "settings.contact_cost",
                    "unknown setting" if bad else "is required in [settings]")
    contact = _number(source, None, "settings.contact_cost", settings["contact_cost"], 0)
    offers_raw = raw.get("offers", {})
    if not isinstance(offers_raw, dict) or not offers_raw:
        raise _fail(source, None, "offers", "no offers: add at least one [offers.<id>] table")
    for offer_id in offers_raw:
        if not _ID.match(offer_id) or offer_id == NO_OFFER:
            raise _fail(source, offer_id, "id", "use letters, digits, '_' or '-' ('none' is "
                        "reserved)", offer_id)
    offers = tuple(_offer(source, offer_id, body) for offer_id, body in offers_raw.items())
    return Catalogue(offers=offers, contact_cost=contact, source=source)


def eligible_mask(frame: pd.DataFrame, offer: Offer) -> np.ndarray:
    """Boolean per row: every `eligible` condition holds and the offer changes something.

    A condition (or a change) on a column the frame lacks makes nobody eligible; a customer
    already in every state the offer's `changes` set is not eligible."""
    nobody = np.zeros(len(frame), dtype=bool)
    if not set(offer.eligible) | set(offer.changes) <= set(frame.columns):
        return nobody
    if not offer.changes and offer.discount <= 0:
        return nobody  # changes nothing at all
    mask = ~nobody
    for column, allowed in offer.eligible.items():
        mask &= frame[column].isin(list(allowed)).to_numpy(dtype=bool)
    if offer.changes:
        changes_something = nobody.copy()
        for column, value in offer.changes.items():
            changes_something |= (frame[column] != value).to_numpy(dtype=bool)
        mask &= changes_something
    return mask


def discount_feature(config: DatasetConfig | None) -> str | None:
    """The column a discount lowers: the config's single monthly revenue column (None when
    the data has none, or its revenue is several columns or not monthly)."""
    return DEFAULT_DISCOUNT_COLUMN if config is None else config.revenue_column


def apply_offer(frame: pd.DataFrame, offer: Offer,
                discount_column: str | None = DEFAULT_DISCOUNT_COLUMN) -> pd.DataFrame:
    """A copy of `frame` with the offer's `changes` set and the bill discounted.

    Categorical columns keep their dtype (the new value is added as a category if needed);
    with a discount, `discount_column` (the bill as the model sees it) and the canonical
    monthly revenue become x (1 - discount)."""
    out = frame.copy()
    for column, value in offer.changes.items():
        current = out[column] if column in out.columns else None
        if current is not None and isinstance(current.dtype, pd.CategoricalDtype):
            categories = current.cat.categories
            if value not in categories:
                categories = categories.append(pd.Index([value]))
            code = categories.get_loc(value)
            out[column] = pd.Categorical.from_codes(np.full(len(out), code), categories=categories,
                                                    ordered=current.cat.ordered)
        else:
            out[column] = value
    if offer.discount > 0:
        for column in {discount_column, MONTHLY} & set(out.columns):
            out[column] = out[column] * (1.0 - offer.discount)
    return out


def offer_cost(offer: Offer, monthly_charges) -> np.ndarray:
    """Cost per accepter: c = discount x monthly x months + monthly_cost x months + one_off.

    Without a discount the bill does not matter (a missing one, NaN, costs nothing)."""
    monthly = np.asarray(monthly_charges, dtype=float)
    off = offer.discount * monthly if offer.discount > 0 else np.zeros_like(monthly)
    return (off + offer.monthly_cost) * offer.months + offer.one_off_cost


def expected_profit(p0, p1, clv, acceptance, cost, contact_cost) -> np.ndarray:
    """Expected profit of contacting a customer: a x ((p0 - p1) x CLV - c) - k.

    p0: churn probability now; p1: model-implied probability with the offer; a: acceptance
    rate; c: cost per accepter (paid also by those who would have stayed); k: contact cost.
    Every argument may be a scalar or an array (broadcast)."""
    p0, p1, clv, a, c = (np.asarray(x, dtype=float) for x in (p0, p1, clv, acceptance, cost))
    return a * ((p0 - p1) * clv - c) - float(contact_cost)


def _monthly(frame: pd.DataFrame, discount_column: str | None) -> np.ndarray:
    for column in (MONTHLY, discount_column):
        if column is not None and column in frame.columns:
            return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    raise DataError("the customers have no monthly charges to price offers with",
                    column=discount_column or MONTHLY)


def _predict_stacked(predict, frame: pd.DataFrame, masks: list[np.ndarray],
                     offers: tuple[Offer, ...], discount_column: str | None) -> np.ndarray:
    """Every offer's eligible rows with the offer applied, scored in one predict call.

    Built on one object array (pandas' per-frame overheads dominate at a few rows); the
    result is apply_offer's, row for row."""
    base = frame.to_numpy(dtype=object)
    where = {column: i for i, column in enumerate(frame.columns)}
    blocks = []
    for mask, offer in zip(masks, offers):
        if not mask.any():
            continue
        block = base[mask].copy()
        for column, value in offer.changes.items():
            block[:, where[column]] = value
        if offer.discount > 0 and discount_column in where:
            i = where[discount_column]
            block[:, i] = block[:, i].astype(float) * (1.0 - offer.discount)
        blocks.append(block)
    if not blocks:
        return np.array([])
    return np.asarray(predict(pd.DataFrame(np.vstack(blocks), columns=frame.columns)),
                      dtype=float)


def best_offers(predict: Callable[[pd.DataFrame], np.ndarray], frame: pd.DataFrame, p0, clv,
                catalogue: Catalogue,
                discount_column: str | None = DEFAULT_DISCOUNT_COLUMN) -> pd.DataFrame:
    """The most profitable offer per customer, or "none" when no offer has a positive profit.

    Each offer re-scores its whole eligible subset with one `predict` call; a discount lowers
    `discount_column` (the config's revenue column, `discount_feature(config)`). Returns one
    row per customer (same index): best_offer, best_name, p1, expected_profit, cost and a
    profit_<offer id> column per offer (NaN where the customer is not eligible, or where the
    profit cannot be known: no CLV)."""
    n = len(frame)
    p0 = np.asarray(p0, dtype=float).reshape(-1)
    clv = np.asarray(clv, dtype=float).reshape(-1)
    if len(p0) != n or len(clv) != n:
        raise ValueError(f"p0 ({len(p0)}) and clv ({len(clv)}) need one value per row ({n})")
    monthly = _monthly(frame, discount_column)
    k = len(catalogue.offers)
    if k == 0:
        return pd.DataFrame({"best_offer": NO_OFFER, "best_name": NO_OFFER_NAME, "p1": p0,
                             "expected_profit": 0.0, "cost": 0.0}, index=frame.index)
    profit, p1, cost = (np.full((n, k), np.nan) for _ in range(3))
    masks = [eligible_mask(frame, offer) for offer in catalogue.offers]
    if sum(int(m.sum()) for m in masks) <= STACK_ROWS:
        # Few rows (the API, a form): one predict call for every offer's variant, since
        # each call has a fixed cost of a few milliseconds.
        stacked = _predict_stacked(predict, frame, masks, catalogue.offers, discount_column)
        pieces = iter(np.split(stacked, np.cumsum([int(m.sum()) for m in masks
                                                   if m.any()])[:-1]))
    else:
        pieces = None
    for j, offer in enumerate(catalogue.offers):
        mask = masks[j]
        if not mask.any():
            continue
        scored = (next(pieces) if pieces is not None else
                  np.asarray(predict(apply_offer(frame.loc[mask], offer, discount_column)),
                             dtype=float))
        if scored.shape != (int(mask.sum()),):
            raise ValueError(f"predict returned shape {scored.shape} for {int(mask.sum())} rows")
        p1[mask, j] = scored
        cost[mask, j] = offer_cost(offer, monthly[mask])
        profit[mask, j] = expected_profit(p0[mask], scored, clv[mask], offer.acceptance,
                                          cost[mask, j], catalogue.contact_cost)
    ranked = np.where(np.isnan(profit), -np.inf, profit)
    rows, best = np.arange(n), ranked.argmax(axis=1)
    top = ranked[rows, best]
    chosen = top > 0
    pick = np.where(chosen, best, k)
    out = pd.DataFrame({
        "best_offer": np.array([o.id for o in catalogue.offers] + [NO_OFFER], object)[pick],
        "best_name": np.array([o.name for o in catalogue.offers] + [NO_OFFER_NAME],
                              object)[pick],
        "p1": np.where(chosen, p1[rows, best], p0),
        "expected_profit": np.where(chosen, top, 0.0),
        "cost": np.where(chosen, cost[rows, best], 0.0),
    }, index=frame.index)
    for j, offer in enumerate(catalogue.offers):
        out[f"profit_{offer.id}"] = profit[:, j]
    return out


def targeting(expected_profit: np.ndarray, capacity: int | None = None) -> dict:
    """How many customers to contact: the cumulative expected profit, best first.

    best_size contacts every customer with a positive expected profit (the maximum of the
    curve); with a capacity the team contacts the top min(capacity, best_size) customers
    (never a loss-making one). NaN profits are left out. The curve starts at 0 contacted and
    has at most 500 points (always including best_size)."""
    values = np.asarray(expected_profit, dtype=float).reshape(-1)
    values = np.sort(values[~np.isnan(values)])[::-1]  # best first
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    best_size = int((values > 0).sum())
    capacity_total = capacity_size = None
    if capacity is not None:
        if capacity < 0:
            raise ValueError(f"capacity must be >= 0, got {capacity}")
        capacity_size = min(int(capacity), best_size)
        capacity_total = float(cumulative[capacity_size])
    points = np.unique(np.concatenate([
        np.linspace(0, len(values), min(CURVE_POINTS - 1, len(values) + 1)).round().astype(int),
        [best_size]]))
    return {"best_size": best_size, "best_total": float(cumulative[best_size]),
            "capacity": capacity, "capacity_size": capacity_size,
            "capacity_total": capacity_total,
            "curve": {"contacted": points.tolist(),
                      "cumulative_profit": cumulative[points].tolist()}}


__all__ = ["DEFAULT_DISCOUNT_COLUMN", "Catalogue", "Offer", "apply_offer", "best_offers",
           "discount_feature", "eligible_mask", "expected_profit", "load_catalogue",
           "offer_cost", "targeting"]
