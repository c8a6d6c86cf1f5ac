"""KPI tiles and their number formats."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html


def fmt_int(value) -> str:
    return "–" if value is None else f"{value:,.0f}"


def fmt_pct(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def fmt_money(value, decimals: int = 0) -> str:
    if value is None:
        return "–"
    if abs(value) >= 1_000_000:
        return f"${value / 1_000_000:,.2f}M"
    if abs(value) >= 10_000:
        return f"${value / 1_000:,.1f}k"
    return f"${value:,.{decimals}f}"


TIER_BADGES = {"High": "danger", "Medium": "warning", "Low": "success"}


def risk_badge(tier: str, **props) -> dbc.Badge:
    """The risk tier as a coloured badge (High red, Medium amber, Low green)."""
    return dbc.Badge(tier, color=TIER_BADGES.get(tier, "secondary"),
                     className="ms-2 risk-badge", **props)


def kpi_tile(tile_id: str, title: str, help_text: str, icon: str) -> dbc.Col:
    """An empty tile; a callback fills `<tile_id>` (value) and `<tile_id>-sub` (subtitle)."""
    return dbc.Col(dbc.Card(dbc.CardBody([
        html.Div([html.I(className=f"bi bi-{icon} me-2"), title],
                 className="kpi-title", title=help_text),
        html.Div("–", id=tile_id, className="kpi-value"),
        html.Div("", id=f"{tile_id}-sub", className="kpi-sub"),
    ]), className="kpi-card h-100"), xs=6, md=4, xl=2, className="mb-3")
