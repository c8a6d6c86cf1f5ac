"""Score new customers given as plain records (the JSON API and the Score form).

Every model feature must be given. Numbers must be finite numbers within ten times the
largest magnitude the data has (a feature never negative in the data takes no negative
value); categories must be ones the model has seen: an unknown category is reported, never
guessed. The spend to date (the config's `total_charges` column, TotalCharges in the Telco
layout), when the record leaves it out, is tenure x monthly charges. Error messages echo at most a short excerpt of what was sent, and results
hold no NaN or infinity (None instead), so they are always valid JSON.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analytics import kpis
from analytics.dataset import numbers_of, text_of
from analytics.explain import describe_value, probability_points
from analytics.offers import Catalogue, best_offers
from analytics.pipeline import ChurnAnalysis, memo
from analytics.survival import survival_clv

MAX_RECORDS = 1000
MAX_SHOWN = 60          # longest echo of a client's value in an error message
MAX_ID_CHARS = 100
RANGE_FACTOR = 10       # numbers beyond 10x the largest magnitude in the data are refused
MAX_LISTED = 20         # categories or fields named in one message


class ScoreInputError(ValueError):
    """A record that cannot be scored; `field` names the offending field."""

    def __init__(self, message: str, field: str | None = None, index: int | None = None):
        where = f"customer {index}: " if index is not None else ""
        super().__init__(f"{where}{message}")
        self.field = None if field is None else clip(str(field), MAX_SHOWN)
        self.index = index


def clip(text: str, limit: int = MAX_SHOWN) -> str:
    """`text` cut to `limit` characters (an ellipsis marks the cut)."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def shown(value) -> str:
    """A client's value as an error message may echo it: short, whatever was sent."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        if len(value) <= 5 and all(_plain(v) for v in value):
            return clip("[" + ", ".join(shown(v) for v in value) + "]")
        return f"a list of {len(value):,} item{'s' * (len(value) != 1)}"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    if isinstance(value, str):
        return clip(repr(value[:MAX_SHOWN + 1]))
    return clip(repr(value))


def _plain(value) -> bool:
    return value is None or isinstance(value, (str, int, float))


def _listing(names) -> str:
    names = [str(n) for n in names]
    text = ", ".join(clip(n) for n in names[:MAX_LISTED])
    return text + (f", … ({len(names)} in all)" if len(names) > MAX_LISTED else "")


def _g(number: float) -> str:
    return f"{number:,.6g}"


def numeric_bounds(analysis: ChurnAnalysis) -> dict[str, tuple[float, float, float, float]]:
    """Per numeric feature: (lowest accepted, highest accepted, data min, data max). Values
    beyond RANGE_FACTOR x the largest magnitude in the data are input errors (a tenure of
    1e18 months), and a feature never negative in the data accepts no negative value.
    Computed once per analysis (a pass over every row: 10 ms a request at 1M customers)."""
    def make() -> dict:
        bounds = {}
        for field in analysis.numeric:
            values = analysis.customers[field].to_numpy(dtype=float)
            if not np.isfinite(values).any():
                continue
            low, high = float(np.nanmin(values)), float(np.nanmax(values))
            limit = RANGE_FACTOR * max(abs(low), abs(high)) or 1.0
            bounds[field] = (0.0 if low >= 0 else -limit, limit, low, high)
        return bounds
    return memo(analysis, "numeric_bounds", (tuple(analysis.numeric),), make)


def _numeric(value, field: str, index: int | None, bounds) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ScoreInputError(f"field '{field}' must be a number (it is empty or not a "
                              "number)", field, index)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ScoreInputError(f"field '{field}' must be a number (got {shown(value)})", field,
                              index)
    try:
        number = float(value)
    except (ValueError, OverflowError):  # "abc"; an integer too large for a float
        number = None if isinstance(value, str) else math.inf
    if number is None:
        raise ScoreInputError(f"field '{field}' must be a number (got {shown(value)})", field,
                              index)
    if math.isnan(number):
        raise ScoreInputError(f"field '{field}' must be a finite number (got {shown(value)})",
                              field, index)
    if bounds is not None:
        lowest, highest, low, high = bounds
        if number < 0 <= lowest:
            raise ScoreInputError(f"field '{field}' cannot be negative (got {shown(value)}); "
                                  "the data has no negative values", field, index)
        if not lowest <= number <= highest:
            raise ScoreInputError(
                f"field '{field}' must be between {_g(lowest)} and {_g(highest)} (got "
                f"{shown(value)}); the data has {_g(low)} to {_g(high)}", field, index)
    elif not math.isfinite(number):
        raise ScoreInputError(f"field '{field}' must be a finite number (got {shown(value)})",
                              field, index)
    return number


def _category(value, field: str, index: int | None, allowed: list[str]) -> str:
    text = None
    if not isinstance(value, (dict, list, tuple)) and value is not None:
        try:
            text = str(value).strip()
        except ValueError:  # an integer too long to print
            text = None
    if text is None:
        raise ScoreInputError(f"field '{field}' must be one of: {_listing(allowed)} (got "
                              f"{shown(value)})", field, index)
    if text not in allowed:
        raise ScoreInputError(f"field '{field}': unknown category {shown(value)}; known: "
                              f"{_listing(allowed)}", field, index)
    return text


def _customer_id(record: dict, index: int, where: int | None,
                 keys: tuple[str, ...] = ("customer_id", "customerID")) -> str:
    """The record's own id (`customer_id` or the data's id column), else new-<n>."""
    key, value = keys[0], None
    for key in keys:
        value = record.get(key)
        if value is not None and value != "":
            break
    if value is None or value == "":
        return f"new-{index + 1}"
    text = value if isinstance(value, str) else None
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() < 340:
        text = str(value)
    if text is None or len(text) > MAX_ID_CHARS:
        raise ScoreInputError(f"field '{key}' must be a text or a whole number of at most "
                              f"{MAX_ID_CHARS} characters (got {shown(value)})", key, where)
    return text


def _config(analysis: ChurnAnalysis):
    from analytics.loaders import TELCO_CONFIG

    config = getattr(analysis, "config", None)
    return config if config is not None else TELCO_CONFIG


def _derived_total(analysis: ChurnAnalysis) -> str | None:
    """The spend-to-date feature a record may leave out (tenure x monthly bill), when the
    data has one, a tenure in months and a single monthly revenue column."""
    config = _config(analysis)
    total = config.total_charges_column
    if (total in analysis.numeric and config.tenure_column in analysis.numeric
            and config.tenure_unit == "months" and config.revenue_column in analysis.numeric):
        return total
    return None


def id_keys(analysis: ChurnAnalysis) -> tuple[str, ...]:
    """Fields a record may carry its id in: customer_id and the data's own id column."""
    config = _config(analysis)
    return tuple(dict.fromkeys(["customer_id", *([config.id_column] if config.id_column
                                                 else [])]))


def monthly_and_tenure(frame: pd.DataFrame, analysis: ChurnAnalysis):
    """(monthly revenue, tenure in months) of feature rows, from the config's roles; NaN
    where the data has no such role."""
    from analytics.data.config import REVENUE_PERIODS, TENURE_UNITS

    config = _config(analysis)
    n = len(frame)
    if config.revenue_columns and all(c in frame for c in config.revenue_columns):
        monthly = sum(frame[c].to_numpy(dtype=float) for c in config.revenue_columns)
        monthly = np.asarray(monthly) * REVENUE_PERIODS[config.revenue_period]
    else:
        monthly = np.full(n, np.nan)
    if config.tenure_column and config.tenure_column in frame:
        tenure = frame[config.tenure_column].to_numpy(dtype=float) * TENURE_UNITS[
            config.tenure_unit]
    else:
        tenure = np.full(n, np.nan)
    return monthly, tenure


def validate_records(records, analysis: ChurnAnalysis) -> pd.DataFrame:
    """Records (a dict or a list of dicts) as a feature frame the model accepts.

    The one check of scoring input (the JSON API and the Score form): every feature given,
    numbers finite and within RANGE_FACTOR x the data's range, categories known, at most
    MAX_RECORDS customers. Behaviour features (made from event tables) may be left out or
    empty: they are then a typical active customer's (`typical_behaviour`); when given,
    they are checked as any other number. Raises
    ScoreInputError naming the field; echoed values are short.
    """
    if isinstance(records, dict):
        records = [records]
    if not isinstance(records, list) or not records:
        raise ScoreInputError("send a JSON object (one customer) or a non-empty list of them")
    if len(records) > MAX_RECORDS:
        raise ScoreInputError(f"at most {MAX_RECORDS} customers per request "
                              f"(got {len(records)})")
    customers = analysis.customers
    bounds = numeric_bounds(analysis)
    keys = id_keys(analysis)
    known = set(analysis.features) | set(keys)
    derived = _derived_total(analysis)
    config = _config(analysis)
    behaviour = analysis.feature_meta() if hasattr(analysis, "feature_meta") else {}
    allowed = {field: [str(c) for c in customers[field].cat.categories]
               for field in analysis.categorical}
    rows = []
    for index, record in enumerate(records):
        where = index if len(records) > 1 else None
        if not isinstance(record, dict):
            raise ScoreInputError("each customer must be a JSON object", index=where)
        extra = sorted(set(record) - known)
        if extra:
            raise ScoreInputError(f"unknown field {shown(extra[0])}; fields: "
                                  f"{_listing(analysis.features)}", extra[0], where)
        row = {}
        for field in analysis.numeric:
            if field == derived and record.get(field) in (None, ""):
                continue  # left out (or left empty): computed from tenure and charges
            if field in behaviour and record.get(field) in (None, ""):
                row[field] = typical_behaviour(analysis, field)  # none given: typical
                continue
            if field not in record:
                raise ScoreInputError(f"field '{field}' is missing", field, where)
            row[field] = _numeric(record[field], field, where, bounds.get(field))
        if derived and derived not in row:
            row[derived] = row[config.tenure_column] * row[config.revenue_column]
        for field in analysis.categorical:
            if field not in record:
                raise ScoreInputError(f"field '{field}' is missing", field, where)
            row[field] = _category(record[field], field, where, allowed[field])
        row["customer_id"] = _customer_id(record, index, where, keys)
        rows.append(row)
    # Column by column, categories by code: pd.DataFrame(rows) and a pd.Categorical per
    # field cost ~15 ms for one record, most of an API request.
    dtypes = _category_codes(analysis)
    data = {}
    for key in rows[0]:
        values = [row[key] for row in rows]
        if key in dtypes:
            dtype, codes = dtypes[key]
            data[key] = pd.Categorical.from_codes([codes[v] for v in values], dtype=dtype)
        else:
            data[key] = values
    return pd.DataFrame(data)


def _category_codes(analysis: ChurnAnalysis) -> dict[str, tuple[pd.CategoricalDtype, dict]]:
    """Per categorical feature: its dtype and {label as text: code}; once per analysis."""
    def make() -> dict:
        dtypes = {field: analysis.customers[field].dtype for field in analysis.categorical}
        return {field: (dtype, {str(c): i for i, c in enumerate(dtype.categories)})
                for field, dtype in dtypes.items()}
    return memo(analysis, "category_codes", (tuple(analysis.categorical),), make)


def _finite(value, digits: int) -> float | None:
    """A rounded float for JSON, or None when it is not finite (JSON has no NaN)."""
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


def score_records(records, analysis: ChurnAnalysis,
                  catalogue: Catalogue | None = None) -> list[dict]:
    """Probability, tier, top reasons (probability points) and the best offer per record."""
    frame = validate_records(records, analysis)
    model = analysis.model
    proba = model.predict_proba(frame)
    shap, base = model.shap_values(frame)
    points = probability_points(shap, base)
    s = analysis.settings
    tiers = kpis.assign_tiers(proba, s.tier_high, s.tier_medium)
    monthly, tenure = monthly_and_tenure(frame, analysis)
    reference, observed = _means(analysis)
    clv = (survival_clv(analysis.survival, tenure, monthly, proba, margin=s.margin,
                        annual_discount=s.annual_discount, horizon_months=s.horizon_months,
                        reference_probability=reference)
           if analysis.survival is not None else np.full(len(frame), np.nan))
    offers, no_offer = None, None
    if catalogue is not None:
        # The same offers as the pages: those that can work on this data, priced only when
        # there is a revenue to price them with (analytics/recommend.py).
        from analytics.recommend import check_catalogue, no_offer_reason
        from analytics.whatif import discount_column

        no_offer = no_offer_reason(analysis) if getattr(analysis, "config", None) else None
        usable = check_catalogue(catalogue, analysis) if getattr(analysis, "config", None) \
            else {o.id: None for o in catalogue.offers}
        available = Catalogue(offers=tuple(o for o in catalogue.offers if usable[o.id] is None),
                              contact_cost=catalogue.contact_cost, source=catalogue.source)
        frame["monthly_charges"] = monthly
        if no_offer is None:
            offers = best_offers(model.predict_proba, frame, proba, clv, available,
                                 discount_column=discount_column(analysis))
    results = []
    for i in range(len(frame)):
        order = np.argsort(-points[i])
        reasons = [{"feature": analysis.features[j],
                    "value": describe_value(analysis.features[j],
                                            frame[analysis.features[j]].iloc[i],
                                            analysis.feature_meta()),
                    "points": round(float(points[i, j]), 1)}
                   for j in order[:3] if points[i, j] > 0]
        result = {"customer_id": frame["customer_id"].iloc[i],
                  "churn_probability": round(float(proba[i]), 4), "risk_tier": str(tiers[i]),
                  # Two different numbers, each named for what it is: where the reasons start
                  # (the model's average score) and the share who left in the data.
                  "model_baseline": round(float(1 / (1 + math.exp(-float(base[i])))), 4),
                  "observed_churn_rate": round(observed, 4),
                  "clv": _finite(clv[i], 2), "reasons": reasons}
        if offers is not None:
            best = offers.iloc[i]
            result["best_offer"] = {"id": best["best_offer"], "name": best["best_name"],
                                    "churn_probability_with_offer": _finite(best["p1"], 4),
                                    "expected_profit": _finite(best["expected_profit"], 2),
                                    "model_implied": True}
        elif no_offer is not None:
            result["best_offer"] = {"id": "none", "name": "No offer",
                                    "churn_probability_with_offer": None,
                                    "expected_profit": None, "model_implied": True,
                                    "reason": no_offer}
        results.append(result)
    return results


def _means(analysis: ChurnAnalysis) -> tuple[float, float]:
    """(mean churn probability, observed churn rate) of the data: once per analysis and
    tier-independent (two passes over every row: 3 ms a request at 1M customers)."""
    customers = analysis.customers
    return memo(analysis, "score_means", (customers,), lambda: (
        float(customers["churn_probability"].mean()), float(customers["churn"].mean())))


def typical_behaviour(analysis: ChurnAnalysis, feature: str) -> float:
    """A behavioural feature's value when none is given (a new customer from a form or a
    file without history): a typical active customer's, the median at the scored date.
    Zero activity would read as a customer gone quiet, the riskiest of all."""
    behaviour = analysis.behaviour
    return float((getattr(behaviour, "typical", None) or {}).get(feature, np.nan))


def file_features(raw: pd.DataFrame, analysis: ChurnAnalysis, source: str
                  ) -> tuple[pd.DataFrame, dict]:
    """A new file's rows as the model's features, typed as in training, and a report.

    Every model feature must be a column (DataError listing all the missing ones at once).
    A category the model never saw becomes missing and is counted per column with examples;
    a number outside the training range is kept and flagged (counted per column); a cell
    that is not a number becomes missing and is counted."""
    from analytics.data.inspect import suggest
    from analytics.errors import DataError

    config = _config(analysis)
    derived = _derived_total(analysis)
    names = [str(c) for c in raw.columns]
    behaviour = analysis.feature_meta()
    absent = [f for f in analysis.features if f in behaviour and f not in names]
    if absent:
        # Behaviour is computed from history, not typed: a typical active customer's.
        raw = raw.assign(**{f: typical_behaviour(analysis, f) for f in absent})
        names += absent
    missing = [f for f in analysis.features if f not in names and f != derived]
    if missing:
        raise DataError("the file lacks the model's feature column(s): " + "; ".join(
            f"`{f}`{suggest(f, names)}" for f in missing), file=source, column=missing[0])
    report = {"rows": int(len(raw)), "unknown_categories": {}, "out_of_range": {},
              "not_numbers": {}, "no_behaviour": absent}
    frame = pd.DataFrame(index=raw.index)
    customers = analysis.customers
    for field in analysis.numeric:
        if field not in raw:
            continue
        series = raw[field]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            values = series.astype(float)
            bad = pd.Series(False, index=series.index)
        else:  # text: each distinct value parsed once (text_of / numbers_of)
            values = numbers_of(series).astype(float)
            bad = values.isna() & ~text_of(series).isin(["", "nan", "NaN", "None"])
        if bad.any():
            report["not_numbers"][field] = int(bad.sum())
        seen = customers[field].to_numpy(dtype=float)
        low, high = np.nanmin(seen), np.nanmax(seen)
        outside = (values < low) | (values > high)
        if outside.any():
            report["out_of_range"][field] = {"n": int(outside.sum()), "low": float(low),
                                             "high": float(high)}
        frame[field] = values.to_numpy()
    if derived and derived not in raw:
        frame[derived] = frame[config.tenure_column] * frame[config.revenue_column]
    for field in analysis.categorical:
        categories = customers[field].cat.categories
        series = raw[field]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            from analytics.dataset import label_text

            text = label_text(series)
        else:
            text = text_of(series)
        if pd.api.types.is_bool_dtype(series) or {str(t).lower() for t in text.unique()} <= {
                "true", "false", ""}:
            if set(map(str, categories)) <= {"Yes", "No", ""}:
                text = text.str.lower().map({"true": "Yes", "false": "No"}).fillna(text)
        codes = pd.Categorical(text, categories=categories)
        unknown = codes.isna() & text.ne("").to_numpy()
        if unknown.any():
            counts = text[unknown].value_counts()
            report["unknown_categories"][field] = {
                "n": int(unknown.sum()),
                "examples": {str(k): int(v) for k, v in counts.head(5).items()}}
        frame[field] = codes
    if config.id_column and config.id_column in raw:
        ids = text_of(raw[config.id_column]).to_numpy()
    else:
        ids = np.arange(1, len(raw) + 1).astype(str)
    frame.insert(0, "customer_id", ids)
    return frame.reset_index(drop=True), report


def score_file(raw: pd.DataFrame, analysis: ChurnAnalysis, source: str
               ) -> tuple[pd.DataFrame, dict]:
    """Id, probability, tier and top reasons of a new file's customers (the final model:
    they were never trained on), and the `file_features` report."""
    from analytics.explain import reason_columns, reason_indices

    frame, report = file_features(raw, analysis, source)
    # No `scored_by` column: every row goes to the final model (calibrated as served).
    proba = analysis.model.predict_proba(frame)
    s = analysis.settings
    out = pd.DataFrame({"customer_id": frame["customer_id"],
                        "churn_probability": np.round(proba, 4),
                        "risk_tier": kpis.assign_tiers(proba, s.tier_high, s.tier_medium)})
    shap, base = analysis.model.shap_values(frame)
    points = probability_points(shap, base)
    out = pd.concat([out, reason_columns(frame, analysis.features, reason_indices(shap), points,
                                         analysis.feature_meta())], axis=1)
    flags = np.full(len(frame), "", dtype=object)
    for field, info in report["out_of_range"].items():
        v = frame[field].to_numpy(dtype=float)
        hit = (v < info["low"]) | (v > info["high"])
        flags[hit] = [f"{f}; {field} outside training range" if f else
                      f"{field} outside training range" for f in flags[hit]]
    for field in report["unknown_categories"]:
        hit = frame[field].isna().to_numpy() & text_of(raw[field]).ne("").to_numpy()
        flags[hit] = [f"{f}; unknown {field}" if f else f"unknown {field}" for f in flags[hit]]
    out["flags"] = flags
    return out, report

