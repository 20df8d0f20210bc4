"""The goals' hierarchy: ancestors, the tree page's levels, where a goal may go, depths."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from crm.roles import Actor
from goals import rules
from goals.models import Goal, OwnerType
from goals.selectors.freshness import attach_freshness
from goals.selectors.lists import goal_list

MAX_DEPTH = 3
TREE_ORDER = ("owner_type", "title", "id")


def has_children() -> Exists:
    return Exists(Goal.objects.filter(parent_id=OuterRef("pk")))


def ancestors(goal: Goal, *, user: Actor) -> list[Goal]:
    """The goals above `goal` that `user` may see, root first, in one query (the hierarchy is
    at most three deep: its parent, and the goal whose child the parent is)."""
    if goal.parent_id is None:
        return []
    # (Not `children__pk`: that join repeats the parent once per child it has.)
    grandparent = Goal.objects.filter(pk=goal.parent_id).values("parent_id")
    above = goal_list(user=user).filter(Q(pk=goal.parent_id) | Q(pk__in=grandparent))
    return sorted(above, key=lambda row: row.pk == goal.parent_id)


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


# A root shows this many of the goals right below it; the others open on demand (a company
# goal may hold hundreds of team goals).
CHILDREN_SHOWN = 20


@dataclass(frozen=True)
class Tree:
    """The hierarchy as the tree page shows it: root goals and (some of) their children by
    parent id, how many children of each are not shown, the ids the user may change, and for
    each root the user may place, the parents it could go under. The goals below those open on
    demand (`goal_branch`)."""

    roots: list[Goal]
    children: dict[int, list[Goal]]
    writable: set[int]
    link_choices: dict[int, list[Goal]]
    more: dict[int, int] = field(default_factory=dict)


def goal_tree(*, user: Actor, roots: int, **filters) -> Tree:
    """Up to `roots` root goals among those `user` sees (filtered as goal_list), with the first
    CHILDREN_SHOWN goals below each; a fixed number of queries. Each goal knows whether it has
    goals below it (`has_children`, from attach_freshness): the page opens those on demand, so
    that a company tree of thousands opens at once."""
    visible = goal_list(user=user, as_of=False, **filters)
    tops = list(visible.filter(parent__isnull=True).order_by(*TREE_ORDER)[:roots])
    top_ids = [r.pk for r in tops]
    in_order = [F(name) for name in TREE_ORDER]
    shown = (
        visible.filter(parent_id__in=top_ids)
        .annotate(
            rank=Window(RowNumber(), partition_by=[F("parent_id")], order_by=in_order),
            siblings=Window(Count("id"), partition_by=[F("parent_id")]),
        )
        .filter(rank__lte=CHILDREN_SHOWN)
        .order_by(*TREE_ORDER)
    )
    children: dict[int, list[Goal]] = {}
    more: dict[int, int] = {}
    for goal in shown:
        children.setdefault(goal.parent_id, []).append(goal)
        more[goal.parent_id] = goal.siblings - CHILDREN_SHOWN
    more = {pk: count for pk, count in more.items() if count > 0}
    below = [g for nodes in children.values() for g in nodes]
    # A root may go under another root that holds goals, or under a team goal below one: a rep
    # goal under its own team's only (goals.rules), so only those are read.
    teams = {r.rep.team_id for r in tops if r.owner_type == OwnerType.INDIVIDUAL}
    team_goals = list(
        visible.filter(parent_id__in=top_ids, owner_type=OwnerType.TEAM, team_id__in=teams)
    )
    attach_freshness(tops + below)
    writable = _writable(user, tops + below + team_goals)
    parents = [r for r in tops if r.owner_type in rules.PARENT_TYPES] + team_goals
    link_choices = {
        root.pk: [p for p in parents if p.pk in writable and rules.link_problem(root, p) is None]
        for root in tops
        if root.pk in writable and root.owner_type != OwnerType.COMPANY
    }
    return Tree(tops, children, writable, link_choices, more)


def goal_branch(*, user: Actor, parent_id: int, **filters) -> Tree:
    """The goals right below the goal `parent_id` that `user` sees (filtered as goal_list), as
    the tree page opens them on demand: the same nodes as `goal_tree`'s, in a fixed number of
    queries."""
    nodes = list(
        goal_list(user=user, as_of=False, **filters)
        .filter(parent_id=parent_id)
        .order_by(*TREE_ORDER)
    )
    attach_freshness(nodes)
    return Tree(nodes, {}, _writable(user, nodes), {})


def _writable(user: Actor, goals: list[Goal]) -> set[int]:
    return set(
        goal_list(user=user, for_write=True, as_of=False)
        .filter(pk__in=[g.pk for g in goals])
        .values_list("pk", flat=True)
    )


def within(goal_id: int) -> QuerySet[Goal]:
    """The goal `goal_id` and the goals up to two levels below it (all of them: a tree's
    `attach_freshness(..., among=...)` names its nodes with it)."""
    return Goal.objects.filter(Q(pk=goal_id) | Q(parent_id=goal_id) | Q(parent__parent_id=goal_id))


def subtree(
    visible: QuerySet, root_ids: Iterable[int], *, levels: int = MAX_DEPTH - 1
) -> dict[int, list]:
    """The children and grandchildren (`levels` below) among `visible` (model instances or
    `.values()` rows with "pk" and "parent_id") of the goals `root_ids`, by parent id, in tree
    order. One query per level, each on the parent index: a node whose parent is not visible is
    not reached."""
    children: dict[int, list] = {}
    level = list(root_ids)
    for _ in range(levels):
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
