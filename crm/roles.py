"""Roles and the one place that scopes querysets by the requesting user's role.

- rep: their own records;
- supervisor: the records of the reps in the teams they manage (and their own, if they also sell);
- admin (staff, superuser or the "admin" group): everything.

Every selector in every app scopes its rows through `scope_to_user`; what a role may do
(assign reps, manage routes, open an area) is decided here too (`role_of`, `can_use`).
"""

from enum import StrEnum

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q, QuerySet


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    REP = "rep"
    NONE = "none"


GROUP_ADMIN = "admin"
GROUP_SUPERVISOR = "supervisor"
GROUP_REP = "rep"

_ROLE_CACHE_ATTR = "_crm_role"


def role_of(user: User | AnonymousUser) -> Role:
    """The user's highest role. Cached on the user object, so a request asks the database once."""
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


def scope_to_user(queryset: QuerySet, user: User | AnonymousUser, *, rep_path: str) -> QuerySet:
    """Restrict `queryset` to the rows `user` may see.

    `rep_path` is the lookup from the queryset's model to its SalesRep ("rep" for a deal,
    "owner" for a customer, "route__rep" for a route stop, "" for SalesRep itself).
    """
    role = role_of(user)
    if role == Role.ADMIN:
        return queryset
    prefix = f"{rep_path}__" if rep_path else ""
    own = Q(**{f"{prefix}user_id": user.pk})
    if role == Role.SUPERVISOR:
        return queryset.filter(own | Q(**{f"{prefix}team__manager_id": user.pk}))
    if role == Role.REP:
        return queryset.filter(own)
    return queryset.none()


def can_use(user: User | AnonymousUser, area: str) -> bool:
    """Which areas of the site (navigation entries) a role may open."""
    if area == "admin":
        # Django admin itself admits staff only.
        return bool(user.is_authenticated and user.is_staff)
    role = role_of(user)
    allowed = {
        "goals": {Role.ADMIN, Role.SUPERVISOR, Role.REP},
        "sales": {Role.ADMIN, Role.SUPERVISOR, Role.REP},
        "supervision": {Role.ADMIN, Role.SUPERVISOR},
        "tracking": {Role.ADMIN},
    }
    return role in allowed.get(area, set())
