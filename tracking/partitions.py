"""The raw table in day partitions (PostgreSQL): `tracking_rawevent` is partitioned by range of
`received_at`, a partition a UTC day (`tracking_rawevent_p20261207`), plus a DEFAULT partition
for a row no day's partition takes (it is stored, never refused).

- **Ahead**: `ensure` creates today's and the next DAYS_AHEAD days' partitions (idempotent; the
  migration, `migrate` and a daily job run it). A day's partition is made apart and attached,
  which locks the parent table only against other schema changes (SHARE UPDATE EXCLUSIVE),
  never against ingestion; rows of that day found in DEFAULT are moved into it first.
- **Stored once**: a unique (tenant, event id) index can only be global on a partitioned table
  if it holds the partition key, so each partition has its own (`<partition>_once`), and an
  insert also looks for the same id in the other partitions within DEDUP_WINDOW of its
  received time (tracking.services).
- **Retention**: `drop_older` detaches and drops whole partitions whose day ended before the
  cutoff, when they hold only rows of the statuses that may go; a partition holding others is
  kept and reported.

SQLite (the embedded default) keeps the plain table: every function here says so and does
nothing there.
"""

import datetime as dt
import logging
import re
from dataclasses import dataclass, field

from django.db import OperationalError, connection, transaction

from tracking.models import RawEvent, RawStatus

logger = logging.getLogger(__name__)

TABLE = RawEvent._meta.db_table
DEFAULT = f"{TABLE}_default"
DAYS_AHEAD = 7
# An event id is stored once per tenant for at least this long after its first arrival.
DEDUP_WINDOW = dt.timedelta(hours=48)
# Schema changes wait this long for a lock before giving up until the next run (a DETACH
# queued behind a long transaction would stop ingestion queued behind it).
LOCK_TIMEOUT = "2s"
_DAY_NAME = re.compile(rf"{TABLE}_p([0-9]{{8}})")
# One partition maker at a time (the job, `migrate`, a test's setup).
_ENSURE_LOCK = 0x7472_6B70  # "trkp"


def partitioned(using=None) -> bool:
    """Whether the raw table is the partitioned one (PostgreSQL after tracking.0008)."""
    conn = using or connection
    if conn.vendor != "postgresql":
        return False
    with conn.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [TABLE])
        row = cursor.fetchone()
    return row is not None and row[0] == "p"


def day_start(moment: dt.datetime) -> dt.datetime:
    """The start (UTC midnight) of the day partition `moment` falls in."""
    moment = moment.astimezone(dt.UTC)
    return dt.datetime(moment.year, moment.month, moment.day, tzinfo=dt.UTC)


def partition_name(day: dt.date) -> str:
    return f"{TABLE}_p{day:%Y%m%d}"


def _bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)


def day_partitions(cursor) -> dict[dt.date, str]:
    """The day partitions that exist, by day."""
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %s::regclass",
        [TABLE],
    )
    days = {}
    for (name,) in cursor.fetchall():
        match = _DAY_NAME.fullmatch(name)
        if match:
            days[dt.datetime.strptime(match.group(1), "%Y%m%d").date()] = name
    return days


def create_day(cursor, day: dt.date) -> bool:
    """Create and attach `day`'s partition unless it exists, moving its rows out of DEFAULT;
    True if it was created. Runs in the caller's transaction."""
    name = partition_name(day)
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
    if cursor.fetchone()[0]:
        return False
    start, end = _bounds(day)
    cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
    # The table and its unique index first, attached after: attaching takes a lock that
    # ingestion does not wait for (CREATE TABLE … PARTITION OF would lock the whole table).
    cursor.execute(f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    cursor.execute(
        f"ALTER TABLE {name} ADD CONSTRAINT {name}_day "
        "CHECK (received_at >= %s AND received_at < %s)",
        [start, end],
    )
    cursor.execute(f"CREATE UNIQUE INDEX {name}_once ON {name} (tenant_id, event_id)")
    cursor.execute(
        f"SELECT EXISTS (SELECT 1 FROM {DEFAULT} WHERE received_at >= %s AND received_at < %s)",
        [start, end],
    )
    if cursor.fetchone()[0]:
        # Nothing may land in DEFAULT for that day between the move and the attach.
        cursor.execute(f"LOCK TABLE {DEFAULT} IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute(
            f"WITH moved AS (DELETE FROM {DEFAULT} WHERE received_at >= %s AND received_at < %s "
            f"RETURNING *) INSERT INTO {name} SELECT * FROM moved",
            [start, end],
        )
        logger.warning(
            "%s raw events of %s were in the default partition: moved into %s",
            cursor.rowcount, day, name,
        )  # fmt: skip
    cursor.execute(
        f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)",
        [start, end],
    )
    # The check did its work (the attach needed no scan of the new table); the bound says it.
    cursor.execute(f"ALTER TABLE {name} DROP CONSTRAINT {name}_day")
    return True


def ensure(*, today: dt.date | None = None, ahead: int = DAYS_AHEAD, using=None) -> list[str]:
    """Today's and the next `ahead` days' partitions exist; returns those created now. Logs
    the rows DEFAULT holds (rows no day's partition took: a clock far off, a day not made)."""
    conn = using or connection
    if not partitioned(conn):
        return []
    today = today or dt.datetime.now(dt.UTC).date()
    created = []
    with transaction.atomic(using=conn.alias), conn.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ENSURE_LOCK])
        for offset in range(ahead + 1):
            day = today + dt.timedelta(days=offset)
            if create_day(cursor, day):
                created.append(partition_name(day))
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {DEFAULT})")
        if cursor.fetchone()[0]:
            logger.warning("The raw table's default partition holds rows (no day's partition).")
    return created


@dataclass
class Kept:
    name: str
    pending: bool
    failed: bool
    # Its detach waited LOCK_TIMEOUT for the table (long statements on it): the next run tries.
    busy: bool = False

    def __str__(self) -> str:
        if self.busy:
            return f"{self.name} (the table was busy: the next run drops it)"
        held = " and ".join(
            word for word, held in (("pending", self.pending), ("failed", self.failed)) if held
        )
        return f"{self.name} (holds {held} rows)"


@dataclass
class Dropped:
    partitions: list[str] = field(default_factory=list)
    rows: int = 0
    kept: list[Kept] = field(default_factory=list)


def _holding(name: str, unwanted: list[int]) -> Kept | None:
    """The partition, kept, when it holds rows of the `unwanted` statuses (one index probe a
    status: the partial indexes; the status written out, as a literal matches them)."""
    with connection.cursor() as cursor:
        held = {}
        for status in unwanted:
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {name} WHERE status = {int(status)})")
            held[status] = cursor.fetchone()[0]
    if not any(held.values()):
        return None
    return Kept(name, pending=held.get(RawStatus.PENDING, False),
                failed=held.get(RawStatus.FAILED, False))  # fmt: skip


def drop_older(
    *, before: dt.datetime, statuses: tuple[int, ...] = (RawStatus.PROCESSED,)
) -> Dropped:
    """Detach and drop each day partition that ended at or before `before` and holds only rows
    of `statuses`; the others are kept and named. The rows are counted from the partition's
    statistics (a count would read the whole day)."""
    result = Dropped()
    unwanted = [status for status in (RawStatus.PENDING, RawStatus.FAILED)
                if status not in statuses]  # fmt: skip
    with connection.cursor() as cursor:
        days = day_partitions(cursor)
    for day, name in sorted(days.items()):
        if _bounds(day)[1] > before:
            continue
        # Looked at before the detach (which waits for the whole table) and again after it
        # (from then on no statement can add a row): a day kept is not detached every run.
        if kept := _holding(name, unwanted):
            result.kept.append(kept)
            continue
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                cursor.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {name}")
                if kept := _holding(name, unwanted):
                    transaction.set_rollback(True)
                    result.kept.append(kept)
                    continue
                cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [name])
                rows = cursor.fetchone()[0]
                if rows < 0:  # never analysed
                    cursor.execute(f"SELECT count(*) FROM {name}")
                    rows = cursor.fetchone()[0]
                cursor.execute(f"DROP TABLE {name}")
        except OperationalError:  # the lock not granted within LOCK_TIMEOUT
            result.kept.append(Kept(name, pending=False, failed=False, busy=True))
            continue
        result.partitions.append(name)
        result.rows += rows
    if result.kept:
        logger.warning(
            "Raw partitions kept past retention: %s", ", ".join(str(kept) for kept in result.kept)
        )
    return result
