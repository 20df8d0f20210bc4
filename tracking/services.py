"""Writes of tracking: ingestion (one service for every path: the JS snippet, the API, webhooks,
imports), tenants and their keys, replaying and purging raw rows.

`ingest` stores every valid event of a request with one statement (no model object per
event) and returns once it is committed: what it answers accepted is stored, exactly once per
(tenant, event id) however often it is sent.
"""

import datetime as dt
import json
import os
import secrets
import time
from collections.abc import Iterable, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from crm.periods import format_moment
from crm.roles import Actor
from crm.writes import audit, locked, name_actions
from tracking import clients, contract, partitions, selectors, tenants

# What was answered but not stored is counted through here by every ingestion path; the
# counters live in their own module, which the dashboard's selector reads as well.
from tracking.counters import DROP_REASONS as DROP_REASONS
from tracking.counters import count_drop as count_drop
from tracking.counters import drop_counts as drop_counts
from tracking.models import RawEvent, RawStatus, TrackingTenant

name_actions(
    {
        "tracking.tenant_create": "Tracking tenant created",
        "tracking.tenant_rotate_keys": "Tracking keys rotated",
    }
)

# What an administrator reads once keys are rotated (rotated_message).
ROTATED_KEEPING = "New keys for {names}: the previous ones work until {until}."
ROTATED_NOW = "New keys for {names}: the previous ones stop working within {seconds} s."

COLUMNS = (
    "tenant_id", "received_at", "client_timestamp", "sent_at", "clock_skew", "client_ip",
    "user_agent", "payload", "record_source", "event_id", "status", "attempts", "last_error",
    "failure_reason", "bot",
)  # fmt: skip


# What the answer says of each event, in the order they were sent (shared values: a batch of
# 500 stored events is one list of the same dictionary, cheap to build and to encode).
STORED = {"status": "stored"}
STORED_BOT = {"status": "stored", "bot": True}
DUPLICATE = {"status": "duplicate"}
QUEUED = {"status": "queued"}  # the queue's answer (tracking.queue): stored when drained
BOT_DROPPED = (
    "A bot's request (its user agent says so): this tenant does not store bots' events. "
    "A test from a browser that announces itself as headless can send skip_bot_filter: true."
)
DROPPED = {"status": "dropped", "reason": BOT_DROPPED}
_SAID = {id(entry): json.dumps(entry) for entry in (STORED, STORED_BOT, DUPLICATE, QUEUED, DROPPED)}


def results_json(results: list[dict]) -> str:
    """The per-event results as JSON text, the shared values from text made once (a batch's
    hundred results cost a tenth of what json.dumps takes to walk a hundred dictionaries)."""
    return "[" + ", ".join([_SAID.get(id(entry)) or json.dumps(entry) for entry in results]) + "]"


@dataclass
class Ingested:
    accepted: int = 0  # stored now, or earlier (a re-sent event): safe not to send again
    stored: int = 0  # new rows (a re-sent event is accepted, and not stored again)
    rejected: list[dict] = field(default_factory=list)  # {"index": i, "reason": "…"}
    results: list[dict] = field(default_factory=list)  # per event: STORED, DUPLICATE, …

    @property
    def duplicates(self) -> int:
        return self.accepted - self.stored


@dataclass(frozen=True, slots=True)
class _Request:
    """What every event of one request shares."""

    tenant_id: int
    received_at: dt.datetime
    sent_at: dt.datetime | None
    ip: str | None
    user_agent: str
    source: str
    bot: bool


def ingest(
    *,
    tenant: tenants.Tenant,
    events: Iterable,
    ip: str | None,
    user_agent: str,
    source: str,
    sent_at=None,
    received_at: dt.datetime | None = None,
    checked: bool = True,
    event_id: str | None = None,
    bot: bool = False,
) -> Ingested:
    """Store the events of one request for `tenant`: each checked against the contract (a bad
    one is rejected with its reason, the others kept), then all in one INSERT … ON CONFLICT DO
    NOTHING, committed before this returns. `checked=False` keeps what a signed source sent (a
    webhook's body, an import) as it is; `event_id` names the one event of such a request (a
    webhook's delivery id), else its "id", else a new one. `bot`: a bot's events, stored
    flagged. The result says of each event whether it was stored, already stored (its id was
    sent before) or rejected, and why."""
    received_at = received_at or timezone.now()
    request = _Request(
        tenant_id=tenant.id, received_at=received_at,
        sent_at=contract.parse_time(sent_at) if sent_at is not None else None,
        ip=clients.kept_ip(ip, tenant.ip_handling), user_agent=user_agent[:512], source=source,
        bot=bot,
    )  # fmt: skip
    good, result = [], Ingested()
    for index, event in enumerate(events):
        try:
            if checked:
                good.append(contract.check_event(event, received_at=received_at))
            else:
                good.append(_trusted_event(event, event_id))
        except ValueError as error:
            result.rejected.append({"index": index, "reason": str(error)})
    result.accepted = len(good)
    said = []
    if good:
        # One statement: in autocommit it is committed when it returns (no BEGIN and COMMIT
        # round trips); inside a caller's transaction, with it.
        result.stored, new = _insert(request, good)
        stored = STORED_BOT if bot else STORED
        said = [stored] * len(good) if new is None else [stored if n else DUPLICATE for n in new]
    result.results = _in_order(said, result.rejected)
    return result


def _in_order(said: list[dict], rejected: list[dict]) -> list[dict]:
    """What became of each event, in the order they were sent: the accepted ones' (`said`, in
    order) between the rejected ones."""
    if not rejected:
        return said
    refused = {entry["index"]: entry["reason"] for entry in rejected}
    accepted = iter(said)
    return [
        {"status": "rejected", "reason": refused[index]} if index in refused else next(accepted)
        for index in range(len(said) + len(rejected))
    ]


def bots_dropped(count: int) -> dict:
    """The answer to a bot's request whose tenant drops bots' events: each event said dropped."""
    return {"accepted": 0, "duplicates": 0, "rejected": [], "results": [DROPPED] * count,
            "bot": "dropped", "ignored": "bot"}  # fmt: skip


def _trusted_event(event, event_id: str | None) -> contract.Event:
    payload = contract.serialize(event)
    if event_id is None and isinstance(event, dict) and event.get("id") is not None:
        event_id = str(event["id"])
    return contract.Event(
        payload=payload, evt_type="webhook",
        event_id=str(event_id)[: contract.MAX_ID] if event_id is not None else None,
        timestamp=None, clock_skew=False,
    )  # fmt: skip


def new_event_ids(count: int) -> list[str]:
    """Ids for events their client did not name: UUIDv7 in hex (the millisecond first, then
    74 random bits), so that new rows land at the right edge of the (tenant, event_id) index
    rather than on a random page of it, however large the raw table grows."""
    millis = f"{time.time_ns() // 1_000_000:012x}"
    noise = os.urandom(10 * count).hex()
    return [
        f"{millis}7{noise[n : n + 3]}{_VARIANT[noise[n + 3]]}{noise[n + 4 : n + 19]}"
        for n in range(0, 20 * count, 20)
    ]


_VARIANT = {digit: "89ab"[int(digit, 16) % 4] for digit in "0123456789abcdef"}


def event_ids(events: Sequence[contract.Event]) -> tuple[list[str], int]:
    """Each event's id, in order (the client's, else a new one), and how many are the
    client's: only those can have been stored before (a new one cannot)."""
    missing = sum(1 for event in events if event.event_id is None)
    fresh = iter(new_event_ids(missing)) if missing else None
    ids = [event.event_id if event.event_id is not None else next(fresh) for event in events]
    return ids, len(events) - missing


def _insert(request: _Request, events: list[contract.Event]) -> tuple[int, list[bool] | None]:
    """The events in one statement; returns how many rows are new and, when some were not
    (their ids were stored before), which: None when all were.

    On PostgreSQL one event as VALUES (the cheapest to send and plan); more with what varies
    per event (its payload, id, timestamp, skew) sent as one JSON document unpacked by
    jsonb_array_elements, and what the request shares as single parameters: one plan whatever
    the count, and no per-value quoting of arrays in Python (which made an INSERT … unnest of
    100 rows cost three times as much). SQLite: VALUES, 50 rows a statement (its parameter
    limit). Only an id a client chose can have been stored before: the statement returns the
    ids it stored only when the events carry some."""
    ids, client_ids = event_ids(events)
    named = client_ids > 0
    returning = " RETURNING event_id" if named else ""
    if connection.vendor == "postgresql":
        return _insert_postgres(request, events, ids, named=named)
    table = connection.ops.quote_name(RawEvent._meta.db_table)
    conflict = "ON CONFLICT (tenant_id, event_id) DO NOTHING"
    with connection.cursor() as cursor:
        adapt = connection.ops.adapt_datetimefield_value
        shared = (adapt(request.received_at), adapt(request.sent_at), request.ip,
                  request.user_agent, request.source)  # fmt: skip
        rows = [
            (request.tenant_id, shared[0], adapt(event.timestamp), shared[1], event.clock_skew,
             shared[2], shared[3], event.payload, shared[4], event_id, RawStatus.PENDING, 0,
             "", "", request.bot)
            for event, event_id in zip(events, ids, strict=True)
        ]  # fmt: skip
        one = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"
        stored, new_ids = 0, []
        for start in range(0, len(rows), 50):
            batch = rows[start : start + 50]
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(COLUMNS)}) "
                f"VALUES {', '.join([one] * len(batch))} {conflict}{returning}",
                [part for row in batch for part in row],
            )
            if named:
                new_ids += [row[0] for row in cursor.fetchall()]
            else:
                stored += cursor.rowcount
        if not named:
            return stored, None
        return _which_are_new(ids, new_ids)


# On PostgreSQL the raw table is in day partitions (tracking.partitions), each unique by
# (tenant, event id) on its own: an insert stores an event unless its id is in its own day's
# partition (ON CONFLICT, the arbiter being that partition's unique index) or in another
# partition within the window before its received time, or a little after it (a request still
# storing its events across midnight while a later one already stored the same id).
_LOOK_AFTER = dt.timedelta(minutes=5)
_ELSEWHERE = (
    f"NOT EXISTS (SELECT 1 FROM {RawEvent._meta.db_table} AS seen "
    "WHERE seen.tenant_id = %s AND seen.event_id = {event_id} "
    "AND (seen.received_at >= %s AND seen.received_at < %s "
    "OR seen.received_at >= %s AND seen.received_at < %s))"
)


def _elsewhere_params(request: _Request) -> list:
    """The tenant and the two ranges of time outside the received day that `_ELSEWHERE`
    looks in (literal bounds: the planner reads only the partitions they reach)."""
    start = partitions.day_start(request.received_at)
    end = start + dt.timedelta(days=1)
    return [
        request.tenant_id,
        request.received_at - partitions.DEDUP_WINDOW, start,
        end, max(end, request.received_at + _LOOK_AFTER),
    ]  # fmt: skip


@contextmanager
def _across_midnight(*requests: _Request):
    """Near a midnight (within _LOOK_AFTER of it), two requests racing with the same id could
    each store it, one on either side, neither seeing the other's uncommitted row. There, the
    inserts of a tenant before midnight share a lock that those after it take alone, held until
    they commit: one side's row is committed before the other side looks. Anywhere else, no
    lock (the racing rows meet in one partition's unique index). Requests stored together (the
    queue's drainer) take their locks in one order, the stronger where two ask for one."""
    locks: dict[tuple[int, int], bool] = {}
    for request in requests:
        start = partitions.day_start(request.received_at + _LOOK_AFTER)
        if abs(request.received_at - start) < _LOOK_AFTER:
            key = (request.tenant_id % 2**31, (start - _EPOCH).days)
            locks[key] = locks.get(key, False) or request.received_at >= start
    if not locks:
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        for key, alone in sorted(locks.items()):
            cursor.execute(
                f"SELECT pg_advisory_xact_lock{'' if alone else '_shared'}(%s, %s)", list(key)
            )
        yield


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _insert_postgres(
    request: _Request, events: list[contract.Event], ids: list[str], *, named: bool
) -> tuple[int, list[bool] | None]:
    if len(events) == 1:  # the one event of /t/e
        table = connection.ops.quote_name(RawEvent._meta.db_table)
        event = events[0]
        where = f"WHERE {_ELSEWHERE.format(event_id='%s')} " if named else ""
        elsewhere = _elsewhere_params(request) if named else []
        with _across_midnight(request) if named else nullcontext(), connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(COLUMNS)}) SELECT %s, %s, %s, %s, %s, "
                f"%s::inet, %s, %s::jsonb, %s, %s, {int(RawStatus.PENDING)}, 0, '', '', %s "
                f"{where}ON CONFLICT DO NOTHING",
                [request.tenant_id, request.received_at, event.timestamp, request.sent_at,
                 event.clock_skew, request.ip, request.user_agent, event.payload,
                 request.source, ids[0], request.bot, *elsewhere[:1], *ids[:1] * named,
                 *elsewhere[1:]],
            )  # fmt: skip
            return (1, None) if cursor.rowcount == 1 else (0, [False])
    stored, new_ids = _insert_document(request, _events_document(events, ids), named=named)
    if not named:
        return stored, None
    return _which_are_new(ids, new_ids)


def _events_document(events: Sequence[contract.Event], ids: Sequence[str]) -> str:
    """What varies per event of a request, as the JSON array the insert unpacks: [payload, id,
    client timestamp, clock skew] an event, the payload as it was serialized (text put
    together, not walked again)."""
    return "[" + ",".join(
        f"[{event.payload},{_json_id(event, event_id)},{_json_time(event.timestamp)},"
        f"{'true' if event.clock_skew else 'false'}]"
        for event, event_id in zip(events, ids, strict=True)
    ) + "]"  # fmt: skip


# COLUMNS in the order the statements below give them: the request's, then the event's (with
# the status of a new row), from the JSON of its event (e) or a COPY line (copy_rows).
_EVENT_COLUMNS = (
    "client_timestamp, clock_skew, payload, event_id, status, attempts, last_error, failure_reason"
)
_ROW_COLUMNS = (
    f"tenant_id, received_at, sent_at, client_ip, user_agent, record_source, bot, {_EVENT_COLUMNS}"
)
_FROM_EVENT = "(e->>2)::timestamptz, (e->>3)::boolean, e->0, e->>1"
_PENDING = f"{int(RawStatus.PENDING)}, 0, '', ''"


def _insert_document(request: _Request, document: str, *, named: bool) -> tuple[int, list[str]]:
    """The events of one request (`_events_document`) in one statement, on PostgreSQL: how many
    rows are new and, when the ids are the client's (`named`: they may have been stored before,
    in this day's partition or another within the window), the ids it stored."""
    table = connection.ops.quote_name(RawEvent._meta.db_table)
    returning = " RETURNING event_id" if named else ""
    where = f"WHERE {_ELSEWHERE.format(event_id='e->>1')} " if named else ""
    elsewhere = _elsewhere_params(request) if named else []
    with _across_midnight(request) if named else nullcontext(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({_ROW_COLUMNS}) "
            f"SELECT %s, %s, %s, %s::inet, %s, %s, %s, {_FROM_EVENT}, {_PENDING} "
            f"FROM jsonb_array_elements(%s::jsonb) AS e {where}ON CONFLICT DO NOTHING{returning}",
            [request.tenant_id, request.received_at, request.sent_at, request.ip,
             request.user_agent, request.source, request.bot, document, *elsewhere],
        )  # fmt: skip
        return cursor.rowcount, [row[0] for row in cursor.fetchall()] if named else []


# --- Many requests at once (the queue's drainer) --------------------------------------------------
#
# A queued request keeps its events as lines of COPY's text format (`copy_rows`: the columns
# that vary per event, and the status of a new row); the drainer puts the request's own columns
# in front of each (`_copy_head`) and COPYs a whole batch of requests at once. PostgreSQL takes
# rows so for about 60 % of what the JSON insert a request costs it (measured: bench
# tracking_queue): where PostgreSQL is the limit, the queued mode stores more than the direct.

COPY_ROW_TABS = _EVENT_COLUMNS.count(",")  # in each line of copy_rows
_STAGE = "tracking_queue_stage"  # the drainer's connection's own (a temporary table)


def _copy_text(value) -> str:
    """A value in COPY's text format. Scanned before replaced: most values (a compact JSON
    payload has no raw tab or newline, our ids no backslash) are kept as they are."""
    if value is None:
        return "\\N"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "t" if value else "f"
    value = str(value)
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    if "\t" in value or "\n" in value or "\r" in value:
        value = value.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def copy_rows(events: Sequence[contract.Event], ids: Sequence[str]) -> str:
    """The events of one request as the tails of COPY lines (one a line, each ended by a
    newline, COPY_ROW_TABS tabs in each), ids fixed (`event_ids`)."""
    tail = f"\t{int(RawStatus.PENDING)}\t0\t\t\n"
    return "".join(
        f"{_copy_text(event.timestamp)}\t{'t' if event.clock_skew else 'f'}\t"
        f"{_copy_text(event.payload)}\t{_copy_text(event_id)}{tail}"
        for event, event_id in zip(events, ids, strict=True)
    )


def _copy_head(request: _Request) -> str:
    """What the request's events share, as the head of each of their COPY lines."""
    return "".join(
        f"{_copy_text(value)}\t"
        for value in (request.tenant_id, request.received_at, request.sent_at, request.ip,
                      request.user_agent, request.source, request.bot)
    )  # fmt: skip


def _lines(head: str, rows: str) -> str:
    return head + rows[:-1].replace("\n", "\n" + head) + "\n"


def copy_new(requests: Sequence[tuple[_Request, str]]) -> None:
    """The rows (`copy_rows`) of requests whose ids were all made here and which were never
    stored, in one COPY into the raw table: no look-up, no ON CONFLICT. A row stored before
    after all (an entry drained twice) meets its day partition's unique index and raises
    IntegrityError: the caller stores the requests again with `copy_once`."""
    if not requests:
        return
    table = connection.ops.quote_name(RawEvent._meta.db_table)
    with connection.cursor() as cursor:
        _copy(cursor, table, "".join(_lines(_copy_head(r), rows) for r, rows in requests))


def _copy(cursor, table: str, lines: str, *, columns: str = _ROW_COLUMNS) -> None:
    # Django wraps what execute raises in its own errors (IntegrityError, DataError); COPY is
    # psycopg's alone, so wrapped here.
    with connection.wrap_database_errors, cursor.copy(
        f"COPY {table} ({columns}) FROM STDIN"
    ) as copy:  # fmt: skip
        copy.write(lines)


def copy_once(requests: Sequence[tuple[_Request, str, bool]]) -> int:
    """The rows of requests (request, `copy_rows`, whether its ids are the client's), each
    stored unless it was before: COPYed into a temporary table, then one INSERT … SELECT with
    ON CONFLICT (an id stored in its own day's partition) and, for rows whose ids are the
    client's, a look-up of the same id within the window (DEDUP_WINDOW before, _LOOK_AFTER
    after) in the other days. The look-up is a subquery run for each such row (never a join
    the planner could turn into reading whole partitions), over the partitions the batch's
    window reaches. Returns the new rows."""
    if not requests:
        return 0
    table = connection.ops.quote_name(RawEvent._meta.db_table)
    named = [request for request, _, client_ids in requests if client_ids]
    where, params = "", []
    if named:
        where = (
            f"WHERE NOT staged.named OR (SELECT 1 FROM {table} AS seen "
            "WHERE seen.tenant_id = staged.tenant_id AND seen.event_id = staged.event_id "
            "AND seen.received_at >= %s AND seen.received_at < %s "
            "AND seen.received_at >= staged.received_at - %s "
            "AND seen.received_at < staged.received_at + %s LIMIT 1) IS NULL "
        )
        params = [
            min(r.received_at for r in named) - partitions.DEDUP_WINDOW,
            max(r.received_at for r in named) + _LOOK_AFTER,
            partitions.DEDUP_WINDOW, _LOOK_AFTER,
        ]  # fmt: skip
    lines = "".join(
        _lines(("t\t" if client_ids else "f\t") + _copy_head(request), rows)
        for request, rows, client_ids in requests
    )
    with _across_midnight(*named), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGE} ON COMMIT DELETE ROWS AS "
            f"SELECT false AS named, {_ROW_COLUMNS} FROM {table} WITH NO DATA"
        )
        cursor.execute(f"DELETE FROM {_STAGE}")  # what a rolled-back savepoint's COPY left
        _copy(cursor, _STAGE, lines, columns=f"named, {_ROW_COLUMNS}")
        cursor.execute(
            f"INSERT INTO {table} ({_ROW_COLUMNS}) "
            f"SELECT {_ROW_COLUMNS} FROM {_STAGE} AS staged {where}ON CONFLICT DO NOTHING",
            params,
        )
        return cursor.rowcount


def _which_are_new(ids: list[str], new_ids: list[str]) -> tuple[int, list[bool] | None]:
    """Of events with these ids, in order, those the statement stored (it returned their ids):
    an id sent twice in one request is new the first time only."""
    if len(new_ids) == len(ids):
        return len(ids), None
    new = set(new_ids)
    said = []
    for event_id in ids:
        said.append(event_id in new)
        new.discard(event_id)
    return len(new_ids), said


def _json_id(event: contract.Event, event_id: str) -> str:
    # Ours are hex; a client's may hold any character.
    return f'"{event_id}"' if event.event_id is None else json.dumps(event_id, ensure_ascii=False)


def _json_time(moment: dt.datetime | None) -> str:
    return "null" if moment is None else f'"{moment.isoformat()}"'


# --- Tenants --------------------------------------------------------------------------------------


def new_ingestion_key() -> str:
    return f"pk_{secrets.token_urlsafe(24)}"


def new_webhook_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


@transaction.atomic
def tenant_create(*, actor: Actor, name: str, identifier: str, **fields) -> TrackingTenant:
    tenant = TrackingTenant(
        name=name, identifier=identifier, ingestion_key=new_ingestion_key(),
        webhook_secret=new_webhook_secret(), **fields,
    )  # fmt: skip
    tenant.full_clean()
    tenant.save()
    audit(actor=actor, action="tracking.tenant_create", target=tenant,
          changes={"name": [None, name], "identifier": [None, identifier]})  # fmt: skip
    return tenant


@transaction.atomic
def tenant_rotate_keys(
    *,
    actor: Actor,
    tenant_id: int,
    keep_previous: bool = True,
) -> TrackingTenant:
    """A new ingestion key and webhook secret, always both: the tenant keeps one expiry for
    its previous pair, so rotating one alone would cut the other's grace short. The ones they
    replace keep working for the grace period (TRACKING_KEY_GRACE_HOURS), so that websites and
    providers move over without losing events, or stop at once (`keep_previous=False`: a key
    that leaked); a key older than those stops at once either way. Audited (who, when, until
    when the previous keys work), never with the keys themselves."""
    tenant = locked(selectors.tenant_list(user=actor), tenant_id)
    forgotten = [tenant.ingestion_key, tenant.previous_ingestion_key]
    grace = tenants.key_grace() if keep_previous else dt.timedelta(0)
    until = timezone.now() + grace if grace > dt.timedelta(0) else None
    tenant.previous_ingestion_key = tenant.ingestion_key if until else ""
    tenant.previous_webhook_secret = tenant.webhook_secret if until else ""
    tenant.ingestion_key = new_ingestion_key()
    tenant.webhook_secret = new_webhook_secret()
    tenant.previous_keys_expire_at = until
    tenant.save(
        update_fields=["ingestion_key", "webhook_secret", "previous_ingestion_key",
                       "previous_webhook_secret", "previous_keys_expire_at", "updated_at"]
    )  # fmt: skip
    audit(
        actor=actor, action="tracking.tenant_rotate_keys", target=tenant,
        changes={"ingestion_key": True, "webhook_secret": True,
                 "previous_keys_work_until": until.isoformat() if until else None},
    )  # fmt: skip
    keys = [key for key in (*forgotten, tenant.ingestion_key) if key]
    transaction.on_commit(lambda: tenants.forget(*keys))
    return tenant


def rotated_message(rotated: Sequence[TrackingTenant], *, keep: bool) -> str:
    """What an administrator reads once the keys of `rotated` (tenant_rotate_keys' results)
    are rotated, on the tenant's page and in Django admin alike."""
    names = ", ".join(f"“{tenant.name}”" for tenant in rotated) or "no tenant"
    until = next((t.previous_keys_expire_at for t in rotated if t.previous_keys_expire_at), None)
    if keep and until is not None:
        return ROTATED_KEEPING.format(names=names, until=format_moment(until))
    return ROTATED_NOW.format(names=names, seconds=settings.TRACKING_KEY_CACHE_SECONDS)


def tenant_changed(tenant: TrackingTenant) -> None:
    """After an edit of a tenant (admin): every process sees it within seconds, through its
    key and its previous one alike."""
    keys = [key for key in (tenant.ingestion_key, tenant.previous_ingestion_key) if key]
    transaction.on_commit(lambda: tenants.forget(*keys))
