"""Figure builders are pure functions of plain data."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from components.charts import empty_figure, rate_chart, tier_chart

ROWS = [{"group": "A", "n": 100, "churned": 40, "rate": 0.4, "lo": 0.31, "hi": 0.5},
        {"group": "B", "n": 50, "churned": 5, "rate": 0.1, "lo": 0.04, "hi": 0.21},
        {"group": "C", "n": 0, "churned": 0, "rate": None, "lo": None, "hi": None}]


def test_rate_chart_bars_whiskers_and_colours():
    fig = rate_chart(ROWS, "Churn rate by x", overall=0.3)
    bar = fig.data[0]
    assert list(bar.y) == ["A", "B"]
    assert list(bar.x) == [40.0, 10.0]
    assert [round(v, 6) for v in bar.error_x.array] == [10.0, 11.0]
    assert [round(v, 6) for v in bar.error_x.arrayminus] == [9.0, 6.0]
    assert bar.marker.color[0] != bar.marker.color[1]  # above vs below overall
    assert fig.layout.xaxis.title.text.startswith("Churn rate (%)")


def test_rate_chart_fades_unselected_groups():
    fig = rate_chart(ROWS, "t", overall=0.3, selected=["A"])
    assert fig.data[0].marker.color[1] == "#ced4da"


def test_empty_inputs_give_an_explained_blank_chart():
    fig = rate_chart([], "t", overall=None)
    assert fig.layout.annotations[0].text == "No customers match the filters"
    assert tier_chart([]).layout.annotations[0].text == "No customers match the filters"


def test_tier_chart_counts():
    fig = tier_chart([{"tier": "High", "n": 3, "share": 0.3},
                      {"tier": "Medium", "n": 2, "share": 0.2},
                      {"tier": "Low", "n": 5, "share": 0.5}])
    assert list(fig.data[0].y) == [3, 2, 5]
    assert fig.data[0].text[0] == "3 (30%)"


def test_every_builder_output_passes_plotly_validation():
    """Builders skip validation for speed, so validate their output strictly here."""
    figures = [rate_chart(ROWS, "t", overall=0.3, selected=["A"]), rate_chart([], "t", None),
               tier_chart([{"tier": "High", "n": 3, "share": 0.3}]), empty_figure("x", "t")]
    for fig in figures:
        go.Figure(fig.to_plotly_json())  # raises ValueError on any invalid property


def test_waterfall_validates():
    from components.charts import waterfall_chart
    fig = waterfall_chart(26.0, [{"label": "Contract: Month-to-month", "points": 14.0},
                                 {"label": "tenure: 40", "points": -6.0}], 34.0)
    go.Figure(fig.to_plotly_json())
    assert list(fig.data[0].x) == [26.0, 14.0, -6.0, 34.0]
    assert list(fig.data[0].base) == [0.0, 26.0, 40.0, 0.0]
    assert [(s["x0"], s["y0"], s["y1"]) for s in fig.layout.shapes] == [
        (26.0, 0, 1), (40.0, 1, 2), (34.0, 2, 3)]        # connectors from each bar's end


def test_every_figure_is_of_a_trace_the_served_plotly_draws():
    from components.charts import plain_figure
    with pytest.raises(ValueError, match="waterfall"):
        plain_figure([{"type": "bar"}, {"type": "waterfall"}], {})
    assert plain_figure([{"x": [1]}, {"type": "heatmap"}], {}).data[1].type == "heatmap"


def test_the_overall_rate_is_labelled_clear_of_the_colour_key():
    # A line right of the axis' middle is labelled over it; one in the left half, where the
    # colour key is, is named in the key instead.
    right = rate_chart(ROWS, "t", overall=0.3)
    assert right.layout.annotations[0].text == "overall 30.0%"
    left = rate_chart(ROWS, "t", overall=0.2, noun="accounts")
    assert not left.layout.annotations
    assert "above the overall 20.0% (dotted)" in left.layout.title.subtitle.text
    # a key that also names the faded bars and whose rate it is reaches the line: named too
    drilled = rate_chart(ROWS, "t", overall=0.3, selected=[ROWS[0]["group"]],
                         context="of the other filters")
    assert not drilled.layout.annotations
    key = drilled.layout.title.subtitle.text
    assert "above the overall 30.0% of the other filters (dotted)" in key
    assert "not selected" in key and key.count("overall") == 1
    assert "accounts churned" in left.data[0].hovertemplate
    go.Figure(left.to_plotly_json())
    assert tier_chart([{"tier": "High", "n": 3, "share": 1.0}],
                      noun="members").layout.yaxis.title.text == "Members"


def test_importance_over_a_sample_says_so():
    from components.model_charts import importance_chart

    items = [{"feature": "a", "label": "A", "value": 2.0}, {"feature": "b", "label": "B",
                                                            "value": 1.0, "table": "usage"}]
    sampled = importance_chart(items, of={"rows": 200_000, "of": 1_000_000}).layout.title.text
    assert "over a seeded sample of 200,000 of the 1,000,000 customers" in sampled
    assert "behaviour over time" in sampled
    whole = importance_chart(items[:1], of={"rows": 7043, "of": 7043})
    assert "sample" not in whole.layout.title.text and whole.layout.margin.t == 44
