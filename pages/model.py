"""Model: honest out-of-fold performance, the threshold by cost, the shared risk-tier
cut-offs (changed on purpose: previewed, confirmed, undoable), explanations, hygiene.

The first paint builds only the metrics, the first tab of curves and the threshold panel,
all in the page itself (no callback runs before it); every other tab is built the first time
it is opened."""

from __future__ import annotations

import math
import numbers

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from components.charts import empty_figure, rate_chart
from components.feedback import admin_hint, empty_state, section
from components.model_checks import checks_body
from components.kpi import fmt_pct
from components.model_charts import (beeswarm_chart, cost_chart, decile_pr_chart,
                                     dependence_chart, fmt_cut, gains_lift_chart,
                                     importance_chart, pr_chart, reliability_chart, roc_chart)
from components.model_panels import (calibration_note, confusion_panel, decile_table,
                                     drift_panel, leakage_alert, quality_list, tier_change_text,
                                     tier_preview, tier_status)
from dashboard import auth
from dashboard.services import model as service
from dashboard.services import tiers as tier_service

dash.register_page(__name__, path="/model", name="Model", title="ChurnLens · Model", order=7)

TABS = "model-detail-tabs"
LOADED_STORE = "model-loaded-store"
CURVES_DIV = "model-curves-div"
CALIBRATION_DIV = "model-calibration-div"
DECILES_DIV = "model-deciles-div"
SHAP_DIV = "model-shap-div"
HYGIENE_DIV = "model-hygiene-div"
DEPENDENCE_FEATURE = "model-dependence-feature-dropdown"
DEPENDENCE_COLOUR = "model-dependence-colour-dropdown"
DEPENDENCE_DIV = "model-dependence-div"
BINS_FEATURE = "model-bins-feature-dropdown"
BINS_DIV = "model-bins-div"
THRESHOLD_SLIDER = "model-threshold-slider"     # in % (1-99)
THRESHOLD_TEXT = "model-threshold-text"
MISSED_INPUT = "model-missed-cost-input"
ALARM_INPUT = "model-alarm-cost-input"
RECALL_BUTTON = "model-recall-button"          # pattern-matching: {"type", "recall"}
CHEAPEST_BUTTON = "model-cheapest-button"
CONFUSION_DIV = "model-confusion-div"
COST_GRAPH = "model-cost-graph"
APPLY_BUTTON = "model-apply-tier-button"
TIER_MODAL = "model-tier-modal"
TIER_PREVIEW_DIV = "model-tier-preview-div"
TIER_CONFIRM = "model-tier-confirm-button"
TIER_CANCEL = "model-tier-cancel-button"
PENDING_STORE = "model-tier-pending-store"     # the previewed cut-offs, as shares
TIER_ALERT_DIV = "model-tier-alert-div"
UNDO_BUTTON = "model-tier-undo-button"
TIER_STATUS_DIV = "model-tier-status-div"
BEHAVIOUR_DIV = "model-behaviour-check-div"
CHECKS_DIV = "model-checks-div"                # metrics, backtest, behaviour check
CHECKS_INTERVAL = "model-checks-interval"      # polls while checks run in the background
CONFIG = {"displayModeBar": False}
# Tabs built when first opened (the first one with the page): tab_id -> the Div that holds
# them, in the callback's output order.
FIRST_TAB = "curves"
LAZY_TABS = {"curves": CURVES_DIV, "calibration": CALIBRATION_DIV, "deciles": DECILES_DIV,
             "shap": SHAP_DIV, "hygiene": HYGIENE_DIV}
TAB_LABELS = {"curves": "ROC and precision-recall", "calibration": "Calibration and lift",
              "deciles": "Deciles", "shap": "Feature importance (SHAP)",
              "features": "Dependence and churn by feature", "hygiene": "Data quality and drift"}


def layout(**_query) -> html.Div:
    svc = service.current()
    if svc.analysis is None:
        return empty_state("No data loaded.", "See the message above.")
    view = svc.view()
    tabs = dbc.Tabs([dbc.Tab(_tab_body(tab, svc), label=label, tab_id=tab)
                     for tab, label in TAB_LABELS.items()],
                    id=TABS, active_tab=FIRST_TAB, class_name="mb-2")
    return html.Div([
        html.Div([html.H4("Model", className="page-title mb-0"),
                  html.Div("How far to trust the scores: every figure comes from out-of-fold "
                           "predictions (each customer scored by a model that did not see "
                           "them), never from the training rows.", className="text-muted small")],
                 className="mb-3"),
        dcc.Store(id=LOADED_STORE, data=[FIRST_TAB]), dcc.Store(id=PENDING_STORE, data=None),
        leakage_alert(view["leakage"]),
        html.Div(checks_body(view, svc.checks_status(), svc.behaviour_check(),
                             BEHAVIOUR_DIV), id=CHECKS_DIV),
        dcc.Interval(id=CHECKS_INTERVAL, interval=2000, disabled=not svc.analysis.pending),
        dbc.Card(dbc.CardBody(tabs), className="mb-3 section-card"),
        section("Threshold and risk tiers", _threshold_panel(svc, view),
                "confusion matrix out-of-fold; cost per customer"),
        _tier_modal(),
    ])


@callback(Output(CHECKS_DIV, "children"), Output(CHECKS_INTERVAL, "disabled"),
          Output(CURVES_DIV, "children", allow_duplicate=True),
          Input(CHECKS_INTERVAL, "n_intervals"), prevent_initial_call=True)
def poll_checks(_n):
    """The checks section while they run; the section and the curves once they are in."""
    svc = service.current()
    if svc.analysis is None:
        return no_update, True, no_update
    status = svc.checks_status()
    body = checks_body(svc.view(), status, svc.behaviour_check(), BEHAVIOUR_DIV)
    return (body, not status["pending"] or bool(status["error"]),
            _curves(svc) if not status["pending"] else no_update)


@callback(*[Output(div, "children") for div in LAZY_TABS.values()],
          Output(LOADED_STORE, "data"), Input(TABS, "active_tab"), State(LOADED_STORE, "data"),
          prevent_initial_call=True)
def show_tab(tab, loaded):
    """Build a tab's panel the first time it is opened (only the open tab is built)."""
    loaded = list(loaded) if isinstance(loaded, list) else []
    if tab not in LAZY_TABS or tab in loaded:
        return *[no_update] * len(LAZY_TABS), no_update
    content = BUILDERS[tab](service.current())
    return (*[content if key == tab else no_update for key in LAZY_TABS], loaded + [tab])


@callback(Output(CONFUSION_DIV, "children"), Output(COST_GRAPH, "figure"),
          Output(THRESHOLD_TEXT, "children"),
          Input(THRESHOLD_SLIDER, "value"), Input(MISSED_INPUT, "value"),
          Input(ALARM_INPUT, "value"), prevent_initial_call=True)
def update_threshold(percent, missed, alarm):
    """Confusion matrix, rates, customers flagged and the cost curve at the threshold."""
    share, missed, alarm = _share(percent), _number(missed), _number(alarm)
    if not isinstance(share, float) or not 0 < share <= 1 or missed is None or alarm is None:
        return no_update, no_update, no_update
    view = service.current().threshold_view(share, missed, alarm)
    return (confusion_panel(view, share), cost_chart(view["cost"], share),
            f"Flag customers with a churn risk of at least {fmt_cut(share)}")


@callback(Output(THRESHOLD_SLIDER, "value"),
          Input({"type": RECALL_BUTTON, "recall": ALL}, "n_clicks"),
          Input(CHEAPEST_BUTTON, "n_clicks"),
          State(MISSED_INPUT, "value"), State(ALARM_INPUT, "value"),
          prevent_initial_call=True)
def preset_threshold(_recall_clicks, _cheapest, missed, alarm):
    """A recall preset, or the cheapest threshold, moves the slider (in %)."""
    trigger = ctx.triggered_id
    if trigger is None or not ctx.triggered[0].get("value"):
        return no_update
    svc = service.current()
    if trigger == CHEAPEST_BUTTON:
        share = svc.threshold_view(0.5, _number(missed), _number(alarm))["cost"]["best_threshold"]
    else:
        share = svc.view()["recall_presets"].get(str(trigger.get("recall")))
    return no_update if share is None else round(100 * share)


@callback(Output(TIER_MODAL, "is_open"), Output(TIER_PREVIEW_DIV, "children"),
          Output(PENDING_STORE, "data"), Output(TIER_CONFIRM, "disabled"),
          Input(APPLY_BUTTON, "n_clicks"), Input(TIER_CANCEL, "n_clicks"),
          Input(TIER_CONFIRM, "n_clicks"), State(THRESHOLD_SLIDER, "value"),
          prevent_initial_call=True)
def open_tier_dialog(_apply, _cancel, _confirm, percent):
    """The High-tier button opens a confirmation with the counts before and after."""
    if ctx.triggered_id != APPLY_BUTTON:
        return False, no_update, no_update, no_update
    try:
        preview = tier_service.current().preview(_share(percent))
    except tier_service.TierError as exc:
        return True, dbc.Alert(str(exc), color="danger", className="mb-0"), None, True
    after = preview["after"]
    body = tier_preview(preview) if preview["changed"] else html.Div(
        f"The High tier already starts at {fmt_cut(after['high'])}: nothing would change.")
    return (True, body, {"high": after["high"], "medium": after["medium"]},
            not preview["changed"])


@callback(Output(TIER_ALERT_DIV, "children"), Output(TIER_STATUS_DIV, "children"),
          Output(UNDO_BUTTON, "disabled"),
          Input(TIER_CONFIRM, "n_clicks"), Input(UNDO_BUTTON, "n_clicks"),
          State(PENDING_STORE, "data"), prevent_initial_call=True)
def change_tiers(_confirm, _undo, pending):
    """Confirm applies the previewed cut-offs for everyone; Undo goes back one change."""
    tiers = tier_service.current()
    try:
        if ctx.triggered_id == UNDO_BUTTON:
            entry, message, colour = tiers.undo(by=auth.user_name()), "Undone: ", "info"
        else:
            pending = pending if isinstance(pending, dict) else {}
            entry = tiers.apply(pending.get("high"), pending.get("medium"), by=auth.user_name())
            message, colour = "Changed for every user: ", "success"
        alert = dbc.Alert([html.Strong(message), tier_change_text(entry)], color=colour,
                          className="py-2 small mb-2", id="model-tier-alert")
    except tier_service.TierError as exc:
        alert = dbc.Alert(str(exc), color="danger", className="py-2 small mb-2",
                          id="model-tier-alert")
    return alert, _tier_status(tiers), not tiers.can_undo()


@callback(Output(DEPENDENCE_DIV, "children"), Input(DEPENDENCE_FEATURE, "value"),
          Input(DEPENDENCE_COLOUR, "value"), Input(TABS, "active_tab"),
          prevent_initial_call=True)
def update_dependence(feature, colour, tab):
    """The SHAP dependence plot, once its tab is open."""
    if tab != "features":
        return no_update
    svc = service.current()
    if _label(svc, feature) is None:
        return _graph("model-dependence-graph", empty_figure("Choose a feature."))
    colour = colour if _label(svc, colour) is not None else None
    return _graph("model-dependence-graph", dependence_chart(svc.dependence(feature, colour)))


@callback(Output(BINS_DIV, "children"), Input(BINS_FEATURE, "value"),
          Input(TABS, "active_tab"), prevent_initial_call=True)
def update_bins(feature, tab):
    """Churn rate by one feature's deciles or categories, once its tab is open."""
    if tab != "features":
        return no_update
    svc = service.current()
    label = _label(svc, feature)
    if label is None:
        return _graph("model-bins-graph", empty_figure("Choose a feature."))
    observed = svc.view()["cv"]["observed_rate"]
    figure = rate_chart(svc.churn_by_feature(feature), f"Churn rate by {label} (deciles or "
                        "categories, 95% intervals)", observed, None, height=360,
                        context=f"observed churn rate {fmt_pct(observed)}")
    figure.layout.margin.t = 84          # room for the subtitle above the 'overall' label
    return _graph("model-bins-graph", figure)


# ----- helpers ---------------------------------------------------------------------------------
def _number(value) -> float | None:
    """A finite number from an input, else None."""
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    return float(value) if real and math.isfinite(float(value)) else None


def _share(percent):
    """The slider's % as a share; anything that is not a number is passed on unchanged, so
    the tier service refuses it with its own message."""
    value = _number(percent)
    return value / 100 if value is not None else percent


def _label(svc, feature) -> str | None:
    """A model feature's label; None for anything else a client sends."""
    return next((c["label"] for c in svc.feature_choices() if c["value"] == feature), None)


def _graph(graph_id: str, figure) -> dcc.Graph:
    return dcc.Graph(id=graph_id, figure=figure, config=CONFIG)


def _row(*cols) -> dbc.Row:
    return dbc.Row([dbc.Col(c, lg=w) for c, w in cols], className="g-3")


def _lazy(div_id: str, height: int = 340, children=None) -> dcc.Loading:
    """A panel filled by a callback; its height is kept meanwhile so nothing jumps."""
    return dcc.Loading(html.Div(children, id=div_id, style={"minHeight": f"{height}px"}),
                       type="circle", delay_show=250)


def _tab_body(tab: str, svc):
    if tab == FIRST_TAB:          # in the page itself: no round trip before the first paint
        return _lazy(LAZY_TABS[tab], children=BUILDERS[tab](svc))
    if tab in LAZY_TABS:
        return _lazy(LAZY_TABS[tab], 120 if tab == "hygiene" else 340)
    choices = svc.feature_choices()
    ranked = [i["feature"] for i in svc.view()["importance"]]
    numeric = [f for f in ranked if f in svc.analysis.numeric]
    top = (numeric[:1] + [f for f in ranked if f not in numeric[:1]][:1]) if numeric \
        else ranked[:2]
    first, second = (top + [None, None])[:2]
    dependence = [dbc.Row([dbc.Col(dcc.Dropdown(id=DEPENDENCE_FEATURE, options=choices,
                                                value=first, clearable=False), xs=6),
                           dbc.Col(dcc.Dropdown(id=DEPENDENCE_COLOUR, options=choices,
                                                value=second, placeholder="Colour by…"), xs=6)],
                          className="g-2 mb-2"), _lazy(DEPENDENCE_DIV)]
    bins = [dcc.Dropdown(id=BINS_FEATURE, options=choices, value=first, clearable=False,
                         className="mb-2"), _lazy(BINS_DIV)]
    return [_row((dependence, 6), (bins, 6)),
            html.Div("SHAP values are the model's attributions (associations it learned), in "
                     "percentage points of churn probability, on a seeded sample of customers.",
                     className="small text-muted")]


def _curves(svc):
    view = svc.view()
    return _row((_graph("model-roc-graph", roc_chart(view["models"])), 6),
                (_graph("model-pr-graph", pr_chart(view["models"],
                                                   view["cv"]["observed_rate"])), 6))


def _calibration(svc):
    view = svc.view()
    rel, cv = view["calibration"], view["cv"]
    best = rel["methods"][rel["method"]]
    text = calibration_note(rel, cv)
    return _row(([_graph("model-calibration-graph",
                         reliability_chart(rel["before"], best, rel["method"])),
                  html.Div(text, className="small text-muted", id="model-calibration-text")], 6),
                (_graph("model-gains-graph", gains_lift_chart(view["deciles"])), 6))


def _deciles(svc):
    rows = svc.view()["deciles"]
    return _row((_graph("model-deciles-graph", decile_pr_chart(rows)), 6),
                ([html.Div("Riskiest tenth first, out-of-fold", className="section-subtitle"),
                  decile_table(rows)], 6))


def _shap(svc):
    view = svc.view()
    return _row((_graph("model-importance-graph", importance_chart(
        view["importance"], of=view["importance_of"])), 5),
        (_graph("model-beeswarm-graph", beeswarm_chart(svc.beeswarm())), 7))


def _hygiene(svc):
    return _row((section("Data quality", quality_list(svc.view()["quality"])), 6),
                (section("Drift", drift_panel(svc.drift()), "population stability index"), 6))


BUILDERS = {"curves": _curves, "calibration": _calibration, "deciles": _deciles,
            "shap": _shap, "hygiene": _hygiene}


def _threshold_panel(svc, view) -> dbc.Row:
    """The slider (at the High-tier cut-off), costs, buttons, matrix, cost curve and tiers;
    filled in for the starting values so the first paint needs no callback."""
    share = svc.analysis.settings.tier_high
    defaults, tiers = view["defaults"], tier_service.current()
    missed, alarm = round(defaults["missed_cost"] or 0), round(defaults["false_alarm_cost"] or 0)
    confusion, figure, label = update_threshold(round(100 * share), missed, alarm)
    presets = [dbc.Button(f"Catch {round(float(r) * 100)}%", id={"type": RECALL_BUTTON,
                                                                  "recall": r},
                          size="sm", color="secondary", outline=True, className="me-1 mb-1")
               for r in view["recall_presets"]]

    def cost_input(input_id, text, help_text, value):
        return dbc.Col([html.Label(text, className="small mb-1", title=help_text),
                        dbc.Input(id=input_id, type="number", min=0, step=1, size="sm",
                                  debounce=True, value=value)], xs=6)
    return dbc.Row([
        dbc.Col([
            html.Label(label, id=THRESHOLD_TEXT, className="small fw-semibold mb-1",
                       htmlFor=THRESHOLD_SLIDER),
            dcc.Slider(id=THRESHOLD_SLIDER, min=1, max=99, step=1, value=round(100 * share),
                       marks={v: f"{v}%" for v in range(10, 100, 10)},
                       tooltip={"placement": "bottom", "template": "{value}%"},
                       allow_direct_input=False),
            html.Div([html.Span("Recall first: ", className="small text-muted me-1"),
                      *presets], className="mt-2"),
            dbc.Row([cost_input(MISSED_INPUT, "Cost of a missed churner ($)",
                                "The value lost when a churner is not contacted: by default "
                                "the mean CLV of active customers", missed),
                     cost_input(ALARM_INPUT, "Cost of a false alarm ($)",
                                "An offer and a contact spent on a customer who would have "
                                "stayed: by default the contact cost plus the mean cost of the "
                                "recommended offers", alarm)],
                    className="g-2 mt-1"),
            html.Div(defaults.get("missed_note"), className="small text-muted mt-1")
            if defaults.get("missed_note") else None,
            html.Div([dbc.Button("Use the cheapest threshold", id=CHEAPEST_BUTTON, size="sm",
                                 color="primary", outline=True, className="me-2"),
                      dbc.Button("Make it the High-tier cut-off…", id=APPLY_BUTTON, size="sm",
                                 color="primary", disabled=not auth.is_admin()),
                      admin_hint(not auth.is_admin())], className="mt-3"),
            html.Div(confusion, id=CONFUSION_DIV, className="mt-3"),
        ], lg=5),
        dbc.Col([
            dcc.Graph(id=COST_GRAPH, config=CONFIG, figure=figure),
            html.Div([html.Div(id=TIER_ALERT_DIV),
                      html.Div(_tier_status(tiers), id=TIER_STATUS_DIV),
                      dbc.Button([html.I(className="bi bi-arrow-counterclockwise me-1"),
                                  "Undo the last tier change"], id=UNDO_BUTTON, size="sm",
                                 color="secondary", outline=True, className="mt-2",
                                 disabled=not (tiers.can_undo() and auth.is_admin()))],
                     className="border-top pt-2 mt-2"),
        ], lg=7),
    ], className="g-4")


def _tier_status(tiers) -> list:
    now = tiers.current()
    return tier_status(now, tiers.counts(now["high"], now["medium"]), tiers.history(limit=5),
                       tiers.path is not None, tiers.problem)


def _tier_modal() -> dbc.Modal:
    return dbc.Modal([
        dbc.ModalHeader(dbc.ModalTitle("Change the risk tiers for everyone?"),
                        close_button=False),
        dbc.ModalBody(html.Div(id=TIER_PREVIEW_DIV)),
        dbc.ModalFooter([dbc.Button("Cancel", id=TIER_CANCEL, color="secondary",
                                    outline=True),
                         dbc.Button("Confirm the change", id=TIER_CONFIRM, color="primary")]),
    ], id=TIER_MODAL, is_open=False, size="lg", backdrop="static", centered=True)
