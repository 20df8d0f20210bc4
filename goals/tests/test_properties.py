"""Properties that must hold whatever users do, checked on random sequences (hypothesis):
- links and unlinks never make a loop or a tree deeper than three, and every parent's value and
  target are its children's sums after each step;
- after any sequence of deal and activity changes (through the services, with their events),
  every calculated goal holds exactly what a fresh recalculation would give."""

import pytest
from django.db.models import F, Sum
from hypothesis import given
from hypothesis import strategies as st

from crm.tests.factories import SalesRepFactory, TeamFactory
from goals import selectors
from goals.models import Goal
from goals.tests.changes import (
    EXAMPLES,
    THROUGH_THE_SERVICES,
    Sales,
    crm_changes,
    goal_links,
    link_or_unlink,
    rolled_back,
)
from goals.tests.factories import make_goal

pytestmark = pytest.mark.django_db


def _tree_holds(goals: list[Goal]) -> None:
    by_id = {goal.pk: goal for goal in Goal.objects.filter(pk__in=[g.pk for g in goals])}
    for goal in by_id.values():
        seen, node, depth = {goal.pk}, goal, 1
        while node.parent_id is not None:
            assert node.parent_id not in seen, "a loop"
            seen.add(node.parent_id)
            node = by_id[node.parent_id]
            depth += 1
        assert depth <= 3
    sums = {
        row["parent_id"]: row
        for row in Goal.objects.filter(parent__isnull=False)
        .values("parent_id")
        .annotate(value=Sum("current_value"), target=Sum("target_value"))
        .order_by()
    }
    for parent_id, row in sums.items():
        parent = by_id[parent_id]
        assert (parent.current_value, parent.target_value) == (row["value"], row["target"])


@EXAMPLES
@given(steps=goal_links(10), values=st.lists(st.integers(0, 500), min_size=10, max_size=10))
def test_links_never_loop_nor_go_deeper_than_three_and_parents_are_sums(steps, values):
    with rolled_back():
        teams = [TeamFactory(), TeamFactory()]
        reps = [SalesRepFactory(team=teams[i % 2]) for i in range(4)]
        owners = [None, None, teams[0], teams[1], teams[0], *reps, reps[0]]
        goals = [
            make_goal(owner=owner, metric="custom", source="manual", target=10 * (i + 1))
            for i, owner in enumerate(owners)
        ]
        for goal, value in zip(goals, values, strict=True):
            Goal.objects.filter(pk=goal.pk).update(current_value=value)
        for step in steps:
            link_or_unlink(goals, step)
            _tree_holds(goals)


@EXAMPLES
@given(steps=crm_changes(*THROUGH_THE_SERVICES))
def test_stored_values_always_equal_a_fresh_recalculation(
    steps, eager_celery, django_capture_on_commit_callbacks
):
    with rolled_back():
        team = TeamFactory()
        sales = Sales(team)
        goals = [
            make_goal(owner=rep, metric=m) for rep in sales.reps for m in ("revenue", "deals_won")
        ]
        goals += [make_goal(owner=team), make_goal(owner=None, metric="activities")]
        goals += [make_goal(owner=rep, metric="activities") for rep in sales.reps]
        for step in steps:
            with django_capture_on_commit_callbacks(execute=True):
                sales.apply(step)
            stale = (
                selectors.calculable(Goal.objects.filter(pk__in=[g.pk for g in goals]))
                .annotate(fresh=selectors.fresh_value())
                .exclude(current_value=F("fresh"))
            )
            assert list(stale.values_list("title", "current_value", "fresh")) == []
