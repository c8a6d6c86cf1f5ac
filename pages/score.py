"""Score new customers: a form of the model's features, answered instantly, and "Score a
file": a file of customers the model never saw, streamed to the upload folder
(assets/upload.js), scored by the score service, summarised here and downloadable."""

from __future__ import annotations

import json

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, dcc, html, no_update

from components.feedback import empty_state, section
from components.kpi import fmt_money, fmt_pct, risk_badge
from components.score_file import (columns_hint, error_view, result_view, sentence,
                                   upload_panel)
from dashboard.services import score as service

dash.register_page(__name__, path="/score", name="Score", title="ChurnLens · Score a customer",
                   order=6)

FIELD = "score-field"                  # pattern-matching: {"type", "feature"}
RESULT_DIV = "score-result-div"
# "Score a file": the uploader's parts (assets/upload.js reads them from the drop zone's
# data attributes; it creates the hidden file input itself), the result and the download.
UPLOAD_DROP = "score-upload-drop"
UPLOAD_PROGRESS = "score-upload-progress"
UPLOAD_STORE = "score-upload-store"
UPLOAD_INPUT = "score-upload-input"
FILE_RESULT_DIV = "score-file-result-div"
FILE_KEY_STORE = "score-file-key-store"     # {"key"} of the scored file kept on the server
FILE_DOWNLOAD_BUTTON = "score-file-download-button"
FILE_DOWNLOAD = "score-file-download"
FILE_DOWNLOAD_TEXT = "score-file-download-text"
FILE_DOWNLOAD_DIV = "score-file-download-div"
BEHAVIOUR_NOTE = "score-behaviour-note-text"
HIDDEN, SHOWN = "d-none", "mt-3"


def _field(item: dict) -> dbc.Col:
    fid = {"type": FIELD, "feature": item["feature"]}
    if item["kind"] == "category":
        control = dcc.Dropdown(id=fid, options=item["choices"], value=item["default"],
                               clearable=False)
        hint = ""
    else:
        # No min/max/step in the browser: an out-of-range number would reach the server as
        # "missing"; the server checks it and says what is wrong.
        control = dbc.Input(id=fid, type="number", value=item["default"], debounce=True,
                            size="sm")
        unit = f" {item['unit']}" if item.get("unit") else ""
        hint = f"{item['min']:,.0f}–{item['max']:,.0f}{unit} in the data"
    label = f"{item['label']} ({item['unit']})" if item.get("unit") else item["label"]
    return dbc.Col([html.Label(label, className="form-label small mb-1",
                               title=item["feature"]), control,
                    html.Div(hint, className="form-text mt-0")], md=6, xl=4, className="mb-2")


def layout(**_query) -> html.Div:
    svc = service.current()
    if svc.analysis is None:
        return empty_state("No data loaded.", "See the message above.")
    spec = svc.spec()
    return html.Div([
        html.Div([html.H4("Score a new customer", className="page-title mb-0"),
                  html.Div("Fill in the customer's attributes (choices come from this data's "
                           "categories, ranges from its numbers); the score updates as you "
                           "type. The same answer is available as JSON from POST /api/score. "
                           "A whole file of new customers can be scored below.",
                           className="text-muted small")], className="mb-3"),
        dbc.Row([
            dbc.Col(section("Customer", [dbc.Row([_field(item) for item in spec],
                                                 className="g-2"),
                                         _behaviour_note(svc.behaviour_note())],
                            "starts at the most common value and the median"), lg=7),
            dbc.Col(section("Score", dcc.Loading(html.Div(id=RESULT_DIV), type="dot",
                                                 delay_show=200)), lg=5),
        ], className="g-3"),
        _file_card(svc, spec),
    ])


@callback(Output(RESULT_DIV, "children"), Input({"type": FIELD, "feature": ALL}, "value"),
          State({"type": FIELD, "feature": ALL}, "id"))
def score(values, field_ids):
    """Probability, tier, reasons and the best offer for the form's customer."""
    # Every field goes to the scorer, an empty or non-numeric box as None, so the message
    # says "not a number" rather than "missing".
    record = {i["feature"]: v for i, v in zip(field_ids, values)}
    try:
        result = service.current().score(record)
    except service.ScoreInputError as exc:
        return dbc.Alert(str(exc), color="warning", className="small py-2",
                         id="score-error-alert")
    tier = result["risk_tier"]
    reasons = [html.Li([r["value"], html.Span(f" +{r['points']:.1f} pts",
                                              className="text-danger")])
               for r in result["reasons"]] or [html.Li("Nothing raises the risk above the "
                                                       "model's average score.")]
    offer = result.get("best_offer")
    offer_block = html.Div("No offer catalogue loaded.", className="small text-muted")
    if offer is not None:
        if offer["id"] == "none":
            offer_text = [html.Div("No offer", className="fw-semibold",
                                   id="score-offer-text"),
                          html.Div(offer.get("reason") or "Nothing in the catalogue is "
                                   "expected to pay for this customer.",
                                   className="small text-muted")]
        else:
            offer_text = [html.Div(offer["name"], className="fw-semibold",
                                   id="score-offer-text"),
                          html.Div(f"Churn risk with the offer "
                                   f"{fmt_pct(offer['churn_probability_with_offer'])}; expected "
                                   f"profit {fmt_money(offer['expected_profit'], 2)} "
                                   "(model-implied)", className="small text-muted")]
        offer_block = html.Div([html.Div("Best offer", className="kpi-title mt-3"),
                                *offer_text])
    return html.Div([
        html.Div("Churn probability", className="kpi-title"),
        html.Div([html.Span(fmt_pct(result["churn_probability"]), id="score-probability-text"),
                  risk_badge(tier, id="score-tier-badge")],
                 className="kpi-value"),
        html.Div(f"CLV {fmt_money(result['clv'])} · reasons start from the model's average "
                 f"score, {fmt_pct(result['model_baseline'])}; the observed churn rate in the "
                 f"data is {fmt_pct(result['observed_churn_rate'])}", className="kpi-sub",
                 id="score-baseline-text"),
        html.Div("What raises the risk most", className="kpi-title mt-3"),
        html.Ul(reasons, className="mb-0 small", id="score-reasons-list"),
        offer_block,
        html.Details([html.Summary("The same request as JSON", className="small text-muted"),
                      html.Pre(f"POST /api/score\n{json.dumps(record, indent=1)}",
                               className="small bg-light p-2 mb-0")], className="mt-3"),
    ])


@callback(Output(FILE_RESULT_DIV, "children"), Output(FILE_KEY_STORE, "data"),
          Output(FILE_DOWNLOAD_DIV, "className"),
          Output(FILE_DOWNLOAD_BUTTON, "children"), Output(FILE_DOWNLOAD_TEXT, "children"),
          Input(UPLOAD_STORE, "data"), prevent_initial_call=True)
def score_uploaded_file(upload):
    """A file landed in the upload folder: score it with the current model, show the summary."""
    if not isinstance(upload, dict) or upload.get("error") or not upload.get("file"):
        message = upload.get("error") if isinstance(upload, dict) else None
        message = sentence(message or "the upload failed.")
        return error_view(message), None, HIDDEN, no_update, ""
    result = service.current().score_upload(upload["file"])
    if not result["ok"]:
        return error_view(result["error"]), None, HIDDEN, no_update, ""
    label = [html.I(className="bi bi-download me-1"),
             f"Download all {result['rows']:,} scored customers (CSV)"]
    return result_view(result), {"key": result["key"]}, SHOWN, label, ""


@callback(Output(FILE_DOWNLOAD, "data"), Output(FILE_DOWNLOAD_TEXT, "children",
                                                allow_duplicate=True),
          Input(FILE_DOWNLOAD_BUTTON, "n_clicks"), State(FILE_KEY_STORE, "data"),
          prevent_initial_call=True)
def download_scored_file(_clicks, scored):
    """The whole scored file (formula-safe CSV), read back on the server by its key."""
    key = scored.get("key") if isinstance(scored, dict) else None
    result = service.current().scored_csv(key)
    if "error" in result:
        return no_update, result["error"]
    return dict(content=result["content"], filename=result["filename"], type="text/csv"), ""


def _behaviour_note(note: dict | None):
    """Behaviour features come from history, not from the form: said, not asked."""
    if note is None:
        return None
    n = note["n"]
    return html.Div([html.I(className="bi bi-clock-history me-1"),
                     f"Behaviour features ({n}, from {', '.join(note['tables'])}) come from "
                     "history, not from this form: a new customer is scored with a typical "
                     "active customer's behaviour (the median of each). /api/score takes them "
                     "when you have them."],
                    className="small text-muted mt-2", id=BEHAVIOUR_NOTE)


def _file_card(svc, spec: list[dict]) -> dbc.Card:
    """The "Score a file" card: the drop zone beside the result, the download below it."""
    return section("Score a file", dbc.Row([
        dbc.Col([upload_panel(UPLOAD_DROP, UPLOAD_PROGRESS, UPLOAD_STORE, UPLOAD_INPUT,
                              svc.upload_props(), svc.upload_limit()),
                 columns_hint([item["feature"] for item in spec]),
                 dcc.Store(id=UPLOAD_STORE), dcc.Store(id=FILE_KEY_STORE)], lg=4),
        dbc.Col([dcc.Loading(html.Div(html.Div(
                    "The scored customers appear here: the tier mix, the first rows and "
                    "what in the file the model did not expect.",
                    className="small text-muted"), id=FILE_RESULT_DIV),
                    delay_show=200, custom_spinner=html.Div(
                        [dbc.Spinner(size="sm", color="primary"),
                         html.Span("Scoring the file…", className="small ms-2")])),
                 html.Div([dbc.Button([html.I(className="bi bi-download me-1"),
                                       "Download the scored CSV"], id=FILE_DOWNLOAD_BUTTON,
                                      color="primary", outline=True, size="sm"),
                           html.Span(id=FILE_DOWNLOAD_TEXT, className="small text-danger ms-2"),
                           dcc.Download(id=FILE_DOWNLOAD)],
                          id=FILE_DOWNLOAD_DIV, className=HIDDEN)], lg=8),
    ], className="g-3"), "customers the model never saw, checked as the form is; unknown "
                         "categories and numbers outside the training range are reported, "
                         "not refused")
