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

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
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
    # Rows kept on disk by customer (analytics/data/streamed.py): `frame` reads them all
    # on first use, `customer_rows` only the row groups of one customer.
    disk: OnDisk | None = None

    # A cached table's frame is read when first used (analytics/store.py's Spill): a warm
    # start does not read a million customers' events before the first page.
    _lazy = "frame"

    def __post_init__(self) -> None:
        if self.disk is not None and self.__dict__.get("frame") is None:
            del self.__dict__["frame"]

    def _spill_meta(self, frame: pd.DataFrame) -> dict:
        return {"rows": len(frame), "columns": list(frame.columns)}

    def __getstate__(self) -> dict:
        if self.__dict__.get("disk") is None:
            return super().__getstate__()
        state = dict(self.__dict__)   # the rows stay in their file
        state.pop("frame", None)
        return state

    def __setstate__(self, state: dict) -> None:
        if state.get("disk") is None:
            return super().__setstate__(state)
        self.__dict__.update(state)

    def __getattr__(self, name: str):
        disk = self.__dict__.get("disk")
        if name == "frame" and disk is not None:
            self.__dict__["frame"] = frame = disk.read()
            return frame
        return super().__getattr__(name)

    @property
    def rows(self) -> int:
        """The number of rows, without reading a deferred frame."""
        if self.loaded:
            return len(self.frame)
        return self.disk.rows if self.disk is not None else int(self._deferred.meta["rows"])

    def has(self, column: str) -> bool:
        """Whether the frame has `column`, without reading a deferred frame."""
        if self.loaded:
            return column in self.frame.columns
        return column in (self.disk.columns if self.disk is not None
                          else self._deferred.meta["columns"])

    @property
    def loaded(self) -> bool:
        return self.lazy_loaded

    @property
    def by_customer_on_disk(self) -> bool:
        """Whether a customer's rows are read from disk (`customer_rows`), not indexed in
        the frame (in memory, or read whole already)."""
        return self.disk is not None and not self.loaded

    def customer_rows(self, position: int) -> pd.DataFrame | None:
        """The rows of the customer at `position`, read from disk (None when the table is
        in memory: the caller indexes its frame)."""
        if not self.by_customer_on_disk:
            return None
        frame = self.disk.read(position, position + 1)
        return frame[frame[CUSTOMER].to_numpy() == position]

    @property
    def is_feature_source(self) -> bool:
        """Outcome tables are known only after the outcome: never features."""
        return self.role != "outcome"

    def before(self, as_of: pd.Timestamp) -> pd.DataFrame:
        """The rows dated strictly before `as_of` (the as-of guard)."""
        return self.frame[self.frame[TIME] < as_of]


@dataclass(eq=False)
class OnDisk:
    """The rows of an event table in a Parquet file, sorted by customer, in row groups whose
    first and last customer positions are `bounds`; the frame's dtypes (categories included)
    come back as they were written."""

    path: str
    rows: int
    columns: tuple[str, ...]
    dtypes: dict
    bounds: np.ndarray = field(repr=False)    # (row groups, 2) int64
    size: int = 0                             # of the file when written

    def problem(self) -> str | None:
        """Why the file cannot be read as written (None when it can)."""
        path = Path(self.path)
        if not path.is_file():
            return f"{path.name} is missing"
        if path.stat().st_size != self.size:
            return f"{path.name} changed since it was written"
        return None

    def groups(self, lo: int, hi: int) -> list[int]:
        """The row groups holding customers lo..hi-1."""
        first = int(np.searchsorted(self.bounds[:, 1], lo, "left"))
        end = int(np.searchsorted(self.bounds[:, 0], hi, "left"))
        return list(range(first, max(first, end)))

    def read(self, lo: int | None = None, hi: int | None = None) -> pd.DataFrame:
        """All rows, or those of the row groups holding customers lo..hi-1 (page checksums
        verified: a damaged file is an OSError naming it)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        problem = self.problem()
        if problem:
            raise OSError(f"the events file {problem}: restart to rebuild the cache")
        try:
            file = pq.ParquetFile(self.path, page_checksum_verification=True)
            groups = None if lo is None else self.groups(lo, hi)
            table = (file.read() if groups is None else
                     file.read_row_groups(groups) if groups else file.schema_arrow.empty_table())
        except (OSError, pa.ArrowException) as exc:
            why = str(exc).strip().rstrip(".")
            raise OSError(f"the events file {Path(self.path).name} cannot be read ({why}); "
                          "restart to rebuild the cache") from exc
        frame = table.to_pandas()
        changed = {c: d for c, d in self.dtypes.items() if not same_dtype(frame[c].dtype, d)}
        return frame.astype(changed) if changed else frame


def same_dtype(a, b) -> bool:
    """Equal dtypes, categories in the same order (pandas' == ignores their order)."""
    if isinstance(a, pd.CategoricalDtype) and isinstance(b, pd.CategoricalDtype):
        return a.ordered == b.ordered and a.categories.equals(b.categories)
    return a == b
