"""The job platform's Celery tasks: every job run goes through `run_job_task`."""

from celery import shared_task
from celery.result import AsyncResult

from crm.celery import CrmTask
from crm.jobs.registry import RUN_JOB_TASK, get_job, registered_jobs
from crm.jobs.runner import job_run
from crm.jobs.services import heartbeat_record

BEAT_HEARTBEAT_TASK = "crm.jobs.beat_heartbeat_task"


class JobRunTask(CrmTask):
    """Every run carries its job's own time limits, whoever sends it: beat, `enqueue_job`, or a
    dead letter sent again. (Celery sets time limits when a task is sent, and the job's lease
    lock outlasts exactly these.)"""

    def apply_async(self, args=None, kwargs=None, **options):
        name = args[0] if args else (kwargs or {}).get("name")
        job = registered_jobs().get(name)
        if job is not None:
            limits = {k: v for k, v in job.send_options().items() if k != "expires"}
            options = {**limits, **options}
        return super().apply_async(args, kwargs, **options)


# Its outcome (the run's id, status and items) is stored, for a sender that waits for a run.
@shared_task(name=RUN_JOB_TASK, base=JobRunTask, max_retries=2, ignore_result=False)
def run_job_task(name: str) -> dict:
    """Run a registered job under its lock (beat's entries and `enqueue_job` come here)."""
    run = job_run(name)
    return {"job_run": run.pk, "status": run.status, "items": run.items_processed}


def enqueue_job(name: str) -> AsyncResult:
    """Queue one run of a job now (e.g. "Recalculate all")."""
    get_job(name)  # an unknown name is refused here, not by a worker later
    # A request queues it and nobody waits for its outcome (the job run says it): no result.
    return run_job_task.apply_async((name,), ignore_result=True)


@shared_task(name=BEAT_HEARTBEAT_TASK, autoretry_for=(), ignore_result=True)
def beat_heartbeat_task() -> None:
    """Sent by beat every minute; a worker running it proves that beat is alive."""
    heartbeat_record(component="beat")
