"""What a data load does to the campaign store (`CampaignsService.on_data`): the risk
snapshot, the demo's simulated past campaign, running campaigns' churn outcomes from a
refresh of the same customers, and the enrolment rules; in the background when asked, with
the store's readers waiting for them."""

from __future__ import annotations

import threading
from collections.abc import Callable

from analytics.campaigns import outcomes as oc
from analytics.campaigns import records
from analytics.campaigns.demo import seed_demo_campaign
from analytics.campaigns.snapshots import list_snapshots, take_snapshot
from analytics.dataset import END_DATE, ID
from analytics.errors import ChurnLensError
from dashboard.services.checks import lower_priority
from dashboard.services.idle import IDLE

SETTLE_WAIT_S = 120.0   # a reader waits at most this long for a data load's steps


class DataLoadSteps:
    """The data-load half of CampaignsService (it uses its `store`, `_memo`, `overview` and
    `data_version`)."""

    def __init__(self, core_) -> None:
        super().__init__(core_)
        # Set unless a data load's steps (on_data in the background) are still running.
        self._settled = threading.Event()
        self._settled.set()
        self._worker: threading.Thread | None = None

    def wait_for_steps(self) -> None:
        """In any thread but the steps' own: wait while they run (SETTLE_WAIT_S at most)."""
        if not self._settled.is_set() and threading.current_thread() is not self._worker:
            self._settled.wait(SETTLE_WAIT_S)

    def on_data(self, progress: Callable[[str], None] = print,
                background: bool = False) -> None:
        """After a data load: snapshot, demo campaign, refresh outcomes, rules. A problem is
        reported and never stops the data from being served. With `background` they run in
        a thread while the app starts serving (at 1,000,000 customers they take ~8 s, and
        the first page reads none of them); the store's readers wait for them, and so must
        anything that forks (`settle`)."""
        store = self.store()
        if store is None or self.analysis is None:
            return
        self._memo.clear()
        if not background:
            return self._steps(store, progress)
        self._settled.clear()
        self._worker = threading.Thread(target=self._steps_then_settle, args=(store, progress),
                                        name="churnlens-refresh")
        self._worker.start()

    def settle(self, timeout: float | None = None) -> bool:
        """Wait for a data load's background steps; True when none is running."""
        return self._settled.wait(timeout)

    def _steps_then_settle(self, store, progress) -> None:
        try:
            IDLE.wait()   # python app.py: after the first page (it reads none of them)
            self._steps(store, progress)
        except Exception as exc:  # noqa: BLE001 - the data is served whatever happens here
            progress(f"after the data load: {type(exc).__name__}: {exc}")
        finally:
            self._memo.clear()
            self._settled.set()

    def _steps(self, store, progress) -> None:
        steps = [("risk snapshot", self._snapshot), ("demo campaign", self._demo),
                 ("campaign outcomes from this refresh", self._refresh_outcomes),
                 ("enrolment rules", self.core.trends.run_rules)]
        for what, step in steps:
            try:
                step(store, progress)
            except ChurnLensError as exc:
                progress(f"{what}: {exc}")
        # The Effectiveness page's reports read every member from the store (about 1 s per
        # 100,000): compute them now, in the background, so the page opens at once.
        threading.Thread(target=self._warm, daemon=True, name="churnlens-reports").start()

    def _warm(self) -> None:
        IDLE.wait()
        lower_priority()
        try:
            self.overview()
        except Exception as exc:  # noqa: BLE001 - a warm-up never takes the server down
            print(f"campaign reports not precomputed: {exc}", flush=True)

    def _snapshot(self, store, progress) -> None:
        _, new = take_snapshot(store, self.analysis, self.data_version(),
                               self.core.source_name())
        if new:
            progress("stored this refresh's risk snapshot")

    def _demo(self, store, progress) -> None:
        source = self.core.source
        if not self.core.settings.demo_campaign or source is None or source.path:
            return
        done = seed_demo_campaign(store, self.analysis, self.data_version(),
                                  source=self.core.source_name(), seed=source.seed)
        if done:
            progress(f"recorded the demo's simulated past campaign ({done['members']:,} "
                     f"members, true uplift {done['true_uplift']:.1%})")

    def _refresh_outcomes(self, store, progress) -> None:
        version = self.data_version()
        customers = self.analysis.customers
        ids = customers[ID].astype(str).to_numpy()
        ends = customers[END_DATE].to_numpy() if END_DATE in customers else None
        first_seen = next((snap["taken_at"] for snap in list_snapshots(store)
                           if snap["data_version"] == version), None)
        for item in records.list_campaigns(store):
            # a *later* refresh: data first loaded after the campaign was recorded (switching
            # back to the data it was made on, or to older data, leaves its outcomes alone)
            if item["status"] != "running" or item["simulated"] \
                    or item["data_version"] == version or first_seen is None \
                    or first_seen <= item["created_at"]:
                continue
            member_ids = records.campaign_members(store, item["id"])["customer_id"]
            found, missing = oc.outcomes_from_refresh(
                member_ids, ids, customers["churn"].to_numpy(), ends, item["start_date"],
                item["horizon_days"])
            if len(found):
                oc.write_outcomes(store, item["id"], found, f"refresh {version}")
                progress(f"campaign {item['name']!r}: churn outcomes of {len(found):,} "
                         f"members from this refresh ({missing:,} not in it)")
