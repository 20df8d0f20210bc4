"""Runs a registered job and records the run."""

import logging
import traceback
from contextlib import nullcontext

from django.utils import timezone

from crm.jobs.lock import job_lock, lock_extend
from crm.jobs.models import JobRun, JobRunStatus
from crm.jobs.registry import Job, Progress, get_job
from crm.switches.selectors import area_of_module, jobs_paused

logger = logging.getLogger(__name__)


def _no_progress(done: int, total: int | None) -> None:
    pass


def job_run(name: str, *, progress: Progress | None = None) -> JobRun:
    """Run the job (under its lock, unless it is not exclusive) and record the run.

    Returns the JobRun (status skipped_locked when another process holds the lock,
    skipped_paused when an administrator paused the jobs of its area: crm.switches). A failing
    job is recorded as failed and its exception re-raised, so that Celery retries it and, when
    the retries run out, leaves a dead letter. Each progress report renews the lease.
    """
    job = get_job(name)
    started = timezone.now()
    if jobs_paused(area_of_module(job.func.__module__)) is not None:
        logger.info("job %s skipped: its area's jobs are paused", name)
        return JobRun.objects.create(
            name=name, status=JobRunStatus.SKIPPED_PAUSED, started_at=started, finished_at=started
        )
    lock = job_lock(job.lock_name, lease=job.lease) if job.exclusive else nullcontext("")
    with lock as holder:
        if holder is None:
            logger.info("job %s skipped: another run holds the lock", name)
            return JobRun.objects.create(
                name=name,
                status=JobRunStatus.SKIPPED_LOCKED,
                started_at=started,
                finished_at=started,
            )
        return _run(job, holder, started, progress or _no_progress)


def _run(job: Job, holder: str, started, progress: Progress) -> JobRun:
    run = JobRun.objects.create(name=job.name, status=JobRunStatus.RUNNING, started_at=started)

    def report(done: int, total: int | None) -> None:
        if holder:
            lock_extend(job.lock_name, holder=holder, lease=job.lease)
        progress(done, total)

    try:
        items = job.func(report)
    except Exception as exc:
        run.status = JobRunStatus.FAILED
        run.error = "".join(traceback.format_exception_only(exc)).strip()[:10_000]
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
        logger.exception("job %s failed", job.name)
        raise
    run.status = JobRunStatus.SUCCEEDED
    run.items_processed = items or 0
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "items_processed", "finished_at"])
    return run
