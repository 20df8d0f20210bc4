"""The consistency checks' record (goals.services.consistency): what the analytics page, Django
admin and the ops dashboard say of the latest."""

from goals.models import GoalCheck


def last_check() -> GoalCheck | None:
    """The latest consistency check, if any ran."""
    return GoalCheck.objects.order_by("-started_at", "-id").first()
