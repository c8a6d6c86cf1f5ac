"""A SaaS company's linked tables, shaped like the public "SaaS subscription and churn
analytics" exports: accounts, subscriptions, feature usage, support tickets, churn events.

:func:`generate_saas` returns the five frames, :func:`write_saas` writes them as CSV,
:data:`SAAS_ACCOUNTS` and :data:`SAAS_TABLES` give their roles and links. The accounts carry
no churn label: churn comes from ``churn_events``. Feature usage links to an account only
through its subscription. An account lives in spells: from signup (or a reactivation, ~8 % of churn
events, 30-150 days later) to a churn or the data's end. Between a churn and a reactivation
it has no subscription, usage or ticket; its subscription rows end at the churn.

Churn: a monthly hazard (about 3 %) raised by a trial, paid ads, some industries and the
Basic tier, lowered by partners and many seats; 25 % of trials end with the trial. With
``signal=True`` 80 % of churning spells turn over the 1-4 months before the churn (see
:mod:`analytics.data.demo_events`): usage and auto-renewal fall, errors, tickets (negative,
unhappy, escalated) and downgrades rise. 15 % of other spells dip and recover. With
``signal=False`` behaviour is independent of churn. Vectorised and deterministic for a seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analytics.data.demo_events import (codes, draw, expand, intensity, iso_days, iso_minutes,
                                        pick, thinned, to_days)

__all__ = ["SAAS_ACCOUNTS", "SAAS_TABLES", "TICKET_TEMPLATES", "FEEDBACK_TEMPLATES",
           "generate_saas", "write_saas"]

# accounts.csv is the customer table: one row per account, no label (churn comes from
# churn_events), account_name a personal-ish identifier to leave out.
SAAS_ACCOUNTS: dict[str, object] = {
    "main": "accounts.csv", "id_column": "account_id", "label_column": None,
    "begin_date_column": "signup_date", "drop_columns": ("account_name",),
    "revenue_columns": (), "revenue_table": "subscriptions", "tenure_column": None,
    "total_charges_column": None, "acquisition_channel_column": "referral_source",
    "customer_word": "account"}
SAAS_TABLES: dict[str, dict] = {
    "subscriptions": {"role": "history", "key": "account_id", "time": "start_date",
                      "end": "end_date", "mrr": "mrr_amount", "seats": "seats",
                      "plan": "plan_tier", "upgrade": "upgrade_flag",
                      "downgrade": "downgrade_flag", "unit": "subscription"},
    "feature_usage": {"role": "events", "links_to": "subscriptions", "key": "subscription_id",
                      "time": "usage_date", "kind": "feature_name",
                      "measures": ["usage_count", "usage_duration_secs", "error_count"],
                      "ratios": [["error_count", "usage_count"]], "unit": "feature use"},
    "support_tickets": {"role": "tickets", "key": "account_id", "time": "submitted_at",
                        "closed": "closed_at", "resolution": "resolution_time_hours",
                        "first_response": "first_response_time_minutes",
                        "first_response_unit": "minutes", "satisfaction": "satisfaction_score",
                        "escalated": "escalation_flag", "kind": "priority",
                        "text": "ticket_text", "unit": "ticket"},
    "churn_events": {"role": "churn_events", "key": "account_id", "time": "churn_date",
                     "reactivated": "reactivated_at", "reason": "reason_code",
                     "text": "feedback_text", "unit": "churn event"},
}

TIERS = np.array(["Basic", "Pro", "Enterprise"], dtype=object)
P_TIER, P_TRIAL_BY_TIER = np.array([0.50, 0.35, 0.15]), np.array([0.30, 0.20, 0.05])
SEATS_MEDIAN, SEATS_MAX = np.array([5.0, 20.0, 80.0]), np.array([50, 300, 2000])
PRICE_PER_SEAT, ANNUAL_DISCOUNT = np.array([19.0, 49.0, 99.0]), 0.85
P_ANNUAL_BY_TIER = np.array([0.10, 0.20, 0.40])
MONTHS_PER_ROW, P_MONTHS_PER_ROW = np.array([1, 2, 3]), np.array([0.8, 0.15, 0.05])
INDUSTRIES = np.array(["FinTech", "HealthTech", "EdTech", "DevTools", "Cybersecurity",
                       "E-commerce", "Manufacturing", "Media"], dtype=object)
P_INDUSTRY = np.array([.16, .12, .12, .16, .10, .14, .10, .10])
INDUSTRY_HAZARD = np.array([-0.2, -0.1, 0.35, 0.0, -0.25, 0.2, -0.05, 0.3])
COUNTRIES = np.array(["US", "UK", "DE", "FR", "CA", "AU", "IN", "NL", "SE", "BR"], dtype=object)
P_COUNTRY = np.array([.38, .12, .10, .07, .07, .06, .08, .05, .03, .04])
REFERRALS = np.array(["organic", "ads", "partner", "event", "other"], dtype=object)
P_REFERRAL = np.array([.35, .25, .20, .10, .10])
REFERRAL_HAZARD = np.array([0.0, 0.35, -0.45, -0.15, 0.1])
TIER_HAZARD, TRIAL_HAZARD, SEATS_HAZARD = np.array([0.3, 0.0, -0.5]), 0.5, -0.1
MONTHLY_HAZARD, P_TRIAL_CHURN, GRACE_DAYS = 0.03, 0.25, (60, 30)   # first spell, later ones
SIGNUP_DAYS = (20, 1000)           # days before the end: the first signups ~33 months back
MAX_SPELLS, P_REACTIVATE, REACTIVATE_DAYS = 3, 0.10, (30, 150)
P_TURN, DEPTH_TURN, P_DIP, DEPTH_DIP = 0.80, (0.40, 0.75), 0.15, (0.15, 0.40)
TURN_DAYS = (30.0, 120.0)
FEATURES = np.array([
    "dashboard", "reports", "export_csv", "api_access", "sso_login", "user_management",
    "billing_portal", "custom_fields", "workflows", "automations", "slack_integration",
    "salesforce_sync", "hubspot_sync", "webhooks", "audit_log", "data_import", "search",
    "notifications", "mobile_app", "calendar_sync", "file_storage", "comments", "templates",
    "permissions", "analytics", "forecasting", "kanban_board", "time_tracking", "invoicing",
    "scheduled_reports", "sandbox", "custom_domains", "two_factor_auth", "public_api_v2",
    "ai_assistant", "ai_summaries", "predictive_alerts", "voice_notes", "smart_search",
    "new_editor"], dtype=object)
N_BETA = 6                         # the last six features are in beta (and fail more often)
USAGE_ROWS_PER_DAY, TICKETS_PER_DAY = 0.13, 0.2 / 30.44
PRIORITIES = np.array(["low", "medium", "high", "urgent"], dtype=object)
FIRST_RESPONSE_MINUTES = np.array([240.0, 120.0, 45.0, 15.0])
RESOLUTION_HOURS = np.array([36.0, 24.0, 12.0, 6.0])
REASONS = np.array(["pricing", "support", "features", "budget", "competitor", "unknown"],
                   dtype=object)
REASON_WEIGHTS = np.array([.22, .14, .18, .16, .18, .12])

NAME_PARTS = (
    "Blue Red Green Silver Golden Bright Swift Quiet Bold Clear Deep North South East West "
    "Prime Rapid Smart Solid True Urban Vivid Wild Zen".split(),
    "Harbor River Summit Peak Forest Stone Bridge Cloud Pixel Orbit Signal Vector Anchor "
    "Beacon Cedar Falcon Maple Nova Quartz Ridge Spark Tide Willow Atlas".split(),
    "Labs Systems Group Works Solutions Analytics Partners Technologies".split(),
)
SLOTS: dict[str, tuple[str, ...]] = {
    "feature": ("dashboard", "reports", "workflows", "export", "search", "automations",
                "permissions", "scheduled reports", "mobile app", "API"),
    "tool": ("Slack", "Salesforce", "HubSpot", "Jira", "Google Sheets", "Zapier", "Snowflake"),
    "code": ("500", "502", "503", "429", "403"), "seats": ("5", "10", "20", "50", "100"),
    "month": tuple("January February March April May June July August September October "
                   "November December".split()),
    "days": ("two days", "three days", "a week", "two weeks", "a month"),
    "weekday": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"),
    "rival": ("a competitor", "a cheaper rival", "an in-house tool", "a bigger platform"),
}
TICKET_TEMPLATES: tuple[str, ...] = (  # negative, neutral, positive
    "The {feature} page has been timing out since {month}|Export to {tool} fails with error "
    "{code}|We are billed for {seats} seats but use half of them|Your API returns {code} errors "
    "all day, our integration is down|SSO login is broken for our whole team|The dashboard "
    "takes over a minute to load|Still no fix for the {feature} bug we reported {days} ago|The "
    "price increase in {month} is not acceptable for a team our size|Sync with {tool} lost "
    "records again|Support took {days} to answer an urgent issue|We are evaluating {rival} "
    "because of these outages|The new {feature} release broke our workflow|Reports show wrong "
    "numbers since the {month} update|Cannot remove users, we keep paying for {seats} seats|"
    "Webhooks to {tool} keep failing|The mobile app crashes when opening {feature}|Third outage "
    "this month, we need an explanation|The invoice for {month} is wrong again|Your docs for "
    "{feature} are outdated and support cannot help|Permissions reset after the update, users "
    "are locked out|Scheduled reports stopped arriving on {weekday}|Too many errors in "
    "{feature}, we are considering cancelling",
    "How do we add {seats} more seats?|Question about the annual billing discount|Can you "
    "enable {feature} for our workspace?|Please update the billing contact on our account|How "
    "do we connect {tool}?|Is there an API limit for {feature}?|Please send a copy of the "
    "{month} invoice|Could we get a demo of {feature} for new team members?|Where can I find "
    "the audit log export?|Can we move from monthly to annual billing?|Please confirm our "
    "renewal date|How do we set up SSO with {tool}?",
    "Thanks, the {feature} fix works great|Quick answer from support, much appreciated|The "
    "{tool} integration works perfectly now|Great onboarding session last {weekday}|We love the "
    "new {feature}, the team uses it daily|Issue resolved in minutes, thank you|Thanks for the "
    "help with the {month} invoice|The upgrade went smoothly, thanks|Support went above and "
    "beyond on our {feature} question|Performance is much better since the {month} release",
)
FEEDBACK_TEMPLATES: tuple[str, ...] = (  # REASONS order
    "Too expensive for our team size|The price went up in {month} and we could not justify "
    "it|A cheaper plan elsewhere covers what we need",
    "Support was too slow on urgent issues|Tickets stayed open for {days}|Nobody owned our "
    "problems",
    "Missing the {tool} integration we needed|Too many bugs in {feature}|The product did not "
    "keep up with our needs",
    "Budget cuts this quarter|Company-wide freeze on software spend|Our funding round was "
    "delayed",
    "Moved to {rival}|We got a better deal from {rival}|Consolidated our tools on {rival}",
    "No comment|Other|Prefer not to say",
)


def _choice(rng, p: np.ndarray, n: int) -> np.ndarray:
    return rng.choice(len(p), size=n, p=p / p.sum())


def _iso_or_blank(days: np.ndarray, blank: np.ndarray) -> np.ndarray:
    out = np.full(len(days), "", dtype=object)
    out[~blank] = iso_days(days[~blank].astype(np.int64))
    return out


def _accounts(rng, n: int, stop: int) -> dict:
    tier = _choice(rng, P_TIER, n)
    seats = np.clip(np.rint(SEATS_MEDIAN[tier] * rng.lognormal(0.0, 0.7, n)), 1,
                    SEATS_MAX[tier]).astype(np.int64)
    acc = {"tier": tier, "seats": seats, "trial": rng.random(n) < P_TRIAL_BY_TIER[tier],
           "signup": stop - rng.integers(*SIGNUP_DAYS, n), "trial_days": rng.integers(14, 31, n),
           "industry": _choice(rng, P_INDUSTRY, n), "country": _choice(rng, P_COUNTRY, n),
           "referral": _choice(rng, P_REFERRAL, n)}
    acc["log_hazard"] = (TIER_HAZARD[tier] + TRIAL_HAZARD * acc["trial"]
                         + INDUSTRY_HAZARD[acc["industry"]] + REFERRAL_HAZARD[acc["referral"]]
                         + SEATS_HAZARD * np.log(seats / 10.0) + rng.normal(0.0, 0.3, n))
    name = [np.array(part, dtype=object)[rng.integers(len(part), size=n)] for part in NAME_PARTS]
    acc["ids"] = codes("A-", n, 5)
    acc["frame"] = pd.DataFrame({
        "account_id": acc["ids"], "account_name": name[0] + " " + name[1] + " " + name[2],
        "industry": INDUSTRIES[acc["industry"]], "country": COUNTRIES[acc["country"]],
        "signup_date": iso_days(acc["signup"]), "referral_source": REFERRALS[acc["referral"]],
        "plan_tier": TIERS[tier], "seats": seats, "is_trial": acc["trial"]})
    return acc


def _spells(rng, acc: dict, stop: int, signal: bool) -> dict:
    """Active spells of every account (signup or reactivation -> churn or the end)."""
    n = len(acc["ids"])
    start, alive, parts = acc["signup"].astype(float), np.ones(n, bool), []
    for k in range(MAX_SPELLS):
        hazard = MONTHLY_HAZARD * np.exp(acc["log_hazard"]) * (1.3 if k else 1.0) / 30.44
        life = GRACE_DAYS[min(k, 1)] + rng.exponential(1.0, n) / hazard
        trial_end = (k == 0) & acc["trial"] & (rng.random(n) < P_TRIAL_CHURN)
        end = np.floor(start + np.where(trial_end, acc["trial_days"], life))   # whole days
        back = end + rng.uniform(*REACTIVATE_DAYS, n)
        react = (end < stop) & (rng.random(n) < P_REACTIVATE) & (back < stop)
        parts.append(pd.DataFrame({"account": np.flatnonzero(alive), "k": k,
                                   "start": start[alive], "end": np.minimum(end, stop)[alive],
                                   "churned": (end < stop)[alive],
                                   "back": np.where(react, np.floor(back), -1.0)[alive]}))
        alive &= react
        start = np.floor(back)
    sp = {c: v.to_numpy() for c, v in pd.concat(parts).sort_values(["account", "k"]).items()}
    m = len(sp["account"])
    turned, dips = rng.random(m) < P_TURN, rng.random(m) < P_DIP
    depth_t, depth_d = rng.uniform(*DEPTH_TURN, m), rng.uniform(*DEPTH_DIP, m)
    churner = sp["churned"] & signal
    sp.update(anchor=np.where(churner, sp["end"], rng.uniform(sp["start"], stop + 60.0)),
              length=rng.uniform(*TURN_DAYS, m),
              depth=np.where(churner, depth_t * turned, depth_d * dips))
    return sp


def _subscriptions(rng, acc: dict, sp: dict, stop: int) -> dict:
    """Consecutive subscription rows of each spell (a billing term or a change)."""
    m_sp, a = len(sp["account"]), sp["account"]
    annual = rng.random(m_sp) < P_ANNUAL_BY_TIER[acc["tier"][a]]
    counts = (np.ceil((sp["end"] - sp["start"]) / 30.0) + 2).astype(int)  # enough candidates
    spell, pos = expand(counts)
    months = MONTHS_PER_ROW[_choice(rng, P_MONTHS_PER_ROW, len(spell))]
    length = np.where(annual[spell], 365.0, np.rint(30.44 * months))
    trial = (pos == 0) & (sp["k"][spell] == 0) & acc["trial"][a[spell]]
    length = np.where(trial, acc["trial_days"][a[spell]], length)
    offset = np.cumsum(length) - length
    start = sp["start"][spell] + offset - offset[(np.cumsum(counts) - counts)[spell]]
    keep = start < sp["end"][spell]
    spell, pos, start, length, trial = (v[keep] for v in (spell, pos, start, length, trial))
    end = np.minimum(start + length, sp["end"][spell])
    turn = intensity(sp, spell, start)
    # Plan changes at each renewal: downgrades when turning, upgrades otherwise.
    m = len(spell)
    u, how, factor = rng.random(m), rng.random(m), rng.uniform(0.6, 0.9, m)
    up = (pos > 0) & (u < 0.08 * (1.0 - turn))
    down = (pos > 0) & ~up & (u < 0.08 * (1.0 - turn) + 0.04 + 0.6 * turn)
    tier, seats = acc["tier"][a[spell]].copy(), acc["seats"][a[spell]].astype(float)
    for j in range(1, int(pos.max()) + 1 if len(pos) else 0):
        rows = np.flatnonzero(pos == j)   # rows - 1 is the same spell's previous row
        tier[rows], seats[rows] = tier[rows - 1], seats[rows - 1]
        # A third of the changes move the tier (when it can move), the rest the seats.
        tier_up = up[rows] & (how[rows] < 0.35) & (tier[rows] < 2)
        tier_down = down[rows] & (how[rows] < 0.35) & (tier[rows] > 0)
        tier[rows] += tier_up.astype(int) - tier_down
        seats[rows] = np.where(up[rows] & ~tier_up, np.ceil(seats[rows] / factor[rows]),
                               np.where(down[rows] & ~tier_down,
                                        np.maximum(1, np.floor(seats[rows] * factor[rows])),
                                        seats[rows]))
        down[rows] &= tier_down | (seats[rows] < seats[rows - 1])   # nothing left to cut
    mrr = np.where(trial, 0.0, np.round(seats * PRICE_PER_SEAT[tier]
                                        * np.where(annual[spell], ANNUAL_DISCOUNT, 1.0), 2))
    renew = (rng.random(m_sp) < 0.8)[spell] & ~(rng.random(len(spell)) < 0.7 * turn)
    running = end >= stop
    ids = codes("S-", len(spell), 6)
    frame = pd.DataFrame({
        "subscription_id": ids, "account_id": acc["ids"][a[spell]],
        "start_date": iso_days(start.astype(np.int64)),
        "end_date": _iso_or_blank(end, running),
        "plan_tier": TIERS[tier], "seats": seats.astype(np.int64), "mrr_amount": mrr,
        "arr_amount": np.round(mrr * 12, 2), "is_trial": trial, "upgrade_flag": up,
        "downgrade_flag": down,
        "billing_frequency": np.where(annual[spell], "annual", "monthly").astype(object),
        "auto_renew_flag": renew})
    return {"frame": frame, "spell": spell, "start": start, "end": end, "seats": seats,
            "tier": tier, "mrr": mrr, "annual": annual[spell], "length": length}


def _feature_usage(rng, sub: dict, sp: dict, stop: int) -> pd.DataFrame:
    rate = USAGE_ROWS_PER_DAY * sub["seats"] ** 0.2 * (1.0 + 0.2 * sub["tier"])
    turning = {k: sp[k][sub["spell"]] for k in ("anchor", "length", "depth")}   # per row
    owner, t, turn = thinned(rng, sub["start"], sub["end"], rate, turning, -1.0)  # fewer uses
    m = len(owner)
    feature = _choice(rng, 1.0 / (np.arange(len(FEATURES)) + 3.0), m)   # a few dominate
    beta = feature >= len(FEATURES) - N_BETA
    count = 1 + rng.poisson(4.0 * sub["seats"][owner] ** 0.3 * (1.0 - 0.5 * turn))
    errors = rng.poisson(count * np.where(beta, 0.06, 0.015) * (1.0 + 5.0 * turn))
    return pd.DataFrame({
        "usage_id": codes("U-", m, 7), "subscription_id": sub["frame"]["subscription_id"]
        .to_numpy()[owner], "usage_date": iso_days(np.floor(t).astype(np.int64)),
        "feature_name": FEATURES[feature], "usage_count": count.astype(np.int64),
        "usage_duration_secs": np.rint(count * 45.0 * rng.lognormal(0.0, 0.8, m)).astype(np.int64),
        "error_count": errors.astype(np.int64), "is_beta_feature": beta})


def _support_tickets(rng, acc: dict, sp: dict, stop: int) -> pd.DataFrame:
    a = sp["account"]
    rate = TICKETS_PER_DAY * acc["seats"][a] ** 0.15
    owner, t, turn = thinned(rng, sp["start"], sp["end"], rate, sp, 5.0)
    m = len(owner)
    priority = draw(rng, np.column_stack([np.maximum(0.35 - 0.3 * turn, 0.02), np.full(m, 0.35),
                                          0.2 + 0.2 * turn, 0.1 + 0.15 * turn]))
    submitted = (t * 1440).astype(np.int64)
    hours = RESOLUTION_HOURS[priority] * rng.lognormal(0.0, 0.9, m)
    closed = submitted + np.rint(hours * 60).astype(np.int64)
    leaver = sp["churned"][owner]
    closed = np.where(leaver, np.minimum(closed, (sp["end"][owner] * 1440).astype(np.int64)),
                      closed)   # closed with the account
    still_open = closed >= stop * 1440
    tone = draw(rng, np.column_stack([0.30 + 1.2 * turn, np.full(m, 0.48),
                                      np.maximum(0.22 - 0.3 * turn, 0.02)]))
    mood = np.array([2.3, 3.5, 4.4])[tone] - 2.0 * turn
    score = np.clip(np.rint(rng.normal(mood, 0.8)), 1, 5).astype(int).astype(str)
    rated = ~still_open & (rng.random(m) < 0.5)
    response = FIRST_RESPONSE_MINUTES[priority] * rng.lognormal(0.0, 0.8, m) * (1.0 + turn)
    return pd.DataFrame({
        "ticket_id": codes("T-", m, 6), "account_id": acc["ids"][a[owner]],
        "submitted_at": iso_minutes(submitted),
        "closed_at": np.where(still_open, "", iso_minutes(closed)).astype(object),
        "resolution_time_hours": np.where(still_open, np.nan,
                                          np.round((closed - submitted) / 60.0, 1)),
        "priority": PRIORITIES[priority],
        "first_response_time_minutes": np.rint(response).astype(np.int64),
        "satisfaction_score": np.where(rated, score, "").astype(object),
        "escalation_flag": rng.random(m) < 0.05 + 0.1 * (priority >= 2) + 0.3 * turn,
        "ticket_text": pick(rng, TICKET_TEMPLATES, tone, SLOTS)})


def _churn_events(rng, acc: dict, sp: dict, sub: dict) -> pd.DataFrame:
    gone = np.flatnonzero(sp["churned"])
    gone = gone[np.argsort(sp["end"][gone], kind="stable")]
    last = np.cumsum(np.bincount(sub["spell"], minlength=len(sp["account"]))) - 1
    row, churn = last[gone], sp["end"][gone]             # the spell's last subscription row
    recent = sub["start"] >= sp["end"][sub["spell"]] - 90.0
    flags = sub["frame"][["upgrade_flag", "downgrade_flag"]].to_numpy() & recent[:, None]
    before = np.zeros((len(sp["account"]), 2), bool)
    np.logical_or.at(before, sub["spell"], flags)
    w = np.tile(REASON_WEIGHTS, (len(gone), 1))
    w[:, [0, 3]] *= np.where(acc["tier"][sp["account"][gone]] == 0, 1.5, 1.0)[:, None]
    w[:, [1, 2]] *= np.where(sp["depth"][gone] > 0.3, 1.6, 1.0)[:, None]
    reason = draw(rng, w)
    left = np.maximum(sub["start"][row] + sub["length"][row] - churn, 0.0) / 30.44
    refund = np.where(sub["annual"][row], 0.5 * left * sub["mrr"][row],
                      np.where(rng.random(len(gone)) < 0.08, 0.5 * sub["mrr"][row], 0.0))
    text = pick(rng, FEEDBACK_TEMPLATES, reason, SLOTS)
    back = sp["back"][gone]
    return pd.DataFrame({
        "churn_event_id": codes("C-", len(gone), 5),
        "account_id": acc["ids"][sp["account"][gone]],
        "churn_date": iso_days(np.floor(churn).astype(np.int64)), "reason_code": REASONS[reason],
        "refund_amount_usd": np.round(refund, 2), "preceding_upgrade_flag": before[gone, 0],
        "preceding_downgrade_flag": before[gone, 1],
        "reactivated_at": _iso_or_blank(back, back < 0),
        "feedback_text": np.where(rng.random(len(gone)) < 0.25, "", text).astype(object)})


def generate_saas(n_accounts: int = 2000, seed: int = 0, end_date: str = "2024-12-31",
                  signal: bool = True) -> dict[str, pd.DataFrame]:
    """The five linked tables of ``n_accounts`` synthetic SaaS accounts whose data ends on
    ``end_date`` (inclusive): {"accounts", "subscriptions", "feature_usage",
    "support_tickets", "churn_events"}, described by :data:`SAAS_TABLES`.

    Raises:
        ValueError: ``n_accounts`` < 1 or an unparsable ``end_date``.
    """
    n, stop = int(n_accounts), int(to_days([end_date])[0]) + 1
    if n < 1 or stop <= 0:
        raise ValueError(f"need n_accounts >= 1 (got {n_accounts!r}) and an ISO end_date "
                         f"(got {end_date!r})")
    rngs = [np.random.default_rng([seed, 2024, k]) for k in range(6)]
    acc = _accounts(rngs[0], n, stop)
    sp = _spells(rngs[1], acc, stop, bool(signal))
    sub = _subscriptions(rngs[2], acc, sp, stop)
    return {"accounts": acc["frame"], "subscriptions": sub["frame"],
            "feature_usage": _feature_usage(rngs[3], sub, sp, stop),
            "support_tickets": _support_tickets(rngs[4], acc, sp, stop),
            "churn_events": _churn_events(rngs[5], acc, sp, sub)}


def write_saas(folder, n_accounts: int = 2000, seed: int = 0, signal: bool = True) -> Path:
    """Write :func:`generate_saas` as ``<table>.csv`` files in ``folder``; returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in generate_saas(n_accounts, seed=seed, signal=signal).items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder
