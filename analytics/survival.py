"""Survival analysis of customer tenure: Kaplan-Meier retention curves and a survival CLV.

The survival CLV replaces the constant-hazard `kpis.clv`: instead of one monthly hazard for
everybody, a customer's expected remaining months come from the Kaplan-Meier curve
conditional on the tenure already reached, tilted by the model's churn probability
(proportional hazards), and extended past the observed curve with a constant tail hazard.

Everything is vectorised over customers; tenures are whole months. lifelines is imported only
inside `km_curve` / `km_by_group` (it is slow to import and not needed for the CLV).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.kpis import monthly_rate

TAIL_WINDOW_MONTHS = 12
MIN_TAIL_HAZARD = 0.001
RISK_RATIO_BOUNDS = (0.2, 5.0)
_CHUNK_CELLS = 1 << 16  # customers x months per block in the per-customer risk-ratio path
_MIN_LOG = -700.0  # exp() of this is ~1e-304: keeps inf out of the geometric-series algebra


def _validate(tenure, churn) -> tuple[np.ndarray, np.ndarray]:
    """Tenure and churn as float / int arrays of one length, or a ValueError saying why."""
    t = np.asarray(tenure, dtype=float).ravel()
    e = np.asarray(churn, dtype=float).ravel()
    if t.size == 0:
        raise ValueError("survival analysis needs at least one customer (empty tenure array)")
    if t.size != e.size:
        raise ValueError(f"tenure and churn have different lengths ({t.size} vs {e.size})")
    if not np.isfinite(t).all() or (t < 0).any():
        bad = t[~np.isfinite(t) | (t < 0)][:3]
        raise ValueError(f"tenure must be finite and >= 0 months (e.g. {bad.tolist()})")
    if not np.isin(e, (0.0, 1.0)).all():
        bad = e[~np.isin(e, (0.0, 1.0))][:3]
        raise ValueError(f"churn must be 0 or 1 (e.g. {bad.tolist()})")
    return t, e.astype(np.int8)


def _default_max_month(t: np.ndarray, max_month: int | None) -> int:
    if max_month is None:
        return int(np.ceil(t.max()))
    if int(max_month) != max_month or max_month < 0:
        raise ValueError(f"max_month must be a whole number >= 0, got {max_month!r}")
    return int(max_month)


def _km_from_counts(t: np.ndarray, e: np.ndarray, w: np.ndarray, max_month: int) -> pd.DataFrame:
    """Kaplan-Meier curve from unique (tenure, churn) pairs `t`, `e` with counts `w`."""
    from lifelines import KaplanMeierFitter

    months = np.arange(max_month + 1)
    kmf = KaplanMeierFitter().fit(t, event_observed=e, weights=w, timeline=months)
    survival = kmf.survival_function_.iloc[:, 0].to_numpy(dtype=float)
    ci = kmf.confidence_interval_
    lo = ci.iloc[:, 0].to_numpy(dtype=float)
    hi = ci.iloc[:, 1].to_numpy(dtype=float)
    lo = np.where(np.isnan(lo), survival, np.minimum(lo, survival))
    hi = np.where(np.isnan(hi), survival, np.maximum(hi, survival))
    # customers at risk at the start of month m: everyone whose tenure is >= m
    order = np.argsort(t, kind="stable")
    ts, ws = t[order], w[order]
    beyond = np.concatenate([np.cumsum(ws[::-1])[::-1], [0]])
    at_risk = beyond[np.searchsorted(ts, months, side="left")].astype(np.int64)
    return pd.DataFrame({"month": months, "survival": survival, "lo": lo, "hi": hi,
                         "at_risk": at_risk})


def _count_pairs(t: np.ndarray, e: np.ndarray, codes: np.ndarray | None = None) -> pd.DataFrame:
    """Number of customers per unique (group code, tenure, churn) - a few hundred rows."""
    frame = pd.DataFrame({"g": 0 if codes is None else codes, "t": t, "e": e})
    return frame.groupby(["g", "t", "e"], sort=True).size().reset_index(name="w")


def km_curve(tenure, churn, *, max_month: int | None = None) -> pd.DataFrame:
    """Kaplan-Meier retention curve on whole months 0..max_month.

    Fitted with lifelines' KaplanMeierFitter on the unique (tenure, churn) pairs weighted by
    their counts (identical to fitting every customer, much faster), evaluated on the timeline
    `np.arange(max_month + 1)` (default: the largest tenure, rounded up). Columns: month,
    survival (P(tenure > month)), lo / hi (95% exponential-Greenwood interval, lifelines'
    default) and at_risk (customers whose tenure is >= month). Raises ValueError on empty or
    invalid input."""
    t, e = _validate(tenure, churn)
    top = _default_max_month(t, max_month)
    pairs = _count_pairs(t, e)
    return _km_from_counts(pairs["t"].to_numpy(float), pairs["e"].to_numpy(int),
                           pairs["w"].to_numpy(float), top)


def km_by_group(tenure, churn, groups, *, max_month: int | None = None,
                min_size: int = 30) -> dict[str, pd.DataFrame]:
    """One Kaplan-Meier curve (as `km_curve`) per group label, keyed by `str(label)` in label order.

    Customers with a missing label (NaN / None) are ignored; groups with fewer than `min_size`
    customers are left out. Without `max_month` each curve runs to its own group's largest
    tenure (no flat extrapolation past the data)."""
    t, e = _validate(tenure, churn)
    labels = pd.Series(np.asarray(groups, dtype=object).ravel())
    if labels.size != t.size:
        raise ValueError(f"groups and tenure have different lengths ({labels.size} vs {t.size})")
    codes, uniques = pd.factorize(labels, use_na_sentinel=True)
    keep = codes >= 0
    if not keep.any():
        return {}
    pairs = _count_pairs(t[keep], e[keep], codes[keep])
    curves: dict[str, pd.DataFrame] = {}
    for code, part in pairs.groupby("g", sort=False):
        w = part["w"].to_numpy(float)
        if w.sum() < min_size:
            continue
        gt = part["t"].to_numpy(float)
        curves[str(uniques[code])] = _km_from_counts(
            gt, part["e"].to_numpy(int), w, _default_max_month(gt, max_month))
    return dict(sorted(curves.items()))


@dataclass
class SurvivalModel:
    """A retention curve on whole months plus a constant hazard for the months past its end."""

    survival: np.ndarray  # S(m) for m = 0..len-1 from the KM curve, S(0)=1, non-increasing
    tail_hazard: float  # constant monthly hazard used beyond the observed curve

    def __post_init__(self) -> None:
        s = np.asarray(self.survival, dtype=float).ravel()
        if s.size == 0 or not np.isfinite(s).all():
            raise ValueError("survival must be a non-empty array of finite values")
        if abs(s[0] - 1.0) > 1e-9 or (np.diff(s) > 1e-12).any() or s.min() < 0:
            raise ValueError("survival must start at 1, stay in [0, 1] and never increase")
        if not 0.0 <= self.tail_hazard <= 1.0:
            raise ValueError(f"tail_hazard must be in [0, 1], got {self.tail_hazard}")
        self.survival = np.minimum.accumulate(np.clip(s, 0.0, 1.0))
        self.tail_hazard = float(self.tail_hazard)

    @property
    def last_month(self) -> int:
        """T, the last month of the observed curve."""
        return len(self.survival) - 1

    def at(self, months) -> np.ndarray:
        """S(m) for any m >= 0 (vectorised), extended past the end with the tail hazard.

        Fractional months use the whole month below (the KM curve is a step function);
        S(T + k) = S(T) x (1 - tail_hazard)**k for k >= 0."""
        m = np.asarray(months, dtype=float)
        if not np.isfinite(m).all() or (m < 0).any():
            raise ValueError("months must be finite and >= 0")
        whole = np.floor(m).astype(np.int64)
        last = self.last_month
        past = np.maximum(whole - last, 0)
        return self.survival[np.minimum(whole, last)] * (1.0 - self.tail_hazard) ** past


def fit_survival(tenure, churn) -> SurvivalModel:
    """Kaplan-Meier survival on whole months (tenure floored) plus a tail hazard.

    S(m) = prod_{j<=m} (1 - d_j / n_j) with d_j churners at tenure j and n_j customers with
    tenure >= j, for m = 0..T (T = the largest tenure). S(0) is set to 1: churners at tenure 0
    count as leaving in the first month, so their drop shows at month 1. The tail hazard is the
    average monthly hazard over the last 12 observed months, pooled (sum d_j / sum n_j over
    j = T-11..T), floored at 0.001 so lifetimes past the curve stay finite."""
    t, e = _validate(tenure, churn)
    months = np.floor(t).astype(np.int64)
    last = int(months.max())
    deaths = np.bincount(months, weights=e, minlength=last + 1)
    leaving = np.bincount(months, minlength=last + 1)
    at_risk = np.cumsum(leaving[::-1])[::-1].astype(float)  # > 0 for every j <= T
    survival = np.cumprod(1.0 - deaths / at_risk)
    survival[0] = 1.0
    window = slice(max(0, last - TAIL_WINDOW_MONTHS + 1), last + 1)
    hazard = deaths[window].sum() / at_risk[window].sum()
    return SurvivalModel(survival=survival,
                         tail_hazard=float(np.clip(hazard, MIN_TAIL_HAZARD, 1.0)))


def _risk_ratio(risk_ratio, n: int) -> np.ndarray | float:
    if risk_ratio is None:
        return 1.0
    r = np.asarray(risk_ratio, dtype=float)
    if not np.isfinite(r).all() or (r <= 0).any():
        raise ValueError("risk_ratio must be finite and > 0")
    if r.ndim == 0:
        return float(r)
    r = r.ravel()
    if r.size != n:
        raise ValueError(f"risk_ratio and tenure have different lengths ({r.size} vs {n})")
    if (r == r[0]).all():
        return float(r[0])
    return r


def expected_remaining_months(model: SurvivalModel, tenure, *, horizon_months: int,
                              monthly_discount: float = 0.0, risk_ratio=None) -> np.ndarray:
    """Discounted expected months still paying, conditional on having survived to `tenure`.

    E_i = sum_{k=1..H} (S(t_i + k) / S(t_i))**r_i / (1 + d)**k with S from `model.at`,
    t_i the tenure in whole months, H = horizon_months, d = monthly_discount and
    r_i = risk_ratio (1 when None; a scalar or one value per customer): a proportional-hazards
    adjustment that makes a riskier customer's conditional survival decay faster. A customer
    at a tenure where S(t) = 0 (past the end of a curve that reached 0) gets the remaining
    months of the tail hazard alone: sum_k (1 - h)**(k r_i) / (1 + d)**k.

    Vectorised: a (T+1) x min(H, T) table of log S(s+k)/S(s) over the curve's states s is
    indexed by tenure (one row per state when r is one value); with one r per customer the
    customers are sorted by state and raised to their r in blocks. The part of the horizon past
    the curve's end is a geometric series in closed form."""
    if int(horizon_months) != horizon_months or horizon_months < 0:
        raise ValueError(f"horizon_months must be a whole number >= 0, got {horizon_months!r}")
    if not monthly_discount > -1.0:
        raise ValueError(f"monthly_discount must be > -1, got {monthly_discount}")
    horizon = int(horizon_months)
    t = np.asarray(tenure, dtype=float).ravel()
    if t.size == 0:
        raise ValueError("expected_remaining_months needs at least one customer (empty tenure)")
    if not np.isfinite(t).all() or (t < 0).any():
        raise ValueError("tenure must be finite and >= 0 months")
    r = _risk_ratio(risk_ratio, t.size)

    s_curve, last = model.survival, model.last_month
    whole = np.minimum(np.floor(t).astype(np.int64), last)
    state = np.where(s_curve[whole] > 0, whole, last)  # S(t)=0: only the tail is left
    dead = s_curve <= 0
    log_s = np.where(dead, -np.inf, np.log(np.where(dead, 1.0, s_curve)))
    log_from = np.where(dead, 0.0, log_s)  # dead states are never indexed (mapped to T above)
    states = np.arange(last + 1)
    width = min(horizon, last)
    steps = np.arange(1, width + 1)
    ahead = states[:, None] + steps[None, :]
    # log S(s+k)/S(s) inside the curve, -inf past its end (that part is the closed-form tail)
    # and where S reaches 0: exp(r x -inf) = 0 exactly for every r > 0
    table = np.where(ahead <= last, log_s[np.minimum(ahead, last)] - log_from[:, None], -np.inf)
    log_v = -np.log1p(monthly_discount)
    discount = np.exp(log_v * steps)
    offset = last - states  # months from a state to the end of the curve
    extra = np.maximum(horizon - offset, 0)  # months of the horizon past the curve's end
    base = np.where(states == last, 0.0, log_s[last] - log_from)  # log S(T)/S(s), maybe -inf
    log_q = np.log1p(-model.tail_hazard) if model.tail_hazard < 1.0 else _MIN_LOG

    def tail(rr, st):
        """(S(T)/S(s))**r / (1+d)**(T-s) x sum_{j=1..M} ((1-h)**r / (1+d))**j."""
        la = np.maximum(rr * log_q + log_v, _MIN_LOG)
        m = extra[st]
        with np.errstate(over="ignore", invalid="ignore"):
            series = np.where(np.abs(la) < 1e-12, m,
                              np.exp(la) * np.expm1(m * la) / np.expm1(la))
        return np.where(m > 0, np.exp(rr * base[st] + log_v * offset[st]) * series, 0.0)

    if np.isscalar(r):  # one value per state, then index
        per_state = np.exp(r * table) @ discount + tail(r, states)
        return per_state[state]
    # one block of customers per state: only the months where S(s+k) > 0 inside the curve
    # cost an exp(), about half of the full H columns; the loop runs over states, not customers
    last_alive = int(np.flatnonzero(~dead).max())
    terms = np.clip(last_alive - states, 0, width)
    order = np.argsort(state.astype(np.int32), kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(state, minlength=last + 1))])
    r_sorted = r[order]
    curve_part = np.zeros(t.size)
    for s in np.flatnonzero(terms[:-1] > 0):
        k = terms[s]
        rows = max(1, _CHUNK_CELLS // k)
        for start in range(bounds[s], bounds[s + 1], rows):
            stop = min(start + rows, bounds[s + 1])
            block = np.multiply.outer(r_sorted[start:stop], table[s, :k])
            curve_part[start:stop] = np.exp(block, out=block) @ discount[:k]
    out = np.empty(t.size)
    out[order] = curve_part
    out += tail(r, state)
    return out


def survival_clv(model: SurvivalModel, tenure, monthly, probability, *, margin: float,
                 annual_discount: float, horizon_months: int,
                 reference_probability: float | None = None) -> np.ndarray:
    """Survival customer lifetime value, vectorised over customers.

    CLV_i = margin x monthly_i x sum_{k=1..H} (S(t_i + k) / S(t_i))**r_i / (1 + d)**k

    where S is the model's survival curve (extended with its tail hazard past the end),
    t_i the tenure in whole months, H = horizon_months, d = (1 + annual_discount)**(1/12) - 1
    the monthly discount rate, and r_i = clip(p_i / p_ref, 0.2, 5) the risk ratio, with
    p_i = probability and p_ref = reference_probability (default: the mean probability; when
    that is 0 every r_i = 1). The clip keeps extreme scores from exploding. With a
    constant-hazard curve and r_i = 1 this equals `kpis.clv`."""
    t = np.asarray(tenure, dtype=float).ravel()
    m = np.asarray(monthly, dtype=float).ravel()
    p = np.asarray(probability, dtype=float).ravel()
    if t.size == 0:
        raise ValueError("survival_clv needs at least one customer (empty tenure array)")
    if not t.size == m.size == p.size:
        raise ValueError(f"tenure, monthly and probability have different lengths "
                         f"({t.size}, {m.size}, {p.size})")
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError("probability must be finite and in [0, 1]")
    ref = float(p.mean()) if reference_probability is None else float(reference_probability)
    if reference_probability is not None and not 0.0 < ref <= 1.0:
        raise ValueError(f"reference_probability must be in (0, 1], got {ref}")
    ratio = np.clip(p / ref, *RISK_RATIO_BOUNDS) if ref > 0 else None
    months = expected_remaining_months(model, t, horizon_months=horizon_months,
                                       monthly_discount=monthly_rate(annual_discount),
                                       risk_ratio=ratio)
    return margin * m * months


def pareto_share(monthly, top: float = 0.2) -> float:
    """Share of total monthly revenue paid by the top `top` fraction of customers by charges.

    The top group is the ceil(top x n) customers with the largest charges (at least one);
    missing charges (NaN) are ignored. NaN when the total is not positive."""
    if not 0.0 < top <= 1.0:
        raise ValueError(f"top must be in (0, 1], got {top}")
    x = np.asarray(monthly, dtype=float).ravel()
    x = x[~np.isnan(x)]
    if x.size == 0:
        raise ValueError("pareto_share needs at least one customer with monthly charges")
    total = x.sum()
    if not total > 0:
        return float("nan")
    k = max(1, int(np.ceil(top * x.size - 1e-9)))
    return float(np.partition(x, x.size - k)[x.size - k:].sum() / total)
