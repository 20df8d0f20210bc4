"""Role-scoped lists of goals and what a goal's page lists around it: the records its value
counts, its audit trail, its open alert."""

from decimal import Decimal

from django.db.models import Q, QuerySet

from crm.models import AuditEntry
from crm.roles import Actor, scope_to_user
from goals import metrics
from goals.models import Goal, GoalAlert, GoalTargetRevision, OwnerType
from goals.selectors.freshness import with_freshness


def goal_list(
    *,
    user: Actor,
    for_write: bool = False,
    owner_type: str = "",
    metric: str = "",
    status: str = "",
    search: str = "",
    as_of: bool = True,
) -> QuerySet[Goal]:
    """The goals `user` may see (or change, `for_write`): a rep goal is its rep's and their
    supervisor's, a team goal its reps' (to read) and supervisor's, a company goal everyone's
    (to read) and the admins'. The other arguments filter (blank: everything). Each goal
    carries what its "as of" is read from (goals.selectors.freshness), unless `as_of` is off:
    a tree's thousands of goals get it from attach_freshness instead."""
    goals = Goal.objects.select_related("rep__user", "team")
    goals = scope_to_user(
        with_freshness(goals) if as_of else goals,
        user,
        rep_path="rep",
        team_path="team",
        company_rows=Q(owner_type=OwnerType.COMPANY),
        for_write=for_write,
    )
    filters = {"owner_type": owner_type, "metric": metric, "status": status}
    goals = goals.filter(**{name: value for name, value in filters.items() if value})
    if search:
        goals = goals.filter(title__icontains=search)
    return goals


def counted_records(goal: Goal, *, user: Actor, limit: int = 50) -> tuple[str, list]:
    """What makes up a calculated goal's value, as far as `user` may see: the facts its metric
    counts (goals.metrics: won deals, signed-up customers, completed activities or tasks) of
    its owner in its period, newest first."""
    fact = metrics.spec(goal.metric).fact
    if fact is None:
        return "", []
    owner = {}
    if goal.owner_type == OwnerType.INDIVIDUAL:
        owner = {f"{fact.rep}_id": goal.rep_id}
    elif goal.owner_type == OwnerType.TEAM:
        owner = {f"{fact.rep}__team_id": goal.team_id}
    rows = fact.in_period(fact.listing(user=user), goal.starts_at, goal.ends_at).filter(**owner)
    return fact.records, list(rows.order_by(f"-{fact.moment}", "-id")[:limit])


# The audit trail's changes that are figures of the goal's metric (read in its unit).
FIGURE_CHANGES = ("current_value", "target_value")


def audit_trail(goal: Goal, *, limit: int = 50) -> list[AuditEntry]:
    """The goal's latest audit entries, newest first, their values and targets written as its
    metric counts them ("Value: 2 → 3" signups, "Value: 0.00 → 120.00" revenue)."""
    entries = list(
        AuditEntry.objects.filter(
            target_type=Goal._meta.label_lower, target_id=str(goal.pk)
        ).select_related("actor")[:limit]
    )
    for entry in entries:
        entry.changes = {
            name: _figures(goal.metric, change) if name in FIGURE_CHANGES else change
            for name, change in (entry.changes or {}).items()
        }
    return entries


def _figures(metric: str, change):
    def shown(value):
        return None if value is None else metrics.figure(metric, Decimal(str(value)))

    return [shown(value) for value in change] if isinstance(change, list) else shown(change)


def revisions(goal: Goal) -> list[GoalTargetRevision]:
    """The goal's target revisions, oldest first, with who made them."""
    return list(goal.revisions.select_related("changed_by").order_by("changed_at", "id"))


def open_alert(goal: Goal) -> GoalAlert | None:
    """The goal's off-track alert still open, if any."""
    return GoalAlert.objects.filter(goal=goal, cleared_at__isnull=True).first()
