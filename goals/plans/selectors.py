"""Reads of rep plans: role-scoped, each plan with its goals' targets, actuals and percents, its
pace and its deadline status, all computed by the database (so that lists filter and sort on
them, and the daily snapshot copies them with one INSERT … SELECT).

Pace compares the plan's progress (the average of its signup and revenue percents, each
counted up to 100, of those with a target) with the share of the month's days that are over
(in the rep's zone; a day counts once it has ended):

    progress ÷ expected ≥ 1.10 → ahead; ≥ 0.90 → on track; ≥ 0.60 → behind; below → critical

with nothing expected yet (the month's first day) on track, and no pace for a plan without a
signup or revenue target. On pace = ahead or on track.
"""

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    FilteredRelation,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Least
from django.template.defaultfilters import floatformat
from django.utils import timezone

from crm import periods
from crm import selectors as crm_selectors
from crm.models import SalesRep
from crm.pagination import PageRowsQuerySet
from crm.roles import Actor, keeps_own_plan, own_rep, scope_to_user
from goals import metrics, rates
from goals import selectors as goal_selectors
from goals.models import (
    MAX_TIER,
    Achievement,
    BonusTier,
    Goal,
    GoalStatus,
    Pace,
    PlanReminder,
    PlanSnapshot,
    RepPlan,
    Source,
)

AHEAD, ON_TRACK, BEHIND = Decimal("1.10"), Decimal("0.90"), Decimal("0.60")
DUE_SOON = dt.timedelta(days=3)
PERCENT = DecimalField(max_digits=8, decimal_places=2)
AMOUNT = DecimalField(max_digits=14, decimal_places=2)


class DeadlineStatus:
    PENDING = "pending"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    ON_TIME = "on_time"
    LATE = "late"

    # A plan whose month (or year) is over and that was never set: past chasing.
    NEVER_SET = "never_set"

    LABELS = {
        PENDING: "Pending",
        DUE_SOON: "Due soon",
        OVERDUE: "Overdue",
        NEVER_SET: "Not set",
        ON_TIME: "Set on time",
        LATE: "Set late",
    }
    NOT_SET = (PENDING, DUE_SOON, OVERDUE, NEVER_SET)


# The figures a plan shows, each from one of its goals: {metric: (target, actual, percent)}.
FIGURES = {
    metric: (names.target, names.actual, names.percent)
    for metric, names in metrics.in_plans().items()
}
# Each goal's original target beside it ("signup_goal" → "signup_original_goal").
ORIGINALS = {
    metric: target.removesuffix("_goal") + "_original_goal"
    for metric, (target, _, _) in FIGURES.items()
}


def original_percent(actual: Decimal | None, original: Decimal | None) -> Decimal | None:
    """Attainment against an original target, as a goal's percent is against its current one
    (Goal.original_percent); None without an original target."""
    if original is None:
        return None
    return Goal(current_value=actual or Decimal(0), original_target=original).original_percent


def figures_as_of(plan: RepPlan | None, *, now: dt.datetime | None = None) -> goal_selectors.AsOf:
    """When the plan's figures (from `with_figures`) were counted: the oldest of its goals';
    stale when one the CRM still counts (active, calculated) is late (goals.selectors.freshness)."""
    if plan is None:
        return goal_selectors.AsOf(None, stale=False)
    return goal_selectors.figures_as_of(
        [
            (
                getattr(plan, f"{metric}_as_of", None),
                getattr(plan, f"{metric}_status", None) == GoalStatus.ACTIVE
                and getattr(plan, f"{metric}_source", None) == Source.AUTO,
            )
            for metric in FIGURES
        ],
        now=now,
    )


def figure_verdicts(plan: RepPlan, *, period: periods.Period, today: dt.date) -> dict:
    """Each of a month's plan's goals' own verdict, by metric (None: nothing to judge): the
    one its page, the goals list and the alerts give (goals.selectors.verdict), read from the
    figures `with_figures` annotates. A plan's card shows it next to each bar, beside the
    plan's overall pace (the average of two of them)."""
    return {
        metric: goal_selectors.verdict_of(
            metric=metric,
            status=getattr(plan, f"{metric}_status"),
            target=getattr(plan, target),
            percent=getattr(plan, percent),
            period=(period.first_day, period.last_day),
            today=today,
        )
        for metric, (target, _, percent) in FIGURES.items()
    }


def figures_needed(plan: RepPlan, *, period: periods.Period, today: dt.date) -> dict[str, str]:
    """What each of a month's plan's goals still needs, in words, by metric: the text its goal's
    page gives (goals.rates.needed), from the figures `with_figures` annotates."""
    return {
        metric: rates.needed(
            metric,
            target=getattr(plan, target),
            actual=getattr(plan, actual),
            today=today,
            last_day=period.last_day,
        )
        for metric, (target, actual, _) in FIGURES.items()
    }


def tier_label(tier: int, threshold: Decimal | None) -> str:
    """A bonus tier as people choose it: "Tier 3 — from 20,000"."""
    if tier == 0:
        return "None"
    if threshold is None:
        return f"Tier {tier} — no threshold set"
    return f"Tier {tier} — from {floatformat(threshold, '-2g')}"


def bonus_tier_choices() -> list[tuple[int, str]]:
    """Every bonus tier with the month's revenue it is reached from (Django admin keeps the
    thresholds): what the plan forms offer and the API describes."""
    thresholds = dict(BonusTier.objects.values_list("tier", "min_revenue"))
    return [(tier, tier_label(tier, thresholds.get(tier))) for tier in range(MAX_TIER + 1)]


def deadline_for(year: int, month: int, zone) -> dt.datetime:
    """A month's plan is due by the end of its deadline day (PLAN_DEADLINE_DAY, 23:59:59) in
    the rep's zone."""
    return deadline_on(dt.date(year, month, settings.PLAN_DEADLINE_DAY), zone)


def deadline_on(day: dt.date, zone) -> dt.datetime:
    """The last moment of `day` in `zone`: a plan due that day is on time until then."""
    return dt.datetime.combine(day, dt.time(23, 59, 59, 999999), tzinfo=zone)


def plan_list(
    *,
    user: Actor,
    for_write: bool = False,
    year: int | None = None,
    month: int | None = None,
    yearly: bool = False,
    team_id: int | None = None,
    rep_id: int | None = None,
    now: dt.datetime | None = None,
    figures: bool = True,
) -> QuerySet[RepPlan]:
    """The plans `user` may see (a rep their own, a supervisor their teams', admins all), with
    their deadline status and (unless `figures` is off) their figures and pace. Months' plans,
    or with `yearly` years'."""
    plans = scope_to_user(
        PageRowsQuerySet(RepPlan).select_related("rep__user", "rep__team"),
        user,
        rep_path="rep",
        for_write=for_write,
    ).filter(month__isnull=yearly)
    filters = {"year": year, "month": month, "rep__team_id": team_id, "rep_id": rep_id}
    plans = plans.filter(**{name: value for name, value in filters.items() if value is not None})
    now = now or timezone.now()
    plans = plans.annotate(deadline_status=_deadline(now))
    only = (year, None if yearly else month) if year and (yearly or month) else None
    return with_figures(plans, now=now, only=only) if figures else plans


def with_figures(
    plans: QuerySet[RepPlan], *, now: dt.datetime, only: tuple[int, int | None] | None = None
) -> QuerySet[RepPlan]:
    """Each plan with, from its goals (one join each): target, actual, percent and goal id per
    metric; then its pace and days remaining at `now` (`only`: the plans are all of that
    (year, month), or (year, None) for years', which keeps the query short)."""
    annotations = {}
    for metric, (target, actual, percent) in FIGURES.items():
        goal = f"goal_{metric}"
        plans = plans.annotate(
            **{goal: FilteredRelation("goals", condition=Q(goals__metric=metric))}
        )
        annotations |= {
            target: F(f"{goal}__target_value"),
            actual: F(f"{goal}__current_value"),
            percent: F(f"{goal}__progress_percent"),
            f"{metric}_goal_id": F(f"{goal}__id"),
            f"{metric}_status": F(f"{goal}__status"),
            ORIGINALS[metric]: F(f"{goal}__original_target"),
            f"{metric}_as_of": F(f"{goal}__last_calculated_at"),
            f"{metric}_source": F(f"{goal}__calculation_source"),
        }
    plans = plans.annotate(**annotations)
    elapsed, days_left = _month_clock(now, only)
    plans = plans.annotate(
        expected_percent=elapsed, days_remaining=days_left, plan_percent=_plan_percent()
    )
    return plans.annotate(pace=_pace(), on_pace=_on_pace())


def _month_clock(now: dt.datetime, only: tuple[int, int | None] | None) -> tuple[Case, Case]:
    """Per plan: the percent of its period's days that are over at `now`, and the days left
    (today included), in its rep's zone: a month's plan against its month, a year's against
    its year. Written out per (zone, period) for the periods current somewhere (`only` that
    (year, month), or (year, None), when the plans are of one); one before those is over
    (100 %, 0 left), one after has not begun."""
    zones = SalesRep.objects.order_by("timezone").values_list("timezone", flat=True).distinct()
    expected, remaining = [], []
    written = set()

    def clock(zone: str, year: int, month: int | None, period: periods.Period, today) -> None:
        if (zone, year, month) in written or (only is not None and only != (year, month)):
            return
        written.add((zone, year, month))
        over = min(period.days, max(0, (today - period.first_day).days))
        when = Q(rep__timezone=zone, year=year, month=month)
        if month is None:
            when = Q(rep__timezone=zone, year=year, month__isnull=True)
        expected.append(When(when, then=Value(Decimal(over * 100) / period.days)))
        remaining.append(When(when, then=Value(period.days - over)))

    for name in zones:
        zone = periods.zone_named(name)
        today = periods.local_date(now, zone)
        for day in sorted(
            {periods.local_date(now + dt.timedelta(hours=h), zone) for h in (-14, 14)}
        ):
            clock(name, day.year, day.month, periods.month(day.year, day.month, zone), today)
            clock(name, day.year, None, periods.year(day.year, zone), today)
    utc_today = now.astimezone(dt.UTC).date()
    past = (
        Q(year__lt=utc_today.year)
        | Q(year=utc_today.year, month__lt=utc_today.month)
    )  # fmt: skip
    return (
        Case(*expected, When(past, then=Value(Decimal(100))), default=Value(Decimal(0)),
             output_field=PERCENT),
        Case(*remaining, When(past, then=Value(0)), default=Value(None),
             output_field=IntegerField()),
    )  # fmt: skip


def _set_percent(target: str, percent: str) -> Case:
    return Case(When(**{f"{target}__gt": 0}, then=F(percent)), default=None, output_field=PERCENT)


def _plan_percent():
    """The average of the signup and revenue percents, each up to 100 (more on one goal does
    not make up for the other), of those with a target; none without targets."""
    signups = _set_percent("signup_goal", "signup_percent")
    revenue = _set_percent("revenue_goal", "revenue_percent")
    hundred = Value(Decimal(100))
    average = ExpressionWrapper(
        (
            Least(Coalesce(signups, revenue), hundred, output_field=PERCENT)
            + Least(Coalesce(revenue, signups), hundred, output_field=PERCENT)
        )
        / Value(Decimal(2)),
        output_field=PERCENT,
    )
    # (PostgreSQL's LEAST skips NULLs: without targets it would give 100.)
    return Case(
        When(Q(signup_goal__gt=0) | Q(revenue_goal__gt=0), then=average),
        default=None,
        output_field=PERCENT,
    )


def _pace() -> Case:
    def at_least(share: Decimal) -> Q:
        return Q(plan_percent__gte=F("expected_percent") * Value(share))

    return Case(
        When(plan_percent__isnull=True, then=Value("")),
        When(expected_percent=0, then=Value(Pace.ON_TRACK)),
        When(at_least(AHEAD), then=Value(Pace.AHEAD)),
        When(at_least(ON_TRACK), then=Value(Pace.ON_TRACK)),
        When(at_least(BEHIND), then=Value(Pace.BEHIND)),
        default=Value(Pace.CRITICAL),
        output_field=CharField(),
    )


def pace_for(
    *, signup_percent: Decimal | None, revenue_percent: Decimal | None, expected: Decimal
) -> str:
    """The pace rule above for one plan, in Python (the percents of goals with a target, None
    for a goal without one): for figures rebuilt outside the database (the demo's history).
    The lists compute it in SQL (`_pace`); a test holds the two to the same table."""
    given = [min(p, Decimal(100)) for p in (signup_percent, revenue_percent) if p is not None]
    if not given:
        return ""
    progress = sum(given) / len(given)
    if expected == 0:
        return Pace.ON_TRACK
    for share, pace in ((AHEAD, Pace.AHEAD), (ON_TRACK, Pace.ON_TRACK), (BEHIND, Pace.BEHIND)):
        if progress >= expected * share:
            return pace
    return Pace.CRITICAL


def _on_pace() -> Case:
    return Case(
        When(pace__in=[Pace.AHEAD, Pace.ON_TRACK], then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )


def period_over(now: dt.datetime) -> Exists:
    """Whether a plan's month (or year) is over at `now`, in its rep's zone: its goals' bounds
    (a plan's goals share its period). The one rule the deadline status, the reminders and
    the card read."""
    return Exists(Goal.objects.filter(plan_id=OuterRef("pk")).ended(now))


def _deadline(now: dt.datetime) -> Case:
    """Set on time or late; not set: pending, due soon, overdue while its period runs, not set
    once it is over (`period_over`)."""
    return Case(
        When(goal_set_at__isnull=False, set_by_deadline=True, then=Value(DeadlineStatus.ON_TIME)),
        When(goal_set_at__isnull=False, then=Value(DeadlineStatus.LATE)),
        When(period_over(now), then=Value(DeadlineStatus.NEVER_SET)),
        When(deadline__lt=now, then=Value(DeadlineStatus.OVERDUE)),
        When(deadline__lte=now + DUE_SOON, then=Value(DeadlineStatus.DUE_SOON)),
        default=Value(DeadlineStatus.PENDING),
        output_field=CharField(),
    )


def current_month(rep: SalesRep, now: dt.datetime | None = None) -> tuple[int, int]:
    """The (year, month) it is for `rep`, in the rep's zone."""
    today = periods.local_date(now or timezone.now(), periods.zone_named(rep.timezone))
    return today.year, today.month


def past_plans(*, user: Actor, rep: SalesRep) -> QuerySet[RepPlan]:
    """`rep`'s months before their own current month (their zone), newest first."""
    year, month = current_month(rep)
    return (
        plan_list(user=user, rep_id=rep.pk)
        .filter(Q(year__lt=year) | Q(year=year, month__lt=month))
        .order_by("-year", "-month")
    )


def daily_percents(*, rep: SalesRep, since: dt.date) -> list[tuple[dt.date, Decimal, Decimal]]:
    """(day, revenue percent, signup percent) of `rep`'s month plans' daily snapshots after
    `since`, in order: what the dashboard's charts draw."""
    return list(
        PlanSnapshot.objects.filter(plan__rep=rep, daily=True, date__gt=since)
        .order_by("date", "plan__year", "plan__month")
        .values_list("date", "revenue_percent", "signup_percent")
    )


def achievement_list(*, user: Actor, rep_id: int | None = None) -> QuerySet[Achievement]:
    """The achievements of the reps `user` may see (a rep their own), newest first."""
    rows = scope_to_user(Achievement.objects.select_related("plan"), user, rep_path="plan__rep")
    return rows.filter(plan__rep_id=rep_id) if rep_id is not None else rows


def plan_rep(*, user: Actor, rep_id: int | None) -> SalesRep | None:
    """The rep whose plans are read: `rep_id` if `user` may see that rep, or with no rep named
    the user's own; None when there is no such rep."""
    if rep_id is None:
        return own_rep(user)
    return crm_selectors.rep_list(user=user).filter(pk=rep_id).first()


def achievements_by_plan(*, user: Actor, plans: Iterable[RepPlan]) -> dict[int, list[Achievement]]:
    """The achievements of `plans` that `user` may see, by plan id (one query)."""
    won: dict[int, list[Achievement]] = {}
    for achievement in achievement_list(user=user).filter(plan__in=[plan.pk for plan in plans]):
        won.setdefault(achievement.plan_id, []).append(achievement)
    return won


def open_reminders(*, user: Actor) -> list[PlanReminder]:
    """The latest reminder of each plan of `user` (a rep: only the rep acknowledges) that has
    one not acknowledged yet, newest first."""
    latest: dict[int, PlanReminder] = {}
    rows = PlanReminder.objects.filter(plan__rep__user_id=user.pk, acknowledged_at__isnull=True)
    for reminder in rows.select_related("plan").order_by("-sent_at", "-pk"):
        latest.setdefault(reminder.plan_id, reminder)
    return list(latest.values())


# --- Compliance ------------------------------------------------------------------------------

# The deadline statuses from the most urgent: what a manager chases first.
URGENCY = Case(
    *(
        When(deadline_status=status, then=Value(rank))
        for rank, status in enumerate(
            [DeadlineStatus.OVERDUE, DeadlineStatus.DUE_SOON, DeadlineStatus.PENDING,
             DeadlineStatus.NEVER_SET, DeadlineStatus.LATE, DeadlineStatus.ON_TIME]
        )
    ),
    output_field=IntegerField(),
)  # fmt: skip
ORDERINGS = {
    "rep": ("rep__user__last_name", "rep__user__first_name", "pk"),
    # Plans without that goal (no percent) last, on every database.
    "revenue": (F("revenue_percent").desc(nulls_last=True), "pk"),
    "signups": (F("signup_percent").desc(nulls_last=True), "pk"),
    "pace": (F("plan_percent").asc(nulls_last=True), "pk"),
    "deadline": (URGENCY, "pk"),
}
FIGURE_ORDERINGS = {"revenue", "signups", "pace"}
TREND_MONTHS = 12


def this_month(now: dt.datetime | None = None) -> dt.date:
    """The first day of the company's current month (TIME_ZONE)."""
    return periods.local_date(now or timezone.now(), periods.company_zone()).replace(day=1)


def compliance(
    *,
    user: Actor,
    month: dt.date | None = None,
    team: int | None = None,
    pace: str = "",
    deadline: str = "",
    order: str = "",
    now: dt.datetime | None = None,
) -> QuerySet[RepPlan]:
    """The month's plans (this month by default) of the active reps `user` may see, filtered
    by team, pace and deadline status ("not_set": any status of a plan not set), sorted."""
    now = now or timezone.now()
    month = month or this_month(now)
    plans = plan_list(
        user=user, year=month.year, month=month.month, team_id=team, now=now, figures=False
    ).filter(rep__active=True)  # a rep who left has nothing to set
    if deadline == "not_set":
        plans = plans.filter(deadline_status__in=DeadlineStatus.NOT_SET)
    elif deadline:
        plans = plans.filter(deadline_status=deadline)
    ordering = ORDERINGS.get(order or "rep", ORDERINGS["rep"])
    only = (month.year, month.month)
    if pace or order in FIGURE_ORDERINGS:
        plans = with_figures(plans, now=now, only=only)
        if pace:
            plans = plans.filter(pace=pace)
    else:
        # Counted and paged without the goals' joins (10,000 plans: a few ms, not forty);
        # the page's rows get their figures (crm.pagination).
        plans = plans.read_rows(lambda rows: with_figures(rows, now=now, only=only))
    return plans.order_by(*ordering)


def _month_number(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def _months_before(month: dt.date, count: int) -> dt.date:
    number = _month_number(month) - count
    return dt.date(number // 12, number % 12 + 1, 1)


def compliance_trend(*, user: Actor, now: dt.datetime | None = None) -> list[dict]:
    """Per month of the last 12 whose deadlines passed: the visible plans of active reps,
    those set on time, and the rate. One grouped query."""
    now = now or timezone.now()
    first = _months_before(this_month(now), TREND_MONTHS - 1)
    rows = (
        scope_to_user(RepPlan.objects.all(), user, rep_path="rep")
        .filter(month__isnull=False, deadline__lt=now, rep__active=True)
        .filter(Q(year__gt=first.year) | Q(year=first.year, month__gte=first.month))
        .values("year", "month")
        .annotate(total=Count("id"), on_time=Count("id", filter=Q(set_by_deadline=True)))
    )
    by_month = {(row["year"], row["month"]): row for row in rows}
    trend = []
    for index in range(TREND_MONTHS):
        month = _months_before(this_month(now), TREND_MONTHS - 1 - index)
        row = by_month.get((month.year, month.month), {"total": 0, "on_time": 0})
        rate = Decimal(row["on_time"] * 100) / row["total"] if row["total"] else None
        trend.append(
            {"month": month, "total": row["total"], "on_time": row["on_time"], "rate": rate}
        )
    return trend


def this_months_plans(*, user: Actor, **criteria) -> QuerySet[RepPlan]:
    """This month's plans `user` sees (compliance, filtered by `criteria`): a rep's month is
    the one in their zone, everyone else's the company's."""
    rep = own_rep(user) if keeps_own_plan(user) else None
    if rep is None:
        return compliance(user=user, **criteria)
    year, month = current_month(rep)
    return compliance(user=user, month=dt.date(year, month, 1), **criteria)


def this_years_plans(*, user: Actor) -> QuerySet[RepPlan]:
    """This year's plans `user` sees, by rep: a rep's year is the one in their zone."""
    rep = own_rep(user) if keeps_own_plan(user) else None
    year = current_month(rep)[0] if rep is not None else this_month().year
    return plan_list(user=user, yearly=True, year=year).order_by(*ORDERINGS["rep"])


def repeated_misses(*, user: Actor, now: dt.datetime | None = None) -> QuerySet[SalesRep]:
    """The active reps (that `user` may see) who missed the deadline of the last two months
    whose deadlines passed (late or never set), with their misses over the last 12 months."""
    now = now or timezone.now()
    month = this_month(now)
    latest = month if now > _company_deadline(month) else _months_before(month, 1)
    last_two = [latest, _months_before(latest, 1)]
    first = _months_before(latest, TREND_MONTHS - 1)
    missed = Q(month__isnull=False, deadline__lt=now, set_by_deadline=False)
    in_last_two = Q(pk__in=[])
    for day in last_two:
        in_last_two |= Q(year=day.year, month=day.month)
    # The reps who missed both (a few, found on the plans' month index), then their year.
    missed_both = (
        RepPlan.objects.filter(missed & in_last_two, rep__active=True)
        .values("rep_id")
        .annotate(misses=Count("id"))
        .filter(misses=len(last_two))
        .values("rep_id")
    )
    in_year = Q(plans__year__gt=first.year) | Q(
        plans__year=first.year, plans__month__gte=first.month
    )
    missed_plans = Q(
        plans__month__isnull=False, plans__deadline__lt=now, plans__set_by_deadline=False
    )
    return (
        scope_to_user(SalesRep.objects.select_related("user", "team"), user, rep_path="")
        .filter(pk__in=missed_both)
        .annotate(missed_in_year=Count("plans", filter=missed_plans & in_year))
        .order_by("-missed_in_year", "user__last_name", "pk")
    )


def _company_deadline(month: dt.date) -> dt.datetime:
    return deadline_for(month.year, month.month, periods.company_zone())
