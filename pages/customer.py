"""One customer: risk, value, the reasons behind the score, and the profile."""

from __future__ import annotations

import math
from urllib.parse import unquote

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, callback, dcc, html, no_update

from components.charts import waterfall_chart
from components.feedback import empty_state, section
from components.kpi import fmt_money, fmt_pct
from dashboard import ids, services

dash.register_page(__name__, path_template="/customer/<customer_id>", name="Customer",
                   title="ChurnLens · Customer", order=3)

ID_STORE = "customer-id-store"
SEARCH_DROPDOWN = "customer-search-dropdown"
CONTENT_DIV = "customer-content-div"
TIER_COLOURS = {"High": "danger", "Medium": "warning", "Low": "success"}


def layout(customer_id: str | None = None, **_query) -> html.Div:
    """Search box and a frame; the callback fills in the customer."""
    return html.Div([
        dbc.Row([
            dbc.Col(html.H4("Customer", className="page-title mb-0"), md=6),
            dbc.Col(dcc.Dropdown(id=SEARCH_DROPDOWN, placeholder="Find a customer by id…",
                                 searchable=True, clearable=True, options=[]), md=6),
        ], className="mb-3 align-items-center"),
        dcc.Store(id=ID_STORE, data=unquote(customer_id) if customer_id else None),
        dcc.Loading(html.Div(id=CONTENT_DIV), type="dot"),
    ])


@callback(Output(CONTENT_DIV, "children"), Input(ID_STORE, "data"))
def show_customer(customer_id):
    """Render the customer named in the address."""
    if not customer_id:
        return empty_state("Type a customer id above, or open one from the Customers list.")
    detail = services.current().customer_detail(customer_id)
    if detail is None:
        return empty_state(f"No customer with id {customer_id!r} in this data.",
                           "Check the id, or search for it above.")
    return _detail(detail)


@callback(Output(SEARCH_DROPDOWN, "options"), Input(SEARCH_DROPDOWN, "search_value"),
          prevent_initial_call=True)
def suggest(text):
    """Ids that start with (or contain) what was typed."""
    if not text:
        return no_update
    return services.current().search_ids(text)


@callback(Output(ids.URL, "pathname", allow_duplicate=True), Input(SEARCH_DROPDOWN, "value"),
          prevent_initial_call=True)
def go_to_customer(customer_id):
    """Choosing a suggestion opens that customer."""
    return f"/customer/{customer_id}" if customer_id else no_update


def _detail(d: dict) -> list:
    tier = d["risk_tier"]
    status = "churned" if d["churned"] else "active"
    months = f"{d['tenure_months']:.0f} month{'' if d['tenure_months'] == 1 else 's'}"
    head = dbc.Card(dbc.CardBody(dbc.Row([
        dbc.Col([html.Div("Customer", className="kpi-title"),
                 html.Div(d["customer_id"], className="kpi-value", id="customer-id-text"),
                 html.Div(" · ".join(x for x in (status, d["contract"], months) if x),
                          className="kpi-sub")], md=3),
        dbc.Col([html.Div("Churn risk", className="kpi-title"),
                 html.Div([fmt_pct(d["churn_probability"]),
                           dbc.Badge(tier, color=TIER_COLOURS.get(tier, "secondary"),
                                     className="ms-2 risk-badge")],
                          className="kpi-value", id="customer-risk-text"),
                 html.Div(f"riskier than {math.floor(d['percentile'])}% of customers",
                          className="kpi-sub")], md=3),
        dbc.Col([html.Div("Value", className="kpi-title"),
                 html.Div(fmt_money(d["clv"]), className="kpi-value"),
                 html.Div(f"CLV · pays {fmt_money(d['monthly_charges'], 2)} a month",
                          className="kpi-sub")], md=3),
        dbc.Col([html.Div("Segment", className="kpi-title"),
                 html.Div(d["segment"] or "–", className="kpi-value fs-5 mt-2"),
                 html.Div(f"{fmt_money(d['revenue_at_risk'], 2)} a month at risk",
                          className="kpi-sub")], md=3),
    ])), className="kpi-card mb-3")
    reasons = [r for r in (d["reason_1"], d["reason_2"], d["reason_3"]) if r]
    why = html.Ul([html.Li(r) for r in reasons], className="mb-1") if reasons else \
        html.Div("Nothing in this profile raises the risk above the average customer's.")
    profile = html.Table(html.Tbody([html.Tr([html.Td(k, className="text-muted"), html.Td(v)])
                                     for k, v in d["profile"]]),
                         className="small profile-table")
    w = d["waterfall"]
    waterfall = dcc.Graph(id="customer-waterfall-graph", config={"displayModeBar": False},
                          figure=waterfall_chart(w["base"], w["items"], w["prediction"]))
    return [head, dbc.Row([
        dbc.Col([section("Why this score", [
            waterfall, html.Div("CatBoost SHAP contributions, converted to percentage points so "
                                "they add up from the model's baseline (its expected score) "
                                "to this customer's. They are associations the model "
                                "learned, not measured causes.",
                                className="small text-muted")]),
                 section("What raises the risk most", why)], lg=7),
        dbc.Col(section("Profile", profile), lg=5),
    ], className="g-3")]
