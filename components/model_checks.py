"""The Model page's model checks while they are still being computed in the background
(baselines, behaviour check, out-of-time backtest): which are pending, the stage reached,
and that the scores shown everywhere are final already."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from components.behaviour_check import behaviour_check
from components.feedback import section
from components.model_panels import backtest_panel, metrics_table

CHECKS_NOTE = "model-checks-note"


def checks_body(view: dict, status: dict, behaviour: dict | None, behaviour_id: str) -> list:
    """The models compared (with the backtest) and the behaviour check, each check that is
    still running in its place, under the note of what is pending."""
    pending = set(status.get("pending") or [])
    compared = metrics_table(view["models"], view["cv"])
    if "baseline models" in pending:
        compared.append(pending_line("comparison with the baseline models"))
    if "out-of-time backtest" in pending:
        compared.append(pending_line("out-of-time backtest"))
    else:
        compared += backtest_panel(view["backtest"], view["models"]["catboost"]["metrics"])
    body = [checks_note(status), section("Models compared", compared, "out-of-fold, same folds")]
    if behaviour is not None:
        tables = ", ".join(behaviour["tables"]) or "no table"
        check = (pending_line("behaviour check") if "behaviour check" in pending
                 else behaviour_check(behaviour["lift"], behaviour_id))
        body.append(section("Behaviour check", check, f"the same model with and without the "
                                                      f"features from {tables}, out-of-fold"))
    return body


def checks_note(status: dict) -> dbc.Alert | None:
    """None once every check is in; else what is still running (or why it stopped)."""
    pending = status.get("pending") or []
    if not pending:
        return None
    what = _listed(pending)
    if status.get("error"):
        return dbc.Alert([html.Span("The model checks stopped: ", className="fw-semibold"),
                          f"{status['error']}. The {what} will be computed on the next start; "
                          "the scores, tiers and reasons are not affected."],
                         color="warning", className="small py-2 mb-2", id=CHECKS_NOTE)
    stage = status.get("stage")
    return dbc.Alert([dbc.Spinner(size="sm", spinner_class_name="me-2"),
                      html.Span(f"Computing the {what} in the background", className="fw-semibold"),
                      f" ({stage})." if stage else ".",
                      " The scores, tiers and reasons on every page are final: these checks "
                      "only compare the model with others and over time, and this section fills "
                      "in by itself when they are done."],
                     color="info", className="small py-2 mb-2 d-flex align-items-center "
                     "flex-wrap", id=CHECKS_NOTE)


def pending_line(what: str) -> html.Div:
    """A check's place while it is computed."""
    return html.Div(f"The {what} is being computed in the background.",
                    className="small text-muted mt-2")


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
