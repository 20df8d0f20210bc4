"""What goals does when the core says a fact changed (crm.events, after commit): queue a
recalculation of the goals that fact counts toward, for the metrics that event moves
(goals.metrics). The write that published the event has committed already; a failure here
(even to queue) never undoes it, and the 15-minute job catches up."""

import datetime as dt
from collections.abc import Callable

from crm import events
from goals import metrics
from goals.events import GoalValuesChanged
from goals.plans import services as plans
from goals.tasks import recalculate_for_facts_task

Facts = list[tuple[int | None, dt.datetime]]

# Whose fact an event is about, and when it counts: (rep id, moment) pairs. A won deal that
# changed counts both where it counted and where it counts now.
WHERE: dict[type[events.Event], Callable[..., Facts]] = {
    events.DealWon: lambda event: [(event.rep_id, event.closed_at)],
    events.DealReopened: lambda event: [(event.rep_id, event.closed_at)],
    events.WonDealChanged: lambda event: [
        (event.previous_rep_id, event.previous_closed_at),
        (event.rep_id, event.closed_at),
    ],
    events.ActivityCompleted: lambda event: [(event.rep_id, event.completed_at)],
    events.ActivityUncompleted: lambda event: [(event.rep_id, event.completed_at)],
    events.TaskDone: lambda event: [(event.rep_id, event.completed_at)],
    events.TaskUndone: lambda event: [(event.rep_id, event.completed_at)],
    events.CustomerSignedUp: lambda event: [(event.rep_id, event.signed_up_at)],
    events.CustomerSignUpUndone: lambda event: [(event.rep_id, event.signed_up_at)],
}


@events.subscribe(*metrics.all_events())
def fact_changed(event: events.Event) -> None:
    facts = WHERE[type(event)](event)
    recalculate_for_facts_task.delay(
        [[rep_id, moment.isoformat()] for rep_id, moment in facts],
        [str(metric) for metric in metrics.moved_by(type(event))],
    )


@events.subscribe(GoalValuesChanged)
def goal_values_changed(event: GoalValuesChanged) -> None:
    # A plan goal that reached its target is an achievement (recorded once; the daily job
    # catches any missed here).
    plans.record_achievements(goal_ids=event.goal_ids)


@events.subscribe(events.RepActivated)
def rep_activated(event: events.RepActivated) -> None:
    # A rep who joins or comes back mid-month has this month's plan at once.
    plans.plans_for_rep(event.rep_id)
