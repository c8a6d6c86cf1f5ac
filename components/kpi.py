"""KPI tiles and their number formats."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html


def fmt_int(value) -> str:
    return "–" if value is None else f"{value:,.0f}"


def fmt_pct(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def fmt_money(value, decimals: int = 0, currency: str = "$") -> str:
    """Money in one format everywhere: whole units with thousands separators ('$19,310',
    '-$1,234', '€5,217'), or cents where asked ('$64.76'); never '$19.3k' beside '$5,217'."""
    if value is None:
        return "–"
    sign = "-" if value < 0 and round(abs(value), decimals) > 0 else ""
    return f"{sign}{currency}{abs(value):,.{decimals}f}"


def fmt_count(value) -> str:
    """A number of people: whole ('164 churners', not 163.9)."""
    return "–" if value is None else f"{round(value):,.0f}"


TIER_BADGES = {"High": "danger", "Medium": "warning", "Low": "success"}


def risk_badge(tier: str, **props) -> dbc.Badge:
    """The risk tier as a coloured badge (High red, Medium amber, Low green)."""
    return dbc.Badge(tier, color=TIER_BADGES.get(tier, "secondary"),
                     className="ms-2 risk-badge", **props)


def fmt_value(value, kind: str, currency: str = "$") -> str:
    """A tile's value by its kind: count, pct, money, money-cents, ratio ('3.2x'), months."""
    if value is None:
        return "–"
    if kind == "pct":
        return fmt_pct(value)
    if kind in ("money", "money-cents"):
        return fmt_money(value, 2 if kind == "money-cents" else 0, currency)
    if kind == "ratio":
        return f"{value:,.1f}×"
    if kind == "months":
        return f"{value:,.1f} mo"
    return fmt_int(value)


def kpi_tile(tile_id: str, title: str, help_text: str, icon: str, value: str = "–",
             sub: str = "", muted: bool = False) -> dbc.Col:
    """A tile: the title (help on hover), the value (`tile_id`) and a subtitle
    (`<tile_id>-sub`, muted when it says what the data lacks)."""
    return dbc.Col(dbc.Card(dbc.CardBody([
        html.Div([html.I(className=f"bi bi-{icon} me-2"), title],
                 className="kpi-title", title=help_text),
        html.Div(value, id=tile_id, className="kpi-value"),
        html.Div(sub, id=f"{tile_id}-sub",
                 className="kpi-sub text-muted fst-italic" if muted else "kpi-sub"),
    ]), className="kpi-card h-100"), xs=6, md=4, xl=2, className="mb-3")
