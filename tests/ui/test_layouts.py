"""Every page builds with no arguments; ids are unique and follow the naming rule."""

from __future__ import annotations

import importlib
import re

import dash
import pytest
from dash.development.base_component import Component

from dashboard import ids, shell
from tests.ui.conftest import find, walk

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
    options = {"drivers": [{"key": "Contract", "label": "Contract", "options": ["a"]}],
               "tier": [], "segment": [], "tenure_max": 72}
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


OPTIONS = {"drivers": [{"key": "Contract", "label": "Contract",
                        "options": ["Month-to-month", "One year"]},
                       {"key": "Área/zone", "label": "Área/zone",
                        "options": ["Nord & Est", "Sud"]},
                       {"key": "Age", "label": "Age", "options": ["< 31", "31–37", "≥ 45"]}],
           "tier": ["High", "Medium", "Low"], "segment": [], "tenure_max": 72}


@pytest.mark.parametrize("hash_text, expected", [
    ("", {}),
    ("#Contract=Month-to-month", {"Contract": ["Month-to-month"]}),
    ("#Contract=Nope&tier=High&tenure=0-24", {"tier": ["High"], "tenure": [0, 24]}),
    ("#contract=Month-to-month", {}),        # keys are the source columns, as spelled
    ("#%C3%81rea%2Fzone=Nord+%26+Est", {"Área/zone": ["Nord & Est"]}),
    ("#Age=%3C+31&Age=%E2%89%A5+45", {"Age": ["< 31", "≥ 45"]}),
    ("#Age=%3C+31&Age=%3C+31", {"Age": ["< 31"]}),
    ("#tenure=0-72", {}),
    ("#tenure=garbage", {}),
    ("#tenure=90-5&everyone=1", {"tenure": [5, 72], "everyone": True}),
])
def test_url_hash_round_trip(hash_text, expected):
    filters = shell.decode_filters(hash_text, OPTIONS)
    assert filters == expected
    assert shell.decode_filters(shell.encode_filters(filters), OPTIONS) == filters


def test_filter_bar_shows_the_drivers_this_data_has():
    two = {**OPTIONS, "drivers": OPTIONS["drivers"][:2], "tenure_max": None}
    bar = shell.layout(two, {"ok": True, "leakage": []})
    labels = [c.children for c in walk(bar) if type(c).__name__ == "Label"]
    assert labels[:4] == ["Contract", "Área/zone", "", "Segment"]
    assert "Tenure (months)" not in labels   # no tenure: no slider (hidden), Reset stays
    slot3 = next(c for c in walk(bar) if getattr(c, "xs", None) == 12 and
                 find(c, ids.FILTER_DRIVERS[2]) is not None)
    assert slot3.style == {"display": "none"}
    assert find(bar, ids.FILTER_RESET) is not None and find(bar, ids.FILTER_TENURE) is not None
    full = shell.layout(OPTIONS, {"ok": True, "leakage": []})
    assert "Tenure (months)" in [c.children for c in walk(full)
                                 if type(c).__name__ == "Label"]


def test_every_callback_id_is_in_a_layout(svc):
    """What Dash's dev tools check in the browser (the validation layout, built under --debug
    only): each id a callback listens to or writes is in the shell or some page's layout."""
    from dashboard import create_app
    # A new app over the same services: the pages' callbacks join the app that gets the
    # first request, so this one must get its own.
    app = create_app(svc.settings, services=svc)
    client = app.server.test_client()
    options = {"drivers": [{"key": "Contract", "label": "Contract", "options": ["a"]}],
               "tier": [], "segment": [], "tenure_max": 72}
    present = set(i for i in _ids(shell.layout(options, {"ok": True, "leakage": []}))
                  if isinstance(i, str))
    with app.server.app_context():
        for page in _pages(app):
            present |= {i for i in _ids(page["layout"]()) if isinstance(i, str)}
    assert client.get("/_dash-dependencies").status_code == 200  # pages' callbacks join the map
    missing = set()
    for output, spec in app.callback_map.items():
        deps = [*spec["inputs"], *spec.get("state", [])]
        outs = [o.split(".")[0] for o in output.strip(".").split("...") if o]
        for cid in [d["id"] for d in deps] + outs:
            if not cid.startswith("{") and not cid.startswith("_pages") and cid not in present:
                missing.add(cid)
    assert len(app.callback_map) > 40 and not missing, sorted(missing)
