"""Synthetic churn files of other businesses, shaped like the public files people have.

The product meets files it never saw: a bank's, a usage-only telecom's, IBM's Telco
workbook. These generators give test fixtures and demos with the same columns, value
vocabularies and kind of signal as the public files, which this module never reads: an
out-of-fold CatBoost ROC-AUC of about 0.85 and churn rates of 15-28 %, real but not
trivially separable:

- :func:`generate_bank`: the "Bank Customer Churn" file (``Exited``; age, Germany,
  inactivity, 3-4 products and being female raise churn, 2 products lowers it).
- :func:`generate_usage_telecom`: the Orange / BigML "telecom churn" usage file (no id
  column; charges per month = minutes x a fixed rate; ``Churn`` spelled "True"/"False").
- :func:`generate_telco_workbook`: IBM's "Telco customer churn (11.1.3+)" workbook: the
  :func:`analytics.demo.generate_demo` customers under spaced names, Californian geography,
  and the post-outcome columns ``Churn Value``, ``Churn Score``, ``CLTV`` and ``Churn Reason``
  (the score alone nearly gives the label away: a leakage trap).
- :func:`write_layout`: one of :data:`LAYOUTS` written as the file people get (CSV, a
  two-sheet .xlsx, or a European CSV: ``;``, decimal comma, Latin-1).

Every generator is deterministic for a seed, vectorised (1-3 s per million rows)
and pure (no I/O outside :func:`write_layout`). The marginal rates below follow the public
files' well-known summaries (rounded); the churn models are hand-tuned logistic models that
reproduce the direction and rough size of each file's churn drivers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analytics.demo import generate_demo

__all__ = ["LAYOUTS", "BANK_COLUMNS", "USAGE_COLUMNS", "WORKBOOK_COLUMNS",
           "WORKBOOK_POST_OUTCOME", "generate_bank", "generate_usage_telecom",
           "generate_telco_workbook", "write_layout"]

LAYOUTS: tuple[str, ...] = ("telco", "bank", "usage", "workbook", "workbook-csv")

BANK_COLUMNS: tuple[str, ...] = (
    "RowNumber", "CustomerId", "Surname", "CreditScore", "Geography", "Gender", "Age",
    "Tenure", "Balance", "NumOfProducts", "HasCrCard", "IsActiveMember", "EstimatedSalary",
    "Exited")
_PERIODS = ("day", "eve", "night", "intl")
USAGE_COLUMNS: tuple[str, ...] = (
    "State", "Account length", "Area code", "International plan", "Voice mail plan",
    "Number vmail messages",
    *(f"Total {p} {what}" for p in _PERIODS for what in ("minutes", "calls", "charge")),
    "Customer service calls", "Churn")
WORKBOOK_POST_OUTCOME: tuple[str, ...] = ("Churn Value", "Churn Score", "CLTV", "Churn Reason")
WORKBOOK_COLUMNS: tuple[str, ...] = (
    "CustomerID", "Count", "Country", "State", "City", "Zip Code", "Lat Long", "Latitude",
    "Longitude", "Gender", "Senior Citizen", "Partner", "Dependents", "Tenure Months",
    "Phone Service", "Multiple Lines", "Internet Service", "Online Security", "Online Backup",
    "Device Protection", "Tech Support", "Streaming TV", "Streaming Movies", "Contract",
    "Paperless Billing", "Payment Method", "Monthly Charges", "Total Charges", "Churn Label",
    *WORKBOOK_POST_OUTCOME)
WORKBOOK_SHEETS: tuple[str, str] = ("Notes", "Telco_Churn")

# ---- Bank ---------------------------------------------------------------------------------
SURNAMES: tuple[str, ...] = tuple("""
Smith Martin Scott Walker Brown Yeh Genovese Maclean Shih Wright Thompson White Wilson
Fanucci Ivanova Ma Mitchell Johnson Moore Taylor Young Lin Chiang Tsao Sun Chu Hargrave Hill
Onio Boni Bartlett Obinna He Bearce Andrews Kay Chin Goforth Romeo Henderson Muldrow Hao
McDonald Dellucci Gerasimov Mosman Yen Nebechi McWilliams Lucciano Azikiwe Odinakachukwu
Sanderson Maggard Clements Lombardo Watson Lorenzo Andersen Hsieh Chinweuba Ogbonna
Nwachukwu Okwudilichukwu Udokamma Onyekachi Chukwuemeka Ifeanyichukwu Uchenna Okechukwu
Nnachetam Obijiaku Ndubuisi Chiemenam Okonkwo Nwankwo Egobudike Trevisani Greco Ferri Russo
Esposito Bianchi Colombo Ricci Marino Costa Fontana Conti Rossi Mancini Moretti Barbieri
Lombardi Galli Ferrara Bruno Gallo Rizzo DeRose Cocci Padovano Udinese Palerma Toscani
Napolitani Milanesi Fiorentini Veneziani Calabresi Siciliani Ivanov Smirnov Kuznetsov Popov
Vasiliev Petrov Sokolov Mikhailov Novikov Fedorov Morozov Volkov Alekseyev Lebedev Semenov
Yegorov Pavlov Kozlov Stepanov Nikolaev Orlov Andreev Makarov Zaitsev Solovyov Borisov
Yakovlev Grigoryev Romanov Vorobyov Kirillov Belov Tikhonov Kovalyov Kuzmin Gusev Titov
Baranov Kulikov Medvedev Zhukov Frolov Bykov Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou
Xu Zhu Hu Guo Luo Gao Zheng Liang Xie Song Tang Han Feng Deng Cao Peng Zeng Xiao Tian Dong
Pan Yuan Cai Jiang Yu Du Ye Cheng Wei Su Lu Ding Ren Shen Yao Jin Fu Zhong Lo Tan Kao Hsu
Pai Lai Tseng Chung Kuo Tsai Jones Williams Davies Evans Thomas Roberts Lewis Hughes Edwards
Green Hall Wood Jackson Clarke Harris Clark Cooper King Lee Turner Harrison Ward Baker
Morris Allen Parker Robinson Phillips Carter James Adams Bell Shaw Murray Cox Richardson
Mills Russell Palmer Holmes Knight Lloyd Butler Dixon Hunt Fox Marshall Mason Ellis Graham
Kennedy Mackay Macdonald Campbell Stewart Reid Ross Paterson Fraser Duncan Hamilton Gibson
Sutherland Fleming Black Boyd Kerr McLean Grant Ferguson Cameron Burns Gordon Kelly Ryan
Sullivan Byrne Doyle McCarthy Gallagher Doherty Lynch Murphy O'Brien Nicholls Brennan Foster
Rogers""".split())
GEOGRAPHIES = np.array(["France", "Germany", "Spain"], dtype=object)
P_GEOGRAPHY = np.array([0.5014, 0.2509, 0.2477])
P_FEMALE = 0.4543
BANK_AGE_GAMMA = (3.96, 5.27)  # shape, scale of Age - 18
# Tenure in whole years 0..10: the ends are half as frequent as the middle years.
TENURE_YEAR_WEIGHTS = np.array([413, 1035, 1048, 1009, 989, 1012, 967, 1028, 1025, 984, 490.])
P_PRODUCTS = np.array([0.5084, 0.4590, 0.0266, 0.0060])  # 1, 2, 3, 4 products
P_CARD = 0.7055
# Balance: German customers always hold one; elsewhere a zero balance is common, mostly
# among two-product customers (the second product being a card or a loan).
P_ZERO_BALANCE = np.array([0.33, 0.68, 0.45, 0.45])  # by product count, outside Germany
BALANCE_MEAN, BALANCE_SD, BALANCE_MIN, BALANCE_MAX = 120_000.0, 30_000.0, 3_768.69, 250_898.09
# Exited: a logistic model. Age is a bump peaking in the mid-fifties, stronger for
# inactive members; the product count is the strongest single signal.
BANK_INTERCEPT = -3.4
BANK_AGE_PEAK, BANK_AGE_WIDTH, BANK_AGE_COEF, BANK_AGE_INACTIVE = 54.0, 9.5, 3.1, 1.2
BANK_PRODUCT_COEF = np.array([0.0, -1.7, 2.6, 4.5])
BANK_COEF = {"germany": 0.8, "female": 0.5, "inactive": 0.75, "has_balance": 0.25,
             "low_credit": 1.5, "credit_per_100": -0.07}
_BANK_ID_LOW, _BANK_ID_HIGH = 15_565_701, 99_999_999  # CustomerId: unique 8-digit numbers

# ---- Usage telecom ------------------------------------------------------------------------
STATES = np.array(
    "WV MN NY AL OH OR WI VA WY CT ID MI VT TX UT IN MD KS NC NJ MT CO NV WA RI MA MS AZ FL MO "
    "NM ME ND NE OK DE SC SD KY IL NH AR GA DC TN HI AK LA PA IA CA".split(), dtype=object)
# Counts per 3,333 customers in the order above (West Virginia most, California least).
STATE_WEIGHTS = np.array([106, 84, 83, 80, 78, 78, 78, 77, 77, 74, 73, 73, 73, 72, 72, 71, 70,
                          70, 68, 68, 68, 66, 66, 66, 65, 65, 65, 64, 63, 63, 62, 62, 62, 61,
                          61, 61, 60, 60, 59, 58, 56, 55, 54, 54, 53, 53, 52, 51, 45, 44, 34.])
AREA_CODES = np.array([408, 415, 510])
P_AREA_CODE = np.array([0.2514, 0.4965, 0.2521])
P_INTL_PLAN, P_VMAIL_PLAN = 0.097, 0.277
# (mean, sd, min, max) of minutes and calls per period; charge = minutes x rate per minute.
USAGE_MINUTES = {"day": (179.8, 54.5, 0.0, 350.8), "eve": (201.0, 50.7, 0.0, 363.7),
                 "night": (200.9, 50.6, 23.2, 395.0), "intl": (10.2, 2.8, 0.0, 20.0)}
USAGE_CALLS = {"day": (100.4, 20.1, 0, 165), "eve": (100.1, 19.9, 0, 170),
               "night": (100.1, 19.6, 33, 175)}
RATE_PER_MINUTE = {"day": 0.17, "eve": 0.085, "night": 0.045, "intl": 0.27}
INTL_CALLS_MEAN = 4.5
SERVICE_CALL_WEIGHTS = np.array([697, 1181, 759, 429, 166, 66, 22, 9, 2, 2.])  # 0..9 calls
# Churn: a logistic model. International plan (worse with long or few international
# calls), a monthly bill beyond about 65, four or more service calls (worse for light
# users), and no voice-mail plan raise churn.
USAGE_INTERCEPT = -4.0
USAGE_COEF = {"intl_plan": 2.3, "intl_long": 1.0, "intl_few_calls": 0.8, "bill_over": 1.9,
              "service": 2.4, "service_light": 0.7, "service_each": 0.08, "vmail": -0.7}
USAGE_BILL_KNEE, USAGE_BILL_SCALE = 65.0, 5.5

# ---- Telco workbook -----------------------------------------------------------------------
# (city, latitude, longitude, first zip code, number of zip codes, share of customers).
CALIFORNIA_CITIES: tuple[tuple[str, float, float, int, int, float], ...] = (
    ("Los Angeles", 34.0522, -118.2437, 90001, 60, 30.0),
    ("San Diego", 32.7157, -117.1611, 92101, 30, 15.0),
    ("San José", 37.3382, -121.8863, 95110, 25, 11.0),
    ("San Francisco", 37.7749, -122.4194, 94102, 28, 10.0),
    ("Sacramento", 38.5816, -121.4944, 95814, 20, 8.0),
    ("Fresno", 36.7378, -119.7871, 93701, 20, 6.0),
    ("Long Beach", 33.7701, -118.1937, 90802, 12, 5.0),
    ("Oakland", 37.8044, -122.2712, 94601, 18, 5.0),
    ("Bakersfield", 35.3733, -119.0187, 93301, 12, 4.0),
    ("Anaheim", 33.8366, -117.9143, 92801, 8, 3.0),
    ("Santa Ana", 33.7455, -117.8677, 92701, 6, 3.0),
    ("Riverside", 33.9533, -117.3962, 92501, 8, 3.0),
    ("Stockton", 37.9577, -121.2908, 95202, 10, 3.0),
    ("Irvine", 33.6846, -117.8265, 92602, 10, 2.5),
    ("Glendale", 34.1425, -118.2551, 91201, 8, 2.5),
    ("Pasadena", 34.1478, -118.1445, 91101, 6, 2.5),
    ("Berkeley", 37.8716, -122.2727, 94702, 7, 2.0),
    ("Santa Barbara", 34.4208, -119.6982, 93101, 8, 2.0),
    ("Santa Rosa", 38.4405, -122.7144, 95401, 8, 2.0),
    ("Modesto", 37.6391, -120.9969, 95350, 7, 2.0),
    ("Chula Vista", 32.6401, -117.0842, 91910, 5, 2.0),
    ("Torrance", 33.8358, -118.3406, 90501, 5, 2.0),
    ("Burbank", 34.1808, -118.3090, 91501, 5, 2.0),
    ("Salinas", 36.6777, -121.6555, 93901, 6, 1.5),
    ("Visalia", 36.3302, -119.2921, 93277, 4, 1.5),
    ("Lancaster", 34.6868, -118.1542, 93534, 3, 1.5),
    ("Ventura", 34.2746, -119.2290, 93001, 4, 1.5),
    ("Fremont", 37.5485, -121.9886, 94536, 4, 1.5),
    ("Hayward", 37.6688, -122.0808, 94541, 4, 1.5),
    ("Sunnyvale", 37.3688, -122.0363, 94085, 5, 1.5),
    ("Santa Clara", 37.3541, -121.9552, 95050, 5, 1.5),
    ("Huntington Beach", 33.6595, -117.9988, 92646, 4, 1.5),
    ("Escondido", 33.1192, -117.0864, 92025, 5, 1.0),
    ("Oceanside", 33.1959, -117.3795, 92054, 5, 1.0),
    ("Ontario", 34.0633, -117.6509, 91761, 4, 1.0),
    ("Redding", 40.5865, -122.3917, 96001, 3, 1.0),
    ("Chico", 39.7285, -121.8375, 95926, 4, 1.0),
    ("San Luis Obispo", 35.2828, -120.6596, 93401, 5, 1.0),
    ("Eureka", 40.8021, -124.1637, 95501, 3, 0.8),
    ("Palm Springs", 33.8303, -116.5453, 92262, 3, 0.8),
    ("Yuba City", 39.1404, -121.6169, 95991, 3, 0.8),
    ("Davis", 38.5449, -121.7405, 95616, 3, 0.8),
    ("Napa", 38.2975, -122.2869, 94558, 2, 0.8),
    ("Petaluma", 38.2324, -122.6367, 94952, 2, 0.6),
    ("Monterey", 36.6002, -121.8947, 93940, 1, 0.6),
    ("Ukiah", 39.1502, -123.2078, 95482, 1, 0.5),
    ("La Cañada Flintridge", 34.2064, -118.2001, 91011, 1, 0.5),
    ("Crescent City", 41.7558, -124.2026, 95531, 1, 0.4),
    ("Truckee", 39.3280, -120.1833, 96161, 1, 0.4),
    ("South Lake Tahoe", 38.9399, -119.9772, 96150, 1, 0.4),
    ("Big Bear Lake", 34.2439, -116.9114, 92315, 1, 0.4),
    ("Mammoth Lakes", 37.6485, -118.9721, 93546, 1, 0.3),
)
_GEO_SEED = 1113  # the zip-code coordinates are the same whatever the seed
_GEO_JITTER_DEG = 0.04
# Churn Score (0-100, as the vendor's model gave it): churners 65-100, stayers 5-80.
SCORE_CHURNER_LO, SCORE_CHURNER_SPAN, SCORE_CHURNER_BETA = 65, 35, (1.6, 1.0)
SCORE_STAYER_LO, SCORE_STAYER_SPAN, SCORE_STAYER_BETA = 5, 75, (1.5, 1.2)
# CLTV 2000-6500: grows with tenure, mildly lower for churners.
CLTV_LO, CLTV_SPAN, CLTV_BETA = 2000, 4500, (1.6, 1.4)
CLTV_TENURE_SHARE, CLTV_CHURN_SHIFT = 0.25, 0.02
CHURN_REASONS = np.array([
    "Attitude of support person", "Competitor offered higher download speeds",
    "Competitor offers more data", "Don't know", "Competitor made better offer",
    "Attitude of service provider", "Competitor had better devices", "Network reliability",
    "Product dissatisfaction", "Price too high", "Service dissatisfaction",
    "Lack of self-service on Website", "Extra data charges", "Moved",
    "Limited range of services", "Long distance charges",
    "Lack of affordable download/upload speed", "Poor expertise of phone support",
    "Poor expertise of online support", "Deceased"], dtype=object)
CHURN_REASON_WEIGHTS = np.array([192, 189, 162, 154, 140, 135, 130, 103, 102, 98, 89, 88, 57,
                                 53, 44, 44, 44, 20, 19, 6.])
# demo column -> workbook column (the rest of the workbook is added around them).
_TELCO_TO_WORKBOOK = {
    "customerID": "CustomerID", "gender": "Gender", "SeniorCitizen": "Senior Citizen",
    "Partner": "Partner", "Dependents": "Dependents", "tenure": "Tenure Months",
    "PhoneService": "Phone Service", "MultipleLines": "Multiple Lines",
    "InternetService": "Internet Service", "OnlineSecurity": "Online Security",
    "OnlineBackup": "Online Backup", "DeviceProtection": "Device Protection",
    "TechSupport": "Tech Support", "StreamingTV": "Streaming TV",
    "StreamingMovies": "Streaming Movies", "Contract": "Contract",
    "PaperlessBilling": "Paperless Billing", "PaymentMethod": "Payment Method",
    "MonthlyCharges": "Monthly Charges", "TotalCharges": "Total Charges",
    "Churn": "Churn Label"}
WORKBOOK_NOTES: tuple[str, ...] = (
    "Telco customer churn (11.1.3+): synthetic customers generated by ChurnLens.",
    "One row per customer of a fictional Californian telecom, last quarter.",
    "Data sheet: Telco_Churn. Churn Label / Churn Value: left this quarter.",
    "Churn Score, CLTV and Churn Reason were recorded after the outcome.",
)
_YES_NO = np.array(["No", "Yes"], dtype=object)
_GENDER = np.array(["Male", "Female"], dtype=object)
_TRUE_FALSE = np.array(["False", "True"], dtype=object)


def _check_n(n: int) -> int:
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n!r}")
    return n


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _choice(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    """Category indices drawn with the (unnormalised) ``weights``."""
    cum = np.cumsum(weights) / np.sum(weights)
    return np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(weights) - 1)


def _normal_int(rng: np.random.Generator, mean: float, sd: float, lo: int, hi: int,
                n: int) -> np.ndarray:
    return np.clip(np.rint(rng.normal(mean, sd, n)), lo, hi).astype(np.int64)


def generate_bank(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` synthetic bank customers in the "Bank Customer Churn" layout
    (:data:`BANK_COLUMNS`).

    ``Exited`` (1 = left the bank) is about 20 %; ``Tenure`` is in whole years (0-10);
    about a third of the balances are exactly 0.0. There is no monthly-charges column.
    """
    n = _check_n(n)
    id_space = min(max(250_000, 4 * n), _BANK_ID_HIGH - _BANK_ID_LOW + 1)
    if n > id_space:
        raise ValueError(f"n must be <= {id_space} (unique 8-digit CustomerId)")
    rng = np.random.default_rng(seed)
    geo = _choice(rng, P_GEOGRAPHY, n)
    female = rng.random(n) < P_FEMALE
    # Age: 18 plus a gamma (mean 39, sd 10.5, median 37, skew 1); the rare draws beyond 92
    # are redrawn among the over-sixties.
    age = 18 + np.rint(rng.gamma(BANK_AGE_GAMMA[0], BANK_AGE_GAMMA[1], n)).astype(np.int64)
    age = np.where(age > 92, rng.integers(60, 93, n), age)
    credit = _normal_int(rng, 650.5, 96.7, 350, 850, n)
    tenure = _choice(rng, TENURE_YEAR_WEIGHTS, n)
    products = _choice(rng, P_PRODUCTS, n) + 1
    card = rng.random(n) < P_CARD
    active = rng.random(n) < _sigmoid(0.06 + 0.02 * (age - 39))
    zero = (geo != 1) & (rng.random(n) < P_ZERO_BALANCE[products - 1])
    amount = np.clip(rng.normal(BALANCE_MEAN, BALANCE_SD, n), BALANCE_MIN, BALANCE_MAX)
    balance = np.where(zero, 0.0, np.round(amount, 2))
    salary = np.round(rng.uniform(10_000.0, 200_000.0, n), 2)

    bump = np.exp(-0.5 * ((age - BANK_AGE_PEAK) / BANK_AGE_WIDTH) ** 2)
    c = BANK_COEF
    z = (BANK_INTERCEPT + BANK_AGE_COEF * bump + BANK_AGE_INACTIVE * bump * ~active
         + BANK_PRODUCT_COEF[products - 1] + c["germany"] * (geo == 1)
         + c["female"] * female + c["inactive"] * ~active + c["has_balance"] * ~zero
         + c["low_credit"] * (credit < 400) + c["credit_per_100"] * (credit - 650) / 100)
    exited = rng.random(n) < _sigmoid(z)
    ids = _BANK_ID_LOW + rng.choice(id_space, size=n, replace=False)
    surnames = np.array(SURNAMES, dtype=object)
    surname = surnames[_choice(rng, 1.0 / (np.arange(len(SURNAMES)) + 8.0), n)]
    return pd.DataFrame({
        "RowNumber": np.arange(1, n + 1, dtype=np.int64),
        "CustomerId": ids.astype(np.int64),
        "Surname": surname,
        "CreditScore": credit,
        "Geography": GEOGRAPHIES[geo],
        "Gender": _GENDER[female.astype(np.int64)],
        "Age": age.astype(np.int64),
        "Tenure": tenure.astype(np.int64),
        "Balance": balance,
        "NumOfProducts": products.astype(np.int64),
        "HasCrCard": card.astype(np.int64),
        "IsActiveMember": active.astype(np.int64),
        "EstimatedSalary": salary,
        "Exited": exited.astype(np.int64),
    }, columns=list(BANK_COLUMNS))


def generate_usage_telecom(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` synthetic telecom accounts in the Orange "telecom churn" usage layout
    (:data:`USAGE_COLUMNS`): no id column, ``Churn`` is the text "True"/"False" (about 15 %).

    Each ``Total <period> charge`` is the minutes times the period's rate (day 0.17, eve
    0.085, night 0.045, intl 0.27), rounded to cents; the four charges make the monthly bill.
    """
    n = _check_n(n)
    rng = np.random.default_rng(seed)
    state = STATES[_choice(rng, STATE_WEIGHTS, n)]
    account_length = _normal_int(rng, 101.1, 39.8, 1, 243, n)
    area = AREA_CODES[_choice(rng, P_AREA_CODE, n)]
    intl_plan = rng.random(n) < P_INTL_PLAN
    vmail_plan = rng.random(n) < P_VMAIL_PLAN
    vmail_messages = np.where(vmail_plan, _normal_int(rng, 29.3, 7.6, 4, 51, n), 0)
    cols: dict[str, np.ndarray] = {}
    bill = np.zeros(n)
    for period in _PERIODS:
        mean, sd, lo, hi = USAGE_MINUTES[period]
        minutes = np.round(np.clip(rng.normal(mean, sd, n), lo, hi), 1)
        if period == "intl":
            calls = np.clip(rng.poisson(INTL_CALLS_MEAN, n), 1, 20)
        else:
            calls = _normal_int(rng, *USAGE_CALLS[period], n)
        calls = np.where(minutes == 0.0, 0, calls).astype(np.int64)
        charge = np.round(minutes * RATE_PER_MINUTE[period], 2)
        cols[f"Total {period} minutes"], cols[f"Total {period} calls"] = minutes, calls
        cols[f"Total {period} charge"] = charge
        bill += charge
    service = _choice(rng, SERVICE_CALL_WEIGHTS, n)

    c = USAGE_COEF
    light = (USAGE_MINUTES["day"][0] - cols["Total day minutes"]) / USAGE_MINUTES["day"][1]
    z = (USAGE_INTERCEPT + c["vmail"] * vmail_plan
         + intl_plan * (c["intl_plan"] + c["intl_long"] * (cols["Total intl minutes"] > 13)
                        + c["intl_few_calls"] * (cols["Total intl calls"] < 3))
         + c["bill_over"] * np.logaddexp(0.0, (bill - USAGE_BILL_KNEE) / USAGE_BILL_SCALE)
         + (service >= 4) * (c["service"] + c["service_light"] * np.clip(light, -2, 2))
         + c["service_each"] * service)
    churn = rng.random(n) < _sigmoid(z)
    return pd.DataFrame({
        "State": state,
        "Account length": account_length,
        "Area code": area.astype(np.int64),
        "International plan": _YES_NO[intl_plan.astype(np.int64)],
        "Voice mail plan": _YES_NO[vmail_plan.astype(np.int64)],
        "Number vmail messages": vmail_messages.astype(np.int64),
        **cols,
        "Customer service calls": service.astype(np.int64),
        "Churn": _TRUE_FALSE[churn.astype(np.int64)],
    }, columns=list(USAGE_COLUMNS))


def _zip_table() -> tuple[np.ndarray, ...]:
    """One row per zip code: city index, zip, latitude, longitude, share of customers."""
    rng = np.random.default_rng(_GEO_SEED)
    sizes = np.array([c[4] for c in CALIFORNIA_CITIES])
    city = np.repeat(np.arange(len(CALIFORNIA_CITIES)), sizes)
    offset = np.arange(len(city)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    zips = np.array([c[3] for c in CALIFORNIA_CITIES])[city] + offset
    lat = np.round(np.array([c[1] for c in CALIFORNIA_CITIES])[city]
                   + rng.uniform(-_GEO_JITTER_DEG, _GEO_JITTER_DEG, len(city)), 6)
    lon = np.round(np.array([c[2] for c in CALIFORNIA_CITIES])[city]
                   + rng.uniform(-_GEO_JITTER_DEG, _GEO_JITTER_DEG, len(city)), 6)
    share = np.array([c[5] for c in CALIFORNIA_CITIES])[city] / sizes[city]
    return city, zips, lat, lon, share


def generate_telco_workbook(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` synthetic customers in IBM's "Telco customer churn (11.1.3+)" workbook layout
    (:data:`WORKBOOK_COLUMNS`).

    The customers are :func:`analytics.demo.generate_demo`'s (same seed) under the
    workbook's spaced names ("Senior Citizen" is "Yes"/"No"), placed in Californian cities.
    The last four columns were recorded after the outcome: ``Churn Value`` (1/0, the label),
    ``Churn Score`` (0-100; churners 65-100, stayers 5-80), ``CLTV`` (2000-6500, mildly lower
    for churners) and ``Churn Reason`` (churners only; missing for stayers).
    """
    n = _check_n(n)
    telco = generate_demo(n, seed=seed)
    rng = np.random.default_rng([seed, 2019])  # a stream of its own, not the demo's
    city, zips, lat, lon, share = _zip_table()
    cities = np.array([c[0] for c in CALIFORNIA_CITIES], dtype=object)
    lat_long = np.array([f"{a:.6f}, {b:.6f}" for a, b in zip(lat, lon)], dtype=object)
    where = _choice(rng, share, n)
    churned = (telco["Churn"] == "Yes").to_numpy()
    tenure = telco["tenure"].to_numpy()

    score_churner = SCORE_CHURNER_LO + SCORE_CHURNER_SPAN * rng.beta(*SCORE_CHURNER_BETA, n)
    score_stayer = SCORE_STAYER_LO + SCORE_STAYER_SPAN * rng.beta(*SCORE_STAYER_BETA, n)
    score = np.rint(np.where(churned, score_churner, score_stayer)).astype(np.int64)
    value = ((1 - CLTV_TENURE_SHARE) * rng.beta(*CLTV_BETA, n)
             + CLTV_TENURE_SHARE * tenure / 72.0 - CLTV_CHURN_SHIFT * churned)
    cltv = np.rint(CLTV_LO + CLTV_SPAN * np.clip(value, 0.0, 1.0)).astype(np.int64)
    reason = CHURN_REASONS[_choice(rng, CHURN_REASON_WEIGHTS, n)]
    reason = np.where(churned, reason, np.nan)

    columns = {new: telco[old].to_numpy() for old, new in _TELCO_TO_WORKBOOK.items()}
    columns["Senior Citizen"] = _YES_NO[columns["Senior Citizen"]]
    columns.update({
        "Count": np.ones(n, dtype=np.int64),
        "Country": np.full(n, "United States", dtype=object),
        "State": np.full(n, "California", dtype=object),
        "City": cities[city[where]],
        "Zip Code": zips[where].astype(np.int64),
        "Lat Long": lat_long[where],
        "Latitude": lat[where],
        "Longitude": lon[where],
        "Churn Value": churned.astype(np.int64),
        "Churn Score": score,
        "CLTV": cltv,
        "Churn Reason": reason,
    })
    return pd.DataFrame(columns, columns=list(WORKBOOK_COLUMNS), copy=False)


def write_layout(layout: str, n: int, path, seed: int = 0) -> Path:
    """Write ``n`` generated rows of ``layout`` (one of :data:`LAYOUTS`) to ``path``.

    "telco" (the demo), "bank" and "usage" are plain CSV; "workbook" is an .xlsx with a
    "Notes" sheet first and the data on "Telco_Churn"; "workbook-csv" is the workbook's
    data as a European CSV (``;`` delimiter, decimal comma, Latin-1). Returns the path.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if layout == "telco":
        generate_demo(n, seed=seed).to_csv(path, index=False)
    elif layout == "bank":
        generate_bank(n, seed=seed).to_csv(path, index=False)
    elif layout == "usage":
        generate_usage_telecom(n, seed=seed).to_csv(path, index=False)
    elif layout == "workbook-csv":
        generate_telco_workbook(n, seed=seed).to_csv(path, index=False, sep=";", decimal=",",
                                                     encoding="latin-1")
    else:
        frame = generate_telco_workbook(n, seed=seed)
        with pd.ExcelWriter(path, engine="openpyxl") as writer:
            pd.DataFrame({"Notes": list(WORKBOOK_NOTES)}).to_excel(
                writer, sheet_name=WORKBOOK_SHEETS[0], index=False, header=False)
            frame.to_excel(writer, sheet_name=WORKBOOK_SHEETS[1], index=False)
    return path
