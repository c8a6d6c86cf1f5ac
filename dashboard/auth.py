"""Login, roles and API tokens (Flask-Login over a TOML users file).

Login is off on a loopback address (everyone is effectively an admin, the app behaves as if
this module did not exist) and required on any other address or with --login
(`Settings.login_required`); `startup_problem` refuses to start without a usable users file.

The users file (default data/users.toml; `python -m dashboard.users` writes it) holds hashes
only, never a password or a token::

    [users.alice]
    role = "admin"                        # or "analyst"
    password = "scrypt:32768:8:1$...$..."  # werkzeug.security.generate_password_hash

    [tokens.alice-1]                      # an API token for /api/score
    user = "alice"
    hash = "sha256:<64 hex>"
    created = "2025-01-31T09:00:00Z"

It is re-read in every worker when it changes (a stat per request), so a user added, removed
or given a new password while the server runs takes effect at once everywhere. A file that
turns malformed while serving lets nobody in (logged) until it is fixed.

What is protected, when login is on: everything but `/login`, `/logout` and the few static
files the login form uses (PUBLIC_PATHS). A page request without a session is redirected to
`/login?next=<path>`; any other request (Dash's `/_...` routes, `/assets/`, `/export/`,
`/upload`, `/api/`) gets a 401. `/api/*` also accepts `Authorization: Bearer <token>`
(no cookie, hence no CSRF). Dash callbacks that change shared state are admin-only
(ADMIN_OUTPUTS); an analyst who triggers one gets a 403 before it runs. `/upload` is open to
every signed-in user (the Score page scores an uploaded file); what turns an upload into the
data in service or a campaign's outcomes is an admin-only callback.

Sessions are Flask's signed cookies (HttpOnly, SameSite=Lax, Secure on HTTPS), signed with a
key file made once beside the cache (`<cache_dir>.session.key`, 0600), so every worker
process accepts every session. A session lasts SESSION_HOURS from sign-in; it ends sooner when
its user is removed or gets a new password (the session carries a keyed stamp of the hash).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import stat
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import flask
from dash._utils import clean_property_name
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from werkzeug.security import check_password_hash, generate_password_hash

from dashboard.errors import DASH_DISPATCH, clip, client_error
from dashboard.settings import DEFAULT_USERS

log = logging.getLogger(__name__)

ROLES = ("analyst", "admin")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
NAME_RULE = "1-64 letters, digits and . _ @ -, starting with a letter or digit"
PASSWORD_METHODS = ("scrypt", "pbkdf2")   # werkzeug.security's hash methods
TOKEN_PREFIX = "sha256:"
EXTENSION = "churnlens_auth"              # app.extensions key of the Auth object
LOGIN_PATH, LOGOUT_PATH = "/login", "/logout"
CSRF_FIELD = "csrf_token"
SESSION_HOURS = 12
SESSION_COOKIE = "churnlens_session"      # not "session": several apps may share a host
FAILED_LOGIN_DELAY = 0.5                  # seconds, on every failed sign-in
MAX_PASSWORD_CHARS = 1024
WRONG_LOGIN = "wrong user name or password"
ADMIN_HINT = "admins only"                # beside a control an analyst sees disabled
# What the login form itself needs, readable without a session (exact paths only: a
# prefix would let "/assets/vendor/fonts/../x.js" through).
PUBLIC_PATHS = frozenset({
    "/assets/lazy/login.css", "/assets/05-fonts.css", "/_favicon.ico",
    *(f"/assets/vendor/fonts/inter-latin-{w}-normal.woff2" for w in (400, 500, 600, 700)),
})
# Requests that are not pages: never redirected to the form, a 401 instead.
NOT_PAGES = ("/_", "/api/", "/export/", "/assets/", "/upload")

# Callbacks only an admin may run, by one of their outputs ("<id>.<property>"): the output,
# the callback it belongs to (module, function; tests/ui/test_auth.py checks both against
# the app's callback map, so a renamed id or a moved output cannot unprotect a callback),
# and what an analyst is told ("only admins can ...").
ADMIN_OUTPUTS = {
    # Data page, "Load data": an uploaded file read, configured, trained, put in service.
    "data-preview-div.children": ("pages.data", "show_preview", "load data"),
    "data-roles-store.data": ("pages.data", "collect_roles", "load data"),
    "data-config-download.data": ("pages.data", "download_config", "load data"),
    "data-trained-store.data": ("dashboard.jobs", "train_upload", "train a model on new data"),
    "data-redirect-location.href": ("pages.data", "switch_dataset",
                                    "switch the dataset in service"),
    # Model page: the High/Medium cut-offs shared by every user (apply and undo).
    "model-tier-alert-div.children": ("pages.model", "change_tiers", "change the risk tiers"),
    # Campaign page: record a campaign (its members and control group).
    "campaign-record-result-div.children": ("pages.campaign", "record_campaign",
                                            "create campaigns"),
    # Effectiveness page: import a campaign's outcomes file.
    "effectiveness-import-div.children": ("pages.effectiveness", "import_outcomes",
                                          "import campaign outcomes"),
    # Effectiveness page: "use the measured acceptance" rewrites the offers in use.
    "effectiveness-measured-div.children": ("pages.effectiveness", "use_measured",
                                            "change the offers"),
}


# ----- the users file ---------------------------------------------------------------------


class UsersFileError(ValueError):
    """The users file cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class UserRecord:
    name: str
    role: str
    password: str  # a werkzeug hash


@dataclass(frozen=True)
class TokenRecord:
    label: str
    user: str
    hash: str      # TOKEN_PREFIX + sha256 hex of the token
    created: str = ""


@dataclass(frozen=True)
class Directory:
    """The users file's contents."""

    users: dict[str, UserRecord] = field(default_factory=dict)
    tokens: dict[str, TokenRecord] = field(default_factory=dict)


def add_user_hint(path) -> str:
    """The command that adds a user to the users file at `path`."""
    where = "" if os.path.abspath(path) == os.path.abspath(DEFAULT_USERS) else f" --users {path}"
    return f"python -m dashboard.users{where} add NAME --role admin"


def load_users(path) -> Directory:
    """The users file at `path`, checked. OSError when it cannot be read (FileNotFoundError
    when missing), UsersFileError when it is not a valid users file."""
    with open(path, "rb") as handle:
        raw = handle.read()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsersFileError(f"{path} is not valid TOML ({exc})") from None
    return parse_users(data, path)


def parse_users(data: dict, path) -> Directory:
    """A Directory from the users file's TOML; UsersFileError names the file and the key."""
    def bad(key: str, problem: str):
        raise UsersFileError(f"{path}: {key}: {problem}")

    for key in data:
        if key not in ("users", "tokens"):
            bad(key, "unknown section (a users file has [users.NAME] and [tokens.LABEL])")
    users: dict[str, UserRecord] = {}
    for name, entry in _tables(data, "users", bad).items():
        if not NAME_PATTERN.fullmatch(name):
            bad(f"users.{name}", f"a user name is {NAME_RULE}")
        if not isinstance(entry, dict):
            bad(f"users.{name}", "must be a table with role and password")
        for key in entry:
            if key not in ("role", "password"):
                bad(f"users.{name}.{key}", "unknown key (a user has role and password)")
        role = entry.get("role")
        if role not in ROLES:
            bad(f"users.{name}.role", f"{_shown(role)} is not analyst or admin")
        password = entry.get("password")
        if not isinstance(password, str) or not _is_password_hash(password):
            bad(f"users.{name}.password", "must be a password hash (scrypt or pbkdf2, as "
                                          "python -m dashboard.users writes), never a password")
        users[name] = UserRecord(name, role, password)
    tokens: dict[str, TokenRecord] = {}
    for label, entry in _tables(data, "tokens", bad).items():
        if not NAME_PATTERN.fullmatch(label):
            bad(f"tokens.{label}", f"a token label is {NAME_RULE}")
        if not isinstance(entry, dict):
            bad(f"tokens.{label}", "must be a table with user and hash")
        for key in entry:
            if key not in ("user", "hash", "created"):
                bad(f"tokens.{label}.{key}", "unknown key (a token has user, hash, created)")
        if entry.get("user") not in users:
            bad(f"tokens.{label}.user", f"{_shown(entry.get('user'))} is not a user of the file")
        digest = entry.get("hash")
        if not isinstance(digest, str) or not re.fullmatch(
                re.escape(TOKEN_PREFIX) + "[0-9a-f]{64}", digest):
            bad(f"tokens.{label}.hash", f"must be {TOKEN_PREFIX} and 64 hex digits, never the "
                                        "token itself")
        created = entry.get("created", "")
        tokens[label] = TokenRecord(label, entry["user"], digest,
                                    created if isinstance(created, str) else str(created))
    return Directory(users, tokens)


def _tables(data: dict, key: str, bad) -> dict:
    section = data.get(key, {})
    if not isinstance(section, dict):
        bad(key, "must be a table")
    return section


def _is_password_hash(text: str) -> bool:
    parts = text.split("$")
    return len(parts) == 3 and parts[0].split(":")[0] in PASSWORD_METHODS and all(parts[1:])


def _shown(value) -> str:
    return f'"{clip(value, 40)}"' if isinstance(value, str) else "missing" if value is None \
        else clip(repr(value), 40)


def hash_password(password: str) -> str:
    """Werkzeug's salted scrypt hash (its default method)."""
    return generate_password_hash(password)


def new_token() -> tuple[str, str]:
    """(token, its stored hash): 32 random bytes, URL-safe."""
    token = secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token: str) -> str:
    """The stored form of an API token. A fast unsalted hash is enough here: a token is 256
    random bits, so there is nothing to guess from its hash (a slow salted hash such as scrypt
    protects low-entropy passwords), and checking a token must cost microseconds on every
    API call, not the 50 ms of a password hash."""
    return TOKEN_PREFIX + hashlib.sha256(token.encode("utf-8")).hexdigest()


class UserStore:
    """The users file, re-read when it changes (its mtime, size or inode)."""

    def __init__(self, path) -> None:
        self.path = Path(path)
        self._seen: tuple | None = None
        self._directory = Directory()

    def current(self) -> Directory:
        try:
            info = os.stat(self.path)
            seen = (info.st_mtime_ns, info.st_size, info.st_ino)
        except OSError as exc:
            seen = ("missing", type(exc).__name__)
        if seen != self._seen:
            try:
                directory = load_users(self.path)
            except (OSError, UsersFileError) as exc:
                log.error("the users file cannot be used, nobody can sign in until it is "
                          "fixed: %s", reason(exc, self.path))
                directory = Directory()
            self._directory, self._seen = directory, seen
        return self._directory


def reason(exc: Exception, path) -> str:
    """One sentence for an exception of `load_users`."""
    if isinstance(exc, UsersFileError):
        return str(exc)
    return f"cannot read {path} ({getattr(exc, 'strerror', None) or exc})"


# ----- the session key --------------------------------------------------------------------


def session_key_path(settings) -> Path:
    """`<cache_dir>.session.key` beside the cache folder (as the cache signing key), or
    beside the users file when there is no cache."""
    if settings.cache_dir:
        root = Path(os.path.abspath(settings.cache_dir))
        return root.parent / f"{root.name}.session.key"
    users = Path(os.path.abspath(settings.users_path))
    return users.parent / f"{users.stem}.session.key"


def load_session_key(path: Path) -> bytes:
    """The session signing key at `path`, made once (32 random bytes, 0600): mkstemp then a
    hard link publishes it whole, and when two processes race both use the one linked first."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(32))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        except OSError:  # no hard links on this file system
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(Path(temp).read_bytes())
        else:
            log.warning("created the session key %s (keep it private)", path)
    finally:
        try:
            os.unlink(temp)
        except OSError:
            pass
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    with open(path, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path} is not a regular file")
        secret = handle.read(4096)
    if len(secret) < 32:
        raise OSError(f"{path} holds {len(secret)} bytes, at least 32 random bytes are "
                      "needed; delete it to make a new one")
    if info.st_mode & 0o077:
        log.warning("other users can read the session key %s (chmod 600 it)", path)
    return secret


# ----- start-up ---------------------------------------------------------------------------


def startup_problem(settings) -> str | None:
    """Why the server must not start with these settings (login required and no usable
    users file, or no session key), or None."""
    if not settings.login_required:
        return None
    path = settings.users_path
    why = "login is on (--login)" if settings.login else \
        f"login is required on --host {settings.host} (it is off only on 127.0.0.1, " \
        "localhost and ::1)"
    try:
        directory = load_users(path)
    except FileNotFoundError:
        return f"{why} and the users file {path} does not exist; add a user with " \
               f"`{add_user_hint(path)}`"
    except OSError as exc:
        return f"{why} and the users file {path} cannot be read " \
               f"({getattr(exc, 'strerror', None) or exc})"
    except UsersFileError as exc:
        return f"{why} and the users file is not valid: {exc}"
    if not directory.users:
        return f"{why} and the users file {path} has no user; add one with " \
               f"`{add_user_hint(path)}`"
    key = session_key_path(settings)
    try:
        load_session_key(key)
    except OSError as exc:
        return f"{why} and the session key {key} cannot be made or read " \
               f"({getattr(exc, 'strerror', None) or exc})"
    return None


# ----- in a request -----------------------------------------------------------------------


class User(UserMixin):
    """A signed-in user (Flask-Login's user object)."""

    def __init__(self, name: str, role: str, stamp: str) -> None:
        self.name, self.role, self.stamp = name, role, stamp

    def get_id(self) -> str:
        return f"{self.name}:{self.stamp}"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _auth() -> Auth | None:
    if not flask.has_app_context():
        return None
    return flask.current_app.extensions.get(EXTENSION)


def signed_in() -> tuple[str, str] | None:
    """(name, role) of the signed-in user, or None (login off, or nobody signed in)."""
    if _auth() is None or not flask.has_request_context() or not current_user.is_authenticated:
        return None
    return current_user.name, current_user.role


def user_name() -> str | None:
    """The signed-in user's name (None with login off): who made a change."""
    return (signed_in() or (None, None))[0]


def is_admin() -> bool:
    """Whether the current user may run the admin-only callbacks: always when login is off
    (everyone is effectively an admin), else only an admin. For page layouts."""
    if _auth() is None:
        return True
    return flask.has_request_context() and current_user.is_authenticated and \
        current_user.is_admin


def csrf_token() -> str:
    """This session's token for the login and sign-out forms (made on first use)."""
    token = flask.session.get("_csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = flask.session["_csrf"] = secrets.token_urlsafe(32)
    return token


def _csrf_ok() -> bool:
    sent, kept = flask.request.form.get(CSRF_FIELD, ""), flask.session.get("_csrf")
    return isinstance(kept, str) and bool(sent) and hmac.compare_digest(
        sent.encode("utf-8"), kept.encode("utf-8"))


def safe_next(target) -> str:
    """`target` when it is a path on this site ("/segments?x=1"), else "/": never another
    site ("//evil.example", "https://...", "/\\evil"), never the login pages themselves."""
    if not isinstance(target, str) or not target.startswith("/") or len(target) > 2000:
        return "/"
    if target.startswith("//") or "\\" in target or any(
            ord(c) < 32 or ord(c) == 127 for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path in (LOGIN_PATH, LOGOUT_PATH):
        return "/"
    return target


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the Secure flag on every HTTPS request (or
    always, when SESSION_COOKIE_SECURE is set)."""

    def get_cookie_secure(self, app) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or (
            flask.has_request_context() and flask.request.is_secure)


class Auth:
    """Login, roles and tokens of one app (kept in `server.extensions[EXTENSION]`)."""

    def __init__(self, app, settings) -> None:
        self.app = app
        self.users = UserStore(settings.users_path)
        self.secret = load_session_key(session_key_path(settings))
        self.fail_delay = FAILED_LOGIN_DELAY
        self.pause = time.sleep  # a failed sign-in waits fail_delay seconds
        self._dummy_hash: str | None = None

    # ----- users and tokens -------------------------------------------------------------
    def stamp(self, record: UserRecord) -> str:
        """A keyed stamp of the user's password hash: a new password ends old sessions."""
        return hmac.new(self.secret, record.password.encode("utf-8"),
                        hashlib.sha256).hexdigest()[:24]

    def load_user(self, user_id: str) -> User | None:
        name, _, stamp = str(user_id).partition(":")
        record = self.users.current().users.get(name)
        if record is None or not hmac.compare_digest(self.stamp(record), stamp):
            return None
        return User(record.name, record.role, stamp)

    def token_user(self, header: str | None) -> User | None:
        """The user of a valid `Bearer <token>` header, else None."""
        scheme, _, token = (header or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > 200:
            return None
        directory = self.users.current()
        digest = token_digest(token)
        found = None
        for record in directory.tokens.values():  # compare with every one (constant time)
            if hmac.compare_digest(record.hash, digest):
                found = record
        user = directory.users.get(found.user) if found else None
        return User(user.name, user.role, self.stamp(user)) if user else None

    def check_password(self, name: str, password: str) -> User | None:
        record = self.users.current().users.get(name)
        if self._dummy_hash is None:
            self._dummy_hash = generate_password_hash(secrets.token_urlsafe(16))
        # An unknown name costs the same hash check as a wrong password.
        hashed = record.password if record else self._dummy_hash
        good = check_password_hash(hashed, password[:MAX_PASSWORD_CHARS])
        if record is None or not good or len(password) > MAX_PASSWORD_CHARS:
            return None
        return User(record.name, record.role, self.stamp(record))

    # ----- the gates --------------------------------------------------------------------
    def require_login(self):
        """Before every request: let through the login pages, their static files, a valid
        API token on /api/, and signed-in sessions; redirect pages, refuse the rest."""
        request = flask.request
        path = request.path
        if request.endpoint in ("churnlens_login", "churnlens_logout") or path in PUBLIC_PATHS:
            return None
        if path.startswith("/api/") and "Authorization" in request.headers:
            if self.token_user(request.headers["Authorization"]) is None:
                return self.refuse(401, "the API token is not valid (unknown or revoked); "
                                        "send Authorization: Bearer <token>")
            return None
        if self.session_valid():
            return None
        if request.method in ("GET", "HEAD") and not path.startswith(NOT_PAGES):
            query = request.query_string.decode("utf-8", "replace")
            target = path + (f"?{query}" if query else "")
            return flask.redirect(f"{LOGIN_PATH}?{urlencode({'next': safe_next(target)})}")
        if path.startswith("/api/"):
            return self.refuse(401, "sign in first, or send Authorization: Bearer <token> "
                                    "(python -m dashboard.users token NAME makes one)")
        return self.refuse(401, "sign in first (your session has ended or you are not "
                                "signed in)")

    def require_role(self):
        """Before a callback runs (after errors.py checked the body): an admin-only callback
        is refused to an analyst."""
        rule = flask.request.url_rule
        if rule is None or not rule.endpoint.endswith(DASH_DISPATCH) or \
                not current_user.is_authenticated or current_user.is_admin:
            return None
        body = flask.request.get_json(silent=True)
        output = body.get("output") if isinstance(body, dict) else None
        callback = self.app.callback_map.get(output) if isinstance(output, str) else None
        reason = admin_reason(callback) if callback is not None else None
        if reason is None:
            return None
        flask.current_app.logger.warning("refused to %s (%s): only admins can %s",
                                         current_user.name, current_user.role, reason)
        return self.refuse(403, f"only admins can {reason}; you are signed in as "
                                f"{current_user.name} ({current_user.role})")

    @staticmethod
    def session_valid() -> bool:
        """A user is signed in, less than SESSION_HOURS ago (an older session is ended)."""
        if not current_user.is_authenticated:
            return False
        started = flask.session.get("_at")
        if isinstance(started, int | float) and \
                0 <= time.time() - started < SESSION_HOURS * 3600:
            return True
        logout_user()  # the session is over: sign in again
        flask.session.clear()
        return False

    @staticmethod
    def refuse(status: int, message: str):
        response = client_error(status, message)
        if status == 401 and flask.request.path.startswith("/api/"):
            response.headers["WWW-Authenticate"] = 'Bearer realm="ChurnLens"'
        return response

    # ----- the views ----------------------------------------------------------------------
    def login_view(self):
        request = flask.request
        target = safe_next(request.values.get("next"))
        if request.method == "GET":
            if self.session_valid():
                return flask.redirect(target)
            return _page("login", target=target)
        if not _csrf_ok():
            return _page("login", target=target, status=400,
                         message="the form had expired: sign in again")
        name = clip(request.form.get("username", "").strip(), 64)
        user = self.check_password(name, request.form.get("password", ""))
        address = request.remote_addr or "?"
        if user is None:
            flask.current_app.logger.warning("sign-in failed for user %r from %s", name,
                                             address)
            self.pause(self.fail_delay)
            # 200, as a form shown again (a 401 would need a WWW-Authenticate scheme).
            return _page("login", target=target, message=WRONG_LOGIN, username=name)
        flask.session.clear()  # a fresh session (and CSRF token) for the signed-in user
        login_user(user)
        flask.session.permanent = True
        flask.session["_at"] = int(time.time())
        flask.current_app.logger.info("signed in: %s (%s) from %s", user.name, user.role,
                                      address)
        return flask.redirect(target)

    def logout_view(self):
        if flask.request.method == "GET":
            if not current_user.is_authenticated:
                return flask.redirect(LOGIN_PATH)
            return _page("logout")
        if not _csrf_ok():
            return _page("logout", status=400, message="the form had expired: try again")
        if current_user.is_authenticated:
            flask.current_app.logger.info("signed out: %s", current_user.name)
        logout_user()
        flask.session.clear()
        return flask.redirect(LOGIN_PATH)


def admin_reason(callback: dict) -> str | None:
    """What an analyst may not do in this callback (from ADMIN_OUTPUTS), or None."""
    for output in callback_outputs(callback):
        if output in ADMIN_OUTPUTS:
            return ADMIN_OUTPUTS[output][2]
    return None


def callback_outputs(callback: dict) -> list[str]:
    """A callback map entry's outputs as "<id>.<property>" (no allow_duplicate suffix)."""
    declared = callback.get("output")
    declared = declared if isinstance(declared, list | tuple) else [declared]
    return [f"{out.component_id_str()}.{clean_property_name(out.component_property)}"
            for out in declared if out is not None]


def install(app, settings) -> None:
    """Login, roles and API tokens on the app's Flask server when login is required
    (nothing otherwise). Call after errors.install(app)."""
    if not settings.login_required:
        return
    server = app.server
    auth = Auth(app, settings)
    server.extensions[EXTENSION] = auth
    server.secret_key = auth.secret
    server.session_interface = _SessionInterface()
    server.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE, SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax", PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        SESSION_REFRESH_EACH_REQUEST=False)
    manager = LoginManager()
    manager.init_app(server, add_context_processor=False)
    manager.user_loader(auth.load_user)
    # Bearer tokens stand for a user on /api/ only (never for pages or callbacks).
    manager.request_loader(lambda request: auth.token_user(request.headers.get(
        "Authorization")) if request.path.startswith("/api/") else None)
    hooks = server.before_request_funcs.setdefault(None, [])
    # Right after errors.py's body-size check (a body announced too large is still refused
    # unread), before Dash's hooks and the callback-body check: nothing about the app's
    # callbacks is answered to a client that is not signed in.
    first = next((i + 1 for i, hook in enumerate(hooks)
                  if getattr(hook, "__name__", "") == "_refuse_large_body"), 0)
    hooks.insert(first, auth.require_login)
    hooks.append(auth.require_role)  # after errors.py checked the callback body
    server.add_url_rule(LOGIN_PATH, "churnlens_login", auth.login_view,
                        methods=["GET", "POST"])
    server.add_url_rule(LOGOUT_PATH, "churnlens_logout", auth.logout_view,
                        methods=["GET", "POST"])


# ----- the login page ---------------------------------------------------------------------

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ChurnLens · {{ "Sign out" if mode == "logout" else "Sign in" }}</title>
<link rel="icon" href="/_favicon.ico">
<link rel="stylesheet" href="/assets/05-fonts.css">
<link rel="stylesheet" href="/assets/lazy/login.css">
</head>
<body class="login-body">
<header class="login-bar"><a href="/" class="login-brand">ChurnLens</a></header>
<main class="login-main">
{% if mode == "logout" %}
<form class="login-card" method="post" action="{{ logout_path }}">
  <h1 class="login-title">Sign out of ChurnLens?</h1>
  {% if message %}
  <div class="login-error" role="alert" id="login-error">{{ message }}</div>
  {% endif %}
  <input type="hidden" name="{{ csrf_field }}" value="{{ csrf }}">
  <button type="submit" class="login-button" id="logout-submit">Sign out</button>
  <a class="login-note" href="/">Back to the dashboard</a>
</form>
{% else %}
<form class="login-card" method="post" action="{{ login_path }}" id="login-form">
  <h1 class="login-title">Sign in</h1>
  <p class="login-note">Churn analytics for your team.</p>
  {% if message %}
  <div class="login-error" role="alert" id="login-error">{{ message }}</div>
  {% endif %}
  <label class="login-label" for="login-username">User name</label>
  <input class="login-input" id="login-username" name="username" value="{{ username }}"
         autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus>
  <label class="login-label" for="login-password">Password</label>
  <input class="login-input" id="login-password" name="password" type="password"
         autocomplete="current-password" required>
  <input type="hidden" name="{{ csrf_field }}" value="{{ csrf }}">
  <input type="hidden" name="next" value="{{ target }}">
  <button type="submit" class="login-button" id="login-submit">Sign in</button>
  <p class="login-note">No account? An admin adds one on the server with
    <code>python -m dashboard.users add NAME</code>.</p>
</form>
{% endif %}
</main>
</body>
</html>
"""


def _page(mode: str, status: int = 200, message: str | None = None, target: str = "/",
          username: str = ""):
    """The login (or sign-out) form; Jinja escapes every value."""
    html = flask.render_template_string(
        PAGE, mode=mode, message=message, target=target, username=username,
        csrf=csrf_token(), csrf_field=CSRF_FIELD, login_path=LOGIN_PATH,
        logout_path=LOGOUT_PATH)
    response = flask.make_response(html, status)
    response.headers["Cache-Control"] = "no-store"
    return response
