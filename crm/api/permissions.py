from django.core.exceptions import ImproperlyConfigured
from rest_framework import permissions

from crm.areas import area_named, can_use
from crm.roles import has_crm_role

NO_CRM_ROLE = "Your account has no CRM role; ask an administrator for one."
NOT_FOR_YOUR_ROLE = "Your role does not use the {area} area."


class UsesArea(permissions.BasePermission):
    """The default of every endpoint: the caller may use the area of the site the view declares
    (its `area`, a name registered in crm.areas), like its pages; others get 403. A view that
    declares none is a mistake, refused rather than left open (a test walks every endpoint)."""

    message = NO_CRM_ROLE

    def has_permission(self, request, view) -> bool:
        name = getattr(view, "area", None)
        if name is None:
            raise ImproperlyConfigured(
                f"{type(view).__name__} declares no area: set its `area` (crm.areas)."
            )
        if can_use(request.user, name):
            return True
        if has_crm_role(request.user):
            self.message = NOT_FOR_YOUR_ROLE.format(area=area_named(name).label)
        return False
