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

from django.db.models import Exists, Min, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from crm.models import EPOCH
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


# A counted part that was never counted sorts first as this moment, so one subquery per level
# tells both "no counted parts" (NULL) and "a part never counted" (NEVER_COUNTED) apart.
NEVER_COUNTED = dt.datetime(1, 1, 1, tzinfo=dt.UTC)


def counted_part() -> Q:
    """The goals whose values the CRM keeps counting (a sum's parts): active, calculated, with
    no goals below them."""
    return Q(status=GoalStatus.ACTIVE, calculation_source=Source.AUTO) & ~Q(
        Exists(Goal.objects.filter(parent_id=OuterRef("pk")))
    )


def _counted(below: Q) -> QuerySet[Goal]:
    return Goal.objects.filter(below & counted_part())


def _oldest_count(parts: QuerySet[Goal]) -> Subquery:
    counted_at = Coalesce("last_calculated_at", Value(NEVER_COUNTED))
    return Subquery(parts.annotate(at=counted_at).order_by("at").values("at")[:1])


def with_freshness(goals: QuerySet[Goal]) -> QuerySet[Goal]:
    """`goals` with what their "as of" is read from: whether each has goals below it, and the
    oldest count among the calculated goals it sums, one and two levels down (a sum is as fresh
    as its oldest part; its own `last_calculated_at` only says when the sum last moved). One
    subquery per level, each on the parent index: an OR of both levels would read every goal
    for every row."""
    return goals.annotate(
        has_children=Exists(Goal.objects.filter(parent_id=OuterRef("pk"))),
        children_counted_at=_oldest_count(_counted(Q(parent_id=OuterRef("pk")))),
        grandchildren_counted_at=_oldest_count(_counted(Q(parent__parent_id=OuterRef("pk")))),
    )


def goal_as_of(goal: Goal, *, now: dt.datetime | None = None) -> AsOf:
    """When `goal`'s value (and so its percent, pace and verdict) was counted, and whether it
    is stale. Reads the annotations of `with_freshness` (goal_list adds them); without them,
    the goal's own moment."""
    return _as_of(
        active=goal.is_active,
        auto=goal.is_auto,
        has_children=getattr(goal, "has_children", False),
        parts=(
            getattr(goal, "children_counted_at", None),
            getattr(goal, "grandchildren_counted_at", None),
        ),
        own=goal.value_as_of,
        now=now,
    )


# What `row_as_of` reads from a `.values()` row: these fields, and what attach_freshness adds.
AS_OF_VALUES = ("pk", "status", "calculation_source", "last_calculated_at", "updated_at")
FRESHNESS = ("has_children", "children_counted_at", "grandchildren_counted_at")


def attach_freshness(nodes: list, *, among: QuerySet[Goal] | None = None) -> None:
    """What `with_freshness` annotates, for many goals at once (a tree's thousands, where three
    subqueries per row would take seconds; a page's rows keep the annotations, which paginate):
    set on each of `nodes` (goals, or `.values()` rows with AS_OF_VALUES), from two grouped
    queries on the parent index. `among`, goals holding all of `nodes` (a tree's, below its
    root), names them to the database in a subquery rather than one parameter each."""
    ids = [node["pk"] if isinstance(node, dict) else node.pk for node in nodes]
    if not ids:
        return
    chosen = ids if among is None else among.values("pk")
    oldest = Min(Coalesce("last_calculated_at", Value(NEVER_COUNTED)), filter=counted_part())
    children = {
        row["parent_id"]: row
        for row in Goal.objects.filter(parent_id__in=chosen)
        .values("parent_id")
        .annotate(oldest=oldest)
        .order_by()
    }
    grandchildren = dict(
        Goal.objects.filter(parent__parent_id__in=chosen)
        .values("parent__parent_id")
        .annotate(oldest=oldest)
        .order_by()
        .values_list("parent__parent_id", "oldest")
    )
    for pk, node in zip(ids, nodes, strict=True):
        below = children.get(pk)
        found = {
            "has_children": below is not None,
            "children_counted_at": below["oldest"] if below else None,
            "grandchildren_counted_at": grandchildren.get(pk),
        }
        if isinstance(node, dict):
            node.update(found)
        else:
            for name, value in found.items():
                setattr(node, name, value)


def row_as_of(row: dict, *, now: dt.datetime | None = None) -> AsOf:
    """`goal_as_of` for a `.values(*AS_OF_VALUES, …)` row given attach_freshness (the API's
    trees)."""
    return _as_of(
        active=row["status"] == GoalStatus.ACTIVE,
        auto=row["calculation_source"] == Source.AUTO,
        has_children=row["has_children"],
        parts=(row["children_counted_at"], row["grandchildren_counted_at"]),
        own=row["last_calculated_at"] or row["updated_at"],
        now=now,
    )


def _as_of(
    *,
    active: bool,
    auto: bool,
    has_children: bool,
    parts: tuple[dt.datetime | None, ...],
    own: dt.datetime | None,
    now: dt.datetime | None,
) -> AsOf:
    oldest_part = min((moment for moment in parts if moment is not None), default=None)
    counts_parts = oldest_part is not None
    moment = own if not counts_parts else None if oldest_part == NEVER_COUNTED else oldest_part
    kept_counted = active and (counts_parts or (auto and not has_children))
    return AsOf(moment, kept_counted and is_stale(moment, now=now))


def goal_version(goal: Goal) -> str:
    """The goal as its live blocks show it: as last changed (`updated_at`), as of when it was
    counted (which alone moves when a count finds the same value) and whether that is stale
    (which comes with time alone). Live pages ask for news since the version they show."""
    as_of = goal_as_of(goal)
    return f"{_microseconds(goal.updated_at)}.{_microseconds(as_of.moment)}.{int(as_of.stale)}"


def _microseconds(moment: dt.datetime | None) -> int:
    return 0 if moment is None else (moment - EPOCH) // dt.timedelta(microseconds=1)


def figures_as_of(
    moments: list[tuple[dt.datetime | None, bool]], *, now: dt.datetime | None = None
) -> AsOf:
    """Several figures shown together (a plan's bars): as of the oldest, stale when one the CRM
    still counts is. `moments`: (when counted, still counted) for each."""
    shown = [moment for moment, _ in moments if moment is not None]
    oldest = min(shown, default=None)
    stale = any(counted and is_stale(moment, now=now) for moment, counted in moments)
    return AsOf(oldest, stale)
