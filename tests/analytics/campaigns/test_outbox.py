"""The outbox: treated members only, batch files written atomically and formula-safe, the
webhook retried with backoff and delivered once per batch, failures kept and tried again."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.campaigns import outbox, records
from analytics.campaigns.arms import MEMBER_COLUMNS
from analytics.campaigns.store import CampaignStore

N, BATCH = 25, 8          # 25 members, every 5th held out: 20 treated in batches of 8, 8, 4
CONTROL = {f"C{i:02d}" for i in range(0, N, 5)}


def members_frame() -> pd.DataFrame:
    ids = [f"C{i:02d}" for i in range(N)]
    ids[1] = "=HYPERLINK(\"http://x\")"           # a treated member a spreadsheet would run
    frame = pd.DataFrame({
        "customer_id": ids, "arm": ["control" if i % 5 == 0 else "treatment" for i in range(N)],
        "offer": "discount_10", "promo_code": [f"SAVE10-{i:04d}" for i in range(N)],
        "p0": np.linspace(0.5, 0.9, N), "p1": 0.4, "expected_profit": 10.0, "clv": 900.0,
        "acceptance": 0.3, "offer_cost": 30.0, "tier": "High", "segment": "At-Risk"})
    return frame[list(MEMBER_COLUMNS)]


TREATED = set(members_frame().query("arm == 'treatment'")["customer_id"])


@pytest.fixture
def queued(tmp_path):
    """A store with one campaign whose treated members are queued: (store, campaign id)."""
    store = CampaignStore.open(f"sqlite:///{tmp_path / 's.db'}")
    frame = members_frame()
    campaign_id = records.create_campaign(store, records.CampaignSpec(
        name="Save desk · 2025-03-01", start_date="2025-03-01", data_version="v1"), frame)
    with store.begin() as conn:
        assert outbox.queue(conn, campaign_id, frame, BATCH) == 3
    yield store, campaign_id
    store.close()


def settings(tmp_path, webhook=None, **kw) -> outbox.OutboxSettings:
    return outbox.OutboxSettings(outbox_dir=tmp_path / "outbox", webhook=webhook, **kw)


class Hook(BaseHTTPRequestHandler):
    """Answers 500 to the first `fail_first` requests of each idempotency key, then 200."""

    def do_POST(self):  # noqa: N802 - the http.server name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        key = self.headers["Idempotency-Key"]
        server = self.server
        server.calls[key] = server.calls.get(key, 0) + 1
        failing = server.calls[key] <= server.fail_first
        if not failing:
            server.delivered.append((key, body))
        self.send_response(500 if failing else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args):
        pass


@contextmanager
def hook_server(fail_first: int = 0, port: int = 0):
    server = HTTPServer(("127.0.0.1", port), Hook)
    server.calls, server.delivered, server.fail_first = {}, [], fail_first
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def url(server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/hook"


def by_batch(store) -> dict[int, dict]:
    return {b["batch"]: b for b in outbox.outbox_status(store)}


def csv_ids(folder: Path) -> list[str]:
    return [i for f in sorted(folder.glob("*.csv"))
            for i in pd.read_csv(f, dtype=str, keep_default_na=False)["customer_id"]]


def test_queue_holds_the_treated_members_only_in_batches(queued):
    store, campaign_id = queued
    batches = outbox.outbox_status(store)
    assert [b["batch"] for b in batches] == [3, 2, 1]            # newest first
    assert [b["rows"] for b in batches] == [4, 8, 8] and {b["status"] for b in batches} == \
        {"pending"}
    from analytics.campaigns.tables import outbox as table
    with store.connect() as conn:
        payloads = [json.loads(r[0]) for r in conn.execute(
            table.select().with_only_columns(table.c.payload).order_by(table.c.batch))]
    items = [item for batch in payloads for item in batch]
    assert {i["customer_id"] for i in items} == TREATED and not CONTROL & {
        i["customer_id"] for i in items}
    first = items[0]
    assert set(first) == set(outbox.PAYLOAD_COLUMNS)
    assert (first["campaign_id"], first["campaign_name"], first["offer"], first["tier"]) == \
        (campaign_id, "Save desk · 2025-03-01", "discount_10", "High")
    assert first["churn_probability"] == pytest.approx(0.5 + 0.4 / 24)   # member 1's p0


def test_without_a_webhook_the_written_file_marks_a_batch_sent(queued, tmp_path):
    store, campaign_id = queued
    result = outbox.deliver(store, settings(tmp_path),
                            now=datetime(2025, 3, 2, 9, 30, tzinfo=timezone.utc))
    assert result == {"sent": 3, "failed": 0, "pending": 0, "attempts": 3}
    folder = tmp_path / "outbox"
    assert sorted(p.name for p in folder.iterdir()) == [
        f"campaign-{campaign_id}-batch-{n}.csv" for n in (1, 2, 3)]    # no temporary files
    ids = csv_ids(folder)
    assert len(ids) == 20 and "'=HYPERLINK(\"http://x\")" in ids      # formula-safe
    assert {i.lstrip("'") for i in ids} == TREATED and not CONTROL & set(ids)
    assert all(b["status"] == "sent" and b["sent_at"].startswith("2025-03-02T09:30")
               for b in outbox.outbox_status(store))
    assert outbox.deliver(store, settings(tmp_path)) == \
        {"sent": 0, "failed": 0, "pending": 0, "attempts": 0}


def test_the_webhook_is_retried_with_backoff_and_delivered_once(queued, tmp_path):
    store, campaign_id = queued
    waits = []
    with hook_server(fail_first=2) as server:
        result = outbox.deliver(store, settings(tmp_path, url(server), retries=3, backoff=0.5),
                                sleep=waits.append)
        assert result == {"sent": 3, "failed": 0, "pending": 0, "attempts": 9}
        assert waits == [0.5, 1.0] * 3
        keys = [f"{campaign_id}-{n}" for n in (1, 2, 3)]
        assert server.calls == dict.fromkeys(keys, 3)
        assert [k for k, _ in server.delivered] == keys                # one success each
        bodies = [b for _, b in server.delivered]
        assert [b["batch"] for b in bodies] == [1, 2, 3]
        assert [b["idempotency_key"] for b in bodies] == keys
        sent = {m["customer_id"] for b in bodies for m in b["members"]}
        assert sent == TREATED and not sent & CONTROL
        assert all(b["attempts"] == 3 and b["status"] == "sent"
                   for b in outbox.outbox_status(store))
        again = outbox.deliver(store, settings(tmp_path, url(server)), sleep=waits.append)
        assert again == {"sent": 0, "failed": 0, "pending": 0, "attempts": 0}
        assert server.calls == dict.fromkeys(keys, 3)                  # nothing sent again


def test_failures_are_recorded_and_retried_on_the_next_run(queued, tmp_path):
    store, campaign_id = queued
    with hook_server(fail_first=2) as server:
        hook = settings(tmp_path, url(server), retries=2)
        first = outbox.deliver(store, hook, sleep=lambda _s: None)
        assert first == {"sent": 0, "failed": 3, "pending": 0, "attempts": 6}
        for batch in by_batch(store).values():
            assert (batch["status"], batch["attempts"]) == ("failed", 2)
            assert "HTTP 500" in batch["last_error"] and batch["sent_at"] is None
        assert server.delivered == []
        second = outbox.deliver(store, hook, sleep=lambda _s: None)
        assert second == {"sent": 3, "failed": 0, "pending": 0, "attempts": 3}
        assert all((b["status"], b["attempts"], b["last_error"]) == ("sent", 3, None)
                   for b in by_batch(store).values())
        assert len(server.delivered) == 3


def test_a_server_that_is_down_keeps_the_batch_failed_until_it_is_up(queued, tmp_path):
    store, campaign_id = queued
    with hook_server() as server:
        port = server.server_address[1]
    hook = settings(tmp_path, f"http://127.0.0.1:{port}/hook", retries=2, timeout=5)
    down = outbox.deliver(store, hook, sleep=lambda _s: None)
    assert down == {"sent": 0, "failed": 3, "pending": 0, "attempts": 6}
    assert all("connection refused" in b["last_error"] for b in outbox.outbox_status(store))
    written = tmp_path / "outbox" / f"campaign-{campaign_id}-batch-1.csv"
    assert written.is_file()                         # the file is written before the POST
    inode = written.stat().st_ino
    with hook_server(port=port) as server:
        up = outbox.deliver(store, hook, sleep=lambda _s: None)
        assert up == {"sent": 3, "failed": 0, "pending": 0, "attempts": 3}
        assert sorted(k for k, _ in server.delivered) == [f"{campaign_id}-{n}"
                                                          for n in (1, 2, 3)]
    assert written.stat().st_ino == inode            # a written file is not written again
    assert {b["attempts"] for b in outbox.outbox_status(store)} == {3}


def test_a_broken_post_or_folder_is_recorded_never_raised(queued, tmp_path):
    store, _ = queued
    result = outbox.deliver(store, settings(tmp_path, "http://127.0.0.1:9/hook", retries=1),
                            post=lambda *_a: 1 / 0)
    assert result["failed"] == 3
    assert all("ZeroDivisionError" in b["last_error"] for b in outbox.outbox_status(store))
    (tmp_path / "blocked").write_text("a file, not a folder")
    blocked = outbox.OutboxSettings(outbox_dir=tmp_path / "blocked" / "outbox")
    assert outbox.deliver(store, blocked)["failed"] == 3
    assert all(b["last_error"].startswith("cannot write") for b in outbox.outbox_status(store))
    calls = []
    fine = outbox.deliver(store, settings(tmp_path, "http://127.0.0.1:9/hook"),
                          post=lambda u, body, headers, t: calls.append(headers) or 204)
    assert fine["sent"] == 3 and [h["Idempotency-Key"] for h in calls] == \
        [f"{b}-{n}" for b, n in ((1, 1), (1, 2), (1, 3))]


def test_status_names_each_batch_file(queued, tmp_path):
    store, campaign_id = queued
    where = settings(tmp_path)
    before = outbox.outbox_status(store, where)
    assert [b["written"] for b in before] == [False] * 3
    outbox.deliver(store, where)
    after = outbox.outbox_status(store, where, limit=2)
    assert [b["batch"] for b in after] == [3, 2] and all(b["written"] for b in after)
    assert after[0]["file"].endswith(f"campaign-{campaign_id}-batch-3.csv")


def test_a_different_file_of_the_same_name_is_never_overwritten(queued, tmp_path):
    store, campaign_id = queued
    folder = tmp_path / "outbox"
    folder.mkdir()
    stale = folder / f"campaign-{campaign_id}-batch-2.csv"
    stale.write_text("customer_id\nSOMEONE-ELSE\n")
    result = outbox.deliver(store, settings(tmp_path))
    assert (result["sent"], result["failed"]) == (2, 1)
    assert "already there with other contents" in by_batch(store)[2]["last_error"]
    assert stale.read_text() == "customer_id\nSOMEONE-ELSE\n"
    stale.unlink()
    assert outbox.deliver(store, settings(tmp_path))["sent"] == 1
    assert set(csv_ids(folder)) == {i if i[0] != "=" else "'" + i for i in TREATED}
