"""Measured effect of a retention campaign: the treated arm against the random hold-out.

Outcome is churn (1 = churned by the campaign's horizon). Measured uplift = control churn rate
minus treated churn rate, so a positive uplift means the campaign kept customers. Differences
come with Newcombe's hybrid-score interval (method 10 of Newcombe 1998, built from Wilson
intervals: valid for small arms and for rates of 0 or 1) and a two-sided test: the pooled
two-proportion z-test, or Fisher's exact test when an expected cell count is below 5.

Measured figures sit beside the assumed ones (what the model implied: p0 - p1, the acceptance
rate, the expected profit), so a page can show both. Realised profit is the measured uplift
priced at the model's CLV: an estimate, not booked revenue.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analytics.errors import ChurnLensError, DataError, row_examples

ARMS = ("treatment", "control")
MIN_ARM = 30           # fewer members with an outcome than this in an arm: "too few to tell"
MISSING = "(missing)"  # label of the group whose grouping value is missing
GROUPINGS = ("tier", "segment", "offer")
TIERS = ("High", "Medium", "Low")
BY_COLUMNS = ("group", "n_treatment", "n_control", "churn_treatment", "churn_control",
              "uplift", "low", "high", "p_value", "enough")


def _stats():
    """scipy.stats, imported when a report is first computed (not when the app starts)."""
    from scipy import stats
    return stats


def _z(level: float) -> float:
    """Two-sided normal quantile of a confidence level in (0, 1)."""
    if not 0.0 < level < 1.0:
        raise ChurnLensError(f"confidence level must be between 0 and 1, got {level!r}")
    return float(_stats().norm.ppf(1.0 - (1.0 - level) / 2.0))


def wilson(successes: int, n: int, level: float = 0.95) -> tuple[float, float] | tuple[None, None]:
    """Wilson score interval of a proportion at `level`; (None, None) when n is 0."""
    if n == 0:
        return (None, None)
    z, p = _z(level), successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _count(value, name: str) -> int:
    """A non-negative whole count, or a ChurnLensError naming it."""
    if isinstance(value, float) and not value.is_integer() or int(value) < 0:
        raise ChurnLensError(f"{name} must be a whole number >= 0, got {value!r}")
    return int(value)


def _p_value(churned_t: int, n_t: int, churned_c: int, n_c: int) -> tuple[float, str]:
    """Two-sided p-value: pooled z-test, or Fisher's exact test when an expected cell is < 5."""
    total, churned = n_t + n_c, churned_t + churned_c
    expected = [n * k / total for n in (n_t, n_c) for k in (churned, total - churned)]
    if min(expected) < 5:
        table = [[churned_t, n_t - churned_t], [churned_c, n_c - churned_c]]
        return float(_stats().fisher_exact(table, alternative="two-sided")[1]), "Fisher's exact"
    pooled = churned / total
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c))
    z = (churned_c / n_c - churned_t / n_t) / se
    return float(2 * _stats().norm.sf(abs(z))), "z-test"


def _points(x: float) -> str:
    """A fraction as percentage points with one decimal."""
    return f"{100 * x:.1f}"


def _verdict(r: dict, level: float) -> str:
    """The result in one plain-English sentence."""
    n_t, n_c = r["n_treatment"], r["n_control"]
    if n_t == 0 or n_c == 0:
        missing = " and ".join(a for a, n in (("treated", n_t), ("held-out", n_c)) if n == 0)
        return f"Cannot measure the effect yet: no {missing} members with an outcome."
    if not r["enough"]:
        return (f"Too few members to tell ({n_t} treated, {n_c} held out; "
                f"at least {MIN_ARM} per arm needed).")
    p = "p < 0.001" if r["p_value"] < 0.001 else f"p = {r['p_value']:.3f}"
    ci = f"{level * 100:g}% CI {_points(r['low'])} to {_points(r['high'])}"
    if r["significant"]:
        verb = "cut" if r["uplift"] > 0 else "raised"
        return f"The campaign {verb} churn by {_points(abs(r['uplift']))} points ({ci}; {p})."
    why = ("the interval includes zero" if r["low"] <= 0 <= r["high"]
           else f"not significant at the {(1 - level) * 100:g}% level")
    return (f"No measurable effect: churn {_points(r['churn_treatment'])}% treated vs "
            f"{_points(r['churn_control'])}% held out (difference {_points(r['uplift'])} "
            f"points, {ci}; {p}); {why}.")


def two_proportions(churned_t: int, n_t: int, churned_c: int, n_c: int,
                    level: float = 0.95) -> dict:
    """Treated vs control churn: rates, uplift (control - treated), Newcombe interval, test.

    `significant` is p_value < 1 - level; `enough` is False when an arm has fewer than 30
    members. With an empty arm the measured figures are None and the verdict says so."""
    churned_t, n_t, churned_c, n_c = (_count(v, k) for k, v in (
        ("churned_t", churned_t), ("n_t", n_t), ("churned_c", churned_c), ("n_c", n_c)))
    if churned_t > n_t or churned_c > n_c:
        raise ChurnLensError(f"more churners than members: {churned_t} of {n_t} treated, "
                             f"{churned_c} of {n_c} held out")
    _z(level)
    r = {"n_treatment": n_t, "n_control": n_c,
         "churn_treatment": churned_t / n_t if n_t else None,
         "churn_control": churned_c / n_c if n_c else None,
         "uplift": None, "low": None, "high": None, "p_value": None, "test": None,
         "significant": False, "enough": n_t >= MIN_ARM and n_c >= MIN_ARM}
    if n_t and n_c:
        pt, pc = r["churn_treatment"], r["churn_control"]
        (lt, ut), (lc, uc) = wilson(churned_t, n_t, level), wilson(churned_c, n_c, level)
        r["uplift"] = d = pc - pt
        r["low"] = d - math.sqrt((pc - lc) ** 2 + (ut - pt) ** 2)
        r["high"] = d + math.sqrt((uc - pc) ** 2 + (pt - lt) ** 2)
        r["p_value"], r["test"] = _p_value(churned_t, n_t, churned_c, n_c)
        r["significant"] = bool(r["p_value"] < 1 - level)
    r["verdict"] = _verdict(r, level)
    return r


def min_detectable_effect(n_t: int, n_c: int, base_rate: float | None, alpha: float = 0.05,
                          power: float = 0.8) -> float | None:
    """Smallest absolute churn reduction (a fraction) a two-sided test detects with `power`.

    (z_{1-alpha/2} + z_{power}) * sqrt(p (1 - p) (1/n_t + 1/n_c)) with p the base churn rate
    (the variance at p is used for both arms: the usual planning approximation). None when an
    arm is empty or the base rate is unknown, 0 or 1 (no variance to plan from)."""
    if not 0.0 < alpha < 1.0 or not 0.0 < power < 1.0:
        raise ChurnLensError(f"alpha and power must be between 0 and 1, got {alpha!r}, {power!r}")
    if base_rate is None or (isinstance(base_rate, float) and math.isnan(base_rate)):
        return None
    if not 0.0 <= base_rate <= 1.0:
        raise ChurnLensError(f"base churn rate must be between 0 and 1, got {base_rate!r}")
    n_t, n_c = _count(n_t, "n_t"), _count(n_c, "n_c")
    if n_t == 0 or n_c == 0 or base_rate in (0.0, 1.0):
        return None
    z = _stats().norm.ppf(1 - alpha / 2) + _stats().norm.ppf(power)
    return float(z * math.sqrt(base_rate * (1 - base_rate) * (1 / n_t + 1 / n_c)))


def _require(members: pd.DataFrame, columns) -> None:
    """Raise a DataError naming the first missing column."""
    if not isinstance(members, pd.DataFrame):
        raise ChurnLensError(f"campaign members must be a DataFrame, got {type(members).__name__}")
    for column in columns:
        if column not in members.columns:
            raise DataError(f"campaign members have no '{column}' column "
                            f"(columns: {', '.join(map(str, members.columns))})", column=column)


def _reject(raw: pd.Series, bad: pd.Series, message: str) -> None:
    """Raise a DataError naming the column and up to three bad rows, if any row is bad."""
    if bad.any():
        raise DataError(message, column=str(raw.name),
                        examples=row_examples(raw[bad], np.flatnonzero(bad.to_numpy()) + 2))


def _arms(members: pd.DataFrame, arm: str) -> pd.Series:
    """The arm column, checked to hold only 'treatment' and 'control'."""
    _reject(members[arm], ~members[arm].isin(ARMS), "arm must be 'treatment' or 'control'")
    return members[arm]


def _outcomes(members: pd.DataFrame, churned: str) -> pd.Series:
    """Churn outcomes as floats 0/1 with NaN for members without an outcome yet."""
    if churned not in members.columns:
        return pd.Series(np.nan, index=members.index)
    raw = members[churned]
    values = pd.to_numeric(raw, errors="coerce").astype(float)
    _reject(raw, ~(values.isin((0.0, 1.0)) | raw.isna()), "must be 0, 1 or empty (no outcome)")
    return values


def _flags(members: pd.DataFrame, column: str) -> pd.Series:
    """A True/False column (NaN = unknown) as floats 1/0/NaN; all NaN when absent."""
    if column not in members.columns:
        return pd.Series(np.nan, index=members.index)
    raw = members[column]
    known = raw.astype(object)  # True/1 and False/0 count, as a dict lookup would
    values = pd.Series(np.where(known.isin([True]), 1.0,
                                np.where(known.isin([False]), 0.0, np.nan)), index=raw.index)
    _reject(raw, values.isna() & raw.notna(), "must be True, False or empty")
    return values


def _numbers(members: pd.DataFrame, column: str) -> pd.Series:
    """A numeric column (non-numbers as NaN); all NaN when absent."""
    if column not in members.columns:
        return pd.Series(np.nan, index=members.index)
    return pd.to_numeric(members[column], errors="coerce").astype(float)


def _measure(arms: pd.Series, outcome: pd.Series, mask: pd.Series, level: float) -> dict:
    """two_proportions over the members in `mask` that have an outcome."""
    t, c = (mask & outcome.notna() & (arms == a) for a in ARMS)
    return two_proportions(int(outcome[t].sum()), int(t.sum()), int(outcome[c].sum()),
                           int(c.sum()), level)


def _groups(keys: pd.Series) -> list[tuple]:
    """(label, mask) per distinct value: category order for categoricals, High/Medium/Low for
    risk tiers, else sorted; missing values last as "(missing)"."""
    distinct = list(keys.dropna().unique())
    if distinct and set(distinct) <= set(TIERS):
        order = [t for t in TIERS if t in distinct]
    elif isinstance(keys.dtype, pd.CategoricalDtype):
        order = [c for c in keys.cat.categories if c in set(distinct)]
    else:
        try:
            order = sorted(distinct)
        except TypeError:
            order = sorted(distinct, key=str)
    out = [(g, (keys == g).fillna(False).astype(bool)) for g in order]
    return out + [(MISSING, keys.isna())] if keys.isna().any() else out


def _as_categories(members: pd.DataFrame) -> pd.DataFrame:
    """Text columns the report groups by as categories (comparisons on 100k object strings
    are ~20x slower); values are unchanged."""
    text = [c for c in ("arm", "tier", "segment", "offer") if c in members.columns
            and members[c].dtype == object]
    if not text:
        return members
    out = members.copy()
    for column in text:
        out[column] = out[column].astype("category")
    return out


def effect_by(members: pd.DataFrame, by: str, arm: str = "arm", churned: str = "churned",
              level: float = 0.95, min_size: int = 0) -> pd.DataFrame:
    """Measured effect per value of column `by`, one row per group.

    Groups follow the category order (categoricals) or sorted order, with missing values last
    as "(missing)". Members without an outcome are ignored; groups with fewer than `min_size`
    members with an outcome are left out (a group whose outcomes are all pending shows n = 0
    when min_size is 0)."""
    _require(members, (by, arm))
    arms, outcome = _arms(members, arm), _outcomes(members, churned)
    rows = [{"group": label, **{k: r[k] for k in BY_COLUMNS[1:]}}
            for label, mask in _groups(members[by])
            if (mask & outcome.notna()).sum() >= min_size
            for r in [_measure(arms, outcome, mask, level)]]
    return pd.DataFrame(rows, columns=list(BY_COLUMNS))


def risk_deciles(p0: np.ndarray, q: int = 10) -> np.ndarray:
    """Risk group 1..q of each churn probability, 1 = highest risk.

    Rank-based: position = average descending rank - 1 (ties share the average), group =
    floor(position * q / n) + 1. Equal probabilities always share a group, whatever the row
    order, and duplicate values never fail (unlike quantile edges)."""
    p = np.asarray(p0, dtype=float)
    if isinstance(q, bool) or int(q) != q or q < 1:
        raise ChurnLensError(f"number of risk groups must be a whole number >= 1, got {q!r}")
    if p.ndim != 1 or np.isnan(p).any():
        raise ChurnLensError(f"p0 must be one probability per member, got shape {p.shape} "
                             f"with {int(np.isnan(p).sum())} missing")
    if p.size == 0:
        return np.zeros(0, dtype=int)
    position = _stats().rankdata(-p, method="average") - 1.0
    return (np.floor(position * int(q) / p.size) + 1).astype(int)


def _acceptance(rows: pd.DataFrame) -> dict:
    """Measured acceptance and redemption (count, known, rate, Wilson 95%) and the assumed."""
    out = {"n_treatment": int(len(rows))}
    for flag, noun in (("accepted", "acceptance"), ("redeemed", "redemption")):
        values = _flags(rows, flag)
        known, yes = int(values.notna().sum()), int((values == 1).sum())
        low, high = wilson(yes, known)
        out.update({f"{flag}_known": known, flag: yes, f"{noun}_low": low, f"{noun}_high": high,
                    f"{noun}_measured": yes / known if known else None})
    assumed = _numbers(rows, "acceptance").mean()
    out["acceptance_assumed"] = None if pd.isna(assumed) else float(assumed)
    return out


def acceptance_summary(members: pd.DataFrame) -> dict:
    """Treated arm only: measured acceptance and redemption (Wilson 95%) vs assumed acceptance.

    Measured rates count True among treated members whose value is known (NaN = not recorded);
    assumed acceptance is the mean of the `acceptance` column. `by_offer` repeats it per offer."""
    _require(members, ("arm",))
    treated = members[_arms(members, "arm") == "treatment"]
    summary = _acceptance(treated)
    summary["by_offer"] = ([{"offer": label, **_acceptance(treated[mask])}
                            for label, mask in _groups(treated["offer"])]
                           if "offer" in treated.columns else [])
    return summary


def profit_summary(members: pd.DataFrame, contact_cost: float, level: float = 0.95) -> dict:
    """Expected profit (the model's) beside realised incremental profit (measured).

    realised = uplift x n_treated x mean CLV of the treated - offer cost of treated accepters
    - contact_cost x n_treated, with n_treated every treated member (all were contacted) and
    the uplift measured on members with an outcome. It is the measured uplift priced at the
    model's CLV, an estimate, not booked revenue; low/high substitute the uplift's interval.
    ROI = realised / cost, None when the cost is 0."""
    if not math.isfinite(contact_cost) or contact_cost < 0:
        raise ChurnLensError(f"contact cost must be a number >= 0, got {contact_cost!r}")
    _require(members, ("arm", "expected_profit", "clv", "offer_cost"))
    arms, outcome = _arms(members, "arm"), _outcomes(members, "churned")
    treated = arms == "treatment"
    n_t = int(treated.sum())
    accepters = treated & (_flags(members, "accepted") == 1)
    offer_cost = float(_numbers(members, "offer_cost")[accepters].fillna(0).sum())
    cost = offer_cost + contact_cost * n_t
    clv = _numbers(members, "clv")[treated].mean()
    effect = _measure(arms, outcome, arms.notna(), level)

    def priced(uplift):
        return None if uplift is None or pd.isna(clv) else float(uplift * n_t * clv - cost)

    realised = priced(effect["uplift"])
    return {"expected_profit": float(_numbers(members, "expected_profit")[treated].sum()),
            "n_treatment": n_t, "mean_clv": None if pd.isna(clv) else float(clv),
            "uplift": effect["uplift"],
            "customers_kept": None if effect["uplift"] is None else effect["uplift"] * n_t,
            "offer_cost": offer_cost, "contact_cost": float(contact_cost * n_t), "cost": cost,
            "realised_profit": realised, "realised_low": priced(effect["low"]),
            "realised_high": priced(effect["high"]),
            "roi": None if realised is None or cost == 0 else realised / cost}


def _json_safe(value):
    """Plain Python floats, ints, strings, lists and dicts; NaN and infinities become None."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, pd.DataFrame):
        return [_json_safe(r) for r in value.to_dict(orient="records")]
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, (bool, np.bool_, str)):
        return value if not isinstance(value, np.bool_) else bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return None if pd.isna(value) else str(value)


def report(members: pd.DataFrame, contact_cost: float = 0.0, level: float = 0.95) -> dict:
    """The campaign's measured effect beside the assumed one, as a JSON-safe dict.

    Keys: members, arms, outcomes (+ per arm), churn per arm, effect (two_proportions),
    assumed (model-implied uplift: mean p0 - p1 over the treated, and the same weighted by
    acceptance, which is the figure comparable with the measured intention-to-treat uplift),
    acceptance, profit, mde (+ mde_basis) and `by` breakdowns (tier, segment, offer when present,
    and "risk decile" from p0). With no outcomes every measured figure is None."""
    _require(members, ("arm", "p0", "p1"))
    members = _as_categories(members)
    arms, outcome = _arms(members, "arm"), _outcomes(members, "churned")
    treated, known = arms == "treatment", outcome.notna()
    effect = _measure(arms, outcome, known, level)
    if not known.any():
        effect["verdict"] = "No outcomes yet: import outcomes to measure the campaign's effect."
    p0 = _numbers(members, "p0")
    gain = p0 - _numbers(members, "p1")
    sizes = {a: int((arms == a).sum()) for a in ARMS}
    basis = ({"n_treatment": effect["n_treatment"], "n_control": effect["n_control"],
              "base_rate": effect["churn_control"], "source": "measured control churn"}
             if known.any() else  # a planning figure before outcomes: sizes and the model's p0
             {"n_treatment": sizes["treatment"], "n_control": sizes["control"],
              "base_rate": p0[~treated].mean(), "source": "model p0 of the control arm"})
    decile = pd.Series(pd.NA, index=members.index, dtype="Int64")
    decile[p0.notna()] = risk_deciles(p0[p0.notna()].to_numpy())
    with_risk = members.assign(**{"risk decile": decile})
    out = {"level": level, "members": int(len(members)), "arms": sizes,
           "outcomes": int(known.sum()),
           "outcomes_by_arm": {"treatment": effect["n_treatment"], "control": effect["n_control"]},
           "churn": {"treatment": effect["churn_treatment"], "control": effect["churn_control"]},
           "effect": effect,
           "assumed": {"uplift": gain[treated].mean(), "uplift_with_acceptance":
                       (_numbers(members, "acceptance") * gain)[treated].mean()},
           "acceptance": acceptance_summary(members),
           "profit": profit_summary(members, contact_cost, level),
           "mde": min_detectable_effect(basis["n_treatment"], basis["n_control"],
                                        basis["base_rate"], alpha=1 - level),
           "mde_basis": basis,
           "by": {g: effect_by(with_risk, g, level=level)
                  for g in (*[c for c in GROUPINGS if c in members.columns], "risk decile")}}
    return _json_safe(out)
