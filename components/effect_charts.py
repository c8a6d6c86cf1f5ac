"""Figures of a campaign's measured effect: churn per arm with intervals, the effect by group
(a forest plot of control churn - treated churn, in points) and the Qini curves of uplift
and risk ranking. Pure builders: the campaigns service's JSON in, `go.Figure` out."""

from __future__ import annotations

from components.charts import ABOVE, BELOW, MUTED, base_layout, empty_figure, plain_figure

GRID = "#f1f3f5"
TREATED, HELD_OUT = "#3b6fb6", "#868e96"
ASSUMED = "#f0a202"


def arms_chart(report: dict, title: str = "Churn by the campaign's horizon, per arm",
               height: int = 300):
    """Treated vs held-out churn (%) with 95% Wilson intervals."""
    arms = report.get("arm_rates") or []
    if not arms or all(a["rate"] is None for a in arms):
        return empty_figure("No outcomes yet: import them below.", title, height)
    names = [a["label"] for a in arms]
    rates = [None if a["rate"] is None else 100 * a["rate"] for a in arms]
    plus = [0 if a["high"] is None else 100 * (a["high"] - a["rate"]) for a in arms]
    minus = [0 if a["low"] is None else 100 * (a["rate"] - a["low"]) for a in arms]
    bar = dict(type="bar", x=names, y=rates, marker={"color": [TREATED, HELD_OUT]},
               error_y={"type": "data", "array": plus, "arrayminus": minus,
                        "color": "#495057", "thickness": 1.5, "width": 6},
               text=[f"{r:.1f}%" if r is not None else "" for r in rates],
               textposition="inside", insidetextanchor="end",
               textfont={"color": "white"},
               customdata=[[a["n"]] for a in arms],
               hovertemplate="%{x}: %{y:.1f}% churned of %{customdata[0]:,}<extra></extra>")
    return plain_figure([bar], base_layout(
        title, height, bargap=0.45,
        yaxis={"title": {"text": "Churned (%)"}, "gridcolor": GRID, "rangemode": "tozero",
               "ticksuffix": "%"}))


def effect_chart(rows: list[dict], assumed: float | None, title: str,
                 height: int | None = None):
    """Measured uplift per group (points, control - treated) with 95% intervals; groups too
    small to tell are faded; the dotted line is the campaign's assumed (model-implied)
    uplift."""
    rows = [r for r in rows if r.get("uplift") is not None]
    height = height or 300  # the card's height: ten deciles fit at 24 px a row
    if not rows:
        return empty_figure("No group has outcomes in both arms yet.", title, height)
    rows = rows[::-1]
    labels = [str(r["group"]) for r in rows]
    x = [100 * r["uplift"] for r in rows]
    colours = [(BELOW if r["uplift"] >= 0 else ABOVE) if r.get("enough") else MUTED
               for r in rows]
    trace = dict(type="scatter", mode="markers", y=labels, x=x,
                 marker={"color": colours, "size": 10, "symbol": "diamond"},
                 error_x={"type": "data", "symmetric": False,
                          "array": [100 * (r["high"] - r["uplift"]) for r in rows],
                          "arrayminus": [100 * (r["uplift"] - r["low"]) for r in rows],
                          "color": "#868e96", "thickness": 1.5, "width": 4},
                 customdata=[[r["n_treatment"], r["n_control"], 100 * r["low"],
                              100 * r["high"]] for r in rows],
                 hovertemplate="%{y}: %{x:.1f} points (95% CI %{customdata[2]:.1f} to "
                               "%{customdata[3]:.1f})<br>%{customdata[0]:,} treated, "
                               "%{customdata[1]:,} held out<extra></extra>")
    shapes = [{"type": "line", "x0": 0, "x1": 0, "y0": 0, "y1": 1, "yref": "paper",
               "line": {"color": "#adb5bd", "width": 1}}]
    if assumed is not None:
        shapes.append({"type": "line", "x0": 100 * assumed, "x1": 100 * assumed, "y0": 0,
                       "y1": 1, "yref": "paper", "line": {"color": ASSUMED, "dash": "dot"}})
    return plain_figure([trace], base_layout(
        title, height, shapes=shapes,
        xaxis={"title": {"text": "Churn reduction, held out - treated (percentage points)"},
               "gridcolor": GRID, "zeroline": False},
        yaxis={"automargin": True, "type": "category"},
        margin={"l": 8, "r": 16, "t": 44, "b": 44}))


def qini_chart(study: dict, title: str = "Qini curves on held-out folds", height: int = 320):
    """Incremental customers kept against the share targeted: uplift ranking, risk ranking,
    random."""
    curves = study.get("curves") or {}
    x = curves.get("x")
    if not x:
        return empty_figure("Fit the uplift model to compare rankings.", title, height)
    share = [100 * v for v in x]
    traces = [
        dict(type="scatter", mode="lines", x=share, y=curves.get("uplift"),
             name="Ranked by predicted uplift", line={"color": BELOW, "width": 2.5},
             hovertemplate="top %{x:.0f}%: %{y:,.1f} kept<extra>uplift</extra>"),
        dict(type="scatter", mode="lines", x=share, y=curves.get("risk"),
             name="Ranked by churn risk", line={"color": ABOVE, "width": 2},
             hovertemplate="top %{x:.0f}%: %{y:,.1f} kept<extra>risk</extra>"),
        dict(type="scatter", mode="lines", x=share, y=curves.get("random"),
             name="Random order", line={"color": "#adb5bd", "dash": "dot"},
             hovertemplate="top %{x:.0f}%: %{y:,.1f} kept<extra>random</extra>"),
    ]
    return plain_figure(traces, base_layout(
        title, height, showlegend=True,
        legend={"orientation": "h", "y": -0.25, "x": 0},
        xaxis={"title": {"text": "Members targeted (%)"}, "gridcolor": GRID,
               "ticksuffix": "%"},
        yaxis={"title": {"text": "Extra customers kept (Qini)"}, "gridcolor": GRID},
        margin={"l": 8, "r": 16, "t": 44, "b": 80}))
