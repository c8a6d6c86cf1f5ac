"""Pure figure builders: plain data in, `go.Figure` out."""

from __future__ import annotations

import plotly.graph_objects as go

FONT = "Inter, system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
ABOVE = "#d9485f"   # churn above the selection's overall rate
BELOW = "#2b8a8a"   # at or below it
MUTED = "#ced4da"
TIER_COLOURS = {"High": "#d9485f", "Medium": "#f0a202", "Low": "#2b8a8a"}


def _base_layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}},
        font={"family": FONT, "size": 12, "color": "#343a40"},
        height=height, margin={"l": 8, "r": 16, "t": 44, "b": 40},
        plot_bgcolor="white", paper_bgcolor="white", showlegend=False,
        hoverlabel={"font": {"family": FONT}}, clickmode="event",
        uniformtext={"minsize": 10, "mode": "hide"},
    )
    return fig


def empty_figure(message: str, title: str = "", height: int = 260) -> go.Figure:
    """A blank chart that says why it is blank."""
    fig = go.Figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper",
                       showarrow=False, font={"size": 13, "color": "#868e96"})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _base_layout(fig, title, height)


def rate_chart(rows: list[dict], title: str, overall: float | None,
               selected: list[str] | None = None, height: int = 260) -> go.Figure:
    """Churn rate by group as horizontal bars with 95% interval whiskers.

    rows: dicts with group, n, churned, rate, lo, hi (rates as fractions). Groups with no
    customers in the selection are left out; `selected` groups are drawn solid, others faded.
    """
    rows = [r for r in rows if r["n"] > 0 and r["rate"] is not None]
    if not rows:
        return empty_figure("No customers match the filters", title, height)
    groups = [r["group"] for r in rows]
    rates = [100 * r["rate"] for r in rows]
    colours = []
    for r in rows:
        colour = ABOVE if overall is not None and r["rate"] > overall else BELOW
        if selected and r["group"] not in selected:
            colour = MUTED
        colours.append(colour)
    fig = go.Figure(go.Bar(
        x=rates, y=groups, orientation="h", marker={"color": colours},
        customdata=[[g, r["n"], r["churned"]] for g, r in zip(groups, rows)],
        error_x={"type": "data", "symmetric": False, "color": "#495057", "thickness": 1.2,
                 "array": [100 * (r["hi"] - r["rate"]) for r in rows],
                 "arrayminus": [100 * (r["rate"] - r["lo"]) for r in rows]},
        text=[f"{v:.1f}%" for v in rates], textposition="inside", insidetextanchor="start",
        textangle=0, textfont={"color": "white"},
        hovertemplate="<b>%{customdata[0]}</b><br>Churn rate %{x:.1f}%<br>"
                      "%{customdata[2]:,} of %{customdata[1]:,} customers churned"
                      "<br>Click to filter<extra></extra>",
    ))
    if overall is not None:
        fig.add_vline(x=100 * overall, line={"dash": "dot", "color": "#495057", "width": 1},
                      annotation_text=f"overall {100 * overall:.1f}%",
                      annotation_position="top", annotation_font_size=11)
    fig.update_xaxes(title_text="Churn rate (%), 95% interval", ticksuffix="%",
                     rangemode="tozero", gridcolor="#f1f3f5", zeroline=False)
    fig.update_yaxes(autorange="reversed", automargin=True)
    return _base_layout(fig, title, height)


def tier_chart(rows: list[dict], title: str = "Customers by risk tier",
               selected: list[str] | None = None, height: int = 260) -> go.Figure:
    """Customers per risk tier (High / Medium / Low) with counts and shares."""
    if not rows or sum(r["n"] for r in rows) == 0:
        return empty_figure("No customers match the filters", title, height)
    tiers = [r["tier"] for r in rows]
    colours = [TIER_COLOURS.get(t, MUTED) if not selected or t in selected else MUTED
               for t in tiers]
    fig = go.Figure(go.Bar(
        x=tiers, y=[r["n"] for r in rows], marker={"color": colours},
        customdata=[[r["tier"], 100 * (r["share"] or 0)] for r in rows],
        text=[f"{r['n']:,} ({100 * (r['share'] or 0):.0f}%)" for r in rows],
        textposition="outside", cliponaxis=False,
        hovertemplate="<b>%{customdata[0]} risk</b><br>%{y:,} customers "
                      "(%{customdata[1]:.1f}%)<br>Click to filter<extra></extra>",
    ))
    fig.update_yaxes(title_text="Customers", gridcolor="#f1f3f5", rangemode="tozero")
    fig.update_xaxes(title_text="Risk tier (model churn probability)")
    return _base_layout(fig, title, height)
