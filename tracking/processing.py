"""The worker's side of the raw layer: claim pending rows, turn them into tracked sessions and
events, mark them processed; any number of workers side by side.

- **Claim** (one statement, committed): pending rows in id order, `FOR UPDATE SKIP LOCKED`
  (two workers never take the same row), marked PROCESSING with a lease. A worker that dies
  holding a claim loses nothing: when the lease ends the rows are pending again.
- **Process** (one transaction): mark processed only the rows this claim still holds (their
  lease unchanged: a row another worker took back after the lease ended is not ours any more),
  then their events (unique by raw row: never a second event for a row) and their sessions,
  counted from the events actually written.
- **Failures**: a row that cannot be turned into an event goes back with attempts + 1 and a
  backoff; after TRACKING_MAX_ATTEMPTS it is FAILED with a typed reason and a dead letter
  (replayed from Django admin, `replay_tracking_failures`, or the dead letter itself).
- **Reading ahead** (PostgreSQL, outside a caller's transaction): while one batch is written,
  a thread with its own connection claims and prepares the next, so that the worker's Python
  and the database work at the same time (two cores, not one after the other). The thread is
  one more claimer: the claims skip each other's rows as any two workers' do.
"""

import datetime as dt
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from crm.jobs.services import dead_letter_record
from tracking import clients
from tracking.models import (
    FailureReason,
    RawEvent,
    RawStatus,
    TrackedEvent,
    TrackedSession,
    TrackingTenant,
)

logger = logging.getLogger(__name__)

REPLAY_TASK = "tracking.replay_raw_event_task"
PAGE_VIEW = "page_view"


@dataclass
class Claimed:
    id: int
    tenant_id: int
    payload: object
    received_at: dt.datetime
    client_timestamp: dt.datetime | None
    sent_at: dt.datetime | None
    clock_skew: bool
    user_agent: str
    record_source: str
    attempts: int


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _aware(value: str | dt.datetime | None) -> dt.datetime | None:
    """A time the claim read: PostgreSQL's as text with its offset, SQLite's in UTC."""
    if value is None:
        return None
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


def release_expired_leases() -> int:
    """Rows claimed by a worker that died (their lease over): pending again."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table(RawEvent)} SET status = %s, lease_until = NULL "
            "WHERE status = %s AND lease_until < %s",
            [RawStatus.PENDING, RawStatus.PROCESSING, _db_now()],
        )
        return cursor.rowcount


def _db_now():
    return connection.ops.adapt_datetimefield_value(timezone.now())


@transaction.atomic
def claim(*, batch: int) -> tuple[dt.datetime, list[Claimed]]:
    """Take up to `batch` pending rows (those waiting for a retry once it is due): the lease
    that marks them ours, and the rows."""
    now = timezone.now()
    lease = now + dt.timedelta(seconds=settings.TRACKING_LEASE_SECONDS)
    table = _table(RawEvent)
    postgres = connection.vendor == "postgresql"
    skip = " FOR UPDATE SKIP LOCKED" if postgres else ""
    # The times as text, read by datetime.fromisoformat (a tenth of the cost of the driver's
    # loader); SQLite keeps them as text anyway.
    as_text = "::text" if postgres else ""
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {table} SET status = %s, lease_until = %s, attempts = attempts + 1
                WHERE id IN (
                    SELECT id FROM {table}
                    WHERE status = %s AND (next_attempt_at IS NULL OR next_attempt_at <= %s)
                    ORDER BY id LIMIT %s{skip})
                RETURNING id, tenant_id, payload, received_at{as_text},
                    client_timestamp{as_text}, sent_at{as_text}, clock_skew, user_agent,
                    record_source, attempts""",
            [RawStatus.PROCESSING, adapt(lease), RawStatus.PENDING, adapt(now), batch],
        )
        rows = cursor.fetchall()
    claimed = [
        Claimed(
            id,
            tenant,
            json.loads(payload) if isinstance(payload, str) else payload,
            _aware(received),
            _aware(client_time),
            _aware(sent),
            bool(skew),
            agent or "",
            source,
            attempts,
        )
        for id, tenant, payload, received, client_time, sent, skew, agent, source, attempts in rows
    ]
    return lease, sorted(claimed, key=lambda row: row.id)


def _host(url) -> str:
    return _parts(url)[0] if isinstance(url, str) and url else ""


def _path(url) -> str:
    return _parts(url)[1] if isinstance(url, str) and url else ""


# A site's events name the same few pages and referrers again and again.
@lru_cache(maxsize=8192)
def _parts(url: str) -> tuple[str, str]:
    """A URL's host and path, cut to their columns' lengths ("" for both if it is not one)."""
    try:
        split = urlsplit(url)
        return (split.hostname or "")[:255], (split.path or "/")[:2048]
    except ValueError:
        return "", ""


def occurred_at(row: Claimed) -> dt.datetime:
    """When it happened: the client's time moved by its clock's error when the client said
    when it sent (Segment's correction), the client's time when its clock looked right, else
    when we received it."""
    if row.client_timestamp is not None and row.sent_at is not None:
        corrected = row.client_timestamp + (row.received_at - row.sent_at)
        if dt.timedelta(0) <= row.received_at - corrected <= dt.timedelta(days=7):
            return corrected
    if row.client_timestamp is not None and not row.clock_skew:
        return row.client_timestamp
    return row.received_at


class SchemaViolation(ValueError):
    pass


def normalise(row: Claimed) -> dict:
    """A raw row as the event it is (raises for one that cannot be)."""
    payload = row.payload
    if not isinstance(payload, dict):
        raise SchemaViolation("the payload is not a JSON object")
    if row.record_source.startswith("webhook:"):
        kind = payload.get("type") or payload.get("event") or row.record_source
        return {
            "evt_type": str(kind)[:64], "url_path": "", "referrer_host": "", "session": None,
            "url": "", "props": payload, "occurred_at": row.received_at,
        }  # fmt: skip
    evt_type = payload.get("evt_type")
    if not isinstance(evt_type, str) or not 0 < len(evt_type) <= 64:
        raise SchemaViolation("evt_type is missing or not a string of 1 to 64 characters")
    props = payload.get("props") or {}
    if not isinstance(props, dict):
        raise SchemaViolation("props is not an object")
    session = payload.get("session_id")
    return {
        "evt_type": evt_type,
        "url": payload.get("url") if isinstance(payload.get("url"), str) else "",
        "url_path": _path(payload.get("url")),
        "referrer_host": _host(payload.get("referrer")),
        "session": session[:128] if isinstance(session, str) and session else None,
        "props": props,
        "occurred_at": occurred_at(row),
    }


@dataclass
class Processed:
    processed: int = 0
    failed: int = 0  # given up on
    retrying: int = 0
    lost_claim: int = 0  # taken back by another worker after the lease ended


@dataclass
class Prepared:
    """A claim turned into what it will write: its events (with their rows), the rows that
    failed and why, and (PostgreSQL) the sessions and events as the JSON documents the write
    sends, for all of `good`."""

    lease: dt.datetime
    good: list[tuple[Claimed, dict]]
    bad: list[tuple[Claimed, str, str]]
    documents: tuple[str, str] | None = None


def prepare(lease: dt.datetime, rows: list[Claimed]) -> Prepared:
    """The claimed rows as events or failures; reads (the tenants), writes nothing."""
    good, bad = [], []
    active = set(
        TrackingTenant.objects.filter(
            pk__in={row.tenant_id for row in rows}, active=True
        ).values_list("pk", flat=True)
    )
    for row in rows:
        if row.tenant_id not in active:
            bad.append((row, FailureReason.TENANT_GONE, "the tenant is inactive or gone"))
            continue
        try:
            good.append((row, normalise(row)))
        except SchemaViolation as error:
            bad.append((row, FailureReason.SCHEMA_VIOLATION, str(error)))
        except Exception as error:  # an enrichment that broke on this row: retried
            bad.append((row, FailureReason.ENRICHMENT_FAILURE, f"{type(error).__name__}: {error}"))
    documents = _documents(good) if good and connection.vendor == "postgresql" else None
    return Prepared(lease, good, bad, documents)


def write(prepared: Prepared) -> Processed:
    """What a claim prepared, written in one transaction; then the dead letters."""
    result = Processed()
    good, bad, lease = prepared.good, prepared.bad, prepared.lease
    with transaction.atomic():
        owned, made = _mark_processed([row.id for row, _ in good], lease)
        result.lost_claim = len(good) - len(owned)
        # Rows this claim still holds, less those whose event exists (a processed row set
        # pending again): never a second event, never counted twice in a session.
        fresh = [(row, event) for row, event in good if row.id in owned and row.id not in made]
        unchanged = len(fresh) == len(good)
        _write_events_and_sessions(fresh, prepared.documents if unchanged else None)
        result.processed = len(owned)
        given_up, retrying = _mark_failed(bad, lease)
        result.failed, result.retrying = len(given_up), retrying
    for row, reason, error in given_up:
        dead_letter_record(
            task_name=REPLAY_TASK, args=[row.id], kwargs={},
            error=f"{reason}: {error} (raw event {row.id}, tenant {row.tenant_id})",
        )  # fmt: skip
    return result


def process(lease: dt.datetime, rows: list[Claimed]) -> Processed:
    """Turn claimed rows into events and sessions, in one transaction."""
    return write(prepare(lease, rows)) if rows else Processed()


def _json_values() -> str:
    """The elements of a JSON array parameter, as rows of `value`. (An id list as an array
    literal made PostgreSQL test each row against all 5,000 ids of a batch.)"""
    if connection.vendor == "postgresql":
        return "jsonb_array_elements_text(%s::jsonb) AS v (value)"
    return "json_each(%s)"


def _mark_processed(ids: list[int], lease: dt.datetime) -> tuple[set[int], set[int]]:
    """Mark processed the rows of `ids` this claim still holds (status and lease unchanged);
    returns them, and those of them that already have their event. PostgreSQL: one
    statement; SQLite (no UPDATE in WITH): two."""
    if not ids:
        return set(), set()
    adapt = connection.ops.adapt_datetimefield_value
    update = f"""UPDATE {_table(RawEvent)} SET status = %s, processed_at = %s,
            lease_until = NULL, last_error = '', failure_reason = '', next_attempt_at = NULL
        WHERE id IN (SELECT CAST(value AS bigint) FROM {_json_values()})
            AND status = %s AND lease_until = %s RETURNING id"""
    params = [RawStatus.PROCESSED, _db_now(), json.dumps(ids), RawStatus.PROCESSING, adapt(lease)]
    events = _table(TrackedEvent)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"""WITH owned AS ({update}) SELECT id, EXISTS (
                        SELECT 1 FROM {events} e WHERE e.raw_event_id = owned.id) FROM owned""",
                params,
            )
            rows = cursor.fetchall()
            return {pk for pk, _ in rows}, {pk for pk, made in rows if made}
        cursor.execute(update, params)
        owned = {row[0] for row in cursor.fetchall()}
        cursor.execute(
            f"SELECT raw_event_id FROM {events} WHERE raw_event_id IN "
            f"(SELECT value FROM {_json_values()})",
            [json.dumps(sorted(owned))],
        )
        return owned, {row[0] for row in cursor.fetchall()}


def _sessions(good: list[tuple[Claimed, dict]]) -> dict[tuple[int, str], dict]:
    """Each session these events belong to, as they move it on: first and last seen, page
    views, events, entry and exit page, the first referrer, device and browser."""
    sessions: dict[tuple[int, str], dict] = {}
    for row, event in sorted(good, key=lambda pair: pair[1]["occurred_at"]):
        if event["session"] is None:
            continue
        key = (row.tenant_id, event["session"])
        seen = sessions.get(key)
        if seen is None:
            device, browser = clients.device_and_browser(row.user_agent)
            seen = sessions[key] = {
                "tenant_id": row.tenant_id, "session_key": event["session"],
                "first_seen": event["occurred_at"], "entry_url": event["url"][:2048],
                "referrer_host": event["referrer_host"], "device": device, "browser": browser,
                "page_views": 0, "events": 0,
            }  # fmt: skip
        seen["last_seen"], seen["exit_url"] = event["occurred_at"], event["url"][:2048]
        seen["page_views"] += event["evt_type"] == PAGE_VIEW
        seen["events"] += 1
    return sessions


# A session's columns, with their types for reading them from a JSON document.
_SESSION_FIELDS = (
    ("tenant_id", "bigint"), ("session_key", "text"), ("first_seen", "timestamptz"),
    ("last_seen", "timestamptz"), ("page_views", "integer"), ("events", "integer"),
    ("entry_url", "text"), ("exit_url", "text"), ("referrer_host", "text"), ("device", "text"),
    ("browser", "text"),
)  # fmt: skip
SESSION_COLUMNS = tuple(name for name, _ in _SESSION_FIELDS)
EVENT_COLUMNS = ("tenant_id", "raw_event_id", "evt_type", "url_path", "referrer_host",
                 "occurred_at", "props", "session_id")  # fmt: skip


def _upsert(table: str) -> str:
    """A session seen again moves on: the earlier first sighting (and its entry page and
    referrer), the later last one (and its exit page), the counts added."""
    return f"""
        ON CONFLICT (tenant_id, session_key) DO UPDATE SET
            entry_url = CASE WHEN EXCLUDED.first_seen < {table}.first_seen
                             THEN EXCLUDED.entry_url ELSE {table}.entry_url END,
            referrer_host = CASE WHEN EXCLUDED.first_seen < {table}.first_seen
                                 THEN EXCLUDED.referrer_host ELSE {table}.referrer_host END,
            exit_url = CASE WHEN EXCLUDED.last_seen >= {table}.last_seen
                            THEN EXCLUDED.exit_url ELSE {table}.exit_url END,
            first_seen = CASE WHEN EXCLUDED.first_seen < {table}.first_seen
                              THEN EXCLUDED.first_seen ELSE {table}.first_seen END,
            last_seen = CASE WHEN EXCLUDED.last_seen > {table}.last_seen
                             THEN EXCLUDED.last_seen ELSE {table}.last_seen END,
            page_views = {table}.page_views + EXCLUDED.page_views,
            events = {table}.events + EXCLUDED.events
        RETURNING id, tenant_id, session_key"""


def _events(good: list[tuple[Claimed, dict]]) -> list[dict]:
    return [
        {"tenant_id": row.tenant_id, "raw_event_id": row.id, "evt_type": event["evt_type"],
         "url_path": event["url_path"], "referrer_host": event["referrer_host"],
         "occurred_at": event["occurred_at"], "props": event["props"],
         "session_key": event["session"]}
        for row, event in good
    ]  # fmt: skip


def _documents(good: list[tuple[Claimed, dict]]) -> tuple[str, str]:
    """The sessions these events move on and the events, as JSON documents."""
    return _json(list(_sessions(good).values())), _json(_events(good))


def _write_events_and_sessions(
    good: list[tuple[Claimed, dict]], documents: tuple[str, str] | None = None
) -> None:
    """The sessions upserted and the events (one per raw row) inserted with them. PostgreSQL:
    one statement, both sent as JSON documents (`documents`, when prepared already for exactly
    these events; no per-value quoting of arrays in Python, no second pass over the events to
    link them). SQLite: a statement per session and event."""
    if not good:
        return
    sessions_table, events_table = _table(TrackedSession), _table(TrackedEvent)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            session_types = ", ".join(f"{name} {kind}" for name, kind in _SESSION_FIELDS)
            cursor.execute(
                f"""WITH given AS (
                        SELECT * FROM jsonb_to_recordset(%s::jsonb) AS s ({session_types})),
                    upserted AS (
                        INSERT INTO {sessions_table} ({", ".join(SESSION_COLUMNS)})
                        SELECT {", ".join(SESSION_COLUMNS)} FROM given {_upsert(sessions_table)})
                    INSERT INTO {events_table} ({", ".join(EVENT_COLUMNS)})
                    SELECT e.tenant_id, e.raw_event_id, e.evt_type, e.url_path,
                        e.referrer_host, e.occurred_at, e.props, upserted.id
                    FROM jsonb_to_recordset(%s::jsonb) AS e (tenant_id bigint,
                        raw_event_id bigint, evt_type text, url_path text, referrer_host text,
                        occurred_at timestamptz, props jsonb, session_key text)
                    LEFT JOIN upserted ON upserted.tenant_id = e.tenant_id
                        AND upserted.session_key = e.session_key
                    ON CONFLICT (raw_event_id) DO NOTHING""",
                list(documents or _documents(good)),
            )
            return
        sessions, events = _sessions(good), _events(good)
        adapt = connection.ops.adapt_datetimefield_value
        ids = {}
        for key, session in sessions.items():
            values = [adapt(value) if isinstance(value, dt.datetime) else value
                      for value in (session[name] for name in SESSION_COLUMNS)]  # fmt: skip
            cursor.execute(
                f"INSERT INTO {sessions_table} ({', '.join(SESSION_COLUMNS)}) "
                f"VALUES ({', '.join(['%s'] * len(SESSION_COLUMNS))}) {_upsert(sessions_table)}",
                values,
            )
            ids[key] = cursor.fetchone()[0]
        cursor.executemany(
            f"INSERT INTO {events_table} ({', '.join(EVENT_COLUMNS)}) "
            f"VALUES ({', '.join(['%s'] * len(EVENT_COLUMNS))}) "
            "ON CONFLICT (raw_event_id) DO NOTHING",
            [(event["tenant_id"], event["raw_event_id"], event["evt_type"], event["url_path"],
              event["referrer_host"], adapt(event["occurred_at"]),
              json.dumps(event["props"], ensure_ascii=False),
              ids.get((event["tenant_id"], event["session_key"])))
             for event in events],
        )  # fmt: skip


def _json(rows: list[dict]) -> str:
    return json.dumps(rows, ensure_ascii=False, default=_moment, separators=(",", ":"))


def _moment(value):
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _mark_failed(bad: list, lease: dt.datetime) -> tuple[list, int]:
    """Rows that failed: back with a backoff (30 s, 2 min, 8 min, …), or FAILED after the
    last attempt. Returns (rows given up on, rows to retry)."""
    if not bad:
        return [], 0
    now = timezone.now()
    given_up, retry = [], []
    for row, reason, error in bad:
        final = reason != FailureReason.ENRICHMENT_FAILURE or (
            row.attempts >= settings.TRACKING_MAX_ATTEMPTS
        )  # (a bad row or a gone tenant will not get better by waiting)
        (given_up if final else retry).append((row, reason, error))
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        for row, reason, error in given_up:
            cursor.execute(
                f"UPDATE {_table(RawEvent)} SET status = %s, lease_until = NULL, "
                "failure_reason = %s, last_error = %s WHERE id = %s AND lease_until = %s",
                [RawStatus.FAILED, reason, error[:2000], row.id, adapt(lease)],
            )
        for row, reason, error in retry:
            wait = dt.timedelta(seconds=30 * 4 ** (row.attempts - 1))
            cursor.execute(
                f"UPDATE {_table(RawEvent)} SET status = %s, lease_until = NULL, "
                "failure_reason = %s, last_error = %s, next_attempt_at = %s "
                "WHERE id = %s AND lease_until = %s",
                [RawStatus.PENDING, reason, error[:2000], adapt(now + wait), row.id,
                 adapt(lease)],
            )  # fmt: skip
    return given_up, len(retry)


def process_pending(
    *, batch: int | None = None, budget: float | None = None, progress=None
) -> Processed:
    """Claim and process batches until none is left or `budget` seconds are spent (a job run
    leaves the rest to the next; a batch read ahead is written first). Expired leases are
    released first."""
    batch = batch or settings.TRACKING_PROCESS_BATCH
    started, total = time.monotonic(), Processed()
    release_expired_leases()

    def written(prepared: Prepared) -> bool:
        done = write(prepared)
        for name in ("processed", "failed", "retrying", "lost_claim"):
            setattr(total, name, getattr(total, name) + getattr(done, name))
        if progress is not None:
            progress(total.processed + total.failed, None)
        return budget is None or time.monotonic() - started <= budget

    # In a caller's transaction (a test's, say) another connection would not see its rows.
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        while (prepared := _claim_and_prepare(batch)) is not None and written(prepared):
            pass
        return total
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracking-claims") as ahead:
        coming = ahead.submit(_claim_and_prepare, batch)
        try:
            prepared, coming = coming.result(), None
            while prepared is not None:
                coming = ahead.submit(_claim_and_prepare, batch)  # the next, while this is written
                more = written(prepared)
                prepared, coming = coming.result(), None
                if not more:  # the budget spent: the batch read ahead is written, then stop
                    if prepared is not None:
                        written(prepared)
                    break
        finally:
            if coming is not None:  # read ahead, and a write failed: its rows pending at once
                _give_back(ahead, coming)
            try:
                ahead.submit(connections.close_all).result()  # the thread's connection
            except Exception:
                logger.warning("the claiming thread's connection did not close", exc_info=True)
    return total


def _claim_and_prepare(batch: int) -> Prepared | None:
    lease, rows = claim(batch=batch)
    if not rows:
        return None
    try:
        return prepare(lease, rows)
    except Exception:
        _release(lease, [row.id for row in rows])
        raise


def _give_back(ahead: ThreadPoolExecutor, coming) -> None:
    """A claim read ahead and never written: its rows pending again now, not at its lease's
    end. Released by the thread that claimed them: its connection just worked, where the
    write's may be the one that failed."""
    try:
        prepared = coming.result()
    except Exception:
        return  # it failed itself, and released what it had claimed
    if prepared is not None:
        rows = [row.id for row, _ in prepared.good] + [row.id for row, _, _ in prepared.bad]
        ahead.submit(_release, prepared.lease, rows).result()


def _release(lease: dt.datetime, ids: list[int]) -> None:
    """Claimed rows that were not processed: pending again, the attempt they counted taken
    back. If even this fails (the database gone), the lease ends on its own."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {_table(RawEvent)} SET status = %s, lease_until = NULL, "
                "attempts = GREATEST(attempts - 1, 0) "
                f"WHERE id IN (SELECT CAST(value AS bigint) FROM {_json_values()}) "
                "AND status = %s AND lease_until = %s",
                [RawStatus.PENDING, json.dumps(ids), RawStatus.PROCESSING,
                 connection.ops.adapt_datetimefield_value(lease)],
            )  # fmt: skip
    except Exception:
        logger.warning("%d claimed rows are left to their lease", len(ids), exc_info=True)


@transaction.atomic
def replay(*, ids: list[int] | None = None, tenant_id: int | None = None, reason: str = "") -> int:
    """FAILED rows pending again (attempts from 0): the admin action, the command, a dead
    letter sent again. Returns how many."""
    rows = RawEvent.objects.filter(status=RawStatus.FAILED)
    if ids is not None:
        rows = rows.filter(pk__in=ids)
    if tenant_id is not None:
        rows = rows.filter(tenant_id=tenant_id)
    if reason:
        rows = rows.filter(failure_reason=reason)
    return rows.update(
        status=RawStatus.PENDING, attempts=0, next_attempt_at=None, lease_until=None,
        last_error="", failure_reason="",
    )  # fmt: skip
