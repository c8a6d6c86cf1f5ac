"""The model checks a start leaves for later: the baselines' cross-validation, the behaviour
check and the out-of-time backtest (`analysis.pending`).

The dashboard serves as soon as the final model has scored (analytics.runner.load_or_train
with `defer=True`); this service completes the rest in a background thread, once for every
process on the cache (the cache lock: under `make serve` the server's master process does it
before and while the workers serve). Workers that did not compute it pick the cached result
up on a request (`poll`, at most every POLL_SECONDS). The stage is written to a small status
file beside the cache, so the Model page shows the same progress in every worker. Nothing
completed here changes a score, a tier or a reason.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
from pathlib import Path

from analytics.runner import attach_completion, cache_key, finish, open_store
from dashboard.services.idle import IDLE

LOG = logging.getLogger("churnlens.checks")
BACKGROUND_NICE = 10
POLL_SECONDS = 2.0
LABELS = {"baselines": "baseline models", "behaviour_check": "behaviour check",
          "backtest": "out-of-time backtest"}
EXIT_WAIT_SECONDS = 20.0
_STOP = threading.Event()
_COMPUTING: set[threading.Thread] = set()   # past the cache lock: in model code
_ALL: set[threading.Thread] = set()         # every checks thread alive
_generation = 0                             # stop_all() ends the runs of earlier ones


class ChecksStopped(Exception):
    """The process is exiting: the checks stop at their next step (a fold, a stage)."""


@atexit.register
def stop_running(timeout: float = EXIT_WAIT_SECONDS) -> None:
    """At exit, stop the background checks at their next step and wait for them. A daemon
    thread left inside CatBoost's native code while the interpreter tears down aborts the
    whole process ("terminate called without an active exception"), so it must not be. A
    thread still waiting for another process' cache lock is in no such code: not waited for."""
    _STOP.set()
    _join(_COMPUTING, timeout)


def stop_all(timeout: float = EXIT_WAIT_SECONDS) -> None:
    """Stop every checks run started so far at its next step and wait for those in model
    code; later starts run normally (tests end one app's checks before the next app)."""
    global _generation
    _generation += 1
    _join(_ALL, timeout)


def _join(threads: set[threading.Thread], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for thread in list(threads):
        thread.join(max(0.0, deadline - time.monotonic()))


class ChecksService:
    def __init__(self, core) -> None:
        self.core = core
        self._thread: threading.Thread | None = None
        self._error: str | None = None
        self._polled = 0.0

    # ----- running ------------------------------------------------------------------------
    def start(self, wait: bool = False) -> None:
        """Complete what the analysis in service left pending, in a background thread (or
        here with `wait`). Already cached (another process did it): laid in at once."""
        c = self.core
        a, source = c.analysis, c.source
        if a is None or not a.pending:
            return
        store = open_store(c.settings.cache_dir)
        key = cache_key(source, c.analysis_settings())
        if attach_completion(a, store, key):
            return self._done(a)
        self._error = None
        generation = _generation

        def progress(message: str) -> None:
            if _STOP.is_set() or generation != _generation:
                raise ChecksStopped(message)
            if message != "starting":
                _COMPUTING.add(threading.current_thread())
            self._write_status(key, message)

        def run() -> None:
            if not wait:
                if not IDLE.ready():  # python app.py: after the first page is drawn
                    self._write_status(key, "they start once the first page is drawn")
                    IDLE.wait(stop=_STOP)
                lower_priority()   # pages first: the checks take what the requests leave
            try:
                progress("starting")
                finish(a, source, store, key, progress=progress)
                self._write_status(key, "done")
                self._done(a)
            except ChecksStopped:  # nothing cached: the next start runs them again
                self._write_status(key, "interrupted; they run again at the next start")
            except Exception as exc:  # a check that fails never takes the scores down
                LOG.exception("model checks failed")
                self._error = f"{type(exc).__name__}: {exc}"
                self._write_status(key, f"failed: {self._error}")
            finally:
                _COMPUTING.discard(threading.current_thread())
                _ALL.discard(threading.current_thread())

        if wait:
            return run()
        self._thread = threading.Thread(target=run, name="churnlens-checks", daemon=True)
        _ALL.add(self._thread)
        self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the background checks end (tests, benchmarks); True when none pending."""
        if self._thread is not None:
            self._thread.join(timeout)
        a = self.core.analysis
        return a is None or not a.pending

    def poll(self) -> None:
        """In a process that did not compute them: lay in the cached checks once they are
        there (one cache lookup every POLL_SECONDS while any is pending)."""
        a = self.core.analysis
        if a is None or not a.pending or self._running():
            return
        now = time.monotonic()
        if now - self._polled < POLL_SECONDS:
            return
        self._polled = now
        c = self.core
        if attach_completion(a, open_store(c.settings.cache_dir),
                             cache_key(c.source, c.analysis_settings())):
            self._done(a)

    def _running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _done(self, analysis) -> None:
        if analysis is self.core.analysis:  # new figures on the Model page; same scores
            self.core.invalidate(keep_grid=True)
        LOG.info("model checks in: %s", "all" if not analysis.pending else analysis.pending)

    # ----- status -------------------------------------------------------------------------
    def status(self) -> dict:
        """{"pending": [labels], "stage": text or None, "error": text or None} for the Model
        page; pending is empty once everything is in."""
        c = self.core
        a = c.analysis
        if a is None or not a.pending:
            return {"pending": [], "stage": None, "error": None}
        stage = None
        path = self._status_path(cache_key(c.source, c.analysis_settings()))
        if path is not None:
            try:
                stage = json.loads(path.read_text(encoding="utf-8")).get("stage")
            except (OSError, ValueError, AttributeError):
                stage = None
        error = self._error or (stage[len("failed: "):] if isinstance(stage, str)
                                and stage.startswith("failed: ") else None)
        return {"pending": [LABELS.get(p, p) for p in a.pending],
                "stage": None if error else stage, "error": error}

    def _status_path(self, key: str) -> Path | None:
        cache = self.core.settings.cache_dir
        return Path(cache) / "jobs" / f"checks-{key}.json" if cache else None

    def _write_status(self, key: str, stage: str) -> None:
        path = self._status_path(key)
        if path is None:
            return
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({"stage": stage, "time": time.time()}), encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)


def lower_priority() -> None:
    """Make the calling background thread (and the threads and processes it starts: CatBoost,
    scikit-learn) yield the cores to requests: Linux gives each thread its own nice value.
    Elsewhere, nothing changes."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)
    except (AttributeError, OSError):
        pass
