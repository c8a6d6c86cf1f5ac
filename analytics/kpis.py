"""Business KPIs as pure functions of arrays (definitions from PRODUCT.md)."""

from __future__ import annotations

import math

import numpy as np

TIERS = ("High", "Medium", "Low")


def churn_rate(churn) -> float:
    """Churned / customers in the selection (NaN for an empty selection)."""
    churn = np.asarray(churn, dtype=float)
    return float(churn.mean()) if churn.size else math.nan


def retention_rate(churn) -> float:
    """1 - churn rate."""
    return 1.0 - churn_rate(churn)


def arpu(monthly_charges, active) -> float:
    """Mean monthly charges of the active customers in the selection."""
    monthly = np.asarray(monthly_charges, dtype=float)[np.asarray(active, dtype=bool)]
    return float(monthly.mean()) if monthly.size else math.nan


def revenue_at_risk(probability, monthly_charges, active=None) -> float:
    """Expected monthly revenue lost: sum of p(churn) x monthly charges.

    With `active` given, only customers still active count (the others are already gone)."""
    p = np.asarray(probability, dtype=float)
    m = np.asarray(monthly_charges, dtype=float)
    if active is not None:
        keep = np.asarray(active, dtype=bool)
        p, m = p[keep], m[keep]
    return float(np.sum(p * m))


def cac(acquisition_cost, active) -> float:
    """CAC: the mean acquisition cost of the active customers in the selection (customers
    without a known cost are skipped; NaN when none has one)."""
    cost = np.asarray(acquisition_cost, dtype=float)[np.asarray(active, dtype=bool)]
    cost = cost[np.isfinite(cost)]
    return float(cost.mean()) if cost.size else math.nan


def clv_cac(clv_value: float, cac_value: float) -> float:
    """CLV:CAC, lifetime value per acquisition cost (NaN without both, or with a zero CAC)."""
    if not (math.isfinite(clv_value) and math.isfinite(cac_value)) or cac_value == 0:
        return math.nan
    return float(clv_value / cac_value)


def payback_months(cac_value: float, arpu_value: float, margin: float) -> float:
    """Months of margin to earn back the acquisition cost: CAC / (ARPU x margin); NaN
    without a CAC or an ARPU, with a zero ARPU or with no margin."""
    if not (math.isfinite(cac_value) and math.isfinite(arpu_value)) or arpu_value == 0 \
            or margin <= 0:
        return math.nan
    return float(cac_value / (arpu_value * margin))


def monthly_hazard(churn, tenure_months) -> float:
    """Churners per customer-month of exposure (a constant-hazard estimate)."""
    churn = np.asarray(churn, dtype=float)
    exposure = np.sum(np.maximum(np.asarray(tenure_months, dtype=float), 1.0))
    return float(churn.sum() / exposure) if exposure > 0 else math.nan


def annuity_factor(hazard: float, monthly_discount: float, horizon_months: int) -> float:
    """Expected discounted months of revenue left: sum_{t=1..H} ((1-h)/(1+d))^t."""
    q = (1.0 - hazard) / (1.0 + monthly_discount)
    if abs(1.0 - q) < 1e-12:
        return float(horizon_months)
    return float(q * (1.0 - q ** horizon_months) / (1.0 - q))


def monthly_rate(annual_rate: float) -> float:
    """Monthly discount rate equivalent to an annual one."""
    return (1.0 + annual_rate) ** (1.0 / 12.0) - 1.0


def clv(monthly_charges, margin: float, hazard: float, annual_discount: float,
        horizon_months: int) -> np.ndarray:
    """CLV = monthly margin x expected remaining lifetime (1 / hazard, discounted monthly,
    capped at the horizon). Vectorised over customers."""
    factor = annuity_factor(hazard, monthly_rate(annual_discount), horizon_months)
    return np.asarray(monthly_charges, dtype=float) * margin * factor


def assign_tiers(probability, high: float, medium: float) -> np.ndarray:
    """'High' at p >= high, 'Medium' at p >= medium, otherwise 'Low'."""
    if not 0.0 <= medium < high <= 1.0:
        raise ValueError(f"tier thresholds must satisfy 0 <= medium < high <= 1, got "
                         f"medium={medium}, high={high}")
    p = np.asarray(probability, dtype=float)
    return np.where(p >= high, "High", np.where(p >= medium, "Medium", "Low"))


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion."""
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))
