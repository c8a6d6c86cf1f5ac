"""Behaviour over time for the demo customers: usage weeks, support tickets with text,
e-mails, plan changes and the feedback leavers wrote (an outcome, never a feature).

:func:`generate_demo_events` turns :func:`analytics.demo.generate_demo` customers
(``with_dates=True``) into five export-style tables (:data:`DEMO_EVENT_TABLES`) over the
``weeks`` weeks before extraction: nothing before BeginDate (usage weeks start on the first
Monday on or after it), nothing after a churner's EndDate (the last week counts only the
days before it). A usage row covers [week_start, week_start + 7 days): known at its end.

``typed=True`` (what :func:`analytics.loaders.load_demo` uses): the same values as typed
columns, as a Parquet export holds them: ids and codes as categoricals, times as datetime64,
yes/no as bool, ratings as numbers (NaN when none). ``typed=False``: export-style text, as
in a CSV file (ISO dates, "Yes"/"No", "" when empty). At 1M customers (41M usage weeks)
typed is ~4x faster and ~3 GB smaller.

``signal=True``: 75 % of churners turn during the L = 1-5 months (per customer) before
EndDate. An intensity d x p(t) (p rising to 1, depth d = 0.4-0.7) lowers usage to 1 - d p of
its baseline and raises dropped calls, tickets (more negative, less satisfied, escalated),
unopened e-mails and downgrades. 15 % of stayers dip (d = 0.15-0.45) around a random date
and recover. ``signal=False``: everyone follows the stayers' process. Baselines follow the
static columns (fiber users download more), which adds nothing. Vectorised, seeded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from analytics.data.event_text import FEEDBACK_TEMPLATES, SLOTS, TICKET_TEMPLATES, pick

__all__ = ["DEMO_EVENT_TABLES", "TICKET_TEMPLATES", "FEEDBACK_TEMPLATES",
           "generate_demo_events", "demo_event_blocks"]

_KEY = "customerID"
DEMO_EVENT_TABLES: dict[str, dict] = {
    "usage": {"role": "events", "key": _KEY, "time": "week_start", "period_days": 7,
              "measures": ["data_gb", "call_minutes", "dropped_calls"],
              "ratios": [["dropped_calls", "call_minutes"]], "unit": "usage week"},
    "tickets": {"role": "tickets", "key": _KEY, "time": "opened_at", "closed": "closed_at",
                "first_response": "first_response_hours", "satisfaction": "satisfaction",
                "escalated": "escalated", "kind": "category", "text": "text", "unit": "ticket"},
    "emails": {"role": "events", "key": _KEY, "time": "sent_at", "measures": ["opened", "clicked"],
               "ratios": [["opened", "count"], ["clicked", "opened"]], "kind": "campaign",
               "unit": "e-mail"},
    "plan_changes": {"role": "history", "key": _KEY, "time": "changed_at", "change": "change_type",
                     "mrr": "monthly_after", "plan": "new_plan", "unit": "plan change"},
    "churn_feedback": {"role": "outcome", "key": _KEY, "time": "left_at", "reason": "reason_code",
                       "text": "feedback", "unit": "leaver"},
}
REQUIRED = ("customerID", "BeginDate", "EndDate", "Contract", "InternetService",
            "MonthlyCharges")  # PhoneService and PaperlessBilling are used when present

# ---- The behaviour process ----------------------------------------------------------------
P_TURN_CHURNER, DEPTH_CHURNER = 0.75, (0.40, 0.70)
P_DIP_STAYER, DEPTH_STAYER = 0.15, (0.15, 0.45)
TURN_DAYS = (30.0, 150.0)          # L, the half-width of the triangle p(t)
DIP_AFTER_EXTRACTION = 60          # a stayer's dip peaks up to 60 days after extraction
DATA_GB_WEEK = np.array([2.5, 6.0, 0.0])   # median weekly GB: DSL / Fiber optic / none
CALL_MINUTES_WEEK, DROP_PER_MINUTE = 110.0, 0.006
DROP_BOOST, TICKET_BOOST, PLAN_BOOST = 4.0, 6.0, 8.0   # rate x (1 + boost x intensity)
TICKETS_PER_YEAR, PLAN_CHANGES_PER_YEAR = 0.7, 0.12
CATEGORIES = np.array(["Billing", "Network", "Device", "Account", "Other"], dtype=object)
CATEGORY_WEIGHTS = np.array([[.30, .25, .20, .15, .10],    # DSL
                             [.25, .35, .15, .15, .10],    # Fiber optic
                             [.40, .10, .25, .15, .10]])   # no internet
RESOLUTION_HOURS = np.array([8.0, 30.0, 40.0, 6.0, 12.0])  # median, by category
HOUR_WEIGHTS = np.array([0, 0, 0, 0, 0, 0, 1, 3, 6, 8, 8, 7, 6, 7, 7, 6, 6, 6, 6, 5, 4, 3, 2, 1.])
CAMPAIGNS = np.array(["billing", "newsletter", "offer", "survey"], dtype=object)
CAMPAIGN_DAY = (2, 10, 20, 15)     # day of the month; surveys only in Jan / Apr / Jul / Oct
OPEN_FACTOR, CLICK_FACTOR = np.array([1.3, 0.7, 0.9, 0.8]), np.array([0.5, 0.8, 1.6, 1.2])
P_NEWSLETTER, P_OFFER, P_SURVEY = 0.85, 0.35, 0.40   # billing mails go to paperless billing
PLAN_FAMILY = ("DSL", "Fiber", "Voice")   # then a level by tens of the monthly price:
PLAN_LEVEL = ("", "Lite", "Basic", "Start", "Plus", "Extra", "Pro", "Max", "Premium", "Ultra",
              "Elite", "Ultimate")
MONTHLY_MIN, MONTHLY_MAX = 18.25, 118.75
REASONS = np.array(["Price", "Competitor", "Service quality", "Network coverage", "Moved",
                    "Other"], dtype=object)
REASON_WEIGHTS = np.array([.28, .24, .16, .12, .10, .10])
P_FEEDBACK = 0.70
YES_NO = np.array(["No", "Yes"], dtype=object)
# A larger demo is generated in blocks of customers, each with streams of its own, on every
# core (1M customers: ~17 s on one core). A demo of up to BLOCK customers is one block.
BLOCK = 250_000

def to_days(values) -> np.ndarray:
    """Days since 1970-01-01 of ISO texts ("YYYY-MM-DD..."); -1 where not a date ("No")."""
    index, uniques = pd.factorize(np.asarray(values, dtype=object))
    parsed = pd.to_datetime(pd.Index(uniques.astype(str)).str[:10], format="%Y-%m-%d",
                            errors="coerce")
    return np.where(parsed.isna(), -1, parsed.values.astype("datetime64[D]").astype(int))[index]


def iso_days(days: np.ndarray) -> np.ndarray:
    """"YYYY-MM-DD" texts of int days, through one lookup table over their range."""
    days = np.asarray(days, dtype=np.int64)
    lo = int(days.min()) if days.size else 0
    span = np.arange(lo, int(days.max()) + 1 if days.size else lo)
    return np.datetime_as_string(span.astype("datetime64[D]")).astype(object)[days - lo]


def iso_minutes(minutes: np.ndarray) -> np.ndarray:
    """"YYYY-MM-DD HH:MM" texts of int minutes since 1970-01-01."""
    day, minute = np.divmod(np.asarray(minutes, dtype=np.int64), 1440)
    clock = np.array([f" {h:02d}:{m:02d}" for h in range(24) for m in range(60)], dtype=object)
    return iso_days(day) + clock[minute]


class Columns:
    """The column maker of one output style: text (an export) or typed (see the module)."""

    def __init__(self, typed: bool, ids: np.ndarray):
        self.typed, self.ids, self.offset = bool(typed), ids, 0
        self._ids_dtype = pd.CategoricalDtype(pd.Index(ids)) if typed else None

    def shifted(self, offset: int) -> Columns:
        """The same maker for a block of customers starting at position ``offset``."""
        block = object.__new__(Columns)
        block.__dict__.update(self.__dict__, offset=int(offset))
        return block

    def owners(self, owner: np.ndarray):
        """The customer ids of rows ``owner`` (positions in the block)."""
        owner = owner + self.offset if self.offset else owner
        if self.typed:
            # One dtype for every table, as one export's dictionary of ids.
            return pd.Categorical.from_codes(owner.astype(np.int32, copy=False),
                                             dtype=self._ids_dtype)
        return self.ids[owner]

    def days(self, days: np.ndarray, blank: np.ndarray | None = None):
        return self._time(days, "D", iso_days, blank)

    def minutes(self, minutes: np.ndarray, blank: np.ndarray | None = None):
        return self._time(minutes, "m", iso_minutes, blank)

    def _time(self, values: np.ndarray, unit: str, iso, blank: np.ndarray | None):
        """Times in ``unit`` (days or minutes since 1970): datetime64 (NaT where ``blank``)
        when typed, else ISO text ('' where ``blank``)."""
        if self.typed:
            out = np.asarray(values, dtype=np.int64).astype(f"M8[{unit}]").astype("M8[ns]")
            return out if blank is None else np.where(blank, np.datetime64("NaT"), out)
        text = iso(values)
        return text if blank is None else np.where(blank, "", text).astype(object)

    def labels(self, names: np.ndarray, index: np.ndarray):
        """``names[index]``: a categorical when typed."""
        if self.typed:
            return pd.Categorical.from_codes(np.asarray(index, dtype=np.int32),
                                             categories=list(names))
        return names[index]

    def number(self, values: np.ndarray):
        """A measure: float32 when typed, as the loader keeps it (its own cast of the
        float64: the same values either way)."""
        return values.astype(np.float32) if self.typed else values

    def yes_no(self, flags: np.ndarray):
        flags = np.asarray(flags, dtype=bool)
        return flags if self.typed else YES_NO[flags.astype(int)]


def codes(prefix: str, n: int, width: int, start: int = 0) -> np.ndarray:
    """Ids ``prefix`` + start+1..start+n zero-padded to ``width`` digits ("TCK-0000001")."""
    if n == 0:   # a block (or a tiny demo) without a ticket
        return np.empty(0, dtype=object)
    return prefix + np.char.zfill(np.arange(start + 1, start + n + 1).astype(str),
                                  width).astype(object)


def expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, position within its owner) of ``counts[i]`` rows for each owner i."""
    owner = np.repeat(np.arange(len(counts)), counts)
    return owner, np.arange(len(owner)) - (np.cumsum(counts) - counts)[owner]


def intensity(state: dict, owner: np.ndarray, t: np.ndarray) -> np.ndarray:
    """How far ``owner`` has turned at day ``t``: depth x a triangle (1 at anchor, 0 at length)."""
    # In place, one scratch buffer: the same operations (so the same values) without five
    # temporaries of len(owner) (41M usage weeks at 1M customers: 330 MB each).
    at = np.empty(len(owner))
    gap = np.subtract(t, np.take(state["anchor"], owner, out=at))
    np.abs(gap, out=gap)
    gap /= np.take(state["length"], owner, out=at)
    np.subtract(1.0, gap, out=gap)
    np.maximum(0.0, gap, out=gap)
    gap *= np.take(state["depth"], owner, out=at)
    return gap


def thinned(rng, start: np.ndarray, stop: np.ndarray, rate: np.ndarray, state: dict,
            boost: float):
    """(owner, time, intensity) of Poisson arrivals in each owner's [start, stop) at ``rate``
    per day x (1 + boost x intensity) (thinned from the peak rate), sorted by time."""
    peak = np.maximum(1.0, 1.0 + boost * state["depth"])
    span = np.maximum(stop - start, 0.0)
    owner = np.repeat(np.arange(len(span)), rng.poisson(rate * peak * span))
    t = start[owner] + rng.random(len(owner)) * span[owner]
    turn = intensity(state, owner, t)
    keep = np.flatnonzero(rng.random(len(t)) * peak[owner] < 1.0 + boost * turn)
    keep = keep[np.argsort(t[keep], kind="stable")]
    return owner[keep], t[keep], turn[keep]


def draw(rng, weights: np.ndarray) -> np.ndarray:
    """One category index per row of ``weights`` (rows need not sum to 1)."""
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(cum)) * cum[:, -1]
    return np.minimum((u[:, None] >= cum).sum(axis=1), weights.shape[1] - 1)


def _customers(customers: pd.DataFrame, extraction: int, weeks: int) -> dict:
    begin, end = to_days(customers["BeginDate"]), to_days(customers["EndDate"])
    w0 = extraction - 1 - (extraction + 2) % 7 - 7 * (weeks - 1)   # a Monday, weeks back
    internet = pd.Categorical(customers["InternetService"], ["DSL", "Fiber optic", "No"]).codes
    yes = {c: (customers[c] == "Yes").to_numpy() if c in customers else np.ones(len(begin), bool)
           for c in ("PhoneService", "PaperlessBilling")}
    return {"ids": customers[_KEY].to_numpy(dtype=object), "begin": begin, "w0": w0,
            "stop": np.where(end >= 0, end, extraction), "ended": end >= 0,
            "start": np.maximum(begin, w0).astype(float), "phone": yes["PhoneService"],
            "monthly": customers["MonthlyCharges"].to_numpy(dtype=float),
            "internet": np.where(internet < 0, 2, internet), "paperless": yes["PaperlessBilling"],
            "m2m": (customers["Contract"] == "Month-to-month").to_numpy()}


def _state(rng, cu: dict, extraction: int, signal: bool) -> dict:
    """Each customer's turn (anchor, length, depth) and a few behaviour baselines."""
    n = len(cu["ids"])
    turned, dips = rng.random(n) < P_TURN_CHURNER, rng.random(n) < P_DIP_STAYER
    depth_c, depth_s = rng.uniform(*DEPTH_CHURNER, n), rng.uniform(*DEPTH_STAYER, n)
    dip_at = rng.uniform(cu["w0"], extraction + DIP_AFTER_EXTRACTION, n)
    churner = cu["ended"] & signal
    return {"anchor": np.where(churner, cu["stop"], dip_at), "length": rng.uniform(*TURN_DAYS, n),
            "depth": np.where(churner, depth_c * turned, depth_s * dips),
            "drop_rate": DROP_PER_MINUTE * rng.lognormal(0.0, 0.5, n),
            "open": rng.beta(2.0, 2.6, n), "click": rng.beta(2.0, 6.0, n)}


def _usage(rng, cu: dict, st: dict, out: Columns) -> pd.DataFrame:
    n, w0 = len(cu["ids"]), cu["w0"]
    first = np.maximum(0, -((w0 - cu["begin"]) // 7))   # first Monday on or after BeginDate
    last = (cu["stop"] - 1 - w0) // 7                    # last week starting before the end
    owner, pos = expand(np.maximum(last - first + 1, 0))
    # (Row-long arithmetic in place where it is the same operations in the same order: the
    # same values with fewer temporaries of 41M rows.)
    day = np.take(first, owner)
    day += pos
    del pos
    day *= 7
    day += w0
    active = np.take(cu["stop"], owner)
    active -= day
    np.minimum(7, active, out=active)
    middle = active / 2.0
    middle += day
    turn = intensity(st, owner, middle)
    del middle
    level = np.subtract(1.0, turn)
    level *= active
    level /= 7.0
    del active
    gb_base = np.where(cu["internet"] == 2, 0.0, DATA_GB_WEEK[cu["internet"]]
                       * rng.lognormal(0.0, 0.6, n) * np.sqrt(cu["monthly"] / 65.0))
    minute_base = np.where(cu["phone"], CALL_MINUTES_WEEK * rng.lognormal(0.0, 0.7, n), 0.0)
    m = len(owner)

    def measure(base, sigma, decimals):
        values = np.take(base, owner)
        values *= level
        values *= rng.lognormal(0.0, sigma, m)
        return np.round(values, decimals, out=values)
    gb = measure(gb_base, 0.25, 2)
    minutes = measure(minute_base, 0.3, 1)
    del level
    drop_rate = np.multiply(DROP_BOOST, turn, out=turn)
    drop_rate += 1.0
    drop_rate *= np.take(st["drop_rate"], owner)
    drop_rate *= minutes
    dropped = rng.poisson(drop_rate).astype(np.int32 if out.typed else np.int64)
    del drop_rate, turn
    return pd.DataFrame({"customerID": out.owners(owner), "week_start": out.days(day),
                         "data_gb": out.number(gb), "call_minutes": out.number(minutes),
                         "dropped_calls": dropped}, copy=False)


def _tickets(rng, cu: dict, st: dict, extraction: int, out: Columns) -> pd.DataFrame:
    internet = cu["internet"]
    rate = (TICKETS_PER_YEAR / 365.0 * rng.lognormal(0.0, 0.6, len(internet))
            * np.where(internet == 1, 1.4, 1.0) * np.where(cu["m2m"], 1.2, 1.0))
    owner, t, turn = thinned(rng, cu["start"], cu["stop"], rate, st, TICKET_BOOST)
    m = len(owner)
    hour = rng.choice(24, size=m, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    opened = np.floor(t).astype(np.int64) * 1440 + hour * 60 + rng.integers(0, 60, m)
    category = draw(rng, CATEGORY_WEIGHTS[internet[owner]])
    tone = draw(rng, np.column_stack([0.30 + 1.2 * turn, np.full(m, 0.48),
                                      np.maximum(0.22 - 0.3 * turn, 0.02)]))
    pools = [pool for tone_pools in TICKET_TEMPLATES.values() for pool in tone_pools]
    text = pick(rng, pools, tone * len(CATEGORIES) + category, SLOTS)
    closed = opened + np.rint(RESOLUTION_HOURS[category] * rng.lognormal(0.0, 1.0, m) * 60)
    closed = np.where(cu["ended"][owner], np.minimum(closed, cu["stop"][owner] * 1440), closed)
    still_open = closed >= extraction * 1440    # a leaver's tickets close with the account
    response = np.minimum(2.5 * rng.lognormal(0.0, 0.9, m) * (1.0 + 2.0 * turn),
                          (closed - opened) / 60.0)
    mood = np.array([2.3, 3.5, 4.3])[tone] - 2.0 * turn
    score = np.clip(np.rint(rng.normal(mood, 0.8)), 1, 5)
    rated = ~still_open & (rng.random(m) < 0.45)
    escalated = rng.random(m) < 0.04 + 0.10 * (tone == 0) + 0.30 * turn
    satisfaction = (np.where(rated, score, np.nan) if out.typed else
                    np.where(rated, score.astype(int).astype(str), "").astype(object))
    return pd.DataFrame({
        "ticket_id": codes("TCK-", m, 7), "customerID": out.owners(owner),
        "opened_at": out.minutes(opened),
        "closed_at": out.minutes(closed.astype(np.int64), blank=still_open),
        "first_response_hours": np.round(response, 1), "satisfaction": satisfaction,
        "escalated": out.yes_no(escalated), "category": out.labels(CATEGORIES, category),
        "text": text})


def _emails(rng, cu: dict, st: dict, extraction: int, out: Columns) -> pd.DataFrame:
    n, w0 = len(cu["ids"]), cu["w0"]
    months = pd.period_range(pd.Timestamp(w0, unit="D"), pd.Timestamp(extraction, unit="D"),
                             freq="M")
    sends = sorted((int(to_days([f"{p}-{day:02d}"])[0]), k) for p in months
                   for k, day in enumerate(CAMPAIGN_DAY) if k != 3 or p.month % 3 == 1)
    sends = [(d, k) for d, k in sends if w0 <= d < extraction]
    lists = {0: cu["paperless"], 1: rng.random(n) < P_NEWSLETTER}   # offers, surveys: drawn
    who = [np.flatnonzero((lists[k] if k < 2 else rng.random(n) < (P_OFFER, P_SURVEY)[k - 2])
                          & (cu["begin"] <= d) & (d < cu["stop"])) for d, k in sends]
    size = [len(w) for w in who]
    owner = np.concatenate([np.empty(0, np.int64), *who])
    day, camp = (np.repeat(np.array([s[i] for s in sends], dtype=np.int64), size) for i in (0, 1))
    turn = intensity(st, owner, day + 0.5)
    p_open = np.minimum(st["open"][owner] * OPEN_FACTOR[camp] * (1.0 - 0.9 * turn), 0.98)
    opened = rng.random(len(owner)) < p_open
    clicked = opened & (rng.random(len(owner)) < st["click"][owner] * CLICK_FACTOR[camp]
                        * (1.0 - 0.6 * turn))
    return pd.DataFrame({"customerID": out.owners(owner), "sent_at": out.days(day),
                         "campaign": out.labels(CAMPAIGNS, camp), "opened": out.yes_no(opened),
                         "clicked": out.yes_no(clicked)}, copy=False)


def _plan_changes(rng, cu: dict, st: dict, out: Columns) -> pd.DataFrame:
    rate = np.full(len(cu["ids"]), PLAN_CHANGES_PER_YEAR / 365.0)
    owner, t, turn = thinned(rng, cu["start"], cu["stop"], rate, st, PLAN_BOOST)
    order = np.lexsort((t, owner))   # by customer, then time
    owner, t, turn = owner[order], t[order], turn[order]
    m = len(owner)
    down = rng.random(m) < np.minimum(0.35 + 0.9 * turn, 0.95)
    delta = 10.0 + 5.0 * rng.integers(0, 5, m) + np.round(rng.random(m), 2)
    # Walk back from today's price: a customer's last change ends at MonthlyCharges.
    count = np.bincount(owner, minlength=len(cu["ids"]))
    from_last = count[owner] - 1 - expand(count)[1]
    before, after, price = np.empty(m), np.empty(m), cu["monthly"].copy()
    for j in range(int(from_last.max()) + 1 if m else 0):
        rows = np.flatnonzero(from_last == j)
        now, step = price[owner[rows]], delta[rows]
        down[rows] = np.where(down[rows], now + step <= MONTHLY_MAX, now - step < MONTHLY_MIN)
        after[rows], before[rows] = now, np.where(down[rows], now + step, now - step)
        price[owner[rows]] = before[rows]
    # "Fiber Plus": the family, then a level by tens of the price (steps of 10+ change it).
    names = np.array([[f"{f} {lv}" for lv in PLAN_LEVEL] for f in PLAN_FAMILY], dtype=object)
    family = cu["internet"][owner]
    plan = [names[family, np.clip((v // 10).astype(int), 1, 11)] for v in (before, after)]
    return pd.DataFrame({
        "customerID": out.owners(owner), "changed_at": out.days(np.floor(t).astype(np.int64)),
        "change_type": out.labels(np.array(["upgrade", "downgrade"], dtype=object),
                                  down.astype(int)),
        "old_plan": plan[0], "new_plan": plan[1],
        "monthly_before": np.round(before, 2), "monthly_after": np.round(after, 2)})


def _feedback(rng, cu: dict, st: dict, out: Columns) -> pd.DataFrame:
    leavers = np.flatnonzero(cu["ended"])
    leavers = leavers[rng.random(len(leavers)) < P_FEEDBACK]
    w = np.tile(REASON_WEIGHTS, (len(leavers), 1))
    w[:, 0] *= np.where(cu["monthly"][leavers] > 80.0, 1.6, 1.0)
    w[:, 1] *= np.where(cu["internet"][leavers] == 1, 1.3, 1.0)
    w[:, 2] *= np.where(st["depth"][leavers] > 0.0, 1.6, 1.0)
    w[:, 3] *= np.where(st["drop_rate"][leavers] > DROP_PER_MINUTE * 1.3, 2.0, 1.0)
    reason = draw(rng, w)
    return pd.DataFrame({"customerID": out.owners(leavers),
                         "left_at": out.days(cu["stop"][leavers]),
                         "reason_code": out.labels(REASONS, reason),
                         "feedback": pick(rng, FEEDBACK_TEMPLATES, reason, SLOTS)})


def generate_demo_events(customers: pd.DataFrame, seed: int = 0,
                         extraction_date: str = "2020-02-01", signal: bool = True,
                         weeks: int = 52, typed: bool = False) -> dict[str, pd.DataFrame]:
    """{"usage", "tickets", "emails", "plan_changes", "churn_feedback"} (see
    :data:`DEMO_EVENT_TABLES`) of ``generate_demo(n, seed, with_dates=True)`` customers and
    their own ``extraction_date``, as text or ``typed`` columns (see the module).
    ValueError on missing columns, weeks < 1 or a bad date."""
    blocks, names, make = _plan(customers, seed, extraction_date, signal, weeks, typed)
    tasks = [(k, b) for k in range(len(names)) for b in range(len(blocks))]
    frames = {}
    # Each table and block has streams of its own: the same frames on any number of cores.
    with ThreadPoolExecutor(min(len(tasks), os.cpu_count() or 1)) as pool:
        futures = [pool.submit(make, task) for task in tasks]
        for k, name in enumerate(names):   # each table as soon as it is made
            parts = [futures[k * len(blocks) + b].result() for b in range(len(blocks))]
            for b in range(len(blocks)):
                futures[k * len(blocks) + b] = None
            frames[name] = _concat(parts)
            del parts
    if len(blocks) > 1:   # one numbering over the blocks
        frames["tickets"]["ticket_id"] = codes("TCK-", len(frames["tickets"]), 7)
    return frames


def demo_event_blocks(customers: pd.DataFrame, seed: int = 0,
                      extraction_date: str = "2020-02-01", signal: bool = True,
                      weeks: int = 52, typed: bool = False
                      ) -> Iterator[tuple[int, int, dict[str, pd.DataFrame]]]:
    """The frames of :func:`generate_demo_events`, one block of BLOCK customers at a time:
    (first position, end position, {table: the block's rows}). Concatenated, the blocks are
    those frames (but for the ticket ids' numbering), and a block holds every row of its
    customers, so their behaviour can be built from it alone (analytics/data/streamed.py).
    `customers` is read at the call (its columns may change before the blocks are made)."""
    blocks, names, make = _plan(customers, seed, extraction_date, signal, weeks, typed)
    return _made(blocks, names, make)


def _made(blocks, names, make) -> Iterator[tuple[int, int, dict[str, pd.DataFrame]]]:
    tickets = 0
    with ThreadPoolExecutor(min(len(names), os.cpu_count() or 1)) as pool:
        for b, (lo, hi) in enumerate(blocks):
            futures = [pool.submit(make, (k, b)) for k in range(len(names))]
            frames = {name: future.result() for name, future in zip(names, futures)}
            del futures
            if len(blocks) > 1:
                n = len(frames["tickets"])
                frames["tickets"]["ticket_id"] = codes("TCK-", n, 7, start=tickets)
                tickets += n
            yield lo, hi, frames
            del frames


def _plan(customers: pd.DataFrame, seed: int, extraction_date: str, signal: bool,
          weeks: int, typed: bool):
    """(the blocks' position ranges, the tables' names, make((table, block)) -> frame)."""
    missing = [c for c in REQUIRED if c not in customers.columns]
    extraction = int(to_days([extraction_date])[0])
    if missing or int(weeks) < 1 or extraction < 0:
        raise ValueError(f"need generate_demo(..., with_dates=True) customers (missing: "
                         f"{', '.join(missing) or 'none'}), weeks >= 1 (got {weeks!r}) and an "
                         f"ISO extraction_date (got {extraction_date!r})")
    cu = _customers(customers, extraction, int(weeks))
    st = _state(np.random.default_rng([seed, 2020, 0]), cu, extraction, bool(signal))
    out = Columns(typed, cu["ids"])
    n = len(cu["ids"])
    blocks = [(lo, min(lo + BLOCK, n)) for lo in range(0, n, BLOCK)] or [(0, 0)]
    tables = (("usage", lambda r, c, s, o: _usage(r, c, s, o)),
              ("tickets", lambda r, c, s, o: _tickets(r, c, s, extraction, o)),
              ("emails", lambda r, c, s, o: _emails(r, c, s, extraction, o)),
              ("plan_changes", lambda r, c, s, o: _plan_changes(r, c, s, o)),
              ("churn_feedback", lambda r, c, s, o: _feedback(r, c, s, o)))

    def make(task: tuple[int, int]) -> pd.DataFrame:
        k, b = task
        lo, hi = blocks[b]
        # Block 0's streams are those of a demo of at most BLOCK customers.
        rng = np.random.default_rng([seed, 2020, k + 1] + ([b] if b else []))
        part = {key: value[lo:hi] if isinstance(value, np.ndarray) else value
                for key, value in cu.items()}
        return tables[k][1](rng, part, {key: v[lo:hi] for key, v in st.items()},
                            out.shifted(lo))

    return blocks, [name for name, _make in tables], make


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """pd.concat of the blocks of a table; a categorical column whose blocks share one
    category index (the customer ids) by its codes, without pandas hashing that index to
    check that the blocks' categories match (0.25 s less at 600,000 customers)."""
    if len(parts) == 1:
        return parts[0]
    columns = {}
    for column in parts[0].columns:
        first = parts[0][column]
        if isinstance(first.dtype, pd.CategoricalDtype) and all(
                part[column].cat.categories is first.cat.categories for part in parts):
            codes = np.concatenate([part[column].cat.codes.to_numpy() for part in parts])
            columns[column] = pd.Categorical.from_codes(codes, dtype=first.dtype)
        else:
            columns[column] = pd.concat([part[column] for part in parts], ignore_index=True)
    return pd.DataFrame(columns)
