"""The Segments page's callbacks and figure builders."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest
from dash import no_update

from components.segment_charts import (risk_value_scatter, segment_colours, silhouette_chart,
                                       survival_chart, tier_heatmap)
from dashboard.services import CONFIG_KEY
from tests.ui.conftest import DEMO_SIZE, call_with_trigger


@pytest.fixture(scope="module", autouse=True)
def _pages(app):
    global segments_page
    from pages import segments as segments_page


def test_segments_view_adds_up(in_app):
    svc = in_app.server.config[CONFIG_KEY]
    view = svc.segments.view({})
    sizes = [s["n"] for s in view["segments"]]
    assert sum(sizes) == DEMO_SIZE
    assert sum(map(sum, view["heat"]["counts"])) == DEMO_SIZE
    names = [s["name"] for s in view["segments"]]
    assert len(set(names)) == len(names) and view["k"] == len(names) or view["k"] == 1
    # With a filter, every number describes the selection only.
    chosen = svc.segments.view({"tier": ["High"]})
    assert sum(s["n"] for s in chosen["segments"]) == int(svc.mask({"tier": ["High"]}).sum())
    assert all(row[1] == 0 and row[2] == 0 for row in chosen["heat"]["counts"])


def test_update_segments_renders_cards_and_figures(in_app):
    cards, table, summary, churn, heat, k_fig = segments_page.update_segments({})
    text = str(cards)
    svc = in_app.server.config[CONFIG_KEY]
    for s in svc.segments.view({})["segments"]:
        assert s["name"] in text
    assert "segments" in summary and "silhouette" in summary
    assert churn.layout.title.text == "Churn rate by segment"
    assert heat.data[0].type == "heatmap"


def test_empty_selection(in_app):
    cards, *_ = segments_page.update_segments({"tenure": [900, 901]})
    assert "No customers match" in str(cards)


def test_curves(in_app):
    survival, scatter = segments_page.update_curves({}, "segment")
    assert len(survival.data) >= 2
    overall, _ = segments_page.update_curves({}, "all")
    assert [t.name for t in overall.data] == ["All customers"]
    by_contract, _ = segments_page.update_curves({}, "Contract")
    assert {t.name for t in by_contract.data} == {"Month-to-month", "One year", "Two year"}
    for trace in survival.data:
        assert trace.y[0] <= 1.0 and all(a >= b - 1e-9 for a, b in zip(trace.y, trace.y[1:]))
    assert sum(len(t.x) for t in scatter.data) == min(2500, DEMO_SIZE)


def test_drill_into_segment_and_heat_cell(in_app):
    button = '{"segment":"New","type":"segments-open-button"}.n_clicks'
    out = call_with_trigger(segments_page.drill_into, button, [1], None, None, value=1)
    assert out == (["New"], no_update, "/customers")
    # A button re-rendered with n_clicks None (cards refreshed) does nothing.
    out = call_with_trigger(segments_page.drill_into, button, [None], None, None, value=None)
    assert out == (no_update, no_update, no_update)
    click = {"points": [{"x": "High", "y": "At-Risk", "z": 3}]}  # what dcc.Graph sends
    out = call_with_trigger(segments_page.drill_into, f"{segments_page.HEAT_GRAPH}.clickData",
                            [None], None, click)
    assert out == (["At-Risk"], ["High"], "/customers")
    click = {"points": [{"customdata": ["Loyal", 10, 2]}]}
    out = call_with_trigger(segments_page.drill_into, f"{segments_page.CHURN_GRAPH}.clickData",
                            [None], click, None)
    assert out[0] == ["Loyal"] and out[2] == "/customers"


def test_segment_figures_validate():
    colours = segment_colours(["A", "B"])
    assert colours["A"] != colours["B"]
    figures = [
        silhouette_chart({2: 0.3, 3: 0.4}, {2: 100.0, 3: 80.0}, 3),
        tier_heatmap(["A", "B"], ["High", "Medium", "Low"], [[1, 2, 3], [0, 0, 4]]),
        survival_chart({"A": {"month": [0, 1], "survival": [1, 0.9], "lo": [1, 0.8],
                              "hi": [1, 1]}}, colours),
        risk_value_scatter({"probability": [0.1, 0.8], "monthly": [20, 90],
                            "segment": ["A", "B"], "customer_id": ["x", "y"]}, colours, 10),
    ]
    for fig in figures:
        go.Figure(fig.to_plotly_json())
    assert "random sample of 2 of 10" in figures[3].layout.title.text
