"""The Customer page's panels: the recommended offer (its model-implied effect, the promo
code and the catalogue's offers this data cannot take). Plain data in, components out."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from components.kpi import fmt_pct
from components.whatif import catalogue_table, money


def _unavailable(d: dict) -> list:
    """The catalogue's offers this data cannot take, greyed out with the reason."""
    offers = d.get("catalogue") or []
    if not offers:
        return []
    return [html.Details([html.Summary(f"{len(offers)} offer{'s' * (len(offers) != 1)} in the "
                                       "catalogue cannot work on this data",
                                       className="small text-muted"),
                          catalogue_table(offers)], className="mt-2",
                         id="customer-unavailable-offers")]


def offer_card(d: dict) -> html.Div:
    """The recommended offer, its model-implied effect and the promo code."""
    offer = d.get("offer")
    currency = d.get("currency", "$")
    if offer is None:
        return html.Div("No offer catalogue is loaded, so no offer is recommended.",
                        className="text-muted small")
    if not d["active"]:
        return html.Div("This customer has already left: no offer.", className="text-muted")
    if offer["id"] == "none":
        why = offer.get("reason") or ("No offer in the catalogue is expected to pay for this "
                                      "customer: the risk it removes is worth less than its "
                                      "cost and the contact.")
        return html.Div([html.Div("No offer", className="fs-5 fw-semibold",
                                  id="customer-offer-name-text"),
                         html.Div(why, className="small text-muted",
                                  id="customer-offer-reason-text"), *_unavailable(d)])
    code = offer["promo_code"]
    return html.Div([
        html.Div(offer["name"], className="fs-5 fw-semibold", id="customer-offer-name-text"),
        html.Div(offer["description"], className="small text-muted mb-2"),
        dbc.Row([
            dbc.Col([html.Div("Churn risk with the offer", className="kpi-title"),
                     html.Div(f"{fmt_pct(d['churn_probability'])} → {fmt_pct(offer['p1'])}",
                              className="fw-semibold")], xs=6),
            dbc.Col([html.Div("Expected profit", className="kpi-title"),
                     html.Div(money(offer["profit"], currency, 2), className="fw-semibold "
                              "text-success")], xs=6),
        ], className="mb-2"),
        html.Div([html.Span("Promo code ", className="kpi-title me-1"),
                  html.Code(code, id="customer-promo-code-text")]) if code else None,
        html.Div(f"Assumes {fmt_pct(offer['acceptance'])} accept; cost "
                 f"{money(offer['cost'], currency, 2)} per accepter. Model-implied.",
                 className="small text-muted mt-1"),
        *_unavailable(d),
    ])


__all__ = ["offer_card"]
