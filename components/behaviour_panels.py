"""The Behaviour page's pieces: the early-warning grid's columns, the "why they said they
left" charts, and the empty state of data without event tables. Plain data in, Dash
components or figure out."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.charts import ABOVE, BELOW, MUTED, Figure, base_layout, empty_figure, plain_figure
from components.feedback import empty_state
from components.list_columns import STATUS_STYLE, TIER_STYLE, WRAP

GRAPH_CONFIG = {"displayModeBar": False, "responsive": True}
CHART_HEIGHT = 400
NEUTRAL = 0.05          # |mean sentiment| below this reads as neutral
PCT = {"function": "params.value == null ? '' : d3.format('.1%')(params.value)"}
SIGNED_PCT = {"function": "params.value == null ? '' : d3.format('+.0%')(params.value)"}
NUMBER = {"type": "rightAligned", "filter": "agNumberColumnFilter"}
TEXT = {"filter": "agTextColumnFilter"}
FELL_STYLE = {"styleConditions": [
    {"condition": "params.value != null && params.value < 0", "style": {"color": "#c92a3f"}}]}


def arrow(before: str, after: str, fmt: str, unit: str | None = None) -> dict:
    """A valueGetter: '41.2 → 15.7 data GB' from two number fields of the row (and a text
    field with the unit); blank when neither number is known. One expression, as AG Grid's
    function strings in Dash take no function definitions."""
    def side(field):
        return f"(params.data.{field} == null ? '–' : d3.format('{fmt}')(params.data.{field}))"
    tail = f" + (params.data.{unit} ? ' ' + params.data.{unit} : '')" if unit else ""
    return {"function": f"(params.data.{before} == null && params.data.{after} == null) ? '' "
                        f": {side(before)} + ' → ' + {side(after)}{tail}"}


def warning_columns(labels: dict[str, str], noun: str = "Customer") -> list[dict]:
    """The early-warning grid's columns: the fixed ones, and those `labels` names (field ->
    header: usage_change_30d, usage_previous_30d, sentiment_previous_60d, negative_30d)
    where the data has them. The before -> after columns read usage_previous_30d,
    usage_last_30d and usage_measure, sentiment_previous_60d and sentiment_last_30d."""
    columns = [
        {"field": "customer_id", "headerName": noun.capitalize(), "pinned": "left",
         "width": 130, "cellClass": "customer-link", **TEXT},
        {"field": "churn_probability", "headerName": "Churn risk", "valueFormatter": PCT,
         "width": 122, "sort": "desc", **NUMBER},
        {"field": "risk_tier", "headerName": "Tier", "width": 86, "cellStyle": TIER_STYLE,
         **TEXT}]
    if "usage_change_30d" in labels:
        columns += [
            {"field": "usage_change_30d", "headerName": labels["usage_change_30d"],
             "width": 122, "valueFormatter": SIGNED_PCT, "cellStyle": FELL_STYLE, **NUMBER},
            {"colId": "usage_previous_30d", "headerName": labels["usage_previous_30d"],
             "width": 170, "valueGetter": arrow("usage_previous_30d", "usage_last_30d", ",.1f",
                                                 "usage_measure"), **WRAP}]
    if "sentiment_previous_60d" in labels:
        columns.append({"colId": "sentiment_previous_60d", "width": 150, "sortable": False,
                        "headerName": labels["sentiment_previous_60d"],
                        "valueGetter": arrow("sentiment_previous_60d", "sentiment_last_30d",
                                             "+.2f")})
    if "negative_30d" in labels:
        columns.append({"field": "negative_30d", "headerName": labels["negative_30d"],
                        "width": 104, **NUMBER})
    columns += [
        {"field": "reason_1", "headerName": "Top reason (model)", "width": 230, **WRAP},
        {"field": "status", "headerName": "Status", "width": 96, "cellStyle": STATUS_STYLE,
         **TEXT},
        {"field": "segment", "headerName": "Segment", "width": 170, **TEXT}]
    return columns


def reasons_chart(rows: list[dict], n: int, title: str = "Reasons they gave",
                  height: int = CHART_HEIGHT) -> Figure:
    """Reason codes as horizontal bars: the share of the `n` leavers with feedback who gave
    each (rows: reason, n, share), the counts in the hover."""
    if not rows:
        return empty_figure("No reason codes in this selection", title, height)
    return _share_bars([r["reason"] for r in rows], rows, title, height,
                       f"Share of the {n:,} leavers with feedback (%)",
                       f"%{{customdata[0]:,}} of the {n:,} leavers with feedback")


def words_chart(rows: list[dict], n: int, title: str = "Words they used most",
                height: int = CHART_HEIGHT) -> Figure:
    """The top words of the free text (rows: word, n = leavers who used it, share of the
    `n` leavers who wrote something)."""
    if not rows:
        return empty_figure("No free text in this selection", title, height)
    return _share_bars([r["word"] for r in rows], rows, title, height,
                       f"Share of the {n:,} leavers who wrote something (%)",
                       f"used by %{{customdata[0]:,}} of the {n:,} leavers who wrote")


def _share_bars(labels, rows, title, height, axis, hover) -> Figure:
    bar = dict(type="bar", orientation="h", y=labels, x=[100 * r["share"] for r in rows],
               marker={"color": BELOW}, customdata=[[r["n"]] for r in rows],
               width=_bar_width(len(rows)),
               text=[f"{100 * r['share']:.0f}%" for r in rows], textposition="outside",
               cliponaxis=False,
               hovertemplate=f"<b>%{{y}}</b><br>%{{x:.1f}}%: {hover}<extra></extra>")
    return plain_figure([bar], base_layout(
        title, height, xaxis={"title": {"text": axis}, "ticksuffix": "%",
                              "rangemode": "tozero", "gridcolor": "#f1f3f5"},
        yaxis={"autorange": "reversed", "automargin": True, "dtick": 1},
        margin={"l": 8, "r": 40, "t": 44, "b": 44}))


def sentiment_chart(rows: list[dict], title: str = "Mean sentiment of what they wrote, by "
                    "segment", height: int = CHART_HEIGHT) -> Figure:
    """Mean sentiment (-1 negative to +1 positive) of the leavers' feedback per segment
    (rows: segment, mean, n), most negative first."""
    rows = [r for r in rows if r["n"] > 0]
    if not rows:
        return empty_figure("No sentiment scores in this selection", title, height)
    colours = [ABOVE if r["mean"] <= -NEUTRAL else BELOW if r["mean"] >= NEUTRAL else MUTED
               for r in rows]
    bar = dict(type="bar", orientation="h", y=[r["segment"] for r in rows],
               x=[r["mean"] for r in rows], marker={"color": colours},
               width=_bar_width(len(rows)),
               customdata=[[r["n"]] for r in rows], text=[f"{r['mean']:+.2f}" for r in rows],
               textposition="outside", cliponaxis=False,
               hovertemplate="<b>%{y}</b><br>mean sentiment %{x:+.2f}<br>"
                             "%{customdata[0]:,} leavers with a scored text<extra></extra>")
    # A symmetric axis around neutral, wide enough for the strongest mean and its label.
    reach = min(1.0, max(0.25, 1.7 * max(abs(r["mean"]) for r in rows)))
    return plain_figure([bar], base_layout(
        title, height, xaxis={"title": {"text": "Mean sentiment (−1 negative … +1 positive)"},
                              "range": [-reach, reach], "zeroline": True,
                              "zerolinecolor": "#868e96", "gridcolor": "#f1f3f5"},
        yaxis={"autorange": "reversed", "automargin": True, "dtick": 1},
        margin={"l": 8, "r": 40, "t": 44, "b": 44}))


def _bar_width(n: int) -> float:
    """Bars as thick as usual for six or more, thinner for a few (two bars in a tall card
    would each fill half of it)."""
    return min(0.8, 0.1 + 0.12 * n)


def why_left_panel(data: dict, graph_ids: tuple[str, str, str], noun: str) -> list:
    """The three charts of `why_left` data, or an empty state saying what is missing."""
    if not data.get("available"):
        return [empty_state("This data has no feedback written by leavers.",
                            "Add an outcome table (role = \"outcome\": a reason code and/or "
                            "the text each leaver wrote) to see why they said they left.")]
    if not data["n_feedback"]:
        return [empty_state(f"None of the {data['n_leavers']:,} {noun} in this selection "
                            "who left wrote any feedback.", "Widen the filters above.")]
    figures = (reasons_chart(data["reasons"], data["n_feedback"]),
               words_chart(data["words"], data["n_text"]), sentiment_chart(data["segments"]))
    cards = [dbc.Col(dbc.Card(dcc.Graph(id=graph_id, figure=figure, config=GRAPH_CONFIG,
                                        style={"height": f"{CHART_HEIGHT}px"}),
                              body=True, className="chart-card h-100"), lg=6, xl=4,
                     className="mb-3") for graph_id, figure in zip(graph_ids, figures)]
    return [html.Div(f"{data['n_feedback']:,} of the {data['n_leavers']:,} {noun} in this "
                     f"selection who left gave feedback ({data['source']}); each one's latest "
                     "answer counts once.", className="small text-muted mb-2"),
            dbc.Row(cards, className="g-3")]


def no_events_state(noun: str) -> html.Div:
    """What to add to see behaviour, for data without event tables."""
    return html.Div([
        empty_state("This data has no behaviour over time: no usage, ticket or e-mail "
                    "tables are linked to it."),
        dbc.Card(dbc.CardBody([
            html.H6("To see the early-warning list and why leavers left", className="mb-2"),
            html.Ol([
                html.Li([f"Put the {noun}' table and the event tables in one folder: usage "
                         "(role ", html.Code("events"), ", with measures such as data or "
                         "minutes), support tickets (", html.Code("tickets"), ", with their "
                         "text: its sentiment is scored), e-mails or plan changes (",
                         html.Code("history"), "). Each row needs the id and a date."]),
                html.Li(["For \"why they said they left\", add the feedback leavers wrote "
                         "(role ", html.Code("outcome"), ": a reason code and the text). It "
                         "is read after the fact and never feeds the model."]),
                html.Li(["Name the tables in the config's ", html.Code("[[tables]]"),
                         " and start with ", html.Code("--data FOLDER --config FILE.toml"),
                         ": see README.md, ",
                         html.Em("Behaviour over time: linked tables and events"), "."]),
            ], className="small mb-2 ps-3"),
            html.Div(["The built-in demo has all of them: start ChurnLens without ",
                      html.Code("--data"), " (and without ", html.Code("--no-demo-events"),
                      ")."], className="small text-muted"),
        ]), className="section-card mx-auto", style={"maxWidth": "46rem"}),
    ])
