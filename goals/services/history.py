"""What each goal keeps of its snapshots for the analytics' velocity: its first snapshot's day
and value, its last snapshot's day, and its average change a day between the two. The daily
snapshot keeps them as it writes (`goals_history_advance`, in its transaction); anything that
writes or removes snapshots another way (the demo data, a bulk load) resyncs them
(`goals_history_resync`). Both are single set-based UPDATEs, in SQL both databases run."""

from collections.abc import Iterable

from django.db import connection

from goals.models import Goal, GoalSnapshot

GOALS = Goal._meta.db_table
SNAPSHOTS = GoalSnapshot._meta.db_table


def days_between(later: str, earlier: str) -> str:
    """SQL for the whole days from the date `earlier` to the date `later`."""
    if connection.vendor == "sqlite":
        # REAL, so that the division is never an integer one (SQLite keeps whole amounts as
        # integers).
        return f"(julianday({later}) - julianday({earlier}))"
    return f"({later} - {earlier})"


def change_a_day(value: str, day: str, first_value: str, first_day: str) -> str:
    """SQL for the average change a day from (first_day, first_value) to (day, value); NULL
    unless `day` is after `first_day`."""
    return (
        f"CASE WHEN {first_day} IS NOT NULL AND {day} > {first_day} THEN "
        f"ROUND(({value} - {first_value}) / {days_between(day, first_day)}, 4) END"
    )


def goals_history_advance(*, snapshotted: str, params: list) -> int:
    """After the daily snapshot: the goals in `snapshotted` (SQL selecting `id` and `day`, the
    goal and the day its snapshot was just written for, with `params`) keep that snapshot as
    their last. Once per goal and day, and never back in time: a second run, or an older day,
    changes nothing."""
    q = connection.ops.quote_name
    g = q(GOALS)
    first_day, first_value = f"{g}.{q('first_snapshot_date')}", f"{g}.{q('first_snapshot_value')}"
    day, value = f"s.{q('date')}", f"s.{q('value')}"
    change = change_a_day(value, day, first_value, first_day)
    sql = f"""
        UPDATE {g} SET
            {q("first_snapshot_date")} = COALESCE({first_day}, {day}),
            {q("first_snapshot_value")} = COALESCE({first_value}, {value}),
            {q("last_snapshot_date")} = {day},
            {q("daily_change")} = {change}
        FROM ({snapshotted}) c
        JOIN {q(SNAPSHOTS)} s ON s.{q("goal_id")} = c.{q("id")} AND {day} = c.day
        WHERE {g}.{q("id")} = c.{q("id")}
          AND ({g}.{q("last_snapshot_date")} IS NULL OR {g}.{q("last_snapshot_date")} < c.day)"""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def goals_history_resync(*, goal_ids: Iterable[int] | None = None) -> int:
    """Read the kept history of the goals `goal_ids` (None: every goal) again from their
    snapshots, in one UPDATE (a goal without snapshots keeps none)."""
    q = connection.ops.quote_name
    g, s = q(GOALS), q(SNAPSHOTS)
    own = f"x.{q('goal_id')} = {g}.{q('id')}"
    first = f"(SELECT x.{q('date')} FROM {s} x WHERE {own} ORDER BY x.{q('date')} LIMIT 1)"
    first_value = f"(SELECT x.{q('value')} FROM {s} x WHERE {own} ORDER BY x.{q('date')} LIMIT 1)"
    last = f"(SELECT x.{q('date')} FROM {s} x WHERE {own} ORDER BY x.{q('date')} DESC LIMIT 1)"
    last_value = (
        f"(SELECT x.{q('value')} FROM {s} x WHERE {own} ORDER BY x.{q('date')} DESC LIMIT 1)"
    )
    sql = f"""
        UPDATE {g} SET
            {q("first_snapshot_date")} = {first},
            {q("first_snapshot_value")} = {first_value},
            {q("last_snapshot_date")} = {last},
            {q("daily_change")} = {change_a_day(last_value, last, first_value, first)}"""
    params: list = []
    if goal_ids is not None:
        ids = list(goal_ids)
        if not ids:
            return 0
        sql += f" WHERE {g}.{q('id')} IN ({', '.join(['%s'] * len(ids))})"
        params = ids
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
