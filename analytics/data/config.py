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
    # Business words
    customer_word: str = "customer"
    currency: str = "$"
    offers: str | None = None                  # an offer catalogue for this data
    label_name: str = "Churn"

    @property
    def dated(self) -> bool:
        return self.end_date_column is not None

    @property
    def has_revenue(self) -> bool:
        return bool(self.revenue_columns)

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
}
_LISTS = {"churned_values", "active_end_values", "revenue_columns", "use_columns",
          "drop_columns", "categorical_columns", "numeric_columns", "drivers"}
_OPTIONAL_TEXT = {"sheet", "delimiter", "encoding", "decimal", "id_column", "label_column",
                  "begin_date_column", "end_date_column", "as_of", "extraction_date",
                  "tenure_column", "total_charges_column", "acquisition_cost_column",
                  "acquisition_channel_column", "offers"}
_ACTIONABLE_KEYS = {f.name for f in fields(Actionable)}
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
        if section == "actionable":
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
    config = replace(BLANK, **values)
    return validate(config, source)


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
