"""Writes to core CRM data and the job platform's records.

Each function is one use case: keyword-only, runs in one transaction, validates the row with the
model's own rules (`full_clean`, which mirrors the database constraints) and cross-row rules here,
and writes an audit entry. A service that starts background work enqueues it with
`transaction.on_commit`, so that a failure to enqueue never fails the write.
"""

import hashlib
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from crm.models import (
    Activity,
    ActivityStatus,
    AuditEntry,
    Customer,
    CustomerStatus,
    DeadLetter,
    Deal,
    DealStage,
    Heartbeat,
    Route,
    RouteStop,
    SalesRep,
    Task,
    TaskStatus,
)
from crm.roles import Role, role_of
from crm.selectors import activity_list, customer_list, deal_list, rep_list, task_list

# Error messages, one per rule; tests assert on these constants.
DEAL_ALREADY_CLOSED = "This deal is already closed."
DEAL_CLOSED_STAGE_VIA_CLOSE = "Use win or lose to close a deal."
ACTIVITY_NOT_PLANNED = "Only a planned activity can be completed."
CUSTOMER_ALREADY_SIGNED_UP = "This customer has already signed up."
CUSTOMER_NOT_VISIBLE = "Select a customer you work with."
CUSTOMER_OF_ANOTHER_REP = "This customer belongs to another rep."
OWNER_REQUIRED = "Select the sales rep who owns this customer."
REP_NOT_ASSIGNABLE = "Select a sales rep of your team."
REP_REQUIRED = "Select the sales rep this record belongs to."
ROUTE_STOP_SEQUENCE_TAKEN = "Route {route} already has a stop number {sequence}."
ROUTE_STOP_CUSTOMER_TAKEN = "{customer} is already a stop on route {route}."

DEAD_LETTER_AUTO_RETRY_LIMIT = 3


def audit(*, actor: User | None, action: str, target: Any, changes: dict | None = None) -> None:
    AuditEntry.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        changes=json.loads(json.dumps(changes or {}, default=_audit_value)),
    )


def _audit_value(value: Any) -> Any:
    # Related records are stored by id: names change, ids do not.
    return value.pk if hasattr(value, "pk") else str(value)


# --- Ownership rules shared by deals, activities and tasks ------------------------------------


def _check_rep_assignable(*, actor: User, rep: SalesRep | None) -> SalesRep:
    """A rep works on their own records; supervisors assign within their teams; admins anyone."""
    if role_of(actor) == Role.REP:
        own = SalesRep.objects.filter(user_id=actor.pk).first()
        if own is None:
            raise PermissionDenied
        if rep is not None and rep.pk != own.pk:
            raise ValidationError({"rep": REP_NOT_ASSIGNABLE})
        return own
    if rep is None:
        raise ValidationError({"rep": REP_REQUIRED})
    if not rep_list(user=actor).filter(pk=rep.pk).exists():
        raise ValidationError({"rep": REP_NOT_ASSIGNABLE})
    return rep


def _check_customer_for_rep(*, actor: User, customer: Customer | None, rep: SalesRep) -> None:
    """The customer must be visible to the actor and be the rep's own (or still unowned)."""
    if customer is None:
        return
    if not customer_list(user=actor).filter(pk=customer.pk).exists():
        raise ValidationError({"customer": CUSTOMER_NOT_VISIBLE})
    if customer.owner_id not in (None, rep.pk):
        raise ValidationError({"customer": CUSTOMER_OF_ANOTHER_REP})


def _locked(queryset, pk: int):
    """The row `pk` from a role-scoped queryset, locked for this transaction.

    Services re-read their target this way, so that a caller that skipped the scope (a task,
    another app) cannot act outside it, and two concurrent writes see each other's result.
    """
    try:
        return queryset.select_for_update(of=("self",)).get(pk=pk)
    except queryset.model.DoesNotExist:
        raise PermissionDenied from None


def _apply_changes(instance, fields: dict[str, Any]) -> dict[str, Any]:
    """Set `fields` on `instance`; return {field: [old, new]} for those that changed."""
    changes = {}
    for name, value in fields.items():
        old = getattr(instance, name)
        if old != value:
            changes[name] = [old, value]
            setattr(instance, name, value)
    return changes


# --- Deals ------------------------------------------------------------------------------------


@transaction.atomic
def deal_create(
    *,
    actor: User,
    customer: Customer,
    title: str,
    amount: Decimal,
    rep: SalesRep | None = None,
    stage: str = DealStage.PROSPECTING,
) -> Deal:
    rep = _check_rep_assignable(actor=actor, rep=rep)
    _check_customer_for_rep(actor=actor, customer=customer, rep=rep)
    if stage in DealStage.closed():
        raise ValidationError({"stage": DEAL_CLOSED_STAGE_VIA_CLOSE})
    deal = Deal(customer=customer, rep=rep, title=title, amount=amount, stage=stage)
    deal.full_clean()
    deal.save()
    audit(actor=actor, action="deal.create", target=deal, changes={"title": title})
    return deal


_UNCHANGED: Any = object()


@transaction.atomic
def deal_update(
    *,
    actor: User,
    deal: Deal,
    title: str = _UNCHANGED,
    amount: Decimal = _UNCHANGED,
    stage: str = _UNCHANGED,
    customer: Customer = _UNCHANGED,
    rep: SalesRep | None = _UNCHANGED,
) -> Deal:
    """Edit an open deal. Arguments left out keep their value; closing goes through deal_close."""
    deal = _locked(deal_list(user=actor), deal.pk)
    if deal.is_closed:
        raise ValidationError(DEAL_ALREADY_CLOSED)
    if stage in DealStage.closed():
        raise ValidationError({"stage": DEAL_CLOSED_STAGE_VIA_CLOSE})
    fields = {
        name: value
        for name, value in {
            "title": title,
            "amount": amount,
            "stage": stage,
            "customer": customer,
            "rep": rep,
        }.items()
        if value is not _UNCHANGED
    }
    if "rep" in fields:
        fields["rep"] = _check_rep_assignable(actor=actor, rep=fields["rep"])
    if "customer" in fields or "rep" in fields:
        _check_customer_for_rep(
            actor=actor,
            customer=fields.get("customer", deal.customer),
            rep=fields.get("rep", deal.rep),
        )
    changes = _apply_changes(deal, fields)
    if changes:
        deal.full_clean()
        deal.save(update_fields=[*changes, "updated_at"])
        audit(actor=actor, action="deal.update", target=deal, changes=changes)
    return deal


@transaction.atomic
def deal_close(*, actor: User, deal: Deal, won: bool, closed_at: datetime | None = None) -> Deal:
    """Mark a deal won or lost."""
    # Locked, so that two clicks on "won" do not both pass the open check.
    deal = _locked(deal_list(user=actor), deal.pk)
    if deal.is_closed:
        raise ValidationError(DEAL_ALREADY_CLOSED)
    deal.stage = DealStage.CLOSED_WON if won else DealStage.CLOSED_LOST
    deal.closed_at = closed_at or timezone.now()
    deal.save(update_fields=["stage", "closed_at", "updated_at"])
    audit(actor=actor, action="deal.close", target=deal, changes={"stage": deal.stage})
    return deal


@transaction.atomic
def deal_reopen(*, actor: User, deal: Deal) -> Deal:
    deal = _locked(deal_list(user=actor), deal.pk)
    if not deal.is_closed:
        return deal
    previous = deal.stage
    deal.stage = DealStage.PROPOSAL
    deal.closed_at = None
    deal.save(update_fields=["stage", "closed_at", "updated_at"])
    audit(actor=actor, action="deal.reopen", target=deal, changes={"stage": [previous, deal.stage]})
    return deal


# --- Activities -------------------------------------------------------------------------------


@transaction.atomic
def activity_create(
    *,
    actor: User,
    kind: str,
    due_at: datetime,
    customer: Customer | None = None,
    subject: str = "",
    rep: SalesRep | None = None,
) -> Activity:
    rep = _check_rep_assignable(actor=actor, rep=rep)
    _check_customer_for_rep(actor=actor, customer=customer, rep=rep)
    activity = Activity(rep=rep, customer=customer, kind=kind, due_at=due_at, subject=subject)
    activity.full_clean()
    activity.save()
    audit(actor=actor, action="activity.create", target=activity, changes={"kind": kind})
    return activity


@transaction.atomic
def activity_complete(
    *, actor: User, activity: Activity, completed_at: datetime | None = None
) -> Activity:
    activity = _locked(activity_list(user=actor), activity.pk)
    if activity.status != ActivityStatus.PLANNED:
        raise ValidationError(ACTIVITY_NOT_PLANNED)
    activity.status = ActivityStatus.COMPLETED
    activity.completed_at = completed_at or timezone.now()
    activity.save(update_fields=["status", "completed_at", "updated_at"])
    audit(actor=actor, action="activity.complete", target=activity)
    return activity


@transaction.atomic
def activity_cancel(*, actor: User, activity: Activity) -> Activity:
    activity = _locked(activity_list(user=actor), activity.pk)
    if activity.status != ActivityStatus.PLANNED:
        raise ValidationError(ACTIVITY_NOT_PLANNED)
    activity.status = ActivityStatus.CANCELLED
    activity.save(update_fields=["status", "updated_at"])
    audit(actor=actor, action="activity.cancel", target=activity)
    return activity


# --- Tasks ------------------------------------------------------------------------------------


@transaction.atomic
def task_create(
    *, actor: User, title: str, due_at: datetime | None = None, rep: SalesRep | None = None
) -> Task:
    rep = _check_rep_assignable(actor=actor, rep=rep)
    task = Task(rep=rep, title=title, due_at=due_at)
    task.full_clean()
    task.save()
    audit(actor=actor, action="task.create", target=task)
    return task


@transaction.atomic
def task_set_done(*, actor: User, task: Task, done: bool) -> Task:
    task = _locked(task_list(user=actor), task.pk)
    if (task.status == TaskStatus.DONE) == done:
        return task  # already so: keep the original completion time
    task.status = TaskStatus.DONE if done else TaskStatus.OPEN
    task.completed_at = timezone.now() if done else None
    task.save(update_fields=["status", "completed_at", "updated_at"])
    audit(actor=actor, action="task.done" if done else "task.reopen", target=task)
    return task


# --- Customers --------------------------------------------------------------------------------


@transaction.atomic
def customer_sign_up(
    *,
    actor: User,
    customer: Customer,
    owner: SalesRep | None = None,
    signed_up_at: datetime | None = None,
) -> Customer:
    """A rep signs a prospect: it becomes an active customer (a "signup" for the rep's goals).

    An unowned prospect (only admins see those) gets its owner now: the rep signing it, or the
    `owner` an admin names.
    """
    customer = _locked(customer_list(user=actor), customer.pk)
    if customer.status != CustomerStatus.PROSPECT:
        raise ValidationError(CUSTOMER_ALREADY_SIGNED_UP)
    if customer.owner_id is None:
        if role_of(actor) != Role.REP and owner is None:
            raise ValidationError({"owner": OWNER_REQUIRED})
        customer.owner = _check_rep_assignable(actor=actor, rep=owner)
    customer.status = CustomerStatus.ACTIVE
    customer.signed_up_at = signed_up_at or timezone.now()
    customer.save(update_fields=["status", "signed_up_at", "owner", "updated_at"])
    audit(actor=actor, action="customer.sign_up", target=customer)
    return customer


@transaction.atomic
def customer_create(
    *,
    actor: User,
    code: str,
    name: str,
    address: str = "",
    owner: SalesRep | None = None,
) -> Customer:
    """A new prospect. Reps own the customers they add; supervisors pick a rep of their teams;
    admins may also leave the owner empty (an unassigned prospect only admins see)."""
    if role_of(actor) != Role.ADMIN or owner is not None:
        if owner is None and role_of(actor) == Role.SUPERVISOR:
            raise ValidationError({"owner": OWNER_REQUIRED})
        owner = _check_rep_assignable(actor=actor, rep=owner)
    customer = Customer(code=code, name=name, address=address, owner=owner)
    customer.full_clean()
    customer.save()
    audit(actor=actor, action="customer.create", target=customer, changes={"code": code})
    return customer


# --- Routes -----------------------------------------------------------------------------------


@transaction.atomic
def route_stop_add(
    *,
    actor: User,
    route: Route,
    customer: Customer,
    sequence: int,
    planned_quantity: Decimal = Decimal("0"),
) -> RouteStop:
    errors = {}
    stops = RouteStop.objects.filter(route=route)
    if stops.filter(sequence=sequence).exists():
        errors["sequence"] = ROUTE_STOP_SEQUENCE_TAKEN.format(route=route.code, sequence=sequence)
    if stops.filter(customer=customer).exists():
        errors["customer"] = ROUTE_STOP_CUSTOMER_TAKEN.format(customer=customer, route=route.code)
    if errors:
        raise ValidationError(errors)
    stop = RouteStop(
        route=route, customer=customer, sequence=sequence, planned_quantity=planned_quantity
    )
    stop.full_clean(validate_constraints=False)  # the unique rules were checked above
    stop.save()
    audit(actor=actor, action="route_stop.add", target=stop, changes={"route": route.code})
    return stop


# --- Job platform records ---------------------------------------------------------------------


def heartbeat_record(*, component: str) -> None:
    Heartbeat.objects.update_or_create(component=component, defaults={"seen_at": timezone.now()})


def _fingerprint(args: Any, kwargs: Any) -> str:
    canonical = json.dumps([args, kwargs], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def dead_letter_record(
    *, task_name: str, args: Any, kwargs: Any, error: str, traceback: str = ""
) -> DeadLetter:
    """Called when a task gives up. The same task and arguments failing again updates its
    letter (count, last failure) and marks it as waiting for a retry again."""
    args = json.loads(json.dumps(list(args or []), default=str))
    kwargs = json.loads(json.dumps(dict(kwargs or {}), default=str))
    now = timezone.now()
    letter, created = DeadLetter.objects.get_or_create(
        task_name=task_name,
        fingerprint=_fingerprint(args, kwargs),
        defaults={
            "args": args,
            "kwargs": kwargs,
            "error": error,
            "traceback": traceback,
            "first_failed_at": now,
            "last_failed_at": now,
        },
    )
    if not created:
        DeadLetter.objects.filter(pk=letter.pk).update(
            error=error,
            traceback=traceback,
            last_failed_at=now,
            failure_count=F("failure_count") + 1,
            retried=False,
            retried_at=None,
        )
        letter.refresh_from_db()
    return letter


def dead_letters_retry(*, letters: QuerySet[DeadLetter], actor: User | None = None) -> int:
    """Enqueue each letter's task again with its arguments; return how many were enqueued.

    The letter is marked retried before its task is enqueued: if the task fails again (at once,
    when Celery runs eagerly, or later on a worker) dead_letter_record marks it pending again.
    If the broker refuses the message the mark is undone and the error propagates.
    """
    from crm.celery import app

    enqueued = 0
    for letter in letters.order_by("id"):
        # Claim the letter as it was read: if another retry (the hourly job, an admin, the
        # command) claimed it meanwhile, nothing matches and it is not enqueued twice.
        claimed = DeadLetter.objects.filter(
            pk=letter.pk, retried=letter.retried, retried_at=letter.retried_at
        ).update(retried=True, retried_at=timezone.now())
        if not claimed:
            continue
        try:
            task = app.tasks.get(letter.task_name)
            if task is not None:
                task.apply_async(args=letter.args, kwargs=letter.kwargs)
            else:
                app.send_task(letter.task_name, args=letter.args, kwargs=letter.kwargs)
        except Exception:
            DeadLetter.objects.filter(pk=letter.pk).update(
                retried=letter.retried, retried_at=letter.retried_at
            )
            raise
        audit(actor=actor, action="dead_letter.retry", target=letter)
        enqueued += 1
    return enqueued
