"""The job platform's Celery tasks: every job run goes through `run_job_task`."""

from celery import shared_task
from celery.result import AsyncResult

from crm.jobs.registry import RUN_JOB_TASK, get_job
from crm.jobs.runner import job_run
from crm.jobs.services import heartbeat_record

BEAT_HEARTBEAT_TASK = "crm.jobs.beat_heartbeat_task"


@shared_task(name=RUN_JOB_TASK, max_retries=2)
def run_job_task(name: str) -> dict:
    """Run a registered job under its lock (beat's entries and `enqueue_job` come here)."""
    run = job_run(name)
    return {"job_run": run.pk, "status": run.status, "items": run.items_processed}


def enqueue_job(name: str) -> AsyncResult:
    """Queue one run of a job now, with the job's own time limits (e.g. "Recalculate all")."""
    job = get_job(name)
    options = {key: value for key, value in job.send_options().items() if key != "expires"}
    return run_job_task.apply_async(args=(name,), **options)


@shared_task(name=BEAT_HEARTBEAT_TASK, autoretry_for=(), ignore_result=True)
def beat_heartbeat_task() -> None:
    """Sent by beat every minute; a worker running it proves that beat is alive."""
    heartbeat_record(component="beat")
