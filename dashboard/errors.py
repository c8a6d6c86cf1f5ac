"""One error policy for every HTTP route of the app: limits, short answers, no traceback.

`install(app)` (called by the app factory) sets it up on the Dash app's Flask server:

- Request bodies are limited to MAX_BODY_BYTES (Flask's MAX_CONTENT_LENGTH); a larger body
  is answered 413 before it is read. The one exception is the upload route
  (UPLOAD_ENDPOINT), which sets its own per-request limit (dashboard/uploads.py).
- JSON read from a request refuses NaN and Infinity; JSON written never holds them
  (`allow_nan=False`: a non-finite number in an answer is a bug, never invalid JSON).
- A callback request is checked against the callback it names before Dash runs it: every
  input, state and output listed with the id and property the callback declares (Dash
  itself checks only their number), so a page's callback never sees an id it did not ask
  for.
- Client errors become a 4xx with one short sentence (JSON on the API and on Dash's
  callback endpoint, plain text elsewhere), logged as one line without a traceback: an
  HTTP error raised by Werkzeug (400, 404, 405, 413, 415...), JSON that does not decode or
  nests too deeply, a callback request that does not match its callback, and any other
  exception Dash raises while reading the body, before the page's callback runs.
- Anything else is a server error: the traceback goes to the log, the client gets a short
  500 without it. Under --debug (allowed on a loopback address only) it is re-raised, so
  the developer gets the Werkzeug debugger.
"""

from __future__ import annotations

import json
import traceback

import dash
import flask
from dash._utils import clean_property_name
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_MESSAGE = 200               # characters of a client error message
DASH_DISPATCH = "_dash-update-component"
# upload route: see dashboard/uploads.py. The one endpoint the 2 MB check below skips; it
# sets its own `request.max_content_length` (Flask >= 3.1) before reading the body.
UPLOAD_ENDPOINT = "churnlens_upload"
WILDCARDS = ('["ALL"]', '["MATCH"]', '["ALLSMALLER"]')
MESSAGES = {
    400: "bad request",
    404: "not found",
    405: "method not allowed",
    413: f"the request body is larger than the {MAX_BODY_BYTES // (1024 * 1024)} MB limit",
    414: "the request URL is too long",
    415: "send JSON (Content-Type: application/json)",
}


class ClientError(Exception):
    """A request this app refuses; the message is what the client is told."""

    status = 400


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, strict both ways: no NaN or Infinity in or out."""

    def dumps(self, obj, **kwargs) -> str:
        kwargs.setdefault("allow_nan", False)
        return super().dumps(obj, **kwargs)

    def loads(self, s, **kwargs):
        kwargs.setdefault("parse_constant", _refuse_constant)
        return super().loads(s, **kwargs)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def clip(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text` cut to `limit` characters (an ellipsis marks the cut)."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def install(app: dash.Dash) -> None:
    """Size limit, strict JSON, the callback-body check and the error handler on the Dash
    app's Flask server."""
    server = app.server
    server.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    server.json = StrictJSONProvider(server)
    hooks = server.before_request_funcs.setdefault(None, [])
    # First of the before-request hooks: a body announced too large is refused unread.
    hooks.insert(0, _refuse_large_body)
    # After Dash's own hook, which completes the callback map on the first request.
    hooks.append(lambda: check_callback_request(app) if _is_dash_dispatch() else None)
    server.register_error_handler(Exception, handle_error)
    # Dash answers a bad component-suite path with its own message (a 404, or a 500 for
    # an unknown library) which repeats the path.
    from dash.exceptions import DependencyException, InvalidResourceError

    for unknown in (InvalidResourceError, DependencyException):
        server.register_error_handler(
            unknown, lambda exc: client_error(404, "no such resource", exc))


def _refuse_large_body() -> None:
    if flask.request.endpoint == UPLOAD_ENDPOINT:  # upload route: see dashboard/uploads.py
        return
    length = flask.request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise RequestEntityTooLarge()


def handle_error(exc: Exception):
    """The one answer to an exception a view (or Dash) raised."""
    if isinstance(exc, ClientError):
        return client_error(exc.status, str(exc), exc)
    if isinstance(exc, HTTPException):
        if exc.code is None or exc.code < 400:
            return exc  # a redirect, not an error
        return client_error(exc.code, _http_message(exc), exc)
    message = client_message(exc)
    if message is not None:
        return client_error(400, message, exc)
    return server_error(exc)


def client_message(exc: Exception) -> str | None:
    """The short message of an exception caused by what the client sent; None for a bug."""
    if isinstance(exc, RecursionError) and "JSON" in str(exc):
        return "the JSON is nested too deeply"
    if _is_dash_dispatch() and _malformed_callback(exc):
        return f"malformed callback request ({type(exc).__name__}: {clip(str(exc), 120)})"
    if _is_dash_dispatch() and _bad_page_address(exc):
        return "malformed callback request: a page address must start with /"
    return None


def _bad_page_address(exc: Exception) -> bool:
    """Dash's pages router refuses a forged pathname that does not start with the app's
    prefix: what the client sent, not a bug."""
    from dash.exceptions import UnsupportedRelativePath

    return isinstance(exc, UnsupportedRelativePath)


def client_error(status: int, message: str, exc: Exception | None = None):
    message = clip(message)
    request = flask.request
    flask.current_app.logger.warning("%s %s: %d %s", request.method, clip(request.path, 100),
                                     status, message)
    response = _answer({"error": message}, message, status)
    allow = getattr(exc, "valid_methods", None)
    if status == 405 and allow:
        response.headers["Allow"] = ", ".join(allow)
    return response


def server_error(exc: Exception):
    app = flask.current_app
    if app.debug:
        raise exc  # the Werkzeug debugger, on a loopback address only (settings)
    app.log_exception((type(exc), exc, exc.__traceback__))
    return _answer({"error": "internal server error; the details are in the server log"},
                   "Internal server error; the details are in the server log.", 500)


def _answer(payload: dict, text: str, status: int):
    if _json_route():
        if flask.request.path.startswith("/api/"):
            payload = {**payload, "field": None, "index": None}
        response = flask.current_app.json.response(payload)
        response.status_code = status
        return response
    return flask.current_app.response_class(text + "\n", status=status, mimetype="text/plain")


def _json_route() -> bool:
    return flask.request.path.startswith("/api/") or _is_dash_dispatch()


def _http_message(exc: HTTPException) -> str:
    cause = exc.__cause__ or exc.__context__
    while isinstance(cause, HTTPException):
        cause = cause.__cause__ or cause.__context__
    if exc.code == 400 and isinstance(cause, ValueError):
        return f"the body is not valid JSON ({clip(str(cause), 100)})"
    return MESSAGES.get(exc.code, (exc.name or "error").lower())


# ----- Dash's callback endpoint ---------------------------------------------------------


def _is_dash_dispatch() -> bool:
    rule = flask.request.url_rule
    return rule is not None and rule.endpoint.endswith(DASH_DISPATCH)


def _dispatch_codes() -> tuple[set, set]:
    """Code objects that mark, in a traceback, the page's callback running and Dash
    checking what it returned (the markers Dash's own debugger uses)."""
    from dash import _callback, _validate

    running = {f.__code__ for f in (getattr(_callback, "_invoke_callback", None),
                                    getattr(_callback, "_async_invoke_callback", None)) if f}
    checking = {f.__code__ for f in (getattr(_callback, "_prepare_response", None),
                                     getattr(_validate, "fail_callback_output", None)) if f}
    return running, checking


def _malformed_callback(exc: Exception) -> bool:
    """True when Dash raised `exc` while reading a callback body, before the page's
    callback ran (or, for pattern-matching outputs, while matching what it returned to the
    outputs the request listed). An exception from inside the callback is a bug."""
    running, checking = _dispatch_codes()
    if not running:
        return False  # an unknown Dash: no way to tell a bad body from a bug
    view = flask.current_app.view_functions.get(flask.request.url_rule.endpoint)
    codes = {frame.f_code for frame, _ in traceback.walk_tb(exc.__traceback__)}
    if codes & running:
        return False
    if codes & checking:
        from dash.exceptions import InvalidCallbackReturnValue

        body = flask.request.get_json(silent=True)
        output = body.get("output") if isinstance(body, dict) else None
        return isinstance(exc, InvalidCallbackReturnValue) and isinstance(output, str) and \
            any(w in output for w in WILDCARDS)
    return getattr(view, "__code__", None) in codes


def check_callback_request(app: dash.Dash) -> None:
    """Raise ClientError unless the callback request names a callback of `app` and lists
    its inputs, state and outputs with the ids and properties that callback declares
    (pattern-matching ones as Dash sends them: a list for ALL, one item for MATCH)."""
    body = flask.request.get_json()  # not JSON: a 400 or 415 from Werkzeug
    if not isinstance(body, dict):
        raise ClientError("a callback request must be a JSON object")
    output = body.get("output")
    callback = app.callback_map.get(output) if isinstance(output, str) else None
    if callback is None:
        raise ClientError(f"no callback has the output {_shown(output)}")
    for key in ("inputs", "state"):
        declared = callback[key]
        items = body.get(key, [])
        if not isinstance(items, list) or len(items) != len(declared):
            raise ClientError(f"'{key}' must list the callback's {len(declared)} "
                              f"{key} (got {_shown(items)})")
        for item, dep in zip(items, declared):
            if item is None and dep.get("allow_optional"):
                continue  # an optional input whose component is not on the page
            _check_dependency(key, item, dep["id"], dep["property"], value=True)
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        raise ClientError("'changedPropIds' must be a list of texts")
    if "outputs" not in body or callback.get("no_output"):
        return
    declared = callback["output"]
    multi = isinstance(declared, (list, tuple))
    specs = body["outputs"] if multi else [body["outputs"]]
    if multi and (not isinstance(specs, list) or len(specs) != len(declared)):
        raise ClientError(f"'outputs' must list the callback's {len(declared)} outputs")
    for spec, out in zip(specs, declared if multi else [declared]):
        _check_dependency("outputs", spec, out.component_id_str(),
                          clean_property_name(out.component_property))


def _check_dependency(key: str, item, declared_id: str, prop: str, value=False) -> None:
    """One listed input, state or output against its declaration (an input or state of
    the `id` property carries its own id as the value, as the renderer sends it)."""
    pattern = json.loads(declared_id) if declared_id.startswith("{") else None
    many = pattern is not None and any(v in (["ALL"], ["ALLSMALLER"])
                                       for v in pattern.values())
    if many and not isinstance(item, list):
        raise ClientError(f"'{key}': {clip(declared_id, 80)} must be a list")
    for entry in item if many else [item]:
        if not isinstance(entry, dict) or not isinstance(entry.get("property"), str) or \
                clean_property_name(entry["property"]) != prop or \
                not _id_matches(entry.get("id"), declared_id, pattern):
            raise ClientError(f"'{key}': expected {clip(declared_id, 80)}.{prop} "
                              f"(got {_shown(entry)})")
        if value and prop == "id" and entry.get("value") != entry["id"]:
            raise ClientError(f"'{key}': the id of {clip(declared_id, 80)} must be its value")
        if value and "value" in entry:
            _check_value_type(key, declared_id, prop, entry["value"])


# What the renderer can send for these properties, whatever the component: anything else
# in a callback body is forged, and is refused before the callback runs.
NUMBER = (int, float)
PROP_TYPES = {
    "pathname": (str,), "search": (str,), "hash": (str,), "href": (str,),
    "n_clicks": (int,), "n_clicks_timestamp": (int,), "active_tab": (str,),
    "clickData": (dict,), "hoverData": (dict,), "selectedData": (dict,),
    "cellClicked": (dict,), "getRowsRequest": (dict,), "is_open": (bool,),
    "style": (dict,), "active_item": (str, list),
}
# Component values whose type is known from the component (by id; patterns by their type).
VALUE_TYPES = {
    "app-filters-store": ("data", (dict,)),
    "app-filter-tenure-slider": ("value", (list,)),
    "app-filter-everyone-switch": ("value", (bool,)),
}


def _check_value_type(key: str, declared_id: str, prop: str, value) -> None:
    """The value of a listed input or state is of a type the renderer sends for it."""
    if value is None:
        return
    allowed = PROP_TYPES.get(prop)
    known = VALUE_TYPES.get(declared_id)
    if known and known[0] == prop:
        allowed = known[1]
    elif prop == "value" and declared_id.startswith("app-filter-") and \
            declared_id.endswith("-dropdown"):
        allowed = (list, str)
    if allowed is None:
        return
    if bool in allowed or not isinstance(value, bool):
        if isinstance(value, allowed) and not (NUMBER == allowed and isinstance(value, bool)):
            return
    raise ClientError(f"'{key}': {clip(declared_id, 60)}.{prop} cannot be {_shown(value)}")


def _id_matches(cid, declared_id: str, pattern: dict | None) -> bool:
    if pattern is None:
        return cid == declared_id
    if not isinstance(cid, dict) or set(cid) != set(pattern):
        return False
    for key, value in pattern.items():
        if isinstance(value, list):  # a wildcard: any plain value
            if not isinstance(cid[key], (str, int, float)):
                return False
        elif cid[key] != value:
            return False
    return True


def _shown(value) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return clip(repr(value)[:100], 60)
