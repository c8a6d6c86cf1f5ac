"""The Model page: every model's out-of-fold metrics, the threshold by cost, explanations."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from dashboard.services import CONFIG_KEY
from tests.ui.conftest import call_with_trigger, find


@pytest.fixture(scope="module", autouse=True)
def _page(app):
    global model_page
    from pages import model as model_page


@pytest.fixture(scope="module")
def svc(app):
    return app.server.config[CONFIG_KEY]


def test_page_lists_every_model_and_valid_figures(in_app, svc):
    out = model_page.fill_model_page(0)
    text = str(out[1])
    for label in ("CatBoost", "Logistic regression", "Random forest", "Neural network (MLP)"):
        assert label in text
    assert "±" in text
    for figure in out:
        if isinstance(figure, go.Figure):
            go.Figure(figure.to_plotly_json())  # strictly valid
    missed, alarm = out[-2], out[-1]
    assert missed > 0 and alarm >= svc.catalogue.contact_cost
    assert "Leakage check passed" in str(out[0])
    assert "Class balance" in str(out[-4])


def test_threshold_moves_the_confusion_matrix(in_app, svc):
    low, _ = model_page.update_threshold(0.2, 1000, 50)
    high, figure = model_page.update_threshold(0.7, 1000, 50)
    tp_low = int(find(low, "model-tp-text").children.replace(",", ""))
    tp_high = int(find(high, "model-tp-text").children.replace(",", ""))
    fn_high = int(find(high, "model-fn-text").children.replace(",", ""))
    assert tp_low > tp_high and tp_high + fn_high == int(svc.analysis.cv.y.sum())
    go.Figure(figure.to_plotly_json())


def test_presets_and_cheapest_threshold(in_app, svc):
    clicked = call_with_trigger(model_page.preset_threshold,
                                '{"recall":"0.8","type":"model-recall-button"}.n_clicks',
                                [None, None, 1, None], None, 1000, 50, value=1)
    view = svc.model.threshold_view(clicked, 1000, 50)
    assert view["confusion"]["recall"] >= 0.8
    cheapest = call_with_trigger(model_page.preset_threshold, "model-cheapest-button.n_clicks",
                                 [None] * 4, 1, 1000, 50, value=1)
    assert cheapest == view["cost"]["best_threshold"]


def test_chosen_threshold_becomes_the_high_tier_cut_off(in_app, svc):
    before = svc.analysis.settings
    try:
        message = model_page.apply_tier(1, 0.4)
        assert "0.40" in str(message)
        c = svc.analysis.customers
        high = c["risk_tier"] == "High"
        assert (c.loc[high, "churn_probability"] >= 0.4).all()
        assert (c.loc[~high, "churn_probability"] < 0.4).all()
        assert svc.overview.view({})["kpis"]["high_risk_active"] == int(
            (high & c["active"]).sum())
        model_page.apply_tier(1, 0.2)  # below Medium's 0.25: Medium becomes half of it
        assert (svc.analysis.settings.tier_high, svc.analysis.settings.tier_medium) == (0.2, 0.1)
        assert set(svc.analysis.customers["risk_tier"].unique()) == {"High", "Medium", "Low"}
    finally:
        svc.set_tier_high(before.tier_high, before.tier_medium)
    assert svc.analysis.settings == before


def test_dependence_and_churn_by_feature(in_app):
    go.Figure(model_page.update_dependence("tenure", "Contract").to_plotly_json())
    go.Figure(model_page.update_dependence("Contract", "MonthlyCharges").to_plotly_json())
    bins = model_page.update_bins("tenure")
    assert len(bins.data[0]["y"]) >= 5


def test_drift_of_a_refreshed_file(in_app, svc, tmp_path):
    from dataclasses import replace

    from analytics.demo import generate_demo
    refreshed = generate_demo(800, seed=3)
    refreshed["tenure"] = (refreshed["tenure"] * 0.3).round()
    path = tmp_path / "refreshed.csv"
    refreshed.to_csv(path, index=False)
    saved = svc.settings
    svc.settings = replace(saved, compare_path=str(path))
    svc._memo.pop("drift", None)
    try:
        drift = svc.model.drift()
        levels = {r["feature"]: r["level"] for r in drift["rows"]}
        assert drift["n"] == 800 and levels["tenure"] == "large"
        assert drift["rows"][0]["feature"] in ("tenure", "TotalCharges")
        assert "model-drift-table" in str(model_page._drift(drift))
    finally:
        svc.settings = saved
        svc._memo.pop("drift", None)
    assert "--compare" in str(model_page._drift(svc.model.drift()))
