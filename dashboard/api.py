"""The JSON API: `POST /api/score` scores one customer (an object) or several (a list).
Another method is a 405 and another /api/ path a 404, both JSON (never the dashboard's page).

Bad input is a 400 with {"error", "field", "index"}: `analytics.scoring.validate_records` is
the one check of the records; a body that is not JSON, too large (413) or nested too deeply
is answered by dashboard/errors.py in the same shape. Answers are always valid JSON.
"""

from __future__ import annotations

import flask

from dashboard.errors import clip
from dashboard.services import Services
from dashboard.services.score import ScoreInputError


def register_api(server: flask.Flask, services: Services) -> None:
    """Add the API routes to the app's Flask server."""

    @server.route("/api/score", methods=["POST"])
    def score():
        if services.analysis is None:
            return _error(f"no model is loaded: {services.error}", 503)
        if not flask.request.is_json:
            return _error("the body must be JSON (Content-Type: application/json): a "
                          "customer object or a list", 400)
        payload = flask.request.get_json()  # invalid or too deep JSON: errors.py, 400
        try:
            return flask.jsonify(services.score.score(payload))
        except ScoreInputError as exc:
            return _error(str(exc), 400, exc.field, exc.index)
        except ValueError as exc:  # anything else the analytics refuse is still bad input
            return _error(clip(str(exc), 200), 400)


    @server.route("/api/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def no_such_api(rest: str):
        # Without it Dash's catch-all page route answered these with the dashboard's HTML.
        if rest == "score":  # POST is the route above
            response, status = _error("use POST with a JSON body: a customer object or a "
                                      "list (see the README's API section)", 405)
            response.headers["Allow"] = "POST"
            return response, status
        return _error(f"no API at /api/{clip(rest, 60)}; the API is POST /api/score", 404)


def _error(message: str, status: int, field: str | None = None, index: int | None = None):
    return flask.jsonify(error=message, field=field, index=index), status
