"""Roles, the one place that scopes querysets by the requester's role, and the rules about who may
act for whom.

- rep: their own records (and read access to their team's and the company's);
- supervisor: the records of the reps in the teams they manage (and their own, if they also sell),
  those teams' records and the company's;
- admin (staff, superuser or the "admin" group): everything;
- system (a job or task acting by name, see `SystemActor`): everything, like an admin.

Every selector in every app scopes its rows through `scope_to_user`. What a role may do is
decided here too, one named policy per decision (`may_choose_rep`, `manages`, `may_reopen_day`,
`can_use` an area, …), used alike by pages, the API, services and, through flags their views
pass, templates: nothing else compares roles. A policy about one app's rule lives here too, named
for the decision, never importing the app.
"""

import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet

from crm.models import SalesRep
from crm.periods import company_zone, zone_named


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    REP = "rep"
    SYSTEM = "system"
    NONE = "none"


GROUP_ADMIN = "admin"
GROUP_SUPERVISOR = "supervisor"
GROUP_REP = "rep"

_ROLE_CACHE_ATTR = "_crm_role"
_ZONE_CACHE_ATTR = "_crm_zone"

# Error messages of the ownership rules; tests assert on these constants.
REP_NOT_ASSIGNABLE = "Select a sales rep of your team."
REP_REQUIRED = "Select the sales rep this record belongs to."
OWNER_REQUIRED = "Select the sales rep who owns this customer."


@dataclass(frozen=True)
class SystemActor:
    """Who acts when no person does: a job or a task, by name. Services accept it wherever they
    accept a user; the audit trail records the name."""

    name: str
    is_authenticated: ClassVar[bool] = True
    is_active: ClassVar[bool] = True
    is_staff: ClassVar[bool] = False
    pk: ClassVar[None] = None

    def __str__(self) -> str:
        return self.name


Actor = User | SystemActor


def role_of(user: Actor | AnonymousUser) -> Role:
    """The user's highest role. Cached on the user object, so a request asks the database once."""
    if isinstance(user, SystemActor):
        return Role.SYSTEM
    if not user.is_authenticated or not user.is_active:
        return Role.NONE
    cached = getattr(user, _ROLE_CACHE_ATTR, None)
    if cached is not None:
        return cached
    if user.is_superuser or user.is_staff:
        role = Role.ADMIN
    else:
        groups = set(user.groups.values_list("name", flat=True))
        if GROUP_ADMIN in groups:
            role = Role.ADMIN
        elif GROUP_SUPERVISOR in groups:
            role = Role.SUPERVISOR
        elif GROUP_REP in groups:
            role = Role.REP
        else:
            role = Role.NONE
    setattr(user, _ROLE_CACHE_ATTR, role)
    return role


def sees_everything(user: Actor | AnonymousUser) -> bool:
    """Admins and jobs: every row of every app, whatever its owner."""
    return role_of(user) in {Role.ADMIN, Role.SYSTEM}


def has_crm_role(user: Actor | AnonymousUser) -> bool:
    """A signed-in account that is a rep, a supervisor or an admin (a job acts as one); one
    without a group is let in but shown nothing."""
    return role_of(user) != Role.NONE


def role_name(user: Actor | AnonymousUser) -> str | None:
    """The role as the pages name it ("rep", "supervisor", "admin"); None without one."""
    role = role_of(user)
    return None if role == Role.NONE else str(role)


def administrators() -> QuerySet[User]:
    """The active accounts whose role is admin (as `role_of` decides it), e.g. to write to
    about what the company owns."""
    return User.objects.filter(
        Q(is_superuser=True) | Q(is_staff=True) | Q(groups__name=GROUP_ADMIN), is_active=True
    ).distinct()


# --- Scoping ----------------------------------------------------------------------------------


def _prefix(path: str) -> str:
    return f"{path}__" if path else ""


def scope_to_user(
    queryset: QuerySet,
    user: Actor | AnonymousUser,
    *,
    rep_path: str | None = "",
    team_path: str | None = None,
    company_rows: Q | None = None,
    for_write: bool = False,
) -> QuerySet:
    """Restrict `queryset` to the rows `user` may see (or, `for_write`, change).

    - `rep_path`: the lookup from the model to the SalesRep owning a row ("rep" for a deal,
      "owner" for a customer, "route__rep" for a route stop, "" for SalesRep itself; None when
      no row is owned by a rep): the rep and their supervisor see and change it;
    - `team_path`: the lookup to the Team owning a row, for rows a team owns (a team's goal):
      the team's reps see it, its supervisor also changes it;
    - `company_rows`: the condition that marks rows the company owns (a company goal): every
      role sees them, only admins change them.
    """
    role = role_of(user)
    if role in {Role.ADMIN, Role.SYSTEM}:
        return queryset
    if role == Role.NONE:
        return queryset.none()
    visible = Q(pk__in=[])
    if rep_path is not None:
        rep = _prefix(rep_path)
        visible |= Q(**{f"{rep}user_id": user.pk})
        if role == Role.SUPERVISOR:
            visible |= Q(**{f"{rep}team__manager_id": user.pk})
    if team_path is not None:
        if role == Role.SUPERVISOR:
            visible |= Q(**{f"{_prefix(team_path)}manager_id": user.pk})
        elif not for_write:
            # A subquery, not a join through the team's reps, so that no row is repeated.
            own_team = SalesRep.objects.filter(user_id=user.pk).values("team_id")
            visible |= Q(**{f"{_prefix(team_path)}id__in": own_team})
    if company_rows is not None and not for_write:
        visible |= company_rows
    return queryset.filter(visible)


# --- What a role may do -----------------------------------------------------------------------


def has_role_in(user: Actor | AnonymousUser, roles: Iterable[Role]) -> bool:
    """Whether `user`'s role is one of `roles` (an area's door, crm.areas.can_use)."""
    return role_of(user) in roles


def may_use_django_admin(user: Actor | AnonymousUser) -> bool:
    """Django admin itself admits staff accounts only (an admin by group alone is not let in)."""
    return bool(user.is_authenticated and user.is_staff)


def may_choose_rep(user: Actor | AnonymousUser) -> bool:
    """Supervisors, admins and jobs say which rep a record is for (and see several reps, so
    lists offer them a rep filter); a rep's records are always the rep's own."""
    return role_of(user) in {Role.SUPERVISOR, Role.ADMIN, Role.SYSTEM}


def may_manage_routes(user: Actor | AnonymousUser) -> bool:
    """Reps follow their routes; supervisors, admins and jobs change them."""
    return role_of(user) in {Role.SUPERVISOR, Role.ADMIN, Role.SYSTEM}


def manages(user: Actor | AnonymousUser, rep: SalesRep) -> bool:
    """`user` looks after `rep`'s work: the supervisor of the rep's team, an admin or a job;
    never the rep themselves (a supervisor who also sells is their own rep)."""
    if rep.user_id == getattr(user, "pk", None):
        return False
    if sees_everything(user):
        return True
    return role_of(user) == Role.SUPERVISOR and rep.team.manager_id == user.pk


def keeps_own_plan(user: Actor | AnonymousUser) -> bool:
    """Reps commit to targets of their own each month: their goals open on that plan, their
    home page shows it. Everyone else follows other people's."""
    return role_of(user) == Role.REP


def may_correct_plans(user: Actor | AnonymousUser) -> bool:
    """Supervisors and admins (and jobs) set or correct the plan of a rep they see for any
    month, and follow every plan's deadline (compliance); a rep sets their own, this month."""
    return role_of(user) in {Role.SUPERVISOR, Role.ADMIN, Role.SYSTEM}


def may_set_plan_defaults(user: Actor | AnonymousUser) -> bool:
    """Targets for a whole team's plans not set yet are the company's word: admins and jobs."""
    return sees_everything(user)


def may_set_company_goals(user: Actor | AnonymousUser) -> bool:
    """The company's goals are set by admins (and jobs); everyone reads them."""
    return sees_everything(user)


def may_start_jobs(user: Actor | AnonymousUser) -> bool:
    """Jobs run on their schedule; running one now, over every record at once, is for the
    people who run the CRM (and other jobs)."""
    return sees_everything(user)


def may_operate(user: Actor | AnonymousUser) -> bool:
    """Running the CRM itself (the ops dashboard, the switches that pause an area's jobs or take
    it offline for everyone, dead letters sent again or discarded): administrators."""
    return sees_everything(user)


def may_reopen_day(user: Actor | AnonymousUser) -> bool:
    """A reviewed day is history its supervisors cannot change: administrators (and jobs, such
    as an import that corrects a day) reopen it, saying why."""
    return sees_everything(user)


def may_see_review_cache(user: Actor | AnonymousUser) -> bool:
    """How often reviews are answered from the cache is a cost figure for the people who run
    the CRM, not for supervisors."""
    return sees_everything(user)


def may_hold_api_token(user: Actor | AnonymousUser) -> bool:
    """Scripts act as a person through the API, which answers only people with a CRM role."""
    return has_crm_role(user)


def own_rep(user: Actor | AnonymousUser) -> SalesRep | None:
    """The SalesRep profile of a rep user, or None."""
    if isinstance(user, SystemActor) or not user.is_authenticated:
        return None
    return SalesRep.objects.select_related("user").filter(user_id=user.pk).first()


def user_zone(user: Actor | AnonymousUser) -> zoneinfo.ZoneInfo:
    """The zone `user` sees and enters dates in (crm.periods): a rep's own, everyone else's
    TIME_ZONE. Cached on the user object, so a request asks the database at most once."""
    if isinstance(user, SystemActor) or not user.is_authenticated:
        return company_zone()
    cached = getattr(user, _ZONE_CACHE_ATTR, None)
    if cached is None:
        rep = own_rep(user)
        cached = zone_named(rep.timezone if rep is not None else None)
        setattr(user, _ZONE_CACHE_ATTR, cached)
    return cached


def rep_for_record(*, actor: Actor, rep: SalesRep | None) -> SalesRep:
    """The rep a new or reassigned record belongs to.

    A rep works on their own records (naming another rep is refused); supervisors choose a rep
    of their teams; admins and jobs choose any rep. Returns the rep.
    """
    if role_of(actor) == Role.REP:
        own = own_rep(actor)
        if own is None:
            raise PermissionDenied
        if rep is not None and rep.pk != own.pk:
            raise ValidationError({"rep": REP_NOT_ASSIGNABLE})
        return own
    if rep is None:
        raise ValidationError({"rep": REP_REQUIRED})
    if not scope_to_user(SalesRep.objects.filter(pk=rep.pk), actor, rep_path="").exists():
        raise ValidationError({"rep": REP_NOT_ASSIGNABLE})
    return rep


def customer_owner_for(*, actor: Actor, owner: SalesRep | None, required: bool) -> SalesRep | None:
    """Who owns a customer that `actor` adds (`required=False`) or signs up (`required=True`).

    Reps own the customers they add or sign; supervisors name a rep of their teams; admins and
    jobs name any rep, or leave a prospect unassigned (only they see those). A signed-up customer
    always has an owner. Returns the owner, or None.
    """
    role = role_of(actor)
    if owner is None and role != Role.REP:
        if required or role == Role.SUPERVISOR:
            raise ValidationError({"owner": OWNER_REQUIRED})
        return None
    try:
        return rep_for_record(actor=actor, rep=owner)
    except ValidationError as error:
        # The rule is the rep rule; on a customer the field is called owner.
        raise ValidationError({"owner": error.message_dict["rep"]}) from None
