"""The risk-tier cut-offs as a shared, deliberate setting.

Changing the High / Medium cut-offs re-tiers every customer for every user of the server, so
it goes through here: `preview` shows what would change, `apply` validates *before* anything
is stored, saves the cut-offs in `<cache_dir>/settings.json` (written atomically, keyed by the
dataset's source so one dataset's cut-offs never apply to another), records the change in a
history and only then re-tiers; `undo` goes back to the cut-offs before the last change
(recorded too); `restore` applies the saved cut-offs at start. Without a cache directory the
settings live in memory for the life of the process.

The file, for each dataset: the cut-offs now and the last HISTORY_KEEP changes, each with
the UTC time, the action, the user who made it (when login is on), the cut-offs before and
after, and the High counts.
"""

from __future__ import annotations

import json
import logging
import math
import numbers
import os
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from analytics.dataset import ACTIVE
from analytics.pipeline import PROBABILITY
from dashboard.services import core

try:  # a lock between the workers of one server (POSIX); without it, last writer wins
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

LOG = logging.getLogger(__name__)
SETTINGS_FILE = "settings.json"
FORMAT_VERSION = 1
HISTORY_KEEP = 50
TIERS = ("High", "Medium", "Low")


class TierError(ValueError):
    """A tier change that was refused; the message says why, for the page."""


def _pct(value: float) -> str:
    return f"{100 * value:.4g}%"


def validate(high, medium=None, current_medium: float | None = None) -> tuple[float, float]:
    """(high, medium) as floats once they satisfy 0 <= medium < high <= 1, both finite
    numbers; Medium defaults to `current_medium` when that is below High, else half of High.
    Raises TierError, naming the bad value, otherwise."""
    def number(name: str, value) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TierError(f"The {name} cut-off must be a number between 0 and 1 (a share), "
                            f"got {value!r}; nothing was changed.")
        value = float(value)
        if not math.isfinite(value):
            raise TierError(f"The {name} cut-off must be a finite number, got {value!r}; "
                            "nothing was changed.")
        return round(value, 6)

    high = number("High", high)
    if not 0.0 < high <= 1.0:
        raise TierError(f"The High cut-off must be a churn risk above 0% and at most 100% "
                        f"(a share between 0 and 1), got {high!r}; nothing was changed.")
    if medium is None:
        medium = current_medium if current_medium is not None and current_medium < high \
            else round(high / 2, 4)
    medium = number("Medium", medium)
    if not 0.0 <= medium < high:
        raise TierError(f"The Medium cut-off must be at least 0% and below the High cut-off "
                        f"({_pct(high)}), got {medium!r}; nothing was changed.")
    return high, medium


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class TierService(core.PageService):
    """Tier cut-offs changed on purpose: preview, apply (validated, persisted beside the
    cache, recorded), undo; restored at start."""

    def __init__(self, core_: core.Services) -> None:
        super().__init__(core_)
        self._memory: dict = {}            # the settings document without a cache dir
        self._seen: tuple | None = None    # (mtime_ns, size) of the file last read
        self.problem: str | None = None    # why the saved settings could not be used

    # ----- where the settings live ----------------------------------------------------
    @property
    def path(self) -> Path | None:
        folder = self.core.settings.cache_dir
        return Path(folder) / SETTINGS_FILE if folder else None

    def dataset_key(self) -> str:
        """The dataset's source; an existing path is made absolute so the same file is one
        dataset however it was named on the command line."""
        source = str(self.core.analysis.source)
        return os.path.realpath(source) if os.path.exists(source) else source

    def _read(self) -> dict:
        """The whole settings document ({} when there is none); TierError when the file is
        unreadable or not a settings document."""
        path = self.path
        if path is None:
            return json.loads(json.dumps(self._memory))
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise TierError(f"The settings file ({SETTINGS_FILE} beside the cache) could not be "
                            f"read ({exc.strerror or exc}).") from exc
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise TierError(f"The settings file ({SETTINGS_FILE} beside the cache) is not valid "
                            f"JSON ({exc}).") from exc
        if not isinstance(document, dict) or not isinstance(document.get("datasets", {}),
                                                              dict):
            raise TierError(f"The settings file ({SETTINGS_FILE} beside the cache) is not a "
                            "ChurnLens settings file (expected an object with 'datasets').")
        return document

    def _write(self, document: dict) -> None:
        """Replace the document atomically: a temporary file in the same folder, then
        os.replace, so a reader sees the old file or the new one, never half of one."""
        path = self.path
        if path is None:
            self._memory = json.loads(json.dumps(document))
            return
        handle, temp = tempfile.mkstemp(prefix=".settings-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(document, out, indent=2, sort_keys=True)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
        except BaseException:
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise
        self._seen = self._stamp()

    def _stamp(self) -> tuple | None:
        try:
            stat = self.path.stat()
            return (stat.st_mtime_ns, stat.st_size)
        except (OSError, AttributeError):
            return None

    @contextmanager
    def _locked(self):
        """Hold the settings lock (another worker may be writing the same file)."""
        path = self.path
        if path is None or fcntl is None:
            yield
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(SETTINGS_FILE + ".lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _entry(self, document: dict) -> dict:
        return document.get("datasets", {}).get(self.dataset_key(), {})

    # ----- reading ----------------------------------------------------------------------
    def current(self) -> dict:
        s = self.core.analysis.settings
        return {"high": float(s.tier_high), "medium": float(s.tier_medium)}

    def flags(self) -> dict:
        """The cut-offs the app was started with (--tier-high / --tier-medium)."""
        s = self.core.settings
        return {"high": float(s.tier_high), "medium": float(s.tier_medium)}

    def counts(self, high: float, medium: float) -> dict:
        """Customers per tier at these cut-offs, active ones and everyone."""
        c = self.core
        p = np.asarray(c.array(PROBABILITY), dtype=float)
        active = np.asarray(c.array(ACTIVE)).astype(bool)
        is_high = p >= high
        is_medium = (p >= medium) & ~is_high
        out = {}
        for scope, keep in (("active", active), ("all", np.ones(len(p), dtype=bool))):
            n_high, n_medium = int((is_high & keep).sum()), int((is_medium & keep).sum())
            out[scope] = {"High": n_high, "Medium": n_medium,
                          "Low": int(keep.sum()) - n_high - n_medium}
        return out

    def preview(self, high, medium=None) -> dict:
        """What `apply(high, medium)` would do: the cut-offs and the customers per tier
        before and after, for active customers and for all. TierError for bad values."""
        self.refresh()
        now = self.current()
        high, medium = validate(high, medium, now["medium"])
        return {"before": {**now, "counts": self.counts(now["high"], now["medium"])},
                "after": {"high": high, "medium": medium, "counts": self.counts(high, medium)},
                "changed": (high, medium) != (now["high"], now["medium"]),
                "persistent": self.path is not None}

    def history(self, limit: int | None = None) -> list[dict]:
        """This dataset's changes, newest first (at, action, from, to, high_active, by)."""
        try:
            entries = self._entry(self._read()).get("history", [])
        except TierError:
            return []
        entries = [e for e in entries if isinstance(e, dict)][::-1]
        return entries[:limit] if limit else entries

    def can_undo(self) -> bool:
        return self._undo_target(self.history()) is not None

    @staticmethod
    def _undo_target(history: list[dict]) -> dict | None:
        """The newest change not yet undone (history newest first; an undo cancels the
        change before it, so undoing twice goes back two changes)."""
        pending = 0
        for entry in history:
            if entry.get("action") == "undo":
                pending += 1
            elif entry.get("action") == "change":
                if pending:
                    pending -= 1
                else:
                    return entry
        return None

    # ----- changing ---------------------------------------------------------------------
    def apply(self, high, medium=None, by: str | None = None) -> dict:
        """Validate, persist, record (with the signed-in user `by`, when login is on) and
        then re-tier. Returns the history entry; raises TierError (and changes nothing, in
        memory or on disk) when refused."""
        self.refresh()
        high, medium = validate(high, medium, self.current()["medium"])
        return self._change("change", high, medium, by)

    def undo(self, by: str | None = None) -> dict:
        """Back to the cut-offs before the newest change not yet undone (recorded as a
        change too). TierError when there is nothing to undo."""
        self.refresh()
        target = self._undo_target(self.history())
        if target is None:
            raise TierError("There is no change to undo.")
        before = target.get("from") or {}
        high, medium = validate(before.get("high"), before.get("medium"))
        return self._change("undo", high, medium, by)

    def _change(self, action: str, high: float, medium: float, by: str | None = None) -> dict:
        now = self.current()
        if (high, medium) == (now["high"], now["medium"]):
            raise TierError(f"High is already {_pct(high)} and Medium {_pct(medium)}; "
                            "nothing was changed.")
        entry = {"at": _now(), "action": action,
                 "from": now, "to": {"high": high, "medium": medium},
                 "high_active": {"from": self.counts(**now)["active"]["High"],
                                 "to": self.counts(high, medium)["active"]["High"]},
                 "by": by}
        with self._locked():
            try:
                document = self._read()
            except TierError as exc:
                # A broken file is kept aside, not lost, and a fresh one started.
                LOG.warning("%s (%s) It is kept as %s and a new one is started.", exc,
                            self.path, self._set_aside())
                document = {}
            datasets = document.setdefault("datasets", {})
            saved = datasets.setdefault(self.dataset_key(), {})
            saved["tiers"] = {"high": high, "medium": medium}
            saved["history"] = ([e for e in saved.get("history", []) if isinstance(e, dict)]
                                + [entry])[-HISTORY_KEEP:]
            document["version"] = FORMAT_VERSION
            try:
                self._write(document)
            except OSError as exc:
                LOG.error("could not write %s: %s", self.path, exc)
                raise TierError(f"The new cut-offs could not be saved ({exc.strerror or exc}); "
                                "nothing was changed.") from exc
        self.core.set_tier_high(high, medium)
        self.problem = None
        return entry

    def _set_aside(self) -> str:
        path = self.path
        if path is None or not path.exists():
            return "(nothing)"
        target = path.with_name(f"{SETTINGS_FILE}.corrupt-{_now().replace(':', '')}")
        try:
            os.replace(path, target)
        except OSError:
            return "(could not be moved)"
        return str(target)

    # ----- at start and across workers --------------------------------------------------
    def restore(self) -> None:
        """Apply the cut-offs saved for this dataset (called by Services.start after load).
        A missing entry keeps the start-up flags; a broken file or bad saved values are
        logged and the flags are used."""
        if self.core.analysis is None:
            return
        self._seen = self._stamp()
        try:
            saved = self._entry(self._read()).get("tiers")
            if saved is None:
                return
            if not isinstance(saved, dict):
                raise TierError(f"the saved cut-offs are {saved!r}, not High and Medium")
            high, medium = validate(saved.get("high"), saved.get("medium"))
        except TierError as exc:
            self.problem = (f"The saved risk-tier cut-offs could not be used: {exc} The "
                            f"start-up cut-offs apply (High {_pct(self.flags()['high'])}, "
                            f"Medium {_pct(self.flags()['medium'])}).")
            LOG.warning("%s (file: %s)", self.problem, self.path)
            return
        if (high, medium) != (self.current()["high"], self.current()["medium"]):
            self.core.set_tier_high(high, medium)
            LOG.info("risk tiers restored from %s: High %s, Medium %s", self.path or "memory",
                     _pct(high), _pct(medium))

    def refresh(self) -> None:
        """Pick up cut-offs another worker saved since this one last read the file (one
        stat when nothing changed)."""
        if self.path is None or self.core.analysis is None:
            return
        stamp = self._stamp()
        if stamp is not None and stamp != self._seen:
            self.restore()


def current() -> TierService:
    return core.current().tiers
