"""Email from services and jobs, sent by a task once the transaction commits: a mail server
that fails is retried with backoff and finally leaves a dead letter (to send again from admin),
and never undoes the write that asked for the mail, nor loses what it recorded."""

from celery import shared_task
from django.core.mail import send_mass_mail
from django.db import transaction

from crm.celery import CrmTask

SEND_EMAILS_TASK = "crm.send_emails_task"

# (subject, body, from address, [to addresses]), as django.core.mail.send_mass_mail takes them.
Message = tuple[str, str, str, list[str]]


@shared_task(name=SEND_EMAILS_TASK, base=CrmTask)
def send_emails_task(messages: list[list]) -> int:
    return send_mass_mail([tuple(message) for message in messages], fail_silently=False)


def send_after_commit(messages: list[Message]) -> None:
    """Queue `messages` for sending once the current transaction commits (none if it rolls
    back)."""
    if messages:
        payload = [list(message) for message in messages]
        transaction.on_commit(lambda: send_emails_task.delay(payload))
