"""Charts and panels of the Model page: curves, calibration, deciles, cost, SHAP summaries,
the metrics and decile tables, data quality, drift, the leakage check, the confusion panel
and the risk-tier cut-offs (preview, status, history).

Pure builders: plain data in, a figure or Dash components out. Every scatter is SVG
(`scatter`, never `scattergl`): the samples are small, and WebGL in a headless or GPU-less
browser only adds console warnings. Probabilities and thresholds are shown in %.
"""

from __future__ import annotations


from components.charts import (ABOVE, BELOW, Figure, base_layout, colour_key, empty_figure,
                               plain_figure)
from components.kpi import fmt_pct

MODEL_COLOURS = {"catboost": "#2b8a8a", "logistic_regression": "#7048e8",
                 "random_forest": "#f08c00", "mlp": "#868e96"}
MODEL_NAMES = {"catboost": "CatBoost (served)", "logistic_regression": "Logistic regression",
               "random_forest": "Random forest", "mlp": "Neural network (MLP)"}
GRID = "#f1f3f5"
BEHAVIOUR = "#7048e8"   # behaviour features (from event tables) in the importance chart
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
def roc_chart(models: dict, height: int = 340) -> Figure:
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


def pr_chart(models: dict, observed_rate: float, height: int = 340) -> Figure:
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
                      height: int = 340) -> Figure:
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


def gains_lift_chart(deciles: list[dict], height: int = 340) -> Figure:
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


def decile_pr_chart(deciles: list[dict], height: int = 340) -> Figure:
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


def cost_chart(cost: dict, threshold: float, height: int = 320) -> Figure:
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
def importance_chart(items: list[dict], top: int = 15, height: int = 400,
                     of: dict | None = None) -> Figure:
    """Mean |SHAP| per feature; behaviour features (an item with a `table`) in their own
    colour, named with their table in the hover and keyed in the title. `of` ({"rows",
    "of"}): the customers the mean is over, said in the title when it is a sample."""
    items = items[:top][::-1]
    title = "Feature importance: mean |SHAP| in percentage points"
    behaviour = any(i.get("table") for i in items)
    notes = []
    if behaviour:
        notes.append(colour_key((BELOW, "customer attributes"),
                                (BEHAVIOUR, "behaviour over time")))
    if of and of["rows"] < of["of"]:
        notes.append(f"over a seeded sample of {of['rows']:,} of the {of['of']:,} customers")
    if notes:
        title += "<br><sup>" + " · ".join(notes) + "</sup>"
    bar = dict(type="bar", orientation="h", y=[i["label"] for i in items],
               x=[i["value"] for i in items],
               marker={"color": [BEHAVIOUR if i.get("table") else BELOW for i in items]},
               customdata=[f" (behaviour, from {i['table']})" if i.get("table") else ""
                           for i in items],
               text=[f"{i['value']:.1f}" for i in items], textposition="outside",
               cliponaxis=False,
               hovertemplate="%{y}%{customdata}: %{x:.2f} pts on average<extra></extra>")
    return plain_figure([bar], base_layout(
        title, height,
        xaxis=_axis("Average push on the churn probability (pts)"),
        yaxis={"automargin": True},
        margin={"l": 8, "r": 40, "t": 64 if notes else 44, "b": 40}))


def beeswarm_chart(data: dict, height: int = 400) -> Figure:
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


def dependence_chart(data: dict, height: int = 360) -> Figure:
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


__all__ = ["METRICS", "MODEL_NAMES", "TIER_NAMES", "beeswarm_chart", "cost_chart",
           "decile_pr_chart", "dependence_chart", "fmt_cut", "gains_lift_chart",
           "importance_chart", "pr_chart", "reliability_chart", "roc_chart"]
