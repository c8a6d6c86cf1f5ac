"""Charts and panels of the Model page: curves, calibration, deciles, cost, SHAP summaries,
the metrics and decile tables, data quality, drift, the leakage check, the confusion panel
and the risk-tier cut-offs (preview, status, history).

Pure builders: plain data in, a `go.Figure` or Dash components out. Every scatter is SVG
(`scatter`, never `scattergl`): the samples are small, and WebGL in a headless or GPU-less
browser only adds console warnings. Probabilities and thresholds are shown in %.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import html

from components.charts import ABOVE, BELOW, base_layout, empty_figure, plain_figure
from components.kpi import fmt_int, fmt_money, fmt_pct

MODEL_COLOURS = {"catboost": "#2b8a8a", "logistic_regression": "#7048e8",
                 "random_forest": "#f08c00", "mlp": "#868e96"}
MODEL_NAMES = {"catboost": "CatBoost (served)", "logistic_regression": "Logistic regression",
               "random_forest": "Random forest", "mlp": "Neural network (MLP)"}
GRID = "#f1f3f5"
LEGEND = {"orientation": "h", "y": -0.22, "x": 0, "font": {"size": 11}}
# (key, label, kind): "score" is shown as 0.000, "rate" in % (its spread in points).
METRICS = (("roc_auc", "ROC-AUC", "score"), ("pr_auc", "PR-AUC", "score"),
           ("brier", "Brier", "score"), ("log_loss", "Log loss", "score"),
           ("recall", "Recall", "rate"), ("precision", "Precision", "rate"),
           ("f1", "F1", "score"))
TIER_NAMES = ("High", "Medium", "Low")


def fmt_cut(value: float) -> str:
    """A probability cut-off in %: '35%', '12.5%'."""
    pct = 100 * float(value)
    return f"{pct:.0f}%" if abs(pct - round(pct)) < 1e-9 else f"{pct:.4g}%"


def _axis(title: str, **extra) -> dict:
    return {"title": {"text": title}, "gridcolor": GRID, "zeroline": False, **extra}


# ----- curves --------------------------------------------------------------------------------
def roc_chart(models: dict, height: int = 340) -> go.Figure:
    traces = [dict(type="scatter", mode="lines", x=[0, 1], y=[0, 1], name="Chance",
                   line={"color": "#ced4da", "dash": "dot"}, hoverinfo="skip")]
    for name, m in models.items():
        traces.append(dict(type="scatter", mode="lines", x=m["roc"]["fpr"], y=m["roc"]["tpr"],
                           name=f"{MODEL_NAMES.get(name, name)} ({m['roc']['auc']:.3f})",
                           line={"color": MODEL_COLOURS.get(name), "width":
                                 3 if name == "catboost" else 1.5},
                           hovertemplate="false alarms %{x:.0%}<br>churners caught "
                                         "%{y:.0%}<extra></extra>"))
    return plain_figure(traces, base_layout(
        "ROC curve (out-of-fold)", height, showlegend=True, legend=LEGEND,
        xaxis=_axis("False-positive rate (share of stayers flagged)", range=[0, 1],
                    tickformat=".0%"),
        yaxis=_axis("True-positive rate (recall)", range=[0, 1.02], tickformat=".0%"),
        margin={"l": 8, "r": 16, "t": 44, "b": 40}))


def pr_chart(models: dict, observed_rate: float, height: int = 340) -> go.Figure:
    """Precision against recall; the dotted line is the observed churn rate (the precision
    of flagging customers at random)."""
    traces = [dict(type="scatter", mode="lines", x=[0, 1], y=[observed_rate, observed_rate],
                   name=f"Observed churn rate {fmt_pct(observed_rate)} (random flagging)",
                   line={"color": "#ced4da", "dash": "dot"}, hoverinfo="skip")]
    for name, m in models.items():
        traces.append(dict(type="scatter", mode="lines", x=m["pr"]["recall"],
                           y=m["pr"]["precision"],
                           name=f"{MODEL_NAMES.get(name, name)} "
                                f"({m['metrics']['pr_auc']:.3f})",
                           line={"color": MODEL_COLOURS.get(name), "width":
                                 3 if name == "catboost" else 1.5},
                           hovertemplate="recall %{x:.0%}<br>precision %{y:.0%}<extra></extra>"))
    return plain_figure(traces, base_layout(
        "Precision-recall curve (out-of-fold)", height, showlegend=True, legend=LEGEND,
        xaxis=_axis("Recall (share of churners caught)", range=[0, 1], tickformat=".0%"),
        yaxis=_axis("Precision (flagged who churn)", range=[0, 1.02], tickformat=".0%")))


def reliability_chart(before: dict, after: dict | None, method: str,
                      height: int = 340) -> go.Figure:
    """Observed churn rate against the mean score per bin, with the bin counts as bars."""
    bins = before["bins"]
    traces = [
        dict(type="bar", x=[b["predicted"] for b in bins], y=[b["n"] for b in bins],
             name="Customers in bin", yaxis="y2", width=0.08, marker={"color": "#e9ecef"},
             hovertemplate="%{y:,} customers<extra></extra>"),
        dict(type="scatter", mode="lines", x=[0, 1], y=[0, 1], name="Perfect calibration",
             line={"color": "#ced4da", "dash": "dot"}, hoverinfo="skip"),
        dict(type="scatter", mode="lines+markers", x=[b["predicted"] for b in bins],
             y=[b["observed"] for b in bins],
             name=f"CatBoost (ECE {100 * before['ece']:.1f} pts)",
             line={"color": BELOW, "width": 2.5},
             error_y={"type": "data", "symmetric": False,
                      "array": [b["hi"] - b["observed"] for b in bins],
                      "arrayminus": [b["observed"] - b["lo"] for b in bins],
                      "color": BELOW, "thickness": 1},
             customdata=[[b["n"]] for b in bins],
             hovertemplate="model's average score %{x:.1%}<br>observed churn rate %{y:.1%}"
                           "<br>%{customdata[0]:,} customers<extra></extra>"),
    ]
    if after is not None:
        a_bins = after["bins"]
        traces.append(dict(type="scatter", mode="lines+markers",
                           x=[b["predicted"] for b in a_bins], y=[b["observed"] for b in a_bins],
                           name=f"After {method.capitalize()} (ECE {100 * after['ece']:.1f} "
                                "pts)",
                           line={"color": ABOVE, "width": 1.5, "dash": "dash"},
                           hovertemplate="model's average score %{x:.1%}<br>observed churn "
                                         "rate %{y:.1%}<extra></extra>"))
    return plain_figure(traces, base_layout(
        "Calibration: observed churn rate by score (out-of-fold)", height, showlegend=True,
        legend=LEGEND, barmode="overlay",
        xaxis=_axis("Model's average churn score in the bin", range=[0, 1], tickformat=".0%"),
        yaxis=_axis("Observed churn rate", range=[0, 1.02], tickformat=".0%"),
        yaxis2={"overlaying": "y", "side": "right", "showgrid": False,
                "title": {"text": "Customers"}, "rangemode": "tozero"},
        margin={"l": 8, "r": 50, "t": 44, "b": 40}))


def gains_lift_chart(deciles: list[dict], height: int = 340) -> go.Figure:
    x = [f"{10 * d['decile']}%" for d in deciles]
    traces = [
        dict(type="bar", x=x, y=[d["lift"] for d in deciles], name="Lift of the tenth",
             marker={"color": "#a5d8d8"}, hovertemplate="%{x}: lift %{y:.2f}<extra></extra>"),
        dict(type="scatter", mode="lines+markers", x=x, y=[d["gains"] for d in deciles],
             name="Cumulative share of churners caught", yaxis="y2",
             line={"color": ABOVE, "width": 2.5},
             hovertemplate="contact the top %{x}: %{y:.0%} of churners<extra></extra>"),
    ]
    return plain_figure(traces, base_layout(
        "Lift and cumulative gains by score decile", height, showlegend=True, legend=LEGEND,
        xaxis=_axis("Customers contacted, riskiest first"),
        yaxis=_axis("Lift over the observed churn rate", rangemode="tozero"),
        yaxis2={"overlaying": "y", "side": "right", "range": [0, 1.02], "tickformat": ".0%",
                "showgrid": False, "title": {"text": "Churners caught"}},
        margin={"l": 8, "r": 50, "t": 44, "b": 40}))


def decile_pr_chart(deciles: list[dict], height: int = 340) -> go.Figure:
    x = [f"{10 * d['decile']}%" for d in deciles]
    traces = [
        dict(type="scatter", mode="lines+markers", x=x, y=[d["precision"] for d in deciles],
             name="Precision", line={"color": BELOW, "width": 2.5},
             hovertemplate="top %{x}: precision %{y:.0%}<extra></extra>"),
        dict(type="scatter", mode="lines+markers", x=x, y=[d["recall"] for d in deciles],
             name="Recall", line={"color": ABOVE, "width": 2.5},
             hovertemplate="top %{x}: recall %{y:.0%}<extra></extra>"),
    ]
    return plain_figure(traces, base_layout(
        "Precision and recall when flagging the top deciles", height, showlegend=True,
        legend=LEGEND, xaxis=_axis("Customers flagged, riskiest first"),
        yaxis=_axis("Share", range=[0, 1.02], tickformat=".0%")))


def cost_chart(cost: dict, threshold: float, height: int = 320) -> go.Figure:
    """Expected cost per customer by threshold (thresholds as shares, shown in %)."""
    best = cost["best_threshold"]
    traces = [dict(type="scatter", mode="lines", x=cost["threshold"], y=cost["cost"],
                   name="Expected cost per customer", line={"color": BELOW, "width": 2.5},
                   hovertemplate="threshold %{x:.0%}: $%{y:,.2f} per customer<extra></extra>"),
              dict(type="scatter", mode="markers+text", x=[best], y=[cost["best_cost"]],
                   name="Cheapest", marker={"color": ABOVE, "size": 11},
                   text=[f"cheapest: {fmt_cut(best)}"],
                   textposition="top right" if best < 0.5 else "top left", hoverinfo="skip")]
    shapes = [{"type": "line", "x0": threshold, "x1": threshold, "y0": 0, "y1": 1,
               "yref": "paper", "line": {"color": "#495057", "dash": "dot"}}]
    return plain_figure(traces, base_layout(
        "Expected cost by threshold", height, shapes=shapes,
        xaxis=_axis("Threshold: flag customers with a churn risk of at least…", range=[0, 1],
                    tickformat=".0%"),
        yaxis=_axis("Cost per customer ($)", tickprefix="$", tickformat=",.0f",
                    rangemode="tozero")))


# ----- SHAP ----------------------------------------------------------------------------------
def importance_chart(items: list[dict], top: int = 15, height: int = 400) -> go.Figure:
    items = items[:top][::-1]
    bar = dict(type="bar", orientation="h", y=[i["label"] for i in items],
               x=[i["value"] for i in items], marker={"color": BELOW},
               text=[f"{i['value']:.1f}" for i in items], textposition="outside",
               cliponaxis=False, hovertemplate="%{y}: %{x:.2f} pts on average<extra></extra>")
    return plain_figure([bar], base_layout(
        "Feature importance: mean |SHAP| in percentage points", height,
        xaxis=_axis("Average size of the feature's push on the churn probability (pts)"),
        yaxis={"automargin": True}, margin={"l": 8, "r": 40, "t": 44, "b": 40}))


def beeswarm_chart(data: dict, height: int = 400) -> go.Figure:
    """One row of dots per feature: each customer's SHAP points, coloured low to high by the
    feature's value (jittered vertically so the density shows)."""
    features = data["features"][::-1]
    if not features:
        return empty_figure("No SHAP values.", "SHAP summary", height)
    traces = []
    for i, f in enumerate(features):
        n = len(f["points"])
        jitter = [round(i + ((k * 0.6180339887) % 1 - 0.5) * 0.6, 3) for k in range(n)]
        traces.append(dict(type="scatter", mode="markers", x=f["points"], y=jitter,
                           name=f["label"], text=f["text"],
                           marker={"color": f["colour"], "colorscale": "Bluered", "cmin": 0,
                                   "cmax": 1, "size": 4, "opacity": 0.6,
                                   "showscale": i == len(features) - 1,
                                   "colorbar": {"title": {"text": "Feature value"},
                                                "tickvals": [0, 1],
                                                "ticktext": ["low", "high"], "len": 0.6}},
                           hovertemplate=f"{f['label']}: %{{text}}<br>%{{x:+.1f}} pts"
                                         "<extra></extra>"))
    return plain_figure(traces, base_layout(
        f"SHAP summary ({data['n']:,} sampled customers)", height,
        xaxis=_axis("Push on the churn probability (pts)", zeroline=True,
                    zerolinecolor="#868e96"),
        yaxis={"tickvals": list(range(len(features))),
               "ticktext": [f["label"] for f in features], "automargin": True,
               "range": [-0.6, len(features) - 0.4], "showgrid": False},
        margin={"l": 8, "r": 16, "t": 44, "b": 40}))


def dependence_chart(data: dict, height: int = 360) -> go.Figure:
    title = f"Dependence: {data['label']}"
    marker = {"size": 5, "opacity": 0.6, "color": BELOW}
    traces = []
    if data.get("colour") is not None and data.get("colour_categorical"):
        for level in sorted(set(data["colour"])):
            idx = [k for k, c in enumerate(data["colour"]) if c == level]
            traces.append(dict(type="scatter", mode="markers",
                               x=[data["x"][k] for k in idx], y=[data["y"][k] for k in idx],
                               name=f"{data['colour_label']}: {level}",
                               marker={"size": 5, "opacity": 0.6},
                               hovertemplate="%{x}<br>%{y:+.1f} pts<extra></extra>"))
        title += f", coloured by {data['colour_label']}"
    else:
        if data.get("colour") is not None:
            marker = {"size": 5, "opacity": 0.6, "color": data["colour"],
                      "colorscale": "Viridis", "showscale": True,
                      "colorbar": {"title": {"text": data["colour_label"]}}}
            title += f", coloured by {data['colour_label']}"
        traces.append(dict(type="scatter", mode="markers", x=data["x"], y=data["y"],
                           marker=marker, name=data["label"],
                           hovertemplate="%{x}<br>%{y:+.1f} pts<extra></extra>"))
    jitter = {"type": "category", "categoryorder": "category ascending"} \
        if data["categorical"] else {}
    return plain_figure(traces, base_layout(
        f"{title} ({len(data['x']):,} sampled customers)", height,
        showlegend=bool(data.get("colour_categorical")), legend=LEGEND,
        xaxis=_axis(data["label"], **jitter),
        yaxis=_axis(f"SHAP of {data['label']} (pts)", zeroline=True,
                    zerolinecolor="#868e96")))


# ----- tables --------------------------------------------------------------------------------
def metrics_table(models: dict, cv: dict) -> list:
    """Every model's out-of-fold metrics (mean ± standard deviation over the folds)."""
    head = html.Thead(html.Tr([html.Th("Model")] + [html.Th(label, className="text-end")
                                                    for _, label, _ in METRICS]))
    body = []
    for name, model in models.items():
        row = model["metrics"]
        cells = [html.Td(MODEL_NAMES.get(name, name))]
        for key, _, kind in METRICS:
            mean, std = row[f"{key}_fold_mean"], row[f"{key}_fold_std"]
            shown = (fmt_pct(mean), f" ±{100 * std:.1f} pts") if kind == "rate" \
                else (f"{mean:.3f}", f" ±{std:.3f}")
            cells.append(html.Td([shown[0], html.Span(shown[1], className="text-muted small")],
                                 className="text-end"))
        body.append(html.Tr(cells, className="fw-semibold" if name == "catboost" else ""))
    note = (f"Mean ± standard deviation over {cv['folds']} stratified folds of "
            f"{cv['rows']:,} customers{' (a stratified sample)' if cv['sampled'] else ''}; "
            f"every model sees the same folds. Recall, precision and F1 when flagging a churn "
            f"risk of at least {fmt_cut(cv['threshold'])}. Observed churn rate "
            f"{fmt_pct(cv['observed_rate'])}; CatBoost's average out-of-fold score "
            f"{fmt_pct(cv['mean_score'])}.")
    return [dbc.Table([head, html.Tbody(body)], hover=True, size="sm", responsive=True,
                      className="mb-1 metrics-table", id="model-metrics-table"),
            html.Div(note, className="small text-muted")]


def decile_table(rows: list[dict]) -> dbc.Table:
    head = html.Thead(html.Tr([html.Th(h, className="text-end") for h in (
        "Decile", "Churn risk from", "Customers", "Churn rate", "Lift", "Recall (cum.)",
        "Precision (cum.)")]))
    body = html.Tbody([html.Tr([
        html.Td(f"{10 * r['decile']}%"), html.Td(fmt_pct(r["min_score"])),
        html.Td(fmt_int(r["n"])), html.Td(fmt_pct(r["rate"])),
        html.Td(f"{r['lift']:.2f}" if r["lift"] is not None else "–"),
        html.Td(fmt_pct(r["recall"])), html.Td(fmt_pct(r["precision"]))],
        className="text-end") for r in rows])
    return dbc.Table([head, body], size="sm", hover=True, className="small mb-0",
                     id="model-decile-table")


def backtest_panel(backtest: dict | None, cv_metrics: dict) -> list:
    """Out-of-time check beside the cross-validation (dated data only)."""
    title = html.Span("Out-of-time backtest: ", className="fw-semibold")
    if backtest is None:
        return [html.Div([title, "needs data with start and end dates (the Interconnect "
                          "layout), to train on an earlier as-of date and test on the later "
                          "churn window; this data has no dates, so only cross-validation "
                          "applies."], className="small text-muted mt-2",
                         id="model-backtest-text")]
    m = backtest["metrics"]
    rows = [html.Tr([html.Td(label), html.Td(f"{cv_metrics[key]:.3f}", className="text-end"),
                     html.Td(f"{m[key]:.3f}", className="text-end")])
            for key, label in (("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC"),
                               ("brier", "Brier"))]
    table = html.Table([html.Thead(html.Tr([html.Th("CatBoost"),
                                            html.Th("Cross-validation", className="text-end"),
                                            html.Th("Out-of-time", className="text-end")])),
                        html.Tbody(rows)], className="table table-sm small mb-1",
                       id="model-backtest-table", style={"maxWidth": "28rem"})
    b = backtest
    note = (f"Trained on {b['train_rows']:,} customers active on {b['train_as_of']} (features "
            f"then; observed churn rate {fmt_pct(b['train_churn_rate'])} before "
            f"{b['train_window_end']}), tested on {b['test_rows']:,} still active on "
            f"{b['test_as_of']} (features then; observed churn rate "
            f"{fmt_pct(b['test_churn_rate'])} by {b['test_window_end']}). A drop from the "
            "cross-validation is what to expect in service when the next period differs.")
    return [html.Div(title, className="small mt-3 mb-1"), table,
            html.Div(note, className="small text-muted")]


def quality_list(q: dict) -> html.Ul:
    balance = q["class_balance"]
    total = balance["churned"] + balance["stayed"]
    items = [html.Li(f"{q['rows_read']:,} rows read; {q['rows_used_for_training']:,} used for "
                     "training.")]
    items += [html.Li(f"Dropped, {k}: {v:,} rows") for k, v in q["dropped"].items()]
    items += [html.Li(f"Coerced, {k}: {v:,} cells") for k, v in q["coerced"].items()]
    items.append(html.Li(f"Class balance: {balance['churned']:,} churned, {balance['stayed']:,} "
                         f"stayed (observed churn rate "
                         f"{fmt_pct(balance['churned'] / max(total, 1))})."))
    missing = {k: v for k, v in q["missing_by_column"].items() if v}
    items.append(html.Li("Missing values: " + (", ".join(f"{k} {v:,}" for k, v in
                                                        missing.items()) or "none")))
    items += [html.Li(note, className="text-muted") for note in q["notes"]]
    return html.Ul(items, className="small mb-0", id="model-quality-list")


def drift_panel(drift: dict):
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
    return [html.Div(f"{drift['source']}: {drift['n']:,} customers; the model's average score "
                     f"{fmt_pct(drift['mean_score_now'])} (on the training data, out-of-fold: "
                     f"{fmt_pct(drift['mean_score_training'])}).", className="small mb-2"),
            html.Table([html.Thead(html.Tr([html.Th("Feature"), html.Th("PSI"),
                                            html.Th("")])), html.Tbody(rows)],
                       className="table table-sm small mb-0", id="model-drift-table")]


# ----- threshold and checks -----------------------------------------------------------------
def leakage_alert(warnings: list[dict]) -> dbc.Alert:
    """The leakage check: passed, or the features that predict churn too well alone."""
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


def confusion_panel(view: dict, share: float) -> list:
    """The confusion matrix (out-of-fold) at a threshold, its rates, the active customers it
    flags today and the cost there against the cheapest threshold."""
    c, cost = view["confusion"], view["cost"]
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
    here = cost["cost"][min(max(round(share * 100), 0), len(cost["cost"]) - 1)]
    stats = html.Div([
        html.Div([html.Strong(fmt_pct(c["recall"]), id="model-recall-text"),
                  " of churners caught (recall), ",
                  html.Strong(fmt_pct(c["precision"]), id="model-precision-text"),
                  " of those flagged churn (precision)."]),
        html.Div([html.Strong(fmt_int(view["flagged_active"]), id="model-flagged-text"),
                  f" of {fmt_int(view['active'])} active customers have a churn risk of at "
                  f"least {fmt_cut(share)} today."]),
        html.Div(f"Expected cost {fmt_money(here, 2)} per customer here; cheapest at "
                 f"{fmt_cut(cost['best_threshold'])} ({fmt_money(cost['best_cost'], 2)}). "
                 f"Flagging nobody costs {fmt_money(cost['cost_flag_none'], 2)}, everybody "
                 f"{fmt_money(cost['cost_flag_all'], 2)} per customer.", className="text-muted"),
    ], className="small")
    return [matrix, stats]


# ----- risk tiers ----------------------------------------------------------------------------
def _tier_rule(cuts: dict) -> str:
    return f"High ≥ {fmt_cut(cuts['high'])}, Medium ≥ {fmt_cut(cuts['medium'])}"


def tier_preview(preview: dict) -> list:
    """The confirmation's body: the cut-offs and the customers per tier before and after."""
    before, after = preview["before"], preview["after"]
    medium_note = ("Medium stays at " if before["medium"] == after["medium"]
                   else "Medium moves from " + f"{fmt_cut(before['medium'])} to ")
    head = html.Thead([
        html.Tr([html.Th("Tier", rowSpan=2), html.Th("Active customers", colSpan=3,
                                                     className="text-center"),
                 html.Th("All customers", colSpan=3, className="text-center")]),
        html.Tr([html.Th(h, className="text-end") for h in ("now", "after", "change") * 2])])
    rows = []
    for tier in TIER_NAMES:
        cells = [html.Td(tier)]
        for scope in ("active", "all"):
            old, new = before["counts"][scope][tier], after["counts"][scope][tier]
            cells += [html.Td(fmt_int(old), className="text-end"),
                      html.Td(fmt_int(new), className="text-end fw-semibold",
                              id=f"model-tier-preview-{tier.lower()}-{scope}"),
                      html.Td(f"{new - old:+,}" if new != old else "–",
                              className="text-end text-muted")]
        rows.append(html.Tr(cells))
    where = ("It is saved beside the model cache and kept after a restart, for this dataset "
             "only." if preview["persistent"] else
             "There is no cache directory, so it lasts until the app restarts.")
    return [html.P([html.Strong(f"High tier: from a churn risk of {fmt_cut(before['high'])} "
                                f"to {fmt_cut(after['high'])}. "),
                    f"{medium_note}{fmt_cut(after['medium'])}."], id="model-tier-preview-text"),
            dbc.Table([head, html.Tbody(rows)], size="sm", bordered=True,
                      className="small mb-2", id="model-tier-preview-table"),
            dbc.Alert([html.I(className="bi bi-people me-2"),
                       "This changes the risk tiers on every page for every user of this "
                       f"server (lists, exports, the score API). {where} You can undo it."],
                      color="warning", className="small py-2 mb-0")]


def tier_status(current: dict, counts: dict, history: list[dict], persistent: bool,
                problem: str | None = None) -> list:
    """The cut-offs in force, the active customers per tier and the last changes."""
    active = counts["active"]
    parts = [html.Div([html.Strong("Risk tiers now: "),
                       html.Span(f"{_tier_rule(current)}, Low below "
                                 f"{fmt_cut(current['medium'])}", id="model-tier-current-text"),
                       html.Span(f" ({fmt_int(active['High'])} High, "
                                 f"{fmt_int(active['Medium'])} Medium, {fmt_int(active['Low'])} "
                                 "Low active customers)", className="text-muted")],
                      className="small")]
    if problem:
        parts.append(dbc.Alert(problem, color="warning", className="small py-1 my-2"))
    if history:
        rows = [html.Tr([html.Td(e.get("at", "").replace("T", " ").replace("Z", " UTC")),
                         html.Td("undo" if e.get("action") == "undo" else "change"),
                         html.Td(_tier_rule(e["from"])), html.Td(_tier_rule(e["to"])),
                         html.Td(f"{fmt_int(e['high_active']['from'])} → "
                                 f"{fmt_int(e['high_active']['to'])}"
                                 if e.get("high_active") else "–", className="text-end")])
                for e in history]
        parts.append(dbc.Table([html.Thead(html.Tr([html.Th("When"), html.Th(""),
                                                    html.Th("From"), html.Th("To"),
                                                    html.Th("High, active", className="text-end")
                                                    ])), html.Tbody(rows)],
                               size="sm", className="small mb-1 mt-2",
                               id="model-tier-history-table"))
    kept = ("saved beside the cache and restored at start" if persistent
            else "kept in memory only (no cache directory)")
    parts.append(html.Div(f"Cut-offs are shared by everyone and {kept}. Who made a change is "
                          "not recorded: the app has no logins yet.",
                          className="small text-muted"))
    return parts


def tier_change_text(entry: dict) -> str:
    """What a recorded tier change did, in a sentence."""
    old, new = entry["from"], entry["to"]
    medium = (f"Medium stays at {fmt_cut(new['medium'])}" if old["medium"] == new["medium"]
              else f"Medium from {fmt_cut(old['medium'])} to {fmt_cut(new['medium'])}")
    counts = entry["high_active"]
    return (f"High tier from a churn risk of {fmt_cut(old['high'])} to {fmt_cut(new['high'])} "
            f"({medium}); {fmt_int(counts['from'])} → {fmt_int(counts['to'])} active customers "
            f"are High. Recorded at {entry['at'].replace('T', ' ').replace('Z', ' UTC')}.")


__all__ = ["backtest_panel", "beeswarm_chart", "confusion_panel", "cost_chart",
           "decile_pr_chart", "decile_table", "dependence_chart", "drift_panel", "fmt_cut",
           "gains_lift_chart", "importance_chart", "leakage_alert", "metrics_table", "pr_chart",
           "quality_list", "reliability_chart", "roc_chart", "tier_change_text", "tier_preview",
           "tier_status"]
