"""Load data in the browser: preview an uploaded file's inferred roles, write the config the
analyst settles on, train in a background job, switch to the new dataset (or back).

The roles an analyst edits come back as a small dict (`ROLE_KEYS`); everything in it is
checked against the file before a config is written. Training runs in a background callback
process (DiskcacheManager), which leaves the analysis in the shared artifact cache; the
server process then loads it from there and switches. Until then the current data and model
stay in service, and a failed or cancelled job changes nothing. Every dataset loaded is
listed in `<cache>/datasets.json`, so it can be switched back to (its cache entry makes that
a load, not a retraining).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from analytics.data.config import (CUSTOMER_WORDS, REVENUE_PERIODS, TENURE_UNITS,
                                   DatasetConfig, dumps, load_config)
from analytics.data.inspect import check_config, inspect_frame
from analytics.data.readers import read_table
from analytics.errors import ChurnLensError, DataError
from analytics.loaders import TELCO_CONFIG, is_telco_layout
from analytics.runner import DataSource, load_or_train
from dashboard.errors import ClientError
from dashboard.services import core

REGISTRY = "datasets.json"
MAX_LISTED = 20
PREVIEW_ROWS = 5
PREVIEW_READ = 200_000
ROLE_KEYS = ("id", "label", "churned", "revenue", "revenue_period", "tenure", "tenure_unit",
             "drop", "customer_word", "currency")
NONE = ""  # the dropdown value meaning "no such column"
# Progress of a training job from the pipeline's messages: (pattern, share done).
STAGES = ((r"^loading", 0.03), (r"^loaded", 0.08), (r"^leakage", 0.12),
          (r"fold (\d+) of (\d+)", None), (r"^baseline|^calibration", 0.62),
          (r"^final fit", 0.66), (r"^scoring", 0.76), (r"^SHAP", 0.80),
          (r"^behavioural segments", 0.88), (r"^best offer", 0.92), (r"^offers ranked", 0.97),
          (r"^done|^cached", 0.99))


class RolesError(ValueError, ClientError):
    """Roles sent from the browser that do not fit the file (a 400 wherever raised)."""


def stage_share(message: str, last: float) -> float:
    """How far a job is (0..1) after a progress message; never goes back."""
    for pattern, share in STAGES:
        found = re.search(pattern, message, re.I)
        if found:
            if share is None:
                k, n = int(found.group(1)), int(found.group(2))
                share = 0.12 + 0.48 * (k - 1) / max(n, 1)
            return max(last, share)
    return last


class DatasetsService(core.PageService):
    """Uploads, previews, configs, training jobs and the list of datasets."""

    def __init__(self, core_: core.Services) -> None:
        super().__init__(core_)
        self._lock = threading.Lock()

    # ----- where things live ----------------------------------------------------------
    def upload_folder(self) -> Path:
        return Path(self.core.settings.upload_dir)

    def upload_path(self, stored: str) -> Path:
        from dashboard.uploads import resolve_upload

        if not isinstance(stored, str) or not stored:
            raise RolesError("no uploaded file named")
        try:
            path = resolve_upload(self.upload_folder(), stored)
        except ValueError as exc:
            raise RolesError(str(exc)) from None
        if not path.is_file():
            raise RolesError(f"the uploaded file {stored!r} is no longer on the server; "
                             "upload it again")
        return path

    def can_train(self) -> str | None:
        """Why the browser cannot train here (None when it can)."""
        if not self.core.settings.cache_dir:
            return ("training in the browser needs the cache (the server was started with "
                    "no cache directory)")
        return None

    # ----- preview --------------------------------------------------------------------
    def preview_upload(self, stored) -> dict:
        """`preview`, with a bad name or a vanished file as {"ok": False, "error"}."""
        try:
            return self.preview(stored)
        except RolesError as exc:
            return {"ok": False, "error": str(exc)}

    def config_download(self, preview, roles) -> dict:
        """{"text", "filename"} of the settled config, or {"error"}."""
        if not isinstance(preview, dict):
            return {"error": "load a file first"}
        try:
            text = self.config_text(preview.get("file"), roles or {}, preview.get("sheet"))
        except (RolesError, DataError) as exc:
            return {"error": str(exc)}
        stem = Path(_original(str(preview.get("file")))).stem
        return {"text": text, "filename": f"{stem}.churnlens.toml"}

    def preview(self, stored: str) -> dict:
        """The file's columns, the inferred roles with reasons, sample rows, the label
        balance, warnings and what could not be settled (JSON-safe)."""
        from analytics.loaders import read_best_sheet

        path = self.upload_path(stored)
        try:
            # The roles are guessed on the first PREVIEW_READ rows: seconds and a few
            # hundred MB for any file; the training reads (and checks) every row.
            raw, info = read_best_sheet(path, {"nrows": PREVIEW_READ})
        except DataError as exc:
            return {"ok": False, "error": _named(str(exc), path, stored)}
        if raw.empty:
            return {"ok": False, "error": f"{_original(stored)}: the file has a header but "
                                          "no rows"}
        partial = len(raw) >= PREVIEW_READ
        inspection = inspect_frame(raw, stored)
        config = inspection.config
        layout = None
        if is_telco_layout(raw.columns):
            config, layout = TELCO_CONFIG, "IBM Telco layout: the built-in config applies"
        columns = [str(c) for c in raw.columns]
        two_valued = {c["name"]: _few_values(raw[c["name"]]) for c in inspection.columns
                      if 0 < c["distinct"] <= 12}
        sample = raw.head(PREVIEW_ROWS).astype(str).to_dict("records")
        read = info.describe()
        if partial:
            read = (f"{info.format.upper() if info.format != 'excel' else 'Excel'}; roles "
                    f"guessed on the first {PREVIEW_READ:,} rows (training reads them all)")
        return {"ok": True, "file": stored, "name": _original(stored), "read": read,
                "rows": int(len(raw)), "partial": partial, "columns": columns, "values": two_valued,
                "kinds": {c["name"]: c["kind"] for c in inspection.columns},
                "roles": roles_of(config), "guesses": [vars(g) for g in inspection.guesses],
                "excluded": [{"column": c, "reason": r} for c, r in inspection.excluded],
                "warnings": inspection.warnings, "problems": inspection.problems,
                "balance": inspection.label_balance, "sample": sample, "layout": layout,
                "sheet": info.sheet}

    # ----- the config -----------------------------------------------------------------
    def config_for(self, stored: str, roles: dict, sheet: str | None = None
                   ) -> DatasetConfig:
        """The config the analyst settled on, checked against the file (RolesError)."""
        path = self.upload_path(stored)
        roles = check_roles(roles)
        raw, _ = read_table(path, sheet=sheet, nrows=2000)
        base = inspect_frame(raw, stored).config if not is_telco_layout(raw.columns) \
            else TELCO_CONFIG
        config = apply_roles(base, roles, sheet)
        if not config.label_column:
            raise RolesError("choose the column that says who churned (the label)")
        try:
            check_config(raw, config, stored)
        except DataError as exc:
            raise RolesError(str(exc)) from None
        return config

    def config_text(self, stored: str, roles: dict, sheet: str | None = None) -> str:
        return dumps(self.config_for(stored, roles, sheet))

    def save_config(self, stored: str, roles: dict, sheet: str | None = None) -> Path:
        """Write the config beside the upload (`<file>.toml`) and return its path."""
        path = self.upload_path(stored)
        target = path.with_name(path.name + ".toml")
        text = self.config_text(stored, roles, sheet)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
        load_config(target)  # the file it wrote must read back
        return target

    # ----- training (runs in the background job's process) -----------------------------
    def train(self, stored: str, roles: dict, sheet: str | None, report) -> dict:
        """Train (or load from the cache) the uploaded file with the settled roles; `report`
        gets (share done, message). Returns {"ok", "file", "config"} or {"ok": False,
        "error"}. The running app is not touched: `switch` does that afterwards."""
        why = self.can_train()
        if why:
            return {"ok": False, "error": why}
        try:
            config_path = self.save_config(stored, roles, sheet)
            path = self.upload_path(stored)
        except (RolesError, DataError) as exc:
            return {"ok": False, "error": str(exc)}
        share = [0.0]

        def progress(message: str) -> None:
            share[0] = stage_share(message, share[0])
            report(share[0], message)

        source = DataSource(path=str(path), config=str(config_path))
        try:
            load_or_train(source, self.core.analysis_settings(),
                          cache_dir=self.core.settings.cache_dir, progress=progress,
                          catalogue=self.core.catalogue)
        except ChurnLensError as exc:
            return {"ok": False, "error": _named(str(exc), path, stored)}
        return {"ok": True, "file": stored, "config": config_path.name}

    # ----- switching ------------------------------------------------------------------
    def switch_to_upload(self, stored: str, config_name) -> str | None:
        """Serve the trained upload (from the cache); the error, else None."""
        try:
            path = self.upload_path(stored)
        except RolesError as exc:
            return str(exc)
        if not isinstance(config_name, str) or Path(config_name).name != config_name:
            return "the config of this upload is missing; train it again"
        config = path.with_name(config_name)
        if not config.is_file():
            return "the config of this upload is missing; train it again"
        return self.core.switch(DataSource(path=str(path), config=str(config)))

    def switch_to(self, entry_id) -> str | None:
        """Serve a dataset of the list again; the error, else None."""
        entry = next((e for e in self.registry() if e["id"] == entry_id), None)
        if entry is None:
            return "unknown dataset; pick one of the list"
        source = DataSource(path=entry["path"], demo_size=entry.get("demo_size", 7043),
                            seed=entry.get("seed", 0), as_of=entry.get("as_of"),
                            config=entry.get("config"),
                            demo_events=bool(entry.get("demo_events", False)))
        return self.core.switch(source)

    def registry(self) -> list[dict]:
        """Datasets loaded before, newest first (the current one marked)."""
        file = self._registry_file()
        try:
            entries = json.loads(file.read_text(encoding="utf-8")) if file else []
        except (OSError, ValueError):
            entries = []
        entries = [e for e in entries if isinstance(e, dict) and "id" in e]
        current = self.core.source_id()
        for entry in entries:
            entry["current"] = entry["id"] == current
        return entries

    def remember(self) -> None:
        """Add (or refresh) the current dataset in the list."""
        a, source, file = self.core.analysis, self.core.source, self._registry_file()
        if a is None or source is None or file is None:
            return
        entry = {"id": self.core.source_id(), "name": self.core.source_name(),
                 "path": source.path, "config": source.config, "demo_size": source.demo_size,
                 "seed": source.seed, "as_of": source.as_of, "demo_events": source.demo_events,
                 "rows": int(len(a.customers)),
                 "churn_rate": round(float(a.customers["churn"].mean()), 4),
                 "roc_auc": round(float(a.cv.overall["catboost"]["roc_auc"]), 4),
                 "loaded": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
        with self._lock:
            entries = [e for e in self.registry() if e["id"] != entry["id"]]
            entries = [entry, *entries][:MAX_LISTED]
            for e in entries:
                e.pop("current", None)
            tmp = file.with_name(f".{file.name}.{os.getpid()}.{time.time_ns()}.tmp")
            try:
                file.parent.mkdir(parents=True, exist_ok=True)
                tmp.write_text(json.dumps(entries, indent=1), encoding="utf-8")
                os.replace(tmp, file)
            except OSError:
                tmp.unlink(missing_ok=True)

    def _registry_file(self) -> Path | None:
        cache = self.core.settings.cache_dir
        return Path(cache) / REGISTRY if cache else None


# ----- roles <-> config --------------------------------------------------------------------
def roles_of(config: DatasetConfig) -> dict:
    """The editable roles of a config, as the page's dropdowns hold them."""
    return {"id": config.id_column or NONE, "label": config.label_column or NONE,
            "churned": list(config.churned_values)[:1][0] if config.churned_values else NONE,
            "revenue": list(config.revenue_columns), "revenue_period": config.revenue_period,
            "tenure": config.tenure_column or NONE, "tenure_unit": config.tenure_unit,
            "drop": list(config.drop_columns), "customer_word": config.customer_word,
            "currency": config.currency}


def check_roles(roles) -> dict:
    """The roles dict as sent: known keys, text or lists of text, known units (RolesError)."""
    if not isinstance(roles, dict):
        raise RolesError("roles must be an object")
    unknown = [k for k in roles if k not in ROLE_KEYS]
    if unknown:
        raise RolesError(f"unknown role {str(unknown[0])[:40]!r}")
    out = {}
    for key, value in roles.items():
        if key in ("revenue", "drop"):
            if value is None:
                value = []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value) \
                    or len(value) > 1000:
                raise RolesError(f"{key} must be a list of column names")
        elif value is not None and (not isinstance(value, str) or len(value) > 200):
            raise RolesError(f"{key} must be a column name or empty")
        out[key] = value if value is not None else NONE
    if out.get("tenure_unit", "months") not in TENURE_UNITS:
        raise RolesError("tenure unit must be one of " + ", ".join(TENURE_UNITS))
    if out.get("revenue_period", "month") not in REVENUE_PERIODS:
        raise RolesError("revenue period must be one of " + ", ".join(REVENUE_PERIODS))
    if out.get("customer_word", "customer") not in CUSTOMER_WORDS:
        raise RolesError("the word for a customer must be one of " + ", ".join(CUSTOMER_WORDS))
    if len(out.get("currency", "$")) > 5:
        raise RolesError("the currency is a symbol or code of at most 5 characters")
    return out


def apply_roles(base: DatasetConfig, roles: dict, sheet: str | None = None) -> DatasetConfig:
    """`base` (the inferred config) with the analyst's roles in place."""
    get = roles.get
    label = get("label", base.label_column or NONE) or None
    churned = get("churned", NONE)
    if label != base.label_column:
        churned = churned or NONE
    revenue = tuple(get("revenue", list(base.revenue_columns)))
    tenure = get("tenure", base.tenure_column or NONE) or None
    roles_used = {c for c in (get("id", NONE), label, tenure, *revenue) if c}
    drop = tuple(c for c in get("drop", list(base.drop_columns)) if c not in roles_used)
    numeric = tuple(dict.fromkeys(c for c in (tenure, *revenue) if c))
    actionable = tuple(a for a in base.actionable if a.column not in set(drop) | roles_used)
    return replace(base, id_column=get("id", base.id_column or NONE) or None,
                   label_column=label, churned_values=(churned,) if churned else (),
                   end_date_column=None if label else base.end_date_column,
                   revenue_columns=revenue,
                   revenue_period=get("revenue_period", base.revenue_period),
                   tenure_column=tenure, tenure_unit=get("tenure_unit", base.tenure_unit),
                   drop_columns=drop, numeric_columns=numeric, actionable=actionable,
                   customer_word=get("customer_word", base.customer_word),
                   currency=get("currency", base.currency) or "$",
                   sheet=sheet or base.sheet)


def _few_values(series) -> list[str]:
    """The distinct non-blank values of a column with few of them, as text."""
    from analytics.dataset import label_text, text_of

    if hasattr(series, "cat"):
        values = text_of(series.cat.remove_unused_categories()).unique()
    elif series.dtype.kind in "iuf":
        values = label_text(series.drop_duplicates()).unique()
    else:
        values = text_of(series).unique()
    return sorted(str(v) for v in values if str(v) not in ("", "nan"))


def churned_options(preview, label) -> list[dict]:
    """The churned-value choices for a label column (its distinct values, when few)."""
    values = (preview or {}).get("values", {}) if isinstance(preview, dict) else {}
    return [{"label": "(the usual yes/true/1)", "value": ""}] + [
        {"label": v, "value": v} for v in values.get(label, []) if isinstance(v, str)]


def _original(stored: str) -> str:
    """The upload's name as the analyst knows it ('bank-1a2b3c4d.csv' -> 'bank.csv')."""
    return re.sub(r"-[0-9a-f]{8}(\.[^.]+)$", r"\1", stored)


def _named(message: str, path: Path, stored: str) -> str:
    """A message that names the upload as the analyst knows it, never the server path."""
    return message.replace(str(path), _original(stored)).replace(stored, _original(stored))


def current() -> DatasetsService:
    return core.current().datasets
