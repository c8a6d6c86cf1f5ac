"""Customers: the at-risk list, paged, sorted and filtered on the server; export what you see."""

from __future__ import annotations


import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, clientside_callback, dcc, html, no_update

from components.links import customer_path
from components.list_columns import STATUS_STYLE, TIER_STYLE, WRAP
from dashboard import ids
from dashboard.services import customers as service
from dashboard.services.exports import export_href

dash.register_page(__name__, path="/customers", name="Customers",
                   title="ChurnLens · Customers", order=2)

GRID = "customers-list-grid"
COUNT_TEXT = "customers-count-text"
CSV_LINK = "customers-csv-link"
XLSX_LINK = "customers-xlsx-link"
REFRESH_STORE = "customers-refresh-store"

PCT = {"function": "params.value == null ? '' : d3.format('.1%')(params.value)"}
MONEY = {"function": "params.value == null ? '' : d3.format('$,.2f')(params.value)"}
NUMBER = {"filter": "agNumberColumnFilter", "type": "rightAligned",
          "filterParams": {"buttons": ["reset"], "maxNumConditions": 2}}
TEXT = {"filter": "agTextColumnFilter",
        "filterParams": {"buttons": ["reset"], "maxNumConditions": 2}}
# What a caller acts on first, visible without scrolling at 1400 px; the rest to the right.
COLUMNS = [
    {"field": "customer_id", "headerName": "Customer", "pinned": "left", "width": 130,
     "cellClass": "customer-link", **TEXT},
    {"field": "churn_probability", "headerName": "Churn risk", "valueFormatter": PCT,
     "width": 112, "sort": "desc", **NUMBER},
    {"field": "risk_tier", "headerName": "Tier", "width": 88, "cellStyle": TIER_STYLE, **TEXT},
    {"field": "reason_1", "headerName": "Top reason", "width": 215, **WRAP},
    {"field": "actionable_reason", "headerName": "Top reason an offer can change",
     "width": 215, **WRAP},
    {"field": "recommended_offer", "headerName": "Recommended offer", "width": 180,
     **TEXT, **{k: v for k, v in WRAP.items() if k != "sortable"}},
    {"field": "expected_profit", "headerName": "Expected profit (model-implied)",
     "valueFormatter": MONEY, "width": 128, **NUMBER},
    {"field": "promo_code", "headerName": "Promo code", "width": 192, **TEXT},
    {"field": "status", "headerName": "Status", "width": 100, "cellStyle": STATUS_STYLE,
     **TEXT},
    {"field": "segment", "headerName": "Segment", "width": 170, **TEXT},
    {"field": "tenure_months", "headerName": "Tenure (months)", "width": 110, **NUMBER},
    {"field": "monthly_charges", "headerName": "Monthly charges ($)", "valueFormatter": MONEY,
     "width": 120, **NUMBER},
    {"field": "clv", "headerName": "CLV ($)", "valueFormatter": MONEY, "width": 110,
     **NUMBER},
    {"field": "revenue_at_risk", "headerName": "Revenue at risk ($ / month)",
     "valueFormatter": MONEY, "width": 130, **NUMBER},
    {"field": "reason_2", "headerName": "2nd reason", "width": 235, **WRAP},
    {"field": "reason_3", "headerName": "3rd reason", "width": 235, **WRAP},
]


def layout(**_query) -> html.Div:
    """The grid asks the server for rows as the user scrolls; nothing else is sent."""
    return html.Div([
        dbc.Row([
            dbc.Col([html.H4("Customers", className="page-title mb-0"),
                     html.Div("The at-risk list: active customers, riskiest first, with the "
                              "most profitable offer for each. Sort or filter any column; "
                              "click a row to open that customer. To see customers who "
                              "already left too, switch them on above.",
                              className="text-muted small")], md=5),
            dbc.Col(html.Div([
                html.Span("…", id=COUNT_TEXT, className="me-3 small text-muted"),
                html.A([html.I(className="bi bi-filetype-csv me-1"), "Export CSV"],
                       id=CSV_LINK, href="#", className="btn btn-sm btn-primary me-2",
                       download=""),
                html.A([html.I(className="bi bi-file-earmark-excel me-1"), "Export Excel"],
                       id=XLSX_LINK, href="#", className="btn btn-sm btn-outline-primary",
                       download=""),
            ], className="d-flex align-items-center justify-content-md-end mt-2 mt-md-0"),
                md=7),
        ], className="mb-3 align-items-end"),
        dbc.Card(dag.AgGrid(
            id=GRID, columnDefs=_columns(service.current().data_columns()),
            rowModelType="infinite",
            getRowId="params.data.customer_id",
            defaultColDef={"resizable": True, "sortable": True, "wrapHeaderText": True,
                           "autoHeaderHeight": True},
            # One block request at a time: dash-ag-grid answers only the latest request, so a
            # second concurrent block would be left loading forever.
            dashGridOptions={"rowBuffer": 10, "cacheBlockSize": 100, "maxBlocksInCache": 20,
                             "maxConcurrentDatasourceRequests": 1,
                             "infiniteInitialRowCount": 100, "rowHeight": 44,
                             "tooltipShowDelay": 300, "animateRows": False},
            style={"height": "68vh", "width": "100%"}, className="ag-theme-quartz",
        ), body=True, className="chart-card"),
        dcc.Store(id=REFRESH_STORE),
        html.Div("Exports contain every customer the filters keep (not only the rows on "
                 "screen), in this order, with the filters written in the first line. Cells "
                 "that a spreadsheet would run as a formula are neutralised.",
                 className="small text-muted mt-2"),
    ])


def _columns(data_columns: list[dict]) -> list[dict]:
    """The fixed columns, with the ones this data has (named by the service) after tenure."""
    at = next(i for i, c in enumerate(COLUMNS) if c["field"] == "tenure_months") + 1
    extra = [{"field": c["field"], "headerName": c["label"], "width": 140,
              **(NUMBER if c.get("kind") == "number" else TEXT)} for c in data_columns]
    return COLUMNS[:at] + extra + COLUMNS[at:]


@callback(Output(GRID, "getRowsResponse"), Input(GRID, "getRowsRequest"),
          State(ids.FILTERS_STORE, "data"))
def load_rows(request, filters):
    """Serve the block of rows the grid asked for (server-side sort and filter)."""
    if not request:
        return no_update
    return service.current().grid_page(filters or {}, request)


@callback(Output(COUNT_TEXT, "children"), Output(CSV_LINK, "href"), Output(XLSX_LINK, "href"),
          Input(GRID, "getRowsRequest"), Input(ids.FILTERS_STORE, "data"))
def update_toolbar(request, filters):
    """Customer count of the current view and export links that reproduce it."""
    svc = service.current()
    if svc.analysis is None:
        return "No data loaded", "#", "#"
    request = request or {}
    model, sort = request.get("filterModel"), request.get("sortModel")
    try:
        n = len(svc.selection(filters or {}, model, sort))
    except (ValueError, TypeError):
        n = 0
    who = "customers (with those who left)" if (filters or {}).get(ids.EVERYONE) \
        else "active customers"
    return (f"{n:,} {who}", export_href("csv", filters, model, sort),
            export_href("xlsx", filters, model, sort))


@callback(Output(ids.URL, "pathname", allow_duplicate=True), Input(GRID, "cellClicked"),
          prevent_initial_call=True)
def open_customer(cell):
    """A click on a row opens that customer (rows are keyed by customer id)."""
    return customer_path(cell) or no_update


clientside_callback(
    """async function(filters) {
        const api = await dash_ag_grid.getApiAsync('%s');
        api.purgeInfiniteCache();
        return window.dash_clientside.no_update;
    }""" % GRID,
    Output(REFRESH_STORE, "data"), Input(ids.FILTERS_STORE, "data"),
    prevent_initial_call=True,
)
