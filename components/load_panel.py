"""The Data page's "Load data" panel: the drop zone, the inferred roles as editable fields
with the reasons, sample rows, and the list of datasets loaded before. Pure builders: every
value comes in through the arguments."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

NONE_LABEL = {"id": "(none: number the rows from 1)", "label": "(choose the label)",
              "tenure": "(none)", "churned": "(the usual yes/true/1)"}
PERIODS = ("month", "year", "quarter", "week", "day")
UNITS = ("months", "years", "days", "weeks")
WORDS = ("customer", "account", "subscriber", "member", "client", "user")


def drop_zone(drop_id: str, progress_id: str, props: dict, limit_text: str) -> html.Div:
    """The upload area (assets/upload.js streams the file; this is only the markup)."""
    return html.Div([
        html.Div([
            html.I(className="bi bi-cloud-arrow-up fs-3 d-block mb-1"),
            html.Div("Drop a CSV, Excel or Parquet file here, or press to choose one",
                     className="fw-semibold"),
            html.Div(f"Streamed to the server, never held in the browser; up to {limit_text}.",
                     className="small text-muted"),
        ], id=drop_id, className="upload-drop text-center p-3", **props),
        html.Div(html.Div(className="progress-bar", role="progressbar"), id=progress_id,
                 className="progress mt-2 upload-progress", style={"height": "1.1rem"}),
    ])


def _options(columns: list[str], none: str | None = None) -> list[dict]:
    out = [{"label": none, "value": ""}] if none else []
    return out + [{"label": c, "value": c} for c in columns]


def _field(label: str, control, help_text: str = "", width: int = 4) -> dbc.Col:
    return dbc.Col([dbc.Label(label, className="filter-label mb-1"), control,
                    html.Div(help_text, className="form-text small")], md=6, lg=width,
                   className="mb-2")


def roles_form(preview: dict, role_type: str) -> dbc.Row:
    """Editable roles: id, label and its churned value, revenue, tenure and the words."""
    roles, columns = preview["roles"], preview["columns"]
    reasons = {g["role"]: g["reason"] for g in preview.get("guesses", [])}
    values = preview.get("values", {})

    def rid(role: str) -> dict:
        return {"type": role_type, "role": role}

    churned = values.get(roles.get("label"), [])
    excluded = {e["column"]: e["reason"] for e in preview.get("excluded", [])}
    return dbc.Row([
        _field("Churn label", dcc.Dropdown(id=rid("label"), options=_options(columns),
                                           value=roles["label"] or None, clearable=False),
               reasons.get("label", "The column that says who left.")),
        _field("Value meaning churned", dcc.Dropdown(
            id=rid("churned"), options=_options(churned, NONE_LABEL["churned"]),
            value=roles["churned"], clearable=False), "Which of the label's values is a "
            "customer who left."),
        _field("Customer id", dcc.Dropdown(id=rid("id"), options=_options(
            columns, NONE_LABEL["id"]), value=roles["id"], clearable=False),
            reasons.get("id", "")),
        _field("Monthly revenue", dcc.Dropdown(id=rid("revenue"), options=_options(columns),
                                               value=roles["revenue"], multi=True,
                                               placeholder="(none: no money figures)"),
               reasons.get("revenue", "Several columns are summed.")),
        _field("Revenue is per", dcc.Dropdown(
            id=rid("revenue_period"), options=list(PERIODS), value=roles["revenue_period"],
            clearable=False), "Converted to a month.", width=2),
        _field("Tenure", dcc.Dropdown(id=rid("tenure"), options=_options(
            columns, NONE_LABEL["tenure"]), value=roles["tenure"], clearable=False),
            reasons.get("tenure", "")),
        _field("Tenure unit", dcc.Dropdown(id=rid("tenure_unit"), options=list(UNITS),
                                           value=roles["tenure_unit"], clearable=False),
               "Never guessed silently: check it.", width=2),
        _field("A customer is called", dcc.Dropdown(
            id=rid("customer_word"), options=list(WORDS), value=roles["customer_word"],
            clearable=False), "", width=2),
        _field("Currency", dbc.Input(id=rid("currency"), value=roles["currency"], maxLength=5,
                                     size="sm"), "", width=2),
        _field("Leave out of the features", dcc.Dropdown(
            id=rid("drop"), options=[{"label": c, "value": c, "title": excluded.get(c, "")}
                                     for c in columns],
            value=roles["drop"], multi=True, placeholder="(none)"),
            "Pre-filled with the columns known after the outcome, constant or unique per "
            "row; hover an entry for the reason.", width=8),
    ], className="g-2")


def preview_summary(preview: dict) -> list:
    """What was read, the label balance, the warnings, what is left out and why."""
    items = [html.Div([html.Strong(preview["name"]), f" · {preview['read']}"],
                      className="small mb-1")]
    if preview.get("layout"):
        items.append(html.Div(preview["layout"], className="small text-success mb-1"))
    balance = preview.get("balance")
    if balance:
        where = " in the rows read" if preview.get("partial") else ""
        items.append(html.Div(f"Label balance{where}: {balance['churned']:,} churned, "
                              f"{balance['stayed']:,} stayed ({balance['rate']:.1%} churn).",
                              className="small mb-1"))
    for problem in preview.get("problems", []):
        items.append(dbc.Alert(problem, color="danger", className="py-1 px-2 small mb-1"))
    for warning in preview.get("warnings", []):
        items.append(dbc.Alert(warning, color="warning", className="py-1 px-2 small mb-1"))
    excluded = preview.get("excluded", [])
    if excluded:
        items.append(html.Details([
            html.Summary(f"{len(excluded)} column(s) left out of the features",
                         className="small"),
            html.Ul([html.Li([html.Code(e["column"]), f": {e['reason']}"])
                     for e in excluded], className="small mb-1")]))
    return items


def sample_table(preview: dict, limit_columns: int = 14) -> html.Div:
    """The first rows as read, so the roles can be checked against real values."""
    columns = preview["columns"][:limit_columns]
    more = len(preview["columns"]) - len(columns)
    head = html.Thead(html.Tr([html.Th(c, className="text-nowrap") for c in columns]))
    body = html.Tbody([html.Tr([html.Td(str(row.get(c, ""))[:24]) for c in columns])
                       for row in preview["sample"]])
    note = html.Div(f"... and {more} more column(s)", className="small text-muted") if more \
        else None
    return html.Div([dbc.Table([head, body], size="sm", bordered=False, hover=True,
                               className="small mb-1 sample-table"), note],
                    className="table-responsive")


def datasets_table(entries: list[dict], switch_type: str, disabled: bool = False) -> html.Div:
    """Datasets loaded before, with a Switch button each (the current one marked)."""
    if not entries:
        return html.Div("Only the current dataset so far.", className="small text-muted")
    rows = []
    for e in entries:
        action = (dbc.Badge("in service", color="success") if e.get("current") else
                  dbc.Button("Switch", id={"type": switch_type, "index": e["id"]},
                             size="sm", color="outline-primary", disabled=disabled))
        rows.append(html.Tr([html.Td(e["name"]), html.Td(f"{e['rows']:,}"),
                             html.Td(f"{e['churn_rate']:.1%}"),
                             html.Td(f"{e['roc_auc']:.3f}"), html.Td(e["loaded"]),
                             html.Td(action)]))
    head = html.Thead(html.Tr([html.Th(h) for h in ("Dataset", "Rows", "Churn",
                                                    "ROC-AUC (out-of-fold)", "Loaded", "")]))
    return dbc.Table([head, html.Tbody(rows)], size="sm", hover=True, className="small mb-0")
