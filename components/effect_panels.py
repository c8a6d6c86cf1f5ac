"""The Effectiveness page's panels: the campaigns table, the verdict, the measured-vs-assumed
tiles, the uplift-model summary and the outcomes card. Pure builders over the campaigns
service's JSON."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from components.kpi import fmt_int, fmt_money, fmt_pct

OUTCOMES_FORMAT = ("One row per member: customer id, and any of accepted (yes/no), redeemed "
                   "(yes/no or the promo code), churned (yes/no), date. Every row is checked "
                   "first; nothing is imported while any row is bad.")


def points(value, signed: bool = True) -> str:
    if value is None:
        return "–"
    return f"{100 * value:+.1f} pts" if signed else f"{100 * value:.1f} pts"


def interval(low, high) -> str:
    return "" if low is None or high is None else f"95% CI {100 * low:+.1f} to {100 * high:+.1f}"


def campaigns_table(rows: list[dict], selected: int | None) -> html.Div:
    """Every campaign with its headline effect; the selected one highlighted."""
    head = html.Thead(html.Tr([html.Th(h) for h in (
        "Campaign", "Created", "Members", "Held out", "Outcomes", "Measured uplift",
        "Assumed")]))
    body = []
    for r in rows:
        name = [r["name"]]
        if r["simulated"]:
            name.append(dbc.Badge("simulated", color="secondary", className="ms-2"))
        if r["status"] != "running":
            name.append(dbc.Badge(r["status"], color="light", text_color="dark",
                                  className="ms-2"))
        measured = "–" if r["uplift"] is None else \
            f"{points(r['uplift'])} ({100 * r['low']:+.1f} to {100 * r['high']:+.1f})"
        body.append(html.Tr([
            html.Td(html.A(name, href=f"/effectiveness?campaign={r['id']}")),
            html.Td(r["created"]), html.Td(fmt_int(r["members"])),
            html.Td(fmt_int(r["control"])), html.Td(fmt_int(r["outcomes"])),
            html.Td(measured), html.Td(points(r["assumed"]))],
            className="table-active" if r["id"] == selected else ""))
    return dbc.Table([head, html.Tbody(body)], size="sm", hover=True, responsive=True,
                     className="mb-0 small", id="effectiveness-campaigns-table")


def verdict(report: dict) -> dbc.Alert:
    """The plain-English answer, coloured by what it says."""
    e = report.get("effect") or {}
    text = e.get("verdict") or "No outcomes yet: import them below to measure the effect."
    if not report.get("outcomes"):
        colour = "light"
    elif e.get("significant") and (e.get("uplift") or 0) > 0:
        colour = "success"
    elif e.get("significant"):
        colour = "danger"
    else:
        colour = "warning"
    campaign = report["campaign"]
    extra = []
    if campaign.get("simulated"):
        extra.append(html.Div(campaign.get("description", ""), className="small mt-1"))
    if report.get("mde") is not None:
        extra.append(html.Div(f"The smallest churn reduction these sizes can detect is "
                              f"{100 * report['mde']:.1f} points (80% power, 5% level).",
                              className="small mt-1"))
    return dbc.Alert([html.Div(text, id="effectiveness-verdict-text"), *extra], color=colour,
                     className="mb-3 border", id="effectiveness-verdict-alert")


def _tile(title: str, value: str, sub: str, tile_id: str) -> dbc.Col:
    return dbc.Col(dbc.Card(dbc.CardBody([
        html.Div(title, className="kpi-title"),
        html.Div(value, className="kpi-value", id=tile_id),
        html.Div(sub, className="kpi-sub")]), className="kpi-card h-100"),
        xs=6, lg=4, xl=2, className="mb-3")


def tiles(report: dict) -> dbc.Row:
    """Measured beside assumed: churn per arm, uplift, acceptance, profit, ROI."""
    e, a = report.get("effect") or {}, report.get("acceptance") or {}
    p, assumed = report.get("profit") or {}, report.get("assumed") or {}
    currency = report["campaign"].get("currency") or "$"
    arms = report["arms"]
    return dbc.Row([
        _tile("Members", fmt_int(arms["treatment"] + arms["control"]),
              f"{fmt_int(arms['treatment'])} treated, {fmt_int(arms['control'])} held out",
              "effectiveness-members-text"),
        _tile("Churn", f"{fmt_pct(e.get('churn_treatment'))} vs {fmt_pct(e.get('churn_control'))}",
              "treated vs held out, by the horizon", "effectiveness-churn-text"),
        _tile("Measured uplift", points(e.get("uplift")), interval(e.get("low"), e.get("high"))
              or "needs outcomes in both arms", "effectiveness-uplift-text"),
        _tile("Assumed uplift", points(assumed.get("uplift_with_acceptance")),
              "model-implied, at the assumed acceptance", "effectiveness-assumed-text"),
        _tile("Acceptance", f"{fmt_pct(a.get('acceptance_measured'))} vs "
              f"{fmt_pct(a.get('acceptance_assumed'))}", "measured vs assumed",
              "effectiveness-acceptance-text"),
        _tile("Profit", f"{fmt_money(p.get('realised_profit'), 0, currency)}",
              f"realised (estimate) vs {fmt_money(p.get('expected_profit'), 0, currency)} "
              f"expected; ROI {'–' if p.get('roi') is None else format(p['roi'], '.2f')}",
              "effectiveness-profit-text"),
    ], className="g-3")


def profit_note(report: dict) -> html.Div:
    return html.Div(
        "Realised profit is the measured uplift priced at the model's CLV less the offers "
        "accepters took and the contact cost: an estimate, not booked revenue. The assumed "
        "uplift is what the model implied when the campaign was made (p0 - p1 times the "
        "assumed acceptance); the measured one is the difference between the held-out and "
        "treated churn.", className="small text-muted mb-3")


def acceptance_table(report: dict) -> dbc.Table | html.Div:
    rows = (report.get("acceptance") or {}).get("by_offer") or []
    if not rows:
        return html.Div("No acceptance recorded yet.", className="small text-muted")
    head = html.Thead(html.Tr([html.Th(h) for h in ("Offer", "Treated", "Accepted",
                                                     "Measured (95% CI)", "Assumed",
                                                     "Redeemed")]))
    body = [html.Tr([
        html.Td("No offer (call only)" if r["offer"] == "none" else r["offer"]),
        html.Td(fmt_int(r["n_treatment"])), html.Td(fmt_int(r["accepted"])),
        html.Td(f"{fmt_pct(r['acceptance_measured'])} ({fmt_pct(r['acceptance_low'])}–"
                f"{fmt_pct(r['acceptance_high'])})" if r.get("accepted_known") else "–"),
        html.Td(fmt_pct(r["acceptance_assumed"])),
        html.Td(fmt_pct(r["redemption_measured"]) if r.get("redeemed_known") else "–")])
        for r in rows]
    return dbc.Table([head, html.Tbody(body)], size="sm", className="small mb-2",
                     id="effectiveness-acceptance-table")


def uplift_summary(study: dict) -> html.Div:
    """Which ranking keeps more customers on held-out folds."""
    if study.get("error"):
        return dbc.Alert(study["error"], color="warning", className="py-2 small mb-0",
                         id="effectiveness-uplift-error")
    up, risk = study["uplift"], study["risk"]
    better = study["better"] == "uplift"
    text = (f"Ranking by predicted uplift keeps more customers than ranking by risk: Qini "
            f"coefficient {up['qini_coefficient']:,.1f} vs {risk['qini_coefficient']:,.1f} "
            f"(out-of-fold, {study['folds']} folds, {study['n']:,} members)."
            if better else
            f"Ranking by churn risk does as well or better than the uplift model here: Qini "
            f"coefficient {risk['qini_coefficient']:,.1f} vs {up['qini_coefficient']:,.1f} "
            f"(out-of-fold, {study['folds']} folds, {study['n']:,} members).")
    return html.Div([html.Div(text, id="effectiveness-qini-text"),
                     html.Div("A two-model learner (one model of churn per arm) fitted on "
                              "the campaign's members; each member is scored by the models "
                              "of the folds that did not see them.",
                              className="small text-muted")], className="small")
