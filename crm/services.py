"""Writes to core CRM data.

Each function is one use case: keyword-only, one transaction, the target re-read through the
actor's scope and locked (`crm.writes.locked`: Http404 outside it), single-row rules checked by
the model (`crm.writes.validate`) and the database's constraints, cross-row rules here and in
`crm.roles`, an audit entry, and the events other apps count (`crm.events`), delivered after
commit. The actor is a user or a job (`crm.roles.SystemActor`). Writes return their row with the
selector's joins, so callers answer with it without reading it again.
"""

import datetime as dt
import secrets
from collections.abc import Iterable
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Model, Q
from django.utils import timezone

from crm import events
from crm.errors import Conflict, from_integrity_error
from crm.models import (
    MAX_QUANTITY,
    Activity,
    ActivityStatus,
    AuditEntry,
    Customer,
    CustomerStatus,
    Deal,
    DealStage,
    RouteStop,
    SalesRep,
    Task,
    TaskStatus,
)
from crm.periods import format_moment, validate_in_range
from crm.roles import Actor, customer_owner_for, may_manage_routes, rep_for_record
from crm.selectors import activity_list, customer_list, deal_list, route_list, task_list
from crm.writes import (
    UNCHANGED,
    apply_changes,
    audit,
    audit_many,
    given,
    locked,
    name_actions,
    validate,
)

# Error messages, one per rule; tests assert on these constants.
DEAL_ALREADY_CLOSED = "This deal is already closed."
DEAL_CHANGED_MEANWHILE = (
    "{who} changed this deal at {when} after you opened it. Reload to see the deal as it is now."
)
DEAL_CLOSED_STAGE_VIA_CLOSE = "Use win or lose to close a deal."
ACTIVITY_NOT_PLANNED = "Only a planned activity can be completed."
ACTIVITY_NOT_CLOSED = "This activity is already planned."
ACTIVITY_DONE_IN_FUTURE = "An activity done already cannot be in the future: say when it happened."
ACTIVITY_OUTCOME_WHEN_DONE = "An outcome is for an activity done already."
CUSTOMER_ALREADY_SIGNED_UP = "This customer has already signed up."
CUSTOMER_NOT_VISIBLE = "Select a customer you work with."
CUSTOMER_OF_ANOTHER_REP = "This customer belongs to another rep."
CUSTOMER_CODES_TAKEN = "No free code could be made up just now: type a code for this customer."
ROUTES_NOT_YOURS = "Only supervisors and admins change routes."
ROUTE_STOP_SEQUENCE_TAKEN = "Route {route} already has a stop number {sequence}."
ROUTE_STOP_CUSTOMER_TAKEN = "{customer} is already a stop on route {route}."

name_actions(
    {
        "deal.create": "Deal created",
        "deal.update": "Deal changed",
        "deal.close": "Deal closed",
        "deal.reopen": "Deal reopened",
        "activity.create": "Activity planned",
        "activity.log": "Activity logged as done",
        "activity.complete": "Activity done",
        "activity.cancel": "Activity cancelled",
        "activity.reopen": "Activity planned again",
        "task.create": "Task created",
        "task.done": "Task done",
        "task.reopen": "Task open again",
        "customer.create": "Customer added",
        "customer.update": "Customer details changed",
        "customer.sign_up": "Customer signed up",
        "customer.hand_over": "Handed over with the customer",
        "route_stop.add": "Stop added to the route",
        # Written by the migrations that brought in the database's own checks of these.
        "route_stop.quantity_capped": f"Planned quantity capped at {MAX_QUANTITY:,}",
        "customer.phone_cleared": "Phone cleared: no phone could dial it",
        "admin.add": "Added in Django admin",
        "admin.change": "Changed in Django admin",
        "admin.delete": "Deleted in Django admin",
    }
)


def check_customer_of_rep(*, customer: Customer | None, rep: SalesRep | None) -> None:
    """A deal's or activity's customer is its rep's own (or still unowned)."""
    if customer is not None and rep is not None and customer.owner_id not in (None, rep.pk):
        raise ValidationError({"customer": CUSTOMER_OF_ANOTHER_REP})


def _check_customer_for_rep(*, actor: Actor, customer: Customer | None, rep: SalesRep) -> None:
    """The customer must be visible to the actor and be the rep's own (or still unowned)."""
    if customer is None:
        return
    if not customer_list(user=actor).filter(pk=customer.pk).exists():
        raise ValidationError({"customer": CUSTOMER_NOT_VISIBLE})
    check_customer_of_rep(customer=customer, rep=rep)


def _check_moment(field: str, value: dt.datetime | None) -> None:
    try:
        validate_in_range(value)
    except ValidationError as error:
        raise ValidationError({field: error.messages}) from None


# --- Deals ------------------------------------------------------------------------------------


@transaction.atomic
def deal_create(
    *,
    actor: Actor,
    customer: Customer,
    title: str,
    amount: Decimal,
    rep: SalesRep | None = None,
    stage: str = DealStage.PROSPECTING,
) -> Deal:
    rep = rep_for_record(actor=actor, rep=rep)
    _check_customer_for_rep(actor=actor, customer=customer, rep=rep)
    if stage in DealStage.closed():
        raise ValidationError({"stage": DEAL_CLOSED_STAGE_VIA_CLOSE})
    deal = Deal(customer=customer, rep=rep, title=title, amount=amount, stage=stage)
    validate(deal)
    deal.save()
    audit(actor=actor, action="deal.create", target=deal, changes={"title": title})
    return deal


@transaction.atomic
def deal_update(
    *,
    actor: Actor,
    deal_id: int,
    title: str = UNCHANGED,
    amount: Decimal = UNCHANGED,
    stage: str = UNCHANGED,
    customer: Customer = UNCHANGED,
    rep: SalesRep | None = UNCHANGED,
    expected_version: int | None = None,
) -> Deal:
    """Edit an open deal. Arguments left out keep their value; closing goes through deal_close.

    With `expected_version` (the `Deal.version` the editor saw) a deal saved by someone else
    meanwhile is not overwritten: Conflict, saying who changed it and when.
    """
    deal = locked(deal_list(user=actor), deal_id)
    if expected_version is not None and deal.version != expected_version:
        raise Conflict(_changed_meanwhile(deal))
    if (refusal := deal_edit_refusal(deal)) is not None:
        raise ValidationError(refusal)
    if stage in DealStage.closed():
        raise ValidationError({"stage": DEAL_CLOSED_STAGE_VIA_CLOSE})
    fields = given(title=title, amount=amount, stage=stage, customer=customer, rep=rep)
    if "rep" in fields:
        fields["rep"] = rep_for_record(actor=actor, rep=fields["rep"])
    if "customer" in fields or "rep" in fields:
        _check_customer_for_rep(
            actor=actor,
            customer=fields.get("customer", deal.customer),
            rep=fields.get("rep", deal.rep),
        )
    changes = apply_changes(deal, fields)
    if changes:
        validate(deal)
        deal.save(update_fields=[*changes, "updated_at"])
        audit(actor=actor, action="deal.update", target=deal, changes=changes)
    return deal


def deal_edit_refusal(deal: Deal) -> str | None:
    """Why `deal` cannot be edited, or None if it can: deal_update's rule, for the page that
    offers the edit (it says why not before anyone types)."""
    return DEAL_ALREADY_CLOSED if deal.is_closed else None


def _changed_meanwhile(deal: Deal) -> str:
    last = (
        AuditEntry.objects.filter(target_type=deal._meta.label_lower, target_id=str(deal.pk))
        .select_related("actor")
        .first()
    )
    who = last.actor_name if last is not None else "Someone"
    return DEAL_CHANGED_MEANWHILE.format(who=who, when=format_moment(deal.updated_at, "j M, H:i"))


@transaction.atomic
def deal_close(
    *, actor: Actor, deal_id: int, won: bool, closed_at: dt.datetime | None = None
) -> Deal:
    """Mark a deal won or lost."""
    _check_moment("closed_at", closed_at)
    # Locked, so that two clicks on "won" do not both pass the open check.
    deal = locked(deal_list(user=actor), deal_id)
    if deal.is_closed:
        raise ValidationError(DEAL_ALREADY_CLOSED)
    before = fact_of(deal)
    deal.stage = DealStage.CLOSED_WON if won else DealStage.CLOSED_LOST
    deal.closed_at = closed_at or timezone.now()
    deal.save(update_fields=["stage", "closed_at", "updated_at"])
    audit(actor=actor, action="deal.close", target=deal, changes={"stage": deal.stage})
    publish_fact_change(deal, before, fact_of(deal))
    return deal


@transaction.atomic
def deal_reopen(*, actor: Actor, deal_id: int) -> Deal:
    deal = locked(deal_list(user=actor), deal_id)
    if not deal.is_closed:
        return deal
    before = fact_of(deal)
    previous = deal.stage
    deal.stage = DealStage.PROPOSAL
    deal.closed_at = None
    deal.save(update_fields=["stage", "closed_at", "updated_at"])
    audit(actor=actor, action="deal.reopen", target=deal, changes={"stage": [previous, deal.stage]})
    publish_fact_change(deal, before, fact_of(deal))
    return deal


# --- Activities -------------------------------------------------------------------------------


@transaction.atomic
def activity_create(
    *,
    actor: Actor,
    kind: str,
    due_at: dt.datetime,
    customer: Customer | None = None,
    subject: str = "",
    rep: SalesRep | None = None,
    done: bool = False,
    outcome: str = "",
    notes: str = "",
) -> Activity:
    """Plan an activity for `due_at`, or (`done`) log one that happened then, with how it went
    (`outcome`): a visit logged in one step counts at once, like one planned and completed."""
    rep = rep_for_record(actor=actor, rep=rep)
    _check_customer_for_rep(actor=actor, customer=customer, rep=rep)
    _check_moment("due_at", due_at)
    if done and due_at > timezone.now():
        raise ValidationError({"due_at": ACTIVITY_DONE_IN_FUTURE})
    if outcome and not done:
        raise ValidationError({"outcome": ACTIVITY_OUTCOME_WHEN_DONE})
    activity = Activity(
        rep=rep,
        customer=customer,
        kind=kind,
        due_at=due_at,
        subject=subject,
        notes=notes,
        outcome=outcome,
        status=ActivityStatus.COMPLETED if done else ActivityStatus.PLANNED,
        completed_at=due_at if done else None,
    )
    validate(activity)
    activity.save()
    changes = {"kind": kind, **({"outcome": outcome} if outcome else {})}
    action = "activity.log" if done else "activity.create"
    audit(actor=actor, action=action, target=activity, changes=changes)
    publish_fact_change(activity, None, fact_of(activity))
    return activity


@transaction.atomic
def activity_complete(
    *,
    actor: Actor,
    activity_id: int,
    completed_at: dt.datetime | None = None,
    outcome: str = "",
    notes: str = UNCHANGED,
) -> Activity:
    """Mark a planned activity done, with how it went (`outcome`) and, if given, its `notes`
    (they replace the notes it was planned with)."""
    _check_moment("completed_at", completed_at)
    activity = locked(activity_list(user=actor), activity_id)
    if (refusal := activity_completion_refusal(activity)) is not None:
        raise ValidationError(refusal)
    activity.status = ActivityStatus.COMPLETED
    activity.completed_at = completed_at or timezone.now()
    changes = apply_changes(activity, given(outcome=outcome, notes=notes))
    validate(activity)
    activity.save(update_fields=["status", "completed_at", *changes, "updated_at"])
    audit(actor=actor, action="activity.complete", target=activity, changes=changes)
    publish_fact_change(activity, None, fact_of(activity))
    return activity


def activity_completion_refusal(activity: Activity) -> str | None:
    """Why `activity` cannot be completed, or None if it can: activity_complete's rule, for the
    page that offers it (it says why not before anyone fills it in)."""
    return None if activity.status == ActivityStatus.PLANNED else ACTIVITY_NOT_PLANNED


@transaction.atomic
def activity_cancel(*, actor: Actor, activity_id: int) -> Activity:
    activity = locked(activity_list(user=actor), activity_id)
    if activity.status != ActivityStatus.PLANNED:
        raise ValidationError(ACTIVITY_NOT_PLANNED)
    activity.status = ActivityStatus.CANCELLED
    activity.save(update_fields=["status", "updated_at"])
    audit(actor=actor, action="activity.cancel", target=activity)
    return activity


@transaction.atomic
def activity_reopen(*, actor: Actor, activity_id: int) -> Activity:
    """Undo a completion or a cancellation: the activity is planned again."""
    activity = locked(activity_list(user=actor), activity_id)
    if activity.status == ActivityStatus.PLANNED:
        raise ValidationError(ACTIVITY_NOT_CLOSED)
    before = fact_of(activity)
    # How it went is said again when it is done again; the notes stay. The completion time
    # goes with the status, as a reopened deal's closing date goes with its stage.
    changes = apply_changes(activity, {"status": ActivityStatus.PLANNED, "outcome": ""})
    activity.completed_at = None
    activity.save(update_fields=["status", "completed_at", "outcome", "updated_at"])
    audit(actor=actor, action="activity.reopen", target=activity, changes=changes)
    publish_fact_change(activity, before, fact_of(activity))
    return activity


# --- Tasks ------------------------------------------------------------------------------------


@transaction.atomic
def task_create(
    *, actor: Actor, title: str, due_at: dt.datetime | None = None, rep: SalesRep | None = None
) -> Task:
    rep = rep_for_record(actor=actor, rep=rep)
    task = Task(rep=rep, title=title, due_at=due_at)
    validate(task)
    task.save()
    audit(actor=actor, action="task.create", target=task)
    return task


@transaction.atomic
def task_set_done(*, actor: Actor, task_id: int, done: bool) -> Task:
    task = locked(task_list(user=actor), task_id)
    if (task.status == TaskStatus.DONE) == done:
        return task  # already so: keep the original completion time
    before = fact_of(task)
    task.status = TaskStatus.DONE if done else TaskStatus.OPEN
    task.completed_at = timezone.now() if done else None
    task.save(update_fields=["status", "completed_at", "updated_at"])
    audit(actor=actor, action="task.done" if done else "task.reopen", target=task)
    publish_fact_change(task, before, fact_of(task))
    return task


# --- Customers --------------------------------------------------------------------------------


# Generated customer codes: "C-" and six characters nobody misreads (no 0/O, no 1/I).
CUSTOMER_CODE_CHARACTERS = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CUSTOMER_CODE_DRAWS = 3  # rounds of five codes made up before asking the user for one


def new_customer_codes() -> list[str]:
    """Of five random customer codes, those nobody uses yet, in one query (out of 32⁶ codes,
    all five are taken only in theory; then none)."""
    candidates = [
        "C-" + "".join(secrets.choice(CUSTOMER_CODE_CHARACTERS) for _ in range(6)) for _ in range(5)
    ]
    taken = set(Customer.objects.filter(code__in=candidates).values_list("code", flat=True))
    return [code for code in candidates if code not in taken]


def _save_with_a_new_code(customer: Customer) -> None:
    """Save `customer` under a code made up for it. A code another writer takes between the
    look-up and the insert is no conflict of the user's, who never typed it: that insert alone
    is undone (a savepoint) and the next free code tried; after a few rounds in vain, the user
    is asked for a code (400 on the field), never a 409 or a 500."""
    validate(customer, exclude=["code"])
    for _ in range(CUSTOMER_CODE_DRAWS):
        for code in new_customer_codes():
            customer.code = code
            try:
                with transaction.atomic():
                    customer.save()
                return
            except IntegrityError as error:
                collision = from_integrity_error(error)
                if not (isinstance(collision, Conflict) and collision.fields == ["code"]):
                    raise
    raise ValidationError({"code": CUSTOMER_CODES_TAKEN})


@transaction.atomic
def customer_create(
    *,
    actor: Actor,
    name: str,
    code: str = "",
    contact_name: str = "",
    phone: str = "",
    email: str = "",
    address: str = "",
    owner: SalesRep | None = None,
) -> Customer:
    """A new prospect, owned as `crm.roles.customer_owner_for` decides; a code is made up
    when none is given."""
    owner = customer_owner_for(actor=actor, owner=owner, required=False)
    customer = Customer(
        code=code,
        name=name,
        contact_name=contact_name,
        phone=phone,
        email=email,
        address=address,
        owner=owner,
    )
    if code:
        validate(customer)
        customer.save()
    else:
        _save_with_a_new_code(customer)
    audit(actor=actor, action="customer.create", target=customer, changes={"code": customer.code})
    return customer


@transaction.atomic
def customer_update(
    *,
    actor: Actor,
    customer_id: int,
    name: str = UNCHANGED,
    contact_name: str = UNCHANGED,
    phone: str = UNCHANGED,
    email: str = UNCHANGED,
    address: str = UNCHANGED,
) -> Customer:
    """Edit a customer's name and how to reach them; arguments left out keep their value. The
    owner and the status change through their own actions (sign-up, Django admin)."""
    customer = locked(customer_list(user=actor), customer_id)
    fields = given(name=name, contact_name=contact_name, phone=phone, email=email, address=address)
    changes = apply_changes(customer, fields)
    if changes:
        validate(customer)
        customer.save(update_fields=[*changes, "updated_at"])
        audit(actor=actor, action="customer.update", target=customer, changes=changes)
    return customer


@transaction.atomic
def customer_sign_up(
    *,
    actor: Actor,
    customer_id: int,
    owner: SalesRep | None = None,
    signed_up_at: dt.datetime | None = None,
) -> Customer:
    """A rep signs a prospect: it becomes an active customer (a "signup" for the rep's goals).

    An unowned prospect (only admins see those) gets its owner now: the rep signing it, or the
    `owner` an admin names.
    """
    _check_moment("signed_up_at", signed_up_at)
    customer = locked(customer_list(user=actor), customer_id)
    if customer.status != CustomerStatus.PROSPECT:
        raise ValidationError(CUSTOMER_ALREADY_SIGNED_UP)
    if customer.owner_id is None:
        customer.owner = customer_owner_for(actor=actor, owner=owner, required=True)
    customer.status = CustomerStatus.ACTIVE
    customer.signed_up_at = signed_up_at or timezone.now()
    customer.save(update_fields=["status", "signed_up_at", "owner", "updated_at"])
    audit(actor=actor, action="customer.sign_up", target=customer)
    publish_fact_change(customer, None, fact_of(customer))
    return customer


# --- Routes -----------------------------------------------------------------------------------


@transaction.atomic
def route_stop_add(
    *,
    actor: Actor,
    route_id: int,
    customer: Customer,
    sequence: int,
    planned_quantity: int = 0,
) -> RouteStop:
    if not may_manage_routes(actor):
        raise PermissionDenied(ROUTES_NOT_YOURS)
    # Locked: two stops added at once to one route queue here, so the checks below hold.
    route = locked(route_list(user=actor), route_id)
    if not customer_list(user=actor).filter(pk=customer.pk).exists():
        raise ValidationError({"customer": CUSTOMER_NOT_VISIBLE})
    errors = {}
    taken = RouteStop.objects.filter(route=route).aggregate(
        sequence=Count("pk", filter=Q(sequence=sequence)),
        customer=Count("pk", filter=Q(customer=customer)),
    )
    if taken["sequence"]:
        errors["sequence"] = ROUTE_STOP_SEQUENCE_TAKEN.format(route=route.code, sequence=sequence)
    if taken["customer"]:
        errors["customer"] = ROUTE_STOP_CUSTOMER_TAKEN.format(customer=customer, route=route.code)
    if errors:
        raise ValidationError(errors)
    stop = RouteStop(
        route=route, customer=customer, sequence=sequence, planned_quantity=planned_quantity
    )
    validate(stop)
    stop.save()
    audit(actor=actor, action="route_stop.add", target=stop, changes={"route": route.code})
    return stop


# --- Corrections from Django admin ------------------------------------------------------------

CORRECTABLE = (Deal, Activity, Task, Customer)


@transaction.atomic
def rep_save_from_admin(*, actor: Actor, rep: SalesRep, changed: Iterable[str], adding: bool):
    """Save an admin's edit of a sales rep, audited; a rep who joins or comes back, or leaves,
    is published (other apps keep things per active rep)."""
    was_active = not adding and SalesRep.objects.filter(pk=rep.pk, active=True).exists()
    rep.save()
    changes = {field: getattr(rep, field, None) for field in changed}
    audit(actor=actor, action=f"admin.{'add' if adding else 'change'}", target=rep, changes=changes)
    if rep.active and not was_active:
        events.publish(events.RepActivated(rep_id=rep.pk))
    elif was_active and not rep.active:
        events.publish(events.RepDeactivated(rep_id=rep.pk))


@transaction.atomic
def record_save_from_admin(
    *, actor: Actor, record: Model, changed: Iterable[str], adding: bool
) -> None:
    """Save an admin's edit of a deal, activity, task or customer the way services save: the
    stored row locked, audited, and the facts it changes published (an admin may correct
    anything, a won deal's amount or date included). The admin's form has checked the row's
    rules and `check_customer_of_rep`."""
    model = type(record)
    stored = None if adding else model.objects.select_for_update().get(pk=record.pk)
    before = fact_of(stored) if stored is not None else None
    record.save()
    if isinstance(record, Customer) and stored is not None and stored.owner_id != record.owner_id:
        _hand_over_open_work(actor=actor, customer=record)
    changes = {field: getattr(record, field, None) for field in changed}
    audit(
        actor=actor, action=f"admin.{'add' if adding else 'change'}", target=record, changes=changes
    )
    publish_fact_change(record, before, fact_of(record))


def _hand_over_open_work(*, actor: Actor, customer: Customer) -> None:
    """A customer's new owner takes over its open deals and planned activities, so that they keep
    the rule that a record's customer is its rep's (closed deals and done activities stay with
    whoever did them)."""
    if customer.owner_id is None:
        return
    deals = Deal.objects.open().filter(customer=customer).exclude(rep_id=customer.owner_id)
    activities = Activity.objects.filter(customer=customer, status=ActivityStatus.PLANNED).exclude(
        rep_id=customer.owner_id
    )
    moved = [(row, {"rep": [row.rep_id, customer.owner_id]}) for row in [*deals, *activities]]
    now = timezone.now()
    deals.update(rep_id=customer.owner_id, updated_at=now)
    activities.update(rep_id=customer.owner_id, updated_at=now)
    audit_many(actor=actor, action="customer.hand_over", targets=moved)


@transaction.atomic
def records_delete_from_admin(*, actor: Actor, records: list[Model]) -> int:
    """Delete records (all of one model) from Django admin: audited, and the facts they counted
    for withdrawn."""
    if not records:
        return 0
    facts = [(record.pk, fact_of(record)) for record in records]
    audit_many(actor=actor, action="admin.delete", targets=[(record, None) for record in records])
    type(records[0]).objects.filter(pk__in=[pk for pk, _ in facts]).delete()
    for record, (pk, before) in zip(records, facts, strict=True):
        record.pk = pk  # the events name the record that was
        publish_fact_change(record, before, None)
    return len(records)


# --- The facts other apps count, and the events that announce their changes -------------------


def fact_of(record: Model) -> tuple | None:
    """What a record contributes to the figures other apps count, or None: a won deal's (rep,
    amount, closing time), a completed activity's or done task's (rep, completion time), a
    signed-up customer's (owner, sign-up time)."""
    if isinstance(record, Deal):
        won = record.stage == DealStage.CLOSED_WON
        return (record.rep_id, record.amount, record.closed_at) if won else None
    if isinstance(record, Activity):
        done = record.status == ActivityStatus.COMPLETED
        return (record.rep_id, record.completed_at) if done else None
    if isinstance(record, Task):
        return (record.rep_id, record.completed_at) if record.status == TaskStatus.DONE else None
    if isinstance(record, Customer):
        signed = record.status != CustomerStatus.PROSPECT
        return (record.owner_id, record.signed_up_at) if signed else None
    raise TypeError(f"{type(record).__name__} has no facts that other apps count.")


def publish_fact_change(record: Model, before: tuple | None, after: tuple | None) -> None:
    """Publish the events that take `record`'s fact from `before` to `after` (see fact_of)."""
    if before == after:
        return
    if isinstance(record, Deal):
        _publish_deal(record.pk, before, after)
        return
    done, undone, key = {
        Activity: (events.ActivityCompleted, events.ActivityUncompleted, "activity_id"),
        Task: (events.TaskDone, events.TaskUndone, "task_id"),
        Customer: (events.CustomerSignedUp, events.CustomerSignUpUndone, "customer_id"),
    }[type(record)]
    moment = "signed_up_at" if isinstance(record, Customer) else "completed_at"
    # A fact that moved (another rep or day) is undone where it was and done where it is.
    if before is not None:
        events.publish(undone(**{key: record.pk, "rep_id": before[0], moment: before[1]}))
    if after is not None:
        events.publish(done(**{key: record.pk, "rep_id": after[0], moment: after[1]}))


def _publish_deal(deal_id: int, before: tuple | None, after: tuple | None) -> None:
    if before is None:
        rep_id, amount, closed_at = after
        events.publish(
            events.DealWon(deal_id=deal_id, rep_id=rep_id, amount=amount, closed_at=closed_at)
        )
    elif after is None:
        rep_id, amount, closed_at = before
        events.publish(
            events.DealReopened(deal_id=deal_id, rep_id=rep_id, amount=amount, closed_at=closed_at)
        )
    else:
        events.publish(
            events.WonDealChanged(
                deal_id=deal_id,
                rep_id=after[0],
                amount=after[1],
                closed_at=after[2],
                previous_rep_id=before[0],
                previous_amount=before[1],
                previous_closed_at=before[2],
            )
        )
