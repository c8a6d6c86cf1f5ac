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
    filters = {"contract": ["Month-to-month"]}
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
    kpis, gains, mix, offers, href = campaign_page.update_campaign({}, 40)
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
