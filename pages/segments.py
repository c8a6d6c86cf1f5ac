"""Segments: behavioural groups, what they are worth and risk, retention; drill into members.

What the page shows follows the data (the service's `shows()`): without a revenue column
the money lines and columns are left out and the page says once what they need; with an
acquisition cost the table adds CAC, CLV:CAC and payback months; without a tenure the
retention curves give way to a note."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, callback, ctx, dcc, html, no_update

from components.charts import empty_figure
from components.feedback import empty_state
from components.kpi import fmt_int
from components.segment_charts import (money, percent, risk_value_scatter,
                                       segment_churn_chart, segment_colours, segment_table,
                                       silhouette_chart, survival_chart, tier_heatmap)
from dashboard import ids
from dashboard.services import segments as service

dash.register_page(__name__, path="/segments", name="Segments",
                   title="ChurnLens · Segments", order=1)

CARDS_DIV = "segments-cards-div"
TABLE_DIV = "segments-table-div"
SUMMARY_TEXT = "segments-summary-text"
CHURN_GRAPH = "segments-churn-graph"
HEAT_GRAPH = "segments-heat-graph"
K_GRAPH = "segments-k-graph"
METHOD_DIV = "segments-method-div"
METHOD_ACCORDION = "segments-method-accordion"
SURVIVAL_GRAPH = "segments-survival-graph"
SCATTER_GRAPH = "segments-scatter-graph"
CURVE_RADIO = "segments-curve-radio"
OPEN_BUTTON = "segments-open-button"  # dict ids: {"type": OPEN_BUTTON, "segment": name}
GRAPH_CONFIG = {"displayModeBar": False, "responsive": True}
APART_SHOWN = 3


def chart_height(k: int) -> int:
    """One height for the segment charts (a bar or a heat-map row per segment), fixed per
    analysis so the graph has it before it draws (a responsive graph inside dcc.Loading can
    otherwise measure an empty parent and collapse to 0 px)."""
    return max(300, 34 * k + 110)


def layout(**_query) -> html.Div:
    """Frames; the callbacks fill them for the current filters."""
    svc = service.current()
    height = chart_height(svc.count())
    tenure = svc.shows()["tenure"]
    return html.Div([
        html.Div([html.H4("Segments", className="page-title mb-0"),
                  html.Div("Groups of customers who behave alike, named from their own "
                           "numbers. Click a card, a bar or a heat-map cell to list the "
                           "customers; how the groups were made is under Method, at the "
                           "bottom.", className="text-muted small"),
                  html.Div(id=SUMMARY_TEXT, className="small mt-1")], className="mb-3"),
        dcc.Loading(html.Div(id=CARDS_DIV), type="dot", delay_show=250),
        dbc.Row([dbc.Col(_graph(CHURN_GRAPH, height), lg=6, className="mb-3"),
                 dbc.Col(_graph(HEAT_GRAPH, height), lg=6, className="mb-3")], className="g-3"),
        dbc.Row([dbc.Col(dbc.Card(dbc.CardBody([
            dbc.RadioItems(id=CURVE_RADIO, options=svc.curve_options(), value="segment",
                           inline=True, className="small mb-1",
                           style=None if tenure else {"display": "none"}),
            dcc.Loading(dcc.Graph(id=SURVIVAL_GRAPH, config=GRAPH_CONFIG,
                                  figure=empty_figure("Loading…"),
                                  style={"height": "340px"}), type="circle",
                        delay_show=250)]), className="chart-card h-100"), lg=6,
            className="mb-3"),
                 dbc.Col(_graph(SCATTER_GRAPH, 340), lg=6, className="mb-3")], className="g-3"),
        html.Div(id=TABLE_DIV, className="mb-3"),
        dbc.Accordion(dbc.AccordionItem(
            dbc.Row([dbc.Col(html.Div(id=METHOD_DIV, className="small"), lg=5),
                     dbc.Col(dcc.Graph(id=K_GRAPH, config=GRAPH_CONFIG,
                                       figure=empty_figure("Loading…")), lg=7)]),
            title="Method: how the segments were made and named"),
            id=METHOD_ACCORDION, start_collapsed=True, className="mb-3"),
    ])


@callback(Output(CARDS_DIV, "children"), Output(TABLE_DIV, "children"),
          Output(SUMMARY_TEXT, "children"), Output(CHURN_GRAPH, "figure"),
          Output(HEAT_GRAPH, "figure"), Output(K_GRAPH, "figure"),
          Output(METHOD_DIV, "children"), Input(ids.FILTERS_STORE, "data"))
def update_segments(filters):
    """Cards, table, churn by segment, segment x tier and the Method panel for the selection."""
    view = service.current().view(filters or {})
    if view.get("error") or not view["segments"]:
        message = view.get("error") or "No segments"
        blank = empty_figure(message)
        return empty_state(message), None, "", blank, blank, blank, message
    shows = service.current().shows()
    colours = segment_colours([s["name"] for s in view["segments"]])
    segments = [s for s in view["segments"] if s["n"] > 0]
    method = view["method"]
    k_fig = silhouette_chart(view["silhouette"], view["inertia"], view["k"])
    heat = view["heat"]  # with no customers the builders draw their own empty state
    figures = (segment_churn_chart(segments, colours, view["overall"]["rate"],
                                   (filters or {}).get("segment"),
                                   height=chart_height(len(view["segments"]))),
               tier_heatmap(heat["segments"], heat["tiers"], heat["counts"], heat["churned"],
                            heat["active"], height=chart_height(len(view["segments"]))))
    if not segments:
        return (empty_state("No customers match the filters", "Loosen or reset the filters."),
                None, "", *figures, k_fig, _method(method))
    return (_cards(segments, colours, view["overall"], shows),
            segment_table(segments, colours, shows), _summary(view, shows), *figures, k_fig,
            _method(method))


@callback(Output(SURVIVAL_GRAPH, "figure"), Output(SCATTER_GRAPH, "figure"),
          Input(ids.FILTERS_STORE, "data"), Input(CURVE_RADIO, "value"))
def update_curves(filters, by):
    """Kaplan-Meier retention (by segment, a driver or overall) and a value vs the risk."""
    svc = service.current()
    by = by if isinstance(by, str) else "segment"  # a forged value: the default grouping
    view = svc.view(filters or {})
    colours = segment_colours([s["name"] for s in view.get("segments", [])])
    sample = svc.risk_value_sample(filters or {})
    label = {o["value"]: o["label"] for o in svc.curve_options()}.get(by or "segment", "")
    title = "Still active by months since joining" + (f", {label}" if label else "")
    missing = None if svc.shows()["tenure"] else service.NEEDS_TENURE
    return (survival_chart(svc.survival_curves(filters or {}, by or "segment"), colours,
                           title=f"{title} (Kaplan-Meier)", empty_message=missing),
            risk_value_scatter(sample.get("points"), colours, sample.get("total", 0),
                               sample.get("axis"), empty_message=service.NO_SCATTER))


@callback(Output(ids.FILTER_SEGMENT, "value", allow_duplicate=True),
          Output(ids.FILTER_TIER, "value", allow_duplicate=True),
          Output(ids.URL, "pathname", allow_duplicate=True),
          Input({"type": OPEN_BUTTON, "segment": ALL}, "n_clicks"),
          Input(CHURN_GRAPH, "clickData"), Input(HEAT_GRAPH, "clickData"),
          prevent_initial_call=True)
def drill_into(_clicks, churn_click, heat_click):
    """A segment (card, bar or heat-map cell) opens the Customers list filtered to it."""
    trigger = ctx.triggered_id
    if isinstance(trigger, dict) and ctx.triggered[0].get("value"):
        return [trigger["segment"]], no_update, "/customers"
    if trigger == CHURN_GRAPH and churn_click:
        return [churn_click["points"][0]["customdata"][0]], no_update, "/customers"
    if trigger == HEAT_GRAPH and heat_click:
        # dcc.Graph drops customdata for heat maps (their pointNumber is [row, col]).
        point = heat_click["points"][0]
        return [point["y"]], [point["x"]], "/customers"
    return no_update, no_update, no_update


def _graph(graph_id: str, height: int) -> dbc.Card:
    return dbc.Card(dbc.CardBody(dcc.Loading(
        dcc.Graph(id=graph_id, config=GRAPH_CONFIG, figure=empty_figure("Loading…"),
                  className="clickable-graph", style={"height": f"{height}px"}),
        type="circle", delay_show=250)),
        className="chart-card h-100")


def _summary(view: dict, shows: dict) -> list:
    """The line under the title, and what the data lacks (once, for the whole page)."""
    many = shows["customers"]
    parts = [f"{view['k']} segments" + (f" (found on a sample; every {shows['customer']} "
                                        "assigned)" if view["sampled"] else "")]
    if view.get("pareto"):
        parts.append(f"the top 20% of active {many} pay {view['pareto']:.0%} of the "
                     "monthly revenue")
    if shows["revenue"]:
        parts.append("lifetime value assumes a {margin:.0%} margin, {annual_discount:.0%} a "
                     "year discount and a {horizon_months}-month horizon"
                     .format(**view["clv_settings"]))
    return [" · ".join(parts)] + [
        html.Div([html.I(className="bi bi-info-circle me-1"), f"{note}."],
                 className="text-muted") for note in shows["notes"]]


def _bullets(s: dict, overall: dict, shows: dict) -> list[str]:
    """The card's facts in plain words with units (money only where the data has revenue)."""
    cur = shows["currency"]
    lines = [f"{percent(s['rate'])} have left ({percent(overall['rate'])} in the selection)",
             f"Churn risk {percent(s['mean_risk'])} on average, by the model "
             f"({percent(overall['mean_risk'])} in the selection)"]
    if not s["active"]:
        lines.append(f"No active {shows['customers']} left")
    elif shows["revenue"] and s["arpu"] is not None:
        lines.append(f"Pays {money(s['arpu'], currency=cur)} a month on average")
    if s.get("tenure") is not None:
        lines.append(f"{shows['customers'].capitalize()} for {s['tenure']:,.0f} months on "
                     "average")
    if shows["revenue"] and s["active"]:
        lines += [f"Revenue at risk {money(s['revenue_at_risk'], currency=cur)} a month",
                  f"Lifetime value {money(s['clv'], currency=cur)} on average (active "
                  f"{shows['customers']})"]
    return lines


def _fact(fact: dict, currency: str = "$") -> str:
    """A distinguishing fact in plain words: '<Column>: <value> for 80% of them (24%
    overall)', '<Column>: 58,668 on average (75,059 overall)'; an amount of the revenue
    with the currency."""
    value, overall = fact["value"], fact["overall"]
    if fact["kind"] == "category":
        return (f"{fact['label']}: {fact['category']} for {percent(value)} of them "
                f"({percent(overall)} overall)")
    if fact["kind"] == "share":
        return f"{fact['label']}: yes for {percent(value)} of them ({percent(overall)} overall)"
    if fact.get("money"):
        return (f"{fact['label']}: {money(value, currency=currency)} on average "
                f"({money(overall, currency=currency)} overall)")
    digits = 0 if abs(overall or 0) >= 10 else 1
    return (f"{fact['label']}: {value:,.{digits}f} on average "
            f"({overall:,.{digits}f} overall)")


def _cards(segments: list[dict], colours: dict[str, str], overall: dict,
           shows: dict) -> dbc.Row:
    cards = []
    many = shows["customers"]
    for s in segments:
        # Tenure and spend are in the bullets already; show what else sets the segment apart.
        apart = [f for f in s["apart"] if f.get("unit") not in ("months", "money")
                 and f["value"] is not None and f["overall"] is not None]
        body = [
            html.Div([html.Span(className="segment-dot me-2 flex-shrink-0",
                                style={"background": colours[s["name"]]}),
                      html.Span(s["name"], className="fw-semibold"),
                      html.I(className="bi bi-info-circle ms-2 text-muted", title=s["rule"])],
                     className="d-flex align-items-center", title=s["rule"]),
            html.Div(f"{fmt_int(s['n'])} {many} · {percent(s['share'])} of the selection · "
                     f"{fmt_int(s['active'])} still active", className="kpi-sub mb-2"),
            html.Ul([html.Li(line) for line in _bullets(s, overall, shows)],
                    className="small mb-2 ps-3"),
        ]
        if apart:
            body += [html.Div(f"Compared with all {many}", className="kpi-title"),
                     html.Ul([html.Li(_fact(f, shows["currency"])) for f in apart[:APART_SHOWN]],
                             className="small mb-2 ps-3 text-muted")]
        body.append(dbc.Button([f"List {many} ", html.I(className="bi bi-arrow-right")],
                               id={"type": OPEN_BUTTON, "segment": s["name"]}, size="sm",
                               color="primary", outline=True, className="mt-auto align-self-start"))
        cards.append(dbc.Col(dbc.Card(dbc.CardBody(body, className="d-flex flex-column"),
                                      className="kpi-card h-100"),
                             xs=12, md=6, xl=4, className="mb-3"))
    return dbc.Row(cards, className="g-3")


def _method(m: dict) -> list:
    """The Method panel's text: how K was chosen, the features, the outlier and naming rules."""
    if m["k"] == 1:
        reason = m["single_reason"] or "one segment"
        return [html.P(f"{reason[:1].upper()}{reason[1:]}.")]
    tried = f"K = {m['k_tried'][0]} to {m['k_tried'][-1]}" if m["k_tried"] else "no K"
    return [
        html.P([html.Strong("Number of segments. "),
                f"KMeans was fitted for {tried}; K = {m['k']} separates the customers best "
                f"(silhouette {m['silhouette'] or 0:.2f}; from -1 to 1, higher is better)."
                + (" Fitted on a random sample; every customer is then assigned to the "
                   "nearest segment." if m["sampled"] else "")]),
        html.P([html.Strong("Features used. "), ", ".join(m["features"]) +
                " — each scaled to mean 0 and standard deviation 1."]),
        html.P([html.Strong("Outliers. "),
                f"Customers farther from their segment's centre than {m['outlier_quantile']:.0%}"
                f" of its members: {fmt_int(m['outliers'])} customers, flagged, never dropped."]),
        html.P([html.Strong("Names. "),
                f"From each segment's own numbers: \"High-Risk\" when its mean churn risk is "
                f"at least {m['high_risk']}x the overall, \"Low-Risk\" at most {m['low_risk']}x;"
                f" words of stability (Loyal, Steady, Established) only up to "
                f"{m['stable_risk']}x; spend and tenure words by thirds of all customers; no "
                "two names alike. "
                "Hover the (i) next to a name for the numbers behind it."], className="mb-0"),
    ]
