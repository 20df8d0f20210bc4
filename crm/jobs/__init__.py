"""The job platform: a registry of jobs with their schedules, a lease lock, and a runner that
records one job run per run. Dead letters, heartbeats and the Celery tasks are in
`crm.jobs.services` and `crm.jobs.tasks`.

An app registers a job in its own `jobs.py` (found at start-up by CrmConfig.ready):

    @register_job("recalculate_goals", schedule=crontab(minute="*/15"), time_limit=300)
    def recalculate_goals(progress: Progress) -> int: ...

Celery beat's schedule is built from the registry (`crm.jobs.scheduler`), so adding a job touches
nothing else.
"""

from crm.jobs.lock import job_lock, lock_acquire, lock_extend, lock_release
from crm.jobs.registry import (
    Job,
    Progress,
    UnknownJob,
    get_job,
    register_job,
    registered_jobs,
    unregister_job,
)
from crm.jobs.runner import job_run

__all__ = [
    "Job",
    "Progress",
    "UnknownJob",
    "get_job",
    "job_lock",
    "job_run",
    "lock_acquire",
    "lock_extend",
    "lock_release",
    "register_job",
    "registered_jobs",
    "unregister_job",
]
