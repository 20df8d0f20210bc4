"""Reads of goals: role-scoped lists, a goal's value computed afresh from CRM data, its
hierarchy, history, forecast and the analytics over many goals."""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import NamedTuple

from django.db.models import (
    Avg,
    Case,
    Count,
    DecimalField,
    Exists,
    F,
    Func,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncMonth
from django.db.models.lookups import GreaterThanOrEqual
from django.utils import timezone

from crm.models import AuditEntry
from crm.periods import LATEST, company_zone, local_date, zone_named
from crm.roles import Actor, scope_to_user
from crm.selectors import count_subquery, sum_subquery
from goals import metrics, rates, rules
from goals.models import (
    BonusTier,
    Goal,
    GoalAlert,
    GoalSnapshot,
    GoalStatus,
    Metric,
    OwnerType,
)

MAX_DEPTH = 3
AMOUNT = DecimalField(max_digits=14, decimal_places=2)


def goal_list(
    *,
    user: Actor,
    for_write: bool = False,
    owner_type: str = "",
    metric: str = "",
    status: str = "",
    search: str = "",
) -> QuerySet[Goal]:
    """The goals `user` may see (or change, `for_write`): a rep goal is its rep's and their
    supervisor's, a team goal its reps' (to read) and supervisor's, a company goal everyone's
    (to read) and the admins'. The other arguments filter (blank: everything)."""
    goals = scope_to_user(
        Goal.objects.select_related("rep__user", "team"),
        user,
        rep_path="rep",
        team_path="team",
        company_rows=Q(owner_type=OwnerType.COMPANY),
        for_write=for_write,
    )
    filters = {"owner_type": owner_type, "metric": metric, "status": status}
    goals = goals.filter(**{name: value for name, value in filters.items() if value})
    if search:
        goals = goals.filter(title__icontains=search)
    return goals


def counted_records(goal: Goal, *, user: Actor, limit: int = 50) -> tuple[str, list]:
    """What makes up a calculated goal's value, as far as `user` may see: the facts its metric
    counts (goals.metrics: won deals, signed-up customers, completed activities or tasks) of
    its owner in its period, newest first."""
    fact = metrics.spec(goal.metric).fact
    if fact is None:
        return "", []
    owner = {}
    if goal.owner_type == OwnerType.INDIVIDUAL:
        owner = {f"{fact.rep}_id": goal.rep_id}
    elif goal.owner_type == OwnerType.TEAM:
        owner = {f"{fact.rep}__team_id": goal.team_id}
    rows = fact.in_period(fact.listing(user=user), goal.starts_at, goal.ends_at).filter(**owner)
    return fact.records, list(rows.order_by(f"-{fact.moment}", "-id")[:limit])


# The audit trail's changes that are figures of the goal's metric (read in its unit).
FIGURE_CHANGES = ("current_value", "target_value")


def audit_trail(goal: Goal, *, limit: int = 50) -> list[AuditEntry]:
    """The goal's latest audit entries, newest first, their values and targets written as its
    metric counts them ("Value: 2 → 3" signups, "Value: 0.00 → 120.00" revenue)."""
    entries = list(
        AuditEntry.objects.filter(
            target_type=Goal._meta.label_lower, target_id=str(goal.pk)
        ).select_related("actor")[:limit]
    )
    for entry in entries:
        entry.changes = {
            name: _figures(goal.metric, change) if name in FIGURE_CHANGES else change
            for name, change in (entry.changes or {}).items()
        }
    return entries


def _figures(metric: str, change):
    def shown(value):
        return None if value is None else metrics.figure(metric, Decimal(str(value)))

    return [shown(value) for value in change] if isinstance(change, list) else shown(change)


def open_alert(goal: Goal) -> GoalAlert | None:
    """The goal's off-track alert still open, if any."""
    return GoalAlert.objects.filter(goal=goal, cleared_at__isnull=True).first()


def has_children() -> Exists:
    return Exists(Goal.objects.filter(parent_id=OuterRef("pk")))


# --- Values computed afresh ---------------------------------------------------------------------


def _owned(queryset: QuerySet, rep_field: str, owner_type: str) -> QuerySet:
    """`queryset` restricted to the goal's owner: the rep's rows, the team's reps' rows, or
    everyone's (a company goal). Each row has one rep, so it counts once however reached."""
    if owner_type == OwnerType.INDIVIDUAL:
        return queryset.filter(**{f"{rep_field}_id": OuterRef("rep_id")})
    if owner_type == OwnerType.TEAM:
        return queryset.filter(**{f"{rep_field}__team_id": OuterRef("team_id")})
    return queryset


def _bonus_tier(won: QuerySet, tiers: list[tuple[int, Decimal]], amount: str) -> Subquery:
    """The highest tier whose threshold the revenue of `won` reaches, 0 if none: one SUM per goal,
    compared with the thresholds (`tiers`, highest tier first) in the same subquery."""
    revenue = Coalesce(Func(amount, function="SUM"), Value(Decimal(0)), output_field=AMOUNT)
    tier = Case(
        *(When(GreaterThanOrEqual(revenue, Value(low)), then=Value(t)) for t, low in tiers),
        default=Value(0),
    )
    return Subquery(won.order_by().annotate(tier=tier).values("tier")[:1], output_field=AMOUNT)


def _measures(owner_type: str, tiers: list[tuple[int, Decimal]]) -> dict[str, object]:
    """Each calculated metric's value for a goal row of `owner_type`, as a correlated subquery
    over the facts its registry entry counts (goals.metrics)."""
    start, end = OuterRef("starts_at"), OuterRef("ends_at")
    measures = {}
    for metric, entry in metrics.REGISTRY.items():
        if not entry.calculated:
            continue
        fact = entry.fact
        facts = _owned(fact.in_period(fact.model.objects, start, end), fact.rep, owner_type)
        if entry.tiered:
            # A bonus tier is a rep's own (the database refuses others).
            if owner_type == OwnerType.INDIVIDUAL:
                measures[metric] = _bonus_tier(facts, tiers, entry.amount)
        elif entry.amount is not None:
            measures[metric] = sum_subquery(facts, entry.amount)
        else:
            measures[metric] = count_subquery(facts)
    return measures


def fresh_value() -> Case:
    """A goal's value from CRM data as it is now: its metric, over its period (UTC bounds),
    for its owner. One correlated subquery per goal row, of the one metric it counts. (Reads
    the bonus tiers' thresholds, a few rows, to write them into the query.)"""
    tiers = list(BonusTier.objects.order_by("-tier").values_list("tier", "min_revenue"))
    return Case(
        *(
            When(owner_type=owner_type, metric=metric, then=Coalesce(measure, Value(Decimal(0))))
            for owner_type in OwnerType.values
            for metric, measure in _measures(owner_type, tiers).items()
        ),
        default=F("current_value"),
        output_field=AMOUNT,
    )


def calculable(goals: QuerySet[Goal]) -> QuerySet[Goal]:
    """The goals whose value the CRM computes: active, calculated, of a counted metric, and
    without children (a parent's value is its children's sum)."""
    return (
        goals.active().calculated().filter(metric__in=metrics.calculated()).exclude(has_children())
    )


# --- Hierarchy ----------------------------------------------------------------------------------


def ancestors(goal: Goal, *, user: Actor) -> list[Goal]:
    """The goals above `goal` that `user` may see, root first, in one query (the hierarchy is
    at most three deep: its parent, and the goal whose child the parent is)."""
    if goal.parent_id is None:
        return []
    # (Not `children__pk`: that join repeats the parent once per child it has.)
    grandparent = Goal.objects.filter(pk=goal.parent_id).values("parent_id")
    above = goal_list(user=user).filter(Q(pk=goal.parent_id) | Q(pk__in=grandparent))
    return sorted(above, key=lambda row: row.pk == goal.parent_id)


TREE_ORDER = ("owner_type", "title", "id")


def link_candidates(goal: Goal, *, user: Actor) -> list[Goal]:
    """The goals `goal` could go under: `user`'s to change, active, of a kind that may hold it,
    whose period holds its period, without a problem (goals.rules), and not its parent now."""
    parents = (
        goal_list(user=user, for_write=True)
        .active()
        .filter(
            metric=goal.metric,
            owner_type__in=rules.PARENT_TYPES,
            period_start__lte=goal.period_start,
            period_end__gte=goal.period_end,
        )
    )
    return [p for p in parents if rules.link_problem(goal, p) is None and p.pk != goal.parent_id]


@dataclass(frozen=True)
class Tree:
    """The hierarchy as the tree page shows it: root goals, their children and theirs by parent
    id, the ids the user may change, and for each root the user may place, the parents it could
    go under."""

    roots: list[Goal]
    children: dict[int, list[Goal]]
    writable: set[int]
    link_choices: dict[int, list[Goal]]


def goal_tree(*, user: Actor, roots: int, **filters) -> Tree:
    """Up to `roots` root goals among those `user` sees (filtered as goal_list), with the two
    levels below them; a fixed number of queries."""
    visible = goal_list(user=user, **filters)
    tops = list(visible.filter(parent__isnull=True).order_by(*TREE_ORDER)[:roots])
    children = subtree(visible, [r.pk for r in tops])
    below = [g for nodes in children.values() for g in nodes]
    writable = set(
        goal_list(user=user, for_write=True)
        .filter(pk__in=[g.pk for g in tops + below])
        .values_list("pk", flat=True)
    )
    # A root may go under another root that holds goals, or under a team goal below one.
    parents = [r for r in tops if r.owner_type in rules.PARENT_TYPES] + [
        g for g in below if g.owner_type == OwnerType.TEAM
    ]
    link_choices = {
        root.pk: [p for p in parents if p.pk in writable and rules.link_problem(root, p) is None]
        for root in tops
        if root.pk in writable and root.owner_type != OwnerType.COMPANY
    }
    return Tree(tops, children, writable, link_choices)


def subtree(visible: QuerySet, root_ids: Iterable[int]) -> dict[int, list]:
    """The children and grandchildren among `visible` (model instances or `.values()` rows with
    "pk" and "parent_id") of the goals `root_ids`, by parent id, in tree order. One query per
    level, each on the parent index: a node whose parent is not visible is not reached."""
    children: dict[int, list] = {}
    level = list(root_ids)
    for _ in range(MAX_DEPTH - 1):
        if not level:
            break
        rows = list(visible.filter(parent_id__in=level).order_by(*TREE_ORDER))
        for row in rows:
            parent = row["parent_id"] if isinstance(row, dict) else row.parent_id
            children.setdefault(parent, []).append(row)
        level = [row["pk"] if isinstance(row, dict) else row.pk for row in rows]
    return children


def subtree_height(goal_id: int) -> int:
    """Levels in the goal's subtree, the goal included (1 for a leaf)."""
    grandchild = Goal.objects.filter(parent__parent_id=goal_id).exists()
    if grandchild:
        return 3
    return 2 if Goal.objects.filter(parent_id=goal_id).exists() else 1


def depth(goal: Goal) -> int:
    """The goal's level from its root (1 for a root)."""
    level, parent_id = 1, goal.parent_id
    while parent_id is not None and level <= MAX_DEPTH:
        level += 1
        parent_id = Goal.objects.filter(pk=parent_id).values_list("parent_id", flat=True).first()
    return level


# --- History and forecast -----------------------------------------------------------------------


class Verdict:
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"

    LABELS = {ON_TRACK: "On track", AT_RISK: "At risk", OFF_TRACK: "Off track"}


# A goal is on track when its progress keeps up with the elapsed share of its period, at risk
# down to AT_RISK_SHARE of that, off track below.
AT_RISK_SHARE = Decimal("0.8")


def _q(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def verdict_for(percent: Decimal, expected_percent: Decimal) -> str:
    if percent >= expected_percent:
        return Verdict.ON_TRACK
    if percent >= expected_percent * AT_RISK_SHARE:
        return Verdict.AT_RISK
    return Verdict.OFF_TRACK


def goal_today(goal: Goal, now: dt.datetime | None = None) -> dt.date:
    """The day it is in the goal's zone (the one its period's days are in)."""
    return local_date(now or timezone.now(), zone_named(goal.zone))


def verdict(goal: Goal, *, today: dt.date) -> str | None:
    """The one verdict on a goal, which the forecast, its badge, the list, the off-track notice,
    the daily alerts and a plan's card all read: on track, at risk or off track against the
    progress a steady pace would have by `today` (the goal's zone). None when there is nothing
    to judge: a goal closed, without a target, or a bonus tier (it moves in steps, not at a
    pace)."""
    return verdict_of(
        metric=goal.metric,
        status=goal.status,
        target=goal.target_value,
        percent=goal.progress_percent,
        period=(goal.period_start, goal.period_end),
        today=today,
    )


def verdict_of(
    *,
    metric: str,
    status: str,
    target: Decimal | None,
    percent: Decimal | None,
    period: tuple[dt.date, dt.date],
    today: dt.date,
) -> str | None:
    """`verdict`, from a goal's figures as a list reads them (a plan's goals, annotated on
    their plan): its metric, status, target, progress percent and (first, last) day."""
    if status != GoalStatus.ACTIVE or target is None or metrics.spec(metric).tiered:
        return None
    if target == 0:  # nothing to reach
        return Verdict.ON_TRACK
    return verdict_for(percent or Decimal(0), _expected_percent(*period, today=today))


def elapsed_days(goal: Goal, *, today: dt.date) -> tuple[int, int]:
    """(days of the goal's period gone by `today`, counting today; days in the period)."""
    return _elapsed_days(goal.period_start, goal.period_end, today=today)


def _elapsed_days(first: dt.date, last: dt.date, *, today: dt.date) -> tuple[int, int]:
    days = (last - first).days + 1
    return min(days, max(0, (today - first).days + 1)), days


def expected_percent(goal: Goal, *, today: dt.date) -> Decimal:
    """The progress a steady pace would have reached by `today`."""
    return _expected_percent(goal.period_start, goal.period_end, today=today)


def _expected_percent(first: dt.date, last: dt.date, *, today: dt.date) -> Decimal:
    elapsed, days = _elapsed_days(first, last, today=today)
    return _q(Decimal(elapsed) * 100 / days)


class HistoryPoint(NamedTuple):
    """A day of a goal's history: its value, and its target and percent, that day."""

    date: dt.date
    value: Decimal
    target: Decimal | None
    percent: Decimal | None


def history_points(goal: Goal, *, today: dt.date) -> list[HistoryPoint]:
    """The goal's value day by day, as its chart draws it, the API gives it and its velocity is
    measured: the daily snapshots before its last day so far, then that day as the goal stands
    now (a snapshot of today is older than the value shown). Days without a snapshot are left
    out, never drawn as 0."""
    last = min(today, goal.period_end)
    rows = goal.snapshots.filter(date__lt=last).order_by("date")
    return [
        *(HistoryPoint(*row) for row in rows.values_list("date", "value", "target", "percent")),
        HistoryPoint(last, goal.current_value, goal.target_value, goal.progress_percent),
    ]


@dataclass(frozen=True)
class Forecast:
    velocity: Decimal  # average change in value per day
    projected_value: Decimal  # at the period's end, at that velocity
    projected_completion: dt.date | None  # when the target is reached at that velocity
    needed_daily_rate: Decimal | None  # what each day left (today included) must add

    verdict: str | None  # None: nothing to judge (see `verdict`)
    elapsed_share: Decimal  # 0..1 of the period gone
    expected_percent: Decimal  # progress a steady pace would have by now
    days_left: int  # after today
    has_sufficient_data: bool
    days_of_history: int
    # The figures above in words, with the metric's unit (goals.rates).
    pace_text: str = ""
    needed_text: str = ""
    projected_text: str = ""

    @property
    def verdict_label(self) -> str:
        return Verdict.LABELS.get(self.verdict, "")


def forecast(
    goal: Goal,
    *,
    now: dt.datetime | None = None,
    history: list[HistoryPoint] | None = None,
) -> Forecast:
    """Velocity over the goal's history, which ends at the value it has now (`history_points`,
    read here unless given): the change from its first point to now over the days between, or,
    with no earlier day recorded, the value over the days elapsed. The projection to the
    period's end and the completion date follow from that one velocity; then the daily rate
    still needed, and the verdict."""
    now = now or timezone.now()
    today = goal_today(goal, now)
    elapsed, days = elapsed_days(goal, today=today)
    days_left = days - elapsed
    points = history if history is not None else history_points(goal, today=today)
    value = goal.current_value
    (first_day, first, *_), (last_day, *_) = points[0], points[-1]
    span = (last_day - first_day).days
    if span > 0:
        velocity = (value - first) / span
    elif elapsed:
        velocity = value / elapsed
    else:
        velocity = Decimal(0)
    projected = value + velocity * days_left
    target = goal.target_value
    completion = None
    needed = None
    if target is not None:
        remaining = target - value
        if remaining <= 0:
            completion = today
            needed = Decimal(0)
        else:
            # Over the days left today included, as `rates.needed` words it.
            to_go = rates.days_left(today, goal.period_end)
            needed = remaining / to_go if to_go else remaining
            if velocity > 0:
                days_to_go = (remaining / velocity).to_integral_value(rounding=ROUND_CEILING)
                # At a crawl the date would be past any calendar's: no completion in sight.
                if days_to_go < (LATEST.date() - today).days:
                    completion = today + dt.timedelta(days=int(days_to_go))
    share = Decimal(elapsed) / Decimal(days)
    projected = _q(max(projected, Decimal(0)))
    return Forecast(
        velocity=_q(velocity),
        projected_value=projected,
        projected_completion=completion,
        needed_daily_rate=_q(needed) if needed is not None else None,
        verdict=verdict(goal, today=today),
        elapsed_share=share.quantize(Decimal("0.0001")),
        expected_percent=expected_percent(goal, today=today),
        days_left=days_left,
        has_sufficient_data=span > 0,
        days_of_history=span + 1,
        pace_text=rates.pace(goal.metric, velocity),
        needed_text=rates.needed(
            goal.metric, target=target, actual=value, today=today, last_day=goal.period_end
        ),
        projected_text=rates.amount(goal.metric, projected),
    )


# --- A goal's page ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """What a goal's progress block and history chart show, from one reading of its history
    (which ends at its value now): the forecast with its one verdict, and the open off-track
    alert only while that verdict is off track."""

    goal: Goal
    history: list[HistoryPoint]
    forecast: Forecast | None
    alert: GoalAlert | None


def progress(goal: Goal) -> Progress:
    history = history_points(goal, today=goal_today(goal))
    judged = forecast(goal, history=history) if goal.target_value is not None else None
    alert = open_alert(goal)
    off_track = judged is not None and judged.verdict == Verdict.OFF_TRACK
    return Progress(goal, history, judged, alert if off_track else None)


@dataclass(frozen=True)
class GoalPage:
    """Everything a goal's page shows around the goal, as far as its reader may see."""

    progress: Progress
    writable: bool
    has_children: bool
    ancestors: list[Goal]
    parent: Goal | None  # None also when the reader may not see it
    children: list[Goal]
    audit: list[AuditEntry]
    records_kind: str
    records: list
    link_candidates: list[Goal]  # empty unless the reader may change the goal


def goal_page(goal: Goal, *, user: Actor, audit_rows: int = 50) -> GoalPage:
    """A goal's page, in a fixed number of queries whatever the rows."""
    shown = progress(goal)
    writable = goal_list(user=user, for_write=True).filter(pk=goal.pk).exists()
    records_kind, records = counted_records(goal, user=user)
    has_children = goal.children.exists()
    above = ancestors(goal, user=user)
    return GoalPage(
        progress=shown,
        writable=writable,
        has_children=has_children,
        ancestors=above,
        parent=above[-1] if above and above[-1].pk == goal.parent_id else None,
        children=list(goal_list(user=user).filter(parent_id=goal.pk)),
        audit=audit_trail(goal, limit=audit_rows),
        records_kind=records_kind,
        records=records,
        link_candidates=link_candidates(goal, user=user) if writable else [],
    )


# --- Analytics ----------------------------------------------------------------------------------

TREND_MONTHS = 12


def analytics(
    *,
    user: Actor,
    metric: str = "",
    owner_type: str = "",
    start_date: dt.date | None = None,
    team_id: int | None = None,
    today: dt.date | None = None,
) -> dict:
    """Figures over the goals `user` may see (filtered), computed by the database."""
    goals = goal_list(user=user).order_by()
    if metric:
        goals = goals.filter(metric=metric)
    if owner_type:
        goals = goals.filter(owner_type=owner_type)
    if start_date:
        goals = goals.filter(period_start__gte=start_date)
    if team_id:
        goals = goals.filter(Q(team_id=team_id) | Q(rep__team_id=team_id))
    reached = Q(status=GoalStatus.COMPLETED, progress_percent__gte=100)
    summary = goals.aggregate(
        total=Count("id"),
        completed=Count("id", filter=Q(status=GoalStatus.COMPLETED)),
        completed_reached=Count("id", filter=reached),
        active=Count("id", filter=Q(status=GoalStatus.ACTIVE)),
        cancelled=Count("id", filter=Q(status=GoalStatus.CANCELLED)),
        average_progress=Avg("progress_percent"),
    )
    velocity = _velocity(goals)
    today = today or local_date(timezone.now(), company_zone())
    first_month = _months_back(today.replace(day=1), TREND_MONTHS - 1)
    trend_rows = (
        goals.filter(status=GoalStatus.COMPLETED, period_end__gte=first_month)
        .annotate(month=TruncMonth("period_end"))
        .values("month")
        .annotate(total=Count("id"), completed=Count("id", filter=reached))
    )
    by_month = {row["month"]: row for row in trend_rows}
    trend = []
    for index in range(TREND_MONTHS):
        month = _months_back(today.replace(day=1), TREND_MONTHS - 1 - index)
        row = by_month.get(month, {"total": 0, "completed": 0})
        trend.append(
            {
                "month": month.strftime("%Y-%m"),
                "completion_rate": _rate(row["completed"], row["total"]),
                "total": row["total"],
                "completed": row["completed"],
            }
        )
    breakdown = [
        {
            "metric": row["metric"],
            "label": Metric(row["metric"]).label,
            "unit": rates.unit(row["metric"]),
            "total": row["total"],
            "completed": row["completed"],
            "completion_rate": _rate(row["reached"], row["completed"]),
            "average_progress": _q(row["average_progress"] or Decimal(0)),
            **_metric_velocity(velocity, row["metric"]),
        }
        for row in goals.values("metric")
        .annotate(
            total=Count("id"),
            completed=Count("id", filter=Q(status=GoalStatus.COMPLETED)),
            reached=Count("id", filter=reached),
            average_progress=Avg("progress_percent"),
        )
        .order_by("metric")
    ]
    by_owner = {
        row["owner_type"]: row
        for row in goals.filter(owner_type__in=[OwnerType.TEAM, OwnerType.COMPANY])
        .values("owner_type")
        .annotate(
            completed=Count("id", filter=Q(status=GoalStatus.COMPLETED)),
            reached=Count("id", filter=reached),
        )
    }
    history = GoalSnapshot.objects.filter(goal__in=goals).aggregate(
        first=Min("date"), last=Max("date")
    )
    days_of_history = (
        (history["last"] - history["first"]).days + 1 if history["first"] is not None else 0
    )
    return {
        "total_goals": summary["total"],
        "completed_goals": summary["completed"],
        "active_goals": summary["active"],
        "cancelled_goals": summary["cancelled"],
        "overall_completion_rate": _rate(summary["completed_reached"], summary["completed"]),
        "average_progress": _q(summary["average_progress"] or Decimal(0)),
        "velocity_data_points": velocity["points"],
        "completion_rate_trend": trend,
        "metric_breakdown": breakdown,
        "team_average_completion_rate": _owner_rate(by_owner, OwnerType.TEAM),
        "company_average_completion_rate": _owner_rate(by_owner, OwnerType.COMPANY),
        "has_sufficient_data": velocity["points"] > 0 and days_of_history >= 2,
        "days_of_history": days_of_history,
    }


def _velocity(goals: QuerySet[Goal]) -> dict:
    """Per metric (money and counts never averaged together), the average over goals with
    snapshots on two days or more of each goal's average daily change (its last snapshot's
    value less its first's, over the days between), and the same by owner type; from one
    query. {"points": goals with history, "by_metric": {metric: {owner type or "": speeds}}}"""
    snapshots = GoalSnapshot.objects.filter(goal_id=OuterRef("pk"))
    first, last = snapshots.order_by("date"), snapshots.order_by("-date")
    rows = goals.annotate(
        first_date=Subquery(first.values("date")[:1]),
        last_date=Subquery(last.values("date")[:1]),
        first_value=Subquery(first.values("value")[:1]),
        last_value=Subquery(last.values("value")[:1]),
    ).values_list("metric", "owner_type", "first_date", "last_date", "first_value", "last_value")
    speeds: dict[str, dict[str, list[Decimal]]] = {}
    points = 0
    for metric, owner, start, end, low, high in rows:
        # Two days or more, tested here: in SQL the filter would run two of the subqueries
        # again for every goal (a fifth slower over 100,000 goals).
        if start is not None and end > start:
            speed = (high - low) / (end - start).days
            by_owner = speeds.setdefault(metric, {})
            by_owner.setdefault("", []).append(speed)
            by_owner.setdefault(owner, []).append(speed)
            points += 1
    return {"points": points, "by_metric": speeds}


def _metric_velocity(velocity: dict, metric: str) -> dict:
    """One metric's velocities a day (None without history): over its goals, its team goals',
    its company goals'; with how many goals they are measured on."""
    by_owner = velocity["by_metric"].get(metric, {})

    def average(owner: str) -> Decimal | None:
        speeds = by_owner.get(owner)
        return _q(sum(speeds) / len(speeds)) if speeds else None

    return {
        "average_velocity": average(""),
        "velocity_data_points": len(by_owner.get("", [])),
        "team_average_velocity": average(OwnerType.TEAM),
        "company_average_velocity": average(OwnerType.COMPANY),
    }


def _rate(part: int, whole: int) -> Decimal:
    return _q(Decimal(part) * 100 / whole) if whole else Decimal("0.00")


def _owner_rate(by_owner: dict, owner_type: str) -> Decimal | None:
    row = by_owner.get(owner_type)
    return _rate(row["reached"], row["completed"]) if row else None


def _months_back(first_of_month: dt.date, months: int) -> dt.date:
    year, month = first_of_month.year, first_of_month.month - months
    while month < 1:
        month += 12
        year -= 1
    return dt.date(year, month, 1)
