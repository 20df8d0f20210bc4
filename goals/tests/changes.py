"""What the goals' property tests share: random sequences of CRM changes and of goal links
(hypothesis), and one way to apply them — through the core's services with their events, as
users make them, or behind the services' back, as an admin's raw edit does."""

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from crm import services as crm
from crm.errors import Conflict
from crm.models import Deal, DealStage, Team
from crm.tests.factories import ActivityFactory, CustomerFactory, DealFactory, SalesRepFactory
from goals import services
from goals.models import Goal
from goals.tests.factories import SETUP

EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Changes a rep makes through the core's services.
DEAL_CHANGES = ("new_deal", "win", "lose", "reopen")
THROUGH_THE_SERVICES = (*DEAL_CHANGES, "complete", "uncomplete")
# Raw edits that bypass the services and their events: a deal's amount, a deal marked won, a
# goal's stored value.
BEHIND_THEIR_BACK = ("admin_amount", "admin_won", "admin_goal")

REPS = 3
ACTIVITIES_PER_REP = 3

# A refused change (closing a closed deal, …) leaves everything as it was.
REFUSALS = (ValidationError, Conflict)


def crm_changes(*actions: str) -> st.SearchStrategy[list[tuple[str, int, int, int]]]:
    """Up to ten steps, each (action, which rep, which of their records or goals, an amount)."""
    return st.lists(
        st.tuples(
            st.sampled_from(actions),
            st.integers(0, REPS - 1),
            st.integers(0, 5),
            st.integers(1, 5000),
        ),
        min_size=1,
        max_size=10,
    )


def goal_links(goals: int) -> st.SearchStrategy[list[tuple[str, int, int]]]:
    """Up to twelve steps, each ("link", child, parent) or ("unlink", child, _) over `goals`
    goals numbered from 0."""
    return st.lists(
        st.tuples(
            st.sampled_from(["link", "unlink"]),
            st.integers(0, goals - 1),
            st.integers(0, goals - 1),
        ),
        min_size=1,
        max_size=12,
    )


@contextmanager
def rolled_back() -> Iterator[None]:
    """Each example in a savepoint that is undone afterwards, so examples do not pile up."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def link_or_unlink(goals: list[Goal], step: tuple[str, int, int]) -> None:
    """One step of `goal_links` through the services; a refusal (a loop, a tree too deep)
    leaves the tree as it was."""
    action, child, parent = step
    try:
        if action == "link":
            services.goal_link_parent(actor=SETUP, goal_id=goals[child].pk, parent=goals[parent])
        else:
            services.goal_unlink_parent(actor=SETUP, goal_id=goals[child].pk)
    except ValidationError:
        pass


class Sales:
    """Three reps of `team`, each with a customer and planned activities; the deals the steps
    make; the goals `admin_goal` writes to (set them once they exist)."""

    def __init__(self, team: Team) -> None:
        self.reps = [SalesRepFactory(team=team) for _ in range(REPS)]
        self.customers = [CustomerFactory(owner=rep) for rep in self.reps]
        self.activities = [
            [ActivityFactory(rep=rep, customer=None) for _ in range(ACTIVITIES_PER_REP)]
            for rep in self.reps
        ]
        self.deals: list[list[Deal]] = [[] for _ in self.reps]
        self.goals: list[Goal] = []

    def apply(self, step: tuple[str, int, int, int]) -> None:
        """One step of `crm_changes`, as the rep numbered `who` (or an admin) makes it."""
        action, who, which, amount = step
        rep, deals = self.reps[who], self.deals[who]
        deal = deals[which % len(deals)] if deals else None
        activity = self.activities[who][which % ACTIVITIES_PER_REP]
        try:
            if action == "new_deal":
                deals.append(
                    DealFactory(rep=rep, customer=self.customers[who], amount=Decimal(amount))
                )
            elif action in {"win", "lose"} and deal:
                crm.deal_close(actor=rep.user, deal_id=deal.pk, won=action == "win")
            elif action == "reopen" and deal:
                crm.deal_reopen(actor=rep.user, deal_id=deal.pk)
            elif action == "complete":
                crm.activity_complete(actor=rep.user, activity_id=activity.pk)
            elif action == "uncomplete":
                crm.activity_reopen(actor=rep.user, activity_id=activity.pk)
            elif action == "admin_amount" and deal:
                Deal.objects.filter(pk=deal.pk).update(amount=Decimal(amount))
            elif action == "admin_won" and deal:
                Deal.objects.filter(pk=deal.pk).update(
                    stage=DealStage.CLOSED_WON, closed_at=timezone.now()
                )
            elif action == "admin_goal" and self.goals:
                goal = self.goals[which % len(self.goals)]
                Goal.objects.filter(pk=goal.pk).update(current_value=Decimal(amount))
        except REFUSALS:
            pass
