"""Properties that must hold whatever users do, checked on random sequences (hypothesis):
- links and unlinks never make a loop or a tree deeper than three, and every parent's value and
  target are its children's sums after each step;
- after any sequence of deal and activity changes (through the services, with their events),
  every calculated goal holds exactly what a fresh recalculation would give."""

from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm import services as crm
from crm.tests.factories import (
    ActivityFactory,
    CustomerFactory,
    DealFactory,
    SalesRepFactory,
    TeamFactory,
)
from goals import selectors, services
from goals.models import Goal
from goals.tests.factories import SETUP, make_goal

pytestmark = pytest.mark.django_db

EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@contextmanager
def rolled_back():
    """Each example in a savepoint that is undone afterwards, so examples do not pile up."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


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


operations = st.lists(
    st.tuples(st.sampled_from(["link", "unlink"]), st.integers(0, 9), st.integers(0, 9)),
    min_size=1,
    max_size=12,
)


@EXAMPLES
@given(steps=operations, values=st.lists(st.integers(0, 500), min_size=10, max_size=10))
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
        for action, child, parent in steps:
            try:
                if action == "link":
                    services.goal_link_parent(
                        actor=SETUP, goal_id=goals[child].pk, parent=goals[parent]
                    )
                else:
                    services.goal_unlink_parent(actor=SETUP, goal_id=goals[child].pk)
            except ValidationError:
                pass  # refused, with a message: the tree stays as it was
            _tree_holds(goals)


changes = st.lists(
    st.tuples(
        st.sampled_from(["new_deal", "win", "lose", "reopen", "complete", "uncomplete"]),
        st.integers(0, 2),  # which rep
        st.integers(0, 5),  # which of their records
        st.integers(1, 5000),  # an amount
    ),
    min_size=1,
    max_size=10,
)


@EXAMPLES
@given(steps=changes)
def test_stored_values_always_equal_a_fresh_recalculation(
    steps, eager_celery, django_capture_on_commit_callbacks
):
    with rolled_back():
        team = TeamFactory()
        reps = [SalesRepFactory(team=team) for _ in range(3)]
        goals = [make_goal(owner=rep, metric=m) for rep in reps for m in ("revenue", "deals_won")]
        goals += [make_goal(owner=team), make_goal(owner=None, metric="activities")]
        goals += [make_goal(owner=rep, metric="activities") for rep in reps]
        customers = [CustomerFactory(owner=rep) for rep in reps]
        deals = {i: [] for i in range(3)}
        activities = {i: [ActivityFactory(rep=rep, customer=None) for _ in range(3)]
                      for i, rep in enumerate(reps)}  # fmt: skip
        for action, who, which, amount in steps:
            rep = reps[who]
            with django_capture_on_commit_callbacks(execute=True):
                try:
                    if action == "new_deal":
                        deals[who].append(
                            DealFactory(rep=rep, customer=customers[who], amount=Decimal(amount))
                        )
                    elif action in {"win", "lose", "reopen"} and deals[who]:
                        deal = deals[who][which % len(deals[who])]
                        if action == "reopen":
                            crm.deal_reopen(actor=rep.user, deal_id=deal.pk)
                        else:
                            crm.deal_close(actor=rep.user, deal_id=deal.pk, won=action == "win")
                    elif action == "complete":
                        activity = activities[who][which % 3]
                        crm.activity_complete(actor=rep.user, activity_id=activity.pk)
                    elif action == "uncomplete":
                        activity = activities[who][which % 3]
                        crm.activity_reopen(actor=rep.user, activity_id=activity.pk)
                except ValidationError:
                    pass  # e.g. closing a closed deal: refused, nothing changes
            stale = (
                selectors.calculable(Goal.objects.filter(pk__in=[g.pk for g in goals]))
                .annotate(fresh=selectors.fresh_value())
                .exclude(current_value=F("fresh"))
            )
            assert list(stale.values_list("title", "current_value", "fresh")) == []
