"""The Model page: every model's out-of-fold metrics, lazy tabs, the threshold in %, the
risk-tier change (previewed, confirmed, undone, forged values refused), explanations."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import pytest
from dash import no_update

from dashboard.services import CONFIG_KEY
from dashboard.services.tiers import SETTINGS_FILE
from tests.ui.conftest import call_with_trigger, find, walk


@pytest.fixture(scope="module", autouse=True)
def _page(app):
    global model_page
    from pages import model as model_page


@pytest.fixture(scope="module")
def svc(app):
    return app.server.config[CONFIG_KEY]


@pytest.fixture
def same_tiers(svc):
    """Leave the shared app's tiers as they were, whatever the test did."""
    before = svc.analysis.settings
    yield before
    if (svc.analysis.settings.tier_high, svc.analysis.settings.tier_medium) != (
            before.tier_high, before.tier_medium):
        svc.tiers.apply(before.tier_high, before.tier_medium)
    assert svc.analysis.settings == before


def graphs(component) -> list[go.Figure]:
    return [c.figure for c in walk(component) if type(c).__name__ == "Graph"]


def settings_bytes(svc) -> bytes | None:
    path = svc.tiers.path
    return path.read_bytes() if path and path.exists() else None


def test_layout_lists_every_model_with_rates_in_percent(in_app, svc):
    page = model_page.layout()
    table = find(page, "model-metrics-table")
    text = str(table)
    for label in ("CatBoost", "Logistic regression", "Random forest", "Neural network (MLP)"):
        assert label in text
    catboost = svc.model.view()["models"]["catboost"]["metrics"]
    assert f"{100 * catboost['recall_fold_mean']:.1f}%" in text and "pts" in text
    assert "±" in text
    note = str(page)
    observed = svc.model.view()["cv"]["observed_rate"]
    assert f"Observed churn rate {100 * observed:.1f}%" in note
    assert "average out-of-fold score" in note
    assert "Leakage check passed" in str(find(page, "model-leakage-alert"))
    assert find(page, "model-missed-cost-input").value > 0
    assert find(page, "model-alarm-cost-input").value >= svc.catalogue.contact_cost
    slider = find(page, "model-threshold-slider")
    assert (slider.min, slider.max, slider.value) == (1, 99, 50)
    assert slider.marks[50] == "50%"
    assert find(page, "model-threshold-text").children.endswith("at least 50%")
    assert "Risk tiers now" in str(find(page, "model-tier-status-div"))


def test_first_paint_builds_only_the_open_tab_and_each_tab_once(in_app, svc):
    page = model_page.layout()
    divs = list(model_page.LAZY_TABS)
    # The first tab and the threshold panel come with the page; the other tabs are empty.
    assert find(page, "model-loaded-store").data == ["curves"]
    assert {c.id for c in walk(find(page, "model-curves-div"))
            if type(c).__name__ == "Graph"} == {"model-roc-graph", "model-pr-graph"}
    for tab in divs[1:]:
        assert not find(page, model_page.LAZY_TABS[tab]).children
    assert find(page, "model-bins-div").children is None
    assert find(page, "model-tp-text") is not None
    assert find(page, "model-cost-graph").figure.data               # drawn, not a placeholder
    assert all(o is no_update for o in model_page.show_tab("curves", ["curves"]))
    for tab in divs:
        out = model_page.show_tab(tab, [t for t in ("curves",) if t != tab])
        content = out[divs.index(tab)]
        assert content is not no_update and out[-1][-1] == tab
        assert all(o is no_update for k, o in zip(divs, out) if k != tab)
        for figure in graphs(content):
            go.Figure(figure.to_plotly_json())               # strictly valid
        assert all(o is no_update for o in model_page.show_tab(tab, out[-1]))  # built once
    assert "Data quality" in str(model_page.show_tab("hygiene", [])[divs.index("hygiene")])
    # The features tab is built by its own callbacks, only while it is open.
    assert model_page.update_dependence("tenure", "Contract", "curves") is no_update
    assert model_page.update_bins("tenure", "shap") is no_update


def test_few_points_and_svg_only(in_app, svc):
    figures = []
    for tab in model_page.LAZY_TABS:
        out = model_page.show_tab(tab, [])
        figures += graphs(out[list(model_page.LAZY_TABS).index(tab)])
    figures += graphs(model_page.update_dependence("tenure", "Contract", "features"))
    figures += graphs(model_page.update_dependence("Contract", "MonthlyCharges", "features"))
    figures += graphs(model_page.update_bins("tenure", "features"))
    figures.append(model_page.update_threshold(35, 1000, 50)[1])
    assert len(figures) >= 10
    for figure in figures:
        for trace in figure.data:
            assert trace.type != "scattergl" and "gl" not in trace.type, trace.type
            assert len(trace.x if trace.x is not None else []) <= 800
    by_id = {}
    for tab in ("curves", "shap"):
        out = model_page.show_tab(tab, [])
        for c in walk(out[list(model_page.LAZY_TABS).index(tab)]):
            if type(c).__name__ == "Graph":
                by_id[c.id] = c.figure
    for figure in (by_id["model-roc-graph"], by_id["model-pr-graph"]):
        assert all(len(t.x) <= 300 for t in figure.data)
    assert sum(len(t.x) for t in by_id["model-beeswarm-graph"].data) <= 10 * 500
    # Far fewer bytes than the 650 kB the summary alone used to send.
    assert len(json.dumps(by_id["model-beeswarm-graph"].to_plotly_json(), default=str)) < 250_000


def test_threshold_in_percent_moves_the_confusion_matrix(in_app, svc):
    low, _, _ = model_page.update_threshold(20, 1000, 50)
    high, figure, label = model_page.update_threshold(70, 1000, 50)
    tp_low = int(find(low, "model-tp-text").children.replace(",", ""))
    tp_high = int(find(high, "model-tp-text").children.replace(",", ""))
    fn_high = int(find(high, "model-fn-text").children.replace(",", ""))
    assert tp_low > tp_high and tp_high + fn_high == int(svc.analysis.cv.y.sum())
    assert label == "Flag customers with a churn risk of at least 70%"
    text = str(high)
    assert "have a churn risk of at least 70% today" in text and "cheapest at " in text
    p = svc.analysis.customers["churn_probability"]
    active = svc.analysis.customers["active"].astype(bool)
    assert find(high, "model-flagged-text").children == f"{int(((p >= 0.7) & active).sum()):,}"
    assert figure.layout.xaxis.tickformat == ".0%"
    go.Figure(figure.to_plotly_json())
    for forged in ("abc", None, 500, float("nan")):
        assert model_page.update_threshold(forged, 1000, 50) == (no_update,) * 3


def test_presets_and_cheapest_threshold_move_the_slider_in_percent(in_app, svc):
    clicked = call_with_trigger(model_page.preset_threshold,
                                '{"recall":"0.8","type":"model-recall-button"}.n_clicks',
                                [None, None, 1, None], None, 1000, 50, value=1)
    assert isinstance(clicked, int) and 1 <= clicked <= 99
    view = svc.model.threshold_view(clicked / 100, 1000, 50)
    assert view["confusion"]["recall"] >= 0.8
    cheapest = call_with_trigger(model_page.preset_threshold, "model-cheapest-button.n_clicks",
                                 [None] * 4, 1, 1000, 50, value=1)
    assert cheapest == round(100 * view["cost"]["best_threshold"])


def test_the_tier_change_is_previewed_confirmed_and_undone(in_app, svc, same_tiers):
    c = svc.analysis.customers
    is_open, body, pending, disabled = call_with_trigger(
        model_page.open_tier_dialog, "model-apply-tier-button.n_clicks", 1, None, None, 40,
        value=1)
    assert is_open and not disabled and pending == {"high": 0.4, "medium": 0.25}
    active = c["active"].astype(bool)
    high_after = int(((c["churn_probability"] >= 0.4) & active).sum())
    assert find(body, "model-tier-preview-high-active").children == f"{high_after:,}"
    assert "from a churn risk of 50% to 40%" in str(body) and "Medium stays at 25%" in str(body)
    assert svc.analysis.settings.tier_high == 0.5             # only a preview so far

    closed = call_with_trigger(model_page.open_tier_dialog, "model-tier-cancel-button.n_clicks",
                               1, 1, None, 40, value=1)
    assert closed[0] is False and svc.analysis.settings.tier_high == 0.5

    alert, status, undo_disabled = call_with_trigger(
        model_page.change_tiers, "model-tier-confirm-button.n_clicks", 1, None, pending,
        value=1)
    assert alert.color == "success" and "from a churn risk of 50% to 40%" in str(alert)
    assert svc.analysis.settings.tier_high == 0.4 and not undo_disabled
    high = c["risk_tier"] == "High"
    assert (c.loc[high, "churn_probability"] >= 0.4).all()
    assert svc.overview.view({})["kpis"]["high_risk_active"] == int((high & c["active"]).sum())
    assert "High ≥ 40%, Medium ≥ 25%" in str(find(status, "model-tier-current-text"))
    history = find(status, "model-tier-history-table")
    assert history is not None and "High ≥ 50%" in str(history)
    saved = json.loads(svc.tiers.path.read_text())
    assert saved["datasets"][svc.tiers.dataset_key()]["tiers"]["high"] == 0.4

    alert, status, undo_disabled = call_with_trigger(
        model_page.change_tiers, "model-tier-undo-button.n_clicks", 1, 1, pending, value=1)
    assert alert.color == "info" and "Undone" in str(alert)
    assert svc.analysis.settings.tier_high == 0.5
    assert "High ≥ 50%" in str(find(status, "model-tier-current-text"))


def test_medium_becomes_half_of_a_high_cut_off_below_it(in_app, svc, same_tiers):
    _, body, pending, _ = call_with_trigger(
        model_page.open_tier_dialog, "model-apply-tier-button.n_clicks", 1, None, None, 20,
        value=1)
    assert pending == {"high": 0.2, "medium": 0.1} and "Medium moves from 25% to 10%" in str(body)
    call_with_trigger(model_page.change_tiers, "model-tier-confirm-button.n_clicks", 1, None,
                      pending, value=1)
    assert (svc.analysis.settings.tier_high, svc.analysis.settings.tier_medium) == (0.2, 0.1)
    assert set(svc.analysis.customers["risk_tier"].unique()) == {"High", "Medium", "Low"}


@pytest.mark.parametrize("forged", [{"high": 5}, {"high": "abc"}, {"high": 0.4, "medium": 0.9},
                                    {"high": None}, None, "0.4", {"high": float("inf")}])
def test_a_forged_confirmation_is_refused_and_changes_nothing(in_app, svc, same_tiers, forged):
    stored, tiers = settings_bytes(svc), svc.analysis.customers["risk_tier"].copy()
    alert, _, _ = call_with_trigger(model_page.change_tiers,
                                    "model-tier-confirm-button.n_clicks", 1, None, forged,
                                    value=1)
    assert alert.color == "danger" and "nothing was changed" in str(alert)
    assert settings_bytes(svc) == stored
    assert svc.analysis.settings == same_tiers
    assert (svc.analysis.customers["risk_tier"] == tiers).all()


@pytest.mark.parametrize("forged", [500, "abc", None, -3])
def test_a_forged_threshold_is_refused_in_the_dialog(in_app, svc, forged):
    is_open, body, pending, disabled = call_with_trigger(
        model_page.open_tier_dialog, "model-apply-tier-button.n_clicks", 1, None, None, forged,
        value=1)
    assert is_open and disabled and pending is None
    assert body.color == "danger" and "nothing was changed" in str(body)


def test_the_same_cut_off_offers_nothing_to_confirm(in_app, svc):
    _, body, _, disabled = call_with_trigger(
        model_page.open_tier_dialog, "model-apply-tier-button.n_clicks", 1, None, None, 50,
        value=1)
    assert disabled and "nothing would change" in str(body)


def test_the_settings_file_sits_beside_the_cache(svc):
    assert svc.tiers.path.name == SETTINGS_FILE
    assert str(svc.tiers.path.parent) == svc.settings.cache_dir


def test_dependence_and_churn_by_feature(in_app, svc):
    for feature, colour in (("tenure", "Contract"), ("Contract", "MonthlyCharges")):
        (figure,) = graphs(model_page.update_dependence(feature, colour, "features"))
        go.Figure(figure.to_plotly_json())
    (bins,) = graphs(model_page.update_bins("tenure", "features"))
    assert len(bins.data[0]["y"]) >= 5
    observed = svc.model.view()["cv"]["observed_rate"]
    assert f"observed churn rate {100 * observed:.1f}%" in bins.layout.title.subtitle.text
    for forged in (None, "no-such-column", ["tenure"]):      # refused, not a server error
        (figure,) = graphs(model_page.update_dependence(forged, "Contract", "features"))
        assert "Choose a feature" in str(figure.layout.annotations[0].text)
        (figure,) = graphs(model_page.update_bins(forged, "features"))
        assert "Choose a feature" in str(figure.layout.annotations[0].text)


def test_drift_of_a_refreshed_file(in_app, svc, tmp_path):
    from dataclasses import replace

    from analytics.demo import generate_demo
    from components.model_panels import drift_panel
    refreshed = generate_demo(800, seed=3)
    refreshed["tenure"] = (refreshed["tenure"] * 0.3).round()
    path = tmp_path / "refreshed.csv"
    refreshed.to_csv(path, index=False)
    saved = svc.settings
    svc.settings = replace(saved, compare_path=str(path))
    svc._memo.pop("drift:{}", None)
    try:
        drift = svc.model.drift()
        levels = {r["feature"]: r["level"] for r in drift["rows"]}
        assert drift["n"] == 800 and levels["tenure"] == "large"
        assert drift["rows"][0]["feature"] in ("tenure", "TotalCharges")
        panel = str(drift_panel(drift))
        assert "model-drift-table" in panel and "the model's average score" in panel
    finally:
        svc.settings = saved
        svc._memo.pop("drift:{}", None)
    assert "--compare" in str(drift_panel(svc.model.drift()))
