"""The Segments page's callbacks and figure builders."""

from __future__ import annotations

import re
from contextlib import contextmanager

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
import pytest
from dash import dcc, no_update

from components.segment_charts import (PALETTE, money, risk_value_scatter, segment_churn_chart,
                                       segment_colours, silhouette_chart, survival_chart,
                                       tier_heatmap)
from dashboard.services import CONFIG_KEY
from tests.ui.conftest import DEMO_SIZE, call_with_trigger, find, walk


@pytest.fixture(scope="module", autouse=True)
def _pages(app):
    global segments_page
    from pages import segments as segments_page


def _text(component) -> str:
    """Every string in a layout tree, joined (what a reader sees, plus tooltips)."""
    return " ".join(c for c in walk(component) if isinstance(c, str))


def _dot_colours(component) -> list[str]:
    """Background colours of the segment dots, in order."""
    return [c.style["background"] for c in walk(component)
            if "segment-dot" in (getattr(c, "className", "") or "")]


def test_segments_view_adds_up(in_app):
    svc = in_app.server.config[CONFIG_KEY]
    view = svc.segments.view({})
    sizes = [s["n"] for s in view["segments"]]
    assert sum(sizes) == DEMO_SIZE
    assert sum(map(sum, view["heat"]["counts"])) == DEMO_SIZE
    names = [s["name"] for s in view["segments"]]
    assert len(set(names)) == len(names) and view["k"] == len(names) or view["k"] == 1
    assert view["overall"]["n"] == DEMO_SIZE
    assert view["overall"]["rate"] == pytest.approx(
        sum(s["churned"] for s in view["segments"]) / DEMO_SIZE)
    # With a filter, every number describes the selection only.
    chosen = svc.segments.view({"tier": ["High"]})
    assert sum(s["n"] for s in chosen["segments"]) == int(svc.mask({"tier": ["High"]}).sum())
    assert all(row[1] == 0 and row[2] == 0 for row in chosen["heat"]["counts"])


def test_segment_clv_is_over_active_customers_with_a_clv(in_app):
    svc = in_app.server.config[CONFIG_KEY]
    c = svc.analysis.customers
    view = svc.segments.view({})
    for s in view["segments"]:
        members = c[(c["segment"] == s["name"]) & c["active"]]
        expected = members["clv"].astype(float).mean()  # pandas skips NaN
        assert s["clv"] == pytest.approx(expected, rel=1e-4) if len(members) else s["clv"] is None


def test_update_segments_renders_cards_and_figures(in_app):
    cards, table, summary, churn, heat, k_fig, method = segments_page.update_segments({})
    text = _text(cards)
    svc = in_app.server.config[CONFIG_KEY]
    view = svc.segments.view({})
    for s in view["segments"]:
        assert s["name"] in text
    # Plain words with units.
    for phrase in ("have left (", "in the selection)", "a month on average", "Customers for ", " months on average",
                   "Revenue at risk $", " a month", "Lifetime value $", " still active"):
        assert phrase in text, phrase
    # One money format on the page: whole dollars with thousands separators, never "$12.3k"
    # or cents next to them.
    page_text = text + " " + _text(table)
    amounts = re.findall(r"\$[\d,.]+[kM]?", page_text)
    assert amounts and all(re.fullmatch(r"\$\d{1,3}(,\d{3})*", a) for a in amounts), amounts
    assert "segments" in _text(summary) and "lifetime value assumes" in _text(summary)
    assert "need a revenue column" not in _text(summary)
    assert churn.layout.title.text == "Churn rate by segment (% of customers who have left)"
    assert churn.layout.xaxis.title.text == "Have left (%), with 95% interval"
    assert heat.data[0].type == "heatmap"
    assert k_fig.layout.title.text == "Choosing the number of segments (K)"
    assert "Features used" in _text(method) and "Outliers" in _text(method)


def test_heat_map_is_coloured_by_churn_rate_with_counts_as_text(in_app):
    svc = in_app.server.config[CONFIG_KEY]
    heat_view = svc.segments.view({})["heat"]
    *_, heat, _k, _m = segments_page.update_segments({})
    trace = heat.data[0]
    for i, row in enumerate(heat_view["counts"]):
        for j, n in enumerate(row):
            assert trace.text[i][j] == f"{n:,}"
            if n:
                assert trace.z[i][j] == pytest.approx(100 * heat_view["churned"][i][j] / n)
            else:
                assert trace.z[i][j] is None
    assert trace.zmin == 0 and trace.zmax == 100
    i, j = next((i, j) for i, row in enumerate(heat_view["counts"]) for j, n in enumerate(row)
                if n)
    assert trace.customdata[i][j].endswith(f" · {heat_view['active'][i][j]:,} still active")
    assert sum(map(sum, heat_view["active"])) == int(svc.array("active").sum())
    assert trace.colorbar.title.text == "Have left (%)"
    assert heat.layout.title.text == "Churn rate by segment and risk tier (numbers: customers)"


def test_one_colour_per_segment_on_every_chart_even_when_filtered(in_app):
    svc = in_app.server.config[CONFIG_KEY]
    names = [s["name"] for s in svc.segments.view({})["segments"]]
    expected = segment_colours(names)
    assert len(set(PALETTE)) >= 10 and len(set(PALETTE[:10])) == 10
    assert len(set(expected.values())) == len(names)

    # A filter that leaves some segments out must not recolour the others.
    for filters in ({}, {"tier": ["High"]}):
        cards, table, _s, churn, *_ = segments_page.update_segments(filters)
        shown = [s["name"] for s in svc.segments.view(filters)["segments"] if s["n"]]
        assert _dot_colours(cards) == [expected[n] for n in shown]
        assert _dot_colours(table) == [expected[n] for n in shown]
        bars = churn.data[0]
        assert list(bars.marker.color) == [expected[n] for n in bars.y]
        survival, scatter = segments_page.update_curves(filters, "segment")
        for trace in list(survival.data) + list(scatter.data):
            colour = trace.line.color if trace.mode == "lines" else trace.marker.color
            assert colour == expected[trace.name], trace.name


def test_method_panel_is_collapsed_at_the_bottom_and_holds_the_k_chart(app):
    with app.server.app_context():
        page = segments_page.layout()
    accordion = find(page, segments_page.METHOD_ACCORDION)
    assert isinstance(accordion, dbc.Accordion) and accordion.start_collapsed is True
    assert page.children[-1] is accordion  # the last thing on the page
    assert isinstance(find(accordion, segments_page.K_GRAPH), dcc.Graph)
    graphs = [c.id for c in walk(page.children[:-1]) if isinstance(c, dcc.Graph)]
    assert segments_page.K_GRAPH not in graphs  # not in the main grid


def test_method_text_says_how_k_was_chosen(in_app):
    *_, method = segments_page.update_segments({})
    view = in_app.server.config[CONFIG_KEY].segments.view({})
    text = _text(method)
    assert f"K = {view['k']} separates the customers best" in text
    assert "KMeans was fitted for K = 2 to 10" in text
    assert "tenure (months)" in text and "flagged, never dropped" in text
    assert '"High-Risk" when its mean churn risk is at least 1.25x the overall' in text


def test_empty_selection(in_app):
    cards, table, summary, churn, heat, k_fig, method = segments_page.update_segments(
        {"tenure": [900, 901]})
    assert "No customers match" in _text(cards)
    for fig in (churn, heat):
        assert fig.layout.annotations[0].text == "No customers match the filters"
        assert fig.layout.title.text.startswith("Churn rate by segment")  # still titled
    assert k_fig.data  # how K was chosen does not depend on the filters
    survival, scatter = segments_page.update_curves({"tenure": [900, 901]}, "segment")
    assert not survival.data and "Not enough customers" in survival.layout.annotations[0].text
    assert not scatter.data and scatter.layout.annotations[0].text == \
        "No customers match the filters"


def test_curves(in_app):
    survival, scatter = segments_page.update_curves({}, "segment")
    assert len(survival.data) >= 2
    assert survival.layout.yaxis.title.text == "Still active (%)"
    assert survival.layout.xaxis.title.text == "Months since joining"
    overall, _ = segments_page.update_curves({}, "all")
    assert [t.name for t in overall.data] == ["All customers"]
    by_contract, _ = segments_page.update_curves({}, "Contract")
    assert {t.name for t in by_contract.data} == {"Month-to-month", "One year", "Two year"}
    for trace in survival.data:
        assert trace.y[0] <= 1.0 and all(a >= b - 1e-9 for a, b in zip(trace.y, trace.y[1:]))
    assert sum(len(t.x) for t in scatter.data) == min(2500, DEMO_SIZE)
    assert scatter.layout.yaxis.title.text == "Monthly charges ($ a month)"


def test_drill_into_segment_and_heat_cell(in_app):
    button = '{"segment":"New","type":"segments-open-button"}.n_clicks'
    out = call_with_trigger(segments_page.drill_into, button, [1], None, None, value=1)
    assert out == (["New"], no_update, "/customers")
    # A button re-rendered with n_clicks None (cards refreshed) does nothing.
    out = call_with_trigger(segments_page.drill_into, button, [None], None, None, value=None)
    assert out == (no_update, no_update, no_update)
    click = {"points": [{"x": "High", "y": "High-Risk Mid-Spend", "z": 3}]}  # from dcc.Graph
    out = call_with_trigger(segments_page.drill_into, f"{segments_page.HEAT_GRAPH}.clickData",
                            [None], None, click)
    assert out == (["High-Risk Mid-Spend"], ["High"], "/customers")
    click = {"points": [{"customdata": ["Loyal", 10, 2]}]}
    out = call_with_trigger(segments_page.drill_into, f"{segments_page.CHURN_GRAPH}.clickData",
                            [None], click, None)
    assert out[0] == ["Loyal"] and out[2] == "/customers"


def test_money_format():
    assert money(4210.4) == "$4,210" and money(1_234_567.8) == "$1,234,568"
    assert money(89.5, per_month=True) == "$90 a month" and money(None) == "–"
    assert money(-12.0) == "-$12"


def test_segment_figures_validate():
    colours = segment_colours(["A", "B"])
    assert colours["A"] != colours["B"]
    rows = [{"name": "A", "n": 10, "churned": 3, "rate": 0.3, "lo": 0.1, "hi": 0.6},
            {"name": "B", "n": 0, "churned": 0, "rate": None, "lo": None, "hi": None}]
    figures = [
        silhouette_chart({2: 0.3, 3: 0.4}, {2: 100.0, 3: 80.0}, 3),
        tier_heatmap(["A", "B"], ["High", "Medium", "Low"], [[1, 2, 3], [0, 0, 4]],
                     [[1, 1, 0], [0, 0, 1]]),
        survival_chart({"A": {"month": [0, 1], "survival": [1, 0.9], "lo": [1, 0.8],
                              "hi": [1, 1]}}, colours),
        risk_value_scatter({"probability": [0.1, 0.8], "value": [20, 90],
                            "segment": ["A", "B"], "customer_id": ["x", "y"]}, colours, 10),
        segment_churn_chart(rows, colours, 0.25, ["A"]),
        silhouette_chart({}, {}, 1),
        tier_heatmap([], [], [], []),
        segment_churn_chart(rows[1:], colours, None),
    ]
    for fig in figures:
        go.Figure(fig.to_plotly_json())
    assert "random 2 of 10 customers" in figures[3].layout.title.text
    assert [list(r) for r in figures[1].data[0].z] == [[100.0, 50.0, 0.0],
                                                     [None, None, 25.0]]
    bars = figures[4].data[0]
    assert list(bars.y) == ["A"] and list(bars.marker.color) == [colours["A"]]
    assert bars.customdata[0][0] == "A"  # what drill_into reads
    for fig in figures[5:]:
        assert fig.layout.annotations and not fig.data


def test_method_text_for_a_single_segment():
    method = segments_page._method({"k": 1, "single_reason": "one segment: only 5 customers "
                                    "(fewer than 20)"})
    assert _text(method) == "One segment: only 5 customers (fewer than 20)."


# ----- other data: a bank (no revenue, an acquisition cost), no tenure, a priced demo ------

BANK_N = 2000
NEEDS_REVENUE = ("Revenue, lifetime value and revenue at risk need a revenue column "
                 "([roles] revenue in the dataset config)")
MONEY_HEADERS = ("Pays a month", "Lifetime value", "Monthly revenue", "Revenue at risk a month")


@pytest.fixture(scope="module")
def bank():
    """A bank's analysis read through an inferred config: no revenue, a tenure, what each
    customer cost to win in a column (the `acquisition_cost` canonical column)."""
    from dataclasses import replace

    import numpy as np

    from analytics.data.inspect import inspect_frame
    from analytics.data.layouts import generate_bank
    from analytics.dataset import build_table
    from analytics.pipeline import AnalysisSettings, analyse

    frame = generate_bank(BANK_N, seed=1)
    frame["Acquisition cost"] = np.round(np.random.default_rng(0).uniform(50, 250, BANK_N), 2)
    config = replace(inspect_frame(frame, "bank.csv").config,
                     acquisition_cost_column="Acquisition cost")
    return analyse(build_table(frame, config, "bank.csv"),
                   AnalysisSettings(n_splits=2, baselines=()), progress=lambda _m: None)


def _without(analysis, column: str, **config):
    """The same analysis without a meta column, as data without it would be read."""
    from dataclasses import replace

    import numpy as np

    from analytics.dataset import ACQUISITION

    customers = analysis.customers.copy()
    if column == ACQUISITION:
        customers = customers.drop(columns=[ACQUISITION])
    else:
        customers[column] = np.nan
    return replace(analysis, customers=customers, config=replace(analysis.config, **config))


@pytest.fixture(scope="module")
def bank_no_cost(bank):
    return _without(bank, "acquisition_cost", acquisition_cost_column=None)


@contextmanager
def serving(app, analysis):
    """Callbacks run on `analysis`, switched in as `Services.switch` does (every
    per-analysis cache dropped), the app's own analysis put back after."""
    svc = app.server.config[CONFIG_KEY]
    saved = svc.analysis

    def switch(a):
        svc.analysis = a
        svc._arrays.clear()
        svc.invalidate()

    switch(analysis)
    try:
        with app.server.test_request_context():
            yield svc
    finally:
        switch(saved)


def _headers(table) -> list[str]:
    return [c.children for c in walk(table) if type(c).__name__ == "Th"]


def test_bank_cards_leave_money_out_and_say_once_what_it_needs(app, bank_no_cost):
    with serving(app, bank_no_cost) as svc:
        view = svc.segments.view({})
        cards, table, summary, *_ = segments_page.update_segments({})
    assert all(s["active"] for s in view["segments"])
    text = _text(cards)
    # Every segment has active customers: none says it has none (the old revenue logic did).
    assert "No active customers left" not in text
    for gone in ("Pays ", "Revenue at risk", "Lifetime value", "$", "–"):
        assert gone not in text, gone
    for s in view["segments"]:
        assert s["arpu"] is s["clv"] is s["monthly_revenue"] is s["revenue_at_risk"] is None
        assert f"{s['active']:,} still active" in text
    assert " months on average" in text  # the tenure is in months
    page = " ".join([text, _text(table), _text(summary)])
    assert page.count(NEEDS_REVENUE) == 1 and NEEDS_REVENUE in _text(summary)
    assert "lifetime value assumes" not in _text(summary)


def test_bank_table_has_no_money_columns(app, bank_no_cost):
    with serving(app, bank_no_cost):
        _cards, table, *_ = segments_page.update_segments({})
    headers = _headers(table)
    assert headers == ["Segment", "Customers", "Have left", "Churn risk (model)", "Outliers"]
    note = _text(table)
    assert "Money in" not in note and "$" not in note
    assert "Outliers are customers far from their segment's centre" in note


def test_bank_scatter_plots_a_numeric_feature_against_the_risk(app, bank_no_cost):
    with serving(app, bank_no_cost) as svc:
        _survival, scatter = segments_page.update_curves({}, "segment")
        ids = {i: row for i, row in zip(svc.ids(), svc.analysis.customers["Age"])}
    # The first numeric segmentation feature besides the tenure: the age.
    assert bank_no_cost.segmentation.features[:2] == ["tenure_months", "Age"]
    assert scatter.layout.title.text.startswith("Age vs churn risk")
    assert scatter.layout.yaxis.title.text == "Age" and scatter.layout.yaxis.tickprefix is None
    assert sum(len(t.y) for t in scatter.data) == min(2500, BANK_N)
    for trace in scatter.data:
        assert all(y == ids[c] for y, c in zip(trace.y, trace.customdata))
        assert "$" not in trace.hovertemplate and "age %{y" in trace.hovertemplate


def test_bank_curve_options_are_its_categorical_drivers(app, bank_no_cost):
    from analytics.drivers import driver_columns

    expected = [c for c in driver_columns(bank_no_cost, k=20)
                if c in bank_no_cost.categorical][:3]
    assert set(expected) == {"Geography", "Gender"}
    with serving(app, bank_no_cost) as svc:
        options = svc.segments.curve_options()
        assert [o["value"] for o in options] == ["segment", *expected, "all"]
        assert {o["label"] for o in options} == {"by segment", "by geography", "by gender",
                                                 "all customers"}
        page = segments_page.layout()
        survival, _ = segments_page.update_curves({}, "Geography")
        assert {t.name for t in survival.data} == set(svc.analysis.customers["Geography"])
        assert survival.layout.title.text.startswith("Still active by months since joining, "
                                                     "by geography")
        # A column the radio does not offer draws nothing (a numeric driver, say).
        numeric, _ = segments_page.update_curves({}, "Age")
        assert not numeric.data
    radio = find(page, segments_page.CURVE_RADIO)
    assert radio.options == options and radio.style is None


def test_without_a_tenure_the_retention_curves_say_what_they_need(app, bank_no_cost):
    from analytics.dataset import TENURE

    data = _without(bank_no_cost, TENURE, tenure_column=None)
    with serving(app, data):
        page = segments_page.layout()
        survival, scatter = segments_page.update_curves({}, "segment")
        cards, *_ = segments_page.update_segments({})
    assert not survival.data
    assert survival.layout.annotations[0].text == (
        "Retention curves need a tenure column ([roles] tenure in the dataset config)")
    assert find(page, segments_page.CURVE_RADIO).style == {"display": "none"}
    assert " months on average" not in _text(cards)
    assert scatter.layout.title.text.startswith("Age vs churn risk")


def test_scatter_without_any_numeric_feature_is_an_empty_state():
    fig = risk_value_scatter({"probability": []}, {}, 0, None,
                             empty_message="No numeric feature to plot against the churn risk")
    assert not fig.data
    assert fig.layout.annotations[0].text == "No numeric feature to plot against the churn risk"


def test_bank_with_an_acquisition_cost_adds_cac_to_the_table(app, bank):
    import numpy as np

    with serving(app, bank) as svc:
        view = svc.segments.view({})
        _cards, table, *_ = segments_page.update_segments({})
    c = bank.customers
    headers = _headers(table)
    assert "CAC" in headers and not set(MONEY_HEADERS) & set(headers)
    assert "CLV:CAC" not in headers and "Payback" not in headers  # both need a revenue
    for s in view["segments"]:
        members = c[(c["segment"] == s["name"]) & c["active"]]
        assert s["cac"] == pytest.approx(members["acquisition_cost"].mean(), rel=1e-9)
        assert s["clv_cac"] is None and s["payback_months"] is None
    cells = [[td.children for td in row.children]
             for row in walk(table) if type(row).__name__ == "Tr"][1:]
    column = headers.index("CAC")
    assert [row[column] for row in cells] == [f"${s['cac']:,.0f}" for s in view["segments"]
                                              if s["n"]]
    assert "CAC: the mean acquisition cost of the active customers." in _text(table)
    assert np.isfinite(c["acquisition_cost"]).all()


def test_demo_with_an_acquisition_cost_and_euros(app, svc):
    """CAC, CLV:CAC and payback per segment, as the Overview defines them: CAC / (what the
    segment's active customers pay a month x the margin)."""
    from dataclasses import replace

    import numpy as np

    demo = svc.analysis
    customers = demo.customers.copy()
    customers["acquisition_cost"] = np.random.default_rng(1).uniform(100, 400, len(customers))
    priced = replace(demo, customers=customers, config=replace(demo.config, currency="€"))
    with serving(app, priced) as served:
        view = served.segments.view({})
        _cards, table, *_ = segments_page.update_segments({})
        _survival, scatter = segments_page.update_curves({}, "segment")
    margin = demo.settings.margin
    headers = _headers(table)
    assert headers[-5:] == ["CAC", "CLV:CAC", "Payback", "Churn risk (model)", "Outliers"]
    assert set(MONEY_HEADERS) <= set(headers)
    active = customers[customers["active"]]
    for s in view["segments"]:
        members = active[active["segment"] == s["name"]]
        cac = members["acquisition_cost"].mean()
        arpu = members["monthly_charges"].mean()
        assert s["cac"] == pytest.approx(cac)
        assert s["clv_cac"] == pytest.approx(members["clv"].mean() / cac, rel=1e-4)
        assert s["payback_months"] == pytest.approx(cac / (arpu * margin), rel=1e-6)
    text = _text(table)
    assert "Money in euros." in text and "$" not in text and "€" in text
    assert scatter.layout.yaxis.title.text == "Monthly charges (€ a month)"
    assert scatter.layout.yaxis.tickprefix == "€"


def test_a_fact_shows_the_currency_only_for_the_revenue(app, bank_no_cost):
    fact = {"kind": "mean", "label": "Balance", "value": 58668.2, "overall": 75059.0}
    assert segments_page._fact(fact) == "Balance: 58,668 on average (75,059 overall)"
    assert segments_page._fact({**fact, "money": True}, "€") == \
        "Balance: €58,668 on average (€75,059 overall)"
    from dataclasses import replace

    for revenue, expected in (((), False), (("Balance",), True)):
        data = replace(bank_no_cost, config=replace(bank_no_cost.config,
                                                    revenue_columns=revenue))
        with serving(app, data) as served:
            facts = [f for s in served.segments.view({})["segments"] for f in s["apart"]]
        balance = [f for f in facts if f["feature"] == "Balance"]
        assert balance and all(f["money"] is expected for f in balance)
        assert not any(f["money"] for f in facts if f["feature"] != "Balance")


def test_the_demo_offers_its_drivers_as_curve_groupings(in_app):
    svc = in_app.server.config[CONFIG_KEY]
    options = svc.segments.curve_options()
    assert options[1] == {"label": "by contract", "value": "Contract"}
    assert options[0]["value"] == "segment" and options[-1]["value"] == "all"
    assert len(options) <= 5


def test_pages_and_components_name_no_source_column():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for path in (root / "pages" / "segments.py", root / "components" / "segment_charts.py"):
        text = path.read_text()
        for column in ("Contract", "MonthlyCharges", "InternetService", "PaymentMethod",
                       "TotalCharges", "customerID", "Balance", "Geography"):
            assert column not in text, (path.name, column)


def test_segment_table_builds_the_columns_the_data_has():
    from components.segment_charts import segment_table

    row = {"name": "A", "n": 10, "rate": 0.3, "arpu": 50.0, "clv": 900.0,
           "monthly_revenue": 350.0, "revenue_at_risk": 80.0, "cac": 200.0, "clv_cac": 4.5,
           "payback_months": 6.7, "mean_risk": 0.25, "outliers": 1}
    colours = segment_colours(["A"])
    shows = {"revenue": True, "acquisition": True, "currency": "CHF", "customers": "accounts"}
    table = segment_table([row], colours, shows)
    assert _headers(table) == ["Segment", "Accounts", "Have left", *MONEY_HEADERS, "CAC",
                               "CLV:CAC", "Payback", "Churn risk (model)", "Outliers"]
    text = _text(table)
    assert "CHF 900" in text and "CHF 200" in text and "4.5×" in text and "6.7 mo" in text
    assert "Money in CHF." in text and "active accounts" in text
    bare = segment_table([row], colours, {**shows, "revenue": False, "acquisition": False})
    assert _headers(bare) == ["Segment", "Accounts", "Have left", "Churn risk (model)",
                              "Outliers"]
    assert "Money" not in _text(bare) and "CHF" not in _text(bare)
