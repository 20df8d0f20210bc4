"""Tracking's scheduled jobs (beat's schedule is built from the registry)."""

import datetime as dt

from django.conf import settings
from django.utils import timezone

from crm.jobs import Progress, register_job
from tracking import processing, retention

PROCESS = "process_tracking_events"
PURGE = "purge_tracking"


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
    description="Delete processed raw tracking events older than TRACKING_RETENTION_DAYS.",
)
def purge_tracking(progress: Progress) -> int:
    cutoff = timezone.now() - dt.timedelta(days=settings.TRACKING_RETENTION_DAYS)
    return retention.purge(before=cutoff, progress=progress)
