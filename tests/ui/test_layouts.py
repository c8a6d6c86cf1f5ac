"""Every page builds with no arguments; ids are unique and follow the naming rule."""

from __future__ import annotations

import importlib
import re

import dash
import pytest
from dash.development.base_component import Component

from dashboard import shell

ID_PATTERN = re.compile(r"^[a-z]+(-[a-z0-9]+)+$")


def _ids(component) -> list:
    found = []
    if isinstance(component, Component):
        cid = getattr(component, "id", None)
        if cid is not None:
            found.append(cid)
        children = getattr(component, "children", None)
        found += _ids(children)
    elif isinstance(component, list | tuple):
        for child in component:
            found += _ids(child)
    return found


def _pages(app):
    """Registered pages with their layout function (modules are imported by the app)."""
    pages = []
    for page in dash.page_registry.values():
        module = importlib.import_module(page["module"])
        pages.append({**page, "layout": module.layout})
    return pages


def test_every_page_layout_builds_with_no_arguments(app):
    pages = _pages(app)
    assert {p["path"] for p in pages} >= {"/", "/data", "/what-if", "/campaign", "/score"}
    with app.server.app_context():  # some layouts read the loaded data (choices, ranges)
        for page in pages:
            layout = page["layout"]()
            assert isinstance(layout, Component)


def test_ids_are_unique_and_kebab_case(app):
    options = {"contract": ["a"], "internet": [], "payment": [], "tier": [], "segment": [],
               "tenure_max": 72}
    status = {"ok": True, "leakage": []}
    all_ids = _ids(shell.layout(options, status))
    with app.server.app_context():
        for page in _pages(app):
            all_ids += _ids(page["layout"]())
    strings = [i for i in all_ids if isinstance(i, str)]
    assert len(strings) == len(set(strings)), "duplicate component ids"
    for cid in strings:
        if cid.startswith("_pages"):
            continue
        assert ID_PATTERN.match(cid), f"id {cid!r} is not kebab-case <page>-<thing>-<kind>"
    for cid in all_ids:
        if isinstance(cid, dict):
            assert "type" in cid


def test_error_banner_shown_when_data_failed(failed_services):
    status = failed_services.status()
    assert status["ok"] is False and "bad.csv" in status["error"]
    layout = shell.layout(failed_services.filter_options(), status)
    assert "app-error-alert" in _ids(layout)


@pytest.mark.parametrize("hash_text, expected", [
    ("", {}),
    ("#contract=Month-to-month", {"contract": ["Month-to-month"]}),
    ("#contract=Nope&tier=High&tenure=0-24", {"tier": ["High"], "tenure": [0, 24]}),
    ("#tenure=0-72", {}),
    ("#tenure=garbage", {}),
])
def test_url_hash_round_trip(hash_text, expected):
    options = {"contract": ["Month-to-month", "One year"], "internet": [], "payment": [],
               "tier": ["High", "Medium", "Low"], "tenure_max": 72}
    filters = shell.decode_filters(hash_text, options)
    assert filters == expected
    assert shell.decode_filters(shell.encode_filters(filters), options) == filters
