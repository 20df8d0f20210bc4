"""A goal's life as people change it: create, edit (words, target, period, parent), delete,
close or open again, set its value by hand and give it back to the calculation. Every change of
target, value, status, source or parent is audited (the core's audit trail, with the reason
when there is one).

A goal keeps its original target: the one it had when its period started (or when it was made,
or first given a target, if later). Every change of a target is a revision (who, when, from
what to what, why); once the period has started, a change needs a reason of at least
MIN_JUSTIFICATION visible characters and leaves the original as it was (`revise_target`).
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from crm import events, periods
from crm.models import SalesRep, Team
from crm.roles import (
    Actor,
    SystemActor,
)
from crm.validators import UNSTORABLE_TEXT, is_storable, visible_length
from crm.writes import (
    UNCHANGED,
    apply_changes,
    audit,
    audit_many,
    given,
    name_actions,
    validate,
)
from goals import selectors
from goals.events import GoalValuesChanged
from goals.models import (
    MAX_VALUE,
    Goal,
    GoalStatus,
    GoalTargetRevision,
    Metric,
    PeriodKind,
    Source,
)
from goals.services.hierarchy import lock_in_order, put_under, recount_if_leaf, take_out
from goals.services.ownership import check_owner, owner_zone, writable_goal
from goals.services.recalculation import VALUE_TOO_LARGE, cents, goals_recalculate, roll_up

name_actions(
    {
        "goal.create": "Goal created",
        "goal.update": "Goal changed",
        "goal.delete": "Goal deleted",
        "goal.status": "Status changed",
        "goal.adjust": "Value set by hand",
        "goal.source": "Calculation changed",
    }
)

PERIOD_END_REQUIRED = "Custom dates need an end date."
PERIOD_END_BEFORE_START = "The period ends on or after the day it starts."
TARGET_REQUIRED = "Set a target."
JUSTIFICATION_TOO_SHORT = "Explain the adjustment in at least 10 characters."
VALUE_NEGATIVE = "A goal's value cannot be negative."
CUSTOM_IS_MANUAL = "A custom goal is set by hand: it has no calculation to return to."
PARENT_SUMS_CHILDREN = "This goal's {field} is the sum of its children's; change theirs."
ALREADY_IN_STATUS = "This goal is already {status}."
PLAN_VALUE_COUNTED = (
    "Your plan's figures count your deals and signups; your supervisor corrects them if needed."
)
PERIOD_BREAKS_LINKS = (
    "This period would no longer lie within its parent goal's, or would leave out goals below "
    "it: unlink them first."
)
PLAN_GOAL_FIXED = (
    "This goal is one of a rep's plan: its target is set on the plan, and its period and "
    "existence are the plan's."
)

TARGET_REASON_REQUIRED = (
    "Say why the target changes: its period has started, so the change is kept beside the "
    "original target."
)
TARGET_REASON_TOO_SHORT = "Explain the change of target in at least 10 characters."
TEXT_UNSTORABLE = UNSTORABLE_TEXT

MIN_JUSTIFICATION = 10


# --- Reasons and target revisions ------------------------------------------------------------


def check_reason(reason: str, *, field: str = "reason") -> None:
    """A reason is text every database stores (crm.validators): no NUL, no half of a
    character."""
    if not is_storable(reason):
        raise ValidationError({field: TEXT_UNSTORABLE})


@dataclass(frozen=True)
class TargetChange:
    """A goal's target moving from `old` to `new`, and the original target it keeps."""

    goal_id: int
    old: Decimal | None
    new: Decimal | None
    original: Decimal | None
    after_start: bool


def revise_target(
    goal: Goal,
    new: Decimal | None,
    *,
    reason: str,
    now: dt.datetime,
    provisional: bool = False,
) -> TargetChange:
    """A change of `goal`'s target to `new`, checked: before its period starts (or while the
    target is blank, or `provisional`: a plan's targets before the rep commits to them) the new
    target is the original too; after, a reason of MIN_JUSTIFICATION visible characters is
    required (on the field "reason") and the original stays."""
    after_start = now >= goal.starts_at
    original = goal.original_target
    if not after_start or goal.target_value is None or provisional:
        original = new
    elif not reason.strip():
        raise ValidationError({"reason": TARGET_REASON_REQUIRED})
    elif visible_length(reason) < MIN_JUSTIFICATION:
        raise ValidationError({"reason": TARGET_REASON_TOO_SHORT})
    return TargetChange(goal.pk, goal.target_value, new, original, after_start)


def record_revisions(
    changes: Iterable[TargetChange], *, actor: Actor, reason: str, now: dt.datetime
) -> None:
    """The revisions of these target changes, in one INSERT."""
    person = None if isinstance(actor, SystemActor) else actor
    GoalTargetRevision.objects.bulk_create(
        GoalTargetRevision(
            goal_id=change.goal_id,
            old_target=change.old,
            new_target=change.new,
            # A job or a setting made for the rep says what it did when a person gave no reason.
            reason=reason.strip(),
            changed_by=person if getattr(person, "is_authenticated", False) else None,
            system_actor=actor.name if isinstance(actor, SystemActor) else "",
            changed_at=now,
            after_start=change.after_start,
        )
        for change in changes
    )


# --- The period ---------------------------------------------------------------------------------


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
    team, rep = check_owner(actor=actor, owner_type=owner_type, team=team, rep=rep)
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
        original_target=target_value,
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
        put_under(goal, parent=parent, actor=actor)
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
    reason: str = "",
) -> Goal:
    """Edit a goal's words, target, period or parent (None: unlinked). A parent's target is
    its children's sum; a goal's period lies within its parent's. A target changed after the
    period started needs `reason` (`revise_target`); every change of target is a revision."""
    if parent is not UNCHANGED and parent is not None:
        lock_in_order(goal_id, parent.pk)
    goal = writable_goal(actor=actor, goal_id=goal_id)
    new_parent = parent is not UNCHANGED and getattr(parent, "pk", None) != goal.parent_id
    fields = given(title=title, description=description, target_value=target_value)
    period_given = given(kind=period_kind, start=period_start, end=period_end)
    # A target sent back as it is (the edit form shows it) is no change of it.
    target_changes = "target_value" in fields and fields["target_value"] != goal.target_value
    check_reason(reason)
    check_update(goal, target_changes=target_changes, period_changes=bool(period_given))
    if "target_value" in fields and fields["target_value"] is None:
        raise ValidationError({"target_value": TARGET_REQUIRED})
    now = timezone.now()
    revision = None
    if target_changes:
        revision = revise_target(goal, fields["target_value"], reason=reason, now=now)
        goal.original_target = revision.original
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
        audit(actor=actor, action="goal.update", target=goal, changes=changes, reason=reason)
        if revision is not None:
            record_revisions([revision], actor=actor, reason=reason, now=now)
        if "period" in changes and goal.is_auto:
            goals_recalculate(goals=Goal.objects.filter(pk=goal.pk), actor=actor)
        if "target_value" in changes:
            roll_up(parent_ids=[goal.parent_id], actor=actor)
    if new_parent and parent is None:
        take_out(goal, actor=actor)
    elif new_parent:
        put_under(goal, parent=parent, actor=actor)
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
    recount_if_leaf(parent_id, actor=actor)


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
    if visible_length(justification) < MIN_JUSTIFICATION:
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
    changes = {"current_value": [goal.current_value, cents(value)]}
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
