"""The Customers page's queries: the at-risk list as a server-side grid, id search, and the
exports (the whole filtered list, or the campaign list)."""

from __future__ import annotations

import json
import math
import re
from collections import OrderedDict

import numpy as np

from analytics.dataset import ACTIVE, MONTHLY, TENURE
from analytics.export import customer_list, write_csv, write_excel
from analytics.pipeline import CLV, PROBABILITY, SEGMENT, TIER
from analytics.recommend import OFFER_NAME, PROFIT, PROMO
from analytics.scoring import clip, shown
from dashboard.grid import (NUMBER_TESTS, Column, filter_mask, ordered_selection, records,
                            warm_columns)
from dashboard import ids
from dashboard.errors import ClientError
from dashboard.forked import run_forked
from dashboard.services import core
from dashboard.services.exports import export_href  # noqa: F401  (the list's download links)

SELECTION_MEMO_SIZE = 8
# The list's columns that depend on the data: one per driver (field -> its column).
DATA_COLUMNS = ("driver_1", "driver_2", "driver_3")
GRID_DEFAULT_SORT = ("churn_probability", "desc")
FILTER_LABELS = {ids.TIER: "Risk tier", ids.SEGMENT: "Segment"}  # drivers: their label
# What an export link's state may hold (dashboard/services/exports.export_href writes it).
STATE_KEYS = ("filters", "filterModel", "sortModel", "campaign")
TEXT_TESTS = ("contains", "notContains", "equals", "notEqual", "startsWith", "endsWith")
EMPTY_TESTS = ("blank", "notBlank")
MAX_CONDITIONS = 5
MAX_FILTER_TEXT = 200
MAX_CAPACITY = 10 ** 9
MAX_FILTER_NUMBER = 1e15   # no column holds more; a larger bound is a typo
# Control characters and lone surrogates: no filter text has them, no spreadsheet takes them.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Characters XML 1.0 (so an .xlsx cell) cannot hold.
EXCEL_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class ExportRequestError(ValueError, ClientError):
    """A request whose filters or export state cannot be served (a 400 wherever it is
    raised); the message says why, briefly."""


class CustomersService(core.PageService):
    def __init__(self, core_: core.Services) -> None:
        super().__init__(core_)
        self._selections: OrderedDict[str, np.ndarray] = OrderedDict()
        self._columns: dict[str, Column] | None = None

    def reset(self, columns: bool = True) -> None:
        self._selections.clear()
        if columns:
            self._columns = None

    def warm(self) -> None:
        """The grid's sort orders (`warm_columns`) when a server starts (`make serve`: in
        the master, before the fork). In a thread: of normal priority, as one at nice 10
        preempted while it holds the GIL stalls every request (measured: p95 of 2 s)."""
        if self.core.analysis is not None:
            warm_columns(self.grid_columns())

    def grid_columns(self) -> dict[str, Column]:
        """The list's columns as numpy arrays (built once)."""
        if self._columns is None:
            c = self.core
            frame = c.analysis.customers

            def category(column: str) -> Column:
                return Column("category", codes=c.array(column),
                              categories=[str(x) for x in frame[column].cat.categories])

            columns = {
                "customer_id": Column("text", values=c.ids()),
                "churn_probability": Column("number", values=c.array(PROBABILITY)),
                "risk_tier": category(TIER),
                "status": Column("category", codes=(~c.array(ACTIVE).astype(bool))
                                 .astype(np.int8), categories=["active", "churned"]),
                "tenure_months": Column("number", values=c.array(TENURE)),
                "monthly_charges": Column("number", values=c.array(MONTHLY)),
                "clv": Column("number", values=c.array(CLV)),
                "revenue_at_risk": Column("number", values=(
                    c.array(PROBABILITY).astype(float) * c.array(MONTHLY))),
            }
            if SEGMENT in frame.columns:
                columns["segment"] = category(SEGMENT)
            for field, column in self._driver_fields():
                columns[field] = category(column) if hasattr(frame[column], "cat") else \
                    Column("number", values=c.array(column))
            recs = c.analysis.recommendations
            if recs is not None:
                columns["recommended_offer"] = Column(
                    "category", codes=recs[OFFER_NAME].cat.codes.to_numpy(),
                    categories=[str(x) for x in recs[OFFER_NAME].cat.categories])
                columns["expected_profit"] = Column("number", values=recs[PROFIT].to_numpy())
                columns["promo_code"] = Column("text", values=recs[PROMO].to_numpy())
            else:  # no catalogue: empty columns, so sorting or filtering them still works
                n = len(frame)
                columns["recommended_offer"] = Column("category", codes=np.zeros(n, np.int8),
                                                      categories=[""])
                columns["expected_profit"] = Column("number", values=np.full(n, np.nan))
                columns["promo_code"] = Column("text", values=np.full(n, "", dtype=object))
            self._columns = columns
        return self._columns

    def data_columns(self) -> list[dict]:
        """List columns that depend on the data (the drivers): field, label and kind
        ("number" or "category"), beyond the fixed ones."""
        if self.core.analysis is None:
            return []
        columns = self.grid_columns()
        return [{"field": field, "label": self.core.driver_label(column),
                 "kind": columns[field].kind} for field, column in self._driver_fields()]

    def _driver_fields(self) -> list[tuple[str, str]]:
        """(grid field, source column) of each driver: fields are fixed names, so a column
        called "Área/zone" or "a.b" is a safe grid field too."""
        return list(zip(DATA_COLUMNS, self.core.drivers()))

    def selection(self, filters: dict | None, filter_model: dict | None = None,
                  sort_model: list | None = None) -> np.ndarray:
        """Row numbers of the customers the global filters and the grid's own filters keep,
        in the grid's sort order (riskiest first by default). Memoised per request shape."""
        key = json.dumps([filters or {}, filter_model or {}, sort_model or []], sort_keys=True)
        if key in self._selections:
            self._selections.move_to_end(key)
            return self._selections[key]
        columns = self.grid_columns()
        keep = self.core.mask(filters) & filter_mask(columns, filter_model,
                                                     len(self.core.analysis.customers))
        if not (filters or {}).get(ids.EVERYONE):
            # Lists are made for action: customers who already left only when asked for.
            keep &= self.core.array(ACTIVE).astype(bool)
        rows = ordered_selection(columns, keep, sort_model, GRID_DEFAULT_SORT)
        self._selections[key] = rows
        if len(self._selections) > SELECTION_MEMO_SIZE:
            self._selections.popitem(last=False)
        return rows

    def grid_page(self, filters: dict | None, request: dict | None) -> dict:
        """One block of the customers grid: {'rowData': [...], 'rowCount': n}."""
        if self.core.analysis is None or not request:
            return {"rowData": [], "rowCount": 0}
        if not isinstance(request, dict):
            raise ExportRequestError(f"the grid request must be an object (got {shown(request)})")
        try:
            start = max(int(request.get("startRow") or 0), 0)
            end = min(max(int(request.get("endRow") or start + 100), start), start + 1000)
        except (TypeError, ValueError, OverflowError):
            raise ExportRequestError("startRow and endRow must be whole numbers") from None
        try:
            rows = self.selection(filters, request.get("filterModel"), request.get("sortModel"))
        except ClientError:
            raise
        except (ValueError, TypeError):
            return {"rowData": [], "rowCount": 0}
        page = customer_list(self.core.analysis, rows[start:end])
        frame = self.core.analysis.customers
        for field, column in self._driver_fields():
            page[field] = frame[column].iloc[rows[start:end]].to_numpy(dtype=object)
        return {"rowData": records(page), "rowCount": int(len(rows))}

    def search_ids(self, text: str, limit: int = 20) -> list[str]:
        """Customer ids starting with (or else containing) the typed text."""
        if self.core.analysis is None or not text:
            return []
        if not isinstance(text, str):
            raise ExportRequestError(f"search text must be text (got {shown(text)})")
        column = self.grid_columns()["customer_id"]
        text = text.strip().lower()
        lower = column.lower()
        starts = np.flatnonzero(np.char.startswith(lower, text))
        contains = np.flatnonzero(np.char.find(lower, text) >= 0)
        rows = list(dict.fromkeys([*starts[:limit], *contains[:limit]]))[:limit]
        return column.values[rows].tolist()

    def describe_filters(self, filters: dict | None, filter_model: dict | None = None,
                         lists: bool = True) -> str:
        """The filters in words, for the export's first line."""
        filters = self.check_filters(filters)
        labels = {**{c: self.core.driver_label(c) for c in self.core.drivers()},
                  **FILTER_LABELS}
        parts = [f"{labels[k]} = {' or '.join(v)}"
                 for k, v in (filters or {}).items() if k in labels and v]
        if (filters or {}).get(ids.TENURE):
            lo, hi = filters["tenure"]
            parts.append(f"tenure {lo}-{hi} months")
        for column, model in (filter_model or {}).items():
            conditions = model.get("conditions", [model]) if isinstance(model, dict) else []
            text = f" {model.get('operator', 'AND')} ".join(
                f"{c.get('type')} {c.get('filter', '')}"
                + (f"-{c['filterTo']}" if c.get("filterTo") is not None else "")
                for c in conditions)
            parts.append(f"{column} {text}".strip())
        if lists:
            parts.append("customers who left included" if (filters or {}).get(ids.EVERYONE)
                         else "active customers only")
        return "; ".join(parts) or "none"

    def export_file(self, filters: dict | None, filter_model: dict | None,
                    sort_model: list | None, fmt: str, folder: str,
                    campaign: dict | None = None) -> tuple[str, int]:
        """Write the whole filtered list (not just the visible page) to `folder`; returns the
        file path and the number of customers. With `campaign` the campaign list: customers
        worth contacting, highest expected profit first, up to the capacity."""
        a = self.core.analysis
        if campaign is not None and a.recommendations is not None:
            capacity = campaign.get("capacity")
            rows = self.core.offers.campaign_rows(
                filters, None if capacity is None else int(capacity))
            limit = f"top {int(capacity):,} by capacity" if capacity is not None else \
                "all with a positive expected profit"
            note = (f"ChurnLens campaign list (model-implied offers); {self.core.source_name()}; "
                    f"filters: {self.describe_filters(filters)}; {limit}; "
                    f"{len(rows):,} customers, highest expected profit first")
            path = f"{folder}/churnlens-campaign.{fmt}"
        else:
            rows = self.selection(filters, filter_model, sort_model)
            note = (f"ChurnLens at-risk list; {self.core.source_name()}; filters: "
                    f"{self.describe_filters(filters, filter_model)}; {len(rows):,} customers")
            path = f"{folder}/churnlens-at-risk.{fmt}"
        if fmt == "xlsx":  # filter values and data names may hold what XML cannot
            note = EXCEL_ILLEGAL.sub("\ufffd", note)
        writer = write_excel if fmt == "xlsx" else write_csv
        run_forked(lambda: writer(a, rows, path, note))  # off this process' GIL (forked.py)
        return path, int(len(rows))

    def check_export_state(self, state) -> dict:
        """An export link's state (filters, grid filter and sort models, campaign) checked
        against this data: known filters, categories and columns, a [low, high] tenure,
        finite numbers, short text without control characters. Returns the state with
        every key present; raises ExportRequestError with a short reason."""
        if not isinstance(state, dict):
            raise ExportRequestError(f"the state must be a JSON object (got {shown(state)})")
        unknown = [k for k in state if k not in STATE_KEYS]
        if unknown:
            raise ExportRequestError(f"unknown state key {shown(unknown[0])}; keys: "
                                     f"{', '.join(STATE_KEYS)}")
        return {"filters": self.check_filters(state.get("filters")),
                "filterModel": self._check_filter_model(state.get("filterModel")),
                "sortModel": self._check_sort_model(state.get("sortModel")),
                "campaign": _check_campaign(state.get("campaign"))}

    def check_filters(self, filters) -> dict:
        """The global filters as sent (the store, a URL, an export link), checked: known
        keys (a driver's source column, segment, tier, tenure where the data has one,
        everyone), values this data has, a [low, high] tenure range. ExportRequestError (a
        400) otherwise."""
        if filters is None:
            return {}
        if not isinstance(filters, dict):
            raise ExportRequestError(f"filters must be an object (got {shown(filters)})")
        options = self.core.filter_options()
        choices = {d["key"]: d["options"] for d in options["drivers"]}
        choices.update({key: options[key] for key in FILTER_LABELS})
        for key, value in filters.items():
            if key == ids.TENURE and options["tenure_max"] is not None:
                _check_range(value)
            elif key == ids.EVERYONE:
                if value is not None and not isinstance(value, bool):
                    raise ExportRequestError(f"filter '{ids.EVERYONE}' must be true or false "
                                             f"(got {shown(value)})")
            elif key in choices:
                _check_choices(key, value, choices[key])
            else:
                known = ", ".join(clip(k) for k in self.core.filter_keys())
                raise ExportRequestError(f"unknown filter {shown(key)}; filters: {known}")
        return filters

    def _check_filter_model(self, model) -> dict:
        if model is None:
            return {}
        if not isinstance(model, dict):
            raise ExportRequestError(f"filterModel must be an object (got {shown(model)})")
        columns = self.grid_columns()
        for col_id, column_model in model.items():
            if col_id not in columns:
                raise ExportRequestError(f"filterModel: unknown column {shown(col_id)}")
            _check_column_filter(col_id, columns[col_id].kind, column_model)
        return model

    def _check_sort_model(self, model) -> list:
        if model is None:
            return []
        columns = self.grid_columns()
        if not isinstance(model, list) or len(model) > len(columns):
            raise ExportRequestError(f"sortModel must be a list of at most {len(columns)} "
                                     f"{{colId, sort}} objects (got {shown(model)})")
        for item in model:
            if not isinstance(item, dict) or item.get("sort") not in ("asc", "desc"):
                raise ExportRequestError("each sortModel item must be {\"colId\": column, "
                                         f"\"sort\": \"asc\" or \"desc\"}} (got {shown(item)})")
            if not isinstance(item.get("colId"), str) or item["colId"] not in columns:
                raise ExportRequestError(f"sortModel: unknown column {shown(item.get('colId'))}")
        return model


def _check_range(value) -> None:
    """The tenure filter: none, or [low, high] with finite numbers and low <= high."""
    if value is None or value == []:
        return
    if not (isinstance(value, list) and len(value) == 2 and all(
            _finite_number(v, MAX_FILTER_NUMBER) for v in value) and value[0] <= value[1]):
        raise ExportRequestError("filter 'tenure' must be [low, high] in months, two "
                                 f"numbers with low <= high (got {shown(value)})")


def _check_choices(key: str, values, allowed: list[str]) -> None:
    if values is None:
        return
    if not isinstance(values, list) or len(values) > max(len(allowed), 1):
        raise ExportRequestError(f"filter {shown(key)} must be a list of values "
                                 f"(got {shown(values)})")
    for value in values:
        if not isinstance(value, str) or value not in allowed:
            known = ", ".join(clip(a) for a in allowed[:20]) or "none in this data"
            raise ExportRequestError(f"filter {shown(key)}: unknown value {shown(value)}; "
                                     f"known: {known}")


def _check_column_filter(col_id: str, kind: str, model) -> None:
    """One column's grid filter: a condition, or up to MAX_CONDITIONS joined by AND/OR."""
    if not isinstance(model, dict):
        raise ExportRequestError(f"filterModel '{col_id}' must be an object "
                                 f"(got {shown(model)})")
    if model.get("filterType") not in (None, "text", "number"):
        raise ExportRequestError(f"filterModel '{col_id}': unknown filterType "
                                 f"{shown(model.get('filterType'))}")
    if "conditions" not in model:
        _check_condition(col_id, kind, model)
        return
    conditions = model["conditions"]
    if not isinstance(conditions, list) or not 1 <= len(conditions) <= MAX_CONDITIONS:
        raise ExportRequestError(f"filterModel '{col_id}': conditions must be a list of 1 "
                                 f"to {MAX_CONDITIONS} conditions (got {shown(conditions)})")
    if model.get("operator", "AND") not in ("AND", "OR"):
        raise ExportRequestError(f"filterModel '{col_id}': operator must be AND or OR "
                                 f"(got {shown(model.get('operator'))})")
    for condition in conditions:
        _check_condition(col_id, kind, condition)


def _check_condition(col_id: str, kind: str, condition) -> None:
    if not isinstance(condition, dict):
        raise ExportRequestError(f"filterModel '{col_id}': a condition must be an object "
                                 f"(got {shown(condition)})")
    tests = (*NUMBER_TESTS, *EMPTY_TESTS) if kind == "number" else (*TEXT_TESTS, *EMPTY_TESTS)
    kind_name = "number" if kind == "number" else "text"
    if condition.get("type") not in tests:
        raise ExportRequestError(f"filterModel '{col_id}': unknown {kind_name} filter "
                                 f"{shown(condition.get('type'))}; filters: {', '.join(tests)}")
    for key in ("filter", "filterTo"):
        value = condition.get(key)
        if value is None:
            continue
        if kind == "number" and not _finite_number(value, MAX_FILTER_NUMBER):
            raise ExportRequestError(f"filterModel '{col_id}': {key} must be a number from "
                                     f"{-MAX_FILTER_NUMBER:g} to {MAX_FILTER_NUMBER:g} "
                                     f"(got {shown(value)})")
        if kind != "number" and not (isinstance(value, str) and len(value) <= MAX_FILTER_TEXT
                                     and not CONTROL.search(value)):
            raise ExportRequestError(f"filterModel '{col_id}': {key} must be a text of at "
                                     f"most {MAX_FILTER_TEXT} characters without control "
                                     f"characters (got {shown(value)})")


def _check_campaign(campaign) -> dict | None:
    """None (the at-risk list) or {"capacity": None or a whole number of customers}."""
    if campaign is None:
        return None
    if not isinstance(campaign, dict) or set(campaign) - {"capacity"}:
        raise ExportRequestError(f"campaign must be {{\"capacity\": number or null}} (got "
                                 f"{shown(campaign)})")
    capacity = campaign.get("capacity")
    if capacity is not None and not (_finite_number(capacity, MAX_CAPACITY) and
                                     float(capacity).is_integer() and capacity >= 0):
        raise ExportRequestError(f"campaign capacity must be a whole number from 0 to "
                                 f"{MAX_CAPACITY:,} (got {shown(capacity)})")
    return {"capacity": None if capacity is None else int(capacity)}


def _finite_number(value, limit: float) -> bool:
    """A JSON number (not a boolean) no further from 0 than `limit`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value) and abs(value) <= limit
    except OverflowError:  # an integer too large for a float
        return False


def current() -> CustomersService:
    return core.current().customers

