"""The JSON API: `POST /api/score` scores one customer (an object) or several (a list)."""

from __future__ import annotations

import flask

from dashboard.services import Services
from dashboard.services.score import ScoreInputError


def register_api(server: flask.Flask, services: Services) -> None:
    """Add the API routes to the app's Flask server."""

    @server.route("/api/score", methods=["POST"])
    def score():
        if services.analysis is None:
            return flask.jsonify(error=f"no model is loaded: {services.error}"), 503
        payload = flask.request.get_json(silent=True)
        if payload is None:
            return flask.jsonify(error="the body must be JSON (Content-Type: "
                                       "application/json): a customer object or a list"), 400
        try:
            return flask.jsonify(services.score.score(payload))
        except ScoreInputError as exc:
            return flask.jsonify(error=str(exc), field=exc.field, index=exc.index), 400
        except ValueError as exc:  # anything else the analytics refuse is still bad input
            return flask.jsonify(error=str(exc), field=None, index=None), 400
