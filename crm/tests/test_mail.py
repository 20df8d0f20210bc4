"""Mail asked for by a write: sent after commit, and never lost when the broker is down then."""

import logging

import pytest
from django.core import mail
from django.db import transaction

from crm.jobs.models import DeadLetter
from crm.jobs.services import dead_letters_retry
from crm.logs import bind_request_id
from crm.mail import SEND_EMAILS_TASK, send_after_commit
from crm.models import Customer
from crm.testing import pytest_plugin
from crm.testing.servers import RedisServer
from crm.tests.factories import CustomerFactory

MESSAGE = ("Goal off track", "Your goal is behind.", "crm@example.com", ["rep@example.com"])


@pytest.fixture
def broker_down():
    """The suite's own Redis (the broker) stopped for the test, started again on its port."""
    redis = next((s for s in pytest_plugin._servers if isinstance(s, RedisServer)), None)
    if redis is None:
        pytest.skip("Redis is not this suite's own (TEST_REDIS_URL): it cannot be stopped here")
    redis.stop()
    try:
        yield
    finally:
        redis.start()


def _write_that_mails(name: str) -> None:
    with transaction.atomic():
        customer = CustomerFactory()
        Customer.objects.filter(pk=customer.pk).update(name=name)
        send_after_commit([MESSAGE])


@pytest.mark.django_db(transaction=True)
def test_a_mail_the_broker_cannot_take_at_commit_is_kept_as_a_dead_letter(broker_down, caplog):
    bind_request_id("req-mail-1")
    with caplog.at_level(logging.ERROR, logger="crm.mail"):
        _write_that_mails("Kiosk Nord")  # does not raise

    assert Customer.objects.filter(name="Kiosk Nord").exists()  # the write stands
    letter = DeadLetter.objects.get(task_name=SEND_EMAILS_TASK)
    assert letter.args == [[list(MESSAGE)]] and not letter.retried
    assert "req-mail-1" in letter.error
    (record,) = [r for r in caplog.records if r.name == "crm.mail"]
    assert record.request_id == "req-mail-1" and "dead letter" in record.getMessage()


@pytest.mark.django_db(transaction=True)
def test_a_kept_mail_is_sent_when_its_letter_is_retried(broker_down, request):
    _write_that_mails("Kiosk Süd")
    letters = DeadLetter.objects.filter(task_name=SEND_EMAILS_TASK)

    request.getfixturevalue("eager_celery")  # the task runs here: no broker, no worker
    assert dead_letters_retry(letters=letters) == 1

    (sent,) = mail.outbox
    assert (sent.subject, sent.to) == (MESSAGE[0], MESSAGE[3])


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_up_the_mail_is_queued_and_no_letter_is_left(eager_celery):
    _write_that_mails("Kiosk West")

    assert [m.subject for m in mail.outbox] == [MESSAGE[0]]
    assert not DeadLetter.objects.exists()
