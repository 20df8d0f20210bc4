"""The Celery application, its base task class and the one beat schedule of the project.

Every periodic job is a registered job (see `crm.jobs`) run by `crm.tasks.run_job_task`, which takes
the job's distributed lock and records a job run. Later apps add their jobs to `BEAT_SCHEDULE`.
"""

import os

from celery import Celery, Task, bootsteps
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

WORKER_HEARTBEAT_SECONDS = 30.0


class CrmTask(Task):
    """Default for every task: retry with exponential backoff, then leave a dead letter.

    Tasks must be idempotent: with acks_late a task whose worker dies is delivered again.
    """

    autoretry_for = (Exception,)
    max_retries = 5
    retry_backoff = 2
    retry_backoff_max = 600
    retry_jitter = True
    acks_late = True

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        # Called once the task has given up (retries go through on_retry instead).
        from crm.services import dead_letter_record

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

        from crm.services import heartbeat_record

        close_old_connections()
        heartbeat_record(component="worker")


app = Celery("crm", task_cls=CrmTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.steps["worker"].add(WorkerHeartbeat)
app.autodiscover_tasks()


def _job(name: str, schedule, *, expires: int) -> dict:
    # `expires`: a tick still queued when the next one is due is dropped, not run late twice.
    return {
        "task": "crm.tasks.run_job_task",
        "schedule": schedule,
        "args": (name,),
        "options": {"expires": expires},
    }


BEAT_SCHEDULE = {
    # Proves that beat is alive: a worker records the beat's heartbeat when it runs this. It
    # expires quickly, so a backlog drained after a worker outage cannot vouch for a dead beat.
    "beat-heartbeat": {
        "task": "crm.tasks.beat_heartbeat_task",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "retry-dead-letters": _job("retry_dead_letters", crontab(minute=7), expires=3000),
    "prune-job-runs": _job("prune_job_runs", crontab(hour=3, minute=17), expires=6 * 3600),
}

app.conf.beat_schedule = BEAT_SCHEDULE
