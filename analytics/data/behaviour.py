"""Behavioural features per customer at an as-of date from the canonical tables of
analytics/data/events.py. Honest: a row counts only when dated strictly before `as_of`, a value
only once known before it.

Rules. The w-day window is ``as_of - w days <= TIME < as_of``. Tickets: open = opened before
as_of and not closed before it; resolution and satisfaction are dated by CLOSED (the 90-day
means take tickets closed in the 90 days; CLOSED is derived from RESOLUTION, or the reverse,
when only one is given); a first response counts once TIME + FIRST_RESPONSE < as_of; ESCALATED
is taken as known at opening. History: a row is in force when it started before as_of and did
not end before it (END NaT or END >= as_of); "last" values are the mean at the latest time.
Customers without rows get 0 on counts and sums and NaN on means, recency and last values.

Engines. Rows fall in age buckets (0-7, 7-30, 30-60, 60-90, over 90 days, unusable) once;
windows, trend and change are bucket sums. "numpy" (analytics/data/behaviour_np.py:
np.bincount on customer * 6 + bucket, ufunc.at for extremes; no sort) and "duckdb" (analytics/data/behaviour_sql.py, one GROUP BY per
table over the registered frame) make the same aggregates and `_features` turns them into the
features, so both give the same frame. "auto" is numpy: faster and no larger in
bench/bench_behaviour.py (1M customers / 30M events: 5.4 s against 7.9 s, both ~2.2 GB peak).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.data.events import CLOSED, CUSTOMER, PLAN, RESOLUTION, ROLES, TIME, EventTable
from analytics.errors import DataError

WINDOWS = (7, 30, 90)
ENGINES = ("auto", "numpy", "duckdb")        # "pandas" is taken as "numpy"
AUTO_ENGINE = "numpy"                        # measured: see bench/bench_behaviour.py
DAY_NS = 86_400 * 10**9
HOUR_NS = 3_600 * 10**9
MONTH_DAYS = 30.4375
NEGATIVE = -0.05                             # a sentiment at or below it is negative
WINDOWED_MEASURES = 3                        # measures after these get the 90-day sum only
BUCKETS = ("7", "30", "60", "90", "old")    # age buckets (ends in days); 5 = not usable
NAT = np.iinfo(np.int64).min
# the stats that are 0 for a customer without rows (the others are NaN)
ZERO_WHEN_EMPTY = frozenset({"count", "sum", "rate", "distinct", "negative", "open",
                             "escalations", "mrr_now", "mrr_change_90d", "seats", "active",
                             "upgrades", "downgrades", "plan_changes"})
KIND_GRID = 2**27                            # customers x kinds up to it: a bool grid (128 MB)


@dataclass
class FeatureMeta:
    """What a feature is, for charts (label) and for one customer's reasons (describe)."""

    name: str
    table: str
    stat: str
    window: int | None = None
    measure: str | None = None
    label: str = ""
    unit: str = "event"          # the noun of one row: "ticket", "usage event"

    def describe(self, value) -> str:
        """The reason text for one customer's value of this feature."""
        return _describe(self, value)


@dataclass
class BehaviourFeatures:
    frame: pd.DataFrame            # n_customers rows, index = CUSTOMER position
    meta: dict[str, FeatureMeta]   # one per column
    # table -> the levels its changes compare, per CUSTOMER position (see `_features`)
    levels: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def sources(self) -> dict[str, str]:
        return {name: m.table for name, m in self.meta.items()}


def slug(text: str) -> str:
    """'Usage Count' -> 'usage_count'."""
    return re.sub(r"[^0-9a-z]+", "_", str(text).lower()).strip("_") or "x"


def behaviour_features(tables: Sequence[EventTable], n_customers: int, as_of: pd.Timestamp,
                       tenure_months: np.ndarray | None = None,
                       engine: str = "auto",
                       aggregates: Callable[[EventTable], dict] | None = None
                       ) -> BehaviourFeatures:
    """Features of customers 0..n_customers-1 at `as_of` from the rows dated before it.
    `tenure_months` (at `as_of`): the denominator of the monthly rates (else the months since
    the customer's first event). `aggregates(table)`: its `aggregate(...)` at `as_of`, from
    a caller that reads the tables block by block (one table's at a time in memory)."""
    n = int(n_customers)
    tenure = None if tenure_months is None else np.asarray(tenure_months, dtype=np.float64)
    if tenure is not None and tenure.shape != (n,):
        raise ValueError(f"tenure_months has {tenure.shape} values for {n:,} customers")
    columns: dict[str, np.ndarray] = {}
    meta: dict[str, FeatureMeta] = {}
    levels: dict[str, dict[str, np.ndarray]] = {}
    for table in tables:
        if aggregates is not None:
            raw = aggregates(table)
        else:
            raw = aggregate(table, n, as_of, engine)
        for m, values in _features(table, raw, tenure, levels.setdefault(table.name, {})):
            if m.name in meta:
                raise ValueError(f"two features named {m.name!r}: give the tables other names")
            meta[m.name] = m
            columns[m.name] = values.astype(np.float32)
    return BehaviourFeatures(frame=pd.DataFrame(columns, index=pd.RangeIndex(n)), meta=meta,
                             levels={t: v for t, v in levels.items() if v})


def aggregate(table: EventTable, n: int, as_of: pd.Timestamp,
              engine: str = "auto") -> dict[str, np.ndarray]:
    """The per-customer aggregates of one table at `as_of` (customers 0..n-1), which
    `_features` turns into features."""
    engine = {"pandas": "numpy", "auto": AUTO_ENGINE}.get(engine, engine)
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: one of {ENGINES} or 'pandas'")
    a = _ns(pd.Timestamp(as_of))
    _check(table, n)
    table = prepared(table)
    if engine == "duckdb":
        from analytics.data.behaviour_sql import aggregate_duckdb
        return aggregate_duckdb(table, n, a)
    from analytics.data.behaviour_np import aggregate_numpy
    return aggregate_numpy(table, n, a)


def _check(table: EventTable, n: int) -> None:
    if not table.is_feature_source:
        raise ValueError(f"table '{table.name}' is a post-outcome table: post-outcome "
                         "tables are never features")
    if table.role not in ROLES:
        raise ValueError(f"table '{table.name}': unknown role {table.role!r}")
    missing = [m for m in table.measures if m not in table.frame]
    odd = [r for r in table.ratios if not set(r) <= {*table.measures, "count"}]
    if missing or odd:
        raise DataError("measures must be columns and ratios pairs of measures (or 'count')",
                        file=table.source or table.name, column=(missing or [None])[0],
                        examples=[repr(r) for r in odd[:3]])
    c = table.frame[CUSTOMER].to_numpy()
    if len(c) and (c.min() < 0 or c.max() >= n):
        bad = c[(c < 0) | (c >= n)][:3]
        raise DataError(f"customer positions outside 0..{n - 1}", file=table.source or
                        table.name, column=CUSTOMER, examples=[str(v) for v in bad])


def prepared(table: EventTable) -> EventTable:
    """The table as both engines read it: on tickets, the close time derived from the
    resolution (or the reverse) when only one is given; PLAN as a category. Other tables are
    passed through without a copy."""
    f = table.frame
    extra = {}
    if table.role == "tickets" and (CLOSED in f) != (RESOLUTION in f):
        if CLOSED in f:
            extra[RESOLUTION] = (f[CLOSED] - f[TIME]) / pd.Timedelta(hours=1)
        else:
            extra[CLOSED] = f[TIME] + pd.to_timedelta(f[RESOLUTION], unit="h")
    if table.role == "history" and PLAN in f and not isinstance(f[PLAN].dtype,
                                                                 pd.CategoricalDtype):
        extra[PLAN] = f[PLAN].astype("category")
    if not extra:
        return table
    return EventTable(table.name, table.role, f.assign(**extra), table.measures, table.ratios,
                      table.source, table.unit, table.period_days)


def _ns(values) -> np.ndarray | int:
    """Nanoseconds since the epoch (NaT = int64 min), without a copy for datetime64[ns]."""
    if isinstance(values, pd.Timestamp):
        return values.as_unit("ns").value
    return values.to_numpy().astype("datetime64[ns]", copy=False).view(np.int64)


def _first_finite(arrays) -> np.ndarray:
    """Per customer, the first finite value among `arrays` (NaN when none is)."""
    out = None
    for values in arrays:
        out = values if out is None else np.where(np.isfinite(out), out, values)
    return out


def _div(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.divide(a, b, out=np.full(a.shape, np.nan), where=b != 0)


def _features(table: EventTable, raw: dict, tenure,
              levels: dict) -> list[tuple[FeatureMeta, np.ndarray]]:
    """The features of one table from its aggregates (both engines' names). `levels` gets
    what the changes compare, per customer: "before" and "after" (the level in the 30 days
    before the last 30 and in the last 30) and "measure" (which of the first measures it is)
    for change_30d; "sentiment_before" (mean of the 60 days before the last 30) and
    "sentiment_after" (of the last 30) for sentiment_change. The Behaviour page shows them."""
    prefix, subject = slug(table.name), _words(table.name)
    noun = f"{subject} event" if table.unit == "event" else table.unit
    out = []

    def add(stat, values, label, window=None, measure=None, suffix=None):
        suffix = suffix or (stat if not window or stat.endswith("d") else f"{stat}_{window}d")
        for field, word in (("{nouns}", _plural(noun)), ("{noun}", noun), ("{subject}", subject)):
            label = label.replace(field, word)
        out.append((FeatureMeta(f"{prefix}_{suffix}", table.name, stat, window, measure,
                                label[:1].upper() + label[1:], noun), np.asarray(values)))

    def total(base, ends=("7", "30", "60", "90")):
        return sum(np.asarray(raw[f"{base}_{e}"], dtype=np.float64) for e in ends)

    last = {7: ("7",), 30: ("7", "30"), 90: ("7", "30", "60", "90")}

    def level(j, ends):
        """Measure j over the buckets `ends`: its sum, or per row for periodic rows."""
        s = total(f"m{j}", ends)
        return _div(s, total("n", ends)) if table.period_days else s

    if table.role != "history":
        for w in WINDOWS:
            add("count", total("n", last[w]), "{nouns}, last %d days" % w, w)
        count90 = total("n")
        if table.period_days and table.measures:
            # Rows that sum a period (usage weeks): a 30-day window holds 4 or 5 of them,
            # so levels are compared per row, on the first measure a customer has.
            trend = _first_finite(_div(level(j, last[30]), level(j, ("60", "90"))) - 1
                                  for j in range(min(len(table.measures), WINDOWED_MEASURES)))
        else:
            trend = _div(total("n", last[30]), total("n", ("60", "90")) / 2) - 1
        add("trend", trend, "{subject} trend, last 30 days vs the 60 before")
        add("recency", raw["last_days"], "days since the last {noun}", suffix="recency_days")
    if table.role == "events":
        measures = range(min(len(table.measures), WINDOWED_MEASURES))
        if table.measures:
            # The first measure with a level before (a phone-only customer has no data).
            before = [level(j, ("60",)) for j in measures]
            after = [level(j, last[30]) for j in measures]
            changes = [_div(a - b, np.abs(b)) for a, b in zip(after, before)]
            known = np.array([np.isfinite(c) for c in changes])
            pick = np.where(known.any(axis=0), known.argmax(axis=0), 0)
            change = np.choose(pick, changes)
            levels.update(before=np.choose(pick, before), after=np.choose(pick, after),
                          measure=pick.astype(np.int8))
            what = table.measures[0] if len(measures) == 1 else None
        else:
            before, after = total("n", ("60",)), total("n", last[30])
            change, what = _div(after - before, before), None
            levels.update(before=before, after=after, measure=np.zeros(len(before), np.int8))
        add("change_30d", change, f"{_measure_label(what, subject) if what else subject} "
            "change, last 30 days vs the 30 before", 30, what)
        months = raw["first_days"] / MONTH_DAYS
        if tenure is not None:
            months = np.where(np.isfinite(tenure), tenure, months)
        add("rate", total("n", BUCKETS) / np.maximum(np.nan_to_num(months, nan=1.0), 1.0),
            "{nouns} per month", suffix="rate_per_month")
        if "kinds90" in raw:
            add("distinct", raw["kinds90"], "kinds of {subject}, last 90 days", 90,
                suffix="distinct_kinds_90d")
    if table.role != "history":
        sums = {m: total(f"m{j}") for j, m in enumerate(table.measures)}
        for j, m in enumerate(table.measures):
            for w in (30, 90) if j < WINDOWED_MEASURES else (90,):
                add("sum", total(f"m{j}", last[w]), f"{_measure_label(m, subject)}, last {w} "
                    "days", w, m, f"{slug(m)}_sum_{w}d")
        for num, den in table.ratios:
            per = (table.unit, noun) if den == "count" else (den, _words(den))
            add("ratio", _div(sums[num], sums.get(den, count90)), f"{_words(num)} per "
                f"{per[1]}, last 90 days", 90, num, f"{slug(num)}_per_{slug(per[0])}_90d")
    if "s_n_7" in raw:
        before = _div(total("s_sum", ("60", "90")), total("s_n", ("60", "90")))
        after = _div(total("s_sum", last[30]), total("s_n", last[30]))
        raw["s_mean90"] = _div(total("s_sum"), total("s_n"))
        raw["s_change"] = after - before
        levels.update(sentiment_before=before, sentiment_after=after)
    if table.role == "tickets" and "esc90" in raw:
        raw["esc_rate"] = _div(raw["esc90"], count90)
    for key, n_key in (("res", "res_n"), ("fr", "fr_n"), ("sat", "sat_n")):
        if n_key in raw:
            raw[f"{key}_mean"] = _div(raw[f"{key}_sum"], raw[n_key])
    if "mrr_now" in raw:
        raw["mrr_change"] = np.asarray(raw["mrr_now"], float) - raw["mrr_then"]
    for key, stat, window, label in SPECIAL[table.role] + SPECIAL["sentiment"]:
        if key in raw:
            add(stat, raw[key], label, window)
    return out


SPECIAL = {  # (aggregate, stat, window, chart label) of the features taken as they are
    "sentiment": [("s_mean90", "sentiment_mean", 90, "{subject} sentiment, mean of 90 days"),
                  ("s_min90", "sentiment_min", 90, "{subject} sentiment, lowest of 90 days"),
                  ("s_last", "sentiment_last", None, "sentiment of the last {noun}"),
                  ("s_neg30", "negative", 30, "negative {nouns}, last 30 days"),
                  ("s_change", "sentiment_change", None,
                   "{subject} sentiment, last 30 days minus the 60 before")],
    "events": [],
    "tickets": [("open", "open", None, "open {nouns}"),
                ("res_mean", "resolution_mean", 90, "resolution hours, mean of 90 days"),
                ("fr_mean", "first_response_mean", 90, "first response hours, mean of 90 days"),
                ("esc90", "escalations", 90, "escalations, last 90 days"),
                ("esc_rate", "escalation_rate", 90, "escalations per {noun}, last 90 days"),
                ("sat_mean", "satisfaction_mean", 90, "satisfaction, mean of 90 days"),
                ("sat_last", "satisfaction_last", None, "satisfaction, last score")],
    "history": [("mrr_now", "mrr_now", None, "MRR now"),
                ("mrr_change", "mrr_change_90d", 90, "MRR change on 90 days before"),
                ("seats_now", "seats", None, "seats now"),
                ("active", "active", None, "subscriptions in force"),
                ("up90", "upgrades", 90, "upgrades, last 90 days"),
                ("up_all", "upgrades", None, "upgrades, all history"),
                ("down90", "downgrades", 90, "downgrades, last 90 days"),
                ("down_all", "downgrades", None, "downgrades, all history"),
                ("plan90", "plan_changes", 90, "plan changes, last 90 days")],
}


def _words(text: str) -> str:
    return str(text).replace("_", " ").strip().lower()


def _measure_label(measure: str, subject: str) -> str:
    words = _words(measure)
    return words if words.startswith(subject) else f"{subject} {words}"


def _plural(word: str, k: float = 2) -> str:
    return word if k == 1 else word + ("es" if word.endswith(("s", "x", "ch", "sh")) else "s")


def _many(k: int, word: str, tail: str = "") -> str:
    """'3 negative tickets in 30 days', 'no negative tickets in 30 days'."""
    return f"{f'{k:,}' if k else 'no'} {_plural(word, k)}{tail}"


def _describe(m: FeatureMeta, value) -> str:
    v = float("nan") if value is None else float(value)
    w, noun, stat = m.window, m.unit, m.stat
    span = f" in {w} days" if w else " ever"
    subject = _words(m.measure if m.measure and stat == "change_30d" else m.table)
    ratio = m.label.split(",")[0].lower()                 # "errors per usage event"
    if np.isnan(v):
        if stat == "ratio":
            per = ratio.split(" per ")[-1]
            return f"no {_plural(per) if per == noun else per} in {w} days"
        return {"recency": f"no {_plural(noun)} yet",
                "sentiment_last": f"no {noun} with a sentiment yet",
                "satisfaction_last": "no satisfaction score yet",
                "trend": f"no {_plural(noun)} in the 60 days before the last 30",
                "change_30d": f"no {subject} in the 30 days before the last 30",
                "sentiment_change": "no sentiment to compare with the 60 days before",
                "resolution_mean": f"no {_plural(noun)} resolved in 90 days",
                "first_response_mean": f"no {_plural(noun)} answered in 90 days",
                "satisfaction_mean": "no satisfaction scores in 90 days",
                }.get(stat, f"no {_plural(noun)} in {w or 90} days")
    if stat in ("trend", "change_30d", "sentiment_change", "mrr_change_90d"):
        what, size, before = {
            "trend": (subject, f"{abs(v):.0%}", "the 60 days before"),
            "change_30d": (subject, f"{abs(v):.0%}", "the 30 days before"),
            "sentiment_change": ("sentiment", f"{abs(v):.2f}", "the 60 days before"),
            "mrr_change_90d": ("MRR", f"{abs(v):,.2f}", "90 days before")}[stat]
        if round(v, 2) == 0:
            return f"{what} level with {before}"
        return f"{what} {'down' if v < 0 else 'up'} {size} on {before}"
    k = int(round(v))
    amount = f"{k:,}" if abs(v - k) < 1e-9 else f"{v:,.1f}"
    return {
        "count": _many(k, noun, span), "negative": _many(k, f"negative {noun}", span),
        "open": _many(k, f"open {noun}"), "escalations": _many(k, f"escalated {noun}", span),
        "distinct": _many(k, "kind", f" of {subject}{span}"),
        "active": _many(k, "subscription", " in force"), "seats": f"{amount} seats now",
        "upgrades": _many(k, "upgrade", span), "downgrades": _many(k, "downgrade", span),
        "plan_changes": _many(k, "plan change", span),
        "sum": f"{amount if k or amount != '0' else 'no'} {_words(m.measure or '')}{span}",
        "recency": f"no {noun} for {int(v):,} {_plural('day', int(v))}" if v >= 1
        else f"a {noun} within the last day",
        "rate": f"{v:.1f} {_plural(noun)} per month",
        "ratio": f"{ratio} {v:.2f} ({w} days)",
        "sentiment_mean": f"sentiment {v:+.2f} (mean, {w} days)",
        "sentiment_min": f"lowest sentiment {v:+.2f} ({w} days)",
        "sentiment_last": f"sentiment {v:+.2f} (last {noun})",
        "resolution_mean": f"resolution {v:.1f} hours (mean, {w} days)",
        "first_response_mean": f"first response {v:.1f} hours (mean, {w} days)",
        "escalation_rate": f"{v:.0%} of {_plural(noun)} escalated ({w} days)",
        "satisfaction_mean": f"satisfaction {v:.1f} (mean, {w} days)",
        "satisfaction_last": f"satisfaction {v:.1f} (last score)",
        "mrr_now": f"MRR {v:,.2f} now",
    }.get(stat, f"{m.label}: {amount}")
