"""Moments on pages, always with their zone: `{{ deal.closed_at|moment }}` → "6 Dec 2026, 17:30
CET", `{{ review.created_at|moment:"H:i" }}` → "17:30 CET". Built into every template (settings:
TEMPLATES builtins), in the zone active for the reader (or a `{% timezone %}` block's)."""

import datetime as dt

from django import template

from crm.periods import MOMENT_FORMAT, format_moment

register = template.Library()


@register.filter
def moment(value: dt.datetime | None, fmt: str = MOMENT_FORMAT) -> str:
    if not isinstance(value, dt.datetime):
        return "" if value in (None, "") else str(value)
    return format_moment(value, fmt)
