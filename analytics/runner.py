"""Load-or-train: the cached path shared by the CLI and the dashboard.

The cache key is the data fingerprint + the analysis settings + the package version, so a
warm start of the same data loads the model, scores and SHAP values without training.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from analytics import __version__, kpis
from analytics.backtest import out_of_time_backtest
from analytics.errors import DataError
from analytics.evaluation import drift_table
from analytics.loaders import fingerprint, load_path
from analytics.memory import release
from analytics.model import Progress
from analytics.offers import Catalogue
from analytics.pipeline import (PROBABILITY, TIER, AnalysisSettings, ChurnAnalysis, analyse,
                                apply_completion, complete)
from analytics.recommend import catalogue_fingerprint, recommend
from analytics.store import ArtifactStore, make_key


@dataclass(frozen=True)
class DataSource:
    """Where the customers come from: a path (a data file or an Interconnect folder) with an
    optional dataset config file, or the demo data."""

    path: str | None = None
    demo_size: int = 7043
    seed: int = 0
    as_of: str | None = None
    config: str | None = None
    demo_events: bool = False   # the demo data with usage, tickets, e-mails, plan changes

    def fingerprint(self) -> str:
        return fingerprint(self.path, self.demo_size, self.seed, self.config,
                           demo_events=self.demo_events and not self.path)

    def load(self, as_of: str | None = None, events_dir: str | Path | None = None):
        """The customer table; the demo's event tables kept in `events_dir` when given
        (analytics/loaders.load_demo)."""
        return load_path(self.path, demo_size=self.demo_size, seed=self.seed,
                         as_of=as_of or self.as_of, config=self.config,
                         demo_events=self.demo_events, events_dir=events_dir)

    def label(self) -> str:
        if self.path:
            return self.path
        what = "demo data with behaviour" if self.demo_events else "demo data"
        return f"{what} ({self.demo_size:,} customers)"


def code_fingerprint() -> str:
    """A hash of the analytics source, so an edited pipeline never serves stale results."""
    digest = hashlib.sha256()
    root = Path(__file__).parent
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


# Settings that only re-label the scores: not part of the cache key, applied after loading.
RELABEL_SETTINGS = ("tier_high", "tier_medium")


def cache_key(source: DataSource, settings: AnalysisSettings) -> str:
    trained = {k: v for k, v in settings.as_dict().items() if k not in RELABEL_SETTINGS}
    return make_key(source.fingerprint(), source.as_of, trained, __version__, code_fingerprint())


def retier(analysis: ChurnAnalysis, high: float, medium: float) -> None:
    """New tier cut-offs for an analysis (ValueError unless 0 <= medium < high <= 1)."""
    tiers = kpis.assign_tiers(analysis.customers[PROBABILITY].to_numpy(), high, medium)
    analysis.settings = replace(analysis.settings, tier_high=float(high),
                                tier_medium=float(medium))
    analysis.customers[TIER] = pd.Categorical(tiers, categories=list(kpis.TIERS))


def load_or_train(source: DataSource, settings: AnalysisSettings = AnalysisSettings(),
                  cache_dir: str | Path | None = None,
                  progress: Progress = lambda _m: None,
                  catalogue: Catalogue | None = None,
                  key_path: str | Path | None = None,
                  salt_from: Catalogue | None = None,
                  defer: bool = False,
                  background_write: bool = False,
                  before_background: Callable[[], object] = lambda: None
                  ) -> tuple[ChurnAnalysis, bool]:
    """The analysis from the cache when present and intact, else trained (and cached).

    With a catalogue, the best offer per customer is attached too (its own cache entry, keyed
    by the analysis and the catalogue, so editing the offers never retrains the model).
    Entries are signed with the key file `key_path` (default `<cache_dir>.key`, beside the
    cache). A cache that cannot be used is reported through `progress` and the analysis is
    trained without it; a second process on the same cache waits for the first one's entry
    instead of training too. Returns (analysis, loaded_from_cache). Data errors propagate as
    `DataError`.

    With `defer`, a training leaves what no score depends on (baselines, behaviour check,
    backtest) in `analysis.pending` for `finish` (the dashboard runs it in the background);
    without, anything pending (an entry a deferring process cached) is finished here.

    With `background_write`, a trained analysis is written to the cache in a thread (7 s at
    1,000,000 customers with behaviour) while the caller goes on; the entry's lock is held
    until it is written, so another process waits for it rather than training too. Offers
    not in the cache are ranked in a thread too (7-10 s at 1M): `analysis.recommendations`
    waits for them. So are the SHAP values of a table larger than the SHAP sample (all but
    100,000 rows: ~25 s at 1M; analytics/explaining.py): `analysis.shap_values` waits for
    them. Both start once `before_background()` returns (the app: after its first page, at a
    lower priority). `wait_for_background` waits for all three (before a fork; `finish`
    does)."""
    store = open_store(cache_dir, key_path, progress)
    key = cache_key(source, settings)
    analysis = _load(store, key, settings, progress)
    if analysis is None:
        with ExitStack() as held:
            if store:
                held.enter_context(store.lock(key))
            # Another process may have cached it while this one waited for the lock.
            analysis = _load(store, key, settings, progress)
            from_cache = analysis is not None
            if analysis is None:
                # a writable cache keeps the event tables on disk beside the entry
                files = store.files(key) if store and store.writable else None
                analysis = _train(source, settings, progress, defer,
                                  before_background if background_write else None, files)
                if store:
                    _save(store, key, analysis, progress,
                          held.pop_all() if background_write else None)
    else:
        from_cache = True
    if analysis.pending and not defer:
        finish(analysis, source, store, key, progress)
    if catalogue is not None:
        # The promo-code salt is the data and the catalogue only: a customer keeps their code
        # through upgrades and model settings (adding a baseline changed every code before).
        refresh_offers(analysis, source, settings, catalogue, store, progress, salt_from,
                       background=background_write, before=before_background)
    return analysis, from_cache


def refresh_offers(analysis: ChurnAnalysis, source: DataSource, settings: AnalysisSettings,
                   catalogue: Catalogue, store: ArtifactStore | None,
                   progress: Progress = lambda _m: None,
                   salt_from: Catalogue | None = None, background: bool = False,
                   before: Callable[[], object] = lambda: None) -> None:
    """Attach the best offer per customer for this catalogue. The promo-code salt is the
    data and `salt_from` (default the catalogue itself): the catalogue file, when measured
    acceptance rates are laid over it, so codes do not change with them. `background`:
    see `attach_recommendations`."""
    salt = make_key(source.fingerprint(), source.as_of,
                    catalogue_fingerprint(salt_from or catalogue))
    attach_recommendations(analysis, catalogue, cache_key(source, settings), salt, store,
                           progress, background, before)


def load_cached(source: DataSource, settings: AnalysisSettings, cache_dir: str | Path | None,
                catalogue: Catalogue | None = None, key_path: str | Path | None = None,
                progress: Progress = lambda _m: None,
                salt_from: Catalogue | None = None) -> ChurnAnalysis | None:
    """The analysis of `source` when the cache holds it (with the offers attached), else None:
    never trains (switching datasets in a running app must not block on a training)."""
    store = open_store(cache_dir, key_path, progress)
    if store is None:
        return None
    key = cache_key(source, settings)
    analysis = _load(store, key, settings, progress)
    if analysis is not None and catalogue is not None:
        refresh_offers(analysis, source, settings, catalogue, store, progress, salt_from)
    return analysis


def open_store(cache_dir: str | Path | None, key_path: str | Path | None = None,
               progress: Progress = lambda _m: None) -> ArtifactStore | None:
    """The opened cache, or None when there is none or it cannot be used (progress says why)."""
    if not cache_dir:
        return None
    store = ArtifactStore(cache_dir, key_path=key_path, log=progress).open()
    return store if store.usable else None


def _load(store: ArtifactStore | None, key: str, settings: AnalysisSettings,
          progress: Progress) -> ChurnAnalysis | None:
    if store is None:
        return None
    clock = time.perf_counter()
    cached = store.get(key)
    if not isinstance(cached, ChurnAnalysis):
        return None
    disk = [t.disk for t in getattr(cached.behaviour, "tables", ()) if t.disk is not None]
    problem = next((p for p in (d.problem() for d in disk) if p), None)
    if problem:
        progress(f"cache entry {store.path(key).name} refused: its events file {problem}; "
                 "training again")
        return None
    later = ["the SHAP matrix"] if not cached.lazy_loaded else []
    tables = [t.name for t in getattr(cached.behaviour, "tables", ()) if not t.loaded]
    later += [f"the {', '.join(tables)} table{'s' if len(tables) > 1 else ''}"] if tables else []
    progress(f"loaded model, scores and SHAP values from cache in "
             f"{time.perf_counter() - clock:.1f} s"
             + (f" ({' and '.join(later)} read on first use)" if later else ""))
    attach_completion(cached, store, key)
    if (cached.settings.tier_high, cached.settings.tier_medium) != (
            settings.tier_high, settings.tier_medium):
        retier(cached, settings.tier_high, settings.tier_medium)
    return cached


def attach_recommendations(analysis: ChurnAnalysis, catalogue: Catalogue, key: str,
                           salt: str, store: ArtifactStore | None = None,
                           progress: Progress = lambda _m: None,
                           background: bool = False,
                           before: Callable[[], object] = lambda: None) -> None:
    """Set analysis.catalogue and analysis.recommendations (from the cache when present).

    `salt` keys the promo codes (the data + the catalogue), so they are stable across
    restarts and exports of the same data and catalogue. With `background`, offers are read
    from the cache or ranked in a thread: reading `analysis.recommendations` waits for them
    (None when ranking failed, as with offers disabled; `progress` says why), once
    `before()` has returned."""
    offers_key = make_key(key, "offers", catalogue_fingerprint(catalogue))
    # With `background` the thread reads the cached table as well (~0.1 s at 1M customers,
    # off the way to the first page).
    table = None if background else _offers(store, offers_key, len(analysis.customers))
    if table is not None:
        analysis.catalogue, analysis.recommendations = catalogue, table
        return

    def rank(analysis: ChurnAnalysis) -> pd.DataFrame:
        with (store.lock(offers_key, "another process is ranking offers for this data; "
                                     "waiting") if store else nullcontext()):
            table = _offers(store, offers_key, len(analysis.customers))
            if table is None:
                progress(f"best offer for {len(analysis.customers):,} customers x "
                         f"{len(catalogue.offers)} offers")
                clock = time.perf_counter()
                table = recommend(analysis, catalogue, salt=salt)
                progress(f"offers ranked in {time.perf_counter() - clock:.1f} s")
                if store:
                    store.try_put(offers_key, table)
            return table

    if not background:
        analysis.catalogue, analysis.recommendations = catalogue, rank(analysis)
        return
    # Ranked from a copy: the app restores saved tier cut-offs meanwhile.
    ranking, view = threading.Event(), _shallow(analysis)
    analysis.catalogue, analysis.__dict__["_ranking"] = catalogue, ranking

    def run() -> None:
        table = None
        try:
            before()
            table = rank(view)
        except Exception as exc:  # noqa: BLE001 - the scores are served without offers
            progress(f"offers not ranked: {type(exc).__name__}: {exc}")
        finally:
            analysis.recommendations = table       # before a reader is let through
            analysis.__dict__.pop("_ranking", None)
            ranking.set()

    _in_background("churnlens-offers", run)


def _offers(store: ArtifactStore | None, offers_key: str, n: int) -> pd.DataFrame | None:
    table = store.get(offers_key) if store else None
    return table if isinstance(table, pd.DataFrame) and len(table) == n else None


def _train(source: DataSource, settings: AnalysisSettings, progress: Progress,
           defer: bool = False, background: Callable[[], object] | None = None,
           events_dir: Path | None = None) -> ChurnAnalysis:
    """Load and analyse; with `background`, a large table's SHAP rows after the sample are
    explained in a thread that first calls `background()`; the demo's event tables are kept
    in `events_dir` when given."""
    progress(f"loading {source.label()}")
    table = source.load(events_dir=events_dir)
    release()   # what loading freed, before training's peak stands on it
    progress(f"loaded {len(table.customers):,} customers ({len(table.training):,} labelled "
             "for training)")
    analysis = analyse(table, settings, progress=progress, defer=defer,
                       explain_later=background is not None)
    explaining = analysis.__dict__.get("_explaining")
    if explaining is not None:   # a large table: the rows after the SHAP sample, in a thread
        rest = len(analysis.customers) - len(explaining.first)
        progress(f"explaining the other {rest:,} customers' reasons in the background")

        def explain(model, customers) -> None:
            try:
                background()
            finally:
                explaining.run(model, customers, progress)

        _in_background("churnlens-reasons", explain, analysis.model,
                       _shallow(analysis).customers)
    if _has_backtest(analysis, source):
        if defer:
            analysis.pending = (*analysis.pending, "backtest")
        else:
            analysis.backtest = _backtest(analysis, source, progress)
    return analysis


_BACKGROUND: set[threading.Thread] = set()


def _save(store: ArtifactStore, key: str, analysis: ChurnAnalysis, progress: Progress,
          held: ExitStack | None = None) -> None:
    """Cache a trained analysis; with `held` (the entry's lock, released once written) in
    a thread, from a shallow copy: what the app changes meanwhile (tier cut-offs, the
    offers' columns) replaces the served analysis' attributes and columns, never the ones
    being written."""
    def write(value: ChurnAnalysis) -> None:
        if store.try_put(key, value):
            progress(f"cached as {store.path(key)}")

    if held is None:
        return write(analysis)

    def run(snapshot: ChurnAnalysis) -> None:
        with held:
            write(snapshot)

    try:
        _in_background("churnlens-cache-write", run, _shallow(analysis))
    except BaseException:   # never started: nobody else would release the lock
        held.close()
        raise


def _shallow(analysis: ChurnAnalysis) -> ChurnAnalysis:
    """A copy sharing every value, with a table of its own: what the app then replaces (an
    attribute, a column such as the tiers) the copy does not see, so a thread can read it."""
    copy = object.__new__(type(analysis))
    copy.__dict__.update(analysis.__dict__)
    copy.customers = analysis.customers.copy(deep=False)
    return copy


def _in_background(name: str, work: Callable[..., None], *args) -> None:
    """Run `work(*args)` in a thread `wait_for_background` knows of. Not a daemon: an
    interpreter that exits waits for it (a cache entry is never left half written)."""
    def run() -> None:
        try:
            work(*args)
        finally:
            _BACKGROUND.discard(threading.current_thread())

    thread = threading.Thread(target=run, name=name)
    _BACKGROUND.add(thread)
    thread.start()


def wait_for_background(timeout: float | None = None) -> None:
    """Wait for the cache write, the offers and the SHAP values
    `load_or_train(background_write=True)` left running."""
    deadline = None if timeout is None else time.monotonic() + timeout
    for thread in list(_BACKGROUND):
        thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))


def _has_backtest(analysis: ChurnAnalysis, source: DataSource) -> bool:
    return bool(analysis.as_of and analysis.extraction_date
                and (source.path or source.demo_events))


def _backtest(analysis: ChurnAnalysis, source: DataSource, progress: Progress) -> dict:
    progress("out-of-time backtest")
    s = analysis.settings
    # Each date's event tables on disk for as long as its features are made (the demo's).
    with tempfile.TemporaryDirectory(prefix="churnlens-backtest-") as scratch:
        return out_of_time_backtest(
            lambda date: source.load(as_of=date, events_dir=Path(scratch) / date),
            analysis.as_of, analysis.extraction_date, threshold=s.threshold,
            max_train_rows=s.train_max_rows, random_state=s.random_state)


def completion_key(key: str) -> str:
    """The cache entry of what a deferred training left (small: out-of-fold baselines, the
    behaviour check, the backtest), beside the analysis' own entry, which is never rewritten."""
    return make_key(key, "completion")


def finish(analysis: ChurnAnalysis, source: DataSource, store: ArtifactStore | None, key: str,
           progress: Progress = lambda _m: None) -> None:
    """Complete what `analysis.pending` lists, once for every process on the cache: the
    first takes the lock and computes (and caches) it, the others wait and load it."""
    if not analysis.pending:
        return
    wait_for_background()   # completing changes the analysis a background write pickles
    ckey = completion_key(key)
    with (store.lock(ckey, "another process is completing the model checks; waiting")
          if store else nullcontext()):
        done = _completion(store, ckey)
        if done is None:
            clock = time.perf_counter()
            # The process that trained kept the sample; another one (a restart) reloads
            # (the demo's event tables on disk while its features are made).
            with tempfile.TemporaryDirectory(prefix="churnlens-checks-") as scratch:
                table = (None if hasattr(analysis, "check_sample")
                         else source.load(events_dir=scratch))
                done = complete(analysis, table, progress)
                del table
            if "backtest" in analysis.pending:
                done["backtest"] = _backtest(analysis, source, progress)
            progress(f"model checks completed in {time.perf_counter() - clock:.1f} s")
            if store:
                store.try_put(ckey, done)
    apply_completion(analysis, done)


def attach_completion(analysis: ChurnAnalysis, store: ArtifactStore | None, key: str) -> bool:
    """Lay a cached completion into a pending analysis; True when one was there."""
    done = _completion(store, completion_key(key)) if analysis.pending else None
    if done is None:
        return False
    apply_completion(analysis, done)
    return True


def _completion(store: ArtifactStore | None, ckey: str) -> dict | None:
    done = store.get(ckey) if store else None
    return done if isinstance(done, dict) else None


def compare_file(analysis: ChurnAnalysis, path: str | Path, as_of: str | None = None) -> dict:
    """A refreshed data file scored by the current model: each feature's PSI against the
    training data (largest first), and the mean score now and out-of-fold at training.

    Categories the model never saw count as missing. DataError names the file when it cannot
    be read or lacks a model feature."""
    table = load_path(path, as_of=as_of, config=analysis.config)
    missing = [f for f in analysis.features if f not in table.customers.columns]
    if missing:
        raise DataError(f"the refreshed file lacks the model's feature(s) {', '.join(missing)}",
                        file=str(path), column=missing[0])
    current = table.customers.copy()
    for feature in analysis.categorical:
        current[feature] = pd.Categorical(current[feature].astype(str),
                                          categories=analysis.customers[feature].cat.categories)
    return {"source": table.source, "n": int(len(current)),
            "rows": drift_table(analysis.reference, current, analysis.categorical,
                                analysis.numeric),
            "mean_score_now": float(analysis.model.predict_proba(current).mean()),
            "mean_score_training": float(analysis.cv.oof["catboost"].mean())}
