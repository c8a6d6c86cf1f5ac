"""Figure builders for the Segments page: plain data in, `go.Figure` out."""

from __future__ import annotations

import plotly.graph_objects as go

from components.charts import MUTED, TIER_COLOURS, base_layout, empty_figure, plain_figure

PALETTE = ("#3b5bdb", "#d9485f", "#2b8a8a", "#f08c00", "#7048e8", "#5c940d", "#c2255c",
           "#1098ad", "#846358", "#495057")


def segment_colours(names: list[str]) -> dict[str, str]:
    """A stable colour per segment, shared by every chart on the page."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def silhouette_chart(silhouette: dict, inertia: dict, chosen: int,
                     height: int = 280) -> go.Figure:
    """Silhouette (higher is better) and inertia (the elbow) for every K tried."""
    ks = sorted(int(k) for k in silhouette)
    if not ks:
        return empty_figure("A single segment: too few customers to cluster",
                            "Choosing the number of segments", height)
    sil = [silhouette[k] for k in ks]
    data = [
        {"type": "scatter", "x": ks, "y": sil, "mode": "lines+markers", "name": "silhouette",
         "line": {"color": "#3b5bdb", "width": 2},
         "marker": {"size": [12 if k == chosen else 6 for k in ks],
                    "color": ["#d9485f" if k == chosen else "#3b5bdb" for k in ks]},
         "hovertemplate": "K=%{x}: silhouette %{y:.3f}<extra></extra>"},
        {"type": "scatter", "x": ks, "y": [inertia.get(k) for k in ks], "yaxis": "y2",
         "mode": "lines", "name": "inertia", "line": {"color": MUTED, "dash": "dot"},
         "hovertemplate": "K=%{x}: inertia %{y:,.0f}<extra></extra>"},
    ]
    return plain_figure(data, base_layout(
        "Choosing the number of segments", height, showlegend=True,
        legend={"orientation": "h", "y": 1.12, "x": 1, "xanchor": "right"},
        xaxis={"title": {"text": "Number of segments (K)"}, "dtick": 1},
        yaxis={"title": {"text": "Silhouette (higher = better)"},
               "gridcolor": "#f1f3f5"},
        yaxis2={"title": {"text": "Inertia"}, "overlaying": "y", "side": "right",
                "showgrid": False},
        annotations=[{"text": f"chosen: K={chosen}", "x": chosen, "y": silhouette[chosen],
                      "showarrow": True, "arrowhead": 0, "ay": -28, "font": {"size": 11}}]))


def tier_heatmap(segments: list[str], tiers: list[str], counts: list[list[int]],
                 height: int = 320) -> go.Figure:
    """Customers by segment (rows) and risk tier (columns); a cell click drills down."""
    if not segments or not sum(map(sum, counts)):
        return empty_figure("No customers match the filters", "Segments by risk tier", height)
    text = [[f"{v:,}" for v in row] for row in counts]
    data = [{"type": "heatmap", "z": counts, "x": tiers, "y": segments, "text": text,
             "texttemplate": "%{text}", "colorscale": [[0, "#f8f9fa"], [1, "#d9485f"]],
             "showscale": False, "xgap": 2, "ygap": 2,
             "customdata": [[[s, t] for t in tiers] for s in segments],
             "hovertemplate": "<b>%{y}</b> · %{x} risk<br>%{z:,} customers"
                              "<br>Click to list them<extra></extra>"}]
    return plain_figure(data, base_layout(
        "Segments by risk tier (customers)", height,
        xaxis={"title": {"text": "Risk tier"}, "side": "top"},
        yaxis={"autorange": "reversed", "automargin": True}, margin={"l": 8, "r": 8, "t": 70,
                                                                     "b": 10}))


def survival_chart(curves: dict[str, dict], colours: dict[str, str] | None = None,
                   title: str = "Retention by segment (Kaplan-Meier)",
                   height: int = 340) -> go.Figure:
    """Share of customers still active after each month of tenure, one line per group."""
    if not curves:
        return empty_figure("Not enough customers for a retention curve", title, height)
    colours = colours or {}
    data = []
    for i, (name, c) in enumerate(curves.items()):
        colour = colours.get(name, PALETTE[i % len(PALETTE)])
        data.append({"type": "scatter", "x": c["month"], "y": c["survival"], "name": name,
                     "mode": "lines", "line": {"color": colour, "width": 2, "shape": "hv"},
                     "hovertemplate": f"<b>{name}</b><br>month %{{x}}: %{{y:.1%}} still "
                                      "active<extra></extra>"})
    return plain_figure(data, base_layout(
        title, height, showlegend=True, legend={"font": {"size": 11}},
        xaxis={"title": {"text": "Months since joining"}, "gridcolor": "#f1f3f5"},
        yaxis={"title": {"text": "Still active"}, "tickformat": ".0%", "range": [0, 1.02],
               "gridcolor": "#f1f3f5"}))


def risk_value_scatter(points: dict, colours: dict[str, str], total: int,
                       height: int = 340) -> go.Figure:
    """Monthly charges against churn probability for a sample, coloured by segment."""
    title = "Revenue vs risk"
    if not points or not points.get("probability"):
        return empty_figure("No customers match the filters", title, height)
    shown = len(points["probability"])
    if shown < total:
        title += f" (random sample of {shown:,} of {total:,} customers)"
    data = []
    for name in dict.fromkeys(points["segment"]):
        idx = [i for i, s in enumerate(points["segment"]) if s == name]
        data.append({"type": "scatter", "mode": "markers", "name": name,
                     "x": [points["probability"][i] for i in idx],
                     "y": [points["monthly"][i] for i in idx],
                     "customdata": [points["customer_id"][i] for i in idx],
                     "marker": {"size": 5, "opacity": 0.6, "color": colours.get(name, MUTED)},
                     "hovertemplate": "%{customdata}<br>risk %{x:.0%} · $%{y:.2f}/month"
                                      f"<br>{name}<extra></extra>"})
    return plain_figure(data, base_layout(
        title, height, showlegend=True, legend={"font": {"size": 11}},
        xaxis={"title": {"text": "Churn probability"}, "tickformat": ".0%", "range": [0, 1],
               "gridcolor": "#f1f3f5"},
        yaxis={"title": {"text": "Monthly charges ($)"}, "gridcolor": "#f1f3f5"}))


__all__ = ["TIER_COLOURS", "risk_value_scatter", "segment_colours", "silhouette_chart",
           "survival_chart", "tier_heatmap"]
