"""No page's text shows a server path: the data and the catalogue are named by file name."""

from __future__ import annotations

import json
import os

import pytest

from dashboard import create_app, shell
from dashboard.services import CONFIG_KEY
from dashboard.settings import Settings
from tests.ui.conftest import walk


@pytest.fixture(scope="module")
def file_app(tmp_path_factory):
    """An app on a CSV file deep in a server folder (the demo data written out)."""
    from analytics.demo import generate_demo
    folder = tmp_path_factory.mktemp("srv") / "secret-share" / "exports"
    folder.mkdir(parents=True)
    path = folder / "customers.csv"
    generate_demo(900, seed=4).to_csv(path, index=False)
    return create_app(Settings(data_path=str(path), cache_dir=str(folder.parent / "cache")),
                      progress=lambda m: None), str(folder)


def _texts(component) -> str:
    parts = []
    for item in walk(component):
        if isinstance(item, str):
            parts.append(item)
        else:
            for prop in ("children", "title", "label", "placeholder"):
                value = getattr(item, prop, None)
                if isinstance(value, str):
                    parts.append(value)
    return "\n".join(parts)


def test_pages_name_the_file_not_its_server_path(file_app):
    app, folder = file_app
    from pages import campaign, data
    svc = app.server.config[CONFIG_KEY]
    with app.server.test_request_context():
        assert svc.analysis is not None, svc.error
        status = svc.status()
        assert status["source"] == "customers.csv"
        texts = [_texts(shell.layout(svc.filter_options(), status)),
                 _texts(data.fill_data_page(0)),
                 _texts(list(campaign.update_campaign({}, None)))]
        export = svc.customers.export_file({}, None, None, "csv", folder)[0]
        with open(export, encoding="utf-8") as handle:
            texts.append(handle.readline())
    blob = "\n".join(texts)
    assert "customers.csv" in blob
    for secret in (folder, os.path.dirname(folder), "secret-share",
                   os.path.dirname(os.path.abspath(svc.settings.offers_path))):
        assert secret not in blob, secret
    assert "offers.toml" in blob
    json.dumps(status)
