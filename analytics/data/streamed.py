"""Linked tables built block by block of customers, their rows kept on disk.

A million customers' year of behaviour is ~60M event rows (1.3 GB in canonical shape), more
than the customers, the model and its training together. When the tables come in blocks of
customers (a block holds every row of its customers, as the demo generator's do:
analytics/data/demo_events.py's `demo_event_blocks`), each block is linked, sorted by
customer and appended to one Parquet file per table (analytics/data/events.py's `OnDisk`),
then dropped. The behaviour is aggregated from the files block by block at the as-of and the
scoring dates, and the Customer page's timeline reads only the row groups of one customer.
Only one block's rows are ever in memory: the same features as
analytics/data/assemble.build_linked on the whole tables (a test compares them).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.data import events as ev
from analytics.data import links
from analytics.data.assemble import finish_linked
from analytics.data.config import DatasetConfig
from analytics.dataset import CustomerTable, _check_ids, positional
from analytics.memory import release

ROW_GROUP = 65_536   # rows: a customer's timeline reads one or two groups (~2 MB)
SPAN = 62_500        # customers aggregated at a time (a quarter of the demo's block: ~60 MB
                     # of usage weeks read, and the aggregation's temporaries, at a time)

Block = tuple[int, int, dict[str, pd.DataFrame]]


class _TableFile:
    """One table's Parquet file, appended to block by block (written as `.tmp`, renamed
    when complete)."""

    def __init__(self, folder: Path, table: ev.EventTable) -> None:
        self.path = folder / f"{table.name}.parquet"
        self.temp = self.path.with_name(self.path.name + ".tmp")
        # the table without its rows (a block's frame would stay in memory)
        self.template = ev.EventTable(table.name, table.role, table.frame.iloc[:0],
                                      table.measures, table.ratios, table.source, table.unit,
                                      table.period_days)
        self.writer, self.schema = None, None
        self.bounds: list[tuple[int, int]] = []
        self.rows, self.end = 0, 0
        self.dtypes = dict(table.frame.dtypes)

    def append(self, lo: int, hi: int, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if lo < self.end:
            raise ValueError(f"blocks must come in customer order ({lo} after {self.end})")
        self.end = hi
        c = frame[ev.CUSTOMER].to_numpy()
        if not len(c):
            return
        if c.min() < lo or c.max() >= hi:
            raise ValueError(f"table '{self.template.name}': a row of customer "
                             f"{int(c[(c < lo) | (c >= hi)][0])} in the block of {lo}..{hi - 1}")
        if np.any(c[1:] < c[:-1]):
            order = np.argsort(c, kind="stable")
            frame, c = frame.take(order), c[order]
        for column, dtype in frame.dtypes.items():   # one set of categories over the blocks
            known = self.dtypes.get(column)
            if isinstance(dtype, pd.CategoricalDtype) and isinstance(
                    known, pd.CategoricalDtype) and not ev.same_dtype(dtype, known):
                new = dtype.categories.difference(known.categories, sort=False)
                self.dtypes[column] = pd.CategoricalDtype(known.categories.append(new))
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.writer is None:
            # categories as int32 codes in every block (a later block may bring more of them)
            fields = [pa.field(f.name, pa.dictionary(pa.int32(), f.type.value_type))
                      if pa.types.is_dictionary(f.type) else f for f in table.schema]
            self.schema = pa.schema(fields, metadata=table.schema.metadata)
            # lz4 without dictionaries but on the categories: reads at ~1 GB/s (measured)
            coded = [f.name for f in self.schema if pa.types.is_dictionary(f.type)]
            self.writer = pq.ParquetWriter(self.temp, self.schema, compression="lz4",
                                           use_dictionary=coded, write_page_checksum=True)
        if not table.schema.equals(self.schema):
            table = table.cast(self.schema)
        self.writer.write_table(table, row_group_size=ROW_GROUP)
        for start in range(0, len(c), ROW_GROUP):
            self.bounds.append((int(c[start]), int(c[min(start + ROW_GROUP, len(c)) - 1])))
        self.rows += len(c)

    def close(self) -> ev.EventTable:
        """The table, its rows on disk (in memory when it has none)."""
        t = self.template
        if self.writer is None:
            return ev.EventTable(t.name, t.role, t.frame.astype(self.dtypes),
                                 t.measures, t.ratios, t.source, t.unit, t.period_days)
        self.writer.close()
        os.replace(self.temp, self.path)
        disk = ev.OnDisk(path=str(self.path), rows=self.rows, columns=tuple(self.dtypes),
                         dtypes=self.dtypes, bounds=np.array(self.bounds, dtype=np.int64),
                         size=self.path.stat().st_size)
        return ev.EventTable(t.name, t.role, None, t.measures, t.ratios, t.source, t.unit,
                             t.period_days, disk=disk)

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.temp.unlink(missing_ok=True)


def build_linked_blocks(raw: pd.DataFrame, config: DatasetConfig, source: str,
                        blocks: Iterable[Block], folder: str | Path,
                        engine: str = "auto") -> CustomerTable:
    """analytics/data/assemble.build_linked of tables that come in `blocks` (first position,
    end position, {table: raw rows of customers first..end-1}), in customer order, their
    rows written to `folder` (one Parquet file per table)."""
    from analytics.data.sentiment import score as sentiment

    if any(t.role == "one_to_one" for t in config.tables):
        raise ValueError("one-to-one tables are joined whole: use build_linked")
    clock = time.perf_counter()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    raw = positional(raw)
    ids = _check_ids(raw, config.id_column, source)
    lookups = links.customer_lookups(ids)
    files: dict[str, _TableFile] = {}
    merged = links.Linked()
    churn, spans = [], []
    try:
        for lo, hi, frames in blocks:
            linked = links.load_linked(config, frames, ids, sentiment=sentiment, consume=True,
                                       lookups=lookups, report=False)
            for table in linked.tables:
                if table.name not in files:
                    files[table.name] = _TableFile(folder, table)
                files[table.name].append(lo, hi, table.frame)
            if linked.churn_events is not None:
                churn.append(linked.churn_events)
            _add_left_out(merged, linked)
            spans.append((lo, hi))
            del linked, frames
            release()   # the block's memory, before the next one is made
        tables = [f.close() for f in files.values()]
    except BaseException:
        for f in files.values():
            f.abort()
        raise
    merged.tables = tables
    merged.churn_events = pd.concat(churn, ignore_index=True) if churn else None
    links.report_left_out(merged, config)

    spans = [(a, min(a + SPAN, hi)) for lo, hi in spans for a in range(lo, hi, SPAN)
             ] or [(0, 0)]

    def aggregate(table: ev.EventTable, date: pd.Timestamp) -> dict:
        aggregates = aggregate_blocks(table, spans, date, engine)
        release()
        return aggregates

    return finish_linked(raw, config, source, ids, merged, time.perf_counter() - clock,
                         engine, aggregate)


def _add_left_out(merged: links.Linked, linked: links.Linked) -> None:
    """Add a block's counts of rows left out, and its dates, to the whole's."""
    for name, counts in linked.left_out.items():
        into = merged.left_out.setdefault(name, {"unlinked": 0, "undated": 0, "rows": 0,
                                                 "examples": []})
        for key in ("unlinked", "undated", "rows"):
            into[key] += counts[key]
        into["examples"] = into["examples"] or counts["examples"]
    for attr, pick in (("first_date", min), ("last_date", max)):
        value = getattr(linked, attr)
        if value is not None:
            known = getattr(merged, attr)
            setattr(merged, attr, value if known is None else pick(known, value))


def aggregate_blocks(table: ev.EventTable, spans: list[tuple[int, int]],
                     date: pd.Timestamp, engine: str = "auto") -> dict[str, np.ndarray]:
    """The per-customer aggregates of a table at `date` (analytics/data/behaviour's
    `aggregate`), read from disk one block of customers at a time."""
    from analytics.data.behaviour import aggregate

    pieces = []
    for lo, hi in spans:
        block = _block(table, lo, hi)
        pieces.append(aggregate(block, hi - lo, date, engine))
        del block
    return {key: np.concatenate([p[key] for p in pieces]) for key in pieces[0]}


def _block(table: ev.EventTable, lo: int, hi: int) -> ev.EventTable:
    """Customers lo..hi-1's rows of a table, positions counted from lo (a block's row
    groups hold only its customers: no filter, no copy but the shifted positions)."""
    ours = table.by_customer_on_disk   # a frame read for this block
    frame = table.disk.read(lo, hi) if ours else table.frame
    c = frame[ev.CUSTOMER].to_numpy()
    if len(c) and (c.min() < lo or c.max() >= hi):
        frame, ours = frame[(c >= lo) & (c < hi)].reset_index(drop=True), True
        c = frame[ev.CUSTOMER].to_numpy()
    if ours:
        frame[ev.CUSTOMER] = (c - lo).astype(np.int32)
    else:
        frame = frame.assign(**{ev.CUSTOMER: (c - lo).astype(np.int32)})
    return ev.EventTable(table.name, table.role, frame, table.measures, table.ratios,
                         table.source, table.unit, table.period_days)
