"""A real Celery worker (subprocess) on the real Redis broker, against the test database."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from crm.jobs.models import DeadLetter, Heartbeat, JobRun, JobRunStatus
from crm.jobs.tasks import run_job_task
from crm.testing.celery_worker import WORKER_LOG, wait_for
from crm.tests.celery_tasks import always_fails

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_worker_runs_a_job_and_records_the_run(worker):
    result = run_job_task.delay("prune_job_runs")
    outcome = result.get(timeout=30)
    assert outcome["status"] == JobRunStatus.SUCCEEDED
    run = JobRun.objects.get(pk=outcome["job_run"])
    assert run.name == "prune_job_runs"
    assert run.status == JobRunStatus.SUCCEEDED
    # The worker's own heartbeat step recorded that it is alive.
    assert Heartbeat.objects.filter(component="worker").exists()


def test_failing_task_is_dead_lettered_after_retries_and_admin_retry_reenqueues(
    worker, admin_client
):
    always_fails.delay(7, reason="demo")
    letter = wait_for(lambda: DeadLetter.objects.filter(task_name="crm.tests.always_fails").first())
    assert letter.args == [7]
    assert letter.kwargs == {"reason": "demo"}
    assert "failing on purpose: 7 demo" in letter.error
    assert "RuntimeError" in letter.traceback
    assert letter.failure_count == 1
    assert not letter.retried
    # The letter came only after the task's two retries (max_retries=2).
    retries = WORKER_LOG.read_text().count(
        "Retry in 0s: RuntimeError('failing on purpose: 7 demo')"
    )
    assert retries == 2

    response = admin_client.post(
        reverse("admin:crm_deadletter_changelist"),
        {"action": "retry_selected", ACTION_CHECKBOX_NAME: [letter.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Re-enqueued 1 task(s)." in response.content.decode()

    # The worker runs it again; it fails again through its retries and its letter comes back.
    wait_for(lambda: DeadLetter.objects.get(pk=letter.pk).failure_count == 2)
    letter.refresh_from_db()
    assert letter.retried is False
    assert DeadLetter.objects.count() == 1
