"""The job platform's own jobs: retrying dead letters, closing abandoned runs, pruning runs."""

from datetime import timedelta

from celery.schedules import crontab
from django.db.models import Exists, OuterRef, Q, Value
from django.db.models.functions import Concat, Now
from django.utils import timezone

from crm.idempotency.services import idempotency_keys_purge
from crm.jobs.models import DeadLetter, JobLock, JobRun, JobRunStatus
from crm.jobs.registry import (
    DEFAULT_TIME_LIMIT,
    LEASE_MARGIN,
    Progress,
    register_job,
    registered_jobs,
)
from crm.jobs.services import DEAD_LETTER_AUTO_RETRY_LIMIT, dead_letters_retry
from crm.roles import SystemActor

JOB_RUN_RETENTION = timedelta(days=90)
# Runs that succeeded with nothing to do are noise after a week (a one-minute job leaves 1,440
# a day); failures and runs that did work are kept for JOB_RUN_RETENTION.
IDLE_RUN_RETENTION = timedelta(days=7)
ABANDONED_RUN_ERROR = "Abandoned: its process stopped before finishing (lease expired)."


@register_job(
    "retry_dead_letters",
    schedule=crontab(minute=7),
    time_limit=5 * 60,
    description=(
        "Re-enqueue dead letters not yet retried that have failed at most "
        f"{DEAD_LETTER_AUTO_RETRY_LIMIT} times; the rest wait for an admin."
    ),
)
def retry_dead_letters_job(progress: Progress) -> int:
    letters = DeadLetter.objects.filter(
        retried=False, failure_count__lte=DEAD_LETTER_AUTO_RETRY_LIMIT
    )
    total = letters.count()
    progress(0, total)
    done = dead_letters_retry(letters=letters, actor=SystemActor("job:retry_dead_letters"))
    progress(done, total)
    return done


@register_job(
    "close_abandoned_job_runs",
    schedule=timedelta(minutes=1),
    time_limit=50,
    description="Mark as failed the runs whose process died (their lease ran out).",
)
def close_abandoned_job_runs_job(progress: Progress) -> int:
    """A run still marked running whose job holds no live lease has lost its process: Celery
    stops a run at its time limit, and the lease outlives that limit. Runs of jobs without the
    lock, or no longer registered, are judged by their start time."""
    now = timezone.now()
    jobs = registered_jobs()
    live_lease = JobLock.objects.filter(
        name=Concat(Value("job:"), OuterRef("name")), expires_at__gt=Now()
    )
    abandoned = Q(name__in=[n for n, job in jobs.items() if job.exclusive]) & ~Exists(live_lease)
    for name, job in jobs.items():
        if not job.exclusive:
            abandoned |= Q(name=name, started_at__lt=now - job.lease)
    default_lease = timedelta(seconds=DEFAULT_TIME_LIMIT) + LEASE_MARGIN
    abandoned |= ~Q(name__in=jobs) & Q(started_at__lt=now - default_lease)
    closed = JobRun.objects.filter(abandoned, status=JobRunStatus.RUNNING).update(
        status=JobRunStatus.FAILED, error=ABANDONED_RUN_ERROR, finished_at=Now()
    )
    progress(closed, closed)
    return closed


@register_job(
    "prune_job_runs",
    schedule=crontab(hour=3, minute=17),
    time_limit=30 * 60,
    expires=6 * 3600,
    description="Delete job runs after 90 days, and idle successful runs after 7.",
)
def prune_job_runs_job(progress: Progress) -> int:
    now = timezone.now()
    deleted, _ = JobRun.objects.filter(
        Q(started_at__lt=now - JOB_RUN_RETENTION)
        | Q(
            started_at__lt=now - IDLE_RUN_RETENTION,
            status__in=[JobRunStatus.SUCCEEDED, JobRunStatus.SKIPPED_LOCKED],
            items_processed=0,
        )
    ).delete()
    progress(deleted, deleted)
    return deleted


# --- The API's idempotency keys -------------------------------------------------------------------


@register_job(
    "purge_idempotency_keys",
    schedule=crontab(minute=41),
    time_limit=10 * 60,
    description="Delete the API's idempotency keys older than 24 hours.",
)
def purge_idempotency_keys_job(progress: Progress) -> int:
    deleted = idempotency_keys_purge()
    progress(deleted, deleted)
    return deleted
