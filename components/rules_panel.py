"""The rules card: the enrolment rules as the file says them, a dry-run preview ("would enrol
412, 41 held out") and the outbox batches with their delivery state. Pure builders over the
trends service's JSON."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from components.kpi import fmt_int

STATUS_COLOURS = {"sent": "success", "pending": "secondary", "failed": "danger"}
CONDITION_WORDS = {"crossed_into_high": "crossed into High since the last refresh",
                   "min_rise": "risk up by at least {} since the last refresh",
                   "tier": "risk tier {}", "min_probability": "churn probability at least {}",
                   "min_clv": "CLV at least {}", "not_contacted_days":
                   "not contacted in the last {} days", "segment": "segment {}"}


def _condition(key: str, value) -> str:
    words = CONDITION_WORDS.get(key, key + " {}")
    if key in ("min_rise",):
        value = f"{100 * value:.0f} points"
    elif key == "min_probability":
        value = f"{100 * value:.0f}%"
    elif isinstance(value, (list, tuple)):
        value = " or ".join(map(str, value))
    return words.format(value) if "{}" in words else words


def rules_list(view: dict) -> html.Div:
    """Each rule in words: when ..., enrol in ... with ..., holding out ...%."""
    if not view.get("configured"):
        return html.Div(["No rules file. Start with ", html.Code("--rules FILE.toml"),
                         " (data/rules.example.toml documents every key) to enrol matching "
                         "customers on each refresh."], className="small text-muted",
                        id="trends-rules-empty")
    if view.get("error"):
        return dbc.Alert(view["error"], color="danger", className="small py-2",
                         id="trends-rules-error")
    items = []
    for rule in view["rules"]:
        when = "; ".join(_condition(k, v) for k, v in rule["when"].items())
        offer = "each customer's best offer" if rule["offer"] == "best" else rule["offer"]
        items.append(html.Li([
            html.Strong(rule["name"]),
            dbc.Badge("off", color="light", text_color="dark", className="ms-2")
            if not rule["enabled"] else None,
            html.Div(f"When {when}: enrol in “{rule['campaign']}” with {offer}, holding out "
                     f"{100 * rule['control_share']:.0f}%, outcome window "
                     f"{rule['horizon_days']} days.", className="small"),
            html.Div(rule["description"], className="small text-muted")
            if rule.get("description") else None], className="mb-2"))
    return html.Div([html.Div(f"From {view['name']}; they run on each data refresh, once per "
                              "refresh.", className="small text-muted mb-2"),
                     html.Ul(items, className="mb-0 ps-3", id="trends-rules-list")])


def preview_list(preview: dict) -> html.Div:
    """The dry run: what each rule would do on this data, nothing written."""
    if preview.get("error"):
        return dbc.Alert(preview["error"], color="warning", className="small py-2 mb-0")
    rows = []
    for item in preview["results"]:
        text = item.get("skipped") or item.get("note") or \
            f"would enrol {fmt_int(item['enrolled'])}, {fmt_int(item['held_out'])} held out"
        rows.append(html.Li([html.Strong(item["rule"]), ": ", text]))
    return html.Div([html.Div("Dry run on the data in service (nothing recorded):",
                              className="small fw-semibold"),
                     html.Ul(rows, className="small mb-0 ps-3")],
                    id="trends-rules-preview")


def outbox_table(batches: list[dict]) -> html.Div:
    """The last batches sent for contact (the treatment arm only) and their state."""
    if not batches:
        return html.Div("No batches in the outbox yet.", className="small text-muted")
    head = html.Thead(html.Tr([html.Th(h) for h in ("Campaign", "Batch", "Customers",
                                                     "State", "Attempts", "Last error")]))
    body = [html.Tr([html.Td(b["campaign_name"]), html.Td(b["batch"]),
                     html.Td(fmt_int(b["rows"])),
                     html.Td(dbc.Badge(b["status"], color=STATUS_COLOURS.get(b["status"],
                                                                             "secondary"))),
                     html.Td(b["attempts"]), html.Td(b.get("last_error") or "",
                                                     className="text-muted")])
            for b in batches]
    return dbc.Table([head, html.Tbody(body)], size="sm", className="small mb-0",
                     id="trends-outbox-table")
