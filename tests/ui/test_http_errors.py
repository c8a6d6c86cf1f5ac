"""Every failure of the hostile test as a test: bodies over the limit, echoed input, values
far outside the data, deep JSON, non-finite JSON, bad export state, temp folders left
behind, malformed callback bodies, a bug inside a callback, and --debug on a public host.
"""

from __future__ import annotations

import io
import json
import logging
import os
import tempfile
from pathlib import Path
from urllib.parse import quote

import dash
import flask
import pytest

from dash import Input, Output, html

from dashboard import errors
from dashboard.downloads import FOLDER_PREFIX, clean_stale_exports, register_downloads
from dashboard.settings import Settings
from tests.ui.conftest import features_of

CALLBACK = "/_dash-update-component"
SHORT = 2048


@pytest.fixture(scope="module")
def customer(svc):
    return features_of(svc, 0)


def strict(body: bytes):
    """JSON as a strict client parses it (NaN and Infinity are not JSON)."""
    def refuse(constant):
        raise AssertionError(f"non-finite number {constant} in {body[:200]!r}")
    return json.loads(body, parse_constant=refuse)


def export(client, state, fmt="csv"):
    raw = state if isinstance(state, str) else json.dumps(state)
    return client.get(f"/export/{fmt}?state={quote(raw, safe='')}")


# ----- size limit and echoes --------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/score", CALLBACK])
def test_a_body_over_the_limit_is_a_short_413(client, path):
    response = client.post(path, data=b'{"tenure": "' + b"9" * (3 * 1024 * 1024) + b'"}',
                           content_type="application/json")
    assert response.status_code == 413
    assert len(response.data) < 300 and "2 MB" in strict(response.data)["error"]


def test_an_error_echoes_a_short_excerpt_of_the_value(client, customer):
    response = client.post("/api/score", json={**customer, "tenure": "x" * 1_000_000})
    assert response.status_code == 400
    body = strict(response.data)
    assert body["field"] == "tenure" and "must be a number" in body["error"]
    assert len(response.data) < 300


def test_an_unknown_field_name_is_echoed_short(client, customer):
    body = strict(client.post("/api/score", json={**customer, "y" * 100_000: 1}).data)
    assert "unknown field" in body["error"] and len(body["field"]) <= 60


# ----- numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize("field, raw", [
    ("tenure", "1e18"), ("tenure", "1e19"), ("tenure", "1e308"), ("tenure", "9" * 400),
    ("MonthlyCharges", "1.7e308"), ("TotalCharges", "1e308"), ("tenure", "721"),
    ("tenure", '"1e999"'),
])
def test_values_far_outside_the_data_are_refused_with_the_range(client, customer, field, raw):
    text = json.dumps({**customer, field: "__RAW__"}).replace('"__RAW__"', raw)
    response = client.post("/api/score", data=text, content_type="application/json")
    assert response.status_code == 400
    body = strict(response.data)
    assert body["field"] == field and "must be between 0 and" in body["error"]
    assert "the data has 0 to" in body["error"] or "the data has 18" in body["error"]
    assert len(response.data) < 400


def test_tenure_range_is_ten_times_the_datas(client, customer, svc):
    top = float(svc.analysis.customers["tenure"].max())
    assert client.post("/api/score", json={**customer, "tenure": 10 * top}).status_code == 200
    refused = strict(client.post("/api/score", json={**customer, "tenure": 10 * top + 1}).data)
    assert f"between 0 and {10 * top:,.6g}" in refused["error"]


def test_an_answer_is_strict_json(client, customer):
    response = client.post("/api/score", json={**customer, "MonthlyCharges": 1000.0})
    assert response.status_code == 200
    assert isinstance(strict(response.data)["clv"], (float, int))


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_json_numbers_are_refused(client, customer, literal):
    text = json.dumps({**customer, "tenure": "__RAW__"}).replace('"__RAW__"', literal)
    response = client.post("/api/score", data=text, content_type="application/json")
    assert response.status_code == 400
    assert "not valid JSON" in strict(response.data)["error"]


def test_the_app_never_writes_non_finite_json(app):
    with app.server.test_request_context(), pytest.raises(ValueError):
        flask.jsonify(clv=float("inf"))


def test_a_text_tenure_is_not_a_number_not_missing(client, customer):
    body = strict(client.post("/api/score", json={**customer, "tenure": "abc"}).data)
    assert "must be a number" in body["error"] and "missing" not in body["error"]


def test_the_score_form_explains_a_huge_tenure(in_app, svc):
    from pages import score as score_page

    spec = svc.score.spec()
    ids = [{"type": score_page.FIELD, "feature": f["feature"]} for f in spec]
    values = [1e19 if f["feature"] == "tenure" else f["default"] for f in spec]
    alert = score_page.score(values, ids)
    assert alert.id == "score-error-alert"
    assert "'tenure'" in alert.children and "between 0 and" in alert.children


# ----- deep JSON --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/score", CALLBACK])
def test_json_nested_50000_deep_is_a_400(client, path):
    response = client.post(path, data="[" * 50_000 + "]" * 50_000,
                           content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in strict(response.data)["error"]


def test_an_export_state_nested_deep_is_a_400(client):
    response = export(client, '{"filters": ' + "[" * 5_000 + "]" * 5_000 + "}")
    assert response.status_code == 400 and b"nested too deeply" in response.data
    response = export(client, '{"filters": ' + "[" * 50_000 + "]" * 50_000 + "}")
    assert response.status_code == 414 and b"longer than" in response.data


# ----- export requests --------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("state, words", [
    ({"filters": {"tenure": [12]}}, "tenure"),
    ({"filters": {"tenure": [60, 12]}}, "low <= high"),
    ({"filters": {"tenure": [0, 1e308]}}, "tenure"),
    ({"filters": {"Contract": ["Two year\x00"]}}, "unknown value"),
    ({"filters": {"contract": ["Two year"]}}, "unknown filter"),
    ({"filters": {"colour": ["red"]}}, "unknown filter"),
    ({"filterModel": {"customer_id": {"filterType": "text", "type": "contains",
                                      "filter": "A\x00B"}}}, "control characters"),
    ({"filterModel": {"nope": {"type": "contains", "filter": "a"}}}, "unknown column"),
    ({"filterModel": {"clv": {"type": "inRange", "filter": "a"}}}, "must be a number"),
    ({"sortModel": [{"colId": "clv", "sort": "sideways"}]}, "sortModel"),
    ({"campaign": {"capacity": -5}}, "capacity"),
    ({"campaign": {"capacity": 10 ** 30}}, "capacity"),
    ('{"filters": {"tenure": [NaN, 5]}}', "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
])
def test_bad_export_states_are_short_400s(client, fmt, state, words):
    response = export(client, state, fmt)
    assert response.status_code == 400, response.data[:300]
    assert words in response.get_data(as_text=True) and len(response.data) < 600


def test_an_overlong_export_state_is_refused(client):
    response = export(client, json.dumps({"filters": {}, "pad": "x" * 100_000}))
    assert response.status_code == 414 and len(response.data) < 200


def test_an_export_note_never_holds_what_excel_cannot(svc, tmp_path):
    """Filter text reaches the note of the file; in an .xlsx cell, control characters
    become U+FFFD (the route refuses them, this is the last line of defence)."""
    from openpyxl import load_workbook

    model = {"customer_id": {"filterType": "text", "type": "contains", "filter": "\x00\x07"}}
    path, n = svc.customers.export_file({}, model, [], "xlsx", str(tmp_path))
    note = next(load_workbook(path).active.iter_rows(max_row=1, values_only=True))[0]
    assert n == 0 and "\ufffd\ufffd" in note and "\x00" not in note


@pytest.fixture
def control_id(svc):
    """One customer's id, for the length of a test, holding control characters (as a data
    file may); the grid's cached columns keep the plain id, so a filter on it finds them."""
    customers = svc.analysis.customers
    row = int(svc.customers.selection({})[0])
    plain = customers.at[row, "customer_id"]
    customers.at[row, "customer_id"] = "=C\x07D\x00E\x1f" + plain
    yield plain, customers.at[row, "customer_id"]
    customers.at[row, "customer_id"] = plain


def _only(customer_id: str) -> dict:
    return {"filterModel": {"customer_id": {"filterType": "text", "type": "equals",
                                            "filter": customer_id}}}


def test_a_control_character_id_is_exact_in_csv_and_neutralised(client, control_id):
    plain, hostile = control_id
    response = export(client, _only(plain))
    assert response.status_code == 200
    assert "'" + hostile in response.get_data(as_text=True)  # exact, behind the apostrophe


def test_a_control_character_id_exports_to_excel(client, control_id):
    from openpyxl import load_workbook

    plain, hostile = control_id
    response = export(client, _only(plain), "xlsx")
    assert response.status_code == 200, response.data[:200]
    assert b"Traceback" not in response.data
    rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    assert rows[2][0].endswith(plain) and "\x07" not in rows[2][0]


@pytest.fixture
def temp_root(tmp_path, monkeypatch):
    """The temp directory exports use, empty at the start."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.glob(FOLDER_PREFIX + "*"))


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_leaves_no_folder_even_unread_and_unclosed(client, temp_root, fmt):
    response = export(client, {"filters": {"tier": ["High"]}}, fmt)
    assert response.status_code == 200
    assert leftovers(temp_root) == []   # gone before the body is read or the answer closed
    data = response.get_data()
    assert len(data) == int(response.headers["Content-Length"]) > 1000
    assert (b"PK" if fmt == "xlsx" else b"ChurnLens at-risk list") in data[:100]


def test_a_failed_export_leaves_no_folder_and_no_traceback(client, svc, temp_root,
                                                          monkeypatch, caplog):
    def broken(filters, filter_model, sort_model, fmt, folder, campaign=None):
        Path(folder, "partial.csv").write_text("half a file")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(svc.customers, "export_file", broken)
    with caplog.at_level(logging.ERROR):
        response = export(client, {})
    assert response.status_code == 500 and b"Traceback" not in response.data
    assert b"disk on fire" not in response.data and len(response.data) < 200
    assert leftovers(temp_root) == []
    assert any(r.exc_info and "disk on fire" in str(r.exc_info[1]) for r in caplog.records)


def test_a_refused_excel_export_leaves_no_folder(client, svc, temp_root, monkeypatch):
    import analytics.export

    monkeypatch.setattr(analytics.export, "EXCEL_MAX_ROWS", 3)
    response = export(client, {}, "xlsx")
    assert response.status_code == 400 and b"Excel sheet" in response.data
    assert leftovers(temp_root) == []


def test_stale_export_folders_are_deleted_at_start(temp_root, svc):
    now = 1_000_000_000.0
    old, young = temp_root / f"{FOLDER_PREFIX}old", temp_root / f"{FOLDER_PREFIX}young"
    for folder, age in ((old, 7200), (young, 60)):
        folder.mkdir()
        (folder / "churnlens-at-risk.csv").write_text("x")
        os.utime(folder, (now - age, now - age))
    outside = temp_root.parent / "keep-me"
    outside.mkdir()
    link = temp_root / f"{FOLDER_PREFIX}link"
    link.symlink_to(outside)
    os.utime(link, (now - 7200, now - 7200), follow_symlinks=False)
    assert clean_stale_exports(now=now) == 1
    assert leftovers(temp_root) == [link.name, young.name] and outside.exists()
    os.utime(young, (now - 7200, now - 7200))
    register_downloads(flask.Flask("fresh"), svc)  # what create_app does at start
    assert leftovers(temp_root) == [link.name]


# ----- the callback endpoint --------------------------------------------------------------


NAV_OUTPUT = '..{"page":["ALL"],"type":"app-nav-link"}.href...app-filter-summary-text.children..'


def _link(page: str) -> dict:
    return {"page": page, "type": "app-nav-link"}


@pytest.mark.parametrize("body", [
    {}, {"output": "nope.children", "inputs": [], "state": []},
    {"output": "customers-list-grid.getRowsResponse", "inputs": "x"},
    {"output": "customers-list-grid.getRowsResponse",
     "outputs": {"id": "customers-list-grid", "property": "getRowsResponse"},
     "inputs": [{"id": "somewhere-else", "property": "value", "value": 1}],
     "state": [{"id": "app-filters-store", "property": "data", "value": {}}]},
    [1, 2],
    # Past the request check: Dash refuses it (no outputs for a two-output callback)...
    {"output": NAV_OUTPUT, "inputs": [{"id": "app-filters-store", "property": "data",
                                       "value": {}}],
     "state": [[]], "changedPropIds": []},
    # ...or finds three links in the state but one in the outputs to update.
    {"output": NAV_OUTPUT,
     "outputs": [[{"id": _link("/"), "property": "href"}],
                 {"id": "app-filter-summary-text", "property": "children"}],
     "inputs": [{"id": "app-filters-store", "property": "data", "value": {}}],
     "state": [[{"id": _link(p), "property": "id", "value": _link(p)}
                for p in ("/", "/segments", "/customers")]], "changedPropIds": []},
])
def test_a_malformed_callback_body_is_a_400_logged_in_one_line(client, caplog, body):
    client.get("/_dash-dependencies")  # the callback map is complete after a first request
    caplog.clear()
    with caplog.at_level(logging.INFO):
        response = client.post(CALLBACK, json=body)
    assert response.status_code == 400
    assert len(response.data) < SHORT and strict(response.data)["error"]
    mine = [r for r in caplog.records if CALLBACK in r.getMessage()]
    assert len(mine) == 1 and mine[0].levelno == logging.WARNING
    assert mine[0].exc_info is None and "\n" not in mine[0].getMessage()


@pytest.fixture
def small_app(app, monkeypatch):
    """A one-callback Dash app with the error policy: a bug inside its callback."""
    from dash import _callback, _get_app

    # Keep the pages' `dash.callback`s, and Dash's current app, for the apps they belong to.
    monkeypatch.setattr(_callback, "GLOBAL_CALLBACK_MAP", {})
    monkeypatch.setattr(_callback, "GLOBAL_CALLBACK_LIST", [])
    monkeypatch.setattr(_get_app, "APP", _get_app.APP)
    small = dash.Dash("small")
    small.layout = html.Div([html.Button(id="button"), html.Div(id="out")])

    @small.callback(Output("out", "children"), Input("button", "n_clicks"))
    def divide(n_clicks):
        return str(1 / n_clicks)

    errors.install(small)
    return small


def _click(client, n_clicks):
    return client.post(CALLBACK, json={
        "output": "out.children", "outputs": {"id": "out", "property": "children"},
        "inputs": [{"id": "button", "property": "n_clicks", "value": n_clicks}],
        "state": [], "changedPropIds": ["button.n_clicks"]})


def test_a_bug_inside_a_callback_is_a_500_without_traceback(small_app, caplog):
    client = small_app.server.test_client()
    assert _click(client, 4).status_code == 200
    with caplog.at_level(logging.INFO):
        response = _click(client, 0)
    assert response.status_code == 500
    assert b"Traceback" not in response.data and b"ZeroDivision" not in response.data
    assert strict(response.data)["error"] and len(response.data) < 200
    logged = [r for r in caplog.records if r.exc_info]
    assert len(logged) == 1 and logged[0].exc_info[0] is ZeroDivisionError
    assert client.post(CALLBACK, json={"output": "out.children", "inputs": [1]}) \
        .status_code == 400


def test_dash_reports_a_bad_resource_path_briefly(client):
    response = client.get("/_dash-component-suites/" + "x" * 5000 + "/y.js")
    assert 400 <= response.status_code < 500 and len(response.data) < 300


# ----- --debug ------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.com", ""])
def test_debug_is_refused_on_a_public_address(host, capsys):
    with pytest.raises(SystemExit) as exit_:
        Settings.from_args(["--debug", "--host", host])
    assert exit_.value.code == 2 and "--debug" in capsys.readouterr().err
    with pytest.raises(ValueError):
        Settings(debug=True, host=host)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"])
def test_debug_is_allowed_on_a_local_address(host):
    assert Settings.from_args(["--debug", "--host", host]).debug


def test_app_py_exits_2_before_loading_anything(capsys):
    import app as app_module

    with pytest.raises(SystemExit) as exit_:
        app_module.main(["--debug", "--host", "0.0.0.0", "--data", "/nonexistent.csv"])
    assert exit_.value.code == 2 and "local address" in capsys.readouterr().err
