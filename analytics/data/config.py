"""The dataset config: which column plays which role, read from and written to TOML.

A config says where the id, the label (or the end date), the monthly revenue and the tenure
are, which columns to use or drop, how columns are typed, which features a retention team
can change (the what-if) and what the business calls a customer. `analytics inspect` guesses
one (analytics/data/inspect.py); `--config FILE` gives one. Every field has a default, so a
config file only needs the lines that differ.

Example (see the README for every key)::

    [data]
    sheet = "Customers"          # Excel: the sheet to read (default: the first)

    [roles]
    id = "CustomerId"            # "" or absent: rows are numbered from 1 in file order
    label = "Exited"
    churned = ["1"]              # label values that mean churned (default: yes/true/1/...)
    tenure = "Tenure"
    tenure_unit = "years"        # days, weeks, months or years
    revenue = "Balance"          # a column, a list of columns (summed), or "" for none
    revenue_period = "year"      # day, week, month, quarter or year

    [features]
    drop = ["Surname", "RowNumber"]
    categorical = ["NumOfProducts"]
    drivers = ["Geography", "NumOfProducts"]

    [business]
    customer_word = "account"
    currency = "€"

    [[actionable]]
    column = "IsActiveMember"
    values = [0, 1]
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from analytics.errors import DataError

TENURE_UNITS = {"days": 12 / 365.25, "weeks": 12 / 52.1775, "months": 1.0, "years": 12.0}
REVENUE_PERIODS = {"day": 365.25 / 12, "week": 52.1775 / 12, "month": 1.0, "quarter": 1 / 3,
                   "year": 1 / 12}
CUSTOMER_WORDS = ("customer", "account", "subscriber", "member", "client", "user")


@dataclass(frozen=True)
class Actionable:
    """A feature a retention team can change, with its allowed values or range and cost.

    `values` (categorical) or `low`/`high`/`step` (numeric) bound what a what-if may set.
    `fixed` lists current values that cannot change (a customer without internet keeps
    'No internet service'). `cost` is a one-off cost per change, `monthly_cost` a cost per
    month for `months` months."""

    column: str
    values: tuple = ()
    low: float | None = None
    high: float | None = None
    step: float | None = None
    fixed: tuple = ()
    cost: float = 0.0
    monthly_cost: float = 0.0
    months: int = 0
    label: str = ""


TABLE_ROLES = ("one_to_one", "events", "tickets", "history", "outcome", "churn_events")
TIME_UNITS = {"hours": 1.0, "minutes": 1 / 60, "seconds": 1 / 3600, "days": 24.0}


@dataclass(frozen=True)
class TableConfig:
    """An extra table and how it links to the customers.

    `role`: ``one_to_one`` (joined on the id: its columns become features), ``events``
    (usage, logins, e-mails: windows, trends, recency), ``tickets`` (also resolution,
    satisfaction, escalations), ``history`` (subscriptions, plan changes: MRR, seats,
    upgrades), ``outcome`` (churn reasons, feedback written when leaving: never features)
    or ``churn_events`` (where churn comes from: the first churn event after the as-of date
    within the horizon; `reactivated` when an account came back).

    `key` is this table's column that links; `links_to` the table it links to ("" = the
    customers) and `parent_key` that table's column (default: the same name, or the id).
    The other fields name this table's columns of each role ("" = none)."""

    name: str
    file: str = ""                 # file in the data folder (default: <name>.csv)
    role: str = "events"
    key: str = ""
    links_to: str = ""
    parent_key: str = ""
    time: str = ""
    end: str = ""                  # history: when the row ended
    closed: str = ""               # tickets: when it was closed
    first_response: str = ""
    first_response_unit: str = "hours"
    resolution: str = ""
    resolution_unit: str = "hours"
    satisfaction: str = ""
    escalated: str = ""
    kind: str = ""                 # what kind of event (feature used, campaign...)
    text: str = ""
    mrr: str = ""
    seats: str = ""
    plan: str = ""
    change: str = ""               # upgrade/downgrade as text, or a signed number
    upgrade: str = ""              # ... or two flag columns
    downgrade: str = ""
    reason: str = ""               # outcome / churn events: the reason code
    reactivated: str = ""          # churn events: when the account came back
    measures: tuple = ()
    ratios: tuple = ()             # ((numerator, denominator), ...); "count" = rows
    unit: str = ""                 # the noun of one row: "ticket", "e-mail"
    period_days: int = 0           # a row sums a period starting at `time` (a usage week:
    #                                7): it is known only at the period's end

    @property
    def path_name(self) -> str:
        return self.file or f"{self.name}.csv"

    def columns(self) -> dict[str, str]:
        """role field -> source column, for the fields that name one."""
        names = ("key", "time", "end", "closed", "first_response", "resolution",
                 "satisfaction", "escalated", "kind", "text", "mrr", "seats", "plan",
                 "change", "upgrade", "downgrade", "reason", "reactivated")
        return {n: getattr(self, n) for n in names if getattr(self, n)}


@dataclass(frozen=True)
class DatasetConfig:
    """Which source column plays which role. Either `label_column` or `end_date_column`."""

    # Reading (None: sniffed from the file)
    sheet: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    decimal: str | None = None
    # Roles
    id_column: str | None = "customerID"       # None: rows numbered from 1
    label_column: str | None = "Churn"
    churned_values: tuple = ()                 # empty: the usual spellings of yes/true/1
    begin_date_column: str | None = None
    end_date_column: str | None = None
    active_end_values: tuple = ("No", "")
    as_of: str | None = None
    extraction_date: str | None = None
    revenue_columns: tuple = ("MonthlyCharges",)   # summed; empty: no revenue
    revenue_period: str = "month"
    revenue_table: str | None = None           # revenue = this history table's MRR in force
    tenure_column: str | None = "tenure"
    tenure_unit: str = "months"
    total_charges_column: str | None = "TotalCharges"   # spend to date: recomputed as of
    acquisition_cost_column: str | None = None
    acquisition_channel_column: str | None = None
    acquisition_costs: tuple = ()              # ((channel, cost), ...)
    # Features
    use_columns: tuple = ()                    # empty: every column not given a role
    drop_columns: tuple = ()
    categorical_columns: tuple = ()
    numeric_columns: tuple = ()
    drivers: tuple = ()                        # pinned drivers (filters, overview charts)
    actionable: tuple = ()                     # Actionable, ...
    keep_flagged: bool = False                 # train on columns the leakage check flags
    # Linked tables (a folder of files, or frames given in memory)
    main: str | None = None                    # the customers' file in a data folder
    tables: tuple = ()                         # TableConfig, ...
    horizon_days: int | None = None            # outcome window after the as-of date
    # Business words
    customer_word: str = "customer"
    currency: str = "$"
    offers: str | None = None                  # an offer catalogue for this data
    label_name: str = "Churn"

    @property
    def dated(self) -> bool:
        return self.end_date_column is not None or self.churn_table is not None

    @property
    def churn_table(self) -> TableConfig | None:
        """The churn-events table churn comes from, if any."""
        return next((t for t in self.tables if t.role == "churn_events"), None)

    @property
    def event_tables(self) -> tuple:
        return tuple(t for t in self.tables if t.role not in ("one_to_one", "churn_events"))

    def table(self, name: str) -> TableConfig | None:
        return next((t for t in self.tables if t.name == name), None)

    @property
    def has_revenue(self) -> bool:
        return bool(self.revenue_columns) or bool(self.revenue_table)

    @property
    def revenue_column(self) -> str | None:
        """The one column that is the monthly bill as the model sees it (offers discount
        it), when revenue is a single monthly column; else None."""
        if len(self.revenue_columns) == 1 and self.revenue_period == "month":
            return self.revenue_columns[0]
        return None

    @property
    def role_columns(self) -> set[str]:
        """Source columns that are roles, never features (tenure and revenue are both)."""
        return {c for c in (self.id_column, self.label_column, self.begin_date_column,
                            self.end_date_column, self.acquisition_cost_column) if c}

    def read_options(self) -> dict:
        """How the file is read (analytics/data/readers.read_table's keyword arguments)."""
        return {"sheet": self.sheet, "delimiter": self.delimiter, "encoding": self.encoding,
                "decimal": self.decimal}

    def actionable_for(self, column: str) -> Actionable | None:
        return next((a for a in self.actionable if a.column == column), None)

    def cost_by_channel(self) -> dict[str, float]:
        return {str(k): float(v) for k, v in self.acquisition_costs}

    def fingerprint(self) -> dict:
        """A JSON-safe dict of everything that changes the results (for cache keys)."""
        out = asdict(self)
        out["actionable"] = [asdict(a) for a in self.actionable]
        out["tables"] = [asdict(t) for t in self.tables]
        return out


# ----- TOML -------------------------------------------------------------------------------
# section.key in the file -> DatasetConfig field
_KEYS = {
    ("data", "sheet"): "sheet", ("data", "delimiter"): "delimiter",
    ("data", "encoding"): "encoding", ("data", "decimal"): "decimal",
    ("roles", "id"): "id_column", ("roles", "label"): "label_column",
    ("roles", "churned"): "churned_values", ("roles", "start_date"): "begin_date_column",
    ("roles", "end_date"): "end_date_column", ("roles", "active_end_values"):
        "active_end_values", ("roles", "as_of"): "as_of",
    ("roles", "extraction_date"): "extraction_date", ("roles", "revenue"): "revenue_columns",
    ("roles", "revenue_period"): "revenue_period", ("roles", "tenure"): "tenure_column",
    ("roles", "tenure_unit"): "tenure_unit", ("roles", "total_charges"):
        "total_charges_column", ("roles", "acquisition_cost"): "acquisition_cost_column",
    ("features", "use"): "use_columns", ("features", "drop"): "drop_columns",
    ("features", "categorical"): "categorical_columns", ("features", "numeric"):
        "numeric_columns", ("features", "drivers"): "drivers",
    ("features", "keep_flagged"): "keep_flagged",
    ("business", "customer_word"): "customer_word", ("business", "currency"): "currency",
    ("business", "offers"): "offers", ("business", "acquisition_channel"):
        "acquisition_channel_column", ("business", "acquisition_costs"): "acquisition_costs",
    ("business", "label_name"): "label_name",
    ("data", "main"): "main", ("roles", "horizon_days"): "horizon_days",
    ("roles", "revenue_table"): "revenue_table",
}
_LISTS = {"churned_values", "active_end_values", "revenue_columns", "use_columns",
          "drop_columns", "categorical_columns", "numeric_columns", "drivers"}
_OPTIONAL_TEXT = {"sheet", "delimiter", "encoding", "decimal", "id_column", "label_column",
                  "begin_date_column", "end_date_column", "as_of", "extraction_date",
                  "tenure_column", "total_charges_column", "acquisition_cost_column",
                  "acquisition_channel_column", "offers", "main", "revenue_table"}
_ACTIONABLE_KEYS = {f.name for f in fields(Actionable)}
_TABLE_KEYS = {f.name for f in fields(TableConfig)}
BLANK = DatasetConfig(id_column=None, label_column=None, revenue_columns=(),
                      tenure_column=None, total_charges_column=None)


def _bad(source: str, where: str, message: str, value=None) -> DataError:
    return DataError(f"{where}: {message}", file=source, column=where,
                     examples=[repr(value)] if value is not None else [])


def from_dict(doc: dict, source: str = "config") -> DatasetConfig:
    """A config from parsed TOML; DataError names the key and the bad value. Keys left out
    mean "none" for roles (a config states its roles), defaults for the rest."""
    values: dict = {}
    for section, body in doc.items():
        if section in ("actionable", "tables"):
            continue
        if not isinstance(body, dict):
            raise _bad(source, section, "expected a [section] table", body)
        for key, value in body.items():
            name = _KEYS.get((section, key))
            if name is None:
                known = ", ".join(sorted(k for s, k in _KEYS if s == section)) or "none"
                raise _bad(source, f"{section}.{key}", f"unknown key; keys of [{section}]: "
                           f"{known}")
            values[name] = _value(source, f"{section}.{key}", name, value)
    actionable = []
    for i, item in enumerate(doc.get("actionable", []) or []):
        where = f"actionable[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("column"), str):
            raise _bad(source, where, "each [[actionable]] needs column = \"name\"", item)
        unknown = set(item) - _ACTIONABLE_KEYS
        if unknown:
            raise _bad(source, f"{where}.{sorted(unknown)[0]}", "unknown key; keys: "
                       + ", ".join(sorted(_ACTIONABLE_KEYS)))
        item = dict(item)
        for key in ("values", "fixed"):
            if key in item:
                if not isinstance(item[key], list):
                    raise _bad(source, f"{where}.{key}", "must be a list", item[key])
                item[key] = tuple(str(v) for v in item[key])
        for key in ("low", "high", "step", "cost", "monthly_cost"):
            if key in item and (isinstance(item[key], bool)
                                or not isinstance(item[key], (int, float))):
                raise _bad(source, f"{where}.{key}", "must be a number", item[key])
        if item.get("cost", 0) < 0 or item.get("monthly_cost", 0) < 0:
            raise _bad(source, where, "costs cannot be negative")
        actionable.append(Actionable(**item))
    values["actionable"] = tuple(actionable)
    values["tables"] = tuple(_table(source, i, item)
                             for i, item in enumerate(doc.get("tables", []) or []))
    config = replace(BLANK, **values)
    return validate(config, source)


def _table(source: str, i: int, item) -> TableConfig:
    where = f"tables[{i}]"
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
        raise _bad(source, where, "each [[tables]] needs name = \"...\"", item)
    where = f"tables.{item['name']}"
    unknown = set(item) - _TABLE_KEYS
    if unknown:
        raise _bad(source, f"{where}.{sorted(unknown)[0]}", "unknown key; keys: "
                   + ", ".join(sorted(_TABLE_KEYS)))
    item = dict(item)
    for key, value in item.items():
        if key == "measures":
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise _bad(source, f"{where}.measures", "must be a list of column names", value)
            item[key] = tuple(value)
        elif key == "ratios":
            if not isinstance(value, list) or not all(
                    isinstance(v, list) and len(v) == 2 and all(isinstance(x, str) for x in v)
                    for v in value):
                raise _bad(source, f"{where}.ratios", 'must be pairs: [["errors", "count"]]',
                           value)
            item[key] = tuple(tuple(v) for v in value)
        elif key == "period_days":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 366:
                raise _bad(source, f"{where}.period_days", "must be a whole number of days "
                           "(0 to 366)", value)
        elif not isinstance(value, str):
            raise _bad(source, f"{where}.{key}", "must be text in quotes", value)
    if item.get("role", "events") not in TABLE_ROLES:
        raise _bad(source, f"{where}.role", "must be one of " + ", ".join(TABLE_ROLES),
                   item.get("role"))
    for key in ("first_response_unit", "resolution_unit"):
        if item.get(key, "hours") not in TIME_UNITS:
            raise _bad(source, f"{where}.{key}", "must be one of " + ", ".join(TIME_UNITS),
                       item[key])
    table = TableConfig(**item)
    if not table.key:
        raise _bad(source, f"{where}.key", "the column that links this table is needed")
    if table.role not in ("one_to_one",) and not table.time:
        raise _bad(source, f"{where}.time", f"a {table.role} table needs its date column "
                   '(time = "<column>")')
    return table


def _value(source: str, where: str, name: str, value):
    if name in _LISTS:
        if isinstance(value, str):
            value = [value] if value else []
        if not isinstance(value, list):
            raise _bad(source, where, "must be a list of names", value)
        return tuple(str(v) for v in value)
    if name == "acquisition_costs":
        if not isinstance(value, dict):
            raise _bad(source, where, "must be a table: { Channel = cost, ... }", value)
        pairs = []
        for key, cost in value.items():
            if isinstance(cost, bool) or not isinstance(cost, (int, float)) or cost < 0:
                raise _bad(source, f"{where}.{key}", "must be a number >= 0", cost)
            pairs.append((str(key), float(cost)))
        return tuple(pairs)
    if name == "horizon_days":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3660:
            raise _bad(source, where, "must be a whole number of days (1 to 3660)", value)
        return value
    if name == "keep_flagged":
        if not isinstance(value, bool):
            raise _bad(source, where, "must be true or false", value)
        return value
    if not isinstance(value, str):
        raise _bad(source, where, "must be text in quotes", value)
    if name in _OPTIONAL_TEXT and value.strip() == "":
        return None
    return value


def validate(config: DatasetConfig, source: str = "config") -> DatasetConfig:
    """DataError for values that cannot work whatever the data (units, periods, roles)."""
    if config.tenure_unit not in TENURE_UNITS:
        raise _bad(source, "roles.tenure_unit", "must be one of " + ", ".join(TENURE_UNITS),
                   config.tenure_unit)
    if config.revenue_period not in REVENUE_PERIODS:
        raise _bad(source, "roles.revenue_period", "must be one of "
                   + ", ".join(REVENUE_PERIODS), config.revenue_period)
    if config.label_column and config.end_date_column:
        raise _bad(source, "roles", "give either label or end_date, not both")
    names = [t.name for t in config.tables]
    for name in names:
        if names.count(name) > 1:
            raise _bad(source, f"tables.{name}", "two tables have this name")
    for t in config.tables:
        if t.links_to and t.links_to not in names:
            raise _bad(source, f"tables.{t.name}.links_to", "no table of this name; tables: "
                       + ", ".join(names), t.links_to)
        if t.links_to == t.name:
            raise _bad(source, f"tables.{t.name}.links_to", "a table cannot link to itself")
    _check_link_cycles(config, source)
    if config.revenue_table:
        table = config.table(config.revenue_table)
        if table is None or table.role != "history" or not table.mrr:
            raise _bad(source, "roles.revenue_table", "must name a history table with an mrr "
                       "column", config.revenue_table)
        if config.revenue_columns:
            raise _bad(source, "roles", "give either revenue or revenue_table, not both")
    churn = [t.name for t in config.tables if t.role == "churn_events"]
    if len(churn) > 1:
        raise _bad(source, "tables", "only one table can be the churn events", churn)
    if churn and (config.label_column or config.end_date_column):
        raise _bad(source, "roles", f"churn comes from the table '{churn[0]}': leave out "
                   "label and end_date (or the churn_events role)")
    if config.decimal not in (None, ".", ","):
        raise _bad(source, "data.decimal", 'must be "." or ","', config.decimal)
    if config.as_of:
        try:
            import datetime as _dt
            _dt.date.fromisoformat(config.as_of)
        except ValueError:
            raise _bad(source, "roles.as_of", "must be a date YYYY-MM-DD",
                       config.as_of) from None
    return config


def tables_from_dicts(tables: dict[str, dict], source: str = "tables") -> tuple:
    """TableConfigs from {name: {role: ..., key: ..., ...}} (the generators' descriptions)."""
    return tuple(_table(source, i, {"name": name, **body})
                 for i, (name, body) in enumerate(tables.items()))


def _check_link_cycles(config: DatasetConfig, source: str) -> None:
    parents = {t.name: t.links_to for t in config.tables}
    for name in parents:
        seen, at = [name], parents[name]
        while at:
            if at in seen:
                raise _bad(source, f"tables.{name}.links_to", "the links go round in a circle: "
                           + " -> ".join([*seen, at]))
            seen.append(at)
            at = parents.get(at, "")


def load_config(path: str | Path) -> DatasetConfig:
    """Read a config file; DataError names the file and the key at fault."""
    path = Path(path)
    if not path.is_file():
        raise DataError("config file not found", file=str(path))
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"not a valid TOML file ({exc})", file=str(path)) from None
    return from_dict(doc, source=str(path))


def to_dict(config: DatasetConfig) -> dict:
    """The config as TOML-ready nested dicts (only what differs from 'none')."""
    doc: dict = {}
    for (section, key), name in _KEYS.items():
        value = getattr(config, name)
        if name == "acquisition_costs":
            value = dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        blank = getattr(BLANK, name)
        if value is None or (value == (list(blank) if isinstance(blank, tuple) else blank)
                             and name not in ("id_column", "label_column")):
            continue
        if value is None or value == [] or value == {}:
            continue
        doc.setdefault(section, {})[key] = value
    if config.id_column is None:
        doc.setdefault("roles", {})["id"] = ""
    order = ("data", "roles", "features", "business")
    doc = {k: doc[k] for k in sorted(doc, key=lambda k: order.index(k) if k in order else 9)}
    items = []
    for a in config.actionable:
        item = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(a).items()
                if v not in (None, (), "", 0, 0.0) or k == "column"}
        items.append(item)
    if items:
        doc["actionable"] = items
    tables = []
    for t in config.tables:
        item = {"name": t.name}
        for f in fields(TableConfig):
            value = getattr(t, f.name)
            default = f.default
            if f.name == "name" or value == default:
                continue
            item[f.name] = [list(v) for v in value] if f.name == "ratios" else (
                list(value) if isinstance(value, tuple) else value)
        tables.append(item)
    if tables:
        doc["tables"] = tables
    return doc


def dumps(config: DatasetConfig, comments: dict[str, str] | None = None) -> str:
    """The config as TOML text; `comments` (role key -> reason) are written as comments."""
    import tomli_w

    doc = to_dict(config)
    text = tomli_w.dumps(doc)
    if not comments:
        return "# ChurnLens dataset config\n" + text
    lines = ["# ChurnLens dataset config (inferred by `python -m analytics inspect`;",
             "# check the roles, then use it with --config)"]
    section = None
    for line in text.splitlines():
        if line.startswith("["):
            section = line.strip("[] ")
        key = line.split("=", 1)[0].strip() if "=" in line else None
        reason = comments.get(f"{section}.{key}") if key else None
        lines.append(f"{line}  # {reason}" if reason else line)
    return "\n".join(lines) + "\n"
