"""The goals' scheduled jobs (beat's schedule is built from these)."""

from celery.schedules import crontab

from crm.jobs import Progress, register_job
from crm.roles import SystemActor
from goals import services
from goals.models import Goal

RECALCULATE_ALL = "recalculate_goals"
DAILY = "goals_daily"


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
    description="Snapshot every active goal, close the goals whose period ended, alert on "
    "goals off track.",
)
def goals_daily(progress: Progress) -> int:
    done = services.daily_goal_work(actor=SystemActor(f"job:{DAILY}"))
    progress(done["snapshots"], done["snapshots"])
    return done["snapshots"] + done["closed"]
