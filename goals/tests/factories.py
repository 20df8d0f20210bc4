import datetime as dt
from decimal import Decimal

from django.utils import timezone

from crm.models import SalesRep, Team
from crm.roles import SystemActor
from goals import services
from goals.models import Goal, OwnerType

SETUP = SystemActor("test:setup")


def make_goal(
    *,
    owner: SalesRep | Team | None = None,
    metric: str = "revenue",
    target: Decimal | int = 1000,
    period_kind: str = "month",
    start: dt.date | None = None,
    end: dt.date | None = None,
    title: str = "",
    source: str = "auto",
    parent: Goal | None = None,
) -> Goal:
    """A goal made the way users make them (through goals.services), by a job that may set any.
    `owner` is a rep, a team, or None for the company."""
    if isinstance(owner, SalesRep):
        owner_type, who = OwnerType.INDIVIDUAL, {"rep": owner}
    elif isinstance(owner, Team):
        owner_type, who = OwnerType.TEAM, {"team": owner}
    else:
        owner_type, who = OwnerType.COMPANY, {}
    goal = services.goal_create(
        actor=SETUP,
        title=title or f"{metric} of {owner or 'the company'}",
        owner_type=owner_type,
        metric=metric,
        period_kind=period_kind,
        period_start=start or timezone.localdate(),
        period_end=end,
        target_value=Decimal(target),
        calculation_source=source,
        **who,
    )
    if parent is not None:
        goal = services.goal_link_parent(actor=SETUP, goal_id=goal.pk, parent=parent)
    return goal
