"""Writes of rep plans: a rep's monthly commitment (signups, revenue, bonus tier by a deadline)
and yearly goals, built on the goals engine: a plan's targets and actuals are its goals', which
the engine keeps counted (events and the 15-minute job). One module per responsibility:

- `creation`: plans come into being by themselves, set-based;
- `targets`: a rep, their supervisor or an admin sets the targets; admins' team defaults;
- `achievements`: targets reached and months set on time in a row, recorded once;
- `snapshots`: the plans as they stand, daily or by hand;
- `reminders`: plans not set by their deadline.

Callers import from here (`from goals.plans import services; services.plan_set(...)`).
"""

from goals.plans.services.achievements import REACHED, STREAKS, record_achievements, record_streaks
from goals.plans.services.creation import (
    MONTH_GOALS,
    MONTH_RANGE,
    YEAR_GOALS,
    plan_period,
    plan_title,
    plans_create,
    plans_create_current,
    plans_for_rep,
)
from goals.plans.services.reminders import (
    REMINDER_BODY,
    REMINDER_SUBJECT,
    REMINDER_WHEN,
    reminder_acknowledge,
    send_reminders,
)
from goals.plans.services.snapshots import snapshot_plans, snapshot_plans_of_days
from goals.plans.services.targets import (
    ADMINS_SET_DEFAULTS,
    BONUS_TIER_RANGE,
    CENT,
    MAX_REVENUE_GOAL,
    MAX_SIGNUP_GOAL,
    REP_INACTIVE,
    REP_REQUIRED,
    REPS_SET_THIS_MONTH,
    REVENUE_GOAL_RANGE,
    SIGNUP_GOAL_RANGE,
    plan_set,
    plan_set_year,
    plans_set_defaults,
)

__all__ = [
    "ADMINS_SET_DEFAULTS",
    "BONUS_TIER_RANGE",
    "CENT",
    "MAX_REVENUE_GOAL",
    "MAX_SIGNUP_GOAL",
    "MONTH_GOALS",
    "MONTH_RANGE",
    "REACHED",
    "REMINDER_BODY",
    "REMINDER_SUBJECT",
    "REMINDER_WHEN",
    "REPS_SET_THIS_MONTH",
    "REP_INACTIVE",
    "REP_REQUIRED",
    "REVENUE_GOAL_RANGE",
    "SIGNUP_GOAL_RANGE",
    "STREAKS",
    "YEAR_GOALS",
    "plan_period",
    "plan_set",
    "plan_set_year",
    "plan_title",
    "plans_create",
    "plans_create_current",
    "plans_for_rep",
    "plans_set_defaults",
    "record_achievements",
    "record_streaks",
    "reminder_acknowledge",
    "send_reminders",
    "snapshot_plans",
    "snapshot_plans_of_days",
]  # fmt: skip
