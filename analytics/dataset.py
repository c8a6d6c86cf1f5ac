"""The dataset description and the one canonical customer table everything downstream uses.

A `DatasetConfig` (analytics/data/config.py) says which column is what (id, label or end date,
revenue, tenure or start date, features). `build_table` turns a raw frame plus a config into
a validated `CustomerTable`: features at one as-of date, the label, and a data-quality
report. Numbers are typed as numbers: a text column whose cells are nearly all numbers is
read as numbers (the rest reported as coerced to missing); the columns of a role (tenure,
revenue) are checked strictly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.data.config import REVENUE_PERIODS, TENURE_UNITS, DatasetConfig
from analytics.errors import DataError, row_examples

POSITIVE_LABELS = frozenset({"yes", "y", "true", "1", "1.0", "churn", "churned", "left"})
NEGATIVE_LABELS = frozenset({"no", "n", "false", "0", "0.0", "stayed", "active"})

# Canonical column names (reserved; a source column of the same name is refused).
ID = "customer_id"
CHURN = "churn"
ACTIVE = "active"
TENURE = "tenure_months"
MONTHLY = "monthly_charges"
DURATION = "duration_months"  # months observed: to churn, or to the extraction date (censored)
END_DATE = "end_date"  # dated data only: when a churner left (NaT while active); not a feature
# Which model scores a customer (analytics.model.CrossFittedModel): -1 the final model, k the
# fold model that did not see them in training.
SCORED_BY = "scored_by"
ACQUISITION = "acquisition_cost"  # what winning the customer cost (a column or per channel)
META_COLUMNS = (ID, CHURN, ACTIVE, TENURE, MONTHLY, DURATION, SCORED_BY, ACQUISITION)
# A text column is read as numbers when at least this share of its non-blank cells are.
NUMERIC_SHARE = 0.98
BOOLEAN_PAIRS = ({"true", "false"}, {"yes", "no"}, {"y", "n"}, {"t", "f"})

# Plausibility limits of the numbers read. A number larger in size than MAX_ABS_VALUE (or
# infinite) is a typo, an overflow or a sentinel, never a charge or a count; a tenure above
# MAX_TENURE_MONTHS (100 years) is not a customer's tenure. Refused with the rows at fault.
MAX_ABS_VALUE = 1e12
MAX_TENURE_MONTHS = 1200
# A file with more columns than this is refused before any work on it (the model itself uses
# at most analytics.pipeline.MAX_FEATURES of them).
MAX_COLUMNS = 1000


@dataclass
class DataQuality:
    """What happened to the rows and cells on the way in."""

    rows_read: int = 0
    rows_used_for_training: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    coerced: dict[str, int] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"rows_read": self.rows_read, "rows_used_for_training": self.rows_used_for_training,
                "dropped": dict(self.dropped), "coerced": dict(self.coerced),
                "missing": dict(self.missing), "notes": list(self.notes)}


@dataclass
class CustomerTable:
    """One row per customer (`customers`) and the labelled rows to learn from (`training`).

    `customers` holds the features each customer has now (at the extraction date);
    `training` holds features at the as-of date, before the churn window. Without dates the
    two are the same frame.
    """

    source: str
    customers: pd.DataFrame
    training: pd.DataFrame
    categorical: list[str]
    numeric: list[str]
    quality: DataQuality
    as_of: str | None = None
    extraction_date: str | None = None
    # The source column the label comes from (the label, or the end date of dated data), so
    # later checks (enough churners to learn from) can name it.
    label_column: str | None = None
    config: DatasetConfig | None = None
    # How the file was read (format, delimiter, encoding...) and, when the config was
    # inferred, the guesses with their reasons (analytics/data/inspect.py).
    read_info: dict | None = None
    inspection: dict | None = None
    # Linked tables and the behavioural features made from them (analytics/data/assemble.py).
    behaviour: object | None = None

    @property
    def features(self) -> list[str]:
        return self.categorical + self.numeric


NUMBER_PATTERN = r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"


def _refuse_huge(values: pd.Series, raw: pd.DataFrame, column: str, source: str) -> None:
    """DataError for numbers larger in size than MAX_ABS_VALUE (also inf and -inf)."""
    huge = values.abs().gt(MAX_ABS_VALUE).to_numpy()
    if huge.any():
        idx = np.flatnonzero(huge)
        raise DataError(f"{len(idx)} value(s) infinite or larger than {MAX_ABS_VALUE:g} in "
                        "size; a number this large is a typo or an overflow: fix the cell or "
                        "leave it blank", file=source, column=column,
                        examples=row_examples(_short(raw[column].iloc[idx]), idx + 2))


def _coerce_numeric(raw: pd.DataFrame, column: str, source: str, quality: DataQuality) -> pd.Series:
    if pd.api.types.is_numeric_dtype(raw[column]) and not pd.api.types.is_bool_dtype(raw[column]):
        values = raw[column].astype(float)
        _refuse_huge(values, raw, column, source)
        if values.isna().any():
            quality.coerced[f"{column}: blank -> missing"] = int(values.isna().sum())
        return values
    text = raw[column].astype(str).str.strip()
    blank = text.isin(["", "nan", "NaN", "None"])
    values = pd.to_numeric(text.where(~blank), errors="coerce")
    bad = values.isna() & ~blank
    if bad.any():
        # Digits too long for a float (a 400-digit integer) are "too large", not "non-numeric".
        overflow = bad & text.str.fullmatch(NUMBER_PATTERN)
        idx = np.flatnonzero((bad & ~overflow).to_numpy())
        if len(idx):
            raise DataError(f"{len(idx)} non-numeric value(s) in a numeric column", file=source,
                            column=column, examples=row_examples(raw[column].iloc[idx], idx + 2))
        values = values.where(~overflow, np.inf)
    _refuse_huge(values, raw, column, source)
    if blank.any():
        quality.coerced[f"{column}: blank -> missing"] = int(blank.sum())
    return values.astype(float)


def _short(values: pd.Series, width: int = 24) -> list[str]:
    """Cells as text, long ones cut ('9999...9999 (400 characters)') for a readable message."""
    out = []
    for value in values.astype(str):
        out.append(value if len(value) <= width else
                   f"{value[:8]}...{value[-8:]} ({len(value)} characters)")
    return out


def _check_range(values: pd.Series, raw: pd.DataFrame, column: str, source: str, *,
                 what: str, required: bool, maximum: float | None = None) -> None:
    """Refuse missing (when `required`), negative and (above `maximum`) absurd values."""
    checks = [(values.isna(), "missing or non-numeric value(s); every customer needs a "
               f"{what}")] if required else []
    checks.append((values < 0, f"negative value(s); a {what} cannot be negative"))
    if maximum is not None:
        checks.append((values > maximum, f"value(s) above {maximum:g}; not a plausible {what}"))
    for mask, message in checks:
        if mask.any():
            idx = np.flatnonzero(mask.to_numpy())
            raise DataError(f"{len(idx)} {message}", file=source, column=column,
                            examples=row_examples(raw[column].iloc[idx], idx + 2))


def text_of(series: pd.Series) -> pd.Series:
    """Cells as stripped text ('' for missing). A categorical column is converted through
    its categories (a take per row, not a string operation per row: 1M rows in ~20 ms)."""
    if isinstance(series.dtype, pd.CategoricalDtype) and len(
            series.cat.categories) <= len(series):
        categories = series.cat.categories.astype(str).str.strip().to_numpy(dtype=object)
        codes = series.cat.codes.to_numpy()
        values = np.append(categories, "")[np.where(codes >= 0, codes, len(categories))]
        return pd.Series(values, index=series.index, dtype=object)
    if isinstance(series.dtype, pd.CategoricalDtype):
        # More categories than rows (an id column in a sample): the rows' own values. The
        # readers strip text cells; other categoricals are stripped.
        values = series.astype(object)
        return values.where(series.notna(), "").astype(str).str.strip()
    if series.dtype == object and len(series) > 10_000:
        # Each distinct value stripped once (event tables repeat dates, codes and words).
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        stripped = pd.Index(uniques).astype(str).str.strip().to_numpy(dtype=object)
        values = np.append(stripped, "")[np.where(codes >= 0, codes, len(stripped))]
        return pd.Series(values, index=series.index, dtype=object)
    if series.dtype == object:  # a missing cell is '' here as well, not 'None' or 'nan'
        series = series.where(series.notna(), "")
    return series.astype(str).str.strip()


def numbers_of(series: pd.Series) -> pd.Series:
    """Text cells as numbers (NaN where not one); categorical columns through their
    categories."""
    if isinstance(series.dtype, pd.CategoricalDtype) and len(
            series.cat.categories) <= len(series):
        categories = pd.to_numeric(pd.Series(series.cat.categories.astype(str).str.strip()),
                                   errors="coerce").to_numpy(dtype=float)
        codes = series.cat.codes.to_numpy()
        values = np.append(categories, np.nan)[np.where(codes >= 0, codes, len(categories))]
        return pd.Series(values, index=series.index)
    if series.dtype == object and len(series) > 10_000:
        # Each distinct text parsed once (tenures, prices and codes repeat): 5x faster.
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        parsed = pd.to_numeric(pd.Index(uniques).astype(str).str.strip(),
                               errors="coerce").to_numpy(dtype=float)
        values = np.append(parsed, np.nan)[np.where(codes >= 0, codes, len(parsed))]
        return pd.Series(values, index=series.index)
    return pd.to_numeric(series.astype(str).str.strip() if not
                         pd.api.types.is_numeric_dtype(series) else series, errors="coerce")


def label_text(series: pd.Series) -> pd.Series:
    """Label cells as lower-case text; whole numbers without a decimal part ('1', not '1.0')."""
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.astype(float)
        whole = values.dropna().mod(1).eq(0).all()
        text = (values.astype("Int64").astype(str) if whole else values.astype(str))
        return text.str.lower().replace({"<na>": ""})
    return series.astype(str).str.strip().str.lower()


def _parse_label(raw: pd.DataFrame, column: str, source: str,
                 churned: tuple = ()) -> np.ndarray:
    text = label_text(raw[column])
    if churned:
        wanted = {str(v).strip().lower() for v in churned}
        wanted |= {w[:-2] for w in wanted if w.endswith(".0")}
        pos = text.isin(wanted)
        neg = ~pos & text.ne("")
        values = sorted(set(text.unique()) - wanted - {""})
        if pos.any() and len(values) > 1:
            found = sorted(raw[column].astype(str).unique().tolist())[:10]
            idx = np.flatnonzero(~pos.to_numpy())
            raise DataError(f"the label has more than two values ({found}); churned = "
                            f"{list(churned)} leaves several others", file=source,
                            column=column, examples=row_examples(raw[column].iloc[idx], idx + 2))
    else:
        pos = text.isin(POSITIVE_LABELS)
        neg = text.isin(NEGATIVE_LABELS)
    unknown = ~(pos | neg)
    if unknown.any():
        found = sorted(raw[column].astype(str).unique().tolist())[:10]
        idx = np.flatnonzero(unknown.to_numpy())
        raise DataError(f"unrecognised churn labels; values found: {found}; expected yes/no, "
                        "true/false or 1/0 (or say which values mean churned: [roles] "
                        "churned = [...])", file=source, column=column,
                        examples=row_examples(raw[column].iloc[idx], idx + 2))
    if churned and not pos.any():
        raise DataError(f"no row has the churned value(s) {list(churned)}; values found: "
                        f"{sorted(raw[column].astype(str).unique().tolist())[:10]}",
                        file=source, column=column)
    return pos.to_numpy().astype(np.int8)


def _parse_dates(raw: pd.DataFrame, column: str, source: str, allowed_text=()) -> pd.Series:
    text = raw[column].astype(str).str.strip()
    special = text.isin(list(allowed_text))
    dates = pd.to_datetime(text.where(~special), errors="coerce", format="mixed")
    bad = dates.isna() & ~special
    if bad.any():
        idx = np.flatnonzero(bad.to_numpy())
        raise DataError(f"{len(idx)} value(s) that are not dates", file=source, column=column,
                        examples=row_examples(raw[column].iloc[idx], idx + 2))
    return dates


def _months_between(start: pd.Series, end: pd.Series | pd.Timestamp) -> np.ndarray:
    if isinstance(end, pd.Timestamp):
        months = (end.year - start.dt.year) * 12 + (end.month - start.dt.month)
        months = months - (start.dt.day > end.day).astype(int)
    else:
        months = (end.dt.year - start.dt.year) * 12 + (end.dt.month - start.dt.month)
        months = months - (start.dt.day > end.dt.day).astype(int)
    return months.to_numpy(dtype=float)


def _check_required(raw: pd.DataFrame, spec: DatasetConfig, source: str) -> None:
    from analytics.data.inspect import check_config

    check_config(raw, spec, source)
    if spec.dated and not (spec.begin_date_column or spec.tenure_column):
        raise DataError("dated data needs a start date (or a tenure column): set "
                        '[roles] start_date = "<column>"', file=source)
    # A role column may have any name ("churn", "customer_id"); a feature may not take the
    # name of a column ChurnLens adds (the revenue and tenure columns hold the same values).
    roles = spec.role_columns | set(spec.drop_columns) | {spec.tenure_column,
                                                          *spec.revenue_columns}
    clash = [c for c in raw.columns if c in META_COLUMNS and c not in roles]
    if clash:
        raise DataError("column name is reserved by ChurnLens: rename it, or leave it out "
                        f'with [features] drop = ["{clash[0]}"]', file=source,
                        column=clash[0])


def _check_ids(raw: pd.DataFrame, column: str | None, source: str) -> pd.Series:
    if column is None:  # no id column: rows are numbered from 1 in file order
        return pd.Series(np.arange(1, len(raw) + 1).astype(str))
    series = raw[column]
    if pd.api.types.is_float_dtype(series) and series.dropna().mod(1).eq(0).all():
        series = series.astype("Int64")  # 15634602.0 -> 15634602
    ids = series.astype(str).str.strip().replace({"<NA>": ""})
    blank = ids.eq("") | raw[column].isna()
    if blank.any():
        idx = np.flatnonzero(blank.to_numpy())
        raise DataError(f"{len(idx)} empty customer id(s)", file=source, column=column,
                        examples=[f"row {i + 2}" for i in idx[:3]])
    dup = ids.duplicated(keep=False)
    if dup.any():
        idx = np.flatnonzero(dup.to_numpy())
        raise DataError(f"{int(ids.duplicated().sum())} duplicate customer id(s)", file=source,
                        column=column, examples=row_examples(ids.iloc[idx], idx + 2))
    return ids


def _typed_feature(raw: pd.DataFrame, column: str, spec: DatasetConfig, source: str,
                   quality: DataQuality) -> np.ndarray:
    """One feature column, typed: numbers as float, text as stripped strings; a text column
    of nearly all numbers as numbers (the rest coerced to missing and reported); booleans in
    any usual spelling as Yes/No; `categorical_columns` as text whatever they hold."""
    series = raw[column]
    if column in spec.categorical_columns:
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            return label_text(series).replace({"nan": ""}).to_numpy(dtype=object)
        return series.astype(str).str.strip().to_numpy(dtype=object)
    if pd.api.types.is_bool_dtype(series):
        return np.where(series.to_numpy(dtype=bool), "Yes", "No").astype(object)
    if pd.api.types.is_numeric_dtype(series):
        return series.to_numpy(dtype=float)
    text = text_of(series)
    if hasattr(series, "cat") and len(series.cat.categories) <= 2:
        distinct = {str(c).strip().lower() for c in series.cat.categories} - {""}
    else:
        distinct = set(text.head(1000).str.lower().unique()) - {""}
        if len(distinct) <= 2:
            distinct = set(text.str.lower().unique()) - {""}
    if len(distinct) == 2 and distinct in BOOLEAN_PAIRS and distinct != {"yes", "no"}:
        low = text.str.lower()
        yes = low.isin({"true", "yes", "y", "t"})
        return np.where(low.eq(""), "", np.where(yes, "Yes", "No")).astype(object)
    blank = text.isin(["", "nan", "NaN", "None", "NA", "N/A", "null"])
    filled = int((~blank).sum())
    forced = column in spec.numeric_columns
    if filled and (forced or len(distinct) > 2):
        values = numbers_of(series).where(~blank)
        bad = values.isna() & ~blank
        share = 1 - bad.sum() / filled
        if forced or share >= NUMERIC_SHARE:
            if bad.any():
                idx = np.flatnonzero(bad.to_numpy())
                shown = ", ".join(row_examples(series.iloc[idx], idx + 2)[:2])
                quality.coerced[f"{column}: not a number -> missing (e.g. {shown})"] = len(idx)
            if blank.any():
                quality.coerced[f"{column}: blank -> missing"] = int(blank.sum())
            huge = values.abs().gt(MAX_ABS_VALUE)
            if huge.any():
                quality.coerced[f"{column}: larger than {MAX_ABS_VALUE:g} -> missing"] = int(
                    huge.sum())
                values = values.where(~huge)
            return values.to_numpy(dtype=float)
    return text.to_numpy(dtype=object)


def _revenue(raw: pd.DataFrame, spec: DatasetConfig, source: str, numeric_values: dict,
             quality: DataQuality) -> np.ndarray:
    """Monthly revenue: the revenue column(s) summed, converted from their period; NaN for
    every customer when the data has none."""
    if not spec.revenue_columns:
        quality.notes.append("no revenue column: ARPU, CLV, revenue at risk and expected "
                             "profit are left out")
        return np.full(len(raw), np.nan)
    total = np.zeros(len(raw))
    what = "monthly revenue" if spec.revenue_period == "month" else "revenue"
    for column in spec.revenue_columns:
        values = numeric_values[column]
        _check_range(values, raw, column, source, what=what, required=True)
        total = total + values.to_numpy()
    factor = REVENUE_PERIODS[spec.revenue_period]
    if factor != 1.0:
        quality.notes.append(f"revenue ({' + '.join(spec.revenue_columns)}) is per "
                             f"{spec.revenue_period}: divided into monthly revenue")
    return total * factor


@dataclass
class Outcome:
    """Churn worked out from a churn-events table (analytics/data/links.py): `end` the date a
    customer is gone since (NaT while active now), `label` churn within the horizon after
    the as-of date (1/0), -1 for customers not active at the as-of date (not trained on)."""

    end: pd.Series
    label: np.ndarray


def positional(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with a RangeIndex: itself when it has one already (`reset_index` copies every
    column: 0.5 GB of a million customers' raw file). For frames the caller does not modify."""
    if frame.index.equals(pd.RangeIndex(len(frame))):
        return frame
    return frame.reset_index(drop=True)


def build_table(raw: pd.DataFrame, spec: DatasetConfig, source: str,
                outcome: Outcome | None = None) -> CustomerTable:
    """Validate `raw` against `spec` and return the canonical customer table."""
    if raw.empty:
        raise DataError("the file has a header but no data rows", file=source)
    if raw.shape[1] > MAX_COLUMNS:
        raise DataError(f"{raw.shape[1]:,} columns, more than the {MAX_COLUMNS:,} ChurnLens "
                        "reads; keep the id, label, tenure and charges columns and the ones "
                        "worth learning from (delete the others in a spreadsheet, or with "
                        "pandas: df.drop(columns=[...]).to_csv(...))", file=source)
    raw = positional(raw)
    _check_required(raw, spec, source)
    quality = DataQuality(rows_read=len(raw))
    ids = _check_ids(raw, spec.id_column, source)

    skip = {spec.tenure_column, spec.total_charges_column} if spec.dated else set()
    strict = dict.fromkeys((*spec.numeric_columns, *spec.revenue_columns,
                            spec.tenure_column, spec.acquisition_cost_column))
    numeric_values = {column: _coerce_numeric(raw, column, source, quality)
                      for column in strict
                      if column and column in raw.columns and column not in skip
                      and column not in spec.categorical_columns}
    monthly = _revenue(raw, spec, source, numeric_values, quality)
    tenure_months = None
    if not spec.dated and spec.tenure_column:
        factor = TENURE_UNITS[spec.tenure_unit]
        values = numeric_values[spec.tenure_column]
        _check_range(values, raw, spec.tenure_column, source,
                     what=f"tenure ({spec.tenure_unit} as a customer)", required=True,
                     maximum=MAX_TENURE_MONTHS / factor)
        tenure_months = values.to_numpy() * factor
        if factor != 1.0:
            quality.notes.append(f"tenure `{spec.tenure_column}` is in {spec.tenure_unit}: "
                                 "converted to months for tenure bands, survival and CLV")

    roles = spec.role_columns | set(spec.drop_columns)
    feature_cols = [c for c in raw.columns if c not in roles
                    and (not spec.use_columns or c in spec.use_columns
                         or c in (spec.tenure_column, *spec.revenue_columns))]
    if spec.dated and spec.tenure_column and spec.tenure_column not in feature_cols:
        feature_cols.append(spec.tenure_column)  # computed from the dates below
    # Built in one go: inserting hundreds of columns one by one fragments the frame.
    columns = {ID: ids.to_numpy()}
    for column in feature_cols:
        if column not in raw.columns or column in skip:
            columns[column] = np.full(len(raw), np.nan)  # filled from the dates later
        elif column in numeric_values:
            columns[column] = numeric_values[column].to_numpy()
        else:
            columns[column] = _typed_feature(raw, column, spec, source, quality)
    columns[MONTHLY] = monthly
    if spec.acquisition_cost_column:
        columns[ACQUISITION] = numeric_values[spec.acquisition_cost_column].to_numpy()
    elif spec.acquisition_channel_column and spec.acquisition_costs:
        channel = raw[spec.acquisition_channel_column].astype(str).str.strip()
        columns[ACQUISITION] = channel.map(spec.cost_by_channel()).to_numpy(dtype=float)
    base = pd.DataFrame(columns)

    if spec.dated:
        customers, training, as_of, extraction = _dated_frames(raw, base, spec, source, quality,
                                                               outcome)
    else:
        label = _parse_label(raw, spec.label_column, source, spec.churned_values)
        base[CHURN] = label
        base[ACTIVE] = label == 0
        base[TENURE] = tenure_months if tenure_months is not None else np.nan
        base[DURATION] = base[TENURE]
        customers = training = base
        as_of = extraction = None
        if spec.total_charges_column in base.columns and tenure_months is not None:
            # Telco: a blank TotalCharges is a customer in their first month; nothing billed yet.
            miss = base[spec.total_charges_column].isna() & (base[TENURE] == 0)
            base.loc[miss, spec.total_charges_column] = 0.0
    classes = np.unique(training[CHURN])
    if len(classes) < 2:
        only = "churned" if classes[0] == 1 else "not churned"
        raise DataError(f"every one of the {len(training)} labelled customers is {only}; a "
                        "model needs both classes to learn from", file=source,
                        column=spec.label_column or spec.end_date_column)

    numeric = [c for c in feature_cols if pd.api.types.is_numeric_dtype(customers[c])]
    categorical = [c for c in feature_cols if c not in numeric]
    customers = _finish(customers, categorical)
    training = customers if training is base else _finish(training, categorical)
    quality.rows_used_for_training = len(training)
    quality.missing = {c: int(n) for c, n in customers[feature_cols].isna().sum().items() if n}
    return CustomerTable(source=source, customers=customers, training=training,
                         categorical=categorical, numeric=numeric, quality=quality,
                         as_of=as_of, extraction_date=extraction,
                         label_column=spec.label_column or spec.end_date_column, config=spec)


def _finish(frame: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    for column in categorical:
        frame[column] = frame[column].astype("category")
    frame[CHURN] = frame[CHURN].astype(np.int8)
    return frame


def _dated_frames(raw, base, spec: DatasetConfig, source: str, quality: DataQuality,
                  outcome: Outcome | None = None):
    """Features at the as-of date for training; at the extraction date for active customers.
    With a horizon, training customers are churners when they left within it."""
    if outcome is not None:
        end = outcome.end.reset_index(drop=True)
    else:
        end = _parse_dates(raw, spec.end_date_column, source,
                           allowed_text=spec.active_end_values)
    begin = _parse_dates(raw, spec.begin_date_column, source)
    churned = end.notna().to_numpy()
    if not churned.any() and outcome is None:
        raise DataError("no customer has an end date, so nobody churned; a model needs both "
                        "classes", file=source, column=spec.end_date_column)
    extraction = (pd.Timestamp(spec.extraction_date) if spec.extraction_date
                  else max(begin.max(), end.max()))
    too_long = _months_between(begin, end.fillna(extraction)) > MAX_TENURE_MONTHS
    if too_long.any():
        idx = np.flatnonzero(too_long)
        raise DataError(f"{len(idx)} customer(s) more than {MAX_TENURE_MONTHS} months between "
                        "this date and the end (or extraction) date; not a plausible tenure",
                        file=source, column=spec.begin_date_column,
                        examples=row_examples(raw[spec.begin_date_column].iloc[idx], idx + 2))
    first_churn = end.min() if churned.any() else extraction
    as_of = (pd.Timestamp(spec.as_of) if spec.as_of
             else pd.Timestamp(year=first_churn.year, month=first_churn.month, day=1))
    if outcome is not None:
        early = (outcome.label < 0) & (begin <= as_of).to_numpy()
        label = np.maximum(outcome.label, 0).astype(np.int8)
    else:
        early = churned & (end.to_numpy() < as_of.to_datetime64())
        label = churned.astype(np.int8)
        if spec.horizon_days:
            label = label & (end < as_of + pd.Timedelta(days=spec.horizon_days)).to_numpy()
    if early.any():
        quality.dropped["left before the as-of date"] = int(early.sum())
    started_late = (begin > as_of).to_numpy()
    if started_late.any():
        quality.dropped["started after the as-of date (scored, not trained on)"] = int(
            started_late.sum())

    def at(date_values, churn=churned.astype(np.int8)) -> pd.DataFrame:
        frame = base.copy()
        tenure = np.maximum(_months_between(begin, date_values), 0)
        frame[TENURE] = tenure
        if spec.tenure_column:
            frame[spec.tenure_column] = tenure
        if spec.total_charges_column in frame.columns:
            # Recomputed at the date: the extracted TotalCharges carries the outcome.
            frame[spec.total_charges_column] = np.round(tenure * frame[MONTHLY].to_numpy(), 2)
        frame[CHURN] = churn
        frame[ACTIVE] = ~churned
        frame[END_DATE] = end.to_numpy()
        return frame

    training = at(as_of, label)[~early & ~started_late]
    # Active customers are scored as of the extraction date; leavers as they were at as-of
    # (or at their end date when they left before it).
    leaver_date = end.where(end < as_of, as_of)
    customers = at(pd.Series(np.where(churned, leaver_date, extraction)).astype("datetime64[ns]"))
    # For survival curves: the whole observed duration, to the end date or to extraction.
    customers[DURATION] = np.maximum(_months_between(begin, end.fillna(extraction)), 0)
    window = (f"churn within {spec.horizon_days} days after it" if spec.horizon_days
              else "churn after it")
    quality.notes.append(f"features as of {as_of.date()} ({window}); active "
                         f"customers scored as of {extraction.date()}")
    return customers, training, str(as_of.date()), str(extraction.date())
