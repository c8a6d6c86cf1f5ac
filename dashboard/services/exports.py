"""Links that download the current list (served by dashboard/downloads.py): shared by the
pages that export."""

from __future__ import annotations

import json
from urllib.parse import quote


def export_href(fmt: str, filters: dict | None, filter_model: dict | None,
                sort_model: list | None, campaign: dict | None = None) -> str:
    """The link that downloads the current list (served by dashboard/downloads.py); with
    `campaign` ({"capacity": n or None}) the campaign list instead."""
    state = {"filters": filters or {}, "filterModel": filter_model or {},
             "sortModel": sort_model or []}
    if campaign is not None:
        state["campaign"] = campaign
    state = json.dumps(state, separators=(",", ":"))
    return f"/export/{fmt}?state={quote(state)}"
