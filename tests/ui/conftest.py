"""One app for the UI tests (small demo data, its own cache), callbacks called as functions."""

from __future__ import annotations

from contextvars import copy_context

import pytest
from dash._callback_context import context_value
from dash._utils import AttributeDict

from dashboard import create_app
from dashboard.services import Services
from dashboard.settings import Settings

DEMO_SIZE = 1500


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    cache = tmp_path_factory.mktemp("ui-cache")
    app = create_app(Settings(demo_size=DEMO_SIZE, demo_events=False, cache_dir=str(cache)),
                     progress=lambda m: None)
    from dashboard.services import CONFIG_KEY
    app.server.config[CONFIG_KEY].checks.wait()  # the baselines the Model page tests compare
    return app


@pytest.fixture(scope="session")
def client(app):
    """The app's Flask test client."""
    return app.server.test_client()


@pytest.fixture(scope="session")
def svc(app):
    """The app's services (the shared handle)."""
    from dashboard.services import CONFIG_KEY
    return app.server.config[CONFIG_KEY]


def features_of(svc, row: int) -> dict:
    """A real customer's features, as a client would send them to /api/score."""
    record = svc.analysis.customers.iloc[row]
    return {f: (float(record[f]) if f in svc.analysis.numeric else str(record[f]))
            for f in svc.analysis.features}


@pytest.fixture
def in_app(app):
    """Run code the way a callback runs: inside the app's request context."""
    with app.server.test_request_context():
        yield app


@pytest.fixture(scope="session")
def failed_services(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    bad = folder / "bad.csv"
    bad.write_text("customerID,tenure,MonthlyCharges,Churn\nA,1,abc,Yes\n")
    return Services(Settings(data_path=str(bad), cache_dir=None)).start(progress=lambda m: None)


def call_with_trigger(func, prop_id: str, *args, value=None):
    """Call a callback that reads `ctx.triggered_id` as Dash would after `prop_id` changed."""
    def run():
        context_value.set(AttributeDict(triggered_inputs=[{"prop_id": prop_id, "value": value}]))
        return func(*args)
    return copy_context().run(run)


def walk(component):
    """Every component of a layout tree (lists and children included), depth first."""
    if isinstance(component, (list, tuple)):
        for child in component:
            yield from walk(child)
        return
    yield component
    children = getattr(component, "children", None)
    if children is not None:
        yield from walk(children)


def find(component, cid):
    """The component with id `cid` in a layout tree (None when absent)."""
    return next((c for c in walk(component) if getattr(c, "id", None) == cid), None)
