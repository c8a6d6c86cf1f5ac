"""Login and roles (dashboard/auth.py): start-up checks, the login form, sessions, API tokens,
admin-only callbacks, and login off on a loopback address.

One app with login on (`--login` on 127.0.0.1) for the module; clients sign in through the
real form (CSRF token included)."""

from __future__ import annotations

import json
import logging
import re
import stat
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from dashboard import auth, create_app
from dashboard.services import CONFIG_KEY
from dashboard.settings import Settings
from dashboard.users import write_users
from tests.ui.conftest import DEMO_SIZE, features_of

CALLBACK = "/_dash-update-component"
PASSWORDS = {"ann": "ann-password-1", "adam": "adam-password-1"}
TIER_ALERT = "model-tier-alert-div.children"


def _directory(**roles) -> auth.Directory:
    return auth.Directory({name: auth.UserRecord(name, role, auth.hash_password(PASSWORDS.get(
        name, f"{name}-password-1"))) for name, role in roles.items()})


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("auth")


@pytest.fixture(scope="module")
def users_path(folder) -> Path:
    path = folder / "users.toml"
    write_users(path, _directory(ann="analyst", adam="admin"))
    return path


@pytest.fixture(scope="module")
def settings(folder, users_path) -> Settings:
    return Settings(login=True, users_path=str(users_path), cache_dir=str(folder / "cache"),
                    demo_size=DEMO_SIZE, demo_events=False, upload_dir=str(folder / "uploads"))


@pytest.fixture(scope="module")
def login_app(settings):
    app = create_app(settings, progress=lambda m: None)
    app.server.extensions[auth.EXTENSION].fail_delay = 0  # the delay is checked on its own
    # Complete the callback map now (Dash does it on the first signed-in request), before
    # another test module's app takes the pages' callbacks.
    client = app.server.test_client()
    sign_in(client, "adam")
    assert client.get("/_dash-dependencies").status_code == 200
    return app


@pytest.fixture
def anonymous(login_app):
    return login_app.server.test_client()


@pytest.fixture
def analyst(login_app):
    client = login_app.server.test_client()
    assert sign_in(client, "ann").status_code == 302
    return client


@pytest.fixture
def admin(login_app):
    client = login_app.server.test_client()
    assert sign_in(client, "adam").status_code == 302
    return client


def form_token(client, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sign_in(client, name: str, password: str | None = None, next_path: str = "/"):
    token = form_token(client)
    return client.post("/login", data={"username": name, "csrf_token": token,
                                       "password": password or PASSWORDS[name],
                                       "next": next_path})


def callback_body(app, output_key: str, changed: str | None = None) -> dict:
    """A request for the callback `output_key` as the renderer sends it (values None, lists
    empty for ALL patterns)."""
    spec = app.callback_map[output_key]

    def listed(dep):
        many = dep["id"].startswith("{") and '["ALL"]' in dep["id"]
        return [] if many else {"id": json.loads(dep["id"]) if dep["id"].startswith("{")
                                else dep["id"], "property": dep["property"], "value": None}

    outputs = []
    for out in auth.callback_outputs(spec):
        cid, _, prop = out.rpartition(".")
        many = cid.startswith("{") and '["ALL"]' in cid
        outputs.append([] if many else {"id": json.loads(cid) if cid.startswith("{") else cid,
                                        "property": prop})
    multi = isinstance(spec["output"], list | tuple)
    return {"output": output_key, "outputs": outputs if multi else outputs[0],
            "inputs": [listed(d) for d in spec["inputs"]],
            "state": [listed(d) for d in spec["state"]],
            "changedPropIds": [changed] if changed else []}


def key_of(app, output: str) -> str:
    """The callback map key of the callback that has `output`."""
    keys = [k for k, spec in app.callback_map.items() if output in auth.callback_outputs(spec)]
    assert len(keys) == 1, (output, keys)
    return keys[0]


# ----- start-up -----------------------------------------------------------------------------


def _public(tmp_path, users: Path, **kw) -> Settings:
    return Settings(host="0.0.0.0", users_path=str(users),
                    cache_dir=kw.pop("cache_dir", str(tmp_path / "cache")), **kw)


def test_login_is_off_on_loopback_and_required_elsewhere(tmp_path):
    missing = tmp_path / "none.toml"
    assert auth.startup_problem(Settings(users_path=str(missing))) is None
    problem = auth.startup_problem(_public(tmp_path, missing))
    assert str(missing) in problem and "does not exist" in problem and "0.0.0.0" in problem
    assert f"python -m dashboard.users --users {missing} add NAME --role admin" in problem
    on = auth.startup_problem(Settings(login=True, users_path=str(missing)))
    assert "--login" in on and str(missing) in on


@pytest.mark.parametrize("text, expected", [
    ("[users.bob]\nrole = \"boss\"\npassword = \"x\"\n",
     'users.bob.role: "boss" is not analyst or admin'),
    ("[users.bob]\nrole = \"admin\"\npassword = \"hunter22\"\n",
     "users.bob.password: must be a password hash"),
    ("[users.bob]\nrole = \"admin\"\n", "users.bob.password: must be a password hash"),
    ("[users.bob]\nrole = \"admin\"\npassword = \"{hash}\"\nrolle = 1\n",
     "users.bob.rolle: unknown key"),
    ("[users.bob]\nrole = \"admin\"\npassword = \"{hash}\"\n[tokens.t1]\nuser = \"eve\"\n"
     "hash = \"sha256:" + "0" * 64 + "\"\n", 'tokens.t1.user: "eve" is not a user'),
    ("[users.bob]\nrole = \"admin\"\npassword = \"{hash}\"\n[tokens.t1]\nuser = \"bob\"\n"
     "hash = \"my-token\"\n", "tokens.t1.hash: must be sha256:"),
    ("[admins.bob]\n", "admins: unknown section"),
    ("[users.bob\n", "is not valid TOML"),
    ("", "has no user"),
    ("[users]\n", "has no user"),
])
def test_a_malformed_users_file_is_named_with_its_key(tmp_path, text, expected):
    path = tmp_path / "users.toml"
    path.write_text(text.replace("{hash}", auth.hash_password("right-password")))
    problem = auth.startup_problem(_public(tmp_path, path))
    assert problem is not None and str(path) in problem and expected in problem, problem
    if "has no user" in expected:
        assert "python -m dashboard.users" in problem


def test_an_unreadable_users_file_and_key_are_refused(tmp_path):
    folder = tmp_path / "users.toml"
    folder.mkdir()  # a folder where the file should be
    assert "cannot be read" in auth.startup_problem(_public(tmp_path, folder))
    good = tmp_path / "good.toml"
    write_users(good, _directory(bob="admin"))
    assert auth.startup_problem(_public(tmp_path, good)) is None
    blocker = tmp_path / "file"
    blocker.write_text("")
    problem = auth.startup_problem(_public(tmp_path, good, cache_dir=str(blocker / "cache")))
    assert "session key" in problem and "cache.session.key" in problem


def test_the_session_key_is_made_once_private_and_shared(settings, login_app):
    path = auth.session_key_path(settings)
    assert path == Path(settings.cache_dir + ".session.key")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Every process that loads the app signs with the same key: sessions hold in any worker.
    assert auth.load_session_key(path) == login_app.server.secret_key == path.read_bytes()


# ----- what needs a session -----------------------------------------------------------------


def test_pages_redirect_to_the_login_form(anonymous):
    response = anonymous.get("/segments?x=1")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login" and not location.netloc
    assert parse_qs(location.query) == {"next": ["/segments?x=1"]}
    page = anonymous.get(response.headers["Location"])
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert 'id="login-username"' in html and 'type="password"' in html
    assert 'name="next" value="/segments?x=1"' in html
    assert "https://" not in html and "http://" not in html  # no CDN


@pytest.mark.parametrize("method, path", [
    ("GET", "/_dash-layout"), ("GET", "/_dash-dependencies"),
    ("GET", "/_dash-component-suites/dash/dash-renderer/build/dash_renderer.v4_4_1m.min.js"),
    ("GET", "/assets/10-app.css"), ("GET", "/assets/upload.js"),
    ("GET", "/assets/vendor/fonts/../../10-app.css"),
    ("GET", "/export/csv"), ("GET", "/export/campaign/1/csv"), ("GET", "/export/risers/csv"),
    ("POST", "/upload?name=a.csv"), ("POST", CALLBACK), ("POST", "/api/score"),
])
def test_everything_else_is_a_401_without_a_session(anonymous, method, path):
    response = anonymous.open(path, method=method, json={} if method == "POST" else None)
    assert response.status_code == 401, (path, response.status_code)
    if path in (CALLBACK, "/api/score"):
        assert "sign in" in response.get_json()["error"]
    if path == "/api/score":
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_login_form_files_are_public(anonymous):
    for path in sorted(auth.PUBLIC_PATHS):
        assert anonymous.get(path).status_code == 200, path


def test_a_session_opens_pages_layout_callbacks_and_exports(login_app, analyst):
    assert analyst.get("/segments").status_code == 200
    layout = analyst.get("/_dash-layout")
    assert layout.status_code == 200
    text = layout.get_data(as_text=True)
    assert "app-user-text" in text and "ann" in text and "analyst" in text
    assert "Sign out" in text
    assert analyst.get("/_dash-dependencies").status_code == 200
    assert analyst.get("/assets/10-app.css").status_code == 200
    key = key_of(login_app, "app-filter-bar.style")
    body = callback_body(login_app, key, "app-url.pathname")
    body["inputs"][0]["value"] = "/segments"
    response = analyst.post(CALLBACK, json=body)
    assert response.status_code == 200, response.get_data()[:300]
    export = analyst.get("/export/csv?state=" + quote(json.dumps({"filters": {}})))
    assert export.status_code == 200 and export.mimetype == "text/csv"


def test_the_session_cookie(login_app):
    client = login_app.server.test_client()
    cookie = client.get("/login").headers["Set-Cookie"]
    assert cookie.startswith(auth.SESSION_COOKIE + "=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    https = login_app.server.test_client()
    signed = sign_in_over_https(https)
    assert "Secure" in signed.headers["Set-Cookie"] and "Expires=" in signed.headers["Set-Cookie"]


def sign_in_over_https(client):
    page = client.get("/login", base_url="https://localhost").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", base_url="https://localhost",
                       data={"username": "ann", "password": PASSWORDS["ann"],
                             "csrf_token": token})


# ----- signing in and out -------------------------------------------------------------------


def test_a_good_password_signs_in_and_goes_to_next(anonymous, login_app, caplog):
    with caplog.at_level(logging.INFO, logger=login_app.server.logger.name):
        response = sign_in(anonymous, "ann", next_path="/model?tab=1")
    assert response.status_code == 302 and response.headers["Location"] == "/model?tab=1"
    assert "signed in: ann (analyst)" in caplog.text
    assert PASSWORDS["ann"] not in caplog.text


@pytest.mark.parametrize("name, password", [("ann", "wrong-password"), ("nobody", "x" * 10),
                                            ("ann", "")])
def test_a_wrong_password_gets_one_generic_message(anonymous, login_app, caplog, name,
                                                   password):
    with caplog.at_level(logging.WARNING, logger=login_app.server.logger.name):
        response = sign_in(anonymous, name, password or " ")
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert auth.WRONG_LOGIN in response.get_data(as_text=True)
    assert f"sign-in failed for user '{name}'" in caplog.text
    if password:
        assert password not in caplog.text
    assert anonymous.get("/_dash-layout").status_code == 401


def test_what_the_form_shows_again_is_escaped(anonymous):
    html = sign_in(anonymous, '<img src=x onerror="alert(1)">', "wrong-password",
                   next_path='/x"><script>alert(1)</script>').get_data(as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x" in html
    assert "<script>alert" not in html


def test_a_failed_sign_in_waits(login_app, monkeypatch):
    """The app waits FAILED_LOGIN_DELAY after a failure (a fresh Auth has the delay)."""
    assert auth.FAILED_LOGIN_DELAY > 0
    waits = []
    extension = login_app.server.extensions[auth.EXTENSION]
    monkeypatch.setattr(extension, "fail_delay", auth.FAILED_LOGIN_DELAY)
    monkeypatch.setattr(extension, "pause", waits.append)
    sign_in(login_app.server.test_client(), "ann", "wrong-password")
    assert waits == [auth.FAILED_LOGIN_DELAY]


def test_the_csrf_token_is_required(login_app):
    client = login_app.server.test_client()
    form = {"username": "ann", "password": PASSWORDS["ann"]}
    assert client.post("/login", data=form).status_code == 400
    other = login_app.server.test_client()
    stolen = form_token(other)
    form_token(client)
    assert client.post("/login", data={**form, "csrf_token": stolen}).status_code == 400
    assert client.get("/_dash-layout").status_code == 401
    assert client.post("/login", data={**form, "csrf_token": form_token(client)}) \
        .status_code == 302


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example",
                                    "http:/evil", "evil.example", "/\t/evil.example", "/login",
                                    "javascript:alert(1)", None, 5])
def test_next_never_leaves_the_site(anonymous, target):
    assert auth.safe_next(target) == "/"
    if isinstance(target, str):
        response = sign_in(anonymous, "ann", next_path=target)
        assert response.headers["Location"] == "/"


def test_next_keeps_a_path_on_the_site():
    assert auth.safe_next("/customers?tier=High") == "/customers?tier=High"
    assert auth.safe_next("/%2F%2Fevil") == "/%2F%2Fevil"  # still a path of this site


def test_sign_out_needs_the_token_and_ends_the_session(analyst):
    assert "Sign out" in analyst.get("/logout").get_data(as_text=True)
    assert analyst.post("/logout").status_code == 400  # no token: still signed in
    assert analyst.get("/_dash-layout").status_code == 200
    token = form_token(analyst, "/logout")
    response = analyst.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert analyst.get("/_dash-layout").status_code == 401
    assert analyst.get("/logout").status_code == 302


def test_a_session_ends_after_its_lifetime(analyst):
    with analyst.session_transaction() as session:
        session["_at"] -= auth.SESSION_HOURS * 3600 + 1
    assert analyst.get("/_dash-layout").status_code == 401
    assert analyst.get("/").status_code == 302


# ----- the users file while serving ---------------------------------------------------------


def test_users_file_changes_apply_without_a_restart(login_app, users_path):
    before = users_path.read_bytes()
    try:
        client = login_app.server.test_client()
        assert sign_in(client, "nina", "nina-password-1").status_code == 200  # the form again
        write_users(users_path, _directory(ann="analyst", adam="admin", nina="analyst"))
        assert sign_in(client, "nina", "nina-password-1").status_code == 302
        assert client.get("/_dash-layout").status_code == 200
        # A new password ends the sessions opened with the old one.
        changed = auth.load_users(users_path)
        nina = auth.UserRecord("nina", "analyst", auth.hash_password("nina-password-2"))
        write_users(users_path, auth.Directory({**changed.users, "nina": nina}))
        assert client.get("/_dash-layout").status_code == 401
        assert sign_in(client, "nina", "nina-password-2").status_code == 302
        # Removed: out at once.
        write_users(users_path, _directory(ann="analyst", adam="admin"))
        assert client.get("/_dash-layout").status_code == 401
    finally:
        users_path.write_bytes(before)


def test_a_broken_users_file_lets_nobody_in(login_app, users_path, analyst):
    before = users_path.read_bytes()
    try:
        users_path.write_text("[users.ann\n")
        assert analyst.get("/_dash-layout").status_code == 401
        assert sign_in(login_app.server.test_client(), "ann").status_code == 200
    finally:
        users_path.write_bytes(before)
    assert sign_in(login_app.server.test_client(), "ann").status_code == 302


# ----- API tokens ---------------------------------------------------------------------------


def test_an_api_token_scores_and_a_revoked_one_does_not(login_app, users_path):
    before = users_path.read_bytes()
    svc = login_app.server.config[CONFIG_KEY]
    customer = features_of(svc, 0)
    token, digest = auth.new_token()
    directory = auth.load_users(users_path)
    record = auth.TokenRecord("ann-1", "ann", digest, "2025-01-01T00:00:00Z")
    write_users(users_path, auth.Directory(directory.users, {"ann-1": record}))
    assert token not in users_path.read_text()
    client = login_app.server.test_client()
    try:
        response = client.post("/api/score", json=customer,
                               headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
        assert 0 <= response.get_json()["churn_probability"] <= 1
        assert "Set-Cookie" not in response.headers  # no session for a token
        for bad in (f"Bearer {token}x", "Bearer ", f"Basic {token}", token):
            answer = client.post("/api/score", json=customer, headers={"Authorization": bad})
            assert answer.status_code == 401, bad
            assert "token" in answer.get_json()["error"]
        # A token is for the API only, never for pages or callbacks.
        page = client.get("/_dash-layout", headers={"Authorization": f"Bearer {token}"})
        assert page.status_code == 401
        write_users(users_path, directory)  # revoked
        revoked = client.post("/api/score", json=customer,
                              headers={"Authorization": f"Bearer {token}"})
        assert revoked.status_code == 401
    finally:
        users_path.write_bytes(before)


def test_a_session_may_call_the_api_too(login_app, analyst):
    customer = features_of(login_app.server.config[CONFIG_KEY], 0)
    assert analyst.post("/api/score", json=customer).status_code == 200


# ----- roles --------------------------------------------------------------------------------


def test_admin_outputs_match_the_apps_callbacks(login_app):
    """Every admin-only output is an output of exactly one callback, the one named: a
    renamed id or a moved output fails here instead of leaving a callback open."""
    for output, (module, name, reason) in auth.ADMIN_OUTPUTS.items():
        spec = login_app.callback_map[key_of(login_app, output)]
        function = getattr(spec["callback"], "__wrapped__", spec["callback"])
        assert (function.__module__, function.__name__) == (module, name), output
        assert reason and not reason.endswith(".")


@pytest.mark.parametrize("output", sorted(auth.ADMIN_OUTPUTS))
def test_an_analyst_cannot_run_an_admin_callback(login_app, analyst, output):
    body = callback_body(login_app, key_of(login_app, output))
    response = analyst.post(CALLBACK, json=body)
    assert response.status_code == 403, response.get_data()[:300]
    message = response.get_json()["error"]
    assert message.startswith(f"only admins can {auth.ADMIN_OUTPUTS[output][2]}")
    assert "ann (analyst)" in message


def test_the_tier_change_is_for_admins(login_app, analyst, admin):
    """The Model page's Confirm: an analyst is refused before the callback runs (the tiers
    stay), an admin gets the callback's answer."""
    tiers = login_app.server.config[CONFIG_KEY].tiers
    before = tiers.current()
    body = callback_body(login_app, key_of(login_app, TIER_ALERT),
                         "model-tier-confirm-button.n_clicks")
    body["inputs"][0]["value"] = 1
    body["state"][0]["value"] = {"high": 0.6, "medium": 0.3}
    assert analyst.post(CALLBACK, json=body).status_code == 403
    assert tiers.current() == before
    response = admin.post(CALLBACK, json=body)
    assert response.status_code == 200, response.get_data()[:300]
    assert "Changed for every user" in json.dumps(response.get_json()["response"])
    assert tiers.current() != before
    assert tiers.history()[-1]["by"] == "adam"      # who changed them, in the history
    assert '"adam"' in json.dumps(response.get_json()["response"])
    tiers.undo()


def test_is_admin_follows_the_signed_in_role(login_app, analyst, admin):
    for client, expected in ((analyst, False), (admin, True)):
        with client:
            client.get("/_dash-layout")
            assert auth.is_admin() is expected
            assert auth.signed_in()[1] == ("admin" if expected else "analyst")


# ----- login off ----------------------------------------------------------------------------


def test_login_off_on_loopback_leaves_everything_open(app, client, svc):
    """The default app (127.0.0.1, no --login): no form, no session key, no 401 or 403."""
    assert auth.EXTENSION not in app.server.extensions and app.server.secret_key is None
    assert client.get("/segments").status_code == 200
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200 and b"app-user-text" not in layout.data
    assert client.post("/api/score", json=features_of(svc, 0)).status_code == 200
    assert b"login-username" not in client.get("/login").data  # Dash's page, not the form
    with app.server.test_request_context():
        assert auth.is_admin() is True and auth.signed_in() is None
    # An admin-only callback when login is on (here: no upload, so it only says so).
    body = callback_body(app, key_of(app, "data-preview-div.children"))
    assert client.post(CALLBACK, json=body).status_code == 200


@pytest.mark.parametrize("path,control", [
    ("/model", "model-apply-tier-button"), ("/campaign", "campaign-record-button"),
    ("/effectiveness", "effectiveness-measured-button")])
def test_an_analyst_sees_the_admin_controls_disabled(login_app, analyst, admin, path, control):
    """The server refuses them either way (above); the page says so before the click."""
    def page(client) -> str:
        body = callback_body(login_app, key_of(login_app, "_pages_content.children"),
                             "_pages_location.pathname")
        body["inputs"] = [{**d, "value": path} if d["property"] == "pathname" else d
                          for d in body["inputs"]]
        answer = client.post("/_dash-update-component", json=body)
        assert answer.status_code == 200
        return answer.get_data(as_text=True)

    def button(text: str) -> dict:
        start = text.index(f'"id":"{control}"')
        return text[text.rindex("{", 0, start):start + 300]

    assert '"disabled":true' in button(page(analyst)).replace(" ", "")
    assert "admins only" in page(analyst)
    assert '"disabled":true' not in button(page(admin)).replace(" ", "")
