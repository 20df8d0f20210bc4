"""Dashboards and exports on a read replica (`DATABASE_REPLICA_URL`, the `replica` alias).

Reads go to the replica only inside an explicit scope, `replica_reads()` (or the view decorator
`reads_from_replica`), entered by the pages that read many rows and tolerate seconds of lag:
tracking's tenants overview, a tenant's dashboard and its CSV. Everything else — every write,
the worker, ingestion, every other page and every read of a request outside that scope — uses
the primary. The scope is a context variable, so a thread or a task started elsewhere never
inherits it.

On entering the scope the replica is asked where it stands (one query on each server): how far
its replayed WAL is behind the primary's. Caught up, its figures are as of now; behind, as of
its last replayed commit. A replica that does not answer, is not in recovery, or is more than
`DATABASE_REPLICA_MAX_LAG` seconds behind is not read: the primary answers, and the page says
why. A replica that stops answering mid-page costs a second reading, on the primary, never an
error page.
"""

import contextlib
import datetime as dt
import functools
import logging
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse

logger = logging.getLogger(__name__)

REPLICA = "replica"
PRIMARY = DEFAULT_DB_ALIAS

# A replica that failed to answer is not asked again for this long (seconds): a host that is
# down would otherwise cost every dashboard its connection timeout.
RETRY_AFTER = 10.0

NOT_ANSWERING = "The replica does not answer: these figures are from the primary."
NOT_REPLICATING = "The replica is not replicating: these figures are from the primary."
TOO_FAR_BEHIND = (
    "The replica is {lag} s behind, more than the {limit} s tolerated: these figures are from "
    "the primary."
)

# The alias the scope reads from (None: outside any scope, everything on the primary).
_reading_from: ContextVar[str | None] = ContextVar("crm_replica_reading_from", default=None)
_down_until = 0.0


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def replica_is_primary() -> bool:
    """The replica alias names the primary's own database (the tests' mirror, or a setting
    that points both at one server): nothing is replicated, so the primary's own connection
    reads it, and there is no lag to ask about."""
    return settings.DATABASE_REPLICA_IS_PRIMARY


class ReplicaRouter:
    """Reads inside `replica_reads()` to the replica, every other read and every write to the
    primary (explicitly: an object read from the replica is saved to the primary, and its
    relations are followed there outside the scope). Migrations never run on the replica; it
    holds the primary's rows, so relations across the two are allowed."""

    def db_for_read(self, model, **hints) -> str:
        return _reading_from.get() or PRIMARY

    def db_for_write(self, model, **hints) -> str:
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints) -> bool | None:
        if {obj1._state.db, obj2._state.db} <= {PRIMARY, REPLICA}:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, model_name=None, **hints) -> bool | None:
        return False if db == REPLICA else None


def _lsn(text: str) -> int:
    """A WAL position ("16/B374D848") as a byte offset."""
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


@dataclass(frozen=True)
class ReplicaState:
    """Where the replica stands against the primary, as one probe saw it."""

    answering: bool
    replicating: bool = False
    lag_seconds: int | None = None  # None: not known (nothing replayed yet)
    behind_bytes: int | None = None
    as_of: dt.datetime | None = None  # the replica holds what the primary committed by then
    error: str = ""

    @property
    def tolerated(self) -> bool:
        return (
            self.replicating
            and self.lag_seconds is not None
            and self.lag_seconds <= settings.DATABASE_REPLICA_MAX_LAG
        )

    @property
    def refusal(self) -> str:
        """Why the primary answers instead (empty when the replica is read)."""
        if not self.answering:
            return NOT_ANSWERING
        if not self.replicating:
            return NOT_REPLICATING
        if not self.tolerated:
            lag = "more than a few" if self.lag_seconds is None else f"{self.lag_seconds:,}"
            return TOO_FAR_BEHIND.format(lag=lag, limit=settings.DATABASE_REPLICA_MAX_LAG)
        return ""


def _close_replica() -> None:
    with contextlib.suppress(Exception):
        connections[REPLICA].close()


def _mark_down() -> None:
    global _down_until
    _close_replica()
    _down_until = time.monotonic() + RETRY_AFTER


# A WAL segment's worth: what a streaming replica may lack of the primary's WAL without being
# behind in replay.
IN_FLIGHT_BYTES = 16 * 1024 * 1024


def replica_state() -> ReplicaState:
    """Ask both servers (a query each): the primary's WAL position first, so that a replica
    whose replay reached it holds everything committed before the question was asked."""
    if time.monotonic() < _down_until:
        return ReplicaState(answering=False, error="did not answer a moment ago")
    with connections[PRIMARY].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text, now()")
        primary_lsn, asked_at = cursor.fetchone()
    try:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute(
                "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, "
                "pg_last_xact_replay_timestamp(), now(), pg_last_wal_receive_lsn()::text"
            )
            recovering, replay_lsn, replayed_at, replica_now, receive_lsn = cursor.fetchone()
    except DatabaseError as error:
        logger.warning("read replica unavailable: %s", type(error).__name__)
        _mark_down()
        return ReplicaState(answering=False, error=type(error).__name__)
    if not recovering or replay_lsn is None:
        return ReplicaState(answering=True, error="not in recovery")
    behind = max(0, _lsn(primary_lsn) - _lsn(replay_lsn))
    # Replayed all it received, and that within a WAL segment of the primary: what is missing
    # is in flight (a checkpoint's record on an idle primary, say), not waiting to be replayed.
    # The time since the last commit replayed would then call a caught-up replica of a quiet
    # primary hours behind.
    in_flight = receive_lsn is not None and _lsn(replay_lsn) >= _lsn(receive_lsn)
    if behind == 0 or (in_flight and behind <= IN_FLIGHT_BYTES):
        return ReplicaState(
            answering=True, replicating=True, lag_seconds=0, behind_bytes=behind, as_of=asked_at
        )
    lag = None
    if replayed_at is not None:
        lag = max(0, round((replica_now - replayed_at).total_seconds()))
    return ReplicaState(
        answering=True, replicating=True, lag_seconds=lag, behind_bytes=behind, as_of=replayed_at
    )


def forget_failures() -> None:
    """Ask a replica that failed again at once (after an operator brought it back; tests)."""
    global _down_until
    _down_until = 0.0


@dataclass
class Reading:
    """What a page read from, for the line that says so."""

    source: str  # REPLICA or PRIMARY
    state: ReplicaState | None = None  # None: no replica to ask about
    notice: str = ""  # why the primary answers although a replica is configured

    @property
    def on_replica(self) -> bool:
        return self.source == REPLICA


@contextlib.contextmanager
def _reading(alias: str) -> Iterator[None]:
    token = _reading_from.set(alias)
    try:
        yield
    finally:
        _reading_from.reset(token)


def choose() -> Reading:
    """Where a dashboard reads now: the replica if there is one, answering and close enough."""
    if not replica_configured() or replica_is_primary():
        return Reading(PRIMARY)
    state = replica_state()
    if state.refusal:
        return Reading(PRIMARY, state, state.refusal)
    return Reading(REPLICA, state)


@contextlib.contextmanager
def replica_reads(reading: Reading | None = None) -> Iterator[Reading]:
    """Reads inside the block go where `reading` (by default `choose()`) says."""
    reading = reading or choose()
    with _reading(reading.source):
        yield reading


def _within(alias: str, chunks: Iterator) -> Iterator:
    """A streamed body read, chunk by chunk, from `alias` (the scope is not held between chunks,
    while the server writes to the client)."""
    chunks = iter(chunks)
    while True:
        with _reading(alias):
            try:
                chunk = next(chunks)
            except StopIteration:
                return
        yield chunk


def reads_from_replica(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A page's reads (its rendering and a streamed body included) from the replica when
    there is one fit to read; `request.replica_reading` says which for the template. If the
    replica fails while the page is read, the page is read again from the primary; so is a
    page whose row the replica does not hold yet (a tenant created a moment ago: a 404)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        reading = choose()
        request.replica_reading = reading
        try:
            with replica_reads(reading):
                response = view(request, *args, **kwargs)
        except (DatabaseError, Http404) as error:
            if not reading.on_replica:
                raise
            if isinstance(error, Http404):
                reading = Reading(PRIMARY, reading.state)
            else:
                logger.warning("read replica failed mid-page; reading the primary")
                _mark_down()
                state = ReplicaState(answering=False, error="failed mid-page")
                reading = Reading(PRIMARY, state, NOT_ANSWERING)
            request.replica_reading = reading
            with replica_reads(reading):
                response = view(request, *args, **kwargs)
        if isinstance(response, StreamingHttpResponse):
            response.streaming_content = _within(reading.source, response.streaming_content)
        return response

    return wrapped
