"""Reminders that a month's plan is not set: each kind once per plan, emailed, acknowledged."""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import (
    Case,
    Exists,
    OuterRef,
    Value,
    When,
)
from django.urls import reverse
from django.utils import timezone

from crm import periods
from crm.mail import send_after_commit
from crm.roles import Actor
from crm.writes import locked
from goals.models import (
    PlanReminder,
    ReminderKind,
    RepPlan,
)
from goals.plans import selectors

REMINDER_SUBJECT = "Set your goals for {month}: {when}"
REMINDER_BODY = (
    "Hello {name},\n\nyour goals for {month} are not set yet. They are due by {deadline}.\n\n"
    "Set them on your dashboard: {url}\n"
    "Seen it? Acknowledge this reminder: {ack}\n"
)
REMINDER_WHEN = {
    ReminderKind.THREE_DAYS: "due in 3 days",
    ReminderKind.ONE_DAY: "due tomorrow",
    ReminderKind.OVERDUE: "overdue",
}


@transaction.atomic
def send_reminders(*, now: dt.datetime | None = None, email: bool = True) -> int:
    """Remind the reps whose plan for a month under way is not set: 3 days before its deadline,
    1 day before, and once it is overdue; each reminder once per plan (a rep first reached
    late gets the most urgent one only). Emails them (unless `email` is off: demo data).
    Returns the reminders sent."""
    now = now or timezone.now()
    unset = RepPlan.objects.filter(
        ~selectors.period_over(now),
        month__isnull=False,
        goal_set_at__isnull=True,
        rep__active=True,
        deadline__lte=now + dt.timedelta(days=3),
    )
    stage = Case(
        When(deadline__lt=now, then=Value(ReminderKind.OVERDUE)),
        When(deadline__lte=now + dt.timedelta(days=1), then=Value(ReminderKind.ONE_DAY)),
        default=Value(ReminderKind.THREE_DAYS),
    )
    due = (
        unset.annotate(stage=stage)
        .exclude(Exists(PlanReminder.objects.filter(plan=OuterRef("pk"), kind=OuterRef("stage"))))
        .values_list("pk", "stage")
    )
    PlanReminder.objects.bulk_create(
        [PlanReminder(plan_id=pk, kind=kind, sent_at=now) for pk, kind in due],
        ignore_conflicts=True,
    )
    sent = list(
        PlanReminder.objects.filter(sent_at=now, emailed_to="").select_related("plan__rep__user")
    )
    messages = [_reminder_mail(reminder) for reminder in sent if reminder.plan.rep.user.email]
    for reminder in sent:
        reminder.emailed_to = reminder.plan.rep.user.email
    PlanReminder.objects.bulk_update(sent, ["emailed_to"])
    if email:
        send_after_commit(messages)
    return len(sent)


def _reminder_mail(reminder: PlanReminder) -> tuple:
    plan, rep = reminder.plan, reminder.plan.rep
    zone = periods.zone_named(rep.timezone)
    return (
        REMINDER_SUBJECT.format(month=plan.label, when=REMINDER_WHEN[reminder.kind]),
        REMINDER_BODY.format(
            name=rep,
            month=plan.label,
            deadline=periods.format_moment(plan.deadline, "l j F, H:i", zone=zone),
            url=settings.SITE_URL + reverse("goals:plan"),
            ack=settings.SITE_URL + reverse("goals:reminder-ack", args=[reminder.pk]),
        ),
        settings.DEFAULT_FROM_EMAIL,
        [rep.user.email],
    )


@transaction.atomic
def reminder_acknowledge(*, actor: Actor, reminder_id: int) -> PlanReminder:
    """The rep says they have seen a reminder (only theirs; 404 otherwise), and so the earlier
    ones of the same plan. Once is enough."""
    reminder = locked(PlanReminder.objects.filter(plan__rep__user_id=actor.pk), reminder_id)
    PlanReminder.objects.filter(
        plan_id=reminder.plan_id, sent_at__lte=reminder.sent_at, acknowledged_at__isnull=True
    ).update(acknowledged_at=timezone.now())
    reminder.refresh_from_db()
    return reminder
