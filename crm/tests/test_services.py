import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from crm import events, roles, services
from crm.errors import Conflict
from crm.models import (
    MAX_QUANTITY,
    PHONE_INVALID,
    Activity,
    ActivityKind,
    ActivityOutcome,
    ActivityStatus,
    AuditEntry,
    Customer,
    CustomerStatus,
    DealStage,
)
from crm.periods import format_moment
from crm.tests.factories import (
    ActivityFactory,
    CustomerFactory,
    DealFactory,
    RouteFactory,
    UserFactory,
)


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


# --- The reps' everyday journeys -----------------------------------------------------------


@pytest.fixture
def published():
    """The events the core publishes (delivered at once: tests run inside one transaction,
    so they are captured and run by hand)."""
    seen: list[events.Event] = []

    @events.subscribe(
        events.CustomerSignedUp, events.DealReopened, events.ActivityCompleted, events.DealWon
    )
    def record(event):
        seen.append(event)

    yield seen
    events.unsubscribe(record)


def run(callbacks) -> None:
    for callback in callbacks:
        callback()


@pytest.mark.sqlite
def test_a_customer_added_without_a_code_gets_a_new_unique_one(rep):
    first = services.customer_create(actor=rep.user, name="Kiosk")
    second = services.customer_create(actor=rep.user, name="Kiosk", code="")

    assert first.code != second.code
    for code in (first.code, second.code):
        assert code.startswith("C-") and len(code) == 8
        assert set(code[2:]) <= set(services.CUSTOMER_CODE_CHARACTERS)
    entry = AuditEntry.objects.get(action="customer.create", target_id=str(first.pk))
    assert entry.changes == {"code": first.code}


def test_a_generated_code_skips_codes_already_taken(rep, monkeypatch):
    CustomerFactory(code="C-AAAAAA")
    draws = iter("A" * 6 + "B" * 6 + "C" * 18)
    monkeypatch.setattr(services.secrets, "choice", lambda characters: next(draws))

    assert services.new_customer_codes() == ["C-BBBBBB"] + ["C-CCCCCC"] * 3


def test_when_every_code_drawn_is_taken_the_service_draws_again(rep, monkeypatch):
    CustomerFactory(code="C-AAAAAA")
    draws = iter("A" * 30 + "B" * 30)  # five codes taken, then five free ones
    monkeypatch.setattr(services.secrets, "choice", lambda characters: next(draws))

    customer = services.customer_create(actor=rep.user, name="Kiosk")

    assert customer.code == "C-BBBBBB"


@pytest.mark.sqlite
def test_a_code_taken_meanwhile_is_no_conflict_the_service_takes_the_next(rep, monkeypatch):
    # Another writer takes C-AAAAAA between this one's look-up and its insert.
    CustomerFactory(code="C-AAAAAA")
    looked_up = iter([["C-AAAAAA", "C-BBBBBB"]])
    monkeypatch.setattr(services, "new_customer_codes", lambda: next(looked_up))

    customer = services.customer_create(actor=rep.user, name="Kiosk")

    assert customer.code == "C-BBBBBB"
    assert Customer.objects.filter(name="Kiosk").count() == 1
    entry = AuditEntry.objects.get(action="customer.create", target_id=str(customer.pk))
    assert entry.changes == {"code": "C-BBBBBB"}


def test_when_no_code_can_be_made_up_the_user_is_asked_for_one(rep, monkeypatch):
    CustomerFactory(code="C-AAAAAA")
    monkeypatch.setattr(services, "new_customer_codes", lambda: ["C-AAAAAA"])

    with pytest.raises(ValidationError) as refused:
        services.customer_create(actor=rep.user, name="Kiosk")

    assert refused.value.message_dict == {"code": [services.CUSTOMER_CODES_TAKEN]}
    assert not Customer.objects.filter(name="Kiosk").exists()


def test_a_customer_code_given_is_kept_and_must_be_unique(rep):
    CustomerFactory(code="BAR-1")

    kept = services.customer_create(actor=rep.user, name="Bar Sol", code="BAR-2")
    with pytest.raises(ValidationError) as error:
        services.customer_create(actor=rep.user, name="Bar Luna", code="BAR-1")

    assert kept.code == "BAR-2"
    assert "code" in error.value.message_dict


def test_a_new_customer_keeps_how_to_reach_them(rep):
    customer = services.customer_create(
        actor=rep.user,
        name="Bar Sol",
        contact_name="Rosa Vidal",
        phone="+34 (600) 12-34.56",
        email="rosa@bar.example",
        address="Calle Mayor 1",
    )

    customer.refresh_from_db()
    assert (customer.contact_name, customer.phone, customer.email) == (
        "Rosa Vidal",
        "+34 (600) 12-34.56",
        "rosa@bar.example",
    )
    assert customer.phone_link == "tel:+34600123456"
    assert customer.map_link == ("https://www.google.com/maps/search/?api=1&query=Calle+Mayor+1")
    assert customer.owner == rep and customer.status == CustomerStatus.PROSPECT


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "call me", PHONE_INVALID),
        ("phone", "12", PHONE_INVALID),
        ("phone", "600+123", PHONE_INVALID),
        ("phone", "٦٠٠١٢٣٤", PHONE_INVALID),  # digits, but not ASCII ones
        ("email", "not-an-address", "Enter a valid email address."),
    ],
)
def test_contact_details_that_cannot_be_used_are_refused(rep, field, value, message):
    with pytest.raises(ValidationError) as error:
        services.customer_create(actor=rep.user, name="Bar Sol", **{field: value})
    assert error.value.message_dict == {field: [message]}


def test_customer_update_changes_only_what_is_given_and_audits_it(rep):
    customer = CustomerFactory(owner=rep, name="Bar Sol", phone="600 111 222", address="Old 1")

    services.customer_update(
        actor=rep.user, customer_id=customer.pk, phone="600 333 444", email="a@b.example"
    )
    services.customer_update(actor=rep.user, customer_id=customer.pk, phone="600 333 444")

    customer.refresh_from_db()
    assert (customer.name, customer.phone, customer.address) == ("Bar Sol", "600 333 444", "Old 1")
    entries = AuditEntry.objects.filter(action="customer.update")
    assert [entry.changes for entry in entries] == [
        {"phone": ["600 111 222", "600 333 444"], "email": ["", "a@b.example"]}
    ]
    assert set(entries.get().change_lines) == {
        "Phone: 600 111 222 → 600 333 444",
        "Email: — → a@b.example",
    }


@pytest.mark.parametrize("action", ["update", "sign_up"])
def test_a_rep_cannot_touch_another_reps_customer(rep, other_rep, action):
    customer = CustomerFactory(owner=other_rep, name="Not mine")

    with pytest.raises(Http404):
        if action == "update":
            services.customer_update(actor=rep.user, customer_id=customer.pk, name="Mine now")
        else:
            services.customer_sign_up(actor=rep.user, customer_id=customer.pk)

    customer.refresh_from_db()
    assert (customer.name, customer.status) == ("Not mine", CustomerStatus.PROSPECT)
    assert not AuditEntry.objects.exists()


def test_signing_up_is_audited_and_published_for_the_owner(
    rep, published, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(owner=rep)

    with django_capture_on_commit_callbacks() as callbacks:
        signed = services.customer_sign_up(actor=rep.user, customer_id=customer.pk)
    run(callbacks)

    assert AuditEntry.objects.get(action="customer.sign_up").target_id == str(customer.pk)
    assert published == [
        events.CustomerSignedUp(
            customer_id=customer.pk, rep_id=rep.pk, signed_up_at=signed.signed_up_at
        )
    ]
    with pytest.raises(ValidationError) as error:
        services.customer_sign_up(actor=rep.user, customer_id=customer.pk)
    assert error.value.messages == [services.CUSTOMER_ALREADY_SIGNED_UP]


def test_reopening_a_won_deal_is_audited_and_takes_the_win_back(
    rep, published, django_capture_on_commit_callbacks
):
    deal = DealFactory(rep=rep, amount=Decimal("500.00"))
    services.deal_close(actor=rep.user, deal_id=deal.pk, won=True)
    deal.refresh_from_db()
    closed_at = deal.closed_at

    with django_capture_on_commit_callbacks() as callbacks:
        reopened = services.deal_reopen(actor=rep.user, deal_id=deal.pk)
    run(callbacks)

    assert (reopened.stage, reopened.closed_at) == (DealStage.PROPOSAL, None)
    entry = AuditEntry.objects.get(action="deal.reopen")
    assert entry.changes == {"stage": [DealStage.CLOSED_WON, DealStage.PROPOSAL]}
    assert entry.action_label == "Deal reopened"
    assert published == [
        events.DealReopened(
            deal_id=deal.pk, rep_id=rep.pk, amount=Decimal("500.00"), closed_at=closed_at
        )
    ]


def test_a_rep_cannot_reopen_another_reps_deal(rep, other_rep):
    deal = DealFactory(rep=other_rep, stage=DealStage.CLOSED_WON)

    with pytest.raises(Http404):
        services.deal_reopen(actor=rep.user, deal_id=deal.pk)
    deal.refresh_from_db()
    assert deal.stage == DealStage.CLOSED_WON


def test_a_visit_logged_done_counts_at_once_when_it_happened(
    rep, published, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(owner=rep)
    happened = timezone.now() - dt.timedelta(hours=2)

    with django_capture_on_commit_callbacks() as callbacks:
        visit = services.activity_create(
            actor=rep.user,
            kind=ActivityKind.VISIT,
            due_at=happened,
            customer=customer,
            done=True,
            outcome=ActivityOutcome.ORDERED,
            notes="Two cases.",
        )
    run(callbacks)

    visit.refresh_from_db()
    assert (visit.status, visit.completed_at, visit.outcome, visit.notes) == (
        ActivityStatus.COMPLETED,
        happened,
        ActivityOutcome.ORDERED,
        "Two cases.",
    )
    entry = AuditEntry.objects.get(target_id=str(visit.pk))
    assert (entry.action, entry.action_label) == ("activity.log", "Activity logged as done")
    assert entry.changes == {"kind": "visit", "outcome": "ordered"}
    assert published == [
        events.ActivityCompleted(activity_id=visit.pk, rep_id=rep.pk, completed_at=happened)
    ]


def test_planning_an_activity_publishes_nothing(rep, published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        services.activity_create(
            actor=rep.user, kind=ActivityKind.CALL, due_at=timezone.now() + dt.timedelta(days=1)
        )
    run(callbacks)
    assert published == []


@pytest.mark.parametrize(
    ("arguments", "errors"),
    [
        (
            {"done": True, "due_at": dt.timedelta(hours=1)},
            {"due_at": [services.ACTIVITY_DONE_IN_FUTURE]},
        ),
        (
            {"done": False, "outcome": ActivityOutcome.ORDERED},
            {"outcome": [services.ACTIVITY_OUTCOME_WHEN_DONE]},
        ),
        ({"done": True, "outcome": "party"}, {"outcome": ["Value 'party' is not a valid choice."]}),
        (
            {"notes": "x" * 2001},
            {"notes": ["Ensure this value has at most 2000 characters (it has 2001)."]},
        ),
    ],
)
def test_activity_create_refuses_what_cannot_be(rep, arguments, errors):
    due = timezone.now() + arguments.pop("due_at", -dt.timedelta(hours=1))
    with pytest.raises(ValidationError) as error:
        services.activity_create(actor=rep.user, kind=ActivityKind.CALL, due_at=due, **arguments)
    assert error.value.message_dict == errors
    assert not Activity.objects.exists()


def test_completing_takes_the_outcome_and_replaces_the_notes_only_when_given(rep):
    quick = ActivityFactory(rep=rep, notes="Ask about the terrace.")
    told = ActivityFactory(rep=rep, notes="Ask about the terrace.")

    services.activity_complete(actor=rep.user, activity_id=quick.pk)
    services.activity_complete(
        actor=rep.user, activity_id=told.pk, outcome=ActivityOutcome.FOLLOW_UP, notes="Call in May."
    )

    quick.refresh_from_db()
    told.refresh_from_db()
    assert (quick.outcome, quick.notes) == ("", "Ask about the terrace.")
    assert (told.outcome, told.notes) == (ActivityOutcome.FOLLOW_UP, "Call in May.")
    entry = AuditEntry.objects.get(action="activity.complete", target_id=str(told.pk))
    assert set(entry.change_lines) == {
        "Outcome: — → Follow-up needed",
        "Notes: Ask about the terrace. → Call in May.",
    }


def test_an_activity_planned_again_forgets_how_it_went_and_the_audit_says_so(rep):
    activity = ActivityFactory(rep=rep)
    services.activity_complete(
        actor=rep.user, activity_id=activity.pk, outcome=ActivityOutcome.NO_ANSWER,
        notes="Closed on Mondays.",
    )  # fmt: skip
    cancelled = ActivityFactory(rep=rep, status=ActivityStatus.CANCELLED)

    services.activity_reopen(actor=rep.user, activity_id=activity.pk)
    services.activity_reopen(actor=rep.user, activity_id=cancelled.pk)

    activity.refresh_from_db()
    assert (activity.status, activity.outcome) == (ActivityStatus.PLANNED, "")
    assert (activity.completed_at, activity.notes) == (None, "Closed on Mondays.")
    reopened = AuditEntry.objects.get(action="activity.reopen", target_id=str(activity.pk))
    assert reopened.changes == {
        "status": [ActivityStatus.COMPLETED, ActivityStatus.PLANNED],
        "outcome": [ActivityOutcome.NO_ANSWER, ""],
    }
    assert reopened.change_lines == ["Status: Completed → Planned", "Outcome: No answer → —"]
    entry = AuditEntry.objects.get(action="activity.reopen", target_id=str(cancelled.pk))
    assert entry.changes == {"status": [ActivityStatus.CANCELLED, ActivityStatus.PLANNED]}


def test_the_refusals_the_pages_ask_for_are_the_services_own_rules(rep):
    planned = ActivityFactory(rep=rep)
    done = ActivityFactory(rep=rep, status=ActivityStatus.COMPLETED, completed_at=timezone.now())
    cancelled = ActivityFactory(rep=rep, status=ActivityStatus.CANCELLED)

    assert services.activity_completion_refusal(planned) is None
    assert services.activity_completion_refusal(done) == services.ACTIVITY_NOT_PLANNED
    assert services.activity_completion_refusal(cancelled) == services.ACTIVITY_NOT_PLANNED
    assert services.deal_edit_refusal(DealFactory(rep=rep)) is None
    lost = DealFactory(rep=rep, stage=DealStage.CLOSED_LOST)
    assert services.deal_edit_refusal(lost) == services.DEAL_ALREADY_CLOSED


def test_the_database_refuses_an_outcome_on_a_planned_activity(rep):
    activity = ActivityFactory(rep=rep)
    with pytest.raises(IntegrityError), transaction.atomic():
        Activity.objects.filter(pk=activity.pk).update(outcome=ActivityOutcome.ORDERED)
    with pytest.raises(IntegrityError), transaction.atomic():
        Activity.objects.filter(pk=activity.pk).update(
            status=ActivityStatus.COMPLETED, completed_at=timezone.now(), outcome="party"
        )


@pytest.mark.sqlite
def test_a_deal_changed_meanwhile_says_when_with_the_zone(rep):
    deal = DealFactory(rep=rep)
    stale = deal.version
    services.deal_update(actor=rep.user, deal_id=deal.pk, title="Renamed")

    with pytest.raises(Conflict) as error:
        services.deal_update(actor=rep.user, deal_id=deal.pk, title="Mine", expected_version=stale)

    deal.refresh_from_db()
    when = format_moment(deal.updated_at, "j M, H:i")
    assert error.value.message == services.DEAL_CHANGED_MEANWHILE.format(
        who=rep.user.username, when=when
    )
    assert when.endswith((" UTC", " CET", " CEST"))


def test_route_stops_plan_whole_quantities(supervisor, rep):
    route = RouteFactory(rep=rep)
    customer = CustomerFactory(owner=rep)

    stop = services.route_stop_add(
        actor=supervisor, route_id=route.pk, customer=customer, sequence=1, planned_quantity=12
    )

    stop.refresh_from_db()
    assert stop.planned_quantity == 12 and isinstance(stop.planned_quantity, int)
    with pytest.raises(ValidationError) as error:
        services.route_stop_add(
            actor=supervisor,
            route_id=route.pk,
            customer=CustomerFactory(owner=rep),
            sequence=2,
            planned_quantity=MAX_QUANTITY + 1,
        )
    assert "planned_quantity" in error.value.message_dict
