"""What goals does when the core says a fact changed (crm.events, after commit): queue a
recalculation of the goals that fact counts toward. The write that published the event has
committed already; a failure here (even to queue) never undoes it, and the 15-minute job
catches up."""

from crm import events
from goals.events import GoalValuesChanged
from goals.models import Metric
from goals.plans import services as plans
from goals.tasks import recalculate_for_facts_task

DEAL_METRICS = [Metric.REVENUE, Metric.DEALS_WON, Metric.BONUS_TIER]


def _queue(facts: list[tuple[int | None, object]], metrics: list[str]) -> None:
    recalculate_for_facts_task.delay(
        [[rep_id, moment.isoformat()] for rep_id, moment in facts], [str(m) for m in metrics]
    )


@events.subscribe(events.DealWon, events.DealReopened)
def deal_won_or_reopened(event: events.DealWon | events.DealReopened) -> None:
    _queue([(event.rep_id, event.closed_at)], DEAL_METRICS)


@events.subscribe(events.WonDealChanged)
def won_deal_changed(event: events.WonDealChanged) -> None:
    # Both where it counted and where it counts now.
    _queue(
        [(event.previous_rep_id, event.previous_closed_at), (event.rep_id, event.closed_at)],
        DEAL_METRICS,
    )


@events.subscribe(events.ActivityCompleted, events.ActivityUncompleted)
def activity_changed(event: events.ActivityCompleted | events.ActivityUncompleted) -> None:
    _queue([(event.rep_id, event.completed_at)], [Metric.ACTIVITIES])


@events.subscribe(events.TaskDone, events.TaskUndone)
def task_changed(event: events.TaskDone | events.TaskUndone) -> None:
    _queue([(event.rep_id, event.completed_at)], [Metric.TASKS])


@events.subscribe(events.CustomerSignedUp, events.CustomerSignUpUndone)
def signup_changed(event: events.CustomerSignedUp | events.CustomerSignUpUndone) -> None:
    _queue([(event.rep_id, event.signed_up_at)], [Metric.SIGNUPS])


@events.subscribe(GoalValuesChanged)
def goal_values_changed(event: GoalValuesChanged) -> None:
    # A plan goal that reached its target is an achievement (recorded once; the daily job
    # catches any missed here).
    plans.record_achievements(goal_ids=event.goal_ids)


@events.subscribe(events.RepActivated)
def rep_activated(event: events.RepActivated) -> None:
    # A rep who joins or comes back mid-month has this month's plan at once.
    plans.plans_for_rep(event.rep_id)
