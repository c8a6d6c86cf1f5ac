"""The customers list as the grid and the export links use it."""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import parse_qs, urlparse

import pytest

from dashboard.services import CONFIG_KEY
from tests.ui.conftest import DEMO_SIZE, find


@pytest.fixture(scope="module", autouse=True)
def _pages(app):
    global customers_page, customer_page
    from pages import customer as customer_page
    from pages import customers as customers_page


def test_first_block_is_the_riskiest(in_app):
    out = customers_page.load_rows({"startRow": 0, "endRow": 100}, {})
    svc = in_app.server.config[CONFIG_KEY]
    active = int(svc.analysis.customers["active"].sum())
    # The default list holds the customers a team can still keep: the active ones.
    assert out["rowCount"] == active < DEMO_SIZE and len(out["rowData"]) == 100
    assert {r["status"] for r in out["rowData"]} == {"active"}
    probs = [r["churn_probability"] for r in out["rowData"]]
    assert probs == sorted(probs, reverse=True)
    first = out["rowData"][0]
    assert first["risk_tier"] == "High" and first["reason_1"].endswith(" pts")
    json.dumps(out)  # JSON-safe
    # Everyone when asked; those who left carry no CLV and no revenue at risk.
    everyone = customers_page.load_rows({"startRow": 0, "endRow": 1000}, {"everyone": True})
    assert everyone["rowCount"] == DEMO_SIZE
    left = [r for r in everyone["rowData"] if r["status"] == "churned"]
    assert left and all(r["clv"] is None and r["revenue_at_risk"] is None for r in left)
    count, _, _ = customers_page.update_toolbar({}, {"everyone": True})
    assert count == f"{DEMO_SIZE:,} customers (with those who left)"


def test_global_and_grid_filters_and_sort_apply(in_app):
    request = {"startRow": 0, "endRow": 50,
               "filterModel": {"monthly_charges": {"filterType": "number",
                                                   "type": "greaterThan", "filter": 80}},
               "sortModel": [{"colId": "tenure_months", "sort": "asc"}]}
    out = customers_page.load_rows(request, {"Contract": ["Two year"]})
    rows = out["rowData"]
    assert 0 < out["rowCount"] < DEMO_SIZE
    # The drivers are list columns too (fixed field names; the header is the label).
    assert all(r["driver_1"] == "Two year" and r["monthly_charges"] > 80 for r in rows)
    tenures = [r["tenure_months"] for r in rows]
    assert tenures == sorted(tenures)
    count, csv_href, xlsx_href = customers_page.update_toolbar(request, {"Contract": ["Two year"]})
    assert count == f"{out['rowCount']:,} active customers"
    assert csv_href.startswith("/export/csv?state=") and xlsx_href.startswith("/export/xlsx")


def test_a_later_block(in_app):
    out = customers_page.load_rows({"startRow": 100, "endRow": 200}, {"tier": ["Low"]})
    assert all(r["risk_tier"] == "Low" for r in out["rowData"])


def test_export_route_returns_the_whole_filtered_list(app):
    with app.server.test_request_context():
        _, href, _ = customers_page.update_toolbar({}, {"tier": ["High", "Medium"]})
        expected = len(app.server.config[CONFIG_KEY].customers.selection({"tier": ["High", "Medium"]}))
    response = app.server.test_client().get(href)
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert "Risk tier = High or Medium" in lines[0][0]
    assert len(lines) - 2 == expected > 100  # every row, not one page
    assert {line[2] for line in lines[2:]} == {"High", "Medium"}


def test_export_excel_and_bad_requests(app):
    client = app.server.test_client()
    state = parse_qs(urlparse("/export/xlsx?state=%7B%7D").query)["state"][0]
    response = client.get(f"/export/xlsx?state={state}")
    assert response.status_code == 200 and response.data[:2] == b"PK"
    assert client.get("/export/pdf").status_code == 404
    assert client.get("/export/csv?state=not-json").status_code == 400


def test_row_click_opens_the_customer(in_app):
    assert customers_page.open_customer({"colId": "clv", "value": 3, "rowId": "ABC-1"}) == \
        "/customer/ABC-1"
    assert customers_page.open_customer({"colId": "customer_id", "rowId": "=A/B"}) == \
        "/customer/%3DA%2FB"
    from dash import no_update
    assert customers_page.open_customer({"colId": "clv", "value": 3}) is no_update


def test_customer_page(in_app):
    svc = in_app.server.config[CONFIG_KEY]
    some_id = svc.customers.grid_page({}, {"startRow": 0, "endRow": 1})["rowData"][0]["customer_id"]
    text = str(customer_page.show_customer(some_id)[0])
    assert some_id in text and "What raises the risk" in text
    assert "No customer with id" in str(customer_page.show_customer("nope"))
    assert some_id in customer_page.suggest(some_id[:4])


def test_waterfall_bars_add_up_to_the_prediction(in_app):
    svc = in_app.server.config[CONFIG_KEY]
    for row in (0, 5, 100):
        some_id = str(svc.analysis.customers["customer_id"].iloc[row])
        w = svc.customer.detail(some_id)["waterfall"]
        total = w["base"] + sum(i["points"] for i in w["items"])
        assert total == pytest.approx(w["prediction"], abs=0.1)
        assert len(w["items"]) <= 10  # 8 features, "other features", calibration
    fig = customer_page.show_customer(some_id)[0]
    graph = find(fig, "customer-waterfall-graph")
    bar = graph.figure.data[0]
    # Floating bars: the first from 0 to the base, each reason from where the last ended,
    # the last from 0 to the prediction.
    ends = [b + x for b, x in zip(bar.base, bar.x)]
    assert bar.type == "bar" and bar.base[0] == 0 and bar.x[0] == w["base"]
    assert all(bar.base[k + 1] == pytest.approx(ends[k]) for k in range(len(bar.x) - 2))
    assert bar.base[-1] == 0 and bar.x[-1] == w["prediction"]
    assert ends[-2] == pytest.approx(w["prediction"], abs=0.1)


def test_waterfall_shows_the_calibration_step_when_scores_are_recalibrated(app, monkeypatch):
    svc = app.server.config[CONFIG_KEY]
    proba = svc.array("churn_probability").copy()
    proba[0] = min(0.99, proba[0] + 0.05)   # as if a calibrator had moved it
    monkeypatch.setitem(svc._arrays, "churn_probability", proba)
    monkeypatch.setattr(svc.analysis, "calibration", {"applied": True, "method": "isotonic"})
    w = svc.customer.waterfall(0)
    assert w["items"][-1]["label"] == "Calibration (isotonic)"
    assert w["base"] + sum(i["points"] for i in w["items"]) == pytest.approx(w["prediction"],
                                                                             abs=0.01)


def test_the_warm_up_computes_every_sort_order_and_the_checks_keep_them(svc):
    svc.customers.reset()
    cold = svc.customers.grid_page({}, {"startRow": 0, "endRow": 50,
                                        "sortModel": [{"colId": "clv", "sort": "desc"}]})
    svc.customers.reset()
    svc.customers.warm()
    columns = svc.customers.grid_columns()
    assert all({"asc", "desc"} <= set(c.cache) for c in columns.values())
    assert "lower" in columns["customer_id"].cache
    warm = svc.customers.grid_page({}, {"startRow": 0, "endRow": 50,
                                        "sortModel": [{"colId": "clv", "sort": "desc"}]})
    assert warm == cold
    svc.invalidate(keep_grid=True)      # the model checks came in: the scores are the same
    assert svc.customers.grid_columns() is columns
    svc.invalidate()                    # anything else: built again
    assert svc.customers.grid_columns() is not columns
