"""Linked tables end to end: behaviour features on the training rows use only what was known
at the as-of date, post-outcome tables never become features, and the behaviour check
reports a lift only where the behaviour carries one."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from analytics.data.assemble import build_linked
from analytics.data.config import tables_from_dicts
from analytics.dataset import CHURN, ID
from analytics.loaders import demo_events_config, load_demo
from analytics.pipeline import AnalysisSettings, analyse

FAST = AnalysisSettings(n_splits=3, baselines=())


def _demo_frames(n: int = 1200, seed: int = 4):
    from analytics.data.demo_events import generate_demo_events
    from analytics.demo import generate_demo

    raw = generate_demo(n, seed=seed, with_dates=True)
    return raw, generate_demo_events(raw, seed=seed)


def test_demo_with_events_has_behaviour_at_the_as_of_date():
    table = load_demo(1200, seed=4, events=True)
    b = table.behaviour
    assert b is not None and b.as_of == table.as_of
    assert {t.name for t in b.tables} >= {"usage", "tickets", "emails", "plan_changes",
                                          "churn_feedback"}
    assert b.features and set(b.features) <= set(table.numeric)
    # The leavers' feedback is known only after the outcome: no feature comes from it.
    assert not any(m.table == "churn_feedback" for m in b.meta.values())
    assert all(not f.startswith("churn_feedback") for f in table.features)
    assert len(table.training) < len(table.customers)
    assert any("never a feature" in note for note in table.quality.notes)


def test_typed_demo_events_give_the_same_table_as_their_text_export():
    # load_demo reads typed columns (categorical ids, datetime64, bool): the same values as
    # the CSV-style text, so the same customers, features and canonical event rows.
    from analytics.data.demo_events import generate_demo_events

    raw, text = _demo_frames(900, seed=6)
    typed = generate_demo_events(raw, seed=6, typed=True)
    assert isinstance(typed["usage"]["customerID"].dtype, pd.CategoricalDtype)
    assert typed["usage"]["week_start"].dtype == "datetime64[ns]"
    assert typed["emails"]["opened"].dtype == bool
    assert pd.isna(typed["tickets"]["closed_at"]).sum() == (text["tickets"]["closed_at"]
                                                            == "").sum()
    a = build_linked(raw.copy(), demo_events_config(), "demo", text)
    b = build_linked(raw.copy(), demo_events_config(), "demo", typed, consume=True)
    assert typed == {} and len(text) == 5    # consumed: each raw table freed once read
    pd.testing.assert_frame_equal(a.customers, b.customers)
    pd.testing.assert_frame_equal(a.training, b.training)
    assert a.behaviour.meta.keys() == b.behaviour.meta.keys()
    for ta, tb in zip(a.behaviour.tables, b.behaviour.tables):
        assert ta.name == tb.name and list(ta.frame.columns) == list(tb.frame.columns)
        for column in ta.frame.columns:
            x, y = ta.frame[column], tb.frame[column]
            if isinstance(x.dtype, pd.CategoricalDtype):
                assert x.astype(str).tolist() == y.astype(str).tolist(), (ta.name, column)
            else:
                pd.testing.assert_series_equal(x, y, check_dtype=False)


def test_a_planted_post_as_of_event_changes_no_training_feature():
    raw, frames = _demo_frames()
    base = build_linked(raw, demo_events_config(), "demo", frames)
    as_of = pd.Timestamp(base.as_of)
    churners = raw.loc[raw["EndDate"] != "No", "customerID"].to_numpy()
    # A perfect predictor, dated after the as-of date: a furious ticket from every churner
    # and a usage spike, the day after it.
    day = (as_of + pd.Timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    tickets = frames["tickets"]
    planted = pd.DataFrame({c: [tickets[c].iloc[0]] * len(churners) for c in tickets.columns})
    planted["customerID"] = churners
    planted["ticket_id"] = [f"PLANT-{i}" for i in range(len(churners))]
    planted["opened_at"] = day
    planted["text"] = "I am cancelling, this is the worst service ever"
    usage = frames["usage"]
    spike = usage[usage["customerID"].isin(churners)].drop_duplicates("customerID").copy()
    spike["week_start"] = (as_of + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    spike["data_gb"] = 999.0
    leaky = dict(frames, tickets=pd.concat([tickets, planted], ignore_index=True),
                 usage=pd.concat([usage, spike], ignore_index=True))
    with_leak = build_linked(raw, demo_events_config(), "demo", leaky)
    features = base.behaviour.features
    pd.testing.assert_frame_equal(base.training[[ID, CHURN, *features]],
                                  with_leak.training[[ID, CHURN, *features]])


def test_an_event_on_the_as_of_date_itself_is_not_used():
    raw, frames = _demo_frames(600, seed=2)
    base = build_linked(raw, demo_events_config(), "demo", frames)
    customer = base.training[ID].iloc[0]
    tickets = frames["tickets"]
    extra = tickets.iloc[:1].copy()
    extra["customerID"], extra["ticket_id"] = customer, "AT-AS-OF"
    extra["opened_at"] = pd.Timestamp(base.as_of).strftime("%Y-%m-%d %H:%M")
    again = build_linked(raw, demo_events_config(), "demo",
                         dict(frames, tickets=pd.concat([tickets, extra], ignore_index=True)))
    column = "tickets_count_7d"
    assert column in base.training
    assert again.training[column].iloc[0] == base.training[column].iloc[0]


@pytest.fixture(scope="module")
def analysis():
    return analyse(load_demo(1500, seed=4, events=True), FAST)


def test_evaluation_names_the_table_of_every_feature(analysis):
    out = analysis.evaluation()
    tables = out["feature_tables"]
    assert set(tables) == set(out["features"])
    behaviour = analysis.behaviour.sources()
    for feature, source in tables.items():
        if feature in behaviour:
            assert source == f"{behaviour[feature]}.csv"
        else:
            assert source == analysis.source.split("/")[-1] or "demo" in source
    assert out["behaviour"]["as_of"] == analysis.as_of
    assert {t["name"] for t in out["behaviour"]["tables"]} >= {"usage", "churn_feedback"}


def test_a_behaviour_driver_takes_a_slot_when_it_matters_more(analysis):
    from analytics.drivers import driver_columns

    drivers = driver_columns(analysis)
    meta = analysis.feature_meta()
    importance = analysis.importance()
    behaviour = [f for f in importance if f in meta]
    pinned = list(analysis.config.drivers)
    assert len(drivers) == 3 and drivers[:2] == pinned[:2]
    weakest = min(pinned, key=lambda c: importance.get(c, 0.0))
    if importance[behaviour[0]] > importance.get(weakest, 0.0):
        assert drivers[2] == behaviour[0] and weakest not in drivers
    else:
        assert drivers == pinned


def test_segments_can_use_behaviour_features(analysis):
    from analytics.segments import extra_features

    meta = analysis.feature_meta()
    ranked = list(analysis.importance())
    # Telecom data keeps its service features; asked, it adds how behaviour turned.
    assert extra_features(analysis.customers, ranked, behaviour=meta) == ()
    turned = extra_features(analysis.customers, ranked, behaviour=meta, n_behaviour=1)
    assert len(turned) == 1 and turned[0] in meta and turned[0].endswith(
        ("_change_30d", "_trend", "_negative_30d", "_sentiment_change",
         "_sentiment_mean_90d", "_satisfaction_mean_90d"))
    # Other data segments on its top numeric drivers, behaviour among them.
    frame = analysis.customers.drop(columns=["Contract"])
    frame = frame[[c for c in frame.columns if c not in (
        "PhoneService", "MultipleLines", "InternetService", "OnlineSecurity", "OnlineBackup",
        "DeviceProtection", "TechSupport", "StreamingTV", "StreamingMovies")]]
    numeric = [f for f in ranked if f in frame and f in analysis.numeric]
    assert extra_features(frame, ranked, behaviour=meta) == tuple(numeric[:3])


def test_segment_words_for_behaviour_features():
    from analytics.segment_names import words_of

    assert words_of("usage_change_30d") == ("Falling-Usage", "Rising-Usage")
    assert words_of("support_tickets_negative_30d") == ("Calm-Support-Tickets",
                                                       "Negative-Support-Tickets")
    assert words_of("tickets_recency_days") == ("Recently-Active", "Inactive")
    assert words_of("Balance") == ("Low-Balance", "High-Balance")


@pytest.mark.slow
def test_behaviour_lift_is_reported_where_there_is_one_and_not_invented():
    with_signal = analyse(load_demo(3000, seed=1, events=True), FAST).behaviour.lift
    assert with_signal["ci_low"] > 0, with_signal
    assert with_signal["verdict"].startswith("behaviour adds")
    without = analyse(load_demo(3000, seed=1, events=True, signal=False), FAST).behaviour.lift
    assert without["ci_low"] <= 0 <= without["ci_high"] or without["lift"] < 0.005, without
    assert without["verdict"].startswith("no measurable lift"), without


def test_a_new_file_without_history_is_scored_with_typical_behaviour(analysis):
    from analytics.demo import generate_demo
    from analytics.scoring import file_features

    raw = generate_demo(50, seed=9)
    features, report = file_features(raw, analysis, "new.csv")
    meta = analysis.feature_meta()
    used = [f for f in analysis.features if f in meta]
    assert used and sorted(report["no_behaviour"]) == sorted(used)
    active = analysis.customers["active"].to_numpy(dtype=bool)
    for f in used:
        expected = np.nanmedian(analysis.customers.loc[active, f].to_numpy(dtype=float))
        assert features[f].to_numpy(dtype=float) == pytest.approx(np.full(50, expected))
    proba = analysis.model.predict_proba(features)
    assert np.isfinite(proba).all() and len(proba) == 50
