"""Small helpers of the session page, which shows up to a few hundred rows of inputs at once."""

import functools
from decimal import Decimal, InvalidOperation
from html import escape

from django import template
from django.utils.safestring import mark_safe

from supervision import merge
from supervision.forms import INPUTS
from supervision.models import ReasonCode
from supervision.rules import REASONS

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
def reason_select(
    customer: int, reason: str, read_only: bool, name: str, check_url: str, invalid=None
):
    """The reason select of a line's row."""
    if read_only:
        live = " disabled"
    else:
        live = (
            f' hx-post="{escape(check_url)}" hx-trigger="change"'
            f' hx-target="#line-{customer}-messages" hx-include="#day-form"'
        )
    chosen = reason if reason in REASONS else ""
    marked = ' aria-invalid="true"' if invalid else ""
    return mark_safe(
        f'<select name="reason-{customer}" id="reason-{customer}"'
        f' aria-label="Reason: {escape(name)}" aria-describedby="line-{customer}-messages"'
        f"{marked}{live}>{_options(chosen)}</select>"
    )


def _radio_value(name: str, value: object) -> str:
    if name == "visited":
        return "on" if value else "off"
    return str(value)


@register.inclusion_tag("supervision/partials/pick.html")
def pick(customer: int, name: str, clash: dict, customer_name: str, theirs: str, bad, check_url):
    """A field two people changed differently, as a choice of their two values: yours first,
    then theirs, neither chosen until the person chooses."""
    item: merge.Clash = clash[name]
    key = INPUTS[name]
    sides = [
        (f"{key}-{customer}", item.mine, "Yours"),
        (f"{key}-{customer}-theirs", item.theirs, f"{theirs}'s" if theirs else "Theirs"),
    ]
    options = [
        {"id": ident, "value": _radio_value(name, value),
         "label": f"{whose}: {merge.describe(name, value)}",
         "checked": item.chosen is not None and item.chosen == value}
        for ident, value, whose in sides
    ]  # fmt: skip
    return {
        "input": f"{key}-{customer}",
        "options": options,
        "label": merge.LABELS[name],
        "customer_name": customer_name,
        "bad": bool(bad and name in bad),
        "messages_id": f"line-{customer}-messages",
        "check_url": check_url,
    }
