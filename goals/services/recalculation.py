"""A goal's value, computed: counted from CRM data (the metric's facts, goals.metrics) or
summed from the goals below it (the roll-up), and the record of a count that failed.

Recalculation is set-based: one query computes every goal's fresh value (goals.selectors
.fresh_value), one statement writes the ones that changed, one audits them, a few roll up their
parents; never a query per goal. A parent's value and target are its children's sums, rolled up
the tree in the same transaction; a parent whose sums move is written under its row lock (and
summed again if a change under it committed meanwhile), so that concurrent changes under one
parent never lose an update, and one whose sums did not move is left alone.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from celery.result import AsyncResult
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Case, DateTimeField, F, Q, QuerySet, Sum, Value, When
from django.utils import timezone

from crm import events
from crm.jobs.tasks import enqueue_job
from crm.models import SalesRep
from crm.roles import (
    Actor,
    may_start_jobs,
)
from crm.writes import (
    audit_many,
    bulk_set,
    name_actions,
)
from goals import selectors
from goals.events import GoalValuesChanged
from goals.models import (
    MAX_VALUE,
    Goal,
    OwnerType,
    Source,
)

name_actions({"goal.recalculate": "Recalculated", "goal.roll_up": "Totals of the goals below"})

RECALCULATE_ALL_ADMINS_ONLY = "Only administrators recalculate every goal."
VALUE_TOO_LARGE = "The value counted is beyond what a goal holds (999,999,999,999.99)."
# The job that recalculates every goal (goals.jobs).
RECALCULATE_ALL = "recalculate_goals"


@transaction.atomic
def goals_recalculate(*, goals: QuerySet[Goal], actor: Actor) -> int:
    """Recompute the calculable goals among `goals` from CRM data, write those whose value
    changed, audit them and roll their parents up. Returns how many changed.

    A fixed number of statements whatever the number of goals: one SELECT of the changed
    values, one UPDATE of the moment they were counted, one UPDATE … FROM unnest(…) of the new
    values, one audit INSERT, and the roll-up's few per level (of every parent of the goals
    counted). The values are read without locks (a long read must not hold up people's edits):
    a goal changed meanwhile (adjusted by hand, recounted by an event, given children) is not
    overwritten, and the next run counts it again. A goal counted again at the same value
    changes only its `last_calculated_at` (its page's "as of"), never its `updated_at`; a
    parent whose sums did not move is neither locked nor written (`roll_up`). A value too
    large for a goal marks that goal failed, and the others are still written.
    """
    now = timezone.now()
    targets = selectors.calculable(goals)
    counted = list(
        targets.annotate(fresh=selectors.fresh_value())
        .exclude(current_value=F("fresh"))
        .values_list("pk", "parent_id", "current_value", "fresh")
    )
    too_large = {pk for pk, _, _, fresh in counted if fresh > MAX_VALUE}
    # Counted now, changed or not: the pages show each value "as of" this moment (the live
    # blocks' version follows it: selectors.goal_version). Counting the same value again is no
    # change of the goal, unless its last count had failed (its notice goes).
    Goal.objects.filter(pk__in=targets.values("pk")).exclude(pk__in=too_large).update(
        last_calculated_at=now,
        updated_at=Case(
            When(calculation_failed=True, then=Value(now)),
            default=F("updated_at"),
            output_field=DateTimeField(),
        ),
        calculation_failed=False,
        calculation_error="",
    )
    if too_large:
        goals_mark_failed(goals=Goal.objects.filter(pk__in=too_large), error=VALUE_TOO_LARGE)
    changed = [row for row in counted if row[0] not in too_large]
    if changed:
        written = set(
            bulk_set(
                Goal,
                {pk: {"current_value": fresh, "updated_at": now} for pk, _, _, fresh in changed},
                expect={
                    pk: {"current_value": old, "calculation_source": Source.AUTO}
                    for pk, _, old, _ in changed
                },
            )
        )
        changed = [row for row in changed if row[0] in written]
        audit_many(
            actor=actor,
            action="goal.recalculate",
            targets=[
                (Goal(pk=pk), {"current_value": [old, cents(fresh)]})
                for pk, _, old, fresh in changed
            ],
        )
        events.publish(GoalValuesChanged(goal_ids=tuple(pk for pk, _, _, _ in changed)))
    # Every parent of a goal counted: those whose sums moved (their children's values, or targets
    # changed elsewhere) are written.
    roll_up(parent_ids=targets.filter(parent__isnull=False).values("parent_id"), actor=actor)
    return len(changed)


def goals_recalculate_all_later(*, actor: Actor) -> AsyncResult:
    """Queue the 15-minute job now (administrators): its job run shows when it is done."""
    if not may_start_jobs(actor):
        raise PermissionDenied(RECALCULATE_ALL_ADMINS_ONLY)
    return enqueue_job(RECALCULATE_ALL)


def goals_mark_failed(*, goals: QuerySet[Goal], error: str) -> None:
    """Record that a recalculation of these goals failed (kept after the failing transaction)."""
    goals.update(calculation_failed=True, calculation_error=error[:2000])


def goals_for_facts(facts: Iterable[tuple[int | None, dt.datetime]], metrics: Iterable[str]):
    """The active goals a fact counts toward: its rep's, its rep's team's and the company's
    goals of those metrics whose period holds the fact's moment."""
    reaches = Q(pk__in=[])
    for rep_id, moment in facts:
        during = Q(starts_at__lte=moment, ends_at__gt=moment)
        reaches |= during & Q(owner_type=OwnerType.COMPANY)
        if rep_id is not None:
            reaches |= during & Q(owner_type=OwnerType.INDIVIDUAL, rep_id=rep_id)
            team = SalesRep.objects.filter(pk=rep_id).values("team_id")
            reaches |= during & Q(owner_type=OwnerType.TEAM, team_id__in=team)
    return Goal.objects.active().filter(reaches, metric__in=list(metrics))


# --- The roll-up ------------------------------------------------------------------------------


def roll_up(*, parent_ids: Iterable[int | None] | QuerySet, actor: Actor) -> None:
    """Make each parent's value and target its children's sums, and so on up to the root.
    `parent_ids` may be a query of ids.

    Each level is summed first without locks, in one statement with the parents' values as they
    stand. A parent whose sums are what it holds already is neither locked nor written: summing
    the same totals again changes nothing (its `updated_at` and `last_calculated_at` say when
    its sum last moved). The parents whose sums moved are locked (in id order) and written with
    the moment, their changes audited. A concurrent change under one of them commits its
    parent's new sums with it; such a parent, found changed once locked, is summed again under
    the lock, so that no update is lost. A level: one statement when no sum moved, four when
    some did (the sums, the lock, the write, the audit), one more after a concurrent change.
    """
    level: QuerySet | set[int] = (
        parent_ids
        if isinstance(parent_ids, QuerySet)
        else {pk for pk in parent_ids if pk is not None}
    )
    now = timezone.now()
    while isinstance(level, QuerySet) or level:
        summed = _children_sums(level)
        moved = {pk: sums for pk, sums in summed.items() if sums.moved}
        if moved:
            held = {
                pk: (value, target)
                for pk, value, target in Goal.objects.select_for_update()
                .filter(pk__in=list(moved))
                .order_by("pk")
                .values_list("pk", "current_value", "target_value")
            }
            meanwhile = [pk for pk, sums in moved.items() if held.get(pk) != sums.held]
            if meanwhile:
                again = _children_sums(meanwhile)
                summed |= again
                moved = {pk: sums for pk, sums in moved.items() if pk not in meanwhile}
                moved |= {pk: sums for pk, sums in again.items() if sums.moved}
            _write_sums(moved, actor=actor, now=now)
        level = {sums.parent_id for sums in summed.values() if sums.parent_id is not None}


@dataclass(frozen=True)
class _Sums:
    """A parent as it stands (`held`: value, target) beside its children's sums."""

    parent_id: int | None
    held: tuple[Decimal, Decimal | None]
    value: Decimal
    target: Decimal | None

    @property
    def moved(self) -> bool:
        return (self.value, self.target) != self.held


def _children_sums(parent_ids: QuerySet | Iterable[int]) -> dict[int, _Sums]:
    """The sums of each parent's children, with the parent's values as they stand, in one
    statement (one snapshot: a change and its parent's sums commit together). A parent without
    children any more is left out: it counts for itself again."""
    rows = (
        Goal.objects.filter(parent_id__in=parent_ids)
        .values("parent_id", "parent__parent_id", "parent__current_value", "parent__target_value")
        .annotate(value=Sum("current_value"), target=Sum("target_value"))
        .order_by()
    )
    return {
        row["parent_id"]: _Sums(
            parent_id=row["parent__parent_id"],
            held=(row["parent__current_value"], row["parent__target_value"]),
            value=cents(row["value"] or Decimal(0)),
            target=cents(row["target"]) if row["target"] is not None else None,
        )
        for row in rows
    }


def _write_sums(moved: dict[int, _Sums], *, actor: Actor, now: dt.datetime) -> None:
    """Write the parents' new sums (locked), and audit what moved; a sum too large for a goal
    marks that parent failed instead."""
    too_large = [pk for pk, sums in moved.items() if max(sums.value, sums.target or 0) > MAX_VALUE]
    written = {
        pk: {
            "current_value": sums.value,
            "target_value": sums.target,
            "last_calculated_at": now,
            "updated_at": now,
        }
        for pk, sums in moved.items()
        if pk not in too_large
    }
    bulk_set(Goal, written)
    audit_many(
        actor=actor,
        action="goal.roll_up",
        targets=[
            (
                Goal(pk=pk),
                {
                    name: [old, new]
                    for name, old, new in zip(
                        ("current_value", "target_value"),
                        moved[pk].held,
                        (moved[pk].value, moved[pk].target),
                        strict=True,
                    )
                    if old != new
                },
            )
            for pk in written
        ],
    )
    if too_large:
        goals_mark_failed(goals=Goal.objects.filter(pk__in=too_large), error=VALUE_TOO_LARGE)


def cents(value: Decimal) -> Decimal:
    """A sum as stored (SQLite's sums carry float noise past the cents)."""
    return Decimal(value).quantize(Decimal("0.01"))
