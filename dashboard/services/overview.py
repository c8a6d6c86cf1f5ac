"""The Overview page's queries: KPI tiles, churn by driver with intervals, the tier mix.

The tiles follow the data: without a revenue column the money tiles (ARPU, CLV, revenue at
risk) give way to counts and the page says what is missing; with an acquisition cost (a
column, or a cost per channel in the config) CAC, CLV:CAC and payback months join them.
The driver charts are the tenure bands (where there is a tenure) and one per driver column.
"""

from __future__ import annotations

import numpy as np

from analytics import kpis
from analytics.pipeline import TENURE_BAND, TIER
from dashboard import ids
from dashboard.services import core
from dashboard.services.core import num

NEEDS_REVENUE = "needs a revenue column"


class OverviewService(core.PageService):

    def warm(self) -> None:
        """The cube the first page reads (0.4 s at 1,000,000 customers), built at start."""
        if self.core.analysis is not None:
            self.core.cube()

    def charts(self) -> dict:
        """What the driver charts show for this data: {"tenure": title or None (no
        tenure), "drivers": [{"key": the filter it drills into, "title"}, ...]}."""
        c = self.core
        if c.analysis is None:
            return {"tenure": None, "drivers": []}
        return {"tenure": "Churn rate by tenure band" if self._tenure_bands() else None,
                "drivers": [{"key": column, "title": f"Churn rate by "
                             f"{_lower_first(c.driver_label(column))}"}
                            for column in c.drivers()]}

    def _tenure_bands(self) -> bool:
        """Whether the tenure bands split the customers (at least two bands hold some)."""
        c = self.core
        if not c.has_tenure():
            return False
        cube = c.cube()
        if cube.band is None:
            return False
        return int((cube.by(cube.band, len(_categories(c, TENURE_BAND)),
                            np.ones(cube.size, dtype=bool))[0] > 0).sum()) >= 2

    def money(self) -> dict:
        """Which money facts this data has: {"revenue": bool, "acquisition": bool}."""
        c = self.core
        return {"revenue": c.has_revenue(), "acquisition": c.has_acquisition_cost()}

    def words(self) -> dict[str, str]:
        return self.core.words()

    def tile_specs(self) -> list[dict]:
        """This data's tiles (key, title, help, icon) before any numbers are in."""
        empty = {k: None for k in ("churn_rate", "retention_rate", "arpu", "clv", "cac",
                                   "revenue_at_risk", "clv_cac", "payback_months")}
        empty.update(customers=0, churned=0, active=0, high_risk_active=0, avg_tenure=None,
                     medium_risk_active=0, expected_leavers=None)
        return self._tiles(empty, 0, 0)[0]

    def view(self, filters: dict | None) -> dict:
        """KPI tiles, churn rate by driver with 95% intervals, and the risk-tier mix of a
        selection."""
        c = self.core
        if c.analysis is None:
            return {"n": 0, "error": c.error}
        return c.memoised("overview", filters, lambda: self._view(filters or {}))

    def _view(self, filters: dict) -> dict:
        core_ = self.core
        filters = core_.customers.check_filters(filters) or {}
        cube = core_.cube(filters)
        keep = cube.keep(filters)
        n, n_total = int(cube.n[keep].sum()), int(cube.n.sum())
        out = {"n": n, "n_total": n_total, "error": None, "kpis": self._kpis(cube, keep, n)}
        out["tiles"], out["notes"] = self._tiles(out["kpis"], n, n_total)
        charts = self.charts()
        out["tenure"] = None if charts["tenure"] is None else {
            "title": charts["tenure"], **self._driver(cube, filters, ids.TENURE, keep,
                                                      cube.band,
                                                      _categories(core_, TENURE_BAND))}
        out["drivers"] = [{**chart, **self._driver(cube, filters, chart["key"], keep,
                                                   cube.dimensions[chart["key"]].codes,
                                                   core_.driver_names(chart["key"]))}
                          for chart in charts["drivers"]]
        # The tier mix of the customers a team can still act on: the active ones.
        tier = cube.dimensions.get(ids.TIER)
        counts = (cube.by(tier.codes, len(kpis.TIERS), keep & cube.active)[0]
                  if tier is not None else np.zeros(len(kpis.TIERS), dtype=np.int64))
        total = int(counts.sum())
        out["tiers"] = [{"tier": t, "n": int(counts[i]),
                         "share": num(counts[i] / total) if total else None}
                        for i, t in enumerate(kpis.TIERS)]
        return out

    def _kpis(self, cube, keep: np.ndarray, n: int) -> dict:
        """The tiles' numbers: sums over the cube's cells the filters keep."""
        core_ = self.core
        live = keep & cube.active
        tier = cube.dimensions.get(ids.TIER)
        high, medium = core_.codes_of(TIER, ["High"]), core_.codes_of(TIER, ["Medium"])

        def in_tier(codes: list[int]) -> int:
            return int(cube.n[live & (tier.codes == codes[0])].sum()) if codes and tier \
                else 0

        churned = int(round(cube.total("churned", keep)))
        rate = churned / n if n else float("nan")
        out = {"customers": n, "churned": churned, "churn_rate": num(rate),
               "retention_rate": num(1.0 - rate), "active": int(cube.n[live].sum()),
               "high_risk_active": in_tier(high), "medium_risk_active": in_tier(medium),
               # Active customers the model expects to leave: the sum of their p(churn).
               "expected_leavers": num(cube.total("proba", live)),
               "avg_tenure": num(cube.mean("tenure", live)),
               "arpu": None, "clv": None, "revenue_at_risk": None,
               "cac": None, "clv_cac": None, "payback_months": None}
        if core_.has_revenue():
            out["arpu"] = num(cube.mean("monthly", live))
            out["clv"] = num(cube.mean("clv", live))
            # Sum of p(churn) x monthly charges over active customers with known charges.
            out["revenue_at_risk"] = num(cube.total("risk", live))
        if core_.has_acquisition_cost():
            # One definition with the Segments page (analytics/kpis.py): the mean known cost
            # of the active customers.
            cac = cube.mean("acquisition", live)
            nan = float("nan")
            clv_value = nan if out["clv"] is None else out["clv"]
            arpu_value = nan if out["arpu"] is None else out["arpu"]
            out["cac"] = num(cac)
            out["clv_cac"] = num(kpis.clv_cac(clv_value, cac))
            out["payback_months"] = num(kpis.payback_months(
                cac, arpu_value, self.core.analysis.settings.margin))
        return out

    def _tiles(self, k: dict, n: int, n_total: int) -> tuple[list[dict], list[str]]:
        """The tiles in reading order: {key, title, help, icon, value, kind, sub, muted};
        kind says how to show the value (count, pct, money, money-cents, ratio, months)."""
        w = self.core.words()
        one, many = w["customer"], w["customers"]
        share = f"{100 * n / n_total:.0f}% of all {many}" if n_total else ""

        def tile(key, title, help_, icon, value, kind, sub, muted=False):
            return {"key": key, "title": title, "help": help_, "icon": icon, "value": value,
                    "kind": kind, "sub": sub, "muted": muted}

        tiles = [
            tile("customers", many.capitalize(), f"{many.capitalize()} in the selection",
                 "people", k["customers"], "count", share),
            tile("churn_rate", "Churn rate", f"Churned / {many} in the selection",
                 "door-open", k["churn_rate"], "pct", f"{k['churned']:,} churned"),
            tile("retention_rate", "Retention rate", "1 - churn rate", "shield-check",
                 k["retention_rate"], "pct", f"{k['active']:,} active"),
        ]
        notes = []
        if self.core.has_revenue():
            tiles += [
                tile("arpu", "ARPU", f"Mean monthly charges of active {many}", "cash-coin",
                     k["arpu"], "money-cents", f"per active {one} / month"),
                tile("clv", "Avg. CLV", "Monthly margin x expected remaining lifetime from "
                     "the retention curve, risk-adjusted and discounted monthly (active "
                     f"{many})", "gem", k["clv"], "money", f"per active {one}"),
                tile("revenue_at_risk", "Revenue at risk", "Sum of p(churn) x monthly "
                     f"charges over active {many}: expected monthly revenue lost",
                     "exclamation-diamond", k["revenue_at_risk"], "money",
                     f"per month · {k['high_risk_active']:,} high-risk active")]
        else:
            # Counts in place of money: who the team can still reach, and how many of them
            # the model expects to lose.
            share = (f"{100 * k['high_risk_active'] / k['active']:.0f}% of the active {many}"
                     if k["active"] else "")
            tiles += [
                tile("high_risk_active", "High-risk active", f"Active {many} in the High "
                     "risk tier", "exclamation-diamond", k["high_risk_active"], "count", share),
                tile("expected_leavers", "Expected to leave", f"Sum of p(churn) over the "
                     f"active {many}: how many of them the model expects to lose",
                     "person-dash", k["expected_leavers"], "count",
                     f"of the {k['active']:,} active, by the model")]
            if self.core.has_tenure():
                tiles.append(tile("avg_tenure", "Avg. tenure", f"Mean tenure of the active "
                                  f"{many}", "hourglass", k["avg_tenure"], "months",
                                  f"per active {one}"))
            else:
                tiles.append(tile("medium_risk_active", "Medium-risk active", f"Active {many} "
                                  "in the Medium risk tier", "exclamation-circle",
                                  k["medium_risk_active"], "count", "next in line"))
            notes.append(f"ARPU, CLV and revenue at risk: each {NEEDS_REVENUE}; name the "
                         "monthly revenue in the dataset config ([roles] revenue) to see "
                         "them.")
        if self.core.has_acquisition_cost():
            tiles += [
                tile("cac", "CAC", f"Mean acquisition cost of the active {many}",
                     "cart-plus", k["cac"], "money", f"per active {one}"),
                tile("clv_cac", "CLV:CAC", "Avg. CLV / CAC of the active "
                     f"{many} (above 3 is healthy)", "bar-chart-steps", k["clv_cac"],
                     "ratio", "lifetime value per acquisition cost" if k["clv_cac"]
                     is not None else NEEDS_REVENUE, muted=k["clv_cac"] is None),
                tile("payback_months", "Payback", "CAC / (ARPU x margin): months of margin "
                     "to earn back what winning a customer cost", "hourglass-split",
                     k["payback_months"], "months", "months of margin to recover CAC"
                     if k["payback_months"] is not None else NEEDS_REVENUE,
                     muted=k["payback_months"] is None)]
        return tiles, notes

    def _driver(self, cube, filters: dict, key: str, keep: np.ndarray, codes: np.ndarray,
                names: list[str]) -> dict:
        """Churn by group of one chart, drawn for the selection without its own filter, so
        a drilled group is highlighted among the others, not alone."""
        if filters.get(key):
            keep = cube.keep({k: v for k, v in filters.items() if k != key})
        n_all = int(cube.n[keep].sum())
        overall = cube.total("churned", keep) / n_all if n_all else float("nan")
        n, churned = cube.by(codes, len(names), keep)
        return {"filtered": bool(filters.get(key)), "overall": num(overall),
                "rows": _rates(n, churned, names)}


def _rates(n: np.ndarray, churned: np.ndarray, names: list[str]) -> list[dict]:
    out = []
    for i, group in enumerate(names):
        lo, hi = kpis.wilson_interval(int(churned[i]), int(n[i]))
        out.append({"group": group, "n": int(n[i]), "churned": int(churned[i]),
                    "rate": num(churned[i] / n[i]) if n[i] else None,
                    "lo": num(lo), "hi": num(hi)})
    return out


def _categories(core_: core.Services, column: str) -> list[str]:
    return [str(c) for c in core_.analysis.customers[column].cat.categories]


def _lower_first(label: str) -> str:
    """'Internet service' -> 'internet service'; 'CLV band' stays."""
    first = label.split(" ", 1)[0]
    return label if first.isupper() and len(first) > 1 else label[:1].lower() + label[1:]


def current() -> OverviewService:
    return core.current().overview
