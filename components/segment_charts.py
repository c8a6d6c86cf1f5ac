"""Figure and table builders for the Segments page: plain data in, figure (or the
segments table) out.

Every chart of the page colours a segment the same way (`segment_colours`) and writes money
one way (`money`: whole units of the data's currency with thousands separators)."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from components.charts import MUTED, TIER_COLOURS, Figure, base_layout, empty_figure, plain_figure
from components.feedback import section
from components.kpi import fmt_int, fmt_value

# Plotly's qualitative "Safe" set (CARTO, after Paul Tol: distinct for colour-blind readers),
# the strong colours first; 10 hues for up to 10 segments, then a grey.
PALETTE = ("#332288", "#CC6677", "#117733", "#88CCEE", "#DDCC77", "#AA4499", "#44AA99",
           "#999933", "#882255", "#661100", "#888888")
GRID = "#f1f3f5"
# Churn rate (share who have left): white, through amber, to the High-tier red.
CHURN_SCALE = [[0.0, "#ffffff"], [0.35, "#ffe3a3"], [0.7, "#f08c6c"], [1.0, "#c92a3f"]]
CURRENCY_NAMES = {"$": "dollars", "€": "euros", "£": "pounds", "¥": "yen", "₹": "rupees"}


def money(value, per_month: bool = False, currency: str = "$") -> str:
    """'$4,210' (whole units, thousands separators; a symbol of letters is spaced: 'CHF
    4,210'), '–' when unknown."""
    if value is None:
        return "–"
    symbol = f"{currency} " if currency[-1:].isalpha() else currency
    return f"{'-' if value < 0 else ''}{symbol}{abs(value):,.0f}" + \
        (" a month" if per_month else "")


def percent(value, digits: int = 0) -> str:
    """'57%' (a fraction in per cent), '–' when unknown."""
    return "–" if value is None else f"{100 * value:.{digits}f}%"


def segment_colours(names: list[str]) -> dict[str, str]:
    """A stable colour per segment, shared by every chart on the page: pass every segment's
    name in the segmentation's order (not only those in the selection), so a filter never
    recolours a segment."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def segment_churn_chart(rows: list[dict], colours: dict[str, str], overall: float | None,
                        selected: list[str] | None = None, height: int = 300) -> Figure:
    """Share of each segment's customers who have left, bars in the segment's colour with
    95% interval whiskers; a bar click drills into the segment (customdata[0] = name).

    rows: dicts with name, n, churned, rate, lo, hi (rates as fractions)."""
    title = "Churn rate by segment (% of customers who have left)"
    rows = [r for r in rows if r["n"] > 0 and r["rate"] is not None]
    if not rows:
        return empty_figure("No customers match the filters", title, height)
    names = [r["name"] for r in rows]
    rates = [100 * r["rate"] for r in rows]
    bar = {
        "type": "bar", "x": rates, "y": names, "orientation": "h",
        "marker": {"color": [colours.get(n, MUTED) for n in names],
                   "opacity": [1 if not selected or n in selected else 0.3 for n in names]},
        "customdata": [[n, r["n"], r["churned"]] for n, r in zip(names, rows)],
        "error_x": {"type": "data", "symmetric": False, "color": "#495057", "thickness": 1.2,
                    "array": [100 * ((r["hi"] or r["rate"]) - r["rate"]) for r in rows],
                    "arrayminus": [100 * (r["rate"] - (r["lo"] or r["rate"])) for r in rows]},
        "hovertemplate": "<b>%{customdata[0]}</b><br>%{x:.1f}% have left<br>"
                         "%{customdata[2]:,} of %{customdata[1]:,} customers"
                         "<br>Click to list them<extra></extra>",
    }
    # The rate written past the whisker (bar text would sit under it).
    notes = [{"text": f"{v:.0f}%", "x": 100 * (r["hi"] if r["hi"] is not None else r["rate"]),
              "y": n, "xanchor": "left", "xshift": 4, "showarrow": False,
              "font": {"size": 11, "color": "#343a40"}} for n, v, r in zip(names, rates, rows)]
    shapes = []
    if overall is not None:
        shapes.append({"type": "line", "x0": 100 * overall, "x1": 100 * overall, "y0": 0,
                       "y1": 1, "yref": "paper",
                       "line": {"dash": "dot", "color": "#495057", "width": 1}})
        notes.append({"text": f"all: {100 * overall:.0f}%", "x": 100 * overall, "y": 1,
                      "yref": "paper", "yanchor": "bottom", "showarrow": False,
                      "font": {"size": 11}})
    top = max(100 * (r["hi"] if r["hi"] is not None else r["rate"]) for r in rows)
    return plain_figure([bar], base_layout(
        title, height, shapes=shapes, annotations=notes, bargap=0.3,
        xaxis={"title": {"text": "Have left (%), with 95% interval"}, "ticksuffix": "%",
               "range": [0, min(100, top * 1.12 + 6)], "gridcolor": GRID, "zeroline": False},
        yaxis={"autorange": "reversed", "automargin": True},
        margin={"l": 8, "r": 24, "t": 52, "b": 40}))


def silhouette_chart(silhouette: dict, inertia: dict, chosen: int,
                     height: int = 320) -> Figure:
    """Silhouette (higher is better) and inertia (the elbow) for every K tried."""
    title = "Choosing the number of segments (K)"
    ks = sorted(int(k) for k in silhouette)
    if not ks:
        return empty_figure("A single segment: too few customers or profiles to cluster",
                            title, height)
    sil = [silhouette[k] for k in ks]
    data = [
        {"type": "scatter", "x": ks, "y": sil, "mode": "lines+markers", "name": "silhouette",
         "line": {"color": PALETTE[0], "width": 2},
         "marker": {"size": [12 if k == chosen else 6 for k in ks],
                    "color": [PALETTE[1] if k == chosen else PALETTE[0] for k in ks]},
         "hovertemplate": "K=%{x}: silhouette %{y:.3f}<extra></extra>"},
        {"type": "scatter", "x": ks, "y": [inertia.get(k) for k in ks], "yaxis": "y2",
         "mode": "lines", "name": "inertia", "line": {"color": "#868e96", "dash": "dot"},
         "hovertemplate": "K=%{x}: inertia %{y:,.0f}<extra></extra>"},
    ]
    return plain_figure(data, base_layout(
        title, height, showlegend=True,
        legend={"orientation": "h", "y": -0.25, "x": 0, "yanchor": "top"},
        xaxis={"title": {"text": "Number of segments (K)", "standoff": 4}, "dtick": 1},
        margin={"l": 8, "r": 16, "t": 44, "b": 80},
        yaxis={"title": {"text": "Silhouette (higher = better)"}, "gridcolor": GRID},
        yaxis2={"title": {"text": "Inertia (sum of squared distances)"}, "overlaying": "y",
                "side": "right", "showgrid": False},
        annotations=[{"text": f"chosen: K={chosen}", "x": chosen, "y": silhouette[chosen],
                      "showarrow": True, "arrowhead": 0, "ay": -28, "font": {"size": 11}}]))


def tier_heatmap(segments: list[str], tiers: list[str], counts: list[list[int]],
                 churned: list[list[int]], active: list[list[int]] | None = None,
                 height: int = 320) -> Figure:
    """Segment (rows) x risk tier (columns), coloured by the share of the cell's customers
    who have left, the customer count written in each cell (the hover adds how many are
    still active: what the drilled-down list shows); a cell click drills down."""
    title = "Churn rate by segment and risk tier (numbers: customers)"
    if not segments or not sum(map(sum, counts)):
        return empty_figure("No customers match the filters", title, height)
    rates = [[100 * c / n if n else None for n, c in zip(row, done)]
             for row, done in zip(counts, churned)]
    data = [{"type": "heatmap", "z": rates, "x": tiers, "y": segments,
             "text": [[f"{n:,}" for n in row] for row in counts], "texttemplate": "%{text}",
             "textfont": {"size": 12},
             "customdata": [[(f"{r:.0f}% have left" if r is not None else "nobody here")
                             + (f" · {a:,} still active" if active and r is not None else "")
                             for r, a in zip(row, act)]
                            for row, act in zip(rates, active or counts)],
             "colorscale": CHURN_SCALE, "zmin": 0, "zmax": 100, "hoverongaps": True,
             "xgap": 2, "ygap": 2,
             "colorbar": {"title": {"text": "Have left (%)", "side": "right"},
                          "ticksuffix": "%", "thickness": 12, "len": 0.9},
             "hovertemplate": "<b>%{y}</b> · %{x} risk<br>%{text} customers<br>"
                              "%{customdata}<br>Click to list them<extra></extra>"}]
    return plain_figure(data, base_layout(
        title, height, plot_bgcolor="#f8f9fa",
        xaxis={"title": {"text": "Risk tier (model churn probability)"}},
        yaxis={"autorange": "reversed", "automargin": True},
        margin={"l": 8, "r": 8, "t": 44, "b": 40}))


def survival_chart(curves: dict[str, dict], colours: dict[str, str] | None = None,
                   title: str = "Still active by months since joining (Kaplan-Meier)",
                   height: int = 340, empty_message: str | None = None) -> Figure:
    """Share of customers still active after each month of tenure, one line per group;
    without curves, `empty_message` (by default: too few customers) in their place."""
    if not curves:
        return empty_figure(empty_message or "Not enough customers for a retention curve "
                            "(30 per group)", title, height)
    colours = colours or {}
    order = {name: i for i, name in enumerate(colours)}  # the segments' order, then the rest
    data = []
    for i, (name, c) in enumerate(sorted(curves.items(),
                                         key=lambda item: order.get(item[0], len(order)))):
        colour = colours.get(name, PALETTE[i % len(PALETTE)])
        data.append({"type": "scatter", "x": c["month"], "y": c["survival"], "name": name,
                     "mode": "lines", "line": {"color": colour, "width": 2, "shape": "hv"},
                     "hovertemplate": f"<b>{name}</b><br>month %{{x}}: %{{y:.1%}} still "
                                      "active<extra></extra>"})
    return plain_figure(data, base_layout(
        title, height, showlegend=True, legend={"font": {"size": 11}},
        xaxis={"title": {"text": "Months since joining"}, "gridcolor": GRID},
        yaxis={"title": {"text": "Still active (%)"}, "tickformat": ".0%", "range": [0, 1.02],
               "gridcolor": GRID}))


MONTHLY_AXIS = {"label": "Monthly charges", "unit": "money", "currency": "$"}


def _axis_text(axis: dict) -> tuple[str, dict, str]:
    """(y-axis title, its tick format, the hover's value) for a value axis: money a month,
    months, or a plain number."""
    label, unit, currency = axis["label"], axis.get("unit", ""), axis.get("currency", "$")
    if unit == "money":
        prefix = f"{currency} " if currency[-1:].isalpha() else currency
        return (f"{label} ({currency} a month)", {"tickprefix": prefix, "tickformat": ",.0f"},
                f"{prefix}%{{y:,.0f}} a month")
    if unit == "months":
        return (f"{label} (months)", {"tickformat": ",.0f"}, "%{y:,.0f} months")
    return label, {}, f"{label[:1].lower()}{label[1:]} %{{y:,.2~f}}"


def risk_value_scatter(points: dict, colours: dict[str, str], total: int,
                       axis: dict | None = MONTHLY_AXIS, height: int = 340,
                       empty_message: str = "Nothing to plot against the churn risk"
                       ) -> Figure:
    """A value (`axis`: {"label", "unit": "money" a month, "months" or "", "currency"};
    by default the monthly charges) against the churn probability for a sample, coloured
    by segment, titled '<label> vs churn risk'; without an axis, `empty_message`."""
    if axis is None:
        return empty_figure(empty_message, "Churn risk", height)
    title = f"{axis['label']} vs churn risk"
    if not points or not points.get("probability"):
        return empty_figure("No customers match the filters", title, height)
    shown = len(points["probability"])
    if shown < total:
        title += f" (random {shown:,} of {total:,} customers)"
    y_title, y_format, hover = _axis_text(axis)
    data = []
    for name in colours or dict.fromkeys(points["segment"]):
        idx = [i for i, s in enumerate(points["segment"]) if s == name]
        if not idx:
            continue
        data.append({"type": "scatter", "mode": "markers", "name": name,
                     "x": [points["probability"][i] for i in idx],
                     "y": [points["value"][i] for i in idx],
                     "customdata": [points["customer_id"][i] for i in idx],
                     "marker": {"size": 5, "opacity": 0.6, "color": colours.get(name, MUTED)},
                     "hovertemplate": "%{customdata}<br>churn risk %{x:.0%} · "
                                      f"{hover}<br>{name}<extra></extra>"})
    return plain_figure(data, base_layout(
        title, height, showlegend=True, legend={"font": {"size": 11}, "itemsizing": "constant"},
        xaxis={"title": {"text": "Churn probability (model)"}, "tickformat": ".0%",
               "range": [0, 1], "gridcolor": GRID},
        yaxis={"title": {"text": y_title}, **y_format, "gridcolor": GRID}))


def _table_columns(shows: dict) -> list[tuple[str, object]]:
    """The table's columns after the segment, (header, cell of a segment), for this data:
    money only with a revenue, the acquisition columns only with a cost."""
    cur = shows["currency"]

    def cash(key):
        return lambda s: money(s[key], currency=cur)

    columns = [(shows["customers"].capitalize(), lambda s: fmt_int(s["n"])),
               ("Have left", lambda s: percent(s["rate"], 1))]
    if shows["revenue"]:
        columns += [("Pays a month", cash("arpu")), ("Lifetime value", cash("clv")),
                    ("Monthly revenue", cash("monthly_revenue")),
                    ("Revenue at risk a month", cash("revenue_at_risk"))]
    if shows["acquisition"]:
        columns.append(("CAC", cash("cac")))
        if shows["revenue"]:
            columns += [("CLV:CAC", lambda s: fmt_value(s["clv_cac"], "ratio")),
                        ("Payback", lambda s: fmt_value(s["payback_months"], "months"))]
    return columns + [("Churn risk (model)", lambda s: percent(s["mean_risk"], 1)),
                      ("Outliers", lambda s: fmt_int(s["outliers"]))]


def _table_note(shows: dict) -> str:
    many = shows["customers"]
    notes = []
    if shows["revenue"] or shows["acquisition"]:
        notes.append(f"Money in {CURRENCY_NAMES.get(shows['currency'], shows['currency'])}.")
    if shows["revenue"]:
        notes.append(f"Pays a month, lifetime value and revenue count active {many} only.")
    if shows["acquisition"]:
        notes.append(f"CAC: the mean acquisition cost of the active {many}"
                     + ("; CLV:CAC, lifetime value per CAC; payback, months of margin to "
                        "earn the CAC back (CAC / (pays a month x margin))."
                        if shows["revenue"] else "."))
    notes.append(f"Outliers are {many} far from their segment's centre (flagged, not "
                 "dropped).")
    text = " ".join(notes)
    return text[:1].upper() + text[1:]


def segment_table(segments: list[dict], colours: dict[str, str], shows: dict) -> dbc.Card:
    """"All segments at a glance": a row per segment (dicts of the Segments service's view)
    and the columns this data has (`shows`: revenue, acquisition, currency and the word for
    customers, as the service's `shows()`), with a note on what the money counts."""
    columns = _table_columns(shows)
    right = {"className": "text-end"}
    rows = [html.Tr([html.Td([html.Span(className="segment-dot me-2",
                                        style={"background": colours[s["name"]]}), s["name"]])]
                    + [html.Td(cell(s), **right) for _, cell in columns]) for s in segments]
    head = html.Thead(html.Tr([html.Th("Segment")] + [html.Th(h) for h, _ in columns]))
    table = dbc.Table([head, html.Tbody(rows)],
                      size="sm", hover=True, responsive=True, className="mb-0 metrics-table")
    note = html.Div(_table_note(shows), className="small text-muted mt-1")
    return section("All segments at a glance", [table, note])


__all__ = ["MONTHLY_AXIS", "PALETTE", "TIER_COLOURS", "money", "percent", "risk_value_scatter",
           "segment_churn_chart", "segment_colours", "segment_table", "silhouette_chart",
           "survival_chart", "tier_heatmap"]
