"""The outbox: the treated members of a campaign in batches, written as CSV files and, when a
webhook is configured, POSTed to it as JSON, each batch delivered once.

`queue` adds a campaign's batches (the TREATMENT arm only: the control group is never sent
for contact) inside the caller's transaction, so a campaign and its batches are written
together or not at all. `deliver` works through every pending or failed batch, oldest first:

1. it writes `<outbox_dir>/campaign-<id>-batch-<n>.csv` unless the same file is already
   there (a temporary file renamed into place, so a reader never sees half a file; text
   cells are made formula-safe for spreadsheets); a different file of that name is never
   overwritten: the batch fails and says so;
2. with a webhook it POSTs ``{"campaign_id", "batch", "idempotency_key", "members"}`` with
   an ``Idempotency-Key: <campaign>-<batch>`` header, up to `retries` attempts with
   exponential backoff (`backoff`, 2 x `backoff`, ... seconds between attempts). A 2xx
   answer marks the batch sent; anything else marks it failed with the attempts and the last
   error, and the next `deliver` tries again. Nothing is raised and nothing is dropped.
   Without a webhook, the written file marks the batch sent.

A batch marked sent is never sent again. Delivery is at least once: two `deliver` runs at
the same moment, or a crash between the POST and the store update, can post a batch twice,
which is what the idempotency key is for (the receiver keeps the first and ignores repeats).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import func, select, update

from analytics.campaigns import planner
from analytics.campaigns import store as store_module
from analytics.campaigns.arms import TREATMENT
from analytics.campaigns.store import CampaignStore
from analytics.campaigns.tables import campaigns, outbox, rule_runs
from analytics.errors import DataError
from analytics.export import neutralise_frame

PAYLOAD_COLUMNS = ("customer_id", "offer", "promo_code", "churn_probability", "tier",
                   "campaign_id", "campaign_name")
PENDING, SENT, FAILED = "pending", "sent", "failed"
MAX_ERROR = 500
# The numbers [settings] may hold: key -> (default, low, high, whole number)
LIMITS = {"batch_size": (500, 1, 100_000, True), "retries": (3, 1, 10, True),
          "timeout": (10.0, 0.1, 300.0, False), "backoff": (1.0, 0.0, 600.0, False)}

Post = Callable[[str, bytes, dict, float], int]


@dataclass(frozen=True)
class OutboxSettings:
    """Where batches go: the folder of CSV files, and the webhook when there is one."""

    outbox_dir: Path
    webhook: str | None = None
    batch_size: int = 500
    retries: int = 3          # attempts per batch in one deliver() run
    timeout: float = 10.0     # seconds per attempt
    backoff: float = 1.0      # seconds before the 2nd attempt; doubled before each next one


def read_settings(raw, source: str, base: Path) -> OutboxSettings:
    """The `[settings]` table of a rules file, checked (DataError naming the file and the
    key); a relative `outbox_dir` is relative to `base`, the rules file's folder."""
    if not isinstance(raw, dict):
        raise _bad(source, "settings", "must be a table [settings]", raw)
    allowed = ("outbox_dir", "webhook", *LIMITS)
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise _bad(source, unknown[0], f"unknown setting (allowed: {', '.join(allowed)})")
    folder = raw.get("outbox_dir", "outbox")
    if not isinstance(folder, str) or not folder.strip():
        raise _bad(source, "outbox_dir", "must be a folder name (text)", folder)
    webhook = raw.get("webhook")
    if webhook is not None:
        parts = urllib.parse.urlsplit(webhook) if isinstance(webhook, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise _bad(source, "webhook", "must be an http:// or https:// URL", webhook)
    numbers = {}
    for key, (default, low, high, whole) in LIMITS.items():
        value = raw.get(key, default)
        kind = "a whole number" if whole else "a number"
        if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
            raise _bad(source, key, f"must be {kind}", value)
        if not low <= value <= high:
            raise _bad(source, key, f"must be {kind} from {low:g} to {high:g}", value)
        numbers[key] = value if whole else float(value)
    return OutboxSettings(outbox_dir=(Path(base) / folder.strip()).resolve(),
                          webhook=webhook or None, **numbers)


def _bad(source: str, key: str, message: str, value=None) -> DataError:
    examples = [repr(value)] if value is not None else []
    return DataError(f"[settings], key '{key}': {message}", file=source, examples=examples)


def queue(conn, campaign_id: int, members_frame: pd.DataFrame, batch_size: int) -> int:
    """Add the campaign's treated members as pending batches (in the caller's open
    transaction); returns the number of batches."""
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    name = conn.execute(select(campaigns.c.name).where(
        campaigns.c.id == int(campaign_id))).scalar_one()
    treated = members_frame[members_frame["arm"] == TREATMENT]
    payload = pd.DataFrame({
        "customer_id": treated["customer_id"].astype(str).to_numpy(),
        "offer": treated["offer"].astype(str).to_numpy(),
        "promo_code": treated["promo_code"].fillna("").astype(str).to_numpy(),
        "churn_probability": treated["p0"].astype(float).round(6).to_numpy(),
        "tier": treated["tier"].astype(str).to_numpy(),
        "campaign_id": int(campaign_id), "campaign_name": str(name)})
    items = payload.to_dict("records")
    stamp = store_module.now()
    size = int(batch_size)
    rows = [{"campaign_id": int(campaign_id), "batch": number + 1, "created_at": stamp,
             "payload": json.dumps(items[start:start + size], allow_nan=False),
             "rows": len(items[start:start + size]), "status": PENDING, "attempts": 0}
            for number, start in enumerate(range(0, len(items), size))]
    if rows:
        conn.execute(outbox.insert(), rows)
    return len(rows)


def enrol(store: CampaignStore, plan_: planner.Plan, spec, run: dict,
          batch_size: int) -> tuple[int, int]:
    """A rule run in one transaction: its `rule_runs` row (rule, data version and the
    counts in `run`: matched, enrolled, held_out), the campaign with every member, and the
    treated members' batches; returns (campaign id, batches). A second run of the same rule
    on the same data fails on the unique (rule, data_version) and writes nothing."""
    with store.begin() as conn:
        run_id = conn.execute(rule_runs.insert().values(
            rule=spec.rule, data_version=spec.data_version, ran_at=store_module.now(),
            **run)).inserted_primary_key[0]
        campaign_id = planner.create(store, plan_, spec, conn=conn)
        conn.execute(update(rule_runs).where(rule_runs.c.id == run_id)
                     .values(campaign_id=campaign_id))
        return campaign_id, queue(conn, campaign_id, plan_.members, batch_size)


def batches_needed(treated: int, batch_size: int) -> int:
    return math.ceil(int(treated) / int(batch_size)) if treated else 0


def batch_file(settings: OutboxSettings, campaign_id: int, batch: int) -> Path:
    return Path(settings.outbox_dir) / f"campaign-{int(campaign_id)}-batch-{int(batch)}.csv"


def deliver(store: CampaignStore, settings: OutboxSettings, *, post: Post | None = None,
            sleep: Callable[[float], None] = time.sleep,
            now: Callable[[], datetime] | datetime | None = None) -> dict:
    """Deliver every pending or failed batch, oldest first; never raises for a failed
    delivery. `post(url, body, headers, timeout) -> HTTP status` (default urllib; an
    exception counts as a failed attempt), `sleep` waits between attempts, `now` (a datetime
    or a function returning one) stamps sent_at. Returns {sent, failed, pending, attempts}:
    batches sent and failed in this run, batches still pending afterwards, and the delivery
    attempts made (POSTs with a webhook, file writes without one)."""
    post = post or _post
    query = (select(outbox.c.id).where(outbox.c.status.in_([PENDING, FAILED]))
             .order_by(outbox.c.id))
    with store.connect() as conn:
        todo = [r[0] for r in conn.execute(query)]
    counts = {"sent": 0, "failed": 0, "pending": 0, "attempts": 0}
    for batch_id in todo:   # one payload in memory at a time
        item = _batch(store, batch_id)
        if item is None or item["status"] == SENT:   # another deliver() got there first
            continue
        members = json.loads(item["payload"])
        made, error = 1, _write_csv(batch_file(settings, item["campaign_id"], item["batch"]),
                                    members)
        if error is None and settings.webhook:
            made, error = _post_with_retries(post, sleep, settings, item, members)
        counts["attempts"] += made
        values = {"attempts": item["attempts"] + made}
        if error is None:
            values.update(status=SENT, last_error=None,
                          sent_at=now() if callable(now) else (now or store_module.now()))
            counts["sent"] += 1
        else:
            values.update(status=FAILED, last_error=error[:MAX_ERROR])
            counts["failed"] += 1
        with store.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == item["id"],
                                              outbox.c.status != SENT).values(**values))
    with store.connect() as conn:
        counts["pending"] = int(conn.execute(select(func.count()).select_from(outbox).where(
            outbox.c.status == PENDING)).scalar())
    return counts


def _batch(store: CampaignStore, batch_id: int) -> dict | None:
    query = select(outbox.c.id, outbox.c.campaign_id, outbox.c.batch, outbox.c.payload,
                   outbox.c.attempts, outbox.c.status).where(outbox.c.id == batch_id)
    with store.connect() as conn:
        row = conn.execute(query).first()
    return None if row is None else dict(row._mapping)


def _write_csv(path: Path, members: list[dict]) -> str | None:
    """Write the batch's file atomically unless the same file is there; the error, or None.

    A different file of the same name (left by another store, or edited) is never replaced:
    the batch fails and says so."""
    text = neutralise_frame(pd.DataFrame(members, columns=list(PAYLOAD_COLUMNS))).to_csv(
        index=False, lineterminator="\n").encode("utf-8")
    temp = None
    try:
        if path.is_file():
            return None if path.read_bytes() == text else (
                f"{path} is already there with other contents (left by another campaign "
                "store?); move it away and deliver again")
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=path.parent, prefix=f".{path.stem}-",
                                         suffix=".tmp", delete=False) as handle:
            temp = handle.name
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
        return None
    except OSError as exc:
        if temp is not None and os.path.exists(temp):
            os.unlink(temp)
        return f"cannot write {path}: {exc.strerror or exc}"


def _post_with_retries(post: Post, sleep, settings: OutboxSettings, item: dict,
                       members: list[dict]) -> tuple[int, str | None]:
    """(attempts made, last error or None when a 2xx came back)."""
    key = f"{item['campaign_id']}-{item['batch']}"
    body = json.dumps({"campaign_id": item["campaign_id"], "batch": item["batch"],
                       "idempotency_key": key, "members": members}).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": key,
               "User-Agent": "ChurnLens-outbox"}
    error = "no attempt made"
    for attempt in range(1, settings.retries + 1):
        try:
            status = int(post(settings.webhook, body, headers, settings.timeout))
            error = None if 200 <= status < 300 else f"HTTP {status}"
        except Exception as exc:  # noqa: BLE001 - any failure is recorded, never raised
            error = _describe(exc, settings.timeout)
        if error is None:
            return attempt, None
        if attempt < settings.retries:
            sleep(settings.backoff * 2 ** (attempt - 1))
    return settings.retries, f"webhook: {settings.retries} attempt(s) failed; last: {error}"


def _describe(exc: BaseException, timeout: float) -> str:
    """A failure in words, without the URL (a webhook URL often carries a secret token)."""
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the webhook server up?)"
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def _post(url: str, body: bytes, headers: dict, timeout: float) -> int:
    """POST with urllib, directly (environment proxy settings are not read; pass your own
    `post` to deliver() to go through a proxy); the HTTP status (4xx/5xx returned)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy env vars
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code)


def outbox_status(store: CampaignStore, settings: OutboxSettings | None = None,
                  limit: int | None = None) -> list[dict]:
    """Every batch, newest first: campaign, batch number, rows, status, attempts, last error,
    created and sent times (ISO), and with `settings` its file and whether it was written."""
    query = (select(outbox.c.id, outbox.c.campaign_id, campaigns.c.name.label("campaign_name"),
                    outbox.c.batch, outbox.c.rows, outbox.c.status, outbox.c.attempts,
                    outbox.c.last_error, outbox.c.created_at, outbox.c.sent_at)
             .join(campaigns, campaigns.c.id == outbox.c.campaign_id)
             .order_by(outbox.c.id.desc()))
    if limit is not None:
        query = query.limit(int(limit))
    with store.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    for row in rows:
        for key in ("created_at", "sent_at"):
            row[key] = row[key].isoformat(timespec="seconds") if row[key] else None
        if settings is not None:
            path = batch_file(settings, row["campaign_id"], row["batch"])
            row["file"], row["written"] = str(path), path.is_file()
    return rows


__all__ = ["FAILED", "LIMITS", "PAYLOAD_COLUMNS", "PENDING", "SENT", "OutboxSettings",
           "batch_file", "batches_needed", "deliver", "enrol", "outbox_status", "queue",
           "read_settings"]
