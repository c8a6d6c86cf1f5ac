"""The risk-tier cut-offs as a shared, deliberate setting (skeleton; see TierService)."""

from __future__ import annotations

from dashboard.services import core


class TierService(core.PageService):
    """Tier cut-offs changed on purpose: preview, apply (validated, persisted beside the
    cache, recorded), undo; restored at start."""

    def restore(self) -> None:
        """Apply the cut-offs saved for this dataset (called by Services.start after load)."""
        return None


def current() -> TierService:
    return core.current().tiers
