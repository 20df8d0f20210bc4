"""When a computed figure was counted, and whether it is stale.

Every figure the CRM computes (a goal's value and percent, its pace, a plan's bars, a parent's
sums, analytics, compliance) says when it was counted. The events recount a goal within seconds
and the fallback job (`recalculate_goals`, goals.jobs) every FALLBACK_INTERVAL; a figure the CRM
keeps counting that is older than STALE_AFTER means both failed to reach it, and is marked stale.
A value set by hand, a closed goal's final one and a sum of such values are never stale: nothing
is due to count them again.
"""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from goals.models import Goal, GoalStatus, Source

# The fallback recalculation's interval (its crontab in goals.jobs), and the slack after it.
FALLBACK_INTERVAL = dt.timedelta(minutes=15)
STALE_AFTER = FALLBACK_INTERVAL + dt.timedelta(minutes=5)


@dataclass(frozen=True)
class AsOf:
    """A figure's "as of": when it was counted, and whether that is too long ago."""

    moment: dt.datetime | None
    stale: bool

    def cells(self) -> list[str]:
        """As a CSV shows it: the moment with its UTC offset (the reader's zone), "stale"."""
        moment = timezone.localtime(self.moment).isoformat() if self.moment else ""
        return [moment, "stale" if self.stale else ""]


def is_stale(moment: dt.datetime | None, *, now: dt.datetime | None = None) -> bool:
    """A figure the CRM keeps counting, last counted at `moment` (None: never), is stale."""
    return moment is None or moment < (now or timezone.now()) - STALE_AFTER


def _counted_leaves() -> QuerySet[Goal]:
    """The goals below a goal (two levels down at most) whose values the CRM counts: active,
    calculated, without children of their own."""
    below = Q(parent_id=OuterRef("pk")) | Q(parent__parent_id=OuterRef("pk"))
    return (
        Goal.objects.filter(below, status=GoalStatus.ACTIVE, calculation_source=Source.AUTO)
        .exclude(Exists(Goal.objects.filter(parent_id=OuterRef("pk"))))
        .order_by(F("last_calculated_at").asc(nulls_first=True))
    )


def with_freshness(goals: QuerySet[Goal]) -> QuerySet[Goal]:
    """`goals` with what their "as of" is read from: whether each has goals below it, and the
    oldest count among the calculated goals it sums (a sum is as fresh as its oldest part; its
    own `last_calculated_at` only says when the sum last moved)."""
    return goals.annotate(
        has_children=Exists(Goal.objects.filter(parent_id=OuterRef("pk"))),
        parts_counted_at=Subquery(_counted_leaves().values("last_calculated_at")[:1]),
        counts_parts=Exists(_counted_leaves()),
    )


def goal_as_of(goal: Goal, *, now: dt.datetime | None = None) -> AsOf:
    """When `goal`'s value (and so its percent, pace and verdict) was counted, and whether it
    is stale. Reads the annotations of `with_freshness` (goal_list adds them); without them,
    the goal's own moment."""
    return _as_of(
        active=goal.is_active,
        auto=goal.is_auto,
        has_children=getattr(goal, "has_children", False),
        counts_parts=getattr(goal, "counts_parts", False),
        parts_counted_at=getattr(goal, "parts_counted_at", None),
        own=goal.value_as_of,
        now=now,
    )


# What `row_as_of` reads from a `.values()` row of goal_list.
AS_OF_VALUES = (
    "status", "calculation_source", "has_children", "counts_parts", "parts_counted_at",
    "last_calculated_at", "updated_at",
)  # fmt: skip


def row_as_of(row: dict, *, now: dt.datetime | None = None) -> AsOf:
    """`goal_as_of` for a `.values(*AS_OF_VALUES, …)` row (the API's trees)."""
    return _as_of(
        active=row["status"] == GoalStatus.ACTIVE,
        auto=row["calculation_source"] == Source.AUTO,
        has_children=row["has_children"],
        counts_parts=row["counts_parts"],
        parts_counted_at=row["parts_counted_at"],
        own=row["last_calculated_at"] or row["updated_at"],
        now=now,
    )


def _as_of(
    *,
    active: bool,
    auto: bool,
    has_children: bool,
    counts_parts: bool,
    parts_counted_at: dt.datetime | None,
    own: dt.datetime | None,
    now: dt.datetime | None,
) -> AsOf:
    moment = parts_counted_at if counts_parts else own
    kept_counted = active and (counts_parts or (auto and not has_children))
    return AsOf(moment, kept_counted and is_stale(moment, now=now))


def figures_as_of(
    moments: list[tuple[dt.datetime | None, bool]], *, now: dt.datetime | None = None
) -> AsOf:
    """Several figures shown together (a plan's bars): as of the oldest, stale when one the CRM
    still counts is. `moments`: (when counted, still counted) for each."""
    shown = [moment for moment, _ in moments if moment is not None]
    oldest = min(shown, default=None)
    stale = any(counted and is_stale(moment, now=now) for moment, counted in moments)
    return AsOf(oldest, stale)
