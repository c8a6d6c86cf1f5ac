"""The linked tables behind the behaviour features (Data page) and the behaviour check: the
model cross-validated with and without them (Data and Model pages). Plain data in,
components out."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from components.kpi import fmt_int


def lift_words(lift: dict) -> tuple[str, str]:
    """(headline, badge colour) of the check: a lift only when its 95% interval is above 0;
    "no measurable lift" when it includes 0."""
    if lift["ci_low"] > 0:
        return "Measurable lift", "success"
    if lift["ci_high"] < 0:
        return "No lift: worse with behaviour", "warning"
    return "No measurable lift", "secondary"


def behaviour_check(lift: dict | None, element_id: str) -> html.Div:
    """ROC-AUC without and with behaviour, the lift with its 95% interval, the verdict."""
    if not lift:
        return html.Div("The behaviour check did not run: the model uses no behaviour feature "
                        "(or nothing else to compare with).", className="small text-muted",
                        id=element_id)
    headline, colour = lift_words(lift)

    def stat(title, value, sub=""):
        return dbc.Col([html.Div(title, className="kpi-title"),
                        html.Div(value, className="fs-5 fw-semibold"),
                        html.Div(sub, className="kpi-sub")], xs=6, md=3)
    return html.Div([
        dbc.Row([
            stat("ROC-AUC without behaviour", f"{lift['auc_without']:.3f}", "out-of-fold"),
            stat("ROC-AUC with behaviour", f"{lift['auc_with']:.3f}", "out-of-fold, served"),
            stat("Lift", f"{100 * lift['lift']:+.1f} pts",
                 f"95% interval {100 * lift['ci_low']:+.1f} to {100 * lift['ci_high']:+.1f}"),
            dbc.Col(dbc.Badge(headline, color=colour, className="fs-6 text-wrap text-start"),
                    xs=6, md=3, className="align-self-center"),
        ], className="g-2 mb-2"),
        html.Div(_sentence(lift["verdict"]) + f". Same {fmt_int(lift.get('n_rows'))} customers "
                 "and folds for both; the interval is a paired bootstrap of the same rows.",
                 className="small text-muted"),
    ], id=element_id)


def linked_tables(linked: dict, element_id: str) -> html.Div:
    """Each linked table (file, role in words, rows, how it links), the dates, the customers
    trained on, warnings (prominent) and the behaviour check."""
    word = linked["customer_word"]
    warnings = [dbc.Alert([html.I(className="bi bi-exclamation-triangle me-2"),
                           html.Strong("Behaviour: "), _sentence(w) + "."], color="warning",
                          className="small py-2 mb-2")
                for w in linked["warnings"]]
    head = html.Thead(html.Tr([html.Th("File"), html.Th("Role"),
                               html.Th("Rows", className="text-end"), html.Th("Links")]))
    body = html.Tbody([html.Tr([
        html.Td(html.Code(t["file"])),
        html.Td(t["role_text"], className="" if t["feature"] else "text-muted fst-italic"),
        html.Td(fmt_int(t["rows"]), className="text-end"),
        html.Td(t["link"], className="text-muted")]) for t in linked["tables"]])
    horizon = linked["horizon_days"]
    window = (f"{horizon} days after the as-of date" if horizon else
              f"who left between {linked['as_of']} and {linked['now']} (no fixed window)")
    rows = [("Features as of", f"{linked['as_of']}: only rows dated before it count, for "
                               "training"),
            ("Outcome window", window),
            ("Scored as of", f"{linked['now']}: active {word}s' behaviour up to this date "
                             "(the day after the last event)"),
            (f"{word.capitalize()}s trained on", fmt_int(linked["trained_on"])),
            ("Behaviour features", f"{linked['features_used']} of {linked['features']} used "
                                   "by the model")]
    pairs = []
    for label, value in rows:
        pairs += [html.Dt(label, className="col-sm-4 text-muted fw-normal"),
                  html.Dd(value, className="col-sm-8 mb-1")]
    lift = linked.get("lift")
    verdict = (html.Div([html.Strong("Behaviour check: "),
                         dbc.Badge(lift_words(lift)[0], color=lift_words(lift)[1],
                                   className="me-1"), _sentence(lift["verdict"]) + "."],
                        className="small mt-2")
               if lift
               else html.Div("The behaviour check is being computed in the background (the "
                             "Model page shows it when done).", className="small text-muted mt-2")
               if linked.get("lift_pending")
               else html.Div("The behaviour check did not run: the model uses no "
                             "behaviour feature.", className="small text-muted mt-2"))
    return html.Div([*warnings,
                     dbc.Table([head, body], size="sm", className="small mb-2",
                               style={"maxWidth": "56rem"}),
                     html.Dl(pairs, className="row small mb-0"), verdict], id=element_id)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


__all__ = ["behaviour_check", "lift_words", "linked_tables"]
