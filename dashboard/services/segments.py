"""The Segments page's queries: segment profiles of a selection, survival, revenue vs risk."""

from __future__ import annotations

import numpy as np

from analytics import kpis
from analytics import segments as segmenting
from analytics.dataset import ACTIVE, CHURN, DURATION, MONTHLY, TENURE
from analytics.pipeline import CLV, PROBABILITY, SEGMENT, TIER
from analytics.survival import km_by_group
from dashboard.services import core
from dashboard.services.core import num


# Columns the retention curves can be split by, when the data has them.
CURVE_GROUPINGS = (("Contract", "contract"),)


class SegmentsService(core.PageService):

    def curve_options(self) -> list[dict]:
        """The groupings the retention chart offers: by segment, by each grouping column this
        data has (the contract, for the Telco layouts), or all customers together."""
        a = self.core.analysis
        options = [{"label": "by segment", "value": SEGMENT}]
        columns = a.customers.columns if a is not None else ()
        options += [{"label": f"by {label}", "value": column}
                    for column, label in CURVE_GROUPINGS if column in columns]
        return options + [{"label": "all customers", "value": "all"}]

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
        keep = c.mask(filters)
        rows = slice(None) if keep.all() else np.flatnonzero(keep)
        seg = c.array(SEGMENT)[rows]
        churn = c.array(CHURN)[rows].astype(float)
        active = c.array(ACTIVE)[rows].astype(float)
        monthly = c.array(MONTHLY)[rows].astype(float)
        proba = c.array(PROBABILITY)[rows].astype(float)
        tenure = c.array(TENURE)[rows].astype(float)
        clv = c.array(CLV)[rows].astype(float)
        known_clv = active * np.isfinite(clv)  # churners carry no CLV (NaN)
        clv = np.nan_to_num(clv)
        k = len(a.segmentation.names)

        def per(weights):
            return np.bincount(seg, weights=weights, minlength=k)

        count, churned, n_active, n_clv = per(None), per(churn), per(active), per(known_clv)
        static = a.segment_profiles.set_index("name")
        segments = []
        for i, name in enumerate(a.segmentation.names):
            lo, hi = kpis.wilson_interval(int(churned[i]), int(count[i]))
            act = n_active[i]
            segments.append({
                "name": name, "n": int(count[i]), "churned": int(churned[i]),
                "share": num(count[i] / max(len(churn), 1)),
                "rate": num(churned[i] / count[i]) if count[i] else None,
                "lo": num(lo), "hi": num(hi), "group": name,
                "active": int(act),
                "arpu": num(per(monthly * active)[i] / act) if act else None,
                "clv": num(per(clv * known_clv)[i] / n_clv[i]) if n_clv[i] else None,
                "monthly_revenue": num(per(monthly * active)[i]),
                "revenue_at_risk": num(per(proba * monthly * active)[i]),
                "mean_risk": num(per(proba)[i] / count[i]) if count[i] else None,
                "tenure": num(per(tenure)[i] / count[i]) if count[i] else None,
                "outliers": int(static.loc[name, "outliers"]),
                "rule": a.segmentation.rules[i],
                "apart": [_fact(f) for f in static.loc[name, "distinguishing"]],
            })
        tiers = c.array(TIER)[rows]
        heat = np.zeros((k, len(kpis.TIERS)), dtype=int)
        np.add.at(heat, (seg, tiers), 1)
        heat_churned = np.zeros((k, len(kpis.TIERS)), dtype=float)
        np.add.at(heat_churned, (seg, tiers), churn)
        heat_active = np.zeros((k, len(kpis.TIERS)), dtype=float)
        np.add.at(heat_active, (seg, tiers), active)
        n, n_act = len(churn), float(active.sum())
        return {
            "error": None, "segments": segments, "k": a.segmentation.k,
            "overall": {"n": int(n), "rate": num(churn.mean()) if n else None,
                        "arpu": num((monthly * active).sum() / n_act) if n_act else None,
                        "tenure": num(tenure.mean()) if n else None,
                        "mean_risk": num(proba.mean()) if n else None},
            "silhouette": {int(x): num(v) for x, v in a.segmentation.silhouette.items()},
            "inertia": {int(x): num(v) for x, v in a.segmentation.inertia.items()},
            "heat": {"segments": list(a.segmentation.names), "tiers": list(kpis.TIERS),
                     "counts": heat.tolist(), "churned": heat_churned.astype(int).tolist(),
                     "active": heat_active.astype(int).tolist()},
            "pareto": num(a.pareto_top20) if a.pareto_top20 is not None else None,
            "clv_settings": {"margin": a.settings.margin,
                             "annual_discount": a.settings.annual_discount,
                             "horizon_months": a.settings.horizon_months},
            "sampled": bool(a.segmentation.sampled),
            "method": self._method(),
        }

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
        """Kaplan-Meier retention of the selection, by a column or ('all') overall."""
        c = self.core
        if c.analysis is None or (by != "all" and by not in c.analysis.customers.columns):
            return {}
        keep = c.mask(filters)
        if not keep.any():
            return {}
        frame = c.analysis.customers
        groups = (np.full(int(keep.sum()), "All customers", dtype=object) if by == "all"
                  else frame[by].astype(str).to_numpy()[keep])
        curves = km_by_group(frame[DURATION].to_numpy()[keep], frame[CHURN].to_numpy()[keep],
                             groups, min_size=30)
        return {name: {"month": curve["month"].tolist(), "survival": curve["survival"].tolist(),
                       "lo": curve["lo"].tolist(), "hi": curve["hi"].tolist()}
                for name, curve in curves.items()}

    def risk_value_sample(self, filters: dict | None, size: int = 2500) -> dict:
        """A seeded random sample of the selection for the revenue-vs-risk scatter."""
        c = self.core
        if c.analysis is None or SEGMENT not in c.analysis.customers.columns:
            return {"points": []}
        rows = np.flatnonzero(c.mask(filters))
        total = len(rows)
        if total > size:
            rows = np.sort(np.random.default_rng(0).choice(rows, size, replace=False))
        names = c.analysis.segmentation.names
        return {"total": int(total), "points": {
            "probability": c.array(PROBABILITY)[rows].astype(float).round(4).tolist(),
            "monthly": c.array(MONTHLY)[rows].astype(float).round(2).tolist(),
            "segment": [names[i] for i in c.array(SEGMENT)[rows]],
            "customer_id": c.ids()[rows].tolist()}}


def _fact(fact: dict) -> dict:
    """A distinguishing fact with JSON-safe numbers."""
    return {**fact, "value": num(fact["value"]), "overall": num(fact["overall"])}


def current() -> SegmentsService:
    return core.current().segments
