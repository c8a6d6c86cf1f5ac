"""The event-table generators (analytics.data.demo_events, analytics.data.saas): shape,
determinism, events inside each customer's lifetime, links between tables, and a signal
that foreshadows churn only when asked for."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from analytics.data import demo_events
from analytics.data.demo_events import (DEMO_EVENT_TABLES, FEEDBACK_TEMPLATES,
                                        TICKET_TEMPLATES, generate_demo_events)
from analytics.data.saas import SAAS_ACCOUNTS, SAAS_TABLES, generate_saas, write_saas
from analytics.data.saas import TICKET_TEMPLATES as SAAS_TICKET_TEMPLATES
from analytics.demo import generate_demo

EXTRACTION = pd.Timestamp("2020-02-01")
DEMO_COLUMNS = {
    "usage": ["customerID", "week_start", "data_gb", "call_minutes", "dropped_calls"],
    "tickets": ["ticket_id", "customerID", "opened_at", "closed_at", "first_response_hours",
                "satisfaction", "escalated", "category", "text"],
    "emails": ["customerID", "sent_at", "campaign", "opened", "clicked"],
    "plan_changes": ["customerID", "changed_at", "change_type", "old_plan", "new_plan",
                     "monthly_before", "monthly_after"],
    "churn_feedback": ["customerID", "left_at", "reason_code", "feedback"],
}
SAAS_COLUMNS = {
    "accounts": ["account_id", "account_name", "industry", "country", "signup_date",
                 "referral_source", "plan_tier", "seats", "is_trial"],
    "subscriptions": ["subscription_id", "account_id", "start_date", "end_date", "plan_tier",
                      "seats", "mrr_amount", "arr_amount", "is_trial", "upgrade_flag",
                      "downgrade_flag", "billing_frequency", "auto_renew_flag"],
    "feature_usage": ["usage_id", "subscription_id", "usage_date", "feature_name",
                      "usage_count", "usage_duration_secs", "error_count", "is_beta_feature"],
    "support_tickets": ["ticket_id", "account_id", "submitted_at", "closed_at",
                        "resolution_time_hours", "priority", "first_response_time_minutes",
                        "satisfaction_score", "escalation_flag", "ticket_text"],
    "churn_events": ["churn_event_id", "account_id", "churn_date", "reason_code",
                     "refund_amount_usd", "preceding_upgrade_flag", "preceding_downgrade_flag",
                     "reactivated_at", "feedback_text"],
}
SAAS_END = pd.Timestamp("2025-01-01")   # the day after end_date="2024-12-31"


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    return generate_demo(3000, seed=4, with_dates=True)


@pytest.fixture(scope="module", params=["one block", "blocks"])
def events(request, customers) -> dict[str, pd.DataFrame]:
    """As a small demo makes them, and as a large one does (in blocks of customers, each with
    streams of its own, on every core): every property below holds for both."""
    if request.param == "one block":
        return generate_demo_events(customers, seed=4)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(demo_events, "BLOCK", 700)
        return generate_demo_events(customers, seed=4)


def test_blocks_give_the_same_tables_on_any_number_of_cores(customers) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(demo_events, "BLOCK", 700)
        made = []
        for cores in (1, 2, 3):
            patch.setattr(demo_events.os, "cpu_count", lambda cores=cores: cores)
            made.append(generate_demo_events(customers, seed=4, typed=True))
    for name, frame in made[0].items():
        for other in made[1:]:
            pd.testing.assert_frame_equal(frame, other[name])
    tickets = made[0]["tickets"]
    assert tickets["ticket_id"].is_unique and tickets["ticket_id"].iloc[-1] == (
        f"TCK-{len(tickets):07d}")
    # Every block has its customers' rows (3,000 customers in 5 blocks of 700 or fewer).
    owners = made[0]["usage"]["customerID"].cat.codes.to_numpy()
    assert set(np.unique(owners // 700)) == {0, 1, 2, 3, 4}
    # Each block's streams are its own: no two blocks repeat the same draws.
    usage = made[0]["usage"]
    first = usage.loc[owners < 700, "data_gb"].to_numpy()[:200]
    second = usage.loc[(owners >= 700) & (owners < 1400), "data_gb"].to_numpy()[:200]
    assert not np.array_equal(first, second)


def test_one_block_is_what_a_small_demo_always_made(customers) -> None:
    """Up to BLOCK customers the tables are those of the single-stream generator (the 7,043
    demo and every fixture are unchanged by the blocks)."""
    assert len(customers) <= demo_events.BLOCK
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(demo_events, "BLOCK", len(customers))
        same = generate_demo_events(customers, seed=4)
        patch.setattr(demo_events, "BLOCK", len(customers) - 1)
        split = generate_demo_events(customers, seed=4)
    whole = generate_demo_events(customers, seed=4)
    pd.testing.assert_frame_equal(whole["usage"], same["usage"])
    assert not whole["usage"]["data_gb"].equals(split["usage"]["data_gb"])


@pytest.fixture(scope="module")
def flat_events(customers) -> dict[str, pd.DataFrame]:
    return generate_demo_events(customers, seed=4, signal=False)


@pytest.fixture(scope="module")
def saas() -> dict[str, pd.DataFrame]:
    return generate_saas(3000, seed=2)


@pytest.fixture(scope="module")
def flat_saas() -> dict[str, pd.DataFrame]:
    return generate_saas(3000, seed=2, signal=False)


def lifetimes(customers: pd.DataFrame) -> pd.DataFrame:
    """BeginDate and the end (EndDate or the extraction date) per customerID."""
    end = pd.to_datetime(customers["EndDate"].where(customers["EndDate"] != "No").str[:10])
    return pd.DataFrame({"begin": pd.to_datetime(customers["BeginDate"]).to_numpy(),
                         "end": end.fillna(EXTRACTION).to_numpy(),
                         "churned": (customers["Churn"] == "Yes").to_numpy()},
                        index=customers["customerID"])


def pool_regex(pools: str | tuple[str, ...]) -> re.Pattern:
    """A regex matching any template of ``pools`` (its {slots} as wildcards)."""
    pools = (pools,) if isinstance(pools, str) else pools
    templates = [t for pool in pools for t in pool.split("|")]
    parts = [re.sub(r"\\\{\w+\\\}", ".+", re.escape(t)) for t in templates]
    return re.compile("^(?:" + "|".join(parts) + ")$")


def last_60_days_change(usage: pd.DataFrame, life: pd.DataFrame) -> pd.Series:
    """Per customer: mean weekly activity in the 60 days before the end over the mean of the
    weeks before that, minus 1 (full weeks only)."""
    u = usage.join(life, on="customerID")
    start = pd.to_datetime(u["week_start"])
    u = u[(u["end"] - start).dt.days >= 7]
    activity = u["data_gb"] / 5.0 + u["call_minutes"] / 100.0
    late = (u["end"] - start).dt.days <= 60
    means = activity.groupby([u["customerID"], late]).mean().unstack()
    return (means[True] / means[False] - 1.0).dropna()


# ---- Demo events --------------------------------------------------------------------------
def test_tables_columns_and_roles(events) -> None:
    assert list(events) == list(DEMO_COLUMNS) == list(DEMO_EVENT_TABLES)
    for name, frame in events.items():
        assert list(frame.columns) == DEMO_COLUMNS[name], name
        spec = DEMO_EVENT_TABLES[name]
        named = [spec[k] for k in spec if k not in ("role", "unit", "measures", "ratios",
                                                    "period_days")]
        assert set(named) <= set(frame.columns), name
        assert set(spec.get("measures", [])) <= set(frame.columns), name
        assert len(frame) > 0, name
    assert events["usage"]["dropped_calls"].dtype == np.int64
    assert events["usage"]["data_gb"].dtype == np.float64
    assert DEMO_EVENT_TABLES["churn_feedback"]["role"] == "outcome"


def test_deterministic_for_a_seed(customers) -> None:
    small = customers.iloc[:400]
    a, b = generate_demo_events(small, seed=9), generate_demo_events(small, seed=9)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    c = generate_demo_events(small, seed=10)
    assert not a["usage"].equals(c["usage"]) and not a["tickets"].equals(c["tickets"])


def test_sizes_and_values(events, customers) -> None:
    n = len(customers)
    usage, tickets, emails = events["usage"], events["tickets"], events["emails"]
    assert 35 <= len(usage) / n <= 52
    assert 0.3 <= len(tickets) / n <= 2.0
    months = len(usage) / n / 4.35
    assert 1.5 <= len(emails) / n / months <= 2.5
    assert 0.02 <= len(events["plan_changes"]) / n / 4 <= 0.06   # per quarter
    assert (pd.to_datetime(usage["week_start"]).dt.dayofweek == 0).all()
    no_internet = usage["customerID"].isin(customers.loc[customers["InternetService"] == "No",
                                                         "customerID"])
    assert (usage.loc[no_internet, "data_gb"] == 0).all()
    assert (usage.loc[no_internet, "call_minutes"] > 0).mean() > 0.95
    assert tickets["ticket_id"].is_unique
    assert set(tickets["category"]) == {"Billing", "Network", "Device", "Account", "Other"}
    assert set(tickets["satisfaction"]) == {"", "1", "2", "3", "4", "5"}
    assert (tickets.loc[tickets["closed_at"] == "", "satisfaction"] == "").all()
    assert set(tickets["escalated"]) == {"Yes", "No"}
    assert tickets["text"].nunique() > 500
    assert set(emails["campaign"]) == {"newsletter", "offer", "billing", "survey"}
    assert not ((emails["clicked"] == "Yes") & (emails["opened"] == "No")).any()


def test_template_pools() -> None:
    counts = {tone: sum(len(pool.split("|")) for pool in pools)
              for tone, pools in TICKET_TEMPLATES.items()}
    assert counts["negative"] >= 40 and counts["neutral"] >= 20 and counts["positive"] >= 15
    assert all(len(pools) == 5 for pools in TICKET_TEMPLATES.values())
    assert len(FEEDBACK_TEMPLATES) == 6


def test_events_within_each_lifetime(events, customers) -> None:
    life = lifetimes(customers)
    window_start = EXTRACTION - pd.Timedelta(weeks=52)
    for name, column in [("usage", "week_start"), ("tickets", "opened_at"),
                         ("emails", "sent_at"), ("plan_changes", "changed_at")]:
        frame = events[name].join(life, on="customerID")
        assert frame["begin"].notna().all(), name
        time = pd.to_datetime(frame[column])
        assert (time >= frame["begin"]).all() and (time < frame["end"]).all(), name
        assert (time >= window_start).all(), name
    tickets = events["tickets"].join(life, on="customerID")
    closed = tickets["closed_at"] != ""
    closed_at = pd.to_datetime(tickets.loc[closed, "closed_at"])
    assert (closed_at >= pd.to_datetime(tickets.loc[closed, "opened_at"])).all()
    assert (closed_at <= tickets.loc[closed, "end"]).all()
    assert not tickets.loc[~closed, "churned"].any()   # only an active customer's stay open
    assert (tickets["first_response_hours"] >= 0).all()


def test_churn_feedback_only_for_churners(events, customers) -> None:
    feedback = events["churn_feedback"].join(lifetimes(customers), on="customerID")
    assert feedback["churned"].all() and feedback["customerID"].is_unique
    assert (pd.to_datetime(feedback["left_at"]) == feedback["end"]).all()
    share = len(feedback) / (customers["Churn"] == "Yes").sum()
    assert 0.6 <= share <= 0.8
    assert set(feedback["reason_code"]) == {"Price", "Competitor", "Service quality",
                                            "Network coverage", "Moved", "Other"}
    assert feedback["feedback"].str.len().gt(0).all()


def test_plan_changes_chain_to_todays_price(events, customers) -> None:
    changes = events["plan_changes"]
    assert set(changes["change_type"]) == {"upgrade", "downgrade"}
    up = changes["change_type"] == "upgrade"
    assert (changes.loc[up, "monthly_after"] > changes.loc[up, "monthly_before"]).all()
    assert (changes.loc[~up, "monthly_after"] < changes.loc[~up, "monthly_before"]).all()
    assert (changes["old_plan"] != changes["new_plan"]).all()
    last = changes.groupby("customerID")["monthly_after"].last()
    price = customers.set_index("customerID")["MonthlyCharges"].reindex(last.index)
    assert np.allclose(last, price)
    following = changes.groupby("customerID")["monthly_before"].shift(-1)
    linked = following.notna()
    assert np.allclose(following[linked], changes.loc[linked, "monthly_after"])


def test_usage_falls_before_churn_only_with_signal(events, flat_events, customers) -> None:
    life = lifetimes(customers)
    change = last_60_days_change(events["usage"], life)
    churners = life["churned"].reindex(change.index)
    assert change[churners].mean() < -0.15
    assert abs(change[~churners].mean()) < 0.05
    flat = last_60_days_change(flat_events["usage"], life)
    assert abs(flat[life["churned"].reindex(flat.index)].mean()) < 0.05


def test_churners_write_more_negative_tickets(events, flat_events, customers) -> None:
    """Tickets of the last 90 days before EndDate against every stayer's ticket."""
    negative = pool_regex(TICKET_TEMPLATES["negative"])
    life = lifetimes(customers)
    shares = []
    for frame in (events["tickets"], flat_events["tickets"]):
        tickets = frame.join(life, on="customerID")
        is_negative = tickets["text"].map(lambda text: bool(negative.match(text)))
        late = (tickets["end"] - pd.to_datetime(tickets["opened_at"])).dt.days <= 90
        shares.append((is_negative[tickets["churned"] & late].mean(),
                       is_negative[~tickets["churned"]].mean()))
    assert shares[0][0] > shares[0][1] + 0.10
    assert abs(shares[1][0] - shares[1][1]) < 0.08


def test_rejects_customers_without_dates() -> None:
    with pytest.raises(ValueError, match="BeginDate"):
        generate_demo_events(generate_demo(50, seed=1))


# ---- SaaS ---------------------------------------------------------------------------------
def test_saas_tables_and_roles(saas) -> None:
    assert list(saas) == list(SAAS_COLUMNS)
    for name, frame in saas.items():
        assert list(frame.columns) == SAAS_COLUMNS[name], name
    assert "account_id" not in saas["feature_usage"].columns
    assert not any("churn" in c for c in saas["accounts"].columns)
    assert set(SAAS_TABLES) == set(SAAS_COLUMNS) - {"accounts"}   # accounts: the customers
    assert SAAS_ACCOUNTS["id_column"] == "account_id"
    assert set(SAAS_ACCOUNTS["drop_columns"]) == {"account_name"}
    assert SAAS_TABLES["feature_usage"]["links_to"] == "subscriptions"
    assert SAAS_TABLES["feature_usage"]["key"] == "subscription_id"
    assert SAAS_TABLES["churn_events"]["role"] == "churn_events"
    for name, spec in SAAS_TABLES.items():
        named = [v for k, v in spec.items() if isinstance(v, str)
                 and k not in ("role", "unit", "links_to", "first_response_unit")]
        assert set(named) <= set(saas[name].columns), name
    n = len(saas["accounts"])
    assert 6 <= len(saas["subscriptions"]) / n <= 12
    assert 50_000 <= len(saas["feature_usage"]) / n * 2000 <= 250_000


def test_saas_deterministic() -> None:
    a, b, c = generate_saas(200, seed=3), generate_saas(200, seed=3), generate_saas(200, seed=4)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    assert not a["feature_usage"].equals(c["feature_usage"])


def test_saas_links(saas) -> None:
    accounts = set(saas["accounts"]["account_id"])
    assert saas["accounts"]["account_id"].str.fullmatch(r"A-\d{5}").all()
    assert saas["subscriptions"]["subscription_id"].str.fullmatch(r"S-\d{6}").all()
    for name in ("subscriptions", "support_tickets", "churn_events"):
        assert set(saas[name]["account_id"]) <= accounts, name
    assert set(saas["feature_usage"]["subscription_id"]) <= set(
        saas["subscriptions"]["subscription_id"])
    for name, key in [("accounts", "account_id"), ("subscriptions", "subscription_id"),
                      ("feature_usage", "usage_id"), ("support_tickets", "ticket_id"),
                      ("churn_events", "churn_event_id")]:
        assert saas[name][key].is_unique, name


def churn_gaps(saas) -> pd.DataFrame:
    """One row per churn event: account, churn date and the end of its gap (reactivation
    or the end of the data)."""
    events = saas["churn_events"]
    back = pd.to_datetime(events["reactivated_at"].replace("", None))
    return pd.DataFrame({"account_id": events["account_id"],
                         "churn": pd.to_datetime(events["churn_date"]),
                         "back": back.fillna(SAAS_END)})


def test_no_activity_while_churned(saas) -> None:
    gaps = churn_gaps(saas)
    subs = saas["subscriptions"]
    usage = saas["feature_usage"].merge(subs[["subscription_id", "account_id"]],
                                        on="subscription_id")
    for frame, column in [(usage, "usage_date"), (saas["support_tickets"], "submitted_at")]:
        rows = frame[["account_id", column]].merge(gaps, on="account_id")
        time = pd.to_datetime(rows[column])
        assert not ((time >= rows["churn"]) & (time < rows["back"])).any(), column
    rows = subs.merge(gaps, on="account_id")
    start = pd.to_datetime(rows["start_date"])
    end = pd.to_datetime(rows["end_date"].replace("", None)).fillna(SAAS_END)
    assert not ((start < rows["churn"]) & (end > rows["churn"])).any()   # ends at the churn
    assert not ((start >= rows["churn"]) & (start < rows["back"])).any()


def test_saas_churn_window_and_reactivations(saas) -> None:
    subs, events = saas["subscriptions"], saas["churn_events"]
    as_of = SAAS_END - pd.Timedelta(days=90)
    start = pd.to_datetime(subs["start_date"])
    end = pd.to_datetime(subs["end_date"].replace("", None)).fillna(SAAS_END)
    active = subs.loc[(start < as_of) & (end > as_of), "account_id"].unique()
    churn = pd.to_datetime(events["churn_date"])
    leaving = events.loc[churn >= as_of, "account_id"]
    assert 0.08 <= np.isin(active, leaving).mean() <= 0.15
    assert (churn >= SAAS_END - pd.Timedelta(days=548)).mean() > 0.6   # mostly last 18 months
    back = events["reactivated_at"] != ""
    assert 0.04 <= back.mean() <= 0.14
    days = (pd.to_datetime(events.loc[back, "reactivated_at"]) - churn[back]).dt.days
    assert days.between(30, 150).all()
    assert (events["account_id"].value_counts() > 1).any()   # churned, came back, churned
    assert set(events["reason_code"]) == {"pricing", "support", "features", "budget",
                                          "competitor", "unknown"}


def usage_before_churn(saas) -> pd.Series:
    """Per first churn (after 250+ days of life): daily usage in the 60 days before it over
    the 180 days before those, minus 1."""
    usage = saas["feature_usage"].merge(
        saas["subscriptions"][["subscription_id", "account_id"]], on="subscription_id")
    first = saas["churn_events"].drop_duplicates("account_id").merge(
        saas["accounts"][["account_id", "signup_date"]], on="account_id")
    churn = pd.to_datetime(first["churn_date"])
    first = first[(churn - pd.to_datetime(first["signup_date"])).dt.days > 250]
    rows = usage.merge(first[["account_id", "churn_date"]], on="account_id")
    gap = (pd.to_datetime(rows["churn_date"]) - pd.to_datetime(rows["usage_date"])).dt.days
    late = rows[gap.between(1, 60)].groupby("account_id")["usage_count"].sum() / 60
    early = rows[gap.between(61, 240)].groupby("account_id")["usage_count"].sum() / 180
    return (late.reindex(early.index).fillna(0.0) / early - 1.0).dropna()


def test_saas_signal_only_when_asked(saas, flat_saas) -> None:
    assert usage_before_churn(saas).mean() < -0.15
    assert abs(usage_before_churn(flat_saas).mean()) < 0.12
    negative = pool_regex(SAAS_TICKET_TEMPLATES[0])
    shares = []
    for data in (saas, flat_saas):
        tickets = data["support_tickets"].merge(churn_gaps(data)[["account_id", "churn"]]
                                                .drop_duplicates("account_id"), how="left",
                                                on="account_id")
        gap = (tickets["churn"] - pd.to_datetime(tickets["submitted_at"])).dt.days
        before_churn = gap.between(0, 90)
        is_negative = tickets["ticket_text"].map(lambda text: bool(negative.match(text)))
        shares.append((is_negative[before_churn].mean(), is_negative[tickets["churn"].isna()]
                       .mean()))
    assert shares[0][0] > shares[0][1] + 0.10
    assert abs(shares[1][0] - shares[1][1]) < 0.08


def test_write_saas(tmp_path) -> None:
    folder = write_saas(tmp_path / "saas", n_accounts=150, seed=1)
    expected = generate_saas(150, seed=1)
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{t}.csv" for t in SAAS_COLUMNS)
    for name, frame in expected.items():
        read = pd.read_csv(folder / f"{name}.csv")
        assert list(read.columns) == SAAS_COLUMNS[name] and len(read) == len(frame), name
    usage = pd.read_csv(folder / "feature_usage.csv")
    assert "account_id" not in usage.columns
    flags = pd.read_csv(folder / "subscriptions.csv")[["is_trial", "auto_renew_flag"]]
    assert set(flags.stack()) <= {True, False}
