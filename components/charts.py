"""Pure figure builders: plain data in, a figure (`Figure`, the plain dict dcc.Graph draws) out."""

from __future__ import annotations


FONT = "Inter, system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
ABOVE = "#d9485f"   # churn above the selection's overall rate
BELOW = "#2b8a8a"   # at or below it
MUTED = "#ced4da"
TIER_COLOURS = {"High": "#d9485f", "Medium": "#f0a202", "Low": "#2b8a8a"}


def base_layout(title: str, height: int, **extra) -> dict:
    """The shared look. Figures are built from one layout dict: plotly's incremental
    update_* calls cost ~10 ms each, which adds up on every filter change."""
    layout = {
        "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}},
        "font": {"family": FONT, "size": 12, "color": "#343a40"},
        "height": height, "margin": {"l": 8, "r": 16, "t": 44, "b": 40},
        "plot_bgcolor": "white", "paper_bgcolor": "white", "showlegend": False,
        "hoverlabel": {"font": {"family": FONT}}, "clickmode": "event",
        "uniformtext": {"minsize": 10, "mode": "hide"},
    }
    layout.update(extra)
    return layout


class Props(dict):
    """A dict whose keys read as attributes, as plotly's objects do (`fig.layout.title.text`);
    a missing key reads as None. Nested dicts and lists of dicts read the same way; writing
    an attribute writes the key."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return _props(self.get(name))

    def __setattr__(self, name: str, value) -> None:
        self[name] = value


def _props(value):
    if isinstance(value, dict) and not isinstance(value, Props):
        return _View(value)
    if isinstance(value, list):
        return [_props(v) for v in value]
    return value


class _View(Props):
    """Props over an existing dict (writes go to it, so `fig.layout.margin.t = 84` sticks)."""

    def __init__(self, target: dict) -> None:
        dict.__init__(self, target)
        object.__setattr__(self, "_target", target)

    def __setattr__(self, name: str, value) -> None:
        self._target[name] = value
        dict.__setitem__(self, name, value)


class Figure(dict):
    """A Plotly figure as the plain dict dcc.Graph draws: {"data": [...], "layout": {...}}.

    Building and serialising a figure costs ~13 ms a figure even unvalidated (trace
    objects, then deep copies on the way out); this costs nothing, which matters on every
    filter change of every user. `fig.data[0].y`, `fig.layout.title.text` and
    `to_plotly_json()` read as on a figure; `go.Figure(fig.to_plotly_json())` validates
    it strictly (the tests do, for every builder)."""

    @property
    def data(self) -> list:
        return _props(self["data"])

    @property
    def layout(self) -> Props:
        return _props(self["layout"])

    def to_plotly_json(self) -> dict:
        return {"data": self["data"], "layout": self["layout"]}

    to_dict = to_plotly_json


def _template() -> dict:
    """Plotly's default template as plain JSON, made once: a `go.Figure` carried it into
    every figure (automargin, colourway, fonts), so the charts look as they did."""
    import plotly.io as pio
    return pio.templates[pio.templates.default].to_plotly_json()


TEMPLATE = _template()


# The trace types of plotly.js' "cartesian" partial bundle, the one the browser gets
# (dashboard/bundles.py): a figure of any other type would stay blank there.
TRACES = frozenset({"bar", "box", "contour", "heatmap", "histogram", "histogram2d",
                    "histogram2dcontour", "image", "pie", "scatter", "scatterternary",
                    "violin"})


def plain_figure(data: list[dict], layout: dict) -> Figure:
    """A figure from plain dicts, without plotly's objects or validation; the tests
    validate every builder's output once, strictly."""
    unknown = {trace.get("type", "scatter") for trace in data} - TRACES
    if unknown:  # the browser's plotly.js (dashboard/bundles.py) would draw nothing
        raise ValueError(f"trace type(s) {sorted(unknown)} are not in the plotly.js bundle "
                         "the dashboard serves (components/charts.py TRACES)")
    layout.setdefault("template", TEMPLATE)
    return Figure(data=list(data), layout=layout)


def empty_figure(message: str, title: str = "", height: int = 260) -> Figure:
    """A blank chart that says why it is blank."""
    return plain_figure([], base_layout(
        title, height, xaxis={"visible": False}, yaxis={"visible": False},
        annotations=[{"text": message, "x": 0.5, "y": 0.5, "xref": "paper", "yref": "paper",
                      "showarrow": False, "font": {"size": 13, "color": "#868e96"}}]))


def colour_key(*items: tuple[str, str]) -> str:
    """A one-line legend for a chart's subtitle: coloured squares and what they mean."""
    return "   ".join(f"<span style='color:{colour}'>■</span> {text}" for colour, text in items)


def rate_chart(rows: list[dict], title: str, overall: float | None,
               selected: list[str] | None = None, height: int = 260,
               context: str | None = None, noun: str = "customers") -> Figure:
    """Churn rate by group as horizontal bars with 95% interval whiskers.

    rows: dicts with group, n, churned, rate, lo, hi (rates as fractions). Groups with no
    customers in the selection are left out; `selected` groups are drawn solid, others faded
    (so a drilled group stays in context). `overall` is the rate the colours compare with
    (the dotted line); `context` says which customers it is over when not the selection;
    `noun` is what the data calls its customers.
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
    bar = dict(
        type="bar", x=rates, y=groups, orientation="h", marker={"color": colours},
        customdata=[[g, r["n"], r["churned"]] for g, r in zip(groups, rows)],
        error_x={"type": "data", "symmetric": False, "color": "#495057", "thickness": 1.2,
                 "array": [100 * (r["hi"] - r["rate"]) for r in rows],
                 "arrayminus": [100 * (r["rate"] - r["lo"]) for r in rows]},
        text=[f"{v:.1f}%" for v in rates], textposition="inside", insidetextanchor="start",
        textangle=0, textfont={"color": "white"},
        hovertemplate="<b>%{customdata[0]}</b><br>Churn rate %{x:.1f}%<br>"
                      f"%{{customdata[2]:,}} of %{{customdata[1]:,}} {noun} churned"
                      "<br>Click to filter<extra></extra>",
    )
    shapes, notes = [], []
    above = "above the overall rate"
    if overall is not None:
        shapes.append({"type": "line", "x0": 100 * overall, "x1": 100 * overall, "y0": 0,
                       "y1": 1, "yref": "paper",
                       "line": {"dash": "dot", "color": "#495057", "width": 1}})
        # The rate's label sits over the dotted line, in the row of the colour key; a line in
        # the left half of the axis would put it on the key, and so would a key that also
        # names the faded bars and whose rate it is: the key names the rate instead.
        top = max([r["hi"] for r in rows if r["hi"] is not None], default=overall)
        if overall < 0.5 * top or selected or context:
            whose = f" {context}" if context else ""
            above = f"above the overall {100 * overall:.1f}%{whose} (dotted)"
            context = None
        else:
            notes.append({"text": f"overall {100 * overall:.1f}%", "x": 100 * overall, "y": 1,
                          "yref": "paper", "yanchor": "bottom", "showarrow": False,
                          "font": {"size": 11}})
    key = colour_key((ABOVE, above), (BELOW, "at or below it"),
                     *([(MUTED, "not selected")] if selected else []))
    if context:
        key += f" · overall {context}"
    layout = base_layout(title, height, shapes=shapes, annotations=notes,
        xaxis={"title": {"text": "Churn rate (%), 95% interval"}, "ticksuffix": "%",
               "rangemode": "tozero", "gridcolor": "#f1f3f5", "zeroline": False},
        yaxis={"autorange": "reversed", "automargin": True},
        margin={"l": 8, "r": 16, "t": 62, "b": 40})
    layout["title"]["subtitle"] = {"text": key, "font": {"size": 11, "color": "#6c757d"}}
    return plain_figure([bar], layout)


def tier_chart(rows: list[dict], title: str = "Customers by risk tier",
               selected: list[str] | None = None, height: int = 260,
               noun: str = "customers") -> Figure:
    """Customers per risk tier (High / Medium / Low) with counts and shares."""
    if not rows or sum(r["n"] for r in rows) == 0:
        return empty_figure("No customers match the filters", title, height)
    tiers = [r["tier"] for r in rows]
    colours = [TIER_COLOURS.get(t, MUTED) if not selected or t in selected else MUTED
               for t in tiers]
    bar = dict(
        type="bar", x=tiers, y=[r["n"] for r in rows], marker={"color": colours},
        customdata=[[r["tier"], 100 * (r["share"] or 0)] for r in rows],
        text=[f"{r['n']:,} ({100 * (r['share'] or 0):.0f}%)" for r in rows],
        textposition="outside", cliponaxis=False,
        hovertemplate=f"<b>%{{customdata[0]}} risk</b><br>%{{y:,}} {noun} "
                      "(%{customdata[1]:.1f}%)<br>Click to filter<extra></extra>",
    )
    return plain_figure([bar], base_layout(
        title, height,
        yaxis={"title": {"text": noun.capitalize()}, "gridcolor": "#f1f3f5",
               "rangemode": "tozero"},
        xaxis={"title": {"text": "Risk tier (model churn probability)"}}))


def waterfall_chart(base: float, items: list[dict], prediction: float,
                    title: str = "Why this score: contributions in percentage points",
                    height: int = 380) -> Figure:
    """From the model's baseline churn probability to this customer's, one bar per reason.

    base and prediction in %, items: dicts with label and points (positive raises risk).
    Drawn as floating bars (each starts where the one above ended), as a waterfall trace
    would draw it: the bundle the browser gets has no waterfall trace (TRACES)."""
    labels = ["Model's average score"] + [i["label"] for i in items] + ["This customer"]
    steps = [float(i["points"]) for i in items]
    starts, level = [0.0], float(base)
    for step in steps:
        starts.append(level)
        level += step
    starts.append(0.0)
    values = [base] + steps + [prediction]
    text = [f"{base:.1f}%"] + [f"{v:+.1f}" for v in steps] + [f"{prediction:.1f}%"]
    colours = ["#495057"] + [ABOVE if v >= 0 else BELOW for v in steps] + ["#495057"]
    bar = dict(type="bar", orientation="h", y=labels, x=values, base=starts, text=text,
               textposition="outside", cliponaxis=False, marker={"color": colours},
               hovertemplate="%{y}: %{text}<extra></extra>")
    ends = [s + v for s, v in zip(starts, values)]
    # The thin connectors between one bar's end and the next bar's start.
    connectors = [{"type": "line", "xref": "x", "yref": "y", "x0": end, "x1": end,
                   "y0": k, "y1": k + 1, "layer": "below",
                   "line": {"color": "#ced4da", "width": 1}}
                  for k, end in enumerate(ends[:-1])]
    return plain_figure([bar], base_layout(
        title, height, xaxis={"title": {"text": "Churn probability (%)"}, "ticksuffix": "%",
                              "gridcolor": "#f1f3f5", "rangemode": "tozero"},
        yaxis={"autorange": "reversed", "automargin": True, "type": "category"},
        shapes=connectors, showlegend=False, bargap=0.35,
        margin={"l": 8, "r": 40, "t": 44, "b": 40}))


def moved_chart(items: list[dict], title: str = "Which reasons moved (percentage points)",
                height: int = 300) -> Figure:
    """Per-feature change in the SHAP contribution between now and the what-if.

    items: dicts with label and points (negative lowers the risk)."""
    if not items:
        return empty_figure("Change an input to see which reasons move.", title, height)
    items = items[::-1]
    bar = dict(type="bar", orientation="h", y=[i["label"] for i in items],
               x=[i["points"] for i in items],
               marker={"color": [BELOW if i["points"] < 0 else ABOVE for i in items]},
               text=[f"{i['points']:+.1f}" for i in items], textposition="auto",
               insidetextanchor="middle", cliponaxis=False,
               hovertemplate="%{y}: %{x:+.2f} pts<extra></extra>")
    return plain_figure([bar], base_layout(
        title, height, xaxis={"title": {"text": "Change in churn probability (pts)"},
                              "zeroline": True, "zerolinecolor": "#868e96",
                              "gridcolor": "#f1f3f5"},
        yaxis={"automargin": True}, margin={"l": 8, "r": 40, "t": 44, "b": 40}))


def gains_chart(curve: dict, best_size: int, capacity_size: int | None,
                title: str = "Cumulative expected profit by customers contacted",
                height: int = 340) -> Figure:
    """The targeting curve: customers sorted by expected profit, best first."""
    x, y = curve["contacted"], curve["cumulative_profit"]
    if len(x) < 2:
        return empty_figure("No active customers in this selection.", title, height)
    traces = [dict(type="scatter", mode="lines", x=x, y=y, name="Cumulative expected profit",
                   line={"color": BELOW, "width": 2.5},
                   hovertemplate="%{x:,} contacted: $%{y:,.0f}<extra></extra>")]
    best_y = y[x.index(best_size)] if best_size in x else None
    traces.append(dict(type="scatter", mode="markers+text", x=[best_size], y=[best_y],
                       name="Most profitable list size", marker={"color": ABOVE, "size": 11},
                       text=[f"max: {best_size:,}"], textposition="top center",
                       hovertemplate="Contact %{x:,}: $%{y:,.0f}<extra></extra>"))
    shapes = []
    if capacity_size is not None:
        shapes.append({"type": "line", "x0": capacity_size, "x1": capacity_size, "y0": 0,
                       "y1": 1, "yref": "paper", "line": {"color": "#495057", "dash": "dot"}})
    return plain_figure(traces, base_layout(
        title, height, shapes=shapes, showlegend=False,
        xaxis={"title": {"text": "Customers contacted (highest expected profit first)"},
               "gridcolor": "#f1f3f5", "rangemode": "tozero"},
        yaxis={"title": {"text": "Cumulative expected profit ($)"}, "gridcolor": "#f1f3f5",
               "tickprefix": "$"}))


def offer_mix_chart(mix: list[dict], title: str = "Recommended offers (customers worth "
                    "contacting)", height: int = 340) -> Figure:
    if not mix:
        return empty_figure("No offer pays for any customer in this selection.", title, height)
    rows = mix[::-1]
    bar = dict(type="bar", orientation="h", y=[r["offer"] for r in rows],
               x=[r["n"] for r in rows], marker={"color": BELOW},
               customdata=[[r["profit"]] for r in rows],
               text=[f"{r['n']:,}" for r in rows], textposition="outside", cliponaxis=False,
               hovertemplate="%{y}<br>%{x:,} customers<br>expected profit "
                             "$%{customdata[0]:,.0f}<extra></extra>")
    return plain_figure([bar], base_layout(
        title, height, xaxis={"title": {"text": "Customers"}, "gridcolor": "#f1f3f5"},
        yaxis={"automargin": True}, margin={"l": 8, "r": 40, "t": 44, "b": 40}))
