"""Writes of rep plans: a rep's monthly commitment (signups, revenue, bonus tier by a deadline)
and yearly goals, built on the goals engine: a plan's targets and actuals are its goals', which
the engine keeps counted (events and the 15-minute job).

- Plans come into being by themselves (`plans_create`: the hourly job, a rep's arrival, a
  command), for every active rep, targets blank, set-based: per time zone, one INSERT … SELECT
  of plans and one of their goals, whatever the number of reps.
- A rep sets this month's targets (`plan_set`); after the deadline it is allowed and recorded as
  late. The rep's supervisor and admins set or correct any month's; admins give a team's unset
  plans default targets (`plans_set_defaults`). Every target change is audited on its goal.
- Achievements are recorded once: a plan goal reaching its target (after any change of its
  value or target), and months set on time in a row (3, 6, 12).
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import (
    Case,
    DateField,
    DateTimeField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce
from django.urls import reverse
from django.utils import timezone

from crm import periods
from crm import selectors as crm_selectors
from crm.jobs import Progress
from crm.mail import send_after_commit
from crm.models import SalesRep, Team
from crm.roles import Actor, may_correct_plans, may_set_plan_defaults, own_rep
from crm.writes import audit, audit_many, bulk_set, locked, name_actions
from goals.models import (
    MAX_TIER,
    Achievement,
    AchievementKind,
    Goal,
    GoalStatus,
    Metric,
    OwnerType,
    PeriodKind,
    PlanReminder,
    PlanSnapshot,
    ReminderKind,
    RepPlan,
    Source,
)
from goals.plans import selectors
from goals.plans.selectors import current_month, deadline_for, deadline_on

name_actions({"plan.set": "Monthly goals set"})

# Error messages, one per rule; tests assert on these constants.
REP_REQUIRED = "Choose the sales rep whose plan this is."
REP_INACTIVE = "This rep is not active: inactive reps have no plans."
REPS_SET_THIS_MONTH = "You set this month's goals; your supervisor corrects other months."
ADMINS_SET_DEFAULTS = "Only administrators set a team's default goals."
SIGNUP_GOAL_RANGE = "Enter a whole number of signups from 0 to 100,000."
REVENUE_GOAL_RANGE = "Enter a revenue goal from 0 to 999,999,999,999.99."
BONUS_TIER_RANGE = f"Choose a bonus tier from 0 to {MAX_TIER}."
MONTH_RANGE = "Months go from 1 to 12."

CENT = Decimal("0.01")
MAX_SIGNUP_GOAL = 100_000
MAX_REVENUE_GOAL = Decimal("999999999999.99")

# What a plan commits to, by metric (the field its goal's target is set from, and its name).
MONTH_GOALS = {
    Metric.SIGNUPS: ("signup_goal", "Signups"),
    Metric.REVENUE: ("revenue_goal", "Revenue"),
    Metric.BONUS_TIER: ("bonus_tier_goal", "Bonus tier"),
}
YEAR_GOALS = {
    Metric.REVENUE: ("revenue_goal", "Revenue"),
    Metric.SIGNUPS: ("signup_goal", "Signups"),
}

# A goal of a month's plan reaching its target, and of a year's: what it is recorded as.
REACHED = {
    (PeriodKind.MONTH, Metric.SIGNUPS): AchievementKind.MONTHLY_SIGNUPS,
    (PeriodKind.MONTH, Metric.REVENUE): AchievementKind.MONTHLY_REVENUE,
    (PeriodKind.MONTH, Metric.BONUS_TIER): AchievementKind.MONTHLY_BONUS_TIER,
    (PeriodKind.YEAR, Metric.REVENUE): AchievementKind.YEARLY_REVENUE,
}
STREAKS = {3: AchievementKind.STREAK_3, 6: AchievementKind.STREAK_6, 12: AchievementKind.STREAK_12}


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
    metrics = MONTH_GOALS if month else YEAR_GOALS
    choices = " UNION ALL ".join(["SELECT %s AS metric, %s AS title"] * len(metrics))
    choice_params = [
        part for metric in metrics for part in (metric, plan_title(metric, year, month))
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


def plans_create_current(*, now: dt.datetime | None = None) -> int:
    """This month's plans and this year's goals for every active rep, "this" in each rep's zone
    (at a month's turn two months can be current, in zones apart)."""
    now = now or timezone.now()
    zones_by_month: dict[tuple[int, int], list[str]] = defaultdict(list)
    active = SalesRep.objects.filter(active=True).order_by("timezone")
    for name in active.values_list("timezone", flat=True).distinct():
        today = periods.local_date(now, periods.zone_named(name))
        zones_by_month[(today.year, today.month)].append(name)
    created = 0
    for (year, month), zones in sorted(zones_by_month.items()):
        reps = SalesRep.objects.filter(active=True, timezone__in=zones).values("pk")
        created += plans_create(year=year, month=month, rep_ids=reps)
        created += plans_create(year=year, rep_ids=reps)
    return created


# --- Setting targets ---------------------------------------------------------------------------


def _plan_rep(*, actor: Actor, rep_id: int | None) -> SalesRep:
    """The rep whose plan `actor` sets: their own (a rep), or one they manage. 404 outside."""
    if rep_id is None:
        rep = own_rep(actor)
        if rep is None:
            raise ValidationError({"rep": REP_REQUIRED})
    else:
        rep = locked(crm_selectors.rep_list(user=actor), rep_id)
    if not rep.active:
        raise ValidationError({"rep": REP_INACTIVE})
    return rep


def _check_targets(targets: dict[str, object]) -> None:
    errors = {}
    signups = targets.get("signup_goal")
    if signups is not None and not (
        Decimal(signups) == int(signups) and 0 <= signups <= MAX_SIGNUP_GOAL
    ):
        errors["signup_goal"] = SIGNUP_GOAL_RANGE
    revenue = targets.get("revenue_goal")
    if revenue is not None and not 0 <= revenue <= MAX_REVENUE_GOAL:
        errors["revenue_goal"] = REVENUE_GOAL_RANGE
    tier = targets.get("bonus_tier_goal")
    if tier is not None and not (Decimal(tier) == int(tier) and 0 <= tier <= MAX_TIER):
        errors["bonus_tier_goal"] = BONUS_TIER_RANGE
    if errors:
        raise ValidationError(errors)


def _locked_plan(rep: SalesRep, year: int, month: int | None) -> RepPlan:
    """The rep's plan for the month (or year), made if it was missing, locked."""
    plans_create(year=year, month=month, rep_ids=[rep.pk])
    return RepPlan.objects.select_for_update().get(rep=rep, year=year, month=month)


def _set_targets(*, actor: Actor, plan: RepPlan, targets: dict, reason: str) -> list[int]:
    """Write the plan's goals' targets ({"signup_goal": value, …}), audit each change; returns
    the ids of the goals whose target changed."""
    metric_of = {field: metric for metric, (field, _) in _goals_of(plan).items()}
    goals = {goal.metric: goal for goal in Goal.objects.select_for_update().filter(plan=plan)}
    now, changes, audits = timezone.now(), {}, []
    for field, value in targets.items():
        goal = goals[metric_of[field]]
        value = Decimal(value).quantize(CENT)
        if goal.target_value != value:
            changes[goal.pk] = {"target_value": value, "updated_at": now}
            audits.append((goal, {"target_value": [goal.target_value, value]}))
    bulk_set(Goal, changes)
    audit_many(actor=actor, action="goal.update", targets=audits, reason=reason)
    return list(changes)


def _goals_of(plan: RepPlan) -> dict:
    return MONTH_GOALS if plan.month else YEAR_GOALS


def _reason(actor: Actor, plan: RepPlan) -> str:
    if plan.rep.user_id == getattr(actor, "pk", None):
        return f"Plan for {plan.label} set by the rep."
    return f"Plan for {plan.label} set for the rep by {actor}."


@transaction.atomic
def plan_set(
    *,
    actor: Actor,
    signup_goal: int,
    revenue_goal: Decimal,
    bonus_tier_goal: int,
    rep_id: int | None = None,
    year: int | None = None,
    month: int | None = None,
) -> RepPlan:
    """Set a month's plan: a rep their own, this month (after the deadline too: it is recorded
    as late); the rep's supervisor or an admin any month's (`rep_id`). The first setting is the
    commitment (`goal_set_at`, on time or not); later ones are corrections, audited alike."""
    targets = {
        "signup_goal": signup_goal, "revenue_goal": revenue_goal,
        "bonus_tier_goal": bonus_tier_goal,
    }  # fmt: skip
    _check_targets(targets)
    rep = _plan_rep(actor=actor, rep_id=rep_id)
    this_year, this_month = current_month(rep)
    year, month = year or this_year, month or this_month
    if not 1 <= month <= 12:
        raise ValidationError({"month": MONTH_RANGE})
    if not may_correct_plans(actor) and (year, month) != (this_year, this_month):
        raise ValidationError(REPS_SET_THIS_MONTH)
    plan = _locked_plan(rep, year, month)
    changed = _set_targets(actor=actor, plan=plan, targets=targets, reason=_reason(actor, plan))
    if plan.goal_set_at is None:
        plan.goal_set_at = timezone.now()
        plan.goal_set_by = actor if getattr(actor, "is_authenticated", False) else None
        plan.save(update_fields=["goal_set_at", "goal_set_by", "updated_at"])
        audit(actor=actor, action="plan.set", target=plan, changes={"deadline": plan.deadline})
        plan.refresh_from_db(fields=["set_by_deadline"])
        record_streaks(plan)
    record_achievements(goal_ids=changed)
    return plan


@transaction.atomic
def plan_set_year(
    *,
    actor: Actor,
    revenue_goal: Decimal,
    signup_goal: int,
    rep_id: int | None = None,
    year: int | None = None,
) -> RepPlan:
    """Set a rep's goals for a year (this year by default): the rep, their supervisor, admins."""
    targets = {"revenue_goal": revenue_goal, "signup_goal": signup_goal}
    _check_targets(targets)
    rep = _plan_rep(actor=actor, rep_id=rep_id)
    plan = _locked_plan(rep, year or current_month(rep)[0], None)
    changed = _set_targets(actor=actor, plan=plan, targets=targets, reason=_reason(actor, plan))
    if plan.goal_set_at is None:
        plan.goal_set_at = timezone.now()
        plan.goal_set_by = actor if getattr(actor, "is_authenticated", False) else None
        plan.save(update_fields=["goal_set_at", "goal_set_by", "updated_at"])
    record_achievements(goal_ids=changed)
    return plan


@transaction.atomic
def plans_set_defaults(
    *,
    actor: Actor,
    team_id: int,
    year: int,
    month: int,
    signup_goal: int,
    revenue_goal: Decimal,
    bonus_tier_goal: int,
) -> int:
    """Give the team's plans for a month that are not set yet these targets (admins). A plan set
    already keeps its own; a plan with defaults is still the rep's to set (and is counted as not
    set until then). Returns how many plans took the defaults."""
    if not may_set_plan_defaults(actor):
        raise PermissionDenied(ADMINS_SET_DEFAULTS)
    targets = {
        "signup_goal": signup_goal, "revenue_goal": revenue_goal,
        "bonus_tier_goal": bonus_tier_goal,
    }  # fmt: skip
    _check_targets(targets)
    team = Team.objects.filter(pk=team_id).first()
    if team is None:
        raise ValidationError({"team": "Choose a team."})
    team_reps = SalesRep.objects.filter(team=team, active=True).values("pk")
    plans_create(year=year, month=month, rep_ids=team_reps)
    unset = RepPlan.objects.filter(
        rep__in=team_reps, year=year, month=month, goal_set_at__isnull=True
    )
    now, changes, audits = timezone.now(), {}, []
    rows = (
        Goal.objects.select_for_update()
        .filter(plan__in=unset)
        .values_list("pk", "metric", "target_value")
    )
    for pk, metric, old in rows:
        value = Decimal(targets[MONTH_GOALS[metric][0]]).quantize(CENT)
        if old != value:
            changes[pk] = {"target_value": value, "updated_at": now}
            audits.append((Goal(pk=pk), {"target_value": [old, value]}))
    bulk_set(Goal, changes)
    audit_many(
        actor=actor, action="goal.update", targets=audits,
        reason=f"Default goals for {team.name}, {dt.date(year, month, 1):%B %Y}.",
    )  # fmt: skip
    record_achievements(goal_ids=list(changes))
    return unset.count()


# --- Achievements ------------------------------------------------------------------------------


def record_achievements(*, goal_ids: Iterable[int] | None = None) -> None:
    """Record, once, the plan goals among `goal_ids` (all, without) that reached their target:
    one SELECT and one INSERT that skips what is recorded already."""
    reached = Goal.objects.filter(
        plan__isnull=False, target_value__gt=0, current_value__gte=F("target_value")
    )
    if goal_ids is not None:
        ids = list(goal_ids)
        if not ids:
            return
        reached = reached.filter(pk__in=ids)
    now = timezone.now()
    rows = reached.values_list("plan_id", "period_kind", "metric")
    Achievement.objects.bulk_create(
        [
            Achievement(plan_id=plan_id, kind=REACHED[(kind, metric)], achieved_at=now)
            for plan_id, kind, metric in rows
            if (kind, metric) in REACHED
        ],
        ignore_conflicts=True,
    )


def record_streaks(plan: RepPlan) -> None:
    """A month set on time that ends a run of 3, 6 or 12 months set on time is recorded."""
    if not plan.set_by_deadline:
        return
    earlier = list(
        RepPlan.objects.filter(rep_id=plan.rep_id, month__isnull=False)
        .filter(Q(year__lt=plan.year) | Q(year=plan.year, month__lt=plan.month))
        .order_by("-year", "-month")
        .values_list("year", "month", "set_by_deadline")[: max(STREAKS)]
    )
    run, expected = 1, (plan.year, plan.month)
    for year, month, on_time in earlier:
        expected = (expected[0] - 1, 12) if expected[1] == 1 else (expected[0], expected[1] - 1)
        if (year, month) != expected or not on_time:
            break
        run += 1
    if run in STREAKS:
        Achievement.objects.bulk_create(
            [Achievement(plan=plan, kind=STREAKS[run], achieved_at=timezone.now())],
            ignore_conflicts=True,
        )


# --- Snapshots ---------------------------------------------------------------------------------


def snapshot_plans(
    *,
    on: dt.date,
    daily: bool = True,
    now: dt.datetime | None = None,
    plan_ids: Collection[int] | None = None,
) -> int:
    """Snapshots of month plans under way (their revenue goal active), dated `on`: their
    figures and pace at `now` as the plan lists compute them (goals.plans.selectors), copied by
    one INSERT … SELECT.

    A daily one is of the plans of `on`'s month (one per rep, even at a month's turn when a
    rep east of the company already has the next), once per plan and day: a re-run writes
    nothing. An ad-hoc one (`daily=False`: the admin action, `snapshot_plans` command) is of
    every plan under way, or those of `plan_ids`, whenever asked. Returns the snapshots
    written."""
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
    rows = (
        selectors.with_figures(plans, now=now)
        .filter(**{f"goal_{Metric.REVENUE}__status": GoalStatus.ACTIVE})
        .values(**{f"c_{name}": expression for name, expression in columns.items()})
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


# --- Reminders ---------------------------------------------------------------------------------

REMINDER_SUBJECT = "Set your goals for {month}: {when}"
REMINDER_BODY = (
    "Hello {name},\n\nyour goals for {month} are not set yet. They are due by {deadline}.\n\n"
    "Set them on your dashboard: {url}\n"
    "Seen it? Acknowledge this reminder: {ack}\n"
)
REMINDER_WHEN = {
    ReminderKind.THREE_DAYS: "due in 3 days",
    ReminderKind.ONE_DAY: "due tomorrow",
    ReminderKind.OVERDUE: "overdue",
}


@transaction.atomic
def send_reminders(*, now: dt.datetime | None = None, email: bool = True) -> int:
    """Remind the reps whose plan for a month under way is not set: 3 days before its deadline,
    1 day before, and once it is overdue; each reminder once per plan (a rep first reached
    late gets the most urgent one only). Emails them (unless `email` is off: demo data).
    Returns the reminders sent."""
    now = now or timezone.now()
    unset = RepPlan.objects.filter(
        ~selectors.period_over(now),
        month__isnull=False,
        goal_set_at__isnull=True,
        rep__active=True,
        deadline__lte=now + dt.timedelta(days=3),
    )
    stage = Case(
        When(deadline__lt=now, then=Value(ReminderKind.OVERDUE)),
        When(deadline__lte=now + dt.timedelta(days=1), then=Value(ReminderKind.ONE_DAY)),
        default=Value(ReminderKind.THREE_DAYS),
    )
    due = (
        unset.annotate(stage=stage)
        .exclude(Exists(PlanReminder.objects.filter(plan=OuterRef("pk"), kind=OuterRef("stage"))))
        .values_list("pk", "stage")
    )
    PlanReminder.objects.bulk_create(
        [PlanReminder(plan_id=pk, kind=kind, sent_at=now) for pk, kind in due],
        ignore_conflicts=True,
    )
    sent = list(
        PlanReminder.objects.filter(sent_at=now, emailed_to="").select_related("plan__rep__user")
    )
    messages = [_reminder_mail(reminder) for reminder in sent if reminder.plan.rep.user.email]
    for reminder in sent:
        reminder.emailed_to = reminder.plan.rep.user.email
    PlanReminder.objects.bulk_update(sent, ["emailed_to"])
    if email:
        send_after_commit(messages)
    return len(sent)


def _reminder_mail(reminder: PlanReminder) -> tuple:
    plan, rep = reminder.plan, reminder.plan.rep
    zone = periods.zone_named(rep.timezone)
    return (
        REMINDER_SUBJECT.format(month=plan.label, when=REMINDER_WHEN[reminder.kind]),
        REMINDER_BODY.format(
            name=rep,
            month=plan.label,
            deadline=periods.format_moment(plan.deadline, "l j F, H:i", zone=zone),
            url=settings.SITE_URL + reverse("goals:plan"),
            ack=settings.SITE_URL + reverse("goals:reminder-ack", args=[reminder.pk]),
        ),
        settings.DEFAULT_FROM_EMAIL,
        [rep.user.email],
    )


@transaction.atomic
def reminder_acknowledge(*, actor: Actor, reminder_id: int) -> PlanReminder:
    """The rep says they have seen a reminder (only theirs; 404 otherwise), and so the earlier
    ones of the same plan. Once is enough."""
    reminder = locked(PlanReminder.objects.filter(plan__rep__user_id=actor.pk), reminder_id)
    PlanReminder.objects.filter(
        plan_id=reminder.plan_id, sent_at__lte=reminder.sent_at, acknowledged_at__isnull=True
    ).update(acknowledged_at=timezone.now())
    reminder.refresh_from_db()
    return reminder
