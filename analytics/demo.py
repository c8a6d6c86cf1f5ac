"""Deterministic synthetic telecom customers shaped like the IBM "Telco Customer Churn" file.

:func:`generate_demo` returns a frame with exactly the 21 Telco columns (same order, same
value vocabularies). Optionally it adds Interconnect-style ``BeginDate`` / ``EndDate``
columns. All rows are synthetic. The module never reads the real file. Every rate,
table and coefficient below was measured once on the IBM Telco file (7,043 customers)
and hard-coded here.

Generative story, fully vectorised (one ``np.random.default_rng(seed)`` stream, about
1-2 s per million rows):

1. Contract, then tenure given contract (binned histogram, uniform within each bin).
2. Internet type given contract and tenure (multinomial logit); phone given internet.
3. Multiple lines and the six add-ons: logistic models on tenure and contract, per
   internet type. Each add-on also depends on the add-ons drawn before it, which keeps
   their correlations (for example TV with movies).
4. Senior, paperless billing, payment method, partner and dependents: (multinomial)
   logistic models on tenure, contract, internet and the attributes drawn before them.
   Gender is a coin flip.
5. MonthlyCharges from the real price list (phone 20, extra lines 5, DSL 25, fiber 50,
   each protection add-on 5, each streaming add-on 10) plus small noise.
   TotalCharges = tenure x MonthlyCharges x (1 + noise shrinking with tenure).
6. Churn drawn from a logistic model fitted on the real file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["generate_demo", "TELCO_COLUMNS"]

TELCO_COLUMNS: tuple[str, ...] = (
    "customerID", "gender", "SeniorCitizen", "Partner", "Dependents", "tenure",
    "PhoneService", "MultipleLines", "InternetService", "OnlineSecurity", "OnlineBackup",
    "DeviceProtection", "TechSupport", "StreamingTV", "StreamingMovies", "Contract",
    "PaperlessBilling", "PaymentMethod", "MonthlyCharges", "TotalCharges", "Churn",
)
ADDONS: tuple[str, ...] = (
    "OnlineSecurity", "OnlineBackup", "DeviceProtection", "TechSupport",
    "StreamingTV", "StreamingMovies",
)
CONTRACTS = np.array(["Month-to-month", "One year", "Two year"], dtype=object)
INTERNET = np.array(["DSL", "Fiber optic", "No"], dtype=object)
PAYMENTS = np.array(["Bank transfer (automatic)", "Credit card (automatic)",
                     "Electronic check", "Mailed check"], dtype=object)
_YES_NO = np.array(["No", "Yes"], dtype=object)
_ADDON_VOCAB = np.array(["No", "Yes", "No internet service"], dtype=object)
_LINES_VOCAB = np.array(["No", "Yes", "No phone service"], dtype=object)
_GENDER = np.array(["Female", "Male"], dtype=object)

# ---- Constants measured on the IBM Telco file (7,043 customers) --------------------------
# P(Contract): Month-to-month / One year / Two year.
P_CONTRACT = np.array([0.5502, 0.2091, 0.2407])
# Tenure bins [lo, hi] (inclusive) and customer counts per bin, by contract (rows).
TENURE_BIN_LO = np.array([0, 1, 2, 4, 7, 13, 25, 37, 49, 61, 72])
TENURE_BIN_HI = np.array([0, 1, 3, 6, 12, 24, 36, 48, 60, 71, 72])
TENURE_BIN_COUNTS = np.array([
    [0, 604, 421, 388, 581, 737, 486, 316, 234, 106, 2],     # Month-to-month
    [1, 7, 13, 18, 85, 197, 250, 268, 321, 296, 17],         # One year
    [10, 2, 4, 13, 39, 90, 96, 178, 277, 643, 343],          # Two year
], dtype=float)
# The models below are logistic (or multinomial logistic, first class = reference) on
# named features: "t" = tenure / 72, contract dummies, internet dummies, ... Each row of
# coefficients is [intercept, *features].
# InternetService (DSL / Fiber optic / No) given contract and tenure.
INTERNET_FEATURES = ("t", "one_year", "two_year", "t_one_year", "t_two_year")
INTERNET_COEF = np.array([
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [0.204, 1.364, -2.142, -2.925, 1.542, 1.328],
    [-0.395, -2.727, 1.120, 2.052, 0.310, 0.556]])
# P(PhoneService = Yes | internet): every fiber and no-internet customer has a phone line.
P_PHONE_GIVEN_INTERNET = np.array([0.7183, 1.0, 1.0])
# Logistic coefficients [intercept, tenure/72, One year, Two year] for MultipleLines = Yes
# among phone customers, per internet type.
MULTILINES_LOGIT = np.array([
    [-1.619, 2.539, -0.136, -0.009], [-0.623, 3.326, -0.929, -0.822],
    [-2.660, 2.167, 0.128, 0.574]])
# Add-on chain per internet type (DSL, Fiber optic): row k = logit coefficients for ADDONS[k]
# on [intercept, tenure/72, One year, Two year, ADDONS[0] .. ADDONS[k-1]] (zero padded).
ADDON_LOGIT = np.array([
    [[-1.176, 1.405, 0.713, 1.259, 0, 0, 0, 0, 0],
     [-1.353, 2.085, 0.079, 0.421, 0.095, 0, 0, 0, 0],
     [-1.552, 1.757, 0.855, 1.507, -0.069, -0.202, 0, 0, 0],
     [-1.256, 0.532, 0.923, 1.882, 0.329, 0.119, 0.148, 0, 0],
     [-1.562, 1.132, 0.378, 0.768, -0.471, 0.003, 0.755, 0.326, 0],
     [-1.841, 0.861, 0.266, 0.620, -0.241, -0.108, 0.717, 0.124, 1.374]],
    [[-2.264, 1.901, 0.516, 1.009, 0, 0, 0, 0, 0],
     [-1.672, 2.841, 0.176, 0.009, 0.087, 0, 0, 0, 0],
     [-1.377, 1.772, 0.567, 1.059, -0.088, 0.185, 0, 0, 0],
     [-2.212, 0.820, 0.809, 1.809, 0.291, 0.169, 0.392, 0, 0],
     [-0.716, 1.237, 0.443, 0.572, -0.284, 0.077, 0.621, 0.313, 0],
     [-1.314, 1.099, 0.348, 0.313, -0.224, -0.015, 0.462, 0.301, 1.471]],
])
SENIOR_FEATURES = ("t", "one_year", "two_year", "fiber", "no_internet")
SENIOR_COEF = np.array([-2.159, 1.064, -0.754, -1.225, 0.946, -1.008])
PAPERLESS_FEATURES = ("t", "one_year", "two_year", "fiber", "no_internet", "senior")
PAPERLESS_COEF = np.array([0.188, 0.615, -0.489, -0.739, 0.866, -0.933, 0.385])
# PaymentMethod, classes in PAYMENTS order.
PAYMENT_FEATURES = ("t", "one_year", "two_year", "fiber", "no_internet", "senior", "paperless")
PAYMENT_COEF = np.array([
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [0.040, -0.299, 0.195, 0.270, -0.096, -0.083, 0.007, 0.053],
    [1.070, -1.636, -0.515, -1.107, 0.583, -0.929, 0.246, 0.274],
    [1.525, -3.156, 0.146, 0.431, -0.812, 0.528, -0.523, -0.260]])
PARTNER_FEATURES = ("t", "one_year", "two_year", "senior")
PARTNER_COEF = np.array([-1.170, 2.077, 0.210, 0.430, 0.143])
DEPENDENTS_FEATURES = ("t", "one_year", "two_year", "senior", "partner")
DEPENDENTS_COEF = np.array([-2.034, -0.994, 0.664, 0.997, -1.974, 2.437])
P_MALE = 0.5048
# Price list: a linear fit of MonthlyCharges on the services gives these round numbers.
# The residual sd is about 1.1 for internet customers and 0.55 for phone-only ones.
PRICE_PHONE, PRICE_MULTILINES = 20.0, 5.0
PRICE_INTERNET = np.array([25.0, 50.0, 0.0])
PRICE_ADDON = np.array([5.0, 5.0, 5.0, 5.0, 10.0, 10.0])
PRICE_NOISE_SD = np.array([1.09, 1.15, 0.55])
PRICE_NOISE_CLIP = 4.8
MONTHLY_MIN, MONTHLY_MAX = 18.25, 118.75
# TotalCharges / (tenure x MonthlyCharges) for tenure > 1: mean 1.000, sd ~ 0.20 / sqrt(tenure)
# (0.11 at tenure 2-3, 0.025 beyond 48 months).
TOTAL_RATIO_SD = 0.20
# Churn logistic regression, fitted on the real file (tenure > 0; out-of-fold AUC 0.851),
# coefficients in CHURN_FEATURES order after the intercept.
# The intercept was then shifted so that the demo churn rate matches the real 26.5 %.
CHURN_INTERCEPT = 0.730
CHURN_FEATURES = (
    "one_year", "two_year", "fiber", "no_internet", "echeck", "paperless", "senior",
    "partner", "dependents", "log1p_tenure", "phone", "multilines", *ADDONS,
    "monthly_per_100")
CHURN_COEF = np.array([
    CHURN_INTERCEPT, -0.688, -1.637, 0.842, -0.707, 0.326, 0.356, 0.227,
    0.041, -0.127, -0.732, -0.638, 0.356, -0.335, -0.138, 0.007, -0.304, 0.267, 0.275,
    0.434])
# Interconnect-style dates: churners leave on the first day of one of the last 4 months.
END_MONTHS_BEFORE_EXTRACTION = 4
MAX_TENURE = 72   # months; the Telco file's longest tenure
_ID_SPACE = 10_000 * 26**5  # "dddd-LLLLL"


def _categorical(rng: np.random.Generator, table: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Category index per row, drawn from the (unnormalised) weights ``table[rows[i]]``."""
    cum = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(len(rows))
    idx = np.empty(len(rows), dtype=np.int64)
    for r in range(len(cum)):
        mask = rows == r
        idx[mask] = np.searchsorted(cum[r], u[mask], side="right")
    return np.minimum(idx, table.shape[1] - 1)


def _bernoulli(rng: np.random.Generator, p: np.ndarray | float, n: int) -> np.ndarray:
    """Boolean draws with per-row probability ``p``."""
    return rng.random(n) < p


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _linear(features: dict[str, np.ndarray], names: tuple[str, ...],
            coef: np.ndarray) -> np.ndarray:
    """coef[0] + sum(coef[i + 1] * features[names[i]]), computed column by column (1-D)."""
    z = np.full(len(features["t"]), float(coef[0]))
    for name, c in zip(names, coef[1:]):
        if c != 0.0:
            z += c * features[name]
    return z


def _logistic_draw(rng: np.random.Generator, features: dict[str, np.ndarray],
                   names: tuple[str, ...], coef: np.ndarray) -> np.ndarray:
    """Boolean draws from a logistic model with coefficients [intercept, *names]."""
    p = _sigmoid(_linear(features, names, coef))
    return _bernoulli(rng, p, len(p))


def _softmax_draw(rng: np.random.Generator, features: dict[str, np.ndarray],
                  names: tuple[str, ...], coef: np.ndarray) -> np.ndarray:
    """Class indices from a multinomial logistic model (one coefficient row per class)."""
    weights = [np.exp(_linear(features, names, row)) for row in coef]
    cum = np.cumsum(weights, axis=0)
    u = rng.random(cum.shape[1]) * cum[-1]
    return (u >= cum[:-1]).sum(axis=0)


def _customer_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unique Telco-style ids ("7590-VHVEG"): distinct codes sampled without replacement."""
    codes = rng.choice(_ID_SPACE, size=n, replace=False, shuffle=True).astype(np.int64)
    chars = np.empty((n, 10), dtype=np.uint8)
    digits, letters = np.divmod(codes, 26**5)
    for pos in range(3, -1, -1):
        digits, d = np.divmod(digits, 10)
        chars[:, pos] = ord("0") + d
    chars[:, 4] = ord("-")
    for pos in range(9, 4, -1):
        letters, c = np.divmod(letters, 26)
        chars[:, pos] = ord("A") + c
    return chars.view("S10").ravel().astype(str).astype(object)


def _month_strings(month_index: np.ndarray, suffix: str) -> np.ndarray:
    """Format absolute month indices (year * 12 + month - 1) as "YYYY-MM-01" + suffix."""
    lo = int(month_index.min())
    table = np.array([f"{m // 12:04d}-{m % 12 + 1:02d}-01{suffix}"
                      for m in range(lo, int(month_index.max()) + 1)], dtype=object)
    return table[month_index - lo]


def generate_demo(n_customers: int = 7043, seed: int = 0, with_dates: bool = False,
                  extraction_date: str = "2020-02-01") -> pd.DataFrame:
    """Generate ``n_customers`` synthetic telecom customers in the IBM Telco format.

    Args:
        n_customers: number of rows (>= 1).
        seed: seed for ``np.random.default_rng``. The same seed gives an identical frame.
        with_dates: if True, append Interconnect-style ``BeginDate`` ("YYYY-MM-01") and
            ``EndDate`` ("No" for active customers, "YYYY-MM-01 00:00:00" for churners).
            Churners end on the first day of one of the 4 months before the extraction
            month, drawn uniformly. ``tenure`` equals the whole months from BeginDate to
            EndDate (churners) or to the extraction month (active customers), and nobody
            begins more than 72 months before the extraction month (a leaver who would
            have begun earlier has that much less tenure and TotalCharges). The other 19
            columns are the same with or without dates.
        extraction_date: snapshot date ("YYYY-MM-DD"). Only its month is used.

    Returns:
        DataFrame with exactly the 21 Telco columns (plus the 2 date columns if asked).
        Customers with tenure 0 joined in the extraction month. Their TotalCharges is
        0.0 (nothing billed yet, never NaN), and they never churn, as in the real file.

    Raises:
        ValueError: if ``n_customers`` < 1 or ``extraction_date`` cannot be parsed.
    """
    n = int(n_customers)
    if n < 1:
        raise ValueError(f"n_customers must be >= 1, got {n_customers!r}")
    if n > _ID_SPACE:
        raise ValueError(f"n_customers must be <= {_ID_SPACE} (unique customerID space)")
    if with_dates:
        try:
            extraction = pd.Timestamp(extraction_date)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"invalid extraction_date {extraction_date!r}") from exc
        if pd.isna(extraction):
            raise ValueError(f"invalid extraction_date {extraction_date!r}")
    rng = np.random.default_rng(seed)

    # 1. Contract and tenure.
    contract = _categorical(rng, P_CONTRACT[None, :], np.zeros(n, dtype=np.int64))
    tbin = _categorical(rng, TENURE_BIN_COUNTS, contract)
    width = TENURE_BIN_HI[tbin] - TENURE_BIN_LO[tbin] + 1
    tenure = TENURE_BIN_LO[tbin] + (rng.random(n) * width).astype(np.int64)
    t72 = tenure / 72.0
    one_year, two_year = contract == 1, contract == 2
    f: dict[str, np.ndarray] = {"t": t72, "one_year": one_year, "two_year": two_year,
                                "t_one_year": t72 * one_year, "t_two_year": t72 * two_year}

    # 2. Internet and phone.
    internet = _softmax_draw(rng, f, INTERNET_FEATURES, INTERNET_COEF)
    f["fiber"], f["no_internet"] = internet == 1, internet == 2
    has_internet = internet < 2
    phone = _bernoulli(rng, P_PHONE_GIVEN_INTERNET[internet], n)

    # 3. Multiple lines and the add-on chain (coefficients chosen by internet type).
    base = ("t", "one_year", "two_year")
    ml_logit = np.choose(internet, [_linear(f, base, row) for row in MULTILINES_LOGIT])
    multilines = phone & _bernoulli(rng, _sigmoid(ml_logit), n)
    addons: dict[str, np.ndarray] = {}
    for k, name in enumerate(ADDONS):
        names = base + ADDONS[:k]
        z_dsl, z_fiber = (_linear(f, names, ADDON_LOGIT[i, k, :len(names) + 1]) for i in (0, 1))
        logit = np.where(internet == 1, z_fiber, z_dsl)
        addons[name] = f[name] = has_internet & _bernoulli(rng, _sigmoid(logit), n)

    # 4. Demographics and billing.
    senior = f["senior"] = _logistic_draw(rng, f, SENIOR_FEATURES, SENIOR_COEF)
    paperless = f["paperless"] = _logistic_draw(rng, f, PAPERLESS_FEATURES, PAPERLESS_COEF)
    payment = _softmax_draw(rng, f, PAYMENT_FEATURES, PAYMENT_COEF)
    partner = f["partner"] = _logistic_draw(rng, f, PARTNER_FEATURES, PARTNER_COEF)
    dependents = _logistic_draw(rng, f, DEPENDENTS_FEATURES, DEPENDENTS_COEF)
    male = _bernoulli(rng, P_MALE, n)

    # 5. Charges.
    list_price = PRICE_PHONE * phone + PRICE_MULTILINES * multilines + PRICE_INTERNET[internet]
    for name, price in zip(ADDONS, PRICE_ADDON):
        list_price += price * addons[name]
    noise = np.clip(rng.normal(0.0, 1.0, n) * PRICE_NOISE_SD[internet],
                    -PRICE_NOISE_CLIP, PRICE_NOISE_CLIP)
    monthly = np.round(np.clip(list_price + noise, MONTHLY_MIN, MONTHLY_MAX), 2)
    z = np.clip(rng.normal(0.0, 1.0, n), -3.0, 3.0)
    ratio = np.where(tenure > 1, 1.0 + TOTAL_RATIO_SD * z / np.sqrt(np.maximum(tenure, 1)), 1.0)
    total = np.round(tenure * monthly * ratio, 2)

    # 6. Churn (customers who joined in the extraction month have not churned).
    f.update(echeck=payment == 2, dependents=dependents, phone=phone, multilines=multilines,
             log1p_tenure=np.log1p(tenure), monthly_per_100=monthly / 100.0)
    churn_p = _sigmoid(_linear(f, CHURN_FEATURES, CHURN_COEF))
    churn = _bernoulli(rng, churn_p, n) & (tenure > 0)

    ids = _customer_ids(rng, n)
    addon_cols = {name: _ADDON_VOCAB[addons[name] + 2 * ~has_internet] for name in ADDONS}
    frame = pd.DataFrame({
        "customerID": ids,
        "gender": _GENDER[male.astype(np.int64)],
        "SeniorCitizen": senior.astype(np.int64),
        "Partner": _YES_NO[partner.astype(np.int64)],
        "Dependents": _YES_NO[dependents.astype(np.int64)],
        "tenure": tenure.astype(np.int64),
        "PhoneService": _YES_NO[phone.astype(np.int64)],
        "MultipleLines": _LINES_VOCAB[multilines + 2 * ~phone],
        "InternetService": INTERNET[internet],
        **addon_cols,
        "Contract": CONTRACTS[contract],
        "PaperlessBilling": _YES_NO[paperless.astype(np.int64)],
        "PaymentMethod": PAYMENTS[payment],
        "MonthlyCharges": monthly,
        "TotalCharges": total,
        "Churn": _YES_NO[churn.astype(np.int64)],
    }, columns=list(TELCO_COLUMNS), copy=False)

    if with_dates:
        ext_month = extraction.year * 12 + extraction.month - 1
        end_month = np.full(n, ext_month, dtype=np.int64)
        end_month[churn] -= rng.integers(1, END_MONTHS_BEFORE_EXTRACTION + 1,
                                         size=int(churn.sum()))
        # Nobody began before the service did (MAX_TENURE months before the extraction),
        # as in the real Interconnect file: a churner who left months ago has that much
        # less tenure. Otherwise, at an earlier as-of date, only leavers could have more
        # than MAX_TENURE - 4 months: a few hundred rows in which a long tenure "predicts"
        # churn, and the model then ranked the longest-standing active customers riskiest.
        launch = ext_month - MAX_TENURE
        capped = end_month - tenure < launch
        if capped.any():
            tenure = np.where(capped, end_month - launch, tenure)
            total = np.where(capped, np.round(tenure * monthly * ratio, 2), total)
            frame["tenure"] = tenure.astype(np.int64)
            frame["TotalCharges"] = total
        frame["BeginDate"] = _month_strings(end_month - tenure, "")
        end_str = np.full(n, "No", dtype=object)
        if churn.any():
            end_str[churn] = _month_strings(end_month[churn], " 00:00:00")
        frame["EndDate"] = end_str
    return frame
