"""The goals' scheduled jobs (beat's schedule is built from these)."""

import datetime as dt

from celery.schedules import crontab
from django.utils import timezone

from crm.jobs import Progress, register_job
from crm.jobs.models import JobRun, JobRunStatus
from crm.roles import SystemActor
from goals import services
from goals.models import Goal
from goals.plans import services as plans

RECALCULATE_ALL = services.RECALCULATE_ALL
DAY_END = "goals_day_end"
CHECK = "check_goals"
PLANS = "rep_plans"


@register_job(
    RECALCULATE_ALL,
    schedule=crontab(minute="*/15"),
    time_limit=10 * 60,
    description="Recalculate every active calculated goal from CRM data (the safety net).",
)
def recalculate_goals(progress: Progress) -> int:
    actor = SystemActor(f"job:{RECALCULATE_ALL}")
    return services.goals_recalculate(goals=Goal.objects.all(), actor=actor)


@register_job(
    DAY_END,
    schedule=crontab(minute="*/5"),
    time_limit=10 * 60,
    expires=4 * 60,
    description="Every 5 minutes, for each zone whose day just ended: count the goals whose "
    "period ended one last time and close them, snapshot each goal and month plan of its "
    "owner's day, alert on goals off track, make the plans of a month that began.",
)
def goals_day_end(progress: Progress) -> int:
    now = timezone.now()
    actor = SystemActor(f"job:{DAY_END}")
    days = services.days_ended(since=_last_success(DAY_END), now=now)
    # The ended goals counted one last time, then each plan's snapshot of the day that ended,
    # before the goal step closes the months that ended with it.
    services.recount_ended_goals(actor=actor, now=now)
    plan_snapshots = plans.snapshot_plans_of_days(days=days, now=now)
    done = services.goals_day_end(actor=actor, days=days, now=now, recount=False)
    created = 0
    if days:
        plans.record_achievements()  # any the events missed
        began = [zone for zone, day in days.items() if (day + dt.timedelta(days=1)).day == 1]
        if began:
            created = plans.plans_create_current(now=now, zones=began)
    total = done["snapshots"] + done["closed"] + plan_snapshots + created
    progress(total, total)
    return total


@register_job(
    CHECK,
    schedule=crontab(hour=2, minute=30),
    time_limit=30 * 60,
    description="Every night: compare every automatic goal's value with a fresh recalculation, "
    "repair the differences (audited) and write to the administrators when there were any.",
)
def check_goals(progress: Progress) -> int:
    check = services.goals_check(actor=SystemActor(f"job:{CHECK}"), repair=True)
    progress(check.goals_checked, check.goals_checked)
    return check.goals_checked


def _last_success(name: str) -> dt.datetime | None:
    """When the job's last successful run began: the days that ended since are still to do."""
    runs = JobRun.objects.filter(name=name, status=JobRunStatus.SUCCEEDED)
    return runs.order_by("-started_at").values_list("started_at", flat=True).first()


@register_job(
    PLANS,
    schedule=crontab(minute=10),
    time_limit=10 * 60,
    description="Make this month's plan and this year's goals for every active rep who lacks "
    "them (the day-end job makes them as a month begins in each zone; this catches new reps); "
    "send the deadline reminders.",
)
def rep_plans(progress: Progress) -> int:
    created = plans.plans_create_current()
    sent = plans.send_reminders()
    progress(created + sent, created + sent)
    return created + sent
