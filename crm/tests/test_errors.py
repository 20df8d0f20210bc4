"""Errors by kind: a conflict is a 409 (in the API) or a message (on pages), a unique value taken
meanwhile is a 409 naming the field, a check constraint a 400 with the rule's message; and the
main writes read their row once (query counts pinned like the reads')."""

from decimal import Decimal

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from crm.api.exceptions import exception_handler
from crm.errors import Conflict, from_integrity_error
from crm.logs import NO_REQUEST, bind_request_id
from crm.models import (
    MAX_QUANTITY,
    PHONE_INVALID,
    Customer,
    Deal,
    RouteStop,
    validate_phone,
)
from crm.testing import error_body
from crm.tests.factories import (
    ActivityFactory,
    CustomerFactory,
    DealFactory,
    RouteStopFactory,
    TaskFactory,
)
from crm.web import ServiceForm, call_service

pytestmark = pytest.mark.django_db


def integrity_error(write) -> IntegrityError:
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        write()
    return caught.value


@pytest.mark.sqlite
def test_a_unique_value_taken_is_a_conflict_naming_the_field(rep):
    CustomerFactory(code="C-1", owner=rep)
    error = from_integrity_error(
        integrity_error(lambda: Customer.objects.create(code="C-1", name="Twin", owner=rep))
    )
    assert isinstance(error, Conflict)
    assert error.fields == ["code"]
    assert error.message == "Customer with this code already exists."


@pytest.mark.sqlite
def test_a_unique_pair_taken_names_both_fields():
    stop = RouteStopFactory()
    error = from_integrity_error(
        integrity_error(
            lambda: RouteStop.objects.create(
                route=stop.route, customer=CustomerFactory(), sequence=stop.sequence
            )
        )
    )
    assert isinstance(error, Conflict)
    assert error.fields == ["route", "sequence"]


@pytest.mark.sqlite
def test_a_check_constraint_is_a_bad_request_with_the_rules_message(rep):
    deal = DealFactory(rep=rep)
    error = from_integrity_error(
        integrity_error(lambda: Deal.objects.filter(pk=deal.pk).update(amount=Decimal("-1")))
    )
    assert error.messages == ["A deal's amount cannot be negative."]


@pytest.mark.sqlite
@pytest.mark.parametrize(
    "phone", ["call me", "12", "600+123", "600 123\n", "٦٠٠١٢٣٤", "+", "600 123 456\x7f"]
)
def test_the_database_refuses_a_phone_no_phone_can_dial_as_the_validator_does(rep, phone):
    customer = CustomerFactory(owner=rep, phone="600 111 222")
    error = from_integrity_error(
        integrity_error(lambda: Customer.objects.filter(pk=customer.pk).update(phone=phone))
    )
    assert error.messages == [PHONE_INVALID]
    with pytest.raises(ValidationError):
        validate_phone(phone)


@pytest.mark.sqlite
@pytest.mark.parametrize("phone", ["", "112", "+34 (600) 12-34.56", "600.123.456", "(0)30 1234"])
def test_the_database_takes_every_phone_the_validator_takes(rep, phone):
    if phone:
        validate_phone(phone)
    customer = CustomerFactory(owner=rep)
    Customer.objects.filter(pk=customer.pk).update(phone=phone)
    customer.refresh_from_db()
    assert customer.phone == phone


@pytest.mark.sqlite
def test_the_database_refuses_a_planned_quantity_above_the_limit():
    stop = RouteStopFactory()
    error = from_integrity_error(
        integrity_error(
            lambda: RouteStop.objects.filter(pk=stop.pk).update(planned_quantity=MAX_QUANTITY + 1)
        )
    )
    assert error.messages == [f"A planned quantity is at most {MAX_QUANTITY:,}."]
    RouteStop.objects.filter(pk=stop.pk).update(planned_quantity=MAX_QUANTITY)


def test_api_answers_a_unique_race_with_409_naming_the_field(admin_api, rep, monkeypatch):
    CustomerFactory(code="C-7", owner=rep)
    # As if another writer committed C-7 between this request's check and its insert.
    monkeypatch.setattr(Customer, "validate_unique", lambda self, exclude=None: None)

    response = admin_api.post("/api/customers/", {"code": "C-7", "name": "Kiosk"}, format="json")

    assert response.status_code == 409
    assert error_body(response) == {
        "detail": "Customer with this code already exists.",
        "fields": ["code"],
    }


def test_api_answers_a_conflict_with_409():
    bind_request_id("conflicting-request")
    response = exception_handler(Conflict("Saved by Ana at 10:02; reload."), {})
    assert response.status_code == 409
    assert response.data == {
        "detail": "Saved by Ana at 10:02; reload.",
        "fields": [],
        "request_id": "conflicting-request",
    }
    bind_request_id(NO_REQUEST)


@pytest.mark.sqlite
def test_pages_show_a_conflict_as_a_form_error():
    class NoteForm(ServiceForm):
        note = forms.CharField()

    def save(**data):
        raise Conflict("Someone saved this meanwhile.")

    form = NoteForm({"note": "x"})
    assert call_service(form, save) is None
    assert form.non_field_errors() == ["Someone saved this meanwhile."]


def test_pages_show_a_unique_race_as_a_form_error(rep):
    CustomerFactory(code="C-9", owner=rep)

    class CustomerForm(ServiceForm):
        code = forms.CharField()

    form = CustomerForm({"code": "C-9"})
    result = call_service(
        form, lambda code: Customer.objects.create(code=code, name="Twin", owner=rep)
    )
    assert result is None
    assert form.non_field_errors() == ["Customer with this code already exists."]


# --- Writes read their row once ----------------------------------------------------------------

# Each write: the caller's role (groups), the locked scoped read with the joins the answer needs,
# the UPDATE, the audit INSERT.
LOCKED_WRITE = 4


@pytest.mark.parametrize(
    ("url", "body", "factory"),
    [
        ("/api/deals/{pk}/close/", {"outcome": "won"}, DealFactory),
        ("/api/deals/{pk}/reopen/", {}, lambda rep: DealFactory(rep=rep, stage="closed_lost")),
        ("/api/activities/{pk}/complete/", {}, ActivityFactory),
        ("/api/tasks/{pk}/", {"status": "done"}, TaskFactory),
        ("/api/customers/{pk}/sign-up/", {}, lambda rep: CustomerFactory(owner=rep)),
    ],
)
def test_main_writes_read_their_row_once(rep, rep_api, assert_queries, url, body, factory):
    record = factory(rep=rep) if factory in (DealFactory, ActivityFactory, TaskFactory) else None
    record = record or factory(rep)
    method = rep_api.patch if url.startswith("/api/tasks/") else rep_api.post

    with assert_queries(LOCKED_WRITE):
        response = method(url.format(pk=record.pk), body, format="json")

    assert response.status_code == 200, response.json()


def test_creating_a_deal_runs_a_fixed_number_of_queries(rep, rep_api, assert_queries):
    customer = CustomerFactory(owner=rep)
    body = {"customer": customer.pk, "title": "T", "amount": "10"}
    # role, customer (scoped), the rep's profile, the customer rule, INSERT, audit
    with assert_queries(6):
        response = rep_api.post("/api/deals/", body, format="json")
    assert response.status_code == 201


# --- Optimistic locking: two people editing one deal --------------------------------------------


def test_a_second_editor_cannot_overwrite_a_deal_saved_meanwhile(rep, supervisor_client):
    from django.urls import reverse

    from crm import services

    deal = DealFactory(rep=rep, title="Ovens")
    url = reverse("deal-edit", args=[deal.pk])
    opened = supervisor_client.get(url).context["form"].initial["expected_version"]
    # The rep saves first, through the same page.
    services.deal_update(actor=rep.user, deal_id=deal.pk, title="Ovens, two units")

    response = supervisor_client.post(
        url,
        {
            "title": "Ovens for the bakery",
            "customer": deal.customer_id,
            "amount": "10",
            "stage": "qualified",
            "rep": rep.pk,
            "expected_version": opened,
        },
    )

    assert response.status_code == 400
    (message,) = response.context["form"].non_field_errors()
    assert message.startswith(f"{rep.user.username} changed this deal at ")
    deal.refresh_from_db()
    assert deal.title == "Ovens, two units"  # nothing the first editor saved is lost


def test_api_refuses_a_stale_version_with_409_and_takes_the_current_one(rep, rep_api):
    deal = DealFactory(rep=rep)
    seen = rep_api.get(f"/api/deals/{deal.pk}/").json()["version"]
    fresh = rep_api.patch(
        f"/api/deals/{deal.pk}/", {"title": "A", "expected_version": seen}, format="json"
    )
    assert fresh.status_code == 200
    assert fresh.json()["version"] != seen

    stale = rep_api.patch(
        f"/api/deals/{deal.pk}/", {"title": "B", "expected_version": seen}, format="json"
    )

    assert stale.status_code == 409
    assert "changed this deal" in stale.json()["detail"]
    deal.refresh_from_db()
    assert deal.title == "A"


def test_the_403_page_is_the_sites_with_a_way_home(rep_client):

    response = rep_client.get("/supervision/")

    content = response.content.decode()
    assert response.status_code == 403
    assert "This page is not for your role" in content
    assert 'class="topbar"' in content  # the site's layout, phone-ready
    assert 'href="/"' in content
