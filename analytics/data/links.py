"""Linked tables: read the extra tables a config names, link every row to a customer, and
put them in the canonical shape of analytics/data/events.py.

A row links to a customer directly (its `key` holds the customer id) or through another
table (usage -> subscription -> account: `links_to = "subscriptions"`, the subscription
row's own link gives the account). Rows that link to nobody are counted and reported, never
silently kept. Churn can come from a churn-events table: a customer is gone from a churn
event until a reactivation, and a customer active at the as-of date is a churner when a
churn event falls within the horizon after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.data import events as ev
from analytics.data.config import TIME_UNITS, DatasetConfig, TableConfig
from analytics.dataset import numbers_of, text_of
from analytics.errors import DataError, row_examples

DEFAULT_HORIZON_DAYS = 90
MIN_HISTORY_DAYS = 90
TRUE_TEXT = frozenset({"yes", "y", "true", "t", "1", "1.0"})


@dataclass
class Linked:
    """The linked tables of one dataset, read and resolved."""

    tables: list[ev.EventTable] = field(default_factory=list)
    churn_events: pd.DataFrame | None = None     # CUSTOMER, TIME, reactivated (datetime)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    first_date: pd.Timestamp | None = None
    last_date: pd.Timestamp | None = None
    # table -> rows left out: {"unlinked", "undated", "rows", "examples" (when none links)}
    left_out: dict = field(default_factory=dict)

    @property
    def feature_tables(self) -> list[ev.EventTable]:
        return [t for t in self.tables if t.is_feature_source]

    @property
    def outcome_tables(self) -> list[ev.EventTable]:
        return [t for t in self.tables if not t.is_feature_source]


def read_tables(config: DatasetConfig, folder: Path | None,
                frames: dict[str, pd.DataFrame] | None = None) -> dict[str, pd.DataFrame]:
    """name -> raw frame, from `frames` (in memory) or the table's file in `folder`."""
    from analytics.data.readers import read_table

    out = {}
    for table in config.tables:
        if frames is not None and table.name in frames:
            out[table.name] = frames[table.name]
            continue
        if folder is None:
            raise DataError(f"the config names a table '{table.name}' but no data folder "
                            "was given", file=table.path_name)
        path = folder / table.path_name
        if not path.is_file():
            present = ", ".join(sorted(p.name for p in folder.iterdir() if p.is_file())[:12])
            raise DataError(f"table '{table.name}': file not found (files here: {present})",
                            file=path.name)
        out[table.name], _ = read_table(path)
    return out


def key_text(series: pd.Series) -> pd.Series:
    """Link keys as text: whole floats without '.0', stripped."""
    if pd.api.types.is_float_dtype(series) and series.dropna().mod(1).eq(0).all():
        series = series.astype("Int64")
    if pd.api.types.is_numeric_dtype(series):
        return series.astype(str).replace({"<NA>": "", "nan": ""})
    return text_of(series)


def _categorical(series: pd.Series) -> bool:
    """A categorical column with fewer categories than rows: read through its categories."""
    return isinstance(series.dtype, pd.CategoricalDtype) and len(
        series.cat.categories) <= len(series)


def _through_categories(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(codes, distinct stripped texts) of a column: a categorical's own codes and categories
    (a missing cell is the last text, ''), else one factorize of its text."""
    if _categorical(series):
        texts = text_of(pd.Series(series.cat.categories.astype(object)))
        codes = series.cat.codes.to_numpy()
        return (np.where(codes >= 0, codes, len(texts)),
                np.append(texts.to_numpy(dtype=object), ""))
    codes, uniques = pd.factorize(text_of(series))
    return codes, np.asarray(uniques, dtype=object)


def lookup(index: pd.Index, keys: pd.Series, seen: dict | None = None) -> np.ndarray:
    """``index.get_indexer`` of a column's link keys (-1: none); a categorical key column
    (a Parquet export's dictionary) is looked up once per category, not once per row, and
    with `seen` (kept by the caller for one `index`) once per set of categories: tables that
    share their dictionary of ids (1M ids: ~0.6 s each) share the lookup."""
    if _categorical(keys):
        categories = keys.cat.categories
        found = seen.get(id(categories)) if seen is not None else None
        if found is None or found[0] is not categories:
            found = (categories, np.append(index.get_indexer(key_text(pd.Series(
                categories)).to_numpy()), -1))
            if seen is not None:
                seen[id(categories)] = found
        at = found[1]
        codes = keys.cat.codes.to_numpy()
        return at[np.where(codes >= 0, codes, len(at) - 1)]
    return index.get_indexer(key_text(keys).to_numpy())


def category_text(series: pd.Series) -> pd.Series:
    """Stripped text as a categorical (a categorical column through its categories)."""
    if _categorical(series):
        codes, texts = _through_categories(series)
        new, distinct = pd.factorize(texts)   # stripping can merge two categories
        return pd.Series(pd.Categorical.from_codes(new[codes], categories=distinct))
    return text_of(series).astype("category")


def _column(raw: pd.DataFrame, table: TableConfig, column: str) -> pd.Series:
    if column not in raw.columns:
        from analytics.data.inspect import suggest

        raise DataError(f"table '{table.name}': no such column{suggest(column, list(raw.columns))}",
                        file=table.path_name, column=column)
    return raw[column]


def parse_times(raw: pd.DataFrame, table: TableConfig, column: str,
                blank_ok: bool = True) -> pd.Series:
    """Dates and times of a column; DataError naming the file, column and bad cells."""
    series = _column(raw, table, column)
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.astype("datetime64[ns]").reset_index(drop=True)
    text = text_of(series).reset_index(drop=True)
    # Parsed once per distinct text: event tables repeat their dates many times over.
    codes, uniques = pd.factorize(text)
    distinct = pd.Series(uniques, dtype=object)
    blank_u = distinct.isin(["", "nan", "NaT", "None", "null", "NULL"])
    shown = distinct.where(~blank_u)
    try:
        parsed = pd.to_datetime(shown, errors="coerce")
    except (ValueError, TypeError):
        parsed = pd.Series(pd.NaT, index=distinct.index)
    if (parsed.isna() & ~blank_u).any():
        parsed = pd.to_datetime(shown, errors="coerce", format="mixed")
    values = pd.Series(parsed.to_numpy(dtype="datetime64[ns]")[codes])
    blank = pd.Series(blank_u.to_numpy()[codes])
    bad = values.isna() & ~blank
    if bad.any():
        idx = np.flatnonzero(bad.to_numpy())
        raise DataError(f"table '{table.name}': {len(idx):,} value(s) that are not dates",
                        file=table.path_name, column=column,
                        examples=row_examples(text.iloc[idx], idx + 2))
    if blank.any() and not blank_ok:
        idx = np.flatnonzero(blank.to_numpy())
        raise DataError(f"table '{table.name}': {len(idx):,} row(s) without a date",
                        file=table.path_name, column=column,
                        examples=[f"row {i + 2}" for i in idx[:3]])
    return values.astype("datetime64[ns]")


def numbers(raw: pd.DataFrame, table: TableConfig, column: str) -> np.ndarray:
    """A measure as float: numbers as they are, yes/no and true/false as 1/0."""
    series = _column(raw, table, column).reset_index(drop=True)
    if pd.api.types.is_bool_dtype(series):
        return series.to_numpy(dtype=float)
    if pd.api.types.is_numeric_dtype(series):
        return series.to_numpy(dtype=float)
    # Each distinct cell read once, then spread to the rows.
    codes, uniques = _through_categories(series)
    text_u = pd.Series(uniques, dtype=object).str.lower()
    values_u = pd.to_numeric(text_u, errors="coerce").to_numpy(dtype=float)
    words = np.isnan(values_u) & text_u.isin(TRUE_TEXT | {"no", "n", "false", "f"}).to_numpy()
    values_u[words] = text_u[words].isin(TRUE_TEXT).to_numpy().astype(float)
    bad_u = np.isnan(values_u) & ~text_u.isin(["", "nan", "none", "null", "n/a", "na"]).to_numpy()
    values, bad = values_u[codes], bad_u[codes]
    if bad.mean() > 0.02 if len(bad) else False:
        idx = np.flatnonzero(bad)
        raise DataError(f"table '{table.name}': {len(idx):,} value(s) not numbers in a "
                        "measure", file=table.path_name, column=column,
                        examples=row_examples(series.iloc[idx], idx + 2))
    return values


def resolve(config: DatasetConfig, raws: dict[str, pd.DataFrame], ids: pd.Series,
            lookups: tuple[pd.Index, dict] | None = None) -> dict[str, np.ndarray]:
    """name -> customer position of every row (-1: links to nobody), following links_to
    through other tables (a parent's key must be unique). `lookups` (from `customer_lookups`)
    is kept by a caller that links the tables block by block."""
    # the customers' index, and the lookups of each dictionary of ids (see lookup)
    customer_index, seen = lookups or customer_lookups(ids)
    done: dict[str, np.ndarray] = {}

    def position(name: str) -> np.ndarray:
        if name in done:
            return done[name]
        table = config.table(name)
        keys = _column(raws[name], table, table.key)
        if not table.links_to:
            if table.parent_key and table.parent_key != config.id_column:
                raise DataError(f"table '{name}': parent_key must be the customer id "
                                f"({config.id_column}) when it links to the customers",
                                file=table.path_name, column=table.parent_key)
            done[name] = lookup(customer_index, keys, seen).astype(np.int32)
            return done[name]
        parent = config.table(table.links_to)
        parent_key = table.parent_key or table.key
        parent_keys = key_text(_column(raws[parent.name], parent, parent_key))
        dup = parent_keys.duplicated(keep=False) & parent_keys.ne("")
        if dup.any():
            idx = np.flatnonzero(dup.to_numpy())
            raise DataError(f"table '{name}' links through '{parent.name}' on {parent_key}, "
                            f"but {int(parent_keys.duplicated().sum()):,} of its keys repeat; "
                            "a table linked through must have one row per key",
                            file=parent.path_name, column=parent_key,
                            examples=row_examples(parent_keys.iloc[idx], idx + 2))
        parent_rows = lookup(pd.Index(parent_keys.to_numpy()), keys)
        parent_pos = position(parent.name)
        done[name] = np.where(parent_rows >= 0, parent_pos[np.maximum(parent_rows, 0)],
                              -1).astype(np.int32)
        return done[name]

    for table in config.tables:
        position(table.name)
    return done


def customer_lookups(ids: pd.Series) -> tuple[pd.Index, dict]:
    """What `resolve` looks the customer ids up in, once for every block of a table."""
    return pd.Index(ids.astype(str).to_numpy()), {}


def _change(raw: pd.DataFrame, table: TableConfig) -> np.ndarray | None:
    if table.change:
        series = _column(raw, table, table.change)
        if pd.api.types.is_numeric_dtype(series):
            return np.sign(series.fillna(0).to_numpy(dtype=float)).astype(np.int8)
        text = text_of(series).str.lower().reset_index(drop=True)
        up = text.str.contains("up", regex=False).to_numpy()
        down = text.str.contains("down", regex=False).to_numpy()
        return (up.astype(np.int8) - down.astype(np.int8))
    if table.upgrade or table.downgrade:
        up = numbers(raw, table, table.upgrade) if table.upgrade else 0
        down = numbers(raw, table, table.downgrade) if table.downgrade else 0
        return (np.nan_to_num(up) > 0).astype(np.int8) - (np.nan_to_num(down) > 0).astype(
            np.int8)
    return None


def canonical(table: TableConfig, raw: pd.DataFrame, position: np.ndarray,
              sentiment=None) -> tuple[ev.EventTable, dict]:
    """The table in canonical shape (rows linked to a customer and dated only) and counts
    of the rows left out."""
    if not raw.index.equals(pd.RangeIndex(len(raw))):
        raw = raw.reset_index(drop=True)   # (a copy of every column: only when needed)
    times = parse_times(raw, table, table.time)
    if table.period_days:
        # A row summing a period (a usage week) is known at the period's end, not its start.
        times = times + pd.Timedelta(days=table.period_days)
    columns: dict = {ev.CUSTOMER: position, ev.TIME: times}
    if table.role == "tickets":
        if table.closed:
            columns[ev.CLOSED] = parse_times(raw, table, table.closed)
        for field_name, canon, unit in (("first_response", ev.FIRST_RESPONSE,
                                         table.first_response_unit),
                                        ("resolution", ev.RESOLUTION, table.resolution_unit)):
            if getattr(table, field_name):
                columns[canon] = numbers(raw, table, getattr(table, field_name)) * TIME_UNITS[unit]
        if table.satisfaction:
            columns[ev.SATISFACTION] = numbers(raw, table, table.satisfaction)
        if table.escalated:
            columns[ev.ESCALATED] = numbers(raw, table, table.escalated)
    if table.role == "history":
        if table.end:
            columns[ev.END] = parse_times(raw, table, table.end)
        if table.mrr:
            columns[ev.MRR] = numbers(raw, table, table.mrr)
        if table.seats:
            columns[ev.SEATS] = numbers(raw, table, table.seats)
        if table.plan:
            columns[ev.PLAN] = category_text(_column(raw, table, table.plan))
        change = _change(raw, table)
        if change is not None:
            columns[ev.CHANGE] = change
    if table.kind:
        columns[ev.KIND] = category_text(_column(raw, table, table.kind))
    if table.reason:
        columns[ev.REASON] = category_text(_column(raw, table, table.reason))
    if table.text:
        text = text_of(_column(raw, table, table.text))
        columns[ev.TEXT] = text
        if sentiment is not None:
            columns[ev.SENTIMENT] = np.asarray(sentiment(text.to_numpy(dtype=object)),
                                               dtype=np.float32)
    measures = tuple(m for m in table.measures if m in raw.columns)
    missing = [m for m in table.measures if m not in raw.columns]
    if missing:
        _column(raw, table, missing[0])
    for measure in measures:
        series = raw[measure]
        # A float column goes to float32 directly (the same values as through float64,
        # without a float64 copy of each measure: 330 MB each for 41M usage weeks).
        columns[measure] = (series.to_numpy(dtype=np.float32)
                            if isinstance(series.dtype, np.dtype) and series.dtype.kind == "f"
                            else numbers(raw, table, measure).astype(np.float32))
    frame = pd.DataFrame({k: (v.to_numpy() if isinstance(v, pd.Series) else v)
                          for k, v in columns.items()})
    unlinked = position < 0
    undated = frame[ev.TIME].isna().to_numpy()
    keep = ~unlinked & ~undated
    frame = frame[keep].reset_index(drop=True) if not keep.all() else frame
    unit = table.unit or _unit(table)
    ratios = tuple((a, b) for a, b in table.ratios
                   if a in measures and (b in measures or b == "count"))
    out = ev.EventTable(name=table.name, role=table.role, frame=frame, measures=measures,
                        ratios=ratios, source=Path(table.path_name).name, unit=unit,
                        period_days=table.period_days)
    return out, {"unlinked": int(unlinked.sum()), "undated": int((undated & ~unlinked).sum())}


def _unit(table: TableConfig) -> str:
    words = {"tickets": "ticket", "history": "change", "outcome": "leaver",
             "churn_events": "churn event"}
    if table.role in words:
        return words[table.role]
    name = table.name.lower()
    for stem, word in (("usage", "usage event"), ("login", "login"), ("mail", "e-mail"),
                       ("invoice", "invoice"), ("payment", "payment"), ("call", "call")):
        if stem in name:
            return word
    return "event"


def load_linked(config: DatasetConfig, raws: dict[str, pd.DataFrame], ids: pd.Series,
                sentiment=None, consume: bool = False,
                lookups: tuple[pd.Index, dict] | None = None, report: bool = True) -> Linked:
    """Every event, history and outcome table in canonical shape, plus the churn events.
    With `consume`, each raw table is taken out of `raws` once read (its memory is freed
    before the next one is read: 41M usage rows are ~1 GB). Without `report`, the rows left
    out are only counted in `linked.left_out` (a caller linking block by block adds them up
    and calls `report_left_out` once)."""
    positions = resolve(config, raws, ids, lookups)
    linked = Linked()
    dates = []
    for table in config.tables:
        if table.role == "one_to_one":
            continue
        raw = raws[table.name]
        canon, left_out = canonical(table, raw, positions[table.name], sentiment)
        left_out["rows"] = len(raw)
        left_out["examples"] = ([repr(v) for v in key_text(raw[table.key]).head(3)]
                                if left_out["unlinked"] == len(raw) and len(raw) else [])
        linked.left_out[table.name] = left_out
        if len(canon.frame):
            dates += [canon.frame[ev.TIME].min(), canon.frame[ev.TIME].max()]
        if table.role == "churn_events":
            frame = canon.frame
            back = (parse_times(raw, table, table.reactivated)
                    if table.reactivated else pd.Series(pd.NaT, index=range(len(positions[
                        table.name]))))
            keep = (positions[table.name] >= 0) & parse_times(
                raw, table, table.time).notna().to_numpy()
            frame["reactivated"] = back.to_numpy()[keep]
            linked.churn_events = frame
            if table.reason or table.text:
                # What they said when leaving: the "why they said they left" panel only.
                linked.tables.append(ev.EventTable(
                    name=table.name, role="outcome", frame=frame.drop(columns="reactivated"),
                    source=canon.source, unit="leaver"))
        else:
            linked.tables.append(canon)
        del raw
        if consume:
            del raws[table.name]
    if dates:
        linked.first_date, linked.last_date = min(dates), max(dates)
    if report:
        report_left_out(linked, config)
    return linked


def report_left_out(linked: Linked, config: DatasetConfig) -> None:
    """Notes on the rows left out (linked to nobody, undated); a DataError when no row of a
    table links to a customer."""
    for table in config.tables:
        left_out = linked.left_out.get(table.name)
        if left_out is None:
            continue
        shown = Path(table.path_name).name
        if left_out["unlinked"]:
            target = table.links_to or f"{config.customer_word}s"
            linked.notes.append(f"{shown}: {left_out['unlinked']:,} row(s) link to no "
                                f"{target} (left out)")
            if left_out["unlinked"] == left_out["rows"]:
                raise DataError(f"table '{table.name}': no row links to a "
                                f"{config.customer_word}: is {table.key} the right column?",
                                file=shown, column=table.key, examples=left_out["examples"])
        if left_out["undated"]:
            linked.notes.append(f"{shown}: {left_out['undated']:,} row(s) without a "
                                f"{table.time} (left out)")


def default_as_of(linked: Linked, horizon_days: int) -> pd.Timestamp:
    """The last date in the data minus the outcome window (a day boundary), so every
    customer trained on has a whole window observed after it."""
    last = linked.last_date.normalize()
    as_of = last - pd.Timedelta(days=horizon_days) + pd.Timedelta(days=1)
    return as_of


def history_warning(linked: Linked, as_of: pd.Timestamp) -> str | None:
    if linked.first_date is not None and (as_of - linked.first_date).days < MIN_HISTORY_DAYS:
        return (f"only {(as_of - linked.first_date).days} days of history before the as-of "
                f"date {as_of.date()}: windows of 90 days see less than they say; set an "
                "earlier or later [roles] as_of")
    return None


def churn_outcome(linked: Linked, n: int, as_of: pd.Timestamp, horizon_days: int,
                  now: pd.Timestamp):
    """(end, label) from the churn events: `end` the start of the churn a customer is still
    in now (NaT when active), `label` 1 when a churn event falls in [as_of, as_of +
    horizon), 0 when not, -1 when the customer was gone at the as-of date."""
    frame = linked.churn_events
    end = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    label = np.zeros(n, dtype=np.int8)
    if frame is None or not len(frame):
        return pd.Series(end), label
    c = frame[ev.CUSTOMER].to_numpy()
    t = frame[ev.TIME].to_numpy()
    back = frame["reactivated"].to_numpy()
    horizon_end = np.datetime64(as_of + pd.Timedelta(days=horizon_days))
    as_of64, now64 = np.datetime64(as_of), np.datetime64(now)
    # gone at a date: a churn before it with no reactivation before it
    gone_at_as_of = (t < as_of64) & ~(back <= as_of64)
    gone_now = (t <= now64) & ~(back <= now64)
    in_window = (t >= as_of64) & (t < horizon_end)
    np.maximum.at(label, c[in_window], 1)
    excluded = np.zeros(n, dtype=bool)
    excluded[c[gone_at_as_of]] = True
    label[excluded] = -1
    order = np.argsort(t[gone_now], kind="stable")
    end[c[gone_now][order]] = t[gone_now][order]   # the latest churn still in force
    return pd.Series(end), label
