"""The Score page's "Score a file" card: the drop zone (assets/upload.js streams the file to
POST /upload; this is only the markup) and the scored file's summary: rows scored, the
risk-tier mix, the first rows, and the per-column report in plain words. Pure builders:
every value comes in through the arguments (the summary is the score service's JSON)."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from components.kpi import TIER_BADGES, fmt_pct

# Ids inside the result (rendered by the page's callback).
ROWS_TEXT = "score-file-rows-text"
TIME_TEXT = "score-file-time-text"
TIERS_DIV = "score-file-tiers-div"
REPORT_LIST = "score-file-report-list"
PREVIEW_TABLE = "score-file-preview-table"
ERROR_ALERT = "score-file-error-alert"

ALL_CLEAR = ("Every column matched what the model was trained on: no unknown categories, no "
             "numbers outside the training range, no cells that are not numbers.")


def upload_panel(drop_id: str, progress_id: str, store_id: str, input_id: str, props: dict,
                 limit_text: str) -> html.Div:
    """The drop zone, naming its own progress bar, store and file input for upload.js."""
    parts = {"data-upload-store": store_id, "data-upload-progress": progress_id,
             "data-upload-input": input_id}
    return html.Div([
        html.Div([
            html.I(className="bi bi-file-earmark-arrow-up fs-3 d-block mb-1"),
            html.Div("Drop a file of customers here, or press to choose one",
                     className="fw-semibold"),
            html.Div(f"CSV, Excel or Parquet with the model's columns (no churn label "
                     f"needed); up to {limit_text}.", className="small text-muted"),
        ], id=drop_id, className="upload-drop text-center p-3", **props, **parts),
        html.Div(html.Div(className="progress-bar", role="progressbar"), id=progress_id,
                 className="progress mt-2 upload-progress", style={"height": "1.1rem"}),
    ])


def columns_hint(columns: list[str]) -> html.Details:
    """The columns a file needs, folded away."""
    return html.Details([
        html.Summary(f"The {len(columns)} columns a file needs", className="small text-muted"),
        html.Div(", ".join(columns), className="small font-monospace mt-1"),
    ], className="mt-2")


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else plural or word + 's'}"


def _number(value) -> str:
    return "?" if value is None else f"{value:,.6g}"


def _badge(tier: str) -> dbc.Badge:
    return dbc.Badge(tier, color=TIER_BADGES.get(tier, "secondary"), className="fw-semibold")


def _named(item: dict) -> str:
    label, column = item.get("label") or item["column"], item["column"]
    return label if label.lower() == column.lower() else f"{label} (column {column})"


def report_lines(items: list[dict]) -> list[str]:
    """The per-column report as sentences: unknown categories with their counts, numbers
    outside the training range with that range, cells that are not numbers."""
    lines = []
    for item in items:
        n, kind = int(item["n"]), item["kind"]
        if kind == "unknown":
            shown = ", ".join(f"“{value}” ({count:,})" for value, count in item["examples"])
            more = "" if sum(c for _, c in item["examples"]) >= n else " and others"
            lines.append(f"{_named(item)}: {_plural(n, 'value')} the model never saw, scored "
                         f"as missing: {shown}{more}.")
        elif kind == "range":
            lines.append(f"{_named(item)}: {_plural(n, 'value')} outside the training range "
                         f"{_number(item['low'])} to {_number(item['high'])}; flagged and "
                         "scored anyway.")
        elif kind == "number":
            lines.append(f"{_named(item)}: {_plural(n, 'cell')} not a number, scored as "
                         "missing.")
    return lines


def tier_mix(tiers: list[dict]) -> html.Div:
    """A stacked bar of the tiers' shares and a legend with the counts."""
    bars = [html.Div(html.Div(className="progress-bar bg-" + TIER_BADGES.get(t["tier"],
                                                                       "secondary")),
                     className="progress", role="progressbar", title=t["tier"],
                     style={"width": f"{100 * t['share']:.2f}%"},
                     **{"aria-label": t["tier"], "aria-valuenow": f"{100 * t['share']:.0f}",
                        "aria-valuemin": "0", "aria-valuemax": "100"})
            for t in tiers if t["n"]]
    legend = [html.Span([_badge(t["tier"]),
                         html.Span(f" {t['n']:,} ({fmt_pct(t['share'])})", className="small")],
                        className="me-3 text-nowrap") for t in tiers]
    return html.Div([html.Div(bars, className="progress-stacked mb-2",
                              style={"height": "0.9rem"}),
                     html.Div(legend)], id=TIERS_DIV)


def preview_table(rows: list[dict]) -> dbc.Table:
    head = html.Thead(html.Tr([html.Th("Customer"), html.Th("Churn probability",
                                                            className="text-end"),
                               html.Th("Tier"), html.Th("Top reason"), html.Th("Flags")]))
    body = html.Tbody([html.Tr([
        html.Td(r["customer_id"], className="font-monospace"),
        html.Td(fmt_pct(r["probability"]), className="text-end"),
        html.Td(_badge(r["tier"])),
        html.Td(r["reason"] or "–"),
        html.Td(r["flags"], className="text-warning-emphasis" if r["flags"] else ""),
    ]) for r in rows])
    return dbc.Table([head, body], id=PREVIEW_TABLE, size="sm", hover=True, responsive=True,
                     className="small mb-0", style={"fontVariantNumeric": "tabular-nums"})


def result_view(summary: dict) -> html.Div:
    """What scoring a file gave: rows, time, tier mix, the report and the first rows."""
    rows, seconds = summary["rows"], summary["seconds"]
    timing = (f"scored earlier in {seconds:,.1f} s; shown from the cache" if summary["cached"]
              else f"in {seconds:,.1f} s")
    flagged = summary.get("flagged", 0)
    lines = report_lines(summary["report"])
    if summary.get("no_behaviour"):
        lines.append(f"{_plural(summary['no_behaviour'], 'behaviour feature')} not in the "
                     "file (they come from history): scored with a typical active "
                     "customer's behaviour (the median of each).")
    return html.Div([
        html.Div([html.Span(f"{_plural(rows, 'customer')} scored", id=ROWS_TEXT,
                            className="fw-semibold"),
                  html.Span(f" from {summary['name']} by the current model, ", className="small"),
                  html.Span(timing, id=TIME_TEXT, className="small text-muted")],
                 className="mb-2"),
        html.Div("Risk-tier mix", className="kpi-title"),
        tier_mix(summary["tiers"]),
        html.Div("What the file held that the model did not expect", className="kpi-title mt-3"),
        html.Ul([html.Li(line) for line in lines] if lines else [html.Li(ALL_CLEAR)],
                id=REPORT_LIST, className="small mb-1"),
        html.Div(f"{_plural(flagged, 'row')} flagged in the scored file (an unknown category "
                 "or a number outside the training range)." if flagged else "",
                 className="small text-muted"),
        html.Div(f"The first {min(len(summary['preview']), rows)} customers",
                 className="kpi-title mt-3 mb-1"),
        preview_table(summary["preview"]),
    ])


def sentence(message: str) -> str:
    """'the file is empty' -> 'The file is empty' (the upload route's words start small)."""
    return message[:1].upper() + message[1:]


def error_view(message: str) -> dbc.Alert:
    text = message or "The file could not be scored."
    return dbc.Alert([html.I(className="bi bi-exclamation-triangle me-2"), text],
                     color="warning", className="small py-2 mb-0", id=ERROR_ALERT)
