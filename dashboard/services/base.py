"""What every page's service shares (`core.PageService`): the handle and its analysis."""

from __future__ import annotations


class PageService:
    """What every page's service shares: the handle and its analysis, catalogue and error."""

    def __init__(self, core_) -> None:
        self.core = core_

    @property
    def analysis(self):
        return self.core.analysis

    @property
    def catalogue(self):
        return self.core.catalogue

    @property
    def error(self) -> str | None:
        return self.core.error

    def upload_props(self) -> dict:
        """A drop zone's limits for assets/upload.js (size in bytes, file types)."""
        from dashboard.uploads import drop_zone_props, max_bytes_from

        return drop_zone_props(max_bytes_from(self.core.settings))

    def upload_limit(self) -> str:
        """The upload size limit in words ('500 MB')."""
        from dashboard.uploads import max_bytes_from, size_text

        return size_text(max_bytes_from(self.core.settings))
