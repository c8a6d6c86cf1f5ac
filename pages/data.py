"""Data: where the data came from, what was coerced or dropped, and the assumptions."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from components.behaviour_check import linked_tables
from components.feedback import empty_state, section
from components.kpi import fmt_int, fmt_pct
from components.load_panel import (datasets_table, drop_zone, preview_summary, roles_form,
                                   sample_table)
from dashboard import auth
from dashboard import data_ids as ids
from dashboard.services import data as service
from dashboard.services import datasets

dash.register_page(__name__, path="/data", name="Data", title="ChurnLens · Data", order=8)

CONTENT_DIV = "data-content-div"
LOAD_STORE = "data-load-store"
LINKED_DIV = "data-linked-tables-div"


def layout(**_query) -> html.Div:
    """A frame; the callbacks fill it on load."""
    return html.Div([
        html.Div([html.H4("Data", className="page-title mb-0"),
                  html.Div("Load your own data, see what was loaded, what happened to it on "
                           "the way in, and the assumptions behind the money figures.",
                           className="text-muted small")], className="mb-3"),
        dcc.Store(id=LOAD_STORE, data=0),
        _load_panel(),
        dcc.Loading(html.Div(id=CONTENT_DIV), type="dot"),
    ])


def _load_panel() -> dbc.Card:
    svc = datasets.current()
    limit = svc.upload_limit()
    return section("Load data", [
        dbc.Row([
            dbc.Col(drop_zone(ids.DROP_ID, ids.PROGRESS_ID, svc.upload_props(), limit)
                    if auth.is_admin() else html.Div("Loading data: admins only.",
                                                     className="small text-muted"), lg=5),
            dbc.Col([html.Div("Datasets", className="filter-label mb-1"),
                     html.Div(id=ids.DATA_DATASETS_DIV)], lg=7),
        ], className="g-3"),
        dcc.Store(id=ids.STORE_ID), dcc.Store(id=ids.DATA_PREVIEW_STORE),
        dcc.Store(id=ids.DATA_ROLES_STORE), dcc.Store(id=ids.DATA_TRAINED_STORE),
        dcc.Location(id=ids.DATA_REDIRECT, refresh=True),
        dcc.Download(id=ids.DATA_CONFIG_DOWNLOAD),
        dcc.Loading(html.Div(id=ids.DATA_PREVIEW_DIV, className="mt-3"), type="dot"),
        html.Div([
            dbc.Button([html.I(className="bi bi-cpu me-1"), "Train"], id=ids.DATA_TRAIN_BUTTON,
                       color="primary", size="sm", disabled=True, className="me-2"),
            dbc.Button("Cancel", id=ids.DATA_CANCEL_BUTTON, color="outline-secondary",
                       size="sm", disabled=True, className="me-2"),
            dbc.Button([html.I(className="bi bi-download me-1"), "Download config"],
                       id=ids.DATA_CONFIG_BUTTON, color="link", size="sm", disabled=True),
        ], className="mt-2"),
        html.Div([dbc.Progress(id=ids.DATA_TRAIN_PROGRESS, value=0, label="", striped=True,
                               animated=True, className="mt-2", style={"height": "1.2rem"}),
                  html.Div(id=ids.DATA_TRAIN_STAGE, className="small text-muted mt-1")],
                 id=ids.DATA_TRAIN_PROGRESS_WRAP, style={"display": "none"}),
        html.Div(id=ids.DATA_TRAIN_RESULT, className="mt-2"),
    ], subtitle="CSV (any delimiter), Excel or Parquet; the model trains in the background "
                "while the current data stays in service")


@callback(Output(ids.DATA_PREVIEW_DIV, "children"), Output(ids.DATA_PREVIEW_STORE, "data"),
          Output(ids.DATA_TRAIN_BUTTON, "disabled"), Output(ids.DATA_CONFIG_BUTTON, "disabled"),
          Input(ids.STORE_ID, "data"), prevent_initial_call=True)
def show_preview(upload):
    """An upload landed: read it, show the inferred roles as fields, enable Train."""
    if not isinstance(upload, dict) or upload.get("error"):
        message = (upload or {}).get("error") if isinstance(upload, dict) else None
        return (dbc.Alert(message or "The upload failed.", color="danger", className="small"),
                None, True, True)
    preview = datasets.current().preview_upload(upload.get("file"))
    if not preview["ok"]:
        return dbc.Alert(preview["error"], color="danger", className="small"), None, True, True
    why = datasets.current().can_train()
    body = [*preview_summary(preview), roles_form(preview, ids.DATA_ROLE_TYPE),
            html.Div("Sample rows", className="filter-label mt-2"), sample_table(preview)]
    if why:
        body.append(dbc.Alert(why, color="warning", className="small"))
    small = {k: preview[k] for k in ("file", "name", "columns", "values", "sheet")}
    return body, small, bool(why), False


@callback(Output(ids.DATA_ROLES_STORE, "data"),
          Output({"type": ids.DATA_ROLE_TYPE, "role": "churned"}, "options"),
          Input({"type": ids.DATA_ROLE_TYPE, "role": ALL}, "value"),
          State({"type": ids.DATA_ROLE_TYPE, "role": ALL}, "id"),
          State(ids.DATA_PREVIEW_STORE, "data"), prevent_initial_call=True)
def collect_roles(values, field_ids, preview):
    """The roles as edited (for Train and the config download); the label's values."""
    roles = {i["role"]: v for i, v in zip(field_ids, values)}
    options = datasets.churned_options(preview, roles.get("label"))
    return roles, options


@callback(Output(ids.DATA_CONFIG_DOWNLOAD, "data"), Output(ids.DATA_TRAIN_RESULT, "children",
                                                           allow_duplicate=True),
          Input(ids.DATA_CONFIG_BUTTON, "n_clicks"), State(ids.DATA_PREVIEW_STORE, "data"),
          State(ids.DATA_ROLES_STORE, "data"), prevent_initial_call=True)
def download_config(_clicks, preview, roles):
    """The config as settled, as a TOML file that works with --config."""
    result = datasets.current().config_download(preview, roles)
    if "error" in result:
        return no_update, dbc.Alert(result["error"], color="danger", className="small")
    return dict(content=result["text"], filename=result["filename"]), None


@callback(Output(ids.DATA_REDIRECT, "href"), Output(ids.DATA_TRAIN_RESULT, "children"),
          Input(ids.DATA_TRAINED_STORE, "data"),
          Input({"type": ids.DATA_SWITCH_TYPE, "index": ALL}, "n_clicks"),
          prevent_initial_call=True)
def switch_dataset(trained, _clicks):
    """A job finished (or Switch was pressed): serve that dataset and open the Overview."""
    trigger = ctx.triggered_id
    if isinstance(trigger, dict):
        if not any(_clicks):
            return no_update, no_update
        error = datasets.current().switch_to(trigger.get("index"))
    elif not isinstance(trained, dict):
        return no_update, no_update
    elif not trained.get("ok"):
        return no_update, dbc.Alert(trained.get("error") or "Training failed.", color="danger",
                                    className="small font-monospace")
    else:
        error = datasets.current().switch_to_upload(trained.get("file"), trained.get("config"))
    if error:
        return no_update, dbc.Alert(error, color="danger", className="small")
    return "/", dbc.Alert("Switched; opening the Overview.", color="success", className="small")


@callback(Output(ids.DATA_DATASETS_DIV, "children"), Input(LOAD_STORE, "data"))
def list_datasets(_tick):
    """Datasets loaded before, with a Switch button each."""
    return datasets_table(datasets.current().registry(), ids.DATA_SWITCH_TYPE,
                          disabled=not auth.is_admin())


@callback(Output(CONTENT_DIV, "children"), Input(LOAD_STORE, "data"))
def fill_data_page(_tick):
    """Render the data-quality report and the out-of-fold metrics table."""
    result = service.current().evaluation()
    if result is None:
        return empty_state("No data loaded", "See the error above: load a file above, or "
                           "fix the file and restart.")
    linked = result.get("linked")
    return [
        dbc.Row([dbc.Col(_source_card(result), lg=5), dbc.Col(_quality_card(result), lg=7)],
                className="g-3"),
        section("Linked tables", linked_tables(linked, LINKED_DIV),
                "behaviour over time, as features at the as-of date") if linked else None,
        section("Model quality", html.Div([
            f"CatBoost out-of-fold ROC-AUC {result['models']['catboost']['roc_auc']:.3f} "
            f"({result['cross_validation']['folds']}-fold stratified CV). ",
            dcc.Link("Curves, calibration, thresholds and explanations on the Model page",
                     href="/model", id="data-model-link")], className="small")),
        section("Assumptions", _assumptions(result)),
    ]


def _source_card(result: dict) -> dbc.Card:
    rows = [("Source", result["dataset"]), ("Customers", fmt_int(result["n_customers"])),
            ("Churn rate", fmt_pct(result["churn_rate"])),
            ("Rows used for training", fmt_int(result["quality"]["rows_used_for_training"])),
            ("Final model trained on", fmt_int(result["train_rows"]) + " rows"),
            ("Scored out-of-fold", f"{fmt_int(result['scoring']['out_of_fold'])} customers the "
                                   "model was trained on: each gets the score of the "
                                   "cross-validation model that never saw them"),
            ("Scored by the final model", f"{fmt_int(result['scoring']['final_model'])} "
                                          "customers it was not trained on")]
    if result.get("as_of"):
        rows.append(("Features as of", result["as_of"]))
        rows.append(("Scored as of (active customers)", result["extraction_date"]))
    feats = result["features"]
    rows.append(("Features", f"{len(feats['categorical'])} categorical, "
                             f"{len(feats['numeric'])} numeric"))
    return section("Data", _pairs(rows))


def _quality_card(result: dict) -> dbc.Card:
    q = result["quality"]
    items = [html.Li(f"{k}: {v:,} rows") for k, v in q["dropped"].items()]
    items += [html.Li(f"{k}: {v:,} cells") for k, v in q["coerced"].items()]
    items += [html.Li(f"{k}: {v:,} missing") for k, v in q["missing"].items()]
    items += [html.Li(note) for note in q["notes"]]
    leaks = [html.Li(w["message"], className="text-danger") for w in result["leakage_warnings"]]
    body = [html.Div(f"{q['rows_read']:,} rows read.", className="mb-2"),
            html.Ul(items or [html.Li("No rows dropped and no values coerced.")],
                    className="small mb-2")]
    body.append(html.Div("Leakage check: no single feature predicts churn with ROC-AUC above "
                         "0.90." if not leaks else "Leakage check:", className="small"))
    if leaks:
        body.append(html.Ul(leaks, className="small"))
    return section("Data quality", body)


def _assumptions(result: dict):
    s = result["settings"]
    rows = [("Risk tiers", f"High >= {s['tier_high']:.0%}, Medium >= {s['tier_medium']:.0%}"),
            ("Margin", f"{s['margin']:.0%} of monthly charges"),
            ("Discount rate", f"{s['annual_discount']:.0%} a year, applied monthly"),
            ("CLV horizon", f"{s['horizon_months']} months"),
            ("CLV method", "margin x expected remaining months from the Kaplan-Meier retention "
                           "curve, given the customer's tenure, faster decay for riskier "
                           "customers (hazard x p / mean p), discounted monthly"),
            ("Monthly churn hazard", f"{100 * result['hazard']:.2f}% "
                                     "(churners per customer-month observed)")]
    return _pairs(rows)


def _pairs(rows) -> html.Dl:
    items = []
    for label, value in rows:
        items += [html.Dt(label, className="col-sm-5 text-muted fw-normal"),
                  html.Dd(str(value), className="col-sm-7 mb-1")]
    return html.Dl(items, className="row small mb-0")
