"""The job platform: a registry of periodic jobs, a distributed lock (a lease in the database),
and the runner that records one JobRun per run.

A job is a function `(progress) -> items processed`, registered with `@register_job`. Celery beat
runs jobs through `crm.tasks.run_job_task`; ops run them now with `manage.py run_job NAME`. Each
app registers its jobs in its own `jobs.py` (loaded at start-up by CrmConfig.ready).
"""

import logging
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, ExpressionWrapper
from django.db.models.functions import Now
from django.utils import timezone

from crm.models import JobLock, JobRun, JobRunStatus

logger = logging.getLogger(__name__)

Progress = Callable[[int, int | None], None]
"""progress(done, total): jobs report how far they are; total may be unknown (None)."""

# A lease outlives Celery's hard time limit, so a run still going is never taken over; a run
# killed at the limit blocks the next one for at most the difference.
DEFAULT_LEASE = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 300)
ABANDONED_RUN_ERROR = "Abandoned: its process stopped before finishing (lease expired)."


class UnknownJob(KeyError):
    pass


@dataclass(frozen=True)
class Job:
    name: str
    func: Callable[[Progress], int]
    description: str
    lease: timedelta


_registry: dict[str, Job] = {}


def register_job(name: str, *, description: str = "", lease: timedelta = DEFAULT_LEASE):
    """Register `func(progress) -> int` as the job `name`. The lease must outlast a normal run:
    a holder that crashes blocks the job for at most that long."""

    if lease.total_seconds() <= settings.CELERY_TASK_TIME_LIMIT:
        raise ValueError(f"Job {name}: the lease must outlast CELERY_TASK_TIME_LIMIT.")

    def decorator(func: Callable[[Progress], int]) -> Callable[[Progress], int]:
        _registry[name] = Job(name=name, func=func, description=description, lease=lease)
        return func

    return decorator


def registered_jobs() -> dict[str, Job]:
    return dict(sorted(_registry.items()))


def get_job(name: str) -> Job:
    try:
        return _registry[name]
    except KeyError:
        known = ", ".join(registered_jobs()) or "none"
        raise UnknownJob(f"No job named '{name}'. Registered jobs: {known}.") from None


# --- Distributed lock -------------------------------------------------------------------------


def _expiry(lease: timedelta) -> ExpressionWrapper:
    # The database's clock, not this host's: hosts with skewed clocks agree on expiry.
    return ExpressionWrapper(Now() + lease, output_field=DateTimeField())


def lock_acquire(name: str, *, holder: str, lease: timedelta) -> bool:
    """Take the lease on `name` if nobody holds it or the holder's lease has run out.

    Both statements are single-row and atomic in PostgreSQL and SQLite: two concurrent INSERTs
    collide on the primary key, and two concurrent take-overs of an expired lease serialise on the
    row lock, the second re-checking `expires_at` and updating nothing.
    """
    try:
        with transaction.atomic():
            JobLock.objects.create(
                name=name, holder=holder, acquired_at=Now(), expires_at=_expiry(lease)
            )
        return True
    except IntegrityError:
        pass
    taken_over = JobLock.objects.filter(name=name, expires_at__lte=Now()).update(
        holder=holder, acquired_at=Now(), expires_at=_expiry(lease)
    )
    return taken_over == 1


def lock_release(name: str, *, holder: str) -> None:
    """Release the lease if we still hold it (it may have expired and been taken over)."""
    JobLock.objects.filter(name=name, holder=holder).delete()


def lock_extend(name: str, *, holder: str, lease: timedelta) -> bool:
    """Push the lease's expiry forward for a long run; False if it was lost meanwhile."""
    return JobLock.objects.filter(name=name, holder=holder).update(expires_at=_expiry(lease)) == 1


@contextmanager
def job_lock(name: str, *, lease: timedelta = DEFAULT_LEASE) -> Iterator[str | None]:
    """`with job_lock("x") as holder:` runs the body whether or not the lock was acquired
    (holder is None when it was not); the body decides what to do then."""
    holder = uuid.uuid4().hex
    acquired = lock_acquire(name, holder=holder, lease=lease)
    try:
        yield holder if acquired else None
    finally:
        if acquired:
            lock_release(name, holder=holder)


# --- Runner -----------------------------------------------------------------------------------


def _no_progress(done: int, total: int | None) -> None:
    pass


def job_run(name: str, *, progress: Progress | None = None) -> JobRun:
    """Run the job under its lock and record the run.

    Returns the JobRun (status skipped_locked when another process holds the lock). A failing
    job is recorded as failed and its exception re-raised, so that Celery retries it and, when
    the retries run out, leaves a dead letter. Each progress report also renews the lease.
    """
    job = get_job(name)
    lock_name = f"job:{name}"
    started = timezone.now()
    with job_lock(lock_name, lease=job.lease) as holder:
        if holder is None:
            logger.info("job %s skipped: another run holds the lock", name)
            return JobRun.objects.create(
                name=name,
                status=JobRunStatus.SKIPPED_LOCKED,
                started_at=started,
                finished_at=started,
            )
        # Holding the lock, any run of this job still marked running has lost its process.
        JobRun.objects.filter(name=name, status=JobRunStatus.RUNNING).update(
            status=JobRunStatus.FAILED, error=ABANDONED_RUN_ERROR, finished_at=started
        )
        run = JobRun.objects.create(name=name, status=JobRunStatus.RUNNING, started_at=started)

        def report(done: int, total: int | None) -> None:
            lock_extend(lock_name, holder=holder, lease=job.lease)
            (progress or _no_progress)(done, total)

        try:
            items = job.func(report)
        except Exception as exc:
            run.status = JobRunStatus.FAILED
            run.error = "".join(traceback.format_exception_only(exc)).strip()[:10_000]
            run.finished_at = timezone.now()
            run.save(update_fields=["status", "error", "finished_at"])
            logger.exception("job %s failed", name)
            raise
        run.status = JobRunStatus.SUCCEEDED
        run.items_processed = items or 0
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "items_processed", "finished_at"])
        return run


# --- Jobs of the crm app ----------------------------------------------------------------------

JOB_RUN_RETENTION = timedelta(days=90)


@register_job(
    "retry_dead_letters",
    description=(
        "Re-enqueue dead letters not yet retried that have failed at most "
        "DEAD_LETTER_AUTO_RETRY_LIMIT times; the rest wait for an admin."
    ),
)
def retry_dead_letters_job(progress: Progress) -> int:
    from crm.models import DeadLetter
    from crm.services import DEAD_LETTER_AUTO_RETRY_LIMIT, dead_letters_retry

    letters = DeadLetter.objects.filter(
        retried=False, failure_count__lte=DEAD_LETTER_AUTO_RETRY_LIMIT
    )
    total = letters.count()
    progress(0, total)
    done = dead_letters_retry(letters=letters)
    progress(done, total)
    return done


@register_job("prune_job_runs", description="Delete job runs older than 90 days.")
def prune_job_runs_job(progress: Progress) -> int:
    deleted, _ = JobRun.objects.filter(started_at__lt=timezone.now() - JOB_RUN_RETENTION).delete()
    progress(deleted, deleted)
    return deleted
