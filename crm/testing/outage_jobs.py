"""The real jobs' work under leases of seconds, for the resilience tests' workers (loaded through
CELERY_IMPORTS, never by the app): a run killed mid-job then blocks the next for seconds, where
production's margin past a job's time limit blocks it for a minute and more."""

from datetime import timedelta

from crm.jobs import registry
from goals.jobs import goals_daily
from tracking.jobs import process_tracking_events

# Read by every job's lease in this process (crm.jobs.registry.Job.lease).
registry.LEASE_MARGIN = timedelta(seconds=1)

GOALS_DAILY = "outage_goals_daily"
PROCESS_TRACKING = "outage_process_tracking"
TIME_LIMIT = 10

registry.register_job(GOALS_DAILY, time_limit=TIME_LIMIT)(goals_daily)
registry.register_job(PROCESS_TRACKING, time_limit=TIME_LIMIT, exclusive=False)(
    process_tracking_events
)
