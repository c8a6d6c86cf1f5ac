"""Read the supported inputs into the canonical customer table.

- any churn table in one file (CSV with any delimiter and encoding, Excel, Parquet), with a
  dataset config (`--config`) or with one inferred from the file (analytics/data/inspect.py);
  a file in the IBM Telco layout gets the built-in Telco config;
- an Interconnect folder (contract, personal, internet, phone CSVs joined on customerID,
  churn from EndDate, features at an as-of date before the churn window);
- the built-in demo data (no path).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pandas as pd

from analytics.data.config import Actionable, DatasetConfig, load_config
from analytics.dataset import CustomerTable, build_table
from analytics.errors import DataError

INTERCONNECT_TABLES = ("contract", "personal", "internet", "phone")
INTERNET_ADDONS = ("OnlineSecurity", "OnlineBackup", "DeviceProtection", "TechSupport",
                   "StreamingTV", "StreamingMovies")
NO_INTERNET = "No internet service"
TELCO_ACTIONABLE = (
    Actionable("Contract", values=("Month-to-month", "One year", "Two year")),
    Actionable("PaymentMethod", values=("Bank transfer (automatic)", "Credit card (automatic)",
                                        "Electronic check", "Mailed check")),
    Actionable("PaperlessBilling", values=("No", "Yes")),
    *(Actionable(c, values=("No", "Yes"), fixed=(NO_INTERNET,)) for c in INTERNET_ADDONS),
)
# The built-in IBM Telco layout (also the demo data's): drivers pinned to the three the
# retention team reads first, the actionable features of its offers.
TELCO_CONFIG = DatasetConfig(numeric_columns=("tenure", "MonthlyCharges", "TotalCharges"),
                             drivers=("Contract", "InternetService", "PaymentMethod"),
                             actionable=TELCO_ACTIONABLE)
INTERCONNECT_CONFIG = replace(TELCO_CONFIG, label_column=None, begin_date_column="BeginDate",
                              end_date_column="EndDate")
# Kept for older callers.
TELCO_SPEC, INTERCONNECT_SPEC = TELCO_CONFIG, INTERCONNECT_CONFIG


def read_csv(path: Path) -> pd.DataFrame:
    """Read a CSV as text, keeping blanks as blanks; errors name the file."""
    if not path.exists():
        raise DataError("file not found", file=str(path))
    if path.is_dir():
        raise DataError("expected a CSV file but this is a folder", file=str(path))
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=False)
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty", file=str(path)) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"not a readable CSV file ({exc})", file=str(path)) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def load_telco(path: str | Path, spec: DatasetConfig = TELCO_CONFIG) -> CustomerTable:
    """One CSV in the IBM Telco layout."""
    path = Path(path)
    return build_table(read_csv(path), spec, source=str(path))


def is_telco_layout(columns) -> bool:
    from analytics.demo import TELCO_COLUMNS

    return set(TELCO_COLUMNS) <= {str(c) for c in columns}


def resolve_config(raw: pd.DataFrame, config: DatasetConfig | None, source: str):
    """(config, inspection or None): the given config, the Telco one for a Telco-layout
    file, or one inferred from the file (DataError listing every unsettled role)."""
    from analytics.data.inspect import inspect_frame

    if config is not None:
        return config, None
    if is_telco_layout(raw.columns):
        return TELCO_CONFIG, None
    inspection = inspect_frame(raw, source)
    inspection.raise_if_unsettled()
    return inspection.config, inspection


def read_best_sheet(path: Path, options: dict):
    """`read_table`; for a workbook of several sheets with none named, the first sheet
    that holds a churn label (a first sheet of notes is common), else the first."""
    from analytics.data.inspect import inspect_frame
    from analytics.data.readers import read_table

    raw, info = read_table(path, **options)
    if options.get("sheet") or len(info.sheets) < 2:
        return raw, info
    first = (raw, info)
    for sheet in info.sheets:
        if sheet != info.sheet:
            raw, info = read_table(path, **{**options, "sheet": sheet})
        if is_telco_layout(raw.columns) or any(
                g.role == "label" and g.column for g in inspect_frame(raw, str(path)).guesses):
            if info.sheet != first[1].sheet:
                info.note = (f"sheet '{info.sheet}', the first with a churn label "
                             f"('{first[1].sheet}' has none)")
            return raw, info
    return first


def load_file(path: str | Path, config: DatasetConfig | None = None,
              as_of: str | None = None) -> CustomerTable:
    """One file of any supported format, with `config` or an inferred one."""
    from analytics.data.readers import read_table

    path = Path(path)
    options = {} if config is None else config.read_options()
    raw, info = read_best_sheet(path, options)
    config, inspection = resolve_config(raw, config, str(path))
    if as_of:
        config = replace(config, as_of=as_of)
    table = build_table(raw, config, source=str(path))
    table.read_info = info.as_dict()
    if getattr(info, "note", None):
        table.read_info["note"] = info.note
        table.quality.notes.append(f"read {info.note}")
    table.inspection = None if inspection is None else {
        "guesses": [vars(g) for g in inspection.guesses], "excluded": inspection.excluded,
        "warnings": inspection.warnings}
    if inspection is not None:
        table.quality.notes.extend(f"inferred: {g.role} = {g.column} ({g.reason})"
                                   for g in inspection.guesses)
        table.quality.notes.extend(f"left out: {c} ({why})" for c, why in inspection.excluded)
        table.quality.notes.extend(f"warning: {w}" for w in inspection.warnings)
    return table


def read_interconnect(folder: str | Path) -> pd.DataFrame:
    """Join the four Interconnect tables into one Telco-like frame with BeginDate/EndDate."""
    folder = Path(folder)
    frames = {}
    for name in INTERCONNECT_TABLES:
        file = folder / f"{name}.csv"
        frames[name] = read_csv(file)
        if "customerID" not in frames[name].columns:
            raise DataError("required column is missing", file=str(file), column="customerID")
        dup = frames[name]["customerID"].duplicated()
        if dup.any():
            ids = frames[name]["customerID"][dup].head(3).tolist()
            raise DataError("duplicate customer ids", file=str(file), column="customerID",
                            examples=[repr(i) for i in ids])
    contract = frames["contract"].rename(columns={"Type": "Contract"})
    joined = contract.merge(frames["personal"], on="customerID", how="left", indicator=True)
    missing = joined["_merge"] == "left_only"
    if missing.any():
        raise DataError(f"{int(missing.sum())} customers of contract.csv are missing here",
                        file=str(folder / "personal.csv"), column="customerID",
                        examples=[repr(i) for i in joined.loc[missing, "customerID"].head(3)])
    joined = joined.drop(columns="_merge")
    internet = frames["internet"]
    phone = frames["phone"]
    joined = joined.merge(internet, on="customerID", how="left")
    joined = joined.merge(phone, on="customerID", how="left")
    has_internet = joined["customerID"].isin(internet["customerID"])
    has_phone = joined["customerID"].isin(phone["customerID"])
    joined["InternetService"] = joined["InternetService"].where(has_internet, "No")
    for column in INTERNET_ADDONS:
        if column in joined.columns:
            joined[column] = joined[column].where(has_internet, "No internet service")
    joined["PhoneService"] = has_phone.map({True: "Yes", False: "No"})
    joined["MultipleLines"] = joined["MultipleLines"].where(has_phone, "No phone service")
    return joined.reset_index(drop=True)


def load_interconnect(folder: str | Path, as_of: str | None = None) -> CustomerTable:
    """The four-table layout; features as of `as_of` (default: first day of the first churn month)."""
    folder = Path(folder)
    if not folder.exists():
        raise DataError("folder not found", file=str(folder))
    spec = replace(INTERCONNECT_CONFIG, as_of=as_of)
    return build_table(read_interconnect(folder), spec, source=str(folder))


def demo_events_config(as_of: str | None = None) -> DatasetConfig:
    """The demo's config with its event tables (usage, tickets, e-mails, plan changes and
    the leavers' feedback)."""
    from analytics.data.config import tables_from_dicts
    from analytics.data.demo_events import DEMO_EVENT_TABLES

    # The generated frame keeps the Telco label beside the dates: churn is the end date.
    return replace(INTERCONNECT_CONFIG, as_of=as_of, drop_columns=("Churn",),
                   tables=tables_from_dicts(DEMO_EVENT_TABLES, "demo"))


def load_demo(n_customers: int = 7043, seed: int = 0, with_dates: bool = False,
              events: bool = False, as_of: str | None = None,
              signal: bool = True, events_dir: str | Path | None = None) -> CustomerTable:
    """The built-in synthetic telecom customers (deterministic for a seed); with `events`,
    dated and with usage, tickets, e-mails and plan changes over the last year. With
    `events_dir`, the event tables are made and linked block by block of customers and kept
    there (analytics/data/streamed.py): one block's rows in memory, not the year's."""
    from analytics.demo import generate_demo

    source = f"demo data ({n_customers:,} customers, seed {seed})"
    if events:
        raw = generate_demo(n_customers, seed=seed, with_dates=True)
        source = f"demo data with behaviour ({n_customers:,} customers, seed {seed})"
        if events_dir is not None:
            from analytics.data.demo_events import demo_event_blocks
            from analytics.data.streamed import build_linked_blocks

            blocks = demo_event_blocks(raw, seed=seed, signal=signal, typed=True)
            # The text columns as categories, as a typed file would give them: the same
            # table, 190 MB less at 1,000,000 customers for as long as it is being built.
            raw = raw.astype({c: "category" for c in raw.columns
                              if raw[c].dtype == object and c != "customerID"})
            return build_linked_blocks(raw, demo_events_config(as_of), source, blocks,
                                       events_dir)
        from analytics.data.assemble import build_linked
        from analytics.data.demo_events import generate_demo_events

        frames = generate_demo_events(raw, seed=seed, signal=signal, typed=True)
        return build_linked(raw, demo_events_config(as_of), source, frames, consume=True)
    raw = generate_demo(n_customers, seed=seed, with_dates=with_dates)
    spec = INTERCONNECT_CONFIG if with_dates else TELCO_CONFIG
    return build_table(raw, spec, source=source)


def load_folder(folder: Path, config: DatasetConfig | None = None,
                as_of: str | None = None) -> CustomerTable:
    """A folder of linked tables: the customers' file and the tables the config names (with
    no config, the links `inspect` proposes when they are unambiguous)."""
    from analytics.data.assemble import build_linked
    from analytics.data.links import read_tables

    inspection = None
    if config is None or not config.tables:
        from analytics.data.folder import inspect_folder

        inspection = inspect_folder(folder)
        inspection.raise_if_unsettled()
        config = inspection.config if config is None else replace(
            config, tables=inspection.config.tables, main=config.main or
            inspection.config.main)
    if as_of:
        config = replace(config, as_of=as_of)
    if not config.main:
        raise DataError("a folder of tables needs the customers' file: [data] main = "
                        '"customers.csv"', file=folder.name)
    main = folder / config.main
    read = inspection.frames if inspection is not None else {}
    if config.main in read:      # read once: inspect has the folder's frames already
        raw, info = read[config.main], inspection.read_info[config.main]
    else:
        raw, info = read_best_sheet(main, config.read_options())
    raws = read_tables(config, folder, {t.name: read[t.path_name] for t in config.tables
                                        if t.path_name in read})
    table = build_linked(raw, config, f"{folder.name}/{config.main}", raws)
    table.read_info = info.as_dict()
    if inspection is not None:
        table.inspection = inspection.as_dict()
        table.quality.notes.extend(f"inferred: {line}" for line in inspection.lines())
    return table


def load_path(path: str | Path | None, demo_size: int = 7043, seed: int = 0,
              as_of: str | None = None,
              config: DatasetConfig | str | Path | None = None,
              demo_events: bool = False,
              events_dir: str | Path | None = None) -> CustomerTable:
    """A data file (with `config`, a config file path or an inferred config), a folder of
    linked tables (or the Interconnect folder), or (no path) the demo data, with event
    tables when `demo_events` (kept in `events_dir` when given, see load_demo)."""
    if isinstance(config, (str, Path)):
        config = load_config(config)
    if path is None or str(path) == "":
        return load_demo(demo_size, seed=seed, events=demo_events, as_of=as_of,
                         events_dir=events_dir)
    path = Path(path)
    if not path.exists():
        raise DataError("file or folder not found", file=str(path))
    if path.is_dir():
        present = [n for n in INTERCONNECT_TABLES if (path / f"{n}.csv").exists()]
        if "contract" in present and len(present) >= 2 and not (config and config.tables):
            return load_interconnect(path, as_of=as_of)
        return load_folder(path, config, as_of=as_of)
    if config is not None and config.tables:
        from analytics.data.assemble import build_linked
        from analytics.data.links import read_tables

        raw, info = read_best_sheet(path, config.read_options())
        if as_of:
            config = replace(config, as_of=as_of)
        table = build_linked(raw, config, str(path), read_tables(config, path.parent))
        table.read_info = info.as_dict()
        return table
    return load_file(path, config, as_of=as_of)


def fingerprint(path: str | Path | None, demo_size: int = 7043, seed: int = 0,
                config: str | Path | None = None, demo_events: bool = False) -> str:
    """A short hash of the input bytes (or of the demo parameters) for cache keys."""
    digest = hashlib.sha256()
    if path is None or str(path) == "":
        digest.update(f"demo:{demo_size}:{seed}" .encode()
                      + (b":events" if demo_events else b""))
        return digest.hexdigest()[:16]
    path = Path(path)
    files = (sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir()
             else [path])
    if config:
        files = [*files, Path(config)]
        if not path.is_dir() and Path(config).is_file():
            try:
                tables = load_config(config).tables
            except DataError:
                tables = ()
            files += [path.parent / t.path_name for t in tables]
    for file in files:
        if not file.exists():
            continue
        digest.update(file.name.encode())
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]
