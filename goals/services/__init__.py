"""Writes of goals, one module per responsibility:

- `ownership`: who owns a goal and who may change it;
- `editing`: create, edit, delete, close, set by hand, the goal's period;
- `recalculation`: values counted from CRM data and rolled up from the goals below;
- `hierarchy`: putting a goal under a parent and taking it out (the rules: goals.rules);
- `daily`: the day-end steps of every zone: snapshots, closing and off-track alerts;
- `consistency`: every automatic goal's value checked against a fresh recalculation, repaired.

Callers import from here (`from goals import services; services.goal_create(...)`).
"""

from goals.rules import (
    ALLOWED_CHILDREN,
    LINK_BONUS_TIER,
    LINK_METRIC,
    LINK_NOT_IN_TEAM,
    LINK_OWNER_TYPES,
    LINK_PARENT_CLOSED,
    LINK_PERIOD,
    LINK_SELF,
    link_problem,
)
from goals.services.consistency import (
    CHECK_ALERT_BODY,
    CHECK_ALERT_SUBJECT,
    CHECK_LISTED,
    REPAIR_REASON,
    Difference,
    Findings,
    goals_check,
    goals_differing,
    goals_repair,
)
from goals.services.daily import (
    ALERT_BODY,
    ALERT_SUBJECT,
    LOOK_BACK,
    MISSED,
    REACHED,
    close_ended_goals,
    days_ended,
    goals_day_end,
    goals_update_alerts,
    recount_ended_goals,
    snapshot_active_goals,
)
from goals.services.editing import (
    ALREADY_IN_STATUS,
    CUSTOM_IS_MANUAL,
    JUSTIFICATION_TOO_SHORT,
    MIN_JUSTIFICATION,
    PARENT_SUMS_CHILDREN,
    PERIOD_BREAKS_LINKS,
    PERIOD_END_BEFORE_START,
    PERIOD_END_REQUIRED,
    PLAN_GOAL_FIXED,
    PLAN_VALUE_COUNTED,
    TARGET_REQUIRED,
    VALUE_NEGATIVE,
    check_update,
    goal_adjust,
    goal_create,
    goal_delete,
    goal_recalculate_one,
    goal_return_to_auto,
    goal_set_status,
    goal_update,
    resolve_period,
    set_period,
)
from goals.services.hierarchy import (
    LINK_CYCLE,
    LINK_DEPTH,
    LINK_PARENT_NOT_FOUND,
    NOT_LINKED,
    goal_link_parent,
    goal_unlink_parent,
    link_refusal,
)
from goals.services.ownership import (
    COMPANY_GOALS_ADMINS_ONLY,
    NOT_YOURS_TO_CHANGE,
    REP_REQUIRED,
    TEAM_NOT_YOURS,
    TEAM_REQUIRED,
    owner_zone,
    writable_goal,
)
from goals.services.recalculation import (
    RECALCULATE_ALL,
    RECALCULATE_ALL_ADMINS_ONLY,
    VALUE_TOO_LARGE,
    goals_for_facts,
    goals_mark_failed,
    goals_recalculate,
    goals_recalculate_all_later,
    roll_up,
)

__all__ = [
    "ALERT_BODY", "ALERT_SUBJECT", "ALLOWED_CHILDREN", "ALREADY_IN_STATUS", "CHECK_ALERT_BODY",
    "CHECK_ALERT_SUBJECT", "CHECK_LISTED", "COMPANY_GOALS_ADMINS_ONLY", "CUSTOM_IS_MANUAL",
    "JUSTIFICATION_TOO_SHORT", "LINK_BONUS_TIER", "LINK_CYCLE", "LINK_DEPTH", "LINK_METRIC",
    "LINK_NOT_IN_TEAM", "LINK_OWNER_TYPES", "LINK_PARENT_CLOSED", "LINK_PARENT_NOT_FOUND",
    "LINK_PERIOD", "LINK_SELF", "LOOK_BACK", "MIN_JUSTIFICATION", "MISSED", "NOT_LINKED",
    "NOT_YOURS_TO_CHANGE", "PARENT_SUMS_CHILDREN", "PERIOD_BREAKS_LINKS",
    "PERIOD_END_BEFORE_START", "PERIOD_END_REQUIRED", "PLAN_GOAL_FIXED", "PLAN_VALUE_COUNTED",
    "REACHED", "RECALCULATE_ALL", "RECALCULATE_ALL_ADMINS_ONLY", "REPAIR_REASON", "REP_REQUIRED",
    "TARGET_REQUIRED", "TEAM_NOT_YOURS", "TEAM_REQUIRED", "VALUE_NEGATIVE", "VALUE_TOO_LARGE",
    "Difference", "Findings", "check_update", "close_ended_goals", "days_ended", "goal_adjust",
    "goal_create", "goal_delete", "goal_link_parent", "goal_recalculate_one",
    "goal_return_to_auto", "goal_set_status", "goal_unlink_parent", "goal_update", "goals_check",
    "goals_day_end", "goals_differing", "goals_for_facts", "goals_mark_failed",
    "goals_recalculate", "goals_recalculate_all_later", "goals_repair", "goals_update_alerts",
    "link_problem", "link_refusal", "owner_zone", "recount_ended_goals", "resolve_period",
    "roll_up", "set_period", "snapshot_active_goals", "writable_goal",
]  # fmt: skip
