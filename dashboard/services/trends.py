"""Risk over time for the Trends page: every refresh's snapshot (churn, risk mix, revenue at
risk), the risers since the last refresh, drift between refreshes, and the enrolment rules
that run on each refresh."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from analytics.campaigns import snapshots as snaps
from analytics.errors import ChurnLensError
from analytics.evaluation import PSI_ALERT, PSI_WARN
from analytics.export import neutralise_frame
from dashboard.services import core

RISERS_SHOWN = 200


class TrendsService(core.PageService):
    """Snapshots and risers, memoised per snapshot pair."""

    def __init__(self, core_: core.Services) -> None:
        super().__init__(core_)
        self._memo: dict[tuple, object] = {}

    def _store(self):
        return self.core.campaigns.store()

    def history(self) -> dict:
        """Every snapshot's summary, oldest first."""
        store = self._store()
        if store is None:
            return {"error": self.core.campaigns.store_error, "snapshots": []}
        try:
            return {"error": None, "snapshots": snaps.list_snapshots(store)}
        except ChurnLensError as exc:
            return {"error": str(exc), "snapshots": []}

    def related_history(self) -> dict:
        """The snapshots of the customers in service (other datasets left out), oldest first,
        up to the current one."""
        found = self.history()
        items = found["snapshots"]
        version = self.core.campaigns.data_version()
        current = [i for i, s in enumerate(items) if s["data_version"] == version]
        if not current:
            return found
        now = items[current[-1]]
        kept = [s for s in items[:current[-1] + 1]
                if snaps.same_customers(s["summary"], now["summary"])]
        return {**found, "snapshots": kept}

    def pair(self) -> tuple[dict, dict] | None:
        """The previous snapshot of the same customers and the current one."""
        items = self.related_history()["snapshots"]
        return (items[-2], items[-1]) if len(items) >= 2 else None

    def words(self) -> dict[str, str]:
        return self.core.words()

    @staticmethod
    def drift_thresholds() -> dict:
        return {"moderate": PSI_WARN, "large": PSI_ALERT}

    def risers_frame(self, min_rise: float) -> tuple[pd.DataFrame | None, dict | None]:
        """Customers whose risk rose by >= min_rise or crossed into High since the previous
        snapshot (biggest rise first); None when there is no earlier snapshot."""
        pair = self.pair()
        if pair is None:
            return None, None
        before, after = pair
        key = ("risers", before["id"], after["id"], round(float(min_rise), 4))
        if key not in self._memo:
            store = self._store()
            scores = {s: self._memo.get(("scores", s)) for s in (before["id"], after["id"])}
            for sid, value in scores.items():
                if value is None:
                    scores[sid] = self._memo[("scores", sid)] = snaps.snapshot_scores(store,
                                                                                      sid)
            self._memo[key] = snaps.risers(scores[before["id"]], scores[after["id"]],
                                           float(min_rise))
        return self._memo[key], {"before": before, "after": after}

    def risers(self, min_rise: float) -> dict:
        """The risers for the page: count, how many crossed into High, the first rows."""
        frame, pair = self.risers_frame(min_rise)
        if frame is None:
            return {"available": False}
        return {"available": True, "n": int(len(frame)),
                "into_high": int(frame["crossed_into_high"].sum()),
                "before": pair["before"], "after": pair["after"],
                "rows": frame.head(RISERS_SHOWN).to_dict("records")}

    def risers_export(self, min_rise: float) -> tuple[str, pd.DataFrame | None]:
        """Every riser, formula-safe, with a note line; (the reason, None) without two
        snapshots."""
        frame, pair = self.risers_frame(min_rise)
        if frame is None:
            return ("Risers need two data refreshes of the same customers; only one snapshot "
                    "is stored so far."), None
        when = [pair[k]["taken_at"][:16].replace("T", " ") for k in ("before", "after")]
        note = (f"ChurnLens risers: churn risk up by at least {min_rise * 100:g} points or "
                f"into High between the refresh of {when[0]} and {when[1]}; "
                f"{len(frame):,} customers.")
        return note, neutralise_frame(frame.round({"before": 4, "after": 4, "rise": 4}))

    def drift(self) -> list[dict]:
        """PSI of each feature between the previous and the current snapshot's samples."""
        pair = self.pair()
        return [] if pair is None else self._drift_of(pair[0], pair[1])

    def _drift_of(self, before: dict, after: dict) -> list[dict]:
        key = ("drift", before["id"], after["id"])
        if key not in self._memo:
            self._memo[key] = [{**r, "label": self.core.driver_label(r["feature"])}
                               for r in snaps.snapshot_drift(self._store(), before["id"],
                                                             after["id"])]
        return self._memo[key]

    def drift_history(self) -> list[dict]:
        """Per refresh (newest first): how many inputs shifted against the refresh before it
        and the one that moved most."""
        items = self.related_history()["snapshots"]
        out = []
        for before, after in zip(items[:-1], items[1:]):
            rows = [r for r in self._drift_of(before, after) if r["psi"] is not None]
            levels = [r["level"] for r in rows]
            top = rows[0] if rows else None
            out.append({"taken_at": after["taken_at"], "as_of": after.get("as_of"),
                        "large": levels.count("large"), "moderate": levels.count("moderate"),
                        "top": top and {"label": top["label"], "psi": top["psi"],
                                        "level": top["level"]}})
        return out[::-1]

    def previous_scores(self) -> pd.DataFrame | None:
        pair = self.pair()
        return None if pair is None else snaps.snapshot_scores(self._store(), pair[0]["id"])

    def run_rules(self, store, progress: Callable[[str], None]) -> None:
        """Run the rules file (--rules) on this data (once per data version), then send the
        outbox in the background (a slow or failing webhook never delays serving)."""
        ruleset = self._ruleset()
        if ruleset is None:
            return
        from analytics.campaigns import outbox, rules
        results = rules.run_rules(store, self.analysis, ruleset,
                                  self.core.campaigns.data_version(),
                                  source=self.core.source_name())
        for item in results:
            progress(f"rule {item['rule']}: {item.get('skipped') or item.get('note') or ''}")
        self._memo.clear()
        threading.Thread(target=outbox.deliver, args=(store, ruleset.outbox), daemon=True,
                         name="churnlens-outbox").start()

    def _ruleset(self):
        path = self.core.settings.rules_path
        if not path:
            return None
        from analytics.campaigns import rules
        return rules.load_rules(path, catalogue=self.catalogue)

    def rules_view(self) -> dict:
        """The rules file as the page shows it, the last runs and the outbox batches."""
        path = self.core.settings.rules_path
        if not path:
            return {"configured": False}
        store = self._store()
        try:
            ruleset = self._ruleset()
        except ChurnLensError as exc:
            return {"configured": True, "error": str(exc), "name": Path(path).name}
        from analytics.campaigns import outbox
        view = {"configured": True, "error": None, "name": Path(path).name,
                "webhook": bool(ruleset.outbox.webhook),
                "rules": [_rule_view(r) for r in ruleset.rules], "batches": []}
        if store is not None:
            batches = outbox.outbox_status(store, ruleset.outbox, limit=20)
            for batch in batches:  # never a server path in the page: the file's name only
                batch["file"] = Path(batch.pop("file", "") or "").name
            view["batches"] = batches
        return view

    def rules_preview(self) -> dict:
        """A dry run of every rule on the data in service: who would be enrolled."""
        store = self._store()
        if store is None:
            return {"error": self.core.campaigns.store_error}
        try:
            ruleset = self._ruleset()
            if ruleset is None:
                return {"error": "No rules file: start with --rules FILE.toml."}
            from analytics.campaigns import rules
            results = rules.run_rules(store, self.analysis, ruleset,
                                      self.core.campaigns.data_version(), dry_run=True,
                                      source=self.core.source_name())
        except ChurnLensError as exc:
            return {"error": str(exc)}
        return {"error": None, "results": results}


def _rule_view(rule) -> dict:
    when = rule.when.as_dict()
    return {"name": rule.name, "campaign": rule.campaign, "offer": rule.offer,
            "control_share": rule.control_share, "horizon_days": rule.horizon_days,
            "enabled": rule.enabled, "description": rule.description, "when": when}


def current() -> TrendsService:
    """The running app's trends service."""
    return core.current().trends
