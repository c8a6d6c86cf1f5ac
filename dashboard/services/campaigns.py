"""Campaigns for the pages: record one from the Campaign page's selection, bring outcomes
back, and report the measured effect beside the assumed one (Effectiveness page).

The store is opened once per process from `--db` (default SQLite beside the cache). On each
data load `on_data` (dashboard/services/refresh.py) takes the risk snapshot, records the
demo's simulated past campaign, fills running campaigns' churn outcomes and runs the rules."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from analytics.campaigns import catalogue as measured_catalogue
from analytics.campaigns import outcomes as oc
from analytics.campaigns import planner, records
from analytics.campaigns.arms import TREATMENT
from analytics.campaigns.effect import wilson
from analytics.campaigns.store import CampaignStore, default_url
from analytics.dataset import ID
from analytics.errors import ChurnLensError
from analytics.runner import open_store, refresh_offers
from analytics.export import neutralise_frame
from dashboard.services import core
from dashboard.services.refresh import DataLoadSteps

NO_STORE = ("Campaigns need a store: start with a cache folder (--cache-dir) or a database "
            "(--db URL).")
UPLIFT_ROWS = 40_000
EXPORT_COLUMNS = ("customer_id", "offer", "promo_code", "p0", "tier", "segment",
                  "expected_profit")


class CampaignsService(DataLoadSteps, core.PageService):
    """The campaign store and what the Campaign and Effectiveness pages ask of it."""

    def __init__(self, core_: core.Services) -> None:
        super().__init__(core_)
        self._store: CampaignStore | None = None
        self.store_error: str | None = None
        self._opened = False
        self._memo: dict[tuple, dict] = {}

    # ----- the store ------------------------------------------------------------------
    def store(self) -> CampaignStore | None:
        """The store (opened and migrated on first use), or None with `store_error` set.
        While a data load's steps run in the background, a reader waits for them (a page
        never shows a campaign list without the refresh's snapshot and demo campaign)."""
        self.wait_for_steps()
        if not self._opened:
            self._opened = True
            s = self.core.settings
            url = s.db_url or (default_url(s.cache_dir) if s.cache_dir else None)
            if url is None:
                self.store_error = NO_STORE
            else:
                try:
                    self._store = CampaignStore.open(url)
                except ChurnLensError as exc:
                    self.store_error = str(exc)
        return self._store

    def data_version(self) -> str:
        return self.core.source_id() or "unknown"

    # ----- recording a campaign ---------------------------------------------------------
    def offer_options(self) -> list[dict]:
        """The catalogue's offers a campaign can be limited to (label: the offer's name)."""
        catalogue = self.core.catalogue
        return [] if catalogue is None else [{"label": o.name, "value": o.id}
                                             for o in catalogue.offers]

    def _plan(self, filters, capacity, control_share, seed, include_enrolled, offers=()):
        keep = self.core.mask(filters)
        rows = planner.target_rows(self.analysis, keep, capacity, tuple(offers or ()))
        return planner.plan(self.analysis, rows, control_share, seed, self.store(),
                            include_enrolled)

    def preview(self, filters, capacity, control_share, seed, include_enrolled,
                offers=()) -> dict:
        """Who a campaign of this selection would hold, before it is recorded."""
        store = self.store()
        if store is None:
            return {"error": self.store_error}
        try:
            plan = self._plan(filters, capacity, control_share, seed, include_enrolled, offers)
        except ChurnLensError as exc:
            return {"error": str(exc)}
        return {"error": None, **plan.summary()}

    def create(self, name, filters, capacity, control_share, seed, include_enrolled,
               offers=()) -> dict:
        """Record the campaign (all members or none); returns its id or the error."""
        store = self.store()
        if store is None:
            return {"error": self.store_error}
        try:
            plan = self._plan(filters, capacity, control_share, seed, include_enrolled, offers)
            c = self.core
            spec = records.CampaignSpec(
                name=name or "", start_date=pd.Timestamp.now().strftime("%Y-%m-%d"),
                horizon_days=int(getattr(self.analysis.behaviour, "horizon_days", 0) or 90),
                offers=tuple(sorted(set(plan.members["offer"]))),
                target={"filters": filters or {}, "capacity": capacity,
                        "offers": list(offers or ()),
                        "description": c.offers.describe_filters(filters)},
                data_version=self.data_version(), source=c.source_name(),
                contact_cost=float(getattr(c.catalogue, "contact_cost", 0.0) or 0.0),
                currency=str(getattr(self.analysis.config, "currency", "") or ""))
            campaign_id = planner.create(store, plan, spec)
        except ChurnLensError as exc:
            return {"error": str(exc)}
        self._memo.clear()
        return {"error": None, "id": campaign_id, **plan.summary()}

    # ----- reading --------------------------------------------------------------------
    def campaigns(self) -> list[dict]:
        store = self.store()
        return [] if store is None else records.list_campaigns(store)

    def report(self, campaign_id: int) -> dict:
        """The campaign with its measured effect (effect.report), memoised per outcome count."""
        store = self.store()
        if store is None:
            return {"error": self.store_error}
        try:
            record = records.get_campaign(store, campaign_id)
            key = ("report", record["id"], record["outcomes"], record["status"])
            if key not in self._memo:
                report = planner.campaign_report(store, record["id"])
                self._memo[key] = {"error": None, **report, "arm_rates": _arm_rates(report)}
            return self._memo[key]
        except ChurnLensError as exc:
            return {"error": str(exc)}

    def overview(self) -> list[dict]:
        """One row per campaign with its headline effect."""
        rows = []
        for item in self.campaigns():
            report = self.report(item["id"])
            effect = report.get("effect") or {}
            rows.append({"id": item["id"], "name": item["name"], "status": item["status"],
                         "created": item["created_at"][:10], "members": item["members"],
                         "control": item["control"], "outcomes": item["outcomes"],
                         "uplift": effect.get("uplift"), "low": effect.get("low"),
                         "high": effect.get("high"),
                         "assumed": (report.get("assumed") or {}).get("uplift_with_acceptance"),
                         "simulated": item["simulated"]})
        return rows

    def uplift_study(self, campaign_id: int) -> dict:
        """Uplift ranking against risk ranking on held-out folds (Qini), from the members'
        features at the data in service."""
        store = self.store()
        if store is None:
            return {"error": self.store_error}
        key = ("uplift", int(campaign_id), self.data_version())
        if key in self._memo:
            return self._memo[key]
        from analytics.campaigns.uplift import compare_rankings  # scikit-learn, when asked
        try:
            frame, X = self._member_features(campaign_id)
            study = compare_rankings(X, (frame["arm"] == TREATMENT).to_numpy().astype(int),
                                     1 - frame["churned"].to_numpy().astype(int),
                                     frame["p0"].to_numpy())
        except ChurnLensError as exc:
            return {"error": str(exc)}
        study = {k: v for k, v in study.items() if k != "scores"}
        self._memo[key] = {"error": None, "n": int(len(frame)), **study}
        return self._memo[key]

    def _member_features(self, campaign_id: int):
        """Members with an outcome and their features in the data in service (a seeded
        sample of UPLIFT_ROWS, stratified by arm and outcome, for larger campaigns: ten
        CatBoost fits on it take seconds, not minutes)."""
        frame = records.campaign_members(self.store(), campaign_id).dropna(subset=["churned"])
        if len(frame) > UPLIFT_ROWS:
            frame = (frame.groupby(["arm", "churned"], group_keys=False)
                     .apply(lambda g: g.sample(frac=UPLIFT_ROWS / len(frame), random_state=0)))
        customers = self.analysis.customers
        position = pd.Index(customers[ID].astype(str)).get_indexer(frame["customer_id"])
        frame = frame[position >= 0]
        X = customers.iloc[position[position >= 0]][self.analysis.features] \
            .reset_index(drop=True)
        return frame.reset_index(drop=True), X

    def uplift_ranking(self, campaign_id: int) -> tuple[str, pd.DataFrame | None]:
        """Active customers ranked by the uplift a model of this campaign's members predicts
        (one model per arm on every member with an outcome): who the next campaign should
        call first. (reason, None) when it cannot be fitted."""
        store = self.store()
        if store is None:
            return self.store_error or NO_STORE, None
        from analytics.campaigns.uplift import TwoModelUplift
        try:
            frame, X = self._member_features(campaign_id)
            model = TwoModelUplift().fit(X, (frame["arm"] == TREATMENT).to_numpy().astype(int),
                                         1 - frame["churned"].to_numpy().astype(int))
            c = self.analysis.customers
            active = c[c["active"].to_numpy(dtype=bool)]
            uplift = model.predict_uplift(active[self.analysis.features])
        except ChurnLensError as exc:
            return str(exc), None
        out = pd.DataFrame({"customer_id": active[ID].astype(str).to_numpy(),
                            "predicted_uplift": uplift,
                            "churn_probability": active["churn_probability"].to_numpy(),
                            "risk_tier": active["risk_tier"].astype(str).to_numpy()})
        out = out.sort_values("predicted_uplift", ascending=False, kind="stable")
        note = (f"ChurnLens: active customers ranked by predicted uplift (the churn reduction "
                f"a contact is predicted to bring), from a model of campaign {campaign_id}'s "
                f"{len(frame):,} members with outcomes; a model estimate, not a measurement.")
        return note, neutralise_frame(out.reset_index(drop=True))

    # ----- writing outcomes and catalogue changes -----------------------------------------
    def import_outcomes(self, campaign_id: int, path: str | Path, name: str) -> dict:
        store = self.store()
        if store is None:
            return {"error": self.store_error}
        try:
            result = oc.import_outcomes(store, int(campaign_id), path, name)
        except ChurnLensError as exc:
            return {"error": str(exc)}
        self._memo.clear()
        return {"error": None, **result}

    def import_outcomes_upload(self, campaign_id: int, stored: str, name: str | None) -> dict:
        """Import an outcomes file the browser uploaded (named as the analyst knows it)."""
        try:
            path = self.core.datasets.upload_path(stored)
        except ValueError as exc:
            return {"error": str(exc)}
        return self.import_outcomes(campaign_id, path, name or path.name)

    def use_measured_acceptance(self, campaign_id: int) -> dict:
        """The campaign's measured acceptance becomes each offer's assumed one (recorded);
        the recommendations are recomputed with it."""
        store, c = self.store(), self.core
        if store is None or c.catalogue is None:
            return {"error": self.store_error or c.catalogue_error or "No offer catalogue."}
        report = self.report(campaign_id)
        if report.get("error"):
            return report
        try:
            changes = measured_catalogue.record_acceptance(
                store, c.catalogue, report["acceptance"]["by_offer"], campaign_id)
        except ChurnLensError as exc:
            return {"error": str(exc)}
        self.reload_catalogue()
        return {"error": None, "changes": changes}

    def measured_catalogue(self, catalogue, progress: Callable[[str], None]):
        """The catalogue file with the acceptance rates campaigns measured (recorded in the
        store) laid over it."""
        try:
            store = self.store()
            rates = measured_catalogue.overrides(store) if store is not None else {}
        except ChurnLensError as exc:
            rates = {}
            progress(f"measured acceptance rates not applied: {exc}")
        return measured_catalogue.apply_overrides(catalogue, rates)

    def reload_catalogue(self, announce: bool = True) -> None:
        """Re-read the catalogue with the recorded acceptance rates and re-rank the offers
        (promo codes stay: they are salted with the catalogue file); with `announce`, every
        worker does the same."""
        c = self.core
        c._load_catalogue(print)
        if c.analysis is not None and c.catalogue is not None:
            refresh_offers(c.analysis, c.source, c.analysis_settings(), c.catalogue,
                           open_store(c.settings.cache_dir), salt_from=c.file_catalogue)
        c.invalidate()
        if announce:
            c.sync.catalogue_changed()

    def catalogue_history(self) -> list[dict]:
        store = self.store()
        return [] if store is None else measured_catalogue.history(store)

    def treatment_list(self, campaign_id: int) -> tuple[str, pd.DataFrame | None]:
        """The treated members to contact, formula-safe (the control group is never in it),
        with a note line; (the reason, None) when there is no such campaign."""
        store = self.store()
        if store is None:
            return self.store_error or NO_STORE, None
        try:
            record = records.get_campaign(store, campaign_id)
            frame = records.campaign_members(store, campaign_id)
        except ChurnLensError as exc:
            return str(exc), None
        frame = frame[frame["arm"] == TREATMENT][list(EXPORT_COLUMNS)]
        frame = frame.rename(columns={"p0": "churn_probability"})
        note = (f"ChurnLens campaign {record['id']} {record['name']!r}: {len(frame):,} customers "
                f"to contact; {record['control']:,} held out as the control group are not "
                "listed and must not be contacted.")
        return note, neutralise_frame(frame.reset_index(drop=True))


def _arm_rates(report: dict) -> list[dict]:
    """Churn per arm with its 95% Wilson interval, for the arms chart."""
    e = report.get("effect") or {}
    out = []
    for arm, label in (("treatment", "Treated"), ("control", "Held out")):
        n = int(e.get(f"n_{arm}") or 0)
        rate = e.get(f"churn_{arm}")
        low, high = wilson(round(rate * n), n) if rate is not None and n else (None, None)
        out.append({"arm": arm, "label": label, "n": n, "rate": rate, "low": low,
                    "high": high})
    return out


def current() -> CampaignsService:
    """The running app's campaigns service."""
    return core.current().campaigns


def new_seed() -> int:
    """A fresh random seed for a control group (shown, then recorded with the campaign)."""
    return secrets.randbelow(1_000_000)
