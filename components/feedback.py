"""Banners, empty states and section cards shared by pages."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html


def error_banner(message: str, title: str = "The data could not be loaded") -> dbc.Alert:
    return dbc.Alert([html.H5([html.I(className="bi bi-exclamation-octagon me-2"), title],
                              className="alert-heading mb-1"),
                      html.Div(message, className="font-monospace small app-error-text"),
                      html.Div("Fix the file and restart ChurnLens, load a file on the Data "
                               "page, or start it without --data to explore the built-in demo "
                               "data.", className="small mt-2")],
                     color="danger", className="mb-3", id="app-error-alert")


def warning_banner(lines: list[str], title: str) -> dbc.Alert:
    return dbc.Alert([html.Strong([html.I(className="bi bi-exclamation-triangle me-2"), title]),
                      html.Ul([html.Li(line) for line in lines], className="mb-0 mt-1")],
                     color="warning", className="mb-3")


def empty_state(message: str, hint: str = "") -> html.Div:
    return html.Div([html.I(className="bi bi-inbox fs-2 d-block mb-2"), html.Div(message),
                     html.Div(hint, className="small text-muted")],
                    className="text-center text-muted py-5 empty-state")


def section(title: str, body, subtitle: str = "") -> dbc.Card:
    header = [html.Span(title, className="section-title")]
    if subtitle:
        header.append(html.Span(subtitle, className="section-subtitle ms-2"))
    return dbc.Card([dbc.CardHeader(header), dbc.CardBody(body)], className="mb-3 section-card")


def admin_hint(shown: bool) -> html.Span | None:
    """"admins only" beside a control an analyst sees disabled (the server refuses it too)."""
    return html.Span("admins only", className="small text-muted ms-2") if shown else None
