"""The optional queue in front of the raw table (TRACKING_QUEUE=redis): the endpoints check each
request as always, append its accepted events to a Redis Stream as one entry and answer 202
once Redis has it; drainers (the job drain_tracking_queue, several at once in a consumer group)
store a batch of entries in the raw table, commit, then acknowledge and delete them. An
entry keeps its events as rows of COPY's text format. Entries read for the first time whose
ids were all made when queued (the events named none) go in with one COPY a batch, no
look-up; the others (ids the client chose, entries read again) with one COPY into a temporary
table and one INSERT … ON CONFLICT from there, with the look-up of the client's ids in the
window's other days.

- Nothing is trimmed: past TRACKING_QUEUE_MAX_BACKLOG entries waiting the endpoints answer 503
  with Retry-After (`Full`), never drop the oldest. An entry is appended and counted ("added")
  in one script, atomically; a drainer acknowledges, deletes and counts ("done": those it
  deleted) in one script after its database commit. So added = done + lost + entries in the
  stream, and a stream that lost entries any other way (trimmed, its key evicted) shows a gap:
  it is counted as lost, logged as an error and shown on the ops dashboard.
- Every event's id is fixed when it is queued (a client's uuid, else a new one), so an entry
  stored twice (a drainer killed between its commit and its acknowledgement; another took the
  entry over after TRACKING_QUEUE_CLAIM_SECONDS) is stored once: a client's id once per tenant
  within 48 hours (ingestion's insert), one made here by its day's partition, where the entry's
  received time always puts it.
- An entry that cannot be stored (it cannot be decoded, its tenant is gone, PostgreSQL refuses
  its data) becomes a dead letter with its reason and is acknowledged: the drainer goes on.
  Sending the letter again appends the entry to the stream again.
"""

import dataclasses
import datetime as dt
import json
import logging
import os
import re
import secrets
import socket
import time
from collections.abc import Callable, Iterable

import redis
from django.conf import settings
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone

from crm.jobs import Progress
from crm.jobs.services import dead_letter_record
from crm.ops import counters
from tracking import clients, contract, services, tenants
from tracking.models import TrackingTenant

logger = logging.getLogger(__name__)

STREAM = "tracking:queue"
COUNTS = "tracking:queue:counts"  # added, done (stored or dead), lost; lost_at (epoch seconds)
GROUP = "drainers"
DRAINED_COUNTER = "tracking.queue.drained"  # events a minute (crm.ops.counters)
REQUEUE_TASK = "tracking.requeue_entry_task"  # tracking.tasks
# Seconds between two checks of the counts against the stream, while draining.
GAP_CHECK_EVERY = 10
# A consumer with nothing pending, idle this long, is forgotten (each run is a new consumer).
FORGET_CONSUMER_AFTER_MS = 3_600_000

QUEUED_NOTE = (
    "Queued: the accepted events are stored within seconds. Whether one was sent before is "
    "not known yet; an event sent again with the same uuid is stored once."
)
BAD_ENTRY = "The queued entry cannot be read: {error}."
TENANT_GONE = "The tenant {tenant} no longer exists: its queued events cannot be stored."
NOT_STORABLE = "PostgreSQL refuses the queued events: {error}."
LOST = "Tracking queue: {lost} queued request(s) vanished from the stream before being stored."

# Appends an entry unless the stream already holds `max` (one round trip, atomic: the entry
# and its count are one write, whatever fails around them).
_APPEND = """
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then return false end
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
redis.call('HINCRBY', KEYS[2], 'added', 1)
return id
"""
# What was added and not done is in the stream; what is not there any more was lost: counted
# once, however many drainers look at the same moment.
_CHECK_GAP = """
local length = redis.call('XLEN', KEYS[1])
local counts = redis.call('HMGET', KEYS[2], 'added', 'done', 'lost')
local gap = (tonumber(counts[1]) or 0) - (tonumber(counts[2]) or 0)
    - (tonumber(counts[3]) or 0) - length
if gap > 0 then
    redis.call('HINCRBY', KEYS[2], 'lost', gap)
    redis.call('HSET', KEYS[2], 'lost_at', ARGV[1])
    return gap
end
return 0
"""


# Acknowledges and deletes the entries, counting done only those it deleted: an entry two
# drainers both stored (one slow, the other took it over) is counted once, or the count of done
# would run ahead and hide a later loss.
_DONE = """
redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, 2))
local deleted = redis.call('XDEL', KEYS[1], unpack(ARGV, 2))
redis.call('HINCRBY', KEYS[2], 'done', deleted)
return deleted
"""


class Full(Exception):
    """The stream holds TRACKING_QUEUE_MAX_BACKLOG entries: send again later."""


def enabled() -> bool:
    return settings.TRACKING_QUEUE == "redis"


_clients: dict[tuple[str, bool], redis.Redis] = {}


def _client(*, drainer: bool = False) -> redis.Redis:
    """One client a process: the endpoints' gives up within a second (Redis down is a 503,
    not a hung request); a drainer's waits for its blocking reads."""
    url = settings.TRACKING_QUEUE_URL
    client = _clients.get((url, drainer))
    if client is None:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=1, socket_timeout=10 if drainer else 1
        )
        _clients[(url, drainer)] = client
    return client


# --- Appending ----------------------------------------------------------------------------------


@dataclasses.dataclass
class Queued:
    accepted: int = 0
    rejected: list[dict] = dataclasses.field(default_factory=list)
    results: list[dict] = dataclasses.field(default_factory=list)


def enqueue(
    *,
    tenant: tenants.Tenant,
    events: Iterable,
    ip: str | None,
    user_agent: str,
    source: str,
    sent_at=None,
    bot: bool = False,
) -> Queued:
    """Check the events of one request against the contract (a bad one rejected with its
    reason, as ingestion does) and append the others to the stream as one entry. Raises Full
    past the backlog, redis.RedisError when Redis cannot take it."""
    received_at = timezone.now()
    good, result = [], Queued()
    for index, event in enumerate(events):
        try:
            good.append(contract.check_event(event, received_at=received_at))
        except ValueError as error:
            result.rejected.append({"index": index, "reason": str(error)})
    result.accepted = len(good)
    if good:
        ids, client_ids = services.event_ids(good)  # fixed now: stored once however drained
        sent = contract.parse_time(sent_at) if sent_at is not None else None
        append_entry(
            {
                "t": tenant.id,
                "r": received_at.isoformat(),
                "s": sent.isoformat() if sent else "",
                "ip": clients.kept_ip(ip, tenant.ip_handling) or "",
                "ua": user_agent[:512],
                "src": source,
                "bot": int(bot),
                "c": client_ids,
                "e": services.copy_rows(good, ids),
            }
        )
    result.results = services._in_order([services.QUEUED] * len(good), result.rejected)
    return result


def append_entry(fields: dict, *, limit: int | None = None) -> bytes:
    limit = settings.TRACKING_QUEUE_MAX_BACKLOG if limit is None else limit
    pairs = [part for item in fields.items() for part in item]
    entry_id = _client().eval(_APPEND, 2, STREAM, COUNTS, limit, *pairs)
    if entry_id is None:
        raise Full
    return entry_id


# --- Draining -----------------------------------------------------------------------------------


def _ensure_group(client: redis.Redis) -> None:
    try:
        client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except redis.ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


def drain(
    *,
    budget: float,
    progress: Progress | None = None,
    block_ms: int = 1000,
    until_empty: bool = False,
    stored: Callable[[], object] = lambda: None,
) -> int:
    """Store what the stream holds for `budget` seconds (waiting for more when it is empty,
    unless `until_empty`): entries other drainers left unacknowledged for
    TRACKING_QUEUE_CLAIM_SECONDS first, then new ones; `stored` is called after a batch stored
    events (the job asks for their processing: tracking.tasks, which sends dead entries back
    here). Returns the events written (new or already stored; not those of entries turned into
    dead letters)."""
    client = _client(drainer=True)
    _ensure_group(client)
    consumer = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
    deadline = time.monotonic() + budget
    drained, next_check, claiming = 0, 0.0, True
    try:
        while time.monotonic() < deadline:
            if time.monotonic() >= next_check:
                check_gap(client)
                next_check, claiming = time.monotonic() + GAP_CHECK_EVERY, True
            # A dead drainer's entries are taken over batch after batch, until none is left.
            entries = _take_over(client, consumer) if claiming else []
            claiming, fresh = bool(entries), not entries
            if fresh:
                entries = _read(client, consumer, block_ms)
            if not entries:
                if until_empty:
                    break
                continue
            drained += _store(client, entries, stored, fresh=fresh)
            if progress is not None:
                progress(drained, None)
    finally:
        _forget_consumers(client, consumer)
    return drained


def _read(client: redis.Redis, consumer: str, block_ms: int) -> list:
    try:
        answer = client.xreadgroup(
            GROUP, consumer, {STREAM: ">"}, count=settings.TRACKING_QUEUE_DRAIN_BATCH,
            block=block_ms,
        )  # fmt: skip
    except redis.ResponseError as error:
        if "NOGROUP" not in str(error):
            raise
        _ensure_group(client)  # the stream's key was lost: check_gap says so
        return []
    return answer[0][1] if answer else []


def _take_over(client: redis.Redis, consumer: str) -> list:
    """Entries a drainer read and never acknowledged (it died) within the claim timeout."""
    try:
        answer = client.xautoclaim(
            STREAM, GROUP, consumer, min_idle_time=settings.TRACKING_QUEUE_CLAIM_SECONDS * 1000,
            start_id="0-0", count=settings.TRACKING_QUEUE_DRAIN_BATCH,
        )  # fmt: skip
    except redis.ResponseError as error:
        if "NOGROUP" not in str(error):
            raise
        _ensure_group(client)
        return []
    return [(entry_id, fields) for entry_id, fields in answer[1] if fields]


@dataclasses.dataclass(frozen=True)
class _Entry:
    id: bytes
    request: services._Request
    rows: str  # services.copy_rows: an event a line
    events: int
    client_ids: int  # how many of the ids are the client's (the others were made when queued)


def _decode(entry_id: bytes, fields: dict) -> _Entry:
    text = {key.decode(): value.decode() for key, value in fields.items()}
    request = services._Request(
        tenant_id=int(text["t"]),
        received_at=_moment(text["r"]),
        sent_at=_moment(text["s"]) if text["s"] else None,
        ip=text["ip"] or None,
        user_agent=text["ua"],
        source=text["src"],
        bot=text["bot"] == "1",
    )
    if "c" not in text:
        return _earlier(entry_id, request, text["e"])
    rows, client_ids = text["e"], int(text["c"])
    events = rows.count("\n")
    # COPY reads the rows; what could make it read them otherwise is refused here: a row of
    # other columns, a carriage return, an end-of-data mark (a backslash and a dot: ours are
    # always doubled). A row it cannot take spoils its batch, which is then stored entry by
    # entry, that entry a dead letter with PostgreSQL's reason.
    tabs = services.COPY_ROW_TABS * events
    if not events or not rows.endswith("\n") or rows.count("\t") != tabs or "\r" in rows:
        raise ValueError("not rows of events")
    if "\\." in rows and _END_OF_DATA.search(rows):  # (the search costs; the find does not)
        raise ValueError("not rows of events")
    if not 0 <= client_ids <= events:
        raise ValueError(f"{client_ids} ids of the client among {events} events")
    return _Entry(entry_id, request, rows, events, client_ids)


_END_OF_DATA = re.compile(r"(?<!\\)(?:\\\\)*\\\.")


def _moment(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"{text} has no time zone")
    return moment


def _earlier(entry_id: bytes, request: services._Request, document: str) -> _Entry:
    """An entry queued before its rows were kept as COPY's text (a JSON document of
    [payload as JSON text, id, timestamp, skew]): read into rows, stored as an entry whose ids
    may have been stored before."""
    events = [
        contract.Event(
            payload=payload,
            evt_type="",
            event_id=event_id,
            clock_skew=bool(skew),
            timestamp=_moment(moment) if moment else None,
        )
        for payload, event_id, moment, skew in json.loads(document)
    ]
    if not events or not all(isinstance(e.payload, str) and e.event_id for e in events):
        raise ValueError("no events")
    rows = services.copy_rows(events, [event.event_id for event in events])
    return _Entry(entry_id, request, rows, len(events), len(events))


def _write(entries: list[_Entry], *, fresh: bool) -> None:
    """Entries in the raw table, as ingestion stores a request. Read for the first time
    (`fresh`), those whose ids were all made when queued cannot be stored yet: one COPY for
    the lot (an entry stored after all raises IntegrityError: see _store). The others in one
    COPY into a temporary table and one insert from there, with ON CONFLICT, and the look-up
    of ids a client sent before for those whose ids are the client's."""
    again = entries
    if fresh:
        services.copy_new([(e.request, e.rows) for e in entries if not e.client_ids])
        again = [entry for entry in entries if entry.client_ids]
    services.copy_once([(e.request, e.rows, bool(e.client_ids)) for e in again])


def _store(
    client: redis.Redis, entries: list, stored_some: Callable[[], object], *, fresh: bool
) -> int:
    """One batch of entries in the raw table in one transaction, the poison ones as dead
    letters in the same transaction; then (committed) acknowledged, deleted and counted done.
    `fresh`: read for the first time (not taken over from another drainer)."""
    kept, poison = [], []
    for entry_id, fields in entries:
        try:
            kept.append(_decode(entry_id, fields))
        except Exception as error:  # whatever a foreign or damaged entry holds
            why = f"no field {error}" if isinstance(error, KeyError) else str(error)
            poison.append((entry_id, BAD_ENTRY.format(error=why)))
    known = set(
        TrackingTenant.objects.filter(pk__in={e.request.tenant_id for e in kept}).values_list(
            "pk", flat=True
        )
    )
    for entry in kept:
        if entry.request.tenant_id not in known:
            poison.append((entry.id, TENANT_GONE.format(tenant=entry.request.tenant_id)))
    kept = [entry for entry in kept if entry.request.tenant_id in known]
    fields_of = dict(entries)
    try:
        with transaction.atomic():
            _write(kept, fresh=fresh)
            stored = sum(entry.events for entry in kept)
            _bury(poison, fields_of)
    except (DataError, IntegrityError):
        # One entry spoils the batch (PostgreSQL refuses its rows, or it was stored before and
        # read again: Redis lost its acknowledgement, or it was sent again as a dead letter):
        # each in a savepoint of its own, stored once, the bad ones buried.
        stored = 0
        with transaction.atomic():
            for entry in kept:
                try:
                    with transaction.atomic():
                        _write([entry], fresh=False)
                    stored += entry.events
                except (DataError, IntegrityError) as error:
                    poison.append((entry.id, NOT_STORABLE.format(error=error)))
            _bury(poison, fields_of)
    ids = [entry_id for entry_id, _ in entries]
    client.eval(_DONE, 2, STREAM, COUNTS, GROUP, *ids)
    counters.count(DRAINED_COUNTER, stored)
    if stored:
        stored_some()
    return stored


def _bury(poison: list, fields_of: dict) -> None:
    for entry_id, reason in poison:
        entry = {_text(key): _text(value) for key, value in (fields_of.get(entry_id) or {}).items()}
        logger.warning("tracking queue entry %s dead: %s", entry_id.decode(), reason)
        dead_letter_record(
            task_name=REQUEUE_TASK, args=[], kwargs={"entry": entry},
            error=_text(f"{reason} (entry {entry_id.decode()})"),
        )  # fmt: skip


def _text(value: bytes | str) -> str:
    """What PostgreSQL's text and jsonb can hold of a damaged entry (no NUL, only UTF-8)."""
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    return value.replace("\x00", "\ufffd")


def _forget_consumers(client: redis.Redis, current: str) -> None:
    """Each run reads as a consumer of its own: those gone with nothing pending are dropped."""
    try:
        for consumer in client.xinfo_consumers(STREAM, GROUP):
            name = consumer["name"].decode()
            gone = name == current or consumer["idle"] > FORGET_CONSUMER_AFTER_MS
            if gone and consumer["pending"] == 0:
                client.xgroup_delconsumer(STREAM, GROUP, name)
    except redis.RedisError:
        logger.warning("tracking queue: consumers not tidied", exc_info=True)


def check_gap(client: redis.Redis | None = None) -> int:
    """Entries added and neither stored, dead nor waiting in the stream: lost (the stream was
    trimmed or its key evicted). Counted once, logged as an error; returns how many now."""
    client = client or _client(drainer=True)
    gap = int(client.eval(_CHECK_GAP, 2, STREAM, COUNTS, int(time.time())))
    if gap:
        logger.error(LOST.format(lost=gap))
    return gap


def leftover() -> bool:
    """Whether the stream holds entries (the queue switched off with some still waiting)."""
    if not settings.TRACKING_QUEUE_URL:
        return False
    try:
        return bool(_client().xlen(STREAM))
    except redis.RedisError:
        return False


def requeue(entry: dict) -> None:
    """A dead letter sent again: its entry back in the stream, whatever the backlog (the
    operator asked), counted added as any other."""
    append_entry(entry, limit=2**62)


# --- What the dashboards show -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Backlog:
    entries: int
    oldest: dt.datetime | None
    drained_last_minute: int
    lost: int
    lost_at: dt.datetime | None

    @property
    def limit(self) -> int:
        return settings.TRACKING_QUEUE_MAX_BACKLOG


def backlog(now: dt.datetime | None = None) -> Backlog:
    """The stream's length, when its oldest entry was queued, the events drained in the last
    whole minute, and what the drainers found lost. Raises redis.RedisError if Redis is down."""
    client = _client()
    with client.pipeline(transaction=True) as pipe:
        pipe.xlen(STREAM)
        pipe.xrange(STREAM, count=1)
        pipe.hmget(COUNTS, "lost", "lost_at")
        length, first, (lost, lost_at) = pipe.execute()
    oldest = None
    if first:
        millis = int(first[0][0].split(b"-")[0])
        oldest = dt.datetime.fromtimestamp(millis / 1000, tz=dt.UTC)
    return Backlog(
        entries=length,
        oldest=oldest,
        drained_last_minute=counters.per_minute(DRAINED_COUNTER, minutes=1, now=now)[-1],
        lost=int(lost or 0),
        lost_at=dt.datetime.fromtimestamp(int(lost_at), tz=dt.UTC) if lost_at else None,
    )
