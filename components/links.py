"""Links between pages built from grid events (no data access)."""

from __future__ import annotations

from urllib.parse import quote


def customer_path(cell: dict | None) -> str | None:
    """The Customer page of a clicked grid row (rows are keyed by customer id), or None."""
    customer_id = (cell or {}).get("rowId")
    return f"/customer/{quote(str(customer_id), safe='')}" if customer_id else None
