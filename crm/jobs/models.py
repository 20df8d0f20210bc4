"""The job platform's records: lease locks, job runs, dead letters and heartbeats.

They belong to the `crm` app (crm/models.py imports them so that Django registers them there) but
nothing here knows about sales data.
"""

from django.db import models
from django.db.models import Q

from crm.periods import format_moment


class JobLock(models.Model):
    """A lease on a job name. Expired leases may be taken over, so a crashed holder blocks
    nobody for longer than the lease."""

    name = models.CharField(max_length=100, primary_key=True)
    holder = models.CharField(max_length=64)
    acquired_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        app_label = "crm"

    def __str__(self) -> str:
        return self.name


class JobRunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED_LOCKED = "skipped_locked", "Skipped (locked)"
    SKIPPED_PAUSED = "skipped_paused", "Skipped (area's jobs paused)"


class JobRun(models.Model):
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=20, choices=JobRunStatus.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    items_processed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        app_label = "crm"
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=JobRunStatus.values), name="job_run_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["name", "-started_at"], name="job_run_name_started")]

    def __str__(self) -> str:
        return f"{self.name} {format_moment(self.started_at, 'Y-m-d H:i')} {self.status}"

    @property
    def duration(self):
        return self.finished_at - self.started_at if self.finished_at else None


class DeadLetter(models.Model):
    """A task that failed after its last retry. The same task with the same arguments failing
    again updates its letter rather than adding another."""

    task_name = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    error = models.TextField()
    traceback = models.TextField(blank=True)
    failure_count = models.PositiveIntegerField(default=1)
    first_failed_at = models.DateTimeField()
    last_failed_at = models.DateTimeField()
    retried = models.BooleanField(default=False)
    retried_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "crm"
        ordering = ["-last_failed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["task_name", "fingerprint"], name="dead_letter_unique_task_args"
            ),
        ]
        indexes = [models.Index(fields=["retried", "last_failed_at"], name="dead_letter_pending")]

    def __str__(self) -> str:
        return f"{self.task_name} ({self.failure_count} failures)"


class Heartbeat(models.Model):
    """When a background component (worker, beat) last showed it was alive."""

    component = models.CharField(max_length=30, primary_key=True)
    seen_at = models.DateTimeField()

    class Meta:
        app_label = "crm"

    def __str__(self) -> str:
        return f"{self.component} @ {format_moment(self.seen_at, 'H:i:s')}"
