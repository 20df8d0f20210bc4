"""List pages' column headers that sort: `{% load lists %}{% sort_header "amount" "Amount" "num" %}`
in a list whose filter form has an `ordering` field (crm.web.OrderingField). The header links to
the list sorted by that column, keeping the filters; the column the list is sorted by says so
(aria-sort, and an arrow). Elsewhere (the same header on a customer's page) it is a plain one."""

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

_ARROWS = {"ascending": "▲", "descending": "▼"}


@register.simple_tag(takes_context=True)
def sort_header(context, key: str, label: str, css: str = "") -> SafeString:
    classes = format_html(' class="{}"', css) if css else ""
    filters, request = context.get("filters"), context.get("request")
    field = filters.fields.get("ordering") if filters is not None else None
    if field is None or request is None:
        return format_html("<th{}>{}</th>", classes, label)
    keys = [choice for choice, _ in field.choices]
    current = filters["ordering"].value() or field.default
    if current not in keys:
        current = field.default
    direction = {key: "ascending", f"-{key}": "descending"}.get(current)
    if direction == "ascending":
        target = f"-{key}"
    elif direction == "descending":
        target = key
    else:  # first, the direction the list offers first for this column
        target = next(choice for choice in keys if choice.lstrip("-") == key)
    params = request.GET.copy()
    params["ordering"] = target
    for stale in ("page", "created"):
        params.pop(stale, None)
    return format_html(
        '<th{}{}><a class="sort" href="?{}">{}<span aria-hidden="true">{}</span></a></th>',
        classes,
        format_html(' aria-sort="{}"', direction) if direction else "",
        params.urlencode(),
        label,
        _ARROWS.get(direction, "↕"),
    )
