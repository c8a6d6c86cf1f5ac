"""The Overview page's queries: KPI tiles, churn by driver with intervals, the tier mix."""

from __future__ import annotations

import numpy as np

from analytics import kpis
from analytics.dataset import ACTIVE, CHURN, MONTHLY
from analytics.pipeline import CLV, PROBABILITY, TENURE_BAND, TIER
from dashboard.services import core
from dashboard.services.core import num

# (column, title, the global filter on it): each driver chart is drawn for the selection
# without its own filter, so a drilled group is highlighted among the others, not alone.
DRIVER_COLUMNS = (("Contract", "Contract", "contract"), (TENURE_BAND, "Tenure band", "tenure"),
                  ("InternetService", "Internet service", "internet"),
                  ("PaymentMethod", "Payment method", "payment"))


class OverviewService(core.PageService):

    def driver_titles(self) -> dict[str, str]:
        """Each driver chart's title, by the global filter it drills into."""
        return {key: title for _, title, key in DRIVER_COLUMNS}

    def view(self, filters: dict | None) -> dict:
        """KPIs, churn rate by driver with 95% intervals, and the risk-tier mix of a selection."""
        c = self.core
        if c.analysis is None:
            return {"n": 0, "error": c.error}
        return c.memoised("overview", filters, lambda: self._view(filters or {}))

    def _view(self, filters: dict) -> dict:
        core_ = self.core
        c = core_.analysis.customers
        keep = core_.mask(filters)
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
        for column, title, key in DRIVER_COLUMNS:
            if column not in c.columns:
                out["drivers"][key] = {"title": title, "rows": None}
                continue
            if filters.get(key):
                context = core_.mask({k: v for k, v in filters.items() if k != key})
                context_rows = np.flatnonzero(context)
            else:
                context_rows = rows
            context_churn = core_.array(CHURN)[context_rows]
            out["drivers"][key] = {
                "title": title, "filtered": bool(filters.get(key)),
                "overall": num(kpis.churn_rate(context_churn)),
                "rows": self._rates_by(column, context_rows, context_churn)}
        # The tier mix of the customers a team can still act on: the active ones.
        counts = np.bincount(tiers[active.astype(bool)], minlength=len(kpis.TIERS))
        total = int(counts.sum())
        out["tiers"] = [{"tier": t, "n": int(counts[i]),
                         "share": num(counts[i] / total) if total else None}
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
