"""Data & model: where the data came from, what was coerced or dropped, honest model metrics."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, callback, dcc, html

from components.feedback import empty_state, section
from components.kpi import fmt_int, fmt_pct
from dashboard import services

dash.register_page(__name__, path="/data", name="Data & model",
                   title="ChurnLens · Data & model", order=7)

CONTENT_DIV = "data-content-div"
LOAD_STORE = "data-load-store"
MODEL_LABELS = {"catboost": "CatBoost (served model)",
                "logistic_regression": "Logistic regression (baseline)",
                "random_forest": "Random forest (baseline)"}
METRICS = (("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC"), ("brier", "Brier"),
           ("log_loss", "Log loss"), ("recall", "Recall"), ("precision", "Precision"),
           ("f1", "F1"))


def layout(**_query) -> html.Div:
    """A frame; the callback fills it once on load."""
    return html.Div([
        html.Div([html.H4("Data & model", className="page-title mb-0"),
                  html.Div("What was loaded and how far to trust the scores.",
                           className="text-muted small")], className="mb-3"),
        dcc.Store(id=LOAD_STORE, data=0),
        dcc.Loading(html.Div(id=CONTENT_DIV), type="dot"),
    ])


@callback(Output(CONTENT_DIV, "children"), Input(LOAD_STORE, "data"))
def fill_data_page(_tick):
    """Render the data-quality report and the out-of-fold metrics table."""
    result = services.current().evaluation()
    if result is None:
        return empty_state("No data loaded", "See the error above; fix the file and restart.")
    return [
        dbc.Row([dbc.Col(_source_card(result), lg=5), dbc.Col(_quality_card(result), lg=7)],
                className="g-3"),
        section("Model quality", _metrics_table(result),
                f"out-of-fold, {result['cross_validation']['folds']}-fold stratified CV"),
        section("Assumptions", _assumptions(result)),
    ]


def _source_card(result: dict) -> dbc.Card:
    rows = [("Source", result["dataset"]), ("Customers", fmt_int(result["n_customers"])),
            ("Churn rate", fmt_pct(result["churn_rate"])),
            ("Rows used for training", fmt_int(result["quality"]["rows_used_for_training"])),
            ("Final model trained on", fmt_int(result["train_rows"]) + " rows")]
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


def _metrics_table(result: dict):
    head = html.Thead(html.Tr([html.Th("Model")] + [html.Th(label, className="text-end")
                                                    for _, label in METRICS]))
    body = []
    for name, row in result["models"].items():
        cells = [html.Td(MODEL_LABELS.get(name, name))]
        for key, _ in METRICS:
            std = row.get(f"{key}_fold_std")
            cells.append(html.Td([f"{row[key]:.3f}",
                                  html.Span(f" ±{std:.3f}", className="text-muted small")
                                  if std is not None else ""], className="text-end"))
        body.append(html.Tr(cells))
    cv = result["cross_validation"]
    note = (f"Pooled out-of-fold predictions on {cv['rows']:,} customers"
            f"{' (stratified sample)' if cv['sampled'] else ''}; ± is the standard deviation "
            f"over folds. Recall, precision and F1 at threshold {cv['threshold']:.2f}.")
    return [dbc.Table([head, html.Tbody(body)], hover=True, size="sm", responsive=True,
                      className="mb-1 metrics-table", id="data-metrics-table"),
            html.Div(note, className="small text-muted")]


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
