"""Plans come into being by themselves (`plans_create`: the hourly job, a rep's arrival, a
command), for every active rep, targets blank, set-based: per time zone, one INSERT … SELECT
of plans and one of their goals, whatever the number of reps."""

import datetime as dt
from collections import defaultdict
from collections.abc import Collection

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import (
    QuerySet,
)
from django.utils import timezone

from crm import periods
from crm.jobs import Progress
from crm.models import SalesRep
from crm.writes import bulk_set
from goals import metrics
from goals.models import (
    Goal,
    GoalStatus,
    OwnerType,
    PeriodKind,
    RepPlan,
    Source,
)
from goals.plans.selectors import current_month, deadline_for, deadline_on

MONTH_RANGE = "Months go from 1 to 12."

# What a plan commits to, by metric (the field its goal's target is set from, and its name).
MONTH_GOALS = {
    metric: (names.target, metrics.spec(metric).name)
    for metric, names in metrics.in_plans().items()
}
YEAR_GOALS = {
    metric: (names.target, metrics.spec(metric).name)
    for metric, names in metrics.in_plans(yearly=True).items()
}


# --- Deadlines and periods -----------------------------------------------------------------------


def plan_period(year: int, month: int | None, zone) -> periods.Period:
    return periods.month(year, month, zone) if month else periods.year(year, zone)


def plan_title(metric: str, year: int, month: int | None) -> str:
    name = (MONTH_GOALS if month else YEAR_GOALS)[metric][1]
    when = dt.date(year, month, 1).strftime("%B %Y") if month else str(year)
    return f"{name}, {when}"


# --- Plans come into being ----------------------------------------------------------------------


@transaction.atomic
def plans_create(
    *,
    year: int,
    month: int | None = None,
    rep_ids: Collection[int] | QuerySet | None = None,
    progress: Progress | None = None,
) -> int:
    """The plans of a month (or, without `month`, of a year) for every active rep that has none
    (or for those of `rep_ids`), with their goals, targets blank. Idempotent, and safe beside a
    concurrent run (a plan or goal that exists is left alone). Returns the plans created.

    Four statements whatever the number of reps and zones: the reps' zones; one INSERT …
    SELECT of the plans (each rep's deadline in their zone, written out per zone); the reps
    who joined after the deadline day; one INSERT … SELECT of the goals. One statement each,
    not one per zone: a statement does not see its own rows, so "has no plan yet" is a single
    anti-join however many plans it makes (per zone, each INSERT looked through the rows the
    previous zones had just made). Values are counted by the next recalculation (at the start
    of a month there is nothing to count)."""
    periods.validate_in_range(dt.date(year, month or 1, 1))
    if month is not None and not 1 <= month <= 12:
        raise ValidationError({"month": MONTH_RANGE})
    reps = SalesRep.objects.filter(active=True)
    if rep_ids is not None:
        reps = reps.filter(pk__in=rep_ids)
    now = timezone.now()
    names = list(reps.order_by("timezone").values_list("timezone", flat=True).distinct())
    zones = {name: periods.zone_named(name) for name in names}
    if not zones:
        return 0
    created = _insert_plans(reps, year=year, month=month, zones=zones, now=now)
    if progress is not None:
        progress(1, 2)
    if month is not None:
        _give_late_hires_time(reps, year=year, month=month, zones=zones)
    plans = RepPlan.objects.filter(year=year, month=month, rep__in=reps)
    _insert_goals(plans, year=year, month=month, zones=zones, now=now)
    if progress is not None:
        progress(2, 2)
    return created


def _per_zone(zones: dict, value) -> tuple[str, list]:
    """SQL choosing, by the rep's zone (`r.timezone`), the value `value(name, zone)` of it."""
    branches = " ".join("WHEN %s THEN %s" for _ in zones)
    params = [part for name, zone in zones.items() for part in (name, value(name, zone))]
    return f"CASE r.timezone {branches} END", params


def _insert_plans(reps: QuerySet, *, year: int, month: int | None, zones: dict, now) -> int:
    quote = connection.ops.quote_name
    plan_table, rep_table = quote(RepPlan._meta.db_table), quote(SalesRep._meta.db_table)
    rep_sql, rep_params = reps.values("pk").query.sql_with_params()
    same_month = "p.month = %s" if month is not None else "p.month IS NULL"
    if month is not None:
        deadline, deadline_params = _per_zone(
            zones, lambda name, zone: _moments(deadline_for(year, month, zone))[0]
        )
    else:
        deadline, deadline_params = "NULL", []
    sql = f"""
        INSERT INTO {plan_table} (created_at, updated_at, rep_id, year, month, deadline)
        SELECT %s, %s, r.id, %s, %s, {deadline} FROM {rep_table} r
        WHERE r.id IN ({rep_sql}) AND NOT EXISTS (
            SELECT 1 FROM {plan_table} p WHERE p.rep_id = r.id AND p.year = %s AND {same_month})
        ON CONFLICT DO NOTHING"""
    params = [*_moments(now, now), year, month, *deadline_params, *rep_params, year]
    if month is not None:
        params.append(month)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _give_late_hires_time(reps: QuerySet, *, year: int, month: int, zones: dict) -> None:
    """A rep who joins after a month's deadline day has as many days from their first as
    everyone has from the 1st (up to the month's end), so they are not overdue on arrival.
    Plans with a later deadline already, or set, are left alone (so a re-run changes nothing).
    """
    first_day = dt.date(year, month, 1)
    last_day = periods.month(year, month, periods.company_zone()).last_day
    deadline_day = first_day.replace(day=settings.PLAN_DEADLINE_DAY)
    late = RepPlan.objects.filter(
        year=year, month=month, rep__in=reps, goal_set_at__isnull=True,
        rep__hire_date__gt=deadline_day, rep__hire_date__lte=last_day,
    ).values_list("pk", "rep__hire_date", "rep__timezone", "deadline")  # fmt: skip
    grace = dt.timedelta(days=settings.PLAN_DEADLINE_DAY - 1)
    later = {}
    for pk, hired, zone_name, deadline in late:
        due = deadline_on(min(hired + grace, last_day), zones.get(zone_name, dt.UTC))
        if deadline < due:
            later[pk] = {"deadline": due}
    bulk_set(RepPlan, later)


def _insert_goals(plans: QuerySet, *, year: int, month: int | None, zones: dict, now) -> None:
    """The goals of `plans` that they lack: one per metric the plan commits to, auto, no target,
    over the period in the rep's zone."""
    quote = connection.ops.quote_name
    goal_table, plan_table = quote(Goal._meta.db_table), quote(RepPlan._meta.db_table)
    rep_table = quote(SalesRep._meta.db_table)
    committed = MONTH_GOALS if month else YEAR_GOALS
    choices = " UNION ALL ".join(["SELECT %s AS metric, %s AS title"] * len(committed))
    choice_params = [
        part for metric in committed for part in (metric, plan_title(metric, year, month))
    ]
    plan_sql, plan_params = plans.values("pk").query.sql_with_params()
    period = {name: plan_period(year, month, zone) for name, zone in zones.items()}
    days = plan_period(year, month, dt.UTC)  # the days are the same in every zone
    starts, starts_params = _per_zone(zones, lambda name, zone: _moments(period[name].start)[0])
    ends, ends_params = _per_zone(zones, lambda name, zone: _moments(period[name].end)[0])
    sql = f"""
        INSERT INTO {goal_table} (created_at, updated_at, title, description, owner_type, rep_id,
            metric, period_kind, period_start, period_end, zone, starts_at, ends_at,
            current_value, status, calculation_source, calculation_failed, calculation_error,
            manual_override_reason, plan_id)
        SELECT %s, %s, m.title, '', %s, p.rep_id, m.metric, %s, %s, %s, r.timezone, {starts},
            {ends}, 0, %s, %s, %s, '', '', p.id
        FROM {plan_table} p JOIN {rep_table} r ON r.id = p.rep_id CROSS JOIN ({choices}) m
        WHERE p.id IN ({plan_sql}) AND NOT EXISTS (
            SELECT 1 FROM {goal_table} g WHERE g.plan_id = p.id AND g.metric = m.metric)
        ON CONFLICT DO NOTHING"""
    params = [
        *_moments(now, now), OwnerType.INDIVIDUAL, PeriodKind.MONTH if month else PeriodKind.YEAR,
        *map(connection.ops.adapt_datefield_value, (days.first_day, days.last_day)),
        *starts_params, *ends_params, GoalStatus.ACTIVE, Source.AUTO, False,
        *choice_params, *plan_params,
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _moments(*values: dt.datetime | None) -> list:
    # Raw SQL gets what the ORM would write: on SQLite, UTC text in Django's own format (a
    # zone-aware value would be stored with its offset, and compare wrongly as text).
    return [connection.ops.adapt_datetimefield_value(value) for value in values]


def plans_for_rep(rep_id: int, *, now: dt.datetime | None = None) -> int:
    """A rep's plan for this month and goals for this year, if they have none (a rep who joins
    or comes back mid-month gets them at once)."""
    rep = SalesRep.objects.filter(pk=rep_id, active=True).first()
    if rep is None:
        return 0
    year, month = current_month(rep, now)
    return plans_create(year=year, month=month, rep_ids=[rep_id]) + plans_create(
        year=year, rep_ids=[rep_id]
    )


def plans_create_current(
    *, now: dt.datetime | None = None, zones: Collection[str] | None = None
) -> int:
    """This month's plans and this year's goals for every active rep (of `zones` only, when
    given: those where a month just began), "this" in each rep's zone (at a month's turn two
    months can be current, in zones apart)."""
    now = now or timezone.now()
    zones_by_month: dict[tuple[int, int], list[str]] = defaultdict(list)
    active = SalesRep.objects.filter(active=True).order_by("timezone")
    if zones is not None:
        active = active.filter(timezone__in=zones)
    for name in active.values_list("timezone", flat=True).distinct():
        today = periods.local_date(now, periods.zone_named(name))
        zones_by_month[(today.year, today.month)].append(name)
    created = 0
    for (year, month), zones in sorted(zones_by_month.items()):
        reps = SalesRep.objects.filter(active=True, timezone__in=zones).values("pk")
        created += plans_create(year=year, month=month, rep_ids=reps)
        created += plans_create(year=year, rep_ids=reps)
    return created
