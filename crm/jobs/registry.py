"""What the job platform knows about each job: its function, schedule, time limit and lock."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from celery.schedules import BaseSchedule, crontab
from celery.schedules import schedule as every

Progress = Callable[[int, int | None], None]
"""progress(done, total): jobs report how far they are; total may be unknown (None)."""

DEFAULT_TIME_LIMIT = 10 * 60
# The lease outlives the hard time limit by this much, so a run still going is never taken over,
# and a run killed at the limit blocks the next one for at most this long.
LEASE_MARGIN = timedelta(seconds=60)
# A crontab tick still queued this long after it was sent is dropped: the next tick will come.
CRONTAB_EXPIRES = 3600

RUN_JOB_TASK = "crm.jobs.run_job_task"


class UnknownJob(KeyError):
    pass


@dataclass(frozen=True)
class Job:
    name: str
    func: Callable[[Progress], int]
    description: str
    schedule: BaseSchedule | None
    time_limit: int
    exclusive: bool
    expires: int | None

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.time_limit) + LEASE_MARGIN

    @property
    def lock_name(self) -> str:
        return f"job:{self.name}"

    def send_options(self) -> dict:
        """Celery's options for one run: the job's own limits (the soft one lets the job record
        its failure before the hard one kills it) and how long a queued tick stays wanted."""
        options = {
            "time_limit": self.time_limit,
            "soft_time_limit": max(1, self.time_limit - max(5, self.time_limit // 20)),
        }
        if self.expires is not None:
            options["expires"] = self.expires
        return options


_registry: dict[str, Job] = {}


def _as_schedule(schedule: BaseSchedule | timedelta | float | None) -> BaseSchedule | None:
    if schedule is None or isinstance(schedule, BaseSchedule):
        return schedule
    seconds = schedule.total_seconds() if isinstance(schedule, timedelta) else float(schedule)
    if seconds <= 0:
        raise ValueError("An interval schedule must be positive.")
    return every(run_every=timedelta(seconds=seconds))


def _default_expires(schedule: BaseSchedule | None) -> int | None:
    if schedule is None:
        return None
    if isinstance(schedule, crontab):
        return CRONTAB_EXPIRES
    return max(1, int(schedule.run_every.total_seconds()))


def register_job(
    name: str,
    *,
    schedule: BaseSchedule | timedelta | float | None = None,
    time_limit: int = DEFAULT_TIME_LIMIT,
    exclusive: bool = True,
    expires: int | None = None,
    description: str = "",
):
    """Register `func(progress) -> items processed` as the job `name`.

    - `schedule`: a crontab, an interval (timedelta or seconds), or None to run only on demand
      (`manage.py run_job`, `crm.jobs.tasks.enqueue_job`);
    - `time_limit`: seconds after which Celery stops a run; the lease lock follows it;
    - `exclusive=False`: the job runs without the lock, several at once (for workers that claim
      rows with SELECT ... FOR UPDATE SKIP LOCKED side by side); each run is still recorded;
    - `expires`: seconds after which a queued tick is dropped (default: until the next tick).
    """
    if time_limit < 1:
        raise ValueError(f"Job {name}: the time limit must be at least one second.")
    normalized = _as_schedule(schedule)

    def decorator(func: Callable[[Progress], int]) -> Callable[[Progress], int]:
        existing = _registry.get(name)
        if existing is not None and existing.func is not func:
            raise ValueError(f"Two jobs are registered as '{name}'.")
        _registry[name] = Job(
            name=name,
            func=func,
            description=description or (func.__doc__ or "").strip().split("\n")[0],
            schedule=normalized,
            time_limit=time_limit,
            exclusive=exclusive,
            expires=expires if expires is not None else _default_expires(normalized),
        )
        return func

    return decorator


def unregister_job(name: str) -> None:
    """Forget a job (tests register jobs of their own and remove them afterwards)."""
    _registry.pop(name, None)


def registered_jobs() -> dict[str, Job]:
    return dict(sorted(_registry.items()))


def get_job(name: str) -> Job:
    try:
        return _registry[name]
    except KeyError:
        known = ", ".join(registered_jobs()) or "none"
        raise UnknownJob(f"No job named '{name}'. Registered jobs: {known}.") from None


def beat_schedule(*, extra: dict[str, dict] | None = None) -> dict[str, dict]:
    """Celery beat's entries: one per scheduled job, each run through the job runner task."""
    entries = dict(extra or {})
    for job in registered_jobs().values():
        if job.schedule is None:
            continue
        entries[job.lock_name] = {
            "task": RUN_JOB_TASK,
            "schedule": job.schedule,
            "args": (job.name,),
            "options": job.send_options(),
        }
    return entries
