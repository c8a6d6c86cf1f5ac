"""The shared handle: the loaded analysis (or the error that stopped it), the offer
catalogue, and the per-process caches every page's service reads (column arrays, the global
filter mask, a small LRU memo).

One `Services` object per app (kept in the Flask config, never at module level). Each page
has its own small service (`dashboard/services/<page>.py`) over this handle; `current()` is
the one way in from a callback. Everything a service returns is small and JSON-safe: the
browser gets what it draws, never the customer table.
"""

from __future__ import annotations

import json
import math
import os
from collections import OrderedDict
from collections.abc import Callable

from urllib.parse import quote

import flask
import numpy as np


from analytics.dataset import ID, TENURE
from analytics.errors import ChurnLensError
from analytics.offers import load_catalogue
from analytics.pipeline import TIER, AnalysisSettings
from analytics.runner import DataSource, load_or_train, retier
from dashboard.ids import DROPDOWN_FILTERS
from dashboard.settings import Settings

CONFIG_KEY = "CHURNLENS_SERVICES"
MEMO_SIZE = 128


def num(value) -> float | None:
    """A JSON-safe float (NaN and infinities become None)."""
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


class Services:
    """The analysis and what every page's service shares; the page services hang off it
    (`overview`, `segments`, `customers`, `customer`, `offers`, `score`, `model`, `data`)."""

    def __init__(self, settings: Settings) -> None:
        from dashboard.services import (customer, customers, data, model, offers, overview,
                                        score, segments, tiers)
        self.settings = settings
        self.analysis = None
        self.error: str | None = None
        self.from_cache = False
        self.catalogue = None
        self.catalogue_error: str | None = None
        self._memo: OrderedDict[str, object] = OrderedDict()
        self._arrays: dict[str, np.ndarray] = {}
        self.overview = overview.OverviewService(self)
        self.segments = segments.SegmentsService(self)
        self.customers = customers.CustomersService(self)
        self.customer = customer.CustomerService(self)
        self.offers = offers.OffersService(self)
        self.score = score.ScoreService(self)
        self.model = model.ModelService(self)
        self.data = data.DataService(self)
        self.tiers = tiers.TierService(self)

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
            self._load_catalogue(progress)
            self.analysis, self.from_cache = load_or_train(
                source, self.analysis_settings(), cache_dir=self.settings.cache_dir,
                progress=progress, catalogue=self.catalogue)
            self.error = None
            self.tiers.restore()
        except ChurnLensError as exc:
            self.analysis, self.error = None, str(exc)
            progress(f"error: {exc}")
        return self

    def _load_catalogue(self, progress: Callable[[str], None]) -> None:
        """The offer catalogue; a broken file is reported and offers are left out."""
        try:
            self.catalogue = load_catalogue(self.settings.offers_path)
            self.catalogue_error = None
        except ChurnLensError as exc:
            self.catalogue, self.catalogue_error = None, str(exc)
            progress(f"offers disabled: {exc}")

    def invalidate(self, *columns: str) -> None:
        """Drop every memoised view (and the named column arrays) after the analysis changed."""
        self._memo.clear()
        for column in columns:
            self._arrays.pop(column, None)
        self.customers.reset()

    def set_tier_high(self, threshold: float, medium: float | None = None) -> None:
        """Make `threshold` the High-tier cut-off (tiers recomputed; every memoised view is
        dropped). Medium stays where it was unless that is not below the new cut-off, then
        it becomes half of it. ValueError (nothing changed) unless 0 <= medium < high <= 1."""
        a = self.analysis
        if medium is None:
            medium = (a.settings.tier_medium if a.settings.tier_medium < threshold
                      else round(threshold / 2, 4))
        retier(a, float(threshold), float(medium))
        self.invalidate(TIER)

    # ----- app-wide facts -------------------------------------------------------------
    def status(self) -> dict:
        """Where the data came from, warnings and errors, for the shell's banner."""
        if self.analysis is None:
            return {"ok": False, "error": self.error or "No data loaded.", "leakage": []}
        a = self.analysis
        return {"ok": True, "error": None, "source": self.source_name(),
                "n": int(len(a.customers)),
                "as_of": a.as_of, "extraction_date": a.extraction_date,
                "from_cache": self.from_cache, "leakage": a.leakage,
                "offers_error": self.catalogue_error,
                "roc_auc": a.cv.overall["catboost"]["roc_auc"]}

    def filter_options(self) -> dict:
        """Choices for each global filter (only the columns this data has) and tenure range
        (built once per analysis)."""
        if self.analysis is not None and "__options" in self._memo:
            return self._memo["__options"]
        options = self._filter_options()
        if self.analysis is not None:
            self._memo["__options"] = options
        return options

    def _filter_options(self) -> dict:
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

    def source_name(self) -> str:
        """The data's name for pages and files: a file or folder name, never a server path."""
        if self.analysis is None:
            return ""
        source = str(self.analysis.source)
        return os.path.basename(source.rstrip("/\\")) if os.sep in source or "/" in source \
            else source

    def customer_count(self) -> int:
        return 0 if self.analysis is None else int(len(self.analysis.customers))

    # ----- shared queries -------------------------------------------------------------
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

    def ids(self) -> np.ndarray:
        """Customer ids as an object array of strings (built once)."""
        if "__ids" not in self._arrays:
            self._arrays["__ids"] = self.analysis.customers[ID].astype(str).to_numpy(
                dtype=object)
        return self._arrays["__ids"]

    def codes_of(self, column: str, values) -> list[int]:
        categories = self.analysis.customers[column].cat.categories
        return [int(categories.get_loc(v)) for v in values if v in categories]

    def mask(self, filters: dict | None) -> np.ndarray:
        """Boolean row mask of the customers the global filters select."""
        customers = self.analysis.customers
        keep = np.ones(len(customers), dtype=bool)
        filters = self.customers.check_filters(filters) or {}
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

    def memoised(self, kind: str, filters: dict | None, compute: Callable[[], object]):
        """A view of the selection from the per-process LRU memo, computed when missing."""
        key = kind + ":" + json.dumps(filters or {}, sort_keys=True)
        if key in self._memo:
            self._memo.move_to_end(key)
            return self._memo[key]
        result = self._memo[key] = compute()
        if len(self._memo) > MEMO_SIZE:
            self._memo.popitem(last=False)
        return result


class PageService:
    """What every page's service shares: the handle and its analysis, catalogue and error."""

    def __init__(self, core_: Services) -> None:
        self.core = core_

    @property
    def analysis(self):
        return self.core.analysis

    @property
    def catalogue(self):
        return self.core.catalogue

    @property
    def error(self) -> str | None:
        return self.core.error


def export_href(fmt: str, filters: dict | None, filter_model: dict | None,
                sort_model: list | None, campaign: dict | None = None) -> str:
    """The link that downloads the current list (served by dashboard/downloads.py); with
    `campaign` ({"capacity": n or None}) the campaign list instead."""
    state = {"filters": filters or {}, "filterModel": filter_model or {},
             "sortModel": sort_model or []}
    if campaign is not None:
        state["campaign"] = campaign
    state = json.dumps(state, separators=(",", ":"))
    return f"/export/{fmt}?state={quote(state)}"


def current() -> Services:
    """The running app's services (callbacks run inside a Flask app context)."""
    return flask.current_app.config[CONFIG_KEY]
