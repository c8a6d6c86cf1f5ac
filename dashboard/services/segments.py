"""The Segments page's queries: segment profiles of a selection, survival, a numeric
feature vs risk.

They follow the data: without a revenue column the money facts (what a segment pays, its
lifetime value, revenue and revenue at risk) are left out (None) and `shows()` says so; with
an acquisition cost each segment adds its CAC, CLV:CAC and payback months (analytics/kpis.py,
the Overview's definitions); the retention curves split by the data's categorical drivers
and need a tenure; the scatter plots the revenue, else the first numeric segmentation
feature or driver, against the churn risk.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analytics import kpis
from analytics import segments as segmenting
from analytics.dataset import ACQUISITION, ACTIVE, CHURN, DURATION, MONTHLY, TENURE
from analytics.drivers import MISSING, driver_columns
from analytics.pipeline import CLV, PROBABILITY, SEGMENT, TIER
from analytics.survival import km_by_group
from dashboard.services import core
from dashboard.services.core import num

ALL = "all"                # the retention curve of all customers together
MAX_CURVE_GROUPINGS = 3    # categorical drivers the retention chart can be split by
MAX_CURVE_GROUPS = 6       # ... each with at most this many categories (curves)
MIN_SCATTER_VALUES = 3     # a feature with fewer distinct values is no scatter axis
NEEDS_REVENUE = ("Revenue, lifetime value and revenue at risk need a revenue column "
                 "([roles] revenue in the dataset config)")
NEEDS_TENURE = ("Retention curves need a tenure column ([roles] tenure in the dataset "
                "config)")
NO_SCATTER = "No numeric feature to plot against the churn risk"


class SegmentsService(core.PageService):

    def shows(self) -> dict:
        """What this data lets the page show: {"revenue", "acquisition", "tenure": bool,
        "currency", "customer", "customers": words, "notes": [what is missing, in words]}."""
        c = self.core
        out = {"revenue": c.has_revenue(), "acquisition": c.has_acquisition_cost(),
               "tenure": c.has_tenure(), **c.words()}
        out["notes"] = [] if out["revenue"] or c.analysis is None else [NEEDS_REVENUE]
        return out

    def curve_groupings(self) -> list[str]:
        """The categorical drivers the retention curves can be split by (most telling first,
        at most MAX_CURVE_GROUPINGS, each with 2 to MAX_CURVE_GROUPS categories): the
        config's pinned drivers, else the model's most important categorical features."""
        a = self.core.analysis
        if a is None:
            return []
        return self.core.memoised("curve-groupings", None, self._curve_groupings)

    def _curve_groupings(self) -> list[str]:
        a = self.core.analysis
        customers, categorical = a.customers, set(a.categorical)
        out = []
        for column in driver_columns(a, k=len(a.features)):
            if (column in categorical and column in customers.columns and column != ALL
                    and 2 <= customers[column].nunique(dropna=True) <= MAX_CURVE_GROUPS):
                out.append(column)
            if len(out) == MAX_CURVE_GROUPINGS:
                break
        return out

    def curve_options(self) -> list[dict]:
        """The groupings the retention chart offers: by segment, by each categorical driver
        (the contract, for the Telco layouts), or all customers together."""
        c = self.core
        options = [{"label": "by segment", "value": SEGMENT}]
        options += [{"label": f"by {_lower_first(c.driver_label(column))}", "value": column}
                    for column in self.curve_groupings()]
        return options + [{"label": f"all {c.words()['customers']}", "value": ALL}]

    def count(self) -> int:
        """How many segments this analysis has (0 without one)."""
        a = self.core.analysis
        return 0 if a is None or a.segmentation is None else len(a.segmentation.names)

    def view(self, filters: dict | None) -> dict:
        """Segment profiles for the selection, the K choice, segment x tier counts, Pareto."""
        c = self.core
        if c.analysis is None or SEGMENT not in c.analysis.customers.columns:
            return {"error": c.error or "No segments in this analysis.", "segments": []}
        return c.memoised("segments", filters, lambda: self._view(filters))

    def _view(self, filters: dict | None) -> dict:
        c = self.core
        a = c.analysis
        revenue, acquisition = c.has_revenue(), c.has_acquisition_cost()
        keep = c.mask(filters)
        rows = slice(None) if keep.all() else np.flatnonzero(keep)
        seg = c.array(SEGMENT)[rows]
        churn = c.array(CHURN)[rows].astype(float)
        active = c.array(ACTIVE)[rows].astype(float)
        monthly = c.array(MONTHLY)[rows].astype(float)
        paying = active * np.isfinite(monthly)  # active customers with a known revenue
        monthly = np.nan_to_num(monthly)
        proba = c.array(PROBABILITY)[rows].astype(float)
        tenure = c.array(TENURE)[rows].astype(float)
        clv = c.array(CLV)[rows].astype(float)
        known_clv = active * np.isfinite(clv)  # churners carry no CLV (NaN)
        clv = np.nan_to_num(clv)
        k = len(a.segmentation.names)

        def per(weights):
            return np.bincount(seg, weights=weights, minlength=k)

        count, churned, n_active = per(None), per(churn), per(active)
        n_paying, n_clv = per(paying), per(known_clv)
        revenue_sum, at_risk = per(monthly * paying), per(proba * monthly * paying)
        clv_sum = per(clv * known_clv)
        known_tenure = np.isfinite(tenure)
        tenure_sum, n_tenure = per(np.nan_to_num(tenure)), per(known_tenure.astype(float))
        cost = c.array(ACQUISITION)[rows].astype(float) if acquisition else None
        static = a.segment_profiles.set_index("name")
        money_facts = set(getattr(a.config, "revenue_columns", ()) or ())
        segments = []
        for i, name in enumerate(a.segmentation.names):
            lo, hi = kpis.wilson_interval(int(churned[i]), int(count[i]))
            row = {
                "name": name, "n": int(count[i]), "churned": int(churned[i]),
                "share": num(count[i] / max(len(churn), 1)),
                "rate": num(churned[i] / count[i]) if count[i] else None,
                "lo": num(lo), "hi": num(hi), "group": name,
                "active": int(n_active[i]),
                "arpu": None, "clv": None, "monthly_revenue": None, "revenue_at_risk": None,
                "mean_risk": num(per(proba)[i] / count[i]) if count[i] else None,
                "tenure": num(tenure_sum[i] / n_tenure[i]) if n_tenure[i] else None,
                "outliers": int(static.loc[name, "outliers"]),
                "rule": a.segmentation.rules[i],
                "apart": [_fact(f, money_facts) for f in static.loc[name, "distinguishing"]],
            }
            if revenue:
                row.update(arpu=num(revenue_sum[i] / n_paying[i]) if n_paying[i] else None,
                           clv=num(clv_sum[i] / n_clv[i]) if n_clv[i] else None,
                           monthly_revenue=num(revenue_sum[i]),
                           revenue_at_risk=num(at_risk[i]))
            if acquisition:
                row.update(self._acquisition(cost[seg == i], active[seg == i],
                                             row["clv"], row["arpu"]))
            segments.append(row)
        tiers = c.array(TIER)[rows]
        heat = np.zeros((k, len(kpis.TIERS)), dtype=int)
        np.add.at(heat, (seg, tiers), 1)
        heat_churned = np.zeros((k, len(kpis.TIERS)), dtype=float)
        np.add.at(heat_churned, (seg, tiers), churn)
        heat_active = np.zeros((k, len(kpis.TIERS)), dtype=float)
        np.add.at(heat_active, (seg, tiers), active)
        n, n_pay = len(churn), float(paying.sum())
        return {
            "error": None, "segments": segments, "k": a.segmentation.k,
            "overall": {"n": int(n), "rate": num(churn.mean()) if n else None,
                        "arpu": num((monthly * paying).sum() / n_pay)
                        if revenue and n_pay else None,
                        "tenure": num(tenure[known_tenure].mean())
                        if known_tenure.any() else None,
                        "mean_risk": num(proba.mean()) if n else None},
            "silhouette": {int(x): num(v) for x, v in a.segmentation.silhouette.items()},
            "inertia": {int(x): num(v) for x, v in a.segmentation.inertia.items()},
            "heat": {"segments": list(a.segmentation.names), "tiers": list(kpis.TIERS),
                     "counts": heat.tolist(), "churned": heat_churned.astype(int).tolist(),
                     "active": heat_active.astype(int).tolist()},
            "pareto": num(a.pareto_top20) if revenue and a.pareto_top20 is not None else None,
            "clv_settings": {"margin": a.settings.margin,
                             "annual_discount": a.settings.annual_discount,
                             "horizon_months": a.settings.horizon_months},
            "sampled": bool(a.segmentation.sampled),
            "method": self._method(),
        }

    def _acquisition(self, cost: np.ndarray, active: np.ndarray, clv: float | None,
                     arpu: float | None) -> dict:
        """A segment's CAC (mean of its active customers), CLV:CAC and payback months, as
        the Overview's tiles define them (analytics/kpis.py)."""
        cac = kpis.cac(cost, active)
        margin = self.core.analysis.settings.margin
        return {"cac": num(cac), "clv_cac": num(kpis.clv_cac(_nan(clv), cac)),
                "payback_months": num(kpis.payback_months(cac, _nan(arpu), margin))}

    def _method(self) -> dict:
        """How the segments were made, for the page's Method panel (whole data, no filter)."""
        s = self.core.analysis.segmentation
        labels = segmenting.FEATURE_LABELS
        return {"features": [labels.get(f, segmenting.humanise(f)) for f in s.features],
                "k_tried": sorted(int(x) for x in s.silhouette), "k": int(s.k),
                "silhouette": num(s.silhouette.get(s.k)) if s.silhouette else None,
                "sampled": bool(s.sampled), "outlier_quantile": float(s.outlier_quantile),
                "outliers": int(np.asarray(s.outlier).sum()),
                "single_reason": s.rules[0] if s.k == 1 else None,
                "high_risk": segmenting.HIGH_RISK, "low_risk": segmenting.LOW_RISK,
                "stable_risk": segmenting.STABLE_RISK}

    def survival_curves(self, filters: dict | None, by: str = SEGMENT) -> dict:
        """Kaplan-Meier retention of the selection, by segment, by one of the offered
        groupings, or ('all') overall; {} without a tenure or for any other column."""
        c = self.core
        if c.analysis is None or not c.has_tenure():
            return {}
        if by not in (SEGMENT, ALL, *self.curve_groupings()):
            return {}
        keep = c.mask(filters)
        if not keep.any():
            return {}
        frame = c.analysis.customers
        if by == ALL:
            groups = np.full(int(keep.sum()), f"All {c.words()['customers']}", dtype=object)
        else:
            values = frame[by]
            groups = values.astype(object).where(values.notna(), MISSING).astype(str)
            groups = groups.to_numpy()[keep]
        curves = km_by_group(frame[DURATION].to_numpy()[keep], frame[CHURN].to_numpy()[keep],
                             groups, min_size=30)
        return {name: {"month": curve["month"].tolist(), "survival": curve["survival"].tolist(),
                       "lo": curve["lo"].tolist(), "hi": curve["hi"].tolist()}
                for name, curve in curves.items()}

    def scatter_axis(self) -> dict | None:
        """What the scatter plots against the churn risk: {"column", "label", "unit"
        ("money": a month, "months" or ""), "currency"}: the monthly revenue when the data
        has one, else the first numeric segmentation feature, else the first numeric driver,
        else the tenure (None without any)."""
        c = self.core
        if c.analysis is None or c.analysis.segmentation is None:
            return None
        return c.memoised("scatter-axis", None, self._scatter_axis)

    def _scatter_axis(self) -> dict | None:
        c = self.core
        a = c.analysis
        currency = c.words()["currency"]
        if c.has_revenue():
            column = getattr(a.config, "revenue_column", None)
            label = c.driver_label(column) if column else "Monthly revenue"
            return {"column": MONTHLY, "label": label, "unit": "money", "currency": currency}
        customers, numeric = a.customers, set(a.numeric)
        candidates = [f for f in a.segmentation.features if f in numeric]
        candidates += [f for f in driver_columns(a, k=len(a.features)) if f in numeric]
        candidates += [TENURE] if c.has_tenure() else []
        for column in dict.fromkeys(candidates):
            if column == MONTHLY or column not in customers.columns:
                continue
            values = pd.to_numeric(customers[column], errors="coerce")
            if values.nunique(dropna=True) < MIN_SCATTER_VALUES:
                continue
            if column == TENURE:
                return {"column": TENURE, "label": "Tenure", "unit": "months",
                        "currency": currency}
            return {"column": column, "label": c.driver_label(column), "unit": "",
                    "currency": currency}
        return None

    def risk_value_sample(self, filters: dict | None, size: int = 2500) -> dict:
        """A seeded random sample of the selection for the scatter: {"total", "axis" (see
        `scatter_axis`; None: nothing to plot), "points": {"probability", "value",
        "segment", "customer_id"}}."""
        c = self.core
        if c.analysis is None or SEGMENT not in c.analysis.customers.columns:
            return {"points": [], "axis": None, "total": 0}
        axis = self.scatter_axis()
        rows = np.flatnonzero(c.mask(filters))
        total = len(rows)
        if total > size:
            rows = np.sort(np.random.default_rng(0).choice(rows, size, replace=False))
        if axis is None:
            return {"total": int(total), "axis": None, "points": []}
        values = c.analysis.customers[axis["column"]].to_numpy(dtype=float, na_value=np.nan)
        values = values[rows]
        known = np.isfinite(values)
        rows, values = rows[known], values[known]
        names = c.analysis.segmentation.names
        return {"total": int(total), "axis": axis, "points": {
            "probability": c.array(PROBABILITY)[rows].astype(float).round(4).tolist(),
            "value": values.round(2).tolist(),
            "segment": [names[i] for i in c.array(SEGMENT)[rows]],
            "customer_id": c.ids()[rows].tolist()}}


def _fact(fact: dict, money_columns: set[str]) -> dict:
    """A distinguishing fact with JSON-safe numbers; `money` when it is an amount of the
    revenue (the monthly revenue, or a column the config sums into it)."""
    return {**fact, "value": num(fact["value"]), "overall": num(fact["overall"]),
            "money": fact.get("unit") == "money" or fact.get("feature") in money_columns}


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _lower_first(label: str) -> str:
    """'Internet service' -> 'internet service'; 'CLV band' stays."""
    first = label.split(" ", 1)[0]
    return label if first.isupper() and len(first) > 1 else label[:1].lower() + label[1:]


def current() -> SegmentsService:
    return core.current().segments
