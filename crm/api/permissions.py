from rest_framework import permissions

from crm.roles import can_use


class HasCrmRole(permissions.BasePermission):
    """A signed-in user without a CRM role (no group, not staff) may use no endpoint."""

    message = "Your account has no CRM role; ask an administrator for one."

    def has_permission(self, request, view) -> bool:
        return can_use(request.user, "sales")
