"""The rollups the tracking dashboards read (tracking.models: EventsByMinute, PageViewsByHour,
SessionsByQuarter): added to by the worker in the transaction that writes the events, so that
they hold exactly what the events and sessions hold; rebuilt from those by
`rebuild_tracking_rollups` (and the migration that made them).

- **Events a minute** by type and source: each event the worker actually inserted (its insert
  returns it; a row processed again or replayed makes no second event, so no second count),
  in the minute its raw row was received.
- **Page views an hour** by path: the same events of type page_view with a path, in the hour
  they occurred.
- **Sessions a quarter of an hour**: each session in the quarter it was first seen in, bounced
  or not; a session moved on (seen earlier, one more page view) leaves the quarter and state it
  was counted in for its new ones.

Each is one upsert per batch (`INSERT … ON CONFLICT DO UPDATE SET n = n + EXCLUDED.n`), its
buckets in one order for every worker: two batches adding to the same buckets wait for each
other, never deadlock. On PostgreSQL they are parts of the worker's one statement that writes
the events and sessions (counted_in_sql: nothing comes back to Python); on SQLite each is a
statement of its own, its rows counted in Python and sent as one JSON document."""

import datetime as dt
from collections import Counter
from collections.abc import Iterable

import orjson
from django.db import connection, transaction

from tracking.contract import PAGE_VIEW
from tracking.models import (
    EventsByMinute,
    PageViewsByHour,
    SessionsByQuarter,
    TrackedEvent,
    TrackedSession,
)
from tracking.models import (
    quoted_table as _table,
)


def minute(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(second=0, microsecond=0)


def hour(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def quarter(moment: dt.datetime) -> dt.datetime:
    moment = minute(moment)
    return moment.replace(minute=moment.minute - moment.minute % 15)


# Each rollup: its key columns (with their PostgreSQL types) and its counts.
_ROLLUPS = {
    EventsByMinute: (
        (("tenant_id", "bigint"), ("minute", "timestamptz"), ("evt_type", "text"),
         ("record_source", "text")),
        ("n",),
    ),
    PageViewsByHour: ((("tenant_id", "bigint"), ("hour", "timestamptz"), ("url_path", "text")),
                      ("n",)),
    SessionsByQuarter: ((("tenant_id", "bigint"), ("quarter", "timestamptz")),
                        ("sessions", "bounced")),
}  # fmt: skip


def add(model, counts: dict[tuple, tuple[int, ...]]) -> None:
    """Add `counts` ({key: counts}, in the order of the model's key and count columns) to a
    rollup: one statement, the buckets in key order."""
    counts = {key: value for key, value in counts.items() if any(value)}
    if not counts:
        return
    keys, totals = _ROLLUPS[model]
    columns = [name for name, _ in keys] + list(totals)
    table = _table(model)
    postgres = connection.vendor == "postgresql"
    adapt = connection.ops.adapt_datetimefield_value
    rows = [
        dict(zip(columns, [
            value if postgres or not isinstance(value, dt.datetime) else adapt(value)
            for value in (*key, *value)
        ], strict=True))
        for key, value in sorted(counts.items())
    ]  # fmt: skip
    if postgres:
        types = ", ".join([f"{name} {kind}" for name, kind in keys] +
                          [f"{name} bigint" for name in totals])  # fmt: skip
        source = f"jsonb_to_recordset(%s::jsonb) AS r ({types})"
        select = ", ".join(columns)
        order = ", ".join(name for name, _ in keys)
        given = f"SELECT {select} FROM {source} ORDER BY {order}"
    else:
        select = ", ".join(f"json_extract(value, '$.{name}')" for name in columns)
        # (SQLite reads `ON` after a bare FROM as a join's: a WHERE ends the SELECT)
        given = f"SELECT {select} FROM json_each(%s) WHERE true ORDER BY key"
    added = ", ".join(f"{name} = {table}.{name} + EXCLUDED.{name}" for name in totals)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) {given} "
            f"ON CONFLICT ({', '.join(name for name, _ in keys)}) DO UPDATE SET {added}",
            [orjson.dumps(rows).decode()],
        )


def count_events(events: Iterable[dict]) -> None:
    """Count events just inserted (each a dict with tenant_id, evt_type, url_path, occurred_at,
    received_at and record_source)."""
    minutes: Counter = Counter()
    pages: Counter = Counter()
    for event in events:
        minutes[event["tenant_id"], minute(event["received_at"]), event["evt_type"],
                event["record_source"]] += 1  # fmt: skip
        if event["evt_type"] == PAGE_VIEW and event["url_path"]:
            pages[event["tenant_id"], hour(event["occurred_at"]), event["url_path"]] += 1
    add(EventsByMinute, {key: (n,) for key, n in minutes.items()})
    add(PageViewsByHour, {key: (n,) for key, n in pages.items()})


def count_sessions(moved: Iterable[tuple[int, dt.datetime, int, dt.datetime | None, int]]) -> None:
    """Count sessions just upserted, each as (tenant, first seen, page views, first seen
    before, page views this upsert added): counted where they are now, and no longer where
    they were (first seen before is None for a session the upsert made)."""
    quarters: dict[tuple, list[int]] = {}
    for tenant_id, first_seen, views, first_seen_before, added in moved:
        now = quarters.setdefault((tenant_id, quarter(first_seen)), [0, 0])
        now[0] += 1
        now[1] += views <= 1
        if first_seen_before is not None:
            before = quarters.setdefault((tenant_id, quarter(first_seen_before)), [0, 0])
            before[0] -= 1
            before[1] -= views - added <= 1
    add(SessionsByQuarter, {key: tuple(value) for key, value in quarters.items()})


def counted_in_sql(*, inserted: str, upserted: str, given: str) -> str:
    """PostgreSQL: the rollups' upserts as common table expressions to follow those that wrote
    the events and sessions, in the same statement: `inserted` returns the events inserted
    (raw_event_id, tenant_id, evt_type, url_path, occurred_at), `upserted` the sessions as the
    upsert left them (with first_seen_before), `given` the sessions' changes it was given
    (page_views). As count_events and count_sessions do, in the database. Its two parameters:
    the first and last received times of the batch's raw rows (their day partitions)."""
    from tracking.models import RawEvent

    def added(model) -> str:
        keys, totals = _ROLLUPS[model]
        table = _table(model)
        columns = ", ".join(name for name, _ in keys)
        return f"ON CONFLICT ({columns}) DO UPDATE SET " + ", ".join(
            f"{name} = {table}.{name} + EXCLUDED.{name}" for name in totals
        )

    minute, hour = _buckets("r.received_at", "minute"), _buckets("i.occurred_at", "hour")
    now, before = _buckets("u.first_seen", "quarter"), _buckets("u.first_seen_before", "quarter")
    return f""",
        rollup_minutes AS (
            INSERT INTO {_table(EventsByMinute)} (tenant_id, minute, evt_type, record_source, n)
            SELECT i.tenant_id, {minute}, i.evt_type, r.record_source, count(*)
            FROM {inserted} i JOIN {_table(RawEvent)} r ON r.id = i.raw_event_id
                AND r.received_at BETWEEN %s AND %s
            GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4 {added(EventsByMinute)}),
        rollup_pages AS (
            INSERT INTO {_table(PageViewsByHour)} (tenant_id, hour, url_path, n)
            SELECT i.tenant_id, {hour}, i.url_path, count(*) FROM {inserted} i
            WHERE i.evt_type = '{PAGE_VIEW}' AND i.url_path <> ''
            GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 {added(PageViewsByHour)}),
        rollup_quarters AS (
            INSERT INTO {_table(SessionsByQuarter)} (tenant_id, quarter, sessions, bounced)
            SELECT tenant_id, quarter, sum(sessions), sum(bounced) FROM (
                SELECT u.tenant_id, {now} AS quarter, 1 AS sessions,
                    CASE WHEN u.page_views <= 1 THEN 1 ELSE 0 END AS bounced
                FROM {upserted} u
                UNION ALL
                SELECT u.tenant_id, {before}, -1,
                    CASE WHEN u.page_views - g.page_views <= 1 THEN -1 ELSE 0 END
                FROM {upserted} u JOIN {given} g
                    ON g.tenant_id = u.tenant_id AND g.session_key = u.session_key
                WHERE u.first_seen_before IS NOT NULL) AS moved
            GROUP BY 1, 2 HAVING sum(sessions) <> 0 OR sum(bounced) <> 0 ORDER BY 1, 2
            {added(SessionsByQuarter)})
    """


def _buckets(column: str, unit: str) -> str:
    """SQL for the UTC bucket of a time column (as `minute`, `hour`, `quarter` do)."""
    if connection.vendor == "postgresql":
        if unit == "quarter":
            return f"date_bin('15 minutes', {column}, timestamptz '2000-01-01 00:00:00+00')"
        return f"date_trunc('{unit}', {column} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    # SQLite keeps times as text in UTC, "YYYY-MM-DD HH:MM:SS[.ffffff]".
    if unit == "minute":
        return f"substr({column}, 1, 16) || ':00'"
    if unit == "hour":
        return f"substr({column}, 1, 13) || ':00:00'"
    return (
        f"substr({column}, 1, 14) || printf('%%02d', CAST(substr({column}, 15, 2) AS integer) "
        "/ 15 * 15) || ':00'"
    )


def purge(*, before: dt.datetime) -> int:
    """Delete the rollups' buckets that begin before `before` (the daily retention job: the
    dashboards read the last day, and `rebuild` can count any span again from the events),
    PURGE_BATCH rows a statement, each its own transaction (the first run after months can
    have millions), found by the rollup's (tenant, bucket) index. Returns the rows deleted."""
    from tracking.models import TrackingTenant

    before = connection.ops.adapt_datetimefield_value(before)
    deleted = 0
    with connection.cursor() as cursor:
        for tenant_id in TrackingTenant.objects.order_by("pk").values_list("pk", flat=True):
            for model, (keys, _) in _ROLLUPS.items():
                table = _table(model)
                while True:
                    cursor.execute(
                        f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} "
                        f"WHERE tenant_id = %s AND {keys[1][0]} < %s LIMIT {PURGE_BATCH})",
                        [tenant_id, before],
                    )
                    deleted += cursor.rowcount
                    if cursor.rowcount < PURGE_BATCH:
                        break
    return deleted


PURGE_BATCH = 10_000


@transaction.atomic
def rebuild(*, tenant_id: int | None = None) -> dict[str, int]:
    """The rollups counted afresh from the events and sessions (of one tenant, or all). On
    PostgreSQL the rollups are locked first: a worker's batch that commits before is counted,
    one that has not waits and adds its counts after. Returns the rows each rollup has."""
    from tracking.models import RawEvent

    events, sessions, raw = _table(TrackedEvent), _table(TrackedSession), _table(RawEvent)
    where, params = ("WHERE e.tenant_id = %s", [tenant_id]) if tenant_id else ("", [])
    made = {}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "LOCK TABLE "
                + ", ".join(_table(model) for model in _ROLLUPS)
                + " IN EXCLUSIVE MODE"
            )
        for model in _ROLLUPS:
            cursor.execute(
                f"DELETE FROM {_table(model)}" + (" WHERE tenant_id = %s" if tenant_id else ""),
                params,
            )
        # An event whose raw row retention deleted counts at the moment it occurred, from no
        # source (the dashboards read the last day, long before retention).
        received = _buckets("COALESCE(r.received_at, e.occurred_at)", "minute")
        cursor.execute(
            f"""INSERT INTO {_table(EventsByMinute)} (tenant_id, minute, evt_type, record_source, n)
                SELECT e.tenant_id, {received}, e.evt_type, COALESCE(r.record_source, ''),
                    count(*)
                FROM {events} e LEFT JOIN {raw} r ON r.id = e.raw_event_id {where}
                GROUP BY 1, 2, 3, 4""",
            params,
        )
        made["events_by_minute"] = cursor.rowcount
        cursor.execute(
            f"""INSERT INTO {_table(PageViewsByHour)} (tenant_id, hour, url_path, n)
                SELECT e.tenant_id, {_buckets("e.occurred_at", "hour")}, e.url_path, count(*)
                FROM {events} e
                WHERE e.evt_type = '{PAGE_VIEW}' AND e.url_path <> ''
                    {"AND e.tenant_id = %s" if tenant_id else ""}
                GROUP BY 1, 2, 3""",
            params,
        )
        made["page_views_by_hour"] = cursor.rowcount
        cursor.execute(
            f"""INSERT INTO {_table(SessionsByQuarter)} (tenant_id, quarter, sessions, bounced)
                SELECT s.tenant_id, {_buckets("s.first_seen", "quarter")}, count(*),
                    sum(CASE WHEN s.page_views <= 1 THEN 1 ELSE 0 END)
                FROM {sessions} s {where.replace("e.", "s.")}
                GROUP BY 1, 2""",
            params,
        )
        made["sessions_by_quarter"] = cursor.rowcount
    return made
