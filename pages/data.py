"""Data: where the data came from, what was coerced or dropped, and the assumptions."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, callback, dcc, html

from components.feedback import empty_state, section
from components.kpi import fmt_int, fmt_pct
from dashboard.services import data as service

dash.register_page(__name__, path="/data", name="Data", title="ChurnLens · Data", order=8)

CONTENT_DIV = "data-content-div"
LOAD_STORE = "data-load-store"


def layout(**_query) -> html.Div:
    """A frame; the callback fills it once on load."""
    return html.Div([
        html.Div([html.H4("Data", className="page-title mb-0"),
                  html.Div("What was loaded, what happened to it on the way in, and the "
                           "assumptions behind the money figures.",
                           className="text-muted small")], className="mb-3"),
        dcc.Store(id=LOAD_STORE, data=0),
        dcc.Loading(html.Div(id=CONTENT_DIV), type="dot"),
    ])


@callback(Output(CONTENT_DIV, "children"), Input(LOAD_STORE, "data"))
def fill_data_page(_tick):
    """Render the data-quality report and the out-of-fold metrics table."""
    result = service.current().evaluation()
    if result is None:
        return empty_state("No data loaded", "See the error above; fix the file and restart.")
    return [
        dbc.Row([dbc.Col(_source_card(result), lg=5), dbc.Col(_quality_card(result), lg=7)],
                className="g-3"),
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
