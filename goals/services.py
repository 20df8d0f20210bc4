"""Writes of goals: create and edit, close, manual adjustment, recalculation from CRM data,
hierarchy links with their roll-up, and the daily snapshot, closing and alerts.

Recalculation is set-based: one query computes every goal's fresh value (goals.selectors
.fresh_value), one statement writes the ones that changed, one audits them, a few roll up their
parents; never a query per goal. A parent's value and target are its children's sums, rolled up
the tree in the same transaction; a parent whose sums move is written under its row lock (and
summed again if a change under it committed meanwhile), so that concurrent changes under one
parent never lose an update, and one whose sums did not move is left alone. Every change of
target, value, status, source or parent, by a person or a job, is audited (the core's audit
trail, with the reason when there is one).
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from celery.result import AsyncResult
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Case, DateTimeField, F, Q, QuerySet, Sum, Value, When
from django.http import Http404
from django.utils import timezone

from crm import events, periods
from crm.jobs.tasks import enqueue_job
from crm.mail import send_after_commit
from crm.models import SalesRep, Team
from crm.roles import (
    Actor,
    SystemActor,
    administrators,
    may_choose_rep,
    may_set_company_goals,
    may_start_jobs,
    rep_for_record,
)
from crm.selectors import team_list
from crm.writes import (
    UNCHANGED,
    apply_changes,
    audit,
    audit_many,
    bulk_set,
    given,
    locked,
    name_actions,
    validate,
)
from goals import metrics, selectors
from goals.events import GoalValuesChanged
from goals.models import (
    MAX_VALUE,
    AlertKind,
    Goal,
    GoalAlert,
    GoalSnapshot,
    GoalStatus,
    Metric,
    OwnerType,
    PeriodKind,
    Source,
)

name_actions(
    {
        "goal.create": "Goal created",
        "goal.update": "Goal changed",
        "goal.delete": "Goal deleted",
        "goal.status": "Status changed",
        "goal.adjust": "Value set by hand",
        "goal.source": "Calculation changed",
        "goal.recalculate": "Recalculated",
        "goal.roll_up": "Totals of the goals below",
        "goal.link": "Placed under a goal",
        "goal.unlink": "Taken out from under its goal",
    }
)

# Error messages, one per rule; tests assert on these constants.
COMPANY_GOALS_ADMINS_ONLY = "Only administrators set company goals."
TEAM_REQUIRED = "Choose the team this goal belongs to."
TEAM_NOT_YOURS = "Choose a team you supervise."
REP_REQUIRED = "Choose the sales rep this goal belongs to."
NOT_YOURS_TO_CHANGE = "You may see this goal but not change it."
PERIOD_END_REQUIRED = "Custom dates need an end date."
PERIOD_END_BEFORE_START = "The period ends on or after the day it starts."
TARGET_REQUIRED = "Set a target."
JUSTIFICATION_TOO_SHORT = "Explain the adjustment in at least 10 characters."
VALUE_NEGATIVE = "A goal's value cannot be negative."
CUSTOM_IS_MANUAL = "A custom goal is set by hand: it has no calculation to return to."
PARENT_SUMS_CHILDREN = "This goal's {field} is the sum of its children's; change theirs."
ALREADY_IN_STATUS = "This goal is already {status}."
LINK_SELF = "A goal cannot be its own parent."
LINK_CYCLE = "That goal is below this one: linking them would make a loop."
LINK_DEPTH = "Goals go three levels deep at most: company, team, individual."
LINK_OWNER_TYPES = (
    "A company goal takes team or individual goals below it, a team goal individual goals; an "
    "individual goal takes none."
)
LINK_NOT_IN_TEAM = "This rep is not in that team."
LINK_METRIC = "A goal and its parent count the same metric."
LINK_PERIOD = (
    "A goal's period must lie within its parent's: a month's goal may go under its quarter or "
    "year, not a year's under a month."
)
LINK_PARENT_NOT_FOUND = "Choose a goal you can change."
NOT_LINKED = "This goal has no parent."
LINK_PARENT_CLOSED = "A goal goes under an active goal, not a completed or cancelled one."
RECALCULATE_ALL_ADMINS_ONLY = "Only administrators recalculate every goal."
PLAN_VALUE_COUNTED = (
    "Your plan's figures count your deals and signups; your supervisor corrects them if needed."
)
PERIOD_BREAKS_LINKS = (
    "This period would no longer lie within its parent goal's, or would leave out goals below "
    "it: unlink them first."
)
VALUE_TOO_LARGE = "The value counted is beyond what a goal holds (999,999,999,999.99)."
LINK_BONUS_TIER = "Bonus tiers do not add up: a bonus tier goal is not linked."
PLAN_GOAL_FIXED = (
    "This goal is one of a rep's plan: its target is set on the plan, and its period and "
    "existence are the plan's."
)

MIN_JUSTIFICATION = 10
# The job that recalculates every goal (goals.jobs).
RECALCULATE_ALL = "recalculate_goals"

ALLOWED_CHILDREN = {
    OwnerType.COMPANY: {OwnerType.TEAM, OwnerType.INDIVIDUAL},
    OwnerType.TEAM: {OwnerType.INDIVIDUAL},
    OwnerType.INDIVIDUAL: set(),
}


# --- Periods ------------------------------------------------------------------------------------


def owner_zone(*, owner_type: str, rep: SalesRep | None):
    """A rep's goal counts in the rep's zone; a team's and the company's in TIME_ZONE."""
    if owner_type == OwnerType.INDIVIDUAL and rep is not None:
        return periods.zone_named(rep.timezone)
    return periods.company_zone()


def resolve_period(*, kind: str, start: dt.date, end: dt.date | None, zone) -> periods.Period:
    """The whole month, quarter or year that `start` falls in, or the custom dates given."""
    for field, day in (("period_start", start), ("period_end", end)):
        try:
            periods.validate_in_range(day)
        except ValidationError as error:
            raise ValidationError({field: error.messages}) from None
    if kind == PeriodKind.MONTH:
        return periods.month(start.year, start.month, zone)
    if kind == PeriodKind.QUARTER:
        return periods.quarter(start.year, (start.month - 1) // 3 + 1, zone)
    if kind == PeriodKind.YEAR:
        return periods.year(start.year, zone)
    if end is None:
        raise ValidationError({"period_end": PERIOD_END_REQUIRED})
    if end < start:
        raise ValidationError({"period_end": PERIOD_END_BEFORE_START})
    return periods.Period(start, end, zone)


def set_period(goal: Goal, period: periods.Period) -> None:
    goal.period_start, goal.period_end = period.first_day, period.last_day
    goal.zone = period.zone.key
    goal.starts_at, goal.ends_at = period.start, period.end


# --- Who may set which goal ---------------------------------------------------------------------


def _check_owner(*, actor: Actor, owner_type: str, team: Team | None, rep: SalesRep | None):
    """The owner a new goal may have: company goals for admins, a team goal for the team's
    supervisor, a rep's goal for the rep, their supervisor or an admin. Returns (team, rep)."""
    if owner_type == OwnerType.COMPANY:
        if not may_set_company_goals(actor):
            raise PermissionDenied(COMPANY_GOALS_ADMINS_ONLY)
        return None, None
    if owner_type == OwnerType.TEAM:
        if team is None:
            raise ValidationError({"team": TEAM_REQUIRED})
        if not team_list(user=actor, for_write=True).filter(pk=team.pk).exists():
            raise ValidationError({"team": TEAM_NOT_YOURS})
        return team, None
    if rep is None and may_choose_rep(actor):
        raise ValidationError({"rep": REP_REQUIRED})
    return None, rep_for_record(actor=actor, rep=rep)


def writable_goal(*, actor: Actor, goal_id: int) -> Goal:
    """The goal, locked, if `actor` may change it: 404 when they may not see it, 403 when they
    may only see it."""
    try:
        return locked(selectors.goal_list(user=actor, for_write=True), goal_id)
    except Http404:
        if selectors.goal_list(user=actor).filter(pk=goal_id).exists():
            raise PermissionDenied(NOT_YOURS_TO_CHANGE) from None
        raise


# --- Create, edit, close --------------------------------------------------------------------------


@transaction.atomic
def goal_create(
    *,
    actor: Actor,
    title: str,
    owner_type: str,
    metric: str,
    period_kind: str,
    period_start: dt.date,
    period_end: dt.date | None = None,
    target_value: Decimal | None = None,
    team: Team | None = None,
    rep: SalesRep | None = None,
    description: str = "",
    calculation_source: str = Source.AUTO,
    current_value: Decimal = Decimal(0),
    parent: Goal | None = None,
) -> Goal:
    """A new goal, counted at once (unless set by hand), and put under `parent` if given (the
    same rules as linking it afterwards: refused, nothing is created)."""
    if target_value is None:
        raise ValidationError({"target_value": TARGET_REQUIRED})
    team, rep = _check_owner(actor=actor, owner_type=owner_type, team=team, rep=rep)
    source = Source.MANUAL if metric == Metric.CUSTOM else calculation_source
    goal = Goal(
        title=title,
        description=description,
        owner_type=owner_type,
        team=team,
        rep=rep,
        metric=metric,
        period_kind=period_kind,
        target_value=target_value,
        calculation_source=source,
        current_value=current_value if source == Source.MANUAL else Decimal(0),
        last_calculated_at=timezone.now() if source == Source.MANUAL else None,
    )
    zone = owner_zone(owner_type=owner_type, rep=rep)
    period = resolve_period(kind=period_kind, start=period_start, end=period_end, zone=zone)
    set_period(goal, period)
    validate(goal)
    goal.save()
    audit(
        actor=actor,
        action="goal.create",
        target=goal,
        changes={"target_value": [None, target_value], "metric": metric},
    )
    if goal.is_auto:
        goals_recalculate(goals=Goal.objects.filter(pk=goal.pk), actor=actor)
    if parent is not None:
        _link(goal, parent=parent, actor=actor)
    return selectors.goal_list(user=actor).get(pk=goal.pk)


@transaction.atomic
def goal_update(
    *,
    actor: Actor,
    goal_id: int,
    title: str = UNCHANGED,
    description: str = UNCHANGED,
    target_value: Decimal = UNCHANGED,
    period_kind: str = UNCHANGED,
    period_start: dt.date = UNCHANGED,
    period_end: dt.date | None = UNCHANGED,
    parent: Goal | None = UNCHANGED,
) -> Goal:
    """Edit a goal's words, target, period or parent (None: unlinked). A parent's target is
    its children's sum; a goal's period lies within its parent's."""
    goal = writable_goal(actor=actor, goal_id=goal_id)
    new_parent = parent is not UNCHANGED and getattr(parent, "pk", None) != goal.parent_id
    fields = given(title=title, description=description, target_value=target_value)
    period_given = given(kind=period_kind, start=period_start, end=period_end)
    # A target sent back as it is (the edit form shows it) is no change of it.
    target_changes = "target_value" in fields and fields["target_value"] != goal.target_value
    check_update(goal, target_changes=target_changes, period_changes=bool(period_given))
    if "target_value" in fields and fields["target_value"] is None:
        raise ValidationError({"target_value": TARGET_REQUIRED})
    changes = apply_changes(goal, fields)
    if period_given:
        kind = period_given.get("kind", goal.period_kind)
        period = resolve_period(
            kind=kind,
            start=period_given.get("start", goal.period_start),
            end=period_given.get("end", goal.period_end),
            zone=periods.zone_named(goal.zone),
        )
        before = (goal.period_kind, goal.period_start, goal.period_end)
        goal.period_kind = kind
        set_period(goal, period)
        after = (goal.period_kind, goal.period_start, goal.period_end)
        if before != after:
            # A parent given in the same edit is checked against the new period when linked.
            _check_period_links(goal, parent=not new_parent)
            changes["period"] = [_period_label(*before), _period_label(*after)]
    if changes:
        validate(goal)
        goal.save()
        audit(actor=actor, action="goal.update", target=goal, changes=changes)
        if "period" in changes and goal.is_auto:
            goals_recalculate(goals=Goal.objects.filter(pk=goal.pk), actor=actor)
        if "target_value" in changes:
            roll_up(parent_ids=[goal.parent_id], actor=actor)
    if new_parent and parent is None:
        _unlink(goal, actor=actor)
    elif new_parent:
        _link(goal, parent=parent, actor=actor)
    elif not changes:
        return goal
    return selectors.goal_list(user=actor).get(pk=goal.pk)


def _period_label(kind: str, start: dt.date, end: dt.date) -> str:
    """A period as the audit trail shows it: "Month, 1 Jun 2026 to 30 Jun 2026"."""
    return f"{PeriodKind(kind).label}, {start:%-d %b %Y} to {end:%-d %b %Y}"


def _within(goal: Goal) -> Q:
    """Goals whose period lies within `goal`'s."""
    return Q(period_start__gte=goal.period_start, period_end__lte=goal.period_end)


def _check_period_links(goal: Goal, *, parent: bool = True) -> None:
    """A linked goal's new period still lies within its parent's (unless `parent` is off), and
    its children's within it."""
    parent_apart = (
        parent
        and goal.parent_id
        and not Goal.objects.filter(
            pk=goal.parent_id,
            period_start__lte=goal.period_start,
            period_end__gte=goal.period_end,
        ).exists()
    )
    if parent_apart or Goal.objects.filter(parent_id=goal.pk).exclude(_within(goal)).exists():
        raise ValidationError({"period_start": PERIOD_BREAKS_LINKS})


def check_update(goal: Goal, *, target_changes: bool, period_changes: bool) -> None:
    """What a goal's target and period may not do (also checked by the admin's form): a plan's
    goal takes both from its plan, a parent's target is its children's sum, and a linked goal's
    period must keep overlapping its parent's and its children's."""
    if goal.plan_id is not None and (target_changes or period_changes):
        raise ValidationError(PLAN_GOAL_FIXED)
    if target_changes and Goal.objects.filter(parent_id=goal.pk).exists():
        raise ValidationError({"target_value": PARENT_SUMS_CHILDREN.format(field="target")})


@transaction.atomic
def goal_delete(*, actor: Actor, goal_id: int) -> None:
    """Delete a goal: its children stay, unlinked; its parent rolls up without it."""
    goal = writable_goal(actor=actor, goal_id=goal_id)
    if goal.plan_id is not None:
        raise ValidationError(PLAN_GOAL_FIXED)
    children = list(Goal.objects.filter(parent_id=goal.pk).values_list("pk", flat=True))
    Goal.objects.filter(pk__in=children).update(parent=None)
    audit_many(
        actor=actor,
        action="goal.unlink",
        targets=[(Goal(pk=pk), {"parent": [goal.pk, None]}) for pk in children],
        reason="Its parent was deleted.",
    )
    audit(actor=actor, action="goal.delete", target=goal, changes={"title": goal.title})
    parent_id = goal.parent_id
    goal.delete()
    roll_up(parent_ids=[parent_id], actor=actor)
    _recount_if_leaf(parent_id, actor=actor)


@transaction.atomic
def goal_set_status(*, actor: Actor, goal_id: int, status: str) -> Goal:
    """Close a goal (completed or cancelled) or open it again."""
    goal = writable_goal(actor=actor, goal_id=goal_id)
    if goal.status == status:
        raise ValidationError(ALREADY_IN_STATUS.format(status=GoalStatus(status).label.lower()))
    previous = goal.status
    goal.status = status
    goal.closed_at = None if status == GoalStatus.ACTIVE else timezone.now()
    goal.save(update_fields=["status", "closed_at", "updated_at"])
    audit(actor=actor, action="goal.status", target=goal, changes={"status": [previous, status]})
    if status == GoalStatus.ACTIVE and goal.is_auto:
        goals_recalculate(goals=Goal.objects.filter(pk=goal.pk), actor=actor)
    return selectors.goal_list(user=actor).get(pk=goal.pk)


# --- Manual adjustment ----------------------------------------------------------------------------


@transaction.atomic
def goal_adjust(*, actor: Actor, goal_id: int, value: Decimal, justification: str) -> Goal:
    """Set a goal's value by hand, with a reason. The goal becomes manual: the jobs leave its
    value alone until someone returns it to calculated."""
    justification = justification.strip()
    if len(justification) < MIN_JUSTIFICATION:
        raise ValidationError({"justification": JUSTIFICATION_TOO_SHORT})
    if value < 0:
        raise ValidationError({"value": VALUE_NEGATIVE})
    if value > MAX_VALUE:
        raise ValidationError({"value": VALUE_TOO_LARGE})
    goal = writable_goal(actor=actor, goal_id=goal_id)
    if goal.plan_id is not None and goal.rep.user_id == getattr(actor, "pk", None):
        raise ValidationError({"value": PLAN_VALUE_COUNTED})
    if Goal.objects.filter(parent_id=goal.pk).exists():
        raise ValidationError({"value": PARENT_SUMS_CHILDREN.format(field="value")})
    changes = {"current_value": [goal.current_value, _cents(value)]}
    if goal.calculation_source != Source.MANUAL:
        changes["calculation_source"] = [goal.calculation_source, Source.MANUAL]
    goal.current_value = value
    goal.calculation_source = Source.MANUAL
    goal.manual_override_reason = justification
    goal.last_calculated_at = timezone.now()  # the value shown is as of now
    goal.save(
        update_fields=[
            "current_value", "calculation_source", "manual_override_reason",
            "last_calculated_at", "updated_at",
        ]
    )  # fmt: skip
    audit(actor=actor, action="goal.adjust", target=goal, changes=changes, reason=justification)
    roll_up(parent_ids=[goal.parent_id], actor=actor)
    events.publish(GoalValuesChanged(goal_ids=(goal.pk,)))
    return selectors.goal_list(user=actor).get(pk=goal.pk)


@transaction.atomic
def goal_return_to_auto(*, actor: Actor, goal_id: int) -> Goal:
    """Let the CRM calculate the goal again (at once)."""
    goal = writable_goal(actor=actor, goal_id=goal_id)
    if goal.metric == Metric.CUSTOM:
        raise ValidationError(CUSTOM_IS_MANUAL)
    if goal.calculation_source != Source.AUTO:
        goal.calculation_source = Source.AUTO
        goal.manual_override_reason = ""
        goal.save(update_fields=["calculation_source", "manual_override_reason", "updated_at"])
        audit(
            actor=actor,
            action="goal.source",
            target=goal,
            changes={"calculation_source": [Source.MANUAL, Source.AUTO]},
        )
    goals_recalculate(goals=Goal.objects.filter(pk=goal.pk), actor=actor)
    return selectors.goal_list(user=actor).get(pk=goal.pk)


@transaction.atomic
def goal_recalculate_one(*, actor: Actor, goal_id: int) -> Goal:
    """The "Recalculate" button: this goal, now (its parents follow)."""
    goal = writable_goal(actor=actor, goal_id=goal_id)
    goals_recalculate(goals=Goal.objects.filter(pk=goal.pk), actor=actor)
    return selectors.goal_list(user=actor).get(pk=goal.pk)


# --- Recalculation, set-based ---------------------------------------------------------------------


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
    # blocks' version follows it: Goal.version). Counting the same value again is no change of
    # the goal, unless its last count had failed (its notice goes).
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
                (Goal(pk=pk), {"current_value": [old, _cents(fresh)]})
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


# --- Hierarchy --------------------------------------------------------------------------------


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
            value=_cents(row["value"] or Decimal(0)),
            target=_cents(row["target"]) if row["target"] is not None else None,
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


def link_problem(goal: Goal, parent: Goal) -> str | None:
    """What is wrong with putting `goal` under `parent`, judged from the two goals alone (the
    pages offer only parents without a problem); None if nothing."""
    if parent.pk == goal.pk:
        return LINK_SELF
    if parent.status != GoalStatus.ACTIVE:
        return LINK_PARENT_CLOSED
    if metrics.spec(goal.metric).tiered or metrics.spec(parent.metric).tiered:
        return LINK_BONUS_TIER
    if goal.owner_type not in ALLOWED_CHILDREN[parent.owner_type]:
        return LINK_OWNER_TYPES
    if (
        parent.owner_type == OwnerType.TEAM
        and goal.owner_type == OwnerType.INDIVIDUAL
        and goal.rep.team_id != parent.team_id
    ):
        return LINK_NOT_IN_TEAM
    if parent.metric != goal.metric:
        return LINK_METRIC
    if goal.period_start < parent.period_start or goal.period_end > parent.period_end:
        return LINK_PERIOD
    return None


def _cents(value: Decimal) -> Decimal:
    """A sum as stored (SQLite's sums carry float noise past the cents)."""
    return Decimal(value).quantize(Decimal("0.01"))


def _is_below(candidate: Goal, goal: Goal) -> bool:
    """Whether `candidate` is a child or grandchild of `goal` (the tree is three deep)."""
    if candidate.parent_id is None:
        return False
    if candidate.parent_id == goal.pk:
        return True
    return Goal.objects.filter(pk=candidate.parent_id, parent_id=goal.pk).exists()


def link_refusal(goal: Goal, parent: Goal) -> str | None:
    """Why `goal` may not go under `parent` (link_problem, then what needs the tree: no loop,
    no more than three levels); None if it may. The pages, the API and Django admin refuse
    with this message on the parent field."""
    if parent.pk != goal.pk and _is_below(parent, goal):
        return LINK_CYCLE
    problem = link_problem(goal, parent)
    if problem is None and (
        selectors.depth(parent) + selectors.subtree_height(goal.pk) > selectors.MAX_DEPTH
    ):
        return LINK_DEPTH
    return problem


def _link(goal: Goal, *, parent: Goal, actor: Actor) -> None:
    """Put `goal` (locked, the actor's to change) under `parent`, read again here in the
    actor's scope and locked (theirs to change too, whoever looked it up); both trees roll
    up."""
    try:
        parent = locked(selectors.goal_list(user=actor, for_write=True), parent.pk)
    except Http404:
        raise ValidationError({"parent": LINK_PARENT_NOT_FOUND}) from None
    problem = link_refusal(goal, parent)
    if problem is not None:
        raise ValidationError({"parent": problem})
    previous = goal.parent_id
    if previous == parent.pk:
        return
    goal.parent = parent
    goal.save(update_fields=["parent", "updated_at"])
    audit(actor=actor, action="goal.link", target=goal, changes={"parent": [previous, parent.pk]})
    roll_up(parent_ids=[previous, parent.pk], actor=actor)
    _recount_if_leaf(previous, actor=actor)


def _unlink(goal: Goal, *, actor: Actor) -> None:
    previous = goal.parent_id
    goal.parent = None
    goal.save(update_fields=["parent", "updated_at"])
    audit(actor=actor, action="goal.unlink", target=goal, changes={"parent": [previous, None]})
    roll_up(parent_ids=[previous], actor=actor)
    _recount_if_leaf(previous, actor=actor)


@transaction.atomic
def goal_link_parent(*, actor: Actor, goal_id: int, parent: Goal) -> Goal:
    """Put a goal under a parent (both the actor's to change); both trees roll up."""
    goal = writable_goal(actor=actor, goal_id=goal_id)
    _link(goal, parent=parent, actor=actor)
    return selectors.goal_list(user=actor).get(pk=goal.pk)


@transaction.atomic
def goal_unlink_parent(*, actor: Actor, goal_id: int) -> Goal:
    goal = writable_goal(actor=actor, goal_id=goal_id)
    if goal.parent_id is None:
        raise ValidationError({"parent": NOT_LINKED})
    _unlink(goal, actor=actor)
    return selectors.goal_list(user=actor).get(pk=goal.pk)


def _recount_if_leaf(goal_id: int | None, *, actor: Actor) -> None:
    """A parent that lost its last child counts for itself again."""
    if goal_id is not None:
        goals_recalculate(goals=Goal.objects.filter(pk=goal_id), actor=actor)


# --- The daily job: snapshots, closing, alerts --------------------------------------------------


def snapshot_active_goals(*, on: dt.date) -> int:
    """One snapshot per active goal for `on`, in one INSERT … SELECT; a second run that day
    writes nothing (the unique goal and date)."""
    snapshot, goal = GoalSnapshot._meta, Goal._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(c) for c in ("goal_id", "date", "value", "target", "percent"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(snapshot.db_table)} ({columns}, {quote('created_at')}) "
            f"SELECT {quote('id')}, %s, {quote('current_value')}, {quote('target_value')}, "
            f"{quote('progress_percent')}, %s FROM {quote(goal.db_table)} "
            f"WHERE {quote('status')} = %s "
            f"ON CONFLICT ({quote('goal_id')}, {quote('date')}) DO NOTHING",
            [
                connection.ops.adapt_datefield_value(on),
                connection.ops.adapt_datetimefield_value(timezone.now()),
                GoalStatus.ACTIVE,
            ],
        )
        return cursor.rowcount


def close_ended_goals(*, actor: Actor, now: dt.datetime | None = None) -> int:
    """Goals whose period has ended are completed, whether or not their value moved."""
    now = now or timezone.now()
    ended = Goal.objects.active().ended(now)
    ids = list(ended.values_list("pk", flat=True))
    Goal.objects.filter(pk__in=ids).update(
        status=GoalStatus.COMPLETED, closed_at=now, updated_at=now
    )
    audit_many(
        actor=actor,
        action="goal.status",
        targets=[
            (Goal(pk=pk), {"status": [GoalStatus.ACTIVE, GoalStatus.COMPLETED]}) for pk in ids
        ],
        reason="The goal's period ended.",
    )
    return len(ids)


ALERT_SUBJECT = "Goal off track: {title}"
ALERT_BODY = (
    "“{title}” ({owner}) is off track: {percent}% done with {expected}% of its period gone.\n\n"
    "See it in the CRM: {url}\n"
)


@transaction.atomic
def goals_update_alerts(*, now: dt.datetime | None = None, email: bool = True) -> tuple[int, int]:
    """Raise an alert for each active goal with a target that turned off track (once: not
    again until it recovers and falls back), clear the alerts of goals that recovered, and email
    the new ones (unless `email` is off: demo data). Returns (raised, cleared)."""
    now = now or timezone.now()
    goals = list(
        # The goals selectors.verdict may find off track (the others are never judged).
        Goal.objects.active()
        .filter(target_value__gt=0)
        .exclude(metric__in=metrics.tiered())
        .select_related("rep__user", "rep__team__manager", "team__manager")
    )
    today_in = {}
    off_track = set()
    for goal in goals:
        if goal.zone not in today_in:
            today_in[goal.zone] = periods.local_date(now, periods.zone_named(goal.zone))
        if selectors.verdict(goal, today=today_in[goal.zone]) == selectors.Verdict.OFF_TRACK:
            off_track.add(goal.pk)
    open_alerts = set(
        GoalAlert.objects.filter(kind=AlertKind.OFF_TRACK, cleared_at__isnull=True).values_list(
            "goal_id", flat=True
        )
    )
    cleared = GoalAlert.objects.filter(
        kind=AlertKind.OFF_TRACK, cleared_at__isnull=True, goal_id__in=open_alerts - off_track
    ).update(cleared_at=now)
    new = [goal for goal in goals if goal.pk in off_track - open_alerts]
    alerts = []
    messages = []
    admins = (
        [] if not new else list(administrators().exclude(email="").values_list("email", flat=True))
    )
    for goal in new:
        recipients = _alert_recipients(goal, admins=admins)
        alerts.append(GoalAlert(goal=goal, raised_at=now, emailed_to=", ".join(sorted(recipients))))
        if recipients:
            expected = selectors.expected_percent(goal, today=today_in[goal.zone])
            messages.append(
                (
                    ALERT_SUBJECT.format(title=goal.title),
                    ALERT_BODY.format(
                        title=goal.title,
                        owner=goal.owner_name,
                        percent=goal.progress_percent,
                        expected=expected,
                        url=f"{settings.SITE_URL}/goals/{goal.pk}/",
                    ),
                    settings.DEFAULT_FROM_EMAIL,
                    sorted(recipients),
                )
            )
    GoalAlert.objects.bulk_create(alerts)
    if email:
        send_after_commit(messages)
    return len(alerts), cleared


def _alert_recipients(goal: Goal, *, admins: list[str]) -> set[str]:
    """A rep's goal: the rep and their supervisor; a team's: its supervisor; the company's:
    the administrators (`admins`, read once for all the alerts)."""
    if goal.owner_type == OwnerType.COMPANY:
        return set(admins)
    if goal.owner_type == OwnerType.INDIVIDUAL:
        people = [goal.rep.user, goal.rep.team.manager]
    else:
        people = [goal.team.manager]
    return {person.email for person in people if person is not None and person.email}


def recount_ended_goals(*, actor: SystemActor, now: dt.datetime) -> int:
    """Count the active goals whose period ended one last time (a late event or a back-dated
    correction still counts) before they are snapshotted and closed."""
    return goals_recalculate(goals=Goal.objects.active().ended(now), actor=actor)


def daily_goal_work(
    *, actor: SystemActor, now: dt.datetime | None = None, recount: bool = True
) -> dict:
    """The daily job's steps, each set-based: count the goals whose period ended one last
    time (unless the caller just did: `recount`), snapshot every active goal (their last day
    included), close the ended ones, update the off-track alerts."""
    now = now or timezone.now()
    today = periods.local_date(now, periods.company_zone())
    with transaction.atomic():
        if recount:
            recount_ended_goals(actor=actor, now=now)
        snapshots = snapshot_active_goals(on=today)
        closed = close_ended_goals(actor=actor, now=now)
    raised, cleared = goals_update_alerts(now=now)
    return {"snapshots": snapshots, "closed": closed, "alerts_raised": raised, "cleared": cleared}
