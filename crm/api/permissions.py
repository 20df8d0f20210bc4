from rest_framework import permissions

from crm.roles import can_use


class HasCrmRole(permissions.BasePermission):
    """A signed-in user without a CRM role (no group, not staff) may use no endpoint."""

    message = "Your account has no CRM role; ask an administrator for one."

    def has_permission(self, request, view) -> bool:
        return can_use(request.user, "sales")


def area_permission(area: str) -> type[permissions.BasePermission]:
    """A permission for a feature app's endpoints: the role may use that area of the site
    (crm.roles.can_use), like its pages; others get 403."""

    class UsesArea(permissions.BasePermission):
        message = f"Your role does not use the {area} area."

        def has_permission(self, request, view) -> bool:
            return can_use(request.user, area)

    UsesArea.__name__ = f"Uses{area.title()}Area"
    return UsesArea
