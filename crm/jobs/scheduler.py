"""Celery beat's scheduler, with the job registry as its schedule.

Settings name it (`CELERY_BEAT_SCHEDULER`); beat creates it after Django has started and every
app's jobs.py is loaded, so the schedule is whatever the apps registered.
"""

from datetime import UTC, datetime

from celery.beat import PersistentScheduler

from crm.jobs.registry import beat_schedule
from crm.jobs.tasks import BEAT_HEARTBEAT_TASK

# Proves that beat is alive: a worker records the beat's heartbeat when it runs this. It expires
# quickly, so a backlog drained after a worker outage cannot vouch for a dead beat.
BEAT_HEARTBEAT_ENTRY = {
    "beat-heartbeat": {
        "task": BEAT_HEARTBEAT_TASK,
        "schedule": 60.0,
        "options": {"expires": 55},
    }
}


class RegistryScheduler(PersistentScheduler):
    def setup_schedule(self) -> None:
        self.app.conf.beat_schedule = beat_schedule(extra=BEAT_HEARTBEAT_ENTRY)
        super().setup_schedule()
        # The heartbeat is due at beat's first tick, not a minute after it starts: a fresh
        # install (or a restarted beat) is not "degraded" for its first minute.
        for name in BEAT_HEARTBEAT_ENTRY:
            self.schedule[name].last_run_at = datetime(2000, 1, 1, tzinfo=UTC)
