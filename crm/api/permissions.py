from rest_framework import permissions

from crm.roles import Role, can_use, role_of


class HasCrmRole(permissions.BasePermission):
    """A signed-in user without a CRM role (no group, not staff) may use no endpoint."""

    message = "Your account has no CRM role; ask an administrator for one."

    def has_permission(self, request, view) -> bool:
        return can_use(request.user, "sales")


class ManagesRoutes(permissions.BasePermission):
    """Reps read their routes; supervisors and admins also change them."""

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return role_of(request.user) in {Role.SUPERVISOR, Role.ADMIN}
