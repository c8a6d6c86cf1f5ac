"""POST /api/score: scores, reasons and the best offer as JSON; bad input is a 400 naming the field."""

from __future__ import annotations

import pytest

from dashboard.services import CONFIG_KEY


@pytest.fixture(scope="module")
def client(app):
    return app.server.test_client()


@pytest.fixture(scope="module")
def customer(app):
    """A real customer's features, as a client would send them."""
    svc = app.server.config[CONFIG_KEY]
    row = svc.analysis.customers.iloc[0]
    record = {}
    for field in svc.analysis.features:
        value = row[field]
        record[field] = float(value) if field in svc.analysis.numeric else str(value)
    return record


def test_scores_one_customer_like_the_model(client, app, customer):
    response = client.post("/api/score", json=customer)
    assert response.status_code == 200
    body = response.get_json()
    svc = app.server.config[CONFIG_KEY]
    # A record sent to the API is a new customer: the final model scores it. The table
    # serves this customer (who was trained on) their out-of-fold score instead.
    frame = svc.analysis.customers.iloc[[0]].drop(columns=["scored_by"])
    expected = float(svc.analysis.model.predict_proba(frame)[0])
    assert body["churn_probability"] == pytest.approx(expected, abs=1e-3)
    assert body["model_baseline"] != body["observed_churn_rate"]
    assert body["observed_churn_rate"] == pytest.approx(
        float(svc.analysis.customers["churn"].mean()), abs=1e-4)
    assert "base_rate" not in body  # one meaning per name
    assert body["risk_tier"] in ("High", "Medium", "Low")
    assert all(r["points"] > 0 for r in body["reasons"])
    offer = body["best_offer"]
    assert offer["model_implied"] is True
    assert offer["id"] == "none" or offer["expected_profit"] > 0


def test_scores_a_list(client, customer):
    other = dict(customer, Contract="Two year")
    body = client.post("/api/score", json=[customer, other]).get_json()
    assert [r["customer_id"] for r in body["results"]] == ["new-1", "new-2"]
    assert len(body["results"]) == 2


def test_total_charges_may_be_left_out(client, customer):
    record = {k: v for k, v in customer.items() if k != "TotalCharges"}
    assert client.post("/api/score", json=record).status_code == 200


@pytest.mark.parametrize("change, field, words", [
    ({"tenure": "abc"}, "tenure", "must be a number"),
    ({"MonthlyCharges": None}, "MonthlyCharges", "must be a number"),
    ({"Contract": "Weekly"}, "Contract", "unknown category 'Weekly'"),
    ({"Shoe size": 42}, "Shoe size", "unknown field"),
])
def test_bad_fields_are_named(client, customer, change, field, words):
    response = client.post("/api/score", json={**customer, **change})
    assert response.status_code == 400
    body = response.get_json()
    assert body["field"] == field and words in body["error"]


def test_missing_field_and_bad_bodies(client, customer):
    record = {k: v for k, v in customer.items() if k != "PaymentMethod"}
    body = client.post("/api/score", json=record).get_json()
    assert body["field"] == "PaymentMethod" and "missing" in body["error"]
    assert client.post("/api/score", data="not json").status_code == 400
    assert client.post("/api/score", json=[]).status_code == 400
    assert client.post("/api/score", json=[customer, 5]).get_json()["index"] == 1


@pytest.mark.parametrize("field", ["tenure", "MonthlyCharges", "TotalCharges"])
def test_negative_amounts_are_refused_by_name(client, customer, field):
    response = client.post("/api/score", json={**customer, field: -5})
    assert response.status_code == 400
    body = response.get_json()
    assert body["field"] == field and "negative" in body["error"]


def test_another_method_or_path_is_a_json_error_not_the_page(client):
    for method in ("get", "put", "delete"):
        response = getattr(client, method)("/api/score")
        assert response.status_code == 405 and response.headers["Allow"] == "POST"
        assert "use POST" in response.get_json()["error"]
    missing = client.get("/api/scores")
    assert missing.status_code == 404 and missing.is_json
    assert "POST /api/score" in missing.get_json()["error"]
    assert client.post("/api/x/y", json={}).status_code == 404
