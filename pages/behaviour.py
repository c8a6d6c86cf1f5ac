"""Behaviour: the early-warning list (usage fell, tickets turned negative) and what leavers
wrote after leaving."""

from __future__ import annotations

import math
import numbers

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import Input, Output, callback, dcc, html, no_update

from components.behaviour_panels import no_events_state, warning_columns, why_left_panel
from components.feedback import empty_state, section
from components.links import customer_path
from dashboard import ids
from dashboard.services import behaviour as service

dash.register_page(__name__, path="/behaviour", name="Behaviour",
                   title="ChurnLens · Behaviour", order=3.5)

USAGE_CHECK = "behaviour-usage-checkbox"
USAGE_SLIDER = "behaviour-usage-slider"
SENTIMENT_CHECK = "behaviour-sentiment-checkbox"
SENTIMENT_SLIDER = "behaviour-sentiment-slider"
COUNT_TEXT = "behaviour-count-text"
TITLE_TEXT = "behaviour-title-text"
NOTE_TEXT = "behaviour-note-text"
CSV_LINK = "behaviour-csv-link"
XLSX_LINK = "behaviour-xlsx-link"
GRID = "behaviour-list-grid"
GRID_DIV = "behaviour-grid-div"
EMPTY_DIV = "behaviour-empty-div"
WHY_DIV = "behaviour-why-div"
CONTENT_DIV = "behaviour-content-div"
NO_EVENTS_DIV = "behaviour-no-events-div"
# Built by the why-left callback inside WHY_DIV.
WHY_GRAPHS = ("behaviour-reasons-graph", "behaviour-words-graph", "behaviour-segments-graph")
HIDDEN = {"display": "none"}
DROP_PCT = round(100 * service.DEFAULT_DROP)
SENTIMENT_FALL = -service.DEFAULT_SENTIMENT


def layout(**_query) -> html.Div:
    """Rules, list and panels; the callbacks fill them for the filters."""
    svc = service.current()
    info, words = svc.info(), svc.words()
    as_of = f" Behaviour is taken as of {info['now']} for active {words['customers']}." \
        if info.get("now") else ""
    header = html.Div([html.H4("Behaviour", className="page-title mb-0"), html.Div(
        f"Who turned in the last 30 days, and what leavers wrote after leaving.{as_of}",
        className="text-muted small")], className="mb-3")
    if svc.analysis is None:
        missing = empty_state("No data loaded.")
    else:
        missing = no_events_state(words["customers"]) if not info["events"] else None
    return html.Div([
        header,
        html.Div(missing, id=NO_EVENTS_DIV),
        html.Div([_list_section(info, svc.columns(), words), _why_section(words)],
                 id=CONTENT_DIV, style=HIDDEN if missing else None),
    ])


def _list_section(info: dict, labels: dict, words: dict) -> dbc.Card:
    usage, talk = info["usage"], info["sentiment"]
    rules = dbc.Row([
        dbc.Col(_rule(USAGE_CHECK, USAGE_SLIDER, bool(usage),
                      f"{(usage or {}).get('what', 'usage').capitalize()} fell by at least",
                      dict(min=5, max=90, step=5, value=DROP_PCT,
                           marks={v: f"{v}%" for v in range(10, 91, 20)},
                           tooltip={"placement": "bottom", "template": "{value}%"}),
                      _usage_caption(usage)), md=6),
        dbc.Col(_rule(SENTIMENT_CHECK, SENTIMENT_SLIDER, bool(talk),
                      f"{(talk or {}).get('unit', 'ticket').capitalize()} sentiment fell by "
                      "more than",
                      dict(min=0.05, max=1.0, step=0.05, value=SENTIMENT_FALL,
                           marks={v / 10: f"{v / 10:.1f}" for v in range(2, 11, 2)},
                           tooltip={"placement": "bottom", "template": "{value}"}),
                      "on a −1…+1 scale, last 30 days against the 60 before, and their "
                      "last 30 days read negative" if talk else "no scored text in this data"),
                md=6),
    ], className="g-4 mb-2")
    toolbar = dbc.Row([
        dbc.Col(html.Div([html.Span("…", id=COUNT_TEXT, className="fw-semibold me-1"),
                          html.Span(id=TITLE_TEXT)]), md=8),
        dbc.Col(html.Div([
            html.A([html.I(className="bi bi-filetype-csv me-1"), "Export CSV"], id=CSV_LINK,
                   href="#", download="", className="btn btn-sm btn-primary me-2"),
            html.A([html.I(className="bi bi-file-earmark-excel me-1"), "Export Excel"],
                   id=XLSX_LINK, href="#", download="",
                   className="btn btn-sm btn-outline-primary"),
        ], className="d-flex justify-content-md-end mt-2 mt-md-0"), md=4),
    ], className="align-items-center mb-2")
    grid = dag.AgGrid(
        id=GRID, columnDefs=warning_columns(labels, words["customer"]), rowData=[],
        getRowId="params.data.customer_id",
        defaultColDef={"resizable": True, "sortable": True, "wrapHeaderText": True,
                       "autoHeaderHeight": True},
        dashGridOptions={"pagination": True, "paginationPageSize": 15,
                         "paginationPageSizeSelector": [15, 50, 100], "rowHeight": 44,
                         "domLayout": "autoHeight", "tooltipShowDelay": 300,
                         "animateRows": False},
        style={"width": "100%"}, className="ag-theme-quartz")
    return section("Early warning", [
        rules, html.Hr(className="my-2"), toolbar,
        dcc.Loading(html.Div(id=EMPTY_DIV), type="dot", delay_show=250),
        html.Div(grid, id=GRID_DIV),
        html.Div(id=NOTE_TEXT, className="small text-muted mt-2"),
    ], f"{words['customers']} whose behaviour turned in the last 30 days")


def _rule(check_id: str, slider_id: str, available: bool, label: str, slider: dict,
          detail: str) -> html.Div:
    return html.Div([
        dbc.Checkbox(id=check_id, value=available, disabled=not available, label=label,
                     className="fw-semibold small mb-1"),
        dcc.Slider(id=slider_id, disabled=not available, allow_direct_input=False, **slider),
        html.Div(detail, className="small text-muted"),
    ])


def _usage_caption(usage: dict | None) -> str:
    """'data GB a week (else call minutes), last 30 days against the 30 before': what the
    usage change compares (the first measure a customer has)."""
    if not usage:
        return "no usage table in this data"
    first, *rest = usage["amounts"]
    other = f" (else {' or '.join(rest)})" if rest else ""
    return f"{first}{usage['per']}{other}, last 30 days against the 30 before"


def _why_section(words: dict) -> dbc.Card:
    return section("Why they said they left", [
        dbc.Alert([html.I(className="bi bi-chat-left-quote me-2"),
                   html.Strong("What leavers wrote after leaving. "),
                   "It explains churn; it never feeds the model, whose scores use only what "
                   "was known at the as-of date."], color="light", className="border small"),
        dcc.Loading(html.Div(id=WHY_DIV), type="circle", delay_show=250),
    ], f"{words['customers']} who left, in the filters' selection")


@callback(Output(GRID, "rowData"), Output(COUNT_TEXT, "children"),
          Output(TITLE_TEXT, "children"), Output(NOTE_TEXT, "children"),
          Output(CSV_LINK, "href"), Output(XLSX_LINK, "href"), Output(GRID_DIV, "style"),
          Output(EMPTY_DIV, "children"),
          Input(ids.FILTERS_STORE, "data"), Input(USAGE_CHECK, "value"),
          Input(USAGE_SLIDER, "value"), Input(SENTIMENT_CHECK, "value"),
          Input(SENTIMENT_SLIDER, "value"))
def update_list(filters, use_usage, drop_pct, use_sentiment, fall):
    """The list for the filters and rules: the riskiest rows, the count, export links."""
    svc = service.current()
    if svc.analysis is None:
        return [], "", "No data loaded", None, "#", "#", HIDDEN, None
    params = {"drop": round(_bounded(drop_pct, DROP_PCT, 0, 100) / 100, 4),
              "sentiment": -round(_bounded(fall, SENTIMENT_FALL, 0, 2), 4),
              "rules": [r for r, on in zip(service.RULES, (use_usage, use_sentiment))
                        if on is True]}
    view = svc.early_warning(filters or {}, **params)
    links = [svc.export_href(fmt, filters, **params) for fmt in ("csv", "xlsx")]
    shown = len(view["rows"])
    note = (f"The {shown:,} riskiest are shown; the exports hold all {view['n']:,}. "
            if shown < view["n"] else "") + "Riskiest first; click a row to open it."
    if view["empty"]:
        return ([], f"{view['n']:,}" if view["title"] else "", view["title"], None, *links,
                HIDDEN, empty_state(view["empty"], "Lower the thresholds or widen the filters."))
    return view["rows"], f"{view['n']:,}", view["title"], note, *links, None, None


@callback(Output(WHY_DIV, "children"), Input(ids.FILTERS_STORE, "data"))
def update_why(filters):
    """Reasons, words and sentiment of what the selection's leavers wrote."""
    svc = service.current()
    if svc.analysis is None:
        return None
    return why_left_panel(svc.why_left(filters or {}), WHY_GRAPHS, svc.words()["customers"])


@callback(Output(ids.URL, "pathname", allow_duplicate=True), Input(GRID, "cellClicked"),
          prevent_initial_call=True)
def open_customer(cell):
    """A click on a row opens that customer (rows are keyed by customer id)."""
    return customer_path(cell) or no_update


def _bounded(value, default: float, low: float, high: float) -> float:
    """A slider's value as a finite number within [low, high] (the default for anything
    else: the browser sends what the slider allows, a forged request may not)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
            not math.isfinite(float(value)):
        return float(default)
    return min(max(float(value), low), high)
