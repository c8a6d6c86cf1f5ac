"""The app shell: navbar, status banners, the global filter bar (kept in the URL), pages."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, ctx, dcc, html, no_update

from components.feedback import error_banner, warning_banner
from dashboard import ids

NAV_PAGES = (("Overview", "/", "speedometer2"), ("Segments", "/segments", "diagram-3"),
             ("Customers", "/customers", "people"), ("What-if", "/what-if", "sliders"),
             ("Campaign", "/campaign", "megaphone"), ("Score", "/score", "calculator"),
             ("Model", "/model", "clipboard-data"), ("Data", "/data", "database-check"))


def encode_filters(filters: dict) -> str:
    """Filters as a URL hash, e.g. '#contract=Month-to-month&tenure=0-24' ('' when none)."""
    pairs = []
    filters = filters if isinstance(filters, dict) else {}
    for key in ids.DROPDOWN_FILTERS:
        values = filters.get(key)
        for value in values if isinstance(values, list) else []:
            pairs.append((key, str(value)))
    tenure = filters.get("tenure")
    if isinstance(tenure, list) and len(tenure) == 2 and all(
            isinstance(v, (int, float)) and abs(v) < 1e9 for v in tenure):
        pairs.append(("tenure", f"{int(tenure[0])}-{int(tenure[1])}"))
    if filters.get(ids.EVERYONE):
        pairs.append((ids.EVERYONE, "1"))
    return "#" + urlencode(pairs) if pairs else ""


def decode_filters(hash_text: str | None, options: dict) -> dict:
    """The filters a URL hash names, keeping only values this data has."""
    query = parse_qs((hash_text or "").lstrip("#"), keep_blank_values=False)
    filters: dict = {}
    for key in ids.DROPDOWN_FILTERS:
        allowed = options.get(key) or []
        values = [v for v in query.get(key, []) if v in allowed]
        if values:
            filters[key] = values
    if query.get("tenure"):
        try:
            lo, hi = (int(part) for part in query["tenure"][0].split("-", 1))
            top = int(options.get("tenure_max", 72))
            lo, hi = max(0, min(lo, hi)), min(top, max(lo, hi))
            if (lo, hi) != (0, top):
                filters["tenure"] = [lo, hi]
        except ValueError:
            pass
    if query.get(ids.EVERYONE, [""])[0] in ("1", "true", "yes"):
        filters[ids.EVERYONE] = True
    return filters


def filters_from_widgets(values: dict, tenure: list | None, tenure_max: int,
                         everyone: bool = False) -> dict:
    """The store's JSON from the widgets' values (empty lists and the full range mean 'all';
    lists hold active customers unless `everyone`)."""
    filters = {key: list(v) for key, v in values.items() if v}
    if tenure and (int(tenure[0]), int(tenure[1])) != (0, int(tenure_max)):
        filters["tenure"] = [int(tenure[0]), int(tenure[1])]
    if everyone:
        filters[ids.EVERYONE] = True
    return filters


def _navbar() -> dbc.Navbar:
    links = [dbc.NavItem(dbc.NavLink([html.I(className=f"bi bi-{icon} me-1"), label], href=href,
                                     active="exact", id={"type": "app-nav-link", "page": href}))
             for label, href, icon in NAV_PAGES]
    return dbc.Navbar(dbc.Container([
        dbc.NavbarBrand([html.I(className="bi bi-graph-down-arrow me-2"), "ChurnLens"],
                        href="/", className="fw-semibold"),
        dbc.Nav(links, navbar=True, className="me-auto"),
        html.Span(id=ids.FILTER_SUMMARY, className="navbar-text small text-white-50"),
    ], fluid=True), color="dark", dark=True, className="mb-3 app-navbar", id=ids.NAVBAR)


def _dropdown(key: str, label: str, options: list[str], width: int) -> dbc.Col:
    dropdown_id = ids.DROPDOWN_FILTERS[key][0]
    return dbc.Col([
        dbc.Label(label, html_for=dropdown_id, className="filter-label"),
        dcc.Dropdown(id=dropdown_id, options=options, multi=True, placeholder="All",
                     disabled=not options, clearable=True),
    ], xs=12, sm=6, lg=width, className="mb-2")


def _filter_bar(options: dict) -> dbc.Card:
    top = int(options.get("tenure_max", 72))
    marks = {v: str(v) for v in range(0, top + 1, 12)}
    return dbc.Card(dbc.CardBody([dbc.Row([
        _dropdown("contract", "Contract", options["contract"], 2),
        _dropdown("internet", "Internet service", options["internet"], 2),
        _dropdown("payment", "Payment method", options["payment"], 2),
        _dropdown("segment", "Segment", options["segment"], 2),
        _dropdown("tier", "Risk tier", options["tier"], 2),
        dbc.Col([
            html.Div([
                dbc.Label("Tenure (months)", html_for=ids.FILTER_TENURE,
                          className="filter-label"),
                dbc.Button([html.I(className="bi bi-x-circle me-1"), "Reset all"],
                           id=ids.FILTER_RESET, color="link", size="sm",
                           className="p-0 ms-auto filter-reset"),
            ], className="d-flex align-items-start"),
            dcc.RangeSlider(id=ids.FILTER_TENURE, min=0, max=top, step=1, value=[0, top],
                            marks=marks, allowCross=False,
                            tooltip={"placement": "bottom", "always_visible": False}),
        ], xs=12, sm=6, lg=2, className="mb-2"),
    ], className="g-3 align-items-start"), html.Div(
        dbc.Switch(id=ids.FILTER_EVERYONE, value=False, className="mb-0 small",
                   label="Include customers who have already left (lists hold active "
                         "customers only: those a team can still keep)"),
        id=ids.FILTER_EVERYONE_WRAP, style={"display": "none"}, className="mt-1")]),
        className="mb-3 filter-bar", id=ids.FILTER_BAR)


def _banners(status: dict) -> list:
    if not status["ok"]:
        return [error_banner(status["error"])]
    banners = []
    if status["leakage"]:
        banners.append(warning_banner([w["message"] for w in status["leakage"]],
                                      "Possible leakage: a single feature predicts churn "
                                      "almost perfectly"))
    if status.get("offers_error"):
        banners.append(warning_banner([status["offers_error"]],
                                      "The offer catalogue could not be read: offers, "
                                      "campaigns and promo codes are off until it is fixed"))
    return banners


def layout(options: dict, status: dict) -> html.Div:
    """The whole page frame; pages render inside `dash.page_container`."""
    return html.Div([
        dcc.Location(id=ids.URL, refresh="callback-nav"),
        dcc.Store(id=ids.FILTERS_STORE, data={}),
        _navbar(),
        dbc.Container([
            html.Div(_banners(status), id=ids.STATUS_AREA),
            _filter_bar(options),
            dash.page_container,
        ], fluid=True, className="pb-4 app-main"),
    ])


def sync_state(trigger, url_hash: str | None, dropdowns, tenure, options: dict,
               everyone: bool = False) -> tuple:
    """(hash, store, *dropdown values, tenure, everyone switch) for the filter-sync callback.

    The URL wins on first load and on navigation; a widget change rewrites store and URL;
    Reset clears everything."""
    keys = list(ids.DROPDOWN_FILTERS)
    top = int(options.get("tenure_max", 72))
    if trigger == ids.FILTER_RESET:
        return "", {}, *[[] for _ in keys], [0, top], False
    if trigger is None or trigger == ids.URL:
        filters = decode_filters(url_hash, options)
        return (no_update, filters, *[filters.get(k, []) for k in keys],
                filters.get("tenure", [0, top]), bool(filters.get(ids.EVERYONE)))
    filters = filters_from_widgets(dict(zip(keys, dropdowns)), tenure, top, bool(everyone))
    return encode_filters(filters), filters, *[no_update] * len(keys), no_update, no_update


def bar_styles(pathname: str | None) -> tuple[dict, dict]:
    """(filter bar style, everyone-switch style) for a page path."""
    path = "/" + (pathname or "/").strip("/")
    hidden = {"display": "none"}
    return ({} if path in ids.FILTERED_PAGES else hidden,
            {} if path in ids.LIST_PAGES else hidden)


def register_callbacks(app: dash.Dash, options: dict, count) -> None:
    """Keep filter widgets, the filter store and the URL hash in step; keep links in step."""
    keys = list(ids.DROPDOWN_FILTERS)

    @app.callback(
        Output(ids.URL, "hash"), Output(ids.FILTERS_STORE, "data"),
        [Output(ids.DROPDOWN_FILTERS[k][0], "value") for k in keys],
        Output(ids.FILTER_TENURE, "value"), Output(ids.FILTER_EVERYONE, "value"),
        Input(ids.URL, "hash"), [Input(ids.DROPDOWN_FILTERS[k][0], "value") for k in keys],
        Input(ids.FILTER_TENURE, "value"), Input(ids.FILTER_EVERYONE, "value"),
        Input(ids.FILTER_RESET, "n_clicks"),
    )
    def sync_filters(url_hash, *widgets):
        """URL -> widgets on load and navigation; widgets -> store and URL on change."""
        return sync_state(ctx.triggered_id, url_hash, widgets[:len(keys)], widgets[len(keys)],
                          options, widgets[len(keys) + 1])

    @app.callback(Output(ids.FILTER_BAR, "style"), Output(ids.FILTER_EVERYONE_WRAP, "style"),
                  Input(ids.URL, "pathname"))
    def show_filters(pathname):
        """The filter bar only on the pages it changes; the lists' switch on the lists."""
        return bar_styles(pathname)

    @app.callback(
        Output({"type": "app-nav-link", "page": ALL}, "href"),
        Output(ids.FILTER_SUMMARY, "children"),
        Input(ids.FILTERS_STORE, "data"),
        State({"type": "app-nav-link", "page": ALL}, "id"),
    )
    def keep_links(filters, link_ids):
        """Nav links carry the filters; the navbar says how many customers are selected."""
        suffix = encode_filters(filters or {})
        return [link["page"] + suffix for link in link_ids], count(filters)
