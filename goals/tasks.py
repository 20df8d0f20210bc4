"""Celery entry points of goals: they take plain data, call a service, and are idempotent (a
recalculation run twice writes the same values)."""

import datetime as dt

from celery import shared_task
from django.db import transaction

from crm.roles import SystemActor
from goals import services

RECALCULATE_TASK = "goals.tasks.recalculate_for_facts_task"


@shared_task(name=RECALCULATE_TASK)
def recalculate_for_facts_task(facts: list[list], metrics: list[str]) -> int:
    """Recalculate the goals that these facts ([rep id, ISO moment]) count toward."""
    moments = [(rep_id, dt.datetime.fromisoformat(moment)) for rep_id, moment in facts]
    goals = services.goals_for_facts(moments, metrics)
    try:
        return services.goals_recalculate(goals=goals, actor=SystemActor("task:goals.recalculate"))
    except Exception as error:
        # Say so on the goals (the failed transaction rolled back), then retry, then dead letter.
        with transaction.atomic():
            services.goals_mark_failed(goals=goals, error=f"{type(error).__name__}: {error}")
        raise
