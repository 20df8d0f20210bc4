"""A goal's page: its progress block and everything shown around the goal."""

from dataclasses import dataclass

from crm.models import AuditEntry
from crm.roles import Actor
from goals.models import Goal, GoalAlert, GoalTargetRevision
from goals.selectors.forecast import (
    Forecast,
    HistoryPoint,
    Verdict,
    forecast,
    goal_today,
    history_points,
)
from goals.selectors.lists import audit_trail, counted_records, goal_list, open_alert, revisions
from goals.selectors.tree import ancestors, link_candidates


@dataclass(frozen=True)
class Progress:
    """What a goal's progress block and history chart show, from one reading of its history
    (which ends at its value now): the forecast with its one verdict, and the open off-track
    alert only while that verdict is off track."""

    goal: Goal
    history: list[HistoryPoint]
    forecast: Forecast | None
    alert: GoalAlert | None


def progress(goal: Goal) -> Progress:
    history = history_points(goal, today=goal_today(goal))
    judged = forecast(goal, history=history) if goal.target_value is not None else None
    alert = open_alert(goal)
    off_track = judged is not None and judged.verdict == Verdict.OFF_TRACK
    return Progress(goal, history, judged, alert if off_track else None)


@dataclass(frozen=True)
class GoalPage:
    """Everything a goal's page shows around the goal, as far as its reader may see."""

    progress: Progress
    writable: bool
    has_children: bool
    ancestors: list[Goal]
    parent: Goal | None  # None also when the reader may not see it
    children: list[Goal]
    audit: list[AuditEntry]
    revisions: list[GoalTargetRevision]  # of its target, oldest first
    records_kind: str
    records: list
    link_candidates: list[Goal]  # empty unless the reader may change the goal


def goal_page(goal: Goal, *, user: Actor, audit_rows: int = 50) -> GoalPage:
    """A goal's page, in a fixed number of queries whatever the rows."""
    shown = progress(goal)
    writable = goal_list(user=user, for_write=True).filter(pk=goal.pk).exists()
    records_kind, records = counted_records(goal, user=user)
    has_children = goal.children.exists()
    above = ancestors(goal, user=user)
    return GoalPage(
        progress=shown,
        writable=writable,
        has_children=has_children,
        ancestors=above,
        parent=above[-1] if above and above[-1].pk == goal.parent_id else None,
        children=list(goal_list(user=user).filter(parent_id=goal.pk)),
        audit=audit_trail(goal, limit=audit_rows),
        revisions=revisions(goal),
        records_kind=records_kind,
        records=records,
        link_candidates=link_candidates(goal, user=user) if writable else [],
    )
