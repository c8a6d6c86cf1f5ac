"""What one worker changes, every worker serves: the dataset in service and the offer
catalogue (measured acceptance laid over it). Tier cut-offs have their own file
(dashboard/services/tiers.py) and the model checks their cache entry (checks.py).

A change is announced in a small JSON file beside the cache (`<cache>/jobs/shared-<kind>.json`,
written atomically); every process looks at the files' modification times at the start of a
request (one `stat` each when nothing changed) and follows a change another process made.
Under `make serve` that is each gunicorn worker; with `make run` there is one process and the
files cost a stat. Announcements older than this process are ignored: a restart serves what
its command line says, with the saved tier cut-offs and measured acceptance (kept in the
settings file and the campaign store) laid over it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from analytics.runner import DataSource

LOG = logging.getLogger("churnlens.sync")
KINDS = ("dataset", "catalogue")
SOURCE_FIELDS = ("path", "demo_size", "seed", "as_of", "config", "demo_events")


class SyncService:
    def __init__(self, core) -> None:
        self.core = core
        self._seen: dict[str, int | None] = {kind: self._stamp(kind) for kind in KINDS}
        self._mine: dict[str, str] = {}

    def announce(self, kind: str, payload: dict) -> None:
        """Tell the other processes on this cache that `kind` changed here."""
        path = self._path(kind)
        if path is None:
            return
        token = f"{os.getpid()}-{time.time_ns()}"
        self._mine[kind] = token
        tmp = path.with_name(f".{path.name}.{token}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({**payload, "token": token}), encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            LOG.warning("could not tell the other workers about the %s change: %s", kind, exc)
        self._seen[kind] = self._stamp(kind)

    def dataset_changed(self) -> None:
        source = self.core.source
        if source is not None:
            self.announce("dataset", {"id": self.core.source_id(),
                                      "source": {f: getattr(source, f) for f in SOURCE_FIELDS}})

    def catalogue_changed(self) -> None:
        self.announce("catalogue", {})

    def poll(self) -> None:
        """Follow what another process announced since this one last looked."""
        for kind in KINDS:
            stamp = self._stamp(kind)
            if stamp is None or stamp == self._seen.get(kind):
                continue
            self._seen[kind] = stamp
            payload = self._read(kind)
            if payload is None or payload.get("token") == self._mine.get(kind):
                continue
            if kind == "dataset":
                self._follow_dataset(payload)
            else:
                self.core.campaigns.reload_catalogue(announce=False)

    def _follow_dataset(self, payload: dict) -> None:
        if payload.get("id") == self.core.source_id():
            return
        try:
            source = DataSource(**{f: payload["source"][f] for f in SOURCE_FIELDS})
        except (KeyError, TypeError):
            return
        problem = self.core.switch(source, announce=False)
        if problem:
            LOG.warning("another worker switched to %s, which this one cannot load: %s",
                        source.label(), problem)

    # ----- files --------------------------------------------------------------------------
    def _path(self, kind: str) -> Path | None:
        cache = self.core.settings.cache_dir
        return Path(cache) / "jobs" / f"shared-{kind}.json" if cache else None

    def _stamp(self, kind: str) -> int | None:
        path = self._path(kind)
        try:
            return path.stat().st_mtime_ns if path is not None else None
        except OSError:
            return None

    def _read(self, kind: str) -> dict | None:
        try:
            payload = json.loads(self._path(kind).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return payload if isinstance(payload, dict) else None
