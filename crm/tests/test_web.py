"""The page building blocks of crm.web that the list pages' tests do not reach one by one: the
page that holds a row, found by counting the rows that sort before it, in every ordering the
lists offer, NULLs and ties included, on PostgreSQL and SQLite alike."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from crm import selectors
from crm.models import ActivityStatus, Deal, DealStage, TaskStatus
from crm.testing import statements
from crm.tests.factories import ActivityFactory, CustomerFactory, DealFactory, TaskFactory
from crm.web import page_of

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


def _deals(rep) -> None:
    customer = CustomerFactory(owner=rep)
    for index, (amount, stage) in enumerate(
        [(500, "prospecting"), (500, "closed_won"), (900, "closed_lost"), (500, "proposal"),
         (100, "closed_won"), (900, "qualified"), (100, "prospecting")]
    ):  # fmt: skip
        DealFactory(
            rep=rep, customer=customer, amount=Decimal(amount), stage=stage,
            closed_at=NOW - dt.timedelta(days=index % 2) if stage in DealStage.closed() else None,
        )  # fmt: skip
    # Two created at the same moment: the id breaks the tie.
    Deal.objects.filter(pk__in=Deal.objects.order_by("pk").values("pk")[:2]).update(created_at=NOW)


def _activities(rep) -> None:
    for index, status in enumerate(
        ["planned", "completed", "planned", "cancelled", "completed", "planned", "completed"]
    ):
        ActivityFactory(
            rep=rep, status=status, due_at=NOW + dt.timedelta(days=index % 3 - 1),
            completed_at=NOW - dt.timedelta(hours=index % 2) if status == "completed" else None,
        )  # fmt: skip


def _tasks(rep) -> None:
    for index, status in enumerate(["open", "done", "open", "open", "done", "open"]):
        due = None if index % 3 == 0 else NOW + dt.timedelta(days=index % 2)
        TaskFactory(
            rep=rep, status=status, due_at=due,
            completed_at=NOW - dt.timedelta(hours=index) if status == TaskStatus.DONE else None,
        )  # fmt: skip


LISTS = {
    "deals": (_deals, selectors.deal_list, selectors.DEAL_ORDERINGS),
    "activities": (_activities, selectors.activity_list, selectors.ACTIVITY_ORDERINGS),
    "tasks": (_tasks, selectors.task_list, selectors.TASK_ORDERINGS),
}


@pytest.mark.sqlite
@pytest.mark.parametrize("name", list(LISTS))
def test_a_rows_page_is_the_count_of_the_rows_before_it_in_every_ordering(rep, name):
    make, selector, orderings = LISTS[name]
    make(rep)

    for key in orderings:
        rows = selector(user=rep.user, ordering=key)
        ids = list(rows.values_list("pk", flat=True))
        assert [page_of(rows, pk, per_page=1) for pk in ids] == list(range(1, len(ids) + 1)), key
        assert [page_of(rows, pk, per_page=3) for pk in ids] == [
            i // 3 + 1 for i in range(len(ids))
        ]


def test_a_row_outside_the_list_has_no_page(rep, other_rep):
    TaskFactory(rep=rep)
    elsewhere = TaskFactory(rep=other_rep)

    assert page_of(selectors.task_list(user=rep.user), elsewhere.pk) is None
    assert page_of(selectors.task_list(user=rep.user), 10**12) is None


@pytest.mark.parametrize("name", list(LISTS))
def test_finding_a_rows_page_numbers_no_rows_and_sorts_nothing(rep, name, assert_queries):
    make, selector, _ = LISTS[name]
    make(rep)
    rows = selector(user=rep.user)
    last = rows.model.objects.order_by("-pk").first()

    with assert_queries(2) as queries:  # the row's sort keys, then how many rows sort before it
        page_of(rows, last.pk)

    for sql in statements(queries):
        assert "OVER" not in sql and "ORDER BY" not in sql, sql


def test_a_list_sorted_by_expressions_is_counted_with_the_same_expressions(rep):
    # The activities' default: planned first, soonest due first; then the rest, the latest
    # first. A new planned activity due tomorrow comes after those due today.
    today = [ActivityFactory(rep=rep, due_at=NOW + dt.timedelta(hours=h)) for h in (1, 2)]
    ActivityFactory(rep=rep, status=ActivityStatus.COMPLETED, due_at=NOW, completed_at=NOW)
    tomorrow = ActivityFactory(rep=rep, due_at=NOW + dt.timedelta(days=1))

    rows = selectors.activity_list(user=rep.user)

    assert list(rows)[: len(today) + 1] == [*today, tomorrow]
    assert page_of(rows, tomorrow.pk, per_page=2) == 2
