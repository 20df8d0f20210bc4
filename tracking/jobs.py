"""Tracking's scheduled jobs (beat's schedule is built from the registry)."""

import datetime as dt

from django.conf import settings
from django.utils import timezone

from crm.jobs import Progress, register_job
from tracking import partitions, processing, queue, retention, rollups, tasks

PROCESS = "process_tracking_events"
PURGE = "purge_tracking"
PARTITIONS = "tracking_partitions_ahead"


@register_job(
    PROCESS,
    schedule=dt.timedelta(minutes=1),
    time_limit=120,
    exclusive=False,  # rows are claimed with SKIP LOCKED: runs side by side share the backlog
    description="Turn pending raw tracking events into sessions and events (what the tasks "
    "queued by ingestion left).",
)
def process_tracking_events(progress: Progress) -> int:
    return processing.process_pending(budget=90, progress=progress).processed


@register_job(
    PURGE,
    schedule=dt.timedelta(days=1),
    time_limit=60 * 60,
    description="Delete processed raw tracking events older than TRACKING_RETENTION_DAYS "
    "(whole day partitions on PostgreSQL; one holding pending or failed rows is kept, and "
    "named in the run's log), and the dashboards' rollups older than TRACKING_ROLLUP_DAYS.",
)
def purge_tracking(progress: Progress) -> int:
    now = timezone.now()
    cutoff = now - dt.timedelta(days=settings.TRACKING_RETENTION_DAYS)
    deleted = retention.purge(before=cutoff, progress=progress).deleted
    # After the raw rows, which matter more: a failure here leaves them purged.
    rollups.purge(before=now - dt.timedelta(days=settings.TRACKING_ROLLUP_DAYS))
    return deleted


# --- The queue in front of the raw table (TRACKING_QUEUE=redis) --------------------------------

DRAIN = "drain_tracking_queue"


# Each run drains for TRACKING_QUEUE_DRAIN_SECONDS, waiting on the stream (a blocking read costs
# Redis nothing) rather than ending when it is empty, and beat starts one every 30 s: entries
# are stored within a second of arriving, without a run (a job-run row, a task) every few
# seconds. Not exclusive: runs side by side (a second worker, `manage.py run_job` by hand
# during a burst) read as consumers of one group and share the stream; a run killed mid-batch
# leaves its entries to the next after TRACKING_QUEUE_CLAIM_SECONDS.
@register_job(
    DRAIN,
    schedule=dt.timedelta(seconds=30),
    time_limit=120,
    exclusive=False,
    description="Store the events queued in Redis (TRACKING_QUEUE=redis) in the raw table.",
)
def drain_tracking_queue(progress: Progress) -> int:
    if not queue.enabled():
        # Switched off with entries still waiting: they are stored all the same.
        if not queue.leftover():
            return 0
        return queue.drain(
            budget=settings.TRACKING_QUEUE_DRAIN_SECONDS, until_empty=True,
            stored=tasks.process_soon,
        )  # fmt: skip
    return queue.drain(
        budget=settings.TRACKING_QUEUE_DRAIN_SECONDS, progress=progress,
        stored=tasks.process_soon,
    )  # fmt: skip


@register_job(
    PARTITIONS,
    schedule=dt.timedelta(hours=6),  # a missed run or two still leaves days ahead
    time_limit=10 * 60,
    description=f"Create the raw tracking table's partitions for today and the next "
    f"{partitions.DAYS_AHEAD} days (PostgreSQL).",
)
def tracking_partitions_ahead(progress: Progress) -> int:
    return len(partitions.ensure())
