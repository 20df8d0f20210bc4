"""The Celery application and its base task class. Configuration only: the settings (namespace
CELERY_) say how it runs, the job platform (`crm.jobs`) what it runs; beat's schedule comes from
the job registry (`crm.jobs.scheduler`). Nothing here imports domain code at module level.
"""

import os

from celery import Celery, Task, bootsteps

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

WORKER_HEARTBEAT_SECONDS = 30.0


class CrmTask(Task):
    """Default for every task: retry with exponential backoff, then leave a dead letter.

    Tasks must be idempotent: with acks_late a task whose worker dies is delivered again.

    Nobody waits for a task's return value (what it did is in the database: goals, job runs,
    dead letters), so none is stored unless a task says otherwise. Sending one that stores it
    subscribes the sender to the result store first: with Redis down that subscription retries
    for 20 seconds inside the web request that queued the task.
    """

    ignore_result = True
    autoretry_for = (Exception,)
    max_retries = 5
    retry_backoff = 2
    retry_backoff_max = 600
    retry_jitter = True
    acks_late = True

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        # Called once the task has given up (retries go through on_retry instead).
        from crm.jobs.services import dead_letter_record

        dead_letter_record(
            task_name=self.name,
            args=args,
            kwargs=kwargs,
            error=f"{type(exc).__name__}: {exc}"[:10_000],
            traceback=str(einfo)[:50_000],
        )


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Records the worker's heartbeat every 30 s (read by /health/), independent of beat."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.tref = None

    def start(self, worker) -> None:
        self._beat()
        self.tref = worker.timer.call_repeatedly(WORKER_HEARTBEAT_SECONDS, self._beat)

    def stop(self, worker) -> None:
        if self.tref is not None:
            self.tref.cancel()

    def _beat(self) -> None:
        from django.db import close_old_connections

        from crm.jobs.services import heartbeat_record

        close_old_connections()
        heartbeat_record(component="worker")


app = Celery("crm", task_cls=CrmTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.steps["worker"].add(WorkerHeartbeat)
app.autodiscover_tasks()
