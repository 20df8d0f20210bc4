import pytest
from django.contrib import admin
from django.urls import reverse

from crm.jobs import services as jobs_services
from crm.tests.factories import ActivityFactory, DealFactory, RouteStopFactory, TaskFactory


@pytest.fixture
def some_data(rep):
    DealFactory(rep=rep)
    ActivityFactory(rep=rep)
    TaskFactory(rep=rep)
    RouteStopFactory(route__rep=rep)
    jobs_services.dead_letter_record(task_name="t", args=[1], kwargs={}, error="E")


@pytest.mark.django_db
def test_every_crm_model_has_a_working_admin(admin_client, some_data):
    crm_models = [model for model in admin.site._registry if model._meta.app_label == "crm"]
    assert len(crm_models) >= 13
    for model in crm_models:
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        assert admin_client.get(changelist).status_code == 200, changelist
        assert admin_client.get(changelist, {"q": "x"}).status_code == 200, changelist
        first = model.objects.first()
        if first is not None:
            change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk])
            assert admin_client.get(change).status_code == 200, change


@pytest.mark.django_db
@pytest.mark.parametrize("rows", [2, 22])
def test_changelist_query_count_does_not_grow_with_rows(admin_client, rep, rows, assert_queries):
    DealFactory.create_batch(rows, rep=rep)

    # session, user, the user's zone, the team filter's choices, counts (filtered, all), page,
    # the date hierarchy's range and its days
    with assert_queries(9):
        admin_client.get(reverse("admin:crm_deal_changelist"))


@pytest.mark.django_db
def test_rep_cannot_open_django_admin(rep_client):
    response = rep_client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_admin_edits_leave_an_audit_entry(admin_user, admin_client, rep):
    from crm.models import AuditEntry, Deal

    deal = DealFactory(rep=rep, title="Old")
    url = reverse("admin:crm_deal_change", args=[deal.pk])
    data = {
        "customer": deal.customer_id,
        "rep": rep.pk,
        "title": "Renamed",
        "amount": "10.00",
        "stage": "prospecting",
        "closed_at_0": "",
        "closed_at_1": "",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Deal.objects.get(pk=deal.pk).title == "Renamed"
    entry = AuditEntry.objects.get(action="admin.change", target_id=str(deal.pk))
    assert entry.actor == admin_user
    assert entry.changes["title"] == "Renamed"


@pytest.mark.django_db
def test_reassigning_a_customer_in_admin_hands_over_its_open_work(admin_client, rep):
    from django.utils import timezone

    from crm.models import Activity, AuditEntry, Deal
    from crm.tests.factories import CustomerFactory, SalesRepFactory

    teammate = SalesRepFactory(team=rep.team)
    customer = CustomerFactory(owner=rep)
    open_deal = DealFactory(rep=rep, customer=customer)
    won_deal = DealFactory(rep=rep, customer=customer, stage="closed_won")
    planned = ActivityFactory(rep=rep, customer=customer)
    done = ActivityFactory(
        rep=rep, customer=customer, status="completed", completed_at=timezone.now()
    )

    response = admin_client.post(
        reverse("admin:crm_customer_change", args=[customer.pk]),
        {
            "name": customer.name,
            "code": customer.code,
            "address": customer.address,
            "owner": teammate.pk,
            "status": "prospect",
            "signed_up_at_0": "",
            "signed_up_at_1": "",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert Deal.objects.get(pk=open_deal.pk).rep == teammate
    assert Activity.objects.get(pk=planned.pk).rep == teammate
    # What was won or done stays with who did it.
    assert Deal.objects.get(pk=won_deal.pk).rep == rep
    assert Activity.objects.get(pk=done.pk).rep == rep
    assert AuditEntry.objects.filter(action="customer.hand_over").count() == 2
