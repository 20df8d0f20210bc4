"""Demo goals for `manage.py seed_demo`: for every month of the demo history, a company revenue
goal over each team's, over each rep's (a three-level tree), plus each rep's deals-won and
activities goals, a yearly company signups goal and quarterly team activity goals; values
calculated from the demo deals and activities, daily snapshots rebuilt from them, past periods
closed, a couple of manual adjustments with their reasons, and off-track alerts.

Deterministic for the seed; idempotent (goals that exist are kept, missing ones added)."""

import datetime as dt
import random
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Sum

from crm import periods
from crm.demo import DemoContext, demo_seeder
from crm.models import Activity, Customer, Deal, SalesRep
from crm.roles import SystemActor
from goals import services
from goals.models import Goal, GoalSnapshot, Metric, OwnerType, PeriodKind

ACTOR = SystemActor("seed_demo")
REP_METRICS = [Metric.REVENUE, Metric.DEALS_WON, Metric.ACTIVITIES]
TITLES = {
    Metric.REVENUE: "Revenue",
    Metric.DEALS_WON: "Deals won",
    Metric.ACTIVITIES: "Visits and calls",
    Metric.SIGNUPS: "New customers",
}
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
        period_kind=kind, target_value=target, parent=parent,
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
    """Each rep's revenue (under their team's), deals-won and activities goals per month, the
    targets around the rep's own average month."""
    averages = _monthly_averages(context.reps, months)
    goals = []
    for rep in context.reps:
        average = averages[rep.pk]
        for month in months:
            rng = random.Random(f"{context.seed}:goals:{rep.employee_code}:{month}")
            targets = {
                Metric.REVENUE: _round(average["revenue"] * rng.uniform(0.85, 1.35), 500),
                Metric.DEALS_WON: _round(average["deals"] * rng.uniform(0.85, 1.35), 1),
                Metric.ACTIVITIES: _round(average["activities"] * rng.uniform(0.85, 1.35), 5),
            }
            team = known[(OwnerType.TEAM, None, rep.team_id, Metric.REVENUE, PeriodKind.MONTH,
                          month)]  # fmt: skip
            goals += [
                _goal(title=f"{TITLES[metric]}, {month:%B %Y}", owner_type=OwnerType.INDIVIDUAL,
                      rep=rep, metric=metric, kind=PeriodKind.MONTH, start=month, target=target,
                      parent=team if metric == Metric.REVENUE else None)
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
    if not new:
        return
    ids = [goal.pk for goal in new]
    context.count("goals", len(ids))
    services.goals_recalculate(goals=Goal.objects.filter(pk__in=ids), actor=ACTOR)
    services.roll_up(
        parent_ids=[g.pk for g in new if g.owner_type != OwnerType.INDIVIDUAL], actor=ACTOR
    )
    _adjust_a_few(context, ids)
    _snapshots(context, ids)
    services.close_ended_goals(actor=ACTOR, now=context.as_of)
    services.goals_update_alerts(now=context.as_of, email=False)


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
    count = max(len(months), 1)
    return {
        rep.pk: {
            "revenue": float(deals.get(rep.pk, {}).get("revenue") or 0) / count or 3000,
            "deals": (deals.get(rep.pk, {}).get("deals") or 0) / count or 3,
            "activities": activities.get(rep.pk, 0) / count or 20,
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


def _snapshots(context: DemoContext, ids: list[int]) -> None:
    """Daily values rebuilt from the demo records: each leaf goal's running total at the end of
    each day of its period so far; a parent's, the sum of its children's."""
    goals = {g.pk: g for g in Goal.objects.filter(pk__in=ids).select_related("rep")}
    today = periods.local_date(context.as_of, periods.company_zone())
    facts = _facts(context)
    daily: dict[int, dict[dt.date, Decimal]] = {}
    leaves = [g for g in goals.values() if not any(c.parent_id == g.pk for c in goals.values())]
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
    parents = [g for g in goals.values() if g.pk not in daily]
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
    context.count("goal snapshots", len(rows))


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
