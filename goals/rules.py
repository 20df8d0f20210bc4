"""What goes under what in the goals' hierarchy, judged from two goals alone: the service
refuses a link with these messages, and the pages offer only the parents without a problem
(goals.selectors.link_candidates)."""

from goals import metrics
from goals.models import Goal, GoalStatus, OwnerType

LINK_SELF = "A goal cannot be its own parent."
LINK_OWNER_TYPES = (
    "A company goal takes team or individual goals below it, a team goal individual goals; an "
    "individual goal takes none."
)
LINK_NOT_IN_TEAM = "This rep is not in that team."
LINK_METRIC = "A goal and its parent count the same metric."
LINK_PERIOD = (
    "A goal's period must lie within its parent's: a month's goal may go under its quarter or "
    "year, not a year's under a month."
)
LINK_PARENT_CLOSED = "A goal goes under an active goal, not a completed or cancelled one."
LINK_BONUS_TIER = "Bonus tiers do not add up: a bonus tier goal is not linked."

ALLOWED_CHILDREN = {
    OwnerType.COMPANY: {OwnerType.TEAM, OwnerType.INDIVIDUAL},
    OwnerType.TEAM: {OwnerType.INDIVIDUAL},
    OwnerType.INDIVIDUAL: set(),
}
# The owner types a goal may go under.
PARENT_TYPES = [owner for owner, below in ALLOWED_CHILDREN.items() if below]


def link_problem(goal: Goal, parent: Goal) -> str | None:
    """What is wrong with putting `goal` under `parent`, judged from the two goals alone (the
    pages offer only parents without a problem); None if nothing."""
    if parent.pk == goal.pk:
        return LINK_SELF
    if parent.status != GoalStatus.ACTIVE:
        return LINK_PARENT_CLOSED
    if metrics.spec(goal.metric).tiered or metrics.spec(parent.metric).tiered:
        return LINK_BONUS_TIER
    if goal.owner_type not in ALLOWED_CHILDREN[parent.owner_type]:
        return LINK_OWNER_TYPES
    if (
        parent.owner_type == OwnerType.TEAM
        and goal.owner_type == OwnerType.INDIVIDUAL
        and goal.rep.team_id != parent.team_id
    ):
        return LINK_NOT_IN_TEAM
    if parent.metric != goal.metric:
        return LINK_METRIC
    if goal.period_start < parent.period_start or goal.period_end > parent.period_end:
        return LINK_PERIOD
    return None
