"""Behavioural features at an as-of date: hand-computed values on tiny frames (each test runs
on both engines), the two engines on a random frame, and a planted leak.

Window rule under test: the w-day window holds ``as_of - w days <= TIME < as_of``; an event
at as_of or after it is never used."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.data import events as ev
from analytics.data.behaviour import (WINDOWS, ZERO_WHEN_EMPTY, BehaviourFeatures,
                                      FeatureMeta, behaviour_features, slug)
from analytics.errors import DataError

AS_OF = pd.Timestamp("2024-04-01")
ENGINES = ("numpy", "duckdb")


def ago(days: float) -> pd.Timestamp:
    return AS_OF - pd.Timedelta(days=days)


@pytest.fixture(params=ENGINES)
def engine(request):
    return request.param


def frame(rows: list[dict], **dtypes) -> pd.DataFrame:
    out = pd.DataFrame(rows)
    out[ev.CUSTOMER] = out[ev.CUSTOMER].astype(np.int32)
    for column, dtype in dtypes.items():
        out[column] = out[column].astype(dtype)
    return out


def features(tables, n, engine, **kw) -> pd.DataFrame:
    result = behaviour_features(tables, n, AS_OF, engine=engine, **kw)
    assert isinstance(result, BehaviourFeatures)
    assert list(result.frame.columns) == list(result.meta)
    assert result.frame.index.equals(pd.RangeIndex(n))
    return result.frame


# ---- events: windows, trend, change, recency, rate, kinds, ratios --------------------------

# customer 0: (age in days, minutes, errors, kind); age 0 is AT as_of, -3 after it
USAGE_0 = [(1, 1, 1, "a"), (7, 2, 0, "b"), (8, 4, 0, "a"), (30, 8, 0, "c"), (31, 16, 0, None),
           (60, 32, 1, "a"), (90, 64, 0, "d"), (91, 128, 1, "e"), (200, 256, 0, "f"),
           (0, 1000, 5, "g"), (-3, 2000, 5, "h")]


def usage_table() -> ev.EventTable:
    rows = [{ev.CUSTOMER: 0, ev.TIME: ago(age), "Minutes": m, "errors": e, ev.KIND: k}
            for age, m, e, k in USAGE_0]
    rows += [{ev.CUSTOMER: 2, ev.TIME: ago(45), "Minutes": 0.0, "errors": 0.0, ev.KIND: "a"},
             {ev.CUSTOMER: 3, ev.TIME: ago(100), "Minutes": 5.0, "errors": 1.0, ev.KIND: "a"},
             # the edges at sub-day precision
             {ev.CUSTOMER: 4, ev.TIME: AS_OF - pd.Timedelta(1, "ns"), "Minutes": 1.0,
              "errors": 0.0, ev.KIND: "a"},
             {ev.CUSTOMER: 4, ev.TIME: ago(7) - pd.Timedelta(seconds=1), "Minutes": 1.0,
              "errors": 0.0, ev.KIND: "b"}]
    f = frame(rows, Minutes=np.float32, errors=np.float32, kind="category")
    return ev.EventTable("usage", "events", f, measures=("Minutes", "errors"),
                         ratios=(("errors", "count"), ("errors", "Minutes")))


def test_event_windows_edges_and_as_of_guard(engine):
    f = features([usage_table()], 5, engine)
    # customer 0: ages 1 and 7 in 7 days; 8 and 30 added in 30; 31, 60, 90 in 90; 0, -3 never
    assert f.loc[0, ["usage_count_7d", "usage_count_30d", "usage_count_90d"]].tolist() == [2, 4, 7]
    assert f.loc[0, "usage_minutes_sum_30d"] == 1 + 2 + 4 + 8
    assert f.loc[0, "usage_minutes_sum_90d"] == 15 + 16 + 32 + 64
    assert f.loc[0, "usage_errors_sum_30d"] == 1 and f.loc[0, "usage_errors_sum_90d"] == 2
    # 1 ns before as_of is in the 7 days; 7 days and 1 second before is not
    assert f.loc[4, ["usage_count_7d", "usage_count_30d"]].tolist() == [1, 2]
    # no events: counts and sums 0
    assert f.loc[1, ["usage_count_7d", "usage_count_90d", "usage_minutes_sum_90d"]].tolist() \
        == [0, 0, 0]


def test_trend_and_change(engine):
    f = features([usage_table()], 5, engine)
    # 4 events in 30 days; 3 in the 60 before (31, 60, 90) -> 4 / 1.5 - 1
    assert f.loc[0, "usage_trend"] == pytest.approx(5 / 3, rel=1e-6)
    # first measure: 15 minutes in 30 days vs 16 + 32 in days 31-60 -> (15 - 48) / 48
    assert f.loc[0, "usage_change_30d"] == pytest.approx(-0.6875, rel=1e-6)
    # customer 2: one event at 45 days, none in 30 days -> -100%; its minutes were 0 -> NaN
    assert f.loc[2, "usage_trend"] == pytest.approx(-1.0)
    assert np.isnan(f.loc[2, "usage_change_30d"])
    assert np.isnan(f.loc[1, "usage_trend"]) and np.isnan(f.loc[3, "usage_trend"])


def test_change_on_counts_without_measures(engine):
    rows = [{ev.CUSTOMER: 0, ev.TIME: ago(a)} for a in (1, 2, 3, 35, 40, 45, 50)]
    f = features([ev.EventTable("logins", "events", frame(rows))], 1, engine)
    assert f.loc[0, "logins_change_30d"] == pytest.approx((3 - 4) / 4)
    assert "logins_distinct_kinds_90d" not in f


def test_recency_and_rate(engine):
    table = usage_table()
    f = features([table], 5, engine)
    assert f.loc[0, "usage_recency_days"] == pytest.approx(1.0)
    assert f.loc[2, "usage_recency_days"] == pytest.approx(45.0)
    assert np.isnan(f.loc[1, "usage_recency_days"])
    # without tenure: 9 events over the months since the first one (200 days)
    assert f.loc[0, "usage_rate_per_month"] == pytest.approx(9 / (200 / 30.4375), rel=1e-6)
    assert f.loc[1, "usage_rate_per_month"] == 0
    tenure = np.array([10.0, 3.0, 0.5, np.nan, 2.0])
    f = features([table], 5, engine, tenure_months=tenure)
    assert f.loc[0, "usage_rate_per_month"] == pytest.approx(0.9)
    assert f.loc[2, "usage_rate_per_month"] == pytest.approx(1.0)       # max(tenure, 1)
    # NaN tenure: the months since the first event (100 days)
    assert f.loc[3, "usage_rate_per_month"] == pytest.approx(1 / (100 / 30.4375), rel=1e-6)
    assert f.loc[4, "usage_rate_per_month"] == pytest.approx(1.0)


def test_distinct_kinds_and_ratios(engine):
    f = features([usage_table()], 5, engine)
    # kinds in 90 days: a, b, c, d (the NaN kind, e and f are older, g and h not before)
    assert f.loc[0, "usage_distinct_kinds_90d"] == 4
    assert f.loc[1, "usage_distinct_kinds_90d"] == 0
    assert f.loc[0, "usage_errors_per_event_90d"] == pytest.approx(2 / 7, rel=1e-6)
    assert f.loc[0, "usage_errors_per_minutes_90d"] == pytest.approx(2 / 127, rel=1e-6)
    # customer 3's only event is 100 days old: zero denominators -> NaN
    assert np.isnan(f.loc[3, "usage_errors_per_event_90d"])
    assert np.isnan(f.loc[3, "usage_errors_per_minutes_90d"])
    assert np.isnan(f.loc[2, "usage_errors_per_minutes_90d"])           # 0 minutes


def test_distinct_kinds_without_the_grid(monkeypatch):
    from analytics.data import behaviour
    grid = features([usage_table()], 5, "numpy")["usage_distinct_kinds_90d"]
    monkeypatch.setattr(behaviour, "KIND_GRID", 0)          # the np.unique path
    pd.testing.assert_series_equal(features([usage_table()], 5, "numpy")[
        "usage_distinct_kinds_90d"], grid)


def test_empty_tables_and_no_customers(engine):
    empty = usage_table()
    empty = ev.EventTable("usage", "events", empty.frame.iloc[:0], empty.measures, empty.ratios)
    f = features([empty, ev.EventTable("tickets", "tickets", tickets_table().frame.iloc[:0]),
                  ev.EventTable("subscriptions", "history", history_table().frame.iloc[:0])],
                 3, engine)
    assert (f["usage_count_90d"] == 0).all() and f["usage_recency_days"].isna().all()
    assert (f["subscriptions_active"] == 0).all() and f["tickets_open"].eq(0).all()
    assert features([usage_table().frame.pipe(lambda x: ev.EventTable(
        "usage", "events", x.iloc[:0]))], 0, engine).shape == (0, 8)


def test_a_customer_without_rows_gets_zero_counts_and_nan_means(engine):
    tables = [usage_table(), tickets_table(), history_table(),
              ev.EventTable("emails", "events", frame([{ev.CUSTOMER: 0, ev.TIME: ago(3),
                                                        ev.SENTIMENT: 0.5}]))]
    result = behaviour_features(tables, 6, AS_OF, engine=engine)   # customer 5: no rows
    for name, m in result.meta.items():
        value = result.frame.loc[5, name]
        assert (value == 0) if m.stat in ZERO_WHEN_EMPTY else np.isnan(value), name


def test_names_meta_and_budget(engine):
    result = behaviour_features([usage_table()], 5, AS_OF, engine=engine)
    meta = result.meta
    assert WINDOWS == (7, 30, 90)
    assert meta["usage_count_30d"].label == "Usage events, last 30 days"
    assert meta["usage_count_30d"].stat == "count" and meta["usage_count_30d"].window == 30
    assert meta["usage_minutes_sum_90d"].measure == "Minutes"
    assert set(result.sources().values()) == {"usage"}
    assert len(meta) <= 15
    assert all(result.frame[c].dtype == np.float32 for c in result.frame)


def test_only_first_three_measures_get_windows(engine):
    rows = [{ev.CUSTOMER: 0, ev.TIME: ago(10), **{f"m{i}": 1.0 for i in range(5)}}]
    table = ev.EventTable("usage", "events", frame(rows), measures=tuple(f"m{i}" for i in
                                                                         range(5)))
    f = features([table], 1, engine)
    assert {"usage_m2_sum_30d", "usage_m2_sum_90d", "usage_m4_sum_90d"} <= set(f)
    assert "usage_m3_sum_30d" not in f and "usage_m4_sum_30d" not in f


# ---- sentiment -------------------------------------------------------------------------------

def test_sentiment_stats(engine):
    rows = [{ev.CUSTOMER: 0, ev.TIME: ago(a), ev.SENTIMENT: s}
            for a, s in ((5, -0.5), (20, -0.05), (40, 0.4), (70, 0.2), (100, -0.9),
                         (0, -1.0), (10, np.nan))]
    rows += [{ev.CUSTOMER: 1, ev.TIME: ago(3), ev.SENTIMENT: s} for s in (0.2, 0.6)]
    # float64 here so that -0.05 is exact: "negative" is sentiment <= -0.05
    table = ev.EventTable("emails", "events", frame(rows, sentiment=np.float64),
                          unit="e-mail")
    f = features([table], 3, engine)
    assert f.loc[0, "emails_sentiment_mean_90d"] == pytest.approx(0.05 / 4, abs=1e-6)
    assert f.loc[0, "emails_sentiment_min_90d"] == pytest.approx(-0.5)
    assert f.loc[0, "emails_sentiment_last"] == pytest.approx(-0.5)     # the one AT as_of: no
    assert f.loc[0, "emails_negative_30d"] == 2                          # -0.5 and -0.05
    assert f.loc[0, "emails_sentiment_change"] == pytest.approx(-0.275 - 0.3, rel=1e-5)
    assert f.loc[1, "emails_sentiment_last"] == pytest.approx(0.4)      # a tie: the mean
    assert np.isnan(f.loc[1, "emails_sentiment_change"])                 # nothing before
    assert np.isnan(f.loc[2, ["emails_sentiment_mean_90d", "emails_sentiment_min_90d",
                              "emails_sentiment_last"]].astype(float)).all()
    assert f.loc[2, "emails_negative_30d"] == 0


# ---- tickets ---------------------------------------------------------------------------------

def tickets_table() -> ev.EventTable:
    h = pd.Timedelta(hours=1)
    rows = [  # opened, closed, resolution h, satisfaction, first response h, escalated
        (ago(10), ago(5), 120, 4, 2, 1),
        (ago(20), AS_OF + pd.Timedelta(days=2), 528, 1, 3, 0),  # closes after as_of: open
        (ago(40), pd.NaT, np.nan, np.nan, 1, 1),                 # still open
        (ago(120), ago(100), 480, 2, 1, 1),                      # closed 100 days ago
        (ago(95), ago(80), 360, 5, 4, 0),                        # opened 95, closed 80 days
        (AS_OF, AS_OF + h, 1, 1, 0.5, 1),                        # opened AT as_of: never
        (AS_OF - h, pd.NaT, np.nan, np.nan, 5, 0),               # answered after as_of
    ]
    f = pd.DataFrame(rows, columns=[ev.TIME, ev.CLOSED, ev.RESOLUTION, ev.SATISFACTION,
                                    ev.FIRST_RESPONSE, ev.ESCALATED])
    f.insert(0, ev.CUSTOMER, np.zeros(len(f), np.int32))
    return ev.EventTable("tickets", "tickets", f.astype({ev.ESCALATED: float}), unit="ticket")


def test_tickets(engine):
    f = features([tickets_table()], 2, engine)
    row = f.loc[0]
    assert row["tickets_open"] == 3                                  # 20 d, 40 d, 1 h ago
    assert row["tickets_resolution_mean_90d"] == pytest.approx((120 + 360) / 2)
    assert row["tickets_satisfaction_mean_90d"] == pytest.approx(4.5)
    assert row["tickets_satisfaction_last"] == pytest.approx(4.0)    # closed 5 days ago
    assert row["tickets_first_response_mean_90d"] == pytest.approx((2 + 3 + 1) / 3)
    assert row["tickets_escalations_90d"] == 2
    assert row["tickets_escalation_rate_90d"] == pytest.approx(0.5)  # 2 of 4 in 90 days
    assert row[["tickets_count_7d", "tickets_count_30d", "tickets_count_90d"]].tolist() == \
        [1, 3, 4]
    assert row["tickets_trend"] == pytest.approx(3 / 0.5 - 1)
    assert row["tickets_recency_days"] == pytest.approx(1 / 24)
    empty = f.loc[1]
    assert empty["tickets_open"] == 0 and empty["tickets_escalations_90d"] == 0
    for name in ("tickets_resolution_mean_90d", "tickets_satisfaction_mean_90d",
                 "tickets_satisfaction_last", "tickets_first_response_mean_90d",
                 "tickets_escalation_rate_90d", "tickets_recency_days"):
        assert np.isnan(empty[name]), name


def test_tickets_close_time_from_resolution(engine):
    rows = [{ev.CUSTOMER: 0, ev.TIME: ago(10), ev.RESOLUTION: 48.0},    # closed 8 days ago
            {ev.CUSTOMER: 0, ev.TIME: ago(1), ev.RESOLUTION: 48.0}]     # closes after as_of
    f = features([ev.EventTable("tickets", "tickets", frame(rows), unit="ticket")], 1, engine)
    assert f.loc[0, "tickets_open"] == 1
    assert f.loc[0, "tickets_resolution_mean_90d"] == pytest.approx(48.0)


# ---- history ---------------------------------------------------------------------------------

def history_table() -> ev.EventTable:
    rows = [  # customer, start, end, mrr, seats, plan, change
        (0, ago(200), pd.NaT, 100, 5, "basic", 0),
        (0, ago(60), AS_OF + pd.Timedelta(days=10), 50, 2, "pro", 1),
        (0, ago(300), ago(150), 80, 3, "basic", -1),
        (0, AS_OF, pd.NaT, 1000, 50, "enterprise", 1),          # starts AT as_of: never
        (1, ago(100), AS_OF, 30, 1, "basic", 0),                # ends AT as_of: still in force
        (1, ago(50), ago(10), 20, 1, "basic", 0),               # ended 10 days ago
    ]
    f = pd.DataFrame(rows, columns=[ev.CUSTOMER, ev.TIME, ev.END, ev.MRR, ev.SEATS, ev.PLAN,
                                    ev.CHANGE])
    f = f.astype({ev.CUSTOMER: np.int32, ev.MRR: float, ev.SEATS: float,
                  ev.PLAN: "category", ev.CHANGE: np.int8})
    return ev.EventTable("subscriptions", "history", f, unit="change")


def test_history(engine):
    f = features([history_table()], 3, engine)
    s = "subscriptions_"
    zero = f.loc[0]
    assert zero[s + "mrr_now"] == 150 and zero[s + "seats"] == 7 and zero[s + "active"] == 2
    assert zero[s + "mrr_change_90d"] == 50            # 90 days ago only the 100 one ran
    assert zero[s + "upgrades_90d"] == 1 and zero[s + "upgrades"] == 1
    assert zero[s + "downgrades_90d"] == 0 and zero[s + "downgrades"] == 1
    assert zero[s + "plan_changes_90d"] == 1           # basic -> pro 60 days ago
    one = f.loc[1]
    assert one[s + "mrr_now"] == 30 and one[s + "active"] == 1 and one[s + "mrr_change_90d"] == 0
    assert one[s + "plan_changes_90d"] == 0
    assert f.loc[2, [s + "mrr_now", s + "seats", s + "active", s + "upgrades"]].tolist() == \
        [0, 0, 0, 0]
    assert not any(c.startswith(s + "count") for c in f)   # history has no event counts


def test_plan_changes_order_ties_by_plan_with_missing_last(engine):
    rows = [(0, ago(120), "basic"), (0, ago(30), "pro"), (0, ago(30), None),
            (0, ago(20), "pro")]
    f = pd.DataFrame(rows, columns=[ev.CUSTOMER, ev.TIME, ev.PLAN]).astype(
        {ev.CUSTOMER: np.int32})                              # PLAN as text: made a category
    f = features([ev.EventTable("plans", "history", f)], 1, engine)
    # basic -> pro (30 days ago); pro -> missing and missing -> pro are not changes
    assert f.loc[0, "plans_plan_changes_90d"] == 1
    assert f.loc[0, "plans_active"] == 4 and "plans_mrr_now" not in f


# ---- guards ----------------------------------------------------------------------------------

def test_outcome_tables_are_refused(engine):
    reasons = ev.EventTable("reasons", "outcome", frame([{ev.CUSTOMER: 0, ev.TIME: ago(1)}]))
    with pytest.raises(ValueError, match="never features"):
        behaviour_features([usage_table(), reasons], 5, AS_OF, engine=engine)


def test_bad_arguments():
    with pytest.raises(ValueError, match="engine"):
        behaviour_features([usage_table()], 5, AS_OF, engine="spark")
    with pytest.raises(DataError, match="customer"):
        behaviour_features([usage_table()], 3, AS_OF)            # customer 4 of 3
    bad = usage_table()
    with pytest.raises(DataError, match="measures"):
        behaviour_features([ev.EventTable("usage", "events", bad.frame, ("Minutes", "nope"))],
                           5, AS_OF)
    with pytest.raises(DataError, match="ratios"):
        behaviour_features([ev.EventTable("usage", "events", bad.frame, ("Minutes",),
                                          (("errors", "count"),))], 5, AS_OF)
    with pytest.raises(ValueError, match="tenure"):
        behaviour_features([usage_table()], 5, AS_OF, tenure_months=np.ones(3))
    pandas = behaviour_features([usage_table()], 5, AS_OF, engine="pandas").frame
    pd.testing.assert_frame_equal(pandas, behaviour_features([usage_table()], 5, AS_OF,
                                                             engine="numpy").frame)


def test_describe_texts():
    result = behaviour_features([usage_table(), tickets_table()], 5, AS_OF)
    meta = result.meta
    assert isinstance(meta["tickets_open"], FeatureMeta)
    negative = FeatureMeta("tickets_negative_30d", "tickets", "negative", 30, None,
                           "Negative tickets, last 30 days", "ticket")
    assert negative.describe(3) == "3 negative tickets in 30 days"
    assert negative.describe(1) == "1 negative ticket in 30 days"
    assert meta["usage_recency_days"].describe(45.2) == "no usage event for 45 days"
    assert meta["usage_recency_days"].describe(np.nan) == "no usage events yet"
    assert meta["usage_trend"].describe(-0.62) == "usage down 62% on the 60 days before"
    assert meta["usage_change_30d"].describe(0.25) == "usage up 25% on the 30 days before"
    assert meta["tickets_satisfaction_mean_90d"].describe(2.0) == \
        "satisfaction 2.0 (mean, 90 days)"
    assert meta["tickets_satisfaction_mean_90d"].describe(np.nan) == \
        "no satisfaction scores in 90 days"
    assert meta["usage_count_30d"].describe(0) == "no usage events in 30 days"
    assert meta["usage_count_30d"].describe(12) == "12 usage events in 30 days"
    assert meta["tickets_open"].describe(2) == "2 open tickets"
    assert meta["usage_errors_per_event_90d"].describe(0.25) == \
        "errors per usage event 0.25 (90 days)"
    assert meta["usage_errors_per_event_90d"].describe(np.nan) == "no usage events in 90 days"
    assert meta["usage_errors_per_minutes_90d"].describe(np.nan) == "no minutes in 90 days"
    assert meta["usage_minutes_sum_30d"].describe(1234) == "1,234 minutes in 30 days"
    assert meta["usage_minutes_sum_30d"].label == "Usage minutes, last 30 days"
    assert meta["usage_minutes_sum_30d"].describe(0) == "no minutes in 30 days"
    assert meta["tickets_escalation_rate_90d"].describe(0.5) == \
        "50% of tickets escalated (90 days)"
    history = behaviour_features([history_table()], 3, AS_OF).meta
    assert history["subscriptions_mrr_change_90d"].describe(-40) == \
        "MRR down 40.00 on 90 days before"
    assert history["subscriptions_upgrades"].describe(2) == "2 upgrades ever"
    for m in {**meta, **history}.values():                      # every stat has a text
        assert m.describe(1.0) and m.describe(np.nan) and m.label


# ---- engines and the planted leak on random tables ----------------------------------------

def random_tables(n: int, m: int, seed: int = 0) -> list[ev.EventTable]:
    rng = np.random.default_rng(seed)
    start = (AS_OF - pd.Timedelta(days=400)).value

    def times(k):  # whole seconds over 400 days before as_of and 20 after
        return pd.to_datetime(start + rng.integers(0, 420 * 86400, k) * 10**9)

    # some rows exactly on the window edges
    edges = [AS_OF - pd.Timedelta(days=d) for d in (0, 7, 30, 60, 90)]
    t = times(m).to_numpy()
    t[: 5 * 200] = np.repeat(np.array(edges, dtype="datetime64[ns]"), 200)
    usage = pd.DataFrame({
        ev.CUSTOMER: rng.integers(0, n, m).astype(np.int32), ev.TIME: t,
        "minutes": rng.exponential(5, m).astype(np.float32),
        "errors": rng.poisson(0.3, m).astype(np.float32),
        "pages": np.where(rng.random(m) < 0.1, np.nan, rng.random(m)).astype(np.float32),
        "clicks": rng.poisson(4, m).astype(np.float32),
        ev.KIND: pd.Categorical(rng.choice(list("abcdefg"), m)),
        ev.SENTIMENT: np.where(rng.random(m) < .3, np.nan, rng.uniform(-1, 1, m)).astype(
            np.float32)})
    k = m // 10
    opened = times(k)
    closed = pd.Series(opened + pd.to_timedelta(rng.exponential(72, k), unit="h")).where(
        rng.random(k) < .8)
    tickets = pd.DataFrame({
        ev.CUSTOMER: rng.integers(0, n, k).astype(np.int32), ev.TIME: opened,
        ev.CLOSED: closed, ev.RESOLUTION: (closed - opened) / pd.Timedelta(hours=1),
        ev.FIRST_RESPONSE: np.where(rng.random(k) < .2, np.nan, rng.exponential(5, k)),
        ev.SATISFACTION: np.where(rng.random(k) < .5, np.nan, rng.integers(1, 6, k)),
        ev.ESCALATED: (rng.random(k) < .1).astype(float),
        ev.SENTIMENT: rng.uniform(-1, 1, k).astype(np.float32)})
    h = 2 * n
    began = times(h)
    history = pd.DataFrame({
        ev.CUSTOMER: rng.integers(0, n, h).astype(np.int32), ev.TIME: began,
        ev.END: pd.Series(began + pd.to_timedelta(rng.integers(30, 400, h), unit="D")).where(
            rng.random(h) < .5),
        ev.MRR: rng.uniform(10, 100, h), ev.SEATS: rng.integers(1, 10, h).astype(float),
        ev.PLAN: pd.Categorical(rng.choice(["basic", "pro", None], h)),
        ev.CHANGE: rng.integers(-1, 2, h).astype(np.int8)})
    return [ev.EventTable("usage", "events", usage, measures=("minutes", "errors", "pages",
                                                              "clicks"),
                          ratios=(("errors", "count"), ("errors", "minutes"))),
            ev.EventTable("tickets", "tickets", tickets, unit="ticket"),
            ev.EventTable("subscriptions", "history", history, unit="change")]


def assert_same(a: pd.DataFrame, b: pd.DataFrame, rtol=1e-5) -> None:
    assert list(a.columns) == list(b.columns)
    for column in a:
        x, y = a[column].to_numpy(float), b[column].to_numpy(float)
        np.testing.assert_array_equal(np.isnan(x), np.isnan(y), err_msg=column)
        np.testing.assert_allclose(x, y, rtol=rtol, atol=1e-9, err_msg=column)


def test_engines_give_the_same_frame():
    tables = random_tables(2_000, 50_000)
    tenure = np.random.default_rng(3).uniform(0, 60, 2_000)
    numpy = behaviour_features(tables, 2_000, AS_OF, tenure_months=tenure, engine="numpy")
    duck = behaviour_features(tables, 2_000, AS_OF, tenure_months=tenure, engine="duckdb")
    assert numpy.meta.keys() == duck.meta.keys()
    assert len(numpy.meta) >= 40
    assert_same(numpy.frame, duck.frame)
    assert numpy.frame.notna().all().sum() >= 20          # not a frame of NaN
    # The levels the changes compare (the Behaviour page's before and after) agree too.
    assert numpy.levels.keys() == duck.levels.keys() and numpy.levels
    for table, levels in numpy.levels.items():
        assert_same(pd.DataFrame(levels), pd.DataFrame(duck.levels[table]))


def test_the_levels_are_what_the_changes_compare():
    tables = random_tables(2_000, 50_000)
    found, checked = behaviour_features(tables, 2_000, AS_OF), set()
    for table in tables:
        levels, prefix = found.levels.get(table.name, {}), slug(table.name)
        if f"{prefix}_change_30d" in found.frame:
            checked.add("change")
            change = found.frame[f"{prefix}_change_30d"].to_numpy(float)
            known = np.isfinite(change)
            assert known.sum() > 100
            with np.errstate(invalid="ignore", divide="ignore"):
                implied = (levels["after"] - levels["before"]) / np.abs(levels["before"])
            np.testing.assert_allclose(implied[known], change[known], rtol=1e-5)
            assert set(np.unique(levels["measure"])) <= set(range(len(table.measures) or 1))
        if f"{prefix}_sentiment_change" in found.frame:
            checked.add("sentiment")
            moved = found.frame[f"{prefix}_sentiment_change"].to_numpy(float)
            known = np.isfinite(moved)
            assert known.sum() > 100
            implied = levels["sentiment_after"] - levels["sentiment_before"]
            np.testing.assert_allclose(implied[known], moved[known], rtol=1e-5, atol=1e-6)
    assert checked == {"change", "sentiment"}


def plant_leak(tables: list[ev.EventTable], churners: np.ndarray, seed: int = 1):
    """The tables plus what only happens at or after as_of, for the churners only."""
    rng = np.random.default_rng(seed)
    usage, tickets, history = (t.frame for t in tables)
    is_churner = np.zeros(churners.max() + 1, bool)
    is_churner[churners] = True

    def after(k):
        return AS_OF + pd.to_timedelta(rng.integers(0, 30 * 86400, k), unit="s")

    def rows_after(f):   # one copy of a churner row per churner, dated at or after as_of
        extra = f.iloc[rng.integers(0, len(f), len(churners))].copy()
        extra[ev.CUSTOMER] = churners.astype(np.int32)
        extra[ev.TIME] = after(len(churners)).to_numpy()
        extra.iloc[: len(churners) // 4, extra.columns.get_loc(ev.TIME)] = AS_OF  # exactly
        return extra

    usage2 = pd.concat([usage, rows_after(usage)], ignore_index=True)
    tickets2 = pd.concat([tickets, rows_after(tickets)], ignore_index=True)
    mine = is_churner[np.minimum(tickets2[ev.CUSTOMER], len(is_churner) - 1)] & \
        tickets2[ev.CLOSED].isna() & (tickets2[ev.TIME] < AS_OF)
    k = int(mine.sum())
    tickets2.loc[mine, ev.CLOSED] = after(k).to_numpy()
    tickets2.loc[mine[mine].index[::3], ev.CLOSED] = AS_OF             # closes exactly at as_of
    tickets2.loc[mine, ev.SATISFACTION] = 1.0
    tickets2.loc[mine, ev.RESOLUTION] = (tickets2.loc[mine, ev.CLOSED] - tickets2.loc[
        mine, ev.TIME]) / pd.Timedelta(hours=1)
    # a first response that came after as_of
    unanswered = mine & tickets2[ev.FIRST_RESPONSE].isna()
    tickets2.loc[unanswered, ev.FIRST_RESPONSE] = (AS_OF - tickets2.loc[
        unanswered, ev.TIME]) / pd.Timedelta(hours=1) + 1
    history2 = pd.concat([history, rows_after(history)], ignore_index=True)
    running = is_churner[np.minimum(history2[ev.CUSTOMER], len(is_churner) - 1)] & \
        history2[ev.END].isna() & (history2[ev.TIME] < AS_OF)
    history2.loc[running, ev.END] = after(int(running.sum())).to_numpy()
    history2.loc[running[running].index[::3], ev.END] = AS_OF         # ends exactly at as_of
    frames = (usage2, tickets2, history2)
    return [ev.EventTable(t.name, t.role, f, t.measures, t.ratios, t.source, t.unit)
            for t, f in zip(tables, frames)]


@pytest.mark.parametrize("engine", ENGINES)
def test_planted_leak_changes_nothing(engine):
    n = 1_000
    tables = random_tables(n, 20_000, seed=5)
    churners = np.flatnonzero(np.random.default_rng(9).random(n) < 0.3)
    leaky = plant_leak(tables, churners)
    assert sum(len(t.frame) for t in leaky) > sum(len(t.frame) for t in tables)
    clean = behaviour_features(tables, n, AS_OF, engine=engine).frame
    planted = behaviour_features(leaky, n, AS_OF, engine=engine).frame
    pd.testing.assert_frame_equal(clean, planted, check_exact=False, rtol=1e-6)


def test_periodic_rows_compare_levels_per_row_on_the_first_measure_a_customer_has(engine):
    # Weekly usage rows (TIME = the week's end): 5 weeks in the last 30 days, 4 in the 30
    # before. Customer 0 uses 10 GB every week: flat, although the 30-day sums differ by 25%.
    # Customer 1 has no data at all (phone only): minutes fall from 10 to 5 a week: -50%.
    rows = []
    for d in (1, 8, 15, 22, 29):
        rows += [{"customer": 0, "time": ago(d), "gb": 10.0, "minutes": 0.0},
                 {"customer": 1, "time": ago(d), "gb": 0.0, "minutes": 5.0}]
    for d in (36, 43, 50, 57):
        rows += [{"customer": 0, "time": ago(d), "gb": 10.0, "minutes": 0.0},
                 {"customer": 1, "time": ago(d), "gb": 0.0, "minutes": 10.0}]
    weekly = ev.EventTable("usage", "events", frame(rows), measures=("gb", "minutes"),
                           period_days=7)
    f = features([weekly], 2, engine)
    assert f.loc[0, "usage_change_30d"] == pytest.approx(0.0)
    assert f.loc[1, "usage_change_30d"] == pytest.approx(-0.5)
    # Trend: per row, the last 30 days against the 60 before (here only 30-60 days has rows).
    assert f.loc[0, "usage_trend"] == pytest.approx(0.0)
    assert f.loc[1, "usage_trend"] == pytest.approx(5 / 10 - 1)
    # The same rows as plain events: sums, so customer 0 reads +25%.
    plain = ev.EventTable("usage", "events", frame(rows), measures=("gb", "minutes"))
    g = features([plain], 2, engine)
    assert g.loc[0, "usage_change_30d"] == pytest.approx(0.25)
