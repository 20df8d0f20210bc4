"""A month's plans as they stand, recorded: daily (one per plan and day) or taken by hand."""

import datetime as dt
from collections.abc import Collection, Mapping

from django.db import connection
from django.db.models import (
    DateField,
    DateTimeField,
    F,
    IntegerField,
    Value,
)
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from goals.models import (
    GoalStatus,
    Metric,
    PlanSnapshot,
    RepPlan,
)
from goals.plans import selectors


def snapshot_plans_of_days(*, days: Mapping[str, dt.date], now: dt.datetime) -> int:
    """Each month plan's daily snapshot of its rep's day that just ended (`days`: the zones
    whose day ended, with that day): one INSERT … SELECT per day that ended somewhere (two or
    three at most at one moment). Returns the snapshots written."""
    zones_by_day: dict[dt.date, list[str]] = {}
    for zone, day in days.items():
        zones_by_day.setdefault(day, []).append(zone)
    return sum(
        snapshot_plans(on=day, now=now, zones=zones) for day, zones in sorted(zones_by_day.items())
    )


def snapshot_plans(
    *,
    on: dt.date,
    daily: bool = True,
    now: dt.datetime | None = None,
    plan_ids: Collection[int] | None = None,
    zones: Collection[str] | None = None,
) -> int:
    """Snapshots of month plans under way (their revenue goal active), dated `on`: their
    figures and pace at `now` as the plan lists compute them (goals.plans.selectors), copied by
    one INSERT … SELECT.

    A daily one is of the plans of `on`'s month (one per rep, even at a month's turn when a
    rep east of the company already has the next), once per plan and day: a re-run writes
    nothing. An ad-hoc one (`daily=False`: the admin action, `snapshot_plans` command) is of
    every plan under way, or those of `plan_ids`, whenever asked. `zones`: only the plans
    whose goals count in these zones (the day-end job's, whose day `on` just ended). Returns
    the snapshots written."""
    plans = RepPlan.objects.filter(month__isnull=False)
    if daily:
        plans = plans.filter(year=on.year, month=on.month)
    if plan_ids is not None:
        plans = plans.filter(pk__in=plan_ids)
    now = now or timezone.now()
    columns = {
        "plan_id": F("pk"),
        "date": Value(on, output_field=DateField()),
        "daily": Value(daily),
        "created_at": Value(now, output_field=DateTimeField()),
        **{name: F(name) for name in ("signups", "signup_goal", "signup_percent", "revenue")},
        **{name: F(name) for name in ("revenue_goal", "revenue_percent", "on_pace", "pace")},
        "bonus_tier": Cast("bonus_tier", IntegerField()),
        "bonus_tier_goal": Cast("bonus_tier_goal", IntegerField()),
        "days_remaining": Coalesce("days_remaining", Value(0)),
    }
    revenue_goal = f"goal_{Metric.REVENUE}"
    plans = selectors.with_figures(plans, now=now)
    if zones is not None:
        plans = plans.filter(**{f"{revenue_goal}__zone__in": zones})
    rows = plans.filter(**{f"{revenue_goal}__status": GoalStatus.ACTIVE}).values(
        **{f"c_{name}": expression for name, expression in columns.items()}
    )
    sql, params = rows.query.sql_with_params()
    quote = connection.ops.quote_name
    names = ", ".join(quote(name) for name in columns)
    picked = ", ".join(f"s.{quote('c_' + name)}" for name in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(PlanSnapshot._meta.db_table)} ({names}) "
            f"SELECT {picked} FROM ({sql}) s WHERE true ON CONFLICT DO NOTHING",
            params,
        )
        return cursor.rowcount
