"""Retention of the raw layer: raw rows received before a date go, processed ones unless asked
otherwise. The events and sessions made from them stay.

- PostgreSQL (the table in day partitions, tracking.partitions): each whole day before the
  cutoff is detached and dropped, at once and with no vacuum debt, when it holds only rows
  that may go; a day holding others (pending, failed) is kept whole and reported. Rows of the
  DEFAULT partition are deleted as below.
- SQLite (and the DEFAULT partition): deleted in batches, a short transaction each, so the
  table stays writable.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.db import connection

from tracking import partitions
from tracking.models import RawEvent, RawStatus

BATCH = 10_000


@dataclass
class Purged:
    deleted: int = 0  # rows (those of dropped partitions from their statistics)
    dropped: list[str] = field(default_factory=list)  # partitions dropped whole
    kept: list[partitions.Kept] = field(default_factory=list)  # partitions past the cutoff kept


def purge(
    *, before: dt.datetime, statuses: tuple[int, ...] = (RawStatus.PROCESSED,), progress=None
) -> Purged:
    """Remove raw rows received before `before` with one of `statuses`: whole day partitions
    where the table has them, BATCH rows at a time elsewhere."""
    result = Purged()
    table = RawEvent._meta.db_table
    if partitions.partitioned():
        dropped = partitions.drop_older(before=before, statuses=statuses)
        result.deleted, result.dropped, result.kept = dropped.rows, dropped.partitions, dropped.kept
        table = partitions.DEFAULT
    result.deleted += delete_in_batches(
        table, before=before, statuses=statuses, progress=progress, done=result.deleted
    )
    return result


def delete_in_batches(
    table: str, *, before: dt.datetime, statuses: tuple[int, ...], progress=None, done: int = 0
) -> int:
    """Delete the rows of `table` received before `before` with one of `statuses`, BATCH at a
    time (each its own statement: autocommit keeps every transaction short)."""
    table = connection.ops.quote_name(table)
    which = (
        f"received_at < %s AND status IN ({', '.join(['%s'] * len(statuses))})",
        [connection.ops.adapt_datetimefield_value(before), *statuses],
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table} WHERE {which[0]}", which[1])
        total = done + cursor.fetchone()[0]
    deleted = 0
    while True:
        if progress is not None:
            progress(done + deleted, total)
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE id IN "
                f"(SELECT id FROM {table} WHERE {which[0]} ORDER BY id LIMIT {BATCH})",
                which[1],
            )
            deleted += cursor.rowcount
            if cursor.rowcount < BATCH:
                break
    if progress is not None:
        progress(done + deleted, total)
    return deleted
