"""What-if for a group: one change offered to every active customer the filters select."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, dcc, html, no_update

from components.feedback import empty_state, section
from components.whatif import (MODEL_IMPLIED, PROFIT_FORMULA, assumption_inputs, frozen_note,
                               scenario_inputs, selection_result)
from dashboard import ids
from dashboard.services import offers as service

dash.register_page(__name__, path="/what-if", name="What-if", title="ChurnLens · What-if",
                   order=4)

INPUT = "whatif-input"                      # pattern-matching: {"type", "feature"}
ASSUMPTION = f"{INPUT}-assumption"          # {"type", "name"}
PRESET_DROPDOWN = "whatif-preset-dropdown"
RESULT_DIV = "whatif-result-div"
SELECTION_TEXT = "whatif-selection-text"
KEEP = "Keep as is"


def layout(**_query) -> html.Div:
    svc = service.current()
    if svc.analysis is None:
        return empty_state("No data loaded.", "See the message above.")
    spec = svc.whatif_spec()
    presets = svc.offer_options()
    inputs = [
        dcc.Dropdown(id=PRESET_DROPDOWN, options=presets, value=None, clearable=True,
                     placeholder="Start from an offer in the catalogue (optional)…",
                     className="mb-2"),
        *scenario_inputs(spec, INPUT, keep_label=KEEP),
        html.Div("Assumptions", className="section-subtitle mt-2 mb-1"),
        assumption_inputs(spec, INPUT),
        html.Div(frozen_note(spec), className="mt-2"),
    ]
    return html.Div([
        html.Div([html.H4("What-if for a group", className="page-title mb-0"),
                  html.Div("Offer one change to every active customer the filters above "
                           "select, and see what it is worth. Leave a feature at “Keep as is” "
                           "to leave it alone.", className="text-muted small"),
                  html.Div(id=SELECTION_TEXT, className="small mt-1")], className="mb-3"),
        dbc.Row([
            dbc.Col(section("Change", inputs, "actionable features only"), lg=6),
            dbc.Col(section("Result", [
                dcc.Loading(html.Div(id=RESULT_DIV), type="dot", delay_show=200),
                html.Div(PROFIT_FORMULA + " per customer contacted",
                         className="small text-muted font-monospace mt-2")
                if spec["money"]["available"] else
                html.Div("Without a revenue column the result shows how the churn risk would "
                         "move; the money (expected profit, ROI) needs a revenue column.",
                         className="small text-muted mt-2"),
                dbc.Alert([html.I(className="bi bi-info-circle me-2"), MODEL_IMPLIED],
                          color="light", className="small mb-0 mt-2 py-2")],
                "model-implied"), lg=6),
        ], className="g-3"),
    ])


@callback(Output({"type": INPUT, "feature": ALL}, "value"),
          Output({"type": ASSUMPTION, "name": ALL}, "value"),
          Input(PRESET_DROPDOWN, "value"),
          State({"type": INPUT, "feature": ALL}, "id"),
          State({"type": ASSUMPTION, "name": ALL}, "id"),
          State({"type": ASSUMPTION, "name": ALL}, "value"), prevent_initial_call=True)
def apply_preset(offer_id, input_ids, assumption_ids, assumption_values):
    """A catalogue offer fills in its changes, discount, costs and acceptance."""
    return service.current().preset_inputs(offer_id, {}, input_ids, assumption_ids,
                                            assumption_values)


@callback(Output(RESULT_DIV, "children"), Output(SELECTION_TEXT, "children"),
          Input({"type": INPUT, "feature": ALL}, "value"),
          Input({"type": ASSUMPTION, "name": ALL}, "value"),
          Input(ids.FILTERS_STORE, "data"),
          State({"type": INPUT, "feature": ALL}, "id"),
          State({"type": ASSUMPTION, "name": ALL}, "id"))
def simulate(values, assumption_values, filters, input_ids, assumption_ids):
    """Re-score every active customer in the selection whom the change alters."""
    svc = service.current()
    if svc.analysis is None:
        return no_update, no_update
    summary = f"Filters: {svc.describe_filters(filters)}."
    try:
        currency = svc.currency()
        scenario = service.scenario_from(input_ids, values, assumption_ids, assumption_values,
                                         currency=currency)
        if not scenario.changes and scenario.discount == 0:
            return (html.Div("Choose a change on the left (or start from an offer) to see "
                             "what it would do for these customers.",
                             className="text-muted py-3", id="whatif-empty-text"), summary)
        result = svc.simulate_selection(filters or {}, scenario)
    except ValueError as exc:
        return dbc.Alert(str(exc), color="warning", className="small py-2 mb-0",
                         id="whatif-error-alert"), summary
    return selection_result(result, "whatif", currency), summary
