"""One customer table from linked tables: one-to-one tables joined, churn from a churn-events
table when there is one, and behavioural features at the as-of date.

Training rows get their behaviour as of the as-of date (only rows dated before it); the
customers scored now get it as of the day after the last date in the data. Post-outcome
tables (churn reasons, feedback written when leaving) are kept for the "why they said they
left" panel and never become features.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from analytics.data import events as ev
from analytics.data import links
from analytics.data.config import DatasetConfig
from analytics.data.behaviour import slug
from analytics.dataset import (ID, MONTHLY, TENURE, CustomerTable, Outcome, _check_ids,
                               build_table, positional)
from analytics.errors import DataError
from analytics.memory import release

SMALL_TRAINING = 500    # fewer customers trained on than this: say the metrics are shaky
SMALL_CHURNERS = 50


@dataclass
class Behaviour:
    """The linked tables of a dataset and the behavioural features made from them."""

    tables: list[ev.EventTable]
    meta: dict                        # feature -> analytics.data.behaviour.FeatureMeta
    ids: np.ndarray                   # customer ids in position order (ev.CUSTOMER)
    as_of: str
    now: str
    horizon_days: int | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    lift: dict | None = None          # analytics.lift.behaviour_lift, set after training
    timings: dict = field(default_factory=dict)   # seconds per stage of the build
    # A typical active customer's value of each feature (the median at the scored date):
    # what a new customer without history is scored with (analytics/scoring.py).
    typical: dict = field(default_factory=dict)
    # table -> per position (as `ids`): the levels its change features compare, at the date
    # each customer's features are taken (analytics.data.behaviour's `_features`).
    levels: dict = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        return list(self.meta)

    def sources(self) -> dict[str, str]:
        return {name: m.table for name, m in self.meta.items()}

    def table(self, name: str) -> ev.EventTable | None:
        return next((t for t in self.tables if t.name == name), None)

    def position(self, customer_id: str) -> int | None:
        hits = np.flatnonzero(self.ids == str(customer_id))
        return int(hits[0]) if len(hits) else None


def join_one_to_one(raw: pd.DataFrame, config: DatasetConfig,
                    raws: dict[str, pd.DataFrame], source: str) -> pd.DataFrame:
    """The main table with every one-to-one table's columns joined on the id (a name that
    clashes gets the table's name in front)."""
    for table in config.tables:
        if table.role != "one_to_one":
            continue
        other = raws[table.name]
        keys = links.key_text(links._column(other, table, table.key))
        dup = keys.duplicated()
        if dup.any():
            raise DataError(f"table '{table.name}' is one-to-one but {int(dup.sum()):,} "
                            "key(s) repeat: make it an events or history table",
                            file=table.path_name, column=table.key,
                            examples=[repr(k) for k in keys[dup].head(3)])
        main_keys = links.key_text(raw[table.parent_key or config.id_column])
        rows = pd.Index(keys.to_numpy()).get_indexer(main_keys.to_numpy())
        for column in other.columns:
            if column == table.key:
                continue
            name = column if column not in raw.columns else f"{table.name}_{column}"
            values = other[column].reset_index(drop=True)
            taken = values.iloc[np.maximum(rows, 0)].reset_index(drop=True)
            raw[name] = taken.where(pd.Series(rows >= 0)).to_numpy() if not isinstance(
                taken.dtype, pd.CategoricalDtype) else taken.astype(object).where(
                pd.Series(rows >= 0)).to_numpy()
    return raw


def build_linked(raw: pd.DataFrame, config: DatasetConfig, source: str,
                 raws: dict[str, pd.DataFrame], engine: str = "auto",
                 consume: bool = False) -> CustomerTable:
    """The customer table of a dataset with linked tables (`consume`: `raws` is emptied as
    its tables are read, see links.load_linked)."""
    from analytics.data.sentiment import score as sentiment

    clock = time.perf_counter()
    # (a copy only when one-to-one tables' columns are added to it)
    joined = any(t.role == "one_to_one" for t in config.tables)
    raw = join_one_to_one(raw.reset_index(drop=True) if joined else positional(raw), config,
                          raws, source)
    ids = _check_ids(raw, config.id_column, source)
    linked = links.load_linked(config, raws, ids, sentiment=sentiment, consume=consume)
    return finish_linked(raw, config, source, ids, linked, time.perf_counter() - clock, engine)


def finish_linked(raw: pd.DataFrame, config: DatasetConfig, source: str, ids: pd.Series,
                  linked: links.Linked, link_s: float, engine: str = "auto",
                  aggregate=None) -> CustomerTable:
    """The customer table of linked tables: the churn outcome, the as-of and scoring dates,
    the behaviour at both. `aggregate(table, date)` (analytics/data/streamed.py, which keeps
    the rows on disk): a table's aggregates at a date, instead of reading its frame."""
    if linked.last_date is None:
        raise DataError("the linked tables hold no dated row that links to a "
                        f"{config.customer_word}", file=source)
    churn = config.churn_table
    horizon = config.horizon_days or (links.DEFAULT_HORIZON_DAYS if churn else None)
    now = linked.last_date.normalize() + pd.Timedelta(days=1)
    outcome = None
    if churn is not None:
        as_of = (pd.Timestamp(config.as_of) if config.as_of
                 else links.default_as_of(linked, horizon))
        end, label = links.churn_outcome(linked, len(raw), as_of, horizon, now)
        outcome = Outcome(end=end, label=label)
        config = replace(config, as_of=str(as_of.date()), horizon_days=horizon,
                         extraction_date=config.extraction_date or str(now.date()))
    table = build_table(raw, config, source, outcome=outcome)
    release()   # build_table's temporaries, before the behaviour's
    if table.as_of is None:
        # A label without dates: behaviour up to the last date in the data (or the as-of
        # date given); the label must have been recorded after it.
        as_of = pd.Timestamp(config.as_of) if config.as_of else now
        table.as_of = str(as_of.date())
        if not config.as_of:
            linked.warnings.append(
                f"the churn label has no date: behaviour up to {as_of.date()} is used; make "
                "sure churn was recorded after it, or set [roles] as_of")
    as_of = pd.Timestamp(table.as_of)
    if table.extraction_date:
        # Behaviour at the date the other features of the customers are taken (a usage week
        # ending after it is not complete then).
        now = pd.Timestamp(table.extraction_date)
    warning = links.history_warning(linked, as_of)
    if warning:
        linked.warnings.append(warning)
    clock = time.perf_counter()
    table = attach_behaviour(table, linked, ids, as_of, now, horizon, engine, aggregate)
    table.behaviour.timings = {"link_and_sentiment_s": link_s,
                               "features_s": time.perf_counter() - clock}
    if config.revenue_table:
        _revenue_from_history(table, config.revenue_table)
    return table


def _beside(frame: pd.DataFrame, values: np.ndarray, names: list[str]) -> pd.DataFrame:
    """`frame` (positions as index) with the float32 columns `values` after its own,
    neither copied."""
    frame = positional(frame)
    extra = pd.DataFrame(values.astype(np.float32, copy=False), columns=names)
    return pd.concat([frame, extra], axis=1, copy=False)


def _revenue_from_history(table: CustomerTable, name: str) -> None:
    """Monthly revenue = the MRR in force of a history table (subscriptions) when each
    customer is scored: now for active customers, the as-of date for leavers."""
    column = f"{slug(name)}_mrr_now"
    if column not in table.customers.columns:
        return
    for frame in {id(table.customers): table.customers, id(table.training): table.training
                  }.values():
        frame[MONTHLY] = frame[column].to_numpy(dtype=float)
    table.quality.notes = [n for n in table.quality.notes if not n.startswith("no revenue")]
    table.quality.notes.append(f"monthly revenue: the MRR in force in {name} (summed over "
                               f"its rows in force when each {table.config.customer_word} "
                               "is scored)")


def attach_behaviour(table: CustomerTable, linked: links.Linked, ids: pd.Series,
                     as_of: pd.Timestamp, now: pd.Timestamp, horizon: int | None,
                     engine: str = "auto", aggregate=None) -> CustomerTable:
    """Behavioural features at `as_of` on the training rows and at `now` on the customers
    who are active now (leavers keep the as-of ones, as their other features); with
    `aggregate` (see finish_linked), from the aggregates it returns."""
    from analytics.data.behaviour import behaviour_features

    feature_tables = linked.feature_tables
    n = len(ids)
    index = pd.Index(ids.astype(str).to_numpy())
    meta: dict = {}
    levels: dict = {}
    if feature_tables:
        tenure = np.full(n, np.nan)
        train_pos = index.get_indexer(table.training[ID].astype(str).to_numpy())
        tenure[train_pos] = table.training[TENURE].to_numpy(dtype=float)
        raw_as_of, raw_now = ((lambda t: aggregate(t, as_of)), (lambda t: aggregate(t, now))
                              ) if aggregate else (None, None)
        at_as_of = behaviour_features(feature_tables, n, as_of, tenure_months=np.nan_to_num(
            tenure, nan=1.0), engine=engine, aggregates=raw_as_of)
        cust_pos = index.get_indexer(table.customers[ID].astype(str).to_numpy())
        current = np.full(n, np.nan)
        current[cust_pos] = table.customers[TENURE].to_numpy(dtype=float)
        at_now = behaviour_features(feature_tables, n, now, tenure_months=np.nan_to_num(
            current, nan=1.0), engine=engine, aggregates=raw_now)
        meta = at_as_of.meta
        names = [c for c in at_as_of.frame.columns]
        clash = [c for c in names if c in table.customers.columns]
        if clash:
            raise DataError(f"a column of the customers' file has the name of a behaviour "
                            f"feature ({clash[0]}): rename the column or the table",
                            file=table.source, column=clash[0])
        active_now = table.customers["active"].to_numpy(dtype=bool)
        # (n, features) float32 views of the frames' one block each; a customer's current
        # features are the now ones when active (the as-of ones when gone), without copies
        # of a million customers' frames in between (~290 MB each).
        now_values, as_of_values = at_now.frame.to_numpy(), at_as_of.frame.to_numpy()
        rows = slice(None) if np.array_equal(cust_pos, np.arange(n)) else cust_pos
        current_values = np.where(active_now[:, None], now_values[rows], as_of_values[rows])
        # What the Behaviour page shows of each change (per position, as `ids`), at the date
        # the customer's features are taken.
        now_at = np.zeros(n, dtype=bool)
        now_at[cust_pos] = active_now
        levels = {t: {k: np.where(now_at, v, at_as_of.levels[t][k]).astype(
                      v.dtype if k == "measure" else np.float32) for k, v in d.items()}
                  for t, d in at_now.levels.items()}
        del now_values, at_now
        same = table.training is table.customers
        table.customers = _beside(table.customers, current_values, names)
        table.training = table.customers if same else _beside(
            table.training, as_of_values[train_pos], names)
        del as_of_values
        table.numeric = table.numeric + names
    notes = [f"behaviour from {', '.join(t.source for t in feature_tables) or 'no table'}: "
             f"{len(meta)} features as of {as_of.date()} (only rows dated before it)"]
    for t in linked.outcome_tables:
        notes.append(f"{t.source}: written after the outcome, never a feature (shown in "
                     "'why they said they left')")
    table.quality.notes.extend(linked.notes + notes)
    table.quality.notes.extend(f"warning: {w}" for w in linked.warnings)
    trained = len(table.training)
    churners = int(table.training["churn"].sum())
    if trained < SMALL_TRAINING or churners < SMALL_CHURNERS:
        linked.warnings.append(f"only {trained:,} {table.config.customer_word}s "
                               f"({churners:,} churners) to train on at the as-of date "
                               f"{as_of.date()}: the metrics are shaky")
        table.quality.notes.append("warning: " + linked.warnings[-1])
    active = table.customers["active"].to_numpy(dtype=bool)
    typical = {f: float(np.nanmedian(v)) if np.isfinite(v).any() else float("nan")
               for f in meta for v in [table.customers.loc[active, f].to_numpy(dtype=float)]}
    table.behaviour = Behaviour(tables=linked.tables, meta=meta, typical=typical,
                                ids=ids.astype(str).to_numpy(), as_of=str(as_of.date()),
                                now=str(now.date()), horizon_days=horizon,
                                notes=linked.notes + notes, warnings=linked.warnings,
                                levels=levels)
    return table
