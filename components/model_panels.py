"""The Model page's tables and panels: metrics, deciles, backtest, quality, drift, leakage,
the confusion matrix and the risk-tier change (preview, status, history). Plain data in,
components out; the charts are in components/model_charts.py."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from components.kpi import fmt_int, fmt_money, fmt_pct
from components.model_charts import METRICS, MODEL_NAMES, TIER_NAMES, fmt_cut


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


def calibration_note(rel: dict, cv: dict) -> str:
    """What calibration did to the served scores, and the two baselines, in words."""
    best, method = rel["methods"][rel["method"]], rel["method"].capitalize()
    before = (f"ECE {100 * rel['before']['ece']:.1f} pts, Brier {rel['before']['brier']:.4f}")
    if rel["applied"]:
        text = (f"CatBoost's raw scores are off ({before}); {method} calibration, fitted "
                f"and tested out-of-fold, brings them to ECE {100 * best['ece']:.1f} pts and "
                f"Brier {best['brier']:.4f}, so the served scores are calibrated this way.")
    else:
        text = (f"CatBoost's scores are well calibrated ({before}); {method} "
                f"calibration would give ECE {100 * best['ece']:.1f} pts and Brier "
                f"{best['brier']:.4f}, so the served scores are left as they are.")
    text += (f" The model's average out-of-fold score is {fmt_pct(cv['mean_score'])}; the "
             f"observed churn rate of the same customers {fmt_pct(cv['observed_rate'])}. ECE "
             "(expected calibration error) is in percentage points of probability.")
    return text


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
                         html.Td(e.get("by") or "–"),
                         html.Td(_tier_rule(e["from"])), html.Td(_tier_rule(e["to"])),
                         html.Td(f"{fmt_int(e['high_active']['from'])} → "
                                 f"{fmt_int(e['high_active']['to'])}"
                                 if e.get("high_active") else "–", className="text-end")])
                for e in history]
        parts.append(dbc.Table([html.Thead(html.Tr([html.Th("When"), html.Th(""),
                                                    html.Th("By"), html.Th("From"),
                                                    html.Th("To"),
                                                    html.Th("High, active", className="text-end")
                                                    ])), html.Tbody(rows)],
                               size="sm", className="small mb-1 mt-2",
                               id="model-tier-history-table"))
    kept = ("saved beside the cache and restored at start" if persistent
            else "kept in memory only (no cache directory)")
    parts.append(html.Div(f"Cut-offs are shared by everyone and {kept}. Who made a change is "
                          "recorded when login is on (any address but 127.0.0.1, or --login).",
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


__all__ = ["backtest_panel", "calibration_note", "confusion_panel", "decile_table", "drift_panel", "leakage_alert",
           "metrics_table", "quality_list", "tier_change_text", "tier_preview", "tier_status"]
