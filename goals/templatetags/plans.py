"""Words for the plans' computed values (annotations, not model fields: no get_…_display)."""

from django import template

from goals.models import Pace, RepPlan
from goals.plans.selectors import DeadlineStatus, figures_as_of, original_percent
from goals.selectors import AsOf

register = template.Library()


@register.filter
def pace_label(value: str) -> str:
    return Pace(value).label if value in Pace.values else "No goal set"


@register.filter
def plan_as_of(plan: RepPlan) -> AsOf:
    """`{{ plan|plan_as_of }}`: when a plan's figures were counted, stale or not."""
    return figures_as_of(plan)


@register.filter
def percent_of(actual, original):
    """`{{ plan.signups|percent_of:plan.signup_original_goal }}`: attainment against an
    original target."""
    return original_percent(actual, original)


@register.filter
def deadline_label(value: str) -> str:
    return DeadlineStatus.LABELS.get(value, "")
