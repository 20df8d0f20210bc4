from django import template

register = template.Library()


@register.filter
def get_item(mapping: dict, key):
    """`{{ children|get_item:node.pk }}`: a dictionary's value, or nothing."""
    return mapping.get(key) if mapping else None
