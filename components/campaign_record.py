"""The Campaign page's "Record this campaign" card: name, control share, seed, whether to
re-enrol customers already in a running campaign, the preview of what would be recorded
(members, held out, the smallest effect it could detect) and the result with its links.
Pure builders: every value comes in through the arguments (the campaigns service's JSON)."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.feedback import admin_hint
from components.kpi import fmt_int

NAME_INPUT = "campaign-record-name-input"
SHARE_INPUT = "campaign-record-share-input"
SEED_INPUT = "campaign-record-seed-input"
ENROLLED_CHECK = "campaign-record-enrolled-check"
OFFERS_DROPDOWN = "campaign-record-offers-dropdown"
PREVIEW_DIV = "campaign-record-preview-div"
RECORD_BUTTON = "campaign-record-button"
RESULT_DIV = "campaign-record-result-div"


def record_card(seed: int, offers: list[dict], can_record: bool = True) -> dbc.Card:
    """The form (the seed is pre-filled and recorded, so the split can be reproduced);
    `offers` are the catalogue's, to limit the campaign to customers whose best offer is
    one of them."""
    label = "small mb-1"
    return dbc.Card([
        dbc.CardHeader([html.Span("Record this campaign", className="section-title"),
                        html.Span("with a random control group, to measure what it did",
                                  className="section-subtitle ms-2")]),
        dbc.CardBody([
            dbc.Row([
                dbc.Col([html.Label("Name", htmlFor=NAME_INPUT, className=label),
                         dbc.Input(id=NAME_INPUT, placeholder="e.g. December save desk",
                                   maxLength=200, size="sm")], md=3),
                dbc.Col([html.Label("Offers", htmlFor=OFFERS_DROPDOWN, className=label),
                         dcc.Dropdown(id=OFFERS_DROPDOWN, options=offers, multi=True,
                                      placeholder="each customer's best offer",
                                      className="small")], md=3),
                dbc.Col([html.Label("Held out", htmlFor=SHARE_INPUT,
                                    className=label),
                         dbc.InputGroup([dbc.Input(id=SHARE_INPUT, type="number", min=1,
                                                   max=50, step=1, value=10, debounce=True),
                                         dbc.InputGroupText("%")], size="sm")], md=2),
                dbc.Col([html.Label("Seed", htmlFor=SEED_INPUT, className=label),
                         dbc.Input(id=SEED_INPUT, type="number", min=0, step=1, value=seed,
                                   debounce=True, size="sm")], md=1),
                dbc.Col(dbc.Checkbox(id=ENROLLED_CHECK, value=False,
                                     label="Also customers already in a running campaign",
                                     className="small mt-4"), md=3),
            ], className="g-2 mb-2"),
            html.Div(id=PREVIEW_DIV, className="small mb-2"),
            dbc.Button([html.I(className="bi bi-journal-plus me-1"), "Record campaign"],
                       id=RECORD_BUTTON, color="primary", size="sm", disabled=not can_record),
            admin_hint(not can_record),
            html.Div(id=RESULT_DIV, className="mt-2"),
        ]),
    ], className="mb-3 section-card")


def preview_text(preview: dict) -> html.Div:
    """What would be recorded: members, held out, left out, and the detectable effect."""
    if preview.get("error"):
        return dbc.Alert(preview["error"], color="warning", className="py-2 mb-0 small",
                         id="campaign-record-preview-alert")
    if not preview["members"]:
        return html.Div("Nobody in the selection to contact: widen the filters.",
                        className="text-muted")
    mde = preview.get("mde")
    detect = (f"With these sizes the campaign can detect a churn reduction of "
              f"{mde * 100:.1f} points or more (80% power, 5% level)"
              if mde is not None else "The detectable effect is unknown (no churn expected)")
    small = mde is not None and mde > 0.05
    parts = [html.Strong(f"{fmt_int(preview['treatment'])} to contact"),
             f", {fmt_int(preview['control'])} held out at random "
             f"(stratified by risk tier and offer). ",
             html.Span(detect + ("; a smaller effect would go unnoticed." if small else "."),
                       className="text-warning-emphasis" if small else "")]
    if preview.get("excluded"):
        parts.append(f" {fmt_int(preview['excluded'])} already in a running campaign are "
                     "left out.")
    return html.Div(parts, id="campaign-record-preview-text")


def result_view(result: dict) -> dbc.Alert:
    """The recorded campaign with its treatment-list export and the Effectiveness link."""
    if result.get("error"):
        return dbc.Alert(result["error"], color="danger", className="py-2 mb-0",
                         id="campaign-record-error-alert")
    cid = result["id"]
    return dbc.Alert([
        html.I(className="bi bi-check-circle me-2"),
        html.Span(f"Recorded campaign {cid}: {fmt_int(result['treatment'])} to contact, "
                  f"{fmt_int(result['control'])} held out (seed {result['seed']}).",
                  id="campaign-record-done-text"),
        html.Div([
            html.A([html.I(className="bi bi-filetype-csv me-1"), "Treatment list (CSV)"],
                   href=f"/export/campaign/{cid}/csv", download="",
                   className="btn btn-sm btn-outline-primary me-2",
                   id="campaign-record-export-link"),
            html.A([html.I(className="bi bi-file-earmark-excel me-1"), "Excel"],
                   href=f"/export/campaign/{cid}/xlsx", download="",
                   className="btn btn-sm btn-outline-primary me-2"),
            dbc.NavLink([html.I(className="bi bi-graph-up-arrow me-1"), "Effectiveness"],
                        href=f"/effectiveness?campaign={cid}",
                        className="btn btn-sm btn-outline-secondary d-inline-block"),
        ], className="mt-2"),
        html.Div("The control group is never in the list: contact only the treatment list, "
                 "then import the outcomes on the Effectiveness page.",
                 className="small text-muted mt-1"),
    ], color="success", className="py-2 mb-0", id="campaign-record-done-alert")
