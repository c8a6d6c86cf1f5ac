"""The Behaviour page on the demo with events: the early-warning list (checked against the raw
feature arrays), its exports, the "why they said they left" panel; and its empty states on
data without event tables, without an outcome table, and when nobody matches."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from urllib.parse import parse_qs, urlparse

import flask
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from components.behaviour_panels import (reasons_chart, sentiment_chart, warning_columns,
                                         why_left_panel, words_chart)
from dashboard import create_app, ids
from dashboard.downloads import register_downloads
from dashboard.services import CONFIG_KEY, Services
from dashboard.services.behaviour import STOP_WORDS
from dashboard.settings import Settings
from tests.ui.conftest import DEMO_SIZE, find, walk

USAGE = "usage_change_30d"
SENTIMENT = "tickets_sentiment_change"
HOSTILE = '=HYPERLINK("http://x","y")'


@pytest.fixture(scope="module")
def events_app(tmp_path_factory):
    """An app on the demo with behaviour (usage, tickets, e-mails, plan changes and the
    leavers' feedback), its own cache."""
    cache = tmp_path_factory.mktemp("behaviour-cache")
    return create_app(Settings(demo_size=DEMO_SIZE, demo_events=True, cache_dir=str(cache)),
                      progress=lambda m: None)


@pytest.fixture(scope="module")
def bsvc(events_app) -> Services:
    return events_app.server.config[CONFIG_KEY]


@pytest.fixture
def ctx(events_app):
    with events_app.server.test_request_context():
        yield events_app


@pytest.fixture(scope="module", autouse=True)
def _page(events_app):
    global page
    from pages import behaviour as page


def _ids(svc, rows) -> list[str]:
    return [str(i) for i in svc.analysis.customers["customer_id"].to_numpy()[rows]]


def _active(svc) -> np.ndarray:
    return svc.analysis.customers["active"].to_numpy(dtype=bool)


def _state(href: str) -> dict:
    return json.loads(parse_qs(urlparse(href).query)["state"][0])


def _read_csv(body: str) -> tuple[str, list[str], list[dict]]:
    lines = list(csv.reader(io.StringIO(body)))
    return lines[0][0], lines[1], [dict(zip(lines[1], line)) for line in lines[2:]]


# ----- the list ---------------------------------------------------------------------------


def test_the_rules_read_the_usage_and_ticket_tables(bsvc):
    info = bsvc.behaviour.info()
    assert info["events"] and info["usage"]["table"] == "usage"  # measures, most rows
    assert info["usage"]["change"] == USAGE
    assert info["usage"]["measures"] == ["data_gb", "call_minutes", "dropped_calls"]
    assert info["usage"]["periodic"] and info["usage"]["per"] == " a week"   # usage weeks
    assert info["sentiment"]["change"] == SENTIMENT
    assert info["sentiment"]["negative"] == "tickets_negative_30d"
    assert info["outcome"]["table"] == "churn_feedback"


@pytest.mark.parametrize("share", [0.05, 0.1, 0.2, 0.3])
def test_the_usage_rule_lists_exactly_the_active_customers_whose_usage_fell(bsvc, share):
    change = bsvc.analysis.customers[USAGE].to_numpy()
    expected = np.flatnonzero((change <= -share) & _active(bsvc))
    view = bsvc.behaviour.early_warning({}, drop=share, rules=["usage"], limit=10 ** 6)
    assert view["n"] == len(expected) == len(view["rows"])
    assert {r["customer_id"] for r in view["rows"]} == set(_ids(bsvc, expected))
    assert {r["status"] for r in view["rows"]} <= {"active"}
    risks = [r["churn_probability"] for r in view["rows"]]
    assert risks == sorted(risks, reverse=True)
    assert all(r["usage_change_30d"] <= -share + 1e-4 for r in view["rows"])


def test_the_before_and_after_numbers_are_the_windows_the_features_compare(bsvc):
    frame = bsvc.analysis.customers
    before, after, measure = bsvc.behaviour._usage()
    change = frame[USAGE].to_numpy()
    known = np.isfinite(change)
    assert known.sum() > 100
    assert np.allclose((after - before)[known] / np.abs(before[known]), change[known],
                       atol=1e-5)
    # A level per usage week, of the first measure a customer has.
    assert set(measure) <= {"data GB", "call minutes", "dropped calls"}
    assert "data GB" in set(measure[known])
    s_before, s_after = bsvc.behaviour._sentiment()
    moved = frame[SENTIMENT].to_numpy()
    assert np.allclose((s_after - s_before)[np.isfinite(moved)], moved[np.isfinite(moved)],
                       atol=1e-5)


def test_the_usage_levels_are_the_weekly_means_of_the_usage_table(bsvc):
    """Checked against the usage table itself (pandas): the level of the first measure in
    the last 30 days and the 30 before, per usage week, at now (active) or the as-of date."""
    b = bsvc.analysis.behaviour
    usage = b.table("usage")
    frame, measure = usage.frame, usage.measures[0]
    ref = np.where(_active(bsvc), np.datetime64(b.now, "ns"), np.datetime64(b.as_of, "ns"))
    customer = frame["customer"].to_numpy()
    age = (ref[customer] - frame["time"].to_numpy()) / np.timedelta64(1, "D")
    value = frame[measure].fillna(0.0).to_numpy()
    before, after, which = bsvc.behaviour._usage()
    first = np.flatnonzero(which == "data GB")
    assert len(first) > 100
    for lo, hi, shown in ((0, 30, after), (30, 60, before)):
        hit = (age > lo) & (age <= hi)
        mean = pd.Series(value[hit]).groupby(customer[hit]).mean()
        rows = np.intersect1d(first, mean.index.to_numpy())
        assert len(rows) > 100
        assert np.allclose(shown[rows], mean.loc[rows].to_numpy(), rtol=1e-5, atol=1e-4)


def test_the_sentiment_rule_needs_a_fall_and_a_negative_last_30_days(bsvc):
    """Checked against the ticket table itself (pandas, not the service's numpy)."""
    b, frame = bsvc.analysis.behaviour, bsvc.analysis.customers
    tickets = b.table("tickets").frame
    ref = np.where(_active(bsvc), np.datetime64(b.now, "ns"), np.datetime64(b.as_of, "ns"))
    age = pd.Series(ref[tickets["customer"].to_numpy()]) - tickets["time"].reset_index(drop=True)
    recent = (age > pd.Timedelta(0)) & (age <= pd.Timedelta(days=30))
    mean30 = tickets["sentiment"].reset_index(drop=True)[recent.to_numpy()].groupby(
        tickets["customer"].to_numpy()[recent.to_numpy()]).mean()
    negative = np.zeros(len(frame), dtype=bool)
    negative[mean30.index.to_numpy()] = mean30.to_numpy() <= -0.05
    for threshold in (-0.1, -0.2, -0.5):
        expected = np.flatnonzero((frame[SENTIMENT].to_numpy() < threshold) & negative
                                  & _active(bsvc))
        rows = bsvc.behaviour.matches({}, sentiment=threshold, rules=["sentiment"])
        assert sorted(rows) == sorted(expected)
    assert len(bsvc.behaviour.matches({}, sentiment=-0.1, rules=["sentiment"])) > 0


def test_thresholds_change_the_count_monotonically(bsvc):
    svc = bsvc.behaviour
    usage = [svc.early_warning({}, drop=d, rules=["usage"])["n"]
             for d in (0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.9)]
    assert usage == sorted(usage, reverse=True) and usage[0] > usage[-1]
    talk = [svc.early_warning({}, sentiment=s, rules=["sentiment"])["n"]
            for s in (-0.05, -0.1, -0.2, -0.4, -0.8)]
    assert talk == sorted(talk, reverse=True) and talk[0] > talk[-1]
    both = svc.early_warning({}, drop=0.1, sentiment=-0.2)["n"]
    alone = (svc.early_warning({}, drop=0.1, rules=["usage"])["n"],
             svc.early_warning({}, sentiment=-0.2, rules=["sentiment"])["n"])
    assert max(alone) <= both <= sum(alone)


def test_active_only_unless_everyone_and_the_filters_apply(bsvc):
    svc = bsvc.behaviour
    change = bsvc.analysis.customers[USAGE].to_numpy()
    fell = change <= -0.1
    everyone = svc.early_warning({ids.EVERYONE: True}, drop=0.1, rules=["usage"],
                                 limit=10 ** 6)
    assert everyone["n"] == int(fell.sum()) > svc.early_warning({}, drop=0.1,
                                                                rules=["usage"])["n"]
    assert "churned" in {r["status"] for r in everyone["rows"]}
    assert everyone["title"].startswith("customers (with those who left) whose usage")
    contract = bsvc.analysis.customers["Contract"].to_numpy()
    only = {"Contract": ["Month-to-month"]}
    view = svc.early_warning(only, drop=0.1, rules=["usage"], limit=10 ** 6)
    expected = fell & _active(bsvc) & (contract == "Month-to-month")
    assert view["n"] == int(expected.sum()) > 0
    assert {r["customer_id"] for r in view["rows"]} == set(_ids(bsvc, np.flatnonzero(expected)))


def test_the_browser_gets_the_riskiest_rows_and_the_count_of_all(bsvc):
    svc = bsvc.behaviour
    full = svc.early_warning({}, drop=0.05, limit=10 ** 6)
    top = svc.early_warning({}, drop=0.05, limit=5)
    assert full["n"] == top["n"] > 5 and len(top["rows"]) == 5
    assert [r["customer_id"] for r in top["rows"]] == \
        [r["customer_id"] for r in full["rows"][:5]]
    first = top["rows"][0]
    assert first["reason_1"].endswith(" pts") and first["risk_tier"] in ("High", "Medium",
                                                                        "Low")
    json.dumps(full, allow_nan=False)  # JSON-safe: blanks are None, never NaN


def test_the_list_callback(ctx, bsvc):
    rows, count, title, note, csv_href, xlsx_href, style, empty = page.update_list(
        {}, True, 10, True, 0.2)
    n = bsvc.behaviour.early_warning({}, drop=0.1, sentiment=-0.2)["n"]
    assert count == f"{n:,}" and len(rows) == n and empty is None and style is None
    assert title == ("active customers whose usage fell by 10% or more in the last 30 days, "
                     "or whose tickets turned negative")
    assert "click a row" in note
    assert csv_href.startswith("/export/early-warning/csv?state=")
    assert xlsx_href.startswith("/export/early-warning/xlsx?state=")
    assert _state(csv_href) == {"filters": {}, "drop": 0.1, "sentiment": -0.2,
                                "rules": ["usage", "sentiment"]}
    json.dumps(rows, allow_nan=False)
    # No rule ticked, and no customer matching: an empty state, the grid hidden.
    out = page.update_list({}, False, 30, False, 0.2)
    assert out[0] == [] and out[6] == {"display": "none"} and "Tick" in str(out[7])
    out = page.update_list({"tier": ["Low"]}, True, 90, False, 0.2)
    assert out[1] == "0" and out[6] == {"display": "none"}
    assert out[2] == "active customers whose usage fell by 90% or more in the last 30 days"
    assert "Nobody in this selection matches" in str(out[7])
    assert page.open_customer({"rowId": "12 3/4"}) == "/customer/12%203%2F4"


def test_the_layout_builds_with_no_arguments(ctx, bsvc):
    layout = page.layout()
    for cid in (page.USAGE_SLIDER, page.SENTIMENT_SLIDER, page.USAGE_CHECK, page.GRID,
                page.CSV_LINK, page.WHY_DIV, page.COUNT_TEXT):
        assert find(layout, cid) is not None, cid
    assert find(layout, page.CONTENT_DIV).style is None
    assert find(layout, page.NO_EVENTS_DIV).children is None
    headers = [c["headerName"] for c in find(layout, page.GRID).columnDefs]
    assert "Usage change, 30 days" in headers
    assert "Usage a week: 30 days before → last 30" in headers


# ----- exports ----------------------------------------------------------------------------


def test_exports_hold_every_match_with_the_right_columns(events_app, bsvc):
    client = events_app.server.test_client()
    with events_app.server.test_request_context():
        _, _, _, _, href, xlsx, _, _ = page.update_list({}, True, 5, True, 0.1)
        rows, n = bsvc.behaviour.ranked({}, None, drop=0.05, sentiment=-0.1,
                                        rules=["usage", "sentiment"])
    response = client.get(href)
    assert response.status_code == 200
    assert "churnlens-early-warning-" in response.headers["Content-Disposition"]
    note, header, data = _read_csv(response.get_data(as_text=True))
    assert note.startswith("ChurnLens early-warning list") and f"{n:,} customers" in note
    assert header == ["customer_id", "churn_probability", "risk_tier", "status", "segment",
                      "usage_change_30d", "usage_previous_30d", "usage_last_30d",
                      "usage_measure", "sentiment_previous_60d", "sentiment_last_30d",
                      "negative_30d", "reason_1", "reason_2", "reason_3"]
    assert [r["customer_id"] for r in data] == _ids(bsvc, rows) and len(data) == n > 0
    risks = [float(r["churn_probability"]) for r in data]
    assert risks == sorted(risks, reverse=True)
    from openpyxl import load_workbook
    response = client.get(xlsx)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    values = list(sheet.values)
    assert list(values[1]) == header and len(values) - 2 == n


@pytest.mark.parametrize("state, status", [
    ('{"drop": 5}', 400), ('{"rules": ["nope"]}', 400), ('{"sentiment": 0.5}', 400),
    ('{"filters": {"nope": ["x"]}}', 400), ('{"extra": 1}', 400), ('{"drop": NaN}', 400),
    ("[1]", 400), ("{", 400)])
def test_bad_export_requests_get_a_short_400(events_app, state, status):
    response = events_app.server.test_client().get("/export/early-warning/csv",
                                                   query_string={"state": state})
    assert response.status_code == status
    assert "Traceback" not in response.get_data(as_text=True)


def test_an_unknown_format_is_404(events_app):
    assert events_app.server.test_client().get("/export/early-warning/pdf").status_code == 404


def test_exports_neutralise_formula_looking_ids(bsvc):
    """A copy of the analysis with a matched customer's id made a spreadsheet formula."""
    a = bsvc.analysis
    row = int(bsvc.behaviour.matches({}, drop=0.05)[0])
    customers = a.customers.copy()
    customers["customer_id"] = customers["customer_id"].astype(object)
    customers.loc[row, "customer_id"] = HOSTILE
    ids_ = a.behaviour.ids.copy().astype(object)
    ids_[row] = HOSTILE
    services = Services(Settings(cache_dir=None))
    services.analysis = replace(a, customers=customers,
                                behaviour=replace(a.behaviour, ids=ids_))
    server = flask.Flask("hostile")
    register_downloads(server, services)
    client = server.test_client()
    state = json.dumps({"drop": 0.05, "rules": ["usage"]})
    body = client.get("/export/early-warning/csv", query_string={"state": state})
    _, _, data = _read_csv(body.get_data(as_text=True))
    exported = [r["customer_id"] for r in data]
    assert "'" + HOSTILE in exported and HOSTILE not in exported
    from openpyxl import load_workbook
    book = client.get("/export/early-warning/xlsx", query_string={"state": state})
    cells = [r[0] for r in list(load_workbook(io.BytesIO(book.get_data())).active.values)[2:]]
    assert "'" + HOSTILE in cells and HOSTILE not in cells


# ----- why they said they left -------------------------------------------------------------


@pytest.mark.parametrize("filters", [{}, {"Contract": ["Month-to-month"]}, {"tier": ["High"]},
                                     {ids.EVERYONE: True}])
def test_why_left_counts_each_leaver_with_feedback_once(bsvc, filters):
    data = bsvc.behaviour.why_left(filters)
    frame = bsvc.analysis.customers
    left = bsvc.mask(filters) & ~_active(bsvc)
    feedback = bsvc.analysis.behaviour.table("churn_feedback").frame
    wrote = {int(c) for c in feedback["customer"] if left[int(c)]}
    assert data["n_leavers"] == int(left.sum())
    assert sum(r["n"] for r in data["reasons"]) == data["n_feedback"] == len(wrote) > 0
    assert abs(sum(r["share"] for r in data["reasons"]) - 1) < 1e-9
    assert [r["n"] for r in data["reasons"]] == sorted((r["n"] for r in data["reasons"]),
                                                       reverse=True)
    words = [w["word"] for w in data["words"]]
    assert 0 < len(words) <= 15 and all(w == w.lower() and len(w) >= 3 for w in words)
    assert not set(words) & STOP_WORDS
    assert all(0 < w["n"] <= data["n_text"] for w in data["words"])
    segments = {r["segment"] for r in data["segments"]}
    assert segments <= set(frame.loc[list(wrote), "segment"].astype(str))
    assert sum(r["n"] for r in data["segments"]) <= data["n_feedback"]
    assert all(-1 <= r["mean"] <= 1 for r in data["segments"])
    json.dumps(data, allow_nan=False)


def test_the_why_left_callback_draws_three_charts(ctx):
    panel = page.update_why({})
    for graph_id in page.WHY_GRAPHS:
        graph = find(panel, graph_id)
        assert graph is not None and graph.figure.data, graph_id
    texts = " ".join(c for c in walk(panel) if isinstance(c, str))
    assert "gave feedback (churn_feedback.csv)" in texts


def test_without_an_outcome_table_the_panel_says_so(bsvc):
    a = bsvc.analysis
    services = Services(Settings(cache_dir=None))
    services.analysis = replace(a, behaviour=replace(
        a.behaviour, tables=[t for t in a.behaviour.tables if t.role != "outcome"]))
    assert services.behaviour.info()["outcome"] is None
    assert services.behaviour.early_warning({}, drop=0.1)["n"] > 0  # the list still works
    panel = why_left_panel(services.behaviour.why_left({}), page.WHY_GRAPHS, "customers")
    assert "no feedback written by leavers" in " ".join(
        c for c in walk(panel) if isinstance(c, str))


def test_without_event_tables_the_page_explains_what_to_add(app, in_app, client):
    svc = app.server.config[CONFIG_KEY]
    assert svc.analysis.behaviour is None and svc.behaviour.info()["events"] is False
    layout = page.layout()
    assert find(layout, page.CONTENT_DIV).style == {"display": "none"}
    text = " ".join(c for c in walk(find(layout, page.NO_EVENTS_DIV)) if isinstance(c, str))
    assert "no behaviour over time" in text and "README.md" in text and "outcome" in text
    assert page.update_list({}, True, 30, True, 0.2)[0] == []       # no error, nobody listed
    assert svc.behaviour.why_left({}) == {"available": False}
    response = client.get("/export/early-warning/csv")
    assert response.status_code == 200                               # the header only
    assert len(list(csv.reader(io.StringIO(response.get_data(as_text=True))))) == 2


# ----- pure builders ------------------------------------------------------------------------


def test_the_builders_validate_and_explain_blank_charts():
    reasons = [{"reason": "Price", "n": 3, "share": 0.6}, {"reason": "Moved", "n": 2,
                                                          "share": 0.4}]
    figures = [reasons_chart(reasons, 5), words_chart([{"word": "price", "n": 2,
                                                        "share": 0.4}], 5),
               sentiment_chart([{"segment": "Loyal", "mean": -0.3, "n": 4},
                                {"segment": "New", "mean": 0.2, "n": 1}]),
               reasons_chart([], 0), words_chart([], 0), sentiment_chart([])]
    for fig in figures:
        go.Figure(fig.to_plotly_json())  # raises on any invalid property
    assert list(figures[0].data[0].x) == [60.0, 40.0]
    assert "5 leavers with feedback" in figures[0].layout.xaxis.title.text
    assert figures[2].data[0].marker.color[0] != figures[2].data[0].marker.color[1]
    assert figures[3].layout.annotations[0].text == "No reason codes in this selection"
    fields = [c.get("field") or c.get("colId") for c in warning_columns({})]
    assert fields[:3] == ["customer_id", "churn_probability", "risk_tier"]
    assert "usage_change" not in fields
