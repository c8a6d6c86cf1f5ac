"""The Customer page's activity timeline: one figure over a shared date axis, usage per
week as bars on top, a swimlane below (tickets coloured by sentiment, e-mails and other
events, plan changes up or down), and lines at the model's as-of date and the date the
customer was scored; plus the "Behaviour in the reasons" list.

Pure builders: the timeline service's plain lists in, a figure or components out.
Free text from the data is escaped before plotly renders it in a hover (plotly reads a few
HTML tags in labels)."""

from __future__ import annotations

import html as html_text
import textwrap

from dash import html

from components.charts import ABOVE, BELOW, Figure, base_layout, empty_figure, plain_figure

TITLE = "Activity over time"
MOODS = {"negative": "#d9485f", "neutral": "#adb5bd", "positive": "#2f9e44"}
USAGE_COLOUR = "#4c6ef5"
EVENT_COLOUR = "#7048e8"
PLAN = {1: ("Upgrade", "triangle-up", "#2f9e44"), -1: ("Downgrade", "triangle-down", "#d9485f"),
        0: ("Plan change", "diamond", "#868e96")}
AS_OF_COLOUR = "#495057"
NOW_COLOUR = "#f08c00"
WEEK_MS = 7 * 86_400_000
WRAP = 60           # hover text wrapped at about this many characters a line
GRID = "#f1f3f5"


def timeline_chart(data: dict, height: int = 430) -> Figure:
    """The timeline of one customer (dashboard/services/timeline.py's `of_row`)."""
    usage, lanes = data.get("usage"), [lane for lane in data["lanes"] if lane["n"]]
    if not (usage and usage["rows"]) and not lanes:
        return empty_figure("No activity recorded for this customer in the last 12 months.",
                            TITLE, 260)
    has_usage = bool(usage and usage["rows"])
    traces = _usage_traces(usage) if has_usage else []
    for lane in lanes:
        traces += LANE_TRACES[lane["kind"]](lane)
    names = [lane["label"] for lane in lanes]
    split = 0.36 if names and has_usage else 1.0      # the swimlane's share of the height
    layout = base_layout(
        TITLE, height, showlegend=True, hovermode="closest",
        legend={"orientation": "h", "x": 0, "y": -0.16, "font": {"size": 11},
                "itemclick": False, "itemdoubleclick": False},
        margin={"l": 8, "r": 16, "t": 64, "b": 40},
        xaxis={"type": "date", "range": [data["start"], _pad(data["end"])],
               "gridcolor": GRID, "anchor": "y2" if names else "y",
               "title": {"text": "Date", "standoff": 4}},
        shapes=[_line(data["as_of"], AS_OF_COLOUR), _line(data["now"], NOW_COLOUR)],
        annotations=[_label(data["as_of"], f"model trained as of {data['as_of']}",
                            AS_OF_COLOUR, 1.0),
                     _label(data["now"], f"scored as of {data['now']}", NOW_COLOUR, 1.06)])
    if has_usage:
        layout["yaxis"] = {"domain": [split + 0.1 if names else 0, 1], "gridcolor": GRID,
                           "rangemode": "tozero", "automargin": True,
                           "title": {"text": f"{usage['label']} per week"}}
    if names:
        layout["yaxis2" if has_usage else "yaxis"] = {
            "domain": [0, split if has_usage else 1], "type": "category",
            "categoryorder": "array", "categoryarray": names[::-1], "automargin": True,
            "range": [-0.6, len(names) - 0.4], "fixedrange": True, "showgrid": True,
            "gridcolor": GRID, "title": {"text": ""}}
    if names and not has_usage:
        layout["xaxis"]["anchor"] = "y"
        for trace in traces:
            trace["yaxis"] = "y"
    return plain_figure(traces, layout)


def _usage_traces(usage: dict) -> list[dict]:
    unit = usage["label"].lower()
    return [dict(type="bar", x=usage["x"], y=usage["y"], name=f"{usage['label']} per week",
                 width=WEEK_MS, offset=-WEEK_MS, marker={"color": USAGE_COLOUR},
                 opacity=0.85, xaxis="x", yaxis="y",
                 hovertemplate=f"Week to %{{x|%b %d, %Y}}: %{{y:,.2f}} {_safe(unit)}"
                               "<extra></extra>")]


def _ticket_traces(lane: dict) -> list[dict]:
    out = []
    noun = lane["noun"].capitalize()
    for mood, colour in MOODS.items():
        idx = [i for i, m in enumerate(lane["mood"]) if m == mood]
        if not idx:
            continue
        out.append(dict(type="scatter", mode="markers", x=[lane["x"][i] for i in idx],
                        y=[lane["label"]] * len(idx), name=f"{noun}: {mood}",
                        xaxis="x", yaxis="y2",
                        marker={"color": colour, "size": 11, "symbol": "circle",
                                "line": {"color": "white", "width": 1}},
                        customdata=[_ticket_hover(lane, i) for i in idx],
                        hovertemplate="%{customdata}<extra></extra>"))
    return out


def _ticket_hover(lane: dict, i: int) -> str:
    satisfaction, escalated = lane["satisfaction"][i], lane["escalated"][i]
    facts = [lane["category"][i] or "no category",
             f"satisfaction {satisfaction:g}" if satisfaction is not None
             else "no satisfaction score",
             {True: "escalated", False: "not escalated", None: "escalation unknown"}[escalated]]
    sentiment = lane["sentiment"][i]
    text = lane["text"][i]
    lines = [f"<b>{_safe(lane['noun'].capitalize())} {lane['x'][i]}</b>",
             _safe(" · ".join(facts)),
             f"sentiment {sentiment:+.2f} ({lane['mood'][i]})" if sentiment is not None
             else "no sentiment"]
    if text:
        lines += [_safe(line) for line in textwrap.wrap(text, WRAP)]
    return "<br>".join(lines)


def _event_traces(lane: dict) -> list[dict]:
    noun, flags = lane["noun"].capitalize(), lane.get("flag")
    groups = [(None, f"{lane['label']}", "circle")] if flags is None else [
        (True, f"{noun}: {lane['flag_label']}", "circle"),
        (False, f"{noun}: not {lane['flag_label']}", "circle-open")]
    out = []
    for flag, name, symbol in groups:
        idx = [i for i in range(len(lane["x"])) if flags is None or flags[i] == flag]
        if not idx:
            continue
        out.append(dict(type="scatter", mode="markers", x=[lane["x"][i] for i in idx],
                        y=[lane["label"]] * len(idx), name=name, xaxis="x", yaxis="y2",
                        marker={"color": EVENT_COLOUR, "size": 7, "symbol": symbol,
                                "opacity": 0.8},
                        customdata=[_safe(" · ".join(x for x in (
                            f"{name} {lane['x'][i]}", lane["category"][i]) if x))
                            for i in idx],
                        hovertemplate="%{customdata}<extra></extra>"))
    return out


def _history_traces(lane: dict) -> list[dict]:
    out = []
    for change, (word, symbol, colour) in PLAN.items():
        idx = [i for i, c in enumerate(lane["change"]) if c == change]
        if not idx:
            continue
        hover = []
        for i in idx:
            plan, mrr = lane["plan"][i], lane["mrr"][i]
            what = f"{word} to {plan}" if plan and change else (plan or word)
            hover.append(_safe(f"{what} · {lane['x'][i][:10]}"
                               + (f" · MRR {mrr:,.2f}" if mrr is not None else "")))
        out.append(dict(type="scatter", mode="markers", x=[lane["x"][i] for i in idx],
                        y=[lane["label"]] * len(idx),
                        name=f"{word} {'▲' if change > 0 else '▼' if change < 0 else '◆'}",
                        xaxis="x", yaxis="y2",
                        marker={"color": colour, "size": 13, "symbol": symbol,
                                "line": {"color": "white", "width": 1}},
                        customdata=hover, hovertemplate="%{customdata}<extra></extra>"))
    return out


LANE_TRACES = {"tickets": _ticket_traces, "events": _event_traces, "history": _history_traces}


def _line(day: str, colour: str) -> dict:
    return {"type": "line", "xref": "x", "yref": "paper", "x0": day, "x1": day, "y0": 0,
            "y1": 1, "line": {"color": colour, "width": 1.5, "dash": "dot"}}


def _label(day: str, text: str, colour: str, y: float) -> dict:
    return {"x": day, "xref": "x", "y": y, "yref": "paper", "text": text, "showarrow": False,
            "xanchor": "right", "yanchor": "bottom", "font": {"size": 11, "color": colour}}


def _pad(day: str) -> str:
    """A few days past the scored-at date, so its line is not on the frame."""
    from datetime import date, timedelta

    return str(date.fromisoformat(day[:10]) + timedelta(days=5))


def _safe(text: str) -> str:
    return html_text.escape(str(text), quote=False)


def behaviour_reasons(items: list[dict], element_id: str) -> html.Div:
    """This customer's behaviour features among their top reasons, in words."""
    title = html.Div("Behaviour in the reasons", className="kpi-title mt-2 mb-1")
    if not items:
        return html.Div([title, html.Div("No behaviour feature is among this customer's top "
                                         "reasons.", className="small text-muted")],
                        id=element_id)
    rows = [html.Li([item["text"],
                     html.Span(f" {item['points']:+.1f} pts",
                               style={"color": ABOVE if item["points"] > 0 else BELOW},
                               className="fw-semibold"),
                     html.Span(f" · {item['table']}", className="text-muted")])
            for item in items]
    return html.Div([title, html.Ul(rows, className="small mb-0")], id=element_id)


__all__ = ["behaviour_reasons", "timeline_chart"]
