"""The worker's side of the raw layer: claim pending rows, turn them into tracked sessions and
events, mark them processed; any number of workers side by side.

A batch is one transaction, and its claim is that transaction's hold on the rows:

- **Claim** (one statement): the due pending rows in id order, `FOR UPDATE SKIP LOCKED` (two
  workers never take the same row), marked PROCESSED at once, and returned. Until the
  transaction commits no other worker sees them processed, and none can take them. A row is
  "processing" while a worker's transaction holds it; that is never written as a status, which
  saved a second full version of every raw row (the claim would have been one more UPDATE of
  the whole row and its four indexes).
- **The lease** is how long a batch's transaction may hold its rows: PostgreSQL ends a
  transaction idle or in one statement for longer than TRACKING_LEASE_SECONDS. A worker that
  dies, or hangs, loses nothing: its transaction is rolled back and its rows are pending again.
- **Process** (in the same transaction): the events (unique by raw row: never a second event
  for a row) and the sessions they move on, counted only from rows that had no event yet. A
  bot's row (stored flagged) is processed into none: bots stay out of sessions and figures.
- **Failures**: a row that cannot be turned into an event goes back pending with a backoff;
  after TRACKING_MAX_ATTEMPTS it is FAILED with a typed reason and a dead letter (replayed from
  Django admin, `replay_tracking_failures`, or the dead letter itself).
- **Side by side**: on PostgreSQL a worker runs TRACKING_PROCESS_THREADS batches at a time, each
  on its own connection, so that one batch's Python and another's database work overlap (two
  cores, not one after the other). They skip each other's rows as any two workers do.
"""

import datetime as dt
import json
import logging
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, fields
from functools import lru_cache
from urllib.parse import urlsplit

import orjson
from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from crm.jobs.services import dead_letter_record
from tracking import clients, rollups
from tracking.contract import PAGE_VIEW
from tracking.models import (
    FailureReason,
    RawEvent,
    RawStatus,
    TrackedEvent,
    TrackedSession,
    TrackingTenant,
)
from tracking.models import (
    quoted_table as _table,
)

logger = logging.getLogger(__name__)

REPLAY_TASK = "tracking.replay_raw_event_task"


@dataclass
class Claimed:
    id: int
    tenant_id: int
    # The raw payload without its props: the database copies those into the event itself
    # (exactly as they came, not parsed here and written again).
    payload: object
    props_kind: str | None  # the props' JSON type ("object", "null", …); None: no props
    received_at: dt.datetime
    client_timestamp: dt.datetime | None
    sent_at: dt.datetime | None
    clock_skew: bool
    user_agent: str
    record_source: str
    attempts: int
    # Its event exists already (a processed row set pending again): never a second one.
    has_event: bool = False
    # A bot's, stored flagged: processed into no session and no event (the raw row is the
    # record of it).
    bot: bool = False


def _aware(value: str | dt.datetime | None) -> dt.datetime | None:
    """A time the claim read: PostgreSQL's as text with its offset, SQLite's in UTC."""
    if value is None:
        return None
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


_RECENT = dt.timedelta(days=2)


def claim(*, batch: int) -> list[Claimed]:
    """Take up to `batch` due pending rows (those waiting for a retry once it is due), marked
    processed, in the caller's transaction: they are this transaction's until it ends, and
    processed only if it commits. Sorted by id."""
    if not connection.in_atomic_block:
        raise RuntimeError("a claim lives in the transaction that processes it")
    moment = timezone.now()
    now = connection.ops.adapt_datetimefield_value(moment)
    raw, events = _table(RawEvent), _table(TrackedEvent)
    postgres = connection.vendor == "postgresql"
    due = (
        f"SELECT id{', received_at' if postgres else ''} FROM {raw} WHERE {{recent}}status = %s "
        "AND (next_attempt_at IS NULL OR next_attempt_at <= %s) ORDER BY id LIMIT %s"
    )
    # PostgreSQL: the ids as an array, looked up by primary key (as `id IN (…)` the planner
    # could join the whole table to them by hash: a scan of every raw row for each batch), and
    # only in the day partitions between the claimed rows' first and last received times
    # (known once the claim has run: the others are skipped at execution). The rows received in
    # the last days are looked for first, with the bounds written out: the planner then reads
    # only those days' partitions, not the 90 retention keeps; older ones (a row replayed long
    # after) when no recent one is due.
    first_ones = ""
    if postgres:
        first_ones = f"WITH due AS MATERIALIZED ({due} FOR UPDATE SKIP LOCKED) "
        due = (
            "{recent}id = ANY (ARRAY (SELECT id FROM due)) "
            "AND received_at >= (SELECT min(received_at) FROM due) "
            "AND received_at <= (SELECT max(received_at) FROM due)"
        )
    else:
        due = f"id IN ({due})"
    recent = ""
    if postgres:
        since, until = (moment - _RECENT).isoformat(), (moment + dt.timedelta(days=1)).isoformat()
        recent = f"received_at >= '{since}' AND received_at < '{until}' AND "
    # The times as text, read by datetime.fromisoformat (a tenth of the cost of the driver's
    # loader); SQLite keeps them as text anyway.
    as_text = "::text" if postgres else ""
    if postgres:
        payload = (
            "CASE WHEN jsonb_typeof(payload) = 'object' THEN payload - 'props' ELSE payload END"
        )
        props_kind = "jsonb_typeof(payload -> 'props')"
    else:
        payload = (
            "CASE WHEN json_type(payload) = 'object' THEN json_remove(payload, '$.props') "
            "ELSE payload END"
        )
        props_kind = "json_type(payload, '$.props')"
    with connection.cursor() as cursor:
        if postgres:  # the lease: how long this transaction may hold the rows
            lease = f"{settings.TRACKING_LEASE_SECONDS * 1000}"
            cursor.execute(
                "SELECT set_config('idle_in_transaction_session_timeout', %s, true), "
                "set_config('statement_timeout', %s, true)",
                [lease, lease],
            )
        statement = f"""{first_ones}UPDATE {raw}
                SET status = %s, processed_at = %s, attempts = attempts + 1,
                    last_error = '', failure_reason = '', next_attempt_at = NULL
                WHERE {due}
                RETURNING id, tenant_id, {payload}, {props_kind}, received_at{as_text},
                    client_timestamp{as_text}, sent_at{as_text}, clock_skew, user_agent,
                    record_source, attempts,
                    EXISTS (SELECT 1 FROM {events} e WHERE e.raw_event_id = {raw}.id), bot"""
        params = (
            [RawStatus.PENDING, now, batch, RawStatus.PROCESSED, now]
            if postgres
            else [RawStatus.PROCESSED, now, RawStatus.PENDING, now, batch]
        )
        cursor.execute(statement.replace("{recent}", recent), params)
        rows = cursor.fetchall()
        if recent and len(rows) < batch:
            # The recent days hold less than a batch: older rows (replayed, or a backlog from a
            # long outage) fill the rest, so they wait at most until the recent backlog is
            # drained, never for good. This transaction's claimed rows are no longer pending.
            cursor.execute(
                statement.replace("{recent}", ""),
                [RawStatus.PENDING, now, batch - len(rows), RawStatus.PROCESSED, now],
            )
            rows = sorted(rows + cursor.fetchall(), key=lambda row: row[0])
    claimed = [
        Claimed(
            id,
            tenant,
            json.loads(payload) if isinstance(payload, str) else payload,
            props_kind,
            _aware(received),
            _aware(client_time),
            _aware(sent),
            bool(skew),
            agent or "",
            source,
            attempts,
            bool(made),
            bool(bot),
        )
        for id, tenant, payload, props_kind, received, client_time, sent, skew, agent, source,
            attempts, made, bot in rows
    ]  # fmt: skip
    return sorted(claimed, key=lambda row: row.id)


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


# Where an event's props are in its raw row (the database copies them from there): a webhook's
# are its whole payload, an event's its payload's props; neither: {}.
PROPS_ARE_THE_PAYLOAD, PROPS_ARE_THE_PROPS = "payload", "props"


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
            "url": "", "occurred_at": row.received_at, "props_from": PROPS_ARE_THE_PAYLOAD,
        }  # fmt: skip
    evt_type = payload.get("evt_type")
    if not isinstance(evt_type, str) or not 0 < len(evt_type) <= 64:
        raise SchemaViolation("evt_type is missing or not a string of 1 to 64 characters")
    if row.props_kind not in (None, "null", "object"):  # as the ingestion contract has it
        raise SchemaViolation("props is not an object")
    props_from = PROPS_ARE_THE_PROPS if row.props_kind == "object" else None  # else {}
    session = payload.get("session_id")
    return {
        "evt_type": evt_type,
        "url": payload.get("url") if isinstance(payload.get("url"), str) else "",
        "url_path": _path(payload.get("url")),
        "referrer_host": _host(payload.get("referrer")),
        "session": session[:128] if isinstance(session, str) and session else None,
        "occurred_at": occurred_at(row),
        "props_from": props_from,
    }


@dataclass
class Processed:
    processed: int = 0
    failed: int = 0  # given up on
    retrying: int = 0

    def add(self, other: "Processed") -> None:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


Good = list[tuple[Claimed, dict]]  # rows and their events
Bad = list[tuple[Claimed, str, str]]  # rows, why (a FailureReason) and the error


def prepare(rows: list[Claimed]) -> tuple[Good, Bad]:
    """The claimed rows as events, and the rows that failed and why; reads (the tenants),
    writes nothing."""
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
    return good, bad


def process_batch(*, batch: int) -> Processed | None:
    """Claim a batch and process it, in one transaction; then the dead letters. None when
    nothing was pending."""
    with transaction.atomic():
        rows = claim(batch=batch)
        if not rows:
            return None
        good, bad = prepare(rows)
        # Rows whose event exists already are processed without it counting again; bots' rows
        # make no event and move no session.
        _write_events_and_sessions(
            [(row, event) for row, event in good if not row.has_event and not row.bot]
        )
        given_up, retrying = _mark_failed(bad)
    for row, reason, error in given_up:
        dead_letter_record(
            task_name=REPLAY_TASK, args=[row.id], kwargs={},
            error=f"{reason}: {error} (raw event {row.id}, tenant {row.tenant_id})",
        )  # fmt: skip
    return Processed(processed=len(good), failed=len(given_up), retrying=retrying)


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
            events = {table}.events + EXCLUDED.events,
            first_seen_before = {table}.first_seen
        RETURNING id, tenant_id, session_key, first_seen, page_views, first_seen_before"""


def _props(where: str) -> str:
    """An event's props, copied by the database from its raw row, from where normalise said
    (`where`: the SQL that gives it)."""
    if connection.vendor == "postgresql":
        props, empty = "raw.payload -> 'props'", "'{}'::jsonb"
    else:
        props, empty = "json_extract(raw.payload, '$.props')", "'{}'"
    return (
        f"CASE {where} WHEN '{PROPS_ARE_THE_PAYLOAD}' THEN raw.payload "
        f"WHEN '{PROPS_ARE_THE_PROPS}' THEN {props} ELSE {empty} END"
    )


def _events(good: list[tuple[Claimed, dict]]) -> list[dict]:
    return [
        {"tenant_id": row.tenant_id, "raw_event_id": row.id, "evt_type": event["evt_type"],
         "url_path": event["url_path"], "referrer_host": event["referrer_host"],
         "occurred_at": event["occurred_at"], "session_key": event["session"],
         "props_from": event["props_from"]}
        for row, event in good
    ]  # fmt: skip


def _write_events_and_sessions(good: list[tuple[Claimed, dict]]) -> None:
    """The sessions upserted and the events (one per raw row) inserted with them, and the
    rollups counting what was written (tracking.rollups). PostgreSQL: one statement, both sent
    as JSON documents (no per-value quoting of arrays in Python, no second pass over the events
    to link them). SQLite: a statement per session and event, a statement per rollup."""
    if not good:
        return
    sessions = _sessions(good)
    if connection.vendor == "postgresql":
        _write_in_one_statement(good, sessions)
        return
    inserted, moved = _write_one_by_one(good, sessions)
    _count(good, sessions, inserted, moved)


def _write_in_one_statement(good: list[tuple[Claimed, dict]], sessions: dict) -> None:
    """PostgreSQL: the sessions and events written, and the rollups counting the events the
    insert returned (not those that were there already) and the sessions as the upsert left
    them, in one statement: no rows back to Python, no round trip more."""
    sessions_table, events_table = _table(TrackedSession), _table(TrackedEvent)
    session_types = ", ".join(f"{name} {kind}" for name, kind in _SESSION_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(
            # The sessions in one order for every worker, so that two batches moving on the
            # same sessions lock them in the same order: one waits for the other, neither
            # deadlocks.
            f"""WITH given AS (
                    SELECT * FROM jsonb_to_recordset(%s::jsonb) AS s ({session_types})),
                upserted AS (
                    INSERT INTO {sessions_table} ({", ".join(SESSION_COLUMNS)})
                    SELECT {", ".join(SESSION_COLUMNS)} FROM given
                    ORDER BY tenant_id, session_key {_upsert(sessions_table)}),
                inserted AS (
                    INSERT INTO {events_table} ({", ".join(EVENT_COLUMNS)})
                    SELECT e.tenant_id, e.raw_event_id, e.evt_type, e.url_path,
                        e.referrer_host, e.occurred_at, {_props("e.props_from")}, upserted.id
                    FROM jsonb_to_recordset(%s::jsonb) AS e (tenant_id bigint,
                        raw_event_id bigint, evt_type text, url_path text, referrer_host text,
                        occurred_at timestamptz, session_key text, props_from text)
                    JOIN {_table(RawEvent)} raw ON raw.id = e.raw_event_id
                        AND raw.received_at BETWEEN %s AND %s
                    LEFT JOIN upserted ON upserted.tenant_id = e.tenant_id
                        AND upserted.session_key = e.session_key
                    ON CONFLICT (raw_event_id) DO NOTHING
                    RETURNING raw_event_id, tenant_id, evt_type, url_path, occurred_at)
                {rollups.counted_in_sql(inserted="inserted", upserted="upserted", given="given")}
                SELECT count(*) FROM inserted""",
            # The batch's received times, written out (twice: the events' join, the rollups'):
            # the raw rows are looked up in the day partitions they are in, not in every one
            # (tracking.partitions).
            [_json(list(sessions.values())), _json(_events(good)), *_received(good),
             *_received(good)],
        )  # fmt: skip


def _received(good: list[tuple[Claimed, dict]]) -> tuple[dt.datetime, dt.datetime]:
    """The first and last received times of a batch's rows."""
    moments = [row.received_at for row, _ in good]
    return min(moments), max(moments)


def _write_one_by_one(good: list[tuple[Claimed, dict]], sessions: dict) -> tuple:
    """SQLite: a statement per session and event; the raw ids of the events inserted (not of
    those that were there already), and the sessions as the upsert left them."""
    sessions_table, events_table = _table(TrackedSession), _table(TrackedEvent)
    adapt = connection.ops.adapt_datetimefield_value
    ids, moved, inserted = {}, [], set()
    with connection.cursor() as cursor:
        for session in sessions.values():
            values = [adapt(value) if isinstance(value, dt.datetime) else value
                      for value in (session[name] for name in SESSION_COLUMNS)]  # fmt: skip
            cursor.execute(
                f"INSERT INTO {sessions_table} ({', '.join(SESSION_COLUMNS)}) "
                f"VALUES ({', '.join(['%s'] * len(SESSION_COLUMNS))}) {_upsert(sessions_table)}",
                values,
            )
            id, tenant_id, key, first_seen, views, before = cursor.fetchone()
            ids[tenant_id, key] = id
            moved.append((tenant_id, key, _aware(first_seen), views, _aware(before)))
        for event in _events(good):
            cursor.execute(
                f"INSERT INTO {events_table} ({', '.join(EVENT_COLUMNS)}) "
                f"SELECT %s, %s, %s, %s, %s, %s, {_props('%s')}, %s "
                f"FROM {_table(RawEvent)} raw WHERE raw.id = %s "
                "ON CONFLICT (raw_event_id) DO NOTHING",
                [event["tenant_id"], event["raw_event_id"], event["evt_type"],
                 event["url_path"], event["referrer_host"], adapt(event["occurred_at"]),
                 event["props_from"], ids.get((event["tenant_id"], event["session_key"])),
                 event["raw_event_id"]],
            )  # fmt: skip
            if cursor.rowcount:
                inserted.add(event["raw_event_id"])
    return inserted, moved


def _count(good: list[tuple[Claimed, dict]], sessions: dict, inserted: set, moved: list) -> None:
    """SQLite: the rollups, from the events inserted (not those a row had already) and the
    sessions moved."""
    rollups.count_events(
        {"tenant_id": row.tenant_id, "evt_type": event["evt_type"],
         "url_path": event["url_path"], "occurred_at": event["occurred_at"],
         "received_at": row.received_at, "record_source": row.record_source}
        for row, event in good if row.id in inserted
    )  # fmt: skip
    rollups.count_sessions(
        (tenant_id, first_seen, views, before, sessions[tenant_id, key]["page_views"])
        for tenant_id, key, first_seen, views, before in moved
    )


def _json(rows: list[dict]) -> str:
    # orjson: with the standard library's encoder (and its hook for datetimes) these documents
    # were a fifth of a batch's time. Only our own values are in them (ids, counts, times,
    # strings PostgreSQL gave us): no client number that orjson's 64-bit integers could not
    # hold (props are copied by the database).
    return orjson.dumps(rows).decode()


def _mark_failed(bad: Bad) -> tuple[Bad, int]:
    """Rows that failed (claimed, so marked processed until now): back with a backoff (30 s,
    2 min, 8 min, …), or FAILED after the last attempt. Returns (rows given up on, rows to
    retry)."""
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
    # PostgreSQL: the row's received time too, so that each update reads the one day partition
    # the row is in, not every one.
    postgres = connection.vendor == "postgresql"
    update = (
        f"UPDATE {_table(RawEvent)} SET status = %s, processed_at = NULL, failure_reason = %s, "
        "last_error = %s, next_attempt_at = %s WHERE id = %s"
        + (" AND received_at = %s" if postgres else "")
    )

    def where(row: Claimed) -> tuple:
        return (row.id, row.received_at) if postgres else (row.id,)

    with connection.cursor() as cursor:
        cursor.executemany(
            update,
            [(RawStatus.FAILED, reason, error[:2000], None, *where(row))
             for row, reason, error in given_up]
            + [(RawStatus.PENDING, reason, error[:2000],
                adapt(now + dt.timedelta(seconds=30 * 4 ** (row.attempts - 1))), *where(row))
               for row, reason, error in retry],
        )  # fmt: skip
    return given_up, len(retry)


def process_pending(
    *,
    batch: int | None = None,
    budget: float | None = None,
    progress=None,
    threads: int | None = None,
) -> Processed:
    """Process batches until none is left or `budget` seconds are spent (a job run leaves the
    rest to the next; a batch begun is finished): on PostgreSQL `threads` batches at a time
    (TRACKING_PROCESS_THREADS), each on its own connection."""
    batch = batch or settings.TRACKING_PROCESS_BATCH
    threads = threads or settings.TRACKING_PROCESS_THREADS
    started, total, lock = time.monotonic(), Processed(), threading.Lock()
    stop = threading.Event()

    def report() -> None:
        if progress is not None:
            progress(total.processed + total.failed, None)

    def batches(after=lambda: None) -> None:
        while not stop.is_set() and (done := process_batch(batch=batch)) is not None:
            with lock:
                total.add(done)
            after()
            if budget is not None and time.monotonic() - started > budget:
                return

    # SQLite has one writer at a time; in a caller's transaction (a test's, say) another
    # connection would not see its rows.
    if threads <= 1 or connection.vendor != "postgresql" or connection.in_atomic_block:
        batches(after=report)
        return total
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="tracking-batches") as pool:
        running = {pool.submit(_on_its_own_connection, batches) for _ in range(threads)}
        try:
            while running:  # progress is reported from here, the caller's thread
                finished, running = wait(running, timeout=1, return_when=FIRST_EXCEPTION)
                report()
                for future in finished:
                    future.result()  # a batch's error: the others finish theirs and stop
        finally:
            stop.set()
    return total


def _on_its_own_connection(work) -> None:
    try:
        work()
    finally:
        connections.close_all()  # the thread's connection, which nothing else would close


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
        status=RawStatus.PENDING, attempts=0, next_attempt_at=None,
        last_error="", failure_reason="",
    )  # fmt: skip
