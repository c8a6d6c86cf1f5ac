"""AG Grid's server-side requests (filter model, sort model) applied to numpy columns.

Pure functions: a `Column` knows how to hand out its values (numbers, or category codes with
their categories, or plain strings); the grid's JSON models become boolean masks and orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

NUMBER_TESTS = {
    "equals": lambda v, a, b: v == a,
    "notEqual": lambda v, a, b: v != a,
    "lessThan": lambda v, a, b: v < a,
    "lessThanOrEqual": lambda v, a, b: v <= a,
    "greaterThan": lambda v, a, b: v > a,
    "greaterThanOrEqual": lambda v, a, b: v >= a,
    "inRange": lambda v, a, b: (v >= a) & (v <= b),
}


def _text_test(kind: str, lower: np.ndarray, needle: str) -> np.ndarray:
    """A text condition on lower-cased fixed-width strings (numpy's vectorised string ops:
    ~25 ms for a million ids, against ~400 ms through pandas' per-string calls)."""
    needle = needle.lower()
    if kind == "contains":
        return np.char.find(lower, needle) >= 0
    if kind == "notContains":
        return np.char.find(lower, needle) < 0
    if kind == "equals":
        return lower == needle
    if kind == "notEqual":
        return lower != needle
    if kind == "startsWith":
        return np.char.startswith(lower, needle)
    if kind == "endsWith":
        return np.char.endswith(lower, needle)
    raise ValueError(f"unsupported text filter {kind!r}")


@dataclass
class Column:
    """One grid column's values: `values` (numbers or strings) or `codes` + `categories`."""

    kind: str                      # "number", "category" or "text"
    values: np.ndarray | None = None
    codes: np.ndarray | None = None
    categories: list[str] | None = None
    cache: dict = field(default_factory=dict, repr=False)

    def lower(self) -> np.ndarray:
        """Lower-cased fixed-width copy of a text column (built once)."""
        if "lower" not in self.cache:
            self.cache["lower"] = np.char.lower(self.values.astype("U"))
        return self.cache["lower"]

    def sort_key(self) -> np.ndarray:
        if self.kind == "category":
            order = np.argsort(np.argsort(np.asarray(self.categories, dtype=object)))
            table = np.append(order, -1)  # missing (code -1) sorts first
            return table[self.codes]
        if self.kind == "text":  # ranks of the strings, computed once
            if "rank" not in self.cache:
                order = np.argsort(self.values.astype("U"), kind="stable")
                rank = np.empty(len(order), dtype=np.int64)
                rank[order] = np.arange(len(order))
                self.cache["rank"] = rank
            return self.cache["rank"]
        return self.values

    def full_order(self, descending: bool) -> np.ndarray:
        """Every row of the table in this column's order (stable; computed once per
        direction). A filtered selection's order is then `order[keep[order]]`, O(n)."""
        name = "desc" if descending else "asc"
        if name not in self.cache:
            key = self.sort_key()
            key = -key.astype(np.float64) if descending else key
            self.cache[name] = np.argsort(key, kind="stable")
        return self.cache[name]

    def condition(self, model: dict) -> np.ndarray:
        """Mask of one filter condition ({'type': ..., 'filter': ..., 'filterTo': ...})."""
        kind = model.get("type")
        if kind in ("blank", "notBlank"):
            if self.kind == "category":
                missing = self.codes < 0
            elif self.kind == "number":
                missing = np.isnan(self.values.astype(float))
            else:
                missing = pd.isna(self.values) | (self.values == "")
            return missing if kind == "blank" else ~missing
        if self.kind == "number":
            a = float(model.get("filter")) if model.get("filter") is not None else np.nan
            b = float(model.get("filterTo")) if model.get("filterTo") is not None else np.inf
            test = NUMBER_TESTS.get(kind)
            if test is None:
                raise ValueError(f"unsupported number filter {kind!r}")
            return np.asarray(test(self.values, a, b))
        needle = str(model.get("filter") or "")
        if self.kind == "category":
            hits = _text_test(kind, np.char.lower(np.asarray(self.categories, dtype="U")),
                              needle)
            table = np.append(hits, False)
            return table[self.codes]
        return _text_test(kind, self.lower(), needle)


def filter_mask(columns: dict[str, Column], filter_model: dict | None, n: int) -> np.ndarray:
    """AND of every column filter; a column's two conditions combine with its operator."""
    keep = np.ones(n, dtype=bool)
    for col_id, model in (filter_model or {}).items():
        column = columns.get(col_id)
        if column is None or not isinstance(model, dict):
            continue
        if "conditions" in model:
            masks = [column.condition(c) for c in model["conditions"]]
            if not masks:
                continue
            combined = masks[0]
            for mask in masks[1:]:
                combined = (combined | mask) if model.get("operator") == "OR" \
                    else (combined & mask)
            keep &= combined
        else:
            keep &= column.condition(model)
    return keep


def ordered_selection(columns: dict[str, Column], keep: np.ndarray, sort_model: list | None,
                      default: tuple[str, str]) -> np.ndarray:
    """Row numbers where `keep` is true, in the sort model's order. One sort column (the
    usual case) reuses that column's whole-table order, so a new filter costs O(n)."""
    model = [m for m in (sort_model or []) if m.get("colId") in columns] or \
        [{"colId": default[0], "sort": default[1]}]
    if len(model) == 1:
        order = columns[model[0]["colId"]].full_order(model[0].get("sort") == "desc")
        return order[keep[order]]
    return sort_rows(columns, np.flatnonzero(keep), model, default)


def sort_rows(columns: dict[str, Column], rows: np.ndarray, sort_model: list | None,
              default: tuple[str, str]) -> np.ndarray:
    """`rows` ordered by the sort model (several columns: the first is the primary key)."""
    model = [m for m in (sort_model or []) if m.get("colId") in columns] or \
        [{"colId": default[0], "sort": default[1]}]
    keys = []
    for item in reversed(model):  # np.lexsort: the last key is the primary one
        key = columns[item["colId"]].sort_key()[rows]
        if item.get("sort") == "desc":
            key = -key.astype(np.float64)
        keys.append(key)
    return rows[np.lexsort(keys)]


def records(frame) -> list[dict]:
    """The rows as JSON-safe dicts, blank cells (CLV and revenue at risk of customers who
    left, NaN or None) as null. Column by column through `tolist()`: pandas' `to_dict`
    boxed each cell on its own and took most of a grid block's time."""
    columns = []
    for name in frame.columns:
        values = frame[name].to_numpy()
        cells = values.tolist()
        if values.dtype.kind == "f":
            cells = [None if v != v else v for v in cells]
        elif values.dtype.kind == "O":
            cells = [None if v is None or v is pd.NA or (isinstance(v, float) and v != v)
                     else v for v in cells]
        columns.append(cells)
    names = list(frame.columns)
    return [dict(zip(names, row)) for row in zip(*columns)]


def warm_columns(columns: dict[str, Column]) -> None:
    """Compute what a grid's first sorts and filters would: each column's order both ways
    (about 0.2 s a number column at 1M) and the lower-cased text, so that users' first
    sorts cost O(n) like the rest."""
    for column in columns.values():
        for descending in (False, True):
            column.full_order(descending)
        if column.kind == "text":
            column.lower()
