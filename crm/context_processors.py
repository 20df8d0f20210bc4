from django.http import HttpRequest

from crm.areas import navigation as navigation_for
from crm.roles import role_name


def navigation(request: HttpRequest) -> dict:
    """What the base layout's header shows: the links of the areas the user may open (crm.areas),
    the current page's marked, and the user's role."""
    user = request.user
    if not user.is_authenticated:
        return {"nav": [], "role_name": None}
    return {"nav": navigation_for(user, request.resolver_match), "role_name": role_name(user)}
