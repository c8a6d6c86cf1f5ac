"""One customer's behaviour over time for the Customer page's activity timeline: usage per
week, tickets, e-mails and other events, plan changes, the as-of and scored-at dates, and
the behaviour features among the customer's top reasons.

Event tables can hold tens of millions of rows, so a request never scans one: the first
request sorts each table's rows by customer once (a stable `np.argsort` of the `customer`
column, skipped when the rows already come in customer order) and counts each customer's
rows (`np.bincount`), so one customer's rows are a slice `order[start:end]` found in O(1).
The index is kept on this service (one per Services object) for the analysis it was built
for, and rebuilt when another dataset is switched in. A table kept on disk by customer (the
demo's, analytics/data/streamed.py) needs no index: the rows come from the row groups of the
customer (~10 ms). Everything returned is JSON-safe.
"""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd

from analytics.data import events as ev
from analytics.explain import feature_label, probability_points
from analytics.explaining import shap_rows
from dashboard.services import core

WINDOW_DAYS = 365          # the history shown: the last year before the scored-at date
WEEK_DAYS = 7
MAX_MARKERS = 1000         # per lane: the latest ones (a year of daily logins fits)
TEXT_CHARS = 120           # ticket text shown in the hover
TOP_REASONS = 8            # as many as the waterfall shows
POSITIVE, NEGATIVE = 0.05, -0.05   # VADER's cut-offs (analytics/data/sentiment.py)


class TimelineService(core.PageService):
    def __init__(self, core_: core.Services) -> None:
        super().__init__(core_)
        self._lock = threading.Lock()
        # (the analysis it was built for, table name -> (order or None, starts))
        self._index: tuple[object, dict[str, tuple[np.ndarray | None, np.ndarray]]] | None = None

    @property
    def behaviour(self):
        a = self.core.analysis
        return getattr(a, "behaviour", None) if a is not None else None

    def available(self) -> bool:
        """Whether this data has event tables (else the page shows no timeline)."""
        b = self.behaviour
        return b is not None and any(t.is_feature_source for t in b.tables)

    # ----- one customer ---------------------------------------------------------------------
    def of_row(self, row: int) -> dict | None:
        """The timeline of the customer in row `row` of the customer table (None without
        event tables): {"start", "end", "as_of", "now", "usage" (or None), "lanes",
        "events" (rows shown), "reasons"}; {"error", "start", "end", "as_of", "now"} when a
        table's file on disk cannot be read."""
        b = self.behaviour
        if not self.available():
            return None
        position = self._position(row)
        now = pd.Timestamp(b.now)
        start = now - pd.Timedelta(days=WINDOW_DAYS)
        usage_table = self.usage_table()
        usage = None
        lanes = []
        if position is not None:
            for table in b.tables:
                if not table.is_feature_source:
                    continue
                try:
                    frame = self._rows(table, position, start, now)
                except OSError as exc:   # a file of a table kept on disk, damaged or gone
                    return {"error": str(exc), "start": str(start.date()),
                            "end": str(now.date()), "as_of": b.as_of, "now": b.now}
                if table is usage_table:
                    usage = _usage(table, frame, now)
                elif table.role == "tickets":
                    lanes.append(_tickets(table, frame))
                elif table.role == "history":
                    lanes.append(_history(table, frame))
                else:
                    lanes.append(_events(table, frame))
        shown = (usage["rows"] if usage else 0) + sum(lane["n"] for lane in lanes)
        return {"start": _day(start), "end": _day(now), "as_of": b.as_of, "now": b.now,
                "usage": usage, "lanes": lanes, "events": int(shown),
                "reasons": self.reasons(row)}

    def reasons(self, row: int, top: int = TOP_REASONS) -> list[dict]:
        """This customer's behaviour features among their top reasons (largest |SHAP| first,
        as in the waterfall), in words: {"feature", "text", "label", "table", "points"}."""
        a = self.core.analysis
        meta = a.feature_meta()
        points = probability_points(*shap_rows(a, [row]))[0].astype(float)
        record = a.customers.iloc[row]
        out = []
        for j in np.argsort(-np.abs(points))[:top]:
            feature = a.features[j]
            if feature in meta:
                m = meta[feature]
                out.append({"feature": feature, "text": m.describe(record[feature]),
                            "label": feature_label(feature, meta), "table": m.table,
                            "points": round(float(points[j]), 1)})
        return out

    def usage_table(self) -> ev.EventTable | None:
        """The usage table: the events table with measures and the most rows (never named:
        a SaaS dataset calls it 'feature_usage')."""
        b = self.behaviour
        tables = [t for t in b.tables if t.role == "events" and t.measures] if b else []
        return max(tables, key=lambda t: t.rows) if tables else None

    # ----- the index ------------------------------------------------------------------------
    def warm(self) -> None:
        """Each event table's rows by customer (it reads the tables: 8 s at 1,000,000
        customers with the demo's 41M rows), so that the first Customer page need not wait.
        A table kept on disk needs no index: a customer's rows are read from it."""
        if self.available():
            for table in self.behaviour.tables:
                if table.is_feature_source and not table.by_customer_on_disk:
                    self._table_index(table)

    def _position(self, row: int) -> int | None:
        """The customer's position in the event tables (the customer table's row, checked
        against the behaviour's ids; looked up by id when they differ)."""
        b = self.behaviour
        customer_id = str(self.core.ids()[row])
        if row < len(b.ids) and str(b.ids[row]) == customer_id:
            return int(row)
        return b.position(customer_id)

    def _table_index(self, table: ev.EventTable) -> tuple[np.ndarray | None, np.ndarray]:
        a = self.core.analysis
        with self._lock:
            if self._index is None or self._index[0] is not a:
                self._index = (a, {})
            index = self._index[1]
            if table.name not in index:
                index[table.name] = _sort_by_customer(table.frame[ev.CUSTOMER].to_numpy(),
                                                      len(self.behaviour.ids))
            return index[table.name]

    def _rows(self, table: ev.EventTable, position: int, start: pd.Timestamp,
              end: pd.Timestamp) -> pd.DataFrame:
        """The customer's rows of one table dated in [start, end], oldest first (read from
        disk when the table is kept there, analytics/data/streamed.py)."""
        frame = table.customer_rows(position)
        if frame is None:
            order, starts = self._table_index(table)
            if position + 1 >= len(starts):
                return table.frame.iloc[:0]
            lo, hi = int(starts[position]), int(starts[position + 1])
            rows = np.arange(lo, hi) if order is None else order[lo:hi]
            frame = table.frame.iloc[rows]
        when = frame[ev.TIME]
        frame = frame[(when >= start) & (when <= end)]
        return frame.sort_values(ev.TIME, kind="stable")


def _sort_by_customer(customers: np.ndarray, n: int) -> tuple[np.ndarray | None, np.ndarray]:
    """(row order by customer, or None when the rows are in customer order already; where
    each customer's rows start, n + 1 values)."""
    customers = np.asarray(customers)
    in_order = len(customers) < 2 or bool(np.all(customers[1:] >= customers[:-1]))
    order = None if in_order else np.argsort(customers, kind="stable")
    if order is not None and len(customers) < np.iinfo(np.int32).max:
        order = order.astype(np.int32)
    counts = np.bincount(customers.astype(np.int64), minlength=n)
    return order, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


# ----- lanes -------------------------------------------------------------------------------------
def _usage(table: ev.EventTable, frame: pd.DataFrame, now: pd.Timestamp) -> dict:
    """The first measure summed per week (weeks ending on the scored-at date)."""
    measure = table.measures[0]
    values = frame[measure].to_numpy(dtype=float)
    ages = (now - frame[ev.TIME]).to_numpy().astype("timedelta64[ns]").astype(np.int64)
    week = np.maximum(ages // (WEEK_DAYS * 86_400 * 10**9), 0)
    ok = np.isfinite(values)
    sums = pd.Series(values[ok]).groupby(week[ok]).sum()
    ends = [now - pd.Timedelta(days=WEEK_DAYS * int(k)) for k in sums.index[::-1]]
    label = feature_label(measure)
    return {"table": table.name, "measure": measure, "label": label[:1].upper() + label[1:],
            "unit": table.unit, "x": [_day(e) for e in ends],
            "y": [round(float(v), 3) for v in sums.to_numpy()[::-1]],
            "rows": int(len(frame))}


def _lane(table: ev.EventTable, frame: pd.DataFrame, kind: str) -> tuple[dict, pd.DataFrame]:
    shown = frame.tail(MAX_MARKERS)
    noun = table.unit if table.unit != "event" else feature_label(table.name).lower()
    return {"kind": kind, "table": table.name, "label": _plural(noun).capitalize(),
            "noun": noun, "n": int(len(frame)), "shown": int(len(shown)),
            "x": [_minute(t) for t in shown[ev.TIME]]}, shown


def _tickets(table: ev.EventTable, frame: pd.DataFrame) -> dict:
    lane, shown = _lane(table, frame, "tickets")
    lane["sentiment"] = _floats(shown, ev.SENTIMENT, 3)
    lane["mood"] = [_mood(s) for s in lane["sentiment"]]
    lane["category"] = _texts(shown, ev.KIND)
    lane["satisfaction"] = _floats(shown, ev.SATISFACTION, 1)
    lane["escalated"] = [None if v is None else bool(v) for v in _floats(shown, ev.ESCALATED)]
    lane["text"] = [_clip(t) for t in _texts(shown, ev.TEXT)]
    return lane


def _events(table: ev.EventTable, frame: pd.DataFrame) -> dict:
    """Other events (e-mails, logins): the first measure above zero marks an event (an
    e-mail opened) from the others."""
    lane, shown = _lane(table, frame, "events")
    measure = table.measures[0] if table.measures else None
    lane["flag_label"] = feature_label(measure).lower() if measure else None
    lane["flag"] = ([bool(v is not None and v > 0) for v in _floats(shown, measure)]
                    if measure else None)
    lane["category"] = _texts(shown, ev.KIND)
    return lane


def _history(table: ev.EventTable, frame: pd.DataFrame) -> dict:
    lane, shown = _lane(table, frame, "history")
    changes = _floats(shown, ev.CHANGE)
    lane["change"] = [0 if v is None else int(np.sign(v)) for v in changes]
    lane["plan"] = _texts(shown, ev.PLAN)
    lane["mrr"] = _floats(shown, ev.MRR, 2)
    return lane


# ----- small helpers -------------------------------------------------------------------------------
def _floats(frame: pd.DataFrame, column: str | None, digits: int = 4) -> list:
    if column is None or column not in frame:
        return [None] * len(frame)
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    return [None if not np.isfinite(v) else round(float(v), digits) for v in values]


def _texts(frame: pd.DataFrame, column: str) -> list:
    if column not in frame:
        return [None] * len(frame)
    return [None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
            for v in frame[column].astype(object)]


def _mood(sentiment: float | None) -> str:
    if sentiment is None or NEGATIVE < sentiment < POSITIVE:
        return "neutral"
    return "positive" if sentiment >= POSITIVE else "negative"


def _clip(text: str | None, limit: int = TEXT_CHARS) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _plural(word: str) -> str:
    return word + ("es" if word.endswith(("s", "x", "ch", "sh")) else "s")


def _day(when) -> str:
    return str(pd.Timestamp(when).date())


def _minute(when) -> str:
    return pd.Timestamp(when).strftime("%Y-%m-%d %H:%M")


def current() -> TimelineService:
    return core.current().timeline
