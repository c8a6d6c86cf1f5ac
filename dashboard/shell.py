"""The app shell: navbar, status banners, the global filter bar (kept in the URL), pages."""

from __future__ import annotations

import math
from collections.abc import Callable
from urllib.parse import parse_qs, urlencode

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, ctx, dcc, html, no_update

from components.feedback import error_banner, warning_banner
from dashboard import auth, ids

NAV_PAGES = (("Overview", "/", "speedometer2"), ("Segments", "/segments", "diagram-3"),
             ("Customers", "/customers", "people"), ("Behaviour", "/behaviour", "activity"),
             ("What-if", "/what-if", "sliders"),
             ("Campaign", "/campaign", "megaphone"),
             ("Effectiveness", "/effectiveness", "graph-up-arrow"),
             ("Trends", "/trends", "graph-up"),
             ("Score", "/score", "calculator"),
             ("Model", "/model", "clipboard-data"), ("Data", "/data", "database-check"))


def slot_keys(options: dict) -> list[str | None]:
    """The filter key of each dropdown of the bar, in `ids.FILTER_DROPDOWNS` order: the
    drivers' source columns (None for a slot this data leaves empty), segment, tier."""
    drivers = [d["key"] for d in options.get("drivers") or []][:len(ids.FILTER_DRIVERS)]
    drivers += [None] * (len(ids.FILTER_DRIVERS) - len(drivers))
    return [*drivers, ids.SEGMENT, ids.TIER]


def _choices(options: dict) -> dict[str, list[str]]:
    """Filter key -> the values this data has (drivers by source column, segment, tier)."""
    allowed = {d["key"]: d["options"] for d in options.get("drivers") or []}
    allowed.update({ids.SEGMENT: options.get(ids.SEGMENT) or [],
                    ids.TIER: options.get(ids.TIER) or []})
    return allowed


def encode_filters(filters: dict) -> str:
    """Filters as a URL hash, e.g. '#Contract=Month-to-month&tenure=0-24' ('' when none);
    keys and values are URL-encoded ('#Payment+Method=Electronic+check')."""
    pairs = []
    filters = filters if isinstance(filters, dict) else {}
    for key, values in filters.items():
        if key in (ids.TENURE, ids.EVERYONE) or not isinstance(values, list):
            continue
        pairs += [(key, value) for value in values if isinstance(value, str)]
    tenure = filters.get(ids.TENURE)
    if isinstance(tenure, list) and len(tenure) == 2 and all(
            isinstance(v, (int, float)) and abs(v) < 1e9 for v in tenure):
        pairs.append((ids.TENURE, f"{int(tenure[0])}-{int(tenure[1])}"))
    if filters.get(ids.EVERYONE):
        pairs.append((ids.EVERYONE, "1"))
    return "#" + urlencode(pairs) if pairs else ""


def decode_filters(hash_text: str | None, options: dict) -> dict:
    """The filters a URL hash names, keeping only keys and values this data has."""
    query = parse_qs((hash_text or "").lstrip("#"), keep_blank_values=False)
    allowed = _choices(options)
    filters: dict = {}
    for key in slot_keys(options):
        values = [v for v in query.get(key, []) if v in allowed.get(key, [])] if key else []
        if values:
            filters[key] = list(dict.fromkeys(values))
    top = options.get("tenure_max")
    if query.get(ids.TENURE) and top is not None:
        try:
            lo, hi = (int(part) for part in query[ids.TENURE][0].split("-", 1))
            lo, hi = max(0, min(lo, hi)), min(int(top), max(lo, hi))
            if (lo, hi) != (0, int(top)):
                filters[ids.TENURE] = [lo, hi]
        except ValueError:
            pass
    if query.get(ids.EVERYONE, [""])[0] in ("1", "true", "yes"):
        filters[ids.EVERYONE] = True
    return filters


def filters_from_widgets(values: dict, tenure: list | None, tenure_max: int | None,
                         everyone: bool = False) -> dict:
    """The store's JSON from the widgets' values (empty lists and the full range mean 'all';
    lists hold active customers unless `everyone`)."""
    filters = {key: [v] if isinstance(v, str) else list(v) for key, v in values.items() if v}
    if tenure_max is not None and isinstance(tenure, list) and len(tenure) == 2 and \
            (int(tenure[0]), int(tenure[1])) != (0, int(tenure_max)):
        filters[ids.TENURE] = [int(tenure[0]), int(tenure[1])]
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
        html.Span(id=ids.FILTER_SUMMARY, className="navbar-text small text-white-50 text-nowrap"),
        _signed_in(),
    ], fluid=True), color="dark", dark=True, className="mb-3 app-navbar", id=ids.NAVBAR)


USER_TEXT, SIGN_OUT = "app-user-text", "app-sign-out-button"


def _signed_in() -> html.Form | None:
    """Who is signed in and Sign out (a POST with the session's CSRF token); nothing when
    login is off."""
    user = auth.signed_in()
    if user is None:
        return None
    name, role = user
    return html.Form([
        html.Span([html.I(className="bi bi-person-circle me-1"), name,
                   html.Span(role, className="badge text-bg-secondary ms-1 login-user-role")],
                  id=USER_TEXT, className="navbar-text small text-white text-nowrap"),
        html.Button([html.I(className="bi bi-box-arrow-right"),
                     html.Span("Sign out", className="visually-hidden")], id=SIGN_OUT,
                    type="submit", name=auth.CSRF_FIELD, value=auth.csrf_token(),
                    title="Sign out", className="btn btn-sm btn-outline-light ms-2 py-0"),
    ], method="post", action=auth.LOGOUT_PATH,
        className="d-flex align-items-center flex-nowrap ms-3 mb-0")


def _dropdown(dropdown_id: str, label: str, options: list[str],
              hidden: bool = False) -> dbc.Col:
    return dbc.Col([
        dbc.Label(label, html_for=dropdown_id, className="filter-label"),
        dcc.Dropdown(id=dropdown_id, options=options, multi=True, placeholder="All",
                     disabled=not options, clearable=True),
    ], xs=12, sm=6, lg=2, className="mb-2", style={"display": "none"} if hidden else None)


def _filter_bar(options: dict, customers: str = "customers") -> dbc.Card:
    """The driver slots (those this data fills), segment, tier, and the tenure slider where
    the data has a tenure; Reset all on the right."""
    drivers = options.get("drivers") or []
    slots = [_dropdown(dropdown_id, drivers[i]["label"], drivers[i]["options"])
             if i < len(drivers) else _dropdown(dropdown_id, "", [], hidden=True)
             for i, dropdown_id in enumerate(ids.FILTER_DRIVERS)]
    top = options.get("tenure_max")
    reset = dbc.Button([html.I(className="bi bi-x-circle me-1"), "Reset all"],
                       id=ids.FILTER_RESET, color="link", size="sm",
                       className="p-0 ms-auto filter-reset")
    slider = dcc.RangeSlider(id=ids.FILTER_TENURE, min=0, max=top or 1, step=1,
                             value=[0, top or 1], allowCross=False,
                             marks=_tenure_marks(top or 0),
                             tooltip={"placement": "bottom", "always_visible": False})
    tenure = dbc.Col([
        html.Div([dbc.Label("Tenure (months)", html_for=ids.FILTER_TENURE,
                            className="filter-label") if top is not None else None, reset],
                 className="d-flex align-items-start"),
        html.Div(slider, style=None if top is not None else {"display": "none"}),
    ], xs=12, sm=6, lg=2, className="mb-2")
    return dbc.Card(dbc.CardBody([dbc.Row([
        *slots,
        _dropdown(ids.FILTER_SEGMENT, "Segment", options.get(ids.SEGMENT) or []),
        _dropdown(ids.FILTER_TIER, "Risk tier", options.get(ids.TIER) or []),
        tenure,
    ], className="g-3 align-items-start"), html.Div(
        dbc.Switch(id=ids.FILTER_EVERYONE, value=False, className="mb-0 small",
                   label=f"Include {customers} who have already left (lists hold active "
                         f"{customers} only: those a team can still keep)"),
        id=ids.FILTER_EVERYONE_WRAP, style={"display": "none"}, className="mt-1")]),
        className="mb-3 filter-bar", id=ids.FILTER_BAR)


def _tenure_marks(top: int) -> dict[int, str]:
    """At most about seven marks: every 12 months up to 6 years (0, 12, ..., 72), every 24,
    36... beyond; every 1 or 2 on short tenures."""
    step = 12 * math.ceil(top / 72) if top > 12 else 2 if top > 6 else 1
    return {v: str(v) for v in range(0, top + 1, step)}


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


def layout(options: dict, status: dict, words: dict | None = None) -> html.Div:
    """The whole page frame; pages render inside `dash.page_container`. `options` are the
    current data's filter choices, `words` what it calls its customers."""
    return html.Div([
        dcc.Location(id=ids.URL, refresh="callback-nav"),
        dcc.Store(id=ids.FILTERS_STORE, data={}),
        _navbar(),
        dbc.Container([
            html.Div(_banners(status), id=ids.STATUS_AREA),
            _filter_bar(options, (words or {}).get("customers", "customers")),
            dash.page_container,
        ], fluid=True, className="pb-4 app-main"),
    ])


def sync_state(trigger, url_hash: str | None, dropdowns, tenure, options: dict,
               everyone: bool = False) -> tuple:
    """(hash, store, *dropdown values, tenure, everyone switch) for the filter-sync callback
    (dropdowns in `ids.FILTER_DROPDOWNS` order).

    The URL wins on first load and on navigation; a widget change rewrites store and URL;
    Reset clears everything."""
    keys = slot_keys(options)
    top = options.get("tenure_max")
    full = [0, top if top is not None else 1]
    if trigger == ids.FILTER_RESET:
        return "", {}, *[[] for _ in keys], full, False
    if trigger is None or trigger == ids.URL:
        filters = decode_filters(url_hash, options)
        return (no_update, filters, *[filters.get(k, []) if k else [] for k in keys],
                filters.get(ids.TENURE, full), bool(filters.get(ids.EVERYONE)))
    allowed = _choices(options)
    values = {k: [x for x in ([v] if isinstance(v, str) else v or []) if x in allowed[k]]
              for k, v in zip(keys, dropdowns) if k is not None and isinstance(v, (str, list))}
    filters = filters_from_widgets(values, tenure, top, bool(everyone))
    return encode_filters(filters), filters, *[no_update] * len(keys), no_update, no_update


def bar_styles(pathname: str | None) -> tuple[dict, dict]:
    """(filter bar style, everyone-switch style) for a page path."""
    path = "/" + (pathname or "/").strip("/")
    hidden = {"display": "none"}
    return ({} if path in ids.FILTERED_PAGES else hidden,
            {} if path in ids.LIST_PAGES else hidden)


def register_callbacks(app: dash.Dash, options: Callable[[], dict],
                       count: Callable[[dict | None], str]) -> None:
    """Keep filter widgets, the filter store and the URL hash in step; keep links in step.

    `options()` gives the current data's filter choices at call time (the dataset can
    change while the app runs); `count(filters)` the navbar's summary."""
    dropdowns = ids.FILTER_DROPDOWNS

    @app.callback(
        Output(ids.URL, "hash"), Output(ids.FILTERS_STORE, "data"),
        [Output(d, "value") for d in dropdowns],
        Output(ids.FILTER_TENURE, "value"), Output(ids.FILTER_EVERYONE, "value"),
        Input(ids.URL, "hash"), [Input(d, "value") for d in dropdowns],
        Input(ids.FILTER_TENURE, "value"), Input(ids.FILTER_EVERYONE, "value"),
        Input(ids.FILTER_RESET, "n_clicks"),
    )
    def sync_filters(url_hash, *widgets):
        """URL -> widgets on load and navigation; widgets -> store and URL on change."""
        n = len(dropdowns)
        return sync_state(ctx.triggered_id, url_hash, widgets[:n], widgets[n], options(),
                          widgets[n + 1])

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
