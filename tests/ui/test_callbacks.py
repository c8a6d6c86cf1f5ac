"""Callbacks called as plain functions, as Dash would call them."""

from __future__ import annotations

from dash import no_update

import pytest

from components.charts import MUTED
from dashboard import ids, shell
from tests.ui.conftest import DEMO_SIZE, call_with_trigger


@pytest.fixture(autouse=True, scope="module")
def _pages(app):
    """Pages register themselves with the app, so they are imported after it exists."""
    global overview, data_page
    from pages import data as data_page
    from pages import overview


def _kpis(result):
    return dict(zip(overview.KPI_IDS, result[:6]))


def test_overview_kpis_react_to_filters(in_app):
    everyone = _kpis(overview.update_overview({}))
    assert everyone[overview.CUSTOMERS_KPI] == f"{DEMO_SIZE:,}"
    monthly = _kpis(overview.update_overview({"contract": ["Month-to-month"]}))
    n_monthly = int(monthly[overview.CUSTOMERS_KPI].replace(",", ""))
    assert 0 < n_monthly < DEMO_SIZE
    # Month-to-month customers churn far more than average.
    rate = float(everyone[overview.CHURN_KPI].rstrip("%"))
    assert float(monthly[overview.CHURN_KPI].rstrip("%")) > rate


def test_overview_figures_show_the_selection(in_app):
    result = overview.update_overview({"contract": ["Two year"]})
    contract_fig = result[12]
    bars = contract_fig.data[0]
    # The drilled chart keeps the other groups for context, the chosen one highlighted.
    assert set(bars.y) == {"Month-to-month", "One year", "Two year"}
    colours = dict(zip(bars.y, bars.marker.color))
    assert colours["Two year"] != MUTED and colours["One year"] == MUTED
    assert contract_fig.layout.title.text == "Churn rate by contract"
    assert "above the overall rate" in contract_fig.layout.title.subtitle.text
    # The other charts show only the selection.
    assert sum(b["n"] for b in _rows_of(result[14])) == int(result[0].replace(",", ""))
    # The tier chart counts the active customers, like the tiles that say "active".
    tier_fig = result[16]
    active = int(result[8].split()[0].replace(",", ""))
    assert sum(tier_fig.data[0].y) == active
    assert f"{active:,} active customers" in tier_fig.layout.title.text


def _rows_of(figure):
    return [{"n": c[1]} for c in figure.data[0].customdata]


def test_overview_empty_selection_says_so(in_app):
    result = overview.update_overview({"tenure": [500, 600]})
    assert result[0] == "–" and result[6] == "No customers match the filters"
    assert "No customers match" in result[12].layout.annotations[0].text


def test_bar_click_drills_down(in_app):
    click = {"points": [{"y": "Fiber optic", "customdata": ["Fiber optic", 10, 4]}]}
    out = call_with_trigger(overview.drill_down, f"{overview.INTERNET_GRAPH}.clickData",
                            None, click, None, None, None, {}, 72)
    assert out[1] == ["Fiber optic"] and out[0] is no_update
    # Clicking the only selected group again clears the filter.
    out = call_with_trigger(overview.drill_down, f"{overview.INTERNET_GRAPH}.clickData",
                            None, click, None, None, None, {"internet": ["Fiber optic"]}, 72)
    assert out[1] == []


def test_tenure_band_click_sets_the_range(in_app):
    click = {"points": [{"customdata": ["13-24 months", 5, 1]}]}
    out = call_with_trigger(overview.drill_down, f"{overview.TENURE_GRAPH}.clickData",
                            None, None, None, None, click, {}, 72)
    assert out[4] == [13, 24]
    click = {"points": [{"customdata": ["49+ months", 5, 1]}]}
    out = call_with_trigger(overview.drill_down, f"{overview.TENURE_GRAPH}.clickData",
                            None, None, None, None, click, {}, 72)
    assert out[4] == [49, 72]


def test_filter_sync_url_to_widgets_and_back():
    options = {"contract": ["Month-to-month", "One year"], "internet": ["DSL"], "payment": [], "segment": [],
               "tier": ["High", "Medium", "Low"], "tenure_max": 72}
    # First load: the URL decides.
    out = shell.sync_state(None, "#tier=High", [None] * 5, [0, 72], options)
    assert out[0] is no_update and out[1] == {"tier": ["High"]} and out[5] == ["High"]
    # A widget change rewrites the store and the URL.
    out = shell.sync_state(ids.FILTER_CONTRACT, "", [["One year"], [], [], [], []], [0, 24],
                           options)
    assert out[1] == {"contract": ["One year"], "tenure": [0, 24]}
    assert out[0] == "#contract=One+year&tenure=0-24"
    # Reset clears all.
    out = shell.sync_state(ids.FILTER_RESET, "#tier=High", [[], [], [], ["High"], []], [0, 72],
                           options)
    assert out[:2] == ("", {}) and out[-2] == [0, 72] and out[-1] is False
    # "Include customers who have left" is in the URL and survives navigation.
    out = shell.sync_state(ids.FILTER_EVERYONE, "", [[], [], [], ["High"], []], [0, 72],
                           options, True)
    assert out[1] == {"tier": ["High"], "everyone": True}
    assert out[0] == "#tier=High&everyone=1"
    out = shell.sync_state(ids.URL, "#tier=High&everyone=1", [None] * 5, [0, 72], options)
    assert out[1] == {"tier": ["High"], "everyone": True} and out[-1] is True
    out = shell.sync_state(ids.URL, "#tier=High", [None] * 5, [0, 72], options)
    assert out[-1] is False and "everyone" not in out[1]


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
            assert result[6] == "No data loaded"
            assert "No data loaded" in str(data_page.fill_data_page(0))
    finally:
        app.server.config[CONFIG_KEY] = saved
