"""Offers in the UI: the customer what-if, the group what-if, the campaign page and its
export, the score form and the offer columns of the list (callbacks called as functions)."""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import parse_qs, urlparse

import numpy as np
import plotly.graph_objects as go
import pytest

from dashboard.services import CONFIG_KEY
from dashboard.services.offers import scenario_from
from tests.ui.conftest import find


@pytest.fixture(scope="module", autouse=True)
def _pages(app):
    global customer_page, whatif_page, campaign_page, score_page, customers_page
    from pages import campaign as campaign_page
    from pages import customer as customer_page
    from pages import customers as customers_page
    from pages import score as score_page
    from pages import whatif as whatif_page


@pytest.fixture(scope="module")
def svc(app):
    return app.server.config[CONFIG_KEY]


def _text(component) -> str:
    """All the text a component tree shows."""
    if isinstance(component, (list, tuple)):
        return " ".join(_text(c) for c in component)
    if isinstance(component, str):
        return component
    children = getattr(component, "children", None)
    return "" if children is None else _text(children)


def _inputs(svc, id_type: str, values: dict, row: int | None = None):
    spec = svc.offers.whatif_spec(row)
    ids_ = [{"type": id_type, "feature": f["feature"]} for f in spec["actionable"]]
    ids_ += [{"type": id_type, "feature": f} for f in ("discount", "months", "other_cost")]
    current = {f["feature"]: f["current"] for f in spec["actionable"]}
    defaults = {"discount": 0, "months": 0, "other_cost": 0}
    vals = [values.get(i["feature"], current.get(i["feature"]) if row is not None else
                       defaults.get(i["feature"])) for i in ids_]
    a_ids = [{"type": f"{id_type}-assumption", "name": n}
             for n in ("margin", "acceptance", "contact_cost")]
    a_vals = [values.get("margin", 60), values.get("acceptance", 30),
              values.get("contact_cost", 5)]
    return vals, a_vals, ids_, a_ids, current


def _month_to_month_customer(svc) -> tuple[int, str]:
    c = svc.analysis.customers
    keep = ((c["Contract"] == "Month-to-month") & c["active"]).to_numpy()
    row = int(np.flatnonzero(keep)[np.argmax(c["churn_probability"].to_numpy()[keep])])
    return row, str(c["customer_id"].iloc[row])


def test_scenario_from_inputs_keeps_only_real_changes():
    ids_ = [{"feature": "Contract"}, {"feature": "TechSupport"}, {"feature": "discount"},
            {"feature": "months"}, {"feature": "other_cost"}]
    scenario = scenario_from(ids_, ["Two year", "No", 10, 6, None],
                             [{"name": "margin"}, {"name": "acceptance"},
                              {"name": "contact_cost"}], [50, 20, 3],
                             current={"Contract": "Month-to-month", "TechSupport": "No"})
    assert scenario.changes == {"Contract": "Two year"}
    assert (scenario.discount, scenario.months, scenario.one_off_cost) == (0.1, 6, 0.0)
    assert (scenario.margin, scenario.acceptance, scenario.contact_cost) == (0.5, 0.2, 3.0)


def test_customer_page_sets_up_the_what_if(in_app, svc):
    row, customer_id = _month_to_month_customer(svc)
    content, base, inputs, presets, style, button_disabled = \
        customer_page.show_customer(customer_id)
    assert base["row"] == row and base["current"]["Contract"] == "Month-to-month"
    assert style == {} and presets  # shown, with the offers this customer may take
    assert "Frozen (not actionable)" in _text(inputs)
    assert "Tenure" in _text(inputs)
    offer = svc.customer.offer_of(row)
    assert button_disabled == (offer["id"] == "none")
    hidden = customer_page.show_customer("no-such-id")
    assert hidden[4] == {"display": "none"} and "No customer with id" in _text(hidden[0])


def test_customer_what_if_lowers_the_risk_and_prices_it(in_app, svc):
    row, _ = _month_to_month_customer(svc)
    vals, a_vals, ids_, a_ids, current = _inputs(svc, customer_page.WHATIF_INPUT,
                                                 {"Contract": "Two year"}, row)
    result, figure = customer_page.simulate(vals, a_vals, ids_, a_ids,
                                            {"row": row, "current": current})
    text = _text(result)
    assert "Changed: Contract" in text and "Expected profit per contact" in text
    p1 = find(result, "customer-whatif-p1-text").children
    p0 = float(svc.analysis.customers["churn_probability"].iloc[row])
    assert float(p1.rstrip("%")) / 100 < p0
    go.Figure(figure.to_plotly_json())  # valid figure
    assert "Contract" in figure.data[0]["y"]


def test_customer_what_if_without_change_and_with_bad_input(in_app, svc):
    row, _ = _month_to_month_customer(svc)
    vals, a_vals, ids_, a_ids, current = _inputs(svc, customer_page.WHATIF_INPUT, {}, row)
    base = {"row": row, "current": current}
    result, _ = customer_page.simulate(vals, a_vals, ids_, a_ids, base)
    assert result.id == "customer-whatif-empty-text"
    bad = _inputs(svc, customer_page.WHATIF_INPUT, {"Contract": "One year", "acceptance": 150},
                  row)
    result, _ = customer_page.simulate(*bad[:4], base)
    assert result.id == "customer-whatif-error-alert"
    assert "Acceptance (%) must be between 0 and 100" in _text(result)


def test_offer_preset_fills_the_inputs(in_app, svc):
    row, _ = _month_to_month_customer(svc)
    vals, a_vals, ids_, a_ids, current = _inputs(svc, customer_page.WHATIF_INPUT, {}, row)
    inputs, assumptions = customer_page.apply_preset("upgrade_two_year", ids_, a_ids, a_vals,
                                                     {"row": row, "current": current})
    values = {i["feature"]: v for i, v in zip(ids_, inputs)}
    assert values["Contract"] == "Two year" and values["discount"] == 15
    assert values["months"] == 12 and values["PaymentMethod"] == current["PaymentMethod"]
    assert dict(zip([a["name"] for a in a_ids], assumptions))["acceptance"] == 25
    cleared, _ = customer_page.apply_preset(None, ids_, a_ids, a_vals,
                                            {"row": row, "current": current})
    assert dict(zip([i["feature"] for i in ids_], cleared))["Contract"] == "Month-to-month"


def test_group_what_if_counts_and_totals(in_app, svc):
    filters = {"Contract": ["Month-to-month"]}  # the global filters are keyed by column
    vals, a_vals, ids_, a_ids, _ = _inputs(svc, whatif_page.INPUT, {})
    empty, summary = whatif_page.simulate(vals, a_vals, filters, ids_, a_ids)
    assert empty.id == "whatif-empty-text" and "Month-to-month" in summary
    vals, a_vals, ids_, a_ids, _ = _inputs(svc, whatif_page.INPUT, {"Contract": "One year"})
    result, _ = whatif_page.simulate(vals, a_vals, filters, ids_, a_ids)
    c = svc.analysis.customers
    expected = int(((c["Contract"] == "Month-to-month") & c["active"]).sum())
    assert find(result, "whatif-affected-text").children == f"{expected:,}"
    assert "Expected churners avoided" in _text(result)


def test_campaign_page_and_its_export(in_app, app, svc):
    kpis, gains, mix, offers, href, link_class = campaign_page.update_campaign({}, 40)
    assert "disabled" not in link_class
    text = _text(kpis)
    plan = svc.offers.campaign({}, 40)["plan"]
    assert f"{plan['best_size']:,}" in text and "With capacity 40" in text
    assert plan["capacity_size"] == min(40, plan["best_size"])
    for figure in (gains, mix):
        go.Figure(figure.to_plotly_json())
    assert "Offer catalogue" in _text(offers)
    state = json.loads(parse_qs(urlparse(href).query)["state"][0])
    assert state["campaign"] == {"capacity": 40}
    response = app.server.test_client().get(href)
    assert response.status_code == 200
    assert "churnlens-campaign" in response.headers["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert "campaign list" in lines[0][0]
    header, rows = lines[1], lines[2:]
    assert len(rows) == plan["capacity_size"]
    profit = [float(r[header.index("expected_profit")]) for r in rows]
    assert profit == sorted(profit, reverse=True) and min(profit) > 0
    assert sum(profit) == pytest.approx(plan["capacity_total"], abs=0.05 * len(rows))


def test_score_form_answers_and_reports_bad_input(in_app, svc):
    spec = svc.score.spec()
    ids_ = [{"type": score_page.FIELD, "feature": f["feature"]} for f in spec]
    values = [f["default"] for f in spec]
    result = score_page.score(values, ids_)
    probability = find(result, "score-probability-text").children
    assert probability.endswith("%") and find(result, "score-offer-text") is not None
    values[[f["feature"] for f in spec].index("tenure")] = None
    alert = score_page.score(values, ids_)
    assert alert.id == "score-error-alert" and "'tenure'" in _text(alert)


def test_list_has_offer_columns_and_sorts_by_profit(in_app):
    request = {"startRow": 0, "endRow": 30,
               "sortModel": [{"colId": "expected_profit", "sort": "desc"}]}
    rows = customers_page.load_rows(request, {})["rowData"]
    profit = [r["expected_profit"] for r in rows]
    assert profit == sorted(profit, reverse=True) and profit[0] > 0
    assert rows[0]["recommended_offer"] not in ("No offer", "Not offered (left)")
    fields = [c["field"] for c in customers_page.COLUMNS]
    # What a caller acts on comes first (visible without scrolling at 1400 px).
    assert fields[:8] == ["customer_id", "churn_probability", "risk_tier", "reason_1",
                          "actionable_reason", "recommended_offer", "expected_profit",
                          "promo_code"]
    assert sum(c["width"] for c in customers_page.COLUMNS[:8]) <= 1330


@pytest.mark.parametrize("name, value, message", [
    ("acceptance", 150, "Acceptance (%) must be between 0 and 100 (got 150)"),
    ("acceptance", None, "Acceptance (%) needs a number"),
    ("margin", 0, "Margin (%) must be between 1 and 100 (got 0)"),
    ("contact_cost", -2, "Contact cost ($) must be at least 0 (got -2)"),
])
def test_what_if_inputs_are_checked_in_the_pages_units(name, value, message):
    assumptions = {"margin": 60, "acceptance": 30, "contact_cost": 5, name: value}
    a_ids = [{"name": n} for n in assumptions]
    with pytest.raises(ValueError) as error:
        scenario_from([{"feature": "Contract"}], ["Two year"], a_ids, list(assumptions.values()))
    assert str(error.value) == message


def test_customer_header_and_what_if_show_the_same_risk(in_app, svc):
    row, customer_id = _month_to_month_customer(svc)
    detail = svc.customer.detail(customer_id)
    vals, a_vals, ids_, a_ids, current = _inputs(svc, customer_page.WHATIF_INPUT, {}, row)
    empty, _ = customer_page.simulate(vals, a_vals, ids_, a_ids,
                                      {"row": row, "current": current})
    assert f"{detail['churn_probability']:.1%}" in _text(empty)


def test_group_preset_fills_the_offer_and_keeps_the_rest(in_app, svc):
    vals, a_vals, ids_, a_ids, _ = _inputs(svc, whatif_page.INPUT, {})
    inputs, assumptions = whatif_page.apply_preset("support_bundle", ids_, a_ids, a_vals)
    values = {i["feature"]: v for i, v in zip(ids_, inputs)}
    assert values["TechSupport"] == values["OnlineSecurity"] == "Yes"
    assert values["Contract"] is None  # "keep as is" for everything the offer leaves alone
    assert values["other_cost"] == 30.0 and values["discount"] == 0
    assert dict(zip([a["name"] for a in a_ids], assumptions)) == {
        "margin": 60, "acceptance": 35, "contact_cost": 5}


def test_score_form_fields_carry_their_units(svc):
    units = {f["feature"]: f.get("unit") for f in svc.score.spec() if f["kind"] == "number"}
    assert units["MonthlyCharges"] == "$ / month"
    assert units["tenure"] == "months"
    assert units["TotalCharges"] == "$"
    labels = [score_page._field(f).children[0].children for f in svc.score.spec()]
    assert "Monthly charges ($ / month)" in labels and "Tenure (months)" in labels


# --- the same pages on other data: a bank without revenue ---------------------------------

TELCO_NAMES = ("Contract", "MonthlyCharges", "PaymentMethod", "PaperlessBilling",
               "TechSupport", "OnlineSecurity", "OnlineBackup", "DeviceProtection",
               "StreamingTV", "StreamingMovies", "No internet service")
OWN_FILES = ("pages/whatif.py", "pages/campaign.py", "pages/customer.py",
             "components/whatif.py")


@pytest.fixture(scope="module")
def bank_services():
    """Services over a bank's analysis (no revenue column; NumOfProducts and IsActiveMember
    actionable as numeric ranges) with the default offer catalogue."""
    from analytics.runner import attach_recommendations
    from dashboard.services import Services
    from dashboard.settings import Settings
    from tests.analytics.test_whatif import _bank

    services = Services(Settings(cache_dir=None))
    services._load_catalogue(lambda _m: None)
    services.analysis = _bank(1500)
    attach_recommendations(services.analysis, services.catalogue, "bank", "salt")
    return services


@pytest.fixture
def on_bank(app, bank_services):
    """Callbacks run against the bank's services (the demo's are put back after)."""
    demo = app.server.config[CONFIG_KEY]
    app.server.config[CONFIG_KEY] = bank_services
    try:
        with app.server.test_request_context():
            yield bank_services
    finally:
        app.server.config[CONFIG_KEY] = demo


def _bank_customer(services) -> tuple[int, str]:
    c = services.analysis.customers
    keep = (c["active"] & (c["IsActiveMember"] == 0) & (c["NumOfProducts"] == 1)).to_numpy()
    row = int(np.flatnonzero(keep)[0])
    return row, str(c["customer_id"].iloc[row])


def test_pages_and_components_name_no_telco_column():
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    for name in OWN_FILES:
        text = (root / name).read_text()
        assert not [w for w in TELCO_NAMES if w in text], name


def test_bank_what_if_fields_come_from_the_config(on_bank):
    spec = on_bank.offers.whatif_spec()
    fields = {f["feature"]: f for f in spec["actionable"]}
    assert list(fields) == ["NumOfProducts", "IsActiveMember"]
    products = fields["NumOfProducts"]
    assert (products["kind"], products["min"], products["max"], products["step"]) == (
        "number", 1.0, 4.0, 1.0)
    assert products["label"] == "Num of products" and products["unit"] is None
    assert fields["IsActiveMember"]["label"] == "Is active member"
    assert spec["money"] == {"available": False, "reason": "needs a revenue column"}
    assert not spec["discount"]["available"] and "revenue column" in spec["discount"]["reason"]
    page = whatif_page.layout()
    number = find(page, {"type": whatif_page.INPUT, "feature": "NumOfProducts"})
    assert (number.type, number.min, number.max, number.step) == ("number", 1.0, 4.0, 1.0)
    assert number.value is None and number.placeholder == whatif_page.KEEP
    assert find(page, {"type": whatif_page.INPUT, "feature": "discount"}).disabled
    text = _text(page)
    assert "Num of products" in text and "Unavailable: a discount needs a revenue" in text
    assert not [w for w in TELCO_NAMES if w in text]
    # The catalogue's offers are all unavailable here, and say why.
    options = {o["value"]: o for o in find(page, whatif_page.PRESET_DROPDOWN).options}
    assert all(o.get("disabled") for o in options.values())
    assert options["upgrade_one_year"]["label"] == (
        "One-year contract, 10% off (unavailable: needs the column `Contract`, which this "
        "data does not have)")


def test_bank_group_what_if_shows_probabilities_and_says_money_needs_revenue(on_bank):
    vals, a_vals, ids_, a_ids, _ = _inputs(on_bank, whatif_page.INPUT, {"NumOfProducts": 2})
    result, _ = whatif_page.simulate(vals, a_vals, {}, ids_, a_ids)
    c = on_bank.analysis.customers
    expected = int((c["active"] & (c["NumOfProducts"] != 2)).sum())
    assert find(result, "whatif-affected-text").children == f"{expected:,}"
    assert find(result, "whatif-p1-text").children.endswith("%")
    assert find(result, "whatif-profit-text") is None
    note = _text(find(result, "whatif-money-note"))
    assert "needs a revenue column" in note and "[roles] revenue" in note
    assert "nan" not in _text(result).lower() and "$0" not in _text(result)
    bad = _inputs(on_bank, whatif_page.INPUT, {"NumOfProducts": 9})
    alert, _ = whatif_page.simulate(*bad[:2], {}, *bad[2:4])
    assert alert.id == "whatif-error-alert"
    assert _text(alert) == "Num of products must be between 1 and 4 in steps of 1 (got 9)"


def test_bank_customer_what_if_and_offer(on_bank):
    row, customer_id = _bank_customer(on_bank)
    content, base, inputs, presets, style, button_disabled = \
        customer_page.show_customer(customer_id)
    assert base["current"] == {"NumOfProducts": 1.0, "IsActiveMember": 0.0}
    assert style == {} and button_disabled
    assert presets and all(p.get("disabled") for p in presets)
    number = find(inputs, {"type": customer_page.WHATIF_INPUT, "feature": "IsActiveMember"})
    assert number.value == 0.0 and (number.min, number.max, number.step) == (0.0, 1.0, 1.0)
    assert "Expected profit needs a revenue column" in _text(
        find(content, "customer-offer-reason-text"))
    assert "needs the column `Contract`" in _text(find(content, "customer-unavailable-offers"))
    vals, a_vals, ids_, a_ids, current = _inputs(on_bank, customer_page.WHATIF_INPUT,
                                                 {"IsActiveMember": 1}, row)
    result, figure = customer_page.simulate(vals, a_vals, ids_, a_ids, base)
    text = _text(result)
    assert "Changed: Is active member" in text and "needs a revenue column" in text
    p1 = float(find(result, "customer-whatif-p1-text").children.rstrip("%")) / 100
    assert p1 != pytest.approx(float(on_bank.analysis.customers["churn_probability"].iloc[row]),
                               abs=1e-4)
    assert find(result, "customer-whatif-profit-text") is None
    assert "Is active member" in figure.data[0]["y"]
    with pytest.raises(Exception, match="unavailable on this data"):
        customer_page.apply_preset("upgrade_one_year", ids_, a_ids, a_vals, base)


def test_bank_campaign_shows_counts_and_how_to_add_revenue(on_bank):
    kpis, gains, mix, offers, href, link_class = campaign_page.update_campaign({}, 40)
    text = _text(kpis)
    assert href is None and "disabled" in link_class  # nothing to export: no one pays
    assert ("Expected profit needs a revenue column; add one to the data config: [roles] "
            "revenue = ") in text
    active = int(on_bank.analysis.customers["active"].sum())
    assert f"{active:,}" in text and "needs a revenue column" in _text(
        find(kpis, "campaign-best-profit-text").children) + text
    assert "$" not in text and "nan" not in text.lower()
    assert href is None
    for figure in (gains, mix):
        go.Figure(figure.to_plotly_json())
    rows = [c for c in _walk(offers) if getattr(c, "className", None) and
            "offer-unavailable" in c.className]
    assert len(rows) == 6
    contract = next(r for r in rows if r.to_plotly_json()["props"].get("data-offer")
                    == "upgrade_one_year")
    assert "needs the column `Contract`, which this data does not have" in _text(contract)


def _walk(component):
    from tests.ui.conftest import walk
    return walk(component)


def test_the_demo_is_unchanged(in_app, svc):
    spec = svc.offers.whatif_spec()
    assert [f["feature"] for f in spec["actionable"]] == [
        "Contract", "PaymentMethod", "PaperlessBilling", "OnlineSecurity", "OnlineBackup",
        "DeviceProtection", "TechSupport", "StreamingTV", "StreamingMovies"]
    assert all(f["kind"] == "category" for f in spec["actionable"])
    assert spec["money"]["available"] and spec["discount"]["available"]
    assert spec["currency"] == "$"
    assert all(o.get("disabled") is None for o in svc.offers.offer_options())
    assert svc.offers.catalogue_status() == {o.id: None for o in svc.catalogue.offers}
    _, _, _, offers, _, _ = campaign_page.update_campaign({}, None)
    assert "unavailable" not in _text(offers)
    tech = next(f for f in svc.offers.whatif_spec(_no_internet_row(svc))["actionable"]
                if f["feature"] == "TechSupport")
    assert tech["locked"] and tech["locked_note"].startswith("No internet service: stays")


def _no_internet_row(svc) -> int:
    c = svc.analysis.customers
    return int(np.flatnonzero((c["TechSupport"] == "No internet service").to_numpy())[0])
