"""`inspect` for a folder of linked tables: which file holds the customers, how every other
file links to them (directly on the id, or through another table: usage -> subscription ->
account), what each one is (events, tickets, a history, churn events, post-outcome
feedback) and which of its columns play which role, all from column names and contents.

The links come from shared column names: a table's column named like the customers' id
links it to them; one named like another table's unique key links it through that table.
When that is unambiguous the folder runs with the config written, unedited; otherwise the
problems say what to settle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from analytics.data.config import TableConfig, dumps
from analytics.data.inspect import (DATE_PATTERN, ID_NAME, START_DATE_NAME, Inspection,
                                    inspect_frame, profile)
from analytics.errors import DataError

DATA_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xls", ".parquet")
MAIN_NAME = re.compile(r"customer|account|client|user|member|subscriber|compan", re.I)
CHURN_NAME = re.compile(r"churn|cancel|exit|attrition|leav|termination", re.I)
TICKET_NAME = re.compile(r"ticket|support|case|complaint|incident|helpdesk", re.I)
HISTORY_NAME = re.compile(r"subscription|plan|contract|invoice|billing|order", re.I)
TIME_NAME = re.compile(r"date|time|_at$|^at_|timestamp|week|month|day|period", re.I)
ROLE_PATTERNS = {
    "closed": re.compile(r"closed|resolved.?(at|on|date)|solved", re.I),
    "end": re.compile(r"end|until|expir|cancel+ed.?(at|on)", re.I),
    "first_response": re.compile(r"first.?response|response.?time", re.I),
    "resolution": re.compile(r"resolution.?time|time.?to.?resol|handle.?time", re.I),
    "satisfaction": re.compile(r"satisf|csat|rating|nps|score", re.I),
    "escalated": re.compile(r"escalat", re.I),
    "mrr": re.compile(r"mrr|monthly|per.?month|price|amount", re.I),
    "seats": re.compile(r"seat|licen[cs]e|users?_count", re.I),
    "plan": re.compile(r"plan|tier|package|product", re.I),
    "upgrade": re.compile(r"upgrade", re.I),
    "downgrade": re.compile(r"downgrade", re.I),
    "change": re.compile(r"change.?type|^change$|direction", re.I),
    "reason": re.compile(r"reason", re.I),
    "reactivated": re.compile(r"reactivat|returned|came.?back|winback", re.I),
    "kind": re.compile(r"feature|type|category|campaign|channel|event.?name|action|topic|"
                       r"priority", re.I),
}
TIME_PREFERENCE = {"tickets": re.compile(r"submit|open|creat|raised|logged", re.I),
                   "history": re.compile(r"start|begin|from|changed|effective", re.I),
                   "churn_events": CHURN_NAME}


@dataclass
class FolderInspection:
    """What `inspect` found in a folder: the config it proposes, why, and what to settle."""

    folder: str
    config: object
    main: Inspection | None = None
    tables: list[dict] = field(default_factory=list)     # name, file, role, link, reason
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    frames: dict = field(default_factory=dict, repr=False)   # file name -> the frame read
    read_info: dict = field(default_factory=dict, repr=False)  # file name -> how it was read

    def raise_if_unsettled(self) -> None:
        if self.problems:
            raise DataError("the folder's tables could not be linked; write a config (python "
                            "-m analytics inspect --data FOLDER --out config.toml, edit it, "
                            "pass --config config.toml) or fix these:\n  - "
                            + "\n  - ".join(self.problems), file=self.folder)

    def lines(self) -> list[str]:
        out = [f"customers: {self.config.main}"]
        out += [f"{t['file']}: {t['role']}, {t['link']} ({t['reason']})" for t in self.tables]
        return out

    def report(self) -> str:
        lines = [f"{self.folder}: {len(self.tables) + 1} tables"]
        lines += [f"  {line}" for line in self.lines()]
        if self.main is not None:
            lines += ["", self.main.report()]
        lines += [f"  warning: {w}" for w in self.warnings]
        lines += [f"  PROBLEM: {p}" for p in self.problems]
        return "\n".join(lines)

    def toml(self) -> str:
        comments = self.main.comments() if self.main is not None else {}
        text = dumps(self.config, comments)
        for t in self.tables:
            text = text.replace(f'name = "{t["name"]}"\n',
                                f'name = "{t["name"]}"  # {t["role"]}: {t["reason"]}\n', 1)
        return text

    def as_dict(self) -> dict:
        return {"tables": self.tables, "problems": self.problems, "warnings": self.warnings,
                "main": self.config.main}


def data_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in DATA_SUFFIXES)


def _unique_keys(frame: pd.DataFrame) -> list[str]:
    """Columns named like an id whose values are unique and never blank."""
    out = []
    for column in frame.columns:
        if not ID_NAME.search(str(column)):
            continue
        series = frame[column]
        if series.isna().any() or not series.is_unique:
            continue
        out.append(str(column))
    return out


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def inspect_folder(folder: str | Path) -> FolderInspection:
    """The proposed config for a folder of linked tables."""
    from analytics.data.readers import read_table

    folder = Path(folder)
    files = data_files(folder)
    if not files:
        raise DataError("the folder holds no data file (.csv, .xlsx, .parquet): give a churn "
                        "file, a folder of linked tables, or the Interconnect layout "
                        "(contract.csv, personal.csv, internet.csv, phone.csv)",
                        file=folder.name)
    read = {p.name: read_table(p) for p in files}
    frames = {name: frame for name, (frame, _) in read.items()}
    keys = {name: _unique_keys(frame) for name, frame in frames.items()}
    result = FolderInspection(folder=folder.name, config=None, frames=frames,
                              read_info={name: info for name, (_, info) in read.items()})
    if len(files) == 1:
        raise DataError("the folder holds one file: pass the file itself with --data",
                        file=folder.name)
    main = _main_table(frames, keys, result)
    main_frame = frames[main]
    inspection = inspect_frame(main_frame, main)
    result.main = inspection
    id_column = inspection.config.id_column or (keys[main][0] if keys[main] else None)
    if id_column is None:
        result.problems.append(f"{main}: no unique id column to link the other tables on")
    tables = []
    for name, frame in frames.items():
        if name == main:
            continue
        table = _link(name, frame, main, id_column, frames, keys, result)
        if table is not None:
            tables.append(table)
    if inspection.config.label_column or inspection.config.end_date_column:
        # Churn is known from the customers' file: a churn table is what they said when
        # leaving (post-outcome), never where churn comes from.
        tables = [replace(t, role="outcome", reactivated="") if t.role == "churn_events"
                  else t for t in tables]
        for t in result.tables:
            if t["role"] == "churn_events":
                t.update(role="outcome", reason="written when leaving: never a feature")
    config = replace(inspection.config, main=main, tables=tuple(tables), id_column=id_column)
    churn = next((t for t in tables if t.role == "churn_events"), None)
    if churn is not None:
        inspection.problems = [p for p in inspection.problems if "no churn label" not in p]
        if not config.begin_date_column:
            start = _start_date(main_frame)
            if start is None:
                result.problems.append(f"{main}: churn comes from {churn.path_name}, which "
                                       "needs the customers' start date: set [roles] "
                                       'start_date = "<column>"')
            config = replace(config, begin_date_column=start)
        config = replace(config, drop_columns=tuple(c for c in config.drop_columns
                                                    if c != config.begin_date_column))
        inspection.excluded = [(c, why) for c, why in inspection.excluded
                               if c != config.begin_date_column]
    history = next((t for t in tables if t.role == "history" and t.mrr), None)
    if not config.revenue_columns and history is not None:
        config = replace(config, revenue_table=history.name)
        _reword(inspection, "revenue", history.name, f"the MRR in force in {history.path_name}"
                f" ({history.mrr})")
    if not config.tenure_column and config.begin_date_column:
        _reword(inspection, "tenure", None, f"from {config.begin_date_column} to the date each "
                f"{config.customer_word} is scored")
    result.problems += [f"{main}: {p}" for p in inspection.problems]
    result.warnings += inspection.warnings
    result.config = config
    return result


def _main_table(frames, keys, result) -> str:
    """The customers' table: its unique key is the one most other tables carry."""
    scores = []
    for name, frame in frames.items():
        columns = {_norm(str(c)) for c in frame.columns}
        refs = max((sum(_norm(k) in {_norm(str(c)) for c in other.columns}
                        for other_name, other in frames.items() if other_name != name)
                    for k in keys[name]), default=0)
        label = bool(columns & {"churn", "churned", "exited", "churnflag"})
        scores.append((refs, bool(MAIN_NAME.search(name)), label, -len(frame), name))
    scores.sort(reverse=True)
    if scores[0][0] == 0:
        result.problems.append("no table's unique id appears in the other tables: set "
                               '[data] main = "<customers file>" and the [[tables]] links')
    return scores[0][-1]


def _link(name, frame, main, id_column, frames, keys, result) -> TableConfig | None:
    columns = [str(c) for c in frame.columns]
    by_norm = {_norm(c): c for c in columns}
    stem = Path(name).stem
    table_name = re.sub(r"[^a-z0-9]+", "_", stem.lower()).strip("_") or "table"
    direct = by_norm.get(_norm(id_column)) if id_column else None
    links_to, key, parent_key, via = "", direct, "", None
    if direct is None:
        parents = []
        for other, other_keys in keys.items():
            if other in (name, main):
                continue
            for k in other_keys:
                if _norm(k) in by_norm and k not in keys[name]:
                    parents.append((other, k))
        if len(parents) > 1:
            shown = ", ".join(f"{p} ({k})" for p, k in parents)
            result.problems.append(f"{name}: links to several tables ({shown}); say which "
                                   "with links_to in its [[tables]]")
            return None
        if not parents:
            result.problems.append(f"{name}: shares no column with the customers' id "
                                   f"({id_column}) or another table's key; give its key "
                                   "and links_to in a [[tables]]")
            return None
        via, parent_key = parents[0]
        key = by_norm[_norm(parent_key)]
        links_to = re.sub(r"[^a-z0-9]+", "_", Path(via).stem.lower()).strip("_")
    kinds = {c["name"]: c for c in profile(frame)}
    dates = [c for c in columns if kinds[c]["kind"] == "date"
             or (TIME_NAME.search(c) and pd.api.types.is_datetime64_any_dtype(frame[c]))]
    one_per_key = frame[key].is_unique
    role = _role(stem, columns, dates, one_per_key)
    fields = {"name": table_name, "file": name, "role": role, "key": key,
              "links_to": links_to, "parent_key": parent_key if parent_key != key else ""}
    if role != "one_to_one":
        if not dates:
            result.problems.append(f"{name}: several rows per {id_column} but no date column "
                                   "to place them in time")
            return None
        preference = TIME_PREFERENCE.get(role)
        fields["time"] = next((d for d in dates if preference and preference.search(d)),
                              dates[0])
    taken = {key, fields.get("time")}
    for role_field, pattern in ROLE_PATTERNS.items():
        if not _applies(role, role_field):
            continue
        hits = [c for c in columns if c not in taken and pattern.search(c)
                and _fits(role_field, kinds[c], c in dates)]
        if hits:
            fields[role_field] = hits[0]
            taken.add(hits[0])
            if role_field in ("first_response", "resolution") and re.search("minute", hits[0],
                                                                             re.I):
                fields[f"{role_field}_unit"] = "minutes"
    if role in ("events", "tickets", "outcome", "churn_events"):
        texts = [c for c in columns if c not in taken
                 and kinds[c]["kind"] in ("text", "categorical")
                 and not ID_NAME.search(c) and _wordy(frame[c])]
        if texts:
            fields["text"] = texts[0]
            taken.add(texts[0])
    if role in ("events", "tickets"):
        measures = [c for c in columns if c not in taken and kinds[c]["kind"] == "numeric"
                    and not ID_NAME.search(c) and c not in keys[name]]
        fields["measures"] = tuple(measures[:6])
        errors = next((m for m in measures if re.search(r"error|fail|drop", m, re.I)), None)
        count = next((m for m in measures if re.search(r"count|uses?$|sessions", m, re.I)
                      and m != errors), None)
        if errors:
            fields["ratios"] = ((errors, count or "count"),)
    link = (f"linked on {key}" if not links_to else
            f"linked on {key} through {via} to the customers")
    reason = {"one_to_one": "one row per customer", "events": "dated rows per customer",
              "tickets": "named like support tickets", "history": "named like a "
              "subscription/plan history", "churn_events": "named like churn events: churn "
              "comes from here", "outcome": "written when leaving: never a feature"}[role]
    result.tables.append({"name": table_name, "file": name, "role": role, "link": link,
                          "reason": reason})
    return TableConfig(**{k: v for k, v in fields.items() if v not in ("", None, ())})


def _role(stem, columns, dates, one_per_key) -> str:
    if one_per_key and not dates:
        return "one_to_one"
    if CHURN_NAME.search(stem) and dates:
        return "churn_events"
    if TICKET_NAME.search(stem):
        return "tickets"
    if HISTORY_NAME.search(stem):
        return "history"
    if one_per_key and not any(TIME_NAME.search(d) for d in dates):
        return "one_to_one"
    return "events"


def _applies(role: str, role_field: str) -> bool:
    allowed = {"tickets": {"closed", "first_response", "resolution", "satisfaction",
                           "escalated", "kind"},
               "history": {"end", "mrr", "seats", "plan", "upgrade", "downgrade", "change"},
               "events": {"kind"}, "churn_events": {"reason", "reactivated"},
               "outcome": {"reason"}}
    return role_field in allowed.get(role, set())


def _fits(role_field: str, info: dict, is_date: bool) -> bool:
    if role_field in ("closed", "end", "reactivated"):
        return is_date
    if role_field in ("kind", "plan", "reason", "change"):
        return info["kind"] == "categorical" and info["distinct"] <= 500
    if role_field in ("upgrade", "downgrade", "escalated"):
        return info["distinct"] <= 2
    return info["kind"] == "numeric"


def _reword(inspection: Inspection, role: str, column, reason: str) -> None:
    for guess in inspection.guesses:
        if guess.role == role:
            guess.column, guess.reason = column, reason


def _wordy(series: pd.Series) -> bool:
    """Free text: cells of several words (not codes or ids)."""
    sample = series.dropna().astype(str).head(500)
    return bool(len(sample)) and sample.str.count(" ").mean() >= 2


def _start_date(frame: pd.DataFrame) -> str | None:
    for column in frame.columns:
        if START_DATE_NAME.search(str(column)):
            head = frame[column].astype(str).head(200)
            if head.str.match(DATE_PATTERN).mean() > 0.9:
                return str(column)
    return None
