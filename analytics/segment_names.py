"""Business names of behavioural segments, from each segment's own numbers.

Naming. A name never contradicts the segment's numbers and never repeats another with a
bracket or a number. r = the segment's mean churn probability / the overall (customer-
weighted) mean. Thresholds are module constants.
  Risk word: "High-Risk" when r >= 1.25 (HIGH_RISK), "Low-Risk" when r <= 0.5 (LOW_RISK),
     none in between.
  1. Business names, in this order, each given at most once. Each picks, among the segments
     not yet named (and allowed by its risk condition), the one with the most extreme mean and
     names it only when that mean passes the threshold against the overall mean:
       "High-Value"      highest mean monthly charges   >= 1.15x overall   risk word in front
       "Loyal"           longest mean tenure            >= 1.3x overall    only if r <= 1.1
       "New"             shortest mean tenure           <= 0.6x overall    risk word in front
       "Low-Engagement"  fewest services (if known)     <= 0.75x overall   risk word in front
     ("High-Risk New", "Low-Risk High-Value"; "Loyal" carries no risk word, it says it.)
  2. Every other segment is "<first word> <spend word>". The spend word is "Low-Spend" /
     "Mid-Spend" / "High-Spend" by the third of all customers' monthly charges (tertiles) its
     mean falls in. The first word is the risk word when there is one ("High-Risk
     High-Spend"); otherwise a tenure word by the tertile of its mean tenure: "Recent" /
     "Steady" / "Established", where the stability words "Steady" and "Established" (like
     "Loyal") need r <= 1.1 (STABLE_RISK); above it they are "Mid-Tenure" / "Long-Tenure".
  3. When several segments get alike names in step 2 (the same risk word and spend word, or
     the same tenure third and spend third, e.g. "Steady Mid-Spend" and "Mid-Tenure
     Mid-Spend"), each keeps its first word and swaps the spend word for its most
     distinguishing feature word: the behaviour feature whose segment mean is the most
     standard deviations (at least 0.5, MIN_Z) from the overall mean, spend and (after a
     tenure word) tenure excluded, whose resulting name is still free (segments in index
     order). Feature words (below / above the overall mean): "Recent" / "Long-Tenure",
     "Few-Services" / "Many-Services", "Monthly-Contract" / "Long-Contract", "Manual-Pay" /
     "Auto-Pay", "Paper-Billed" / "Paperless"; e.g. "High-Risk Paper-Billed" and "High-Risk
     Auto-Pay". Only when no such word is free does a name get " 2", " 3", ... (last resort).
Each segment's `rules` entry says in words which rule gave each word and the numbers behind it.
"""

from __future__ import annotations

import re

import math

import numpy as np

from analytics.dataset import MONTHLY, TENURE

SERVICES = "services"
FEATURE_LABELS = {TENURE: "tenure (months)", MONTHLY: "monthly charges",
                  SERVICES: "number of services", "contract_length": "contract length",
                  "auto_payment": "automatic payment", "paperless_billing": "paperless billing"}
HIGH_RISK = 1.25    # mean churn probability / overall from which a name says "High-Risk"
LOW_RISK = 0.5      # ... up to which it says "Low-Risk"
STABLE_RISK = 1.1   # stability words ("Loyal", "Steady", "Established") only up to this ratio
MIN_Z = 0.5         # a feature word needs the segment mean this many sd from the overall
# (name, profile key, direction, ratio to the overall mean, what is compared, the highest
#  risk ratio the name may carry (None: any), whether the risk word is put in front)
NAME_RULES = (
    ("High-Value", "monthly", "max", 1.15, "highest mean monthly charges", None, True),
    ("Loyal", "tenure", "max", 1.3, "longest mean tenure", STABLE_RISK, False),
    ("New", "tenure", "min", 0.6, "shortest mean tenure", None, True),
    ("Low-Engagement", SERVICES, "min", 0.75, "fewest services on average", None, True),
)
STABLE_TENURE_WORDS = ("Recent", "Steady", "Established")
TENURE_WORDS = ("Recent", "Mid-Tenure", "Long-Tenure")  # when churn is above STABLE_RISK
SPEND_WORDS = ("Low-Spend", "Mid-Spend", "High-Spend")
THIRDS = ("lower", "middle", "upper")
FEATURE_WORDS = {TENURE: ("Recent", "Long-Tenure"),  # (below, above) the overall mean
                 MONTHLY: ("Low-Spend", "High-Spend"),
                 SERVICES: ("Few-Services", "Many-Services"),
                 "contract_length": ("Monthly-Contract", "Long-Contract"),
                 "auto_payment": ("Manual-Pay", "Auto-Pay"),
                 "paperless_billing": ("Paper-Billed", "Paperless")}


# Behavioural features (analytics/data/behaviour.py): '<table>_<stat>' -> (below, above).
BEHAVIOUR_WORDS = {"change_30d": ("Falling-{t}", "Rising-{t}"),
                   "trend": ("Falling-{t}", "Rising-{t}"),
                   "recency_days": ("Recently-Active", "Inactive"),
                   "negative_30d": ("Calm-{t}", "Negative-{t}"),
                   "sentiment_mean_90d": ("Unhappy-{t}", "Happy-{t}"),
                   "sentiment_change": ("Souring-{t}", "Improving-{t}"),
                   "satisfaction_mean_90d": ("Dissatisfied", "Satisfied"),
                   "open": ("No-Open-{t}", "Open-{t}")}
BEHAVIOUR_STAT = re.compile(r"^(?P<table>[a-z0-9_]+?)_(?P<stat>change_30d|trend|recency_days|"
                            r"negative_30d|sentiment_mean_90d|sentiment_change|"
                            r"satisfaction_mean_90d|open)$")


def _fmt(value: float) -> str:
    if not np.isfinite(value):
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 10 else f"{value:.{1 if abs(value) >= 1 else 2}f}"


def _ratios(values: np.ndarray, base: float) -> np.ndarray:
    """Each segment's mean over the overall mean (NaN when the overall is not positive)."""
    values = np.asarray(values, dtype=float)
    if not np.isfinite(base) or base <= 0:
        return np.full(len(values), np.nan)
    return values / base


def _third(value: float, cut: tuple[float, float]) -> int:
    """0, 1 or 2: the third of the customers' distribution `value` falls in."""
    return int(np.searchsorted(cut, value))


def _third_phrase(what: str, value: float, cut: tuple[float, float], unit: str) -> str:
    bounds = (f"up to {_fmt(cut[0])}", f"{_fmt(cut[0])} to {_fmt(cut[1])}",
              f"above {_fmt(cut[1])}")
    third = _third(value, cut)
    return (f"mean {what} {_fmt(value)}{unit}: the {THIRDS[third]} third of customers "
            f"({bounds[third]}{unit})")


def words_of(feature: str) -> tuple[str, str]:
    """(below, above) the overall mean in a name: the fixed words, else from the column
    name ('Balance' -> 'Low-Balance' / 'High-Balance'; an age -> 'Younger' / 'Older')."""
    if feature in FEATURE_WORDS:
        return FEATURE_WORDS[feature]
    behaviour = BEHAVIOUR_STAT.match(str(feature))
    if behaviour:
        table = "-".join(w[:1].upper() + w[1:] for w in behaviour["table"].split("_")[-2:])
        below, above = BEHAVIOUR_WORDS[behaviour["stat"]]
        return (below.format(t=table), above.format(t=table))
    if re.search(r"\bage\b|^age", str(feature), re.I):
        return ("Younger", "Older")
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|[_\s]+", " ", str(feature)).split()
    flag = words[0].lower() if words else ""
    if flag in ("is", "has") and len(words) > 1:  # a 0/1 flag: 'Active-Member' / 'Not-...'
        label = "-".join(w[:1].upper() + w[1:] for w in words[1:4])
        return (("Not-" if flag == "is" else "No-") + label, label)
    label = "-".join(w[:1].upper() + w[1:] for w in words[:3])
    return (f"Low-{label}", f"High-{label}")


def label_of(feature: str) -> str:
    if feature in FEATURE_LABELS:
        return FEATURE_LABELS[feature]
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|[_\s]+", " ", str(feature)).split()
    return " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words)


def _feature_words(z: dict[str, np.ndarray], s: int, skip: tuple[str, ...]) -> list[str]:
    """Segment s's feature words, most distinguishing first: features at least MIN_Z sd
    from the overall mean, strongest |z| first (ties: the order of FEATURE_WORDS, then
    the other features in the order given)."""
    order = [*[f for f in FEATURE_WORDS if f in z], *[f for f in z if f not in FEATURE_WORDS]]
    found = [(-abs(z[f][s]), i, words_of(f)[int(z[f][s] > 0)])
             for i, f in enumerate(order)
             if f not in skip and np.isfinite(z[f][s]) and abs(z[f][s]) >= MIN_Z]
    return [word for *_, word in sorted(found)]


def _name_segments(means: dict[str, np.ndarray], overall: dict[str, float],
                   cuts: dict[str, tuple[float, float]],
                   z: dict[str, np.ndarray] | None = None,
                   spend_column: str | None = None) -> tuple[list[str], list[str]]:
    """Names and the rule behind each, from per-segment means (see the module docstring).
    `z`: per behaviour feature, each segment's (mean - overall) / sd. `spend_column`: the
    numeric driver whose means stand in `means["monthly"]` when the data has no revenue
    (its words replace the spend words; no 'High-Value' then)."""
    k = len(means["risk"])
    risk = _ratios(means["risk"], overall.get("risk", math.nan)) if "risk" in means \
        else np.full(k, np.nan)
    risk_word = ["High-Risk" if r >= HIGH_RISK else "Low-Risk" if r <= LOW_RISK else ""
                 for r in risk]
    names: list = [None] * k
    rules: list[list[str]] = [[] for _ in range(k)]
    _business_names(means, overall, risk, risk_word, names, rules, spend_column)
    first = _descriptive_names(means, cuts, risk, risk_word, names, rules, spend_column)
    _separate_alike(first, z or {}, names, rules, spend_column)
    used: set[str] = set()
    for s in range(k):  # the last resort: a number
        base_name, suffix = names[s], 2
        while names[s] in used:
            names[s], suffix = f"{base_name} {suffix}", suffix + 1
        used.add(names[s])
        if risk_word[s] and names[s].startswith(risk_word[s]):
            rules[s].insert(0, f"{risk_word[s]}: mean churn probability {means['risk'][s]:.0%},"
                               f" {risk[s]:.2f}x the overall {overall['risk']:.0%} (High-Risk "
                               f"from {HIGH_RISK}x, Low-Risk up to {LOW_RISK}x)")
    return names, ["; ".join(r) for r in rules]


def _business_names(means, overall, risk, risk_word, names, rules, spend_column=None) -> None:
    """Step 1: NAME_RULES, each to the most extreme eligible segment that passes."""
    for name, key, direction, ratio, phrase, max_risk, prefixed in NAME_RULES:
        if key == "monthly" and spend_column:
            continue  # 'High-Value' speaks of revenue; this data has none
        if key not in means or not np.isfinite(overall.get(key, math.nan)) or overall[key] <= 0:
            continue
        values, base = means[key], overall[key]
        free = [s for s in range(len(names)) if names[s] is None and np.isfinite(values[s])
                and (max_risk is None or not risk[s] > max_risk)]
        if not free:
            continue
        pick = (max if direction == "max" else min)(free, key=lambda s: values[s])
        value = values[pick]
        if (value >= ratio * base and value > base if direction == "max"
                else value <= ratio * base and value < base):
            names[pick] = f"{risk_word[pick]} {name}".strip() if prefixed else name
            unit = " months" if key == "tenure" else ""
            rules[pick].append(
                f"{name}: {phrase} {_fmt(value)}{unit}, {value / base:.2f}x the overall "
                f"{_fmt(base)} (named when {'at least' if direction == 'max' else 'at most'} "
                f"{ratio}x" + (f", and mean churn probability at most {max_risk}x the "
                               "overall" if max_risk is not None else "") + ")")


def _descriptive_names(means, cuts, risk, risk_word, names, rules, spend_column=None
                       ) -> dict[int, tuple]:
    """Step 2: '<risk or tenure word> <spend word>' for the segments still unnamed (without
    revenue, the words of the first numeric driver stand for the spend words; without a
    tenure, 'Steady' or 'Watch' for the tenure word). Returns, per such segment, (its first
    word, what its name says: alike names say the same)."""
    first = {}
    if spend_column:
        low, high = words_of(spend_column)
        middle = ("Mid-" + low.split("-", 1)[-1] if low.startswith("Low-") else
                  "Middle-Aged" if low == "Younger" else "Mid-Range")
        spend_words = (low, middle, high)
        spend_label = label_of(spend_column)
    else:
        spend_words, spend_label = SPEND_WORDS, "monthly charges"
    for s in [s for s in range(len(names)) if names[s] is None]:
        spend = ""
        if "monthly" in means:
            monthly = means["monthly"][s]
            spend = spend_words[_third(monthly, cuts["monthly"])]
        stable = not risk[s] > STABLE_RISK
        if risk_word[s]:
            first[s] = (risk_word[s], (risk_word[s], spend))
        elif "tenure" in means:
            tenure = means["tenure"][s]
            third = _third(tenure, cuts["tenure"])
            word = (STABLE_TENURE_WORDS if stable else TENURE_WORDS)[third]
            first[s] = (word, (third, spend))
            rules[s].append(f"{word}: " + _third_phrase("tenure", tenure, cuts["tenure"],
                                                        " months")
                            + ("" if word == STABLE_TENURE_WORDS[third] else
                               f" (not '{STABLE_TENURE_WORDS[third]}': mean churn probability "
                               f"{risk[s]:.2f}x the overall, above {STABLE_RISK}x)"))
        else:
            word = "Steady" if stable else "Watch"
            first[s] = (word, (word, spend))
            rules[s].append(f"{word}: mean churn probability {risk[s]:.2f}x the overall "
                            f"({'at most' if stable else 'above'} {STABLE_RISK}x)")
        if spend:
            rules[s].append(f"{spend}: " + _third_phrase(spend_label, means["monthly"][s],
                                                         cuts["monthly"], ""))
        names[s] = f"{first[s][0]} {spend}".strip()
    return first


def _separate_alike(first: dict[int, tuple], z, names, rules, spend_column=None) -> None:
    """Step 3: segments whose step-2 names say the same swap the spend word for their most
    distinguishing free feature word."""
    for said in dict.fromkeys(said for _word, said in first.values()):
        alike = [s for s, (_word, other) in first.items() if other == said]
        for s in alike if len(alike) > 1 else ():
            word, old = first[s][0], names[s]
            skip = (MONTHLY,) if word in ("High-Risk", "Low-Risk") else (MONTHLY, TENURE)
            skip += (spend_column,) if spend_column else ()
            free = [w for w in _feature_words(z, s, skip) if f"{word} {w}" not in names]
            if free:
                names[s] = f"{word} {free[0]}"
                feature = next(f for f in z if free[0] in words_of(f))
                replaced = old.split(" ", 1)[1] if " " in old else old
                rules[s].append(f"{free[0]} instead of '{replaced}' (alike "
                                f"another segment's): {label_of(feature)} "
                                f"{z[feature][s]:+.1f} sd from the overall mean, the most "
                                "distinguishing feature whose name is free")
