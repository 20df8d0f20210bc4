"""Figures over many goals, computed by the database: completion, progress, velocity, trend."""

import datetime as dt
from decimal import Decimal

from django.db.models import (
    Avg,
    Case,
    Count,
    ExpressionWrapper,
    F,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Least, TruncMonth
from django.utils import timezone

from crm.periods import company_zone, local_date
from crm.roles import Actor
from goals import rates
from goals.models import (
    MAX_PERCENT,
    PERCENT_FIELD,
    Goal,
    GoalStatus,
    Metric,
    OwnerType,
)
from goals.selectors.forecast import round_cents
from goals.selectors.freshness import counted_part, is_stale
from goals.selectors.lists import goal_list

TREND_MONTHS = 12


class Attainment:
    """What a goal's attainment is measured against: its current target, or its original one
    (the target before any revision after its period started)."""

    CURRENT = "current"
    ORIGINAL = "original"
    CHOICES = [(CURRENT, "Current targets"), (ORIGINAL, "Original targets")]


def _against(attainment: str) -> tuple[Q, object]:
    """(reached, progress) against the targets `attainment` names: a goal reached its target
    (a target above 0, met), and its progress as a percent, capped as the stored one is."""
    if attainment != Attainment.ORIGINAL:
        return Q(progress_percent__gte=100), F("progress_percent")
    percent = Case(
        When(
            original_target__gt=0,
            then=Least(
                ExpressionWrapper(
                    F("current_value") * Value(Decimal(100)) / F("original_target"),
                    output_field=PERCENT_FIELD,
                ),
                Value(MAX_PERCENT),
            ),
        ),
        default=Value(Decimal(0)),
        output_field=PERCENT_FIELD,
    )
    return Q(original_target__gt=0, current_value__gte=F("original_target")), percent


def analytics(
    *,
    user: Actor,
    metric: str = "",
    owner_type: str = "",
    start_date: dt.date | None = None,
    team_id: int | None = None,
    today: dt.date | None = None,
    attainment: str = Attainment.CURRENT,
) -> dict:
    """Figures over the goals `user` may see (filtered), computed by the database; completion
    and progress against their current targets or (`attainment`) their original ones."""
    goals = goal_list(user=user).order_by()
    if metric:
        goals = goals.filter(metric=metric)
    if owner_type:
        goals = goals.filter(owner_type=owner_type)
    if start_date:
        goals = goals.filter(period_start__gte=start_date)
    if team_id:
        goals = goals.filter(Q(team_id=team_id) | Q(rep__team_id=team_id))
    met, progress = _against(attainment)
    reached = Q(status=GoalStatus.COMPLETED) & met
    # The values the CRM still counts (active, calculated, not sums): the figures are as of
    # the oldest of their counts.
    counted = counted_part()
    summary = goals.aggregate(
        oldest_count=Min("last_calculated_at", filter=counted),
        never_counted=Count("id", filter=counted & Q(last_calculated_at__isnull=True)),
        total=Count("id"),
        completed=Count("id", filter=Q(status=GoalStatus.COMPLETED)),
        completed_reached=Count("id", filter=reached),
        active=Count("id", filter=Q(status=GoalStatus.ACTIVE)),
        cancelled=Count("id", filter=Q(status=GoalStatus.CANCELLED)),
        average_progress=Avg(progress),
        first_snapshot=Min("first_snapshot_date"),
        last_snapshot=Max("last_snapshot_date"),
    )
    velocity = _velocity(goals)
    now = timezone.now()
    today = today or local_date(now, company_zone())
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
            "average_progress": round_cents(row["average_progress"] or Decimal(0)),
            **_metric_velocity(velocity, row["metric"]),
        }
        for row in goals.values("metric")
        .annotate(
            total=Count("id"),
            completed=Count("id", filter=Q(status=GoalStatus.COMPLETED)),
            reached=Count("id", filter=reached),
            average_progress=Avg(progress),
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
    days_of_history = (
        (summary["last_snapshot"] - summary["first_snapshot"]).days + 1
        if summary["first_snapshot"] is not None
        else 0
    )
    return {
        "total_goals": summary["total"],
        "completed_goals": summary["completed"],
        "active_goals": summary["active"],
        "cancelled_goals": summary["cancelled"],
        "overall_completion_rate": _rate(summary["completed_reached"], summary["completed"]),
        "average_progress": round_cents(summary["average_progress"] or Decimal(0)),
        "velocity_data_points": velocity["points"],
        "completion_rate_trend": trend,
        "metric_breakdown": breakdown,
        "team_average_completion_rate": _owner_rate(by_owner, OwnerType.TEAM),
        "company_average_completion_rate": _owner_rate(by_owner, OwnerType.COMPANY),
        "has_sufficient_data": velocity["points"] > 0 and days_of_history >= 2,
        "days_of_history": days_of_history,
        "attainment": attainment,
        "as_of": summary["oldest_count"] or now,
        "stale": bool(summary["never_counted"])
        or (summary["oldest_count"] is not None and is_stale(summary["oldest_count"], now=now)),
    }


def _velocity(goals: QuerySet[Goal]) -> dict:
    """Per metric (money and counts never averaged together), the average over goals with
    snapshots on two days or more of each goal's average daily change (its last snapshot's
    value less its first's, over the days between, which the goal keeps: goals.services.
    history), and the same by owner type; from one grouped query.
    {"points": goals with history, "by_metric": {metric: {owner type or "": (sum, count)}}}"""
    rows = (
        goals.filter(daily_change__isnull=False)
        .values("metric", "owner_type")
        .annotate(total=Sum("daily_change"), goals=Count("id"))
        .order_by()
    )
    speeds: dict[str, dict[str, tuple[Decimal, int]]] = {}
    points = 0
    for row in rows:
        by_owner = speeds.setdefault(row["metric"], {})
        total, count = by_owner.get("", (Decimal(0), 0))
        by_owner[""] = (total + row["total"], count + row["goals"])
        by_owner[row["owner_type"]] = (row["total"], row["goals"])
        points += row["goals"]
    return {"points": points, "by_metric": speeds}


def _metric_velocity(velocity: dict, metric: str) -> dict:
    """One metric's velocities a day (None without history): over its goals, its team goals',
    its company goals'; with how many goals they are measured on."""
    by_owner = velocity["by_metric"].get(metric, {})

    def average(owner: str) -> Decimal | None:
        total, count = by_owner.get(owner, (Decimal(0), 0))
        return round_cents(Decimal(total) / count) if count else None

    return {
        "average_velocity": average(""),
        "velocity_data_points": by_owner.get("", (0, 0))[1],
        "team_average_velocity": average(OwnerType.TEAM),
        "company_average_velocity": average(OwnerType.COMPANY),
    }


def _rate(part: int, whole: int) -> Decimal:
    return round_cents(Decimal(part) * 100 / whole) if whole else Decimal("0.00")


def _owner_rate(by_owner: dict, owner_type: str) -> Decimal | None:
    row = by_owner.get(owner_type)
    return _rate(row["reached"], row["completed"]) if row else None


def _months_back(first_of_month: dt.date, months: int) -> dt.date:
    year, month = first_of_month.year, first_of_month.month - months
    while month < 1:
        month += 12
        year -= 1
    return dt.date(year, month, 1)
