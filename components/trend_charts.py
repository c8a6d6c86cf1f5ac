"""The Trends page's pieces: risk across data refreshes (churn, risk mix, revenue at risk),
the risers grid's columns and the drift table. Plain data in (snapshot dicts as the trends
service lists them), figure or Dash components out."""

from __future__ import annotations

from datetime import datetime

import dash_bootstrap_components as dbc
from dash import html

from components.charts import (ABOVE, BELOW, TIER_COLOURS, Figure, base_layout, colour_key,
                               empty_figure, plain_figure)
from components.segment_charts import money

CHART_HEIGHT = 330
TIERS = ("High", "Medium", "Low")   # bottom to top of the stack: High's change reads first
LEVEL_BADGES = {"large": "danger", "moderate": "warning", "ok": "success",
                "missing": "secondary"}
GRID = "#f1f3f5"
LABELLED_POINTS = 8      # values written on the points up to this many refreshes
PCT = {"function": "params.value == null ? '' : d3.format('.1%')(params.value)"}
POINTS = {"function": "params.value == null ? '' : d3.format('+.1f')(100 * params.value)"}
NUMBER = {"type": "rightAligned", "filter": "agNumberColumnFilter"}
TEXT = {"filter": "agTextColumnFilter"}
HIGH_STYLE = {"styleConditions": [
    {"condition": "params.data.tier_after == 'High'",
     "style": {"color": "#c92a3f", "fontWeight": 600}},
    {"condition": "params.data.tier_after == 'Medium'", "style": {"color": "#b07800"}}]}
INTO_HIGH_STYLE = {"styleConditions": [
    {"condition": "params.value", "style": {"color": "#c92a3f", "fontWeight": 600}}]}


def when(taken_at: str | None) -> str:
    """'2 Mar 2025 14:05' from an ISO time ('–' when unknown)."""
    if not taken_at:
        return "–"
    try:
        moment = datetime.fromisoformat(str(taken_at))
    except ValueError:
        return str(taken_at)
    return f"{moment.day} {moment:%b %Y %H:%M}"


def day(taken_at: str | None) -> str:
    """'2 Mar 2025' from an ISO time."""
    return when(taken_at).rsplit(" ", 1)[0] if taken_at else "–"


def refresh_labels(snapshots: list[dict]) -> list[str]:
    """One x-axis label per snapshot, oldest first: when it was taken, and the data's as-of
    date when it has one; unique (a category axis would merge equal labels)."""
    labels, seen = [], set()
    for s in snapshots:
        label = when(s.get("taken_at"))
        if s.get("as_of"):
            label += f"<br>data as of {str(s['as_of'])[:10]}"
        if label in seen:
            label += f" (#{s.get('id')})"
        seen.add(label)
        labels.append(label)
    return labels


def _x_axis(n: int) -> dict:
    """Refreshes as categories, half a step of room at both ends (points off the y axis)."""
    return {"type": "category", "title": {"text": "Data refresh (snapshot taken)"},
            "automargin": True, "tickfont": {"size": 11}, "range": [-0.5, n - 0.5]}


def _hover_data(snapshots: list[dict]) -> list[list]:
    return [[s.get("source") or "", s["summary"].get("active") or 0,
             s["summary"].get("customers") or 0] for s in snapshots]


def _line(x, y, name: str, colour: str, text: list[str] | None, hover: str,
          where: str | list[str] = "top center") -> dict:
    many = len(x) > LABELLED_POINTS
    return dict(type="scatter", mode="lines+markers" if many or not text else
                "lines+markers+text", x=x, y=y, name=name, cliponaxis=False,
                line={"color": colour, "width": 2.5}, marker={"color": colour, "size": 9},
                text=None if many else text, textposition=where,
                textfont={"color": colour, "size": 11}, hovertemplate=hover)


def churn_chart(snapshots: list[dict], noun: str = "customers",
                title: str = "Churn rate and mean risk (%)",
                height: int = CHART_HEIGHT) -> Figure:
    """Per refresh: the share of all `noun` in the data who have left, and the mean churn
    probability the model gives the active ones (both in %)."""
    if not snapshots:
        return empty_figure("No snapshot stored yet", title, height)
    x = refresh_labels(snapshots)
    churned = [_pct(s["summary"].get("churn_rate")) for s in snapshots]
    risk = [_pct(s["summary"].get("mean_probability")) for s in snapshots]
    data = _hover_data(snapshots)
    # Each point's label on its far side from the other line's, so close values stay legible.
    higher = [c is not None and r is not None and c >= r for c, r in zip(churned, risk)]
    traces = []
    if any(v is not None for v in churned):
        traces.append({**_line(x, churned, "Churned", ABOVE, _labels(churned),
                               f"%{{x}}<br>%{{y:.1f}}% of %{{customdata[2]:,}} {noun} had "
                               "left<br>%{customdata[0]}<extra></extra>",
                               [_side(h) for h in higher]), "customdata": data})
    traces.append({**_line(x, risk, "Mean risk", BELOW, _labels(risk),
                           f"%{{x}}<br>mean churn risk %{{y:.1f}}% over %{{customdata[1]:,}} "
                           f"active {noun}<br>%{{customdata[0]}}<extra></extra>",
                           [_side(not h) for h in higher]), "customdata": data})
    values = [v for v in churned + risk if v is not None]
    layout = base_layout(
        title, height, xaxis=_x_axis(len(x)),
        yaxis={"title": {"text": f"% of {noun}"}, "ticksuffix": "%", "gridcolor": GRID,
               "range": [0, max(values, default=1) * 1.25 or 1]},
        margin={"l": 8, "r": 24, "t": 74, "b": 40})
    key = [(BELOW, f"mean churn risk of active {noun}")]
    if len(traces) == 2:
        key.insert(0, (ABOVE, f"churned (all {noun})"))
    layout["title"]["subtitle"] = {"text": colour_key(*key),
                                   "font": {"size": 11, "color": "#6c757d"}}
    return plain_figure(traces, layout)


def risk_mix_chart(snapshots: list[dict], noun: str = "customers", title: str | None = None,
                   height: int = CHART_HEIGHT) -> Figure:
    """Active `noun` per risk tier in each refresh, stacked (High at the bottom)."""
    title = title or f"Risk mix (active {noun} per tier)"
    if not snapshots:
        return empty_figure("No snapshot stored yet", title, height)
    x = refresh_labels(snapshots)
    traces = []
    for tier in TIERS:
        counts = [int((s["summary"].get("tiers") or {}).get(tier) or 0) for s in snapshots]
        shares = [c / max(int(s["summary"].get("active") or 0), 1)
                  for c, s in zip(counts, snapshots)]
        traces.append(dict(
            type="bar", x=x, y=counts, name=tier, marker={"color": TIER_COLOURS[tier]},
            **({"width": 0.45} if len(x) < 3 else {}),
            customdata=[[100 * share] for share in shares],
            text=[f"{c:,}" for c in counts], textposition="inside", insidetextanchor="middle",
            textfont={"color": "white", "size": 11},
            hovertemplate=f"%{{x}}<br><b>{tier} risk</b>: %{{y:,}} active {noun} "
                          "(%{customdata[0]:.1f}%)<extra></extra>"))
    layout = base_layout(
        title, height, barmode="stack", bargap=0.3, xaxis=_x_axis(len(x)),
        uniformtext={"minsize": 9, "mode": "hide"},
        yaxis={"title": {"text": f"Active {noun}"}, "gridcolor": GRID, "rangemode": "tozero"},
        margin={"l": 8, "r": 16, "t": 74, "b": 40})
    layout["title"]["subtitle"] = {
        "text": colour_key(*[(TIER_COLOURS[t], t) for t in TIERS]),
        "font": {"size": 11, "color": "#6c757d"}}
    return plain_figure(traces, layout)


def revenue_chart(snapshots: list[dict], currency: str = "$", noun: str = "customers",
                  title: str | None = None, height: int = CHART_HEIGHT) -> Figure:
    """Expected monthly revenue lost in each refresh: the sum over active customers of
    churn probability x monthly revenue."""
    title = title or f"Revenue at risk ({currency} a month)"
    values = [s["summary"].get("revenue_at_risk") for s in snapshots]
    if not snapshots or all(v is None for v in values):
        return empty_figure("This data has no monthly revenue" if snapshots else
                            "No snapshot stored yet", title, height)
    x = refresh_labels(snapshots)
    symbol = f"{currency} " if currency[-1:].isalpha() else currency
    line = _line(x, values, "Revenue at risk", ABOVE,
                 [money(v, currency=currency) if v is not None else "" for v in values],
                 f"%{{x}}<br>{symbol}%{{y:,.0f}} a month expected to be lost<br>"
                 "%{customdata[0]}<extra></extra>")
    line["customdata"] = _hover_data(snapshots)
    top = max(v for v in values if v is not None)
    layout = base_layout(
        title, height, xaxis=_x_axis(len(x)),
        yaxis={"title": {"text": f"{currency} a month"}, "tickprefix": symbol,
               "tickformat": ",.0f", "gridcolor": GRID, "range": [0, top * 1.25 or 1]},
        margin={"l": 8, "r": 24, "t": 74, "b": 40})
    layout["title"]["subtitle"] = {"text": f"churn risk × monthly revenue, summed over active "
                                           f"{noun}", "font": {"size": 11, "color": "#6c757d"}}
    return plain_figure([line], layout)


def _side(above: bool) -> str:
    return "top center" if above else "bottom center"


def _pct(value) -> float | None:
    return None if value is None else 100 * float(value)


def _labels(values: list) -> list[str]:
    return ["" if v is None else f"{v:.1f}%" for v in values]


def risers_columns(noun: str = "Customer") -> list[dict]:
    """The risers grid's columns (rows: customer_id, before, after, rise, tier_before,
    tier_after, crossed_into_high)."""
    return [
        {"field": "customer_id", "headerName": noun.capitalize(), "pinned": "left",
         "width": 140, "cellClass": "customer-link", **TEXT},
        {"field": "rise", "headerName": "Rise (points)", "valueFormatter": POINTS,
         "width": 120, "sort": "desc", **NUMBER},
        {"field": "before", "headerName": "Risk before", "valueFormatter": PCT, "width": 118,
         **NUMBER},
        {"field": "after", "headerName": "Risk now", "valueFormatter": PCT, "width": 110,
         **NUMBER},
        {"colId": "tier", "headerName": "Tier before → now", "flex": 1, "minWidth": 160,
         "valueGetter": {"function": "params.data.tier_before + ' → ' + "
                                     "params.data.tier_after"},
         "cellStyle": HIGH_STYLE, **TEXT},
        {"field": "crossed_into_high", "headerName": "Into High", "width": 108,
         "cellDataType": "text", "valueFormatter": {"function": "params.value ? 'yes' : ''"},
         "cellStyle": INTO_HIGH_STYLE},
    ]


def drift_table(rows: list[dict], table_id: str) -> html.Table:
    """PSI per input with its level as a badge (rows: label, psi, level), largest first."""
    body = [html.Tr([html.Td(r["label"][:1].upper() + r["label"][1:]),
                     html.Td("–" if r.get("psi") is None else f"{r['psi']:.3f}",
                             className="text-end font-monospace"),
                     html.Td(dbc.Badge(r["level"], color=LEVEL_BADGES.get(r["level"],
                                                                           "secondary")))])
            for r in rows]
    return html.Table([html.Thead(html.Tr([html.Th("Input"), html.Th("PSI",
                                                                      className="text-end"),
                                           html.Th("Shift")])),
                       html.Tbody(body)], className="table table-sm small mb-0", id=table_id,
                      style={"maxWidth": "40rem"})


__all__ = ["churn_chart", "day", "drift_table", "refresh_labels", "revenue_chart",
           "risers_columns", "risk_mix_chart", "when"]


def drift_by_refresh(rows: list[dict]) -> html.Div | None:
    """Each refresh against the one before it: how many inputs shifted, and the largest
    shift (newest first); nothing with a single comparison (the table shows it)."""
    if len(rows) < 2:
        return None
    items = []
    for r in rows:
        top = r.get("top")
        most = (f"; most: {top['label']} (PSI {top['psi']:.2f})" if top else "")
        items.append(html.Li(f"{day(r['taken_at'])}: {r['large']} large, {r['moderate']} "
                             f"moderate{most}"))
    return html.Div([html.Div("By refresh, each against the one before it",
                              className="small fw-semibold mt-3"),
                     html.Ul(items, className="small mb-0 ps-3", id="trends-drift-history")])
