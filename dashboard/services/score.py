"""The Score page's and the API's queries: score customers sent as JSON, the form's fields."""

from __future__ import annotations

import numpy as np

from analytics.dataset import MONTHLY, TENURE
from analytics.explain import feature_label
from analytics.scoring import ScoreInputError, score_records
from dashboard.services import core
from dashboard.services.core import num

MONEY_WORDS = ("charge", "revenue", "balance", "salary", "amount", "price", "fee",
               "spend", "mrr")


class ScoreService(core.PageService):
    def __init__(self, core_: core.Services) -> None:
        super().__init__(core_)
        self._spec: list[dict] | None = None

    def score(self, payload) -> dict | list:
        """Score customers sent as JSON (raises ScoreInputError on bad input)."""
        results = score_records(payload, self.core.analysis, self.core.catalogue)
        return results[0] if isinstance(payload, dict) else {"results": results}

    def _unit(self, feature: str, values: np.ndarray) -> str | None:
        """The unit a number is typed in, from its role in the data: the monthly revenue is
        '$ / month', the tenure 'months'; other money-named columns '$'."""
        c = self.core.analysis.customers
        if _same(values, c[MONTHLY].to_numpy(dtype=float)):
            return "$ / month"
        if _same(values, c[TENURE].to_numpy(dtype=float)):
            return "months"
        if any(word in feature.lower() for word in MONEY_WORDS):
            return "$"
        return None

    def spec(self) -> list[dict]:
        """The fields of the score form: categories (most common first selected) and numeric
        ranges with the median as the starting value. Built once: the form's page asks for it
        on every load."""
        if self._spec is not None:
            return self._spec
        a = self.core.analysis
        c = a.customers
        fields = []
        for feature in a.features:
            series = c[feature]
            if feature in a.categorical:
                counts = series.value_counts()
                fields.append({"feature": feature, "label": feature_label(feature),
                               "kind": "category",
                               "choices": [str(x) for x in series.cat.categories],
                               "default": str(counts.index[0])})
            else:
                values = series.to_numpy(dtype=float)
                fields.append({"feature": feature, "label": feature_label(feature),
                               "kind": "number", "unit": self._unit(feature, values), "min": num(np.nanmin(values)),
                               "max": num(np.nanmax(values)),
                               "default": num(np.round(np.nanmedian(values), 2)),
                               "integer": bool(np.all(np.mod(values[~np.isnan(values)], 1)
                                                      == 0))})
        self._spec = fields
        return fields


def _same(values: np.ndarray, other: np.ndarray) -> bool:
    both = ~(np.isnan(values) | np.isnan(other))
    return bool(both.any()) and bool(np.allclose(values[both], other[both]))


def current() -> ScoreService:
    return core.current().score


__all__ = ["ScoreInputError", "ScoreService", "current"]
