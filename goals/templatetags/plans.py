"""Words for the plans' computed values (annotations, not model fields: no get_…_display)."""

from django import template

from goals.models import Pace
from goals.plans.selectors import DeadlineStatus

register = template.Library()


@register.filter
def pace_label(value: str) -> str:
    return Pace(value).label if value in Pace.values else "No goal set"


@register.filter
def deadline_label(value: str) -> str:
    return DeadlineStatus.LABELS.get(value, "")
