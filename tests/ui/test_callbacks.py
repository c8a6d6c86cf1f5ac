"""Callbacks called as plain functions, as Dash would call them."""

from __future__ import annotations

from dash import no_update

import pytest

from components.charts import MUTED
from dashboard import ids, shell
from tests.ui.conftest import DEMO_SIZE, call_with_trigger, walk


@pytest.fixture(autouse=True, scope="module")
def _pages(app):
    """Pages register themselves with the app, so they are imported after it exists."""
    global overview, data_page
    from pages import data as data_page
    from pages import overview


def _kpis(result) -> dict[str, str]:
    """Tile value id -> the text shown (the callback's first output is the tile row)."""
    return {t.id: t.children for t in walk(result[0]) if isinstance(getattr(t, "id", None), str)}


def _graphs(result) -> dict:
    """Graph id -> figure, from the callback's outputs after the tiles and the note."""
    return dict(zip([overview.TENURE_GRAPH, *overview.DRIVER_GRAPHS, overview.TIER_GRAPH],
                    result[2:]))


def test_overview_kpis_react_to_filters(in_app):
    everyone = _kpis(overview.update_overview({}))
    assert everyone[overview.CUSTOMERS_KPI] == f"{DEMO_SIZE:,}"
    assert everyone[overview.KPI_IDS["arpu"]].startswith("$")
    monthly = _kpis(overview.update_overview({"Contract": ["Month-to-month"]}))
    n_monthly = int(monthly[overview.CUSTOMERS_KPI].replace(",", ""))
    assert 0 < n_monthly < DEMO_SIZE
    # Month-to-month customers churn far more than average.
    rate = float(everyone[overview.CHURN_KPI].rstrip("%"))
    assert float(monthly[overview.CHURN_KPI].rstrip("%")) > rate


def test_overview_figures_show_the_selection(in_app):
    result = overview.update_overview({"Contract": ["Two year"]})
    graphs = _graphs(result)
    # The demo's pinned drivers, in the config's order, after the tenure bands.
    titles = [graphs[g].layout.title.text for g in overview.DRIVER_GRAPHS]
    assert titles == ["Churn rate by contract", "Churn rate by internet service",
                      "Churn rate by payment method"]
    assert graphs[overview.TENURE_GRAPH].layout.title.text == "Churn rate by tenure band"
    contract_fig = graphs[overview.DRIVER_GRAPHS[0]]
    bars = contract_fig.data[0]
    # The drilled chart keeps the other groups for context, the chosen one highlighted.
    assert set(bars.y) == {"Month-to-month", "One year", "Two year"}
    colours = dict(zip(bars.y, bars.marker.color))
    assert colours["Two year"] != MUTED and colours["One year"] == MUTED
    # the key names the rate and whose it is (a label over the line would run into it)
    assert "above the overall " in contract_fig.layout.title.subtitle.text
    assert "% of the other filters (dotted)" in contract_fig.layout.title.subtitle.text
    assert not contract_fig.layout.annotations
    # The other charts show only the selection.
    kpis = _kpis(result)
    n = int(kpis[overview.CUSTOMERS_KPI].replace(",", ""))
    assert sum(b["n"] for b in _rows_of(graphs[overview.DRIVER_GRAPHS[1]])) == n
    # The tier chart counts the active customers, like the tiles that say "active".
    tier_fig = graphs[overview.TIER_GRAPH]
    active = int(kpis[overview.KPI_IDS["retention_rate"] + "-sub"].split()[0].replace(",", ""))
    assert sum(tier_fig.data[0].y) == active
    assert f"{active:,} active customers" in tier_fig.layout.title.text


def _rows_of(figure):
    return [{"n": c[1]} for c in figure.data[0].customdata]


def test_overview_empty_selection_says_so(in_app):
    result = overview.update_overview({"tenure": [500, 600]})
    kpis = _kpis(result)
    assert kpis[overview.CUSTOMERS_KPI] == "–"
    assert kpis[overview.CUSTOMERS_KPI + "-sub"] == "No customers match the filters"
    assert "No customers match" in result[3].layout.annotations[0].text


def _click(graph, group, filters):
    args = [None] * (len(overview.DRIVER_GRAPHS) + 2)
    args[[*overview.DRIVER_GRAPHS, overview.TIER_GRAPH, overview.TENURE_GRAPH].index(graph)] = \
        {"points": [{"y": group, "customdata": [group, 10, 4]}]}
    return call_with_trigger(overview.drill_down, f"{graph}.clickData", *args, filters, 72)


def test_bar_click_drills_down(in_app):
    internet = overview.DRIVER_GRAPHS[1]
    out = _click(internet, "Fiber optic", {})
    assert out[1] == ["Fiber optic"] and out[0] is no_update and out[2] is no_update
    # Clicking the only selected group again clears the filter.
    out = _click(internet, "Fiber optic", {"InternetService": ["Fiber optic"]})
    assert out[1] == []
    out = _click(overview.TIER_GRAPH, "High", {})
    assert out[3] == ["High"] and out[1] is no_update


def test_tenure_band_click_sets_the_range(in_app):
    assert _click(overview.TENURE_GRAPH, "13-24 months", {})[4] == [13, 24]
    assert _click(overview.TENURE_GRAPH, "49+ months", {})[4] == [49, 72]


OPTIONS = {"drivers": [{"key": "Contract", "label": "Contract",
                        "options": ["Month-to-month", "One year"]},
                       {"key": "Payment Method", "label": "Payment method",
                        "options": ["Electronic check", "Mailed check"]}],
           "segment": [], "tier": ["High", "Medium", "Low"], "tenure_max": 72}


def test_filter_sync_url_to_widgets_and_back():
    options = OPTIONS
    # Dropdowns in the bar's order: three driver slots (the third empty here), segment, tier.
    assert shell.slot_keys(options) == ["Contract", "Payment Method", None, "segment", "tier"]
    # First load: the URL decides.
    out = shell.sync_state(None, "#tier=High", [None] * 5, [0, 72], options)
    assert out[0] is no_update and out[1] == {"tier": ["High"]} and out[6] == ["High"]
    # A widget change rewrites the store and the URL.
    out = shell.sync_state(ids.FILTER_DRIVERS[0], "", [["One year"], [], [], [], []],
                           [0, 24], options)
    assert out[1] == {"Contract": ["One year"], "tenure": [0, 24]}
    assert out[0] == "#Contract=One+year&tenure=0-24"
    # A driver with a spaced name round-trips through the URL.
    out = shell.sync_state(ids.FILTER_DRIVERS[1], "", [[], ["Electronic check"], [], [],
                                                       ["High"]], [0, 72], options)
    assert out[1] == {"Payment Method": ["Electronic check"], "tier": ["High"]}
    assert out[0] == "#Payment+Method=Electronic+check&tier=High"
    back = shell.sync_state(ids.URL, out[0], [None] * 5, [0, 72], options)
    assert back[1] == out[1] and back[3] == ["Electronic check"] and back[2] == []
    # Reset clears all.
    out = shell.sync_state(ids.FILTER_RESET, "#tier=High", [[], [], [], [], ["High"]], [0, 72],
                           options)
    assert out[:2] == ("", {}) and out[-2] == [0, 72] and out[-1] is False
    # "Include customers who have left" is in the URL and survives navigation.
    out = shell.sync_state(ids.FILTER_EVERYONE, "", [[], [], [], [], ["High"]], [0, 72],
                           options, True)
    assert out[1] == {"tier": ["High"], "everyone": True}
    assert out[0] == "#tier=High&everyone=1"
    out = shell.sync_state(ids.URL, "#tier=High&everyone=1", [None] * 5, [0, 72], options)
    assert out[1] == {"tier": ["High"], "everyone": True} and out[-1] is True
    out = shell.sync_state(ids.URL, "#tier=High", [None] * 5, [0, 72], options)
    assert out[-1] is False and "everyone" not in out[1]


def test_filter_sync_without_a_tenure_ignores_the_slider():
    options = {**OPTIONS, "tenure_max": None}
    out = shell.sync_state(ids.URL, "#tenure=0-24&tier=Low", [None] * 5, [0, 1], options)
    assert out[1] == {"tier": ["Low"]} and out[-2] == [0, 1]
    out = shell.sync_state(ids.FILTER_TENURE, "", [[], [], [], [], []], [0, 0], options)
    assert out[1] == {} and out[0] == ""


def test_filter_bar_only_on_the_pages_it_changes():
    hidden = {"display": "none"}
    for path in ("/", "/segments", "/customers", "/what-if", "/campaign"):
        assert shell.bar_styles(path)[0] == {}, path
    for path in ("/model", "/data", "/score", "/customer/0001-ABC"):
        assert shell.bar_styles(path)[0] == hidden, path
    assert shell.bar_styles("/customers")[1] == {}
    assert shell.bar_styles("/")[1] == hidden


def test_data_page_points_to_the_model_page(in_app):
    text = str(data_page.fill_data_page(0))
    assert "out-of-fold ROC-AUC" in text and "/model" in text


def test_pages_show_empty_states_when_data_failed(app, failed_services):
    from dashboard.services import CONFIG_KEY
    saved = app.server.config[CONFIG_KEY]
    app.server.config[CONFIG_KEY] = failed_services
    try:
        with app.server.test_request_context():
            result = overview.update_overview({})
            assert _kpis(result)[overview.CUSTOMERS_KPI + "-sub"] == "No data loaded"
            assert "No data loaded" in str(data_page.fill_data_page(0))
    finally:
        app.server.config[CONFIG_KEY] = saved


def test_filter_sync_keeps_only_values_this_data_has():
    # A forged widget value never reaches the store (the URL drops such values too).
    out = shell.sync_state(ids.FILTER_DRIVERS[0], "", [["One year", "Ten years", 3], [],
                                                       "Nope", [], "High"], [0, 72], OPTIONS)
    assert out[1] == {"Contract": ["One year"], "tier": ["High"]}
