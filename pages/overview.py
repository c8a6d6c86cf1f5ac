"""Overview: KPI tiles, churn drivers with intervals, risk tiers; a bar click drills down."""

from __future__ import annotations

import re

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from components.charts import empty_figure, rate_chart, tier_chart
from components.kpi import fmt_value, kpi_tile
from dashboard import ids
from dashboard.services import overview as service

dash.register_page(__name__, path="/", name="Overview", title="ChurnLens · Overview", order=0)

KPI_ROW = "overview-kpi-row"
KPI_NOTE = "overview-kpi-note"
# Tile key (from the service) -> its value's id (the subtitle is `<id>-sub`).
KPI_IDS = {"customers": "overview-customers-kpi", "churn_rate": "overview-churn-kpi",
           "retention_rate": "overview-retention-kpi", "arpu": "overview-arpu-kpi",
           "clv": "overview-clv-kpi", "revenue_at_risk": "overview-revenue-risk-kpi",
           "high_risk_active": "overview-high-risk-kpi",
           "expected_leavers": "overview-expected-leavers-kpi",
           "avg_tenure": "overview-tenure-kpi", "medium_risk_active": "overview-medium-risk-kpi",
           "cac": "overview-cac-kpi",
           "clv_cac": "overview-clv-cac-kpi", "payback_months": "overview-payback-kpi"}
CUSTOMERS_KPI = KPI_IDS["customers"]
CHURN_KPI = KPI_IDS["churn_rate"]
TENURE_GRAPH = "overview-tenure-graph"
# One chart per driver slot (the service says which column and title each one is).
DRIVER_GRAPHS = ("overview-driver-1-graph", "overview-driver-2-graph",
                 "overview-driver-3-graph")
TIER_GRAPH = "overview-tier-graph"
GRAPH_CONFIG = {"displayModeBar": False, "responsive": True}
HIDDEN = {"display": "none"}


def layout(**_query) -> html.Div:
    """Placeholder tiles and charts for this data; the callback fills them for the filters."""
    svc = service.current()
    charts, money = svc.charts(), svc.money()
    tiles = [kpi_tile(KPI_IDS[t["key"]], t["title"], t["help"], t["icon"])
             for t in svc.tile_specs()]
    # The first driver, the tenure bands, then the other drivers: two charts a row, the tier
    # chart and the note after them; cards of what the data lacks stay hidden.
    cards = [(DRIVER_GRAPHS[0], len(charts["drivers"]) > 0),
             (TENURE_GRAPH, charts["tenure"] is not None),
             *[(g, i < len(charts["drivers"])) for i, g in enumerate(DRIVER_GRAPHS[1:], 1)],
             (TIER_GRAPH, True)]
    cols = [dbc.Col(_graph(g), lg=6, className="mb-3", style=None if shown else HIDDEN)
            for g, shown in cards]
    cols.append(dbc.Col(_tier_note(money["revenue"]), lg=6, className="mb-3"))
    return html.Div([
        html.Div([html.H4("Overview", className="page-title mb-0"),
                  html.Div("Who is leaving, and what it costs. Click a bar to filter to that "
                           "group.", className="text-muted small")], className="mb-3"),
        dcc.Loading(dbc.Row(tiles, className="g-3", id=KPI_ROW), type="dot", delay_show=250),
        html.Div(id=KPI_NOTE, className="small text-muted fst-italic"),
        dbc.Row(cols, className="g-3"),
    ])


@callback(
    Output(KPI_ROW, "children"), Output(KPI_NOTE, "children"),
    Output(TENURE_GRAPH, "figure"), [Output(g, "figure") for g in DRIVER_GRAPHS],
    Output(TIER_GRAPH, "figure"),
    Input(ids.FILTERS_STORE, "data"),
)
def update_overview(filters):
    """Aggregate the selection on the server; send the tiles and the small figures."""
    svc = service.current()
    data = svc.view(filters or {})
    words = svc.words()
    if data.get("error") or not data["n"]:
        message = "No data loaded" if data.get("error") else \
            f"No {words['customers']} match the filters"
        charts = svc.charts()
        titles = [d["title"] for d in charts["drivers"]]
        titles += [""] * (len(DRIVER_GRAPHS) - len(titles))
        tiles = [kpi_tile(KPI_IDS[t["key"]], t["title"], t["help"], t["icon"], "–",
                          message if i == 0 else "") for i, t in enumerate(svc.tile_specs())]
        return (tiles, None, empty_figure(message, charts["tenure"] or ""),
                *[empty_figure(message, t) for t in titles],
                empty_figure(message, "Customers by risk tier"))
    tiles = [kpi_tile(KPI_IDS[t["key"]], t["title"], t["help"], t["icon"],
                      fmt_value(t["value"], t["kind"], words["currency"]), t["sub"],
                      t["muted"]) for t in data["tiles"]]
    selected = filters or {}
    noun = words["customers"]
    tenure = data["tenure"]
    if tenure is None:
        tenure_figure = empty_figure("No tenure bands in this data")  # (the card is hidden)
    else:
        chosen = selected.get(ids.TENURE)
        if chosen:
            chosen = [r["group"] for r in tenure["rows"]
                      if _within(_band_range(r["group"], 10_000), chosen)]
        tenure_figure = _rate_figure(tenure, chosen, noun)
    drivers = [_rate_figure(d, selected.get(d["key"]), noun) for d in data["drivers"]]
    drivers += [empty_figure("")] * (len(DRIVER_GRAPHS) - len(drivers))
    active = data["kpis"]["active"]
    note = html.Div(" ".join(data["notes"]), className="mb-3") if data["notes"] else None
    return (tiles, note, tenure_figure, *drivers,
            tier_chart(data["tiers"], selected=selected.get(ids.TIER), noun=noun,
                       title=f"Risk tiers of the {active:,} active {noun}"))


@callback(
    [Output(d, "value", allow_duplicate=True) for d in ids.FILTER_DRIVERS],
    Output(ids.FILTER_TIER, "value", allow_duplicate=True),
    Output(ids.FILTER_TENURE, "value", allow_duplicate=True),
    [Input(g, "clickData") for g in DRIVER_GRAPHS], Input(TIER_GRAPH, "clickData"),
    Input(TENURE_GRAPH, "clickData"),
    State(ids.FILTERS_STORE, "data"), State(ids.FILTER_TENURE, "max"),
    prevent_initial_call=True,
)
def drill_down(*args):
    """A bar click filters to that group; clicking the only selected group clears it."""
    n = len(DRIVER_GRAPHS)
    clicks = dict(zip([*DRIVER_GRAPHS, TIER_GRAPH, TENURE_GRAPH], args[:n + 2]))
    filters, tenure_max = args[n + 2] or {}, int(args[n + 3] or 72)
    out = [no_update] * (n + 2)
    group = _clicked_group(clicks.get(ctx.triggered_id))
    if group is None:
        return out
    if ctx.triggered_id == TENURE_GRAPH:
        band = _band_range(group, tenure_max)
        out[n + 1] = [0, tenure_max] if filters.get(ids.TENURE) == band else band
        return out
    if ctx.triggered_id == TIER_GRAPH:
        slot, key = n, ids.TIER
    else:
        slot = DRIVER_GRAPHS.index(ctx.triggered_id)
        keys = [d["key"] for d in service.current().charts()["drivers"]]
        if slot >= len(keys):
            return out
        key = keys[slot]
    out[slot] = [] if filters.get(key) == [group] else [group]
    return out


def _rate_figure(driver: dict, chosen, noun: str):
    return rate_chart(driver["rows"], driver["title"], driver["overall"], chosen,
                      context="of the other filters" if driver["filtered"] else None,
                      noun=noun)


def _graph(graph_id: str) -> dbc.Card:
    return dbc.Card(dbc.CardBody(dcc.Loading(
        # A fixed height: a responsive graph inside dcc.Loading can measure its parent
        # before it has one and collapse to 0 px.
        dcc.Graph(id=graph_id, config=GRAPH_CONFIG, figure=empty_figure("Loading…"),
                  className="clickable-graph", style={"height": "260px"}),
        type="circle", delay_show=250)), className="chart-card h-100")


def _tier_note(revenue: bool) -> dbc.Card:
    return dbc.Card(dbc.CardBody([
        html.H6("How to read this page", className="section-title mb-2"),
        html.Ul([
            html.Li("Churn rates are observed in the data; whiskers are 95% Wilson intervals, "
                    "so small groups show their uncertainty."),
            html.Li("Risk tiers come from the model's churn probability (thresholds on the "
                    "Data page; pick one by cost on the Model page). The model is CatBoost; "
                    "its quality is measured out-of-fold on the Model page."),
            html.Li("Revenue at risk is the expected monthly revenue lost: the sum of each "
                    "active customer's churn probability times their monthly charges."
                    if revenue else "Numeric drivers are shown in quartile bands with "
                    "round edges; '650–720' means from 650 up to (not including) 720."),
            html.Li("Filters live in the address bar: copy it to share this exact view."),
        ], className="small mb-0 text-muted ps-3"),
    ]), className="chart-card h-100")


def _clicked_group(click) -> str | None:
    try:
        point = click["points"][0]
    except (TypeError, KeyError, IndexError):
        return None
    custom = point.get("customdata")
    if isinstance(custom, list) and custom:
        return str(custom[0])
    return str(point.get("y") or point.get("x"))


def _within(band: list[int], chosen: list[int]) -> bool:
    """Whether a tenure band overlaps the chosen tenure range."""
    return band[0] <= chosen[1] and band[1] >= chosen[0]


def _band_range(label: str, tenure_max: int) -> list[int]:
    """'13-24 months' -> [13, 24]; '49+ months' -> [49, max]."""
    numbers = [int(n) for n in re.findall(r"\d+", label)]
    if len(numbers) >= 2:
        return [numbers[0], min(numbers[1], tenure_max)]
    return [numbers[0] if numbers else 0, tenure_max]
