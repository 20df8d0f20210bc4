"""Supervision's scheduled job (beat's schedule is built from the registry)."""

import datetime as dt

from celery.schedules import crontab
from django.conf import settings
from django.utils import timezone

from crm.jobs import Progress, register_job
from supervision.models import Analysis

PRUNE_REVIEWS = "supervision_prune_reviews"


@register_job(
    PRUNE_REVIEWS,
    schedule=crontab(hour=3, minute=40),
    time_limit=10 * 60,
    description="Delete the kept reviews older than SUPERVISION_ANALYSIS_KEEP_DAYS.",
)
def prune_reviews(progress: Progress) -> int:
    cutoff = timezone.now() - dt.timedelta(days=settings.SUPERVISION_ANALYSIS_KEEP_DAYS)
    deleted, _ = Analysis.objects.filter(created_at__lt=cutoff).delete()
    progress(deleted, deleted)
    return deleted
