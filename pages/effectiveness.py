"""Effectiveness: what a recorded campaign did, measured against its random control group,
beside what the model assumed; the uplift model; outcomes back in."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html, no_update

from components import effect_panels as panels
from components.charts import empty_figure
from components.effect_charts import arms_chart, effect_chart, qini_chart
from components.feedback import admin_hint, empty_state, section
from dashboard import auth
from dashboard.services import campaigns as service

dash.register_page(__name__, path="/effectiveness", name="Effectiveness",
                   title="ChurnLens · Effectiveness", order=5.3)

CAMPAIGN_DROPDOWN = "effectiveness-campaign-dropdown"
REFRESH_STORE = "effectiveness-refresh-store"
TABLE_DIV = "effectiveness-table-div"
BODY_DIV = "effectiveness-body-div"
VERDICT_DIV = "effectiveness-verdict-div"
TILES_DIV = "effectiveness-tiles-div"
ARMS_GRAPH = "effectiveness-arms-graph"
BY_RADIO = "effectiveness-by-radio"
BY_GRAPH = "effectiveness-by-graph"
ACCEPTANCE_DIV = "effectiveness-acceptance-div"
EXPORT_CSV = "effectiveness-export-csv-link"
EXPORT_XLSX = "effectiveness-export-xlsx-link"
UPLIFT_BUTTON = "effectiveness-uplift-button"
UPLIFT_DIV = "effectiveness-uplift-div"
QINI_GRAPH = "effectiveness-qini-graph"
MEASURED_BUTTON = "effectiveness-measured-button"
MEASURED_DIV = "effectiveness-measured-div"
UPLOAD_DROP = "effectiveness-upload-drop"
UPLOAD_PROGRESS = "effectiveness-upload-progress"
UPLOAD_STORE = "effectiveness-upload-store"
UPLOAD_INPUT = "effectiveness-upload-input"
IMPORT_DIV = "effectiveness-import-div"
GRAPH_CONFIG = {"displayModeBar": False, "responsive": True}
HIDDEN_GRAPH = {"height": "320px", "display": "none"}
SHOWN_GRAPH = {"height": "320px"}
GROUPINGS = (("tier", "Risk tier"), ("segment", "Segment"), ("offer", "Offer"),
             ("risk decile", "Decile of predicted risk"))


def layout(campaign=None, **_query) -> html.Div:
    options, chosen = _choices(campaign)
    # The first view is built here, not by the callbacks (one round trip less on load).
    table, verdict, tiles, arms, acceptance, body, csv_href, xlsx_href = show_campaign(chosen, 0)
    arms = empty_figure("No campaign yet.") if arms is no_update else arms
    return html.Div([
        dbc.Row([
            dbc.Col([html.H4("Effectiveness", className="page-title mb-0"),
                     html.Div("What each campaign did, measured against its random control "
                              "group, beside what the model assumed.",
                              className="text-muted small")], md=7),
            dbc.Col(dcc.Dropdown(id=CAMPAIGN_DROPDOWN, clearable=False, options=options,
                                 value=chosen, placeholder="Choose a campaign"), md=5,
                    className="mt-2 mt-md-0"),
        ], className="mb-3 align-items-end"),
        dcc.Store(id=REFRESH_STORE, data=0),
        dcc.Loading(html.Div(table, id=TABLE_DIV), type="dot", delay_show=200),
        html.Div([
            html.Div(verdict, id=VERDICT_DIV), html.Div(tiles, id=TILES_DIV),
            dbc.Row([
                dbc.Col(dbc.Card(dcc.Graph(id=ARMS_GRAPH, config=GRAPH_CONFIG, figure=arms,
                                           style={"height": "300px"}), body=True,
                                 className="chart-card h-100"), lg=4, className="mb-3"),
                dbc.Col(dbc.Card([
                    dbc.RadioItems(id=BY_RADIO, inline=True, value="tier",
                                   options=[{"label": l, "value": v} for v, l in GROUPINGS],
                                   className="small mb-1"),
                    dcc.Graph(id=BY_GRAPH, config=GRAPH_CONFIG, style={"height": "300px"},
                              figure=show_effect_by(chosen, "tier", 0))], body=True,
                    className="chart-card h-100"), lg=8, className="mb-3"),
            ], className="g-3"),
            section("Acceptance and the treatment list", [
                html.Div(acceptance, id=ACCEPTANCE_DIV),
                html.Div([
                    dbc.Button("Use the measured acceptance in the offer catalogue",
                               id=MEASURED_BUTTON, size="sm", color="outline-primary",
                               className="me-2", disabled=not auth.is_admin()),
                    admin_hint(not auth.is_admin()),
                    html.A([html.I(className="bi bi-filetype-csv me-1"),
                            "Treatment list (CSV)"], id=EXPORT_CSV, href=csv_href, download="",
                           className="btn btn-sm btn-outline-secondary me-2"),
                    html.A([html.I(className="bi bi-file-earmark-excel me-1"), "Excel"],
                           id=EXPORT_XLSX, href=xlsx_href, download="",
                           className="btn btn-sm btn-outline-secondary"),
                ]),
                html.Div(id=MEASURED_DIV, className="mt-2"),
            ], "measured vs assumed, per offer"),
            section("Uplift model", [
                html.Div("Once outcomes are in, a model of who responds can rank the next "
                         "campaign by predicted uplift instead of risk. It is compared with "
                         "risk ranking on held-out folds (a few seconds).",
                         className="small text-muted mb-2"),
                dbc.Button([html.I(className="bi bi-cpu me-1"), "Compare uplift and risk "
                            "ranking"], id=UPLIFT_BUTTON, size="sm", color="primary",
                           className="mb-2"),
                dcc.Loading(html.Div([html.Div(id=UPLIFT_DIV),
                                      dcc.Graph(id=QINI_GRAPH, config=GRAPH_CONFIG,
                                                style=HIDDEN_GRAPH,
                                                figure=empty_figure(""))]),
                            type="dot"),
            ], "on the campaign's members"),
            _outcomes_card(),
        ], id=BODY_DIV, className=body),
    ])


def _outcomes_card() -> dbc.Card:
    svc = service.current()
    parts = {"data-upload-store": UPLOAD_STORE, "data-upload-progress": UPLOAD_PROGRESS,
             "data-upload-input": UPLOAD_INPUT}
    return section("Outcomes", dbc.Row([
        dbc.Col([html.Div([
            html.I(className="bi bi-file-earmark-arrow-up fs-3 d-block mb-1"),
            html.Div("Drop an outcomes file here, or press to choose one",
                     className="fw-semibold"),
            html.Div(f"CSV or Excel; up to {svc.upload_limit()}.",
                     className="small text-muted"),
        ], id=UPLOAD_DROP, className="upload-drop text-center p-3",
            **svc.upload_props(), **parts) if auth.is_admin()
            else html.Div("Importing outcomes: admins only.", id=UPLOAD_DROP,
                          className="small text-muted", **parts),
            html.Div(html.Div(className="progress-bar", role="progressbar"),
                     id=UPLOAD_PROGRESS, className="progress mt-2 upload-progress",
                     style={"height": "1.1rem"}),
            dcc.Store(id=UPLOAD_STORE)], lg=5),
        dbc.Col([html.Div(panels.OUTCOMES_FORMAT, className="small text-muted mb-2"),
                 html.Div("Outcomes also come from a later refresh of the same customers: "
                          "start with the new file (or load it on the Data page) and the "
                          "churn of running campaigns' members is filled in.",
                          className="small text-muted mb-2"),
                 dcc.Loading(html.Div(id=IMPORT_DIV), type="dot")], lg=7),
    ]), "import who accepted, redeemed and churned")


def _campaign_id(value) -> int | None:
    """A campaign id from the browser (a dropdown value or the address), or None for
    anything that is not a whole number in range."""
    if isinstance(value, bool):
        return None
    try:
        number = int(value) if isinstance(value, (int, str)) else None
    except ValueError:
        return None
    return number if number is not None and 0 < number < 2 ** 31 else None


def _choices(initial) -> tuple[list[dict], int | None]:
    """The campaigns to choose from; the one in the address, else the newest."""
    items = service.current().campaigns()
    options = [{"label": f"{i['id']} · {i['name']}", "value": i["id"]} for i in items]
    ids = [i["id"] for i in items]
    chosen = _campaign_id(initial)
    chosen = chosen if chosen in ids else None
    return options, chosen if chosen is not None else (ids[0] if ids else None)


@callback(Output(TABLE_DIV, "children"), Output(VERDICT_DIV, "children"),
          Output(TILES_DIV, "children"), Output(ARMS_GRAPH, "figure"),
          Output(ACCEPTANCE_DIV, "children"), Output(BODY_DIV, "className"),
          Output(EXPORT_CSV, "href"), Output(EXPORT_XLSX, "href"),
          Input(CAMPAIGN_DROPDOWN, "value"), Input(REFRESH_STORE, "data"),
          prevent_initial_call=True)
def show_campaign(campaign_id, _refresh):
    """The chosen campaign's measured effect beside the assumed one."""
    svc, campaign_id = service.current(), _campaign_id(campaign_id)
    hidden = (None, None, no_update, None, "d-none", "#", "#")
    if svc.store() is None:
        return (dbc.Alert(svc.store_error, color="warning", id="effectiveness-store-alert"),
                *hidden)
    rows = svc.overview()
    if not rows:
        return (empty_state("No campaigns recorded yet.", "Record one on the Campaign page: "
                            "it keeps a random control group so its effect can be measured."),
                *hidden)
    table = section("Campaigns", panels.campaigns_table(rows, campaign_id))
    report = svc.report(campaign_id) if campaign_id is not None else {"error": "Choose one."}
    if report.get("error"):
        return (table, dbc.Alert(report["error"], color="warning"), None, no_update, None, "",
                "#", "#")
    cid = report["campaign"]["id"]
    return (table, panels.verdict(report), [panels.tiles(report), panels.profit_note(report)],
            arms_chart(report), panels.acceptance_table(report), "",
            f"/export/campaign/{cid}/csv", f"/export/campaign/{cid}/xlsx")


@callback(Output(BY_GRAPH, "figure"), Input(CAMPAIGN_DROPDOWN, "value"),
          Input(BY_RADIO, "value"), Input(REFRESH_STORE, "data"), prevent_initial_call=True)
def show_effect_by(campaign_id, by, _refresh):
    """The measured effect by tier, segment, offer or risk decile."""
    campaign_id = _campaign_id(campaign_id)
    by = by if isinstance(by, str) and by in dict(GROUPINGS) else "tier"
    title = f"Measured uplift by {dict(GROUPINGS).get(by, by).lower()} (points, 95% CI)"
    if campaign_id is None:
        return empty_figure("No campaign chosen.", title)
    report = service.current().report(campaign_id)
    rows = (report.get("by") or {}).get(by)
    if rows is None:
        return empty_figure("This campaign's members have no such grouping.", title)
    assumed = (report.get("assumed") or {}).get("uplift_with_acceptance")
    return effect_chart(rows, assumed, title)


@callback(Output(UPLIFT_DIV, "children"), Output(QINI_GRAPH, "figure"),
          Output(QINI_GRAPH, "style"), Input(UPLIFT_BUTTON, "n_clicks"),
          State(CAMPAIGN_DROPDOWN, "value"), prevent_initial_call=True)
def fit_uplift(_clicks, campaign_id):
    """Uplift ranking against risk ranking on held-out folds (Qini)."""
    campaign_id = _campaign_id(campaign_id)
    if campaign_id is None:
        return (panels.uplift_summary({"error": "Choose a campaign first."}), no_update,
                HIDDEN_GRAPH)
    study = service.current().uplift_study(campaign_id)
    if study.get("error"):
        return panels.uplift_summary(study), no_update, HIDDEN_GRAPH
    ranking = html.A([html.I(className="bi bi-filetype-csv me-1"),
                      "Active customers ranked by predicted uplift (CSV)"],
                     href=f"/export/uplift/{campaign_id}/csv", download="",
                     className="btn btn-sm btn-outline-primary mt-2",
                     id="effectiveness-uplift-export-link")
    return [panels.uplift_summary(study), ranking], qini_chart(study), SHOWN_GRAPH


@callback(Output(IMPORT_DIV, "children"), Output(REFRESH_STORE, "data"),
          Input(UPLOAD_STORE, "data"), State(CAMPAIGN_DROPDOWN, "value"),
          State(REFRESH_STORE, "data"), prevent_initial_call=True)
def import_outcomes(upload, campaign_id, refresh):
    """An outcomes file landed: check it whole, import it, refresh the figures."""
    campaign_id = _campaign_id(campaign_id)
    refresh = refresh if isinstance(refresh, int) and not isinstance(refresh, bool) \
        and 0 <= refresh < 10 ** 9 else 0
    if not isinstance(upload, dict) or upload.get("error") or \
            not isinstance(upload.get("file"), str) or not upload.get("file"):
        message = upload.get("error") if isinstance(upload, dict) else None
        message = message if isinstance(message, str) and message else "The upload failed."
        return dbc.Alert(message[:300], color="danger"), no_update
    if campaign_id is None:
        return dbc.Alert("Choose the campaign the outcomes belong to first.",
                         color="warning"), no_update
    svc = service.current()
    name = upload.get("name") if isinstance(upload.get("name"), str) else None
    result = svc.import_outcomes_upload(campaign_id, upload["file"], name)
    if result.get("error"):
        return dbc.Alert(result["error"], color="danger", id="effectiveness-import-error",
                         className="small"), no_update
    return (dbc.Alert(f"Imported {result['rows']:,} outcomes from {result['source'][5:]}.",
                      color="success", id="effectiveness-import-done", className="small"),
            (refresh or 0) + 1)


@callback(Output(MEASURED_DIV, "children"), Input(MEASURED_BUTTON, "n_clicks"),
          State(CAMPAIGN_DROPDOWN, "value"), prevent_initial_call=True)
def use_measured(_clicks, campaign_id):
    """Replace the catalogue's assumed acceptance with the measured one (recorded)."""
    campaign_id = _campaign_id(campaign_id)
    if campaign_id is None:
        return dbc.Alert("Choose a campaign first.", color="warning",
                         className="small py-2 mb-0")
    result = service.current().use_measured_acceptance(campaign_id)
    if result.get("error"):
        return dbc.Alert(result["error"], color="warning", className="small py-2 mb-0")
    changed = "; ".join(f"{c['offer']}: {100 * c['old']:.0f}% → {100 * c['new']:.1f}%"
                        for c in result["changes"])
    return dbc.Alert(f"Recorded and in use: {changed}. Offers and expected profits are "
                     "recomputed with them.", color="success", className="small py-2 mb-0",
                     id="effectiveness-measured-done")
