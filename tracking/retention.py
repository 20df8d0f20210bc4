"""Retention of the raw layer: processed raw rows older than a date are deleted in batches (a
short transaction each, so the table stays writable); pending and failed rows only when asked.
The events and sessions made from them stay."""

import datetime as dt

from django.db import connection

from tracking.models import RawEvent, RawStatus

BATCH = 10_000


def purge(
    *, before: dt.datetime, statuses: tuple[int, ...] = (RawStatus.PROCESSED,), progress=None
) -> int:
    """Delete raw rows received before `before` with one of `statuses`, BATCH at a time."""
    rows = RawEvent.objects.filter(received_at__lt=before, status__in=statuses)
    total = rows.count()
    deleted = 0
    table = connection.ops.quote_name(RawEvent._meta.db_table)
    while True:
        ids = list(rows.order_by("id").values_list("id", flat=True)[:BATCH])
        if not ids:
            break
        with connection.cursor() as cursor:
            placeholders = ", ".join(["%s"] * len(ids))
            cursor.execute(f"DELETE FROM {table} WHERE id IN ({placeholders})", ids)
            deleted += cursor.rowcount
        if progress is not None:
            progress(deleted, total)
    return deleted
