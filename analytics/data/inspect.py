"""Guess a dataset config from the file itself, and say why.

`inspect_frame` looks at every column (on a sample of rows; the whole column where a guess
needs it, e.g. that an id is unique) and proposes the roles: the churn label and which value
means churned, the id, the monthly revenue, the tenure and its unit. It leaves out, with the
reason, columns that cannot be features: constant ones, text unique per row, and columns
known only after the outcome (churn reasons and scores, lifetime values, end dates, copies
of the label). `Inspection.problems` lists every role it could not settle; callers refuse to
guess then and show them all at once, with the config lines that settle them.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from analytics.data.config import BLANK, Actionable, DatasetConfig, dumps
from analytics.dataset import numbers_of, text_of
from analytics.errors import DataError

SAMPLE_ROWS = 100_000
POSITIVE_WORDS = ("yes", "y", "true", "t", "1", "1.0", "churn", "churned", "left", "exited",
                  "attrited", "cancelled", "canceled", "closed", "lost", "inactive", "gone")
NEGATIVE_WORDS = ("no", "n", "false", "f", "0", "0.0", "stayed", "active", "existing",
                  "retained", "current", "open", "kept")
LABEL_NAME = re.compile(r"churn|exited|attrition|attrited|cancel+ed|\bleft\b|^left|status|"
                        r"label|target|^y$|is_?lost|closed", re.I)
STRONG_LABEL = re.compile(r"churn|exited|attrition|attrited|cancel+ed|\bleft\b|^left", re.I)
ID_NAME = re.compile(r"(^|[^a-z])id$|^id|_id$|\bid\b|customer.?id|account.?id|client.?id|"
                     r"user.?id|member.?id|subscriber.?id|customer.?(no|number|code)|"
                     r"account.?(no|number)", re.I)
STRONG_ID = re.compile(r"^(customer|account|client|user|member|subscriber)?.?id$", re.I)
ROW_NUMBER = re.compile(r"^(row.?(number|num|no|id)|index|unnamed.*|#|no\.?|s\.?no)$", re.I)
MONTHLY_NAME = re.compile(r"monthly|mrr|per.?month|month.?(fee|charge|bill|price|amount)|"
                          r"\bmonthly\b", re.I)
REVENUE_NAME = re.compile(r"charge|fee|price|amount|revenue|bill|spend|arpu|payment.?amount|"
                          r"subscription.?(cost|price)", re.I)
CUMULATIVE = re.compile(r"^total.?charges?$|lifetime|to.?date|cumulative|\bltv\b|cltv|clv|"
                        r"total.?(revenue|spend|paid|amount)", re.I)
YEARLY = re.compile(r"annual|yearly|per.?year|\byear\b", re.I)
TENURE_NAME = re.compile(r"tenure|account.?length|months?.?(as|with|active|since)|"
                         r"customer.?since|member.?since|since|age.?of.?account|"
                         r"months.?on.?book|lifetime.?months|duration", re.I)
UNIT_IN_NAME = (("days", re.compile(r"days?\b|\(d\)|_d$", re.I)),
                ("weeks", re.compile(r"weeks?\b", re.I)),
                ("years", re.compile(r"years?\b|yrs?\b|\(y\)", re.I)),
                ("months", re.compile(r"months?\b|\bmo\b|\(m\)", re.I)))
# Known after the outcome: the outcome itself in other words, or what it caused.
POST_OUTCOME = re.compile(r"churn|exit|attrition|attrited|cancel|cltv|\bclv\b|\bltv\b|"
                          r"lifetime.?value|termination|end.?date|closed.?(date|on)|"
                          r"left.?(date|on)|reason.?(for|of).?leaving|leave.?reason", re.I)
END_DATE_NAME = re.compile(r"end.?date|enddate|termination|cancel|churn.?date|closed|"
                           r"left.?(date|on)|until", re.I)
START_DATE_NAME = re.compile(r"begin|start|signup|sign.?up|joined|since|created|"
                             r"activation|opened", re.I)
ACTIONABLE_NAME = re.compile(r"contract|plan\b|payment|billing|paperless|auto.?pay|"
                             r"online.?security|online.?backup|device.?protection|"
                             r"tech.?support|streaming|subscription.?type|package|"
                             r"is.?active.?member|num.?of.?products|products", re.I)
PERSONAL = re.compile(r"^(sur|first|last|full|given|family|user|customer|client)?.?name$|"
                      r"\be-?mail|phone.?(number|no)|mobile.?(number|no)|address|street|"
                      r"postcode|ip.?address", re.I)
NO_SERVICE = re.compile(r"^no .*service$", re.I)
DATE_PATTERN = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}|^\d{1,2}[/.]\d{1,2}[/.]\d{2,4}")


@dataclass
class Guess:
    role: str
    column: str | None
    reason: str
    candidates: list[str] = field(default_factory=list)


@dataclass
class Inspection:
    """What `inspect` found: the config it proposes and why."""

    source: str
    config: DatasetConfig
    guesses: list[Guess] = field(default_factory=list)
    excluded: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    columns: list[dict] = field(default_factory=list)
    label_balance: dict | None = None
    layout: str | None = None

    def comments(self) -> dict[str, str]:
        keys = {"label": "roles.label", "id": "roles.id", "revenue": "roles.revenue",
                "tenure": "roles.tenure", "tenure_unit": "roles.tenure_unit",
                "churned": "roles.churned", "end_date": "roles.end_date",
                "start_date": "roles.start_date"}
        return {keys[g.role]: g.reason for g in self.guesses if g.role in keys}

    def toml(self) -> str:
        text = dumps(self.config, self.comments())
        if self.excluded:
            text += "\n# Left out of the features:\n" + "".join(
                f"#   {c}: {why}\n" for c, why in self.excluded)
        return text

    def report(self) -> str:
        lines = [f"{self.source}: {len(self.columns)} columns"
                 + (f" ({self.layout})" if self.layout else "")]
        for g in self.guesses:
            shown = g.column if g.column is not None else "(none)"
            lines.append(f"  {g.role:<12} {shown!s:<28} {g.reason}")
        if self.label_balance:
            b = self.label_balance
            lines.append(f"  label balance: {b['churned']:,} churned, {b['stayed']:,} stayed "
                         f"({b['rate']:.1%} churn)")
        for column, why in self.excluded:
            lines.append(f"  left out    {column!s:<28} {why}")
        for warning in self.warnings:
            lines.append(f"  warning: {warning}")
        for problem in self.problems:
            lines.append(f"  PROBLEM: {problem}")
        return "\n".join(lines)

    def raise_if_unsettled(self) -> None:
        """DataError listing every role that could not be settled, with the fixes."""
        if self.problems:
            raise DataError("the file's roles could not be settled; write a config (python -m "
                            "analytics inspect --data FILE --out config.toml, edit it, pass "
                            "--config config.toml) or fix these:\n  - "
                            + "\n  - ".join(self.problems), file=self.source)


# ----- column profiles --------------------------------------------------------------------
def _text(series: pd.Series) -> pd.Series:
    return text_of(series)


def _numeric_view(series: pd.Series, text: pd.Series | None = None
                  ) -> tuple[pd.Series | None, float]:
    """(numbers, share of non-blank cells that are numbers) of a column."""
    if pd.api.types.is_bool_dtype(series):
        return None, 0.0
    if pd.api.types.is_numeric_dtype(series):
        return series.astype(float), 1.0
    text = _text(series) if text is None else text
    blank = text.isin(["", "nan", "NaN", "None", "NA", "N/A", "null"])
    filled = int((~blank).sum())
    if not filled:
        return None, 0.0
    head = text[~blank].head(200)
    if pd.to_numeric(head, errors="coerce").notna().mean() < 0.5:
        # Mostly text in a random sample of the rows: not numbers (parsing every cell of
        # an id column would cost more than the rest of the inspection).
        return None, float(pd.to_numeric(head, errors="coerce").notna().mean())
    values = numbers_of(series).where(~blank)
    share = float(values.notna().sum()) / filled
    return values, share


def profile(frame: pd.DataFrame) -> list[dict]:
    """Per column: kind (numeric, categorical, date, text), distinct values and examples, on
    a sample of up to SAMPLE_ROWS rows."""
    sample = frame if len(frame) <= SAMPLE_ROWS else frame.sample(SAMPLE_ROWS, random_state=0)
    out = []
    for column in frame.columns:
        series = sample[column]
        text = _text(series) if not pd.api.types.is_numeric_dtype(series) else None
        values, share = _numeric_view(series, text)
        blank = int(series.isna().sum()) if text is None else int(text.eq("").sum())
        distinct = int(series.nunique(dropna=True))
        if text is not None and text.eq("").any():
            distinct -= 1
        if distinct <= 1 and sample is not frame:  # a rare value the sample missed
            whole = frame[column]
            distinct = int(whole.nunique(dropna=True)) - int(
                text is not None and bool(_text(whole).eq("").any()))
        kind = "numeric" if share >= 0.98 else "categorical"
        if kind == "categorical" and text is not None:
            filled = text[text != ""]
            if len(filled) and filled.head(200).str.match(DATE_PATTERN).mean() > 0.9:
                kind = "date"
            elif distinct > 0.5 * max(len(filled), 1) and distinct > 50:
                kind = "text"
        head = series.dropna().drop_duplicates().head(10)
        examples = [v for v in head.astype(str).str.strip().tolist() if v][:3]
        out.append({"name": str(column), "kind": kind, "distinct": distinct, "blank": blank,
                    "numeric_share": round(share, 4), "examples": examples,
                    "dtype": str(frame[column].dtype)})
    return out


def _two_values(series: pd.Series) -> list[str] | None:
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        from analytics.dataset import label_text

        values = sorted(set(label_text(pd.Series(pd.unique(series.dropna())))) - {""})
    else:
        values = sorted(set(_text(series).unique()) - {""})
    return values if len(values) == 2 else None


def _codes(series: pd.Series) -> np.ndarray:
    """Integer codes of a column's values (for comparing two columns' partitions)."""
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return pd.factorize(series)[0]
    return pd.factorize(_text(series))[0]


def label_mask(series: pd.Series, churned: str) -> np.ndarray:
    """Rows whose label is the churned value."""
    from analytics.dataset import label_text

    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        try:
            return (series.to_numpy(dtype=float) == float(churned))
        except ValueError:
            return label_text(series).eq(churned.lower()).to_numpy()
    return _text(series).eq(churned).to_numpy()


def positive_value(values: list[str]) -> str | None:
    """Which of two label values means churned, when the words say so."""
    low = [v.lower() for v in values]
    pos = [v for v, l in zip(values, low) if l in POSITIVE_WORDS or
           any(w in l for w in ("churn", "attrit", "exit", "cancel", "left", "closed"))]
    neg = [v for v, l in zip(values, low) if l in NEGATIVE_WORDS or
           any(w in l for w in ("existing", "active", "stay", "retain", "current"))]
    if len(pos) == 1 and (not neg or neg[0] != pos[0]):
        return pos[0]
    if len(neg) == 1:
        return next(v for v in values if v != neg[0])
    return None


def suggest(name: str, columns) -> str:
    """' (did you mean `CustomerId`?)' for a column name with the wrong case or a typo."""
    columns = [str(c) for c in columns]
    same = [c for c in columns if c.lower() == name.lower()]
    close = same or difflib.get_close_matches(name, columns, n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""


# ----- the guess --------------------------------------------------------------------------
def inspect_frame(frame: pd.DataFrame, source: str) -> Inspection:
    """The proposed config for `frame` with the reasons (see the module docstring)."""
    columns = profile(frame)
    kinds = {c["name"]: c for c in columns}
    names = [str(c) for c in frame.columns]
    result = Inspection(source=source, config=BLANK, columns=columns)
    taken: set[str] = set()

    label, churned = _guess_label(frame, names, kinds, result)
    end_date = start_date = None
    if label is None:
        end_date, start_date = _guess_dates(frame, names, kinds, result)
        if end_date is None:
            two = [n for n in names if kinds[n]["distinct"] == 2]
            result.problems.append(
                "no churn label found: no two-valued column is named like churn, exited, "
                "attrition, cancelled, left or status, and no end-date column; "
                + (f"two-valued columns: {', '.join(two[:8])}; " if two else "")
                + 'settle it with [roles] label = "<column>" (and churned = ["<value>"])')
    taken |= {c for c in (label, end_date, start_date) if c}
    id_column = _guess_id(frame, names, kinds, result, taken)
    taken |= {id_column} if id_column else set()
    revenue, period = _guess_revenue(names, kinds, result, taken)
    tenure, unit = _guess_tenure(frame, names, kinds, result, taken, dated=end_date is not None)
    taken |= set(revenue) | ({tenure} if tenure else set())
    drop = _exclusions(frame, names, kinds, result, taken, label)
    total = next((n for n in names if re.fullmatch(r"total.?charges?", n, re.I)
                  and n not in drop), None)
    actionable = _guess_actionable(frame, names, kinds, set(drop) | taken)
    config = replace(
        BLANK, id_column=id_column, label_column=label,
        churned_values=(churned,) if churned else (), end_date_column=end_date,
        begin_date_column=start_date, revenue_columns=tuple(revenue),
        revenue_period=period, tenure_column=tenure, tenure_unit=unit,
        total_charges_column=total if end_date else None,
        drop_columns=tuple(drop), actionable=tuple(actionable),
        numeric_columns=tuple(n for n in (tenure, *revenue) if n),
        active_end_values=_active_values(frame, end_date) if end_date else ("No", ""))
    result.config = config
    if label:
        y = label_mask(frame[label], churned)
        result.label_balance = {"churned": int(y.sum()), "stayed": int((~y).sum()),
                                "rate": float(y.mean())}
    return result


def _guess_label(frame, names, kinds, result) -> tuple[str | None, str | None]:
    candidates = []
    for name in names:
        if kinds[name]["distinct"] != 2 or not LABEL_NAME.search(name):
            continue
        values = _two_values(frame[name])
        if values is None:
            continue
        strength = 2 if STRONG_LABEL.search(name) else 1
        candidates.append((strength, name, values))
    if not candidates:
        return None, None
    best = max(c[0] for c in candidates)
    top = [c for c in candidates if c[0] == best]
    # Copies of one another (Churn Label Yes/No and Churn Value 1/0) are one label.
    first = top[0]
    codes = _codes(frame[first[1]])
    distinct = [first]
    for cand in top[1:]:
        other = _codes(frame[cand[1]])
        if not (np.array_equal(codes, other) or np.array_equal(codes, 1 - other)):
            distinct.append(cand)
    if len(distinct) > 1:
        shown = ", ".join(f"`{c[1]}` ({'/'.join(c[2])})" for c in distinct)
        result.problems.append(f"several columns could be the churn label: {shown}; settle "
                               f'it with [roles] label = "{distinct[0][1]}"')
        return None, None
    # Prefer text values (Yes/No) over their numeric copy for display.
    ranked = sorted(top, key=lambda c: (pd.api.types.is_numeric_dtype(frame[c[1]]),
                                        names.index(c[1])))
    _, name, values = ranked[0]
    positive = positive_value(values)
    copies = [c[1] for c in top if c[1] != name]
    if positive is None:
        result.problems.append(f"label `{name}` has the values {values[0]!r} and "
                               f"{values[1]!r}; which one means churned? settle it with "
                               f'[roles] churned = ["{values[0]}"]')
        return name, None
    others = [c[1] for c in candidates if c[1] != name and c[1] not in copies]
    reason = f"two values {values[0]!r}/{values[1]!r}, named like a churn label; " \
             f"{positive!r} = churned"
    if others:
        reason += f" (also two-valued and named so: {', '.join(others)})"
    result.guesses.append(Guess("label", name, reason, [c[1] for c in candidates]))
    for copy in copies:
        result.excluded.append((copy, f"a copy of the label `{name}`"))
    return name, positive


def _guess_dates(frame, names, kinds, result):
    ends = [n for n in names if kinds[n]["kind"] in ("date", "categorical")
            and END_DATE_NAME.search(n) and _looks_dated(frame[n])]
    if not ends:
        return None, None
    end = ends[0]
    starts = [n for n in names if n != end and kinds[n]["kind"] == "date"
              and START_DATE_NAME.search(n)]
    result.guesses.append(Guess("end_date", end, "named like an end date; blank or 'No' "
                                "means still a customer", ends))
    start = starts[0] if starts else None
    result.guesses.append(Guess("start_date", start, "named like a start date" if start
                                else "none found", starts))
    return end, start


def _looks_dated(series: pd.Series) -> bool:
    text = _text(series.head(5000))
    filled = text[~text.isin(["", "No", "no", "NO", "None", "Active", "-"])]
    return bool(len(filled)) and filled.str.match(DATE_PATTERN).mean() > 0.9


def _active_values(frame, end) -> tuple:
    text = _text(frame[end])
    others = sorted(set(text[~text.str.match(DATE_PATTERN)].unique()))
    return tuple(others) or ("",)


def _has_blank(series: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(series):
        return False
    if isinstance(series.dtype, pd.CategoricalDtype):
        # The readers strip text cells, so a blank category is exactly "" (one vectorised
        # comparison, not a strip per category: an id column has a category per row).
        blank = np.asarray(series.cat.categories == "")
        return bool(blank.any() and series.cat.codes.isin(np.flatnonzero(blank)).any())
    return bool(_text(series).eq("").any())


def _guess_id(frame, names, kinds, result, taken) -> str | None:
    named = [n for n in names if n not in taken and ID_NAME.search(n)
             and not ROW_NUMBER.match(n)]
    for name in named:
        series = frame[name]
        if series.isna().any() or _has_blank(series):
            continue
        if not series.duplicated().any():
            result.guesses.append(Guess("id", name, "unique for every row and named like an "
                                        "id", named))
            return name
    strong = [n for n in named if STRONG_ID.search(n)]
    if strong:
        series = frame[strong[0]]
        repeats = series[series.duplicated(keep=False)].astype(str).unique()[:3].tolist()
        result.problems.append(
            f"`{strong[0]}` looks like the customer id but is not unique"
            + (f" (repeated: {', '.join(repeats)})" if repeats else " (it has blanks)")
            + ": remove the duplicate rows, or set [roles] id = \"\" to number the rows")
    why = ("no column is unique per row and named like an id" if not named else
           f"{', '.join(named)} named like an id but not unique or with blanks")
    result.guesses.append(Guess("id", None, f"{why}: rows are numbered from 1 in file order "
                                "and those numbers are the ids", named))
    return None


def _mostly_numbers(info: dict) -> bool:
    """A column named for a role counts when most of its cells are numbers: the few that
    are not are then reported by the strict check of that role, row by row."""
    return info["kind"] == "numeric" or info["numeric_share"] >= 0.5


def _guess_revenue(names, kinds, result, taken) -> tuple[list[str], str]:
    numeric = [n for n in names if n not in taken and _mostly_numbers(kinds[n])]
    monthly = [n for n in numeric if MONTHLY_NAME.search(n) and not CUMULATIVE.search(n)]
    if monthly:
        result.guesses.append(Guess("revenue", monthly[0], "numeric and named like a monthly "
                                    "charge", monthly))
        return [monthly[0]], "month"
    charges = [n for n in numeric if REVENUE_NAME.search(n) and not CUMULATIVE.search(n)]
    if len(charges) == 1:
        period = "year" if YEARLY.search(charges[0]) else "month"
        result.guesses.append(Guess("revenue", charges[0], f"numeric and named like a charge; "
                                    f"taken as per {period} (the name does not say otherwise)",
                                    charges))
        return charges, period
    if len(charges) > 1:
        result.guesses.append(Guess("revenue", " + ".join(charges),
                                    f"the sum of {len(charges)} charge columns, taken as per "
                                    "month", charges))
        return charges, "month"
    result.guesses.append(Guess("revenue", None, "no numeric column named like a monthly "
                                "charge, fee, price or amount: revenue figures (ARPU, CLV, "
                                "revenue at risk, profit) are left out; settle it with "
                                '[roles] revenue = "<column>"'))
    return [], "month"


def _guess_tenure(frame, names, kinds, result, taken, dated: bool):
    numeric = [n for n in names if n not in taken and _mostly_numbers(kinds[n])
               and TENURE_NAME.search(n)]
    if not numeric:
        reason = ("computed from the start and end dates" if dated else
                  "no numeric column named like tenure, account length or months as a "
                  "customer: the tenure filter, survival curve and CLV are left out; settle "
                  'it with [roles] tenure = "<column>" and tenure_unit')
        result.guesses.append(Guess("tenure", None, reason))
        return None, "months"
    name = numeric[0]
    unit, said = "months", False
    for candidate, pattern in UNIT_IN_NAME:
        if pattern.search(name):
            unit, said = candidate, True
            break
    values = pd.to_numeric(frame[name], errors="coerce")
    top = float(values.max()) if values.notna().any() else 0.0
    if said:
        reason = f"numeric and named like a tenure; unit {unit} (from the name)"
    else:
        reason = ("numeric and named like a tenure; unit months ASSUMED (the name does not "
                  'say; set [roles] tenure_unit = "years" or "days" if not)')
        whole = bool(np.all(np.mod(values.dropna().head(5000), 1) == 0))
        if top <= 15 and whole:
            result.warnings.append(f"`{name}` runs from {values.min():g} to {top:g}: that "
                                   "looks like years, not months; if so, set tenure_unit = "
                                   '"years"')
        elif top > 400:
            result.warnings.append(f"`{name}` reaches {top:g}: that looks like days, not "
                                   'months; if so, set tenure_unit = "days"')
    result.guesses.append(Guess("tenure", name, reason, numeric))
    result.guesses.append(Guess("tenure_unit", unit, "from the name" if said else "assumed"))
    return name, unit


def _exclusions(frame, names, kinds, result, taken, label) -> list[str]:
    drop = [c for c, _ in result.excluded]
    for name in names:
        if name in taken or name in drop:
            continue
        info = kinds[name]
        why = None
        if POST_OUTCOME.search(name):
            why = "known only after the outcome (named like churn, exit, cancel or a " \
                  "lifetime value)"
        elif info["distinct"] <= 1:
            why = "constant (one value for every row)"
        elif ROW_NUMBER.match(name) and info["kind"] == "numeric":
            why = "a row number"
        elif PERSONAL.search(name) and info["kind"] in ("categorical", "text"):
            why = "a personal identifier (a name, e-mail, phone or address), not a feature"
        elif info["kind"] == "text" or (info["kind"] == "categorical" and
                                        info["distinct"] >= 0.9 * min(len(frame), SAMPLE_ROWS)):
            why = "text unique to (almost) every row: an id or free text, not a feature"
        elif info["kind"] == "date":
            why = "a date (use it as a start or end date in the config to derive tenure)"
        elif (info["kind"] == "numeric" and ID_NAME.search(name)
              and not frame[name].duplicated().any()):
            why = "unique per row and named like an id"
        if why:
            drop.append(name)
            result.excluded.append((name, why))
    return drop


def _guess_actionable(frame, names, kinds, exclude) -> list[Actionable]:
    out = []
    for name in names:
        if name in exclude or not ACTIONABLE_NAME.search(name):
            continue
        info = kinds[name]
        if info["kind"] == "categorical" and 2 <= info["distinct"] <= 12:
            values = sorted(set(_text(frame[name]).unique()) - {""})
            fixed = tuple(v for v in values if NO_SERVICE.match(v))
            out.append(Actionable(column=name, values=tuple(v for v in values
                                                            if v not in fixed), fixed=fixed))
        elif info["kind"] == "numeric" and 2 <= info["distinct"] <= 12:
            values = pd.to_numeric(frame[name], errors="coerce").dropna()
            out.append(Actionable(column=name, low=float(values.min()),
                                  high=float(values.max()), step=1.0))
    return out


def check_config(frame: pd.DataFrame, config: DatasetConfig, source: str) -> None:
    """DataError listing every column the config names that the file lacks, at once."""
    names = [str(c) for c in frame.columns]
    problems = []
    roles = [("roles.id", config.id_column), ("roles.label", config.label_column),
             ("roles.end_date", config.end_date_column),
             ("roles.start_date", config.begin_date_column),
             ("roles.tenure", None if config.dated else config.tenure_column),
             ("roles.acquisition_cost", config.acquisition_cost_column),
             ("business.acquisition_channel", config.acquisition_channel_column)]
    roles += [("roles.revenue", c) for c in config.revenue_columns]
    roles += [("features.drivers", c) for c in config.drivers]
    roles += [("features.use", c) for c in config.use_columns]
    roles += [("actionable", a.column) for a in config.actionable]
    for key, column in roles:
        if column and column not in names:
            problems.append(f"{key} = \"{column}\": no such column{suggest(column, names)}")
    if not config.label_column and not config.end_date_column and not config.churn_table:
        problems.append('no churn label: set [roles] label = "<column>" (or end_date, or a '
                        '[[tables]] with role = "churn_events")')
    if problems:
        shown = ", ".join(names[:30]) + (" ..." if len(names) > 30 else "")
        raise DataError("the config does not match the file:\n  - " + "\n  - ".join(problems)
                        + f"\ncolumns in the file: {shown}", file=source)
