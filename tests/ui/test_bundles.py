"""The plotly.js the browser gets: the cartesian partial bundle at plotly.js' own URL, the
same version as the plotly package's, drawing every trace type the charts may use."""

from __future__ import annotations

import logging
import re

import pytest
from plotly.offline import get_plotlyjs_version

from components.charts import TRACES
from dashboard import bundles

URL = "/" + bundles.PLOTLY_PATH


def test_the_bundle_is_the_plotly_packages_version_and_draws_the_allowed_traces():
    assert bundles.bundle_version() == get_plotlyjs_version()
    text = bundles.BUNDLE.read_text(encoding="utf-8", errors="replace")
    assert set(re.findall(r'moduleType:"trace",name:"(\w+)"', text)) == TRACES


def test_plotly_js_is_answered_with_the_bundle_compressed_and_revalidated(app):
    client = app.server.test_client()
    answer = client.get(URL, headers={"Accept-Encoding": "br"})
    assert answer.status_code == 200 and answer.headers["Content-Encoding"] == "br"
    assert answer.headers["Content-Type"].startswith("text/javascript")
    assert answer.headers["Cache-Control"] == "no-cache"
    import brotli
    body = brotli.decompress(answer.data)
    assert body == bundles.BUNDLE.read_bytes()
    again = client.get(URL, headers={"Accept-Encoding": "br",
                                     "If-None-Match": answer.headers["ETag"]})
    assert again.status_code == 304


def test_no_page_loads_the_bundle_or_the_login_style_with_its_files(app):
    html = app.server.test_client().get("/").get_data(as_text=True)
    assert "plotly-cartesian" not in html and "/assets/upload.js" in html
    assert "login.css" not in html            # the login form's own, in assets/lazy/


def test_a_bundle_of_another_version_leaves_the_full_plotly_in_service(monkeypatch, tmp_path,
                                                                       caplog):
    import dash
    old = tmp_path / "plotly-cartesian.min.js"
    old.write_text("/**\n* plotly.js (cartesian - minified) v3.0.1\n*/")
    monkeypatch.setattr(bundles, "BUNDLE", old)
    app = dash.Dash(__name__)
    hooks = sum(map(len, app.server.before_request_funcs.values()))
    with caplog.at_level(logging.WARNING):
        assert bundles.install(app) is False
    assert "is plotly.js 3.0.1" in caplog.text
    assert sum(map(len, app.server.before_request_funcs.values())) == hooks


@pytest.mark.parametrize("header, version", [("/**\n* plotly.js (cartesian - minified) v4.1.1",
                                              "4.1.1"), ("nothing", None)])
def test_the_version_is_read_from_the_header(tmp_path, header, version):
    path = tmp_path / "b.js"
    path.write_text(header)
    assert bundles.bundle_version(path) == version
