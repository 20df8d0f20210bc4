"""Small helpers of the session page, which shows up to a few hundred rows of inputs at once."""

import functools
from decimal import Decimal, InvalidOperation
from html import escape

from django import template
from django.utils.safestring import mark_safe

from supervision.models import ReasonCode

register = template.Library()


@register.filter
def lookup(mapping, key):
    """mapping[key], or None (`{{ errors|lookup:line.customer_id }}`)."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def decimal(value) -> str:
    """A decimal kept as text (a review's figures) written as a number: "12.50" → 12.5."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return f"{number.normalize():f}" if number == number.to_integral() else f"{number:f}"


@functools.cache
def _options(selected: str) -> str:
    # Seven options written once per choice, not once per row (a route has hundreds).
    rows = [("", "—"), *ReasonCode.choices]
    mark = {selected: " selected"}
    return "".join(
        f'<option value="{value}"{mark.get(value, "")}>{escape(label)}</option>'
        for value, label in rows
    )


@register.simple_tag
def reason_select(customer: int, reason: str, read_only: bool, name: str, check_url: str):
    """The reason select of a line's row."""
    if read_only:
        live = " disabled"
    else:
        live = (
            f' hx-post="{escape(check_url)}" hx-trigger="change"'
            f' hx-target="#line-{customer}-messages" hx-include="#day-form"'
        )
    chosen = reason if reason in ReasonCode.values else ""
    return mark_safe(
        f'<select name="reason-{customer}" id="reason-{customer}"'
        f' aria-label="Reason: {escape(name)}"{live}>'
        f"{_options(chosen)}</select>"
    )
