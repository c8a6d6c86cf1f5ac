"""Behaviour over time in the pages: the Customer page's activity timeline (service and
figure builder, checked by hand against the raw event tables), the Data page's linked
tables, the Model page's behaviour check and the Score form without behaviour fields."""

from __future__ import annotations

import copy
import dataclasses
import math
import pickle
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

from analytics.data import events as ev
from components.behaviour_check import behaviour_check, linked_tables
from components.timeline import MOODS, timeline_chart
from dashboard.services import CONFIG_KEY, Services
from dashboard.services import timeline as timeline_service
from dashboard.settings import Settings
from tests.ui.conftest import find, walk

EVENTS_SIZE = 1500


@pytest.fixture(scope="module")
def events(tmp_path_factory) -> Services:
    """Services over the demo data with behaviour (usage, tickets, e-mails, plan changes,
    the leavers' feedback)."""
    cache = tmp_path_factory.mktemp("ui-events-cache")
    services = Services(Settings(demo_size=EVENTS_SIZE, demo_events=True,
                                 cache_dir=str(cache))).start(progress=lambda m: None)
    services.checks.wait()  # the behaviour check the Data and Model pages show
    return services


@pytest.fixture
def on_events(app, events):
    """Callbacks run against the events data's services (the app's are put back after)."""
    plain = app.server.config[CONFIG_KEY]
    app.server.config[CONFIG_KEY] = events
    try:
        with app.server.test_request_context():
            yield events
    finally:
        app.server.config[CONFIG_KEY] = plain


def _table(services, name: str) -> ev.EventTable:
    return services.analysis.behaviour.table(name)


def _busy_customer(services) -> int:
    """The row of the active customer with the most tickets, with a plan change."""
    b = services.analysis.behaviour
    tickets = _table(services, "tickets").frame[ev.CUSTOMER].value_counts()
    changed = set(_table(services, "plan_changes").frame[ev.CUSTOMER])
    active = services.analysis.customers["active"].to_numpy()
    row = next(int(p) for p in tickets.index if p in changed and active[p])
    assert str(b.ids[row]) == str(services.ids()[row])   # position == row of the customers
    return row


def _window(services, frame):
    b = services.analysis.behaviour
    now = np.datetime64(b.now)
    start = now - np.timedelta64(timeline_service.WINDOW_DAYS, "D")
    when = frame[ev.TIME].to_numpy()
    return frame[(when >= start) & (when <= now)]


def _raw(services, name: str, row: int):
    frame = _table(services, name).frame
    return _window(services, frame[frame[ev.CUSTOMER] == row]).sort_values(ev.TIME,
                                                                          kind="stable")


# ----- the timeline service ---------------------------------------------------------------------
def test_weekly_usage_bars_add_up_to_the_customers_raw_usage_rows(events):
    row = _busy_customer(events)
    data = events.timeline.of_row(row)
    usage = data["usage"]
    table = events.timeline.usage_table()
    measure = table.measures[0]
    raw = _raw(events, table.name, row)
    assert usage["table"] == table.name and usage["measure"] == measure
    assert usage["rows"] == len(raw) > 40                   # a year of weekly rows
    assert sum(usage["y"]) == pytest.approx(float(raw[measure].sum()), rel=1e-4)
    assert len(usage["x"]) == len(set(usage["x"])) and usage["x"] == sorted(usage["x"])
    # One week's rows sum to its bar: the week ending on the scored-at date.
    last_week = raw[raw[ev.TIME] > np.datetime64(data["now"]) - np.timedelta64(7, "D")]
    assert usage["x"][-1] == data["now"]
    assert usage["y"][-1] == pytest.approx(float(last_week[measure].sum()), rel=1e-4)
    assert usage["label"] == "Data gb"                       # the measure, humanised


def test_ticket_markers_carry_the_customers_tickets_and_their_sentiment(events):
    row = _busy_customer(events)
    lane = next(x for x in events.timeline.of_row(row)["lanes"] if x["kind"] == "tickets")
    raw = _raw(events, "tickets", row)
    assert lane["n"] == lane["shown"] == len(raw) >= 3
    assert lane["sentiment"] == [round(float(s), 3) for s in raw[ev.SENTIMENT]]
    assert lane["category"] == [str(k) for k in raw[ev.KIND]]
    assert lane["satisfaction"] == [None if math.isnan(v) else v for v in raw[ev.SATISFACTION]]
    for mood, s in zip(lane["mood"], raw[ev.SENTIMENT]):
        assert mood == ("negative" if s <= -0.05 else "positive" if s >= 0.05 else "neutral")
    for text, full in zip(lane["text"], raw[ev.TEXT]):
        assert len(text) <= timeline_service.TEXT_CHARS and full.startswith(text.rstrip("…"))


def test_other_events_and_plan_changes_have_their_own_lanes(events):
    row = _busy_customer(events)
    lanes = {x["table"]: x for x in events.timeline.of_row(row)["lanes"]}
    assert set(lanes) == {"tickets", "emails", "plan_changes"}   # never the outcome table
    emails = _raw(events, "emails", row)
    assert lanes["emails"]["label"] == "E-mails" and lanes["emails"]["flag_label"] == "opened"
    assert lanes["emails"]["flag"] == [bool(v > 0) for v in emails["opened"]]
    changes = _raw(events, "plan_changes", row)
    assert lanes["plan_changes"]["change"] == [int(c) for c in changes[ev.CHANGE]]
    assert lanes["plan_changes"]["plan"] == [str(p) for p in changes[ev.PLAN]]


def test_one_customers_rows_come_from_an_index_built_once(events, monkeypatch):
    for table in events.analysis.behaviour.tables:
        table.frame                              # the tables in memory
    calls = []
    real = timeline_service._sort_by_customer
    monkeypatch.setattr(timeline_service, "_sort_by_customer",
                        lambda c, n: calls.append(len(c)) or real(c, n))
    fresh = copy.copy(events)                    # the same analysis, a new timeline service
    fresh.timeline = timeline_service.TimelineService(fresh)
    for row in range(5):
        fresh.timeline.of_row(row)
    assert len(calls) == 4                      # one sort per feature table, not per request


def test_warming_builds_the_index_before_the_first_customer_page(events, monkeypatch):
    for table in events.analysis.behaviour.tables:
        table.frame                              # the tables in memory
    expected = events.timeline.of_row(0)
    calls = []
    real = timeline_service._sort_by_customer
    monkeypatch.setattr(timeline_service, "_sort_by_customer",
                        lambda c, n: calls.append(len(c)) or real(c, n))
    fresh = copy.copy(events)
    fresh.timeline = timeline_service.TimelineService(fresh)
    fresh.timeline.warm()                       # what app.py and make serve do at start
    assert len(calls) == 4
    assert fresh.timeline.of_row(0) == expected
    assert len(calls) == 4                      # the page found the index ready


def test_tables_on_disk_are_read_one_customer_at_a_time(events, monkeypatch):
    """The cache keeps the demo's event tables on disk by customer (a warm start's tables):
    the timeline reads the customer's row groups, builds no index and shows the same."""
    b = events.analysis.behaviour
    on_disk = dataclasses.replace(b, tables=[pickle.loads(pickle.dumps(t)) for t in b.tables])
    assert all(t.by_customer_on_disk for t in on_disk.tables)
    calls = []
    monkeypatch.setattr(timeline_service, "_sort_by_customer",
                        lambda c, n: calls.append(len(c)))
    other = copy.copy(events)
    other.analysis = copy.copy(events.analysis)
    other.analysis.behaviour = on_disk
    other.timeline = timeline_service.TimelineService(other)
    other.timeline.warm()
    row = _busy_customer(events)
    assert other.timeline.of_row(row) == events.timeline.of_row(row)
    assert other.timeline.of_row(0) == events.timeline.of_row(0)
    assert calls == [] and not any(t.loaded for t in on_disk.tables)


def test_a_damaged_events_file_is_shown_in_the_card(events, tmp_path, in_app):
    """A table's file on disk damaged after the start: the Customer page says so in the
    activity card; the rest of the page is drawn."""
    from pages import customer as customer_page

    b = events.analysis.behaviour
    tables = [pickle.loads(pickle.dumps(t)) for t in b.tables]
    usage = next(t for t in tables if t.name == "usage")
    data = bytearray(Path(usage.disk.path).read_bytes())
    for at in range(4, int(len(data) * 0.9), 997):   # every page, not the footer
        data[at] ^= 0xFF
    (tmp_path / "usage.parquet").write_bytes(bytes(data))
    usage.disk.path = str(tmp_path / "usage.parquet")
    other = copy.copy(events)
    other.analysis = copy.copy(events.analysis)
    other.analysis.behaviour = dataclasses.replace(b, tables=tables)
    other.timeline = timeline_service.TimelineService(other)
    row = _busy_customer(events)
    t = other.timeline.of_row(row)
    assert "usage.parquet" in t["error"] and t["now"] == b.now
    card = customer_page._timeline({"timeline": t, "active": True})
    note = find(card, customer_page.TIMELINE_NOTE)
    assert "could not be read" in str(note.children) and "usage.parquet" in str(note.children)
    assert find(card, customer_page.TIMELINE_GRAPH) is None


def test_sort_by_customer_slices_each_customers_rows():
    customers = np.array([3, 0, 2, 0, 3, 3, 1], dtype=np.int32)
    order, starts = timeline_service._sort_by_customer(customers, 5)
    assert starts.tolist() == [0, 2, 3, 4, 7, 7]
    for p in range(5):
        rows = order[starts[p]:starts[p + 1]]
        assert rows.tolist() == np.flatnonzero(customers == p).tolist()  # stable
    order, starts = timeline_service._sort_by_customer(np.sort(customers), 5)
    assert order is None and starts.tolist() == [0, 2, 3, 4, 7, 7]  # sorted: no argsort


def test_the_usage_table_is_found_by_shape_not_by_name(events):
    b = events.analysis.behaviour
    renamed = dataclasses.replace(b, tables=[dataclasses.replace(t, name="feature_usage")
                                             if t.name == "usage" else t for t in b.tables])
    other = copy.copy(events)
    other.analysis = copy.copy(events.analysis)
    other.analysis.behaviour = renamed
    other.timeline = timeline_service.TimelineService(other)
    usage = other.timeline.of_row(_busy_customer(events))["usage"]
    assert usage["table"] == "feature_usage" and usage["rows"] > 40


def test_behaviour_in_the_reasons_is_in_words_and_in_the_waterfall(events):
    row = _busy_customer(events)
    reasons = events.timeline.reasons(row)
    meta = events.analysis.feature_meta()
    labels = [item["label"] for item in events.customer.waterfall(row)["items"]]
    record = events.analysis.customers.iloc[row]
    assert reasons, "the busy customer has behaviour among their top reasons"
    for item in reasons:
        assert item["feature"] in meta and item["table"] == meta[item["feature"]].table
        assert item["text"] == meta[item["feature"]].describe(record[item["feature"]])
        assert item["text"] in labels                       # the same words as the waterfall


def test_a_customer_without_activity_gets_an_explained_empty_timeline(events):
    row = _busy_customer(events)
    b = events.analysis.behaviour
    quiet = dataclasses.replace(b, tables=[dataclasses.replace(
        t, frame=t.frame[t.frame[ev.CUSTOMER] != row]) for t in b.tables])
    other = copy.copy(events)
    other.analysis = copy.copy(events.analysis)
    other.analysis.behaviour = quiet
    other.timeline = timeline_service.TimelineService(other)
    data = other.timeline.of_row(row)
    assert data["events"] == 0 and data["usage"]["rows"] == 0
    assert all(lane["n"] == 0 for lane in data["lanes"])
    fig = timeline_chart(data)
    assert "No activity recorded" in fig.layout.annotations[0].text


def test_data_without_event_tables_has_no_timeline(svc, in_app):
    from pages import customer as page

    assert svc.analysis.behaviour is None and not svc.timeline.available()
    assert svc.timeline.of_row(0) is None
    content = page.show_customer(str(svc.ids()[0]))[0]
    assert find(content, page.TIMELINE_GRAPH) is None
    assert find(content, "customer-waterfall-graph") is not None


# ----- the figure ----------------------------------------------------------------------------------
def test_timeline_figure_lanes_colours_and_date_lines(events):
    row = _busy_customer(events)
    data = events.timeline.of_row(row)
    fig = timeline_chart(data)
    go.Figure(fig.to_plotly_json())               # strict validation of the unvalidated build
    assert fig.layout.title.text == "Activity over time"
    names = [t.name for t in fig.data]
    assert names[0] == "Data gb per week" and fig.data[0].type == "bar"
    assert fig.layout.yaxis.title.text == "Data gb per week"
    assert fig.layout.xaxis.title.text == "Date" and fig.layout.xaxis.type == "date"
    tickets = [t for t in fig.data if t.name.startswith("Ticket: ")]
    lane = next(x for x in data["lanes"] if x["kind"] == "tickets")
    assert sum(len(t.x) for t in tickets) == lane["n"]
    for trace in tickets:
        assert trace.marker.color == MOODS[trace.name.split(": ")[1]]
        assert set(trace.y) == {"Tickets"} and trace.yaxis == "y2"
    assert "satisfaction" in tickets[0].customdata[0]
    lines = {s.line.color: s.x0 for s in fig.layout.shapes}
    assert sorted(lines.values()) == [events.analysis.behaviour.as_of,
                                      events.analysis.behaviour.now]
    texts = [a.text for a in fig.layout.annotations]
    assert f"model trained as of {events.analysis.behaviour.as_of}" in texts
    assert f"scored as of {events.analysis.behaviour.now}" in texts
    marks = [t.name for t in fig.data if t.type == "scatter"
             and t.marker.symbol in ("triangle-up", "triangle-down")]
    assert marks and all(n.startswith(("Upgrade", "Downgrade")) for n in marks)
    assert {"E-mail: opened", "E-mail: not opened"} & set(names)


def test_ticket_text_is_escaped_in_the_hover():
    data = {"start": "2019-01-01", "end": "2020-01-01", "as_of": "2019-09-01",
            "now": "2020-01-01", "usage": None, "events": 1,
            "lanes": [{"kind": "tickets", "table": "tickets", "label": "Tickets",
                       "noun": "ticket", "n": 1, "shown": 1, "x": ["2019-10-01 10:00"],
                       "sentiment": [-0.6], "mood": ["negative"], "category": ["Billing"],
                       "satisfaction": [None], "escalated": [True],
                       "text": ["<script>alert(1)</script> my bill & more"]}]}
    fig = timeline_chart(data)
    go.Figure(fig.to_plotly_json())
    hover = fig.data[0].customdata[0]
    assert "<script>" not in hover and "&lt;script&gt;" in hover and "&amp; more" in hover
    assert "escalated" in hover and "no satisfaction score" in hover
    assert fig.data[0].yaxis == "y"                 # no usage: the swimlane is the only plot


# ----- the pages -----------------------------------------------------------------------------------
def test_customer_page_shows_the_timeline_beside_the_reasons(on_events):
    from pages import customer as page

    row = _busy_customer(on_events)
    content = page.show_customer(str(on_events.ids()[row]))[0]
    graph = find(content, page.TIMELINE_GRAPH)
    assert graph is not None and any(t.name.startswith("Ticket") for t in graph.figure.data)
    listed = str(find(content, page.BEHAVIOUR_REASONS))
    assert "Behaviour in the reasons" in listed
    for item in on_events.timeline.reasons(row):
        assert item["text"] in listed
    assert on_events.analysis.behaviour.as_of in str(find(content, page.TIMELINE_NOTE))


def test_data_page_lists_the_linked_tables_with_the_dates_and_the_check(on_events):
    from pages import data as page

    content = page.fill_data_page(0)
    card = find(content, page.LINKED_DIV)
    text = str(card)
    b = on_events.analysis.behaviour
    for t in b.tables:
        assert t.source in text and f"{len(t.frame):,}" in text
    assert "support tickets" in text and "written after leaving — never a feature" in text
    assert b.as_of in text and b.now in text
    assert f"{on_events.analysis.train_rows:,}" in text
    lift = b.lift
    assert f"{lift['auc_with']:.3f}" in text and f"{lift['auc_without']:.3f}" in text
    assert "rows read" in str(content)                       # the quality notes still there


def test_data_page_of_plain_data_has_no_linked_tables(in_app):
    from pages import data as page

    assert find(page.fill_data_page(0), page.LINKED_DIV) is None


def test_linked_tables_warn_prominently_about_few_customers():
    linked = {"tables": [{"name": "usage", "file": "usage.csv", "role": "events",
                          "role_text": "events", "rows": 10, "link": "id → customer",
                          "feature": True}],
              "as_of": "2024-01-01", "now": "2024-04-01", "horizon_days": 90,
              "trained_on": 120, "customer_word": "account", "features_used": 3,
              "features": 9, "warnings": ["only 120 accounts (12 churners) to train on"],
              "lift": None}
    card = linked_tables(linked, "data-linked-tables-div")
    alerts = [c for c in walk(card) if type(c).__name__ == "Alert"]
    assert alerts and "Only 120 accounts" in str(alerts[0]) and alerts[0].color == "warning"
    assert "90 days after the as-of date" in str(card) and "Accounts trained on" in str(card)


def test_model_page_shows_the_behaviour_check_and_marks_behaviour_features(on_events):
    from components.model_charts import BEHAVIOUR, importance_chart
    from pages import model as page

    layout = page.layout()
    text = str(find(layout, page.BEHAVIOUR_DIV))
    lift = on_events.analysis.behaviour.lift
    assert f"{lift['auc_without']:.3f}" in text and f"{lift['auc_with']:.3f}" in text
    assert f"{100 * lift['lift']:+.1f} pts" in text
    assert f"{100 * lift['ci_low']:+.1f} to {100 * lift['ci_high']:+.1f}" in text
    items = on_events.model.view()["importance"]
    meta = on_events.analysis.feature_meta()
    for item in items:
        assert item["table"] == (meta[item["feature"]].table if item["feature"] in meta
                                 else None)
        if item["feature"] in meta:
            assert item["label"] == meta[item["feature"]].label
    fig = importance_chart(items)
    go.Figure(fig.to_plotly_json())
    shown = items[:15][::-1]
    colours = fig.data[0].marker.color
    assert [c == BEHAVIOUR for c in colours] == [bool(i["table"]) for i in shown]
    assert BEHAVIOUR in colours and "behaviour" in fig.layout.title.text


def test_the_check_says_no_measurable_lift_when_the_interval_includes_zero():
    lift = {"auc_with": 0.801, "auc_without": 0.799, "lift": 0.002, "ci_low": -0.004,
            "ci_high": 0.008, "n_rows": 900,
            "verdict": "no measurable lift from behaviour: out-of-fold ROC-AUC 0.801 with it"}
    text = str(behaviour_check(lift, "model-behaviour-check-div"))
    assert "No measurable lift" in text and "+0.2 pts" in text and "-0.4 to +0.8" in text
    lift.update(ci_low=0.001)
    assert "Measurable lift" in str(behaviour_check(lift, "model-behaviour-check-div"))
    assert "did not run" in str(behaviour_check(None, "model-behaviour-check-div"))


def test_model_page_of_plain_data_has_no_behaviour_check(in_app):
    from pages import model as page

    assert find(page.layout(), page.BEHAVIOUR_DIV) is None


def test_score_form_leaves_behaviour_out_and_scores_it_as_typical_behaviour(on_events):
    from analytics.scoring import validate_records
    from pages import score as page

    a = on_events.analysis
    meta = a.feature_meta()
    used = [f for f in a.features if f in meta]
    spec = on_events.score.spec()
    assert used and not {f["feature"] for f in spec} & set(meta)
    assert {f["feature"] for f in spec} == set(a.features) - set(meta)
    note = on_events.score.behaviour_note()
    assert note["n"] == len(used) and set(note["tables"]) == {meta[f].table for f in used}
    layout = page.layout()
    assert f"Behaviour features ({len(used)}, from" in str(find(layout, page.BEHAVIOUR_NOTE))
    record = {f["feature"]: f["default"] for f in spec}
    result = page.score(list(record.values()), [{"type": page.FIELD, "feature": f}
                                                for f in record])
    assert find(result, "score-probability-text") is not None   # scored, not refused
    frame = validate_records(record, a)
    active = a.customers["active"].to_numpy(dtype=bool)
    for f in used:
        expected = np.nanmedian(a.customers.loc[active, f].to_numpy(dtype=float))
        assert frame[f].iloc[0] == pytest.approx(expected)
    # The API still takes them when given: a real customer's behaviour changes the score.
    row = _busy_customer(on_events)
    history = {f: float(a.customers[f].iloc[row]) for f in used}
    given = {**record, **{f: v for f, v in history.items() if math.isfinite(v)}}
    with_history = on_events.score.score(given)["churn_probability"]
    without = on_events.score.score(record)["churn_probability"]
    assert with_history != without


def test_plain_data_score_form_has_no_behaviour_note(in_app, svc):
    from pages import score as page

    assert svc.score.behaviour_note() is None
    assert find(page.layout(), page.BEHAVIOUR_NOTE) is None


def test_warming_a_customer_page_reads_the_shap_values_and_the_id_index(events):
    fresh = copy.copy(events)
    fresh.customer = type(events.customer)(fresh)
    fresh.customer.warm()
    assert fresh.customer._index_of is fresh.analysis
    assert "shap_values" in fresh.analysis.__dict__
