"""The Overview page's queries: KPI tiles, churn by driver with intervals, the tier mix."""

from __future__ import annotations

import numpy as np

from analytics import kpis
from analytics.dataset import ACTIVE, CHURN, MONTHLY
from analytics.pipeline import CLV, PROBABILITY, TENURE_BAND, TIER
from dashboard.services import core
from dashboard.services.core import num

DRIVER_COLUMNS = (("Contract", "Contract"), (TENURE_BAND, "Tenure band"),
                  ("InternetService", "Internet service"), ("PaymentMethod", "Payment method"))


class OverviewService(core.PageService):

    def view(self, filters: dict | None) -> dict:
        """KPIs, churn rate by driver with 95% intervals, and the risk-tier mix of a selection."""
        c = self.core
        if c.analysis is None:
            return {"n": 0, "error": c.error}
        return c.memoised("overview", filters, lambda: self._view(c.mask(filters)))

    def _view(self, keep: np.ndarray) -> dict:
        core_ = self.core
        c = core_.analysis.customers
        rows = slice(None) if keep.all() else np.flatnonzero(keep)
        churn = core_.array(CHURN)[rows]
        active = core_.array(ACTIVE)[rows]
        monthly = core_.array(MONTHLY)[rows]
        proba = core_.array(PROBABILITY)[rows]
        tiers = core_.array(TIER)[rows]
        n = len(churn)
        out = {"n": n, "n_total": int(len(c)), "error": None}
        out["kpis"] = {
            "customers": n,
            "churned": int(churn.sum()),
            "churn_rate": num(kpis.churn_rate(churn)),
            "retention_rate": num(kpis.retention_rate(churn)),
            "arpu": num(kpis.arpu(monthly, active)),
            "clv": num(np.mean(core_.array(CLV)[rows][active])) if active.any() else None,
            "revenue_at_risk": num(kpis.revenue_at_risk(proba, monthly, active)),
            "active": int(active.sum()),
            "high_risk_active": int(((tiers == core_.codes_of(TIER, ["High"])[0])
                                     & active).sum()),
        }
        out["drivers"] = {}
        for column, title in DRIVER_COLUMNS:
            if column in c.columns:
                out["drivers"][column] = {"title": title,
                                          "rows": self._rates_by(column, rows, churn)}
        counts = np.bincount(tiers, minlength=len(kpis.TIERS))
        out["tiers"] = [{"tier": t, "n": int(counts[i]),
                         "share": num(counts[i] / n) if n else None}
                        for i, t in enumerate(kpis.TIERS)]
        return out

    def _rates_by(self, column: str, rows, churn: np.ndarray) -> list[dict]:
        series = self.core.analysis.customers[column]
        codes = self.core.array(column)[rows]
        size = len(series.cat.categories)
        n = np.bincount(codes, minlength=size)
        churned = np.bincount(codes, weights=churn, minlength=size)
        out = []
        for i, group in enumerate(series.cat.categories):
            lo, hi = kpis.wilson_interval(int(churned[i]), int(n[i]))
            out.append({"group": str(group), "n": int(n[i]), "churned": int(churned[i]),
                        "rate": num(churned[i] / n[i]) if n[i] else None,
                        "lo": num(lo), "hi": num(hi)})
        return out


def current() -> OverviewService:
    return core.current().overview
