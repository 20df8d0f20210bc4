from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from crm import roles, services
from crm.models import ActivityStatus, AuditEntry, CustomerStatus, DealStage
from crm.tests.factories import ActivityFactory, CustomerFactory, DealFactory, UserFactory


@pytest.mark.sqlite
@pytest.mark.django_db
def test_deal_close_sets_closed_at_and_writes_an_audit_entry(rep):
    deal = DealFactory(rep=rep)
    services.deal_close(actor=rep.user, deal_id=deal.pk, won=True)
    deal.refresh_from_db()
    assert deal.stage == DealStage.CLOSED_WON
    assert deal.closed_at is not None
    entry = AuditEntry.objects.get(action="deal.close")
    assert entry.actor == rep.user
    assert entry.changes == {"stage": "closed_won"}


@pytest.mark.django_db
def test_closed_deal_cannot_be_edited(rep):
    deal = DealFactory(rep=rep, stage=DealStage.CLOSED_LOST)
    with pytest.raises(ValidationError) as error:
        services.deal_update(actor=rep.user, deal_id=deal.pk, title="new")
    assert error.value.messages == [services.DEAL_ALREADY_CLOSED]


@pytest.mark.django_db
def test_admin_must_name_the_rep(admin_user, rep):
    with pytest.raises(ValidationError) as error:
        services.deal_create(
            actor=admin_user, customer=CustomerFactory(owner=rep), title="T", amount=Decimal(1)
        )
    assert error.value.message_dict == {"rep": [roles.REP_REQUIRED]}


@pytest.mark.django_db
def test_user_without_rep_profile_cannot_create_as_rep(db):
    user = UserFactory(groups=["rep"])
    with pytest.raises(PermissionDenied):
        services.task_create(actor=user, title="T")


@pytest.mark.django_db
def test_sign_up_turns_a_prospect_into_an_active_customer(rep):
    customer = CustomerFactory(owner=rep)
    services.customer_sign_up(actor=rep.user, customer_id=customer.pk)
    customer.refresh_from_db()
    assert customer.status == CustomerStatus.ACTIVE
    assert customer.signed_up_at is not None


@pytest.mark.django_db
def test_only_admins_may_add_an_unassigned_prospect(supervisor, admin_user):
    with pytest.raises(ValidationError) as error:
        services.customer_create(actor=supervisor, code="X1", name="Kiosk")
    assert error.value.message_dict == {"owner": [roles.OWNER_REQUIRED]}
    customer = services.customer_create(actor=admin_user, code="X1", name="Kiosk")
    assert customer.owner is None
    assert customer.status == CustomerStatus.PROSPECT


@pytest.mark.django_db
def test_only_planned_activities_can_be_cancelled(rep):
    activity = ActivityFactory(rep=rep)
    services.activity_cancel(actor=rep.user, activity_id=activity.pk)
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.CANCELLED
    with pytest.raises(ValidationError):
        services.activity_complete(actor=rep.user, activity_id=activity.pk)


@pytest.mark.django_db
def test_editing_a_stale_copy_of_a_deal_closed_meanwhile_is_refused(rep):
    stale = DealFactory(rep=rep)
    services.deal_close(actor=rep.user, deal_id=stale.pk, won=True)
    with pytest.raises(ValidationError) as error:
        services.deal_update(actor=rep.user, deal_id=stale.pk, title="renamed")
    assert error.value.messages == [services.DEAL_ALREADY_CLOSED]
    stale.refresh_from_db()
    assert stale.stage == DealStage.CLOSED_WON
    assert stale.closed_at is not None


@pytest.mark.django_db
def test_deal_update_writes_only_the_changed_fields_and_audits_ids(rep):
    deal = DealFactory(rep=rep, title="Old")
    other_customer = CustomerFactory(owner=rep)
    services.deal_update(actor=rep.user, deal_id=deal.pk, title="New", customer=other_customer)
    entry = AuditEntry.objects.get(action="deal.update")
    assert entry.changes["title"] == ["Old", "New"]
    assert entry.changes["customer"][1] == other_customer.pk


@pytest.mark.django_db
def test_services_refuse_records_outside_the_actors_scope(rep, other_rep):
    foreign = DealFactory(rep=other_rep)
    with pytest.raises(Http404):
        services.deal_close(actor=rep.user, deal_id=foreign.pk, won=True)
    foreign.refresh_from_db()
    assert foreign.stage == DealStage.PROSPECTING


@pytest.mark.django_db
def test_marking_a_done_task_done_again_keeps_its_completion_time(rep):
    task = services.task_create(actor=rep.user, title="Call back")
    first = services.task_set_done(actor=rep.user, task_id=task.pk, done=True).completed_at
    again = services.task_set_done(actor=rep.user, task_id=task.pk, done=True)
    assert again.completed_at == first
    assert AuditEntry.objects.filter(action="task.done").count() == 1
