"""Celery beat's scheduler, with the job registry as its schedule.

Settings name it (`CELERY_BEAT_SCHEDULER`); beat creates it after Django has started and every
app's jobs.py is loaded, so the schedule is whatever the apps registered.

Several beats may run (one per machine, so that losing a machine loses no schedule), and only
one of them sends: the one holding the beat's lease, a lease row like a job's
(`crm.jobs.lock`), renewed as it ticks. The others keep their schedules ticking and send
nothing; when the sender dies its lease runs out and the next to tick takes it over. A job run
twice because two beats sent the same tick would be a second run per interval; a job's own
lock only stops runs that overlap.
"""

import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

from celery.beat import PersistentScheduler
from django.db import DatabaseError, close_old_connections

from crm.jobs.lock import lock_acquire, lock_extend
from crm.jobs.registry import beat_schedule
from crm.jobs.tasks import BEAT_HEARTBEAT_TASK

logger = logging.getLogger(__name__)

# Proves that beat is alive: a worker records the beat's heartbeat when it runs this. It expires
# quickly, so a backlog drained after a worker outage cannot vouch for a dead beat.
BEAT_HEARTBEAT_ENTRY = {
    "beat-heartbeat": {
        "task": BEAT_HEARTBEAT_TASK,
        "schedule": 60.0,
        "options": {"expires": 55},
    }
}
BEAT_LOCK = "beat:sender"


class RegistryScheduler(PersistentScheduler):
    #: How long a beat that stops ticking keeps the others from sending.
    lease = timedelta(seconds=30)
    #: Beat wakes at least this often (seconds), so that the sender renews its lease in time
    #: and a waiting beat takes over soon after it runs out.
    max_interval = 10

    def setup_schedule(self) -> None:
        self.holder = uuid.uuid4().hex
        self.sending = False
        self._lease_checked_at = -float("inf")
        self.app.conf.beat_schedule = beat_schedule(extra=BEAT_HEARTBEAT_ENTRY)
        super().setup_schedule()
        # The heartbeat is due at beat's first tick, not a minute after it starts: a fresh
        # install (or a restarted beat) is not "degraded" for its first minute.
        for name in BEAT_HEARTBEAT_ENTRY:
            self.schedule[name].last_run_at = datetime(2000, 1, 1, tzinfo=UTC)

    def tick(self, *args, **kwargs):
        self._hold_lease()
        return super().tick(*args, **kwargs)

    def apply_entry(self, entry, producer=None):
        if not self.sending:
            logger.debug("beat: %s not sent: another beat sends", entry.name)
            return
        super().apply_entry(entry, producer=producer)

    def _hold_lease(self) -> None:
        """Renew the lease (or take it, when nobody holds a live one) every third of it."""
        now = time.monotonic()
        if now - self._lease_checked_at < self.lease.total_seconds() / 3:
            return
        self._lease_checked_at = now
        close_old_connections()  # a long-running process: a connection may have died
        try:
            sending = lock_extend(BEAT_LOCK, holder=self.holder, lease=self.lease) or (
                lock_acquire(BEAT_LOCK, holder=self.holder, lease=self.lease)
            )
        except DatabaseError:
            # No database, no lease: nobody sends, and no job could run anyway.
            logger.warning("beat: the lease could not be renewed; sending nothing", exc_info=True)
            sending = False
        if sending != self.sending:
            logger.info("beat: %s", "sending" if sending else "standing by: another beat sends")
        self.sending = sending
