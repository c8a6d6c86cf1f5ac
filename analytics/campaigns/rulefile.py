"""The rules file: TOML read and checked whole (every mistake names the file, the rule and
the key), into frozen `RuleSet` / `Rule` / `When` values. data/rules.example.toml documents
every key; rules.py matches and runs them."""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

from analytics.campaigns import outbox
from analytics.campaigns.arms import check_share
from analytics.campaigns.snapshots import TIERS
from analytics.errors import ChurnLensError, DataError
from analytics.offers import NO_OFFER

BEST = "best"
SEPARATOR = " · "
MAX_PREFIX = 180
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
RULE_KEYS = ("name", "campaign", "offer", "control_share", "horizon_days", "capacity",
             "enabled", "description", "when")
WHEN_KEYS = ("crossed_into_high", "min_rise", "tier", "min_probability", "min_clv",
             "not_contacted_days", "segment")


@dataclass(frozen=True)
class When:
    """A rule's conditions; each one left at its default is not applied."""

    crossed_into_high: bool = False
    min_rise: float | None = None
    tier: tuple[str, ...] = ()
    min_probability: float | None = None
    min_clv: float | None = None
    not_contacted_days: int | None = None
    segment: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()
                if v not in (None, False, ())}


@dataclass(frozen=True)
class Rule:
    name: str
    campaign: str
    when: When
    offer: str = BEST
    control_share: float = 0.10
    horizon_days: int = 90
    capacity: int | None = None
    enabled: bool = True
    description: str = ""


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    outbox: outbox.OutboxSettings
    source: str


def _fail(source: str, rule: str, key: str, message: str, value=None) -> DataError:
    return DataError(f"rule {rule}, key '{key}': {message}", file=source,
                     examples=[repr(value)] if value is not None else [])


def _number(source, rule, key, value, low, high=None, whole=False, low_open=False):
    kind = "a whole number" if whole else "a number"
    if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
        raise _fail(source, rule, key, f"must be {kind}", value)
    if (value <= low if low_open else value < low) or (high is not None and value > high):
        bounds = f"above {low:g}" if low_open else f"at least {low:g}"
        raise _fail(source, rule, key, f"must be {kind} {bounds}"
                    + (f" and at most {high:g}" if high is not None else ""), value)
    return value if whole else float(value)


def _texts(source, rule, key, value, allowed=None) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(
            isinstance(v, str) and v.strip() for v in value):
        raise _fail(source, rule, key, "must be a non-empty list of names", value)
    bad = [v for v in value if allowed is not None and v not in allowed]
    if bad:
        raise _fail(source, rule, key, f"unknown value (allowed: {', '.join(allowed)})", bad[0])
    return tuple(v.strip() for v in value)


def _when(source: str, rule: str, raw) -> When:
    if not isinstance(raw, dict) or not raw:
        raise _fail(source, rule, "when", "needs at least one condition in [rules.when] "
                    f"({', '.join(WHEN_KEYS)}); without one every active customer would match",
                    raw if raw else None)
    unknown = sorted(set(raw) - set(WHEN_KEYS))
    if unknown:
        raise _fail(source, rule, f"when.{unknown[0]}",
                    f"unknown condition (allowed: {', '.join(WHEN_KEYS)})")
    out = {}
    if "crossed_into_high" in raw and raw["crossed_into_high"] is not True:
        raise _fail(source, rule, "when.crossed_into_high", "set it to true or leave it out",
                    raw["crossed_into_high"])
    out["crossed_into_high"] = raw.get("crossed_into_high", False)
    checks = {"min_rise": (0, 1, False, True), "min_probability": (0, 1, False, False),
              "min_clv": (0, None, False, False), "not_contacted_days": (1, 3650, True, False)}
    for key, (low, high, whole, low_open) in checks.items():
        if key in raw:
            out[key] = _number(source, rule, f"when.{key}", raw[key], low, high, whole,
                               low_open)
    if "tier" in raw:
        out["tier"] = _texts(source, rule, "when.tier", raw["tier"], TIERS)
    if "segment" in raw:
        out["segment"] = _texts(source, rule, "when.segment", raw["segment"])
    return When(**out)


def _rule(source: str, number: int, raw, offers: set[str] | None, catalogue_source: str):
    if not isinstance(raw, dict):
        raise _fail(source, f"#{number}", "rules", "must be a table [[rules]]", raw)
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail(source, f"#{number}", "name", "is required: letters, digits, '-' and '_' "
                    "(at most 100)", name)
    rule = f"'{name}'"
    unknown = sorted(set(raw) - set(RULE_KEYS))
    if unknown:
        raise _fail(source, rule, unknown[0], f"unknown key (allowed: {', '.join(RULE_KEYS)})")
    campaign = raw.get("campaign")
    if not isinstance(campaign, str) or not campaign.strip() or len(campaign) > MAX_PREFIX:
        raise _fail(source, rule, "campaign", "is required: the campaign name (text, at most "
                    f"{MAX_PREFIX} characters)", campaign)
    offer = raw.get("offer", BEST)
    if not isinstance(offer, str) or not (offer == BEST or _NAME.match(offer)) \
            or offer == NO_OFFER:
        raise _fail(source, rule, "offer", "must be \"best\" or an offer id", offer)
    if offer != BEST and offers is not None and offer not in offers:
        raise _fail(source, rule, "offer", f"is not an offer of {catalogue_source} (offers: "
                    f"{', '.join(sorted(offers))})", offer)
    share = _number(source, rule, "control_share", raw.get("control_share", 0.10), 0)
    try:
        check_share(share)
    except ChurnLensError as exc:
        raise _fail(source, rule, "control_share", str(exc), share) from None
    for key, kind in (("enabled", bool), ("description", str)):
        if key in raw and not isinstance(raw[key], kind):
            raise _fail(source, rule, key,
                        "must be true or false" if kind is bool else "must be text", raw[key])
    capacity = raw.get("capacity")
    return Rule(name=name, campaign=campaign.strip(), when=_when(source, rule, raw.get("when")),
                offer=offer, control_share=share,
                horizon_days=_number(source, rule, "horizon_days", raw.get("horizon_days", 90),
                                     1, 3650, whole=True),
                capacity=None if capacity is None else _number(source, rule, "capacity",
                                                               capacity, 1, whole=True),
                enabled=raw.get("enabled", True), description=raw.get("description", ""))


def load_rules(path: str | Path, catalogue=None) -> RuleSet:
    """Read and check a rules file; with a catalogue, every offer id must be one of its."""
    path, source = Path(path), str(path)
    if not path.is_file():
        raise DataError("rules file not found", file=source)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"not a valid TOML file ({exc})", file=source) from None
    unknown = sorted(set(raw) - {"settings", "rules"})
    if unknown:
        raise DataError(f"unknown top-level table '{unknown[0]}' (allowed: settings, rules)",
                        file=source)
    settings = outbox.read_settings(raw.get("settings", {}), source, path.parent)
    items = raw.get("rules")
    if not isinstance(items, list) or not items:
        raise DataError("no rules: add at least one [[rules]] table", file=source)
    offers = {o.id for o in catalogue.offers} if catalogue is not None else None
    rules, seen = [], {}
    for number, body in enumerate(items, start=1):
        rule = _rule(source, number, body, offers, str(getattr(catalogue, "source", "")))
        if rule.name in seen:
            raise _fail(source, f"'{rule.name}'", "name", f"is used by rules #{seen[rule.name]}"
                        f" and #{number}; every rule needs its own name", rule.name)
        seen[rule.name] = number
        rules.append(rule)
    return RuleSet(rules=tuple(rules), outbox=settings, source=source)
