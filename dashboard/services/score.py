"""The Score page's and the API's queries: score customers sent as JSON, the form's fields,
and whole files of new customers ("Score a file").

A file is scored from the upload folder by its stored name (`dashboard.uploads`), never by a
path from the browser. The scored table (formula-safe, `analytics.export.neutralise_frame`)
is written to `<cache dir>/scored-files/<key>.csv` with a small JSON summary beside it; the
page's store keeps only the key, and the download reads the file back by key. The key is a
hash of the file's bytes, the model's cache key and the tier cut-offs, so the same file
scored again by the same model is answered from disk. Files older than a day are deleted.

Scoring 100,000 rows takes about 15 s on two cores; CatBoost lets other requests run
meanwhile (other threads were measured pausing at most 0.2 s), and one file is scored at a
time per process, so two big files never take every core from the other users at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from analytics.dataset import MONTHLY, TENURE
from analytics.errors import ChurnLensError
from analytics.explain import feature_label
from analytics.export import neutralise_frame
from analytics.kpis import TIERS
from analytics.scoring import ScoreInputError, score_file, score_records
from dashboard.services import core
from dashboard.services.core import num

MONEY_WORDS = ("charge", "revenue", "balance", "salary", "amount", "price", "fee",
               "spend", "mrr")
SCORED_FOLDER = "scored-files"
KEY = re.compile(r"[0-9a-f]{32}")
PREVIEW_ROWS = 10
MAX_FILE_ROWS = 1_000_000
KEEP_SECONDS = 24 * 3600
LAYOUT_VERSION = "1"   # of the scored file and its summary: part of the key
CLI_HINT = ("python -m analytics score --data NEW_FILE --model-of TRAINING_FILE "
            "--out scores.csv")


class ScoreService(core.PageService):
    def __init__(self, core_: core.Services) -> None:
        super().__init__(core_)
        self._spec: tuple[object, list[dict]] | None = None   # (analysis, fields)
        self._lock = threading.Lock()          # one file scored at a time per process
        self._model_key: tuple[object, str] | None = None

    def score(self, payload) -> dict | list:
        """Score customers sent as JSON (raises ScoreInputError on bad input)."""
        results = score_records(payload, self.core.analysis, self.core.catalogue)
        return results[0] if isinstance(payload, dict) else {"results": results}

    def _unit(self, feature: str, values: np.ndarray) -> str | None:
        """The unit a number is typed in, from its role in the data: the monthly revenue is
        '$ / month', the tenure 'months'; other money-named columns '$'."""
        c = self.core.analysis.customers
        if _same(values, c[MONTHLY].to_numpy(dtype=float)):
            return "$ / month"
        if _same(values, c[TENURE].to_numpy(dtype=float)):
            return "months"
        if any(word in feature.lower() for word in MONEY_WORDS):
            return "$"
        return None

    def spec(self) -> list[dict]:
        """The fields of the score form: categories (most common first selected) and numeric
        ranges with the median as the starting value. Behaviour features are left out: they
        are computed from history, not typed (`behaviour_note`). Built once: the form's page
        asks for it on every load."""
        if self._spec is not None and self._spec[0] is self.core.analysis:
            return self._spec[1]
        a = self.core.analysis
        c = a.customers
        behaviour = a.feature_meta()
        fields = []
        for feature in a.features:
            if feature in behaviour:
                continue
            series = c[feature]
            if feature in a.categorical:
                counts = series.value_counts()
                fields.append({"feature": feature, "label": feature_label(feature),
                               "kind": "category",
                               "choices": [str(x) for x in series.cat.categories],
                               "default": str(counts.index[0])})
            else:
                values = series.to_numpy(dtype=float)
                fields.append({"feature": feature, "label": feature_label(feature),
                               "kind": "number", "unit": self._unit(feature, values),
                               "min": num(np.nanmin(values)), "max": num(np.nanmax(values)),
                               "default": num(np.round(np.nanmedian(values), 2)),
                               "integer": bool(np.all(np.mod(values[~np.isnan(values)], 1)
                                                      == 0))})
        self._spec = (a, fields)
        return fields

    def behaviour_note(self) -> dict | None:
        """The model's behaviour features the form leaves out, and their tables: a new
        customer is scored with a typical active customer's behaviour (None without)."""
        a = self.core.analysis
        meta = a.feature_meta() if a is not None else {}
        used = [f for f in a.features if f in meta] if meta else []
        if not used:
            return None
        return {"n": len(used), "tables": list(dict.fromkeys(meta[f].table for f in used))}

    # ----- Score a file ---------------------------------------------------------------
    def score_upload(self, stored) -> dict:
        """Score the uploaded file `stored` (its name in the upload folder) with the current
        model: {"ok": True, "key", "name", "rows", "seconds", "cached", "tiers", "preview",
        "report", "flagged"} or {"ok": False, "error": <one message, no traceback>}."""
        a = self.core.analysis
        if a is None:
            return _failed("No model is loaded, so nothing can be scored.")
        try:
            path = self._upload_path(stored)
        except ValueError as exc:
            return _failed(_sentence(str(exc)))
        name = _original(path.name)
        with self._lock:
            key = self._key(path)
            cached = self._cached(key)
            if cached is not None:
                return cached
            started = time.perf_counter()
            try:
                scored, report = self._score(path, name)
            except ChurnLensError as exc:
                return _failed(_named(str(exc), path, name))
            summary = self._summary(scored, report, name, time.perf_counter() - started, key)
            self._write(key, scored, summary)
        return summary

    def scored_csv(self, key) -> dict:
        """{"content", "filename"} of a scored file by its key, or {"error"}."""
        if not isinstance(key, str) or not KEY.fullmatch(key):
            return {"error": "not a scored file: score a file first"}
        csv_path, summary = self._folder() / f"{key}.csv", self._cached(key)
        if summary is None or not csv_path.is_file():
            return {"error": "the scored file is no longer on the server: score it again"}
        return {"content": csv_path.read_text(encoding="utf-8"),
                "filename": Path(summary["name"]).stem + "-scored.csv"}

    def _upload_path(self, stored) -> Path:
        from dashboard.uploads import resolve_upload

        if stored is None or stored == "":
            raise ValueError("no uploaded file named: upload a file first")
        path = resolve_upload(self.core.settings.upload_dir, stored)  # ValueError
        if not path.is_file():
            raise ValueError(f"the uploaded file {_original(stored)!r} is no longer on the "
                             "server: upload it again")
        return path

    def _score(self, path: Path, name: str):
        from analytics.loaders import read_best_sheet

        config = self.core.analysis.config
        options = {} if config is None else config.read_options()
        raw, _info = read_best_sheet(path, options)
        if raw.empty:
            raise ChurnLensError(f"{name}: the file has no customer rows")
        if len(raw) > MAX_FILE_ROWS:
            raise ChurnLensError(
                f"{name}: {len(raw):,} rows is more than the {MAX_FILE_ROWS:,} this page "
                f"scores; score it from the command line: {CLI_HINT}")
        return score_file(raw, self.core.analysis, name)

    def _summary(self, scored, report: dict, name: str, seconds: float, key: str) -> dict:
        n = int(len(scored))
        counts = scored["risk_tier"].value_counts()
        tiers = [{"tier": t, "n": int(counts.get(t, 0)),
                  "share": float(counts.get(t, 0)) / n if n else 0.0} for t in TIERS]
        head = scored.head(PREVIEW_ROWS)
        preview = [{"customer_id": str(r.customer_id),
                    "probability": float(r.churn_probability), "tier": str(r.risk_tier),
                    "reason": str(r.reason_1 or ""), "flags": str(r.flags or "")}
                   for r in head.itertuples(index=False)]
        items = []
        for column, info in report["unknown_categories"].items():
            items.append({"kind": "unknown", "column": column, "n": info["n"],
                          "examples": [[str(k), int(v)] for k, v in info["examples"].items()]})
        for column, info in report["out_of_range"].items():
            items.append({"kind": "range", "column": column, "n": info["n"],
                          "low": num(info["low"]), "high": num(info["high"])})
        for column, count in report["not_numbers"].items():
            items.append({"kind": "number", "column": column, "n": int(count)})
        for item in items:
            item["label"] = feature_label(item["column"])
        return {"ok": True, "key": key, "name": name, "rows": n, "seconds": round(seconds, 2),
                "cached": False, "tiers": tiers, "preview": preview, "report": items,
                "no_behaviour": len(report.get("no_behaviour") or []),
                "flagged": int((scored["flags"] != "").sum())}

    # ----- the scored files on disk -----------------------------------------------------
    def _folder(self) -> Path:
        base = self.core.settings.cache_dir
        return (Path(base) if base else Path(tempfile.gettempdir()) / "churnlens") / \
            SCORED_FOLDER

    def _key(self, path: Path) -> str:
        """The file's bytes, the model and the tier cut-offs (a random key without a
        model key: nothing to find again)."""
        from analytics.runner import cache_key

        a, source = self.core.analysis, self.core.source
        if source is None:
            return secrets.token_hex(16)
        if self._model_key is None or self._model_key[0] is not a:
            self._model_key = (a, cache_key(source, self.core.analysis_settings()))
        digest = hashlib.sha256(json.dumps(
            [LAYOUT_VERSION, self._model_key[1], a.settings.tier_high,
             a.settings.tier_medium]).encode())
        with open(path, "rb") as handle:
            while chunk := handle.read(1024 * 1024):
                digest.update(chunk)
        return digest.hexdigest()[:32]

    def _cached(self, key: str) -> dict | None:
        try:
            summary = json.loads((self._folder() / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(summary, dict) or summary.get("key") != key:
            return None
        try:  # used again: kept another day
            for suffix in (".csv", ".json"):
                os.utime(self._folder() / f"{key}{suffix}")
        except OSError:  # the CSV is gone: score the file again
            return None
        return {**summary, "cached": True}

    def _write(self, key: str, scored, summary: dict) -> None:
        """The formula-safe CSV, then the summary (its presence means the CSV is whole);
        each written to a temporary name and renamed. Old files are deleted first."""
        folder = self._folder()
        folder.mkdir(parents=True, exist_ok=True)
        _prune(folder)
        for suffix, write in ((".csv", lambda p: neutralise_frame(scored).to_csv(
                p, index=False, encoding="utf-8")),
                              (".json", lambda p: p.write_text(json.dumps(summary),
                                                               encoding="utf-8"))):
            partial = folder / f".{key}{suffix}.{secrets.token_hex(4)}.part"
            try:
                write(partial)
                os.replace(partial, folder / f"{key}{suffix}")
            finally:
                partial.unlink(missing_ok=True)


def _failed(message: str) -> dict:
    return {"ok": False, "error": message}


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]


def _original(stored: str) -> str:
    """The upload's name as the analyst knows it ('new-1a2b3c4d.csv' -> 'new.csv')."""
    return re.sub(r"-[0-9a-f]{8}(\.[^.]+)$", r"\1", stored)


def _named(message: str, path: Path, name: str) -> str:
    """A message that names the file as the analyst knows it, never the server path."""
    return message.replace(str(path), name).replace(path.name, name)


def _prune(folder: Path, now: float | None = None) -> None:
    """Delete scored files (and partial ones) older than KEEP_SECONDS."""
    now = time.time() if now is None else now
    for entry in folder.iterdir():
        try:
            if entry.is_file() and now - entry.stat().st_mtime > KEEP_SECONDS:
                entry.unlink()
        except OSError:
            continue


def _same(values: np.ndarray, other: np.ndarray) -> bool:
    both = ~(np.isnan(values) | np.isnan(other))
    return bool(both.any()) and bool(np.allclose(values[both], other[both]))


def current() -> ScoreService:
    return core.current().score


__all__ = ["ScoreInputError", "ScoreService", "current"]
