"""Trends: risk over time across data refreshes of the same customers (churn, risk mix,
revenue at risk), who rose since the last refresh, and which inputs drifted."""

from __future__ import annotations

import math
import numbers
from urllib.parse import urlencode

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import Input, Output, callback, dcc, html, no_update

from components.charts import empty_figure
from components.feedback import empty_state, section
from components.kpi import fmt_pct
from components.links import customer_path
from components.rules_panel import outbox_table, preview_list, rules_list
from components.segment_charts import money
from components.trend_charts import (drift_by_refresh, CHART_HEIGHT, churn_chart, day, drift_table, revenue_chart,
                                     risers_columns, risk_mix_chart, when)
from dashboard import ids
from dashboard.services import trends as trends_service
from dashboard.services.trends import TrendsService

dash.register_page(__name__, path="/trends", name="Trends", title="ChurnLens · Trends",
                   order=5.5)

INITIAL_STORE = "trends-initial-store"
NOTICE_DIV = "trends-notice-div"
CHANGE_TEXT = "trends-change-text"
CHARTS_DIV = "trends-charts-div"
CHURN_GRAPH = "trends-churn-graph"
MIX_GRAPH = "trends-mix-graph"
REVENUE_GRAPH = "trends-revenue-graph"
RISE_INPUT = "trends-rise-input"
COUNT_TEXT = "trends-count-text"
NOTE_TEXT = "trends-note-text"
CSV_LINK = "trends-csv-link"
XLSX_LINK = "trends-xlsx-link"
RISERS_GRID = "trends-risers-grid"
GRID_DIV = "trends-grid-div"
RISERS_EMPTY_DIV = "trends-risers-empty-div"
DRIFT_DIV = "trends-drift-div"
DRIFT_TABLE = "trends-drift-table"
RULES_DIV = "trends-rules-div"
PREVIEW_BUTTON = "trends-rules-preview-button"
PREVIEW_DIV = "trends-rules-preview-div"
OUTBOX_DIV = "trends-outbox-div"
GRAPH_CONFIG = {"displayModeBar": False, "responsive": True}
HIDDEN = {"display": "none"}
DEFAULT_RISE = 10          # points
DRIFT_SHOWN = 10
EXPORT_ON = ("btn btn-sm btn-primary me-2", "btn btn-sm btn-outline-primary")
EXPORT_OFF = tuple(f"{c} disabled" for c in EXPORT_ON)


def service() -> TrendsService:
    """The running app's trends service."""
    return trends_service.current()


def layout(**_query) -> html.Div:
    """Header, three charts, the risers and drift cards; the callbacks fill them."""
    noun = _words(service())["customers"]
    return html.Div([
        html.Div([html.H4("Risk over time", className="page-title mb-0"), html.Div(
            f"How churn, the risk mix and the revenue at risk moved across data refreshes of "
            f"the same {noun}, who rose since the last refresh, and which inputs shifted.",
            className="text-muted small")], className="mb-3"),
        dcc.Store(id=INITIAL_STORE, data=0),
        dcc.Loading(html.Div(id=NOTICE_DIV), type="dot", delay_show=250),
        html.Div([
            html.Div(id=CHANGE_TEXT, className="small mb-2"),
            dbc.Row([dbc.Col(dbc.Card(dcc.Loading(dcc.Graph(
                id=graph_id, config=GRAPH_CONFIG, figure=empty_figure("Loading…"),
                style={"height": f"{CHART_HEIGHT}px"}), type="circle", delay_show=250), body=True,
                className="chart-card h-100"), lg=6, xl=4, className="mb-3")
                for graph_id in (CHURN_GRAPH, MIX_GRAPH, REVENUE_GRAPH)], className="g-3"),
        ], id=CHARTS_DIV),
        dbc.Row([
            dbc.Col(_risers_section(noun), xl=8),
            dbc.Col(section("Drift between refreshes",
                            dcc.Loading(html.Div(id=DRIFT_DIV), type="dot", delay_show=250),
                            "how far each input moved (PSI)"), xl=4),
        ], className="g-3"),
        _rules_section(service().rules_view()),
    ])


def _rules_section(view: dict) -> dbc.Card:
    """The rules in words, a dry-run button and the outbox (all hidden without a file)."""
    usable = view.get("configured") and not view.get("error")
    return section("Enrolment rules", [
        html.Div(rules_list(view), id=RULES_DIV),
        dbc.Button([html.I(className="bi bi-eye me-1"), "Preview on this data (dry run)"],
                   id=PREVIEW_BUTTON, size="sm", color="outline-primary",
                   className="mt-2" if usable else "d-none"),
        dcc.Loading(html.Div(id=PREVIEW_DIV, className="mt-2"), type="dot"),
        html.Div(outbox_table(view.get("batches") or []) if usable else None,
                 className="mt-3", id=OUTBOX_DIV),
    ], "run on each data refresh; the treated are sent to the outbox")


@callback(Output(PREVIEW_DIV, "children"), Input(PREVIEW_BUTTON, "n_clicks"),
          prevent_initial_call=True)
def preview_rules(_clicks):
    """What each rule would enrol on the data in service (nothing is recorded)."""
    return preview_list(service().rules_preview())


def _risers_section(noun: str) -> dbc.Card:
    toolbar = dbc.Row([
        dbc.Col(html.Div([
            html.Label("Minimum rise", htmlFor=RISE_INPUT, className="small me-2 mb-0"),
            dbc.Input(id=RISE_INPUT, type="number", min=0, max=100, step=1,
                      value=DEFAULT_RISE, debounce=True, size="sm",
                      style={"maxWidth": "6rem"}),
            html.Span("points of churn risk", className="small text-muted ms-2 me-3"),
            html.Span("…", id=COUNT_TEXT, className="small")],
            className="d-flex align-items-center flex-wrap"), md=8),
        dbc.Col(html.Div([
            html.A([html.I(className="bi bi-filetype-csv me-1"), "Export CSV"], id=CSV_LINK,
                   href="#", download="", className=EXPORT_OFF[0]),
            html.A([html.I(className="bi bi-file-earmark-excel me-1"), "Export Excel"],
                   id=XLSX_LINK, href="#", download="", className=EXPORT_OFF[1]),
        ], className="d-flex justify-content-md-end mt-2 mt-md-0"), md=4),
    ], className="align-items-center mb-2")
    grid = dag.AgGrid(
        id=RISERS_GRID, columnDefs=risers_columns(_words(service())["customer"]), rowData=[],
        getRowId="params.data.customer_id",
        defaultColDef={"resizable": True, "sortable": True, "wrapHeaderText": True,
                       "autoHeaderHeight": True},
        dashGridOptions={"pagination": True, "paginationPageSize": 10,
                         "paginationPageSizeSelector": [10, 50, 200], "rowHeight": 40,
                         "domLayout": "autoHeight", "animateRows": False},
        style={"width": "100%"}, className="ag-theme-quartz")
    return section("Risers since the last refresh", [
        toolbar,
        dcc.Loading(html.Div(id=RISERS_EMPTY_DIV), type="dot", delay_show=250),
        html.Div(grid, id=GRID_DIV, style=HIDDEN),
        html.Div(id=NOTE_TEXT, className="small text-muted mt-2"),
    ], f"{noun} whose churn risk went up, or who crossed into High")


@callback(Output(NOTICE_DIV, "children"), Output(CHANGE_TEXT, "children"),
          Output(CHURN_GRAPH, "figure"), Output(MIX_GRAPH, "figure"),
          Output(REVENUE_GRAPH, "figure"), Output(CHARTS_DIV, "style"),
          Input(INITIAL_STORE, "data"))
def show_history(_initial):
    """Every snapshot's churn, risk mix and revenue at risk; a notice with fewer than two."""
    svc = service()
    history, words = svc.related_history(), _words(svc)
    items, noun = history["snapshots"], words["customers"]
    blank = [empty_figure("")] * 3
    if history["error"]:
        return _store_alert(history["error"]), None, *blank, HIDDEN
    if not items:
        return empty_state("No snapshot is stored yet.", _HOW_TO.format(noun=noun)), \
            None, *blank, HIDDEN
    notice = None if len(items) > 1 else _one_snapshot(noun, day(items[0]["taken_at"]))
    figures = (churn_chart(items, noun), risk_mix_chart(items, noun),
               revenue_chart(items, words["currency"], noun))
    return notice, _change(items[-2:], words["currency"]), *figures, None


@callback(Output(COUNT_TEXT, "children"), Output(RISERS_GRID, "rowData"),
          Output(GRID_DIV, "style"), Output(RISERS_EMPTY_DIV, "children"),
          Output(NOTE_TEXT, "children"), Output(CSV_LINK, "href"), Output(XLSX_LINK, "href"),
          Output(CSV_LINK, "className"), Output(XLSX_LINK, "className"),
          Input(RISE_INPUT, "value"))
def show_risers(points):
    """Who rose by at least `points` (or into High) since the last refresh; export links."""
    svc = service()
    min_rise = round(_bounded(points, DEFAULT_RISE, 0, 100) / 100, 4)
    view, noun = svc.risers(min_rise), _words(svc)["customers"]
    if not view["available"]:
        error = svc.history()["error"]
        return "", [], HIDDEN, _store_alert(error) if error else empty_state(
            "No earlier snapshot to compare with.", "Risers appear after the next data "
            f"refresh of the same {noun}."), None, "#", "#", *EXPORT_OFF
    count, note = _risers_text(view, min_rise, noun)
    if not view["n"]:
        return count, [], HIDDEN, empty_state(
            f"None of the {noun} in both refreshes rose by {min_rise * 100:g} points or more, "
            "and none crossed into High.", "Lower the minimum rise."), None, "#", "#", \
            *EXPORT_OFF
    links = [f"/export/risers/{fmt}?{urlencode({'min_rise': min_rise})}"
             for fmt in ("csv", "xlsx")]
    return count, view["rows"], None, None, note, *links, *EXPORT_ON


@callback(Output(DRIFT_DIV, "children"), Input(INITIAL_STORE, "data"))
def show_drift(_initial):
    """PSI of each input between the previous and the current snapshot, largest first."""
    svc = service()
    rows = svc.drift()
    if not rows:
        error = svc.history()["error"]
        return _store_alert(error) if error else empty_state(
            "No drift to show yet.", "It needs an earlier snapshot of the same "
            f"{_words(svc)['customers']} with a sample of the model's inputs.")
    shown = rows[:DRIFT_SHOWN]
    levels = [r["level"] for r in rows]
    count = (f"{levels.count('large')} large and {levels.count('moderate')} moderate shifts "
             f"among the {len(rows)} inputs" + (f"; the {DRIFT_SHOWN} largest are shown."
                                                 if len(rows) > DRIFT_SHOWN else "."))
    return [html.P([_psi_sentence(svc), " ", html.Strong(count)], className="small mb-2"),
            drift_table(shown, DRIFT_TABLE), drift_by_refresh(svc.drift_history())]


@callback(Output(ids.URL, "pathname", allow_duplicate=True), Input(RISERS_GRID, "cellClicked"),
          prevent_initial_call=True)
def open_customer(cell):
    """A click on a row opens that customer (rows are keyed by customer id)."""
    return customer_path(cell) or no_update


_HOW_TO = ("Each data refresh of the same {noun} stores a snapshot of every score. Start "
           "ChurnLens with --data NEW_FILE (newer data for the same {noun}) or load one on "
           "the Data page to compare refreshes.")


def _one_snapshot(noun: str, first: str) -> dbc.Alert:
    return dbc.Alert([
        html.I(className="bi bi-info-circle me-2"), html.Strong("Only one snapshot so far. "),
        f"Each data refresh of the same {noun} stores a snapshot of every score; to see how "
        "risk moves and who rose, start ChurnLens with ", html.Code("--data NEW_FILE"),
        f" (newer data for the same {noun}) or load one on the Data page. The first "
        f"snapshot was taken on {first}; its figures are below."],
        color="light", className="border small mb-3")


def _risers_text(view: dict, min_rise: float, noun: str) -> tuple[list, str]:
    """The count line ('80 customers rose by 10 points or more …; 42 crossed into High')
    and the note under the grid."""
    before, after, n = view["before"]["taken_at"], view["after"]["taken_at"], view["n"]
    count = [html.Strong(f"{n:,}"), f" {noun} rose by {min_rise * 100:g} points or more, or "
             f"into High, since {when(before)}; ", html.Strong(f"{view['into_high']:,}"),
             " crossed into High"]
    shown = len(view["rows"])
    note = (f"Risk at the refresh of {when(before)} against {when(after)}; {noun} in both "
            "refreshes only, biggest rise first. " + (
                f"The first {shown:,} are shown; the exports hold all {n:,}. "
                if shown < n else "") + "Click a row to open it.")
    return count, note


def _store_alert(error: str) -> dbc.Alert:
    return dbc.Alert([html.I(className="bi bi-exclamation-triangle me-2"),
                      html.Strong("Risk history is unavailable. "), error],
                     color="warning", className="small")


def _change(pair: list[dict], currency: str) -> list | None:
    """'From <date> to <date>: mean risk 18.6% → 20.1%, High 104 → 130, …' (two snapshots)."""
    if len(pair) < 2:
        return None
    (a, b) = (s["summary"] for s in pair)
    parts = [f"mean churn risk of active {fmt_pct(a.get('mean_probability'))} → "
             f"{fmt_pct(b.get('mean_probability'))}",
             f"High tier {(a.get('tiers') or {}).get('High', 0):,} → "
             f"{(b.get('tiers') or {}).get('High', 0):,}"]
    if a.get("revenue_at_risk") is not None and b.get("revenue_at_risk") is not None:
        parts.append(f"revenue at risk {money(a['revenue_at_risk'], currency=currency)} → "
                     f"{money(b['revenue_at_risk'], True, currency)}")
    return [html.Span(f"Latest refresh ({when(pair[1]['taken_at'])}) against the one before "
                      f"({when(pair[0]['taken_at'])}): ", className="text-muted"),
            "; ".join(parts) + "."]


def _psi_sentence(svc) -> str:
    """What PSI means, with the cut-offs of its levels when the service gives them."""
    limits = svc.drift_thresholds()
    cut = (f": above {limits['moderate']:.2f} is a moderate shift, above "
           f"{limits['large']:.2f} a large one" if limits else "")
    return ("The population stability index (PSI) compares each input's distribution in the "
            "previous refresh with this one; 0 means unchanged" + cut + ". A large shift means "
            "the model now scores a different population: check the data, then retrain if "
            "the change is real.")


def _words(svc) -> dict[str, str]:
    """What this business calls a customer, and its currency (the service's words)."""
    return svc.words()


def _bounded(value, default: float, low: float, high: float) -> float:
    """An input's value as a finite number within [low, high] (the default for anything
    else: an empty or forged input)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
            not math.isfinite(float(value)):
        return float(default)
    return min(max(float(value), low), high)
