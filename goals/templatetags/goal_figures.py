"""How a goal's computed figures read on a page: the verdict the forecast gives (the same
function, goals.selectors.verdict) and the moment a value was counted, with its zone, marked
when it is stale (goals.selectors.freshness)."""

import datetime as dt

from django import template
from django.utils import timezone

from crm.periods import format_moment
from goals import metrics, rates, selectors
from goals.models import Goal

register = template.Library()


@register.filter
def verdict(goal: Goal) -> str | None:
    """`{{ goal|verdict }}`: on_track, at_risk, off_track, or None (nothing to judge)."""
    return selectors.verdict(goal, today=selectors.goal_today(goal))


@register.filter
def version(goal: Goal) -> str:
    """`{{ goal|version }}`: what its live block asks news since (selectors.goal_version)."""
    return selectors.goal_version(goal)


@register.filter
def verdict_label(value: str | None) -> str:
    return selectors.Verdict.LABELS.get(value, "")


@register.filter
def as_of(moment: dt.datetime | None) -> str:
    """`{{ moment|as_of }}`: "as of 17:30 CET", or "as of 5 Dec, 17:30 CET" when it was another
    day (the reader's zone); blank when never counted."""
    if moment is None:
        return ""
    return "as of " + format_moment(moment, _moment_format(moment))


def _moment_format(moment: dt.datetime) -> str:
    return "H:i" if timezone.localdate(moment) == timezone.localdate() else "j M, H:i"


@register.inclusion_tag("goals/partials/as_of.html")
def as_of_note(figure: "Goal | selectors.AsOf | None", label: str = "as of") -> dict:
    """`{% as_of_note goal %}` (or a plan's `AsOf`, `{% as_of_note plan_as_of "Figures as of" %}`):
    when the figure was counted, with its zone, and a Stale badge when the CRM is late
    recounting it."""
    shown = figure if isinstance(figure, selectors.AsOf) else None
    if isinstance(figure, Goal):
        shown = selectors.goal_as_of(figure)
    if shown is None:
        return {"as_of": None}
    moment = shown.moment
    return {
        "as_of": shown,
        "label": label,
        "format": _moment_format(moment) if moment else "",
        "stale_minutes": int(selectors.STALE_AFTER.total_seconds() // 60),
    }


@register.filter
def pace(per_day, metric: str) -> str:
    """`{{ row.average_velocity|pace:row.metric }}`: a velocity in the metric's unit, in words
    (goals.rates); a dash without one."""
    return "—" if per_day is None else rates.pace(metric, per_day)


@register.filter
def figure(value, metric: str) -> str:
    """`{{ goal.current_value|figure:goal.metric }}`: a value or target as its metric counts it
    (goals.metrics): money to the cent, things whole."""
    return metrics.figure(metric, value)
