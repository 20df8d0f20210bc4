"""Email from services and jobs, sent by a task once the transaction commits: a mail server
that fails is retried with backoff and finally leaves a dead letter (to send again from admin),
and never undoes the write that asked for the mail, nor loses what it recorded.

When the broker (Redis) cannot take the task at commit, the mail becomes a dead letter at once
(the hourly `retry_dead_letters` job, the ops dashboard or Django admin send it again) and a log
line says so with the request's id: the write that asked for it has committed and stands."""

import logging

from celery import shared_task
from django.core.mail import send_mass_mail
from django.db import transaction

from crm.celery import CrmTask
from crm.jobs.services import dead_letter_record
from crm.logs import current_request_id

logger = logging.getLogger(__name__)

SEND_EMAILS_TASK = "crm.send_emails_task"
NOT_QUEUED = "The broker did not take the mail at commit (request {request_id}): {error}"

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
        transaction.on_commit(lambda: _queue_or_keep(payload), robust=True)


def _queue_or_keep(payload: list[list]) -> None:
    try:
        send_emails_task.delay(payload)
    except Exception as error:  # whatever the broker raised, the mail is kept for a retry
        _keep(payload, error)


def _keep(payload: list[list], error: Exception) -> None:
    request_id = current_request_id()
    reason = f"{type(error).__name__}: {error}"
    subjects = [message[0] for message in payload]
    try:
        dead_letter_record(
            task_name=SEND_EMAILS_TASK,
            args=[payload],
            kwargs={},
            error=NOT_QUEUED.format(request_id=request_id, error=reason),
        )
    except Exception:
        # Not even the database took it: the log line is all that is left, so it carries the
        # whole mail for a person to send.
        logger.exception(
            "mail lost: neither the broker nor the database took it",
            extra={"request_id": request_id, "mail": payload},
        )
        return
    logger.error(
        "mail not queued (broker unavailable): kept as a dead letter to send again",
        extra={"request_id": request_id, "subjects": subjects},
    )
