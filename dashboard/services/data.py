"""The Data page's queries: the source, the quality report, features and assumptions."""

from __future__ import annotations

from dashboard.services import core


class DataService(core.PageService):

    def evaluation(self) -> dict | None:
        """The model's out-of-fold metrics and data-quality report (for the Data page)."""
        a = self.core.analysis
        if a is None:
            return None
        result = a.evaluation()
        result["quality"] = a.quality
        result["train_rows"] = a.train_rows
        result["settings"] = a.settings.as_dict()
        result["hazard"] = a.hazard
        result["features"] = {"categorical": a.categorical, "numeric": a.numeric}
        result["extraction_date"] = a.extraction_date
        result["dataset"] = self.core.source_name()
        result["scoring"] = a.scored_out_of_fold()
        return result


def current() -> DataService:
    return core.current().data
