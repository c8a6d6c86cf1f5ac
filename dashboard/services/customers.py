"""The Customers page's queries: the at-risk list as a server-side grid, id search, and the
exports (the whole filtered list, or the campaign list)."""

from __future__ import annotations

import json
from collections import OrderedDict

import numpy as np

from analytics.dataset import ACTIVE, MONTHLY, TENURE
from analytics.export import customer_list, write_csv, write_excel
from analytics.pipeline import CLV, PROBABILITY, SEGMENT, TIER
from analytics.recommend import OFFER_NAME, PROFIT, PROMO
from dashboard.grid import Column, filter_mask, ordered_selection
from dashboard import ids
from dashboard.services import core
from dashboard.services.core import export_href  # noqa: F401  (the list's download links)

SELECTION_MEMO_SIZE = 8
GRID_DEFAULT_SORT = ("churn_probability", "desc")
FILTER_LABELS = {"contract": "Contract", "internet": "Internet service",
                 "payment": "Payment method", "tier": "Risk tier", "segment": "Segment"}


class CustomersService(core.PageService):
    def __init__(self, core_: core.Services) -> None:
        super().__init__(core_)
        self._selections: OrderedDict[str, np.ndarray] = OrderedDict()
        self._columns: dict[str, Column] | None = None

    def reset(self) -> None:
        self._selections.clear()
        self._columns = None

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
            if "Contract" in frame.columns:
                columns["contract"] = category("Contract")
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
        try:
            rows = self.selection(filters, request.get("filterModel"), request.get("sortModel"))
        except (ValueError, TypeError):
            return {"rowData": [], "rowCount": 0}
        start = max(int(request.get("startRow") or 0), 0)
        end = min(max(int(request.get("endRow") or start + 100), start), start + 1000)
        page = customer_list(self.core.analysis, rows[start:end])
        # Blank cells (CLV and revenue at risk of customers who left) as null, not NaN.
        page = page.astype(object).where(page.notna(), None)
        return {"rowData": page.to_dict("records"), "rowCount": int(len(rows))}

    def search_ids(self, text: str, limit: int = 20) -> list[str]:
        """Customer ids starting with (or else containing) the typed text."""
        if self.core.analysis is None or not text:
            return []
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
        parts = [f"{FILTER_LABELS.get(k, k)} = {' or '.join(v)}"
                 for k, v in (filters or {}).items() if k in FILTER_LABELS and v]
        if (filters or {}).get("tenure"):
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
        writer = write_excel if fmt == "xlsx" else write_csv
        writer(a, rows, path, note)
        return path, int(len(rows))


def current() -> CustomersService:
    return core.current().customers
