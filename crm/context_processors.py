from django.http import HttpRequest

from crm.areas import navigation as navigation_for
from crm.roles import may_hold_api_token, role_name


def navigation(request: HttpRequest) -> dict:
    """What the base layout's header shows: the links of the areas the user may open (crm.areas),
    the current page's marked, the user's role, and whether the account menu offers an API
    token."""
    user = request.user
    if not user.is_authenticated:
        return {"nav": [], "role_name": None, "may_hold_api_token": False}
    return {
        "nav": navigation_for(user, request.resolver_match),
        "role_name": role_name(user),
        "may_hold_api_token": may_hold_api_token(user),
    }
