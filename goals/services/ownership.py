"""Who owns a goal and who may change it: the owner a new goal may have (company goals for
admins, a team's for its supervisor, a rep's for the rep, their supervisor or an admin), the
zone its period's days are in, and the goal read locked for a change (404 outside the actor's
scope, 403 when they may only see it)."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from crm import periods
from crm.models import SalesRep, Team
from crm.roles import (
    Actor,
    may_choose_rep,
    may_set_company_goals,
    rep_for_record,
)
from crm.selectors import team_list
from crm.writes import (
    locked,
)
from goals import selectors
from goals.models import (
    Goal,
    OwnerType,
)

COMPANY_GOALS_ADMINS_ONLY = "Only administrators set company goals."
TEAM_REQUIRED = "Choose the team this goal belongs to."
TEAM_NOT_YOURS = "Choose a team you supervise."
REP_REQUIRED = "Choose the sales rep this goal belongs to."
NOT_YOURS_TO_CHANGE = "You may see this goal but not change it."


def owner_zone(*, owner_type: str, rep: SalesRep | None):
    """A rep's goal counts in the rep's zone; a team's and the company's in TIME_ZONE."""
    if owner_type == OwnerType.INDIVIDUAL and rep is not None:
        return periods.zone_named(rep.timezone)
    return periods.company_zone()


def check_owner(*, actor: Actor, owner_type: str, team: Team | None, rep: SalesRep | None):
    """The owner a new goal may have: company goals for admins, a team goal for the team's
    supervisor, a rep's goal for the rep, their supervisor or an admin. Returns (team, rep)."""
    if owner_type == OwnerType.COMPANY:
        if not may_set_company_goals(actor):
            raise PermissionDenied(COMPANY_GOALS_ADMINS_ONLY)
        return None, None
    if owner_type == OwnerType.TEAM:
        if team is None:
            raise ValidationError({"team": TEAM_REQUIRED})
        if not team_list(user=actor, for_write=True).filter(pk=team.pk).exists():
            raise ValidationError({"team": TEAM_NOT_YOURS})
        return team, None
    if rep is None and may_choose_rep(actor):
        raise ValidationError({"rep": REP_REQUIRED})
    return None, rep_for_record(actor=actor, rep=rep)


def writable_goal(*, actor: Actor, goal_id: int) -> Goal:
    """The goal, locked, if `actor` may change it: 404 when they may not see it, 403 when they
    may only see it."""
    try:
        return locked(selectors.goal_list(user=actor, for_write=True), goal_id)
    except Http404:
        if selectors.goal_list(user=actor).filter(pk=goal_id).exists():
            raise PermissionDenied(NOT_YOURS_TO_CHANGE) from None
        raise
