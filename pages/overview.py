"""Overview: KPI tiles, churn drivers with intervals, risk tiers; a bar click drills down."""

from __future__ import annotations

import re

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from components.charts import empty_figure, rate_chart, tier_chart
from components.kpi import fmt_int, fmt_money, fmt_pct, kpi_tile
from dashboard import ids
from dashboard.services import overview as service

dash.register_page(__name__, path="/", name="Overview", title="ChurnLens · Overview", order=0)

CUSTOMERS_KPI = "overview-customers-kpi"
CHURN_KPI = "overview-churn-kpi"
RETENTION_KPI = "overview-retention-kpi"
ARPU_KPI = "overview-arpu-kpi"
CLV_KPI = "overview-clv-kpi"
RISK_KPI = "overview-revenue-risk-kpi"
KPI_IDS = (CUSTOMERS_KPI, CHURN_KPI, RETENTION_KPI, ARPU_KPI, CLV_KPI, RISK_KPI)
CONTRACT_GRAPH = "overview-contract-graph"
TENURE_GRAPH = "overview-tenure-graph"
INTERNET_GRAPH = "overview-internet-graph"
PAYMENT_GRAPH = "overview-payment-graph"
TIER_GRAPH = "overview-tier-graph"
# The global filter each driver chart drills into -> its graph (the service says which
# column and title each filter key stands for).
DRIVER_GRAPHS = {"contract": CONTRACT_GRAPH, "tenure": TENURE_GRAPH,
                 "internet": INTERNET_GRAPH, "payment": PAYMENT_GRAPH}
GRAPH_CONFIG = {"displayModeBar": False, "responsive": True}


def layout(**_query) -> html.Div:
    """Empty tiles and charts; the callback fills them for the current filters."""
    tiles = dbc.Row([
        kpi_tile(CUSTOMERS_KPI, "Customers", "Customers in the selection", "people"),
        kpi_tile(CHURN_KPI, "Churn rate", "Churned / customers in the selection", "door-open"),
        kpi_tile(RETENTION_KPI, "Retention rate", "1 - churn rate", "shield-check"),
        kpi_tile(ARPU_KPI, "ARPU", "Mean monthly charges of active customers", "cash-coin"),
        kpi_tile(CLV_KPI, "Avg. CLV", "Monthly margin x expected remaining lifetime from the "
                 "retention curve, risk-adjusted and discounted monthly (active customers)",
                 "gem"),
        kpi_tile(RISK_KPI, "Revenue at risk", "Sum of p(churn) x monthly charges over active "
                 "customers: expected monthly revenue lost", "exclamation-diamond"),
    ], className="g-3")
    graphs = [_graph(CONTRACT_GRAPH), _graph(TENURE_GRAPH), _graph(INTERNET_GRAPH),
              _graph(PAYMENT_GRAPH)]
    return html.Div([
        html.Div([html.H4("Overview", className="page-title mb-0"),
                  html.Div("Who is leaving, and what it costs. Click a bar to filter to that "
                           "group.", className="text-muted small")], className="mb-3"),
        dcc.Loading(tiles, type="dot", delay_show=250),
        dbc.Row([dbc.Col(g, lg=6, className="mb-3") for g in graphs], className="g-3"),
        dbc.Row([dbc.Col(_graph(TIER_GRAPH), lg=6, className="mb-3"),
                 dbc.Col(_tier_note(), lg=6, className="mb-3")], className="g-3"),
    ])


@callback(
    [Output(k, "children") for k in KPI_IDS], [Output(f"{k}-sub", "children") for k in KPI_IDS],
    Output(CONTRACT_GRAPH, "figure"), Output(TENURE_GRAPH, "figure"),
    Output(INTERNET_GRAPH, "figure"), Output(PAYMENT_GRAPH, "figure"),
    Output(TIER_GRAPH, "figure"),
    Input(ids.FILTERS_STORE, "data"),
)
def update_overview(filters):
    """Aggregate the selection on the server; send the tiles' text and the small figures."""
    svc = service.current()
    data = svc.view(filters or {})
    titles = {key: f"Churn rate by {title.lower()}"
              for key, title in svc.driver_titles().items()}
    if data.get("error") or not data["n"]:
        message = "No data loaded" if data.get("error") else "No customers match the filters"
        return (*["–"] * 6, message, *[""] * 5,
                *[empty_figure(message, titles[key]) for key in DRIVER_GRAPHS],
                empty_figure(message, "Customers by risk tier"))
    k = data["kpis"]
    values = [fmt_int(k["customers"]), fmt_pct(k["churn_rate"]), fmt_pct(k["retention_rate"]),
              fmt_money(k["arpu"], 2), fmt_money(k["clv"]), fmt_money(k["revenue_at_risk"])]
    subs = [f"{100 * data['n'] / data['n_total']:.0f}% of all customers",
            f"{k['churned']:,} churned", f"{k['active']:,} active",
            "per active customer / month", "per active customer",
            f"per month · {k['high_risk_active']:,} high-risk active"]
    selected = filters or {}
    figures = []
    for key in DRIVER_GRAPHS:
        driver = data["drivers"][key]
        if driver["rows"] is None:
            figures.append(empty_figure("Not in this data", titles[key]))
            continue
        chosen = selected.get(key)
        if key == "tenure" and chosen:
            chosen = [r["group"] for r in driver["rows"]
                      if _within(_band_range(r["group"], 10_000), chosen)]
        figures.append(rate_chart(driver["rows"], titles[key],
                                  driver["overall"], chosen,
                                  context="of the other filters" if driver["filtered"]
                                  else None))
    figures.append(tier_chart(data["tiers"], selected=selected.get("tier"),
                              title=f"Risk tiers of the {k['active']:,} active customers"))
    return *values, *subs, *figures


@callback(
    Output(ids.FILTER_CONTRACT, "value", allow_duplicate=True),
    Output(ids.FILTER_INTERNET, "value", allow_duplicate=True),
    Output(ids.FILTER_PAYMENT, "value", allow_duplicate=True),
    Output(ids.FILTER_TIER, "value", allow_duplicate=True),
    Output(ids.FILTER_TENURE, "value", allow_duplicate=True),
    Input(CONTRACT_GRAPH, "clickData"), Input(INTERNET_GRAPH, "clickData"),
    Input(PAYMENT_GRAPH, "clickData"), Input(TIER_GRAPH, "clickData"),
    Input(TENURE_GRAPH, "clickData"),
    State(ids.FILTERS_STORE, "data"), State(ids.FILTER_TENURE, "max"),
    prevent_initial_call=True,
)
def drill_down(contract, internet, payment, tier, tenure, filters, tenure_max):
    """A bar click filters to that group; clicking the only selected group clears it."""
    clicks = {CONTRACT_GRAPH: ("contract", contract), INTERNET_GRAPH: ("internet", internet),
              PAYMENT_GRAPH: ("payment", payment), TIER_GRAPH: ("tier", tier),
              TENURE_GRAPH: ("tenure", tenure)}
    key, click = clicks.get(ctx.triggered_id, (None, None))
    group = _clicked_group(click)
    if group is None:
        return [no_update] * 5
    filters = filters or {}
    out = [no_update] * 5
    slots = {"contract": 0, "internet": 1, "payment": 2, "tier": 3, "tenure": 4}
    if key == "tenure":
        band = _band_range(group, int(tenure_max or 72))
        out[4] = [0, int(tenure_max or 72)] if filters.get("tenure") == band else band
    else:
        out[slots[key]] = [] if filters.get(key) == [group] else [group]
    return out


def _graph(graph_id: str) -> dbc.Card:
    return dbc.Card(dbc.CardBody(dcc.Loading(
        # A fixed height: a responsive graph inside dcc.Loading can measure its parent
        # before it has one and collapse to 0 px.
        dcc.Graph(id=graph_id, config=GRAPH_CONFIG, figure=empty_figure("Loading…"),
                  className="clickable-graph", style={"height": "260px"}),
        type="circle", delay_show=250)), className="chart-card h-100")


def _tier_note() -> dbc.Card:
    return dbc.Card(dbc.CardBody([
        html.H6("How to read this page", className="section-title mb-2"),
        html.Ul([
            html.Li("Churn rates are observed in the data; whiskers are 95% Wilson intervals, "
                    "so small groups show their uncertainty."),
            html.Li("Risk tiers come from the model's churn probability (thresholds on the "
                    "Data page; pick one by cost on the Model page). The model is CatBoost; "
                    "its quality is measured out-of-fold on the Model page."),
            html.Li("Revenue at risk is the expected monthly revenue lost: the sum of each "
                    "active customer's churn probability times their monthly charges."),
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
