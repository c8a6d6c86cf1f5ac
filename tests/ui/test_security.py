"""Host check, security headers, compression and cache headers (dashboard/security.py).

The session app (tests/ui/conftest.py, bound to 127.0.0.1) for the app's own routes; a small
Dash app per test with `errors` and `security` installed for other bind addresses, a view
that fails and a tiny answer (no model is trained for it).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from html.parser import HTMLParser
from urllib.parse import quote

import brotli
import dash
import flask
import pytest
from dash import html

from dashboard import errors, security
from dashboard.settings import Settings
from tests.ui.conftest import features_of

CALLBACK = "/_dash-update-component"
HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": security.PERMISSIONS_POLICY,
}
YEAR = "public, max-age=31536000, immutable"
EXECUTABLE = (None, "", "text/javascript", "application/javascript", "module")
ATTACKER = "attacker.example"


class Scripts(HTMLParser):
    """The <script> and <link> elements of a page (comments, such as Dash's IE warning,
    are not elements)."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[tuple[dict, str]] = []
        self.links: list[dict] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self._open, self._text = dict(attrs), []
        elif tag == "link":
            self.links.append(dict(attrs))

    def handle_data(self, data):
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._open is not None:
            self.scripts.append((self._open, "".join(self._text)))
            self._open = None


def parsed(client, path: str = "/") -> Scripts:
    parser = Scripts()
    parser.feed(client.get(path).get_data(as_text=True))
    return parser


def csp(response) -> dict[str, list[str]]:
    """The Content-Security-Policy as directive -> values."""
    policy = {}
    for part in response.headers["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        policy[name] = values
    return policy


@pytest.fixture(scope="module")
def page(client) -> Scripts:
    return parsed(client)


@pytest.fixture(scope="module")
def suite_url(page) -> str:
    """A fingerprinted component file the page loads (dash-renderer)."""
    return next(a["src"] for a, _ in page.scripts
                if "dash_renderer" in a.get("src", "") and ".v" in a["src"])


@pytest.fixture(scope="module")
def asset_url(page) -> str:
    """A stylesheet of assets/ as the page links it (with Dash's ?m=<mtime>)."""
    return next(link["href"] for link in page.links if "00-bootstrap" in link["href"])


UNVERSIONED_SUITE = "/_dash-component-suites/dash/dcc/async-graph.js"  # loaded on demand
FONT = "/assets/vendor/fonts/inter-latin-400-normal.woff2"


@pytest.fixture(scope="module")
def summary_body(app, client) -> dict:
    """A real callback request, as the renderer sends it: the filter bar shown or hidden
    for the page at /."""
    client.get("/_dash-dependencies")  # Dash completes the callback map on a request
    key = next(k for k in app.callback_map if "app-filter-bar.style" in k)
    outputs = [{"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]}
               for part in key.strip(".").split("...")]
    return {"output": key, "outputs": outputs, "changedPropIds": ["app-url.pathname"],
            "inputs": [{"id": "app-url", "property": "pathname", "value": "/"}]}


@pytest.fixture
def small(client, tmp_path):
    """`small(settings)`: a small Dash app with the error policy and this module installed,
    plus /tiny (a 2-byte answer), /fail (a bug) and /big (a 20 kB text)."""
    client.get("/")  # the session app takes the pages' callbacks and scripts first

    def build(settings: Settings | None = None) -> dash.Dash:
        settings = settings or Settings(cache_dir=str(tmp_path / "cache"))
        app = dash.Dash(__name__, assets_folder=str(tmp_path / "no-assets"))
        app.layout = html.Div("small app", id="small-div")
        errors.install(app)
        security.install(app, settings)
        app.server.add_url_rule("/tiny", "tiny", lambda: "ok")
        app.server.add_url_rule("/big", "big", lambda: flask.Response(
            "churn " * 4000, mimetype="text/plain"))

        def fail():
            raise RuntimeError("a bug with a secret in it")
        app.server.add_url_rule("/fail", "fail", fail)
        return app
    return build


# ----- the host check ---------------------------------------------------------------------


def _requests(summary_body, suite_url, asset_url, customer):
    state = quote(json.dumps({}), safe="")
    return [("GET", "/", None), ("GET", "/customers", None), ("GET", "/_dash-layout", None),
            ("GET", "/_dash-dependencies", None), ("POST", CALLBACK, summary_body),
            ("GET", suite_url, None), ("GET", asset_url, None), ("GET", FONT, None),
            ("POST", "/api/score", customer), ("GET", f"/export/csv?state={state}", None),
            ("GET", "/export/xlsx", None), ("GET", "/no-such-page", None)]


@pytest.mark.parametrize("host", [ATTACKER, f"{ATTACKER}:8050", "ATTACKER.example",
                                  "127.0.0.1.attacker.example", "localhost.attacker.example",
                                  "10.0.0.7", "[::2]:8050", "0.0.0.0"])
def test_a_refused_host_gets_a_short_400_on_every_route(client, svc, summary_body, suite_url,
                                                         asset_url, host):
    for method, path, body in _requests(summary_body, suite_url, asset_url,
                                        features_of(svc, 0)):
        response = client.open(path, method=method, json=body, headers={"Host": host})
        text = response.get_data(as_text=True)
        assert response.status_code == 400, (path, response.status_code)
        assert len(text) < 300 and "--allowed-host" in text, (path, text)
        assert security.host_name(host) in text
        assert response.headers["Cache-Control"] == "no-store"


def test_dns_rebinding_reads_no_data(client, svc, summary_body):
    """A page on attacker.example whose name now resolves to 127.0.0.1 sends its own name
    as the Host: the same requests that give the data to this machine's pages give it
    nothing."""
    state = quote(json.dumps({}), safe="")
    for host, status in (("127.0.0.1:8050", 200), (f"{ATTACKER}:8050", 400)):
        export = client.get(f"/export/csv?state={state}", headers={"Host": host})
        answer = client.post(CALLBACK, json=summary_body, headers={"Host": host})
        score = client.post("/api/score", json=features_of(svc, 0), headers={"Host": host})
        assert (export.status_code, answer.status_code, score.status_code) == (status,) * 3
        if status == 400:
            assert export.mimetype == "text/plain" and len(export.data) < 300
            assert set(answer.get_json()) == {"error"}
            assert set(score.get_json()) == {"error", "field", "index"}
            assert ATTACKER in score.get_json()["error"]
        else:
            assert export.data.count(b"\n") > 100 and "response" in answer.get_json()


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST:8050", "localhost.", "127.0.0.1",
                                  "127.0.0.1:8050", "[::1]", "[::1]:8050",
                                  "[0:0:0:0:0:0:0:1]:8050"])
def test_loopback_names_are_answered_on_a_loopback_bind(client, host):
    response = client.get("/", headers={"Host": host})
    assert response.status_code == 200 and b"_dash-renderer" in response.data


@pytest.mark.parametrize("host", ["", "[::1", "::1", "127.0.0.1:abc", "127.0.0.1:123456",
                                  "local host", "user@127.0.0.1", "127.0.0.1/x",
                                  "localhost:8050:1", "[localhost]"])
def test_malformed_host_headers_are_refused(client, host):
    response = client.get("/", headers={"Host": host})
    assert response.status_code == 400
    assert b"_dash-renderer" not in response.data and len(response.data) < 300


def test_the_refused_host_is_shown_clipped_and_escaped(client):
    hostile = "<script>alert(1)</script>" + "a" * 500 + ".example"
    response = client.get("/", headers={"Host": hostile})
    text = response.get_data(as_text=True)
    assert response.status_code == 400 and response.mimetype == "text/plain"
    assert "<" not in text and ">" not in text and len(text) < 300
    assert "?script?alert(1)?/script?aaaa" in text and "…" in text


@pytest.mark.parametrize("settings, answered, refused", [
    (Settings(host="0.0.0.0", allowed_hosts=("dash.example.com", "Reports.Example.com:443")),
     ["dash.example.com", "DASH.example.com:8443", "reports.example.com", "localhost:8050",
      "127.0.0.1", "[::1]"],
     [ATTACKER, "10.1.2.3:8050", "0.0.0.0", "example.com", "sub.dash.example.com"]),
    (Settings(host="::"), ["[::1]:8050", "localhost"], ["[::]", ATTACKER, "[fe80::1]"]),
    (Settings(host="192.168.1.10", allowed_hosts=("churn.lan",)),
     ["192.168.1.10:8050", "churn.lan", "CHURN.LAN:80"],
     ["localhost", "127.0.0.1", "[::1]", ATTACKER, "192.168.1.11"]),
    (Settings(host="::1"), ["[::1]:8050", "[0::1]", "localhost", "127.0.0.1"], [ATTACKER]),
    (Settings(host="[fe80::1]", allowed_hosts=("[FE80::2]",)), ["[fe80::1]", "[fe80::2]:1"],
     ["localhost", "[fe80::3]"]),
    (Settings(host="localhost"), ["localhost", "127.0.0.1:1", "[::1]"], [ATTACKER]),
])
def test_each_bind_answers_its_names_only(small, settings, answered, refused):
    client = small(settings).server.test_client()
    for host in answered:
        assert client.get("/", headers={"Host": host}).status_code == 200, host
    for host in refused:
        response = client.get("/", headers={"Host": host})
        assert response.status_code == 400, host
        assert b"small-div" not in response.data


def test_allowed_hosts_on_all_addresses_are_the_names_given_and_loopback():
    settings = Settings(host="0.0.0.0", allowed_hosts=("Dash.Example.com.", "[::FFFF:1]"))
    assert security.allowed_hosts(settings) == {"dash.example.com", "::ffff:1", "localhost",
                                                "127.0.0.1", "::1"}


def test_the_host_check_runs_before_any_other_hook(app, client):
    hooks = app.server.before_request_funcs[None]
    assert hooks[0].__name__ == "refuse_other_hosts"
    # Refused for its host before the body size is looked at (413) or the body read.
    big = client.post("/api/score", data=b"x" * (3 * 2**20), headers={"Host": ATTACKER},
                      content_type="application/json")
    assert big.status_code == 400 and ATTACKER in big.get_json()["error"]


# ----- security headers -------------------------------------------------------------------


def _assert_headers(response, what: str) -> None:
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (what, name, response.headers.get(name))
    policy = csp(response)
    assert policy["default-src"] == ["'self'"], what
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"] and policy["form-action"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:", "blob:"]
    assert policy["font-src"] == ["'self'", "data:"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    scripts = policy["script-src"]
    assert scripts[0] == "'self'" and all(v.startswith("'sha256-") for v in scripts[1:])
    assert not {"report-uri", "report-to"} & set(policy)


def test_every_kind_of_answer_has_the_security_headers(client, svc, summary_body, suite_url,
                                                       asset_url, small):
    answers = {
        "page": client.get("/"), "model page": client.get("/model"),
        "layout": client.get("/_dash-layout"), "callback": client.post(CALLBACK,
                                                                       json=summary_body),
        "component file": client.get(suite_url), "asset": client.get(asset_url),
        "font": client.get(FONT), "api": client.post("/api/score", json=features_of(svc, 0)),
        "export": client.get("/export/csv"),
        "404": client.get("/_dash-component-suites/dash/nope.js"),
        "404 export": client.get("/export/nope"), "405": client.delete("/api/score"),
        "413": client.post("/api/score", data=b"x" * (3 * 2**20),
                           content_type="application/json"),
        "400 host": client.get("/", headers={"Host": ATTACKER}),
        "304": client.get(UNVERSIONED_SUITE, headers={
            "If-None-Match": client.get(UNVERSIONED_SUITE).headers["ETag"]}),
    }
    small_client = small().server.test_client()
    answers["500"] = small_client.get("/fail")
    expected = {"404": 404, "404 export": 404, "405": 405, "413": 413, "400 host": 400,
                "304": 304, "500": 500}
    for what, response in answers.items():
        assert response.status_code == expected.get(what, 200), (what, response.status_code)
        _assert_headers(response, what)
    assert b"secret" not in answers["500"].data and b"Traceback" not in answers["500"].data


def test_the_csp_allows_exactly_the_inline_scripts_the_page_has(client):
    for path in ("/", "/customers", "/model"):
        page = parsed(client, path)
        response = client.get(path)
        allowed = set(csp(response)["script-src"][1:])
        inline = [text for attrs, text in page.scripts
                  if "src" not in attrs and attrs.get("type") in EXECUTABLE]
        hashes = {"'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest())
                  .decode() + "'" for text in inline}
        assert len(inline) >= 2  # the renderer's start and the Customers grid's refresh
        assert hashes == allowed, path
    config = [a for a, _ in page.scripts if a.get("id") == "_dash-config"]
    assert config and config[0]["type"] == "application/json"  # data: needs no hash


# ----- compression ------------------------------------------------------------------------


def _decoded(response) -> bytes:
    """The body as sent before encoding (the page's per-request callback token masked)."""
    encoding = response.headers.get("Content-Encoding")
    data = response.get_data()
    data = brotli.decompress(data) if encoding == "br" else \
        gzip.decompress(data) if encoding == "gzip" else data
    return re.sub(rb'"end_id":"[^"]*"', b'"end_id":""', data)


def test_answers_are_brotli_or_gzip_and_decode_to_the_same_bytes(client, suite_url,
                                                                 asset_url):
    for path in ("/", suite_url, asset_url, UNVERSIONED_SUITE, "/_dash-dependencies"):
        plain = client.get(path)
        assert "Content-Encoding" not in plain.headers, path
        for accept, encoding in (("br", "br"), ("gzip", "gzip"), ("gzip, deflate, br", "br"),
                                 ("br;q=0.5, gzip", "gzip"), ("*", "br")):
            response = client.get(path, headers={"Accept-Encoding": accept})
            assert response.headers.get("Content-Encoding") == encoding, (path, accept)
            assert "Accept-Encoding" in response.headers["Vary"]
            assert int(response.headers["Content-Length"]) == len(response.data)
            assert len(response.data) < len(plain.data)
            assert _decoded(response) == _decoded(plain)
        assert "Content-Encoding" not in client.get(
            path, headers={"Accept-Encoding": "identity"}).headers


def test_a_layout_is_compressed_json(client):
    layout = client.get("/_dash-layout", headers={"Accept-Encoding": "br"})
    assert layout.headers["Content-Encoding"] == "br" and layout.mimetype == "application/json"
    assert json.loads(_decoded(layout)) == client.get("/_dash-layout").get_json()


def test_a_tiny_answer_and_an_error_are_not_compressed(small, client):
    small_client = small().server.test_client()
    tiny = small_client.get("/tiny", headers={"Accept-Encoding": "br, gzip"})
    big = small_client.get("/big", headers={"Accept-Encoding": "br, gzip"})
    assert tiny.data == b"ok" and "Content-Encoding" not in tiny.headers
    assert big.headers["Content-Encoding"] == "br" and len(big.data) < 1000
    refused = client.get("/", headers={"Host": ATTACKER, "Accept-Encoding": "br"})
    assert "Content-Encoding" not in refused.headers


def test_an_export_stays_streamed_uncompressed_and_whole(app, client):
    """A download is streamed from disk with its length, whatever the browser accepts."""
    path = f"/export/csv?state={quote('{}', safe='')}"
    server = app.server
    with server.test_request_context(path, headers={"Accept-Encoding": "br, gzip"}):
        response = server.full_dispatch_request()
        try:
            assert response.status_code == 200 and response.is_streamed
            assert response.direct_passthrough  # the file handle, read as it is sent
            assert "Content-Encoding" not in response.headers
            size = int(response.headers["Content-Length"])
            assert response.headers["Cache-Control"] == "no-store"
        finally:
            response.close()
    body = client.get(path, headers={"Accept-Encoding": "br, gzip"}).data
    assert len(body) == size and body.count(b"\n") > 100


def test_the_best_compression_is_made_once_and_kept(small, tmp_path):
    cache = tmp_path / "cache"
    app = small(Settings(cache_dir=str(cache)))
    client = app.server.test_client()
    page = parsed(client)
    url = next(a["src"] for a, _ in page.scripts if "react-dom" in a.get("src", ""))
    first = client.get(url, headers={"Accept-Encoding": "br"})
    assert first.headers["ETag"].endswith(f'-br{security.FAST_BR_LEVEL}"')
    app.server.extensions[security.EXTENSION].executor.shutdown(wait=True)
    best = client.get(url, headers={"Accept-Encoding": "br"})
    assert best.headers["ETag"].endswith(f'-br{security.BEST_BR_LEVEL}"')
    assert len(best.data) <= len(first.data)
    assert brotli.decompress(best.data) == brotli.decompress(first.data)
    assert len(list((cache / security.STATIC_FOLDER).glob("*.br*"))) == 1
    # Another process (or worker) on the same cache serves it at once.
    again = small(Settings(cache_dir=str(cache))).server.test_client().get(
        url, headers={"Accept-Encoding": "br"})
    assert again.headers["ETag"] == best.headers["ETag"] and again.data == best.data


# ----- cache headers ----------------------------------------------------------------------


def test_fingerprinted_files_are_cached_for_a_year(client, page):
    suites = [a["src"] for a, _ in page.scripts if a.get("src", "").startswith(
        "/_dash-component-suites/")]
    assets = [a["src"] for a, _ in page.scripts if a.get("src", "").startswith("/assets/")]
    styles = [link["href"] for link in page.links if link.get("rel") == "stylesheet"]
    assert len(suites) >= 8 and assets and len(styles) >= 4
    for url in suites + assets + styles + ["/_favicon.ico?v=" + dash.__version__]:
        assert re.search(r"\.v\d+_\d+_\d+m\d+\.|\?m=\d|\?v=", url), url
        response = client.get(url, headers={"Accept-Encoding": "br"})
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == YEAR, url
        assert "Expires" not in response.headers


@pytest.mark.parametrize("url", [UNVERSIONED_SUITE, FONT, "/assets/10-app.css"])
def test_other_static_files_are_revalidated_with_their_validator(client, url):
    for accept in ("br", "identity"):
        response = client.get(url, headers={"Accept-Encoding": accept})
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-cache", url
        etag = response.headers["ETag"]
        again = client.get(url, headers={"Accept-Encoding": accept, "If-None-Match": etag})
        assert again.status_code == 304 and again.data == b"", (url, accept)


def test_answers_with_data_are_never_stored(client, svc, summary_body):
    answers = [client.get("/"), client.get("/segments"), client.get("/_dash-layout"),
               client.get("/_dash-dependencies"), client.post(CALLBACK, json=summary_body),
               client.post("/api/score", json=features_of(svc, 0)),
               client.get("/export/csv"), client.get("/export/nope"),
               client.get("/assets/no-such-file.css?m=1"),
               client.get("/_dash-component-suites/dash/nope.v4_4_1m1.js")]
    for response in answers:
        assert response.headers["Cache-Control"] == "no-store", response.request.path


def test_the_kept_compressed_files_are_pruned_least_recently_used_first(tmp_path):
    import os
    folder = tmp_path / security.STATIC_FOLDER
    folder.mkdir()
    static = security.StaticFiles(folder)
    paths = []
    for k in range(5):  # 5 files of 1,000 bytes, used from oldest (0) to newest (4)
        path = folder / f"{k:064d}.br{security.BEST_BR_LEVEL}"
        path.write_bytes(b"x" * 1000)
        os.utime(path, (1_000_000 + k, 1_000_000 + k))
        paths.append(path)
    assert static._load(f"{0:064d}") == b"x" * 1000     # file 0 read now: the newest in use
    (folder / "other.txt").write_text("not ours")
    assert static.prune(limit=2500) == 3
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [paths[0].name, paths[4].name, "other.txt"])
    assert static.prune(limit=2500) == 0
