"""What-if inputs (a family of pattern-matching ids) and their result panels.

Every input's id is {"type": <id_type>, "feature": <name>}: the actionable features, plus
"discount" (% off the monthly bill), "months" (how long) and "other_cost" (per accepter).
Assumptions are {"type": <id_type>-assumption, "name": margin | acceptance | contact_cost}.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.kpi import fmt_count, fmt_money, fmt_pct

MODEL_IMPLIED = ("Model-implied: the model re-scores the customer with these changes. These are "
                 "associations the model learned from past customers, not measured causal "
                 "effects of making the change.")
PROFIT_FORMULA = "expected profit = a × ((p0 − p1) × CLV − c) − k"


def _label(text: str, help_text: str = "") -> html.Label:
    return html.Label(text, className="form-label small mb-1", title=help_text)


def scenario_inputs(spec: dict, id_type: str, keep_label: str | None = None) -> list:
    """A dropdown per actionable feature, then the discount, its months and any other cost.

    With `keep_label` (segment what-if) each dropdown starts at "keep as is" (None); for one
    customer it starts at their current value and features they cannot have are locked."""
    fields = []
    for item in spec["actionable"]:
        feature = item["feature"]
        options = [{"label": c, "value": c} for c in item["choices"]]
        locked = item.get("locked", False)
        value = None if keep_label else item.get("current")
        placeholder = keep_label or ""
        note = ("No internet service: cannot be added" if locked else
                (f"now: {item['current']}" if item.get("current") else ""))
        fields.append(dbc.Col([
            _label(item["label"]),
            dcc.Dropdown(id={"type": id_type, "feature": feature}, options=options,
                         value=None if locked else value, disabled=locked,
                         clearable=bool(keep_label), placeholder=placeholder,
                         className="whatif-dropdown"),
            html.Div(note, className="form-text mt-0"),
        ], md=6, xl=4, className="mb-2"))
    money = [
        dbc.Col([_label("Monthly discount (%)", "Percent off the monthly bill; the model sees "
                        "the lower MonthlyCharges"),
                 dbc.Input(id={"type": id_type, "feature": "discount"}, type="number",
                           debounce=True, value=0, size="sm")], md=4, className="mb-2"),
        dbc.Col([_label("for (months)"),
                 dbc.Input(id={"type": id_type, "feature": "months"}, type="number",
                           debounce=True, value=0, size="sm")], md=4, className="mb-2"),
        dbc.Col([_label("Other cost per accepter ($)", "e.g. a free add-on or a bonus"),
                 dbc.Input(id={"type": id_type, "feature": "other_cost"}, type="number",
                           debounce=True, value=0, size="sm")], md=4, className="mb-2"),
    ]
    return [dbc.Row(fields, className="g-2"), dbc.Row(money, className="g-2")]


def assumption_inputs(spec: dict, id_type: str) -> dbc.Row:
    """Margin, acceptance rate and contact cost: visible and editable."""
    a = spec["assumptions"]
    kind = f"{id_type}-assumption"
    return dbc.Row([
        dbc.Col([_label("Margin (%)", "Share of revenue that is profit; CLV scales with it"),
                 dbc.Input(id={"type": kind, "name": "margin"}, type="number", debounce=True,
                           value=round(100 * a["margin"]), size="sm")], xs=4),
        dbc.Col([_label("Acceptance (%)", "Assumed share of contacted customers who accept"),
                 dbc.Input(id={"type": kind, "name": "acceptance"}, type="number", debounce=True,
                           value=round(100 * a["acceptance"]), size="sm")],
                xs=4),
        dbc.Col([_label("Contact cost ($)", "Paid for every customer contacted"),
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
                      "accepter (cost 0): the only spend is the contact cost. Enter what a "
                      "contract change or add-on really costs you under 'Other cost per "
                      "accepter' for a fair ROI."],
                     className="small text-warning-emphasis mt-1", id="whatif-free-note")]


def customer_result(r: dict, id_prefix: str) -> list:
    """p0 -> p1, the money of making the offer, and the break-even acceptance."""
    change = 100 * r["change"]
    tone = "text-success" if change < -0.05 else ("text-danger" if change > 0.05 else "")
    headline = html.Div([
        html.Span(fmt_pct(r["p0"]), className="whatif-p0"),
        html.I(className="bi bi-arrow-right mx-2"),
        html.Span(fmt_pct(r["p1"]), className=f"whatif-p1 {tone}", id=f"{id_prefix}-p1-text"),
        html.Span(f"{change:+.1f} pts", className=f"ms-2 small {tone}",
                  id=f"{id_prefix}-change-text"),
    ], className="whatif-headline")
    profit_tone = "text-success" if r["profit"] > 0 else "text-danger"
    stats = dbc.Row([
        _stat("Value kept per accepter", fmt_money(r["value_kept"], 2)),
        _stat("Cost per accepter", fmt_money(r["cost"], 2)),
        _stat("Expected profit per contact", fmt_money(r["profit"], 2),
              f"{id_prefix}-profit-text", profit_tone),
        _stat("ROI", _roi(r["roi"])),
        _stat("Break-even acceptance", _break_even(r)),
        _stat("CLV at this margin", fmt_money(r["clv"])),
    ], className="g-2 mt-2")
    changed = ", ".join(r["changed"]) or "nothing yet: change an input"
    return [headline,
            html.Div(f"Changed: {changed}", className="small text-muted"), stats,
            *free_change_note(r["cost"], r["roi"], bool(r["changed"])),
            html.Div(PROFIT_FORMULA + " (value kept = (p0 − p1) × CLV)",
                     className="small text-muted font-monospace")]


def selection_result(r: dict, id_prefix: str) -> list:
    """The scenario offered to every active customer it changes in the selection."""
    if r["affected"] == 0:
        return [html.Div(f"None of the {r['active']:,} active customers selected would change: "
                         "pick a change they do not already have.",
                         className="text-muted", id=f"{id_prefix}-empty-text")]
    profit_tone = "text-success" if r["profit"] > 0 else "text-danger"
    p0, p1 = r["p0_mean"], r["p1_mean"]
    return [
        html.Div([html.Span("Mean churn risk of those affected: ", className="small"),
                  html.Span(fmt_pct(p0), className="whatif-p0"),
                  html.I(className="bi bi-arrow-right mx-2"),
                  html.Span(fmt_pct(p1), className="whatif-p1", id=f"{id_prefix}-p1-text")],
                 className="whatif-headline"),
        dbc.Row([
            _stat("Customers affected", f"{r['affected']:,}", f"{id_prefix}-affected-text"),
            _stat("Expected churners avoided", fmt_count(r["churners_avoided"])),
            _stat("Monthly revenue retained", fmt_money(r["revenue_retained"])),
            _stat("Total cost", fmt_money(r["total_cost"])),
            _stat("Expected profit", fmt_money(r["profit"]), f"{id_prefix}-profit-text",
                  profit_tone),
            _stat("ROI", _roi(r["roi"])),
            _stat("Value kept (CLV)", fmt_money(r["value_kept"])),
            _stat("Break-even acceptance", _break_even(r)),
            _stat("Made riskier by the change", f"{r['riskier']:,}"),
        ], className="g-2 mt-2"),
        *free_change_note(r["offer_cost_total"], r["roi"]),
        html.Div(f"Of {r['selected']:,} customers selected, {r['active']:,} are active; the "
                 f"change applies to the {r['affected']:,} it alters. Churners avoided and "
                 "revenue retained assume the acceptance rate. "
                 "Total cost = a × Σc + k × customers contacted."
                 + (f" Estimated from a random sample of {r['sampled']:,} of them, scaled up: "
                    f"profit ± {fmt_money(1.96 * r['profit_se'])} (95%)."
                    if r.get("sampled") else ""),
                 className="small text-muted", id=f"{id_prefix}-note-text"),
    ]


__all__ = ["MODEL_IMPLIED", "PROFIT_FORMULA", "assumption_inputs", "customer_result",
           "frozen_note", "scenario_inputs", "selection_result"]
