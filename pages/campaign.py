"""Campaign: whom to contact, with which offer, and how many the budget should cover."""

from __future__ import annotations

import math

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html, no_update

from components import campaign_record as record
from components.charts import empty_figure, gains_chart, offer_mix_chart
from components.feedback import empty_state, section
from components.kpi import fmt_int, fmt_pct
from components.whatif import PROFIT_FORMULA, catalogue_table, money
from dashboard import auth, ids
from dashboard.services import campaigns as campaign_service
from dashboard.services import offers as service
from dashboard.services.exports import export_href

dash.register_page(__name__, path="/campaign", name="Campaign", title="ChurnLens · Campaign",
                   order=5)

CAPACITY_INPUT = "campaign-capacity-input"
KPI_DIV = "campaign-kpi-div"
GAINS_GRAPH = "campaign-gains-graph"
MIX_GRAPH = "campaign-mix-graph"
OFFERS_DIV = "campaign-offers-div"
EXPORT_LINK = "campaign-export-link"
NEEDS_REVENUE_ALERT = "campaign-needs-revenue-alert"
GRAPH_CONFIG = {"displayModeBar": False, "responsive": True}
EXPORT_CLASS = "btn btn-sm btn-primary ms-3 text-nowrap"


def layout(**_query) -> html.Div:
    return html.Div([
        dbc.Row([
            dbc.Col([html.H4("Campaign", className="page-title mb-0"),
                     html.Div("Every active customer the filters select, with the offer that "
                              "has the highest expected profit for them. Contact the ones "
                              "worth contacting, best first.", className="text-muted small")],
                    md=7),
            dbc.Col(html.Div([
                html.Label("Team capacity", htmlFor=CAPACITY_INPUT,
                           className="small me-2 mb-0 text-nowrap"),
                dbc.Input(id=CAPACITY_INPUT, type="number", min=0, step=1, debounce=True,
                          placeholder="no limit", size="sm", style={"maxWidth": "9rem"}),
                html.A([html.I(className="bi bi-filetype-csv me-1"), "Export campaign list"],
                       id=EXPORT_LINK, href="#", download="", className=EXPORT_CLASS),
            ], className="d-flex align-items-center justify-content-md-end mt-2 mt-md-0"),
                md=5),
        ], className="mb-3 align-items-end"),
        dcc.Loading(html.Div(id=KPI_DIV), type="dot", delay_show=200),
        dbc.Row([
            dbc.Col(dbc.Card(dcc.Graph(id=GAINS_GRAPH, config=GRAPH_CONFIG,
                                       figure=empty_figure("Loading…"),
                                       style={"height": "340px"}), body=True,
                             className="chart-card h-100"), lg=7, className="mb-3"),
            dbc.Col(dbc.Card(dcc.Graph(id=MIX_GRAPH, config=GRAPH_CONFIG,
                                       figure=empty_figure("Loading…"),
                                       style={"height": "340px"}), body=True,
                             className="chart-card h-100"), lg=5, className="mb-3"),
        ], className="g-3"),
        record.record_card(can_record=auth.is_admin(), seed=campaign_service.new_seed(),
                           offers=campaign_service.current().offer_options()),
        html.Div(id=OFFERS_DIV),
    ])


def _tile(title: str, value: str, sub: str, tile_id: str, tone: str = "") -> dbc.Col:
    return dbc.Col(dbc.Card(dbc.CardBody([
        html.Div(title, className="kpi-title"),
        html.Div(value, className=f"kpi-value {tone}", id=tile_id),
        html.Div(sub, className="kpi-sub")]), className="kpi-card h-100"),
        xs=6, xl=3, className="mb-3")


@callback(Output(KPI_DIV, "children"), Output(GAINS_GRAPH, "figure"),
          Output(MIX_GRAPH, "figure"), Output(OFFERS_DIV, "children"),
          Output(EXPORT_LINK, "href"), Output(EXPORT_LINK, "className"),
          Input(ids.FILTERS_STORE, "data"), Input(CAPACITY_INPUT, "value"))
def update_campaign(filters, capacity):
    """Targeting for the selection and the capacity."""
    svc = service.current()
    if svc.analysis is None:
        return empty_state("No data loaded."), no_update, no_update, None, "#", no_update
    capacity = _capacity(capacity)
    data = svc.campaign(filters or {}, capacity)
    if data.get("error"):
        message = f"Offers are unavailable: {data['error']}"
        return (dbc.Alert(message, color="warning", id="campaign-error-alert"),
                empty_figure(message), empty_figure(message), None, "#", EXPORT_CLASS)
    if data.get("needs_revenue"):
        return _without_revenue(data)
    return _with_revenue(data, filters, capacity)


def _record_args(share, seed) -> tuple[float, int]:
    """The control share (1-50%, default 10%) and the seed (0 to 2**32 - 1) from the form."""
    try:
        share = float(share)
        share = min(max(share, 1.0), 50.0) / 100 if math.isfinite(share) else 0.10
    except (TypeError, ValueError, OverflowError):
        share = 0.10
    try:
        seed = min(max(int(seed), 0), 2 ** 32 - 1) if not isinstance(seed, bool) else 0
    except (TypeError, ValueError, OverflowError):
        seed = 0
    return share, seed


def _offers(value) -> tuple[str, ...]:
    """Offer ids from the dropdown (anything else is ignored)."""
    return tuple(v for v in value if isinstance(v, str))[:50] if isinstance(value, list) else ()


@callback(Output(record.PREVIEW_DIV, "children"), Input(ids.FILTERS_STORE, "data"),
          Input(CAPACITY_INPUT, "value"), Input(record.SHARE_INPUT, "value"),
          Input(record.SEED_INPUT, "value"), Input(record.ENROLLED_CHECK, "value"),
          Input(record.OFFERS_DROPDOWN, "value"))
def preview_record(filters, capacity, share, seed, include_enrolled, offers=None):
    """Who the campaign would hold, before it is recorded."""
    svc = campaign_service.current()
    if svc.analysis is None:
        return None
    share, seed = _record_args(share, seed)
    preview = svc.preview(filters or {}, _capacity(capacity), share, seed,
                          include_enrolled is True, _offers(offers))
    return record.preview_text(preview)


@callback(Output(record.RESULT_DIV, "children"), Input(record.RECORD_BUTTON, "n_clicks"),
          State(record.NAME_INPUT, "value"), State(ids.FILTERS_STORE, "data"),
          State(CAPACITY_INPUT, "value"), State(record.SHARE_INPUT, "value"),
          State(record.SEED_INPUT, "value"), State(record.ENROLLED_CHECK, "value"),
          State(record.OFFERS_DROPDOWN, "value"), prevent_initial_call=True)
def record_campaign(_clicks, name, filters, capacity, share, seed, include_enrolled,
                    offers=None):
    """Record the campaign with its control group (all members or none)."""
    svc = campaign_service.current()
    if svc.analysis is None:
        return record.result_view({"error": "No data loaded."})
    name = name if isinstance(name, str) else ""
    if not name.strip():
        return record.result_view({"error": "Give the campaign a name first."})
    share, seed = _record_args(share, seed)
    return record.result_view(svc.create(name.strip(), filters or {}, _capacity(capacity),
                                         share, seed, include_enrolled is True, _offers(offers)))


def _capacity(capacity) -> int | None:
    try:
        return None if capacity in (None, "") else min(max(int(capacity), 0), 10 ** 9)
    except (TypeError, ValueError, OverflowError):
        return None


def _catalogue(data: dict) -> html.Div:
    """The offer catalogue, unavailable offers greyed out with the reason, and the formula."""
    unavailable = sum(1 for o in data["offers"] if o["reason"])
    note = (f" {unavailable} of the {len(data['offers'])} offers cannot work on this data "
            "(greyed out, with the reason) and are never recommended." if unavailable else "")
    return section("Offer catalogue", [
        catalogue_table(data["offers"]),
        html.Div(f"{PROFIT_FORMULA}, with contact cost k = "
                 f"{money(data['contact_cost'], data['currency'], 2)}; p1 is the model's "
                 "churn probability with the offer applied (model-implied, not a measured "
                 "effect). Each customer gets their most profitable offer, or none when "
                 f"nothing pays.{note} Edit {data['catalogue']} to change the offers.",
                 className="small text-muted"),
    ], "from the catalogue file")


def _without_revenue(data: dict):
    """No revenue column: counts instead of money, and how to add one."""
    needs = "needs a revenue column"
    tiles = [
        _tile("Active customers", fmt_int(data["active"]), "in the selection",
              "campaign-active-text"),
        _tile("High risk", fmt_int(data["high_risk"]), "active customers in the High tier",
              "campaign-high-risk-text"),
        _tile("Expected profit", "–", needs, "campaign-best-profit-text", "text-muted"),
        _tile("Worth contacting", "–", needs, "campaign-best-size-text", "text-muted"),
    ]
    alert = dbc.Alert([html.I(className="bi bi-cash-coin me-2"), data["needs_revenue"],
                       html.Div("Until then the Customers list ranks by churn risk, and the "
                                "what-if shows how the risk would move.",
                                className="small mt-1")],
                      color="light", className="border", id=NEEDS_REVENUE_ALERT)
    message = "Expected profit needs a revenue column"
    return ([dbc.Row(tiles, className="g-3"), alert], empty_figure(message),
            empty_figure(message), _catalogue(data), None, f"{EXPORT_CLASS} disabled")


def _with_revenue(data: dict, filters, capacity):
    """Tiles, gains curve and offer mix of a campaign priced in money."""
    currency = data["currency"]
    plan = data["plan"]
    tiles = [
        _tile("Active customers", fmt_int(data["active"]), "in the selection",
              "campaign-active-text"),
        _tile("Worth contacting", fmt_int(plan["best_size"]),
              f"{fmt_pct(plan['best_size'] / data['active']) if data['active'] else '–'} "
              "have an offer with positive expected profit", "campaign-best-size-text"),
        _tile("Expected profit", money(plan["best_total"], currency),
              f"contacting all of them, over the {data['horizon_months']}-month CLV horizon "
              "(discounted; model-implied)", "campaign-best-profit-text"),
    ]
    if capacity is not None:
        tiles.append(_tile(f"With capacity {capacity:,}",
                           money(plan["capacity_total"], currency),
                           f"contact the top {plan['capacity_size']:,} (over "
                           f"{data['horizon_months']} months)",
                           "campaign-capacity-profit-text"))
    else:
        tiles.append(_tile("With capacity", "–", "enter the team's capacity above",
                           "campaign-capacity-profit-text"))
    href = export_href("csv", filters, None, None, campaign={"capacity": capacity})
    return (dbc.Row(tiles, className="g-3"),
            gains_chart(plan["curve"], plan["best_size"], plan["capacity_size"]),
            offer_mix_chart(data["mix"]), _catalogue(data), href, EXPORT_CLASS)
