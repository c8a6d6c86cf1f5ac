"""Read the supported layouts into the canonical customer table.

- a Telco-layout CSV (one row per customer, a Churn column);
- an Interconnect folder (contract, personal, internet, phone CSVs joined on customerID,
  churn from EndDate, features at an as-of date before the churn window);
- the built-in demo data (no path).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pandas as pd

from analytics.dataset import CustomerTable, DatasetSpec, build_table
from analytics.errors import DataError

TELCO_SPEC = DatasetSpec()
INTERCONNECT_SPEC = DatasetSpec(label_column=None, begin_date_column="BeginDate",
                                end_date_column="EndDate", tenure_column="tenure")
INTERCONNECT_TABLES = ("contract", "personal", "internet", "phone")
INTERNET_ADDONS = ("OnlineSecurity", "OnlineBackup", "DeviceProtection", "TechSupport",
                   "StreamingTV", "StreamingMovies")


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


def load_telco(path: str | Path, spec: DatasetSpec = TELCO_SPEC) -> CustomerTable:
    """One CSV in the IBM Telco layout."""
    path = Path(path)
    return build_table(read_csv(path), spec, source=str(path))


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
    spec = replace(INTERCONNECT_SPEC, as_of=as_of)
    return build_table(read_interconnect(folder), spec, source=str(folder))


def load_demo(n_customers: int = 7043, seed: int = 0, with_dates: bool = False) -> CustomerTable:
    """The built-in synthetic telecom customers (deterministic for a seed)."""
    from analytics.demo import generate_demo

    raw = generate_demo(n_customers, seed=seed, with_dates=with_dates)
    spec = INTERCONNECT_SPEC if with_dates else TELCO_SPEC
    source = f"demo data ({n_customers:,} customers, seed {seed})"
    return build_table(raw, spec, source=source)


def load_path(path: str | Path | None, demo_size: int = 7043, seed: int = 0,
              as_of: str | None = None) -> CustomerTable:
    """A Telco CSV, an Interconnect folder, or (no path) the demo data."""
    if path is None or str(path) == "":
        return load_demo(demo_size, seed=seed)
    path = Path(path)
    if not path.exists():
        raise DataError("file or folder not found", file=str(path))
    if path.is_dir():
        present = [n for n in INTERCONNECT_TABLES if (path / f"{n}.csv").exists()]
        if not present:
            raise DataError("folder has none of contract.csv, personal.csv, internet.csv, "
                            "phone.csv (the Interconnect layout)", file=str(path))
        return load_interconnect(path, as_of=as_of)
    return load_telco(path)


def fingerprint(path: str | Path | None, demo_size: int = 7043, seed: int = 0) -> str:
    """A short hash of the input bytes (or of the demo parameters) for cache keys."""
    digest = hashlib.sha256()
    if path is None or str(path) == "":
        digest.update(f"demo:{demo_size}:{seed}".encode())
        return digest.hexdigest()[:16]
    path = Path(path)
    files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    for file in files:
        if not file.exists():
            continue
        digest.update(file.name.encode())
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]
