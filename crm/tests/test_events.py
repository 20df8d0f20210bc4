"""After-commit events: each service publishes exactly the facts it changed, only once its
transaction commits, nothing when it rolls back; a failing subscriber never fails the write.
The subscriber here is a test-only one, as a feature app's handlers.py would be."""

import datetime as dt
import logging
from decimal import Decimal

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from crm import events, services
from crm.models import ActivityStatus, CustomerStatus, DealStage, TaskStatus
from crm.roles import SystemActor
from crm.tests.factories import (
    ActivityFactory,
    CustomerFactory,
    DealFactory,
    SalesRepFactory,
    TaskFactory,
)

pytestmark = pytest.mark.django_db

ALL_EVENTS = [
    events.DealWon,
    events.DealReopened,
    events.WonDealChanged,
    events.ActivityCompleted,
    events.ActivityUncompleted,
    events.TaskDone,
    events.TaskUndone,
    events.CustomerSignedUp,
    events.CustomerSignUpUndone,
]


@pytest.fixture
def received():
    """What a subscriber of every event type receives."""
    seen: list[events.Event] = []

    @events.subscribe(*ALL_EVENTS)
    def record(event):
        seen.append(event)

    yield seen
    events.unsubscribe(record)


def test_deal_won_is_published_after_commit_with_ids_and_time(
    rep, received, django_capture_on_commit_callbacks
):
    deal = DealFactory(rep=rep, amount=Decimal("1250.50"))
    with django_capture_on_commit_callbacks() as callbacks:
        services.deal_close(actor=rep.user, deal_id=deal.pk, won=True)
        assert received == []  # not before the commit

    for callback in callbacks:
        callback()
    deal.refresh_from_db()
    assert received == [
        events.DealWon(
            deal_id=deal.pk, rep_id=rep.pk, amount=Decimal("1250.50"), closed_at=deal.closed_at
        )
    ]


def test_nothing_is_published_when_the_write_rolls_back(rep, received):
    deal = DealFactory(rep=rep)

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        services.deal_close(actor=rep.user, deal_id=deal.pk, won=True)
        raise Abort

    # pytest-django's test transaction never commits: run what would run at commit now.
    connection_callbacks = transaction.get_connection().run_on_commit
    assert connection_callbacks == []
    assert received == []


@pytest.mark.parametrize(
    ("act", "expected"),
    [
        ("deal_lost", []),
        ("deal_won", [events.DealWon]),
        ("deal_reopened_after_win", [events.DealReopened]),
        ("deal_reopened_after_loss", []),
        ("deal_updated", []),
        ("activity_completed", [events.ActivityCompleted]),
        ("activity_cancelled", []),
        ("activity_reopened_after_completion", [events.ActivityUncompleted]),
        ("task_done", [events.TaskDone]),
        ("task_done_again", []),
        ("task_undone", [events.TaskUndone]),
        ("customer_signed_up", [events.CustomerSignedUp]),
        ("customer_created", []),
        ("activity_created", []),
    ],
)
def test_each_service_publishes_exactly_its_events(
    rep, received, django_capture_on_commit_callbacks, act, expected
):
    user = rep.user
    won = DealFactory(rep=rep, stage=DealStage.CLOSED_WON)
    lost = DealFactory(rep=rep, stage=DealStage.CLOSED_LOST)
    open_deal = DealFactory(rep=rep)
    planned = ActivityFactory(rep=rep)
    completed = ActivityFactory(
        rep=rep, status=ActivityStatus.COMPLETED, completed_at=timezone.now()
    )
    open_task = TaskFactory(rep=rep)
    done_task = TaskFactory(rep=rep, status=TaskStatus.DONE, completed_at=timezone.now())
    prospect = CustomerFactory(owner=rep)
    actions = {
        "deal_lost": lambda: services.deal_close(actor=user, deal_id=open_deal.pk, won=False),
        "deal_won": lambda: services.deal_close(actor=user, deal_id=open_deal.pk, won=True),
        "deal_reopened_after_win": lambda: services.deal_reopen(actor=user, deal_id=won.pk),
        "deal_reopened_after_loss": lambda: services.deal_reopen(actor=user, deal_id=lost.pk),
        "deal_updated": lambda: services.deal_update(
            actor=user, deal_id=open_deal.pk, amount=Decimal("5")
        ),
        "activity_completed": lambda: services.activity_complete(
            actor=user, activity_id=planned.pk
        ),
        "activity_cancelled": lambda: services.activity_cancel(actor=user, activity_id=planned.pk),
        "activity_reopened_after_completion": lambda: services.activity_reopen(
            actor=user, activity_id=completed.pk
        ),
        "task_done": lambda: services.task_set_done(actor=user, task_id=open_task.pk, done=True),
        "task_done_again": lambda: services.task_set_done(
            actor=user, task_id=done_task.pk, done=True
        ),
        "task_undone": lambda: services.task_set_done(actor=user, task_id=done_task.pk, done=False),
        "customer_signed_up": lambda: services.customer_sign_up(
            actor=user, customer_id=prospect.pk
        ),
        "customer_created": lambda: services.customer_create(actor=user, code="N1", name="New"),
        "activity_created": lambda: services.activity_create(
            actor=user, kind="call", due_at=timezone.now()
        ),
    }

    with django_capture_on_commit_callbacks(execute=True):
        actions[act]()

    assert [type(event) for event in received] == expected
    assert all(getattr(event, "rep_id", rep.pk) == rep.pk for event in received)


def test_a_failing_subscriber_does_not_fail_the_write(
    rep, received, django_capture_on_commit_callbacks, caplog
):
    @events.subscribe(events.DealWon)
    def broken(event):
        raise RuntimeError("subscriber down")

    deal = DealFactory(rep=rep)
    try:
        with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
            closed = services.deal_close(actor=rep.user, deal_id=deal.pk, won=True)
    finally:
        events.unsubscribe(broken)

    assert closed.stage == DealStage.CLOSED_WON
    deal.refresh_from_db()
    assert deal.stage == DealStage.CLOSED_WON
    assert [type(event) for event in received] == [events.DealWon]  # the others still ran
    assert "broken(DealWon)" in caplog.text
    assert "subscriber down" in caplog.text


def test_a_job_acting_by_name_publishes_the_same_events(
    rep, received, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(owner=rep)
    with django_capture_on_commit_callbacks(execute=True):
        services.customer_sign_up(actor=SystemActor("job:import"), customer_id=customer.pk)
    assert [type(event) for event in received] == [events.CustomerSignedUp]


# --- Django admin corrections -----------------------------------------------------------------


def _admin_deal_data(deal, **overrides) -> dict:
    closed = timezone.localtime(deal.closed_at) if deal.closed_at else None
    return {
        "customer": deal.customer_id,
        "rep": deal.rep_id,
        "title": deal.title,
        "amount": str(deal.amount),
        "stage": deal.stage,
        "closed_at_0": closed.strftime("%Y-%m-%d") if closed else "",
        "closed_at_1": closed.strftime("%H:%M:%S") if closed else "",
        **overrides,
    }


def test_admin_correcting_a_won_deal_publishes_the_change(
    admin_client, rep, received, django_capture_on_commit_callbacks
):
    deal = DealFactory(rep=rep, stage=DealStage.CLOSED_WON, amount=Decimal("100.00"))

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:crm_deal_change", args=[deal.pk]),
            _admin_deal_data(deal, amount="250.00"),
        )

    assert response.status_code == 302, response.content.decode()[:3000]
    (event,) = received
    assert isinstance(event, events.WonDealChanged)
    assert (event.previous_amount, event.amount) == (Decimal("100.00"), Decimal("250.00"))


def test_admin_deleting_a_won_deal_withdraws_it(
    admin_client, rep, received, django_capture_on_commit_callbacks
):
    deal = DealFactory(rep=rep, stage=DealStage.CLOSED_WON)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:crm_deal_delete", args=[deal.pk]), {"post": "yes"}
        )

    assert response.status_code == 302
    assert [type(event) for event in received] == [events.DealReopened]
    assert received[0].deal_id == deal.pk


def test_admin_moving_a_signup_to_another_rep_moves_the_fact(
    admin_client, rep, received, django_capture_on_commit_callbacks
):
    other = SalesRepFactory(team=rep.team)
    customer = CustomerFactory(
        owner=rep,
        status=CustomerStatus.ACTIVE,
        signed_up_at=dt.datetime(2026, 10, 3, 12, tzinfo=dt.UTC),
    )
    local = timezone.localtime(customer.signed_up_at)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:crm_customer_change", args=[customer.pk]),
            {
                "name": customer.name,
                "code": customer.code,
                "address": customer.address,
                "owner": other.pk,
                "status": customer.status,
                "signed_up_at_0": local.strftime("%Y-%m-%d"),
                "signed_up_at_1": local.strftime("%H:%M:%S"),
            },
        )

    assert response.status_code == 302, response.content.decode()[:3000]
    assert [(type(e), e.rep_id) for e in received] == [
        (events.CustomerSignUpUndone, rep.pk),
        (events.CustomerSignedUp, other.pk),
    ]


def test_admin_keeps_the_rule_that_a_deals_customer_is_its_reps(
    admin_client, rep, other_rep, received
):
    deal = DealFactory(rep=rep)
    foreign = CustomerFactory(owner=other_rep)

    response = admin_client.post(
        reverse("admin:crm_deal_change", args=[deal.pk]),
        _admin_deal_data(deal, customer=foreign.pk),
    )

    assert response.status_code == 200  # the form again, with the error
    assert services.CUSTOMER_OF_ANOTHER_REP in response.content.decode()
    deal.refresh_from_db()
    assert deal.customer_id != foreign.pk
