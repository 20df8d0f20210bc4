"""Which goal counts toward which: putting a goal under a parent and taking it out, each
refused with the rule it breaks (goals.rules, then what needs the tree: no loop, three levels at
most); both trees roll up in the same transaction."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404

from crm.ids import parse_id
from crm.roles import (
    Actor,
)
from crm.writes import (
    audit,
    locked,
    name_actions,
)
from goals import selectors
from goals.models import (
    Goal,
)
from goals.rules import link_problem
from goals.services.ownership import writable_goal
from goals.services.recalculation import goals_recalculate, roll_up

name_actions({"goal.link": "Placed under a goal", "goal.unlink": "Taken out from under its goal"})

LINK_CYCLE = "That goal is below this one: linking them would make a loop."
LINK_DEPTH = "Goals go three levels deep at most: company, team, individual."
LINK_PARENT_NOT_FOUND = "Choose a goal you can change."
NOT_LINKED = "This goal has no parent."


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


def put_under(goal: Goal, *, parent: Goal, actor: Actor) -> None:
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
    recount_if_leaf(previous, actor=actor)


def take_out(goal: Goal, *, actor: Actor) -> None:
    previous = goal.parent_id
    goal.parent = None
    goal.save(update_fields=["parent", "updated_at"])
    audit(actor=actor, action="goal.unlink", target=goal, changes={"parent": [previous, None]})
    roll_up(parent_ids=[previous], actor=actor)
    recount_if_leaf(previous, actor=actor)


def lock_in_order(*goal_ids: int | str | None) -> None:
    """Lock these goals' rows in one global order (by id) before any of them is read for
    writing: two links made at once in opposite directions (A under B, B under A) each wait for
    the other's goals instead of each holding one and waiting for the other's (a deadlock). The
    second then reads the first's link and is refused with its rule (400)."""
    ids = sorted({pk for pk in map(parse_id, goal_ids) if pk is not None})
    list(Goal.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk"))


@transaction.atomic
def goal_link_parent(*, actor: Actor, goal_id: int, parent: Goal) -> Goal:
    """Put a goal under a parent (both the actor's to change); both trees roll up."""
    lock_in_order(goal_id, parent.pk)
    goal = writable_goal(actor=actor, goal_id=goal_id)
    put_under(goal, parent=parent, actor=actor)
    return selectors.goal_list(user=actor).get(pk=goal.pk)


@transaction.atomic
def goal_unlink_parent(*, actor: Actor, goal_id: int) -> Goal:
    goal = writable_goal(actor=actor, goal_id=goal_id)
    if goal.parent_id is None:
        raise ValidationError({"parent": NOT_LINKED})
    take_out(goal, actor=actor)
    return selectors.goal_list(user=actor).get(pk=goal.pk)


def recount_if_leaf(goal_id: int | None, *, actor: Actor) -> None:
    """A parent that lost its last child counts for itself again."""
    if goal_id is not None:
        goals_recalculate(goals=Goal.objects.filter(pk=goal_id), actor=actor)
