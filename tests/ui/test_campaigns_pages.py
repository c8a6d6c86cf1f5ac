"""Recording a campaign from the Campaign page and reading its effect on the Effectiveness
page, with callbacks called as plain functions on a real app (demo data, its own store)."""

from __future__ import annotations

import csv
import io

import plotly.graph_objects as go
import pytest

from components import campaign_record as record
from components.charts import Figure
from components.effect_charts import arms_chart, effect_chart, qini_chart
from dashboard import create_app
from dashboard.errors import ClientError
from dashboard.services import CONFIG_KEY
from dashboard.settings import Settings
from tests.ui.conftest import DEMO_SIZE, find, walk


@pytest.fixture(scope="module")
def store_app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("campaign-pages")
    return create_app(Settings(demo_size=DEMO_SIZE, demo_events=False,
                               cache_dir=str(folder / "cache"),
                               db_url=f"sqlite:///{folder / 'store.db'}"),
                      progress=lambda m: None, background=True)   # as python app.py does


@pytest.fixture(scope="module", autouse=True)
def _pages(store_app):
    global page, campaign_page
    from pages import campaign as campaign_page
    from pages import effectiveness as page


@pytest.fixture
def ctx(store_app):
    with store_app.server.test_request_context():
        yield store_app.server.config[CONFIG_KEY]


def texts(component) -> str:
    return " ".join(str(c) for c in walk(component) if isinstance(c, str))


def test_layouts_build_with_no_arguments(ctx):
    assert find(page.layout(), page.CAMPAIGN_DROPDOWN) is not None
    assert find(campaign_page.layout(), record.RECORD_BUTTON) is not None


def test_readers_wait_for_a_data_loads_background_steps(tmp_path, monkeypatch):
    import threading

    from dashboard.services import Services
    from dashboard.services import refresh as service

    release, real_demo = threading.Event(), service.seed_demo_campaign

    def slow_demo(*args, **kwargs):
        release.wait(30)
        return real_demo(*args, **kwargs)

    monkeypatch.setattr(service, "seed_demo_campaign", slow_demo)
    lines: list[str] = []
    svc = Services(Settings(demo_size=DEMO_SIZE, demo_events=False,
                            cache_dir=str(tmp_path / "cache"),
                            db_url=f"sqlite:///{tmp_path / 'store.db'}")).start(
        progress=lines.append, checks=False, background=True)
    assert svc.analysis is not None and not svc.campaigns.settle(0.3)  # served already
    seen: list = []
    reader = threading.Thread(target=lambda: seen.append(svc.campaigns.campaigns()))
    reader.start()
    reader.join(0.3)
    assert reader.is_alive() and not seen, "a page must not list campaigns half recorded"
    release.set()
    reader.join(30)
    assert svc.campaigns.settle(0) and [c["simulated"] for c in seen[0]] == [True]
    assert any("demo's simulated past campaign" in line for line in lines)


def test_the_demo_campaign_is_listed_and_measured(ctx):
    options, value = page._choices(None)
    simulated = [i["id"] for i in ctx.campaigns.campaigns() if i["simulated"]]
    assert len(simulated) == 1 and value == max(o["value"] for o in options)
    value = simulated[0]
    table, verdict, tiles, arms, acceptance, body_class, csv_href, _ = page.show_campaign(
        value, 0)
    assert csv_href == f"/export/campaign/{value}/csv"
    assert body_class == ""
    report = ctx.campaigns.report(value)
    e = report["effect"]
    assert e["n_treatment"] + e["n_control"] == DEMO_SIZE // 2
    assert texts(verdict).startswith(e["verdict"][:30])
    shown = texts(tiles)
    assert f"{100 * e['uplift']:+.1f} pts" in shown
    assert isinstance(arms, Figure) and len(arms.data) == 1
    fig = page.show_effect_by(value, "tier", 0)
    assert set(fig.data[0].y) <= {"High", "Medium", "Low"}
    decile = page.show_effect_by(value, "risk decile", 0)
    assert len(decile.data[0].y) >= 5


def test_record_a_campaign_from_the_selection(ctx):
    preview = campaign_page.preview_record({"tier": ["High"]}, 120, 20, 42, False)
    text = texts(preview)
    assert "to contact" in text and "held out" in text and "points or more" in text
    result = campaign_page.record_campaign(1, "December save desk", {"tier": ["High"]}, 120,
                                           20, 42, False)
    done = texts(result)
    assert "Recorded campaign" in done and "seed 42" in done
    item = next(i for i in ctx.campaigns.campaigns() if i["name"] == "December save desk")
    assert item["members"] <= 120 and item["control"] == round(0.2 * item["members"])
    assert item["seed"] == 42
    client = ctx.campaigns  # the export never lists the control group
    note, frame = client.treatment_list(item["id"])
    assert len(frame) == item["members"] - item["control"]
    assert "must not be contacted" in note


def test_a_campaign_needs_a_name(ctx):
    result = campaign_page.record_campaign(1, "  ", {}, None, 10, 1, False)
    assert "name" in texts(result)


def test_the_export_route_serves_only_the_treatment_arm(store_app, ctx):
    item = ctx.campaigns.campaigns()[0]
    answer = store_app.server.test_client().get(f"/export/campaign/{item['id']}/csv")
    assert answer.status_code == 200
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert "held out" in rows[0][0] and rows[1][0] == "customer_id"
    assert len(rows) - 2 == item["members"] - item["control"]
    missing = store_app.server.test_client().get("/export/campaign/99999/csv")
    assert missing.status_code == 404 and b"no campaign 99999" in missing.data


def test_uplift_study_button(ctx):
    demo = next(i["id"] for i in ctx.campaigns.campaigns() if i["simulated"])
    summary, fig, style = page.fit_uplift(1, demo)
    assert style.get("display") != "none"
    study = ctx.campaigns.uplift_study(demo)
    assert study["error"] is None and study["n"] == DEMO_SIZE // 2
    assert f"{study['uplift']['qini_coefficient']:,.1f}" in texts(summary)
    assert len(fig.data) == 3


def test_figure_builders_validate_strictly():
    report = {"arm_rates": [
        {"arm": "treatment", "label": "Treated", "n": 100, "rate": 0.2, "low": 0.13,
         "high": 0.29},
        {"arm": "control", "label": "Held out", "n": 30, "rate": 0.3, "low": 0.17,
         "high": 0.48}]}
    rows = [{"group": "High", "uplift": 0.1, "low": -0.02, "high": 0.2, "n_treatment": 50,
             "n_control": 12, "enough": False}]
    study = {"curves": {"x": [0, 0.5, 1], "uplift": [0, 5, 6], "risk": [0, 3, 6],
                        "random": [0, 3, 6]}}
    for fig in (arms_chart(report), effect_chart(rows, 0.05, "t"), qini_chart(study)):
        go.Figure(fig.to_dict())  # strict validation


def test_active_customers_ranked_by_predicted_uplift(store_app, ctx):
    demo = next(i["id"] for i in ctx.campaigns.campaigns() if i["simulated"])
    answer = store_app.server.test_client().get(f"/export/uplift/{demo}/csv")
    assert answer.status_code == 200
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert "predicted uplift" in rows[0][0] and rows[1][:2] == ["customer_id",
                                                               "predicted_uplift"]
    uplift = [float(r[1]) for r in rows[2:]]
    assert len(uplift) == int(ctx.analysis.customers["active"].sum())
    assert uplift == sorted(uplift, reverse=True)


def test_a_campaign_limited_to_some_offers(ctx):
    offers = [o["value"] for o in ctx.campaigns.offer_options()]
    assert offers == [o.id for o in ctx.catalogue.offers]
    everyone = ctx.campaigns.preview({}, None, 0.1, 1, True)
    common = sorted(everyone["offers"], key=lambda o: -everyone["offers"][o])
    chosen = [o for o in common if o in offers][:2]
    some = ctx.campaigns.preview({}, None, 0.1, 1, True, chosen)
    assert 0 < some["members"] < everyone["members"]
    assert set(some["offers"]) <= set(chosen)
    made = campaign_page.record_campaign(1, "Two offers only", {}, None, 10, 1, True, chosen)
    assert "Recorded campaign" in texts(made)
    item = next(i for i in ctx.campaigns.campaigns() if i["name"] == "Two offers only")
    assert set(item["offers"]) <= set(chosen) and item["target"]["offers"] == chosen


FORGED = ["abc", "", [], [1], {}, {"a": 1}, True, None, 1e308, -1, 2 ** 64, float("nan"),
          "1e999", ["x", {"y": 1}]]


def test_the_new_callbacks_take_any_forged_value_without_an_exception(ctx):
    calls = [(page.show_campaign, 2), (page.show_effect_by, 3), (page.use_measured, 2),
             (page.import_outcomes, 3), (campaign_page.preview_record, 6),
             (campaign_page.record_campaign, 8)]
    for func, arity in calls:
        for position in range(arity):
            for value in FORGED:
                args = [None] * arity
                args[position] = value
                try:
                    func(*args)
                except ClientError:
                    pass  # answered with a 4xx, as meant; any other exception is a 500
