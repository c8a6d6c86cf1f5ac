"""The Trends page on two snapshots of the same demo customers (an earlier refresh with some
scores and one input changed, then the data in service): the risers checked against the two
probability arrays, the into-High count, the drift table, the risers export; and the
one-snapshot and store-unavailable states."""

from __future__ import annotations

import copy
import csv
import io
from urllib.parse import parse_qs, urlparse

import numpy as np
import plotly.graph_objects as go
import pytest
from dash import html

from analytics.campaigns.snapshots import take_snapshot
from analytics.campaigns.store import CampaignStore
from analytics.kpis import assign_tiers
from components.trend_charts import (churn_chart, day, drift_table, refresh_labels, revenue_chart,
                                     risers_columns, risk_mix_chart)
from dashboard import create_app
from dashboard.services import CONFIG_KEY, Services
from dashboard.settings import Settings
from tests.ui.conftest import DEMO_SIZE, find, walk

SHIFTED = "MonthlyCharges"   # the input the earlier refresh had different (drift)
SHIFTED_LABEL = "Monthly charges"


def _settings(folder, db: str) -> Settings:
    return Settings(demo_size=DEMO_SIZE, demo_events=False, cache_dir=str(folder / "cache"),
                    db_url=f"sqlite:///{folder / db}", demo_campaign=False)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("trends")


@pytest.fixture(scope="module")
def single(folder) -> Services:
    """The demo in service with its own store: one snapshot."""
    return Services(_settings(folder, "one.db")).start(progress=lambda m: None)


@pytest.fixture(scope="module")
def earlier(single, folder) -> dict:
    """An earlier refresh of the same customers in a second store: 150 scored 20 points
    lower, 150 five points lower, 150 ten points higher, and one input 60% higher."""
    analysis = copy.copy(single.analysis)
    customers = analysis.customers.copy()
    now = customers["churn_probability"].to_numpy(dtype=float)
    before = now.copy()
    groups = np.random.default_rng(7).permutation(len(now))[:450].reshape(3, 150)
    before[groups[0]] -= 0.20
    before[groups[1]] -= 0.05
    before[groups[2]] += 0.10
    before = np.clip(before, 0.0, 1.0)
    s = analysis.settings
    customers["churn_probability"] = before
    customers["risk_tier"] = assign_tiers(before, s.tier_high, s.tier_medium)
    customers[SHIFTED] = customers[SHIFTED] * 1.6
    analysis.customers = customers
    store = CampaignStore.open(f"sqlite:///{folder / 'two.db'}")
    take_snapshot(store, analysis, "earlier-refresh", "customers-january.csv")
    return {"before": before, "before_tier": np.asarray(customers["risk_tier"], dtype=str)}


@pytest.fixture(scope="module")
def app(earlier, folder):
    """The app on the same data and cache over the second store: its start stores the
    current snapshot after the earlier one."""
    return create_app(_settings(folder, "two.db"), progress=lambda m: None)


@pytest.fixture
def svc(app) -> Services:
    with app.server.test_request_context():
        yield app.server.config[CONFIG_KEY]


@pytest.fixture(scope="module", autouse=True)
def _page(app):
    global page
    from pages import trends as page


def _expected(svc, earlier, min_rise: float) -> tuple[int, int]:
    """Risers by hand: the scores as stored (float32), rise >= min_rise or into High."""
    c = svc.analysis.customers
    after = c["churn_probability"].to_numpy(dtype=np.float32).astype(float)
    before = earlier["before"].astype(np.float32).astype(float)
    into_high = (c["risk_tier"].astype(str).to_numpy() == "High") & \
        (earlier["before_tier"] != "High")
    keep = (after - before >= min_rise - 1e-9) | into_high
    return int(keep.sum()), int(into_high.sum())


def _strong(component) -> list[str]:
    return [c.children for c in walk(component) if isinstance(c, html.Strong)]


def texts(component) -> str:
    return " ".join(str(c) for c in walk(component) if isinstance(c, str))


def test_layout_builds_with_no_arguments(svc):
    layout = page.layout()
    for cid in (page.RISE_INPUT, page.RISERS_GRID, page.CHURN_GRAPH, page.MIX_GRAPH,
                page.REVENUE_GRAPH, page.DRIFT_DIV, page.CSV_LINK):
        assert find(layout, cid) is not None, cid
    assert find(layout, page.RISE_INPUT).value == page.DEFAULT_RISE


def test_history_draws_both_refreshes(svc):
    notice, change, churn, mix, revenue, style = page.show_history(0)
    items = svc.trends.history()["snapshots"]
    assert len(items) == 2 and notice is None and style is None
    assert items[0]["data_version"] == "earlier-refresh"
    assert len(churn.data[1].y) == 2
    assert churn.data[1].y[1] == pytest.approx(100 * items[1]["summary"]["mean_probability"])
    high = next(t for t in mix.data if t.name == "High")
    assert list(high.y) == [s["summary"]["tiers"]["High"] for s in items]
    assert high.marker.color == "#d9485f"
    assert revenue.data[0].y[1] == pytest.approx(items[1]["summary"]["revenue_at_risk"])
    assert "High tier" in texts(change)


@pytest.mark.parametrize("points", [10, 3])
def test_risers_match_the_two_probability_arrays(svc, earlier, points):
    n, into_high = _expected(svc, earlier, points / 100)
    count, rows, style, empty, note, csv_href, xlsx_href, *_ = page.show_risers(points)
    assert _strong(count) == [f"{n:,}", f"{into_high:,}"]
    assert 0 < into_high < n and style is None and empty is None
    assert len(rows) == min(n, 200)
    rises = [r["rise"] for r in rows]
    assert rises == sorted(rises, reverse=True)
    assert all(r["rise"] >= points / 100 - 1e-6 or r["crossed_into_high"] for r in rows)
    assert parse_qs(urlparse(csv_href).query) == {"min_rise": [str(points / 100)]}
    assert urlparse(xlsx_href).path == "/export/risers/xlsx"
    assert "exports hold all" in note or n <= 200


def test_a_forged_or_empty_rise_falls_back_to_the_default(svc, earlier):
    n, _ = _expected(svc, earlier, page.DEFAULT_RISE / 100)
    for value in (None, "x", float("nan"), True):
        assert _strong(page.show_risers(value)[0])[0] == f"{n:,}"


def test_no_riser_above_a_full_rise_but_those_into_high(svc, earlier):
    n, into_high = _expected(svc, earlier, 1.0)
    assert n == into_high
    assert _strong(page.show_risers(100)[0]) == [f"{n:,}", f"{into_high:,}"]


def test_drift_table_names_the_shifted_input(svc):
    panel = page.show_drift(0)
    table = find(panel, page.DRIFT_TABLE)
    rows = table.children[1].children
    assert 1 <= len(rows) <= page.DRIFT_SHOWN
    first = rows[0].children
    assert first[0].children == SHIFTED_LABEL
    assert first[2].children.children == "large"
    expected = svc.trends.drift()[0]
    assert expected["feature"] == SHIFTED and first[1].children == f"{expected['psi']:.3f}"
    assert "population stability index" in texts(panel)


def test_the_export_holds_every_riser_with_a_note_line(app, svc, earlier):
    n, _ = _expected(svc, earlier, 0.1)
    response = app.server.test_client().get("/export/risers/csv?min_rise=0.1")
    assert response.status_code == 200
    lines = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert lines[0][0].startswith("ChurnLens risers: churn risk up by at least 10 points")
    assert lines[1] == ["customer_id", "before", "after", "rise", "tier_before", "tier_after",
                        "crossed_into_high"]
    assert len(lines) - 2 == n


def test_a_customer_row_opens_the_customer_page(svc):
    assert page.open_customer({"rowId": "A 1/2"}) == "/customer/A%201%2F2"


def test_one_snapshot_shows_its_figures_and_says_how_to_get_more(single):
    one = create_app(single.settings, services=single)
    with one.server.test_request_context():
        notice, change, churn, mix, _, style = page.show_history(0)
        count, rows, grid_style, empty, *_, csv_class, _ = page.show_risers(10)
        drift = page.show_drift(0)
    first = single.trends.history()["snapshots"][0]
    assert style is None and change is None and count == ""
    assert "--data NEW_FILE" in texts(notice)
    assert f"first snapshot was taken on {day(first['taken_at'])}" in texts(notice)
    assert len(churn.data[-1].y) == 1
    assert sum(t.y[0] for t in mix.data) == first["summary"]["active"]
    assert rows == [] and grid_style == page.HIDDEN and "disabled" in csv_class
    assert "No earlier snapshot" in texts(empty)
    assert "No drift to show yet" in texts(drift)
    response = one.server.test_client().get("/export/risers/csv?min_rise=0.1")
    assert response.status_code == 404 and "only one snapshot" in response.get_data(True)


def test_an_unavailable_store_is_shown_in_the_page(folder):
    (folder / "a-file").write_text("not a folder")
    broken = Settings(demo_size=DEMO_SIZE, demo_events=False, cache_dir=str(folder / "cache"),
                      db_url=f"sqlite:///{folder / 'a-file' / 'x.db'}", demo_campaign=False)
    services = Services(broken).start(progress=lambda m: None)
    error = services.trends.history()["error"]
    assert error
    app = create_app(broken, services=services)
    with app.server.test_request_context():
        notice, *_, style = page.show_history(0)
        risers_empty = page.show_risers(10)[3]
        drift = page.show_drift(0)
    assert style == page.HIDDEN
    for panel in (notice, risers_empty, drift):
        assert error in texts(panel)


def test_figure_builders_make_valid_figures():
    items = [{"id": i, "taken_at": f"2025-0{i}-01T09:00:00", "as_of": None, "source": "x",
              "summary": {"customers": 100, "active": 80, "churn_rate": 0.2,
                          "mean_probability": 0.1 * i, "revenue_at_risk": None if i == 1
                          else 500.0, "tiers": {"Low": 50, "Medium": 20, "High": 10}}}
             for i in (1, 2)]
    for figure in (churn_chart(items), risk_mix_chart(items, "accounts"),
                   revenue_chart(items, "CHF"), churn_chart([]), revenue_chart(items[:1])):
        go.Figure(figure.to_dict())  # validates every property
    assert refresh_labels(items + [dict(items[1], id=3)])[2].endswith("(#3)")
    assert revenue_chart(items, "CHF").layout.yaxis.tickprefix == "CHF "
    assert "no monthly revenue" in revenue_chart(items[:1]).layout.annotations[0].text
    assert [c.get("field") for c in risers_columns()][0] == "customer_id"
    table = drift_table([{"label": "Tenure", "psi": 0.3, "level": "large"}], "x-y-table")
    assert table.children[1].children[0].children[2].children.color == "danger"


def test_the_rules_card_shows_the_file_and_a_dry_run(tmp_path_factory):
    from components.rules_panel import preview_list, rules_list
    from dashboard.services import Services
    folder = tmp_path_factory.mktemp("rules-card")
    rules = folder / "rules.toml"
    rules.write_text('[settings]\noutbox_dir = "box"\n[[rules]]\nname = "high"\n'
                     'campaign = "High desk"\n[rules.when]\ntier = ["High"]\n')
    svc = Services(Settings(demo_size=1500, demo_events=False, cache_dir=str(folder / "c"),
                            rules_path=str(rules), demo_campaign=False)).start(
        progress=lambda m: None)
    view = svc.trends.rules_view()
    assert view["configured"] and view["rules"][0]["when"] == {"tier": ["High"]}
    assert "risk tier High" in str(rules_list(view))
    assert view["batches"] and str(folder) not in str(view)  # the start ran the rule
    preview = svc.trends.rules_preview()
    assert "already ran on this data" in preview["results"][0]["skipped"]
    assert "already ran" in str(preview_list(preview))
    empty = Services(Settings(demo_size=1500, demo_events=False, cache_dir=str(folder / "c"),
                              demo_campaign=False))
    assert empty.trends.rules_view() == {"configured": False}


def test_drift_is_listed_per_refresh():
    from components.trend_charts import drift_by_refresh
    rows = [{"taken_at": "2026-03-01T10:00:00", "as_of": None, "large": 1, "moderate": 2,
             "top": {"label": "Monthly charges", "psi": 0.31, "level": "large"}},
            {"taken_at": "2026-02-01T10:00:00", "as_of": None, "large": 0, "moderate": 0,
             "top": {"label": "Tenure", "psi": 0.01, "level": "ok"}}]
    text = str(drift_by_refresh(rows))
    assert "1 large, 2 moderate; most: Monthly charges (PSI 0.31)" in text
    assert "0 large, 0 moderate" in text
    assert drift_by_refresh(rows[:1]) is None  # one comparison: the table says it all
