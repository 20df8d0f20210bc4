"""A job that only the embedded-mode test schedules (loaded through CELERY_IMPORTS)."""

from datetime import timedelta

from crm.jobs import Progress, register_job


@register_job("test_every_two_seconds", schedule=timedelta(seconds=2), time_limit=10)
def every_two_seconds(progress: Progress) -> int:
    return 1
