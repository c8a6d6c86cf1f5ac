"""Model: honest out-of-fold performance, the threshold by cost, global explanations, hygiene."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from components.charts import empty_figure, rate_chart
from components.feedback import empty_state, section
from components.kpi import fmt_int, fmt_money, fmt_pct
from components.model_charts import (MODEL_NAMES, beeswarm_chart, cost_chart, decile_pr_chart,
                                     dependence_chart, gains_lift_chart, importance_chart,
                                     pr_chart, reliability_chart, roc_chart)
from dashboard.services import model as service

dash.register_page(__name__, path="/model", name="Model", title="ChurnLens · Model", order=7)

LOAD_STORE = "model-load-store"
LEAKAGE_DIV = "model-leakage-div"
METRICS_DIV = "model-metrics-div"
BACKTEST_DIV = "model-backtest-div"
ROC_GRAPH = "model-roc-graph"
PR_GRAPH = "model-pr-graph"
CALIBRATION_GRAPH = "model-calibration-graph"
CALIBRATION_TEXT = "model-calibration-text"
GAINS_GRAPH = "model-gains-graph"
DECILES_GRAPH = "model-deciles-graph"
DECILE_TABLE_DIV = "model-decile-table-div"
THRESHOLD_SLIDER = "model-threshold-slider"
MISSED_INPUT = "model-missed-cost-input"
ALARM_INPUT = "model-alarm-cost-input"
RECALL_BUTTON = "model-recall-button"          # pattern-matching: {"type", "recall"}
CHEAPEST_BUTTON = "model-cheapest-button"
APPLY_BUTTON = "model-apply-tier-button"
APPLY_TEXT = "model-apply-tier-text"
CONFUSION_DIV = "model-confusion-div"
COST_GRAPH = "model-cost-graph"
IMPORTANCE_GRAPH = "model-importance-graph"
BEESWARM_GRAPH = "model-beeswarm-graph"
DEPENDENCE_FEATURE = "model-dependence-feature-dropdown"
DEPENDENCE_COLOUR = "model-dependence-colour-dropdown"
DEPENDENCE_GRAPH = "model-dependence-graph"
BINS_FEATURE = "model-bins-feature-dropdown"
BINS_GRAPH = "model-bins-graph"
QUALITY_DIV = "model-quality-div"
DRIFT_DIV = "model-drift-div"
CONFIG = {"displayModeBar": False}
METRICS = (("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC"), ("brier", "Brier"),
           ("log_loss", "Log loss"), ("recall", "Recall"), ("precision", "Precision"),
           ("f1", "F1"))


def _graph(graph_id: str, lg: int = 6) -> dbc.Col:
    return dbc.Col(dbc.Card(dcc.Loading(dcc.Graph(id=graph_id, config=CONFIG,
                                                  figure=empty_figure("Loading…")),
                                        type="circle", delay_show=250),
                            body=True, className="chart-card h-100"), lg=lg, className="mb-3")


def layout(**_query) -> html.Div:
    svc = service.current()
    if svc.analysis is None:
        return empty_state("No data loaded.", "See the message above.")
    choices = svc.feature_choices()
    ranked = [i["feature"] for i in svc.view()["importance"]]
    numeric = [f for f in ranked if f in svc.analysis.numeric]
    others = [f for f in ranked if f not in numeric[:1]]
    top = (numeric[:1] + others[:1]) if numeric else ranked[:2]
    threshold = svc.analysis.settings.tier_high
    presets = [dbc.Button(f"Catch {int(float(r) * 100)}%", id={"type": RECALL_BUTTON,
                                                                "recall": r},
                          size="sm", color="secondary", outline=True, className="me-1 mb-1")
               for r in svc.view()["recall_presets"]]
    threshold_panel = dbc.Row([
        dbc.Col([
            html.Label("Threshold: flag customers whose churn probability is at least",
                       className="small mb-1"),
            dcc.Slider(id=THRESHOLD_SLIDER, min=0.01, max=0.99, step=0.01, value=threshold,
                       marks={v / 10: f"{v / 10:.1f}" for v in range(1, 10)},
                       tooltip={"placement": "bottom", "always_visible": True}),
            html.Div([html.Span("Recall first: ", className="small text-muted me-1"),
                      *presets], className="mt-3"),
            dbc.Row([
                dbc.Col([html.Label("Cost of a missed churner ($)", className="small mb-1",
                                    title="The value lost when a churner is not contacted: "
                                          "by default the mean CLV of active customers"),
                         dbc.Input(id=MISSED_INPUT, type="number", min=0, step=1, size="sm",
                                   debounce=True)], xs=6),
                dbc.Col([html.Label("Cost of a false alarm ($)", className="small mb-1",
                                    title="An offer and a contact spent on a customer who "
                                          "would have stayed: by default the contact cost "
                                          "plus the mean cost of the recommended offers"),
                         dbc.Input(id=ALARM_INPUT, type="number", min=0, step=1, size="sm",
                                   debounce=True)], xs=6),
            ], className="g-2 mt-2"),
            html.Div([dbc.Button("Use the cheapest threshold", id=CHEAPEST_BUTTON, size="sm",
                                 color="primary", outline=True, className="me-2"),
                      dbc.Button("Make it the High-tier cut-off", id=APPLY_BUTTON, size="sm",
                                 color="primary")], className="mt-3"),
            html.Div(id=APPLY_TEXT, className="small mt-2"),
            html.Div(id=CONFUSION_DIV, className="mt-3"),
        ], lg=5),
        dbc.Col(dcc.Graph(id=COST_GRAPH, config=CONFIG, figure=empty_figure("Loading…")),
                lg=7),
    ], className="g-4")
    return html.Div([
        html.Div([html.H4("Model", className="page-title mb-0"),
                  html.Div("How far to trust the scores: every figure here comes from "
                           "out-of-fold predictions (each customer scored by a model that did "
                           "not see them), never from the training rows.",
                           className="text-muted small")], className="mb-3"),
        dcc.Store(id=LOAD_STORE, data=0),
        html.Div(id=LEAKAGE_DIV),
        section("Models compared", [html.Div(id=METRICS_DIV), html.Div(id=BACKTEST_DIV)],
                "out-of-fold, same folds"),
        dbc.Row([_graph(ROC_GRAPH), _graph(PR_GRAPH)], className="g-3"),
        dbc.Row([dbc.Col(dbc.Card([dcc.Graph(id=CALIBRATION_GRAPH, config=CONFIG,
                                             figure=empty_figure("Loading…")),
                                   html.Div(id=CALIBRATION_TEXT, className="small text-muted")],
                                  body=True, className="chart-card h-100"), lg=6,
                         className="mb-3"),
                 _graph(GAINS_GRAPH)], className="g-3"),
        dbc.Row([_graph(DECILES_GRAPH),
                 dbc.Col(section("Deciles", html.Div(id=DECILE_TABLE_DIV),
                                 "riskiest tenth first, out-of-fold"), lg=6)],
                className="g-3"),
        section("Threshold", threshold_panel, "confusion matrix out-of-fold; cost per customer"),
        section("Global explanations", [
            dbc.Row([_graph(IMPORTANCE_GRAPH, 5), _graph(BEESWARM_GRAPH, 7)], className="g-3"),
            dbc.Row([
                dbc.Col([dbc.Row([
                    dbc.Col(dcc.Dropdown(id=DEPENDENCE_FEATURE, options=choices,
                                         value=top[0] if top else None, clearable=False), xs=6),
                    dbc.Col(dcc.Dropdown(id=DEPENDENCE_COLOUR, options=choices,
                                         value=top[1] if len(top) > 1 else None,
                                         placeholder="Colour by…"), xs=6)],
                    className="g-2 mb-2"),
                    dcc.Graph(id=DEPENDENCE_GRAPH, config=CONFIG,
                              figure=empty_figure("Loading…"))], lg=6),
                dbc.Col([dcc.Dropdown(id=BINS_FEATURE, options=choices,
                                      value=top[0] if top else None, clearable=False,
                                      className="mb-2"),
                         dcc.Graph(id=BINS_GRAPH, config=CONFIG,
                                   figure=empty_figure("Loading…"))], lg=6),
            ], className="g-3"),
            html.Div("SHAP values are the model's attributions (associations it learned), in "
                     "percentage points of churn probability; the summary and dependence plots "
                     "use a seeded sample of customers.", className="small text-muted"),
        ], "SHAP and churn by feature"),
        dbc.Row([dbc.Col(section("Data quality", html.Div(id=QUALITY_DIV)), lg=6),
                 dbc.Col(section("Drift", html.Div(id=DRIFT_DIV), "population stability index"),
                         lg=6)], className="g-3"),
    ])


@callback(Output(LEAKAGE_DIV, "children"), Output(METRICS_DIV, "children"),
          Output(BACKTEST_DIV, "children"),
          Output(ROC_GRAPH, "figure"), Output(PR_GRAPH, "figure"),
          Output(CALIBRATION_GRAPH, "figure"), Output(CALIBRATION_TEXT, "children"),
          Output(GAINS_GRAPH, "figure"), Output(DECILES_GRAPH, "figure"),
          Output(DECILE_TABLE_DIV, "children"),
          Output(IMPORTANCE_GRAPH, "figure"), Output(BEESWARM_GRAPH, "figure"),
          Output(QUALITY_DIV, "children"), Output(DRIFT_DIV, "children"),
          Output(MISSED_INPUT, "value"), Output(ALARM_INPUT, "value"),
          Input(LOAD_STORE, "data"))
def fill_model_page(_tick):
    """Everything that does not depend on an input, once on load."""
    svc = service.current()
    view = svc.view()
    rel = view["calibration"]
    best = rel["methods"][rel["method"]]
    if rel["applied"]:
        calibration = (f"CatBoost's scores are off (expected calibration error "
                       f"{rel['before']['ece']:.3f}); {rel['method']} calibration, fitted and "
                       f"tested out-of-fold, brings it to {best['ece']:.3f} and the Brier score "
                       f"from {rel['before']['brier']:.4f} to {best['brier']:.4f}, so the "
                       "served scores are calibrated this way (the metrics table shows "
                       "CatBoost before calibration).")
    else:
        calibration = (f"CatBoost's scores are well calibrated (expected calibration error "
                       f"{rel['before']['ece']:.3f}, Brier {rel['before']['brier']:.4f}); "
                       f"{rel['method']} calibration, fitted and tested out-of-fold, would give "
                       f"ECE {best['ece']:.3f} and Brier {best['brier']:.4f}, so the served "
                       "scores are left as they are.")
    return (_leakage(view["leakage"]), _metrics_table(view), _backtest(view),
            roc_chart(view["models"]),
            pr_chart(view["models"], view["cv"]["base_rate"]),
            reliability_chart(rel["before"], best, rel["method"]), calibration,
            gains_lift_chart(view["deciles"]), decile_pr_chart(view["deciles"]),
            _decile_table(view["deciles"]),
            importance_chart(view["importance"]), beeswarm_chart(svc.beeswarm()),
            _quality(view["quality"]), _drift(svc.drift()),
            round(view["defaults"]["missed_cost"] or 0), view["defaults"]["false_alarm_cost"])


@callback(Output(CONFUSION_DIV, "children"), Output(COST_GRAPH, "figure"),
          Input(THRESHOLD_SLIDER, "value"), Input(MISSED_INPUT, "value"),
          Input(ALARM_INPUT, "value"))
def update_threshold(threshold, missed, alarm):
    """Confusion matrix, rates, customers flagged and the cost curve at the threshold."""
    if threshold is None or missed is None or alarm is None:
        return no_update, no_update
    view = service.current().threshold_view(float(threshold), float(missed), float(alarm))
    c = view["confusion"]
    matrix = html.Table([
        html.Thead(html.Tr([html.Th(""), html.Th("Churned"), html.Th("Stayed")])),
        html.Tbody([
            html.Tr([html.Th("Flagged"), html.Td(fmt_int(c["tp"]), id="model-tp-text",
                                                 className="cm-good"),
                     html.Td(fmt_int(c["fp"]), id="model-fp-text", className="cm-bad")]),
            html.Tr([html.Th("Not flagged"), html.Td(fmt_int(c["fn"]), id="model-fn-text",
                                                     className="cm-bad"),
                     html.Td(fmt_int(c["tn"]), id="model-tn-text", className="cm-good")]),
        ])], className="table table-sm text-center confusion-table mb-2")
    cost = view["cost"]
    stats = html.Div([
        html.Div([html.Strong(fmt_pct(c["recall"]), id="model-recall-text"),
                  " of churners caught (recall), ",
                  html.Strong(fmt_pct(c["precision"]), id="model-precision-text"),
                  " of those flagged churn (precision)."]),
        html.Div([html.Strong(fmt_int(view["flagged_active"]), id="model-flagged-text"),
                  f" of {view['active']:,} active customers score at or above "
                  f"{threshold:.2f} today."]),
        html.Div(f"Expected cost {fmt_money(cost['cost'][round(threshold * 100)], 2)} per "
                 f"customer here; cheapest at {cost['best_threshold']:.2f} "
                 f"({fmt_money(cost['best_cost'], 2)}). Flagging nobody costs "
                 f"{fmt_money(cost['cost_flag_none'], 2)}, everybody "
                 f"{fmt_money(cost['cost_flag_all'], 2)}.", className="text-muted"),
    ], className="small")
    return [matrix, stats], cost_chart(cost, float(threshold))


@callback(Output(THRESHOLD_SLIDER, "value"),
          Input({"type": RECALL_BUTTON, "recall": ALL}, "n_clicks"),
          Input(CHEAPEST_BUTTON, "n_clicks"),
          State(MISSED_INPUT, "value"), State(ALARM_INPUT, "value"),
          prevent_initial_call=True)
def preset_threshold(_recall_clicks, _cheapest, missed, alarm):
    """A recall preset, or the cheapest threshold, moves the slider."""
    trigger = ctx.triggered_id
    if trigger is None or not ctx.triggered[0].get("value"):
        return no_update
    svc = service.current()
    if trigger == CHEAPEST_BUTTON:
        return svc.threshold_view(0.5, missed, alarm)["cost"]["best_threshold"]
    return svc.view()["recall_presets"][trigger["recall"]]


@callback(Output(APPLY_TEXT, "children"), Input(APPLY_BUTTON, "n_clicks"),
          State(THRESHOLD_SLIDER, "value"), prevent_initial_call=True)
def apply_tier(n_clicks, threshold):
    """The slider's threshold becomes the High-tier cut-off for this session."""
    if not n_clicks or threshold is None:
        return no_update
    svc = service.current()
    svc.core.set_tier_high(float(threshold))
    s = svc.analysis.settings
    return dbc.Alert(f"High tier is now churn probability >= {s.tier_high:.2f} (Medium >= "
                     f"{s.tier_medium:.2f}) on every page until the app restarts; start it "
                     f"with --tier-high {s.tier_high:.2f} to keep it.", color="success",
                     className="py-2 mb-0", id="model-apply-tier-alert")


@callback(Output(DEPENDENCE_GRAPH, "figure"), Input(DEPENDENCE_FEATURE, "value"),
          Input(DEPENDENCE_COLOUR, "value"))
def update_dependence(feature, colour):
    if not feature:
        return empty_figure("Choose a feature.")
    return dependence_chart(service.current().dependence(feature, colour))


@callback(Output(BINS_GRAPH, "figure"), Input(BINS_FEATURE, "value"))
def update_bins(feature):
    if not feature:
        return empty_figure("Choose a feature.")
    svc = service.current()
    rows = svc.churn_by_feature(feature)
    overall = svc.view()["cv"]["base_rate"]
    label = next(c["label"] for c in svc.feature_choices() if c["value"] == feature)
    return rate_chart(rows, f"Churn rate by {label} (deciles or categories, 95% intervals)",
                      overall, None)


def _leakage(warnings: list[dict]):
    if not warnings:
        return dbc.Alert([html.I(className="bi bi-shield-check me-2"),
                          "Leakage check passed: no single feature predicts churn with ROC-AUC "
                          "above 0.90 on its own."], color="success", className="py-2 small",
                         id="model-leakage-alert")
    return dbc.Alert([html.H5([html.I(className="bi bi-exclamation-octagon me-2"),
                               "Possible leakage"], className="alert-heading"),
                      html.Ul([html.Li([html.Strong(w["feature"]),
                                        f": single-feature ROC-AUC {w['auc']:.3f}. "
                                        "A feature this predictive usually carries the answer "
                                        "(recorded after the churn); drop it or check how it "
                                        "is collected."]) for w in warnings], className="mb-0")],
                     color="danger", id="model-leakage-alert")


def _metrics_table(view: dict):
    head = html.Thead(html.Tr([html.Th("Model")] + [html.Th(label, className="text-end")
                                                    for _, label in METRICS]))
    body = []
    for name, model in view["models"].items():
        row = model["metrics"]
        cells = [html.Td(MODEL_NAMES.get(name, name))]
        for key, _ in METRICS:
            cells.append(html.Td([f"{row[f'{key}_fold_mean']:.3f}",
                                  html.Span(f" ±{row[f'{key}_fold_std']:.3f}",
                                            className="text-muted small")],
                                 className="text-end"))
        body.append(html.Tr(cells, className="fw-semibold" if name == "catboost" else ""))
    cv = view["cv"]
    note = (f"Mean ± standard deviation over {cv['folds']} stratified folds of "
            f"{cv['rows']:,} customers{' (a stratified sample)' if cv['sampled'] else ''}; "
            f"every model sees the same folds. Recall, precision and F1 at threshold "
            f"{cv['threshold']:.2f}.")
    return [dbc.Table([head, html.Tbody(body)], hover=True, size="sm", responsive=True,
                      className="mb-1 metrics-table", id="model-metrics-table"),
            html.Div(note, className="small text-muted")]


def _decile_table(rows: list[dict]):
    head = html.Thead(html.Tr([html.Th(h, className="text-end") for h in (
        "Decile", "Scores from", "Customers", "Churn rate", "Lift", "Recall (cum.)",
        "Precision (cum.)")]))
    body = html.Tbody([html.Tr([
        html.Td(f"{10 * r['decile']}%"), html.Td(f"{r['min_score']:.2f}"),
        html.Td(fmt_int(r["n"])), html.Td(fmt_pct(r["rate"])),
        html.Td(f"{r['lift']:.2f}" if r["lift"] is not None else "–"),
        html.Td(fmt_pct(r["recall"])), html.Td(fmt_pct(r["precision"]))],
        className="text-end") for r in rows])
    return dbc.Table([head, body], size="sm", hover=True, className="small mb-0",
                     id="model-decile-table")


def _backtest(view: dict):
    """Out-of-time check beside the cross-validation (dated data only)."""
    b = view["backtest"]
    title = html.Div("Out-of-time backtest", className="section-subtitle mt-3 mb-1")
    if b is None:
        return [title, html.Div("Needs data with start and end dates (the Interconnect layout): "
                                "train on an earlier as-of date, test on the later churn window. "
                                "This data has no dates, so only cross-validation applies.",
                                className="small text-muted", id="model-backtest-text")]
    cv = view["models"]["catboost"]["metrics"]
    m = b["metrics"]
    rows = [html.Tr([html.Td(label), html.Td(f"{cv[key]:.3f}", className="text-end"),
                     html.Td(f"{m[key]:.3f}", className="text-end")])
            for key, label in (("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC"),
                               ("brier", "Brier"))]
    table = html.Table([html.Thead(html.Tr([html.Th("CatBoost"),
                                            html.Th("Cross-validation", className="text-end"),
                                            html.Th("Out-of-time", className="text-end")])),
                        html.Tbody(rows)], className="table table-sm small mb-1",
                       id="model-backtest-table", style={"maxWidth": "28rem"})
    note = (f"Trained on {b['train_rows']:,} customers active on {b['train_as_of']} (features "
            f"then; {b['train_churn_rate']:.1%} left before {b['train_window_end']}), tested on "
            f"{b['test_rows']:,} still active on {b['test_as_of']} (features then; "
            f"{b['test_churn_rate']:.1%} left by {b['test_window_end']}). A drop from the "
            "cross-validation is what to expect in service when the next period differs.")
    return [title, table, html.Div(note, className="small text-muted")]


def _quality(q: dict):
    balance = q["class_balance"]
    total = balance["churned"] + balance["stayed"]
    items = [html.Li(f"{q['rows_read']:,} rows read; {q['rows_used_for_training']:,} used for "
                     "training.")]
    items += [html.Li(f"Dropped, {k}: {v:,} rows") for k, v in q["dropped"].items()]
    items += [html.Li(f"Coerced, {k}: {v:,} cells") for k, v in q["coerced"].items()]
    items.append(html.Li(f"Class balance: {balance['churned']:,} churned "
                         f"({balance['churned'] / max(total, 1):.1%}), {balance['stayed']:,} "
                         "stayed."))
    missing = {k: v for k, v in q["missing_by_column"].items() if v}
    items.append(html.Li("Missing values: " + (", ".join(f"{k} {v:,}" for k, v in
                                                        missing.items()) or "none")))
    items += [html.Li(note, className="text-muted") for note in q["notes"]]
    return html.Ul(items, className="small mb-0", id="model-quality-list")


def _drift(drift: dict):
    if not drift.get("available"):
        return html.Div(["To check a refreshed data file against the data the model was "
                         "trained on, start the app with ", html.Code("--compare PATH"),
                         " (same layout as --data). Each feature's population stability index "
                         "(PSI) is shown; above 0.10 is a moderate shift, above 0.25 a large "
                         "one."], className="small text-muted")
    if drift.get("error"):
        return dbc.Alert(drift["error"], color="warning", className="small")
    colour = {"large": "danger", "moderate": "warning", "ok": "success", "missing": "secondary"}
    rows = [html.Tr([html.Td(r["feature"]),
                     html.Td("–" if r["psi"] is None else f"{r['psi']:.3f}",
                             className="text-end"),
                     html.Td(dbc.Badge(r["level"], color=colour[r["level"]]))])
            for r in drift["rows"]]
    return [html.Div(f"{drift['source']}: {drift['n']:,} customers; mean score "
                     f"{drift['mean_score_now']:.1%} (out-of-fold on the training data: "
                     f"{drift['mean_score_training']:.1%}).", className="small mb-2"),
            html.Table([html.Thead(html.Tr([html.Th("Feature"), html.Th("PSI"),
                                            html.Th("")])), html.Tbody(rows)],
                       className="table table-sm small mb-0", id="model-drift-table")]
