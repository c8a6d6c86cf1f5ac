"""The one UI-side module that calls analytics: load or train, filter, aggregate, shape JSON.

One `Services` object per app (kept in the Flask config, never at module level). Callbacks
call `current()` to reach it; everything returned is small and JSON-safe: the browser gets
what it draws, never the customer table.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from collections.abc import Callable

import flask
import numpy as np

from analytics import kpis
from analytics.dataset import ACTIVE, CHURN, ID, MONTHLY, TENURE
from analytics.errors import ChurnLensError
from analytics.pipeline import CLV, PROBABILITY, TENURE_BAND, TIER, AnalysisSettings
from analytics.runner import DataSource, load_or_train
from dashboard.ids import DROPDOWN_FILTERS
from dashboard.settings import Settings

CONFIG_KEY = "CHURNLENS_SERVICES"
DRIVER_COLUMNS = (("Contract", "Contract"), (TENURE_BAND, "Tenure band"),
                  ("InternetService", "Internet service"), ("PaymentMethod", "Payment method"))
MEMO_SIZE = 128


def _num(value) -> float | None:
    """A JSON-safe float (NaN becomes None)."""
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


class Services:
    """The loaded analysis (or the error that stopped it) and the queries pages make of it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.analysis = None
        self.error: str | None = None
        self.from_cache = False
        self._memo: OrderedDict[str, dict] = OrderedDict()
        self._arrays: dict[str, np.ndarray] = {}

    def analysis_settings(self) -> AnalysisSettings:
        s = self.settings
        return AnalysisSettings(tier_high=s.tier_high, tier_medium=s.tier_medium,
                                margin=s.margin, annual_discount=s.annual_discount,
                                horizon_months=s.horizon_months)

    def start(self, progress: Callable[[str], None] = print) -> Services:
        """Load from the cache or train; a data error is kept and shown in the page."""
        source = DataSource(path=self.settings.data_path, demo_size=self.settings.demo_size,
                            seed=self.settings.seed, as_of=self.settings.as_of)
        try:
            if self.settings.demo_size < 1:
                raise ChurnLensError("--demo-size must be at least 1")
            self.analysis, self.from_cache = load_or_train(
                source, self.analysis_settings(), cache_dir=self.settings.cache_dir,
                progress=progress)
            self.error = None
        except ChurnLensError as exc:
            self.analysis, self.error = None, str(exc)
            progress(f"error: {exc}")
        return self

    # ----- app-wide facts -------------------------------------------------------------
    def status(self) -> dict:
        """Where the data came from, warnings and errors, for the shell's banner."""
        if self.analysis is None:
            return {"ok": False, "error": self.error or "No data loaded.", "leakage": []}
        a = self.analysis
        return {"ok": True, "error": None, "source": a.source, "n": int(len(a.customers)),
                "as_of": a.as_of, "extraction_date": a.extraction_date,
                "from_cache": self.from_cache, "leakage": a.leakage,
                "roc_auc": a.cv.overall["catboost"]["roc_auc"]}

    def filter_options(self) -> dict:
        """Choices for each global filter (only the columns this data has) and tenure range."""
        options: dict = {key: [] for key in DROPDOWN_FILTERS}
        options["tenure_max"] = 72
        if self.analysis is None:
            return options
        customers = self.analysis.customers
        for key, (_, column) in DROPDOWN_FILTERS.items():
            if column in customers.columns:
                options[key] = [str(c) for c in customers[column].cat.categories]
        options["tenure_max"] = int(math.ceil(customers[TENURE].max()))
        return options

    # ----- queries ----------------------------------------------------------------------
    def array(self, column: str) -> np.ndarray:
        """A column as a plain numpy array (category codes for categorical columns), kept
        for the life of this object: filtering 1M rows on int8 codes takes milliseconds."""
        if column not in self._arrays:
            series = self.analysis.customers[column]
            if hasattr(series, "cat"):
                self._arrays[column] = series.cat.codes.to_numpy()
            else:
                self._arrays[column] = series.to_numpy()
        return self._arrays[column]

    def codes_of(self, column: str, values) -> list[int]:
        categories = self.analysis.customers[column].cat.categories
        return [int(categories.get_loc(v)) for v in values if v in categories]

    def mask(self, filters: dict | None) -> np.ndarray:
        """Boolean row mask of the customers the global filters select."""
        customers = self.analysis.customers
        keep = np.ones(len(customers), dtype=bool)
        filters = filters or {}
        for key, (_, column) in DROPDOWN_FILTERS.items():
            values = filters.get(key)
            if values and column in customers.columns:
                # Lookup table on the codes (np.isin is ~5x slower); code -1 (missing) hits
                # the table's last slot, which stays False.
                table = np.zeros(len(customers[column].cat.categories) + 1, dtype=bool)
                table[self.codes_of(column, values)] = True
                keep &= table[self.array(column)]
        tenure = filters.get("tenure")
        if tenure:
            t = self.array(TENURE)
            keep &= (t >= float(tenure[0])) & (t <= float(tenure[1]))
        return keep

    def overview(self, filters: dict | None) -> dict:
        """KPIs, churn rate by driver with 95% intervals, and the risk-tier mix of a selection."""
        if self.analysis is None:
            return {"n": 0, "error": self.error}
        key = json.dumps(filters or {}, sort_keys=True)
        if key in self._memo:
            self._memo.move_to_end(key)
            return self._memo[key]
        result = self._overview(self.mask(filters))
        self._memo[key] = result
        if len(self._memo) > MEMO_SIZE:
            self._memo.popitem(last=False)
        return result

    def _overview(self, keep: np.ndarray) -> dict:
        c = self.analysis.customers
        rows = slice(None) if keep.all() else np.flatnonzero(keep)
        churn = self.array(CHURN)[rows]
        active = self.array(ACTIVE)[rows]
        monthly = self.array(MONTHLY)[rows]
        proba = self.array(PROBABILITY)[rows]
        tiers = self.array(TIER)[rows]
        n = len(churn)
        out = {"n": n, "n_total": int(len(c)), "error": None}
        out["kpis"] = {
            "customers": n,
            "churned": int(churn.sum()),
            "churn_rate": _num(kpis.churn_rate(churn)),
            "retention_rate": _num(kpis.retention_rate(churn)),
            "arpu": _num(kpis.arpu(monthly, active)),
            "clv": _num(np.mean(self.array(CLV)[rows][active])) if active.any() else None,
            "revenue_at_risk": _num(kpis.revenue_at_risk(proba, monthly, active)),
            "active": int(active.sum()),
            "high_risk_active": int(((tiers == self.codes_of(TIER, ["High"])[0]) & active).sum()),
        }
        out["drivers"] = {}
        for column, title in DRIVER_COLUMNS:
            if column in c.columns:
                out["drivers"][column] = {"title": title,
                                          "rows": self._rates_by(column, rows, churn)}
        counts = np.bincount(tiers, minlength=len(kpis.TIERS))
        out["tiers"] = [{"tier": t, "n": int(counts[i]),
                         "share": _num(counts[i] / n) if n else None}
                        for i, t in enumerate(kpis.TIERS)]
        return out

    def _rates_by(self, column: str, rows: np.ndarray, churn: np.ndarray) -> list[dict]:
        series = self.analysis.customers[column]
        codes = self.array(column)[rows]
        size = len(series.cat.categories)
        n = np.bincount(codes, minlength=size)
        churned = np.bincount(codes, weights=churn, minlength=size)
        rows = []
        for i, group in enumerate(series.cat.categories):
            lo, hi = kpis.wilson_interval(int(churned[i]), int(n[i]))
            rows.append({"group": str(group), "n": int(n[i]), "churned": int(churned[i]),
                         "rate": _num(churned[i] / n[i]) if n[i] else None,
                         "lo": _num(lo), "hi": _num(hi)})
        return rows

    def evaluation(self) -> dict | None:
        """The model's out-of-fold metrics and data-quality report (for the Data page)."""
        if self.analysis is None:
            return None
        result = self.analysis.evaluation()
        result["quality"] = self.analysis.quality
        result["train_rows"] = self.analysis.train_rows
        result["settings"] = self.analysis.settings.as_dict()
        result["hazard"] = self.analysis.hazard
        result["features"] = {"categorical": self.analysis.categorical,
                              "numeric": self.analysis.numeric}
        result["extraction_date"] = self.analysis.extraction_date
        return result

    def customer_count(self) -> int:
        return 0 if self.analysis is None else int(len(self.analysis.customers))


def current() -> Services:
    """The running app's services (callbacks run inside a Flask app context)."""
    return flask.current_app.config[CONFIG_KEY]


__all__ = ["ID", "Services", "current"]
