"""The global filters and the Overview follow the data: a bank's analysis (no revenue, a
tenure, no id, an acquisition cost column, a driver with a spaced name), the same without a
tenure, and the demo with an acquisition cost. The app is the suite's one app, served the
other data the way a dataset switch does (its analysis replaced)."""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from dataclasses import replace
from urllib.parse import quote

import numpy as np
import pytest

from analytics.dataset import ACQUISITION, ACTIVE, TENURE
from analytics.pipeline import CLV, TIER, AnalysisSettings, analyse
from dashboard import ids, shell
from dashboard.services import CONFIG_KEY, Services
from dashboard.services.customers import ExportRequestError
from dashboard.settings import Settings
from tests.ui.conftest import walk

N = 2000
SPACED = "Number of products"
ODD = "Área/zone"


@pytest.fixture(scope="module")
def bank():
    """A bank's analysis read through an inferred config: no revenue, tenure in years, rows
    numbered (no id), what each customer cost to win in a column."""
    from analytics.data.inspect import inspect_frame
    from analytics.data.layouts import generate_bank
    from analytics.dataset import build_table

    frame = generate_bank(N, seed=1).rename(columns={"NumOfProducts": SPACED,
                                                     "Geography": ODD})
    frame["Acquisition cost"] = np.round(np.random.default_rng(0).uniform(50, 250, N), 2)
    config = inspect_frame(frame, "bank.csv").config
    config = replace(config, id_column=None, acquisition_cost_column="Acquisition cost",
                     drop_columns=(*config.drop_columns, "CustomerId"))
    return analyse(build_table(frame, config, "bank.csv"),
                   AnalysisSettings(n_splits=2, baselines=()), progress=lambda _m: None)


def _services(analysis) -> Services:
    services = Services(Settings(cache_dir=None))
    services.analysis = analysis
    return services


def _without(analysis, column: str, **config):
    """The same analysis without a meta column (as data without it would be read)."""
    customers = analysis.customers.copy()
    customers[column] = np.nan
    if column == ACQUISITION:
        customers = customers.drop(columns=[ACQUISITION])
    return replace(analysis, customers=customers, config=replace(analysis.config, **config))


@contextmanager
def serving(app, services):
    """Callbacks and requests run on the analysis of `services`, switched in as
    `Services.switch` does (the app's analysis put back after)."""
    svc = app.server.config[CONFIG_KEY]
    saved = svc.analysis

    def switch(analysis):
        svc.analysis = analysis
        svc._arrays.clear()   # as Services.switch: every per-analysis cache goes
        svc.invalidate()

    switch(services.analysis)
    try:
        with app.server.test_request_context():
            yield svc
    finally:
        switch(saved)


@pytest.fixture(autouse=True, scope="module")
def _pages(app):
    global overview
    from pages import overview


def _labels(component) -> list[str]:
    return [c.children for c in walk(component) if type(c).__name__ == "Label"]


def _texts(component) -> str:
    return " ".join(c for c in walk(component) if isinstance(c, str))


# ----- the filter bar ---------------------------------------------------------------------


def test_the_filter_slots_show_the_banks_drivers(app, bank):
    svc = _services(bank)
    options = svc.filter_options()
    drivers = {d["key"]: d for d in options["drivers"]}
    # The three features the model leans on most (tenure has its own slider).
    assert list(drivers) == ["Age", SPACED, "IsActiveMember"]
    assert [d["label"] for d in drivers.values()] == ["Age", "Number of products",
                                                      "Is active member"]
    # Age in four quantile bands with round edges; few-valued numbers by value.
    age = drivers["Age"]["options"]
    assert len(age) == 4 and age[0].startswith("< ") and age[-1].startswith("≥ ")
    assert all(re.fullmatch(r"\d+–\d+", band) for band in age[1:-1]), age
    assert drivers[SPACED]["options"] == ["1", "2", "3", "4"]
    assert drivers["IsActiveMember"]["options"] == ["0", "1"]
    assert options["tenure_max"] == int(np.ceil(bank.customers[TENURE].max()))
    with serving(app, svc):
        page = app.layout()   # a function: the current data's bar on every page load
    assert _labels(page)[:6] == ["Age", "Number of products", "Is active member", "Segment",
                                 "Risk tier", "Tenure (months)"]


def test_pinned_drivers_and_reserved_names(bank):
    pinned = replace(bank, config=replace(bank.config, drivers=(ODD, "Age")))
    options = _services(pinned).filter_options()
    assert [d["key"] for d in options["drivers"]] == [ODD, "Age"]
    assert options["drivers"][0]["options"] == ["France", "Germany", "Spain"]
    # A column named like a reserved filter key gets no filter (the next one takes its slot).
    renamed = replace(bank, customers=bank.customers.rename(columns={"Age": "tier"}),
                      numeric=["tier" if c == "Age" else c for c in bank.numeric])
    assert _services(renamed).drivers() == [SPACED, "IsActiveMember", ODD]


def _sync_body(app, changed: str, values: dict) -> dict:
    """The filter-sync callback's request as the renderer sends it after `changed` moved."""
    key = next(k for k in app.callback_map if f"{ids.FILTERS_STORE}.data" in k)
    outputs = []
    for part in (p for p in key.strip(".").split("...") if p):
        cid, _, prop = part.rpartition(".")
        outputs.append({"id": cid, "property": prop.split("@")[0]})
    inputs = [{"id": i["id"], "property": i["property"],
               "value": values.get(i["id"], None)} for i in app.callback_map[key]["inputs"]]
    return {"output": key, "outputs": outputs, "inputs": inputs, "state": [],
            "changedPropIds": [f"{changed}.value"]}


def test_a_spaced_driver_round_trips_through_the_url(app, client, bank):
    svc = _services(bank)
    slot = ids.FILTER_DRIVERS[1]   # "Number of products"
    with serving(app, svc):
        body = _sync_body(app, slot, {slot: ["1", "2"], ids.FILTER_TENURE: [0, 4],
                                      ids.FILTER_DRIVERS[0]: [], ids.FILTER_EVERYONE: False})
        response = client.post("/_dash-update-component", json=body)
        assert response.status_code == 200, response.get_data()[:300]
        answer = response.get_json()["response"]
        url_hash = answer[ids.URL]["hash"]
        store = answer[ids.FILTERS_STORE]["data"]
        assert store == {SPACED: ["1", "2"], "tenure": [0, 4]}
        assert url_hash == "#Number+of+products=1&Number+of+products=2&tenure=0-4"
        # Back from the URL (load, Back): the same filters and the slot's value.
        out = shell.sync_state(ids.URL, url_hash, [None] * 5, [0, 10], svc.filter_options())
        assert out[1] == store and out[3] == ["1", "2"] and out[-2] == [0, 4]
    # A pinned driver with a non-ASCII name and a slash; the navbar in the data's words.
    pinned = _services(replace(bank, config=replace(bank.config, drivers=(ODD,),
                                                    customer_word="account")))
    with serving(app, pinned):
        text = shell.encode_filters({ODD: ["Spain"]})
        assert text == "#%C3%81rea%2Fzone=Spain"
        assert shell.decode_filters(text, pinned.filter_options()) == {ODD: ["Spain"]}
        nav = next(k for k in app.callback_map if ids.FILTER_SUMMARY in k)
        count = app.callback_map[nav]["callback"].__wrapped__({ODD: ["Spain"]}, [])[1]
        n = int((bank.customers[ODD] == "Spain").sum())
        assert count == f"{n:,} of {N:,} accounts selected"


def _band_rule(label: str):
    """A band label as a pandas condition, read independently of the code that made it."""
    number = lambda text: float(text.replace(",", ""))  # noqa: E731
    if label.startswith("< "):
        return lambda x: x < number(label[2:])
    if label.startswith("≥ "):
        return lambda x: x >= number(label[2:])
    lo, hi = label.split("–")
    return lambda x: (x >= number(lo)) & (x < number(hi))


def test_mask_counts_equal_pandas(bank):
    svc = _services(bank)
    c = bank.customers
    options = {d["key"]: d["options"] for d in svc.filter_options()["drivers"]}
    for band in options["Age"]:
        assert svc.mask({"Age": [band]}).sum() == _band_rule(band)(c["Age"]).sum(), band
    assert sum(svc.mask({"Age": [b]}).sum() for b in options["Age"]) == N
    filters = {"Age": options["Age"][1:3], SPACED: ["1", "3"], "tier": ["High", "Medium"],
               "tenure": [2, 7]}
    expected = ((_band_rule(options["Age"][1])(c["Age"]) | _band_rule(options["Age"][2])(
        c["Age"])) & c[SPACED].isin([1, 3]) & c[TIER].isin(["High", "Medium"])
        & c[TENURE].between(2, 7))
    assert svc.mask(filters).sum() == expected.sum() > 0
    assert (svc.mask(filters) == expected.to_numpy()).all()


def test_bad_driver_filters_are_refused_and_ignored_in_urls(bank):
    svc = _services(bank)
    for filters, words in (({"Age": ["< 1"]}, "unknown value"), ({"age": ["< 31"]},
                           "unknown filter"), ({SPACED: "1"}, "list of values"),
                           ({"Contract": ["One year"]}, "unknown filter")):
        with pytest.raises(ExportRequestError, match=words):
            svc.customers.check_filters(filters)
    assert shell.decode_filters("#Age=%3C+1&Number+of+products=9&tier=Nope",
                                svc.filter_options()) == {}


def test_exports_describe_driver_filters_by_label(app, client, bank):
    svc = _services(bank)
    note = svc.customers.describe_filters({SPACED: ["1"], "IsActiveMember": ["0"]})
    assert note.startswith("Number of products = 1; Is active member = 0")
    state = json.dumps({"filters": {SPACED: ["2"], "tenure": [0, 5]}})
    with serving(app, svc):
        response = client.get(f"/export/csv?state={quote(state)}")
        assert response.status_code == 200, response.get_data()[:200]
        first = response.get_data(as_text=True).splitlines()[0]
        response.close()
    assert "Number of products = 2" in first and "tenure 0-5 months" in first


def test_the_list_shows_the_drivers_as_columns(app, bank):
    svc = _services(bank)
    assert svc.customers.data_columns() == [
        {"field": "driver_1", "label": "Age", "kind": "number"},
        {"field": "driver_2", "label": "Number of products", "kind": "number"},
        {"field": "driver_3", "label": "Is active member", "kind": "number"}]
    page = svc.customers.grid_page({SPACED: ["2"]}, {"startRow": 0, "endRow": 10,
                                                     "sortModel": [{"colId": "driver_1",
                                                                    "sort": "asc"}]})
    ages = [r["driver_1"] for r in page["rowData"]]
    assert page["rowCount"] > 0 and ages == sorted(ages)
    assert all(r["driver_2"] == 2 for r in page["rowData"])


# ----- the Overview -----------------------------------------------------------------------


def _tiles(result) -> dict[str, str]:
    return {t.id: t.children for t in walk(result[0]) if isinstance(getattr(t, "id", None), str)}


def test_overview_without_revenue_shows_counts_not_money(app, bank):
    svc = _services(_without(bank, ACQUISITION, acquisition_cost_column=None))
    view = svc.overview.view({})
    kinds = {t["key"]: t["kind"] for t in view["tiles"]}
    assert list(kinds) == ["customers", "churn_rate", "retention_rate", "high_risk_active",
                           "expected_leavers", "avg_tenure"]
    assert not any(kind.startswith("money") for kind in kinds.values())
    assert "needs a revenue column" in " ".join(view["notes"])
    with serving(app, svc):
        result = overview.update_overview({})
        page = overview.layout()
    shown = " ".join(_tiles(result).values())
    assert "$" not in shown and "nan" not in shown.lower()
    kpis = _tiles(result)
    c = bank.customers
    active = c[ACTIVE].to_numpy(dtype=bool)
    high = int(((c[TIER] == "High").to_numpy() & active).sum())
    assert kpis[overview.KPI_IDS["high_risk_active"]] == f"{high:,}"
    expected = c["churn_probability"].to_numpy(dtype=float)[active].sum()
    assert kpis[overview.KPI_IDS["expected_leavers"]] == f"{expected:,.0f}"
    assert kpis[overview.KPI_IDS["avg_tenure"]] == f"{c[TENURE][active].mean():,.1f} mo"
    assert "needs a revenue column" in result[1].children
    # Charts: one per driver, titled by the driver. The tenure bands (0-12 months, 13-24...)
    # would hold everyone in one band (the bank's tenure runs 0-10), so that chart is left out.
    titles = [f.layout.title.text for f in result[3:6]]
    assert titles == ["Churn rate by age", "Churn rate by number of products",
                      "Churn rate by is active member"]
    assert svc.overview.charts()["tenure"] is None
    assert result[2].layout.annotations[0].text == "No tenure bands in this data"
    assert "Revenue at risk is" not in _texts(page)


def test_cac_tiles_with_an_acquisition_cost(app, bank, svc):
    # The bank: CAC from its column; CLV:CAC and payback need a revenue it does not have.
    tiles = {t["key"]: t for t in _services(bank).overview.view({})["tiles"]}
    active = bank.customers[ACTIVE].to_numpy(dtype=bool)
    cac = bank.customers["acquisition_cost"].to_numpy()[active].mean()
    assert tiles["cac"]["value"] == pytest.approx(cac)
    assert tiles["clv_cac"]["value"] is None and tiles["payback_months"]["value"] is None
    assert tiles["clv_cac"]["sub"] == "needs a revenue column" and tiles["clv_cac"]["muted"]
    # The demo (with revenue) given a cost per customer: all three, from their definitions.
    demo = svc.analysis
    costs = np.random.default_rng(3).uniform(100, 400, len(demo.customers))
    priced = replace(demo, customers=demo.customers.assign(acquisition_cost=costs),
                     config=replace(demo.config, currency="€"))
    priced_svc = _services(priced)
    view = priced_svc.overview.view({"tier": ["High"]})
    tiles = {t["key"]: t for t in view["tiles"]}
    c = priced.customers
    keep = c[ACTIVE].to_numpy(dtype=bool) & (c[TIER] == "High").to_numpy()
    cac = costs[keep].mean()
    arpu = c["monthly_charges"].to_numpy()[keep].mean()
    clv = np.nanmean(c[CLV].to_numpy()[keep])
    assert tiles["cac"]["value"] == pytest.approx(cac)
    assert tiles["clv_cac"]["value"] == pytest.approx(clv / cac, rel=1e-5)
    assert tiles["payback_months"]["value"] == pytest.approx(
        cac / (arpu * priced.settings.margin), rel=1e-5)
    with serving(app, priced_svc):
        shown = _tiles(overview.update_overview({"tier": ["High"]}))
    assert shown[overview.KPI_IDS["cac"]] == f"€{cac:,.0f}"
    assert shown[overview.KPI_IDS["arpu"]] == f"€{arpu:,.2f}"
    assert shown[overview.KPI_IDS["clv_cac"]].endswith("×")
    assert shown[overview.KPI_IDS["payback_months"]].endswith(" mo")


def test_without_a_tenure_there_is_no_slider_nor_tenure_chart(app, bank):
    svc = _services(_without(bank, TENURE, tenure_column=None))
    options = svc.filter_options()
    assert options["tenure_max"] is None
    with pytest.raises(ExportRequestError, match="unknown filter"):
        svc.customers.check_filters({"tenure": [0, 5]})
    assert shell.decode_filters("#tenure=0-5&tier=High", options) == {"tier": ["High"]}
    assert svc.overview.charts()["tenure"] is None
    keys = [t["key"] for t in svc.overview.view({})["tiles"]]
    assert "medium_risk_active" in keys and "avg_tenure" not in keys
    assert keys[-3:] == ["cac", "clv_cac", "payback_months"]
    with serving(app, svc):
        page = app.layout()
        result = overview.update_overview({})
        overview_page = overview.layout()
    assert "Tenure (months)" not in _labels(page)
    assert _labels(page)[3:5] == ["Segment", "Risk tier"]
    assert result[2].layout.annotations[0].text == "No tenure bands in this data"
    hidden = [c for c in walk(overview_page) if getattr(c, "style", None) == {"display": "none"}
              and any(getattr(g, "id", None) == overview.TENURE_GRAPH for g in walk(c))]
    assert hidden, "the tenure chart's card is hidden"
    assert [f.layout.title.text for f in result[3:6]][0] == "Churn rate by age"


def test_the_model_page_cost_curve_says_its_missed_cost_is_a_placeholder(bank):
    svc = _services(_without(bank, ACQUISITION, acquisition_cost_column=None))
    defaults = svc.model.view()["defaults"]
    assert np.isnan(bank.customers[CLV]).all()  # no revenue: no lifetime value
    assert defaults["missed_cost"] == 20 * defaults["false_alarm_cost"] > 0
    assert "placeholder" in defaults["missed_note"]
