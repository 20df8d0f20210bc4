"""What the goals engine tells the rest of goals after commit (crm.events' mechanism): values
that changed, so that what is built on goals (a rep plan's achievements) follows without the
engine knowing of it."""

from dataclasses import dataclass

from crm.events import Event


@dataclass(frozen=True, kw_only=True)
class GoalValuesChanged(Event):
    """Goals whose value (or target) changed, by recalculation or by hand."""

    goal_ids: tuple[int, ...]
