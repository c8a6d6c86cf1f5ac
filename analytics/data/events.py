"""Event and history tables in one canonical shape, the contract between the loaders and the
behaviour features.

analytics/data/links.py reads the linked tables a config names (usage, tickets, e-mails,
subscriptions...), resolves each row to a customer (directly on the id or through another
table: usage -> subscription -> account) and renames the role columns to the names below.
analytics/data/behaviour.py reads only these names, so it never sees a source column's
spelling. Measures keep their own (source) names.

Every frame has CUSTOMER and TIME; the rest depends on the table's role:

- ``events`` (usage, logins, e-mails...): optional KIND, TEXT/SENTIMENT, measures.
- ``tickets``: also optional CLOSED, FIRST_RESPONSE, RESOLUTION, SATISFACTION, ESCALATED.
- ``history`` (subscriptions, plan changes): TIME is when the row starts; optional END,
  MRR, SEATS, PLAN, CHANGE (+1 an upgrade, -1 a downgrade, 0 neither).
- ``outcome`` (churn reasons, feedback written when leaving): known only after the outcome,
  so **never features**; they feed the "why they said they left" panel. REASON, TEXT.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analytics.store import SpillsOne

CUSTOMER = "customer"              # int32: row position of the customer in the customer table
TIME = "time"                      # datetime64[ns]: when it happened (or started)
KIND = "kind"                      # category: which feature was used, which campaign...
TEXT = "text"                      # object: free text (ticket body, feedback)
SENTIMENT = "sentiment"            # float32 in [-1, 1] (analytics/data/sentiment.py)
CLOSED = "closed_time"             # tickets: datetime64[ns], NaT while open
FIRST_RESPONSE = "first_response_hours"   # tickets: float hours
RESOLUTION = "resolution_hours"    # tickets: float hours (NaN while open)
SATISFACTION = "satisfaction"      # tickets: float score (as given, e.g. 1-5), NaN if none
ESCALATED = "escalated"            # tickets: float 0/1
END = "end_time"                   # history: datetime64[ns], NaT while running
MRR = "mrr"                        # history: float monthly recurring revenue of the row
SEATS = "seats"                    # history: float
PLAN = "plan"                      # history: category
CHANGE = "change"                  # history: int8, +1 upgrade, -1 downgrade, 0 neither
REASON = "reason"                  # outcome: category, the reason code given

ROLES = ("events", "tickets", "history", "outcome")


@dataclass
class EventTable(SpillsOne):
    """One linked table in canonical shape (see the module docstring)."""

    name: str                       # "usage", "tickets": feature prefix and panel title
    role: str                       # one of ROLES
    frame: pd.DataFrame             # CUSTOMER, TIME, role columns, measures
    measures: tuple[str, ...] = ()  # numeric columns summed in windows (their own names)
    ratios: tuple[tuple[str, str], ...] = ()  # (numerator, denominator); "count" = events
    source: str = ""                # file name (never a server path)
    unit: str = "event"             # the noun of one row in reasons: "ticket", "e-mail"
    period_days: int = 0            # a row sums a period (a usage week): TIME is its end

    # A cached table's frame is read when first used (analytics/store.py's Spill): a warm
    # start does not read a million customers' events before the first page.
    _lazy = "frame"

    def _spill_meta(self, frame: pd.DataFrame) -> dict:
        return {"rows": len(frame), "columns": list(frame.columns)}

    @property
    def rows(self) -> int:
        """The number of rows, without reading a deferred frame."""
        return len(self.frame) if self.loaded else int(self._deferred.meta["rows"])

    def has(self, column: str) -> bool:
        """Whether the frame has `column`, without reading a deferred frame."""
        return column in (self.frame.columns if self.loaded else self._deferred.meta["columns"])

    @property
    def loaded(self) -> bool:
        return self.lazy_loaded

    @property
    def is_feature_source(self) -> bool:
        """Outcome tables are known only after the outcome: never features."""
        return self.role != "outcome"

    def before(self, as_of: pd.Timestamp) -> pd.DataFrame:
        """The rows dated strictly before `as_of` (the as-of guard)."""
        return self.frame[self.frame[TIME] < as_of]
