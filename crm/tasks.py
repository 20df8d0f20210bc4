"""Celery entry points of the crm app. Tasks take ids or names and call services or jobs."""

from celery import shared_task

from crm import jobs, services


@shared_task(name="crm.tasks.run_job_task", max_retries=2)
def run_job_task(name: str) -> dict:
    """Run a registered job under its lock (every beat entry goes through here)."""
    run = jobs.job_run(name)
    return {"job_run": run.pk, "status": run.status, "items": run.items_processed}


@shared_task(name="crm.tasks.beat_heartbeat_task", autoretry_for=(), ignore_result=True)
def beat_heartbeat_task() -> None:
    """Sent by beat every minute; a worker running it proves that beat is alive."""
    services.heartbeat_record(component="beat")
