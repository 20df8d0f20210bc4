"""The goals' scheduled jobs (beat's schedule is built from these)."""

import datetime as dt

from celery.schedules import crontab
from django.utils import timezone

from crm import periods
from crm.jobs import Progress, register_job
from crm.roles import SystemActor
from goals import services
from goals.models import Goal
from goals.plans import services as plans

RECALCULATE_ALL = services.RECALCULATE_ALL
DAILY = "goals_daily"
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
    DAILY,
    schedule=crontab(hour=0, minute=5),
    time_limit=15 * 60,
    expires=6 * 3600,
    description="Snapshot every active goal and rep plan, close the goals whose period ended, "
    "alert on goals off track, record achievements missed.",
)
def goals_daily(progress: Progress) -> int:
    now = timezone.now()
    actor = SystemActor(f"job:{DAILY}")
    # The day that just ended (the job runs after midnight): the ended goals counted one last
    # time, then each plan's snapshot for that day, before the goal step closes the months
    # that ended with it.
    yesterday = periods.local_date(now, periods.company_zone()) - dt.timedelta(days=1)
    services.recount_ended_goals(actor=actor, now=now)
    plan_snapshots = plans.snapshot_plans(on=yesterday, now=now)
    done = services.daily_goal_work(actor=actor, now=now, recount=False)
    plans.record_achievements()  # any the events missed
    progress(done["snapshots"], done["snapshots"])
    return done["snapshots"] + done["closed"] + plan_snapshots


@register_job(
    PLANS,
    schedule=crontab(minute=10),
    time_limit=10 * 60,
    description="Make this month's plan and this year's goals for every active rep (a month "
    "begins at a different hour in each zone); send the deadline reminders.",
)
def rep_plans(progress: Progress) -> int:
    created = plans.plans_create_current()
    sent = plans.send_reminders()
    progress(created + sent, created + sent)
    return created + sent
