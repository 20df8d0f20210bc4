"""The real jobs' work under leases of seconds, for the resilience tests' workers and beats
(loaded through CELERY_IMPORTS, never by the app or the test process): a run killed mid-job then
blocks the next for seconds, where production's margin past a job's time limit blocks it for a
minute and more; a job beat sends every two seconds; beat's scheduler with a lease of seconds."""

from datetime import timedelta

from crm.jobs import registry
from crm.jobs.scheduler import RegistryScheduler
from goals.jobs import goals_day_end
from tracking.jobs import process_tracking_events

# Read by every job's lease in this process (crm.jobs.registry.Job.lease).
registry.LEASE_MARGIN = timedelta(seconds=1)

GOALS_DAILY = "outage_goals_day_end"
PROCESS_TRACKING = "outage_process_tracking"
TIME_LIMIT = 10

registry.register_job(GOALS_DAILY, time_limit=TIME_LIMIT)(goals_day_end)
registry.register_job(PROCESS_TRACKING, time_limit=TIME_LIMIT, exclusive=False)(
    process_tracking_events
)

# A job beat sends every two seconds: the two-node test counts its runs per tick.
TICK = "outage_tick"


@registry.register_job(TICK, schedule=timedelta(seconds=2), time_limit=5)
def tick(progress: registry.Progress) -> int:
    return 1


class QuickScheduler(RegistryScheduler):
    """Beat's scheduler with a lease of seconds: a beat that dies is replaced within them."""

    lease = timedelta(seconds=3)
    max_interval = 1
