"""How many statements each write of the core runs (crm.services, crm.jobs.services), pinned:
a write runs a fixed number whatever the number of rows it touches, and a new write cannot go
unpinned. Counted as a request runs them: the actor read afresh (nothing cached on it), the
savepoints left out; what subscribers do after the commit is theirs, not the write's (the
tests' transaction never commits)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from crm import services
from crm.idempotency import services as idempotency_services
from crm.idempotency.models import KEPT_FOR, IdempotencyKey
from crm.jobs import services as jobs_services
from crm.jobs.models import DeadLetter
from crm.models import ActivityKind, ActivityOutcome, ActivityStatus, Deal, DealStage
from crm.switches import services as switch_services
from crm.testing import fresh, pins, unpinned
from crm.tests.factories import (
    ActivityFactory,
    CustomerFactory,
    DealFactory,
    RouteFactory,
    SalesRepFactory,
    TaskFactory,
)

pytestmark = pytest.mark.django_db

# The functions of the services modules that write nothing: checks the pages ask first, reads,
# and what the writes share.
NOT_WRITES = {
    services: {
        "check_customer_of_rep", "deal_edit_refusal", "activity_completion_refusal",
        "new_customer_codes", "fact_of", "publish_fact_change",
    },
    jobs_services: set(),
    switch_services: set(),
    idempotency_services: set(),
}  # fmt: skip
SIZES = [2, 25]


@pytest.mark.parametrize("module", NOT_WRITES, ids=lambda module: module.__name__)
def test_every_write_of_the_core_is_pinned(module):
    assert unpinned(module, tests=globals(), not_writes=NOT_WRITES[module]) == []


# --- One row of the actor's: deals, activities, tasks, customers ---------------------------------

# The writes of a row the actor reads in their scope, locked: the actor's role, the row (with
# the joins the answer needs); the update, its audit. Each: the row, then the write of it.
LOCKED_WRITES = {
    services.deal_update: (
        lambda rep: DealFactory(rep=rep),
        lambda actor, deal: services.deal_update(
            actor=actor, deal_id=deal.pk, title="More flour", amount=Decimal(120),
            expected_version=deal.version,
        ),
    ),
    services.deal_close: (
        lambda rep: DealFactory(rep=rep),
        lambda actor, deal: services.deal_close(actor=actor, deal_id=deal.pk, won=True),
    ),
    services.deal_reopen: (
        lambda rep: DealFactory(rep=rep, stage=DealStage.CLOSED_WON),
        lambda actor, deal: services.deal_reopen(actor=actor, deal_id=deal.pk),
    ),
    services.activity_complete: (
        lambda rep: ActivityFactory(rep=rep),
        lambda actor, activity: services.activity_complete(
            actor=actor, activity_id=activity.pk, outcome=ActivityOutcome.INTERESTED
        ),
    ),
    services.activity_cancel: (
        lambda rep: ActivityFactory(rep=rep),
        lambda actor, activity: services.activity_cancel(actor=actor, activity_id=activity.pk),
    ),
    services.activity_reopen: (
        lambda rep: ActivityFactory(
            rep=rep, status=ActivityStatus.COMPLETED, completed_at=timezone.now()
        ),
        lambda actor, activity: services.activity_reopen(actor=actor, activity_id=activity.pk),
    ),
    services.task_set_done: (
        lambda rep: TaskFactory(rep=rep),
        lambda actor, task: services.task_set_done(actor=actor, task_id=task.pk, done=True),
    ),
    services.customer_sign_up: (
        lambda rep: CustomerFactory(owner=rep),
        lambda actor, customer: services.customer_sign_up(actor=actor, customer_id=customer.pk),
    ),
}  # fmt: skip


@pins(*LOCKED_WRITES)
@pytest.mark.parametrize("service", LOCKED_WRITES, ids=lambda service: service.__name__)
def test_a_write_of_one_row_of_the_actors(rep, service, assert_queries):
    make, write = LOCKED_WRITES[service]
    row = make(rep)
    actor = fresh(rep.user)

    with assert_queries(4):
        write(actor, row)


@pins(services.customer_update)
def test_changing_a_customers_details(rep, assert_queries):
    customer = CustomerFactory(owner=rep)
    actor = fresh(rep.user)

    # the row's writes (above), and its code checked still its own
    with assert_queries(5):
        services.customer_update(actor=actor, customer_id=customer.pk, contact_name="Alba")


# --- New rows of the actor's ---------------------------------------------------------------------


@pins(services.deal_create)
def test_creating_a_deal(rep, assert_queries):
    customer = CustomerFactory(owner=rep)
    actor = fresh(rep.user)

    # the actor's role, their rep profile; the customer in their scope; the deal, its audit
    with assert_queries(5):
        services.deal_create(actor=actor, customer=customer, title="Flour", amount=Decimal(90))


@pins(services.activity_create)
def test_logging_a_visit(rep, assert_queries):
    customer = CustomerFactory(owner=rep)
    actor = fresh(rep.user)

    # the actor's role, their rep profile; the customer in their scope; the activity, its audit
    with assert_queries(5):
        services.activity_create(
            actor=actor, kind=ActivityKind.VISIT, customer=customer, done=True,
            due_at=timezone.now() - dt.timedelta(hours=1), outcome=ActivityOutcome.ORDERED,
        )  # fmt: skip


@pins(services.task_create)
def test_creating_a_task(rep, assert_queries):
    actor = fresh(rep.user)

    # the actor's role, their rep profile; the task, its audit
    with assert_queries(4):
        services.task_create(actor=actor, title="Call the bakery")


@pins(services.customer_create)
def test_adding_a_customer_under_a_code_made_up(rep, assert_queries):
    actor = fresh(rep.user)

    # the actor's role, their rep profile; which of five codes are free; the customer, its audit
    with assert_queries(5):
        services.customer_create(actor=actor, name="Bakery Alba", phone="+34 600 000 000")


# --- Routes --------------------------------------------------------------------------------------


@pins(services.route_stop_add)
def test_adding_a_stop_to_a_route(supervisor, rep, assert_queries):
    route = RouteFactory(rep=rep)
    customer = CustomerFactory(owner=rep)
    actor = fresh(supervisor)

    # the actor's role, the route in their scope (locked), the customer in it, the stops that
    # take its number or customer; the stop, its audit
    with assert_queries(6):
        services.route_stop_add(actor=actor, route_id=route.pk, customer=customer, sequence=1)


# --- Corrections from Django admin ---------------------------------------------------------------


@pins(services.rep_save_from_admin)
def test_an_admin_saving_a_rep(admin_user, rep, assert_queries):
    rep.active = False

    # was the rep active; the rep, the audit
    with assert_queries(3):
        services.rep_save_from_admin(actor=admin_user, rep=rep, changed=["active"], adding=False)


@pins(services.record_save_from_admin)
@pytest.mark.parametrize("rows", SIZES)
def test_an_admin_handing_a_customer_over_with_its_open_work(admin_user, rep, rows, assert_queries):
    customer = CustomerFactory(owner=rep)
    DealFactory.create_batch(rows, rep=rep, customer=customer)
    ActivityFactory.create_batch(rows, rep=rep, customer=customer)
    customer.owner = SalesRepFactory(team=rep.team)

    # the customer as stored (locked), the save; its open deals and planned activities, read
    # then handed over (one statement each), audited at once; the customer's audit
    with assert_queries(8):
        services.record_save_from_admin(
            actor=admin_user, record=customer, changed=["owner"], adding=False
        )


@pins(services.records_delete_from_admin)
@pytest.mark.parametrize("rows", SIZES)
def test_an_admin_deleting_deals(admin_user, rep, rows, assert_queries):
    DealFactory.create_batch(rows, rep=rep, stage=DealStage.CLOSED_WON)
    deals = list(Deal.objects.all())

    # the audit; the deletion
    with assert_queries(2):
        services.records_delete_from_admin(actor=admin_user, records=deals)


# --- The job platform ----------------------------------------------------------------------------


@pins(jobs_services.heartbeat_record)
def test_recording_a_heartbeat(assert_queries):
    jobs_services.heartbeat_record(component="worker")

    # the heartbeat (locked), its update
    with assert_queries(2):
        jobs_services.heartbeat_record(component="worker")


@pins(jobs_services.dead_letter_record)
def test_recording_a_task_that_failed_again(assert_queries):
    failure = {"task_name": "crm.jobs.run_job_task", "args": ["prune_job_runs"], "kwargs": {}}
    jobs_services.dead_letter_record(**failure, error="Timed out")

    # the letter, its update, the letter read again
    with assert_queries(3):
        jobs_services.dead_letter_record(**failure, error="Timed out again")


@pins(jobs_services.dead_letters_retry)
@pytest.mark.parametrize("rows", SIZES)
def test_sending_dead_letters_again(admin_user, rows, assert_queries):
    import redis
    from django.conf import settings

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    for number in range(rows):
        jobs_services.dead_letter_record(
            task_name="crm.jobs.run_job_task", args=[f"job{number}"], kwargs={}, error="E"
        )

    try:
        # the letters locked, their claim in one update, the audit in one insert
        with assert_queries(3):
            jobs_services.dead_letters_retry(letters=DeadLetter.objects.all(), actor=admin_user)
    finally:
        broker.delete("celery")


@pins(jobs_services.dead_letters_act)
@pytest.mark.parametrize("rows", SIZES)
def test_discarding_a_tasks_dead_letters(admin_user, rows, assert_queries):
    for number in range(rows):
        jobs_services.dead_letter_record(
            task_name="crm.tests.gone", args=[number], kwargs={}, error="E"
        )
    actor = fresh(admin_user)

    # the letters locked, their audit in one insert, the delete (an administrator by flag: the
    # policy reads nothing)
    with assert_queries(3):
        jobs_services.dead_letters_act(actor=actor, task_name="crm.tests.gone", action="discard")


@pins(switch_services.switch_set)
def test_flipping_a_switch(admin_user, assert_queries):
    actor = fresh(admin_user)
    # the switch locked (made the first time: read, insert), its update, the audit
    with assert_queries(4):
        switch_services.switch_set(
            actor=actor, area="goals", jobs_paused=True, offline=False, reason="Recounting."
        )


@pins(switch_services.ratelimit_reset)
def test_resetting_the_rate_limits(admin_user, assert_queries):
    actor = fresh(admin_user)
    # the audit
    with assert_queries(1):
        switch_services.ratelimit_reset(actor=actor, reason="The burst is over.")


@pins(idempotency_services.idempotency_keys_purge)
@pytest.mark.parametrize("rows", SIZES)
def test_purging_the_api_idempotency_keys(rep, rows, assert_queries):
    old = timezone.now() - KEPT_FOR - dt.timedelta(minutes=1)
    IdempotencyKey.objects.bulk_create(
        IdempotencyKey(user=rep.user, key=f"k{number}", method="POST", path="/api/deals/",
                       body_sha256="0" * 64, status=201, created_at=old)
        for number in range(rows)
    )  # fmt: skip
    # one delete, on the creation date's index
    with assert_queries(1):
        assert idempotency_services.idempotency_keys_purge() == rows
