"""Achievements, recorded once: a plan goal reaching its target (after any change of its value
or target), and months set on time in a row (3, 6, 12)."""

from collections.abc import Iterable

from django.db.models import (
    F,
    Q,
)
from django.utils import timezone

from goals.models import (
    Achievement,
    AchievementKind,
    Goal,
    Metric,
    PeriodKind,
    RepPlan,
)

# A goal of a month's plan reaching its target, and of a year's: what it is recorded as.
REACHED = {
    (PeriodKind.MONTH, Metric.SIGNUPS): AchievementKind.MONTHLY_SIGNUPS,
    (PeriodKind.MONTH, Metric.REVENUE): AchievementKind.MONTHLY_REVENUE,
    (PeriodKind.MONTH, Metric.BONUS_TIER): AchievementKind.MONTHLY_BONUS_TIER,
    (PeriodKind.YEAR, Metric.REVENUE): AchievementKind.YEARLY_REVENUE,
}
STREAKS = {3: AchievementKind.STREAK_3, 6: AchievementKind.STREAK_6, 12: AchievementKind.STREAK_12}


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
