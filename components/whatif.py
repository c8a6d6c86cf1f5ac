"""What-if inputs (a family of pattern-matching ids) and their result panels.

Every input's id is {"type": <id_type>, "feature": <name>}: the actionable features the
spec lists (a dropdown of allowed values, or a number input with its range, step and unit),
plus "discount" (% off the monthly bill), "months" (how long) and "other_cost" (per
accepter). Assumptions are {"type": <id_type>-assumption, "name": margin | acceptance |
contact_cost}. Money is shown in the spec's currency; without revenue the results show the
probabilities and say the money needs a revenue column.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.kpi import fmt_count, fmt_money, fmt_pct

MODEL_IMPLIED = ("Model-implied: the model re-scores the customer with these changes. These are "
                 "associations the model learned from past customers, not measured causal "
                 "effects of making the change.")
PROFIT_FORMULA = "expected profit = a × ((p0 − p1) × CLV − c) − k"
REVENUE_HINT = ('add one to the data config: [roles] revenue = "<the monthly revenue '
                'column>"')


def money(value, currency: str = "$", decimals: int = 0) -> str:
    """components.kpi.fmt_money in the data's currency ('€1,234', '-$5.00')."""
    text = fmt_money(value, decimals)
    return text if currency == "$" or value is None else text.replace("$", currency, 1)


def _label(text: str, help_text: str = "") -> html.Label:
    return html.Label(text, className="form-label small mb-1", title=help_text)


def _shown(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"{value:.0f}"
    return str(value)


def _field_input(item: dict, id_type: str, keep_label: str | None):
    """A dropdown of the allowed values, or a number input with its range and step."""
    cid = {"type": id_type, "feature": item["feature"]}
    locked = item.get("locked", False)
    value = None if keep_label or locked else item.get("current")
    if item.get("kind", "category") == "number":
        return dbc.Input(id=cid, type="number", min=item.get("min"), max=item.get("max"),
                         step=item.get("step") or "any", value=value, disabled=locked,
                         debounce=True, size="sm", placeholder=keep_label or "",
                         className="whatif-number")
    return dcc.Dropdown(id=cid, options=item["choices"], value=value, disabled=locked,
                        clearable=bool(keep_label), placeholder=keep_label or "",
                        className="whatif-dropdown")


def _field_note(item: dict) -> str:
    if item.get("locked"):
        return item.get("locked_note", "")
    parts = [f"now: {_shown(item['current'])}"] if item.get("current") is not None else []
    if item.get("kind") == "number" and item.get("range"):
        parts.append(item["range"])
    return " · ".join(parts)


def scenario_inputs(spec: dict, id_type: str, keep_label: str | None = None) -> list:
    """An input per actionable feature, then the discount, its months and any other cost.

    With `keep_label` (segment what-if) each input starts at "keep as is" (None); for one
    customer it starts at their current value and values they must keep are locked."""
    fields = []
    for item in spec["actionable"]:
        unit = item.get("unit")
        fields.append(dbc.Col([
            _label(f"{item['label']} ({unit})" if unit else item["label"]),
            _field_input(item, id_type, keep_label),
            html.Div(_field_note(item), className="form-text mt-0"),
        ], md=6, xl=4, className="mb-2"))
    if not fields:
        fields = [dbc.Col(html.Div("This data's config lists no actionable features: add "
                                   "[[actionable]] entries to change them here.",
                                   className="small text-muted"))]
    currency = spec.get("currency", "$")
    discount = spec.get("discount") or {"available": True}
    off = not discount["available"]
    costs = [
        dbc.Col([_label("Monthly discount (%)", "Percent off the monthly bill; the model sees "
                        "the lower monthly bill"),
                 dbc.Input(id={"type": id_type, "feature": "discount"}, type="number",
                           debounce=True, value=0, size="sm", disabled=off),
                 html.Div(f"Unavailable: {discount.get('reason')}" if off else "",
                          className="form-text mt-0")], md=4, className="mb-2"),
        dbc.Col([_label("for (months)"),
                 dbc.Input(id={"type": id_type, "feature": "months"}, type="number",
                           debounce=True, value=0, size="sm", disabled=off)],
                md=4, className="mb-2"),
        dbc.Col([_label(f"Other cost per accepter ({currency})",
                        "e.g. a free add-on or a bonus"),
                 dbc.Input(id={"type": id_type, "feature": "other_cost"}, type="number",
                           debounce=True, value=0, size="sm")], md=4, className="mb-2"),
    ]
    return [dbc.Row(fields, className="g-2"), dbc.Row(costs, className="g-2")]


def assumption_inputs(spec: dict, id_type: str) -> dbc.Row:
    """Margin, acceptance rate and contact cost: visible and editable."""
    a = spec["assumptions"]
    currency = spec.get("currency", "$")
    kind = f"{id_type}-assumption"
    return dbc.Row([
        dbc.Col([_label("Margin (%)", "Share of revenue that is profit; CLV scales with it"),
                 dbc.Input(id={"type": kind, "name": "margin"}, type="number", debounce=True,
                           value=round(100 * a["margin"]), size="sm")], xs=4),
        dbc.Col([_label("Acceptance (%)", "Assumed share of contacted customers who accept"),
                 dbc.Input(id={"type": kind, "name": "acceptance"}, type="number", debounce=True,
                           value=round(100 * a["acceptance"]), size="sm")],
                xs=4),
        dbc.Col([_label(f"Contact cost ({currency})", "Paid for every customer contacted"),
                 dbc.Input(id={"type": kind, "name": "contact_cost"}, type="number", debounce=True,
                           value=a["contact_cost"], size="sm")], xs=4),
    ], className="g-2")


def frozen_note(spec: dict) -> html.Div:
    """The features a what-if cannot change, shown as such."""
    items = [f["value"] or f["label"] for f in spec["frozen"]]
    return html.Div([html.I(className="bi bi-lock me-1"),
                     html.Strong("Frozen (not actionable): "), "; ".join(items)],
                    className="small text-muted frozen-note")


def _stat(label: str, value: str, stat_id: str | None = None, tone: str = "") -> dbc.Col:
    body = html.Div(value, className=f"whatif-stat-value {tone}",
                    **({"id": stat_id} if stat_id else {}))
    return dbc.Col(html.Div([html.Div(label, className="kpi-title"), body],
                            className="whatif-stat"), xs=6, lg=4, className="mb-2")


def _break_even(r: dict) -> str:
    """The acceptance rate at which the offer stops losing money, in words when there is none."""
    if r["never_pays"]:
        return "never pays"
    if r["break_even_acceptance"] is None:
        return "above 100%"
    return fmt_pct(r["break_even_acceptance"])


def _roi(value) -> str:
    return "–" if value is None else f"{100 * value:,.0f}%"


def free_change_note(cost: float, roi: float | None, changed: bool = True) -> list:
    """The assumption behind a very high ROI, next to it: a change that costs nothing per
    accepter leaves only the contact cost as spend (nothing when nothing changed)."""
    if not changed or cost > 0 or roi is None:
        return []
    return [html.Div([html.I(className="bi bi-info-circle me-1"),
                      f"ROI {_roi(roi)} because this change is assumed to cost nothing per "
                      "accepter (cost 0): the only spend is the contact cost. Enter what the "
                      "change really costs you under 'Other cost per accepter' (or as its "
                      "cost in the data config) for a fair ROI."],
                     className="small text-warning-emphasis mt-1", id="whatif-free-note")]


def needs_revenue_note(reason: str, id_prefix: str, what: str) -> html.Div:
    """Where the money would be: what needs a revenue column and how to add one."""
    return html.Div([html.I(className="bi bi-cash-coin me-1"),
                     html.Strong(f"{what}: {reason}"), f"; {REVENUE_HINT}. The churn "
                     "probabilities above need no revenue."],
                    className="small text-muted border rounded p-2 mt-2",
                    id=f"{id_prefix}-money-note")


def _headline(r: dict, id_prefix: str) -> html.Div:
    change = 100 * r["change"]
    tone = "text-success" if change < -0.05 else ("text-danger" if change > 0.05 else "")
    return html.Div([
        html.Span(fmt_pct(r["p0"]), className="whatif-p0"),
        html.I(className="bi bi-arrow-right mx-2"),
        html.Span(fmt_pct(r["p1"]), className=f"whatif-p1 {tone}", id=f"{id_prefix}-p1-text"),
        html.Span(f"{change:+.1f} pts", className=f"ms-2 small {tone}",
                  id=f"{id_prefix}-change-text"),
    ], className="whatif-headline")


def customer_result(r: dict, id_prefix: str, currency: str = "$") -> list:
    """p0 -> p1, the money of making the offer, and the break-even acceptance (without
    revenue: the probabilities, the cost, and where the money would need a revenue column)."""
    changed = ", ".join(r.get("changed_labels") or r["changed"]) or \
        "nothing yet: change an input"
    head = [_headline(r, id_prefix),
            html.Div(f"Changed: {changed}", className="small text-muted")]
    if r.get("money_reason"):
        return [*head, dbc.Row([_stat("Cost per accepter", money(r["cost"], currency, 2))],
                               className="g-2 mt-2"),
                needs_revenue_note(r["money_reason"], id_prefix,
                                   "Value kept, expected profit, ROI and break-even")]
    profit_tone = "text-success" if r["profit"] > 0 else "text-danger"
    stats = dbc.Row([
        _stat("Value kept per accepter", money(r["value_kept"], currency, 2)),
        _stat("Cost per accepter", money(r["cost"], currency, 2)),
        _stat("Expected profit per contact", money(r["profit"], currency, 2),
              f"{id_prefix}-profit-text", profit_tone),
        _stat("ROI", _roi(r["roi"])),
        _stat("Break-even acceptance", _break_even(r)),
        _stat("CLV at this margin", money(r["clv"], currency)),
    ], className="g-2 mt-2")
    return [*head, stats,
            *free_change_note(r["cost"], r["roi"], bool(r["changed"])),
            html.Div(PROFIT_FORMULA + " (value kept = (p0 − p1) × CLV)",
                     className="small text-muted font-monospace")]


def selection_result(r: dict, id_prefix: str, currency: str = "$") -> list:
    """The scenario offered to every active customer it changes in the selection."""
    if r["affected"] == 0:
        return [html.Div(f"None of the {r['active']:,} active customers selected would change: "
                         "pick a change they do not already have.",
                         className="text-muted", id=f"{id_prefix}-empty-text")]
    p0, p1 = r["p0_mean"], r["p1_mean"]
    head = html.Div([html.Span("Mean churn risk of those affected: ", className="small"),
                     html.Span(fmt_pct(p0), className="whatif-p0"),
                     html.I(className="bi bi-arrow-right mx-2"),
                     html.Span(fmt_pct(p1), className="whatif-p1", id=f"{id_prefix}-p1-text")],
                    className="whatif-headline")
    counts = [_stat("Customers affected", f"{r['affected']:,}", f"{id_prefix}-affected-text"),
              _stat("Expected churners avoided", fmt_count(r["churners_avoided"]))]
    riskier = _stat("Made riskier by the change", f"{r['riskier']:,}")
    note = (f"Of {r['selected']:,} customers selected, {r['active']:,} are active; the "
            f"change applies to the {r['affected']:,} it alters. Churners avoided"
            + ("" if r.get("money_reason") else " and revenue retained")
            + " assume the acceptance rate.")
    if r.get("money_reason"):
        return [head, dbc.Row([*counts, riskier,
                               _stat("Total cost", money(r["total_cost"], currency))],
                              className="g-2 mt-2"),
                needs_revenue_note(r["money_reason"], id_prefix,
                                   "Revenue retained, value kept, expected profit and ROI"),
                html.Div(note, className="small text-muted mt-2", id=f"{id_prefix}-note-text")]
    profit_tone = "text-success" if r["profit"] > 0 else "text-danger"
    return [
        head,
        dbc.Row([
            *counts,
            _stat("Monthly revenue retained", money(r["revenue_retained"], currency)),
            _stat("Total cost", money(r["total_cost"], currency)),
            _stat("Expected profit", money(r["profit"], currency), f"{id_prefix}-profit-text",
                  profit_tone),
            _stat("ROI", _roi(r["roi"])),
            _stat("Value kept (CLV)", money(r["value_kept"], currency)),
            _stat("Break-even acceptance", _break_even(r)),
            riskier,
        ], className="g-2 mt-2"),
        *free_change_note(r["offer_cost_total"], r["roi"]),
        html.Div(note + " Total cost = a × Σc + k × customers contacted."
                 + (f" Estimated from a random sample of {r['sampled']:,} of them, scaled up: "
                    f"profit ± {money(1.96 * r['profit_se'], currency)} (95%)."
                    if r.get("sampled") else ""),
                 className="small text-muted", id=f"{id_prefix}-note-text"),
    ]


def catalogue_table(offers: list[dict]) -> html.Table:
    """The offer catalogue: name, assumed acceptance, what it is; an offer this data cannot
    take is greyed out with the reason."""
    rows = []
    for o in offers:
        reason = o.get("reason")
        what = [o.get("description", "")]
        if reason:
            what = [dbc.Badge("unavailable", color="secondary", className="me-2"),
                    html.Span(f"This offer {reason}.", className="offer-reason")]
        rows.append(html.Tr([html.Td(o["name"]), html.Td(fmt_pct(o["acceptance"])),
                             html.Td(what, className="text-muted")],
                            className="offer-unavailable text-muted opacity-75" if reason
                            else "offer-available", title=reason or None,
                            **{"data-offer": o["id"]}))
    return html.Table([html.Thead(html.Tr([html.Th("Offer"), html.Th("Assumed acceptance"),
                                           html.Th("What it is")])),
                       html.Tbody(rows)], className="table table-sm small mb-2")


__all__ = ["MODEL_IMPLIED", "PROFIT_FORMULA", "REVENUE_HINT", "assumption_inputs",
           "catalogue_table", "customer_result", "frozen_note", "money",
           "needs_revenue_note", "scenario_inputs", "selection_result"]
