"""Writes of the job platform: heartbeats and dead letters."""

import datetime as dt
import hashlib
import json
from typing import Any

from celery import current_app
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Case, DateTimeField, F, QuerySet, Value, When
from django.utils import timezone

from crm.jobs.models import DeadLetter, Heartbeat
from crm.roles import Actor, may_operate
from crm.writes import audit_many, name_actions

# Letters that failed more often than this wait for a person instead of the hourly retry.
DEAD_LETTER_AUTO_RETRY_LIMIT = 3
name_actions(
    {
        "dead_letter.retry": "Task sent again",
        "dead_letter.discard": "Dead letter discarded",
        "date.moved_into_range": "Date moved into the accepted range",
    }
)
UNKNOWN_TASK = "No task named '{name}' is loaded in this process, so it cannot run here."


class UnknownTask(LookupError):
    pass


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


def _enqueue(letter: DeadLetter) -> None:
    """Send the letter's task again. A task this process knows is sent as itself, so that it
    also runs when Celery runs tasks eagerly (a task sent by name would then never run)."""
    task = current_app.tasks.get(letter.task_name)
    if task is not None:
        task.apply_async(args=letter.args, kwargs=letter.kwargs)
    elif current_app.conf.task_always_eager:
        raise UnknownTask(UNKNOWN_TASK.format(name=letter.task_name))
    else:
        current_app.send_task(letter.task_name, args=letter.args, kwargs=letter.kwargs)


def dead_letters_retry(*, letters: QuerySet[DeadLetter], actor: Actor | None = None) -> int:
    """Enqueue each letter's task again with its arguments; return how many were enqueued.

    The letters are claimed (marked retried) together before any task is enqueued: if a task
    fails again (at once, when Celery runs eagerly, or later on a worker) dead_letter_record
    marks its letter pending again. If the broker refuses a message, the claim of that letter
    and of those not yet sent is undone and the error propagates.
    """
    claimed_at = timezone.now()
    with transaction.atomic():
        # Locked rows are skipped: another retry (the hourly job, a second click, the command)
        # is claiming them and sends them itself. A letter claimed and committed meanwhile is
        # read as it is now, so `letters` that ask for waiting ones no longer match it.
        claimed = list(letters.select_for_update(skip_locked=True).order_by("id"))
        if claimed:
            DeadLetter.objects.filter(pk__in=[letter.pk for letter in claimed]).update(
                retried=True, retried_at=claimed_at
            )
    enqueued = []
    try:
        for sent, letter in enumerate(claimed):
            try:
                _enqueue(letter)
            except Exception:
                _unclaim(claimed[sent:], claimed_at=claimed_at)
                raise
            enqueued.append((letter, None))
    finally:
        # The letters sent before a failure were sent: they are audited either way.
        audit_many(actor=actor, action="dead_letter.retry", targets=enqueued)
    return len(enqueued)


def _unclaim(letters: list[DeadLetter], *, claimed_at: dt.datetime) -> None:
    """Put unsent letters back as they were read, unless something marked them since (their
    task failed again, another retry claimed them)."""
    DeadLetter.objects.filter(
        pk__in=[letter.pk for letter in letters], retried=True, retried_at=claimed_at
    ).update(
        retried=Case(
            *[When(pk=letter.pk, then=Value(letter.retried)) for letter in letters],
            default=F("retried"),
        ),
        retried_at=Case(
            *[
                When(pk=letter.pk, then=Value(letter.retried_at, output_field=DateTimeField()))
                for letter in letters
            ],
            default=F("retried_at"),
        ),
    )


DEAD_LETTER_ACTIONS = ("retry", "discard")


def dead_letters_act(*, actor: Actor, task_name: str, action: str) -> int:
    """From the ops dashboard: send a task's waiting dead letters again, or discard them (a task
    that can never succeed, say for a record since deleted); audited. Returns how many."""
    if not may_operate(actor):
        raise PermissionDenied
    if action not in DEAD_LETTER_ACTIONS:
        raise ValidationError({"action": "Send again or discard."})
    letters = DeadLetter.objects.filter(task_name=task_name, retried=False)
    if action == "retry":  # claimed in a transaction of its own, then sent
        return dead_letters_retry(letters=letters, actor=actor)
    with transaction.atomic():
        doomed = list(letters.select_for_update())
        audit_many(
            actor=actor,
            action="dead_letter.discard",
            targets=[
                (
                    letter,
                    {"task": letter.task_name, "args": letter.args, "error": letter.error[:500]},
                )
                for letter in doomed
            ],
        )
        DeadLetter.objects.filter(pk__in=[letter.pk for letter in doomed]).delete()
    return len(doomed)
