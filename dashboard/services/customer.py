"""The Customer page's queries: one customer's profile, risk, reasons and recommended offer,
and their activity over time (from the timeline service, dashboard/services/timeline.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.dataset import ACTIVE, CHURN, SCORED_BY
from analytics.explain import describe_value, feature_label, probability_points
from analytics.explaining import shap_rows
from analytics.export import customer_list
from analytics.offers import NO_OFFER
from analytics.pipeline import PROBABILITY
from analytics.recommend import (COST, OFFER, OFFER_NAME, P_WITH_OFFER, PROFIT, PROMO,
                                 no_offer_reason)
from analytics.whatif import MONEY_REASON, config_of, has_revenue
from dashboard.services import core
from dashboard.services.core import num


class CustomerService(core.PageService):

    def warm(self) -> None:
        """Read the SHAP matrix (a large one is cached apart, read on first use: 0.3 s at
        1,000,000 customers with behaviour) and the id index before the first Customer page;
        `make serve` does it before the fork, so the workers share them."""
        a = self.core.analysis
        if a is not None and len(a.customers):
            _ = a.shap_values                                   # read now, not on a page
            self.row_of(str(self.core.ids()[0]))              # builds the id index's hash

    def search_ids(self, text: str, limit: int = 20) -> list[str]:
        """Customer ids starting with (or else containing) the typed text."""
        return self.core.customers.search_ids(text, limit)

    def row_of(self, customer_id: str) -> int | None:
        """The table row of a customer id (None when unknown): a hash lookup in an index of
        the ids built once per analysis (a scan of 1M ids took 25 ms a page)."""
        index = self._id_index()
        if not index.is_unique:
            hits = np.flatnonzero(self.core.ids() == str(customer_id))
            return int(hits[0]) if len(hits) else None
        row = int(index.get_indexer([str(customer_id)])[0])
        return row if row >= 0 else None

    def _id_index(self) -> pd.Index:
        analysis = self.core.analysis
        if getattr(self, "_index_of", None) is not analysis:
            self._index, self._index_of = pd.Index(self.core.ids()), analysis
        return self._index

    def detail(self, customer_id: str) -> dict | None:
        """One customer's profile, risk, CLV and reasons (None when the id is unknown)."""
        c = self.core
        if c.analysis is None:
            return None
        row = self.row_of(customer_id)
        if row is None:
            return None
        listed = customer_list(c.analysis, np.array([row])).iloc[0].to_dict()
        record = c.analysis.customers.iloc[row]
        proba = c.array(PROBABILITY)
        meta = c.analysis.feature_meta()
        profile = [(feature_label(f, meta), str(record[f]) if not isinstance(record[f], float)
                    else f"{record[f]:,.2f}".rstrip("0").rstrip("."))
                   for f in c.analysis.features if f not in meta]
        # Unrounded, so the header and the what-if show the same percentage.
        listed["churn_probability"] = float(proba[row])
        return {**{k: (v if not isinstance(v, float) else num(v)) for k, v in listed.items()},
                "row": row, "churned": bool(record[CHURN]), "active": bool(record[ACTIVE]),
                "percentile": num(100 * (proba < proba[row]).mean()),
                "out_of_fold": bool(int(record[SCORED_BY]) >= 0),
                "observed_churn_rate": num(c.analysis.customers[CHURN].mean()),
                "profile": profile, "waterfall": self.waterfall(row),
                "offer": self.offer_of(row), "currency": config_of(c.analysis).currency,
                "money_reason": None if has_revenue(c.analysis) else MONEY_REASON,
                "timeline": c.timeline.of_row(row)}

    def offer_of(self, row: int) -> dict | None:
        """The recommended offer of one customer (None without a catalogue); `reason` says
        why there is none when the data cannot price offers (no revenue)."""
        c = self.core
        recs = c.analysis.recommendations
        if recs is None:
            return None
        r = recs.iloc[row]
        offer_id = str(r[OFFER])
        offer = None if offer_id == NO_OFFER else c.catalogue.get(offer_id)
        return {"id": offer_id, "name": str(r[OFFER_NAME]), "profit": num(r[PROFIT]),
                "p1": num(r[P_WITH_OFFER]), "cost": num(r[COST]),
                "promo_code": str(r[PROMO]),
                "changes": dict(offer.changes) if offer else {},
                "discount": offer.discount if offer else 0.0,
                "months": offer.months if offer else 0,
                "one_off_cost": (offer.one_off_cost + offer.monthly_cost * offer.months)
                if offer else 0.0,
                "acceptance": offer.acceptance if offer else None,
                "description": offer.description if offer else "",
                "reason": None if offer else no_offer_reason(c.analysis)}

    def waterfall(self, row: int, top: int = 8) -> dict:
        """Base rate, the largest SHAP contributions in probability points (the rest summed
        as 'other features'), and the prediction they add up to."""
        a = self.core.analysis
        values, bases = shap_rows(a, [row])
        points = probability_points(values, bases)[0].astype(float)
        order = np.argsort(-np.abs(points))
        record = a.customers.iloc[row]
        meta = a.feature_meta()
        items = [{"label": describe_value(a.features[j], record[a.features[j]], meta),
                  "points": float(points[j])} for j in order[:top]]
        rest = order[top:]
        if len(rest):
            items.append({"label": f"{len(rest)} other features",
                          "points": float(points[rest].sum())})
        base = 100 / (1 + np.exp(-float(bases[0])))
        prediction = float(100 * self.core.array(PROBABILITY)[row])
        if (a.calibration or {}).get("applied"):
            # SHAP adds up to CatBoost's own score; the served score is recalibrated.
            raw = base + float(points.sum())
            items.append({"label": f"Calibration ({a.calibration['method']})",
                          "points": prediction - raw})
        return {"base": float(base), "items": items, "prediction": prediction}


def current() -> CustomerService:
    return core.current().customer
