"""Segments: behavioural groups, what they are worth and risk, retention; drill into members."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, callback, ctx, dcc, html, no_update

from components.charts import empty_figure, rate_chart
from components.feedback import empty_state, section
from components.kpi import fmt_int, fmt_money, fmt_pct
from components.segment_charts import (risk_value_scatter, segment_colours, silhouette_chart,
                                       survival_chart, tier_heatmap)
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
SURVIVAL_GRAPH = "segments-survival-graph"
SCATTER_GRAPH = "segments-scatter-graph"
CURVE_RADIO = "segments-curve-radio"
CURVE_OPTIONS = [{"label": "by segment", "value": "segment"},
                 {"label": "by contract", "value": "Contract"},
                 {"label": "all customers", "value": "all"}]
OPEN_BUTTON = "segments-open-button"  # dict ids: {"type": OPEN_BUTTON, "segment": name}
GRAPH_CONFIG = {"displayModeBar": False, "responsive": True}


def layout(**_query) -> html.Div:
    """Frames; the callbacks fill them for the current filters."""
    return html.Div([
        html.Div([html.H4("Segments", className="page-title mb-0"),
                  html.Div("Behavioural groups (KMeans on tenure, charges, services, contract "
                           "and payment; K chosen by silhouette), named by rules from their "
                           "profile. Click a segment or a heat-map cell to list its customers.",
                           className="text-muted small"),
                  html.Div(id=SUMMARY_TEXT, className="small mt-1")], className="mb-3"),
        dcc.Loading(html.Div(id=CARDS_DIV), type="dot", delay_show=250),
        dbc.Row([dbc.Col(_graph(CHURN_GRAPH), lg=6, className="mb-3"),
                 dbc.Col(_graph(HEAT_GRAPH), lg=6, className="mb-3")], className="g-3"),
        dbc.Row([dbc.Col(dbc.Card(dbc.CardBody([
            dbc.RadioItems(id=CURVE_RADIO, options=CURVE_OPTIONS, value="segment", inline=True,
                           className="small mb-1"),
            dcc.Loading(dcc.Graph(id=SURVIVAL_GRAPH, config=GRAPH_CONFIG,
                                  figure=empty_figure("Loading…")), type="circle",
                        delay_show=250)]), className="chart-card h-100"), lg=6,
            className="mb-3"),
                 dbc.Col(_graph(SCATTER_GRAPH), lg=6, className="mb-3")], className="g-3"),
        dbc.Row([dbc.Col(html.Div(id=TABLE_DIV), lg=8, className="mb-3"),
                 dbc.Col(_graph(K_GRAPH), lg=4, className="mb-3")], className="g-3"),
    ])


@callback(Output(CARDS_DIV, "children"), Output(TABLE_DIV, "children"),
          Output(SUMMARY_TEXT, "children"), Output(CHURN_GRAPH, "figure"),
          Output(HEAT_GRAPH, "figure"), Output(K_GRAPH, "figure"),
          Input(ids.FILTERS_STORE, "data"))
def update_segments(filters):
    """Profiles, churn by segment, segment x tier and the K choice for the selection."""
    view = service.current().view(filters or {})
    if view.get("error") or not view["segments"]:
        message = view.get("error") or "No segments"
        blank = empty_figure(message)
        return empty_state(message), None, "", blank, blank, blank
    segments = [s for s in view["segments"] if s["n"] > 0]
    if not segments:
        blank = empty_figure("No customers match the filters")
        return empty_state("No customers match the filters"), None, "", blank, blank, blank
    total = sum(s["n"] for s in segments)
    overall = sum(s["churned"] for s in segments) / total
    summary = (f"{view['k']} segments{' (fitted on a sample, all customers assigned)' if view['sampled'] else ''}"
               f" · silhouette {view['silhouette'][view['k']]:.2f}"
               + (f" · the top 20% of active customers pay {view['pareto']:.0%} of monthly "
                  "revenue" if view.get("pareto") else "")
               + " · CLV assumes a {margin:.0%} margin, {annual_discount:.0%} a year discount, "
                 "{horizon_months}-month horizon".format(**view["clv_settings"]))
    churn = rate_chart(segments, "Churn rate by segment", overall,
                       (filters or {}).get("segment"), height=max(260, 40 * len(segments)))
    heat = view["heat"]
    return (_cards(segments), _table(segments), summary, churn,
            tier_heatmap(heat["segments"], heat["tiers"], heat["counts"],
                         height=max(300, 36 * len(heat["segments"]) + 80)),
            silhouette_chart(view["silhouette"], view["inertia"], view["k"]))


@callback(Output(SURVIVAL_GRAPH, "figure"), Output(SCATTER_GRAPH, "figure"),
          Input(ids.FILTERS_STORE, "data"), Input(CURVE_RADIO, "value"))
def update_curves(filters, by):
    """Kaplan-Meier retention (by segment, contract or overall) and revenue vs risk."""
    svc = service.current()
    view = svc.view(filters or {})
    colours = segment_colours([s["name"] for s in view.get("segments", [])])
    sample = svc.risk_value_sample(filters or {})
    label = {o["value"]: o["label"] for o in CURVE_OPTIONS}.get(by or "segment", "")
    return (survival_chart(svc.survival_curves(filters or {}, by or "segment"), colours,
                           title=f"Retention {label} (Kaplan-Meier)"),
            risk_value_scatter(sample.get("points"), colours, sample.get("total", 0)))


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


def _graph(graph_id: str) -> dbc.Card:
    return dbc.Card(dbc.CardBody(dcc.Loading(
        dcc.Graph(id=graph_id, config=GRAPH_CONFIG, figure=empty_figure("Loading…"),
                  className="clickable-graph"), type="circle", delay_show=250)),
        className="chart-card h-100")


def _cards(segments: list[dict]) -> dbc.Row:
    colours = segment_colours([s["name"] for s in segments])
    cards = []
    for s in segments:
        body = [
            html.Div([html.Span(className="segment-dot me-2",
                                style={"background": colours[s["name"]]}),
                      html.Span(s["name"], className="fw-semibold"),
                      html.I(className="bi bi-info-circle ms-2 text-muted", title=s["rule"])],
                     className="d-flex align-items-center mb-2", title=s["rule"]),
            dbc.Row([_stat("Customers", f"{fmt_int(s['n'])} ({fmt_pct(s['share'])})"),
                     _stat("Churn rate", f"{fmt_pct(s['rate'])}",
                           f"95% CI {fmt_pct(s['lo'])}–{fmt_pct(s['hi'])}"),
                     _stat("Revenue at risk", f"{fmt_money(s['revenue_at_risk'])}/mo"),
                     _stat("Avg. CLV", fmt_money(s["clv"]), f"mean risk {fmt_pct(s['mean_risk'])}")],
                    className="g-2 mb-2"),
            html.Ul([html.Li(d) for d in s["distinguishing"]], className="small mb-2 ps-3"),
            dbc.Button(["List customers ", html.I(className="bi bi-arrow-right")],
                       id={"type": OPEN_BUTTON, "segment": s["name"]}, size="sm",
                       color="primary", outline=True),
        ]
        cards.append(dbc.Col(dbc.Card(dbc.CardBody(body), className="kpi-card h-100"),
                             xs=12, md=6, xl=4, className="mb-3"))
    return dbc.Row(cards, className="g-3")


def _stat(label: str, value: str, sub: str = "") -> dbc.Col:
    return dbc.Col([html.Div(label, className="kpi-title"),
                    html.Div(value, className="segment-stat"),
                    html.Div(sub, className="kpi-sub")], xs=6)


def _table(segments: list[dict]):
    head = ["Segment", "Customers", "Churn rate", "ARPU", "Avg. CLV", "Monthly revenue",
            "Revenue at risk", "Mean risk", "Outliers"]
    rows = [html.Tr([html.Td(s["name"]), html.Td(fmt_int(s["n"]), className="text-end"),
                     html.Td(fmt_pct(s["rate"]), className="text-end"),
                     html.Td(fmt_money(s["arpu"], 2), className="text-end"),
                     html.Td(fmt_money(s["clv"]), className="text-end"),
                     html.Td(fmt_money(s["monthly_revenue"]), className="text-end"),
                     html.Td(fmt_money(s["revenue_at_risk"]), className="text-end"),
                     html.Td(fmt_pct(s["mean_risk"]), className="text-end"),
                     html.Td(fmt_int(s["outliers"]), className="text-end")]) for s in segments]
    table = dbc.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)],
                      size="sm", hover=True, responsive=True, className="mb-0 metrics-table")
    note = html.Div("Revenue figures count active customers; outliers are customers far from "
                    "their segment's centre (flagged, not dropped).",
                    className="small text-muted mt-1")
    return section("All segments at a glance", [table, note])
