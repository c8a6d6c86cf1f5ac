"""The Segments page's callbacks and figure builders."""

from __future__ import annotations

import re

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
import pytest
from dash import dcc, no_update

from components.segment_charts import (PALETTE, money, risk_value_scatter, segment_churn_chart,
                                       segment_colours, silhouette_chart, survival_chart,
                                       tier_heatmap)
from dashboard.services import CONFIG_KEY
from tests.ui.conftest import DEMO_SIZE, call_with_trigger, find, walk


@pytest.fixture(scope="module", autouse=True)
def _pages(app):
    global segments_page
    from pages import segments as segments_page


def _text(component) -> str:
    """Every string in a layout tree, joined (what a reader sees, plus tooltips)."""
    return " ".join(c for c in walk(component) if isinstance(c, str))


def _dot_colours(component) -> list[str]:
    """Background colours of the segment dots, in order."""
    return [c.style["background"] for c in walk(component)
            if "segment-dot" in (getattr(c, "className", "") or "")]


def test_segments_view_adds_up(in_app):
    svc = in_app.server.config[CONFIG_KEY]
    view = svc.segments.view({})
    sizes = [s["n"] for s in view["segments"]]
    assert sum(sizes) == DEMO_SIZE
    assert sum(map(sum, view["heat"]["counts"])) == DEMO_SIZE
    names = [s["name"] for s in view["segments"]]
    assert len(set(names)) == len(names) and view["k"] == len(names) or view["k"] == 1
    assert view["overall"]["n"] == DEMO_SIZE
    assert view["overall"]["rate"] == pytest.approx(
        sum(s["churned"] for s in view["segments"]) / DEMO_SIZE)
    # With a filter, every number describes the selection only.
    chosen = svc.segments.view({"tier": ["High"]})
    assert sum(s["n"] for s in chosen["segments"]) == int(svc.mask({"tier": ["High"]}).sum())
    assert all(row[1] == 0 and row[2] == 0 for row in chosen["heat"]["counts"])


def test_segment_clv_is_over_active_customers_with_a_clv(in_app):
    svc = in_app.server.config[CONFIG_KEY]
    c = svc.analysis.customers
    view = svc.segments.view({})
    for s in view["segments"]:
        members = c[(c["segment"] == s["name"]) & c["active"]]
        expected = members["clv"].astype(float).mean()  # pandas skips NaN
        assert s["clv"] == pytest.approx(expected, rel=1e-4) if len(members) else s["clv"] is None


def test_update_segments_renders_cards_and_figures(in_app):
    cards, table, summary, churn, heat, k_fig, method = segments_page.update_segments({})
    text = _text(cards)
    svc = in_app.server.config[CONFIG_KEY]
    view = svc.segments.view({})
    for s in view["segments"]:
        assert s["name"] in text
    # Plain words with units.
    for phrase in ("have left (", "in the selection)", "a month on average", "Customers for ", " months on average",
                   "Revenue at risk $", " a month", "Lifetime value $", " still active"):
        assert phrase in text, phrase
    # One money format on the page: whole dollars with thousands separators, never "$12.3k"
    # or cents next to them.
    page_text = text + " " + _text(table)
    amounts = re.findall(r"\$[\d,.]+[kM]?", page_text)
    assert amounts and all(re.fullmatch(r"\$\d{1,3}(,\d{3})*", a) for a in amounts), amounts
    assert "segments" in summary and "lifetime value assumes" in summary
    assert churn.layout.title.text == "Churn rate by segment (% of customers who have left)"
    assert churn.layout.xaxis.title.text == "Have left (%), with 95% interval"
    assert heat.data[0].type == "heatmap"
    assert k_fig.layout.title.text == "Choosing the number of segments (K)"
    assert "Features used" in _text(method) and "Outliers" in _text(method)


def test_heat_map_is_coloured_by_churn_rate_with_counts_as_text(in_app):
    svc = in_app.server.config[CONFIG_KEY]
    heat_view = svc.segments.view({})["heat"]
    *_, heat, _k, _m = segments_page.update_segments({})
    trace = heat.data[0]
    for i, row in enumerate(heat_view["counts"]):
        for j, n in enumerate(row):
            assert trace.text[i][j] == f"{n:,}"
            if n:
                assert trace.z[i][j] == pytest.approx(100 * heat_view["churned"][i][j] / n)
            else:
                assert trace.z[i][j] is None
    assert trace.zmin == 0 and trace.zmax == 100
    i, j = next((i, j) for i, row in enumerate(heat_view["counts"]) for j, n in enumerate(row)
                if n)
    assert trace.customdata[i][j].endswith(f" · {heat_view['active'][i][j]:,} still active")
    assert sum(map(sum, heat_view["active"])) == int(svc.array("active").sum())
    assert trace.colorbar.title.text == "Have left (%)"
    assert heat.layout.title.text == "Churn rate by segment and risk tier (numbers: customers)"


def test_one_colour_per_segment_on_every_chart_even_when_filtered(in_app):
    svc = in_app.server.config[CONFIG_KEY]
    names = [s["name"] for s in svc.segments.view({})["segments"]]
    expected = segment_colours(names)
    assert len(set(PALETTE)) >= 10 and len(set(PALETTE[:10])) == 10
    assert len(set(expected.values())) == len(names)

    # A filter that leaves some segments out must not recolour the others.
    for filters in ({}, {"tier": ["High"]}):
        cards, table, _s, churn, *_ = segments_page.update_segments(filters)
        shown = [s["name"] for s in svc.segments.view(filters)["segments"] if s["n"]]
        assert _dot_colours(cards) == [expected[n] for n in shown]
        assert _dot_colours(table) == [expected[n] for n in shown]
        bars = churn.data[0]
        assert list(bars.marker.color) == [expected[n] for n in bars.y]
        survival, scatter = segments_page.update_curves(filters, "segment")
        for trace in list(survival.data) + list(scatter.data):
            colour = trace.line.color if trace.mode == "lines" else trace.marker.color
            assert colour == expected[trace.name], trace.name


def test_method_panel_is_collapsed_at_the_bottom_and_holds_the_k_chart(app):
    with app.server.app_context():
        page = segments_page.layout()
    accordion = find(page, segments_page.METHOD_ACCORDION)
    assert isinstance(accordion, dbc.Accordion) and accordion.start_collapsed is True
    assert page.children[-1] is accordion  # the last thing on the page
    assert isinstance(find(accordion, segments_page.K_GRAPH), dcc.Graph)
    graphs = [c.id for c in walk(page.children[:-1]) if isinstance(c, dcc.Graph)]
    assert segments_page.K_GRAPH not in graphs  # not in the main grid


def test_method_text_says_how_k_was_chosen(in_app):
    *_, method = segments_page.update_segments({})
    view = in_app.server.config[CONFIG_KEY].segments.view({})
    text = _text(method)
    assert f"K = {view['k']} separates the customers best" in text
    assert "KMeans was fitted for K = 2 to 10" in text
    assert "tenure (months)" in text and "flagged, never dropped" in text
    assert '"High-Risk" when its mean churn risk is at least 1.25x the overall' in text


def test_empty_selection(in_app):
    cards, table, summary, churn, heat, k_fig, method = segments_page.update_segments(
        {"tenure": [900, 901]})
    assert "No customers match" in _text(cards)
    for fig in (churn, heat):
        assert fig.layout.annotations[0].text == "No customers match the filters"
        assert fig.layout.title.text.startswith("Churn rate by segment")  # still titled
    assert k_fig.data  # how K was chosen does not depend on the filters
    survival, scatter = segments_page.update_curves({"tenure": [900, 901]}, "segment")
    assert not survival.data and "Not enough customers" in survival.layout.annotations[0].text
    assert not scatter.data and scatter.layout.annotations[0].text == \
        "No customers match the filters"


def test_curves(in_app):
    survival, scatter = segments_page.update_curves({}, "segment")
    assert len(survival.data) >= 2
    assert survival.layout.yaxis.title.text == "Still active (%)"
    assert survival.layout.xaxis.title.text == "Months since joining"
    overall, _ = segments_page.update_curves({}, "all")
    assert [t.name for t in overall.data] == ["All customers"]
    by_contract, _ = segments_page.update_curves({}, "Contract")
    assert {t.name for t in by_contract.data} == {"Month-to-month", "One year", "Two year"}
    for trace in survival.data:
        assert trace.y[0] <= 1.0 and all(a >= b - 1e-9 for a, b in zip(trace.y, trace.y[1:]))
    assert sum(len(t.x) for t in scatter.data) == min(2500, DEMO_SIZE)
    assert scatter.layout.yaxis.title.text == "Monthly charges ($ a month)"


def test_drill_into_segment_and_heat_cell(in_app):
    button = '{"segment":"New","type":"segments-open-button"}.n_clicks'
    out = call_with_trigger(segments_page.drill_into, button, [1], None, None, value=1)
    assert out == (["New"], no_update, "/customers")
    # A button re-rendered with n_clicks None (cards refreshed) does nothing.
    out = call_with_trigger(segments_page.drill_into, button, [None], None, None, value=None)
    assert out == (no_update, no_update, no_update)
    click = {"points": [{"x": "High", "y": "High-Risk Mid-Spend", "z": 3}]}  # from dcc.Graph
    out = call_with_trigger(segments_page.drill_into, f"{segments_page.HEAT_GRAPH}.clickData",
                            [None], None, click)
    assert out == (["High-Risk Mid-Spend"], ["High"], "/customers")
    click = {"points": [{"customdata": ["Loyal", 10, 2]}]}
    out = call_with_trigger(segments_page.drill_into, f"{segments_page.CHURN_GRAPH}.clickData",
                            [None], click, None)
    assert out[0] == ["Loyal"] and out[2] == "/customers"


def test_money_format():
    assert money(4210.4) == "$4,210" and money(1_234_567.8) == "$1,234,568"
    assert money(89.5, per_month=True) == "$90 a month" and money(None) == "–"
    assert money(-12.0) == "-$12"


def test_segment_figures_validate():
    colours = segment_colours(["A", "B"])
    assert colours["A"] != colours["B"]
    rows = [{"name": "A", "n": 10, "churned": 3, "rate": 0.3, "lo": 0.1, "hi": 0.6},
            {"name": "B", "n": 0, "churned": 0, "rate": None, "lo": None, "hi": None}]
    figures = [
        silhouette_chart({2: 0.3, 3: 0.4}, {2: 100.0, 3: 80.0}, 3),
        tier_heatmap(["A", "B"], ["High", "Medium", "Low"], [[1, 2, 3], [0, 0, 4]],
                     [[1, 1, 0], [0, 0, 1]]),
        survival_chart({"A": {"month": [0, 1], "survival": [1, 0.9], "lo": [1, 0.8],
                              "hi": [1, 1]}}, colours),
        risk_value_scatter({"probability": [0.1, 0.8], "monthly": [20, 90],
                            "segment": ["A", "B"], "customer_id": ["x", "y"]}, colours, 10),
        segment_churn_chart(rows, colours, 0.25, ["A"]),
        silhouette_chart({}, {}, 1),
        tier_heatmap([], [], [], []),
        segment_churn_chart(rows[1:], colours, None),
    ]
    for fig in figures:
        go.Figure(fig.to_plotly_json())
    assert "random 2 of 10 customers" in figures[3].layout.title.text
    assert [list(r) for r in figures[1].data[0].z] == [[100.0, 50.0, 0.0],
                                                     [None, None, 25.0]]
    bars = figures[4].data[0]
    assert list(bars.y) == ["A"] and list(bars.marker.color) == [colours["A"]]
    assert bars.customdata[0][0] == "A"  # what drill_into reads
    for fig in figures[5:]:
        assert fig.layout.annotations and not fig.data


def test_method_text_for_a_single_segment():
    method = segments_page._method({"k": 1, "single_reason": "one segment: only 5 customers "
                                    "(fewer than 20)"})
    assert _text(method) == "One segment: only 5 customers (fewer than 20)."
