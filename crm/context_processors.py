from crm.roles import can_use, role_of


def navigation(request) -> dict:
    """What the base layout's navigation shows: only the areas the user's role may open."""
    user = request.user
    if not user.is_authenticated:
        return {"nav": {}, "role": None}
    return {
        "role": role_of(user),
        "nav": {
            area: can_use(user, area)
            for area in ("sales", "goals", "supervision", "tracking", "admin")
        },
    }
