"""One customer: risk, value, the reasons behind the score, and the profile."""

from __future__ import annotations

import math
from urllib.parse import unquote

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, dcc, html, no_update

from components.charts import moved_chart, waterfall_chart
from components.customer_panels import offer_card
from components.feedback import empty_state, section
from components.kpi import fmt_pct, risk_badge
from components.timeline import behaviour_reasons, timeline_chart
from components.whatif import (MODEL_IMPLIED, assumption_inputs, customer_result, frozen_note,
                               money, scenario_inputs)
from dashboard import ids
from dashboard.services import customer as service
from dashboard.services import offers as offers_service

dash.register_page(__name__, path_template="/customer/<customer_id>", name="Customer",
                   title="ChurnLens · Customer", order=3)

ID_STORE = "customer-id-store"
SEARCH_DROPDOWN = "customer-search-dropdown"
CONTENT_DIV = "customer-content-div"
WHATIF_INPUT = "customer-whatif-input"          # pattern-matching: {"type", "feature"}
WHATIF_ASSUMPTION = "customer-whatif-input-assumption"   # {"type", "name"}
WHATIF_BASE_STORE = "customer-whatif-base-store"
WHATIF_PRESET_DROPDOWN = "customer-whatif-preset-dropdown"
WHATIF_RESULT_DIV = "customer-whatif-result-div"
WHATIF_MOVED_GRAPH = "customer-whatif-moved-graph"
TRY_OFFER_BUTTON = "customer-try-offer-button"
WHATIF_INPUTS_DIV = "customer-whatif-inputs-div"
WHATIF_SECTION_DIV = "customer-whatif-section-div"
TIMELINE_GRAPH = "customer-timeline-graph"
TIMELINE_NOTE = "customer-timeline-note"
BEHAVIOUR_REASONS = "customer-behaviour-reasons-div"
HIDDEN = {"display": "none"}


def layout(customer_id: str | None = None, **_query) -> html.Div:
    """Search box and frames; the callback fills in the customer and the what-if inputs."""
    return html.Div([
        dbc.Row([
            dbc.Col(html.H4("Customer", className="page-title mb-0"), md=6),
            dbc.Col(dcc.Dropdown(id=SEARCH_DROPDOWN, placeholder="Find a customer by id…",
                                 searchable=True, clearable=True, options=[]), md=6),
        ], className="mb-3 align-items-center"),
        dcc.Store(id=ID_STORE, data=unquote(customer_id) if customer_id else None),
        dcc.Store(id=WHATIF_BASE_STORE),
        dcc.Loading(html.Div(id=CONTENT_DIV), type="dot"),
        html.Div(_whatif_frame(), id=WHATIF_SECTION_DIV, style=HIDDEN),
    ])


def _whatif_frame() -> dbc.Card:
    """The simulator's fixed parts; the inputs depend on the customer."""
    preset = dbc.Row([
        dbc.Col(dcc.Dropdown(id=WHATIF_PRESET_DROPDOWN, options=[], value=None, clearable=True,
                             placeholder="Start from an offer in the catalogue (optional)…"),
                className="flex-grow-1"),
        dbc.Col(dbc.Button([html.I(className="bi bi-stars me-1"), "Recommended offer"],
                           id=TRY_OFFER_BUTTON, size="sm", color="primary", outline=True,
                           n_clicks=0), width="auto"),
    ], className="g-2 mb-2 align-items-center")
    results = html.Div([
        dcc.Loading(html.Div(id=WHATIF_RESULT_DIV), type="dot", delay_show=200),
        dcc.Graph(id=WHATIF_MOVED_GRAPH, config={"displayModeBar": False},
                  figure=moved_chart([])),
    ])
    body = [dbc.Row([dbc.Col([preset, html.Div(id=WHATIF_INPUTS_DIV)], lg=6),
                     dbc.Col(results, lg=6)], className="g-4"),
            dbc.Alert([html.I(className="bi bi-info-circle me-2"), MODEL_IMPLIED], color="light",
                      className="small mb-0 mt-2 py-2")]
    return section("What-if: simulate an offer", body,
                   "model-implied · change what the team can change")


@callback(Output(CONTENT_DIV, "children"), Output(WHATIF_BASE_STORE, "data"),
          Output(WHATIF_INPUTS_DIV, "children"), Output(WHATIF_PRESET_DROPDOWN, "options"),
          Output(WHATIF_SECTION_DIV, "style"), Output(TRY_OFFER_BUTTON, "disabled"),
          Input(ID_STORE, "data"))
def show_customer(customer_id):
    """Render the customer named in the address and set up their what-if."""
    if not customer_id:
        return (empty_state("Type a customer id above, or open one from the Customers list."),
                None, None, [], HIDDEN, True)
    svc = service.current()
    detail = svc.detail(customer_id)
    whatif = offers_service.current()
    if detail is None:
        return (empty_state(f"No customer with id {customer_id!r} in this data.",
                            "Check the id, or search for it above."), None, None, [], HIDDEN,
                True)
    spec = whatif.whatif_spec(detail["row"])
    current = {item["feature"]: item["current"] for item in spec["actionable"]}
    presets = whatif.offer_options(detail["row"])
    detail["catalogue"] = whatif.unavailable_offers()
    inputs = [*scenario_inputs(spec, WHATIF_INPUT),
              html.Div("Assumptions", className="section-subtitle mt-2 mb-1"),
              assumption_inputs(spec, WHATIF_INPUT),
              html.Div(frozen_note(spec), className="mt-2")]
    offer = detail.get("offer") or {}
    return (_detail(detail), {"row": detail["row"], "current": current}, inputs, presets, {},
            offer.get("id") in (None, "none") or not detail["active"])


@callback(Output(SEARCH_DROPDOWN, "options"), Input(SEARCH_DROPDOWN, "search_value"),
          prevent_initial_call=True)
def suggest(text):
    """Ids that start with (or contain) what was typed."""
    if not text:
        return no_update
    return service.current().search_ids(text)


@callback(Output(ids.URL, "pathname", allow_duplicate=True), Input(SEARCH_DROPDOWN, "value"),
          prevent_initial_call=True)
def go_to_customer(customer_id):
    """Choosing a suggestion opens that customer."""
    return f"/customer/{customer_id}" if customer_id else no_update


def _detail(d: dict) -> list:
    tier = d["risk_tier"]
    currency = d.get("currency", "$")
    status = "churned" if d["churned"] else "active"
    months = f"{d['tenure_months']:.0f} month{'' if d['tenure_months'] == 1 else 's'}"
    head = dbc.Card(dbc.CardBody(dbc.Row([
        dbc.Col([html.Div("Customer", className="kpi-title"),
                 html.Div(d["customer_id"], className="kpi-value", id="customer-id-text"),
                 html.Div(" · ".join(x for x in (status, d["contract"], months) if x),
                          className="kpi-sub")], md=3),
        dbc.Col([html.Div("Churn risk", className="kpi-title"),
                 html.Div([fmt_pct(d["churn_probability"]),
                           risk_badge(tier)],
                          className="kpi-value", id="customer-risk-text"),
                 html.Div(f"riskier than {math.floor(d['percentile'])}% of customers",
                          className="kpi-sub")], md=3),
        dbc.Col([html.Div("Value", className="kpi-title"),
                 html.Div(money(d["clv"], currency) if d["active"] else "–",
                          className="kpi-value"),
                 html.Div(f"CLV {d['money_reason']}" if d.get("money_reason") else
                          f"CLV · pays {money(d['monthly_charges'], currency, 2)} a month"
                          if d["active"] else "Has left: no lifetime value ahead",
                          className="kpi-sub")], md=3),
        dbc.Col([html.Div("Segment", className="kpi-title"),
                 html.Div(d["segment"] or "–", className="kpi-value fs-5 mt-2"),
                 html.Div("" if d.get("money_reason") else
                          f"{money(d['revenue_at_risk'], currency, 2)} a month at risk"
                          if d["active"] else "No revenue at risk (has left)",
                          className="kpi-sub")], md=3),
    ])), className="kpi-card mb-3")
    reasons = [r for r in (d["reason_1"], d["reason_2"], d["reason_3"]) if r]
    why = html.Ul([html.Li(r) for r in reasons], className="mb-1") if reasons else \
        html.Div("Nothing in this profile raises the risk above the average customer's.")
    profile = section("Profile", html.Table(html.Tbody([
        html.Tr([html.Td(k, className="text-muted"), html.Td(v)]) for k, v in d["profile"]]),
        className="small profile-table"))
    w = d["waterfall"]
    waterfall = section("Why this score", [
        dcc.Graph(id="customer-waterfall-graph", config={"displayModeBar": False},
                  figure=waterfall_chart(w["base"], w["items"], w["prediction"])),
        html.Div(
            f"CatBoost SHAP contributions in percentage points: they add up from the "
            f"model's average score ({w['base']:.1f}%, where the model starts before it "
            f"looks at this customer) to this customer's score. The observed churn rate "
            f"in the data is a different number: {fmt_pct(d['observed_churn_rate'])}. "
            + ("This customer was in the training data, so their score comes from the "
               "cross-validation model that never saw them (out-of-fold). "
               if d["out_of_fold"] else "This customer was not in the training data; "
               "the final model scores them. ")
            + "Contributions are associations the model learned, not measured causes.",
            className="small text-muted", id="customer-waterfall-note")])
    raises = section("What raises the risk most", why)
    offer = section("Recommended offer", offer_card(d), "model-implied")
    if d.get("timeline") is None:       # no event tables: the page as before
        return [head, dbc.Row([dbc.Col([waterfall, raises], lg=7),
                               dbc.Col([offer, profile], lg=5)], className="g-3")]
    return [head,
            dbc.Row([dbc.Col(waterfall, lg=6), dbc.Col(_timeline(d), lg=6)], className="g-3"),
            dbc.Row([dbc.Col([raises, offer], lg=7), dbc.Col(profile, lg=5)], className="g-3")]


def _timeline(d: dict) -> dbc.Card:
    """Usage, tickets, e-mails and plan changes over the last year, the as-of and scored-at
    dates, and the behaviour features among the reasons."""
    t = d["timeline"]
    if t.get("error"):
        return section("Activity over time", [dbc.Alert(
            f"The activity could not be read: {t['error']}. The scores and reasons above "
            "are not affected.", color="warning", className="mb-0", id=TIMELINE_NOTE)],
            "the last 12 months")
    when = (f"this customer is scored on their activity before {t['now']}" if d["active"]
            else f"this customer has left, so their features are those of {t['as_of']}")
    note = (f"The model learned from activity dated before {t['as_of']} (the as-of date) "
            f"and who left after it; {when}. Tickets are coloured by the sentiment of what "
            "the customer wrote.") if t["events"] else (
        f"Nothing dated between {t['start']} and {t['now']} in the event tables; having no "
        "activity at all is something the model reads too (see the reasons).")
    return section("Activity over time", [
        dcc.Graph(id=TIMELINE_GRAPH, config={"displayModeBar": False},
                  figure=timeline_chart(t)),
        html.Div(note, className="small text-muted", id=TIMELINE_NOTE),
        behaviour_reasons(t["reasons"], BEHAVIOUR_REASONS)], "the last 12 months")


@callback(Output(WHATIF_PRESET_DROPDOWN, "value"), Input(TRY_OFFER_BUTTON, "n_clicks"),
          State(WHATIF_BASE_STORE, "data"), prevent_initial_call=True)
def try_recommended(n_clicks, base):
    """'Recommended offer' loads the customer's recommended offer into the what-if."""
    if not n_clicks or not base:
        return no_update
    base = offers_service.current().check_base(base)
    offer = service.current().offer_of(base["row"])
    return offer["id"] if offer and offer["id"] != "none" else no_update


@callback(Output({"type": WHATIF_INPUT, "feature": ALL}, "value"),
          Output({"type": f"{WHATIF_INPUT}-assumption", "name": ALL}, "value"),
          Input(WHATIF_PRESET_DROPDOWN, "value"),
          State({"type": WHATIF_INPUT, "feature": ALL}, "id"),
          State({"type": f"{WHATIF_INPUT}-assumption", "name": ALL}, "id"),
          State({"type": f"{WHATIF_INPUT}-assumption", "name": ALL}, "value"),
          State(WHATIF_BASE_STORE, "data"), prevent_initial_call=True)
def apply_preset(offer_id, input_ids, assumption_ids, assumption_values, base):
    """An offer from the catalogue fills in the inputs (its changes, discount, costs and
    acceptance); clearing it puts the customer's current values back."""
    if not base:
        return no_update, no_update
    base = offers_service.current().check_base(base)
    return offers_service.current().preset_inputs(offer_id, base["current"], input_ids,
                                            assumption_ids, assumption_values)


@callback(Output(WHATIF_RESULT_DIV, "children"), Output(WHATIF_MOVED_GRAPH, "figure"),
          Input({"type": WHATIF_INPUT, "feature": ALL}, "value"),
          Input({"type": f"{WHATIF_INPUT}-assumption", "name": ALL}, "value"),
          State({"type": WHATIF_INPUT, "feature": ALL}, "id"),
          State({"type": f"{WHATIF_INPUT}-assumption", "name": ALL}, "id"),
          State(WHATIF_BASE_STORE, "data"))
def simulate(values, assumption_values, input_ids, assumption_ids, base):
    """Re-score the customer with the inputs; the money of offering the change."""
    if not base or not input_ids:
        return no_update, no_update
    svc = offers_service.current()
    base = svc.check_base(base)
    try:
        currency = svc.currency()
        scenario = offers_service.scenario_from(input_ids, values, assumption_ids,
                                                assumption_values, base["current"],
                                                currency=currency)
        result = svc.simulate_customer(base["row"], scenario)
    except ValueError as exc:
        return dbc.Alert(str(exc), color="warning", className="small py-2 mb-0",
                         id="customer-whatif-error-alert"), moved_chart([])
    if not result["changed"]:
        return html.Div([
            html.Div(f"Churn risk now: {result['p0']:.1%}", className="fw-semibold"),
            html.Div("Change an input on the left, or start from an offer, to see the "
                     "model-implied risk, the money and which reasons move.",
                     className="text-muted small")],
            id="customer-whatif-empty-text", className="py-2"), moved_chart([])
    return (customer_result(result, "customer-whatif", currency),
            moved_chart(result["reasons_moved"]))
