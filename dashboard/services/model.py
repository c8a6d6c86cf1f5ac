"""The Model page's queries: out-of-fold curves and metrics, threshold and cost, SHAP
importance, beeswarm and dependence, churn by feature, drift of a refreshed file."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.dataset import ACTIVE, CHURN
from analytics.errors import ChurnLensError
from analytics.evaluation import (churn_by_bins, confusion, cost_curve, deciles, pr_points,
                                  roc_points, threshold_for_recall)
from analytics.explain import feature_label, probability_points
from analytics.pipeline import CLV, PROBABILITY
from analytics.recommend import COST, PROFIT
from analytics.runner import compare_file
from dashboard.services import core
from dashboard.services.core import num


class ModelService(core.PageService):
    def __init__(self, core_: core.Services) -> None:
        super().__init__(core_)
        self._points: tuple[np.ndarray, np.ndarray] | None = None  # SHAP points, a sample

    def reset(self) -> None:
        self._points = None

    def view(self) -> dict | None:
        """Out-of-fold curves of every model, reliability before/after calibration, deciles,
        metrics, SHAP importance and the data-quality panel (computed once)."""
        if self.core.analysis is None:
            return None
        return self.core.memoised("model_view", None, self._view)

    def _view(self) -> dict:
        c = self.core
        a = c.analysis
        cv = a.cv
        y = cv.y
        p = cv.oof["catboost"]
        summary = cv.summary()
        customers = a.customers
        active = c.array(ACTIVE).astype(bool)
        clv = c.array(CLV).astype(float)
        quality = dict(a.quality)
        labelled = customers[CHURN].to_numpy()
        missing = {f: int(customers[f].isna().sum()) for f in a.features}
        return {
            "models": {name: {"roc": roc_points(y, cv.oof[name]),
                              "pr": pr_points(y, cv.oof[name]),
                              "metrics": summary[name]} for name in cv.oof},
            "calibration": a.calibration,
            "deciles": deciles(y, p),
            # The highest threshold that catches at least this share of churners.
            "recall_presets": {str(r): threshold_for_recall(y, p, r)
                               for r in (0.6, 0.7, 0.8, 0.9)},
            # Two different baselines: the share of labelled customers who churned, and
            # the served model's average out-of-fold score over the same customers.
            "cv": {"rows": cv.n_rows, "folds": cv.n_splits, "sampled": cv.sampled,
                   "threshold": cv.threshold, "observed_rate": float(np.mean(y)),
                   "mean_score": float(np.mean(p))},
            "leakage": a.leakage,
            "backtest": a.backtest,
            "importance": self._shap_importance(),
            # how many customers the importance is the mean over (a seeded sample above 200k)
            "importance_of": {"rows": len(self._points_sample()[0]), "of": len(a.customers)},
            "defaults": self._cost_defaults(clv, active),
            "quality": {**quality, "class_balance": {"churned": int(labelled.sum()),
                                                     "stayed": int(len(labelled)
                                                                   - labelled.sum())},
                        "missing_by_column": missing},
        }

    def _cost_defaults(self, clv: np.ndarray, active: np.ndarray) -> dict:
        """Starting costs of the cost curve: a missed churner costs the mean CLV of active
        customers; without a CLV (no revenue or no tenure) a stated placeholder of 20 false
        alarms, for the analyst to replace."""
        alarm = self._false_alarm_cost()
        known = active & np.isfinite(clv)
        out = {"false_alarm_cost": alarm, "tier_high": self.core.analysis.settings.tier_high,
               "missed_cost": num(np.mean(clv[known])) if known.any() else None,
               "missed_note": None}
        if out["missed_cost"] is None:
            out["missed_cost"] = 20 * alarm
            out["missed_note"] = ("This data has no lifetime value (it needs a revenue column), "
                                  "so the cost of a missed churner is a placeholder: 20 false "
                                  "alarms. Enter what losing one costs you.")
        return out

    def _false_alarm_cost(self) -> float:
        """Contact cost + the mean cost of the offers recommended (what a wasted contact
        costs); the contact cost alone without a catalogue."""
        c = self.core
        if c.catalogue is None or c.analysis.recommendations is None:
            return 5.0
        recs = c.analysis.recommendations
        paid = recs[PROFIT].to_numpy(dtype=float) > 0
        mean_offer = float(recs[COST].to_numpy(dtype=float)[paid].mean()) if paid.any() else 0.0
        return round(c.catalogue.contact_cost + mean_offer, 2)

    def _shap_importance(self) -> list[dict]:
        """Mean |SHAP| per feature in probability points (on up to 200k customers)."""
        a = self.core.analysis
        points = self._points_sample()[1]
        mean_abs = np.abs(points).mean(axis=0)
        order = np.argsort(-mean_abs)
        meta = a.feature_meta()
        return [{"feature": a.features[j], "label": feature_label(a.features[j], meta),
                 "value": float(mean_abs[j]),
                 "table": meta[a.features[j]].table if a.features[j] in meta else None}
                for j in order]

    def _points_sample(self, size: int = 200_000) -> tuple[np.ndarray, np.ndarray]:
        """(rows, SHAP in probability points) for a seeded sample of customers."""
        if self._points is None:
            a = self.core.analysis
            n = len(a.customers)
            rows = np.arange(n) if n <= size else np.sort(
                np.random.default_rng(0).choice(n, size, replace=False))
            self._points = (rows, probability_points(a.shap_values[rows], a.shap_base[rows]))
        return self._points

    def checks_status(self) -> dict:
        """The model checks still computed in the background (dashboard/services/checks.py)."""
        return self.core.checks.status()

    def behaviour_check(self) -> dict | None:
        """The model cross-validated with and without the behaviour features (None for data
        without event tables): {"lift" (analytics/lift.py's result, or None when it did not
        run), "tables": the tables the model's behaviour features come from}."""
        b = getattr(self.core.analysis, "behaviour", None)
        if b is None:
            return None
        used = set(self.core.analysis.features)
        tables = list(dict.fromkeys(m.table for f, m in b.meta.items() if f in used))
        return {"lift": dict(b.lift) if b.lift else None, "tables": tables}

    def threshold_view(self, threshold: float, missed_cost: float | None = None,
                       false_alarm_cost: float | None = None) -> dict:
        """Confusion matrix (out-of-fold) at a threshold, customers it would flag today, and
        the cost curve with its cheapest threshold."""
        c = self.core
        a = c.analysis
        y, p = a.cv.y, a.cv.oof["catboost"]
        defaults = self.view()["defaults"]
        missed = defaults["missed_cost"] if missed_cost is None else float(missed_cost)
        alarm = defaults["false_alarm_cost"] if false_alarm_cost is None \
            else float(false_alarm_cost)
        active = c.array(ACTIVE).astype(bool)
        proba = c.array(PROBABILITY)
        return {"confusion": confusion(y, p, threshold),
                "flagged_active": int((active & (proba >= threshold)).sum()),
                "active": int(active.sum()),
                "cost": cost_curve(y, p, missed, alarm)}

    def beeswarm(self, top: int = 10, size: int = 500) -> dict:
        """SHAP points of the top features for a seeded sample of customers, with each
        value's position in its feature's range (0-1) for the colour. A few hundred dots a
        row show the spread; more only cost bytes and drawing time in the browser."""
        a = self.core.analysis
        rows, points = self._points_sample()
        pick = np.sort(np.random.default_rng(1).choice(len(rows), min(size, len(rows)),
                                                       replace=False))
        frame = a.customers.iloc[rows[pick]]
        features = [item["feature"] for item in self.view()["importance"][:top]]
        out = []
        for feature in features:
            j = a.features.index(feature)
            series = frame[feature]
            if feature in a.categorical:
                codes = series.cat.codes.to_numpy().astype(float)
                colour = codes / max(len(series.cat.categories) - 1, 1)
                text = series.astype(str).tolist()
            else:
                v = series.to_numpy(dtype=float)
                colour = pd.Series(v).rank(pct=True).to_numpy()
                text = [f"{x:,.4g}" for x in v]
            out.append({"feature": feature, "label": feature_label(feature, self.core.analysis.feature_meta()),
                        "points": points[pick, j].astype(float).round(3).tolist(),
                        "colour": np.nan_to_num(colour, nan=0.5).round(3).tolist(),
                        "text": text})
        return {"features": out, "n": int(len(pick))}

    def dependence(self, feature: str, colour_by: str | None, size: int = 800) -> dict:
        """One feature's value against its SHAP points, coloured by a second feature."""
        a = self.core.analysis
        rows, points = self._points_sample()
        pick = np.sort(np.random.default_rng(2).choice(len(rows), min(size, len(rows)),
                                                       replace=False))
        frame = a.customers.iloc[rows[pick]]
        j = a.features.index(feature)
        out = {"feature": feature, "label": feature_label(feature, self.core.analysis.feature_meta()),
               "categorical": feature in a.categorical,
               "x": (frame[feature].astype(str).tolist() if feature in a.categorical
                     else frame[feature].to_numpy(dtype=float).round(3).tolist()),
               "y": points[pick, j].astype(float).round(3).tolist(), "colour": None}
        if colour_by and colour_by in a.features:
            series = frame[colour_by]
            out["colour_label"] = feature_label(colour_by, self.core.analysis.feature_meta())
            if colour_by in a.categorical:
                out["colour"] = series.astype(str).tolist()
                out["colour_categorical"] = True
            else:
                out["colour"] = series.to_numpy(dtype=float).round(3).tolist()
                out["colour_categorical"] = False
        return out

    def churn_by_feature(self, feature: str) -> list[dict]:
        """Churn rate with 95% intervals by decile (or category) of one feature, over the
        labelled customers."""
        a = self.core.analysis
        return churn_by_bins(a.customers[feature], a.customers[CHURN].to_numpy(),
                             categorical=feature in a.categorical)

    def feature_choices(self) -> list[dict]:
        meta = self.core.analysis.feature_meta()
        return [{"label": feature_label(f, meta), "value": f} for f in self.core.analysis.features]

    def drift(self) -> dict:
        """PSI of each feature: the refreshed file (--compare) scored by the current model
        against the data the model was trained on."""
        c = self.core
        if not c.settings.compare_path:
            return {"available": False}
        try:
            return c.memoised("drift", None, lambda: {"available": True, "error": None,
                                                      **compare_file(c.analysis,
                                                                     c.settings.compare_path,
                                                                     c.settings.as_of)})
        except ChurnLensError as exc:
            return {"available": True, "error": str(exc)}


def current() -> ModelService:
    return core.current().model
