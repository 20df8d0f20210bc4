"""Demo goals for `manage.py seed_demo`: for every month of the demo history, a company revenue
goal over each team's, over each rep's (a three-level tree), plus each rep's deals-won and
activities goals, a yearly company signups goal and quarterly team activity goals; values
calculated from the demo deals and activities, daily snapshots rebuilt from them, past periods
closed, a couple of manual adjustments with their reasons, and off-track alerts.

Each rep's monthly plan (goals.plans) for every month, and yearly goals: the plan's revenue goal
is the rep's goal under their team's. Most reps set their plan on time, some late now and then,
and two keep missing the deadline; with the achievements, reminders and daily plan snapshots
that follow from it.

Deterministic for the seed; idempotent (goals that exist are kept, missing ones added)."""

import datetime as dt
import random
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Sum
from django.utils import timezone

from crm import periods
from crm.demo import DemoContext, demo_seeder
from crm.models import Activity, Customer, Deal, SalesRep
from crm.roles import SystemActor
from crm.writes import bulk_set
from goals import metrics, services
from goals.models import (
    Achievement,
    BonusTier,
    Goal,
    GoalSnapshot,
    Metric,
    OwnerType,
    Pace,
    PeriodKind,
    PlanReminder,
    PlanSnapshot,
    RepPlan,
)
from goals.plans import selectors
from goals.plans import services as plans

ACTOR = SystemActor("seed_demo")
# Reps (by their place in the demo) who keep missing the plan's deadline.
MISSERS = (3, 7)
ADJUSTMENTS = [
    (2, Metric.ACTIVITIES, "Twelve visits logged on paper during the app outage."),
    (5, Metric.DEALS_WON, "Two orders taken by phone and entered late by the office."),
]


def _months(context: DemoContext) -> list[dt.date]:
    first, last = context.first_month, context.as_of.date().replace(day=1)
    months, day = [], first
    while day <= last:
        months.append(day)
        day = (day + dt.timedelta(days=32)).replace(day=1)
    return months


def _goal(*, title, owner_type, metric, kind, start, target, rep=None, team=None, parent=None):
    zone = services.owner_zone(owner_type=owner_type, rep=rep)
    period = services.resolve_period(kind=kind, start=start, end=None, zone=zone)
    goal = Goal(
        title=title, owner_type=owner_type, rep=rep, team=team, metric=metric,
        period_kind=kind, target_value=target, original_target=target, parent=parent,
    )  # fmt: skip
    services.set_period(goal, period)
    return goal


def _round(value: float, step: int) -> Decimal:
    return Decimal(max(step, round(value / step) * step))


Key = tuple


def _key(goal: Goal) -> Key:
    return (goal.owner_type, goal.rep_id, goal.team_id, goal.metric, goal.period_kind,
            goal.period_start)  # fmt: skip


def _company_goals(context: DemoContext, months: list[dt.date], known: dict) -> list[Goal]:
    goals = [
        _goal(title=f"Company revenue, {month:%B %Y}", owner_type=OwnerType.COMPANY,
              metric=Metric.REVENUE, kind=PeriodKind.MONTH, start=month, target=None)
        for month in months
    ]  # fmt: skip
    goals += [
        _goal(title=f"New customers {year}", owner_type=OwnerType.COMPANY, metric=Metric.SIGNUPS,
              kind=PeriodKind.YEAR, start=dt.date(year, 1, 1),
              target=Decimal(15 * len(context.reps)))
        for year in sorted({month.year for month in months})
    ]  # fmt: skip
    return goals


def _team_goals(context: DemoContext, months: list[dt.date], known: dict) -> list[Goal]:
    goals = [
        _goal(title=f"{team.name} revenue, {month:%B %Y}", owner_type=OwnerType.TEAM, team=team,
              metric=Metric.REVENUE, kind=PeriodKind.MONTH, start=month, target=None,
              parent=known[(OwnerType.COMPANY, None, None, Metric.REVENUE, PeriodKind.MONTH,
                            month)])
        for month in months
        for team in context.teams
    ]  # fmt: skip
    quarters = sorted({(month.year, (month.month - 1) // 3 + 1) for month in months})
    goals += [
        _goal(title=f"{team.name} visits and calls, Q{quarter} {year}",
              owner_type=OwnerType.TEAM, team=team, metric=Metric.ACTIVITIES,
              kind=PeriodKind.QUARTER, start=dt.date(year, 3 * quarter - 2, 1),
              target=Decimal(90 * 6))
        for team in context.teams
        for year, quarter in quarters
    ]  # fmt: skip
    return goals


def _rep_goals(context: DemoContext, months: list[dt.date], known: dict) -> list[Goal]:
    """Each rep's deals-won and activities goals per month (revenue is the plan's), the targets
    around the rep's own average month."""
    averages = _monthly_averages(context.reps, months)
    goals = []
    for rep in context.reps:
        average = averages[rep.pk]
        for month in months:
            rng = random.Random(f"{context.seed}:goals:{rep.employee_code}:{month}")
            targets = {
                Metric.DEALS_WON: _round(average["deals"] * rng.uniform(0.85, 1.35), 1),
                Metric.ACTIVITIES: _round(average["activities"] * rng.uniform(0.85, 1.35), 5),
            }
            goals += [
                _goal(title=f"{metrics.spec(metric).name}, {month:%B %Y}",
                      owner_type=OwnerType.INDIVIDUAL, rep=rep, metric=metric,
                      kind=PeriodKind.MONTH, start=month, target=target)
                for metric, target in targets.items()
            ]  # fmt: skip
    return goals


@demo_seeder("goals")
def seed_goals(context: DemoContext) -> None:
    if not context.reps:
        return
    months = _months(context)
    known = {_key(goal): goal for goal in Goal.objects.filter(period_end__gte=months[0])}
    new: list[Goal] = []
    # Top down, one level at a time: each level's parents have their ids when it is made.
    for level in (_company_goals, _team_goals, _rep_goals):
        missing = [goal for goal in level(context, months, known) if _key(goal) not in known]
        Goal.objects.bulk_create(missing)
        known.update({_key(goal): goal for goal in missing})
        new += missing
    plan_goals = _plans(context, months, known)
    if not new and not plan_goals:
        return
    ids = [goal.pk for goal in new] + plan_goals
    context.count("goals", len(ids))
    services.goals_recalculate(goals=Goal.objects.filter(pk__in=ids), actor=ACTOR)
    services.roll_up(
        parent_ids=[g.pk for g in new if g.owner_type != OwnerType.INDIVIDUAL], actor=ACTOR
    )
    _adjust_a_few(context, ids)
    daily = _snapshots(context, ids)
    _plan_history(context, daily)
    services.close_ended_goals(actor=ACTOR, now=context.as_of)
    services.goals_update_alerts(now=context.as_of, email=False)


# --- Plans ---------------------------------------------------------------------------------------


def _plans(context: DemoContext, months: list[dt.date], known: dict) -> list[int]:
    """Every rep's plan for every month and their goals for every year (set-based, by the
    plans' own service), their revenue goals under their team's; then, decided by the seed
    for each rep and month, whether and when the rep set the plan and its targets. Returns
    the ids of the goals this made."""
    rep_ids = [rep.pk for rep in context.reps]
    before = set(Goal.objects.filter(plan__rep__in=rep_ids).values_list("pk", flat=True))
    for month in months:
        plans.plans_create(year=month.year, month=month.month, rep_ids=rep_ids)
    for year in sorted({month.year for month in months}):
        plans.plans_create(year=year, rep_ids=rep_ids)
    goals = list(
        Goal.objects.filter(plan__rep__in=rep_ids).exclude(pk__in=before).select_related("plan")
    )
    if not goals:
        return []
    # The revenue of a rep's month counts toward their team's.
    reps = {rep.pk: rep for rep in context.reps}
    bulk_set(
        Goal,
        {
            goal.pk: {"parent": known[(OwnerType.TEAM, None, reps[goal.rep_id].team_id,
                                       Metric.REVENUE, PeriodKind.MONTH, goal.period_start)].pk}
            for goal in goals
            if goal.metric == Metric.REVENUE and goal.plan.month is not None
        },
    )  # fmt: skip
    averages = _monthly_averages(context.reps, months)
    so_far = _month_so_far(context)
    tiers = list(BonusTier.objects.order_by("tier").values_list("tier", "min_revenue"))
    targets, settings = {}, {}
    for plan in {goal.plan for goal in goals}:
        rep = reps[plan.rep_id]
        average = averages[rep.pk]
        if (plan.year, plan.month) == (context.as_of.year, context.as_of.month):
            average = so_far.get(rep.pk, average)
        set_at, values = _plan_choice(context, rep, plan, average, tiers)
        if set_at is not None:
            settings[plan.pk] = {"goal_set_at": set_at, "goal_set_by": rep.user_id}
            targets[plan.pk] = values
    bulk_set(
        Goal,
        {
            goal.pk: {
                "target_value": targets[goal.plan_id][goal.metric],
                "original_target": targets[goal.plan_id][goal.metric],
            }
            for goal in goals
            if goal.plan_id in targets
        },
    )
    bulk_set(RepPlan, settings)
    context.count("rep plans", len({goal.plan_id for goal in goals}))
    return [goal.pk for goal in goals]


def _month_so_far(context: DemoContext) -> dict[int, dict]:
    """For this month's targets: what each rep's month would come to at the pace of its days so
    far, give or take (so that the demo shows reps ahead, on track, behind and critical)."""
    start = context.as_of.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    share = max((context.as_of - start).days, 1) / 30
    revenue = dict(
        Deal.objects.filter(rep__in=context.reps, stage="closed_won", closed_at__gte=start)
        .values("rep_id")
        .annotate(total=Sum("amount"))
        .values_list("rep_id", "total")
    )
    signups = dict(
        Customer.objects.filter(owner__in=context.reps, signed_up_at__gte=start)
        .values("owner_id")
        .annotate(n=Count("id"))
        .values_list("owner_id", "n")
    )
    rng = random.Random(f"{context.seed}:plans:so-far")
    return {
        rep.pk: {
            "revenue": float(revenue[rep.pk]) / share / rng.uniform(0.6, 1.3),
            "signups": max(signups.get(rep.pk, 0) / share / rng.uniform(0.6, 1.3), 1),
        }
        for rep in context.reps
        if revenue.get(rep.pk)
    }


def _plan_choice(context, rep, plan, average, tiers) -> tuple[dt.datetime | None, dict]:
    """When the rep set this plan (None: not set) and its targets, around their average."""
    rng = random.Random(f"{context.seed}:plan:{rep.employee_code}:{plan.year}-{plan.month}")
    zone = periods.zone_named(rep.timezone)
    revenue = _round(average["revenue"] * rng.uniform(0.85, 1.35), 500)
    if plan.month is None:
        values = {Metric.REVENUE: revenue * 12, Metric.SIGNUPS: _round(average["signups"] * 14, 1)}
        first = dt.datetime(plan.year, 1, 1, 10, tzinfo=zone)
        return (first if first <= context.as_of else None), values
    reached = [tier for tier, low in tiers if low <= revenue * Decimal("0.9")]
    values = {
        Metric.REVENUE: revenue,
        Metric.SIGNUPS: _round(average["signups"] * rng.uniform(0.9, 1.4), 1),
        Metric.BONUS_TIER: Decimal(max(reached, default=1)),
    }
    missing = context.reps.index(rep) in MISSERS
    roll = rng.random()
    if missing:
        day = None if roll < 0.3 else rng.randint(8, 16)
    else:
        day = rng.randint(1, 5) if roll < 0.88 else (rng.randint(6, 12) if roll < 0.96 else None)
    if day is None:
        return None, values
    moment = dt.datetime(plan.year, plan.month, day, rng.randint(8, 19), rng.randint(0, 59),
                         tzinfo=zone)  # fmt: skip
    return (moment if moment <= context.as_of else None), values


def _plan_history(context: DemoContext, daily: dict[int, dict[dt.date, Decimal]]) -> None:
    """What the plans' jobs would have left behind: a daily snapshot of each month's plan
    (figures and pace rebuilt from the records), the reminders of the
    plans set late or never, the achievements, dated when they happened."""
    rep_ids = [rep.pk for rep in context.reps]
    month_plans = list(
        RepPlan.objects.filter(rep__in=rep_ids, month__isnull=False)
        .exclude(snapshots__isnull=False)
        .prefetch_related("goals")
    )
    tiers = list(BonusTier.objects.order_by("-tier").values_list("tier", "min_revenue"))
    snapshots = []
    for plan in month_plans:
        goals = {goal.metric: goal for goal in plan.goals.all()}
        revenue_goal, signup_goal = goals[Metric.REVENUE], goals[Metric.SIGNUPS]
        tier_goal = goals[Metric.BONUS_TIER]
        first = revenue_goal.period_start
        days = (revenue_goal.period_end - first).days + 1
        for day, revenue in daily.get(revenue_goal.pk, {}).items():
            signups = daily.get(signup_goal.pk, {}).get(day, Decimal(0))
            signup_percent = _percent(signups, signup_goal.target_value)
            revenue_percent = _percent(revenue, revenue_goal.target_value)
            # As the job would have recorded it at the end of `day`.
            pace = selectors.pace_for(
                signup_percent=signup_percent if signup_goal.target_value else None,
                revenue_percent=revenue_percent if revenue_goal.target_value else None,
                expected=Decimal(((day - first).days + 1) * 100) / days,
            )
            snapshots.append(PlanSnapshot(
                plan=plan, date=day, signups=signups, signup_goal=signup_goal.target_value,
                signup_percent=signup_percent, revenue=revenue,
                revenue_goal=revenue_goal.target_value, revenue_percent=revenue_percent,
                bonus_tier=next((t for t, low in tiers if low <= revenue), 0),
                bonus_tier_goal=tier_goal.target_value,
                days_remaining=(revenue_goal.period_end - day).days, pace=pace,
                on_pace=pace in (Pace.AHEAD, Pace.ON_TRACK),
            ))  # fmt: skip
    PlanSnapshot.objects.bulk_create(snapshots, batch_size=2000, ignore_conflicts=True)
    context.count("plan snapshots", len(snapshots))
    _reminders(context, month_plans)
    _achievements(context)


def _reminders(context: DemoContext, month_plans: list[RepPlan]) -> None:
    """Each plan not set 3 days and 1 day before its deadline was reminded then, and once
    overdue; a reminder is acknowledged when the plan was then set."""
    steps = {"three_days": -dt.timedelta(days=3), "one_day": -dt.timedelta(days=1),
             "overdue": dt.timedelta(hours=1)}  # fmt: skip
    rows, this = [], (context.as_of.year, context.as_of.month)
    for plan in month_plans:
        for kind, offset in steps.items():
            sent = plan.deadline + offset
            if sent > context.as_of or (plan.goal_set_at and plan.goal_set_at <= sent):
                continue
            # Seen when the plan was set; a past month's, within two days.
            past = (plan.year, plan.month) != this
            seen = plan.goal_set_at or (sent + dt.timedelta(days=2) if past else None)
            rows.append(PlanReminder(plan=plan, kind=kind, sent_at=sent, acknowledged_at=seen))
    PlanReminder.objects.bulk_create(rows, ignore_conflicts=True)
    context.count("plan reminders", len(rows))


def _achievements(context: DemoContext) -> None:
    """Targets reached and months set on time in a row, recorded by the plans' own rules, then
    dated when they happened (a month's end, or today for the month under way)."""
    started = timezone.now()
    plans.record_achievements()
    on_time = RepPlan.objects.filter(
        rep__in=context.reps, month__isnull=False, set_by_deadline=True
    ).order_by("year", "month")
    for plan in on_time:
        plans.record_streaks(plan)
    fresh = Achievement.objects.filter(achieved_at__gte=started).select_related("plan")
    bulk_set(
        Achievement,
        {row.pk: {"achieved_at": min(_month_end(row.plan), context.as_of)} for row in fresh},
    )


def _month_end(plan: RepPlan) -> dt.datetime:
    last = periods.month(plan.year, plan.month or 12, dt.UTC).end - dt.timedelta(hours=6)
    return last if plan.month else dt.datetime(plan.year, 12, 31, 18, tzinfo=dt.UTC)


def _monthly_averages(reps: list[SalesRep], months: list[dt.date]) -> dict[int, dict]:
    """Each rep's average month so far (won revenue, deals won, activities completed)."""
    deals = {
        row["rep_id"]: row
        for row in Deal.objects.filter(rep__in=reps, stage="closed_won")
        .values("rep_id")
        .annotate(revenue=Sum("amount"), deals=Count("id"))
    }
    activities = dict(
        Activity.objects.filter(rep__in=reps, status="completed")
        .values("rep_id")
        .annotate(n=Count("id"))
        .values_list("rep_id", "n")
    )
    signups = dict(
        Customer.objects.filter(owner__in=reps, signed_up_at__isnull=False)
        .values("owner_id")
        .annotate(n=Count("id"))
        .values_list("owner_id", "n")
    )
    count = max(len(months), 1)
    return {
        rep.pk: {
            "revenue": float(deals.get(rep.pk, {}).get("revenue") or 0) / count or 3000,
            "deals": (deals.get(rep.pk, {}).get("deals") or 0) / count or 3,
            "activities": activities.get(rep.pk, 0) / count or 20,
            "signups": signups.get(rep.pk, 0) / count or 2,
        }
        for rep in reps
    }


def _adjust_a_few(context: DemoContext, ids: list[int]) -> None:
    """A couple of current-month rep goals set by hand, with the rep's reason."""
    this_month = context.as_of.date().replace(day=1)
    for index, metric, reason in ADJUSTMENTS:
        if index >= len(context.reps):
            continue
        rep = context.reps[index]
        goal = Goal.objects.filter(
            pk__in=ids, rep=rep, metric=metric, period_start=this_month
        ).first()
        if goal is not None:
            bump = Decimal(12 if metric == Metric.ACTIVITIES else 2)
            services.goal_adjust(
                actor=rep.user, goal_id=goal.pk, value=goal.current_value + bump,
                justification=reason,
            )  # fmt: skip


def _snapshots(context: DemoContext, ids: list[int]) -> dict[int, dict[dt.date, Decimal]]:
    """Daily values rebuilt from the demo records: each leaf goal's running total at the end of
    each day of its period so far; a parent's, the sum of its children's."""
    goals = {g.pk: g for g in Goal.objects.filter(pk__in=ids).select_related("rep")}
    today = periods.local_date(context.as_of, periods.company_zone())
    facts = _facts(context)
    daily: dict[int, dict[dt.date, Decimal]] = {}
    # A bonus tier's days follow from its plan's revenue (_plan_history).
    leaves = [
        g for g in goals.values()
        if g.metric != Metric.BONUS_TIER and not any(c.parent_id == g.pk for c in goals.values())
    ]  # fmt: skip
    for goal in leaves:
        zone = periods.zone_named(goal.zone)
        per_day: dict[dt.date, Decimal] = defaultdict(Decimal)
        for rep_id, team_id, moment, amount in facts[_fact_kind(goal.metric)]:
            if goal.owner_type == OwnerType.INDIVIDUAL and rep_id != goal.rep_id:
                continue
            if goal.owner_type == OwnerType.TEAM and team_id != goal.team_id:
                continue
            if goal.starts_at <= moment < goal.ends_at:
                per_day[periods.local_date(moment, zone)] += (
                    amount if goal.metric == Metric.REVENUE else 1
                )
        daily[goal.pk] = _running(goal, per_day, today)
    parents = [g for g in goals.values() if g.pk not in daily and g.metric != Metric.BONUS_TIER]
    for goal in sorted(parents, key=lambda g: 0 if g.owner_type == OwnerType.TEAM else 1):
        days: dict[dt.date, Decimal] = defaultdict(Decimal)
        for child in (c for c in goals.values() if c.parent_id == goal.pk):
            for day, value in daily.get(child.pk, {}).items():
                days[day] += value
        daily[goal.pk] = dict(days)
    rows = [
        GoalSnapshot(
            goal_id=pk,
            date=day,
            value=value,
            target=goals[pk].target_value,
            percent=_percent(value, goals[pk].target_value),
        )
        for pk, days in daily.items()
        for day, value in days.items()
    ]
    GoalSnapshot.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    services.goals_history_resync(goal_ids=list(daily))
    context.count("goal snapshots", len(rows))
    return daily


def _running(goal: Goal, per_day: dict, today: dt.date) -> dict[dt.date, Decimal]:
    running, days = Decimal(0), {}
    day = goal.period_start
    while day <= min(goal.period_end, today):
        running += per_day.get(day, Decimal(0))
        days[day] = running
        day += dt.timedelta(days=1)
    return days


def _fact_kind(metric: str) -> str:
    if metric in (Metric.REVENUE, Metric.DEALS_WON):
        return "deals"
    return "signups" if metric == Metric.SIGNUPS else "activities"


def _facts(context: DemoContext) -> dict[str, list]:
    since = dt.datetime.combine(context.first_month, dt.time.min, tzinfo=dt.UTC) - dt.timedelta(
        days=1
    )
    deals = list(
        Deal.objects.filter(
            rep__in=context.reps, stage="closed_won", closed_at__gte=since
        ).values_list("rep_id", "rep__team_id", "closed_at", "amount")
    )
    activities = [
        (rep_id, team_id, moment, Decimal(1))
        for rep_id, team_id, moment in Activity.objects.filter(
            rep__in=context.reps, status="completed", completed_at__gte=since
        ).values_list("rep_id", "rep__team_id", "completed_at")
    ]
    signups = [
        (rep_id, team_id, moment, Decimal(1))
        for rep_id, team_id, moment in Customer.objects.filter(
            owner__in=context.reps, signed_up_at__gte=since
        ).values_list("owner_id", "owner__team_id", "signed_up_at")
    ]
    return {"deals": deals, "activities": activities, "signups": signups}


def _percent(value: Decimal, target: Decimal | None) -> Decimal:
    if not target:
        return Decimal(0)
    percent = (value * 100 / target).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return min(percent, Decimal("9999.99"))
