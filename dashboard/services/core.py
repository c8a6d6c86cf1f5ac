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
import threading
from collections import OrderedDict
from collections.abc import Callable

import flask
import numpy as np

from analytics.dataset import ACQUISITION, ID, MONTHLY, TENURE
from analytics.drivers import driver_columns, driver_groups
from analytics.errors import ChurnLensError
from analytics.explain import feature_label
from analytics.offers import load_catalogue
from analytics.pipeline import TIER, AnalysisSettings
from analytics.runner import DataSource, load_cached, load_or_train, retier, wait_for_background
from dashboard.ids import EVERYONE, FILTER_DRIVERS, RESERVED_KEYS
from dashboard.ids import SEGMENT as SEGMENT_KEY, TENURE as TENURE_KEY, TIER as TIER_KEY
from dashboard.services.base import PageService  # noqa: F401  (services.core.PageService)
from dashboard.services.checks import lower_priority
from dashboard.services.cube import FIXED_FILTERS, Cube, Dimension, select
from dashboard.services.idle import IDLE
from dashboard.settings import Settings

CONFIG_KEY = "CHURNLENS_SERVICES"
MEMO_SIZE = 128
_MISSING = object()


def _after_first_page() -> None:
    """Where a training's background work (the offers' ranking, a large table's SHAP rows
    after the sample) starts: after `python app.py`'s first page (at once elsewhere),
    yielding the cores to requests."""
    IDLE.wait()
    lower_priority()


def num(value) -> float | None:
    """A JSON-safe float (NaN and infinities become None)."""
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


class Services:
    """The analysis and what every page's service shares; the page services hang off it
    (`overview`, `segments`, `customers`, `customer`, `offers`, `score`, `model`, `data`)."""

    def __init__(self, settings: Settings) -> None:
        from dashboard.services import (behaviour, campaigns, checks, customer, customers, data,
                                        datasets, model, offers, overview, score, segments,
                                        sync, tiers, timeline, trends)
        self.settings = settings
        self.analysis = None
        self.loaded = threading.Event()  # set once `start` has loaded, trained or failed
        self.source: DataSource | None = None
        self.error: str | None = None
        self.from_cache = False
        self.catalogue = self.file_catalogue = None  # with measured acceptance / as written
        self.catalogue_error: str | None = None
        self._memo: OrderedDict[str, object] = OrderedDict()
        self._computing: dict[str, threading.Lock] = {}
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
        self.datasets = datasets.DatasetsService(self)
        self.timeline = timeline.TimelineService(self)
        self.behaviour = behaviour.BehaviourService(self)
        self.campaigns = campaigns.CampaignsService(self)
        self.trends = trends.TrendsService(self)
        self.checks = checks.ChecksService(self)
        self.sync = sync.SyncService(self)  # what one worker changes, all serve

    def analysis_settings(self) -> AnalysisSettings:
        s = self.settings
        return AnalysisSettings(tier_high=s.tier_high, tier_medium=s.tier_medium,
                                margin=s.margin, annual_discount=s.annual_discount,
                                horizon_months=s.horizon_months)

    def start(self, progress: Callable[[str], None] = print, checks: bool = True,
              background: bool = False) -> Services:
        """Load from the cache or train; a data error is kept and shown in the page. The model
        checks then start in the background (`checks=False`: the caller starts them); with
        `background` a training's cache write, the offers' ranking and the data load's
        campaign steps too (`settle` waits for them)."""
        source = DataSource(path=self.settings.data_path, demo_size=self.settings.demo_size,
                            seed=self.settings.seed, as_of=self.settings.as_of,
                            config=self.settings.config_path,
                            demo_events=self.settings.demo_events)
        try:
            self._start(source, progress, checks, background)
        except Exception as exc:  # a bug, not bad data (_start keeps those): said in the page
            self.analysis, self.error = None, f"the data could not be loaded: {exc}"
            raise
        finally:
            self.loaded.set()  # after the error is set: a request waiting on it shows it
        return self

    def _start(self, source: DataSource, progress: Callable[[str], None], checks: bool,
               background: bool) -> None:
        try:
            if self.settings.demo_size < 1:
                raise ChurnLensError("--demo-size must be at least 1")
            self._load_catalogue(progress)
            self.analysis, self.from_cache = load_or_train(
                source, self.analysis_settings(), cache_dir=self.settings.cache_dir,
                progress=progress, catalogue=self.catalogue, salt_from=self.file_catalogue,
                defer=True,  # serve once scored; the model checks complete in the background
                background_write=background, before_background=_after_first_page)
            self.error, self.source = None, source
            self.tiers.restore()
            self.datasets.remember()
            self.campaigns.on_data(progress, background=background)
            if checks:
                self.checks.start()
        except ChurnLensError as exc:
            self.analysis, self.error = None, str(exc)
            progress(f"error: {exc}")

    def settle(self) -> None:
        """Wait for what `start(background=True)` left running (before a fork: a thread
        does not survive one, and its locks would stay taken in the child)."""
        wait_for_background()
        self.campaigns.settle()

    def switch(self, source: DataSource, announce: bool = True) -> str | None:
        """Serve another dataset whose analysis is in the cache (trained by a background
        job, or loaded before), and (`announce`) have every worker follow. The current one
        stays when that fails: returns the reason, else None."""
        try:
            analysis = load_cached(source, self.analysis_settings(), self.settings.cache_dir,
                                   catalogue=self.catalogue, salt_from=self.file_catalogue)
        except ChurnLensError as exc:
            return str(exc)
        if analysis is None:
            return ("this dataset is not in the cache any more (the cache was cleared or the "
                    "settings changed): load the file again and train it")
        self.analysis, self.source, self.error, self.from_cache = analysis, source, None, True
        self._arrays.clear()
        self.invalidate()
        self.tiers.restore()
        self.datasets.remember()
        self.campaigns.on_data(lambda message: print(message, flush=True))
        self.checks.start()
        if announce:
            self.sync.dataset_changed()
        return None

    def source_id(self) -> str | None:
        """A short id of the dataset in service (its data and config fingerprint)."""
        return None if self.source is None else self.source.fingerprint()

    def _load_catalogue(self, progress: Callable[[str], None]) -> None:
        """The catalogue file with measured acceptance rates over it; a broken file is reported."""
        try:
            self.file_catalogue, self.catalogue_error = load_catalogue(
                self.settings.offers_path), None
        except ChurnLensError as exc:
            self.catalogue, self.file_catalogue, self.catalogue_error = None, None, str(exc)
            return progress(f"offers disabled: {exc}")
        self.catalogue = self.campaigns.measured_catalogue(self.file_catalogue, progress)

    def invalidate(self, *columns: str, keep_grid: bool = False) -> None:
        """Drop every memoised view (and the named column arrays) after the analysis changed;
        `keep_grid` keeps the grid's columns and sort orders (the scores did not change)."""
        self._memo.clear()
        for column in columns:
            self._arrays.pop(column, None)
        self.customers.reset(columns=not keep_grid)

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
        """What the global filters offer for this data (built once per analysis):
        {"drivers": [{"key", "label", "options"}, ...] (at most three, keyed by their source
        column), "segment": [...], "tier": [...], "tenure_max": months, or None without a
        tenure}."""
        if self.analysis is not None and "__options" in self._memo:
            return self._memo["__options"]
        options = self._filter_options()
        if self.analysis is not None:
            self._memo["__options"] = options
        return options

    def _filter_options(self) -> dict:
        options: dict = {"drivers": [], SEGMENT_KEY: [], TIER_KEY: [], "tenure_max": None}
        if self.analysis is None:
            return options
        customers = self.analysis.customers
        options["drivers"] = [{"key": column, "label": self.driver_label(column),
                               "options": self.driver_names(column)}
                              for column in self.drivers()]
        for key, column in FIXED_FILTERS.items():
            if column in customers.columns:
                options[key] = [str(c) for c in customers[column].cat.categories]
        if self.has_tenure():
            options["tenure_max"] = max(int(math.ceil(np.nanmax(self.array(TENURE)))), 1)
        return options

    def filter_keys(self) -> list[str]:
        """Every filter key this data knows (the drivers', segment, tier, tenure, everyone)."""
        keys = [*self.drivers(), SEGMENT_KEY, TIER_KEY, EVERYONE]
        return keys + [TENURE_KEY] if self.has_tenure() else keys

    # ----- what this data has -----------------------------------------------------------
    def drivers(self) -> list[str]:
        """The driver columns with a global filter and an Overview chart (at most one per
        filter slot): pinned by the config, else the most important features by SHAP. A
        column named like a reserved filter key (tier, segment, tenure, everyone) is left
        out."""
        if self.analysis is None:
            return []
        if "__drivers" not in self._arrays:
            a = self.analysis
            k = len(FILTER_DRIVERS) + len(set(a.features) & set(RESERVED_KEYS))
            columns = [c for c in driver_columns(a, k=k)
                       if c not in RESERVED_KEYS][:len(FILTER_DRIVERS)]
            self._arrays["__drivers"] = np.array(columns, dtype=object)
        return [str(c) for c in self._arrays["__drivers"]]

    def driver_label(self, column: str) -> str:
        """A driver column as people read it: the config's label, else the name humanised."""
        config = getattr(self.analysis, "config", None)
        action = config.actionable_for(column) if config is not None else None
        return action.label if action is not None and action.label else feature_label(
            column, self.analysis.feature_meta() if self.analysis is not None else None)

    def driver_codes(self, column: str) -> np.ndarray:
        """Each customer's group of a driver column (bands of a numeric one) as codes,
        computed once per analysis; -1 where the value is missing."""
        self._driver_groups(column)
        return self._arrays["__group-codes:" + column]

    def driver_names(self, column: str) -> list[str]:
        """The group names of a driver column, in code order."""
        self._driver_groups(column)
        return list(self._arrays["__group-names:" + column])

    def _driver_groups(self, column: str) -> None:
        if "__group-codes:" + column not in self._arrays:
            groups = driver_groups(self.analysis.customers[column])
            self._arrays["__group-names:" + column] = np.array(
                [str(g) for g in groups.categories], dtype=object)
            self._arrays["__group-codes:" + column] = np.asarray(groups.codes)

    def has_tenure(self) -> bool:
        """Whether the data has a tenure (the slider, the tenure-band chart)."""
        return self._has_values(TENURE)

    def has_revenue(self) -> bool:
        """Whether the data has a monthly revenue (ARPU, CLV, revenue at risk)."""
        return self._has_values(MONTHLY)

    def has_acquisition_cost(self) -> bool:
        """Whether the data or the config gives what winning each customer cost."""
        return self._has_values(ACQUISITION)

    def _has_values(self, column: str) -> bool:
        if self.analysis is None or column not in self.analysis.customers.columns:
            return False
        if "__has:" + column not in self._arrays:
            finite = np.isfinite(self.array(column).astype(float)).any()
            self._arrays["__has:" + column] = np.array(bool(finite))
        return bool(self._arrays["__has:" + column])

    def words(self) -> dict[str, str]:
        """What this business calls a customer, and its currency symbol (from the config):
        {"customer": "account", "customers": "accounts", "currency": "€"}."""
        config = getattr(self.analysis, "config", None)
        word = (getattr(config, "customer_word", "") or "customer").strip() or "customer"
        plural = word[:-1] + "ies" if word.endswith("y") and word[-2:-1] not in "aeiou" \
            else word if word.endswith("s") else word + "s"
        return {"customer": word, "customers": plural,
                "currency": getattr(config, "currency", "") or "$"}

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

    def dimensions(self) -> dict[str, Dimension]:
        """The global filters' dimensions: each driver's groups, the tier and the segment."""
        out = {c: Dimension(c, self.driver_codes(c), self.driver_names(c))
               for c in self.drivers()}
        frame = self.analysis.customers
        for key, column in FIXED_FILTERS.items():
            if column in frame.columns:
                out[key] = Dimension(key, self.array(column),
                                     [str(v) for v in frame[column].cat.categories])
        return out

    def mask(self, filters: dict | None) -> np.ndarray:
        """Boolean row mask of the customers the global filters select."""
        filters = self.customers.check_filters(filters) or {}
        return select(filters, len(self.analysis.customers), self.dimensions(),
                      (lambda: self.array(TENURE)) if self.has_tenure() else None)

    def cube(self, filters: dict | None = None) -> Cube:
        """The Overview's sums per cell of the filters (by tenure value too when `filters`
        use the tenure slider), built once per analysis and tier cut-off."""
        by_tenure = bool((filters or {}).get(TENURE_KEY)) and self.has_tenure()
        return self.memoised("__cube", {"by_tenure": by_tenure},
                             lambda: Cube(self, by_tenure))

    def count(self, filters: dict | None) -> int:
        """How many customers the global filters select."""
        filters = self.customers.check_filters(filters) or {}
        cube = self.cube(filters)
        return int(cube.n[cube.keep(filters)].sum())

    def memoised(self, kind: str, filters: dict | None, compute: Callable[[], object]):
        """A view of the selection from the per-process LRU memo, computed when missing."""
        key = kind + ":" + json.dumps(filters or {}, sort_keys=True)
        if key in self._memo:
            self._memo.move_to_end(key)
            return self._memo[key]
        # One computation per view: a request that asks while another computes it waits.
        with self._computing.setdefault(key, threading.Lock()):
            result = self._memo.get(key, _MISSING)
            if result is _MISSING:
                result = self._memo[key] = compute()
                if len(self._memo) > MEMO_SIZE:
                    self._memo.popitem(last=False)
            self._computing.pop(key, None)
            return result


def current() -> Services:
    """The running app's services (callbacks run inside a Flask app context)."""
    return flask.current_app.config[CONFIG_KEY]
